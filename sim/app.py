"""The interactive page: ``uv run solara run sim/app.py``.

A Mesa SolaraViz page. The sidebar's sliders set the team, the staffing system and the main effects
(each is a config override, applied to the project's Hydra config); Reset builds a new model with
them, Step advances one week (seven simulated days, ``DAYS_PER_STEP``) and the play button keeps
stepping. The views read the model's daily series, contact log and arrays, so they show the same
numbers the tables would: admissions and crises, continuity, waiting, caseloads and stress, and who
holds which people.

Each browser session gets its own model. The views are laid out in a fixed grid under SolaraViz's
controls rather than in SolaraViz's draggable grid, whose front-end component does not load under
the Vue 3 front end the installed Solara uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import solara
from hydra import compose, initialize_config_dir
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import update_counter

from sim.compose import CONF_DIR, load_config
from sim.metrics import continuity
from sim.model import DAYS_PER_YEAR, S, StaffingModel
from sim.params import Config
from sim.population import NEED_LEVELS, NO_ONE, ROLES
from sim.staffing import SYSTEMS

#: Simulated days per step of the page (one week).
DAYS_PER_STEP = 7
#: Days in the rolling sums of the plots (four weeks).
WINDOW_DAYS = 28
#: Contacts of the past year count towards the continuity indices of the plots.
CONTINUITY_DAYS = DAYS_PER_YEAR
#: Resolution of the plots (dots per inch): enough to read, small enough to redraw every step.
DPI = 80

#: Slider name -> config key it overrides.
OVERRIDE_KEYS = {
    "people": "team.people",
    "caseload_per_worker": "team.caseload_per_worker",
    "caseload_cap": "named.caseload_cap",
    "turnover_per_year": "workforce.turnover_per_year",
    "extra_fte": "named.extra_fte",
    "stress_turnover_gain": "workforce.stress_turnover_gain",
    "retell_extra_frac": "effects.retell_extra_frac",
    "familiarity_quality_gain": "effects.familiarity_quality_gain",
    "advocacy_admission_reduction": "effects.advocacy_admission_reduction",
    "named_retention": "effects.named_retention",
}
ROLE_COLOURS = {"social_worker": "tab:blue", "advanced_practitioner": "tab:purple", "agency": "tab:orange"}
NEED_COLOURS = ("#9ecae1", "#4292c6", "#08306b")


def config(overrides: list[str] | None = None) -> Config:
    """The project's config with ``overrides`` (Hydra syntax), composed through Hydra as ``nwsim`` does."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return load_config(compose("config", overrides=list(overrides or [])))


class ExploreModel(StaffingModel):
    """A StaffingModel built from the page's controls; one step is one week.

    Every argument left at None keeps the value of the project's config (``conf/``).

    Args:
        arm: a registered staffing system (a key of ``sim.staffing.SYSTEMS``).
        people: team.people.
        caseload_per_worker: team.caseload_per_worker (sets the number of posts).
        caseload_cap: named.caseload_cap.
        turnover_per_year: workforce.turnover_per_year.
        extra_fte: named.extra_fte.
        stress_turnover_gain: workforce.stress_turnover_gain.
        retell_extra_frac: effects.retell_extra_frac.
        familiarity_quality_gain: effects.familiarity_quality_gain.
        advocacy_admission_reduction: effects.advocacy_admission_reduction.
        named_retention: effects.named_retention.
        replicate: which replicate's common random numbers to use.
        rng: accepted for Mesa's visualisation and ignored: every random number comes from the
            config's seed and ``replicate``.
    """

    def __init__(
        self,
        arm: str = "named",
        people: int | None = None,
        caseload_per_worker: float | None = None,
        caseload_cap: int | None = None,
        turnover_per_year: float | None = None,
        extra_fte: float | None = None,
        stress_turnover_gain: float | None = None,
        retell_extra_frac: float | None = None,
        familiarity_quality_gain: float | None = None,
        advocacy_admission_reduction: float | None = None,
        named_retention: float | None = None,
        replicate: int = 0,
        rng: Any = None,
    ) -> None:
        values = {
            "people": people,
            "caseload_per_worker": caseload_per_worker,
            "caseload_cap": caseload_cap,
            "turnover_per_year": turnover_per_year,
            "extra_fte": extra_fte,
            "stress_turnover_gain": stress_turnover_gain,
            "retell_extra_frac": retell_extra_frac,
            "familiarity_quality_gain": familiarity_quality_gain,
            "advocacy_admission_reduction": advocacy_admission_reduction,
            "named_retention": named_retention,
        }
        overrides = [f"{OVERRIDE_KEYS[name]}={value}" for name, value in values.items() if value is not None]
        super().__init__(config(overrides), str(arm), int(replicate))
        #: Week by week: day, mean UPC and mean distinct workers per person over the past year's contacts.
        self.continuity_history: list[tuple[int, float, float]] = []

    def step(self) -> None:
        """One week: seven days of the daily schedule, then the week's continuity indices."""
        for _ in range(DAYS_PER_STEP):
            if not self.running:
                break
            super().step()
        upc, distinct = recent_continuity(self)
        self.continuity_history.append((self.day, upc, distinct))


