"""`guide probe URL`: which gentle actions a server offers, spending no tokens."""

from __future__ import annotations

import argparse

from guide.safe_text import one_line

from .common import EXIT_OK, EXIT_UNREACHABLE, answering, refuse_address, said

MARKS = {"yes": "✓", "no": "✗", "unknown": "?"}


def cmd_probe(args: argparse.Namespace) -> int:
    from guide.client import ACTIONS, api_base, probe, redact_url

    if not args.url:  # the server the app would talk to: the configured one, a local one, else guide's companion, started if need be
        import asyncio

        from guide import config

        args.url = asyncio.run(answering(config.load().settings, how_to_pick="Give a URL to probe another server."))
    refused = refuse_address(args.url)
    if refused is not None:
        return refused
    print(f"Probing {redact_url(api_base(args.url))} …")
    findings = probe(args.url, api_key=args.api_key)
    width = max(len(name) for name in ACTIONS)
    for name, finding in findings.items():
        status = f"HTTP {finding.status}" if finding.status is not None else "no answer"
        print(f"  {MARKS[finding.support]} {name:<{width}}  {ACTIONS[finding.action].endpoint:<32} {status:<10} {one_line(finding.reason)}")
    if all(f.status is None for f in findings.values()):
        return said(EXIT_UNREACHABLE, "nothing answered at that address. Is the server running?")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide probe [URL] [--api-key KEY]`."""
    probe = commands.add_parser("probe", parents=[common], help="which gentle actions a server offers")
    probe.add_argument(
        "url", nargs="?", help="the server's address, e.g. http://127.0.0.1:11434 (default: the server guide would use, its companion if none)"
    )
    probe.add_argument("--api-key", help="a key, where the server needs one (default: $OPENAI_API_KEY)")
    probe.set_defaults(run=cmd_probe)
