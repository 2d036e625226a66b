"""The relay's side toward the upstream: HTTP/1.1 over asyncio, lean enough that passing a stream on costs little more than copying it.

Through httpx (anyio slicing each 256 KB read into 64 KB copies, httpcore, h11) a 20,000-chunk stream passed at a
third of the direct speed, and a first byte waited about 1 ms. Here the head and body go out in one write, and each
piece the socket gives is handed on as it is (or with only its chunk framing taken off). Connections go only to the
one base's host and port (TLS checked as httpx checks it), kept alive for the next call. Failures are values the relay
turns into a proxy's answers: `Unreachable` (502), `Silent` (504), `Garbled` (502)."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator

import httpx

HEAD_MAX = 64 * 1024
"""Bytes of a response's status line and headers, at most (h11's limit, as before)."""
HELD = 1024 * 1024
"""Bytes read from the upstream and not yet passed on, past which the relay stops reading it (the program reads slowly)."""
IDLE_KEPT = 20
"""Idle connections kept for the next call (httpx's default)."""
IDLE_FOR = 4.0
"""Seconds an idle connection is kept: under the 5 s after which uvicorn (and many servers) close theirs, so it is rarely reused as it closes."""
ASKED_AGAIN = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods asked again on a new connection when a kept-alive one was closed as it was reused: the idempotent ones (RFC 9110 §9.2.2).
A POST may have been acted on (a completion billed) before the upstream let the connection go, so it gets the 502, as from nginx."""
BLANK_LINE = re.compile(rb"\n\r?\n")
STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9]{2})(?: [^\r\n]*)?\r?")
"""A status from 100 to 599 (RFC 9110 §15): uvicorn cannot pass any other on, and would cut the program's connection instead of a 502."""
HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?)[ \t]*\r?")
"""A header as h11 takes one (RFC 9110 §5.5: visible characters, and spaces and tabs inside): uvicorn refuses to send on anything else."""
CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?")


class Unreachable(Exception):
    """The upstream could not be connected to (refused, no route, no such name, TLS refused): a proxy's 502."""


class Silent(Exception):
    """The upstream stopped answering (or reading) for longer than the relay waits: a proxy's 504."""


class Garbled(Exception):
    """The upstream answered something that is not HTTP/1.1, or broke off: a proxy's 502 before the answer began, a cut connection after."""


class Closed(Garbled):
    """The upstream closed a connection before any byte of an answer: on a kept-alive one, it had let it go as it was reused."""


