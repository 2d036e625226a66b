"""`guide watch` under load: keystroke p99 and peak memory while a program makes 50 calls a second through the relay.

The watch app runs headless with its relay (a process of its own, as `guide
watch` starts it); the program is a process of its own, sending streamed
chat calls (20 chunks each, from stream_server.py) at 50 a second, through one
client as a program using an SDK does (a client made per call spent most of
the machine's two cores on TLS set-up, and made 30 calls a second, not 50:
the benchmark measured the load program). Keys go in
through the driver, one every 20 ms, each timed until the calls panel has
acted on it (`w` steps its filter). Targets: p99 ≤ 50 ms, peak memory ≤ 150 MiB.
WATCH_SECONDS shortens the minute.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECONDS = float(os.environ.get("WATCH_SECONDS", "60"))
RATE = 50
GAP = 0.02
PROGRAM = """
import sys, time, threading, httpx
base, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
body = {"model": "bench", "messages": [{"role": "user", "content": "Go."}], "stream": True}
client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
def one():
    with client.stream("POST", base + "/v1/chat/completions", json=body, headers={"User-Agent": "load/1.0"}) as r:
        for _ in r.iter_raw():
            pass
end = time.monotonic() + seconds
while time.monotonic() < end:
    threading.Thread(target=one, daemon=True).start()
    time.sleep(1 / rate)
time.sleep(2)
"""


async def measure(upstream: str) -> tuple[list[float], int]:
    import socket

    from textual import events

    from guide.cli.watch import stop, watching
    from guide.tui.widgets.calls_panel import CallsPanel

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app, relay = watching(upstream, port, None)
    times: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            program = subprocess.Popen([sys.executable, "-c", PROGRAM, app.relay_url, str(RATE), str(SECONDS)])
            panel = app.screen.query_one(CallsPanel)
            panel.query_one("#calls").focus()
            driver = app._driver
            end = time.monotonic() + SECONDS
            while not panel.theirs and time.monotonic() < end:  # the filter's key is on once the program's first call has come
                await asyncio.sleep(0.01)
            while time.monotonic() < end:
                before = panel.whose
                key = events.Key("w", "w")
                key.set_sender(app)  # type: ignore[arg-type]
                started = time.perf_counter()
                driver.send_message(key)  # type: ignore[union-attr]
                while panel.whose == before:
                    await asyncio.sleep(0.0002)
                times.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(GAP)
            program.wait(30)
            calls = len(panel.traces) + panel.earlier
    finally:
        stop(relay)
        app.store.close()
    return times, calls


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    here = Path(__file__).resolve().parent
    server = subprocess.Popen([sys.executable, str(here / "stream_server.py"), "20"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        upstream = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as home:
            os.environ["GUIDE_HOME"] = home
            times, calls = asyncio.run(measure(upstream))
    finally:
        server.terminate()
        server.wait(10)
    p99 = statistics.quantiles(times, n=100)[98]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        (f"guide watch, {RATE} calls/s for {SECONDS:g} s ({calls:,} calls): keystroke p99 (target ≤ 50 ms)", p99, "ms", p99 / 50, "50 ms"),
        ("guide watch under that load: peak memory (target ≤ 150 MiB)", peak, "MiB", peak / 150, "150 MiB"),
    ]


if __name__ == "__main__":
    for name, value, unit, ratio, anchor in rows():
        print(f"| {name} | {value:.3f} {unit} | {ratio:.2f}× | {anchor} |")
