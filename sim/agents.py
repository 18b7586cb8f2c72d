"""Person and Worker: Mesa agents whose attributes are read-only views onto the model's arrays.

The model updates the arrays in bulk; these agents let users inspect, select and group people and
workers with Mesa's AgentSet tools, and let Mesa's visualisation read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.population import CONTACT_KINDS, NEED_LEVELS, NO_ONE, ROLES, SETTINGS

if TYPE_CHECKING:
    from sim.model import StaffingModel


class Person(mesa.Agent):
    """A person supported by the team (row ``row`` of ``model.people``)."""

    def __init__(self, model: StaffingModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def need(self) -> str:
        """Need level: low, moderate or high."""
        return NEED_LEVELS[self.model.people.need[self.row]]

    @property
    def communication_need(self) -> bool:
        """Whether the person has a communication need."""
        return bool(self.model.people.communication[self.row])

    @property
    def fluctuating_capacity(self) -> bool:
        """Whether the person's mental capacity fluctuates."""
        return bool(self.model.people.fluctuating[self.row])

    @property
    def risk(self) -> float:
        """How close the person is to a crisis, 0..1."""
        return float(self.model.people.risk[self.row])

    @property
    def setting(self) -> str:
        """Where the person lives now: community, inpatient or residential."""
        return SETTINGS[self.model.people.setting[self.row]]

    @property
    def named_worker(self) -> Worker | None:
        """The person's named worker, or None (duty arm, or waiting in the pending tray)."""
        row = int(self.model.people.named_worker[self.row])
        return None if row == NO_ONE else self.model.worker_agent(row)

    def familiarity(self) -> dict[int, float]:
        """How well each remembered worker (by worker row) knows the person today, 0..1."""
        workers = self.model.people.fam_worker[self.row]
        known = workers[workers != NO_ONE]
        levels = self.model.familiarity_now(np.full(known.size, self.row), known)
        return dict(zip(known.tolist(), levels.tolist(), strict=True))

    def contacts(self):
        """This person's contacts so far (day, worker row, kind, hours, waiting days) as a DataFrame."""
        log = self.model.contact_log()
        mine = log[log["person"] == self.row].drop(columns="person").reset_index(drop=True)
        mine["kind"] = mine["kind"].map(CONTACT_KINDS)
        return mine


class Worker(mesa.Agent):
    """A worker holding a post (row ``row`` of ``model.staff``); removed from the model on leaving."""

    def __init__(self, model: StaffingModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def role(self) -> str:
        """social_worker, advanced_practitioner or agency."""
        return ROLES[self.model.staff.role[self.row]]

    @property
    def post(self) -> int:
        """The post the worker holds."""
        return int(self.model.staff.post[self.row])

    @property
    def fte(self) -> float:
        """Full-time equivalent of the post."""
        return float(self.model.staff.fte[self.row])

    @property
    def absent(self) -> bool:
        """Whether the worker is on leave or sick today."""
        return bool(self.model.staff.absent_until[self.row] > self.model.day)

    @property
    def stress(self) -> float:
        """Smoothed demand over capacity (1 = fully loaded)."""
        return float(self.model.staff.stress[self.row])

    @property
    def tenure_days(self) -> int:
        """Days since the worker started."""
        return int(self.model.day - self.model.staff.start_day[self.row])

    @property
    def caseload(self) -> int:
        """People allocated to the worker (named arm; 0 in the duty arm)."""
        return int(self.model.staff.caseload[self.row])

    def people(self) -> list[Person]:
        """The people this worker holds as their named worker."""
        rows = np.flatnonzero(self.model.people.named_worker == self.row)
        return [self.model.person_agents[r] for r in rows]
