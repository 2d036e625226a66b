"""A persona's MCP tools as `guide.client.Tool`s, each call asked about first, each exchange filed as a call.

A persona names `mcp:SERVER` (all of a server's tools) or `mcp:SERVER/TOOL` (one). The server is listed (tools/list) on
first use; the model sees each tool by its own name (or SERVER_TOOL when two would clash or the name is not one a model
may use). Before an MCP tool runs, `approval` asks (y once, a always in this conversation, n no) unless the settings
trust it; every exchange, listing included, is filed with the conversation as a call (`as_trace`), so the calls panel
shows it and the store keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import settings
from .client import Hub, ToolInfo
from .record import McpCall

if TYPE_CHECKING:
    from guide.client import Tool, ToolCall, Trace
    from guide.client.internal import BeforeTool

FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What the spec allows a function's name to be."""
Ask = Callable[["ToolCall", str, str], Awaitable[str]]
"""Asks the user about a call (the call, its server, the tool's own name): "y" once, "a" always, "" could not ask, anything else no."""
NO_TERMINAL = "The user was not asked (there was no terminal to ask on, and no --yes), so the call was not made."


def as_trace(record: McpCall) -> Trace:
    """The exchange as a call the calls panel shows and the store keeps: the JSON-RPC request and response as its bodies,
    every message both ways as its frames, the server's command line and stderr in its notes."""
    import json

    from guide.client import Trace

    trace = Trace(
        "mcp",
        record.method,
        f"mcp://{record.server}",
        gentle=f"mcp {record.server}: {record.method} {record.tool}".strip(),
        request_body=record.request,
        id=record.id,
        started_at=record.started_at,
        state="failed" if record.outcome == "failed" else "done",
        response_body=record.response,
        frames=[(m["at_ms"], json.dumps({"direction": m["direction"], **m["message"]}, ensure_ascii=False)) for m in record.messages],
        frames_left_out=record.messages_left_out,
        ttfb_ms=record.start_ms,
        total_ms=record.total_ms,
        notes=[f"server: {record.where}"] + ([f"the server's stderr ended: {record.stderr_tail}"] if record.stderr_tail else []),
    )
    if record.error:
        trace.error = {"type": record.outcome, "title": "MCP", "detail": record.error}
    return trace


def exposed(info: ToolInfo, server: str, taken: set[str]) -> str:
    """The name the model calls a tool by: its own, unless that is taken or not a name the spec allows; then SERVER_TOOL,
    numbered when that too is taken (a server may list a tool named as the rename of another: two of one name, and the
    model's call would run the wrong one)."""
    if FUNCTION_NAME.fullmatch(info.name) and info.name not in taken:
        return info.name
    base = re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}_{info.name}")[:64]
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base[: 63 - len(str(number))]}_{number}"
    return name


class McpTools:
    """The MCP servers in the settings, for the conversations of one run (the app's, or one `guide ask`)."""

    def __init__(self, servers: settings.Servers | None = None) -> None:
        self.servers = servers if servers is not None else settings.load()
        self.hub = Hub(self.servers.servers)
        self.listed: dict[str, list[ToolInfo]] = {}
        self.owners: dict[str, tuple[str, str]] = {}
        """The model's name for each MCP tool offered → (server, the tool's own name)."""

    async def tools(self, names: Sequence[str], *, taken: Sequence[str], file: Callable[[Trace], None], say: Callable[[str], None]) -> list[Tool]:
        """The tools these persona names ask for (guide's own are `taken` names); a server that fails is said once, and left out."""
        from guide.client import Tool

        wanted: dict[str, set[str] | None] = {}
        for name in names:
            if not name.startswith("mcp:"):
                continue
            server, _, tool = name.removeprefix("mcp:").partition("/")
            if server not in self.servers.servers:
                say(f"The persona names mcp:{server}, but no server by that name is in the settings ([mcp.servers.{server}]).")
                continue
            chosen = wanted.setdefault(server, set())
            if not tool:
                wanted[server] = None
            elif chosen is not None:
                chosen.add(tool)
        found: list[Tool] = []
        used = set(taken)
        for server, only in wanted.items():
            if server not in self.listed:
                listing, record = await self.hub.tools(server)
                file(as_trace(record))
                if record.outcome != "ok":
                    if record.error:
                        say(record.error)
                    continue
                self.listed[server] = listing
            for info in self.listed[server]:
                if only is not None and info.name not in only:
                    continue
                name = exposed(info, server, used)
                used.add(name)
                self.owners[name] = (server, info.name)
                spec = {"type": "function", "function": {"name": name, "description": info.description[:1024], "parameters": info.parameters}}
                found.append(Tool(spec, self._runner(server, info.name, file, say)))
        return found

    def _runner(
        self, server: str, tool: str, file: Callable[[Trace], None], say: Callable[[str], None]
    ) -> Callable[[dict[str, Any]], Awaitable[str]]:
        async def run(arguments: dict[str, Any]) -> str:
            record = await self.hub.call(server, tool, arguments)
            file(as_trace(record))
            if record.outcome != "ok":
                why = record.error or f"mcp {server}: {tool} gave no answer"
                if record.outcome == "failed":  # the model reads it as the tool's error; the user hears it once, calmly
                    say(why)
                raise McpToolFailed(why)
            return record.result_text

        return run

    def approval(self, ask: Ask, always: set[str]) -> BeforeTool:
        """The hook asked before each tool call: guide's own tools, trusted ones and those in `always` ("SERVER/TOOL", a
        conversation's own set, which an "a" answer adds to) run; others are asked about."""

        async def before(call: ToolCall) -> bool | str:
            owner = self.owners.get(call.name)
            if owner is None:
                return True
            server, tool = owner
            if self.servers.servers[server].trusts(tool) or f"{server}/{tool}" in always:
                return True
            answer = await ask(call, server, tool)
            if not answer:
                return NO_TERMINAL
            if answer == "a":
                always.add(f"{server}/{tool}")
            return answer in ("y", "a")

        return before

    async def aclose(self) -> None:
        """Stop the servers this run started."""
        await self.hub.aclose()


class McpToolFailed(Exception):
    """The server gave no answer, or an error result: the model reads the one line, as for any tool that fails."""


def tools_command(names: Sequence[str], mcp: McpTools | None, off: set[str], argument: str) -> str:
    """/tools [SERVER on|off]: what the persona in force can call, or a server turned on or off for this conversation (`off` changes)."""
    servers = list(dict.fromkeys(name.removeprefix("mcp:").partition("/")[0] for name in names if name.startswith("mcp:")))
    server, _, switch = argument.strip().partition(" ")
    if server:
        if server not in servers or switch.strip() not in ("on", "off"):
            known = ", ".join(servers) or "none: this persona names no mcp: tools"
            return f"Usage: /tools SERVER on|off, for one of this persona's servers ({known})."
        (off.add if switch.strip() == "off" else off.discard)(server)
        return f"mcp:{server} is {switch.strip()} for this conversation."
    own = [name for name in names if not name.startswith("mcp:")]
    lines = [f"guide's own: {', '.join(own)}"] if own else []
    for name in servers:
        where = mcp.servers.servers.get(name) if mcp is not None else None
        if where is None:
            lines.append(f"mcp:{name}: not in the settings ([mcp.servers.{name}])")
            continue
        listed = mcp.listed.get(name) if mcp is not None else None
        shown = ", ".join(tool.name for tool in listed) if listed is not None else "listed when first used"
        state = "off" if name in off else "on"
        lines.append(f"mcp:{name} ({state}{', trusted' if where.trust else ''}): {shown}")
    return "\n".join(lines) or "This persona calls no tools."
