"""The companion's HTTP face: the OpenAI wire, as the spec gives it, over Starlette.

Bad input always gets a JSON error in the OpenAI shape (never a traceback,
never a dropped connection): invalid JSON or fields 400, a refused key 401,
an unknown model 404 model_not_found, an unknown path 404, a wrong method
405, a body over the limit 413. An action with no engine here answers 404
and says which action this server lacks.
"""

from __future__ import annotations

import base64
import hmac
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from guide.client import ACTIONS, API_VERSION
from guide.client._requests import MAX_AUDIO

from .engines import AudioRefused, Engines, Generation

MAX_BODY = 8 * 1024 * 1024
"""The official API's own limit for an audio upload."""
SAMPLING = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty")


class Refusal(Exception):
    """A request the companion answers with an OpenAI-shaped error."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers={"retry-after": "1"} if self.status == 429 else None)


class Slots:
    """How many replies may be made at once (streamed or not); one more is a 429, never a queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> None:
        if self.taken >= self.limit:
            raise Refusal(
                429,
                f"The companion is already making {self.limit} replies at once; try again in a moment.",
                kind="rate_limit_exceeded",
                code="too_many_replies",
            )
        self.taken += 1

    def give(self) -> None:
        self.taken -= 1


class SlotStream(StreamingResponse):
    """A streamed reply that gives its slot back when it ends, however it ends (a reader gone included)."""

    def __init__(self, content: AsyncIterator[bytes], slots: Slots, **options: Any) -> None:
        super().__init__(content, **options)
        self.slots = slots

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give()


