"""The business case of a run: ``business_case.json`` and a self-contained ``report.html`` for managers.

``uv run nwsim`` writes both; ``uv run nwsim-report RUN_DIR`` rebuilds them from a run's tables and
its saved config, without simulating again.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.costs import COST_LINES, business_case
from sim.params import Config, ConfigError, validate
from sim.runner import Results, write_atomic

#: The pilot's published figures, shown beside a pilot-like run (sources.md §1; method unpublished).
PILOT_ROI_PER_GBP = 5.14
PILOT_COUNCIL_SHARE = 0.89
LINE_LABELS = {
    "staff": "Staff (other than the investment)",
    "agency_premium": "Agency premium",
    "recruitment": "Recruitment",
    "inpatient": "Inpatient bed days",
    "delayed_discharge": "Delayed-discharge bed days",
    "crisis_response": "Crisis responses",
    "emergency_placement": "Emergency placements",
    "restrictive_placement": "Restrictive placements",
}
OUTCOMES = {
    "admissions_per_100_person_years": "Hospital admissions per 100 person-years",
    "crises_per_100_person_years": "Crises per 100 person-years",
    "bed_days_per_100_person_years": "Bed days per 100 person-years",
    "restrictive_placements_per_100_person_years": "Restrictive placements per 100 person-years",
    "upc": "Continuity: share of contacts with the usual worker (UPC)",
    "retellings_per_person_year": "Times a person retells their story per year",
    "wait_days_mean": "Days a contact waits",
}
STAFF = {
    "turnover_per_year": "Staff turnover per year",
    "vacancy_frac": "Vacancy rate",
    "agency_frac": "Agency share",
    "mean_caseload": "Mean caseload (named arm)",
    "mean_stress": "Mean stress (demand / capacity)",
}
#: Assumptions that move the answer most (docs/parameters.md gives each one's source and range).
KEY_ASSUMPTIONS = (
    ("named.extra_fte", "Extra social-worker FTE in the named arm (the investment)"),
    ("costs.named_setup_gbp", "One-off set-up cost (GBP)"),
    ("workforce.turnover_per_year", "Staff turnover per year"),
    ("team.caseload_per_worker", "People per social-worker FTE"),
    ("crisis.p_admission", "Chance a crisis ends in admission"),
    ("effects.advocacy_admission_reduction", "How much a known worker lowers admission"),
    ("effects.named_retention", "How much named working lowers leaving"),
    ("costs.inpatient_per_day_gbp", "Inpatient bed day (GBP)"),
    ("costs.discount_rate_per_year", "Discount rate per year"),
)


def write_business_case(
    results: Results, cfg: Config, out_dir: Path, pilot: bool | None = None, page: bool = True
) -> list[Path]:
    """Write business_case.json, business_case.csv (per replicate) and, if ``page``, report.html into ``out_dir``.

    Args:
        results: a run's tables (both arms).
        cfg: the run's config.
        out_dir: the run folder.
        pilot: set the pilot's published return beside the model's (default: when the team is pilot-sized).
        page: also draw the HTML report (its figures take a second or two).
    """
    out_dir = Path(out_dir)
    headline, per_replicate, by_year = business_case(results.runs, results.timeseries, cfg)
    if pilot is None:
        pilot = cfg.team.people <= 100
    written = [out_dir / "business_case.json", out_dir / "business_case.csv"]
    write_atomic(written[0], lambda p: p.write_text(json.dumps(headline, indent=2) + "\n"))
    write_atomic(written[1], lambda p: per_replicate.to_csv(p, index=False))
    if page:
        text = render(headline, per_replicate, by_year, results, cfg, pilot)
        written.append(out_dir / "report.html")
        write_atomic(written[-1], lambda p: p.write_text(text, encoding="utf-8"))
    return written


# Figures -------------------------------------------------------------------------------------


def _png(fig: object) -> str:
    """A matplotlib figure as a base64 PNG data URI (the page needs no other file)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(headline: dict, per_replicate: pd.DataFrame, by_year: pd.DataFrame) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    # Waterfall: investment, then savings line by line, ending at the NPV.
    lines = headline["savings_by_line_gbp"]
    steps = [("Investment", -headline["investment_gbp"])] + [(LINE_LABELS[k], lines[k] or 0.0) for k in COST_LINES]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    level = 0.0
    for i, (_, value) in enumerate(steps):
        ax.bar(i, value, bottom=level, color="#2b8cbe" if value >= 0 else "#e34a33")
        level += value
    ax.bar(len(steps), level, color="#636363")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(steps) + 1), [s for s, _ in steps] + ["Net present value"], rotation=35, ha="right")
    ax.set_ylabel("GBP (present value)")
    ax.set_title("Where the money goes: investment (red) and savings by line (blue: named costs less)")
    figures["waterfall"] = _png(fig)

    # Savings by payer, each replicate a dot.
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, payer in enumerate(("council", "nhs")):
        values = per_replicate[f"savings_{payer}_gbp"].to_numpy()
        ax.bar(i, values.mean(), color=("#2b8cbe", "#7bccc4")[i])
        ax.scatter(np.full(values.size, i) + np.linspace(-0.15, 0.15, values.size), values, s=8, color="black")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([0, 1], ["Council", "NHS"])
    ax.set_ylabel("Savings, GBP (present value)")
    ax.set_title("Who saves: mean, and each replicate")
    figures["payers"] = _png(fig)

    # Return per £1 over time with its band.
    if not by_year.empty and by_year["roi_per_gbp"].notna().any():
        stats = by_year.groupby("year")["roi_per_gbp"].agg(
            mean="mean", low=lambda v: v.quantile(0.025), high=lambda v: v.quantile(0.975)
        )
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.fill_between(stats.index, stats["low"], stats["high"], alpha=0.25, label="95% of replicates")
        ax.plot(stats.index, stats["mean"], marker="o", label="mean")
        ax.axhline(1, color="black", lw=0.8, ls="--", label="break-even (£1 back per £1)")
        ax.set_xlabel("Year")
        ax.set_ylabel("£ saved per £1 invested (cumulative)")
        ax.set_title("Return on investment over time")
        ax.legend(fontsize=8)
        figures["roi"] = _png(fig)
    return figures


