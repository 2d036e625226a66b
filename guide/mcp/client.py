"""Talking to MCP servers through the official SDK (`guide-chat[mcp]`, imported when a server is first used), each exchange recorded whole.

A server starts on its first use, never at launch and never on the UI loop: every connection lives on the hub's own
event loop, in a thread, and callers on any loop await it. A server gets only PATH, HOME and the env its settings
give (it is started through `env -i`, so nothing of guide's, a key least of all, reaches it); what it writes on stderr
is kept (its end goes with a failure: often the reason), never shown on the terminal. Everything that can go wrong
(it will not start, dies, hangs past the deadline, writes garbage, answers with an error) ends the call as an `McpCall`
whose `error` is one line: nothing raises out of `Hub.call`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

from guide.safe_text import one_line

from .record import McpCall
from .settings import Server

DEADLINE = 30.0
"""Seconds a server has to start, and then to answer each call."""
STDERR_TAIL = 600
"""Characters of a failed server's stderr kept with the record."""
STDERR_KEPT = 16_384
"""Bytes of a server's stderr held while it runs (the newest): a chatty or hostile server never fills memory or disk."""
INSTALL = "MCP needs the mcp extra: pip install 'guide-chat[mcp]'."
_T = TypeVar("_T")


class McpMissing(RuntimeError):
    """The MCP SDK is not installed."""


def sdk_installed() -> bool:
    """Whether the MCP SDK can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("mcp") is not None
    except (ImportError, ValueError):  # a module of that name that is half there, or blocked
        return False


@dataclass(frozen=True)
class ToolInfo:
    """A tool a server offers: its name, what it says it does, and its arguments' JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


class _Around:
    """Something of the SDK's, wrapped: what is not recorded passes through to it as it is."""

    def __init__(self, inner: Any, connection: _Connection) -> None:
        self.inner, self.connection = inner, connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def __aenter__(self) -> Any:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self.inner.__aexit__(*exc)  # type: ignore[no-any-return]


class _Tap(_Around):
    """The SDK's transport with every message both ways recorded into the call in progress (the wire, shown whole)."""

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self.inner.__aenter__()
        return _TapRead(read, self.connection), _TapWrite(write, self.connection)


def _plain(item: Any) -> dict[str, Any]:
    if isinstance(item, Exception):
        return {"unreadable": one_line(str(item))[:500]}
    return item.message.model_dump(mode="json", by_alias=True, exclude_unset=True)  # type: ignore[no-any-return]


class _TapRead(_Around):
    async def receive(self) -> Any:
        item = await self.inner.receive()
        self.connection.heard(item)
        return item

    def __aiter__(self) -> _TapRead:
        return self

    async def __anext__(self) -> Any:
        item = await self.inner.__anext__()
        self.connection.heard(item)
        return item


class _TapWrite(_Around):
    async def send(self, item: Any, /) -> None:
        self.connection.said(item)
        await self.inner.send(item)


def environment(server: Server) -> dict[str, str]:
    """All a started server gets: PATH, HOME (servers started by npx or uvx need it) and the settings' env."""
    return {"PATH": os.environ.get("PATH") or os.defpath, "HOME": os.environ.get("HOME") or str(Path.home()), **server.env}


