"""The companion fuzzed from the official OpenAPI spec with schemathesis: no input gets a 5xx, and every forbidden one a 4xx.

For every route the companion offers, schemathesis makes requests the spec
allows (positive) and requests it forbids (negative: each must be refused
with a 4xx, not answered, as OpenAI refuses them); half of them name one
of the companion's own models, so they reach the engines instead of stopping
at model_not_found. Every answer is either a 2xx that keeps to the spec's
response schema (each streamed chunk too) or an error in the OpenAI shape.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fuzzing import examples
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_companion import ESPEAK, SPHINX, Served, serve

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (the test extra: pip install '.[test]')")
jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="schemathesis brings jsonschema_rs")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from guide.client import ACTIONS  # noqa: E402
from guide.companion.engines import ESPEAK_ID, HASHED_ID  # noqa: E402
from guide.companion.listener import MODEL_ID  # noqa: E402
from guide.learn.spec_cut import STREAM_CHUNKS, cut  # noqa: E402
from guide.learn.validate import as_json_schema  # noqa: E402

EXAMPLES = examples(100, 30)
"""Examples per route and mode (tests/fuzzing.py): GUIDE_FUZZ=thorough draws more, as CI's run with the extras does."""
ROUTES = {
    "/models": ("GET", None),
    "/chat/completions": ("POST", MODEL_ID),
    "/completions": ("POST", MODEL_ID),
    "/embeddings": ("POST", HASHED_ID),
    "/audio/speech": ("POST", ESPEAK_ID),
    "/audio/transcriptions": ("POST", "pocketsphinx-en-us"),
    "/responses": ("POST", MODEL_ID),
}
TYPED = {"/responses"}
"""Routes that stream the Responses API's typed events: an `event:` line each, no `data: [DONE]`, the last one ending the response."""
WAV = b"RIFF$}\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00data\x00}\x00\x00" + b"\x00\x00" * 16000


def offered(path: str) -> bool:
    return {"/audio/speech": ESPEAK, "/audio/transcriptions": SPHINX}.get(path, True)


def companion_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Just the companion's routes from the spec, with every component they refer to (so loading is quick)."""
    return cut(spec, {path: method for path, (method, _) in ROUTES.items()}, tuple(STREAM_CHUNKS.values()))


@pytest.fixture(scope="module")
def mini(spec: dict[str, Any]) -> dict[str, Any]:
    return companion_spec(spec)


@pytest.fixture(scope="module")
def companion() -> Iterator[Served]:
    yield from serve()


def is_openai_error(answer: Any) -> None:
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)


@pytest.fixture(scope="module")
def chunk_schemas(mini: dict[str, Any]) -> dict[str, Any]:
    """A validator for each streamed route's chunks."""
    document = as_json_schema(mini)
    return {
        ACTIONS[action].path: jsonschema_rs.validator_for({**document, "$ref": f"#/components/schemas/{name}"})
        for action, name in STREAM_CHUNKS.items()
    }


