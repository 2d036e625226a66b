"""Keeping secrets out of everything the client keeps: the key (and any credential in the server's address) is sent
where it must be and nowhere else. Echoed back, whole or a few characters at a time, it is replaced before the text
reaches a reply, a trace, an error or the screen."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

REDACTED = "••••"

Secrets = Sequence[str]


def redact_key(key: str) -> str:
    """A key as it may be shown: never whole, the last four only if it is long."""
    return f"{REDACTED}{key[-4:]}" if len(key) >= 16 else REDACTED


def scrub(text: str, secrets: Secrets | str | None) -> str:
    """Text with every occurrence of each secret replaced by its redacted form."""
    if not secrets:
        return text
    for secret in (secrets,) if isinstance(secrets, str) else secrets:
        if secret and secret in text:
            text = text.replace(secret, redact_key(secret))
    return text


def scrub_bytes(body: bytes, secrets: Secrets) -> bytes:
    """A raw body with each secret (as UTF-8) replaced: before it is parsed, so nothing parsed from it holds one."""
    for secret in secrets:
        raw = secret.encode()
        if raw and raw in body:
            body = body.replace(raw, redact_key(secret).encode())
    return body


def scrub_body(body: bytes, secrets: Secrets) -> bytes:
    """A raw JSON body with each secret replaced, spelt plainly or in escapes: for what reads the body itself (a probe's verdict)."""
    body = scrub_bytes(body, secrets)
    if not secrets or b"\\" not in body:
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body  # not JSON: its escapes are never decoded, so they spell nothing
    data = body.decode("utf-8", "replace")
    clean, _ = scrub_decoded(data, parsed, secrets)
    return body if clean is data else clean.encode()


def scrub_decoded(data: str, parsed: Any, secrets: Secrets) -> tuple[str, Any]:
    """A JSON text and its parsed value, with every secret its escapes spell (`"\\u0073\\u006b-…"`) replaced in both.

    The raw text was scrubbed already; what its escapes decode to was not, and every field read from the value (model,
    ids, error texts, fields kept in the trace unread) comes from the decoded form. Unchanged when no secret is there.
    """
    try:
        text = json.dumps(parsed, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return data, parsed
    if not any(secret and secret in text for secret in secrets):
        return data, parsed
    text = scrub(text, secrets)
    return text, json.loads(text)


def scrub_value(value: Any, secrets: Secrets) -> Any:
    """Parsed JSON (or text) with every secret replaced, escaped forms included."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    return scrub_decoded("", value, secrets)[1]


class StreamScrubber:
    """Text that arrives in pieces, passed on with every secret replaced, even one split across pieces.

    It holds back the end of what it has seen while that end could be the
    start of a secret; `flush` hands over the rest when the text is over.
    """

    __slots__ = ("held", "longest", "secrets")

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = tuple(s for s in secrets if s)
        self.longest = max((len(s) for s in self.secrets), default=0)
        self.held = ""

    def feed(self, text: str) -> str:
        """What may be passed on of the text so far."""
        if not self.secrets:
            return text
        text = scrub(self.held + text, self.secrets)
        keep = self._unfinished(text)
        self.held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back end: the text is over, so it cannot become a secret any more."""
        rest, self.held = self.held, ""
        return rest

    def _unfinished(self, text: str) -> int:
        """The length of the longest end of the text that begins some secret."""
        for size in range(min(len(text), self.longest - 1), 0, -1):
            tail = text[-size:]
            if any(secret.startswith(tail) for secret in self.secrets):
                return size
        return 0


def mask_spans(pieces: list[str], secrets: Secrets) -> list[str] | None:
    """The pieces with each character of a secret split across them masked, or None if none is.

    A secret whole inside one piece is already scrubbed; this finds the ones
    that only the joined text shows, so the pieces can be kept without them.
    """
    joined = "".join(pieces)
    spans = []
    for secret in secrets:
        start = joined.find(secret) if secret else -1
        while start >= 0:
            spans.append((start, start + len(secret)))
            start = joined.find(secret, start + 1)
    if not spans:
        return None
    masked = list(joined)
    for begin, end in spans:
        masked[begin:end] = "•" * (end - begin)
    out, at = [], 0
    for piece in pieces:
        out.append("".join(masked[at : at + len(piece)]))
        at += len(piece)
    return out
