"""Streaming: pieces in order, reasoning apart, usage at the end, closing at once."""

from __future__ import annotations

import asyncio

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse, wait_until

from guide import AsyncGuide, Guide


def test_think_streams_deltas_in_order(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("one two three", stream=True)
        pieces = list(reply)
    assert pieces == ["You", " said:", " one", " two", " three"]
    assert reply.text == "".join(pieces)
    assert server.requests[-1].json["stream"] is True
    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert reply.usage == {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    assert reply.done and reply.trace is not None and reply.trace.state == "done"


def test_iterating_a_finished_reply_again_gives_the_same_pieces(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("again", stream=True)
        assert list(reply) == list(reply)
        plain = ai.think("plain")
        assert list(plain) == ["You said: plain"]


def test_async_think_streams_with_async_for(server: LoopbackServer) -> None:
    async def go() -> list[str]:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            return [piece async for piece in ai.think("quiet lake", stream=True)]

    assert asyncio.run(go()) == ["You", " said:", " quiet", " lake"]


def test_awaiting_a_streamed_async_reply_gives_the_finished_reply(server: LoopbackServer) -> None:
    async def go() -> str:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            reply = await ai.think("quiet lake", stream=True)
            return reply.text

    assert asyncio.run(go()) == "You said: quiet lake"


def test_reasoning_content_is_kept_apart_from_the_answer(server: LoopbackServer) -> None:
    server.push(
        Stream(
            sse(
                chat_chunk(reasoning="Let me think. "),
                chat_chunk(reasoning="Yes."),
                chat_chunk("Calm "),
                chat_chunk("answer."),
                chat_chunk(finish="stop"),
            )
        )
    )
    with Guide(base_url=server.url, model="m") as ai:
        reply = ai.think("Why?", stream=True)
        assert list(reply) == ["Calm ", "answer."]
    assert reply.reasoning == "Let me think. Yes."


def test_a_server_that_ignores_include_usage_still_streams(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Fine."), chat_chunk(finish="stop"))))
    with Guide(base_url=server.url, model="m") as ai:
        reply = ai.think("Hi", stream=True)
        assert reply.text == "Fine."
    assert reply.usage is None
    assert reply.trace is not None and any("no usage" in note for note in reply.trace.notes)


def test_continue_streams_completion_text(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert list(ai.continue_("Once", stream=True)) == [" and so", " it goes on."]


def test_the_trace_keeps_each_frame_with_its_arrival_time(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("a b", stream=True)
        reply.text  # noqa: B018
    trace = reply.trace
    assert trace is not None and trace.stream
    assert trace.frames[-1][1] == "[DONE]"
    assert all(at >= 0 for at, _ in trace.frames)
    assert [at for at, _ in trace.frames] == sorted(at for at, _ in trace.frames)
    assert trace.ttfb_ms is not None and trace.total_ms is not None and trace.total_ms >= trace.ttfb_ms


def slow_stream(count: int = 200) -> Stream:
    return Stream(sse(*[chat_chunk(f"w{i} ") for i in range(count)], chat_chunk(finish="stop")), pause=0.05)


def test_closing_a_reply_early_closes_the_stream_and_keeps_what_came(server: LoopbackServer) -> None:
    server.push(slow_stream())
    traces = []
    with Guide(base_url=server.url, model="m", on_trace=traces.append) as ai:
        reply = ai.think("long", stream=True)
        first = [piece for _, piece in zip(range(2), reply)]
        reply.close()
    assert first == ["w0 ", "w1 "]
    assert reply.stopped and not reply.done
    assert reply.text == "w0 w1 "
    assert reply.trace is not None and reply.trace.state == "stopped"
    assert wait_until(lambda: server.closed_streams == 1, timeout=3)


def test_cancelling_the_task_closes_the_stream_at_once(server: LoopbackServer) -> None:
    server.push(slow_stream())

    async def go() -> tuple[list[str], str]:
        async with AsyncGuide(base_url=server.url, model="m") as ai:
            reply = ai.think("long", stream=True)
            seen: list[str] = []

            async def read() -> None:
                async for piece in reply:
                    seen.append(piece)

            task = asyncio.create_task(read())
            while len(seen) < 2:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert reply.trace is not None
            return seen, reply.trace.state

    seen, state = asyncio.run(go())
    assert seen[:2] == ["w0 ", "w1 "] and len(seen) < 10
    assert state == "stopped"
    assert wait_until(lambda: server.closed_streams == 1, timeout=3)


def test_async_reply_aclose_stops_the_stream_at_once(server: LoopbackServer) -> None:
    server.push(slow_stream())

    async def go() -> tuple[str, str]:
        async with AsyncGuide(base_url=server.url, model="m") as ai:
            reply = ai.think("long", stream=True)
            async for piece in reply:
                if piece == "w2 ":
                    break
            await reply.aclose()
            assert reply.trace is not None
            return reply.text, reply.trace.state  # stopped now, not when the garbage collector gets to it

    assert asyncio.run(go()) == ("w0 w1 w2 ", "stopped")
    assert wait_until(lambda: server.closed_streams == 1, timeout=3)


def test_on_trace_hears_of_a_call_when_it_starts_and_when_it_ends(server: LoopbackServer) -> None:
    states: list[tuple[str, str]] = []
    with Guide(base_url=server.url, model="loopback-model", on_trace=lambda t: states.append((t.id, t.state))) as ai:
        ai.think("Hi", stream=True).text  # noqa: B018
    assert [s for _, s in states] == ["running", "done"]
    assert states[0][0] == states[1][0]


def test_a_server_that_ignores_stream_and_answers_json_is_read_whole(server: LoopbackServer) -> None:
    from loopback import Answer

    whole = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "All at once."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
    }
    server.push(Answer(200, whole), Answer(200, whole))
    with Guide(base_url=server.url, model="m") as ai:
        reply = ai.think("Hi", stream=True)
        assert list(reply) == ["All at once."]
    assert reply.done and reply.usage == whole["usage"]
    assert reply.trace is not None and reply.trace.state == "done" and any("instead of a stream" in n for n in reply.trace.notes)

    async def go() -> str:
        async with AsyncGuide(base_url=server.url, model="m") as ai:
            return "".join([piece async for piece in ai.think("Hi", stream=True)])

    assert asyncio.run(go()) == "All at once."
