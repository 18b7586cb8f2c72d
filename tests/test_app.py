"""The interactive page without a browser: two systems in lockstep on the same people and random
numbers, a step is a week of both, the sliders show their values and map to config, the views and the
paired difference read the teams' own numbers; and the page's front-end files are found and unpacked."""

from __future__ import annotations

import inspect
import io
import os
import stat
import tarfile
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
import solara.widgets
from conftest import make_config
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from sim import app_assets
from sim.app import (
    CONTROL_BY_NAME,
    CONTROLS,
    DAYS_PER_STEP,
    DEFAULTS,
    DIFFERENCE_ROWS,
    DRAWINGS,
    PairedModel,
    SidebarContent,
    Views,
    anyone_holds,
    caseload_figure,
    describe,
    differences_html,
    held_by_need,
    paired_differences,
    png,
    recent_continuity,
    seen_recently,
    summary_line,
    system_choices,
    workers_figure,
)
from sim.costs import ledger
from sim.metrics import continuity
from sim.model import SERIES, S, StaffingModel
from sim.params import Team
from sim.plots import arm_colour
from sim.population import NO_ONE
from sim.staffing import SYSTEMS


def test_every_slider_shows_its_value_and_unit_and_the_parameter_description() -> None:
    params = inspect.signature(PairedModel.__init__).parameters
    cfg = make_config()
    for control in CONTROLS:
        section, field = control.key.split(".")
        value = getattr(getattr(cfg, section), field)
        if value is None:  # unset caseload turnover: the defaults' static caseload, shown as 0
            assert control.key == "population.caseload_turnover_per_year"
            assert cfg.population.referrals_per_year == 0
            value = 0.0
        assert control.name in params, control.name
        assert DEFAULTS[control.name] == value, control.name  # the sliders start at conf/'s values
        assert control.low <= value <= control.high, control.name
        assert control.help, control.name
        assert control.help == describe(control.key), control.name  # from sim/params.py
        assert control.show(value).endswith(control.unit), control.name
    assert CONTROL_BY_NAME["people"].help == Team.model_fields["people"].description
    assert CONTROL_BY_NAME["people"].show(500) == "500 people"
    assert CONTROL_BY_NAME["turnover_per_year"].show(0.15) == "0.15 per year"
    assert CONTROL_BY_NAME["retell_extra_frac"].show(0.5) == "50% more contact time"
    assert CONTROL_BY_NAME["turnover_per_year"].clean(0.15000000000000002) == 0.15
    assert CONTROL_BY_NAME["people"].clean(500.0) == 500
    assert {"baseline", "arm", "replicate"} <= set(params)


def test_the_system_pickers_list_every_registered_system_by_its_label() -> None:
    choices = system_choices()
    assert [item["value"] for item in choices] == list(SYSTEMS)
    assert [item["title"] for item in choices] == [cls.label for cls in SYSTEMS.values()]
    assert (DEFAULTS["baseline"], DEFAULTS["arm"]) == ("duty", "named")


