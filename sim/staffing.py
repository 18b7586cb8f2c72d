"""Staffing systems: every rule that depends on how a team is staffed, one class per system.

A system decides who meets each contact and each crisis, which extra posts it adds and who pays,
how it changes staff retention, who holds caseloads and who is waiting for a worker. The model
(``sim.model.StaffingModel``) calls the hooks listed in ``StaffingSystem``; it never asks which
system it runs. A new system is one subclass registered with ``@register``, one config group under
``conf/`` if it has settings, and one test file (copy ``tests/test_systems.py``); the runner,
comparison, business case, figures and commands handle it as one more arm.

The day's allocation runs compiled (numba), inside the model's compiled run of days. It is built
from the blocks below: the duty desk (a rota plus the advanced practitioners takes reactive
contacts, everyone else reviews), named workers (allocation under a cap, own worker first, cover
for the absent and the long-waiting, check-ins from spare hours), and welfare calls from spare
hours. A system chooses who is served by a named worker (``named_people``, which may change on a
day: ``move_day``) and sets the blocks' sizes and switches in ``__init__``; a rule that is not
made of these blocks adds its compiled function here and a branch in ``serve``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numba import njit

from sim.contacts import (
    FIT_TOLERANCE_HOURS,
    NEVER,
    REFERRAL_ALLOCATION_WAIT_DAYS,
    REFERRALS_ALLOCATED,
    Books,
    Draws,
    PeopleArrays,
    Policy,
    Settings,
    StaffArrays,
    familiarity_lookup,
    in_post,
    offer,
    open_queue,
    pairwise_sum,
    present,
    present_holders,
    sort_by_priority,
    with_hours,
)
from sim.params import Config
from sim.population import ADVANCED_PRACTITIONER, AWAY, CHECKIN, NEED_LEVELS, NO_ONE, REACTIVE, SOCIAL_WORKER

if TYPE_CHECKING:
    from sim.model import StaffingModel

DAYS_PER_WEEK = 7


# Compiled blocks ---------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def sw_posts(W: StaffArrays, t: int) -> np.ndarray:
    """Social-worker posts open on day ``t`` (posts added later open on their day)."""
    keep = (W.post_role == SOCIAL_WORKER) & (W.post_open_day <= t)
    return np.flatnonzero(keep)


@njit(cache=True)
def rota_today(W: StaffArrays, n: int, t: int) -> np.ndarray:
    """The ``n`` social workers on today's rota: posts in turn, skipping absent and vacant ones."""
    posts = sw_posts(W, t)
    if n == 0 or posts.size == 0:
        return np.empty(0, dtype=np.int64)
    start = (t * n) % posts.size
    rows = present_holders(W, posts[(np.arange(posts.size) + start) % posts.size], t)
    return rows[:n]


@njit(cache=True, inline="always")
def start_offset(D: Draws, t: int) -> int:
    """A random start for spreading today's contacts over a pool (the same in every arm)."""
    return int(D.rota[t - D.first_day, 0] * 1_000_003)


@njit(cache=True, inline="always")
def desk(W: StaffArrays, Y: Policy, t: int) -> np.ndarray:
    """Today's duty desk: the rota, then the present advanced practitioners."""
    return np.concatenate((rota_today(W, Y.desk_rota, t), present_holders(W, Y.ap_posts, t)))


@njit(cache=True, inline="always")
def cover_pool(W: StaffArrays, Y: Policy, t: int) -> np.ndarray:
    """Today's cover for named workers: the present advanced practitioners, then the cover rota."""
    return np.concatenate((present_holders(W, Y.ap_posts, t), rota_today(W, Y.cover_rota, t)))


@njit(cache=True, inline="always")
def deal(pool: np.ndarray, m: int, offset: int) -> np.ndarray:
    """Deal ``m`` contacts round ``pool`` from a random start."""
    return pool[(np.arange(m) + offset) % pool.size]


@njit(cache=True)
def share_out(
    P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, persons: np.ndarray, pool: np.ndarray, t: int
) -> np.ndarray:
    """Offer contacts (priority order) round the pool until they are met or the pool has no hours; return the unmet."""
    offset = start_offset(D, t)
    while persons.size and pool.size:
        pool = with_hours(W, pool)
        if pool.size == 0:
            break
        served = offer(P, W, C, B, persons, deal(pool, persons.size, offset), t, -1, True)
        if not served.any():
            break
        persons = persons[~served]
    return persons


