"""Sweeps: summary and heatmaps, resuming after a kill, every launcher landing in the sweep folder, England scale."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from sim.jobs import JOB_FILE, job_done, job_key, mark_done
from sim.params import Config
from sim.runner import team_sizes, whole_of_teams
from sim.sweep import main as aggregate_main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["replicates=2", "horizon_years=0.5", "warmup_years=0.1", "team.people=80", "jobs=1"]
SWEEP = ["-m", "team.caseload_per_worker=20,30", "workforce.turnover_per_year=0.05,0.35"]


def nwsim_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from sim.cli import main; main()", *args]


def nwsim(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(nwsim_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def sweep_dirs(root: Path) -> list[Path]:
    return [p for p in (root / "multirun").glob("*/*") if p.is_dir()]


def finished_jobs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_dir.rglob(JOB_FILE))


@pytest.fixture(scope="module")
def two_by_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2 x 2 caseload x turnover sweep of tiny teams."""
    root = tmp_path_factory.mktemp("sweep")
    result = nwsim(root, *SWEEP, *TINY)
    assert result.returncode == 0, result.stderr
    (sweep,) = sweep_dirs(root)
    return sweep


def test_a_sweep_is_summarised_with_one_row_per_job_and_heatmaps(two_by_two: Path) -> None:
    summary = pd.read_csv(two_by_two / "sweep_summary.csv", dtype={"job": str})
    assert len(summary) == 4
    assert sorted(zip(summary["team.caseload_per_worker"], summary["workforce.turnover_per_year"], strict=True)) == [
        (20, 0.05),
        (20, 0.35),
        (30, 0.05),
        (30, 0.35),
    ]
    assert "team.people" not in summary.columns or summary["team.people"].nunique() == 1
    for _, row in summary.iterrows():
        assert (row["arm"], row["baseline"]) == ("named", "duty")
        comparison = pd.read_csv(two_by_two / row["job"] / "comparison.csv").set_index("metric")
        for metric in ("admissions_per_100_person_years", "upc", "cost_total_gbp"):
            assert row[f"{metric}__diff_mean"] == pytest.approx(comparison.at[metric, "diff_mean"])
    assert pd.read_parquet(two_by_two / "sweep_summary.parquet").shape == summary.shape
    for metric in ("admissions_per_100_person_years", "upc", "cost_total_gbp"):
        assert (two_by_two / f"heatmap_{metric}.png").stat().st_size > 10_000


def test_the_aggregate_command_rebuilds_the_summary(two_by_two: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_by_two, copy)
    for path in copy.glob("sweep_summary.*"):
        path.unlink()
    done = subprocess.run(
        [sys.executable, "-c", "from sim.sweep import main; main()", str(copy)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(copy / "sweep_summary.csv", dtype={"job": str}),
        pd.read_csv(two_by_two / "sweep_summary.csv", dtype={"job": str}),
    )


def test_aggregate_without_finished_jobs_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "comparison.csv").write_text("half a file")  # no job.json: not finished
    with pytest.raises(SystemExit) as exit_info:
        aggregate_main([str(tmp_path)])
    assert exit_info.value.code != 0
    assert "no finished job" in capsys.readouterr().err
    assert not list(tmp_path.glob("sweep_summary*"))
    with pytest.raises(SystemExit) as exit_info:
        aggregate_main([str(tmp_path / "absent")])
    assert exit_info.value.code != 0


def test_a_job_is_done_only_for_the_same_config_and_all_its_files(small_config: Config, tmp_path: Path) -> None:
    raw = small_config.model_dump()
    key = job_key(raw)
    assert job_key({**raw, "jobs": 7, "resume": False}) == key  # how a job runs is not what it models
    assert job_key({**raw, "replicates": raw["replicates"] + 1}) != key
    (tmp_path / "runs.csv").write_text("x")
    mark_done(tmp_path, key, [tmp_path / "runs.csv"], {"seconds": 1.0})
    assert job_done(tmp_path, key)
    assert not job_done(tmp_path, job_key({**raw, "seed": raw["seed"] + 1}))
    (tmp_path / "runs.csv").unlink()
    assert not job_done(tmp_path, key)


