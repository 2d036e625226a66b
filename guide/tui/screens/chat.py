"""The main screen: the conversation as it is shown (attributes down), the user's words and commands handed to it, and
what it reports routed here by the app (messages up). It owns no domain state."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.worker import WorkerCancelled

from guide.client import Gentle
from guide.conversation import (
    BranchShown,
    CallFiled,
    Event,
    PersonaChanged,
    ReplyEnded,
    ReplyPieces,
    ReplyStarted,
    Switched,
    Turn,
    TurnAdded,
    TurnRemoved,
)
from guide.status import fit
from guide.tui.boundary import guarded
from guide.tui.screens.chat_commands import Commands
from guide.tui.widgets.calls_panel import OPENING, PAGE, CallsPanel
from guide.tui.widgets.composer import PLACEHOLDER, Composer
from guide.tui.widgets.transcript import MessageView, Transcript

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

    from textual.worker import Worker

    from guide.chat_session import ChatSession
    from guide.conversation import Conversation, Exchange

NARROW = 100
"""Below this width the calls panel folds away (F2 brings it back)."""
THEIRS_EVERY = 0.5
"""Seconds between looks in the store for calls other programs made to the companion (a read off the loop, by row number)."""
THEIRS_RUNNING = 50
"""Their running calls read again at each look, at most (the newest); the others catch up when they end."""
PLAYERS = (["aplay", "-q"], ["paplay"], ["afplay"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"])
DRAWN_WITHIN = 5.0
"""Seconds a finished reply waits for its events to be drawn before the composer is let go (a deadline, never a hang)."""
WAITING = "Answering…  write on if you like; Esc stops it and keeps what arrived"
"""Fits the composer at 80 columns (76 cells inside its frame)."""


def play(path: str) -> str | None:
    """Play a sound with the first player installed (never waited for); its name, or None."""
    import shutil
    import subprocess

    for command in PLAYERS:
        if shutil.which(command[0]):
            subprocess.Popen([*command, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return command[0]
    return None


class StatusLine(Static):
    """Persona · server · model, read from the session each time it is drawn (the screen redraws it when a switch is
    announced), refitted whenever the width changes."""

    def __init__(self, session: ChatSession, **options: object) -> None:
        super().__init__(markup=False, **options)  # type: ignore[arg-type]
        self.session = session

    def render(self) -> Content:
        return Content(fit(self.session.status(), self.content_region.width or self.size.width or 80))


class ChatScreen(Commands, Screen[None]):
    """Where the conversation happens; it opens with the persona's greeting."""

    AUTO_FOCUS = "#composer"
    """Focus goes straight to the composer: Textual's default focused the transcript first, and each move restyled the screen's widgets."""
    BINDINGS = [
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate", show=False),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="copy-reply", show=False, priority=True),  # over the composer's redo
        Binding("escape", "stop", "Stop", id="stop", show=False),
        Binding("ctrl+f", "find", "Find", id="find", show=False, priority=True),
        Binding("ctrl+home", "transcript('top')", "Top", id="top", show=False, priority=True),
        Binding("ctrl+end", "transcript('bottom')", "Bottom", id="bottom", show=False, priority=True),
        Binding("shift+pageup", "transcript('page_older')", "Older", id="older", show=False, priority=True),
        Binding("shift+pagedown", "transcript('page_newer')", "Newer", id="newer", show=False, priority=True),
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        """The run this screen shows (headless): its conversation, its store, whether it has started."""
        self.streaming, self.looking, self.was_wide = False, False, True
        self.live: tuple[Exchange, asyncio.Queue[list[tuple[str, str]] | None], Worker[None]] | None = None
        """The reply being drawn: its exchange, the pieces reported and not yet drawn (a list at a time), and the worker drawing them."""
        self.preparing = 0
        """Pictures being made ready for the next message (/attach): a message sent meanwhile goes without them, and is told so."""
        self.attaching: set[str] = set()
        """Those pictures, by their real path (the same file attached twice goes once)."""
        self.panel_wanted: bool | None = None
        """F2's choice (shown or hidden), over the width's, until the terminal crosses the fold."""
        self.found: list[Turn] = []
        self.found_at = 0
        self.found_for: tuple[str, int] | None = None
        """The words last looked for, and how many turns there were then."""
        self.their_row: int | None = None
        """The last row of other programs' calls read from the store (None: not looked yet; only later calls are shown)."""
        self.opening_call = False
        """A call chosen in the calls panel is opening: back from it, the panel keeps focus."""
        self.editing: tuple[Turn, str] | None = None
        """The earlier message being edited in the composer (e in the transcript), and the draft it took the place of."""

    def compose(self) -> ComposeResult:
        yield StatusLine(self.session, id="status")
        with Horizontal(id="body"):
            yield Transcript(self.conversation, MessageView("greeting", *self.conversation.opening), id="transcript")
            yield CallsPanel()
        yield Composer()

    async def on_mount(self) -> None:
        self.set_interval(THEIRS_EVERY, self.look_for_their_calls)
        self.query_one(Composer).focus()
        await self.show(self.transcript.head)  # the greeting composed is the one shown: painted once, not mounted twice
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        """The footer (whose keys cost a launch more than the rest of the screen) and the slash commands' list, a frame after
        the greeting."""
        from textual.widgets import Footer

        if self.is_attached:  # not when guide quits at once
            suggestions = OptionList(id="suggestions")
            suggestions.display = False  # hidden as made: hiding it once mounted costs a layout
            await self.mount(suggestions, before=self.composer)
            self.composer.suggest()  # a `/` typed in the first frame had no list to show it
            await self.mount(Footer(compact=True))  # compact: every F-key fits at 80 columns
            self.refresh_bindings()  # a footer mounted late draws its keys when told the bindings changed

    def on_resize(self) -> None:
        wide = self.size.width >= NARROW
        if wide != self.was_wide:
            self.panel_wanted, self.was_wide = None, wide  # across the fold, the width decides again over F2's choice
        self.panel.display = self.panel_wanted if self.panel_wanted is not None else wide

    @property
    def conversation(self) -> Conversation:
        """The conversation in force: the session's (a switch is announced, and `show` follows it)."""
        return self.session.conversation

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def panel(self) -> CallsPanel:
        return self.query_one(CallsPanel)

    async def show(self, greeting: MessageView | None = None) -> None:
        """Show the conversation in force: its greeting and its latest turns (and forget the last one's calls)."""
        conversation, self.found_for = self.conversation, None
        greeting = greeting or MessageView("greeting", *conversation.opening)  # as it opened, whoever speaks now
        self.panel.clear()
        await self.transcript.reset(conversation, greeting)
        if conversation.stored_id is not None:
            self.show_stored_calls()

    @work(group="calls")
    @guarded
    async def show_stored_calls(self) -> None:
        """A resumed conversation's latest calls, and a row that fetches earlier ones (read off the loop)."""
        shown, count = await self.conversation.stored_calls(OPENING)
        self.panel.show_earlier(shown, count - len(shown))
        self.panel.follow_branch(await self.conversation.calls_elsewhere())

    @work(group="branch-calls", exclusive=True)
    @guarded
    async def show_branch_calls(self) -> None:
        """The calls panel follows the branch in view (which calls answered other branches is read off the loop)."""
        self.panel.follow_branch(await self.conversation.calls_elsewhere())

    @work(group="calls")
    @guarded
    async def on_calls_panel_earlier_wanted(self) -> None:
        """The calls before the first row, from the store."""
        panel = self.panel
        if not panel.traces:
            return
        first = next(iter(panel.traces.values())).started_at
        earlier, _ = await self.conversation.stored_calls(PAGE, before=first)
        panel.show_earlier(earlier, max(0, panel.earlier - len(earlier)))

    @work(group="theirs")
    @guarded
    async def look_for_their_calls(self) -> None:
        """Calls other programs made to the companion (filed as they start and end), read off the loop, as rows marked theirs;
        the running ones read again by id (filed again in place, they are not after the last row read)."""
        from guide.companion.relay_trace import TO_THE_COMPANION
        from guide.tui.screens.watch import read_calls

        store = self.session.store
        if store is None or self.looking:
            return
        self.looking = True
        running = [trace.id for trace in self.panel.traces.values() if trace.caller and trace.state == "running"][-THEIRS_RUNNING:]
        try:
            found, self.their_row = await store.read(read_calls, store, self.their_row, running, TO_THE_COMPANION, latest=0)
        finally:
            self.looking = False
        if found:
            self.panel.show_all(found)

    # What the conversation reports.

    async def heard(self, event: Event) -> None:
        """Show what the conversation reported (routed here by the app)."""
        if isinstance(event, TurnAdded):
            await self.transcript.add(event.turn)
            self._followed_up(event.turn)
        elif isinstance(event, TurnRemoved):
            await self.transcript.forget(event.turn)
        elif isinstance(event, BranchShown):
            await self.transcript.follow_branch()
            self.show_branch_calls()
        elif isinstance(event, ReplyStarted):
            await self._reply_started(event.exchange)
        elif isinstance(event, ReplyPieces):
            if self.live is not None and self.live[0] is event.exchange:
                self.live[1].put_nowait(list(event.parts))
        elif isinstance(event, ReplyEnded):
            await self._reply_ended(event)
        elif isinstance(event, CallFiled):
            self.panel.show(event.trace)
        elif isinstance(event, (Switched, PersonaChanged)):
            if isinstance(event, Switched) and event.what == "conversation":
                self.stop()
                await self.show()
            self.query_one(StatusLine).refresh()  # it reads the session as it is drawn

    def _followed_up(self, turn: Turn) -> None:
        """What a block asks of the screen: words into the composer, a sound played."""
        data = turn.data or {}
        if turn.kind in (Gentle.listen, Gentle.interpret) and isinstance(data.get("words"), str):
            self.composer.give_back(data["words"])  # what was typed while it listened stays
        elif turn.kind == Gentle.speak and isinstance(data.get("path"), str):
            player = play(data["path"])
            heard = f"Playing with {player}." if player else "No audio player found (aplay, paplay, afplay, ffplay): open the file to listen."
            self.notify(heard, title=Gentle.speak, timeout=4)

    async def _reply_started(self, exchange: Exchange) -> None:
        """A reply the conversation is asking for: a message view, drawing the pieces as they are reported."""
        view = await self.transcript.start_live(exchange.who)
        pieces: asyncio.Queue[list[tuple[str, str]] | None] = asyncio.Queue()
        self.live = (exchange, pieces, self.run_worker(self._draw(view, pieces), group="drawing"))

    @guarded
    async def _draw(self, view: MessageView, pieces: asyncio.Queue[list[tuple[str, str]] | None]) -> None:
        async def reported() -> AsyncIterator[tuple[str, str]]:
            while (parts := await pieces.get()) is not None:
                for part in parts:
                    yield part

        await view.stream(reported())

    async def _reply_ended(self, event: ReplyEnded) -> None:
        exchange = event.exchange
        if self.live is not None and self.live[0] is exchange:
            _, pieces, drawing = self.live
            self.live = None
            pieces.put_nowait(None)
            with contextlib.suppress(WorkerCancelled):
                await drawing.wait()
        if exchange.turn is not None:
            await self.transcript.finish_live(exchange.turn)
        else:
            await self.transcript.drop_live()
        if exchange.words_back is not None:
            self.composer.give_back(exchange.words_back)

    # What the user does (what Enter sends and the slash commands: chat_commands.py).

    def on_composer_held(self) -> None:
        self.notify("The guide is still answering. Esc stops it; then Enter sends what you wrote.", timeout=4)

    def on_composer_recall(self) -> None:
        last = self.conversation.last_prompt()
        if last and not self.composer.text:  # asked for in an empty composer: keys typed since the up-arrow are never replaced
            self.composer.text = last
            self.composer.move_cursor(self.composer.document.end)

    @work(exclusive=True, group="reply")
    @guarded
    async def reply(self, text: str) -> None:
        """Say it (at the end of the conversation); the reply streams into a new message while the composer waits."""
        await self.transcript.show_latest()
        await self._replying(self.conversation.send(text))

    @work(exclusive=True, group="reply")
    @guarded
    async def action_regenerate(self) -> None:
        """ctrl+r: ask again for the last reply."""
        if self.streaming:
            return
        await self.transcript.show_latest()  # the branch in view is held to its end, and shown there
        last = self.conversation.turns[-1] if self.conversation.turns else None
        if self.streaming or last is None or last.role != "assistant":
            return
        await self._replying(self.conversation.regenerate())

    @work(exclusive=True, group="reply")
    @guarded
    async def edit(self, turn: Turn, text: str) -> None:
        """Send the edited words as a new branch from the message they replace (the branch left is kept)."""
        if not any(held is turn for held in self.conversation.turns):  # another branch was chosen meanwhile
            self.composer.give_back(text)
            self.notify("That message is no longer in view (another branch is): choose it again, then e.", severity="warning", timeout=6)
            return
        await self._replying(self.conversation.edit(turn, text))

    # Branches: keys on the message chosen in the transcript.

    def on_transcript_asked(self, event: Transcript.Asked) -> None:
        turn = event.turn
        if self.streaming:
            self.notify("The guide is still answering: Esc stops it, then the branches can change.", timeout=4)
        elif event.verb == "edit":
            if turn.role != "user":
                self.notify("Only your own messages can be edited: [ and ] show a reply's other versions (ctrl+r makes one).", timeout=5)
                return
            self.editing = (turn, self.composer.text)
            self.composer.text = turn.content
            self.composer.move_cursor(self.composer.document.end)
            self.composer.placeholder = PLACEHOLDER
            self.composer.focus()
            self.notify("Enter sends your edit as a new branch (the old one is kept); Esc leaves it as it was.", title="Edit", timeout=5)
        elif event.verb == "version":
            self.switch_version(turn, event.step)
        else:
            self.compare_branches(turn)

    @work(exclusive=True, group="branch")
    @guarded
    async def compare_branches(self, turn: Turn) -> None:
        """d: the version in view beside the one before it (the first, beside the one after), [ and ] there choosing another:
        the requests as sent, and the replies."""
        from guide.tui.screens.branches import BranchCompare, Version

        at, count = self.conversation.siblings(turn)
        if count < 2:
            self.notify("This message has no other version to compare with: e on one of yours makes one, ctrl+r on the last reply.", timeout=5)
            return
        answers = await self.conversation.answers(turn)

        def version(index: int) -> Version:
            reply, call = answers[index]
            return Version(f"version {index + 1} of {count}" + (" (in view)" if index == at else ""), reply, call)

        versions = [version(index) for index in range(count)]
        await self.app.push_screen(BranchCompare(versions, at, at - 1 if at > 0 else at + 1))

    @work(exclusive=True, group="branch")
    @guarded
    async def switch_version(self, turn: Turn, step: int) -> None:
        """[ or ]: the version before or after of the chosen message, and the branch that follows it."""
        at, count = self.conversation.siblings(turn)
        if count < 2:
            self.notify("This message has no other version: e on one of yours makes one, ctrl+r on the last reply too.", timeout=5)
            return
        seen = self.transcript.on_screen(turn)
        if not await self.conversation.switch(turn, step):
            self.notify(f"This is version {at + 1} of {count}: there is none {'before' if step < 0 else 'after'} it.", timeout=3)
            return
        # The new version stays chosen, drawn where the one it replaced was (the views above it stay): ] again goes on.
        shown = self.conversation.by_uid(self.conversation.tree.versions(turn)[at + step])
        await self.transcript.follow_branch(chosen=shown)
        if shown is not None and not seen:
            await self.transcript.reveal(shown)
        self.transcript.fill_below()

    async def _replying(self, replying: Awaitable[Exchange | None]) -> None:
        """The conversation asks and streams; its events draw the reply. The composer waits until the reply is drawn."""
        await self.session.started.wait()
        composer = self.composer
        waiting = PLACEHOLDER if "attached" in str(composer.placeholder) else composer.placeholder  # the pictures went with it
        composer.holding, composer.placeholder = True, WAITING
        self.streaming = True
        try:
            await replying
        finally:
            try:
                drawn = asyncio.Event()
                if self.app.call_later(drawn.set):  # runs once the app has drawn every event reported before it
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(DRAWN_WITHIN):
                            await drawn.wait()
            finally:
                self.streaming = False
                composer.holding, composer.placeholder = False, waiting
                composer.focus()

    def stop(self) -> None:
        """Esc: stop the reply; what arrived stays."""
        if self.streaming:
            self.workers.cancel_group(self, "reply")

    async def stop_for_switch(self) -> None:
        """The server is about to change: a reply streaming from the old one stops as Esc stops it (what arrived stays,
        marked stopped, and what is queued in the composer stays as it was), rather than breaking off as a network failure."""
        if not self.streaming:
            return
        self.stop()
        for _ in range(200):  # the worker ends within a frame or two; a deadline, never a hang
            if not self.streaming:
                break
            await asyncio.sleep(0.01)
        self.notify("The reply was stopped because the server changed; what arrived is kept.", title="Server", timeout=5)

    def action_stop(self) -> None:
        """Esc: stop a reply; elsewhere (the calls list), back to the composer."""
        if self.streaming:
            self.stop()
        elif self.editing is not None:  # the edit is left: the draft it replaced comes back
            self.composer.text, self.editing = self.editing[1], None
            self.composer.move_cursor(self.composer.document.end)
            self.composer.focus()
        elif self.focused is not self.composer:
            self.composer.focus()

    def _elsewhere(self) -> bool:
        """Focus is on the transcript or the calls list, where words cannot be written."""
        focused = self.focused
        return focused is not None and focused is not self.composer and (focused is self.transcript or self.panel.query_one("#calls").has_focus)

    def on_paste(self, event: Any) -> None:
        """A paste where words cannot go lands in the composer."""
        if self._elsewhere() and event.text:
            event.stop()
            self.composer.focus()
            self.composer.insert(event.text)

    def on_calls_panel_call_selected(self) -> None:
        self.opening_call = True  # not stopped: the app opens it

    def on_screen_resume(self) -> None:
        """Back from a modal (the map, a picker…): the composer has focus, so typing goes on. Back from a call opened
        in the calls panel, and only then, the panel keeps it: the next ↓ Enter opens the next call, and never sends
        a half-written draft; the first letter typed there takes the cursor back to the composer."""
        from_call, self.opening_call = self.opening_call, False
        if from_call and self.focused is not None and self.panel in self.focused.ancestors_with_self:
            return
        if self.is_mounted and self.composer.is_mounted:
            self.set_focus(self.composer)  # at once: keys typed right after Esc are already queued

    def action_copy_reply(self) -> None:
        """ctrl+y: copy the last reply (OSC 52, and a file in the data folder)."""
        from guide.tui.clipboard import copy  # item 5 (reading): OSC 52 and a file, said plainly

        last = self.conversation.last_reply()
        if last is not None:
            copy(self.app, last.content, "the last reply")

    async def action_transcript(self, action: str) -> None:
        """Move through the conversation from anywhere (the composer keeps its keys)."""
        await self.transcript.run_action(action)

    def action_toggle_panel(self) -> None:
        """F2: show the calls and move to them; again, hide them and go back."""
        panel, calls = self.panel, self.panel.query_one("#calls")
        if panel.display and (calls.has_focus or not panel.traces):
            self.panel_wanted = panel.display = False
            self.composer.focus()
            return
        self.panel_wanted = panel.display = True
        if panel.traces:
            calls.focus()
