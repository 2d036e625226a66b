"""What the relay keeps of one call: a Trace, filled from a copy of the bytes as they pass.

The copy is bounded: a body is read for the trace up to `KEPT` bytes (the
rest is counted), and a stream keeps its first and last frames as guide's
own calls do (`FRAMES_FIRST`, `FRAMES_LAST`), the frames between counted by
kind. Every key the call carried or the relay holds is scrubbed from what is
kept; the Authorization header is kept redacted.
"""

from __future__ import annotations

import codecs
import json
import time
import zlib
from typing import Any

from guide.client import ACTIONS, API_VERSION, Gentle, SSEDecoder, Trace, redact_key, redact_url
from guide.client.internal import FRAMES_FIRST, FRAMES_LAST, OFF_MAP, ChunkKinds, frame_type, scrub

from .limits import too_many_values

KEPT = 8 * 1024 * 1024
"""Bytes of each body read for the trace: a JSON request with a picture in it fits; a 512 MB upload is counted, not held."""
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
MAIN_FIELD = {
    Gentle.think: "messages",
    Gentle.continue_: "prompt",
    Gentle.understand: "input",
    Gentle.imagine: "prompt",
    Gentle.speak: "input",
    Gentle.discern: "input",
    Gentle.revise: "input",
    Gentle.respond: "input",
}
"""The argument each gentle call takes first, read from the request's body to write the call as guide's Python."""


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
    main = MAIN_FIELD.get(ACTIONS[action].name)
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
        self.decoder: SSEDecoder | None = None
        self.text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.kinds = ChunkKinds()
        self.encoding = ""
        self.read = False

    @property
    def ms(self) -> float:
        return (time.monotonic() - self.began) * 1000

    def took(self, chunk: bytes) -> None:
        """A piece of the request's body, on its way to the upstream."""
        self.request_size += len(chunk)
        if len(self.request) < KEPT:
            self.request += chunk[: KEPT - len(self.request)]

    def sent(self) -> None:
        """The request's body is all read: it becomes the trace's request body, and the gentle call."""
        trace = self.trace
        self.read = True
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
        """A piece of the answer, on its way to the program."""
        self.response_size += len(chunk)
        if self.decoder is not None and not self.encoding:
            self._frames(self.decoder.feed(self.text.decode(chunk)))
        elif len(self.response) < KEPT:
            self.response += chunk[: KEPT - len(self.response)]

    def _frames(self, events: list[Any]) -> None:
        frames = self.trace.frames
        at = self.ms
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
        kind = frame_type(data)
        if kind or self.trace.action != Gentle.think:
            return kind
        try:
            return self.kinds.of(json.loads(data))
        except ValueError:
            return ""

    def _usage(self, data: str) -> None:
        try:
            value = json.loads(data)
        except ValueError:
            return
        for holder in (value, value.get("response") if isinstance(value, dict) else None):
            usage = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(usage, dict):
                self.trace.usage = usage

    def ended(self, state: str = "done", error: dict[str, Any] | None = None) -> Trace:
        """The call is over (`state` "stopped" when the program went away, "failed" when the relay could not pass it on)."""
        trace = self.trace
        trace.total_ms = self.ms
        if not self.read:
            self.sent()
        if self.decoder is not None and not self.encoding:
            self._frames(self.decoder.feed(self.text.decode(b"", final=True)) + self.decoder.close())
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


def version_prefix() -> str:
    """The path every call the relay passes on starts with: `/v1/`."""
    return f"/{API_VERSION}/"
