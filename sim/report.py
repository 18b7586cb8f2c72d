"""The business case of a run: ``business_case.json``, ``business_case.csv`` and a self-contained ``report.html``.

Every arm other than the baseline gets its own business case against the baseline. ``uv run nwsim`` writes
them; ``uv run nwsim-report RUN_DIR`` rebuilds them from a run's tables and its saved config (its arms and
baseline), without simulating again. The page names systems by their ``label`` (``sim.staffing.SYSTEMS``)
and never asks which system an arm is: what it says comes from the numbers and the systems' hooks.
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
from pydantic import BaseModel

from sim.costs import COST_LINES, TRANSITION_WINDOW_MONTHS, business_case, json_safe
from sim.params import Config, ConfigError
from sim.runner import Results, write_atomic
from sim.staffing import SYSTEMS
from sim.uncertainty import Analysis, analyse, summaries

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
    "mean_caseload": "Mean caseload (people held per social worker, where anyone holds people)",
    "mean_stress": "Mean stress (demand / capacity)",
}
#: Assumptions that move the answer most (docs/parameters.md gives each one's source and range).
KEY_ASSUMPTIONS = (
    ("named.extra_fte", "Extra social-worker FTE for named working (the investment)"),
    ("costs.named_setup_gbp", "One-off set-up cost of named working (GBP)"),
    ("workforce.turnover_per_year", "Staff turnover per year"),
    ("team.caseload_per_worker", "People per social-worker FTE"),
    ("crisis.p_admission", "Chance a crisis ends in admission"),
    ("effects.advocacy_admission_reduction", "How much a known worker lowers admission"),
    ("effects.named_retention", "How much named working lowers leaving"),
    ("costs.inpatient_per_day_gbp", "Inpatient bed day (GBP)"),
    ("costs.discount_rate_per_year", "Discount rate per year"),
)


def write_business_case(
    results: Results,
    cfg: Config,
    out_dir: Path,
    page: bool = True,
    pilot: bool | None = None,
    uncertainty: Analysis | None = None,
) -> list[Path]:
    """Write business_case.json, business_case.csv and, if ``page``, report.html into ``out_dir``.

    ``business_case.json`` is ``{"baseline": name, "arms": {arm: headline}}`` (``sim.costs.business_case``),
    one headline per arm other than the baseline; ``business_case.csv`` has one row per arm and replicate.

    Args:
        results: a run's tables (the baseline and at least one other arm).
        cfg: the run's config (its ``baseline`` is the arm every other is compared with).
        out_dir: the run folder.
        page: also draw the HTML report (its figures take a second or two per arm).
        pilot: set the pilot's published return beside the model's (default: when the team is pilot-sized).
        uncertainty: the uncertainty analysis (``sim.uncertainty.analyse``), if one ran: each arm's headline
            gains the answer under input uncertainty (``sim.uncertainty.arm_summary``) and the page leads with it.

    Returns:
        The files written.
    """
    out_dir = Path(out_dir)
    case, per_replicate, by_year = business_case(results.runs, results.timeseries, cfg)
    if uncertainty is not None and not uncertainty.table.empty:
        for arm, extra in summaries(uncertainty.table, cfg).items():
            if arm in case["arms"]:
                case["arms"][arm].update(json_safe(extra))
    if pilot is None:
        pilot = cfg.team.people <= 100
    written = [out_dir / "business_case.json", out_dir / "business_case.csv"]
    write_atomic(written[0], lambda p: p.write_text(json.dumps(case, indent=2) + "\n"))
    write_atomic(written[1], lambda p: per_replicate.to_csv(p, index=False))
    if page:
        text = render(case, per_replicate, by_year, results, cfg, pilot, uncertainty)
        written.append(out_dir / "report.html")
        write_atomic(written[-1], lambda p: p.write_text(text, encoding="utf-8"))
    return written


# Names ---------------------------------------------------------------------------------------


def system_name(arm: str) -> str:
    """A system's name for a manager: its label up to the colon ("Named workers"), else the arm's name."""
    label = SYSTEMS[arm].label if arm in SYSTEMS else ""
    return label.split(":", 1)[0].strip() or arm


def _in_sentence(arm: str) -> str:
    """A system's name inside a sentence ("named workers")."""
    name = system_name(arm)
    return name[:1].lower() + name[1:] if name[1:2].islower() else name  # "NHS team" stays as it is


