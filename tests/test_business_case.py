"""The business case: ledger arithmetic by hand, discounting, ROI with and without investment, one case per
compared arm, investments that start on a later day, the change-over, and the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from sim.costs import (
    COST_LINES,
    business_case,
    daily_costs,
    discount_factors,
    ledger,
    paired_business_case,
    planned_investment,
)
from sim.report import system_name, write_business_case
from sim.runner import Results, compare, run_experiment
from sim.staffing import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent


def zero_series(days: int) -> dict[str, np.ndarray]:
    names = ("fte_sw", "fte_ap", "fte_agency", "hires", "bed_days", "delayed_days", "crises")
    return {name: np.zeros(days) for name in (*names, "emergency_days", "restrictive_days")}


def test_ledger_lines_match_hand_computed_costs() -> None:
    cfg = make_config("costs.discount_rate_per_year=0")
    c = cfg.costs
    series = zero_series(2)
    series["fte_sw"][:] = [10, 10]
    series["fte_agency"][:] = [1, 0]
    series["hires"][:] = [0, 1]
    series["bed_days"][:] = [3, 3]
    series["delayed_days"][:] = [1, 0]
    series["crises"][:] = [2, 0]
    series["emergency_days"][:] = [0, 4]
    totals = ledger(series, c)
    assert totals["cost_staff_gbp"] == pytest.approx(
        20 * c.social_worker_per_hour_gbp * c.paid_hours_per_fte_year / 365
    )
    assert totals["cost_agency_premium_gbp"] == pytest.approx(c.agency_premium_per_fte_year_gbp / 365)
    assert totals["cost_recruitment_gbp"] == pytest.approx(c.recruitment_per_hire_gbp)
    assert totals["cost_inpatient_gbp"] == pytest.approx(5 * c.inpatient_per_day_gbp)  # bed days less delayed ones
    assert totals["cost_delayed_discharge_gbp"] == pytest.approx(c.inpatient_per_day_gbp)
    assert totals["cost_crisis_response_gbp"] == pytest.approx(2 * c.crisis_response_gbp)
    assert totals["cost_emergency_placement_gbp"] == pytest.approx(4 * c.residential_per_day_gbp)
    assert totals["cost_council_gbp"] + totals["cost_nhs_gbp"] == pytest.approx(totals["cost_total_gbp"])
    assert totals["cost_nhs_gbp"] == pytest.approx(
        6 * c.inpatient_per_day_gbp + 2 * c.crisis_response_gbp
    )  # beds and crises are the NHS's


def test_discounting_follows_the_green_book_formula() -> None:
    factors = discount_factors(366, 0.035)
    assert factors[0] == 1.0
    assert factors[365] == pytest.approx(1 / 1.035)
    assert np.all(np.diff(factors) < 0)
    cfg = make_config()
    series = zero_series(730)
    series["crises"][365] = 1
    assert ledger(series, cfg.costs)["cost_crisis_response_gbp"] == pytest.approx(cfg.costs.crisis_response_gbp / 1.035)
    assert ledger(series, cfg.costs)["cost_total_undiscounted_gbp"] == pytest.approx(cfg.costs.crisis_response_gbp)
    assert daily_costs(series, cfg.costs).shape == (730, len(COST_LINES))


def fake_runs(
    duty_costs: dict[str, float],
    named_costs: dict[str, float],
    replicates: int = 3,
    arms: tuple[str, str] = ("duty", "named"),
) -> pd.DataFrame:
    """A runs table of two arms (the baseline first) with the given cost lines, a little spread over replicates."""
    rows = []
    for rep in range(replicates):
        for arm, costs in zip(arms, (duty_costs, named_costs), strict=True):
            row = {"arm": arm, "replicate": rep, "seed": 1}
            row.update({f"cost_{line}_gbp": costs.get(line, 0.0) * (1 + 0.1 * rep) for line in COST_LINES})
            rows.append(row)
    return pd.DataFrame(rows)


def test_roi_savings_and_shares_by_hand() -> None:
    cfg = make_config(
        "named.extra_fte=1", "costs.named_setup_gbp=10000", "horizon_years=1", "costs.discount_rate_per_year=0"
    )
    extra = cfg.costs.social_worker_per_hour_gbp * cfg.costs.paid_hours_per_fte_year
    assert planned_investment(cfg, 365) == (pytest.approx(extra), 10000)
    # Named: staff costs the extra FTE more; 100k fewer bed costs (NHS) and 30k fewer placements (council).
    duty = {"staff": 500_000, "inpatient": 200_000, "emergency_placement": 50_000}
    named = {"staff": 500_000 + extra, "inpatient": 100_000, "emergency_placement": 20_000}
    table = paired_business_case(fake_runs(duty, named, replicates=1), cfg)
    row = table.iloc[0]
    assert row["investment_gbp"] == pytest.approx(extra + 10000)
    assert row["saving_staff_gbp"] == pytest.approx(0)  # the investment is counted once, as the investment
    assert row["savings_gbp"] == pytest.approx(130_000)
    assert row["savings_council_gbp"] == pytest.approx(30_000)
    assert row["savings_nhs_gbp"] == pytest.approx(100_000)
    assert row["cashable_savings_gbp"] == pytest.approx(30_000)  # beds are costs avoided, placements cashable
    assert row["npv_gbp"] == pytest.approx(130_000 - extra - 10000)
    assert row["roi_per_gbp"] == pytest.approx(130_000 / (extra + 10000))


def test_no_investment_gives_no_roi_and_says_why() -> None:
    cfg = make_config("named.extra_fte=0", "costs.named_setup_gbp=0")
    runs = fake_runs({"inpatient": 100.0}, {"inpatient": 50.0})
    case, per_replicate, _ = business_case(runs, pd.DataFrame(), cfg)
    assert case["baseline"] == "duty"
    assert list(case["arms"]) == ["named"]
    assert (per_replicate["arm"] == "named").all()
    headline = case["arms"]["named"]
    assert (headline["arm"], headline["baseline"]) == ("named", "duty")
    assert headline["roi_per_gbp"] is None
    assert headline["roi_ci_low"] is None
    assert "undefined" in headline["roi_note"]
    assert headline["npv_gbp"] == pytest.approx(per_replicate["npv_gbp"].mean())
    assert per_replicate["roi_per_gbp"].isna().all()
    json.dumps(case, allow_nan=False)  # valid JSON: no NaN


def test_losses_give_no_payer_shares() -> None:
    cfg = make_config("named.extra_fte=0", "costs.named_setup_gbp=1000")
    case, _, _ = business_case(fake_runs({"inpatient": 50.0}, {"inpatient": 100.0}), pd.DataFrame(), cfg)
    headline = case["arms"]["named"]
    assert headline["savings_gbp"] < 0
    assert headline["council_share_of_savings"] is None
    assert "not positive" in headline["roi_note"]


#: A small run of three systems: one business case each for named and hybrid against duty.
THREE_ARMS = (
    "team.people=120",
    "horizon_years=1",
    "warmup_years=0.25",
    "replicates=2",
    "jobs=1",
    "arms=[duty,named,hybrid]",
)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    cfg = make_config(*THREE_ARMS)
    results = run_experiment(cfg, progress=False)
    out = tmp_path_factory.mktemp("run")
    write_business_case(results, cfg, out)
    return out, results


def test_yearly_path_ends_at_the_totals(small_run: tuple[Path, Results]) -> None:
    _, results = small_run
    _, per_replicate, by_year = business_case(results.runs, results.timeseries, make_config(*THREE_ARMS))
    assert set(by_year["arm"]) == {"named", "hybrid"}
    last = by_year[by_year["year"] == by_year["year"].max()].set_index(["arm", "replicate"]).sort_index()
    totals = per_replicate.set_index(["arm", "replicate"]).sort_index()
    assert np.allclose(last["npv_gbp"], totals["npv_gbp"], rtol=1e-6)
    assert np.allclose(last["investment_gbp"], totals["investment_gbp"], rtol=1e-9)


def _roi_text(value: float) -> str:
    return f"{'-' if value < 0 else ''}£{abs(value):.2f}"


def test_three_arms_give_a_case_for_each_arm_against_the_baseline(small_run: tuple[Path, Results]) -> None:
    out, _ = small_run
    case = json.loads((out / "business_case.json").read_text())
    assert case["baseline"] == "duty"
    assert set(case["arms"]) == {"named", "hybrid"}
    table = pd.read_csv(out / "business_case.csv")
    assert table.groupby("arm").size().to_dict() == {"named": 2, "hybrid": 2}  # one row per arm and replicate
    for arm, headline in case["arms"].items():
        assert (headline["arm"], headline["baseline"]) == (arm, "duty")
        for key in ("investment_gbp", "savings_gbp", "roi_per_gbp", "roi_ci_low", "roi_ci_high", "npv_gbp"):
            assert key in headline
        assert {"breakeven_year", "council_share_of_savings", "transition"} <= set(headline)
        assert headline["transition"]["start_month"] == 1
    # Hybrid gives named workers to some people only, so it invests less than named.
    assert 0 < case["arms"]["hybrid"]["investment_gbp"] < case["arms"]["named"]["investment_gbp"]


def test_the_report_answers_for_each_arm_and_embeds_its_figures(small_run: tuple[Path, Results]) -> None:
    out, _ = small_run
    case = json.loads((out / "business_case.json").read_text())
    page = (out / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,|src=\"data:image/png;base64,", page)) >= 6
    assert "src='http" not in page  # self-contained
    assert 'src="http' not in page
    answers = page[: page.index("</section>")]
    for arm, headline in case["arms"].items():
        assert f"id='answer-{arm}'" in answers  # a plain answer per arm, at the top
        assert f'id="arm-{arm}"' in page  # and a section of its own
        assert SYSTEMS[arm].label in page
        assert f"<b>{system_name(arm).lower()}</b>" in answers
        section = page[page.index(f'id="arm-{arm}"') :]
        section = section[: section.index("</section>")]
        assert f"{system_name(arm)} - duty" in section  # its outcomes beside the baseline's
        assert _roi_text(headline["roi_per_gbp"]) in page
        assert f"£{abs(headline['investment_gbp']):,.0f}" in section
        assert f"£{abs(headline['npv_gbp']):,.0f}" in section
        assert "class='transition'" not in section  # both start on the first measured day
    assert page.index("id='answer-named'") < page.index("id='answer-hybrid'")  # in the order of `arms`


def test_a_switch_over_invests_from_its_day() -> None:
    """Extra staff are paid from the switch day only, and the set-up is discounted to that day."""
    cfg = make_config("switch.day=100", "horizon_years=1", "named.extra_fte=1", "costs.named_setup_gbp=10000")
    c = cfg.costs
    per_day = c.social_worker_per_hour_gbp * c.paid_hours_per_fte_year / 365
    factors = discount_factors(365, c.discount_rate_per_year)
    staff, setup = planned_investment(cfg, 365, "switch", "duty")
    assert staff == pytest.approx(per_day * factors[100:].sum())
    assert setup == pytest.approx(10000 * (1 + c.discount_rate_per_year) ** (-100 / 365))
    named_staff, named_setup = planned_investment(cfg, 365, "named", "duty")
    assert named_staff == pytest.approx(per_day * factors.sum())  # named pays from the first day, in full
    assert named_setup == pytest.approx(10000)
    assert planned_investment(cfg, 100, "switch", "duty") == (0.0, 0.0)  # nothing is paid before the day


def test_a_switch_after_the_horizon_invests_nothing_and_the_report_says_so(tmp_path: Path) -> None:
    cfg = make_config("switch.day=1000", "horizon_years=1", "arms=[duty,switch]")
    runs = fake_runs({"inpatient": 100.0}, {"inpatient": 100.0}, arms=("duty", "switch"))
    case, per_replicate, _ = business_case(runs, pd.DataFrame(), cfg)
    headline = case["arms"]["switch"]
    assert headline["investment_gbp"] == 0
    assert headline["investment_setup_gbp"] == 0
    assert (per_replicate["investment_gbp"] == 0).all()
    assert headline["roi_per_gbp"] is None
    assert headline["transition"]["start_month"] > 12
    write_business_case(Results(runs, pd.DataFrame(), compare(runs, "duty")), cfg, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "needs no investment" in page
    assert "after the 1-year horizon" in page


def _change_over(months: int = 24, replicates: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and monthly series of duty and a switch-over in month 13: dearer for 3 months, then cheaper."""
    rows, series = [], []
    for rep in range(replicates):
        for arm in ("duty", "switch"):
            month = np.arange(1, months + 1)
            later = arm == "switch"
            admissions = np.where(later & (month >= 13), np.where(month <= 15, 3.0, 1.0), 2.0)
            cost = np.where(later & (month >= 13), np.where(month <= 15, 1500.0, 500.0), 1000.0) * (1 + 0.01 * rep)
            series.append(
                pd.DataFrame(
                    {"arm": arm, "replicate": rep, "month": month, "admissions": admissions, "cost_total_gbp": cost}
                )
            )
            row = {"arm": arm, "replicate": rep, "seed": 1}
            row.update({f"cost_{line}_gbp": 0.0 for line in COST_LINES})
            row["cost_inpatient_gbp"] = float(cost.sum())
            rows.append(row)
    return pd.DataFrame(rows), pd.concat(series, ignore_index=True)


