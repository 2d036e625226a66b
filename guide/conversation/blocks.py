"""The gentle actions from the chat (/understand, /speak, /imagine…): each a real call, through the conversation's client
with the model the resolver picks, what must be saved (a picture, a sound) saved readable by the user only, and a typed
block added to the conversation with what it needs to be shown again.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from guide.client import ACTIONS, Gentle
from guide.locations import data_dir, ensure_private

from .turns import Turn

if TYPE_CHECKING:
    from .core import Conversation


def saved_path(folder: str, suffix: str) -> Path:
    """A new file in the data folder: data/<folder>/<timestamp><suffix> (the folder readable by the user only)."""
    where = ensure_private(data_dir() / folder)
    return where / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10_000:04d}{suffix}"


def block(conversation: Conversation, action: Gentle, body: str, trace: Any, **data: Any) -> Turn:
    """Add an action's block to the conversation: `understand → POST /v1/embeddings`, its words, its data."""
    title = f"{action} → {ACTIONS[action].endpoint}"
    turn = Turn("action", body, kind=action, data={"title": title, **data}, trace_id=trace.id if trace is not None else None)
    return conversation.add(turn)


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


LARGEST = 5
"""Components shown per vector: the largest by magnitude, with their index."""
READINGS = ((0.9, "nearly the same meaning"), (0.7, "closely related"), (0.4, "somewhat related"), (0.1, "loosely related"), (-0.1, "unrelated"))


def reading(similarity: float) -> str:
    """A cosine similarity in plain words (as this model sees the texts)."""
    return next((words for floor, words in READINGS if similarity >= floor), "pointing apart: opposite in what this model notices")


def vector_facts(vector: list[float]) -> dict[str, Any]:
    """What tells a person something about a vector: its size, its length, where its weight lies."""
    largest = sorted(range(len(vector)), key=lambda i: -abs(vector[i]))[:LARGEST]
    return {
        "dimensions": len(vector),
        "norm": math.sqrt(sum(x * x for x in vector)),
        "nonzero": sum(1 for x in vector if x),
        "largest": [[i, vector[i]] for i in largest if vector[i]],
    }


def describe_vector(vector: list[float]) -> str:
    """Dimensions, the norm, how many components are used, and the largest few with their indices."""
    facts = vector_facts(vector)
    used = "every component non-zero" if facts["nonzero"] == facts["dimensions"] else f"{facts['nonzero']:,} non-zero"
    head = f"{facts['dimensions']:,} dimensions · norm {facts['norm']:.4f} · {used}"
    if not facts["largest"]:
        return head + "\n\nEvery component is zero: the model found nothing to place."
    largest = " · ".join(f"[{i}] {x:+.4f}" for i, x in facts["largest"])
    return f"{head}\n\nLargest components (by size): `{largest}`"


async def understand(conversation: Conversation, text: str) -> Turn:
    """Embed a text, or two (`A | B`) and their similarity."""
    guide, model = conversation.require_guide(), await conversation.model_for(Gentle.understand)
    if "|" in text:
        left, right = (part.strip() for part in text.split("|", 1))
        vectors = await guide.understand([left, right], model=model)
        a, b = (list(v) for v in cast("list[list[float]]", vectors))
        similarity = cosine(a, b)
        body = (
            f"Cosine similarity of the two: **{similarity:.4f}** — {reading(similarity)}"
            " (1 is the same direction, 0 unrelated, −1 opposite).\n\n"
            f"*{left}* — {describe_vector(a)}\n\n*{right}* — {describe_vector(b)}"
        )
        facts = {"similarity": similarity, "reading": reading(similarity), "vectors": [vector_facts(a), vector_facts(b)]}
        return block(conversation, Gentle.understand, body, vectors.trace, dimensions=len(a), **facts)
    vector = await guide.understand(text, model=model)
    values = cast("list[float]", vector)
    facts = {"dimensions": len(values), "vectors": [vector_facts(values)]}
    return block(conversation, Gentle.understand, describe_vector(values), getattr(vector, "trace", None), **facts)


