"""StaffingModel: one community team under one staffing system, one day per step.

The daily schedule in ``step`` reads as the process list of docs/ODD.md; each process is a compiled
(numba) function in this file, working on the arrays of ``People`` and ``Staff``. ``run`` runs whole
stretches of days in one compiled call (``run_days``, the same schedule), so a run costs arithmetic,
not Python calls. Mesa agents are views onto the same arrays, step by step or after a run.
"""

from __future__ import annotations

import itertools
import math

import mesa
import numpy as np
import pandas as pd
from numba import njit
from scipy.special import gammaincinv, ndtri

from sim import staffing
from sim.agents import Person, Worker
from sim.contacts import (
    ABSENT,
    ADMISSIONS,
    AGENCY_HEADCOUNT,
    AGENCY_LEAVERS,
    ASSESSMENTS,
    BACKLOG,
    BED_DAYS,
    BREAKDOWNS,
    CRISES,
    DELAYED_DAYS,
    DISCHARGES,
    EMERGENCY_DAYS,
    EV_ABSENCES,
    EV_ADMISSIONS,
    EV_AGENCY,
    EV_ASSESSMENTS,
    EV_CRISES,
    EV_PLACEMENTS,
    EV_VACANCIES,
    EXITS,
    FIRST_ADMISSIONS,
    FTE_AGENCY,
    FTE_AP,
    FTE_SW,
    HEADCOUNT,
    HIRES,
    INPATIENT_DAYS_SO_FAR,
    INPATIENTS_OVER_2_YEARS,
    INPATIENTS_OVER_10_YEARS,
    LEAVERS,
    MEAN_CASELOAD,
    MEAN_STRESS,
    N_ASSESS,
    N_LIFE,
    N_LOG,
    N_SERIES,
    N_STAYS,
    PENDING,
    PEOPLE,
    READMISSIONS,
    REFERRALS,
    RESTRICTIVE_DAYS,
    RESTRICTIVE_PLACEMENTS,
    STAFF_CHANGED,
    STAFF_N,
    VACANT_FTE,
    WRONG_FINDINGS,
    Books,
    Draws,
    PeopleArrays,
    Policy,
    Settings,
    StaffArrays,
    as_struct,
    familiarity_lookup,
    flush,
    named_familiarity,
    pairwise_sum,
    respond,
    with_open_contact,
)
from sim.params import Config
from sim.population import (
    ADVANCED_PRACTITIONER,
    AGENCY,
    AWAY,
    COMMUNITY,
    INPATIENT,
    NO_ONE,
    REACTIVE,
    RESIDENTIAL,
    REVIEW,
    SOCIAL_WORKER,
    People,
    Staff,
    growth_posts,
    post_layout,
)
from sim.staffing import SYSTEMS, StaffingSystem
from sim.streams import Streams

DAYS_PER_YEAR = 365
#: Census thresholds of NHS Digital's Assuring Transformation statistics: inpatients in hospital over 2 and
#: over 10 years on the census day (a measurement definition, not a model parameter).
CENSUS_LONG_STAY_DAYS = (2 * DAYS_PER_YEAR, 10 * DAYS_PER_YEAR)

#: Daily team-level series recorded by every run (flows are counts that day, stocks are end-of-day values),
#: in the column order of ``sim.contacts`` (CRISES, ADMISSIONS, ...).
SERIES = (
    "crises",
    "admissions",
    "first_admissions",
    "readmissions",
    "discharges",
    "breakdowns",
    "restrictive_placements",
    "assessments",
    "wrong_findings",
    "bed_days",
    "inpatients_over_2_years",
    "inpatients_over_10_years",
    "inpatient_days_so_far",
    "delayed_days",
    "emergency_days",
    "restrictive_days",
    "contacts",
    "reactive_contacts",
    "reviews",
    "checkins",
    "crisis_contacts",
    "retellings",
    "hours_served",
    "wait_days",
    "waited_contacts",
    "backlog",
    "pending",
    "headcount",
    "agency_headcount",
    "fte_sw",
    "fte_ap",
    "fte_agency",
    "vacant_fte",
    "absent",
    "leavers",
    "agency_leavers",
    "hires",
    "mean_stress",
    "mean_caseload",
    "people",
    "referrals",
    "exits",
    "referrals_allocated",
    "referral_allocation_wait_days",
)
S = {name: i for i, name in enumerate(SERIES)}
assert len(SERIES) == N_SERIES

LOG_COLUMNS = ("person", "worker", "day", "kind", "hours", "wait", "familiarity")


def daily_probability(rate_per_year: np.ndarray | float) -> np.ndarray | float:
    """Chance of at least one event in a day at a yearly rate: 1 - exp(-rate / 365)."""
    return -np.expm1(-np.asarray(rate_per_year) / DAYS_PER_YEAR)


# Processes (compiled) -----------------------------------------------------------------------------


@njit(cache=True, inline="always")
def start_day(W: StaffArrays, C: Settings, t: int) -> None:
    """Each present worker's casework hours for today, less yesterday's over-run."""
    for post in range(W.holder.size):
        r = W.holder[post]
        if r < 0:
            continue
        if W.absent_until[r] <= t:
            W.hours_left[r] = C.casework_hours_per_day * W.fte[r] - W.debt[r]
            W.debt[r] = 0.0
        else:
            W.hours_left[r] = 0.0
        W.demand[r] = 0.0


@njit(cache=True)
def caseload(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, t: int) -> None:
    """People come and go: today's referrals join, today's leavers go (both drawn up front, the same in every arm).

    A referral is assessed on arrival (``next_review`` is the arrival day) and, where named workers serve them,
    waits in the pending tray. A leaver's open contact ends, their named worker's place is freed and any stay or
    placement ends; their history stays in the logs. On days when nobody comes or goes (every day of a static
    caseload) nothing is looked at.
    """
    if not C.caseload_changes[t]:
        return
    referred = left = 0
    for p in range(P.risk.size):
        if P.arrive_day[p] == t and t > 0:
            P.setting[p] = COMMUNITY
            P.active[p] = True
            P.pending_since[p] = t
            referred += 1
        elif P.exit_day[p] == t:
            worker = P.named_worker[p]
            if worker >= 0:
                W.caseload[worker] -= 1
                P.named_worker[p] = NO_ONE
            P.setting[p] = AWAY
            P.active[p] = False
            P.setting_until[p] = NO_ONE
            P.delayed[p] = False
            P.restrictive[p] = False
            P.readmit_until[p] = NO_ONE
            P.open_kind[p] = 0
            left += 1
    B.daily[t, REFERRALS] = referred
    B.daily[t, EXITS] = left


