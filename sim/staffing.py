"""Staffing systems: every rule that depends on how a team is staffed, one class per system.

A system decides who meets each contact and each crisis, which extra posts it adds and who pays,
how it changes staff retention, who holds caseloads and who is waiting for a worker. The model
(``sim.model.StaffingModel``) calls the hooks listed in ``StaffingSystem``; it never asks which
system it runs. A new system is one subclass registered with ``@register``, one config group under
``conf/`` if it has settings, and one test file (copy ``tests/test_systems.py``); the runner,
comparison, business case, figures and commands handle it as one more arm.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.params import Config
from sim.population import ADVANCED_PRACTITIONER, CHECKIN, NEED_LEVELS, NO_ONE, REACTIVE, SOCIAL_WORKER

if TYPE_CHECKING:
    from sim.model import StaffingModel

DAYS_PER_WEEK = 7
NEVER = np.iinfo(np.int64).max  # a day that never comes


class StaffingSystem:
    """Interface of a staffing system. The model calls these hooks, in this order.

    Before the model exists (class methods, so costs and layouts need no model):

    - ``extra_fte(cfg)``: social-worker FTE the system adds to the shared posts (its investment in staff).
    - ``extra_posts_open_day(cfg)``: model day the extra posts open (0: from the start).
    - ``investment(cfg)``: the planned investment, as ``(extra FTE, set-up GBP, first measured day)``.
    - ``start_day(cfg)``: first measured day on which the system differs from how the team worked
      before (0 for most; the switch-over's switch day); the business case counts the transition from it.

    Building the model (after people, posts and the first workers exist):

    - ``__init__(model)``, then ``setup()``: allocations and schedules before day 0.

    Each day, in the order of ``StaffingModel.step`` (docs/ODD.md section 3):

    1. ``serve(t)``: allocation and service: offer the day's open contacts (and proactive contacts) to
       workers through ``model.offer``. ``checked_in(persons, t)`` is called back for each check-in made.
    2. ``crisis_responders(persons, t)``: the worker who meets each crisis.
    3. ``backlog_hours(open_persons)``: each worker's share of the work waiting (an input to stress);
       ``retention(t)``: relative cut in the leaving hazard of permanent staff today;
       ``on_worker_left(row, t)``: a worker has left (reallocate what they held).
    4. ``pending()``: people waiting for a worker of their own (a daily stock).

    After the run: ``summary(series, first_day)``: the system's own columns of runs.csv.
    """

    name: ClassVar[str] = ""
    #: One line for users (the page's picker, the docs).
    label: ClassVar[str] = ""

    def __init__(self, model: StaffingModel) -> None:
        self.model = model
        self.cfg = model.cfg
        staff = model.staff
        self.ap_posts = np.flatnonzero(staff.post_role == ADVANCED_PRACTITIONER)
        self._base_hours = model.base_hours
        self._rota = model.streams.daily("staffing/rota", 1)
        self._sw_open_until = -1
        self._update_sw_posts(0)

    # Class-level hooks ---------------------------------------------------------------------

    @classmethod
    def extra_fte(cls, cfg: Config) -> float:
        """Extra social-worker FTE this system adds (none by default)."""
        return 0.0

    @classmethod
    def extra_posts_open_day(cls, cfg: Config) -> int:
        """Model day the extra posts open (from the start by default)."""
        return 0

    @classmethod
    def investment(cls, cfg: Config) -> tuple[float, float, int]:
        """Extra FTE funded, one-off set-up cost (GBP) and the measured day both start (none by default)."""
        return (0.0, 0.0, 0)

    @classmethod
    def start_day(cls, cfg: Config) -> int:
        """First measured day on which this system departs from the team's previous way of working."""
        return 0

    # Per-model hooks -----------------------------------------------------------------------

    def setup(self) -> None:
        """Prepare the system once the people and the first workers exist."""

    def serve(self, t: int) -> None:
        """Allocate and serve the day's open contacts (and check-ins, where the system makes them)."""
        raise NotImplementedError

    def crisis_responders(self, persons: np.ndarray, t: int) -> np.ndarray:
        """The worker row who responds to each person's crisis today (NO_ONE if nobody is in)."""
        raise NotImplementedError

    def backlog_hours(self, open_persons: np.ndarray) -> np.ndarray:
        """Hours of unmet work waiting for each worker row (input to stress)."""
        raise NotImplementedError

    def retention(self, t: int) -> float:
        """Relative cut in the leaving hazard of permanent staff today (0: none)."""
        return 0.0

    def on_worker_left(self, row: int, t: int) -> None:
        """A worker has left their post today."""

    def pending(self) -> int:
        """People waiting for a worker of their own today (none where nobody has one)."""
        return 0

    def summary(self, series: dict[str, np.ndarray], first_day: int) -> dict[str, float]:
        """The system's own columns of runs.csv from the measured daily series (which start on ``first_day``)."""
        return {"mean_caseload": np.nan}

    # Helpers shared by systems -------------------------------------------------------------

    def _init_checkins(self, enabled: bool) -> None:
        """Proactive contacts at ``named.checkins_per_year`` by need level: intervals, and whether any are made."""
        rates = np.array(self.cfg.named.checkins_per_year.as_tuple())
        with np.errstate(divide="ignore"):
            interval = np.where(rates > 0, 365.0 / np.maximum(rates, 1e-12), np.inf)
        self.checkin_interval_days = interval[self.model.people.need]
        self.checkins = enabled and bool((rates > 0).any())

    def _schedule_first_checkins(self, persons: np.ndarray, t: int) -> None:
        """First check-in of ``persons`` somewhere in their first interval (spread, the same draws in every arm)."""
        if not hasattr(self, "_first_checkin"):
            self._first_checkin = self.model.streams.generator("named/first_checkin").random(self.model.people.n)
        interval = self.checkin_interval_days[persons]
        finite = np.isfinite(interval)
        first = np.floor(self._first_checkin[persons] * np.where(finite, interval, 0)).astype(np.int64)
        self.model.people.next_checkin[persons] = np.where(finite, t + first, NEVER)

    def _due_checkins(self, t: int) -> np.ndarray:
        """People due a check-in today: at home, no open contact, no contact yet today; high need first."""
        model = self.model
        people = model.people
        due = np.flatnonzero(
            (people.next_checkin <= t) & (people.open_kind == 0) & model.active & (people.last_contact < t)
        )
        return due[np.argsort(-people.need[due], kind="stable")]

    def checked_in(self, persons: np.ndarray, t: int) -> None:
        """The next check-in is one interval (by need level) after this one."""
        interval = self.checkin_interval_days[persons]
        self.model.people.next_checkin[persons] = t + np.ceil(interval).astype(np.int64)

    def _update_sw_posts(self, t: int) -> None:
        """Social-worker posts open on day ``t`` (posts added later open on their day)."""
        staff = self.model.staff
        if t <= self._sw_open_until:
            return
        is_open = staff.post_open_day <= t
        self.sw_posts = np.flatnonzero((staff.post_role == SOCIAL_WORKER) & is_open)
        self._turn = np.arange(self.sw_posts.size)
        later = staff.post_open_day[~is_open]
        self._sw_open_until = int(later.min()) - 1 if later.size else NEVER

    def _present_holders(self, posts: np.ndarray, t: int) -> np.ndarray:
        """Rows of the present holders of ``posts`` (vacant posts and absent holders dropped)."""
        staff = self.model.staff
        rows = staff.holder[posts]
        rows = rows[rows >= 0]
        return rows[staff.absent_until[rows] <= t]

    def _rota_today(self, n: int, t: int) -> np.ndarray:
        """The ``n`` social workers on today's rota: posts in turn, skipping absent and vacant ones."""
        self._update_sw_posts(t)
        if n == 0 or self.sw_posts.size == 0:
            return np.empty(0, dtype=np.int64)
        start = (t * n) % self.sw_posts.size
        rows = self._present_holders(self.sw_posts[(self._turn + start) % self.sw_posts.size], t)
        return rows[:n]

    def _offset(self, t: int) -> int:
        """A random start for spreading today's contacts over a pool (the same in every arm)."""
        return int(self._rota.row(t)[0] * 1_000_003)

    def _share_out(self, persons: np.ndarray, pool: np.ndarray, t: int) -> np.ndarray:
        """Offer contacts (priority order) round the pool until they are met or the pool has no hours.

        Returns the contacts left unmet.
        """
        model = self.model
        offset = self._offset(t)
        while persons.size and pool.size:
            pool = pool[model.staff.hours_left[pool] > 0]
            if pool.size == 0:
                break
            workers = pool[(np.arange(persons.size) + offset) % pool.size]
            served = model.offer(persons, workers, t)
            if not served.any():
                break
            persons = persons[~served]
        return persons


#: The registry: every staffing system by name. Config validation, the page's picker and the docs read it.
SYSTEMS: dict[str, type[StaffingSystem]] = {}


def register(cls: type[StaffingSystem]) -> type[StaffingSystem]:
    """Class decorator: add a staffing system to ``SYSTEMS`` under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a name to be registered")
    SYSTEMS[cls.name] = cls
    return cls


def _most_hours(model: StaffingModel, pool: np.ndarray, n: int) -> np.ndarray:
    """The pool member with the most hours left, ``n`` times (NO_ONE if the pool is empty)."""
    if pool.size == 0:
        return np.full(n, NO_ONE, dtype=np.int64)
    return np.full(n, pool[np.argmax(model.staff.hours_left[pool])], dtype=np.int64)


@register
class DutySystem(StaffingSystem):
    """Duty: a daily rota takes reactive contacts from one pooled queue, urgent first; others do reviews."""

    name = "duty"
    label = "Duty desk: whoever is on the rota takes the call"

    def serve(self, t: int) -> None:
        """Desk workers and advanced practitioners take reactive contacts; other workers take reviews."""
        self._serve_desk(self.model.open_queue(), t)

    def _desk(self, t: int) -> np.ndarray:
        return np.concatenate(
            [self._rota_today(self.cfg.duty.workers_per_day, t), self._present_holders(self.ap_posts, t)]
        )

    def _serve_desk(self, queue: np.ndarray, t: int) -> None:
        """The duty desk over ``queue`` (open contacts in priority order)."""
        if queue.size == 0:
            return
        model = self.model
        desk = self._desk(t)
        everyone = model.staff.present(t)
        on_desk = np.zeros(model.staff.n, dtype=bool)
        on_desk[desk] = True
        others = everyone[~on_desk[everyone]]
        reactive = model.people.open_kind[queue] == REACTIVE
        # First pass, one offer for both queues: reactive contacts round the desk, reviews round the others.
        offset = self._offset(t)
        persons, workers = [], []
        for part, pool in ((queue[reactive], desk), (queue[~reactive], others if others.size else desk)):
            pool = pool[model.staff.hours_left[pool] > 0]
            if part.size and pool.size:
                persons.append(part)
                workers.append(pool[(np.arange(part.size) + offset) % pool.size])
        leftovers = queue
        if persons:
            offered = np.concatenate(persons)
            served = model.offer(offered, np.concatenate(workers), t)
            leftovers = queue[~np.isin(queue, offered[served], assume_unique=True)] if served.any() else queue
        # Second pass: anyone with hours left takes what the first could not, urgent first.
        if leftovers.size:
            self._share_out(leftovers, everyone, t)

    def crisis_responders(self, persons: np.ndarray, t: int) -> np.ndarray:
        """The desk worker with the most hours left meets each crisis (anyone present if the desk is empty)."""
        pool = self._desk(t)
        if pool.size == 0:
            pool = self.model.staff.present(t)
        return _most_hours(self.model, pool, persons.size)

    def backlog_hours(self, open_persons: np.ndarray) -> np.ndarray:
        """The pooled backlog is shared by every present worker in proportion to their FTE."""
        model = self.model
        staff = model.staff
        out = np.zeros(staff.n)
        total = self._base_hours[model.people.open_kind[open_persons]].sum()
        present = staff.present(model.day)
        if total and present.size:
            out[present] = total * staff.fte[present] / staff.fte[present].sum()
        return out


@register
class DutyCallsSystem(DutySystem):
    """Duty with welfare calls: the duty desk as in duty, plus proactive calls at the named cadence, no named worker.

    After the desk has served the day's open contacts, people due a call (``named.checkins_per_year`` by
    need level, high need first) are dealt round the callers (``duty_calls.callers``: every present worker,
    or only the day's desk) and called only from spare hours: a call is made only if it fits whole in the
    caller's hours left. Calls not made stay due. With ``duty_calls.proactive_calls`` false it is duty exactly.
    """

    name = "duty_calls"
    label = "Duty desk with welfare calls: the rota phones people at the named cadence from spare hours"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        self._init_checkins(model.cfg.duty_calls.proactive_calls)

    def setup(self) -> None:
        """First calls spread over each person's first interval (the named arm's first check-in draws)."""
        if self.checkins:
            self._schedule_first_checkins(np.arange(self.model.people.n), 0)

    def serve(self, t: int) -> None:
        """The duty desk, then the welfare calls that are due, from the desk's spare hours."""
        super().serve(t)
        if self.checkins:
            self._call(t)

    def _call(self, t: int) -> None:
        """Deal due calls round the callers with hours left until none fits."""
        model = self.model
        due = self._due_checkins(t)
        pool = self._desk(t) if self.cfg.duty_calls.callers == "desk" else model.staff.present(t)
        offset = self._offset(t)
        while due.size and pool.size:
            pool = pool[model.staff.hours_left[pool] > 0]
            if pool.size == 0:
                break
            callers = pool[(np.arange(due.size) + offset) % pool.size]
            made = model.offer(due, callers, t, kind=CHECKIN, overrun=False)
            if not made.any():
                break
            due = due[~made]


