"""Invariants under random valid configs: conservation, no negatives, caps, ledger arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.costs import COST_LINES
from sim.metrics import summarise
from sim.model import SERIES, StaffingModel
from sim.population import INPATIENT, NO_ONE, SOCIAL_WORKER
from tests.conftest import make_config

frac = st.floats(0, 1, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def configs(draw: st.DrawFn) -> list[str]:
    """Overrides for a random but valid small team (short horizon, every mechanism in play)."""
    return [
        f"team.people={draw(st.integers(20, 300))}",
        f"team.caseload_per_worker={draw(st.floats(5, 60)):.2f}",
        f"team.advanced_practitioners={draw(st.integers(0, 3))}",
        f"named.caseload_cap={draw(st.integers(5, 60))}",
        f"named.extra_fte={draw(st.floats(0, 3)):.2f}",
        f"named.max_wait_days={draw(st.integers(0, 10))}",
        f"named.proactive_checkins={draw(st.booleans())}",
        f"duty.workers_per_day={draw(st.integers(1, 6))}",
        f"workforce.turnover_per_year={draw(st.floats(0, 3)):.3f}",
        f"workforce.stress_turnover_gain={draw(st.floats(0, 10)):.3f}",
        f"workforce.absence_frac={draw(st.floats(0, 0.6)):.3f}",
        f"workforce.recruitment_lag_days={draw(st.integers(1, 400))}",
        f"workforce.agency_cover_frac={draw(frac)}",
        f"workforce.casework_hours_per_day={draw(st.floats(0.2, 8)):.2f}",
        f"crisis.base_per_year={draw(st.floats(0, 3)):.3f}",
        f"crisis.p_admission={draw(frac)}",
        f"crisis.p_breakdown={draw(frac)}",
        f"hospital.stay_mean_days={draw(st.integers(1, 600))}",
        f"hospital.initial_admission_hazard_per_year={draw(st.floats(0, 0.2)):.3f}",
        f"assessment.p_error={draw(frac)}",
        f"assessment.p_restrictive_given_error={draw(frac)}",
        f"effects.retell_extra_frac={draw(st.floats(0, 2)):.3f}",
        f"effects.named_retention={draw(frac)}",
        f"effects.advocacy_admission_reduction={draw(frac)}",
        f"effects.call_confidence_gain={draw(st.floats(0, 3)):.3f}",
        f"seed={draw(st.integers(0, 2**31))}",
        "horizon_years=1",
        "warmup_years=0.25",
    ]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs(), arm=st.sampled_from(["duty", "named"]))
def test_invariants_hold_for_any_valid_config(overrides: list[str], arm: str) -> None:
    cfg = make_config(*overrides)
    model = StaffingModel(cfg, arm, 0)
    people, staff = model.people, model.staff
    inpatients_at_start = int(np.count_nonzero(people.setting == INPATIENT))
    model.run()
    series = model.series()

    # People are conserved across settings, and every admission ends in a discharge or is still open.
    assert np.isin(people.setting, [0, 1, 2]).all()
    stock = int(np.count_nonzero(people.setting == INPATIENT))
    assert inpatients_at_start + series["admissions"].sum() == series["discharges"].sum() + stock
    assert (series["bed_days"] + series["emergency_days"] + series["restrictive_days"] <= people.n).all()
    assert (people.setting_until[people.setting != 0] >= model.day).all()

    # No negative hours, counts or stocks.
    assert (series[list(SERIES)].to_numpy() >= -1e-9).all()
    log = model.contact_log()
    assert (log["hours"] > 0).all()
    assert (log["wait"] >= 0).all()
    assert (staff.debt[: staff.n] >= 0).all()
    assert ((people.risk >= 0) & (people.risk <= 1)).all()
    assert ((people.fam_level >= 0) & (people.fam_level <= 1)).all()

    # No worker above the caseload cap; caseloads match who holds whom; only workers in post hold people.
    rows = staff.in_post()
    assert (staff.caseload[rows] <= np.floor(cfg.named.caseload_cap * staff.fte[rows] + 1e-9)).all()
    held = people.named_worker[people.named_worker != NO_ONE]
    assert np.isin(held, rows).all()
    counts = np.bincount(held, minlength=staff.n)[: staff.n]
    assert np.array_equal(counts[rows], staff.caseload[rows])
    if arm == "duty":
        assert held.size == 0
    else:
        assert (staff.post_role[staff.post[np.unique(held)]] == SOCIAL_WORKER).all()

    # Ledger totals equal the sum of the lines, and of the payers.
    row = summarise(model)
    lines = sum(row[f"cost_{line}_gbp"] for line in COST_LINES)
    assert row["cost_total_gbp"] == pytest.approx(lines)
    assert row["cost_council_gbp"] + row["cost_nhs_gbp"] == pytest.approx(lines)
    assert all(row[f"cost_{line}_gbp"] >= 0 for line in COST_LINES)
