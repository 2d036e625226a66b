"""What every subcommand shares: exit codes, calm errors, refusing an address, the one boundary.

Exit codes scripts can trust: 0 done, 1 the call failed (the message says why), 2 the command line was wrong (an
unusable server address included), 3 the server could not be reached, 4 the key was refused, 5 the server does not
offer the action, 130 stopped with Ctrl-C, 141 the output was closed (a broken pipe: silent, as `ls | head` is).
Every other failure ends in one calm line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TextIO

from guide.safe_text import one_line

if TYPE_CHECKING:
    from guide.client import GuideError
    from guide.config import Settings

RUN_FLAGS = ("base_url", "model", "persona")
"""The settings a flag can give for one run, before or after the command's name (`guide --model M ask …`)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_KEY, EXIT_NOT_OFFERED, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 4, 5, 130, 141


def run_flags() -> argparse.ArgumentParser:
    """This run's settings as flags, for `guide` and for the commands that use them (ask, config); --home is in every command's own.

    Each defaults to "not given" (SUPPRESS), so a flag given before the command is not undone by the command's own
    default, and when one is given in both places the later wins. main() fills in None for the rest.
    """
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--base-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="the server's address for this run, e.g. http://127.0.0.1:11434 (default: settings, $OPENAI_BASE_URL)",
    )
    flags.add_argument(
        "--model",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="the model for this run (default: settings, else the persona's, else the server's first chat model)",
    )
    flags.add_argument("--persona", metavar="ID", default=argparse.SUPPRESS, help="the persona for this run (default: settings, else calm-guide)")
    return flags


def said(code: int, words: str) -> int:
    """`code`, once `guide: words` is on stderr: how a command stops with one calm line."""
    print(f"guide: {words}", file=sys.stderr)
    return code


def exit_code(error: GuideError) -> int:
    """The exit status for a failed call."""
    from guide.client import CannotConnect, KeyRefused, NotOffered

    codes = ((CannotConnect, EXIT_UNREACHABLE), (KeyRefused, EXIT_KEY), (NotOffered, EXIT_NOT_OFFERED))
    return next((code for kind, code in codes if isinstance(error, kind)), EXIT_FAILED)


def say_error(error: GuideError, stream: TextIO) -> None:
    """A failed call, calmly, on stderr: the title, the server's words (control characters as symbols), the hint, and the
    flag to change (the app names its keys; a command names its flags)."""
    from guide.client import CannotConnect, ModelNotFound, Redirected

    stream.write(f"guide: {one_line(error.title)}")
    if error.detail:
        stream.write(f" ({one_line(error.detail)})")
    flags = (((CannotConnect, Redirected), "--base-url URL names another server."), (ModelNotFound, "--model NAME names another model."))
    advice = next((words for kind, words in flags if isinstance(error, kind)), None)
    stream.write(f"\n  {one_line(error.hint)}{' ' + advice if advice else ''}\n")


async def answering(settings: Settings, how_to_pick: str = "--base-url URL picks a server.") -> str:
    """The base URL of who answers (guide.connect.choose), after a line on stderr when it is not the one configured."""
    from guide.connect import choose

    found = await choose(settings, how_to_pick=how_to_pick)
    if found.message:
        print(f"guide: {one_line(found.message)}", file=sys.stderr)
    return found.base_url


def refuse_address(address: str | None) -> int | None:
    """EXIT_USAGE, after one line saying why, if the server address cannot be used; else None."""
    if not address:
        return None
    from guide.client import redact_url
    from guide.client.internal import check_address

    why = check_address(address)
    if why is None:
        return None
    return said(EXIT_USAGE, f"cannot use the server address {one_line(redact_url(address))!r}: {why}. Give an http:// or https:// address.")


def output_closed() -> int:
    """stdout went away (`guide ask … | head -c 10`): stop writing, quietly (the reader chose to stop), exit 141."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout at exit: that must not fail again
    return EXIT_PIPE


def folder_advice(error: OSError) -> str:
    """Where guide's own folders come from, when the failure is about one of them (a home that cannot be made or written)."""
    from guide.locations import config_dir, data_dir

    named = [str(name) for name in (error.filename, error.filename2) if name]
    try:
        ours = [str(config_dir()), str(data_dir())]
    except OSError:
        return ""
    if not any(name == folder or folder.startswith(name.rstrip("/") + "/") or name.startswith(folder) for name in named for folder in ours):
        return ""
    return ". guide keeps its settings and conversations there: set GUIDE_HOME (or --home DIR) to a folder you can write."


def failed(error: Exception, args: argparse.Namespace) -> int:
    """The one boundary of every command: a calm line, never a traceback on the screen."""
    from guide.client import GuideError

    if isinstance(error, GuideError):
        say_error(error, sys.stderr)
        return exit_code(error)
    from guide.failures import describe_os_error, log_failure, unexpected

    if isinstance(error, OSError):
        return said(EXIT_FAILED, f"{one_line(describe_os_error(error))}{folder_advice(error)}")
    command = "guide " + str(getattr(args, "command", None) or "")
    return said(EXIT_FAILED, unexpected(error, log_failure(error, command), running=False))
