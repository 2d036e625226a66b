"""respond: the Responses API beside think — plain and streamed as typed events, over a real socket, untrusting of every event."""

from __future__ import annotations

import asyncio
import json

import pytest
from loopback import LoopbackServer, Stream, typed_events

from guide import ACTIONS, AsyncGuide, Guide, ReplyNotUnderstood, ServerFailed, StreamBrokeOff
from guide.wire_text import frames_text

SPEC_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]
"""The events of a reply of one message, in the order the spec gives them (deltas repeat)."""


def test_respond_is_on_the_map_beside_think() -> None:
    row = ACTIONS["respond"]
    assert (row.method, row.legacy_path, row.sdk_call) == ("POST", "/v1/responses", "responses.create")
    assert "think" in row.meaning and "typed events" in row.meaning and "output items" in row.meaning


def test_respond_sends_input_and_instructions_and_reads_the_output_items(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.respond("Hello", instructions="Be calm.", temperature=0.3)
    assert server.requests[-1].path == "/v1/responses"
    assert server.requests[-1].json == {"model": "loopback-model", "input": "Hello", "instructions": "Be calm.", "temperature": 0.3}
    assert str(reply) == "You said: Hello" and reply.finish_reason == "completed" and reply.model == "loopback-model"
    assert reply.usage == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert reply.trace is not None and reply.trace.tokens == 10 and not reply.trace.stream


def test_respond_streams_typed_events_each_kept_with_its_type_and_arrival(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.respond([{"role": "user", "content": "Tell me"}], stream=True)
        pieces = list(reply)
    assert server.requests[-1].json == {"model": "loopback-model", "input": [{"role": "user", "content": "Tell me"}], "stream": True}
    assert "".join(pieces) == "You said: Tell me" and len(pieces) == 4
    assert reply.usage and reply.finish_reason == "completed"
    trace = reply.trace
    assert trace is not None and trace.stream and trace.state == "done"
    kinds = [kind for _, kind, _ in trace.events()]
    assert kinds == ["response.created", *["response.output_text.delta"] * 4, "response.completed"]
    times = [at for at, _, _ in trace.events()]
    assert times == sorted(times) and all(at >= 0 for at in times)
    shown = frames_text(trace)
    assert shown.startswith("6 typed events") and "event: response.output_text.delta" in shown and "data: {" in shown


def test_async_respond_agrees_with_sync(server: LoopbackServer) -> None:
    async def go() -> tuple[str, str]:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            plain = await ai.respond("Hi")
            streamed = [piece async for piece in ai.respond("Hi", stream=True)]
        return plain.text, "".join(streamed)

    assert asyncio.run(go()) == ("You said: Hi", "You said: Hi")


def test_respond_on_the_companion_plain_and_streamed_in_the_specs_order(companion: str) -> None:
    with Guide(base_url=companion) as ai:
        plain = ai.respond("I am tired", instructions="Be calm.")
        streamed = ai.respond("I am tired", instructions="Be calm.", stream=True)
        text = streamed.text
    assert plain.text and plain.text == text  # the reflective listener answers the same words the same way
    assert plain.trace is not None and plain.trace.response_body["object"] == "response"
    kinds = [kind for _, kind, _ in streamed.trace.events()]  # type: ignore[union-attr]
    deduplicated = [kind for i, kind in enumerate(kinds) if i == 0 or kind != kinds[i - 1]]
    assert deduplicated == SPEC_ORDER
    numbers = [json.loads(data)["sequence_number"] for _, _, data in streamed.trace.events()]  # type: ignore[union-attr]
    assert numbers == list(range(len(kinds)))


def test_the_chat_turn_on_both_surfaces_gives_the_same_words_on_the_companion(companion: str) -> None:
    with Guide(base_url=companion) as ai:
        through_think = ai.think("The lake is calm today.", system="Be calm.").text
        through_respond = ai.respond("The lake is calm today.", instructions="Be calm.").text
    assert through_think == through_respond


def test_the_probe_tells_whether_a_server_has_respond(companion: str) -> None:
    with Guide(base_url=companion) as ai:
        assert ai.probe()["respond"].support == "yes"
    with LoopbackServer(offers={"/models", "/chat/completions"}) as without, Guide(base_url=without.url) as ai:
        assert ai.probe()["respond"].support == "no"


# A hostile server: every event is checked.


def streamed(server: LoopbackServer, frames: list[bytes], *, key: str | None = None) -> Guide:
    server.push(Stream(frames))
    return Guide(base_url=server.url, model="loopback-model", api_key=key, max_retries=0)


def test_an_event_that_is_not_json_is_not_understood_and_keeps_what_arrived(server: LoopbackServer) -> None:
    frames = [*typed_events(["Hello"], end=False), b"data: {not json\n\n"]
    with streamed(server, frames) as ai, pytest.raises(ReplyNotUnderstood) as caught:
        str(ai.respond("x", stream=True))
    assert caught.value.partial == "Hello" and caught.value.trace is not None and caught.value.trace.state == "failed"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"type": "response.output_text.delta", "delta": 42}, "delta was not text"),
        ({"delta": "no type"}, "had no type"),
        ([1, 2], "not the JSON object"),
        ({"type": "response.completed", "response": "done"}, "carried no response object"),
    ],
)
def test_an_event_of_the_wrong_shape_is_not_understood(server: LoopbackServer, event: object, words: str) -> None:
    with streamed(server, [f"data: {json.dumps(event)}\n\n".encode()]) as ai, pytest.raises(ReplyNotUnderstood) as caught:
        str(ai.respond("x", stream=True))
    assert words in caught.value.detail


