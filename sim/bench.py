"""``nwsim-bench``: speed and memory figures to compare release to release (writes bench.json)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sim import model as core
from sim import staffing
from sim.compose import compose
from sim.contacts import flush
from sim.jobs import JOB_FILE, write_atomic
from sim.model import StaffingModel
from sim.staffing import SYSTEMS

#: The day's processes as docs/ODD.md lists them, each timed on its own by ``time_processes``.
PROCESSES = (
    ("start of day", lambda P, W, C, B, D, Y, t: core.start_day(W, C, t)),
    ("people come and go", lambda P, W, C, B, D, Y, t: core.caseload(P, W, C, B, t)),
    ("life", lambda P, W, C, B, D, Y, t: core.life(P, C, B, D, t)),
    ("demand", lambda P, W, C, B, D, Y, t: core.demand(P, C, D, t)),
    ("serve", lambda P, W, C, B, D, Y, t: (staffing.serve(P, W, C, B, D, Y, t), flush(P, C, B, t))),
    ("crises", core.crises),
    ("hospital", lambda P, W, C, B, D, Y, t: core.hospital_and_placements(P, C, B, D, t)),
    ("assessments", lambda P, W, C, B, D, Y, t: core.capacity_assessments(P, C, B, D, t)),
    ("workforce", core.workforce),
    ("accounting", lambda P, W, C, B, D, Y, t: core.account(P, W, B, Y, t)),
)


def time_one_arm(arm: str, repeats: int, overrides: list[str]) -> dict[str, float]:
    """CPU seconds of one arm of one replicate (model built and run), median over ``repeats`` replicates."""
    cfg = compose(overrides)
    seconds = []
    for replicate in range(repeats):
        start = time.process_time()
        StaffingModel(cfg, arm, replicate).run()
        seconds.append(time.process_time() - start)
    median = statistics.median(seconds)
    person_days = cfg.team.people * (cfg.warmup_days + cfg.horizon_days)
    return {
        "people": cfg.team.people,
        "cpu_seconds_median": median,
        "person_days_per_second": person_days / median,
        "repeats": repeats,
    }


def time_processes(arm: str, overrides: list[str]) -> dict[str, float]:
    """CPU seconds of each daily process over one run of one arm (each compiled process called on its own).

    Calling the processes one by one adds a few microseconds of call overhead per process and day that a
    whole run (one compiled call per year) does not pay; the shares show where the time goes.
    """
    cfg = compose(overrides)
    warm = StaffingModel(cfg, arm, 1)  # compile (or load) each process as called on its own, untimed
    for _, process in PROCESSES:
        process(*warm._prepare(0), 0)
    model = StaffingModel(cfg, arm, 0)
    seconds = dict.fromkeys((name for name, _ in PROCESSES), 0.0)
    for t in range(model.total_days):
        state = model._prepare(t)
        for name, process in PROCESSES:
            start = time.process_time()
            process(*state, t)
            seconds[name] += time.process_time() - start
        model._finish(t + 1)
    return seconds


def time_startup(repeats: int = 3) -> dict[str, float]:
    """Wall seconds to start ``nwsim``'s process and import what it needs (median), and the first run's compile.

    ``compile_seconds``: a short run of every system with an empty compiled-code cache, less the same run warm.
    """
    command = [sys.executable, "-c", "import sim.cli, sim.model"]
    startup = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True)
        startup.append(time.perf_counter() - start)
    run = [
        sys.executable,
        "-c",
        "from sim.compose import compose; from sim.model import StaffingModel; from sim.staffing import SYSTEMS; "
        "cfg = compose(['team.people=60', 'horizon_years=0.5', 'warmup_years=0']); "
        "[StaffingModel(cfg, arm, 0).run() for arm in SYSTEMS]",
    ]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        start = time.perf_counter()
        subprocess.run(run, check=True, env=env)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(run, check=True, env=env)
        warm = time.perf_counter() - start
    return {
        "startup_seconds": statistics.median(startup),
        "compile_seconds": cold - warm,
        "warm_short_run_seconds": warm,
    }


def _session_pss_bytes(session: int) -> int:
    """Proportional set size of every process in a session (Linux /proc; 0 elsewhere).

    PSS shares each page among the processes that map it, so forked workers' common pages count once.
    """
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:  # field 6 of stat: session id
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure_command(args: list[str], cwd: Path) -> dict[str, float]:
    """Wall seconds and peak memory (PSS of all its processes together) of ``nwsim args`` as a user runs it."""
    command = [sys.executable, "-c", "from sim.cli import main; main()", *args]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, cwd=cwd
    )
    peak = 0

    def watch() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, _session_pss_bytes(process.pid))
            time.sleep(0.5)  # reading smaps costs CPU; twice a second is enough for runs of seconds to minutes

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"nwsim-bench: `nwsim {' '.join(args)}` failed (exit {process.returncode}):\n{stderr[-2000:]}")
    return {"wall_seconds": wall, "peak_memory_mb": peak / 2**20}


def time_default_run(overrides: list[str]) -> dict[str, float]:
    """The default run end to end: wall seconds and peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        return measure_command([f"hydra.run.dir={tmp}/run", *overrides], Path(tmp))