@njit(cache=True)
def life(P: PeopleArrays, C: Settings, B: Books, D: Draws, t: int) -> None:
    """Risk drifts up by need level; life events add a jump (drawn for everyone, so both arms match)."""
    u = D.event[t - D.first_day]
    k = B.counts[N_LIFE]
    for p in range(P.risk.size):
        if P.setting[p] == AWAY:  # not on the caseload today
            continue
        risk = P.risk[p] + C.drift_per_day[p]
        if u[p] < C.p_life_event:
            risk += C.event_risk_jump
            B.life_person[k] = p
            B.life_day[k] = t
            k += 1
        P.risk[p] = min(risk, 1.0)
    B.counts[N_LIFE] = k


@njit(cache=True)
def demand(P: PeopleArrays, C: Settings, D: Draws, t: int) -> None:
    """Reactive calls (with call confidence in a known worker) and scheduled reviews open contacts."""
    u = D.call[t - D.first_day]
    gain = C.call_confidence_gain
    known = False
    if gain:  # nobody known by a named worker: nothing to gain
        for p in range(P.risk.size):
            if P.named_worker[p] >= 0:
                known = True
                break
    most = 1.0 + gain if known else 1.0  # the largest the call-confidence factor can be (familiarity <= 1)
    for p in range(P.risk.size):
        if P.active[p] and P.open_kind[p] != REACTIVE:
            rate = C.call_per_day[p] + C.call_risk_per_day[p] * P.risk[p]
            # A call comes when the day's rate reaches the unit-exponential threshold -log(1 - u) >= u, so a
            # rate below u (even at the largest factor) cannot reach it: the threshold is computed only if needed.
            if rate * most >= u[p]:
                if known:
                    rate *= 1.0 + gain * named_familiarity(P, p, t, C.familiarity_fade_days)
                if rate >= -math.log1p(-u[p]):
                    P.open_kind[p] = REACTIVE
                    P.open_since[p] = t
        if P.next_review[p] <= t and P.open_kind[p] == 0 and P.active[p]:
            P.open_kind[p] = REVIEW
            P.open_since[p] = t


@njit(cache=True)
def crises(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, t: int) -> None:
    """Crises by risk; the responder's familiarity and recent contact lower escalation."""
    u = D.crisis[t - D.first_day]
    persons = np.empty(P.risk.size, dtype=np.int64)
    m = 0
    for p in range(P.risk.size):
        if not P.active[p]:
            continue
        hazard = C.crisis_base_per_day + C.crisis_risk_per_day * P.risk[p]
        if P.readmit_until[p] > t:  # discharged from hospital within the readmission window
            hazard = hazard * C.readmission_crisis_multiplier
        # The threshold -log(1 - u) is at least u: computed only when the hazard could reach it.
        if hazard >= u[p] and hazard >= -math.log1p(-u[p]):
            persons[m] = p
            m += 1
    if m == 0:
        return
    persons = persons[:m]
    B.daily[t, CRISES] += persons.size
    responders = staffing.crisis_responders(P, W, Y, persons, t)
    met = responders >= 0
    # Looked up for everyone and cleared where no one responded: a masked assignment of an array would
    # compile numba's shape-mismatch error path (about 5 s of the first compile) for the same values.
    fam = familiarity_lookup(P, persons, responders, t, C.familiarity_fade_days)[0]
    for i in range(m):
        if not met[i]:
            fam[i] = 0.0
    admit = np.zeros(m, dtype=np.bool_)
    breakdown = np.zeros(m, dtype=np.bool_)
    readmit = np.zeros(m, dtype=np.bool_)
    for i in range(m):
        p = persons[i]
        recent = (t - P.last_contact[p]) <= C.prevention_window_days
        escalation = (1 - C.advocacy_admission_reduction * fam[i]) * (
            1 - C.prevention_admission_reduction if recent else 1.0
        )
        readmit[i] = t < P.readmit_until[p]
        k = P.n_crises[p]
        P.n_crises[p] = k + 1
        _note_event(B, EV_CRISES, k + 1)
        p_admit = min(1.0, C.p_admission * escalation * (C.readmission_multiplier if readmit[i] else 1.0))
        admit[i] = D.admit[p, k] < p_admit
        breakdown[i] = not admit[i] and D.breakdown[p, k] < min(1.0, C.p_breakdown * escalation)
    if met.any():
        respond(P, W, C, B, persons[met], responders[met], t)
    for i in range(m):
        p = persons[i]
        P.risk[p] *= C.risk_after_frac
        if not admit[i] and met[i] and P.fluctuating[p]:
            a = B.counts[N_ASSESS]
            B.assess_person[a] = p
            B.assess_worker[a] = responders[i]
            B.counts[N_ASSESS] = a + 1
    if admit.any():
        _admit(P, B, D, persons[admit], readmit[admit], t)
    if breakdown.any():
        _place(P, C, B, D, persons[breakdown], t, False)


@njit(cache=True)
def _admit(P: PeopleArrays, B: Books, D: Draws, persons: np.ndarray, readmit: np.ndarray, t: int) -> None:
    """Hospital admission with a log-normal stay drawn from the person's k-th stay uniform."""
    row = B.daily[t]
    row[ADMISSIONS] += persons.size
    for i in range(persons.size):
        p = persons[i]
        k = P.n_admissions[p]
        P.n_admissions[p] = k + 1
        _note_event(B, EV_ADMISSIONS, k + 1)
        stay = D.stay[p, k]
        n = B.counts[N_STAYS]
        B.stays[n] = stay
        B.counts[N_STAYS] = n + 1
        if not P.ever_admitted[p]:
            row[FIRST_ADMISSIONS] += 1
        if readmit[i]:
            row[READMISSIONS] += 1
        P.ever_admitted[p] = True
        P.admitted_day[p] = t
        P.setting[p] = INPATIENT
        P.setting_until[p] = t + stay
        P.delayed[p] = False
        P.restrictive[p] = False
        P.open_kind[p] = 0
        P.active[p] = False


