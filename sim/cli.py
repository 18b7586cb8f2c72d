"""``nwsim``: the Hydra entry point. Checks the command, runs every arm x replicate, writes the tables.

Before Hydra makes any folder, ``main`` checks the whole command (``sim.compose.check_command``: every job's
config, swept or not, and the folders), so bad input ends with a plain message and exit code 2 (1 for a folder
that cannot be made) and writes nothing. ``ValidateOnStart`` then holds the folder's lock for the run or sweep,
removes temporary files a killed run left there and, for a sweep, records its jobs (``sweep.json``). Ctrl-C and
SIGTERM stop the run cleanly (the pool's workers too): finished jobs stay finished, the running one is left
unmarked, and the message says how to resume.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.compose import (
    CONF_DIR,
    EXIT_BAD_INPUT,
    EXIT_FILE_PROBLEM,
    LAUNCH_DIR_VARIABLE,
    CommandError,
    Plan,
    check_command,
    check_jobs,
    load_config,
    model_dict,
    sweep_job_config,
    unknown_override_keys,
)
from sim.jobs import SWEEP_FILE, folder_lock, job_key, remove_temp_files, write_sweep_file
from sim.params import Config, ConfigError

#: Exit code for bad input (kept under its old name).
EXIT_BAD_CONFIG = EXIT_BAD_INPUT
#: Exit codes after Ctrl-C and SIGTERM, as a shell reports a process ended by them.
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: Launchers that already run several jobs at once: each job then simulates in one process.
PARALLEL_LAUNCHERS = ("JoblibLauncher", "RayLauncher", "RayAWSLauncher", "LocalLauncher")

#: The checked plan of the command being run (set by ``main`` before Hydra starts).
_PLAN: Plan | None = None
#: Locks held for the run or sweep, released when it ends (or by the system when the process ends).
_LOCKS = ExitStack()


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the run stops cleanly and says how to resume."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _exit_on_bad_config(cfg: DictConfig) -> Config:
    try:
        return load_config(cfg)
    except ConfigError as exc:
        print(f"nwsim: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:  # an interpolation that does not resolve, a missing value
        print(f"nwsim: invalid config: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _take_folder(folder: Path) -> None:
    """Hold ``folder``'s lock until the run or sweep ends (waiting for another nwsim there), then tidy it."""

    def waiting(lock: Path) -> None:
        print(
            f"nwsim: another nwsim is running in {folder}; waiting for it to finish (Ctrl-C to stop waiting)",
            file=sys.stderr,
            flush=True,
        )

    try:
        _LOCKS.enter_context(folder_lock(folder, on_wait=waiting))
        removed = remove_temp_files(folder)
    except OSError as exc:
        print(f"nwsim: cannot use the folder {folder}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(EXIT_FILE_PROBLEM)
    if removed:
        print(f"nwsim: removed {len(removed)} temporary files an interrupted run left in {folder}", file=sys.stderr)


class ValidateOnStart(Callback):
    """Check the config before Hydra creates any output folder, then hold the folder for this run or sweep."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Validate a single run's config, then lock and tidy its folder."""
        _exit_on_bad_config(config)
        _take_folder(Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check every job of the sweep, then lock and tidy the sweep folder and record the sweep's jobs in it."""
        from hydra.core.global_hydra import GlobalHydra

        _exit_on_bad_config(config)
        if _PLAN is not None and _PLAN.multirun:
            jobs = _PLAN.jobs
        else:  # Hydra started without ``main`` (another entry point): check the jobs here
            try:
                jobs = tuple(check_jobs(GlobalHydra.instance().config_loader(), config))
            except CommandError as exc:
                print(f"nwsim: {exc}", file=sys.stderr)
                sys.exit(exc.code)
        folder = Path(str(config.hydra.sweep.dir))
        _take_folder(folder)
        if jobs:
            entries = [
                {
                    "dir": job.subdir,
                    "overrides": list(job.overrides),
                    "key": job_key(job.config) if job.config is not None else None,
                }
                for job in jobs
            ]
            write_sweep_file(folder, entries, sys.argv[1:])
        else:  # a sweeper that picks its jobs as it goes: no list, so no earlier sweep's list either
            (folder / SWEEP_FILE).unlink(missing_ok=True)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Release the run folder."""
        _LOCKS.close()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Release the sweep folder."""
        _LOCKS.close()


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


def check(args: list[str]) -> Plan | None:
    """Check an ``nwsim`` command line as ``main`` does before Hydra starts; nothing is written.

    Args:
        args: the command line after the program name.

    Returns:
        The checked plan (None for a command Hydra answers without running, such as ``--help``).

    Raises:
        CommandError: unknown keys (with the keys allowed there), then every problem of every job, swept or not,
            and folders that cannot be made; its ``code`` is the exit code.
    """
    problems = unknown_override_keys(args)
    if problems:
        raise CommandError("invalid config:\n" + "\n".join(problems))
    return check_command(args)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _run(cfg: DictConfig) -> None:
    # Imported here, so a bad config fails fast.
    from sim.jobs import JOB_FILE, job_problem, mark_done, unmark
    from sim.report import write_business_case
    from sim.runner import alongside, console_table, run_experiment, run_teams, save_results

    started = time.perf_counter()
    config = _exit_on_bad_config(cfg)
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    model = model_dict(cfg)
    key = job_key(model)
    texts = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)
    record = {"overrides": [str(t) for t in texts] if isinstance(texts, list) else [], "config": model}
    if (out_dir / JOB_FILE).exists():
        problem = job_problem(out_dir, key) if config.resume else "resume=false"
        if problem is None:
            print(f"Already done with the same config and code, skipped: {out_dir}")
            return
        print(f"nwsim: recomputing {out_dir}: {problem}", file=sys.stderr)
        unmark(out_dir)  # until it finishes again, the folder holds no finished job
    simulating = time.perf_counter()
    if config.sensitivity is not None:
        from sim.sensitivity import run_chunk

        written = run_chunk(config, out_dir, jobs=pool_size(config))
        now = time.perf_counter()
        print(f"Sensitivity chunk {config.sensitivity.chunk} of {config.sensitivity.chunks} in {out_dir}")
        mark_done(out_dir, key, written, {"seconds": now - started, "simulate_seconds": now - simulating}, **record)
        return
    if config.teams is not None:
        results, written = run_teams(config, out_dir, jobs=pool_size(config))
        simulated = time.perf_counter()
    else:
        table = analysis = None
        if config.uncertainty.draws:  # the fixed-input runs and the draws, in one pool (validation: 2+ arms)
            from sim.uncertainty import analyse, run_uncertainty, write_tables

            results, table = run_uncertainty(config, jobs=pool_size(config))
        else:
            results = run_experiment(config, jobs=pool_size(config))
        simulated = time.perf_counter()
        written = save_results(results, out_dir)
        if table is not None:
            analysis = analyse(table, config)
            written += write_tables(analysis, out_dir)
            if config.uncertainty.chunks > 1:  # a chunk of a sweep: the sweep's end writes the report of them all
                now = time.perf_counter()
                print(f"Uncertainty chunk {config.uncertainty.chunk} of {config.uncertainty.chunks} in {out_dir}")
                mark_done(
                    out_dir, key, written, {"seconds": now - started, "simulate_seconds": now - simulating}, **record
                )
                return
        with ExitStack() as drawing:
            if config.figures:  # drawn in a second process while the report is written (both a second or more)
                from sim.plots import save_figures  # matplotlib loads only when figures are drawn

                figures = drawing.enter_context(alongside(pool_size(config), save_figures, results, out_dir, config))
            case: list[Path] = []
            if results.comparison is not None:
                case = write_business_case(results, config, out_dir, page=config.figures, uncertainty=analysis)
            written += (figures() if config.figures else []) + case
    print(console_table(results))
    print(f"\nResults in {out_dir}")
    now = time.perf_counter()
    timings = {"seconds": now - started, "simulate_seconds": simulated - simulating}
    mark_done(out_dir, key, written, timings, **record)


@contextmanager
def _checked_once(plan: Plan | None) -> Iterator[None]:
    """Hand Hydra what the check has worked out, rather than have it compose configs again for it.

    Hydra's ``get_mode`` composes the config (about half a second) only to read ``hydra.mode``; ``check_command``
    has just composed it with the same arguments, search path and run mode, and kept that value. In a sweep whose
    jobs the check composed one by one, Hydra's sweeper would compose every job once more only to see that it
    composes (``validate_batch_is_legal``), and its launcher once more to run it: the first is skipped for those
    jobs and the second builds each job's config as the check does (``sweep_job_config``: the master config with
    the job's values applied, the same config). A job the check did not compose one by one is left to Hydra.
    """
    if plan is None:  # a command Hydra answers without running (--help, --cfg): it asks for no mode
        yield
        return
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.hydra import Hydra
    from hydra.plugins.sweeper import Sweeper

    get_mode, validate = Hydra.get_mode, Sweeper.validate_batch_is_legal
    load = ConfigLoaderImpl.load_sweep_config
    checked = {job.overrides for job in plan.jobs if job.config is not None} if plan.multirun else set()
    bases: dict[tuple[str, ...], DictConfig] = {}  # each choice of config groups, composed once

    def validate_unchecked(self: Sweeper, batch: Any) -> None:
        validate(self, [overrides for overrides in batch if tuple(overrides) not in checked])

    def load_checked(self: ConfigLoaderImpl, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        if tuple(sweep_overrides) not in checked:
            return load(self, master_config, sweep_overrides)
        return sweep_job_config(self, master_config, sweep_overrides, bases, lambda m, o: load(self, m, o))

    Hydra.get_mode = lambda self, config_name, overrides: plan.hydra_mode  # type: ignore[method-assign]
    Sweeper.validate_batch_is_legal = validate_unchecked  # type: ignore[method-assign]
    ConfigLoaderImpl.load_sweep_config = load_checked  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.get_mode = get_mode  # type: ignore[method-assign]
        Sweeper.validate_batch_is_legal = validate  # type: ignore[method-assign]
        ConfigLoaderImpl.load_sweep_config = load  # type: ignore[method-assign]


def main() -> None:
    """Console script ``nwsim``: ``uv run nwsim [key=value ...]``, ``-m`` to sweep, ``experiment=NAME``."""
    global _PLAN
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        os.environ[LAUNCH_DIR_VARIABLE] = os.getcwd()  # inherited by launcher workers, whatever their folder
        try:
            _PLAN = check(sys.argv[1:])
        except CommandError as exc:
            print(f"nwsim: {exc}", file=sys.stderr)
            sys.exit(exc.code)
        with _checked_once(_PLAN):
            _run()
    except KeyboardInterrupt as exc:
        how = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        print(
            f"\nnwsim: stopped ({how.name}). Finished jobs are kept; the one that was running is not marked done "
            "and its temporary files are gone. Run the same command again to resume: finished jobs are skipped.",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED[how])
    finally:
        _LOCKS.close()


if __name__ == "__main__":
    main()
