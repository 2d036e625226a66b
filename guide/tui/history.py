"""Conversations kept in the store: list, resume, rename, delete, export, start anew."""

from __future__ import annotations

from typing import Any

from guide.tui.parts import Parts
from guide.tui.session import Session, Turn


class History(Parts):
    """The conversations screen and what it leads to."""

    def action_conversations(self) -> None:
        from guide.tui.screens.conversations import ConversationsScreen

        if self.store is None:
            self.notify(self.store_problem or "Conversations are not being saved.", severity="warning")
            return
        self.push_screen(ConversationsScreen(self.store.conversations()), self._conversation_chosen)

    async def _conversation_chosen(self, choice: Any) -> None:
        if choice is None or self.store is None:
            return
        if choice.verb == "resume":
            await self.resume(choice.conversation_id)
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
        if self.streaming:
            self.action_stop()
        self.session = Session(self.session.persona, self.settings.address)
        self._unfiled.clear()
        await self.chat.transcript.clear()
        self.chat.panel.clear()
        self.calls.clear()
        await self.show_greeting()

    async def resume(self, conversation_id: int) -> None:
        """Open a stored conversation where it left off."""
        assert self.store is not None
        info = self.store.conversation(conversation_id)
        if info is None:
            return
        await self.action_new_conversation()
        if info.persona in self.shelf.personas:
            self.session.persona = self.shelf.personas[info.persona]
        self.session.conversation_id = conversation_id
        transcript = self.chat.transcript
        for message in self.store.messages(conversation_id):
            turn = Turn(message.role, message.content, message.state, message.persona, message.id, message.trace_id)
            self.session.turns.append(turn)
            if message.role == "divider":
                await transcript.add_divider(message.content)
            else:
                who = "You" if message.role == "user" else message.persona or self.session.persona.name
                await transcript.add_message(message.role, who, message.content, message.state)
        from guide.client import Trace

        for data in self.store.traces(conversation_id):
            trace = Trace.from_dict(data)
            self.chat.panel.show(trace)
            self.calls[trace.action] += 1
        self.refresh_status()

    def export(self, conversation_id: int | None = None, *, with_calls: bool = False) -> None:
        """Write a conversation to Markdown in the data folder."""
        from guide.tui.commands import saved_path

        target = conversation_id or self.session.conversation_id
        if self.store is None or target is None:
            self.notify("There is nothing to export yet.", severity="warning")
            return
        path = saved_path("exports", ".md")
        path.write_text(self.store.export_markdown(target, with_calls=with_calls), encoding="utf-8")
        self.notify(f"Exported to {path}", title="Export", timeout=8)
