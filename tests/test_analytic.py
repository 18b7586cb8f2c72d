"""Analytic checks with feedbacks switched off: what goes in at a rate comes out at that rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.metrics import continuity, summarise
from sim.model import StaffingModel
from sim.params import Effects
from tests.conftest import make_config

NO_EFFECTS = tuple(
    f"effects.{key}=0"
    for key in Effects.model_fields  # every effect, including ones added later
)
NOBODY_LEAVES_THE_COMMUNITY = (
    "crisis.p_admission=0",
    "crisis.p_breakdown=0",
    "assessment.p_error=0",
    "hospital.initial_admission_hazard_per_year=0",
)


@pytest.mark.slow
def test_measured_turnover_equals_the_hazard() -> None:
    rate = 0.3
    cfg = make_config(
        "team.people=3000",
        "horizon_years=10",
        "warmup_years=0",
        "workforce.stress_turnover_gain=0",
        f"workforce.turnover_per_year={rate}",
        *NO_EFFECTS,
    )
    model = StaffingModel(cfg, "duty", 0).run()
    series = model.series()
    worker_years = series["headcount"].sum() / 365
    leavers = series["leavers"].sum()
    expected = rate * worker_years
    assert abs(leavers - expected) < 4 * math.sqrt(expected), (leavers, expected)
    assert summarise(model)["turnover_per_year"] == pytest.approx(rate, rel=4 / math.sqrt(expected))


def test_crisis_rate_equals_the_configured_rate_at_fixed_risk() -> None:
    base, per_risk = 0.4, 0.6
    cfg = make_config(
        "team.people=1000",
        "horizon_years=4",
        "warmup_years=0",
        "team.initial_risk_max=0.5",
        "life.risk_drift_per_year.low=0",
        "life.risk_drift_per_year.moderate=0",
        "life.risk_drift_per_year.high=0",
        "life.events_per_year=0",
        "contacts.risk_reduction=0",
        "crisis.risk_after_frac=1",
        f"crisis.base_per_year={base}",
        f"crisis.risk_per_year={per_risk}",
        *NOBODY_LEAVES_THE_COMMUNITY,
    )
    model = StaffingModel(cfg, "duty", 0)
    risk = model.people.risk.copy()
    model.run()
    assert np.array_equal(model.people.risk, risk)  # risk really stayed fixed
    expected = (base + per_risk * risk).sum() * cfg.horizon_years
    crises = model.series()["crises"].sum()
    assert abs(crises - expected) < 4 * math.sqrt(expected), (crises, expected)


def test_stays_follow_the_configured_log_normal() -> None:
    mean, sigma = 400.0, 0.8
    cfg = make_config(
        "team.people=2000",
        "horizon_years=2",
        "warmup_years=0",
        "crisis.base_per_year=3",
        "crisis.p_admission=1",
        f"hospital.stay_mean_days={mean}",
        f"hospital.stay_sigma={sigma}",
    )
    model = StaffingModel(cfg, "duty", 0).run()
    stays = np.concatenate(model.stays).astype(float)
    assert stays.size > 1000
    mu = math.log(mean) - sigma**2 / 2
    # Stays are whole days; compare on the log scale where rounding by half a day is negligible.
    result = stats.kstest(np.log(stays[stays > 20]), stats.norm(mu, sigma).cdf)
    assert result.pvalue > 0.001 or result.statistic < 0.03
    assert stays.mean() == pytest.approx(mean, rel=0.08)


def test_named_workers_give_perfect_continuity_without_turnover_absence_or_pressure() -> None:
    cfg = make_config(
        "team.people=300",
        "horizon_years=2",
        "warmup_years=0",
        "workforce.turnover_per_year=0",
        "workforce.absence_frac=0",
        "workforce.casework_hours_per_day=24",
        "arms=[named]",
    )
    model = StaffingModel(cfg, "named", 0).run()
    log = model.contact_log()
    table = continuity(log["person"].to_numpy(), log["worker"].to_numpy(), model.people.n)
    indexed = table[table["n_contacts"] >= 2]
    assert len(indexed) > 250
    assert (indexed["upc"] == 1).all()
    assert (indexed["secon"] == 1).all()


def test_duty_distinct_workers_match_uniform_assignment_over_the_rota() -> None:
    workers = 5
    cfg = make_config(
        "team.people=500",
        f"team.caseload_per_worker={500 / workers}",
        "team.advanced_practitioners=0",
        f"duty.workers_per_day={workers}",
        "horizon_years=3",
        "warmup_years=0",
        "workforce.turnover_per_year=0",
        "workforce.absence_frac=0",
        "workforce.casework_hours_per_day=24",
        "crisis.base_per_year=0",
        "crisis.risk_per_year=0",
        "arms=[duty]",
    )
    model = StaffingModel(cfg, "duty", 0).run()
    log = model.contact_log()
    table = continuity(log["person"].to_numpy(), log["worker"].to_numpy(), model.people.n)
    checked = 0
    for n, group in table.groupby("n_contacts"):
        if n < 2 or len(group) < 30:
            continue
        expected = workers * (1 - (1 - 1 / workers) ** n)
        # Variance of the number of distinct workers seen in n uniform draws from W.
        p1, p2 = (1 - 1 / workers) ** n, (1 - 2 / workers) ** n
        var = workers * p1 * (1 - p1) + workers * (workers - 1) * (p2 - p1**2)
        se = math.sqrt(var / len(group))
        assert abs(group["distinct_workers"].mean() - expected) < 4 * se, (
            n,
            group["distinct_workers"].mean(),
            expected,
        )
        checked += 1
    assert checked >= 4


def test_the_inpatient_census_matches_fixed_stays_in_steady_state() -> None:
    # Every stay lasts exactly `stay` days and none is delayed: on any census day the time so far is uniform
    # on 0..stay, so a share (stay - 730) / stay has been in over 2 years and the mean so far is stay / 2.
    stay = 1000
    cfg = make_config(
        "team.people=4000",
        "horizon_years=4",
        "warmup_years=0",
        f"hospital.stay_mean_days={stay}",
        "hospital.stay_sigma=0",
        "hospital.p_delayed_discharge=0",
        "hospital.readmission_multiplier=1",
        "hospital.readmission_crisis_multiplier=1",
        "crisis.base_per_year=0.2",
        "crisis.risk_per_year=0",
        "crisis.p_admission=0.05",
        "hospital.initial_admission_hazard_per_year=0.01",
        *NO_EFFECTS,
        "arms=[duty]",
    )
    row = summarise(StaffingModel(cfg, "duty", 0).run())
    assert row["census_share_over_2_years"] == pytest.approx((stay - 730) / stay, abs=0.05)
    assert row["census_share_over_10_years"] == 0
    assert row["census_mean_stay_years"] * 365 == pytest.approx(stay / 2, rel=0.1)
    assert row["delayed_share_of_inpatients"] == 0
    # Little's law: mean inpatients / admissions a year = the stay, once the stock is in steady state.
    assert row["stay_per_admission_years"] * 365 == pytest.approx(stay, rel=0.15)
