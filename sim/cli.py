"""``nwsim``: the Hydra entry point. Validates the config, runs every arm x replicate, writes the tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from sim.params import Config, ConfigError, section_keys, validate

#: The project's config folder. Hydra resolves a relative config_path against this module, not the
#: current directory, so the console script points at the repository's ``conf/`` explicitly; users add
#: their own folders with ``--config-dir`` or ``hydra.searchpath``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: Keys of the composed config that belong to Hydra's composition, not to the model.
NON_MODEL_KEYS = ("hydra", "experiment")
EXIT_BAD_CONFIG = 2


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
        """Validate the sweep's base config (each job's own values are checked again when it starts)."""
        _exit_on_bad_config(config)


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
        keys = section_keys(parts[:-1])
        if keys is None:
            problems.append(f"  {key} = {value!r}: unknown key ('{'.'.join(parts[:-1])}' is not a config section)")
        elif parts[-1] not in keys:
            where = ".".join(parts[:-1]) or "the top level"
            problems.append(f"  {key} = {value!r}: unknown key (allowed in {where}: {', '.join(keys)})")
    return problems


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _run(cfg: DictConfig) -> None:
    from sim.plots import save_figures  # imported here so a bad config fails fast
    from sim.runner import console_table, run_experiment, save_results

    config = _exit_on_bad_config(cfg)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    results = run_experiment(config)
    save_results(results, out_dir)
    save_figures(results, out_dir)
    print(console_table(results))
    print(f"\nResults in {out_dir}")


def main() -> None:
    """Console script ``nwsim``: ``uv run nwsim [key=value ...]``, ``-m`` to sweep, ``experiment=NAME``."""
    problems = unknown_override_keys(sys.argv[1:])
    if problems:
        print("nwsim: invalid config:\n" + "\n".join(problems), file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    _run()


if __name__ == "__main__":
    main()
