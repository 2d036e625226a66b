"""What /v1/responses says back of what it was sent: the instructions once, not once per event (issue 23, item 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_companion import Served, serve

from guide.companion.limits import MAX_BODY
from guide.companion.responses import ECHOED_EARLY

RESPONSES = "/v1/responses"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    yield from serve()


def events(text: str) -> dict[str, dict[str, Any]]:
    """The stream's events by type (each type's last)."""
    frames = [json.loads(line.removeprefix("data: ")) for line in text.split("\n") if line.startswith("data: ")]
    return {frame["type"]: frame for frame in frames}


def keeps_to_the_spec(spec: dict[str, Any], text: str) -> None:
    """Each event keeps to the spec's ResponseStreamEvent (a snapshot with instructions null included)."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="schemathesis brings jsonschema_rs")
    from test_companion_schema import as_json_schema, check_stream, companion_spec

    from guide.learn.spec_cut import STREAM_CHUNKS

    document = as_json_schema(companion_spec(spec))
    validator = jsonschema_rs.validator_for({**document, "$ref": f"#/components/schemas/{STREAM_CHUNKS['respond']}"})
    check_stream({RESPONSES.removeprefix("/v1"): validator}, RESPONSES.removeprefix("/v1"), text, finished=True)


def test_long_instructions_are_echoed_once_in_a_stream(served: Served, spec: dict[str, Any]) -> None:
    instructions = "Be calm. " * ((MAX_BODY - 4096) // 9)
    body = {"model": "reflective-listener", "input": "I feel calm", "instructions": instructions, "stream": True}
    sent = len(json.dumps(body))
    with httpx.stream("POST", served.url + RESPONSES, json=body, timeout=60) as answer:
        assert answer.status_code == 200
        text = answer.read().decode()
    assert len(text) < sent + 64 * 1024, f"{sent / 2**20:.1f} MB in, {len(text) / 2**20:.1f} MB out"
    by_type = events(text)
    assert by_type["response.completed"]["response"]["instructions"] == instructions  # whole, once: the Response as it ends
    assert by_type["response.created"]["response"]["instructions"] is None
    assert by_type["response.in_progress"]["response"]["instructions"] is None
    keeps_to_the_spec(spec, text)


def test_long_instructions_are_echoed_once_in_a_response(served: Served) -> None:
    instructions = "Be calm. " * ((MAX_BODY - 4096) // 9)
    body = {"model": "reflective-listener", "input": "I feel calm", "instructions": instructions}
    answer = httpx.post(served.url + RESPONSES, json=body, timeout=60)
    assert answer.status_code == 200 and answer.json()["instructions"] == instructions
    assert len(answer.content) < len(json.dumps(body)) + 64 * 1024


def test_short_instructions_are_echoed_in_every_snapshot_as_openai_does(served: Served) -> None:
    instructions = "Be calm. " * (ECHOED_EARLY // 9)
    body = {"model": "reflective-listener", "input": "I feel calm", "instructions": instructions, "stream": True}
    by_type = events(httpx.post(served.url + RESPONSES, json=body, timeout=60).text)
    for kind in ("response.created", "response.in_progress", "response.completed"):
        assert by_type[kind]["response"]["instructions"] == instructions, kind
