"""A call as text (the call detail's tabs, `guide tour`): the legacy request and response, the frames, the timings. Headless."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guide.client import Trace

FRAMES_SHOWN = 8
LIST_SHOWN = 6
"""Items a shortened list keeps (a vector of 576 numbers shows its first few)."""
TEXT_SHOWN = 240
"""Characters a shortened string keeps (a picture in base64 shows its start)."""


def pretty(value: Any, *, short: bool = False) -> str:
    """JSON as people read it; text as it is. `short` cuts long lists and strings, saying how much is left out."""
    if isinstance(value, (dict, list)):
        return json.dumps(shortened(value) if short else value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


def shortened(value: Any) -> Any:
    """The value with long lists and strings cut, each cut saying what it left out."""
    if isinstance(value, dict):
        return {key: shortened(item) for key, item in value.items()}
    if isinstance(value, list):
        kept = [shortened(item) for item in value[:LIST_SHOWN]]
        return [*kept, f"… {len(value) - LIST_SHOWN:,} more"] if len(value) > LIST_SHOWN else kept
    if isinstance(value, str) and len(value) > TEXT_SHOWN:
        return f"{value[:TEXT_SHOWN]}… ({len(value):,} characters)"
    return value


def headers_text(headers: dict[str, str]) -> str:
    """Headers one per line."""
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def frame_kinds(frames: list[tuple[float, str]]) -> list[str]:
    """What each frame carried: "reasoning" (a `reasoning_content` or `reasoning` delta, or content inside a `<think>`
    that opens the reply, followed as the client does), "answer", "tool_calls", or "" (usage, the end, anything else)."""
    from guide.client.internal import ChunkKinds

    kinds = ChunkKinds()
    out: list[str] = []
    for _, data in frames:
        try:
            chunk = json.loads(data) if data.startswith("{") else None
        except (ValueError, RecursionError):
            chunk = None
        out.append(kinds.of(chunk))
    return out


MARKS = {"reasoning": "reasoning ", "answer": "answer    ", "tool_calls": "tool_calls", "": "          "}
"""Each frame's mark in the call detail, of one width so the frames line up."""
CHUNK_KINDS = ("reasoning", "answer", "tool_calls")


def frames_text(trace: Trace) -> str:
    """The SSE frames with arrival times, each marked with what it carried (respond's typed events with their type);
    a long stream shows its ends and a count (and, past what a trace keeps, the kinds of the frames it left out)."""
    frames = trace.frames
    typed = trace.mapping.reads == "response"
    kinds = [""] * len(frames) if typed else frame_kinds(frames)
    left = {} if typed else trace.left_out
    marked = bool((set(kinds) | set(left)) - {"", "answer"})  # a plain reply's frames are all answer: shown as they were
    shown = list(enumerate(frames))
    hidden = len(frames) - 2 * FRAMES_SHOWN
    if hidden > 0:
        shown = shown[:FRAMES_SHOWN] + shown[-FRAMES_SHOWN:]
    from guide.client.internal import frame_type

    lines = []
    for index, (at, data) in shown:
        if hidden > 0 and index == len(frames) - FRAMES_SHOWN:
            lines.append(f"          … {hidden + trace.frames_left_out:,} more {'events' if typed else 'frames'} …")
            if trace.frames_left_out:
                lines.append(f"          ({left_out_text(trace)})")
        if typed:
            lines.append(f"{at:8.1f} ms  event: {frame_type(data) or '(no type)'}")
            lines.append(f"           data: {data}")
        else:
            lines.append(f"{at:8.1f} ms  {MARKS[kinds[index]] + '  ' if marked else ''}data: {data}")
    counted = [f"{kinds.count(kind) + left.get(kind, 0):,} {kind}" for kind in CHUNK_KINDS if kind in kinds or left.get(kind)]
    total = trace.frame_count
    noun = ("typed event" if typed else "frame") + ("" if total == 1 else "s")
    head = f"{total:,} {noun}" + (f" ({', '.join(counted)})" if marked else "")
    return head + "\n" + "\n".join(lines)


def left_out_text(trace: Trace) -> str:
    """The frames a trace did not keep, by kind: `2,998,000 of them not kept, only counted by kind: 2,997,990 answer, 10 other`."""
    typed = trace.mapping.reads == "response"
    noun, unnamed = ("event type", "(no type)") if typed else ("kind", "other")
    ranked = sorted(trace.left_out.items(), key=lambda item: -item[1])
    counts = ", ".join(f"{count:,} {kind or unnamed}" for kind, count in ranked)
    return f"{trace.frames_left_out:,} of them not kept, only counted by {noun}: {counts}"


