"""Probabilistic sensitivity analysis: how sure is the saving when the inputs themselves are uncertain?

Every uncertain input has a distribution around its configured value (``uncertainty.inputs``,
``conf/uncertainty/default.yaml``). Draw ``d`` samples each input once, from its own random stream keyed by
``(seed, d, input)``, and runs the paired arms on replicates ``d * r .. d * r + r - 1`` of the master seed
(``r = uncertainty.replicates_per_draw``): common random numbers across arms, fresh ones across draws. With
every distribution of zero width, draw ``d`` is replicate ``d`` of the fixed-input run, so the analysis then
reproduces the fixed-input business case exactly.

From the draws: the probability that an arm saves money, its net saving and return per £1 with 90% intervals
that include input uncertainty, the cost-effectiveness acceptability curve, the expected value of perfect
information (EVPI) and, per input, of partial perfect information (EVPPI, by regression on that input as in
Strong, Oakley and Brennan 2014, with a cubic regression spline from scipy as the single-input GAM), and
a tornado of how far net saving moves across each input's 90% range (the same fits). No maintained Python
library computes regression-based EVPPI (R has ``voi`` and ``BCEA``); this module is the few lines it takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.costs import INVESTMENT_PAYER, paired_business_case
from sim.jobs import AggregationError, job_dirs, sweep_members, verified_job, write_atomic
from sim.params import Config, value_at, with_values
from sim.runner import HEADLINE, Results, compare, compared_arms, experiment_results, experiment_tasks, run_many
from sim.streams import Streams

#: The per-draw table of a run folder (``uncertainty.csv`` and ``.parquet``).
TABLE = "uncertainty"
#: The acceptability curve (one row per arm and willingness to pay) and the value of information per input.
ACCEPTABILITY = "acceptability.csv"
EVPPI = "evppi.csv"
#: Columns of the paired business case (``sim.costs.paired_business_case``) kept per draw, as means.
CASE_COLUMNS = (
    "investment_gbp",
    "savings_gbp",
    "savings_council_gbp",
    "savings_nhs_gbp",
    "cashable_savings_gbp",
    "npv_gbp",
)
#: Points of the acceptability curve.
CURVE_POINTS = 101
#: Percentiles of an input across which the tornado shows net saving move.
TORNADO_PERCENTILES = (5.0, 95.0)
#: Fewest distinct values of an input for a spline; below it the conditional mean is a group mean.
SPLINE_MIN_VALUES = 5
#: Draws per interior knot of the regression spline, and the most interior knots.
DRAWS_PER_KNOT = 50
MAX_KNOTS = 6


def draw_numbers(cfg: Config) -> np.ndarray:
    """The draws this job runs: every ``chunks``-th draw from ``chunk`` (so chunks take similar time)."""
    u = cfg.uncertainty
    return np.arange(u.chunk, u.draws, u.chunks)


def draw_replicates(draw: int, per_draw: int) -> range:
    """Replicates (of the master seed) a draw runs on: draw ``d`` takes ``d * r .. d * r + r - 1``."""
    return range(draw * per_draw, (draw + 1) * per_draw)


def input_draws(cfg: Config, draws: np.ndarray) -> pd.DataFrame:
    """The value of every uncertain input in each draw: one row per draw, one column per input key.

    Each input reads its own stream, so adding an input, narrowing another or running a different set of
    draws never changes a draw's value of it. Whole-number keys are rounded.
    """
    base = cfg.model_dump(mode="python")
    columns = {}
    for key, spec in cfg.uncertainty.inputs.items():
        mean = value_at(base, key)
        u = np.array([Streams(cfg.seed, int(d)).generator(f"uncertainty/{key}").random() for d in draws])
        values = spec.quantile(float(mean), u)
        columns[key] = np.round(values).astype(int) if isinstance(mean, int) else values
    return pd.DataFrame(columns, index=pd.Index(np.asarray(draws, dtype=int), name="draw"))


def simulate_draws(cfg: Config, draws: np.ndarray, jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Run the paired arms on each draw's inputs; one row per draw and compared arm (see ``draw_rows``)."""
    inputs, configs, tasks = draw_tasks(cfg, draws)
    done = run_many(tasks, jobs, progress, desc=f"{len(configs)} draws, {len(tasks)} runs")
    return draw_table(cfg, inputs, configs, done)


