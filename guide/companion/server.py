"""The companion's HTTP face: the OpenAI wire, as the spec gives it, over Starlette.

Bad input always gets a JSON error in the OpenAI shape (never a traceback,
never a dropped connection): invalid JSON or fields 400, a refused key 401,
a foreign Origin 403, an unknown model 404 model_not_found, an unknown path
404 (no slash redirects), a wrong method 405, a stalled body 408, a body over
the limit 413, a body of the wrong type 415, a foreign Host 421, every engine
busy 429. An action with no engine here answers 404 and says which action
this server lacks.

Engines never run on the event loop: every engine call (a reply and each of
its pieces, vectors, speech, a transcript) runs in a pool of threads as
large as the reply limit, and only while it holds one of the reply slots.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from guide.client import ACTIONS, API_VERSION

from .engines import AudioRefused, Engines, Generation, PromptTooLong, ReflectiveListener
from .fields import refuse_unhonoured
from .guards import Guard
from .limits import (
    TOOLS_REFUSED,
    Refusal,
    Slots,
    chat_messages,
    edit_messages,
    embedding_inputs,
    need,
    prompt_text,
    read_form,
    read_json,
    refuse,
    response_messages,
    response_sampling,
    sampling,
    speech_text,
)
from .protocol import CLIENT_TIMEOUT
from .responses import response_events, response_object
from .shaping import choice, echoed, together, vectors_json
from .stored import StoredResponses
from .validation import check_body

CONTEXT_LENGTHS = {"reflective-listener": 2048, "hashed-words-256": 8192}
"""What each engine reads at most, in its own tokens, for the catalog (a model's is read from its GGUF: `context_length`)."""
MAX_REPLIES = 8
"""Engine calls at once, at most: each holds a thread, and the model runs on one core."""
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


class CompanionApp:
    """The companion as an ASGI app, and the threads its engines run on."""

    def __init__(self, app: Guard, threads: EngineThreads, offered: list[str]) -> None:
        self.app, self.threads, self.offered = app, threads, offered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def close(self) -> None:
        """Let the engine threads go."""
        self.threads.close()


def offered(engines: Engines) -> list[str]:
    """The actions these engines answer, in the map's order: what the routes serve and the start-up line lists."""
    have = {"catalog", "think", "continue", "understand", "respond"}
    have |= ({"speak"} if engines.speak else set()) | ({"listen"} if engines.listen else set())
    if not isinstance(engines.think, ReflectiveListener):
        have.add("revise")  # an edit needs a language model: rules cannot rewrite text as asked
    return [name for name in ACTIONS if name in have]


def build(
    engines: Engines,
    *,
    api_key: str | None = None,
    max_replies: int = MAX_REPLIES,
    client_timeout: float = CLIENT_TIMEOUT,
    bound: str = "127.0.0.1",
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
) -> CompanionApp:
    """The companion as an ASGI app, answering to the names a server bound to `bound` may be reached by."""
    slots = Slots(max_replies)
    threads = EngineThreads(max_replies)
    known = {engine.model_id: engine for engine in engines.models()}
    created = int(time.time())
    stall = client_timeout

    stored = StoredResponses()
    model_engine = not isinstance(engines.think, ReflectiveListener)

    async def body_for(request: Request, action: str) -> dict[str, Any]:
        """The request's JSON, as the spec shapes it, asking nothing this engine would have to ignore."""
        body = await read_json(request, stall=stall)
        await run_in_threadpool(check_body, action, body)  # off the loop, and never behind the engines' threads
        model_for(body)
        refuse_unhonoured(action, body, model=model_engine)
        return body

    def model_for(body: dict[str, Any]) -> str:
        name = need(body, "model", str, "a model id")
        if name not in known:
            raise Refusal(
                404,
                f"The model '{name}' does not exist here. {ACTIONS['catalog'].endpoint} lists this server's models.",
                code="model_not_found",
                param="model",
            )
        return str(name)

    def described(engine: Any) -> dict[str, Any]:
        # `purpose`, `context_length` (LM Studio, OpenRouter) and `max_model_len` (vLLM; oterm reads it) are not in the spec's Model:
        # servers add fields, and clients ignore what they do not know.
        length = getattr(engine, "context_length", None) or CONTEXT_LENGTHS.get(engine.model_id)
        shown = {"id": engine.model_id, "object": "model", "created": created, "owned_by": engine.owned_by}
        shown["purpose"] = getattr(engine, "purpose", "chat")
        return {**shown, **({"context_length": length, "max_model_len": length} if length else {})}

    async def catalog(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [described(e) for e in known.values()]})

    async def one_model(request: Request) -> Response:
        return JSONResponse(described(known[model_for({"model": request.path_params["model"]})]))

    async def kept_response(request: Request) -> Response:
        return JSONResponse(stored.response(request.path_params["ident"]))

    async def think(request: Request) -> Response:
        body = await body_for(request, "think")
        messages, options = chat_messages(body), sampling(body)
        if body.get("tools") and body.get("tool_choice") != "none":  # "none": use no tool, as if none were offered
            return await with_tools(body, messages, options)
        return await answer(body, lambda i: engines.think.chat(messages, choice(options, i)), chat=True)

    async def with_tools(body: dict[str, Any], messages: list[dict[str, Any]], options: dict[str, Any]) -> Response:
        """A think call that offers tools: the model's engine answers with its function-calling format; the listener says it cannot."""
        engine = engines.think
        tools = need(body, "tools", list, "a list of tools")
        if not hasattr(engine, "call_tools"):
            raise Refusal(400, TOOLS_REFUSED, param="tools", code="tools_not_supported")
        if (body.get("n") or 1) > 1 or "response_format" in options:
            wrong = "n" if (body.get("n") or 1) > 1 else "response_format"
            raise Refusal(
                400, f"The companion's model cannot honour '{wrong}' in a reply that offers tools: it makes one, in its tool format.", param=wrong
            )
        options.pop("stream", None)
        slots.take()
        try:
            reply = await threads.run(engine.call_tools, messages, tools, body.get("tool_choice"), options)
        finally:
            slots.give()
        message = reply["choices"][0]["message"]
        message.pop("function_call", None)  # the deprecated twin of tool_calls
        finish = reply["choices"][0].get("finish_reason") or "stop"
        ident, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
        usage = reply.get("usage")
        if body.get("stream") is not True:
            choice = {"index": 0, "message": {**message, "refusal": None}, "finish_reason": finish, "logprobs": None}
            return JSONResponse(
                {"id": ident, "object": "chat.completion", "created": created, "model": engine.model_id, "choices": [choice], "usage": usage}
            )
        base = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": engine.model_id}
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        chunks = [{**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
        if wants_usage(body):
            chunks.append({**base, "choices": [], "usage": usage})
        text = "".join(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        return Response(text, media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def carry_on(request: Request) -> Response:
        body = await body_for(request, "continue")
        text, options = prompt_text(body), sampling(body)
        return await answer(body, lambda i: echoed(text, engines.think.complete(text, choice(options, i)), body.get("echo") is True), chat=False)

    async def revise(request: Request) -> Response:
        body = await body_for(request, "revise")
        messages, options = edit_messages(body), sampling({name: body.get(name) for name in ("temperature", "top_p")})
        async with slots.held():
            generation = await threads.run(engines.think.chat, messages, options)
            pieces = Pieces(generation.pieces)
            try:
                text = await threads.run(lambda: "".join(iter(pieces.next, None)))
            except PromptTooLong as error:
                raise Refusal(400, str(error), param="input", code="context_length_exceeded") from None
        # CreateEditResponse, as the spec of its day gave it: a completion's choices, object "edit".
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": generation.finish_reason}
        return JSONResponse({"object": "edit", "created": int(time.time()), "choices": [choice], "usage": generation.usage})

    async def respond(request: Request) -> Response:
        body = await body_for(request, "respond")
        messages, options = response_messages(body), response_sampling(body)
        told = messages[:1] if body.get("instructions") else []  # instructions do not carry over to the next response
        said = messages[len(told) :]
        if isinstance(body.get("previous_response_id"), str):
            said = stored.conversation(body["previous_response_id"]) + said
        kept = keeper(body, said)
        return await answer(body, lambda i: engines.think.chat(told + said, options), chat=True, typed=True, kept=kept)

    def keeper(body: dict[str, Any], said: list[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
        """What keeps a finished Response (unless `store: false`), with its conversation for previous_response_id."""

        def keep(response: dict[str, Any]) -> None:
            if body.get("store") is not False:
                reply = "".join(part.get("text", "") for item in response["output"] for part in item.get("content", []))
                stored.keep(response, [*said, {"role": "assistant", "content": reply}])

        return keep

    Keep = Callable[[dict[str, Any]], None]

    async def answer(
        body: dict[str, Any], start: Callable[[int], Generation], *, chat: bool, typed: bool = False, kept: Keep | None = None
    ) -> Response:
        """The reply (`n` of them, one after another: one engine call at a time), in a slot given back when it is done or its reader goes."""
        slots.take()
        handed_over = False
        try:
            generation, pieces, first = await begin(start, 0, typed, chat)
            if body.get("stream") is True:
                handed_over = True
                more = lambda: threads.run(pieces.next)  # noqa: E731
                close = lambda: threads.later(pieces.close)  # noqa: E731
                model = engines.think.model_id
                return SlotStream(
                    response_events(body, model, generation, first, more, close, kept or (lambda whole: None))
                    if typed
                    else frames(body, start, (generation, pieces, first), chat),
                    slots,
                    media_type="text/event-stream",
                    headers={"cache-control": "no-store", "x-accel-buffering": "no"},
                )
            made = [(generation, (first or "") + await threads.run(rest, pieces))]
            for index in range(1, 1 if typed else body.get("n") or 1):
                later, later_pieces, later_first = await begin(start, index, typed, chat)
                made.append((later, (later_first or "") + await threads.run(rest, later_pieces)))
            if typed:
                whole = response_object(body, engines.think.model_id, generation, made[0][1])
                (kept or (lambda whole: None))(whole)
                return JSONResponse(whole)
            return JSONResponse(completion(made, chat))
        finally:
            if not handed_over:
                slots.give()

    async def begin(start: Callable[[int], Generation], index: int, typed: bool, chat: bool) -> tuple[Generation, Pieces, str | None]:
        """Choice `index` started, and its first piece (before the status line: a prompt too long is still a 400)."""
        generation = await threads.run(start, index)
        pieces = Pieces(generation.pieces)
        try:
            return generation, pieces, await threads.run(pieces.next)
        except PromptTooLong as error:
            raise Refusal(400, str(error), param="input" if typed else "messages" if chat else "prompt", code="context_length_exceeded") from None

    def completion(made: list[tuple[Generation, str]], chat: bool) -> dict[str, Any]:
        choices = []
        for index, (generation, text) in enumerate(made):
            choice: dict[str, Any] = {"index": index, "finish_reason": generation.finish_reason, "logprobs": None}
            choice.update({"message": {"role": "assistant", "content": text, "refusal": None}} if chat else {"text": text})
            choices.append(choice)
        ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        kind = "chat.completion" if chat else "text_completion"
        model = engines.think.model_id
        return {"id": ident, "object": kind, "created": int(time.time()), "model": model, "choices": choices, "usage": together(made)}

    async def frames(
        body: dict[str, Any], start: Callable[[int], Generation], begun: tuple[Generation, Pieces, str | None], chat: bool
    ) -> AsyncIterator[bytes]:
        """The chunks of each of the `n` choices, one choice after another, then the usage (if asked) and [DONE]."""
        ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        kind = "chat.completion.chunk" if chat else "text_completion"
        base = {"id": ident, "object": kind, "created": int(time.time()), "model": engines.think.model_id}

        def frame(choices: list[dict[str, Any]], **more: Any) -> bytes:
            return b"data: " + json.dumps({**base, "choices": choices, **more}, ensure_ascii=False).encode() + b"\n\n"

        made: list[tuple[Generation, str]] = []
        generation, pieces, piece = begun
        try:
            for index in range(body.get("n") or 1):
                if index:
                    generation, pieces, piece = await begin(start, index, False, chat)
                if chat:
                    yield frame([{"index": index, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])
                while piece is not None:
                    delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
                    yield frame([{"index": index, **delta, "logprobs": None, "finish_reason": None}])
                    piece = await threads.run(pieces.next)
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
            threads.later(pieces.close)  # the engine stops (and lets go of its lock) once its current piece is made
        yield b"data: [DONE]\n\n"

    async def understand(request: Request) -> Response:
        body = await body_for(request, "understand")
        texts = embedding_inputs(body)
        wanted = body.get("encoding_format") or "float"
        async with slots.held():
            content = await threads.run(vectors_json, engines.understand, texts, wanted == "base64", body.get("dimensions"))
        return Response(content, media_type="application/json")

    async def speak(request: Request) -> Response:
        if engines.speak is None:
            raise Refusal(404, not_offered("speak"), code="not_offered")
        body = await body_for(request, "speak")
        text = speech_text(body)
        voice = need(body, "voice", (str, dict), "a voice name")
        wanted = body.get("response_format") or "wav"
        if wanted != "wav":
            raise Refusal(400, "This companion speaks WAV only (response_format: wav).", param="response_format")
        async with slots.held():
            audio = await threads.run(engines.speak.speak, text, str(voice))
        return Response(audio, media_type="audio/wav")

    async def listen(request: Request) -> Response:
        if engines.listen is None:
            raise Refusal(404, not_offered("listen"), code="not_offered")
        form = await read_form(request, stall=stall)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Refusal(400, "'file' is required (the audio, as a file part).", param="file", code="missing_required_parameter")
        model_for({"model": form.get("model")} if isinstance(form.get("model"), str) else {})
        refuse_unhonoured("listen", {name: value for name, value in form.multi_items() if name != "file"}, model=model_engine)
        wanted = form.get("response_format") or "json"
        if wanted not in ("json", "text"):
            raise Refusal(400, "This companion answers response_format json or text.", param="response_format")
        data = await upload.read()
        async with slots.held():
            try:
                text = await threads.run(engines.listen.transcribe, data)
            except AudioRefused as error:
                raise Refusal(400, str(error), param="file") from None
        return Response(text, media_type="text/plain") if wanted == "text" else JSONResponse({"text": text})

    def lacking(action: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return refuse(404, not_offered(action), code="not_offered")

        return endpoint

    actions = offered(engines)
    handlers: dict[str, Callable[[Request], Any]] = {
        "catalog": catalog,
        "think": think,
        "continue": carry_on,
        "understand": understand,
        "speak": speak,
        "listen": listen,
        "revise": revise,
        "respond": respond,
    }
    routes = [
        Route(f"/{API_VERSION}{row.path}", handlers[name] if name in actions else lacking(name), methods=[row.method])
        for name, row in ACTIONS.items()
    ]
    routes.append(Route(f"/{API_VERSION}{ACTIONS['catalog'].path}/{{model}}", one_model, methods=["GET"]))  # the SDK's models.retrieve
    routes.append(Route(f"/{API_VERSION}{ACTIONS['respond'].path}/{{ident}}", kept_response, methods=["GET"]))

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refusal)
        return error.response()

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code == 404:
            return refuse(404, f"There is no {request.method} {request.url.path} here.", code="unknown_url")
        if error.status_code == 405:
            return refuse(405, f"{request.url.path} does not take {request.method}.", code="method_not_allowed")
        return refuse(error.status_code, str(error.detail))

    async def failed(request: Request, error: Exception) -> Response:
        return refuse(500, f"The companion failed: {type(error).__name__}.", kind="server_error")

    app = Starlette(routes=routes, exception_handlers={Refusal: refused, HTTPException: http_error, Exception: failed})
    app.router.redirect_slashes = False  # a redirect would name the Host header's server: /v1/models/ is a 404
    guarded = Guard(app, bound=bound, allow_hosts=allow_hosts, allow_origins=allow_origins, api_key=api_key)
    return CompanionApp(guarded, threads, actions)


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether a stream should end with a usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def rest(pieces: Pieces) -> str:
    """The rest of a reply, all at once."""
    return "".join(iter(pieces.next, None))


def not_offered(action: str) -> str:
    """Why an action is missing, in the words the app shows."""
    row = ACTIONS[action]
    return f"This server does not offer {action} ({row.endpoint}): guide's companion has no engine for it installed here."
