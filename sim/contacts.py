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
from numba import njit, types
from numba.experimental import structref

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
    PEOPLE,
    REFERRALS,
    EXITS,
    REFERRALS_ALLOCATED,
    REFERRAL_ALLOCATION_WAIT_DAYS,
) = range(44)
N_SERIES = 44

NEVER = np.iinfo(np.int64).max  # a day that never comes
#: Hours by which a contact that must fit whole may exceed a worker's hours left (rounding of the sums).
FIT_TOLERANCE_HOURS = 1e-9

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
    arrive_day: np.ndarray  # day referred (0: on the caseload from the start)
    exit_day: np.ndarray  # day the person leaves the caseload (NEVER: stays)


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
    caseload_changes: np.ndarray  # by model day: whether anyone is referred or leaves that day


class Draws(NamedTuple):
    """Common random numbers for the compiled code: daily blocks (from ``first_day``) and per-event columns."""

    first_day: int
    event: np.ndarray  # (day in block, person): life events
    call: np.ndarray  # (day in block, person): reactive calls (threshold -log(1 - u))
    crisis: np.ndarray  # (day in block, person): crises (threshold -log(1 - u))
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


class Policy(NamedTuple):
    """A staffing system as compiled code sees it: who has a named worker, and the blocks' sizes and switches."""

    named_people: np.ndarray  # by person: served by a named worker (else by the desk)
    move_order: np.ndarray  # people in the order they move to named working from ``move_day``
    move_day: int  # model day people start moving (NEVER: nobody moves)
    move_period_days: float  # days over which everyone moves
    moved: np.ndarray  # [people moved so far]
    first_checkin: np.ndarray  # by person: uniform placing the first check-in within its interval
    ap_posts: np.ndarray  # advanced practitioners' posts
    checkins: bool  # named workers make proactive check-ins from spare hours
    calls: bool  # the desk (or the team) makes welfare calls at the check-in cadence from spare hours
    callers_desk: bool  # welfare calls by the day's desk only (else by everyone present)
    desk_rota: int  # social workers on the desk's daily rota
    cover_rota: int  # social workers on the named system's cover rota
    max_wait_days: int  # days a contact waits for its named worker before cover takes it
    caseload_cap: float  # most people per named worker FTE


# The same, as structures passed by reference: compiled calls pass one pointer each, not every array's fields.
@structref.register
class _Struct(types.StructRef):
    """A numba structure type; each instance (a list of field names and types) is one of the structures below."""

    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


class _StructRef(structref.StructRefProxy):
    """The Python side of any of them: only passed back to compiled code, never read in Python."""


structref.define_boxing(_Struct, _StructRef)

_PEOPLEARRAYS_TYPE = _Struct(
    [
        ("need", types.int8[::1]),
        ("communication", types.boolean[::1]),
        ("fluctuating", types.boolean[::1]),
        ("risk", types.float64[::1]),
        ("setting", types.int8[::1]),
        ("setting_until", types.int64[::1]),
        ("restrictive", types.boolean[::1]),
        ("delayed", types.boolean[::1]),
        ("ever_admitted", types.boolean[::1]),
        ("admitted_day", types.int64[::1]),
        ("readmit_until", types.int64[::1]),
        ("named_worker", types.int64[::1]),
        ("pending_since", types.int64[::1]),
        ("open_kind", types.int8[::1]),
        ("open_since", types.int64[::1]),
        ("next_review", types.int64[::1]),
        ("next_checkin", types.int64[::1]),
        ("last_contact", types.int64[::1]),
        ("fam_worker", types.int64[:, ::1]),
        ("fam_level", types.float64[:, ::1]),
        ("fam_day", types.int64[:, ::1]),
        ("named_fam_level", types.float64[::1]),
        ("named_fam_day", types.int64[::1]),
        ("n_crises", types.int64[::1]),
        ("n_admissions", types.int64[::1]),
        ("n_assessments", types.int64[::1]),
        ("n_placements", types.int64[::1]),
        ("active", types.boolean[::1]),
        ("arrive_day", types.int64[::1]),
        ("exit_day", types.int64[::1]),
    ]
)


