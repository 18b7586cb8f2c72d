"""The interactive page: ``uv run solara run sim/app.py``.

Sliders set the team, the staffing system and the main effects; Reset builds a new model with them,
Step advances one week (seven simulated days). Plots read the model's daily series and arrays, so
they show the same numbers the tables would.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import solara
from hydra import compose, initialize_config_dir
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider

from sim.cli import CONF_DIR, load_config
from sim.model import S, StaffingModel
from sim.params import Config
from sim.population import NO_ONE

DAYS_PER_STEP = 7
#: Days shown in the rolling plots.
WINDOW_DAYS = 28


class ExploreModel(StaffingModel):
    """A StaffingModel built from slider values (config overrides); one step is one week.

    Args:
        named: 1 for named workers, 0 for the duty system.
        people: people the team supports.
        caseload_per_worker: people per social-worker FTE.
        turnover_per_year: base staff leaving hazard per year.
        extra_fte: extra social-worker FTE in the named arm.
        familiarity_quality_gain: effects.familiarity_quality_gain.
        advocacy_admission_reduction: effects.advocacy_admission_reduction.
        named_retention: effects.named_retention.
        replicate: which replicate's random numbers to use.
        rng: ignored (the model's streams come from the config's seed and the replicate).
    """

    def __init__(
        self,
        named: int = 1,
        people: int = 750,
        caseload_per_worker: float = 25,
        turnover_per_year: float = 0.15,
        extra_fte: float = 1.0,
        familiarity_quality_gain: float = 0.5,
        advocacy_admission_reduction: float = 0.4,
        named_retention: float = 0.3,
        replicate: int = 0,
        rng: object = None,
    ) -> None:
        overrides = [
            f"team.people={int(people)}",
            f"team.caseload_per_worker={caseload_per_worker}",
            f"workforce.turnover_per_year={turnover_per_year}",
            f"named.extra_fte={extra_fte}",
            f"effects.familiarity_quality_gain={familiarity_quality_gain}",
            f"effects.advocacy_admission_reduction={advocacy_admission_reduction}",
            f"effects.named_retention={named_retention}",
        ]
        super().__init__(config(overrides), "named" if named else "duty", int(replicate))

    def step(self) -> None:
        """One week: seven days of the daily schedule."""
        for _ in range(DAYS_PER_STEP):
            if not self.running:
                break
            super().step()


def config(overrides: list[str]) -> Config:
    """The project's config with ``overrides``, composed through Hydra as ``nwsim`` does."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return load_config(compose("config", overrides=overrides))


def _defaults() -> dict[str, float]:
    cfg = config([])
    e = cfg.effects
    return {
        "people": cfg.team.people,
        "caseload": cfg.team.caseload_per_worker,
        "turnover": cfg.workforce.turnover_per_year,
        "extra_fte": cfg.named.extra_fte,
        "quality": e.familiarity_quality_gain,
        "advocacy": e.advocacy_admission_reduction,
        "retention": e.named_retention,
    }


_D = _defaults()
MODEL_PARAMS = {
    "named": Slider("Named workers (1) or duty system (0)", 1, 0, 1, 1),
    "people": Slider("People supported", int(_D["people"]), 100, 2000, 50),
    "caseload_per_worker": Slider("Caseload per social worker", _D["caseload"], 10, 40, 1),
    "turnover_per_year": Slider("Staff turnover per year", _D["turnover"], 0.0, 0.5, 0.01),
    "extra_fte": Slider("Extra FTE (named arm)", _D["extra_fte"], 0.0, 5.0, 0.5),
    "familiarity_quality_gain": Slider("Effect: known worker, better contact", _D["quality"], 0.0, 1.0, 0.05),
    "advocacy_admission_reduction": Slider("Effect: known worker, fewer admissions", _D["advocacy"], 0.0, 1.0, 0.05),
    "named_retention": Slider("Effect: named working keeps staff", _D["retention"], 0.0, 0.9, 0.05),
    "replicate": Slider("Replicate (random numbers)", 0, 0, 99, 1),
}


