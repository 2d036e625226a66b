"""AsyncGuide: the asynchronous driver, for the TUI. A thin layer of I/O over the core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, aclosing, nullcontext
from functools import partial
from typing import Any

import httpx

from ._address import redact_url
from ._core import MAX_REPLY, PROBE_POOL, PROBE_READ, GuideCore, describe
from ._errors import GuideError
from ._map import ACTIONS, Gentle
from ._pictures import PictureInput, prepare
from ._providers import Finding, confirmed, failed_on_probe
from ._reply import AsyncReply
from ._requests import AudioInput, Call, Messages, empty, minimal
from ._responses import Kind, parse_answer, parse_catalog, parse_pictures, parse_transcript, parse_vectors, parse_verdict
from ._results import Answer, Catalog, Picture, Sound, Transcript, Vector, Vectors, Verdict
from ._tools import BeforeTool, Toolbox, ToolInput
from ._trace import Trace

READ_AT_ONCE = 8192
"""Characters of a stream read before the loop is let go: one read of 64 KB can hold 3,000 tiny events, 100 ms of work or more."""


class AsyncGuide(GuideCore[httpx.AsyncBaseTransport, httpx.AsyncClient]):
    """The gentle actions over HTTP, for asyncio.

    ai = AsyncGuide(base_url="http://127.0.0.1:8080")
    reply = await ai.think("Hello, guide.")
    async for piece in ai.think("Tell me more.", stream=True): ...
    """

    def _client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, verify=self._ssl, timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncGuide:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # The gentle actions.

    def think(
        self,
        messages: Messages,
        *,
        system: str | None = None,
        model: str | None = None,
        stream: bool = False,
        images: Sequence[PictureInput] | None = None,
        tools: Sequence[ToolInput] | None = None,
        run_tools: bool = False,
        before_tool: BeforeTool | None = None,
        **options: Any,
    ) -> AsyncReply:
        """Chat completions: you offer context; it reflects and responds.

        `images`, `tools` and `run_tools` as for `Guide.think`. Pictures are read and made smaller off the event loop. With `run_tools`,
        iterating streams every round (`parts()` also yields ("tool", …) as each call is answered); plain functions run in a worker thread,
        async ones on this loop; `before_tool(call)` is awaited before each call runs (True runs it; False or a text does not, and the model
        reads why). The reply ends as the last round's answer, the rounds before it in `reply.rounds`.
        """
        toolbox = Toolbox(tools) if tools else None
        shown = {"images": list(images) if images else None, "tools": list(tools) if tools else None, "run_tools": run_tools or None}

        async def start(reply: AsyncReply) -> AsyncIterator[None]:
            name, notes = await self._model(model)
            pictures = await asyncio.to_thread(lambda: [prepare(image) for image in images or ()]) if images else []
            call = self.plan_think(messages, system, name, model, stream, options, notes, pictures=pictures, toolbox=toolbox, asked_with=shown)
            if run_tools and toolbox is not None:
                async with aclosing(self._until_answered(call, reply, toolbox, before_tool)) as rounds:
                    async for _ in rounds:
                        yield
                return
            # aclosing: closing the reply must close the HTTP stream now, not when GC gets to it.
            async with aclosing(self._answer(call, "chat", reply)) as answer:
                async for _ in answer:
                    yield

        return AsyncReply(start)

    async def _until_answered(self, call: Call, reply: AsyncReply, toolbox: Toolbox, before_tool: BeforeTool | None) -> AsyncGenerator[None, None]:
        """Round trips until the model answers in words, each streamed into `reply` (its answer then is the round's own)."""
        while True:
            async with aclosing(self._answer(call, "chat", reply)) as answer:
                async for _ in answer:
                    yield
            yield  # the round's last pieces are read before the next round's answer takes its place
            count = len(reply.rounds) + 1
            calls = self.tools_asked(call, reply, count)
            if not calls:
                return
            results = await toolbox.aanswers(calls, before_tool)
            reply.tools_used += zip(calls, results)
            reply.rounds.append(AsyncReply.finished(reply.answer, reply.trace))
            reply.answer = Answer()
            yield
            call = self.round_after(call, reply.rounds[-1], calls, results, count)

    def continue_(self, prompt: str, *, model: str | None = None, stream: bool = False, **options: Any) -> AsyncReply:
        """Completions: you begin a thought; it carries it forward."""
        return self._reply("completion", model, lambda name, notes: self.plan_continue(prompt, name, model, stream, options, notes))

    def revise(self, text: str, instruction: str, *, model: str | None = None, **options: Any) -> AsyncReply:
        """Edits: you hand it words and a wish; it gives them back changed (retired at OpenAI; LocalAI still serves it)."""
        return self._reply("completion", model, lambda name, notes: self.plan_revise(text, instruction, name, model, options, notes))

    def respond(
        self, input: Messages, *, instructions: str | None = None, model: str | None = None, stream: bool = False, **options: Any
    ) -> AsyncReply:
        """Responses: like think, but the reply is output items, streamed as typed events (`reply.trace.events()`)."""
        return self._reply("response", model, lambda name, notes: self.plan_respond(input, instructions, name, model, stream, options, notes))

    def _reply(self, kind: Kind, model: str | None, plan: Callable[[str, tuple[str, ...]], Call]) -> AsyncReply:
        """A reply read as `kind`, its call planned once the model is known: nothing is sent until it is awaited or iterated."""

        async def start(reply: AsyncReply) -> AsyncIterator[None]:
            name, notes = await self._model(model)
            async with aclosing(self._answer(plan(name, notes), kind, reply)) as answer:
                async for _ in answer:
                    yield

        return AsyncReply(start)

    async def understand(self, text: str | Sequence[str], *, model: str | None = None) -> Vector | Vectors:
        """Embeddings: one vector for a string, a list of vectors for a list."""
        name, notes = await self._model(model)
        trace, parsed = await self._exchange(self.plan_understand(text, name, model, notes))
        result, note = self.parsed(trace, parse_vectors, parsed, single=isinstance(text, str))
        return self.with_trace(result, trace, note)  # type: ignore[no-any-return]

    async def imagine(self, prompt: str, *, model: str | None = None, size: str | None = None, n: int = 1) -> Picture | list[Picture]:
        """Image generations: words become vision (one Picture, or a list for n > 1)."""
        trace, parsed = await self._exchange(self.plan_imagine(prompt, model, size, n))
        pictures = [
            self.picture(data if data is not None else await self._download(trace, url or ""), url, revised, trace)
            for data, url, revised in self.parsed(trace, parse_pictures, parsed)
        ]
        return pictures[0] if n == 1 and len(pictures) == 1 else pictures

    async def speak(self, text: str, *, voice: str = "alloy", model: str | None = None, format: str | None = None) -> Sound:
        """Speech: words become sound."""
        name, notes = await self._model(model)
        trace, data = await self._exchange(self.plan_speak(text, voice, name, model, format, notes), binary=True)
        return self.sound(data, trace, format)

    async def listen(self, audio: AudioInput, *, model: str | None = None, language: str | None = None) -> Transcript:
        """Transcriptions: sound becomes words."""
        return await self._transcribe(Gentle.listen, audio, model, language)

    async def interpret(self, audio: AudioInput, *, model: str | None = None) -> Transcript:
        """Translations: speech in any tongue becomes English words."""
        return await self._transcribe(Gentle.interpret, audio, model, None)

    async def catalog(self) -> Catalog:
        """Models: who is here to help."""
        trace, parsed = await self._exchange(self.plan_catalog())
        return self.with_trace(self.parsed(trace, parse_catalog, parsed), trace)  # type: ignore[no-any-return]

    async def discern(self, text: str, *, model: str | None = None) -> Verdict:
        """Moderations: is this safe to say?"""
        trace, parsed = await self._exchange(self.plan_discern(text, model))
        return self.with_trace(self.parsed(trace, parse_verdict, parsed), trace)  # type: ignore[no-any-return]

    async def replay(self, action: Gentle, body: dict[str, Any]) -> Trace:
        """Send `action`'s request with this JSON body, exactly as written, and give back its trace.

        The call detail's replay with edits: traced, retried and checked like
        any call of that action (a failure raises, its trace on the error).
        """
        call = self.plan_replay(action, body)
        kind = ACTIONS[action].reads
        if kind is not None:
            reply = await AsyncReply(partial(self._answer, call, kind))
            assert reply.trace is not None
            return reply.trace
        trace, _ = await self._exchange(call, binary=ACTIONS[action].sound)
        return trace

    async def probe(self) -> dict[str, Finding]:
        """Which of the gentle actions this server offers, spending no tokens."""
        async with self._probe_pool() as http:
            found: dict[str, Finding] = {
                f.action: f for f in await asyncio.gather(*(self._probe(http, empty(row, self._base)) for row in ACTIONS.values()))
            }
            again = {name: call for name, f in found.items() if failed_on_probe(f) and (call := minimal(ACTIONS[f.action], self._base, self.model))}
            for name, call in again.items():  # one at a time: a server that generates serves one request at once
                found[name] = confirmed(found[name], await self._probe(http, call))
        return found

    async def probe_pictures(self, *, model: str | None = None) -> Finding:
        """Whether the model takes pictures: one think call with a single pixel and max_tokens 1 (it spends a token or two)."""
        name, _ = await self._model(model)
        try:
            await self._exchange(self.plan_picture_probe(name))
        except GuideError as error:
            return self.picture_finding(error)
        return self.picture_finding(None)

    # The I/O.

    async def _model(self, asked: str | None) -> tuple[str, tuple[str, ...]]:
        chosen = self.chosen_model(asked)
        return (chosen, ()) if chosen else self.first_listed(await self.catalog())

    async def _transcribe(self, action: Gentle, audio: AudioInput, model: str | None, language: str | None) -> Transcript:
        name, notes = await self._model(model)
        trace, body = await self._exchange(self.plan_transcribe(action, audio, name, model, language, notes), binary=True)
        return self.with_trace(self.parsed(trace, parse_transcript, body), trace)  # type: ignore[no-any-return]

    async def _open(self, call: Call, trace: Trace, started: float) -> httpx.Response:
        """Send the call, retrying as the official SDK does; the answer is open."""
        sent = self.request_args(call)
        attempt = 0
        while True:
            try:
                request = self._http.build_request(**sent)
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                await asyncio.sleep(self.after_failure(trace, exc, attempt))
            else:
                received = dict(response.headers)
                delay = self.after_status(trace, response.status_code, received, attempt) if response.status_code >= 400 else None
                if delay is None:
                    self.received(trace, response.status_code, received, started)
                    if response.status_code >= 400:
                        raise self.error_status(trace, await self._read(response, trace, started), started)
                    if 300 <= response.status_code < 400:
                        raise self.redirected(trace, await self._read(response, trace, started), started)
                    return response
                await response.aclose()
                await asyncio.sleep(delay)
            attempt += 1

    async def _read(self, response: httpx.Response, trace: Trace, started: float) -> bytes:
        """The whole body, up to MAX_REPLY (counted as it is inflated: a gzip bomb stops there)."""
        try:
            if self.declared_too_large(response.headers):
                raise self.too_large(trace, started)
            body = bytearray()
            async for part in response.aiter_bytes():
                body += part
                if len(body) > MAX_REPLY:
                    raise self.too_large(trace, started)
            return bytes(body)
        except httpx.HTTPError as exc:
            raise self.broke_off(trace, exc, "", started) from None
        finally:
            await response.aclose()

    async def _exchange(self, call: Call, *, binary: bool = False) -> tuple[Trace, Any]:
        trace = self.begin(call)
        started = time.perf_counter()
        response = await self._open(call, trace, started)
        return trace, self.finish(trace, await self._read(response, trace, started), started, binary=binary)

    async def _answer(self, call: Call, kind: Kind, reply: AsyncReply) -> AsyncGenerator[None, None]:
        if not call.stream:
            trace, parsed = await self._exchange(call)
            reply.trace = trace
            reply.answer = self.parsed(trace, parse_answer, kind, parsed)
            return
        trace = reply.trace = self.begin(call)
        started = time.perf_counter()
        answer = reply.answer
        reader = self.reader(kind, answer, trace, started)
        response = await self._open(call, trace, started)
        if self.answered_whole(response.headers):
            self.unstreamed(trace, kind, answer, await self._read(response, trace, started), started)
            return
        thought = 0
        try:
            async for text in response.aiter_text():
                for start in range(0, len(text), READ_AT_ONCE):
                    if start:
                        await asyncio.sleep(0)  # the loop is let go between slices of a long read
                    if reader.feed(text[start : start + READ_AT_ONCE]) or len(answer.reasoning) != thought:
                        thought = len(answer.reasoning)  # reasoning arrives before the answer: it is news too
                        yield
                    if reader.due():
                        self.emit(trace)  # how the stream is going: subscribers update a live row from this
            reader.finish()
        except (GeneratorExit, asyncio.CancelledError):
            answer.stopped = True
            self.end(trace, started, "stopped")
            raise
        except GuideError as error:
            raise self.fail(trace, error, started) from None
        except httpx.HTTPError as exc:
            raise self.broke_off(trace, exc, reader.partial(), started) from None
        finally:
            await response.aclose()
        self.answer_usage(trace, answer)
        self.end(trace, started)

    async def _download(self, trace: Trace, url: str) -> bytes:
        self.check_download(trace, url)
        try:
            async with self._http.stream("GET", url) as response:
                response.raise_for_status()
                body = bytearray()
                async for part in response.aiter_bytes():
                    body += part
                    if len(body) > MAX_REPLY:
                        raise self.too_large(trace, time.perf_counter())
        except httpx.HTTPError as exc:
            raise self.download_failed(trace, describe(exc)) from None
        trace.notes.append(f"The image was fetched from {redact_url(url)}.")
        return bytes(body)

    def _probe_pool(self) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """Where probes go: a pool that keeps no connection alive (a custom transport is the caller's, and used as it is)."""
        if self._custom:
            return nullcontext(self._http)
        return httpx.AsyncClient(verify=self._ssl, limits=PROBE_POOL, timeout=self._probe_timeout)

    async def _probe(self, http: httpx.AsyncClient, call: Call) -> Finding:
        trace = self.begin(call)
        started = time.perf_counter()
        try:
            request = http.build_request(**self.request_args(call), timeout=self._probe_timeout)
            response = await http.send(request, stream=True)
            try:
                body = b""
                async for part in response.aiter_bytes():
                    body += part
                    if len(body) >= PROBE_READ:  # enough to judge by; a server cannot make a probe read more
                        break
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            return self.probe_unanswered(call, trace, started, exc)
        return self.probe_answered(call, trace, started, response.status_code, dict(response.headers), body[:PROBE_READ])
