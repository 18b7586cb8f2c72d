"""Staffing systems: each system's rules, the exact equalities between systems, and a plug-in added at run time.

A new system copies the parametrised checks here (add its name to ``SYSTEM_CASES``) and adds its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import continuity, monthly, summarise
from sim.model import StaffingModel
from sim.population import CRISIS, NO_ONE, SOCIAL_WORKER
from sim.runner import compare, run_experiment
from sim.staffing import SYSTEMS, DutySystem, register
from tests.conftest import make_config

SMALL = ("team.people=150", "horizon_years=1.5", "warmup_years=0.25", "seed=5")
#: Every registered system with overrides that make it do its own thing within a short run.
SYSTEM_CASES = {
    "duty": (),
    "named": (),
    "hybrid": ("hybrid.named_needs=[high]",),
    "switch": ("switch.day=120", "switch.allocation_weeks=6"),
    "duty_calls": (),
}


def run(arm: str, *overrides: str, replicate: int = 0) -> StaffingModel:
    return StaffingModel(make_config(*SMALL, *overrides), arm, replicate).run()


def identical(a: StaffingModel, b: StaffingModel) -> None:
    """Same runs.csv row (but the arm's name), same monthly series, same contact log."""
    row_a, row_b = summarise(a), summarise(b)
    row_a.pop("arm"), row_b.pop("arm")
    pd.testing.assert_series_equal(pd.Series(row_a), pd.Series(row_b))
    pd.testing.assert_frame_equal(monthly(a).drop(columns="arm"), monthly(b).drop(columns="arm"))
    pd.testing.assert_frame_equal(a.contact_log(), b.contact_log())


def test_every_registered_system_has_a_case_here() -> None:
    assert set(SYSTEM_CASES) <= set(SYSTEMS)
    assert {"duty", "named", "hybrid", "switch", "duty_calls"} <= set(SYSTEM_CASES)


# Exact equalities -------------------------------------------------------------------------------


def test_hybrid_with_every_need_level_is_the_named_system_exactly() -> None:
    identical(run("hybrid", "hybrid.named_needs=[low,moderate,high]"), run("named"))


def test_hybrid_with_no_need_level_is_duty_exactly() -> None:
    identical(run("hybrid", "hybrid.named_needs=[]"), run("duty"))


def test_switch_after_the_horizon_is_duty_exactly() -> None:
    identical(run("switch", "switch.day=70000"), run("duty"))


def test_switch_on_the_first_day_at_once_matches_named_continuity() -> None:
    # Everyone moves on the first day of the warm-up: the same people are held as in the named arm.
    switched = run("switch", "warmup_years=0", "switch.day=0", "switch.allocation_weeks=0")
    named = run("named", "warmup_years=0")
    assert summarise(switched)["upc"] == pytest.approx(summarise(named)["upc"], abs=0.05)
    assert summarise(switched)["checkins_per_person_year"] > 0


# Rules of each system ---------------------------------------------------------------------------


@pytest.mark.parametrize("arm", sorted(SYSTEM_CASES))
def test_contacts_only_by_workers_in_post_and_caseloads_under_the_cap(arm: str) -> None:
    model = run(arm, *SYSTEM_CASES[arm])
    log = model.contact_log()
    staff = model.staff
    assert len(log) > 0
    start = staff.start_day[log["worker"]]
    end = staff.end_day[log["worker"]]
    assert (start <= log["day"]).all()
    assert ((end == NO_ONE) | (log["day"] <= end)).all()
    cap = np.floor(model.cfg.named.caseload_cap * staff.fte[: staff.n] + 1e-9)
    assert (staff.caseload[: staff.n] <= cap).all()
    held = model.people.named_worker[model.people.named_worker >= 0]
    assert (staff.end_day[held] == NO_ONE).all(), "someone is held by a leaver"
    assert np.array_equal(np.bincount(held, minlength=staff.n), staff.caseload[: staff.n])
    assert (staff.hours_left[: staff.n] >= -model.cfg.contacts.hours.crisis * 50).all()


@pytest.mark.parametrize("arm", sorted(SYSTEM_CASES))
def test_every_crisis_is_met_by_a_present_worker(arm: str) -> None:
    model = StaffingModel(make_config(*SMALL, *SYSTEM_CASES[arm], "crisis.base_per_year=2"), arm, 0)
    absent = []  # (day, worker) of every worker absent that day
    while model.running:
        t, staff = model.day, model.staff
        absent += [(t, int(w)) for w in np.flatnonzero(staff.absent_until[: staff.n] > t)]
        model.step()
    log = model.contact_log()
    crises = log[log["kind"] == CRISIS]
    assert len(crises) > 50
    assert len(crises) <= model.series()["crises"].sum()
    staff = model.staff
    met = crises["worker"].to_numpy()
    day = crises["day"].to_numpy()
    assert (staff.start_day[met] <= day).all()
    assert ((staff.end_day[met] == NO_ONE) | (staff.end_day[met] >= day)).all()
    assert not set(zip(day.tolist(), met.tolist(), strict=True)) & set(absent), "a crisis met by an absent worker"


def test_named_people_see_their_own_worker_and_duty_people_the_desk() -> None:
    hybrid, duty = run("hybrid", "hybrid.named_needs=[high]"), run("duty")

    def upc_by_group(model: StaffingModel) -> tuple[float, float]:
        log = model.contact_log()
        cont = continuity(log["person"].to_numpy(), log["worker"].to_numpy(), model.people.n)
        high = model.people.need == 2
        return float(cont["upc"][high].mean()), float(cont["upc"][~high].mean())

    (hybrid_high, hybrid_rest), (duty_high, duty_rest) = upc_by_group(hybrid), upc_by_group(duty)
    assert hybrid_high > duty_high + 0.2  # high need: a worker of their own
    assert hybrid_rest == pytest.approx(duty_rest, abs=0.1)  # the rest: the desk, as under duty
    assert (hybrid.people.named_worker[hybrid.people.need != 2] == NO_ONE).all()
    assert (hybrid.people.named_worker[hybrid.people.need == 2] >= 0).mean() > 0.9


def test_switch_moves_people_highest_need_first_over_the_allocation_weeks() -> None:
    cfg = make_config(*SMALL, "switch.day=60", "switch.allocation_weeks=4")
    model = StaffingModel(cfg, "switch", 0)
    switch_day = cfg.warmup_days + 60
    model.run_until(switch_day)
    assert (model.people.named_worker == NO_ONE).all()
    assert model.system.pending() == 0
    model.run_until(switch_day + 7)
    moved = model.system.named_people
    assert 0 < moved.sum() < model.people.n
    assert model.people.need[moved].min() >= model.people.need[~moved].max()
    model.run_until(switch_day + 4 * 7 + 1)
    assert model.system.named_people.all()
    assert (model.people.named_worker >= 0).mean() > 0.9
    # The extra posts open on the switch day, not before.
    extra = model.staff.post_open_day > 0
    assert extra.any()
    assert (model.staff.post_open_day[extra] == switch_day).all()
    assert (model.staff.start_day[model.staff.holder[extra]] == switch_day).all()


def test_extra_posts_and_investment_follow_each_system() -> None:
    cfg = make_config(*SMALL, "named.extra_fte=2", "hybrid.named_needs=[high]")
    share = cfg.team.need_mix.high
    assert SYSTEMS["duty"].extra_fte(cfg) == 0
    assert SYSTEMS["named"].extra_fte(cfg) == 2
    assert SYSTEMS["hybrid"].extra_fte(cfg) == pytest.approx(2 * share)
    assert SYSTEMS["switch"].investment(cfg)[2] == cfg.switch.day
    sw = (StaffingModel(cfg, "named", 0).staff.post_role == SOCIAL_WORKER).sum()
    assert sw == (StaffingModel(cfg, "duty", 0).staff.post_role == SOCIAL_WORKER).sum() + 2


def test_more_named_need_levels_raise_continuity() -> None:
    upc = [
        summarise(run("hybrid", f"hybrid.named_needs={levels}"))["upc"]
        for levels in ("[]", "[high]", "[low,moderate,high]")
    ]
    assert upc[0] < upc[1] < upc[2]


# A system added at run time -------------------------------------------------------------------


class BigDeskSystem(DutySystem):
    """A toy: the duty desk with twice the rota."""

    name = "big_desk"
    label = "Duty desk with twice the rota (a test system)"

    def desk_rota(self) -> int:
        return 2 * self.cfg.duty.workers_per_day


@pytest.fixture
def big_desk() -> object:
    register(BigDeskSystem)
    yield BigDeskSystem
    del SYSTEMS["big_desk"]


@pytest.mark.usefixtures("big_desk")
def test_a_system_registered_at_run_time_runs_end_to_end() -> None:
    cfg = make_config(
        "team.people=120",
        "horizon_years=1",
        "warmup_years=0.25",
        "replicates=2",
        "jobs=1",
        "arms=[duty,named,big_desk]",
    )
    results = run_experiment(cfg, progress=False)
    assert set(results.runs["arm"]) == {"duty", "named", "big_desk"}
    assert set(results.comparison["arm"]) == {"named", "big_desk"}
    assert (results.comparison["baseline"] == "duty").all()
    desk = results.comparison.set_index(["arm", "metric"]).loc[("big_desk", "upc")]
    assert desk["arm_mean"] != desk["baseline_mean"]


def test_comparison_is_long_with_one_row_per_arm_and_metric() -> None:
    runs = pd.DataFrame(
        {
            "arm": ["a", "b", "c"] * 2,
            "replicate": [0, 0, 0, 1, 1, 1],
            "seed": 1,
            "x": [1.0, 2.0, 4.0, 1.0, 3.0, 5.0],
        }
    )
    table = compare(runs, baseline="a")
    assert list(table["arm"]) == ["b", "c"]
    assert table.set_index("arm").loc["b", "diff_mean"] == pytest.approx(1.5)
    assert table.set_index("arm").loc["c", "diff_mean"] == pytest.approx(3.5)
    assert (table["n_pairs"] == 2).all()
    other = compare(runs, baseline="c")
    assert list(other["arm"]) == ["a", "b"]
    assert other.set_index("arm").loc["a", "diff_mean"] == pytest.approx(-3.5)