@njit(cache=True)
def serve_desk(
    P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, queue: np.ndarray, t: int
) -> None:
    """The duty desk over ``queue`` (open contacts, priority order): reactive round the desk, reviews round the rest."""
    if queue.size == 0:
        return
    on_desk = desk(W, Y, t)
    everyone = present(W, t)
    is_desk = np.zeros(W.hours_left.size, dtype=np.bool_)
    is_desk[on_desk] = True
    others = everyone[~is_desk[everyone]]
    reactive = np.empty(queue.size, dtype=np.bool_)
    for i in range(queue.size):
        reactive[i] = P.open_kind[queue[i]] == REACTIVE
    offset = start_offset(D, t)
    # First pass, one offer for both queues: reactive contacts round the desk, reviews round the others.
    urgent, routine = queue[reactive], queue[~reactive]
    urgent_pool = with_hours(W, on_desk)
    routine_pool = with_hours(W, others if others.size else on_desk)
    parts, pools = [], []
    if urgent.size and urgent_pool.size:
        parts.append(urgent)
        pools.append(deal(urgent_pool, urgent.size, offset))
    if routine.size and routine_pool.size:
        parts.append(routine)
        pools.append(deal(routine_pool, routine.size, offset))
    leftovers = queue
    if len(parts):
        offered = parts[0] if len(parts) == 1 else np.concatenate((parts[0], parts[1]))
        workers = pools[0] if len(pools) == 1 else np.concatenate((pools[0], pools[1]))
        served = offer(P, W, C, B, offered, workers, t, -1, True)
        if served.any():
            done = np.zeros(P.risk.size, dtype=np.bool_)
            done[offered[served]] = True
            leftovers = queue[~done[queue]]
    # Second pass: anyone with hours left takes what the first could not, urgent first.
    if leftovers.size:
        share_out(P, W, C, B, D, leftovers, everyone, t)


@njit(cache=True)
def due_checkins(P: PeopleArrays, t: int) -> np.ndarray:
    """People due a check-in today: at home, no open contact, no contact yet today; high need first."""
    n_levels = 3
    count = np.zeros(n_levels, dtype=np.int64)
    found = np.empty(P.risk.size, dtype=np.int64)  # one pass over everyone; then high need first, in row order
    k = 0
    for p in range(P.risk.size):
        if P.next_checkin[p] <= t and P.open_kind[p] == 0 and P.active[p] and P.last_contact[p] < t:
            count[P.need[p]] += 1
            found[k] = p
            k += 1
    start = np.zeros(n_levels, dtype=np.int64)
    for level in range(n_levels - 2, -1, -1):
        start[level] = start[level + 1] + count[level + 1]
    due = np.empty(k, dtype=np.int64)
    for p in found[:k]:
        due[start[P.need[p]]] = p
        start[P.need[p]] += 1
    return due


@njit(cache=True)
def schedule_first_checkins(P: PeopleArrays, B: Books, Y: Policy, persons: np.ndarray, t: int) -> None:
    """First check-in of ``persons`` somewhere in their first interval (spread, the same draws in every arm)."""
    for p in persons:
        interval = B.checkin_interval[p]
        if np.isfinite(interval):
            P.next_checkin[p] = t + np.int64(math.floor(Y.first_checkin[p] * interval))
        else:
            P.next_checkin[p] = NEVER


