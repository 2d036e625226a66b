"""Reading a streamed think or continue reply: SSE text in, checked reply pieces out. No I/O here."""

from __future__ import annotations

import json
import time
from typing import Any

from ._errors import GuideError, ReplyNotUnderstood, ReplyTooLarge, ServerFailed, StreamBrokeOff
from ._responses import CLOSE_THOUGHT, OPEN_THOUGHT, Kind, error_detail, usage_of
from ._results import Answer
from ._secrets import Secrets, StreamScrubber, mask_spans, scrub, scrub_decoded
from ._sse import SSEDecoder
from ._trace import FRAMES_FIRST, FRAMES_LAST, ChunkKinds, Trace

HEAD = 2000
PARTWAY = "The server reported an error partway through the reply."
PROGRESS_EVERY = 0.1
"""Seconds between the progress a stream reports to subscribers (a live row in the calls panel)."""
FIELDS = {"chat": ("content",), "completion": ("text",), "response": ("delta",)}
"""The field that carries the answer in each kind of frame (`_mask_split_secrets` walks it)."""
THOUGHTS = ("reasoning_content", "reasoning")
MAX_TOOL_CALLS = 64
"""Tool calls read from one stream (more is not a reply guide trusts)."""


_decode = json.JSONDecoder().raw_decode


