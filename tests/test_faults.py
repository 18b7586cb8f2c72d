"""Faults: damaged results, a reused sweep folder, Ctrl-C, kill -9 and two runs at once never lose or mix results.

Every test compares with one uninterrupted reference sweep of two tiny jobs run in a pool of two processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import check
from sim.compose import validate_config
from sim.jobs import (
    JOB_FILE,
    TEMP_MARK,
    folder_lock,
    job_done,
    job_key,
    mark_done,
    read_record,
    sweep_codes,
    sweep_members,
    write_sweep_file,
)
from sim.runner import run_experiment, save_results
from sim.sweep import main as aggregate_main

TINY = ["team.people=60", "horizon_years=0.25", "warmup_years=0", "replicates=2", "jobs=2", "figures=false"]
#: Three jobs: the Ctrl-C below must land while the sweep still runs, and on a loaded machine one job after the
#: first left too short a window for the test to notice the first and signal (the sweep ended first).
SWEEP = ["-m", *TINY, "workforce.turnover_per_year=0.1,0.3,0.5"]
COMMAND = [sys.executable, "-c", "from sim.cli import main; main()"]


def start(*args: str) -> subprocess.Popen[str]:
    """``nwsim args`` in a session of its own (its process group, as a terminal would start it)."""
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def nwsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=300)


def finished(sweep: Path) -> list[Path]:
    return sorted(path.parent for path in sweep.rglob(JOB_FILE))


def session(leader: int) -> list[int]:
    """Live processes of the session ``leader`` started (itself, its pool workers and their helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_for(condition: object, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert condition(), "timed out"  # type: ignore[operator]


def assert_same_results(sweep: Path, reference: Path) -> None:
    """Every result file of every job as in the reference (byte for byte), and the same summary."""
    jobs = finished(reference)
    assert [job.name for job in finished(sweep)] == [job.name for job in jobs]
    for job in jobs:
        for name in read_record(job)["files"]:
            assert (sweep / job.name / name).read_bytes() == (job / name).read_bytes(), name
    mine, theirs = (pd.read_csv(folder / "sweep_summary.csv").drop(columns="seconds") for folder in (sweep, reference))
    pd.testing.assert_frame_equal(mine, theirs)
    assert not list(sweep.rglob("*.tmp"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep run once, uninterrupted."""
    sweep = tmp_path_factory.mktemp("reference") / "sweep"
    done = nwsim(*SWEEP, f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(finished(sweep)) == 3
    return sweep


def aggregate(sweep: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        aggregate_main([str(sweep)])
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def edit(path: Path) -> None:
    """Change one digit of the first number after the header: same size, other content."""
    text = path.read_text()
    at = text.index("\n") + text[text.index("\n") :].index(".") + 1
    path.write_text(text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :])


def test_a_sweep_folder_reused_with_other_values_never_mixes(reference: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(reference, sweep)
    other = ["-m", *TINY, "jobs=1", "horizon_years=0.1", "team.caseload_per_worker=25"]
    done = nwsim(*other, "workforce.turnover_per_year=0.2", f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 1  # exactly the sweep that ran, not the three jobs of the earlier one
    row = summary.iloc[0]
    assert (row["team.caseload_per_worker"], row["workforce.turnover_per_year"], row["horizon_years"]) == (25, 0.2, 0.1)
    assert "workforce.turnover_per_year=0.2" in read_record(sweep / row["job"])["overrides"]
    for job in finished(reference):  # the earlier sweep's jobs are untouched, in folders of their own
        assert (sweep / job.name / JOB_FILE).read_bytes() == (job / JOB_FILE).read_bytes()
        assert job_done(sweep / job.name, read_record(job)["key"])


def test_ctrl_c_kill_9_and_damaged_results_lose_and_mix_nothing(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "sweep"
    args = [*SWEEP, f"hydra.sweep.dir={sweep}"]
    # Ctrl-C (the terminal signals the whole process group) once the first job has finished.
    first = start(*args)
    wait_for(lambda: finished(sweep))
    os.killpg(first.pid, signal.SIGINT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err[-3000:]
    assert "Run the same command again to resume" in err
    assert "Traceback" not in out + err
    wait_for(lambda: not session(first.pid), 10)
    assert not list(sweep.rglob("*.tmp"))
    (done,) = finished(sweep)  # the finished job stays finished; the others are not marked
    # kill -9 of the parent while its pool works on the second job: the workers notice and end.
    second = start(*args)
    wait_for(lambda: len(session(second.pid)) > 1 or second.poll() is not None)
    assert second.poll() is None, "the second job should still be running"
    os.kill(second.pid, signal.SIGKILL)
    second.communicate(timeout=60)
    wait_for(lambda: not session(second.pid), 10)
    assert finished(sweep) == [done]
    code, err = aggregate(sweep, capsys)  # the finished job alone is summarised; the other is named as unfinished
    assert (code, "2 jobs of the sweep have not finished" in err) == (0, True)
    # A cut and an edited result: each is refused by the aggregator and makes resuming recompute the job.
    key = read_record(done)["key"]
    for damage, name in ((cut, "runs.csv"), (edit, "comparison.csv")):
        original = (done / name).read_bytes()
        damage(done / name)
        code, err = aggregate(sweep, capsys)
        assert (code, str(done / name) in err, "Traceback" in err) == (1, True, False)
        assert not job_done(done, key)
        (done / name).write_bytes(original)
        assert job_done(done, key)
    for path in sweep.glob("sweep_summary.*"):
        path.unlink()
    cut(done / "runs.csv")
    edit(done / "comparison.csv")
    code, _ = aggregate(sweep, capsys)
    assert code == 1
    assert not list(sweep.glob("sweep_summary.*"))
    stale = sweep / f".comparison.csv{TEMP_MARK}killed.tmp"  # as a write cut short by kill -9 leaves it
    stale.write_text("half a table")
    third = nwsim(*args)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "temporary files an interrupted run left" in third.stderr
    assert not stale.exists()
    assert third.stderr.count("nwsim: recomputing") == 1
    assert_same_results(sweep, reference)


def test_two_runs_in_one_folder_compute_it_once(tmp_path: Path) -> None:
    """A second nwsim waits for the run holding the folder, then skips what it finished.

    The first run is this test itself (the same job, composed and checked as nwsim does, run in this process
    while it holds the folder's lock), so only one more process is started.
    """
    run = tmp_path / "run"
    args = [*TINY, "jobs=1", f"hydra.run.dir={run}"]
    (job,) = check(args).jobs
    with folder_lock(run):
        with open(tmp_path / "err.txt", "w") as err:
            second = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=err, text=True)
        wait_for(lambda: "another nwsim is running in" in (tmp_path / "err.txt").read_text())
        assert second.poll() is None
        assert not (run / JOB_FILE).exists()
        results = run_experiment(validate_config(job.config), jobs=1, progress=False)
        written = save_results(results, run)
        key = job_key(job.config)
        mark_done(run, key, written, {"seconds": 0.0}, overrides=list(job.overrides), config=job.config)
        record = (run / JOB_FILE).read_bytes()
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, (tmp_path / "err.txt").read_text()[-3000:]
    assert "Already done" in out
    assert "Results in" not in out  # computed once, by the first run
    assert (run / JOB_FILE).read_bytes() == record


def test_a_sweeps_jobs_are_found_by_config_key_or_overrides_and_others_left_out(tmp_path: Path) -> None:
    for name, key, overrides in [
        ("a", "k1-code1", ["seed=1"]),  # this sweep's job, run with other model code
        ("b", "k2-code2", ["jobs=1", "seed=2"]),  # known by its overrides (how it ran does not count)
        ("old", "k9-code2", ["seed=9"]),  # an earlier sweep's job in the same folder
    ]:
        mark_done(tmp_path / name, key, [], {}, overrides=overrides)
    jobs = [
        {"dir": "a", "key": "k1-code2", "overrides": ["seed=1"]},
        {"dir": None, "key": None, "overrides": ["seed=2", "jobs=3"]},
        {"dir": "c", "key": "k3-code2", "overrides": ["seed=3"]},
    ]
    write_sweep_file(tmp_path, jobs, [])
    members, missing = sweep_members(tmp_path)
    assert (members, missing) == ([tmp_path / "a", tmp_path / "b"], ["c"])
    assert sweep_codes(members) == {"code1", "code2"}
