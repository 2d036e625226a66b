"""The client layer: the gentle actions over any OpenAI-compatible API.

Headless: nothing here imports textual. Names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _errors  # the error tree is small and imports nothing: its classes are listed from it

if TYPE_CHECKING:  # each name as itself: exported, for mypy, without a third list
    from ._address import api_base as api_base
    from ._address import display_address as display_address
    from ._address import redact_url as redact_url
    from ._async import AsyncGuide as AsyncGuide
    from ._errors import CannotConnect as CannotConnect
    from ._errors import GuideError as GuideError
    from ._errors import KeyRefused as KeyRefused
    from ._errors import ModelNotFound as ModelNotFound
    from ._errors import NoModel as NoModel
    from ._errors import NotOffered as NotOffered
    from ._errors import PicturesNotTaken as PicturesNotTaken
    from ._errors import RateLimited as RateLimited
    from ._errors import Redirected as Redirected
    from ._errors import ReplyNotUnderstood as ReplyNotUnderstood
    from ._errors import ReplyTooLarge as ReplyTooLarge
    from ._errors import RequestRefused as RequestRefused
    from ._errors import ServerFailed as ServerFailed
    from ._errors import StreamBrokeOff as StreamBrokeOff
    from ._errors import TimedOut as TimedOut
    from ._errors import ToolsNotTaken as ToolsNotTaken
    from ._errors import ToolsWentOn as ToolsWentOn
    from ._errors import UnusableAddress as UnusableAddress
    from ._map import ACTIONS as ACTIONS
    from ._map import API_VERSION as API_VERSION
    from ._map import Action as Action
    from ._map import Gentle as Gentle
    from ._providers import PROVIDERS as PROVIDERS
    from ._providers import Finding as Finding
    from ._providers import Provider as Provider
    from ._reply import AsyncReply as AsyncReply
    from ._reply import Reply as Reply
    from ._results import Catalog as Catalog
    from ._results import ModelInfo as ModelInfo
    from ._results import Picture as Picture
    from ._results import Sound as Sound
    from ._results import Transcript as Transcript
    from ._results import Vector as Vector
    from ._results import Vectors as Vectors
    from ._results import Verdict as Verdict
    from ._secrets import redact_key as redact_key
    from ._sse import ServerSentEvent as ServerSentEvent
    from ._sse import SSEDecoder as SSEDecoder
    from ._sync import Guide as Guide
    from ._tools import Tool as Tool
    from ._tools import ToolCall as ToolCall
    from ._tools import tool_spec as tool_spec
    from ._trace import Trace as Trace

_HOMES = {
    "_address": ["api_base", "display_address", "redact_url"],
    "_async": ["AsyncGuide"],
    "_errors": [name for name, value in vars(_errors).items() if isinstance(value, type) and issubclass(value, _errors.GuideError)],
    "_map": ["ACTIONS", "API_VERSION", "Action", "Gentle"],
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


__all__ = sorted([*_MODULE_OF, "probe"], key=lambda name: (0 if name.isupper() else 1 if name[:1].isupper() else 2, name))
"""Constants, then classes, then the rest, as ruff's RUF022 orders a written list."""
