"""What one request may cost the companion, and reading a request within it.

Every bound is checked before the work it bounds: the body as it is read (413 past the limit, 408 when it stalls),
the JSON values before parsing, the fields before an engine sees them; a refusal is OpenAI-shaped. Parsing runs off
the loop, but one long C call (`json.loads`) holds the GIL: hence the cap on JSON values, whose count decides its cost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message

from guide.constants import MAX_AUDIO

MAX_BODY = 8 * 1024 * 1024
"""A JSON body's size, at most: room for a picture in a chat message."""
MAX_JSON_VALUES = 100_000
"""Commas, colons and opening brackets in a JSON body, at most (inside strings too: counting is a byte count).
Parsing costs per value: 8 MB of `[[],[],…]` held the GIL for about a second; 100,000 values take about 30 ms,
while 8 MB of plain text takes 10 ms. No companion engine reads anywhere near this many values."""
MAX_SPEECH_CHARS = 4096
"""OpenAI's limit for /v1/audio/speech input."""
MAX_EMBED_INPUTS = 2048
"""OpenAI's limit for inputs in one embeddings request."""
MAX_EMBED_CHARS = 32_768
"""Characters in one input: OpenAI takes 8,192 tokens, about four characters each."""
MAX_EMBED_TOTAL = 1_000_000
"""Characters in all inputs of one request: under OpenAI's 300,000 tokens per request, and about 0.3 s of hashing here."""
SAMPLING = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias")
MAX_EMBED_TOKENS = 8192
"""Tokens in one input given as a token array: OpenAI's limit per input."""


class Refusal(Exception):
    """A request the companion answers with an OpenAI-shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code, self.close = status, message, kind, param, code, close

    def response(self) -> JSONResponse:
        """The error as the OpenAI API shapes it."""
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        headers = {"retry-after": "1"} if self.status == 429 else {}
        if self.close:  # the rest of the request is never read: the connection cannot carry another
            headers["connection"] = "close"
        return JSONResponse(body, status_code=self.status, headers=headers)


def refuse(status: int, message: str, **details: Any) -> JSONResponse:
    """An OpenAI-shaped error response."""
    return Refusal(status, message, **details).response()


class Slots:
    """How many engine calls may run at once (replies, vectors, speech, transcripts); one more is a 429, never a queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> None:
        """Take a slot, or refuse with 429."""
        if self.taken >= self.limit:
            raise Refusal(
                429,
                f"The companion is already making {self.limit} replies at once; try again in a moment.",
                kind="rate_limit_exceeded",
                code="too_many_replies",
            )
        self.taken += 1

    def give(self) -> None:
        """Give a slot back."""
        self.taken -= 1

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """A slot for the length of the block."""
        self.take()
        try:
            yield
        finally:
            self.give()


def too_large(limit: int, what: str = "The request body") -> Refusal:
    """413, and the connection closes: the rest of the body is never read."""
    return Refusal(413, f"{what} is over {limit // (1024 * 1024)} MB, the most this server accepts.", code="request_too_large", close=True)


async def read_body(request: Request, limit: int, *, stall: float, what: str = "The request body") -> bytes:
    """The whole body, refused with 413 the moment it passes `limit` (chunked or not), and 408 when it pauses longer than `stall`
    or takes over six times that in all (a client trickling a byte at a time cannot hold a connection for ever)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, what)
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 6 * stall
    while True:
        try:
            async with asyncio.timeout(min(stall, max(deadline - loop.time(), 0))):
                message = await request.receive()
        except TimeoutError:
            raise Refusal(
                408, f"The request body did not arrive in time (the client timeout is {stall:g} s).", code="request_timeout", close=True
            ) from None
        if message["type"] == "http.disconnect":
            raise Refusal(400, "The client went away before the body arrived.", close=True)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit, what)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def media_type(request: Request) -> str:
    """The Content-Type without its parameters, in lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_json(request: Request, *, stall: float) -> dict[str, Any]:
    """The request's JSON object: application/json only, within the size and value limits, parsed off the loop."""
    if media_type(request) != "application/json":
        raise Refusal(415, "Send the body as JSON, with Content-Type: application/json.", code="unsupported_media_type", close=True)
    body = await read_body(request, MAX_BODY, stall=stall)
    return await run_in_threadpool(parse_json, body)


def json_values(body: bytes) -> int:
    """How many JSON values a body holds, near enough (its commas, colons and opening brackets), counted without parsing it."""
    return sum(body.count(separator) for separator in (b",", b":", b"[", b"{"))


def too_many_values(body: bytes) -> bool:
    """Whether a body holds more JSON values than the companion reads (parsing it could hold the GIL for seconds)."""
    return json_values(body) > MAX_JSON_VALUES


