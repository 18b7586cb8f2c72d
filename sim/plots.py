"""Figures from result tables (never from live models): monthly series with bands, paired differences."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from sim.runner import Results, write_atomic

ARM_COLOURS = {"duty": "#d95f02", "named": "#1b9e77"}
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


def band_plot(timeseries: pd.DataFrame, column: str, ylabel: str, title: str, window: int = 1) -> plt.Figure:
    """Median over replicates per arm with a band from the 5th to the 95th percentile, by year."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for arm, frame in timeseries.groupby("arm", sort=True):
        wide = frame.pivot(index="month", columns="replicate", values=column)
        if window > 1:
            wide = wide.rolling(window, min_periods=1).mean()
        years = wide.index.to_numpy() / 12
        colour = ARM_COLOURS.get(str(arm))
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
    """Paired difference named - duty as a share of the duty mean, with 95% intervals."""
    table = comparison.set_index("metric").loc[[m for m in DIFFERENCE_METRICS if m in set(comparison["metric"])]]
    base = table["duty_mean"].abs().where(table["duty_mean"].abs() > 0)
    mid = 100 * table["diff_mean"] / base
    low = 100 * table["diff_ci_low"] / base
    high = 100 * table["diff_ci_high"] / base
    labels = [DIFFERENCE_METRICS[m] for m in table.index]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
    y = range(len(labels))
    colours = ["#1b9e77" if v >= 0 else "#7570b3" for v in mid.fillna(0)]
    ax.barh(list(y), mid.fillna(0), color=colours, alpha=0.8)
    ax.errorbar(mid, list(y), xerr=[mid - low, high - mid], fmt="none", ecolor="black", capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel("named - duty, % of the duty mean (paired, 95% interval)")
    ax.set_title("What changes with named workers")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Save a figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_atomic(path, lambda p: p.write_bytes(buffer.getvalue()))
    return path


def save_figures(results: Results, out_dir: Path) -> list[Path]:
    """The run's standard figures in ``out_dir/figures``."""
    folder = Path(out_dir) / "figures"
    ts = results.timeseries
    written = [
        save_figure(
            band_plot(
                ts,
                "admissions_per_100_person_years",
                "admissions per 100 person-years (annualised)",
                "Monthly admissions (3-month moving average)",
                window=3,
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
    if results.comparison is not None:
        written.append(save_figure(difference_plot(results.comparison), folder / "differences.png"))
    return written
