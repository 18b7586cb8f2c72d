"""Contacts, compiled: familiarity, the hours a contact takes, offering contacts to workers and carrying them out.

The model's processes (``sim.model``) and the staffing systems' allocation (``sim.staffing``) share
these functions. They run inside numba-compiled code and work on the arrays of ``People`` and
``Staff`` through the named tuples below, so a whole run of days is one call from Python.

Each function mirrors, operation for operation, the array code it replaced (the same sums in the
same order), so the numbers are those of the uncompiled model to the last digit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from sim.population import CHECKIN, CRISIS, NO_ONE, REACTIVE, REVIEW

# Columns of the daily series (``sim.model.SERIES`` names them; the order is fixed here for compiled code).
(
    CRISES,
    ADMISSIONS,
    FIRST_ADMISSIONS,
    READMISSIONS,
    DISCHARGES,
    BREAKDOWNS,
    RESTRICTIVE_PLACEMENTS,
    ASSESSMENTS,
    WRONG_FINDINGS,
    BED_DAYS,
    INPATIENTS_OVER_2_YEARS,
    INPATIENTS_OVER_10_YEARS,
    INPATIENT_DAYS_SO_FAR,
    DELAYED_DAYS,
    EMERGENCY_DAYS,
    RESTRICTIVE_DAYS,
    CONTACTS,
    REACTIVE_CONTACTS,
    REVIEWS,
    CHECKINS,
    CRISIS_CONTACTS,
    RETELLINGS,
    HOURS_SERVED,
    WAIT_DAYS,
    WAITED_CONTACTS,
    BACKLOG,
    PENDING,
    HEADCOUNT,
    AGENCY_HEADCOUNT,
    FTE_SW,
    FTE_AP,
    FTE_AGENCY,
    VACANT_FTE,
    ABSENT,
    LEAVERS,
    AGENCY_LEAVERS,
    HIRES,
    MEAN_STRESS,
    MEAN_CASELOAD,
) = range(39)
N_SERIES = 39

# Slots of ``Books.counts`` (integers the compiled code keeps between days).
N_LOG, N_STAYS, N_LIFE, N_SERVED, N_ASSESS, STAFF_N, STAFF_CHANGED = range(7)
# Slots of ``Books.max_events``: the largest event count of any person or post, by counter.
EV_CRISES, EV_ADMISSIONS, EV_PLACEMENTS, EV_ASSESSMENTS, EV_ABSENCES, EV_VACANCIES, EV_AGENCY = range(7)


class PeopleArrays(NamedTuple):
    """The arrays of ``sim.population.People`` that compiled code reads and writes (one row per person)."""

    need: np.ndarray
    communication: np.ndarray
    fluctuating: np.ndarray
    risk: np.ndarray
    setting: np.ndarray
    setting_until: np.ndarray
    restrictive: np.ndarray
    delayed: np.ndarray
    ever_admitted: np.ndarray
    admitted_day: np.ndarray
    readmit_until: np.ndarray
    named_worker: np.ndarray
    pending_since: np.ndarray
    open_kind: np.ndarray
    open_since: np.ndarray
    next_review: np.ndarray
    next_checkin: np.ndarray
    last_contact: np.ndarray
    fam_worker: np.ndarray
    fam_level: np.ndarray
    fam_day: np.ndarray
    named_fam_level: np.ndarray
    named_fam_day: np.ndarray
    n_crises: np.ndarray
    n_admissions: np.ndarray
    n_assessments: np.ndarray
    n_placements: np.ndarray
    active: np.ndarray


class StaffArrays(NamedTuple):
    """The arrays of ``sim.population.Staff``: posts (fixed) and worker rows (grown between compiled calls)."""

    post_role: np.ndarray
    post_fte: np.ndarray
    post_open_day: np.ndarray
    holder: np.ndarray
    hire_day: np.ndarray
    agency_day: np.ndarray
    n_absences: np.ndarray
    n_vacancies: np.ndarray
    n_agency_draws: np.ndarray
    post: np.ndarray
    role: np.ndarray
    fte: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray
    absent_until: np.ndarray
    stress: np.ndarray
    caseload: np.ndarray
    hours_left: np.ndarray
    debt: np.ndarray
    demand: np.ndarray


class Settings(NamedTuple):
    """Parameters of the daily processes, in the units the compiled code uses (per day, hours, ratios)."""

    casework_hours_per_day: float
    p_life_event: float
    event_risk_jump: float
    call_confidence_gain: float
    crisis_base_per_day: float
    crisis_risk_per_day: float
    readmission_crisis_multiplier: float
    prevention_window_days: int
    advocacy_admission_reduction: float
    prevention_admission_reduction: float
    p_admission: float
    readmission_multiplier: float
    p_breakdown: float
    risk_after_frac: float
    emergency_stay_mean_days: float
    restrictive_stay_mean_days: float
    discharge_coordination_reduction: float
    p_delayed_discharge: float
    delay_mean_days: float
    discharge_risk: float
    readmission_window_days: int
    p_error: float
    assessment_error_reduction: float
    p_restrictive_given_error: float
    stress_alpha: float
    p_absence_start: float
    absence_spell_mean_days: float
    stress_turnover_gain: float
    turnover_per_year: float
    agency_turnover_per_year: float
    agency_start_lag_days: float
    agency_cover_frac: float
    quality_base: float
    familiarity_quality_gain: float
    quality_wait_loss_per_day: float
    risk_reduction: float
    unfamiliar_detection_loss: float
    review_interval_days: int
    retell_familiarity_threshold: float
    retell_extra_frac: float
    familiarity_fade_days: float
    familiarity_learning_frac: float
    base_hours: np.ndarray  # by contact kind
    comm_mult: np.ndarray  # by person
    drift_per_day: np.ndarray  # by person
    call_per_day: np.ndarray  # by person
    call_risk_per_day: np.ndarray  # by person
    retention: np.ndarray  # by model day: the staffing system's cut in the permanent staff's leaving hazard


class Draws(NamedTuple):
    """Common random numbers for the compiled code: daily blocks (from ``first_day``) and per-event columns."""

    first_day: int
    event: np.ndarray  # (day in block, person): life events
    call: np.ndarray  # (day in block, person): unit-exponential thresholds of reactive calls
    crisis: np.ndarray  # (day in block, person): unit-exponential thresholds of crises
    absence: np.ndarray  # (day in block, post)
    leave: np.ndarray  # (day in block, post)
    rota: np.ndarray  # (day in block, 1): the day's random start round a pool
    admit: np.ndarray  # (person, k-th crisis)
    breakdown: np.ndarray  # (person, k-th crisis)
    stay: np.ndarray  # (person, k-th admission): clinical stay in days
    delayed: np.ndarray  # (person, 1 + k-th admission; column 0: a stay under way on day 0)
    delay_length: np.ndarray  # (person, 1 + k-th admission; column 0: a stay under way on day 0)
    placement: np.ndarray  # (person, k-th placement)
    error: np.ndarray  # (person, k-th assessment)
    restrictive: np.ndarray  # (person, k-th assessment)
    spell: np.ndarray  # (post, k-th absence)
    lag: np.ndarray  # (post, k-th vacancy): recruitment lag in days
    agency: np.ndarray  # (post, k-th agency draw)


class Books(NamedTuple):
    """What compiled code records and carries between calls: series, logs, today's buffers, counts."""

    daily: np.ndarray  # (day, series)
    log_person: np.ndarray
    log_worker: np.ndarray
    log_day: np.ndarray
    log_kind: np.ndarray
    log_hours: np.ndarray
    log_wait: np.ndarray
    log_fam: np.ndarray
    stays: np.ndarray
    life_person: np.ndarray
    life_day: np.ndarray
    served_person: np.ndarray  # contacts offered and accepted today, carried out at the flush
    served_worker: np.ndarray
    served_kind: np.ndarray
    served_hours: np.ndarray
    served_fam: np.ndarray
    served_slot: np.ndarray
    served_has: np.ndarray
    assess_person: np.ndarray  # today's capacity assessments to make
    assess_worker: np.ndarray
    counts: np.ndarray  # N_LOG, N_STAYS, ...
    max_events: np.ndarray  # EV_CRISES, ...
    staff_stocks: np.ndarray  # the staffing stocks, recomputed when someone starts or leaves
    checkin_interval: np.ndarray  # by person: days between proactive contacts (inf: none)


