"""`guide serve`: the companion on a port, for any client (and the official SDKs)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from .common import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, said

DEFAULT_PORT = 8765


def port_number(text: str) -> int:
    """A TCP port, 1 to 65535 (argparse makes anything else a usage error, before any banner)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port: ports run from 1 to 65535")
    return port


def seconds(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("give a number of seconds above 0")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from guide import config
    from guide.companion.running import serve

    gguf = args.gguf or config.load().settings.gguf
    api_key = args.api_key or os.environ.get("GUIDE_SERVE_KEY") or None
    refusal = exposed_without_a_key(args.host, api_key)
    if refusal:
        return said(EXIT_USAGE, refusal)
    shared = dict(api_key=api_key, client_timeout=args.client_timeout, allow_hosts=args.allow_host, allow_origins=args.allow_origin, log=args.log)
    if args.relay is not None:
        return relay(args, shared)
    return served(lambda: serve(args.host, args.port or DEFAULT_PORT, gguf=gguf, idle_stop=args.stop_when_idle, **shared))


def served(run: Callable[[], None]) -> int:
    """Serve until stopped; a port another program holds is said in a line, with what to do."""
    from guide.companion.running import PortInUse

    try:
        run()
    except PortInUse as error:
        return said(EXIT_UNREACHABLE, f"{error.strerror}. Stop it, or pick another port with --port.")
    return EXIT_OK


def relay(args: argparse.Namespace, shared: dict[str, Any]) -> int:
    """`guide serve --relay URL`: pass a program's calls on to URL, filing each (and, with --log, printing a line for it)."""
    from guide.client.internal import check_address
    from guide.companion.relay_run import RELAY_PORT, serve

    problem = check_address(args.relay)
    if problem:
        return said(EXIT_USAGE, f"--relay {args.relay!r} cannot be used: {problem}.")
    upstream_key = args.upstream_key or os.environ.get("GUIDE_UPSTREAM_KEY") or None
    port = args.port or RELAY_PORT
    if relays_to_itself(args.relay, args.host, port):
        return said(
            EXIT_USAGE,
            f"{args.relay!r} is the relay's own address, so it would pass each call to itself. "
            "Give the address the calls go on to (the one your program used before).",
        )
    return served(lambda: serve(args.host, port, args.relay, upstream_key=upstream_key, **shared))


def relays_to_itself(upstream: str, host: str, port: int) -> bool:
    """Whether the upstream is the relay's own address (OPENAI_BASE_URL pasted into --relay): a loop, not a relay."""
    import httpx

    from guide.companion.guards import is_loopback

    try:
        target = httpx.URL(upstream)
    except httpx.InvalidURL:
        return False
    if (target.port or (443 if target.scheme == "https" else 80)) != port:
        return False
    name = target.host.strip("[]").lower()
    return name == host.strip("[]").lower() or (is_loopback(name) and (is_loopback(host.strip("[]")) or host in ("0.0.0.0", "::", "")))


def exposed_without_a_key(host: str, api_key: str | None) -> str | None:
    """Why `guide serve` will not start, when it would listen beyond this machine with no key: anyone on the network could use it."""
    from guide.companion.guards import is_loopback

    if is_loopback(host) or api_key:
        return None
    return (
        f"--host {host} listens beyond this machine, so a key is required: anyone on the network could use it otherwise.\n"
        "  Set one, and give it to each client as its API key:  GUIDE_SERVE_KEY=YOUR-KEY guide serve --host "
        f"{host}  (or --api-key YOUR-KEY, which `ps` shows to other users).\n"
        "  To serve this machine only, leave --host out."
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide serve …`."""
    serve = commands.add_parser("serve", parents=[common], help="run guide's companion: an OpenAI-compatible server on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: loopback only; any other needs a key)")
    serve.add_argument("--port", type=port_number, help="the port (default: 8765; with --relay, 8766)")
    serve.add_argument(
        "--api-key",
        help="require this bearer key on every request "
        "(default: $GUIDE_SERVE_KEY; the variable keeps the key out of `ps`, where other users can read it)",
    )
    serve.add_argument(
        "--relay",
        metavar="URL",
        help="instead of answering, pass every call on to this OpenAI-compatible base URL as it is, and file each one "
        "to watch it (guide watch shows them)",
    )
    serve.add_argument(
        "--upstream-key",
        help="with --relay: the key to send the upstream in place of the caller's (default: $GUIDE_UPSTREAM_KEY; "
        "needed when --api-key is set, since the caller's header then carries the relay's key)",
    )
    serve.add_argument("--gguf", help="a GGUF model file to answer with (needs the local extra)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name (repeatable; by default only this server's own addresses, which stops DNS rebinding)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from this origin call the server, with CORS (repeatable, e.g. http://localhost:3000; by default every page is refused)",
    )
    serve.add_argument(
        "--client-timeout",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="close connections whose client takes longer to send its headers, pauses its body, or stops reading (default: 10)",
    )
    serve.add_argument(
        "--log",
        nargs="?",
        const="calls",
        choices=("calls", "full"),
        help="print one line per call as it ends: time, caller, action and endpoint, status, duration, tokens "
        "(--log full: the request and response bodies too, keys replaced)",
    )
    serve.add_argument(
        "--stop-when-idle",
        type=seconds,
        metavar="SECONDS",
        help="stop after this many seconds with no request (the app starts its companion with 900; by default it runs until stopped)",
    )
    serve.set_defaults(run=cmd_serve)
