"""One run of the chat, headless: settings, personas, the server and its client, the store, the conversation open now.

The terminal app is a shell around this: it shows what the session holds and
hands it what the user does. Nothing here imports textual, and nothing here
waits on the caller's loop: the store opens and reads in a worker thread,
and its writes are queued. What happens is reported through `emit`, as the
conversation's events are (the session passes those on too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guide import config, personas
from guide.client import Gentle
from guide.constants import PROBE
from guide.conversation import Conversation, Event, Notice, Switched
from guide.conversation.events import Severity
from guide.models import ModelChoice, Server
from guide.status import Status

if TYPE_CHECKING:
    from guide.client import AsyncGuide, ToolCall, Trace
    from guide.companion.supervise import Companion, Keeper
    from guide.learn.tour import Tour
    from guide.mcp.tools import Ask, McpTools
    from guide.store import Store
    from guide.store_writer import Saving


def as_support(found: dict[str, Any]) -> dict[str, Any]:
    """A probe's findings as the store and the map keep them: action → support, status, reason."""
    return {name: {"support": f.support, "status": f.status, "reason": f.reason} for name, f in found.items()}


@dataclass
class Tried:
    """A server probed before it is chosen."""

    choice: str
    address: str
    support: dict[str, Any]
    """What the probe found, action by action (support, status, reason)."""
    calls: dict[str, Trace]
    """The probe's calls by action, kept under the server (the map opens them)."""

    @property
    def answered(self) -> bool:
        """Whether anything answered at all."""
        return any(found["status"] is not None for found in self.support.values())

    @property
    def useful(self) -> bool:
        """Whether it may serve: it offers an action, or answered but could not say (a refused key is still a server).
        A probe that got no answer at all (a dropped connection) says nothing for it."""
        return any(found["support"] == "yes" or (found["support"] == "unknown" and found["status"] is not None) for found in self.support.values())

    def why_not(self) -> str:
        """What the probe heard, in a few words."""
        reasons = sorted({str(found["reason"]) for found in self.support.values()})
        return "; ".join(reasons[:2])


