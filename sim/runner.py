"""Replicates x arms in a process pool, paired differences with 95% intervals, atomic result files."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # Student t quantiles, without importing scipy.stats (slow to load)
from tqdm import tqdm

from sim.jobs import _UMASK, temp_file, write_atomic
from sim.metrics import monthly, summarise
from sim.model import StaffingModel, run_days
from sim.params import Config, Teams
from sim.streams import Streams

#: runs.csv columns that identify a run rather than measure it.
ID_COLUMNS = ("arm", "replicate", "seed")
#: Metrics shown in the console table, in order.
HEADLINE = (
    "admissions_per_100_person_years",
    "crises_per_100_person_years",
    "bed_days_per_100_person_years",
    "upc",
    "secon",
    "retellings_per_person_year",
    "wait_days_mean",
    "turnover_per_year",
    "vacancy_frac",
    "cost_total_gbp",
)


@dataclass(frozen=True)
class Results:
    """Tables of one experiment: one row per run, monthly series, and the paired comparison (or None)."""

    runs: pd.DataFrame
    timeseries: pd.DataFrame
    comparison: pd.DataFrame | None


def run_one(cfg: Config, arm: str, replicate: int, series: bool = True) -> tuple[dict, pd.DataFrame]:
    """Simulate one arm of one replicate; return its runs.csv row and monthly series (empty if not ``series``)."""
    return run_arms(cfg, (arm,), replicate, series)[0]


def run_arms(cfg: Config, arms: Iterable[str], replicate: int, series: bool = True) -> list[tuple[dict, pd.DataFrame]]:
    """Simulate arms of one replicate side by side, a year at a time; ``run_one``'s result for each, in order.

    The arms share their random streams (``StaffingModel``'s ``streams``), so each year's random numbers, the
    same for every arm (common random numbers), are drawn once instead of once per arm.
    """
    streams = Streams(cfg.seed, replicate)
    models = [StaffingModel(cfg, arm, replicate, streams) for arm in arms]
    if not models:
        return []
    while any(model.running for model in models):
        for model in models:
            model.advance()
    results = [(summarise(model), monthly(model) if series else pd.DataFrame()) for model in models]
    # A model and its agents refer to each other, as do streams and their blocks, so only a full collection frees
    # them; without one, a process running many replicates grows by tens of MB each (cheap here: see
    # ``run_many``'s freeze, which would keep whatever is still referred to here for good).
    models.clear()
    del model, streams
    gc.collect()
    return results


# tqdm's monitor thread (it only tunes bars that stall) would outlive the first progress bar and make the parent
# multi-threaded, so every later pool would need the slower fork server (see ``_pool_context``).
tqdm.monitor_interval = 0


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork where the parent is single-threaded (workers share its imported modules); else a preloaded fork server.

    ``sim/__init__.py`` keeps numerical libraries single-threaded, so the parent normally has one thread.
    """
    if sys.platform == "linux" and threading.active_count() == 1 and _os_threads() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.runner"])
        return context
    return multiprocessing.get_context("spawn")


def _os_threads() -> int:
    """Threads of this process as the OS sees them (native pools included); 0 where unknown."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


#: Seconds between a pool worker's checks that the process that started it is still there.
PARENT_CHECK_SECONDS = 0.25


def _worker_start(parent: int) -> None:
    """Set up a pool worker: interruptions are the parent's to handle, and the worker ends when the parent is gone.

    Ctrl-C reaches every process of the terminal's group; the parent stops the pool itself, so workers ignore
    it. A parent killed outright (``kill -9``) cannot stop its workers, so each watches for it in a thread.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held back while the worker started (``_pool``)
    first = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent, first), daemon=True, name="nwsim-parent").start()


