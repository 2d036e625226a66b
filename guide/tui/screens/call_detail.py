"""A call, whole: the gentle call, the legacy request and response, timings, snippets; moving in the Request or Response
tab shows what the spec says of the field under the cursor, e replays it with edits (`replay.py`), a replay's detail opens
on its answer beside the original's, and in the tour the step's words go above the tabs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static, TabbedContent, TabPane, TextArea

from guide.safe_text import one_line, visible
from guide.tui.boundary import guarded
from guide.wire_text import Section, gentle_text, joined, request_sections, response_sections, timings_text

if TYPE_CHECKING:
    from guide.client import Trace
    from guide.learn.tour import Taken

TABS = (
    ("gentle", "Gentle call"),
    ("request", "Request"),
    ("response", "Response"),
    ("timings", "Timings"),
    ("curl", "curl"),
    ("python", "Python"),
    ("node", "Node"),
)
FIELD_HINT = "Move to a field in the Request or Response tab to read what the spec says of it."
SHOWN = 1_000_000
"""The most of a tab's text put on screen: a 60 MB answer would hold the UI for minutes (c still copies it whole)."""
EXPLAINED = 256 * 1024
"""The largest JSON text field help reads at each move of the cursor (beyond it, moving stays instant and help says why)."""
COMPARED = 400
"""Lines of each answer set side by side: difflib on thousands of lines a hostile server chose can take minutes."""


def on_screen(text: str) -> str:
    """A tab's text as shown: safe characters, and at most SHOWN of them (saying how much is left out)."""
    if len(text) <= SHOWN:
        return visible(text)
    return visible(text[:SHOWN]) + f"\n… {len(text) - SHOWN:,} more characters not shown here (c copies the whole tab)"


def capped(text: str, where: str = "") -> str:
    """A text as compared: safe characters, its first COMPARED lines (saying how many more, and `where` they are)."""
    lines = visible(text).splitlines()
    return "\n".join(lines[:COMPARED] + ([f"… {len(lines) - COMPARED:,} more lines{where}"] if len(lines) > COMPARED else []))


MARK_STYLES = {" ": "", "~": "on #5f5f00", "-": "on #5f0000", "+": "on #005f00"}


