"""Servers: provider presets and reading a probe (the address rules are in `_address`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._map import Action


@dataclass(frozen=True)
class Provider:
    """A kind of server with its usual address."""

    id: str
    name: str
    base_url: str
    local: bool
    """A server on this machine (probed at start, no key needed)."""


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider("openai", "OpenAI", "https://api.openai.com", local=False),
        Provider("ollama", "Ollama", "http://127.0.0.1:11434", local=True),
        Provider("lmstudio", "LM Studio", "http://127.0.0.1:1234", local=True),
        Provider("llamacpp", "llama.cpp", "http://127.0.0.1:8080", local=True),
        Provider("vllm", "vLLM", "http://127.0.0.1:8000", local=True),
        Provider("localai", "LocalAI", "http://127.0.0.1:8080", local=True),
    )
}
"""Provider presets by id. llama.cpp and LocalAI share port 8080."""

DEFAULT_BASE_URL = PROVIDERS["openai"].base_url


def local_servers_hint() -> str:
    """The usual local servers and their ports, for a calm 'cannot connect'."""
    seen = []
    for provider in PROVIDERS.values():
        if provider.local:
            seen.append(f"{provider.name} {provider.base_url.rsplit(':', 1)[-1]}")
    return "Usual local servers listen on: " + ", ".join(seen) + "."


Support = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class Finding:
    """What a probe learned about one action."""

    action: str
    support: Support
    status: int | None
    reason: str

    @property
    def offered(self) -> bool | None:
        """True, False, or None where the probe could not tell."""
        return {"yes": True, "no": False, "unknown": None}[self.support]


def judge(action: Action, status: int | None, body: bytes, failure: str = "") -> Finding:
    """Whether a route exists, from its answer to an empty request.

    A server that has the route refuses the probe's invalid body (400/422, or
    a 5xx from servers that report validation that way) or, for the catalog,
    answers; one without it answers 404/405/501 (or LM Studio's 200 with
    "Unexpected endpoint"). A refused key leaves the question open.
    """
    from ._responses import LM_STUDIO_NO_ROUTE, NOT_JSON, decode_json, error_detail  # here: the app's status line needs only the addresses

    if status is None:
        return Finding(action.name, "unknown", None, failure or "no answer")
    parsed = decode_json(body)
    text = body.decode("utf-8", "replace")
    words = " ".join(error_detail(parsed, text).split())
    words = words if len(words) <= 72 else words[:71] + "…"
    if LM_STUDIO_NO_ROUTE in words:
        return Finding(action.name, "no", status, "the server has no such route")
    if status in (404, 405, 501):
        return Finding(action.name, "no", status, "the server has no such route")
    if status in (401, 403):
        return Finding(action.name, "unknown", status, "the key was refused")
    if 300 <= status < 400:
        return Finding(action.name, "unknown", status, "the server redirected the probe; guide does not follow redirects")
    if action.method == "GET":
        if status == 200 and parsed is not NOT_JSON:
            return Finding(action.name, "yes", status, "it answered")
        return Finding(action.name, "unknown", status, words or f"HTTP {status}")
    if 400 <= status < 500:
        return Finding(action.name, "yes", status, "the route exists (it refused the probe's invalid request)")
    if status >= 500:
        return Finding(action.name, "yes", status, f"the route exists (the server failed on the probe's invalid request: {words or status})")
    return Finding(action.name, "yes", status, "the route exists (it answered the probe)")
