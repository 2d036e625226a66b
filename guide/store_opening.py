"""Opening the store without holding anything up: in a thread of its own, tried again while another guide (or `guide
ask`, or a backup tool) holds a write transaction on the file or migrates it. Nothing waits for this but the caller's
task, and the program's exit does not wait for the thread either.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from .store_writer import busy

if TYPE_CHECKING:
    from .store import Store
    from .store_writer import Saving

Result = TypeVar("Result")
RETRY = 1.0
"""Seconds between attempts while another guide holds the file (and before saying opening is slow)."""
SLOW = "The conversations file is still opening (another guide may be using it); what you write is kept and saved once it is."


def in_own_thread(work: Callable[[], Result]) -> asyncio.Future[Result]:
    """Run `work` in a daemon thread of its own, for the loop to await: guide can quit while it still waits
    (asyncio's worker threads are waited for as the program exits; opening a store held elsewhere can take minutes)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Result] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        def settle() -> None:
            if not future.done():  # nobody waits any more (guide is quitting): what was opened is left to the exit
                outcome()

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the loop has closed: guide has quit

    def run() -> None:
        try:
            result = work()
        except Exception as error:
            deliver(partial(future.set_exception, error))
        else:
            deliver(partial(future.set_result, result))

    threading.Thread(target=run, name="guide-store-open", daemon=True).start()
    return future


async def open_when_free(on_saving: Callable[[Saving, str], None], slow: Callable[[str], None]) -> tuple[Store, bool]:
    """The store, once it opens, and whether it kept anyone waiting. `slow` hears once, in words, that it is taking a while;
    `on_saving` hears "waiting" when another guide holds the file. What cannot be waited out (a folder that cannot be made) is raised."""
    from .store import Store

    def open_store() -> Store:
        return Store(on_saving=on_saving)

    waited = False
    while True:
        opening = in_own_thread(open_store)
        if not (await asyncio.wait({opening}, timeout=RETRY))[0] and not waited:
            slow(SLOW)
            waited = True
        try:
            return await opening, waited
        except sqlite3.OperationalError as error:
            if not busy(error):
                raise
            if not waited:
                on_saving("waiting", str(error))
            waited = True
            await asyncio.sleep(RETRY)