@njit(cache=True)
def _place(P: PeopleArrays, C: Settings, B: Books, D: Draws, persons: np.ndarray, t: int, restrictive: bool) -> None:
    """Residential placement (emergency after a breakdown, restrictive after a wrong finding)."""
    mean = C.restrictive_stay_mean_days if restrictive else C.emergency_stay_mean_days
    for p in persons:
        k = P.n_placements[p]
        P.n_placements[p] = k + 1
        _note_event(B, EV_PLACEMENTS, k + 1)
        days = max(1, np.int64(math.ceil(-mean * math.log1p(-D.placement[p, k]))))
        P.setting[p] = RESIDENTIAL
        P.setting_until[p] = t + days
        P.restrictive[p] = restrictive
    B.daily[t, RESTRICTIVE_PLACEMENTS if restrictive else BREAKDOWNS] += persons.size


@njit(cache=True)
def hospital_and_placements(P: PeopleArrays, C: Settings, B: Books, D: Draws, t: int) -> None:
    """Stays end: a discharge may be delayed (less so with a known named worker); placements end."""
    discharges = 0
    for p in range(P.risk.size):
        if P.setting_until[p] != t:
            continue
        if P.setting[p] == INPATIENT:
            if not P.delayed[p]:
                coordination = C.discharge_coordination_reduction * named_familiarity(P, p, t, C.familiarity_fade_days)
                k = P.n_admissions[p]  # the stay's draws: column k (column 0 for a stay under way on day 0)
                if D.delayed[p, k] < C.p_delayed_discharge * (1 - coordination):
                    extra = max(1, np.int64(math.ceil(-C.delay_mean_days * math.log1p(-D.delay_length[p, k]))))
                    P.setting_until[p] = t + extra
                    P.delayed[p] = True
                    continue
            P.setting[p] = COMMUNITY
            P.setting_until[p] = NO_ONE
            P.delayed[p] = False
            P.risk[p] = C.discharge_risk
            P.readmit_until[p] = t + C.readmission_window_days
            P.next_review[p] = t + 1  # a review on return home
            P.active[p] = True
            discharges += 1
        elif P.setting[p] == RESIDENTIAL:
            P.setting[p] = COMMUNITY
            P.setting_until[p] = NO_ONE
            P.restrictive[p] = False
            P.next_review[p] = t + 1
    B.daily[t, DISCHARGES] += discharges


@njit(cache=True)
def capacity_assessments(P: PeopleArrays, C: Settings, B: Books, D: Draws, t: int) -> None:
    """Assessments from today's reviews and crises; a wrong finding may mean a restrictive placement."""
    n = B.counts[N_ASSESS]
    if n == 0:
        return
    B.counts[N_ASSESS] = 0
    persons = B.assess_person[:n].copy()
    workers = B.assess_worker[:n].copy()
    keep = np.empty(n, dtype=np.bool_)
    for i in range(n):
        keep[i] = P.setting[persons[i]] != INPATIENT
    persons, workers = persons[keep], workers[keep]
    m = persons.size
    if m == 0:
        return
    fam = familiarity_lookup(P, persons, workers, t, C.familiarity_fade_days)[0]
    k = P.n_assessments[persons]  # read before counting: a person assessed twice today reads one draw
    for i in range(m):
        P.n_assessments[persons[i]] = k[i] + 1
        _note_event(B, EV_ASSESSMENTS, k[i] + 1)
    restrictive = np.zeros(P.risk.size, dtype=np.bool_)
    wrong_findings = 0
    for i in range(m):
        p = persons[i]
        wrong = D.error[p, k[i]] < C.p_error * (1 - C.assessment_error_reduction * fam[i])
        if wrong:
            wrong_findings += 1
            if D.restrictive[p, k[i]] < C.p_restrictive_given_error:
                restrictive[p] = True
    B.daily[t, ASSESSMENTS] += m
    B.daily[t, WRONG_FINDINGS] += wrong_findings
    placed = np.flatnonzero(restrictive)
    if placed.size:
        _place(P, C, B, D, placed, t, True)


@njit(cache=True)
def workforce(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, t: int) -> None:
    """Stress, absence, leaving (overload raises it, named practice lowers it), vacancies and arrivals."""
    posts = np.flatnonzero(W.holder >= 0)
    rows = W.holder[posts]
    # Stress: smoothed (work done + work waiting) / capacity, on days at work.
    open_persons = with_open_contact(P)
    B.daily[t, BACKLOG] = open_persons.size
    waiting = staffing.backlog_hours(P, W, C, Y, open_persons, t)
    u_absence = D.absence[t - D.first_day]
    u_leave = D.leave[t - D.first_day]
    leaving = np.zeros(rows.size, dtype=np.bool_)
    base = C.turnover_per_year * (1 - C.retention[t])
    for i in range(rows.size):
        r, post = rows[i], posts[i]
        at_work = W.absent_until[r] <= t
        if at_work:
            load = (W.demand[r] + waiting[r]) / (C.casework_hours_per_day * W.fte[r])
            W.stress[r] += C.stress_alpha * (load - W.stress[r])
            W.debt[r] = max(0.0, -W.hours_left[r])
            # Absence spells start tomorrow.
            if u_absence[post] < C.p_absence_start:
                k = W.n_absences[post]
                W.n_absences[post] = k + 1
                _note_event(B, EV_ABSENCES, k + 1)
                spell = max(1.0, np.rint(-C.absence_spell_mean_days * math.log1p(-D.spell[post, k])))
                W.absent_until[r] = t + 1 + np.int64(spell)
        # Leaving.
        overload = max(0.0, W.stress[r] - 1.0)
        rate = (base if W.role[r] != AGENCY else C.agency_turnover_per_year) * (1 + C.stress_turnover_gain * overload)
        leaving[i] = u_leave[post] < -math.expm1(-rate / DAYS_PER_YEAR)
    for i in range(rows.size):
        if leaving[i]:
            _leave(P, W, C, B, D, rows[i], t)
    # Posts a growing caseload opens today fall vacant; then agency cover and permanent recruits due today arrive.
    for post in range(W.holder.size):
        if W.post_open_day[post] == t and t > 0 and W.holder[post] < 0 and W.hire_day[post] == NO_ONE:
            _vacancy(W, C, B, D, post, t, True)
        if W.agency_day[post] == t or W.hire_day[post] == t:
            _arrive(P, W, B, post, t)


