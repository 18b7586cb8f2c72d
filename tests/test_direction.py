"""Direction: the model moves the way its mechanisms say it must."""

from __future__ import annotations

import itertools

import pytest

from sim.params import Effects
from sim.runner import run_experiment
from tests.conftest import make_config

TEAM = ("team.people=300", "horizon_years=3", "warmup_years=1", "replicates=3")
ALL_EFFECTS_OFF = tuple(
    f"effects.{key}=0"
    for key in Effects.model_fields  # every effect, including ones added later
)


@pytest.mark.slow
def test_more_turnover_never_raises_mean_continuity() -> None:
    upc = []
    for rate in (0.0, 0.15, 0.5, 1.5):
        runs = run_experiment(
            make_config(*TEAM, "arms=[named]", f"workforce.turnover_per_year={rate}"), progress=False
        ).runs
        upc.append(runs["upc"].mean())
    assert all(later <= earlier for earlier, later in itertools.pairwise(upc)), upc
    assert upc[-1] < upc[0] - 0.05, upc


def test_named_beats_duty_on_continuity_and_retelling_with_default_effects() -> None:
    table = run_experiment(make_config(*TEAM), progress=False).comparison.set_index("metric")
    for metric in ("upc", "secon", "coc"):
        assert table.loc[metric, "diff_ci_low"] > 0, metric
    assert table.loc["retellings_per_person_year", "diff_ci_high"] < 0


def test_with_every_effect_off_only_structure_is_left_and_duty_waits_no_longer() -> None:
    cfg = make_config(*TEAM, *ALL_EFFECTS_OFF, "named.extra_fte=0", "named.proactive_checkins=false")
    table = run_experiment(cfg, progress=False).comparison.set_index("metric")
    # Pooling: the duty desk takes any contact; named contacts queue for one worker.
    assert table.loc["wait_days_mean", "baseline_mean"] <= table.loc["wait_days_mean", "arm_mean"]
    assert table.loc["wait_days_mean", "diff_mean"] >= 0
