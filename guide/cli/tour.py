"""`guide tour`: the tour as plain text. Each step says what its action means, shows its call as curl, and the answer."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from guide.safe_text import one_line, visible

from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, answering, refuse_address, run_flags, said

if TYPE_CHECKING:
    from guide import config
    from guide.learn.tour import Taken


def cmd_tour(args: argparse.Namespace) -> int:
    from guide import config

    settings = config.load({"base_url": args.base_url, "model": args.model}).settings
    refused = refuse_address(settings.server())
    if refused is not None:
        return refused
    import asyncio

    try:
        return asyncio.run(tour(settings))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def wrapped(words: str) -> str:
    """A paragraph, indented and wrapped to a readable width."""
    import textwrap

    return textwrap.fill(one_line(words), width=100, initial_indent="  ", subsequent_indent="  ")


def step_text(taken: Taken) -> str:
    """One step as the shell shows it: heading, the docent's words, the call as curl, its answer."""
    from guide.wire_text import response_text

    lines = [taken.heading, "", wrapped(taken.step.says), ""]
    if taken.words:
        lines += [wrapped(taken.words), ""]
    if taken.trace is not None:
        lines += ["$ " + taken.trace.as_curl(), "", response_text(taken.trace, short=True, headers=False)]
        fields = [f"request {name}" for name in taken.step.request_fields] + [f"response {name}" for name in taken.step.response_fields]
        if fields and taken.offered:
            lines += ["", "Look at: " + ", ".join(fields) + "."]
    return visible("\n".join(lines)) + "\n"


async def tour(settings: config.Settings) -> int:
    """Find who answers, probe it, and take every step in turn."""
    from guide.client import AsyncGuide, Trace
    from guide.constants import PROBE
    from guide.conversation import Conversation
    from guide.learn.tour import STEPS, Tour
    from guide.models import ModelChoice
    from guide.personas import load

    probe_calls: dict[str, Trace] = {}

    def keep_probe(trace: Trace) -> None:
        if trace.gentle == PROBE:
            probe_calls[trace.action] = trace

    guide = AsyncGuide(base_url=await answering(settings), api_key=settings.api_key(), timeout=settings.read_timeout(), on_trace=keep_probe)
    docent = load().get("api-docent")
    conversation = Conversation(docent, guide=guide, models=ModelChoice(chosen=settings.model), address=settings.address)
    try:
        findings = await guide.probe()
        if all(found.status is None for found in findings.values()):
            return said(EXIT_UNREACHABLE, f"nothing answered at {guide.address}. Is the server running? --base-url URL picks another.")
        support = {name: {"support": f.support, "status": f.status, "reason": f.reason} for name, f in findings.items()}
        print(f"The tour of the map, against {guide.address}: {len(STEPS)} gentle actions, each a real call.\n")
        walk = Tour()
        for _ in STEPS:
            taken = await walk.take(guide, conversation.model_for, support, probe_calls)
            print(step_text(taken))
            sys.stdout.flush()
            walk.position += 1
    finally:
        await guide.aclose()
    print("That is the whole map. In the app, /tour takes it step by step, and e in a call's detail replays it with your edits.")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide tour`."""
    tour_parser = commands.add_parser("tour", parents=[common, run_flags()], help="every gentle action, one real call each, as curl and its answer")
    tour_parser.set_defaults(run=cmd_tour)
