"""The calls panel: one row per call, added as it starts, updated as its stream reports progress."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from guide.safe_text import one_line
from guide.tui.focus import follow_focus

if TYPE_CHECKING:
    from guide.client import Trace

EMPTY = "Every call the guide makes will appear here: the gentle action, and the legacy endpoint it called."
LIMIT = 500
"""Rows kept at most; past it the oldest DROP go at once (one rebuild, not one per call)."""
DROP = 100
EARLIER, LATER = "earlier-calls", "later-calls"
OPENING = 10
"""Calls shown when a stored conversation opens (a screenful; the counts include them all)."""
PAGE = 50
"""Calls added each time the user asks for earlier ones."""
WHOSE = ("all", "mine", "theirs")
"""Which calls the panel shows, in the order its key steps through them: both, guide's own, or other programs' (caller named)."""
STATE_STYLES = {"failed": "bold red", "stopped": "yellow", "running": "cyan"}


def title(whose: str, theirs: bool) -> str:
    """The panel's header: what it shows, and (once another program's call has come) which calls and the key that changes it."""
    return "Calls · gentle action → legacy endpoint" + (f" · {whose} (w: mine / theirs / all)" if theirs else "")


def row_text(trace: Trace, *, mark: bool = True) -> Text:
    """`think → POST /v1/chat/completions · 200 · 1.2 s · 143 tok`, coloured by outcome; another program's call marked theirs (with `mark`)."""
    line = ("theirs · " if trace.caller and mark else "") + trace.summary()
    if trace.on_map and trace.mapping.reads == "chat":  # the tool rounds, read from chat's messages
        from guide.wire_text import tool_round

        back, asked = tool_round(trace)
        if back or asked:
            said = (" ← tool result" if back else "") + (f" → tool_calls: {', '.join(asked)}" if asked else "")
            line = line.replace("think → ", f"think{said} · ", 1)
    if trace.state == "running":
        elapsed = time.time() - trace.started_at
        frames = f" · {trace.frame_count:,} frames" if trace.stream and trace.frames else ""
        line = line.replace(" · …", f" · {elapsed:.1f} s…{frames}")
    text = Text(one_line(line))
    text.stylize(STATE_STYLES.get(trace.state, ""))
    return text


def later_row(later: int) -> Text:
    """The last row while paged back: how many calls came after the rows shown."""
    return Text(f"↓ {later:,} later calls · ↓ or Enter shows the latest", style="dim italic")


class CallRows(OptionList):
    """The panel's rows: it says when the user's cursor reaches either end, where older or newer calls page in. (Drawing
    rows faster by overriding OptionList's private `_get_option_render` was tried and left out: a private method is the
    first thing to change in a Textual minor release.)"""

    @dataclass
    class Reached(Message):
        """The user moved the cursor onto the first row (`top`) or the last (`bottom`)."""

        end: str

    # The user's moves (keys, not the panel placing the cursor).

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._reached()

    def action_page_up(self) -> None:
        super().action_page_up()  # type: ignore[no-untyped-call]
        self._reached()

    def action_first(self) -> None:
        super().action_first()
        self._reached()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._reached()

    def action_page_down(self) -> None:
        super().action_page_down()  # type: ignore[no-untyped-call]
        self._reached()

    def action_last(self) -> None:
        super().action_last()
        self._reached()

    def _reached(self) -> None:
        if self.option_count and self.highlighted in (0, self.option_count - 1):
            self.post_message(self.Reached("top" if self.highlighted == 0 else "bottom"))


