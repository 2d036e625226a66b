"""The conversation at the heart of guide, headless (it never imports textual); the app, `guide ask` and the tests drive it.

    conversation = Conversation(persona, guide=AsyncGuide(...), store=store, emit=print)
    exchange = await conversation.send("Hello")  # reported as ReplyStarted, ReplyPieces…, ReplyEnded

Cancelling the task that awaits `send` stops the reply (what arrived is kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guide.constants import DEFAULT_HISTORY as DEFAULT_BUDGET

from .core import Conversation
from .events import (
    BranchShown,
    CallFiled,
    Event,
    Notice,
    OlderLoaded,
    PersonaChanged,
    ReplyEnded,
    ReplyPieces,
    ReplyStarted,
    Switched,
    TurnAdded,
    TurnRemoved,
)
from .keeping import OLDER_PAGE, RESUME_PAGE
from .turns import Turn, as_markdown, new_uid

__all__ = [
    "DEFAULT_BUDGET",
    "OLDER_PAGE",
    "RESUME_PAGE",
    "BranchShown",
    "CallFiled",
    "Conversation",
    "Event",
    "Exchange",
    "Notice",
    "OlderLoaded",
    "PersonaChanged",
    "ReplyEnded",
    "ReplyPieces",
    "ReplyStarted",
    "Switched",
    "Turn",
    "TurnAdded",
    "TurnRemoved",
    "as_markdown",
    "new_uid",
]

if TYPE_CHECKING:
    from .exchange import Exchange


def __getattr__(name: str) -> Any:
    """Exchange loads with the first message (guide.conversation.core): it is not on the way to the greeting."""
    if name == "Exchange":
        from .exchange import Exchange

        return Exchange
    raise AttributeError(f"module 'guide.conversation' has no attribute {name!r}")
