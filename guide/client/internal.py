"""The client's internal API for the app: what the rest of guide needs from the client but a library user does not
(address checks, picture reading, the PNG decoder, trace frames, the tool hook's type, secret scrubbing).

The one way into `guide.client`'s private modules from outside (tests/test_shape.py keeps it so). Names load on first
use from dependency-free modules, so the first paint never loads httpx. Not a stable API: it changes with the app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._address import check_address, url_for, url_secrets
    from ._pictures import Prepared, prepare, read_picture
    from ._png import MAX_PIXELS, Pixel
    from ._png import decode as png_decode
    from ._png import header as png_header
    from ._providers import DEFAULT_BASE_URL
    from ._requests import USER_AGENT
    from ._secrets import scrub
    from ._tools import MAX_ROUNDS, BeforeTool
    from ._trace import FRAMES_FIRST, FRAMES_LAST, OFF_MAP, ChunkKinds, frame_type

_HOMES = {
    "DEFAULT_BASE_URL": ("_providers", "DEFAULT_BASE_URL"),
    "FRAMES_FIRST": ("_trace", "FRAMES_FIRST"),
    "FRAMES_LAST": ("_trace", "FRAMES_LAST"),
    "MAX_PIXELS": ("_png", "MAX_PIXELS"),
    "BeforeTool": ("_tools", "BeforeTool"),
    "MAX_ROUNDS": ("_tools", "MAX_ROUNDS"),
    "OFF_MAP": ("_trace", "OFF_MAP"),
    "USER_AGENT": ("_requests", "USER_AGENT"),
    "ChunkKinds": ("_trace", "ChunkKinds"),
    "Pixel": ("_png", "Pixel"),
    "Prepared": ("_pictures", "Prepared"),
    "check_address": ("_address", "check_address"),
    "frame_type": ("_trace", "frame_type"),
    "png_decode": ("_png", "decode"),
    "png_header": ("_png", "header"),
    "prepare": ("_pictures", "prepare"),
    "read_picture": ("_pictures", "read_picture"),
    "scrub": ("_secrets", "scrub"),
    "url_for": ("_address", "url_for"),
    "url_secrets": ("_address", "url_secrets"),
}
"""Each name: the private module it lives in, and its name there (the PNG decoder's are prefixed to say what they decode)."""


def __getattr__(name: str) -> Any:
    # Read from its home each time, not kept here: the private module stays the one place a name is defined,
    # so a test that patches it there (a slow `prepare`) is seen by the app.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'guide.client.internal' has no attribute {name!r}")
    return getattr(importlib.import_module(f"guide.client.{home[0]}"), home[1])


__all__ = [
    "DEFAULT_BASE_URL",
    "FRAMES_FIRST",
    "FRAMES_LAST",
    "MAX_PIXELS",
    "MAX_ROUNDS",
    "OFF_MAP",
    "USER_AGENT",
    "BeforeTool",
    "ChunkKinds",
    "Pixel",
    "Prepared",
    "check_address",
    "frame_type",
    "png_decode",
    "png_header",
    "prepare",
    "read_picture",
    "scrub",
    "url_for",
    "url_secrets",
]
