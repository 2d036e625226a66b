"""The conversation at the heart of guide, headless (it never imports textual); the app, `guide ask` and the tests drive it.

    conversation = Conversation(persona, guide=AsyncGuide(...), store=store, emit=print)
    exchange = await conversation.send("Hello")  # reported as ReplyStarted, ReplyPieces…, ReplyEnded

Cancelling the task that awaits `send` stops the reply (what arrived is kept).
"""

from __future__ import annotations

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
from .exchange import Exchange
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
