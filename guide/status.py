"""The line at the top: persona · server · model, always all three, shortened to fit the width. Headless: the session
builds a Status, the app's status line fits it. The server gives way first (the scheme, then all but the port), then
the model (cut in the middle), then the persona's name. Through respond, the model says so (`SmolLM2 via respond`).
"""

from __future__ import annotations

from dataclasses import dataclass

from guide.client import Gentle
from guide.safe_text import one_line

SEPARATOR = "  ·  "
TIGHT = " · "
MODEL_AT_LEAST = 12
PERSONA_AT_LEAST = 8


@dataclass(frozen=True)
class Status:
    """What the top line says: each server form shorter than the one before."""

    persona: str
    servers: tuple[str, ...]
    model: str
    surface: str = Gentle.think
    """The action that carries the chat's messages; anything but think is shown after the model."""

    def __str__(self) -> str:
        return fit(self, 10_000)


def middle_cut(text: str, width: int) -> str:
    """The text in at most `width` characters, its middle replaced by an ellipsis."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = width // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def end_cut(text: str, width: int) -> str:
    """The text in at most `width` characters, its end replaced by an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def fit(status: Status, width: int) -> str:
    """The line for this width: every part kept, each shortened in turn."""
    persona, model = one_line(status.persona), one_line(status.model)
    via = f" via {status.surface}" if status.surface != Gentle.think else ""
    width -= len(via)
    servers = [one_line(s) for s in status.servers] or [""]
    for separator in (SEPARATOR, TIGHT):
        for server in servers:
            line = f"◉ {persona}{separator}{server}{separator}{model}"
            if len(line) <= width:
                return line + via
    server, separator = servers[-1], TIGHT
    fixed = len(f"◉ {separator}{server}{separator}")
    model = middle_cut(model, max(MODEL_AT_LEAST, width - fixed - len(persona)))
    persona = end_cut(persona, max(PERSONA_AT_LEAST, width - fixed - len(model)))
    return end_cut(f"◉ {persona}{separator}{server}{separator}{model}", width) + via
