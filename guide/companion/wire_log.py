"""`guide serve --log`: the companion's side of the wire, one line per call as each one ends, e.g.

    14:02:07  127.0.0.1:51234 "OpenAI/Python 1.60.0"  think → POST /v1/chat/completions  200  0.021 s  31 tok

(the tokens the reply counted, or a stream's events). `--log full` adds the bodies, keys replaced and cut when long.
The log never changes what is sent: it reads a copy as it passes."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SHOWN = 4_000
"""Characters of each body `--log full` shows; the rest is counted, not printed."""
KEPT = 256 * 1024
"""Bytes of a body kept to read its usage and show it: a large upload is not held twice."""


def action_for(method: str, path: str) -> str:
    """`think → POST /v1/chat/completions`, or just the method and path for a route that is no action."""
    from guide.client import ACTIONS

    from .relay_trace import action_of

    action = action_of(method, path)
    return f"{action} → {ACTIONS[action].endpoint}" if action in ACTIONS else f"{method} {path}"


def usage_tokens(value: Any) -> int | None:
    """The total tokens a reply (or one of its stream events) counts."""
    if not isinstance(value, dict):
        return None
    for holder in (value, value.get("response")):
        usage = holder.get("usage") if isinstance(holder, dict) else None
        if isinstance(usage, dict):
            total = usage.get("total_tokens")
            if isinstance(total, int):
                return total
    return None


SHORTEST_SECRET = 8
"""Keys shorter than this are not looked for in the log's text: `x` or `model` as a key blanked every x and every "model"
(a real key is tens of characters; a short one is a placeholder, and the Authorization header is never printed anyway)."""


def shown(body: bytes, secrets: list[str], total: int) -> str:
    """A body as the full log prints it: secrets replaced, control characters as symbols, long ones cut."""
    from guide.client.internal import scrub
    from guide.safe_text import visible

    text = scrub(body.decode("utf-8", errors="replace"), secrets)
    cut = len(text) > SHOWN or total > len(body)
    text = visible(text[:SHOWN]).replace("\n", "\n    ")
    return text + (f"  … ({total:,} bytes in all)" if cut else "")


class Call:
    """What the log keeps of one call while it runs."""

    def __init__(self, scope: Scope) -> None:
        self.began = time.monotonic()
        self.when = time.strftime("%H:%M:%S")
        self.method = str(scope.get("method", ""))
        self.path = str(scope.get("path", ""))
        headers = {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
        self.agent = headers.get(b"user-agent", "-")
        client = scope.get("client")
        self.caller = f"{client[0]}:{client[1]}" if client else "-"
        auth = headers.get(b"authorization", "")
        self.bearer = auth.partition(" ")[2].strip() if " " in auth else auth.strip()
        self.status: int | None = None
        self.streamed = False
        self.request, self.request_size = bytearray(), 0
        self.response, self.response_size = bytearray(), 0
        self.events = 0
        self.tokens: int | None = None
        self.partial = b""

    def took(self, data: bytes) -> None:
        self.request_size += len(data)
        if len(self.request) < KEPT:
            self.request += data[: KEPT - len(self.request)]

    def gave(self, data: bytes) -> None:
        self.response_size += len(data)
        if len(self.response) < KEPT:
            self.response += data[: KEPT - len(self.response)]
        if self.streamed:
            self._events(data)

    def _events(self, data: bytes) -> None:
        """Count a stream's events as they pass, and read the usage one of them may carry."""
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()[-KEPT:]
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload and payload != b"[DONE]":
                self.events += 1
            if b'"usage"' in payload:
                try:
                    found = usage_tokens(json.loads(payload))
                except ValueError:
                    continue
                self.tokens = found if found is not None else self.tokens

    def line(self) -> str:
        """The call in one line."""
        from guide.safe_text import one_line

        seconds = time.monotonic() - self.began
        parts = [self.when, f"{self.caller} {json.dumps(one_line(self.agent)[:80])}", action_for(self.method, self.path)]
        parts += [str(self.status) if self.status is not None else "no answer", f"{seconds:.3f} s"]
        if not self.streamed and self.response:
            try:
                answer = json.loads(bytes(self.response))
            except ValueError:
                answer = None
            self.tokens = usage_tokens(answer)
            error = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(error, dict) and error.get("message"):
                parts.append(one_line(str(error["message"]))[:120])
        if self.tokens is not None:
            parts.append(f"{self.tokens} tok")
        if self.streamed:
            parts.append(f"streamed, {self.events} events")
        return "  ".join(parts)


class WireLog:
    """ASGI middleware that writes each call's line (and, in full, its bodies) when the call ends."""

    def __init__(self, app: ASGIApp, *, full: bool = False, secrets: list[str] | None = None, write: Callable[[str], None] | None = None) -> None:
        self.app, self.full = app, full
        self.secrets = [secret for secret in secrets or [] if len(secret) >= SHORTEST_SECRET]
        self.write = write or (lambda text: print(text, file=sys.stdout, flush=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = Call(scope)

        async def receiving() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                call.took(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.status = int(message["status"])
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
                call.streamed = kind.startswith(b"text/event-stream")
            elif message["type"] == "http.response.body":
                call.gave(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            self.write(self.text(call))

    def text(self, call: Call) -> str:
        """The line, and in full the bodies under it, with the call's key and the server's replaced."""
        from guide.client.internal import scrub

        secrets = [*self.secrets, call.bearer] if call.bearer and len(call.bearer) >= SHORTEST_SECRET else self.secrets
        line = scrub(call.line(), secrets)
        if not self.full:
            return line
        lines = [line]
        if call.request_size:
            lines.append("  → " + shown(bytes(call.request), secrets, call.request_size))
        if call.response_size:
            lines.append("  ← " + shown(bytes(call.response), secrets, call.response_size))
        return "\n".join(lines)
