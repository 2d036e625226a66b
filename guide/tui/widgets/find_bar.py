"""The find bar: words to look for in this conversation, and where the search is."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from guide.safe_text import one_line


class FindBar(Horizontal):
    """Enter or ↑ goes to the next older match, ↓ to the newer one, Esc closes."""

    @dataclass
    class Step(Message):
        """Look for the words, or move to another match (-1 older, +1 newer)."""

        words: str
        direction: int

    class Closed(Message):
        """The user is done finding."""

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
        """`3 of 17` and the words around the match."""
        self.query_one("#find-where", Label).update(one_line(where))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Step(event.value, -1))

    def on_key(self, event: events.Key) -> None:
        moves = {"up": -1, "down": 1}
        if event.key in moves:
            event.stop()
            self.post_message(self.Step(self.words, moves[event.key]))
        elif event.key == "escape":
            event.stop()
            self.display = False
            self.post_message(self.Closed())
