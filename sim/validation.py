"""Validation: the duty baseline and a pilot-like scenario set against published figures (``nwsim-validate``).

Each published figure is one of three kinds, and the table says which:

- **input**: the model is given this figure (or a value derived from it) directly; reproducing it checks
  the code and the feedbacks on top of it, not the model;
- **calibration**: a parameter was derived or tuned so that the model reaches it; agreement is by
  construction, disagreement shows the model's structure cannot reach it;
- **validation**: no parameter was set from it; agreement is evidence that the model behaves like the
  system, disagreement is a finding.

A simulated figure *agrees* when its mean over replicates lies in the published range; for a single
published number, when that number lies in the simulated 95% interval.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.costs import mean_ci
from sim.jobs import JOB_FILE, AggregationError, run_code, run_nwsim, verified_job, write_atomic

ROLES = ("input", "calibration", "validation")
#: Bootstrap resamples for intervals of ratios of means.
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Target:
    """A published figure and the simulated metric it is set against."""

    metric: str  # a runs.csv column (baseline) or a business_case.csv column (pilot)
    label: str
    low: float
    high: float
    role: str  # one of ROLES
    parameters: str  # the config values set from it ("" for validation targets)
    source: str
    scenario: str = "baseline"  # "baseline" (duty arm), "pilot" (paired, business case) or "turnover" (a pattern)


#: Staff turnover rates (per year) of the turnover pattern's two paired runs (experiments/validation_turnover.yaml).
LOW_TURNOVER, HIGH_TURNOVER = 0.05, 0.35

#: Published figures (sources.md, by section). Their numbers are measurements of England, not model inputs.
TARGETS = (
    Target(
        "turnover_per_year", "Social worker turnover (leavers per head per year)", 0.136, 0.16, "input",
        "workforce.turnover_per_year",
        "Skills for Care via Community Care, 2022 and 2017: 13.6% (2019/20) to 16% (2016), adults' services (§2.1)",
    ),
    Target(
        "vacancy_frac", "Vacancy rate (share of posts without a permanent holder)", 0.075, 0.11, "calibration",
        "workforce.recruitment_lag_days",
        "Community Care 2022 and 2024 (Skills for Care): 7.5% (2020) to 10.5% (2023), 11% (2016) (§2.1)",
    ),
    Target(
        "agency_frac", "Agency share of posts", 0.09, 0.10, "calibration", "workforce.agency_cover_frac",
        "Community Care, Feb 2024: agency social workers 9% (2022) to 10% (2023) of adults' services (§2.1)",
    ),
    Target(
        "first_admissions_per_100_person_years", "First hospital admissions per 100 person-years", 0.3, 0.5,
        "calibration", "crisis.p_admission",
        "derived: NHS Digital Assuring Transformation, 40-60 first admissions a month / ~154,000 adults with a "
        "learning disability supported by councils (§4.4; an upper bound, most inpatients are autistic)",
    ),
    Target(
        "readmission_share", "Readmissions within a year (share of admissions)", 0.21, 0.26, "calibration",
        "hospital.readmission_multiplier, hospital.readmission_crisis_multiplier",
        "NHS Digital Assuring Transformation: 15 of 70 admissions (Apr 2022), 30 of 115 (May 2025) (§4.1, §4.4)",
    ),
    Target(
        "census_share_over_2_years", "Inpatients in hospital over 2 years (share on a census day)", 0.50, 0.62,
        "calibration", "hospital.stay_sigma",
        "NHS Digital Assuring Transformation: 62% (May 2017), 57% (Apr 2022), half (May 2025) (§4.1)",
    ),
    Target(
        "stay_per_admission_years", "Stay per admission by Little's law (years)", 1.5, 3.1, "input",
        "hospital.stay_mean_days",
        "derived: AT inpatient stock 2,000-2,050 / admissions 55-115 a month (§4.4); simulated the same way: "
        "mean inpatients / admissions a year",
    ),
    Target(
        "census_share_over_10_years", "Inpatients in hospital over 10 years (share on a census day)", 0.06, 0.18,
        "validation", "",
        "HSCIC, Mar 2015: 6%; NHS Digital Assuring Transformation, Apr 2022: 18% (§4.1)",
    ),
    Target(
        "census_mean_stay_years", "Inpatients' mean time in hospital so far (years, census)", 4.6, 5.4,
        "validation", "",
        "Challenging Behaviour Foundation on NHS data, Nov 2019: 5.4; The Independent, Mar 2024: 4.9 (1,771 days); "
        "Aug 2025: 4.6 (§4.1)",
    ),
    Target(
        "inpatients_per_1000_people", "Inpatients per 1,000 adults supported", 9.0, 13.0, "validation", "",
        "derived: AT stock 2,000-2,050 / 154,300 adults with a learning disability supported by councils = 13 per "
        "1,000; 1,390 inpatients with a learning disability (Apr 2021) = 9 per 1,000 (§4.1, §4.3)",
    ),
    Target(
        "delayed_share_of_inpatients", "Inpatients whose discharge is delayed (share)", 0.06, 0.064, "validation", "",
        "Challenging Behaviour Foundation on NHS data, Nov 2019: 140 of 2,190 (6.4%); MHSDS, Jan 2022: 6% (§4.1)",
    ),
    Target(
        "roi_per_gbp", "Return per £1 invested, pilot-like scenario", 5.14, 5.14, "validation", "",
        "Named social worker pilot, SCIE and Innovation Unit via BASW 2025: £5.14 anticipated per £1, method "
        "unpublished [S] (§0, §1)",
        scenario="pilot",
    ),
    Target(
        "admissions_advantage_shrink",
        "Named workers' admissions advantage shrinks as staff turnover rises: change in named - duty admissions per "
        f"100 person-years from turnover {LOW_TURNOVER:g} to {HIGH_TURNOVER:g} a year",
        0.0, math.inf, "validation", "",
        "the seeds: Worcestershire's team, the model 'may not work in services for older people due to the higher "
        "turnover' (sources.md §1); a direction (above 0: the advantage shrinks), no size",
        scenario="turnover",
    ),
    Target(
        "council_share_of_savings", "Council's share of the savings, pilot-like scenario", 0.89, 0.89, "validation",
        "", "Named social worker pilot via BASW 2025: 89% of savings to councils [S] (§1)", scenario="pilot",
    ),
)  # fmt: skip


def ratio_of_means_ci(
    numerator: np.ndarray, denominator: np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """sum(numerator) / sum(denominator) with a bootstrap interval over replicates (pairs resampled together)."""
    from sim.streams import Streams

    ratio = float(numerator.sum() / denominator.sum())
    rng = Streams(0, 0).generator("validation/bootstrap")
    picks = rng.integers(0, numerator.size, size=(BOOTSTRAP, numerator.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = numerator[picks].sum(axis=1) / denominator[picks].sum(axis=1)
    low, high = np.nanquantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return ratio, float(low), float(high)


def turnover_shrink(low: pd.DataFrame, high: pd.DataFrame) -> np.ndarray:
    """Per replicate: (named - duty admissions at high turnover) - (the same at low turnover); above 0, it shrinks."""

    def advantage(runs: pd.DataFrame) -> pd.Series:
        wide = runs.pivot(index="replicate", columns="arm", values="admissions_per_100_person_years")
        return wide["named"] - wide["duty"]

    both = advantage(high).to_frame("high").join(advantage(low).to_frame("low"), how="inner")
    return (both["high"] - both["low"]).to_numpy(dtype=float)


def _simulated(
    target: Target, baseline: pd.DataFrame, pilot: pd.DataFrame, turnover: np.ndarray | None = None
) -> tuple[float, float, float, int]:
    """Mean, 95% interval and replicates of a target's metric: duty arm of the baseline, the pilot, or a pattern."""
    if target.scenario == "turnover":
        values = turnover if turnover is not None else np.array([])
        return (*mean_ci(values), int(np.isfinite(values).sum()))
    if target.scenario == "pilot":
        if target.metric == "council_share_of_savings":  # a share of the mean savings, as the pilot reports it
            council, total = (pilot[c].to_numpy(dtype=float) for c in ("savings_council_gbp", "savings_gbp"))
            return (*ratio_of_means_ci(council, total), len(pilot))
        values = pilot[target.metric].to_numpy(dtype=float)
    else:
        values = baseline.loc[baseline["arm"] == "duty", target.metric].to_numpy(dtype=float)
    return (*mean_ci(values), int(np.isfinite(values).sum()))


