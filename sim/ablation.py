"""Ablation: how much of the named model's benefit each mechanism carries (``nwsim-ablation``).

``experiments/ablation.yaml`` runs one paired job per value of ``ablation``: every mechanism on, every
mechanism off (structure alone), each mechanism off in turn (``without_``) and each on alone
(``only_``). Every job uses the same seed and replicates, so the jobs are paired with one another too:
a mechanism's share is computed replicate by replicate, with a t interval over replicates.

- *benefit lost without it* = benefit (all on) - benefit (all on but it): what it carries given the rest;
- *benefit alone* = benefit (only it on) - benefit (all off): what it does by itself.
Shares are of the total, benefit (all on) - benefit (all off); with interactions they need not add to 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.costs import mean_ci
from sim.jobs import AggregationError, run_code, run_nwsim, sweep_members, verified_job, write_atomic
from sim.params import MECHANISMS

#: Benefit metrics: label, and the sign that turns arm - baseline into "the arm is better" (> 0).
METRICS = {
    "admissions_per_100_person_years": ("Admissions avoided per 100 person-years", -1.0),
    "bed_days_per_100_person_years": ("Bed days avoided per 100 person-years", -1.0),
    "upc": ("Continuity gained (UPC)", 1.0),
    "cost_total_gbp": ("Net saving, GBP present value (baseline cost - arm cost)", -1.0),
}
#: Plain names of the mechanisms.
LABELS = {
    "retell_extra_frac": "no retelling: shorter contacts",
    "familiarity_quality_gain": "better contacts from a known worker",
    "call_confidence_gain": "confidence to call early",
    "advocacy_admission_reduction": "advocacy in a crisis",
    "discharge_coordination_reduction": "discharge coordination",
    "assessment_error_reduction": "fewer wrong capacity findings",
    "named_retention": "named workers stay longer",
    "prevention_admission_reduction": "recent contact prevents escalation",
    "unfamiliar_detection_loss": "a known worker notices more risk",
    "extra_fte": "extra capacity",
    "checkins": "proactive check-ins",
}
ALL_ON = "all_on"
TABLE = "ablation"


def _job_config(job: Path) -> dict:
    """A finished job's config, as its ``job.json`` recorded it (after checking the job's files against it).

    Raises:
        AggregationError: the job's files do not match its record, or the record holds no config.
    """
    config = verified_job(job).get("config")
    if not isinstance(config, dict):
        raise AggregationError(f"{job / 'job.json'} does not record the job's config; rerun the ablation")
    return config


def benefits(sweep_dir: Path) -> pd.DataFrame:
    """Per-replicate benefit of every compared arm over the baseline in every finished job.

    Returns:
        Rows replicates, columns (arm, ablation, metric); ``all_on`` is the job with every mechanism on.

    Raises:
        AggregationError: no finished job, or no job with every mechanism on.
    """
    frames = {}
    for job in sweep_members(sweep_dir)[0]:
        runs_path = job / "runs.parquet"
        config = _job_config(job)
        if not runs_path.exists():
            continue
        baseline, ablation = config.get("baseline", "duty"), config.get("ablation") or ALL_ON
        runs = pd.read_parquet(runs_path)
        if baseline not in set(runs["arm"]):
            continue
        wide = runs.pivot(index="replicate", columns="arm", values=list(METRICS))
        for arm in dict.fromkeys(runs["arm"]):
            if arm == baseline:
                continue
            frames[(arm, ablation)] = pd.DataFrame(
                {
                    metric: sign * (wide[(metric, arm)] - wide[(metric, baseline)])
                    for metric, (_, sign) in METRICS.items()
                }
            )
    if ALL_ON not in {ablation for _, ablation in frames}:
        raise AggregationError(f"no finished job with every mechanism on (ablation=null) under {sweep_dir}")
    return pd.concat(frames, axis=1)


def ablation_table(per_replicate: pd.DataFrame) -> pd.DataFrame:
    """One row per compared arm, metric and mechanism: benefit lost without it and alone, with intervals and shares.

    ``per_replicate`` has columns (arm, ablation, metric) as ``benefits`` returns, or (ablation, metric) for one arm.
    """
    if per_replicate.columns.nlevels == 2:
        per_replicate = pd.concat({"named": per_replicate}, axis=1)
    tables = []
    for arm in dict.fromkeys(per_replicate.columns.get_level_values(0)):
        table = _arm_table(per_replicate[arm])
        table.insert(0, "arm", arm)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _arm_table(per_replicate: pd.DataFrame) -> pd.DataFrame:
    """``ablation_table`` for one arm: ``per_replicate`` has columns (ablation, metric)."""
    have = set(per_replicate.columns.get_level_values(0))
    rows = []
    for metric, (label, _) in METRICS.items():
        on = per_replicate[(ALL_ON, metric)]
        off = per_replicate[("all_off", metric)] if "all_off" in have else pd.Series(np.nan, index=on.index)
        total = float((on - off).mean())
        on_mean, on_low, on_high = mean_ci(on)
        off_mean, off_low, off_high = mean_ci(off)
        for mechanism in MECHANISMS:
            row = {
                "metric": metric,
                "metric_label": label,
                "mechanism": mechanism,
                "mechanism_label": LABELS[mechanism],
                "benefit_all_on": on_mean,
                "benefit_all_on_ci_low": on_low,
                "benefit_all_on_ci_high": on_high,
                "benefit_all_off": off_mean,
                "benefit_all_off_ci_low": off_low,
                "benefit_all_off_ci_high": off_high,
            }
            for kind, column in (("lost", f"without_{mechanism}"), ("alone", f"only_{mechanism}")):
                if column not in have:
                    values = pd.Series(dtype=float)
                else:
                    values = (
                        on - per_replicate[(column, metric)]
                        if kind == "lost"
                        else per_replicate[(column, metric)] - off
                    )
                mean, low, high = mean_ci(values)
                row |= {
                    f"{kind}_mean": mean,
                    f"{kind}_ci_low": low,
                    f"{kind}_ci_high": high,
                    f"{kind}_share": mean / total if total else np.nan,
                }
            rows.append(row)
    table = pd.DataFrame(rows)
    table["n_pairs"] = int(per_replicate[(ALL_ON, next(iter(METRICS)))].notna().sum())
    return table


def _fmt(value: float, metric: str) -> str:
    """Money in £ millions to the £10k; anything else to three significant figures."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if metric.endswith("_gbp"):
        return f"£{value / 1e6:,.2f}m"
    return f"{float(f'{value:.3g}'):g}" if abs(value) >= 0.0005 else "0"


