"""The companion when a local process takes every connection it can (issue 23, item 9).

On loopback every peer is 127.0.0.1, the app's own companion client
included, so no cap per address can tell the attacker from the app: a
well-behaved client must be answered all the same, against a real
`guide serve`.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_companion import Served, serve

from guide.companion.protocol import MAX_CONNECTIONS, NEARLY_FULL, PER_ADDRESS, SHORT_DEADLINE, GuardedProtocol, guarded

MODELS = "/v1/models"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`guide serve` as it starts by default (a 10 s client timeout: the crowd is never timed out within a test)."""
    yield from serve()


class Crowd:
    """A local process holding `size` connections, each sent `opening` and then its last byte again now and then, reopened as soon as it is closed."""

    def __init__(self, port: int, size: int, opening: bytes) -> None:
        self.port, self.size, self.opening = port, size, opening
        self.stop = threading.Event()
        self.full = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="crowd")

    def __enter__(self) -> Crowd:
        self.thread.start()
        assert self.full.wait(30), "the crowd could not open its connections"
        time.sleep(0.5)  # the server has accepted them all
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def open(self, selector: selectors.BaseSelector) -> None:
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            raw.sendall(self.opening)
        except OSError:
            return
        raw.setblocking(False)
        selector.register(raw, selectors.EVENT_READ)

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        trickled = time.monotonic()
        try:
            while not self.stop.is_set():
                while len(selector.get_map()) < self.size and not self.stop.is_set():
                    self.open(selector)
                self.full.set()
                for key, _ in selector.select(0.05):
                    self.drop_if_closed(selector, key.fileobj)  # type: ignore[arg-type]
                if time.monotonic() - trickled > 0.5:  # a byte now and then: the request never ends
                    trickled = time.monotonic()
                    for key in list(selector.get_map().values()):
                        try:
                            key.fileobj.send(self.opening[-1:])  # type: ignore[union-attr]
                        except OSError:
                            self.drop(selector, key.fileobj)  # type: ignore[arg-type]
        finally:
            for key in list(selector.get_map().values()):
                self.drop(selector, key.fileobj)  # type: ignore[arg-type]
            selector.close()

    def drop_if_closed(self, selector: selectors.BaseSelector, raw: socket.socket) -> None:
        try:
            if raw.recv(4096):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.drop(selector, raw)

    @staticmethod
    def drop(selector: selectors.BaseSelector, raw: socket.socket) -> None:
        selector.unregister(raw)
        raw.close()


def poll(url: str, seconds: float, every: float = 0.2) -> tuple[int, int]:
    """A well-behaved client asking for the models every `every` seconds: (answered, asked)."""
    answered = asked = 0
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        asked += 1
        try:
            answered += httpx.get(url + MODELS, timeout=3).status_code == 200
        except httpx.HTTPError:
            pass
        time.sleep(every)
    return answered, asked


OPENINGS = {
    "a request line trickled": b"GET /v1/models",
    "a body trickled": b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n ",
}


@pytest.mark.parametrize("opening", OPENINGS.values(), ids=OPENINGS.keys())
def test_a_crowd_holding_every_connection_does_not_lock_a_polite_client_out(served: Served, opening: bytes) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    with Crowd(port, MAX_CONNECTIONS + 8, opening):
        answered, asked = poll(served.url, 4)
    assert asked >= 5 and answered >= asked - 1, f"{answered} of {asked} answered while {MAX_CONNECTIONS + 8} connections were held"
    assert httpx.get(served.url + MODELS, timeout=5).status_code == 200
    assert "Traceback" not in served.output()


def test_through_a_crowd_guides_own_client_keeps_its_connection_and_its_answers(served: Served) -> None:
    from guide import Guide, GuideError

    port = int(served.url.rsplit(":", 1)[1])
    failures: list[str] = []
    with Crowd(port, MAX_CONNECTIONS + 8, OPENINGS["a request line trickled"]), Guide(base_url=served.url, timeout=5, max_retries=0) as ai:
        ends = time.monotonic() + 3
        while time.monotonic() < ends:  # the app's way: one client, its connections kept alive between calls
            try:
                ai.catalog()
            except GuideError as error:
                failures.append(error.title)
            time.sleep(0.2)
    assert len(failures) <= 1, failures


def test_when_the_table_is_nearly_full_a_silent_connection_gets_a_short_deadline(served: Served) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(NEARLY_FULL + 8)]
    try:
        for raw in held:
            raw.sendall(b"G")
        time.sleep(0.5)  # the server has accepted them all
        with socket.create_connection(("127.0.0.1", port), timeout=5) as late:
            late.sendall(b"GET /v1/mod")
            started = time.monotonic()
            late.settimeout(SHORT_DEADLINE + 3)
            try:
                while late.recv(4096):
                    pass
            except ConnectionResetError:
                pass
            except TimeoutError:
                pytest.fail(
                    f"still open after {time.monotonic() - started:.1f} s (the client timeout is 10 s, the short deadline {SHORT_DEADLINE:g} s)"
                )
        assert httpx.get(served.url + MODELS, timeout=5).status_code == 200
    finally:
        for raw in held:
            raw.close()


class Peer:
    """A transport as asyncio hands one to the protocol, from `address`: what a connection beyond loopback looks like to it."""

    def __init__(self, address: str) -> None:
        self.address, self.closed = address, False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": (self.address, 40000), "sockname": ("192.0.2.1", 8765)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True

    close = abort


def test_beyond_loopback_one_address_holds_at_most_its_share() -> None:
    import uvicorn
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    loop = asyncio.new_event_loop()
    config = uvicorn.Config(app, http=guarded(10), lifespan="off")
    config.load()
    state = ServerState()

    def arrive(address: str) -> Peer:
        peer = Peer(address)
        protocol: GuardedProtocol = config.http_protocol_class(config, state, {}, _loop=loop)  # type: ignore[call-arg]
        protocol.connection_made(peer)  # type: ignore[arg-type]
        return peer

    try:
        remote = [arrive("198.51.100.7") for _ in range(PER_ADDRESS + 8)]
        local = [arrive("127.0.0.1") for _ in range(PER_ADDRESS + 8)]
        other = arrive("::ffff:198.51.100.8")
        one_host = [arrive(f"2001:db8:1:2::{n:x}") for n in range(PER_ADDRESS + 8)]  # a host has a whole /64 to pick from
        assert sum(not peer.closed for peer in remote) == PER_ADDRESS
        assert sum(not peer.closed for peer in one_host) == PER_ADDRESS
        assert not any(peer.closed for peer in local), "on loopback every peer is 127.0.0.1: no cap per address there"
        assert not other.closed
    finally:
        for protocol in list(state.connections):
            protocol.connection_lost(None)
        loop.close()