@pytest.fixture(scope="module")
def request_schemas(mini: dict[str, Any]) -> dict[str, Any]:
    """A validator for each JSON route's request body, from the spec alone (jsonschema_rs: not the companion's own validator)."""
    document = as_json_schema(mini)
    made = {}
    for path, (method, _) in ROUTES.items():
        content = mini["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
        if "application/json" in content:
            made[path] = jsonschema_rs.validator_for({**document, **content["application/json"]["schema"]})
    return made


def forbidden(validators: dict[str, Any], path: str, body: Any) -> bool:
    """Whether the spec rules this JSON body out: schemathesis's negation is not exact (it once offered a null stream_options, which the spec
    allows). A form's values arrive as text, so its negation says little: the transcription's fields are refused by name in test_companion_faithful."""
    if path not in validators:
        return False
    try:
        return not validators[path].is_valid(body)
    except ValueError:  # bytes in the body: no JSON value at all
        return True


def check_stream(validators: dict[str, Any], path: str, text: str, *, finished: bool) -> None:
    """Each streamed chunk keeps to the spec's chunk schema; a stream read to its end ends with [DONE]."""
    frames = [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]
    assert frames, text[:200]
    if finished and path in TYPED:
        names = [line.removeprefix("event: ") for line in text.split("\n") if line.startswith("event: ")]
        assert names == [json.loads(frame)["type"] for frame in frames], names  # each event named as its type says
        assert names[-1] in ("response.completed", "response.incomplete", "error"), text[-200:]
    elif finished:
        assert frames[-1] == "[DONE]", text[-200:]
    for frame in frames:
        if frame == "[DONE]":
            continue
        chunk = json.loads(frame)
        if path == "/completions":  # the spec has no chunk schema here: OpenAI's chunks are completions whose finish_reason is null until the end
            for choice in chunk.get("choices", []):
                choice["finish_reason"] = choice.get("finish_reason") or "stop"
        errors = [error.message for error in validators[path].iter_errors(chunk)]
        assert not errors, (errors, chunk)


def check_base64_vectors(answer: Any) -> None:
    """encoding_format base64: the spec draws only float lists, but OpenAI (and the SDK) send base64 float32."""
    for item in answer.json()["data"]:
        try:
            raw = base64.b64decode(item["embedding"], validate=True)
        except binascii.Error:
            pytest.fail(f"not base64: {item['embedding'][:80]}")
        assert raw and len(raw) % 4 == 0


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["allowed", "forbidden"])
@pytest.mark.parametrize("path", list(ROUTES))
def test_no_input_gets_a_5xx_and_every_answer_keeps_to_the_spec(
    path: str, mode: GenerationMode, mini: dict[str, Any], chunk_schemas: dict[str, Any], request_schemas: dict[str, Any], companion: Served
) -> None:
    if path == "/models" and mode == GenerationMode.NEGATIVE:
        pytest.skip("GET /v1/models takes no parameters: there is nothing to get wrong")
    if not offered(path):
        pytest.skip(f"the companion does not offer {path} here (needs espeak-ng / the local extra)")
    method, model = ROUTES[path]
    operation = schemathesis.openapi.from_dict(mini)[path][method]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing example is shown as found (shrinking one took minutes)
    )
    @given(case=operation.as_strategy(generation_mode=mode), ours=st.booleans())
    def request(case: Any, ours: bool) -> None:
        if ours and model and isinstance(case.body, dict):
            case.body["model"] = model  # reach the engine, not just model_not_found
            if path == "/audio/transcriptions":
                case.body["file"] = WAV
        answer = case.call(base_url=companion.base, timeout=60)
        assert answer.status_code < 500, answer.text[:500]
        if mode == GenerationMode.NEGATIVE:  # forbidden by the spec: refused, never answered as if it were fine (OpenAI refuses it)
            if forbidden(request_schemas, path, case.body):
                assert 400 <= answer.status_code < 500, (case.body, answer.status_code, answer.text[:300])
        if answer.status_code >= 300:
            is_openai_error(answer)
        elif any(kind.startswith("text/event-stream") for kind in answer.headers.get("content-type", [])):
            check_stream(chunk_schemas, path, answer.text, finished=not answer.stream_cut_short)
        elif path == "/embeddings" and isinstance(case.body, dict) and case.body.get("encoding_format") == "base64":
            check_base64_vectors(answer)
        else:
            case.validate_response(answer, checks=[not_a_server_error, response_schema_conformance])

    try:
        request()
    except schemathesis.core.errors.UnsupportedSchema:
        if (path, mode) != ("/responses", GenerationMode.NEGATIVE):
            raise
        # Some draws reach a part of CreateResponse schemathesis cannot negate (a `not` whose complement the spec does not
        # spell out). Then the forbidden bodies are these, each kind of wrong the spec rules out: still never a 5xx.
        for wrong in FORBIDDEN_RESPONSES:
            body = {"model": model, **wrong} if isinstance(wrong, dict) and "input" in wrong and "model" not in wrong else wrong
            answer = httpx.post(f"{companion.base}/v1/responses", json=body, timeout=60)
            assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.text[:300])
            is_openai_error(answer)
    assert "Traceback" not in companion.output()


FORBIDDEN_RESPONSES: list[Any] = [
    {},
    [],
    "words",
    {"input": 5},
    {"input": [{"role": 7, "content": "x"}]},
    {"input": [{"role": "user", "content": 7}]},
    {"input": {"nested": [[[]]]}},
    {"model": [], "input": "x"},
    {"input": "x", "stream": "yes"},
    {"input": "x", "temperature": "hot"},
    {"input": "x", "temperature": 9},
    {"input": "x", "max_output_tokens": -1},
    {"input": "x", "instructions": {"a": 1}},
]
