"""The replay's side by side compares what matters: the answer's words and fields, with ids and times set apart."""

from __future__ import annotations

import itertools
from typing import Any

from loopback import Answer, LoopbackServer
from textual.pilot import Pilot
from textual.widgets import Static, TextArea
from tui_helpers import run_app, settle, type_and_send

from guide.tui.app import GuideApp
from guide.tui.screens.call_detail import CallDetail

ASKED = "Tell me about " + "the lake " * 10 + "at dawn"


class FreshIds(LoopbackServer):
    """Answers as real servers do: a new id and time on every reply."""

    counter = itertools.count(1)

    def default(self, request: Any) -> Any:
        answer = super().default(request)
        if isinstance(answer, Answer) and isinstance(answer.body, dict) and "choices" in answer.body:
            n = next(self.counter)
            answer.body = {**answer.body, "id": f"chatcmpl-{n:06d}", "created": 1_796_000_000 + n, "system_fingerprint": f"fp_{n}"}
        return answer


async def wait_for(pilot: Pilot[None], check: Any) -> Any:
    for _ in range(400):
        found = check()
        if found:
            return found
        await pilot.pause(0.025)
    raise AssertionError("it never came")


def test_at_80_columns_only_the_changed_answer_is_marked_and_the_change_is_on_screen() -> None:
    with FreshIds() as server:

        async def script(pilot: Pilot[None]) -> Any:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await type_and_send(pilot, ASKED)
            await pilot.press("f2", "enter")
            await settle(pilot)
            detail = app.screen
            assert isinstance(detail, CallDetail)
            await pilot.press("e")
            await settle(pilot)
            editor = app.screen.query_one("#replay-body", TextArea)
            row = next(i for i, line in enumerate(editor.text.split("\n")) if "at dawn" in line)
            editor.move_cursor((row, 0))
            await pilot.press("end", "left", *["backspace"] * 4, *"dusk", "ctrl+s")
            replay = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, CallDetail) and app.screen is not detail else None)
            await wait_for(pilot, lambda: "Comparing" not in str(replay.query_one("#beside-original", Static).render()))
            await settle(pilot)
            left = replay.query_one("#beside-original", Static)
            right = replay.query_one("#beside-replay", Static)
            return str(left.render()), str(right.render()), right.size.width

        left, right, width = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(80, 24))
    changed = [line for line in right.splitlines() if line.startswith("+")]
    assert len(changed) == 1, right  # the words of the answer, and nothing else: ids and times are set apart
    assert "ids and times (not compared): id chatcmpl-" in left and "ids and times (not compared): id chatcmpl-" in right
    assert "dusk" in changed[0][:width] and "dawn" in next(line for line in left.splitlines() if line.startswith("-"))[:width]


async def editing(pilot: Pilot[None], said: str) -> TextArea:
    """Say something, open its call from the calls panel, and e: the replay editor, as a user reaches it."""
    await type_and_send(pilot, said)
    await pilot.press("f2", "enter")
    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)
    return pilot.app.screen.query_one("#replay-body", TextArea)


def test_the_editor_keeps_its_place_when_stream_flips_and_explains_a_role_no_message_has(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        editor = await editing(pilot, "hello there")
        row = next(i for i, line in enumerate(editor.text.split("\n")) if '"role": "user"' in line)
        editor.move_cursor((row, 0))
        await pilot.press("end", "left", "left", *["backspace"] * 4, *"wizard")
        await pilot.pause(0.1)
        help_line = str(app.screen.query_one("#replay-help", Static).render())
        await pilot.press("ctrl+t")
        await pilot.pause(0.1)
        return help_line, row, editor.cursor_location[0]

    help_line, row, after = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(120, 36))
    assert "one of: developer, system, user, assistant, tool, function" in help_line and "wizard" in help_line
    assert abs(after - row) <= 2  # stream's line comes or goes above; the cursor stays where the user was


def test_esc_leaves_the_editor_and_e_brings_the_edits_back(server: LoopbackServer) -> None:
    from guide.tui.screens.replay import ReplayEditor

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        editor = await editing(pilot, "hello there")
        editor.move_cursor((1, 0))
        await pilot.press(*"zz")
        edited = editor.text
        await pilot.press("escape")  # the code editor kept Esc for itself: there was no way out but sending or quitting
        await settle(pilot)
        left = type(app.screen).__name__
        await pilot.press("e")
        await settle(pilot)
        back = app.screen.query_one("#replay-body", TextArea).text if isinstance(app.screen, ReplayEditor) else None
        return left, edited, back

    left, edited, back = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(120, 36))
    assert left == "CallDetail"
    assert back == edited and "zz" in back
