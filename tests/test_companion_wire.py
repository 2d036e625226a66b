"""The companion's connections send each piece of a stream at once: Nagle's algorithm is off on every one it accepts."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from guide.companion.running import listen


def test_every_connection_the_companion_accepts_has_nagle_off() -> None:
    # asyncio turns TCP_NODELAY on only for sockets that say they are TCP; the listening socket said protocol 0, so every
    # stream's first piece waited ~40 ms for the client's delayed ACK (SmolLM2's time to first token: 0.10 s, not 0.06 s).
    listening = listen("127.0.0.1", 0)
    port = listening.getsockname()[1]

    async def accept_one() -> int:
        accepted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        class Capture(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                accepted.set_result(transport)

        server = await asyncio.get_running_loop().create_server(Capture, sock=listening)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            transport = await asyncio.wait_for(accepted, 5)
            nodelay = transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.close()
            transport.close()
            return int(nodelay)
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accept_one()) != 0
