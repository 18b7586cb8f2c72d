"""Job bookkeeping: atomic writes, job keys, verified results, sweep membership, locks, running ``nwsim`` as a child.

A job is *done* when its folder holds ``job.json`` (written last) with the key of its resolved config and of
the model's code, and every result file it lists still has the size and SHA-256 checksum recorded there. A
rerun of the same run or sweep skips done jobs and recomputes the rest, including a job whose files were cut
or edited since. Every reader of results (``nwsim-aggregate``, ``nwsim-report``, ``nwsim-validate``, the
sensitivity and ablation pages) checks the same record with ``verified_job`` and refuses what fails, naming
the file. ``job.json`` also holds the job's overrides and resolved config, so a reader never relies on
Hydra's ``.hydra/`` files, which a later run in the same folder rewrites.

A sweep writes ``sweep.json`` into its folder before its first job: the key and overrides of each of its
jobs. ``sweep_members`` gives the finished jobs of that sweep alone, so a folder that also holds jobs of an
earlier sweep never mixes them into a summary. One ``nwsim`` at a time works in a folder (``folder_lock``),
and temporary files that a killed process left behind are removed at the next start (``remove_temp_files``).

Every command that writes results or drives ``nwsim`` uses these helpers, so they sit below all of them (and
below ``sim.runner``, which writes its tables with ``write_atomic``). Depends on no other module of ``sim``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Record written last by a finished job.
JOB_FILE = "job.json"
#: The jobs of the sweep last started in a sweep folder.
SWEEP_FILE = "sweep.json"
#: Lock file that keeps two ``nwsim`` runs out of one folder.
LOCK_FILE = ".nwsim.lock"
#: Overrides that say how a job runs, not what it models: left out of the job key and the swept columns.
NOT_SWEPT = ("jobs", "resume", "experiment")
#: Overrides that say how a job runs: left out of its identity (which job it is), unlike the experiment.
RUN_KEYS = ("jobs", "resume")
#: Part of the name of every temporary file nwsim writes, so only its own are ever removed.
TEMP_MARK = ".nwsim-"
#: Version of the job.json layout (files with sizes and checksums, overrides and config).
RECORD_VERSION = 2
_CODE = Path(__file__).resolve().parent
_CHUNK = 1 << 20


class AggregationError(RuntimeError):
    """A sweep folder that cannot be summarised (no finished job, unreadable tables)."""


class ResultError(AggregationError):
    """A result that cannot be trusted: no job record, or a file that no longer matches it. Names the file."""

    def __init__(self, problem: str, advice: str = "rerun the command that made it to recompute the job") -> None:
        super().__init__(f"{problem}; {advice}" if advice else problem)
        self.problem = problem


# Atomic writes -------------------------------------------------------------------------------


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(temporary_path)`` and rename it into place, so no reader sees half a file.

    The temporary file (``.NAME.nwsim-*.tmp`` beside the target) is removed if writing fails or is interrupted;
    one left by a killed process is removed by ``remove_temp_files`` at the next start.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_file(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (``.NAME.nwsim-*.tmp``, a name only nwsim uses): its descriptor and path."""
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp")


def remove_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files (``.*.nwsim-*.tmp``) that interrupted writes left under ``folder``; return them.

    Call it only while holding ``folder_lock`` on the folder (or one above it), so no live writer is there.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.rglob(f".*{TEMP_MARK}*.tmp"):  # nwsim's own names only: other files stay
        try:
            if path.is_file():
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


# Locks ---------------------------------------------------------------------------------------


@contextmanager
def folder_lock(folder: Path, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
    """Hold the lock of ``folder`` (``.nwsim.lock`` in it): another holder makes this one wait.

    Args:
        folder: the run or sweep folder (made if missing).
        on_wait: called once with the lock file if another process holds it, before waiting for it.

    Raises:
        OSError: the folder or its lock file cannot be made.
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(folder / LOCK_FILE)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# Job records ---------------------------------------------------------------------------------


@functools.cache
def code_key() -> str:
    """Digest of the model's source files, so results of older code are never taken for new ones.

    Taken once per process (when the code is loaded), so a job is labelled with the code it runs even if the
    files change on disk while a long sweep runs.
    """
    digest = hashlib.sha256()
    for path in sorted(_CODE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def job_key(model_config: dict[str, Any]) -> str:
    """Key of a job: its resolved model config (without how it runs) and the model's code."""
    what = {k: v for k, v in model_config.items() if k not in NOT_SWEPT}
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16] + "-" + code_key()


def override_key(text: str) -> str:
    """The key of an override (``+team.people=5`` -> ``team.people``)."""
    return str(text).split("=", 1)[0].lstrip("+~")


