"""Discovery: which actions a server offers, from requests that generate nothing."""

from __future__ import annotations

import asyncio

import pytest
from loopback import Answer, LoopbackServer

from guide import ACTIONS, AsyncGuide, Guide
from guide.client import PROVIDERS, probe

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


def test_probe_counts_a_server_failure_on_its_invalid_request_as_a_route() -> None:
    failing = Answer(
        500, {"error": {"message": "1 validation error: Input should be a valid list", "type": "internal_server_error", "param": None, "code": None}}
    )
    with LoopbackServer() as server:
        server.push(failing)
        with Guide(base_url=server.url) as ai:
            found = ai.probe()
    assert found["think"].support == "yes" and "failed" in found["think"].reason


def test_probe_reads_lm_studios_unexpected_endpoint_answer() -> None:
    lm_studio = Answer(200, {"error": "Unexpected endpoint or method. (POST /v1/images/generations)"})
    with LoopbackServer(offers=CHAT_ONLY, missing_route=lm_studio) as server:
        found = supports(probe(server.url))
    assert found["imagine"] == "no" and found["think"] == "yes"


def test_probe_says_unknown_when_the_key_is_refused() -> None:
    with LoopbackServer(api_key="sk-right") as server:
        found = supports(probe(server.url, api_key="sk-wrong"))
    assert set(found.values()) == {"unknown"}


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
