"""Global sensitivity analysis with SALib: Morris screening, then Sobol indices (``nwsim-sensitivity``).

A sensitivity sweep (``experiments/sensitivity.yaml``) is a Hydra multirun over ``sensitivity.chunk``:
every job rebuilds the same sample from the seed, runs every ``chunks``-th point of it (both arms,
``replicates`` paired replicates each, common random numbers across points too) and writes
``points.parquet``. So the sample runs through any launcher, a killed sweep resumes by chunk, and the
analysis (at the end of the sweep, or ``nwsim-aggregate``) reads the points back in sample order.

Outputs per point are paired: the difference arm - baseline in admissions per 100 person-years and in
total cost, and the return per £1 invested (``sim.costs.paired_business_case``). One analysis compares
one arm with the baseline: the first arm of ``arms`` after ``baseline`` (named - duty by default); run
it again with ``arms=[duty,hybrid]`` (say) for another staffing system.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.jobs import AggregationError, code_key, job_dirs, run_nwsim, sweep_members, verified_job, write_atomic
from sim.params import Config, Sensitivity, with_values
from sim.runner import run_many

#: Outputs analysed: column in points.parquet -> plain label.
OUTPUTS = {
    "admissions": "Admissions per 100 person-years, paired difference",
    "cost": "Total cost (GBP, present value), paired difference",
    "roi": "Return per £1 invested",
}
POINTS = "points.parquet"
RECORD = "sensitivity.json"
#: Bootstrap resamples for SALib's confidence intervals.
RESAMPLES = 1000

#: Evaluates sample points: (base config, factor names, rows of factor values) -> one row of OUTPUTS per point.
Evaluator = Callable[[Config, list[str], np.ndarray], pd.DataFrame]


def problem(sens: Sensitivity) -> dict:
    """The SALib problem of ``sens``: every factor for Morris, the Sobol factors for Sobol."""
    names = list(sens.factors) if sens.method == "morris" else list(sens.sobol_factors)
    return {"num_vars": len(names), "names": names, "bounds": [list(sens.factors[n]) for n in names]}


def make_sample(sens: Sensitivity, seed: int) -> np.ndarray:
    """The whole sample (one row per point), the same in every job for the same settings and seed."""
    from SALib.sample import morris, sobol

    spec = problem(sens)
    if sens.method == "morris":
        return morris.sample(spec, N=sens.trajectories, num_levels=sens.levels, seed=seed)
    return sobol.sample(spec, N=sens.samples, calc_second_order=False, scramble=True, seed=seed)


def chunk_points(n_points: int, chunk: int, chunks: int) -> np.ndarray:
    """Point numbers of one chunk: every ``chunks``-th point from ``chunk`` (so chunks take similar time)."""
    return np.arange(chunk, n_points, chunks)


def simulate_points(
    cfg: Config, names: list[str], values: np.ndarray, jobs: int = 1, progress: bool = True
) -> pd.DataFrame:
    """Run each point (baseline and compared arm, ``cfg.replicates`` paired replicates); return its outputs."""
    from sim.costs import paired_business_case

    base, arm = compared_pair(cfg)
    configs = [with_values(cfg, dict(zip(names, row, strict=True))) for row in values]
    # Only the runs.csv rows are used, so the monthly series are not made (about a sixth of a run's time).
    tasks = [(c, a, rep, False) for c in configs for rep in range(cfg.replicates) for a in (base, arm)]
    done = run_many(tasks, jobs, progress, desc=f"{len(configs)} points, {len(tasks)} runs")
    per_point = 2 * cfg.replicates
    rows = []
    for i, point_cfg in enumerate(configs):
        runs = pd.DataFrame([row for row, _ in done[i * per_point : (i + 1) * per_point]])
        wide = runs.pivot(index="replicate", columns="arm")
        case = paired_business_case(runs, point_cfg, arm, base)
        admissions = wide["admissions_per_100_person_years"]
        rows.append(
            {
                "admissions": float((admissions[arm] - admissions[base]).mean()),
                "cost": float((wide[("cost_total_gbp", arm)] - wide[("cost_total_gbp", base)]).mean()),
                "roi": float(case["roi_per_gbp"].mean()),
                "baseline_admissions": float(admissions[base].mean()),
                "arm_upc": float(wide[("upc", arm)].mean()),
            }
        )
    return pd.DataFrame(rows)


def compared_pair(cfg: Config) -> tuple[str, str]:
    """The baseline and the arm a sensitivity analysis compares: the first arm of ``arms`` after the baseline."""
    others = [arm for arm in cfg.arms if arm != cfg.baseline]
    return cfg.baseline, others[0] if others else "named"


def run_chunk(
    cfg: Config, out_dir: Path, jobs: int = 1, progress: bool = True, evaluate: Evaluator | None = None
) -> list[Path]:
    """Evaluate this job's chunk of the sample; write ``points.parquet`` and ``sensitivity.json`` atomically."""
    sens = cfg.sensitivity
    assert sens is not None
    sample = make_sample(sens, cfg.seed)
    points = chunk_points(len(sample), sens.chunk, sens.chunks)
    names = problem(sens)["names"]
    if evaluate is None:
        outputs = simulate_points(cfg, names, sample[points], jobs, progress)
    else:
        outputs = evaluate(cfg, names, sample[points])
    table = pd.DataFrame(sample[points], columns=names)
    table.insert(0, "point", points)
    table = pd.concat([table, outputs.reset_index(drop=True)], axis=1)
    record = {
        "method": sens.method,
        "names": names,
        "bounds": problem(sens)["bounds"],
        "seed": cfg.seed,
        "levels": sens.levels,
        "trajectories": sens.trajectories,
        "samples": sens.samples,
        "n_points": len(sample),
        "chunk": sens.chunk,
        "chunks": sens.chunks,
        "replicates": cfg.replicates,
        "baseline": compared_pair(cfg)[0],
        "arm": compared_pair(cfg)[1],
        "code": code_key(),
    }
    out_dir = Path(out_dir)
    write_atomic(out_dir / POINTS, lambda p: table.to_parquet(p, index=False))
    write_atomic(out_dir / RECORD, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    return [out_dir / POINTS, out_dir / RECORD]


# Analysis --------------------------------------------------------------------------------------


def is_sensitivity_sweep(sweep_dir: Path) -> bool:
    """Whether a sweep folder holds sensitivity chunks."""
    return any((job / RECORD).exists() for job in job_dirs(sweep_dir))


def collect(sweep_dir: Path) -> tuple[dict, pd.DataFrame]:
    """Every point of a finished sensitivity sweep in sample order, with the settings they share.

    Only the chunks of the sweep last started in the folder count (its ``sweep.json``), each checked against
    its ``job.json``.

    Raises:
        AggregationError: chunks missing, or chunks of different settings in one folder; ``ResultError`` (one) for
            a chunk whose files were cut or changed after it finished.
    """
    records, tables = [], []
    for job in sweep_members(sweep_dir)[0]:
        if not {RECORD, POINTS} <= set(verified_job(job)["files"]):
            continue
        try:
            records.append(json.loads((job / RECORD).read_text()))
            tables.append(pd.read_parquet(job / POINTS))
        except (OSError, ValueError) as exc:
            raise AggregationError(f"cannot read the chunk in {job}: {exc}") from None
    if not records:
        raise AggregationError(f"no finished sensitivity chunk under {sweep_dir}")
    shared = {k: v for k, v in records[0].items() if k != "chunk"}
    for record in records[1:]:
        if {k: v for k, v in record.items() if k != "chunk"} != shared:
            raise AggregationError(
                f"chunks under {sweep_dir} come from different settings, seeds or code; "
                "rerun the sweep into an empty folder (or with resume=false)"
            )
    missing = sorted(set(range(shared["chunks"])) - {r["chunk"] for r in records})
    if missing:
        raise AggregationError(
            f"{len(missing)} of {shared['chunks']} chunks under {sweep_dir} have not finished "
            f"({', '.join(map(str, missing[:10]))}{'...' if len(missing) > 10 else ''}); rerun the same command"
        )
    points = pd.concat(tables).sort_values("point").reset_index(drop=True)
    if len(points) != shared["n_points"] or not np.array_equal(points["point"], np.arange(shared["n_points"])):
        raise AggregationError(f"the chunks under {sweep_dir} do not make up the whole sample")
    return shared, points


def analyse(record: dict, points: pd.DataFrame) -> pd.DataFrame:
    """SALib indices of every output: Morris mu*, mu, sigma; Sobol S1 and ST; each with a 95% interval and a rank.

    ``rank`` 1 is the most influential factor of that output (by mu* for Morris, ST for Sobol).
    """
    from SALib.analyze import morris, sobol

    spec = {"num_vars": len(record["names"]), "names": record["names"], "bounds": record["bounds"]}
    x = points[record["names"]].to_numpy(dtype=float)
    frames = []
    for output in OUTPUTS:
        y = points[output].to_numpy(dtype=float)
        if not np.isfinite(y).all():
            raise AggregationError(f"output {output} is undefined at {int((~np.isfinite(y)).sum())} points")
        if record["method"] == "morris":
            result = morris.analyze(
                spec, x, y, num_levels=record["levels"], num_resamples=RESAMPLES, conf_level=0.95, seed=record["seed"]
            )
            frame = pd.DataFrame(
                {
                    "factor": record["names"],
                    "mu_star": result["mu_star"],
                    "mu_star_conf": result["mu_star_conf"],
                    "mu": result["mu"],
                    "sigma": result["sigma"],
                }
            )
            key = "mu_star"
        else:
            result = sobol.analyze(
                spec, y, calc_second_order=False, num_resamples=RESAMPLES, conf_level=0.95, seed=record["seed"]
            )
            frame = pd.DataFrame(
                {
                    "factor": record["names"],
                    "S1": result["S1"],
                    "S1_conf": result["S1_conf"],
                    "ST": result["ST"],
                    "ST_conf": result["ST_conf"],
                }
            )
            key = "ST"
        frame.insert(0, "output", output)
        frame["rank"] = frame[key].rank(ascending=False, method="min").astype(int)
        frames.append(frame.sort_values("rank", kind="stable"))
    table = pd.concat(frames, ignore_index=True)
    table["method"] = record["method"]
    table["seed"] = record["seed"]
    return table


def figure(table: pd.DataFrame, title: str, top: int = 15) -> object:
    """Horizontal bars per output: Morris mu* (with interval) or Sobol ST and S1, the ``top`` factors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(5.2 * len(outputs), 0.32 * top + 1.8))
    axes = np.atleast_1d(axes)
    for ax, output in zip(axes, outputs, strict=True):
        part = table[table["output"] == output].sort_values("rank").head(top)
        y = np.arange(len(part))
        if "mu_star" in part and part["mu_star"].notna().all():
            ax.barh(y, part["mu_star"], xerr=part["mu_star_conf"], color="#2b8cbe", ecolor="black")
            ax.set_xlabel("mu* (mean |elementary effect| over the range)")
        else:
            ax.barh(y - 0.2, part["ST"], 0.4, xerr=part["ST_conf"], color="#2b8cbe", ecolor="black", label="ST (total)")
            ax.barh(
                y + 0.2,
                part["S1"],
                0.4,
                xerr=part["S1_conf"],
                color="#a6bddb",
                ecolor="black",
                label="S1 (first order)",
            )
            ax.set_xlabel("share of output variance")
            ax.legend(frameon=False, fontsize="small")
        ax.set_yticks(y, part["factor"], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(OUTPUTS[output], fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def write_analysis(sweep_dir: Path) -> list[Path]:
    """Write ``sensitivity.csv`` and ``sensitivity.png`` for a finished sensitivity sweep."""
    import matplotlib.pyplot as plt

    sweep_dir = Path(sweep_dir)
    record, points = collect(sweep_dir)
    table = analyse(record, points)
    csv, png = sweep_dir / "sensitivity.csv", sweep_dir / "sensitivity.png"
    write_atomic(csv, lambda p: table.to_csv(p, index=False))
    fig = figure(table, f"{record['method'].capitalize()}, seed {record['seed']}, {record['n_points']} points")
    write_atomic(png, lambda p: fig.savefig(p, dpi=110, format="png"))  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return [csv, png]


# Pooling, stability and the docs page -------------------------------------------------------------


def pool(collected: list[tuple[dict, pd.DataFrame]]) -> tuple[dict, pd.DataFrame]:
    """Finished sweeps of one design with other seeds, as one larger sample (Morris trajectories add up).

    Independent Morris trajectories (or Saltelli base samples) stay valid when put side by side, so
    ``k`` sweeps of ``r`` trajectories analyse as one of ``k x r``.

    Raises:
        AggregationError: the sweeps differ in method, factors, ranges, levels or replicates.
    """
    first = collected[0][0]
    design = ("method", "names", "bounds", "levels", "replicates", "arm", "baseline")
    for record, _ in collected[1:]:
        if any(record.get(key) != first.get(key) for key in design):
            raise AggregationError(
                "sweeps pooled into one analysis must share method, factors, ranges, replicates and arms"
            )
    points = pd.concat([p for _, p in collected], ignore_index=True)
    points["point"] = np.arange(len(points))
    record = dict(first)
    record |= {
        "seeds": [r["seed"] for r, _ in collected],
        "n_points": len(points),
        "trajectories": sum(r["trajectories"] for r, _ in collected),
        "samples": sum(r["samples"] for r, _ in collected),
        "code": ", ".join(dict.fromkeys(r["code"] for r, _ in collected)),
    }
    return record, points


def _index(analysis: pd.DataFrame) -> str:
    """The index that ranks factors in an analysis: Morris mu*, or Sobol ST."""
    return "mu_star" if "mu_star" in analysis and analysis["mu_star"].notna().any() else "ST"


def rank_agreement(first: pd.DataFrame, second: pd.DataFrame, top: int) -> pd.DataFrame:
    """Per output, how well two analyses agree: Spearman correlation of the index, shared top factors.

    ``same_top_three`` says whether the two name the same three most influential factors, in any order.
    """
    from scipy.stats import spearmanr

    key = _index(first)
    rows = []
    for output in OUTPUTS:
        a = first[first["output"] == output].set_index("factor")
        b = second[second["output"] == output].set_index("factor").loc[a.index]
        rho = float(spearmanr(a[key], b[key]).statistic) if len(a) > 2 else np.nan
        order_a, order_b = a.sort_values("rank").index, b.sort_values("rank").index
        rows.append(
            {
                "output": output,
                "spearman": rho,
                "top": top,
                "top_shared": len(set(order_a[:top]) & set(order_b[:top])),
                "same_first": order_a[0] == order_b[0],
                "same_top_three": set(order_a[:3]) == set(order_b[:3]),
            }
        )
    return pd.DataFrame(rows)


def consensus(analyses: list[pd.DataFrame]) -> pd.DataFrame:
    """Factors per output ranked by their mean normalised index over analyses (mu* or ST over its largest)."""
    key = _index(analyses[0])
    table = pd.concat([a.assign(analysis=i) for i, a in enumerate(analyses)])
    table["share"] = table[key] / table.groupby(["analysis", "output"])[key].transform("max")
    mean = table.groupby(["output", "factor"], sort=False)["share"].mean().reset_index()
    mean["rank"] = mean.groupby("output")["share"].rank(ascending=False, method="min").astype(int)
    return mean.sort_values(["output", "rank"], kind="stable")


def choose_sobol_factors(analyses: list[pd.DataFrame], per_output: int) -> list[str]:
    """The factors that matter: the ``per_output`` highest by consensus rank of each output (``consensus``)."""
    chosen: list[str] = []
    for _, part in consensus(analyses).groupby("output", sort=False):
        for factor in part.sort_values("rank")["factor"].head(per_output):
            if factor not in chosen:
                chosen.append(factor)
    return chosen


def _fmt(value: float, output: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if output == "cost":
        return f"£{value / 1e6:,.2f}m"
    return f"{value:.3g}"


def _seeds(analysis: pd.DataFrame) -> str:
    return "+".join(str(s) for s in analysis.attrs.get("seeds", [analysis["seed"].iloc[0]]))


def _tied_with_third(part: pd.DataFrame) -> int:
    """Factors of one output's Morris analysis whose mu* interval (± its 95% half-width) overlaps the third's."""
    ranked = part.sort_values("rank")
    if len(ranked) < 3 or "mu_star_conf" not in ranked:
        return len(ranked)
    third = ranked.iloc[2]
    low, high = third["mu_star"] - third["mu_star_conf"], third["mu_star"] + third["mu_star_conf"]
    reach_up = ranked["mu_star"] + ranked["mu_star_conf"] >= low
    reach_down = ranked["mu_star"] - ranked["mu_star_conf"] <= high
    return int((reach_up & reach_down).sum())


def findings(morris: list[pd.DataFrame], sobol: list[pd.DataFrame], top: int = 3) -> list[str]:
    """The page's summary in words, per output: the consensus leaders by Morris, and the Sobol shares of the largest."""
    agreed = consensus(morris)
    lines = []
    for output, label in OUTPUTS.items():
        leaders = agreed[agreed["output"] == output].head(top)["factor"]
        firsts = [a[a["output"] == output].sort_values("rank")["factor"].iloc[0] for a in morris]
        threes = [set(a[a["output"] == output].sort_values("rank")["factor"].head(3)) for a in morris]
        text = f"- **{label}.** Morris: {', '.join(f'`{f}`' for f in leaders)} lead over both analyses"
        same = all(t == threes[0] for t in threes)
        if same:
            text += " (each names the same top three); "
        else:
            tied = sorted({_tied_with_third(a[a["output"] == output]) for a in morris})
            count = f"{tied[0]}-{tied[-1]}" if len(tied) > 1 else str(tied[0])
            text += (
                f" (their top threes differ: in each analysis {count} factors have 95% intervals of mu* that"
                " overlap the third's, a tie at this r); "
            )
        if len(set(firsts)) == 1:
            text += f"both put `{firsts[0]}` first."
        else:
            text += (
                "the first differs ("
                + " and ".join(f"`{f}`" for f in firsts)
                + "), so the order at the top is not settled."
            )
        if sobol:
            shares = pd.concat([s[s["output"] == output] for s in sobol]).groupby("factor")[["S1", "ST"]]
            low, high = shares.min(), shares.max()
            lead = shares.mean()["ST"].idxmax()
            text += (
                f" Sobol: `{lead}` explains {low.at[lead, 'S1']:.2f}-{high.at[lead, 'S1']:.2f} of the variance alone"
                f" (S1 over the two analyses; ST {low.at[lead, 'ST']:.2f}-{high.at[lead, 'ST']:.2f})."
            )
        lines.append(text)
    return lines


def render_markdown(
    morris: list[pd.DataFrame],
    morris_by_sweeps: dict[int, list[pd.DataFrame]],
    sobol: list[pd.DataFrame],
    records: dict[str, dict],
    factors: dict[str, tuple[float, float]],
    figures: dict[str, str],
    top: int,
    chosen: list[str],
) -> str:
    """docs/sensitivity.md: set-up, Morris ranks of two independent analyses and their agreement, then Sobol.

    ``morris_by_sweeps`` holds the two analyses pooled over fewer sweeps (by how many), to show agreement grow with r.
    """
    m_rec, s_rec = records["morris"], records.get("sobol")
    per_sweep = m_rec["trajectories"] // len(m_rec["seeds"])
    code = f"model code {m_rec['code']}"
    if s_rec and s_rec["code"] != m_rec["code"]:
        code = f"model code {m_rec['code']} for Morris, {s_rec['code']} for Sobol"
    out = [
        "# Sensitivity analysis",
        "",
        f"Made by `uv run nwsim-sensitivity` on {time.strftime('%Y-%m-%d')} ({code}). "
        "Rerun it to regenerate this page; the sweeps it runs resume where they stopped.",
        "",
        "**Question.** Which uncertain inputs and which named-worker mechanisms drive the model's answers:",
        f"the paired difference ({m_rec.get('arm', 'named')} - {m_rec.get('baseline', 'duty')}) in hospital "
        "admissions per 100 person-years, in total cost",
        "(present value over the horizon) and the return per £1 invested?",
        "",
        "**How.** Two stages with [SALib](https://salib.readthedocs.io): Morris elementary-effects",
        f"screening of all {len(factors)} factors listed at the end (every effect size and every uncertain",
        "input with a sensitivity range in [parameters.md](parameters.md), varied uniformly over that",
        "range), then Sobol variance indices (Saltelli sampling, first-order S1 and total ST) for the few",
        "factors that matter most. Each sample point runs the default team (`conf/`) under both arms with"
        f" {m_rec['replicates']} paired replicate(s), and every point uses the same seeds (common random",
        "numbers across points as well as arms), so differences between points are differences of inputs.",
        "",
        "**Are the rankings stable?** Each stage is run as two independent analyses (different samples",
        "and random numbers); a ranking is stable where the two agree. For Morris each analysis pools"
        f" {len(m_rec['seeds'])} sweeps of {per_sweep} trajectories (seeds "
        + " and ".join(_seeds(a) for a in morris)
        + f"), r = {m_rec['trajectories']} trajectories each; the stability table below shows how agreement grows",
        "with r.",
        "",
        "| stage | design | points per analysis | analyses (seeds) |",
        "|---|---|---|---|",
        f"| Morris | r = {m_rec['trajectories']} trajectories, {m_rec['levels']} levels, {len(m_rec['names'])} factors "
        f"| {m_rec['n_points']} | {', '.join(_seeds(a) for a in morris)} |",
    ]
    if s_rec:
        out.append(
            f"| Sobol | N = {s_rec['samples']} (Saltelli, no second order), {len(s_rec['names'])} factors "
            f"| {s_rec['n_points']} | {', '.join(_seeds(a) for a in sobol)} |"
        )
    out += ["", "## What it shows", "", *findings(morris, sobol), ""]
    out += ["## Morris screening", ""]
    if "morris" in figures:
        out += [f"![Morris mu* per output, first analysis]({figures['morris']})", ""]
    pooled = rank_agreement(morris[0], morris[1], top).set_index("output")
    by_r = {n * per_sweep: rank_agreement(a, b, top).set_index("output") for n, (a, b) in morris_by_sweeps.items()}
    by_r[m_rec["trajectories"]] = pooled
    rs = sorted(by_r)
    out += [
        "**Stability.** Per output and number of trajectories r per analysis: the Spearman rank correlation of",
        f"mu* over all {len(factors)} factors between the two analyses, and whether they name the same three",
        f"most influential factors (in any order); for r = {m_rec['trajectories']}, how many of the top {top} they",
        "share and whether the most influential factor is the same.",
        "",
        "| output | "
        + " | ".join(f"Spearman, r = {r}" for r in rs)
        + " | "
        + " | ".join(f"same top 3, r = {r}" for r in rs)
        + f" | top {top} shared | same most influential |",
        "|---|" + "---|" * (2 * len(rs) + 2),
    ]
    for output, label in OUTPUTS.items():
        p = pooled.loc[output]
        out.append(
            f"| {label} | "
            + " | ".join(f"{by_r[r].loc[output].spearman:.2f}" for r in rs)
            + " | "
            + " | ".join("yes" if by_r[r].loc[output].same_top_three else "no" for r in rs)
            + f" | {p.top_shared} of {top} | {'yes' if p.same_first else 'no'} |"
        )
    out += [
        "",
        "mu* is the mean absolute change in the output when the factor moves over its whole range (one",
        "Morris step at a time, everything else elsewhere in its range); sigma large against mu* means",
        "the effect depends on the other factors. Factors are listed by their mean rank over the two",
        "analyses (each analysis's mu* as a share of its largest, averaged).",
        "",
    ]
    agreed = consensus(morris)
    for output, label in OUTPUTS.items():
        parts = [a[a["output"] == output].set_index("factor") for a in morris]
        order = agreed[agreed["output"] == output].head(top)
        out += [
            f"### {label}",
            "",
            "| rank | factor | range | "
            + " | ".join(f"mu* (± 95%), {_seeds(a)} | rank | sigma" for a in morris)
            + " |",
            "|---|---|---|" + "---|---|---|" * len(morris),
        ]
        for _, r in order.iterrows():
            cells = []
            for part in parts:
                row = part.loc[r.factor]
                cells.append(
                    f"{_fmt(row.mu_star, output)} (± {_fmt(row.mu_star_conf, output)}) | {int(row['rank'])} "
                    f"| {_fmt(row.sigma, output)}"
                )
            low, high = factors[r.factor]
            out.append(f"| {int(r['rank'])} | `{r.factor}` | {low:g} - {high:g} | " + " | ".join(cells) + " |")
        out.append("")
    if sobol:
        ran = list(s_rec["names"])
        out += ["## Sobol indices", ""]
        out += [
            f"Factors: {', '.join(f'`{f}`' for f in ran)}, the most influential of each output by the",
            "Morris stage; every other input stays at its default. S1 is the share of output variance due to",
            "the factor alone, ST the share including its interactions; ST well above S1 means the factor",
            "acts through interactions. Shares are of the variance these factors make between them.",
            "",
        ]
        if set(chosen) != set(ran):
            out += [
                f"(The pooled Morris ranking now puts {', '.join(f'`{f}`' for f in chosen)} at the top; the Sobol",
                "sweeps ran on the factors above, chosen from the ranks available when they ran.)",
                "",
            ]
        if "sobol" in figures:
            out += [f"![Sobol indices per output, first analysis]({figures['sobol']})", ""]
        s_agree = rank_agreement(sobol[0], sobol[1], 1).set_index("output")
        out += [
            "**Stability.** Between the two analyses, per output: Spearman rank correlation of ST and whether",
            "the factor with the largest ST is the same: "
            + "; ".join(
                f"{OUTPUTS[o]}: {r.spearman:.2f}, {'same' if r.same_first else 'different'}"
                for o, r in s_agree.iterrows()
            )
            + ".",
            "",
        ]
        s_order = consensus(sobol)
        for output, label in OUTPUTS.items():
            parts = [a[a["output"] == output].set_index("factor") for a in sobol]
            order = s_order[s_order["output"] == output]["factor"]
            out += [
                f"### {label}",
                "",
                "| factor | " + " | ".join(f"S1, {_seeds(a)} | ST, {_seeds(a)}" for a in sobol) + " |",
                "|---|" + "---|---|" * len(sobol),
            ]
            for factor in order:
                cells = [
                    f"{p.at[factor, 'S1']:.2f} ± {p.at[factor, 'S1_conf']:.2f} "
                    f"| {p.at[factor, 'ST']:.2f} ± {p.at[factor, 'ST_conf']:.2f}"
                    for p in parts
                ]
                out.append(f"| `{factor}` | " + " | ".join(cells) + " |")
            out.append("")
    out += [
        "## All factors and ranges",
        "",
        "Ranges are the sensitivity ranges of [parameters.md](parameters.md) (`experiments/sensitivity.yaml`).",
        "",
        "| factor | low | high |",
        "|---|---|---|",
    ]
    out += [f"| `{name}` | {low:g} | {high:g} |" for name, (low, high) in factors.items()]
    return "\n".join(out) + "\n"


def _sweep_dir(base: Path, method: str, seed: int) -> Path:
    return base / f"{method}_seed{seed}"


def _sweeps(base: Path, method: str, seeds: list[int], run: list[str] | None) -> list[tuple[dict, pd.DataFrame]]:
    """Run (unless ``run`` is None) and collect the sweeps of ``seeds``."""
    collected = []
    for seed in seeds:
        sweep = _sweep_dir(base, method, seed)
        if run is not None:
            run_nwsim(["experiment=sensitivity", f"seed={seed}", f"sensitivity.method={method}",
                       f"hydra.sweep.dir={sweep}", *run])  # fmt: skip
        collected.append(collect(sweep))
    return collected


def _analysis(collected: list[tuple[dict, pd.DataFrame]]) -> tuple[dict, pd.DataFrame]:
    """Collected sweeps pooled into one analysis; the table remembers their seeds."""
    record, points = pool(collected)
    table = analyse(record, points)
    table.attrs["seeds"] = record["seeds"]
    return record, table


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-sensitivity``: Morris then Sobol as two independent analyses each, and the docs page."""
    parser = argparse.ArgumentParser(prog="nwsim-sensitivity", description=main.__doc__)
    parser.add_argument("--seeds", type=int, nargs=2, default=[1, 2], help="first seeds of the two analyses")
    parser.add_argument(
        "--pool", type=int, default=4, help="Morris sweeps pooled per analysis (seeds s, s + 2, ...): r grows with it"
    )
    parser.add_argument(
        "--per-output", type=int, default=2, help="Sobol stage: the top factors of each output by Morris"
    )
    parser.add_argument("--top", type=int, default=10, help="factors listed per output, and compared")
    parser.add_argument("--sweeps", type=Path, default=Path("multirun/sensitivity"), help="folder of the sweeps")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where sensitivity.md and figures/ go")
    parser.add_argument("--skip-run", action="store_true", help="only rebuild the page from finished sweeps")
    parser.add_argument("--morris-only", action="store_true", help="stop after the Morris stage")
    parser.add_argument("overrides", nargs="*", help="nwsim overrides, e.g. hydra/launcher=joblib")
    args = parser.parse_args(argv)
    base = args.sweeps.resolve()
    run = None if args.skip_run else list(args.overrides)
    step = len(args.seeds)
    try:
        records: dict[str, dict] = {}
        morris: list[pd.DataFrame] = []
        fewer = [n for n in (1, 2, 4, 8, 16, 32) if n < args.pool]  # sweeps pooled, to show agreement grow with r
        by_sweeps: dict[int, list[pd.DataFrame]] = {n: [] for n in fewer}
        for first in args.seeds:
            seeds = [first + step * j for j in range(args.pool)]
            collected = _sweeps(base, "morris", seeds, run)
            records["morris"], table = _analysis(collected)
            morris.append(table)
            for n in fewer:
                by_sweeps[n].append(_analysis(collected[:n])[1])
        chosen = choose_sobol_factors(morris, args.per_output)
        sobol: list[pd.DataFrame] = []
        if not args.morris_only:
            sobol_run = None if run is None else [*run, f"sensitivity.sobol_factors=[{','.join(chosen)}]"]
            for seed in args.seeds:
                records["sobol"], table = _analysis(_sweeps(base, "sobol", [seed], sobol_run))
                sobol.append(table)
        factors = _factors(base, args.seeds[0])
        written = _write_docs(morris, by_sweeps, sobol, records, factors, args.docs, args.top, chosen)
    except AggregationError as exc:
        print(f"nwsim-sensitivity: {exc}", file=sys.stderr)
        sys.exit(1)
    for path in written:
        print(path)


def _factors(base: Path, seed: int) -> dict[str, tuple[float, float]]:
    """The factor ranges of the Morris sweep, from the config a finished chunk recorded in its ``job.json``."""
    folder = _sweep_dir(base, "morris", seed)
    jobs = sweep_members(folder)[0]
    if not jobs:
        raise AggregationError(f"no finished Morris chunk under {folder}")
    config = verified_job(jobs[0]).get("config")
    if not isinstance(config, dict) or not isinstance(config.get("sensitivity"), dict):
        raise AggregationError(f"{jobs[0] / 'job.json'} does not record the sweep's config; rerun the sweep")
    return {k: tuple(v) for k, v in config["sensitivity"]["factors"].items()}


def _write_docs(
    morris: list[pd.DataFrame],
    morris_by_sweeps: dict[int, list[pd.DataFrame]],
    sobol: list[pd.DataFrame],
    records: dict[str, dict],
    factors: dict[str, tuple[float, float]],
    docs: Path,
    top: int,
    chosen: list[str],
) -> list[Path]:
    import matplotlib.pyplot as plt

    written, figures = [], {}
    for name, analyses in (("morris", morris), ("sobol", sobol)):
        if not analyses:
            continue
        path = docs / "figures" / f"sensitivity_{name}.png"
        title = f"{name.capitalize()}, seeds {_seeds(analyses[0])}"
        fig = figure(analyses[0], title, top=top)
        write_atomic(path, lambda p, fig=fig: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)  # type: ignore[arg-type]
        figures[name] = str(path.relative_to(docs))
        written.append(path)
        table = docs / f"sensitivity_{name}.csv"
        frames = [a.assign(seeds=_seeds(a)) for a in analyses]
        write_atomic(table, lambda p, f=frames: pd.concat(f).to_csv(p, index=False))
        written.append(table)
    text = render_markdown(morris, morris_by_sweeps, sobol, records, factors, figures, top, chosen)
    write_atomic(docs / "sensitivity.md", lambda p: p.write_text(text))
    return [docs / "sensitivity.md", *written]
