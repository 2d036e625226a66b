"""When to try a call again, and how long to wait: as the official SDK does."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """408/409/429/5xx are retried, unless the server says `x-should-retry`."""
    hint = headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in RETRY_STATUSES or status >= 500


def retry_delay(attempt: int, headers: Mapping[str, str] | None = None) -> float:
    """Seconds to wait before retry number `attempt + 1`: the server's `retry-after-ms` or `retry-after` (seconds or an
    HTTP date) when between 0 and 60 s, else backoff doubling from 0.5 s to at most 8 s, less up to a quarter of jitter."""
    wanted = _retry_after(headers or {})
    if wanted is not None and 0 <= wanted <= MAX_RETRY_AFTER:
        return wanted
    delay = min(INITIAL_DELAY * 2.0**attempt, MAX_DELAY)
    return delay * (1 - 0.25 * random.random())


def _retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    seconds = headers.get("retry-after")
    if not seconds:
        return None
    try:
        return float(seconds)
    except ValueError:
        import email.utils  # only for the rare HTTP-date form

        when = email.utils.parsedate_tz(seconds)
        if when is None:
            return None
        return email.utils.mktime_tz(when) - time.time()