def draw_tasks(cfg: Config, draws: np.ndarray) -> tuple[pd.DataFrame, list[Config], list[tuple]]:
    """Each draw's inputs and config, and the ``run_many`` tasks that run its paired arms (no monthly series)."""
    inputs = input_draws(cfg, draws)
    per_draw = cfg.uncertainty.replicates_per_draw
    configs = [with_values(cfg, row) for row in inputs.to_dict(orient="records")]
    tasks = [
        (c, arm, rep, False)
        for c, d in zip(configs, inputs.index, strict=True)
        for rep in draw_replicates(d, per_draw)
        for arm in cfg.arms
    ]
    return inputs, configs, tasks


def draw_table(
    cfg: Config, inputs: pd.DataFrame, configs: list[Config], done: list[tuple[dict, pd.DataFrame]]
) -> pd.DataFrame:
    """The per-draw table from the finished tasks of ``draw_tasks`` (in order)."""
    size = cfg.uncertainty.replicates_per_draw * len(cfg.arms)
    rows = []
    for i, (draw, draw_cfg) in enumerate(zip(inputs.index, configs, strict=True)):
        runs = pd.DataFrame([row for row, _ in done[i * size : (i + 1) * size]])
        rows += draw_rows(runs, draw_cfg, int(draw), inputs.loc[draw].to_dict())
    return pd.DataFrame(rows)


def draw_rows(runs: pd.DataFrame, cfg: Config, draw: int, inputs: dict[str, float]) -> list[dict]:
    """One draw's outcome per compared arm, means over its paired replicates.

    Columns: ``draw``, ``arm``, ``baseline``, the inputs, ``<metric>_diff`` (arm - baseline) for the headline
    metrics, ``admissions_avoided`` (baseline - arm, admissions over the horizon), the business case
    (``investment_gbp``, ``savings_gbp``, ``savings_council_gbp``, ``savings_nhs_gbp``,
    ``cashable_savings_gbp``), ``npv_gbp`` (net saving: savings - investment), ``council_net_saving_gbp``
    (the council's savings - the investment, which it pays: ``sim.costs.INVESTMENT_PAYER``) and
    ``roi_per_gbp`` (savings per £1 invested).
    """
    base = cfg.baseline
    count = runs["admissions_per_100_person_years"] * runs["person_years"] / 100
    admissions = count.groupby(runs["arm"]).mean()
    means = runs.groupby("arm")[list(HEADLINE)].mean()
    out = []
    for arm in compared_arms(runs["arm"], base):
        case = paired_business_case(runs, cfg, arm, base)
        row: dict = {"draw": draw, "arm": arm, "baseline": base, **inputs}
        for metric in HEADLINE:
            row[f"{metric}_diff"] = float(means.at[arm, metric] - means.at[base, metric])
        row["admissions_avoided"] = float(admissions[base] - admissions[arm])
        for column in CASE_COLUMNS:
            row[column] = float(case[column].mean())
        row["council_net_saving_gbp"] = row[f"savings_{INVESTMENT_PAYER}_gbp"] - row["investment_gbp"]
        row["roi_per_gbp"] = float(case["roi_per_gbp"].mean()) if row["investment_gbp"] > 0 else np.nan
        out.append(row)
    return out


