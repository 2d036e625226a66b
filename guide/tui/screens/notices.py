"""Notices: short on screen (two at most, a line or two each), whole a key away (F8, newest first). One too long for its
toast is cut with "… F8"; a newer notice pushes the older of the two off for good, so notices never stack over the transcript."""

from __future__ import annotations

import textwrap
import time
from collections import deque
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

SHOWN = 2
"""Notices on screen at once; the older ones are in F8's list."""
KEPT = 50
"""Notices F8 lists."""
LONGEST = 8.0
"""Seconds a notice stays at most (its whole words stay in F8's list)."""
TOAST_WIDTH, TOAST_SHARE, RACK_SCROLLBAR, TOAST_FRAME = 56, 0.7, 2, 4
"""The toast's width in guide.tcss (56 cells, at most 70% of its rack, less the rack's scrollbar), its frame and a cell to spare."""
MORE = "… F8"


@dataclass(frozen=True)
class Said:
    """One notice, whole."""

    title: str
    message: str
    severity: str
    at: float = field(default_factory=time.time)


class Recent:
    """The latest notices, whole."""

    def __init__(self) -> None:
        self.said: deque[Said] = deque(maxlen=KEPT)

    def add(self, title: str, message: str, severity: str) -> None:
        self.said.append(Said(title, message, severity))


def summary(title: str, message: str, screen_width: int) -> tuple[str, bool]:
    """The notice in at most two lines that fit its toast, title first; and whether it was cut."""
    width = max(20, min(TOAST_WIDTH, int((screen_width - RACK_SCROLLBAR) * TOAST_SHARE)) - TOAST_FRAME)
    words = " ".join(message.split())
    line = f"{title} · {words}" if title and words else title or words
    lines = textwrap.wrap(line, width) or [""]
    if len(lines) <= 2:
        return "\n".join(lines), False
    second = textwrap.wrap(" ".join(lines[1:]), width - len(MORE))[0]
    return f"{lines[0]}\n{second}{MORE}", True


class NoticesScreen(ModalScreen[None]):
    """The recent notices, whole, newest first (F8)."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [Binding("escape,q,f8", "dismiss", "Close", id="close")]

    def __init__(self, said: list[Said]) -> None:
        super().__init__()
        self.said = said

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="notices"):
            yield Label("Recent notices, newest first", classes="picker-title", markup=False)
            if not self.said:
                yield Static("No notices yet.", classes="notice", markup=False)
            for notice in reversed(self.said):
                when = time.strftime("%H:%M:%S", time.localtime(notice.at))
                heading = " · ".join(part for part in (when, notice.severity, notice.title) if part)
                yield Label(heading, classes=f"notice-heading -{notice.severity}", markup=False)
                yield Static(notice.message, classes="notice", markup=False)
        yield Footer(compact=True)
