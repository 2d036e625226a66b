"""Asking before an MCP tool runs: y once, a always (in this conversation), n no (the model is told it was declined)."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from guide.safe_text import one_line

KEYS = "y run it once · a always, for this tool in this conversation · n or Esc no (the model is told)"
EARLY = "A key pressed as this opened is not an answer (you may have been typing): press y, a or n again."


class ApproveTool(ModalScreen[str]):
    """The model asks an MCP server's tool to run: the user says whether it may."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("y", "answer('y')", "Run once", id="once"),
        Binding("a", "answer('a')", "Always (this conversation)", id="always"),
        Binding("n,escape", "answer('n')", "No", id="no"),
    ]

    SETTLE = 0.5
    """Seconds after it opens in which no key is an answer: it opens while the user may be typing (the composer invites
    it while the model answers), and the next letters of their sentence must not approve a call (nor decline one)."""

    def __init__(self, server: str, shown: str) -> None:
        super().__init__()
        self.server, self.shown = server, shown
        self.opened = time.monotonic()

    def on_mount(self) -> None:
        self.opened = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="approve-tool", classes="picker confirm"):  # the look of every question guide asks (confirm.py)
            yield Label(f"The model asks MCP server {one_line(self.server)} to run a tool", classes="picker-title", markup=False)
            yield Label(one_line(self.shown), id="approve-call", classes="confirm-question", markup=False)
            yield Label(KEYS, id="approve-keys", classes="picker-note", markup=False)
        yield Footer(compact=True)

    def action_answer(self, answer: str) -> None:
        if time.monotonic() - self.opened < self.SETTLE:
            self.query_one("#approve-keys", Label).update(EARLY)
            return
        self.dismiss(answer)