def _interval(mean: float, low: float, high: float, metric: str) -> str:
    return f"{_fmt(mean, metric)} ({_fmt(low, metric)} to {_fmt(high, metric)})"


def _share(value: float) -> str:
    return f"{value + 0.0:.0%}".replace("-0%", "0%") if np.isfinite(value) else "n/a"


def render_markdown(table: pd.DataFrame, figure: str | dict[str, str] | None, note: str) -> str:
    """The ablation tables as Markdown: per compared arm and metric, each mechanism's benefit lost without it and alone.

    ``figure`` is one figure's path (one arm) or a path per arm.
    """
    if "arm" not in table:
        table = table.assign(arm="named")
    arms = list(dict.fromkeys(table["arm"]))
    figures = figure if isinstance(figure, dict) else {arm: figure for arm in arms}
    which = "the named model's" if arms == ["named"] else "each staffing system's"
    out = [
        f"# Ablation: which mechanism carries {which} benefit",
        "",
        note,
        "",
        "Each mechanism that can favour the named arm (every `effects.*` key, the extra capacity",
        "`named.extra_fte` and proactive check-ins) is switched off in turn with the others on, and on",
        "alone with the others off. *Lost without it* is the benefit with everything on minus the benefit",
        "with everything but it (what it carries given the rest); *alone* is the benefit with only it on",
        "minus the benefit with all off (what it does by itself). Shares are of the total, the benefit with",
        "everything on minus the benefit with everything off. Mechanisms interact (a shorter contact frees",
        "time for a check-in; advocacy needs a worker who knows the person), so the shares need not add up",
        "to 100%: what is left over is the interaction. Intervals are 95% t intervals over paired",
        "replicates; every job uses the same seeds, so the jobs are paired with one another as well.",
        "",
    ]
    for arm in arms:
        if len(arms) > 1:
            out += [f"## {arm}", ""]
        out += _arm_markdown(table[table["arm"] == arm], figures.get(arm), "###" if len(arms) > 1 else "##")
    return "\n".join(out)


def _arm_markdown(table: pd.DataFrame, figure: str | None, heading: str) -> list[str]:
    """The Markdown of one compared arm (see ``render_markdown``)."""
    out: list[str] = []
    if figure:
        out += [f"![Benefit lost without each mechanism and benefit of each alone]({figure})", ""]
    for metric, part in table.groupby("metric", sort=False):
        first = part.iloc[0]
        total = first["benefit_all_on"] - first["benefit_all_off"]
        alone = part["alone_mean"].sum()
        out += [
            f"{heading} {first['metric_label']}",
            "",
            f"Everything on: {_interval(first.benefit_all_on, first.benefit_all_on_ci_low, first.benefit_all_on_ci_high, metric)}; "  # noqa: E501
            f"everything off (structure alone: how each system allocates people and contacts): "
            f"{_interval(first.benefit_all_off, first.benefit_all_off_ci_low, first.benefit_all_off_ci_high, metric)}. "
            f"Total carried by the mechanisms: {_fmt(total, metric)}; sum of each alone: {_fmt(alone, metric)} "
            f"(interaction: {_fmt(total - alone, metric)}).",
            "",
            "| mechanism | lost without it (95% CI) | share | alone (95% CI) | share |",
            "|---|---|---|---|---|",
        ]
        for _, r in part.sort_values("lost_mean", ascending=False, key=lambda s: s.fillna(-np.inf)).iterrows():
            lost = _interval(r.lost_mean, r.lost_ci_low, r.lost_ci_high, metric)
            alone = _interval(r.alone_mean, r.alone_ci_low, r.alone_ci_high, metric)
            out.append(
                f"| {r.mechanism_label} (`{r.mechanism}`) | {lost} | {_share(r.lost_share)} | {alone} "
                f"| {_share(r.alone_share)} |"
            )
        out.append("")
    return out


