"""GuideApp: the terminal shell around a ChatSession. Bindings, screens, and routing what happens.

The greeting is painted first; the store and the server are found right
after the first frame, off the loop. What the session and its conversation
report arrives as one message (`Heard`) and is routed to the chat screen or
shown as a notice. Everything else lives in the session (headless) or in
the screens and widgets.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from guide import config
from guide.chat_session import ChatSession
from guide.client import Gentle
from guide.conversation import Event, Notice
from guide.safe_text import one_line, visible
from guide.tui.boundary import guarded
from guide.tui.screens.chat import ChatScreen

if TYPE_CHECKING:
    from guide.client import GuideError
    from guide.tui.screens.notices import Recent


class GuideApp(App[None]):
    """A calm guide to chat with, that shows every call it makes."""

    CSS_PATH = Path(__file__).with_name("guide.tcss")  # absolute: subclasses live elsewhere
    TITLE = "guide"
    SUSPENDED_SCREEN_CLASS = "-suspended"  # a screen under a dialog hides its notices: the dialog shows them (guide.tcss)
    BINDINGS = [
        Binding("f1", "help", "Help", id="help", tooltip="Keys and slash commands", priority=True),
        Binding("f2", "screen.toggle_panel", "Calls", id="toggle-panel", tooltip="Show or hide the calls panel", priority=True),
        Binding("f3", "show_map", "Map", id="map", tooltip="Every gentle action and its legacy endpoint", priority=True),
        Binding("f4", "conversations", "Chats", id="conversations", tooltip="Resume, rename, delete or export", priority=True),
        Binding("f5", "persona", "Persona", id="persona", priority=True),
        Binding("f6", "model", "Model", id="model", priority=True),
        Binding("f7", "pick_server", "Server", id="server", priority=True),
        Binding("ctrl+n", "new_conversation", "New", id="new", show=False),
        Binding("f8", "notices", "Notices", id="notices", tooltip="The recent notices, whole", show=False, priority=True),
    ]
    """The chat's own keys (Esc, ctrl+r, ctrl+f…) are the ChatScreen's; F2 is here to keep the footer in order."""

    @dataclass
    class Heard(Message):
        """Something the session or its conversation reported (posted from any thread)."""

        event: Event

    def __init__(self, *, flags: dict[str, Any] | None = None, transport: Any = None) -> None:
        super().__init__()
        self.session = ChatSession(flags, transport=transport, emit=self._heard)
        self.session.approve = self.approve_tool
        self.chat = ChatScreen(self.session)
        self._painted = False
        self._recent: Recent | None = None
        self.on_screen: list[tuple[str, SeverityLevel, float]] = []
        """The notices showing now, as shown: their words, severity, and when they go (monotonic seconds)."""
        self._theme_problem = self._apply_theme()

    def _apply_theme(self) -> str | None:
        """The theme the settings name; if there is none by that name, the default and words saying so (the setting is kept)."""
        wanted = self.session.settings.theme
        if not wanted:
            return None
        name = config.theme_name(wanted)
        if name is not None:
            self.theme = name
            return None
        where = "GUIDE_THEME" if self.session.loaded.sources["theme"] == "environment" else f"the settings file, {self.session.loaded.path}"
        return f"There is no theme called '{one_line(wanted)}' (set in {where}), so the default theme is used. Ctrl+P → Theme lists the themes."

    @property
    def recent(self) -> Recent:
        """The latest notices, whole (F8): on screen they are cut to two lines, two at a time. Made with the first notice,
        after the greeting: the notices' module is not on the way to the first frame."""
        if self._recent is None:
            from guide.tui.screens.notices import Recent

            self._recent = Recent()
        return self._recent

    def _heard(self, event: Event) -> None:
        self.post_message(self.Heard(event))  # thread-safe: the store's writer reports from its own thread

    def notify(
        self, message: str, *, title: str = "", severity: SeverityLevel = "information", timeout: float | None = None, markup: bool = False
    ) -> None:
        """Notices carry server words and file names: never read as markup, control characters shown as symbols.

        On screen a notice is cut to two lines and at most two show at once (Textual shows every one, whole, and they
        covered half the transcript); each is kept whole for F8. Only Textual's public notify and clear_notifications."""
        from guide.tui.screens.notices import LONGEST, SHOWN, summary

        title, message = one_line(title), visible(message)
        self.recent.add(title, message, severity)
        words, _ = summary(title, message, self.size.width)
        now = time.monotonic()
        seconds = min(self.NOTIFICATION_TIMEOUT if timeout is None else timeout, LONGEST)
        staying = [(w, level, until) for w, level, until in self.on_screen if until > now + 0.2]
        if len(staying) >= SHOWN:  # the oldest goes for good
            self._keep_on_screen(staying[-(SHOWN - 1) :] if SHOWN > 1 else [])
        self.on_screen = [*(self.on_screen if len(staying) >= SHOWN else staying), (words, severity, now + seconds)]
        super().notify(words, severity=severity, timeout=seconds, markup=False)

    def withdraw(self, message: str, *, title: str = "") -> None:
        """Take a notice off the screen once what it said is over ("Replaying…"); F8 still lists it."""
        from guide.tui.screens.notices import summary

        words, _ = summary(one_line(title), visible(message), self.size.width)
        kept = [shown for shown in self.on_screen if shown[0] != words]
        if len(kept) < len(self.on_screen):
            self.on_screen = kept
            self.call_later(self._keep_on_screen, kept)  # queued behind the notice itself: Textual adds one when its message is handled

    def _keep_on_screen(self, kept: list[tuple[str, SeverityLevel, float]]) -> None:
        """Only these notices on screen, each for the rest of its time (Textual's public API clears all or none)."""
        now = time.monotonic()
        self.clear_notifications()
        self.on_screen = [(w, level, until) for w, level, until in kept if until > now + 0.2]
        for w, level, until in self.on_screen:
            super().notify(w, severity=level, timeout=until - now, markup=False)

    def action_notices(self) -> None:
        """F8: the recent notices, whole."""
        from guide.tui.screens.notices import NoticesScreen

        if not isinstance(self.screen, NoticesScreen):
            self.clear_notifications()  # each is listed whole: the cut copies would only cover the list
            self.push_screen(NoticesScreen(list(self.recent.said)))

    def action_help_quit(self) -> None:
        """ctrl+c: say how to quit (Textual's own words are markup, which notices never read)."""
        keys = [key for key, active in self.active_bindings.items() if active.binding.action in ("quit", "app.quit")]
        if keys:
            self.notify(f"Press {keys[0]} to quit guide.", title="Do you want to quit?")

    def explain(self, error: GuideError, what: str = "") -> None:
        """A failed call as a calm notice: title, the server's words, the hint."""
        from guide.client import CannotConnect, Redirected

        lines = [error.detail, error.hint] if error.detail else [error.hint]
        if isinstance(error, (CannotConnect, Redirected)):
            lines.append("F7 picks another server.")
        if error.trace is not None:  # refused before any call (a file that is not a picture) has no row to point at
            lines.append("(F2: the call, whole, in the calls panel)")
        self.notify("\n".join(lines), title=error.title, severity="error", timeout=12)

    # Start-up: the greeting first, everything heavy after the first frame.

    def get_default_screen(self) -> Screen[Any]:
        """The chat, greeting included, is the first thing painted."""
        return self.chat

    def on_mount(self) -> None:
        self._painted = True
        self.call_after_refresh(self._first_frame_shown)

    def _first_frame_shown(self) -> None:
        # `guide` turned collections off until the greeting was painted (guide.cli.run_app). What start-up made lives as
        # long as the app: frozen first, so turning collections back on does not walk it all at once (15 ms on the loop).
        gc.freeze()
        gc.enable()
        for title, words in self.session.problems():
            self.notify(words, title=title, severity="warning", timeout=10)
        if self._theme_problem:
            self.notify(self._theme_problem, title="Theme", severity="warning", timeout=10)
        self.start()

    @work(group="start")
    @guarded
    async def start(self) -> None:
        """Find who answers and open the store, off the loop; the header says who answers as soon as it is known (`Switched`)."""
        starting, answering = asyncio.ensure_future(self.session.start()), asyncio.ensure_future(self.session.started.wait())
        try:
            await asyncio.wait({starting, answering}, return_when=asyncio.FIRST_COMPLETED)
            # What start-up made lives as long as the app: a full collection walking it held the loop 60 ms in a long reply.
            gc.freeze()
            await starting  # the store may still be opening (another guide holds it): nothing waits for that but this worker
        finally:
            starting.cancel()  # guide is quitting: the store's opening is left to the exit
            answering.cancel()

    async def on_unmount(self) -> None:
        gc.enable()  # quitting before the first frame
        gc.unfreeze()
        kept = await self.session.close()
        if kept is not None:
            print(f"guide: what could not be saved to the conversations file is kept in {kept}, and saved the next time guide opens it.")

    # What the session and the conversation report.

    @guarded
    async def on_guide_app_heard(self, message: Heard) -> None:
        event = message.event
        if isinstance(event, Notice):
            default = 6 if event.severity == "information" else 12
            self.notify(event.message, title=event.title, severity=event.severity, timeout=event.timeout or default)
            return
        if self.chat.is_attached:  # closing: a call stopped as guide exits has nothing left to show on
            await self.chat.heard(event)

    def on_calls_panel_call_selected(self, event: Any) -> None:
        from guide.tui.screens.call_detail import CallDetail

        if event.trace.action == "mcp":  # an MCP server's exchange: JSON-RPC, not HTTP to an OpenAI-compatible server
            from guide.tui.screens.mcp_detail import McpDetail

            self.push_screen(McpDetail(event.trace))
            return
        self.push_screen(CallDetail(event.trace))

    async def approve_tool(self, call: Any, server: str, tool: str) -> str:
        """Ask before an MCP tool runs (the session's `approve`): y once, a always, n no."""
        from guide.tui.screens.approve_tool import ApproveTool

        answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.push_screen(ApproveTool(server, call.shown()), callback=lambda answer: None if answered.done() else answered.set_result(answer or "n"))
        return await answered

    # The chat.

    def action_new_conversation(self) -> None:
        """A fresh conversation: the greeting again, no call (the screen shows it when the session says so)."""
        self.session.new_conversation()

    # Screens and choices.

    def action_help(self) -> None:
        from guide.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_tour(self, again: str = "") -> None:
        """/tour, F1's t, the palette: the tour of the map, from where it stopped (`/tour again`: from the start)."""
        if again and again.strip().lower() != "again":
            self.notify("Usage: /tour, or /tour again to start from the first step.", severity="warning", timeout=5)
            return
        if any(worker.group == "tour" and worker.is_running for worker in self.workers):
            self.notify("The tour is open: Enter takes the next step, Esc ends it.", timeout=4)
            return
        self.take_tour(bool(again))

    @work(group="tour", exclusive=True)
    @guarded
    async def take_tour(self, again: bool) -> None:
        from guide.tui.touring import take_tour

        await take_tour(self, again)

    def action_respond(self, argument: str = "") -> None:
        """/respond [on|off]: the chat's next messages go through respond (POST /v1/responses) or back through think."""
        conversation = self.session.conversation
        wanted = argument.strip().lower()
        if wanted not in ("", "on", "off"):
            self.notify("Usage: /respond, /respond on or /respond off.", severity="warning", timeout=5)
            return
        on = conversation.surface != Gentle.respond if not wanted else wanted == "on"
        from guide.client import ACTIONS
        from guide.conversation.core import Surface

        surface: Surface = Gentle.respond if on else Gentle.think
        if on and self.session.offers(Gentle.respond) is False:
            words = f"{self.session.server_address()} does not offer respond (POST /v1/responses): messages go on through think."
            self.notify(words, title="Respond", severity="warning", timeout=6)
            return
        conversation.switch_surface(surface)
        self.notify(f"The next messages go through {surface} → {ACTIONS[surface].endpoint}.", timeout=4)

    def action_show_map(self) -> None:
        from guide.tui.screens.map_screen import MapScreen

        self.push_screen(MapScreen(self.session))

    def action_tools(self, argument: str = "") -> None:
        """/tools [SERVER on|off]: the persona's tools, and its MCP servers turned on or off for this conversation."""
        from guide.mcp.tools import tools_command

        conversation = self.session.conversation
        said = tools_command(conversation.persona.tools, self.session.mcp, conversation.mcp_off, argument)
        self.notify(said, title="Tools", severity="warning" if said.startswith("Usage") else "information", timeout=10, markup=False)

    def action_persona(self, persona_id: str = "") -> None:
        """F5, /persona [ID]: switch persona, or pick, create or edit one."""
        from guide.tui.screens.pickers import persona_picker

        if persona_id:
            self.session.switch_persona(persona_id)
            return
        self.push_screen(persona_picker(self.session.shelf.personas, self.session.conversation.persona.id), self._persona_chosen)

    @guarded
    async def _persona_chosen(self, choice: str | None) -> None:
        from guide.personas import template
        from guide.tui.screens.persona_form import PersonaEditor

        if not choice:
            return
        if choice.startswith("use:"):
            self.session.switch_persona(choice[4:])
            return
        if choice.startswith("restore:"):
            self.restore_persona(choice.removeprefix("restore:"))
            return
        start = template("my-guide") if choice == "new" else self.session.conversation.persona
        self.push_screen(PersonaEditor(start, creating=choice == "new"), self._persona_edited)

    @work(group="picker")
    @guarded
    async def restore_persona(self, persona_id: str) -> None:
        """Restore a bundled persona: your copy goes for good, so ask first."""
        from guide.personas import file_for
        from guide.tui.screens.confirm import Confirm

        words = f"Your copy, {file_for(persona_id)}, is removed for good."
        question = Confirm("Restore the bundled persona?", words, keys="y restores it · n or Esc keeps yours")
        if await self.push_screen_wait(question):
            removed = self.session.restore_persona(persona_id)
            self.notify(f"The bundled persona is back; your copy ({removed}) was removed.", title="Persona", timeout=6)

    @guarded
    async def _persona_edited(self, edited: Any) -> None:
        if edited is not None:
            from guide.personas import bundled

            path = self.session.save_persona(edited)
            if bundled(edited.id) is not None:
                words = f"Saved as your own copy of {edited.name}, in {path}. The bundled one is kept: F5 can restore it."
                self.notify(words, title="Persona", timeout=8)
            else:
                self.notify(f"Saved {path}", title="Persona", timeout=4)
            self.session.switch_persona(edited.id)

    @work(group="picker")
    @guarded
    async def action_model(self, name: str = "") -> None:
        """F6, /model [NAME]: pick a model from the catalog, grouped by what each is for; checked before it is used."""
        from guide.tui.screens.pickers import model_picker

        await self.session.started.wait()
        if not name:
            catalog = list(await self.session.conversation.know_models())
            in_force = self.session.server.models.for_action(Gentle.think, self.session.conversation.persona.model)
            picked: str | None = await self.push_screen_wait(model_picker(catalog, in_force))
            name = picked or ""
        if name:
            await self.session.switch_model(name)

    @work(group="picker")
    @guarded
    async def action_pick_server(self) -> None:
        """F7: pick a server (guide's companion, a preset, an address); guide probes it first and asks before using one that does not answer."""
        from guide.tui.screens.confirm import Confirm
        from guide.tui.screens.pickers import AddressPrompt, server_picker

        session = self.session
        in_force = "companion" if session.server.companion is not None else f"preset:{session.settings.provider}"
        choice = await self.push_screen_wait(server_picker(session.server_address(), in_force))
        if choice == "custom":
            choice = await self.push_screen_wait(AddressPrompt())
        if not choice:
            return
        await session.started.wait()
        if choice == "companion":
            running = session.server.companion is not None
            self.notify("Back to guide's companion." if running else "Starting guide's companion…", timeout=3)
            await self.chat.stop_for_switch()
            await session.use_companion()
        else:
            self.notify("Asking the server what it offers…", timeout=3)
            tried = await session.try_server(choice)
            if tried is None:
                return
            if not tried.useful:
                heard = "Nothing answers at" if not tried.answered else "Nothing guide can use answers at"
                question = f"{heard} {tried.address} ({tried.why_not()}). Use it anyway?"
                if not await self.push_screen_wait(Confirm("Server", question)):
                    self.notify(f"Still talking to {session.server_address()}.", timeout=4)
                    return
            await self.chat.stop_for_switch()
            await session.switch_server(choice, probed=tried)

    @work(group="picker")
    @guarded
    async def action_conversations(self) -> None:
        """F4: resume, rename, delete or export a conversation; search them all."""
        from guide.tui.screens.conversations import ConversationsScreen

        if isinstance(self.screen, ConversationsScreen):  # F4 is priority here: on the list, it closes it
            self.screen.dismiss(None)
            return
        if not self.session.store_opened.is_set():
            self.notify("The conversations file is still being opened (another guide is using it); the list shows when it is free.", timeout=6)
        await self.session.store_opened.wait()
        store = self.session.store
        if store is None:
            self.notify(self.session.store_problem or "Conversations are not being saved.", severity="warning")
            return
        listed = await store.read(store.conversations)  # off the loop: the list shows when it is read
        self.push_screen(ConversationsScreen(listed, store, act=self._conversation_chosen), self._conversation_chosen)

    @guarded
    async def _conversation_chosen(self, choice: Any) -> None:
        store = self.session.store
        if choice is None or store is None:
            return
        if choice.verb == "resume":
            if await self.session.resume(choice.conversation_id) is not None and choice.message_id is not None:
                self.call_later(self.chat.show_message, choice.message_id)  # after the screen shows it (its `Switched` is queued first)
        elif choice.verb == "rename":
            store.rename(choice.conversation_id, choice.title)
            self.notify(f"Renamed to “{choice.title}”.", timeout=3)
        elif choice.verb == "delete":
            was_open = await self.session.is_open(choice.conversation_id)
            store.delete(choice.conversation_id)
            if was_open:
                self.action_new_conversation()
            fresh = " It was open: a fresh conversation begins." if was_open else ""  # item 2 (reading)
            self.notify(f"Deleted “{choice.title or '(untitled)'}”.{fresh}", timeout=4)
        elif choice.verb.startswith("export"):
            current = await self.session.is_open(choice.conversation_id)
            chosen = self.session.conversation if current else await self.session.open(choice.conversation_id)
            if chosen is not None:
                await self._export(chosen, with_calls=choice.verb == "export-calls")

    async def _export(self, conversation: Any, *, with_calls: bool) -> None:
        path = await self.session.export(conversation, with_calls=with_calls)
        self.notify(f"Exported to {path}", title="Export", timeout=8) if path else self.notify("There is nothing to export.", severity="warning")

    def watch_theme(self, theme: str) -> None:
        if self._painted and theme != self.session.settings.theme:
            self.session.save_settings({"theme": theme})

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Persona", "Switch persona, or create and edit one", self.action_persona)
        yield SystemCommand("Model", "Pick a model from the server's catalog", self.action_model)
        yield SystemCommand("Server", "Pick a server: presets or a custom address", self.action_pick_server)
        yield SystemCommand("Map", "The gentle actions and their legacy endpoints", self.action_show_map)
        yield SystemCommand("Tour", "Every gentle action, one real call at a time, each call opened whole", self.action_tour)
        yield SystemCommand("Conversations", "Resume, rename, delete or export", self.action_conversations)
        yield SystemCommand("New conversation", "Start again with the greeting", self.action_new_conversation)


def run(flags: dict[str, Any] | None = None) -> None:
    """Run the app in the terminal."""
    GuideApp(flags=flags).run()
