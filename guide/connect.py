"""Which server answers: the one configured, else a local one found running (a quick GET of the usual local servers'
model lists on loopback), else guide's own companion at 127.0.0.1:8765, started if it is not running: a fresh user with
no server and no key still gets the whole app.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from guide.client import Gentle
from guide.config import Settings

LOOK_TIMEOUT = 0.4


@dataclass
class Answering:
    """The server that will answer, and how guide came to it."""

    base_url: str
    label: str
    """Who is answering, for the header ("Ollama", "companion · reflective-listener …")."""
    message: str | None = None
    """What to tell the user about the choice (None when it was simply configured)."""
    companion: Any = None
    """The companion (supervise.Companion), when it is the one answering: a process of its own, left running on exit."""


async def look_for_local() -> tuple[str, str] | None:
    """The first usual local server that answers its model list: (name, address)."""
    import httpx

    from guide.client import ACTIONS, PROVIDERS, api_base
    from guide.client.internal import url_for

    candidates: dict[str, str] = {}
    for provider in PROVIDERS.values():
        if provider.local:
            candidates.setdefault(provider.base_url, provider.name)

    async def answers(client: httpx.AsyncClient, address: str) -> bool:
        try:
            response = await client.get(url_for(api_base(address), ACTIONS[Gentle.catalog]))
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async with httpx.AsyncClient(timeout=httpx.Timeout(LOOK_TIMEOUT * 3, connect=LOOK_TIMEOUT)) as client:
        found = await asyncio.gather(*(answers(client, address) for address in candidates))
    for (address, name), ok in zip(candidates.items(), found):
        if ok:
            return (name.replace("llama.cpp", "llama.cpp (or LocalAI)") if address.endswith(":8080") else name), address
    return None


async def choose(settings: Settings, *, how_to_pick: str = "F7 picks a server.") -> Answering:
    """The server for this run (may start the companion, a process that outlives this one). `how_to_pick` tells the user
    how to name another server, in the asker's words: the app's key by default, a flag for `guide ask`."""
    configured = settings.server()
    if configured:
        return Answering(configured, configured)
    local = await look_for_local()
    if local is not None:
        name, address = local
        return Answering(address, name, f"No server is configured, so guide is talking to {name}, found running at {address}.")
    from guide.companion.supervise import CompanionFailed, find_or_start, held_words, wanted_port

    try:
        companion, held = await find_or_start(settings, settings.gguf)
    except CompanionFailed as error:
        return Answering(f"http://127.0.0.1:{wanted_port(settings)}", "companion", f"{error} {how_to_pick}")
    label = f"companion ({companion.kind})"
    message = f"guide's built-in companion is answering: {companion.described}. No server is set up and no local one is running. {how_to_pick}"
    notes = [words for words in (held_words(held, companion), message, companion.set_aside) if words]
    return Answering(companion.url, label, " ".join(notes), companion)


async def reachable(address: str, timeout: float = 1.5) -> bool:
    """Whether anything accepts a connection at the address (no request is sent)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address if "://" in address else f"http://{address}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "127.0.0.1", port), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True