def _label(arm: str) -> str:
    """A system's one-line description (its name where it has none)."""
    return (SYSTEMS[arm].label if arm in SYSTEMS else "") or arm


# Figures -------------------------------------------------------------------------------------


def _png(fig: object) -> str:
    """A matplotlib figure as a base64 PNG data URI (the page needs no other file)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(headline: dict, per_replicate: pd.DataFrame, by_year: pd.DataFrame) -> dict[str, str]:
    """One arm's figures (waterfall, payers, return over time) as data URIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plots import arm_colour

    arm, baseline = headline["arm"], headline["baseline"]
    figures = {}
    # Waterfall: investment, then savings line by line, ending at the NPV.
    lines = headline["savings_by_line_gbp"]
    investment = headline["investment_gbp"] or 0.0
    steps = [("Investment", -investment)] + [(LINE_LABELS[k], lines[k] or 0.0) for k in COST_LINES]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    level = 0.0
    for i, (_, value) in enumerate(steps):
        ax.bar(i, value, bottom=level, color="#2b8cbe" if value >= 0 else "#e34a33")
        level += value
    ax.bar(len(steps), level, color="#636363")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(steps) + 1), [s for s, _ in steps] + ["Net present value"], rotation=35, ha="right")
    ax.set_ylabel("GBP (present value)")
    ax.set_title(
        f"{system_name(arm)} against {_in_sentence(baseline)}: investment (red) and savings by line "
        f"(blue: {_in_sentence(arm)} cost less)",
        fontsize=10,
    )
    figures["waterfall"] = _png(fig)

    # Savings by payer, each replicate a dot.
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, payer in enumerate(("council", "nhs")):
        values = per_replicate[f"savings_{payer}_gbp"].to_numpy()
        ax.bar(i, values.mean() if values.size else 0.0, color=("#2b8cbe", "#7bccc4")[i])
        ax.scatter(np.full(values.size, i) + np.linspace(-0.15, 0.15, values.size), values, s=8, color="black")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([0, 1], ["Council", "NHS"])
    ax.set_ylabel("Savings, GBP (present value)")
    ax.set_title(f"Who saves with {_in_sentence(arm)}: mean, and each replicate", fontsize=10)
    figures["payers"] = _png(fig)

    # Return per £1 over time with its band.
    if not by_year.empty and by_year["roi_per_gbp"].notna().any():
        stats = by_year.groupby("year")["roi_per_gbp"].agg(
            mean="mean", low=lambda v: v.quantile(0.025), high=lambda v: v.quantile(0.975)
        )
        colour = arm_colour(arm)
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.fill_between(stats.index, stats["low"], stats["high"], color=colour, alpha=0.25, label="95% of replicates")
        ax.plot(stats.index, stats["mean"], color=colour, marker="o", label="mean")
        ax.axhline(1, color="black", lw=0.8, ls="--", label="break-even (£1 back per £1)")
        ax.set_xlabel("Year")
        ax.set_ylabel("£ saved per £1 invested (cumulative)")
        ax.set_title(f"{system_name(arm)}: return on investment over time", fontsize=10)
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


