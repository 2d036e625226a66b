"""`guide mcp serve`: guide's own tools (now, calculate, read_file) as an MCP server over stdio, built with the SDK.

read_file reads only the `files` folder inside guide's data folder, exactly as it does for a persona (guide.tools):
another client gets no more reach than guide's own model has.
"""

from __future__ import annotations

from typing import Any

INSTRUCTIONS = "guide's own tools: the time now, arithmetic, and reading a file the user put in guide's files folder."


def server() -> Any:
    """The MCP server offering guide's bundled tools (an SDK `MCPServer`)."""
    from mcp.server.mcpserver import MCPServer

    import guide
    from guide.tools import BUNDLED

    served = MCPServer(
        "guide",
        version=guide.__version__,
        instructions=INSTRUCTIONS,
    )
    for function in BUNDLED.values():
        served.add_tool(function)
    return served


def serve() -> None:
    """Serve on stdin and stdout until the client closes them."""
    server().run("stdio")
