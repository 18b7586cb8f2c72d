"""Replicates x arms in a process pool, paired differences with 95% intervals, atomic result files."""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from sim.metrics import monthly, summarise
from sim.model import StaffingModel
from sim.params import Config

#: runs.csv columns that identify a run rather than measure it.
ID_COLUMNS = ("arm", "replicate", "seed")
#: Metrics shown in the console table, in order.
HEADLINE = (
    "admissions_per_100_person_years",
    "crises_per_100_person_years",
    "bed_days_per_100_person_years",
    "upc",
    "secon",
    "retellings_per_person_year",
    "wait_days_mean",
    "turnover_per_year",
    "vacancy_frac",
    "cost_total_gbp",
)


@dataclass(frozen=True)
class Results:
    """Tables of one experiment: one row per run, monthly series, and the paired comparison (or None)."""

    runs: pd.DataFrame
    timeseries: pd.DataFrame
    comparison: pd.DataFrame | None


def run_one(cfg: Config, arm: str, replicate: int) -> tuple[dict, pd.DataFrame]:
    """Simulate one arm of one replicate; return its runs.csv row and monthly series."""
    model = StaffingModel(cfg, arm, replicate).run()
    return summarise(model), monthly(model)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork where the parent is single-threaded (workers share its imported modules); else a preloaded fork server.

    ``sim/__init__.py`` keeps numerical libraries single-threaded, so the parent normally has one thread.
    """
    if sys.platform == "linux" and threading.active_count() == 1 and _os_threads() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.runner"])
        return context
    return multiprocessing.get_context("spawn")


def _os_threads() -> int:
    """Threads of this process as the OS sees them (native pools included); 0 where unknown."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def run_experiment(cfg: Config, jobs: int | None = None, progress: bool = True) -> Results:
    """Every arm x every replicate of ``cfg``, in ``jobs`` processes (default: ``cfg.jobs``, else all cores)."""
    tasks = [(arm, rep) for rep in range(cfg.replicates) for arm in cfg.arms]
    n_jobs = min(jobs or cfg.jobs or os.cpu_count() or 1, len(tasks))
    rows: list[dict] = []
    series: list[pd.DataFrame] = []
    bar = dict(total=len(tasks), desc=f"{len(tasks)} runs", unit="run", disable=not progress, file=sys.stderr)
    if n_jobs == 1:
        with tqdm(**bar) as pbar:
            for arm, rep in tasks:
                row, month = run_one(cfg, arm, rep)
                rows.append(row)
                series.append(month)
                pbar.update()
    else:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=_pool_context()) as pool:
            futures = [pool.submit(run_one, cfg, arm, rep) for arm, rep in tasks]
            with tqdm(**bar) as pbar:
                for future in as_completed(futures):
                    row, month = future.result()
                    rows.append(row)
                    series.append(month)
                    pbar.update()
    runs = pd.DataFrame(rows).sort_values(["replicate", "arm"], kind="stable").reset_index(drop=True)
    timeseries = pd.concat(series).sort_values(["arm", "replicate", "month"], kind="stable").reset_index(drop=True)
    comparison = compare(runs) if {"duty", "named"} <= set(cfg.arms) else None
    return Results(runs, timeseries, comparison)


def compare(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Paired differences named - duty per metric: means, mean difference and its t interval over replicates."""
    metrics = [c for c in runs.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(runs[c])]
    wide = runs.pivot(index="replicate", columns="arm", values=metrics)
    out = []
    for metric in metrics:
        duty = wide[(metric, "duty")].to_numpy(dtype=float)
        named = wide[(metric, "named")].to_numpy(dtype=float)
        diff = named - duty
        ok = ~np.isnan(diff)
        n = int(ok.sum())
        mean = float(diff[ok].mean()) if n else np.nan
        half = np.nan
        if n >= 2:
            sd = float(diff[ok].std(ddof=1))
            half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n))
        out.append(
            {
                "metric": metric,
                "duty_mean": float(np.nanmean(duty)) if (~np.isnan(duty)).any() else np.nan,
                "named_mean": float(np.nanmean(named)) if (~np.isnan(named)).any() else np.nan,
                "diff_mean": mean,
                "diff_ci_low": mean - half,
                "diff_ci_high": mean + half,
                "n_pairs": n,
            }
        )
    return pd.DataFrame(out)


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(temporary_path)`` and rename it into place, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_results(results: Results, out_dir: Path) -> list[Path]:
    """Write runs.csv/.parquet, timeseries.parquet and comparison.csv (when both arms ran) atomically."""
    out_dir = Path(out_dir)
    written = []
    targets: list[tuple[str, Callable[[Path], object]]] = [
        ("runs.csv", lambda p: results.runs.to_csv(p, index=False)),
        ("runs.parquet", lambda p: results.runs.to_parquet(p, index=False)),
        ("timeseries.parquet", lambda p: results.timeseries.to_parquet(p, index=False)),
    ]
    if results.comparison is not None:
        targets.append(("comparison.csv", lambda p: results.comparison.to_csv(p, index=False)))
    for name, write in targets:
        write_atomic(out_dir / name, write)
        written.append(out_dir / name)
    return written


def console_table(results: Results) -> str:
    """A plain-text table of the headline metrics: each arm's mean and the paired difference with its interval."""
    if results.comparison is None:
        means = results.runs.groupby("arm")[list(HEADLINE)].mean().T
        return means.to_string(float_format=lambda v: f"{v:,.3f}")
    table = results.comparison.set_index("metric").loc[list(HEADLINE)]
    lines = [f"{'metric':<34}{'duty':>14}{'named':>14}{'named - duty (95% CI)':>40}"]
    for metric, r in table.iterrows():
        ci = f"{_fmt(r.diff_mean)} ({_fmt(r.diff_ci_low)} to {_fmt(r.diff_ci_high)})"
        lines.append(f"{metric:<34}{_fmt(r.duty_mean):>14}{_fmt(r.named_mean):>14}{ci:>40}")
    lines.append(f"{results.comparison['n_pairs'].max()} paired replicates; costs are present values in GBP.")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3f}"
