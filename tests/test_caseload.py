"""People come and go: referrals, closures, moves and deaths, drawn up front and the same in every arm."""

from __future__ import annotations

import numpy as np
import pytest

from sim.metrics import summarise
from sim.model import S, StaffingModel
from sim.population import AWAY, CLOSED, DIED, MOVED, NEVER_DAY, growth_posts
from tests.conftest import make_config

#: A caseload that turns over: referrals, closures by need, moves and deaths.
CHURN = (
    "population.referrals_per_year=0.3",
    "population.closure_per_year.low=0.3",
    "population.closure_per_year.moderate=0.2",
    "population.closure_per_year.high=0.1",
    "population.move_away_per_year=0.02",
    "population.mortality_per_year.high=0.05",
)
SMALL = ("team.people=200", "horizon_years=3", "warmup_years=0.5", "seed=5")
ARMS = ("duty", "named", "hybrid", "switch", "duty_calls")


@pytest.fixture(scope="module")
def churned() -> dict[str, StaffingModel]:
    """Every built-in system run on the same turning-over caseload."""
    cfg = make_config(*SMALL, *CHURN)
    return {arm: StaffingModel(cfg, arm, 0).run() for arm in ARMS}


def test_referrals_arrive_at_the_configured_rate() -> None:
    cfg = make_config("team.people=2000", "horizon_years=20", "warmup_years=0", "population.referrals_per_year=0.25")
    people = StaffingModel(cfg, "duty", 0).people
    days = cfg.horizon_days
    expected = 0.25 * 2000 * (days - 1) / 365  # day 0 is the starting caseload
    arrived = people.n - people.n_start
    assert abs(arrived - expected) < 4 * np.sqrt(expected)  # Poisson: within four standard deviations
    assert (people.arrive_day[people.n_start :] >= 1).all()


def test_exits_follow_their_hazards_and_causes_their_shares() -> None:
    overrides = ("team.people=20000", "horizon_years=1", "warmup_years=0", "population.move_away_per_year=0.1")
    cfg = make_config(*overrides, *(f"population.closure_per_year.{need}=0.4" for need in ("low", "moderate", "high")))
    people = StaffingModel(cfg, "duty", 0).people
    years = (people.exit_day - people.arrive_day) / 365
    assert years.mean() == pytest.approx(1 / 0.5, rel=0.03)  # exponential with the total hazard 0.4 + 0.1
    assert np.mean(people.exit_cause == CLOSED) == pytest.approx(0.8, abs=0.015)
    assert np.mean(people.exit_cause == MOVED) == pytest.approx(0.2, abs=0.015)
    assert not (people.exit_cause == DIED).any()


def test_deaths_come_by_need_level() -> None:
    cfg = make_config(
        "team.people=20000", "horizon_years=1", "warmup_years=0", "population.mortality_per_year.high=0.2"
    )
    people = StaffingModel(cfg, "duty", 0).people
    high = people.need == 2
    assert (people.exit_day[~high] == NEVER_DAY).all()
    assert ((people.exit_day[high] - people.arrive_day[high]) / 365).mean() == pytest.approx(5.0, rel=0.05)
    assert (people.exit_cause[high] == DIED).all()


def test_a_static_caseload_has_no_extra_rows_and_nobody_leaves() -> None:
    model = StaffingModel(make_config(*SMALL), "named", 0).run()
    assert model.people.n == model.people.n_start == 200
    assert (model.people.exit_day == NEVER_DAY).all()
    assert (model.daily[:, S["people"]] == 200).all()
    assert summarise(model)["person_years"] == pytest.approx(200 * 3)


def test_people_are_conserved_every_day(churned: dict[str, StaffingModel]) -> None:
    for arm, model in churned.items():
        people = model.people
        present = model.daily[:, S["people"]]
        expected = [people.present(day).sum() for day in range(model.day)]
        assert (present == expected).all(), arm
        assert present[0] == people.n_start - model.daily[0, S["exits"]]
        flows = model.daily[1:, S["referrals"]] - model.daily[1:, S["exits"]]
        assert (np.diff(present) == flows).all(), arm  # present at the start + arrivals = present at the end + exits


