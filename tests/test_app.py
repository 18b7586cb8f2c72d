"""The interactive page's model and views, without a browser: sliders map to config, a step is a week."""

from __future__ import annotations

import pytest

from sim.app import DAYS_PER_STEP, MODEL_PARAMS, ExploreModel, outcomes_plot, summary_text, workers_view, workload_plot


def test_every_slider_is_a_model_argument() -> None:
    import inspect

    assert set(MODEL_PARAMS) <= set(inspect.signature(ExploreModel.__init__).parameters)


@pytest.mark.parametrize("named", [1, 0])
def test_a_step_is_a_week_and_the_views_render(named: int) -> None:
    model = ExploreModel(named=named, people=200, turnover_per_year=0.3)
    assert model.arm == ("named" if named else "duty")
    assert model.cfg.team.people == 200
    assert model.cfg.workforce.turnover_per_year == 0.3
    for _ in range(3):
        model.step()
    assert model.day == 3 * DAYS_PER_STEP
    for view in (outcomes_plot, workload_plot, workers_view, summary_text):
        assert view(model) is not None
    assert "200 people, day 21" in summary_text(model).args[0]
