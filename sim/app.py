"""The interactive page: ``uv run solara run sim/app.py``.

Two staffing systems side by side on the same people. ``PairedModel`` holds two ``StaffingModel``s
built from one config and one replicate, so they share every random stream (common random numbers):
the same people, the same life events, two ways of staffing. Step advances both by a week (seven
simulated days, ``DAYS_PER_STEP``); the play button keeps stepping. Every plot draws both systems in
the colours of the run's figures (``sim.plots.arm_colour``), a table gives the paired difference so
far, and "who holds which people" shows the two teams side by side.

The sidebar picks the two systems (any registered ones) and sets the team and the main effects. Each
slider shows its value and unit and, under it, the parameter's description from ``sim/params.py``;
the values are config overrides applied to the project's Hydra config when **Reset** builds new
models. The page is built from Mesa's SolaraViz parts: Mesa's ``ModelController`` (Reset, play,
Step) drives the model, with the page's own sliders in place of SolaraViz's, which show neither a
value nor a unit. The views are laid out in a fixed grid rather than SolaraViz's draggable grid, whose
front-end component does not load under the Vue 3 front end the installed Solara uses. Each browser
session gets its own model.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

import mesa
import numpy as np
import pandas as pd
import solara
from hydra import compose, initialize_config_dir
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from matplotlib.ticker import MaxNLocator
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter
from pydantic import BaseModel
from solara.alias import rw

from sim.compose import CONF_DIR, load_config
from sim.costs import daily_costs
from sim.metrics import continuity
from sim.model import DAYS_PER_YEAR, SERIES, S, StaffingModel
from sim.params import Config
from sim.plots import arm_colour
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
#: Pause between steps while playing (milliseconds).
PLAY_INTERVAL_MS = 150
#: The systems the page starts with: the baseline (compared with) and the arm (arm - baseline).
DEFAULT_SYSTEMS = ("duty", "named")
ROLE_COLOURS = {"social_worker": "#1f77b4", "advanced_practitioner": "#9467bd", "agency": "#ff7f0e"}
WARMUP_GREY = "#ebebeb"
MET_GREY = "#7f7f7f"
NEED_COLOURS = ("#9ecae1", "#4292c6", "#08306b")


def config(overrides: list[str] | None = None) -> Config:
    """The project's config with ``overrides`` (Hydra syntax), composed through Hydra as ``nwsim`` does."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return load_config(compose("config", overrides=list(overrides or [])))


def describe(key: str) -> str:
    """The description of config key ``key`` (dotted, e.g. ``team.people``) in ``sim/params.py``."""
    section: type[BaseModel] = Config
    *parents, field = key.split(".")
    for part in parents:
        annotation = section.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            raise KeyError(f"{key}: {part} is not a section of the config")
        section = annotation
    return section.model_fields[field].description or ""


def _get(cfg: Config, dotted: str) -> Any:
    value: Any = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


# The sidebar's sliders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One slider of the sidebar: a config key, its range and how its value is shown.

    Args:
        key: the config key it overrides (dotted); its description in ``sim/params.py`` is the help text.
        label: the slider's name on the page.
        unit: the unit shown after the value.
        low: the slider's smallest value.
        high: the slider's largest value.
        step: the slider's step.
        percent: show the value (a fraction) as a percentage.
    """

    key: str
    label: str
    unit: str
    low: float
    high: float
    step: float
    percent: bool = False

    @property
    def name(self) -> str:
        """The ``PairedModel`` argument: the last part of the key."""
        return self.key.rsplit(".", 1)[-1]

    @property
    def integer(self) -> bool:
        """Whether the slider moves in whole numbers."""
        return float(self.step).is_integer() and float(self.low).is_integer()

    @property
    def help(self) -> str:
        """What the value changes: the parameter's description in ``sim/params.py``."""
        return describe(self.key)

    @property
    def decimals(self) -> int:
        """Decimal places of the step (0.05 -> 2)."""
        return 0 if self.integer else max(0, -int(np.floor(np.log10(self.step))))

    def clean(self, value: float) -> int | float:
        """A slider's raw value, rounded to the slider's step (no 0.15000000000000002)."""
        return round(float(value)) if self.integer else round(float(value), self.decimals)

    def show(self, value: float) -> str:
        """The value with its unit, as the page shows it."""
        if self.percent:
            return f"{100 * value:.0f}% {self.unit}".strip()
        return f"{value:,.{self.decimals}f} {self.unit}".strip()


#: The sliders, in the sidebar's order; each name is a ``PairedModel`` argument.
CONTROLS = (
    Control("team.people", "People supported", "people", 100, 2000, 50),
    Control("team.caseload_per_worker", "Caseload per social worker", "people per FTE", 10, 40, 1),
    Control("named.caseload_cap", "Named: cap on people held", "people per FTE", 10, 50, 1),
    Control("named.extra_fte", "Named: extra social workers", "FTE", 0.0, 5.0, 0.5),
    Control("workforce.turnover_per_year", "Staff turnover", "per year", 0.0, 0.6, 0.01),
    Control("population.caseload_turnover_per_year", "Caseload turnover", "per year", 0.0, 2.0, 0.05),
    Control("workforce.stress_turnover_gain", "Overload drives staff out", "per unit of overload", 0.0, 5.0, 0.1),
    Control("effects.retell_extra_frac", "Effect: retelling the story", "more contact time", 0.0, 1.0, 0.05, True),
    Control(
        "effects.familiarity_quality_gain", "Effect: a known worker's contact", "better quality", 0.0, 1.0, 0.05, True
    ),
    Control(
        "effects.advocacy_admission_reduction",
        "Effect: a known worker's advocacy",
        "fewer escalations",
        0,
        1,
        0.05,
        True,
    ),
    Control("effects.named_retention", "Effect: named working keeps staff", "lower leaving rate", 0.0, 0.9, 0.05, True),
)
CONTROL_BY_NAME = {control.name: control for control in CONTROLS}
#: Slider name -> config key it overrides.
OVERRIDE_KEYS = {control.name: control.key for control in CONTROLS}
#: The replicate slider: it is no config key, so its help text is written here.
REPLICATES = 100
REPLICATE_HELP = (
    "Which set of random numbers the two systems share: another replicate is another draw of the same team."
)


