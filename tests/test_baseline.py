"""Numbers move only on purpose: small fixed runs must give the outputs held in tests/baseline.json.

If this fails after a change that *should* move numbers, regenerate with ``uv run python -m tests.baseline``
and say why in CHANGELOG.md. If the change should not move numbers (a refactor, a speed-up), it is a bug.
"""

from __future__ import annotations

import json
import math

import pytest

from tests import baseline

STORED = json.loads(baseline.PATH.read_text())


@pytest.mark.parametrize("key", sorted(STORED))
def test_outputs_match_the_baseline(key: str) -> None:
    case, system, replicate = key.split("/")
    fresh = baseline.outputs(case, system, int(replicate))
    stored = STORED[key]
    moved = []
    for part in ("runs", "series_totals"):
        assert set(fresh[part]) == set(stored[part]), f"{part}: columns changed"
        for name, old in stored[part].items():
            new = fresh[part][name]
            same = (
                old == new
                if not isinstance(old, float) or not isinstance(new, float)
                else math.isclose(old, new, rel_tol=1e-12, abs_tol=1e-9)
            )
            if not same:
                moved.append(f"{part}.{name}: {old!r} -> {new!r}")
    assert not moved, f"{key} moved:\n" + "\n".join(moved)


def test_the_baseline_covers_every_case_system_and_replicate() -> None:
    expected = {f"{c}/{s}/{r}" for c in baseline.CASES for s in baseline.SYSTEMS for r in baseline.REPLICATES}
    assert set(STORED) == expected
