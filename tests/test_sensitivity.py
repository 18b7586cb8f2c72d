"""Sensitivity analysis: SALib wired to the sweep (toy functions give SALib's known answers), config checks, ranges."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.jobs import AggregationError, mark_done
from sim.params import Config, ConfigError
from sim.sensitivity import analyse, choose_sobol_factors, collect, rank_agreement, run_chunk, write_analysis
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent
#: Three cost values with wide allowed ranges stand in for the toy functions' inputs (x = value - pi).
TOY_KEYS = ("costs.inpatient_per_day_gbp", "costs.crisis_response_gbp", "costs.residential_per_day_gbp")
TOY_FACTORS = "{" + ",".join(f"{key}:[0,{2 * np.pi}]" for key in TOY_KEYS) + "}"


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def toy(cfg: Config, names: list[str], values: np.ndarray) -> pd.DataFrame:
    """Ishigami for admissions, a linear function for cost, a product for the return, on x in [-pi, pi]."""
    assert names == list(TOY_KEYS[: len(names)])
    x = values - np.pi
    return pd.DataFrame(
        {"admissions": ishigami(x), "cost": 3 * x[:, 0] + 1 * x[:, 1] + 0 * x[:, 2], "roi": x[:, 0] * x[:, 1]}
    )


def toy_sweep(
    tmp_path: Path, method: str, chunks: int = 3, seed: int = 1, folder: Path | None = None, **settings: object
) -> Path:
    """Run every chunk of a toy sensitivity sweep through run_chunk, as the sweep's jobs do."""
    sweep = folder or tmp_path / f"{method}_sweep"
    for chunk in range(chunks):
        overrides = [
            f"seed={seed}",
            f"sensitivity={{method:{method},factors:{TOY_FACTORS},sobol_factors:[{','.join(TOY_KEYS)}],"
            f"trajectories:{settings.get('trajectories', 20)},levels:4,samples:{settings.get('samples', 1024)},"
            f"chunks:{chunks},chunk:{chunk}}}",
        ]
        cfg = make_config(*overrides)
        job = sweep / f"chunk={chunk}"
        written = run_chunk(cfg, job, evaluate=toy)
        mark_done(job, "toy", written, {"seconds": 0.0}, config=cfg.model_dump(mode="json"))
    return sweep


def test_sobol_through_the_sweep_gives_the_known_ishigami_indices(tmp_path: Path) -> None:
    sweep = toy_sweep(tmp_path, "sobol")
    record, points = collect(sweep)
    assert len(points) == 1024 * (3 + 2)
    table = analyse(record, points).set_index(["output", "factor"])
    # Analytic indices of the Ishigami function (a = 7, b = 0.1).
    s1 = {TOY_KEYS[0]: 0.3139, TOY_KEYS[1]: 0.4424, TOY_KEYS[2]: 0.0}
    st = {TOY_KEYS[0]: 0.5576, TOY_KEYS[1]: 0.4424, TOY_KEYS[2]: 0.2437}
    for key in TOY_KEYS:
        assert table.loc[("admissions", key), "S1"] == pytest.approx(s1[key], abs=0.05)
        assert table.loc[("admissions", key), "ST"] == pytest.approx(st[key], abs=0.05)
    # Linear: S1 = ST = a_i^2 / sum a^2 (9/10, 1/10, 0).
    for key, share in zip(TOY_KEYS, (0.9, 0.1, 0.0), strict=True):
        assert table.loc[("cost", key), "S1"] == pytest.approx(share, abs=0.03)
        assert table.loc[("cost", key), "ST"] == pytest.approx(share, abs=0.03)
    assert table.loc[("cost", TOY_KEYS[0]), "rank"] == 1


def test_morris_through_the_sweep_gives_the_slopes_of_a_linear_function(tmp_path: Path) -> None:
    sweep = toy_sweep(tmp_path, "morris")
    written = write_analysis(sweep)
    table = pd.read_csv(written[0]).set_index(["output", "factor"])
    # mu* of a linear function is |slope| x range, with no spread.
    for key, slope in zip(TOY_KEYS, (3, 1, 0), strict=True):
        assert table.loc[("cost", key), "mu_star"] == pytest.approx(slope * 2 * np.pi, rel=1e-9, abs=1e-9)
        assert table.loc[("cost", key), "sigma"] == pytest.approx(0, abs=1e-9)
    assert table.loc[("admissions", TOY_KEYS[1]), "mu_star"] > 0  # sin^2 term
    assert written[1].stat().st_size > 10_000