@njit(cache=True)
def allocate(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, Y: Policy, t: int) -> None:
    """Give people in the pending tray (high need first, then longest waiting) to workers under the cap."""
    n_pending = pending(P, Y)  # counted first: on most days (every day of a duty system) the tray is empty
    if n_pending == 0:
        return
    waiting = np.empty(n_pending, dtype=np.int64)
    k = 0
    for p in range(P.named_worker.size):
        if P.named_worker[p] == NO_ONE and Y.named_people[p] and P.setting[p] != AWAY:
            waiting[k] = p
            k += 1
    posts = sw_posts(W, t)
    is_sw = np.zeros(W.holder.size, dtype=np.bool_)
    is_sw[posts] = True
    rows = in_post(W)
    rows = rows[is_sw[W.post[rows]]]
    room = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        room[i] = np.int64(math.floor(Y.caseload_cap * W.fte[rows[i]] + 1e-9)) - W.caseload[rows[i]]
    keep = room > 0
    rows, room = rows[keep], room[keep]
    if rows.size == 0:
        return
    # One slot per free place; fill the emptiest caseloads first so caseloads stay even.
    total = room.sum()
    slot_worker = np.empty(total, dtype=np.int64)
    key = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(rows.size):
        for rank in range(room[i]):
            slot_worker[k] = rows[i]
            key[k] = W.caseload[rows[i]] + rank
            k += 1
    slots = slot_worker[np.argsort(key, kind="mergesort")]
    # High need first, then the longest waiting, then row order.
    by_wait = np.argsort(P.pending_since[waiting], kind="mergesort")
    by_need = np.argsort(-P.need[waiting][by_wait].astype(np.int64), kind="mergesort")
    chosen = waiting[by_wait[by_need]][: slots.size]
    workers = slots[: chosen.size]
    for i in range(chosen.size):
        P.named_worker[chosen[i]] = workers[i]
        W.caseload[workers[i]] += 1
        # A referral's first named worker (a referral arrives after day 0, and only allocation sets named_fam_day).
        if P.arrive_day[chosen[i]] > 0 and P.named_fam_day[chosen[i]] == 0:
            B.daily[t, REFERRALS_ALLOCATED] += 1
            B.daily[t, REFERRAL_ALLOCATION_WAIT_DAYS] += t - P.arrive_day[chosen[i]]
    level = familiarity_lookup(P, chosen, workers, t, C.familiarity_fade_days)[0]
    for i in range(chosen.size):
        P.named_fam_level[chosen[i]] = level[i]
        P.named_fam_day[chosen[i]] = t


@njit(cache=True, inline="always")
def own_worker_here(P: PeopleArrays, W: StaffArrays, p: int, t: int) -> bool:
    """Whether person ``p`` has a named worker who is at work today."""
    own = P.named_worker[p]
    return own >= 0 and W.absent_until[own] <= t


@njit(cache=True)
def serve_named(
    P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, queue: np.ndarray, t: int
) -> None:
    """Named workers (and cover) over ``queue`` (open contacts of named people, in priority order)."""
    if queue.size == 0:
        return
    here = np.zeros(queue.size, dtype=np.bool_)
    for i in range(queue.size):
        here[i] = own_worker_here(P, W, queue[i], t)
    with_own = queue[here]
    if with_own.size:
        served = offer(P, W, C, B, with_own, P.named_worker[with_own], t, -1, True)
        queue = sort_by_priority(P, np.concatenate((with_own[~served], queue[~here])))
    if queue.size:
        to_cover = np.zeros(queue.size, dtype=np.bool_)
        for i in range(queue.size):
            p = queue[i]
            no_own = not own_worker_here(P, W, p, t)
            late = t - P.open_since[p] >= Y.max_wait_days
            reactive = P.open_kind[p] == REACTIVE
            to_cover[i] = (no_own and (reactive or late)) or (reactive and late)
        if to_cover.any():
            share_out(P, W, C, B, D, queue[to_cover], cover_pool(W, Y, t), t)


@njit(cache=True)
def check_in(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, Y: Policy, t: int) -> None:
    """Proactive check-ins that are due, from each named worker's spare hours only."""
    due = due_checkins(P, t)
    if due.size == 0:
        return
    # A check-in must fit whole in its worker's hours and takes at least the base check-in time, so a worker
    # with less left than that serves none: their people are not offered (offer would turn every one down).
    least = C.base_hours[CHECKIN] - FIT_TOLERANCE_HOURS
    ok = np.zeros(due.size, dtype=np.bool_)
    for i in range(due.size):
        ok[i] = own_worker_here(P, W, due[i], t) and W.hours_left[P.named_worker[due[i]]] >= least
    due = due[ok]
    if due.size:
        offer(P, W, C, B, due, P.named_worker[due], t, CHECKIN, False)


