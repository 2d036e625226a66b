"""What the relay keeps of one call: a Trace, filled from a bounded copy of the bytes as they pass.

A body is read up to `KEPT` bytes (the rest counted); a stream keeps its first and last frames (`FRAMES_FIRST`,
`FRAMES_LAST`), those between counted by kind. Every key the call carried or the relay holds is scrubbed.

The loop only notes each piece and its arrival time; one thread (`Digester`) parses and tells the listeners (first
QUIET_START seconds in, at most every PROGRESS seconds while it runs, and at the end): parsing each frame on the loop
held a 20,000-chunk stream to a tenth of its speed. What waits for that thread is bounded (`BEHIND`): past it, the
oldest waiting pieces (the stream's middle) go on unread, and the trace says so."""

from __future__ import annotations

import codecs
import json
import queue
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from guide.client import ACTIONS, Gentle, SSEDecoder, Trace, redact_key, redact_url
from guide.client.internal import FRAMES_FIRST, FRAMES_LAST, OFF_MAP, ChunkKinds, frame_type, scrub

from .limits import too_many_values

KEPT = 8 * 1024 * 1024
"""Bytes of each body read for the trace: a JSON request with a picture in it fits; a 512 MB upload is counted, not held."""
DIGEST_AT = 4 * 1024 * 1024
"""Bytes of a stream that wait before the digesting thread is woken (else PROGRESS seconds, or the end): a fast stream is read
after it has passed, not while, so the thread does not take the interpreter from the loop passing the bytes on."""
BEHIND = 8 * 1024 * 1024
"""Bytes of a stream that may wait for the digesting thread; past this the oldest waiting pieces go unread (the stream is never slowed)."""
PROGRESS = 0.5
"""Seconds between tellings of a running call (its frames so far), so a watching app's row moves while the call streams."""
QUIET_START = 0.02
"""Seconds a call runs before it is first told and its request read (a row appears well within the 100 ms asked): telling it at once
woke the store's writer and the digesting thread just as the request went on, and the first byte waited for the interpreter they took."""
EVENT_END = re.compile(r"\r\n\r\n|\n\n|\r\r")
"""A blank line: where the frames start again after pieces went unread."""
ANSWER_PIECE = re.compile(r'"content"\s*:\s*"[^"]')
"""A chat chunk whose content is a string that is not empty."""
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie", "set-cookie"})
SECRET_ENDINGS = ("-key", "-token", "-secret", "-signature", "-password", "-credential")
SECRET_WORDS = ("auth", "cookie", "session", "password", "credential")
"""A header whose name says it carries a key is kept redacted: clients send them in headers of their own
(x-goog-api-key, ocp-apim-subscription-key, x-auth-token, x-amz-security-token), not only in Authorization.
Endings, not words, for keys and tokens: x-ratelimit-remaining-tokens is a count the user wants to see."""
RELAYED = "Passed on by guide's relay."
"""The first note of each call the relay records: how a watching app tells them from calls made to the companion."""
TO_THE_COMPANION = "Made to guide's companion by another program."
"""The first note of each call the companion records of another program (theirs.py)."""


def action_of(method: str, path: str) -> str:
    """The gentle action a method and path are on the map as, or OFF_MAP."""
    for row in ACTIONS.values():
        if row.method == method and row.legacy_path == path:
            return row.name
    return OFF_MAP


def gentle_of(action: str, body: Any) -> str:
    """The call as guide's Python would make it (`ai.think([...], model="…")`), or what it is when it is off the map."""
    if action not in ACTIONS:
        return f"# {OFF_MAP}: guide has no gentle name for this endpoint, so it passed through as it was."
    args: list[str] = []
    fields = body if isinstance(body, dict) else {}
    main = ACTIONS[action].main_field
    if main and main in fields:
        args.append(_short(fields[main]))
    for name in ("model", "stream"):
        if name in fields:
            args.append(f"{name}={_short(fields[name])}")
    return f"ai.{ACTIONS[action].method_name}({', '.join(args)})"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def shown_headers(headers: list[tuple[bytes, bytes]], secrets: list[str]) -> dict[str, str]:
    """Headers as a trace keeps them: keys redacted (whatever the header), anything else scrubbed of the call's secrets."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if secret_header(name):
            scheme, token = auth_parts(value)
            value = f"{scheme} {redact_key(token)}" if scheme else redact_key(value)
        kept[name] = scrub(value, secrets)
    return kept


def auth_parts(value: str) -> tuple[str, str]:
    """A secret header's scheme (`Bearer`, `Basic`: shown) and its secret; no scheme for anything else (a Cookie is all secret)."""
    scheme, space, token = value.partition(" ")
    return (scheme, token.strip()) if space and scheme.isalpha() else ("", value)


