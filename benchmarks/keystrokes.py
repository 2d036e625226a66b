"""Keystroke to echo in the composer: idle, while a 2,000-token reply streams, and while another guide holds the store.

The real app runs headless; keys go in through its driver, as a terminal's
do, one every 20 ms (a fast typist), and each is timed until the composer
holds it. (b) types while a loopback server streams 2,000 tokens at 150 a
second; (c) types after sending a message while another process holds the
store's write lock for 5 s (the message and the reply are saved when it is
freed: the benchmark checks they were). Targets: p99 ≤ 50 ms in all three,
and (c) within 1.5× of (a).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_server import MODELS_REPLY, read_request

KEYS = 200
GAP = 0.02
TOKENS = 2000
PACE = 1 / 150
HOLD = 5.0


async def paced_server(tokens: int) -> tuple[asyncio.AbstractServer, int]:
    """A loopback server whose first chat reply streams `tokens` tokens at 150 a second (later ones: 20)."""
    replies = 0
    base = {"id": "chatcmpl-keys", "object": "chat.completion.chunk", "created": 0, "model": "bench"}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal replies
        try:
            while True:
                if (await read_request(reader)).startswith(b"GET"):
                    writer.write(MODELS_REPLY)
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                replies += 1
                for i in range(tokens if replies == 1 else 20):
                    frame = {**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
                    data = f"data: {json.dumps(frame)}\n\n".encode()
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                    await writer.drain()
                    await asyncio.sleep(PACE)
                finish = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                end = f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n".encode()
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def type_keys(app: object) -> list[float]:
    """Type KEYS letters into the composer through the driver; each one's time to reach the composer, in ms."""
    from textual import events

    composer = app.chat.composer  # type: ignore[attr-defined]
    composer.focus()
    driver = app._driver  # type: ignore[attr-defined]
    times = []
    for i in range(KEYS):
        letter = "abcdefghij"[i % 10]
        before = len(composer.text)
        key = events.Key(letter, letter)
        key.set_sender(app)  # type: ignore[arg-type]
        started = time.perf_counter()
        driver.send_message(key)
        while len(composer.text) == before:
            await asyncio.sleep(0.0002)
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(GAP)
    composer.text = ""
    return times


def hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the store's write lock and keeps it."""
    code = (
        f"import sqlite3, time\ndb = sqlite3.connect({str(path)!r}, isolation_level=None)\ndb.execute('BEGIN IMMEDIATE')\n"
        f"print('locked', flush=True)\ntime.sleep({seconds})\ndb.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


async def measure() -> dict[str, list[float]]:
    from guide.tui.app import GuideApp

    server, port = await paced_server(TOKENS)
    results: dict[str, list[float]] = {}
    app = GuideApp(flags={"base_url": f"http://127.0.0.1:{port}", "model": "bench"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await app.session.started.wait()
        results["idle"] = await type_keys(app)

        app.chat.composer.text = "Tell me a long story."
        await pilot.press("enter")
        while not app.chat.streaming:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        results["streaming"] = await type_keys(app)
        assert app.chat.streaming, "the reply ended before the keys were typed: make it longer"
        app.chat.stop()
        await pilot.pause(0.3)

        store = app.session.store
        assert store is not None and store.flush(10)
        holder = hold_lock(store.path, HOLD)
        try:
            app.chat.composer.text = "Once more, while the file is busy."
            await pilot.press("enter")
            while app.chat.streaming or not app.session.conversation.turns[-1].role == "assistant":
                await asyncio.sleep(0.01)  # the short reply has arrived: its writes wait for the lock, with the message's
            results["store locked"] = await type_keys(app)
            assert store.saving == "waiting", "the other process's lock was not felt"
        finally:
            holder.wait(30)
        assert store.flush(15), "what was written while the store was locked did not land"
        with sqlite3.connect(store.path) as check:
            said = [row[0] for row in check.execute("SELECT content FROM messages WHERE role = 'user' ORDER BY id")]
        assert said[-1] == "Once more, while the file is busy.", said
    server.close()
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["GUIDE_HOME"] = home
        results = asyncio.run(measure())
    idle99 = percentile(results["idle"], 0.99)
    out = [("keystroke → echo, idle: p50", statistics.median(results["idle"]), "ms", 1.0, "—")]
    out.append(("keystroke → echo, idle: p99 (target ≤ 50 ms)", idle99, "ms", idle99 / 50, "50 ms"))
    for name, label in (("streaming", f"while {TOKENS:,} tokens stream"), ("store locked", f"while another guide holds the store {HOLD:.0f} s")):
        out.append((f"keystroke → echo, {label}: p50", statistics.median(results[name]), "ms", 1.0, "—"))
        p99 = percentile(results[name], 0.99)
        out.append((f"keystroke → echo, {label}: p99 (target ≤ 50 ms)", p99, "ms", p99 / 50, "50 ms"))
    locked99 = percentile(results["store locked"], 0.99)
    out.append(("keystroke → echo p99: store locked ÷ idle (target ≤ 1.5×)", locked99 / idle99, "×", locked99 / idle99, "idle p99"))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for name, value, unit, ratio, anchor in rows():
        print(f"{name:<66} {value:8.2f} {unit}  {ratio:5.2f}× {anchor}")
