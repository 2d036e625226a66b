"""The map: every gentle action, its legacy endpoint, this server's support, the calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

from guide.safe_text import one_line
from guide.tui.boundary import guarded

if TYPE_CHECKING:
    from guide.chat_session import ChatSession

MARKS = {"yes": "✓ offered", "no": "✗ not offered", "unknown": "? unknown"}


class MapScreen(ModalScreen[None]):
    """The table of gentle actions; p probes the server again."""

    BINDINGS = [
        Binding("escape,q,f3", "dismiss", "Close", id="close"),
        Binding("p", "probe", "Probe again", id="probe", tooltip="Ask the server again which actions it offers"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.address = session.server_address()
        self.support = session.support
        self.calls: Mapping[str, int] = session.conversation.call_counts()

    def compose(self) -> ComposeResult:
        with Vertical(id="map"):
            yield Label(f"The map · {one_line(self.address)}", id="map-title", markup=False)
            yield DataTable(id="map-table", cursor_type="row", zebra_stripes=True)
            yield Label("", id="map-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("gentle action", "legacy endpoint", "this server", "calls", "SDK call", "what it means")
        self.fill()
        if self.support is None:
            self.probe()

    def fill(self) -> None:
        """Fill the table from the map, the probe and the call counts."""
        from guide.client import ACTIONS

        table = self.query_one(DataTable)
        table.clear()
        for name, action in ACTIONS.items():
            found = (self.support or {}).get(name, {})
            mark = MARKS.get(found.get("support", ""), "… probing" if self.support is None else "?")
            table.add_row(name, action.endpoint, mark, str(self.calls.get(name, 0)), action.sdk_call, action.meaning, key=name)
        note = "Support is learned from empty requests that generate nothing (p probes again)."
        self.query_one("#map-note", Label).update(note)

    @work(exclusive=True, group="probe")
    @guarded
    async def probe(self, force: bool = False) -> None:
        """Which actions this server offers (probed once per server, cached in the store; p asks again)."""
        await self.session.started.wait()
        self.support = await self.session.probe(force=force)
        self.fill()

    def action_probe(self) -> None:
        self.support = None
        self.fill()
        self.probe(force=True)