# Sums ------------------------------------------------------------------------------------------


@njit(cache=True)
def pairwise_sum(a: np.ndarray) -> float:
    """``a.sum()`` exactly as NumPy adds floats (pairwise, eight accumulators), so compiled sums match to the bit."""
    n = a.size
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
        i = 8
        while i < n - (n % 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a[:n2]) + pairwise_sum(a[n2:])


# Workers ---------------------------------------------------------------------------------------


@njit(cache=True)
def in_post(W: StaffArrays) -> np.ndarray:
    """Rows of workers holding a post now, in post order."""
    out = np.empty(W.holder.size, dtype=np.int64)
    k = 0
    for post in range(W.holder.size):
        if W.holder[post] >= 0:
            out[k] = W.holder[post]
            k += 1
    return out[:k]


@njit(cache=True)
def present_holders(W: StaffArrays, posts: np.ndarray, t: int) -> np.ndarray:
    """Rows of the present holders of ``posts`` (vacant posts and absent holders dropped), in the order given."""
    out = np.empty(posts.size, dtype=np.int64)
    k = 0
    for post in posts:
        row = W.holder[post]
        if row >= 0 and W.absent_until[row] <= t:
            out[k] = row
            k += 1
    return out[:k]


@njit(cache=True)
def present(W: StaffArrays, t: int) -> np.ndarray:
    """Rows of workers in post and not absent on day ``t``, in post order."""
    return present_holders(W, np.arange(W.holder.size), t)