@pytest.mark.slow
def test_a_killed_sweep_finishes_only_what_is_missing(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "workforce.turnover_per_year=0.05,0.15,0.35", *TINY, "horizon_years=1", "figures=false"]
    args.append(f"hydra.sweep.dir={sweep}")
    process = subprocess.Popen(
        nwsim_command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not finished_jobs(sweep) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p: json.loads((p / JOB_FILE).read_text()) for p in finished_jobs(sweep)}
    assert 1 <= len(done_before) < 3, "the sweep should have been killed part-way"
    assert not (sweep / "sweep_summary.csv").exists()

    rerun = nwsim(tmp_path, *args)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("skipped") == len(done_before)
    for job, record in done_before.items():
        assert json.loads((job / JOB_FILE).read_text()) == record  # untouched
    assert len(finished_jobs(sweep)) == 3
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert sorted(summary["workforce.turnover_per_year"]) == [0.05, 0.15, 0.35]
    assert (summary["n_pairs"] == 2).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
        ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"],
    ],
    ids=["joblib", "submitit_local", "ray"],
)
def test_every_launcher_writes_into_the_sweep_folder(tmp_path: Path, launcher: list[str]) -> None:
    args = ["-m", *launcher, "workforce.turnover_per_year=0.05,0.35", *TINY[:-1], "figures=false"]
    # As users run it: under `uv run`, from another folder (Ray would otherwise move its workers' folder).
    uv = shutil.which("uv")
    command = [uv, "run", "--frozen", "--project", str(ROOT), "nwsim", *args] if uv else nwsim_command(*args)
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = sweep_dirs(tmp_path)
    jobs = finished_jobs(sweep)
    assert len(jobs) == 2
    for job in jobs:
        assert (job / "comparison.csv").exists()
        assert (job / "runs.parquet").exists()
        assert json.loads((job / JOB_FILE).read_text())["simulate_seconds"] > 0
    assert len(pd.read_csv(sweep / "sweep_summary.csv")) == 2


def test_the_caseload_turnover_experiment_is_a_5_by_5_multirun() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.types import RunMode

    from sim.compose import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=caseload_turnover"], return_hydra_config=True)
    assert cfg.hydra.mode == RunMode.MULTIRUN
    params = cfg.hydra.sweeper.params
    assert [float(v) for v in params["team.caseload_per_worker"].split(",")] == [15, 20, 25, 30, 35]
    assert [float(v) for v in params["workforce.turnover_per_year"].split(",")] == [0.05, 0.10, 0.15, 0.25, 0.35]
    assert cfg.replicates == 10


# England scale --------------------------------------------------------------------------------


def test_team_sizes_add_up_vary_and_respect_the_minimum() -> None:
    cfg = make_config("experiment=england")
    sizes = team_sizes(cfg.teams, cfg.seed)
    assert sizes.size == 150
    assert sizes.sum() == 154_330
    assert sizes.min() >= 150
    assert sizes.max() / sizes.min() > 5  # varied, as councils are
    assert np.array_equal(sizes, team_sizes(cfg.teams, cfg.seed))
    assert not np.array_equal(sizes, team_sizes(cfg.teams, cfg.seed + 1))


