"""The find bar: words looked for in this conversation as they are typed (typing fast asks once; the screen searches in a
worker, a newer search replacing an older one), and where the search is: only ever about the words in the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label

from guide.safe_text import one_line


class FindBar(Horizontal):
    """Matches show as you type; Enter or ↑ goes to the next older match, ↓ to the newer one, Esc closes."""

    DEBOUNCE = 0.15
    """Seconds after the last keystroke before the words are looked for."""

    @dataclass
    class Step(Message):
        """Look for the words, or move to another match (-1 older, +1 newer)."""

        words: str
        direction: int

    class Closed(Message):
        """The user is done finding."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.asked = ""
        """The words of the last search asked for (the status speaks of them)."""
        self._pending: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("Find", classes="find-title")
        yield Input(placeholder="words in this conversation", id="find-input")
        yield Label("", id="find-where", markup=False)

    @property
    def words(self) -> str:
        """What the user looks for."""
        return self.query_one(Input).value

    def open(self, words: str = "") -> None:
        """Show the bar, focused, with these words."""
        self.display = True
        field = self.query_one(Input)
        if words:
            field.value = words
        field.focus()

    def say(self, where: str) -> None:
        """`3 of 17` and the words around the match: shown only while the field still holds the words it is about."""
        if normalized(self.words) == self.asked:
            self.query_one("#find-where", Label).update(one_line(where))

    def on_find_bar_step(self, event: Step) -> None:
        self.asked = normalized(event.words)  # not stopped: the screen searches

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        event.stop()
        if normalized(event.value) != self.asked:
            self.query_one("#find-where", Label).update("")  # never a status about other words
        if self._pending is not None:
            self._pending.stop()
        self._pending = self.set_timer(self.DEBOUNCE, self._look)

    def _look(self) -> None:
        self._pending = None
        words = normalized(self.words)
        if words and words != self.asked:
            self.post_message(self.Step(words, -1))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._pending is not None:  # Enter before the pause: this is the first search, not the next match
            self._pending.stop()
            self._pending = None
        self.post_message(self.Step(event.value, -1))

    def on_key(self, event: events.Key) -> None:
        moves = {"up": -1, "down": 1}
        if event.key in moves:
            event.stop()
            self.post_message(self.Step(self.words, moves[event.key]))
        elif event.key == "escape":
            event.stop()
            self.display, self.asked = False, ""
            self.query_one("#find-where", Label).update("")  # the marks go with the bar: so does their status
            self.post_message(self.Closed())


def normalized(words: str) -> str:
    """Words as they are looked for: spaces folded."""
    return " ".join(words.split())
