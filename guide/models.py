"""The server in force and which model answers each action on it: the user's choice, the persona's preference, the catalog.

Each action wants a model of a purpose (think a chat model, understand an embedding model, listen a transcription
model…): as the server says (the companion, LM Studio's `type`), else by common naming (`embed`, `tts`, `whisper`), else
chat. A choice is checked against the catalog when the server or the model changes. Each has one home (`Server`,
`ModelChoice`), changed by the session in one call that announces it (`Switched`), read by everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guide.client import ACTIONS, Gentle

if TYPE_CHECKING:
    from guide.client import AsyncGuide, ModelInfo, Trace
    from guide.connect import Answering

PURPOSES: Mapping[str, str] = {name: row.purpose for name, row in ACTIONS.items() if row.purpose}
"""The purpose of the model each gentle action needs, as the map's rows say (keyed by str: the store's choices come back as plain names)."""
LABELS = {
    "chat": "Chat (think, continue)",
    "embedding": "Embeddings (understand)",
    "speech": "Speech (speak)",
    "transcription": "Transcription (listen, interpret)",
    "image": "Images (imagine)",
    "moderation": "Moderation (discern)",
}
NAMED = (
    ("embedding", ("embed", "bge-", "e5-", "minilm", "hashed-words")),
    ("speech", ("tts", "speech", "espeak", "kokoro", "piper")),
    ("transcription", ("whisper", "transcri", "sphinx", "stt", "parakeet")),
    ("image", ("dall-e", "gpt-image", "stable-diffusion", "sdxl", "flux")),
    ("moderation", ("moderation",)),
)


def purpose_of(model: ModelInfo) -> str:
    """What a model is for: as the server says, else as its name suggests, else chat."""
    if model.purpose in LABELS:
        return model.purpose
    name = model.id.lower()
    return next((purpose for purpose, hints in NAMED if any(hint in name for hint in hints)), "chat")


def grouped(models: Iterable[ModelInfo]) -> dict[str, list[ModelInfo]]:
    """The catalog grouped by purpose, chat first (for the model picker)."""
    groups: dict[str, list[ModelInfo]] = {purpose: [] for purpose in LABELS}
    for model in models:
        groups[purpose_of(model)].append(model)
    return {purpose: listed for purpose, listed in groups.items() if listed}


@dataclass
class ModelChoice:
    """The models in force on the server in force: the user's, and what its catalog offers. The one home of "which model";
    the persona's preference is read from the persona each time, never copied here."""

    chosen: str | None = None
    """The user's chat model (settings, a flag, /model, F6)."""
    per_action: dict[str, str] = field(default_factory=dict)
    """The user's choice for another action (understand → an embedding model), on this server."""
    catalog: list[ModelInfo] | None = None
    """The server's models, once asked (None: not asked yet)."""

    def for_action(self, action: str, preferred: str | None = None) -> str | None:
        """The model for an action (`preferred`: the persona's chat model, used when the user chose none and the server lists it);
        None leaves it to the client (the catalog's first model)."""
        purpose = PURPOSES.get(action, "chat")
        chat = self.chosen or (preferred if preferred and self.listed(preferred) else None)
        if purpose == "chat":
            return chat or self._first("chat")
        return self.per_action.get(action) or self._first(purpose) or chat or self._first("chat")

    def _first(self, purpose: str) -> str | None:
        return next((m.id for m in self.catalog or () if purpose_of(m) == purpose), None)

    def listed(self, name: str) -> bool:
        """Whether the catalog lists the model (True while the catalog is unknown)."""
        return self.catalog is None or any(m.id == name for m in self.catalog)

    def choose(self, name: str) -> tuple[list[str], str]:
        """The user chose a model: the actions it now answers (listen and interpret share one), and the model it replaces."""
        purpose = self.purpose(name)
        if purpose == "chat":
            was, self.chosen = self.chosen or "", name
            return [Gentle.think], was
        actions = [action for action, wanted in PURPOSES.items() if wanted == purpose]
        was = self.per_action.get(actions[0], "")
        self.per_action.update(dict.fromkeys(actions, name))
        return actions, was

    def learn(self, catalog: list[ModelInfo], preferred: str | None = None) -> list[str]:
        """Take a (new) server's catalog; what to tell the user about choices it does not list (they are set aside)."""
        self.catalog = list(catalog)
        told = []
        if self.chosen and not self.listed(self.chosen):
            instead = preferred if preferred and self.listed(preferred) else self._first("chat")
            told.append(f"This server has no model '{self.chosen}'; using {instead or 'its first model'} instead.")
            self.chosen = None
        for action, name in list(self.per_action.items()):
            if not self.listed(name):
                told.append(f"This server has no model '{name}' for {action}; using {self._first(PURPOSES[action]) or 'its first'}.")
                del self.per_action[action]
        return told

    def purpose(self, name: str) -> str:
        """What a named model is for, by the catalog (chat if unknown)."""
        found = next((m for m in self.catalog or () if m.id == name), None)
        return purpose_of(found) if found is not None else "chat"


@dataclass
class Server:
    """Who answers now, and the model chosen for each action on it. Conversations share it: they keep no copy."""

    client: AsyncGuide | None = None
    """The client: it derived the address (`client.address`) and holds the key. None until who answers is known."""
    answering: Answering | None = None
    """How it was found when the settings name no server (a local one, the companion)."""
    support: dict[str, Any] | None = None
    """What its probe found (action → support, status, reason), for the map; None until probed."""
    calls: dict[str, Trace] = field(default_factory=dict)
    """The probe's calls by action: kept under the server, never in a conversation."""
    models: ModelChoice = field(default_factory=ModelChoice)

    @property
    def companion(self) -> Any:
        """guide's companion (supervise.Companion) when it is the one answering, else None."""
        return self.answering.companion if self.answering is not None else None
