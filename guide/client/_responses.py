"""Reading replies: legacy errors to GuideErrors, JSON to results, streams to text.

No I/O here: every function takes what a driver received (status, headers,
bytes or text) and returns plain results or raises from the error tree.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

from ._errors import (
    GuideError,
    KeyRefused,
    ModelNotFound,
    NotOffered,
    RateLimited,
    ReplyNotUnderstood,
    RequestRefused,
    ServerFailed,
    StreamBrokeOff,
    TimedOut,
)
from ._results import Answer, Catalog, ModelInfo, Transcript, Vector, Vectors, Verdict
from ._sse import SSEDecoder
from ._trace import Trace

Kind = Literal["chat", "completion"]
NOT_JSON: Any = object()
LM_STUDIO_NO_ROUTE = "Unexpected endpoint or method"
_TAGS = re.compile(r"<[^>]+>")


def decode_json(body: bytes | str) -> Any:
    """Parsed JSON, or NOT_JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
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
    kind: type[GuideError]
    if status in (401, 403):
        kind = KeyRefused
    elif status == 404 and _error_code(parsed) == "model_not_found":
        kind = ModelNotFound
    elif status in (404, 405, 501):
        kind = NotOffered
    elif status == 408:
        kind = TimedOut
    elif status == 429:
        kind = RateLimited
    elif status >= 500:
        kind = ServerFailed
    else:
        kind = RequestRefused
    error = kind(status=status, body=raw, url=url, action=action)
    error.detail = error_detail(parsed, text)
    return error


def check_json(body: bytes, *, status: int, url: str, action: str) -> Any:
    """The parsed JSON of a successful reply, or the GuideError it really is."""
    parsed = decode_json(body)
    if parsed is NOT_JSON:
        error: GuideError = ReplyNotUnderstood(status=status, body=body.decode("utf-8", "replace"), url=url, action=action)
        error.detail = "The reply was not JSON."
        raise error
    if isinstance(parsed, dict) and "error" in parsed and len(parsed) <= 2:
        message = error_detail(parsed, "")
        kind = NotOffered if LM_STUDIO_NO_ROUTE in message else ServerFailed
        error = kind(status=status, body=parsed, url=url, action=action)
        error.detail = message
        raise error
    return parsed


def _shape_error(what: str, parsed: Any) -> ReplyNotUnderstood:
    error = ReplyNotUnderstood(body=parsed)
    error.detail = f"Expected {what}."
    return error


def parse_answer(kind: Kind, parsed: Any) -> Answer:
    """A finished think or continue reply."""
    try:
        choice = parsed["choices"][0]
        if kind == "chat":
            message = choice["message"]
            text = message.get("content") or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        else:
            text = choice["text"]
            reasoning = ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise _shape_error("choices[0] with the reply", parsed) from None
    if not isinstance(text, str):
        raise _shape_error("the reply as text", parsed)
    return Answer(
        pieces=[text],
        reasoning=[reasoning] if reasoning else [],
        usage=parsed.get("usage") or None,
        finish_reason=choice.get("finish_reason"),
        model=parsed.get("model"),
        done=True,
    )


def parse_vectors(parsed: Any, *, single: bool) -> tuple[Vector | Vectors, str | None]:
    """The embeddings in input order, and a note if they needed pooling."""
    try:
        rows = sorted(parsed["data"], key=lambda row: row.get("index", 0))
        raw = [row["embedding"] for row in rows]
    except (KeyError, TypeError, AttributeError):
        raise _shape_error("data[].embedding", parsed) from None
    note = None
    vectors = Vectors()
    for embedding in raw:
        if isinstance(embedding, str):
            embedding = _unpack_base64_floats(embedding)
        elif embedding and isinstance(embedding[0], list):
            # llama.cpp without pooling answers one vector per token: average them.
            note = "The server gave one vector per token; guide averaged them (mean pooling)."
            embedding = [sum(column) / len(embedding) for column in zip(*embedding)]
        if not all(isinstance(x, (int, float)) for x in embedding):
            raise _shape_error("embeddings as numbers", parsed)
        vectors.append(Vector(float(x) for x in embedding))
    if single:
        if not vectors:
            raise _shape_error("one embedding", parsed)
        return vectors[0], note
    return vectors, note