def control_defaults() -> dict[str, Any]:
    """Every control's starting value: the config's (``conf/``), the default systems and replicate 0."""
    cfg = config()
    values: dict[str, Any] = {"baseline": DEFAULT_SYSTEMS[0], "arm": DEFAULT_SYSTEMS[1], "replicate": 0}
    values.update({control.name: control_value(cfg, control) for control in CONTROLS})
    return values


def control_value(cfg: Config, control: Control) -> int | float:
    """A control's value in ``cfg``; an unset caseload turnover (the static caseload of the defaults) shows as 0."""
    value = _get(cfg, control.key)
    return 0.0 if value is None else value


def system_choices() -> list[dict[str, str]]:
    """The system pickers' items: every registered system, its key the value and its label the text.

    ``title`` is the text Vuetify 3 shows, ``text`` the one Vuetify 2 shows; the model receives ``value``.
    """
    return [{"title": cls.label or name, "text": cls.label or name, "value": name} for name, cls in SYSTEMS.items()]


#: The controls' starting values (worked out once: composing the config takes a moment).
DEFAULTS = control_defaults()


# The model: two teams in lockstep ----------------------------------------------------------------


class PairedModel(mesa.Model):
    """Two staffing systems on the same team and random numbers (one config, one replicate); one step is one week.

    Every control left at None keeps the value of the project's config (``conf/``).

    Args:
        baseline: the staffing system compared with (a key of ``sim.staffing.SYSTEMS``).
        arm: the other staffing system; differences are arm - baseline, as in the run's tables.
        people: team.people.
        caseload_per_worker: team.caseload_per_worker (sets the number of posts).
        caseload_cap: named.caseload_cap.
        extra_fte: named.extra_fte.
        turnover_per_year: workforce.turnover_per_year.
        caseload_turnover_per_year: population.caseload_turnover_per_year (0 or None: the config's own
            referrals and exits, none by default).
        stress_turnover_gain: workforce.stress_turnover_gain.
        retell_extra_frac: effects.retell_extra_frac.
        familiarity_quality_gain: effects.familiarity_quality_gain.
        advocacy_admission_reduction: effects.advocacy_admission_reduction.
        named_retention: effects.named_retention.
        replicate: which replicate's common random numbers both systems use.
        rng: accepted for Mesa's visualisation and ignored: every random number comes from the config's
            seed and ``replicate``.
    """

    def __init__(
        self,
        baseline: str = DEFAULT_SYSTEMS[0],
        arm: str = DEFAULT_SYSTEMS[1],
        people: int | None = None,
        caseload_per_worker: float | None = None,
        caseload_cap: int | None = None,
        extra_fte: float | None = None,
        turnover_per_year: float | None = None,
        caseload_turnover_per_year: float | None = None,
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
            "extra_fte": extra_fte,
            "turnover_per_year": turnover_per_year,
            "caseload_turnover_per_year": caseload_turnover_per_year or None,  # 0: the config's own flows
            "stress_turnover_gain": stress_turnover_gain,
            "retell_extra_frac": retell_extra_frac,
            "familiarity_quality_gain": familiarity_quality_gain,
            "advocacy_admission_reduction": advocacy_admission_reduction,
            "named_retention": named_retention,
        }
        overrides = [f"{OVERRIDE_KEYS[name]}={value}" for name, value in values.items() if value is not None]
        cfg = config(overrides)
        super().__init__(rng=cfg.seed)  # draws nothing: the teams' streams hold every random number
        self.cfg = cfg
        self.baseline, self.arm, self.replicate = str(baseline), str(arm), int(replicate)
        #: The two teams, baseline first.
        self.teams: tuple[StaffingModel, StaffingModel] = (
            StaffingModel(cfg, self.baseline, self.replicate),
            StaffingModel(cfg, self.arm, self.replicate),
        )
        #: The controls this model was built with (the sidebar's values at Reset).
        self.settings = {"baseline": self.baseline, "arm": self.arm, "replicate": self.replicate}
        self.settings.update({control.name: control_value(cfg, control) for control in CONTROLS})
        #: Per team, week by week: day, mean UPC and mean distinct workers per person over the past year.
        self.continuity_history: tuple[list[tuple[int, float, float]], ...] = ([], [])
        #: Per team: per-person continuity over the past year's contacts (``sim.metrics.continuity``), as of today.
        self.recent: tuple[pd.DataFrame, ...] = tuple(recent_table(team) for team in self.teams)

    @property
    def day(self) -> int:
        """Days simulated so far (both teams are always on the same day)."""
        return self.teams[0].day

    def step(self) -> None:
        """One week of both teams: seven days of each one's daily schedule, then each one's continuity."""
        for team in self.teams:
            for _ in range(DAYS_PER_STEP):
                if not team.running:
                    break
                team.step()
        self.recent = tuple(recent_table(team) for team in self.teams)
        for team, table, history in zip(self.teams, self.recent, self.continuity_history, strict=True):
            history.append((team.day, *recent_continuity(team, table)))
        self.running = all(team.running for team in self.teams)