def job_identity(overrides: list[str] | tuple[str, ...]) -> list[str]:
    """The overrides that say which job it is, sorted: all but how it runs (``RUN_KEYS``) and Hydra's own keys."""
    return sorted(
        str(o)
        for o in overrides
        if override_key(o) not in RUN_KEYS and not override_key(o).startswith(("hydra.", "hydra/"))
    )


def file_digest(path: Path) -> dict[str, Any]:
    """Size in bytes and SHA-256 checksum of a file, as ``job.json`` records them."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


def mark_done(
    out_dir: Path,
    key: str,
    files: list[Path],
    timings: dict[str, float],
    *,
    overrides: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Write ``job.json`` (atomically, last): the key, each file's size and checksum, overrides, config, timings.

    Args:
        out_dir: the job's folder.
        key: the job's key (``job_key``).
        files: the result files the job wrote (inside ``out_dir``).
        timings: seconds to record (``seconds``, ``simulate_seconds``).
        overrides: the job's command-line overrides (Hydra's task overrides), which readers use as its labels.
        config: the job's resolved model config, which readers use instead of ``.hydra/config.yaml``.
    """
    out_dir = Path(out_dir)
    record = {
        "version": RECORD_VERSION,
        "key": key,
        "code": key.rsplit("-", 1)[-1],
        "files": {str(Path(f).relative_to(out_dir)): file_digest(Path(f)) for f in sorted(files, key=lambda p: str(p))},
        "overrides": list(overrides or []),
        "config": config,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **{name: round(value, 3) for name, value in timings.items()},
    }
    write_atomic(out_dir / JOB_FILE, lambda p: p.write_text(json.dumps(record, indent=2, default=str) + "\n"))


def record_files(out_dir: Path, files: list[Path]) -> None:
    """Record rewritten files of a finished job (``nwsim-report`` rebuilding its business case) in its ``job.json``.

    Raises:
        ResultError: the folder holds no readable job record.
    """
    out_dir = Path(out_dir)
    record = read_record(out_dir)
    for path in files:
        record["files"][str(Path(path).relative_to(out_dir))] = file_digest(Path(path))
    write_atomic(out_dir / JOB_FILE, lambda p: p.write_text(json.dumps(record, indent=2, default=str) + "\n"))


def read_record(out_dir: Path) -> dict[str, Any]:
    """A job's ``job.json``, checked for form (not yet against its files).

    Raises:
        ResultError: no ``job.json``, or one that is not a job record of this version.
    """
    path = Path(out_dir) / JOB_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultError(f"{path} is missing: {out_dir} holds no finished job", "") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ResultError(f"{path} cannot be read as a job record ({exc})") from None
    files = record.get("files") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("key"), str)
        or not isinstance(files, dict)
        or not all(isinstance(v, dict) and {"bytes", "sha256"} <= set(v) for v in files.values())
    ):
        raise ResultError(f"{path} is not a job record with checksums (damaged, or written by an older version)")
    return record


def verified_job(out_dir: Path, names: list[str] | None = None) -> dict[str, Any]:
    """A finished job's record, after checking the files it lists against their recorded sizes and checksums.

    Args:
        out_dir: the job's folder.
        names: check only these of its files (each must be listed); default every file it lists.

    Raises:
        ResultError: no readable ``job.json``, or a file that is not listed, missing, cut or changed (named).
    """
    out_dir = Path(out_dir)
    record = read_record(out_dir)
    unlisted = [name for name in names or [] if name not in record["files"]]
    if unlisted:
        raise ResultError(f"{out_dir / JOB_FILE} does not list {', '.join(unlisted)}: the job did not write it", "")
    for name in names if names is not None else list(record["files"]):
        expected = record["files"][name]
        path = out_dir / name
        try:
            found = file_digest(path)
        except FileNotFoundError:
            raise ResultError(f"{path} is missing, though {out_dir / JOB_FILE} lists it") from None
        except OSError as exc:
            raise ResultError(f"{path} cannot be read ({exc})") from None
        if found != {"bytes": expected["bytes"], "sha256": expected["sha256"]}:
            how = (
                f"{found['bytes']} bytes, {expected['bytes']} when the job finished"
                if found["bytes"] != expected["bytes"]
                else "its checksum differs from the one recorded when the job finished"
            )
            raise ResultError(f"{path} does not match {JOB_FILE} ({how}): it was cut or changed after the job finished")
    return record


def job_problem(out_dir: Path, key: str) -> str | None:
    """Why ``out_dir`` does not hold a finished job with this key whose files all check out (None when it does)."""
    try:
        record = verified_job(out_dir)
    except ResultError as exc:
        return exc.problem
    if record["key"] != key:
        return f"{Path(out_dir) / JOB_FILE} records another config or model code"
    return None


def job_done(out_dir: Path, key: str) -> bool:
    """Whether ``out_dir`` already holds a finished job with this key whose files all check out."""
    return job_problem(out_dir, key) is None


