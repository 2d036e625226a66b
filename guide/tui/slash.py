"""Slash commands: what the composer offers as you type, and how a line is read.

Headless: the app decides what each command does; this module only knows
their names, arguments and help, so `/help`, completion and tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    """One slash command: its name, what it takes, and what it does."""

    name: str
    argument: str
    help: str
    action: str | None = None
    """The gentle action it calls, if any (for the mapping lesson in /help)."""

    @property
    def usage(self) -> str:
        """`/imagine PROMPT`."""
        return f"/{self.name} {self.argument}".rstrip()


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("imagine", "PROMPT", "make an image; it is saved and previewed", "imagine"),
    SlashCommand("understand", "TEXT  or  A | B", "embed a text (dimensions, first numbers, norm), or compare two", "understand"),
    SlashCommand("speak", "TEXT", "say it aloud; the audio is saved and played", "speak"),
    SlashCommand("listen", "FILE", "transcribe an audio file into the composer", "listen"),
    SlashCommand("interpret", "FILE", "translate speech in an audio file into English, into the composer", "interpret"),
    SlashCommand("continue", "TEXT", "let the model carry a text forward (raw completion)", "continue"),
    SlashCommand("catalog", "", "list the models this server offers", "catalog"),
    SlashCommand("discern", "TEXT", "ask whether a text is safe to say", "discern"),
    SlashCommand("persona", "[ID]", "switch persona (or pick one)"),
    SlashCommand("model", "[NAME]", "switch model (or pick one from the catalog)"),
    SlashCommand("server", "", "pick a server: presets or a custom address"),
    SlashCommand("find", "[WORDS]", "find words in this conversation (↑ older, ↓ newer, Esc closes)"),
    SlashCommand("new", "", "start a new conversation"),
    SlashCommand("conversations", "", "resume, rename, delete or export a conversation"),
    SlashCommand("export", "[calls]", "export this conversation to Markdown (with its calls)"),
    SlashCommand("map", "", "the whole map of gentle actions and legacy endpoints"),
    SlashCommand("help", "", "keys and commands"),
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
