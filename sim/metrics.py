"""Continuity indices and the per-run summary (one row of runs.csv) and monthly series of a model.

Continuity (N contacts, n_i with worker i, v_1..v_N in time order), for people with N >= 2:
UPC = max_i n_i / N; COC (Bice-Boxerman) = (sum_i n_i^2 - N) / (N (N - 1));
SECON = share of consecutive pairs (v_j, v_j+1) with the same worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numba import njit

from sim.contacts import pairwise_sum
from sim.costs import ledger, monthly_costs
from sim.model import SERIES

if TYPE_CHECKING:
    from sim.model import StaffingModel

#: Daily series that are stocks: their monthly value is the mean, not the sum.
STOCK_SERIES = frozenset(
    {
        "backlog",
        "pending",
        "inpatients_over_2_years",
        "inpatients_over_10_years",
        "inpatient_days_so_far",
        "headcount",
        "agency_headcount",
        "fte_sw",
        "fte_ap",
        "fte_agency",
        "vacant_fte",
        "absent",
        "mean_stress",
        "mean_caseload",
        "people",
    }
)
MONTHS_PER_YEAR = 12


def continuity(persons: np.ndarray, workers: np.ndarray, n_people: int) -> pd.DataFrame:
    """Per-person continuity from contacts given in time order.

    Returns:
        One row per person: ``n_contacts``, ``distinct_workers``, ``upc``, ``coc``, ``secon``
        (the indices are NaN for people with fewer than 2 contacts).
    """
    persons = np.asarray(persons, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    # Keeps time order within each person. NumPy sorts 16-bit integers stably by radix (the same order, a
    # quarter of the time of a 64-bit sort of a run's contacts).
    narrow = persons.astype(np.uint16) if n_people <= np.iinfo(np.uint16).max + 1 else persons
    order = np.argsort(narrow, kind="stable")
    p, w = persons[order], workers[order]
    n = np.bincount(p, minlength=n_people).astype(float)
    span = int(w.max()) + 1 if w.size else 1
    pairs, _, count = unique_pairs(p * span + w, n_people * span)
    pair_person = pairs // span
    largest = np.zeros(n_people)
    np.maximum.at(largest, pair_person, count)
    squares = np.bincount(pair_person, weights=count.astype(float) ** 2, minlength=n_people)
    distinct = np.bincount(pair_person, minlength=n_people)
    same = (p[1:] == p[:-1]) & (w[1:] == w[:-1])
    repeats = np.bincount(p[1:][same], minlength=n_people)
    with np.errstate(divide="ignore", invalid="ignore"):
        enough = n >= 2
        upc = np.where(enough, largest / n, np.nan)
        coc = np.where(enough, (squares - n) / (n * (n - 1)), np.nan)
        secon = np.where(enough, repeats / (n - 1), np.nan)
    return pd.DataFrame(
        {"n_contacts": n.astype(np.int64), "distinct_workers": distinct, "upc": upc, "coc": coc, "secon": secon}
    )


def unique_pairs(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True, return_counts=True)`` for integer keys in ``[0, size)``.

    Counted (no sort) when ``size`` is at most a few times the number of keys, as for a team's person-worker
    pairs; sorted by ``np.unique`` otherwise (a large caseload times many worker rows).
    """
    if size > 4 * keys.size + 1024:
        return np.unique(keys, return_inverse=True, return_counts=True)
    counts = np.bincount(keys, minlength=size)
    pairs = np.flatnonzero(counts)
    index = np.zeros(size, dtype=np.int64)
    index[pairs] = np.arange(pairs.size)
    return pairs, index[keys], counts[pairs]