def _slider_defaults() -> dict[str, float]:
    cfg = config()
    return {name: _get(cfg, key) for name, key in OVERRIDE_KEYS.items()}


def _get(cfg: Config, dotted: str) -> Any:
    value: Any = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def system_choices() -> list[dict[str, str]]:
    """The staffing-system picker's items: every registered system, its key the value and its label the text.

    ``title`` is the text Vuetify 3 shows, ``text`` the one Vuetify 2 shows; the model receives ``value``.
    """
    return [{"title": cls.label or name, "text": cls.label or name, "value": name} for name, cls in SYSTEMS.items()]


_D = _slider_defaults()
#: The sidebar's controls: each name is an ExploreModel argument, its default the config's value.
MODEL_PARAMS: dict[str, Any] = {
    "arm": {"type": "Select", "label": "Staffing system", "value": "named", "values": system_choices()},
    "people": Slider("People supported (team size)", int(_D["people"]), 100, 2000, 50),
    "caseload_per_worker": Slider("Caseload per social worker FTE", float(_D["caseload_per_worker"]), 10.0, 40.0, 1.0),
    "caseload_cap": Slider("Named: most people per worker FTE", int(_D["caseload_cap"]), 10, 50, 1),
    "turnover_per_year": Slider("Staff turnover per year", float(_D["turnover_per_year"]), 0.0, 0.6, 0.01),
    "extra_fte": Slider("Named: extra social-worker FTE", float(_D["extra_fte"]), 0.0, 5.0, 0.5),
    "stress_turnover_gain": Slider(
        "Overload drives staff out (gain)", float(_D["stress_turnover_gain"]), 0.0, 5.0, 0.1
    ),
    "retell_extra_frac": Slider("Effect: retelling adds time", float(_D["retell_extra_frac"]), 0.0, 1.0, 0.05),
    "familiarity_quality_gain": Slider(
        "Effect: known worker, better contact", float(_D["familiarity_quality_gain"]), 0.0, 1.0, 0.05
    ),
    "advocacy_admission_reduction": Slider(
        "Effect: known worker, fewer admissions", float(_D["advocacy_admission_reduction"]), 0.0, 1.0, 0.05
    ),
    "named_retention": Slider("Effect: named working keeps staff", float(_D["named_retention"]), 0.0, 0.9, 0.05),
    "replicate": Slider("Replicate (random numbers)", 0, 0, 99, 1),
}


# Numbers read from the model -----------------------------------------------------------------


def recent_continuity(model: StaffingModel, days: int = CONTINUITY_DAYS) -> tuple[float, float]:
    """Mean UPC (people with at least 2 contacts) and mean distinct workers (people with any) over the past ``days``."""
    log = model.contact_log()
    recent = log[log["day"] >= model.day - days]
    if recent.empty:
        return float("nan"), float("nan")
    table = continuity(recent["person"].to_numpy(), recent["worker"].to_numpy(), model.people.n)
    seen = table["n_contacts"] > 0
    upc = table["upc"].mean() if table["upc"].notna().any() else float("nan")
    return float(upc), float(table.loc[seen, "distinct_workers"].mean())


