"""The chat screen's commands: what Enter sends (a message, an edit, a slash command), and the commands that act at once
(a mixin of ChatScreen: they read and set the screen's state throughout)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from guide.tui import slash
from guide.tui.boundary import guarded
from guide.tui.widgets.composer import PLACEHOLDER, Composer

if TYPE_CHECKING:
    from guide.chat_session import ChatSession
    from guide.conversation import Turn
    from guide.tui.screens.chat_find import ChatParts

    class _Screen(ChatParts):
        session: ChatSession
        preparing: int
        attaching: set[str]
        editing: tuple[Turn, str] | None

        def reply(self, text: str) -> Any: ...
        def edit(self, turn: Turn, text: str) -> Any: ...
else:
    _Screen = object


class Commands(_Screen):
    # Handlers here never wait on a layout or a mount into this screen (that needs this screen's own
    # messages, which wait for the handler): anything that does runs as a worker.

    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        text = event.text  # the composer let exactly these words go as Enter was pressed; keys typed since are the next message
        command = slash.parse(text.strip())
        if command is None and text.strip().startswith("/"):
            problem: str | None = f"There is no command {text.split()[0]}. /help lists them."
        else:
            problem = command[0].problem(command[1]) if command is not None else None
        if problem:
            self.composer.give_back(text)
            self.notify(problem, severity="warning")
        elif command is None and self.editing is not None:
            edited, self.editing = self.editing[0], None
            self.composer.placeholder = PLACEHOLDER
            self.edit(edited, text)
        elif command is None:
            if self.preparing:
                words = "A picture is still being made ready: it goes with your next message, not this one."
                self.notify(words, title="attach", severity="warning", timeout=6)
            self.reply(text)
        elif command[0].gentle is not None:
            self.run_gentle(command[0], command[1])
        else:
            # Not awaited here: the action may mount into this screen (the find bar), which waits for this handler.
            self.run_worker(self.app.run_action(slash.app_action(*command)), group="command")

    @work(group="action")
    @guarded
    async def action_export(self, argument: str = "") -> None:
        """/export [all] [calls]: this conversation as Markdown, in the data folder: the branch in view, or every branch."""
        asked = set(argument.split())
        if asked - {"all", "calls"}:
            self.notify("Usage: /export [all] [calls] — all writes every branch, calls adds each call.", severity="warning")
            return
        path = await self.session.export(self.conversation, with_calls="calls" in asked, every_branch="all" in asked)
        self.notify(f"Exported to {path}", title="Export", timeout=8) if path else self.notify("There is nothing to export yet.", severity="warning")

    @work(group="action")
    @guarded
    async def action_attach(self, path: str) -> None:
        """/attach FILE (or a picture's path pasted on its own): the picture goes with the next message (once, if attached twice)."""
        import asyncio
        import os.path

        def real(where: str) -> str:
            return os.path.realpath(os.path.expanduser(where.strip()))

        pending = [picture.path for picture in self.conversation.pending if picture.path]
        wanted, attached = await asyncio.to_thread(lambda: (real(path), {real(where) for where in pending}))  # off the loop: a slow mount
        if wanted in attached | self.attaching:
            words = f"{os.path.basename(wanted)} is already attached: it goes once, with your next message."
            self.notify(words, title="attach", timeout=5)
            return
        self.preparing += 1
        self.attaching.add(wanted)
        try:
            prepared = await self.conversation.attach(path)
        finally:
            self.preparing -= 1
            self.attaching.discard(wanted)
        count = len(self.conversation.pending)
        them = "them" if count > 1 else "it"
        self.composer.placeholder = f"{count} picture{'s' if count > 1 else ''} attached: write your message, Enter sends it with {them}."
        words = prepared.note  # written for the trace, once sent; said here before it is
        replaced = (
            (" was sent at ", " is ready at "),
            ("; sent at ", "; it is ready at "),
            (" was sent as ", " goes as "),
            ("; sent as it is.", "; it goes as it is."),
        )
        for sent, ready in replaced:
            words = words.replace(sent, ready)
        self.notify(f"{words} It goes with your next message.", title="attach", timeout=6)

    def on_composer_picture_pasted(self, event: Composer.PicturePasted) -> None:
        self.action_attach(event.path)

    @work(group="action")
    @guarded
    async def run_gentle(self, command: slash.SlashCommand, argument: str) -> None:
        """A gentle slash command: a real call, its block added to the conversation."""
        await self.session.started.wait()
        assert command.gentle is not None
        await self.transcript.show_latest()
        await command.gentle(self.conversation, argument)
