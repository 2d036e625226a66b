"""`guide ask`: one question, the answer streamed to stdout. The same Conversation the app drives."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from guide.safe_text import one_line, visible

from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit_code, refuse_address, run_flags, say_error

if TYPE_CHECKING:
    from guide import config, personas


def read_stdin() -> str | None:
    """The words on stdin, or None if they are not UTF-8 text."""
    try:
        return sys.stdin.buffer.read().decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        return None


def cmd_ask(args: argparse.Namespace) -> int:
    from guide import config, personas
    from guide.cli.personas import report_problems

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
    if args.system is not None:
        persona = replace(persona, system=args.system)
    import asyncio  # here, not at the top: `guide` alone builds this parser too, and launch stays light

    output = Output()
    try:
        return asyncio.run(ask(text, settings, persona, output))
    except KeyboardInterrupt:
        output.finish()
        return EXIT_INTERRUPTED


class Output:
    """stdout as the reply streams: each piece shown safely, and every run ending on a fresh line."""

    def __init__(self) -> None:
        self.wrote = False
        self.line_open = False

    def write(self, piece: str) -> None:
        if piece:
            sys.stdout.write(visible(piece))  # a server's ESC never reaches the terminal
            sys.stdout.flush()
            self.wrote, self.line_open = True, not piece.endswith("\n")

    def end_line(self) -> None:
        """Close a line the reply left open, so nothing (an error on stderr, the shell's prompt) lands on it."""
        if self.line_open:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.line_open = False

    def finish(self) -> None:
        """The reply is over: its last line ends, and an empty reply is an empty line."""
        if self.line_open or not self.wrote:
            sys.stdout.write("\n")
            sys.stdout.flush()
        self.wrote, self.line_open = True, False


async def ask(text: str, settings: config.Settings, persona: personas.Persona, output: Output) -> int:
    """Find who answers, say the words through a Conversation, write the reply as it streams."""
    from guide.client import AsyncGuide, GuideError
    from guide.connect import choose
    from guide.conversation import Conversation, Event, Notice
    from guide.models import ModelChoice

    def heard(event: Event) -> None:
        if isinstance(event, Notice):
            output.end_line()
            print(f"guide: {one_line(event.message)}", file=sys.stderr)

    answering = await choose(settings, how_to_pick="--base-url URL picks a server.")
    if answering.message:
        print(f"guide: {one_line(answering.message)}", file=sys.stderr)
    guide = AsyncGuide(base_url=answering.base_url, api_key=settings.api_key(), timeout=settings.read_timeout())
    conversation = Conversation(
        persona, guide=guide, models=ModelChoice(chosen=settings.model, persona=persona.model), address=settings.address, emit=heard
    )
    try:
        async with conversation.send(text) as exchange:
            async for piece in exchange:
                output.write(piece)
    except GuideError as error:
        output.end_line()
        say_error(error, sys.stderr)
        return exit_code(error)
    finally:
        output.end_line()  # whatever stops the reply (Ctrl-C, a failure nobody expected) leaves no line open
        await guide.aclose()
    output.finish()
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide ask TEXT …`."""
    ask_parser = commands.add_parser("ask", parents=[common, run_flags()], help="ask once; the answer streams to stdout")
    ask_parser.add_argument("text", help="what to ask; - reads it from stdin")
    ask_parser.add_argument("--system", help="a system prompt to send instead of the persona's")
    ask_parser.set_defaults(run=cmd_ask)