# Numbers read from a team ---------------------------------------------------------------------


def recent_table(model: StaffingModel, days: int = CONTINUITY_DAYS) -> pd.DataFrame:
    """Per-person continuity (``sim.metrics.continuity``) over the contacts of the past ``days`` days."""
    log = model.contact_log()
    recent = log[log["day"] >= model.day - days]
    return continuity(recent["person"].to_numpy(), recent["worker"].to_numpy(), model.people.n)


def recent_continuity(model: StaffingModel, table: pd.DataFrame | None = None) -> tuple[float, float]:
    """Mean UPC (people with at least 2 contacts) and mean distinct workers (people with any) over the past year.

    Args:
        model: a team.
        table: its ``recent_table`` if already worked out.
    """
    table = recent_table(model) if table is None else table
    seen = table["n_contacts"] > 0
    if not seen.any():
        return float("nan"), float("nan")
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


def running_cost_gbp(model: StaffingModel) -> float:
    """The team's costs so far (every ledger line, undiscounted, GBP)."""
    daily = model.daily[: model.day]
    series = {name: daily[:, i] for i, name in enumerate(SERIES)}
    return float(daily_costs(series, model.cfg.costs).sum())


def _count(series: str) -> Callable[[PairedModel, int], float]:
    """A reader of one team's total of a daily series so far."""

    def read(pair: PairedModel, i: int) -> float:
        team = pair.teams[i]
        return float(team.daily[: team.day, S[series]].sum())

    return read


def _upc(pair: PairedModel, i: int) -> float:
    return recent_continuity(pair.teams[i], pair.recent[i])[0]


def _cost(pair: PairedModel, i: int) -> float:
    return running_cost_gbp(pair.teams[i])


#: The paired-difference table's rows: what a manager would call it -> (a reader of team i's value, its kind:
#: ``count``, ``share`` or ``gbp``).
DIFFERENCE_ROWS: dict[str, tuple[Callable[[PairedModel, int], float], str]] = {
    "hospital admissions": (_count("admissions"), "count"),
    "crises": (_count("crises"), "count"),
    "days in hospital (bed days)": (_count("bed_days"), "count"),
    "UPC: share of contacts with the usual worker, past year": (_upc, "share"),
    "times a story was retold": (_count("retellings"), "count"),
    "running cost (every ledger line, undiscounted)": (_cost, "gbp"),
}


def write_value(kind: str, value: float, signed: bool = False) -> str:
    """A value of the difference table: a count, a share (2 decimals) or money (£1.23m, £456k, £789)."""
    if np.isnan(value):
        return "-"
    sign = "+" if signed and value > 0 else ""
    minus = "\u2212" if value < 0 else ""
    size = abs(value)
    if kind == "share":
        text = f"{size:.2f}"
    elif kind == "gbp":
        text = f"£{size / 1e6:,.2f}m" if size >= 1e6 else f"£{size / 1e3:,.0f}k" if size >= 1e4 else f"£{size:,.0f}"
    else:
        text = f"{size:,.0f}"
    return sign + minus + text


def paired_differences(pair: PairedModel) -> pd.DataFrame:
    """The run so far, team by team, and the paired difference (arm - baseline).

    Returns:
        One row per ``DIFFERENCE_ROWS`` entry: ``metric``, ``kind``, ``baseline``, ``arm``, ``difference``
        (totals since day 0; UPC over the past year's contacts).
    """
    rows = []
    for metric, (read, kind) in DIFFERENCE_ROWS.items():
        base, other = read(pair, 0), read(pair, 1)
        rows.append({"metric": metric, "kind": kind, "baseline": base, "arm": other, "difference": other - base})
    return pd.DataFrame(rows)


def _coloured(arm: str) -> str:
    return f'<b style="color:{arm_colour(arm)}">{escape(arm)}</b>'


def differences_html(pair: PairedModel) -> str:
    """The paired-difference table (HTML), each system's name in its colour, the difference in bold."""
    table = paired_differences(pair)
    base, arm = _coloured(pair.baseline), _coloured(pair.arm)
    right = 'style="text-align:right;padding:2px 8px;white-space:nowrap"'
    rows = [
        f"<tr><th style='text-align:left'>week {pair.day // DAYS_PER_STEP}, so far</th>"
        f"<th {right}>{base}</th><th {right}>{arm}</th><th {right}>{arm} &minus; {base}</th></tr>"
    ]
    for row in table.itertuples(index=False):
        share = ""
        if row.kind != "share" and row.baseline and not np.isnan(row.difference):
            share = f" ({write_value('count', 100 * row.difference / row.baseline, signed=True)}%)"
        rows.append(
            f"<tr class='nwsim-row'><td>{escape(row.metric)}</td>"
            f"<td {right}>{write_value(row.kind, row.baseline)}</td><td {right}>{write_value(row.kind, row.arm)}</td>"
            f"<td {right}><b>{write_value(row.kind, row.difference, signed=True)}</b>{share}</td></tr>"
        )
    return f"<table style='border-collapse:collapse;font-size:0.9em'>{''.join(rows)}</table>"


