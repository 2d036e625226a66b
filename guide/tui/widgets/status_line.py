"""The status line: the session's Status, read as it is drawn, refitted whenever the width changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from guide.status import fit

if TYPE_CHECKING:
    from guide.chat_session import ChatSession


class StatusLine(Static):
    """Persona · server · model, read from the session each time it is drawn (the screen redraws it when a switch is announced)."""

    def __init__(self, session: ChatSession, **options: object) -> None:
        super().__init__(markup=False, **options)  # type: ignore[arg-type]
        self.session = session

    def render(self) -> Content:
        return Content(fit(self.session.status(), self.content_region.width or self.size.width or 80))