def test_a_step_is_a_week_of_both_systems_on_the_same_people_and_random_numbers() -> None:
    pair = PairedModel(people=150)
    assert pair.cfg.model_dump(exclude={"team"}) == make_config().model_dump(exclude={"team"})  # conf/ as it is
    assert [team.arm for team in pair.teams] == ["duty", "named"]
    for _ in range(3):
        pair.step()
    assert (pair.day, pair.steps) == (3 * DAYS_PER_STEP, 3)
    for team in pair.teams:  # each team is the plain model of its system: same config, same random numbers
        plain = StaffingModel(make_config("team.people=150"), team.arm, 0)
        plain.run_for(3 * DAYS_PER_STEP)
        np.testing.assert_array_equal(team.daily, plain.daily)
    duty, named = pair.teams
    for a, b in zip(duty.life_events, named.life_events, strict=True):  # the same people, the same life events
        np.testing.assert_array_equal(a, b)
    assert [[day for day, _, _ in history] for history in pair.continuity_history] == [[7, 14, 21]] * 2

    # The paired difference so far: the teams' own totals, named - duty.
    table = paired_differences(pair).set_index("metric")
    admissions = [team.daily[: pair.day, S["admissions"]].sum() for team in pair.teams]
    assert table.loc["hospital admissions", ["baseline", "arm"]].tolist() == admissions
    retold = [team.daily[: pair.day, S["retellings"]].sum() for team in pair.teams]
    assert table.loc["times a story was retold", "difference"] == retold[1] - retold[0]
    for i, team in enumerate(pair.teams):
        series = {name: team.daily[: pair.day, k] for k, name in enumerate(SERIES)}
        cost = ledger(series, pair.cfg.costs)["cost_total_undiscounted_gbp"]
        column = ["baseline", "arm"][i]
        assert table.loc["running cost (every ledger line, undiscounted)", column] == pytest.approx(cost)
    assert list(table.index) == list(DIFFERENCE_ROWS)
    html = differences_html(pair)
    assert "week 3, so far" in html
    assert arm_colour("duty") in html
    assert arm_colour("named") in html


def test_controls_become_config_overrides() -> None:
    pair = PairedModel(
        baseline="hybrid",
        arm="duty",
        people=150,
        caseload_per_worker=30,
        turnover_per_year=0.4,
        named_retention=0,
        replicate=3,
    )
    assert [(team.arm, team.replicate) for team in pair.teams] == [("hybrid", 3), ("duty", 3)]
    assert pair.cfg.team.people == 150
    assert pair.cfg.team.caseload_per_worker == 30
    assert pair.cfg.workforce.turnover_per_year == 0.4
    assert pair.cfg.effects.named_retention == 0
    assert pair.settings["people"] == 150
    assert pair.settings["baseline"] == "hybrid"


def test_views_read_the_team() -> None:
    model = StaffingModel(make_config("team.people=200", "workforce.turnover_per_year=0.5"), "named", 0)
    model.run_for(10 * DAYS_PER_STEP)
    rows = np.array([w.row for w in model.worker_agents])
    held = held_by_need(model, rows)
    assert held.sum() == np.count_nonzero(model.people.named_worker != NO_ONE)
    np.testing.assert_array_equal(held.sum(axis=0), model.staff.caseload[rows])

    log = model.contact_log()
    recent = log[log["day"] >= model.day - 28]
    seen = seen_recently(model, rows)
    assert seen.sum() == recent.groupby("worker")["person"].nunique().reindex(rows, fill_value=0).sum()

    upc, distinct = recent_continuity(model)
    table = continuity(log["person"].to_numpy(), log["worker"].to_numpy(), model.people.n)
    assert upc == pytest.approx(table["upc"].mean())  # the whole run is shorter than a year
    assert 1 <= distinct <= len(rows)
    assert summary_line(model).startswith("named: 200 people")
    assert "week 10 (day 70)" in summary_line(model)


def _line_colours(fig: Figure) -> set[str]:
    return {to_hex(line.get_color()) for line in fig.axes[0].get_lines()}


