"""Asking before an MCP tool runs: y once, a always (in this conversation), n no (the model is told it was declined)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from guide.safe_text import one_line

KEYS = "y run it once · a always, for this tool in this conversation · n or Esc no (the model is told)"


class ApproveTool(ModalScreen[str]):
    """The model asks an MCP server's tool to run: the user says whether it may."""

    BINDINGS = [
        Binding("y", "answer('y')", "Run once", id="once"),
        Binding("a", "answer('a')", "Always (this conversation)", id="always"),
        Binding("n,escape", "answer('n')", "No", id="no"),
    ]

    def __init__(self, server: str, shown: str) -> None:
        super().__init__()
        self.server, self.shown = server, shown

    def compose(self) -> ComposeResult:
        with Vertical(id="approve-tool", classes="picker confirm"):  # the look of every question guide asks (confirm.py)
            yield Label(f"The model asks MCP server {one_line(self.server)} to run a tool", classes="picker-title", markup=False)
            yield Label(one_line(self.shown), id="approve-call", classes="confirm-question", markup=False)
            yield Label(
                "y run it once · a always, for this tool in this conversation · n or Esc no (the model is told)", classes="picker-note", markup=False
            )
        yield Footer(compact=True)

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)
