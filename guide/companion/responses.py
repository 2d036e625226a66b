"""The Responses API as the companion answers `respond`: one Response object, or its typed events; and the Responses kept.

The events come in the spec's order for a reply of one message (created, in_progress, output_item.added,
content_part.added, an output_text.delta per piece, then the .done events and completed), each one SSE frame
with its `event:` name and a `sequence_number`; an engine failing partway sends an `error` event, and there is
no `data: [DONE]`. The Response goes out three times in a stream: the last has the request's `instructions`
whole, the two snapshots before it only up to `ECHOED_EARLY` characters (8 MB of instructions came back as 24 MB)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .engines import Generation
from .limits import Refusal

ECHOED_EARLY = 4096
"""Characters of `instructions` that the snapshots before the reply (created, in_progress) echo; a persona's fit easily."""


def usage(generation: Generation) -> dict[str, Any]:
    """A chat generation's usage in the Responses API's words (input and output tokens)."""
    given, made = generation.usage.get("prompt_tokens", 0), generation.usage.get("completion_tokens", 0)
    return {
        "input_tokens": given,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": made,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": given + made,
    }


def text_part(text: str) -> dict[str, Any]:
    """An output_text content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message(ident: str, text: str | None, status: str) -> dict[str, Any]:
    """The reply as one output message (no content yet while `text` is None)."""
    return {"id": ident, "type": "message", "role": "assistant", "status": status, "content": [] if text is None else [text_part(text)]}


def shell(body: dict[str, Any], model: str, ident: str, created: int) -> dict[str, Any]:
    """A Response without its outcome: what the request asked for, echoed as the spec's Response has it."""
    instructions = body.get("instructions")
    return {
        "id": ident,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "max_output_tokens": body.get("max_output_tokens") if isinstance(body.get("max_output_tokens"), int) else None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id") if isinstance(body.get("previous_response_id"), str) else None,
        "temperature": _number(body.get("temperature"), 1.0),
        "top_p": _number(body.get("top_p"), 1.0),
        "tools": [],
        "tool_choice": "auto",
        "metadata": {},
        # No "usage" until the reply is whole: the spec's Response has it as an object, never null.
    }


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def finished(response: dict[str, Any], generation: Generation, text: str, item: str) -> dict[str, Any]:
    """The Response once the reply is whole: its message, status and usage."""
    cut = generation.finish_reason == "length"
    return {
        **response,
        "status": "incomplete" if cut else "completed",
        "completed_at": None if cut else int(time.time()),
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "output": [message(item, text, "incomplete" if cut else "completed")],
        "usage": usage(generation),
    }


def response_object(body: dict[str, Any], model: str, generation: Generation, text: str) -> dict[str, Any]:
    """The whole Response for a reply that is not streamed."""
    response = shell(body, model, "resp_" + uuid.uuid4().hex, int(time.time()))
    return finished(response, generation, text, "msg_" + uuid.uuid4().hex)


async def response_events(
    body: dict[str, Any],
    model: str,
    generation: Generation,
    first: str | None,
    more: Callable[[], Awaitable[str | None]],
    done: Callable[[], None],
    kept: Callable[[dict[str, Any]], None],
) -> AsyncIterator[bytes]:
    """The reply as the spec's typed events, each one SSE frame; `more()` gives the next piece (None at the end), `kept` the whole Response."""
    response = shell(body, model, "resp_" + uuid.uuid4().hex, int(time.time()))
    item = "msg_" + uuid.uuid4().hex
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        data = json.dumps({"type": kind, **fields, "sequence_number": sequence}, ensure_ascii=False)
        sequence += 1
        return f"event: {kind}\ndata: {data}\n\n".encode()

    at = {"item_id": item, "output_index": 0, "content_index": 0}
    early = response if len(response["instructions"] or "") <= ECHOED_EARLY else {**response, "instructions": None}
    try:
        yield event("response.created", response=early)
        yield event("response.in_progress", response=early)
        yield event("response.output_item.added", output_index=0, item=message(item, None, "in_progress"))
        yield event("response.content_part.added", **at, part=text_part(""))
        said: list[str] = []
        piece = first
        while piece is not None:
            said.append(piece)
            yield event("response.output_text.delta", **at, delta=piece, logprobs=[])
            piece = await more()
        text = "".join(said)
        whole = finished(response, generation, text, item)
        yield event("response.output_text.done", **at, text=text, logprobs=[])
        yield event("response.content_part.done", **at, part=text_part(text))
        yield event("response.output_item.done", output_index=0, item=whole["output"][0])
        kept(whole)
        yield event("response.incomplete" if whole["status"] == "incomplete" else "response.completed", response=whole)
    except Exception as error:  # an engine failing mid-reply: say so in the stream, as the spec's error event does
        yield event("error", code="server_error", message=f"The engine failed: {error}", param=None)
    finally:
        done()  # the engine stops (and lets go of its lock) once its current piece is made


MOST_KEPT = 256
MOST_BYTES = 8 * 1024 * 1024
"""Characters of conversation kept in all, at most (a response carries its whole conversation, so long chains weigh most)."""


class StoredResponses:
    """Each kept Response (`store: true`, the default), with the conversation it ended, for `previous_response_id` and
    GET /v1/responses/{id}: in memory only, the newest MOST_KEPT within MOST_BYTES; one gone or never kept is OpenAI's 404."""

    def __init__(self, most: int = MOST_KEPT, most_bytes: int = MOST_BYTES) -> None:
        self.most, self.most_bytes = most, most_bytes
        self.kept: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]], int]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()  # kept from the event loop and read from it; one lock keeps the count honest

    def keep(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        """Keep a finished Response and the conversation (without instructions: they do not carry over) that it ended."""
        weight = sum(len(str(m.get("content") or "")) for m in conversation) + len(str(response))
        with self.lock:
            self.kept[response["id"]] = (response, conversation, weight)
            self.size += weight
            while self.kept and (len(self.kept) > self.most or self.size > self.most_bytes):
                _, (_, _, gone) = self.kept.popitem(last=False)
                self.size -= gone

    def response(self, ident: str, param: str | None = None) -> dict[str, Any]:
        """The kept Response, or a 404."""
        return self._found(ident, param)[0]

    def conversation(self, ident: str) -> list[dict[str, Any]]:
        """The conversation a kept Response ended, for `previous_response_id`; a 404 naming the field if it is not kept."""
        return list(self._found(ident, "previous_response_id")[1])

    def _found(self, ident: str, param: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self.lock:
            found = self.kept.get(ident)
        if found is None:
            shown = ident if len(ident) <= 80 else ident[:80] + "…"
            raise Refusal(
                404,
                f"No response with id '{shown}' is kept here (this companion keeps the last {self.most} responses made with store: true, "
                "in memory, until it stops).",
                param=param,
                code="response_not_found",
            )
        return found[0], found[1]
