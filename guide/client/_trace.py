"""Trace: what one call sent and received, with its timings. Plain data, filled in as the call goes; subscribers
(`on_trace`) receive it as it starts and as it ends. The key is never in it: the Authorization header is redacted
before it is recorded, and any echo of the key in a reply is scrubbed."""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from ._map import ACTIONS, API_VERSION, Action, Gentle

State = Literal["running", "done", "failed", "stopped"]
FRAMES_FIRST = 1000
FRAMES_LAST = 1000
"""The frames of a stream a trace keeps: the first and the last. Those between are counted by kind, not kept: a
stream of millions of tiny events would otherwise be kept whole, and filed whole."""
KINDS_COUNTED = 24
"""Kinds of left-out frames counted by name (a respond event's type is the server's to choose); the rest count as one."""
OTHER_KINDS = "(other kinds)"
OFF_MAP = "not one of guide's gentle actions"
"""The action of a call the relay passed on whose path is not on the map (files, batches, anything): it shows as itself."""
KEPT_DEPTH = 200
"""The deepest a body is kept in the store: copying or writing one nested hundreds deep exhausts Python's recursion."""


def nested_past(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


@dataclass(slots=True, eq=False)
class Trace:
    """One call: the gentle action, the legacy request, the reply, the timings."""

    action: str
    """The gentle action's name ("think"): a str, since a trace read back from the store is what was written."""
    method: str
    url: str
    """The full legacy URL, version included, with any credentials in it redacted."""
    gentle: str = ""
    """The gentle call as Python: `ai.think("Hello")`."""
    request_headers: dict[str, str] = field(default_factory=dict)
    """Headers as sent, with the key redacted."""
    request_body: Any = None
    """The JSON body, or the form fields with files summarised."""
    request_files: dict[str, str] = field(default_factory=dict)
    """Multipart file fields: field name → file name."""
    stream: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.time)
    """When the call started, seconds since the epoch."""
    state: State = "running"
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    """Parsed JSON, text, or a summary of binary content."""
    frames: list[tuple[float, str]] = field(default_factory=list)
    """For a stream: each SSE frame's data with its arrival in ms from the start (of a long one, the first and the last)."""
    frames_left_out: int = 0
    """Frames of a long stream between the first FRAMES_FIRST and the last FRAMES_LAST: counted, not kept."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Those frames by kind: a respond event's type; for a chunk, reasoning, answer, tool_calls or "" (`ChunkKinds`)."""
    ttfb_ms: float | None = None
    """Time to the response headers, in ms."""
    total_ms: float | None = None
    usage: dict[str, Any] | None = None
    retries: int = 0
    error: dict[str, Any] | None = None
    """The failure: type, title, hint, detail, status and the raw legacy body."""
    notes: list[str] = field(default_factory=list)
    caller: str = ""
    """Who made the call, as its User-Agent says, when another program made it (seen through the relay); "" for guide's own."""

    @property
    def mapping(self) -> Action:
        """The row of the map this call belongs to; for a call off the map (an MCP exchange, another program's call), a row
        made of its own method and path, under its own name."""
        row = ACTIONS.get(self.action)
        if row is not None:
            return row
        path = self.path
        prefix = f"/{API_VERSION}"
        return Action(cast("Gentle", self.action), self.method, path[len(prefix) :] if path.startswith(prefix + "/") else path, "post", OFF_MAP)

    @property
    def on_map(self) -> bool:
        """Whether the call is one of guide's gentle actions (an MCP exchange, say, is not)."""
        return self.action in ACTIONS

    @property
    def path(self) -> str:
        """The URL's path: what the mapping panel shows."""
        rest = self.url.split("?", 1)[0].split("://", 1)[-1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"

    @property
    def tokens(self) -> int | None:
        """Tokens the call used, where the server said."""
        if not self.usage:
            return None
        total = self.usage.get("total_tokens")
        if isinstance(total, int):
            return total
        parts = [v for k, v in self.usage.items() if k.endswith("_tokens") and isinstance(v, int)]
        return sum(parts) if parts else None

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over the time the reply took, where known."""
        if not self.usage or not self.total_ms:
            return None
        out = self.usage.get("completion_tokens", self.usage.get("output_tokens"))  # respond's usage says output_tokens
        if not isinstance(out, int) or not out:
            return None
        return out / (self.total_ms / 1000)

    @property
    def frame_count(self) -> int:
        """How many frames the stream had, kept or not."""
        return len(self.frames) + self.frames_left_out

    def events(self) -> list[tuple[float, str, str]]:
        """A stream's kept frames as typed events: (ms, type, data). respond's events name their type; a chunk's type is ""."""
        return [(at, frame_type(data), data) for at, data in self.frames]

    def leave_out(self, kinds: list[str]) -> None:
        """Count frames that are not kept, by kind (KINDS_COUNTED kinds by name, the rest as one)."""
        from collections import Counter

        self.frames_left_out += len(kinds)
        counts = self.left_out
        for kind, count in Counter(kinds).items():
            kind = kind[:80]
            if kind not in counts and len(counts) >= KINDS_COUNTED:
                kind = OTHER_KINDS
            counts[kind] = counts.get(kind, 0) + count

    def snapshot(self) -> Trace:
        """A copy to hand to another thread (the store's writer builds the record there, off the UI loop).

        Its lists and headers are its own; the bodies are shared, as nothing changes them once the call has ended.
        """
        return replace(
            self,
            frames=list(self.frames),
            notes=list(self.notes),
            left_out=dict(self.left_out),
            request_headers=dict(self.request_headers),
            response_headers=dict(self.response_headers),
        )

    def summary(self) -> str:
        """One line: `think → POST /v1/chat/completions · 200 · 1.2 s · 143 tok`."""
        if self.action == "mcp":  # an MCP server's exchange (guide.mcp): `mcp lakes → tools/call lake_depth · ok · 12 ms`
            return self._mcp_summary()
        parts = [f"{self.action} → {self.method} {self.path}"]
        if self.status is not None:
            parts.append(str(self.status))
        elif self.state == "failed" and self.error:
            parts.append(str(self.error.get("type", "failed")))
        if self.total_ms is not None:
            parts.append(self._took())
        elif self.state == "running":
            parts.append("…")
        if self.tokens is not None:
            parts.append(f"{self.tokens} tok")
        if self.state == "stopped":
            parts.append("stopped")
        if self.caller:
            parts.append(self.caller)
        return " · ".join(parts)

    def _mcp_summary(self) -> str:
        params = self.request_body.get("params") if isinstance(self.request_body, dict) else None
        tool = params.get("name") if isinstance(params, dict) and isinstance(params.get("name"), str) else ""
        outcome = str(self.error.get("type", "failed")) if self.error else ("ok" if self.state == "done" else self.state)
        took = "" if self.total_ms is None else f" · {self._took()}"
        return f"mcp {self.url.removeprefix('mcp://')} → {self.method} {tool}".rstrip() + f" · {outcome}{took}"

    def _took(self) -> str:
        ms = self.total_ms or 0.0
        return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"

    def as_curl(self) -> str:
        """The same request as a curl command (the key as $OPENAI_API_KEY)."""
        from ._snippets import curl

        return curl(self)

    def as_python(self) -> str:
        """The same request with the official openai-python SDK."""
        from ._snippets import python

        return python(self)

    def as_node(self) -> str:
        """The same request with the official openai-node SDK."""
        from ._snippets import node

        return node(self)

    def to_dict(self) -> dict[str, Any]:
        """The trace as JSON-ready data (for the store and exports); a body nested past KEPT_DEPTH is kept as a note saying so."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("request_body", "response_body", "error", "usage"):
            if nested_past(data[name], KEPT_DEPTH):
                data[name] = f"(nested more than {KEPT_DEPTH} levels deep: not kept; it was shown when it came)"
        data = copy.deepcopy(data)  # no list or dict shared with the live trace
        data["frames"] = [list(frame) for frame in self.frames]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Rebuild a trace from `to_dict()` output."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["frames"] = [(float(ms), str(text)) for ms, text in known.get("frames", [])]
        return cls(**known)


def frame_type(data: str) -> str:
    """The `type` a streamed frame's JSON names (respond's events all do: `response.output_text.delta`), else ""."""
    if '"type"' not in data:
        return ""
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return ""
    kind = parsed.get("type") if isinstance(parsed, dict) else None
    return kind if isinstance(kind, str) else ""


class ChunkKinds:
    """What each chat chunk carried: "reasoning", "answer", "tool_calls", or "" (usage, the end, anything else).

    Reasoning is a `reasoning_content` or `reasoning` delta, or content inside a `<think>` that opens the reply, followed chunk by chunk.
    The reader counts the frames it leaves out by these kinds; the call detail marks those it shows.
    """

    __slots__ = ("inline",)

    def __init__(self) -> None:
        self.inline = "start"

    def of(self, chunk: Any) -> str:
        """The kind of this chunk (parsed), the chunks before it given in order."""
        try:
            delta = chunk["choices"][0]["delta"]  # one lookup per frame: this runs on the hot path of a stream
        except (KeyError, IndexError, TypeError):
            return ""
        if type(delta) is not dict:
            return ""
        if delta.get("tool_calls"):
            return "tool_calls"
        if delta.get("reasoning_content") or delta.get("reasoning"):
            return "reasoning"
        content = delta.get("content")
        if not content or type(content) is not str:
            return ""
        if self.inline == "answer":
            return "answer"
        if self.inline == "start" and content.strip():
            self.inline = "inside" if content.lstrip().startswith("<think>") else "answer"
        kind = "reasoning" if self.inline == "inside" else "answer"
        if self.inline == "inside" and "</think>" in content:
            self.inline = "answer"
        return kind
