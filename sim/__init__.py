"""named-worker-sim: a paired duty vs named-worker simulation of a community learning-disability team.

The modules, layer by layer, lowest first. A module imports only from its own layer or lower ones,
never from a higher one (not even inside a function), and there are no import circles; the only
exceptions are the type-checking-only references from ``staffing`` and ``agents`` back to ``model``
(under ``if TYPE_CHECKING:``, never run). ``LAYERS`` below is the same table, checked by
``tests/test_layout.py``.

1. Config and randomness
    - ``params``: the pydantic config models (types, ranges, descriptions), ``validate``, the cost
      lines. Depends on: nothing in ``sim``.
    - ``streams``: common random numbers, one generator per (seed, replicate, stream).
      Depends on: nothing in ``sim``.
2. People
    - ``population``: person and worker arrays and their initialisation.
      Depends on: params, streams.
3. The model
    - ``contacts``: compiled (numba) functions shared by the processes and the staffing systems
      (familiarity, offering and carrying out contacts) and the structures compiled code works on.
      Depends on: population.
    - ``agents``: ``Person`` and ``Worker``, mesa agents that are views onto the arrays.
      Depends on: population.
    - ``staffing``: the staffing systems (``DutySystem``, ``NamedWorkerSystem``, ...) and their
      registry ``SYSTEMS``. Depends on: params, population, contacts.
    - ``model``: ``StaffingModel``, the daily schedule, its processes compiled. Depends on: params,
      streams, population, contacts, agents, staffing.
4. Measures
    - ``metrics``: continuity indices, the per-run summary and monthly series (the rolling UPC's count
      compiled). Depends on: contacts, model, costs.
    - ``costs``: the cost ledger, payers, discounting and the business case. Depends on: params,
      staffing (each system's investment and start day).
5. Bookkeeping
    - ``jobs``: atomic writes, job keys and done markers, finished-job folders, running ``nwsim`` in a
      child process. Depends on: nothing in ``sim``.
    - ``compose``: config composition (the conf folder, Hydra's compose API, validation against the
      registry of staffing systems, the one checker of every job of a command), shared by every command.
      Depends on: params, staffing, jobs.
6. Runs
    - ``runner``: replicates x arms in a process pool, paired differences, result tables, many teams.
      Depends on: params, streams, model, metrics, jobs.
    - ``uncertainty``: probabilistic sensitivity analysis: input draws run as paired comparisons, the
      chance of saving money, the acceptability curve and the value of information. Depends on: params,
      streams, costs, jobs, compose, runner.
7. Commands and pages (on top; nothing below imports them)
    - ``cli``: the Hydra entry point ``nwsim``. Depends on: params, compose, jobs, runner, uncertainty,
      plots, report, sensitivity.
    - ``sweep``: ``nwsim-aggregate``, the sweep summary and heatmaps. Depends on: jobs, runner,
      uncertainty, report, sensitivity, ablation.
    - ``report``: ``business_case.json``, ``report.html`` and ``nwsim-report``. Depends on: params,
      staffing, costs, jobs, compose, runner, uncertainty, plots.
    - ``plots``: the figures of one run. Depends on: params, staffing, runner.
    - ``validation``: ``nwsim-validate``, published figures against simulated ones. Depends on:
      streams, costs, jobs.
    - ``sensitivity``: ``nwsim-sensitivity``, Morris and Sobol in resumable chunks. Depends on:
      params, costs, runner, jobs.
    - ``ablation``: ``nwsim-ablation``, what each mechanism carries of the benefit. Depends on:
      params, costs, jobs.
    - ``bench``: ``nwsim-bench``, speed and memory figures. Depends on: contacts, staffing, model, compose,
      jobs.
    - ``app``: the interactive page. Depends on: params, population, staffing, model, metrics, costs,
      compose, plots.
    - ``app_assets``: the page's front-end files. Depends on: nothing in ``sim``.
"""

import hashlib
import os
from pathlib import Path

#: The modules of ``sim`` by layer, lowest first (see above): each imports only from its own layer or
#: lower ones, and every module is in exactly one layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("params", "streams"),
    ("population",),
    ("contacts", "agents", "staffing", "model"),
    ("metrics", "costs"),
    ("jobs", "compose"),
    ("runner", "uncertainty"),
    ("cli", "sweep", "report", "plots", "validation", "sensitivity", "ablation", "bench", "app", "app_assets"),
)

# Parallelism is one process per run; numerical libraries must not add thread pools of their own
# (they would oversubscribe the cores, and a threaded parent cannot be forked safely).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# Arrow's allocator would otherwise start a background thread as soon as pandas loads it.
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
# Under `uv run`, Ray would ship the current folder to its workers as a new working directory and
# start them with `uv run` again; the workers already share this environment, so keep them in it.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

#: Modules of the compiled (numba) core. Numba checks only a function's own file when it reuses compiled
#: code, so its cache folder is named by the contents of all of them: any change compiles afresh, once
#: per machine (not per process: the pool's workers and later runs load it). ``metrics``' one compiled
#: kernel calls only ``contacts.pairwise_sum``: numba's own check of metrics.py covers the rest of it.
COMPILED_MODULES = ("contacts", "staffing", "model")


def _compiled_digest() -> str:
    digest = hashlib.sha256()
    for name in COMPILED_MODULES:
        digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


if "NUMBA_CACHE_DIR" not in os.environ:
    _cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ["NUMBA_CACHE_DIR"] = str(_cache_home / "named-worker-sim" / "numba" / _compiled_digest())