def summary_line(model: StaffingModel) -> str:
    """One team's run so far in one sentence."""
    daily = model.daily[: model.day]
    people = int(daily[-1, S["people"]]) if model.day else model.people.n_start
    person_years = max(daily[:, S["people"]].sum(), people) / DAYS_PER_YEAR
    admissions = daily[:, S["admissions"]].sum()
    pending = model.system.pending()
    holding = f", {pending} waiting for a named worker" if pending or anyone_holds(model) else ""
    referred, left = int(daily[:, S["referrals"]].sum()), int(daily[:, S["exits"]].sum())
    flows = f" ({referred} referred, {left} left so far)" if referred or left else ""
    return (
        f"{model.arm}: {people} people{flows}, {len(model.worker_agents)} workers in post, "
        f"week {model.day // DAYS_PER_STEP} (day {model.day}): {int(admissions)} admissions "
        f"({100 * admissions / person_years:.2f} per 100 person-years), {int(daily[:, S['crises']].sum())} crises, "
        f"{int(daily[:, S['leavers']].sum())} leavers, {int(daily[:, S['contacts']].sum())} contacts{holding}."
    )


# Figures: kept between steps, their artists updated each week -----------------------------------


def _styles(pair: PairedModel) -> list[tuple[StaffingModel, str, str, float]]:
    """Each team with its colour, line style and line width factor.

    The baseline's lines are wider and drawn first, so where the two teams' numbers are equal (the
    same people, the same events) the arm's line shows on the baseline's; the arm is dashed when both
    sides run one system.
    """
    same = pair.baseline == pair.arm
    return [
        (team, arm_colour(team.arm), "--" if same and i else "-", 1.0 if i else 2.2)
        for i, team in enumerate(pair.teams)
    ]


def _headline(pair: PairedModel, what: str) -> str:
    return f"{what}: {pair.arm} and {pair.baseline}, week {pair.day // DAYS_PER_STEP}"


def _fit_y(ax: Any, lines: list[Any], bottom: float | None = 0.0, least: float = 1.0) -> None:
    """Set the y range to the visible lines' data (from ``bottom``, or from their least value when None)."""
    values = [np.asarray(line.get_ydata(), dtype=float) for line in lines if line.get_visible()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.empty(0)
    top = max(float(finite.max()) if finite.size else 0.0, least)
    low = (float(finite.min()) if finite.size else 0.0) if bottom is None else bottom
    ax.set_ylim(low, top * 1.05 if top > 0 else 1.0)


class Drawing:
    """One figure of the page, built once per model and updated each week (building costs more than drawing).

    Subclasses build their axes and artists in ``__init__`` and set their data in ``update``. The figures
    have no legends (matplotlib lays a legend out again on every draw, which costs more than the rest of
    a figure); each one's key is a line of HTML above it, ``key``.
    """

    def __init__(self, figsize: tuple[float, float]) -> None:
        self.fig = Figure(figsize=figsize, dpi=DPI)

    def update(self, pair: PairedModel) -> Figure:
        """Set every artist to ``pair`` as it is now and return the figure."""
        raise NotImplementedError

    def key(self, pair: PairedModel) -> str:
        """The figure's key (HTML): each system's line in its colour, and what the line styles mean."""
        return _systems_key(pair)

    def _three_panels(self, pair: PairedModel) -> Any:
        """Three panels over the weeks, one above the other, the warm-up greyed."""
        self.fig.subplots_adjust(left=0.11, right=0.98, top=0.93, bottom=0.09, hspace=0.1)
        self.axes = axes = self.fig.subplots(3, 1, sharex=True)
        _few_ticks(axes)
        self._span(axes, pair)
        return axes

    @staticmethod
    def _span(axes: Any, pair: PairedModel) -> None:
        """Grey the warm-up weeks, which the tables of a run leave out."""
        end = pair.cfg.warmup_days / DAYS_PER_STEP
        for ax in axes:
            ax.axvspan(0, end, color=WARMUP_GREY, lw=0, zorder=0)


def _swatch(colour: str, text: str, line: float | None = None, mark: str = "■") -> str:
    """One entry of a key: a line (``line`` pixels thick) or a mark in ``colour``, then ``text``."""
    if line is not None:
        glyph = f'<span style="display:inline-block;width:20px;border-top:{line:g}px solid {colour}"></span>'
    else:
        glyph = f'<span style="color:{colour}">{mark}</span>'
    return f'<span style="white-space:nowrap;margin-right:12px">{glyph} {escape(text)}</span>'


def _systems_key(pair: PairedModel, warmup: bool = True) -> str:
    """Each system's line in its colour (the baseline's wider: where both are equal, both show), and the warm-up."""
    entries = [_swatch(colour, team.arm, line=2 * wide) for team, colour, _, wide in _styles(pair)]
    return "".join(entries) + (_swatch("#d0d0d0", "warm-up (not in the tables)") if warmup else "")


def _few_ticks(axes: Any) -> None:
    """At most four y ticks per axes: enough to read, fewer labels to lay out each week."""
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))


