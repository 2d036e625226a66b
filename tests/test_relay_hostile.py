"""A hostile upstream behind the real `guide serve --relay`: what it sends never reaches the program as a broken or misframed answer.

The relay re-frames every answer toward the program (uvicorn's h11 frames
it from the headers the relay passes on), so a header that describes the
upstream's framing, not the body the relay passes on, must not go with it.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from test_relay import filed, relaying
from test_relay_wire import Scripted, through

FOLLOWING = Scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])


def exchange(relay: str, request: bytes) -> bytes:
    """`request` (PORT standing for the relay's) sent on one connection to the relay, and all it answers until it closes (the request asks it to)."""
    port = int(relay.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as program:
        program.sendall(request.replace(b"PORT", b"%d" % port))
        got = b""
        while piece := program.recv(65536):
            got += piece
    return got


def test_an_answer_with_both_content_length_and_chunked_reaches_the_program_whole_and_framed_once() -> None:
    # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, which an intermediary removes before passing the answer on
    both = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", b"a\r\n0123456789\r\n0\r\n\r\n"]
    with through(Scripted(both), FOLLOWING) as (_, relay):
        got = exchange(
            relay,
            b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n",
        )
    head, _, rest = got.partition(b"\r\n\r\n")
    assert b"content-length: 5" not in head.lower() and b"transfer-encoding: chunked" in head.lower()
    assert rest.startswith(b"a\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\nok")


@pytest.mark.parametrize("status", [b"042", b"099", b"600", b"999"])
def test_a_status_outside_100_to_599_is_a_502_naming_the_upstream_not_a_cut_connection(status: bytes) -> None:
    with through(Scripted([b"HTTP/1.1 %s Odd\r\nContent-Length: 2\r\n\r\n{}" % status], close=True)) as (upstream, relay):
        got = exchange(relay, b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n")
        (call,) = filed(1)
    assert got.startswith(b"HTTP/1.1 502 ") and b'"upstream_failed"' in got and upstream.url.removeprefix("http://").encode() in got
    assert call["state"] == "failed"


def test_a_program_that_goes_away_while_the_upstream_thinks_stops_the_upstreams_call() -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    ended: list[str] = []

    def thinking() -> None:
        connection, _ = listening.accept()
        with connection:
            connection.settimeout(15)
            connection.recv(65536)
            try:
                ended.append("closed" if not connection.recv(65536) else "more")
            except OSError:
                ended.append("held past 15 s")

    thinker = threading.Thread(target=thinking, daemon=True)
    thinker.start()
    with listening, relaying(f"http://127.0.0.1:{listening.getsockname()[1]}") as relay:
        port = int(relay.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as program:
            program.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 2\r\n\r\n{}" % port)
            time.sleep(1)  # the upstream has the request, and answers nothing yet: a model thinking
        thinker.join(20)
        (call,) = filed(1)
    assert ended == ["closed"]  # as when the program called the upstream itself: its going away is the call's end, not billed on
    assert call["state"] == "stopped"


def test_a_header_the_upstreams_connection_header_names_stays_with_that_connection() -> None:
    # RFC 9110 §7.6.1: an intermediary removes each header its Connection header names, as the relay does on the way up
    named = [b"HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: upstream's own\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\n{}"]
    with through(Scripted(named)) as (_, relay):
        got = exchange(relay, b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n")
    head = got.partition(b"\r\n\r\n")[0].lower()
    assert b"x-kept: yes" in head and b"x-hop" not in head


TRICKLED = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Trickled: yes\r\nContent-Length: 2\r\n\r\nok"
PADDED = b"HTTP/1.1 100 Continue\r\nX-Padding: " + b"p" * 80


@pytest.mark.parametrize(
    "pieces",
    [
        [TRICKLED[:24], *[TRICKLED[at : at + 1] for at in range(24, len(TRICKLED) - 2)], TRICKLED[-2:]],  # a byte at a time
        [PADDED, b"\r\n\r\nHTTP/1.1 200 OK\r\nX-Trickled: yes\r\nContent-Length: 2\r\n\r\nok"],  # the answer's head whole, after a long 100's
    ],
    ids=["a-byte-at-a-time", "after-a-long-100"],
)
def test_a_head_that_comes_in_pieces_after_a_100_continue_is_read_whole(pieces: list[bytes]) -> None:
    # the end of a head is looked for only where new bytes came, and afresh in what follows the 100 Continue
    with through(Scripted(pieces)) as (_, relay):
        got = exchange(relay, b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 ") and b"x-trickled: yes" in got.lower() and got.endswith(b"\r\n\r\nok")
