"""The client layer: the gentle actions over any OpenAI-compatible API.

Headless: nothing here imports textual.
"""

from __future__ import annotations

from ._async import AsyncGuide
from ._errors import (
    CannotConnect,
    GuideError,
    KeyRefused,
    ModelNotFound,
    NoModel,
    NotOffered,
    RateLimited,
    ReplyNotUnderstood,
    RequestRefused,
    ServerFailed,
    StreamBrokeOff,
    TimedOut,
)
from ._map import ACTIONS, API_VERSION, Action
from ._providers import PROVIDERS, Finding, Provider, api_base, display_address
from ._reply import AsyncReply, Reply
from ._results import Catalog, ModelInfo, Picture, Sound, Transcript, Vector, Vectors, Verdict
from ._sse import ServerSentEvent, SSEDecoder
from ._sync import Guide
from ._trace import Trace, redact_key


def probe(base_url: str, *, api_key: str | None = None) -> dict[str, Finding]:
    """Which of the gentle actions the server at `base_url` offers."""
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
    "Provider",
    "RateLimited",
    "Reply",
    "ReplyNotUnderstood",
    "RequestRefused",
    "SSEDecoder",
    "ServerFailed",
    "ServerSentEvent",
    "Sound",
    "StreamBrokeOff",
    "TimedOut",
    "Trace",
    "Transcript",
    "Vector",
    "Vectors",
    "Verdict",
    "api_base",
    "display_address",
    "probe",
    "redact_key",
]