class OutcomesDrawing(Drawing):
    """Admissions and crises so far, and continuity (UPC over the past year, known-worker share) of both teams."""

    def __init__(self, pair: PairedModel) -> None:
        super().__init__((7.2, 5.0))
        axes = self._three_panels(pair)
        self.lines = []
        for _, colour, style, wide in _styles(pair):
            self.lines.append(
                (
                    axes[0].plot([], [], color=colour, ls=style, lw=1.4 * wide)[0],
                    axes[1].plot([], [], color=colour, ls=style, lw=1.4 * wide)[0],
                    axes[2].plot([], [], color=colour, lw=0.6 * wide, alpha=0.7)[0],
                    axes[2].plot([], [], color=colour, ls=style, lw=1.6 * wide)[0],
                )
            )
        self.title = axes[0].set_title("", fontsize=10, y=1.0)
        axes[0].set_ylabel("admissions\nso far")
        axes[1].set_ylabel("crises\nso far")
        axes[2].set_ylim(0, 1)
        axes[2].set_ylabel("continuity\n(share)")
        axes[2].set_xlabel("week")

    def key(self, pair: PairedModel) -> str:
        """The systems' colours, and the continuity panel's two lines."""
        return (
            _systems_key(pair)
            + "<br>continuity: "
            + _swatch("#333", "UPC over the past year's contacts", line=3)
            + _swatch("#999", f"share of contacts with a worker who knows the person ({WINDOW_DAYS} days)", line=1)
        )

    def update(self, pair: PairedModel) -> Figure:
        """Set every artist to ``pair`` as it is now and return the figure."""
        weeks = np.arange(pair.day) / DAYS_PER_STEP
        for i, (team, (admissions, crises, known, upc)) in enumerate(zip(pair.teams, self.lines, strict=True)):
            daily = team.daily[: team.day]
            admissions.set_data(weeks, np.cumsum(daily[:, S["admissions"]]))
            crises.set_data(weeks, np.cumsum(daily[:, S["crises"]]))
            contacts = rolling_sum(daily[:, S["contacts"]])
            known.set_data(weeks, _ratio(contacts - rolling_sum(daily[:, S["retellings"]]), contacts))
            history = pair.continuity_history[i]
            days = np.array([day for day, _, _ in history], dtype=float)
            upc.set_data(days / DAYS_PER_STEP, np.array([value for _, value, _ in history], dtype=float))
        self.title.set_text(_headline(pair, "Outcomes and continuity"))
        self.axes[0].set_xlim(0, max(pair.day / DAYS_PER_STEP, 1.0))
        _fit_y(self.axes[0], [lines[0] for lines in self.lines])
        _fit_y(self.axes[1], [lines[1] for lines in self.lines])
        return self.fig


class WorkloadDrawing(Drawing):
    """Waiting days per contact, open contacts and people waiting for a named worker, and stress of both teams."""

    def __init__(self, pair: PairedModel) -> None:
        super().__init__((7.2, 5.0))
        axes = self._three_panels(pair)
        self.lines = []
        for _, colour, style, wide in _styles(pair):
            self.lines.append(
                (
                    axes[0].plot([], [], color=colour, ls=style, lw=1.2 * wide)[0],
                    axes[1].plot([], [], color=colour, ls=style, lw=0.9 * wide)[0],
                    axes[1].plot([], [], color=colour, ls=":", lw=1.6 * wide, visible=False)[0],
                    axes[2].plot([], [], color=colour, ls=style, lw=1.2 * wide)[0],
                )
            )
        self.title = axes[0].set_title("", fontsize=10, y=1.0)
        axes[0].set_ylabel("wait (days)")
        axes[1].set_ylabel("contacts /\npeople")
        axes[2].axhline(1, color="black", lw=0.7, ls="--")
        axes[2].set_ylabel("stress\n(1 = full load)")
        axes[2].set_xlabel("week")

    def update(self, pair: PairedModel) -> Figure:
        """Set every artist to ``pair`` as it is now and return the figure."""
        weeks = np.arange(pair.day) / DAYS_PER_STEP
        for team, (wait, backlog, pending, stress) in zip(pair.teams, self.lines, strict=True):
            daily = team.daily[: team.day]
            wait.set_data(
                weeks, _ratio(rolling_sum(daily[:, S["wait_days"]]), rolling_sum(daily[:, S["waited_contacts"]]))
            )
            backlog.set_data(weeks, daily[:, S["backlog"]])
            pending.set_data(weeks, daily[:, S["pending"]])
            pending.set_visible(ever_held(team))
            stress.set_data(weeks, daily[:, S["mean_stress"]])
        self.title.set_text(_headline(pair, f"Waiting ({WINDOW_DAYS}-day mean), open work and stress"))
        self.axes[0].set_xlim(0, max(pair.day / DAYS_PER_STEP, 1.0))
        for ax, lines in zip(
            self.axes,
            (
                [x[0] for x in self.lines],
                [*(x[1] for x in self.lines), *(x[2] for x in self.lines)],
                [x[3] for x in self.lines],
            ),
            strict=True,
        ):
            _fit_y(ax, lines, least=1.0 if ax is self.axes[2] else 0.1)
        return self.fig

    def key(self, pair: PairedModel) -> str:
        """The systems' colours, and the middle panel's lines (the pending tray once anyone has held people)."""
        middle = _swatch("#333", "open contacts", line=1)
        if any(ever_held(team) for team in pair.teams):
            middle += _swatch("#333", "people waiting for a named worker (dotted)", mark="┈")
        return _systems_key(pair) + "<br>middle panel: " + middle


