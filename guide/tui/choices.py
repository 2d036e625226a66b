"""Choices made in the app: persona, model, server (each saved to the settings at once)."""

from __future__ import annotations

from textual import work

from guide import config, personas
from guide.tui.boundary import guarded
from guide.tui.parts import Parts
from guide.tui.session import Turn


class Choices(Parts):
    """Persona, model and server pickers, the probe, and writing settings."""

    def action_pick_persona(self) -> None:
        from guide.tui.screens.pickers import persona_picker

        self.push_screen(persona_picker(self.shelf.personas, self.session.persona.id), self._persona_chosen)

    async def _persona_chosen(self, choice: str | None) -> None:
        from guide.tui.screens.pickers import PersonaEditor

        if choice is None:
            return
        if choice.startswith("use:"):
            await self.switch_persona(choice[4:])
        elif choice == "new":
            self.push_screen(PersonaEditor(personas.template("my-guide"), creating=True), self._persona_edited)
        elif choice == "edit":
            self.push_screen(PersonaEditor(self.session.persona, creating=False), self._persona_edited)

    @guarded
    async def _persona_edited(self, persona: personas.Persona | None) -> None:
        if persona is None:
            return
        path = personas.save(persona)
        self.shelf = personas.load()
        self.notify(f"Saved {path}", title="Persona", timeout=4)
        await self.switch_persona(persona.id)

    async def switch_persona(self, persona_id: str) -> None:
        """Speak as another persona from the next turn; remembered in settings."""
        if persona_id not in self.shelf.personas:
            self.notify(f"There is no persona called '{persona_id}'.", severity="warning")
            return
        persona = self.shelf.personas[persona_id]
        self.session.persona = persona
        await self.chat.transcript.add(Turn("divider", f"now speaking as {persona.name}"))
        if self.store is not None and self.session.conversation_id is not None:
            self.store.add_message(self.session.conversation_id, "divider", f"now speaking as {persona.name}")
            self.store.set_persona(self.session.conversation_id, persona.id)
        self._save_setting("persona", persona.id)
        if self._guide is not None and not self.settings.model:
            self._guide.model = persona.model
        self.refresh_status()

    def action_pick_model(self) -> None:
        """F6: pick a model from the catalog (the call shows in the panel)."""
        self._pick_model()

    @work(group="picker")
    @guarded
    async def _pick_model(self) -> None:
        from guide.client import GuideError
        from guide.tui.screens.pickers import model_picker

        await self.ready()
        try:
            models = await self.guide.catalog()
        except GuideError as error:
            self.explain(error, "catalog")
            return
        choice = await self.push_screen_wait(model_picker(list(models), self.guide.model))
        if choice:
            await self.switch_model(choice)

    async def switch_model(self, name: str) -> None:
        """Use another model from the next call; remembered in settings."""
        self.guide.model = name
        self._save_setting("model", name)
        await self.chat.transcript.add(Turn("divider", f"model: {name}"))
        self.refresh_status()

    def action_pick_server(self) -> None:
        """F7: pick a server; guide probes it and says what it offers."""
        self._pick_server()

    @work(group="picker")
    @guarded
    async def _pick_server(self) -> None:
        from guide.tui.screens.pickers import AddressPrompt, server_picker

        choice = await self.push_screen_wait(server_picker(self.server_address()))
        if choice == "custom":
            choice = await self.push_screen_wait(AddressPrompt())
        if not choice:
            return
        if choice.startswith("preset:"):
            self._save_settings({"provider": choice.removeprefix("preset:"), "base_url": None})
        else:
            problem = config.address_problem(choice)
            if problem:
                self.notify(problem, title="Server", severity="warning", timeout=12)
                return
            self._save_settings({"base_url": choice})
        if self._guide is not None:
            await self._guide.aclose()
            self._guide = None
        self.support = None
        self.refresh_status()
        await self.probe_server()

    async def action_probe_server(self) -> None:
        await self.probe_server(force=True)

    @guarded
    async def probe_server(self, force: bool = False) -> None:
        """Which actions this server offers: probed once, cached in the store."""
        await self.ready()
        base = self.guide.base_url
        cached = self.store.probe(base) if self.store is not None and not force else None
        if cached is None:
            found = await self.guide.probe()
            cached = {name: {"support": f.support, "status": f.status, "reason": f.reason} for name, f in found.items()}
            if self.store is not None:
                self.store.save_probe(base, cached)
            offered = [name for name, f in cached.items() if f["support"] == "yes"]
            self.notify(f"{self.server_address()} offers: {', '.join(offered) or 'nothing that answered'}.", title="Server", timeout=8)
        self.support = cached
        from guide.tui.screens.map_screen import MapScreen

        if isinstance(self.screen, MapScreen):
            self.screen.update_support(cached)

    def _save_setting(self, key: str, value: str) -> None:
        """Remember a choice made in the app, at once."""
        self._save_settings({key: value})

    def _save_settings(self, changes: dict[str, str | None]) -> None:
        """Remember choices made in the app, at once; they replace this run's flags."""
        try:
            notice = config.write(changes)
        except (OSError, ValueError) as error:
            self.notify(f"The setting could not be saved: {error}", severity="warning")
            return
        if notice:
            self.notify(notice, title="Settings", severity="warning", timeout=12)
        for key in changes:
            self.flags.pop(key, None)
        if "provider" in changes:
            self.flags.pop("base_url", None)
        self.loaded = config.load(self.flags)
        self.settings = self.loaded.settings