# Page ----------------------------------------------------------------------------------------


def _gbp(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.0f}"


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _lookup(cfg: Config, dotted: str) -> object:
    node: object = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _answer(headline: dict) -> str:
    """The first lines of the page: the answer in words."""
    investment, savings = headline["investment_gbp"], headline["savings_gbp"]
    years = headline["horizon_years"]
    if headline["roi_per_gbp"] is None:
        return (
            f"<p class='answer'>{html.escape(headline['roi_note'] or '')}</p>"
            f"<p>Over {years:g} years the named model's net present value is {_gbp(headline['npv_gbp'])} "
            f"(95% interval {_gbp(headline['npv_ci_low'])} to {_gbp(headline['npv_ci_high'])}).</p>"
        )
    roi = headline["roi_per_gbp"]
    verdict = (
        "pays for itself"
        if headline["npv_ci_low"] is not None and headline["npv_ci_low"] > 0
        else (
            "costs more than it saves"
            if headline["npv_ci_high"] is not None and headline["npv_ci_high"] < 0
            else "may or may not pay for itself (the interval includes break-even)"
        )
    )
    council = headline["council_share_of_savings"]
    share = f"; {council:.0%} of the savings fall to the council" if council is not None else ""
    breakeven = headline["breakeven_year"]
    when = f"It breaks even in year {breakeven}." if breakeven else "It does not break even within the horizon."
    return (
        f"<p class='answer'>Moving this team to named workers {verdict}: every £1 invested returns "
        f"<b>£{roi:.2f}</b> of savings and costs avoided (95% interval £{_num(headline['roi_ci_low'])} to "
        f"£{_num(headline['roi_ci_high'])}) over {years:g} years{share}.</p>"
        f"<p>Investment {_gbp(investment)}; savings {_gbp(savings)}, of which {_gbp(headline['cashable_savings_gbp'])} "
        f"cashable and {_gbp(headline['costs_avoided_gbp'])} costs avoided; net present value "
        f"{_gbp(headline['npv_gbp'])}. {when} Present values at {headline['price_year']} prices, discounted at "
        f"{headline['discount_rate_per_year']:.1%} a year.</p>"
    )


def _comparison_table(results: Results, labels: dict[str, str]) -> str:
    if results.comparison is None:
        return ""
    table = results.comparison.set_index("metric")
    rows = []
    for metric, label in labels.items():
        if metric not in table.index:
            continue
        r = table.loc[metric]
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{_num(r.duty_mean)}</td><td>{_num(r.named_mean)}</td>"
            f"<td>{_num(r.diff_mean)} ({_num(r.diff_ci_low)} to {_num(r.diff_ci_high)})</td></tr>"
        )
    head = "<tr><th></th><th>Duty</th><th>Named</th><th>Named - duty (95% interval)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _pilot_section(headline: dict) -> str:
    roi, council = headline["roi_per_gbp"], headline["council_share_of_savings"]
    return (
        "<h2>Beside the pilot</h2>"
        f"<table><tr><th></th><th>This model</th><th>Pilot (published)</th></tr>"
        f"<tr><td>£ saved per £1 invested</td><td>{_num(roi)}</td><td>{PILOT_ROI_PER_GBP:.2f}</td></tr>"
        f"<tr><td>Share of savings to councils</td><td>{_num(council * 100 if council is not None else None, 0)}%"
        f"</td><td>{PILOT_COUNCIL_SHARE:.0%}</td></tr></table>"
        "<p>Why they differ: the pilot's £5.14 was an <i>anticipated</i> figure (practitioners judged, case by case, "
        "what would otherwise have happened, and unit costs were attached); its method was not published. The model "
        "counts only the mechanisms it simulates (admissions, delayed discharges, crises, placements, staffing), with "
        "paired replicates, so it can disagree. The pilot's councils bore most placement costs, which is why most of "
        "its savings fell to them; in the model, the council share depends on how much of the saving comes from "
        "placements and staffing (council) rather than beds and crisis teams (NHS).</p>"
    )


