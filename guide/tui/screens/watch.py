"""`guide watch`: the calls another program makes, row by row, as they happen; Enter opens one whole.

The relay runs on a thread of this process (guide/companion/relay_run.py)
and hands each call's Trace to the app as a message (`post_message` is safe
from any thread), when the call starts and when it ends; a running row is
redrawn four times a second from the trace the relay fills in as the bytes
pass. Nothing here waits: the relay files each call in the store from its
own writer thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from guide.safe_text import one_line
from guide.tui.widgets.calls_panel import CallsPanel

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace

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
        self.set_interval(REDRAW, self.redraw_running)
        self.query_one(CallsPanel).query_one("#calls").focus()

    def redraw_running(self) -> None:
        panel = self.query_one(CallsPanel)
        for trace in panel.traces.values():
            if trace.state == "running":
                panel.show(trace)

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

    @dataclass
    class CallSeen(Message):
        """The relay began or ended a call (posted from the relay's thread)."""

        trace: Trace

    def __init__(self, relay_url: str, upstream: str, *, replay: AsyncGuide | None = None) -> None:
        super().__init__()
        self.relay_url, self.upstream = relay_url, upstream
        self.session = ReplaySession(replay)

    def on_mount(self) -> None:
        self.push_screen(WatchScreen(self.relay_url, self.upstream))

    def seen(self, trace: Trace) -> None:
        """The relay's listener: from its thread, a message to the app (never a wait on the UI loop)."""
        self.post_message(self.CallSeen(trace))

    def on_watch_app_call_seen(self, message: WatchApp.CallSeen) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, WatchScreen):
                screen.query_one(CallsPanel).show(message.trace)
