"""A question with two answers: y does it, n or Esc leaves things as they are."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from guide.safe_text import visible


class Confirm(ModalScreen[bool]):
    """Ask before something that cannot be taken back, or that may not work."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("y", "dismiss(True)", "Yes", id="yes"),
        Binding("n,escape", "dismiss(False)", "No", id="no"),
    ]

    def __init__(self, title: str, question: str, keys: str = "y yes · n or Esc no") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker confirm"):
            yield Label(visible(self.title_text), classes="picker-title", markup=False)
            yield Label(visible(self.question), classes="confirm-question", markup=False)
            yield Label(self.keys, classes="picker-note", markup=False)
        yield Footer(compact=True)
