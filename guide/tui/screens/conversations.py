"""Conversations: resume, rename, delete, export, and search across them all."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label

from guide.safe_text import one_line
from guide.store import ConversationInfo, Hit, Store, StoreUnavailable

SNIPPET = 70
"""Characters of a search hit's words shown in the list."""


@dataclass(frozen=True)
class Choice:
    """What the user chose to do with a conversation."""

    verb: str
    """resume, rename, delete, export or export-calls."""
    conversation_id: int
    title: str = ""
    message_id: int | None = None
    """The message a search found, to open the conversation at."""


class ConversationsScreen(ModalScreen[Choice | None]):
    """The conversation list, most recent first; `/` searches the words of every conversation."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("slash,ctrl+f", "search", "Search", id="search"),
        Binding("escape", "close", "Close", id="close"),
        Binding("f4", "dismiss(None)", "Close", id="close-f4", show=False),
        Binding("enter", "choose('resume')", "Resume", id="resume", show=True),
        Binding("r", "rename", "Rename", id="rename"),
        Binding("d", "delete", "Delete", id="delete"),
        Binding("e", "choose('export')", "Export", id="export"),
        Binding("E", "choose('export-calls')", "Export with calls", id="export-calls"),
    ]

    def __init__(
        self, conversations: list[ConversationInfo], store: Store | None = None, act: Callable[[Choice], Awaitable[object]] | None = None
    ) -> None:
        super().__init__()
        self.conversations = conversations
        self.store = store
        """Where search looks (read off the UI loop, as you type)."""
        self.act = act
        """Renames, deletes or exports, the list staying open (resume closes it); without it, each closes the list."""
        self.hits: list[Hit] = []
        self.open_when_found = False
        """Enter came before the search's answer: open the first match as soon as it is shown."""

    def compose(self) -> ComposeResult:
        with Vertical(id="conversations"):
            yield Label("Conversations", classes="picker-title")
            # Rename opens here, at the top where the eye is, holding the title to edit.
            yield Input(placeholder="New title, then Enter (Esc keeps the old one)", id="rename-input")
            yield Input(placeholder="Search the words of every conversation  ( / )", id="search-input")
            yield DataTable(id="conversation-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self._list()
        self._end_rename()

    def _table(self, *columns: str) -> DataTable[object]:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        return table

    def _list(self) -> None:
        table = self._table("title", "persona", "messages", "last activity")
        for c in self.conversations:
            table.add_row(Text(one_line(c.title or "(untitled)")), Text(one_line(c.persona)), str(c.messages), when(c.updated_at), key=str(c.id))
        if not self.conversations:
            table.add_row("No conversations yet.", "", "", "")

    @work(exclusive=True, group="search")
    async def _search(self, words: str) -> None:
        """Search every conversation off the UI loop; a newer search replaces this one."""
        assert self.store is not None
        try:
            hits = await self.store.read(self.store.search, words)
        except StoreUnavailable as error:
            self.notify(str(error), title=error.title, severity="warning")
            return
        self._show_hits(words, hits)
        if self.open_when_found:
            self.open_when_found = False
            self._open_first_match()

    def _show_hits(self, words: str, hits: list[Hit]) -> None:
        self.hits = hits
        table = self._table("conversation", "who", "when", "words")
        for hit in self.hits:
            who = {"user": "You", "assistant": "Guide"}.get(hit.role, f"/{hit.kind}")
            snippet = hit.snippet if len(hit.snippet) <= SNIPPET else hit.snippet[: SNIPPET - 1] + "…"
            title = Text(one_line(hit.title or "(untitled)"))
            table.add_row(title, who, when(hit.created_at), Text(one_line(snippet)), key=f"{hit.conversation_id}:{hit.message_id}")
        if not self.hits:
            table.add_row(Text(one_line(f"No message holds “{words}”.")), "", "", "")

    @on(Input.Changed, "#search-input")
    def searched(self, event: Input.Changed) -> None:
        words = event.value.strip()
        self.open_when_found = False
        self._search(words) if words else self._list()

    @on(Input.Submitted, "#search-input")
    def search_done(self, event: Input.Submitted) -> None:
        """Enter opens the match under the cursor (the first), as one expects of a search box; the list gets the keys after."""
        if event.value.strip() and any(worker.node is self and worker.group == "search" and worker.is_running for worker in self.workers):
            self.open_when_found = True
            return
        self._open_first_match()

    def _open_first_match(self) -> None:
        self.query_one(DataTable).focus()
        if self.hits and self.query_one("#search-input", Input).value.strip():
            self.action_choose("resume")

    def action_search(self) -> None:
        if self.store is not None:
            self.query_one("#search-input").focus()

    def _selected(self) -> tuple[int, int | None] | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if not key:
            return None
        conversation, _, message = key.partition(":")
        return int(conversation), int(message) if message else None

    def action_choose(self, verb: str) -> None:
        selected = self._selected()
        if selected is not None:
            self._done(Choice(verb, selected[0], message_id=selected[1]))

    def _done(self, choice: Choice) -> None:
        """Resume closes the list; a rename, delete or export is done in place, and the list shows what changed."""
        if choice.verb == "resume" or self.act is None or self.store is None:
            self.dismiss(choice)
        else:
            self._act(choice)

    @work(group="act")
    async def _act(self, choice: Choice) -> None:
        assert self.act is not None and self.store is not None
        await self.act(choice)
        table = self.query_one(DataTable)
        row = table.cursor_row
        try:
            await self.store.read(self.store.flush, 5.0)  # the rename or delete just queued lands before the list is read again
            self.conversations = await self.store.read(self.store.conversations)
        except StoreUnavailable as error:
            self.notify(str(error), title=error.title, severity="warning")
            return
        table.focus()
        words = self.query_one("#search-input", Input).value.strip()
        if words:
            self._search(words)  # the hits again, under their new titles (or gone)
            return
        self._list()
        keys = [str(c.id) for c in self.conversations]
        table.move_cursor(row=keys.index(str(choice.conversation_id)) if str(choice.conversation_id) in keys else min(row, table.row_count - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose("resume")

    def title_of(self, conversation_id: int) -> str:
        """The title the list shows for a conversation (from the list, or a search hit)."""
        titles = {c.id: c.title for c in self.conversations} | {h.conversation_id: h.title for h in self.hits}
        return titles.get(conversation_id, "")

    def action_close(self) -> None:
        """Esc: leave the rename field if it is open (the old title stays), else close the list."""
        field = self.query_one("#rename-input", Input)
        if field.display:
            self._end_rename()
        else:
            self.dismiss(None)

    def action_rename(self) -> None:
        """r: the title to edit, at the top, selected so that typing replaces it."""
        selected = self._selected()
        if selected is None:
            return
        field = self.query_one("#rename-input", Input)
        field.value = self.title_of(selected[0])
        field.display = True
        self.query_one("#search-input").display = False
        field.focus()  # focusing selects it all (select_on_focus)

    def _end_rename(self) -> None:
        self.query_one("#rename-input").display = False
        self.query_one("#search-input").display = self.store is not None
        self.query_one(DataTable).focus()

    @on(Input.Submitted, "#rename-input")
    def renamed(self, event: Input.Submitted) -> None:
        selected = self._selected()
        if selected is not None and event.value.strip():
            self._end_rename()
            self._done(Choice("rename", selected[0], event.value.strip()))

    def action_delete(self) -> None:
        """d: ask first; y deletes, n or Esc keeps it."""
        selected = self._selected()
        if selected is None:
            return
        title = self.title_of(selected[0])

        def answered(yes: bool | None) -> None:
            if yes:
                self._done(Choice("delete", selected[0], title))

        from guide.tui.screens.confirm import Confirm

        asked = f"Delete «{one_line(title or '(untitled)')}»?"
        self.app.push_screen(Confirm(asked, "Its messages and calls go for good.", keys="y deletes it · n or Esc keeps it"), answered)


def when(timestamp: float) -> str:
    """`2026-11-25 14:59`, local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
