"""Guide: the synchronous driver, for scripts. A thin layer of I/O over the core."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import httpx

from ._address import redact_url
from ._core import MAX_REPLY, PROBE_POOL, PROBE_READ, GuideCore, describe
from ._errors import GuideError
from ._map import ACTIONS, Gentle
from ._pictures import PictureInput, prepare
from ._providers import Finding, confirmed, failed_on_probe
from ._reply import Reply
from ._requests import AudioInput, Call, Messages, empty, minimal
from ._responses import Kind, parse_answer, parse_catalog, parse_pictures, parse_transcript, parse_vectors, parse_verdict
from ._results import Catalog, Picture, Sound, Transcript, Vector, Vectors, Verdict
from ._tools import Decision, Toolbox, ToolCall, ToolInput
from ._trace import Trace


class Guide(GuideCore[httpx.BaseTransport, httpx.Client]):
    """The gentle actions over HTTP, one call at a time.

    ai = Guide(base_url="http://127.0.0.1:8080")
    print(ai.think("Hello, guide."))
    """

    def _client(self, transport: httpx.BaseTransport | None) -> httpx.Client:
        return httpx.Client(transport=transport, verify=self._ssl, timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Guide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        before_tool: Callable[[ToolCall], Decision] | None = None,
        **options: Any,
    ) -> Reply:
        """Chat completions: you offer context; it reflects and responds.

        `images` (paths, bytes or URLs) go with the last user message; `tools` (typed functions or tool dicts) are offered to the model.
        With `run_tools=True` guide runs the functions the reply asks for and sends their answers back, each round trip a call of its own,
        until the model answers in words: the reply returned is that answer, finished, and `reply.rounds` holds the replies that asked for
        tools. `before_tool(call)` is asked before each call runs: True runs it; False or a text does not, and the model reads "The user
        declined this call." or that text.
        """
        name, notes = self._model(model)
        pictures = [prepare(image) for image in images or ()]
        toolbox = Toolbox(tools) if tools else None
        shown = {"images": list(images) if images else None, "tools": list(tools) if tools else None, "run_tools": run_tools or None}
        call = self.plan_think(messages, system, name, model, stream, options, notes, pictures=pictures, toolbox=toolbox, asked_with=shown)
        reply = self._answer(call, "chat")
        if not run_tools or toolbox is None:
            return reply
        rounds: list[Reply] = []
        used: list[tuple[ToolCall, str]] = []
        while True:
            reply.text  # noqa: B018  the whole round, streamed or not
            calls = self.tools_asked(call, reply, len(rounds) + 1)
            if not calls:
                reply.rounds, reply.tools_used = rounds, used
                return reply
            results = toolbox.answers(calls, before_tool)
            used += zip(calls, results)
            following = self.round_after(call, reply, calls, results, len(rounds) + 1)
            rounds.append(reply)
            call, reply = following, self._answer(following, "chat")

    def continue_(self, prompt: str, *, model: str | None = None, stream: bool = False, **options: Any) -> Reply:
        """Completions: you begin a thought; it carries it forward."""
        name, notes = self._model(model)
        call = self.plan_continue(prompt, name, model, stream, options, notes)
        return self._answer(call, "completion")

    def understand(self, text: str | Sequence[str], *, model: str | None = None) -> Vector | Vectors:
        """Embeddings: one vector for a string, a list of vectors for a list."""
        name, notes = self._model(model)
        trace, parsed = self._exchange(self.plan_understand(text, name, model, notes))
        result, note = self.parsed(trace, parse_vectors, parsed, single=isinstance(text, str))
        return self.with_trace(result, trace, note)  # type: ignore[no-any-return]

    def imagine(self, prompt: str, *, model: str | None = None, size: str | None = None, n: int = 1) -> Picture | list[Picture]:
        """Image generations: words become vision (one Picture, or a list for n > 1)."""
        trace, parsed = self._exchange(self.plan_imagine(prompt, model, size, n))
        pictures = [
            self.picture(data if data is not None else self._download(trace, url or ""), url, revised, trace)
            for data, url, revised in self.parsed(trace, parse_pictures, parsed)
        ]
        return pictures[0] if n == 1 and len(pictures) == 1 else pictures

    def speak(self, text: str, *, voice: str = "alloy", model: str | None = None, format: str | None = None) -> Sound:
        """Speech: words become sound."""
        name, notes = self._model(model)
        trace, data = self._exchange(self.plan_speak(text, voice, name, model, format, notes), binary=True)
        return self.sound(data, trace, format)

    def listen(self, audio: AudioInput, *, model: str | None = None, language: str | None = None) -> Transcript:
        """Transcriptions: sound becomes words."""
        return self._transcribe(Gentle.listen, audio, model, language)

    def interpret(self, audio: AudioInput, *, model: str | None = None) -> Transcript:
        """Translations: speech in any tongue becomes English words."""
        return self._transcribe(Gentle.interpret, audio, model, None)

    def catalog(self) -> Catalog:
        """Models: who is here to help."""
        trace, parsed = self._exchange(self.plan_catalog())
        return self.with_trace(self.parsed(trace, parse_catalog, parsed), trace)  # type: ignore[no-any-return]

    def discern(self, text: str, *, model: str | None = None) -> Verdict:
        """Moderations: is this safe to say?"""
        trace, parsed = self._exchange(self.plan_discern(text, model))
        return self.with_trace(self.parsed(trace, parse_verdict, parsed), trace)  # type: ignore[no-any-return]

    def revise(self, text: str, instruction: str, *, model: str | None = None, **options: Any) -> Reply:
        """Edits: you hand it words and a wish; it gives them back changed (retired at OpenAI; LocalAI still serves it)."""
        name, notes = self._model(model)
        call = self.plan_revise(text, instruction, name, model, options, notes)
        return self._answer(call, "completion")

    def respond(self, input: Messages, *, instructions: str | None = None, model: str | None = None, stream: bool = False, **options: Any) -> Reply:
        """Responses: like think, but the reply is output items, streamed as typed events (`reply.trace.events()`)."""
        name, notes = self._model(model)
        call = self.plan_respond(input, instructions, name, model, stream, options, notes)
        return self._answer(call, "response")

    def probe(self) -> dict[str, Finding]:
        """Which of the gentle actions this server offers, spending no tokens."""
        with self._probe_pool() as http:
            found: dict[str, Finding] = {name: self._probe(http, empty(row, self._base)) for name, row in ACTIONS.items()}
            for name, first in found.items():
                call = minimal(ACTIONS[first.action], self._base, self.model) if failed_on_probe(first) else None
                if call is not None:
                    found[name] = confirmed(first, self._probe(http, call))
            return found

    def probe_pictures(self, *, model: str | None = None) -> Finding:
        """Whether the model takes pictures: one think call with a single pixel and max_tokens 1 (it spends a token or two)."""
        name, _ = self._model(model)
        try:
            self._exchange(self.plan_picture_probe(name))
        except GuideError as error:
            return self.picture_finding(error)
        return self.picture_finding(None)

    # The I/O.

    def _model(self, asked: str | None) -> tuple[str, tuple[str, ...]]:
        chosen = self.chosen_model(asked)
        return (chosen, ()) if chosen else self.first_listed(self.catalog())

    def _transcribe(self, action: Gentle, audio: AudioInput, model: str | None, language: str | None) -> Transcript:
        name, notes = self._model(model)
        trace, body = self._exchange(self.plan_transcribe(action, audio, name, model, language, notes), binary=True)
        return self.with_trace(self.parsed(trace, parse_transcript, body), trace)  # type: ignore[no-any-return]

    def _open(self, call: Call, trace: Trace, started: float) -> httpx.Response:
        """Send the call, retrying as the official SDK does; the answer is open."""
        sent = self.request_args(call)
        attempt = 0
        while True:
            try:
                request = self._http.build_request(**sent)
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                time.sleep(self.after_failure(trace, exc, attempt))
            else:
                received = dict(response.headers)
                delay = self.after_status(trace, response.status_code, received, attempt) if response.status_code >= 400 else None
                if delay is None:
                    self.received(trace, response.status_code, received, started)
                    if response.status_code >= 400:
                        raise self.error_status(trace, self._read(response, trace, started), started)
                    if 300 <= response.status_code < 400:
                        raise self.redirected(trace, self._read(response, trace, started), started)
                    return response
                response.close()
                time.sleep(delay)
            attempt += 1

    def _read(self, response: httpx.Response, trace: Trace, started: float) -> bytes:
        """The whole body, up to MAX_REPLY (counted as it is inflated: a gzip bomb stops there)."""
        try:
            if self.declared_too_large(response.headers):
                raise self.too_large(trace, started)
            body = bytearray()
            for part in response.iter_bytes():
                body += part
                if len(body) > MAX_REPLY:
                    raise self.too_large(trace, started)
            return bytes(body)
        except httpx.HTTPError as exc:
            raise self.broke_off(trace, exc, "", started) from None
        finally:
            response.close()

    def _exchange(self, call: Call, *, binary: bool = False) -> tuple[Trace, Any]:
        trace = self.begin(call)
        started = time.perf_counter()
        response = self._open(call, trace, started)
        return trace, self.finish(trace, self._read(response, trace, started), started, binary=binary)

    def _answer(self, call: Call, kind: Kind) -> Reply:
        if call.stream:
            reply = Reply()
            reply._source = self._stream(call, kind, reply)
            return reply
        trace, parsed = self._exchange(call)
        answer = self.parsed(trace, parse_answer, kind, parsed)
        return Reply(answer=answer, trace=trace)

    def _stream(self, call: Call, kind: Kind, reply: Reply) -> Generator[None, None, None]:
        trace = reply.trace = self.begin(call)
        started = time.perf_counter()
        answer = reply.answer
        reader = self.reader(kind, answer, trace, started)
        response = self._open(call, trace, started)
        if self.answered_whole(response.headers):
            self.unstreamed(trace, kind, answer, self._read(response, trace, started), started)
            return
        thought = 0
        try:
            for text in response.iter_text():
                if reader.feed(text) or len(answer.reasoning) != thought:
                    thought = len(answer.reasoning)  # reasoning arrives before the answer: it is news too
                    yield
                if reader.due():
                    self.emit(trace)  # how the stream is going: subscribers update a live row from this
            reader.finish()
        except GeneratorExit:
            answer.stopped = True
            self.end(trace, started, "stopped")
            raise
        except GuideError as error:
            raise self.fail(trace, error, started) from None
        except httpx.HTTPError as exc:
            raise self.broke_off(trace, exc, reader.partial(), started) from None
        finally:
            response.close()
        self.answer_usage(trace, answer)
        self.end(trace, started)

    def _download(self, trace: Trace, url: str) -> bytes:
        self.check_download(trace, url)
        try:
            with self._http.stream("GET", url) as response:
                response.raise_for_status()
                body = bytearray()
                for part in response.iter_bytes():
                    body += part
                    if len(body) > MAX_REPLY:
                        raise self.too_large(trace, time.perf_counter())
        except httpx.HTTPError as exc:
            raise self.download_failed(trace, describe(exc)) from None
        trace.notes.append(f"The image was fetched from {redact_url(url)}.")
        return bytes(body)

    def _probe_pool(self) -> AbstractContextManager[httpx.Client]:
        """Where probes go: a pool that keeps no connection alive (a custom transport is the caller's, and used as it is)."""
        if self._custom:
            return nullcontext(self._http)
        return httpx.Client(verify=self._ssl, limits=PROBE_POOL, timeout=self._probe_timeout)

    def _probe(self, http: httpx.Client, call: Call) -> Finding:
        trace = self.begin(call)
        started = time.perf_counter()
        try:
            request = http.build_request(**self.request_args(call), timeout=self._probe_timeout)
            response = http.send(request, stream=True)
            try:
                body = b""
                for part in response.iter_bytes():
                    body += part
                    if len(body) >= PROBE_READ:  # enough to judge by; a server cannot make a probe read more
                        break
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return self.probe_unanswered(call, trace, started, exc)
        return self.probe_answered(call, trace, started, response.status_code, dict(response.headers), body[:PROBE_READ])
