"""Bad input to every command ends in a plain message naming the key or file, the right exit code, nothing written.

Exit code 2 is bad input (a value, a key, an override, a config file), 1 a file or folder problem. Most of the
``nwsim`` table goes through ``sim.cli.check`` in this process (the very check ``nwsim`` runs before Hydra makes
any folder); a few rows go through the real command, and the other commands are called through their ``main``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import check
from sim.compose import LAUNCH_DIR_VARIABLE, CommandError, check_override_sets
from sim.jobs import JOB_FILE, job_key, mark_done
from sim.report import write_business_case
from sim.runner import run_experiment, save_results
from tests.conftest import make_config

S = ["team.people=60", "horizon_years=0.1", "warmup_years=0", "replicates=2", "jobs=1", "figures=false"]
ONE_JOB_ELSEWHERE = json.dumps({"key": "x", "files": {}, "overrides": ["seed=7"]})

#: Through ``sim.cli.check``, as ``nwsim`` runs it: (command line, exit code, text the message must hold); {tmp} is
#: the test's folder.
NWSIM = [
    # The defects that were found: a sweep's section-level and cross-field errors, values that crashed the model
    # inside the old ranges, a boolean taken for a count, an interpolation, a range sweep, impossible folders.
    (["-m", *S, "team.need_mix.low=0.4,0.5"], 2, "team.need_mix = {'low': 0.5"),
    (["-m", *S, "arms=[duty,named],[duty,duty]"], 2, "in the job arms=[duty,duty]"),
    (["horizon_years=0.001"], 2, "horizon_years = 0.001: the measured horizon is 0.36 days"),
    (["team.caseload_per_worker=1e-300"], 2, "team.caseload_per_worker = 1e-300"),
    (["team.people=true"], 2, "team.people = True: allowed: a whole number, not true/false"),
    (["team.growth.target_people=500"], 2, "target_people 500 is below team.people (750); allowed: at least"),
    (["team.growth.staff=hire"], 2, "team.growth.staff = 'hire': allowed: 'follow' or 'fixed'"),
    (["team.people=${oops}"], 2, "team.people: Interpolation key 'oops' not found"),
    (["--config-dir", "{tmp}/conf", "team=broken"], 2, "broken.yaml"),
    (["-m", "crisis.p_admission=interval(0,2)"], 2, "crisis.p_admission=interval(0,2)"),
    (["hydra.run.dir={tmp}/a_file/run"], 1, "hydra.run.dir="),
    (["hydra.run.dir=/proc/nwsim"], 1, "cannot write in /proc"),
    (["-m", "seed=1,2", "hydra.sweep.dir={tmp}/a_file/sweep"], 1, "hydra.sweep.dir="),
    (["-m", "seed=1,2", "hydra.sweep.dir={tmp}/taken", "hydra.sweep.subdir=${hydra.job.num}"], 1, "another job"),
    # Command-line mistakes.
    (["seed=1,2"], 2, "several values need a sweep (add -m)"),
    (["team=nosuch"], 2, "Could not find 'team/nosuch'"),
    (["service=nosuch"], 2, "Could not find 'service/nosuch'"),
    (["team.people=[1"], 2, "cannot read the override team.people=[1"),
    (["team.peeple=5"], 2, "team.peeple = '5': unknown key"),
    (["--config-dir", "{tmp}/nowhere"], 2, "--config-dir"),
    (["-m", "replicates=2,0"], 2, "in the job replicates=0"),
    (["experiment=sensitivity", "sensitivity.levels=3"], 2, "levels must be even"),
    (["experiment=uncertainty", "uncertainty.inputs.crisis.p_admission.sd=0.5"], 2, "too wide for a beta"),
]
#: Through ``sim.compose.check_override_sets`` (the same check of each job, one composition for all): a bad value in
#: every config section, and the wrong types. Each would end ``nwsim`` with exit code 2 before anything is written.
VALUES = [
    (["seed=-1"], "seed = -1"),
    (["team.people=-5"], "team.people = -5: allowed: a number greater than or equal to 1"),
    (["arms=[duty,duty]"], "each arm may appear once"),
    (["workforce.turnover_per_year=lots"], "workforce.turnover_per_year = 'lots': allowed: a number, not text"),
    (["replicates=0"], "replicates = 0"),
    (["jobs=0"], "jobs = 0"),
    (["warmup_years=-1"], "warmup_years = -1"),
    (["arms=[duty,bogus]"], "unknown staffing system 'bogus'"),
    (["baseline=hybrid"], "baseline = 'hybrid': must be one of the arms"),
    (["resume=maybe"], "resume = 'maybe'"),
    (["figures=1"], "figures = 1: allowed: true or false"),
    (["ablation=without_nothing"], "ablation = 'without_nothing'"),
    (["experiment=england", "teams.count=0"], "teams.count = 0"),
    (["team.advanced_practitioners=-1"], "team.advanced_practitioners = -1"),
    (["team.need_mix.low=0.5"], "the shares must add up to 1"),
    (["workforce.agency_cover_frac=1.5"], "workforce.agency_cover_frac = 1.5"),
    (["workforce.turnover_per_year='0.5'"], "workforce.turnover_per_year = '0.5': allowed: a number, not text"),
    (["named.caseload_cap=0"], "named.caseload_cap = 0"),
    (["named.proactive_checkins=1"], "named.proactive_checkins = 1: allowed: true or false"),
    (["duty.workers_per_day=0"], "duty.workers_per_day = 0"),
    (["hybrid.named_needs=[low,low]"], "each need level may appear once"),
    (["switch.day=-1"], "switch.day = -1"),
    (["switch.day=1.5"], "switch.day = 1.5: allowed: a whole number"),
    (["effects.named_retention=2"], "effects.named_retention = 2"),
    (["life.events_per_year=-1"], "life.events_per_year = -1"),
    (["contacts.familiarity_slots=0"], "contacts.familiarity_slots = 0"),
    (["crisis.p_admission=1.5"], "crisis.p_admission = 1.5"),
    (["hospital.stay_sigma=9"], "hospital.stay_sigma = 9"),
    (["placement.emergency_stay_mean_days=0"], "placement.emergency_stay_mean_days = 0"),
    (["assessment.p_error=-0.1"], "assessment.p_error = -0.1"),
    (["costs.discount_rate_per_year=2"], "costs.discount_rate_per_year = 2"),
    (["costs.price_year=2024"], "costs.price_year = 2024: allowed: text"),
    (["horizon_years=0.0013"], "horizon_years = 0.0013"),
    (["uncertainty.draws=-1"], "uncertainty.draws = -1"),
    (["population.referrals_per_year=-0.1"], "population.referrals_per_year = -0.1"),
    (
        ["population.caseload_turnover_per_year=0.01", "population.mortality_per_year.high=0.05"],
        "below the high-need exit rate from moving and death alone",
    ),
    (
        ["uncertainty.inputs.crisis.p_admission.dist=triangle"],
        "uncertainty.inputs.crisis.p_admission.dist = 'triangle'",
    ),
]


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A launch folder holding a file where a folder is wanted, a team file that is not YAML, another job's folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(LAUNCH_DIR_VARIABLE, str(tmp_path))
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "conf" / "team").mkdir(parents=True)
    (tmp_path / "conf" / "team" / "broken.yaml").write_text("people: 90\ncaseload_per_worker: [18\n")
    (tmp_path / "taken" / "0").mkdir(parents=True)
    (tmp_path / "taken" / "0" / JOB_FILE).write_text(ONE_JOB_ELSEWHERE)
    return tmp_path


@pytest.mark.parametrize(("args", "code", "named"), NWSIM, ids=[" ".join(row[0])[-60:] for row in NWSIM])
def test_nwsim_names_the_problem_before_anything_is_written(
    folder: Path, args: list[str], code: int, named: str
) -> None:
    before = tree(folder)
    with pytest.raises(CommandError) as err:
        check([arg.replace("{tmp}", str(folder)) for arg in args])
    assert err.value.code == code
    assert named.replace("{tmp}", str(folder)) in str(err.value)
    assert "Traceback" not in str(err.value)
    assert tree(folder) == before


@pytest.fixture(scope="module")
def value_problems() -> list[list[str]]:
    return check_override_sets([args for args, _ in VALUES])


@pytest.mark.parametrize(("row", "named"), [(i, named) for i, (_, named) in enumerate(VALUES)], ids=lambda v: str(v))
def test_every_bad_value_is_named(value_problems: list[list[str]], row: int, named: str) -> None:
    problems = "\n".join(value_problems[row])
    assert named in problems
    assert "Traceback" not in problems


def test_the_real_command_exits_plainly_and_writes_nothing(folder: Path) -> None:
    rows = [NWSIM[0], NWSIM[8]]  # a sweep with a section-level error (2), a folder that cannot be made (1)
    before = tree(folder)
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    command = [sys.executable, "-c", "from sim.cli import main; main()"]
    started = [
        subprocess.Popen(
            [*command, *(arg.replace("{tmp}", str(folder)) for arg in args)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, _, _ in rows
    ]
    for process, (args, code, named) in zip(started, rows, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == code, (args, err)
        assert named.replace("{tmp}", str(folder)) in err
        assert "Traceback" not in out + err
        assert "HYDRA_FULL_ERROR" not in err
    assert tree(folder) == before


# The other commands ---------------------------------------------------------------------------


def finish_run(folder: Path, *overrides: str) -> Path:
    """A finished run in ``folder`` with the files and ``job.json`` nwsim writes, made in this process."""
    cfg = make_config(*S, *overrides)
    results = run_experiment(cfg, jobs=1, progress=False)
    written = save_results(results, folder)
    if results.comparison is not None:
        written += write_business_case(results, cfg, folder, page=False)
    raw = cfg.model_dump()
    mark_done(folder, job_key(raw), written, {"seconds": 0.0}, overrides=list(overrides), config=raw)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two runs nwsim-validate reads (a duty baseline and a paired pilot), also a sweep of one job."""
    root = tmp_path_factory.mktemp("runs")
    finish_run(root / "validation" / "baseline", "arms=[duty]")
    finish_run(root / "validation" / "pilot", "team.people=35")
    return root


