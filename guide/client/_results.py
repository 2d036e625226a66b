"""What the gentle actions return. Each result carries the `trace` of its call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._trace import Trace


@dataclass(slots=True)
class Answer:
    """What a think or continue call has produced so far (shared by Reply types)."""

    pieces: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls the reply asked for, in the spec's shape (a stream's deltas joined by index)."""
    thought_ms: float | None = None
    """When the reasoning ended, in ms from the start of the call (None: the reply did not reason)."""
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    model: str | None = None
    done: bool = False
    stopped: bool = False


class Vector(list[float]):
    """An embedding: a list of floats, with the trace of the call that made it."""

    trace: Trace | None = None


class Vectors(list[Vector]):
    """Several embeddings, one per input, in input order."""

    trace: Trace | None = None


class Transcript(str):
    """Words heard in audio: a str, with the trace of the call."""

    trace: Trace | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model the server lists."""

    id: str
    owned_by: str = ""
    created: int | None = None
    purpose: str = ""
    """What the server says the model is for, where it says (guide's companion does: chat, embedding, speech, transcription)."""


class Catalog(list[ModelInfo]):
    """The models a server lists, in its order."""

    trace: Trace | None = None

    @property
    def ids(self) -> list[str]:
        """Just the model ids."""
        return [model.id for model in self]


@dataclass(slots=True, eq=False)
class Picture:
    """A generated image: its bytes, and the prompt the server actually used."""

    data: bytes
    media_type: str = "image/png"
    revised_prompt: str | None = None
    url: str | None = None
    trace: Trace | None = None

    def save(self, path: str | Path) -> Path:
        """Write the image to `path` (readable by you only, 0600) and return it."""
        return _save_private(Path(path), self.data)


@dataclass(slots=True, eq=False)
class Sound:
    """Spoken audio: its bytes and media type."""

    data: bytes
    media_type: str = "audio/mpeg"
    format: str = "mp3"
    trace: Trace | None = None

    def save(self, path: str | Path) -> Path:
        """Write the audio to `path` (readable by you only, 0600) and return it."""
        return _save_private(Path(path), self.data)


@dataclass(slots=True, eq=False)
class Verdict:
    """Whether a text is safe to say, by category."""

    flagged: bool
    categories: dict[str, bool] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    trace: Trace | None = None

    @property
    def flagged_categories(self) -> list[str]:
        """The categories that were flagged."""
        return [name for name, hit in self.categories.items() if hit]


def _save_private(target: Path, data: bytes) -> Path:
    """Write bytes to a file only its owner can read: what a server made for you is yours alone."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(target, 0o600)  # a file that existed keeps its old mode through O_CREAT
    return target
