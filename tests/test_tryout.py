"""What a new user met on a first try after the day's big changes, each kept as the path they took."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse, tool_call_chunk
from test_learning import make_app, open_last_call, static_text, to_line
from textual.pilot import Pilot
from textual.widgets import TextArea
from tui_helpers import run_app, settle, transcript_text, type_and_send

from guide.tui.app import GuideApp


def test_a_model_typed_as_a_number_in_the_replay_editor_is_said_to_be_text_not_refused_for_missing_every_openai_name(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello there")
        await open_last_call(pilot)
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen.query_one("#replay-body", TextArea)
        await to_line(pilot, editor, '"model": "loopback-model"')
        await pilot.press(*["backspace"] * len('"loopback-model",'), "5", ",")
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        return static_text(app.screen, "#replay-problems")

    problems = run_app(make_app(server), script, size=(140, 44))
    assert "model: should be a string, not an integer" in problems
    assert "gpt-" not in problems  # a server's own model names are as good as OpenAI's: the list is no help here


@pytest.fixture(scope="module")
def companion() -> Iterator[Any]:
    from test_companion import serve

    yield from serve()


@pytest.mark.parametrize(
    ("fields", "param", "said"),
    [
        ({"model": 5}, "model", "should be a string, not an integer"),  # not the 85 OpenAI names of one branch
        ({"stop": []}, "stop", "has 0 items; the spec asks for at least 1"),  # an array is allowed: not "should be a string or null"
        ({"stop": 5}, "stop", "should be a string or an array or null, not an integer"),  # the array branch is named too
    ],
    ids=["model", "stop-empty", "stop-number"],
)
def test_the_companion_says_what_a_union_field_takes(companion: Any, fields: dict[str, Any], param: str, said: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    answer = httpx.post(f"{companion.url}/v1/chat/completions", json=body, timeout=30)
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["param"] == param, error
    assert error["message"].startswith(f"'{param}': {said}"), error["message"]
    assert "gpt-" not in error["message"]


def words_then_a_tool(server: LoopbackServer) -> None:
    """A model that says a sentence, asks for a tool in the same round, then answers with another sentence."""
    server.push(
        Stream(
            sse(
                chat_chunk("Let me count."),
                tool_call_chunk(0, id="call_1", name="calculate", arguments='{"expression": "2+3"}'),
                tool_call_chunk(0, finish="tool_calls"),
            )
        ),
        Stream(sse(chat_chunk("It is 5."), chat_chunk(finish="stop"))),
    )


def test_the_words_of_a_round_before_a_tool_stay_apart_from_the_answer_after_it_in_guide_ask(server: LoopbackServer, run_guide: Any) -> None:
    words_then_a_tool(server)
    result = run_guide("ask", "What is 2+3?", "--base-url", server.url, "--model", "loopback-model", "--persona", "toolsmith")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Let me count.\n\nIt is 5.\n"  # not "Let me count.It is 5."


def test_the_words_of_a_round_before_a_tool_stay_apart_on_screen_and_in_the_store(server: LoopbackServer) -> None:
    words_then_a_tool(server)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "What is 2+3?")
        await settle(pilot, 0.3)
        reply = app.chat.transcript.last_message("assistant")
        assert reply is not None
        return transcript_text(app)[-1][2], reply.text, app.session.conversation.turns[-1].content

    shown, drawn, kept = run_app(make_app(server, persona="toolsmith"), script)
    assert shown == drawn == kept == "Let me count.\n\nIt is 5."
