"""The map: each gentle action and the legacy endpoint it calls.

This is the one place in guide that spells a legacy path. Paths are kept
without the API version; `API_VERSION` is the one place the version lives.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

API_VERSION = "v1"


@dataclass(frozen=True)
class Action:
    """One row of the map: a gentle action and the legacy endpoint behind it."""

    name: str
    """The gentle name, as people read it ("continue")."""
    method: str
    """The HTTP method ("POST")."""
    path: str
    """The legacy path without the API version ("/chat/completions")."""
    sdk_call: str
    """The same call in the official SDKs ("chat.completions.create")."""
    meaning: str
    """What the action means, in one line."""

    @property
    def legacy_path(self) -> str:
        """The path as the official API documents it, version included."""
        return f"/{API_VERSION}{self.path}"

    @property
    def method_name(self) -> str:
        """The Python method name ("continue_" for the keyword "continue")."""
        return f"{self.name}_" if keyword.iskeyword(self.name) else self.name

    @property
    def endpoint(self) -> str:
        """`POST /v1/chat/completions`: the legacy endpoint in one phrase."""
        return f"{self.method} {self.legacy_path}"


def _rows(*rows: Action) -> Mapping[str, Action]:
    return MappingProxyType({row.name: row for row in rows})


ACTIONS: Mapping[str, Action] = _rows(
    Action(
        "think",
        "POST",
        "/chat/completions",
        "chat.completions.create",
        "you offer context; it reflects and responds",
    ),
    Action(
        "continue",
        "POST",
        "/completions",
        "completions.create",
        "you begin a thought; it carries it forward",
    ),
    Action(
        "understand",
        "POST",
        "/embeddings",
        "embeddings.create",
        "what does this mean, beneath the words?",
    ),
    Action(
        "imagine",
        "POST",
        "/images/generations",
        "images.generate",
        "words become vision",
    ),
    Action(
        "listen",
        "POST",
        "/audio/transcriptions",
        "audio.transcriptions.create",
        "sound becomes words",
    ),
    Action(
        "speak",
        "POST",
        "/audio/speech",
        "audio.speech.create",
        "words become sound",
    ),
    Action(
        "catalog",
        "GET",
        "/models",
        "models.list",
        "who is here to help",
    ),
    Action(
        "interpret",
        "POST",
        "/audio/translations",
        "audio.translations.create",
        "speech in any tongue becomes English words",
    ),
    Action(
        "discern",
        "POST",
        "/moderations",
        "moderations.create",
        "is this safe to say?",
    ),
    Action(
        "revise",
        "POST",
        "/edits",
        "edits.create",
        "you hand it words and a wish; it gives them back changed (retired at OpenAI; LocalAI still serves it)",
    ),
    Action(
        "respond",
        "POST",
        "/responses",
        "responses.create",
        "think's newer surface: the server can keep the conversation and its tools; the reply is output items, streamed as typed events",
    ),
)
"""Every gentle action, keyed by its gentle name, in the order of DESIGN.md (the two surfaces of issue 16 last)."""
