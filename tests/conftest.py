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


def in_ci() -> bool:
    """CI sets CI=true; there nothing may be skipped."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