@register
class NamedWorkerSystem(StaffingSystem):
    """Named workers: each person's contacts go to their own worker; cover from APs and a small rota."""

    name = "named"
    label = "Named workers: everyone has a social worker of their own"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        self._init_checkins(model.cfg.named.proactive_checkins)
        #: Who is served by a named worker (every person here; a subset in mixed systems).
        self.named_people = np.ones(model.people.n, dtype=bool)

    @classmethod
    def extra_fte(cls, cfg: Config) -> float:
        """The named model's investment in extra social workers (``named.extra_fte``)."""
        return cfg.named.extra_fte

    @classmethod
    def investment(cls, cfg: Config) -> tuple[float, float, int]:
        """The extra FTE and the set-up cost, from the first measured day."""
        return (cfg.named.extra_fte, cfg.costs.named_setup_gbp, 0)

    def retention(self, t: int) -> float:
        """Relationship-based practice keeps staff: ``effects.named_retention``."""
        return self.cfg.effects.named_retention

    def setup(self) -> None:
        """Everyone starts in the pending tray and is allocated on day 0; check-ins start spread out."""
        people = self.model.people
        people.named_worker[:] = NO_ONE
        people.pending_since[:] = 0
        self._schedule_first_checkins(np.arange(people.n), 0)
        self.allocate(0)

    def allocate(self, t: int) -> None:
        """Give people in the pending tray (high need first, then longest waiting) to workers under the cap."""
        model = self.model
        people, staff = model.people, model.staff
        pending = np.flatnonzero((people.named_worker == NO_ONE) & self.named_people)
        if pending.size == 0:
            return
        self._update_sw_posts(t)
        rows = staff.in_post()
        rows = rows[np.isin(staff.post[rows], self.sw_posts)]
        room = np.floor(self.cfg.named.caseload_cap * staff.fte[rows] + 1e-9).astype(np.int64) - staff.caseload[rows]
        keep = room > 0
        rows, room = rows[keep], room[keep]
        if rows.size == 0:
            return
        # One slot per free place; fill the emptiest caseloads first so caseloads stay even.
        slot_worker = np.repeat(rows, room)
        slot_rank = np.arange(slot_worker.size) - np.repeat(np.cumsum(room) - room, room)
        key = np.repeat(staff.caseload[rows], room) + slot_rank
        slots = slot_worker[np.argsort(key, kind="stable")]
        order = np.lexsort((people.pending_since[pending], -people.need[pending]))
        chosen = pending[order][: slots.size]
        workers = slots[: chosen.size]
        people.named_worker[chosen] = workers
        np.add.at(staff.caseload, workers, 1)
        level, _, _ = model.familiarity_lookup(chosen, workers, t)
        people.named_fam_level[chosen] = level
        people.named_fam_day[chosen] = t

    def serve(self, t: int) -> None:
        """Own worker first; cover for the absent, the unallocated and the long-waiting; then check-ins."""
        self.allocate(t)
        self._serve_named(self.model.open_queue(), t)
        if self.checkins:  # before the day's contacts are carried out: people served today still show as open
            self._check_in(t)

    def _serve_named(self, queue: np.ndarray, t: int) -> None:
        """Named workers (and cover) over ``queue`` (open contacts of named people, in priority order)."""
        if queue.size == 0:
            return
        model = self.model
        people, staff = model.people, model.staff
        own = people.named_worker[queue]
        has_own = own >= 0
        present = np.zeros(queue.size, dtype=bool)
        present[has_own] = staff.absent_until[own[has_own]] <= t
        with_own = queue[present]
        if with_own.size:
            served = model.offer(with_own, people.named_worker[with_own], t)
            queue = np.concatenate([with_own[~served], queue[~present]])
            queue = queue[np.argsort(model.priority(queue, t), kind="stable")]
        if queue.size:
            own = people.named_worker[queue]
            waited = t - people.open_since[queue]
            no_own = own < 0
            no_own[~no_own] = staff.absent_until[own[~no_own]] > t
            reactive = people.open_kind[queue] == REACTIVE
            to_cover = queue[
                (no_own & (reactive | (waited >= self.cfg.named.max_wait_days)))
                | (reactive & (waited >= self.cfg.named.max_wait_days))
            ]
            if to_cover.size:
                self._share_out(to_cover, self._cover_pool(t), t)

    def _cover_pool(self, t: int) -> np.ndarray:
        return np.concatenate(
            [self._present_holders(self.ap_posts, t), self._rota_today(self.cfg.named.cover_workers_per_day, t)]
        )

    def _check_in(self, t: int) -> None:
        """Proactive check-ins that are due, from each named worker's spare hours only."""
        model = self.model
        people, staff = model.people, model.staff
        due = self._due_checkins(t)
        if due.size == 0:
            return
        own = people.named_worker[due]
        ok = own >= 0
        ok[ok] = staff.absent_until[own[ok]] <= t
        due, own = due[ok], own[ok]
        if due.size == 0:
            return
        model.offer(due, own, t, kind=CHECKIN, overrun=False)

    def crisis_responders(self, persons: np.ndarray, t: int) -> np.ndarray:
        """The named worker if in; else the cover worker (or anyone present) with the most hours left."""
        staff = self.model.staff
        own = self.model.people.named_worker[persons].copy()
        missing = own < 0
        missing[~missing] = staff.absent_until[own[~missing]] > t
        if missing.any():
            pool = self._cover_pool(t)
            if pool.size == 0:
                pool = staff.present(t)
            own[missing] = _most_hours(self.model, pool, int(missing.sum()))
        return own

    def backlog_hours(self, open_persons: np.ndarray) -> np.ndarray:
        """Each named worker carries the open contacts of their own people."""
        model = self.model
        own = model.people.named_worker[open_persons]
        mine = own >= 0
        hours = self._base_hours[model.people.open_kind[open_persons[mine]]]
        return np.bincount(own[mine], weights=hours, minlength=model.staff.n)[: model.staff.n]

    def on_worker_left(self, row: int, t: int) -> None:
        """The leaver's people go to the pending tray; their next worker starts from what they know."""
        people = self.model.people
        mine = np.flatnonzero(people.named_worker == row)
        people.named_worker[mine] = NO_ONE
        people.pending_since[mine] = t
        people.named_fam_level[mine] = 0.0
        self.model.staff.caseload[row] = 0

    def pending(self) -> int:
        """People served by named workers who are waiting for one."""
        return int(np.count_nonzero((self.model.people.named_worker == NO_ONE) & self.named_people))

    def summary(self, series: dict[str, np.ndarray], first_day: int) -> dict[str, float]:
        """Mean caseload of social workers over the measured days on which anyone had a named worker."""
        caseload = series["mean_caseload"]
        start = max(0, self.first_named_day() - first_day)
        days = caseload[start:] if start else caseload
        return {"mean_caseload": float(days.mean()) if days.size else np.nan}

    def first_named_day(self) -> int:
        """Model day from which people are served by named workers."""
        return 0


