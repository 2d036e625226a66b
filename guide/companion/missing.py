"""Why the companion does not offer an action, and whether anything can bring it: said in the 404 the app shows."""

from __future__ import annotations

from guide.client import ACTIONS, Gentle

BRINGS: dict[str, str] = {
    Gentle.speak: "it speaks with espeak-ng, which is not installed here: `sudo apt install espeak-ng` (or your system's package) brings it.",
    Gentle.listen: "it listens with pocketsphinx, which is not installed here: `pip install 'guide-chat[local]'` brings it.",
    Gentle.revise: "an edit needs a language model, and the reflective listener is rules: `pip install 'guide-chat[local]'` brings a small model.",
}
"""What brings an action the companion can have, when it is missing here."""

NOTHING_BRINGS = "the companion has no engine for it, and nothing to install brings one: a server that offers it can (F7 or --base-url picks one)."


def not_offered(action: Gentle) -> str:
    """Why an action is missing, in the words the app shows: what is missing, and whether anything can bring it."""
    row = ACTIONS[action]
    return f"This server does not offer {action} ({row.endpoint}): {BRINGS.get(action, NOTHING_BRINGS)}"
