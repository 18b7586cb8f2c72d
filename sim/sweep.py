"""``nwsim-aggregate``: one summary table and heatmaps over the finished jobs of a Hydra multirun.

Which jobs belong to the sweep (those its ``sweep.json`` lists, never a job of an earlier sweep in the same
folder), which are finished and whether their files are intact is ``sim.jobs``'s bookkeeping: every job's
files are checked against the sizes and checksums in its ``job.json``, and a job that fails stops the summary
with a message naming the file. Each job's labels (its overrides) come from its own ``job.json``. The summary
(``sweep_summary.csv`` and ``.parquet``) has one row per job and compared arm: the swept values, the arm and
its baseline as columns, and every metric of the job's ``comparison.csv`` for that arm as
``<metric>__<statistic>`` columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.jobs import (
    NOT_SWEPT,
    AggregationError,
    override_key,
    sweep_codes,
    sweep_members,
    verified_job,
    write_atomic,
)

SUMMARY = "sweep_summary"
#: comparison.csv columns kept in the summary, per metric.
STATISTICS = ("baseline_mean", "arm_mean", "diff_mean", "diff_ci_low", "diff_ci_high")
#: Metrics drawn as heatmaps of the paired difference (arm - baseline), with their titles.
HEATMAPS = {
    "admissions_per_100_person_years": "Admissions per 100 person-years",
    "upc": "Continuity (UPC)",
    "cost_total_gbp": "Total cost (GBP, present value)",
}


def _overrides(texts: list[str]) -> dict[str, Any]:
    """A job's overrides (as its ``job.json`` records them) as {key: parsed value}, without how it ran."""
    out = {}
    for item in texts:
        key, _, value = str(item).partition("=")
        key = override_key(key)
        if key in NOT_SWEPT or key.startswith("hydra"):
            continue
        try:
            out[key] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            out[key] = value
    return out


def unfinished(sweep_dir: Path) -> list[str]:
    """Folders of the sweep's jobs that have not finished (its ``sweep.json`` lists them; none without one)."""
    try:
        return sweep_members(Path(sweep_dir))[1]
    except AggregationError:
        return []