def _per_gbp(value: float | None) -> str:
    """Pounds per £1 with pence: £0.89, -£0.57."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{'-' if value < 0 else ''}£{abs(value):.2f}"


def _lookup(cfg: Config, dotted: str) -> object:
    node: object = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _verdict(headline: dict) -> str:
    """Whether the arm pays for itself, from the interval of its net present value."""
    low, high = headline["npv_ci_low"], headline["npv_ci_high"]
    if low is not None and low > 0:
        return "it pays for itself"
    if high is not None and high < 0:
        return "it costs more than it saves"
    return "it may or may not pay for itself (the interval includes break-even)"


def _answer(headline: dict) -> str:
    """The plain answer for one arm against the baseline, in one paragraph."""
    arm, baseline = headline["arm"], headline["baseline"]
    years = headline["horizon_years"]
    move = f"Moving this team from <b>{_in_sentence(baseline)}</b> to <b>{_in_sentence(arm)}</b>"
    npv = headline["npv_gbp"]
    npv_range = f"95% interval {_gbp(headline['npv_ci_low'])} to {_gbp(headline['npv_ci_high'])}"
    if headline["roi_per_gbp"] is None:
        effect = f"would save {_gbp(npv)}" if npv is None or npv >= 0 else f"would cost {_gbp(-npv)} more"
        return (
            f"<p class='answer' id='answer-{html.escape(arm)}'>{move} needs no investment (no extra staff or set-up "
            f"over {_in_sentence(baseline)}): it {effect} over {years:g} years in net present value ({npv_range}), "
            f"so a return per £1 invested is undefined.</p>"
        )
    savings = headline["savings_gbp"]
    save = f"would save {_gbp(savings)}" if savings >= 0 else f"would add {_gbp(-savings)} of costs"
    council = headline["council_share_of_savings"]
    share = f"; {council:.0%} of the savings fall to the council" if council is not None else ""
    return (
        f"<p class='answer' id='answer-{html.escape(arm)}'>{move} {save} over {years:g} years (95% interval "
        f"{_gbp(headline['savings_ci_low'])} to {_gbp(headline['savings_ci_high'])}) for an investment of "
        f"{_gbp(headline['investment_gbp'])}: every £1 invested returns <b>{_per_gbp(headline['roi_per_gbp'])}</b> "
        f"(95% interval {_per_gbp(headline['roi_ci_low'])} to {_per_gbp(headline['roi_ci_high'])}), so "
        f"{_verdict(headline)}{share}.</p>"
    )


def _details(headline: dict) -> str:
    """Investment, savings, net present value and break-even of one arm."""
    breakeven = headline["breakeven_year"]
    when = (
        f"Its cumulative net present value first reaches break-even at the end of year {breakeven}."
        if breakeven
        else "It does not break even within the horizon."
    )
    text = (
        f"<p>Investment {_gbp(headline['investment_gbp'])} "
        f"(extra staff {_gbp(headline['investment_extra_staff_gbp'])}, "
        f"set-up {_gbp(headline['investment_setup_gbp'])}, paid by the {headline['investment_payer']}); savings "
        f"{_gbp(headline['savings_gbp'])}, of which {_gbp(headline['cashable_savings_gbp'])} cashable and "
        f"{_gbp(headline['costs_avoided_gbp'])} costs avoided; net present value {_gbp(headline['npv_gbp'])} "
        f"(95% interval {_gbp(headline['npv_ci_low'])} to {_gbp(headline['npv_ci_high'])}). {when} Present values "
        f"at {headline['price_year']} prices, discounted at {headline['discount_rate_per_year']:.1%} a year, from "
        f"{headline['n_pairs']} paired replicates.</p>"
    )
    if headline["roi_note"]:
        text += f"<p class='note'>{html.escape(headline['roi_note'])}</p>"
    return text


def _months_after(months: int | None, start_month: int, what: str, baseline: str) -> str:
    """When an arm's monthly ``what`` stay below the baseline's, in words."""
    if months is None:
        return f"its {what} do not stay below {baseline}'s within the horizon"
    if months == 0:
        return f"its {what} are below {baseline}'s for good from the start"
    unit = "month" if months == 1 else "months"
    return f"its {what} fall below {baseline}'s for good {months} {unit} after the start (month {start_month + months})"


def _transition(headline: dict, cfg: Config) -> str:
    """For an arm that starts after the first measured month: when it pays month by month, and what the change cost."""
    t = headline.get("transition") or {}
    start_month = t.get("start_month") or 1
    if start_month <= 1:
        return ""
    arm, baseline = headline["arm"], _in_sentence(headline["baseline"])
    name = system_name(arm)
    day = f", measured day {SYSTEMS[arm].start_day(cfg)}" if arm in SYSTEMS else ""
    starts = f"{name} starts in month {start_month} of the measured period{day}"
    keys = ("months_to_lower_admissions", "months_to_lower_cost", "transition_cost_gbp")
    if all(t.get(key) is None for key in keys):
        return (
            f"<p class='transition'>{starts}: after the {headline['horizon_years']:g}-year horizon, so within it "
            "the team works as before; nothing is invested and nothing changes.</p>"
        )
    admissions = _months_after(t.get("months_to_lower_admissions"), start_month, "admissions", baseline)
    costs = _months_after(t.get("months_to_lower_cost"), start_month, "costs", baseline)
    cost = t.get("transition_cost_gbp")
    paid = f"costs {_gbp(cost)}" if cost is None or cost >= 0 else f"saves {_gbp(-cost)}"
    until = (
        f"until its costs stay below {baseline}'s"
        if t.get("months_to_lower_cost") is not None
        else "to the end of the horizon"
    )
    return (
        f"<p class='transition'>{starts}. Month by month (the paired difference, as a "
        f"{TRANSITION_WINDOW_MONTHS}-month moving average), {admissions}, and {costs}. The change-over {paid}: "
        f"the extra cost over {baseline}, set-up included, from the start {until} (present value).</p>"
    )


def _comparison_table(results: Results, labels: dict[str, str], arm: str) -> str:
    """One arm's outcomes beside the baseline's, with the paired difference and its interval."""
    if results.comparison is None:
        return ""
    table = results.comparison[results.comparison["arm"] == arm].set_index("metric")
    if table.empty:
        return ""
    baseline = str(table["baseline"].iloc[0])
    rows = []
    for metric, label in labels.items():
        if metric not in table.index:
            continue
        r = table.loc[metric]
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{_num(r.baseline_mean)}</td><td>{_num(r.arm_mean)}</td>"
            f"<td>{_num(r.diff_mean)} ({_num(r.diff_ci_low)} to {_num(r.diff_ci_high)})</td></tr>"
        )
    if not rows:
        return ""
    a, b = html.escape(system_name(arm)), html.escape(system_name(baseline))
    head = f"<tr><th></th><th>{b}</th><th>{a}</th><th>{a} - {_in_sentence(baseline)} (95% interval)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _arm_section(
    headline: dict, per_replicate: pd.DataFrame, by_year: pd.DataFrame, results: Results, cfg: Config
) -> str:
    """Everything about one arm against the baseline: the numbers, the change-over, figures and outcomes."""
    arm, baseline = headline["arm"], headline["baseline"]
    figures = _figures(headline, per_replicate, by_year)
    kinds = {k: "cashable" if cfg.costs.cashable[k] else "cost avoided" for k in COST_LINES}
    lines = "".join(
        f"<tr><td>{LINE_LABELS[k]}</td><td>{cfg.costs.payer[k]}</td><td>{kinds[k]}</td><td>{_gbp(v)}</td></tr>"
        for k, v in headline["savings_by_line_gbp"].items()
    )
    roi = (
        f"<h3>Return over time</h3><figure><img alt='roi {html.escape(arm)}' src='{figures['roi']}'></figure>"
        if "roi" in figures
        else ""
    )
    people = _comparison_table(results, OUTCOMES, arm)
    staff = _comparison_table(results, STAFF, arm)
    return f"""<section class="arm" id="arm-{html.escape(arm)}">