async def speak(conversation: Conversation, text: str) -> Turn:
    """Say it aloud: the audio is saved (the app plays it)."""
    guide = conversation.require_guide()
    sound = await guide.speak(text, format="wav", model=await conversation.model_for(Gentle.speak))
    suffix = "." + (sound.media_type.split("/")[-1].replace("mpeg", "mp3").replace("x-wav", "wav") or "audio")
    path = sound.save(saved_path("sounds", suffix))
    body = f"Saved to `{path}` ({len(sound.data):,} bytes, {sound.media_type})."
    return block(conversation, Gentle.speak, body, sound.trace, path=str(path), media_type=sound.media_type)


async def imagine(conversation: Conversation, prompt: str) -> Turn:
    """Make a picture: saved, and drawn by the app from the file."""
    from guide.client import Picture

    result = await conversation.require_guide().imagine(prompt)
    pictures = result if isinstance(result, list) else [result]
    lines, paths = [], []
    for picture in pictures:
        assert isinstance(picture, Picture)
        suffix = {"image/jpeg": ".jpg", "image/webp": ".webp"}.get(picture.media_type, ".png")
        path = picture.save(saved_path("images", suffix))
        paths.append(str(path))
        lines.append(f"Saved to `{path}` ({len(picture.data):,} bytes, {picture.media_type}).")
        if picture.revised_prompt:
            lines.append(f"The server drew: *{picture.revised_prompt}*")
    return block(conversation, Gentle.imagine, "\n\n".join(lines), pictures[0].trace, path=paths[0], paths=paths)


async def transcribe(conversation: Conversation, action: Gentle, path: Path) -> Turn:
    """Words from an audio file (listen), or in English (interpret): they go to the composer."""
    guide = conversation.require_guide()
    model = await conversation.model_for(action)
    words = await (guide.listen(path, model=model) if action == Gentle.listen else guide.interpret(path, model=model))
    body = f"From `{path}` — the words are in the composer for you to send."
    return block(conversation, action, body, words.trace, words=str(words), source=str(path))


async def carry_on(conversation: Conversation, text: str) -> Turn:
    """Let the model carry a text forward (raw completion)."""
    reply = await conversation.require_guide().continue_(text, model=await conversation.model_for(Gentle.continue_))
    # Two labelled lines, not `text**continued**`: Markdown will not open bold before the space a continuation starts with.
    body = f"*You began:* {text}\n\n*It carried on:* {reply.text.strip() or '(nothing)'}"
    return block(conversation, Gentle.continue_, body, reply.trace, prompt=text, continued=reply.text)


async def catalog(conversation: Conversation) -> Turn:
    """The models this server lists (and the resolver learns them)."""
    from guide.models import LABELS, purpose_of

    models = await conversation.know_models()
    body = "\n".join(f"- `{m.id}` — {m.owned_by or 'unknown owner'} · {LABELS[purpose_of(m)]}" for m in models) or "The server lists no models."
    return block(conversation, Gentle.catalog, body, models.trace, models=[m.id for m in models])


async def discern(conversation: Conversation, text: str) -> Turn:
    """Whether a text is safe to say."""
    verdict = await conversation.require_guide().discern(text, model=conversation.models.per_action.get(Gentle.discern))
    flagged = ", ".join(verdict.flagged_categories) or "nothing"
    body = f"**{'Flagged' if verdict.flagged else 'Not flagged'}** · categories flagged: {flagged}"
    if verdict.scores:
        top = sorted(verdict.scores.items(), key=lambda kv: -kv[1])[:4]
        body += "\n\n" + " · ".join(f"{k} {v:.2f}" for k, v in top)
    return block(conversation, Gentle.discern, body, verdict.trace, flagged=verdict.flagged)


async def revise(conversation: Conversation, argument: str) -> Turn:
    """`INSTRUCTION | TEXT`: the text handed over with a wish, and what came back changed (POST /v1/edits, where a server still has it)."""
    instruction, _, text = (part.strip() for part in argument.partition("|"))
    reply = await conversation.require_guide().revise(text, instruction, model=await conversation.model_for(Gentle.revise))
    body = f"*You asked:* {instruction}\n\n*Of:* {text or '(nothing)'}\n\n*It gave back:* {reply.text.strip() or '(nothing)'}"
    return block(conversation, Gentle.revise, body, reply.trace, instruction=instruction, input=text, revised=reply.text)