@njit(cache=True)
def _leave(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, row: int, t: int) -> None:
    """A worker leaves: their post falls vacant and recruitment (and maybe agency cover) begins."""
    post = W.post[row]
    agency = W.role[row] == AGENCY
    B.daily[t, AGENCY_LEAVERS if agency else LEAVERS] += 1
    _end_worker(P, W, B, row, t)
    _vacancy(W, C, B, D, post, t, not agency)


@njit(cache=True)
def _vacancy(W: StaffArrays, C: Settings, B: Books, D: Draws, post: int, t: int, recruit: bool) -> None:
    """A post falls vacant: recruitment begins (unless a recruit is already due), and maybe agency cover."""
    if recruit:
        k = W.n_vacancies[post]
        W.n_vacancies[post] = k + 1
        _note_event(B, EV_VACANCIES, k + 1)
        # The post's k-th vacancy reads column k + 1 (as the array code before it did: column 0 is never read).
        W.hire_day[post] = t + max(1, np.int64(math.ceil(D.lag[post, k + 1])))
    # A vacant post may get an agency worker after the agency start lag, if the recruit is further off.
    start = t + max(1, np.int64(math.ceil(C.agency_start_lag_days)))
    if W.hire_day[post] <= start:
        return
    k = W.n_agency_draws[post]
    W.n_agency_draws[post] = k + 1
    _note_event(B, EV_AGENCY, k + 1)
    if D.agency[post, k + 1] < C.agency_cover_frac:  # column k + 1, as for the recruitment lag
        W.agency_day[post] = start


@njit(cache=True)
def _arrive(P: PeopleArrays, W: StaffArrays, B: Books, post: int, t: int) -> None:
    """A recruit starts (relieving any agency worker), or agency cover starts in a vacant post."""
    if W.hire_day[post] == t:
        if W.holder[post] >= 0:  # the agency worker hands over to the recruit
            _end_worker(P, W, B, W.holder[post], t)
        W.hire_day[post] = NO_ONE
        W.agency_day[post] = NO_ONE
        _start_worker(W, B, post, W.post_role[post], t)
        B.daily[t, HIRES] += 1
    elif W.holder[post] < 0:
        W.agency_day[post] = NO_ONE
        _start_worker(W, B, post, AGENCY, t)


@njit(cache=True, inline="always")
def _start_worker(W: StaffArrays, B: Books, post: int, role: int, t: int) -> None:
    row = B.counts[STAFF_N]
    B.counts[STAFF_N] = row + 1
    B.counts[STAFF_CHANGED] = 1
    W.post[row] = post
    W.role[row] = role
    W.fte[row] = W.post_fte[post]
    W.start_day[row] = t
    W.end_day[row] = NO_ONE
    W.holder[post] = row
    W.absent_until[row] = 0
    W.stress[row] = 0.0
    W.caseload[row] = 0


@njit(cache=True, inline="always")
def _end_worker(P: PeopleArrays, W: StaffArrays, B: Books, row: int, t: int) -> None:
    W.end_day[row] = t
    B.counts[STAFF_CHANGED] = 1
    W.holder[W.post[row]] = NO_ONE
    staffing.worker_left(P, W, row, t)


@njit(cache=True)
def account(P: PeopleArrays, W: StaffArrays, B: Books, Y: Policy, t: int) -> None:
    """End-of-day stocks: beds, placements, staffing, stress and caseload."""
    row = B.daily[t]
    inpatients = residential = restrictive = delayed = over_2 = over_10 = present = 0
    so_far_total = 0
    for p in range(P.risk.size):
        present += P.setting[p] != AWAY
        if P.setting[p] == INPATIENT:  # the census: how long each inpatient has been in hospital so far
            inpatients += 1
            so_far = t - P.admitted_day[p]
            over_2 += so_far > 2 * DAYS_PER_YEAR
            over_10 += so_far > 10 * DAYS_PER_YEAR
            so_far_total += so_far
        elif P.setting[p] == RESIDENTIAL:
            residential += 1
        restrictive += P.restrictive[p]
        delayed += P.delayed[p]
    row[PEOPLE] = present
    row[BED_DAYS] = inpatients
    if inpatients:
        row[INPATIENTS_OVER_2_YEARS] = over_2
        row[INPATIENTS_OVER_10_YEARS] = over_10
        row[INPATIENT_DAYS_SO_FAR] = so_far_total
    row[DELAYED_DAYS] = delayed
    row[RESTRICTIVE_DAYS] = restrictive
    row[EMERGENCY_DAYS] = residential - restrictive
    rows = W.holder[W.holder >= 0]
    stocks = B.staff_stocks
    if B.counts[STAFF_CHANGED]:  # staffing stocks change only when someone starts or leaves
        agency = W.role[rows] == AGENCY
        fte = W.fte[rows]
        post_role = W.post_role[W.post[rows]]
        stocks[0] = rows.size - np.count_nonzero(agency)
        stocks[1] = np.count_nonzero(agency)
        stocks[2] = pairwise_sum(fte[post_role == SOCIAL_WORKER])
        stocks[3] = pairwise_sum(fte[post_role == ADVANCED_PRACTITIONER])
        stocks[4] = pairwise_sum(fte[agency])
        stocks[5] = pairwise_sum(W.post_fte[W.post_open_day <= t]) - pairwise_sum(fte[~agency])  # no permanent holder
        B.counts[STAFF_CHANGED] = 0
    row[HEADCOUNT] = stocks[0]
    row[AGENCY_HEADCOUNT] = stocks[1]
    row[FTE_SW] = stocks[2]
    row[FTE_AP] = stocks[3]
    row[FTE_AGENCY] = stocks[4]
    row[VACANT_FTE] = stocks[5]
    absent = 0
    caseload = 0
    n_sw = 0
    for r in rows:
        absent += W.absent_until[r] > t
        if W.post_role[W.post[r]] == SOCIAL_WORKER:
            caseload += W.caseload[r]
            n_sw += 1
    row[ABSENT] = absent
    row[MEAN_STRESS] = pairwise_sum(W.stress[rows]) / rows.size if rows.size else 0.0
    row[PENDING] = staffing.pending(P, Y)
    row[MEAN_CASELOAD] = caseload / n_sw if n_sw else 0.0


