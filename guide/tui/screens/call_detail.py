"""A call, whole: the gentle call, the legacy request and response, timings, snippets."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, TabbedContent, TabPane, TextArea

from guide.safe_text import one_line, visible

if TYPE_CHECKING:
    from guide.client import Trace

FRAMES_SHOWN = 8


def pretty(value: Any) -> str:
    """JSON as people read it; text as it is."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


def headers_text(headers: dict[str, str]) -> str:
    """Headers one per line."""
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def frames_text(trace: Trace) -> str:
    """The SSE frames with arrival times; a long stream shows its ends and a count."""
    frames = trace.frames
    lines = [f"{at:8.1f} ms  data: {data}" for at, data in frames]
    if len(lines) > 2 * FRAMES_SHOWN:
        hidden = len(lines) - 2 * FRAMES_SHOWN
        lines = [*lines[:FRAMES_SHOWN], f"          … {hidden:,} more frames …", *lines[-FRAMES_SHOWN:]]
    return f"{len(frames):,} frames\n" + "\n".join(lines)


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


def request_text(trace: Trace) -> str:
    """The legacy request: method, full URL, headers (key redacted), body."""
    body = pretty(trace.request_body)
    return f"{trace.method} {trace.url}\n\n{headers_text(trace.request_headers)}\n\n{body}".rstrip()


def response_text(trace: Trace) -> str:
    """Status, headers and body (or the stream's frames), and any error."""
    parts = [f"HTTP {trace.status}" if trace.status is not None else "(no answer)"]
    if trace.response_headers:
        parts.append(headers_text(trace.response_headers))
    if trace.stream and trace.frames:
        parts.append(frames_text(trace))
    elif trace.response_body is not None:
        parts.append(pretty(trace.response_body))
    if trace.error:
        parts.append("The raw legacy error:\n" + pretty(trace.error.get("body")))
    return "\n\n".join(parts)


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


class CallDetail(ModalScreen[None]):
    """One call, whole. c copies what the open tab shows."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="close"),
        Binding(
            "c", "copy", "Copy this tab", id="copy", tooltip="Copy the open tab to the clipboard (OSC 52) and to clipboard.txt in the data folder"
        ),
    ]

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace
        self.texts = {
            "gentle": gentle_text(trace),
            "request": request_text(trace),
            "response": response_text(trace),
            "timings": timings_text(trace) + ("\n\n" + "\n".join(trace.notes) if trace.notes else ""),
            "curl": trace.as_curl(),
            "python": trace.as_python(),
            "node": trace.as_node(),
        }

    def compose(self) -> ComposeResult:
        with Vertical(id="call-detail"):
            title = self.trace.summary()
            if self.trace.error:
                title += f" — {self.trace.error.get('title', '')}"
            yield Label(one_line(title), id="call-title", classes="failed" if self.trace.state == "failed" else "", markup=False)
            with TabbedContent(id="call-tabs"):
                for key, label in (
                    ("gentle", "Gentle call"),
                    ("request", "Request"),
                    ("response", "Response"),
                    ("timings", "Timings"),
                    ("curl", "curl"),
                    ("python", "Python"),
                    ("node", "Node"),
                ):
                    with TabPane(label, id=f"tab-{key}"):
                        # Unwrapped, read-only, scrolling both ways: what is selected on screen is the
                        # text's own lines (valid JSON, a curl that runs), and the last line is reachable.
                        yield TextArea(
                            visible(self.texts[key]),
                            id=f"text-{key}",
                            classes="code",
                            read_only=True,
                            soft_wrap=False,
                            compact=True,
                            highlight_cursor_line=False,
                        )
        yield Footer()

    def action_copy(self) -> None:
        active = self.query_one("#call-tabs", TabbedContent).active.removeprefix("tab-")
        from guide.tui.clipboard import copy

        copy(self.app, self.texts[active], f"the {active} tab")