class _Connection:
    """One server, on the hub's loop: started when first needed, its calls one at a time, started again after it fails."""

    def __init__(self, server: Server, deadline: float) -> None:
        self.server, self.deadline = server, deadline
        self.client: Any = None
        self.owner: asyncio.Task[None] | None = None
        self.closing = asyncio.Event()
        self.lock = asyncio.Lock()
        self.current: McpCall | None = None
        self.stderr: StderrTail | None = None
        self.unreadable = ""

    def heard(self, item: Any) -> None:
        plain = _plain(item)
        if "unreadable" in plain and not self.unreadable:
            self.unreadable = plain["unreadable"]
        if self.current is not None:
            self.current.keep("received", plain)

    def said(self, item: Any) -> None:
        if self.current is not None:
            self.current.keep("sent", _plain(item))

    def _transport(self) -> Any:
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if self.server.url:
            return _Tap(streamable_http_client(self.server.url), self)
        command = self.server.command or ""
        env = environment(self.server)
        if shutil.which(command, path=env["PATH"]) is None:
            raise _Failed(f"the command {command!r} is not found on the PATH, so the server could not start")
        self.stderr = StderrTail()
        launcher = shutil.which("env") or "/usr/bin/env"
        # env -i: the server's environment is exactly what is listed here, not guide's (the SDK's own default passes more).
        arguments = ["-i", *(f"{name}={value}" for name, value in env.items()), command, *self.server.args]
        return _Tap(stdio_client(StdioServerParameters(command=launcher, args=arguments), errlog=self.stderr.file), self)

    def stderr_tail(self) -> str:
        return self.stderr.tail()[-STDERR_TAIL:] if self.stderr is not None else ""

    async def _own(self, ready: asyncio.Future[None]) -> None:
        """Hold the SDK's client open (entered and left in this one task, as anyio asks) until closed."""
        from mcp import Client, Implementation

        import guide

        try:
            me = Implementation(name="guide", version=guide.__version__)
            async with Client(self._transport(), read_timeout_seconds=self.deadline, client_info=me) as client:
                self.client = client
                if not ready.done():
                    ready.set_result(None)
                await self.closing.wait()
        except BaseException as error:  # whatever ends the client is the start's failure, or the connection's end
            if not ready.done():
                ready.set_exception(error if isinstance(error, Exception) else _Failed("the server was stopped"))
            if not isinstance(error, Exception):
                raise
        finally:
            self.client = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self.closing = asyncio.Event()
        self.unreadable = ""
        self.owner = loop.create_task(self._own(ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.deadline)
        except BaseException:
            ready.cancel()  # nobody waits for it now
            await self.stop()
            raise

    async def stop(self) -> None:
        self.closing.set()
        owner, self.owner = self.owner, None
        if owner is not None and self.client is None:
            owner.cancel()  # still starting (stuck in the handshake, perhaps): nothing to close politely
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(owner, 10)  # the SDK closes stdin, waits, then kills the server's process group
            except BaseException:  # a stop that fails leaves nothing more to do
                owner.cancel()
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None

    async def run(self, record: McpCall, work: Callable[[Any], Coroutine[Any, Any, _T]]) -> _T | None:
        """Do one request on this server (starting it if need be), recorded into `record`; None when it failed (record.error says why)."""
        async with self.lock:
            self.current = record
            try:
                if self.client is None:
                    began = time.monotonic()
                    await self.start()
                    record.start_ms = round((time.monotonic() - began) * 1000, 1)
                return await asyncio.wait_for(work(self.client), self.deadline)
            except Exception as error:  # the SDK's, anyio's, a timeout, or ours: one calm line, and a fresh start next time
                record.stderr_tail = self.stderr_tail()
                record.end("failed", self.explain(error))
                await self.stop()
                return None
            finally:
                self.current = None

    def explain(self, error: BaseException) -> str:
        """Why a request failed, in one line a person can act on."""
        name = self.server.name
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED
        from pydantic import ValidationError

        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if isinstance(error, _Failed):
            why = str(error)
        elif self.unreadable:
            why = "the server wrote lines that are not MCP's JSON-RPC (is the command an MCP server?)"
        elif isinstance(error, TimeoutError):
            why = f"no answer within {self.deadline:g} s (the server may be stuck), so it was stopped"
        elif isinstance(error, MCPError) and error.code == CONNECTION_CLOSED:
            why = "the server closed the connection (it may have stopped)"
        elif isinstance(error, MCPError):
            why = f"the server answered with an error: {error}"
        elif isinstance(error, ValidationError):
            why = "the server's answer is not a valid MCP result"
        elif type(error).__name__ in ("ConnectError", "ConnectTimeout"):
            why = f"nothing answers at {self.server.url}"
        elif isinstance(error, OSError):
            why = f"the server could not be started or reached ({error.strerror or error})"
        else:
            why = f"the connection to the server ended ({type(error).__name__}: {error})"
        tail = self.stderr_tail().strip().splitlines()
        said = f"; it said: {tail[-1][:200]}" if tail else ""
        return one_line(f"mcp {name}: {why}{said}")


class StderrTail:
    """A server's stderr through a pipe, read on a thread of its own that keeps only the newest STDERR_KEPT bytes."""

    def __init__(self) -> None:
        readable, writable = os.pipe()
        self.file: TextIO = os.fdopen(writable, "w", encoding="utf-8", errors="replace")
        self._kept = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(readable,), name="mcp-stderr", daemon=True).start()

    def _read(self, readable: int) -> None:
        with open(readable, "rb", buffering=0) as pipe:
            while piece := pipe.read(65_536):
                with self._lock:
                    self._kept += piece
                    del self._kept[:-STDERR_KEPT]

    def tail(self) -> str:
        with self._lock:
            return self._kept.decode("utf-8", "replace")

    def close(self) -> None:
        self.file.close()  # the reader ends when the server's own copy closes too