<h2>{html.escape(system_name(arm))} against {html.escape(_in_sentence(baseline))}</h2>
<p class="systems"><b>{html.escape(_label(arm))}</b>, compared with <b>{html.escape(_label(baseline))}</b>.</p>
{_details(headline)}
{_transition(headline, cfg)}
<h3>Where savings come from</h3>
<figure><img alt="waterfall {html.escape(arm)}" src="{figures["waterfall"]}"></figure>
<table><tr><th>Line</th><th>Payer</th><th>Kind</th><th>Saving (mean, present value)</th></tr>{lines}</table>
<h3>Who saves</h3>
<figure><img alt="payers {html.escape(arm)}" src="{figures["payers"]}"></figure>
{roi}
{"<h3>Outcomes for people</h3>" + people if people else ""}
{"<h3>Outcomes for staff</h3>" + staff if staff else ""}
</section>"""


# Input uncertainty ---------------------------------------------------------------------------

#: Inputs shown in the tornado and the value-of-information chart.
TOP_INPUTS = 12


def _of_100(p: float | None) -> str:
    return "n/a" if p is None else f"{round(100 * p)} of 100"


def _uncertain_answer(headline: dict) -> str:
    """One arm's answer under input uncertainty, in words a manager can quote."""
    arm, baseline = headline["arm"], headline["baseline"]
    worlds = _of_100(headline["p_cost_saving"])
    text = (
        f"<p class='answer' id='uncertain-{html.escape(arm)}'>In <b>{worlds}</b> plausible worlds "
        f"{html.escape(_in_sentence(arm))} cost less than {html.escape(_in_sentence(baseline))}, investment included "
        f"(council and NHS together); the council's own savings cover the investment it pays in "
        f"{_of_100(headline['p_council_saving'])}. Net saving over {headline['horizon_years']:g} years: "
        f"<b>{_gbp(headline['npv_uncertainty_p50'])}</b> (90% of plausible worlds between "
        f"{_gbp(headline['npv_uncertainty_p05'])} and {_gbp(headline['npv_uncertainty_p95'])})"
    )
    if headline["roi_uncertainty_p50"] is not None:
        text += (
            f"; every £1 invested returns <b>{_per_gbp(headline['roi_uncertainty_p50'])}</b> (90%: "
            f"{_per_gbp(headline['roi_uncertainty_p05'])} to {_per_gbp(headline['roi_uncertainty_p95'])})"
        )
    return text + ".</p>"


