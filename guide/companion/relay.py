"""The relay: `guide serve --relay URL`, a program's calls passed on to one upstream as they are, each one kept as a Trace.

Faithful: the request goes on as it came (method, path under the base, query, body, every header but hop-by-hop ones)
and the answer comes back byte for byte as it arrives, unbuffered (compressed stays compressed); the program cannot
tell the relay is there. HTTP/1.1 to the upstream is relay_upstream.py's; the copy is read off the bytes' path (relay_trace.py).

Not an open proxy: the upstream is fixed at start, only paths under `/v1/` go on (appended to the base), and an
absolute-form target, a `.` or `..` segment (encoded once, twice or not at all), a backslash, `Host` and
`X-Forwarded-*` never choose where a request goes. The companion's Host/Origin door and deadlines stand in front; its
JSON-only rule and spec checks do not (the upstream decides). Bodies up to the API's sizes (25 MB audio, 512 MB files),
counted as they are read.

Keys: the caller's Authorization goes on unless an upstream key was given (which replaces it); a key the relay
requires of its own is never passed on. No key is kept: traces hold it redacted, any echo in a body is scrubbed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.types import Receive, Scope, Send

from guide.client import API_VERSION, Trace, api_base, redact_url
from guide.constants import MAX_AUDIO

from .limits import Refusal, refuse, too_large
from .relay_trace import QUIET_START, Recording
from .relay_upstream import Garbled, Reply, Silent, Unreachable, Upstream

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection", b"te", b"trailer"})
HOP_BY_HOP |= {b"transfer-encoding", b"upgrade"}
"""Headers about one connection, not the message (RFC 9110 §7.6.1): never passed on, either way."""
NOT_PASSED_ON = HOP_BY_HOP | {b"host", b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-port", b"x-real-ip"}
"""Request headers that stay here: the upstream's Host is its own, and the proxy headers are for proxies, which the relay does not follow."""
MAX_UPLOAD = 512 * 1024 * 1024
"""The API's limit for one file (/v1/files); audio paths take MAX_AUDIO (25 MB)."""
UPSTREAM_SILENCE = 600.0
"""Seconds the upstream may go quiet before the relay gives up on it: a model may think for minutes before its first token."""
CONNECT_WAIT = 10.0