def run_uncertainty(cfg: Config, jobs: int = 1, progress: bool = True) -> tuple[Results, pd.DataFrame]:
    """This job's share of an uncertainty analysis: fixed-input replicates and draws (every ``chunks``-th of each).

    Both run in one pool (one start-up, one tail). With one chunk, that is every replicate and every draw.

    Returns:
        The fixed-input results of its replicates (for the noise-only business case) and its draws' table.
    """
    u = cfg.uncertainty
    fixed = experiment_tasks(cfg, range(u.chunk, cfg.replicates, u.chunks))
    inputs, configs, tasks = draw_tasks(cfg, draw_numbers(cfg))
    desc = f"{len(fixed)} runs and {len(configs)} draws ({len(tasks)} runs)"
    done = run_many(fixed + tasks, jobs, progress, desc=desc)
    return experiment_results(cfg, done[: len(fixed)]), draw_table(cfg, inputs, configs, done[len(fixed) :])


# Analysis --------------------------------------------------------------------------------------


def net_benefit(table: pd.DataFrame, wtp_gbp: float) -> np.ndarray:
    """Incremental net monetary benefit of each draw: wtp x admissions avoided + net saving (GBP)."""
    return wtp_gbp * table["admissions_avoided"].to_numpy(float) + table["npv_gbp"].to_numpy(float)


def evpi(benefit: np.ndarray) -> float:
    """Expected value of perfect information for adopting an arm or not: E[max(0, INB)] - max(0, E[INB])."""
    return float(np.mean(np.maximum(benefit, 0.0)) - max(float(np.mean(benefit)), 0.0))


