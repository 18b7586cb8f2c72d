"""The cost ledger (daily costs by line, payers, discounting) and the business case (investment, savings, ROI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from sim.params import Config, Costs

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


def monthly_costs(series: dict[str, np.ndarray], costs: Costs, month_of_day: np.ndarray) -> dict[str, np.ndarray]:
    """Present value (at the start of measurement) of each month's costs: ``cost_<line>_gbp`` and ``cost_total_gbp``."""
    by_day = daily_costs(series, costs) * discount_factors(month_of_day.size, costs.discount_rate_per_year)[:, None]
    n_months = int(month_of_day[-1]) + 1 if month_of_day.size else 0
    out = {
        f"cost_{name}_gbp": np.bincount(month_of_day, weights=by_day[:, i], minlength=n_months)
        for i, name in enumerate(COST_LINES)
    }
    out["cost_total_gbp"] = np.bincount(month_of_day, weights=by_day.sum(axis=1), minlength=n_months)
    return out


# Business case -------------------------------------------------------------------------------

#: Who pays the investment (the named arm's extra staff and its set-up).
INVESTMENT_PAYER = "council"


def planned_investment(cfg: Config, n_days: int) -> tuple[float, float]:
    """Present values of the investment: the extra FTE's staff cost over ``n_days``, and the one-off set-up.

    The extra posts are costed as planned (funded whether filled or not); vacancies in them show up in
    the staff line of the named arm, where they are a saving like any other.
    """
    c = cfg.costs
    per_day = cfg.named.extra_fte * c.social_worker_per_hour_gbp * c.paid_hours_per_fte_year / 365
    return float(per_day * discount_factors(n_days, c.discount_rate_per_year).sum()), float(c.named_setup_gbp)


