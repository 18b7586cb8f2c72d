"""Sweeps: resumable jobs, and one summary table and heatmaps over every job of a Hydra multirun.

A job is *done* when its folder holds ``job.json`` with the key of its resolved config and of the
model's code; a rerun of the same sweep skips done jobs and runs only what is missing. The summary
(``sweep_summary.csv`` and ``.parquet``) has one row per job: the swept values as columns and every
metric of its ``comparison.csv`` as ``<metric>__<statistic>`` columns.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.runner import write_atomic

#: Marker written last by a finished job.
JOB_FILE = "job.json"
SUMMARY = "sweep_summary"
#: comparison.csv columns kept in the summary, per metric.
STATISTICS = ("duty_mean", "named_mean", "diff_mean", "diff_ci_low", "diff_ci_high")
#: Metrics drawn as heatmaps of the paired difference (named - duty), with their titles.
HEATMAPS = {
    "admissions_per_100_person_years": "Admissions per 100 person-years, named - duty",
    "upc": "Continuity (UPC), named - duty",
    "cost_total_gbp": "Total cost (GBP, present value), named - duty",
}
#: Overrides that say how a job runs, not what it models: left out of the swept columns.
NOT_SWEPT = ("jobs", "resume", "experiment")
_CODE = Path(__file__).resolve().parent


class AggregationError(RuntimeError):
    """A sweep folder that cannot be summarised (no finished job, unreadable tables)."""


# Resumable jobs ------------------------------------------------------------------------------


def code_key() -> str:
    """Digest of the model's source files, so results of older code are never taken for new ones."""
    digest = hashlib.sha256()
    for path in sorted(_CODE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def job_key(model_config: dict[str, Any]) -> str:
    """Key of a job: its resolved model config (without how it runs) and the model's code."""
    what = {k: v for k, v in model_config.items() if k not in NOT_SWEPT}
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16] + "-" + code_key()


def run_code(out_dir: Path) -> str:
    """The model-code key a finished job ran with (from its job.json; "unknown" without one)."""
    try:
        return str(json.loads((Path(out_dir) / JOB_FILE).read_text())["key"]).rsplit("-", 1)[-1]
    except (OSError, ValueError, KeyError):
        return "unknown"


