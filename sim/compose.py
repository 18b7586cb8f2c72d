"""Config composition, shared by every command, notebook, test and the interactive page.

Where the config lives (``CONF_DIR``), the resolvers ``conf/config.yaml`` uses (job folders named by their
overrides), turning a composed Hydra config into a validated ``Config`` (``load_config``, ``validate_config``),
the one checker of a command line (``check_command``, and ``check_jobs`` for every job of a sweep) that runs
before anything is written, plain messages for unknown keys, and ``compose`` for composing through Hydra's
compose API outside a Hydra run. Depends on ``sim.params`` (the config models), ``sim.staffing`` (the registry
of staffing systems the arms must name) and ``sim.jobs`` (which overrides identify a job).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sim.jobs import JOB_FILE, NOT_SWEPT, job_identity, override_key
from sim.params import Config, ConfigError, in_free_form, section_keys, validate
from sim.staffing import SYSTEMS

#: The project's config folder. Hydra resolves a relative config_path against the calling module, not the
#: current directory, so the console script points at the repository's ``conf/`` explicitly; users add
#: their own folders with ``--config-dir`` or ``hydra.searchpath``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: Keys of the composed config that belong to Hydra's composition, not to the model.
NON_MODEL_KEYS = ("hydra", "experiment")
#: Config groups (folders of conf/): ``group=name`` picks a file, so it is no key of the model's config.
CONFIG_GROUPS = frozenset(path.name for path in CONF_DIR.iterdir() if path.is_dir())
#: Folder the command was started in. Output folders in conf/config.yaml hang from it, so results land
#: in the same place whatever working directory a launcher gives its workers (Ray, SLURM).
LAUNCH_DIR_VARIABLE = "NWSIM_LAUNCH_DIR"


def _launch_dir() -> str:
    return os.environ.get(LAUNCH_DIR_VARIABLE) or os.getcwd()


def job_dirname(task_overrides: list[str], sweeper_params: dict | None = None) -> str:
    """A job's folder name, made of its overrides, so jobs with other values never share a folder.

    The keys the sweeper varies (``hydra.sweeper.params``, in their order) come first, then every other override
    sorted, without those that say how a job runs (``jobs``, ``resume``), the experiment (named by the sweep
    folder) and Hydra's own keys. A name longer than ``MAX_DIRNAME_BYTES`` is cut and ends in a digest of the
    whole name, so it stays unique.

    Args:
        task_overrides: the job's overrides (``hydra.overrides.task``).
        sweeper_params: the sweeper's params (``hydra.sweeper.params``), or None.
    """
    chosen = [o for o in job_identity(task_overrides) if override_key(o) not in NOT_SWEPT]
    swept = list(sweeper_params or {})
    first = [o for key in swept for o in chosen if override_key(o) == key]
    name = ",".join(first + sorted(o for o in chosen if o not in first)).replace("/", "_") or "default"
    if name.startswith("."):
        name = "_" + name[1:]
    encoded = name.encode()
    if len(encoded) > MAX_DIRNAME_BYTES:
        digest = hashlib.sha256(encoded).hexdigest()[:12]
        name = encoded[: MAX_DIRNAME_BYTES - 16].decode(errors="ignore") + "..." + digest
    return name


OmegaConf.register_new_resolver("nwsim.launch_dir", _launch_dir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("nwsim.job_dirname", job_dirname, replace=True)
# Its earlier name, which configs of users' own may still use.
OmegaConf.register_new_resolver("nwsim.swept_dirname", job_dirname, replace=True)


def model_dict(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as a plain dict (interpolations resolved) without Hydra's own keys."""
    raw: dict[str, Any] = {}
    for key in cfg:
        if key in NON_MODEL_KEYS:
            continue
        value = cfg[key]  # resolves an interpolation; a section stays a config, resolved next
        raw[str(key)] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
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


# Checking a command before it runs -------------------------------------------------------------

