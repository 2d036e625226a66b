"""The slash commands: one table drives parsing, completion, argument checks, the help screen and what runs. A gentle
command (/understand, /speak…) is a real call made by the conversation; the others run the app action the table names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from guide.client import Gentle
from guide.conversation import blocks

if TYPE_CHECKING:
    from guide.conversation import Conversation, Turn

Takes = Literal["text", "file", "optional", "nothing"]
GentleCall = Callable[["Conversation", str], Awaitable["Turn"]]


def _file(action: Gentle) -> GentleCall:
    async def transcribe(conversation: Conversation, argument: str) -> Turn:
        return await blocks.transcribe(conversation, action, Path(argument).expanduser())

    return transcribe


async def _catalog(conversation: Conversation, argument: str) -> Turn:
    return await blocks.catalog(conversation)


@dataclass(frozen=True)
class SlashCommand:
    """One slash command: its name, what it takes, what it does, and what runs it."""

    name: str
    argument: str
    help: str
    takes: Takes = "nothing"
    action: Gentle | None = None
    """The gentle action it calls, if any (its endpoint shows in /help)."""
    gentle: GentleCall | None = None
    """The conversation's call, for a gentle command."""
    app_action: str | None = None
    """The app action that runs it otherwise; `{}` takes the argument."""
    between: str | None = None
    """What must stand between the argument's two parts (`/revise INSTRUCTION | TEXT`), if anything."""

    @property
    def usage(self) -> str:
        """`/imagine PROMPT`."""
        return f"/{self.name} {self.argument}".rstrip()

    def problem(self, argument: str) -> str | None:
        """Why the argument will not do (a calm usage line), or None."""
        if self.takes in ("text", "file") and not argument:
            return f"Usage: {self.usage} — {self.help}."
        if self.between and (self.between not in argument or not argument.partition(self.between)[0].strip()):
            return f"Usage: {self.usage} — {self.help}."
        path = Path(argument).expanduser()
        if self.takes == "file" and not path.is_file():
            if path.is_dir():
                return f"{argument} is a folder, not a file."
            # A pipe waits for a writer for ever and a device may never end: named for what they are, and not read.
            return f"{argument} is not a file (a device, a pipe or a socket)." if path.exists() else f"There is no file at {argument}."
        return None


def gentle(action: Gentle, argument: str, help: str, takes: Takes, call: GentleCall, between: str | None = None) -> SlashCommand:
    """A gentle command: named for the action it calls."""
    return SlashCommand(action, argument, help, takes, action, call, between=between)


COMMANDS: tuple[SlashCommand, ...] = (
    gentle(Gentle.imagine, "PROMPT", "make an image; it is saved and previewed", "text", blocks.imagine),
    gentle(Gentle.understand, "TEXT  or  A | B", "embed a text (dimensions, first numbers, norm), or compare two", "text", blocks.understand),
    gentle(Gentle.speak, "TEXT", "say it aloud; the audio is saved and played", "text", blocks.speak),
    gentle(Gentle.listen, "FILE", "transcribe an audio file into the composer", "file", _file(Gentle.listen)),
    gentle(Gentle.interpret, "FILE", "translate speech in an audio file into English, into the composer", "file", _file(Gentle.interpret)),
    SlashCommand("attach", "FILE", "add a picture to your next message (PNG, JPEG, GIF or WebP)", "file", app_action="screen.attach({})"),
    gentle(Gentle.continue_, "TEXT", "let the model carry a text forward (raw completion)", "text", blocks.carry_on),
    gentle(Gentle.catalog, "", "list the models this server offers", "nothing", _catalog),
    gentle(Gentle.discern, "TEXT", "ask whether a text is safe to say", "text", blocks.discern),
    gentle(Gentle.revise, "INSTRUCTION | TEXT", "hand over a text with a wish; it comes back changed (edits)", "text", blocks.revise, between="|"),
    SlashCommand(
        Gentle.respond,
        "[on|off]",
        "send the next messages through respond (the Responses API) instead of think",
        "optional",
        app_action="respond({})",
    ),
    SlashCommand("persona", "[ID]", "switch persona (or pick one)", "optional", app_action="persona({})"),
    SlashCommand("tools", "[SERVER on|off]", "what this persona can call; turn an MCP server on or off here", "optional", app_action="tools({})"),
    SlashCommand("model", "[NAME]", "switch model (or pick one from the catalog)", "optional", app_action="model({})"),
    SlashCommand("server", "", "pick a server: presets or a custom address", app_action="pick_server"),
    SlashCommand("find", "[WORDS]", "find words in this conversation (↑ older, ↓ newer, Esc closes)", "optional", app_action="screen.find({})"),
    SlashCommand("new", "", "start a new conversation", app_action="new_conversation"),
    SlashCommand("conversations", "", "resume, rename, delete or export a conversation", app_action="conversations"),
    SlashCommand(
        "export",
        "[all] [calls]",
        "export this conversation to Markdown (all: every branch; calls: with its calls)",
        "optional",
        app_action="screen.export({})",
    ),
    SlashCommand("map", "", "the whole map of gentle actions and legacy endpoints", app_action="show_map"),
    SlashCommand("tour", "[again]", "every gentle action, one real call at a time (again: from the start)", "optional", app_action="tour({})"),
    SlashCommand("help", "", "keys and commands", app_action="help"),
)
BY_NAME = {command.name: command for command in COMMANDS}


def parse(line: str) -> tuple[SlashCommand, str] | None:
    """The command and its argument text, or None if the line is no command."""
    if not line.startswith("/"):
        return None
    name, _, rest = line[1:].partition(" ")
    command = BY_NAME.get(name.strip().lower())
    return (command, rest.strip()) if command else None


def complete(line: str) -> list[SlashCommand]:
    """Commands that the line (still without a space) could become."""
    if not line.startswith("/") or " " in line or "\n" in line:
        return []
    prefix = line[1:].lower()
    return [command for command in COMMANDS if command.name.startswith(prefix)]


def app_action(command: SlashCommand, argument: str) -> str:
    """The app action string that runs a command that is not a call (its argument quoted)."""
    assert command.app_action is not None
    return command.app_action.format(repr(argument)) if "{}" in command.app_action else command.app_action


__all__ = ["BY_NAME", "COMMANDS", "SlashCommand", "Takes", "app_action", "complete", "parse"]
