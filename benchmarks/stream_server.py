"""A loopback server that streams one chat reply of N chunks as fast as it can (or, on /v1/responses, N typed events).

Run as a separate process so that the client being measured has its own core:
    python benchmarks/stream_server.py 20000 [whole]   (prints the port, serves until killed)

By default the body goes out 16 KB at a time, waiting for each to drain; with
`whole`, the whole body goes out in one write, so the client's own time is
the whole of what is measured (a slow server dilutes it).
"""

from __future__ import annotations

import asyncio
import json
import sys


def reply_body(chunks: int) -> bytes:
    """The SSE body: N content chunks, a finish chunk, a usage chunk, [DONE]."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
    frames = []
    for i in range(chunks):
        piece = f"w{i} " if i % 40 else f"\n\nParagraph {i // 40}. "
        frames.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    frames.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    frames.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": chunks + 5}})
    text = "".join(f"data: {json.dumps(frame, separators=(',', ':'))}\n\n" for frame in frames) + "data: [DONE]\n\n"
    return text.encode()


def events_body(chunks: int) -> bytes:
    """The Responses API's SSE body: response.created, N output_text deltas, response.completed; each with its event line."""
    response = {"id": "resp_bench", "object": "response", "created_at": 0, "status": "in_progress", "model": "bench", "output": []}
    events: list[dict[str, object]] = [{"type": "response.created", "response": response}]
    for i in range(chunks):
        piece = f"w{i} " if i % 40 else f"\n\nParagraph {i // 40}. "
        events.append({"type": "response.output_text.delta", "item_id": "msg_bench", "output_index": 0, "content_index": 0, "delta": piece})
    usage = {"input_tokens": 5, "output_tokens": chunks, "total_tokens": chunks + 5}
    events.append({"type": "response.completed", "response": {**response, "status": "completed", "usage": usage}})
    text = ""
    for number, event in enumerate(events):
        event["sequence_number"] = number
        text += f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
    return text.encode()


MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "created": 0, "owned_by": "bench"}]}).encode()
MODELS_REPLY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(MODELS) + MODELS
"""The catalog every benchmark server answers with: one model, `bench`."""


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP request from the connection: its head (request line and headers) returned, its body read past."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    if length:
        await reader.readexactly(length)
    return head


def expected_text(chunks: int) -> str:
    """The reply's text, for checking that nothing was lost."""
    return "".join(f"w{i} " if i % 40 else f"\n\nParagraph {i // 40}. " for i in range(chunks))


async def serve(chunks: int, whole: bool) -> None:
    bodies = {b"chat": reply_body(chunks), b"responses": events_body(chunks)}
    heads = {kind: b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % len(body) for kind, body in bodies.items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request.startswith(b"GET"):
                    writer.write(MODELS_REPLY)
                else:
                    kind = b"responses" if request.split(b" ", 2)[1].endswith(b"/responses") else b"chat"
                    head, body = heads[kind], bodies[kind]
                    writer.write(head)
                    if whole:
                        writer.write(body)
                    for start in range(0, len(body) if not whole else 0, 16384):
                        writer.write(body[start : start + 16384])
                        await writer.drain()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 20000, sys.argv[2:] == ["whole"]))
