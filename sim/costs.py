"""The cost ledger (daily costs by line, payers, discounting) and the business case (investment, savings, ROI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from sim.params import COST_LINES, Config, Costs  # COST_LINES: the ledger lines, kept where they are validated
from sim.staffing import SYSTEMS

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

#: Who pays the investment (a staffing system's extra staff and its set-up).
INVESTMENT_PAYER = "council"


def _system_investment(cfg: Config, arm: str, n_days: int) -> tuple[float, float]:
    """Present values over the first ``n_days`` measured days of one system's extra staff and set-up."""
    fte, setup, start = SYSTEMS[arm].investment(cfg)
    c = cfg.costs
    factors = discount_factors(n_days, c.discount_rate_per_year)
    per_day = fte * c.social_worker_per_hour_gbp * c.paid_hours_per_fte_year / 365
    staff = float(per_day * factors[start:].sum())
    paid = start < n_days  # a set-up after the period is not paid within it
    return staff, float(setup * (1.0 + c.discount_rate_per_year) ** (-start / 365.0)) if paid else 0.0


def planned_investment(cfg: Config, n_days: int, arm: str = "named", baseline: str = "duty") -> tuple[float, float]:
    """Present values of the investment of ``arm`` over ``baseline``: extra staff cost over ``n_days``, and set-up.

    Each system says what it invests (``StaffingSystem.investment``: extra FTE, set-up, the day both
    start); the investment of a comparison is the arm's less the baseline's. The extra posts are costed
    as planned (funded whether filled or not); vacancies in them show up in the arm's staff line, where
    they are a saving like any other.
    """
    staff, setup = _system_investment(cfg, arm, n_days)
    base_staff, base_setup = _system_investment(cfg, baseline, n_days)
    if base_staff or base_setup:
        return staff - base_staff, setup - base_setup
    return staff, setup


def paired_business_case(runs: pd.DataFrame, cfg: Config, arm: str = "named", baseline: str = "duty") -> pd.DataFrame:
    """One row per replicate: investment, savings by line and payer, cashable savings, NPV and return per £1.

    Savings on a line are baseline - arm (positive: the arm costs less), with the investment taken out of
    the arm's staff line so it is counted once, as the investment. NPV = savings - investment, which
    equals the baseline's total cost minus the arm's total cost and set-up.
    """
    extra_staff, setup = planned_investment(cfg, cfg.horizon_days, arm, baseline)
    investment = extra_staff + setup
    base = runs[runs["arm"] == baseline].set_index("replicate").sort_index()
    mine = runs[runs["arm"] == arm].set_index("replicate").sort_index()
    pairs = base.index.intersection(mine.index)
    base, mine = base.loc[pairs], mine.loc[pairs]
    out = pd.DataFrame(index=pairs)
    for line in COST_LINES:
        saving = base[f"cost_{line}_gbp"] - mine[f"cost_{line}_gbp"]
        out[f"saving_{line}_gbp"] = saving + (extra_staff if line == "staff" else 0.0)
    lines = [f"saving_{line}_gbp" for line in COST_LINES]
    out["investment_gbp"] = investment
    out["savings_gbp"] = out[lines].sum(axis=1)
    for payer in PAYERS:
        own = [f"saving_{line}_gbp" for line in COST_LINES if cfg.costs.payer[line] == payer]
        out[f"savings_{payer}_gbp"] = out[own].sum(axis=1)
    cashable = [f"saving_{line}_gbp" for line in COST_LINES if cfg.costs.cashable[line]]
    out["cashable_savings_gbp"] = out[cashable].sum(axis=1)
    out["costs_avoided_gbp"] = out["savings_gbp"] - out["cashable_savings_gbp"]
    out["npv_gbp"] = out["savings_gbp"] - investment
    out["roi_per_gbp"] = out["savings_gbp"] / investment if investment > 0 else np.nan
    out = out.reset_index(names="replicate")
    out.insert(0, "arm", arm)
    return out


