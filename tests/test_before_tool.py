"""The one tool loop's hook and Tool: a caller asks before each call runs, and a tool may be async (issue 25; the MCP issue needs both).

Each test drives guide's real client (or a real Conversation) against a loopback server, and reads what the model was sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from loopback import LoopbackServer, Stream, chat_chunk, sse, tool_call_chunk

from guide import AsyncGuide, Guide, Tool, ToolCall
from guide.conversation import Conversation, Event, ReplyEnded
from guide.models import ModelChoice
from guide.personas import FALLBACK

SPEC = {"type": "function", "function": {"name": "now_in", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}


def asks_then_answers(server: LoopbackServer, name: str = "now_in", words: str = "") -> None:
    """A round that says `words` and asks for a tool, then one that answers."""
    said = [chat_chunk(words)] if words else []
    server.push(
        Stream(sse(*said, tool_call_chunk(0, id="call_1", name=name, arguments='{"zone": "UTC"}'), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("It is noon."), chat_chunk(finish="stop"))),
    )


def tool_message(server: LoopbackServer) -> dict[str, Any]:
    sent: dict[str, Any] = server.requests[-1].json["messages"][-1]
    assert sent["role"] == "tool" and sent["tool_call_id"] == "call_1"
    return sent


def test_a_declined_call_is_not_run_and_the_model_reads_that_it_was_declined(server: LoopbackServer) -> None:
    asks_then_answers(server)
    ran: list[dict[str, Any]] = []
    asked: list[ToolCall] = []

    async def decline(call: ToolCall) -> bool:
        asked.append(call)
        return False

    def now_in(arguments: dict[str, Any]) -> str:
        ran.append(arguments)
        return "12:00"

    async def main() -> Any:
        tool = Tool(SPEC, now_in)
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            return await ai.think("Time?", tools=[tool], run_tools=True, stream=True, before_tool=decline)

    reply = asyncio.run(main())
    assert reply.text == "It is noon." and ran == [] and [call.shown() for call in asked] == ["now_in(zone='UTC')"]
    assert tool_message(server)["content"] == "The user declined this call."


def test_a_hook_that_answers_in_words_sends_those_words_instead(server: LoopbackServer) -> None:
    asks_then_answers(server)

    async def later(call: ToolCall) -> str:
        return "The user said: not now."

    async def main() -> Any:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            return await ai.think("Time?", tools=[Tool(SPEC, lambda arguments: "12:00")], run_tools=True, stream=True, before_tool=later)

    asyncio.run(main())
    assert tool_message(server)["content"] == "The user said: not now."


def test_a_tool_with_an_async_run_is_awaited_on_the_caller_s_loop_with_its_arguments(server: LoopbackServer) -> None:
    asks_then_answers(server)
    loops: list[Any] = []

    async def now_in(arguments: dict[str, Any]) -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return f"12:00 in {arguments['zone']}"

    async def allow(call: ToolCall) -> bool:
        return True

    async def main() -> Any:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            reply = await ai.think("Time?", tools=[Tool(SPEC, now_in)], run_tools=True, stream=True, before_tool=allow)
            return reply, asyncio.get_running_loop()

    reply, loop = asyncio.run(main())
    assert tool_message(server)["content"] == "12:00 in UTC" and loops == [loop]
    assert [(call.name, result) for call, result in reply.tools_used] == [("now_in", "12:00 in UTC")]
    assert server.requests[0].json["tools"] == [SPEC]


def test_an_async_tool_that_fails_is_told_to_the_model_and_the_loop_goes_on(server: LoopbackServer) -> None:
    asks_then_answers(server)

    async def broken(arguments: dict[str, Any]) -> str:
        raise RuntimeError("the clock is gone")

    async def main() -> Any:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            return await ai.think("Time?", tools=[Tool(SPEC, broken)], run_tools=True, stream=True)

    assert asyncio.run(main()).text == "It is noon."
    assert tool_message(server)["content"] == "error: RuntimeError: the clock is gone"


def test_the_sync_client_asks_a_plain_hook_before_each_call(server: LoopbackServer) -> None:
    asks_then_answers(server)
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("Time?", tools=[Tool(SPEC, lambda arguments: "12:00")], run_tools=True, stream=True, before_tool=lambda call: False)
    assert reply.text == "It is noon." and tool_message(server)["content"] == "The user declined this call."


def test_each_round_streams_as_it_comes_and_says_which_tool_answered(server: LoopbackServer) -> None:
    asks_then_answers(server, words="Let me look. ")

    async def main() -> list[tuple[str, str]]:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            reply = ai.think("Time?", tools=[Tool(SPEC, lambda arguments: "12:00")], run_tools=True, stream=True)
            return [part async for part in reply.parts()]

    parts = asyncio.run(main())
    assert parts == [("answer", "Let me look. "), ("tool", "now_in(zone='UTC') → 12:00"), ("answer", "It is noon.")]


def test_the_conversation_passes_its_hook_to_the_client_s_loop_and_keeps_what_the_tool_said(server: LoopbackServer) -> None:
    asks_then_answers(server, name="now")
    events: list[Event] = []
    persona = dataclasses.replace(FALLBACK, tools=("now",))
    talk = Conversation(
        persona, guide=AsyncGuide(base_url=server.url, max_retries=0), models=ModelChoice(chosen="loopback-model"), emit=events.append
    )
    asked: list[str] = []

    async def decline(call: ToolCall) -> str:
        asked.append(call.name)
        return "Declined by the user: they would rather not share the time."

    talk.before_tool = decline

    asyncio.run(talk.send("What time is it?"))
    assert asked == ["now"] and len(server.requests) == 2
    assert tool_message(server)["content"] == "Declined by the user: they would rather not share the time."
    turn = [event for event in events if isinstance(event, ReplyEnded)][-1].exchange.turn
    assert turn is not None and turn.content == "It is noon."
    assert turn.data is not None and turn.data["tools"] == [
        {"call": "now(zone='UTC')", "result": "Declined by the user: they would rather not share the time."}
    ]
    assert [m["role"] for m in turn.data["tool_history"]] == ["assistant", "tool"]


def test_the_next_message_sends_the_tool_rounds_before_the_reply_they_led_to(server: LoopbackServer) -> None:
    """Later turns sent only the reply's words: the model forgot what it had asked and read (a file, the time) and asked
    again, or answered from nothing. The rounds go back as they were sent, while the persona offers tools."""
    asks_then_answers(server, name="now", words="Let me look.")
    server.push(Stream(sse(chat_chunk("You're welcome."), chat_chunk(finish="stop"))))
    persona = dataclasses.replace(FALLBACK, tools=("now",))
    talk = Conversation(
        persona, guide=AsyncGuide(base_url=server.url, max_retries=0), models=ModelChoice(chosen="loopback-model"), emit=lambda event: None
    )

    async def main() -> None:
        await talk.send("What time is it?")
        await talk.send("Thanks.")
        talk.switch_persona(FALLBACK, "switched")  # no tools offered: some servers refuse tool messages then, so only words go
        await talk.send("Bye.")

    server.push(Stream(sse(chat_chunk("Goodbye."), chat_chunk(finish="stop"))))
    asyncio.run(main())
    assert [m["role"] for m in server.requests[3].json["messages"] if m["role"] != "system"] == ["user", "assistant"] * 2 + ["user"]
    assert server.requests[3].json["messages"][2]["content"] == "Let me look.\n\nIt is noon."
    rounds_sent = server.requests[1].json["messages"][-2:]  # the round as the tool loop sent it
    assert [m["role"] for m in rounds_sent] == ["assistant", "tool"] and rounds_sent[0]["tool_calls"][0]["id"] == "call_1"
    later = [m for m in server.requests[2].json["messages"] if m["role"] != "system"]
    assert later == [
        {"role": "user", "content": "What time is it?"},
        *rounds_sent,
        {"role": "assistant", "content": "It is noon."},
        {"role": "user", "content": "Thanks."},
    ]


def test_rounds_too_long_to_keep_leave_only_the_reply_s_words(server: LoopbackServer) -> None:
    """Kept with the turn (and the store), a round of long answers is bounded: past ROUNDS_KEPT no round is kept, so a model
    reading long files round after round does not grow the conversations file by megabytes a turn."""
    from guide.conversation.exchange import Exchange
    from guide.conversation.turns import ROUNDS_KEPT, TOOL_KEPT, Turn

    rounds = ROUNDS_KEPT // TOOL_KEPT + 1
    asking = Stream(sse(tool_call_chunk(0, id="call_1", name="now_in", arguments="{}"), tool_call_chunk(0, finish="tool_calls")))
    server.push(*[asking] * rounds, Stream(sse(chat_chunk("Read it all."), chat_chunk(finish="stop"))))

    async def main(size: int) -> Exchange:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as ai:
            reply = ai.think("Read.", tools=[Tool(SPEC, lambda arguments: "x" * size)], run_tools=True, stream=True)
            await reply
            return Exchange("Guide", reply, Turn("user", "Read."))

    short = asyncio.run(main(10)).tool_history
    assert len(short) == 2 * rounds and short[1]["content"] == "x" * 10
    server.push(*[asking] * rounds, Stream(sse(chat_chunk("Read it all."), chat_chunk(finish="stop"))))
    assert asyncio.run(main(TOOL_KEPT)).tool_history == []
