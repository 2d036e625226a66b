"""The relay (`guide serve --relay`): what it adds to the first byte, and its throughput on a 20,000-chunk stream, against the upstream direct.

The upstream (stream_server.py) and the relay each run in a process of their
own; the client reads raw bytes over one kept-alive connection, so the figures
are the relay's: passing the bytes on, and reading its copy for the trace.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNKS = 20_000
RUNS = 7
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Go."}], "stream": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError("the relay did not start")


def measure(base: str) -> tuple[float, float]:
    """Median time to the first byte of the body, and median time for the whole stream, in seconds."""
    firsts, wholes = [], []
    with httpx.Client(timeout=60) as client:
        for run in range(RUNS + 1):
            began = time.perf_counter()
            with client.stream("POST", base + "/v1/chat/completions", json=BODY) as response:
                first = None
                for _ in response.iter_raw():
                    first = first or time.perf_counter()
            if run:  # the first run opens the connections
                firsts.append((first or began) - began)
                wholes.append(time.perf_counter() - began)
    return statistics.median(firsts), statistics.median(wholes)


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    here = Path(__file__).resolve().parent
    with running([sys.executable, str(here / "stream_server.py"), str(CHUNKS)]) as server, tempfile.TemporaryDirectory() as home:
        assert server.stdout is not None
        upstream = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        port = free_port()
        env = {**os.environ, "GUIDE_HOME": home}
        with running([sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port)], env):
            wait_for(port)
            direct_first, direct = measure(upstream)
            relay_first, relayed = measure(f"http://127.0.0.1:{port}")
    added = (relay_first - direct_first) * 1000
    return [
        ("relay: first byte, upstream direct", direct_first * 1000, "ms", 1.0, "direct"),
        ("relay: first byte through the relay (target: under 2 ms added)", relay_first * 1000, "ms", relay_first / direct_first, "direct"),
        ("relay: milliseconds added to the first byte", added, "ms", 0.0, "—"),
        (f"relay: {CHUNKS:,}-chunk stream, upstream direct", direct, "s", 1.0, "direct"),
        (f"relay: {CHUNKS:,}-chunk stream through the relay (target: ≥ 0.9× direct)", relayed, "s", direct / relayed, "direct throughput"),
    ]


if __name__ == "__main__":
    for name, value, unit, ratio, anchor in rows():
        print(f"| {name} | {value:.3f} {unit} | {f'{ratio:.2f}×' if anchor != '—' else '—'} | {anchor} |")
