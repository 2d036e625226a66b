"""The companion's record of calls other programs make to it (User-Agent not guide's, under /v1/), marked theirs in the calls panel.

Read as it passes (relay_trace.Recording: bounded copies, keys redacted) and filed as it starts and when it ends.
The store opens on a thread at the first such call (a companion nobody else calls never opens it); the answer is
never changed or delayed by more than the copy."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guide.client import API_VERSION
from guide.client.internal import USER_AGENT

from .relay_trace import TO_THE_COMPANION, Recording


class TheirCalls:
    """ASGI middleware: a Trace of each call another program makes, filed as it starts and when it ends."""

    def __init__(self, app: ASGIApp, *, secrets: list[str] | None = None) -> None:
        self.app, self.secrets = app, [secret for secret in secrets or [] if secret]
        self.store: Any = None
        self.opening: asyncio.Task[Any] | None = None
        self.starting: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:200]
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or agent == USER_AGENT or not path.startswith(f"/{API_VERSION}/"):
            await self.app(scope, receive, send)
            return
        auth = headers.get(b"authorization", b"").decode("latin-1")
        host, port = scope.get("server") or ("127.0.0.1", 0)  # where it listens, not a Host header the caller chose
        host = f"[{host}]" if ":" in str(host) else host
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{host}:{port}{path}" + (f"?{query}" if query else "")
        secrets = [*self.secrets, auth.partition(" ")[2]]
        sent = list(scope.get("headers") or [])
        call = Recording(str(scope["method"]), path, url, sent, agent or "(no User-Agent)", secrets, seen_by=TO_THE_COMPANION)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                call.took(message.get("body", b""))
                if not message.get("more_body", False):
                    call.sent()
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.answered(int(message["status"]), list(message.get("headers") or []))
            elif message["type"] == "http.response.body":
                call.gave(message.get("body", b""))
            await send(message)

        self.file_soon(call.trace)
        try:
            await self.app(scope, receiving, sending)
        finally:
            await self.file(call.ended("done" if call.trace.status is not None else "stopped"))

    def file_soon(self, trace: Any) -> None:
        """File a call as it starts: now if the store is open, else once it is (the answer never waits for the store to open)."""
        if self.opening is not None and self.opening.done() and not self.opening.cancelled() and self.opening.exception() is None:
            self.opening.result().save_trace(None, trace)
            return
        filing = asyncio.ensure_future(self.file(trace))
        self.starting.add(filing)  # held until done: the loop keeps only a weak reference to a task
        filing.add_done_callback(self.starting.discard)

    async def file(self, trace: Any) -> None:
        """File a call in the store (opened on a thread the first time); a store that cannot open loses the record, never the call."""
        if self.opening is None:
            from guide.store import Store

            self.opening = asyncio.ensure_future(asyncio.to_thread(Store))
        try:
            store = await self.opening
        except Exception:  # a record of someone else's call is not worth a failed answer
            return
        store.save_trace(None, trace)

    def close(self) -> None:
        """File what is still queued."""
        if self.opening is not None and self.opening.done() and not self.opening.cancelled() and self.opening.exception() is None:
            self.opening.result().close()