def ends(main: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of a command's ``main``."""
    try:
        main(argv)  # type: ignore[operator]
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_text("{not json: [")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize(
    ("damaged", "how"),
    [
        ("pilot/business_case.json", "garbage"),
        ("baseline/runs.csv", "truncated"),
        ("baseline/runs.csv", "empty"),
        ("baseline/job.json", "garbage"),
    ],
)
def test_nwsim_validate_refuses_runs_it_cannot_verify(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damaged: str, how: str
) -> None:
    from sim.validation import main

    out = tmp_path / "validation"
    shutil.copytree(runs / "validation", out)
    damage(out / damaged, how)
    code, err = ends(main, ["--skip-run", "--out", str(out), "--docs", str(tmp_path / "docs")], capsys)
    assert code == 1
    assert str(out / damaged) in err
    assert "Traceback" not in err
    assert not (tmp_path / "docs").exists()
    assert not (out / "validation.csv").exists()


def test_nwsim_aggregate_refuses_a_damaged_record_and_ignores_hydras_files(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.sweep import main

    sweep = tmp_path / "sweep"
    shutil.copytree(runs / "validation" / "pilot", sweep / "a")
    (sweep / "a" / ".hydra").mkdir()
    (sweep / "a" / ".hydra" / "overrides.yaml").write_text("- [unclosed")  # Hydra's file: never read
    code, err = ends(main, [str(sweep)], capsys)
    assert code == 0, err
    assert pd.read_csv(sweep / "sweep_summary.csv")["team.people"].tolist() == [35]  # from job.json
    for path in sweep.glob("sweep_summary.*"):
        path.unlink()
    damage(sweep / "a" / JOB_FILE, "garbage")
    code, err = ends(main, [str(sweep)], capsys)
    assert (code, str(sweep / "a" / JOB_FILE) in err, "Traceback" in err) == (1, True, False)
    (sweep / "sweep.json").write_text("[1, 2")
    code, err = ends(main, [str(sweep)], capsys)
    assert (code, str(sweep / "sweep.json") in err) == (1, True)
    code, err = ends(main, [str(tmp_path / "nowhere")], capsys)
    assert (code, "is not a folder" in err) == (1, True)
    assert not list(sweep.glob("sweep_summary.*"))


def test_nwsim_report_reads_its_run_from_job_json_and_fails_plainly(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.report import main

    run = tmp_path / "run"
    shutil.copytree(runs / "validation" / "pilot", run)
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(": not yaml [")  # Hydra's file: never read
    code, err = ends(main, [str(run)], capsys)
    assert code == 0, err
    record = json.loads((run / JOB_FILE).read_text())
    (run / "business_case.json").unlink()
    (run / "business_case.json").mkdir()  # a folder where the report must write a file: it cannot
    code, err = ends(main, [str(run)], capsys)
    assert (code, "cannot write the business case" in err, "Traceback" in err) == (1, True, False)
    assert json.loads((run / JOB_FILE).read_text()) == record
    assert not list(run.glob(".*.tmp"))
    damage(run / "timeseries.parquet", "truncated")
    code, err = ends(main, [str(run)], capsys)
    assert (code, str(run / "timeseries.parquet") in err) == (1, True)
    damage(run / JOB_FILE, "garbage")
    code, err = ends(main, [str(run)], capsys)
    assert (code, str(run / JOB_FILE) in err, "not a finished run folder" in err) == (1, True, True)


def test_a_sweep_too_large_to_compose_job_by_job_has_each_value_checked(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.compose

    monkeypatch.setattr(sim.compose, "MAX_JOBS_CHECKED", 4)
    with pytest.raises(CommandError) as err:
        check(["-m", "seed=1,2,3", "team.need_mix.low=0.4,0.3"])
    assert "in the job seed=1 team.need_mix.low=0.3" in str(err.value)
    plan = check(["-m", "seed=1,2,3", "replicates=2,3"])
    assert plan is not None
    assert len(plan.jobs) == 6
    assert all(job.config is None for job in plan.jobs)  # listed by their overrides only


def test_every_group_choice_of_the_readme_passes_the_check(folder: Path) -> None:
    """``service=...`` and ``team=...`` pick files, not keys: the key check must let them through to Hydra."""
    for args in (["service=older_people"], ["service=mental_health", "team=template"], ["team=older_people"]):
        check([*args, *S])