def tool_round(trace: Trace) -> tuple[bool, list[str]]:
    """Whether the call sent tool results back, and the tool calls its reply asked for (`now()`)."""
    body = trace.request_body
    messages = body.get("messages") if isinstance(body, dict) else None
    back = isinstance(messages, list) and bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
    if not isinstance(body, dict) or not body.get("tools") or trace.state == "running":
        return back, []
    from guide.client import ToolCall

    calls: dict[int, list[str]] = {}
    if trace.stream:
        for _, data in trace.frames:
            if '"tool_calls"' not in data:
                continue
            try:
                deltas = json.loads(data)["choices"][0]["delta"]["tool_calls"]
                for position, item in enumerate(deltas):
                    function = item.get("function") or {}
                    call = calls.setdefault(item.get("index", position) if isinstance(item.get("index"), int) else position, ["", ""])
                    arguments = function.get("arguments")
                    call[0] = function.get("name") or call[0]
                    call[1] += arguments if isinstance(arguments, str) else ""
            except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
                continue
    else:
        try:
            for position, item in enumerate(trace.response_body["choices"][0]["message"].get("tool_calls") or []):
                function = item.get("function") or {}
                arguments = function.get("arguments")
                calls[position] = [str(function.get("name") or ""), arguments if isinstance(arguments, str) else json.dumps(arguments or {})]
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
    return back, [ToolCall("", name, arguments).shown() for name, arguments in calls.values() if name]


def timings_text(trace: Trace) -> str:
    """Time to first byte, total, tokens and tokens per second."""
    rows = [
        ("time to first byte", f"{trace.ttfb_ms:.0f} ms" if trace.ttfb_ms is not None else "—"),
        ("first frame", f"{trace.frames[0][0]:.0f} ms" if trace.frames else "—"),
        ("total", f"{trace.total_ms / 1000:.2f} s" if trace.total_ms is not None else "running…"),
        ("tokens", str(trace.tokens) if trace.tokens is not None else "not reported"),
        ("tokens per second", f"{trace.tokens_per_second:.1f}" if trace.tokens_per_second else "—"),
        ("retries", str(trace.retries)),
    ]
    return "\n".join(f"{name:<20} {value}" for name, value in rows)


Section = tuple[str, str | None]
"""A stretch of a call's text and which part of the spec explains it ("request", "response", "chunk", "error"), if any."""


def request_sections(trace: Trace) -> list[Section]:
    """The legacy request as sections: method and URL, headers (key redacted), the body."""
    sections: list[Section] = [(f"{trace.method} {trace.url}", None), (headers_text(trace.request_headers), None)]
    if trace.request_body is not None:
        sections.append((pretty(trace.request_body), "request"))
    return sections


def response_sections(trace: Trace, *, short: bool = False, headers: bool = True) -> list[Section]:
    """Status, headers and body (or the stream's frames), and any error, as sections."""
    sections: list[Section] = [(f"HTTP {trace.status}" if trace.status is not None else "(no answer)", None)]
    if headers and trace.response_headers:
        sections.append((headers_text(trace.response_headers), None))
    failed = trace.status is not None and trace.status >= 400
    if trace.stream and trace.frames:
        sections.append((frames_text(trace), "chunk"))
    elif trace.response_body is not None:
        json_body = isinstance(trace.response_body, (dict, list))  # text, HTML or a summary of bytes is not the spec's to explain
        sections.append((pretty(trace.response_body, short=short), ("error" if failed else "response") if json_body else None))
    if trace.error:
        raw = trace.error.get("body")
        sections.append(("The raw legacy error:\n" + pretty(raw), "error" if isinstance(raw, (dict, list)) else None))
    return sections


def joined(sections: list[Section]) -> str:
    """Sections as one text, a blank line between them."""
    return "\n\n".join(text for text, _ in sections if text).rstrip()


def request_text(trace: Trace) -> str:
    """The legacy request: method, full URL, headers (key redacted), body."""
    return joined(request_sections(trace))


def response_text(trace: Trace, *, short: bool = False, headers: bool = True) -> str:
    """Status, headers and body (or the stream's frames), and any error; `short` cuts long lists and strings."""
    return joined(response_sections(trace, short=short, headers=headers))


def gentle_text(trace: Trace) -> str:
    """The gentle call, what it maps to, and how it went, at a glance."""
    row = trace.mapping
    lines = [trace.gentle, "", f"# {row.name} → {row.endpoint}   (openai SDK: client.{row.sdk_call})", f"# {row.meaning}", "", timings_text(trace)]
    if trace.error:
        lines += ["", f"{trace.error.get('title', '')} {trace.error.get('detail', '')}".strip(), str(trace.error.get("hint", ""))]
    return "\n".join(lines)
