"""What a new user met on a first try after the day's big changes, each kept as the path they took."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from loopback import LoopbackServer
from test_learning import make_app, open_last_call, static_text, to_line
from textual.pilot import Pilot
from textual.widgets import TextArea
from tui_helpers import run_app, settle, type_and_send

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


def test_the_companion_tells_a_model_sent_as_a_number_that_it_should_be_a_string() -> None:
    from test_companion import serve

    with contextlib.closing(serve()) as running:
        served = next(running)
        answer = httpx.post(f"{served.url}/v1/chat/completions", json={"model": 5, "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        error = answer.json()["error"]
        assert answer.status_code == 400 and error["param"] == "model"
        assert error["message"].startswith("'model': should be a string, not an integer")
        assert "gpt-" not in error["message"]