def parse_json(body: bytes) -> dict[str, Any]:
    """A JSON object from bytes, every string in it well-formed text, or a 400 saying why not."""
    values = json_values(body)
    if values > MAX_JSON_VALUES:
        raise Refusal(
            400,
            f"The body holds too many JSON values ({values:,} commas, colons and brackets); this server reads at most {MAX_JSON_VALUES:,}.",
            code="too_many_values",
        )
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise Refusal(400, "The body is nested too deeply to read.") from None
    except (ValueError, UnicodeDecodeError) as error:
        if "integer string conversion" in str(error):  # Python's guard against numbers of thousands of digits
            raise Refusal(400, "A number in the body has too many digits to read.") from None
        raise Refusal(400, "The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise Refusal(400, "The body should be a JSON object.")
    for text in strings(parsed):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise Refusal(400, "The body holds a lone surrogate (an unpaired \\ud800–\\udfff escape), which is not text.") from None
    return parsed


def strings(value: Any) -> Iterator[str]:
    """Every string in parsed JSON, keys included (without recursion: the depth is the sender's)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


async def read_form(request: Request, *, stall: float) -> Any:
    """A multipart form, its size counted while it is read (a chunked upload included)."""
    if media_type(request) != "multipart/form-data":
        raise Refusal(415, "Send the audio as multipart/form-data with a 'file' field.", code="unsupported_media_type", close=True)
    body = await read_body(request, MAX_AUDIO, stall=stall, what="The upload")
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]

    async def replay() -> Message:
        await asyncio.sleep(0)  # the form parser runs on the loop: let others in between pieces
        piece = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    try:
        return await Request(request.scope, receive=replay).form(max_files=1, max_fields=20)
    except Exception:
        raise Refusal(400, "The multipart form could not be read.", param="file") from None


def need(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """A required field of the right type."""
    if name not in body:
        raise Refusal(400, f"'{name}' is required.", param=name, code="missing_required_parameter")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Refusal(400, f"'{name}' should be {what}.", param=name, code="invalid_type")
    return value


def sampling(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling options a generation takes (their shape is the spec's, checked before), `max_completion_tokens` as `max_tokens`."""
    options = {name: body[name] for name in SAMPLING if body.get(name) is not None}
    if body.get("max_completion_tokens") is not None:
        options["max_tokens"] = body["max_completion_tokens"]
    shape = json_shape(body.get("response_format"))
    if shape is not None:
        options["response_format"] = shape
    return options


def json_shape(given: Any) -> dict[str, Any] | None:
    """A response_format (or respond's text.format) asking for JSON, as llama-cpp-python takes it (`{"type": "json_object",
    "schema": ...}`: a grammar from the schema, or any JSON); None for plain text."""
    if not isinstance(given, dict) or given.get("type") not in ("json_object", "json_schema"):
        return None
    nested = given.get("json_schema")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else given  # chat nests it; responses does not
    schema = inner.get("schema")
    return {"type": "json_object", **({"schema": schema} if isinstance(schema, dict) else {})}


PICTURES_REFUSED = (
    "The companion does not take pictures: its engines read words only (image input is not supported). "
    "Send the words alone, or use a server with a vision model."
)
TOOLS_REFUSED = (
    "The companion's reflective listener does not call tools: it has no model to decide with. "
    "Load a model into the companion (guide serve --gguf FILE.gguf), or ask without tools."
)


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation as role and text (content parts joined), checked."""
    messages = need(body, "messages", list, "a list of messages")
    if not messages or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise Refusal(400, "'messages' should be a non-empty list of objects with a role.", param="messages")
    return [{"role": m["role"], "content": text_of(m.get("content"))} for m in messages]


def text_of(content: Any) -> str:
    """A message's text: a string, or the text of its content parts; a picture (audio, a file) is refused plainly, as the
    engines read words only and answering as if they had seen it would be pretending."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise Refusal(400, "A message's 'content' should be text or a list of content parts.", param="messages", code="invalid_type")
    if any(part.get("type") in ("image_url", "input_audio", "file") for part in content):
        raise Refusal(400, PICTURES_REFUSED, param="messages", code="image_input_not_supported")
    texts = [part.get("text") for part in content if part.get("type", "text") == "text"]
    if not all(isinstance(text, str) for text in texts):
        raise Refusal(400, "A text content part's 'text' should be text.", param="messages", code="invalid_type")
    return "".join(texts)


def prompt_text(body: dict[str, Any]) -> str:
    """A completion's prompt: text, or a list of texts (token arrays are not read here)."""
    prompt = need(body, "prompt", (str, list), "text")
    if isinstance(prompt, str):
        return prompt
    if not all(isinstance(p, str) for p in prompt):
        raise Refusal(400, "'prompt' should be text or a list of texts; this server does not read token arrays.", param="prompt", code="invalid_type")
    return " ".join(prompt)


def speech_text(body: dict[str, Any]) -> str:
    """What to speak: 1 to 4,096 characters, no NUL."""
    text: str = need(body, "input", str, "text")
    if not text.strip():
        raise Refusal(400, "'input' is empty: give the words to speak.", param="input")
    if len(text) > MAX_SPEECH_CHARS:
        raise Refusal(400, f"'input' is {len(text):,} characters; the most is {MAX_SPEECH_CHARS:,}.", param="input", code="string_above_max_length")
    if "\0" in text:
        raise Refusal(400, "'input' holds a NUL character, which is not text to speak.", param="input")
    return text


def embedding_inputs(body: dict[str, Any]) -> list[str | list[int]]:
    """The texts (or token arrays) to embed: at most 2,048, none empty, within the character and token caps."""
    given = need(body, "input", (str, list), "text or a list of texts")
    if isinstance(given, str) or (given and all(isinstance(t, int) and not isinstance(t, bool) for t in given)):
        texts = [given]  # one text, or one token array: [1, 2, 3]
    else:
        texts = given
    if not texts or not all(isinstance(t, str) or (isinstance(t, list) and all(isinstance(i, int) for i in t)) for t in texts):
        raise Refusal(400, "'input' should be text, a list of texts, or token arrays.", param="input", code="invalid_type")
    if len(texts) > MAX_EMBED_INPUTS:
        raise Refusal(400, f"'input' holds {len(texts):,} inputs; the most in one request is {MAX_EMBED_INPUTS:,}.", param="input")
    total = 0
    for text in texts:
        if not text:
            raise Refusal(400, "'input' cannot hold an empty text.", param="input")
        if len(text) > (MAX_EMBED_CHARS if isinstance(text, str) else MAX_EMBED_TOKENS):
            most = f"{MAX_EMBED_CHARS:,} characters" if isinstance(text, str) else f"{MAX_EMBED_TOKENS:,} tokens"
            raise Refusal(400, f"An input is {len(text):,} long; the most is {most}.", param="input")
        total += len(text)
    if total > MAX_EMBED_TOTAL:
        raise Refusal(400, f"The inputs hold {total:,} characters together; the most in one request is {MAX_EMBED_TOTAL:,}.", param="input")
    return texts


RESPONSE_ROLES = ("user", "assistant", "system", "developer")
"""The roles of the Responses API's input messages."""
RESPONSE_TEXT_PARTS = ("input_text", "output_text")
"""The content parts of an input message that carry text (pictures and files are passed over, as chat's are)."""


def response_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """respond's input as chat messages: `instructions` first, then each input message's text (other items, such as tool
    calls and their outputs, passed over as a server without tools would); nothing left to answer is a 400."""
    given = need(body, "input", (str, list), "text or a list of input items")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise Refusal(400, "This companion reads 'instructions' as text.", param="instructions", code="invalid_type")
    messages = [{"role": "system", "content": instructions}] if instructions else []
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    else:
        for item in given:
            if not isinstance(item, dict):
                raise Refusal(400, "'input' should be text or a list of input items (objects).", param="input", code="invalid_type")
            role = item.get("role")
            if item.get("type", "message") != "message" or role not in RESPONSE_ROLES:
                continue
            messages.append({"role": "system" if role == "developer" else role, "content": response_text(item.get("content"))})
    if not any(m["role"] == "user" for m in messages):
        raise Refusal(400, "'input' holds no user message to answer.", param="input")
    return messages


def response_text(content: Any) -> str:
    """An input message's text: a string, or the text of its input_text / output_text parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise Refusal(400, "An input message's 'content' should be text or a list of content parts.", param="input", code="invalid_type")
    texts = [part.get("text") for part in content if part.get("type") in RESPONSE_TEXT_PARTS]
    if not all(isinstance(text, str) for text in texts):
        raise Refusal(400, "A text content part's 'text' should be text.", param="input", code="invalid_type")
    return "".join(texts)


def response_sampling(body: dict[str, Any]) -> dict[str, Any]:
    """respond's sampling options, in the names a generation takes (`max_output_tokens` is chat's `max_tokens`)."""
    text = body.get("text")
    options = sampling(
        {name: body.get(name) for name in ("temperature", "top_p")} | {"response_format": text.get("format") if isinstance(text, dict) else None}
    )
    most = body.get("max_output_tokens")
    if most is not None:
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise Refusal(400, "'max_output_tokens' should be a whole number of at least 1.", param="max_output_tokens", code="invalid_type")
        options["max_tokens"] = most
    return options


REVISE_SYSTEM = "Rewrite the text as the instruction asks. Answer with the rewritten text only, nothing before or after it."
"""What the model is told for revise: the edits endpoint's models took the instruction and input alone."""


def edit_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """revise's request (`instruction`, and `input`, default "") as chat messages for the model, checked."""
    instruction = need(body, "instruction", str, "text")
    text = body.get("input", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise Refusal(400, "'input' should be text.", param="input", code="invalid_type")
    if not instruction.strip():
        raise Refusal(400, "'instruction' is empty: say how the text should change.", param="instruction")
    n = body.get("n")
    if n is not None and n != 1:
        raise Refusal(400, "This companion makes one edit at a time ('n' should be 1).", param="n")
    return [{"role": "system", "content": REVISE_SYSTEM}, {"role": "user", "content": f"Instruction: {instruction}\n\nText:\n{text}"}]