def test_a_missing_chunk_is_named_and_the_aggregate_command_fails(tmp_path: Path) -> None:
    sweep = toy_sweep(tmp_path, "morris", trajectories=4)
    for path in (sweep / "chunk=1").iterdir():
        path.unlink()
    with pytest.raises(AggregationError, match="1 of 3 chunks"):
        collect(sweep)
    done = subprocess.run(
        [sys.executable, "-c", "from sim.sweep import main; main()", str(sweep)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "chunks" in done.stderr
    assert "Traceback" not in done.stderr


def test_stability_and_the_choice_of_sobol_factors() -> None:
    def morris(seed: int, values: list[float]) -> pd.DataFrame:
        rows = [
            {"output": out, "factor": f"f{i}", "mu_star": v * (1 + 0.01 * seed), "seed": seed}
            for out in ("admissions", "cost", "roi")
            for i, v in enumerate(values)
        ]
        table = pd.DataFrame(rows)
        table["rank"] = table.groupby("output")["mu_star"].rank(ascending=False, method="min").astype(int)
        return table

    a, b = morris(1, [5, 4, 3, 2, 1]), morris(2, [5, 4, 3, 1, 2])
    agreement = rank_agreement(a, b, top=3).set_index("output")
    assert agreement.loc["cost", "top_shared"] == 3
    assert agreement.loc["cost", "spearman"] == pytest.approx(0.9)
    assert agreement.loc["cost", "same_first"]
    assert agreement.loc["cost", "same_top_three"]
    reordered = morris(2, [1, 4, 3, 2, 5])  # f4 replaces f0 in the top three
    assert not rank_agreement(a, reordered, top=3).set_index("output").loc["cost", "same_top_three"]
    assert choose_sobol_factors([a, b], per_output=2) == ["f0", "f1"]


def test_the_summary_names_the_leaders_and_says_when_the_first_is_not_settled(tmp_path: Path) -> None:
    from sim.sensitivity import findings

    morris = analyse(*collect(toy_sweep(tmp_path / "m", "morris")))
    sobol = analyse(*collect(toy_sweep(tmp_path / "s", "sobol", samples=256)))
    other = morris.copy()
    swap = other["output"] == "admissions"
    other.loc[swap, "rank"] = other.loc[swap, "rank"].map({1: 2, 2: 1}).fillna(other.loc[swap, "rank"])
    lines = dict(zip(("admissions", "cost", "roi"), findings([morris, other], [sobol, sobol]), strict=True))
    assert f"both put `{TOY_KEYS[0]}` first" in lines["cost"]
    share = sobol.set_index(["output", "factor"])
    assert f"Sobol: `{TOY_KEYS[0]}` explains {share.at[('cost', TOY_KEYS[0]), 'S1']:.2f}" in lines["cost"]
    assert "the order at the top is not settled" in lines["admissions"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("++sensitivity.factors={team.peeple:[1,2]}", "team.peeple is not a numeric config value"),
        ("sensitivity.factors={effects.named_retention:[0,1.5]}", "effects.named_retention = 1.5 is not allowed"),
        ("sensitivity.factors={effects.named_retention:[0.4,0.1]}", "low 0.4 must be below high 0.1"),
        ("sensitivity.sobol_factors=[team.initial_risk_max]", "are not among the factors"),
        ("sensitivity.chunk=8", "chunk 8 must be below chunks (8)"),
        ("sensitivity.samples=100", "must be a power of 2"),
    ],
)
def test_bad_sensitivity_settings_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        make_config("experiment=sensitivity", override)
    assert message in str(error.value)


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)}


def test_the_factor_ranges_are_those_of_the_parameters_page() -> None:
    spec = yaml.safe_load((ROOT / "experiments" / "sensitivity.yaml").read_text())["sensitivity"]
    rows = {}
    for line in (ROOT / "docs" / "parameters.md").read_text().splitlines():
        match = re.match(r"\| `([\w.]+)` \|", line)
        if match:
            rows[match.group(1)] = line.rsplit("|", 2)[-2]  # the sensitivity range column
    assert len(spec["factors"]) >= 60
    for key, (low, high) in spec["factors"].items():
        assert key in rows, f"{key} has no row in docs/parameters.md"
        assert {float(low), float(high)} <= _numbers(rows[key]), f"{key}: [{low}, {high}] vs {rows[key]}"
    for key in spec["sobol_factors"]:
        assert key in spec["factors"]
    make_config("experiment=sensitivity")  # every range is allowed by the config's own checks


