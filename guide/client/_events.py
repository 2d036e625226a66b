"""Reading a streamed respond reply: typed Responses events in, checked reply pieces out. No I/O here.

Each SSE frame is one event whose `type` says which (the SSE `event:` line, where sent, says the same):
`response.created`, …, `response.output_text.delta` (the words), …, and last `response.completed` (the whole response,
with its usage), or `response.incomplete`, `response.failed`, or `error`. `Trace.events()` gives the frames back typed.
"""

from __future__ import annotations

import time
from typing import Any

from ._errors import StreamBrokeOff
from ._responses import response_failure, usage_of
from ._stream import PARTWAY, StreamReader, parse

TEXT_DELTA = "response.output_text.delta"
THOUGHT_DELTAS = frozenset({"response.reasoning_text.delta", "response.reasoning_summary_text.delta"})
"""Reasoning, kept apart from the answer as think keeps `reasoning_content`."""
ENDINGS = frozenset({"response.completed", "response.incomplete"})
"""The events that end a response that did not fail; each carries the whole response."""
BEGINNINGS = frozenset({"response.created", "response.in_progress"})


class EventReader(StreamReader):
    """Turns the text of a Responses stream into reply pieces, recording each event, as strictly as the chunk reader.

    Every frame must be a JSON object with a text `type` (agreeing with its SSE `event:` name); `error` and
    `response.failed` are the server's failure (ServerFailed, with what arrived); events guide does not read
    (tool calls, searches, annotations) are kept, not trusted.
    """

    __slots__ = ()
    END = "response.completed"

    def _read(self, events: list[Any]) -> list[str]:
        if not events:
            return []
        answer = self.answer
        if answer.done:
            return []
        at = round((time.perf_counter() - self.started) * 1000, 1)
        frames = self.trace.frames
        before = self.trace.frames_left_out  # frames are numbered from the start of the stream: kept ones and those left out
        keep = frames.append
        mark = self.kinds.append
        pieces = answer.pieces
        scrubbing = bool(self.secrets)
        out: list[str] = []
        for event in events:
            data = event.data
            keep((at, data))
            if data == "[DONE]":  # not the Responses API's, but some servers end every stream so
                if answer.finish_reason is None:
                    detail = "The stream said [DONE] before response.completed."
                    raise StreamBrokeOff(partial=self.partial(), action=self.trace.action, url=self.trace.url, detail=detail)
                answer.done = True
                break
            try:
                parsed = parse(data)
            except (ValueError, RecursionError):
                raise self._not_understood(data, "An event of the stream was not JSON (or was nested too deeply to read).") from None
            if scrubbing and "\\" in data:
                data, parsed = self._decoded(at, data, parsed)
            if type(parsed) is not dict:
                raise self._not_understood(data, "An event of the stream was not the JSON object the spec gives.")
            kind = parsed.get("type")
            mark(kind if type(kind) is str else "")
            named = event.event
            if kind == TEXT_DELTA and (named == "message" or named == TEXT_DELTA):  # the hot path: one event per token
                delta = parsed.get("delta")
                if type(delta) is not str:
                    raise self._not_understood(data, "A response.output_text.delta's delta was not text.")
                if delta:
                    if scrubbing:
                        self._take(before + len(frames) - 1, "delta", delta, self.text, pieces, out)
                    else:
                        pieces.append(delta)
                        out.append(delta)
                continue
            if type(kind) is not str:
                raise self._not_understood(data, "An event of the stream had no type.")
            if named != "message" and named != kind:
                raise self._not_understood(data, f"An event named {named[:60]!r} said its type was {kind[:60]!r}.")
            self._read_event(kind, parsed, data, before + len(frames) - 1)
            if answer.done:
                break
        self._bound()
        return out

    def _read_event(self, kind: str, event: dict[str, Any], data: str, frame: int) -> None:
        answer = self.answer
        if kind in THOUGHT_DELTAS:
            delta = event.get("delta")
            if type(delta) is str:
                if delta:
                    self._take(frame, "reasoning", delta, self.thought, answer.reasoning, None)
            else:
                self._note(kind, f"The server sent a {kind} whose delta is not text; guide ignored it.")
        elif kind == "error":
            raise self._failed(event, str(event.get("message") or PARTWAY))
        elif kind == "response.failed":
            raise self._failed(event, response_failure(event.get("response")))
        elif kind in ENDINGS or kind in BEGINNINGS:
            response = event.get("response")
            if type(response) is not dict:
                raise self._not_understood(data, f"A {kind} event carried no response object.")
            self._read_response(response)
            if kind in ENDINGS:
                details = response.get("incomplete_details")
                reason = details.get("reason") if isinstance(details, dict) else None
                status = response.get("status")
                answer.finish_reason = reason if type(reason) is str and reason else status if type(status) is str and status else kind
                answer.done = True

    def _read_response(self, response: dict[str, Any]) -> None:
        """What a response object says of the reply: its model, and (at the end) its usage."""
        answer = self.answer
        if answer.model is None and type(response.get("model")) is str and response["model"]:
            answer.model = response["model"]
        usage = response.get("usage")
        if usage is not None:
            if usage_of(usage) is None:
                self._note("usage", "The server sent a usage that is not an object; guide ignored it.")
            else:
                answer.usage = usage

    def _spot(self, chunk: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
        return chunk, "delta"  # the answer's and the reasoning's pieces alike
