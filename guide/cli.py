"""The `guide` command: argument parsing and the subcommands.

Exit codes scripts can trust: 0 done, 1 the call failed (the message says
why), 2 the command line was wrong (an unusable server address included),
3 the server could not be reached, 4 the key was refused, 5 the server does
not offer the action, 130 stopped with Ctrl-C, 141 the output was closed
(a broken pipe). Every failure ends in one calm line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from guide.safe_text import one_line, visible

if TYPE_CHECKING:
    from guide.client import GuideError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_KEY, EXIT_NOT_OFFERED, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 4, 5, 130, 141
MARKS = {"yes": "✓", "no": "✗", "unknown": "?"}


def exit_code(error: GuideError) -> int:
    """The exit status for a failed call."""
    from guide.client import CannotConnect, KeyRefused, NotOffered

    for kind, code in ((CannotConnect, EXIT_UNREACHABLE), (KeyRefused, EXIT_KEY), (NotOffered, EXIT_NOT_OFFERED)):
        if isinstance(error, kind):
            return code
    return EXIT_FAILED


def say_error(error: GuideError, stream: TextIO) -> None:
    """A failed call, calmly, on stderr: the title, the server's words (control characters as symbols), the hint."""
    stream.write(f"guide: {one_line(error.title)}")
    if error.detail:
        stream.write(f" ({one_line(error.detail)})")
    stream.write(f"\n  {one_line(error.hint)}\n")