class CallDetail(ModalScreen[str | None]):
    """One call, whole. c copies what the open tab shows; e replays it with edits."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="close"),
        Binding(
            "c", "copy", "Copy this tab", id="copy", tooltip="Copy the open tab to the clipboard (OSC 52) and to clipboard.txt in the data folder"
        ),
        Binding("e", "edit", "Replay with edits", id="edit", tooltip="Edit the request body, check it against the spec, and send it again"),
    ]

    def __init__(self, trace: Trace, *, lesson: Taken | None = None, original: Trace | None = None) -> None:
        super().__init__()
        self.trace = trace
        self.lesson = lesson
        """The tour's step this call belongs to: its words go above the tabs, and Enter takes the next."""
        self.original = original
        """For a replay: the call it replayed, whose answer shows beside this one's."""
        self.sections: dict[str, list[Section]] = {"request": request_sections(trace), "response": response_sections(trace)}
        self.texts = {
            "gentle": gentle_text(trace),
            "request": joined(self.sections["request"]),
            "response": joined(self.sections["response"]),
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
            if self.lesson is not None:
                yield Static(lesson_text(self.lesson, self.trace), id="lesson", markup=False)
            yield Label(one_line(title), id="call-title", classes="failed" if self.trace.state == "failed" else "", markup=False)
            with TabbedContent(id="call-tabs", initial=self.first_tab()):
                if self.original is not None:
                    with TabPane("Beside the original", id="tab-beside"):
                        yield from self.beside(self.original)
                for key, label in TABS:
                    with TabPane(label, id=f"tab-{key}"):
                        # Unwrapped, read-only, scrolling both ways: what is selected on screen is the
                        # text's own lines (valid JSON, a curl that runs), and the last line is reachable.
                        yield TextArea(
                            on_screen(self.texts[key]),
                            id=f"text-{key}",
                            classes="code",
                            read_only=True,
                            soft_wrap=False,
                            compact=True,
                            highlight_cursor_line=False,
                        )
            yield Static(FIELD_HINT, id="field-help", markup=False)
        yield Footer()

    def beside(self, original: Trace) -> ComposeResult:
        """The original answer and this one, line by line, differences marked (~ changed, − only before, + only now)."""
        from guide.learn.compare import changed_fields

        changed = changed_fields(original.request_body, self.trace.request_body)
        edits = ", ".join(changed[:8]) + (" …" if len(changed) > 8 else "") if changed else "nothing: the same request again"
        yield Static(f"You changed: {edits}", id="beside-changed", markup=False)
        with VerticalScroll(id="beside"):
            with Horizontal(id="beside-columns"):
                with Vertical(classes="beside-column"):
                    yield Label(f"The original · {one_line(original.summary())}", classes="beside-title", markup=False)
                    yield Static("Comparing…", id="beside-original")
                with Vertical(classes="beside-column"):
                    yield Label(f"The replay · {one_line(self.trace.summary())}", classes="beside-title", markup=False)
                    yield Static("", id="beside-replay")

    @work(group="compare", exclusive=True)
    @guarded
    async def compare(self, original: Trace) -> None:
        """Set the two answers side by side, off the UI loop (difflib's time grows with the lines a server chose)."""
        import asyncio

        left, right = await asyncio.to_thread(compared, original, self.trace)
        self.query_one("#beside-original", Static).update(left)
        self.query_one("#beside-replay", Static).update(right)

    def first_tab(self) -> str:
        """The tab it opens on: the comparison after a replay; in the tour, the tab the step's words point at (the request's
        fields, else the answer); else the gentle call. Given when composed: set on mount, a busy machine mounted the screen
        before the tabs' own children, and the app died."""
        if self.original is not None:
            return "tab-beside"
        if self.lesson is not None:
            asks = self.lesson.offered and self.lesson.step.request_fields and self.trace.request_body is not None
            return "tab-request" if asks else "tab-response"
        return "tab-gentle"

    def on_mount(self) -> None:
        if self.original is not None:
            self.compare(self.original)

    # Every field explained.

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        key = (event.text_area.id or "").removeprefix("text-")
        if key in self.sections:
            row, column = event.selection.end
            self.query_one("#field-help", Static).update(self.field_words(key, row, column))

    def field_words(self, key: str, row: int, column: int) -> str:
        """What the spec says of the field at this place in the tab's text, or a hint."""
        located = locate(self.sections[key], row, column)
        if located is None:
            return FIELD_HINT
        part, json_text, offset = located
        if len(json_text) > EXPLAINED:
            return f"This body is {len(json_text):,} characters: too large to explain field by field as you move (up to {EXPLAINED:,})."
        from guide.learn.schema_check import dotted
        from guide.learn.spec import explain

        path = path_near(json_text, offset)
        if path is None:
            return FIELD_HINT
        body = parsed(json_text)
        found = explain(self.trace.action, part, path, body=body)  # type: ignore[arg-type]
        where = dotted(path) or "the body"
        if found is None:
            return f"{where}: the spec defines no such field here."
        return visible(found.text())

    # Replay with edits.

    def action_edit(self) -> None:
        from guide.tui.screens.replay import ReplayEditor, editable

        problem = editable(self.trace)
        if problem:
            self.notify(problem, title="Replay with edits", severity="warning", timeout=6)
            return
        self.app.push_screen(ReplayEditor(self.trace), self._edited)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit":
            from guide.tui.screens.replay import editable

            return editable(self.trace) is None  # hidden where there is no JSON body to edit
        return True

    def _edited(self, body: dict[str, Any] | None) -> None:
        if body is not None:
            # The app's worker, not this screen's: closing the detail while the server answers must not leave the call running for ever.
            self.app.run_worker(self.send(body), group="replay")

    @guarded
    async def send(self, body: dict[str, Any]) -> None:
        """Send the edited body as this call's action, through the session's client (traced, filed and shown like any call)."""
        from guide.client import GuideError

        guide = self.app.session.server.client  # type: ignore[attr-defined]
        if guide is None:
            self.app.notify("guide is still finding who answers; try again in a moment.", severity="warning")
            return
        replaying = f"Replaying {self.trace.action} with your edits…"
        self.app.notify(replaying, timeout=8)
        try:
            trace = await guide.replay(self.trace.action, body)
        except GuideError as error:
            if error.trace is None:
                raise
            trace = error.trace
        finally:
            self.app.withdraw(replaying)  # type: ignore[attr-defined]
        if self.app.screen is self:
            await self.app.push_screen(CallDetail(trace, original=self.trace))
        else:
            self.app.notify(f"The replay of {self.trace.action} has answered: it is the latest row in the calls panel (F2).", timeout=6)

    def action_copy(self) -> None:
        active = self.query_one("#call-tabs", TabbedContent).active.removeprefix("tab-")
        from guide.tui.clipboard import copy

        if active in self.texts:
            copy(self.app, self.texts[active], f"the {active} tab")


class TourStep(CallDetail):
    """A call of the tour: the step's words over it; Enter takes the next step, Esc ends the tour."""

    BINDINGS = [
        Binding("escape", "leave('end')", "End the tour", id="close", priority=True),
        Binding("enter", "leave('next')", "Next step", id="next", priority=True),
    ]

    SETTLE = 0.25
    """Seconds the step's tabs take to settle: leaving before then broke Textual's TabbedContent (the app died on an Enter
    pressed as the step opened), so a key that early is kept and acted on once they have."""

    def __init__(self, trace: Trace, lesson: Taken) -> None:
        super().__init__(trace, lesson=lesson)
        self.settled = False
        self.wanted: str | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.set_timer(self.SETTLE, self._settle)

    def _settle(self) -> None:
        self.settled = True
        if self.wanted is not None:
            self.action_leave(self.wanted)

    def action_leave(self, how: str) -> None:
        """Enter: the next step; Esc: the end of the tour (from where it stopped, /tour takes it up again)."""
        if not self.settled:
            self.wanted = how
            return
        self.dismiss("next" if how == "next" else None)


def compared(original: Trace, replay: Trace) -> tuple[Text, Text]:
    """Both answers' first COMPARED lines as two marked columns: what they say, with ids and arrival times set apart above."""
    from guide.learn.compare import comparable

    texts, apart = [], []
    for trace in (original, replay):
        text, left_out = comparable(trace.status, trace.response_body, trace.frames)
        texts.append(capped(text, " (the Response tab has them all)"))
        apart.append(visible(left_out))
    left, right = Text(no_wrap=True, overflow="ellipsis"), Text(no_wrap=True, overflow="ellipsis")
    for column, left_out in zip((left, right), apart):
        if left_out:
            column.append(f"  ids and times (not compared): {left_out}\n", style="dim")
    if any(apart) and not all(apart):
        (right if apart[0] else left).append("\n")
    set_side_by_side(left, right, texts[0], texts[1])
    return left, right


def set_side_by_side(left: Text, right: Text, before: str, after: str, width: int | None = None) -> None:
    """Two texts in two columns, line by line, aligned where they agree; what differs marked (~ changed, − only before, + only
    after), and in a changed line the part that differs. A changed line longer than a column `width` wide is shown from a
    little before its change."""
    from guide.learn.compare import changed_spans, from_the_change, side_by_side

    for old, new, mark in side_by_side(before, after):
        style = MARK_STYLES[mark]
        if mark == "~":
            old, new = from_the_change(old, new, width - 2 if width else None)
            for column, sign, line, (start, end) in zip((left, right), "-+", (old, new), changed_spans(old, new)):
                column.append(f"{sign} {line[:start]}", style=style)
                column.append(line[start:end], style=f"{style} bold underline")
                column.append(f"{line[end:]}\n", style=style)
            continue
        left.append(f"{'-' if mark == '-' else ' '} {old}\n", style=style if mark == "-" else "")
        right.append(f"{'+' if mark == '+' else ' '} {new}\n", style=style if mark == "+" else "")


def locate(sections: list[Section], row: int, column: int) -> tuple[str, str, int] | None:
    """The spec's part, the JSON text and the offset in it at this row and column of the sections' joined text; None off JSON."""
    start = 0
    for text, part in sections:
        lines = text.splitlines() or [""]
        if start <= row < start + len(lines):
            if part is None:
                return None
            line = lines[row - start]
            if part == "chunk":  # a frame per line: `   12.3 ms  data: {...}`
                at = line.find("data: ")
                return None if at < 0 or column < at + 6 else (part, line[at + 6 :], column - at - 6)
            first = 1 if text.startswith("The raw legacy error:") else 0
            if row - start < first:
                return None
            body_lines = lines[first:]
            offset = sum(len(each) + 1 for each in body_lines[: row - start - first]) + column
            return part, "\n".join(body_lines), offset
        start += len(lines) + 1  # and the blank line between sections
    return None


def path_near(text: str, offset: int) -> tuple[str | int, ...] | None:
    """The field under the cursor; past a line's value (after its comma), still the field that line holds."""
    from guide.learn.spec import path_at

    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start : end if end >= 0 else len(text)]
    first = start + len(line) - len(line.lstrip())
    if line.lstrip().startswith(("}", "]")):  # a closing line belongs to what it closes, not to the field before it
        first = offset
    try:
        paths = [path for path in (path_at(text, offset), path_at(text, first) if first != offset else None) if path is not None]
    except RecursionError:
        return None
    return max(paths, key=len) if paths else None


