"""Discovery: which actions a server offers, from requests that generate nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from loopback import Answer, LoopbackServer

from guide import ACTIONS, AsyncGuide, Guide
from guide.client import PROVIDERS, probe
from guide.client._providers import SOUND_TYPES

CHAT_ONLY = {"/chat/completions", "/completions", "/models"}


def supports(findings: dict[str, object]) -> dict[str, str]:
    return {name: finding.support for name, finding in findings.items()}  # type: ignore[attr-defined]


def test_probe_reports_what_a_chat_only_server_offers() -> None:
    with LoopbackServer(offers=CHAT_ONLY) as server:
        found = supports(probe(server.url))
    assert found == {name: "yes" if ACTIONS[name].path in CHAT_ONLY else "no" for name in ACTIONS}


def test_probe_spends_no_tokens(server: LoopbackServer) -> None:
    with Guide(base_url=server.url) as ai:
        found = ai.probe()
    bodies = [r.json for r in server.requests if r.json is not None]
    # Each body carries one required field with the wrong type, so validation refuses it before any work.
    assert bodies and all(len(body) == 1 and next(iter(body.values())) == {} for body in bodies)
    assert all(f.status in (200, 400) for f in found.values())
    assert len(server.requests) == len(ACTIONS)


def test_a_route_that_fails_the_invalid_request_is_tried_once_for_real() -> None:
    # llama.cpp's server reports its validation as a 500: only a minimal real request (one token) says the route works.
    failing = Answer(
        500, {"error": {"message": "1 validation error: Input should be a valid list", "type": "internal_server_error", "param": None, "code": None}}
    )
    with LoopbackServer() as server:
        server.push(failing)
        with Guide(base_url=server.url) as ai:
            found = ai.probe()
    assert found["think"].support == "yes" and "answered a minimal one" in found["think"].reason
    assert server.requests[-1].json["max_tokens"] == 1 and len(server.requests) == len(ACTIONS) + 1


class NoEmbeddings(LoopbackServer):
    """llama-cpp-python's server started without --embedding: the route is there, and every request to it fails."""

    def default(self, request: Any) -> Any:
        if request.path.endswith("/embeddings"):
            return Answer(
                500, {"error": {"message": "Llama model must be created with embedding=True to call this method", "type": "internal_server_error"}}
            )
        return super().default(request)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_route_that_exists_but_fails_is_not_offered_and_says_why(driver: str) -> None:
    with NoEmbeddings() as server:
        if driver == "sync":
            with Guide(base_url=server.url) as ai:
                found = ai.probe()
        else:

            async def go() -> dict[str, Any]:
                async with AsyncGuide(base_url=server.url) as ai:
                    return await ai.probe()

            found = asyncio.run(go())
    understand = found["understand"]
    assert understand.support == "no" and understand.status == 500
    assert understand.reason.startswith("the route exists but failed (HTTP 500): Llama model must be created with embedding=True")
    assert found["think"].support == "yes"


def test_probe_reads_lm_studios_unexpected_endpoint_answer() -> None:
    lm_studio = Answer(200, {"error": "Unexpected endpoint or method. (POST /v1/images/generations)"})
    with LoopbackServer(offers=CHAT_ONLY, missing_route=lm_studio) as server:
        found = supports(probe(server.url))
    assert found["imagine"] == "no" and found["think"] == "yes"


def test_probe_says_unknown_when_the_key_is_refused() -> None:
    with LoopbackServer(api_key="sk-right") as server:
        found = supports(probe(server.url, api_key="sk-wrong"))
    assert set(found.values()) == {"unknown"}


WEB_PAGE = "<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"


@pytest.mark.parametrize("labelled", [True, False], ids=["text/html", "unlabelled"])
def test_a_server_that_answers_every_path_with_a_web_page_offers_nothing(labelled: bool, run_guide: Any) -> None:
    page = Answer(200, WEB_PAGE.encode(), headers={"content-type": "text/html; charset=utf-8"} if labelled else {})
    with LoopbackServer(offers=set(), missing_route=page) as server:
        result = run_guide("probe", server.url)
    rows = result.stdout.splitlines()[1:]
    assert result.returncode == 0 and len(rows) == len(ACTIONS)
    assert all(row.split()[0] == "✗" and row.endswith("answered with a web page, not the API's shape") for row in rows), rows


def test_an_answer_of_the_wrong_shape_is_not_counted() -> None:
    with LoopbackServer(offers=set(), missing_route=Answer(200, {"status": "ok"})) as server:
        found = probe(server.url)
    assert {f.support for f in found.values()} == {"no"}
    assert all("not in the API's shape" in f.reason for f in found.values())