def collect(sweep_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per finished job and compared arm: the swept values, the job's folder and every comparison metric.

    Returns:
        The summary table and the names of the swept keys (overrides that differ between jobs).

    Raises:
        AggregationError: no finished job with a comparison table under ``sweep_dir``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AggregationError(f"{sweep_dir} is not a folder")
    rows = []
    jobs, _ = sweep_members(sweep_dir)
    for job in jobs:
        record = verified_job(job)  # every file as the job wrote it, or a ResultError naming the one that is not
        if "comparison.csv" not in record["files"]:
            continue
        table = job / "comparison.csv"
        try:
            comparison = pd.read_csv(table)
            arms = list(dict.fromkeys(comparison["arm"]))
        except (OSError, ValueError, KeyError) as exc:
            raise AggregationError(f"cannot read {table}: {exc}") from exc
        labels = _overrides(record.get("overrides") or [])
        for arm in arms:
            part = comparison[comparison["arm"] == arm].set_index("metric")
            row: dict[str, Any] = {"job": str(job.relative_to(sweep_dir))}
            row.update(labels)
            row["arm"] = arm
            row["baseline"] = part["baseline"].iloc[0] if "baseline" in part else np.nan
            row["n_pairs"] = int(part["n_pairs"].max()) if "n_pairs" in part else np.nan
            row["seconds"] = record.get("seconds", np.nan)
            for metric, values in part.iterrows():
                for stat in STATISTICS:
                    row[f"{metric}__{stat}"] = values.get(stat, np.nan)
            rows.append(row)
    if not rows:
        raise AggregationError(
            f"no finished job with a comparison.csv under {sweep_dir} (a finished job has written job.json)"
        )
    summary = pd.DataFrame(rows)
    candidates = [c for c in summary.columns[1 : summary.columns.get_loc("arm")]]
    swept = [c for c in candidates if summary.groupby("arm")[c].apply(lambda v: v.astype(str).nunique()).max() > 1]
    summary = summary.sort_values(["arm", *swept] if swept else ["arm", "job"], kind="stable").reset_index(drop=True)
    return summary, swept


def heatmaps(summary: pd.DataFrame, swept: list[str], out_dir: Path) -> list[Path]:
    """Per compared arm, one heatmap per metric of ``HEATMAPS`` over the first two swept keys.

    Cells whose interval crosses 0 are hatched. Files are ``heatmap_<metric>.png`` when the sweep compares
    one arm with the baseline, ``heatmap_<arm>_<metric>.png`` for each arm when it compares several.
    """
    if len(swept) < 2:
        return []
    arms = list(dict.fromkeys(summary["arm"]))
    written = []
    for arm in arms:
        part = summary[summary["arm"] == arm]
        prefix = "heatmap_" if len(arms) == 1 else f"heatmap_{arm}_"
        written += _arm_heatmaps(part, swept, Path(out_dir), arm, str(part["baseline"].iloc[0]), prefix)
    return written


def _arm_heatmaps(
    summary: pd.DataFrame, swept: list[str], out_dir: Path, arm: str, baseline: str, prefix: str
) -> list[Path]:
    """The heatmaps of one compared arm (see ``heatmaps``)."""
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
        fig.colorbar(image, ax=ax, label=f"{arm} - {baseline} (mean of paired differences)")
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
        ax.set_title(f"{title}, {arm} - {baseline}\nhatched (ns): 95% interval crosses 0", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"{prefix}{metric}.png"
        write_atomic(path, lambda p, fig=fig: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        written.append(path)
    return written


def aggregate(sweep_dir: Path) -> list[Path]:
    """Summarise every finished job of a sweep: ``sweep_summary.csv``/``.parquet`` and heatmaps.

    A sensitivity sweep (``experiments/sensitivity.yaml``) gets its indices instead, an uncertainty sweep
    (``experiments/uncertainty.yaml``) its business case under input uncertainty (``write_uncertainty``), and
    an ablation sweep (``experiments/ablation.yaml``) its ablation table as well.
    """
    sweep_dir = Path(sweep_dir)
    from sim import sensitivity, uncertainty

    if sensitivity.is_sensitivity_sweep(sweep_dir):
        return sensitivity.write_analysis(sweep_dir)
    if uncertainty.is_uncertainty_sweep(sweep_dir):
        return write_uncertainty(sweep_dir)
    summary, swept = collect(sweep_dir)
    written = [sweep_dir / f"{SUMMARY}.csv", sweep_dir / f"{SUMMARY}.parquet"]
    write_atomic(written[0], lambda p: summary.to_csv(p, index=False))
    write_atomic(written[1], lambda p: summary.to_parquet(p, index=False))
    written += heatmaps(summary, swept, sweep_dir)
    for stale in set(sweep_dir.glob("heatmap_*.png")) - set(written):  # an earlier sweep's, in the same folder
        stale.unlink()
    if "ablation" in summary.columns:
        from sim.ablation import write_ablation

        written += write_ablation(sweep_dir)
    return written


def write_uncertainty(sweep_dir: Path) -> list[Path]:
    """Put an uncertainty sweep's chunks together: the run tables, the draws and the business case with its page.

    The fixed-input replicates of every chunk make the noise-only business case; the draws add the answer under
    input uncertainty (``sim.uncertainty``), as one ``nwsim uncertainty.draws=N`` run would write them.
    """
    from sim.report import write_business_case
    from sim.runner import save_results
    from sim.uncertainty import analyse, write_tables
    from sim.uncertainty import collect as collect_draws

    results, table, cfg = collect_draws(sweep_dir)
    analysis = analyse(table, cfg)
    written = save_results(results, sweep_dir) + write_tables(analysis, sweep_dir)
    return written + write_business_case(results, cfg, sweep_dir, uncertainty=analysis)


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
        _say_unfinished(sweep_dir, "run the same sweep command again to finish them")


def _say_unfinished(sweep_dir: Path, what_to_do: str) -> None:
    """Name the sweep's jobs that have not finished, and say so if its jobs ran with different model code."""
    missing = unfinished(sweep_dir)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        print(f"nwsim: {len(missing)} jobs of the sweep have not finished ({shown}); {what_to_do}", file=sys.stderr)
    try:
        codes = sweep_codes(sweep_members(Path(sweep_dir))[0])
    except AggregationError:
        return
    if len(codes) > 1:
        print(
            f"nwsim: the sweep's jobs ran with {len(codes)} versions of the model code (it changed while the sweep "
            "ran); run the sweep command again to recompute the jobs of older code",
            file=sys.stderr,
        )


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
    _say_unfinished(args.sweep_dir, "the summary leaves them out; run the sweep command again to finish them")


if __name__ == "__main__":
    main()
