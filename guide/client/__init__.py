"""The client layer: the gentle actions over any OpenAI-compatible API.

Headless: nothing here imports textual. Names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._address import api_base, display_address, redact_url
    from ._async import AsyncGuide
    from ._errors import (
        CannotConnect,
        GuideError,
        KeyRefused,
        ModelNotFound,
        NoModel,
        NotOffered,
        PicturesNotTaken,
        RateLimited,
        Redirected,
        ReplyNotUnderstood,
        ReplyTooLarge,
        RequestRefused,
        ServerFailed,
        StreamBrokeOff,
        TimedOut,
        ToolsNotTaken,
        ToolsWentOn,
        UnusableAddress,
    )
    from ._map import ACTIONS, API_VERSION, Action
    from ._providers import PROVIDERS, Finding, Provider
    from ._reply import AsyncReply, Reply
    from ._results import Catalog, ModelInfo, Picture, Sound, Transcript, Vector, Vectors, Verdict
    from ._secrets import redact_key
    from ._sse import ServerSentEvent, SSEDecoder
    from ._sync import Guide
    from ._tools import Tool, ToolCall, tool_spec
    from ._trace import Trace

_HOMES = {
    "_address": ["api_base", "display_address", "redact_url"],
    "_async": ["AsyncGuide"],
    "_errors": [
        "CannotConnect",
        "GuideError",
        "KeyRefused",
        "ModelNotFound",
        "NoModel",
        "NotOffered",
        "PicturesNotTaken",
        "RateLimited",
        "Redirected",
        "ReplyNotUnderstood",
        "ReplyTooLarge",
        "RequestRefused",
        "ServerFailed",
        "StreamBrokeOff",
        "TimedOut",
        "ToolsNotTaken",
        "ToolsWentOn",
        "UnusableAddress",
    ],
    "_map": ["ACTIONS", "API_VERSION", "Action"],
    "_providers": ["PROVIDERS", "Finding", "Provider"],
    "_reply": ["AsyncReply", "Reply"],
    "_results": ["Catalog", "ModelInfo", "Picture", "Sound", "Transcript", "Vector", "Vectors", "Verdict"],
    "_sse": ["SSEDecoder", "ServerSentEvent"],
    "_sync": ["Guide"],
    "_secrets": ["redact_key"],
    "_tools": ["Tool", "ToolCall", "tool_spec"],
    "_trace": ["Trace"],
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    # Names load on first use: the app can read the map and the providers
    # before httpx (or asyncio, for the sync driver) is imported.
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'guide.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"guide.client.{module}"), name)
    globals()[name] = value
    return value


def probe(base_url: str, *, api_key: str | None = None) -> dict[str, Finding]:
    """Which of the gentle actions the server at `base_url` offers."""
    from ._sync import Guide

    with Guide(base_url=base_url, api_key=api_key, max_retries=0) as ai:
        return ai.probe()


__all__ = [
    "ACTIONS",
    "API_VERSION",
    "PROVIDERS",
    "Action",
    "AsyncGuide",
    "AsyncReply",
    "CannotConnect",
    "Catalog",
    "Finding",
    "Guide",
    "GuideError",
    "KeyRefused",
    "ModelInfo",
    "ModelNotFound",
    "NoModel",
    "NotOffered",
    "Picture",
    "PicturesNotTaken",
    "Provider",
    "RateLimited",
    "Redirected",
    "Reply",
    "ReplyNotUnderstood",
    "ReplyTooLarge",
    "RequestRefused",
    "SSEDecoder",
    "ServerFailed",
    "ServerSentEvent",
    "Sound",
    "StreamBrokeOff",
    "TimedOut",
    "Tool",
    "ToolCall",
    "ToolsNotTaken",
    "ToolsWentOn",
    "Trace",
    "Transcript",
    "UnusableAddress",
    "Vector",
    "Vectors",
    "Verdict",
    "api_base",
    "display_address",
    "probe",
    "redact_key",
    "redact_url",
    "tool_spec",
]
