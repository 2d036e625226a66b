"""What both drivers need from httpx: timeouts and failures in plain words."""

from __future__ import annotations

import httpx

from ._errors import GuideError, StreamBrokeOff, TimedOut


def timeouts(read: float, connect: float) -> httpx.Timeout:
    """guide's timeouts: `connect` to reach the server, `read` for the rest."""
    return httpx.Timeout(read, connect=connect)


def describe(exc: Exception) -> str:
    """An httpx failure in plain words."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def broke_off(exc: Exception, partial: str) -> GuideError:
    """The error for a connection that failed while a reply was arriving."""
    error: GuideError = TimedOut(partial=partial) if isinstance(exc, httpx.TimeoutException) else StreamBrokeOff(partial=partial)
    error.detail = describe(exc)
    return error
