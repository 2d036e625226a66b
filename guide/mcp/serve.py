"""`guide mcp serve`: guide's own tools (now, calculate, read_file) as an MCP server over stdio, built with the SDK.

read_file reads only the `files` folder inside guide's data folder, exactly as it does for a persona (guide.tools):
another client gets no more reach than guide's own model has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

INSTRUCTIONS = "guide's own tools: the time now, arithmetic, and reading a file the user put in guide's files folder."


def server() -> Any:
    """The MCP server offering guide's bundled tools (an SDK `MCPServer`)."""
    from mcp.server.mcpserver import MCPServer

    import guide
    from guide.tools import BUNDLED

    served = MCPServer("guide", version=guide.__version__, instructions=INSTRUCTIONS)
    for function in BUNDLED.values():
        served.add_tool(_refusing(function))
    return served


def _refusing(function: Callable[..., str]) -> Callable[..., str]:
    """The tool with its refusals (ValueError, in words meant for a model) told to the client as the tool's error: the
    SDK tells a client only "Error executing tool" for any other exception, and writes a traceback."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(function)  # the same name, words and signature: the SDK builds the tool's schema from them
    def run(*args: Any, **kwargs: Any) -> str:
        try:
            return function(*args, **kwargs)
        except ValueError as error:
            raise ToolError(str(error)) from None

    return run


def serve() -> None:
    """Serve on stdin and stdout until the client closes them."""
    server().run("stdio")
