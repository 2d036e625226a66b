"""Running the relay: `guide serve --relay` on a port (`guide watch` starts it as a process of its own), behind the companion's
door (Host and Origin, the key when one is set) and deadlines, each call filed in the store as it starts, runs and ends."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from guide.client import Trace

from .guards import Guard
from .identity import RELAY_PORT
from .protocol import CLIENT_TIMEOUT
from .relay import Relay
from .relay_trace import DIGESTER

GRACE = 3
"""Seconds a call still running at SIGTERM has to end before the relay stops it: uvicorn waited for each one, and an upstream may be
given 600 s (relay.UPSTREAM_SILENCE), so the relay outlived the SIGTERM and `guide watch` had to kill it with its calls unfiled."""

__all__ = ["RELAY_PORT", "filing", "serve"]


def filing() -> tuple[Callable[[Trace], None], Any]:
    """A listener that files each call in the store as the relay tells it: as it starts, every half second while it runs
    (relay_trace.PROGRESS), and when it ends (the store's own writer, off any loop); and the store to close at the end."""
    import sqlite3

    from guide.store import Store, StoreUnavailable

    try:
        store = Store()
    except (StoreUnavailable, sqlite3.Error, OSError) as error:
        print(f"guide relay: calls are not filed: {error}", file=sys.stderr)
        return (lambda trace: None), None
    return functools.partial(store.save_trace, None), store


def serve(
    host: str,
    port: int,
    upstream: str,
    *,
    upstream_key: str | None = None,
    api_key: str | None = None,
    client_timeout: float = CLIENT_TIMEOUT,
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
    log: str | None = None,
) -> None:
    """`guide serve --relay URL`: the relay on a port until Ctrl-C (PortInUse, before a word, if it is taken); `log` prints
    a line per call (full: the bodies too, keys replaced)."""
    import uvicorn

    from guide.client import display_address

    from .running import config, listen
    from .wire_log import WireLog

    listening = listen(host, port)
    # The loop passing bytes on shares the interpreter with the thread reading the copies and the store's writer: a short
    # switch interval hands it back within half a millisecond of its socket being ready, not five (the first byte waited for it).
    sys.setswitchinterval(0.0005)
    file, store = filing()
    relay = Relay(upstream, upstream_key=upstream_key, relay_key=api_key, stall=client_timeout, tell=file)
    guarded = Guard(relay, bound=host, allow_hosts=allow_hosts, allow_origins=allow_origins, api_key=api_key)
    secrets = [key for key in (api_key, upstream_key) if key]
    app: Any = WireLog(guarded, full=log == "full", secrets=secrets) if log else guarded
    shown = f"[{host}]" if ":" in host else host
    print(f"guide relay on http://{shown}:{port}/v1  →  {display_address(upstream)}")
    print(f"point a program at it:  OPENAI_BASE_URL=http://{shown}:{port}/v1")
    sys.stdout.flush()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminated)
    try:
        # No Server or Date header of uvicorn's own: the upstream's pass through, and nothing is added.
        uvicorn.Server(config(app, client_timeout, server_header=False, date_header=False, timeout_graceful_shutdown=GRACE)).run(sockets=[listening])
    finally:
        DIGESTER.drained(GRACE)
        if store is not None:
            store.close()


def terminated(signum: int, frame: object) -> None:
    """SIGTERM, as uvicorn raises it again once it has stopped: the relay then ends through its `finally` (the calls it stopped told
    and filed, the store closed) with the usual 143; the default action killed it on the spot, the last calls filed as still running."""
    raise SystemExit(128 + signum)
