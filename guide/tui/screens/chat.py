"""The main screen: status line, transcript, calls panel, composer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from guide.safe_text import one_line
from guide.tui.session import Turn
from guide.tui.widgets.composer import Composer
from guide.tui.widgets.mapping_panel import MappingPanel
from guide.tui.widgets.transcript import MessageView, Transcript

if TYPE_CHECKING:
    from guide.tui.widgets.find_bar import FindBar

NARROW = 100
"""Below this width the calls panel folds away (F2 brings it back)."""


class ChatScreen(Screen[None]):
    """Where the conversation happens; it opens with the persona's greeting."""

    def __init__(self, who: str, greeting: str, status: str, turns: list[Turn]) -> None:
        super().__init__()
        self.opening = (who, greeting)
        self.status = status
        self.turns = turns

    def compose(self) -> ComposeResult:
        yield Static(self.status, id="status", markup=False)
        with Horizontal(id="body"):
            yield Transcript(MessageView("greeting", *self.opening), self.turns, id="transcript")
            yield MappingPanel()
        yield OptionList(id="suggestions")
        yield Composer()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#suggestions").display = False
        self.query_one(Composer).focus()

    def on_resize(self) -> None:
        panel = self.query_one(MappingPanel)
        wanted = getattr(self.app, "panel_wanted", None)
        panel.display = wanted if wanted is not None else self.size.width >= NARROW

    @property
    def transcript(self) -> Transcript:
        """The transcript widget."""
        return self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        """The composer widget."""
        return self.query_one(Composer)

    async def find_bar(self) -> FindBar:
        """The find bar above the composer (made on first use: launch stays light)."""
        from guide.tui.widgets.find_bar import FindBar

        found = self.query(FindBar)
        if found:
            return found.first()
        bar = FindBar(id="find-bar")
        await self.mount(bar, before=self.composer)
        return bar

    @property
    def panel(self) -> MappingPanel:
        """The calls panel."""
        return self.query_one(MappingPanel)

    def set_status(self, text: str) -> None:
        """The line at the top: persona, server, model."""
        self.status = text = one_line(text)  # model and persona names come from outside
        if self.is_mounted:
            self.query_one("#status", Static).update(text)
