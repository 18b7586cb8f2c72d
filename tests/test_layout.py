"""Layout: imports between sim modules go one way (no circles, no import from a higher layer of sim.LAYERS)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sim import LAYERS

SIM = Path(__file__).resolve().parent.parent / "sim"


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def sim_imports(source: str, package: str = "sim") -> set[str]:
    """Modules of ``package`` imported anywhere in ``source`` (in functions too), except under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the else branch does run
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".") if node.module else []
            if node.level > 0:  # relative: from . import x, from .x import y
                module = [package, *module]
            if module[:1] == [package]:
                if len(module) > 1:
                    found.add(module[1])
                else:  # from sim import x: x is a module (or a name of sim/__init__.py)
                    found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def import_graph(folder: Path = SIM) -> dict[str, set[str]]:
    """Each module of the package in ``folder`` -> the package's modules it imports (not itself, not __init__)."""
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    return {
        name: (sim_imports((folder / f"{name}.py").read_text(encoding="utf-8")) & modules) - {name}
        for name in sorted(modules)
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path that ends where it starts (None when there is none)."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, white) == grey:
                return [*stack[stack.index(nxt) :], nxt]
            if colour.get(nxt, white) == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for start in sorted(graph):
        if colour[start] == white:
            found = visit(start)
            if found:
                return found
    return None


def upward_imports(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Plain messages for imports from a lower layer to a higher one."""
    level = {name: i for i, layer in enumerate(layers) for name in layer}
    return [
        f"{module} (layer {level[module] + 1}) imports {target} (layer {level[target] + 1})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if module in level and target in level and level[target] > level[module]
    ]


# The checkers themselves -----------------------------------------------------------------------


def test_the_cycle_finder_finds_a_planted_circle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond is not a circle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_imports_inside_functions_count_and_type_checking_ones_do_not() -> None:
    source = """
from typing import TYPE_CHECKING
import sim.params
from sim.costs import COST_LINES
from sim import sensitivity
from . import streams
if TYPE_CHECKING:
    from sim.model import StaffingModel
else:
    from sim.agents import Person
def later():
    from sim.cli import main
import numpy
"""
    assert sim_imports(source) == {"params", "costs", "sensitivity", "streams", "agents", "cli"}


def test_the_layer_check_names_an_upward_import() -> None:
    layers = (("low",), ("high",))
    assert upward_imports({"low": set(), "high": {"low"}}, layers) == []
    assert upward_imports({"low": {"high"}, "high": set()}, layers) == ["low (layer 1) imports high (layer 2)"]


# The package ------------------------------------------------------------------------------------


def test_no_import_circles_among_sim_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_every_sim_module_is_in_exactly_one_layer() -> None:
    listed = [name for layer in LAYERS for name in layer]
    twice = sorted({name for name in listed if listed.count(name) > 1})
    modules = set(import_graph())
    assert not twice, f"in more than one layer of sim.LAYERS: {', '.join(twice)}"
    assert not modules - set(listed), f"add to sim.LAYERS: {', '.join(sorted(modules - set(listed)))}"
    assert not set(listed) - modules, f"in sim.LAYERS but not in sim/: {', '.join(sorted(set(listed) - modules))}"


def test_imports_go_only_to_the_same_or_lower_layers() -> None:
    problems = upward_imports(import_graph(), LAYERS)
    assert not problems, "imports from a higher layer:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", [name for layer in LAYERS for name in layer])
def test_the_package_docstring_describes_each_module(name: str) -> None:
    import sim

    assert f"``{name}``:" in (sim.__doc__ or ""), f"sim/__init__.py's docstring does not describe {name}"