@njit(cache=True)
def with_hours(W: StaffArrays, pool: np.ndarray) -> np.ndarray:
    """The members of ``pool`` with hours left today."""
    keep = np.empty(pool.size, dtype=np.int64)
    k = 0
    for row in pool:
        if W.hours_left[row] > 0:
            keep[k] = row
            k += 1
    return keep[:k]


# Familiarity -----------------------------------------------------------------------------------


@njit(cache=True)
def familiarity_lookup(
    P: PeopleArrays, persons: np.ndarray, workers: np.ndarray, t: int, fade_days: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Familiarity today of each (person, worker) pair, with the slot it is kept in and whether it exists."""
    m = persons.size
    fam = np.zeros(m)
    slot = np.zeros(m, dtype=np.int64)
    has = np.zeros(m, dtype=np.bool_)
    for i in range(m):
        p, w = persons[i], workers[i]
        for s in range(P.fam_worker.shape[1]):
            if P.fam_worker[p, s] == w:
                slot[i] = s
                has[i] = True
                fam[i] = P.fam_level[p, s] * math.exp((P.fam_day[p, s] - t) / fade_days)
                break
    return fam, slot, has


@njit(cache=True)
def named_familiarity(P: PeopleArrays, p: int, t: int, fade_days: float) -> float:
    """How well person ``p``'s named worker knows them today (0 without one)."""
    if P.named_worker[p] < 0:
        return 0.0
    return P.named_fam_level[p] * math.exp((P.named_fam_day[p] - t) / fade_days)


@njit(cache=True)
def contact_hours(C: Settings, p: int, kind: int, fam: float) -> float:
    """Hours a contact takes: more with an unfamiliar worker (retelling), more with a communication need."""
    retell = C.retell_extra_frac * (1.0 - fam) * C.comm_mult[p]
    return C.base_hours[kind] * (1.0 + retell)


# Offering and serving --------------------------------------------------------------------------


@njit(cache=True)
def _stable_order(keys: np.ndarray) -> np.ndarray:
    """Indices that sort ``keys`` ascending, ties in their original order."""
    return np.argsort(keys, kind="mergesort")


@njit(cache=True)
def offer(
    P: PeopleArrays,
    W: StaffArrays,
    C: Settings,
    B: Books,
    persons: np.ndarray,
    workers: np.ndarray,
    t: int,
    kind: int,
    overrun: bool,
) -> np.ndarray:
    """Offer each person's contact to a worker; book the hours of those the worker has room for.

    Contacts are taken in the order given. A worker takes contacts while they still have hours at the
    start of one (``overrun``: the last may run over, carried to tomorrow), or only while a contact fits
    whole (``overrun`` false, for optional work such as check-ins). ``kind`` < 0: each person's open
    contact. The contacts served are carried out at the day's flush (``flush``).

    Returns:
        Boolean mask over ``persons``: which contacts were served.
    """
    m = persons.size
    served = np.zeros(m, dtype=np.bool_)
    if m == 0:
        return served
    kinds = np.empty(m, dtype=np.int64)
    for i in range(m):
        kinds[i] = P.open_kind[persons[i]] if kind < 0 else kind
    fam, slot, has = familiarity_lookup(P, persons, workers, t, C.familiarity_fade_days)
    hours = np.empty(m)
    for i in range(m):
        hours[i] = contact_hours(C, persons[i], kinds[i], fam[i])
    order = _stable_order(workers)
    # Hours a worker has already been offered today in this call, before each contact (as a running sum).
    cum = 0.0
    group_start = 0.0
    fits_any = False
    for j in range(m):
        i = order[j]
        w = workers[i]
        cum += hours[i]
        before = cum - hours[i]
        if j == 0 or workers[order[j - 1]] != w:
            group_start = before
        before -= group_start
        left = W.hours_left[w]
        ok = before < left if overrun else before + hours[i] <= left + 1e-9
        served[i] = ok
        fits_any = fits_any or ok
    if not fits_any:
        return served
    spent = np.zeros(W.hours_left.size)
    for j in range(m):
        i = order[j]
        if served[i]:
            spent[workers[i]] += hours[i]
    n = B.counts[STAFF_N]
    for row in range(n):
        W.hours_left[row] -= spent[row]
        W.demand[row] += spent[row]
    k = B.counts[N_SERVED]
    for i in range(m):
        if served[i]:
            B.served_person[k] = persons[i]
            B.served_worker[k] = workers[i]
            B.served_kind[k] = kinds[i]
            B.served_hours[k] = hours[i]
            B.served_fam[k] = fam[i]
            B.served_slot[k] = slot[i]
            B.served_has[k] = has[i]
            k += 1
    B.counts[N_SERVED] = k
    return served


@njit(cache=True)
def flush(P: PeopleArrays, C: Settings, B: Books, t: int) -> None:
    """Carry out the contacts offered and accepted so far today (their hours are already booked)."""
    k = B.counts[N_SERVED]
    if k == 0:
        return
    B.counts[N_SERVED] = 0
    serve_contacts(
        P,
        C,
        B,
        B.served_person[:k].copy(),
        B.served_worker[:k].copy(),
        B.served_kind[:k].copy(),
        B.served_hours[:k].copy(),
        B.served_fam[:k].copy(),
        B.served_slot[:k].copy(),
        B.served_has[:k].copy(),
        t,
    )


@njit(cache=True)
def serve_contacts(
    P: PeopleArrays,
    C: Settings,
    B: Books,
    persons: np.ndarray,
    workers: np.ndarray,
    kinds: np.ndarray,
    hours: np.ndarray,
    fam: np.ndarray,
    slot: np.ndarray,
    has: np.ndarray,
    t: int,
) -> None:
    """Contacts happen (hours already booked): risk falls with quality, familiarity grows, it is logged."""
    row = B.daily[t]
    m = persons.size
    for i in range(m):
        p, w, kind, f = persons[i], workers[i], kinds[i], fam[i]
        queued = kind == REVIEW or kind == REACTIVE
        wait = t - P.open_since[p] if queued else 0
        quality = C.quality_base + C.familiarity_quality_gain * f - C.quality_wait_loss_per_day * wait
        quality = min(max(quality, 0.0), 1.0)
        reduction = C.risk_reduction * quality
        if C.unfamiliar_detection_loss:  # an unfamiliar worker notices less of the risk that is there
            reduction = reduction * (1.0 - C.unfamiliar_detection_loss * (1.0 - f))
        P.risk[p] *= 1.0 - reduction
        _learn(P, C, p, w, f, slot[i], has[i], t)
        P.last_contact[p] = t
        if queued or (kind == CRISIS and P.open_kind[p] == REACTIVE):
            P.open_kind[p] = 0
        if kind == REVIEW:
            P.next_review[p] = t + C.review_interval_days
            if P.fluctuating[p]:
                a = B.counts[N_ASSESS]
                B.assess_person[a] = p
                B.assess_worker[a] = w
                B.counts[N_ASSESS] = a + 1
            row[REVIEWS] += 1
        elif kind == REACTIVE:
            row[REACTIVE_CONTACTS] += 1
        elif kind == CHECKIN:  # the next proactive contact is one interval (by need level) after this one
            P.next_checkin[p] = t + np.int64(math.ceil(B.checkin_interval[p]))
            row[CHECKINS] += 1
        elif kind == CRISIS:
            row[CRISIS_CONTACTS] += 1
        if f < C.retell_familiarity_threshold:
            row[RETELLINGS] += 1
        if queued:
            row[WAIT_DAYS] += wait
            row[WAITED_CONTACTS] += 1
        n = B.counts[N_LOG]
        B.log_person[n] = p
        B.log_worker[n] = w
        B.log_day[n] = t
        B.log_kind[n] = kind
        B.log_hours[n] = hours[i]
        B.log_wait[n] = wait
        B.log_fam[n] = f
        B.counts[N_LOG] = n + 1
    row[CONTACTS] += m
    row[HOURS_SERVED] += pairwise_sum(hours)


@njit(cache=True)
def _learn(P: PeopleArrays, C: Settings, p: int, w: int, fam: float, slot: int, has: bool, t: int) -> None:
    """Familiarity closes part of its gap to 1; a new pair takes the slot of the least-known worker."""
    new = fam + C.familiarity_learning_frac * (1.0 - fam)
    if not has:
        best = np.inf
        slot = 0
        for s in range(P.fam_worker.shape[1]):
            known = P.fam_worker[p, s]
            current = P.fam_level[p, s] * math.exp((P.fam_day[p, s] - t) / C.familiarity_fade_days)
            if known == NO_ONE:
                current = -1.0
            if known == P.named_worker[p]:  # keep the named worker
                current = np.inf
            if current < best or s == 0:
                best = current
                slot = s
    P.fam_worker[p, slot] = w
    P.fam_level[p, slot] = new
    P.fam_day[p, slot] = t
    if w == P.named_worker[p]:
        P.named_fam_level[p] = new
        P.named_fam_day[p] = t


@njit(cache=True)
def respond(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, persons: np.ndarray, workers: np.ndarray, t: int):
    """Crisis responses are contacts: they cost hours (over-run allowed) and build familiarity, at once."""
    m = persons.size
    fam, slot, has = familiarity_lookup(P, persons, workers, t, C.familiarity_fade_days)
    kinds = np.full(m, CRISIS, dtype=np.int64)
    hours = np.empty(m)
    for i in range(m):
        hours[i] = contact_hours(C, persons[i], CRISIS, fam[i])
    spent = np.zeros(W.hours_left.size)
    for i in range(m):
        spent[workers[i]] += hours[i]
    for row in range(B.counts[STAFF_N]):
        W.hours_left[row] -= spent[row]
        W.demand[row] += spent[row]
    serve_contacts(P, C, B, persons, workers, kinds, hours, fam, slot, has, t)


@njit(cache=True)
def open_queue(P: PeopleArrays, t: int) -> np.ndarray:
    """People with an open contact, in priority order: reactive before reviews, longest waiting first."""
    queue = np.flatnonzero(P.open_kind > 0)
    return sort_by_priority(P, queue)


@njit(cache=True)
def sort_by_priority(P: PeopleArrays, persons: np.ndarray) -> np.ndarray:
    """``persons`` in priority order (urgent kind first, then the longest wait; ties keep their order)."""
    key = np.empty(persons.size, dtype=np.int64)
    for i in range(persons.size):
        p = persons[i]
        key[i] = -np.int64(P.open_kind[p]) * 1_000_000 + P.open_since[p]
    return persons[_stable_order(key)]
