"""think in full, over a real socket: reasoning kept apart, pictures in as data URLs, tools on the wire and run to an answer."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from loopback import Answer, LoopbackServer, PNG_1x1, Stream, chat_answer, chat_chunk, sse, tool_call_chunk

from guide import AsyncGuide, Guide, PicturesNotTaken, RequestRefused, ToolsNotTaken, ToolsWentOn, Trace
from guide.client import _png
from guide.client._pictures import MAX_SIDE
from guide.client._tools import MAX_ROUNDS, tool_spec
from guide.learn.spec import check


def reasoning_chunk(name: str, text: str) -> dict[str, Any]:
    chunk = chat_chunk()
    chunk["choices"][0]["delta"] = {name: text}
    return chunk


# Reasoning, shown apart from the answer.


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_streams_before_the_answer_and_is_kept_apart(field: str, server: LoopbackServer) -> None:
    server.push(
        Stream(
            sse(
                reasoning_chunk(field, "Fira asks"),
                reasoning_chunk(field, " about lakes."),
                chat_chunk("Lakes"),
                chat_chunk(" are calm."),
                chat_chunk(finish="stop"),
            )
        )
    )
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("Tell me of lakes", stream=True)
        parts = list(reply.parts())
    assert parts == [("reasoning", "Fira asks"), ("reasoning", " about lakes."), ("answer", "Lakes"), ("answer", " are calm.")]
    assert (reply.reasoning, reply.text) == ("Fira asks about lakes.", "Lakes are calm.")
    assert reply.thought_ms is not None


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>Let me see.</think>\n\nHello, Fira."],
        ["<thi", "nk>Let me", " see.</th", "ink>", "\n\nHello", ", Fira."],
        ["\n<think>", "Let me see.", "</think>Hello, Fira."],
    ],
)
def test_inline_think_tags_are_reasoning_even_split_across_frames(pieces: list[str], server: LoopbackServer) -> None:
    server.push(Stream(sse(*(chat_chunk(piece) for piece in pieces), chat_chunk(finish="stop"))))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("Hello", stream=True)
        assert (reply.text, reply.reasoning) == ("Hello, Fira.", "Let me see.")


def test_a_think_tag_inside_an_answer_is_the_answer_s_own_words(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Write "), chat_chunk("<think> to open a thought."), chat_chunk(finish="stop"))))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("How?", stream=True)
        assert (reply.text, reply.reasoning) == ("Write <think> to open a thought.", "")


def test_a_whole_reply_with_think_tags_is_split_too(server: LoopbackServer) -> None:
    server.push(chat_answer("<think>Short.</think>\n\nHello."))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("Hello")
    assert (reply.text, reply.reasoning) == ("Hello.", "Short.")


def test_reasoning_is_never_sent_back(server: LoopbackServer) -> None:
    server.push(chat_answer("Hello.", reasoning="A long thought."))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        first = ai.think("Hello")
        ai.think([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": first.text}, {"role": "user", "content": "More"}])
    assert "A long thought" not in server.requests[-1].body.decode()


# Pictures in.


def test_a_picture_goes_as_a_data_url_content_part_the_spec_allows(server: LoopbackServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)
    traces: list[Trace] = []
    with Guide(base_url=server.url, model="loopback-model", on_trace=traces.append) as ai:
        ai.think("What is this?", images=[lake])
    body = server.requests[-1].json
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG_1x1).decode()}},
    ]
    assert check("think", body) == []
    trace = traces[-1]
    assert "lake.png was sent at 1×1." in trace.notes
    assert "images=[" in trace.gentle and "lake.png" in trace.gentle


def test_a_large_png_is_made_smaller_before_it_is_sent(server: LoopbackServer, tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    width, height = 1600, 40
    line = bytes(c for x in range(width) for c in (x % 256, 128, 200))
    wide.write_bytes(_png.encode_rgb(width, height, (b"\x00" + line) * height))
    traces: list[Trace] = []
    with Guide(base_url=server.url, model="loopback-model", on_trace=traces.append) as ai:
        ai.think("What is this?", images=[wide])
    url = server.requests[-1].json["messages"][-1]["content"][1]["image_url"]["url"]
    sent = base64.b64decode(url.split(",", 1)[1])
    assert _png.size_of(sent) == (MAX_SIDE, 26)
    assert any(f"sent at {MAX_SIDE}×26" in note and f"at most {MAX_SIDE} px" in note for note in traces[-1].notes)


def test_a_picture_past_the_limit_is_refused_before_any_request(server: LoopbackServer, tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(21 * 2**20)
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(RequestRefused) as refused:
        ai.think("What is this?", images=[huge])
    assert "at most 20 MB" in refused.value.title
    assert server.requests == []


def test_the_trace_keeps_a_picture_as_its_start_and_length(server: LoopbackServer) -> None:
    traces: list[Trace] = []
    with Guide(base_url=server.url, model="loopback-model", on_trace=traces.append) as ai:
        ai.think("What is this?", images=[PNG_1x1 * 20])
    shown = traces[-1].request_body["messages"][-1]["content"][1]["image_url"]["url"]
    assert shown.startswith("data:image/png;base64,") and shown.endswith(" characters>")


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (500, "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"),
        (400, "Invalid content type. image_url is only supported by certain models."),
    ],
)
def test_a_server_that_refuses_pictures_gets_the_calm_error(status: int, words: str, server: LoopbackServer) -> None:
    refusal = Answer(status, {"error": {"message": words, "type": "invalid_request_error", "code": None, "param": None}})
    server.push(refusal, refusal, refusal)
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(PicturesNotTaken) as refused:
        ai.think("What is this?", images=[PNG_1x1])
    assert refused.value.title == "This model does not take pictures."
    assert words in refused.value.detail


def test_the_probe_tells_whether_pictures_are_taken(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert ai.probe_pictures().support == "yes"
        refusal = Answer(400, {"error": {"message": "image input is not supported", "type": "invalid_request_error"}})
        server.push(refusal)
        finding = ai.probe_pictures()
    assert (finding.support, finding.reason) == ("no", "the model refused a picture: image input is not supported")
    assert server.requests[-1].json["max_tokens"] == 1


# Tools on the wire.


def now_in(zone: str, precise: bool = False) -> str:
    """The time now in a time zone."""
    return f"12:00 in {zone}" + (":00" if precise else "")


def test_a_typed_function_becomes_the_spec_s_tool_schema() -> None:
    def pick(colour: Literal["red", "blue"], sizes: list[int], note: str | None = None) -> str:
        """Pick a colour."""
        return colour

    assert tool_spec(pick) == {
        "type": "function",
        "function": {
            "name": "pick",
            "description": "Pick a colour.",
            "parameters": {
                "type": "object",
                "properties": {
                    "colour": {"enum": ["red", "blue"]},
                    "sizes": {"type": "array", "items": {"type": "integer"}},
                    "note": {"type": "string"},
                },
                "required": ["colour", "sizes"],
            },
        },
    }


def two_rounds(server: LoopbackServer) -> None:
    server.push(
        Stream(
            sse(
                tool_call_chunk(0, id="call_1", name="now_in", arguments='{"zo'),
                tool_call_chunk(0, arguments='ne": "UTC"}'),
                tool_call_chunk(0, finish="tool_calls"),
            )
        ),
        Stream(sse(chat_chunk("It is noon."), chat_chunk(finish="stop"))),
    )


def test_run_tools_goes_round_trips_until_an_answer(server: LoopbackServer) -> None:
    two_rounds(server)
    traces: dict[str, Trace] = {}
    with Guide(base_url=server.url, model="loopback-model", on_trace=lambda t: traces.setdefault(t.id, t)) as ai:
        reply = ai.think("What time is it?", tools=[now_in], run_tools=True, stream=True)
    assert reply.text == "It is noon."
    assert [r.tool_calls[0].shown() for r in reply.rounds] == ["now_in(zone='UTC')"]
    first, second = (request.json for request in server.requests)
    assert first["tools"] == [tool_spec(now_in)]
    assert second["messages"][-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "now_in", "arguments": '{"zone": "UTC"}'}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00 in UTC"},
    ]
    assert check("think", first) == [] and check("think", second) == []
    assert len(traces) == 2 and all(t.state == "done" for t in traces.values())
    assert "round 2" in list(traces.values())[1].gentle


def test_async_run_tools_answers_the_same_way(server: LoopbackServer) -> None:
    two_rounds(server)

    async def run() -> Any:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            return await ai.think("What time is it?", tools=[now_in], run_tools=True, stream=True)

    reply = asyncio.run(run())
    assert (reply.text, len(reply.rounds)) == ("It is noon.", 1)
    assert server.requests[-1].json["messages"][-1]["content"] == "12:00 in UTC"


def test_tool_calls_without_run_tools_are_the_caller_s_to_answer(server: LoopbackServer) -> None:
    call = {"id": "call_9", "type": "function", "function": {"name": "now_in", "arguments": '{"zone": "CET"}'}}
    server.push(chat_answer(None, tool_calls=[call]))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("What time is it?", tools=[now_in])
    assert (reply.text, reply.finish_reason) == ("", "tool_calls")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("call_9", "now_in", {"zone": "CET"})]


def test_arguments_the_function_refuses_are_told_to_the_model(server: LoopbackServer) -> None:
    bad = {"id": "call_1", "type": "function", "function": {"name": "now_in", "arguments": '{"city": "Oslo"}'}}
    server.push(chat_answer(None, tool_calls=[bad]), chat_answer("Sorry."))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert ai.think("Time?", tools=[now_in], run_tools=True).text == "Sorry."
    answered = server.requests[-1].json["messages"][-1]
    assert answered["role"] == "tool" and answered["content"].startswith("error: TypeError:")


def test_run_tools_stops_after_its_rounds(server: LoopbackServer) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "now_in", "arguments": '{"zone": "UTC"}'}}
    server.push(*(chat_answer(None, tool_calls=[call]) for _ in range(MAX_ROUNDS)))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ToolsWentOn):
        ai.think("Time?", tools=[now_in], run_tools=True)
    assert len(server.requests) == MAX_ROUNDS


def test_a_server_without_tools_gets_the_calm_error(server: LoopbackServer) -> None:
    server.push(*[Answer(500, {"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}})] * 3)
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ToolsNotTaken):
        ai.think("Time?", tools=[now_in])


@pytest.mark.parametrize(
    "frame",
    [
        {"tool_calls": {"index": 0}},
        {"tool_calls": [{"index": 999, "function": {"name": "x"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 7}}]},
    ],
)
def test_tool_calls_of_the_wrong_shape_end_the_reply_calmly(frame: dict[str, Any], server: LoopbackServer) -> None:
    from guide import ReplyNotUnderstood

    chunk = chat_chunk()
    chunk["choices"][0]["delta"] = frame
    server.push(Stream(sse(chunk)))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyNotUnderstood):
        "".join(ai.think("Time?", tools=[now_in], stream=True))


# The companion: its model answers tools with a function-calling format; the listener says plainly that it cannot.


def test_the_reflective_listener_says_plainly_it_calls_no_tools_and_sees_no_pictures() -> None:
    from guide.companion.running import start

    running = start("none")
    try:
        with Guide(base_url=running.url) as ai:
            with pytest.raises(ToolsNotTaken) as no_tools:
                ai.think("What time is it?", tools=[now_in])
            with pytest.raises(PicturesNotTaken):
                ai.think("What is this?", images=[PNG_1x1])
    finally:
        running.stop()
    assert "reflective listener does not call tools" in no_tools.value.detail


def test_the_companion_s_model_answers_a_tool_request() -> None:
    from guide.companion.engines import bundled_gguf
    from guide.companion.running import start

    if bundled_gguf() is None:
        pytest.skip("the companion's small model is not installed")
    running = start()
    try:
        with Guide(base_url=running.url) as ai:
            reply = ai.think("What is 12 times 7? Use the calculate tool.", tools=[calculate], stream=True, temperature=0.2, max_tokens=48)
            reply.text  # noqa: B018
    finally:
        running.stop()
    assert reply.finish_reason in ("tool_calls", "stop")
    if reply.tool_calls:  # SmolLM2-135M: the shape is right (a grammar sees to it), the arguments often are not
        assert reply.tool_calls[0].name == "calculate"


def calculate(expression: str) -> str:
    """Work out arithmetic."""
    return expression


def test_an_export_keeps_a_servers_escape_sequences_and_html_harmless() -> None:
    from guide.conversation import Turn, as_markdown

    thought = "fine\x1b]52;c;ZXZpbA==\x07 then </details><script>alert(1)</script>\x1b[2J"
    turns = [Turn("user", "hello"), Turn("assistant", "an answer\x1b[2J", data={"reasoning": thought, "thought_ms": 1200.0})]
    text = as_markdown("Export", turns)
    assert "\x1b" not in text and "\x07" not in text  # `cat export.md` sets no clipboard and clears no screen
    assert "<script>" not in text and text.count("</details>") == 1  # the thought cannot close its block or run script
    assert "&lt;script&gt;" in text and "an answer" in text


def test_a_think_tag_never_closed_leaves_what_came_as_the_answer(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("<think>I wonder"), chat_chunk(" about the lake."), chat_chunk(finish="stop"))))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("hi", stream=True)
        text = reply.text
    assert text == "I wonder about the lake." and reply.reasoning == ""
    assert any("never closed" in note for note in reply.trace.notes)
