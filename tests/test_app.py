"""The interactive page's model and views, without a browser: controls map to config, a step is a week,
the views read the model's own numbers; and the page's front-end files are found and unpacked."""

from __future__ import annotations

import inspect
import io
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config

from sim import app_assets
from sim.app import (
    DAYS_PER_STEP,
    MODEL_PARAMS,
    OVERRIDE_KEYS,
    ExploreModel,
    Views,
    anyone_holds,
    held_by_need,
    outcomes_plot,
    recent_continuity,
    seen_recently,
    summary_text,
    workers_view,
    workload_plot,
)
from sim.metrics import continuity
from sim.model import StaffingModel
from sim.population import NO_ONE
from sim.staffing import SYSTEMS


def test_every_control_is_a_model_argument_with_the_config_default() -> None:
    params = inspect.signature(ExploreModel.__init__).parameters
    assert set(MODEL_PARAMS) <= set(params)
    cfg = make_config()
    for name, key in OVERRIDE_KEYS.items():
        section, field = key.split(".")
        assert MODEL_PARAMS[name].value == getattr(getattr(cfg, section), field), name
        assert MODEL_PARAMS[name].min <= MODEL_PARAMS[name].value <= MODEL_PARAMS[name].max, name


def test_the_system_picker_lists_every_registered_system_by_its_label() -> None:
    picker = MODEL_PARAMS["arm"]
    assert [item["value"] for item in picker["values"]] == list(SYSTEMS)
    assert [item["title"] for item in picker["values"]] == [cls.label for cls in SYSTEMS.values()]
    assert picker["value"] in SYSTEMS


def test_the_first_model_is_the_config_as_it_is() -> None:
    """The page's first model (no arguments) matches the sliders' starting values, i.e. conf/."""
    model = ExploreModel(people=150)
    assert model.cfg.model_dump(exclude={"team"}) == make_config().model_dump(exclude={"team"})
    assert model.arm == "named"


def test_controls_become_config_overrides() -> None:
    model = ExploreModel(
        arm="duty", people=150, caseload_per_worker=30, turnover_per_year=0.4, named_retention=0, replicate=3
    )
    assert (model.arm, model.replicate) == ("duty", 3)
    assert model.cfg.team.people == 150
    assert model.cfg.team.caseload_per_worker == 30
    assert model.cfg.workforce.turnover_per_year == 0.4
    assert model.cfg.effects.named_retention == 0


@pytest.mark.parametrize("arm", ["named", "duty"])
def test_a_step_is_a_week_and_matches_the_daily_model(arm: str) -> None:
    page = ExploreModel(arm=arm, people=150)
    plain = StaffingModel(make_config("team.people=150"), arm, 0)
    for _ in range(3):
        page.step()
    plain.run_for(3 * DAYS_PER_STEP)
    assert page.day == 3 * DAYS_PER_STEP
    assert page.steps == 3
    np.testing.assert_array_equal(page.daily, plain.daily)  # same config, same random numbers
    assert [day for day, _, _ in page.continuity_history] == [7, 14, 21]


def test_views_read_the_model() -> None:
    model = ExploreModel(people=200, turnover_per_year=0.5)
    for _ in range(10):
        model.step()
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

    text = summary_text(model).kwargs.get("text") or summary_text(model).args[0]
    assert text.startswith("named: 200 people")
    assert "week 10 (day 70)" in text


@pytest.mark.parametrize("arm", list(SYSTEMS))
def test_every_view_draws(arm: str) -> None:
    model = ExploreModel(arm=arm, people=150)
    for view in (outcomes_plot, workload_plot, workers_view):  # at day 0, before any contact
        assert view(model) is not None
    for _ in range(2):
        model.step()
    for view in (outcomes_plot, workload_plot, workers_view):
        element = view(model)
        figure = element.kwargs.get("figure") or element.args[0]
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        assert buffer.getvalue().startswith(b"\x89PNG")
    assert Views(model) is not None


def _title(element: object) -> str:
    figure = element.kwargs.get("figure") or element.args[0]  # type: ignore[attr-defined]
    return figure.axes[0].get_title()


def test_views_decide_from_the_data_not_the_system() -> None:
    """Who holds people and who waits come from the model's arrays and the system's ``pending`` hook."""
    duty = ExploreModel(arm="duty", people=150)
    duty.step()
    assert not anyone_holds(duty)
    assert "no one holds anyone under this system" in _title(workers_view(duty))
    assert "waiting for a named worker" not in (summary_text(duty).kwargs.get("text") or summary_text(duty).args[0])

    named = ExploreModel(arm="named", people=150, caseload_cap=10)  # too few places: some people wait
    named.step()
    assert anyone_holds(named)
    pending = named.system.pending()
    assert pending > 0
    assert "people each worker holds" in _title(workers_view(named))
    assert f"{pending} waiting for a named worker" in _title(workers_view(named))
    text = summary_text(named).kwargs.get("text") or summary_text(named).args[0]
    assert f"{pending} waiting for a named worker" in text

    # A switch-over holds no one before its day (the page's first weeks are the warm-up), and people after it.
    switch = ExploreModel(arm="switch", people=150)
    switch.step()
    assert not anyone_holds(switch)
    assert "no one holds anyone under this system" in _title(workers_view(switch))


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
