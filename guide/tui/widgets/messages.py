"""What the transcript shows: messages (streamed per frame), dividers and action blocks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Label, Static

from guide.client import Gentle
from guide.conversation.turns import thought_label
from guide.safe_text import one_line, visible

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from guide.conversation import Turn


def markdown(text: str, *, as_written: bool = False) -> Markdown:
    """A Markdown widget (imported on first use: markdown-it costs a launch 25 ms); `as_written` keeps each line break
    (what the user wrote), where Markdown would join the lines into one."""
    from textual.widgets import Markdown

    return Markdown(visible(text), parser_factory=as_written_parser if as_written else None)


def as_written_parser() -> Any:
    """Textual's parser, with every soft line break made a hard one (Textual draws a soft break as a space)."""
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore

    def hard_breaks(state: StateCore) -> None:
        for token in state.tokens:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"

    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("hard_breaks", hard_breaks)
    return parser


FRAME = 1 / 30
PER_BLOCK = 0.002
"""Seconds between draws per Markdown block already drawn: each draw has Textual measure every block of the reply again, so a
long reply (hundreds of paragraphs) is drawn less often than once a frame, and measuring stays a small share of the time."""
STATE_NOTES = {"stopped": "stopped", "cut": "cut off", "failed": "failed"}


def needs_full_render(text: str) -> bool:
    """Whether streamed Markdown needs one full update at the end (which re-mounts every block: costly on long replies):
    appending renders paragraphs and lists as they end up, but a code fence or a table seen half-way can stay half-rendered."""
    return "```" in text or "~~~" in text or "\n|" in text


THOUGHT_SHOWN = 50_000
"""The most of a thought drawn when it is opened."""


class ThoughtBlock(Collapsible):
    """What a reasoning model thought before it answered: quiet, folded, one key (or a click) away."""

    DEFAULT_CSS = """
    ThoughtBlock { margin: 0 1; padding: 0; border: none; background: transparent; color: $text-muted; }
    ThoughtBlock > Contents { padding: 0 0 0 2; }
    ThoughtBlock CollapsibleTitle { color: $text-muted; text-style: italic; padding: 0; }
    """

    def __init__(self, reasoning: str, title: str) -> None:
        self.pieces = [reasoning]
        super().__init__(Static("", classes="thought", markup=False), title=title, collapsed=True)

    @property
    def reasoning(self) -> str:
        """The whole thought so far."""
        return "".join(self.pieces)

    def add(self, more: str) -> None:
        """More of the thought, as it streams (once per frame): drawn only while open, so a long thought costs nothing folded."""
        self.pieces.append(more)
        if not self.collapsed:
            self.show_thought()

    def on_mount(self) -> None:
        if not self.collapsed:
            self.show_thought()

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        if event.collapsible is self:
            self.show_thought()

    def show_thought(self) -> None:
        """The thought's latest THOUGHT_SHOWN characters (a model can think for megabytes)."""
        thought = self.reasoning
        if len(thought) > THOUGHT_SHOWN:
            thought = f"… ({len(thought) - THOUGHT_SHOWN:,} characters before these are not shown)\n" + thought[-THOUGHT_SHOWN:]
        self.query_one(".thought", Static).update(visible(thought))