class WorkersDrawing(Drawing):
    """Who holds which people in each team, side by side, and how many workers each person met.

    Left and middle: one column per worker in post, social workers first, then advanced
    practitioners, then agency workers (the coloured strip under the columns). When anyone in a team
    has a named worker, a column is the people the worker holds, by need level, against the caseload
    cap; when no one does (a duty desk, or a switch-over before its day), a column is the people the
    worker met in the past four weeks. A grey triangle marks a worker who is absent today. Right: how
    many different workers each person met over the past year, in each team.
    """

    def __init__(self, pair: PairedModel) -> None:
        super().__init__((14.5, 3.8))
        self.fig.subplots_adjust(left=0.04, right=0.99, top=0.86, bottom=0.12, wspace=0.15)
        *self.team_axes, self.people_ax = self.fig.subplots(1, 3, width_ratios=(3, 3, 1.4))
        #: Per team, the artists set each week (made once: adding artists costs more than updating them).
        self.panels = [
            self._panel(ax, team, colour)
            for ax, (team, colour, _, _) in zip(self.team_axes, _styles(pair), strict=True)
        ]
        ax = self.people_ax
        ax.set_title("Workers each person met,\npast year", fontsize=9, y=1.0)
        ax.set_xlabel("different workers")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.set_ylabel("people")
        self.met: list[StepPatch] = []
        for _, colour, style, wide in _styles(pair):
            self.met.append(_add(ax, StepPatch([0], [0.5, 1.5], color=colour, ls=style, lw=1.2 * wide, fill=False)))

    def key(self, pair: PairedModel) -> str:
        """What the columns' colours and marks mean, and each system's line in the right-hand panel."""
        needs = "".join(_swatch(c, f"{name} need") for name, c in zip(NEED_LEVELS, NEED_COLOURS, strict=True))
        roles = "".join(_swatch(c, role.replace("_", " ")) for role, c in ROLE_COLOURS.items())
        return (
            f"held: {needs}{_swatch('#333', 'cap (1 FTE)', mark='┄')}"
            f"{_swatch(MET_GREY, f'people met, past {WINDOW_DAYS} days (when no one holds anyone)')}"
            f"<br>{_swatch('gray', 'absent today', mark='▼')} strip under the columns: {roles}"
            f" right: {_systems_key(pair, warmup=False)}"
        )

    @staticmethod
    def _panel(ax: Any, team: StaffingModel, colour: str) -> dict[str, Any]:
        """One team's axes and the artists its update sets."""
        ax.set_xlabel(f"{team.arm}'s workers in post")
        ax.set_xticks([])  # a column per worker: the strip under the columns says who they are
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
        empty = ([0], [-0.5, 0.5])
        return {
            "title": ax.set_title("", fontsize=10, y=1.0, color=colour),
            "held": [_add(ax, StepPatch(*empty, fill=True, color=c, lw=0)) for c in NEED_COLOURS],
            "cap": ax.axhline(team.cfg.named.caseload_cap, color="black", lw=0.7, ls="--"),
            "met": _add(ax, StepPatch(*empty, fill=True, color=MET_GREY, lw=0)),
            "roles": ax.scatter([], [], marker="s", s=12),
            "absent": ax.scatter([], [], color="gray", marker="v", s=14),
            "gaps": ax.vlines([], 0, 1, color="white", lw=0.5),  # a thin gap between workers
        }

    def update(self, pair: PairedModel) -> Figure:
        """Set every artist to ``pair`` as it is now and return the figure."""
        for ax, panel, team in zip(self.team_axes, self.panels, pair.teams, strict=True):
            self._team(ax, panel, team)
        top = 1
        for table, patch in zip(pair.recent, self.met, strict=True):
            distinct = table.loc[table["n_contacts"] > 0, "distinct_workers"].to_numpy()
            counts = np.bincount(distinct, minlength=2)[1:]
            patch.set_data(counts, np.arange(counts.size + 1) + 0.5)
            top = max(top, counts.size)
        self.people_ax.set_xlim(0.5, top + 0.5)
        highest = max(float(patch.get_data().values.max(initial=0)) for patch in self.met)
        self.people_ax.set_ylim(0, max(highest, 1.0) * 1.1)
        return self.fig

    @staticmethod
    def _team(ax: Any, panel: dict[str, Any], team: StaffingModel) -> None:
        workers = sorted(team.worker_agents, key=lambda w: (ROLES.index(w.role), w.post))
        rows = np.array([w.row for w in workers], dtype=np.int64)
        edges = np.arange(rows.size + 1) - 0.5
        pending = team.system.pending()
        waiting = f", {pending} waiting for a named worker" if pending else ""
        holds = anyone_holds(team)
        for patch in panel["held"]:
            patch.set_visible(holds)
        panel["cap"].set_visible(holds)
        panel["met"].set_visible(not holds)
        if holds:
            held = held_by_need(team, rows)
            base = np.zeros(rows.size)
            for level, patch in enumerate(panel["held"]):
                patch.set_data(base + held[level], edges, baseline=base)
                base = base + held[level]
            ax.set_ylabel("people held")
            panel["title"].set_text(f"{team.arm}: the people each worker holds{waiting}")
            top = max(float(base.max(initial=0)), team.cfg.named.caseload_cap)
        else:
            seen = seen_recently(team, rows)
            panel["met"].set_data(seen, edges)
            ax.set_ylabel("people met")
            panel["title"].set_text(f"{team.arm}: no one holds anyone; people met, past {WINDOW_DAYS} days{waiting}")
            top = float(seen.max(initial=0))
        top = max(top, 1.0) * 1.15
        panel["roles"].set_offsets(np.column_stack([np.arange(rows.size), np.full(rows.size, -0.04 * top)]))
        panel["roles"].set_facecolor([ROLE_COLOURS[w.role] for w in workers])
        absent = np.flatnonzero([w.absent for w in workers])
        panel["absent"].set_offsets(np.column_stack([absent, np.full(absent.size, 0.93 * top)]))
        panel["gaps"].set_segments([[(x, 0), (x, top)] for x in edges[1:-1]])
        ax.set_ylim(-0.08 * top, top)
        ax.set_xlim(edges[0], max(edges[-1], 1.0))


