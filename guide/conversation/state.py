"""What one conversation holds: every piece of its state, set up in one place for the parts that work on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from guide.client import Gentle
from guide.constants import DEFAULT_HISTORY
from guide.models import ModelChoice, Server

from .tree import Tree
from .turns import Turn, new_uid

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace
    from guide.client.internal import BeforeTool, Prepared
    from guide.mcp.tools import McpTools
    from guide.personas import Persona
    from guide.store import Store

    from .events import Event

Surface = Literal[Gentle.think, Gentle.respond]
"""Which gentle action carries the chat's messages: chat completions, or the Responses API."""


class ConversationState:
    """The state of a Conversation, which the layers above it (keeping, branching, sending) share."""

    def __init__(
        self,
        persona: Persona,
        *,
        guide: AsyncGuide | None = None,
        store: Store | None = None,
        models: ModelChoice | None = None,
        server: Server | None = None,
        address: str | None = None,
        budget: int = DEFAULT_HISTORY,
        emit: Callable[[Event], None] | None = None,
        uid: str | None = None,
        stored_id: int | None = None,
    ) -> None:
        self.persona = persona
        self.server = server or Server(guide, models=models or ModelChoice())
        """The server in force (the session's own, shared: a switch there is seen here), or one of its own (`guide`, `models`)."""
        self.store = store
        self.address = address
        """Whom the guide addresses, over the persona's own (settings)."""
        self.budget = budget
        self.emit: Callable[[Event], None] = emit or (lambda event: None)
        self.uid = uid or new_uid()
        self.stored_id = stored_id
        """The store's id, once known (a resumed conversation): reads go by it."""
        self.stored = stored_id is not None
        """Whether the conversation is in the store (or queued to it)."""
        self.opening = (persona.name, self.greeting())
        """Who greeted, and the words, as the conversation opened (a resumed one shows the same)."""
        self.turns: list[Turn] = []
        """The turns held, of the branch in view: the latest ones, and older ones as they are read back."""
        self.tree = Tree()
        """Its branches: which turns are versions of one another (edits, replies asked again)."""
        self._moved = False
        """The branch in view changed: the store is caught up before older turns are read from it."""
        self.more_before = False
        """Whether the store holds turns older than the first one held."""
        self.more_after = False
        """Whether the branch in view goes on in the store after the last turn held (it was opened at its branch point)."""
        self._waiting: list[tuple[Turn, Turn | None]] = []
        """Turns said while the end of the branch is not held (a divider, say), with what each is a version of: they
        follow its end once it is read."""
        self._reading = asyncio.Lock()
        """Held while turns are read in from the store: two readers never read (and add) the same page."""
        self.surface: Surface = Gentle.think
        """Which action the next messages go through (/respond flips it): the same turn, on either surface."""
        self.calls: dict[str, Trace] = {}
        """The calls made while this conversation was open, by trace id."""
        self.tools_refused = False
        """The server refused the persona's tools: the next calls go without them, until another server answers."""
        self.pictures_refused = False
        """The server failed on the pictures in the history: the next calls send the words without them, until another server answers."""
        self._unfiled: list[Trace] = []
        """Calls made before the conversation was stored: filed with it."""
        self.counted: dict[str, int] = {}
        """Calls of each action made before it was resumed (read from the store once)."""
        self.pending: list[Prepared] = []
        """Pictures attached for the next message (/attach)."""
        self.streams = True
        """Whether replies are asked for as streams (`guide ask --no-stream` asks for them whole)."""
        self.before_tool: BeforeTool | None = None
        """Asked before each tool call runs (True runs it; False or a text does not, and the model reads why); None runs them all."""
        self.mcp: McpTools | None = None
        """The MCP servers in the settings, for a persona that names mcp:SERVER tools (None: such tools are left out)."""
        self.mcp_off: set[str] = set()
        """MCP servers turned off for this conversation (/tools SERVER off): their tools are not offered."""
        self.mcp_always: set[str] = set()
        """MCP tools ("SERVER/TOOL") the user said always run in this conversation. Both sets are kept with each reply, and read back on resume."""

    @property
    def guide(self) -> AsyncGuide | None:
        return self.server.client

    @property
    def models(self) -> ModelChoice:
        return self.server.models

    def require_guide(self) -> AsyncGuide:
        """The client; a conversation with none cannot call."""
        if self.guide is None:
            raise RuntimeError("This conversation has no client to call with.")
        return self.guide

    def greeting(self) -> str:
        """The persona's opening words, addressed as the settings say (shown, never sent: the guide waits)."""
        return self.persona.greeting_for(self.address)