def validation_table(
    baseline: pd.DataFrame, pilot: pd.DataFrame | None, turnover: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per published figure: its range, source and role, the simulated mean and 95% interval, agreement.

    Args:
        baseline: runs.csv of the duty baseline (``experiments/validation.yaml``).
        pilot: business_case.csv of the pilot-like scenario (``experiments/pilot.yaml``), or None to leave
            its rows out.
        turnover: ``turnover_shrink`` of the two turnover runs (``experiments/validation_turnover.yaml``), or
            None to leave the pattern out.
    """
    rows = []
    for target in TARGETS:
        if (target.scenario == "pilot" and pilot is None) or (target.scenario == "turnover" and turnover is None):
            continue
        mean, low, high, n = _simulated(target, baseline, pilot if pilot is not None else pd.DataFrame(), turnover)
        if target.scenario == "turnover":  # a direction: the pattern shows when the whole interval is above 0
            agrees = bool(np.isfinite(low) and low > target.low)
        elif target.low == target.high:
            agrees = bool(np.isfinite(low) and low <= target.low <= high)
        else:
            agrees = bool(target.low <= mean <= target.high)
        rows.append(
            {
                "quantity": target.label,
                "metric": target.metric,
                "scenario": target.scenario,
                "role": target.role,
                "parameters": target.parameters,
                "published_low": target.low,
                "published_high": target.high,
                "simulated_mean": mean,
                "simulated_ci_low": low,
                "simulated_ci_high": high,
                "n": n,
                "agrees": agrees,
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)


def _number(value: float, zeros: bool = False) -> str:
    """Three significant figures (no exponent); ``zeros`` keeps trailing ones (13.0, not 13) for simulated values."""
    if not np.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:#.3g}" if zeros else f"{float(f'{value:.3g}'):g}"


def _published(row: pd.Series) -> str:
    if not np.isfinite(row.published_high):
        return f"above {_number(row.published_low)}"
    if row.published_low == row.published_high:
        return _number(row.published_low)
    return f"{_number(row.published_low)} - {_number(row.published_high)}"


def _simulated_text(row: pd.Series) -> str:
    if np.isfinite(row.simulated_ci_low):
        low, high = _number(row.simulated_ci_low, zeros=True), _number(row.simulated_ci_high, zeros=True)
        return f"{_number(row.simulated_mean, zeros=True)} ({low} - {high})"
    return _number(row.simulated_mean, zeros=True)


def render_markdown(table: pd.DataFrame, note: str, pilot_case: dict | None = None) -> str:
    """docs/validation.md: inputs and calibration checks apart from validation targets, each with its source.

    Args:
        table: ``validation_table``'s result.
        note: how and when the page was made.
        pilot_case: the pilot-like run's business_case.json, to say where its return comes from.
    """
    out = [
        "# Validation against published figures",
        "",
        note,
        "",
        "The duty baseline (the default team under the duty system, `experiments/validation.yaml`) and a",
        "pilot-like scenario (`experiments/pilot.yaml`, both arms) are set against published figures for",
        "England. Each figure is of one kind, and they are kept apart:",
        "",
        "- **input**: the model is given this figure (or a value derived from it) directly; agreement checks",
        "  the code and the feedbacks on top of it, not the model;",
        "- **calibration**: a parameter was derived or tuned so the model reaches the figure; agreement is by",
        "  construction, disagreement means the model's structure cannot reach it;",
        "- **validation**: no parameter was set from the figure; agreement is evidence, disagreement a finding.",
        "",
        "*Agrees*: the simulated mean over replicates lies in the published range (for a single published",
        "number: that number lies in the simulated 95% interval). Intervals are 95% t intervals over",
        "replicates: they measure simulation noise at these inputs, not uncertainty in the inputs (that is",
        "[sensitivity.md](sensitivity.md)). Sections refer to `sources.md`, which holds each figure's caveats.",
        "",
    ]
    for role, title in (
        ("input", "Inputs (checks of the code)"),
        ("calibration", "Calibration targets (checks of the calibration)"),
        ("validation", "Validation targets (evidence)"),
    ):
        part = table[table["role"] == role]
        if part.empty:
            continue
        out += [
            f"## {title}",
            "",
            "| quantity | published | simulated (95% CI) | agrees | set from it | source |",
            "|---|---|---|---|---|---|",
        ]
        for _, row in part.iterrows():
            params = ", ".join(f"`{p.strip()}`" for p in row.parameters.split(",")) if row.parameters else "nothing"
            out.append(
                f"| {row.quantity} | {_published(row)} | {_simulated_text(row)} | {'yes' if row.agrees else '**no**'} "
                f"| {params} | {row.source} |"
            )
        out.append("")
    out += NOT_VALIDATED
    misses = table[~table["agrees"]]
    out += ["## Where the model disagrees", ""]
    if misses.empty:
        out += ["Every figure agrees.", ""]
    for _, row in misses.iterrows():
        direction = "above" if row.simulated_mean > row.published_high else "below"
        if not np.isfinite(row.published_high):
            direction = "with an interval that is not wholly"
        why = EXPLANATIONS.get(row.metric, "")
        if row.metric == "roi_per_gbp" and pilot_case:
            why = _pilot_arithmetic(pilot_case) + " " + why
        out.append(
            f"- **{row.quantity}** ({row.role}): simulated {_number(row.simulated_mean, zeros=True)}, {direction} the "
            "published "
            f"{_published(row)}. {why}".rstrip()
        )
    return "\n".join(out) + "\n"


def _pilot_arithmetic(case: dict) -> str:
    """Where the pilot-like run's return comes from, in money: savings, investment and the biggest line."""
    lines = case.get("savings_by_line_gbp") or {}
    biggest = max(lines, key=lambda k: lines[k] or 0.0) if lines else None
    text = (
        f"Over {case['horizon_years']:g} years the named arm saves £{case['savings_gbp']:,.0f} (present value) "
        f"against an investment of £{case['investment_gbp']:,.0f} (£{case['investment_extra_staff_gbp']:,.0f} of "
        f"extra staff and £{case['investment_setup_gbp']:,.0f} of set-up)"
    )
    if biggest:
        text += f", most of it on {biggest.replace('_', ' ')} (£{lines[biggest]:,.0f})"
    return (
        text + ": one extra social worker for a group of this size buys more care than its few admissions can "
        "repay in two years."
    )


#: Outputs with no published figure to set them against, and why (docs/ODD.md 7.1a).
NOT_VALIDATED = [
    "## Not validated: caseload flows",
    "",
    "`runs.csv` reports caseload turnover a year (exits over the mean caseload), the mean length of",
    "involvement of those who left, and the waits from referral to a first contact and to a named worker.",
    "None is in the table above: `sources.md` holds no published caseload turnover, length of involvement or",
    'referral rate for a council learning-disability team (its teams describe themselves only as "relatively',
    "static\", §1), nor for the older people's and mental-health presets, whose flows are assumptions",
    "(docs/parameters.md). The default team is static, so its turnover is 0 by construction and it has no",
    "leavers whose involvement could be measured.",
    "",
]

#: What a disagreement on each figure means and where it comes from (shown only for figures that disagree).
EXPLANATIONS = {
    "census_share_over_2_years": (
        "A single log-normal stay with the derived mean of 840 days reaches about 0.49 at sigma 1.3; a heavier tail "
        "would push the census mean stay past the published 4.6-5.4 years. Real stays look like a mixture (many short "
        "assessment stays, a long-stay group), which one log-normal cannot copy."
    ),
    "census_share_over_10_years": (
        "The share over 10 years rises with the stay's tail (`hospital.stay_sigma`); the published figures moved from "
        "6% to 18% between 2015 and 2022 as long-stay patients stayed while short stays were discharged."
    ),
    "census_mean_stay_years": (
        "The census mean stay is dominated by the longest stays, so it moves with `hospital.stay_sigma` more than any "
        "other figure."
    ),
    "delayed_share_of_inpatients": (
        "`hospital.p_delayed_discharge` (0.3) and `hospital.delay_mean_days` (120) are assumptions with no published "
        "source; they delay about 0.3 x 120 / (840 + 36) = 4% of bed days. Raising either would bring the share to the "
        "published 6% and raise the value of discharge coordination in the named arm."
    ),
    "inpatients_per_1000_people": (
        "About 70% of inpatients are autistic and many are not supported by council learning-disability teams, so "
        "the national figures overstate the stock of a council team's own people; the lower end is closer."
    ),
    "agency_frac": "Agency workers start after `workforce.agency_start_lag_days` and leave faster, so posts wait.",
    "readmission_share": (
        "Readmission depends on how many discharged people have a crisis in the year after discharge; it is "
        "calibrated with the two readmission multipliers."
    ),
    "roi_per_gbp": (
        "The pilot's figure was an anticipated saving, judged case by case by practitioners with unit costs attached "
        "(its method was not published, sources.md §0), most likely for people chosen because they were at risk of "
        "admission or already in hospital (the pilot's aim), and it may count the whole cost of each stay avoided; "
        "the model's is a paired simulation of 35 people with the default needs mix, counting only costs within "
        "the horizon. The model may disagree: this is the comparison, not a target."
    ),
    "admissions_advantage_shrink": (
        "In the model the named arm's admissions advantage comes mostly from proactive contact (check-ins) and from "
        "what a known worker adds to a contact; turnover erodes only the second (familiarity is lost with a leaver, "
        "the check-ins go on with the next worker), so the advantage moves little with turnover. See the README's "
        "'Is it the named worker or the phone call?' for the three-way split with duty_calls."
    ),
    "council_share_of_savings": (
        "The model's council share depends on which cost lines the named arm saves on: placements and staff fall "
        "to the council, beds and crisis responses to the NHS (`costs.payer`)."
    ),
}


def main(argv: list[str] | None = None) -> None:
    """Console script ``nwsim-validate``: run the validation and pilot experiments (resumable); write validation.md."""
    parser = argparse.ArgumentParser(prog="nwsim-validate", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("outputs/validation"), help="folder of the two runs")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where validation.md goes")
    parser.add_argument("--skip-run", action="store_true", help="only rebuild the table from finished runs")
    parser.add_argument("overrides", nargs="*", help="nwsim overrides for both runs, e.g. replicates=40")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if not args.skip_run:
        run_nwsim(["experiment=validation", f"hydra.run.dir={out / 'baseline'}", *args.overrides])
        run_nwsim(["experiment=pilot", f"hydra.run.dir={out / 'pilot'}", *args.overrides])
        for rate in (LOW_TURNOVER, HIGH_TURNOVER):
            run_nwsim(
                [
                    "experiment=validation_turnover",
                    f"workforce.turnover_per_year={rate}",
                    f"hydra.run.dir={out / f'turnover_{rate}'}",
                    *args.overrides,
                ]
            )
    try:
        check_runs(out)
        baseline = pd.read_csv(out / "baseline" / "runs.csv")
        pilot_case, arm = pilot_headline(out / "pilot" / "business_case.json")
        pilot = pd.read_csv(out / "pilot" / "business_case.csv")
        pilot = pilot[pilot["arm"] == arm]
    except (OSError, ValueError, KeyError, AggregationError) as exc:
        print(f"nwsim-validate: cannot read the runs ({exc}); run without --skip-run", file=sys.stderr)
        sys.exit(1)
    turnover = None
    low_dir, high_dir = (out / f"turnover_{rate}" for rate in (LOW_TURNOVER, HIGH_TURNOVER))
    if (low_dir / "runs.csv").exists() and (high_dir / "runs.csv").exists():
        turnover = turnover_shrink(pd.read_csv(low_dir / "runs.csv"), pd.read_csv(high_dir / "runs.csv"))
    table = validation_table(baseline, pilot, turnover)
    note = _note(out, baseline)
    written = [out / "validation.csv", args.docs / "validation.md"]
    write_atomic(written[0], lambda p: table.to_csv(p, index=False))
    write_atomic(written[1], lambda p: p.write_text(render_markdown(table, note, pilot_case)))
    print(table[["quantity", "role", "published_low", "published_high", "simulated_mean", "agrees"]].to_string())
    for path in written:
        print(path)


def check_runs(out: Path) -> None:
    """Check the finished runs under ``out`` against their ``job.json``: the baseline and the pilot, and any other.

    Raises:
        AggregationError: a run has not finished, or one of its files was cut or changed since it did (named).
    """
    for run in ("baseline", "pilot"):
        verified_job(out / run)
    for folder in sorted(path for path in out.iterdir() if path.is_dir() and path.name not in ("baseline", "pilot")):
        if (folder / "runs.csv").exists() or (folder / JOB_FILE).exists():
            verified_job(folder)


def pilot_headline(path: Path) -> tuple[dict, str]:
    """The pilot-like run's business case of its one compared arm (named against duty), and that arm's name."""
    case = json.loads(Path(path).read_text())
    arms = case["arms"]
    if len(arms) != 1:
        raise ValueError(f"{path}: the pilot-like run must compare one arm with its baseline (it compares {len(arms)})")
    arm = next(iter(arms))
    return arms[arm], arm


def _note(out: Path, baseline: pd.DataFrame) -> str:
    record, _ = pilot_headline(out / "pilot" / "business_case.json")
    return (
        f"Made by `uv run nwsim-validate` on {time.strftime('%Y-%m-%d')} (model code {run_code(out / 'baseline')}): "
        "the duty baseline "
        f"with {baseline['replicate'].nunique()} replicates of the default team, and the pilot-like scenario with "
        f"{record['n_pairs']} paired replicates over {record['horizon_years']:g} years. "
        "Rerun it to regenerate this page."
    )


if __name__ == "__main__":
    main()