class Link(asyncio.Protocol):
    """One connection to the upstream: the pieces it sent that are not read yet, and whether it can still be written to."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pieces: deque[bytes] = deque()
        self.held = 0
        self.ended = False
        self.lost: BaseException | None = None
        self.waiting: asyncio.Future[None] | None = None
        self.draining: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pieces.append(data)
        self.held += len(data)
        if self.held > HELD and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended, self.lost = True, exc
        self._wake()
        if self.draining is not None and not self.draining.done():
            self.draining.set_result(None)

    def pause_writing(self) -> None:
        self.draining = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.draining is not None and not self.draining.done():
            self.draining.set_result(None)
        self.draining = None

    def _wake(self) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(None)

    @property
    def usable(self) -> bool:
        """Still open, and quiet: an idle connection with bytes or an end waiting is not one to send a request on."""
        return self.transport is not None and not self.transport.is_closing() and not self.ended and not self.pieces

    async def read(self, silence: float) -> bytes:
        """What has come since the last read (b"" at the end), waiting up to `silence` seconds for it."""
        if not self.pieces:
            if self.ended:
                return self._end()
            self.waiting = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(silence):
                    await self.waiting
            except TimeoutError:
                raise Silent(f"no answer within {silence:g} s") from None
            finally:
                self.waiting = None
            if not self.pieces:
                return self._end()
        if len(self.pieces) == 1:
            data = self.pieces.popleft()
        else:
            data = b"".join(self.pieces)
            self.pieces.clear()
        self.held -= len(data)
        if self.reading_paused and self.held <= HELD // 2 and self.transport is not None:
            self.transport.resume_reading()
            self.reading_paused = False
        return data

    def _end(self) -> bytes:
        """The end of what the upstream sends: b"" when it closed its side, Closed when the connection broke (a reset ends no body)."""
        if self.lost is not None:
            raise Closed(f"the connection broke: {self.lost}")
        return b""

    def unread(self, data: bytes) -> None:
        """Put back what was read past the end of a response's head (the start of its body)."""
        if data:
            self.pieces.appendleft(data)
            self.held += len(data)

    async def write(self, data: bytes, silence: float) -> None:
        """Send bytes, waiting up to `silence` seconds for the upstream to take them when its window is full."""
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the upstream closed the connection")
        self.transport.write(data)
        if self.draining is not None:
            try:
                async with asyncio.timeout(silence):
                    await self.draining
            except TimeoutError:
                raise Silent(f"the upstream took nothing for {silence:g} s") from None

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class Reply:
    """The upstream's answer to one request: its status and headers, then its body piece by piece (framing taken off)."""

    def __init__(
        self, upstream: Upstream, link: Link, status: int, headers: list[tuple[bytes, bytes]], keep: bool, framing: str, length: int
    ) -> None:
        self.upstream, self.link, self.status, self.headers = upstream, link, status, headers
        self.keep, self.framing, self.left = keep, framing, length
        self.chunks = Unchunk() if framing == "chunked" else None
        self.done = framing == "none" or (framing == "length" and length == 0)
        self.released = False

    @property
    def ready(self) -> bool:
        """Whether the body's first piece (or its end) is already here: reading it waits for nothing."""
        return self.done or bool(self.link.pieces) or self.link.ended

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives: each piece the socket gave, passed on as it is (with only chunk framing taken off)."""
        link, silence = self.link, self.upstream.silence
        while not self.done:
            data = await link.read(silence)
            if not data:
                if self.framing != "close":
                    raise Garbled("the upstream closed the connection before its answer ended")
                self.done = True
            elif self.framing == "length":
                if len(data) >= self.left:
                    data, extra = data[: self.left], data[self.left :]
                    self.keep = self.keep and not extra  # bytes past the answer's end: the connection is no longer trusted
                    self.done = True
                self.left -= len(data)
            elif self.chunks is not None:
                data = self.chunks.feed(data)
                if self.chunks.rest is not None:
                    self.keep, self.done = self.keep and not self.chunks.rest, True
            if self.done:
                self.release()  # before the last piece goes on: the program may ask again the moment it has it
            if data:
                yield data
        self.release()

    def release(self) -> None:
        """Let the connection go: back for the next call when the answer was read whole, dropped otherwise (which stops the upstream's call)."""
        if self.released:
            return
        self.released = True
        if self.done and self.keep:
            self.upstream.keep(self.link)
        else:
            self.link.drop()


class Unchunk:
    """A chunked body's framing taken off as pieces come (RFC 9112 §7.1); `rest` is what followed its end, once it has ended."""

    def __init__(self) -> None:
        self.left = 0
        self.after_data = False
        self.trailers = False
        self.rest: bytes | None = None
        self.carried = b""

    def feed(self, data: bytes) -> bytes:
        buf = self.carried + data if self.carried else data
        out: list[bytes] = []
        at, size = 0, len(buf)
        while at < size and self.rest is None:
            if self.left:
                piece = buf[at : at + self.left]
                out.append(piece)
                self.left -= len(piece)
                at += len(piece)
                self.after_data = not self.left
                continue
            end = buf.find(b"\n", at)
            if end < 0:
                if size - at > 8192:
                    raise Garbled("a chunk's size line never ended")
                break
            line, at = buf[at:end], end + 1
            if self.after_data:
                if line not in (b"", b"\r"):
                    raise Garbled("a chunk did not end where its size said")
                self.after_data = False
            elif self.trailers:
                if line in (b"", b"\r"):
                    self.rest = b""
            else:
                found = CHUNK_SIZE.fullmatch(line)
                if found is None:
                    raise Garbled("a chunk's size is not hexadecimal")
                self.left = int(found.group(1), 16)
                self.trailers = not self.left
        self.carried = buf[at:] if self.rest is None else b""
        if self.rest is not None:
            self.rest = buf[at:]
        return out[0] if len(out) == 1 else b"".join(out)


class Upstream:
    """Connections to the one base the relay was given, kept alive between calls."""

    def __init__(self, base: httpx.URL, *, connect: float, silence: float) -> None:
        self.host, self.port = base.host, base.port or (443 if base.scheme == "https" else 80)
        # As httpx.AsyncClient(trust_env=False) checked it before: certifi's roots, no SSL_CERT_FILE; HTTP/1.1 offered, nothing else.
        self.tls = httpx.create_ssl_context(trust_env=False) if base.scheme == "https" else None
        if self.tls is not None:
            self.tls.set_alpn_protocols(["http/1.1"])
        self.host_header = httpx.Request("GET", base).headers["host"].encode("ascii")
        self.connect, self.silence = connect, silence
        self.idle: list[Link] = []

    async def ask(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], first: bytes, rest: AsyncIterator[bytes] | None, chunked: bool
    ) -> Reply:
        """Send a request (`first`, the body so far, in the same write as its head; then `rest` as the program sends it) and read its
        answer's head. A kept-alive connection closed just as it was reused is tried once more, for an idempotent request in hand whole."""
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode("ascii"), target, self.host_header)
        head += b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
        head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"\r\n"
        message = head + (_chunk(first) if chunked else first)
        if chunked and rest is None:
            message += b"0\r\n\r\n"
        for attempt in (1, 2):
            link, reused = self._reuse()
            if link is None:
                link = await self._open()
            try:
                await link.write(message, self.silence)
                if rest is not None:
                    await self._send_rest(link, rest, chunked)
                return await self._answer(link, method)
            except (ConnectionError, Closed) as error:
                link.drop()
                if attempt == 2 or not reused or rest is not None or method not in ASKED_AGAIN:
                    raise Garbled(str(error) or type(error).__name__) from None
            except BaseException:
                link.drop()
                raise
        raise AssertionError("the second attempt returns or raises")

    async def _send_rest(self, link: Link, body: AsyncIterator[bytes], chunked: bool) -> None:
        async for piece in body:
            if link.transport is None or link.transport.is_closing():
                break  # the upstream closed its side (an early answer, a 413 say): that answer is what the program gets
            await link.write(_chunk(piece) if chunked else piece, self.silence)
        if chunked and link.transport is not None and not link.transport.is_closing():
            await link.write(b"0\r\n\r\n", self.silence)

    async def _answer(self, link: Link, method: str) -> Reply:
        got = bytearray()
        searched = 0  # the end is looked for only where new bytes came: a head sent a byte at a time costs no more
        while True:
            end = BLANK_LINE.search(got, max(0, searched - 3))  # first in what is already here: a 100 Continue and the answer may come in one piece
            if end is None:
                if len(got) > HEAD_MAX:
                    raise Garbled("the answer's head is too long")
                data = await link.read(self.silence)
                if not data:
                    raise (Closed if not got else Garbled)("the upstream closed the connection without answering")
                searched = len(got)
                got += data
                continue
            head, got, searched = bytes(got[: end.start() + 1]), got[end.end() :], 0
            if len(head) > HEAD_MAX:
                raise Garbled("the answer's head is too long")
            status, minor, headers = parse_head(head)
            if 100 <= status < 200:
                if status == 101:
                    raise Garbled("the upstream switched protocols")
                continue  # 100 Continue and the like: the answer proper follows
            link.unread(bytes(got))
            return self._reply(link, method, status, minor, headers)

    def _reply(self, link: Link, method: str, status: int, minor: int, headers: list[tuple[bytes, bytes]]) -> Reply:
        found: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            found.setdefault(name.lower(), []).append(value)
        tokens = {token.strip().lower() for value in found.get(b"connection", []) for token in value.split(b",")}
        keep = b"close" not in tokens and (minor == 1 or b"keep-alive" in tokens)
        codings = [token.strip().lower() for value in found.get(b"transfer-encoding", []) for token in value.split(b",") if token.strip()]
        lengths = {value.strip() for value in found.get(b"content-length", [])}
        if method == "HEAD" or status in (204, 304):
            return Reply(self, link, status, headers, keep, "none", 0)
        if codings:
            # RFC 9112 §6.3: the coding frames the body, and its Content-Length goes, or the program would read the body by a wrong length
            headers[:] = [(name, value) for name, value in headers if name.lower() != b"content-length"]
            if codings[-1] == b"chunked":
                return Reply(self, link, status, headers, keep, "chunked", 0)
            return Reply(self, link, status, headers, False, "close", 0)
        if lengths:
            if len(lengths) > 1 or not all(value.isdigit() for value in lengths):
                raise Garbled("the answer's Content-Length is not one number")
            return Reply(self, link, status, headers, keep, "length", int(lengths.pop()))
        return Reply(self, link, status, headers, False, "close", 0)

    def _reuse(self) -> tuple[Link | None, bool]:
        now = time.monotonic()
        while self.idle:
            link = self.idle.pop()
            if link.usable and now - link.idle_since < IDLE_FOR:
                return link, True
            link.drop()
        return None, False

    async def _open(self) -> Link:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect):
                _, link = await loop.create_connection(Link, self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None)
        except TimeoutError:
            raise Unreachable(f"no connection within {self.connect:g} s") from None
        except (OSError, ssl.SSLError) as error:
            raise Unreachable(str(error) or type(error).__name__) from None
        return link

    def keep(self, link: Link) -> None:
        """A connection whose answer was read whole, kept for the next call (the oldest let go past IDLE_KEPT)."""
        if not link.usable:
            link.drop()
            return
        link.idle_since = time.monotonic()
        self.idle.append(link)
        while len(self.idle) > IDLE_KEPT:
            self.idle.pop(0).drop()


def parse_head(head: bytes) -> tuple[int, int, list[tuple[bytes, bytes]]]:
    """A response's status, HTTP/1.x minor version and headers (names as sent), or Garbled."""
    lines = head.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()
    status = STATUS_LINE.fullmatch(lines[0]) if lines else None
    if status is None:
        raise Garbled("the answer does not start with an HTTP/1.1 status line")
    headers = []
    for line in lines[1:]:
        found = HEADER_LINE.fullmatch(line)
        if found is None:
            raise Garbled("the answer has a header that is not a header")
        headers.append((found.group(1), found.group(2)))
    return int(status.group(2)), int(status.group(1)), headers


def _chunk(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b""
