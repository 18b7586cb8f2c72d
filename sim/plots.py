"""Figures from result tables (never from live models).

Monthly series of every arm with bands, the paired differences of every arm against the baseline, and the
months around a change-over (an arm whose system starts after the first measured day).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from sim.params import Config
from sim.runner import Results, write_atomic
from sim.staffing import SYSTEMS

#: Colours of the first two systems, as in every earlier figure of the project.
ARM_COLOURS = {"duty": "#d95f02", "named": "#1b9e77"}
#: Colours of every other system, in registry order (the rest of ColorBrewer's Dark2, then Paired's darker hues).
PALETTE = ("#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b15928", "#6a3d9a")
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


@dataclass(frozen=True)
class Family:
    """A panel of the differences figure: metrics on one scale.

    Args:
        title: the panel's title.
        scale: ``percent`` (the difference as a share of the baseline's level), ``points`` (a difference
            of shares, in percentage points) or ``gbp`` (money, in pounds).
        unit: the x axis label; ``{baseline}`` is replaced by the baseline's name.
        metrics: metric (a ``comparison.csv`` metric) -> (the name a manager would use, how the baseline's
            level is written: a format string for the baseline mean; money is written as £1.23m first).
    """

    title: str
    scale: str
    unit: str
    metrics: dict[str, tuple[str, str]]


_PER_100 = "{:,.2f} per 100 people a year"
#: The panels of the differences figure, one per family of metrics, each on its own scale.
DIFFERENCE_FAMILIES = (
    Family(
        "People's outcomes",
        "percent",
        "change, % of {baseline}'s level",
        {
            "admissions_per_100_person_years": ("hospital admissions", _PER_100),
            "crises_per_100_person_years": ("crises", _PER_100),
            "bed_days_per_100_person_years": ("days in hospital", "{:,.0f} per 100 people a year"),
            "delayed_days_per_100_person_years": ("days of delayed discharge", "{:,.1f} per 100 people a year"),
            "breakdowns_per_100_person_years": ("placement breakdowns", _PER_100),
            "restrictive_placements_per_100_person_years": ("restrictive placements", _PER_100),
            "retellings_per_person_year": ("times people retell their story", "{:,.1f} per person a year"),
        },
    ),
    Family(
        "Continuity of care",
        "points",
        "change in the share of contacts, percentage points",
        {
            "upc": ("contacts with the person's usual worker (UPC)", "{:.0%} of contacts"),
            "secon": ("next contact with the same worker (SECON)", "{:.0%} of contacts"),
        },
    ),
    Family(
        "Staff",
        "points",
        "change, percentage points",
        {
            "turnover_per_year": ("staff leaving a year", "{:.0%} of staff a year"),
            "vacancy_frac": ("posts vacant", "{:.0%} of posts"),
            "agency_frac": ("posts covered by agency staff", "{:.0%} of posts"),
            "mean_stress": ("workload against capacity", "{:.0%} of capacity"),
        },
    ),
    Family(
        "Money",
        "gbp",
        "change, £ (present values)",
        {
            "cost_total_gbp": ("total cost", "{}"),
            "cost_council_gbp": ("cost to the council", "{}"),
            "cost_nhs_gbp": ("cost to the NHS", "{}"),
        },
    ),
)
#: Every metric of the differences figure with its plain name.
DIFFERENCE_METRICS = {metric: label for family in DIFFERENCE_FAMILIES for metric, (label, _) in family.metrics.items()}


def _money(value: float) -> str:
    """Pounds in a few characters: £1.23m, £456k, £789."""
    size = abs(value)
    sign = "-" if value < 0 else ""
    if size >= 1e6:
        return f"{sign}£{size / 1e6:,.2f}m"
    if size >= 1e3:
        return f"{sign}£{size / 1e3:,.0f}k"
    return f"{sign}£{size:,.0f}"


#: Tick labels of each scale.
_TICKS: dict[str, Callable[[float, object], str]] = {
    "percent": lambda v, _: _minus(f"{v:+.0f}%") if v else "0",
    "points": lambda v, _: _minus(f"{v:+.0f}") if v else "0",
    "gbp": lambda v, _: _minus(("+" if v > 0 else "") + _money(v)) if v else "0",
}


def _minus(text: str) -> str:
    """A typographic minus sign, as matplotlib's own tick labels use; no sign on a zero."""
    return text.replace("-", "\u2212").replace("+0%", "0%").replace("+0.0 pts", "0.0 pts")


def _level(family: Family, level: str, value: float) -> str:
    """The baseline's level of a metric, written for its label."""
    if not np.isfinite(value):
        return "n/a"
    return level.format(_money(value)) if family.scale == "gbp" else level.format(value)


def _on_scale(family: Family, table: pd.DataFrame) -> tuple[pd.DataFrame, Callable[[float], str]]:
    """The difference and its interval in the panel's unit, and a writer of a value.

    ``table`` holds one arm's rows of ``comparison.csv`` indexed by metric.
    """
    diff = table[["diff_mean", "diff_ci_low", "diff_ci_high"]]
    if family.scale == "percent":
        base = table["baseline_mean"].abs().where(table["baseline_mean"].abs() > 0)
        return diff.div(base, axis=0) * 100, lambda v: _minus(f"{v:+.0f}%")
    if family.scale == "points":
        return diff * 100, lambda v: _minus(f"{v:+.1f} pts")
    return diff, lambda v: _minus(("+" if v > 0 else "") + _money(v))


