"""The transcript: a bounded window of message widgets over the conversation's branch in view.

A Markdown widget costs tens of milliseconds and most of a MiB, so at most WINDOW views are mounted, each knowing its turn;
the turns around them are asked of the conversation by turn (it owns the branch, and reads the store a page at a time).
Reaching an edge mounts the next page there and removes as many from the far side, keeping what the user reads in place.
A streaming reply lives in the live view, after the window, never removed by paging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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

from .messages import MessageView, Shown, view_for
from .transcript_choosing import Choosing, turn_of

__all__ = ["PAGE", "WINDOW", "MessageView", "Transcript", "turn_of"]

PAGE = 10
"""Turns mounted at once: on opening, and per page when scrolling."""
SWITCHED = 4
"""Turns of a branch switched to mounted at once from its branch point (about a screenful): the rest follow as it is read."""
WINDOW = 40
"""At most this many turns are mounted."""
EDGE = 1
"""Lines from an edge that count as reaching it."""
VERSIONS = Binding.Group("Versions")
"""[ and ] in the footer as one key: `[ ] Versions`."""

if TYPE_CHECKING:
    from guide.conversation import Conversation


class Transcript(Choosing, VerticalScroll):
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

    def __init__(self, conversation: Conversation, head: MessageView, **options: Any) -> None:
        super().__init__(head, **options)
        self.conversation, self.head = conversation, head
        """The conversation shown (the session's, set again as a switch is announced), and its greeting, shown above its first
        turn once the window reaches it."""
        self.views: list[Shown] = []
        """The window: consecutive turns of the branch in view, mounted, oldest first."""
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
    def more_before(self) -> bool:
        """Whether the store holds turns older than the conversation's first one held."""
        return self.conversation.more_before

    def _before(self, count: int) -> list[Turn]:
        return self.conversation.before(turn_of(self.views[0]) if self.views else None, count)

    def _after(self, count: int) -> list[Turn]:
        return self.conversation.after(turn_of(self.views[-1]), count) if self.views else []

    @property
    def at_start(self) -> bool:
        """Whether the window begins with the conversation's first turn (or there is none)."""
        if self.views:
            return self.conversation.first(turn_of(self.views[0]))
        return not self.conversation.after(None, 1) and not self.more_before

    @property
    def at_end(self) -> bool:
        """Whether the window ends with the branch's last turn: a turn added next joins it."""
        return not self.views or self.conversation.last(turn_of(self.views[-1]))

    def _follows(self, turn: Turn) -> bool:
        """Whether a turn comes right after the window (an empty window is at the end of its branch)."""
        if self.views:
            return self._after(1) == [turn]
        return self.conversation.before(None, 1) == [turn] and not self.conversation.more_after

    async def reset(self, conversation: Conversation, head: MessageView) -> None:
        """Show another conversation: its greeting and its latest turns."""
        async with self._lock:
            await self.remove_children([child for child in self.children if child is not head])  # the greeting composed stays
            self.head, self.conversation = head, conversation
            self.views, self.live, self.current, self.selected = [], None, None, None
            self.found.clear()
            if not head.is_attached:
                await self.mount(head)
            await self._show_latest()
        self.run_worker(self._fill(), group="transcript-fill")

    async def show_latest(self) -> None:
        """The last page, followed as it grows."""
        async with self._lock:
            await self._show_latest()

    async def _show_latest(self) -> None:
        if self.conversation.more_after:
            await self.conversation.reach_end()
        if not self.at_end or not self.views:
            await self._show(self.conversation.before(None, PAGE))
        self.anchor()

    async def _show(self, turns: list[Turn]) -> None:
        if self.views:
            await self.remove_children(self.views)
        self.views = []
        self.views = await self._mount(turns, at_top=True)
        self._window_changed()

    async def _mount(self, turns: list[Turn], *, at_top: bool) -> list[Shown]:
        views = [view_for(turn) for turn in turns]
        for view in views:
            self._mark(view)
            if isinstance(view, MessageView):
                view.versions = self.conversation.siblings(turn_of(view))
        if views:  # at the top under the greeting; else before the live reply (at the end, when there is none)
            await (self.mount_all(views, after=self.head) if at_top else self.mount_all(views, before=self.live))
        return views

    def _window_changed(self) -> None:
        self.head.display = self.at_start
        if not self.at_end:
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

    @guarded
    async def _fill_below(self) -> None:
        """Mount the turns after the window, a few at a time, until a screen's height of them is below what is shown (or the
        branch ends): a switch draws about a screenful from the branch point, and reading on never meets an empty screen."""
        for _ in range(WINDOW // SWITCHED):
            await self._layout_done()
            if self.max_scroll_y - self.scroll_y > self.scrollable_content_region.height or not await self.newer(SWITCHED):
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
            await self.remove_children(gone)
        else:
            gone, self.views = self.views[:excess], self.views[excess:]

            async def remove() -> None:
                await self.remove_children(gone)

            await self._keep_in_place(self.views[0], remove)
        self._window_changed()

    @guarded
    async def older(self) -> bool:
        """Mount the page before the window (reading it from the store if needed)."""
        async with self._lock:
            turns = self._before(PAGE)
            if not turns and self.more_before and await self.conversation.load_older():
                turns = self._before(PAGE)
            if not turns:
                self._window_changed()
                return False

            async def mount() -> None:
                self.views[0:0] = await self._mount(turns, at_top=True)
                self._window_changed()

            await self._keep_in_place(self.views[0] if self.views else None, mount)
            await self._trim(keep="top")
            return True

    @guarded
    async def newer(self, count: int = PAGE) -> bool:
        """Mount the page (or `count` turns) after the window, reading the rest of the branch from the store if needed."""
        async with self._lock:
            turns = self._after(count)
            if not turns and self.conversation.more_after:
                await self.conversation.load_newer()
                turns = self._after(count)
            if not turns:
                return False
            self.views += await self._mount(turns, at_top=False)
            self._window_changed()
            await self._trim(keep="bottom")
            return True

    async def load_back(self, enough: Callable[[], bool]) -> None:
        """Have the conversation read older turns, a page at a time, until there are enough (or no more)."""
        async with self._lock:
            await self.conversation.load_back(enough)
            self._window_changed()

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
        elif not up and self.scroll_y >= self.max_scroll_y - EDGE and not self.at_end:
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
            await self.conversation.load_back(lambda: False)
            await self._show(self.conversation.after(None, PAGE))
            self.scroll_home(animate=False, immediate=True)
            await self._layout_done()

    async def action_bottom(self) -> None:
        """The latest turns, followed again."""
        async with self._lock:
            await self._show_latest()
            self.scroll_end(animate=False, immediate=True)
            await self._layout_done()

    async def reveal(self, turn: Turn) -> None:
        """Mount the window around a turn (held by the conversation) and scroll it to the top."""
        async with self._lock:
            view = self._view_of(turn)
            if view is None and self.conversation.holds(turn):
                before = self.conversation.before(turn, PAGE // 2)
                await self._show([*before, turn, *self.conversation.after(turn, PAGE - 1 - len(before))])
                view = self._view_of(turn)
            if view is None:
                return
            await self._layout_done()
            self.scroll_to_widget(view, animate=False, top=True, immediate=True)
            await self._layout_done()

    def _view_of(self, turn: Turn) -> Shown | None:
        return next((view for view in self.views if view.turn is turn), None)

    def on_screen(self, turn: Turn) -> bool:
        """Whether some of a turn's view is on screen now."""
        view = self._view_of(turn)
        return view is not None and self.scrollable_content_region.overlaps(view.region)

    # Adding and removing turns.

    async def add(self, turn: Turn) -> None:
        """A turn the conversation added: mounted if the window reaches it."""
        async with self._lock:
            if self._follows(turn):
                self.views += await self._mount([turn], at_top=False)
                await self._trim(keep="bottom")

    async def follow_branch(self, chosen: Turn | None = None) -> None:
        """Another branch is in view: the views from the first turn no longer the conversation's are replaced by the branch's
        turns from there (about a screenful), those above staying put; `chosen` (the version switched to) becomes the chosen
        message. Called again for the same change, it changes nothing."""
        async with self._lock:
            if chosen is not None:
                self.selected = chosen  # marked as its view is made: a class set on a view drawn restyles all its blocks
            with self.app.batch_update():  # one frame for the views gone and come, not one for each
                changed = await self._follow_branch()
            if chosen is not None and not changed:  # drawn already (the conversation's event came first)
                self.choose(chosen)

    def fill_below(self) -> None:
        """After a switch is drawn: the turns below the branch point, until a screen's height of them is below what is shown."""
        self.run_worker(self._fill_below(), group="transcript-fill")

    async def _follow_branch(self) -> bool:
        first = turn_of(self.views[0]) if self.views else None
        if first is not None and not self.conversation.holds(first):
            # The window began at the branch point or below it: it opens after the turn the first view followed, if held
            # (else the branch was read afresh, at its end).
            parent = self.conversation.by_uid(first.parent) if first.parent else None
            self._drop(self.views)
            self.views = []
            if parent is not None or (not first.parent and not self.more_before):
                await self._show(self.conversation.after(parent, SWITCHED))
            else:
                await self._show_latest()
            return True
        held = self.conversation.after(first, len(self.views) - 1) if first is not None else []
        same = next((i for i, view in enumerate(self.views[1:], 1) if i > len(held) or turn_of(view) is not held[i - 1]), None)
        if same is None:
            return False  # the same change, seen already
        gone, self.views = self.views[same:], self.views[:same]
        self._drop(gone)
        self.views += await self._mount(self._after(SWITCHED), at_top=False)
        if self.selected is not None and not any(view.turn is self.selected for view in self.views):
            self.selected = None
        self._window_changed()
        return True

    def _drop(self, views: list[Shown]) -> None:
        """Views of a branch left: hidden at once and removed while the branch's views are made (a switch waits for neither)."""
        for view in views:
            view.display = False
        self.remove_children(views)

    async def start_live(self, who: str) -> MessageView:
        """A reply about to stream: mounted last, outside the window."""
        async with self._lock:
            self.live = MessageView("assistant", who)
            await self.mount(self.live)
            return self.live

    async def finish_live(self, turn: Turn) -> None:
        """The streamed reply became a turn; its view joins the window if the window reaches it."""
        async with self._lock:
            view, self.live = self.live, None
            if view is None:
                return
            view.set_state(turn.state)
            view.settle(turn)
            view.set_versions(self.conversation.siblings(turn))  # a reply asked again is its second version
            if self._follows(turn):
                view.turn = turn
                self.views.append(view)
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
            if self.views and turn_of(self.views[-1]) is turn:
                await self.views.pop().remove()

    def action_ask(self, verb: Literal["edit", "version", "compare"], step: int = 0) -> None:
        """e, [, ] and d on the chosen message: the screen acts (it drives the conversation)."""
        if self.selected is None:
            self.notify("↑ or ↓ first, to choose a message.", timeout=3)
            return
        self.post_message(self.Asked(self.selected, verb, step))
