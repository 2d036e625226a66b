"""`guide map`: the table of gentle actions and the legacy endpoints they call."""

from __future__ import annotations

import argparse

from .common import EXIT_OK


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


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide map [--markdown]`."""
    show_map = commands.add_parser("map", parents=[common], help="print the map of gentle actions and legacy endpoints")
    show_map.add_argument("--markdown", action="store_true", help="print it as a Markdown table")
    show_map.set_defaults(run=cmd_map)
