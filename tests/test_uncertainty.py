"""Input uncertainty (probabilistic sensitivity analysis): draws, the answer under uncertainty, files and resume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.costs import arm_case
from sim.params import Config, ConfigError, InputDistribution
from sim.report import main as report_main
from sim.runner import run_experiment
from sim.uncertainty import (
    acceptability,
    arm_summary,
    conditional_mean,
    draw_numbers,
    evpi,
    evppi,
    input_draws,
    net_benefit,
    simulate_draws,
    value_of_information,
)
from tests.conftest import SMALL, make_config

ROOT = Path(__file__).resolve().parent.parent

#: Two inputs that move the answer, with room to move.
INPUTS = (
    "++uncertainty.inputs.crisis.risk_per_year={dist: gamma, sd: 0.1}",
    "++uncertainty.inputs.costs.inpatient_per_day_gbp={dist: lognormal, sd: 150}",
)


def only_inputs(cfg: Config, **specs: InputDistribution) -> Config:
    """``cfg`` with exactly these uncertain inputs (keys with ``__`` for dots)."""
    inputs = {key.replace("__", "."): spec for key, spec in specs.items()}
    return cfg.model_copy(update={"uncertainty": cfg.uncertainty.model_copy(update={"inputs": inputs})})


def _table(npv: list[float], avoided: list[float], investment: float = 100.0, council: float = 0.0) -> pd.DataFrame:
    """A per-draw table of one arm, as ``simulate_draws`` writes it."""
    npv_a = np.asarray(npv, float)
    return pd.DataFrame(
        {
            "draw": np.arange(npv_a.size),
            "arm": "named",
            "baseline": "duty",
            "admissions_avoided": np.asarray(avoided, float),
            "investment_gbp": investment,
            "npv_gbp": npv_a,
            "roi_per_gbp": (npv_a + investment) / investment if investment > 0 else np.nan,
            "council_net_saving_gbp": council - investment,
        }
    )


# Distributions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dist", "mean", "sd"),
    [("beta", 0.15, 0.03), ("gamma", 0.3, 0.1), ("lognormal", 650.0, 150.0), ("normal", 2.0, 0.5)],
)
def test_each_distribution_has_the_configured_mean_and_sd(dist: str, mean: float, sd: float) -> None:
    u = (np.arange(200_000) + 0.5) / 200_000  # an even grid of probabilities: the moments of the quantile function
    values = InputDistribution(dist=dist, sd=sd).quantile(mean, u)
    assert values.mean() == pytest.approx(mean, rel=2e-3)
    assert values.std() == pytest.approx(sd, rel=2e-2)


def test_zero_width_and_edge_values_are_not_uncertain() -> None:
    u = np.array([0.01, 0.5, 0.99])
    assert (InputDistribution(dist="gamma", sd=0.0).quantile(0.3, u) == 0.3).all()
    assert (InputDistribution(dist="fixed").quantile(0.3, u) == 0.3).all()
    assert (InputDistribution(dist="beta", sd=0.1).quantile(0.0, u) == 0.0).all()  # an effect switched off stays off
    assert (InputDistribution(dist="lognormal", sd=5.0).quantile(0.0, u) == 0.0).all()


def test_draws_are_the_same_for_the_same_seed_and_each_input_has_its_own_stream() -> None:
    cfg = make_config(*SMALL, *INPUTS)
    first = input_draws(cfg, np.arange(50))
    assert first.equals(input_draws(cfg, np.arange(50)))
    assert first.loc[10:19].equals(input_draws(cfg, np.arange(10, 20)))  # a draw's values do not depend on the batch
    other = input_draws(make_config(*SMALL, *INPUTS, "seed=7"), np.arange(50))
    assert not first.equals(other)
    only_one = input_draws(make_config(*SMALL, INPUTS[0]), np.arange(50))
    assert only_one["crisis.risk_per_year"].equals(first["crisis.risk_per_year"])  # adding an input moves no other
    assert first["crisis.risk_per_year"].std() > 0.05


def test_chunks_split_the_draws_without_overlap() -> None:
    numbers = [
        draw_numbers(make_config(*SMALL, "uncertainty.draws=23", "uncertainty.chunks=4", f"uncertainty.chunk={k}"))
        for k in range(4)
    ]
    assert sorted(np.concatenate(numbers).tolist()) == list(range(23))


# Bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (("++uncertainty.inputs.crisis.no_such_rate={dist: gamma, sd: 1}",), "crisis.no_such_rate is not a numeric"),
        (
            ("uncertainty.draws=5", "++uncertainty.inputs.crisis.p_admission={dist: beta, sd: 0.5}"),
            "too wide for a beta",
        ),
        (("uncertainty.draws=5", "++uncertainty.inputs.crisis.p_admission={dist: gamma, sd: 0.2}"), "can draw"),
        (("+uncertainty.inputs.named.caseload_cap={dist: gamma}",), "sd is needed"),
        (("uncertainty.draws=5", "arms=[duty]"), "a single arm"),
        (("uncertainty.draws=5", "uncertainty.chunks=2", "uncertainty.chunk=2"), "chunk 2 must be below chunks"),
    ],
)
def test_bad_distributions_are_refused_with_the_key(overrides: tuple[str, ...], expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_config(*SMALL, *overrides)


def test_nwsim_refuses_a_bad_distribution_plainly_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "uncertainty.draws=5",
            "++uncertainty.inputs.crisis.p_admission={dist: beta, sd: 0.5}",
            f"hydra.run.dir={out}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "uncertainty.inputs: crisis.p_admission" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


# The answer under uncertainty -------------------------------------------------------------------


def test_every_draw_saving_gives_probability_one_and_none_gives_zero() -> None:
    cfg = make_config(*SMALL)
    saves = arm_summary(_table([5.0, 1.0, 30.0], [1, 2, 3]), cfg)
    assert saves["p_cost_saving"] == 1.0
    assert saves["p_roi_above_1"] == 1.0
    loses = arm_summary(_table([-5.0, -1.0, -30.0], [1, 2, 3]), cfg)
    assert loses["p_cost_saving"] == 0.0
    assert loses["p_roi_above_1"] == 0.0
    half = arm_summary(_table([-5.0, 1.0, -30.0, 2.0], [1, 2, 3, 4]), cfg)
    assert half["p_cost_saving"] == 0.5
    assert half["npv_uncertainty_p05"] < half["npv_uncertainty_p50"] < half["npv_uncertainty_p95"]
    free = arm_summary(_table([5.0, 1.0], [1, 2], investment=0.0), cfg)
    assert free["p_roi_above_1"] is None
    assert free["roi_uncertainty_p50"] is None


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(0, 50)), min_size=2, max_size=40),
    st.floats(1e3, 1e7),
)
def test_acceptability_rises_with_the_price_when_every_draw_avoids_admissions(
    draws: list[tuple[float, float]], max_wtp: float
) -> None:
    table = _table([d[0] for d in draws], [d[1] for d in draws])
    curve = acceptability(table, max_wtp)["p_cost_effective"].to_numpy()
    assert (np.diff(curve) >= 0).all()
    assert curve[0] == (table["npv_gbp"] > 0).mean()  # at a price of 0 it is the chance of saving money


def test_acceptability_can_fall_when_an_arm_adds_admissions_in_some_draws() -> None:
    """Why the curve is monotone only when no draw adds admissions: a cheaper arm that adds admissions loses."""
    curve = acceptability(_table([10.0, -10.0], [-1.0, 0.0]), 100.0, points=3)["p_cost_effective"].tolist()
    assert curve == [0.5, 0.0, 0.0]


def test_evppi_finds_the_input_that_matters_and_stays_between_zero_and_the_evpi() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    matters, idle = rng.normal(0, 1, n), rng.normal(0, 1, n)
    benefit = 1000.0 * matters + 200.0 * rng.normal(0, 1, n)  # the noise no input explains
    total = evpi(benefit)
    exact = 1000.0 * 1 / np.sqrt(2 * np.pi)  # E[max(0, 1000 Z)] - max(0, 0) for a standard normal Z
    assert evppi(benefit, matters) == pytest.approx(exact, rel=0.08)
    assert 0 <= evppi(benefit, idle) < 0.05 * total
    assert 0 <= evppi(benefit, matters) <= total


def test_evpi_is_zero_when_the_decision_never_changes() -> None:
    assert evpi(np.array([1.0, 5.0, 9.0])) == 0.0
    assert evpi(np.array([-1.0, -5.0])) == 0.0
    assert evpi(np.array([-1.0, 3.0])) == pytest.approx(0.5)  # E[max(0, x)] = 1.5, max(0, E[x]) = 1


def test_conditional_mean_of_few_values_is_the_group_mean() -> None:
    x = np.array([1, 1, 2, 2, 3, 3])
    y = np.array([0.0, 2.0, 4.0, 6.0, 7.0, 9.0])
    assert conditional_mean(x, y).tolist() == [1.0, 1.0, 5.0, 5.0, 8.0, 8.0]


# Runs -------------------------------------------------------------------------------------------


def test_zero_width_distributions_reproduce_the_fixed_input_business_case_exactly() -> None:
    n = 4
    cfg = make_config(*SMALL, f"replicates={n}", f"uncertainty.draws={n}")
    zero = {key: InputDistribution(dist=spec.dist, sd=0.0) for key, spec in cfg.uncertainty.inputs.items()}
    cfg = cfg.model_copy(update={"uncertainty": cfg.uncertainty.model_copy(update={"inputs": zero})})
    fixed = run_experiment(cfg, jobs=1, progress=False)
    headline, per_replicate, _ = arm_case(fixed.runs, fixed.timeseries, cfg, "named", "duty")
    table = simulate_draws(cfg, np.arange(n), jobs=1, progress=False)
    assert table["npv_gbp"].tolist() == per_replicate["npv_gbp"].tolist()
    assert table["roi_per_gbp"].tolist() == per_replicate["roi_per_gbp"].tolist()
    summary = arm_summary(table, cfg)
    assert summary["p_cost_saving"] == (per_replicate["npv_gbp"] > 0).mean()
    assert table["npv_gbp"].mean() == pytest.approx(headline["npv_gbp"], rel=1e-12)


def _nwsim(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


#: A small analysis: 6 draws, 3 fixed-input replicates, two inputs.
SMALL_ANALYSIS = [*SMALL[:3], "replicates=3", "uncertainty.draws=6", *INPUTS]


@pytest.mark.slow
def test_one_run_and_a_chunked_sweep_give_the_same_draws_and_a_killed_sweep_resumes(tmp_path: Path) -> None:
    _nwsim([*SMALL_ANALYSIS, "jobs=1", f"hydra.run.dir={tmp_path / 'one'}"], tmp_path)
    one = tmp_path / "one"
    case = json.loads((one / "business_case.json").read_text())["arms"]["named"]
    for key in (
        "p_cost_saving",
        "p_roi_above_1",
        "npv_uncertainty_p05",
        "npv_uncertainty_p50",
        "npv_uncertainty_p95",
        "roi_uncertainty_p05",
        "roi_uncertainty_p50",
        "roi_uncertainty_p95",
        "npv_gbp",
        "roi_ci_low",
    ):
        assert case[key] is not None, key
    page = (one / "report.html").read_text()
    assert page.index("plausible worlds") < page.index("At the configured inputs")  # the page leads with it
    table = pd.read_csv(one / "uncertainty.csv")
    assert len(table) == 6
    # nwsim-report rebuilds the business case, the answer under uncertainty included, from the run's tables.
    (one / "business_case.json").unlink()
    report_main([str(one)])  # in this process: a child would pay the start-up again
    assert json.loads((one / "business_case.json").read_text())["arms"]["named"] == case
    assert {"crisis.risk_per_year", "npv_gbp", "roi_per_gbp"} <= set(table.columns)

    sweep = [
        *SMALL_ANALYSIS,
        "experiment=uncertainty",
        "uncertainty.chunks=3",
        "uncertainty.chunk=0,1,2",
        "jobs=1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    _nwsim(sweep, tmp_path)
    folder = tmp_path / "sweep"
    chunked = pd.read_csv(folder / "uncertainty.csv")
    pd.testing.assert_frame_equal(chunked, table)
    assert json.loads((folder / "business_case.json").read_text())["arms"]["named"]["npv_gbp"] == case["npv_gbp"]

    # A chunk killed before it finished has no job.json: the rerun computes that chunk only.
    chunks = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("uncertainty.chunk="))
    (chunks[1] / "job.json").unlink()
    kept = (chunks[0] / "uncertainty.parquet").stat().st_mtime_ns
    again = _nwsim(sweep, tmp_path)
    assert again.stdout.count("Already done") == 2
    assert (chunks[0] / "uncertainty.parquet").stat().st_mtime_ns == kept
    pd.testing.assert_frame_equal(pd.read_csv(folder / "uncertainty.csv"), table)


@pytest.mark.slow
def test_the_value_of_information_table_covers_every_varied_input(tmp_path: Path) -> None:
    cfg = only_inputs(
        make_config(*SMALL, "uncertainty.draws=8"),
        crisis__risk_per_year=InputDistribution(dist="gamma", sd=0.1),
        costs__inpatient_per_day_gbp=InputDistribution(dist="lognormal", sd=150.0),
    )
    table = simulate_draws(cfg, np.arange(8), progress=False)
    info = value_of_information(table, cfg)
    assert set(info["input"]) == {"crisis.risk_per_year", "costs.inpatient_per_day_gbp"}
    assert ((info["evppi_gbp"] >= 0) & (info["evppi_gbp"] <= info["evpi_gbp"] * 1.05 + 1e-9)).all()
    assert np.allclose(net_benefit(table, 0.0), table["npv_gbp"])


# Docs -------------------------------------------------------------------------------------------


def test_every_uncertain_input_is_listed_in_the_parameters_page_with_its_distribution() -> None:
    cfg = make_config()
    page = (ROOT / "docs" / "parameters.md").read_text()
    rows = {
        m.group(1): line
        for line in page.splitlines()
        if (m := re.match(r"\| `uncertainty\.inputs\.([\w.]+)` \|", line))
    }
    assert cfg.uncertainty.inputs, "conf/uncertainty/default.yaml gives no input a distribution"
    assert set(rows) == set(cfg.uncertainty.inputs), "docs/parameters.md and conf/uncertainty/default.yaml differ"
    for key, spec in cfg.uncertainty.inputs.items():
        cells = [c.strip() for c in rows[key].strip("|").split("|")]
        assert cells[1] == spec.dist, key
        if spec.dist != "fixed":
            assert float(cells[3]) == spec.sd, key
        assert cells[5], f"{key}: no source"
