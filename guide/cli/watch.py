"""`guide watch [--to URL]`: see what your own program sends. A relay on 127.0.0.1:8766, and the app on its calls."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from typing import TYPE_CHECKING

from .common import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from .serve import port_number

if TYPE_CHECKING:
    from guide.companion.relay_run import RunningRelay
    from guide.tui.screens.watch import WatchApp


def upstream_for(to: str | None) -> str:
    """Where the calls go: the address given, or the user's companion (found, or started as the app starts it)."""
    if to:
        return to
    from guide import config
    from guide.companion.supervise import find_or_start

    settings = config.load().settings
    companion, _ = asyncio.run(find_or_start(settings, settings.gguf))
    return companion.url


def watching(upstream: str, listening: socket.socket, upstream_key: str | None) -> tuple[WatchApp, RunningRelay]:
    """The watch app and its relay, serving on `listening` (the same factory for the command and its tests)."""
    from guide.client import AsyncGuide, display_address
    from guide.companion.relay_run import start
    from guide.tui.screens.watch import WatchApp

    replay = AsyncGuide(base_url=upstream, api_key=upstream_key or os.environ.get("OPENAI_API_KEY") or None)
    port = listening.getsockname()[1]
    app = WatchApp(f"http://127.0.0.1:{port}", display_address(upstream), replay=replay)
    return app, start(upstream, listeners=[app.seen], upstream_key=upstream_key, listening=listening)


def cmd_watch(args: argparse.Namespace) -> int:
    from guide.client.internal import check_address
    from guide.companion.running import PortInUse, listen
    from guide.companion.supervise import CompanionFailed

    if args.to and (problem := check_address(args.to)):
        print(f"guide: --to {args.to!r} cannot be used: {problem}.", file=sys.stderr)
        return EXIT_USAGE
    try:
        listening = listen("127.0.0.1", args.port)
    except PortInUse as error:
        print(f"guide: {error.strerror}. Stop it, or pick another port with --port.", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        upstream = upstream_for(args.to)
    except CompanionFailed as error:
        listening.close()
        print(f"guide: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    app, relay = watching(upstream, listening, args.upstream_key or os.environ.get("GUIDE_UPSTREAM_KEY") or None)
    try:
        app.run()
    finally:
        relay.stop()
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