def named_share(cfg: Config, levels: list[str] | tuple[str, ...]) -> float:
    """Expected share of people at the need ``levels`` (from ``team.need_mix``): 1 for all levels, 0 for none."""
    mix = cfg.team.need_mix.model_dump()
    chosen = sum(mix[level] for level in NEED_LEVELS if level in levels)
    return chosen / sum(mix[level] for level in NEED_LEVELS)


class MixedSystem(NamedWorkerSystem, DutySystem):
    """Named workers for some people (``named_people``), the duty desk for the rest.

    Each day: allocation and named service for named people, the desk for the others, then check-ins
    from spare hours. With everyone named it is the named system exactly; with no one, duty exactly.
    """

    def serve(self, t: int) -> None:
        """Named people through their workers and cover, the others through the desk, then check-ins."""
        self._update_named_people(t)
        self.allocate(t)
        queue = self.model.open_queue()
        named = self.named_people[queue]
        self._serve_named(queue[named], t)
        self._serve_desk(queue[~named], t)
        if self.checkins:
            self._check_in(t)

    def _update_named_people(self, t: int) -> None:
        """Change who is served by a named worker (fixed unless a subclass says otherwise)."""

    def crisis_responders(self, persons: np.ndarray, t: int) -> np.ndarray:
        """Named people's crises as in the named system, the others' as in duty."""
        named = self.named_people[persons]
        out = np.empty(persons.size, dtype=np.int64)
        out[named] = NamedWorkerSystem.crisis_responders(self, persons[named], t)
        out[~named] = DutySystem.crisis_responders(self, persons[~named], t)
        return out

    def backlog_hours(self, open_persons: np.ndarray) -> np.ndarray:
        """Named people's waiting work falls on their own workers; the others' is pooled."""
        named = self.named_people[open_persons]
        return NamedWorkerSystem.backlog_hours(self, open_persons[named]) + DutySystem.backlog_hours(
            self, open_persons[~named]
        )