class CaseloadDrawing(Drawing):
    """People on the caseload, and referrals and exits over the past four weeks, in both teams."""

    def __init__(self, pair: PairedModel) -> None:
        super().__init__((7.2, 5.0))
        axes = self._three_panels(pair)
        self.lines = [
            tuple(axes[i].plot([], [], color=colour, ls=style, lw=1.2 * wide)[0] for i in range(3))
            for _, colour, style, wide in _styles(pair)
        ]
        self.title = axes[0].set_title("", fontsize=10, y=1.0)
        axes[0].set_ylabel("people on\nthe caseload")
        axes[1].set_ylabel(f"referrals\n({WINDOW_DAYS} days)")
        axes[2].set_ylabel(f"exits\n({WINDOW_DAYS} days)")
        axes[2].set_xlabel("week")

    def key(self, pair: PairedModel) -> str:
        """The systems' colours, and why their lines lie on top of each other."""
        return _systems_key(pair) + (
            "<br>Both teams see the same referrals, closures, moves and deaths (common random numbers); "
            "set a caseload turnover in the sidebar to let people come and go."
        )

    def update(self, pair: PairedModel) -> Figure:
        """Set every artist to ``pair`` as it is now and return the figure."""
        weeks = np.arange(pair.day) / DAYS_PER_STEP
        for team, (people, referrals, exits) in zip(pair.teams, self.lines, strict=True):
            daily = team.daily[: team.day]
            people.set_data(weeks, daily[:, S["people"]])
            referrals.set_data(weeks, rolling_sum(daily[:, S["referrals"]]))
            exits.set_data(weeks, rolling_sum(daily[:, S["exits"]]))
        self.title.set_text(_headline(pair, "People come and go"))
        self.axes[0].set_xlim(0, max(pair.day / DAYS_PER_STEP, 1.0))
        for i, ax in enumerate(self.axes):
            _fit_y(ax, [lines[i] for lines in self.lines])
        return self.fig


def _add(ax: Any, patch: StepPatch) -> StepPatch:
    """Add a patch without widening the data limits (the drawings set their limits themselves)."""
    ax.add_artist(patch)
    return patch


#: The page's figures, each with the CSS class of its card.
DRAWINGS: dict[str, type[Drawing]] = {
    "nwsim-outcomes": OutcomesDrawing,
    "nwsim-workload": WorkloadDrawing,
    "nwsim-workers": WorkersDrawing,
    "nwsim-caseload": CaseloadDrawing,
}


def outcomes_figure(pair: PairedModel) -> Figure:
    """Admissions, crises and continuity of both teams, as the page draws them now (a new figure)."""
    return OutcomesDrawing(pair).update(pair)


def workload_figure(pair: PairedModel) -> Figure:
    """Waiting, open work and stress of both teams, as the page draws them now (a new figure)."""
    return WorkloadDrawing(pair).update(pair)


def workers_figure(pair: PairedModel) -> Figure:
    """Who holds which people in each team, side by side, as the page draws it now (a new figure)."""
    return WorkersDrawing(pair).update(pair)


def caseload_figure(pair: PairedModel) -> Figure:
    """People on the caseload, referrals and exits of both teams, as the page draws them now (a new figure)."""
    return CaseloadDrawing(pair).update(pair)


# The page ------------------------------------------------------------------------------------


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes at the page's resolution (light compression: the image travels on a local link)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


@solara.component
def Plot(css: str, pair: PairedModel, day: int) -> None:
    """One figure of ``pair`` (``DRAWINGS[css]``), built once per model and drawn again when its ``day`` changes."""
    drawing = solara.use_memo(lambda: DRAWINGS[css](pair), dependencies=[css, pair])
    image = solara.use_memo(lambda: png(drawing.update(pair)), dependencies=[drawing, day])
    with solara.Card(classes=[css], margin=0):
        solara.HTML("div", unsafe_innerHTML=drawing.key(pair), classes=["nwsim-key"], style="font-size:0.8em")
        rw.Image(value=image, format="png", layout={"max_width": "100%"})