@pytest.mark.parametrize(("baseline", "arm"), [("duty", "named"), ("hybrid", "switch")])  # every system
def test_every_view_draws_both_systems_and_is_redrawn_in_place(baseline: str, arm: str) -> None:
    pair = PairedModel(baseline=baseline, arm=arm, people=150)
    drawings = {css: kind(pair) for css, kind in DRAWINGS.items()}
    figures = {css: drawing.update(pair) for css, drawing in drawings.items()}  # at day 0, before any contact
    pair.step()
    for css, drawing in drawings.items():
        assert drawing.update(pair) is figures[css]  # the same figure, its artists updated
        assert png(figures[css]).startswith(b"\x89PNG")
    for css in ("nwsim-outcomes", "nwsim-workload"):  # both systems, in the run's colours
        assert {arm_colour(baseline), arm_colour(arm)} <= _line_colours(figures[css])
        assert figures[css].axes[0].get_title().endswith("week 1")
        assert len(figures[css].axes[0].get_lines()[0].get_xdata()) == DAYS_PER_STEP
    titles = [ax.get_title() for ax in figures["nwsim-workers"].axes[:2]]
    assert [title.split(":")[0] for title in titles] == [baseline, arm]  # the two teams side by side
    artists = [len(ax.get_children()) for ax in figures["nwsim-workers"].axes]
    pair.step()
    drawings["nwsim-workers"].update(pair)
    assert [len(ax.get_children()) for ax in figures["nwsim-workers"].axes] == artists  # updated, not drawn over
    for css, drawing in drawings.items():  # each figure's key names both systems
        assert f"{baseline}</span>" in drawing.key(pair), css
        assert f"{arm}</span>" in drawing.key(pair), css


def test_views_decide_from_the_data_not_the_system() -> None:
    """Who holds people and who waits come from the teams' arrays and the system's ``pending`` hook."""
    pair = PairedModel(baseline="switch", arm="named", people=150, caseload_cap=10)  # too few places: some wait
    pair.step()
    switch, named = pair.teams
    assert not anyone_holds(switch)  # a switch-over holds no one before its day (the first weeks are the warm-up)
    assert anyone_holds(named)
    pending = named.system.pending()
    assert pending > 0
    titles = [ax.get_title() for ax in workers_figure(pair).axes[:2]]
    assert "no one holds anyone" in titles[0]
    assert "waiting" not in titles[0]
    assert "the people each worker holds" in titles[1]
    assert f"{pending} waiting for a named worker" in titles[1]
    assert f"{pending} waiting for a named worker" in summary_line(named)
    assert "waiting for a named worker" not in summary_line(switch)


def test_the_page_steps_both_teams_shows_slider_values_and_resets_with_them() -> None:
    """The page's components without a browser: Step, a slider's value, Reset (Mesa's controller builds the pair)."""

    @solara.component
    def Harness() -> None:
        first = solara.use_memo(lambda: PairedModel(people=150), dependencies=[])
        pair = solara.use_reactive(first)
        values = solara.use_reactive({**DEFAULTS, "people": 150})
        SidebarContent(pair, values, solara.use_reactive(1), solara.use_reactive(1))
        Views(pair.value)

    _, rc = solara.render(Harness(), handle_error=False)
    control = rc.find(v.Sheet, class_="d-flex ma-0 nwsim-control nwsim-control-people")
    shown = control.find(v.Html, class_="nwsim-value")

    def texts() -> list[str]:  # the two teams' summaries, then the paired-difference table
        found: dict[str, list[str]] = {"nwsim-team": [], "nwsim-table": []}
        for widget in rc.find(solara.widgets.HTML).widgets:
            found.get(widget.attributes.get("class", ""), []).append(widget.unsafe_innerHTML)
        return found["nwsim-team"] + found["nwsim-table"]

    def images() -> list[bytes]:
        return [bytes(widget.value) for widget in rc.find(ipywidgets.Image).widgets]

    assert shown.widget.children == ["150 people"]
    before, drawn = texts(), images()
    assert len(drawn) == len(DRAWINGS)
    assert "duty</b>: 150 people" in before[0]
    assert "named</b>: 150 people" in before[1]
    rc.find(v.Btn, children=["Step"]).widget.click()
    after = texts()
    assert "week 1 (day 7)" in after[0]
    assert "week 1 (day 7)" in after[1]
    assert after[2] != before[2]
    assert "week 1, so far" in after[2]
    assert all(a != b for a, b in zip(images(), drawn, strict=True))  # every figure drawn again

    control.find(v.Slider).widget.v_model = 200  # the slider moves: its value shows, and Reset is asked for
    assert shown.widget.children == ["200 people"]
    assert rc.find(v.Alert).widget.children[0].startswith("Press Reset")
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "duty</b>: 200 people" in texts()[0]
    assert "week 0 (day 0)" in texts()[0]
    assert not rc.find(v.Alert).widgets
    rc.close()


