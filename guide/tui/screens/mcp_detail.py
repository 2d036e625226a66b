"""An MCP exchange, whole: every JSON-RPC message both ways with its time, the request, the response, the tool's content
parts, and how it went (all from a program guide does not control: shown as safe symbols)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, TabbedContent, TabPane, TextArea

from guide.safe_text import one_line
from guide.tui.screens.call_detail import on_screen

if TYPE_CHECKING:
    from guide.client import Trace


def pretty(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False, indent=2)


def exchange_text(trace: Trace) -> str:
    """How it went: the outcome, the timings, the server, any error."""
    lines = [trace.summary(), ""]
    if trace.ttfb_ms is not None:
        lines.append(f"starting the server: {trace.ttfb_ms:.0f} ms (its first call)")
    if trace.total_ms is not None:
        lines.append(f"in all: {trace.total_ms:.0f} ms")
    if trace.error:
        lines += ["", str(trace.error.get("detail", ""))]
    return "\n".join([*lines, "", *trace.notes])


def messages_text(trace: Trace) -> str:
    """Each message as it crossed: `+12.3 ms → sent` and its JSON."""
    lines = []
    for at, data in trace.frames:
        try:
            message = json.loads(data)
        except ValueError:
            message = data
        direction = message.pop("direction", "") if isinstance(message, dict) else ""
        lines += [f"+{at:.1f} ms {'→ sent' if direction == 'sent' else '← received'}", pretty(message), ""]
    if trace.frames_left_out:
        lines.append(f"… {trace.frames_left_out:,} more messages not kept")
    return "\n".join(lines) or "(no message crossed: the server did not start)"


def parts_text(trace: Trace) -> str:
    """The tool's content parts, as the server gave them."""
    body = trace.response_body if isinstance(trace.response_body, dict) else {}
    result = body.get("result") if isinstance(body.get("result"), dict) else None
    return pretty(result.get("content")) if result else "(no result)"


TABS = (("exchange", "Exchange"), ("request", "Request"), ("response", "Response"), ("content", "Content"), ("messages", "All messages"))


class McpDetail(ModalScreen[None]):
    """One MCP exchange, whole."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="close")]

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace
        self.texts = {
            "exchange": exchange_text(trace),
            "request": pretty(trace.request_body),
            "response": pretty(trace.response_body),
            "content": parts_text(trace),
            "messages": messages_text(trace),
        }

    def compose(self) -> ComposeResult:
        with Vertical(id="call-detail"):
            yield Label(one_line(self.trace.summary()), id="call-title", classes="failed" if self.trace.state == "failed" else "", markup=False)
            with TabbedContent(id="mcp-tabs"):
                for key, label in TABS:
                    with TabPane(label, id=f"tab-{key}"):
                        yield TextArea(on_screen(self.texts[key]), id=f"text-{key}", classes="code", read_only=True, soft_wrap=False, compact=True)
        yield Footer()
