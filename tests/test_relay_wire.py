"""The relay's own HTTP/1.1 toward the upstream (relay_upstream.py): every framing a server may answer with reaches the program as it was.

The upstream here writes raw bytes, in the pieces each test chooses (a size
line cut in two, a chunk's CRLF alone), so the relay's reading of chunks,
lengths, bodies that end with the connection, 1xx answers and kept-alive
connections is tested through the real `guide serve --relay`.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from test_relay import filed, relaying

SSE = b'data: {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}\n\ndata: {"choices": [{"index": 0, "delta": {"content": "lo"}}]}\n\n'
SSE += b"data: [DONE]\n\n"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


@dataclass
class Scripted:
    """One answer: its bytes in the pieces they are written in (a short pause between), then the connection kept or closed."""

    pieces: list[bytes]
    close: bool = False
    silent: bool = False
    """Read the request and close the connection without a byte of answer."""
    reset: bool = False
    """End with a reset (RST), not a close: the connection broke."""


@dataclass
class Seen:
    """One request as it reached the upstream: the connection it came on (numbered from 1), its head and its body."""

    connection: int
    head: bytes
    body: bytes


@dataclass
class RawUpstream:
    """A loopback upstream that answers each request with the next Scripted answer, byte for byte."""

    script: list[Scripted]
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    handshakes_refused: int = 0
    listening: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.listening.getsockname()[1]}"
        self.serving = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        # Only this thread touches the listener, and closes it: one left waiting in accept() on a listener closed under it took a later
        # test's connections once a signal restarted the wait on the descriptor's number (loopback.accepting says how).
        connections = 0
        with self.listening, contextlib.suppress(OSError):
            while not self.stopping.is_set():
                try:
                    connection, _ = self.listening.accept()
                except TimeoutError:
                    continue
                connections += 1
                threading.Thread(target=self.answer, args=(connection, connections), daemon=True).start()

    def answer(self, connection: socket.socket, number: int) -> None:
        connection.settimeout(10)
        if self.tls is not None:
            try:
                connection = self.tls.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError):
                self.handshakes_refused += 1
                connection.close()
                return
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece its own segment
        buffered = b""
        with connection, contextlib.suppress(OSError):
            while self.script:
                while b"\r\n\r\n" not in buffered:
                    piece = connection.recv(65536)
                    if not piece:
                        return
                    buffered += piece
                head, buffered = buffered.split(b"\r\n\r\n", 1)
                body, buffered = self.read_body(connection, head, buffered)
                self.seen.append(Seen(number, head, body))
                scripted = self.script.pop(0)
                if scripted.silent:
                    return
                for piece in scripted.pieces:
                    connection.sendall(piece)
                    time.sleep(0.005)
                if scripted.reset:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if scripted.close or scripted.reset:
                    return

    @staticmethod
    def read_body(connection: socket.socket, head: bytes, buffered: bytes) -> tuple[bytes, bytes]:
        lines = head.lower().split(b"\r\n")
        length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), 0)
        chunked = any(line.startswith(b"transfer-encoding:") and b"chunked" in line for line in lines)
        if chunked:
            while not buffered.endswith(b"0\r\n\r\n"):
                buffered += connection.recv(65536)
            return buffered, b""
        while len(buffered) < length:
            buffered += connection.recv(65536)
        return buffered[:length], buffered[length:]

    def __enter__(self) -> RawUpstream:
        self.listening.settimeout(0.05)
        self.serving.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.serving.join(15)
        assert not self.serving.is_alive(), "the upstream's accepting thread did not end"


def chunked(body: bytes, sizes: list[int]) -> bytes:
    """`body` in chunks of the given sizes (an extension on the first), a zero chunk, a trailer, and the blank line."""
    out, at = b"", 0
    for number, size in enumerate(sizes):
        out += b"%x%s\r\n%s\r\n" % (size, b";note=1" if number == 0 else b"", body[at : at + size])
        at += size
    return out + b"0\r\nX-Checksum: none\r\n\r\n"


def cut(data: bytes, at: list[int]) -> list[bytes]:
    """`data` cut at the given offsets."""
    bounds = [0, *at, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds) if end > start]


@contextlib.contextmanager
def through(*script: Scripted) -> Iterator[tuple[RawUpstream, str]]:
    with RawUpstream(list(script)) as upstream, relaying(upstream.url) as relay:
        yield upstream, relay


def test_a_chunked_stream_cut_anywhere_reaches_the_program_byte_for_byte_and_the_connection_serves_the_next_call() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    framed = chunked(SSE, [1, 60, len(SSE) - 61])
    # cut inside the status line, inside a size line and its extension, between a chunk's data and its CRLF, inside the trailer
    pieces = cut(head + framed, [9, len(head) + 1, len(head) + 5, len(head) + 3 + 9 + 1, len(head) + len(framed) - 10])
    with through(Scripted(pieces), Scripted([head, chunked(b"again", [5])])) as (upstream, relay), httpx.Client(timeout=30) as client:
        with client.stream("POST", f"{relay}/v1/chat/completions", json=CHAT) as answer:
            got = b"".join(answer.iter_raw())
            assert answer.status_code == 200 and answer.headers["content-type"] == "text/event-stream"
        assert got == SSE
        assert client.post(f"{relay}/v1/chat/completions", json=CHAT).content == b"again"
        calls = filed(2)
    assert [seen.connection for seen in upstream.seen] == [1, 1]  # the relay read the first answer to its end, so kept the connection
    assert [text for _, text in calls[0]["frames"]] == [SSE.split(b"\n\n")[n].decode()[6:] for n in range(3)]
    assert calls[0]["state"] == "done"


def test_a_body_that_ends_with_the_connection_or_runs_past_its_length_is_passed_on_as_far_as_it_goes() -> None:
    closing = [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", b'{"object": "list",', b' "data": []}']
    overlong = [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfourEXTRA"]
    plain = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    with through(Scripted(closing, close=True), Scripted(overlong), Scripted(plain)) as (upstream, relay), httpx.Client(timeout=30) as client:
        assert client.get(f"{relay}/v1/models").content == b'{"object": "list", "data": []}'
        assert client.get(f"{relay}/v1/models").content == b"four"
        assert client.get(f"{relay}/v1/models").content == b"ok"
    assert [seen.connection for seen in upstream.seen] == [1, 2, 3]  # neither connection could carry another answer


def test_answers_without_a_body_and_an_interim_100_do_not_hold_the_relay() -> None:
    head_answer = [b"HTTP/1.1 200 OK\r\nContent-Length: 120\r\n\r\n"]
    no_content = [b"HTTP/1.1 204 No Content\r\n\r\n"]
    continued = [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated"]  # in one piece
    with through(Scripted(head_answer), Scripted(no_content), Scripted(continued)) as (upstream, relay), httpx.Client(timeout=10) as client:
        headed = client.head(f"{relay}/v1/files/file-1")
        assert headed.status_code == 200 and headed.headers["content-length"] == "120" and headed.content == b""
        assert client.delete(f"{relay}/v1/files/file-1").status_code == 204
        created = client.post(f"{relay}/v1/files", content=b"x" * 10)
        assert (created.status_code, created.content) == (201, b"created")
    assert [seen.connection for seen in upstream.seen] == [1, 1, 1]
    assert upstream.seen[2].body == b"x" * 10


def test_a_kept_alive_connection_the_upstream_let_go_is_retried_for_a_get_and_never_for_a_post() -> None:
    models = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"]
    script = [Scripted(models), Scripted([], silent=True), Scripted(models), Scripted(models), Scripted([], silent=True), Scripted(models)]
    with through(*script) as (upstream, relay), httpx.Client(timeout=30) as client:
        assert client.get(f"{relay}/v1/models").status_code == 200
        assert client.get(f"{relay}/v1/models").status_code == 200  # closed as it was reused: asked again on a new connection
        assert client.get(f"{relay}/v1/models").status_code == 200
        refused = client.post(f"{relay}/v1/chat/completions", json=CHAT)  # the upstream may have acted on it: not asked twice
        assert refused.status_code == 502 and refused.json()["error"]["code"] == "upstream_failed"
        assert client.get(f"{relay}/v1/models").status_code == 200
    assert [seen.connection for seen in upstream.seen] == [1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize(
    "answer",
    [
        [b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}"],
        [b"SSH-2.0-OpenSSH_9.6\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"],
        [b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nX-Odd: a\x01b\r\nContent-Length: 2\r\n\r\n{}"],
    ],
)
def test_an_answer_that_is_not_http_is_a_502_naming_the_upstream(answer: list[bytes]) -> None:
    with through(Scripted(answer, close=True)) as (upstream, relay):
        refused = httpx.get(f"{relay}/v1/models", timeout=30)
        (call,) = filed(1)
    assert refused.status_code == 502
    assert refused.json()["error"]["code"] == "upstream_failed" and upstream.url.removeprefix("http://") in refused.json()["error"]["message"]
    assert call["state"] == "failed"


def test_a_chunk_that_breaks_mid_stream_ends_the_programs_connection_not_its_answer() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    with through(Scripted([head, b"5\r\nhello\r\n", b"zz\r\nnot a chunk"], close=True)) as (_, relay):
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("POST", f"{relay}/v1/chat/completions", json=CHAT, timeout=30) as answer:
            pieces = answer.iter_raw()
            assert next(pieces) == b"hello"
            b"".join(pieces)
        (call,) = filed(1)
    assert call["state"] == "failed" and "broke off" in call["error"]["title"]


def test_a_body_that_ends_with_the_connection_ends_the_programs_connection_when_it_breaks_instead_of_closing() -> None:
    closing = [b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"half of it"]
    with through(Scripted(closing, reset=True)) as (_, relay):
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", f"{relay}/v1/files/file-1/content", timeout=30) as answer:
            b"".join(answer.iter_raw())  # a reset is not the end of the body: the program must not take half of it for all
        (call,) = filed(1)
    assert call["state"] == "failed"


def test_a_request_body_in_pieces_or_chunks_reaches_the_upstream_whole() -> None:
    ok = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    with through(Scripted(ok), Scripted(ok)) as (upstream, relay):
        port = int(relay.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as program:
            program.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            program.sendall(f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 10\r\n\r\nfirst".encode())
            time.sleep(0.2)
            program.sendall(b"-last")
            program.sendall(f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n".encode())
            time.sleep(0.2)
            program.sendall(b"3\r\ntwo\r\n0\r\n\r\n")
            answers = b""
            while answers.count(b"\r\n\r\nok") < 2:
                answers += program.recv(65536)
    assert upstream.seen[0].body == b"first-last"
    assert upstream.seen[1].body == b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n" and b"transfer-encoding: chunked" in upstream.seen[1].head.lower()


def test_an_upstream_whose_certificate_does_not_verify_is_a_502_and_never_gets_the_request(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
    subprocess.run([*made, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    ok = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"]
    with RawUpstream([Scripted(ok)], tls=served) as upstream, relaying(upstream.url) as relay:
        refused = httpx.post(f"{relay}/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-never-sent-0123456789"}, timeout=30)
        (call,) = filed(1)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "upstream_unreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in refused.json()["error"]["message"]
    assert upstream.seen == [] and upstream.handshakes_refused == 1  # the relay spoke TLS, checked the certificate, and stopped there
    assert call["state"] == "failed"