def test_an_event_whose_name_and_type_disagree_is_not_understood(server: LoopbackServer) -> None:
    frame = b'event: response.completed\ndata: {"type": "response.output_text.delta", "delta": "x"}\n\n'
    with streamed(server, [frame]) as ai, pytest.raises(ReplyNotUnderstood) as caught:
        str(ai.respond("x", stream=True))
    assert "said its type was" in caught.value.detail


def test_an_error_event_or_a_failed_response_is_the_servers_failure(server: LoopbackServer) -> None:
    error = b'event: error\ndata: {"type": "error", "code": "server_error", "message": "The engine fell over.", "param": null}\n\n'
    with streamed(server, [*typed_events(["So far"], end=False), error]) as ai, pytest.raises(ServerFailed) as caught:
        str(ai.respond("x", stream=True))
    assert caught.value.detail == "The engine fell over." and caught.value.partial == "So far"
    failed = {"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error", "message": "No capacity."}}}
    with streamed(server, [f"data: {json.dumps(failed)}\n\n".encode()]) as ai, pytest.raises(ServerFailed) as caught:
        str(ai.respond("x", stream=True))
    assert caught.value.detail == "No capacity."


def test_a_stream_that_ends_before_response_completed_broke_off(server: LoopbackServer) -> None:
    with streamed(server, typed_events(["Half", " a reply"], end=False)) as ai, pytest.raises(StreamBrokeOff) as caught:
        str(ai.respond("x", stream=True))
    assert caught.value.partial == "Half a reply" and "response.completed" in caught.value.detail


def test_events_without_names_are_read_by_their_type_and_unknown_events_are_kept(server: LoopbackServer) -> None:
    unknown = b'data: {"type": "response.web_search_call.searching", "item_id": "ws_1", "output_index": 1, "sequence_number": 9}\n\n'
    frames = typed_events(["A", "B"], named=False)
    with streamed(server, [*frames[:2], unknown, *frames[2:]]) as ai:
        reply = ai.respond("x", stream=True)
        assert reply.text == "AB"
    assert "response.web_search_call.searching" in [kind for _, kind, _ in reply.trace.events()]  # type: ignore[union-attr]


def test_a_key_echoed_across_deltas_is_scrubbed_from_pieces_and_frames(server: LoopbackServer) -> None:
    key = "sk-secret-0123456789abcdef"
    with streamed(server, typed_events(["The key is ", key[:9], key[9:], "."]), key=key) as ai:
        reply = ai.respond("x", stream=True)
        text = reply.text
    assert key not in text and "The key is" in text
    assert reply.trace is not None and all(key[:9] not in data and key[9:] not in data for _, data in reply.trace.frames)


def test_reasoning_deltas_are_kept_apart_from_the_answer(server: LoopbackServer) -> None:
    thought = b'data: {"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0, "content_index": 0, "delta": "Hmm.", "sequence_number": 1}\n\n'
    frames = typed_events(["Yes."], named=False)
    with streamed(server, [frames[0], thought, *frames[1:]]) as ai:
        reply = ai.respond("x", stream=True)
        assert reply.text == "Yes." and reply.reasoning == "Hmm."