def _unpack_base64_floats(text: str) -> list[float]:
    import array

    values = array.array("f")
    values.frombytes(base64.b64decode(text))
    return list(values)


def parse_pictures(parsed: Any) -> list[tuple[bytes | None, str | None, str | None]]:
    """Each image as (bytes from b64_json, or None; url, or None; revised prompt)."""
    try:
        rows = parsed["data"]
        out = []
        for row in rows:
            data = base64.b64decode(row["b64_json"], validate=True) if row.get("b64_json") else None
            url = row.get("url")
            if data is None and not url:
                raise KeyError("b64_json")
            out.append((data, url, row.get("revised_prompt")))
    except (KeyError, TypeError, AttributeError, binascii.Error):
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
            models.append(ModelInfo(row["id"], str(row.get("owned_by") or ""), created if isinstance(created, int) else None))
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


HEAD = 2000


class StreamReader:
    """Turns the text of an SSE stream into reply pieces, recording each frame."""

    __slots__ = ("answer", "decoder", "head", "kind", "started", "trace")

    def __init__(self, kind: Kind, answer: Answer, trace: Trace, started: float) -> None:
        self.kind = kind
        self.answer = answer
        self.trace = trace
        self.started = started
        self.decoder = SSEDecoder()
        self.head = ""
        """The first characters received, to show when they were no stream at all."""

    def feed(self, text: str) -> list[str]:
        """The text pieces completed by this part of the stream."""
        if len(self.head) < HEAD:
            self.head += text[: HEAD - len(self.head)]
        return self._read(self.decoder.feed(text))

    def finish(self) -> list[str]:
        """The stream has closed: the last pieces, or StreamBrokeOff."""
        pieces = self._read(self.decoder.close())
        answer = self.answer
        if not answer.done:
            if not self.trace.frames and self.head.strip():
                strange = ReplyNotUnderstood(body=self.head, action=self.trace.action, url=self.trace.url)
                strange.detail = "A stream of events was asked for; what came was not one."
                raise strange
            if answer.finish_reason is None:
                error = StreamBrokeOff(partial="".join(answer.pieces) + "".join(pieces), action=self.trace.action, url=self.trace.url)
                error.detail = "The connection closed before data: [DONE]."
                raise error
            answer.done = True
            self.trace.notes.append("The stream ended without data: [DONE]; the reply had finished.")
        return pieces

    def _read(self, events: list[Any]) -> list[str]:
        if not events:
            return []
        answer = self.answer
        if answer.done:
            return []
        at = round((time.perf_counter() - self.started) * 1000, 1)
        frames = self.trace.frames
        chat = self.kind == "chat"
        out: list[str] = []
        for event in events:
            data = event.data
            frames.append((at, data))
            if data == "[DONE]":
                answer.done = True
                break
            try:
                chunk = json.loads(data)
                if "error" in chunk or event.event == "error":
                    raise self._error_in_stream(chunk, out)
                if chunk.get("usage"):
                    answer.usage = chunk["usage"]
                if chunk.get("model") and answer.model is None:
                    answer.model = chunk["model"]
                choices = chunk.get("choices")
                if not choices:
                    continue
                choice = choices[0]
                if chat:
                    delta = choice.get("delta") or {}
                    content = delta.get("content")
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    if thought:
                        answer.reasoning.append(thought)
                else:
                    content = choice.get("text")
                if content:
                    out.append(content)
                    answer.pieces.append(content)
                if choice.get("finish_reason"):
                    answer.finish_reason = choice["finish_reason"]
            except (ValueError, AttributeError, TypeError, IndexError, KeyError):
                error = ReplyNotUnderstood(partial="".join(answer.pieces), body=data, action=self.trace.action, url=self.trace.url)
                error.detail = "A frame of the stream was not the JSON the spec gives."
                raise error from None
        return out

    def _error_in_stream(self, chunk: Any, out: list[str]) -> GuideError:
        error = ServerFailed(
            "The server reported an error partway through the reply.",
            body=chunk,
            partial="".join(self.answer.pieces),
            action=self.trace.action,
            url=self.trace.url,
        )
        error.detail = error_detail(chunk, json.dumps(chunk))
        return error
