"""Servers: provider presets and reading a probe (the address rules are in `_address`).

A probe counts a route as offered only when it answers in the shape the OpenAPI spec gives its answer (the top-level
fields that tell each apart, on the map's rows), or an error's: a server that answers every path with a page and 200
offers nothing guide can use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._map import Action, Gentle


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
    seen = [f"{provider.name} {provider.base_url.rsplit(':', 1)[-1]}" for provider in PROVIDERS.values() if provider.local]
    return "Usual local servers listen on: " + ", ".join(seen) + "."


Support = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class Finding:
    """What a probe learned about one action."""

    action: Gentle
    support: Support
    status: int | None
    reason: str

    @property
    def offered(self) -> bool | None:
        """True, False, or None where the probe could not tell."""
        return {"yes": True, "no": False, "unknown": None}[self.support]


def failed_on_probe(finding: Finding) -> bool:
    """Whether a route answered the probe's invalid request with a 5xx: only a real request can tell if it works."""
    return finding.status is not None and finding.status >= 500 and finding.support == "unknown"


def confirmed(first: Finding, second: Finding) -> Finding:
    """What a minimal real request says of a route that failed on the invalid one: it works, or it exists but fails."""
    if second.support == "yes":
        return Finding(first.action, "yes", second.status, "the route works (it failed on the probe's invalid request, and answered a minimal one)")
    if second.status is not None and second.status >= 500:
        return Finding(first.action, "no", second.status, second.reason)  # "the route exists but failed (HTTP 500): the server's words"
    return first


def judge(
    action: Action, status: int | None, body: bytes, failure: str = "", *, headers: Mapping[str, str] | None = None, cut: bool = False
) -> Finding:
    """Whether a route exists, from its answer to an empty request.

    A server with the route refuses the invalid body with an error object (400/422, or a 5xx where validation is
    reported so), or, for the catalog, lists; one without it answers 404/405/501 (or LM Studio's 200 "Unexpected
    endpoint"). Only the spec's shape, or an error's, counts: a web page says 200 to any path. A refused key leaves the
    question open. `cut` says the body is only the start of what the server sent.
    """
    # Imported here: the app's status line needs only the addresses.
    from ._responses import LM_STUDIO_NO_ROUTE, decode_json, error_detail

    def found(support: Support, reason: str) -> Finding:
        return Finding(action.name, support, status, reason)

    if status is None:
        return found("unknown", failure or "no answer")
    headers = headers or {}
    parsed = decode_json(body)
    text = body.decode("utf-8", "replace")
    words = " ".join(error_detail(parsed, text).split())
    words = words if len(words) <= 72 else words[:71] + "…"
    if LM_STUDIO_NO_ROUTE in words or status in (404, 405, 501):
        return found("no", "the server has no such route")
    if status in (401, 403):
        return found("unknown", "the key was refused")
    if 300 <= status < 400:
        return found("unknown", "the server redirected the probe; guide does not follow redirects")
    if web_page(headers, body):
        if status >= 500:
            return found("unknown", f"the server failed with a web page (HTTP {status}), not the API's shape")
        return found("no", "answered with a web page, not the API's shape")
    if status >= 400 and not error_shaped(parsed):
        return found("unknown", f"answered {status}, but not in the API's error shape: {words or 'an empty body'}")
    if 400 <= status < 500:
        return found("yes", "the route exists (it refused the probe's invalid request)")
    if status >= 500:
        return found("unknown", f"the route exists but failed (HTTP {status}): {words or 'no words'}")
    if in_shape(action, headers, body, parsed, cut=cut):
        return found("yes", "it answered" if action.method == "GET" else "the route exists (it answered the probe)")
    if error_shaped(parsed):
        return found("yes", "the route exists (it refused the probe's invalid request)")
    return found("no", f"answered {status}, but not in the API's shape: {words or 'an empty body'}")


SOUND_TYPES = ("audio/", "application/octet-stream")
"""How speech is labelled: the spec says octet-stream; servers name the format."""

ERROR_FIELDS = ("error", "detail", "message")
"""An error's top-level field: OpenAI's `error`, FastAPI's `detail`, vLLM's flat `message`."""

_WEB_PAGE = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)


def media_type(headers: Mapping[str, str]) -> str:
    """The content type without its parameters, lower case."""
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


def web_page(headers: Mapping[str, str], body: bytes) -> bool:
    """Whether an answer is a web page rather than anything the API sends."""
    return "html" in media_type(headers) or bool(_WEB_PAGE.match(body[:512]))


def error_shaped(parsed: Any) -> bool:
    """Whether parsed JSON is an error object, as OpenAI and the usual servers send them."""
    return isinstance(parsed, dict) and any(parsed.get(name) for name in ERROR_FIELDS)


def in_shape(row: Action, headers: Mapping[str, str], body: bytes, parsed: Any, *, cut: bool) -> bool:
    """Whether a successful answer is the one the spec gives this row's action.

    `cut` says the probe read only the start of the body (a long catalog): then the opening of a JSON object naming the fields is enough.
    """
    media = media_type(headers)
    if media == "text/event-stream":
        return row.spec_streams
    if row.sound:
        return media.startswith(SOUND_TYPES) and bool(body)
    fields = row.answer_fields
    if isinstance(parsed, dict):
        return all(name in parsed for name in fields)
    if cut and body.lstrip().startswith(b"{"):
        return all(re.search(rb'"%s"\s*:' % re.escape(name.encode()), body) for name in fields)
    return False
