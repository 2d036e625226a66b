"""What the transcript shows: messages (streamed per frame), dividers and action blocks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from guide.safe_text import one_line, visible

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from guide.conversation import Turn


def markdown(text: str) -> Markdown:
    """A Markdown widget (imported on first use: markdown-it costs a launch 25 ms)."""
    from textual.widgets import Markdown

    return Markdown(visible(text))


FRAME = 1 / 30
STATE_NOTES = {"stopped": "stopped", "cut": "cut off", "failed": "failed"}


def needs_full_render(text: str) -> bool:
    """Whether streamed Markdown may have rendered wrongly and needs one full update.

    Appending renders paragraphs and lists as they will end up; a code fence
    or a table seen half-way can be left half-rendered, so only those earn a
    full update at the end (which re-mounts every block: costly on long replies).
    """
    return "```" in text or "~~~" in text or "\n|" in text


class MessageView(Vertical):
    """One message: who speaks, and the words as Markdown."""

    turn: Turn | None = None
    """The turn shown (None for the greeting and a reply still streaming)."""

    DEFAULT_CSS = """
    MessageView { height: auto; }
    MessageView > Markdown { margin: 0; padding: 0 1; }
    MessageView > .plain { padding: 0 1; }
    """

    def __init__(self, role: str, who: str, text: str = "", state: str = "done") -> None:
        super().__init__(classes=f"message {role}" + (" unfinished" if state != "done" else ""))
        self.role = role
        self.who = who
        self.text = text
        self.state = state

    def compose(self) -> ComposeResult:
        yield Label(self._heading(), classes="who", markup=False)
        if self.role == "greeting":
            # Plain words, painted in the very first frame; no Markdown needed yet.
            yield Static(visible(self.text), classes="plain", markup=False)
        else:
            yield markdown(self.text)

    def _heading(self) -> str:
        note = STATE_NOTES.get(self.state)
        return one_line(f"{self.who} · {note}" if note else self.who)

    @property
    def body(self) -> Markdown:
        """The Markdown widget holding the words."""
        from textual.widgets import Markdown

        return self.query_one(Markdown)

    def on_click(self, event: Any) -> None:
        if getattr(event, "chain", 1) == 2:
            from guide.tui.clipboard import copy

            copy(self.app, self.text, "the message")

    def set_state(self, state: str) -> None:
        """Mark the message stopped, cut off, or done."""
        self.state = state
        self.set_class(state != "done", "unfinished")
        self.query_one(".who", Label).update(self._heading())

    async def stream(self, pieces: AsyncIterable[str]) -> str:
        """Show pieces as they arrive, coalesced to one render per frame.

        Rendering once per frame instead of once per piece is what keeps a long
        fast reply cheap; the final full update renders code fences right.
        """
        body = self.body
        stream = body.get_stream(body)
        arrived: list[str] = []
        pending: list[str] = []
        shown_at = time.monotonic()
        try:
            async for piece in pieces:
                arrived.append(piece)
                pending.append(piece)
                now = time.monotonic()
                if now - shown_at >= FRAME:
                    await stream.write(visible("".join(pending)))
                    pending.clear()
                    shown_at = now
        finally:
            self.text = "".join(arrived)
            if pending:
                await stream.write(visible("".join(pending)))
            await stop(stream)
            if needs_full_render(self.text):
                await body.update(visible(self.text))
        return self.text


async def stop(stream: Any) -> None:
    """Stop a MarkdownStream; one stopped before its task first ran must not read as our own cancellation."""
    try:
        await stream.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # Esc: this task is being stopped, and that must go on


class Divider(Static):
    """A quiet line in the transcript (a persona switch, a new model)."""

    turn: Turn | None = None


class ActionBlock(Vertical):
    """The result of a slash command: a distinct block, Markdown inside (and a picture, for imagine)."""

    turn: Turn | None = None

    DEFAULT_CSS = """
    ActionBlock { height: auto; }
    """

    def __init__(self, title: str, text: str, picture: Any = None) -> None:
        super().__init__(classes="action-block")
        self.title = title
        self.text = text
        self.picture = picture

    def compose(self) -> ComposeResult:
        yield Label(one_line(self.title), classes="who", markup=False)
        if self.picture is not None:
            yield Static(self.picture, classes="picture")
        yield markdown(self.text)

    def on_mount(self) -> None:
        saved = (self.turn.data or {}).get("path") if self.turn is not None and self.turn.kind == "imagine" else None
        if self.picture is None and isinstance(saved, str):
            self.run_worker(self._draw(saved), group="picture")

    async def _draw(self, saved: str) -> None:
        """Draw the saved picture off the UI's loop (a large one takes a moment); nothing if it is gone."""
        from pathlib import Path

        from guide.tui.widgets.picture import half_blocks

        def draw() -> Any:
            try:
                return half_blocks(Path(saved).read_bytes())
            except OSError:
                return None

        picture = await asyncio.to_thread(draw)
        if picture is not None and self.is_attached:
            self.picture = picture
            if self.turn is not None:
                self.turn.picture = picture
            await self.mount(Static(picture, classes="picture"), after=self.query_one(".who"))


Shown = MessageView | Divider | ActionBlock
"""A widget that shows a turn."""


def view_for(turn: Turn) -> Shown:
    """The widget that shows a turn; it remembers the turn it shows."""
    view: Shown
    if turn.role == "divider":
        view = Divider(f"── {visible(turn.content)} ──", markup=False)
    elif turn.role == "action":
        view = ActionBlock(turn.title, turn.content, turn.picture)
    else:
        view = MessageView(turn.role, "You" if turn.role == "user" else turn.persona, turn.content, turn.state)
    view.turn = turn
    return view
