"""Config validation: every problem named at once, with key, value and what is allowed."""

from __future__ import annotations

import pytest

from sim.params import ConfigError
from sim.staffing import SYSTEMS
from tests.conftest import make_config


def test_defaults_validate() -> None:
    cfg = make_config()
    assert cfg.team.people == 750
    assert cfg.team.caseload_per_worker == 25
    assert cfg.team.advanced_practitioners == 2
    assert (cfg.horizon_years, cfg.warmup_years, cfg.replicates) == (10, 1, 40)
    assert cfg.arms == ["duty", "named"]


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        make_config("team.people=-5", "effects.named_retention=1.5", "arms=[duty,bogus]", "jobs=0")
    text = str(err.value)
    assert "team.people = -5" in text
    assert "greater than or equal to 1" in text
    assert "effects.named_retention = 1.5" in text
    assert "less than or equal to 1" in text
    assert "arms = ['duty', 'bogus']: unknown staffing system 'bogus'" in text  # checked against the registry
    assert "registered systems " + ", ".join(SYSTEMS) in text
    assert "jobs = 0" in text


def test_unknown_key_lists_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as err:
        make_config("+team.peeple=5")
    assert "team.peeple = 5: unknown key" in str(err.value)
    assert "people" in str(err.value).split("allowed here:")[1]


def test_need_mix_must_add_up_to_one() -> None:
    with pytest.raises(ConfigError, match="add up to 1"):
        make_config("team.need_mix.low=0.9")


def test_each_cost_line_needs_a_payer() -> None:
    with pytest.raises(ConfigError, match="payer: missing inpatient"):
        make_config("~costs.payer.inpatient")


def test_an_arm_may_run_alone_but_not_twice() -> None:
    assert make_config("arms=[named]").arms == ["named"]
    with pytest.raises(ConfigError, match="each arm may appear once"):
        make_config("arms=[duty,duty]")


def test_wrong_type_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"workforce\.turnover_per_year = 'lots'"):
        make_config("workforce.turnover_per_year=lots")


def test_example_experiment_composes() -> None:
    cfg = make_config("experiment=quick")
    assert cfg.team.people == 300
    assert cfg.horizon_years == 3


def test_with_values_sets_dotted_keys_rounds_whole_numbers_and_checks_again() -> None:
    from sim.params import with_values

    cfg = with_values(make_config(), {"named.caseload_cap": 27.6, "effects.named_retention": 0.1})
    assert cfg.named.caseload_cap == 28
    assert isinstance(cfg.named.caseload_cap, int)
    assert cfg.effects.named_retention == 0.1
    with pytest.raises(ConfigError, match=r"effects\.named_retention = 1\.5"):
        with_values(make_config(), {"effects.named_retention": 1.5})


def test_keys_inside_free_mappings_are_left_to_validation() -> None:
    from sim.params import in_free_form

    assert in_free_form(("sensitivity", "factors"))
    assert in_free_form(("costs", "payer"))
    assert not in_free_form(("team",))
    assert not in_free_form(("team", "need_mix"))
