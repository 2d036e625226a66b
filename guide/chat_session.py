"""One run of the chat, headless: settings, personas, the server and its client, the store, the conversation open now.
The terminal app is a shell around it. Nothing here imports textual or waits on the caller's loop (the store opens and
reads in a worker thread, its writes are queued); what happens is reported through `emit`, with the conversation's events.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from guide import config, personas
from guide.chat_server import ChatServer
from guide.client import Gentle
from guide.conversation import Conversation, Event, Notice, Switched
from guide.models import ModelChoice, Server
from guide.status import Status

if TYPE_CHECKING:
    from guide.client import ToolCall
    from guide.companion.supervise import Keeper
    from guide.learn.tour import Tour
    from guide.mcp.tools import Ask, McpTools
    from guide.store import Store
    from guide.store_writer import Saving

Result = TypeVar("Result")
OPEN_RETRY = 1.0
"""Seconds between attempts while another guide holds the file (and before saying opening is slow)."""
OPEN_SLOW = "The conversations file is still opening (another guide may be using it); what you write is kept and saved once it is."


def in_own_thread(work: Callable[[], Result]) -> asyncio.Future[Result]:
    """Run `work` in a daemon thread of its own, for the loop to await: guide can quit while it still waits
    (asyncio's worker threads are waited for as the program exits; opening a store held elsewhere can take minutes)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Result] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        def settle() -> None:
            if not future.done():  # nobody waits any more (guide is quitting): what was opened is left to the exit
                outcome()

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the loop has closed: guide has quit

    def run() -> None:
        try:
            result = work()
        except Exception as error:
            deliver(partial(future.set_exception, error))
        else:
            deliver(partial(future.set_result, result))

    threading.Thread(target=run, name="guide-store-open", daemon=True).start()
    return future


async def open_when_free(on_saving: Callable[[Saving, str], None], slow: Callable[[str], None]) -> tuple[Store, bool]:
    """The store once it opens (tried again while another guide or a backup tool holds or migrates the file), and whether it
    kept anyone waiting: `slow` hears once that it is slow, `on_saving` hears "waiting". What cannot be waited out is raised."""
    import sqlite3

    from guide.store import Store
    from guide.store_writer import busy

    waited = False
    while True:
        opening = in_own_thread(partial(Store, on_saving=on_saving))
        if not (await asyncio.wait({opening}, timeout=OPEN_RETRY))[0] and not waited:
            slow(OPEN_SLOW)
            waited = True
        try:
            return await opening, waited
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
            if not waited:
                on_saving("waiting", str(error))
            waited = True
            await asyncio.sleep(OPEN_RETRY)


class ChatSession(ChatServer):
    """What the app holds for one run; `start()` finds who answers and opens the store."""

    def __init__(self, flags: dict[str, Any] | None = None, *, transport: Any = None, emit: Callable[[Event], None] | None = None) -> None:
        self.flags = {k: v for k, v in (flags or {}).items() if v is not None}
        self.transport = transport
        """An httpx transport for the client (tests and screenshots); None for the network."""
        self.emit: Callable[[Event], None] = emit or (lambda event: None)
        self.loaded = config.load(self.flags)
        self.settings = self.loaded.settings
        self.shelf = personas.load()
        self.store: Store | None = None
        self.store_problem: str | None = None
        self.server = Server(models=ModelChoice(chosen=self.settings.model))
        """The server in force and the models chosen on it: the one home of both (conversations share it)."""
        self.keeper: Keeper | None = None
        """Watches the companion while it answers, and starts it again when it stops."""
        self.started = asyncio.Event()
        """Who answers is known: a message can go. The store may still be opening (`store_opened`): sending never waits for it."""
        self.store_opened = asyncio.Event()
        """The store opened, or could not be: what was said meanwhile is in it (or it never will be, and `store_problem` says why)."""
        self._opening: asyncio.Task[None] | None = None
        self._tour: Tour | None = None
        self.mcp: McpTools | None = None
        """The MCP servers in the settings (None when it names none): started only when a persona's tool needs one."""
        self.approve: Ask | None = None
        """Asks the user before an MCP tool runs (the app's prompt); None declines every untrusted call, telling the model why."""
        self._mcp_servers()
        self.conversation = self._with_mcp(Conversation(self.shelf.get(self.settings.persona), **self._shared()))
        """The conversation in force: its one home (the screen and the transcript show it, told by `Switched`)."""

    @property
    def tour(self) -> Tour:
        """Where the learner is in the tour: Esc leaves it there for /tour to take up again (made on first use: launch stays light)."""
        if self._tour is None:
            from guide.learn.tour import Tour

            self._tour = Tour()
        return self._tour

    def _shared(self) -> dict[str, Any]:
        """What every conversation of this run shares: the server in force, the store, the settings' words."""
        settings = self.settings
        return {"server": self.server, "store": self.store, "address": settings.address, "budget": settings.history_budget(), "emit": self.emit}

    def _mcp_servers(self) -> None:
        if not self.loaded.mcp:  # no `mcp` table, no server: nothing of MCP on the way to the greeting
            return
        from guide.mcp import settings as mcp_settings  # light: the SDK comes with the first call to a server

        servers = mcp_settings.load(self.loaded.path)
        if servers.servers:
            from guide.mcp.tools import McpTools

            self.mcp = McpTools(servers)

    def _with_mcp(self, conversation: Conversation) -> Conversation:
        """The conversation with the MCP servers, and its own "always" answers, asked through `approve`."""
        if self.mcp is not None:

            async def ask(call: ToolCall, server: str, tool: str) -> str:
                return await self.approve(call, server, tool) if self.approve is not None else ""

            conversation.mcp, conversation.before_tool = self.mcp, self.mcp.approval(ask, conversation.mcp_always)
        return conversation

    def problems(self) -> list[tuple[str, str]]:
        """What to tell the user once the first frame is up: (title, words)."""
        told = [("A persona file was skipped", str(problem)) for problem in self.shelf.problems]
        if self.loaded.problem:
            told.append(("Settings", self.loaded.problem))
        if self.settings.persona not in self.shelf.personas:
            told.append(("Persona", f"There is no persona called '{self.settings.persona}'; the calm guide is here instead."))
        return told

    # Starting and stopping.

    async def start(self) -> None:
        """Find who answers (a configured server, a local one, or the companion) while the store opens beside it, perhaps
        slowly: a message goes as soon as someone answers, and what is said meanwhile is stored once the store opens."""
        self._opening = asyncio.create_task(self._open_store())
        try:
            await self._connect()
        finally:
            self.server.client = self.server.client or self._client()
            self.started.set()
            self.emit(Switched("server"))  # known at last: the header says who answers
        await self._opening

    async def _open_store(self) -> None:
        """Open the store off the loop, as long as another guide holds the file; then keep what was said meanwhile."""
        try:
            store, waited = await open_when_free(self._saving, lambda words: self.emit(Notice("Storage", words, "warning")))
        except Exception as error:  # an unusable data folder must not stop the chat
            self.store_problem = f"Conversations cannot be saved: {error}. guide keeps working in memory."
            self.emit(Notice("Storage", self.store_problem, "warning"))
            return
        finally:
            self.store_opened.set()
        self.store = store
        self.conversation.keep_in(store)
        if store.notice:
            self.emit(Notice("Storage", store.notice, "warning"))
        elif waited:
            self._saving("saving", "")
        await self.started.wait()  # the models remembered are the server's: known once it is
        await self._remembered_choices()

    def _saving(self, state: Saving, why: str) -> None:
        """From the store's writer thread: saving waits, fails, lands again, sets writes aside (`why` names the file) or stops."""
        if state == "set aside":
            self.emit(Notice("Storage", why, "warning", timeout=30))
            return
        if state == "stopped":
            words = f"Saving has stopped ({why}). Nothing is lost: what you write is kept in a file beside the conversations file as guide closes, "
            words += "and saved the next time it opens."
        elif state == "waiting":
            words = "Another guide is using the conversations file; what you write is kept and saved as soon as it is free."
        elif state == "failing":
            words = f"Conversations cannot be saved just now ({why}); nothing on screen is lost, and guide keeps trying."
        else:
            words = "Saving again: everything kept meanwhile is in the conversations file."
        self.emit(Notice("Storage", words, "information" if state == "saving" else "warning"))

    async def close(self) -> Path | None:
        """Close the client and the store, and stop watching the companion (it goes on); the file holding writes that could not land, if any."""
        if self.keeper is not None:
            self.keeper.stop()  # the companion itself goes on: snippets copied from the app keep working
        if self._opening is not None:
            self._opening.cancel()  # still waiting for another guide's lock: not waited for
        if self.server.client is not None:
            await self.server.client.aclose()
        if self.mcp is not None:
            await self.mcp.aclose()  # the servers this run started stop with it
        if self.store is not None:
            return await asyncio.to_thread(self.store.close)
        said = any(turn.role in ("user", "action") for turn in self.conversation.turns)
        if self._opening is not None and self.store_problem is None and said:  # still opening: what was said goes to a pending file
            from guide.store import Unopened

            unopened = Unopened()
            self.conversation.keep_in(unopened)
            return await asyncio.to_thread(unopened.keep)
        return None

    # What the header says.

    def model_shown(self) -> str:
        """The chat model in force, as the header shows it."""
        companion = self.server.companion
        known = companion.model_id if companion is not None else None
        model = self.server.models.for_action(Gentle.think, self.conversation.persona.model) or known or "the server's first model"
        if "/" in model and model.endswith((".gguf", ".bin")):
            model = model.rsplit("/", 1)[-1]  # llama.cpp names a model by its file path
        return model

    def status(self) -> Status:
        """Persona · server · model: the top line (the app fits it to the width)."""
        return Status(self.conversation.persona.name, self.server_forms(), self.model_shown(), self.conversation.surface)

    # Conversations.

    def new_conversation(self) -> Conversation:
        """A fresh conversation with the persona in force: the greeting again, no call."""
        self.conversation = self._with_mcp(Conversation(self.conversation.persona, **self._shared()))
        self.emit(Switched("conversation"))
        return self.conversation

    async def open(self, conversation_id: int) -> Conversation | None:
        """A stored conversation, read at its latest turns (not made the one open now: export reads others)."""
        if self.store is None:
            return None

        def persona_for(persona_id: str) -> personas.Persona:
            return self.shelf.personas.get(persona_id, self.conversation.persona)

        options = {key: value for key, value in self._shared().items() if key != "store"}
        resumed = await Conversation.resume(self.store, conversation_id, persona_for, **options)
        return self._with_mcp(resumed) if resumed is not None else None

    async def is_open(self, conversation_id: int) -> bool:
        """Whether a stored conversation is the one open now (a new one is known by its uid until it is read back)."""
        conversation, store = self.conversation, self.store
        if conversation.stored_id is not None or store is None or not conversation.stored:
            return conversation.stored_id == conversation_id
        info = await store.read(store.conversation, conversation_id)
        return info is not None and info.uid == conversation.uid

    async def resume(self, conversation_id: int) -> Conversation | None:
        """A stored conversation, opened at its latest turns: the one open now."""
        resumed = await self.open(conversation_id)
        if resumed is not None:
            self.conversation = resumed
            self.fit_surface()
            self.emit(Switched("conversation"))
        return resumed

    async def export(self, conversation: Conversation, *, with_calls: bool = False, every_branch: bool = False) -> Path | None:
        """Write a conversation to Markdown in the data folder (readable by you only): the branch in view, or with `every_branch`
        each other after it; its path, or None if it is empty."""
        from guide.conversation.blocks import saved_path
        from guide.locations import write_private

        if not conversation.turns and not conversation.more_before:
            return None
        path = saved_path("exports", ".md")
        write_private(path, await conversation.export(with_calls=with_calls, title=await self._stored_title(conversation), every_branch=every_branch))
        return path

    async def _stored_title(self, conversation: Conversation) -> str:
        """The title the conversation is stored under: a rename (queued a moment ago, perhaps) changed it."""
        store = self.store
        if store is None or not conversation.stored:
            return ""
        await store.read(store.flush, 5.0)
        listed = await store.read(store.conversations)
        return next((c.title for c in listed if c.id == conversation.stored_id or c.uid == conversation.uid), "")

    # Choices, each remembered in the settings.

    def restore_persona(self, persona_id: str) -> Path | None:
        """Take away the user's copy of a bundled persona (the bundled one answers again); the file removed."""
        path = personas.remove(persona_id)
        self.shelf = personas.load()
        restored = self.shelf.personas.get(persona_id)
        if restored is not None and self.conversation.persona.id == persona_id:
            self.conversation.switch_persona(restored, why="as bundled")
        return path

    def switch_persona(self, persona_id: str) -> bool:
        """Speak as another persona from the next turn; False if there is none by that id."""
        persona = self.shelf.personas.get(persona_id)
        if persona is None:
            self.emit(Notice("Persona", f"There is no persona called '{persona_id}'.", "warning"))
            return False
        self.conversation.switch_persona(persona)
        self.save_settings({"persona": persona.id})
        return True

    def save_persona(self, persona: personas.Persona) -> Path:
        """Write a persona the user made or edited, and read the shelf again."""
        path = personas.save(persona)
        self.shelf = personas.load()
        return path

    async def switch_model(self, name: str) -> bool:
        """Answer with another model from the next call, if the server lists it; remembered for chat."""
        models, client = self.server.models, self.server.client
        if models.catalog is None:
            await self.conversation.know_models()
        if not models.listed(name):
            listed = ", ".join(m.id for m in models.catalog or []) or "none"
            self.emit(Notice("Model", f"This server has no model '{name}'. It lists: {listed}.", "warning"))
            return False
        actions = self.conversation.switch_model(name)
        if actions == [Gentle.think]:
            self.save_settings({"model": name})
        elif self.store is not None and client is not None:
            for action in actions:  # listen and interpret share a transcription model
                self.store.save_model_choice(client.base_url, action, name)
        self.emit(Switched("model"))
        return True

    def save_settings(self, changes: dict[str, str | None]) -> bool:
        """Remember choices at once; they replace this run's flags. False (and a notice) if they could not be saved."""
        try:
            notice = config.write(changes)
        except (OSError, ValueError) as error:
            self.emit(Notice("Settings", f"The setting could not be saved: {error}", "warning"))
            return False
        if notice:
            self.emit(Notice("Settings", notice, "warning"))
        for key in changes:
            self.flags.pop(key, None)
        if "provider" in changes:
            self.flags.pop("base_url", None)
        self.loaded = config.load(self.flags)
        self.settings = self.loaded.settings
        return True
