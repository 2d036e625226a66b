"""Running the companion: on a port for `guide serve` (the app starts that as a process of its own, supervise.py, so a
crash of a native engine cannot take it down), or in a background thread (a helper for tests); and its proof route and idle stop."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from guide.client import Gentle

from .engines import Engines, discover
from .identity import PROOF_PATH, proof
from .protocol import CLIENT_TIMEOUT, guarded
from .server import MAX_REPLIES, CompanionApp, build


@dataclass
class Running:
    """A companion serving in this process."""

    url: str
    server: Any
    thread: threading.Thread
    app: CompanionApp

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(5)
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
    """Serve the companion on a free loopback port from a background thread (tests that need an engine of their own)."""
    import uvicorn

    engines = engines or discover(gguf)
    listening = listen("127.0.0.1", 0)  # the socket guide serve listens on, at a free port
    port = listening.getsockname()[1]
    app = build(engines, api_key=api_key, max_replies=max_replies, client_timeout=client_timeout)
    server = uvicorn.Server(config(app, client_timeout))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True, name="guide-companion")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", server, thread, app)


class PortInUse(OSError):
    """Another program listens on the port `guide serve` was asked for."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, made before the banner so a port in use is said in our words, not uvicorn's."""
    import errno

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP, and every
    # accepted one copies this. Without it a stream's first piece waited ~40 ms for the client's delayed ACK.
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if sys.platform != "win32":
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a port in TIME_WAIT is free
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        listening.close()
        if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise PortInUse(error.errno, f"another program is already listening on {host}:{port}") from None
        raise
    listening.set_inheritable(False)
    return listening


def serve(
    host: str,
    port: int,
    *,
    api_key: str | None = None,
    gguf: str | None = None,
    client_timeout: float = CLIENT_TIMEOUT,
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
    log: str | None = None,
    idle_stop: float | None = None,
) -> None:
    """`guide serve`: the companion on a port, until Ctrl-C (or `idle_stop` seconds with no request); PortInUse, before a word,
    when the port is taken."""
    from . import identity
    from .startup_check import check
    from .theirs import TheirCalls
    from .wire_log import WireLog

    listening = listen(host, port)
    identity.write_record(port, starting=True)  # an app that finds the port taken while the model is checked waits for us
    engines, set_aside = check(discover(gguf))
    app = build(engines, api_key=api_key, client_timeout=client_timeout, bound=host, allow_hosts=allow_hosts, allow_origins=allow_origins)
    theirs = TheirCalls(app, secrets=[api_key] if api_key else [])
    logged: Any = WireLog(theirs, full=log == "full", secrets=[api_key] if api_key else []) if log else theirs
    about = {
        "pid": os.getpid(),
        "described": engines.described,
        "kind": engines.kind,
        "model": engines.think.model_id,
        "set_aside": set_aside,
        "key_required": bool(api_key),
    }
    outer = Outer(logged, key=identity.secret(), port=port, about=about)
    if set_aside:
        print(set_aside)
    print(banner(host, port, engines, app.offered, api_key))
    identity.write_record(port, log=str(identity.log_path(port)), idle_stop=idle_stop, **about)
    sys.stdout.flush()
    try:
        idle_server(config(outer, client_timeout), outer, idle_stop).run(sockets=[listening])  # type: ignore[arg-type]
    finally:
        identity.remove_record(port)
        theirs.close()
        app.close()


def banner(host: str, port: int, engines: Engines, offered: list[Gentle], api_key: str | None) -> str:
    """What `guide serve` says as it starts: where, who answers, each endpoint it offers, a curl to try, and any warning."""
    from guide.client import ACTIONS

    shown = f"[{host}]" if ":" in host else host  # the address it listens on: 0.0.0.0 is every one of this machine's
    width = max(len(name) for name in offered)
    lines = [f"guide companion on http://{shown}:{port}  ·  {engines.described}", "offers:"]
    lines += [f"  {name:<{width}}  {ACTIONS[name].endpoint}" for name in offered]
    key = ' -H "Authorization: Bearer $GUIDE_SERVE_KEY"' if api_key else ""
    model = engines.think.model_id
    lines.append(
        f"try:    curl http://{shown}:{port}{ACTIONS[Gentle.think].legacy_path}{key} -H 'Content-Type: application/json' "
        f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}'"""
    )
    return "\n".join(lines)


class Outer:
    """In front of the whole app (before the Host and Origin door): the proof route `GET /guide/companion` (identity.py),
    and the count of requests in flight that the idle stop reads; every other request goes on to `app`."""

    def __init__(self, app: ASGIApp, *, key: bytes, port: int, about: dict[str, Any]) -> None:
        self.app, self.key, self.port, self.about = app, key, port, about
        self.busy = 0
        self.last = time.monotonic()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.busy += 1
        try:
            if scope.get("path") == PROOF_PATH and scope.get("method") == "GET" and from_this_machine(scope):
                await self._prove(scope, send)
            else:
                await self.app(scope, receive, send)
        finally:
            self.busy -= 1
            self.last = time.monotonic()

    async def _prove(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        nonce = (query.get("nonce") or [""])[0][:128]
        body = {"guide_companion": True, **self.about}
        if nonce:
            body["proof"] = proof(self.key, nonce, self.port)
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def idle_for(self) -> float:
        """Seconds since the last request ended (0 while one is being answered)."""
        return 0.0 if self.busy else time.monotonic() - self.last


def from_this_machine(scope: Scope) -> bool:
    """Whether the request comes from loopback, to a loopback name, with no web page behind it: the proof is for the user's
    own app, and the network, a rebinding page or any page at all get the companion's door instead (404, 421, 403)."""
    from .guards import host_name, is_loopback

    client = scope.get("client")
    headers = dict(scope.get("headers") or [])
    name = host_name(headers.get(b"host", b"").decode("latin-1"))
    return client is not None and is_loopback(str(client[0])) and name is not None and is_loopback(name) and b"origin" not in headers


def idle_server(config: Any, outer: Outer, limit: float | None) -> Any:
    """A uvicorn server that stops by itself after `limit` seconds with no request (None: runs until stopped)."""
    import uvicorn

    class IdleServer(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            if limit is not None and outer.idle_for() >= limit:
                print(f"guide companion: no request for {limit:g} s, so it stops (the app starts it again when it needs it).", flush=True)
                return True
            return await super().on_tick(counter)

    return IdleServer(config)
