"""Every notebook in notebooks/ runs top to bottom with small settings, and is stored without outputs.

Notebooks follow one convention: their first code cell defines ``OVERRIDES`` (Hydra overrides) and
then appends ``os.environ["NWSIM_NOTEBOOK_OVERRIDES"]``; the tests put small settings there, so each
notebook runs in well under a minute here while its own defaults suit a student.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
#: Appended to each notebook's own OVERRIDES (later overrides win).
SMALL = "team.people=200 horizon_years=2 warmup_years=0.5 replicates=6 jobs=1"
#: A notebook that takes longer than this with the small settings is probably ignoring them.
BUDGET_S = 120


def _code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_without_outputs(path: Path) -> None:
    for cell in _code_cells(path):
        assert not cell.outputs, f"{path.name}: a cell is stored with outputs (clear them before committing)"
        assert cell.execution_count is None, f"{path.name}: a cell is stored with an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_takes_overrides_from_the_environment(path: Path) -> None:
    first = _code_cells(path)[0].source
    assert "OVERRIDES = [" in first, f"{path.name}: the first code cell must define OVERRIDES = [...]"
    assert 'OVERRIDES += os.environ.get("NWSIM_NOTEBOOK_OVERRIDES", "").split()' in first, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NWSIM_NOTEBOOK_OVERRIDES", SMALL)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    start = time.monotonic()
    # Raises CellExecutionError, naming the cell, if any cell fails.
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    elapsed = time.monotonic() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert elapsed < BUDGET_S, f"{path.name} took {elapsed:.0f} s with {SMALL!r}"


def test_the_students_notebooks_are_there() -> None:
    assert {"01_first_run", "02_duty_vs_named"} <= set(IDS)
