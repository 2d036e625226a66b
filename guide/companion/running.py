"""Running the companion: on a port for `guide serve`, or in a background thread for the app."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engines import Engines, discover
from .server import MAX_REPLIES, build

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Running:
    """A companion serving in this process."""

    url: str
    engines: Engines
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(5)


def start(gguf: str | Path | None = None, *, api_key: str | None = None, engines: Engines | None = None, max_replies: int = MAX_REPLIES) -> Running:
    """Serve the companion on a free loopback port from a background thread."""
    import uvicorn

    engines = engines or discover(gguf)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(build(engines, api_key=api_key, max_replies=max_replies), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True, name="guide-companion")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", engines, server, thread)


def serve(host: str, port: int, *, api_key: str | None = None, gguf: str | None = None) -> None:
    """`guide serve`: the companion on a port, until Ctrl-C."""
    import uvicorn

    engines = discover(gguf)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"guide companion on http://{shown}:{port}  ·  {engines.described}")
    offered = ["think", "continue", "understand", "catalog"] + (["speak"] if engines.speak else [])
    print(f"offers: {', '.join(offered)}")
    key = ' -H "Authorization: Bearer $GUIDE_COMPANION_KEY"' if api_key else ""
    model = engines.think.model_id
    from guide.client import ACTIONS

    print(
        f"try:    curl http://{shown}:{port}{ACTIONS['think'].legacy_path}{key} -H 'Content-Type: application/json' "
        f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}'"""
    )
    warning = exposure_warning(host, api_key)
    if warning:
        print(warning)
    uvicorn.run(build(engines, api_key=api_key), host=host, port=port, log_level="warning", access_log=False)


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What `guide serve` says when it listens beyond this machine with no key."""
    if host in LOOPBACK or api_key:
        return None
    return f"warning: listening on {host}, beyond this machine, without --api-key: anyone who can reach it can use it."
