"""Names and numbers more than one layer reads. It imports nothing, so the settings, the store and the first paint read
these without loading httpx, and no layer keeps a copy."""

from __future__ import annotations

PROBE = "ai.probe()"
"""The gentle call shown for each request a probe sends (its traces are filed, then left out of a conversation's calls)."""

MAX_AUDIO = 25 * 1024 * 1024
"""The largest audio file OpenAI accepts for transcriptions and translations (25 MB): the client refuses more, the companion reads no more."""

DEFAULT_HISTORY = 100_000
"""Characters of the conversation sent with each message (the `history` setting's default): about 25,000 tokens,
within what hosted models take; a 10,000-message conversation is not sent whole."""
