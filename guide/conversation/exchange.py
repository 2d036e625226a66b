"""An exchange: one think call as it streams, and what became of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .turns import State, Turn

if TYPE_CHECKING:
    from guide.client import AsyncReply


class Exchange:
    """One reply as it streams: iterate it for the pieces. When it ends, the conversation fills in the rest.

    `state` is done, stopped (Esc) or cut (a failure); `turn` is the reply as
    kept (None when nothing arrived); `words_back` holds the user's words when
    the call failed, to give them back; `error` is the failure, if any.
    """

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

    @property
    def text(self) -> str:
        """What has arrived."""
        return self.reply.text if self.reply is not None else ""

    def __aiter__(self) -> AsyncIterator[str]:
        assert self.reply is not None, "an exchange is iterated once its call has started"
        return self.reply.__aiter__()

    async def close(self) -> None:
        """Close the HTTP stream now (what arrived stays)."""
        if self.reply is not None:
            await self.reply.aclose()
