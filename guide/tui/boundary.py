"""One error boundary for every worker: a failure becomes a calm notice, never the end of the app. A GuideError is
explained in its own words; an OSError names its path (an exports folder that is a file, a full disk); anything else is
written, traceback and all, to guide.log in the data folder, and the notice says where."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from guide.failures import describe_os_error, log_failure, unexpected

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

P = ParamSpec("P")
R = TypeVar("R")


def report(app: App[Any], error: BaseException, what: str = "") -> None:
    """Tell the user, calmly, what went wrong (the app goes on)."""
    from guide.client import GuideError

    if isinstance(error, GuideError):
        explain = getattr(app, "explain", None)
        if explain is not None:
            explain(error, what)
            return
        app.notify(error.explain(), title=error.title, severity="error", timeout=12)
    elif isinstance(error, OSError):
        app.notify(describe_os_error(error), title="A file could not be used", severity="error", timeout=12)
    else:
        app.notify(unexpected(error, log_failure(error, what)), title="Something went wrong", severity="error", timeout=15)


def guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | None]]:
    """Wrap a widget's or app's async method (a worker's body) in the boundary."""

    @functools.wraps(method)
    async def boundary(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return await method(*args, **kwargs)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            node: DOMNode = args[0]  # type: ignore[assignment]
            report(node.app, error, method.__name__)
            return None

    return boundary