class _Failed(Exception):
    """A failure guide found itself, said in its own words."""


def _text_of(result: Any) -> tuple[str, list[dict[str, Any]]]:
    """What the model reads from a tool's result, and its content parts as plain data."""
    parts = [part.model_dump(mode="json", by_alias=True, exclude_none=True) for part in result.content]
    pieces: list[str] = []
    for part in parts:
        kind = part.get("type")
        if kind == "text":
            pieces.append(str(part.get("text", "")))
        elif kind in ("image", "audio"):
            pieces.append(f"[{kind} {part.get('mimeType', '')}, {len(str(part.get('data', ''))) * 3 // 4:,} bytes: not shown to the model]")
        elif kind == "resource_link":
            pieces.append(f"[link: {part.get('uri', '')}]")
        elif kind == "resource":
            inner = part.get("resource", {})
            pieces.append(str(inner.get("text")) if "text" in inner else f"[resource: {inner.get('uri', '')}]")
    if not pieces and result.structured_content is not None:
        pieces.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(pieces), parts


class Hub:
    """The MCP servers of this run, each started on first use, on a loop in a thread of their own."""

    def __init__(self, servers: Mapping[str, Server], deadline: float = DEADLINE) -> None:
        self.servers = dict(servers)
        self.deadline = deadline
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[str, _Connection] = {}
        self._started = threading.Lock()

    def _hub_loop(self) -> asyncio.AbstractEventLoop:
        with self._started:
            if self._loop is None:
                if not sdk_installed():
                    raise McpMissing(INSTALL)
                quiet = logging.getLogger("mcp")  # the SDK logs a server's garbage with tracebacks: not for the terminal
                quiet.addHandler(logging.NullHandler())
                quiet.propagate = False
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="guide-mcp", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    async def _there(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run on the hub's loop, awaited from the caller's (cancelling the caller cancels it there)."""
        future = asyncio.run_coroutine_threadsafe(work, self._hub_loop())
        return await asyncio.wrap_future(future)

    def _connection(self, name: str) -> _Connection:
        if name not in self._connections:
            self._connections[name] = _Connection(self.servers[name], self.deadline)
        return self._connections[name]

    def _record(self, server: str, method: str, tool: str = "", arguments: dict[str, Any] | None = None) -> McpCall:
        """The record of a request to this server, already failed when the settings name no such server."""
        known = self.servers.get(server)
        record = McpCall(server, method, tool, known.where() if known else "", dict(arguments or {}))
        if known is None:
            record.end("failed", f"mcp {server}: there is no such server in the settings ([mcp.servers.{server}])")
        return record

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> McpCall:
        """Call a tool; the record says how it went (outcome, result_text, error). Never raises for the server's sake."""
        record = self._record(server, "tools/call", tool, arguments)
        return await self._there(self._call(record, tool, arguments)) if record.outcome == "running" else record

    async def _call(self, record: McpCall, tool: str, arguments: dict[str, Any]) -> McpCall:
        result = await self._connection(record.server).run(record, lambda client: client.call_tool(tool, arguments))
        if result is not None:
            text, parts = _text_of(result)
            record.parts, record.result_text = parts, text
            if result.is_error:
                record.end("error", one_line(f"mcp {record.server}: {tool} answered with an error: {text}")[:500])
            else:
                record.end("ok")
        return record

    async def tools(self, server: str) -> tuple[list[ToolInfo], McpCall]:
        """The tools a server offers (empty when it failed: the record says why)."""
        record = self._record(server, "tools/list")
        return await self._there(self._tools(record)) if record.outcome == "running" else ([], record)

    async def _tools(self, record: McpCall) -> tuple[list[ToolInfo], McpCall]:
        listed = await self._connection(record.server).run(record, lambda client: client.list_tools())
        if listed is None:
            return [], record
        record.end("ok")
        schema = {"type": "object", "properties": {}}
        return [ToolInfo(tool.name, tool.description or "", dict(tool.input_schema or schema)) for tool in listed.tools], record

    def close(self, timeout: float = 15) -> None:
        """Stop every server this hub started (from any thread but the hub's own), and its thread."""
        loop = self._loop
        if loop is None:
            return

        async def stop_all() -> None:
            await asyncio.gather(*(connection.stop() for connection in self._connections.values()), return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop_all(), loop).result(timeout)
        except Exception:  # closing is best effort: the servers' process groups die with guide at worst
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._loop = None

    async def aclose(self) -> None:
        """`close`, from a loop, without blocking it."""
        await asyncio.to_thread(self.close)
