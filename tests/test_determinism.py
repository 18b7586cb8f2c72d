"""Determinism and common random numbers."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model import StaffingModel
from sim.runner import run_arms, run_experiment, run_one, run_teams
from sim.streams import Streams
from tests.conftest import SMALL, make_config

EVERYONE_STAYS_HOME = (
    "crisis.p_admission=0",
    "crisis.p_breakdown=0",
    "assessment.p_error=0",
    "hospital.initial_admission_hazard_per_year=0",
)


def test_same_seed_same_tables_other_seed_different() -> None:
    first = run_experiment(make_config(*SMALL), progress=False)
    again = run_experiment(make_config(*SMALL, "jobs=2"), progress=False)  # the pool must not change a number
    pd.testing.assert_frame_equal(first.runs, again.runs)
    pd.testing.assert_frame_equal(first.timeseries, again.timeseries)
    other = run_experiment(make_config(*SMALL, "seed=7"), progress=False)
    assert not first.runs["admissions_per_100_person_years"].equals(other.runs["admissions_per_100_person_years"])
    assert not np.allclose(first.runs["upc"], other.runs["upc"])


class _Cycle:
    """An object that refers to itself, so only the garbage collector frees it."""


@pytest.mark.parametrize("jobs", [1, 2])
def test_pools_of_runs_leave_the_garbage_collector_as_they_found_it(jobs: int, tmp_path: Path) -> None:
    # Runs freeze what exists (gc.freeze) to keep their collections short; garbage that was old when they froze
    # it must still be collected once they are done, and nothing may stay frozen.
    garbage = _Cycle()
    garbage.me = garbage
    held = [garbage]
    gc.collect()  # the cycle, still referred to, is now among the oldest objects
    dead = weakref.ref(garbage)
    del garbage, held
    run_experiment(make_config(*SMALL, f"jobs={jobs}"), progress=False)
    teams = ["experiment=england", "teams.count=2", "teams.total_people=200", "teams.min_people=50"]
    run_teams(make_config(*teams, "horizon_years=0.5", "warmup_years=0.1", "replicates=1"), tmp_path, jobs, False)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dead() is None


def test_arms_run_side_by_side_on_shared_streams_give_each_arm_s_own_results() -> None:
    # People arrive and leave (their own streams), so blocks and per-event columns of every kind are shared.
    cfg = make_config(*SMALL, "population.caseload_turnover_per_year=1", "arms=[duty,named,hybrid]")
    together = run_arms(cfg, cfg.arms, 1)
    for arm, (row, month) in zip(cfg.arms, together, strict=True):
        alone_row, alone_month = run_one(cfg, arm, 1)
        pd.testing.assert_series_equal(pd.Series(row), pd.Series(alone_row))  # NaN where a metric has no cases
        pd.testing.assert_frame_equal(month, alone_month)


def test_a_run_leaves_no_model_or_streams_behind() -> None:
    # run_many freezes what a run leaves (gc.freeze): anything still referred to would be kept for good.
    before = [o for o in gc.get_objects() if isinstance(o, Streams | StaffingModel)]  # other tests' fixtures
    run_arms(make_config(*SMALL), ("duty", "named"), 0)
    known = {id(o) for o in before}
    left = [o for o in gc.get_objects() if isinstance(o, Streams | StaffingModel) and id(o) not in known]
    assert not left


def test_a_model_notices_when_another_on_its_streams_has_drawn_over_its_year() -> None:
    cfg = make_config(*SMALL)
    streams = Streams(cfg.seed, 0)
    first, second = StaffingModel(cfg, "duty", 0, streams), StaffingModel(cfg, "named", 0, streams)
    for _ in range(10):
        second.step()  # ten days into the first year, whose random numbers it keeps
    first.run()  # draws the later years over the arrays the second's first year was read from
    second.run()
    assert np.array_equal(second.daily, StaffingModel(cfg, "named", 0).run().daily)
    assert np.array_equal(first.daily, StaffingModel(cfg, "duty", 0).run().daily)
    with pytest.raises(ValueError, match="replicate 0 given to a model of seed"):
        StaffingModel(cfg, "duty", 1, streams)


def test_replicates_differ() -> None:
    runs = run_experiment(make_config(*SMALL), progress=False).runs
    duty = runs[runs["arm"] == "duty"]
    assert duty["contacts_per_person_year"].nunique() == len(duty)


def test_both_arms_see_the_same_life_events_and_crisis_draws() -> None:
    cfg = make_config("team.people=300", "horizon_years=2", "warmup_years=0")
    duty, named = StaffingModel(cfg, "duty", 3).run(), StaffingModel(cfg, "named", 3).run()
    assert len(duty.life_events) == len(named.life_events) == duty.total_days
    for day_duty, day_named in zip(duty.life_events, named.life_events, strict=True):
        assert np.array_equal(day_duty, day_named)
    for day in (0, 100, 400, duty.total_days - 1):
        assert np.array_equal(duty._u_crisis.row(day), named._u_crisis.row(day))
        assert np.array_equal(duty._u_call.row(day), named._u_call.row(day))
    assert np.array_equal(duty.people.need, named.people.need)
    assert np.array_equal(duty.people.communication, named.people.communication)


def test_with_risk_free_crises_both_arms_have_crises_on_the_same_days_for_the_same_people() -> None:
    # Crisis hazard independent of risk and everyone at home: the paired draws must give identical crises,
    # although the arms differ in everything else (contacts, workers, check-ins).
    cfg = make_config(
        "team.people=300",
        "horizon_years=2",
        "warmup_years=0",
        "crisis.risk_per_year=0",
        "crisis.base_per_year=0.5",
        *EVERYONE_STAYS_HOME,
    )
    duty, named = StaffingModel(cfg, "duty", 1).run(), StaffingModel(cfg, "named", 1).run()
    assert duty.series()["crises"].sum() > 100
    assert np.array_equal(duty.series()["crises"], named.series()["crises"])
    assert np.array_equal(duty.people.n_crises, named.people.n_crises)
    assert not np.array_equal(duty.series()["contacts"], named.series()["contacts"])


def test_daily_blocks_drawn_into_one_array_are_the_numbers_of_fresh_streams() -> None:
    # A stream refills one array block after block (and back again); every block must be what a fresh stream
    # draws for it, with and without the arrivals' own columns.
    for extra in (0, 3):
        reused = Streams(5, 2).daily("demand/call", 7, block_days=4, extra=extra)
        first = reused.block(0)
        for index in (1, 2, 0, 2):
            fresh = Streams(5, 2).daily("demand/call", 7, block_days=4, extra=extra).block(index).copy()
            block = reused.block(index)
            assert block is first  # the same memory, refilled
            assert block.shape == (4, 7 + extra)
            assert not block.flags.writeable
            assert np.array_equal(block, fresh)
        assert not np.array_equal(
            Streams(5, 2).daily("demand/call", 7, 4).block(1), Streams(5, 2).daily("demand/call", 7, 4).block(0)
        )


def test_per_event_columns_added_during_a_run_are_those_drawn_from_scratch() -> None:
    # Absence spells outrun their first block of per-event columns within the run; only that stream is drawn
    # again, and every stream's columns must equal those a fresh model draws for the same number of blocks.
    cfg = make_config("team.people=100", "horizon_years=3", "warmup_years=0", "workforce.absence_spell_mean_days=1")
    model = StaffingModel(cfg, "named", 4).run()
    assert model._event_blocks["workforce/absence_spell"] > 1
    fresh = StaffingModel(cfg, "named", 4)
    fresh._event_blocks = dict(model._event_blocks)
    drawn = fresh._event_columns()
    assert drawn.keys() == model._columns.keys()
    for field, column in model._columns.items():
        assert np.array_equal(column, drawn[field]), field
