"""GuideApp: owns the AsyncGuide, the session and the store; routes messages.

The greeting is painted first; the client (httpx) and the store (sqlite) are
loaded right after the first frame, so launch stays close to a bare app.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from guide import config, personas
from guide.safe_text import one_line, visible
from guide.tui import slash
from guide.tui.boundary import guarded
from guide.tui.choices import Choices
from guide.tui.finding import Finding
from guide.tui.history import History
from guide.tui.screens.chat import ChatScreen
from guide.tui.session import Session, Turn

if TYPE_CHECKING:
    from guide.client import AsyncGuide, GuideError, Trace
    from guide.store import Store


class GuideApp(Choices, History, Finding):
    """A calm guide to chat with, that shows every call it makes."""

    CSS_PATH = Path(__file__).with_name("guide.tcss")  # absolute: subclasses live elsewhere
    TITLE = "guide"
    BINDINGS = [
        Binding("f1", "help", "Help", id="help", tooltip="Keys and slash commands", priority=True),
        Binding("f2", "toggle_panel", "Calls", id="toggle-panel", tooltip="Show or hide the calls panel", priority=True),
        Binding("f3", "show_map", "Map", id="map", tooltip="Every gentle action and its legacy endpoint", priority=True),
        Binding("f4", "conversations", "Chats", id="conversations", tooltip="Resume, rename, delete or export", priority=True),
        Binding("f5", "pick_persona", "Persona", id="persona", priority=True),
        Binding("f6", "pick_model", "Model", id="model", show=False, priority=True),
        Binding("f7", "pick_server", "Server", id="server", show=False, priority=True),
        Binding("ctrl+n", "new_conversation", "New", id="new", show=False),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate", show=False),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="copy-reply", show=False),
        Binding("escape", "stop", "Stop", id="stop", show=False),
        Binding("ctrl+f", "find", "Find", id="find", show=False, priority=True),
        Binding("ctrl+home", "transcript('top')", "Top", id="top", show=False, priority=True),
        Binding("ctrl+end", "transcript('bottom')", "Bottom", id="bottom", show=False, priority=True),
        Binding("shift+pageup", "transcript('page_older')", "Older", id="older", show=False, priority=True),
        Binding("shift+pagedown", "transcript('page_newer')", "Newer", id="newer", show=False, priority=True),
    ]

    def __init__(self, *, flags: dict[str, Any] | None = None, transport: Any = None) -> None:
        super().__init__()
        self.transport = transport
        """An httpx transport for the client (tests and screenshots); None for the network."""
        self.flags = {k: v for k, v in (flags or {}).items() if v is not None}
        self.loaded = config.load(self.flags)
        self.settings = self.loaded.settings
        self.shelf = personas.load()
        self.session = Session(self.shelf.get(self.settings.persona), self.settings.address)
        self.chat = ChatScreen(self.session.persona.name, self.session.greeting(), "", self.session.turns)
        self._guide: AsyncGuide | None = None
        self._store: Store | None = None
        self.store_problem: str | None = None
        self.calls: Counter[str] = Counter()
        self.support: dict[str, Any] | None = None
        self.panel_wanted: bool | None = None
        self.streaming = False
        self._painted = False
        self.answering: Any = None
        """Who answers when no server is configured (a local one, or the companion)."""
        self._connected: asyncio.Event | None = None
        self._unfiled: list[Trace] = []
        """Calls made before the conversation was first stored; filed with it."""
        if self.settings.theme:
            self.theme = self.settings.theme
        self.refresh_status()

    def notify(self, message: str, *, title: str = "", markup: bool = False, **options: Any) -> None:
        """Notices carry server words and file names: never read them as markup, never pass on their control characters."""
        super().notify(visible(message), title=one_line(title), markup=markup, **options)

    # Start-up: the greeting first, everything heavy after the first frame.

    def get_default_screen(self) -> Screen[Any]:
        """The chat, greeting included, is the first thing painted."""
        return self.chat

    def on_mount(self) -> None:
        self._painted = True
        self._connected = asyncio.Event()
        self.call_after_refresh(self._first_frame_shown)

    async def on_unmount(self) -> None:
        if self._guide is not None:
            await self._guide.aclose()
        if self.answering is not None and self.answering.companion is not None:
            self.answering.companion.stop()

    async def ready(self) -> None:
        """Wait until guide knows which server answers (at most a moment, once)."""
        if self._connected is not None:
            await self._connected.wait()

    @work(group="connect")
    @guarded
    async def _connect(self) -> None:
        """Find who answers: configured, a local server found running, or the companion."""
        from guide.connect import choose

        try:
            if not self.settings.server():
                self.answering = await choose(self.settings)
                if self.answering.message:
                    self.notify(self.answering.message, title="Who is answering", timeout=12)
            elif self.transport is None and not await reachable(self.settings.server() or ""):
                self.notify(
                    f"Nothing answers at {self.server_address()} yet. Is it running? F7 picks another server.",
                    title="Could not reach the server",
                    severity="warning",
                    timeout=15,
                )
        finally:
            if self._connected is not None:
                self._connected.set()
            _ = self.guide, self.store
            self.refresh_status()

    async def _first_frame_shown(self) -> None:
        for problem in self.shelf.problems:
            self.notify(str(problem), title="A persona file was skipped", severity="warning", timeout=10)
        if self.loaded.problem:
            self.notify(self.loaded.problem, title="Settings", severity="warning", timeout=10)
        if self.settings.persona not in self.shelf.personas:
            self.notify(f"There is no persona called '{self.settings.persona}'; the calm guide is here instead.", severity="warning")
        self.call_after_refresh(self._connect)

    @property
    def guide(self) -> AsyncGuide:
        """The client, made on first use (this is when httpx is imported)."""
        if self._guide is None:
            from guide.client import AsyncGuide

            base_url = self.settings.server() or (self.answering.base_url if self.answering else None)
            self._guide = AsyncGuide(
                base_url=base_url,
                api_key=self.settings.api_key(),
                model=self.model_choice(),
                timeout=self.settings.read_timeout(),
                on_trace=self.on_trace,
                transport=self.transport,
            )
        return self._guide

    @property
    def store(self) -> Store | None:
        """The store, opened on first use; None if it cannot be (the app goes on)."""
        if self._store is None and self.store_problem is None:
            from guide.store import Store

            try:
                self._store = Store(on_failure=self._store_failed)
            except Exception as error:  # an unusable data folder must not stop the chat
                self.store_problem = f"Conversations cannot be saved: {error}. guide keeps working in memory."
                self.notify(self.store_problem, title="Storage", severity="warning", timeout=15)
            else:
                if self._store.notice:
                    self.notify(self._store.notice, title="Storage", severity="warning", timeout=15)
        if self._store is not None and self._store.failure is not None:
            return None
        return self._store

    def _store_failed(self, error: Exception) -> None:
        self.store_problem = f"Conversations can no longer be saved ({error}). guide keeps working in memory; nothing on screen is lost."
        self.notify(self.store_problem, title="Storage", severity="warning", timeout=15)

    def model_choice(self) -> str | None:
        """The user's chosen model, else the persona's preferred one."""
        return self.settings.model or self.session.persona.model

    def server_address(self) -> str:
        """The server as people write it: without the version, and without any credentials."""
        from guide.client._address import display_address
        from guide.client._providers import DEFAULT_BASE_URL

        configured = self.settings.server()
        if not configured and self.answering is not None:
            return f"{self.answering.label} at {display_address(self.answering.base_url)}"
        if not configured and not self._connected_yet():
            return "looking for a server…"
        return display_address(configured or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)

    def _connected_yet(self) -> bool:
        return self._connected is not None and self._connected.is_set()

    def refresh_status(self) -> None:
        """Persona · server · model, at the top (painted in the first frame)."""
        model = (self._guide.chosen_model(None) if self._guide else None) or self.model_choice() or "the server's first model"
        if "/" in model and model.endswith((".gguf", ".bin")):
            model = model.rsplit("/", 1)[-1]  # llama.cpp names a model by its file path
        self.chat.set_status(f"◉ {self.session.persona.name}  ·  {self.server_address()}  ·  {model}")

    async def show_session(self, fetch_older: Any = None) -> None:
        """The session's greeting (shown, never sent: the guide waits) and its latest turns."""
        from guide.tui.widgets.transcript import MessageView

        greeting = MessageView("greeting", self.session.persona.name, self.session.greeting())
        await self.chat.transcript.reset(self.session.turns, greeting, fetch_older)

    # Calls: every trace reaches the panel as it starts and as it ends.

    def on_trace(self, trace: Trace) -> None:
        from guide.client._requests import PROBE

        self.chat.panel.show(trace)
        if trace.state == "running":
            return
        if trace.gentle != PROBE:
            self.calls[trace.action] += 1
        if trace.action == "catalog":
            self.refresh_status()  # the first listed model may just have become the one in use
        if self.store is not None:
            self.store.save_trace(self.session.conversation_id, trace)
            if self.session.conversation_id is None:
                self._unfiled.append(trace)

    def on_mapping_panel_call_selected(self, event: Any) -> None:
        from guide.tui.screens.call_detail import CallDetail

        self.push_screen(CallDetail(event.trace))

    def explain(self, error: GuideError, what: str) -> None:
        """A failed call as a calm notice: title, the server's words, the hint."""
        lines = [error.detail, error.hint] if error.detail else [error.hint]
        from guide.client import CannotConnect

        if isinstance(error, CannotConnect):
            lines.append("F7 picks another server.")
        self.notify("\n".join(lines) + "\n(F2: the call, whole, in the calls panel)", title=error.title, severity="error", timeout=12)

    # Sending, streaming, stopping.

    @guarded
    async def on_composer_submitted(self, event: Any) -> None:
        text = event.text
        command = slash.parse(text.strip())
        if text.strip().startswith("/") and command is None:
            self.notify(f"There is no command {text.split()[0]}. /help lists them.", severity="warning")
            return
        self.chat.composer.text = ""
        if command is not None:
            self.run_command(*command)
            return
        await self.send(text)

    def on_composer_recall(self) -> None:
        last = self.session.last_prompt()
        if last:
            self.chat.composer.text = last
            self.chat.composer.move_cursor(self.chat.composer.document.end)

    async def send(self, text: str) -> None:
        """Show the user's words (at the end of the conversation) and ask the guide."""
        transcript = self.chat.transcript
        await transcript.show_latest()
        turn = Turn("user", text)
        await transcript.add(turn)
        store = self._filing()
        if store is not None and self.session.conversation_id is not None:
            turn.message_id = store.add_message(self.session.conversation_id, "user", text)  # kept even if guide is killed mid-reply
        self.think(turn)

    @work(exclusive=True, group="reply")
    @guarded
    async def think(self, turn: Turn) -> None:
        """One think call, streamed into a new message; the composer waits."""

        await self.ready()
        composer = self.chat.composer
        composer.read_only = True
        composer.placeholder, waiting = "The guide is answering…  (Esc stops it; what arrived stays)", composer.placeholder
        self.streaming = True
        persona = self.session.persona
        transcript = self.chat.transcript
        budget = self.settings.history_budget()
        await transcript.load_back(lambda: self.session.holds(budget))  # the latest turns that fit go with the message
        view = await transcript.start_live(persona.name)
        reply = self.guide.think(
            self.session.history(budget), system=self.session.system(), stream=True, model=self.model_choice(), **persona.options
        )
        state = "done"
        failure: Exception | None = None
        try:
            await view.stream(reply)
        except Exception as error:  # a GuideError, or one nobody expected (the boundary reports that one)
            failure, state = error, "cut"
            await reply.aclose()
        except BaseException:
            state = "stopped"
            await reply.aclose()
            raise
        finally:
            self.streaming = False
            composer.read_only = False
            composer.placeholder = waiting
            text = view.text
            if failure is not None and not text:
                await transcript.drop_live()
                if self.session.turns and self.session.turns[-1] is turn:
                    await transcript.remove_last()
                    if self.store is not None and turn.message_id is not None:
                        self.store.delete_message(turn.message_id)  # the words go back to the composer instead
                        turn.message_id = None
            else:
                view.set_state(state)
                await self._keep(turn, Turn("assistant", text, state, persona.name, trace_id=reply.trace.id if reply.trace else None))
            if failure is not None:
                composer.text = turn.content  # the words go back, to send again
                composer.move_cursor(composer.document.end)
            composer.focus()
            self.refresh_status()
        if failure is not None:
            raise failure  # the boundary says what happened, calmly

    def _filing(self) -> Store | None:
        """The store, with this conversation in it (made on its first message, with its earlier calls)."""
        store = self.store
        if store is not None and self.session.conversation_id is None:
            self.session.conversation_id = store.new_conversation(self.session.persona.id)
            for trace in self._unfiled:
                store.save_trace(self.session.conversation_id, trace)
            self._unfiled.clear()
        return store

    async def _keep(self, user: Turn | None, reply: Turn) -> None:
        """Show and store the finished reply (one transaction per message)."""
        await self.chat.transcript.finish_live(reply)
        store = self._filing()
        if store is None or self.session.conversation_id is None:
            return
        model = (self._guide.chosen_model(None) if self._guide else None) or ""
        if user is not None and user.message_id is None:
            user.message_id = store.add_message(self.session.conversation_id, "user", user.content)
        reply.message_id = store.add_message(
            self.session.conversation_id,
            "assistant",
            reply.content,
            persona=reply.persona,
            model=model,
            state=reply.state,
            trace_id=reply.trace_id,
        )

    def action_stop(self) -> None:
        """Esc: stop the reply; what arrived stays."""
        if self.streaming:
            self.workers.cancel_group(self, "reply")

    async def action_regenerate(self) -> None:
        """Ask again for the last reply."""
        last = self.session.last_reply()
        if self.streaming or last is None or self.session.turns[-1] is not last:
            return
        await self.chat.transcript.remove_last()
        if self.store is not None and last.message_id is not None:
            self.store.delete_message(last.message_id)
        user = next(t for t in reversed(self.session.turns) if t.role == "user")
        self.think(user)

    async def action_transcript(self, action: str) -> None:
        """Move through the conversation from anywhere (the composer keeps its keys)."""
        if self.screen is self.chat:
            await self.chat.transcript.run_action(action)

    def action_copy_reply(self) -> None:
        """Copy the last reply (OSC 52)."""
        last = self.session.last_reply()
        if last is not None:
            self.copy_to_clipboard(last.content)
            self.notify("Copied the last reply.", timeout=2)

    # Slash commands.

    @work(group="action")
    @guarded
    async def run_command(self, command: slash.SlashCommand, argument: str) -> None:
        """Run one slash command; gentle ones are real calls with their rows."""
        from guide.client import GuideError
        from guide.tui import commands

        await self.ready()
        name = command.name
        needs_text = command.action in ("imagine", "understand", "speak", "listen", "interpret", "continue", "discern")
        if needs_text and not argument:
            self.notify(f"Usage: {command.usage}", severity="warning")
            return
        try:
            if name == "imagine":
                await commands.imagine(self, argument)
            elif name == "understand":
                await commands.understand(self, argument)
            elif name == "speak":
                await commands.speak(self, argument)
            elif name in ("listen", "interpret"):
                await commands.transcribe(self, name, argument)
            elif name == "continue":
                await commands.continue_(self, argument)
            elif name == "catalog":
                await commands.catalog(self)
            elif name == "discern":
                await commands.discern(self, argument)
            elif name == "persona":
                await self.switch_persona(argument) if argument else self.action_pick_persona()
            elif name == "model":
                await self.switch_model(argument) if argument else self.action_pick_model()
            elif name == "export":
                self.export(with_calls=argument == "calls")
            elif name == "find":
                await self.action_find(argument)
            elif name == "new":
                await self.action_new_conversation()
            else:
                await self.run_action({"conversations": "conversations", "map": "show_map", "help": "help", "server": "pick_server"}[name])
        except GuideError as error:
            self.explain(error, name)

    async def show_action(self, action: str, body: str, trace: Trace | None, picture: Any = None) -> None:
        """A slash command's result as a block in the transcript (with a picture, for imagine)."""
        from guide.client import ACTIONS

        title = f"{action} → {ACTIONS[action].endpoint}"
        await self.chat.transcript.add(Turn("action", body, trace_id=trace.id if trace else None, title=title, picture=picture))

    # Screens.

    def action_help(self) -> None:
        from guide.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_toggle_panel(self) -> None:
        """F2: show the calls and move to them; again, hide them and go back."""
        panel = self.chat.panel
        calls = panel.query_one("#calls")
        if panel.display and (calls.has_focus or not panel.traces):
            self.panel_wanted = panel.display = False
            self.chat.composer.focus()
            return
        self.panel_wanted = panel.display = True
        if panel.traces:
            calls.focus()

    def action_show_map(self) -> None:
        from guide.tui.screens.map_screen import MapScreen

        self.push_screen(MapScreen(self.server_address(), self.support, self.calls))
        if self.support is None:
            self.run_worker(self.probe_server(), group="probe")

    def watch_theme(self, theme: str) -> None:
        if self._painted and theme != self.settings.theme:
            self._save_setting("theme", theme)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Persona", "Switch persona, or create and edit one", self.action_pick_persona)
        yield SystemCommand("Model", "Pick a model from the server's catalog", self.action_pick_model)
        yield SystemCommand("Server", "Pick a server: presets or a custom address", self.action_pick_server)
        yield SystemCommand("Map", "The gentle actions and their legacy endpoints", self.action_show_map)
        yield SystemCommand("Conversations", "Resume, rename, delete or export", self.action_conversations)
        yield SystemCommand("New conversation", "Start again with the greeting", self.action_new_conversation)


async def reachable(address: str, timeout: float = 1.5) -> bool:
    """Whether anything accepts a connection at the address (no request is sent)."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"http://{address}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "127.0.0.1", port), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


def run(flags: dict[str, Any] | None = None) -> None:
    """Run the app in the terminal."""
    GuideApp(flags=flags).run()
