"""Who answers a run of the chat: the server found as it starts (a configured one, a local one, or the companion), its
client, what its probe found, and switching to another, each switch told to the conversation and the header."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guide import config
from guide.client import Gentle
from guide.constants import PROBE
from guide.conversation import Notice, Switched

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace
    from guide.companion.supervise import Companion, Keeper
    from guide.config import Settings
    from guide.conversation import Conversation, Event
    from guide.conversation.events import Severity
    from guide.models import Server
    from guide.store import Store


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


class ChatServer:
    """Who answers the run: found as it starts, watched (the companion), probed, switched. A mixin of ChatSession, whose
    state it shares (the server in force, the settings, the store, the conversation told of each switch)."""

    settings: Settings
    server: Server
    store: Store | None
    conversation: Conversation
    emit: Callable[[Event], None]
    transport: Any
    keeper: Keeper | None

    if TYPE_CHECKING:

        def save_settings(self, changes: dict[str, str | None]) -> bool: ...

    async def _remembered_choices(self) -> None:
        """The models chosen for actions other than chat on this server, as remembered in the store."""
        if self.store is not None and self.server.client is not None:
            self.server.models.per_action = await self.store.read(self.store.model_choices, self.server.client.base_url)

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

        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None
        if companion is not None:
            self.keeper = Keeper(self.settings, companion, self.settings.gguf, self._companion_says, self._companion_moved)
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
        from guide.connect import Answering

        was = self.server_address()
        if not self.save_settings({"provider": None, "base_url": None}):
            return False
        if self.server.companion is None or await self.server.companion.ended() is not None:
            from guide.companion.supervise import CompanionFailed, find_or_start, held_words

            try:
                companion, held = await find_or_start(self.settings, self.settings.gguf)
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