def figure(table: pd.DataFrame) -> object:
    """Bars per metric: benefit lost without each mechanism (filled) and its benefit alone (hollow), with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(table["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4.8), sharey=True)
    axes = np.atleast_1d(axes)
    order = list(MECHANISMS)
    y = np.arange(len(order))
    for ax, metric in zip(axes, metrics, strict=True):
        part = table[table["metric"] == metric].set_index("mechanism").loc[order]
        scale = 1e6 if metric.endswith("_gbp") else 1.0  # money in £ millions
        for offset, kind, style in ((-0.18, "lost", {"color": "#2b8cbe"}), (0.18, "alone", {"fill": False})):
            mean = part[f"{kind}_mean"].to_numpy(dtype=float) / scale
            low, high = (part[f"{kind}_ci_{end}"].to_numpy(dtype=float) / scale for end in ("low", "high"))
            err = np.vstack([mean - low, high - mean])
            ax.barh(y + offset, np.nan_to_num(mean), height=0.34, edgecolor="#2b8cbe", **style)
            ax.errorbar(np.nan_to_num(mean), y + offset, xerr=np.nan_to_num(err), fmt="none", ecolor="black", lw=0.8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(part["metric_label"].iloc[0].replace("GBP", "£m"), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [LABELS[m] for m in order], fontsize=8)
    axes[0].invert_yaxis()
    arm = table["arm"].iloc[0] if "arm" in table else "named"
    fig.suptitle(
        f"Benefit of {arm} over the baseline lost without each mechanism (filled) and of each alone (hollow)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def write_ablation(sweep_dir: Path, out_dir: Path | None = None, note: str = "") -> list[Path]:
    """Write ``ablation.csv``, ``ablation.png`` and ``ablation.md`` for a finished ablation sweep into ``out_dir``."""
    import matplotlib.pyplot as plt

    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir or sweep_dir)
    table = ablation_table(benefits(sweep_dir))
    csv, png, md = out_dir / f"{TABLE}.csv", out_dir / "figures" / f"{TABLE}.png", out_dir / f"{TABLE}.md"
    if out_dir == sweep_dir:
        png = out_dir / f"{TABLE}.png"
    arms = list(dict.fromkeys(table["arm"]))
    pngs = {arm: png if len(arms) == 1 else png.with_name(f"{TABLE}_{arm}.png") for arm in arms}
    for arm, path in pngs.items():
        fig = figure(table[table["arm"] == arm])
        write_atomic(path, lambda p, fig=fig: fig.savefig(p, dpi=110, format="png"))  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
    write_atomic(csv, lambda p: table.to_csv(p, index=False))
    shown = {arm: str(path.relative_to(out_dir)) for arm, path in pngs.items()}
    text = render_markdown(table, shown, note or _note(sweep_dir, table))
    write_atomic(md, lambda p: p.write_text(text + "\n"))
    return [csv, *pngs.values(), md]


def _note(sweep_dir: Path, table: pd.DataFrame) -> str:
    job = sweep_members(sweep_dir)[0][0]
    config = _job_config(job)
    return (
        f"Made by `uv run nwsim-ablation` on {time.strftime('%Y-%m-%d')} (model code {run_code(job)}): "
        f"{config['team']['people']} people, caseload {config['team']['caseload_per_worker']}, "
        f"turnover {config['workforce']['turnover_per_year']} a year, {config['warmup_years']} warm-up and "
        f"{config['horizon_years']} measured years, {int(table['n_pairs'].iloc[0])} paired replicates per job, "
        f"seed {config['seed']}. Rerun it to regenerate this page."
    )


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-ablation``: run ``experiments/ablation.yaml`` (resumable) and write docs/ablation.md."""
    parser = argparse.ArgumentParser(prog="nwsim-ablation", description=main.__doc__)
    parser.add_argument("--sweep-dir", type=Path, default=Path("multirun/ablation"), help="the ablation sweep folder")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where ablation.md and figures/ go")
    parser.add_argument("--skip-run", action="store_true", help="only rebuild the page from a finished sweep")
    parser.add_argument("overrides", nargs="*", help="nwsim overrides, e.g. replicates=10 hydra/launcher=joblib")
    args = parser.parse_args(argv)
    if not args.skip_run:
        run_nwsim(["experiment=ablation", f"hydra.sweep.dir={args.sweep_dir.resolve()}", *args.overrides])
    try:
        written = write_ablation(args.sweep_dir, args.docs)
    except (AggregationError, OSError, KeyError) as exc:
        print(f"nwsim-ablation: {exc}", file=sys.stderr)
        sys.exit(1)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
