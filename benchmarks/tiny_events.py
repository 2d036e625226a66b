"""The UI loop while the app reads and files a reply of 3,000,000 tiny events.

A server in its own process sends one Responses stream within the 64 MB guide
reads: response.created, a word, 3,000,000 events of a type guide does not
read (`data: {"type":"x"}`), another word, response.completed. The app runs
headless and answers through respond; a timer on the app's own loop wakes
every 5 ms and keeps how late it woke (a loop-lag probe): the longest block,
from Enter until the reply is on screen and its trace is stored. The target
is under 100 ms; when every frame was kept, filing the call built the whole
record (88 MB) on the loop: 11.3 s frozen.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_server import MODELS_REPLY, read_request

EVENTS = 3_000_000
TICK = 0.005
"""How often the probe asks the loop to wake it, in seconds."""
IDLE = 3.0
"""Seconds the probe watches the idle app first: what the machine alone does to the loop."""


def body(events: int) -> bytes:
    """The stream: created, a word, `events` tiny events, a word, completed."""
    response = {"id": "resp_bench", "object": "response", "created_at": 0, "status": "in_progress", "model": "bench", "output": []}

    def event(value: dict[str, object]) -> bytes:
        return b"data: " + json.dumps(value, separators=(",", ":")).encode() + b"\n\n"

    def delta(text: str) -> bytes:
        return event({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": text})

    done = event({"type": "response.completed", "response": {**response, "status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2}}})
    return event({"type": "response.created", "response": response}) + delta("Calm") + b'data:{"type":"x"}\n\n' * events + delta(" words.") + done


async def serve(events: int) -> None:
    """Answer the catalog and, on /v1/responses, the stream (as fast as the socket takes it); print the port."""
    stream = body(events)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(stream)
    missing = b'{"error":{"message":"no such route","type":"invalid_request_error"}}'
    missing_head = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(missing)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                path = (await read_request(reader)).split(b" ", 2)[1]
                if path.endswith(b"/models"):
                    writer.write(MODELS_REPLY)
                elif path.endswith(b"/responses"):
                    writer.write(head)
                    for start in range(0, len(stream), 65536):
                        writer.write(stream[start : start + 65536])
                        await writer.drain()
                else:
                    writer.write(missing_head + missing)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@asynccontextmanager
async def probed() -> AsyncIterator[list[float]]:
    """A timer on the running loop that asks to wake every TICK and keeps how late it woke, the worst of it: [on the clock,
    in the process's CPU time]. The CPU figure is the work that held the loop, apart from waiting for a busy machine's cores."""
    worst = [0.0, 0.0]
    probing = True

    async def probe() -> None:
        while probing:
            asked, spent = time.perf_counter(), time.process_time()
            await asyncio.sleep(TICK)
            worst[0] = max(worst[0], time.perf_counter() - asked - TICK)
            worst[1] = max(worst[1], time.process_time() - spent)

    prober = asyncio.create_task(probe())
    try:
        yield worst
    finally:
        probing = False
        await prober


async def longest_block(base: str) -> tuple[list[float], list[float], float]:
    """The probe's worst with the app idle, then while it reads and files the reply; the time from Enter until the trace was stored."""
    from guide.tui.app import GuideApp

    app = GuideApp(flags={"base_url": base, "model": "bench"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.chat.composer.text = "/respond on"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        async with probed() as idle:
            await asyncio.sleep(IDLE)
        async with probed() as busy:
            app.chat.composer.text = "Go."
            started = time.perf_counter()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            store = app.session.store
            if store is None or not await asyncio.to_thread(store.flush, 120.0):
                raise SystemExit("the store did not take the trace")
            elapsed = time.perf_counter() - started
        view = app.chat.transcript.last_message("assistant")
        if view is None or view.text != "Calm words.":
            raise SystemExit(f"the app's reply was not the stream's words: {view.text if view else None!r}")
        traces = [trace for trace in app.session.conversation.calls.values() if trace.action == "respond"]
        if not traces or traces[-1].frame_count != EVENTS + 4:
            raise SystemExit("the reply's trace did not count every frame")
    return idle, busy, elapsed


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    here = os.path.dirname(os.path.abspath(__file__))
    server = subprocess.Popen([sys.executable, os.path.join(here, "tiny_events.py"), "serve", str(EVENTS)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as home:
            os.environ["GUIDE_HOME"] = home
            idle, busy, elapsed = asyncio.run(longest_block(base))
    finally:
        server.kill()
        server.wait()
    return [
        ("UI-loop probe, app idle: longest lateness (the machine's own noise)", idle[0] * 1000, "ms", 1.0, "idle app"),
        (f"longest UI-loop block: a {EVENTS:,}-event reply read and filed (target < 100 ms)", busy[0] * 1000, "ms", busy[0] / idle[0], "idle app"),
        ("  the same block in CPU time (what the app did, not a wait for the machine's cores)", busy[1] * 1000, "ms", 1.0, "—"),
        (f"a {EVENTS:,}-event reply: Enter → on screen and its trace stored", elapsed, "s", 1.0, "—"),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve(int(sys.argv[2])))
    else:
        for name, value, unit, ratio, anchor in rows():
            print(f"{name:<84} {value:10.1f} {unit}  {ratio:6.2f}× {anchor}")
