"""`guide ask`: one question, the answer streamed to stdout. The same Conversation the app drives."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from guide.safe_text import one_line, visible

from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, answering, exit_code, refuse_address, run_flags, said, say_error

if TYPE_CHECKING:
    from guide import config, personas
    from guide.client import ToolCall
    from guide.client.internal import BeforeTool
    from guide.conversation import Conversation
    from guide.mcp.tools import McpTools
    from guide.store import Store


def words_to_ask(given: str | None) -> str | None:
    """The instruction and the piped text together, as `llm` joins them: the argument first, then what came on stdin
    (a pipe or a file, as in `cat notes.txt | guide ask …`; - reads only stdin). None if stdin is not UTF-8 text."""
    try:
        piped = given == "-" or (sys.stdin is not None and not sys.stdin.isatty())
    except (ValueError, OSError):  # closed
        piped = False
    try:
        came = sys.stdin.buffer.read().decode("utf-8").rstrip("\n") if piped else ""
    except UnicodeDecodeError:
        return None
    return came if given == "-" else "\n\n".join(part for part in (given or "", came) if part.strip())


def parse_options(pairs: list[list[str]]) -> dict[str, Any] | str:
    """`-o temperature 0.2` pairs as request options (numbers and true/false as JSON reads them), or what is wrong."""
    options: dict[str, Any] = {}
    for name, value in pairs:
        if not name.isidentifier():
            return f"'{one_line(name)}' is not an option name."
        try:
            options[name] = json.loads(value)
        except ValueError:
            options[name] = value
    return options


def cmd_ask(args: argparse.Namespace) -> int:
    from guide import config, personas
    from guide.cli.personas import report_problems

    text = words_to_ask(args.text)
    if text is None:
        return said(EXIT_USAGE, "what came on stdin is not UTF-8 text; there is nothing to ask.")
    if not text.strip():
        return said(EXIT_USAGE, "there is nothing to ask. Give the words, pipe them in, or - to read them from stdin.")
    options = parse_options(args.option or [])
    if isinstance(options, str):
        return said(EXIT_USAGE, options)
    settings = config.load({"base_url": args.base_url, "model": args.model, "persona": args.persona}).settings
    refused = refuse_address(settings.server())
    if refused is not None:
        return refused
    shelf = personas.load()
    report_problems(shelf)
    if settings.persona not in shelf.personas:
        return said(EXIT_USAGE, f"there is no persona called '{one_line(settings.persona)}'; `guide personas` lists them.")
    persona = shelf.get(settings.persona)
    if args.system is not None:
        persona = replace(persona, system=args.system)
    if options:
        persona = replace(persona, options={**persona.options, **options})
    import asyncio  # here, not at the top: `guide` alone builds this parser too, and launch stays light

    output = Output()
    how = How(stream=not (args.no_stream or args.json), json=args.json, resume=args.continue_, persona_given=args.persona is not None, yes=args.yes)
    try:
        return asyncio.run(ask(text, settings, persona, output, how, shelf))
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
        self.line_open |= not self.wrote
        self.end_line()
        self.wrote = True


@dataclass(frozen=True)
class How:
    """How this ask goes: streamed or whole, printed as text or as the reply's JSON, continuing the last conversation or not."""

    stream: bool = True
    json: bool = False
    resume: bool = False
    persona_given: bool = False
    yes: bool = False
    """Run every MCP tool call the model asks for without asking (`--yes`)."""


async def ask(text: str, settings: config.Settings, persona: personas.Persona, output: Output, how: How, shelf: personas.PersonaShelf) -> int:
    """Find who answers, say the words through a Conversation, write the reply as it streams."""
    import asyncio

    from guide.client import AsyncGuide, GuideError
    from guide.conversation import CallFiled, Conversation, Event, Notice, ReplyPieces
    from guide.models import ModelChoice
    from guide.store import Store

    def heard(event: Event) -> None:
        if isinstance(event, Notice):
            output.end_line()
            print(f"guide: {one_line(event.message)}", file=sys.stderr)
        elif isinstance(event, ReplyPieces) and not how.json:
            output.write("".join(text for kind, text in event.parts if kind == "answer"))
        elif isinstance(event, CallFiled) and event.trace.action == "mcp" and event.trace.error:  # what the model reads, the user sees too
            output.end_line()
            print(f"guide: {one_line(str(event.trace.error.get('detail', '')))}", file=sys.stderr)

    guide = AsyncGuide(base_url=await answering(settings), api_key=settings.api_key(), timeout=settings.read_timeout())
    store: Store | None = None
    try:  # the conversations store: asks are kept, and `-c` continues them
        store = await asyncio.to_thread(Store)
    except Exception as error:  # a data folder that cannot be made or read: the answer still comes, unsaved
        print(f"guide: {one_line(f'this exchange cannot be saved ({error}).')}", file=sys.stderr)
    models = ModelChoice(chosen=settings.model)
    conversation: Conversation | None = None
    if how.resume and store is not None:
        conversation = await continued(store, persona, shelf, how, guide=guide, models=models, address=settings.address, emit=heard)
    if conversation is None:
        conversation = Conversation(persona, guide=guide, store=store, models=models, address=settings.address, emit=heard)
    conversation.streams = how.stream
    tools = mcp_tools(conversation.persona.tools, how.yes, conversation.mcp_always)
    if tools is not None:
        conversation.mcp, conversation.before_tool = tools
    try:
        exchange = await conversation.send(text)
        if how.json and exchange.reply is not None and exchange.reply.trace is not None:
            output.write(json.dumps(exchange.reply.trace.response_body, ensure_ascii=False, indent=2))
    except GuideError as error:
        output.end_line()
        say_error(error, sys.stderr)
        if store is not None and not how.resume and not any(turn.role == "user" for turn in conversation.turns):
            await asyncio.to_thread(forget, store, conversation.uid)  # nothing was said: no empty conversation left in the list
        return exit_code(error)
    finally:
        output.end_line()  # whatever stops the reply (Ctrl-C, a failure nobody expected) leaves no line open
        await guide.aclose()
        if tools is not None:
            await tools[0].aclose()
        if store is not None:
            await asyncio.to_thread(store.close)
    output.finish()
    return EXIT_OK