def parse(data: str) -> Any:
    """`json.loads(data)`, a microsecond sooner for the usual frame (a third of the reader's time per token).

    Anything unusual (space around the value, not JSON at all) goes to `json.loads`, so what is accepted and the error raised are the same.
    """
    try:
        value, end = _decode(data)
    except ValueError:
        return json.loads(data)
    return value if end == len(data) else json.loads(data)


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag` (held back until the next piece says)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class InlineThought:
    """Reasoning written inline, `<think>…</think>` at the start of the content, split from the answer across frames.

    Only a reply that begins with the tag is split: a `<think>` later in an answer is the answer's own text. Once the
    answer has begun, the reader stops asking (no cost on the hot path).
    """

    __slots__ = ("held", "state")

    def __init__(self) -> None:
        self.state = "start"
        self.held = ""

    @property
    def settled(self) -> bool:
        """The answer has begun and nothing is held: the rest is answer."""
        return self.state == "answer" and not self.held

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """The pieces this text completes, each (is it reasoning?, text)."""
        out: list[tuple[bool, str]] = []
        text, self.held = self.held + text, ""
        while text:
            if self.state == "start":
                stripped = text.lstrip()
                if len(stripped) < len(OPEN_THOUGHT) and OPEN_THOUGHT.startswith(stripped):
                    self.held = text  # still may become the tag
                    return out
                if not stripped.startswith(OPEN_THOUGHT):
                    self.state = "answer"
                    continue
                self.state, text = "thinking", stripped[len(OPEN_THOUGHT) :]
            elif self.state == "thinking":
                at = text.find(CLOSE_THOUGHT)
                if at >= 0:
                    if at:
                        out.append((True, text[:at]))
                    self.state, text = "after", text[at + len(CLOSE_THOUGHT) :]
                    continue
                keep = _partial_tag(text, CLOSE_THOUGHT)
                if len(text) > keep:
                    out.append((True, text[: len(text) - keep]))
                self.held = text[len(text) - keep :] if keep else ""
                return out
            elif self.state == "after":
                text = text.lstrip()  # the blank line between the thought and the answer
                if text:
                    self.state = "answer"
            else:
                out.append((False, text))
                return out
        return out

    def flush(self) -> list[tuple[bool, str]]:
        """What was held when the stream ended."""
        held, self.held = self.held, ""
        if not held:
            return []
        return [(self.state == "thinking", held)]


class StreamReader:
    """Turns the text of an SSE stream into reply pieces, recording each frame.

    Every frame is checked against the shape the spec gives: text that is not text ends the reply as ReplyNotUnderstood; a field of the
    wrong shape that the reply does not need (usage, model, finish_reason, reasoning) is noted on the trace and ignored. Secrets are kept
    out of the frames and the pieces, even when a server echoes one a few characters at a time.
    """

    END = "data: [DONE]"
    """What ends a stream that finished (a connection closed before it, with no finish_reason, broke off)."""

    __slots__ = (
        "answer",
        "at",
        "decoder",
        "head",
        "inline",
        "kind",
        "kinds",
        "kinds_of",
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
        """Where each piece came from (frame, field, text as sent), to mask a secret split across frames.

        A frame is numbered from the start of the stream, kept or not (`_kept` finds it among the frames kept)."""
        self.kinds: list[str] = []
        """The kind of each frame in the trace's frames (`ChunkKinds`, or respond's event type), to count those left out."""
        self.kinds_of = ChunkKinds()
        self.limit = limit
        self.size = 0
        self.noted: set[str] = set()
        self.inline: InlineThought | None = InlineThought() if kind == "chat" else None
        """Splits `<think>` tags from the answer until the answer has begun (then None)."""
        self.at = 0.0
        """When the frames being read arrived, in ms from the start."""
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
        unclosed = self.inline is not None and self.inline.state == "thinking"
        pieces += self._flush()
        self._mask_split_secrets()
        answer = self.answer
        if unclosed and not "".join(answer.pieces).strip() and answer.reasoning:
            # `<think>` opened and never closed: what came is all there is, so it is the answer, not a thought.
            words = "".join(answer.reasoning)
            answer.reasoning.clear()
            answer.thought_ms = None
            answer.pieces.append(words)
            pieces.append(words)
            self.trace.notes.append("The reply opened <think> and never closed it: guide shows what came as the answer.")
        if not answer.done:
            if not self.trace.frames and self.head.strip():
                detail = "A stream of events was asked for; what came was not one."
                raise ReplyNotUnderstood(body=self.head, action=self.trace.action, url=self.trace.url, detail=detail)
            if answer.finish_reason is None:
                detail = f"The connection closed before {self.END}."
                raise StreamBrokeOff(partial="".join(answer.pieces), action=self.trace.action, url=self.trace.url, detail=detail)
            answer.done = True
            self.trace.notes.append("The stream ended without data: [DONE]; the reply had finished.")
        return pieces

    def partial(self) -> str:
        """What arrived of the reply, held-back text included (for an error that ends it)."""
        self._bound()
        self._flush()
        self._mask_split_secrets()
        return "".join(self.answer.pieces)

    def _flush(self) -> list[str]:
        out: list[str] = []
        if self.inline is not None:
            for is_thought, text in self.inline.flush():
                self._feed(text, self.thought if is_thought else self.text, out)
        rest = self.text.flush()
        thought = self.thought.flush()
        if thought:
            self.answer.reasoning.append(thought)
        if rest:
            self.answer.pieces.append(rest)
            out.append(rest)
        if self.answer.reasoning and self.answer.thought_ms is None:
            self.answer.thought_ms = round((time.perf_counter() - self.started) * 1000, 1)
        return out

    def _read(self, events: list[Any]) -> list[str]:
        if not events:
            return []
        answer = self.answer
        if answer.done:
            return []
        at = self.at = round((time.perf_counter() - self.started) * 1000, 1)
        frames = self.trace.frames
        before = self.trace.frames_left_out  # frames are numbered from the start of the stream: kept ones and those left out
        kinds = self.kinds
        scrubbing = bool(self.secrets)
        out: list[str] = []
        for event in events:
            data = event.data
            frames.append((at, data))
            if data == "[DONE]":
                answer.done = True
                break
            try:
                chunk = parse(data)
            except (ValueError, RecursionError):
                raise self._not_understood(data, "A frame of the stream was not JSON (or was nested too deeply to read).") from None
            if scrubbing and "\\" in data:
                data, chunk = self._decoded(at, data, chunk)
            if not isinstance(chunk, dict):
                raise self._not_understood(data, "A frame of the stream was not the JSON object the spec gives.")
            kinds.append(self.kinds_of.of(chunk))
            if chunk.get("error") is not None or event.event == "error":
                raise self._failed(chunk, error_detail(chunk, json.dumps(chunk)))
            self._read_chunk(chunk, data, before + len(frames) - 1, out)
        self._bound()
        return out

    def _bound(self) -> None:
        """Keep the first FRAMES_FIRST frames and the last FRAMES_LAST; those between are counted by kind on the trace."""
        frames, kinds = self.trace.frames, self.kinds
        cut = len(frames) - FRAMES_LAST
        if cut <= FRAMES_FIRST:
            return
        kinds += [""] * (len(frames) - len(kinds))  # the last frame, if it ended the stream before its kind was known
        self.trace.leave_out(kinds[FRAMES_FIRST:cut])
        del frames[FRAMES_FIRST:cut], kinds[FRAMES_FIRST:cut]

    def _kept(self, frame: int) -> int | None:
        """Where the stream's frame number `frame` is among the trace's frames, or None if it was left out."""
        if frame < FRAMES_FIRST:
            return frame
        at = frame - self.trace.frames_left_out
        return at if at >= FRAMES_FIRST else None

    def _decoded(self, at: float, data: str, parsed: Any) -> tuple[str, Any]:
        """The frame just kept, and its value, with any secret its JSON escapes spell scrubbed (the raw text held none plainly)."""
        clean, parsed = scrub_decoded(data, parsed, self.secrets)
        if clean is not data:
            self.trace.frames[-1] = (at, clean)
        return clean, parsed

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
                if self.inline is None and not self.secrets and (answer.thought_ms is not None or not answer.reasoning):
                    answer.pieces.append(content)  # the hot path: nothing to scrub, no thinking to end (as _take does it)
                    out.append(content)
                elif self.inline is None:
                    self._take(frame, name, content, self.text, answer.pieces, out)
                else:
                    self._inline(frame, content, out)
        if chat:
            if "reasoning_content" in holder or "reasoning" in holder:
                self._thought(holder, frame)
            calls = holder.get("tool_calls")
            if calls is not None:
                self._tool_calls(calls, data)
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
            if out is not None and self.answer.reasoning and self.answer.thought_ms is None:
                self.answer.thought_ms = self.at  # the answer begins: the thinking is over
            kept.append(shown)
            if out is not None:
                out.append(shown)

    def _inline(self, frame: int, content: str, out: list[str]) -> None:
        """Content that may begin with `<think>`: the thought goes with the reasoning, the rest with the answer."""
        assert self.inline is not None
        if self.secrets:
            self.sources.append((frame, "content", content))  # as sent, whole: masking edits the frame's content
        for is_thought, text in self.inline.feed(content):
            self._feed(text, self.thought if is_thought else self.text, out)
        if self.inline.settled:
            self.inline = None

    def _feed(self, text: str, scrubber: StreamScrubber, out: list[str]) -> None:
        shown = scrubber.feed(text)
        if not shown:
            return
        if scrubber is self.thought:
            self.answer.reasoning.append(shown)
            return
        if self.answer.thought_ms is None and self.answer.reasoning:
            self.answer.thought_ms = self.at
        self.answer.pieces.append(shown)
        out.append(shown)

    def _tool_calls(self, value: Any, data: str) -> None:
        """A frame's tool-call deltas, joined into the calls by their index (a name once, the arguments piece by piece)."""
        if type(value) is not list:
            raise self._not_understood(data, "A frame's tool_calls were not a list.")
        calls = self.answer.tool_calls
        for position, item in enumerate(value):
            if type(item) is not dict:
                raise self._not_understood(data, "A frame's tool call was not an object.")
            index = item.get("index", position)
            if type(index) is not int or not 0 <= index < MAX_TOOL_CALLS:
                raise self._not_understood(data, f"A frame's tool call had no index from 0 to {MAX_TOOL_CALLS - 1}.")
            while len(calls) <= index:
                calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
            call = calls[index]
            ident = item.get("id")
            if type(ident) is str and ident:
                call["id"] = ident
            function = item.get("function")
            if function is None:
                continue
            if type(function) is not dict:
                raise self._not_understood(data, "A frame's tool call function was not an object.")
            name, arguments = function.get("name"), function.get("arguments")
            if type(name) is str and name:
                call["function"]["name"] = name
            if type(arguments) is str:
                call["function"]["arguments"] += arguments
            elif type(arguments) is dict:
                call["function"]["arguments"] += json.dumps(arguments)
            elif arguments is not None:
                raise self._not_understood(data, "A frame's tool call arguments were not text.")

    def _note(self, field: str, note: str) -> None:
        if field not in self.noted:
            self.noted.add(field)
            self.trace.notes.append(note)

    def _mask_split_secrets(self) -> None:
        """Frames that each hold part of a secret get those parts masked (the pieces were scrubbed as they came).

        A tool call's fields, joined from pieces, are scrubbed whole.
        """
        for call in self.answer.tool_calls if self.secrets else ():
            call["id"] = scrub(call["id"], self.secrets)
            function = call["function"]
            function["name"], function["arguments"] = scrub(function["name"], self.secrets), scrub(function["arguments"], self.secrets)
        frames = self.trace.frames
        for names in (FIELDS[self.kind], THOUGHTS):
            sources = [source for source in self.sources if source[1] in names]
            masked = mask_spans([text for _, _, text in sources], self.secrets) if sources else None
            for (number, name, text), hidden in zip(sources, masked or ()):
                frame = self._kept(number)
                if hidden == text or frame is None:
                    continue
                chunk = json.loads(frames[frame][1])
                holder, field = self._spot(chunk, name)
                holder[field] = hidden
                frames[frame] = (frames[frame][0], json.dumps(chunk, ensure_ascii=False))

    def _spot(self, chunk: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
        """Where in a kept frame the piece tagged `name` was read from: the object that holds it, and its field."""
        choice = chunk["choices"][0]
        return choice["delta"] if self.kind == "chat" else choice, name

    def _not_understood(self, data: str, detail: str) -> ReplyNotUnderstood:
        return ReplyNotUnderstood(partial=self.partial(), body=data, action=self.trace.action, url=self.trace.url, detail=detail)

    def _failed(self, frame: dict[str, Any], detail: str) -> GuideError:
        """The server's own failure, said in a frame of the stream (chat's `error` chunk, respond's `error` or `response.failed`)."""
        return ServerFailed(PARTWAY, body=frame, partial=self.partial(), action=self.trace.action, url=self.trace.url, detail=detail)
