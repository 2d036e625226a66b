"""The transcript: a bounded window of message widgets over the whole conversation.

A conversation may hold thousands of turns, and a Markdown widget costs tens
of milliseconds and most of a MiB, so only a window of at most WINDOW views
is mounted over the conversation's turns, which this widget reads and never
changes. Reaching an edge mounts the next page there and removes as many
from the far side, keeping what the user is reading in place; older turns
not yet read from the store are asked of the conversation a page at a time.
A streaming reply lives in the live view, after the window, and is never
removed by paging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget

from guide.conversation import Turn
from guide.tui.boundary import guarded
from guide.tui.focus import follow_focus

from .messages import ActionBlock, Divider, MessageView, Shown, markdown, needs_full_render, view_for

__all__ = ["PAGE", "WINDOW", "ActionBlock", "Divider", "MessageView", "Transcript", "markdown", "needs_full_render"]

PAGE = 10
"""Turns mounted at once: on opening, and per page when scrolling."""
WINDOW = 40
"""At most this many turns are mounted."""
EDGE = 1
"""Lines from an edge that count as reaching it."""
VERSIONS = Binding.Group("Versions")
"""[ and ] in the footer as one key: `[ ] Versions`."""

if TYPE_CHECKING:
    from guide.conversation import Conversation


def turn_of(view: Shown) -> Turn:
    """The turn a view in the window shows."""
    assert view.turn is not None
    return view.turn


class Transcript(VerticalScroll):
    """The conversation: the greeting, a window of turns, and the reply streaming now."""

    can_focus = True
    BINDINGS = [
        Binding("home", "top", "Top", show=False),
        Binding("end", "bottom", "Bottom", show=False),
        Binding("pageup", "page_older", "Older", show=False),
        Binding("pagedown", "page_newer", "Newer", show=False),
        Binding("up,k", "select(-1)", "Earlier message", show=False),
        Binding("down,j", "select(1)", "Later message", show=False),
        Binding("y,c", "copy_selected", "Copy message", id="copy-message"),
        Binding("b", "copy_code", "Copy code block", id="copy-code"),
        Binding("e", "ask('edit')", "Edit", id="edit-message", tooltip="Edit your message in the composer: Enter sends it as a new branch"),
        Binding("[", "ask('version', -1)", "Version before", id="version-before", group=VERSIONS),
        Binding("]", "ask('version', 1)", "Version after", id="version-after", group=VERSIONS),
        Binding("d", "ask('compare')", "Compare", id="compare-branches", tooltip="Two versions side by side: the requests as sent, and the replies"),
        Binding("left", "code_sideways(-1)", "Code ←", show=False),
        Binding("right", "code_sideways(1)", "Code →", show=False),
    ]

    @dataclass
    class Asked(Message):
        """A key on the chosen message: edit it as a new branch (e), show another version ([ ]), or compare two (d)."""

        turn: Turn
        verb: Literal["edit", "version", "compare"]
        step: int = 0

    def __init__(self, head: MessageView, **options: Any) -> None:
        super().__init__(head, **options)
        self.head = head
        """The greeting: shown above the first turn, once the window reaches it."""
        self.conversation: Conversation | None = None
        """The conversation shown: the session's, set as the session announces a switch (the window below is over its turns)."""
        self.base = 0
        """The conversation's `prepended` when lo and hi were last true (older turns read in shift them)."""
        self.lo = self.hi = 0
        """The window: turns[lo:hi] are mounted, as `views`."""
        self.views: list[Shown] = []
        self.live: MessageView | None = None
        self.found: set[Turn] = set()
        self.current: Turn | None = None
        self.selected: Turn | None = None
        """The message ↑/↓ moved to while the transcript has focus (y copies it, b its code)."""
        self.code_at = 0
        """Which of the selected message's code blocks b copied last (counted from the end)."""
        self._lock = asyncio.Lock()
        """Held while the window changes; scrolling during a change pages nothing."""

    def on_key(self, event: events.Key) -> None:
        follow_focus(self, event)  # typed fast: the first letter moved focus to the composer, the rest follow it

    def on_mount(self) -> None:
        self.anchor()

    # The window.

    @property
    def turns(self) -> list[Turn]:
        """The conversation's turns (read here, changed only by the conversation)."""
        return self.conversation.turns if self.conversation is not None else []

    @property
    def more_before(self) -> bool:
        """Whether the store holds turns older than the conversation's first one held."""
        return self.conversation is not None and self.conversation.more_before

    def _sync(self) -> None:
        """Shift the window by the turns the conversation read in before the first since last time."""
        prepended = self.conversation.prepended if self.conversation is not None else 0
        shift, self.base = prepended - self.base, prepended
        self.lo, self.hi = self.lo + shift, min(self.hi + shift, len(self.turns))
        self.lo = min(self.lo, self.hi)

    async def reset(self, conversation: Conversation, head: MessageView) -> None:
        """Show another conversation: its greeting and its latest turns."""
        async with self._lock:
            await self.remove_children([child for child in self.children if child is not head])  # the greeting composed stays
            self.head, self.conversation = head, conversation
            self.base = conversation.prepended
            self.lo = self.hi = len(self.turns)
            self.views, self.live, self.current, self.selected = [], None, None, None
            self.found.clear()
            if not head.is_attached:
                await self.mount(head)
            await self._show_latest()
        self.run_worker(self._fill(), group="transcript-fill")

    async def show_latest(self) -> None:
        """The last page, followed as it grows."""
        async with self._lock:
            self._sync()
            await self._show_latest()

    async def _show_latest(self) -> None:
        if self.hi < len(self.turns) or not self.views:
            await self._show(max(0, len(self.turns) - PAGE), len(self.turns))
        self.anchor()

    async def _show(self, lo: int, hi: int) -> None:
        if self.views:
            await self.remove_children(self.views)
        self.lo, self.hi = lo, hi
        self.views = await self._mount(self.turns[lo:hi], at_top=True)
        self._window_changed()

    async def _mount(self, turns: list[Turn], *, at_top: bool) -> list[Shown]:
        views = [view_for(turn) for turn in turns]
        for view in views:
            self._mark(view)
            if isinstance(view, MessageView) and self.conversation is not None:
                view.versions = self.conversation.siblings(turn_of(view))
        if not views:
            return views
        if at_top:
            await self.mount_all(views, after=self.head)
        elif self.live is not None:
            await self.mount_all(views, before=self.live)
        else:
            await self.mount_all(views)
        return views

    def _window_changed(self) -> None:
        self.head.display = self.lo == 0 and not self.more_before
        if self.hi < len(self.turns):
            self.anchor(False)  # newer turns are not mounted: do not follow the end
        elif not self.is_anchored:
            self._anchored = True  # follow again once the user is back at the bottom
            self.release_anchor()

    @guarded
    async def _fill(self) -> None:
        """Mount older pages until the view is full (short messages on a tall screen)."""
        for _ in range(WINDOW // PAGE):
            await self._layout_done()
            if self.max_scroll_y > EDGE or not await self.older():
                return

    async def _layout_done(self) -> None:
        done = asyncio.get_running_loop().create_future()
        self.call_after_refresh(lambda: None if done.done() else done.set_result(None))
        await done

    async def _keep_in_place(self, reference: Widget | None, change: Callable[[], Awaitable[None]]) -> None:
        """Make a change above what the user reads, then scroll so it stays where it was."""
        before = reference.virtual_region.y if reference is not None else 0
        await change()
        if reference is None or not reference.is_attached or (self.is_anchored and not self._anchor_released):
            return
        await self._layout_done()
        moved = reference.virtual_region.y - before
        if moved:
            self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True, release_anchor=False)

    async def _trim(self, *, keep: str) -> None:
        """Unmount views beyond WINDOW from the side away from `keep` (top or bottom)."""
        excess = len(self.views) - WINDOW
        if excess <= 0:
            return
        if keep == "top":
            gone, self.views = self.views[-excess:], self.views[:-excess]
            self.hi -= excess
            await self.remove_children(gone)
        else:
            gone, self.views = self.views[:excess], self.views[excess:]
            self.lo += excess

            async def remove() -> None:
                await self.remove_children(gone)

            await self._keep_in_place(self.views[0], remove)
        self._window_changed()

    @guarded
    async def older(self) -> bool:
        """Mount the page before the window (reading it from the store if needed)."""
        async with self._lock:
            self._sync()
            if self.lo == 0 and self.more_before:
                await self._fetch()
            if self.lo == 0:
                self._window_changed()
                return False
            lo = max(0, self.lo - PAGE)

            async def mount() -> None:
                self.views[0:0] = await self._mount(self.turns[lo : self.lo], at_top=True)
                self.lo = lo
                self._window_changed()

            await self._keep_in_place(self.views[0] if self.views else None, mount)
            await self._trim(keep="top")
            return True

    @guarded
    async def newer(self) -> bool:
        """Mount the page after the window."""
        async with self._lock:
            self._sync()
            if self.hi >= len(self.turns):
                return False
            hi = min(len(self.turns), self.hi + PAGE)
            self.views += await self._mount(self.turns[self.hi : hi], at_top=False)
            self.hi = hi
            self._window_changed()
            await self._trim(keep="bottom")
            return True

    async def load_back(self, enough: Callable[[], bool]) -> None:
        """Have the conversation read older turns, a page at a time, until there are enough (or no more)."""
        async with self._lock:
            await self._load_back(enough)

    async def _load_back(self, enough: Callable[[], bool]) -> None:
        while self.more_before and not enough():
            await self._fetch()
        self._window_changed()

    async def _fetch(self) -> None:
        assert self.conversation is not None
        await self.conversation.load_older()
        self._sync()

    # Moving around.

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new != old:
            self._page_at_edge(up=new < old)

    def on_mouse_scroll_up(self) -> None:
        self._page_at_edge(up=True)  # also when there is nothing to scroll: short turns on a tall screen

    def on_mouse_scroll_down(self) -> None:
        self._page_at_edge(up=False)

    def _page_at_edge(self, *, up: bool) -> None:
        """Moving towards an edge that has been reached: mount the page beyond it."""
        if self._lock.locked() or not self.is_mounted:
            return
        if up and self.scroll_y <= EDGE:
            self.run_worker(self.older(), group="transcript-page")
        elif not up and self.scroll_y >= self.max_scroll_y - EDGE and self.hi < len(self.turns):
            self.run_worker(self.newer(), group="transcript-page")

    async def action_page_older(self) -> None:
        """Page up; at the top, the page before."""
        if self.scroll_y <= EDGE:
            await self.older()
        else:
            self.scroll_page_up(animate=False)

    async def action_page_newer(self) -> None:
        """Page down; at the bottom, the page after."""
        if self.scroll_y >= self.max_scroll_y - EDGE:
            await self.newer()
        else:
            self.scroll_page_down(animate=False)

    async def action_top(self) -> None:
        """The first turn of the conversation, under the greeting."""
        async with self._lock:
            await self._load_back(lambda: False)
            self._sync()
            await self._show(0, min(PAGE, len(self.turns)))
            self.scroll_home(animate=False, immediate=True)
            await self._layout_done()

    async def action_bottom(self) -> None:
        """The latest turns, followed again."""
        async with self._lock:
            self._sync()
            await self._show_latest()
            self.scroll_end(animate=False, immediate=True)
            await self._layout_done()

    async def reveal(self, turn: Turn) -> None:
        """Mount the window around a turn and scroll it into view."""
        async with self._lock:
            self._sync()
            index = self.turns.index(turn)
            if not self.lo <= index < self.hi:
                lo = max(0, min(index - PAGE // 2, len(self.turns) - PAGE))
                await self._show(lo, min(len(self.turns), lo + PAGE))
            await self._layout_done()
            self.scroll_to_widget(self.views[index - self.lo], animate=False, top=True, immediate=True)
            await self._layout_done()

    # Adding and removing turns.

    def _index(self, turn: Turn) -> int | None:
        """Where a turn is, looking from the end (where turns are added)."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index] is turn:
                return index
        return None

    async def add(self, turn: Turn) -> Shown | None:
        """A turn the conversation added: mounted if the window reaches it."""
        async with self._lock:
            self._sync()
            index = self._index(turn)
            if index is None or self.hi != index:
                return None
            views = await self._mount([turn], at_top=False)
            self.views += views
            self.hi += 1
            await self._trim(keep="bottom")
            return views[0]

    async def follow_branch(self) -> None:
        """Another branch is in view: the views from the first turn that is no longer the conversation's are replaced by the
        branch's turns (a page of them); those above it stay where they are. Called again for the same change, it changes nothing."""
        async with self._lock:
            assert self.conversation is not None
            if self.conversation.prepended < self.base:  # the branch was read afresh, at its end: shown as a resumed one is
                await self.remove_children(self.views)
                self.views, self.base, self.lo, self.hi = [], self.conversation.prepended, len(self.turns), len(self.turns)
                await self._show_latest()
                return
            self._sync()
            turns = self.turns
            same = next((i for i, view in enumerate(self.views) if self.lo + i >= len(turns) or turn_of(view) is not turns[self.lo + i]), None)
            if same is None:
                return  # the same change, seen already (or below the window)
            gone, self.views = self.views[same:], self.views[:same]
            await self.remove_children(gone)
            self.hi = self.lo + same
            self.views += await self._mount(self.turns[self.hi : min(len(self.turns), self.hi + PAGE)], at_top=False)
            self.hi = self.lo + len(self.views)
            if self.selected is not None and not any(view.turn is self.selected for view in self.views):
                self.selected = None
            self._window_changed()

    def choose(self, turn: Turn) -> None:
        """Make a turn on screen the chosen message (another version of the one chosen, say)."""
        self.selected = turn
        for view in self.views:
            self._mark(view)

    async def start_live(self, who: str) -> MessageView:
        """A reply about to stream: mounted last, outside the window."""
        async with self._lock:
            self.live = MessageView("assistant", who)
            await self.mount(self.live)
            return self.live

    async def finish_live(self, turn: Turn) -> None:
        """The streamed reply became a turn; its view joins the window if the window reaches it."""
        async with self._lock:
            self._sync()
            view, self.live = self.live, None
            at_end = self.hi == self._index(turn)
            if view is None:
                return
            view.set_state(turn.state)
            view.settle(turn)
            if self.conversation is not None:
                view.set_versions(self.conversation.siblings(turn))  # a reply asked again is its second version
            if at_end:
                view.turn = turn
                self.views.append(view)
                self.hi += 1
                await self._trim(keep="bottom")
            else:
                await view.remove()

    async def drop_live(self) -> None:
        """A reply that never began: its empty view goes."""
        async with self._lock:
            view, self.live = self.live, None
            if view is not None:
                await view.remove()

    async def forget(self, turn: Turn) -> None:
        """A turn the conversation took away (its last): its view goes too."""
        async with self._lock:
            self._sync()
            if self.views and turn_of(self.views[-1]) is turn:
                await self.views.pop().remove()
                self.hi = self.lo + len(self.views)  # the views are the window (a turn added since may be in the list already)
            self.hi = min(self.hi, len(self.turns))
            self.lo = min(self.lo, self.hi)

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
        self.selected, self.code_at = view.turn, 0
        for each in self.views:
            self._mark(each)
        self.scroll_to_widget(view, animate=False, immediate=True)

    def action_ask(self, verb: Literal["edit", "version", "compare"], step: int = 0) -> None:
        """e, [, ] and d on the chosen message: the screen acts (it drives the conversation)."""
        if self.selected is None:
            self.notify("↑ or ↓ first, to choose a message.", timeout=3)
            return
        self.post_message(self.Asked(self.selected, verb, step))

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
            self.selected = None
            for view in self.views:
                self._mark(view)

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