def measured(model: StaffingModel) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The daily series and the contact log of the measured period (after warm-up)."""
    start = model.cfg.warmup_days
    daily = model.daily[start : model.day]
    series = {name: daily[:, i] for i, name in enumerate(SERIES)}
    log = model.contact_log()
    return series, log[log["day"] >= start]


def summarise(model: StaffingModel) -> dict[str, float | int | str]:
    """One row of runs.csv: outcomes for people, continuity, workforce and costs of the measured period."""
    cfg = model.cfg
    series, log = measured(model)
    days = series["crises"].size
    years = days / 365
    total = {name: float(values.sum()) for name, values in series.items()}
    mean = {name: float(values.mean()) if values.size else np.nan for name, values in series.items()}
    person_years = total["people"] / 365  # of people on the caseload, day by day
    per100 = 100.0 / person_years if person_years else np.nan
    cont = continuity(log["person"].to_numpy(), log["worker"].to_numpy(), model.people.n)
    indexed = cont[cont["n_contacts"] >= 2]
    post_fte = model.staff.open_fte(model.staff.open_share(cfg.warmup_days, model.day))
    queued = log[log["kind"].isin([1, 2])]
    row: dict[str, float | int | str] = {
        "arm": model.arm,
        "replicate": model.replicate,
        "seed": cfg.seed,
        "person_years": person_years,
        "crises_per_100_person_years": total["crises"] * per100,
        "admissions_per_100_person_years": total["admissions"] * per100,
        "first_admissions_per_100_person_years": total["first_admissions"] * per100,
        "readmission_share": total["readmissions"] / total["admissions"] if total["admissions"] else np.nan,
        "bed_days_per_100_person_years": total["bed_days"] * per100,
        # Inpatient census, pooled over the measured days (each day is a census of that day's inpatients).
        "inpatients_per_1000_people": _ratio(mean["bed_days"] * 1000, mean["people"]),
        "census_share_over_2_years": _ratio(total["inpatients_over_2_years"], total["bed_days"]),
        "census_share_over_10_years": _ratio(total["inpatients_over_10_years"], total["bed_days"]),
        "census_mean_stay_years": _ratio(total["inpatient_days_so_far"], total["bed_days"]) / 365,
        "delayed_share_of_inpatients": _ratio(total["delayed_days"], total["bed_days"]),
        # Little's law, as the published mean stay per admission is derived: mean stock / admissions per year.
        "stay_per_admission_years": _ratio(total["bed_days"], total["admissions"]) / 365,
        "delayed_days_per_100_person_years": total["delayed_days"] * per100,
        "breakdowns_per_100_person_years": total["breakdowns"] * per100,
        "restrictive_placements_per_100_person_years": total["restrictive_placements"] * per100,
        "upc": float(indexed["upc"].mean()) if len(indexed) else np.nan,
        "coc": float(indexed["coc"].mean()) if len(indexed) else np.nan,
        "secon": float(indexed["secon"].mean()) if len(indexed) else np.nan,
        "n_people_indexed": len(indexed),
        "distinct_workers_per_person_year": float(cont["distinct_workers"].sum()) / person_years,
        "retellings_per_person_year": total["retellings"] / person_years,
        "contacts_per_person_year": total["contacts"] / person_years,
        "checkins_per_person_year": total["checkins"] / person_years,
        "wait_days_mean": float(queued["wait"].mean()) if len(queued) else np.nan,
        "reactive_wait_days_mean": float(queued.loc[queued["kind"] == 2, "wait"].mean()) if len(queued) else np.nan,
        "turnover_per_year": total["leavers"] / mean["headcount"] / years if mean["headcount"] else np.nan,
        "agency_turnover_per_year": (
            total["agency_leavers"] / mean["agency_headcount"] / years if mean["agency_headcount"] else np.nan
        ),
        "vacancy_frac": mean["vacant_fte"] / post_fte,
        "agency_frac": mean["fte_agency"] / post_fte,
        **model.system.summary(series, cfg.warmup_days),
        "people_per_sw_fte_in_post": _ratio(mean["people"], mean["fte_sw"]),
        "mean_stress": mean["mean_stress"],
        "pending_mean": mean["pending"],
        "hours_served_per_person_year": total["hours_served"] / person_years,
        **caseload_flows(model, total, mean, years, log),
    }
    row.update(ledger(series, cfg.costs))
    return row


def caseload_flows(
    model: StaffingModel, total: dict[str, float], mean: dict[str, float], years: float, log: pd.DataFrame
) -> dict[str, float]:
    """People coming and going in the measured period: referrals and exits a year, and caseload turnover.

    Caseload turnover is exits a year over the mean caseload; the mean length of involvement is over the people
    who left in the period (arrival to exit); the waits are from referral to first contact of those referred in
    it, and from referral to a named worker of those allocated one in it (none where nobody is); the share
    allocated is first allocations of referrals over referrals in the period (none where no one holds anyone).
    """
    people, start, end = model.people, model.cfg.warmup_days, model.day
    left = (people.exit_day >= start) & (people.exit_day < end)
    referred = (people.arrive_day >= max(start, 1)) & (people.arrive_day < end)
    waits = np.nan
    if referred.any() and len(log):
        first = log.groupby("person")["day"].min()
        rows = np.flatnonzero(referred)
        seen = first.reindex(rows).to_numpy(dtype=float)
        waits = float(np.nanmean(seen - people.arrive_day[rows])) if np.isfinite(seen).any() else np.nan
    return {
        "referrals_per_year": total["referrals"] / years if years else np.nan,
        "exits_per_year": total["exits"] / years if years else np.nan,
        "caseload_turnover_per_year": _ratio(total["exits"] / years, mean["people"]) if years else np.nan,
        "mean_involvement_years": (
            float((people.exit_day[left] - people.arrive_day[left]).mean()) / 365 if left.any() else np.nan
        ),
        "referral_to_first_contact_days_mean": waits,
        "referral_to_allocation_days_mean": _ratio(
            total["referral_allocation_wait_days"], total["referrals_allocated"]
        ),
        # The wait counts only those allocated: where the team is full, the share allocated says how many are not.
        "referrals_allocated_share": (
            _ratio(total["referrals_allocated"], total["referrals"])
            if total["referrals_allocated"] or (people.named_worker >= 0).any()
            else np.nan
        ),
    }


def _ratio(numerator: float, denominator: float) -> float:
    """The ratio of two totals, NaN when the denominator is 0 (a share of nothing is undefined)."""
    return numerator / denominator if denominator else np.nan


def monthly(model: StaffingModel) -> pd.DataFrame:
    """Monthly team-level series of the measured period: sums of flows, means of stocks, rolling UPC."""
    series, log = measured(model)
    days = series["crises"].size
    month = (np.arange(days) * MONTHS_PER_YEAR) // 365
    n_months = int(month[-1]) + 1 if days else 0
    counts = np.bincount(month, minlength=n_months).astype(float)
    out: dict[str, np.ndarray] = {"month": np.arange(1, n_months + 1)}
    for name, values in series.items():
        summed = np.bincount(month, weights=values, minlength=n_months)
        out[name] = summed / counts if name in STOCK_SERIES else summed
    person_years = out["people"] * counts / 365
    out["admissions_per_100_person_years"] = out["admissions"] * 100 / person_years
    out["crises_per_100_person_years"] = out["crises"] * 100 / person_years
    first = model.cfg.warmup_days
    ends = np.r_[np.flatnonzero(np.diff(month)) + 1, days] + first  # each month's end (model day, exclusive)
    starts = np.r_[0, ends[:-1] - first] + first
    staff = model.staff
    out["vacancy_frac"] = out["vacant_fte"] / np.array(
        [staff.open_fte(staff.open_share(int(a), int(b))) for a, b in zip(starts, ends, strict=True)]
    )
    out["upc_12m"] = rolling_upc(log, model.cfg.warmup_days, month, model.people.n)
    out.update(monthly_costs(series, model.cfg.costs, month))
    frame = pd.DataFrame(out)
    frame.insert(0, "replicate", model.replicate)
    frame.insert(0, "arm", model.arm)
    return frame


def rolling_upc(log: pd.DataFrame, start: int, month_of_day: np.ndarray, n_people: int) -> np.ndarray:
    """Mean UPC over the contacts of the 12 months up to each month (people with at least 2 such contacts)."""
    n_months = int(month_of_day[-1]) + 1 if month_of_day.size else 0
    if log.empty or n_months == 0:
        return np.full(n_months, np.nan)
    p = log["person"].to_numpy()
    w = log["worker"].to_numpy()
    m = month_of_day[log["day"].to_numpy() - start]
    span = int(w.max()) + 1
    pairs, inverse, _ = unique_pairs(p * span + w, n_people * span)
    owner = pairs // span
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return _window_upc(inverse.astype(np.int64), m.astype(np.int64), starts, pairs.size, n_months, MONTHS_PER_YEAR)


@njit(cache=True)
def _window_upc(
    pair: np.ndarray, month: np.ndarray, starts: np.ndarray, n_pairs: int, n_months: int, window: int
) -> np.ndarray:
    """Mean over people of max_w n_w / N in each ``window``-month window, from contacts' person-worker pairs.

    ``pair`` numbers each contact's (person, worker) pair, pairs sorted by person; ``starts`` is each person's
    first pair. Compiled because counting over every pair and month was most of a run's monthly series; each
    month's mean adds the people's UPC as NumPy adds a column (``pairwise_sum``), so it is the same to the bit.
    """
    counts = np.zeros((n_pairs, n_months), dtype=np.int32)
    for k in range(pair.size):
        counts[pair[k], month[k]] += 1
    upc = np.zeros((n_months, starts.size))  # by month, then person: 0 where a person has under 2 contacts
    valid = np.zeros(n_months, dtype=np.int64)
    largest = np.zeros(n_months, dtype=np.int64)
    total = np.zeros(n_months, dtype=np.int64)
    for i in range(starts.size):
        last = starts[i + 1] if i + 1 < starts.size else n_pairs
        largest[:] = 0
        total[:] = 0
        for q in range(starts[i], last):
            in_window = 0
            for mo in range(n_months):
                in_window += counts[q, mo]
                if mo >= window:
                    in_window -= counts[q, mo - window]
                largest[mo] = max(largest[mo], in_window)
                total[mo] += in_window
        for mo in range(n_months):
            if total[mo] >= 2:
                upc[mo, i] = largest[mo] / total[mo]
                valid[mo] += 1
    out = np.full(n_months, np.nan)
    for mo in range(n_months):
        if valid[mo]:
            out[mo] = pairwise_sum(upc[mo]) / valid[mo]
    return out