@njit(cache=True, inline="always")
def _note_event(B: Books, counter: int, count: int) -> None:
    """Keep the largest event count per counter, so Python can add random columns before they run out."""
    if count > B.max_events[counter]:
        B.max_events[counter] = count


# A day and a run of days (compiled) --------------------------------------------------------------


@njit(cache=True, inline="always")
def has_room(P: PeopleArrays, W: StaffArrays, B: Books, D: Draws) -> bool:
    """Whether the logs, worker rows and per-event random columns can take one more day."""
    n = P.risk.size
    if B.counts[N_LOG] + 3 * n + 8 > B.log_person.size:
        return False
    if B.counts[N_LIFE] + n > B.life_person.size or B.counts[N_STAYS] + n > B.stays.size:
        return False
    if B.counts[STAFF_N] + 2 * W.holder.size > W.post.size:
        return False
    widths = (
        D.admit.shape[1],
        D.stay.shape[1],
        D.placement.shape[1],
        D.error.shape[1],
        D.spell.shape[1],
        D.lag.shape[1],
        D.agency.shape[1],
    )
    for counter in range(7):  # noqa: SIM110 (a loop, not a generator, in compiled code)
        if B.max_events[counter] + 3 > widths[counter]:
            return False
    return True


@njit(cache=True)
def run_days(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, t0: int, t1: int) -> int:
    """Days ``t0 .. t1 - 1`` in one call; stops early (returning the next day) when more room is needed.

    Each day runs the processes in the order of docs/ODD.md section 3, the same list as ``StaffingModel.step``.
    """
    for t in range(t0, t1):
        if not has_room(P, W, B, D):
            return t
        start_day(W, C, t)
        caseload(P, W, C, B, t)
        life(P, C, B, D, t)
        demand(P, C, D, t)
        staffing.serve(P, W, C, B, D, Y, t)  # allocation and service
        flush(P, C, B, t)
        crises(P, W, C, B, D, Y, t)
        hospital_and_placements(P, C, B, D, t)
        capacity_assessments(P, C, B, D, t)
        workforce(P, W, C, B, D, Y, t)
        account(P, W, B, Y, t)
    return t1


#: Per-event random columns: (stream name, counter in ``Books.max_events``, ``Draws`` field, per post?).
EVENT_STREAMS = (
    ("crisis/admission", EV_CRISES, "admit", False),
    ("crisis/breakdown", EV_CRISES, "breakdown", False),
    ("hospital/stay", EV_ADMISSIONS, "stay", False),
    ("hospital/delayed", EV_ADMISSIONS, "delayed", False),
    ("hospital/delay_length", EV_ADMISSIONS, "delay_length", False),
    ("placement/length", EV_PLACEMENTS, "placement", False),
    ("assessment/error", EV_ASSESSMENTS, "error", False),
    ("assessment/restrictive", EV_ASSESSMENTS, "restrictive", False),
    ("workforce/absence_spell", EV_ABSENCES, "spell", True),
    ("workforce/recruitment_lag", EV_VACANCIES, "lag", True),
    ("workforce/agency_cover", EV_AGENCY, "agency", True),
)