def conditional_mean(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """E[y | x] at each x: a least-squares cubic regression spline in x (group means for few distinct x).

    The spline has one interior knot per ``DRAWS_PER_KNOT`` draws, at most ``MAX_KNOTS``, at quantiles of x: a
    fixed-basis stand-in for the single-input GAM of Strong, Oakley and Brennan (2014), a few milliseconds
    per fit where scipy's GCV smoothing spline took half a second. Ties are merged into one point weighted
    by their count, which gives the same fit as the raw points.
    """
    from scipy.interpolate import make_lsq_spline

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    values, where, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(where, weights=y) / counts
    if values.size < SPLINE_MIN_VALUES:
        return means[where]
    knots = min(MAX_KNOTS, x.size // DRAWS_PER_KNOT, values.size - 4)
    inner = np.quantile(values, np.linspace(0, 1, knots + 2)[1:-1]) if knots > 0 else np.array([])
    t = np.concatenate([[values[0]] * 4, inner, [values[-1]] * 4])
    try:
        fitted = make_lsq_spline(values, means, t, k=3, w=np.sqrt(counts))(values)
    except (ValueError, np.linalg.LinAlgError):  # knots the data cannot support: a cubic in x
        scaled = (values - values[0]) / (values[-1] - values[0])
        fitted = np.polynomial.Polynomial.fit(scaled, means, deg=3, w=np.sqrt(counts))(scaled)
    return fitted[where]


def evppi(benefit: np.ndarray, x: np.ndarray) -> float:
    """Expected value of partial perfect information on one input (Strong, Oakley and Brennan 2014).

    With ``g(x) = E[INB | x]`` fitted by ``conditional_mean``: EVPPI = E[max(0, g)] - max(0, E[g]). It is at
    least 0 (Jensen; the fit keeps the mean) and, for the true ``g``, at most the EVPI; a fit that follows the
    noise can overshoot the EVPI slightly with few draws.
    """
    fitted = conditional_mean(x, benefit)
    return float(np.mean(np.maximum(fitted, 0.0)) - max(float(np.mean(fitted)), 0.0))


def acceptability(table: pd.DataFrame, max_wtp_gbp: float, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The cost-effectiveness acceptability curve of each arm against the baseline.

    Returns:
        Columns ``arm``, ``wtp_gbp`` (what the council would pay per admission avoided) and
        ``p_cost_effective`` (share of draws with positive net benefit at that price). The curve rises with
        the price wherever every draw avoids admissions; draws where an arm adds admissions make it fall.
    """
    grid = np.linspace(0.0, max_wtp_gbp, points)
    out = []
    for arm, part in table.groupby("arm", sort=False):
        avoided = part["admissions_avoided"].to_numpy(float)
        npv = part["npv_gbp"].to_numpy(float)
        p = ((grid[:, None] * avoided[None, :] + npv[None, :]) > 0).mean(axis=1)
        out.append(pd.DataFrame({"arm": arm, "wtp_gbp": grid, "p_cost_effective": p}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["arm", "wtp_gbp", "p_cost_effective"])


def input_columns(table: pd.DataFrame, cfg: Config) -> list[str]:
    """The inputs of ``cfg`` that vary between the draws of ``table``."""
    return [key for key in cfg.uncertainty.inputs if key in table and table[key].nunique() > 1]


def value_of_information(table: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per arm and varied input: its EVPPI, the arm's EVPI, and the tornado (net saving at the input's 5th and 95th).

    Returns:
        Columns ``arm``, ``input``, ``evppi_gbp``, ``evpi_gbp``, ``npv_at_p05_gbp``, ``npv_at_p95_gbp``,
        ``swing_gbp`` (the absolute difference of the two), sorted by EVPPI then swing, largest first.
    """
    wtp = cfg.uncertainty.willingness_to_pay_gbp
    rows = []
    for arm, part in table.groupby("arm", sort=False):
        benefit = net_benefit(part, wtp)
        total = evpi(benefit)
        npv = part["npv_gbp"].to_numpy(float)
        for key in input_columns(part, cfg):
            x = part[key].to_numpy(float)
            fitted = conditional_mean(x, npv)
            ends = np.percentile(x, TORNADO_PERCENTILES)
            at = [float(fitted[np.argmin(np.abs(x - end))]) for end in ends]
            rows.append(
                {
                    "arm": arm,
                    "input": key,
                    "evppi_gbp": evppi(benefit, x),
                    "evpi_gbp": total,
                    "npv_at_p05_gbp": at[0],
                    "npv_at_p95_gbp": at[1],
                    "swing_gbp": abs(at[1] - at[0]),
                }
            )
    columns = ["arm", "input", "evppi_gbp", "evpi_gbp", "npv_at_p05_gbp", "npv_at_p95_gbp", "swing_gbp"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["arm", "evppi_gbp", "swing_gbp"], ascending=[True, False, False], kind="stable")


def _share(flags: np.ndarray) -> float | None:
    return float(np.mean(flags)) if flags.size else None


def _quantiles(values: np.ndarray, name: str) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    keys = (f"{name}_uncertainty_p05", f"{name}_uncertainty_p50", f"{name}_uncertainty_p95")
    if not values.size:
        return dict.fromkeys(keys)
    return dict(zip(keys, (float(v) for v in np.percentile(values, [5, 50, 95])), strict=True))


def arm_summary(part: pd.DataFrame, cfg: Config) -> dict[str, object]:
    """The business case of one arm under input uncertainty (keys added to its ``business_case.json`` entry).

    ``p_cost_saving``: share of draws where the arm's total cost, investment included, is below the baseline's
    (net saving > 0). ``p_roi_above_1``: share where savings exceed the investment (the same draws whenever
    there is an investment; None without one). ``p_council_saving``: share where the council's own savings
    exceed the investment it pays. Net saving and return per £1 with their 5th, 50th and 95th percentiles
    over draws; the EVPI at ``uncertainty.willingness_to_pay_gbp``.
    """
    npv = part["npv_gbp"].to_numpy(float)
    roi = part["roi_per_gbp"].to_numpy(float)
    invested = bool((part["investment_gbp"] > 0).all())
    u = cfg.uncertainty
    return {
        "uncertainty_draws": len(part),
        "uncertainty_replicates_per_draw": u.replicates_per_draw,
        "p_cost_saving": _share(npv > 0),
        "p_roi_above_1": _share(roi > 1) if invested else None,
        "p_council_saving": _share(part["council_net_saving_gbp"].to_numpy(float) > 0),
        **_quantiles(npv, "npv"),
        **(_quantiles(roi, "roi") if invested else dict.fromkeys(_quantiles(np.array([]), "roi"))),
        "admissions_avoided_uncertainty_p50": float(np.median(part["admissions_avoided"])) if len(part) else None,
        "willingness_to_pay_gbp": u.willingness_to_pay_gbp,
        "evpi_gbp": evpi(net_benefit(part, u.willingness_to_pay_gbp)) if len(part) else None,
    }


def summaries(table: pd.DataFrame, cfg: Config) -> dict[str, dict[str, object]]:
    """``arm_summary`` of every arm in the draws' table."""
    return {str(arm): arm_summary(part, cfg) for arm, part in table.groupby("arm", sort=False)}


# Files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """An uncertainty analysis worked out once, for its files and its page: the draws, the curve, the information."""

    table: pd.DataFrame  # one row per draw and compared arm (``draw_rows``)
    curve: pd.DataFrame  # the acceptability curve of each arm (``acceptability``)
    information: pd.DataFrame  # EVPPI and the tornado per arm and input (``value_of_information``)


def analyse(table: pd.DataFrame, cfg: Config) -> Analysis:
    """The acceptability curve and the value of information of a per-draw table (the spline fits run once)."""
    return Analysis(
        table, acceptability(table, cfg.uncertainty.max_willingness_to_pay_gbp), value_of_information(table, cfg)
    )


def write_tables(analysis: Analysis, out_dir: Path) -> list[Path]:
    """Write ``uncertainty.csv``/``.parquet`` (one row per draw and arm), ``acceptability.csv`` and ``evppi.csv``."""
    out_dir = Path(out_dir)
    targets = {
        f"{TABLE}.csv": lambda p: analysis.table.to_csv(p, index=False),
        f"{TABLE}.parquet": lambda p: analysis.table.to_parquet(p, index=False),
        ACCEPTABILITY: lambda p: analysis.curve.to_csv(p, index=False),
        EVPPI: lambda p: analysis.information.to_csv(p, index=False),
    }
    for name, write in targets.items():
        write_atomic(out_dir / name, write)
    return [out_dir / name for name in targets]


def is_uncertainty_sweep(sweep_dir: Path) -> bool:
    """Whether a sweep folder holds chunks of an uncertainty analysis."""
    return any((job / f"{TABLE}.parquet").exists() for job in job_dirs(sweep_dir))


def collect(sweep_dir: Path) -> tuple[Results, pd.DataFrame, Config]:
    """The finished chunks of an uncertainty sweep put together: fixed-input results, draws and the config.

    Raises:
        AggregationError: no finished chunk, chunks of different analyses, or a file that fails its check.
    """
    from sim.compose import validate_config

    jobs, _ = sweep_members(Path(sweep_dir))
    runs, series, draws, configs = [], [], [], []
    for job in jobs:
        names = ["runs.parquet", "timeseries.parquet", f"{TABLE}.parquet"]
        record = verified_job(job, names)
        if not all(name in record["files"] for name in names):
            continue
        runs.append(pd.read_parquet(job / names[0]))
        series.append(pd.read_parquet(job / names[1]))
        draws.append(pd.read_parquet(job / names[2]))
        config = dict(record["config"])
        config["uncertainty"] = {**config["uncertainty"], "chunk": 0}
        configs.append(config)
    if not runs:
        raise AggregationError(f"no finished chunk of an uncertainty analysis under {sweep_dir}")
    if any(config != configs[0] for config in configs[1:]):
        raise AggregationError(f"the chunks under {sweep_dir} are of different analyses (their configs differ)")
    cfg = validate_config(configs[0])
    all_runs = pd.concat(runs, ignore_index=True).sort_values(["replicate", "arm"], kind="stable")
    all_runs = all_runs.reset_index(drop=True)
    timeseries = pd.concat(series, ignore_index=True).sort_values(["arm", "replicate", "month"], kind="stable")
    table = pd.concat(draws, ignore_index=True).sort_values(["draw", "arm"], kind="stable").reset_index(drop=True)
    results = Results(all_runs, timeseries.reset_index(drop=True), compare(all_runs, cfg.baseline))
    return results, table, cfg
