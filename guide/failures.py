"""Failures nobody expected (neither a GuideError nor an OSError, which get notices of their own): the traceback goes to
a log file for a bug report, the user gets one calm line, and the app keeps running (a command stops, and says so).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from .locations import append_private, data_dir

LOG_NAME = "guide.log"


def log_failure(error: BaseException, where: str = "") -> Path | None:
    """Append the error's traceback to guide.log in the data folder; its path, or None if it cannot be written."""
    path = data_dir() / LOG_NAME
    lines = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {where}\n{lines}\n"
    try:
        append_private(path, entry)
    except OSError:
        return None
    return path


def describe_os_error(error: OSError) -> str:
    """An OSError in one line that names the path it was about."""
    reason = error.strerror or str(error) or type(error).__name__
    names = [str(name) for name in (error.filename, error.filename2) if name]
    return f"{' → '.join(names)}: {reason}" if names else reason


def unexpected(error: BaseException, log: Path | None, *, running: bool = True) -> str:
    """What to tell the user about a failure nobody expected; `running` is False for a command, which stops there."""
    where = f"The details are in {log}." if log else "The details could not be written to the log."
    then = "guide keeps running" if running else "guide stopped"
    return f"Something unexpected went wrong ({type(error).__name__}); {then}. {where}"
