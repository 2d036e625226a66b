"""Waits with a deadline: a test reading a child's pipe fails when the child goes quiet, it never hangs."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import IO


def lines_within(pipe: IO[str], seconds: float) -> Iterator[str]:
    """Each line `pipe` gives until it ends, failing the test if they have not all come within `seconds`.

    A thread does the blocking reads (a pipe's read has no timeout of its own); it ends when the pipe does,
    which it will once the test kills the child.
    """
    arrived: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        try:
            for line in pipe:
                arrived.put(line)
        except (OSError, ValueError):  # closed under it: the child is gone
            pass
        finally:
            arrived.put(None)

    threading.Thread(target=pump, daemon=True, name="lines_within").start()
    deadline = time.monotonic() + seconds
    while True:
        try:
            line = arrived.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the child had not said what the test waits for within {seconds:g} s") from None
        if line is None:
            return
        yield line