@njit(cache=True)
def _peoplearrays_ref(a):
    s = structref.new(_PEOPLEARRAYS_TYPE)
    s.need = a.need
    s.communication = a.communication
    s.fluctuating = a.fluctuating
    s.risk = a.risk
    s.setting = a.setting
    s.setting_until = a.setting_until
    s.restrictive = a.restrictive
    s.delayed = a.delayed
    s.ever_admitted = a.ever_admitted
    s.admitted_day = a.admitted_day
    s.readmit_until = a.readmit_until
    s.named_worker = a.named_worker
    s.pending_since = a.pending_since
    s.open_kind = a.open_kind
    s.open_since = a.open_since
    s.next_review = a.next_review
    s.next_checkin = a.next_checkin
    s.last_contact = a.last_contact
    s.fam_worker = a.fam_worker
    s.fam_level = a.fam_level
    s.fam_day = a.fam_day
    s.named_fam_level = a.named_fam_level
    s.named_fam_day = a.named_fam_day
    s.n_crises = a.n_crises
    s.n_admissions = a.n_admissions
    s.n_assessments = a.n_assessments
    s.n_placements = a.n_placements
    s.active = a.active
    s.arrive_day = a.arrive_day
    s.exit_day = a.exit_day
    return s


_STAFFARRAYS_TYPE = _Struct(
    [
        ("post_role", types.int8[::1]),
        ("post_fte", types.float64[::1]),
        ("post_open_day", types.int64[::1]),
        ("holder", types.int64[::1]),
        ("hire_day", types.int64[::1]),
        ("agency_day", types.int64[::1]),
        ("n_absences", types.int64[::1]),
        ("n_vacancies", types.int64[::1]),
        ("n_agency_draws", types.int64[::1]),
        ("post", types.int64[::1]),
        ("role", types.int8[::1]),
        ("fte", types.float64[::1]),
        ("start_day", types.int64[::1]),
        ("end_day", types.int64[::1]),
        ("absent_until", types.int64[::1]),
        ("stress", types.float64[::1]),
        ("caseload", types.int64[::1]),
        ("hours_left", types.float64[::1]),
        ("debt", types.float64[::1]),
        ("demand", types.float64[::1]),
    ]
)


@njit(cache=True)
def _staffarrays_ref(a):
    s = structref.new(_STAFFARRAYS_TYPE)
    s.post_role = a.post_role
    s.post_fte = a.post_fte
    s.post_open_day = a.post_open_day
    s.holder = a.holder
    s.hire_day = a.hire_day
    s.agency_day = a.agency_day
    s.n_absences = a.n_absences
    s.n_vacancies = a.n_vacancies
    s.n_agency_draws = a.n_agency_draws
    s.post = a.post
    s.role = a.role
    s.fte = a.fte
    s.start_day = a.start_day
    s.end_day = a.end_day
    s.absent_until = a.absent_until
    s.stress = a.stress
    s.caseload = a.caseload
    s.hours_left = a.hours_left
    s.debt = a.debt
    s.demand = a.demand
    return s


_SETTINGS_TYPE = _Struct(
    [
        ("casework_hours_per_day", types.float64),
        ("p_life_event", types.float64),
        ("event_risk_jump", types.float64),
        ("call_confidence_gain", types.float64),
        ("crisis_base_per_day", types.float64),
        ("crisis_risk_per_day", types.float64),
        ("readmission_crisis_multiplier", types.float64),
        ("prevention_window_days", types.int64),
        ("advocacy_admission_reduction", types.float64),
        ("prevention_admission_reduction", types.float64),
        ("p_admission", types.float64),
        ("readmission_multiplier", types.float64),
        ("p_breakdown", types.float64),
        ("risk_after_frac", types.float64),
        ("emergency_stay_mean_days", types.float64),
        ("restrictive_stay_mean_days", types.float64),
        ("discharge_coordination_reduction", types.float64),
        ("p_delayed_discharge", types.float64),
        ("delay_mean_days", types.float64),
        ("discharge_risk", types.float64),
        ("readmission_window_days", types.int64),
        ("p_error", types.float64),
        ("assessment_error_reduction", types.float64),
        ("p_restrictive_given_error", types.float64),
        ("stress_alpha", types.float64),
        ("p_absence_start", types.float64),
        ("absence_spell_mean_days", types.float64),
        ("stress_turnover_gain", types.float64),
        ("turnover_per_year", types.float64),
        ("agency_turnover_per_year", types.float64),
        ("agency_start_lag_days", types.float64),
        ("agency_cover_frac", types.float64),
        ("quality_base", types.float64),
        ("familiarity_quality_gain", types.float64),
        ("quality_wait_loss_per_day", types.float64),
        ("risk_reduction", types.float64),
        ("unfamiliar_detection_loss", types.float64),
        ("review_interval_days", types.int64),
        ("retell_familiarity_threshold", types.float64),
        ("retell_extra_frac", types.float64),
        ("familiarity_fade_days", types.float64),
        ("familiarity_learning_frac", types.float64),
        ("base_hours", types.float64[::1]),
        ("comm_mult", types.float64[::1]),
        ("drift_per_day", types.float64[::1]),
        ("call_per_day", types.float64[::1]),
        ("call_risk_per_day", types.float64[::1]),
        ("retention", types.float64[::1]),
        ("caseload_changes", types.boolean[::1]),
    ]
)


