"""MCP servers in the settings: `[mcp.servers.NAME]` tables in config.toml, the shape other clients use.

    [mcp.servers.time]
    command = "uvx"
    args = ["mcp-server-time"]
    env = { TZ = "Europe/Oslo" }   # optional: added to PATH and HOME, the only variables a server gets
    trust = ["get_current_time"]    # optional: tools called without asking ("all" for every tool)

    [mcp.servers.lakes]
    url = "http://127.0.0.1:8000/mcp"

Headless and light: reading these needs no MCP SDK. guide never starts a server these tables do not name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from guide.config import read_file
from guide.locations import settings_file, write_private

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A server's name, matched whole: it is a TOML key, a persona's `mcp:NAME`, and part of a tool's name for the model."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KNOWN = ("command", "args", "url", "env", "trust")


@dataclass(frozen=True)
class Server:
    """One MCP server the user named: a program to start (command, args) or an address (url)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Variables the server gets besides PATH and HOME."""
    trust: tuple[str, ...] | Literal["all"] = ()
    """Tools called without asking first."""

    def trusts(self, tool: str) -> bool:
        """Whether the settings say this tool runs without asking."""
        return self.trust == "all" or tool in self.trust

    def where(self) -> str:
        """How the server is reached, in one phrase: its command line or its address."""
        if self.url:
            return self.url
        return " ".join([self.command or "", *self.args])

    def to_table(self) -> dict[str, Any]:
        """The server as it is kept in config.toml."""
        table: dict[str, Any] = {"url": self.url} if self.url else {"command": self.command, "args": list(self.args)}
        if self.env:
            table["env"] = dict(self.env)
        if self.trust:
            table["trust"] = self.trust if self.trust == "all" else list(self.trust)
        return table


def _server(name: str, table: Any) -> Server | str:
    """A server from its table, or why it cannot be one."""
    if not NAME_PATTERN.fullmatch(name):
        return f"'{name}' is not a server name (letters, digits, - or _, at most 64)."
    if not isinstance(table, dict):
        return f"mcp.servers.{name} should be a table."
    unknown = sorted(set(table) - set(KNOWN))
    if unknown:
        return f"mcp.servers.{name}: there is no key '{unknown[0]}' (known: {', '.join(KNOWN)})."
    command, url = table.get("command"), table.get("url")
    args, env, trust = table.get("args", []), table.get("env", {}), table.get("trust", [])
    if (command is None) == (url is None):
        return f"mcp.servers.{name} needs either command (a program to start) or url (an address), not both."
    if command is not None and (not isinstance(command, str) or not command.strip()):
        return f"mcp.servers.{name}: command should be the program to start, as text."
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        return f"mcp.servers.{name}: url should be an http:// or https:// address."
    if url is not None and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        return f"mcp.servers.{name}: the url carries a user and password (user:password@), and guide never keeps secrets in its settings."
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        return f"mcp.servers.{name}: args should be a list of text."
    if not isinstance(env, dict) or not all(ENV_NAME.fullmatch(k) and isinstance(v, str) for k, v in env.items()):
        return f"mcp.servers.{name}: env should be a table of variable names and text values."
    if trust != "all" and (not isinstance(trust, list) or not all(isinstance(tool, str) for tool in trust)):
        return f'mcp.servers.{name}: trust should be a list of tool names, or "all".'
    return Server(name, command, tuple(args), url, dict(env), "all" if trust == "all" else tuple(trust))


@dataclass(frozen=True)
class Servers:
    """The servers in the settings, by name, and what could not be read."""

    servers: dict[str, Server]
    problems: list[str]


def load(path: Path | None = None) -> Servers:
    """The `[mcp.servers.*]` tables in the settings file; a table that is wrong is named in problems and left out."""
    table, problem = read_file(path)
    problems = [problem] if problem else []
    found: dict[str, Server] = {}
    section = table.get("mcp", {})
    servers = section.get("servers", {}) if isinstance(section, dict) else None
    if not isinstance(servers, dict):
        return Servers({}, [*problems, "mcp.servers should be a table of servers."])
    for name, entry in servers.items():
        server = _server(name, entry)
        if isinstance(server, str):
            problems.append(server)
        else:
            found[name] = server
    return Servers(found, problems)


def add(server: Server, path: Path | None = None) -> None:
    """Keep a server in the settings file (replacing one of the same name), every other key as it was; a file that cannot
    be read is never overwritten (ValueError says why)."""
    checked = _server(server.name, server.to_table())
    if isinstance(checked, str):
        raise ValueError(checked)
    path = path or settings_file()
    table, problem = read_file(path)
    if problem:
        raise ValueError(f"{problem} Fix it first: guide does not overwrite a settings file it cannot read.")
    section = table.setdefault("mcp", {})
    if not isinstance(section, dict) or not isinstance(section.setdefault("servers", {}), dict):
        raise ValueError(f"{path}: mcp.servers is not a table; fix it first.")
    section["servers"][server.name] = server.to_table()
    import tomli_w  # only when writing: launch stays light

    write_private(path, tomli_w.dumps(table))


def tool_name_problem(name: str) -> str | None:
    """Why a persona's `mcp:NAME` or `mcp:NAME/TOOL` is not one, or None when it is (the server itself is looked up when it is used)."""
    server, _, tool = name.removeprefix("mcp:").partition("/")
    if not NAME_PATTERN.fullmatch(server):
        return f"{name!r} should be mcp:SERVER or mcp:SERVER/TOOL, with the server's name from the settings"
    if "/" in name.removeprefix("mcp:") and not re.fullmatch(r"[^\x00-\x20\x7f/]{1,128}", tool):
        return f"{name!r} should name one tool after the slash: mcp:{server}/TOOL"
    return None
