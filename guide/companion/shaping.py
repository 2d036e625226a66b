"""What a request asks of a reply's shape, beyond the engine's text: n choices, an echoed prompt, their usage, shorter vectors."""

from __future__ import annotations

import base64
import itertools
import json
import math
import struct
from typing import Any

from .engines import Generation, count_words
from .limits import Refusal


def choice(options: dict[str, Any], index: int) -> dict[str, Any]:
    """The options of the `index`th of n choices: each after the first has a seed of its own, so the choices differ."""
    return options if not index else {**options, "seed": (options.get("seed") or 0) + index}


def echoed(prompt: str, generation: Generation, echo: bool) -> Generation:
    """A completion that begins with its prompt, when `echo` asks for it (the prompt is not counted as made tokens)."""
    if echo and prompt:
        generation.pieces = itertools.chain([prompt], generation.pieces)
    return generation


def together(made: list[tuple[Generation, str]]) -> dict[str, int]:
    """The usage of n choices of one prompt: the prompt counted once, every choice's tokens added up."""
    given = made[0][0].usage.get("prompt_tokens", 0) if made else 0
    out = sum(generation.usage.get("completion_tokens", 0) for generation, _ in made)
    return {"prompt_tokens": given, "completion_tokens": out, "total_tokens": given + out}


def shortened(vector: list[float], dimensions: int | None) -> list[float]:
    """The first `dimensions` of a vector, made unit length again (as OpenAI shortens text-embedding-3's)."""
    if dimensions is None:
        return vector
    if dimensions > len(vector):
        raise Refusal(400, f"'dimensions' is {dimensions}; this model's vectors have {len(vector)}, the most it can give.", param="dimensions")
    cut = vector[:dimensions]
    norm = math.sqrt(sum(x * x for x in cut))
    return [x / norm for x in cut] if norm else cut


def vectors_json(engine: Any, texts: list[str | list[int]], as_base64: bool, dimensions: int | None = None) -> bytes:
    """An embeddings response, made and written a vector at a time (one long json.dumps would hold the GIL)."""
    vectors = [shortened(vector, dimensions) for vector in engine.embed(texts)]
    parts = [b'{"object":"list","model":', json.dumps(engine.model_id).encode(), b',"data":[']
    for i, vector in enumerate(vectors):
        shown = json.dumps(base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector)
        parts.append(b'%s{"object":"embedding","index":%d,"embedding":%s}' % (b"," if i else b"", i, shown.encode()))
    words = sum(count_words(text) if isinstance(text, str) else len(text) for text in texts)
    parts.append(b'],"usage":{"prompt_tokens":%d,"total_tokens":%d}}' % (words, words))
    return b"".join(parts)