def paired_business_case(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per replicate: investment, savings by line and payer, cashable savings, NPV and return per £1.

    Savings on a line are duty - named (positive: named costs less), with the investment taken out of
    the named arm's staff line so it is counted once, as the investment. NPV = savings - investment,
    which equals the duty arm's total cost minus the named arm's total cost and set-up.
    """
    extra_staff, setup = planned_investment(cfg, cfg.horizon_days)
    investment = extra_staff + setup
    duty = runs[runs["arm"] == "duty"].set_index("replicate").sort_index()
    named = runs[runs["arm"] == "named"].set_index("replicate").sort_index()
    pairs = duty.index.intersection(named.index)
    duty, named = duty.loc[pairs], named.loc[pairs]
    out = pd.DataFrame(index=pairs)
    for line in COST_LINES:
        saving = duty[f"cost_{line}_gbp"] - named[f"cost_{line}_gbp"]
        out[f"saving_{line}_gbp"] = saving + (extra_staff if line == "staff" else 0.0)
    lines = [f"saving_{line}_gbp" for line in COST_LINES]
    out["investment_gbp"] = investment
    out["savings_gbp"] = out[lines].sum(axis=1)
    for payer in PAYERS:
        mine = [f"saving_{line}_gbp" for line in COST_LINES if cfg.costs.payer[line] == payer]
        out[f"savings_{payer}_gbp"] = out[mine].sum(axis=1)
    cashable = [f"saving_{line}_gbp" for line in COST_LINES if cfg.costs.cashable[line]]
    out["cashable_savings_gbp"] = out[cashable].sum(axis=1)
    out["costs_avoided_gbp"] = out["savings_gbp"] - out["cashable_savings_gbp"]
    out["npv_gbp"] = out["savings_gbp"] - investment
    out["roi_per_gbp"] = out["savings_gbp"] / investment if investment > 0 else np.nan
    return out.reset_index(names="replicate")


def cumulative_by_year(timeseries: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per replicate and measured year: cumulative investment, savings, NPV and return per £1 (present values)."""
    extra_per_day, setup = planned_investment(cfg, 1)  # day 0's share, discount factor 1
    rate = cfg.costs.discount_rate_per_year
    wide = timeseries.pivot_table(index=["replicate", "month"], columns="arm", values="cost_total_gbp")
    wide = wide.reset_index()
    wide["year"] = (wide["month"] - 1) // 12 + 1
    per_year = wide.groupby(["replicate", "year"])[["duty", "named"]].sum().reset_index()
    out = []
    for replicate, part in per_year.groupby("replicate"):
        part = part.sort_values("year")
        days = np.minimum(part["year"].to_numpy() * 365, cfg.horizon_days)
        extra = np.array([extra_per_day * discount_factors(int(d), rate).sum() for d in days])
        investment = extra + setup
        savings = np.cumsum(part["duty"].to_numpy() - part["named"].to_numpy()) + extra
        out.append(
            pd.DataFrame(
                {
                    "replicate": replicate,
                    "year": part["year"].to_numpy(),
                    "investment_gbp": investment,
                    "savings_gbp": savings,
                    "npv_gbp": savings - investment,
                    "roi_per_gbp": savings / investment if setup + extra_per_day > 0 else np.nan,
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def mean_ci(values: pd.Series | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite values and its t interval (NaN bounds with fewer than 2 values)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(x.mean())
    if x.size < 2:
        return (mean, np.nan, np.nan)
    half = float(stdtrit(x.size - 1, 0.5 + level / 2) * x.std(ddof=1) / np.sqrt(x.size))
    return (mean, mean - half, mean + half)


def business_case(runs: pd.DataFrame, timeseries: pd.DataFrame, cfg: Config) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The headline business case (business_case.json), its per-replicate table and its yearly path.

    Means are over paired replicates with 95% t intervals. ``breakeven_year`` is the first measured
    year at whose end the mean cumulative NPV is at least 0 (None if it never is within the horizon).
    Shares of savings are None when savings are not positive (a share of a loss means nothing).
    """
    per_replicate = paired_business_case(runs, cfg)
    by_year = cumulative_by_year(timeseries, cfg) if not timeseries.empty else pd.DataFrame()
    investment = float(per_replicate["investment_gbp"].iloc[0]) if len(per_replicate) else np.nan
    savings, savings_low, savings_high = mean_ci(per_replicate["savings_gbp"])
    npv, npv_low, npv_high = mean_ci(per_replicate["npv_gbp"])
    roi, roi_low, roi_high = mean_ci(per_replicate["roi_per_gbp"])
    council = float(per_replicate["savings_council_gbp"].mean()) if len(per_replicate) else np.nan
    cashable = float(per_replicate["cashable_savings_gbp"].mean()) if len(per_replicate) else np.nan
    breakeven = None
    if not by_year.empty:
        mean_npv = by_year.groupby("year")["npv_gbp"].mean()
        reached = mean_npv[mean_npv >= 0]
        breakeven = int(reached.index[0]) if len(reached) else None
    notes = []
    if not investment > 0:
        notes.append(
            "No investment (named.extra_fte = 0 and costs.named_setup_gbp = 0): a return per £1 invested is "
            "undefined. The net present value (duty cost - named cost) still says which arm costs less."
        )
    share_ok = savings > 0
    if not share_ok:
        notes.append("Savings are not positive, so shares of savings by payer are not given.")
    lines = {
        line: float(per_replicate[f"saving_{line}_gbp"].mean()) if len(per_replicate) else np.nan for line in COST_LINES
    }
    headline = {
        "price_year": cfg.costs.price_year,
        "discount_rate_per_year": cfg.costs.discount_rate_per_year,
        "horizon_years": cfg.horizon_years,
        "n_pairs": len(per_replicate),
        "investment_gbp": investment,
        "investment_extra_staff_gbp": investment - cfg.costs.named_setup_gbp,
        "investment_setup_gbp": cfg.costs.named_setup_gbp,
        "investment_payer": INVESTMENT_PAYER,
        "savings_gbp": savings,
        "savings_ci_low": savings_low,
        "savings_ci_high": savings_high,
        "cashable_savings_gbp": cashable,
        "costs_avoided_gbp": savings - cashable,
        "roi_per_gbp": roi if investment > 0 else None,
        "roi_ci_low": roi_low if investment > 0 else None,
        "roi_ci_high": roi_high if investment > 0 else None,
        "roi_note": " ".join(notes) or None,
        "npv_gbp": npv,
        "npv_ci_low": npv_low,
        "npv_ci_high": npv_high,
        "breakeven_year": breakeven,
        "council_share_of_savings": council / savings if share_ok else None,
        "nhs_share_of_savings": 1 - council / savings if share_ok else None,
        "savings_by_line_gbp": lines,
    }
    return _json_safe(headline), per_replicate, by_year


def _json_safe(value: object) -> object:
    """NaN and infinities become None, so the JSON is valid and a missing number reads as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
