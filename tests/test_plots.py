"""The run's figures: a fixed colour per arm, every arm in every figure, and the change-over figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from sim.plots import ARM_COLOURS, arm_colour, changing_arms, difference_plot, save_figures
from sim.runner import Results, compare
from sim.staffing import SYSTEMS

ARMS = ("duty", "named", "hybrid", "switch")


def test_known_arms_keep_their_colours_and_every_system_has_its_own() -> None:
    assert arm_colour("duty") == ARM_COLOURS["duty"] == "#d95f02"
    assert arm_colour("named") == ARM_COLOURS["named"] == "#1b9e77"
    colours = [arm_colour(arm) for arm in SYSTEMS]
    assert len(set(colours)) == len(colours)
    assert arm_colour("not_registered") == arm_colour("not_registered")  # fixed, even for a name it does not know


def fake_results(months: int = 24, replicates: int = 3) -> Results:
    """Monthly series and runs of four arms; only the columns the figures read."""
    rng = np.random.default_rng(0)
    series, rows = [], []
    for rep in range(replicates):
        for i, arm in enumerate(ARMS):
            month = np.arange(1, months + 1)
            series.append(
                pd.DataFrame(
                    {
                        "arm": arm,
                        "replicate": rep,
                        "month": month,
                        "admissions": rng.poisson(2.0, months).astype(float),
                        "admissions_per_100_person_years": rng.gamma(2.0, 0.5, months),
                        "upc_12m": np.full(months, 0.3 + 0.1 * i),
                        "vacancy_frac": np.full(months, 0.1),
                        "cost_total_gbp": 1000.0 + rng.normal(0, 50, months),
                    }
                )
            )
            rows.append(
                {
                    "arm": arm,
                    "replicate": rep,
                    "seed": 1,
                    "admissions_per_100_person_years": 1.0 - 0.1 * i + 0.01 * rep,
                    "upc": 0.3 + 0.1 * i + 0.01 * rep,
                    "cost_total_gbp": 1e6 * (1 - 0.01 * i) + 100 * rep,
                }
            )
    runs = pd.DataFrame(rows)
    return Results(runs, pd.concat(series, ignore_index=True), compare(runs, "duty"))


def test_the_differences_figure_shows_every_compared_arm() -> None:
    fig = difference_plot(fake_results().comparison)
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    plt.close(fig)
    assert labels == ["named - duty", "hybrid - duty", "switch - duty"]


def _comparison(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """A comparison.csv of named against duty: (metric, baseline mean, difference, its interval's ends)."""
    return pd.DataFrame(
        [
            {
                "arm": "named",
                "baseline": "duty",
                "metric": metric,
                "baseline_mean": base,
                "arm_mean": base + diff,
                "diff_mean": diff,
                "diff_ci_low": low,
                "diff_ci_high": high,
                "n_pairs": 10,
            }
            for metric, base, diff, low, high in rows
        ]
    )


def test_the_differences_figure_has_a_panel_per_family_each_on_its_own_scale() -> None:
    """SECON's +2,500% of a tiny duty level must not flatten admissions: continuity is in points, on its own axes."""
    comparison = _comparison(
        [
            ("admissions_per_100_person_years", 0.5, -0.05, -0.08, -0.02),  # -10% (-16% to -4%)
            ("crises_per_100_person_years", 10.0, -2.0, -3.0, -1.0),  # -20%
            ("secon", 0.03, 0.75, 0.7, 0.8),  # +2,500% of duty's level, +75 points
            ("upc", 0.3, 0.5, 0.45, 0.55),
            ("vacancy_frac", 0.1, -0.01, -0.03, 0.01),
            ("cost_total_gbp", 3e6, -2e5, -3e5, -1e5),
            ("restrictive_placements_per_100_person_years", 0.0, 0.0, 0.0, 0.0),  # none under duty
        ]
    )
    fig = difference_plot(comparison)
    panels = {ax.get_title(loc="left"): ax for ax in fig.axes}
    assert list(panels) == ["People's outcomes", "Continuity of care", "Staff", "Money"]
    assert len({ax.get_xlabel() for ax in fig.axes}) == 4  # each panel names its own unit
    outcomes, continuity_ax, _, money = panels.values()
    assert [t.get_text().split("\n")[0] for t in outcomes.get_yticklabels()] == [
        "hospital admissions",
        "crises",
        "restrictive placements",
    ]
    assert outcomes.get_yticklabels()[0].get_text() == "hospital admissions\nduty: 0.50 per 100 people a year"
    widths = [patch.get_width() for patch in outcomes.patches]
    assert widths[:2] == pytest.approx([-10.0, -20.0])  # % of duty's level
    assert max(abs(x) for x in outcomes.get_xlim()) < 40  # the outcomes' own scale, not continuity's
    assert [patch.get_width() for patch in continuity_ax.patches] == pytest.approx([50.0, 75.0])  # points
    assert money.patches[0].get_width() == pytest.approx(-2e5)
    assert "no cases under duty" in [text.get_text() for text in outcomes.texts]
    values = [text.get_text() for text in outcomes.texts + continuity_ax.texts + money.texts]
    assert {"\u221210%", "+75.0 pts", "\u2212£200k"} <= set(values)
    plt.close(fig)


def test_figures_of_every_arm_and_the_change_over(tmp_path: Path) -> None:
    cfg = make_config("switch.day=365", "horizon_years=2", "arms=[duty,named,hybrid,switch]")
    assert changing_arms(ARMS, cfg) == ["switch"]  # the only system that starts after the first measured day
    results = fake_results()
    written = save_figures(results, tmp_path, cfg=cfg)
    names = {path.name for path in written}
    assert names == {"admissions.png", "continuity_upc.png", "vacancies.png", "differences.png", "transition.png"}
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG")
    # Without the config (as before), or without an arm that starts later, there is no change-over figure.
    assert "transition.png" not in {p.name for p in save_figures(results, tmp_path / "plain")}
    no_switch = make_config("arms=[duty,named]")
    assert changing_arms(ARMS[:2], no_switch) == []


@pytest.mark.parametrize("day", [0, 365])
def test_an_arm_that_starts_on_the_first_day_is_not_a_change_over(day: int) -> None:
    cfg = make_config(f"switch.day={day}", "arms=[duty,switch]")
    assert changing_arms(["duty", "switch"], cfg) == (["switch"] if day else [])
