"""What a conversation reports, as plain data: whoever drives it (the app, `guide ask`, a test) hears these through its
`emit` callback (the app turns them into Textual messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from guide.personas import Persona

    from .exchange import Exchange
    from .turns import Turn


Severity = Literal["information", "warning", "error"]
"""How much a notice matters (Textual's words for it)."""


@dataclass(frozen=True)
class TurnAdded:
    """A turn joined the end of the conversation (a message, a divider, a block)."""

    turn: Turn


@dataclass(frozen=True)
class TurnRemoved:
    """The last turn went (a reply asked again, words never answered)."""

    turn: Turn


@dataclass(frozen=True)
class BranchShown:
    """Another branch is in view: the turns from `kept` on (an index into `Conversation.turns`) are now its."""

    kept: int


@dataclass(frozen=True)
class OlderLoaded:
    """Older turns were read from the store, before the first one held."""

    count: int


@dataclass(frozen=True)
class ReplyStarted:
    """A reply is about to stream."""

    exchange: Exchange


@dataclass(frozen=True)
class ReplyPieces:
    """What arrived of a reply since the last report, gathered over a frame: ("reasoning" | "answer" | "tool", text) each."""

    exchange: Exchange
    parts: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReplyEnded:
    """A reply is over: its turn (None if nothing arrived), its state, and the words to give back on failure."""

    exchange: Exchange


@dataclass(frozen=True)
class PersonaChanged:
    """The conversation speaks as another persona from the next turn."""

    persona: Persona


@dataclass(frozen=True)
class Switched:
    """What is in force changed where it is owned (the session's server, its models, its conversation): readers read it again."""

    what: Literal["server", "model", "conversation", "surface"]


@dataclass(frozen=True)
class CallFiled:
    """A call (a Trace) changed: it started, streamed on, or ended."""

    trace: Any


@dataclass(frozen=True)
class Notice:
    """Something the user should know, in calm words."""

    title: str
    message: str
    severity: Severity = "information"
    timeout: float | None = None
    """How long it stays on screen (None: the app's default for its severity)."""


Event = TurnAdded | TurnRemoved | BranchShown | OlderLoaded | ReplyStarted | ReplyPieces | ReplyEnded | PersonaChanged | Switched | CallFiled | Notice
