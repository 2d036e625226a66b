"""How the companion makes and sends a reply: whole or streamed, `n` choices one after another, or the model's tool calls;
and what a request asks of its shape beyond the engine's text (an echoed prompt, the usage, shorter vectors)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import struct
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .engines import Engines, Generation, PromptTooLong, count_words
from .limits import TOOLS_REFUSED, Refusal, Slots, need
from .responses import response_events, response_object

Keep = Callable[[dict[str, Any]], None]
"""What keeps a finished Response (for previous_response_id)."""
T = TypeVar("T")


class EngineThreads:
    """Engine work off the event loop, in a bounded pool of threads."""

    def __init__(self, size: int) -> None:
        self.pool = ThreadPoolExecutor(size, thread_name_prefix="guide-engine")

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` on an engine thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, call, *args)

    def later(self, call: Callable[[], Any]) -> None:
        """`call()` on an engine thread, not waited for."""
        try:
            self.pool.submit(call)
        except RuntimeError:  # the pool is shut down: the server is stopping
            pass

    def close(self) -> None:
        """Stop taking work; queued work is dropped."""
        self.pool.shutdown(wait=False, cancel_futures=True)


class Pieces:
    """A generation's pieces, taken one at a time on engine threads, closed once (never while a piece is being made)."""

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.lock = threading.Lock()

    def next(self) -> str | None:
        with self.lock:
            return next(self.source, None)

    def close(self) -> None:
        with self.lock:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()


class SlotStream(StreamingResponse):
    """A streamed reply that gives its slot back when it ends, however it ends (a reader gone included)."""

    def __init__(self, content: AsyncIterator[bytes], slots: Slots, **options: Any) -> None:
        super().__init__(content, **options)
        self.slots = slots
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give()
            aclose = getattr(self.content, "aclose", None)
            if aclose is not None:
                await aclose()


