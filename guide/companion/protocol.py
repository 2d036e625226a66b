"""Timing out slow clients: uvicorn's h11 protocol, with the deadlines it lacks.

uvicorn has no header-read timeout, and a response it cannot write waits for
ever. So, per connection:

- a deadline runs from the moment it opens, and again after each response:
  when it passes with no request being answered, the connection is closed
  (trickled bytes do not reset it: a slowloris client sends a byte at a time);
- when the client stops reading (the transport pauses writing) and does not
  resume within the timeout, the connection is aborted: uvicorn then marks the
  request disconnected, the streamed reply stops, and its slot comes back.

The body of a request is read under a deadline in the app (`limits.read_body`).
Connections past `MAX_CONNECTIONS` are closed as they arrive.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

CLIENT_TIMEOUT = 10.0
"""Seconds a client may take to send its headers, pause its body, or stop reading a reply."""
MAX_CONNECTIONS = 256
"""Open connections, at most (each may hold up to 64 KB of unread body)."""


def guarded(timeout: float) -> type[H11Protocol]:
    """The h11 protocol with deadlines of `timeout` seconds (a class, as uvicorn.Config(http=...) takes)."""

    class Guarded(GuardedProtocol):
        client_timeout = timeout

    return Guarded


class GuardedProtocol(H11Protocol):
    """H11Protocol that closes connections whose client is too slow to send or to read."""

    client_timeout = CLIENT_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None
    _stall: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:
            transport.abort()
            return
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._deadline, self._stall):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_deadline()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.client_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.client_timeout, self._expired)

    def _expired(self) -> None:
        """No request is being answered, and the client has had its time: close."""
        self._deadline = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if not answering and not self.transport.is_closing():
            self.transport.abort()

    def _stalled(self) -> None:
        """The client stopped reading: drop what is unsent (a close would wait for it for ever)."""
        self._stall = None
        if not self.transport.is_closing():
            self.transport.abort()
