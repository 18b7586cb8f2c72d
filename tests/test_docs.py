"""Every config value has a unit and a source in its YAML comment and a row in docs/parameters.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def leaves(node: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            out += leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, node)]


def config_values() -> list[tuple[str, object, Path]]:
    values = []
    for path in sorted((ROOT / "conf").glob("*/default.yaml")):
        data = yaml.safe_load(path.read_text())
        values += [
            (f"{path.parent.name}.{key}", value, path)
            for key, value in leaves(data)
            if not key.startswith("inputs.")  # input distributions: tests/test_uncertainty.py checks their rows
        ]
    top = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
    for key, value in top.items():
        if key not in ("defaults", "hydra"):
            values.append((key, value, ROOT / "conf" / "config.yaml"))
    return values


def test_every_default_has_a_commented_unit_and_source() -> None:
    for path in [*sorted((ROOT / "conf").glob("*/default.yaml")), ROOT / "conf" / "config.yaml"]:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "-", "_target_")) or stripped.endswith(":"):
                continue
            if path.name == "config.yaml" and line.startswith(" "):
                continue  # Hydra's own settings
            # Nested by-need values share their parent's comment.
            parent_comment = bool(re.match(r"^\s+\w+:\s*\S", line)) and path.name != "config.yaml"
            assert "#" in line or parent_comment, f"{path.name}: no unit/source comment on: {line}"


def test_parameters_page_lists_every_value() -> None:
    page = (ROOT / "docs" / "parameters.md").read_text()
    rows = {}
    for line in page.splitlines():
        own = re.match(r"\| `([\w.]+)` \|", line)  # a key's own row comes first, before rows that mention it
        if own:
            rows[own.group(1)] = line
    for line in page.splitlines():
        for key in re.findall(r"`([\w.]+)`", line):
            rows.setdefault(key, line)
    missing = [key for key, _, _ in config_values() if key not in rows]
    assert not missing, f"docs/parameters.md lacks {missing}"
    for key, value, _ in config_values():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, list):
            shown = value[0]
        assert str(shown) in rows[key].lower() or str(shown) in rows[key], f"{key}: default {value} not in row"


@pytest.mark.parametrize("page", ["ODD.md", "parameters.md"])
def test_docs_exist(page: str) -> None:
    assert (ROOT / "docs" / page).stat().st_size > 2000