def rolling_sum(values: np.ndarray, days: int = WINDOW_DAYS) -> np.ndarray:
    """Sum over the past ``days`` days, day by day (over fewer days at the start)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    start = np.maximum(np.arange(values.size) + 1 - days, 0)
    return cumulative[1:] - cumulative[start]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def anyone_holds(model: StaffingModel) -> bool:
    """Whether any worker holds people of their own today (someone has a named worker)."""
    return bool(model.staff.caseload.any())


def ever_held(model: StaffingModel) -> bool:
    """Whether anyone has held people of their own, or waited for a worker of their own, so far in the run."""
    daily = model.daily[: model.day]
    return anyone_holds(model) or bool(daily[:, S["mean_caseload"]].any() or daily[:, S["pending"]].any())


def held_by_need(model: StaffingModel, rows: np.ndarray) -> np.ndarray:
    """People each worker (by row) holds as named worker, by need level: shape (3, workers)."""
    people = model.people
    column = np.full(model.staff.n, NO_ONE, dtype=np.int64)
    column[rows] = np.arange(rows.size)
    mine = np.flatnonzero(people.named_worker != NO_ONE)
    columns = column[people.named_worker[mine]]
    kept = columns != NO_ONE
    held = np.zeros((len(NEED_LEVELS), rows.size), dtype=np.int64)
    np.add.at(held, (people.need[mine][kept], columns[kept]), 1)
    return held


def seen_recently(model: StaffingModel, rows: np.ndarray, days: int = WINDOW_DAYS) -> np.ndarray:
    """Distinct people each worker (by row) had a contact with in the past ``days`` days."""
    log = model.contact_log()
    recent = log[log["day"] >= model.day - days]
    seen = recent.groupby("worker")["person"].nunique()
    return np.array([int(seen.get(int(r), 0)) for r in rows], dtype=np.int64)


# Views: each takes the model and returns a Solara element -------------------------------------


def _figure(fig: Figure, model: StaffingModel) -> solara.Element:
    # Drawn again only when the model or its day changes, not on every page update.
    return solara.FigureMatplotlib(fig, dependencies=[id(model), model.day], format="png", dpi=DPI)


def _shade_warmup(axes: list, model: StaffingModel) -> None:
    """Grey the warm-up weeks, which the tables of a run leave out."""
    end = min(model.day, model.cfg.warmup_days) / DAYS_PER_STEP
    if end <= 0:
        return
    for i, ax in enumerate(axes):
        ax.axvspan(0, end, color="0.92", lw=0, zorder=0, label="warm-up (not in the tables)" if i == 0 else None)


def summary_text(model: StaffingModel) -> solara.Element:
    """The run so far in one paragraph."""
    daily = model.daily[: model.day]
    person_years = max(model.day, 1) / DAYS_PER_YEAR * model.people.n
    admissions = daily[:, S["admissions"]].sum()
    pending = model.system.pending()
    holding = f", {pending} waiting for a named worker" if pending or anyone_holds(model) else ""
    return solara.Text(
        f"{model.arm}: {model.people.n} people, {len(model.worker_agents)} workers in post, "
        f"week {model.day // DAYS_PER_STEP} (day {model.day}): {int(admissions)} admissions "
        f"({100 * admissions / person_years:.2f} per 100 person-years), {int(daily[:, S['crises']].sum())} crises, "
        f"{int(daily[:, S['leavers']].sum())} leavers, {int(daily[:, S['contacts']].sum())} contacts{holding}."
    )


def outcomes_plot(model: StaffingModel) -> solara.Element:
    """Admissions and crises so far; continuity: known-worker share, UPC and distinct workers over the past year."""
    daily = model.daily[: model.day]
    weeks = np.arange(model.day) / DAYS_PER_STEP
    fig = Figure(figsize=(6, 4.6))
    fig.subplots_adjust(left=0.11, right=0.88, top=0.93, bottom=0.1, hspace=0.08)
    top, bottom = fig.subplots(2, 1, sharex=True)
    _shade_warmup([top, bottom], model)
    top.plot(weeks, np.cumsum(daily[:, S["admissions"]]), label="admissions")
    top.plot(weeks, np.cumsum(daily[:, S["crises"]]), label="crises")
    top.set_ylabel("so far")
    top.legend(fontsize=8, loc="upper left")
    top.set_title(f"{model.arm}: outcomes and continuity, week {model.day // DAYS_PER_STEP}", fontsize=10)
    contacts = rolling_sum(daily[:, S["contacts"]])
    known = _ratio(contacts - rolling_sum(daily[:, S["retellings"]]), contacts)
    bottom.plot(weeks, known, color="tab:green", lw=0.8, label=f"known worker ({WINDOW_DAYS}-day share of contacts)")
    history = getattr(model, "continuity_history", [])
    if history:
        days, upc, distinct = (np.array(column) for column in zip(*history, strict=True))
        bottom.plot(days / DAYS_PER_STEP, upc, color="black", label="UPC, past year's contacts")
        right = bottom.twinx()
        right.plot(days / DAYS_PER_STEP, distinct, color="tab:red", ls="--", label="workers seen per person, past year")
        right.set_ylabel("workers seen", color="tab:red")
        right.set_ylim(bottom=0)
        right.legend(fontsize=7, loc="lower right")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("share")
    bottom.set_xlabel("week")
    bottom.legend(fontsize=7, loc="lower left")
    return _figure(fig, model)


def workload_plot(model: StaffingModel) -> solara.Element:
    """Waiting days per contact; open contacts, and people held and waiting where anyone holds people; stress."""
    daily = model.daily[: model.day]
    weeks = np.arange(model.day) / DAYS_PER_STEP
    fig = Figure(figsize=(6, 4.6))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.93, bottom=0.1, hspace=0.1)
    axes = fig.subplots(3, 1, sharex=True)
    _shade_warmup(list(axes), model)
    axes[0].plot(weeks, _ratio(rolling_sum(daily[:, S["wait_days"]]), rolling_sum(daily[:, S["waited_contacts"]])))
    axes[0].set_ylabel("wait (days)")
    axes[0].set_title(f"{model.arm}: waiting ({WINDOW_DAYS}-day mean), caseload and stress", fontsize=10)
    if ever_held(model):
        axes[1].plot(weeks, daily[:, S["mean_caseload"]], label="mean caseload of social workers (people held)")
        axes[1].plot(weeks, daily[:, S["pending"]], label="people waiting for a named worker")
        axes[1].plot(weeks, daily[:, S["backlog"]], color="tab:gray", lw=0.8, label="open contacts")
        axes[1].set_ylabel("people /\ncontacts")
    else:
        axes[1].plot(weeks, daily[:, S["backlog"]], label="open contacts (no one holds anyone)")
        axes[1].set_ylabel("contacts")
    axes[1].legend(fontsize=7, loc="upper left")
    axes[2].plot(weeks, daily[:, S["mean_stress"]], color="tab:red", label="mean stress")
    axes[2].axhline(1, color="black", lw=0.7, ls="--")
    axes[2].set_ylabel("stress\n(1 = full load)")
    axes[2].set_xlabel("week")
    return _figure(fig, model)


def workers_view(model: StaffingModel) -> solara.Element:
    """Who holds which people, and how many workers each person has met.

    Left: one column per worker in post, social workers first, then advanced practitioners, then
    agency workers (the coloured strip under the columns). When anyone has a named worker, a column is
    the people the worker holds, by need level, against the caseload cap; when no one holds anyone
    (a duty desk, or a switch-over before its day), a column is the people the worker met in the past
    four weeks. A grey triangle marks a worker who is absent today. Right: how many different workers
    each person met over the past year.
    """
    workers = sorted(model.worker_agents, key=lambda w: (ROLES.index(w.role), w.post))
    rows = np.array([w.row for w in workers], dtype=np.int64)
    edges = np.arange(rows.size + 1) - 0.5
    fig = Figure(figsize=(12, 3.6))
    fig.subplots_adjust(left=0.05, right=0.99, top=0.9, bottom=0.16, wspace=0.18)
    ax, people_ax = fig.subplots(1, 2, width_ratios=(3, 1))
    pending = model.system.pending()
    waiting = f", {pending} waiting for a named worker" if pending else ""
    if anyone_holds(model):
        held = held_by_need(model, rows)
        base = np.zeros(rows.size)
        for level, name in enumerate(NEED_LEVELS):
            ax.stairs(
                base + held[level], edges, baseline=base, fill=True, color=NEED_COLOURS[level], label=f"{name} need"
            )
            base = base + held[level]
        ax.axhline(model.cfg.named.caseload_cap, color="black", lw=0.7, ls="--", label="cap (1 FTE)")
        ax.set_ylabel("people held")
        ax.set_title(f"The people each worker holds{waiting}", fontsize=10)
        top = max(float(base.max(initial=0)), model.cfg.named.caseload_cap)
    else:
        seen = seen_recently(model, rows)
        ax.stairs(seen, edges, fill=True, color="tab:gray", label=f"people met, past {WINDOW_DAYS} days")
        ax.set_ylabel("people met")
        ax.set_title(
            f"Today no one holds anyone under this system{waiting}: the people each worker met in the past "
            f"{WINDOW_DAYS} days",
            fontsize=10,
        )
        top = float(seen.max(initial=0))
    top = max(top, 1.0) * 1.3
    roles = [w.role for w in workers]
    ax.scatter(
        np.arange(rows.size), np.full(rows.size, -0.04 * top), c=[ROLE_COLOURS[r] for r in roles], marker="s", s=12
    )
    absent = np.flatnonzero([w.absent for w in workers])
    ax.scatter(absent, np.full(absent.size, 0.8 * top), color="gray", marker="v", s=14, label="absent today")
    for role, colour in ROLE_COLOURS.items():
        ax.scatter([], [], color=colour, marker="s", s=12, label=role.replace("_", " "))
    ax.vlines(edges[1:-1], 0, top, color="white", lw=0.5)  # a thin gap between workers
    ax.set_ylim(-0.08 * top, top)
    ax.set_xlim(edges[0], max(edges[-1], 1.0))
    ax.set_xlabel("workers in post")
    ax.legend(fontsize=7, loc="upper left", ncol=8, columnspacing=1.0, handletextpad=0.3)

    log = model.contact_log()
    recent = log[log["day"] >= model.day - CONTINUITY_DAYS]
    table = continuity(recent["person"].to_numpy(), recent["worker"].to_numpy(), model.people.n)
    distinct = table.loc[table["n_contacts"] > 0, "distinct_workers"].to_numpy()
    counts = np.bincount(distinct, minlength=2)[1:]
    people_ax.stairs(counts, np.arange(counts.size + 1) + 0.5, fill=True, color="tab:green")
    people_ax.set_title("Workers each person met, past year", fontsize=10)
    people_ax.set_xlabel("different workers")
    people_ax.set_ylabel("people")
    return _figure(fig, model)


VIEWS = (
    ("Summary", summary_text),
    ("Outcomes and continuity", outcomes_plot),
    ("Waiting, caseload and stress", workload_plot),
    ("Who holds which people", workers_view),
)


@solara.component
def Views(model: StaffingModel) -> None:
    """Every view of ``model``, drawn again whenever SolaraViz steps or resets the model."""
    update_counter.get()  # subscribe to SolaraViz's step and reset updates
    with solara.Column(classes=["nwsim-views"]):
        solara.Card(children=[summary_text(model)], classes=["nwsim-summary"], margin=0)
        with solara.GridFixed(columns=2):
            solara.Card(children=[outcomes_plot(model)], classes=["nwsim-outcomes"], margin=0)
            solara.Card(children=[workload_plot(model)], classes=["nwsim-workload"], margin=0)
        solara.Card(children=[workers_view(model)], classes=["nwsim-workers"], margin=0)


@solara.component
def Page() -> None:
    """The page: SolaraViz's controls and sliders in the sidebar, the views in the main area."""
    first = solara.use_memo(ExploreModel, dependencies=[])  # one model per browser session
    model = solara.use_reactive(first)
    SolaraViz(
        model,
        components=[],
        model_params=MODEL_PARAMS,
        name="Staffing systems: one team, week by week",
        play_interval=150,
    )
    Views(model.value)