@pytest.mark.slow
def test_a_sensitivity_sweep_of_the_model_runs_in_parallel_chunks_and_is_analysed(tmp_path: Path) -> None:
    tiny = ["team.people=40", "horizon_years=0.5", "warmup_years=0.1", "sensitivity.trajectories=2", "jobs=1"]
    # Two chunks side by side through the joblib launcher, as a sweep of any other kind would run.
    chunks = [
        "sensitivity.chunks=2",
        "hydra.sweeper.params={sensitivity.chunk:'0,1'}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
    ]
    done = subprocess.run(
        [sys.executable, "-c", "from sim.cli import main; main()", "experiment=sensitivity", *tiny, *chunks],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep,) = (tmp_path / "multirun" / "sensitivity").iterdir()
    assert len(list(sweep.glob("*/points.parquet"))) == 2
    table = pd.read_csv(sweep / "sensitivity.csv")
    n_factors = len(yaml.safe_load((ROOT / "experiments" / "sensitivity.yaml").read_text())["sensitivity"]["factors"])
    assert len(table) == 3 * n_factors
    assert set(table["output"]) == {"admissions", "cost", "roi"}
    assert (table["mu_star"] >= 0).all()
    # Extra capacity is what the investment buys: it moves the named arm's cost.
    cost = table[table["output"] == "cost"].set_index("factor")
    assert cost.loc["named.extra_fte", "mu_star"] > cost["mu_star"].median()


def test_pooled_sweeps_analyse_as_one_larger_sample(tmp_path: Path) -> None:
    from sim.sensitivity import pool

    first = collect(toy_sweep(tmp_path / "a", "morris", trajectories=4))
    second = collect(toy_sweep(tmp_path / "b", "morris", trajectories=6))
    record, points = pool([first, second])
    assert record["trajectories"] == 10
    assert len(points) == 10 * (3 + 1)
    assert list(points["point"]) == list(range(len(points)))
    table = analyse(record, points).set_index(["output", "factor"])
    for key, slope in zip(TOY_KEYS, (3, 1, 0), strict=True):
        assert table.loc[("cost", key), "mu_star"] == pytest.approx(slope * 2 * np.pi, abs=1e-9)
    other = (dict(second[0], levels=6), second[1])
    with pytest.raises(AggregationError, match="must share"):
        pool([first, other])


def test_the_page_shows_agreement_growing_with_the_sweeps_pooled(tmp_path: Path) -> None:
    # nwsim-sensitivity --skip-run over finished sweeps laid out as it runs them: seeds 1+3 and 2+4 pooled.
    from sim.sensitivity import main

    sweeps, docs = tmp_path / "sweeps", tmp_path / "docs"
    for seed in (1, 2, 3, 4):
        toy_sweep(tmp_path, "morris", chunks=1, seed=seed, folder=sweeps / f"morris_seed{seed}", trajectories=10)
    for seed in (1, 2):
        toy_sweep(tmp_path, "sobol", chunks=1, seed=seed, folder=sweeps / f"sobol_seed{seed}", samples=256)
    main(["--skip-run", "--pool", "2", "--sweeps", str(sweeps), "--docs", str(docs), "--top", "3"])
    page = (docs / "sensitivity.md").read_text()
    header = next(line for line in page.splitlines() if line.startswith("| output | Spearman"))
    assert "Spearman, r = 10 | Spearman, r = 20 | same top 3, r = 10 | same top 3, r = 20" in header
    # Three toy factors: every analysis names the same top three, so every row says so at every r.
    row = next(line for line in page.splitlines() if line.startswith("| Admissions per 100"))
    cells = dict(zip(header.split("|"), row.split("|"), strict=True))
    assert cells[" same top 3, r = 10 "] == cells[" same top 3, r = 20 "] == " yes "
    assert "(each names the same top three)" in page


def test_factors_tied_with_the_third_are_those_whose_mu_star_intervals_overlap_its_own() -> None:
    from sim.sensitivity import _tied_with_third

    part = pd.DataFrame(
        {
            "factor": ["a", "b", "c", "d", "e"],
            "mu_star": [10.0, 6.0, 5.0, 3.5, 1.0],
            "mu_star_conf": [1.0, 0.5, 1.0, 0.6, 0.5],
            "rank": [1, 2, 3, 4, 5],
        }
    )
    # The third (c) spans 4-6: b touches it from above, d (2.9-4.1) from below; a and e are clear of it.
    assert _tied_with_third(part) == 3
    assert _tied_with_third(part.assign(mu_star_conf=0.1)) == 1
