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
from omegaconf import DictConfig, OmegaConf

from sim.params import Config, ConfigError, in_free_form, section_keys, validate

#: The project's config folder. Hydra resolves a relative config_path against this module, not the
#: current directory, so the console script points at the repository's ``conf/`` explicitly; users add
#: their own folders with ``--config-dir`` or ``hydra.searchpath``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: Keys of the composed config that belong to Hydra's composition, not to the model.
NON_MODEL_KEYS = ("hydra", "experiment")
EXIT_BAD_CONFIG = 2
#: Launchers that already run several jobs at once: each job then simulates in one process.
PARALLEL_LAUNCHERS = ("JoblibLauncher", "RayLauncher", "RayAWSLauncher", "LocalLauncher")
#: Folder the command was started in. Output folders in conf/config.yaml hang from it, so results land
#: in the same place whatever working directory a launcher gives its workers (Ray, SLURM).
LAUNCH_DIR_VARIABLE = "NWSIM_LAUNCH_DIR"


def _launch_dir() -> str:
    return os.environ.get(LAUNCH_DIR_VARIABLE) or os.getcwd()


def _swept_dirname(task_overrides: list[str], sweeper_params: dict | None) -> str:
    """A job folder name from the overrides the sweeper varies (all task overrides when it varies none)."""
    swept = set(sweeper_params or {})
    chosen = [o for o in task_overrides if o.split("=", 1)[0].lstrip("+~") in swept] or list(task_overrides)
    return ",".join(chosen).replace("/", "_") or "default"


OmegaConf.register_new_resolver("nwsim.launch_dir", _launch_dir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("nwsim.swept_dirname", _swept_dirname, replace=True)


def model_dict(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as a plain dict without Hydra's own keys."""
    keep = [key for key in cfg if key not in NON_MODEL_KEYS]
    raw = OmegaConf.to_container(OmegaConf.masked_copy(cfg, keep), resolve=True)
    assert isinstance(raw, dict)
    return raw


def load_config(cfg: DictConfig) -> Config:
    """Validate a composed Hydra config; raise ConfigError listing every problem."""
    return validate(model_dict(cfg))


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


def bad_sweep_values(config: DictConfig) -> list[str]:
    """Plain messages for swept values (command line or ``hydra.sweeper.params``) that fail validation.

    Each value is checked on its own against the base config, which catches a bad value in any job
    without composing every combination (each job still validates its own whole config).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    texts = list(config.hydra.overrides.task)
    params = config.hydra.sweeper.get("params") or {}
    texts += [f"{key}={value}" for key, value in params.items()]
    base = OmegaConf.masked_copy(config, [key for key in config if key not in NON_MODEL_KEYS])
    problems = []
    for override in OverridesParser.create().parse_overrides(texts):
        if not override.is_sweep_override() or override.get_key_element().startswith("hydra"):
            continue
        key = override.get_key_element().lstrip("+~")
        for value in override.sweep_iterator():
            trial = base.copy()
            OmegaConf.update(trial, key, value, force_add=True)
            try:
                validate(model_dict(trial))
            except ConfigError as exc:
                problems += [line for line in str(exc).splitlines()[1:] if line.strip().startswith(key)]
            except Exception as exc:  # a value OmegaConf cannot even place (say, a list into a number)
                problems.append(f"  {key} = {value!r}: {exc}")
    return problems


def unknown_override_keys(args: list[str]) -> list[str]:
    """Plain messages for command-line overrides whose key is not a config key (Hydra's own error is terse)."""
    problems = []
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if key.startswith("hydra") or "/" in key or key in NON_MODEL_KEYS:
            continue
        parts = tuple(key.split("."))
        if in_free_form(parts[:-1]):
            continue  # keys inside a mapping (a cost line's payer, a sensitivity factor) are checked by validation
        keys = section_keys(parts[:-1])
        if keys is None:
            problems.append(f"  {key} = {value!r}: unknown key ('{'.'.join(parts[:-1])}' is not a config section)")
        elif parts[-1] not in keys:
            where = ".".join(parts[:-1]) or "the top level"
            problems.append(f"  {key} = {value!r}: unknown key (allowed in {where}: {', '.join(keys)})")
    return problems


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
    from sim.plots import save_figures  # imported here so a bad config fails fast
    from sim.report import write_business_case
    from sim.runner import console_table, run_experiment, run_teams, save_results
    from sim.sweep import job_done, job_key, mark_done

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
            written += save_figures(results, out_dir)
        if results.comparison is not None:
            written += write_business_case(results, config, out_dir, page=config.figures)
    print(console_table(results))
    print(f"\nResults in {out_dir}")
    now = time.perf_counter()
    mark_done(out_dir, key, written, {"seconds": now - started, "simulate_seconds": simulated - simulating})


def run_nwsim(args: list[str]) -> None:
    """Run ``nwsim args`` in a child process, as a user would; exit with its code if it fails.

    The commands that drive experiments (``nwsim-validate``, ``nwsim-ablation``, ``nwsim-sensitivity``)
    use it so each experiment runs exactly as ``uv run nwsim experiment=NAME`` does: validated first,
    resumable, through any Hydra launcher given among ``args``.
    """
    import subprocess

    print("$ nwsim " + " ".join(args), file=sys.stderr, flush=True)
    code = subprocess.call([sys.executable, "-c", "from sim.cli import main; main()", *args])
    if code:
        sys.exit(code)


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
