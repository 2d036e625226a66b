"""An exchange: one think call as it streams, and what became of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .events import Event, ReplyPieces
from .turns import ROUNDS_APART, ROUNDS_KEPT, TOOL_KEPT, State, Turn

if TYPE_CHECKING:
    from guide.client import AsyncReply

GATHER = 1 / 30
"""Seconds of a streaming reply gathered into one report (a frame: more would only be drawn at the next one)."""
"""Between the words of a round that asked for tools and the words of a later round ("Let me count." then "It is 5.")."""


class Exchange:
    """One reply as it streams, run by the conversation. Then `state` is done, stopped (Esc) or cut (a failure); `turn` the
    reply as kept (None if nothing arrived); `words_back` the words to give back if the call failed; `error` its failure."""

    def __init__(self, who: str, reply: AsyncReply | None, asked: Turn) -> None:
        self.who = who
        self.reply = reply
        """The client's reply (None until the call starts: the model may be looked up first)."""
        self.asked = asked
        """The user's turn this replies to."""
        self.state: State = "done"
        self.turn: Turn | None = None
        self.words_back: str | None = None
        self.error: BaseException | None = None
        self.without_tools: Callable[[], AsyncReply] | None = None
        """The same call without tools, for a server that refuses them before a word has arrived (None: no tools offered)."""
        self.without_pictures: Callable[[], AsyncReply] | None = None
        """The same call with the words only, for a server that fails on pictures before a word has arrived (None: none carried)."""

    def _replies(self) -> list[AsyncReply]:
        """The rounds that asked for tools, then the one now streaming (the client's tool loop keeps them)."""
        return [*self.reply.rounds, self.reply] if self.reply is not None else []

    @property
    def text(self) -> str:
        """What has arrived of the answer (words said in rounds that asked for tools included, each round's apart)."""
        return ROUNDS_APART.join(said for said in (reply.text for reply in self._replies()) if said)

    @property
    def reasoning(self) -> str:
        """What the model thought before answering, over every round."""
        return "".join(reply.reasoning for reply in self._replies())

    @property
    def thought_ms(self) -> float | None:
        """How long the model thought, in ms (each round's thinking added up; None: it did not reason)."""
        times = [reply.thought_ms for reply in self._replies() if reply.thought_ms is not None]
        return sum(times) if times else None

    @property
    def tools_used(self) -> list[dict[str, Any]]:
        """Each tool call of the rounds before the answer: what was called, and what it answered (as the turn keeps it)."""
        used = self.reply.tools_used if self.reply is not None else []
        return [{"call": call.shown(), "result": result[:2000]} for call, result in used]

    @property
    def tool_history(self) -> list[dict[str, Any]]:
        """The messages the tool rounds added, as sent, for later calls to send again (each tool's answer cut at TOOL_KEPT; none past ROUNDS_KEPT)."""
        sent = self.reply.tool_history if self.reply is not None else []
        kept = [{**m, "content": m["content"][:TOOL_KEPT]} if m.get("role") == "tool" else m for m in sent]
        return kept if sum(len(str(m)) for m in kept) <= ROUNDS_KEPT else []

    async def run(self, emit: Callable[[Event], None]) -> None:
        """Stream the reply to its end, reporting what arrives as ReplyPieces: at most one report a GATHER, and a piece
        never waits longer than that (a reply that pauses still shows its last words)."""
        loop = asyncio.get_running_loop()
        held: list[tuple[str, str]] = []
        told = -GATHER
        timer: asyncio.TimerHandle | None = None
        failed: list[BaseException] = []

        def tell() -> None:
            nonlocal timer, told
            timer = None
            if held:
                parts = tuple(held)
                held.clear()
                told = loop.time()
                emit(ReplyPieces(self, parts))

        def later() -> None:
            try:
                tell()
            except Exception as error:  # the listener failed (stdout closed): it surfaces in the stream, not the loop's log
                failed.append(error)

        try:
            async for part in self.parts():
                if failed:
                    raise failed[0]
                held.append(part)
                if timer is None:
                    wait = told + GATHER - loop.time()
                    if wait <= 0:
                        tell()
                    else:
                        timer = loop.call_later(wait, later)
        finally:
            if timer is not None:
                timer.cancel()
            if not failed:
                tell()  # stopped or cut: what arrived is reported before the end is
        if failed:
            raise failed[0]

    async def parts(self) -> AsyncIterator[tuple[str, str]]:
        """The reasoning, the answer and the tool calls answered as they arrive, ("reasoning" | "answer" | "tool", text),
        through every round of tools."""
        from guide.client import GuideError, ToolsNotTaken

        assert self.reply is not None, "an exchange is iterated once its call has started"
        said_in: int | None = None  # the round whose words came last: a later round's words begin a paragraph of their own
        while True:
            try:
                async for part in self.reply.parts():
                    if part[0] == "answer" and part[1]:
                        if said_in is not None and said_in != len(self.reply.rounds):
                            yield "answer", ROUNDS_APART
                        said_in = len(self.reply.rounds)
                    yield part
                return
            except ToolsNotTaken:
                if self.without_tools is None or self.reply.rounds or self.text:
                    raise
                self.reply, self.without_tools = self.without_tools(), None
            except GuideError as error:
                if self.without_pictures is None or self.reply.rounds or self.text or not failed_on_content(error):
                    raise
                self.reply, self.without_pictures = self.without_pictures(), None

    async def close(self) -> None:
        """Close the HTTP stream now (what arrived stays)."""
        if self.reply is not None:
            await self.reply.aclose()


def failed_on_content(error: BaseException) -> bool:
    """Whether a failure may come from what the request carried (refused, or the server failed on it), not from the way there."""
    from guide.client import CannotConnect, KeyRefused, NotOffered, PicturesNotTaken, RateLimited, TimedOut

    return isinstance(error, PicturesNotTaken) or not isinstance(error, (CannotConnect, KeyRefused, NotOffered, RateLimited, TimedOut))