class StaffingModel(mesa.Model):
    """A community learning-disability team under the ``arm`` staffing system, replicate ``replicate``.

    Args:
        cfg: a validated config.
        arm: a registered staffing system (a key of ``sim.staffing.SYSTEMS``: duty, named, hybrid, switch, ...).
        replicate: replicate number; with ``cfg.seed`` it fixes every random stream.
        streams: the replicate's random streams, to share with other arms run beside this one (each block of
            random numbers is then drawn once for all of them); by default its own.
    """

    def __init__(self, cfg: Config, arm: str = "named", replicate: int = 0, streams: Streams | None = None) -> None:
        if streams is not None and (streams.seed, streams.replicate) != (cfg.seed, replicate):
            raise ValueError(
                f"streams of seed {streams.seed}, replicate {streams.replicate} given to a model of seed {cfg.seed}, "
                f"replicate {replicate}"
            )
        self.streams = streams or Streams(cfg.seed, replicate)
        super().__init__(rng=self.streams.generator("mesa"))
        self.cfg = cfg
        self.arm = arm
        self.replicate = replicate
        self.day = 0
        self.total_days = cfg.warmup_days + cfg.horizon_days
        self.people = people = People(cfg, self.streams, self.total_days)
        n, start = people.n, people.n_start
        more = n - start  # rows of people referred during the run: their random numbers come from streams of their own

        if arm not in SYSTEMS:
            raise ValueError(f"unknown staffing system {arm!r} (registered: {', '.join(SYSTEMS)})")
        system = SYSTEMS[arm]
        roles, fte = post_layout(cfg, system.extra_fte(cfg))
        n_shared = len(post_layout(cfg)[0])
        open_day = np.where(np.arange(len(roles)) < n_shared, 0, system.extra_posts_open_day(cfg)).astype(np.int64)
        grown = growth_posts(cfg)[1]  # the last shared posts: opened as the caseload grows, then recruited to
        open_day[n_shared - grown.size : n_shared] = grown
        self.staff = Staff(roles, fte, open_day)
        # Per-post random streams are as wide as the largest post layout of any registered system, so every
        # arm reads the same numbers for the same post (common random numbers across arms).
        n_stream_posts = max(len(post_layout(cfg, s.extra_fte(cfg))[0]) for s in SYSTEMS.values())
        self.active = people.active()  # people on the caseload who live outside hospital today

        # Common random numbers: by (person or post, day) or by (person or post, k-th event).
        s = self.streams
        self._u_event = s.daily("life/event", start, extra=more)
        self._u_call = s.daily("demand/call", start, extra=more)
        self._u_crisis = s.daily("crisis/onset", start, extra=more)
        self._u_absence = s.daily("workforce/absence", n_stream_posts)
        self._u_leave = s.daily("workforce/leave", n_stream_posts)
        self._rota = s.daily("staffing/rota", 1)
        self._daily = (self._u_event, self._u_call, self._u_crisis, self._u_absence, self._u_leave, self._rota)
        self._events = {
            name: s.per_event(name, n_stream_posts, extra=0) if by_post else s.per_event(name, start, extra=more)
            for name, _, _, by_post in EVENT_STREAMS
        }
        self._event_blocks = dict.fromkeys(self._events, 0)
        self._columns: dict[str, np.ndarray] = {}  # per ``Draws`` field: the per-event columns drawn so far
        self._columns_for: dict[str, int] = {}  # per ``Draws`` field: the blocks its columns were drawn for

        self.daily = np.zeros((self.total_days, len(SERIES)))
        self.settings = self._settings(cfg)
        self.books = self._new_books(cfg)
        self._draws: Draws | None = None
        self._structs: dict[str, object] = {}  # compiled structures of the named tuples (see ``compiled_state``)
        self._refresh_arrays()

        self.person_agents = [Person(self, row) for row in range(n)]
        self._worker_agents: dict[int, Worker] = {}
        W, B = as_struct(self.staff_arrays), as_struct(self.books)
        for post in range(self.staff.n_posts):
            if open_day[post] <= 0:
                _start_worker(W, B, post, self.staff.post_role[post], 0)
            elif post >= n_shared:  # a post a staffing system adds later: recruited to start on its day
                self.staff.hire_day[post] = open_day[post]
            # A post the growth opens stays empty until its day, when ``workforce`` starts recruiting.
        self._finish(0)  # the workers in post on day 0, as Mesa agents
        self._seed_inpatients()
        self.system: StaffingSystem = system(self)
        self.books.checkin_interval[:] = self.system.checkin_interval_days
        self.policy = self.system.policy()
        self.system.setup()
        self.settings.retention[:] = [self.system.retention(t) for t in range(self.total_days)]

    # Mesa schedule --------------------------------------------------------------------------

    def step(self) -> None:
        """One day, in the order of docs/ODD.md section 3 (each process compiled; ``run_days`` has the same list)."""
        t = self.day
        if t >= self.total_days:
            return
        P, W, C, B, D, Y = self._prepare(t)
        start_day(W, C, t)
        caseload(P, W, C, B, t)
        life(P, C, B, D, t)
        demand(P, C, D, t)
        staffing.serve(P, W, C, B, D, Y, t)  # allocation and service
        flush(P, C, B, t)
        crises(P, W, C, B, D, Y, t)
        hospital_and_placements(P, C, B, D, t)
        capacity_assessments(P, C, B, D, t)
        workforce(P, W, C, B, D, Y, t)
        account(P, W, B, Y, t)
        self._finish(t + 1)

    def run(self) -> StaffingModel:
        """Run the warm-up and the measured horizon (whole years per compiled call)."""
        while self.day < self.total_days:
            self.advance()
        return self

    def advance(self) -> StaffingModel:
        """Run to the end of the current year of random numbers (or of the run) in one compiled call.

        Arms that share their streams are run a year at a time in turn (``sim.runner.run_arms``), so each year's
        random numbers are drawn once for all of them.
        """
        start = t = self.day
        if t < self.total_days:
            block_end = (t // self._u_event.block_days + 1) * self._u_event.block_days
            reached = run_days(*self._prepare(t), t, min(self.total_days, block_end))
            self._finish(reached)
        # Mesa's clock, as if each day had been a step.
        self.steps += self.day - start
        self.time = float(self.day)
        return self

    # Compiled state -------------------------------------------------------------------------

    def _prepare(self, t: int) -> tuple:
        """Structures for compiled code from day ``t``: random blocks that cover it, room for one more day."""
        block_days = self._u_event.block_days
        block = t // block_days
        if (
            self._draws is None
            or self._draws.first_day != block * block_days
            or any(u.drawn != block for u in self._daily)  # another model on these streams has drawn over it
        ):
            self._draws = self._new_draws(block)
            self._structs.pop("draws", None)
        P, W, C, B, D, Y = self.compiled_state()
        while not has_room(P, W, B, D):
            self._make_room()
            P, W, C, B, D, Y = self.compiled_state()
        return P, W, C, B, D, Y

    def compiled_state(self) -> tuple:
        """The model's arrays as compiled code takes them: people, staff, settings, books, draws, policy."""
        if self._draws is None:
            self._draws = self._new_draws(self.day // self._u_event.block_days)
        refs = self._structs
        for name in ("people_arrays", "staff_arrays", "settings", "books", "draws", "policy"):
            if name not in refs:
                refs[name] = as_struct(self._draws if name == "draws" else getattr(self, name))
        return tuple(refs[name] for name in ("people_arrays", "staff_arrays", "settings", "books", "draws", "policy"))

    def _finish(self, reached: int) -> None:
        """After compiled days: the clock, the worker count and the Mesa worker agents."""
        self.day = reached
        if self.day >= self.total_days:
            self.running = False
        st = self.staff
        new = int(self.books.counts[STAFF_N])
        for row in range(st.n, new):
            self._worker_agents[row] = Worker(self, row)
        st.n = new
        for row in [r for r in self._worker_agents if st.end_day[r] != NO_ONE]:
            self._worker_agents.pop(row).remove()

    def _refresh_arrays(self) -> None:
        people, st = self.people, self.staff
        self._structs.pop("people_arrays", None)
        self._structs.pop("staff_arrays", None)
        self.people_arrays = PeopleArrays(
            **{f: getattr(people, f) for f in PeopleArrays._fields if f != "active"}, active=self.active
        )
        self.staff_arrays = StaffArrays(**{f: getattr(st, f) for f in StaffArrays._fields})

    def _make_room(self) -> None:
        """Double what is about to run out (logs, worker rows) or add a block of per-event random columns."""
        B, n = self.books, self.people.n
        grow = {}
        if B.counts[N_LOG] + 3 * n + 8 > B.log_person.size:
            grow.update({f: _doubled(getattr(B, f)) for f in B._fields if f.startswith("log_")})
        if B.counts[N_LIFE] + n > B.life_person.size:
            grow.update(life_person=_doubled(B.life_person), life_day=_doubled(B.life_day))
        if B.counts[N_STAYS] + n > B.stays.size:
            grow.update(stays=_doubled(B.stays))
        if grow:
            self.books = B._replace(**grow)
            self._structs.pop("books", None)
        if B.counts[STAFF_N] + 2 * self.staff.n_posts > self.staff.post.size:
            self.staff.grow()
            self._refresh_arrays()
        for name, counter, _, _ in EVENT_STREAMS:
            if B.max_events[counter] + 3 > self._events[name].per_block * self._event_blocks[name]:
                self._event_blocks[name] += 1
                self._draws = None
        if self._draws is None:
            self._draws = self._new_draws(self.day // self._u_event.block_days)
            self._structs.pop("draws", None)

    def _new_draws(self, block: int) -> Draws:
        """Random numbers for compiled code: the daily block ``block`` and the per-event columns so far."""
        columns = self._event_columns()
        return Draws(
            first_day=block * self._u_event.block_days,
            event=self._u_event.block(block),
            call=self._u_call.block(block),
            crisis=self._u_crisis.block(block),
            absence=self._u_absence.block(block),
            leave=self._u_leave.block(block),
            rota=self._rota.block(block),
            **columns,
        )

    def _event_columns(self) -> dict[str, np.ndarray]:
        """Per-event random columns of every stream, as many blocks as each needs so far (stays and lags drawn).

        Only a stream that needs more blocks than it has is drawn again (a run adds blocks a few times, one
        stream at a time).
        """
        h, w = self.cfg.hospital, self.cfg.workforce
        for name, _, field, _ in EVENT_STREAMS:
            blocks = self._event_blocks[name] = max(1, self._event_blocks[name])
            if self._columns_for.get(field) == blocks:
                continue
            column = self._events[name].columns(blocks)
            if field in ("delayed", "delay_length"):
                # A stay under way on day 0 (seeded inpatients, admission count 0) reads the draw before the
                # first column (the last of block -1): column 0 here, so stay k's draws are column k + 1.
                column = np.concatenate((self._events[name]._block(-1)[:, -1:], column), axis=1)
            elif field == "stay":
                stay_mu = math.log(h.stay_mean_days) - h.stay_sigma**2 / 2
                column = np.maximum(1, np.rint(np.exp(stay_mu + h.stay_sigma * ndtri(column)))).astype(np.int64)
            elif field == "lag":
                shape = w.recruitment_lag_shape
                column = w.recruitment_lag_days / shape * gammaincinv(shape, column)
            self._columns[field], self._columns_for[field] = column, blocks
        return self._columns

    def _settings(self, cfg: Config) -> Settings:
        """The processes' parameters in per-day units, and the per-person rates by need level."""
        c, h, w, e, cr, a, p = (
            cfg.contacts,
            cfg.hospital,
            cfg.workforce,
            cfg.effects,
            cfg.crisis,
            cfg.assessment,
            cfg.placement,
        )
        need = self.people.need
        return Settings(
            casework_hours_per_day=w.casework_hours_per_day,
            p_life_event=float(daily_probability(cfg.life.events_per_year)),
            event_risk_jump=cfg.life.event_risk_jump,
            call_confidence_gain=e.call_confidence_gain,
            crisis_base_per_day=cr.base_per_year / DAYS_PER_YEAR,
            crisis_risk_per_day=cr.risk_per_year / DAYS_PER_YEAR,
            readmission_crisis_multiplier=h.readmission_crisis_multiplier,
            prevention_window_days=int(cr.prevention_window_days),
            advocacy_admission_reduction=e.advocacy_admission_reduction,
            prevention_admission_reduction=e.prevention_admission_reduction,
            p_admission=cr.p_admission,
            readmission_multiplier=h.readmission_multiplier,
            p_breakdown=cr.p_breakdown,
            risk_after_frac=cr.risk_after_frac,
            emergency_stay_mean_days=p.emergency_stay_mean_days,
            restrictive_stay_mean_days=p.restrictive_stay_mean_days,
            discharge_coordination_reduction=e.discharge_coordination_reduction,
            p_delayed_discharge=h.p_delayed_discharge,
            delay_mean_days=h.delay_mean_days,
            discharge_risk=h.discharge_risk,
            readmission_window_days=int(h.readmission_window_days),
            p_error=a.p_error,
            assessment_error_reduction=e.assessment_error_reduction,
            p_restrictive_given_error=a.p_restrictive_given_error,
            stress_alpha=-math.expm1(-1 / w.stress_smoothing_days),
            p_absence_start=w.absence_frac / (w.absence_spell_mean_days * (1 - w.absence_frac)),
            absence_spell_mean_days=w.absence_spell_mean_days,
            stress_turnover_gain=w.stress_turnover_gain,
            turnover_per_year=w.turnover_per_year,
            agency_turnover_per_year=w.agency_turnover_per_year,
            agency_start_lag_days=w.agency_start_lag_days,
            agency_cover_frac=w.agency_cover_frac,
            quality_base=c.quality_base,
            familiarity_quality_gain=e.familiarity_quality_gain,
            quality_wait_loss_per_day=c.quality_wait_loss_per_day,
            risk_reduction=c.risk_reduction,
            unfamiliar_detection_loss=e.unfamiliar_detection_loss,
            review_interval_days=int(c.review_interval_days),
            retell_familiarity_threshold=c.retell_familiarity_threshold,
            retell_extra_frac=e.retell_extra_frac,
            familiarity_fade_days=c.familiarity_fade_days,
            familiarity_learning_frac=c.familiarity_learning_frac,
            base_hours=np.array([0.0, c.hours.review, c.hours.reactive, c.hours.checkin, c.hours.crisis]),
            comm_mult=np.where(self.people.communication, c.communication_retell_multiplier, 1.0),
            drift_per_day=np.array(cfg.life.risk_drift_per_year.as_tuple())[need] / DAYS_PER_YEAR,
            call_per_day=(call := np.array(c.reactive_per_year.as_tuple())[need] / DAYS_PER_YEAR),
            call_risk_per_day=call * c.reactive_risk_gain,
            retention=np.zeros(self.total_days),
            caseload_changes=self.people.change_days(self.total_days),
        )

    def _new_books(self, cfg: Config) -> Books:
        """Empty logs (sized for a typical run; doubled when they fill), today's buffers and counters."""
        n = self.people.n
        years = max(1.0, self.total_days / DAYS_PER_YEAR)
        log = int(n * years * 12) + 3 * n + 64
        events = int(n * years) + n + 64
        counts = np.zeros(7, dtype=np.int64)
        counts[STAFF_CHANGED] = 1
        return Books(
            daily=self.daily,
            log_person=np.zeros(log, dtype=np.int64),
            log_worker=np.zeros(log, dtype=np.int64),
            log_day=np.zeros(log, dtype=np.int64),
            log_kind=np.zeros(log, dtype=np.int8),
            log_hours=np.zeros(log),
            log_wait=np.zeros(log, dtype=np.int64),
            log_fam=np.zeros(log),
            stays=np.zeros(max(64, n), dtype=np.int64),
            life_person=np.zeros(events, dtype=np.int64),
            life_day=np.zeros(events, dtype=np.int64),
            served_person=np.zeros(2 * n + 8, dtype=np.int64),
            served_worker=np.zeros(2 * n + 8, dtype=np.int64),
            served_kind=np.zeros(2 * n + 8, dtype=np.int64),
            served_hours=np.zeros(2 * n + 8),
            served_fam=np.zeros(2 * n + 8),
            served_slot=np.zeros(2 * n + 8, dtype=np.int64),
            served_has=np.zeros(2 * n + 8, dtype=np.bool_),
            assess_person=np.zeros(2 * n + 8, dtype=np.int64),
            assess_worker=np.zeros(2 * n + 8, dtype=np.int64),
            counts=counts,
            max_events=np.zeros(7, dtype=np.int64),
            staff_stocks=np.zeros(6),
            checkin_interval=np.full(n, np.inf),
        )

    # Start state ---------------------------------------------------------------------------

    def _seed_inpatients(self) -> None:
        """Start with the inpatient stock the admission hazard and mean stay imply (Little's law)."""
        h, people = self.cfg.hospital, self.people
        rng = self.streams.generator("population/inpatients")
        stock = h.initial_admission_hazard_per_year * h.stay_mean_days / DAYS_PER_YEAR
        inside = np.flatnonzero(rng.random(people.n_start) < stock / (1 + stock))
        # A stay in progress on a census day is length-biased: log-normal with mu + sigma^2; a uniform share remains.
        stay_mu = math.log(h.stay_mean_days) - h.stay_sigma**2 / 2
        biased = np.exp(stay_mu + h.stay_sigma**2 + h.stay_sigma * rng.standard_normal(inside.size))
        remaining = np.maximum(1, np.ceil(rng.random(inside.size) * biased)).astype(np.int64)
        people.setting[inside] = INPATIENT
        people.setting_until[inside] = remaining
        people.admitted_day[inside] = -np.maximum(0, np.rint(biased) - remaining).astype(np.int64)
        people.ever_admitted[inside] = True
        self.active[inside] = False

    # Views for agents, metrics and plots ---------------------------------------------------

    def worker_agent(self, row: int) -> Worker | None:
        """The Mesa agent of worker row ``row`` (None once they have left)."""
        return self._worker_agents.get(row)

    @property
    def worker_agents(self) -> list[Worker]:
        """Workers in post now, as Mesa agents."""
        return list(self._worker_agents.values())

    @property
    def stays(self) -> list[np.ndarray]:
        """Clinical stay lengths drawn at admission so far (days), as one array."""
        return [self.books.stays[: self.books.counts[N_STAYS]].copy()]

    @property
    def life_events(self) -> list[np.ndarray]:
        """People with a life event, one array per day so far."""
        n = self.books.counts[N_LIFE]
        persons, days = self.books.life_person[:n], self.books.life_day[:n]
        bounds = np.searchsorted(days, np.arange(self.day + 1))
        return [persons[a:b].copy() for a, b in itertools.pairwise(bounds)]

    def familiarity_now(self, persons: np.ndarray, workers: np.ndarray) -> np.ndarray:
        """Familiarity of each (person, worker) pair today, 0..1."""
        persons = np.asarray(persons, dtype=np.int64)
        workers = np.asarray(workers, dtype=np.int64)
        P = self.compiled_state()[0]
        return familiarity_lookup(P, persons, workers, self.day, self.cfg.contacts.familiarity_fade_days)[0]

    def contact_log(self) -> pd.DataFrame:
        """Every contact so far: person, worker row, day, kind code, hours, waiting days, familiarity before."""
        B = self.books
        n = B.counts[N_LOG]
        cols = (B.log_person, B.log_worker, B.log_day, B.log_kind, B.log_hours, B.log_wait, B.log_fam)
        return pd.DataFrame({name: col[:n].copy() for name, col in zip(LOG_COLUMNS, cols, strict=True)})

    def series(self) -> pd.DataFrame:
        """The daily team-level series so far, one row per day."""
        frame = pd.DataFrame(self.daily[: self.day], columns=list(SERIES))
        frame.insert(0, "day", np.arange(self.day))
        return frame


def _doubled(a: np.ndarray) -> np.ndarray:
    """``a`` in an array twice its length (the rest zeros)."""
    out = np.zeros(2 * a.size, dtype=a.dtype)
    out[: a.size] = a
    return out
