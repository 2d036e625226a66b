"""Reply and AsyncReply: the answer of a think or continue call.

`str(reply)` and `reply.text` are the answer. Iterating yields its pieces as they arrive (a finished reply, its text as
one piece), and again the same pieces. Closing early closes the HTTP stream at once and keeps what arrived, stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

from ._results import Answer
from ._tools import ToolCall, answered, as_tool_calls, asked
from ._trace import Trace

Part = tuple[str, str]
"""A piece of a streamed reply and what it is: ("reasoning", text), ("answer", text), or, with `run_tools`,
("tool", "now() → 12:00") as each tool call is answered."""


class _ReplyBase:
    def __init__(self, answer: Answer | None = None, trace: Trace | None = None) -> None:
        self.answer = answer or Answer()
        self.trace = trace
        """The call's trace (set as soon as the call starts)."""
        self.rounds: list[Any] = []
        """With `run_tools=True`: the replies before this one that asked for tools, oldest first (each with its trace)."""
        self.tools_used: list[tuple[ToolCall, str]] = []
        """With `run_tools=True`: each tool call of the rounds so far, and the text the model read back."""

    @property
    def reasoning(self) -> str:
        """The model's reasoning (`reasoning_content`, `reasoning`, or inline `<think>`), kept apart from the answer."""
        return "".join(self.answer.reasoning)

    @property
    def thought_ms(self) -> float | None:
        """When the reasoning ended, in ms from the start of the call (None: no reasoning)."""
        return self.answer.thought_ms

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls the reply asked for (empty when it answered in words)."""
        return as_tool_calls(self.answer.tool_calls)

    @property
    def tool_history(self) -> list[dict[str, Any]]:
        """With `run_tools=True`: the messages the tool rounds added, as they were sent (each round's assistant message asking
        for its tools, then the tools' answers). Sent again before this answer in later calls, the model keeps what it read."""
        results = iter(result for _, result in self.tools_used)
        messages: list[dict[str, Any]] = []
        for finished in self.rounds:
            calls = finished.tool_calls
            messages += [asked(finished.text, calls), *answered(calls, [next(results, "") for _ in calls])]
        return messages

    @property
    def usage(self) -> dict[str, Any] | None:
        """Token usage, where the server reported it."""
        return self.answer.usage

    @property
    def finish_reason(self) -> str | None:
        """Why the model stopped ("stop", "length", …)."""
        return self.answer.finish_reason

    @property
    def model(self) -> str | None:
        """The model that answered, as the server named it."""
        return self.answer.model

    @property
    def done(self) -> bool:
        """Whether the whole reply has arrived."""
        return self.answer.done

    @property
    def stopped(self) -> bool:
        """Whether the reply was closed before it finished."""
        return self.answer.stopped

    def _arrived(self, seen: list[Any]) -> list[Part]:
        """What arrived since `seen` (the answer read, counts of its reasoning and answer pieces, and of tools used; moved on):
        the reasoning first, each marked. With `run_tools` each round brings an answer of its own, read from its start."""
        answer = self.answer
        if seen[0] is not answer:
            seen[:3] = [answer, 0, 0]
        new = [("reasoning", text) for text in answer.reasoning[seen[1] :]] + [("answer", text) for text in answer.pieces[seen[2] :]]
        if len(self.tools_used) > seen[3]:
            new += [("tool", f"{call.shown()} → {result[:200]}") for call, result in self.tools_used[seen[3] :]]
        seen[1:] = [len(answer.reasoning), len(answer.pieces), len(self.tools_used)]
        return new

    def _so_far(self) -> str:
        return "".join(self.answer.pieces)

    def __repr__(self) -> str:
        state = "done" if self.done else "stopped" if self.stopped else "streaming"
        return f"<{type(self).__name__} {state} {self._so_far()[:40]!r}>"


class Reply(_ReplyBase):
    """A think or continue answer from `Guide`: iterate it to stream."""

    def __init__(self, source: Generator[None, None, None] | None = None, answer: Answer | None = None, trace: Trace | None = None) -> None:
        super().__init__(answer, trace)
        self._source = source

    @property
    def text(self) -> str:
        """The whole answer (waits for a stream to finish)."""
        for _ in self:
            pass
        return self._so_far()

    def __str__(self) -> str:
        return self.text

    def __iter__(self) -> Iterator[str]:
        index = 0
        while True:
            pieces = self.answer.pieces
            while index < len(pieces):
                yield pieces[index]
                index += 1
            if self._source is None:
                return
            try:
                next(self._source)
            except StopIteration:
                self._source = None

    def parts(self) -> Iterator[Part]:
        """The reasoning and the answer as they arrive, each piece marked: ("reasoning", text) or ("answer", text)."""
        seen: list[Any] = [None, 0, 0, 0]
        while True:
            yield from self._arrived(seen)
            if self._source is None:
                return
            try:
                next(self._source)
            except StopIteration:
                self._source = None

    def close(self) -> None:
        """Stop a streaming reply now: the HTTP stream closes, what came stays."""
        if self._source is not None:
            source, self._source = self._source, None
            source.close()

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncReply(_ReplyBase):
    """A think or continue answer from `AsyncGuide`.

    `await` it for the finished reply, or `async for` over it to stream.
    """

    def __init__(self, start: Callable[[AsyncReply], AsyncIterator[None]] | None = None) -> None:
        super().__init__()
        self._start: Callable[[AsyncReply], AsyncIterator[None]] | None = start
        self._source: AsyncIterator[None] | None = None

    @classmethod
    def finished(cls, answer: Answer, trace: Trace | None) -> AsyncReply:
        """A reply already read (a round of tools before the answer)."""
        reply = cls()
        reply.answer, reply.trace = answer, trace
        return reply

    @property
    def text(self) -> str:
        """What has arrived (all of it, once awaited or iterated to the end)."""
        return self._so_far()

    def __str__(self) -> str:
        return self._so_far()

    def __await__(self) -> Generator[Any, None, AsyncReply]:
        return self._complete().__await__()

    async def _complete(self) -> AsyncReply:
        async for _ in self:
            pass
        return self

    async def __aiter__(self) -> AsyncIterator[str]:
        if self._start is not None:
            self._source, self._start = self._start(self), None
        index, answer = 0, self.answer
        while True:
            if self.answer is not answer:  # the next round of tools: its answer is read from its start
                index, answer = 0, self.answer
            pieces = answer.pieces
            while index < len(pieces):
                yield pieces[index]
                index += 1
            if self._source is None:
                return
            try:
                await self._source.__anext__()
            except StopAsyncIteration:
                self._source = None

    async def parts(self) -> AsyncIterator[Part]:
        """The reasoning and the answer as they arrive, each piece marked: ("reasoning", text) or ("answer", text)."""
        if self._start is not None:
            self._source, self._start = self._start(self), None
        seen: list[Any] = [None, 0, 0, 0]
        while True:
            for part in self._arrived(seen):
                yield part
            if self._source is None:
                return
            try:
                await self._source.__anext__()
            except StopAsyncIteration:
                self._source = None

    async def aclose(self) -> None:
        """Stop a streaming reply now: the HTTP stream closes, what came stays."""
        self._start = None
        if self._source is not None:
            source, self._source = self._source, None
            await source.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> AsyncReply:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