@njit(cache=True)
def call(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, t: int) -> None:
    """Welfare calls that are due, dealt round the callers with hours left until none fits."""
    due = due_checkins(P, t)
    pool = desk(W, Y, t) if Y.callers_desk else present(W, t)
    offset = start_offset(D, t)
    while due.size and pool.size:
        pool = with_hours(W, pool)
        if pool.size == 0:
            break
        made = offer(P, W, C, B, due, deal(pool, due.size, offset), t, CHECKIN, False)
        if not made.any():
            break
        due = due[~made]


@njit(cache=True)
def move_people(P: PeopleArrays, B: Books, Y: Policy, t: int) -> None:
    """From ``move_day``, move the next people to named working (into the pending tray), over the period."""
    n = Y.named_people.size
    if t < Y.move_day or Y.moved[0] == n:
        return
    elapsed = t - Y.move_day + 1
    target = n
    if elapsed < Y.move_period_days:
        target = math.ceil(n * elapsed / Y.move_period_days)
    if target <= Y.moved[0]:
        return
    movers = Y.move_order[Y.moved[0] : target]
    Y.moved[0] = target
    for p in movers:
        Y.named_people[p] = True
        P.pending_since[p] = t
    schedule_first_checkins(P, B, Y, movers, t)


@njit(cache=True)
def serve(P: PeopleArrays, W: StaffArrays, C: Settings, B: Books, D: Draws, Y: Policy, t: int) -> None:
    """Allocation and service: named people through their workers and cover, the rest through the desk."""
    move_people(P, B, Y, t)
    allocate(P, W, C, B, Y, t)
    queue = open_queue(P, t)
    named = Y.named_people[queue]
    serve_named(P, W, C, B, D, Y, queue[named], t)
    serve_desk(P, W, C, B, D, Y, queue[~named], t)
    if Y.calls:
        call(P, W, C, B, D, Y, t)
    if Y.checkins:  # before the day's contacts are carried out: people served today still show as open
        check_in(P, W, C, B, Y, t)


@njit(cache=True, inline="always")
def _most_hours(W: StaffArrays, pool: np.ndarray) -> int:
    """The pool member with the most hours left (NO_ONE if the pool is empty)."""
    if pool.size == 0:
        return NO_ONE
    return pool[np.argmax(W.hours_left[pool])]


@njit(cache=True)
def crisis_responders(P: PeopleArrays, W: StaffArrays, Y: Policy, persons: np.ndarray, t: int) -> np.ndarray:
    """The worker who meets each crisis: a named person's own worker if in, else cover; others the desk.

    Where cover (or the desk) is needed, the member with the most hours left meets it, or anyone
    present if nobody is on cover (or on the desk) today.
    """
    out = np.empty(persons.size, dtype=np.int64)
    cover, desk_worker = NO_ONE, NO_ONE
    need_cover, need_desk = False, False
    for i in range(persons.size):
        p = persons[i]
        if Y.named_people[p]:
            if own_worker_here(P, W, p, t):
                out[i] = P.named_worker[p]
            else:
                need_cover = True
        else:
            need_desk = True
    if need_cover:
        pool = cover_pool(W, Y, t)
        cover = _most_hours(W, pool if pool.size else present(W, t))
    if need_desk:
        pool = desk(W, Y, t)
        desk_worker = _most_hours(W, pool if pool.size else present(W, t))
    for i in range(persons.size):
        p = persons[i]
        if Y.named_people[p]:
            if not own_worker_here(P, W, p, t):
                out[i] = cover
        else:
            out[i] = desk_worker
    return out


@njit(cache=True)
def backlog_hours(P: PeopleArrays, W: StaffArrays, C: Settings, Y: Policy, open_persons: np.ndarray, t: int):
    """Hours of unmet work waiting for each worker row (input to stress).

    A named person's waiting work falls on their own worker; everyone else's is pooled and shared by
    every present worker in proportion to their FTE.
    """
    named = np.zeros(W.hours_left.size)
    pooled = np.empty(open_persons.size)
    k = 0
    for p in open_persons:
        if Y.named_people[p]:
            own = P.named_worker[p]
            if own >= 0:
                named[own] += C.base_hours[P.open_kind[p]]
        else:
            pooled[k] = C.base_hours[P.open_kind[p]]
            k += 1
    shared = np.zeros(W.hours_left.size)
    total = pairwise_sum(pooled[:k])
    here = present(W, t)
    if total and here.size:
        fte = W.fte[here]
        whole = pairwise_sum(fte)
        for i in range(here.size):
            shared[here[i]] = total * fte[i] / whole
    return named + shared


