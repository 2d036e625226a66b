"""Asking the user about an MCP tool call on the terminal itself (/dev/tty): stdin may be the words piped to `guide ask`."""

from __future__ import annotations

import asyncio
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
    """y once, a always (in this run), anything else no; "" when nothing could be asked. Read in a worker: the loop goes on."""
    question = f"guide: the model asks MCP server {one_line(server)} to run {one_line(call.shown())}. Run it? [y once / a always / N no] "
    return await asyncio.to_thread(_ask, question)
