"""Finding words in the conversation on screen: every match marked, one at a time in view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guide.tui.parts import Parts
from guide.tui.session import Turn

if TYPE_CHECKING:
    from guide.tui.widgets.find_bar import FindBar


def around(text: str, words: str, width: int = 60) -> str:
    """The words around the first match, on one line."""
    at = text.casefold().find(words.casefold())
    start = max(0, at - width // 3)
    line = " ".join(text[start : start + width].split())
    return ("…" if start else "") + line + ("…" if start + width < len(text) else "")


class Finding(Parts):
    """ctrl+f or /find WORDS: mark every turn that holds the words, walk through them."""

    found: list[Turn]
    found_at: int
    found_for: tuple[str, int] | None = None
    """The words last looked for, and how many turns there were then."""

    async def action_find(self, words: str = "") -> None:
        """Open the find bar (with words: look for them at once)."""
        bar = await self.chat.find_bar()
        bar.open(words)
        if words:
            bar.post_message(bar.Step(words, -1))

    async def on_find_bar_step(self, event: FindBar.Step) -> None:
        words = " ".join(event.words.split())
        if not words:
            return
        transcript = self.chat.transcript
        if self.found_for != (words, len(transcript.turns)):
            await transcript.load_all()
            needle = words.casefold()
            self.found = [t for t in transcript.turns if needle in t.content.casefold()]
            self.found_for, self.found_at = (words, len(transcript.turns)), len(self.found)
        bar = await self.chat.find_bar()
        if not self.found:
            transcript.mark((), None)
            bar.say(f"No message holds “{words}”.")
            return
        self.found_at = (self.found_at + event.direction) % len(self.found)
        current = self.found[self.found_at]
        transcript.mark(self.found, current)
        await transcript.reveal(current)
        bar.say(f"{self.found_at + 1} of {len(self.found)} · {around(current.content, words)}")

    def on_find_bar_closed(self, event: Any) -> None:
        self.found_for = None
        self.chat.transcript.mark((), None)
        self.chat.composer.focus()
