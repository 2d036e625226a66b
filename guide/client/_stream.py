"""Reading a streamed think or continue reply: SSE text in, checked reply pieces out. No I/O here."""

from __future__ import annotations

import json
import time
from typing import Any

from ._errors import GuideError, ReplyNotUnderstood, ReplyTooLarge, ServerFailed, StreamBrokeOff
from ._responses import Kind, error_detail, usage_of
from ._results import Answer
from ._secrets import Secrets, StreamScrubber, mask_spans
from ._sse import SSEDecoder
from ._trace import Trace

HEAD = 2000
PROGRESS_EVERY = 0.1
"""Seconds between the progress a stream reports to subscribers (a live row in the calls panel)."""
FIELDS = {"chat": ("content",), "completion": ("text",)}
"""The field that carries the answer in each kind of frame (`_mask_split_secrets` walks it)."""
THOUGHTS = ("reasoning_content", "reasoning")


class StreamReader:
    """Turns the text of an SSE stream into reply pieces, recording each frame.

    Every frame is checked against the shape the spec gives: text that is not
    text ends the reply as ReplyNotUnderstood; a field of the wrong shape
    that the reply does not need (usage, model, finish_reason, reasoning) is
    noted on the trace and ignored. Secrets are kept out of the frames and
    the pieces, even when a server echoes one a few characters at a time.
    """

    __slots__ = (
        "answer",
        "decoder",
        "head",
        "kind",
        "limit",
        "noted",
        "raw",
        "secrets",
        "size",
        "sources",
        "started",
        "text",
        "thought",
        "told",
        "trace",
    )

    def __init__(self, kind: Kind, answer: Answer, trace: Trace, started: float, *, secrets: Secrets = (), limit: int | None = None) -> None:
        self.kind = kind
        self.answer = answer
        self.trace = trace
        self.started = started
        self.decoder = SSEDecoder()
        self.head = ""
        """The first characters received, to show when they were no stream at all."""
        self.secrets = tuple(secrets)
        self.raw = StreamScrubber(self.secrets)
        self.text = StreamScrubber(self.secrets)
        self.thought = StreamScrubber(self.secrets)
        self.sources: list[tuple[int, str, str]] = []
        """Where each piece came from (frame, field, text as sent), to mask a secret split across frames."""
        self.limit = limit
        self.size = 0
        self.noted: set[str] = set()
        self.told = started
        """When subscribers last heard how the stream is going."""

    def due(self) -> bool:
        """Whether it is time to tell subscribers how the stream is going (at most every PROGRESS_EVERY)."""
        now = time.perf_counter()
        if now - self.told < PROGRESS_EVERY:
            return False
        self.told = now
        return True

    def feed(self, text: str) -> list[str]:
        """The text pieces completed by this part of the stream."""
        if len(self.head) < HEAD:
            self.head += text[: HEAD - len(self.head)]
        self.size += len(text)
        if self.limit is not None and self.size > self.limit:
            detail = f"The stream passed {self.limit // 2**20} MB, the most guide reads."
            raise ReplyTooLarge(partial=self.partial(), action=self.trace.action, url=self.trace.url, detail=detail)
        return self._read(self.decoder.feed(self.raw.feed(text)))

    def finish(self) -> list[str]:
        """The stream has closed: the last pieces, or StreamBrokeOff."""
        pieces = self._read(self.decoder.feed(self.raw.flush()) + self.decoder.close())
        pieces += self._flush()
        self._mask_split_secrets()
        answer = self.answer
        if not answer.done:
            if not self.trace.frames and self.head.strip():
                detail = "A stream of events was asked for; what came was not one."
                raise ReplyNotUnderstood(body=self.head, action=self.trace.action, url=self.trace.url, detail=detail)
            if answer.finish_reason is None:
                detail = "The connection closed before data: [DONE]."
                raise StreamBrokeOff(partial="".join(answer.pieces), action=self.trace.action, url=self.trace.url, detail=detail)
            answer.done = True
            self.trace.notes.append("The stream ended without data: [DONE]; the reply had finished.")
        return pieces

    def partial(self) -> str:
        """What arrived of the reply, held-back text included (for an error that ends it)."""
        self._flush()
        self._mask_split_secrets()
        return "".join(self.answer.pieces)

    def _flush(self) -> list[str]:
        rest = self.text.flush()
        thought = self.thought.flush()
        if thought:
            self.answer.reasoning.append(thought)
        if rest:
            self.answer.pieces.append(rest)
            return [rest]
        return []

    def _read(self, events: list[Any]) -> list[str]:
        if not events:
            return []
        answer = self.answer
        if answer.done:
            return []
        at = round((time.perf_counter() - self.started) * 1000, 1)
        frames = self.trace.frames
        out: list[str] = []
        for event in events:
            data = event.data
            frames.append((at, data))
            if data == "[DONE]":
                answer.done = True
                break
            try:
                chunk = json.loads(data)
            except (ValueError, RecursionError):
                raise self._not_understood(data, "A frame of the stream was not JSON (or was nested too deeply to read).") from None
            if not isinstance(chunk, dict):
                raise self._not_understood(data, "A frame of the stream was not the JSON object the spec gives.")
            if chunk.get("error") is not None or event.event == "error":
                raise self._error_in_stream(chunk)
            self._read_chunk(chunk, data, len(frames) - 1, out)
        return out

    def _read_chunk(self, chunk: dict[str, Any], data: str, frame: int, out: list[str]) -> None:
        # The hot path of a stream: one frame per token. Exact type checks, and the rare fields only when present.
        answer = self.answer
        usage = chunk.get("usage")
        if usage is not None:
            if usage_of(usage) is None:
                self._note("usage", "The server sent a usage that is not an object; guide ignored it.")
            else:
                answer.usage = usage
        if answer.model is None:
            model = chunk.get("model")
            if type(model) is str and model:
                answer.model = model
        choices = chunk.get("choices")
        if not choices:
            return
        if type(choices) is not list or type(choices[0]) is not dict:
            raise self._not_understood(data, "A frame's choices were not a list of objects.")
        choice = choices[0]
        chat = self.kind == "chat"
        holder = choice.get("delta") if chat else choice
        if holder is None:
            holder = {}
        elif type(holder) is not dict:
            raise self._not_understood(data, "A frame's delta was not an object.")
        name = "content" if chat else "text"
        content = holder.get(name)
        if content is not None:
            if type(content) is not str:
                raise self._not_understood(data, f"A frame's {name} was not text.")
            if content:
                self._take(frame, name, content, self.text, answer.pieces, out)
        if chat and ("reasoning_content" in holder or "reasoning" in holder):
            self._thought(holder, frame)
        finish = choice.get("finish_reason")
        if finish is not None:
            if type(finish) is str and finish:
                answer.finish_reason = finish
            elif type(finish) is not str:
                self._note("finish_reason", "The server sent a finish_reason that is not text; guide ignored it.")

    def _thought(self, holder: dict[str, Any], frame: int) -> None:
        """Reasoning, kept apart from the answer (`reasoning_content`, or `reasoning` where servers name it so)."""
        for name in THOUGHTS:
            thought = holder.get(name)
            if thought is None or thought == "":
                continue
            if type(thought) is str:
                self._take(frame, name, thought, self.thought, self.answer.reasoning, None)
                return
            self._note(name, f"The server sent a {name} that is not text; guide ignored it.")

    def _take(self, frame: int, name: str, text: str, scrubber: StreamScrubber, kept: list[str], out: list[str] | None) -> None:
        if self.secrets:
            self.sources.append((frame, name, text))
        shown = scrubber.feed(text)
        if shown:
            kept.append(shown)
            if out is not None:
                out.append(shown)

    def _note(self, field: str, note: str) -> None:
        if field not in self.noted:
            self.noted.add(field)
            self.trace.notes.append(note)

    def _mask_split_secrets(self) -> None:
        """Frames that each hold part of a secret get those parts masked (the pieces were scrubbed as they came)."""
        frames = self.trace.frames
        for names in (FIELDS[self.kind], THOUGHTS):
            sources = [source for source in self.sources if source[1] in names]
            masked = mask_spans([text for _, _, text in sources], self.secrets) if sources else None
            for (frame, name, text), hidden in zip(sources, masked or ()):
                if hidden == text:
                    continue
                chunk = json.loads(frames[frame][1])
                choice = chunk["choices"][0]
                (choice["delta"] if self.kind == "chat" else choice)[name] = hidden
                frames[frame] = (frames[frame][0], json.dumps(chunk, ensure_ascii=False))

    def _not_understood(self, data: str, detail: str) -> ReplyNotUnderstood:
        return ReplyNotUnderstood(partial=self.partial(), body=data, action=self.trace.action, url=self.trace.url, detail=detail)

    def _error_in_stream(self, chunk: dict[str, Any]) -> GuideError:
        return ServerFailed(
            "The server reported an error partway through the reply.",
            body=chunk,
            partial=self.partial(),
            action=self.trace.action,
            url=self.trace.url,
            detail=error_detail(chunk, json.dumps(chunk)),
        )
