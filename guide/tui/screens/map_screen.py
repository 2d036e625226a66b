"""The map: every gentle action, its legacy endpoint, this server's support, the calls, and the probe's own calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from guide.safe_text import one_line
from guide.tui.boundary import guarded

if TYPE_CHECKING:
    from guide.chat_session import ChatSession

MARKS = {"yes": "✓ offered", "no": "✗ not offered", "unknown": "? unknown"}
FIXED = ("gentle action", "legacy endpoint · SDK call", "this server", "calls")
FIXED_WIDTHS = (13, 29, 13, 5)
"""The widest text each fixed column holds ("POST /v1/audio/transcriptions"); the meaning takes the rest, wrapped."""
MEANING_WIDTH = 18, 44
"""The meaning column's narrowest and widest: narrower terminals scroll the table sideways instead."""
EDGES = 2 * (len(FIXED) + 1) + 2
"""Each cell's padding, and room for the table's scroll bar."""


class MapScreen(ModalScreen[None]):
    """The table of gentle actions; p probes the server again, Enter opens a row's probe call."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("escape,q,f3", "dismiss", "Close", id="close"),
        Binding("p", "probe", "Probe again", id="probe", tooltip="Ask the server again which actions it offers"),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.address = session.server_address()
        self.support = session.server.support
        self.calls: Mapping[str, int] = session.conversation.call_counts()

    def compose(self) -> ComposeResult:
        with Vertical(id="map"):
            yield Label(f"The map · {one_line(self.address)}", id="map-title", markup=False)
            yield DataTable(id="map-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="map-note", markup=False)  # wraps on a narrow screen
        yield Footer()

    def on_mount(self) -> None:
        self.fill()
        if self.support is None:
            self.probe()

    def on_resize(self, event: events.Resize) -> None:
        self.fill()  # the meaning column wraps to what is left of the width

    def fill(self) -> None:
        """Fill the table from the map, the probe and the call counts."""
        from guide.client import ACTIONS

        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        for label, width in zip(FIXED, FIXED_WIDTHS, strict=True):
            table.add_column(label, width=width, key=label)
        room = table.size.width - sum(FIXED_WIDTHS) - EDGES  # what the fixed columns leave
        table.add_column("what it means", width=max(MEANING_WIDTH[0], min(MEANING_WIDTH[1], room)), key="meaning")
        for name, action in ACTIONS.items():
            found = (self.support or {}).get(name, {})
            mark = MARKS.get(found.get("support", ""), "… probing" if self.support is None else "?")
            endpoint = Text(action.endpoint)
            endpoint.append("\n" + action.sdk_call, style="dim")
            table.add_row(name, endpoint, mark, str(self.calls.get(name, 0)), action.meaning, key=name, height=None)  # ours: no markup
        table.move_cursor(row=min(row, len(ACTIONS) - 1))
        self.explain(table.cursor_row)

    def explain(self, row: int) -> None:
        """Say under the table what the probe learnt about the highlighted action, and that Enter opens its call."""
        from guide.client import ACTIONS

        names = list(ACTIONS)
        name = names[max(0, min(row, len(names) - 1))]
        found: dict[str, Any] = (self.support or {}).get(name, {})
        if self.support is None:
            words = "Probing: empty requests that generate nothing ask the server which actions it offers."
        elif not found:
            words = f"{name}: not probed."
        else:
            status = f"HTTP {found['status']}" if found.get("status") is not None else "no answer"
            words = f"{name}: {found.get('reason', '')} ({status})."
        hint = "Enter opens the probe's call · p probes again" if name in self.session.server.calls else "p probes again"
        self.query_one("#map-note", Static).update(f"{one_line(words)}\n{hint}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.explain(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from guide.tui.screens.call_detail import CallDetail

        trace = self.session.server.calls.get(str(event.row_key.value))
        if trace is None:
            self.notify("This server's probe kept no call for that action; p probes again.", severity="warning", timeout=4)
            return
        self.app.push_screen(CallDetail(trace))

    @work(exclusive=True, group="probe")
    @guarded
    async def probe(self, force: bool = False) -> None:
        """Which actions this server offers (probed once per server, cached in the store; p asks again)."""
        await self.session.started.wait()
        self.support = await self.session.probe(force=force, tell=False)
        self.fill()

    def action_probe(self) -> None:
        self.support = None
        self.fill()
        self.probe(force=True)