@njit(cache=True, inline="always")
def worker_left(P: PeopleArrays, W: StaffArrays, row: int, t: int) -> None:
    """The leaver's people go to the pending tray; their next worker starts from what they know."""
    for p in range(P.named_worker.size):
        if P.named_worker[p] == row:
            P.named_worker[p] = NO_ONE
            P.pending_since[p] = t
            P.named_fam_level[p] = 0.0
    W.caseload[row] = 0


@njit(cache=True, inline="always")
def pending(P: PeopleArrays, Y: Policy) -> int:
    """People served by named workers who are waiting for one."""
    count = 0
    for p in range(P.named_worker.size):
        if P.named_worker[p] == NO_ONE and Y.named_people[p] and P.setting[p] != AWAY:
            count += 1
    return count


# Python side: the systems ----------------------------------------------------------------------


class StaffingSystem:
    """Interface of a staffing system. The model calls these hooks, in this order.

    Before the model exists (class methods, so costs and layouts need no model):

    - ``extra_fte(cfg)``: social-worker FTE the system adds to the shared posts (its investment in staff).
    - ``extra_posts_open_day(cfg)``: model day the extra posts open (0: from the start).
    - ``investment(cfg)``: the planned investment, as ``(extra FTE, set-up GBP, first measured day)``.
    - ``start_day(cfg)``: first measured day on which the system differs from how the team worked
      before (0 for most; the switch-over's switch day); the business case counts the transition from it.

    Building the model (after people, posts and the first workers exist):

    - ``__init__(model)``: who has a named worker and which blocks run (the attributes of ``Policy``);
      then ``setup()``: allocations and schedules before day 0; ``retention(t)`` for every day: the
      relative cut in the leaving hazard of permanent staff.

    Each day, compiled, in the order of ``StaffingModel.step`` (docs/ODD.md section 3): ``serve``
    (allocation and service), ``crisis_responders``, ``backlog_hours`` and ``worker_left``, ``pending``.

    After the run: ``summary(series, first_day)``: the system's own columns of runs.csv.
    """

    name: ClassVar[str] = ""
    #: One line for users (the page's picker, the docs).
    label: ClassVar[str] = ""

    def __init__(self, model: StaffingModel) -> None:
        self.model = model
        self.cfg = model.cfg
        n = model.people.n
        #: Who is served by a named worker (nobody here; everyone in the named system).
        self.named_people = np.zeros(n, dtype=bool)
        self.checkins = False
        self.calls = False
        self.callers_desk = False
        self.move_day = NEVER
        self.move_order = np.arange(n, dtype=np.int64)
        self.move_period_days = 1.0
        self._moved = np.zeros(1, dtype=np.int64)
        self._first_checkin = model.streams.generator("named/first_checkin").random(n)
        rates = np.array(self.cfg.named.checkins_per_year.as_tuple())
        with np.errstate(divide="ignore"):
            interval = np.where(rates > 0, 365.0 / np.maximum(rates, 1e-12), np.inf)
        #: Days between proactive contacts by person (``named.checkins_per_year`` by need level).
        self.checkin_interval_days = interval[model.people.need]
        self._any_checkin_rate = bool((rates > 0).any())
        self.ap_posts = np.flatnonzero(model.staff.post_role == ADVANCED_PRACTITIONER)

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

    def desk_rota(self) -> int:
        """Social workers on the duty desk's rota each day (``duty.workers_per_day``)."""
        return self.cfg.duty.workers_per_day

    def cover_rota(self) -> int:
        """Social workers on the named system's cover rota each day (``named.cover_workers_per_day``)."""
        return self.cfg.named.cover_workers_per_day

    def policy(self) -> Policy:
        """The system as compiled code sees it (arrays shared with this object, so changes show both ways)."""
        return Policy(
            named_people=self.named_people,
            move_order=self.move_order,
            move_day=int(min(self.move_day, NEVER)),
            move_period_days=float(self.move_period_days),
            moved=self._moved,
            first_checkin=self._first_checkin,
            ap_posts=self.ap_posts,
            checkins=bool(self.checkins),
            calls=bool(self.calls),
            callers_desk=bool(self.callers_desk),
            desk_rota=int(self.desk_rota()),
            cover_rota=int(self.cover_rota()),
            max_wait_days=int(self.cfg.named.max_wait_days),
            caseload_cap=float(self.cfg.named.caseload_cap),
        )

    def setup(self) -> None:
        """Prepare the system once the people and the first workers exist."""

    def retention(self, t: int) -> float:
        """Relative cut in the leaving hazard of permanent staff on model day ``t`` (0: none)."""
        return 0.0

    def desk(self, t: int) -> np.ndarray:
        """Rows of today's duty desk (the rota, then the present advanced practitioners)."""
        _, W, _, _, _, Y = self.model.compiled_state()
        return desk(W, Y, t)

    def pending(self) -> int:
        """People waiting for a worker of their own today (none where nobody has one)."""
        P, _, _, _, _, Y = self.model.compiled_state()
        return int(pending(P, Y))

    def summary(self, series: dict[str, np.ndarray], first_day: int) -> dict[str, float]:
        """The system's own columns of runs.csv from the measured daily series (which start on ``first_day``)."""
        return {"mean_caseload": np.nan}

    # Helpers shared by systems -------------------------------------------------------------

    def _schedule_first_checkins(self, persons: np.ndarray, t: int) -> None:
        """First check-in of ``persons`` somewhere in their first interval (spread, the same draws in every arm)."""
        P, _, _, B, _, Y = self.model.compiled_state()
        schedule_first_checkins(P, B, Y, np.asarray(persons, dtype=np.int64), t)

    def _allocate(self, t: int) -> None:
        """Allocate the pending tray now (before day 0)."""
        P, W, C, B, _, Y = self.model.compiled_state()
        allocate(P, W, C, B, Y, t)