def _uncertainty_figures(
    arm: str, baseline: str, part: pd.DataFrame, curve: pd.DataFrame, information: pd.DataFrame
) -> dict[str, str]:
    """One arm's cost-effectiveness plane, acceptability curve, tornado and value of information, as data URIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plots import arm_colour

    colour = arm_colour(arm)
    figures = {}
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    extra_cost = -part["npv_gbp"].to_numpy(float) / 1e6
    avoided = part["admissions_avoided"].to_numpy(float)
    saves = extra_cost < 0
    ax.scatter(avoided[saves], extra_cost[saves], s=9, color=colour, label="costs less")
    ax.scatter(avoided[~saves], extra_cost[~saves], s=9, color="#e34a33", label="costs more")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"Admissions avoided over the horizon ({baseline} - {arm})")
    ax.set_ylabel("Extra cost, investment included (£ million, present value)")
    ax.set_title(
        f"Cost-effectiveness plane: {system_name(arm)} against {_in_sentence(baseline)}, one dot per draw", fontsize=10
    )
    ax.legend(fontsize=8)
    figures["plane"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(curve["wtp_gbp"], curve["p_cost_effective"], color=colour)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("What the council would pay to avoid one admission, beyond its cost (GBP)")
    ax.set_ylabel("Probability cost-effective")
    ax.set_title(f"Acceptability curve: {system_name(arm)} against {_in_sentence(baseline)}", fontsize=10)
    figures["acceptability"] = _png(fig)

    if not information.empty:
        top = information.sort_values("swing_gbp", ascending=False).head(TOP_INPUTS).iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.5))
        low = top[["npv_at_p05_gbp", "npv_at_p95_gbp"]].min(axis=1) / 1e6
        high = top[["npv_at_p05_gbp", "npv_at_p95_gbp"]].max(axis=1) / 1e6
        ax.barh(range(len(top)), high - low, left=low, color=colour)
        median = float(np.median(part["npv_gbp"])) / 1e6
        ax.axvline(median, color="black", lw=0.8, ls="--", label="median net saving")
        ax.set_yticks(range(len(top)), top["input"])
        ax.set_xlabel("Net saving (£ million) as the input goes from its 5th to its 95th percentile")
        ax.set_title("What the answer hangs on: net saving across each input's range (from the draws)", fontsize=10)
        ax.legend(fontsize=8)
        figures["tornado"] = _png(fig)
        top = information.head(TOP_INPUTS).iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.5))
        ax.barh(range(len(top)), top["evppi_gbp"], color="#636363")
        ax.set_yticks(range(len(top)), top["input"])
        ax.set_xlabel("Expected value of knowing this input exactly before deciding (GBP, EVPPI)")
        ax.set_title(f"Value of information (EVPI, all inputs: {_gbp(top['evpi_gbp'].iloc[0])})", fontsize=10)
        figures["evppi"] = _png(fig)
    return figures


def _uncertainty_section(cases: dict[str, dict], arms: list[str], analysis: Analysis, cfg: Config) -> str:
    """The answer under input uncertainty, first on the page: chance of saving, plane, curve, tornado, EVPPI."""
    u = cfg.uncertainty
    draws, curves, information = analysis.table, analysis.curve, analysis.information
    answers, parts = [], []
    for arm in arms:
        headline = cases[arm]
        if headline.get("p_cost_saving") is None:
            continue
        answers.append(_uncertain_answer(headline))
        part = draws[draws["arm"] == arm]
        mine = information[information["arm"] == arm]
        figures = _uncertainty_figures(arm, headline["baseline"], part, curves[curves["arm"] == arm], mine)
        rows = "".join(
            f"<tr><td><code>{html.escape(r.input)}</code></td><td>{_gbp(r.evppi_gbp)}</td>"
            f"<td>{_gbp(r.npv_at_p05_gbp)} to {_gbp(r.npv_at_p95_gbp)}</td></tr>"
            for r in mine.head(TOP_INPUTS).itertuples()
        )
        images = "".join(
            f"<figure><img alt='{name} {html.escape(arm)}' src='{uri}'></figure>" for name, uri in figures.items()
        )
        parts.append(
            f"<h3>{html.escape(system_name(arm))}: how sure is the saving?</h3>{images}"
            f"<table><tr><th>Input</th><th>Value of knowing it exactly (EVPPI)</th>"
            f"<th>Net saving across its 90% range</th></tr>{rows}</table>"
        )
    draws_n = int(draws["draw"].nunique())
    return f"""<h2>How sure is the saving? The answer with the inputs' own uncertainty</h2>
{"".join(answers)}
<p>From {draws_n} draws: each draw takes every uncertain input from its distribution once (docs/parameters.md lists
each with its source) and runs both systems on it with {u.replicates_per_draw} paired replicate(s), so the spread
includes doubt about the inputs as well as simulation noise. The acceptability curve gives the chance that the change
is worth it when the council also values an admission avoided at the price on the horizontal axis. The value of
information (at {_gbp(u.willingness_to_pay_gbp)} per admission avoided) is what knowing an input exactly before
deciding would be worth to this team: a local study that costs less than it is worth doing; one input's value cannot
exceed the value of knowing everything (EVPI).</p>
{"".join(parts)}"""


def _pilot_section(cases: dict[str, dict]) -> str:
    """The model's return and council share of every arm beside the pilot's published figures."""
    arms = list(cases)
    head = "".join(f"<th>This model: {html.escape(system_name(arm))}</th>" for arm in arms)
    roi = "".join(f"<td>{_per_gbp(cases[arm]['roi_per_gbp'])}</td>" for arm in arms)
    shares = "".join(
        f"<td>{_num(s * 100 if (s := cases[arm]['council_share_of_savings']) is not None else None, 0)}%</td>"
        for arm in arms
    )
    return (
        "<h2>Beside the pilot</h2>"
        f"<table><tr><th></th>{head}<th>Pilot (published)</th></tr>"
        f"<tr><td>£ saved per £1 invested</td>{roi}<td>£{PILOT_ROI_PER_GBP:.2f}</td></tr>"
        f"<tr><td>Share of savings to councils</td>{shares}<td>{PILOT_COUNCIL_SHARE:.0%}</td></tr></table>"
        "<p>Why they differ: the pilot moved teams to named workers, and its £5.14 was an <i>anticipated</i> figure "
        "(practitioners judged, case by case, what would otherwise have happened, and unit costs were attached); its "
        "method was not published. The model counts only the mechanisms it simulates (admissions, delayed discharges, "
        "crises, placements, staffing), with paired replicates, so it can disagree. The pilot's councils bore most "
        "placement costs, which is why most of its savings fell to them; in the model, the council share depends on "
        "how much of the saving comes from placements and staffing (council) rather than beds and crisis teams "
        "(NHS).</p>"
    )


def _system_rows(cfg: Config, arms: list[str], skip: set[str]) -> tuple[str, str]:
    """Rows of what each system invests, and of the settings of each system with a config group of its own.

    Args:
        cfg: the run's config.
        arms: the systems, in the order shown.
        skip: settings (dotted keys) shown elsewhere.
    """
    invests, settings = [], []
    for arm in arms:
        system = SYSTEMS.get(arm)
        if system is None:
            continue
        fte, setup, day = system.investment(cfg)
        invests.append(
            f"<tr><td>{html.escape(system_name(arm))}</td><td>{html.escape(_label(arm))}</td><td>{fte:g}</td>"
            f"<td>{_gbp(setup)}</td><td>{day}</td></tr>"
        )
        section = getattr(cfg, arm, None)
        if isinstance(section, BaseModel):
            for field, info in type(section).model_fields.items():
                if f"{arm}.{field}" in skip:
                    continue
                value = getattr(section, field)
                shown = value.model_dump() if isinstance(value, BaseModel) else value
                settings.append(
                    f"<tr><td><code>{arm}.{field}</code></td><td>{html.escape(info.description or '')}</td>"
                    f"<td>{html.escape(str(shown))}</td></tr>"
                )
    return "".join(invests), "".join(settings)


def _shares_of_best(cases: dict[str, dict], arms: list[str]) -> str:
    """With several arms: how much of the largest saving each other arm gets (say, calls from a duty desk)."""
    savings = {arm: cases[arm].get("savings_gbp") for arm in arms}
    savings = {arm: value for arm, value in savings.items() if value is not None and np.isfinite(value)}
    if len(savings) < 2:
        return ""
    best = max(savings, key=lambda arm: savings[arm])
    if not savings[best] > 0:
        return ""
    others = [
        f"{html.escape(_in_sentence(arm))} gets {savings[arm] / savings[best]:.0%} of it"
        for arm in arms
        if arm != best and arm in savings
    ]
    return (
        f"\n<p id='shares-of-best'>Of the largest saving, that of {html.escape(_in_sentence(best))} "
        f"({_gbp(savings[best])}), {'; '.join(others)} (gross savings before each arm's own investment).</p>"
    )


def render(
    case: dict,
    per_replicate: pd.DataFrame,
    by_year: pd.DataFrame,
    results: Results,
    cfg: Config,
    pilot: bool,
    uncertainty: Analysis | None = None,
) -> str:
    """The report as one HTML page with its figures embedded.

    Args:
        case: ``business_case.json``: ``{"baseline": name, "arms": {arm: headline}}``.
        per_replicate: the per-replicate business case of every arm (an ``arm`` column).
        by_year: the yearly path of every arm (an ``arm`` column; may be empty).
        results: the run's tables (for the outcome tables).
        cfg: the run's config.
        pilot: set the pilot's published figures beside the model's.
        uncertainty: the uncertainty analysis, if one ran (the page then leads with it).
    """
    baseline = case["baseline"]
    cases: dict[str, dict] = case["arms"]
    arms = [arm for arm in cfg.arms if arm in cases] + [arm for arm in cases if arm not in cfg.arms]
    uncertain = uncertainty is not None and not uncertainty.table.empty
    if arms:
        answers = "\n".join(_answer(cases[arm]) for arm in arms) + _shares_of_best(cases, arms)
        if uncertain:
            answers = (
                _uncertainty_section(cases, arms, uncertainty, cfg) + "<h2>At the configured inputs</h2>" + answers
            )
        pairs = max(cases[arm]["n_pairs"] for arm in arms)
        sections = "\n".join(
            _arm_section(
                cases[arm],
                per_replicate[per_replicate["arm"] == arm],
                by_year[by_year["arm"] == arm] if not by_year.empty else by_year,
                results,
                cfg,
            )
            for arm in arms
        )
        contents = "".join(
            f"<li><a href='#arm-{html.escape(arm)}'>{html.escape(system_name(arm))} against "
            f"{html.escape(_in_sentence(baseline))}</a></li>"
            for arm in arms
        )
        names = [_in_sentence(arm) for arm in arms]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        title = f"The business case for this team: {listed} against {_in_sentence(baseline)}"
    else:
        answers = f"<p class='answer'>Only {html.escape(system_name(baseline))} ran: there is nothing to compare.</p>"
        pairs, sections, contents = 0, "", ""
        title = "The business case for this team"
    investments, settings = _system_rows(cfg, [baseline, *arms], skip={key for key, _ in KEY_ASSUMPTIONS})
    assumptions = "".join(
        f"<tr><td><code>{key}</code></td><td>{html.escape(label)}</td><td>{_lookup(cfg, key)}</td></tr>"
        for key, label in KEY_ASSUMPTIONS
    )
    inputs = html.escape(json.dumps(cfg.model_dump(), indent=1, default=str))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.answer {{ font-size: 1.2rem; }} table {{ border-collapse: collapse; margin: 0.5rem 0 1rem; }}
td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }} img {{ max-width: 100%; }}
section.arm {{ border-top: 2px solid #999; margin-top: 2rem; }}
.transition, .note {{ background: #f3f3f3; padding: 0.5rem; }}
pre {{ background: #f6f6f6; padding: 0.5rem; font-size: 0.75rem; max-height: 20rem; overflow: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<section class="answers">
{answers}
</section>
<p>From {pairs} paired replicates: every system ran on the same simulated people and life events, so each
difference against {html.escape(_in_sentence(baseline))} is paired. Intervals show simulation noise for these
inputs, not doubt about the inputs ({
        "the section above gives the answer with the inputs' own uncertainty"
        if uncertain
        else "run <code>uv run nwsim experiment=uncertainty</code> for the answer with the inputs' own uncertainty"
    }).</p>
<ul class="contents">{contents}</ul>
{sections}
{_pilot_section({arm: cases[arm] for arm in arms}) if pilot and arms else ""}
<h2>What each system invests</h2>
<table><tr><th>System</th><th>What it is</th><th>Extra social-worker FTE</th><th>Set-up</th>
<th>From measured day</th></tr>{investments}</table>
<h2>The assumptions that matter most</h2>
<table><tr><th>Key</th><th>What</th><th>Value used</th></tr>{assumptions}{settings}</table>
<p>The investment of a system is its extra staff (funded whether or not the posts are filled) plus its one-off
set-up, less the baseline's. Savings are the baseline's cost minus the system's, line by line; cashable savings
free money in a budget, costs avoided (beds, crisis teams) are capacity used by others. Every value, its unit and
source is listed in <code>docs/parameters.md</code>.</p>
<h2>Inputs used</h2>
<pre>{inputs}</pre>
</body></html>
"""