def test_the_whole_of_teams_is_a_person_year_weighted_mean_and_costs_add_up() -> None:
    rows = []
    for team, (years, duty_rate, named_rate, duty_cost, named_cost) in enumerate(
        [(100.0, 1.0, 0.5, 1000.0, 900.0), (300.0, 2.0, 1.0, 3000.0, 3300.0)]
    ):
        for arm, rate, cost in (("duty", duty_rate, duty_cost), ("named", named_rate, named_cost)):
            rows.append(
                {
                    "team": team,
                    "team_people": 1,
                    "arm": arm,
                    "replicate": 0,
                    "seed": 1,
                    "person_years": years,
                    "admissions_per_100_person_years": rate,
                    "cost_total_gbp": cost,
                }
            )
    whole = whole_of_teams(pd.DataFrame(rows)).set_index("metric")
    # (100 * -0.5 + 300 * -1.0) / 400
    assert whole.at["admissions_per_100_person_years", "diff_mean"] == pytest.approx(-0.875)
    assert whole.at["admissions_per_100_person_years", "baseline_mean"] == pytest.approx(1.75)
    assert whole.at["cost_total_gbp", "baseline_mean"] == pytest.approx(4000.0)
    assert whole.at["cost_total_gbp", "diff_mean"] == pytest.approx(200.0)
    low, high = whole.loc["admissions_per_100_person_years", ["diff_ci_low", "diff_ci_high"]]
    assert low < -0.875 < high


def test_england_runs_every_team_and_writes_per_team_and_whole_tables(tmp_path: Path) -> None:
    args = ["experiment=england", "teams.count=4", "teams.total_people=600", "teams.min_people=100"]
    result = nwsim(tmp_path, *args, "horizon_years=0.5", "warmup_years=0.1", "jobs=2")
    assert result.returncode == 0, result.stderr
    (out,) = [p for p in (tmp_path / "outputs").glob("*/*") if p.is_dir()]
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 4 * 2
    assert runs.groupby("team")["team_people"].first().sum() == 600
    assert len(pd.read_csv(out / "teams.csv")) == 4
    whole = pd.read_csv(out / "comparison.csv").set_index("metric")
    assert whole.at["person_years", "baseline_mean"] == pytest.approx(runs.query("arm == 'duty'")["person_years"].sum())
    series = pd.read_parquet(out / "timeseries.parquet")
    assert set(series["team"]) == {0, 1, 2, 3}
    assert not list(out.glob(".*.tmp"))


def test_a_bad_swept_value_stops_the_sweep_before_any_folder(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = nwsim(tmp_path, "-m", "workforce.turnover_per_year=0.1,-0.5", *TINY, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 2
    assert "workforce.turnover_per_year = -0.5" in result.stderr
    assert "Traceback" not in result.stderr
    assert not sweep.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["experiment=caseload_turnover"],  # swept by the experiment's sweeper params
        ["seed=1,2", "team.people=100,200", "hydra.sweep.dir=swept"],  # values, and a Hydra override
        ["experiment=caseload_turnover,england", "replicates=3"],  # a swept config group, a fixed value
    ],
)
def test_a_job_config_built_as_the_check_builds_it_is_the_one_hydra_composes(args: list[str]) -> None:
    # nwsim runs a checked sweep's jobs from configs built as its check builds them (``sweep_job_config``),
    # not composed file by file again: they must be Hydra's own, every key, flag and resolved timestamp.
    import itertools

    from hydra.types import RunMode
    from omegaconf import OmegaConf, open_dict

    from sim.compose import _hydra, _swept_options, sweep_job_config

    with _hydra(None, None) as hydra:
        master = hydra.compose_config(
            config_name="config", overrides=args, with_log_configuration=False, run_mode=RunMode.MULTIRUN
        )
        loader = hydra.config_loader
        jobs = [list(combo) for combo in itertools.product(*_swept_options(loader, master).values())][:3]
        bases: dict = {}
        for index, overrides in enumerate(jobs):
            hydras = loader.load_sweep_config(master, overrides)
            ours = sweep_job_config(loader, master, overrides, bases, loader.load_sweep_config)
            for config in (hydras, ours):  # as the launcher numbers each job
                with open_dict(config):
                    config.hydra.job.id = config.hydra.job.num = index
            assert OmegaConf.to_container(ours, resolve=False) == OmegaConf.to_container(hydras, resolve=False)
            assert OmegaConf.is_struct(ours)
            assert not OmegaConf.is_readonly(ours.hydra)
            assert ours.hydra.sweep.dir == hydras.hydra.sweep.dir  # resolved: the same timestamps
            assert ours.hydra.job.override_dirname == hydras.hydra.job.override_dirname
