"""Staffing systems: who takes each contact and each crisis. One class per system, one interface.

A system decides *which worker* meets each open contact; the model decides what a contact costs
and does (``StaffingModel.offer``). A new system (say, named workers for high needs only) is one new
subclass registered in ``SYSTEMS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.population import ADVANCED_PRACTITIONER, CHECKIN, NO_ONE, REACTIVE, SOCIAL_WORKER

if TYPE_CHECKING:
    from sim.model import StaffingModel


class StaffingSystem:
    """Interface of a staffing system; subclasses fill in allocation, cover and crisis response."""

    name: ClassVar[str] = ""
    #: Whether people have a named worker (drives named-only processes such as check-ins).
    has_named_workers: ClassVar[bool] = False

    def __init__(self, model: StaffingModel) -> None:
        self.model = model
        cfg = model.cfg
        staff = model.staff
        self.sw_posts = np.flatnonzero(staff.post_role == SOCIAL_WORKER)
        self.ap_posts = np.flatnonzero(staff.post_role == ADVANCED_PRACTITIONER)
        self._turn = np.arange(self.sw_posts.size)
        self._base_hours = model.base_hours
        self._rota = model.streams.daily("staffing/rota", 1)
        self.cfg = cfg

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

    def on_worker_left(self, row: int, t: int) -> None:
        """A worker has left their post today."""

    # Helpers shared by systems -------------------------------------------------------------

    def _present_holders(self, posts: np.ndarray, t: int) -> np.ndarray:
        """Rows of the present holders of ``posts`` (vacant posts and absent holders dropped)."""
        staff = self.model.staff
        rows = staff.holder[posts]
        rows = rows[rows >= 0]
        return rows[staff.absent_until[rows] <= t]

    def _rota_today(self, n: int, t: int) -> np.ndarray:
        """The ``n`` social workers on today's rota: posts in turn, skipping absent and vacant ones."""
        if n == 0 or self.sw_posts.size == 0:
            return np.empty(0, dtype=np.int64)
        start = (t * n) % self.sw_posts.size
        rows = self._present_holders(self.sw_posts[(self._turn + start) % self.sw_posts.size], t)
        return rows[:n]

    def _offset(self, t: int) -> int:
        """A random start for spreading today's contacts over a pool (the same in both arms)."""
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


class DutySystem(StaffingSystem):
    """Duty: a daily rota takes reactive contacts from one pooled queue, urgent first; others do reviews."""

    name = "duty"

    def serve(self, t: int) -> None:
        """Desk workers and advanced practitioners take reactive contacts; other workers take reviews."""
        model = self.model
        queue = model.open_queue()
        if queue.size == 0:
            return
        desk = np.concatenate(
            [self._rota_today(self.cfg.duty.workers_per_day, t), self._present_holders(self.ap_posts, t)]
        )
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
        pool = np.concatenate(
            [self._rota_today(self.cfg.duty.workers_per_day, t), self._present_holders(self.ap_posts, t)]
        )
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


class NamedWorkerSystem(StaffingSystem):
    """Named workers: each person's contacts go to their own worker; cover from APs and a small rota."""

    name = "named"
    has_named_workers = True

    def __init__(self, model: StaffingModel) -> None:
        super().__init__(model)
        cfg = model.cfg
        rates = np.array(cfg.named.checkins_per_year.as_tuple())
        with np.errstate(divide="ignore"):
            interval = np.where(rates > 0, 365.0 / np.maximum(rates, 1e-12), np.inf)
        self.checkin_interval_days = interval[model.people.need]
        self.checkins = cfg.named.proactive_checkins and bool((rates > 0).any())

    def setup(self) -> None:
        """Everyone starts in the pending tray and is allocated on day 0; check-ins start spread out."""
        people = self.model.people
        people.named_worker[:] = NO_ONE
        people.pending_since[:] = 0
        first = self.model.streams.generator("named/first_checkin").random(people.n)
        interval = np.where(np.isfinite(self.checkin_interval_days), self.checkin_interval_days, 0)
        people.next_checkin[:] = np.where(
            np.isfinite(self.checkin_interval_days), np.floor(first * interval), np.iinfo(np.int64).max
        )
        self.allocate(0)

    def allocate(self, t: int) -> None:
        """Give people in the pending tray (high need first, then longest waiting) to workers under the cap."""
        model = self.model
        people, staff = model.people, model.staff
        pending = np.flatnonzero(people.named_worker == NO_ONE)
        if pending.size == 0:
            return
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
        model = self.model
        people, staff = model.people, model.staff
        self.allocate(t)
        queue = model.open_queue()
        if queue.size:
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
        if self.checkins:  # before the day's contacts are carried out: people served today still show as open
            self._check_in(t)

    def _cover_pool(self, t: int) -> np.ndarray:
        return np.concatenate(
            [self._present_holders(self.ap_posts, t), self._rota_today(self.cfg.named.cover_workers_per_day, t)]
        )

    def _check_in(self, t: int) -> None:
        """Proactive check-ins that are due, from each named worker's spare hours only."""
        model = self.model
        people, staff = model.people, model.staff
        due = np.flatnonzero(
            (people.next_checkin <= t) & (people.open_kind == 0) & model.active & (people.last_contact < t)
        )
        if due.size == 0:
            return
        own = people.named_worker[due]
        ok = own >= 0
        ok[ok] = staff.absent_until[own[ok]] <= t
        due, own = due[ok], own[ok]
        if due.size == 0:
            return
        due_order = np.argsort(-people.need[due], kind="stable")
        model.offer(due[due_order], own[due_order], t, kind=CHECKIN, overrun=False)

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


def _most_hours(model: StaffingModel, pool: np.ndarray, n: int) -> np.ndarray:
    """The pool member with the most hours left, ``n`` times (NO_ONE if the pool is empty)."""
    if pool.size == 0:
        return np.full(n, NO_ONE, dtype=np.int64)
    return np.full(n, pool[np.argmax(model.staff.hours_left[pool])], dtype=np.int64)


SYSTEMS: dict[str, type[StaffingSystem]] = {cls.name: cls for cls in (DutySystem, NamedWorkerSystem)}
