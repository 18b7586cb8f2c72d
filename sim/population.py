"""Person, worker and post arrays (structure of arrays, stable row numbers) and their start state."""

from __future__ import annotations

import math

import numpy as np

from sim.params import Config
from sim.streams import Streams

# Need levels (row order of every by-need table).
NEED_LEVELS = ("low", "moderate", "high")

# Settings a person can be in; AWAY: not on the caseload (not yet referred, or left).
COMMUNITY, INPATIENT, RESIDENTIAL, AWAY = 0, 1, 2, 3
SETTINGS = ("community", "inpatient", "residential", "away")

# Why a person left the caseload (``People.exit_cause``).
STAYING, CLOSED, MOVED, DIED = 0, 1, 2, 3
#: A day that never comes (no exit).
NEVER_DAY = np.iinfo(np.int64).max

# Open contact kinds, in rising priority; check-ins are never queued and crises are met the same day.
NO_CONTACT, REVIEW, REACTIVE = 0, 1, 2
CHECKIN, CRISIS = 3, 4
CONTACT_KINDS = {REVIEW: "review", REACTIVE: "reactive", CHECKIN: "checkin", CRISIS: "crisis"}

# Worker roles.
SOCIAL_WORKER, ADVANCED_PRACTITIONER, AGENCY = 0, 1, 2
ROLES = ("social_worker", "advanced_practitioner", "agency")

NO_ONE = -1  # no worker, no post holder, no day set


class People:
    """State of every person, one row each; the row number is the person's id."""

    def __init__(self, cfg: Config, streams: Streams, total_days: int = 0) -> None:
        start = cfg.team.people
        rng = streams.generator("population")
        mix = np.array(cfg.team.need_mix.as_tuple())
        need = rng.choice(3, size=start, p=mix / mix.sum()).astype(np.int8)
        communication = rng.random(start) < cfg.team.communication_need_frac
        fluctuating = rng.random(start) < cfg.team.fluctuating_capacity_frac
        risk = rng.random(start) * cfg.team.initial_risk_max
        review = rng.integers(0, cfg.contacts.review_interval_days, size=start)
        # Referrals over the whole run, drawn up front from their own streams (the same in every arm), so a
        # row is ready for every person who will arrive and no array moves.
        pop = cfg.population
        per_day = referrals_per_day(cfg, total_days)
        counts = np.zeros(total_days, dtype=np.int64)
        if per_day.any():
            counts = streams.generator("population/referral_days").poisson(per_day)
            counts[0] = 0  # day 0's caseload is the starting one
        arrive = np.repeat(np.arange(total_days, dtype=np.int64), counts)
        m = arrive.size
        ref = streams.generator("population/referrals")
        mix = np.array(pop.referral_need_mix.as_tuple())
        self.n_start = start  # people on the caseload on day 0
        self.n = n = start + m  # rows: everyone who is on the caseload at some time in the run
        self.arrive_day = np.concatenate((np.zeros(start, dtype=np.int64), arrive))
        self.need = np.concatenate((need, ref.choice(3, size=m, p=mix / mix.sum()).astype(np.int8)))
        self.communication = np.concatenate((communication, ref.random(m) < pop.referral_communication_need_frac))
        self.fluctuating = np.concatenate((fluctuating, ref.random(m) < pop.referral_fluctuating_capacity_frac))
        self.risk = np.concatenate((risk, ref.random(m) * cfg.team.initial_risk_max))
        self.exit_day, self.exit_cause = _exits(cfg, streams, self.need, self.arrive_day, start)
        self.setting = np.where(self.arrive_day > 0, AWAY, COMMUNITY).astype(np.int8)
        self.setting_until = np.full(n, NO_ONE, dtype=np.int64)  # day a stay or placement ends
        self.restrictive = np.zeros(n, dtype=bool)  # residential placement is restrictive
        self.delayed = np.zeros(n, dtype=bool)  # inpatient whose discharge is delayed
        self.ever_admitted = np.zeros(n, dtype=bool)
        self.admitted_day = np.full(n, NO_ONE, dtype=np.int64)  # day the current hospital stay began
        self.readmit_until = np.full(n, NO_ONE, dtype=np.int64)
        self.named_worker = np.full(n, NO_ONE, dtype=np.int64)
        self.pending_since = np.zeros(n, dtype=np.int64)
        self.open_kind = np.zeros(n, dtype=np.int8)
        self.open_since = np.zeros(n, dtype=np.int64)
        # Reviews spread over the first interval so the team's review load is even; a referral is assessed on arrival.
        self.next_review = np.concatenate((review, arrive))
        self.next_checkin = np.zeros(n, dtype=np.int64)
        self.last_contact = np.full(n, -(10**9), dtype=np.int64)
        # Sparse familiarity: the last few workers each person has met, with level and day last updated.
        k = cfg.contacts.familiarity_slots
        self.fam_worker = np.full((n, k), NO_ONE, dtype=np.int64)
        self.fam_level = np.zeros((n, k))
        self.fam_day = np.zeros((n, k), dtype=np.int64)
        # Familiarity with the current named worker, cached (level and day) for the daily call rate.
        self.named_fam_level = np.zeros(n)
        self.named_fam_day = np.zeros(n, dtype=np.int64)
        # Event counters: the k-th crisis, stay, assessment of a person reads the k-th paired uniform.
        self.n_crises = np.zeros(n, dtype=np.int64)
        self.n_admissions = np.zeros(n, dtype=np.int64)
        self.n_assessments = np.zeros(n, dtype=np.int64)
        self.n_placements = np.zeros(n, dtype=np.int64)

    def active(self) -> np.ndarray:
        """People on the caseload living outside hospital, who have contacts and crises."""
        return (self.setting != INPATIENT) & (self.setting != AWAY)

    def change_days(self, total_days: int) -> np.ndarray:
        """Whether anyone is referred or leaves on each day of a run of ``total_days`` days."""
        changes = np.zeros(total_days, dtype=bool)
        changes[self.arrive_day[self.arrive_day > 0]] = True
        changes[self.exit_day[self.exit_day < total_days]] = True
        return changes

    def present(self, day: int) -> np.ndarray:
        """Whether each person is on the caseload on ``day`` (referred on or before it, not yet left)."""
        return (self.arrive_day <= day) & (day < self.exit_day)