def test_every_arm_sees_the_same_referrals_and_exits(churned: dict[str, StaffingModel]) -> None:
    first = churned["duty"]
    for arm, model in churned.items():
        assert (model.people.arrive_day == first.people.arrive_day).all(), arm
        assert (model.people.exit_day == first.people.exit_day).all(), arm
        assert (model.people.need == first.people.need).all(), arm
        for series in ("people", "referrals", "exits"):
            assert (model.daily[:, S[series]] == first.daily[:, S[series]]).all(), (arm, series)


def test_nobody_is_served_admitted_or_allocated_outside_their_time_on_the_caseload(
    churned: dict[str, StaffingModel],
) -> None:
    for arm, model in churned.items():
        people = model.people
        log = model.contact_log()
        who, day = log["person"].to_numpy(), log["day"].to_numpy()
        assert ((day >= people.arrive_day[who]) & (day < people.exit_day[who])).all(), arm
        admitted = people.admitted_day >= 0  # the last admission of each person ever admitted
        assert (people.admitted_day[admitted] >= people.arrive_day[admitted]).all(), arm
        assert (people.admitted_day[admitted] < people.exit_day[admitted]).all(), arm
        for t, persons in enumerate(model.life_events):
            assert ((people.arrive_day[persons] <= t) & (t < people.exit_day[persons])).all(), arm
        gone = people.exit_day < model.day
        assert gone.any()
        assert (people.named_worker[gone] < 0).all(), arm
        assert (people.setting[gone] == AWAY).all(), arm
        held = np.bincount(people.named_worker[people.named_worker >= 0], minlength=model.staff.n)
        assert (held == model.staff.caseload[: model.staff.n]).all(), arm  # caseloads equal the people held


def test_referrals_are_seen_and_rates_are_per_person_year_present(churned: dict[str, StaffingModel]) -> None:
    for arm, model in churned.items():
        row = summarise(model)
        assert row["referrals_per_year"] > 0
        assert row["exits_per_year"] > 0
        assert 0 < row["caseload_turnover_per_year"] < 1
        assert row["referral_to_first_contact_days_mean"] < 30, arm
        present_years = model.daily[model.cfg.warmup_days :, S["people"]].sum() / 365
        assert row["person_years"] == pytest.approx(present_years)


@pytest.mark.slow
def test_more_caseload_churn_never_raises_the_named_arms_continuity() -> None:
    levels = (0.0, 0.3, 0.8)
    upc = []
    for level in levels:
        churn = (
            f"population.referrals_per_year={level}",
            *(f"population.closure_per_year.{need}={level}" for need in ("low", "moderate", "high")),
        )
        cfg = make_config("team.people=300", "horizon_years=3", "warmup_years=1", *churn)
        upc.append(np.mean([summarise(StaffingModel(cfg, "named", rep).run())["upc"] for rep in range(3)]))
    assert upc[0] >= upc[1] >= upc[2], upc


def test_a_steady_caseload_turnover_sets_matching_exits_and_referrals() -> None:
    cfg = make_config(
        "team.people=2000", "horizon_years=4", "warmup_years=0", "population.caseload_turnover_per_year=0.5"
    )
    assert cfg.population.referrals_per_year == 0.5
    assert cfg.population.closure_per_year.as_tuple() == (0.5, 0.5, 0.5)
    model = StaffingModel(cfg, "duty", 0).run()
    row = summarise(model)
    assert row["caseload_turnover_per_year"] == pytest.approx(0.5, rel=0.08)
    assert row["referrals_per_year"] == pytest.approx(0.5 * 2000, rel=0.08)
    present = model.daily[:, S["people"]]
    assert abs(present[-1] - 2000) < 0.1 * 2000  # steady: as many referred as leave


