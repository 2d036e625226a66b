"""Reading replies, no I/O: what a driver received (status, headers, bytes or text) becomes plain results, or a
GuideError from the tree (streams: `_stream`)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from ._errors import GuideError, KeyRefused, ModelNotFound, NotOffered, RateLimited, ReplyNotUnderstood, RequestRefused, ServerFailed, TimedOut
from ._results import Answer, Catalog, ModelInfo, Transcript, Vector, Vectors, Verdict
from ._tools import tool_calls_of

Kind = Literal["chat", "completion", "response"]
"""What a streamable reply is: chat completion chunks (think), completion chunks (continue), typed Responses events (respond)."""
OPEN_THOUGHT, CLOSE_THOUGHT = "<think>", "</think>"
"""The tags some servers leave around a reasoning model's thoughts, inline in the content."""
NOT_JSON: Any = object()
LM_STUDIO_NO_ROUTE = "Unexpected endpoint or method"
_TAGS = re.compile(r"<[^>]+>")
STATUS_ERRORS: dict[int, type[GuideError]] = {401: KeyRefused, 403: KeyRefused, 404: NotOffered, 405: NotOffered, 501: NotOffered}
STATUS_ERRORS |= {408: TimedOut, 429: RateLimited}
"""The error for a status that names one (another 5xx is ServerFailed, another 4xx RequestRefused)."""


def decode_json(body: bytes | str) -> Any:
    """Parsed JSON, or NOT_JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deeper than Python reads
        return NOT_JSON


def error_detail(parsed: Any, text: str) -> str:
    """The server's own words about an error, in one line."""
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        detail = parsed.get("detail")
        if isinstance(detail, list):
            return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
        if detail:
            return str(detail)
        if parsed.get("message"):
            return str(parsed["message"])
    if parsed is NOT_JSON and "<" in text and ">" in text:
        words = " ".join(_TAGS.sub(" ", text).split())
        return f"(an HTML page) {words[:160]}".strip()
    return " ".join(text.split())[:240]


def _error_code(parsed: Any) -> str:
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return str(parsed["error"].get("code") or parsed["error"].get("type") or "")
    return ""


def error_for(status: int, body: bytes, *, url: str, action: str) -> GuideError:
    """The GuideError for an HTTP error status, with the raw legacy error."""
    text = body.decode("utf-8", "replace")
    parsed = decode_json(body)
    raw = text if parsed is NOT_JSON else parsed
    kind = STATUS_ERRORS.get(status) or (ServerFailed if status >= 500 else RequestRefused)
    if status == 404 and _error_code(parsed) == "model_not_found":
        kind = ModelNotFound
    return kind(status=status, body=raw, url=url, action=action, detail=error_detail(parsed, text))


def check_json(body: bytes, *, status: int, url: str, action: str) -> Any:
    """The parsed JSON of a successful reply, or the GuideError it really is."""
    parsed = decode_json(body)
    if parsed is NOT_JSON:
        raise ReplyNotUnderstood(status=status, body=body.decode("utf-8", "replace"), url=url, action=action, detail="The reply was not JSON.")
    if isinstance(parsed, dict) and "error" in parsed and len(parsed) <= 2:
        message = error_detail(parsed, "")
        kind = NotOffered if LM_STUDIO_NO_ROUTE in message else ServerFailed
        raise kind(status=status, body=parsed, url=url, action=action, detail=message)
    return parsed


def _shape_error(what: str, parsed: Any) -> ReplyNotUnderstood:
    return ReplyNotUnderstood(body=parsed, detail=f"Expected {what}.")


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def usage_of(value: Any) -> dict[str, Any] | None:
    """Usage as the spec gives it (an object), else None: a wrong shape is ignored, never trusted."""
    return value if isinstance(value, dict) and value else None


