"""The relay (`guide serve --relay`): what it adds to the first byte, and its throughput on a 20,000-chunk stream, against the upstream direct.

The upstream (stream_server.py) and the relay each run in a process of their
own; the client reads raw bytes over one kept-alive connection, so the figures
are the relay's: passing the bytes on, and reading its copy for the trace.

    python benchmarks/relay.py [/path/to/an/older/checkout]   # its relay's figures too, as "before"
    python benchmarks/relay.py --big                          # a 100 MB stream: time and the relay's peak memory (Linux)

The last rows pass the same streams through a bare asyncio byte pump (byte_pump.py), which parses and keeps nothing:
the least one more loopback hop costs a Python process on this machine, the floor under the relay's figures.
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
SHORT = 20
"""The first byte is timed on a short stream, so the relay's reading of the last long one is not what is measured."""
RUNS = 7
PAUSE = 0.2
"""Seconds between calls: the relay reads and files each call just after it has passed, as it would between a program's calls."""
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Go."}], "stream": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
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


def measure(base: str, nodelay: bool = False) -> tuple[float, float]:
    """Median time to the first byte of the body, and median time for the whole stream, in seconds.

    With `nodelay`, the client turns Nagle off as the openai SDK's transport does not (httpx leaves it on): its request's
    body then goes out without waiting for the ACK of its head, so the figure is the relay's alone.
    """
    firsts, wholes = [], []
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else []
    with httpx.Client(timeout=60, transport=httpx.HTTPTransport(socket_options=options)) as client:
        for run in range(RUNS + 1):
            began = time.perf_counter()
            with client.stream("POST", base + "/v1/chat/completions", json=BODY) as response:
                first = None
                for _ in response.iter_raw():
                    first = first or time.perf_counter()
            if run:  # the first run opens the connections
                firsts.append((first or began) - began)
                wholes.append(time.perf_counter() - began)
            time.sleep(PAUSE)
    return statistics.median(firsts), statistics.median(wholes)


@contextlib.contextmanager
def relay(upstream: str, home: str, tree: str) -> Iterator[str]:
    """`guide serve --relay UPSTREAM` from the source tree `tree` (this one, or an older checkout for the figures before); its address."""
    port = free_port()
    env = {**os.environ, "GUIDE_HOME": home, "PYTHONPATH": tree}
    with running([sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port)], env, cwd=tree):  # `-m` looks in cwd first
        wait_for(port)
        yield f"http://127.0.0.1:{port}"


def rows(before: str | None = os.environ.get("RELAY_BEFORE")) -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name); with `before` (a checkout of guide, $RELAY_BEFORE), its relay's figures too."""
    here = Path(__file__).resolve().parent
    trees = {"": str(here.parent), **({" (before)": before} if before else {})}
    found: dict[str, dict[str, tuple[float, float]]] = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running([sys.executable, str(here / "stream_server.py"), str(CHUNKS)]))
        short = stack.enter_context(running([sys.executable, str(here / "stream_server.py"), str(SHORT)]))
        assert server.stdout is not None and short.stdout is not None
        upstream = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        quick = f"http://127.0.0.1:{short.stdout.readline().strip()}"
        for label, tree in trees.items():
            home = stack.enter_context(tempfile.TemporaryDirectory())
            long_relay, short_relay = stack.enter_context(relay(upstream, home, tree)), stack.enter_context(relay(quick, home, tree))
            found[label] = {"long": measure(long_relay), "short": measure(short_relay), "nodelay": measure(short_relay, nodelay=True)}
        pumps = [
            stack.enter_context(running([sys.executable, str(here / "byte_pump.py"), address.rsplit(":", 1)[1]])) for address in (upstream, quick)
        ]
        long_pump, short_pump = (f"http://127.0.0.1:{pump.stdout.readline().strip()}" for pump in pumps if pump.stdout is not None)
        pumped = {"long": measure(long_pump), "short": measure(short_pump)}
        direct = {"long": measure(upstream), "short": measure(quick), "nodelay": measure(quick, nodelay=True)}
    figures = [
        (f"relay: first byte of a {SHORT}-chunk stream, upstream direct", direct["short"][0] * 1000, "ms", 1.0, "direct"),
        (f"relay: {CHUNKS:,}-chunk stream, upstream direct", direct["long"][1], "s", 1.0, "direct"),
    ]
    for label, got in found.items():
        figures += [
            (f"relay{label}: first byte added (target: under 2 ms)", (got["short"][0] - direct["short"][0]) * 1000, "ms", 0.0, "—"),
            (
                f"relay{label}: first byte added, the client's Nagle off (target: under 2 ms)",
                (got["nodelay"][0] - direct["nodelay"][0]) * 1000,
                "ms",
                0.0,
                "—",
            ),
            (f"relay{label}: first byte added on the {CHUNKS:,}-chunk stream", (got["long"][0] - direct["long"][0]) * 1000, "ms", 0.0, "—"),
            (f"relay{label}: {CHUNKS:,}-chunk stream, calls {PAUSE:g} s apart (target: ≥ 0.9× direct)", got["long"][1], "s", 0.0, ""),
        ]
    figures += [
        ("lower bound: a bare asyncio byte pump: first byte added", (pumped["short"][0] - direct["short"][0]) * 1000, "ms", 0.0, "—"),
        (f"lower bound: a bare asyncio byte pump: {CHUNKS:,}-chunk stream", pumped["long"][1], "s", 0.0, ""),
    ]
    whole = direct["long"][1]
    return [(row, value, unit, whole / value if not anchor else ratio, anchor or "direct throughput") for row, value, unit, ratio, anchor in figures]


BIG = 600_000
"""Chunks of the big stream: about 100 MB."""


def big_rows() -> list[tuple[str, float, str, float, str]]:
    """A 100 MB stream through the relay: its time against direct, and the relay's peak memory (its copy waits at most 8 MB)."""
    here = Path(__file__).resolve().parent
    with running([sys.executable, str(here / "stream_server.py"), str(BIG)]) as server, tempfile.TemporaryDirectory() as home:
        assert server.stdout is not None
        upstream = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with relay(upstream, home, str(here.parent)) as address:
            port = address.rsplit(":", 1)[1]
            pid = next(p for p in os.listdir("/proc") if p.isdigit() and f"--port\0{port}".encode() in Path(f"/proc/{p}/cmdline").read_bytes())
            times = {}
            for name, base in (("direct", upstream), ("relay", address)):
                began = time.perf_counter()
                with httpx.Client(timeout=300) as client, client.stream("POST", base + "/v1/chat/completions", json=BODY) as response:
                    size = sum(len(piece) for piece in response.iter_raw())
                times[name] = time.perf_counter() - began
            time.sleep(2)  # the relay reads and files what it kept
            peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")) / 1024
    return [
        (f"relay: a {size / 1e6:.0f} MB stream through the relay", times["relay"], "s", times["direct"] / times["relay"], "direct throughput"),
        ("relay: its peak memory over that stream (Linux VmHWM)", peak, "MiB", 0.0, "—"),
    ]


if __name__ == "__main__":
    chosen = big_rows() if sys.argv[1:] == ["--big"] else rows(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RELAY_BEFORE"))
    for name, value, unit, ratio, anchor in chosen:
        print(f"| {name} | {value:.3f} {unit} | {f'{ratio:.2f}×' if anchor != '—' else '—'} | {anchor} |")
