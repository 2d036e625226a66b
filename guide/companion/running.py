"""Running the companion: on a port for `guide serve`, or in a background thread for the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engines import Engines, discover
from .guards import is_loopback
from .protocol import CLIENT_TIMEOUT, guarded
from .server import MAX_REPLIES, CompanionApp, build


@dataclass
class Running:
    """A companion serving in this process."""

    url: str
    engines: Engines
    server: Any
    thread: threading.Thread
    app: CompanionApp | None = None

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(5)
        if self.app is not None:
            self.app.close()


def config(app: CompanionApp, client_timeout: float, **more: Any) -> Any:
    """uvicorn's settings for the companion: our h11 protocol with its deadlines, no websockets, no access log."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=guarded(client_timeout),
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=max(1, min(5, int(client_timeout))),
        **more,
    )


def start(
    gguf: str | Path | None = None,
    *,
    api_key: str | None = None,
    engines: Engines | None = None,
    max_replies: int = MAX_REPLIES,
    client_timeout: float = CLIENT_TIMEOUT,
) -> Running:
    """Serve the companion on a free loopback port from a background thread."""
    import uvicorn

    engines = engines or discover(gguf)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    app = build(engines, api_key=api_key, max_replies=max_replies, client_timeout=client_timeout)
    server = uvicorn.Server(config(app, client_timeout))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True, name="guide-companion")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", engines, server, thread, app)


def serve(
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    gguf: str | None = None,
    client_timeout: float = CLIENT_TIMEOUT,
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
) -> None:
    """`guide serve`: the companion on a port, until Ctrl-C."""
    import uvicorn

    from guide.client import ACTIONS

    engines = discover(gguf)
    app = build(engines, api_key=api_key, client_timeout=client_timeout, bound=host, allow_hosts=allow_hosts, allow_origins=allow_origins)
    shown = f"[{host}]" if ":" in host else host  # the address it listens on: 0.0.0.0 is every one of this machine's
    print(f"guide companion on http://{shown}:{port}  ·  {engines.described}")
    print(f"offers: {', '.join(app.offered)}")
    key = ' -H "Authorization: Bearer $GUIDE_SERVE_KEY"' if api_key else ""
    model = engines.think.model_id
    print(
        f"try:    curl http://{shown}:{port}{ACTIONS['think'].legacy_path}{key} -H 'Content-Type: application/json' "
        f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}'"""
    )
    warning = exposure_warning(host, api_key)
    if warning:
        print(warning)
    try:
        uvicorn.Server(config(app, client_timeout, host=host, port=port)).run()
    finally:
        app.close()


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What `guide serve` says when it listens beyond this machine with no key."""
    if is_loopback(host) or api_key:
        return None
    return f"warning: listening on {host}, beyond this machine, without --api-key: anyone who can reach it can use it."
