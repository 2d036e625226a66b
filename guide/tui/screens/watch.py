"""`guide watch`: the calls another program makes, row by row, as they happen; Enter opens one whole.

The relay runs on a thread of this process (guide/companion/relay_run.py)
and puts each call's Trace in a queue when the call starts and when it ends;
the view takes what has come ten times a second and shows it in one go (a
message per call, at 50 calls a second, kept the keys waiting), and redraws
the running rows four times a second from the traces the relay fills in as
the bytes pass. Nothing here waits: the relay files each call in the store from its
own writer thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from guide.safe_text import one_line
from guide.tui.widgets.calls_panel import CallsPanel

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace

ARRIVALS = 0.1
"""Seconds between looks at the calls the relay has begun or ended: a new row is on screen within this of its first byte."""
REDRAW = 0.25
"""Seconds between redraws of the rows still running (their stream's frames and time so far)."""


def base_line(relay_url: str) -> str:
    """The one thing to set in the program to watch: `OPENAI_BASE_URL=http://127.0.0.1:8766/v1`."""
    return f"OPENAI_BASE_URL={relay_url}/v1"


class WatchScreen(Screen[None]):
    """The calls view, full screen: what to set, where the calls go, and a row per call."""

    BINDINGS = [Binding("q,ctrl+q", "app.quit", "Quit", id="quit")]

    def __init__(self, relay_url: str, upstream: str) -> None:
        super().__init__(id="watch")
        self.relay_url, self.upstream = relay_url, upstream

    def compose(self) -> ComposeResult:
        yield Label(base_line(self.relay_url), id="watch-base")
        yield Static(
            one_line(f"Run your program with that set: each call it makes appears below, passed on to {self.upstream}. Enter opens one whole."),
            id="watch-note",
            markup=False,
        )
        yield CallsPanel(mark_theirs=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(ARRIVALS, self.take_arrivals)
        self.set_interval(REDRAW, self.redraw_running)
        self.query_one(CallsPanel).query_one("#calls").focus()

    def take_arrivals(self) -> None:
        """The calls the relay began or ended since the last look, shown in one go."""
        arrived: deque[Trace] = getattr(self.app, "arrived", deque())
        batch = []
        while arrived:
            batch.append(arrived.popleft())
        if batch:
            self.query_one(CallsPanel).show_all(batch)

    def redraw_running(self) -> None:
        panel = self.query_one(CallsPanel)
        panel.show_all([trace for trace in panel.traces.values() if trace.state == "running"])

    def on_calls_panel_call_selected(self, event: CallsPanel.CallSelected) -> None:
        from guide.tui.screens.call_detail import CallDetail

        self.app.push_screen(CallDetail(event.trace))


@dataclass
class ReplaySession:
    """What the call detail's replay with edits sends through: guide's own client, at the upstream."""

    guide: AsyncGuide | None


class WatchApp(App[None]):
    """guide, opened on the calls another program makes through the relay."""

    CSS_PATH = Path(__file__).parent.parent / "guide.tcss"
    TITLE = "guide · watch"

    def __init__(self, relay_url: str, upstream: str, *, replay: AsyncGuide | None = None) -> None:
        super().__init__()
        self.relay_url, self.upstream = relay_url, upstream
        self.session = ReplaySession(replay)
        self.arrived: deque[Trace] = deque()
        """Calls the relay began or ended, appended from its thread (a deque's append and popleft are atomic), taken by the view."""

    def on_mount(self) -> None:
        self.push_screen(WatchScreen(self.relay_url, self.upstream))

    def seen(self, trace: Trace) -> None:
        """The relay's listener, on its thread: the call goes in the queue the view takes from (never a wait on the UI loop)."""
        self.arrived.append(trace)
