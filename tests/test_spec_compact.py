"""The compact spec the tests read is the full OpenAI spec, cut: never a stale or hand-edited copy."""

from __future__ import annotations

import json

import pytest

from guide.client import ACTIONS
from guide.learn.spec_cut import COMPACT, FULL, as_text, cut, map_routes, read_full


def test_the_compact_spec_is_the_full_ones_cut() -> None:
    pytest.importorskip("yaml", reason="reading the full spec needs PyYAML (the test extra)")
    if not FULL.exists():
        pytest.skip(f"the full spec is not beside the clone ({FULL}): the compact copy cannot be checked against it here")
    assert COMPACT.read_text(encoding="utf-8") == as_text(cut(read_full(), map_routes())), "stale: run python -m guide.learn.spec_cut"


def test_the_compact_spec_has_every_route_of_the_map_the_spec_still_has() -> None:
    compact = json.loads(COMPACT.read_text(encoding="utf-8"))
    assert {(path, method) for path, item in compact["paths"].items() for method in item} == {
        (action.path, action.method.lower()) for action in ACTIONS.values() if action.name != "revise"
    }  # revise's /edits is retired: the spec no longer has it (its historical shape is in tests/test_revise_shape.py)
