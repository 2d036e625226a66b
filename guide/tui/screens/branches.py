"""Two branches side by side (d on a branch point): the requests as sent, only what differs marked, and the two replies:
the replay's comparison (`call_detail.set_side_by_side`) set on two versions of one message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from guide.safe_text import one_line
from guide.tui.boundary import guarded
from guide.tui.screens.call_detail import capped, set_side_by_side

if TYPE_CHECKING:
    from guide.client import Trace
    from guide.conversation import Turn

OTHER = Binding.Group("Other version")
"""[ and ] in the footer as one key: `[ ] Other version` (which version is set beside the one in view)."""


@dataclass(frozen=True)
class Version:
    """One version of a message, as compared: which it is, its reply, and the call that reply came from (None if not kept)."""

    label: str
    reply: Turn | None
    call: Trace | None


def request_text(call: Trace | None) -> str:
    """A request body as it was sent, indented (its first COMPARED lines), or why there is none to show."""
    if call is None or not isinstance(call.request_body, dict):
        return "(the call for this reply is not kept)"
    return capped(json.dumps(call.request_body, indent=2, ensure_ascii=False))


def columns(before: str, after: str, width: int | None = None) -> tuple[Text, Text]:
    """Two texts as two marked columns (the replay's comparison), each `width` wide."""
    left, right = Text(no_wrap=True, overflow="ellipsis"), Text(no_wrap=True, overflow="ellipsis")
    set_side_by_side(left, right, before, after, width)
    return left, right


def compared(before: Version, after: Version, width: int | None = None) -> dict[str, Text]:
    """The requests and the replies of two versions, each pair as two marked columns `width` wide."""
    requests = columns(request_text(before.call), request_text(after.call), width)
    before_reply, after_reply = (capped(v.reply.content) if v.reply is not None else "(no reply)" for v in (before, after))
    replies = columns(before_reply, after_reply, width)
    return {"request-before": requests[0], "request-after": requests[1], "reply-before": replies[0], "reply-after": replies[1]}


def differences(before: Version, after: Version) -> str:
    """Which fields of the request changed, in one line."""
    from guide.learn.compare import changed_fields

    if before.call is None or after.call is None:
        return "One of the two calls is not kept: the replies are compared, the requests cannot be."
    changed = changed_fields(before.call.request_body, after.call.request_body)
    if not changed:
        return "The requests are the same: the reply was asked for again."
    return "The requests differ in: " + ", ".join(changed[:8]) + (" …" if len(changed) > 8 else "")


class BranchCompare(ModalScreen[None]):
    """Two versions of a message: their requests as sent and their replies, side by side, what differs marked. The one in
    view is set beside another, the one before it at first; [ and ] choose which (any other version of the message)."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="close"),
        Binding("[", "other(-1)", "Earlier version", id="compare-before", group=OTHER),
        Binding("]", "other(1)", "Later version", id="compare-after", group=OTHER),
    ]

    def __init__(self, versions: list[Version], at: int, other: int) -> None:
        super().__init__()
        self.versions, self.at, self.other = versions, at, other
        """Every version of the message, oldest first; which is in view, and which is set beside it."""

    @property
    def before(self) -> Version:
        return self.versions[min(self.at, self.other)]

    @property
    def after(self) -> Version:
        return self.versions[max(self.at, self.other)]

    def _title(self) -> str:
        return one_line(f"Two branches: {self.before.label} and {self.after.label}")

    def compose(self) -> ComposeResult:
        with Vertical(id="branch-compare"):
            yield Label(self._title(), id="call-title", markup=False)
            yield Static(differences(self.before, self.after), id="beside-changed", markup=False)
            with VerticalScroll(id="beside"):
                for part, what in (("reply", "reply"), ("request", "request as sent")):  # the replies are short: both show at once
                    with Horizontal(classes="beside-columns"):
                        for side, version in (("before", self.before), ("after", self.after)):
                            with Vertical(classes="beside-column"):
                                yield Label(one_line(f"{version.label} · {what}"), id=f"{part}-{side}-title", classes="beside-title", markup=False)
                                yield Static("Comparing…" if side == "before" else "", id=f"{part}-{side}", classes="beside-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.compare()

    def action_other(self, step: int) -> None:
        """[ or ]: set the version in view beside the one before (or after) the one beside it now, skipping itself."""
        other = self.other + step
        if other == self.at:
            other += step
        if not 0 <= other < len(self.versions):
            self.notify(f"There is no version {'before' if step < 0 else 'after'} {self.versions[self.other].label} to compare with.", timeout=3)
            return
        self.other = other
        self.query_one("#call-title", Label).update(self._title())
        self.query_one("#beside-changed", Static).update(differences(self.before, self.after))
        for part, what in (("reply", "reply"), ("request", "request as sent")):
            for side, version in (("before", self.before), ("after", self.after)):
                self.query_one(f"#{part}-{side}-title", Label).update(one_line(f"{version.label} · {what}"))
        self.query_one("#request-before", Static).update("Comparing…")
        self.compare()

    @work(group="compare", exclusive=True)
    @guarded
    async def compare(self) -> None:
        """Set the columns off the UI loop (difflib's time grows with the lines)."""
        import asyncio

        width = max(20, self.app.size.width // 2 - 6)  # a column: half the screen, less its frame
        found: dict[str, Any] = await asyncio.to_thread(compared, self.before, self.after, width)
        for key, text in found.items():
            self.query_one(f"#{key}", Static).update(text)
