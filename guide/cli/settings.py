"""`guide config`: the settings in force and where each came from; `set` one."""

from __future__ import annotations

import argparse
import sys

from guide import config
from guide.client import redact_url
from guide.locations import settings_file
from guide.safe_text import one_line

from .common import EXIT_OK, EXIT_USAGE, RUN_FLAGS, run_flags, said


def cmd_show(args: argparse.Namespace) -> int:
    loaded = config.load({key: getattr(args, key) for key in RUN_FLAGS})
    print(f"# {loaded.path}")
    if loaded.problem:
        print(f"guide: {one_line(loaded.problem)}", file=sys.stderr)
    settings = loaded.settings
    for key in config.KEYS:
        value = getattr(settings, key)
        shown = "(not set)" if value is None else str(value)
        if key == "base_url" and value:
            shown = redact_url(shown)  # an address given in the environment may carry a password
        print(f"{key:<12} {one_line(shown):<40} {loaded.sources[key]}")
    key_state = "set" if settings.api_key() else "not set"
    print(f"{'key':<12} {'$' + settings.api_key_env + ' is ' + key_state:<40} environment")
    return EXIT_OK


def cmd_set(args: argparse.Namespace) -> int:
    try:
        notice = config.write({args.key: args.value})
    except ValueError as error:
        return said(EXIT_USAGE, one_line(str(error)))  # it quotes what was typed: control characters as symbols
    if notice:
        print(f"guide: {notice}", file=sys.stderr)
    kept = config.canonical(args.key, args.value)
    print(f"{args.key} = {one_line(repr(kept))}" if kept else f"{args.key} removed", f"in {settings_file()}")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide config` and `guide config set KEY VALUE`."""
    parser = commands.add_parser("config", parents=[common, run_flags()], help="the settings in force and where each came from")
    parser.set_defaults(run=cmd_show)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    setter = verbs.add_parser("set", parents=[common], help="change one setting (an empty VALUE removes it)")
    setter.add_argument("key", metavar="KEY", help=", ".join(config.KEYS))
    setter.add_argument("value", metavar="VALUE")
    setter.set_defaults(run=cmd_set)