def _watch_parent(parent: int, first: int) -> None:
    """End this worker once its parent process has gone (it is then re-parented, or ``parent`` no longer exists)."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != first or not _alive(parent):
            os._exit(1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is still running (a killed one not yet collected by its own parent is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the system whether the process exists at all
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool of ``workers`` whose workers never outlive the run.

    Every worker is started at once with Ctrl-C held back (a process killed by it while starting would print a
    traceback), and ignores it from then on. If the body fails or is interrupted (Ctrl-C, SIGTERM), the workers
    are stopped at once and their tasks dropped, rather than waited for; if the parent is killed, the workers
    notice and end (``_worker_start``).
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_worker_start, initargs=(os.getpid(),)
    )
    try:
        try:
            for _ in range(workers):
                pool.submit(_started)  # each submission starts a worker while none is idle
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        yield pool
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


@contextmanager
def alongside(jobs: int, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Callable[[], Any]]:
    """Run ``function(*args, **kwargs)`` in a second process while the body runs; yield a getter of its result.

    With ``jobs`` below 2 (one process asked for) the getter runs it in this process when first called. Used
    to draw the figures while the report is written: both are matplotlib work of a second or more.
    """
    if jobs < 2:
        yield lambda: function(*args, **kwargs)
        return
    with _pool(1) as pool:
        yield pool.submit(function, *args, **kwargs).result


def _started() -> None:
    """A task that does nothing: submitting it makes the pool start a worker."""


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (SIGTERM, then SIGKILL for any still there after a few seconds)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor lists its workers only here
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def run_many(
    tasks: list[tuple], jobs: int, progress: bool = True, desc: str | None = None
) -> list[tuple[dict, pd.DataFrame]]:
    """Simulate ``(config, arm, replicate[, series])`` tasks (``run_one``'s arguments) in ``jobs`` processes.

    Returns the results (row, monthly series) in task order. Neighbouring tasks that differ only in their arm
    (the same config object) run side by side in one process (``run_arms``), drawing their random numbers once.

    The parent is one of the ``jobs`` processes: it runs tasks from the front of the list while ``jobs - 1``
    pool workers take them from the back, so every core is busy and one process fewer holds a copy of the
    libraries (about 150 MB).
    """
    n_jobs = max(1, min(jobs, len(tasks)))
    with _frozen():
        return _run_tasks(tasks, n_jobs, progress, desc)


@contextmanager
def _frozen() -> Iterator[None]:
    """Keep the objects that exist now (the libraries) out of the garbage collector's sight while runs go on.

    The full collection after each run (``run_one``) then looks only at that run's objects, and collections in
    forked workers do not write to (and so copy) the pages they share with the parent. Only the young
    generations are collected first: a full collection of a process that has run jobs before (a sweep's) looks
    at millions of objects, about 0.2 s a job, and garbage among old objects is collected once they are unfrozen.
    """
    gc.collect(1)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _task(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` for a pool of runs, then what survived the run's collection frozen too (see ``_frozen``).

    What a process creates on its first run (code loaded on first use, caches of the libraries: tens of thousands
    of objects) would otherwise be looked at by every later run's full collection, 25-50 ms each.
    """
    result = function(*args)
    gc.freeze()
    return result


def _run_tasks(tasks: list[tuple], n_jobs: int, progress: bool, desc: str | None) -> list[tuple[dict, pd.DataFrame]]:
    results: list[tuple[dict, pd.DataFrame] | None] = [None] * len(tasks)
    groups = _side_by_side(tasks)
    bar = dict(total=len(tasks), desc=desc or f"{len(tasks)} runs", unit="run", disable=not progress, file=sys.stderr)

    def done(group: list[int], finished: list[tuple[dict, pd.DataFrame]]) -> None:
        for index, result in zip(group, finished, strict=True):
            results[index] = result
        pbar.update(len(group))

    def run_arms_of(group: list[int]) -> tuple:
        cfg, _, replicate, *rest = tasks[group[0]]
        return (run_arms, cfg, tuple(tasks[i][1] for i in group), replicate, *rest)

    if n_jobs == 1:
        with tqdm(**bar) as pbar:
            for group in groups:
                done(group, _task(*run_arms_of(group)))
        return results  # type: ignore[return-value]
    _load_compiled(tasks)
    queue = list(range(len(groups)))
    pending: dict[Future, int] = {}
    ahead = 2 * (n_jobs - 1)  # groups queued for the workers, so none waits while the parent simulates
    with _pool(n_jobs - 1) as pool:

        def top_up() -> None:
            while queue and len(pending) < ahead:
                g = queue.pop()
                pending[pool.submit(_task, *run_arms_of(groups[g]))] = g

        top_up()  # forks the workers now, before the progress bar starts its monitor thread
        with tqdm(**bar) as pbar:
            while queue or pending:
                if queue:
                    g = queue.pop(0)
                    done(groups[g], _task(*run_arms_of(groups[g])))
                else:
                    wait(pending, return_when=FIRST_COMPLETED)
                for future in [f for f in pending if f.done()]:
                    done(groups[pending.pop(future)], future.result())
                top_up()
    return results  # type: ignore[return-value]


def _side_by_side(tasks: list[tuple]) -> list[list[int]]:
    """Task indices in the groups ``run_arms`` runs together: neighbouring tasks that differ only in their arm."""
    groups: list[list[int]] = []
    for index, (cfg, arm, *rest) in enumerate(tasks):
        if groups:
            first_cfg, _, *first_rest = tasks[groups[-1][0]]
            if first_cfg is cfg and first_rest == rest and arm not in {tasks[i][1] for i in groups[-1]}:
                groups[-1].append(index)
                continue
        groups.append([index])
    return groups


def _load_compiled(tasks: list[tuple]) -> None:
    """Load the compiled core (from numba's cache) in the parent before the pool forks; call it inside ``_frozen``.

    Forked workers then share the loaded code instead of each loading it again (about a second and tens of
    MB per worker). Building a model of each arm and calling a run of no days loads everything a run calls.
    """
    for arm, cfg in {task[1]: task[0] for task in tasks}.items():
        run_days(*StaffingModel(cfg, arm, 0)._prepare(0), 0, 0)
    # Inside ``_frozen``, the code just loaded is frozen too, so the workers' collections need not look at it; its
    # garbage is collected first (cheaply, the libraries being frozen already) so that none is kept for good.
    gc.collect()
    gc.freeze()


def run_experiment(
    cfg: Config, jobs: int | None = None, progress: bool = True, replicates: Iterable[int] | None = None
) -> Results:
    """Every arm x every replicate of ``cfg`` (or of ``replicates``), in ``jobs`` processes.

    ``jobs`` defaults to ``cfg.jobs``, else all cores.
    """
    tasks = experiment_tasks(cfg, replicates)
    return experiment_results(cfg, run_many(tasks, jobs or cfg.jobs or os.cpu_count() or 1, progress))


def experiment_tasks(cfg: Config, replicates: Iterable[int] | None = None) -> list[tuple[Config, str, int]]:
    """The ``run_many`` tasks of ``run_experiment``: every arm of every replicate (all, or those given)."""
    chosen = range(cfg.replicates) if replicates is None else replicates
    return [(cfg, arm, rep) for rep in chosen for arm in cfg.arms]


def experiment_results(cfg: Config, done: list[tuple[dict, pd.DataFrame]]) -> Results:
    """The tables of an experiment from its finished tasks (``experiment_tasks``, in order)."""
    if not done:  # a chunk of an analysis can be left without a replicate of its own
        return Results(pd.DataFrame(columns=list(ID_COLUMNS)), pd.DataFrame(), None)
    runs = pd.DataFrame([row for row, _ in done])
    runs = runs.sort_values(["replicate", "arm"], kind="stable").reset_index(drop=True)
    timeseries = pd.concat([month for _, month in done])
    timeseries = timeseries.sort_values(["arm", "replicate", "month"], kind="stable").reset_index(drop=True)
    comparison = compare(runs, cfg.baseline) if len(cfg.arms) > 1 else None
    return Results(runs, timeseries, comparison)


#: comparison.csv columns, in order: one row per (non-baseline arm, metric).
COMPARISON_COLUMNS = (
    "arm",
    "baseline",
    "metric",
    "baseline_mean",
    "arm_mean",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "n_pairs",
)


def metric_columns(runs: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """The numeric columns of a runs table that measure something (not ids)."""
    return [c for c in runs.columns if c not in (*ID_COLUMNS, *exclude) and pd.api.types.is_numeric_dtype(runs[c])]


def compared_arms(arms: list[str] | pd.Series, baseline: str) -> list[str]:
    """Arms compared with ``baseline``: every other arm, in the order given."""
    return [arm for arm in dict.fromkeys(arms) if arm != baseline]


def _interval(diff: np.ndarray, level: float) -> tuple[float, float, int]:
    """Mean of the finite paired differences, the half-width of its t interval and the number of pairs."""
    ok = ~np.isnan(diff)
    n = int(ok.sum())
    mean = float(diff[ok].mean()) if n else np.nan
    half = np.nan
    if n >= 2:
        half = float(stdtrit(n - 1, 0.5 + level / 2) * float(diff[ok].std(ddof=1)) / np.sqrt(n))
    return mean, half, n


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if (~np.isnan(values)).any() else np.nan


def compare(runs: pd.DataFrame, baseline: str = "duty", level: float = 0.95) -> pd.DataFrame:
    """Paired differences arm - baseline for every other arm and metric, with t intervals over replicates.

    Returns:
        One row per (arm, metric), columns ``COMPARISON_COLUMNS``: both means, the mean paired difference and
        its ``level`` interval, and the number of pairs (replicates where both arms have a value).
    """
    metrics = metric_columns(runs)
    wide = runs.pivot(index="replicate", columns="arm", values=metrics)
    out = []
    for arm in compared_arms(runs["arm"], baseline):
        for metric in metrics:
            base = wide[(metric, baseline)].to_numpy(dtype=float)
            mine = wide[(metric, arm)].to_numpy(dtype=float)
            mean, half, n = _interval(mine - base, level)
            out.append(
                {
                    "arm": arm,
                    "baseline": baseline,
                    "metric": metric,
                    "baseline_mean": _nanmean(base),
                    "arm_mean": _nanmean(mine),
                    "diff_mean": mean,
                    "diff_ci_low": mean - half,
                    "diff_ci_high": mean + half,
                    "n_pairs": n,
                }
            )
    return pd.DataFrame(out, columns=list(COMPARISON_COLUMNS))


def save_results(results: Results, out_dir: Path) -> list[Path]:
    """Write runs.csv/.parquet, timeseries.parquet and comparison.csv (when two or more arms ran) atomically."""
    out_dir = Path(out_dir)
    written = []
    targets: list[tuple[str, Callable[[Path], object]]] = [
        ("runs.csv", lambda p: results.runs.to_csv(p, index=False)),
        ("runs.parquet", lambda p: results.runs.to_parquet(p, index=False)),
        ("timeseries.parquet", lambda p: results.timeseries.to_parquet(p, index=False)),
    ]
    if results.comparison is not None:
        targets.append(("comparison.csv", lambda p: results.comparison.to_csv(p, index=False)))
    for name, write in targets:
        write_atomic(out_dir / name, write)
        written.append(out_dir / name)
    return written


def console_table(results: Results) -> str:
    """A plain-text table of the headline metrics: each arm's mean and each paired difference with its interval."""
    if results.comparison is None:
        means = results.runs.groupby("arm")[list(HEADLINE)].mean().T
        return means.to_string(float_format=lambda v: f"{v:,.3f}")
    table = results.comparison
    baseline = str(table["baseline"].iloc[0])
    arms = list(dict.fromkeys(table["arm"]))
    head = f"{'metric':<34}{baseline:>14}" + "".join(f"{arm:>14}" for arm in arms)
    head += "".join(f"{f'{arm} - {baseline} (95% CI)':>40}" for arm in arms)
    lines = [head]
    by = table.set_index(["metric", "arm"])
    for metric in HEADLINE:
        first = by.loc[(metric, arms[0])]
        line = f"{metric:<34}{_fmt(first.baseline_mean):>14}"
        line += "".join(f"{_fmt(by.loc[(metric, arm)].arm_mean):>14}" for arm in arms)
        for arm in arms:
            r = by.loc[(metric, arm)]
            line += f"{f'{_fmt(r.diff_mean)} ({_fmt(r.diff_ci_low)} to {_fmt(r.diff_ci_high)})':>40}"
        lines.append(line)
    units = "teams (weighted by person-years)" if "team" in results.runs else "paired replicates"
    lines.append(f"{table['n_pairs'].max()} {units}; costs are present values in GBP.")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3f}"


# Many teams (England scale) -------------------------------------------------------------------


def _adds_up(metric: str) -> bool:
    """Whether a metric adds up over teams (costs, counts); every other one is a person-year weighted mean."""
    return metric.endswith("_gbp") or metric.startswith("n_") or metric == "person_years"


def team_sizes(teams: Teams, seed: int) -> np.ndarray:
    """Sizes of ``teams.count`` teams: log-normal spread, at least ``min_people``, adding up to ``total_people``."""
    rng = Streams(seed, 0).generator("teams/sizes")
    raw = np.exp(teams.size_sigma * rng.standard_normal(teams.count))
    spare = teams.total_people - teams.count * teams.min_people
    share = raw / raw.sum() * spare
    sizes = teams.min_people + np.floor(share).astype(np.int64)
    short = teams.total_people - int(sizes.sum())  # largest remainders get the people rounding left over
    sizes[np.argsort(-(share - np.floor(share)), kind="stable")[:short]] += 1
    return sizes


def team_config(cfg: Config, index: int, people: int) -> Config:
    """The config of team ``index``: its size, and a seed of its own (both arms of a team still share streams)."""
    seed = int(np.random.SeedSequence([cfg.seed, index]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    return cfg.model_copy(update={"seed": seed, "team": cfg.team.model_copy(update={"people": int(people)})})


def _run_team_task(cfg: Config, team: int, arm: str, replicate: int) -> tuple[dict, pd.DataFrame]:
    row, month = run_one(cfg, arm, replicate)
    row = {"team": team, "team_people": cfg.team.people, **row}
    month.insert(0, "team", team)
    return row, month


def whole_of_teams(runs: pd.DataFrame, baseline: str = "duty", level: float = 0.95) -> pd.DataFrame:
    """Paired differences arm - baseline for all teams together, with teams as the independent units.

    Each team's difference (mean over its replicates) is put per person-year; the whole is the
    person-year weighted mean (totals for metrics that add up), and its interval comes from the
    weighted spread between teams, so it includes real differences between teams as well as chance.
    """
    metrics = metric_columns(runs, exclude=("team", "team_people"))
    by_team = runs.groupby(["team", "arm"])[metrics].mean().unstack("arm")
    weight = by_team[("person_years", baseline)].to_numpy(dtype=float)
    total = weight.sum()
    out = []
    for arm in compared_arms(runs["arm"], baseline):
        for metric in metrics:
            base = by_team[(metric, baseline)].to_numpy(dtype=float)
            mine = by_team[(metric, arm)].to_numpy(dtype=float)
            adds = _adds_up(metric)
            scale = total if adds else 1.0
            diff = (mine - base) / weight if adds else mine - base
            ok = ~np.isnan(diff) & (weight > 0)
            w = weight[ok]
            mean = _weighted_mean(diff, weight)
            half = np.nan
            if ok.sum() >= 2:
                spread = float(np.sum(w * (diff[ok] - mean) ** 2) / (ok.sum() - 1))
                half = float(stdtrit(ok.sum() - 1, 0.5 + level / 2) * np.sqrt(spread / w.sum()))
            out.append(
                {
                    "arm": arm,
                    "baseline": baseline,
                    "metric": metric,
                    "baseline_mean": float(np.nansum(base)) if adds else _weighted_mean(base, weight),
                    "arm_mean": float(np.nansum(mine)) if adds else _weighted_mean(mine, weight),
                    "diff_mean": mean * scale,
                    "diff_ci_low": (mean - half) * scale,
                    "diff_ci_high": (mean + half) * scale,
                    "n_pairs": int(ok.sum()),
                }
            )
    return pd.DataFrame(out, columns=list(COMPARISON_COLUMNS))


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = ~np.isnan(values) & (weights > 0)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else np.nan


def run_teams(cfg: Config, out_dir: Path, jobs: int | None = None, progress: bool = True) -> tuple[Results, list[Path]]:
    """Every team x arm x replicate of ``cfg.teams``, streamed: monthly series go to disk as teams finish.

    Writes ``runs.csv``/``.parquet`` (one row per team, arm and replicate), ``teams.csv`` (the paired
    comparison of each team), ``comparison.csv`` (all teams together, see ``whole_of_teams``) and
    ``timeseries.parquet`` (monthly, per team). Only one row per run stays in memory.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert cfg.teams is not None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = team_sizes(cfg.teams, cfg.seed)
    configs = [team_config(cfg, i, n) for i, n in enumerate(sizes)]
    # Largest teams first, so the pool does not end waiting on one big team.
    tasks = [
        (i, arm, rep) for i in np.argsort(-sizes, kind="stable") for rep in range(cfg.replicates) for arm in cfg.arms
    ]
    n_jobs = max(1, min(jobs or cfg.jobs or os.cpu_count() or 1, len(tasks)))
    rows: list[dict] = []
    fd, tmp_name = temp_file(out_dir / "timeseries.parquet")
    os.close(fd)
    tmp = Path(tmp_name)
    writer: pq.ParquetWriter | None = None
    bar = dict(total=len(tasks), desc=f"{sizes.size} teams, {len(tasks)} runs", unit="run", disable=not progress)
    try:
        with _frozen():
            _load_compiled([(configs[0], arm) for arm in cfg.arms])  # once, shared by the forked workers
            with _pool(n_jobs) as pool, tqdm(file=sys.stderr, **bar) as pbar:
                futures = [pool.submit(_task, _run_team_task, configs[i], int(i), arm, rep) for i, arm, rep in tasks]
                for future in as_completed(futures):
                    row, month = future.result()
                    rows.append(row)
                    table = pa.Table.from_pandas(month, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table.cast(writer.schema))
                    pbar.update()
        if writer is not None:
            writer.close()
            writer = None
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, out_dir / "timeseries.parquet")
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    runs = pd.DataFrame(rows).sort_values(["team", "replicate", "arm"], kind="stable").reset_index(drop=True)
    paired = len(cfg.arms) > 1
    comparison = whole_of_teams(runs, cfg.baseline) if paired else None
    results = Results(runs, pd.DataFrame(), comparison)
    written = [out_dir / "timeseries.parquet"]
    targets: list[tuple[str, Callable[[Path], object]]] = [
        ("runs.csv", lambda p: runs.to_csv(p, index=False)),
        ("runs.parquet", lambda p: runs.to_parquet(p, index=False)),
    ]
    if paired:
        per_team = _per_team(runs, cfg.baseline)
        targets += [
            ("comparison.csv", lambda p: comparison.to_csv(p, index=False)),
            ("teams.csv", lambda p: per_team.to_csv(p, index=False)),
        ]
    for name, write in targets:
        write_atomic(out_dir / name, write)
        written.append(out_dir / name)
    return results, written


def _per_team(runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per team and compared arm: its size and, per headline metric, both means and the paired difference."""
    out = []
    for team, part in runs.groupby("team", sort=True):
        table = compare(part.drop(columns=["team", "team_people"]), baseline).set_index(["arm", "metric"])
        for arm in compared_arms(part["arm"], baseline):
            row: dict = {"team": team, "people": int(part["team_people"].iloc[0]), "arm": arm, "baseline": baseline}
            for metric in HEADLINE:
                for stat in ("baseline_mean", "arm_mean", "diff_mean", "diff_ci_low", "diff_ci_high"):
                    row[f"{metric}__{stat}"] = table.at[(arm, metric), stat]
            out.append(row)
    return pd.DataFrame(out)
