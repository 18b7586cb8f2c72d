"""Ablation: switches do what they say, the table's arithmetic, structure alone does not favour named, the sweep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.ablation import ALL_ON, METRICS, ablation_table
from sim.params import MECHANISMS, ConfigError
from sim.runner import run_experiment
from tests.conftest import make_config

EFFECTS = [m for m in MECHANISMS if m not in ("extra_fte", "checkins")]


def switched_on(ablation: str) -> set[str]:
    cfg = make_config(f"ablation={ablation}")
    on = {name for name in EFFECTS if getattr(cfg.effects, name) > 0}
    if cfg.named.extra_fte > 0:
        on.add("extra_fte")
    if cfg.named.proactive_checkins:
        on.add("checkins")
    return on


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_without_switches_one_off_and_only_leaves_one_on(mechanism: str) -> None:
    assert switched_on(f"without_{mechanism}") == set(MECHANISMS) - {mechanism}
    assert switched_on(f"only_{mechanism}") == {mechanism}


def test_all_off_and_a_bad_value() -> None:
    assert switched_on("all_off") == set()
    assert make_config("ablation=null").effects == make_config().effects
    with pytest.raises(ConfigError) as error:
        make_config("ablation=without_kindness")
    assert "ablation = 'without_kindness'" in str(error.value)
    assert "only_named_retention" in str(error.value)


def test_the_table_attributes_the_benefit_replicate_by_replicate() -> None:
    # Two replicates; benefits per ablation chosen by hand for one metric, zero for the rest.
    rng_free = {
        ALL_ON: [10.0, 12.0],
        "all_off": [2.0, 2.0],
        "without_advocacy_admission_reduction": [6.0, 6.0],
        "only_advocacy_admission_reduction": [5.0, 7.0],
    }
    columns = {}
    for ablation, values in rng_free.items():
        for metric in METRICS:
            columns[(ablation, metric)] = values if metric == "upc" else [0.0, 0.0]
    table = ablation_table(pd.DataFrame(columns)).set_index(["metric", "mechanism"])
    row = table.loc[("upc", "advocacy_admission_reduction")]
    # Lost without it: (10 - 6, 12 - 6) -> mean 5; total (8, 10) -> mean 9.
    assert row["lost_mean"] == pytest.approx(5.0)
    assert row["lost_share"] == pytest.approx(5 / 9)
    assert row["alone_mean"] == pytest.approx(4.0)  # (5 - 2, 7 - 2)
    assert row["alone_share"] == pytest.approx(4 / 9)
    assert row["lost_ci_low"] < 5 < row["lost_ci_high"]
    assert row["benefit_all_on"] == pytest.approx(11.0)
    # A mechanism whose jobs did not run has no figures, not zeros.
    assert np.isnan(table.loc[("upc", "named_retention"), "lost_mean"])


@pytest.mark.slow
def test_with_every_mechanism_off_structure_alone_does_not_favour_named() -> None:
    cfg = make_config("ablation=all_off", "team.people=400", "horizon_years=4", "replicates=6")
    table = run_experiment(cfg, progress=False).comparison.set_index("metric")
    # Pooling favours the duty desk: named contacts wait for one worker.
    assert table.loc["wait_days_mean", "diff_ci_low"] > 0
    # No mechanism, so no significant gain for named in crises, admissions or cost.
    for metric in ("crises_per_100_person_years", "admissions_per_100_person_years", "cost_total_gbp"):
        assert table.loc[metric, "diff_ci_high"] >= 0, metric


@pytest.mark.slow
def test_an_ablation_sweep_writes_its_table(tmp_path: Path) -> None:
    tiny = ["replicates=2", "team.people=120", "horizon_years=1", "warmup_years=0.2", "jobs=1"]
    jobs = "hydra.sweeper.params={ablation:'null,all_off,without_named_retention,only_named_retention'}"
    done = subprocess.run(
        [sys.executable, "-c", "from sim.cli import main; main()", "experiment=ablation", *tiny, jobs],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = tmp_path / "multirun" / "ablation"
    table = pd.read_csv(sweep / "ablation.csv")
    assert set(table["mechanism"]) == set(MECHANISMS)
    retention = table[(table["mechanism"] == "named_retention") & (table["metric"] == "upc")].iloc[0]
    assert np.isfinite(retention["lost_mean"])
    assert np.isfinite(retention["alone_mean"])
    assert (sweep / "ablation.png").stat().st_size > 10_000
    page = (sweep / "ablation.md").read_text()
    assert "named workers stay longer" in page
    assert "Continuity gained (UPC)" in page
