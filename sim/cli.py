"""``nwsim``: the Hydra entry point. Validates the config, runs every arm x replicate, writes the tables."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.compose import (
    CONF_DIR,
    LAUNCH_DIR_VARIABLE,
    bad_sweep_values,
    load_config,
    model_dict,
    unknown_override_keys,
)
from sim.params import Config, ConfigError

EXIT_BAD_CONFIG = 2
#: Launchers that already run several jobs at once: each job then simulates in one process.
PARALLEL_LAUNCHERS = ("JoblibLauncher", "RayLauncher", "RayAWSLauncher", "LocalLauncher")


def _exit_on_bad_config(cfg: DictConfig) -> Config:
    try:
        return load_config(cfg)
    except ConfigError as exc:
        print(f"nwsim: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)


class ValidateOnStart(Callback):
    """Check the config before Hydra creates any output folder, so bad input writes nothing."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Validate a single run's config."""
        _exit_on_bad_config(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Validate the sweep's base config and every value it sweeps, before any job folder exists."""
        _exit_on_bad_config(config)
        problems = bad_sweep_values(config)
        if problems:
            print("nwsim: invalid sweep:\n" + "\n".join(problems), file=sys.stderr)
            sys.exit(EXIT_BAD_CONFIG)


def pool_size(config: Config) -> int:
    """Processes for one job: ``jobs`` if set; else 1 under a launcher that runs jobs side by side; else all cores."""
    if config.jobs:
        return config.jobs
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN:
        launcher = str(hydra_cfg.launcher.get("_target_", ""))
        if launcher.rsplit(".", 1)[-1] in PARALLEL_LAUNCHERS:
            return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _run(cfg: DictConfig) -> None:
    # Imported here, so a bad config fails fast.
    from sim.jobs import job_done, job_key, mark_done
    from sim.plots import save_figures
    from sim.report import write_business_case
    from sim.runner import console_table, run_experiment, run_teams, save_results

    started = time.perf_counter()
    config = _exit_on_bad_config(cfg)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    key = job_key(model_dict(cfg))
    if config.resume and job_done(out_dir, key):
        print(f"Already done with the same config and code, skipped: {out_dir}")
        return
    simulating = time.perf_counter()
    if config.sensitivity is not None:
        from sim.sensitivity import run_chunk

        written = run_chunk(config, out_dir, jobs=pool_size(config))
        now = time.perf_counter()
        print(f"Sensitivity chunk {config.sensitivity.chunk} of {config.sensitivity.chunks} in {out_dir}")
        mark_done(out_dir, key, written, {"seconds": now - started, "simulate_seconds": now - simulating})
        return
    if config.teams is not None:
        results, written = run_teams(config, out_dir, jobs=pool_size(config))
        simulated = time.perf_counter()
    else:
        results = run_experiment(config, jobs=pool_size(config))
        simulated = time.perf_counter()
        written = save_results(results, out_dir)
        if config.figures:
            written += save_figures(results, out_dir, cfg=config)
        if results.comparison is not None:
            written += write_business_case(results, config, out_dir, page=config.figures)
    print(console_table(results))
    print(f"\nResults in {out_dir}")
    now = time.perf_counter()
    mark_done(out_dir, key, written, {"seconds": now - started, "simulate_seconds": simulated - simulating})


def main() -> None:
    """Console script ``nwsim``: ``uv run nwsim [key=value ...]``, ``-m`` to sweep, ``experiment=NAME``."""
    os.environ[LAUNCH_DIR_VARIABLE] = os.getcwd()  # inherited by launcher workers, whatever their folder
    problems = unknown_override_keys(sys.argv[1:])
    if problems:
        print("nwsim: invalid config:\n" + "\n".join(problems), file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    _run()


if __name__ == "__main__":
    main()