class Replies:
    """Replies made by the engines in the companion's reply slots and threads."""

    def __init__(self, engines: Engines, slots: Slots, threads: EngineThreads) -> None:
        self.engines, self.slots, self.threads = engines, slots, threads

    async def with_tools(self, body: dict[str, Any], messages: list[dict[str, Any]], options: dict[str, Any]) -> Response:
        """A think call that offers tools: the model's engine answers with its function-calling format; the listener says it cannot."""
        engine = self.engines.think
        tools = need(body, "tools", list, "a list of tools")
        if not hasattr(engine, "call_tools"):
            raise Refusal(400, TOOLS_REFUSED, param="tools", code="tools_not_supported")
        wrong = "n" if (body.get("n") or 1) > 1 else "response_format" if "response_format" in options else None
        if wrong:
            raise Refusal(
                400, f"The companion's model cannot honour '{wrong}' in a reply that offers tools: it makes one, in its tool format.", param=wrong
            )
        options.pop("stream", None)
        async with self.slots.held():
            reply = await self.threads.run(engine.call_tools, messages, tools, body.get("tool_choice"), options)
        message = reply["choices"][0]["message"]
        message.pop("function_call", None)  # the deprecated twin of tool_calls
        finish = reply["choices"][0].get("finish_reason") or "stop"
        usage = reply.get("usage")
        if body.get("stream") is not True:
            choice = {"index": 0, "message": {**message, "refusal": None}, "finish_reason": finish, "logprobs": None}
            return JSONResponse({**self.head(True, False), "choices": [choice], "usage": usage})
        base = self.head(True, True)
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        chunks = [{**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
        if wants_usage(body):
            chunks.append({**base, "choices": [], "usage": usage})
        text = "".join(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        return Response(text, media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def answer(
        self, body: dict[str, Any], start: Callable[[int], Generation], *, chat: bool, typed: bool = False, kept: Keep = lambda whole: None
    ) -> Response:
        """The reply (`n` of them, one after another: one engine call at a time), in a slot given back when it is done or its reader goes."""
        self.slots.take()
        handed_over = False
        try:
            generation, pieces, first = await self.begin(start, 0, typed, chat)
            if body.get("stream") is True:
                handed_over = True
                more = lambda: self.threads.run(pieces.next)  # noqa: E731
                close = lambda: self.threads.later(pieces.close)  # noqa: E731
                model = self.engines.think.model_id
                return SlotStream(
                    response_events(body, model, generation, first, more, close, kept)
                    if typed
                    else self.frames(body, start, (generation, pieces, first), chat),
                    self.slots,
                    media_type="text/event-stream",
                    headers={"cache-control": "no-store", "x-accel-buffering": "no"},
                )
            made = [(generation, (first or "") + await self.threads.run(rest, pieces))]
            for index in range(1, 1 if typed else body.get("n") or 1):
                later, later_pieces, later_first = await self.begin(start, index, typed, chat)
                made.append((later, (later_first or "") + await self.threads.run(rest, later_pieces)))
            if typed:
                whole = response_object(body, self.engines.think.model_id, generation, made[0][1])
                kept(whole)
                return JSONResponse(whole)
            return JSONResponse(self.completion(made, chat))
        finally:
            if not handed_over:
                self.slots.give()

    async def begin(self, start: Callable[[int], Generation], index: int, typed: bool, chat: bool) -> tuple[Generation, Pieces, str | None]:
        """Choice `index` started, and its first piece (before the status line: a prompt too long is still a 400)."""
        generation = await self.threads.run(start, index)
        pieces = Pieces(generation.pieces)
        try:
            return generation, pieces, await self.threads.run(pieces.next)
        except PromptTooLong as error:
            raise Refusal(400, str(error), param="input" if typed else "messages" if chat else "prompt", code="context_length_exceeded") from None

    def head(self, chat: bool, chunk: bool) -> dict[str, Any]:
        """What a completion, or each chunk of one, begins with: its id, object, time and model."""
        ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        kind = ("chat.completion.chunk" if chunk else "chat.completion") if chat else "text_completion"
        return {"id": ident, "object": kind, "created": int(time.time()), "model": self.engines.think.model_id}

    def completion(self, made: list[tuple[Generation, str]], chat: bool) -> dict[str, Any]:
        choices = []
        for index, (generation, text) in enumerate(made):
            choice: dict[str, Any] = {"index": index, "finish_reason": generation.finish_reason, "logprobs": None}
            choice.update({"message": {"role": "assistant", "content": text, "refusal": None}} if chat else {"text": text})
            choices.append(choice)
        return {**self.head(chat, False), "choices": choices, "usage": together(made)}

    async def frames(
        self, body: dict[str, Any], start: Callable[[int], Generation], begun: tuple[Generation, Pieces, str | None], chat: bool
    ) -> AsyncIterator[bytes]:
        """The chunks of each of the `n` choices, one choice after another, then the usage (if asked) and [DONE]."""
        base = self.head(chat, True)

        def frame(choices: list[dict[str, Any]], **more: Any) -> bytes:
            return b"data: " + json.dumps({**base, "choices": choices, **more}, ensure_ascii=False).encode() + b"\n\n"

        made: list[tuple[Generation, str]] = []
        generation, pieces, piece = begun
        try:
            for index in range(body.get("n") or 1):
                if index:
                    generation, pieces, piece = await self.begin(start, index, False, chat)
                if chat:
                    yield frame([{"index": index, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])
                while piece is not None:
                    delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
                    yield frame([{"index": index, **delta, "logprobs": None, "finish_reason": None}])
                    piece = await self.threads.run(pieces.next)
                end: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
                yield frame([{"index": index, **end, "logprobs": None, "finish_reason": generation.finish_reason}])
                made.append((generation, ""))
            if wants_usage(body):
                yield frame([], usage=together(made))
        except Exception as error:  # an engine failing mid-reply: say so in the stream, as OpenAI does
            failure = {"error": {"message": f"The engine failed: {error}", "type": "server_error", "param": None, "code": None}}
            yield b"data: " + json.dumps(failure).encode() + b"\n\n"
            return
        finally:
            self.threads.later(pieces.close)  # the engine stops (and lets go of its lock) once its current piece is made
        yield b"data: [DONE]\n\n"


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether a stream should end with a usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def rest(pieces: Pieces) -> str:
    """The rest of a reply, all at once."""
    return "".join(iter(pieces.next, None))


def choice(options: dict[str, Any], index: int) -> dict[str, Any]:
    """The options of the `index`th of n choices: each after the first has a seed of its own, so the choices differ."""
    return options if not index else {**options, "seed": (options.get("seed") or 0) + index}


def echoed(prompt: str, generation: Generation, echo: bool) -> Generation:
    """A completion that begins with its prompt, when `echo` asks for it (the prompt is not counted as made tokens)."""
    if echo and prompt:
        generation.pieces = itertools.chain([prompt], generation.pieces)
    return generation


def together(made: list[tuple[Generation, str]]) -> dict[str, int]:
    """The usage of n choices of one prompt: the prompt counted once, every choice's tokens added up."""
    given = made[0][0].usage.get("prompt_tokens", 0) if made else 0
    out = sum(generation.usage.get("completion_tokens", 0) for generation, _ in made)
    return {"prompt_tokens": given, "completion_tokens": out, "total_tokens": given + out}


def shortened(vector: list[float], dimensions: int | None) -> list[float]:
    """The first `dimensions` of a vector, made unit length again (as OpenAI shortens text-embedding-3's)."""
    if dimensions is None:
        return vector
    if dimensions > len(vector):
        raise Refusal(400, f"'dimensions' is {dimensions}; this model's vectors have {len(vector)}, the most it can give.", param="dimensions")
    cut = vector[:dimensions]
    norm = math.sqrt(sum(x * x for x in cut))
    return [x / norm for x in cut] if norm else cut


def vectors_json(engine: Any, texts: list[str | list[int]], as_base64: bool, dimensions: int | None = None) -> bytes:
    """An embeddings response, made and written a vector at a time (one long json.dumps would hold the GIL)."""
    vectors = [shortened(vector, dimensions) for vector in engine.embed(texts)]
    parts = [b'{"object":"list","model":', json.dumps(engine.model_id).encode(), b',"data":[']
    for i, vector in enumerate(vectors):
        shown = json.dumps(base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector)
        parts.append(b'%s{"object":"embedding","index":%d,"embedding":%s}' % (b"," if i else b"", i, shown.encode()))
    words = sum(count_words(text) if isinstance(text, str) else len(text) for text in texts)
    parts.append(b'],"usage":{"prompt_tokens":%d,"total_tokens":%d}}' % (words, words))
    return b"".join(parts)