@register
class HybridSystem(MixedSystem):
    """Hybrid: named workers for the need levels in ``hybrid.named_needs``, the duty desk for everyone else."""

    name = "hybrid"
    label = "Hybrid: named workers for some need levels, the duty desk for the rest"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        levels = [NEED_LEVELS.index(level) for level in self.cfg.hybrid.named_needs]
        self.named_people = np.isin(model.people.need, levels)
        self._share = named_share(self.cfg, self.cfg.hybrid.named_needs)

    @classmethod
    def extra_fte(cls, cfg: Config) -> float:
        """``named.extra_fte`` scaled by the expected share of people with a named worker."""
        return cfg.named.extra_fte * named_share(cfg, cfg.hybrid.named_needs)

    @classmethod
    def investment(cls, cfg: Config) -> tuple[float, float, int]:
        """The named investment (extra FTE and set-up) scaled by the share of people with a named worker."""
        share = named_share(cfg, cfg.hybrid.named_needs)
        return (cfg.named.extra_fte * share, cfg.costs.named_setup_gbp * share, 0)

    def retention(self, t: int) -> float:
        """Named working keeps staff in proportion to the share of people it covers."""
        return self.cfg.effects.named_retention * self._share

    def summary(self, series: dict[str, np.ndarray], first_day: int) -> dict[str, float]:
        """Mean caseload as in the named system; none when no need level has named workers."""
        if not self.named_people.any():
            return {"mean_caseload": np.nan}
        return super().summary(series, first_day)


