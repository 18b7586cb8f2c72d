"""The cost ledger: daily costs by line from a run's daily series, payers, and discounting."""

from __future__ import annotations

import numpy as np

from sim.params import Costs

#: Ledger lines, each with a payer in ``costs.payer``.
COST_LINES = (
    "staff",
    "agency_premium",
    "recruitment",
    "inpatient",
    "delayed_discharge",
    "crisis_response",
    "emergency_placement",
    "restrictive_placement",
)
PAYERS = ("council", "nhs")


def daily_costs(series: dict[str, np.ndarray], costs: Costs) -> np.ndarray:
    """Cost of each ledger line on each day (GBP), one column per line of ``COST_LINES``.

    Args:
        series: daily team-level series by name (see ``sim.model.SERIES``).
        costs: unit costs.
    """
    per_day = costs.paid_hours_per_fte_year / 365
    lines = {
        "staff": (
            series["fte_sw"] * costs.social_worker_per_hour_gbp
            + series["fte_ap"] * costs.advanced_practitioner_per_hour_gbp
        )
        * per_day,
        "agency_premium": series["fte_agency"] * costs.agency_premium_per_fte_year_gbp / 365,
        "recruitment": series["hires"] * costs.recruitment_per_hire_gbp,
        "inpatient": (series["bed_days"] - series["delayed_days"]) * costs.inpatient_per_day_gbp,
        "delayed_discharge": series["delayed_days"] * costs.inpatient_per_day_gbp,
        "crisis_response": series["crises"] * costs.crisis_response_gbp,
        "emergency_placement": series["emergency_days"] * costs.residential_per_day_gbp,
        "restrictive_placement": series["restrictive_days"] * costs.residential_per_day_gbp,
    }
    return np.column_stack([lines[name] for name in COST_LINES])


def discount_factors(n_days: int, rate_per_year: float) -> np.ndarray:
    """Present-value factor of each day from the start of measurement: (1 + r) ^ -(day / 365)."""
    return (1.0 + rate_per_year) ** (-np.arange(n_days) / 365.0)


def ledger(series: dict[str, np.ndarray], costs: Costs) -> dict[str, float]:
    """Totals of a measured period: each line, each payer and the whole, discounted and not.

    Keys are ``cost_<line>_gbp`` and ``cost_<payer>_gbp`` (present values at the start of the
    period, Green Book discounting), ``cost_total_gbp`` and ``cost_total_undiscounted_gbp``.
    """
    by_day = daily_costs(series, costs)
    factors = discount_factors(by_day.shape[0], costs.discount_rate_per_year)
    present = factors @ by_day
    out = {f"cost_{name}_gbp": float(value) for name, value in zip(COST_LINES, present, strict=True)}
    for payer in PAYERS:
        out[f"cost_{payer}_gbp"] = float(
            sum(v for name, v in zip(COST_LINES, present, strict=True) if costs.payer[name] == payer)
        )
    out["cost_total_gbp"] = float(present.sum())
    out["cost_total_undiscounted_gbp"] = float(by_day.sum())
    return out