def map_table(markdown: bool = False) -> str:
    """The map as a text table, or as the Markdown table the README shows."""
    from guide.client import ACTIONS

    rows = [(a.name, a.method, a.legacy_path, a.sdk_call, a.meaning) for a in ACTIONS.values()]
    if markdown:
        lines = ["| gentle action | HTTP | legacy path | legacy SDK call | what it means |", "|---|---|---|---|---|"]
        lines += [f"| {n} | {m} | {p} | {c} | {w} |" for n, m, p, c, w in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(f"{n:<{widths[0]}}  →  {m:<{widths[1]}} {p:<{widths[2]}}  {c:<{widths[3]}}  {w}" for n, m, p, c, w in rows)


def cmd_map(args: argparse.Namespace) -> int:
    print(map_table(markdown=args.markdown))
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    import asyncio

    from guide import config, personas
    from guide.client import Guide, GuideError
    from guide.commands.personas import report_problems
    from guide.connect import choose

    text = read_stdin() if args.text == "-" else args.text
    if text is None:
        print("guide: what came on stdin is not UTF-8 text; there is nothing to ask.", file=sys.stderr)
        return EXIT_USAGE
    if not text.strip():
        print("guide: there is nothing to ask. Give the words, or - to read them from stdin.", file=sys.stderr)
        return EXIT_USAGE
    settings = config.load({"base_url": args.base_url, "model": args.model, "persona": args.persona}).settings
    refused = refuse_address(settings.server())
    if refused is not None:
        return refused
    shelf = personas.load()
    report_problems(shelf)
    if settings.persona not in shelf.personas:
        print(f"guide: there is no persona called '{one_line(settings.persona)}'; `guide personas` lists them.", file=sys.stderr)
        return EXIT_USAGE
    persona = shelf.get(settings.persona)
    system = args.system if args.system is not None else persona.system_prompt(settings.address)
    answering = asyncio.run(choose(settings))
    if answering.message:
        print(f"guide: {answering.message}", file=sys.stderr)
    ai = Guide(base_url=answering.base_url, api_key=settings.api_key(), model=settings.model or persona.model, timeout=settings.read_timeout())
    reply = None
    ending = ""
    try:
        reply = ai.think(text, system=system, stream=True, **persona.options)  # may ask the catalog for a model first
        for piece in reply:
            sys.stdout.write(visible(piece))  # a server's ESC never reaches the terminal
            sys.stdout.flush()
            ending = piece[-1:] or ending
    except GuideError as error:
        if ending and ending != "\n":
            sys.stdout.write("\n")
        say_error(error, sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return EXIT_INTERRUPTED
    finally:
        if reply is not None:
            reply.close()
        ai.close()
        if answering.companion is not None:
            answering.companion.stop()
    if ending != "\n":
        sys.stdout.write("\n")
    return EXIT_OK


def read_stdin() -> str | None:
    """The words on stdin, or None if they are not UTF-8 text."""
    try:
        return sys.stdin.buffer.read().decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        return None


def refuse_address(address: str | None) -> int | None:
    """EXIT_USAGE, after one line saying why, if the server address cannot be used; else None."""
    if not address:
        return None
    from guide.client._address import check_address, redact_url

    why = check_address(address)
    if why is None:
        return None
    print(f"guide: cannot use the server address {one_line(redact_url(address))!r}: {why}. Give an http:// or https:// address.", file=sys.stderr)
    return EXIT_USAGE


def cmd_probe(args: argparse.Namespace) -> int:
    from guide.client import ACTIONS, api_base, probe, redact_url

    refused = refuse_address(args.url)
    if refused is not None:
        return refused
    print(f"Probing {redact_url(api_base(args.url))} …")
    findings = probe(args.url, api_key=args.api_key)
    width = max(len(name) for name in ACTIONS)
    for name, finding in findings.items():
        status = f"HTTP {finding.status}" if finding.status is not None else "no answer"
        print(f"  {MARKS[finding.support]} {name:<{width}}  {ACTIONS[name].endpoint:<32} {status:<10} {one_line(finding.reason)}")
    if all(f.status is None for f in findings.values()):
        print("guide: nothing answered at that address. Is the server running?", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from guide import config
    from guide.companion.running import serve

    gguf = args.gguf or config.load().settings.gguf
    if args.client_timeout <= 0:
        print("guide: --client-timeout should be a number of seconds above 0.", file=sys.stderr)
        return EXIT_USAGE
    api_key = args.api_key or os.environ.get("GUIDE_SERVE_KEY") or None
    serve(
        args.host,
        args.port,
        api_key=api_key,
        gguf=gguf,
        client_timeout=args.client_timeout,
        allow_hosts=args.allow_host,
        allow_origins=args.allow_origin,
    )
    return EXIT_OK


def run_app(args: argparse.Namespace) -> int:
    """The terminal app, for `guide` with no command."""
    from guide import config

    flags = {"base_url": args.base_url, "model": args.model, "persona": args.persona}
    refused = refuse_address(config.load(flags).settings.server())
    if refused is not None:
        return refused
    from guide.tui.app import run

    run(flags)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line, with --help everywhere."""
    from guide.commands import personas, settings

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="keep settings and data under this folder (as $GUIDE_HOME does)")
    parser = argparse.ArgumentParser(
        prog="guide",
        parents=[common],
        description="A calm guide to chat with, over any OpenAI-compatible API, that shows every call it makes.",
        epilog="Exit codes: 0 done, 1 the call failed, 2 wrong usage, 3 server unreachable, 4 key refused, 5 action not offered, "
        "130 stopped, 141 output closed.",
    )
    parser.add_argument("--base-url", help="the server for this run (the terminal app)")
    parser.add_argument("--model", help="the model for this run (the terminal app)")
    parser.add_argument("--persona", help="the persona for this run (the terminal app)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", parents=[common], help="ask once; the answer streams to stdout")
    ask.add_argument("text", help="what to ask; - reads it from stdin")
    ask.add_argument("--model", help="the model to use (default: settings, else the persona's, else the server's first)")
    ask.add_argument("--base-url", help="the server's address, e.g. http://127.0.0.1:8080 (default: settings, $OPENAI_BASE_URL)")
    ask.add_argument("--persona", help="the persona to answer as (default: settings, else calm-guide)")
    ask.add_argument("--system", help="a system prompt to send instead of the persona's")
    ask.set_defaults(run=cmd_ask)

    show_map = commands.add_parser("map", parents=[common], help="print the map of gentle actions and legacy endpoints")
    show_map.add_argument("--markdown", action="store_true", help="print it as a Markdown table")
    show_map.set_defaults(run=cmd_map)

    probe = commands.add_parser("probe", parents=[common], help="which gentle actions a server offers")
    probe.add_argument("url", help="the server's address, e.g. http://127.0.0.1:11434")
    probe.add_argument("--api-key", help="a key, where the server needs one (default: $OPENAI_API_KEY)")
    probe.set_defaults(run=cmd_probe)

    serve = commands.add_parser("serve", parents=[common], help="run guide's companion: an OpenAI-compatible server on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765, help="the port (default: 8765)")
    serve.add_argument(
        "--api-key",
        help="require this bearer key on every request "
        "(default: $GUIDE_SERVE_KEY; the variable keeps the key out of `ps`, where other users can read it)",
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
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close connections whose client takes longer to send its headers, pauses its body, or stops reading (default: 10)",
    )
    serve.set_defaults(run=cmd_serve)

    personas.add_parser(commands, common)
    settings.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `guide` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "home", None):
        os.environ["GUIDE_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    run: Callable[[argparse.Namespace], int] = getattr(args, "run", None) or run_app
    try:
        return run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return output_closed()
    except Exception as error:
        return failed(error, args)


def output_closed() -> int:
    """stdout went away (`guide ask … | head -c 10`): say so once, on stderr, and stop writing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout at exit: that must not fail again
    print("guide: the output was closed before guide finished writing (a broken pipe).", file=sys.stderr)
    return EXIT_PIPE


def failed(error: Exception, args: argparse.Namespace) -> int:
    """The one boundary of every command: a calm line, never a traceback on the screen."""
    from guide.client import GuideError

    if isinstance(error, GuideError):
        say_error(error, sys.stderr)
        return exit_code(error)
    from guide.failures import describe_os_error, log_failure, unexpected

    if isinstance(error, OSError):
        print(f"guide: {one_line(describe_os_error(error))}", file=sys.stderr)
        return EXIT_FAILED
    command = "guide " + str(getattr(args, "command", None) or "")
    print(f"guide: {unexpected(error, log_failure(error, command))}", file=sys.stderr)
    return EXIT_FAILED
