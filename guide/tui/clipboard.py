"""Copying: to the terminal's clipboard (OSC 52), and always to clipboard.txt (0600) in the data folder too, as OSC 52
may be ignored without a word (macOS Terminal, tmux unless its set-clipboard is on, the Linux console, no terminal);
the notice says where, and what we can tell about the terminal."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

FENCES = ("```", "~~~")


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a Markdown text, in order, without their fences (an unclosed one runs to the end)."""
    blocks: list[str] = []
    fence = ""
    lines: list[str] = []
    for line in markdown.splitlines():
        opening = line.lstrip(" ")
        if not fence:
            if len(line) - len(opening) <= 3 and opening.startswith(FENCES):
                mark = opening[0]
                fence = mark * (len(opening) - len(opening.lstrip(mark)))
                lines = []
        elif opening.rstrip().startswith(fence) and not opening.rstrip().lstrip(fence[0]):
            blocks.append("\n".join(lines))
            fence = ""
        else:
            lines.append(line)
    if fence:
        blocks.append("\n".join(lines))
    return blocks


def tmux_clipboard() -> str:
    """tmux's set-clipboard option ('on' lets programs inside set the clipboard); '' if it cannot be read."""
    import subprocess

    try:
        done = subprocess.run(["tmux", "show-options", "-gv", "set-clipboard"], capture_output=True, text=True, timeout=1, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def osc52_doubt(environ: Mapping[str, str], *, headless: bool, tmux_setting: str = "") -> str:
    """Why OSC 52 will not reach the system clipboard here, when we can tell; '' when it may well work."""
    if headless:
        return "this run has no terminal to copy into"
    if environ.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores OSC 52"
    if environ.get("TERM") == "linux":
        return "the Linux console has no clipboard"
    if environ.get("TMUX") and tmux_setting != "on":
        return f"tmux passes OSC 52 on only with set-clipboard on (it is {tmux_setting or 'unknown'} here)"
    if environ.get("STY"):
        return "GNU screen does not pass OSC 52 on"
    return ""


def copy(app: App[object], text: str, what: str) -> None:
    """Copy text (OSC 52 at once), save it to the file off the loop, then say plainly where it is."""
    app.copy_to_clipboard(text)
    app.run_worker(_saved_and_told(app, text, what, app.is_headless), group="clipboard", exclusive=True)


async def _saved_and_told(app: App[object], text: str, what: str, headless: bool) -> None:
    def off_the_loop() -> tuple[str | None, str, str]:
        from guide.locations import data_dir, ensure_private, write_private

        setting = tmux_clipboard() if os.environ.get("TMUX") and not headless else ""
        doubt = osc52_doubt(os.environ, headless=headless, tmux_setting=setting)
        try:
            path = ensure_private(data_dir()) / "clipboard.txt"
            write_private(path, text)
        except OSError as error:
            return None, doubt, error.strerror or str(error)
        home = Path.home()  # shown as the user reads it: ~ for their home
        return "~/" + str(path.relative_to(home)) if path.is_relative_to(home) else str(path), doubt, ""

    shown, doubt, problem = await asyncio.to_thread(off_the_loop)
    copied = f"Copied {what} ({len(text):,} characters)"
    if shown is None:
        where = f"{copied}, but it could not also be saved to a file: {problem}."
        app.notify(where + (f" And {doubt}." if doubt else ""), severity="warning", timeout=8)
    elif doubt:
        app.notify(f"{copied}; {doubt}, so it is saved in {shown}.", timeout=8)
    else:
        app.notify(f"{copied}. If your terminal ignores OSC 52, it's also in {shown}.", timeout=5)
