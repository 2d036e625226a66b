"""`guide watch`: the calls another program makes through the relay, row by row, as they happen; Enter opens one whole.

The relay (`guide serve --relay`, its own process) files each call in the store as it starts, every half second while it
runs, and as it ends; ten times a second the view reads, off the loop, the calls filed since its last look (by row number)
and the running ones again (by id). A read still going when the next look is due lets that look pass."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from guide.models import Server
from guide.safe_text import one_line
from guide.tui.boundary import guarded
from guide.tui.widgets.calls_panel import CallsPanel

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace

LOOK_EVERY = 0.1
"""Seconds between looks in the store: a new row is on screen within about this of the relay filing it."""
OPENING = 50
"""Calls filed before the view opened that it shows as it opens (the rest stay in the store)."""
RUNNING_READ = 50
"""Running calls read again at a look, at most (the newest); the others catch up when they end."""
RUNNING_EVERY = 5
"""Looks between readings of the running calls (half a second, as often as the relay files them): each changed row lays
the whole list out again, and at 50 calls a second reading them at every look held a keystroke for 350 ms."""
PAGE = 50
"""Older calls paged in from the store each time the user moves up onto the first row."""
ROWS = 60
"""Rows the view keeps (the calls panel keeps 500): the list is laid out again whenever a row changes, and at 50 calls a
second 500 rows held a keystroke for 350 ms to 800 ms; older calls stay in the store."""


def read_calls(store: Any, row: int | None, running: list[str], seen_by: str, *, latest: int = OPENING) -> tuple[list[Trace], int]:
    """On a thread: the calls filed after `row` (the `latest` before it at the first look) and the `running` ones as filed now,
    as Traces (built here, not on the loop), and the last row."""
    from guide.client import Trace

    found, row = store.their_calls(row, 500, seen_by=seen_by, latest=latest)
    again = store.calls_by_id(running) if running else []
    fresh = {data["id"]: data for data in [*again, *found]}
    return [Trace.from_dict(data) for data in fresh.values()], row


def read_before(store: Any, first: str, seen_by: str) -> tuple[list[Trace], int]:
    """On a thread: the PAGE calls filed before the call `first`, as Traces, and how many are before those."""
    from guide.client import Trace

    found, before = store.their_calls_before(first, PAGE, seen_by=seen_by)
    return [Trace.from_dict(data) for data in found], before


class WatchScreen(Screen[None]):
    """The calls view, full screen: what to set, where the calls go, and a row per call."""

    BINDINGS = [Binding("q,ctrl+q", "app.quit", "Quit", id="quit")]

    def __init__(self, relay_url: str, upstream: str) -> None:
        super().__init__(id="watch")
        self.relay_url, self.upstream = relay_url, upstream
        self.row: int | None = None
        """The last row of the store's calls read (None: not looked yet; the first look shows the latest OPENING)."""
        self.looking, self.looks, self.paging = False, 0, False
        self.generation = 0
        """Bumped when the view goes back to the latest calls: a look begun before then is not shown."""

    def compose(self) -> ComposeResult:
        yield Label(f"OPENAI_BASE_URL={self.relay_url}/v1", id="watch-base")  # the one thing to set in the program watched
        yield Static(
            one_line(f"Run your program with that set: each call it makes appears below, passed on to {self.upstream}. Enter opens one whole."),
            id="watch-note",
            markup=False,
        )
        yield CallsPanel(limit=ROWS, kept="all are in guide's store", pages_back=True)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(LOOK_EVERY, self.look)
        self.query_one(CallsPanel).query_one("#calls").focus()

    @work(group="look")
    @guarded
    async def look(self) -> None:
        """The calls filed since the last look, and the running ones as they are now, read off the loop and shown in one go."""
        from guide.companion.relay_trace import RELAYED

        store: Any = getattr(self.app, "store", None)
        if store is None or self.looking:
            return
        self.looking = True
        self.looks += 1
        generation, opening = self.generation, self.row is None
        try:
            panel = self.query_one(CallsPanel)
            running = [] if self.looks % RUNNING_EVERY else [trace.id for trace in panel.traces.values() if trace.state == "running"][-RUNNING_READ:]
            found, row = await store.read(read_calls, store, self.row, running, RELAYED)
            earlier = (await store.read(store.their_calls_before, found[0].id, 0, seen_by=RELAYED))[1] if opening and found else 0
        finally:
            self.looking = False
        if generation != self.generation:
            return
        self.row = row
        if found:
            panel.show_all([self.updated(panel, trace) for trace in found])
        if earlier:  # calls filed before the opening ones: the first row says so, and moving onto it pages them in
            panel.show_earlier([], earlier)

    @work(group="page")
    @guarded
    async def on_calls_panel_earlier_wanted(self, event: CallsPanel.EarlierWanted) -> None:
        """Older calls, read from the store off the loop, put before the rows shown (the newest past the limit go, counted)."""
        from guide.companion.relay_trace import RELAYED

        store: Any = getattr(self.app, "store", None)
        panel = self.query_one(CallsPanel)
        first = next(iter(panel.traces), None)
        if store is None or first is None or self.paging:
            return
        self.paging = True
        generation = self.generation
        try:
            older, before = await store.read(read_before, store, first, RELAYED)
        finally:
            self.paging = False
        if generation == self.generation and first == next(iter(panel.traces), None):
            panel.show_earlier(older, before)

    def on_calls_panel_latest_wanted(self, event: CallsPanel.LatestWanted) -> None:
        """Back to the latest calls, followed as they come: the rows are read again as at the opening."""
        self.generation += 1
        self.row = None
        self.query_one(CallsPanel).clear()
        self.look()

    @staticmethod
    def updated(panel: CallsPanel, trace: Trace) -> Trace:
        """The row's trace, filled in from its newer record (the panel holds the same object), or a new one."""
        held = panel.traces.get(trace.id)
        if held is None:
            return trace
        for name in trace.__dataclass_fields__:
            setattr(held, name, getattr(trace, name))
        return held

    def on_calls_panel_call_selected(self, event: CallsPanel.CallSelected) -> None:
        from guide.tui.screens.call_detail import CallDetail

        self.app.push_screen(CallDetail(event.trace))


@dataclass
class ReplaySession:
    """What the call detail's replay with edits sends through (`session.server.client`, as in the app): guide's client, at the upstream."""

    server: Server


class WatchApp(App[None]):
    """guide, opened on the calls another program makes through the relay."""

    CSS_PATH = Path(__file__).parent.parent / "guide.tcss"
    TITLE = "guide · watch"

    def __init__(self, relay_url: str, upstream: str, *, replay: AsyncGuide | None = None, store: Any = None) -> None:
        super().__init__()
        self.relay_url, self.upstream = relay_url, upstream
        self.session = ReplaySession(Server(replay))
        self.store = store
        """guide's store, where the relay files the calls (opened before the app, so never on its loop)."""

    def on_mount(self) -> None:
        self.push_screen(WatchScreen(self.relay_url, self.upstream))
        # What the app holds once open lasts as long as it does: frozen, the collector's full passes (each second or so at 50
        # calls a second, 100 ms to 250 ms on the loop each: the keystroke p99's tail) no longer walk it.
        self.call_after_refresh(gc.freeze)

    def withdraw(self, message: str, *, title: str = "") -> None:
        """Take a notice down once what it said is over ("Replaying…"), as the app's own does (here, with few notices, all of them)."""
        self.clear_notifications()