@register
class SwitchSystem(MixedSystem):
    """Switch-over: duty until ``switch.day``, then people move to named workers over ``switch.allocation_weeks``.

    People move highest need first (then in row order, which is random); each joins the pending tray on
    the day they move and is allocated to a worker under the cap. The extra posts open and the set-up is
    paid on the switch day; named retention applies from then on.
    """

    name = "switch"
    label = "Switch-over: duty first, then named workers from a given day"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        n = model.people.n
        self.named_people = np.zeros(n, dtype=bool)
        self.switch_day = self.extra_posts_open_day(self.cfg)
        #: Order people move in (highest need first) and the model day by which the first k have moved.
        self._order = np.lexsort((np.arange(n), -model.people.need.astype(np.int64)))
        self._moved = 0
        self._period_days = max(1.0, self.cfg.switch.allocation_weeks * DAYS_PER_WEEK)

    @classmethod
    def extra_fte(cls, cfg: Config) -> float:
        """The named model's extra FTE (``named.extra_fte``), opening on the switch day."""
        return cfg.named.extra_fte

    @classmethod
    def extra_posts_open_day(cls, cfg: Config) -> int:
        """The switch day, as a model day (after the warm-up)."""
        return cfg.warmup_days + cfg.switch.day

    @classmethod
    def investment(cls, cfg: Config) -> tuple[float, float, int]:
        """The named investment, from the switch day (none if the switch falls after the horizon)."""
        if cfg.switch.day >= cfg.horizon_days:
            return (0.0, 0.0, cfg.switch.day)
        return (cfg.named.extra_fte, cfg.costs.named_setup_gbp, cfg.switch.day)

    @classmethod
    def start_day(cls, cfg: Config) -> int:
        """The switch day (measured days)."""
        return cfg.switch.day

    def setup(self) -> None:
        """No one has a named worker before the switch; check-in draws are kept for when people move."""
        super().setup()
        self.model.people.next_checkin[:] = NEVER

    def _update_named_people(self, t: int) -> None:
        """On and after the switch day, move the next people to named working (pending tray first)."""
        if t < self.switch_day or self._moved == self.named_people.size:
            return
        elapsed = t - self.switch_day + 1
        target = self.named_people.size
        if elapsed < self._period_days:
            target = math.ceil(target * elapsed / self._period_days)
        if target <= self._moved:
            return
        movers = self._order[self._moved : target]
        self._moved = target
        self.named_people[movers] = True
        self.model.people.pending_since[movers] = t
        self._schedule_first_checkins(movers, t)

    def retention(self, t: int) -> float:
        """Named retention from the switch day on."""
        return self.cfg.effects.named_retention if t >= self.switch_day else 0.0

    def first_named_day(self) -> int:
        """The switch day."""
        return self.switch_day

    def summary(self, series: dict[str, np.ndarray], first_day: int) -> dict[str, float]:
        """Mean caseload after the switch; none if the switch never came."""
        if self.switch_day >= first_day + series["mean_caseload"].size:
            return {"mean_caseload": np.nan}
        return super().summary(series, first_day)
