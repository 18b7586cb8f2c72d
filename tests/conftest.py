"""Shared helpers: compose the project's config through Hydra with overrides, as the CLI does."""

from __future__ import annotations

import os

import pytest

from sim.compose import compose
from sim.params import Config

#: Small, fast settings for tests that do not need a full team or horizon.
SMALL = ("team.people=200", "horizon_years=2", "warmup_years=0.5", "replicates=2", "jobs=1")


def make_config(*overrides: str) -> Config:
    """The validated config for ``overrides`` (Hydra override syntax), like ``uv run nwsim overrides``."""
    return compose(list(overrides))


@pytest.fixture
def small_config() -> Config:
    """A small team over a short horizon."""
    return make_config(*SMALL)


def pytest_configure(config: pytest.Config) -> None:
    """Compile the model once, before the test workers start (a no-op load when numba's cache has it).

    Otherwise every worker and every ``nwsim`` process a test starts would compile it at once on a fresh
    machine, each taking a core for over a minute.
    """
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller has compiled already
        return
    from sim.model import StaffingModel
    from sim.staffing import SYSTEMS

    cfg = make_config("team.people=30", "horizon_years=0.1", "warmup_years=0")
    for arm in SYSTEMS:
        model = StaffingModel(cfg, arm, 0)
        model.step()  # the processes one by one, as the page and notebooks call them
        model.run()  # a run of days in one call


def in_ci() -> bool:
    """CI sets CI=true; there nothing may be skipped."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
