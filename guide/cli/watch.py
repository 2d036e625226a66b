"""`guide watch [--to URL]`: see what your own program sends. A relay on 127.0.0.1:8766, and the app on its calls.

The relay is `guide serve --relay` in a process of its own (on a thread of
the app it took the GIL from the keys: p99 of 2 s at 50 calls a second); it
files each call as it starts, while it runs and when it ends, and the app
reads them from the store off its loop (guide/tui/screens/watch.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from .common import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from .serve import port_number

if TYPE_CHECKING:
    from guide.tui.screens.watch import WatchApp

STARTING = 30.0
"""Seconds the relay may take to listen."""


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
    """`guide serve --relay UPSTREAM --port PORT` in a process of its own, once it listens (the key goes in its environment, not `ps`)."""
    env = {**os.environ, **({"GUIDE_UPSTREAM_KEY": upstream_key} if upstream_key else {})}
    command = [sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + STARTING
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise RelayFailed(said.removeprefix("guide: ") or f"the relay ended with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return process
        time.sleep(0.05)
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
        print(f"guide: --to {args.to!r} cannot be used: {problem}.", file=sys.stderr)
        return EXIT_USAGE
    try:
        app, relay = watching(upstream_for(args.to), args.port, args.upstream_key or os.environ.get("GUIDE_UPSTREAM_KEY") or None)
    except (CompanionFailed, RelayFailed) as error:
        print(f"guide: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
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
