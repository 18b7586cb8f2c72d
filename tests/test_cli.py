"""The ``nwsim`` command end to end in a temporary folder, and bad input failing cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

QUICK = ["replicates=2", "horizon_years=1", "warmup_years=0.25", "team.people=120", "jobs=2"]
RUNS_COLUMNS = {
    "arm",
    "replicate",
    "seed",
    "person_years",
    "crises_per_100_person_years",
    "admissions_per_100_person_years",
    "bed_days_per_100_person_years",
    "upc",
    "coc",
    "secon",
    "retellings_per_person_year",
    "turnover_per_year",
    "vacancy_frac",
    "cost_total_gbp",
}
COMPARISON_COLUMNS = {
    "arm",
    "baseline",
    "metric",
    "baseline_mean",
    "arm_mean",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
}


def nwsim(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry point in ``cwd`` as a user would."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-c", "from sim.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def only_run_dir(root: Path) -> Path:
    runs = [p for p in (root / "outputs").glob("*/*") if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_a_run_writes_the_tables_figures_and_a_console_table(tmp_path: Path) -> None:
    result = nwsim(tmp_path, *QUICK)
    assert result.returncode == 0, result.stderr
    out = only_run_dir(tmp_path)
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs.columns) >= RUNS_COLUMNS
    assert sorted(zip(runs["arm"], runs["replicate"], strict=True)) == [
        ("duty", 0),
        ("duty", 1),
        ("named", 0),
        ("named", 1),
    ]
    pd.testing.assert_frame_equal(runs, pd.read_parquet(out / "runs.parquet"), check_dtype=False)
    comparison = pd.read_csv(out / "comparison.csv")
    assert set(comparison.columns) >= COMPARISON_COLUMNS
    assert set(RUNS_COLUMNS - {"arm", "replicate", "seed"}) <= set(comparison["metric"])
    assert set(comparison["arm"]) == {"named"}
    assert set(comparison["baseline"]) == {"duty"}
    upc = comparison.set_index("metric").loc["upc"]
    assert upc["diff_mean"] == pytest.approx(upc["arm_mean"] - upc["baseline_mean"])
    series = pd.read_parquet(out / "timeseries.parquet")
    assert {"arm", "replicate", "month", "admissions", "upc_12m"} <= set(series.columns)
    assert series.groupby(["arm", "replicate"]).size().eq(12).all()
    for name in ("admissions.png", "continuity_upc.png", "differences.png"):
        assert (out / "figures" / name).stat().st_size > 10_000
    assert "named - duty (95% CI)" in result.stdout
    assert "upc" in result.stdout
    assert not list(out.rglob("*.tmp"))


def test_one_arm_alone_writes_no_comparison(tmp_path: Path) -> None:
    result = nwsim(tmp_path, *QUICK, "arms=[named]")
    assert result.returncode == 0, result.stderr
    out = only_run_dir(tmp_path)
    assert set(pd.read_csv(out / "runs.csv")["arm"]) == {"named"}
    assert not (out / "comparison.csv").exists()
    assert not (out / "figures" / "differences.png").exists()


def test_four_systems_write_three_comparisons_three_business_cases_and_four_arm_figures(tmp_path: Path) -> None:
    result = nwsim(tmp_path, *QUICK, "experiment=systems", "switch.day=120")
    assert result.returncode == 0, result.stderr
    out = only_run_dir(tmp_path)
    assert set(pd.read_csv(out / "runs.csv")["arm"]) == {"duty", "named", "hybrid", "switch"}
    comparison = pd.read_csv(out / "comparison.csv")
    assert sorted(set(comparison["arm"])) == ["hybrid", "named", "switch"]
    assert comparison.groupby("arm").size().nunique() == 1
    case = json.loads((out / "business_case.json").read_text())
    assert case["baseline"] == "duty"
    assert sorted(case["arms"]) == ["hybrid", "named", "switch"]
    assert case["arms"]["switch"]["transition"]["start_month"] == 4
    assert set(pd.read_csv(out / "business_case.csv")["arm"]) == {"hybrid", "named", "switch"}
    for arm in ("hybrid", "named", "switch"):
        assert f"{arm} - duty (95% CI)" in result.stdout
    assert (out / "figures" / "transition.png").exists()


def test_a_users_own_config_folder_is_searched(tmp_path: Path) -> None:
    mine = tmp_path / "my_conf" / "team"
    mine.mkdir(parents=True)
    (mine / "my_team.yaml").write_text(
        "people: 90\ncaseload_per_worker: 18\nadvanced_practitioners: 1\n"
        "need_mix: {low: 0.3, moderate: 0.4, high: 0.3}\ncommunication_need_frac: 0.4\n"
        "fluctuating_capacity_frac: 0.2\ninitial_risk_max: 0.3\n"
    )
    result = nwsim(tmp_path, "--config-dir", str(tmp_path / "my_conf"), "team=my_team", *QUICK[:3], "jobs=1")
    assert result.returncode == 0, result.stderr
    runs = pd.read_csv(only_run_dir(tmp_path) / "runs.csv")
    assert runs["person_years"].iloc[0] == pytest.approx(90 * 1.0, rel=0.01)


def test_every_bad_value_is_reported_in_one_go(tmp_path: Path) -> None:
    # The real command; every bad value of every kind is also checked in-process in tests/test_bad_input.py.
    result = nwsim(tmp_path, "team.people=-5", "effects.named_retention=1.5", "arms=[duty,bogus]")
    assert result.returncode == 2
    for named in ("team.people = -5", "effects.named_retention = 1.5", "unknown staffing system 'bogus'"):
        assert named in result.stderr
    assert "allowed" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs").exists()
    assert not (tmp_path / "multirun").exists()


@pytest.mark.parametrize(
    "args",
    [[], ["team.people=100"], ["-m", "seed=1,2"], ["experiment=caseload_turnover"], ["--multirun", "hydra.mode=RUN"]],
)
def test_the_check_reads_the_run_mode_hydra_would_compose_for(args: list[str]) -> None:
    # nwsim hands Hydra the mode its check read (``_checked_once``), so the two must agree on every command.
    from hydra._internal.utils import get_args_parser

    from sim.cli import check
    from sim.compose import _hydra

    plan = check(args)
    assert plan is not None
    with _hydra(None, None) as hydra:
        overrides = list(get_args_parser().parse_args(args).overrides)
        assert plan.hydra_mode == hydra.get_mode(config_name="config", overrides=overrides)


def test_a_run_composes_its_config_once_for_the_check_and_once_for_hydra(tmp_path: Path) -> None:
    counting = (
        "import atexit, sys\n"
        "from hydra._internal.hydra import Hydra\n"
        "calls, compose = [], Hydra.compose_config\n"
        "def counted(*args, **kwargs):\n"
        "    calls.append(1)\n"
        "    return compose(*args, **kwargs)\n"
        "Hydra.compose_config = counted\n"
        "atexit.register(lambda: print('composed', len(calls), file=sys.stderr))\n"
        "from sim.cli import main; main()\n"
    )
    tiny = ["replicates=1", "horizon_years=0.1", "warmup_years=0", "team.people=20", "jobs=1", "figures=false"]
    result = subprocess.run(
        [sys.executable, "-c", counting, *tiny], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "composed 2" in result.stderr, result.stderr[-2000:]


def test_a_sweep_composes_the_config_once_for_the_check_and_once_for_hydra(tmp_path: Path) -> None:
    # The check composes every job of a small sweep, so Hydra neither composes each job again before launching
    # nor to run it (``_checked_once``): the files are composed once for the check and once for Hydra's sweep.
    # Without that, twice more per job (14 here).
    counting = (
        "import atexit, sys\n"
        "from hydra._internal.config_loader_impl import ConfigLoaderImpl\n"
        "calls, load = [], ConfigLoaderImpl.load_configuration\n"
        "def counted(*args, **kwargs):\n"
        "    calls.append(1)\n"
        "    return load(*args, **kwargs)\n"
        "ConfigLoaderImpl.load_configuration = counted\n"
        "atexit.register(lambda: print('composed', len(calls), file=sys.stderr))\n"
        "from sim.cli import main; main()\n"
    )
    tiny = ["replicates=1", "horizon_years=0.1", "warmup_years=0", "team.people=20", "jobs=1", "figures=false"]
    args = ["-m", "seed=1,2,3", "team.caseload_per_worker=20,25", f"hydra.sweep.dir={tmp_path / 'sweep'}", *tiny]
    result = subprocess.run(
        [sys.executable, "-c", counting, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "composed 2" in result.stderr, result.stderr[-2000:]
    assert len(list((tmp_path / "sweep").glob("*/runs.csv"))) == 6
    configs = [json.loads(path.read_text())["config"] for path in (tmp_path / "sweep").glob("*/job.json")]
    ran = {(c["seed"], c["team"]["caseload_per_worker"]) for c in configs}
    assert ran == {(seed, caseload) for seed in (1, 2, 3) for caseload in (20, 25)}
