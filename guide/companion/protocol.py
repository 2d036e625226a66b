"""Timing out slow clients: uvicorn's h11 protocol, with the deadlines it lacks (no header-read timeout, a stalled write waits for ever).

Per connection, a deadline runs from when it opens and again after each response: with no request being answered
when it passes, the connection closes (trickled bytes do not reset it: slowloris). A client that stops reading for
the timeout is aborted, so its streamed reply stops and its slot comes back. (Bodies: `limits.read_body`.)

On loopback every peer is 127.0.0.1 (the app too), so no count per address tells an attacker from the app: past
`MAX_CONNECTIONS` the connection waiting longest is shed, not the newcomer; past `NEARLY_FULL`, one that has not sent
its request gets `SHORT_DEADLINE`. A peer beyond loopback holds at most `PER_ADDRESS` (IPv6: per /64), shed alike."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol

CLIENT_TIMEOUT = 10.0
"""Seconds a client may take to send its headers, pause its body, or stop reading a reply."""
MAX_CONNECTIONS = 256
"""Open connections, at most (each may hold up to 64 KB of unread body)."""
NEARLY_FULL = MAX_CONNECTIONS * 3 // 4
"""Open connections past which one that has not sent its request gets only `SHORT_DEADLINE` to send it."""
SHORT_DEADLINE = 2.0
"""Seconds to send a request when the table is nearly full: a client that means to ask has asked by then."""
LINGER = 2.0
"""Seconds a closing connection keeps reading (and dropping) what the client still sends, so the answer reaches it."""
PER_ADDRESS = 32
"""Connections from one address beyond loopback (an IPv6 /64 counts as one), at most: four times the replies made at once (8)."""


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
    _since = 0.0  # when it was opened, or last answered: idle since then, unless a request is being answered
    _peer: str | None = None  # whose share it counts against: an IPv4 address or an IPv6 /64; None on loopback

    def connection_made(self, transport: Any) -> None:
        super().connection_made(cast(asyncio.Transport, Lingering(transport, self.loop)))  # it stands in for the transport
        self._since = self.loop.time()
        self._peer = None if self.client is None else share_of(self.client[0])
        if len(self.connections) > MAX_CONNECTIONS or self._peer is not None:
            self._make_room()
        if not transport.is_closing():
            self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._deadline, self._stall):
            if timer is not None:
                timer.cancel()
        if isinstance(self.transport, Lingering):
            self.transport.gone()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if isinstance(self.transport, Lingering) and self.transport.lingering:
            return  # the answer is sent and the connection closing: what the client still sends is read and dropped
        super().data_received(data)

    def eof_received(self) -> None:
        if isinstance(self.transport, Lingering) and self.transport.lingering:
            self.transport.now()
            return
        super().eof_received()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._since = self.loop.time()
        if not self.transport.is_closing():
            self._arm_deadline()

    @property
    def idle(self) -> bool:
        """No request is being answered: it is waiting for one (a request line being trickled, or kept alive)."""
        return self.cycle is None or self.cycle.response_complete

    @property
    def uploading(self) -> bool:
        """Its request's body is still arriving, and no answer has begun."""
        return not self.idle and self.cycle.more_body and not self.cycle.response_started

    def _make_room(self) -> None:
        """Past the limits, shed a connection: the table's, then (beyond loopback) this peer's."""
        live = [c for c in self.connections if isinstance(c, GuardedProtocol) and not c.transport.is_closing()]
        if len(live) > MAX_CONNECTIONS:
            shed(live, self)
        if self._peer is not None and not self.transport.is_closing():
            own = [c for c in live if c._peer == self._peer and not c.transport.is_closing()]
            if len(own) > PER_ADDRESS:
                shed(own, self)

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
        crowded = len(self.connections) > NEARLY_FULL
        self._deadline = self.loop.call_later(min(self.client_timeout, SHORT_DEADLINE) if crowded else self.client_timeout, self._expired)

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


class Lingering:
    """The connection's transport, closed as careful servers close it: the answer and a FIN, then what the client still sends
    read and dropped for up to `LINGER` seconds. Closing while the peer still sends (a refused 9 MB body) makes the kernel
    answer with a reset, and the client's kernel then throws away the unread answer: the 413 never arrived."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = transport
        self.loop = loop
        self.lingering = False
        self._timer: asyncio.TimerHandle | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close(self) -> None:
        if self.lingering or self.inner.is_closing():
            return
        try:
            if not getattr(self.inner, "can_write_eof", lambda: False)():  # a transport that cannot half-close just closes
                self.inner.close()
                return
            self.inner.write_eof()  # after what is buffered: the answer goes whole, then the FIN
            self.inner.resume_reading()
        except (OSError, RuntimeError):
            self.inner.close()
            return
        self.lingering = True
        self._timer = self.loop.call_later(LINGER, self.now)

    def now(self) -> None:
        """Close for good (the client closed its side, or had its time to read the answer)."""
        self.gone()
        if not self.inner.is_closing():
            self.inner.close()

    def gone(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def is_closing(self) -> bool:
        return self.lingering or bool(self.inner.is_closing())

    def abort(self) -> None:
        self.gone()
        self.inner.abort()


def shed(among: Iterable[GuardedProtocol], newcomer: GuardedProtocol) -> None:
    """Close one connection to make room for `newcomer`: of those waiting to be answered (or still sending their request:
    trickled bodies fill the table as surely), the one waiting longest; the newcomer only when every other is being answered.
    Refusing the newcomer, as a full table used to, let whoever filled it first keep it with a byte now and then."""
    waiting = [c for c in among if c is not newcomer and (c.idle or c.uploading)]
    victim = min(waiting, key=lambda c: c._since, default=newcomer)
    victim.transport.abort()


def share_of(address: str) -> str | None:
    """Whose share of connections a peer's count against: its IPv4 address, or its IPv6 /64 (one host has a whole /64); None on loopback."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
