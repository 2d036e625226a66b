"""What each slash command does in the app. Each gentle one is a real call."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from guide.locations import data_dir, ensure_private

if TYPE_CHECKING:
    from guide.tui.app import GuideApp

PLAYERS = (["aplay", "-q"], ["paplay"], ["afplay"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"])


def saved_path(folder: str, suffix: str) -> Path:
    """A new file in the data folder: data/<folder>/<timestamp><suffix>."""
    where = ensure_private(data_dir() / folder)
    return where / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10_000:04d}{suffix}"


def play(path: Path) -> str | None:
    """Play a sound with the first player installed; its name, or None."""
    for command in PLAYERS:
        if shutil.which(command[0]):
            subprocess.Popen([*command, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return command[0]
    return None


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def describe_vector(vector: list[float]) -> str:
    """Dimensions, the first numbers and the norm."""
    first = ", ".join(f"{x:.4f}" for x in vector[:6])
    norm = math.sqrt(sum(x * x for x in vector))
    return f"{len(vector)} dimensions · norm {norm:.4f}\n\n`[{first}{', …' if len(vector) > 6 else ''}]`"


async def imagine(app: GuideApp, prompt: str) -> None:
    from guide.client import Picture

    result = await app.guide.imagine(prompt)
    pictures = result if isinstance(result, list) else [result]
    from guide.tui.widgets.picture import half_blocks

    lines = []
    preview: Any = None
    for picture in pictures:
        assert isinstance(picture, Picture)
        suffix = {"image/jpeg": ".jpg", "image/webp": ".webp"}.get(picture.media_type, ".png")
        path = picture.save(saved_path("images", suffix))
        lines.append(f"Saved to `{path}` ({len(picture.data):,} bytes, {picture.media_type}).")
        if picture.revised_prompt:
            lines.append(f"The server drew: *{picture.revised_prompt}*")
        preview = preview or await asyncio.to_thread(half_blocks, picture.data)  # a large picture takes a moment: not on the UI's loop
    await app.show_action("imagine", "\n\n".join(lines), pictures[0].trace, preview)


async def understand(app: GuideApp, text: str) -> None:
    if "|" in text:
        left, right = (part.strip() for part in text.split("|", 1))
        vectors = await app.guide.understand([left, right])
        a, b = (list(v) for v in cast("list[list[float]]", vectors))
        body = f"Cosine similarity of the two: **{cosine(a, b):.4f}**\n\n*{left}* — {describe_vector(a)}\n\n*{right}* — {describe_vector(b)}"
        await app.show_action("understand", body, vectors.trace)
        return
    vector = await app.guide.understand(text)
    await app.show_action("understand", describe_vector(cast("list[float]", vector)), getattr(vector, "trace", None))


async def speak(app: GuideApp, text: str) -> None:
    sound = await app.guide.speak(text, format="wav")
    suffix = "." + (sound.media_type.split("/")[-1].replace("mpeg", "mp3").replace("x-wav", "wav") or "audio")
    path = sound.save(saved_path("sounds", suffix))
    player = play(path)
    heard = f"Playing with {player}." if player else "No audio player found (aplay, paplay, afplay, ffplay): open the file to listen."
    await app.show_action("speak", f"Saved to `{path}` ({len(sound.data):,} bytes, {sound.media_type}). {heard}", sound.trace)


async def transcribe(app: GuideApp, action: str, argument: str) -> None:
    path = Path(argument).expanduser()
    if not path.is_file():
        app.notify(f"There is no file at {path}.", title=f"/{action}", severity="warning")
        return
    words = await (app.guide.listen(path) if action == "listen" else app.guide.interpret(path))
    app.chat.composer.text = str(words)
    await app.show_action(action, f"From `{path}` — the words are in the composer for you to send.", words.trace)


async def continue_(app: GuideApp, text: str) -> None:
    reply = await app.guide.continue_(text, model=app.model_choice())
    await app.show_action("continue", f"{text}**{reply.text}**", reply.trace)


async def catalog(app: GuideApp) -> None:
    models = await app.guide.catalog()
    body = "\n".join(f"- `{m.id}` — {m.owned_by or 'unknown owner'}" for m in models) or "The server lists no models."
    await app.show_action("catalog", body, models.trace)


async def discern(app: GuideApp, text: str) -> None:
    verdict = await app.guide.discern(text)
    flagged = ", ".join(verdict.flagged_categories) or "nothing"
    body = f"**{'Flagged' if verdict.flagged else 'Not flagged'}** · categories flagged: {flagged}"
    if verdict.scores:
        top = sorted(verdict.scores.items(), key=lambda kv: -kv[1])[:4]
        body += "\n\n" + " · ".join(f"{k} {v:.2f}" for k, v in top)
    await app.show_action("discern", body, verdict.trace)