# Command -------------------------------------------------------------------------------------


def load_run(run_dir: Path) -> tuple[Results, Config]:
    """A finished run's tables and validated config (its arms and baseline), read back from its folder.

    The tables are checked against the run's ``job.json`` (sizes and checksums), and the config is the one the
    run recorded there, not ``.hydra/config.yaml`` (which a later run in the same folder rewrites). The files
    this command rebuilds (the business case and the page) need not be there.

    Raises:
        FileNotFoundError: ``run_dir`` is not a folder.
        ResultError: the folder holds no finished run, or one of its tables was cut or changed since (named).
        ValueError: the run lacks the baseline or any other arm to compare with it.
        ConfigError: the recorded config no longer validates.
    """
    from sim.compose import validate_config
    from sim.jobs import ResultError, read_record, verified_job
    from sim.runner import compare

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a finished run folder (there is no such folder)")
    try:
        record = read_record(run_dir)
    except ResultError as exc:
        raise ResultError(f"{run_dir} is not a finished run folder: {exc}") from None
    tables = ["runs.parquet", "timeseries.parquet"]
    config = record.get("config")
    if not isinstance(config, dict):
        raise ResultError(f"{run_dir / 'job.json'} records no config: {run_dir} is not a finished run of one team")
    cfg = validate_config(config)
    try:
        runs = pd.read_parquet(run_dir / tables[0])
        ran = list(dict.fromkeys(runs["arm"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ResultError(f"cannot read {run_dir / tables[0]} ({exc})") from None
    if cfg.baseline not in ran or len(ran) < 2:
        raise ValueError(
            f"{run_dir} ran only {', '.join(ran)}: a business case needs the baseline ({cfg.baseline}) "
            "and at least one other arm"
        )
    verified_job(run_dir, tables)
    return Results(runs, pd.read_parquet(run_dir / tables[1]), compare(runs, cfg.baseline)), cfg


def load_draws(run_dir: Path) -> pd.DataFrame | None:
    """The per-draw table of a run's uncertainty analysis, checked against its ``job.json`` (None if it ran none).

    Raises:
        ResultError: the table was cut or changed since the run wrote it.
    """
    from sim.jobs import read_record, verified_job
    from sim.uncertainty import TABLE

    name = f"{TABLE}.parquet"
    if name not in read_record(Path(run_dir)).get("files", {}):
        return None
    verified_job(Path(run_dir), [name])
    return pd.read_parquet(Path(run_dir) / name)


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-report RUN_DIR``: rebuild business_case.json/.csv and report.html from a run's tables."""
    from sim.jobs import AggregationError, record_files

    parser = argparse.ArgumentParser(prog="nwsim-report", description=main.__doc__)
    parser.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-01-31/12-00-00")
    parser.add_argument("--pilot", action="store_true", help="set the pilot's published return beside the model's")
    args = parser.parse_args(argv)
    try:
        results, cfg = load_run(args.run_dir)
    except (FileNotFoundError, ValueError, ConfigError, AggregationError) as exc:
        print(f"nwsim-report: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        draws = load_draws(args.run_dir)
    except AggregationError as exc:
        print(f"nwsim-report: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        analysis = analyse(draws, cfg) if draws is not None else None
        written = write_business_case(results, cfg, args.run_dir, pilot=args.pilot or None, uncertainty=analysis)
        record_files(args.run_dir, written)  # the rebuilt files are the run's own again
    except (OSError, AggregationError) as exc:
        print(f"nwsim-report: cannot write the business case in {args.run_dir}: {exc}", file=sys.stderr)
        sys.exit(1)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
