"""Figures from result tables (never from live models).

Monthly series of every arm with bands, the paired differences of every arm against the baseline, and the
months around a change-over (an arm whose system starts after the first measured day).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.params import Config
from sim.runner import Results, write_atomic
from sim.staffing import SYSTEMS

#: Colours of the first two systems, as in every earlier figure of the project.
ARM_COLOURS = {"duty": "#d95f02", "named": "#1b9e77"}
#: Colours of every other system, in registry order (the rest of ColorBrewer's Dark2, then Paired's darker hues).
PALETTE = ("#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b15928", "#6a3d9a")
#: Metrics in the paired-difference chart, with plain labels.
DIFFERENCE_METRICS = {
    "admissions_per_100_person_years": "admissions",
    "crises_per_100_person_years": "crises",
    "bed_days_per_100_person_years": "bed days",
    "breakdowns_per_100_person_years": "placement breakdowns",
    "restrictive_placements_per_100_person_years": "restrictive placements",
    "upc": "continuity (UPC)",
    "secon": "continuity (SECON)",
    "retellings_per_person_year": "story retellings",
    "turnover_per_year": "staff turnover",
    "cost_total_gbp": "total cost",
}
#: Months in the moving average of the monthly admission series (a month of a small team has few admissions).
SMOOTH_MONTHS = 3


def arm_colour(arm: str) -> str:
    """The colour of an arm in every figure: fixed for duty and named, else by the system's place in the registry.

    Args:
        arm: a staffing system's name (an unregistered name still gets a fixed colour, from its text).

    Returns:
        A hex colour.
    """
    if arm in ARM_COLOURS:
        return ARM_COLOURS[arm]
    others = [name for name in SYSTEMS if name not in ARM_COLOURS]
    index = others.index(arm) if arm in others else zlib.crc32(arm.encode("utf-8"))
    return PALETTE[index % len(PALETTE)]


def arm_order(arms: Iterable[str]) -> list[str]:
    """Distinct arms in registry order (unregistered ones last, by name): the same order in every figure."""
    registry = list(SYSTEMS)
    distinct = {str(arm) for arm in arms}
    return sorted(distinct, key=lambda a: (registry.index(a) if a in registry else len(registry), a))


def band_plot(timeseries: pd.DataFrame, column: str, ylabel: str, title: str, window: int = 1) -> plt.Figure:
    """Median over replicates of every arm with a band from the 5th to the 95th percentile, by year.

    Args:
        timeseries: monthly series (``timeseries.parquet``): columns ``arm``, ``replicate``, ``month``, ``column``.
        column: the series to draw.
        ylabel: the y axis label.
        title: the figure title.
        window: months in a moving average applied to each replicate before the median and band.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for arm in arm_order(timeseries["arm"]):
        frame = timeseries[timeseries["arm"] == arm]
        wide = frame.pivot(index="month", columns="replicate", values=column)
        if window > 1:
            wide = wide.rolling(window, min_periods=1).mean()
        years = wide.index.to_numpy() / 12
        colour = arm_colour(arm)
        ax.fill_between(
            years,
            wide.quantile(0.05, axis=1),
            wide.quantile(0.95, axis=1),
            color=colour,
            alpha=0.25,
            linewidth=0,
            label=f"{arm}: 5-95% of replicates",
        )
        ax.plot(years, wide.median(axis=1), color=colour, label=f"{arm}: median")
    ax.set_xlabel("years after warm-up")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def difference_plot(comparison: pd.DataFrame) -> plt.Figure:
    """Paired difference of every arm against the baseline as a share of the baseline mean, with 95% intervals.

    Args:
        comparison: ``comparison.csv``: one row per (arm, metric), columns ``sim.runner.COMPARISON_COLUMNS``.
    """
    present = set(comparison["metric"])
    metrics = [m for m in DIFFERENCE_METRICS if m in present]
    arms = arm_order(comparison["arm"])
    baseline = str(comparison["baseline"].iloc[0])
    labels = [DIFFERENCE_METRICS[m] for m in metrics]
    height = 0.8 / max(len(arms), 1)
    fig, ax = plt.subplots(figsize=(8, (0.3 + 0.2 * len(arms)) * len(labels) + 1.6))
    for j, arm in enumerate(arms):
        table = comparison[comparison["arm"] == arm].set_index("metric").reindex(metrics)
        base = table["baseline_mean"].abs().where(table["baseline_mean"].abs() > 0)
        mid = 100 * table["diff_mean"] / base
        low = 100 * table["diff_ci_low"] / base
        high = 100 * table["diff_ci_high"] / base
        y = np.arange(len(metrics)) + (j - (len(arms) - 1) / 2) * height
        ax.barh(y, mid.fillna(0), height=height * 0.9, color=arm_colour(arm), alpha=0.8, label=f"{arm} - {baseline}")
        ax.errorbar(mid, y, xerr=[mid - low, high - mid], fmt="none", ecolor="black", capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    who = arms[0] if len(arms) == 1 else "arm"
    ax.set_xlabel(f"{who} - {baseline}, % of the {baseline} mean (paired, 95% interval)")
    ax.set_title(f"What changes against {baseline}" if len(arms) > 1 else f"What changes with {arms[0]}")
    ax.grid(axis="x", alpha=0.3)
    if len(arms) > 1:
        ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def changing_arms(arms: Iterable[str], cfg: Config) -> list[str]:
    """Arms that start later than the first measured day (``StaffingSystem.start_day``) and are not the baseline."""
    return [
        arm for arm in arm_order(arms) if arm != cfg.baseline and arm in SYSTEMS and SYSTEMS[arm].start_day(cfg) > 0
    ]


def transition_plot(timeseries: pd.DataFrame, cfg: Config, arms: list[str], window: int = SMOOTH_MONTHS) -> plt.Figure:
    """Monthly paired difference (arm - baseline) in admissions and in cost, with a line where each arm starts.

    Args:
        timeseries: monthly series of the arms and the baseline.
        cfg: the run's config (the baseline, and each system's start day).
        arms: the arms to draw (each must have run beside the baseline).
        window: months in the moving average of each replicate's difference.
    """
    baseline = cfg.baseline
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    panels = (
        ("admissions", "admissions a month\n(arm - baseline)"),
        ("cost_total_gbp", "cost a month, GBP\n(arm - baseline, present value)"),
    )
    last_year = timeseries["month"].max() / 12
    for arm in arms:
        colour = arm_colour(arm)
        start_day = SYSTEMS[arm].start_day(cfg)
        start_years = start_day / 365
        for ax, (column, ylabel) in zip(axes, panels, strict=True):
            wide = timeseries[timeseries["arm"].isin([arm, baseline])].pivot_table(
                index="month", columns=["arm", "replicate"], values=column
            )
            diff = (wide[arm] - wide[baseline]).rolling(window, min_periods=1).mean()
            years = diff.index.to_numpy() / 12
            ax.fill_between(
                years,
                diff.quantile(0.05, axis=1),
                diff.quantile(0.95, axis=1),
                color=colour,
                alpha=0.2,
                linewidth=0,
                label=f"{arm}: 5-95% of replicates",
            )
            ax.plot(years, diff.mean(axis=1), color=colour, label=f"{arm} - {baseline}: mean")
            if start_years <= last_year:
                ax.axvline(
                    start_years, color=colour, ls="--", lw=1, label=f"{arm} starts (day {start_years * 365:.0f})"
                )
            ax.axhline(0, color="black", lw=0.8)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    late = [arm for arm in arms if SYSTEMS[arm].start_day(cfg) / 365 > last_year]
    note = f" ({', '.join(late)} starts after the horizon)" if late else ""
    axes[0].set_title(f"Around the change: paired monthly differences, {window}-month moving average{note}")
    axes[0].legend(frameon=False, fontsize="small")
    axes[1].set_xlabel("years after warm-up")
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Save a figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_atomic(path, lambda p: p.write_bytes(buffer.getvalue()))
    return path


def save_figures(results: Results, out_dir: Path, cfg: Config | None = None) -> list[Path]:
    """The run's standard figures in ``out_dir/figures``.

    Always: monthly admissions, continuity (UPC) and vacancies of every arm; with two or more arms, the
    paired differences of every arm against the baseline (``differences.png``); with ``cfg``, and an arm
    that starts later than the first measured day run beside the baseline, ``transition.png``.

    Args:
        results: the run's tables.
        out_dir: the run folder.
        cfg: the run's config (needed only for ``transition.png``).
    """
    folder = Path(out_dir) / "figures"
    ts = results.timeseries
    written = [
        save_figure(
            band_plot(
                ts,
                "admissions_per_100_person_years",
                "admissions per 100 person-years (annualised)",
                f"Monthly admissions ({SMOOTH_MONTHS}-month moving average)",
                window=SMOOTH_MONTHS,
            ),
            folder / "admissions.png",
        ),
        save_figure(
            band_plot(ts, "upc_12m", "UPC over the past 12 months", "Continuity of care (usual provider continuity)"),
            folder / "continuity_upc.png",
        ),
        save_figure(
            band_plot(ts, "vacancy_frac", "share of post FTE without a permanent holder", "Vacancies"),
            folder / "vacancies.png",
        ),
    ]
    if results.comparison is not None and not results.comparison.empty:
        written.append(save_figure(difference_plot(results.comparison), folder / "differences.png"))
    if cfg is not None and cfg.baseline in set(ts["arm"]):
        arms = changing_arms(ts["arm"], cfg)
        if arms:
            written.append(save_figure(transition_plot(ts, cfg, arms), folder / "transition.png"))
    return written