class Relay:
    """The relay as an ASGI app: each request passed on to `upstream`, each call told (`tell`) as it starts, runs and ends."""

    def __init__(self, upstream: str, *, upstream_key: str | None, relay_key: str | None, stall: float, tell: Callable[[Trace], None]) -> None:
        self.base = httpx.URL(api_base(upstream))
        self.upstream_key, self.relay_key, self.stall, self.tell = upstream_key, relay_key, stall, tell
        self.shown = redact_url(str(self.base))
        # No environment proxy, no .netrc, no redirects followed: the request goes to the one base, as it came.
        self.upstream = Upstream(self.base, connect=CONNECT_WAIT, silence=UPSTREAM_SILENCE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = str(scope["method"])
        rest = under_base(scope.get("raw_path") or str(scope.get("path", "")).encode())
        if rest is None:
            shown = str(scope.get("path", ""))[:200]
            await refuse(404, f"The relay passes on only paths under /{API_VERSION}/ to {self.shown}, not '{shown}'.", code="unknown_url")(
                scope, receive, send
            )
            return
        url = self.url_for(rest, scope.get("query_string", b""))
        sent, caller_key = self.headers_for(scope.get("headers") or [])
        agent = dict(scope.get("headers") or []).get(b"user-agent", b"").decode("latin-1")[:200] or "(no User-Agent)"
        secrets = [key for key in (caller_key, self.upstream_key, self.relay_key) if key]
        call = Recording(method, f"/{API_VERSION}{rest.split('?', 1)[0]}", str(url), sent, agent, secrets)
        call.digested(self.tell)
        first_told = asyncio.get_running_loop().call_later(QUIET_START, self.started, call)
        try:
            await self.pass_on(call, method, url, sent, scope, receive, send)
        except asyncio.CancelledError:
            # Only uvicorn cancels a call: the relay is stopping (SIGTERM) and the call outlasted relay_run.GRACE. It ends here, answered if it
            # can be (a cut connection if its answer had begun), and filed: a cancellation passed on was a traceback in the user's terminal.
            stopping = "The relay was stopped before the upstream answered."
            if call.trace.status is None:
                await self.failed(call, 503, stopping, "relay_stopping", send)
            elif not call.finished:
                call.trace.notes.append("The relay was stopped before the answer ended.")
                call.finish(self.tell, "stopped")
        finally:
            first_told.cancel()
            if not call.finished:  # a failure no branch below foresaw: the call is still told as ended
                call.finish(self.tell, error={"type": "relay", "title": "The relay stopped passing this call on.", "detail": ""})

    def started(self, call: Recording) -> None:
        """A call still running QUIET_START seconds in: told as it is (a row for a watching app), and its request read."""
        if not call.finished:
            self.tell(call.trace)
            call.awaken()

    def url_for(self, rest: str, query: bytes) -> httpx.URL:
        """The upstream's URL for a path under the base (checked: its scheme, host and port are the base's)."""
        head, _, base_query = str(self.base).partition("?")
        asked = query.decode("latin-1")
        joined = "&".join(part for part in (base_query, asked) if part)
        url = head.rstrip("/") + rest + ("?" + joined if joined else "")
        parsed = httpx.URL(url)
        if (parsed.scheme, parsed.host, parsed.port) != (self.base.scheme, self.base.host, self.base.port):
            raise AssertionError("a path under the base left it")  # under_base makes this impossible; never send it elsewhere
        return parsed

    def headers_for(self, given: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], str]:
        """The headers that go on (hop-by-hop and proxy headers left here, the key as the options say), and the caller's key."""
        named_by_connection = connection_named(given)
        caller_key = ""
        sent = []
        for name, value in given:
            lower = name.lower()
            if lower == b"authorization":
                caller_key = value.decode("latin-1").partition(" ")[2].strip() or value.decode("latin-1").strip()
                if self.upstream_key or self.relay_key:
                    continue  # the upstream's key is the relay's to give; the relay's own never goes on
            if lower in NOT_PASSED_ON or lower in named_by_connection:
                continue
            sent.append((name, value))
        if self.upstream_key:
            sent.append((b"Authorization", f"Bearer {self.upstream_key}".encode("latin-1")))
        return sent, caller_key

    async def pass_on(
        self, call: Recording, method: str, url: httpx.URL, sent: list[tuple[bytes, bytes]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send the request on, and its answer back as it comes; any failure becomes the answer a program would get from a proxy."""
        headers = dict(sent)
        limit = MAX_AUDIO if "/audio/" in url.path else MAX_UPLOAD
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await self.refused(call, too_large(limit, "The upload"), scope, receive, send)
            return
        framing = dict(scope.get("headers") or []).get(b"transfer-encoding", b"")  # hop-by-hop, so not among the headers sent on
        chunked = b"chunked" in framing.lower() and not declared
        first, rest = b"", None
        try:
            if (declared.isdigit() and int(declared) > 0) or chunked:  # no length and not chunked: HTTP/1.1 says no body
                pieces = self.body(call, receive, limit)
                first = await anext(pieces, b"")
                rest = None if call.read else pieces
            whole = asyncio.Event()
            if rest is None:
                whole.set()
            else:
                rest = told_whole(rest, whole)
            response = await self.unless_gone(
                asyncio.ensure_future(self.upstream.ask(method, url.raw_path, sent, first, rest, chunked)), whole, receive
            )
        except Refusal as refusal:
            await self.refused(call, refusal, scope, receive, send)
            return
        except Silent:
            await self.failed(call, 504, f"The upstream {self.shown} did not answer within {UPSTREAM_SILENCE:g} s.", "upstream_timeout", send)
            return
        except Unreachable as error:
            await self.failed(call, 502, f"The relay could not reach the upstream {self.shown}: {reason(error)}.", "upstream_unreachable", send)
            return
        except Garbled as error:
            await self.failed(call, 502, f"The upstream {self.shown} answered in a way that is not HTTP: {reason(error)}.", "upstream_failed", send)
            return
        if response is None:
            call.trace.notes.append("The program went away before the upstream answered; the relay stopped the upstream's call.")
            call.finish(self.tell, "stopped")
            return
        if not call.read:
            call.sent()
        try:
            await self.answer(call, response, receive, send)
        finally:
            response.release()

    async def unless_gone(self, asking: asyncio.Future[Reply], whole: asyncio.Event, receive: Receive) -> Reply | None:
        """The upstream's answer, or None when the program went away first: its call is then cut, as the program's own going away would cut it."""

        async def gone() -> None:
            await whole.wait()  # until then the request's body is what receive() gives, and the upload reads it
            while (await receive())["type"] != "http.disconnect":
                pass

        watching: asyncio.Future[Any] = asyncio.create_task(gone())
        try:
            await asyncio.wait({asking, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not asking.done():
                asking.cancel()  # ask() drops the connection as it is cancelled
                await asyncio.wait({asking})
        return None if asking.cancelled() else asking.result()

    async def body(self, call: Recording, receive: Receive, limit: int) -> AsyncIterator[bytes]:
        """The request's body as it arrives, counted against `limit`; a pause longer than the client timeout is a 408."""
        size = 0
        while True:
            try:
                async with asyncio.timeout(self.stall):
                    message = await receive()
            except TimeoutError:
                raise Refusal(408, f"The request body paused longer than {self.stall:g} s.", code="request_timeout", close=True) from None
            if message["type"] == "http.disconnect":
                raise Refusal(400, "The client went away before the body arrived.", close=True)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit, "The upload")
            call.took(chunk)
            if not message.get("more_body", False):
                call.sent()  # before the last piece goes: the relay then knows the request is whole, and sends it in one write
                if chunk:
                    yield chunk
                return
            if chunk:
                yield chunk

    async def answer(self, call: Recording, response: Reply, receive: Receive, send: Send) -> None:
        """The upstream's answer, passed back piece by piece; the program going away stops it (and the upstream call)."""
        named_by_connection = connection_named(response.headers)
        headers = [(name, value) for name, value in response.headers if name.lower() not in HOP_BY_HOP and name.lower() not in named_by_connection]
        call.answered(response.status, headers)
        pieces = response.pieces()
        first, broke = b"", None
        if response.ready:  # the body's start came with the head: it follows the head at once, before any task is made
            try:
                first = await anext(pieces, b"")
            except Exception as breaking:  # told below, as a break in the pump is
                broke = breaking
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if first:
            call.gave(first)
            await send({"type": "http.response.body", "body": first, "more_body": True})

        async def pump() -> None:
            if broke is not None:
                raise broke
            async for chunk in pieces:
                call.gave(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        pumping, watching = asyncio.create_task(pump()), asyncio.create_task(gone())
        try:
            await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not pumping.done():
                pumping.cancel()
        if not pumping.done() or pumping.cancelled():
            await asyncio.wait({pumping})
            call.trace.notes.append("The program went away before the answer ended; the relay stopped reading the upstream.")
            call.finish(self.tell, "stopped")
            return
        error = pumping.exception()
        if error is not None:
            call.finish(self.tell, error={"type": type(error).__name__, "title": "The upstream's answer broke off.", "detail": reason(error)})
            raise error  # the program sees the connection end mid-answer, as it would have from the upstream
        call.finish(self.tell)

    async def refused(self, call: Recording, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        error = {"type": f"HTTP {refusal.status}", "title": "The relay refused the request.", "detail": refusal.message}
        call.trace.status = refusal.status
        call.finish(self.tell, error=error)
        await refusal.response()(scope, receive, send)

    async def failed(self, call: Recording, status: int, message: str, code: str, send: Send) -> None:
        """An OpenAI-shaped error for a call the upstream never answered (502, 504), as a proxy gives it."""
        body = json.dumps({"error": {"message": message, "type": "server_error", "param": None, "code": code}}).encode()
        call.trace.status = status
        call.finish(self.tell, error={"type": code, "title": message, "detail": ""})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def under_base(raw_path: bytes) -> str | None:
    """The part of a request's path that goes after the base (`/chat/completions`), or None when it must not go anywhere: only an
    origin-form path under /v1/ that never walks out of it (no `.` or `..` segment however often percent-encoded, no backslash,
    which some servers read as a slash, no control characters)."""
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    prefix = f"/{API_VERSION}/"
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) - 1 :]
    decoded = rest
    for _ in range(4):  # %25252e… unwraps a layer per decoding; any server on the way may decode once more
        decoded, before = unquote(decoded), decoded
        if decoded == before:
            break
    walks = any(part in (".", "..") for part in decoded.split("/"))
    if walks or "\\" in decoded or any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return None
    return rest


def connection_named(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """The headers a message's Connection header names: about that connection, so never passed on (RFC 9110 §7.6.1)."""
    return {token.strip().lower() for name, value in headers if name.lower() == b"connection" for token in value.split(b",") if token.strip()}


async def told_whole(pieces: AsyncIterator[bytes], whole: asyncio.Event) -> AsyncIterator[bytes]:
    """The request's body as it comes, `whole` set once it has all gone on."""
    async for piece in pieces:
        yield piece
    whole.set()


def reason(error: BaseException) -> str:
    """An httpx failure in a few words (its own text, else its kind)."""
    text = str(error).strip()
    return text[:200] if text else type(error).__name__
