"""Running the relay: on a port for `guide serve --relay`, or on a thread of the app for `guide watch` (and tests).

Either way it sits behind the companion's door (Host and Origin, the key when
one is set) and its deadlines, and each call it passes on is filed in the
store by a writer of its own, once it has ended.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from guide.client import Trace

from .guards import Guard
from .protocol import CLIENT_TIMEOUT
from .relay import Relay

RELAY_PORT = 8766
"""Where `guide watch` and `guide serve --relay` listen by default: beside the companion's 8765, which keeps serving."""


PROGRESS = 0.5
"""Seconds between filings of a running call (its frames so far), so a watching app's row moves while the call streams."""


def filing(path: Any = None) -> tuple[Callable[[Trace], None], Any]:
    """A listener that files each call in the store as it starts, every PROGRESS seconds while it runs, and when it ends
    (the store's own writer, off any loop); and the store to close at the end."""
    import sqlite3

    from guide.store import Store, StoreUnavailable

    try:
        store = Store(path)
    except (StoreUnavailable, sqlite3.Error, OSError) as error:
        print(f"guide relay: calls are not filed: {error}", file=sys.stderr)
        return (lambda trace: None), None

    running: dict[str, Trace] = {}

    def file(trace: Trace) -> None:
        if trace.state == "running":
            running[trace.id] = trace
        else:
            running.pop(trace.id, None)
        store.save_trace(None, trace)

    def progress() -> None:
        while True:
            time.sleep(PROGRESS)
            for trace in list(running.values()):
                if trace.state == "running":
                    store.save_trace(None, trace)

    threading.Thread(target=progress, daemon=True, name="guide-relay-progress").start()
    return file, store


def build(
    upstream: str,
    *,
    listeners: list[Callable[[Trace], None]],
    upstream_key: str | None = None,
    api_key: str | None = None,
    bound: str = "127.0.0.1",
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
    client_timeout: float = CLIENT_TIMEOUT,
) -> tuple[Guard, Relay]:
    """The relay behind the companion's door."""
    relay = Relay(upstream, upstream_key=upstream_key, relay_key=api_key, stall=client_timeout, listeners=listeners)
    return Guard(relay, bound=bound, allow_hosts=allow_hosts, allow_origins=allow_origins, api_key=api_key), relay


def uvicorn_config(app: Any, client_timeout: float) -> Any:
    """The companion's settings, with no Server or Date header of uvicorn's own: the upstream's pass through, and nothing is added."""
    from .running import config

    return config(app, client_timeout, server_header=False, date_header=False)


@dataclass
class RunningRelay:
    """A relay serving from a thread of this process."""

    url: str
    relay: Relay
    server: Any
    thread: threading.Thread
    store: Any = None

    def stop(self) -> None:
        """Stop serving, wait for the thread, and file what is still queued."""
        self.server.should_exit = True
        self.thread.join(5)
        if self.store is not None:
            self.store.close()


def start(
    upstream: str,
    *,
    listeners: list[Callable[[Trace], None]] | None = None,
    port: int = 0,
    upstream_key: str | None = None,
    api_key: str | None = None,
    client_timeout: float = CLIENT_TIMEOUT,
    store_path: Any = None,
    listening: socket.socket | None = None,
) -> RunningRelay:
    """Serve the relay on loopback (`port` 0: a free one) from a background thread, filing calls in the store."""
    import uvicorn

    from .running import listen

    file, store = filing(store_path)
    everyone = [*(listeners or []), file]
    listening = listening or listen("127.0.0.1", port)
    port = listening.getsockname()[1]
    guarded, relay = build(upstream, listeners=everyone, upstream_key=upstream_key, api_key=api_key, client_timeout=client_timeout)
    server = uvicorn.Server(uvicorn_config(guarded, client_timeout))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True, name="guide-relay")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    return RunningRelay(f"http://127.0.0.1:{port}", relay, server, thread, store)


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
    """`guide serve --relay URL`: the relay on a port until Ctrl-C; `log` prints a line per call (full: the bodies too, keys replaced).

    Raises PortInUse before saying anything when the port is taken.
    """
    import uvicorn

    from guide.client import display_address

    from .running import listen
    from .wire_log import WireLog

    listening = listen(host, port)
    file, store = filing()
    guarded, _ = build(
        upstream,
        listeners=[file],
        upstream_key=upstream_key,
        api_key=api_key,
        bound=host,
        allow_hosts=allow_hosts,
        allow_origins=allow_origins,
        client_timeout=client_timeout,
    )
    secrets = [key for key in (api_key, upstream_key) if key]
    app: Any = WireLog(guarded, full=log == "full", secrets=secrets) if log else guarded
    shown = f"[{host}]" if ":" in host else host
    print(f"guide relay on http://{shown}:{port}/v1  →  {display_address(upstream)}")
    print(f"point a program at it:  OPENAI_BASE_URL=http://{shown}:{port}/v1")
    sys.stdout.flush()
    try:
        uvicorn.Server(uvicorn_config(app, client_timeout)).run(sockets=[listening])
    finally:
        if store is not None:
            store.close()
