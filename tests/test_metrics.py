"""Continuity indices against hand-worked examples, and the cost ledger's arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.costs import COST_LINES, daily_costs, discount_factors, ledger
from sim.metrics import continuity, rolling_upc, unique_pairs
from sim.model import SERIES
from tests.conftest import make_config


def test_continuity_of_a_worked_example() -> None:
    # Person 0 sees A, A, B, A; person 1 sees B once; person 2 sees A, B, C.
    persons = np.array([0, 2, 0, 1, 2, 0, 2, 0])
    workers = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    table = continuity(persons, workers, 3)
    first = table.loc[0]
    assert first.n_contacts == 4
    assert first.distinct_workers == 2
    assert first.upc == pytest.approx(3 / 4)
    assert first.coc == pytest.approx((3**2 + 1**2 - 4) / (4 * 3))
    assert first.secon == pytest.approx(1 / 3)  # pairs AA, AB, BA: one the same
    assert np.isnan(table.loc[1].upc)  # one contact: no index
    third = table.loc[2]
    assert (third.upc, third.coc, third.secon) == pytest.approx((1 / 3, 0.0, 0.0))


def test_rolling_upc_uses_the_past_twelve_months() -> None:
    # One person: worker 0 every month for a year, then worker 1 every month.
    days = np.arange(24) * 365 // 12 + 15  # mid-month
    log = pd.DataFrame({"person": 0, "worker": (np.arange(24) >= 12).astype(int), "day": days})
    month_of_day = (np.arange(2 * 365) * 12) // 365
    upc = rolling_upc(log, 0, month_of_day, 1)
    assert upc[0] != upc[0]  # one contact in the window: undefined
    assert upc[11] == pytest.approx(1.0)
    assert upc[17] == pytest.approx(6 / 12)
    assert upc[23] == pytest.approx(1.0)


def test_ledger_by_hand() -> None:
    costs = make_config().costs
    days = 730
    series = {name: np.zeros(days) for name in SERIES}
    series["fte_sw"][:] = 2.0
    series["bed_days"][:] = 1.0
    series["delayed_days"][:365] = 1.0
    series["hires"][400] = 1.0
    series["crises"][0] = 3.0
    out = ledger(series, costs)
    staff = 2.0 * costs.social_worker_per_hour_gbp * costs.paid_hours_per_fte_year / 365
    factors = (1 + costs.discount_rate_per_year) ** (-np.arange(days) / 365)
    assert out["cost_staff_gbp"] == pytest.approx(staff * factors.sum())
    assert out["cost_delayed_discharge_gbp"] == pytest.approx(costs.inpatient_per_day_gbp * factors[:365].sum())
    assert out["cost_inpatient_gbp"] == pytest.approx(costs.inpatient_per_day_gbp * factors[365:].sum())
    assert out["cost_recruitment_gbp"] == pytest.approx(costs.recruitment_per_hire_gbp * factors[400])
    assert out["cost_crisis_response_gbp"] == pytest.approx(3 * costs.crisis_response_gbp)
    lines = sum(out[f"cost_{line}_gbp"] for line in COST_LINES)
    assert out["cost_total_gbp"] == pytest.approx(lines)
    assert out["cost_council_gbp"] + out["cost_nhs_gbp"] == pytest.approx(lines)
    assert out["cost_total_undiscounted_gbp"] == pytest.approx(daily_costs(series, costs).sum())


def test_discounting_follows_the_green_book() -> None:
    factors = discount_factors(366, 0.035)
    assert factors[0] == 1.0
    assert factors[365] == pytest.approx(1 / 1.035)


@pytest.mark.parametrize(("n_keys", "size"), [(5_000, 3_000), (40, 3_000), (0, 10), (300, 10**7)])
def test_unique_pairs_is_numpys_unique_whether_counted_or_sorted(n_keys: int, size: int) -> None:
    keys = np.random.default_rng(n_keys).integers(0, size, n_keys)
    got, want = unique_pairs(keys, size), np.unique(keys, return_inverse=True, return_counts=True)
    for mine, numpys in zip(got, want, strict=True):
        assert mine.dtype == numpys.dtype
        assert np.array_equal(mine, numpys)
