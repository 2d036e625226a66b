"""The chat screen's commands (a mixin of ChatScreen: they read and set the screen's state throughout): what Enter sends
(a message, an edit, a slash command), the commands that act at once, and find, in the branch in view or another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.screen import Screen

from guide.tui import slash
from guide.tui.boundary import guarded
from guide.tui.widgets.composer import PLACEHOLDER, Composer

if TYPE_CHECKING:
    from guide.chat_session import ChatSession
    from guide.conversation import Conversation, Turn
    from guide.tui.widgets.find_bar import FindBar
    from guide.tui.widgets.transcript import Transcript

    class _Screen(Screen[None]):
        """What the mixin reads of the chat screen (for the type checker only)."""

        session: ChatSession
        preparing: int
        attaching: set[str]
        editing: tuple[Turn, str] | None
        found: list[Turn]
        found_at: int
        found_for: tuple[str, int] | None

        @property
        def conversation(self) -> Conversation: ...
        @property
        def transcript(self) -> Transcript: ...
        @property
        def composer(self) -> Composer: ...
        def reply(self, text: str) -> Any: ...
        def edit(self, turn: Turn, text: str) -> Any: ...
else:
    _Screen = object


def around(text: str, words: str, width: int = 60) -> str:
    """The words around the first match, on one line."""
    at = text.casefold().find(words.casefold())
    start = max(0, at - width // 3)
    line = " ".join(text[start : start + width].split())
    return ("…" if start else "") + line + ("…" if start + width < len(text) else "")


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

    # Find.

    async def find_bar(self) -> FindBar:
        """The find bar above the composer (made on first use: launch stays light)."""
        from guide.tui.widgets.find_bar import FindBar

        found = self.query(FindBar)
        if found:
            return found.first()
        bar = FindBar(id="find-bar")
        await self.mount(bar, before=self.composer)
        return bar

    async def action_find(self, words: str = "") -> None:
        """ctrl+f or /find WORDS: open the find bar (with words: look for them at once)."""
        bar = await self.find_bar()
        bar.open(words)
        if words:
            bar.post_message(bar.Step(words, -1))

    def on_find_bar_step(self, event: Any) -> None:
        self.find_step(event.words, event.direction)

    @work(exclusive=True, group="find")
    @guarded
    async def find_step(self, words: str, direction: int) -> None:
        """Look for the words (once), then move to the match before (-1) or after (+1)."""
        words = " ".join(words.split())
        if not words:
            return
        if self.found_for != (words, len(self.conversation.turns)):
            await self.conversation.reach_end()
            await self._look(words)
        bar = await self.find_bar()
        opened = await self._open_branch_holding(words) if not self.found else None
        if opened is not None:
            await self._look(words, opened)
        elsewhere = "in another branch, now in view: " if opened is not None else ""
        if not self.found:
            self.transcript.mark((), None)
            bar.say(f"No message holds “{words}”.")
            return
        self.found_at = (self.found_at + direction) % len(self.found)
        current = self.found[self.found_at]
        self.transcript.mark(self.found, current)
        await self.transcript.reveal(current)
        bar.say(f"{elsewhere}{self.found_at + 1} of {len(self.found)} · {around(current.content, words)}")

    async def _look(self, words: str, opened: int | None = None) -> None:
        """Every turn held that holds the words (the store matches words, the last as a prefix: with `opened`, the message
        it found there, at least)."""
        await self.transcript.load_back(lambda: False)
        turns, needle = self.conversation.turns, words.casefold()
        self.found = [t for t in turns if needle in t.content.casefold() or (opened is not None and t.message_id == opened)]
        self.found_for, self.found_at = (words, len(turns)), len(self.found)

    async def _open_branch_holding(self, words: str) -> int | None:
        """Show the branch not in view where the words are (the best match's): the message found there, or None."""
        for message_id in await self.conversation.found_elsewhere(words):
            if await self.conversation.show_branch_of(message_id):
                await self.transcript.follow_branch()
                return message_id
        return None

    def on_find_bar_closed(self, event: Any) -> None:
        self.found_for = None
        self.transcript.mark((), None)
        self.composer.focus()

    async def show_message(self, message_id: int) -> None:
        """Scroll to a stored message of this conversation, marked as found."""
        transcript = self.transcript
        if await self.conversation.show_branch_of(message_id):  # found in a branch not in view: that branch is shown
            await transcript.follow_branch()

        def reached() -> bool:  # ids grow with time: the oldest turn read is at or before the one wanted
            oldest = self.conversation.turns[0].message_id if self.conversation.turns else None
            return oldest is not None and oldest <= message_id

        await transcript.load_back(reached)
        turn = next((t for t in self.conversation.turns if t.message_id == message_id), None)
        if turn is not None:
            transcript.mark([turn], turn)
            await transcript.reveal(turn)