@njit(cache=True)
def _settings_ref(a):
    s = structref.new(_SETTINGS_TYPE)
    s.casework_hours_per_day = a.casework_hours_per_day
    s.p_life_event = a.p_life_event
    s.event_risk_jump = a.event_risk_jump
    s.call_confidence_gain = a.call_confidence_gain
    s.crisis_base_per_day = a.crisis_base_per_day
    s.crisis_risk_per_day = a.crisis_risk_per_day
    s.readmission_crisis_multiplier = a.readmission_crisis_multiplier
    s.prevention_window_days = a.prevention_window_days
    s.advocacy_admission_reduction = a.advocacy_admission_reduction
    s.prevention_admission_reduction = a.prevention_admission_reduction
    s.p_admission = a.p_admission
    s.readmission_multiplier = a.readmission_multiplier
    s.p_breakdown = a.p_breakdown
    s.risk_after_frac = a.risk_after_frac
    s.emergency_stay_mean_days = a.emergency_stay_mean_days
    s.restrictive_stay_mean_days = a.restrictive_stay_mean_days
    s.discharge_coordination_reduction = a.discharge_coordination_reduction
    s.p_delayed_discharge = a.p_delayed_discharge
    s.delay_mean_days = a.delay_mean_days
    s.discharge_risk = a.discharge_risk
    s.readmission_window_days = a.readmission_window_days
    s.p_error = a.p_error
    s.assessment_error_reduction = a.assessment_error_reduction
    s.p_restrictive_given_error = a.p_restrictive_given_error
    s.stress_alpha = a.stress_alpha
    s.p_absence_start = a.p_absence_start
    s.absence_spell_mean_days = a.absence_spell_mean_days
    s.stress_turnover_gain = a.stress_turnover_gain
    s.turnover_per_year = a.turnover_per_year
    s.agency_turnover_per_year = a.agency_turnover_per_year
    s.agency_start_lag_days = a.agency_start_lag_days
    s.agency_cover_frac = a.agency_cover_frac
    s.quality_base = a.quality_base
    s.familiarity_quality_gain = a.familiarity_quality_gain
    s.quality_wait_loss_per_day = a.quality_wait_loss_per_day
    s.risk_reduction = a.risk_reduction
    s.unfamiliar_detection_loss = a.unfamiliar_detection_loss
    s.review_interval_days = a.review_interval_days
    s.retell_familiarity_threshold = a.retell_familiarity_threshold
    s.retell_extra_frac = a.retell_extra_frac
    s.familiarity_fade_days = a.familiarity_fade_days
    s.familiarity_learning_frac = a.familiarity_learning_frac
    s.base_hours = a.base_hours
    s.comm_mult = a.comm_mult
    s.drift_per_day = a.drift_per_day
    s.call_per_day = a.call_per_day
    s.call_risk_per_day = a.call_risk_per_day
    s.retention = a.retention
    s.caseload_changes = a.caseload_changes
    return s