def unmark(out_dir: Path) -> None:
    """Remove a job's ``job.json`` before it is recomputed, so an interrupted recomputation is not taken as done."""
    (Path(out_dir) / JOB_FILE).unlink(missing_ok=True)


def run_code(out_dir: Path) -> str:
    """The model-code key a finished job ran with (from its job.json; "unknown" without one)."""
    try:
        return str(json.loads((Path(out_dir) / JOB_FILE).read_text())["key"]).rsplit("-", 1)[-1]
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Folders under ``sweep_dir`` (any depth) that hold a ``job.json``, in a stable order."""
    return sorted({p.parent for p in Path(sweep_dir).rglob(JOB_FILE)}, key=lambda p: str(p))


# Sweeps --------------------------------------------------------------------------------------


def write_sweep_file(sweep_dir: Path, jobs: list[dict[str, Any]], command: list[str]) -> Path:
    """Record the jobs of the sweep starting in ``sweep_dir`` (``sweep.json``), replacing an earlier sweep's.

    Args:
        sweep_dir: the sweep folder.
        jobs: one entry per job: ``dir`` (its folder, relative to ``sweep_dir``), ``overrides`` and ``key``.
        command: the command line, for the record.
    """
    path = Path(sweep_dir) / SWEEP_FILE
    record = {"command": list(command), "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "jobs": jobs}
    write_atomic(path, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))
    return path


def sweep_members(sweep_dir: Path) -> tuple[list[Path], list[str]]:
    """The finished jobs of the sweep last started in ``sweep_dir``, and the folders of its unfinished ones.

    The sweep's jobs are those listed in its ``sweep.json``, each finished when a folder holds a ``job.json`` with
    that job's config key (its own folder first; the model-code part may differ if the code changed while the
    sweep ran, see ``sweep_codes``); jobs of other sweeps in the same folder are left out. A folder without
    ``sweep.json`` (made by hand, or by an older version) counts every job under it. Files are not checked here:
    readers call ``verified_job`` on each.

    Raises:
        ResultError: ``sweep.json`` or a listed job's ``job.json`` cannot be read.
    """
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / SWEEP_FILE
    if not path.exists():
        return job_dirs(sweep_dir), []
    try:
        listed = json.loads(path.read_text())["jobs"]
        wanted = [(job.get("dir"), job.get("key"), job_identity(job["overrides"])) for job in listed]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ResultError(f"{path} cannot be read as a sweep record ({exc})", "rerun the sweep command") from None
    others: dict[str, Path] | None = None
    found: list[Path] = []
    missing: list[str] = []
    for name, key, identity in wanted:
        # A job is known by its config key; in a sweep too large to compose job by job, by its overrides.
        mark = _config_part(key) if key else "\n".join(identity)
        folder = sweep_dir / str(name) if name else None
        if folder is not None and (folder / JOB_FILE).exists() and _mark(read_record(folder), key) == mark:
            found.append(folder)
            continue
        if others is None:  # the job may sit in a folder of another name (a launcher's own subdir)
            others = {}
            for job in job_dirs(sweep_dir):
                try:
                    record = read_record(job)
                except ResultError:
                    continue
                others.setdefault(_mark(record, "key"), job)
                others.setdefault(_mark(record, None), job)
        if mark in others:
            found.append(others[mark])
        else:
            missing.append(str(name or " ".join(identity)))
    return list(dict.fromkeys(found)), missing


def _mark(record: dict[str, Any], key: str | None) -> str:
    """How a sweep record knows a job: its config key, or (``key`` None) its overrides."""
    if key:
        return _config_part(record["key"])
    return "\n".join(job_identity(record.get("overrides") or []))


def _config_part(key: str) -> str:
    """The config part of a job key (without the model-code digest)."""
    return str(key).rsplit("-", 1)[0]


def sweep_codes(jobs: list[Path]) -> set[str]:
    """The model-code digests the finished ``jobs`` ran with (more than one: the code changed during the sweep)."""
    return {str(read_record(job)["key"]).rsplit("-", 1)[-1] for job in jobs}


# Running nwsim -------------------------------------------------------------------------------


def run_nwsim(args: list[str]) -> None:
    """Run ``nwsim args`` in a child process, as a user would; exit with its code if it fails.

    The commands that drive experiments (``nwsim-validate``, ``nwsim-ablation``, ``nwsim-sensitivity``)
    use it so each experiment runs exactly as ``uv run nwsim experiment=NAME`` does: validated first,
    resumable, through any Hydra launcher given among ``args``. The child starts the entry point by
    name, so this module does not import ``sim.cli``.
    """
    print("$ nwsim " + " ".join(args), file=sys.stderr, flush=True)
    code = subprocess.call([sys.executable, "-c", "from sim.cli import main; main()", *args])
    if code:
        sys.exit(code)
