"""Conversations: resume, rename, delete, export."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label

from guide.store import ConversationInfo


@dataclass(frozen=True)
class Choice:
    """What the user chose to do with a conversation."""

    verb: str
    """resume, rename, delete, export or export-calls."""
    conversation_id: int
    title: str = ""


class ConversationsScreen(ModalScreen[Choice | None]):
    """The conversation list, most recent first."""

    BINDINGS = [
        Binding("escape,f4", "dismiss(None)", "Close", id="close"),
        Binding("enter", "choose('resume')", "Resume", id="resume", show=True),
        Binding("r", "rename", "Rename", id="rename"),
        Binding("d", "choose('delete')", "Delete", id="delete"),
        Binding("e", "choose('export')", "Export", id="export"),
        Binding("E", "choose('export-calls')", "Export with calls", id="export-calls"),
    ]

    def __init__(self, conversations: list[ConversationInfo]) -> None:
        super().__init__()
        self.conversations = conversations

    def compose(self) -> ComposeResult:
        with Vertical(id="conversations"):
            yield Label("Conversations", classes="picker-title")
            yield DataTable(id="conversation-table", cursor_type="row")
            yield Input(placeholder="New title, then Enter", id="rename-input")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("title", "persona", "messages", "last activity")
        for c in self.conversations:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
            table.add_row(Text(c.title or "(untitled)"), Text(c.persona), str(c.messages), when, key=str(c.id))
        if not self.conversations:
            table.add_row("No conversations yet.", "", "", "")
        self.query_one("#rename-input").display = False
        table.focus()

    def _selected(self) -> int | None:
        table = self.query_one(DataTable)
        if not self.conversations:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key else None

    def action_choose(self, verb: str) -> None:
        selected = self._selected()
        if selected is not None:
            self.dismiss(Choice(verb, selected))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose("resume")

    def action_rename(self) -> None:
        if self._selected() is None:
            return
        field = self.query_one("#rename-input", Input)
        field.display = True
        field.focus()

    @on(Input.Submitted, "#rename-input")
    def renamed(self, event: Input.Submitted) -> None:
        selected = self._selected()
        if selected is not None and event.value.strip():
            self.dismiss(Choice("rename", selected, event.value.strip()))
