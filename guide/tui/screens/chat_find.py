"""The chat screen's find: words looked for in the branch in view or another (a mixin of ChatScreen, whose state it keeps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.screen import Screen

from guide.tui.boundary import guarded

if TYPE_CHECKING:
    from guide.conversation import Conversation, Turn
    from guide.tui.widgets.composer import Composer
    from guide.tui.widgets.find_bar import FindBar
    from guide.tui.widgets.transcript import Transcript

    class ChatParts(Screen[None]):
        """What the chat screen's mixins read of it (for the type checker only)."""

        @property
        def conversation(self) -> Conversation: ...
        @property
        def transcript(self) -> Transcript: ...
        @property
        def composer(self) -> Composer: ...

    class _Screen(ChatParts):
        found: list[Turn]
        found_at: int
        found_for: tuple[str, int] | None
else:
    _Screen = object


def around(text: str, words: str, width: int = 60) -> str:
    """The words around the first match, on one line."""
    at = text.casefold().find(words.casefold())
    start = max(0, at - width // 3)
    line = " ".join(text[start : start + width].split())
    return ("…" if start else "") + line + ("…" if start + width < len(text) else "")


class Finding(_Screen):
    async def find_bar(self) -> FindBar:
        """The find bar above the composer (made on first use: launch stays light)."""
        from guide.tui.widgets.find_bar import FindBar

        found = self.query(FindBar)
        if found:
            return found.first()
        bar = FindBar(id="find-bar")
        await self.mount(bar, before=self.composer)
        return bar

    async def find(self, words: str = "") -> None:
        """Open the find bar (with words: look for them at once)."""
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
