"""One MCP exchange as plain data: the JSON-RPC messages both ways, the tool's content parts, the timings. Headless.

It is filed as a call (tools.as_trace): the calls panel shows it and the store keeps it with the conversation. Every
string in it came from a program guide does not control: it is shown through guide.safe_text, never written as it came.
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["running", "ok", "error", "failed"]
"""ok: the tool answered; error: it answered with an error result (isError); failed: no answer (would not start, died, hung, garbage)."""
KEPT_MESSAGES = 200
"""Messages a record keeps: a server that sends notifications without end cannot fill the store."""
KEPT_TEXT = 64_000
"""Characters of any one text in a message a record keeps (a result, a picture's data): the store keeps the messages,
and a 5 MB answer came to 20 MB there (the message, and the request and response views of the call, each whole).
What the model reads is cut apart from this (guide.client's MAX_RESULT)."""


@dataclass(slots=True, eq=False)
class McpCall:
    """One request to an MCP server (tools/call, tools/list) and everything that crossed the pipe while it ran."""

    server: str
    method: str
    """The JSON-RPC method: tools/call, tools/list."""
    tool: str = ""
    """For tools/call, the tool's name."""
    where: str = ""
    """How the server is reached: its command line or its address."""
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.time)
    outcome: Outcome = "running"
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Each JSON-RPC message as sent or received: {"at_ms", "direction": "sent" | "received", "message"}; an unreadable line as {"unreadable"}."""
    messages_left_out: int = 0
    parts: list[dict[str, Any]] = field(default_factory=list)
    """The tool's content parts as the server gave them (text, image, resource…)."""
    result_text: str = ""
    """What the model reads."""
    error: str | None = None
    """Why there was no answer, in one line (outcome failed or error)."""
    start_ms: float | None = None
    """Time spent starting the server for this call (its first), in ms."""
    total_ms: float | None = None
    stderr_tail: str = ""
    """The end of what the server wrote on stderr, when it failed: often the reason."""

    def keep(self, direction: str, message: dict[str, Any]) -> None:
        """Record one message as it crossed, with its time from the start (its long texts cut)."""
        if len(self.messages) >= KEPT_MESSAGES:
            self.messages_left_out += 1
            return
        at = round((time.time() - self.started_at) * 1000, 1)
        self.messages.append({"at_ms": at, "direction": direction, "message": bounded(message)})

    def end(self, outcome: Outcome, error: str | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.total_ms = round((time.time() - self.started_at) * 1000, 1)

    @property
    def request(self) -> dict[str, Any] | None:
        """The JSON-RPC request this call sent (the last one of its method: the handshake's come first)."""
        sent = [m["message"] for m in self.messages if m["direction"] == "sent" and m["message"].get("method") == self.method]
        return sent[-1] if sent else None

    @property
    def response(self) -> dict[str, Any] | None:
        """The JSON-RPC response to that request, if one came."""
        request = self.request
        if request is None:
            return None
        answers = [m["message"] for m in self.messages if m["direction"] == "received" and m["message"].get("id") == request.get("id")]
        return answers[-1] if answers else None

    def summary(self) -> str:
        """One line: `mcp lakes → tools/call lake_depth · ok · 12 ms`."""
        what = f"{self.method} {self.tool}".strip()
        parts = [f"mcp {self.server} → {what}", self.outcome if self.outcome != "running" else "…"]
        if self.total_ms is not None:
            parts.append(f"{self.total_ms:.0f} ms" if self.total_ms < 1000 else f"{self.total_ms / 1000:.1f} s")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (fresh copies: the store's writer may hold it on another thread)."""
        return copy.deepcopy({name: getattr(self, name) for name in self.__slots__})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> McpCall:
        """A stored record back (unknown keys ignored, so older or newer records still open)."""
        known = {name: data[name] for name in cls.__slots__ if name in data}
        return cls(**known)


def bounded(value: Any) -> Any:
    """JSON-like data with each text longer than KEPT_TEXT cut, saying how long it was; the shape (ids, methods) kept."""
    if isinstance(value, str):
        return value if len(value) <= KEPT_TEXT else f"{value[:KEPT_TEXT]}… (cut: {len(value):,} characters)"
    if isinstance(value, dict):
        return {key: bounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [bounded(item) for item in value]
    return value