def mcp_tools(names: tuple[str, ...], yes: bool, always: set[str]) -> tuple[McpTools, BeforeTool] | None:
    """The MCP servers for a persona that names mcp: tools, and the hook that asks on the terminal before each call (None: it names none)."""
    if not any(name.startswith("mcp:") for name in names):
        return None
    from guide.mcp.tools import McpTools

    tools = McpTools()
    return tools, tools.approval(_yes if yes else ask_on_terminal, always)  # `always`: the conversation's, kept with it (-c)


async def _yes(call: ToolCall, server: str, tool: str) -> str:
    return "y"


async def ask_on_terminal(call: ToolCall, server: str, tool: str) -> str:
    """y once, a always (in this run), anything else no; "" when nothing could be asked. Read in a thread: the loop goes on.
    A daemon thread, not asyncio.to_thread: Ctrl-C while the question waits must end `guide ask` at once, and asyncio.run
    waits for its executor's threads (this one blocked in readline) before it returns."""
    import asyncio
    import threading

    question = f"guide: the model asks MCP server {one_line(server)} to run {one_line(call.shown())}. Run it? [y once / a always / N no] "
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        answer = _ask_on_tty(question)
        try:
            loop.call_soon_threadsafe(lambda: None if answered.done() else answered.set_result(answer))
        except RuntimeError:  # the loop closed meanwhile: nobody waits for the answer
            pass

    threading.Thread(target=read, name="guide-ask-terminal", daemon=True).start()
    return await answered


def _ask_on_tty(question: str) -> str:
    """The first letter of the answer (y, a, n) on the terminal itself (/dev/tty: stdin may be the words piped in), or ""
    when there is no terminal to ask on."""
    try:
        # Two handles: a terminal cannot seek, so one opened r+ (buffered both ways) refuses to open at all.
        with open("/dev/tty", "w", encoding="utf-8", errors="replace") as out, open("/dev/tty", encoding="utf-8", errors="replace") as into:
            out.write(question)
            out.flush()
            answer = into.readline()
    except OSError:  # no controlling terminal: a pipe, cron, CI
        return ""
    return (answer.strip().lower() or "n")[0]


def forget(store: Store, uid: str) -> None:
    """Delete a conversation that holds nothing (its words were taken back when the call failed)."""
    if store.flush(5):
        for info in store.conversations():
            if info.uid == uid and info.messages == 0:
                store.delete(info.id)


async def continued(store: Store, persona: personas.Persona, shelf: personas.PersonaShelf, how: How, **options: Any) -> Conversation | None:
    """The most recent conversation, to go on with (`-c`): its own persona unless --persona names one; None if there is none."""
    from guide.conversation import Conversation

    latest = await store.read(store.conversations)
    if not latest:
        print("guide: there is no earlier conversation to continue; this starts one.", file=sys.stderr)
        return None

    def persona_for(stored: str) -> personas.Persona:
        return persona if how.persona_given or stored not in shelf.personas else shelf.get(stored)

    return await Conversation.resume(store, latest[0].id, persona_for, **options)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide ask TEXT …`."""
    ask_parser = commands.add_parser("ask", parents=[common, run_flags()], help="ask once; the answer streams to stdout")
    ask_parser.add_argument("text", nargs="?", help="what to ask; piped text follows it (- reads only stdin)")
    ask_parser.add_argument("-s", "--system", help="a system prompt to send instead of the persona's")
    ask_parser.add_argument("-c", "--continue", dest="continue_", action="store_true", help="continue the most recent conversation")
    ask_parser.add_argument(
        "-o", "--option", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a request option, e.g. -o temperature 0.2 (repeatable)"
    )
    ask_parser.add_argument("--no-stream", action="store_true", help="ask for the reply whole rather than streamed")
    ask_parser.add_argument("--json", action="store_true", help="print the server's whole reply as JSON (implies --no-stream)")
    ask_parser.add_argument("-y", "--yes", action="store_true", help="run the MCP tools the model calls without asking on the terminal first")
    ask_parser.set_defaults(run=cmd_ask)
