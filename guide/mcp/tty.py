"""Asking the user about an MCP tool call on the terminal itself (/dev/tty): stdin may be the words piped to `guide ask`."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from guide.safe_text import one_line

if TYPE_CHECKING:
    from guide.client import ToolCall


def _ask(question: str) -> str:
    """The first letter of the answer (y, a, n), or "" when there is no terminal to ask on."""
    try:
        # Two handles: a terminal cannot seek, so one opened r+ (buffered both ways) refuses to open at all.
        with open("/dev/tty", "w", encoding="utf-8", errors="replace") as out, open("/dev/tty", encoding="utf-8", errors="replace") as into:
            out.write(question)
            out.flush()
            answer = into.readline()
    except OSError:  # no controlling terminal: a pipe, cron, CI
        return ""
    return (answer.strip().lower() or "n")[0]


async def ask_on_terminal(call: ToolCall, server: str, tool: str) -> str:
    """y once, a always (in this run), anything else no; "" when nothing could be asked. Read in a thread: the loop goes on.

    A daemon thread, not asyncio.to_thread: Ctrl-C while the question waits must end `guide ask` at once, and
    asyncio.run waits for its executor's threads (this one blocked in readline) before it returns.
    """
    question = f"guide: the model asks MCP server {one_line(server)} to run {one_line(call.shown())}. Run it? [y once / a always / N no] "
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        answer = _ask(question)
        try:
            loop.call_soon_threadsafe(lambda: None if answered.done() else answered.set_result(answer))
        except RuntimeError:  # the loop closed meanwhile: nobody waits for the answer
            pass

    threading.Thread(target=read, name="guide-ask-terminal", daemon=True).start()
    return await answered
