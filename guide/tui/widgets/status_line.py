"""The status line: the session's Status, refitted whenever the width changes."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from guide.status import Status, fit


class StatusLine(Static):
    """Persona · server · model, refitted whenever the width changes."""

    def __init__(self, status: Status, **options: object) -> None:
        super().__init__(markup=False, **options)  # type: ignore[arg-type]
        self.status = status

    def show(self, status: Status) -> None:
        self.status = status
        self.refresh()

    def render(self) -> Content:
        return Content(fit(self.status, self.content_region.width or self.size.width or 80))
