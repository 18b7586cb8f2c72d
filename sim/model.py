"""StaffingModel: one community team under one staffing system, one day per step.

The daily schedule in ``step`` reads as the process list of docs/ODD.md. State lives in the arrays
of ``People`` and ``Staff``; each process works on whole arrays, and per-event work touches only the
people or posts with an event that day.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd
from scipy.special import gammaincinv, ndtri

from sim.agents import Person, Worker
from sim.params import Config
from sim.population import (
    ADVANCED_PRACTITIONER,
    AGENCY,
    CHECKIN,
    COMMUNITY,
    CRISIS,
    INPATIENT,
    NO_ONE,
    REACTIVE,
    RESIDENTIAL,
    REVIEW,
    SOCIAL_WORKER,
    People,
    Staff,
    post_layout,
)
from sim.staffing import SYSTEMS, StaffingSystem
from sim.streams import Streams, exponential_hazard

DAYS_PER_YEAR = 365
#: Census thresholds of NHS Digital's Assuring Transformation statistics: inpatients in hospital over 2 and
#: over 10 years on the census day (a measurement definition, not a model parameter).
CENSUS_LONG_STAY_DAYS = (2 * DAYS_PER_YEAR, 10 * DAYS_PER_YEAR)

#: Daily team-level series recorded by every run (flows are counts that day, stocks are end-of-day values).
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
)
S = {name: i for i, name in enumerate(SERIES)}
_KIND_SERIES = {
    REVIEW: S["reviews"],
    REACTIVE: S["reactive_contacts"],
    CHECKIN: S["checkins"],
    CRISIS: S["crisis_contacts"],
}

LOG_COLUMNS = ("person", "worker", "day", "kind", "hours", "wait", "familiarity")


def daily_probability(rate_per_year: np.ndarray | float) -> np.ndarray | float:
    """Chance of at least one event in a day at a yearly rate: 1 - exp(-rate / 365)."""
    return -np.expm1(-np.asarray(rate_per_year) / DAYS_PER_YEAR)


class StaffingModel(mesa.Model):
    """A community learning-disability team under the ``arm`` staffing system, replicate ``replicate``.

    Args:
        cfg: a validated config.
        arm: a registered staffing system (a key of ``sim.staffing.SYSTEMS``: duty, named, hybrid, switch, ...).
        replicate: replicate number; with ``cfg.seed`` it fixes every random stream.
    """

    def __init__(self, cfg: Config, arm: str = "named", replicate: int = 0) -> None:
        self.streams = Streams(cfg.seed, replicate)
        super().__init__(rng=self.streams.generator("mesa"))
        self.cfg = cfg
        self.arm = arm
        self.replicate = replicate
        self.day = 0
        self.total_days = cfg.warmup_days + cfg.horizon_days
        self.people = people = People(cfg, self.streams)
        n = people.n

        if arm not in SYSTEMS:
            raise ValueError(f"unknown staffing system {arm!r} (registered: {', '.join(SYSTEMS)})")
        system = SYSTEMS[arm]
        roles, fte = post_layout(cfg, system.extra_fte(cfg))
        n_shared = len(post_layout(cfg)[0])
        open_day = np.where(np.arange(len(roles)) < n_shared, 0, system.extra_posts_open_day(cfg)).astype(np.int64)
        self.staff = Staff(roles, fte, open_day)
        # Per-post random streams are as wide as the largest post layout of any registered system, so every
        # arm reads the same numbers for the same post (common random numbers across arms).
        n_stream_posts = max(len(post_layout(cfg, s.extra_fte(cfg))[0]) for s in SYSTEMS.values())

        c, h, w = cfg.contacts, cfg.hospital, cfg.workforce
        need = people.need
        self.base_hours = np.array([0.0, c.hours.review, c.hours.reactive, c.hours.checkin, c.hours.crisis])
        self.comm_mult = np.where(people.communication, c.communication_retell_multiplier, 1.0)
        self.drift_per_day = np.array(cfg.life.risk_drift_per_year.as_tuple())[need] / DAYS_PER_YEAR
        self.call_per_day = np.array(c.reactive_per_year.as_tuple())[need] / DAYS_PER_YEAR
        self.call_risk_per_day = self.call_per_day * c.reactive_risk_gain
        self.crisis_base_per_day = cfg.crisis.base_per_year / DAYS_PER_YEAR
        self.crisis_risk_per_day = cfg.crisis.risk_per_year / DAYS_PER_YEAR
        self.stay_mu = math.log(h.stay_mean_days) - h.stay_sigma**2 / 2
        self.p_absence_start = w.absence_frac / (w.absence_spell_mean_days * (1 - w.absence_frac))
        self.stress_alpha = -math.expm1(-1 / w.stress_smoothing_days)
        # Leaving rate by worker role (social worker, advanced practitioner, agency), per year; the
        # staffing system's retention (``retention(t)``) cuts the permanent staff's.
        self._retention = 0.0
        self.leave_rate = np.array([w.turnover_per_year, w.turnover_per_year, w.agency_turnover_per_year])
        self.active = people.setting != INPATIENT  # people who live outside hospital today

        # Common random numbers: by (person or post, day) or by (person or post, k-th event).
        s = self.streams
        self._u_event = s.daily("life/event", n)
        self._x_call = s.daily("demand/call", n, transform=exponential_hazard)
        self._x_crisis = s.daily("crisis/onset", n, transform=exponential_hazard)
        self._u_absence = s.daily("workforce/absence", n_stream_posts)
        self._u_leave = s.daily("workforce/leave", n_stream_posts)
        self._u_admit = s.per_event("crisis/admission", n)
        self._u_breakdown = s.per_event("crisis/breakdown", n)
        self._u_stay = s.per_event("hospital/stay", n)
        self._u_delayed = s.per_event("hospital/delayed", n)
        self._u_delay_length = s.per_event("hospital/delay_length", n)
        self._u_placement = s.per_event("placement/length", n)
        self._u_error = s.per_event("assessment/error", n)
        self._u_restrictive = s.per_event("assessment/restrictive", n)
        self._u_spell = s.per_event("workforce/absence_spell", n_stream_posts)
        self._u_lag = s.per_event("workforce/recruitment_lag", n_stream_posts)
        self._u_agency = s.per_event("workforce/agency_cover", n_stream_posts)
        self.p_life_event = float(daily_probability(cfg.life.events_per_year))

        self.daily = np.zeros((self.total_days, len(SERIES)))
        self._row = self.daily[0]
        self._log: list[tuple[np.ndarray, ...]] = []
        self._log_frame: pd.DataFrame | None = None
        self._served_today: list[tuple[np.ndarray, ...]] = []
        self._to_assess: list[tuple[np.ndarray, np.ndarray]] = []
        self.stays: list[np.ndarray] = []  # clinical stay lengths drawn at admission (days)
        self.life_events: list[np.ndarray] = []  # people with a life event, one array per day

        self.person_agents = [Person(self, row) for row in range(n)]
        self._worker_agents: dict[int, Worker] = {}
        self._staff_changed = True
        for post in range(self.staff.n_posts):
            if open_day[post] <= 0:
                self._start_worker(post, int(self.staff.post_role[post]), 0)
            else:  # a post a staffing system adds later: recruited to start on its day
                self.staff.hire_day[post] = open_day[post]
        self._seed_inpatients()
        self.system: StaffingSystem = system(self)
        self.system.setup()

    # Mesa schedule --------------------------------------------------------------------------

    def step(self) -> None:
        """One day, in the order of DESIGN.md section 2."""
        t = self.day
        self._row = self.daily[t]
        self._start_day(t)
        self._life(t)
        self._demand(t)
        self.system.serve(t)  # allocation and service
        self.flush(t)
        self._crises(t)
        self._hospital_and_placements(t)
        self._capacity_assessments(t)
        self._workforce(t)
        self._account(t)
        self.day += 1
        if self.day >= self.total_days:
            self.running = False

    def run(self) -> StaffingModel:
        """Run the warm-up and the measured horizon."""
        self.run_until(self.total_days)
        return self

    # Processes -----------------------------------------------------------------------------

    def _start_day(self, t: int) -> None:
        """Each present worker's casework hours for today, less yesterday's over-run."""
        st = self.staff
        rows = st.in_post()
        present = st.absent_until[rows] <= t
        capacity = self.cfg.workforce.casework_hours_per_day * st.fte[rows]
        st.hours_left[rows] = np.where(present, capacity - st.debt[rows], 0.0)
        st.debt[rows] = np.where(present, 0.0, st.debt[rows])
        st.demand[rows] = 0.0

    def _life(self, t: int) -> None:
        """Risk drifts up by need level; life events add a jump (drawn for everyone, so both arms match)."""
        people = self.people
        people.risk += self.drift_per_day
        events = np.flatnonzero(self._u_event.row(t) < self.p_life_event)
        self.life_events.append(events)
        people.risk[events] += self.cfg.life.event_risk_jump
        np.minimum(people.risk, 1.0, out=people.risk)

    def _demand(self, t: int) -> None:
        """Reactive calls (with call confidence in a known worker) and scheduled reviews open contacts."""
        people = self.people
        rate = self.call_per_day + self.call_risk_per_day * people.risk
        gain = self.cfg.effects.call_confidence_gain
        if gain and (people.named_worker >= 0).any():  # nobody known by a named worker: nothing to gain
            rate *= 1.0 + gain * self.named_familiarity(slice(None), t)
        calls = np.flatnonzero((rate >= self._x_call.row(t)) & self.active & (people.open_kind != REACTIVE))
        people.open_kind[calls] = REACTIVE
        people.open_since[calls] = t
        reviews = np.flatnonzero((people.next_review <= t) & (people.open_kind == 0) & self.active)
        people.open_kind[reviews] = REVIEW
        people.open_since[reviews] = t

    def _crises(self, t: int) -> None:
        """Crises by risk; the responder's familiarity and recent contact lower escalation."""
        people, cfg, e = self.people, self.cfg, self.cfg.effects
        hazard = self.crisis_base_per_day + self.crisis_risk_per_day * people.risk
        fragile = people.readmit_until > t  # discharged from hospital within the readmission window
        if fragile.any():
            hazard = np.where(fragile, hazard * cfg.hospital.readmission_crisis_multiplier, hazard)
        hit = (hazard >= self._x_crisis.row(t)) & self.active
        persons = np.flatnonzero(hit)
        if persons.size == 0:
            return
        self._row[S["crises"]] += persons.size
        responders = self.system.crisis_responders(persons, t)
        met = responders >= 0
        fam = np.zeros(persons.size)
        fam[met] = self.familiarity_lookup(persons[met], responders[met], t)[0]
        recent = (t - people.last_contact[persons]) <= cfg.crisis.prevention_window_days
        escalation = (1 - e.advocacy_admission_reduction * fam) * np.where(
            recent, 1 - e.prevention_admission_reduction, 1.0
        )
        readmit = t < people.readmit_until[persons]
        k = people.n_crises[persons]
        people.n_crises[persons] += 1
        p_admit = np.minimum(
            1.0, cfg.crisis.p_admission * escalation * np.where(readmit, cfg.hospital.readmission_multiplier, 1.0)
        )
        admit = self._u_admit.take(persons, k) < p_admit
        breakdown = ~admit & (self._u_breakdown.take(persons, k) < np.minimum(1.0, cfg.crisis.p_breakdown * escalation))
        if met.any():
            self._respond(persons[met], responders[met], t)
        people.risk[persons] *= cfg.crisis.risk_after_frac
        assess = ~admit & met & people.fluctuating[persons]
        if assess.any():
            self._to_assess.append((persons[assess], responders[assess]))
        if admit.any():
            self._admit(persons[admit], readmit[admit], t)
        if breakdown.any():
            self._place(persons[breakdown], t, restrictive=False)

    def _respond(self, persons: np.ndarray, workers: np.ndarray, t: int) -> None:
        """A crisis response is a contact: it costs hours (over-run allowed) and builds familiarity."""
        fam, slot, has = self.familiarity_lookup(persons, workers, t)
        kinds = np.full(persons.size, CRISIS, dtype=np.int8)
        hours = self._hours(persons, kinds, fam)
        st = self.staff
        spent = np.bincount(workers, weights=hours, minlength=st.n)
        st.hours_left[: st.n] -= spent
        st.demand[: st.n] += spent
        self._serve(persons, workers, kinds, hours, fam, slot, has, t)

    def _admit(self, persons: np.ndarray, readmit: np.ndarray, t: int) -> None:
        """Hospital admission with a log-normal stay drawn from the person's k-th stay uniform."""
        people, h = self.people, self.cfg.hospital
        k = people.n_admissions[persons]
        people.n_admissions[persons] += 1
        u = self._u_stay.take(persons, k)
        stay = np.maximum(1, np.rint(np.exp(self.stay_mu + h.stay_sigma * ndtri(u)))).astype(np.int64)
        self.stays.append(stay)
        row = self._row
        row[S["admissions"]] += persons.size
        row[S["first_admissions"]] += np.count_nonzero(~people.ever_admitted[persons])
        row[S["readmissions"]] += np.count_nonzero(readmit)
        people.ever_admitted[persons] = True
        people.admitted_day[persons] = t
        people.setting[persons] = INPATIENT
        people.setting_until[persons] = t + stay
        people.delayed[persons] = False
        people.restrictive[persons] = False
        people.open_kind[persons] = 0
        self.active[persons] = False

    def _place(self, persons: np.ndarray, t: int, restrictive: bool) -> None:
        """Residential placement (emergency after a breakdown, restrictive after a wrong finding)."""
        people, p = self.people, self.cfg.placement
        k = people.n_placements[persons]
        people.n_placements[persons] += 1
        mean = p.restrictive_stay_mean_days if restrictive else p.emergency_stay_mean_days
        days = np.maximum(1, np.ceil(-mean * np.log1p(-self._u_placement.take(persons, k)))).astype(np.int64)
        people.setting[persons] = RESIDENTIAL
        people.setting_until[persons] = t + days
        people.restrictive[persons] = restrictive
        self._row[S["restrictive_placements" if restrictive else "breakdowns"]] += persons.size

    def _hospital_and_placements(self, t: int) -> None:
        """Stays end: a discharge may be delayed (less so with a known named worker); placements end."""
        people, h = self.people, self.cfg.hospital
        due = np.flatnonzero(people.setting_until == t)
        if due.size == 0:
            return
        inpatients = due[people.setting[due] == INPATIENT]
        was_delayed = people.delayed[inpatients]
        first = inpatients[~was_delayed]
        leaving = [inpatients[was_delayed]]
        if first.size:
            coordination = self.cfg.effects.discharge_coordination_reduction * self.named_familiarity(first, t)
            k = people.n_admissions[first] - 1
            delay = self._u_delayed.take(first, k) < h.p_delayed_discharge * (1 - coordination)
            extra = np.maximum(1, np.ceil(-h.delay_mean_days * np.log1p(-self._u_delay_length.take(first, k))))
            people.setting_until[first[delay]] = t + extra[delay].astype(np.int64)
            people.delayed[first[delay]] = True
            leaving.append(first[~delay])
        discharged = np.concatenate(leaving)
        if discharged.size:
            people.setting[discharged] = COMMUNITY
            people.setting_until[discharged] = NO_ONE
            people.delayed[discharged] = False
            people.risk[discharged] = h.discharge_risk
            people.readmit_until[discharged] = t + h.readmission_window_days
            people.next_review[discharged] = t + 1  # a review on return home
            self.active[discharged] = True
            self._row[S["discharges"]] += discharged.size
        ended = due[people.setting[due] == RESIDENTIAL]
        if ended.size:
            people.setting[ended] = COMMUNITY
            people.setting_until[ended] = NO_ONE
            people.restrictive[ended] = False
            people.next_review[ended] = t + 1

    def _capacity_assessments(self, t: int) -> None:
        """Assessments from today's reviews and crises; a wrong finding may mean a restrictive placement."""
        if not self._to_assess:
            return
        persons = np.concatenate([p for p, _ in self._to_assess])
        workers = np.concatenate([w for _, w in self._to_assess])
        self._to_assess.clear()
        keep = self.people.setting[persons] != INPATIENT
        persons, workers = persons[keep], workers[keep]
        if persons.size == 0:
            return
        a, people = self.cfg.assessment, self.people
        fam = self.familiarity_lookup(persons, workers, t)[0]
        k = people.n_assessments[persons]
        people.n_assessments[persons] += 1
        wrong = self._u_error.take(persons, k) < a.p_error * (1 - self.cfg.effects.assessment_error_reduction * fam)
        restrictive = wrong & (self._u_restrictive.take(persons, k) < a.p_restrictive_given_error)
        self._row[S["assessments"]] += persons.size
        self._row[S["wrong_findings"]] += np.count_nonzero(wrong)
        if restrictive.any():
            self._place(np.unique(persons[restrictive]), t, restrictive=True)

    def _workforce(self, t: int) -> None:
        """Stress, absence, leaving (overload raises it, named practice lowers it), vacancies and arrivals."""
        st, w = self.staff, self.cfg.workforce
        posts = np.flatnonzero(st.holder >= 0)
        rows = st.holder[posts]
        present = st.absent_until[rows] <= t
        # Stress: smoothed (work done + work waiting) / capacity, on days at work.
        open_persons = np.flatnonzero(self.people.open_kind > 0)
        self._row[S["backlog"]] = open_persons.size
        capacity = w.casework_hours_per_day * st.fte[rows]
        load = (st.demand[rows] + self.system.backlog_hours(open_persons)[rows]) / capacity
        st.stress[rows] += np.where(present, self.stress_alpha * (load - st.stress[rows]), 0.0)
        st.debt[rows] = np.where(present, np.maximum(0.0, -st.hours_left[rows]), st.debt[rows])
        # Absence spells start tomorrow.
        starts = present & (self._u_absence.row(t)[posts] < self.p_absence_start)
        if starts.any():
            sp = posts[starts]
            k = st.n_absences[sp]
            st.n_absences[sp] += 1
            spell = np.maximum(1, np.rint(-w.absence_spell_mean_days * np.log1p(-self._u_spell.take(sp, k))))
            st.absent_until[rows[starts]] = t + 1 + spell.astype(np.int64)
        # Leaving.
        overload = np.maximum(0.0, st.stress[rows] - 1.0)
        retention = self.system.retention(t)
        if retention != self._retention:
            self._retention = retention
            base = w.turnover_per_year * (1 - retention)
            self.leave_rate = np.array([base, base, w.agency_turnover_per_year])
        rate = self.leave_rate[st.role[rows]] * (1 + w.stress_turnover_gain * overload)
        leaving = self._u_leave.row(t)[posts] < daily_probability(rate)
        for row in rows[leaving]:
            self._leave(int(row), t)
        # Arrivals: agency cover and permanent recruits due today.
        for post in np.flatnonzero((st.agency_day == t) | (st.hire_day == t)):
            self._arrive(int(post), t)

    def _leave(self, row: int, t: int) -> None:
        """A worker leaves: their post falls vacant and recruitment (and maybe agency cover) begins."""
        st = self.staff
        post = int(st.post[row])
        agency = st.role[row] == AGENCY
        self._row[S["agency_leavers" if agency else "leavers"]] += 1
        self._end_worker(row, t)
        if not agency:
            w = self.cfg.workforce
            k = st.n_vacancies[post : post + 1]
            st.n_vacancies[post] += 1
            u = self._u_lag.take(np.array([post]), k)[0]
            lag = w.recruitment_lag_days / w.recruitment_lag_shape * gammaincinv(w.recruitment_lag_shape, u)
            st.hire_day[post] = t + max(1, math.ceil(lag))
        self._maybe_agency(post, t)

    def _maybe_agency(self, post: int, t: int) -> None:
        """A vacant post may get an agency worker after the agency start lag, if the recruit is further off."""
        st, w = self.staff, self.cfg.workforce
        start = t + max(1, math.ceil(w.agency_start_lag_days))
        if st.hire_day[post] <= start:
            return
        k = st.n_agency_draws[post : post + 1]
        st.n_agency_draws[post] += 1
        if self._u_agency.take(np.array([post]), k)[0] < w.agency_cover_frac:
            st.agency_day[post] = start

    def _arrive(self, post: int, t: int) -> None:
        st = self.staff
        if st.hire_day[post] == t:
            if st.holder[post] >= 0:  # the agency worker hands over to the recruit
                self._end_worker(int(st.holder[post]), t)
            st.hire_day[post] = NO_ONE
            st.agency_day[post] = NO_ONE
            self._start_worker(post, int(st.post_role[post]), t)
            self._row[S["hires"]] += 1
        elif st.holder[post] < 0:
            st.agency_day[post] = NO_ONE
            self._start_worker(post, AGENCY, t)

    def _start_worker(self, post: int, role: int, t: int) -> None:
        st = self.staff
        row = st.add_worker(post, role, t)
        self._staff_changed = True
        st.absent_until[row] = 0
        st.stress[row] = 0.0
        st.caseload[row] = 0
        self._worker_agents[row] = Worker(self, row)

    def _end_worker(self, row: int, t: int) -> None:
        st = self.staff
        st.end_day[row] = t
        self._staff_changed = True
        st.holder[st.post[row]] = NO_ONE
        self.system.on_worker_left(row, t)
        self._worker_agents.pop(row).remove()

    def _account(self, t: int) -> None:
        """End-of-day stocks: beds, placements, staffing, stress and caseload."""
        people, st, row = self.people, self.staff, self._row
        settings = np.bincount(people.setting, minlength=3)
        restrictive = np.count_nonzero(people.restrictive)
        row[S["bed_days"]] = settings[INPATIENT]
        if settings[INPATIENT]:  # the census: how long each inpatient has been in hospital so far
            so_far = t - people.admitted_day[people.setting == INPATIENT]
            row[S["inpatients_over_2_years"]] = np.count_nonzero(so_far > CENSUS_LONG_STAY_DAYS[0])
            row[S["inpatients_over_10_years"]] = np.count_nonzero(so_far > CENSUS_LONG_STAY_DAYS[1])
            row[S["inpatient_days_so_far"]] = so_far.sum()
        row[S["delayed_days"]] = np.count_nonzero(people.delayed)
        row[S["restrictive_days"]] = restrictive
        row[S["emergency_days"]] = settings[RESIDENTIAL] - restrictive
        rows = st.holder[st.holder >= 0]
        if self._staff_changed:  # staffing stocks change only when someone starts or leaves
            agency = st.role[rows] == AGENCY
            fte = st.fte[rows]
            post_role = st.post_role[st.post[rows]]
            self._staff_stocks = (
                (S["headcount"], rows.size - np.count_nonzero(agency)),
                (S["agency_headcount"], np.count_nonzero(agency)),
                (S["fte_sw"], fte[post_role == SOCIAL_WORKER].sum()),
                (S["fte_ap"], fte[post_role == ADVANCED_PRACTITIONER].sum()),
                (S["fte_agency"], fte[agency].sum()),
                (S["vacant_fte"], st.post_fte[st.post_open_day <= t].sum() - fte[~agency].sum()),  # no permanent holder
            )
            self._sw_rows = rows[post_role == SOCIAL_WORKER]
            self._staff_changed = False
        for index, value in self._staff_stocks:
            row[index] = value
        row[S["absent"]] = np.count_nonzero(st.absent_until[rows] > t)
        row[S["mean_stress"]] = st.stress[rows].sum() / rows.size if rows.size else 0.0  # sum / n: mean, cheaper
        row[S["pending"]] = self.system.pending()
        sw = self._sw_rows
        row[S["mean_caseload"]] = st.caseload[sw].sum() / sw.size if sw.size else 0.0

    # Contacts: cost, capacity, service ------------------------------------------------------

    def open_queue(self) -> np.ndarray:
        """People with an open contact, in priority order: reactive before reviews, longest waiting first."""
        queue = np.flatnonzero(self.people.open_kind > 0)
        return queue[np.argsort(self.priority(queue, self.day), kind="stable")]

    def priority(self, persons: np.ndarray, t: int) -> np.ndarray:
        """Sort key of open contacts (smaller first): urgent kind first, then the longest wait."""
        people = self.people
        return -people.open_kind[persons].astype(np.int64) * 1_000_000 + people.open_since[persons]

    def _hours(self, persons: np.ndarray, kinds: np.ndarray, fam: np.ndarray) -> np.ndarray:
        """Hours a contact takes: more with an unfamiliar worker (retelling), more with a communication need."""
        retell = self.cfg.effects.retell_extra_frac * (1.0 - fam) * self.comm_mult[persons]
        return self.base_hours[kinds] * (1.0 + retell)

    def offer(
        self, persons: np.ndarray, workers: np.ndarray, t: int, kind: int | None = None, overrun: bool = True
    ) -> np.ndarray:
        """Offer each person's contact to a worker; serve those the worker has hours for.

        Contacts are taken in the order given. A worker takes contacts while they still have hours
        at the start of one (``overrun``: the last may run over, carried to tomorrow), or only while
        a contact fits whole (``overrun=False``, for optional work such as check-ins).

        Returns:
            Boolean mask over ``persons``: which contacts were served.
        """
        kinds = self.people.open_kind[persons] if kind is None else np.full(persons.size, kind, dtype=np.int8)
        fam, slot, has = self.familiarity_lookup(persons, workers, t)
        hours = self._hours(persons, kinds, fam)
        st = self.staff
        order = np.argsort(workers, kind="stable")
        w, hrs = workers[order], hours[order]
        cum = np.cumsum(hrs)
        before = cum - hrs
        start = np.ones(w.size, dtype=bool)
        np.not_equal(w[1:], w[:-1], out=start[1:])
        before -= np.maximum.accumulate(np.where(start, before, 0.0))
        left = st.hours_left[w]
        fits = before < left if overrun else before + hrs <= left + 1e-9
        served = np.empty(persons.size, dtype=bool)
        served[order] = fits
        if fits.any():
            spent = np.bincount(w[fits], weights=hrs[fits], minlength=st.n)
            st.hours_left[: st.n] -= spent
            st.demand[: st.n] += spent
            self._served_today.append(
                (persons[served], workers[served], kinds[served], hours[served], fam[served], slot[served], has[served])
            )
        return served

    def flush(self, t: int) -> None:
        """Carry out the contacts offered and accepted so far today (their hours are already booked)."""
        if not self._served_today:
            return
        parts = [np.concatenate(col) for col in zip(*self._served_today, strict=True)]
        self._served_today.clear()
        self._serve(*parts, t)

    def _serve(
        self,
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
        people, c = self.people, self.cfg.contacts
        queued = (kinds == REVIEW) | (kinds == REACTIVE)
        wait = np.where(queued, t - people.open_since[persons], 0)
        quality = np.clip(
            c.quality_base + self.cfg.effects.familiarity_quality_gain * fam - c.quality_wait_loss_per_day * wait,
            0.0,
            1.0,
        )
        reduction = c.risk_reduction * quality
        missed = self.cfg.effects.unfamiliar_detection_loss
        if missed:  # an unfamiliar worker notices less of the risk that is there
            reduction = reduction * (1.0 - missed * (1.0 - fam))
        people.risk[persons] *= 1.0 - reduction
        self._learn(persons, workers, fam, slot, has, t)
        people.last_contact[persons] = t
        closes = queued | ((kinds == CRISIS) & (people.open_kind[persons] == REACTIVE))
        people.open_kind[persons[closes]] = 0
        reviewed = persons[kinds == REVIEW]
        if reviewed.size:
            people.next_review[reviewed] = t + c.review_interval_days
            assess = people.fluctuating[reviewed]
            if assess.any():
                self._to_assess.append((reviewed[assess], workers[kinds == REVIEW][assess]))
        checked = kinds == CHECKIN
        if checked.any():
            self.system.checked_in(persons[checked], t)
        row = self._row
        row[S["contacts"]] += persons.size
        for kind, count in enumerate(np.bincount(kinds, minlength=5)):
            if count:
                row[_KIND_SERIES[kind]] += count
        row[S["retellings"]] += np.count_nonzero(fam < c.retell_familiarity_threshold)
        row[S["hours_served"]] += hours.sum()
        row[S["wait_days"]] += wait[queued].sum()
        row[S["waited_contacts"]] += np.count_nonzero(queued)
        self._log.append((persons, workers, np.full(persons.size, t), kinds, hours, wait, fam))
        self._log_frame = None

    # Familiarity ---------------------------------------------------------------------------

    def familiarity_lookup(
        self, persons: np.ndarray, workers: np.ndarray, t: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Familiarity today of each (person, worker) pair, with the slot it is kept in and whether it exists."""
        people = self.people
        match = people.fam_worker[persons] == workers[:, None]
        slot = match.argmax(axis=1)
        has = match[np.arange(slot.size), slot]
        level = people.fam_level[persons, slot] * np.exp(
            (people.fam_day[persons, slot] - t) / self.cfg.contacts.familiarity_fade_days
        )
        return np.where(has, level, 0.0), slot, has

    def familiarity_now(self, persons: np.ndarray, workers: np.ndarray) -> np.ndarray:
        """Familiarity of each (person, worker) pair today, 0..1."""
        return self.familiarity_lookup(np.asarray(persons), np.asarray(workers), self.day)[0]

    def named_familiarity(self, persons: np.ndarray | slice, t: int) -> np.ndarray:
        """How well each person's named worker knows them today (0 for people without one)."""
        people = self.people
        level = people.named_fam_level[persons] * np.exp(
            (people.named_fam_day[persons] - t) / self.cfg.contacts.familiarity_fade_days
        )
        return np.where(people.named_worker[persons] >= 0, level, 0.0)

    def _learn(
        self, persons: np.ndarray, workers: np.ndarray, fam: np.ndarray, slot: np.ndarray, has: np.ndarray, t: int
    ) -> None:
        """Familiarity closes part of its gap to 1; a new pair takes the slot of the least-known worker."""
        people, c = self.people, self.cfg.contacts
        new = fam + c.familiarity_learning_frac * (1.0 - fam)
        slot = slot.copy()
        miss = ~has
        if miss.any():
            pm = persons[miss]
            current = people.fam_level[pm] * np.exp((people.fam_day[pm] - t) / c.familiarity_fade_days)
            current[people.fam_worker[pm] == NO_ONE] = -1.0
            current[people.fam_worker[pm] == people.named_worker[pm][:, None]] = np.inf  # keep the named worker
            slot[miss] = current.argmin(axis=1)
        people.fam_worker[persons, slot] = workers
        people.fam_level[persons, slot] = new
        people.fam_day[persons, slot] = t
        mine = workers == people.named_worker[persons]
        people.named_fam_level[persons[mine]] = new[mine]
        people.named_fam_day[persons[mine]] = t

    # Start state ---------------------------------------------------------------------------

    def _seed_inpatients(self) -> None:
        """Start with the inpatient stock the admission hazard and mean stay imply (Little's law)."""
        h, people = self.cfg.hospital, self.people
        rng = self.streams.generator("population/inpatients")
        stock = h.initial_admission_hazard_per_year * h.stay_mean_days / DAYS_PER_YEAR
        inside = np.flatnonzero(rng.random(people.n) < stock / (1 + stock))
        # A stay in progress on a census day is length-biased: log-normal with mu + sigma^2; a uniform share remains.
        biased = np.exp(self.stay_mu + h.stay_sigma**2 + h.stay_sigma * rng.standard_normal(inside.size))
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

    def contact_log(self) -> pd.DataFrame:
        """Every contact so far: person, worker row, day, kind code, hours, waiting days, familiarity before."""
        if self._log_frame is None:
            if self._log:
                cols = [np.concatenate(parts) for parts in zip(*self._log, strict=True)]
            else:
                cols = [
                    np.empty(0, dtype=dtype)
                    for dtype in (np.int64, np.int64, np.int64, np.int8, float, np.int64, float)
                ]
            self._log_frame = pd.DataFrame(dict(zip(LOG_COLUMNS, cols, strict=True)))
        return self._log_frame

    def series(self) -> pd.DataFrame:
        """The daily team-level series so far, one row per day."""
        frame = pd.DataFrame(self.daily[: self.day], columns=list(SERIES))
        frame.insert(0, "day", np.arange(self.day))
        return frame