def time_sweep(workers: int, replicates: int, overrides: list[str]) -> dict[str, float]:
    """The caseload x turnover sweep with ``workers`` processes: wall seconds, and the share not spent simulating.

    ``overhead_frac`` is 1 - (seconds spent in the simulation, summed over jobs) / wall seconds: Hydra's
    composing, process start, figures and writing, as a share of the sweep.
    """
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        args = ["experiment=caseload_turnover", f"jobs={workers}", f"replicates={replicates}"]
        figures = measure_command([*args, f"hydra.sweep.dir={sweep}", *overrides], Path(tmp))
        records = [json.loads(p.read_text()) for p in sweep.rglob(JOB_FILE)]
    simulate = sum(r["simulate_seconds"] for r in records)
    figures |= {"jobs": len(records), "replicates": replicates, "workers": workers}
    figures["overhead_frac"] = 1 - simulate / figures["wall_seconds"] if records else float("nan")
    figures["mean_job_seconds"] = statistics.fmean(r["seconds"] for r in records) if records else float("nan")
    return figures


def time_england(overrides: list[str]) -> dict[str, float]:
    """The England experiment (150 teams) end to end: wall seconds and peak memory."""
    with tempfile.TemporaryDirectory() as tmp:
        return measure_command(["experiment=england", f"hydra.run.dir={tmp}/run", *overrides], Path(tmp))


def main() -> None:
    """Print and write bench.json: one arm at team and at large scale, the default run, a sweep and England."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="replicates timed per arm (median reported)")
    parser.add_argument("--large-people", type=int, default=15_000, help="people in the large one-arm timing")
    parser.add_argument("--large-repeats", type=int, default=3, help="replicates timed per arm at large scale")
    parser.add_argument("--sweep-replicates", type=int, default=10, help="replicates per job in the timed sweep")
    parser.add_argument(
        "--sweep-workers", type=int, nargs="*", default=[1, 2], help="worker counts to time the sweep with"
    )
    parser.add_argument("--out", type=Path, default=Path("bench.json"), help="where to write the figures")
    for part in ("large", "default-run", "sweep", "england"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"do not time the {part.replace('-', ' ')}")
    parser.add_argument("overrides", nargs="*", help="config overrides for every measurement")
    args = parser.parse_args()
    result: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "overrides": args.overrides,
    }
    result["startup"] = figures = time_startup()
    print(
        f"start-up: {figures['startup_seconds']:.2f} s; compiling on a first run: {figures['compile_seconds']:.0f} s",
        flush=True,
    )
    for arm in ("duty", "named"):
        result[f"process_cpu_seconds_{arm}"] = figures = time_processes(arm, args.overrides)
        print(f"processes ({arm}): " + ", ".join(f"{k} {v:.3f} s" for k, v in figures.items()), flush=True)
    scales = [("team", args.repeats, [])]
    if not args.skip_large:
        scales.append(("large", args.large_repeats, [f"team.people={args.large_people}"]))
    for scale, repeats, extra in scales:
        for arm in SYSTEMS:  # every registered staffing system
            result[f"one_arm_{arm}_{scale}"] = figures = time_one_arm(arm, repeats, [*extra, *args.overrides])
            print(
                f"one arm ({arm}, {scale} scale): {figures['cpu_seconds_median']:.2f} s CPU, "
                f"{figures['person_days_per_second'] / 1e6:.2f} M person-days/s",
                flush=True,
            )
    if not args.skip_default_run:
        result["default_run"] = figures = time_default_run(args.overrides)
        print(f"default run: {figures['wall_seconds']:.1f} s wall, peak {figures['peak_memory_mb']:.0f} MB", flush=True)
    if not args.skip_sweep:
        for workers in args.sweep_workers:
            result[f"sweep_{workers}_workers"] = figures = time_sweep(workers, args.sweep_replicates, args.overrides)
            print(
                f"caseload x turnover sweep ({figures['jobs']} jobs x {args.sweep_replicates} replicates, "
                f"{workers} workers): {figures['wall_seconds']:.1f} s wall, "
                f"{figures['overhead_frac']:.1%} not simulating",
                flush=True,
            )
    if not args.skip_england:
        result["england"] = figures = time_england(args.overrides)
        print(f"England: {figures['wall_seconds']:.1f} s wall, peak {figures['peak_memory_mb']:.0f} MB", flush=True)
    write_atomic(args.out, lambda p: p.write_text(json.dumps(result, indent=2)))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
