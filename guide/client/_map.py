"""The map: each gentle action, the legacy endpoint it calls, and how it behaves.

The one place that spells a legacy path or says how endpoints differ (body, answer, streaming, model, reading); elsewhere
an action is a `Gentle` member, which mypy checks. Paths are kept without `API_VERSION`, the one place the version lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

API_VERSION = "v1"


class Gentle(StrEnum):
    """A gentle action's name; a str, so what the store and the wire hold still compares equal (`Gentle.think == "think"`)."""

    think = "think"
    continue_ = "continue"
    understand = "understand"
    imagine = "imagine"
    listen = "listen"
    speak = "speak"
    catalog = "catalog"
    interpret = "interpret"
    discern = "discern"
    revise = "revise"
    respond = "respond"


Body = Literal["json", "multipart", "none"]
"""What a request carries: a JSON object, a multipart form with a file, or nothing (a GET)."""
Reading = Literal["chat", "completion", "response"]
"""How a text answer is read: chat's choices and deltas, completion's choices, or the Responses API's output items and typed events."""
Purpose = Literal["chat", "embedding", "speech", "transcription", "image", "moderation"]
"""What a model is for, as guide sorts a server's catalog."""


@dataclass(frozen=True)
class Action:
    """One row of the map: a gentle action and the legacy endpoint behind it."""

    name: Gentle
    """The gentle name, as people read it ("continue")."""
    method: str
    """The HTTP method ("POST")."""
    path: str
    """The legacy path without the API version ("/chat/completions")."""
    sdk_call: str
    """The same call in the official SDKs ("chat.completions.create")."""
    meaning: str
    """What the action means, in one line."""
    purpose: Purpose | None = None
    """The purpose of the model it wants (None: it takes no model)."""
    answer_fields: tuple[str, ...] = ()
    """The top-level fields the spec gives its JSON answer, the ones that tell it from any other (a probe checks them)."""
    body: Body = "json"
    """What its request carries."""
    sound: bool = False
    """Its answer is the bytes of a sound file, not JSON."""
    reads: Reading | None = None
    """How its answer is read as text, with reasoning, tool calls and usage (None: it is read into its own result)."""
    streams: bool = False
    """guide can ask for its answer as a stream (`stream: true`)."""
    spec_streams: bool = False
    """The spec lets its answer come as Server-Sent Events (a probe takes a stream as its shape)."""
    server_picks: bool = False
    """With no model chosen, guide sends none and the server uses its own default, rather than guide picking one from the catalog."""
    retired: bool = False
    """The current SDKs have no method for it: its snippets make the HTTP call through the SDK's `post`."""
    main_field: str = ""
    """The body field of the gentle call's first argument ("messages"; none without a JSON body): a relayed call is written with it."""
    probe_field: str = ""
    """A required field a probe sends with the wrong type, so no server can start generating (the main field unless set)."""

    @property
    def legacy_path(self) -> str:
        """The path as the official API documents it, version included."""
        return f"/{API_VERSION}{self.path}"

    @property
    def method_name(self) -> str:
        """The Python method name ("continue_" for the keyword "continue")."""
        return self.name.name

    @property
    def endpoint(self) -> str:
        """`POST /v1/chat/completions`: the legacy endpoint in one phrase."""
        return f"{self.method} {self.legacy_path}"


# A table, one action to a row (answer fields are the spec's own; tests/test_probe.py checks them against openapi.yaml).
# fmt: off
ACTIONS: Mapping[str, Action] = MappingProxyType({row.name: row for row in (
    Action(Gentle.think, "POST", "/chat/completions", "chat.completions.create", "you offer context; it reflects and responds",
           "chat", ("choices",), reads="chat", streams=True, spec_streams=True, main_field="messages"),  # CreateChatCompletionResponse
    Action(Gentle.continue_, "POST", "/completions", "completions.create", "you begin a thought; it carries it forward",
           "chat", ("choices",), reads="completion", streams=True, spec_streams=True, main_field="prompt"),  # CreateCompletionResponse
    Action(Gentle.understand, "POST", "/embeddings", "embeddings.create", "what does this mean, beneath the words?",
           "embedding", ("data",), main_field="input"),  # CreateEmbeddingResponse
    Action(Gentle.imagine, "POST", "/images/generations", "images.generate", "words become vision",
           "image", ("data",), spec_streams=True, server_picks=True, main_field="prompt"),  # ImagesResponse
    Action(Gentle.listen, "POST", "/audio/transcriptions", "audio.transcriptions.create", "sound becomes words",
           "transcription", ("text",), body="multipart", spec_streams=True),  # CreateTranscriptionResponseJson
    Action(Gentle.speak, "POST", "/audio/speech", "audio.speech.create", "words become sound",
           "speech", sound=True, spec_streams=True, main_field="input"),
    Action(Gentle.catalog, "GET", "/models", "models.list", "who is here to help",
           None, ("data",), body="none"),  # ListModelsResponse
    Action(Gentle.interpret, "POST", "/audio/translations", "audio.translations.create", "speech in any tongue becomes English words",
           "transcription", ("text",), body="multipart"),  # CreateTranslationResponseJson
    Action(Gentle.discern, "POST", "/moderations", "moderations.create", "is this safe to say?",
           "moderation", ("results",), server_picks=True, main_field="input"),  # CreateModerationResponse
    Action(Gentle.revise, "POST", "/edits", "edits.create",
           "you hand it words and a wish; it gives them back changed (retired at OpenAI; LocalAI still serves it)",
           # CreateEditResponse, as the spec of its day gave it (test_revise_shape.py); `input` is optional, so a probe spoils `instruction`
           "chat", ("choices",), reads="completion", retired=True, main_field="input", probe_field="instruction"),
    Action(Gentle.respond, "POST", "/responses", "responses.create",
           "think's newer surface: the server can keep the conversation and its tools; the reply is output items, streamed as typed events",
           "chat", ("output",), reads="response", streams=True, spec_streams=True, main_field="input"),  # Response
)})
# fmt: on
"""Every gentle action, keyed by its gentle name, in the order of DESIGN.md (the two surfaces of issue 16 last).

Keyed by str, so a name read back from the store or the wire looks its row up as it is; in code a name is a `Gentle`."""