class CallsPanel(Vertical):
    """Every call of this conversation, newest last; Enter opens one whole. At most LIMIT rows are kept; a stored
    conversation opens with its latest calls and a first row that fetches earlier ones on Enter."""

    @dataclass
    class CallSelected(Message):
        """The user chose a call to see whole."""

        trace: Trace

    class EarlierWanted(Message):
        """The user asked for the calls before the first one shown."""

    class LatestWanted(Message):
        """The user, paged back, asked for the latest calls again (and to follow them)."""

    def __init__(self, *, limit: int = LIMIT, kept: str = "all are in the export (F4, E)", pages_back: bool = False) -> None:
        super().__init__(id="calls-panel")
        self.limit, self.kept = limit, kept
        """Rows kept at most (fewer in guide watch, where a program may make 50 calls a second and the rest are in the store),
        and where the calls past it can be seen, said on the first row."""
        self.traces: dict[str, Trace] = {}
        self.earlier = 0
        """Calls of this conversation not shown (older than the first row)."""
        self.pages_back = pages_back
        """guide watch (where every call is another program's: none is marked theirs): moving up onto the first row pages older
        calls in (dropping the newest past the limit); the rows then stay put, counting the calls that come meanwhile, until
        the user moves down onto the last row (or presses Enter there). Elsewhere Enter on the first row pages earlier ones in."""
        self.later = 0
        """Calls newer than the last row (paged back: not shown until the user asks for the latest again)."""
        self.whose = "all"
        self.theirs = False
        """Whether another program's call has come: the header then names the filter and its key."""
        self.elsewhere: set[str] = set()
        """Calls that answered turns on branches not in view: not shown while another branch is."""

    BINDINGS = [Binding("w", "whose", "Mine / theirs / all", id="whose", tooltip="Show guide's own calls, other programs' calls, or both")]

    def compose(self) -> ComposeResult:
        yield Label(title(self.whose, self.theirs), classes="panel-title", id="calls-title")
        yield Static(EMPTY, id="panel-empty")
        yield CallRows(id="calls")

    def on_mount(self) -> None:
        self.query_one("#calls").display = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The filter's key is off (and out of the footer) until another program's call has come: before, it would only crowd F6/F7 out."""
        return self.theirs if action == "whose" else True

    def shown(self, trace: Trace) -> bool:
        """Whether the filter in force shows this call."""
        return trace.id not in self.elsewhere and (self.whose == "all" or (self.whose == "theirs") == bool(trace.caller))

    def follow_branch(self, elsewhere: set[str]) -> None:
        """Show the calls of the branch in view: those that answered turns on other branches go (and come back with theirs)."""
        if elsewhere != self.elsewhere:
            self.elsewhere = elsewhere
            self._rebuild()
            self._shown()

    def action_whose(self) -> None:
        """Step the filter: all → mine → theirs → all."""
        self.whose = WHOSE[(WHOSE.index(self.whose) + 1) % len(WHOSE)]
        self.query_one("#calls-title", Label).update(title(self.whose, self.theirs))
        self._rebuild()
        self._shown()

    def show(self, trace: Trace) -> None:
        """Add the call's row, or update it if it is already shown."""
        self.show_all([trace])

    def show_all(self, traces: list[Trace]) -> None:
        """Add or update several calls' rows at once: one layout of the list, not one per call (a program making 50 calls a second)."""
        calls = self.query_one("#calls", OptionList)
        fresh: dict[str, Trace] = {}
        for trace in traces:
            if trace.id in fresh:
                continue
            if self.later and trace.id not in self.traces:  # paged back: the rows stay put, the newer calls are counted
                fresh[trace.id] = trace
                continue
            if trace.id in self.traces:
                self.traces[trace.id] = trace  # its newer record (Enter opens this one)
                if self.shown(trace):
                    calls.replace_option_prompt(trace.id, row_text(trace, mark=not self.pages_back))
                continue
            self.traces[trace.id] = trace
            if trace.caller and not self.theirs:
                self.theirs = True
                self.query_one("#calls-title", Label).update(title(self.whose, self.theirs))
                self.refresh_bindings()
            if self.shown(trace):
                fresh[trace.id] = trace
        if not fresh:
            return
        if self.later:
            self.later += len(fresh)
            calls.replace_option_prompt(LATER, later_row(self.later))
            return
        held = calls.highlighted_option.id if calls.highlighted_option is not None and calls.highlighted != calls.option_count - 1 else None
        if len(self.traces) > self.limit:
            # guide watch drops just the overflow: a list that keeps its length is not laid out again
            drop = len(self.traces) - self.limit if self.pages_back else max(self.limit * DROP // LIMIT, len(self.traces) - self.limit)
            for oldest in list(self.traces)[:drop]:
                del self.traces[oldest]
            self.earlier += drop
            self._rebuild()
        else:
            calls.add_options([Option(row_text(trace, mark=not self.pages_back), id=trace.id) for trace in fresh.values()])
        if self.pages_back and held is not None:  # guide watch, the cursor moved up off the last row: it stays on its call
            calls.highlighted = calls.get_option_index(held) if held in self.traces else min(1, calls.option_count - 1)
            return
        self._shown()

    def show_earlier(self, traces: list[Trace], earlier: int) -> None:
        """Put stored calls (oldest first) before the rows shown; `earlier` remain unshown."""
        if self.pages_back:
            self.page_back(traces, earlier)
            return
        kept = {trace.id: trace for trace in traces}
        kept.update(self.traces)
        self.traces = dict(list(kept.items())[-self.limit :])
        self.earlier = earlier + len(kept) - len(self.traces)
        self._rebuild()
        self._shown()

    def page_back(self, traces: list[Trace], earlier: int) -> None:
        """Put older calls before the rows shown, the newest past the limit going (counted as later); the cursor stays on its call."""
        calls = self.query_one("#calls", OptionList)
        at = calls.highlighted_option.id if calls.highlighted_option is not None else None
        older = {trace.id: trace for trace in traces if trace.id not in self.traces}
        rows = list({**older, **self.traces}.items())
        self.later += len(rows[self.limit :])
        self.traces = dict(rows[: self.limit])
        self.earlier = earlier
        self._rebuild()
        first = next(iter(self.traces), None)
        landing = at if at in self.traces and at != EARLIER else first
        if landing is not None and landing in self.traces and self.shown(self.traces[landing]):
            calls.highlighted = calls.get_option_index(landing)
            if at == EARLIER and older:  # moved up onto the first row: onto the newest of the older calls, as a scroll would
                calls.highlighted = calls.get_option_index(list(older)[-1])
        calls.scroll_to_highlight()

    def _rebuild(self) -> None:
        calls = self.query_one("#calls", OptionList)
        calls.clear_options()
        options = [Option(row_text(trace, mark=not self.pages_back), id=trace.id) for trace in self.traces.values() if self.shown(trace)]
        if self.earlier:
            more = "Enter shows more" if len(self.traces) < self.limit else self.kept
            if self.pages_back:
                more = f"{self.kept}: ↑ or Enter shows more"
            options.insert(0, Option(Text(f"↑ {self.earlier:,} earlier calls · {more}", style="dim italic"), id=EARLIER))
        if self.later:
            options.append(Option(later_row(self.later), id=LATER))
        calls.add_options(options)

    def _shown(self) -> None:
        calls = self.query_one("#calls", OptionList)
        if not self.traces:
            return
        calls.display = True
        if self.later:  # paged back: the cursor stays where the user put it
            return
        self.query_one("#panel-empty").display = False
        if calls.option_count:
            calls.highlighted = calls.option_count - 1
        calls.scroll_end(animate=False)

    def clear(self) -> None:
        """Forget every row (a new conversation)."""
        self.traces.clear()
        self.elsewhere = set()
        self.earlier = self.later = 0
        calls = self.query_one("#calls", OptionList)
        calls.clear_options()
        calls.display = False
        self.query_one("#panel-empty").display = True

    def on_key(self, event: events.Key) -> None:
        follow_focus(self, event)  # typed fast: the first letter moved focus to the composer, the rest follow it

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == EARLIER:
            if self.pages_back or len(self.traces) < self.limit:
                self.post_message(self.EarlierWanted())
            return
        if event.option.id == LATER:
            self.post_message(self.LatestWanted())
            return
        trace = self.traces.get(event.option.id or "")
        if trace is not None:
            self.post_message(self.CallSelected(trace))

    def on_call_rows_reached(self, event: CallRows.Reached) -> None:
        """guide watch: the cursor moved onto the first row (older calls wanted) or onto the last (the latest again)."""
        event.stop()
        calls = self.query_one("#calls", OptionList)
        if not self.pages_back or calls.highlighted_option is None:
            return
        if event.end == "top" and calls.highlighted_option.id == EARLIER:
            self.post_message(self.EarlierWanted())
        elif event.end == "bottom" and calls.highlighted_option.id == LATER:
            self.post_message(self.LatestWanted())