def refuse(status: int, message: str, **details: Any) -> JSONResponse:
    """An OpenAI-shaped error response."""
    return Refusal(status, message, **details).response()


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, within the size limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refusal(413, f"The request body is over {MAX_BODY // (1024 * 1024)} MB.", code="request_too_large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refusal(413, f"The request body is over {MAX_BODY // (1024 * 1024)} MB.", code="request_too_large")
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise Refusal(400, "The body should be a JSON object.")
    return parsed


def need(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """A required field of the right type."""
    if name not in body:
        raise Refusal(400, f"'{name}' is required.", param=name, code="missing_required_parameter")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Refusal(400, f"'{name}' should be {what}.", param=name, code="invalid_type")
    return value


def sampling(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling options a generation takes, checked."""
    options = {}
    for name in SAMPLING:
        if body.get(name) is None:
            continue
        value = body[name]
        if name == "stop":
            if not isinstance(value, (str, list)):
                raise Refusal(400, "'stop' should be text or a list of texts.", param=name)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Refusal(400, f"'{name}' should be a number.", param=name, code="invalid_type")
        options[name] = value
    return options


MAX_REPLIES = 8
"""Replies made at once, at most: each holds a thread, and the model runs on one core."""


def build(engines: Engines, *, api_key: str | None = None, max_replies: int = MAX_REPLIES) -> Starlette:
    """The companion as an ASGI app."""
    slots = Slots(max_replies)
    known = {engine.model_id: engine for engine in engines.models()}
    created = int(time.time())

    def model_for(body: dict[str, Any], action: str) -> str:
        name = need(body, "model", str, "a model id")
        if name not in known:
            raise Refusal(
                404,
                f"The model '{name}' does not exist here. {ACTIONS['catalog'].endpoint} lists this server's models.",
                code="model_not_found",
                param="model",
            )
        return str(name)

    async def catalog(request: Request) -> Response:
        data = [{"id": e.model_id, "object": "model", "created": created, "owned_by": e.owned_by} for e in known.values()]
        return JSONResponse({"object": "list", "data": data})

    async def think(request: Request) -> Response:
        body = await read_json(request)
        model_for(body, "think")
        messages = need(body, "messages", list, "a list of messages")
        if not messages or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
            raise Refusal(400, "'messages' should be a non-empty list of objects with a role.", param="messages")
        clean = [
            {"role": m["role"], "content": m.get("content") if isinstance(m.get("content"), str) else _text_of(m.get("content"))} for m in messages
        ]
        return await answer(body, lambda: engines.think.chat(clean, sampling(body)), chat=True)

    async def carry_on(request: Request) -> Response:
        body = await read_json(request)
        model_for(body, "continue")
        prompt = need(body, "prompt", (str, list), "text")
        text = prompt if isinstance(prompt, str) else " ".join(str(p) for p in prompt)
        return await answer(body, lambda: engines.think.complete(text, sampling(body)), chat=False)

    async def answer(body: dict[str, Any], start: Callable[[], Generation], *, chat: bool) -> Response:
        """The reply, in a slot that is given back when it is done (or its reader goes away)."""
        slots.take()
        handed_over = False
        try:
            generation = await run_in_threadpool(start)
            response = await reply(body, generation, chat=chat)
            handed_over = isinstance(response, SlotStream)
            return response
        finally:
            if not handed_over:
                slots.give()

    async def reply(body: dict[str, Any], generation: Generation, *, chat: bool) -> Response:
        model = engines.think.model_id
        ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        kind = "chat.completion" if chat else "text_completion"
        if body.get("stream") is True:
            usage_wanted = bool((body.get("stream_options") or {}).get("include_usage")) if isinstance(body.get("stream_options"), dict) else False
            return SlotStream(
                frames(generation, ident, model, kind, chat, usage_wanted),
                slots,
                media_type="text/event-stream",
                headers={"cache-control": "no-store", "x-accel-buffering": "no"},
            )
        text = "".join([piece async for piece in iterate_in_threadpool(generation.pieces)])
        choice: dict[str, Any] = {"index": 0, "finish_reason": generation.finish_reason, "logprobs": None}
        choice.update({"message": {"role": "assistant", "content": text, "refusal": None}} if chat else {"text": text})
        return JSONResponse(
            {"id": ident, "object": kind, "created": int(time.time()), "model": model, "choices": [choice], "usage": generation.usage}
        )

    async def frames(generation: Generation, ident: str, model: str, kind: str, chat: bool, usage_wanted: bool) -> AsyncIterator[bytes]:
        base = {"id": ident, "object": f"{kind}.chunk" if chat else kind, "created": int(time.time()), "model": model}

        def frame(choices: list[dict[str, Any]], **more: Any) -> bytes:
            return b"data: " + json.dumps({**base, "choices": choices, **more}, ensure_ascii=False).encode() + b"\n\n"

        try:
            if chat:
                yield frame([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            async for piece in iterate_in_threadpool(generation.pieces):
                delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
                yield frame([{"index": 0, **delta, "finish_reason": None}])
            end: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
            yield frame([{"index": 0, **end, "finish_reason": generation.finish_reason}])
            if usage_wanted:
                yield frame([], usage=generation.usage)
        except Exception as error:  # an engine failing mid-reply: say so in the stream, as OpenAI does
            yield (
                b"data: "
                + json.dumps({"error": {"message": f"The engine failed: {error}", "type": "server_error", "param": None, "code": None}}).encode()
                + b"\n\n"
            )
            return
        yield b"data: [DONE]\n\n"

    async def understand(request: Request) -> Response:
        body = await read_json(request)
        model_for(body, "understand")
        given = need(body, "input", (str, list), "text or a list of texts")
        texts = [given] if isinstance(given, str) else given
        if not texts or not all(isinstance(t, str) for t in texts):
            raise Refusal(400, "'input' should be text or a non-empty list of texts.", param="input")
        vectors = await run_in_threadpool(engines.understand.embed, texts)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v}
            for i, v in enumerate(vectors)
        ]
        words = sum(len(t.split()) for t in texts)
        return JSONResponse(
            {"object": "list", "model": engines.understand.model_id, "data": data, "usage": {"prompt_tokens": words, "total_tokens": words}}
        )

    async def speak(request: Request) -> Response:
        body = await read_json(request)
        if engines.speak is None:
            raise Refusal(404, not_offered("speak"), code="not_offered")
        model_for(body, "speak")
        text = need(body, "input", str, "text")
        need(body, "voice", (str, dict), "a voice name")
        wanted = body.get("response_format") or "wav"
        if wanted != "wav":
            raise Refusal(400, "This companion speaks WAV only (response_format: wav).", param="response_format")
        audio = await run_in_threadpool(engines.speak.speak, text, str(body["voice"]))
        return Response(audio, media_type="audio/wav")

    async def listen(request: Request) -> Response:
        if engines.listen is None:
            raise Refusal(404, not_offered("listen"), code="not_offered")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_AUDIO:
            raise Refusal(
                413, f"The audio is over {MAX_AUDIO // (1024 * 1024)} MB, the most this server (and OpenAI) accepts.", code="request_too_large"
            )
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise Refusal(400, "Send the audio as multipart/form-data with a 'file' field.", param="file")
        try:
            form = await request.form(max_files=1, max_fields=20)
        except Exception:
            raise Refusal(400, "The multipart form could not be read.", param="file") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Refusal(400, "'file' is required (the audio, as a file part).", param="file", code="missing_required_parameter")
        model_for({"model": form.get("model")} if isinstance(form.get("model"), str) else {}, "listen")
        wanted = form.get("response_format") or "json"
        if wanted not in ("json", "text"):
            raise Refusal(400, "This companion answers response_format json or text.", param="response_format")
        data = await upload.read()
        try:
            text = await run_in_threadpool(engines.listen.transcribe, data)
        except AudioRefused as error:
            raise Refusal(400, str(error), param="file") from None
        return Response(text, media_type="text/plain") if wanted == "text" else JSONResponse({"text": text})

    def lacking(action: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return refuse(404, not_offered(action), code="not_offered")

        return endpoint

    handlers: dict[str, Callable[[Request], Any]] = {"catalog": catalog, "think": think, "continue": carry_on, "understand": understand}
    if engines.speak is not None:
        handlers["speak"] = speak
    if engines.listen is not None:
        handlers["listen"] = listen
    routes = [Route(f"/{API_VERSION}{row.path}", handlers.get(name) or lacking(name), methods=[row.method]) for name, row in ACTIONS.items()]

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
    if api_key:
        app.add_middleware(KeyCheck, api_key=api_key)
    return app


def not_offered(action: str) -> str:
    """Why an action is missing, in the words the app shows."""
    row = ACTIONS[action]
    return f"This server does not offer {action} ({row.endpoint}): guide's companion has no engine for it installed here."


def _text_of(content: Any) -> str:
    """Text from content parts ([{"type": "text", "text": ...}])."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


class KeyCheck:
    """Requests without the bearer key get 401 (compared in constant time)."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await refuse(401, "The key is missing or wrong.", code="invalid_api_key")(scope, receive, send)
                return
        await self.app(scope, receive, send)
