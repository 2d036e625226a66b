"""`guide mcp`: the MCP servers in the settings (add, list) and guide's own tools served as one (serve)."""

from __future__ import annotations

import argparse
import sys

from guide.safe_text import one_line

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, said


def cmd_add(args: argparse.Namespace) -> int:
    from guide.locations import settings_file
    from guide.mcp.settings import ENV_NAME, Server, add

    # argparse cannot put options between NAME and `-- COMMAND`, so what follows NAME comes whole: options, then the command.
    rest = list(args.command or [])
    if "--" in rest:
        before, command = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
    else:  # argparse drops a `--` that comes straight after NAME
        before, command = (rest, []) if rest and rest[0].startswith("-") else ([], rest)
    if before:
        try:
            _, strange = _options(argparse.ArgumentParser(prog="guide mcp add NAME", exit_on_error=False)).parse_known_args(before, namespace=args)
        except argparse.ArgumentError as error:
            strange = [str(error)]
        if strange:
            usage = "guide mcp add NAME [--url URL] [--env NAME=VALUE] [--trust TOOL] -- COMMAND ARGS…"
            return said(EXIT_USAGE, f"{one_line(' '.join(strange))} is not understood: {usage}")
    if bool(command) == bool(args.url):
        return said(EXIT_USAGE, "give the server's command after -- (guide mcp add NAME -- COMMAND ARGS…), or its address with --url URL.")
    env: dict[str, str] = {}
    for pair in args.env or []:
        name, equals, value = pair.partition("=")
        if not equals or not ENV_NAME.fullmatch(name):
            return said(EXIT_USAGE, f"--env takes NAME=VALUE, not {one_line(pair)!r}.")
        env[name] = value
    trust: tuple[str, ...] | str = "all" if "all" in (args.trust or []) else tuple(args.trust or [])
    server = Server(args.name, command[0] if command else None, tuple(command[1:]), args.url, env, trust)  # type: ignore[arg-type]
    try:
        add(server)
    except ValueError as error:
        return said(EXIT_USAGE, one_line(str(error)))
    print(f"mcp.servers.{args.name} = {one_line(server.where())} in {settings_file()}")
    print(f'A persona uses its tools with tools = ["mcp:{args.name}"]; `guide mcp list` starts it to show them.')
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    import asyncio

    from guide.mcp import settings
    from guide.mcp.client import INSTALL, Hub, ToolInfo, sdk_installed
    from guide.mcp.record import McpCall

    found = settings.load()
    for problem in found.problems:
        print(f"guide: {one_line(problem)}", file=sys.stderr)
    if not found.servers:
        print("No MCP servers in the settings. Add one: guide mcp add NAME -- COMMAND ARGS…, or guide mcp add NAME --url URL.")
        return EXIT_OK
    if not sdk_installed():
        for server in found.servers.values():
            print(f"{server.name}  {one_line(server.where())}")
        return said(EXIT_FAILED, INSTALL)
    hub = Hub(found.servers)

    async def every() -> list[tuple[list[ToolInfo], McpCall]]:
        return await asyncio.gather(*(hub.tools(name) for name in found.servers))

    try:
        listed = asyncio.run(every())
    finally:
        hub.close()
    failed = False
    for server, (tools, record) in zip(found.servers.values(), listed):
        trusted = " (trusted: all)" if server.trust == "all" else (f" (trusted: {', '.join(server.trust)})" if server.trust else "")
        print(f"{server.name}  {one_line(server.where())}{one_line(trusted)}")
        if record.outcome != "ok":
            failed = True
            print(f"  does not start: {one_line(record.error or 'no answer')}")
            continue
        print(f"  starts ({record.summary().rsplit(' · ', 1)[-1]}), {len(tools)} tool{'s' if len(tools) != 1 else ''}")
        for tool in tools:
            print(f"  - {one_line(tool.name)}: {one_line(tool.description)[:100]}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from guide.mcp.client import INSTALL, sdk_installed

    if not sdk_installed():
        return said(EXIT_FAILED, INSTALL)
    from guide.mcp.serve import serve

    serve()
    return EXIT_OK


def _options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`guide mcp add`'s options, on its parser (for --help) and on the one that reads them after NAME."""
    parser.add_argument("--url", help="the address of a server that speaks streamable HTTP")
    parser.add_argument("--env", action="append", metavar="NAME=VALUE", help="a variable the server gets besides PATH and HOME (repeatable)")
    parser.add_argument("--trust", action="append", metavar="TOOL", help="a tool called without asking first (repeatable; all for every tool)")
    return parser


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide mcp add | list | serve`."""
    parser = commands.add_parser("mcp", parents=[common], help="MCP servers whose tools a persona may use; guide's own tools as one")
    parser.set_defaults(run=cmd_list)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    adder = verbs.add_parser(
        "add",
        parents=[common],
        help="name a server in the settings: NAME -- COMMAND ARGS…, or NAME --url URL",
        usage="guide mcp add NAME [--url URL | -- COMMAND ARGS…]",
    )
    adder.add_argument("name", metavar="NAME", help="the server's name (a persona says mcp:NAME)")
    adder.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the program that is the server, and its arguments")
    _options(adder).set_defaults(run=cmd_add)
    lister = verbs.add_parser("list", parents=[common], help="each server, whether it starts, and its tools")
    lister.set_defaults(run=cmd_list)
    server = verbs.add_parser("serve", parents=[common], help="serve guide's own tools (now, calculate, read_file) as an MCP server on stdio")
    server.set_defaults(run=cmd_serve)
