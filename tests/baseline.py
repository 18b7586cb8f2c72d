"""The baseline of outputs: metrics of small fixed runs, one set per staffing system.

``tests/baseline.json`` holds, for each case below and each registered system, the runs.csv row of
every replicate and the totals of every daily series. ``tests/test_baseline.py`` compares a fresh run
with it. A change that moves a number regenerates it on purpose, in the same commit, with a line in
CHANGELOG.md saying why:

    uv run python -m tests.baseline
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from sim.metrics import summarise
from sim.model import SERIES, StaffingModel
from tests.conftest import make_config

PATH = Path(__file__).with_name("baseline.json")
#: Settings as the first cases were recorded: mechanisms added since switched off, and the calibration of
#: that time, so their numbers stay as recorded (CHANGELOG.md says what moved the defaults and why).
LATER_EFFECTS_OFF = (
    "effects.unfamiliar_detection_loss=0",
    "crisis.p_admission=0.05",
    "hospital.readmission_multiplier=20",
)
#: Small fixed runs: the default model on a small team (as first recorded, and with every later mechanism
#: at its default), and one with high turnover and tight caseloads (reallocation, vacancies, agency cover
#: and the pending tray all in play).
CASES: dict[str, tuple[str, ...]] = {
    "default": ("team.people=150", "horizon_years=2", "warmup_years=0.5", "seed=11", *LATER_EFFECTS_OFF),
    "current": ("team.people=150", "horizon_years=2", "warmup_years=0.5", "seed=13"),
    "churn": (
        "team.people=150",
        "horizon_years=2",
        "warmup_years=0.5",
        "seed=12",
        "workforce.turnover_per_year=0.6",
        "team.caseload_per_worker=28",
        "named.caseload_cap=26",
        "workforce.absence_frac=0.15",
        *LATER_EFFECTS_OFF,
    ),
}
REPLICATES = (0,)
#: Systems held by the baseline (the registry may hold more, e.g. toy systems registered by tests).
SYSTEMS = ("duty", "named", "hybrid", "switch", "duty_calls")


def _clean(value: object) -> object:
    """JSON-safe values: NaN as None; numpy scalars as Python numbers."""
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def outputs(case: str, system: str, replicate: int) -> dict[str, object]:
    """The runs.csv row and the daily-series totals of one small fixed run."""
    model = StaffingModel(make_config(*CASES[case]), system, replicate).run()
    row = {key: _clean(value) for key, value in summarise(model).items()}
    totals = {name: _clean(float(model.daily[:, i].sum())) for i, name in enumerate(SERIES)}
    return {"runs": row, "series_totals": totals}


def generate() -> dict[str, object]:
    """Every case x system x replicate, keyed ``case/system/replicate``."""
    return {
        f"{case}/{system}/{rep}": outputs(case, system, rep)
        for case in CASES
        for system in SYSTEMS
        for rep in REPLICATES
    }


def main() -> None:
    """Regenerate tests/baseline.json (do it only on purpose, with a CHANGELOG line)."""
    data = generate()
    PATH.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH} ({len(data)} runs)", file=sys.stderr)


if __name__ == "__main__":
    main()