def test_referrals_wait_for_a_named_worker_only_where_named_workers_serve_them(
    churned: dict[str, StaffingModel],
) -> None:
    waits = {arm: summarise(model)["referral_to_allocation_days_mean"] for arm, model in churned.items()}
    assert np.isnan(waits["duty"])  # nobody on duty is given a named worker
    assert np.isnan(waits["duty_calls"])
    for arm in ("named", "hybrid"):
        assert 0 <= waits[arm] < 60, (arm, waits[arm])
    assert waits["switch"] > waits["named"]  # referred before the switch-over, allocated only when moved
    named = churned["named"]
    allocated = named.daily[:, S["referrals_allocated"]].sum()
    assert 0 < allocated <= named.daily[:, S["referrals"]].sum()
    shares = {arm: summarise(model)["referrals_allocated_share"] for arm, model in churned.items()}
    assert np.isnan(shares["duty"])
    assert np.isnan(shares["duty_calls"])
    assert 0.8 < shares["named"] <= 1.05  # nearly every referral gets a named worker (one allocated after the end: > 1)


#: A small team growing from 200 to 400 people over two measured years.
GROWTH = ("team.growth.target_people=400", "team.growth.years=2", "team.growth.start_year=0.5")


def test_a_growing_caseload_reaches_its_target_on_plan() -> None:
    cfg = make_config(*SMALL, *GROWTH)
    model = StaffingModel(cfg, "duty", 0).run()
    people = model.daily[:, S["people"]]
    growth_start = cfg.warmup_days + round(0.5 * 365)
    assert (people[:growth_start] == 200).all()  # nobody is referred before growth begins, nobody leaves
    assert people[-1] == pytest.approx(400, abs=4 * np.sqrt(200))  # Poisson arrivals: within four sd
    halfway = growth_start + 365
    assert people[halfway] == pytest.approx(300, abs=4 * np.sqrt(100))


def test_posts_follow_a_growing_caseload_after_the_recruitment_lag() -> None:
    cfg = make_config(*SMALL, *GROWTH, "workforce.turnover_per_year=0", "workforce.agency_cover_frac=0")
    fte, open_day = growth_posts(cfg)
    assert fte.sum() == pytest.approx((400 - 200) / cfg.team.caseload_per_worker)
    assert (np.diff(open_day) > 0).all()
    assert open_day[0] == cfg.warmup_days + round(0.5 * 365) + 1
    model = StaffingModel(cfg, "named", 0).run()
    staff = model.staff
    grown = np.arange(staff.n_posts - fte.size - 1, staff.n_posts - 1)  # the named arm's extra post is last
    assert np.allclose(staff.post_fte[grown], fte)
    # Nobody leaves and no agency cover: a grown post's holder is its recruit, who starts after the post opens.
    holder = staff.holder[grown]
    started = np.where(holder >= 0, staff.start_day[holder], NEVER_DAY)
    assert (started > open_day).all()
    assert (holder[open_day < model.day - 3 * cfg.workforce.recruitment_lag_days] >= 0).all()
    assert (holder[open_day >= model.day] < 0).all()
    fixed = StaffingModel(make_config(*SMALL, *GROWTH, "team.growth.staff=fixed"), "named", 0)
    assert fixed.staff.n_posts == staff.n_posts - fte.size


def test_growth_is_the_same_in_every_arm_and_off_changes_nothing() -> None:
    cfg = make_config(*SMALL, *GROWTH)
    runs = {arm: StaffingModel(cfg, arm, 0) for arm in ("duty", "named")}
    assert (runs["duty"].people.arrive_day == runs["named"].people.arrive_day).all()
    static = StaffingModel(make_config(*SMALL), "named", 0).run()
    for rule in ("follow", "fixed"):  # a target equal to the caseload is no growth: every number as before
        cfg = make_config(*SMALL, "team.growth.target_people=200", f"team.growth.staff={rule}")
        same = StaffingModel(cfg, "named", 0)
        assert same.staff.n_posts == static.staff.n_posts
        assert (same.run().daily == static.daily).all(), rule
