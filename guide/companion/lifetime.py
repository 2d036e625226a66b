"""The companion as a process of its own: who it is, how long it has been idle, and when it stops by itself.

`Outer` sits in front of the whole app (before the Host and Origin door):
it answers `GET /guide/companion` with the proof that this is the user's own
companion (identity.py), and counts requests in flight so that a companion
the app started can stop after a while with none (`IdleServer`).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from .identity import PROOF_PATH, proof


class Outer:
    """The proof route, and the clock the idle stop reads; every other request goes on to `app`."""

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
    """Whether the request comes from loopback, addressed to a loopback name, with no web page behind it.

    The proof is for the user's own app: the network, a rebinding page and any
    page at all get the companion's door instead (404, 421, 403).
    """
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