def secret_header(name: str) -> bool:
    """Whether a header (by its name) carries a key, a token or a session."""
    lower = name.lower()
    return lower in SECRET_HEADERS or lower.endswith(SECRET_ENDINGS) or any(word in lower for word in SECRET_WORDS)


class Recording:
    """One call as it passes the relay: the trace, and the bounded copies of its bodies that fill it in."""

    def __init__(
        self, method: str, path: str, url: str, sent: list[tuple[bytes, bytes]], agent: str, secrets: list[str], *, seen_by: str = RELAYED
    ) -> None:
        held = [auth_parts(value.decode("latin-1"))[1] for name, value in sent if secret_header(name.decode("latin-1"))]
        # each such header's value is a secret too, scrubbed wherever it is echoed (long enough that scrubbing it is not noise)
        self.secrets = sorted({secret for secret in secrets if secret} | {secret for secret in held if len(secret) >= 8}, key=len, reverse=True)
        action = action_of(method, path)
        shown = scrub(redact_url(url), self.secrets)
        self.trace = Trace(action, method, shown, request_headers=shown_headers(sent, self.secrets), caller=agent, notes=[seen_by])
        self.began = time.monotonic()
        self.request, self.request_size = bytearray(), 0
        self.response, self.response_size = bytearray(), 0
        self.request_type = dict(sent).get(b"content-type", b"").decode("latin-1").lower()
        self.response_type = ""
        self.decoder: SSEDecoder | None = None
        self.text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.kinds = ChunkKinds()
        self.encoding = ""
        self.read = False
        self.parsed = False
        # Between the loop and the digesting thread: pieces waiting (arrival ms, bytes), and what the thread is to do next.
        self.lock = threading.Lock()
        self.waiting: deque[tuple[float, bytes]] = deque()
        self.waiting_size = 0
        self.unread = 0
        self.resync = False
        self.seeking = False
        self.queued = False
        self.end_ms: float | None = None
        self.finished = False
        self.woken_ms = 0.0
        self.ending: tuple[str, dict[str, Any] | None, Callable[[Trace], None]] | None = None
        self.told_at = 0.0
        self.progress: Callable[[Trace], None] | None = None
        self.awake = False

    @property
    def ms(self) -> float:
        return (time.monotonic() - self.began) * 1000

    def took(self, chunk: bytes) -> None:
        """A piece of the request's body, on its way to the upstream."""
        self.request_size += len(chunk)
        if len(self.request) < KEPT:
            self.request += chunk[: KEPT - len(self.request)]

    def sent(self) -> None:
        """The request's body is all read: it becomes the trace's request body, and the gentle call (on the digesting thread if there is one,
        once the call has run QUIET_START seconds)."""
        self.read = True
        if self.progress is None:
            self._parse_request()
        elif self.awake:
            self._wake()

    def awaken(self) -> None:
        """The call has run QUIET_START seconds: its request is read from now on as soon as it is whole."""
        self.awake = True
        if self.read and not self.finished:
            self._wake()

    def _parse_request(self) -> None:
        if self.parsed or not self.read:
            return
        trace = self.trace
        self.parsed = True
        trace.request_body = self.body_of(bytes(self.request), self.request_size, self.request_type, "")
        if isinstance(trace.request_body, dict) and trace.request_body.get("stream") is True:
            trace.stream = True
        trace.gentle = gentle_of(trace.action, trace.request_body)

    def answered(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """The upstream's status and headers arrived."""
        trace = self.trace
        trace.status, trace.ttfb_ms = status, self.ms
        trace.response_headers = shown_headers(headers, self.secrets)
        found = {name.lower(): value.decode("latin-1").lower() for name, value in headers}
        self.encoding = found.get(b"content-encoding", "").strip()
        self.response_type = found.get(b"content-type", "")
        if self.response_type.startswith("text/event-stream"):
            trace.stream = True
            self.decoder = SSEDecoder()

    def gave(self, chunk: bytes) -> None:
        """A piece of the answer, on its way to the program: a stream's is noted for the digesting thread, when there is one."""
        self.response_size += len(chunk)
        if self.decoder is None or self.encoding:
            if len(self.response) < KEPT:
                self.response += chunk[: KEPT - len(self.response)]
            return
        if self.progress is None:
            self._frames(self.decoder.feed(self.text.decode(chunk)), self.ms)
            return
        at = self.ms
        with self.lock:
            self.waiting.append((at, chunk))
            self.waiting_size += len(chunk)
            while self.waiting_size > BEHIND and len(self.waiting) > 1:
                _, dropped = self.waiting.popleft()
                self.waiting_size -= len(dropped)
                self.unread += len(dropped)
                self.resync = True
            due = self.waiting_size >= DIGEST_AT or at - self.woken_ms >= PROGRESS * 1000
        if due:
            self._wake()

    def digested(self, progress: Callable[[Trace], None]) -> None:
        """Read the copy on the digesting thread from now on, telling `progress` the trace at most every PROGRESS seconds while it runs."""
        self.progress = progress
        self.told_at = time.monotonic()
        DIGESTER.live.add(self)

    def finish(self, told: Callable[[Trace], None], state: str = "done", error: dict[str, Any] | None = None) -> None:
        """The call is over: once the digesting thread has read all of it, `told` gets the ended trace (there, not on the caller's loop)."""
        with self.lock:
            self.ending, self.finished = (state, error, told), True
            self.end_ms = self.ms
        self._wake()

    def _wake(self) -> None:
        with self.lock:
            self.woken_ms = self.ms
            if self.queued:
                return
            self.queued = True
        DIGESTER.put(self)

    def digest(self) -> None:
        """On the digesting thread: read what has come since last time, and tell what there is to tell."""
        with self.lock:
            ending, self.ending, self.queued = self.ending, None, False
            due = ending is not None or self.waiting_size >= DIGEST_AT or time.monotonic() - self.told_at >= PROGRESS
            pieces: deque[tuple[float, bytes]] = deque()
            if due:  # else woken for the request alone (awaken): the stream's pieces wait, and the thread gives the loop the interpreter back
                pieces, self.waiting, self.waiting_size = self.waiting, deque(), 0
            resync, self.resync = self.resync and due, self.resync and not due
        try:
            self._read(pieces, resync)
        finally:  # a call whose bytes could not be read is still told as ended
            if ending is not None:
                DIGESTER.live.discard(self)
                state, error, told = ending
                told(self.ended(state, error))
            elif self.progress is not None and time.monotonic() - self.told_at >= PROGRESS:
                self.told_at = time.monotonic()
                self.progress(self.trace)

    def _read(self, pieces: deque[tuple[float, bytes]], resync: bool) -> None:
        self._parse_request()
        if self.decoder is not None and not self.encoding:
            if resync:
                self.decoder, self.text = SSEDecoder(), codecs.getincrementaldecoder("utf-8")(errors="replace")
                self.seeking = True
            for at, chunk in pieces:
                text = self.text.decode(chunk)
                if self.seeking:
                    found = EVENT_END.search(text)
                    if found is None:
                        continue
                    text, self.seeking = text[found.end() :], False
                self._frames(self.decoder.feed(text), at)

    def _frames(self, events: list[Any], at: float) -> None:
        frames = self.trace.frames
        for event in events:
            data = scrub(event.data, self.secrets)
            frames.append((at, data))
            if '"usage"' in data:
                self._usage(data)
        if len(frames) > FRAMES_FIRST + FRAMES_LAST + 500:  # cut in batches: one slice per 500 frames, not one per frame
            cut = len(frames) - FRAMES_LAST
            self.trace.leave_out([self._kind(data) for _, data in frames[FRAMES_FIRST:cut]])
            del frames[FRAMES_FIRST:cut]

    def _kind(self, data: str) -> str:
        if self.kinds.inline == "answer" and '"type"' not in data and "tool_calls" not in data and "reasoning" not in data:
            if ANSWER_PIECE.search(data):  # a plain piece of the answer, the most of any long stream: known without parsing it
                return "answer"
        kind = frame_type(data)
        if kind or self.trace.action != Gentle.think:
            return kind
        try:
            return self.kinds.of(json.loads(data))
        except (ValueError, RecursionError):
            return ""

    def _usage(self, data: str) -> None:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):  # a frame nested too deep for json is kept as text, its usage unread
            return
        for holder in (value, value.get("response") if isinstance(value, dict) else None):
            usage = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(usage, dict):
                self.trace.usage = usage

    def ended(self, state: str = "done", error: dict[str, Any] | None = None) -> Trace:
        """The call is over (`state` "stopped" when the program went away, "failed" when the relay could not pass it on)."""
        trace = self.trace
        trace.total_ms = self.ms if self.end_ms is None else self.end_ms
        self.read = True
        self._parse_request()
        if self.decoder is not None and not self.encoding:
            if self.unread:
                trace.notes.append(f"The relay passed on {self.unread:,} bytes in the middle of this stream without reading them for this trace.")
            self._frames(self.decoder.feed(self.text.decode(b"", final=True)) + self.decoder.close(), self.ms)
        elif self.response_size:
            trace.response_body = self.body_of(bytes(self.response), self.response_size, self.response_type, self.encoding)
            holder = trace.response_body
            if isinstance(holder, dict) and isinstance(holder.get("usage"), dict):
                trace.usage = holder["usage"]
        if error is not None:
            trace.error = error
        elif trace.status is not None and trace.status >= 400:
            message = trace.response_body.get("error") if isinstance(trace.response_body, dict) else None
            detail = message.get("message") if isinstance(message, dict) else None
            trace.error = {"type": f"HTTP {trace.status}", "title": f"The upstream answered {trace.status}.", "detail": str(detail or "")}
        trace.state = "failed" if trace.error else state  # type: ignore[assignment]
        return trace

    def body_of(self, data: bytes, size: int, kind: str, encoding: str) -> Any:
        """A body as the trace keeps it: JSON parsed, text as text, anything else (an upload, audio) said in a line."""
        if encoding:
            try:
                data = zlib.decompressobj(47).decompress(data, KEPT) if encoding in ("gzip", "deflate") else b""
            except zlib.error:
                data = b""
            if not data:
                return f"({encoding}-compressed body, {size:,} bytes, passed on as it came)"
        elif size > len(data):
            return f"({kind or 'body'}, {size:,} bytes: the first {len(data):,} were read for this trace, all were passed on)"
        if ("json" in kind or data[:1] in (b"{", b"[")) and too_many_values(data):
            # Parsing it would hold the GIL for seconds (8 MB of [[[]]]): the companion refuses such a body unparsed, and so does its record.
            return f"(JSON body, {size:,} bytes, too many values to show: passed on as it came)"
        if "json" in kind or data[:1] in (b"{", b"["):
            try:
                return json.loads(scrub(data.decode("utf-8"), self.secrets))
            except (ValueError, RecursionError):
                pass
        if kind.startswith("text/") or "json" in kind:
            return scrub(data.decode("utf-8", errors="replace"), self.secrets)
        if not data:
            return None
        return f"({kind or 'binary body'}, {size:,} bytes, passed on as it came)"


