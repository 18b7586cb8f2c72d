"""Config composition, shared by every command, notebook, test and the interactive page.

Where the config lives (``CONF_DIR``), the resolvers ``conf/config.yaml`` uses, turning a composed
Hydra config into a validated ``Config`` (``load_config``, ``validate_config``), plain messages for bad
command-line overrides and swept values, and ``compose`` for composing through Hydra's compose API
outside a Hydra run. Depends on ``sim.params`` (the config models) and ``sim.staffing`` (the registry
of staffing systems the arms must name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from sim.params import Config, ConfigError, in_free_form, section_keys, validate
from sim.staffing import SYSTEMS

#: The project's config folder. Hydra resolves a relative config_path against the calling module, not the
#: current directory, so the console script points at the repository's ``conf/`` explicitly; users add
#: their own folders with ``--config-dir`` or ``hydra.searchpath``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: Keys of the composed config that belong to Hydra's composition, not to the model.
NON_MODEL_KEYS = ("hydra", "experiment")
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


def validate_config(raw: dict) -> Config:
    """Validate a plain config dict, and check its arms against the registry of staffing systems.

    Args:
        raw: the model's config as a plain dict (see ``model_dict``).

    Returns:
        The validated config.

    Raises:
        ConfigError: listing every problem in plain words, all at once: those of ``sim.params.validate``,
            then each arm that is not a registered staffing system and a baseline that is not one of the
            arms (when more than one arm runs).
    """
    problems = _system_problems(raw.get("arms"), raw.get("baseline"))
    try:
        cfg = validate(raw)
    except ConfigError as exc:
        if not problems:
            raise
        raise ConfigError("\n".join([str(exc), *problems])) from None
    if problems:
        raise ConfigError("invalid config:\n" + "\n".join(problems))
    return cfg


def _system_problems(arms: object, baseline: object) -> list[str]:
    """Plain messages for arms that are not registered staffing systems and a baseline that is not an arm.

    Values of the wrong type are left to ``sim.params.validate``, which reports them.
    """
    if not isinstance(arms, list) or not all(isinstance(arm, str) for arm in arms):
        return []
    problems = [
        f"  arms = {arms!r}: unknown staffing system {arm!r} (allowed: the registered systems {', '.join(SYSTEMS)})"
        for arm in arms
        if arm not in SYSTEMS
    ]
    if len(set(arms)) != len(arms):
        problems.append(f"  arms = {arms!r}: each arm may appear once (allowed: a list of distinct registered systems)")
    if len(arms) > 1 and isinstance(baseline, str) and baseline not in arms:
        problems.append(f"  baseline = {baseline!r}: must be one of the arms (allowed: {', '.join(arms)})")
    return problems


def load_config(cfg: DictConfig) -> Config:
    """Validate a composed Hydra config; raise ConfigError listing every problem."""
    return validate_config(model_dict(cfg))


def compose(overrides: list[str], config_dir: Path = CONF_DIR) -> Config:
    """The validated config for ``overrides`` (Hydra syntax), composed as ``uv run nwsim overrides`` does.

    For notebooks, tests and pages, outside a Hydra run (Hydra allows one initialisation at a time).

    Args:
        overrides: Hydra overrides, e.g. ``["team.people=300", "arms=[named]"]``.
        config_dir: the config folder holding ``config.yaml`` (the project's ``conf/`` by default).

    Raises:
        ConfigError: the composed config fails validation.
    """
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        return load_config(hydra_compose("config", overrides=list(overrides)))


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
                validate_config(model_dict(trial))
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
