"""Replay with edits: the request body in an editor, checked against the spec before it is sent again.

ctrl+s checks the body: each problem is named with its field path and the
spec's own words, and ctrl+s again (the body unchanged) sends it anyway, to
see what the server says. ctrl+t flips `stream` for think and continue.
Moving in the editor shows what the spec says of the field under the cursor.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static, TextArea

from guide.safe_text import one_line, visible

if TYPE_CHECKING:
    from guide.client import Trace

STREAMS = ("think", "continue")
"""The actions whose answer can come as a stream."""
PROBLEMS_SHOWN = 6


def editable(trace: Trace) -> str | None:
    """Why this call cannot be replayed with edits, or None."""
    if trace.action in ("listen", "interpret"):
        return f"{trace.action} sends an audio file as multipart/form-data, not a JSON body; run it again with /{trace.action} FILE."
    if not isinstance(trace.request_body, dict):
        return f"{trace.action} ({trace.method} {trace.path}) has no JSON body to edit."
    return None


def flipped(body: dict[str, Any]) -> dict[str, Any]:
    """The body with `stream` turned the other way (stream_options goes with it: the spec allows it only on a stream)."""
    flipped = dict(body)
    if flipped.get("stream") is True:
        flipped.pop("stream")
        flipped.pop("stream_options", None)
    else:
        flipped["stream"] = True
        flipped.setdefault("stream_options", {"include_usage": True})
    return flipped


class ReplayEditor(ModalScreen[dict[str, Any] | None]):
    """The request body to edit; it dismisses with the body to send, or None."""

    BINDINGS = [
        Binding("escape", "dismiss", "Cancel", id="cancel"),
        Binding("ctrl+s", "send", "Check and send", id="send", priority=True),
        Binding("ctrl+t", "flip_stream", "Flip stream", id="flip-stream", priority=True),
    ]

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace
        self.checked: str | None = None
        """The text last checked and found wanting: sending it again, unchanged, sends it anyway."""

    def compose(self) -> ComposeResult:
        with Vertical(id="replay"):
            yield Label(one_line(f"Replay {self.trace.action} → {self.trace.method} {self.trace.path} with your edits"), id="replay-title")
            yield TextArea.code_editor(
                json.dumps(self.trace.request_body, indent=2, ensure_ascii=False), language="json", id="replay-body", soft_wrap=True
            )
            yield Static("", id="replay-problems", markup=False)
            yield Static(self.hint(), id="replay-help", markup=False)
        yield Footer()

    def hint(self) -> str:
        flip = " · ctrl+t flips stream" if self.trace.action in STREAMS else ""
        return f"ctrl+s checks the body against the spec and sends it{flip} · Esc cancels"

    def on_mount(self) -> None:
        self.query_one("#replay-body", TextArea).focus()

    def body(self) -> tuple[dict[str, Any] | None, str]:
        """The editor's JSON object, or None with why not."""
        text = self.query_one("#replay-body", TextArea).text
        try:
            value = json.loads(text)
        except ValueError as error:
            return None, f"This is not JSON yet: {error}."
        if not isinstance(value, dict):
            return None, "The body must be a JSON object: { … }."
        return value, ""

    def action_send(self) -> None:
        from guide.learn.spec import check

        body, why = self.body()
        problems = self.query_one("#replay-problems", Static)
        if body is None:
            problems.update(why)
            return
        text = self.query_one("#replay-body", TextArea).text
        found = check(self.trace.action, body)
        if found and self.checked != text:
            self.checked = text
            lines = [f"{p.path or '(the body)'}: {p.message}" for p in found[:PROBLEMS_SHOWN]]
            if len(found) > PROBLEMS_SHOWN:
                lines.append(f"… and {len(found) - PROBLEMS_SHOWN} more.")
            count = "1 problem" if len(found) == 1 else f"{len(found)} problems"
            lines.append(f"The spec finds {count}. Fix it and ctrl+s, or ctrl+s again to send it as it is and see what the server says.")
            problems.update(visible("\n".join(lines)))
            problems.add_class("problems")
            return
        self.dismiss(body)

    def action_flip_stream(self) -> None:
        if self.trace.action not in STREAMS:
            self.notify(f"Only think and continue stream; {self.trace.action} answers in one piece.", timeout=4)
            return
        body, why = self.body()
        if body is None:
            self.query_one("#replay-problems", Static).update(f"{why} Fix it before flipping stream.")
            return
        editor = self.query_one("#replay-body", TextArea)
        editor.load_text(json.dumps(flipped(body), indent=2, ensure_ascii=False))
        now = "on: the answer comes as SSE frames" if flipped(body).get("stream") else "off: the answer comes as one JSON body"
        self.query_one("#replay-problems", Static).update(f"stream is {now}.")

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        from guide.learn.spec import explain
        from guide.tui.screens.call_detail import FIELD_HINT, dotted, path_near

        editor = event.text_area
        row, column = event.selection.end
        lines = editor.text.split("\n")
        offset = sum(len(line) + 1 for line in lines[:row]) + column
        path = path_near(editor.text, offset)
        help_line = self.query_one("#replay-help", Static)
        if path is None:
            help_line.update(self.hint())
            return
        found = explain(self.trace.action, "request", path)
        help_line.update(visible(found.text()) if found else f"{dotted(path) or 'the body'}: the spec defines no such field here. {FIELD_HINT}")