def _difference_panel(ax: plt.Axes, family: Family, comparison: pd.DataFrame, arms: list[str], baseline: str) -> None:
    """One family's panel: a bar per metric and arm with its interval and its value written beside it."""
    metrics = list(family.metrics)
    first = comparison[comparison["arm"] == arms[0]].set_index("metric").reindex(metrics)
    labels = [
        f"{name}\n{baseline}: {_level(family, level, value)}"
        for (name, level), value in zip(family.metrics.values(), first["baseline_mean"], strict=True)
    ]
    height = 0.8 / len(arms)
    ends = [0.0]
    notes = []
    for j, arm in enumerate(arms):
        table = comparison[comparison["arm"] == arm].set_index("metric").reindex(metrics)
        scaled, write = _on_scale(family, table)
        mid, low, high = (scaled[c].to_numpy(dtype=float) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
        y = np.arange(len(metrics)) + (j - (len(arms) - 1) / 2) * height
        clear = (low > 0) | (high < 0)  # the interval excludes 0
        bars = ax.barh(y, np.nan_to_num(mid), height=height * 0.9, color=arm_colour(arm))
        for bar, sure in zip(bars.patches, clear, strict=True):
            bar.set_alpha(0.9 if sure else 0.35)
        finite = np.isfinite(mid)
        ax.errorbar(
            mid[finite],
            y[finite],
            xerr=[mid[finite] - low[finite], high[finite] - mid[finite]],
            fmt="none",
            ecolor="black",
            elinewidth=1,
            capsize=3,
        )
        ends += [v for v in (*low, *high, *mid) if np.isfinite(v)]
        notes += [(*row, write) for row in zip(y, mid, low, high, clear, strict=True)]
    span = max(ends) - min(ends) or 1.0
    pad = 0.02 * span
    for yi, m, lo, hi, sure, write in notes:
        if not np.isfinite(m):
            ax.text(pad, yi, f"no cases under {baseline}", va="center", fontsize=8, color="0.4")
            continue
        right = m >= 0
        ax.text(
            (max(m, hi) + pad) if right else (min(m, lo) - pad),
            yi,
            write(m),
            va="center",
            ha="left" if right else "right",
            fontsize=8,
            color="black" if sure else "0.45",
            fontweight="bold" if sure else "normal",
        )
    ax.set_xlim(min(ends) - 0.22 * span, max(ends) + 0.22 * span)  # room for the written values
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_ylim(len(metrics) - 0.5, -0.5)
    ax.set_xlabel(family.unit.format(baseline=baseline), fontsize=9)
    ax.set_title(family.title, loc="left", fontsize=11, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    ax.xaxis.set_major_formatter(FuncFormatter(_TICKS[family.scale]))


def difference_plot(comparison: pd.DataFrame) -> plt.Figure:
    """Paired differences of every arm against the baseline: one panel per family of metrics, each on its own scale.

    People's outcomes are changes in % of the baseline's level, continuity and staff changes in
    percentage points, money in pounds (present values). Each bar is the mean paired difference with
    its 95% interval; a faded bar is one whose interval includes 0. Each metric's label gives the
    baseline's level. Families without any metric in ``comparison`` are left out.

    Args:
        comparison: ``comparison.csv``: one row per (arm, metric), columns ``sim.runner.COMPARISON_COLUMNS``.
    """
    present = set(comparison["metric"])
    families = [
        Family(f.title, f.scale, f.unit, {m: v for m, v in f.metrics.items() if m in present})
        for f in DIFFERENCE_FAMILIES
    ]
    families = [f for f in families if f.metrics]
    arms = arm_order(comparison["arm"])
    baseline = str(comparison["baseline"].iloc[0])
    n_pairs = int(comparison["n_pairs"].max()) if "n_pairs" in comparison and len(comparison) else 0
    row_height = 0.22 + 0.2 * len(arms)  # inches per metric
    heights = [row_height * len(f.metrics) + 0.2 for f in families] or [1.0]
    gap = 0.85  # inches between panels: the x label of one and the title of the next
    fig = plt.figure(figsize=(9, sum(heights) + gap * (len(heights) - 1) + 1.6))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=gap / np.mean(heights))
    fig.subplots_adjust(left=0.36, right=0.97, top=1 - 1.0 / fig.get_figheight(), bottom=0.55 / fig.get_figheight())
    who = f"{arms[0]} against {baseline}" if len(arms) == 1 else f"each system against {baseline}"
    fig.suptitle(f"What changes: {who}", fontsize=13, y=1 - 0.15 / fig.get_figheight())
    fig.text(
        0.5,
        1 - 0.45 / fig.get_figheight(),
        f"mean paired difference over {n_pairs} replicates with its 95% interval; faded: the interval includes 0",
        ha="center",
        fontsize=9,
        color="0.3",
    )
    if not families:
        ax = fig.add_subplot(grid[0])
        ax.axis("off")
        ax.text(0.5, 0.5, "no metric of this figure in comparison.csv", ha="center", va="center")
        return fig
    for k, family in enumerate(families):
        _difference_panel(fig.add_subplot(grid[k]), family, comparison, arms, baseline)
    handles = [Patch(color=arm_colour(arm), alpha=0.9, label=f"{arm} - {baseline}") for arm in arms]
    fig.legend(
        handles=handles,
        loc="upper right",
        frameon=False,
        fontsize=9,
        ncol=len(handles),
        bbox_to_anchor=(0.99, 1 - 0.6 / fig.get_figheight()),
    )
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