@solara.component
def Views(pair: PairedModel) -> None:
    """Every view of ``pair``, drawn again whenever the controller steps or resets the model."""
    update_counter.get()  # subscribe to Mesa's step and reset updates
    same = " (the same system twice: the two runs are identical)" if pair.baseline == pair.arm else ""
    with solara.Column(classes=["nwsim-views"]):
        with solara.Row(classes=["nwsim-top"], style={"align-items": "stretch"}):
            with solara.Card(
                "The same people, two ways of staffing" + same, classes=["nwsim-summary"], margin=0, style={"flex": "1"}
            ):
                for team in pair.teams:
                    line = summary_line(team)
                    solara.HTML(
                        "p",
                        unsafe_innerHTML=f"{_coloured(team.arm)}{escape(line[len(team.arm) :])}",
                        style="margin:0 0 8px",
                        classes=["nwsim-team"],
                    )
                solara.Text(
                    "Both teams have the same people, life events and random numbers (common random numbers); "
                    "only the staffing system differs. The grey weeks are the warm-up, which the tables of a run leave "
                    "out."
                )
            with solara.Card("Paired difference so far", classes=["nwsim-differences"], margin=0, style={"flex": "1"}):
                solara.HTML("div", unsafe_innerHTML=differences_html(pair), classes=["nwsim-table"])
                solara.Text(
                    "Totals since day 0 (warm-up included); the difference's share of the baseline in brackets.",
                    style={"font-size": "0.8em", "color": "#666"},
                )
        with solara.GridFixed(columns=2):
            Plot("nwsim-outcomes", pair, pair.day)
            Plot("nwsim-workload", pair, pair.day)
        Plot("nwsim-workers", pair, pair.day)
        with solara.GridFixed(columns=2):
            Plot("nwsim-caseload", pair, pair.day)


def _value_line(label: str, shown: str) -> None:
    """A control's name and, in its own element (``nwsim-value``), its value with the unit."""
    with solara.Row(gap="6px", style={"align-items": "baseline", "flex-wrap": "wrap"}):
        solara.Text(f"{label}:", style={"font-weight": "bold"})
        solara.Text(shown, classes=["nwsim-value"])


@solara.component
def ControlSlider(control: Control, values: solara.Reactive[dict[str, Any]]) -> None:
    """A slider with its value and unit above it and the parameter's description under it."""
    value = values.value[control.name]

    def set_value(raw: float) -> None:
        values.value = {**values.value, control.name: control.clean(raw)}

    slider = solara.SliderInt if control.integer else solara.SliderFloat
    with solara.Column(gap="0px", classes=["nwsim-control", f"nwsim-control-{control.name}"]):
        _value_line(control.label, control.show(value))
        slider(
            "",
            value=value,
            min=control.low,
            max=control.high,
            step=control.step,
            on_value=set_value,
            thumb_label=False,
        )
        solara.Text(control.help, style={"font-size": "0.75em", "color": "#666"})


@solara.component
def Controls(pair: solara.Reactive[PairedModel], values: solara.Reactive[dict[str, Any]]) -> None:
    """The sidebar's pickers and sliders; they act when Reset builds new models."""

    def setter(name: str) -> Callable[[Any], None]:
        return lambda value: values.set({**values.value, name: value})

    with solara.Card("Systems", classes=["nwsim-systems"]):
        solara.Select(
            "Compared with (baseline)",
            value=values.value["baseline"],
            values=system_choices(),
            on_value=setter("baseline"),
        )
        solara.Select("Staffing system", value=values.value["arm"], values=system_choices(), on_value=setter("arm"))
        solara.Text(
            "Differences are the staffing system minus the baseline, as in a run's tables.",
            style={"font-size": "0.75em", "color": "#666"},
        )
    with solara.Card("Team and effects", classes=["nwsim-parameters"]):
        for control in CONTROLS:
            ControlSlider(control, values)
        with solara.Column(gap="0px", classes=["nwsim-control", "nwsim-control-replicate"]):
            _value_line("Replicate", str(values.value["replicate"]))
            solara.SliderInt(
                "",
                value=values.value["replicate"],
                min=0,
                max=REPLICATES - 1,
                on_value=setter("replicate"),
                thumb_label=False,
            )
            solara.Text(REPLICATE_HELP, style={"font-size": "0.75em", "color": "#666"})
    changed = [name for name, value in values.value.items() if pair.value.settings.get(name) != value]
    if changed:
        solara.Info(f"Press Reset to run with the new settings ({len(changed)} changed).", dense=True)


@solara.component
def SidebarContent(
    pair: solara.Reactive[PairedModel],
    values: solara.Reactive[dict[str, Any]],
    play_interval: solara.Reactive[int],
    render_interval: solara.Reactive[int],
) -> None:
    """The sidebar: Mesa's controller (Reset builds ``PairedModel(**values)``), the pickers and the sliders."""
    use_threads = solara.use_reactive(False)
    with solara.Column():
        with solara.Card("Controls", classes=["nwsim-controller"]):
            ModelController(
                pair,
                model_parameters=values,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            )
            solara.SliderInt(
                f"Redraw every {render_interval.value} week(s)",
                value=render_interval,
                min=1,
                max=52,
                thumb_label=False,
            )
        Controls(pair, values)


@solara.component
def Page() -> None:
    """The page: the controller, the system pickers and the sliders in the sidebar, the views in the main area."""
    first = solara.use_memo(PairedModel, dependencies=[])  # one model per browser session
    pair = solara.use_reactive(first)
    values = solara.use_reactive(DEFAULTS)
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(1)
    with solara.AppBar():
        solara.AppBarTitle("Two staffing systems, the same people, week by week")
    with solara.Sidebar():
        SidebarContent(pair, values, play_interval, render_interval)
    Views(pair.value)
