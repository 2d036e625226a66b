"""The transcript's marks and choice (a mixin of Transcript): which messages a search found, which one ↑/↓ chose, and
copying it (y) or its code (b)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll

from guide.conversation import Turn

from .messages import ActionBlock, MessageView, Shown

if TYPE_CHECKING:

    class _Transcript(VerticalScroll):
        views: list[Shown]
        live: MessageView | None
        found: set[Turn]
        current: Turn | None
        selected: Turn | None
        code_at: int

        def older(self) -> Awaitable[bool | None]: ...
        def newer(self, count: int = ...) -> Awaitable[bool | None]: ...
else:
    _Transcript = object


def turn_of(view: Shown) -> Turn:
    """The turn a view in the window shows."""
    assert view.turn is not None
    return view.turn


class Choosing(_Transcript):
    # Reading and marking.

    def last_message(self, role: str | None = None) -> MessageView | None:
        """The last message on screen (of a role), the live one included."""
        candidates = [*self.views, *([self.live] if self.live else [])]
        views = [v for v in candidates if isinstance(v, MessageView) and (role is None or v.role == role)]
        return views[-1] if views else None

    def mark(self, found: Iterable[Turn], current: Turn | None) -> None:
        """Highlight the turns a search found, and the one it is at."""
        self.found, self.current = set(found), current
        for view in self.views:
            self._mark(view)

    def choose(self, turn: Turn | None) -> None:
        """Make a turn on screen the chosen message (another version of the one chosen, say), or none."""
        self.selected = turn
        for view in self.views:
            self._mark(view)

    def _mark(self, view: Shown) -> None:
        turn = turn_of(view)
        view.set_class(turn in self.found, "found")
        view.set_class(turn is self.current, "found-current")
        view.set_class(turn is self.selected, "selected")

    # Choosing a message to copy (focus the transcript: ↑/↓, then y copies it and b its code).

    def _selectable(self) -> list[Shown]:
        return [view for view in self.views if isinstance(view, MessageView | ActionBlock)]

    async def action_select(self, step: int) -> None:
        """Move to the message before (-1) or after (+1) the one selected; the first move selects the last."""
        views = self._selectable()
        at = next((i for i, v in enumerate(views) if v.turn is self.selected), None)
        if at is None:
            target = len(views) - 1
        else:
            target = at + step
            turn = self.selected
            if (target < 0 and await self.older()) or (target >= len(views) and await self.newer()):
                views = self._selectable()  # a page was mounted beyond the edge
                target = next(i for i, v in enumerate(views) if v.turn is turn) + step
        if not views or not 0 <= target < len(views):
            return
        view = views[target]
        self.code_at = 0
        self.choose(view.turn)
        self.scroll_to_widget(view, animate=False, immediate=True)

    def action_code_sideways(self, direction: int) -> None:
        """← / →: scroll the code blocks of the chosen message (else of the messages on screen) half a width sideways."""
        from textual.widgets.markdown import MarkdownFence

        chosen = [v for v in self.views if v.turn is self.selected] if self.selected is not None else self.views
        for view in chosen:
            if self.selected is None and not self.region.overlaps(view.region):
                continue
            for fence in view.query(MarkdownFence):
                fence.scroll_relative(x=direction * max(1, fence.size.width // 2), animate=False, immediate=True)

    def on_blur(self) -> None:
        if self.selected is not None:
            self.choose(None)

    def action_copy_selected(self) -> None:
        """y: the selected message, as written."""
        from guide.tui.clipboard import copy

        if self.selected is None:
            self.notify("↑ or ↓ first, to choose a message to copy.", timeout=3)
            return
        copy(self.app, self.selected.content, "the message" if self.selected.role != "action" else "the block")

    def action_copy_code(self) -> None:
        """b: the selected message's last code block; again, the one before it."""
        from guide.tui.clipboard import code_blocks, copy

        if self.selected is None:
            self.notify("↑ or ↓ first, to choose a message; then b copies its code.", timeout=3)
            return
        blocks = code_blocks(self.selected.content)
        if not blocks:
            self.notify("This message has no code block; y copies all of it.", timeout=3)
            return
        index = len(blocks) - 1 - self.code_at % len(blocks)
        self.code_at += 1
        what = "the code block" if len(blocks) == 1 else f"code block {index + 1} of {len(blocks)}"
        copy(self.app, blocks[index], what)