def test_a_refusal_that_is_not_an_error_object_leaves_the_question_open() -> None:
    with LoopbackServer(offers=set(), missing_route=Answer(400, "Bad Request")) as server:
        found = probe(server.url)
    assert {f.support for f in found.values()} == {"unknown"}
    assert all("not in the API's error shape: Bad Request" in f.reason for f in found.values())


def test_speech_answered_as_audio_counts_and_only_for_speak() -> None:
    with LoopbackServer(offers=set(), missing_route=Answer(200, b"RIFF\x00\x00\x00\x00WAVEfmt ", headers={"content-type": "audio/wav"})) as server:
        found = supports(probe(server.url))
    assert found == {name: "yes" if name == "speak" else "no" for name in ACTIONS}


def test_a_catalog_longer_than_the_probe_reads_counts() -> None:
    models = [{"id": f"model-{i:05}", "object": "model", "created": 0, "owned_by": "someone"} for i in range(3000)]
    with LoopbackServer(offers=set(), missing_route=Answer(200, {"object": "list", "data": models})) as server:
        found = probe(server.url)
    assert found["catalog"].support == "yes" and found["catalog"].reason == "it answered"
    assert found["think"].support == "no"


@pytest.mark.parametrize("action", sorted(name for name, row in ACTIONS.items() if not row.sound))
def test_the_answer_shapes_are_the_specs(action: str, spec: dict[str, Any]) -> None:
    fields = ACTIONS[action].answer_fields
    if ACTIONS[action].retired:  # retired, gone from the spec: its answer's fields as the spec of its day gave them
        from test_revise_shape import CREATE_EDIT_RESPONSE

        assert set(fields) <= CREATE_EDIT_RESPONSE["required"]
        return
    responses = spec["paths"][ACTIONS[action].path][ACTIONS[action].method.lower()]["responses"]["200"]["content"]
    schema = responses["application/json"]["schema"]
    refs = [schema] if "$ref" in schema else schema.get("anyOf") or schema.get("oneOf")
    shapes = [spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]] for ref in refs]
    assert fields and all(set(fields) <= properties(spec, shape) for shape in shapes)
    assert ("text/event-stream" in responses) <= ACTIONS[action].spec_streams  # /completions streams, though its content lists only JSON


def properties(spec: dict[str, Any], shape: dict[str, Any]) -> set[str]:
    """A schema's property names, through allOf (the Responses API's Response is built of parts)."""
    names = set(shape.get("properties", {}))
    for part in shape.get("allOf", []):
        names |= properties(spec, spec["components"]["schemas"][part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part)
    return names


def test_speech_is_audio_in_the_spec(spec: dict[str, Any]) -> None:
    content = spec["paths"][ACTIONS["speak"].path]["post"]["responses"]["200"]["content"]
    assert any(media.startswith(SOUND_TYPES) for media in content)


def test_probe_of_nothing_is_unknown_everywhere() -> None:
    with LoopbackServer() as server:
        url = server.url
    assert set(supports(probe(url)).values()) == {"unknown"}


def test_async_probe_agrees_with_sync() -> None:
    async def go(url: str) -> dict[str, str]:
        async with AsyncGuide(base_url=url) as ai:
            return supports(await ai.probe())

    with LoopbackServer(offers=CHAT_ONLY) as server:
        assert asyncio.run(go(server.url)) == supports(probe(server.url))


@pytest.mark.parametrize("provider", ["ollama", "lmstudio", "llamacpp", "vllm", "localai", "openai"])
def test_presets_have_their_usual_addresses(provider: str) -> None:
    port = {"ollama": "11434", "lmstudio": "1234", "llamacpp": "8080", "vllm": "8000", "localai": "8080"}.get(provider)
    preset = PROVIDERS[provider]
    assert preset.base_url.endswith(f":{port}") if port else preset.base_url == "https://api.openai.com"


ROUNDS = 20


def test_the_companion_the_app_starts_is_probed_the_same_every_time() -> None:
    """Each probe is answered: a route the companion lacks says 404 before reading the upload, and the answer is not lost."""
    from guide.companion.running import start

    async def rounds(url: str) -> list[dict[str, str]]:
        async with AsyncGuide(base_url=url) as ai:  # the app's client: the probes go out at once
            return [supports(await ai.probe()) for _ in range(ROUNDS)]

    companion = start()
    try:
        offered = {name: "yes" if name in companion.app.offered else "no" for name in ACTIONS}  # type: ignore[union-attr]
        seen = asyncio.run(rounds(companion.url)) + [supports(probe(companion.url)) for _ in range(3)]
    finally:
        companion.stop()
    assert seen == [offered] * (ROUNDS + 3)
