"""Validation: the table builds from small runs, kinds of figure are kept apart, the command writes its page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.costs import paired_business_case
from sim.params import section_keys
from sim.runner import run_experiment
from sim.validation import ROLES, TARGETS, ratio_of_means_ci, render_markdown, turnover_shrink, validation_table
from tests.conftest import SMALL, make_config


@pytest.fixture(scope="module")
def small_runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    baseline = run_experiment(make_config(*SMALL, "arms=[duty]", "replicates=3"), progress=False).runs
    pilot_cfg = make_config(*SMALL, "team.people=35", "replicates=4")
    pilot = paired_business_case(run_experiment(pilot_cfg, progress=False).runs, pilot_cfg)
    return baseline, pilot


def test_the_validation_table_builds_from_small_runs(small_runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    baseline, pilot = small_runs
    table = validation_table(baseline, pilot, np.array([0.1, 0.2, 0.15]))
    assert list(table["metric"]) == [t.metric for t in TARGETS]
    assert set(table["role"]) == set(ROLES)
    turnover = table.set_index("metric").loc["turnover_per_year"]
    assert turnover["simulated_mean"] == pytest.approx(baseline["turnover_per_year"].mean())
    assert turnover["n"] == 3
    for _, row in table.iterrows():
        if row.published_low < row.published_high < np.inf:
            assert row.agrees == (row.published_low <= row.simulated_mean <= row.published_high)
    roi = table.set_index("metric").loc["roi_per_gbp"]
    assert roi["simulated_mean"] == pytest.approx(pilot["roi_per_gbp"].mean())
    assert roi["agrees"] == (roi.simulated_ci_low <= 5.14 <= roi.simulated_ci_high)
    page = render_markdown(table, "note")
    for title in ("## Inputs", "## Calibration targets", "## Validation targets", "## Where the model disagrees"):
        assert title in page
    # Caseload flows have no published figure: the page says so, and no target pretends otherwise.
    assert "## Not validated: caseload flows" in page
    assert not {"caseload_turnover_per_year", "mean_involvement_years"} & {t.metric for t in TARGETS}
    for target in TARGETS:
        assert target.label in page
    assert len(validation_table(baseline, None)) == sum(t.scenario == "baseline" for t in TARGETS)
    shrink = table.set_index("metric").loc["admissions_advantage_shrink"]
    assert shrink["simulated_mean"] == pytest.approx(0.15)
    assert shrink["agrees"]  # its whole interval is above 0
    assert "above 0" in page


def test_the_turnover_pattern_is_the_paired_change_in_the_advantage(
    small_runs: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    def runs(advantage: list[float]) -> pd.DataFrame:
        rows = []
        for rep, gap in enumerate(advantage):
            rows += [
                {"arm": "duty", "replicate": rep, "admissions_per_100_person_years": 1.0 + rep},
                {"arm": "named", "replicate": rep, "admissions_per_100_person_years": 1.0 + rep + gap},
            ]
        return pd.DataFrame(rows)

    low, high = runs([-0.4, -0.5, -0.3]), runs([-0.1, -0.3, -0.2])
    assert turnover_shrink(low, high) == pytest.approx([0.3, 0.2, 0.1])
    table = validation_table(small_runs[0], None, -turnover_shrink(low, high))
    assert not table.set_index("metric").loc["admissions_advantage_shrink", "agrees"]


def test_calibration_inputs_and_validation_targets_are_kept_apart() -> None:
    for target in TARGETS:
        assert target.role in ROLES
        assert target.low <= target.high
        assert target.source
        if target.role == "validation":
            assert not target.parameters, f"{target.metric}: a validation target sets no parameter"
        else:
            for key in target.parameters.split(","):
                section, _, name = key.strip().rpartition(".")
                assert name in (section_keys(tuple(section.split("."))) or []), key


def test_a_share_of_mean_savings_has_a_bootstrap_interval() -> None:
    council = np.array([8.0, 10.0, 12.0, 6.0])
    total = np.array([10.0, 10.0, 10.0, 10.0])
    ratio, low, high = ratio_of_means_ci(council, total)
    assert ratio == pytest.approx(0.9)
    assert low < 0.9 < high
    assert ratio_of_means_ci(council, total) == (ratio, low, high)  # its own stream: reproducible


@pytest.mark.slow
def test_the_validate_command_runs_both_experiments_and_writes_the_page(tmp_path: Path) -> None:
    small = ["replicates=2", "horizon_years=1", "warmup_years=0.2", "jobs=1"]
    command = [sys.executable, "-c", "from sim.validation import main; main()", "--docs", str(tmp_path / "docs")]
    done = subprocess.run([*command, *small], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "outputs" / "validation" / "validation.csv")
    assert len(table) == len(TARGETS)
    baseline = pd.read_csv(tmp_path / "outputs" / "validation" / "baseline" / "runs.csv")
    assert set(baseline["arm"]) == {"duty"}
    assert (tmp_path / "outputs" / "validation" / "pilot" / "report.html").exists()
    page = (tmp_path / "docs" / "validation.md").read_text()
    assert "nwsim-validate" in page
    # Run again: both runs are found finished and skipped, and the page is rebuilt.
    again = subprocess.run([*command, *small], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert again.stdout.count("Already done") == 4
