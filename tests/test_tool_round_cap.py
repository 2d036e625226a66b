"""The app's tool loop stops: a model that asks for a tool on every round gets MAX_ROUNDS round trips, then a calm notice (issue 25: a mutation the suite missed)."""

from __future__ import annotations

from loopback import LoopbackServer, Stream, sse, tool_call_chunk
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send

from guide.client._tools import MAX_ROUNDS
from guide.tui.app import GuideApp


def test_a_model_that_always_asks_for_a_tool_is_stopped_after_the_last_round(server: LoopbackServer) -> None:
    asking = Stream(sse(tool_call_chunk(0, id="call_1", name="now", arguments="{}"), tool_call_chunk(0, finish="tool_calls")))
    server.push(*[asking] * (MAX_ROUNDS + 4))  # more than the cap allows: without it the app would go on asking

    async def script(pilot: Pilot[None]) -> list[str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "What time is it?")
        await settle(pilot, 0.5)
        return [f"{notice.title} {notice.message}" for notice in app.recent.said]

    notices = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model", "persona": "toolsmith"}), script)
    assert len(server.requests) == MAX_ROUNDS
    assert any("kept asking for tools" in notice for notice in notices), notices
