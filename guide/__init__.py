"""guide: a calm guide to chat with, over any OpenAI-compatible API.

    from guide import Guide
    ai = Guide(base_url="http://127.0.0.1:8080")
    print(ai.think("Hello, guide."))

The names below load on first use, so `import guide` stays fast and the
terminal app can paint before httpx is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import (
        ACTIONS,
        API_VERSION,
        PROVIDERS,
        Action,
        AsyncGuide,
        AsyncReply,
        CannotConnect,
        Catalog,
        Finding,
        Guide,
        GuideError,
        KeyRefused,
        ModelInfo,
        ModelNotFound,
        NoModel,
        NotOffered,
        Picture,
        PicturesNotTaken,
        Provider,
        RateLimited,
        Redirected,
        Reply,
        ReplyNotUnderstood,
        ReplyTooLarge,
        RequestRefused,
        ServerFailed,
        Sound,
        StreamBrokeOff,
        TimedOut,
        Tool,
        ToolCall,
        ToolsNotTaken,
        ToolsWentOn,
        Trace,
        Transcript,
        UnusableAddress,
        Vector,
        Vectors,
        Verdict,
        probe,
    )

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
    "ServerFailed",
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
    "__version__",
    "probe",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("guide.client"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'guide' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
