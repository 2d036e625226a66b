"""`guide watch [--to URL]`: see what your own program sends. A relay on 127.0.0.1:8766, and the app on its calls.

The relay is `guide serve --relay` in a process of its own (on a thread of
the app it took the GIL from the keys: p99 of 2 s at 50 calls a second); it
files each call as it starts, while it runs and when it ends, and the app
reads them from the store off its loop (guide/tui/screens/watch.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from .common import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, said
from .serve import port_number

if TYPE_CHECKING:
    from guide.tui.screens.watch import WatchApp

STARTING = 30.0
"""Seconds the relay may take to listen."""
READY = b"guide relay on "
"""How the relay's first line starts (relay_run.serve prints it once it holds its port)."""


def upstream_for(to: str | None) -> str:
    """Where the calls go: the address given, or the user's companion (found, or started as the app starts it)."""
    if to:
        return to
    from guide import config
    from guide.companion.supervise import find_or_start

    settings = config.load().settings
    companion, _ = asyncio.run(find_or_start(settings, settings.gguf))
    return companion.url


class RelayFailed(Exception):
    """The relay process did not start listening (its own words say why)."""


def start_relay(upstream: str, port: int, upstream_key: str | None) -> subprocess.Popen[bytes]:
    """`guide serve --relay UPSTREAM --port PORT` in a process of its own, once it listens (the key goes in its environment, not `ps`).

    Ready is the relay's own first line, printed once it holds the port: something answering on the port proves nothing,
    since another program (another guide, another user's relay) may hold it, and the program watched would then send its
    calls, key and all, there.
    """
    env = {**os.environ, **({"GUIDE_UPSTREAM_KEY": upstream_key} if upstream_key else {})}
    command = [sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first: list[bytes] = []

    def hear() -> None:  # the first line, then the rest drained, so a full pipe never stops the relay
        out = process.stdout
        first.append(out.readline() if out else b"")
        while out and out.read(65536):
            pass

    threading.Thread(target=hear, daemon=True, name="guide-relay-stdout").start()
    deadline = time.monotonic() + STARTING
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if first and first[0].startswith(READY):
            return process
        if first or process.poll() is not None:  # it ended (or said something else) without taking the port
            if process.poll() is None:
                process.kill()
            process.wait(10)
            words = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise RelayFailed(words.removeprefix("guide: ") or f"the relay ended with code {process.returncode}")
    process.kill()
    raise RelayFailed(f"the relay did not listen on 127.0.0.1:{port} within {STARTING:g} s")


def watching(upstream: str, port: int, upstream_key: str | None) -> tuple[WatchApp, subprocess.Popen[bytes]]:
    """The watch app and its relay process (the same factory for the command and its tests); RelayFailed if the relay cannot start."""
    from guide.client import AsyncGuide, display_address
    from guide.store import Store
    from guide.tui.screens.watch import WatchApp

    relay = start_relay(upstream, port, upstream_key)
    replay = AsyncGuide(base_url=upstream, api_key=upstream_key or os.environ.get("OPENAI_API_KEY") or None)
    app = WatchApp(f"http://127.0.0.1:{port}", display_address(upstream), replay=replay, store=Store())
    return app, relay


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the relay (it files what is still queued as it goes)."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def cmd_watch(args: argparse.Namespace) -> int:
    from guide.client.internal import check_address
    from guide.companion.supervise import CompanionFailed

    if args.to and (problem := check_address(args.to)):
        return said(EXIT_USAGE, f"--to {args.to!r} cannot be used: {problem}.")
    try:
        app, relay = watching(upstream_for(args.to), args.port, args.upstream_key or os.environ.get("GUIDE_UPSTREAM_KEY") or None)
    except (CompanionFailed, RelayFailed) as error:
        return said(EXIT_UNREACHABLE, str(error))
    try:
        app.run()
    finally:
        stop(relay)
        if app.store is not None:
            app.store.close()
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide watch …`."""
    from guide.companion.relay_run import RELAY_PORT

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="see what your own program sends: a relay to point it at (OPENAI_BASE_URL), and each of its calls, whole",
    )
    watch.add_argument("--to", metavar="URL", help="the OpenAI-compatible base URL the calls go on to (default: guide's companion)")
    watch.add_argument("--port", type=port_number, default=RELAY_PORT, help=f"the relay's port on 127.0.0.1 (default: {RELAY_PORT})")
    watch.add_argument(
        "--upstream-key",
        help="the key to send the upstream in place of your program's (default: $GUIDE_UPSTREAM_KEY; without one, your program's goes on)",
    )
    watch.set_defaults(run=cmd_watch)