class ChatSession:
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
        """Find who answers (a configured server, a local one, or the companion) while the store opens beside it.

        Opening the store may wait for another guide holding or migrating the
        file; a message goes as soon as someone answers, and what is said
        meanwhile is stored once the store opens.
        """
        self._opening = asyncio.create_task(self._open_store())
        try:
            await self._connect()
        finally:
            self.server.client = self.server.client or self._client()
            self.started.set()
            self.emit(Switched("server"))  # known at last: the header says who answers
        await self._opening

    async def _remembered_choices(self) -> None:
        """The models chosen for actions other than chat on this server, as remembered in the store."""
        if self.store is not None and self.server.client is not None:
            self.server.models.per_action = await self.store.read(self.store.model_choices, self.server.client.base_url)

    async def _open_store(self) -> None:
        """Open the store off the loop, as long as another guide holds the file; then keep what was said meanwhile."""
        from guide.store_opening import open_when_free

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

    async def _connect(self) -> None:
        from guide.connect import choose, reachable

        if not self.settings.server():
            answering = self.server.answering = await choose(self.settings)
            companion = answering.companion
            if companion is not None and companion.set_aside and answering.message:
                self.emit(Notice("Who is answering", answering.message, "warning", timeout=20))  # the rebuild line takes reading
            elif answering.message:
                self.emit(Notice("Who is answering", answering.message, timeout=6))  # the header says it too
            self._keep(companion)
        elif self.transport is None and not await reachable(self.settings.server() or ""):
            words = f"Nothing answers at {self.server_address()} yet. Is it running? F7 picks another server."
            self.emit(Notice("Could not reach the server", words, "warning"))

    def _keep(self, companion: Companion | None) -> None:
        """Watch the companion now answering (and stop watching the one before)."""
        from guide.companion.supervise import Keeper
        from guide.connect import settings_gguf

        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None
        if companion is not None:
            self.keeper = Keeper(self.settings, companion, settings_gguf(self.settings), self._companion_says, self._companion_moved)
            self.keeper.watch()

    def _companion_says(self, severity: Severity, words: str) -> None:
        self.emit(Notice("Companion", words, severity, timeout=8))

    async def _companion_moved(self, companion: Companion) -> None:
        """The companion was started again: the client follows it if its address or its engine changed."""
        from guide.connect import Answering

        before, server = self.server.companion, self.server
        if before is None:
            return
        server.answering = Answering(companion.url, f"companion ({companion.kind})", None, companion)
        if companion.url != before.url and server.client is not None:
            await server.client.aclose()
            server.client = self._client()
        self.emit(Switched("server"))
        if companion.model_id != before.model_id and server.client is not None:
            server.models.catalog = None
            await self.conversation.know_models()

    def _client(self, base_url: str | None = None, on_trace: Callable[[Trace], None] | None = None) -> AsyncGuide:
        """A client for the server in the settings (or `base_url`), with this run's key, timeout and transport."""
        from guide.client import AsyncGuide

        return AsyncGuide(
            base_url=base_url or self.settings.server() or (self.server.answering.base_url if self.server.answering else None),
            api_key=self.settings.api_key(),
            timeout=self.settings.read_timeout(),
            on_trace=on_trace or self._on_trace,
            transport=self.transport,
        )

    def _on_trace(self, trace: Trace) -> None:
        if trace.gentle == PROBE:
            self.server.calls[trace.action] = trace  # the map shows these; the chat's calls are the user's own
            return
        self.conversation.file_call(trace)

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

    def server_address(self) -> str:
        """The server as people write it: without the version, and without any credentials."""
        return self.server_forms()[0]

    def server_forms(self) -> tuple[str, ...]:
        """The server, from its whole address down to the fewest words that still say which (for narrow headers)."""
        from urllib.parse import urlsplit

        from guide.client import display_address

        client, configured, answering = self.server.client, self.settings.server(), self.server.answering
        if client is None and not configured:
            return ("looking for a server…", "looking…")
        address = client.address if client is not None else display_address(configured or "")  # the client's, once made (httpx waits for it)
        try:
            parts = urlsplit(address)
            port = parts.port
        except ValueError:
            return (address,)
        where = parts.netloc.rpartition("@")[2] or address
        if answering is not None:
            label, short = answering.label, answering.label.split(" (")[0]
            return (f"{label} at {address}", f"{label} at {where}", f"{short} at {where}", f"{short} :{port}" if port else short)
        return (address, where) if where != address else (address,)  # host and port at least: the host alone does not say which server

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

    def address_of(self, choice: str) -> str | None:
        """The address a server choice names (a preset's, or the one typed); None, and a notice, if it cannot be used."""
        from guide.client import PROVIDERS

        if choice.startswith("preset:"):
            preset = PROVIDERS.get(choice.removeprefix("preset:"))
            return preset.base_url if preset else None
        problem = config.address_problem(choice)
        if problem:
            self.emit(Notice("Server", problem, "warning"))
            return None
        return choice

    async def try_server(self, choice: str) -> Tried | None:
        """Probe a server before it is chosen (nothing saved, no call filed with the conversation)."""
        address = self.address_of(choice)
        if address is None:
            return None
        calls: dict[str, Trace] = {}

        def keep(trace: Trace) -> None:
            calls[trace.action] = trace

        trial = self._client(address, on_trace=keep)
        try:
            found = await trial.probe()
        finally:
            await trial.aclose()
        return Tried(choice, address, as_support(found), calls)

    async def switch_server(self, choice: str, probed: Tried | None = None) -> bool:
        """Use another server (a preset, or an address): saved, its models and offers learnt (`probed`: already probed)."""
        was = self.server_address()
        if choice.startswith("preset:"):
            changes: dict[str, str | None] = {"provider": choice.removeprefix("preset:"), "base_url": None}
        elif self.address_of(choice) is None:
            return False
        else:
            changes = {"base_url": choice, "provider": None}  # an address of its own: no preset left behind
        if not self.save_settings(changes):
            return False
        self._keep(None)  # the companion no longer answers here: its stopping is not this run's news
        self.server.answering = None
        await self._use_server(was, probed)
        return True

    async def use_companion(self) -> bool:
        """Go back to guide's own companion: no server in the settings, the companion started if it is not running."""
        from guide.connect import Answering, settings_gguf

        was = self.server_address()
        if not self.save_settings({"provider": None, "base_url": None}):
            return False
        if self.server.companion is None or await self.server.companion.ended() is not None:
            from guide.companion.supervise import CompanionFailed, find_or_start, held_words

            try:
                companion, held = await find_or_start(self.settings, settings_gguf(self.settings))
            except CompanionFailed as error:
                self.emit(Notice("Companion", f"{error} F7 picks another server.", "error"))
                return False
            self.server.answering = Answering(companion.url, f"companion ({companion.kind})", held_words(held, companion), companion)
        self._keep(self.server.companion)
        await self._use_server(was, None)
        return True

    async def _use_server(self, was: str, probed: Tried | None) -> None:
        """A new client for the server now in the settings (`was`: the one before); what it offers, and the models in force checked against it."""
        server = self.server
        if server.client is not None:
            await server.client.aclose()
        server.client, server.support = self._client(), None
        server.models.catalog, server.models.per_action, server.models.chosen = None, {}, self.settings.model
        await self._remembered_choices()
        self.conversation.switch_server(f"now talking to {self.server_forms()[1]}", was=was, now=self.server_address())
        self.emit(Switched("server"))  # as it changes: what it offers and its catalog are asked next, and either may fail
        if probed is None:
            await self.probe()
        else:
            server.support, server.calls = probed.support, probed.calls
            if self.store is not None:
                self.store.save_probe(server.client.base_url, probed.support, [trace.to_dict() for trace in probed.calls.values()])
            self._tell_offers(probed.support)
            self.fit_surface()
        await self.conversation.know_models()  # the models in force, checked against the new server's catalog
        if self.settings.model and server.models.chosen is None:
            self.save_settings({"model": None})  # chosen for the old server: set aside, not kept for the next run

    async def probe(self, force: bool = False, tell: bool = True) -> dict[str, Any]:
        """Which actions this server offers: probed once, cached in the store with the probe's calls."""
        from guide.client import Trace

        guide = self.server.client or self._client()
        store = self.store
        cached = await store.read(store.probe, guide.base_url) if store is not None and not force else None
        if cached is None:
            self.server.calls = {}
            found = await guide.probe()
            findings = as_support(found)
            if store is not None:
                store.save_probe(guide.base_url, findings, [trace.to_dict() for trace in self.server.calls.values()])
            if tell:
                self._tell_offers(findings)  # the map shows them itself, and a notice would sit on its columns
        else:
            findings = cached["findings"]
            self.server.calls = {data["action"]: Trace.from_dict(data) for data in cached["calls"]}
        self.server.support = findings
        self.fit_surface()
        return findings

    def offers(self, action: str) -> bool | None:
        """Whether the server in force offers an action, as its probe found (None: not known)."""
        found = (self.server.support or {}).get(action)
        return None if found is None else {"yes": True, "no": False}.get(found["support"])

    def fit_surface(self) -> None:
        """A conversation set to answer through respond, on a server that has none, goes back to think (said once)."""
        if self.conversation.surface == Gentle.respond and self.offers(Gentle.respond) is False:
            self.conversation.leave_respond(f"{self.server_address()} does not offer respond (POST /v1/responses)")

    def _tell_offers(self, support: dict[str, Any]) -> None:
        offered = [name for name, f in support.items() if f["support"] == "yes"]
        self.emit(Notice("Server", f"{self.server_address()} offers: {', '.join(offered) or 'nothing that answered'}."))

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