def parse_answer(kind: Kind, parsed: Any) -> Answer:
    """A finished think, continue or revise reply (an edit has a completion's choices), or respond's."""
    if kind == "response":
        return parse_response(parsed)
    try:
        choice = parsed["choices"][0]
        if kind == "chat":
            message = choice["message"]
            text = message.get("content")
            reasoning = _text_or_none(message.get("reasoning_content")) or _text_or_none(message.get("reasoning")) or ""
            calls = tool_calls_of(message["tool_calls"]) if message.get("tool_calls") is not None else []
        else:
            text = choice["text"]
            reasoning, calls = "", []
    except (KeyError, IndexError, TypeError, AttributeError):
        raise _shape_error("choices[0] with the reply", parsed) from None
    if text is None and kind == "chat":
        text = ""  # a reply of tool calls or a refusal has no content
    if not isinstance(text, str):
        raise _shape_error("the reply as text", parsed)
    if calls is None:
        raise _shape_error("tool_calls as the spec gives them (id, type, function with name and arguments)", parsed)
    if kind == "chat" and not reasoning:
        reasoning, text = split_thought(text)
    return Answer(
        pieces=[text],
        reasoning=[reasoning] if reasoning else [],
        tool_calls=calls,
        usage=usage_of(parsed.get("usage")),
        finish_reason=_text_or_none(choice.get("finish_reason")),
        model=_text_or_none(parsed.get("model")),
        done=True,
    )


def split_thought(text: str) -> tuple[str, str]:
    """Reasoning written inline as `<think>…</think>` at the start of a reply, and the answer after it."""
    stripped = text.lstrip()
    if not stripped.startswith(OPEN_THOUGHT) or CLOSE_THOUGHT not in stripped:
        return "", text
    thought, _, answer = stripped[len(OPEN_THOUGHT) :].partition(CLOSE_THOUGHT)
    return thought, answer.lstrip()


def parse_response(parsed: Any) -> Answer:
    """A finished respond reply: the text of its output messages, reasoning kept apart, the status as finish_reason.

    Items guide does not read (tool calls, searches) stay in the trace; a
    reply whose status is `failed` is the server's failure, said in a 200.
    """
    output = parsed.get("output") if isinstance(parsed, dict) else None
    if not isinstance(output, list) or not all(isinstance(item, dict) for item in output):
        raise _shape_error("output[] with the reply's items", parsed)
    pieces: list[str] = []
    thoughts: list[str] = []
    for item in output:
        if item.get("type") == "message":
            content = item.get("content")
            if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
                raise _shape_error("each output message's content as a list of parts", parsed)
            for part in content:
                if part.get("type") == "output_text":
                    if not isinstance(part.get("text"), str):
                        raise _shape_error("output_text parts with text", parsed)
                    pieces.append(part["text"])
        elif item.get("type") == "reasoning":
            for name in ("summary", "content"):
                parts = item.get(name)
                for part in parts if isinstance(parts, list) else ():
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        thoughts.append(part["text"])
    status = _text_or_none(parsed.get("status"))
    if status == "failed":
        raise ServerFailed(body=parsed, detail=response_failure(parsed))
    details = parsed.get("incomplete_details")
    reason = _text_or_none(details.get("reason")) if isinstance(details, dict) else None
    return Answer(
        pieces=["".join(pieces)],
        reasoning=["\n".join(thoughts)] if thoughts else [],
        usage=usage_of(parsed.get("usage")),
        finish_reason=reason or status,
        model=_text_or_none(parsed.get("model")),
        done=True,
    )


def response_failure(response: Any) -> str:
    """Why a response failed, in the server's words (its `error.message`), else a plain line."""
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        return str(error["message"])
    return "The server said the response failed, without saying why."


def parse_vectors(parsed: Any, *, single: bool) -> tuple[Vector | Vectors, str | None]:
    """The embeddings in input order, and a note if they needed pooling."""
    rows = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "embedding" in row for row in rows):
        raise _shape_error("data[].embedding", parsed)
    if not all(isinstance(row.get("index", 0), int) for row in rows):
        raise _shape_error("data[].index as a number", parsed)
    note = None
    vectors = Vectors()
    for row in sorted(rows, key=lambda row: row.get("index", 0)):
        embedding = row["embedding"]
        if isinstance(embedding, str):
            embedding = _unpack_base64_floats(embedding, parsed)
        elif isinstance(embedding, list) and embedding and all(isinstance(token, list) for token in embedding):
            # llama.cpp without pooling answers one vector per token: average them.
            if len({len(token) for token in embedding}) != 1:
                raise _shape_error("one embedding vector per token, all of one length", parsed)
            note = "The server gave one vector per token; guide averaged them (mean pooling)."
            embedding = [_mean(column, parsed) for column in zip(*embedding)]
        if not isinstance(embedding, list) or not all(_is_number(x) for x in embedding):
            raise _shape_error("embeddings as lists of numbers", parsed)
        vectors.append(Vector(float(x) for x in embedding))
    if single:
        if not vectors:
            raise _shape_error("one embedding", parsed)
        return vectors[0], note
    return vectors, note


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mean(column: tuple[Any, ...], parsed: Any) -> float:
    if not all(_is_number(x) for x in column):
        raise _shape_error("embeddings as lists of numbers", parsed)
    return float(sum(column)) / len(column)