#: Exit code for bad input: a value, a key, an override or a config file (the user's to fix).
EXIT_BAD_INPUT = 2
#: Exit code for a file or folder problem: a folder that cannot be made, results that cannot be read or trusted.
EXIT_FILE_PROBLEM = 1
#: Sweeps of up to this many jobs have every job's whole config checked before anything is written; larger ones
#: have each value and each pair of values checked (see ``check_jobs``).
MAX_JOBS_CHECKED = 2000
#: Longest job folder name (bytes); longer names are cut and end in a digest of the whole name.
MAX_DIRNAME_BYTES = 200
#: Problems listed before the rest are counted.
_SHOWN = 12


class CommandError(Exception):
    """A user error found before anything runs or is written: a plain message and the exit code to end with."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PlannedJob:
    """One checked job: its overrides, its resolved model config and its folder (relative to the sweep folder).

    ``config`` and ``subdir`` are None for the jobs of a sweep too large to compose one by one.
    """

    overrides: tuple[str, ...]
    config: dict[str, Any] | None
    subdir: str | None


@dataclass(frozen=True)
class Plan:
    """A checked ``nwsim`` command: a single run or a sweep, its folder, and its jobs."""

    multirun: bool
    folder: Path
    jobs: tuple[PlannedJob, ...]
    #: ``hydra.mode`` as composed (None where no file sets it): what Hydra's own ``get_mode`` would read.
    hydra_mode: RunMode | None = None


def check_command(args: list[str]) -> Plan | None:
    """Check an ``nwsim`` command line before Hydra runs it; nothing is written.

    Composes the config exactly as Hydra will (the search path with ``--config-dir``, ``--config-name``,
    experiments and every override), expands a sweep into its jobs as Hydra's basic sweeper does, checks every
    job's whole config (``check_jobs``: values, section-level and cross-field rules, the registry of staffing
    systems) and checks that the run or sweep folder and every job folder can be made.

    Args:
        args: the command line after the program name.

    Returns:
        The plan of the run or sweep, or None for a command that Hydra answers without running (``--help``,
        ``--cfg``, ``--info``, shell completion).

    Raises:
        CommandError: every problem found, in plain words, with the exit code (``EXIT_BAD_INPUT`` for bad input,
            ``EXIT_FILE_PROBLEM`` for a folder that cannot be made or holds another job's results).
    """
    from hydra._internal.utils import get_args_parser

    parsed = get_args_parser().parse_args(args)
    if (
        parsed.help
        or parsed.hydra_help
        or parsed.cfg
        or parsed.info
        or parsed.shell_completion
        or parsed.experimental_rerun
    ):
        return None
    if parsed.run and parsed.multirun:
        raise CommandError("give either --run or --multirun (-m), not both")
    with _hydra(parsed.config_dir, parsed.config_path) as hydra:
        config_name = parsed.config_name or "config"
        overrides = list(parsed.overrides)
        try:
            master = hydra.compose_config(
                config_name=config_name,
                overrides=overrides,
                with_log_configuration=False,
                run_mode=RunMode.MULTIRUN,
                validate_sweep_overrides=False,
            )
        except Exception as exc:
            raise CommandError(_plain(exc)) from None
        mode = master.hydra.mode
        if mode is None or (parsed.multirun and mode == RunMode.RUN):
            mode = RunMode.MULTIRUN if parsed.multirun else RunMode.RUN
        _check_sweep_syntax(hydra.config_loader, master, mode)
        if mode == RunMode.RUN:
            problems = _job_problems(master)
            if problems:
                raise CommandError("invalid config:\n" + "\n".join(problems))
            folder = Path(_resolved(master, "hydra.run.dir"))
            jobs: tuple[PlannedJob, ...] = (PlannedJob(tuple(override_texts(master)), model_dict(master), ""),)
        else:
            folder = Path(_resolved(master, "hydra.sweep.dir"))
            jobs = tuple(check_jobs(hydra.config_loader, master))
    _check_folders(folder, jobs, mode == RunMode.MULTIRUN)
    return Plan(mode == RunMode.MULTIRUN, folder, jobs, master.hydra.mode)


def override_texts(cfg: DictConfig, kind: str = "task") -> list[str]:
    """The command-line overrides of a composed config as typed (``hydra.overrides.task`` or ``.hydra``).

    Read without resolving, so an override holding an interpolation (``team.people='${oops}'``) is text here.
    """
    texts = OmegaConf.to_container(cfg.hydra.overrides[kind], resolve=False)
    return [str(text) for text in texts] if isinstance(texts, list) else []


@contextmanager
def _hydra(config_dir: str | None, config_path: str | None) -> Iterator[Any]:
    """A Hydra instance with the search path ``nwsim`` uses, cleared again afterwards."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    path = CONF_DIR if config_path is None else Path(__file__).resolve().parent / config_path
    if not path.is_dir():
        raise CommandError(f"--config-path {config_path}: no such folder ({path})")
    search_path = create_automatic_config_search_path(None, None, str(path.resolve()))
    if config_dir is not None:
        extra = Path(config_dir).resolve()
        if not extra.is_dir():
            raise CommandError(f"--config-dir {config_dir}: no such folder ({extra})")
        search_path.prepend(provider="command-line", path=f"file://{extra}", anchor=SearchPathQuery(provider="schema"))
    if GlobalHydra.instance().is_initialized():
        raise RuntimeError("check_command must run outside a Hydra run")
    try:
        yield Hydra.create_main_hydra2(task_name="cli", config_search_path=search_path)
    finally:
        GlobalHydra.instance().clear()


def _check_sweep_syntax(config_loader: Any, master: DictConfig, mode: RunMode) -> None:
    """Hydra's own rules for sweep overrides (none in a single run, none of Hydra's keys), as plain messages."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=config_loader)
    parsed = parser.parse_overrides(override_texts(master, "task") + override_texts(master, "hydra"))
    if mode == RunMode.RUN:
        swept = [o.input_line for o in parsed if o.is_sweep_override()]
        if swept:
            raise CommandError(
                f"{', '.join(swept)}: several values need a sweep (add -m); for a list write key=[a,b], "
                "for text with a comma quote it: key='a,b'"
            )
    try:
        ConfigLoaderImpl.validate_sweep_overrides_legal(overrides=parsed, run_mode=mode, from_shell=True)
    except Exception as exc:
        raise CommandError(_plain(exc)) from None


def check_jobs(config_loader: Any, master: DictConfig) -> list[PlannedJob]:
    """Every job of a sweep, each with its whole config checked, before any job starts; nothing is written.

    The jobs are those Hydra's basic sweeper will launch: the product of the swept values of the command line
    and of ``hydra.sweeper.params``. Each job's config is composed as the launcher will compose it (config groups
    through Hydra, once per distinct choice of groups; values applied on top) and validated whole, so a bad value
    of any key, a section-level rule (``team.need_mix`` adding up to 1) and a cross-field rule (``arms`` and
    ``baseline``, sensitivity ranges) are all caught, in every combination, before the first job starts.

    A sweep of more than ``MAX_JOBS_CHECKED`` jobs is not composed job by job (at about 50 ms a job, that check
    would take longer than many jobs): then each swept value is checked with the other keys at their first value,
    and every pair of values of two swept keys likewise (when the pairs number at most ``MAX_JOBS_CHECKED``),
    which catches every error that involves one or two swept keys. An error that needs three swept keys at once is
    then caught by that job's own check at its start (the job writes nothing and the sweep stops there). A sweeper
    other than Hydra's basic one chooses its jobs as it goes: its swept values are checked one by one.

    Args:
        config_loader: Hydra's config loader of the running command (``GlobalHydra.instance().config_loader()``).
        master: the composed config of the sweep (Hydra's multirun config).

    Returns:
        The jobs in launch order (empty when the sweeper is not the basic one).

    Raises:
        CommandError: every job that fails, with its overrides and each bad key, its value and what is allowed.
    """
    options = _swept_options(config_loader, master)
    basic = str(master.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper")
    counts = [len(values) for values in options.values()]
    total = math.prod(counts)
    every = [list(combo) for combo in itertools.product(*options.values())] if total <= 100 * MAX_JOBS_CHECKED else []
    trials = every if basic and total <= MAX_JOBS_CHECKED else _representative(options)
    planned, failures = _check_each(config_loader, master, trials)
    if failures:
        failed = [_in_job(trials[index], problems) for index, problems in failures.items()]
        more = f"\n  ... and {len(failed) - _SHOWN} more jobs" if len(failed) > _SHOWN else ""
        raise CommandError("invalid sweep:\n" + "\n".join(failed[:_SHOWN]) + more)
    if not basic:
        return []
    if trials is every:
        return planned
    return [PlannedJob(tuple(texts), None, None) for texts in every]


def _check_each(
    config_loader: Any, master: DictConfig, trials: list[list[str]]
) -> tuple[list[PlannedJob], dict[int, list[str]]]:
    """Compose and validate each override set as a job of ``master``'s sweep: the valid jobs and each one's problems."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=config_loader)
    try:  # overrides the master config already holds: every job shares them
        shared = parser.parse_overrides(override_texts(master))
        fixed = {o.get_key_element() for o in shared if not o.is_sweep_override()}
    except Exception as exc:
        raise CommandError(_plain(exc)) from None
    bases: dict[tuple[str, ...], DictConfig] = {}
    planned: list[PlannedJob] = []
    failures: dict[int, list[str]] = {}
    for index, texts in enumerate(trials):
        try:
            cfg = _job_config(config_loader, parser, master, texts, index, bases, fixed)
        except CommandError as exc:
            failures[index] = [f"  {line}" for line in str(exc).splitlines()]
            continue
        problems = _job_problems(cfg)
        if problems:
            failures[index] = problems
            continue
        try:
            subdir = _resolved(cfg, "hydra.sweep.subdir")
        except CommandError as exc:
            failures[index] = [f"  hydra.sweep.subdir: {exc}"]
            continue
        planned.append(PlannedJob(tuple(texts), model_dict(cfg), subdir))
    return planned, failures


def check_override_sets(override_sets: list[list[str]], config_dir: Path = CONF_DIR) -> list[list[str]]:
    """Check many override sets at once, each as ``nwsim`` checks one job; nothing is written.

    For notebooks and tests that try many configs: config groups are composed through Hydra once per distinct
    choice of groups, values are applied on top, and each whole config is validated, as ``check_jobs`` does for
    the jobs of a sweep.

    Args:
        override_sets: each a list of Hydra overrides, e.g. ``[["team.people=5"], ["arms=[duty,bogus]"]]``.
        config_dir: the config folder holding ``config.yaml`` (the project's ``conf/`` by default).

    Returns:
        For each set, the plain messages of its problems (empty when its config is valid).
    """
    with _hydra(None, str(Path(config_dir).resolve())) as hydra:
        try:
            master = hydra.compose_config(
                config_name="config", overrides=[], with_log_configuration=False, run_mode=RunMode.MULTIRUN
            )
        except Exception as exc:
            raise CommandError(_plain(exc)) from None
        _, failures = _check_each(hydra.config_loader, master, [list(texts) for texts in override_sets])
    return [failures.get(index, []) for index in range(len(override_sets))]


def _swept_options(config_loader: Any, master: DictConfig) -> dict[str, list[str]]:
    """Each overridden key's values as override texts, as Hydra's basic sweeper lists them (sweeper params first)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = master.hydra.sweeper.get("params") or {}
    texts = [f"{key}={value}" for key, value in params.items()] + override_texts(master)
    try:
        parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(texts)
    except Exception as exc:
        raise CommandError(_plain(exc)) from None
    options: dict[str, list[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if not override.is_sweep_override():
            options[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif override.is_discrete_sweep():
            try:
                options[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
            except Exception as exc:
                raise CommandError(f"{override.input_line}: {_plain(exc)}") from None
        else:
            raise CommandError(
                f"{override.input_line}: a range to search ({override.value_type.name.lower().replace('_', ' ')}) "
                "needs an optimising sweeper; list the values to run instead: key=a,b,c, key=range(start,stop,step) "
                "or key=choice(a,b)"
            )
    return options


def _representative(options: dict[str, list[str]]) -> list[list[str]]:
    """Jobs covering every swept value and, if not too many, every pair of values of two swept keys."""
    first = {key: values[0] for key, values in options.items()}
    swept = [key for key, values in options.items() if len(values) > 1]
    chosen: dict[tuple[str, ...], None] = {tuple(first.values()): None}
    for key in swept:
        for value in options[key]:
            chosen[tuple({**first, key: value}.values())] = None
    pairs = sum(len(options[a]) * len(options[b]) for a, b in itertools.combinations(swept, 2))
    if pairs <= MAX_JOBS_CHECKED:
        for a, b in itertools.combinations(swept, 2):
            for value_a, value_b in itertools.product(options[a], options[b]):
                chosen[tuple({**first, a: value_a, b: value_b}.values())] = None
    return [list(combo) for combo in chosen]


def _job_config(
    config_loader: Any,
    parser: Any,
    master: DictConfig,
    texts: list[str],
    index: int,
    bases: dict[tuple[str, ...], DictConfig],
    fixed: set[str],
    load: Callable[[DictConfig, list[str]], DictConfig] | None = None,
) -> DictConfig:
    """One job's config as the launcher composes it: groups composed by Hydra (cached), values applied on top.

    A job that chooses no config group of its own starts from the sweep's master config, which already holds
    the overrides every job shares (``fixed``), and only its own values are applied: no composition at all.
    ``load`` composes a choice of groups (Hydra's ``load_sweep_config`` of ``config_loader`` by default).
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname

    try:
        parsed = parser.parse_overrides(list(texts))
        groups = tuple(
            o.input_line
            for o in parsed
            if config_loader.repository.group_exists(o.key_or_group) and not isinstance(o.value(), dict)
        )
        if all(o.get_key_element() in fixed for o in parsed if o.input_line in groups):
            cfg = master.copy()
            values = [o for o in parsed if o.get_key_element() not in fixed]
        else:
            if groups not in bases:
                bases[groups] = (load or config_loader.load_sweep_config)(master, list(groups))
            cfg = bases[groups].copy()
            values = [o for o in parsed if o.input_line not in groups]
        with read_write(cfg), open_dict(cfg):
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
            cfg.hydra.overrides.task = list(texts)
            cfg.hydra.job.id = index
            cfg.hydra.job.num = index
            dirname = cfg.hydra.job.config.override_dirname
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=[o for o in parsed if not o.is_hydra_override()],
                kv_sep=dirname.kv_sep,
                item_sep=dirname.item_sep,
                exclude_keys=dirname.exclude_keys,
            )
    except Exception as exc:
        raise CommandError(_plain(exc)) from None
    return cfg


def sweep_job_config(
    config_loader: Any,
    master: DictConfig,
    overrides: list[str],
    bases: dict[tuple[str, ...], DictConfig],
    load: Callable[[DictConfig, list[str]], DictConfig],
) -> DictConfig:
    """A sweep job's config as Hydra's ``load_sweep_config`` composes it, built as the check builds it.

    The master config copied (or, for a job choosing config groups of its own, those groups composed once by
    ``load`` and kept in ``bases``) with the job's values applied, and the master's cache of resolved values
    copied as Hydra does, so timestamps agree. The same config as Hydra's (a test compares them, sweep by
    sweep), without composing every file again for every job (about half a second each).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=config_loader)
    shared = parser.parse_overrides(override_texts(master))
    fixed = {o.get_key_element() for o in shared if not o.is_sweep_override()}
    cfg = _job_config(config_loader, parser, master, list(overrides), 0, bases, fixed, load)
    OmegaConf.copy_cache(from_config=master, to_config=cfg)
    return cfg


def _job_problems(cfg: DictConfig) -> list[str]:
    """Plain messages for everything wrong with one job's composed config (empty when it is valid)."""
    try:
        raw = model_dict(cfg)
    except Exception as exc:  # an interpolation that does not resolve, a missing value (???)
        return [f"  {_plain(exc)}"]
    try:
        validate_config(raw)
    except ConfigError as exc:
        return [line for line in str(exc).splitlines()[1:] if line.strip()]
    return []


def _in_job(texts: list[str], problems: list[str]) -> str:
    shown = " ".join(job_identity(texts)) or "(the defaults)"
    return f"  in the job {shown}:\n" + "\n".join(f"  {line}" for line in problems)


def _resolved(cfg: DictConfig, key: str) -> str:
    """A resolved config value as text (Hydra's output folders), or a CommandError saying why it is not."""
    try:
        value = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except Exception as exc:
        raise CommandError(f"{key}: {_plain(exc)}") from None
    if value is None or str(value) == "":
        raise CommandError(f"{key} is empty: it must name a folder")
    return str(value)


def _check_folders(folder: Path, jobs: tuple[PlannedJob, ...], multirun: bool) -> None:
    """Check that the run or sweep folder and each job folder can be made, and hold no other job's results."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    problem = folder_problem(folder)
    if problem:
        raise CommandError(f"{key}={folder}: {problem}", EXIT_FILE_PROBLEM)
    if not multirun:
        return
    problems = []
    probed: dict[Path, str | None] = {}
    for job in jobs:
        if job.subdir is None:
            continue
        path = folder / job.subdir
        if path not in probed:
            probed[path] = folder_problem(path)
        if probed[path]:
            problems.append(f"  {path}: {probed[path]}")
            continue
        other = _other_job(path, job.overrides)
        if other is not None:
            problems.append(
                f"  {path} holds the results of another job ({' '.join(other) or 'the defaults'}), not of "
                f"{' '.join(job_identity(job.overrides)) or 'the defaults'}"
            )
    if problems:
        more = f"\n  ... and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise CommandError(
            "cannot run the sweep in its folder:\n"
            + "\n".join(problems[:_SHOWN])
            + more
            + "\nGive the sweep a folder of its own (hydra.sweep.dir=...), or move those folders away.",
            EXIT_FILE_PROBLEM,
        )


def _other_job(path: Path, overrides: tuple[str, ...]) -> list[str] | None:
    """The overrides of a finished job of another sweep in ``path`` (None if the folder is free or this job's)."""
    import json

    try:
        record = json.loads((path / JOB_FILE).read_text())
        theirs = record["overrides"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(theirs, list) or job_identity([str(t) for t in theirs]) == job_identity(overrides):
        return None
    return job_identity([str(t) for t in theirs])


def folder_problem(path: Path) -> str | None:
    """Why a folder cannot be made or written (None when it can); nothing is left behind by the check."""
    path = Path(path)
    if len(os.fsencode(path)) > 4000:
        return "the path is too long"
    too_long = [part for part in path.parts if len(os.fsencode(part)) > 255]
    if too_long:
        return f"the name {too_long[0][:60]}... is longer than 255 bytes"
    probe = path
    while not probe.exists():
        if probe.is_symlink():
            return f"{probe} is a broken link"
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(dir=probe, prefix=".nwsim-probe-"))
    except OSError as exc:
        return f"cannot write in {probe} ({exc.strerror or exc})"
    return None


def _plain(exc: BaseException) -> str:
    """A short message from a Hydra, OmegaConf or YAML exception (and its causes), without Hydra's advice."""
    from omegaconf.errors import OmegaConfBaseException

    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 3:
        if isinstance(seen, OmegaConfBaseException):
            text = str(getattr(seen, "msg", None) or seen).split("\n    full_key:")[0]
            key = getattr(seen, "full_key", None)
            text = f"{key}: {text}" if key and str(key) not in text else text
        else:
            text = str(seen)
        override = getattr(seen, "override", None)
        if isinstance(override, str) and override not in text:
            text = f"cannot read the override {override}: {text}"
        text = text.split("\nConfig search path:")[0].split("\nSee https://hydra.cc")[0].strip()
        if text and text != "None" and not any(text in part for part in parts):
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts) or type(exc).__name__


def unknown_override_keys(args: list[str]) -> list[str]:
    """Plain messages for command-line overrides whose key is not a config key (Hydra's own error is terse)."""
    problems = []
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if key.startswith("hydra") or "/" in key or key in NON_MODEL_KEYS or key in CONFIG_GROUPS:
            continue  # a group choice (team=..., service=...) is Hydra's to check: it names a file
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
