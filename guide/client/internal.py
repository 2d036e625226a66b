"""The client's internal API for the app: what the rest of guide needs from the client but a library user does not
(address checks, picture reading, the PNG decoder, trace frames, the tool hook's type, secret scrubbing).

The one way into `guide.client`'s private modules from outside (tests/test_shape.py keeps it so). Names load on first
use from dependency-free modules, so the first paint never loads httpx. Not a stable API: it changes with the app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # each name as itself (the decoder's as assignments): exported, for mypy, without a third list
    from . import _png
    from ._address import check_address as check_address
    from ._address import url_for as url_for
    from ._address import url_secrets as url_secrets
    from ._pictures import Prepared as Prepared
    from ._pictures import prepare as prepare
    from ._pictures import read_picture as read_picture
    from ._png import MAX_PIXELS as MAX_PIXELS
    from ._png import Pixel as Pixel
    from ._providers import DEFAULT_BASE_URL as DEFAULT_BASE_URL
    from ._requests import USER_AGENT as USER_AGENT
    from ._secrets import scrub as scrub
    from ._tools import MAX_ROUNDS as MAX_ROUNDS
    from ._tools import BeforeTool as BeforeTool
    from ._trace import FRAMES_FIRST as FRAMES_FIRST
    from ._trace import FRAMES_LAST as FRAMES_LAST
    from ._trace import OFF_MAP as OFF_MAP
    from ._trace import ChunkKinds as ChunkKinds
    from ._trace import frame_type as frame_type

    png_decode = _png.decode
    png_header = _png.header

_HOMES = {
    "_address": ["check_address", "url_for", "url_secrets"],
    "_pictures": ["Prepared", "prepare", "read_picture"],
    "_png": ["MAX_PIXELS", "Pixel", "png_decode", "png_header"],
    "_providers": ["DEFAULT_BASE_URL"],
    "_requests": ["USER_AGENT"],
    "_secrets": ["scrub"],
    "_tools": ["MAX_ROUNDS", "BeforeTool"],
    "_trace": ["FRAMES_FIRST", "FRAMES_LAST", "OFF_MAP", "ChunkKinds", "frame_type"],
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    # Read from its home each time, not kept here: the private module stays the one place a name is defined,
    # so a test that patches it there (a slow `prepare`) is seen by the app.
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'guide.client.internal' has no attribute {name!r}")
    return getattr(importlib.import_module(f"guide.client.{module}"), name.removeprefix("png_"))  # the decoder's names say what it decodes


__all__ = sorted(_MODULE_OF)