class Digester:
    """The one thread that reads the relay's copies: each Recording put here is digested in turn, off the loop that passes the bytes on."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Recording | threading.Event] = queue.SimpleQueue()
        self.live: set[Recording] = set()
        """Calls still running: each is looked at every PROGRESS seconds, so pieces that came before a pause are not left waiting."""
        self.thread: threading.Thread | None = None
        self.starting = threading.Lock()

    def put(self, recording: Recording) -> None:
        if self.thread is None:
            with self.starting:
                if self.thread is None:
                    self.thread = threading.Thread(target=self.run, daemon=True, name="guide-relay-digest")
                    self.thread.start()
        self.queue.put(recording)

    def run(self) -> None:
        while True:
            try:
                due = [self.queue.get(timeout=PROGRESS)]
            except queue.Empty:
                due = [recording for recording in list(self.live) if recording.waiting and not recording.queued]
            for recording in due:
                if isinstance(recording, threading.Event):
                    recording.set()  # drained(): all put before it is told
                    continue
                try:
                    recording.digest()
                except Exception as error:  # one call's odd bytes must not stop the record of every other call
                    recording.trace.notes.append(f"The relay could not read this call for its trace: {type(error).__name__}.")

    def drained(self, timeout: float) -> bool:
        """Whether every call put here so far has been digested and told, waiting up to `timeout` seconds: the relay asks before it
        closes the store, or a call that ended as it stopped (its ending told on this thread) stayed filed as running."""
        if self.thread is None:
            return True
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)


DIGESTER = Digester()
