"""The shapes the OpenAPI spec gives each action's answer (the top-level fields that tell each apart, on the map's rows).

A probe counts a route as offered only when it answers in its shape, or an error's: a server that answers every path
with a page and 200 offers nothing guide can use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._map import Action

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