def planned_caseload(cfg: Config, total_days: int) -> np.ndarray:
    """The caseload a team plans for on each day (people): the starting one, rising evenly to ``team.growth``'s target.

    Without a growth target it is the starting caseload throughout.
    """
    start, growth = cfg.team.people, cfg.team.growth
    planned = np.full(total_days, float(start))
    if growth.target_people is None:
        return planned
    first = cfg.warmup_days + round(growth.start_year * 365)
    share = np.clip((np.arange(total_days) - first) / (growth.years * 365), 0.0, 1.0)
    return planned + (growth.target_people - start) * share


def referrals_per_day(cfg: Config, total_days: int) -> np.ndarray:
    """Expected referrals on each day: the referral rate on the planned caseload, plus the growth in it."""
    planned = planned_caseload(cfg, total_days)
    growth = np.diff(planned, prepend=planned[:1])  # the rise in the plan on each day (0 without growth)
    return planned * cfg.population.referrals_per_year / 365 + growth


def growth_posts(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """FTE and opening day of the social-worker posts a growing caseload adds (none unless ``staff: follow``).

    A post is funded on the first day the planned caseload passes what the posts already open cover at
    ``team.caseload_per_worker``; it then falls vacant and is filled after the recruitment lag like any vacancy.
    A post the plan never reaches within the run is never opened.
    """
    growth = cfg.team.growth
    if growth.target_people is None or growth.staff != "follow":
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    per_worker = cfg.team.caseload_per_worker
    base = cfg.team.people / per_worker
    fte = np.array(_split_fte(growth.target_people / per_worker - base))
    covered = (base + np.cumsum(fte) - fte) * per_worker  # people the posts cover before each one opens
    total_days = cfg.warmup_days + cfg.horizon_days
    day = np.searchsorted(planned_caseload(cfg, total_days), covered + 1e-9, side="right")
    return fte, np.where(day < total_days, day, NEVER_DAY).astype(np.int64)


def _exits(
    cfg: Config, streams: Streams, need: np.ndarray, arrive: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's exit day and cause, drawn up front (the same in every arm): competing constant hazards.

    The time to exit is exponential with the sum of the person's closure, moving and mortality hazards; the
    cause is one of the three in proportion to its hazard. People on the caseload at the start and referrals
    read separate streams, so adding referrals changes nobody else's exit.
    """
    pop = cfg.population
    closure = np.array(pop.closure_per_year.as_tuple())[need]
    death = np.array(pop.mortality_per_year.as_tuple())[need]
    total = closure + pop.move_away_per_year + death
    day = np.full(need.size, NEVER_DAY, dtype=np.int64)
    cause = np.full(need.size, STAYING, dtype=np.int8)
    if not total.any():
        return day, cause
    u = np.empty((need.size, 2))
    u[:start] = streams.generator("population/exits").random((start, 2))
    u[start:] = streams.generator("population/exits/arrivals").random((need.size - start, 2))
    leaving = total > 0
    years = -np.log1p(-u[leaving, 0]) / total[leaving]
    # At least one day on the caseload: a referral is seen before the case can close.
    day[leaving] = arrive[leaving] + np.maximum(1, np.ceil(years * 365)).astype(np.int64)
    share = u[leaving, 1] * total[leaving]
    cause[leaving] = np.where(
        share < closure[leaving], CLOSED, np.where(share < closure[leaving] + pop.move_away_per_year, MOVED, DIED)
    )
    return day, cause


def post_layout(cfg: Config, extra_fte: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Roles and FTE of every post: the shared posts, then a staffing system's extra social-worker FTE.

    Posts shared by every system come first (social workers, advanced practitioners, then the posts a
    growing caseload adds: ``growth_posts``) and extra posts last, so post ``i`` reads the same random
    numbers under any system.
    """
    sw_fte = cfg.team.people / cfg.team.caseload_per_worker
    fte = _split_fte(sw_fte)
    roles = [SOCIAL_WORKER] * len(fte)
    fte += [1.0] * cfg.team.advanced_practitioners
    roles += [ADVANCED_PRACTITIONER] * cfg.team.advanced_practitioners
    grown = growth_posts(cfg)[0].tolist()
    fte += grown
    roles += [SOCIAL_WORKER] * len(grown)
    extra = _split_fte(extra_fte)
    fte += extra
    roles += [SOCIAL_WORKER] * len(extra)
    return np.array(roles, dtype=np.int8), np.array(fte)


def _split_fte(total: float) -> list[float]:
    """Whole-time posts plus one part-time post for any remainder (e.g. 2.4 -> 1, 1, 0.4)."""
    whole = math.floor(total + 1e-9)
    rest = total - whole
    return [1.0] * whole + ([rest] if rest > 1e-9 else [])


class Staff:
    """Posts (fixed) and the workers who hold them (rows grow as people are hired)."""

    def __init__(self, roles: np.ndarray, fte: np.ndarray, open_day: np.ndarray | None = None) -> None:
        self.n_posts = len(roles)
        self.post_role = roles
        self.post_fte = fte
        # Day each post opens (0: from the start; a staffing system may add posts later).
        self.post_open_day = np.zeros(self.n_posts, dtype=np.int64) if open_day is None else open_day
        self.holder = np.full(self.n_posts, NO_ONE, dtype=np.int64)
        self.hire_day = np.full(self.n_posts, NO_ONE, dtype=np.int64)  # permanent recruit due
        self.agency_day = np.full(self.n_posts, NO_ONE, dtype=np.int64)  # agency worker due
        # Event counters per post: the k-th absence, vacancy and agency draw of a post reads the k-th paired uniform.
        self.n_absences = np.zeros(self.n_posts, dtype=np.int64)
        self.n_vacancies = np.zeros(self.n_posts, dtype=np.int64)
        self.n_agency_draws = np.zeros(self.n_posts, dtype=np.int64)
        cap = max(8, 4 * self.n_posts)
        self.n = 0  # worker rows used
        self.post = np.zeros(cap, dtype=np.int64)
        self.role = np.zeros(cap, dtype=np.int8)
        self.fte = np.zeros(cap)
        self.start_day = np.zeros(cap, dtype=np.int64)
        self.end_day = np.full(cap, NO_ONE, dtype=np.int64)
        self.absent_until = np.zeros(cap, dtype=np.int64)
        self.stress = np.zeros(cap)
        self.caseload = np.zeros(cap, dtype=np.int64)
        self.hours_left = np.zeros(cap)
        self.debt = np.zeros(cap)  # hours over-run carried to the next day
        self.demand = np.zeros(cap)  # hours of work arriving for the worker today

    _ROW_ARRAYS = (
        "post",
        "role",
        "fte",
        "start_day",
        "end_day",
        "absent_until",
        "stress",
        "caseload",
        "hours_left",
        "debt",
        "demand",
    )

    def grow(self) -> None:
        """Double the room for worker rows (rows keep their numbers)."""
        for name in self._ROW_ARRAYS:
            old = getattr(self, name)
            fill = NO_ONE if name == "end_day" else 0
            new = np.full(old.size * 2, fill, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def open_fte(self, open_share: np.ndarray | None = None) -> float:
        """FTE of the posts, each weighted by the share of a period it was open (all posts, fully, by default)."""
        return float(self.post_fte.sum() if open_share is None else (self.post_fte * open_share).sum())

    def open_share(self, first_day: int, end_day: int) -> np.ndarray | None:
        """Share of the days ``first_day .. end_day - 1`` each post was open (None when all were open throughout)."""
        if not (self.post_open_day > first_day).any() or end_day <= first_day:
            return None
        open_days = np.clip(end_day - np.maximum(self.post_open_day, first_day), 0, end_day - first_day)
        return open_days / (end_day - first_day)

    def in_post(self) -> np.ndarray:
        """Rows of workers holding a post now."""
        held = self.holder[self.holder >= 0]
        return held

    def present(self, day: int) -> np.ndarray:
        """Rows of workers in post and not absent on ``day``."""
        held = self.in_post()
        return held[self.absent_until[held] <= day]