def cumulative_by_year(
    timeseries: pd.DataFrame, cfg: Config, arm: str = "named", baseline: str = "duty"
) -> pd.DataFrame:
    """Per replicate and measured year: cumulative investment, savings, NPV and return per £1 (present values)."""
    wide = timeseries[timeseries["arm"].isin([arm, baseline])].pivot_table(
        index=["replicate", "month"], columns="arm", values="cost_total_gbp"
    )
    wide = wide.reset_index()
    wide["year"] = (wide["month"] - 1) // 12 + 1
    per_year = wide.groupby(["replicate", "year"])[[baseline, arm]].sum().reset_index()
    out = []
    for replicate, part in per_year.groupby("replicate"):
        part = part.sort_values("year")
        days = np.minimum(part["year"].to_numpy() * 365, cfg.horizon_days)
        paths = np.array([planned_investment(cfg, int(d), arm, baseline) for d in days]).reshape(-1, 2)
        extra, setup = paths[:, 0], paths[:, 1]
        investment = extra + setup
        savings = np.cumsum(part[baseline].to_numpy() - part[arm].to_numpy()) + extra
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(investment > 0, savings / investment, np.nan)
        out.append(
            pd.DataFrame(
                {
                    "arm": arm,
                    "replicate": replicate,
                    "year": part["year"].to_numpy(),
                    "investment_gbp": investment,
                    "savings_gbp": savings,
                    "npv_gbp": savings - investment,
                    "roi_per_gbp": roi,
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


#: Months of a rolling mean used to say when an arm's monthly admissions and costs stay below the baseline's.
TRANSITION_WINDOW_MONTHS = 12


def transition(timeseries: pd.DataFrame, cfg: Config, arm: str, baseline: str) -> dict[str, object]:
    """When an arm's monthly admissions and costs fall below the baseline's for good, and what getting there cost.

    From the month the arm starts to differ (``StaffingSystem.start_day``: the switch day of a switch-over,
    else the first month), the mean paired monthly difference (arm - baseline, over replicates) is smoothed
    over ``TRANSITION_WINDOW_MONTHS``; "for good" is the first month from which it stays below 0 to the end
    of the horizon. The transition cost is the sum of the monthly cost differences (present values, the
    set-up included) from the start to that month (to the horizon if it never comes).
    """
    start_month = SYSTEMS[arm].start_day(cfg) * 12 // 365 + 1
    out: dict[str, object] = {"start_month": start_month}
    if timeseries.empty or start_month > timeseries["month"].max():
        return {**out, "months_to_lower_admissions": None, "months_to_lower_cost": None, "transition_cost_gbp": None}
    diffs = {}
    for metric in ("admissions", "cost_total_gbp"):
        wide = timeseries[timeseries["arm"].isin([arm, baseline])].pivot_table(
            index="month", columns=["arm", "replicate"], values=metric
        )
        diff = (wide[arm] - wide[baseline]).mean(axis=1)
        diffs[metric] = diff[diff.index >= start_month]
    for metric, key in (("admissions", "months_to_lower_admissions"), ("cost_total_gbp", "months_to_lower_cost")):
        smooth = diffs[metric].rolling(TRANSITION_WINDOW_MONTHS, min_periods=1).mean().to_numpy()
        above = np.flatnonzero(smooth >= 0)
        first_below = int(above[-1]) + 1 if above.size else 0
        out[key] = first_below if first_below < smooth.size else None
    cost = diffs["cost_total_gbp"].to_numpy()
    until = out["months_to_lower_cost"]
    setup = planned_investment(cfg, cfg.horizon_days, arm, baseline)[1]
    out["transition_cost_gbp"] = float(cost[: until if until is not None else cost.size].sum() + setup)
    return out


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
    """The business case of every arm against the baseline (business_case.json), per replicate and by year.

    Returns ``{"baseline": name, "arms": {arm: headline}}`` (see ``arm_case``), the per-replicate table
    and the yearly path, both with an ``arm`` column.
    """
    arms = [arm for arm in dict.fromkeys(runs["arm"]) if arm != cfg.baseline]
    cases, tables, paths = {}, [], []
    for arm in arms:
        headline, per_replicate, by_year = arm_case(runs, timeseries, cfg, arm, cfg.baseline)
        cases[arm] = headline
        tables.append(per_replicate)
        paths.append(by_year)
    per_replicate = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    by_year = (
        pd.concat([p for p in paths if not p.empty], ignore_index=True)
        if any(not p.empty for p in paths)
        else pd.DataFrame()
    )
    return {"baseline": cfg.baseline, "arms": cases}, per_replicate, by_year


def arm_case(
    runs: pd.DataFrame, timeseries: pd.DataFrame, cfg: Config, arm: str = "named", baseline: str = "duty"
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The headline business case of one arm against the baseline, its per-replicate table and yearly path.

    Means are over paired replicates with 95% t intervals. ``breakeven_year`` is the first measured
    year ending after the arm's start day (``StaffingSystem.start_day``) at whose end the mean cumulative
    NPV is at least 0 (None if it never is within the horizon).
    Shares of savings are None when savings are not positive (a share of a loss means nothing).
    """
    per_replicate = paired_business_case(runs, cfg, arm, baseline)
    by_year = cumulative_by_year(timeseries, cfg, arm, baseline) if not timeseries.empty else pd.DataFrame()
    investment = float(per_replicate["investment_gbp"].iloc[0]) if len(per_replicate) else np.nan
    setup = planned_investment(cfg, cfg.horizon_days, arm, baseline)[1]
    savings, savings_low, savings_high = mean_ci(per_replicate["savings_gbp"])
    npv, npv_low, npv_high = mean_ci(per_replicate["npv_gbp"])
    roi, roi_low, roi_high = mean_ci(per_replicate["roi_per_gbp"])
    council = float(per_replicate["savings_council_gbp"].mean()) if len(per_replicate) else np.nan
    cashable = float(per_replicate["cashable_savings_gbp"].mean()) if len(per_replicate) else np.nan
    breakeven = None
    if not by_year.empty:
        mean_npv = by_year.groupby("year")["npv_gbp"].mean()
        started = mean_npv.index * 365 > SYSTEMS[arm].start_day(cfg)  # before its start an arm equals the baseline
        reached = mean_npv[(mean_npv >= 0) & started]
        breakeven = int(reached.index[0]) if len(reached) else None
    notes = []
    if not investment > 0:
        notes.append(
            f"No investment in {arm} over {baseline} (extra staff and set-up): a return per £1 invested is "
            f"undefined. The net present value ({baseline} cost - {arm} cost) still says which costs less."
        )
    share_ok = savings > 0
    if not share_ok:
        notes.append("Savings are not positive, so shares of savings by payer are not given.")
    lines = {
        line: float(per_replicate[f"saving_{line}_gbp"].mean()) if len(per_replicate) else np.nan for line in COST_LINES
    }
    headline = {
        "arm": arm,
        "baseline": baseline,
        "price_year": cfg.costs.price_year,
        "discount_rate_per_year": cfg.costs.discount_rate_per_year,
        "horizon_years": cfg.horizon_years,
        "n_pairs": len(per_replicate),
        "investment_gbp": investment,
        "investment_extra_staff_gbp": investment - setup,
        "investment_setup_gbp": setup,
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
        "transition": transition(timeseries, cfg, arm, baseline),
    }
    return json_safe(headline), per_replicate, by_year


def json_safe(value: object) -> object:
    """NaN and infinities become None, so the JSON is valid and a missing number reads as null."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
