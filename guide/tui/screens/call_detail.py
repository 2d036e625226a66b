"""A call, whole: the gentle call, the legacy request and response, timings, snippets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, TabbedContent, TabPane, TextArea

from guide.safe_text import one_line, visible
from guide.wire_text import gentle_text, request_text, response_text, timings_text

if TYPE_CHECKING:
    from guide.client import Trace


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
