"""Consuming a 20,000-chunk stream (and respond's 20,000 typed events): AsyncGuide against raw httpx and the openai SDK.

Prints one row per figure: the time (median of the runs), chunks per second,
and the ratio to raw httpx + json.loads, measured in this same run.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_server import expected_text

from guide import AsyncGuide

CHUNKS = 20_000
RUNS = 5
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Go."}], "stream": True}


async def raw_httpx(base: str) -> str:
    pieces = []
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", base + "/v1/chat/completions", json=BODY) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk["choices"]:
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        pieces.append(content)
    return "".join(pieces)


async def raw_httpx_events(base: str) -> str:
    pieces = []
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", base + "/v1/responses", json={"model": "bench", "input": "Go.", "stream": True}) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event["type"]
                if kind == "response.output_text.delta":
                    pieces.append(event["delta"])
                elif kind == "response.completed":
                    break
    return "".join(pieces)


async def guide_async_events(base: str) -> str:
    async with AsyncGuide(base_url=base, model="bench") as ai:
        pieces = [piece async for piece in ai.respond("Go.", stream=True)]
    return "".join(pieces)


async def openai_sdk_events(base: str) -> str:
    import openai

    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="none")
    pieces = []
    stream = await client.responses.create(model="bench", input="Go.", stream=True)
    async for event in stream:
        if event.type == "response.output_text.delta":
            pieces.append(event.delta)
    await client.close()
    return "".join(pieces)


async def guide_async(base: str) -> str:
    async with AsyncGuide(base_url=base, model="bench") as ai:
        pieces = [piece async for piece in ai.think("Go.", stream=True)]
    return "".join(pieces)


async def openai_sdk(base: str) -> str:
    import openai

    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="none")
    pieces = []
    stream = await client.chat.completions.create(model="bench", messages=[{"role": "user", "content": "Go."}], stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    await client.close()
    return "".join(pieces)


def timed(run: Callable[[str], Awaitable[str]], base: str, expected: str) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        text = asyncio.run(run(base))
        times.append(time.perf_counter() - started)
        if text != expected:
            raise SystemExit(f"{run.__name__} lost text: {len(text)} != {len(expected)} characters")
    return statistics.median(times)


def alternated(runs: list[Callable[[str], Awaitable[str]]], base: str, expected: str) -> list[float]:
    """The median time of each, run in turns (a, b, a, b, …) so that a machine busy for a moment weighs on them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(2 * RUNS - 1):  # each run is short: more of them keep a busy moment from deciding the median
        for run, kept in zip(runs, times):
            started = time.perf_counter()
            text = asyncio.run(run(base))
            kept.append(time.perf_counter() - started)
            if text != expected:
                raise SystemExit(f"{run.__name__} lost text: {len(text)} != {len(expected)} characters")
    return [statistics.median(kept) for kept in times]


def whole_body_rows() -> list[tuple[str, float, str, float, str]]:
    """The same streams from a server that sends each body in one write: the client's own time, undiluted by the server's."""
    serve = [sys.executable, str(Path(__file__).with_name("stream_server.py")), str(CHUNKS), "whole"]
    server = subprocess.Popen(serve, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        expected = expected_text(CHUNKS)
        raw, ours = alternated([raw_httpx, guide_async], base, expected)
        raw_events, our_events = alternated([raw_httpx_events, guide_async_events], base, expected)
    finally:
        server.kill()
        server.wait()
    return [
        (f"stream {CHUNKS:,} chunks, body in one write: raw httpx + json.loads", raw, "s", 1.0, "raw httpx, 1 write"),
        (f"stream {CHUNKS:,} chunks, body in one write: AsyncGuide (target ≤ 1.2×)", ours, "s", ours / raw, "raw httpx, 1 write"),
        (f"respond {CHUNKS:,} typed events, body in one write: raw httpx + json.loads", raw_events, "s", 1.0, "raw events, 1 write"),
        (f"respond {CHUNKS:,} typed events, body in one write: AsyncGuide (≤ 1.3×)", our_events, "s", our_events / raw_events, "raw events, 1 write"),
    ]


def import_time(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(RUNS)]
    return min(runs)


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("stream_server.py")), str(CHUNKS)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        expected = expected_text(CHUNKS)
        raw = timed(raw_httpx, base, expected)
        ours = timed(guide_async, base, expected)
        raw_events = timed(raw_httpx_events, base, expected)
        our_events = timed(guide_async_events, base, expected)
        out = [
            (f"stream {CHUNKS:,} chunks: raw httpx + json.loads", raw, "s", 1.0, "raw httpx"),
            (f"stream {CHUNKS:,} chunks: AsyncGuide (target ≤ 1.3×)", ours, "s", ours / raw, "raw httpx"),
            (f"respond {CHUNKS:,} typed events: raw httpx + json.loads", raw_events, "s", 1.0, "raw httpx, events"),
            (f"respond {CHUNKS:,} typed events: AsyncGuide (≤ 1.3×)", our_events, "s", our_events / raw_events, "raw httpx, events"),
        ]
        try:
            import openai  # noqa: F401

            sdk = timed(openai_sdk, base, expected)
            out.append((f"stream {CHUNKS:,} chunks: openai SDK", sdk, "s", sdk / raw, "raw httpx"))
            sdk_events = timed(openai_sdk_events, base, expected)
            out.append((f"respond {CHUNKS:,} typed events: openai SDK", sdk_events, "s", sdk_events / raw_events, "raw httpx, events"))
        except ImportError:
            print("(the openai SDK is not installed: pip install openai, to compare with it)")
    finally:
        server.kill()
        server.wait()
    out += whole_body_rows()
    anchor = import_time("import httpx")
    async_anchor = import_time("import asyncio, httpx")
    out += [
        ("import httpx", anchor, "s", 1.0, "import httpx"),
        ("import guide (names load on first use)", (lazy := import_time("import guide")), "s", lazy / anchor, "import httpx"),
        ("from guide import Guide", (sync := import_time("from guide import Guide")), "s", sync / anchor, "import httpx"),
        ("import asyncio, httpx", async_anchor, "s", 1.0, "import asyncio, httpx"),
        (
            "from guide import AsyncGuide",
            (both := import_time("from guide import AsyncGuide")),
            "s",
            both / async_anchor,
            "import asyncio, httpx",
        ),
    ]
    try:
        sdk_import = import_time("import openai")
        out.append(("import openai", sdk_import, "s", sdk_import / anchor, "import httpx"))
    except subprocess.CalledProcessError:
        pass
    return out


if __name__ == "__main__":
    for name, value, unit, ratio, anchor in rows():
        print(f"{name:<52} {value:8.3f} {unit}  {ratio:5.2f}× {anchor}")