def test_the_report_tells_when_a_later_start_pays_month_by_month(tmp_path: Path) -> None:
    cfg = make_config("switch.day=365", "horizon_years=2", "arms=[duty,switch]")
    runs, timeseries = _change_over()
    write_business_case(Results(runs, timeseries, compare(runs, "duty")), cfg, tmp_path)
    transition = json.loads((tmp_path / "business_case.json").read_text())["arms"]["switch"]["transition"]
    assert transition["start_month"] == 13
    assert transition["months_to_lower_admissions"] is not None
    assert transition["months_to_lower_cost"] is not None
    page = (tmp_path / "report.html").read_text()
    sentence = re.search(r"<p class='transition'>(.*?)</p>", page, re.S)
    assert sentence is not None
    text = sentence.group(1)
    assert "starts in month 13" in text
    for key, what in (("months_to_lower_admissions", "admissions"), ("months_to_lower_cost", "costs")):
        months = transition[key]
        assert (
            f"its {what} fall below duty desk's for good {months} months after the start (month {13 + months})" in text
        )
    assert f"The change-over costs £{transition['transition_cost_gbp']:,.0f}" in text


def test_nwsim_report_rebuilds_from_a_run_folder_and_fails_plainly(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-c", "from sim.cli import main; main()"]
    args = ["team.people=120", "replicates=2", "horizon_years=1", "warmup_years=0.2", "jobs=1", "arms=[duty,hybrid]"]
    assert subprocess.run([*command, *args, f"hydra.run.dir={run}"], cwd=tmp_path, capture_output=True).returncode == 0
    first = json.loads((run / "business_case.json").read_text())
    assert set(first["arms"]) == {"hybrid"}  # the arms the run had, read back from its .hydra/config.yaml
    (run / "report.html").unlink()
    (run / "business_case.json").unlink()
    report = [sys.executable, "-c", "from sim.report import main; main()"]
    done = subprocess.run([*report, str(run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "business_case.json").read_text()) == first
    assert (run / "report.html").exists()
    bad = subprocess.run([*report, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "not a finished run folder" in bad.stderr
    assert "Traceback" not in bad.stderr
    runs = pd.read_parquet(run / "runs.parquet")
    runs[runs["arm"] == "duty"].to_parquet(run / "runs.parquet")  # the baseline alone: nothing to compare
    alone = subprocess.run([*report, str(run)], capture_output=True, text=True)
    assert alone.returncode != 0
    assert "needs the baseline (duty) and at least one other arm" in alone.stderr
    assert "Traceback" not in alone.stderr


def test_a_managers_team_file_sets_team_workforce_investment_and_costs(tmp_path: Path) -> None:
    import shutil

    import yaml

    from sim.compose import compose

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf, symlinks=True)
    mine = yaml.safe_load((conf / "team" / "template.yaml").read_text())
    mine["team"]["people"] = 321
    mine["workforce"]["turnover_per_year"] = 0.31
    mine["named"]["extra_fte"] = 2.5
    mine["costs"]["named_setup_gbp"] = 1234
    (conf / "team" / "my_team.yaml").write_text("# @package _global_\n" + yaml.safe_dump(mine))
    cfg = compose(["team=my_team"], config_dir=conf)
    override = compose(["team=my_team", "named.extra_fte=3"], config_dir=conf)
    assert cfg.team.people == 321
    assert cfg.workforce.turnover_per_year == 0.31  # the team file wins over the group defaults
    assert cfg.named.extra_fte == 2.5
    assert cfg.costs.named_setup_gbp == 1234
    assert override.named.extra_fte == 3  # the command line still wins over the team file


def test_the_pilot_report_sets_the_model_beside_the_pilot(tmp_path: Path) -> None:
    cfg = make_config("experiment=pilot", "replicates=2", "horizon_years=0.5", "warmup_years=0.2", "jobs=1")
    assert cfg.team.people < 100
    assert cfg.named.extra_fte > 0
    results = run_experiment(cfg, progress=False)
    write_business_case(results, cfg, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "Beside the pilot" in page
    assert "5.14" in page
    assert "89%" in page
