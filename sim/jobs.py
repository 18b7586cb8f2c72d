"""Job bookkeeping: atomic writes, job keys, done markers, finished-job folders, running ``nwsim`` as a child.

A job is *done* when its folder holds ``job.json`` with the key of its resolved config and of the
model's code; a rerun of the same run or sweep skips done jobs and runs only what is missing. Every
command that writes results or drives ``nwsim`` uses these helpers, so they sit below all of them
(and below ``sim.runner``, which writes its tables with ``write_atomic``). Depends on no other
module of ``sim``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Marker written last by a finished job.
JOB_FILE = "job.json"
#: Overrides that say how a job runs, not what it models: left out of the job key and the swept columns.
NOT_SWEPT = ("jobs", "resume", "experiment")
_CODE = Path(__file__).resolve().parent


class AggregationError(RuntimeError):
    """A sweep folder that cannot be summarised (no finished job, unreadable tables)."""


# Atomic writes -------------------------------------------------------------------------------


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(temporary_path)`` and rename it into place, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Resumable jobs ------------------------------------------------------------------------------


def code_key() -> str:
    """Digest of the model's source files, so results of older code are never taken for new ones."""
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


def run_code(out_dir: Path) -> str:
    """The model-code key a finished job ran with (from its job.json; "unknown" without one)."""
    try:
        return str(json.loads((Path(out_dir) / JOB_FILE).read_text())["key"]).rsplit("-", 1)[-1]
    except (OSError, ValueError, KeyError):
        return "unknown"


def job_done(out_dir: Path, key: str) -> bool:
    """Whether ``out_dir`` already holds a finished job with this key."""
    try:
        record = json.loads((Path(out_dir) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return False
    return record.get("key") == key and all((Path(out_dir) / name).exists() for name in record.get("files", []))


def mark_done(out_dir: Path, key: str, files: list[Path], timings: dict[str, float]) -> None:
    """Write ``job.json`` (atomically, last): the key, the files written and how long the job took."""
    out_dir = Path(out_dir)
    record = {
        "key": key,
        "files": sorted(str(Path(f).relative_to(out_dir)) for f in files),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **{name: round(value, 3) for name, value in timings.items()},
    }
    write_atomic(out_dir / JOB_FILE, lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Folders of finished jobs under ``sweep_dir`` (any depth), in a stable order."""
    return sorted({p.parent for p in Path(sweep_dir).rglob(JOB_FILE)}, key=lambda p: str(p))


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