_BOOKS_TYPE = _Struct(
    [
        ("daily", types.float64[:, ::1]),
        ("log_person", types.int64[::1]),
        ("log_worker", types.int64[::1]),
        ("log_day", types.int64[::1]),
        ("log_kind", types.int8[::1]),
        ("log_hours", types.float64[::1]),
        ("log_wait", types.int64[::1]),
        ("log_fam", types.float64[::1]),
        ("stays", types.int64[::1]),
        ("life_person", types.int64[::1]),
        ("life_day", types.int64[::1]),
        ("served_person", types.int64[::1]),
        ("served_worker", types.int64[::1]),
        ("served_kind", types.int64[::1]),
        ("served_hours", types.float64[::1]),
        ("served_fam", types.float64[::1]),
        ("served_slot", types.int64[::1]),
        ("served_has", types.boolean[::1]),
        ("assess_person", types.int64[::1]),
        ("assess_worker", types.int64[::1]),
        ("counts", types.int64[::1]),
        ("max_events", types.int64[::1]),
        ("staff_stocks", types.float64[::1]),
        ("checkin_interval", types.float64[::1]),
    ]
)


@njit(cache=True)
def _books_ref(a):
    s = structref.new(_BOOKS_TYPE)
    s.daily = a.daily
    s.log_person = a.log_person
    s.log_worker = a.log_worker
    s.log_day = a.log_day
    s.log_kind = a.log_kind
    s.log_hours = a.log_hours
    s.log_wait = a.log_wait
    s.log_fam = a.log_fam
    s.stays = a.stays
    s.life_person = a.life_person
    s.life_day = a.life_day
    s.served_person = a.served_person
    s.served_worker = a.served_worker
    s.served_kind = a.served_kind
    s.served_hours = a.served_hours
    s.served_fam = a.served_fam
    s.served_slot = a.served_slot
    s.served_has = a.served_has
    s.assess_person = a.assess_person
    s.assess_worker = a.assess_worker
    s.counts = a.counts
    s.max_events = a.max_events
    s.staff_stocks = a.staff_stocks
    s.checkin_interval = a.checkin_interval
    return s


_DRAWS_TYPE = _Struct(
    [
        ("first_day", types.int64),
        ("event", types.Array(types.float64, 2, "C", readonly=True)),
        ("call", types.Array(types.float64, 2, "C", readonly=True)),
        ("crisis", types.Array(types.float64, 2, "C", readonly=True)),
        ("absence", types.Array(types.float64, 2, "C", readonly=True)),
        ("leave", types.Array(types.float64, 2, "C", readonly=True)),
        ("rota", types.Array(types.float64, 2, "C", readonly=True)),
        ("admit", types.float64[:, ::1]),
        ("breakdown", types.float64[:, ::1]),
        ("stay", types.int64[:, ::1]),
        ("delayed", types.float64[:, ::1]),
        ("delay_length", types.float64[:, ::1]),
        ("placement", types.float64[:, ::1]),
        ("error", types.float64[:, ::1]),
        ("restrictive", types.float64[:, ::1]),
        ("spell", types.float64[:, ::1]),
        ("lag", types.float64[:, ::1]),
        ("agency", types.float64[:, ::1]),
    ]
)


@njit(cache=True)
def _draws_ref(a):
    s = structref.new(_DRAWS_TYPE)
    s.first_day = a.first_day
    s.event = a.event
    s.call = a.call
    s.crisis = a.crisis
    s.absence = a.absence
    s.leave = a.leave
    s.rota = a.rota
    s.admit = a.admit
    s.breakdown = a.breakdown
    s.stay = a.stay
    s.delayed = a.delayed
    s.delay_length = a.delay_length
    s.placement = a.placement
    s.error = a.error
    s.restrictive = a.restrictive
    s.spell = a.spell
    s.lag = a.lag
    s.agency = a.agency
    return s


_POLICY_TYPE = _Struct(
    [
        ("named_people", types.boolean[::1]),
        ("move_order", types.int64[::1]),
        ("move_day", types.int64),
        ("move_period_days", types.float64),
        ("moved", types.int64[::1]),
        ("first_checkin", types.float64[::1]),
        ("ap_posts", types.int64[::1]),
        ("checkins", types.boolean),
        ("calls", types.boolean),
        ("callers_desk", types.boolean),
        ("desk_rota", types.int64),
        ("cover_rota", types.int64),
        ("max_wait_days", types.int64),
        ("caseload_cap", types.float64),
    ]
)


@njit(cache=True)
def _policy_ref(a):
    s = structref.new(_POLICY_TYPE)
    s.named_people = a.named_people
    s.move_order = a.move_order
    s.move_day = a.move_day
    s.move_period_days = a.move_period_days
    s.moved = a.moved
    s.first_checkin = a.first_checkin
    s.ap_posts = a.ap_posts
    s.checkins = a.checkins
    s.calls = a.calls
    s.callers_desk = a.callers_desk
    s.desk_rota = a.desk_rota
    s.cover_rota = a.cover_rota
    s.max_wait_days = a.max_wait_days
    s.caseload_cap = a.caseload_cap
    return s


