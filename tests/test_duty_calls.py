"""The duty_calls system: the duty desk plus welfare calls at the named cadence, from the rota's spare hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import monthly, summarise
from sim.model import StaffingModel
from sim.population import CHECKIN, CRISIS
from tests.conftest import make_config

SMALL = ("team.people=150", "horizon_years=1.5", "warmup_years=0.25", "seed=5")
#: Feedbacks off and no other demand: nobody is admitted or placed, no reactive calls, no reviews in the horizon.
QUIET = (
    "contacts.reactive_per_year.low=0",
    "contacts.reactive_per_year.moderate=0",
    "contacts.reactive_per_year.high=0",
    "contacts.review_interval_days=3650",
    "crisis.base_per_year=0",
    "crisis.risk_per_year=0",
    "hospital.initial_admission_hazard_per_year=0",
    "workforce.turnover_per_year=0",
    "workforce.absence_frac=0",
)


def test_with_calls_off_it_is_duty_exactly() -> None:
    calls_off = StaffingModel(make_config(*SMALL, "duty_calls.proactive_calls=false"), "duty_calls", 0).run()
    duty = StaffingModel(make_config(*SMALL), "duty", 0).run()
    row_a, row_b = summarise(calls_off), summarise(duty)
    row_a.pop("arm"), row_b.pop("arm")
    pd.testing.assert_series_equal(pd.Series(row_a), pd.Series(row_b))
    pd.testing.assert_frame_equal(monthly(calls_off).drop(columns="arm"), monthly(duty).drop(columns="arm"))
    pd.testing.assert_frame_equal(calls_off.contact_log(), duty.contact_log())


@pytest.mark.parametrize("callers", ["team", "desk"])
def test_calls_come_only_from_spare_hours_of_the_callers(callers: str) -> None:
    # A stretched team (caseload 30): some days it has room for calls, some days not.
    cfg = make_config(*SMALL, "team.caseload_per_worker=30", f"duty_calls.callers={callers}")
    model = StaffingModel(cfg, "duty_calls", 0)
    days = []
    while model.running:
        t, staff = model.day, model.staff
        pool = model.system.desk(t) if callers == "desk" else staff.present(t)
        # Each worker's casework hours today (as the day starts them): capacity less yesterday's over-run.
        hours = np.where(staff.absent_until <= t, cfg.workforce.casework_hours_per_day * staff.fte - staff.debt, 0.0)
        days.append((t, set(pool.tolist()), hours[: staff.n].copy()))
        model.step()
    log = model.contact_log()
    routine = log[log["kind"] != CRISIS].groupby(["day", "worker"])["hours"].sum()
    calls = log[log["kind"] == CHECKIN]
    assert len(calls), "no call was made"
    by_day = calls.groupby("day")["worker"].apply(set)
    for t, pool, hours in days:
        for worker in by_day.get(t, set()):
            assert worker in pool, f"day {t}: a call by worker {worker}, who is not a caller today"
            assert routine[(t, worker)] <= hours[worker] + 1e-9, f"day {t}: a call ran over worker {worker}'s hours"
    assert summarise(model)["checkins_per_person_year"] < 4.5  # no more than the cadence asks for


def test_calls_keep_the_configured_cadence_when_capacity_allows() -> None:
    cfg = make_config(*SMALL, *QUIET, "team.caseload_per_worker=10")
    model = StaffingModel(cfg, "duty_calls", 0).run()
    log = model.contact_log()
    calls = log[(log["kind"] == CHECKIN) & (log["day"] >= cfg.warmup_days)]
    years = cfg.horizon_days / 365
    rates = cfg.named.checkins_per_year.as_tuple()
    for level, rate in enumerate(rates):
        people = np.flatnonzero(model.people.need == level)
        expected = 365 / np.ceil(365 / rate)  # one call every ceil(interval) days
        observed = np.isin(calls["person"], people).sum() / (people.size * years)
        assert observed == pytest.approx(expected, rel=0.08), (level, observed, expected)


def test_duty_calls_and_named_schedule_the_same_first_calls() -> None:
    # Both draw each person's first proactive contact from the same stream (common random numbers).
    cfg = make_config(*SMALL)
    calls, named = StaffingModel(cfg, "duty_calls", 0), StaffingModel(cfg, "named", 0)
    assert np.array_equal(calls.people.next_checkin, named.people.next_checkin)
    assert len(np.unique(calls.people.next_checkin)) > 30


def test_a_known_worker_notices_more_risk() -> None:
    # The detection effect only ever helps the arm whose workers know people: with it, named - duty_calls in
    # risk removed per contact grows. Measured as mean risk at the end of the run (feedbacks otherwise on).
    base = ("team.people=300", "horizon_years=2", "warmup_years=0.5", "seed=3")
    gap = []
    for loss in (0.0, 0.6):
        cfg = make_config(*base, f"effects.unfamiliar_detection_loss={loss}")
        risks = {arm: StaffingModel(cfg, arm, 0).run().people.risk.mean() for arm in ("duty_calls", "named")}
        gap.append(risks["duty_calls"] - risks["named"])
    assert gap[1] > gap[0]


def test_the_report_says_how_much_of_the_best_saving_calls_would_get() -> None:
    from sim.report import _shares_of_best

    cases = {"named": {"savings_gbp": 1_000_000.0}, "duty_calls": {"savings_gbp": 400_000.0}}
    line = _shares_of_best(cases, ["duty_calls", "named"])
    assert "40% of it" in line
    assert "1,000,000" in line
    assert _shares_of_best({"named": cases["named"]}, ["named"]) == ""
