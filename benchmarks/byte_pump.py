"""The least a relay in Python can cost: bytes copied between two loopback connections by asyncio, read and parsed by nothing.

    python benchmarks/byte_pump.py UPSTREAM_PORT   (prints its own port, serves until killed)

benchmarks/relay.py times a stream through it as the lower bound for the relay's figures: one more loopback hop, on this machine.
"""

from __future__ import annotations

import asyncio
import sys


async def pump(upstream_port: int) -> None:
    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(256 * 1024):
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(pump(int(sys.argv[1])))
