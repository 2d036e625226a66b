"""Switches mid-conversation: persona, surface, model and server, each shown as a divider (dividers never stack)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guide.client import Gentle
from guide.models import PURPOSES

from .events import Notice, PersonaChanged, Switched
from .keeping import Keeping
from .state import Surface
from .turns import Turn

if TYPE_CHECKING:
    from guide.client import Catalog
    from guide.personas import Persona


class Switching(Keeping):
    """What answers: the persona, the surface and the models in force."""

    # The persona and the models.

    def leave_respond(self, why: str) -> None:
        """Go back to think because the server in force has no respond: a divider, and one notice that names /respond."""
        self.switch_surface(Gentle.think)
        words = f"{why}, so the next messages go through think again; /respond on when a server offers it. Your words are kept."
        self.emit(Notice("Respond", words, "warning"))

    async def model_for(self, action: str) -> str | None:
        """The model for an action; asks the server's catalog first when that is the only way to know."""
        name = self.models.for_action(action, self.persona.model)
        if self.models.catalog is None and (name is None or PURPOSES.get(action, "chat") != "chat"):
            await self.know_models()
            name = self.models.for_action(action, self.persona.model)
        return name

    async def know_models(self) -> Catalog:
        """Ask the server's catalog (a real call, shown with the others) and learn it: the model in force may change (announced)."""
        catalog = await self.require_guide().catalog()
        for words in self.models.learn(list(catalog), self.persona.model):
            self.emit(Notice("Model", words, "warning"))
        self.emit(Switched("model"))
        return catalog

    def switch_persona(self, persona: Persona, why: str = "edited") -> None:
        """Speak as another persona (or an edited one: `why` says how) from the next turn; the switch shows in the transcript."""
        was = self.persona
        edited = persona.id == was.id
        if edited and persona.voice() == was.voice():
            self.persona = persona  # the same voice (perhaps now your own copy): nothing to show
            return
        self.persona = persona
        label = f"now speaking as {persona.name}" + (f" ({why})" if edited else "")
        self._divide(Turn("divider", label, kind="persona", data={"persona": persona.id}), was=was.id, now=None if edited else persona.id)
        if self.stored and self.store is not None:
            self.store.set_persona(self.uid, persona.id)
        self.emit(PersonaChanged(persona))

    def switch_surface(self, surface: Surface) -> None:
        """Send the next messages through `think` or `respond`; the switch shows in the transcript."""
        if surface == self.surface:
            return
        was, self.surface = self.surface, surface
        from guide.client import ACTIONS

        label = f"now answering through {surface} ({ACTIONS[surface].endpoint})"
        self._divide(Turn("divider", label, kind="surface", data={"surface": surface}), was=was, now=surface)
        self.emit(Switched("surface"))
        if surface == Gentle.respond and self.persona.tools:
            words = f"{self.persona.name}'s tools go with think only: through respond, the model answers without them."
            self.emit(Notice("Tools", words, "warning"))

    def switch_model(self, name: str) -> list[str]:
        """Answer with another model from the next call (checked against the catalog by the caller); the actions it answers."""
        actions, was = self.models.choose(name)
        if name != was:
            label = f"model: {name}" if actions == [Gentle.think] else f"model for {actions[0]}: {name}"
            self._divide(Turn("divider", label, kind="model", model=name, data={"action": actions[0]}), was=was, now=name)
        return actions

    def switch_server(self, label: str, *, was: str, now: str) -> None:
        """Another server answers from the next call; the switch shows in the transcript."""
        if was != now:
            self.tools_refused = self.pictures_refused = False  # the next server may take them
            self._divide(Turn("divider", label, kind="server", data={"server": now}), was=was, now=now)

    def _divide(self, divider: Turn, *, was: str, now: str | None) -> None:
        """Show a change as a divider. Changed again before anything was said, the last divider is replaced
        (or taken away, when the change is undone): dividers never stack."""
        last = self._waiting[-1][0] if self._waiting else self.turns[-1] if self.turns and not self.more_after else None
        data = divider.data or {}
        if last is not None and last.role == "divider" and last.kind == divider.kind and (last.data or {}).get("action") == data.get("action"):
            self.remove_last()
            was = str((last.data or {}).get("was", ""))
            if was and was == now:
                return
        divider.data = {**data, "was": was}
        self.add(divider)