def lesson_text(taken: Taken, trace: Trace) -> str:
    """The tour's words over the call: the step, what the docent says, what to look at (with the values this call had)."""
    lines = [f"{taken.heading}   ⏎ the next step · Esc ends the tour", taken.step.says]
    if taken.words:
        lines.append(taken.words)
    if taken.offered:
        # A streamed call's answer to look at is its first frame, parsed (what the fields of a chunk look like).
        answer = trace.response_body if trace.response_body is not None or not trace.frames else parsed(trace.frames[0][1])
        sides = (("request ", trace.request_body, taken.step.request_fields), ("response", answer, taken.step.response_fields))
        looks = [f"{side}  " + " · ".join(f"{name} = {peek(body, name)}" for name in names) for side, body, names in sides if names]
        lines += [("Look at " if i == 0 else " " * 8) + look for i, look in enumerate(looks)]
    return visible("\n".join(lines))


def parsed(text: str) -> Any:
    """The JSON value of a text, or None: not JSON, or nested deeper than Python reads."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def peek(value: Any, path: str, width: int = 40) -> str:
    """The value at `a[0].b` in a JSON value, shortened; `—` where there is none."""
    import re

    for step in re.findall(r"[^.\[\]]+", path):
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return "—"
    if isinstance(value, list):
        return f"[{len(value):,} item{'' if len(value) == 1 else 's'}]"
    if isinstance(value, dict):
        return "{" + ", ".join(list(value)[:4]) + (", …}" if len(value) > 4 else "}")
    shown = json.dumps(value, ensure_ascii=False)
    return one_line(shown if len(shown) <= width else shown[: width - 1] + "…")
