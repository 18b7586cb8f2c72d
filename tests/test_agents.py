"""People and workers are real Mesa agents whose attributes read the model's arrays."""

from __future__ import annotations

import numpy as np

from sim.agents import Person, Worker
from sim.model import StaffingModel
from tests.conftest import make_config


def test_agents_are_views_onto_the_arrays() -> None:
    model = StaffingModel(make_config("team.people=150", "horizon_years=1", "warmup_years=0"), "named", 0)
    model.run_for(200)
    people = model.agents_by_type[Person]
    workers = model.agents_by_type[Worker]
    assert len(people) == 150
    assert len(workers) == int((model.staff.holder >= 0).sum())
    high = people.select(lambda p: p.need == "high")
    assert len(high) == int((model.people.need == 2).sum())
    by_need = people.groupby("need")
    assert sum(len(group) for _, group in by_need) == 150
    person = next(p for p in people if len(p.contacts()) >= 2)
    assert set(person.contacts().columns) >= {"day", "worker", "kind", "hours", "wait"}
    assert person.named_worker is not None
    assert person in person.named_worker.people()
    known = person.familiarity()
    assert person.named_worker.row in known
    assert all(0 <= level <= 1 for level in known.values())
    model.people.risk[person.row] = 0.42
    assert person.risk == 0.42
    worker = person.named_worker
    assert worker.caseload == len(worker.people())
    assert worker.tenure_days == model.day - model.staff.start_day[worker.row]


def test_leavers_are_removed_from_the_model() -> None:
    model = StaffingModel(
        make_config("team.people=150", "horizon_years=2", "warmup_years=0", "workforce.turnover_per_year=3"), "duty", 0
    ).run()
    rows_in_post = set(model.staff.holder[model.staff.holder >= 0].tolist())
    assert {w.row for w in model.agents_by_type[Worker]} == rows_in_post
    assert model.series()["leavers"].sum() > 5
    assert np.all(model.staff.end_day[: model.staff.n][[r not in rows_in_post for r in range(model.staff.n)]] >= 0)
