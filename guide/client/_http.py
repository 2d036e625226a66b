"""What both drivers need from httpx: failures in plain words, and the probes' pool."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ._errors import GuideError, StreamBrokeOff, TimedOut

if TYPE_CHECKING:
    from ._core import Failure


PROBE_POOL = httpx.Limits(max_keepalive_connections=0)
"""Probes keep no connection alive: each gets a fresh one, which guide closes once the answer is read."""


def failure_of(exc: httpx.TransportError) -> Failure:
    """Why no answer came: too slow, nothing to connect to, or a connection dropped before answering."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    return "connect" if isinstance(exc, httpx.ConnectError) else "dropped"


def describe(exc: Exception) -> str:
    """An httpx failure in plain words."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def broke_off(exc: Exception, partial: str) -> GuideError:
    """The error for a connection that failed while a reply was arriving."""
    kind = TimedOut if isinstance(exc, httpx.TimeoutException) else StreamBrokeOff
    return kind(partial=partial, detail=describe(exc))
