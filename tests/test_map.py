"""The map: eleven rows, honest names, one place for legacy paths and the version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from guide import ACTIONS, API_VERSION, Gentle
from guide.cli import map_table

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["think", "continue", "understand", "imagine", "listen", "speak", "catalog", "interpret", "discern", "revise", "respond"]
RETIRED = {"revise"}
"""Rows whose endpoint OpenAI has retired: the current spec no longer has them (tests/test_revise_shape.py keeps their historical shape)."""


def test_the_map_has_the_eleven_gentle_actions_in_order() -> None:
    assert list(ACTIONS) == NAMES


def test_each_gentle_name_has_its_row_and_reads_as_the_stored_string() -> None:
    # A member with no row would type-check everywhere and fail at the first lookup.
    assert [row.name for row in ACTIONS.values()] == list(Gentle)
    assert [str(name) for name in Gentle] == NAMES and Gentle.continue_ == "continue"
    assert RETIRED == {name for name, row in ACTIONS.items() if row.retired}


def test_the_map_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        ACTIONS["think"] = ACTIONS["continue"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        ACTIONS["think"].path = "/elsewhere"  # type: ignore[misc]


def test_continue_is_read_as_continue_and_called_as_continue_() -> None:
    assert ACTIONS["continue"].name == "continue"
    assert ACTIONS["continue"].method_name == "continue_"
    assert ACTIONS["think"].method_name == "think"


@pytest.mark.parametrize("name", NAMES)
def test_each_legacy_path_is_in_the_official_spec_with_its_method(name: str, spec: dict[str, Any]) -> None:
    action = ACTIONS[name]
    if name in RETIRED:
        assert action.path not in spec["paths"], f"{action.path} is back in the spec: it is no longer retired"
        assert "retired at OpenAI" in action.meaning
        return
    assert action.path in spec["paths"], action.path
    operation = spec["paths"][action.path][action.method.lower()]
    assert operation["operationId"]
    assert spec["servers"][0]["url"].endswith("/" + API_VERSION)


def test_no_other_module_spells_a_legacy_path() -> None:
    spelled = re.compile(
        r"[\"'](/v1)?/(chat/completions|completions|embeddings|images/generations|audio/\w+|models|moderations|edits|responses)[\"']"
    )
    offenders = [
        str(path.relative_to(ROOT)) for path in (ROOT / "guide").rglob("*.py") if path.name != "_map.py" and spelled.search(path.read_text())
    ]
    assert offenders == []


def test_the_version_is_added_in_one_place() -> None:
    spelled = re.compile(r"[\"']/?v1[\"'/]")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "guide").rglob("*.py") if p.name != "_map.py" and spelled.search(p.read_text())]
    assert offenders == []


def test_the_readme_table_is_the_map() -> None:
    readme = (ROOT / "README.md").read_text()
    assert map_table(markdown=True) in readme


def test_guide_map_prints_every_row() -> None:
    result = subprocess.run([sys.executable, "-m", "guide", "map"], capture_output=True, text=True, check=True, timeout=60)
    for action in ACTIONS.values():
        assert re.search(
            rf"^{action.name}\s+→\s+{action.method}\s+{re.escape(action.legacy_path)}\s+{re.escape(action.sdk_call)}", result.stdout, re.M
        )


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "pip install '.[test]' && python -m pytest"
    assert f"```sh\n{command}\n```" in readme
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
