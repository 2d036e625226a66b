"""Replay with edits: the request body in an editor, checked against the spec (ctrl+s; each problem named with its field
path and the spec's words, and ctrl+s again on the same body sends it anyway); ctrl+t flips `stream` where the answer
can stream; moving shows what the spec says of the field under the cursor."""

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
    from guide.client import Action, Trace

PROBLEMS_SHOWN = 6
DRAFTS: dict[str, str] = {}
"""Edits left with Esc, by call: e on the same call brings them back (the latest few calls only)."""
DRAFTS_KEPT = 20
PROBLEM_WIDTH = 240
"""The most of one problem shown (a 4,000-digit number is named, not printed whole)."""
LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}
"""Characters the editor takes for line breaks: inside JSON strings they are written as escapes, so the text stays the same JSON."""


def as_json(body: dict[str, Any]) -> str:
    """The body as the editor shows it: indented, and with no character the editor would break a line at."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    for char, escape in LINE_BREAKS.items():
        text = text.replace(char, escape)  # only ever inside strings: json.dumps writes no such character elsewhere
    return text


def not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number (JSON has no NaN or Infinity)")


def finite(number: str) -> float:
    value = float(number)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{number[:20]}{'…' if len(number) > 20 else ''} is too large for a number guide can send (it would go as Infinity)")
    return value


def read_body(text: str) -> tuple[dict[str, Any] | None, str]:
    """The JSON object in an editor's text, or None with why not, in plain words."""
    try:
        value = json.loads(text, parse_constant=not_json, parse_float=finite)
    except RecursionError:
        return None, "This JSON is nested deeper than guide reads; no server would read it either."
    except ValueError as error:
        if "Exceeds the limit" in str(error):
            return None, "A number here has more than 4,300 digits: guide does not send it."
        said = str(error)
        return None, f"{said}." if "JSON number" in said or "too large" in said else f"This is not JSON yet: {said}."
    if not isinstance(value, dict):
        return None, "The body must be a JSON object: { … }."
    return value, ""


def editable(trace: Trace) -> str | None:
    """Why this call cannot be replayed with edits, or None."""
    if not trace.on_map:  # a call another program made, off the map (the relay passed it on as it was)
        return f"{trace.method} {trace.path} is not one of guide's gentle actions, so guide cannot replay it."
    if trace.mapping.body == "multipart":
        return f"{trace.action} sends an audio file as multipart/form-data, not a JSON body; run it again with /{trace.action} FILE."
    if not isinstance(trace.request_body, dict):
        return f"{trace.action} ({trace.method} {trace.path}) has no JSON body to edit."
    return None


def flipped(body: dict[str, Any], row: Action) -> dict[str, Any]:
    """The body with `stream` turned the other way (chat's and completion's stream_options go with it: the spec allows it only on a stream)."""
    flipped = dict(body)
    if flipped.get("stream") is True:
        flipped.pop("stream")
        flipped.pop("stream_options", None)
    else:
        flipped["stream"] = True
        if row.reads in ("chat", "completion"):
            flipped.setdefault("stream_options", {"include_usage": True})
    return flipped


def shortened(line: str) -> str:
    """One problem, cut to PROBLEM_WIDTH characters."""
    return line if len(line) <= PROBLEM_WIDTH else line[: PROBLEM_WIDTH - 1] + "…"


class ReplayEditor(ModalScreen[dict[str, Any] | None]):
    """The request body to edit; it dismisses with the body to send, or None."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("escape", "leave", "Cancel (edits kept)", id="cancel", priority=True),  # the code editor keeps Esc for itself otherwise
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
            # Unwrapped, as code editors are: wrapping one long pasted line costs Textual seconds a key.
            text = DRAFTS.get(self.trace.id) or as_json(self.trace.request_body)
            yield TextArea.code_editor(text, language="json", id="replay-body", soft_wrap=False)
            yield Static("", id="replay-problems", markup=False)
            yield Static(self.hint(), id="replay-help", markup=False)
        yield Footer()

    def action_leave(self) -> None:
        """Esc: nothing is sent, and the edits wait for e on this call again."""
        text = self.query_one("#replay-body", TextArea).text
        DRAFTS.pop(self.trace.id, None)
        if text != as_json(self.trace.request_body):
            DRAFTS[self.trace.id] = text
            while len(DRAFTS) > DRAFTS_KEPT:
                DRAFTS.pop(next(iter(DRAFTS)))
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.trace.mapping.streams if action == "flip_stream" else True  # hidden where the answer cannot stream

    def hint(self) -> str:
        flip = " · ctrl+t flips stream" if self.trace.mapping.streams else ""
        return f"ctrl+s checks the body against the spec and sends it{flip} · Esc cancels"

    def on_mount(self) -> None:
        self.query_one("#replay-body", TextArea).focus()

    def body(self) -> tuple[dict[str, Any] | None, str]:
        """The editor's JSON object, or None with why not."""
        return read_body(self.query_one("#replay-body", TextArea).text)

    def action_send(self) -> None:
        from guide.learn.spec import check

        body, why = self.body()
        problems = self.query_one("#replay-problems", Static)
        if body is None:
            problems.update(why)
            return
        text = self.query_one("#replay-body", TextArea).text
        found = check(self.trace.mapping.name, body)
        if found and self.checked != text:
            self.checked = text
            count = "1 problem" if len(found) == 1 else f"{len(found)} problems"
            lines = [f"The spec finds {count}. Fix it and ctrl+s, or ctrl+s again to send it as it is and see what the server says."]
            lines += [shortened(f"{p.path or '(the body)'}: {p.message}") for p in found[:PROBLEMS_SHOWN]]
            if len(found) > PROBLEMS_SHOWN:
                lines.append(f"… and {len(found) - PROBLEMS_SHOWN} more.")
            problems.update(visible("\n".join(lines)))
            problems.add_class("problems")
            return
        DRAFTS.pop(self.trace.id, None)
        self.dismiss(body)

    def action_flip_stream(self) -> None:
        if not self.trace.mapping.streams:
            self.notify(f"{self.trace.action} answers in one piece: it does not stream.", timeout=4)
            return
        body, why = self.body()
        if body is None:
            self.query_one("#replay-problems", Static).update(f"{why} Fix it before flipping stream.")
            return
        editor = self.query_one("#replay-body", TextArea)
        turned = flipped(body, self.trace.mapping)
        row, column = editor.cursor_location
        editor.load_text(as_json(turned))
        editor.move_cursor((min(row, editor.document.line_count - 1), column))  # where the user was, not line 1
        now = "on: the answer comes as SSE frames" if turned.get("stream") else "off: the answer comes as one JSON body"
        self.query_one("#replay-problems", Static).update(f"stream is {now}.")

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        from guide.learn.schema_check import dotted
        from guide.learn.spec import explain
        from guide.tui.screens.call_detail import EXPLAINED, FIELD_HINT, path_near

        editor = event.text_area
        text = editor.text
        help_line = self.query_one("#replay-help", Static)
        if len(text) > EXPLAINED:
            help_line.update(f"{self.hint()} · (a body this large is not explained field by field)")
            return
        row, column = event.selection.end
        offset = sum(len(line) + 1 for line in text.split("\n")[:row]) + column
        path = path_near(text, offset)
        if path is None:
            help_line.update(self.hint())
            return
        body, _ = read_body(text)
        found = explain(self.trace.mapping.name, "request", path, body=body)
        help_line.update(visible(found.text()) if found else f"{dotted(path) or 'the body'}: the spec defines no such field here. {FIELD_HINT}")