_TO_STRUCT = {
    PeopleArrays: _peoplearrays_ref,
    StaffArrays: _staffarrays_ref,
    Settings: _settings_ref,
    Books: _books_ref,
    Draws: _draws_ref,
    Policy: _policy_ref,
}


def as_struct(arrays: NamedTuple) -> structref.StructRefProxy:
    """The compiled structure for one of the named tuples above (sharing its arrays)."""
    return _TO_STRUCT[type(arrays)](arrays)


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


@njit(cache=True, inline="always")
def in_post(W: StaffArrays) -> np.ndarray:
    """Rows of workers holding a post now, in post order."""
    out = np.empty(W.holder.size, dtype=np.int64)
    k = 0
    for post in range(W.holder.size):
        if W.holder[post] >= 0:
            out[k] = W.holder[post]
            k += 1
    return out[:k]


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def present(W: StaffArrays, t: int) -> np.ndarray:
    """Rows of workers in post and not absent on day ``t``, in post order."""
    return present_holders(W, np.arange(W.holder.size), t)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def named_familiarity(P: PeopleArrays, p: int, t: int, fade_days: float) -> float:
    """How well person ``p``'s named worker knows them today (0 without one)."""
    if P.named_worker[p] < 0:
        return 0.0
    return P.named_fam_level[p] * math.exp((P.named_fam_day[p] - t) / fade_days)


@njit(cache=True, inline="always")
def contact_hours(C: Settings, p: int, kind: int, fam: float) -> float:
    """Hours a contact takes: more with an unfamiliar worker (retelling), more with a communication need."""
    retell = C.retell_extra_frac * (1.0 - fam) * C.comm_mult[p]
    return C.base_hours[kind] * (1.0 + retell)


# Offering and serving --------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _stable_order(keys: np.ndarray) -> np.ndarray:
    """Indices that sort ``keys`` ascending, ties in their original order."""
    return np.argsort(keys, kind="mergesort")


@njit(cache=True)
def _order_by_worker(workers: np.ndarray, n_rows: int) -> np.ndarray:
    """``_stable_order(workers)`` for worker rows below ``n_rows``: a counting sort when there are many contacts.

    The same order as the merge sort (stable, ascending); quicker from a few dozen contacts (a large team's
    check-ins), where the merge sort's n log n dominated the day.
    """
    m = workers.size
    if m < 64:
        return _stable_order(workers)
    start = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(m):
        start[workers[i] + 1] += 1
    for r in range(n_rows):
        start[r + 1] += start[r]
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        w = workers[i]
        order[start[w]] = i
        start[w] += 1
    return order


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
    order = _order_by_worker(workers, B.counts[STAFF_N])
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
        ok = before < left if overrun else before + hours[i] <= left + FIT_TOLERANCE_HOURS
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
        queued = REVIEW <= kind <= REACTIVE  # a queued contact (review or reactive)
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


@njit(cache=True, inline="always")
def with_open_contact(P: PeopleArrays) -> np.ndarray:
    """Rows of people with an open contact, in row order (a loop: numba's ``flatnonzero`` of a mask is slower)."""
    out = np.empty(P.open_kind.size, dtype=np.int64)
    k = 0
    for p in range(P.open_kind.size):
        if P.open_kind[p] > 0:
            out[k] = p
            k += 1
    return out[:k]


@njit(cache=True, inline="always")
def open_queue(P: PeopleArrays, t: int) -> np.ndarray:
    """People with an open contact, in priority order: reactive before reviews, longest waiting first."""
    return sort_by_priority(P, with_open_contact(P))


@njit(cache=True)
def sort_by_priority(P: PeopleArrays, persons: np.ndarray) -> np.ndarray:
    """``persons`` in priority order (urgent kind first, then the longest wait; ties keep their order)."""
    key = np.empty(persons.size, dtype=np.int64)
    for i in range(persons.size):
        p = persons[i]
        key[i] = -np.int64(P.open_kind[p]) * 1_000_000 + P.open_since[p]
    return persons[_stable_order(key)]