#: The registry: every staffing system by name. Config validation, the page's picker and the docs read it.
SYSTEMS: dict[str, type[StaffingSystem]] = {}


def register(cls: type[StaffingSystem]) -> type[StaffingSystem]:
    """Class decorator: add a staffing system to ``SYSTEMS`` under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a name to be registered")
    SYSTEMS[cls.name] = cls
    return cls


@register
class DutySystem(StaffingSystem):
    """Duty: a daily rota takes reactive contacts from one pooled queue, urgent first; others do reviews."""

    name = "duty"
    label = "Duty desk: whoever is on the rota takes the call"


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
        self.calls = model.cfg.duty_calls.proactive_calls and self._any_checkin_rate
        self.callers_desk = model.cfg.duty_calls.callers == "desk"

    def setup(self) -> None:
        """First calls spread over each person's first interval (the named arm's first check-in draws)."""
        if self.calls:
            self._schedule_first_checkins(np.arange(self.model.people.n), 0)


@register
class NamedWorkerSystem(StaffingSystem):
    """Named workers: each person's contacts go to their own worker; cover from APs and a small rota."""

    name = "named"
    label = "Named workers: everyone has a social worker of their own"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        self.checkins = model.cfg.named.proactive_checkins and self._any_checkin_rate
        self.named_people[:] = True

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
        self._allocate(0)

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


@register
class HybridSystem(NamedWorkerSystem):
    """Hybrid: named workers for the need levels in ``hybrid.named_needs``, the duty desk for everyone else.

    With every level named it is the named system exactly; with none, duty exactly.
    """

    name = "hybrid"
    label = "Hybrid: named workers for some need levels, the duty desk for the rest"

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        levels = [NEED_LEVELS.index(level) for level in self.cfg.hybrid.named_needs]
        self.named_people[:] = np.isin(model.people.need, levels)
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
class SwitchSystem(NamedWorkerSystem):
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
        self.named_people[:] = False
        self.switch_day = self.extra_posts_open_day(self.cfg)
        self.move_day = self.switch_day
        self.move_order = np.lexsort((np.arange(n), -model.people.need.astype(np.int64)))
        self.move_period_days = max(1.0, self.cfg.switch.allocation_weeks * DAYS_PER_WEEK)

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
