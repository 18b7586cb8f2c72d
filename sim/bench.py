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

from hydra import compose, initialize_config_dir

from sim.cli import CONF_DIR, load_config
from sim.model import StaffingModel
from sim.runner import write_atomic


def time_one_arm(arm: str, repeats: int, overrides: list[str]) -> dict[str, float]:
    """CPU seconds of one arm of one replicate (model built and run), median over ``repeats`` replicates."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = load_config(compose("config", overrides=overrides))
    seconds = []
    for replicate in range(repeats):
        start = time.process_time()
        StaffingModel(cfg, arm, replicate).run()
        seconds.append(time.process_time() - start)
    median = statistics.median(seconds)
    person_days = cfg.team.people * (cfg.warmup_days + cfg.horizon_days)
    return {"cpu_seconds_median": median, "person_days_per_second": person_days / median, "repeats": repeats}


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


def time_default_run(overrides: list[str]) -> dict[str, float]:
    """Wall seconds and peak memory (PSS of all its processes together) of ``nwsim`` as a user runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-c", "from sim.cli import main; main()", f"hydra.run.dir={tmp}/run", *overrides]
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp
        )
        peak = 0

        def watch() -> None:
            nonlocal peak
            while process.poll() is None:
                peak = max(peak, _session_pss_bytes(process.pid))
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        code = process.wait()
        wall = time.perf_counter() - start
        watcher.join()
    if code != 0:
        raise SystemExit(f"nwsim-bench: the default run failed (exit {code})")
    return {"wall_seconds": wall, "peak_memory_mb": peak / 2**20}


def main() -> None:
    """Print and write bench.json: one arm of the default team, and the default run end to end."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="replicates timed per arm (median reported)")
    parser.add_argument("--out", type=Path, default=Path("bench.json"), help="where to write the figures")
    parser.add_argument("--skip-default-run", action="store_true", help="time one arm only")
    parser.add_argument("overrides", nargs="*", help="config overrides for every measurement")
    args = parser.parse_args()
    result: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "overrides": args.overrides,
    }
    for arm in ("duty", "named"):
        result[f"one_arm_{arm}"] = figures = time_one_arm(arm, args.repeats, args.overrides)
        print(
            f"one arm ({arm}): {figures['cpu_seconds_median']:.2f} s CPU, "
            f"{figures['person_days_per_second'] / 1e6:.2f} M person-days/s",
            flush=True,
        )
    if not args.skip_default_run:
        result["default_run"] = figures = time_default_run(args.overrides)
        print(f"default run: {figures['wall_seconds']:.1f} s wall, peak {figures['peak_memory_mb']:.0f} MB", flush=True)
    write_atomic(args.out, lambda p: p.write_text(json.dumps(result, indent=2)))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
