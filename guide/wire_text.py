"""A call as text: the legacy request and response, the stream's frames, the timings. Headless.

The call detail shows these in its tabs; `guide tour` prints them.
"""

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


def frames_text(trace: Trace) -> str:
    """The SSE frames with arrival times; a long stream shows its ends and a count. respond's typed events show their type."""
    frames = trace.frames
    shown = list(enumerate(frames))
    hidden = len(frames) - 2 * FRAMES_SHOWN
    if hidden > 0:
        shown = shown[:FRAMES_SHOWN] + shown[-FRAMES_SHOWN:]
    from guide.client._trace import frame_type

    typed = trace.action == "respond"
    lines = []
    for index, (at, data) in shown:
        if hidden > 0 and index == len(frames) - FRAMES_SHOWN:
            lines.append(f"          … {hidden:,} more {'events' if typed else 'frames'} …")
        if typed:
            lines.append(f"{at:8.1f} ms  event: {frame_type(data) or '(no type)'}")
            lines.append(f"           data: {data}")
        else:
            lines.append(f"{at:8.1f} ms  data: {data}")
    return f"{len(frames):,} {'typed events' if typed else 'frames'}\n" + "\n".join(lines)


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
        sections.append((pretty(trace.response_body, short=short), "error" if failed else "response"))
    if trace.error:
        sections.append(("The raw legacy error:\n" + pretty(trace.error.get("body")), "error"))
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
    lines = [
        trace.gentle,
        "",
        f"# {row.name} → {row.endpoint}   (openai SDK: client.{row.sdk_call})",
        f"# {row.meaning}",
        "",
        timings_text(trace),
    ]
    if trace.error:
        lines += ["", f"{trace.error.get('title', '')} {trace.error.get('detail', '')}".strip(), str(trace.error.get("hint", ""))]
    return "\n".join(lines)