# Front-end files ---------------------------------------------------------------------------------


def test_front_end_packages_are_read_from_solara() -> None:
    packages = app_assets.required_packages()
    names = [p.rsplit("@", 1)[0] for p in packages]
    assert "requirejs" in names
    assert "@widgetti/vue-grid-layout" in names
    assert any(name.startswith("@widgetti/solara-vuetify") for name in names)
    assert all(p.rsplit("@", 1)[1][0].isdigit() for p in packages)  # exact versions


def _fake_npm(tmp_path: Path) -> str:
    """An npm stand-in whose `pack NAME@VERSION --pack-destination DIR` writes a small tarball."""
    script = tmp_path / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'dest="$5"; work=$(mktemp -d); mkdir -p "$work/package"\n'
        'echo "{\\"name\\": \\"$2\\"}" > "$work/package/package.json"; echo "js" > "$work/package/main.js"\n'
        'tar -czf "$dest/fake-1.0.0.tgz" -C "$work" package; echo fake-1.0.0.tgz\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_missing_packages_are_fetched_and_unpacked(tmp_path: Path) -> None:
    cache = tmp_path / "cdn"
    assert app_assets.missing_packages(cache) == app_assets.required_packages()
    (cache / "requirejs@2.3.6" / "bin").mkdir(parents=True)  # a half-removed folder counts as missing
    fetched = app_assets.ensure(cache, npm=_fake_npm(tmp_path))
    assert fetched == app_assets.required_packages()
    assert app_assets.missing_packages(cache) == []
    for package in fetched:
        assert (cache / package / "main.js").read_text().strip() == "js"
    assert not [p for p in cache.rglob(".fetch-*")]  # no leftovers of the unpacking
    assert app_assets.ensure(cache, npm="/nonexistent/npm") == []  # nothing to do, npm not needed


def test_no_npm_is_reported_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="npm is needed"):
        app_assets.ensure(tmp_path / "cdn")


def test_unpacking_keeps_to_the_cache(tmp_path: Path) -> None:
    """A tarball with a path outside its package folder is refused (tarfile's data filter)."""
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as archive:
        data = b"x"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    script = tmp_path / "npm"
    script.write_text(f'#!/bin/sh\ncp {evil} "$5/evil.tgz"; echo evil.tgz\n')
    script.chmod(0o755)
    with pytest.raises(tarfile.OutsideDestinationError):
        app_assets.fetch("evil@1.0.0", tmp_path / "cdn", npm=str(script))
    assert not (tmp_path / "escape.txt").exists()
    assert os.listdir(tmp_path / "cdn") == []


def test_the_page_shows_people_coming_and_going() -> None:
    """With a caseload turnover set, both teams show the same referrals and exits; the static default shows none."""
    pair = PairedModel(people=150, caseload_turnover_per_year=2.0)
    assert pair.cfg.population.referrals_per_year == 2.0
    assert pair.settings["caseload_turnover_per_year"] == 2.0
    for _ in range(8):
        pair.step()
    duty, _named = pair.teams
    referred = int(duty.daily[: duty.day, S["referrals"]].sum())
    left = int(duty.daily[: duty.day, S["exits"]].sum())
    assert referred > 0
    assert left > 0
    for team in pair.teams:
        assert f"{150 - left + referred} people ({referred} referred, {left} left so far)" in summary_line(team)
    figure = caseload_figure(pair)
    people = [line.get_ydata() for line in figure.axes[0].get_lines()]
    assert len(people) == 2
    assert (people[0] == people[1]).all()
    assert people[0][-1] == 150 - left + referred
    static = PairedModel(people=150)
    assert static.settings["caseload_turnover_per_year"] == 0.0
    assert static.cfg.population.referrals_per_year == 0
    static.step()
    assert "referred" not in summary_line(static.teams[0])
