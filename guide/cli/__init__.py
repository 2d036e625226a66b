"""The `guide` command: argument parsing, and one module per subcommand (slash commands live in guide/tui/slash).

    guide                     the terminal app
    guide ask | map | probe | serve | personas | config | mcp

Exit codes are in `common`: every command ends in one calm line and a
documented code, never a traceback on the screen.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence

from . import ask, map, mcp, personas, probe, serve, settings, tour, watch
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE, RUN_FLAGS, failed, output_closed, refuse_address, run_flags
from .map import map_table

__all__ = ["DISTRIBUTION", "build_parser", "main", "map_table", "version"]

# The name guide is published under. `guide` on the package index is another
# project: its metadata, if installed, says nothing about this guide.
DISTRIBUTION = "guide-chat"


def version() -> str:
    """guide's version: the installed distribution's, else the one the source says (run from a checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        from guide import __version__

        return __version__


class ShowVersion(argparse.Action):
    """`--version`: worked out only when asked, so plain `guide` starts no slower."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"guide {version()}")
        parser.exit()


def run_app(args: argparse.Namespace) -> int:
    """The terminal app, for `guide` with no command."""
    import gc

    # No collection until the greeting is painted (GuideApp turns them back on then): the imports and the first frame
    # make tens of thousands of objects that live as long as the app, and collections walking them were a fifth of a launch.
    gc.disable()
    from guide import config

    flags = {"base_url": args.base_url, "model": args.model, "persona": args.persona}
    refused = refuse_address(config.load(flags).settings.server())
    if refused is not None:
        gc.enable()
        return refused
    from guide.tui.app import run

    run(flags)
    return EXIT_OK


USE_RUN_FLAGS: tuple[Callable[[argparse.Namespace], int], ...] = (run_app, ask.cmd_ask, settings.cmd_show, tour.cmd_tour)
"""The commands this run's settings (--base-url, --model, --persona) mean something to."""


def build_parser() -> argparse.ArgumentParser:
    """The command line, with --help everywhere."""
    return build_parsers()[0]


def build_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line, and each subcommand's own parser by name (for its own usage line)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="keep settings and data under this folder (as $GUIDE_HOME does)")
    parser = argparse.ArgumentParser(
        prog="guide",
        parents=[common, run_flags()],
        description="A calm guide to chat with, over any OpenAI-compatible API, that shows every call it makes. "
        "Plain `guide`, with no command, opens the terminal app.",
        epilog="Exit codes: 0 done, 1 the call failed, 2 wrong usage, 3 server unreachable, 4 key refused, 5 action not offered, "
        f"{EXIT_INTERRUPTED} stopped, {EXIT_PIPE} output closed.",
    )
    parser.add_argument("--version", action=ShowVersion, nargs=0, help="print guide's version and stop")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (ask, map, probe, serve, watch, personas, settings, tour, mcp):
        command.add_parser(commands, common)
    return parser, dict(commands.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `guide` command; returns its exit status."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # a terminal that cannot show a character gets '?', not a failed command
    parser, subcommands = build_parsers()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse would blame the top level; the usage that helps is the command's own (`guide ask --bogus`).
        subcommands.get(args.command or "", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "home", None):
        os.environ["GUIDE_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    run: Callable[[argparse.Namespace], int] = getattr(args, "run", None) or run_app
    for key in RUN_FLAGS:
        vars(args).setdefault(key, None)
        if getattr(args, key) is not None and run not in USE_RUN_FLAGS:
            flag = "--" + key.replace("_", "-")
            print(f"guide: {flag} is for the app, `guide ask` and `guide config`; `guide {args.command}` does not use it.", file=sys.stderr)
    try:
        return run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return output_closed()
    except Exception as error:
        return failed(error, args)
