"""Conversations kept in the store: list, resume, rename, delete, export, start anew."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guide.locations import write_private
from guide.tui.boundary import guarded
from guide.tui.parts import Parts
from guide.tui.session import Session, Turn

if TYPE_CHECKING:
    from guide.store import StoredMessage

RESUME_PAGE = 200
"""Turns read when a conversation opens; the transcript mounts only the last few."""
OLDER_PAGE = 1000
"""Turns read from the store at a time as the user scrolls back."""
PANEL_OPENING = 10
"""Calls shown in the panel when a conversation opens (a screenful; the counts include them all)."""
PANEL_PAGE = 50
"""Calls added each time the user asks for earlier ones."""


class History(Parts):
    """The conversations screen and what it leads to."""

    def action_conversations(self) -> None:
        from guide.tui.screens.conversations import ConversationsScreen

        if self.store is None:
            self.notify(self.store_problem or "Conversations are not being saved.", severity="warning")
            return
        self.push_screen(ConversationsScreen(self.store.conversations(), self.store.search), self._conversation_chosen)

    @guarded
    async def _conversation_chosen(self, choice: Any) -> None:
        if choice is None or self.store is None:
            return
        if choice.verb == "resume":
            await self.resume(choice.conversation_id, choice.message_id)
        elif choice.verb == "rename":
            self.store.rename(choice.conversation_id, choice.title)
            self.notify(f"Renamed to “{choice.title}”.", timeout=3)
        elif choice.verb == "delete":
            self.store.delete(choice.conversation_id)
            if choice.conversation_id == self.session.conversation_id:
                await self.action_new_conversation()
            self.notify("Deleted.", timeout=3)
        elif choice.verb.startswith("export"):
            self.export(choice.conversation_id, with_calls=choice.verb == "export-calls")

    async def action_new_conversation(self) -> None:
        """A fresh conversation: the greeting again, no call."""
        await self._begin(Session(self.session.persona, self.settings.address))

    async def _begin(self, session: Session, fetch_older: Any = None) -> None:
        if self.streaming:
            self.action_stop()
        self.session = session
        self._unfiled.clear()
        self.chat.panel.clear()
        self.calls.clear()
        await self.show_session(fetch_older)

    async def resume(self, conversation_id: int, message_id: int | None = None) -> None:
        """Open a stored conversation at its latest turns (or at a message search found).

        Older turns are read from the store as the user scrolls up.
        """
        store = self.store
        info = store.conversation(conversation_id) if store is not None else None
        if store is None or info is None:
            return
        persona = self.shelf.personas.get(info.persona, self.session.persona)
        session = Session(persona, self.settings.address, conversation_id)
        session.turns += self._turns(store.page(conversation_id, limit=RESUME_PAGE), persona.name)

        async def fetch_older() -> list[Turn]:
            first = next((t.message_id for t in session.turns if t.message_id is not None), None)
            if first is None:
                return []
            return self._turns(store.page(conversation_id, before=first, limit=OLDER_PAGE), persona.name)

        await self._begin(session, fetch_older if len(session.turns) == RESUME_PAGE else None)
        from guide.client import Trace

        shown = [Trace.from_dict(data) for data in store.traces(conversation_id, latest=PANEL_OPENING)]
        self.chat.panel.show_earlier(shown, store.trace_count(conversation_id) - len(shown))
        self.calls.update(store.call_counts(conversation_id))
        self.refresh_status()
        if message_id is not None:
            await self.show_message(message_id)

    async def show_message(self, message_id: int) -> None:
        """Scroll to a stored message of this conversation, marked as found."""
        transcript = self.chat.transcript

        def reached() -> bool:  # ids grow with time: the oldest turn read is at or before the one wanted
            oldest = transcript.turns[0].message_id if transcript.turns else None
            return oldest is not None and oldest <= message_id

        await transcript.load_back(reached)
        turn = next((t for t in transcript.turns if t.message_id == message_id), None)
        if turn is not None:
            transcript.mark([turn], turn)
            await transcript.reveal(turn)

    def on_mapping_panel_earlier_wanted(self) -> None:
        """The calls before the first row, from the store."""
        from guide.client import Trace

        panel, store, conversation = self.chat.panel, self.store, self.session.conversation_id
        if store is None or conversation is None or not panel.traces:
            return
        first = next(iter(panel.traces.values())).started_at
        earlier = [Trace.from_dict(data) for data in store.traces(conversation, latest=PANEL_PAGE, before=first)]
        panel.show_earlier(earlier, max(0, panel.earlier - len(earlier)))

    @staticmethod
    def _turns(messages: list[StoredMessage], persona: str) -> list[Turn]:
        return [Turn(m.role, m.content, m.state, m.persona or persona, m.id, m.trace_id) for m in messages]

    def export(self, conversation_id: int | None = None, *, with_calls: bool = False) -> None:
        """Write a conversation to Markdown in the data folder."""
        from guide.tui.commands import saved_path

        target = conversation_id or self.session.conversation_id
        if self.store is None or target is None:
            self.notify("There is nothing to export yet.", severity="warning")
            return
        path = saved_path("exports", ".md")
        write_private(path, self.store.export_markdown(target, with_calls=with_calls))
        self.notify(f"Exported to {path}", title="Export", timeout=8)
