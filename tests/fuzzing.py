"""How many examples the slow fuzzers draw: a share by default, the full count where GUIDE_FUZZ=thorough.

Each example is a real request to a real server or a whole stream read, so the full counts cost
more than a minute of the default suite. The default share still draws every route, mode and kind
of input many times over; CI's run with the extras sets GUIDE_FUZZ=thorough (see .ci/run), so the long
tail is still walked on every change.
"""

from __future__ import annotations

import os

THOROUGH = os.environ.get("GUIDE_FUZZ") == "thorough"


def examples(thorough: int, default: int) -> int:
    """The count for this run."""
    return thorough if THOROUGH else default