def render(
    headline: dict, per_replicate: pd.DataFrame, by_year: pd.DataFrame, results: Results, cfg: Config, pilot: bool
) -> str:
    """The report as one HTML page with its figures embedded."""
    figures = _figures(headline, per_replicate, by_year)
    images = "".join(
        f"<figure><img alt='{name}' src='{uri}'></figure>" for name, uri in figures.items() if name != "payers"
    )
    assumptions = "".join(
        f"<tr><td><code>{key}</code></td><td>{html.escape(label)}</td><td>{_lookup(cfg, key)}</td></tr>"
        for key, label in KEY_ASSUMPTIONS
    )
    inputs = html.escape(json.dumps(cfg.model_dump(), indent=1, default=str))
    kinds = {k: "cashable" if cfg.costs.cashable[k] else "cost avoided" for k in COST_LINES}
    lines = "".join(
        f"<tr><td>{LINE_LABELS[k]}</td><td>{cfg.costs.payer[k]}</td><td>{kinds[k]}</td><td>{_gbp(v)}</td></tr>"
        for k, v in headline["savings_by_line_gbp"].items()
    )
    payers = figures.get("payers", "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Named workers: business case</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.answer {{ font-size: 1.2rem; }} table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; }}
td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }} img {{ max-width: 100%; }}
pre {{ background: #f6f6f6; padding: 0.5rem; font-size: 0.75rem; max-height: 20rem; overflow: auto; }}
</style></head><body>
<h1>Named workers or a duty system: the business case for this team</h1>
{_answer(headline)}
<p>From {headline["n_pairs"]} paired replicates: both arms ran on the same simulated people and life events, so
each difference is paired. Intervals show simulation noise for these inputs, not doubt about the inputs
(see the assumptions below and the sensitivity analysis in the project's docs).</p>
<h2>Where savings come from</h2>
{images}
<table><tr><th>Line</th><th>Payer</th><th>Kind</th><th>Saving (mean, present value)</th></tr>{lines}</table>
<h2>Who saves</h2>
<figure><img alt="payers" src="{payers}"></figure>
<h2>Outcomes for people</h2>
{_comparison_table(results, OUTCOMES)}
<h2>Outcomes for staff</h2>
{_comparison_table(results, STAFF)}
{_pilot_section(headline) if pilot else ""}
<h2>The assumptions that matter most</h2>
<table><tr><th>Key</th><th>What</th><th>Value used</th></tr>{assumptions}</table>
<p>The investment is the extra staff (funded whether or not the posts are filled) plus the one-off set-up.
Savings are duty cost minus named cost, line by line; cashable savings free money in a budget, costs avoided
(beds, crisis teams) are capacity used by others. Every value, its unit and source is listed in
<code>docs/parameters.md</code>.</p>
<h2>Inputs used</h2>
<pre>{inputs}</pre>
</body></html>
"""


# Command -------------------------------------------------------------------------------------


def load_run(run_dir: Path) -> tuple[Results, Config]:
    """A run's tables and validated config, read back from its folder."""
    from omegaconf import OmegaConf

    from sim.cli import model_dict
    from sim.runner import compare

    run_dir = Path(run_dir)
    needed = [run_dir / "runs.parquet", run_dir / "timeseries.parquet", run_dir / ".hydra" / "config.yaml"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished run folder (missing {', '.join(missing)})")
    cfg = validate(model_dict(OmegaConf.load(needed[2])))
    runs = pd.read_parquet(needed[0])
    if not {"duty", "named"} <= set(runs["arm"]):
        raise ValueError(f"{run_dir} ran only {sorted(set(runs['arm']))}: a business case needs both arms")
    return Results(runs, pd.read_parquet(needed[1]), compare(runs)), cfg


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-report RUN_DIR``: rebuild business_case.json and report.html from a run's tables."""
    parser = argparse.ArgumentParser(prog="nwsim-report", description=main.__doc__)
    parser.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-01-31/12-00-00")
    parser.add_argument("--pilot", action="store_true", help="set the pilot's published return beside the model's")
    args = parser.parse_args(argv)
    try:
        results, cfg = load_run(args.run_dir)
        written = write_business_case(results, cfg, args.run_dir, pilot=args.pilot or None)
    except (FileNotFoundError, ValueError, ConfigError) as exc:
        print(f"nwsim-report: {exc}", file=sys.stderr)
        sys.exit(1)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