def _unpack_base64_floats(text: str, parsed: Any) -> list[float]:
    import array

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _shape_error("a base64 embedding", parsed) from None
    if len(raw) % 4:
        raise _shape_error("a base64 embedding of 32-bit floats", parsed)
    values = array.array("f")
    values.frombytes(raw)
    return list(values)


def parse_pictures(parsed: Any) -> list[tuple[bytes | None, str | None, str | None]]:
    """Each image as (bytes from b64_json, or None; url, or None; revised prompt)."""
    try:
        rows = parsed["data"]
        out = []
        for row in rows:
            data = base64.b64decode(row["b64_json"], validate=True) if row.get("b64_json") else None
            url = _text_or_none(row.get("url"))
            if data is None and not url:
                raise KeyError("b64_json")
            out.append((data, url, _text_or_none(row.get("revised_prompt"))))
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error):
        raise _shape_error("data[] with b64_json or url", parsed) from None
    return out


def parse_transcript(body: bytes) -> Transcript:
    """The text of a transcription or translation (JSON, or plain text)."""
    parsed = decode_json(body)
    if parsed is NOT_JSON:
        return Transcript(body.decode("utf-8", "replace").strip())
    if isinstance(parsed, dict) and isinstance(parsed.get("text"), str):
        return Transcript(parsed["text"])
    raise _shape_error("an object with text", parsed)


SERVER_TYPES = {"llm": "chat", "vlm": "chat", "embeddings": "embedding", "embedding": "embedding"}
"""What LM Studio's `type` field says a model is for, in guide's words."""


def parse_catalog(parsed: Any) -> Catalog:
    """The models a server lists."""
    rows = parsed.get("data") if isinstance(parsed, dict) else parsed
    if isinstance(parsed, dict) and rows is None and isinstance(parsed.get("models"), list):
        rows = parsed["models"]
    if not isinstance(rows, list):
        raise _shape_error("data[] with the models", parsed)
    models = Catalog()
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            created = row.get("created")
            owner = _text_or_none(row.get("owned_by")) or ""
            when = created if isinstance(created, int) and not isinstance(created, bool) else None
            purpose = _text_or_none(row.get("purpose")) or SERVER_TYPES.get(str(row.get("type")), "")
            models.append(ModelInfo(row["id"], owner, when, purpose))
    if rows and not models:
        raise _shape_error("data[] of models, each with an id", parsed)
    return models


def parse_verdict(parsed: Any) -> Verdict:
    """The moderation verdict for the first input."""
    try:
        result = parsed["results"][0]
        return Verdict(
            flagged=bool(result["flagged"]),
            categories={str(k): bool(v) for k, v in (result.get("categories") or {}).items()},
            scores={str(k): float(v) for k, v in (result.get("category_scores") or {}).items()},
            model=parsed.get("model"),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise _shape_error("results[0].flagged", parsed) from None


def summarise_body(body: bytes, headers: Mapping[str, str]) -> Any:
    """A response body as a trace keeps it: JSON, text, or a note for binary."""
    media = headers.get("content-type", "")
    if media.startswith("audio/") or media.startswith("image/") or media == "application/octet-stream":
        return f"<binary: {len(body):,} bytes, {media}>"
    parsed = decode_json(body)
    if parsed is NOT_JSON:
        text = body.decode("utf-8", "replace")
        return text if len(text) <= 20_000 else text[:20_000] + f"… ({len(text):,} characters)"
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), list):
        for row in parsed["data"]:
            if isinstance(row, dict) and isinstance(row.get("b64_json"), str):
                row["b64_json"] = f"<base64: {len(row['b64_json']):,} characters>"
    return parsed