def _rolling(values: np.ndarray, days: int = WINDOW_DAYS) -> np.ndarray:
    """Sum over the past ``days`` days (shorter at the start)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    start = np.maximum(np.arange(values.size) + 1 - days, 0)
    return cumulative[1:] - cumulative[start]


def _figure(fig: plt.Figure) -> solara.FigureMatplotlib:
    fig.tight_layout()
    element = solara.FigureMatplotlib(fig, format="png", dpi=80)
    plt.close(fig)
    return element


def outcomes_plot(model: StaffingModel):
    """Admissions and crises so far, and the share of contacts with a worker who knows the person."""
    day = model.day
    daily = model.daily[:day]
    weeks = np.arange(day) / 7
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4.4), sharex=True)
    top.plot(weeks, np.cumsum(daily[:, S["admissions"]]), label="admissions")
    top.plot(weeks, np.cumsum(daily[:, S["crises"]]), label="crises")
    top.set_ylabel("so far")
    top.legend(fontsize=8)
    top.set_title(f"{model.arm}: day {day}", fontsize=10)
    contacts = _rolling(daily[:, S["contacts"]])
    known = contacts - _rolling(daily[:, S["retellings"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        bottom.plot(weeks, np.where(contacts > 0, known / contacts, np.nan), color="tab:green")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel(f"known worker\n({WINDOW_DAYS}-day share)")
    bottom.set_xlabel("week")
    return _figure(fig)


def workload_plot(model: StaffingModel):
    """Waiting days per contact, mean caseload and mean stress, week by week."""
    day = model.day
    daily = model.daily[:day]
    weeks = np.arange(day) / 7
    fig, axes = plt.subplots(3, 1, figsize=(6, 5), sharex=True)
    waited = _rolling(daily[:, S["waited_contacts"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        axes[0].plot(weeks, np.where(waited > 0, _rolling(daily[:, S["wait_days"]]) / waited, np.nan))
    axes[0].set_ylabel("wait (days)")
    axes[1].plot(weeks, daily[:, S["mean_caseload"]] if model.system.has_named_workers else daily[:, S["backlog"]])
    axes[1].set_ylabel("mean caseload" if model.system.has_named_workers else "open contacts")
    axes[2].plot(weeks, daily[:, S["mean_stress"]], color="tab:red")
    axes[2].axhline(1, color="black", lw=0.7, ls="--")
    axes[2].set_ylabel("stress")
    axes[2].set_xlabel("week")
    return _figure(fig)


def workers_view(model: StaffingModel):
    """Who holds which people: each worker's people by need level (named), or people seen lately (duty)."""
    workers = sorted(model.worker_agents, key=lambda w: (w.role, w.post))
    fig, ax = plt.subplots(figsize=(6, 3.4))
    labels = [f"{w.post}{'*' if w.absent else ''}" for w in workers]
    rows = np.array([w.row for w in workers], dtype=np.int64)
    people = model.people
    if model.system.has_named_workers:
        bottom = np.zeros(len(workers))
        for level, name in enumerate(("low", "moderate", "high")):
            held = np.array([np.count_nonzero((people.named_worker == r) & (people.need == level)) for r in rows])
            ax.bar(range(len(workers)), held, bottom=bottom, label=f"{name} need")
            bottom += held
        pending = np.count_nonzero(people.named_worker == NO_ONE)
        ax.set_title(f"People held by each worker (pending tray: {pending})", fontsize=10)
        ax.axhline(model.cfg.named.caseload_cap, color="black", lw=0.7, ls="--", label="cap per FTE")
    else:
        log = model.contact_log()
        recent = log[log["day"] >= model.day - WINDOW_DAYS]
        seen = recent.groupby("worker")["person"].nunique()
        ax.bar(range(len(workers)), [int(seen.get(r, 0)) for r in rows], label="people seen")
        ax.set_title(f"People each worker saw in the last {WINDOW_DAYS} days (duty: no one holds anyone)", fontsize=10)
    ax.set_xticks(range(len(workers)), labels, rotation=90, fontsize=6)
    ax.set_xlabel("post (* absent today); social workers, then advanced practitioners, then agency")
    ax.legend(fontsize=7)
    return _figure(fig)


def summary_text(model: StaffingModel):
    """The run so far in numbers."""
    daily = model.daily[: model.day]
    years = max(model.day, 1) / 365 * model.people.n / 100
    return solara.Markdown(
        f"**{model.arm}**, {model.people.n} people, day {model.day}: {int(daily[:, S['admissions']].sum())} admissions "
        f"({daily[:, S['admissions']].sum() / years:.2f} per 100 person-years), "
        f"{int(daily[:, S['leavers']].sum())} leavers, {int(daily[:, S['contacts']].sum())} contacts."
    )


page = SolaraViz(
    ExploreModel(),
    components=[(summary_text, 0), (outcomes_plot, 0), (workload_plot, 0), (workers_view, 0)],
    model_params=MODEL_PARAMS,
    name="Named workers or a duty system",
    play_interval=200,
)
