"""The companion's HTTP face: the OpenAI wire, as the spec gives it, over Starlette.

Bad input always gets a JSON error in the OpenAI shape, never a traceback or a dropped connection: bad JSON or fields
400, a refused key 401, a foreign Origin 403, an unknown model (model_not_found) or path (no slash redirects) 404, a
wrong method 405, a stalled body 408, too large 413, wrong type 415, a foreign Host 421, every engine busy 429; an
action with no engine here is a 404 that says so. Engines run on threads, in reply slots (replies.py), never on the loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from guide.client import ACTIONS, API_VERSION, Gentle

from . import limits
from .engines import AudioRefused, Engines, PromptTooLong, ReflectiveListener
from .fields import refuse_unhonoured
from .guards import Guard
from .limits import Refusal, Slots, need, refuse
from .protocol import CLIENT_TIMEOUT
from .replies import EngineThreads, Pieces, Replies, choice, echoed, rest, vectors_json
from .responses import StoredResponses
from .validation import check_body, validators, whole_numbers

CONTEXT_LENGTHS = {"reflective-listener": 2048, "hashed-words-256": 8192}
"""What each engine reads at most, in its own tokens, for the catalog (a model's is read from its GGUF: `context_length`)."""
MAX_REPLIES = 8
"""Engine calls at once, at most: each holds a thread, and the model runs on one core."""

BRINGS: dict[str, str] = {
    Gentle.speak: "it speaks with espeak-ng, which is not installed here: `sudo apt install espeak-ng` (or your system's package) brings it.",
    Gentle.listen: "it listens with pocketsphinx, which is not installed here: `pip install 'guide-chat[local]'` brings it.",
    Gentle.revise: "an edit needs a language model, and the reflective listener is rules: `pip install 'guide-chat[local]'` brings a small model.",
}
"""What brings an action the companion can have, when it is missing here."""

NOTHING_BRINGS = "the companion has no engine for it, and nothing to install brings one: a server that offers it can (F7 or --base-url picks one)."


def not_offered(action: Gentle) -> str:
    """Why an action is missing, in the words the app shows: what is missing, and whether anything can bring it."""
    row = ACTIONS[action]
    return f"This server does not offer {action} ({row.endpoint}): {BRINGS.get(action, NOTHING_BRINGS)}"


class CompanionApp:
    """The companion as an ASGI app, and the threads its engines run on."""

    def __init__(self, app: Guard, threads: EngineThreads, offered: list[Gentle]) -> None:
        self.app, self.threads, self.offered = app, threads, offered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def close(self) -> None:
        """Let the engine threads go."""
        self.threads.close()


def offered(engines: Engines) -> list[Gentle]:
    """The actions these engines answer, in the map's order: what the routes serve and the start-up line lists."""
    have = {Gentle.catalog, Gentle.think, Gentle.continue_, Gentle.understand, Gentle.respond}
    have |= ({Gentle.speak} if engines.speak else set()) | ({Gentle.listen} if engines.listen else set())
    if not isinstance(engines.think, ReflectiveListener):
        have.add(Gentle.revise)  # an edit needs a language model: rules cannot rewrite text as asked
    return [row.name for row in ACTIONS.values() if row.name in have]


class Routes:
    """The companion's endpoints, each a method taking a request: one set of engines, slots and threads, and the responses kept."""

    def __init__(self, engines: Engines, slots: Slots, threads: EngineThreads, stall: float) -> None:
        self.engines, self.slots, self.threads, self.stall = engines, slots, threads, stall
        self.known = {engine.model_id: engine for engine in engines.models()}
        self.created = int(time.time())
        self.replies = Replies(engines, slots, threads)
        self.stored = StoredResponses()
        self.model_engine = not isinstance(engines.think, ReflectiveListener)
        validators()  # built once, at start (about 40 ms), not on the first request

    async def body_for(self, request: Request, action: Gentle) -> dict[str, Any]:
        """The request's JSON, as the spec shapes it, asking nothing this engine would have to ignore."""
        body = await limits.read_json(request, stall=self.stall)
        await run_in_threadpool(check_body, action, body)  # off the loop, and never behind the engines' self.threads
        body = whole_numbers(body)
        self.model_for(body)
        refuse_unhonoured(action, body, model=self.model_engine)
        return body

    def model_for(self, body: dict[str, Any]) -> str:
        name = need(body, "model", str, "a model id")
        if name not in self.known:
            raise Refusal(
                404,
                f"The model '{name}' does not exist here. {ACTIONS[Gentle.catalog].endpoint} lists this server's models.",
                code="model_not_found",
                param="model",
            )
        return str(name)

    def described(self, engine: Any) -> dict[str, Any]:
        # `purpose`, `context_length` (LM Studio, OpenRouter) and `max_model_len` (vLLM; oterm reads it) are not in the spec's Model:
        # servers add fields, and clients ignore what they do not know.
        length = getattr(engine, "context_length", None) or CONTEXT_LENGTHS.get(engine.model_id)
        shown = {"id": engine.model_id, "object": "model", "created": self.created, "owned_by": engine.owned_by}
        shown["purpose"] = getattr(engine, "purpose", "chat")
        return {**shown, **({"context_length": length, "max_model_len": length} if length else {})}

    async def catalog(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [self.described(e) for e in self.known.values()]})

    async def one_model(self, request: Request) -> Response:
        return JSONResponse(self.described(self.known[self.model_for({"model": request.path_params["model"]})]))

    async def kept_response(self, request: Request) -> Response:
        return JSONResponse(self.stored.response(request.path_params["ident"]))

    async def think(self, request: Request) -> Response:
        body = await self.body_for(request, Gentle.think)
        messages, options = limits.chat_messages(body), limits.sampling(body)
        if body.get("tools") and body.get("tool_choice") != "none":  # "none": use no tool, as if none were offered
            return await self.replies.with_tools(body, messages, options)
        return await self.replies.answer(body, lambda i: self.engines.think.chat(messages, choice(options, i)), chat=True)

    async def continue_(self, request: Request) -> Response:
        body = await self.body_for(request, Gentle.continue_)
        text, options = limits.prompt_text(body), limits.sampling(body)
        make = lambda i: echoed(text, self.engines.think.complete(text, choice(options, i)), body.get("echo") is True)  # noqa: E731
        return await self.replies.answer(body, make, chat=False)

    async def revise(self, request: Request) -> Response:
        body = await self.body_for(request, Gentle.revise)
        messages, options = limits.edit_messages(body), limits.sampling({name: body.get(name) for name in ("temperature", "top_p")})
        async with self.slots.held():
            generation = await self.threads.run(self.engines.think.chat, messages, options)
            pieces = Pieces(generation.pieces)
            try:
                text = await self.threads.run(rest, pieces)
            except PromptTooLong as error:
                raise Refusal(400, str(error), param="input", code="context_length_exceeded") from None
        # CreateEditResponse, as the spec of its day gave it: a completion's choices, object "edit".
        edited = {"text": text, "index": 0, "logprobs": None, "finish_reason": generation.finish_reason}
        return JSONResponse({"object": "edit", "created": int(time.time()), "choices": [edited], "usage": generation.usage})

    async def respond(self, request: Request) -> Response:
        body = await self.body_for(request, Gentle.respond)
        messages, options = limits.response_messages(body), limits.response_sampling(body)
        told = messages[:1] if body.get("instructions") else []  # instructions do not carry over to the next response
        said = messages[len(told) :]
        if isinstance(body.get("previous_response_id"), str):
            said = self.stored.conversation(body["previous_response_id"]) + said
        kept = self.keeper(body, said)
        return await self.replies.answer(body, lambda i: self.engines.think.chat(told + said, options), chat=True, typed=True, kept=kept)

    def keeper(self, body: dict[str, Any], said: list[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
        """What keeps a finished Response (unless `store: false`), with its conversation for previous_response_id."""

        def keep(response: dict[str, Any]) -> None:
            if body.get("store") is not False:
                reply = "".join(part.get("text", "") for item in response["output"] for part in item.get("content", []))
                self.stored.keep(response, [*said, {"role": "assistant", "content": reply}])

        return keep

    async def understand(self, request: Request) -> Response:
        body = await self.body_for(request, Gentle.understand)
        texts = limits.embedding_inputs(body)
        wanted = body.get("encoding_format") or "float"
        async with self.slots.held():
            content = await self.threads.run(vectors_json, self.engines.understand, texts, wanted == "base64", body.get("dimensions"))
        return Response(content, media_type="application/json")

    async def speak(self, request: Request) -> Response:
        if self.engines.speak is None:
            raise Refusal(404, not_offered(Gentle.speak), code="not_offered")
        body = await self.body_for(request, Gentle.speak)
        text = limits.speech_text(body)
        voice = need(body, "voice", (str, dict), "a voice name")
        wanted = body.get("response_format") or "wav"
        if wanted != "wav":
            raise Refusal(400, "This companion speaks WAV only (response_format: wav).", param="response_format")
        async with self.slots.held():
            audio = await self.threads.run(self.engines.speak.speak, text, str(voice))
        return Response(audio, media_type="audio/wav")

    async def listen(self, request: Request) -> Response:
        if self.engines.listen is None:
            raise Refusal(404, not_offered(Gentle.listen), code="not_offered")
        form = await limits.read_form(request, stall=self.stall)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Refusal(400, "'file' is required (the audio, as a file part).", param="file", code="missing_required_parameter")
        self.model_for({"model": form.get("model")} if isinstance(form.get("model"), str) else {})
        refuse_unhonoured(Gentle.listen, {name: value for name, value in form.multi_items() if name != "file"}, model=self.model_engine)
        wanted = form.get("response_format") or "json"
        if wanted not in ("json", "text"):
            raise Refusal(400, "This companion answers response_format json or text.", param="response_format")
        data = await upload.read()
        async with self.slots.held():
            try:
                text = await self.threads.run(self.engines.listen.transcribe, data)
            except AudioRefused as error:
                raise Refusal(400, str(error), param="file") from None
        return Response(text, media_type="text/plain") if wanted == "text" else JSONResponse({"text": text})


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
    threads = EngineThreads(max_replies)
    serving = Routes(engines, Slots(max_replies), threads, client_timeout)

    def lacking(action: Gentle) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return refuse(404, not_offered(action), code="not_offered")

        return endpoint

    actions = offered(engines)
    routes = [  # each offered action's endpoint is the Routes method of its name (continue_ for continue)
        Route(f"/{API_VERSION}{row.path}", getattr(serving, Gentle(name).name) if name in actions else lacking(row.name), methods=[row.method])
        for name, row in ACTIONS.items()
    ]
    routes.append(Route(f"/{API_VERSION}{ACTIONS[Gentle.catalog].path}/{{model}}", serving.one_model, methods=["GET"]))  # the SDK's models.retrieve
    routes.append(Route(f"/{API_VERSION}{ACTIONS[Gentle.respond].path}/{{ident}}", serving.kept_response, methods=["GET"]))

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