class MessageView(Vertical):
    """One message: who speaks, what it thought (folded), the tools it used, its pictures, and the words as Markdown."""

    turn: Turn | None = None
    """The turn shown (None for the greeting and a reply still streaming)."""
    versions: tuple[int, int] = (0, 1)
    """Which version of itself the turn is (0-based) and how many there are: `‹ 2 / 3 ›` in its heading when more than one."""

    DEFAULT_CSS = """
    MessageView { height: auto; }
    MessageView > Markdown { margin: 0; padding: 0 1; }
    MessageView > .plain { padding: 0 1; }
    MessageView > .tools-used, MessageView > .pictures-attached { padding: 0 1; color: $text-muted; text-style: italic; }
    MessageView > .picture { padding: 0 1; }
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
            return
        data = (self.turn.data if self.turn is not None else None) or {}
        if self.role == "assistant":
            yield from self._thought_and_tools(data)
        pictures = data.get("pictures")
        if self.role == "user" and isinstance(pictures, list) and pictures:
            names = ", ".join(one_line(str(p.get("name", ""))) for p in pictures if isinstance(p, dict))
            yield Static(f"picture: {names}", classes="pictures-attached", markup=False)
        yield markdown(self.text, as_written=self.role == "user")

    def on_mount(self) -> None:
        if self.role == "user" and self.turn is not None and (self.turn.data or {}).get("pictures"):
            self.run_worker(self._draw_pictures(), group="picture")

    async def _draw_pictures(self) -> None:
        """The message's pictures as previews, drawn off the UI's loop (from the bytes sent, else the file; the name line
        stays for one gone)."""
        from guide.tui.widgets.picture import previews

        turn = self.turn
        assert turn is not None
        sources: list[Any] = [p.data for p in turn.pictures if p.data] or [
            str(p.get("path")) for p in (turn.data or {}).get("pictures", []) if isinstance(p, dict)
        ]
        for picture in await asyncio.to_thread(previews, sources, 32):
            if self.is_attached:
                await self.mount(Static(picture, classes="picture"), before=self.body)

    @staticmethod
    def _thought_and_tools(data: dict[str, Any]) -> ComposeResult:
        """A reply's thought (folded) and the tools it used, as the turn holds them."""
        reasoning, used = data.get("reasoning"), data.get("tools")
        if isinstance(reasoning, str) and reasoning:
            yield ThoughtBlock(reasoning, thought_label(data.get("thought_ms")))
        if isinstance(used, list) and used:  # `used now() → 2026-…`, one line a call
            lines = [f"used {one_line(str(u.get('call', '')))} → {one_line(str(u.get('result', '')))[:80]}" for u in used if isinstance(u, dict)]
            yield Static("\n".join(lines), classes="tools-used", markup=False)

    def settle(self, turn: Turn) -> None:
        """The streamed reply became this turn: its thought block says how long it thought; a thought or tools that came
        whole, not streamed, are added."""
        data = turn.data or {}
        for block in self.query(ThoughtBlock):
            block.title = thought_label(data.get("thought_ms"))
        for extra in self._thought_and_tools(data):
            if not self.query(ThoughtBlock if isinstance(extra, ThoughtBlock) else ".tools-used"):
                self.mount(extra, before=self.body)

    def _heading(self) -> str:
        note = STATE_NOTES.get(self.state)
        at, count = self.versions
        where = f"  ‹ {at + 1} / {count} ›" if count > 1 else ""  # counted from 1, for people
        return one_line(f"{self.who} · {note}" if note else self.who) + where

    def set_versions(self, versions: tuple[int, int]) -> None:
        """Say which version of itself the message is (a branch made, or another chosen)."""
        self.versions = versions
        for label in self.query(".who").results(Label):
            label.update(self._heading())

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

    async def stream(self, parts: AsyncIterable[tuple[str, str]]) -> str:
        """Show the reasoning and the answer as they arrive, one render per frame (less often once the reply is hundreds of
        paragraphs long), which keeps a long fast reply cheap; the final full update renders code fences right. Reasoning
        gathers in a folded block above the answer, its title counting the seconds while the model thinks."""
        body = self.body
        stream = body.get_stream(body)
        arrived: list[str] = []
        pending: list[str] = []
        thinking: list[str] = []
        block: ThoughtBlock | None = None
        began = shown_at = time.monotonic()
        try:
            async for kind, piece in parts:
                if kind == "reasoning":
                    thinking.append(piece)
                    if block is None:
                        block = ThoughtBlock("", "thinking…")
                        await self.mount(block, before=body)
                elif kind == "answer":  # a tool answered shows with the turn, when it ends
                    arrived.append(piece)
                    pending.append(piece)
                now = time.monotonic()
                if now - shown_at >= max(FRAME, PER_BLOCK * len(body.children)):
                    if pending:
                        await stream.write(visible("".join(pending)))
                        pending.clear()
                    if thinking and block is not None:
                        block.add("".join(thinking))
                        thinking.clear()
                        block.title = f"thinking… {now - began:.1f} s"
                    shown_at = now
        finally:
            self.text = "".join(arrived)
            if thinking and block is not None:
                block.add("".join(thinking))
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
        saved = (self.turn.data or {}).get("path") if self.turn is not None and self.turn.kind == Gentle.imagine else None
        if self.picture is None and isinstance(saved, str):
            self.run_worker(self._draw(saved), group="picture")

    async def _draw(self, saved: str) -> None:
        """Draw the file a server's picture was saved to, off the UI's loop (a large one takes a moment); nothing if it is gone."""
        from guide.tui.widgets.picture import previews

        drawn = await asyncio.to_thread(previews, [saved])
        picture = drawn[0] if drawn else None
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