def job_done(out_dir: Path, key: str) -> bool:
    """Whether ``out_dir`` already holds a finished job with this key."""
    try:
        record = json.loads((Path(out_dir) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return False
    return record.get("key") == key and all((Path(out_dir) / name).exists() for name in record.get("files", []))


def mark_done(out_dir: Path, key: str, files: list[Path], timings: dict[str, float]) -> None:
    """Write ``job.json`` (atomically, last): the key, the files written and how long the job took."""
    out_dir = Path(out_dir)
    record = {
        "key": key,
        "files": sorted(str(Path(f).relative_to(out_dir)) for f in files),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **{name: round(value, 3) for name, value in timings.items()},
    }
    write_atomic(out_dir / JOB_FILE, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))


# Aggregation ---------------------------------------------------------------------------------


def _overrides(job_dir: Path) -> dict[str, Any]:
    """The job's task overrides as {key: parsed value} (from Hydra's .hydra/overrides.yaml)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    out = {}
    for item in yaml.safe_load(path.read_text()) or []:
        key, _, value = str(item).partition("=")
        key = key.lstrip("+~")
        if key in NOT_SWEPT or key.startswith("hydra"):
            continue
        out[key] = yaml.safe_load(value) if value else None
    return out


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Folders of finished jobs under ``sweep_dir`` (any depth), in a stable order."""
    return sorted({p.parent for p in Path(sweep_dir).rglob(JOB_FILE)}, key=lambda p: str(p))


def collect(sweep_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per finished job: the swept values, the job's folder and every comparison metric.

    Returns:
        The summary table and the names of the swept keys (overrides that differ between jobs).

    Raises:
        AggregationError: no finished job with a comparison table under ``sweep_dir``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AggregationError(f"{sweep_dir} is not a folder")
    rows = []
    for job in job_dirs(sweep_dir):
        table = job / "comparison.csv"
        if not table.exists():
            continue
        try:
            comparison = pd.read_csv(table).set_index("metric")
        except (OSError, ValueError, KeyError) as exc:
            raise AggregationError(f"cannot read {table}: {exc}") from exc
        row: dict[str, Any] = {"job": str(job.relative_to(sweep_dir))}
        row.update(_overrides(job))
        record = json.loads((job / JOB_FILE).read_text())
        row["n_pairs"] = int(comparison["n_pairs"].max()) if "n_pairs" in comparison else np.nan
        row["seconds"] = record.get("seconds", np.nan)
        for metric, values in comparison.iterrows():
            for stat in STATISTICS:
                row[f"{metric}__{stat}"] = values.get(stat, np.nan)
        rows.append(row)
    if not rows:
        raise AggregationError(
            f"no finished job with a comparison.csv under {sweep_dir} (a finished job has written {JOB_FILE})"
        )
    summary = pd.DataFrame(rows)
    candidates = [c for c in summary.columns[1 : summary.columns.get_loc("n_pairs")]]
    swept = [c for c in candidates if summary[c].astype(str).nunique() > 1]
    summary = summary.sort_values(swept or ["job"], kind="stable").reset_index(drop=True)
    return summary, swept


def heatmaps(summary: pd.DataFrame, swept: list[str], out_dir: Path) -> list[Path]:
    """One heatmap per metric of ``HEATMAPS`` over the first two swept keys; cells whose interval crosses 0 hatched."""
    if len(swept) < 2:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key, y_key = swept[0], swept[1]
    written = []
    for metric, title in HEATMAPS.items():
        if f"{metric}__diff_mean" not in summary:
            continue
        grid, low, high = (
            summary.pivot_table(index=y_key, columns=x_key, values=f"{metric}__{stat}", aggfunc="mean", dropna=False)
            for stat in ("diff_mean", "diff_ci_low", "diff_ci_high")
        )
        values = grid.to_numpy(dtype=float)
        # No interval (one replicate) counts as crossing 0: nothing is claimed without one.
        crosses = ~(
            (low.reindex_like(grid).to_numpy(dtype=float) > 0) | (high.reindex_like(grid).to_numpy(dtype=float) < 0)
        )
        bound = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
        fig, ax = plt.subplots(figsize=(7, 5.5))
        image = ax.imshow(values, origin="lower", cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
        fig.colorbar(image, ax=ax, label="named - duty (mean of paired differences)")
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index])
        ax.set_xlabel(x_key)
        ax.set_ylabel(y_key)
        for (i, j), value in np.ndenumerate(values):
            if np.isnan(value):
                continue
            text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
            ax.text(j, i, text + ("\n(ns)" if crosses[i, j] else ""), ha="center", va="center", fontsize=8)
            if crosses[i, j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0, alpha=0.5))
        ax.set_title(title + "\nhatched (ns): 95% interval crosses 0", fontsize=10)
        fig.tight_layout()
        path = Path(out_dir) / f"heatmap_{metric}.png"
        write_atomic(path, lambda p, fig=fig: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        written.append(path)
    return written


def aggregate(sweep_dir: Path) -> list[Path]:
    """Summarise every finished job of a sweep: ``sweep_summary.csv``/``.parquet`` and heatmaps.

    A sensitivity sweep (``experiments/sensitivity.yaml``) gets its indices instead, and an ablation
    sweep (``experiments/ablation.yaml``) gets its ablation table as well.
    """
    sweep_dir = Path(sweep_dir)
    from sim import sensitivity

    if sensitivity.is_sensitivity_sweep(sweep_dir):
        return sensitivity.write_analysis(sweep_dir)
    summary, swept = collect(sweep_dir)
    written = [sweep_dir / f"{SUMMARY}.csv", sweep_dir / f"{SUMMARY}.parquet"]
    write_atomic(written[0], lambda p: summary.to_csv(p, index=False))
    write_atomic(written[1], lambda p: summary.to_parquet(p, index=False))
    written += heatmaps(summary, swept, sweep_dir)
    if "ablation" in summary.columns:
        from sim.ablation import write_ablation

        written += write_ablation(sweep_dir)
    return written


class AggregateOnEnd(Callback):
    """Summarise the sweep when the last job has finished (``nwsim-aggregate`` does the same by hand)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Aggregate the sweep folder; a failure is reported, and ``nwsim-aggregate`` can redo it."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            written = aggregate(sweep_dir)
        except Exception as exc:  # Hydra would only warn; say plainly what to run instead
            print(f"nwsim: sweep not aggregated ({exc}); rerun: uv run nwsim-aggregate {sweep_dir}", file=sys.stderr)
            return
        print(f"Sweep summarised in {sweep_dir}: {', '.join(path.name for path in written)}")


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-aggregate SWEEP_DIR``: summary table and heatmaps of a sweep's finished jobs."""
    parser = argparse.ArgumentParser(prog="nwsim-aggregate", description=main.__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder, e.g. multirun/caseload_turnover")
    args = parser.parse_args(argv)
    try:
        written = aggregate(args.sweep_dir)
    except AggregationError as exc:
        print(f"nwsim-aggregate: {exc}", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        print(f"nwsim-aggregate: cannot write the summary: {exc}", file=sys.stderr)
        sys.exit(1)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
