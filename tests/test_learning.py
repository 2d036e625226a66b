"""Learning the API by doing, through the keys a user presses: the tour, replay with edits, every field explained."""

from __future__ import annotations

import re
import shutil
from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from textual.widgets import Static, TabbedContent, TextArea
from tui_helpers import panel_rows, run_app, settle, stored_id, type_and_send, wait_until_connected

from guide.client import ACTIONS
from guide.learn.tour import STEPS
from guide.tui.app import GuideApp
from guide.tui.screens.call_detail import CallDetail


async def wait_for(pilot: Pilot[None], check: Any, tries: int = 400) -> Any:
    """Pause until check() gives something true (the tour's worker waits on its screens, so settle() would wait forever)."""
    for _ in range(tries):
        found = check()
        if found:
            return found
        await pilot.pause(0.025)
    raise AssertionError("it never came")


async def ask_for(pilot: Pilot[None], line: str) -> None:
    """A command in the composer and Enter, without waiting for workers (the tour's waits on its screens)."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    app.chat.composer.text = line
    await pilot.press("enter")
    await pilot.pause(0.1)


def tour_step(app: GuideApp) -> CallDetail | None:
    screen = app.screen
    # Once its words are composed: a loaded machine shows the screen a moment before its children.
    return screen if isinstance(screen, CallDetail) and screen.lesson is not None and screen.query("#lesson") else None


def static_text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def take_steps(pilot: Pilot[None], count: int) -> list[tuple[str, str, bool | None, str]]:
    """Press Enter through `count` steps: (heading, the call's summary, offered, the words over it) of each."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    seen = []
    for _ in range(count):
        step = await wait_for(pilot, lambda: tour_step(app) if tour_step(app) not in [s for s, *_ in seen] else None)
        seen.append((step, f"{step.trace.summary()} · {step.trace.gentle}", step.lesson.offered, static_text(step, "#lesson")))
        await pilot.press("enter")
    return [(s.lesson.heading, summary, offered, words) for s, summary, offered, words in seen]


def test_the_whole_tour_on_the_companion_every_step_a_real_call(monkeypatch: Any) -> None:
    monkeypatch.setenv("GUIDE_GGUF", "none")  # the companion as a new user without the model meets it

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        await ask_for(pilot, "/tour")
        steps = await take_steps(pilot, len(STEPS))
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.pause(0.2)
        return steps, panel_rows(app), app.session.tour.position

    steps, rows, position = run_app(GuideApp(), script, size=(120, 40))
    assert [heading.split(" · ")[1].split(" → ")[0] for heading, *_ in steps] == [
        "catalog", "think", "respond", "continue", "revise", "understand", "discern", "imagine", "speak", "listen", "interpret"
    ]  # fmt: skip
    assert {heading.split(" · ")[1].split(" → ")[0] for heading, *_ in steps} == set(ACTIONS)
    for heading, summary, offered, words in steps:
        action = heading.split(" · ")[1].split(" → ")[0]
        assert heading.startswith("Tour ") and ACTIONS[action].endpoint in heading
        assert summary.startswith(f"{action} → {ACTIONS[action].endpoint}")
        assert "⏎ the next step · Esc ends the tour" in words.splitlines()[0]  # the keys, where a short screen still shows them
        if offered:
            assert " 200" in summary and "Look at " in words
    # The reflective listener cannot draw: the step shows the probe's 404, as it went on the wire.
    imagine = next(step for step in steps if "imagine" in step[0])
    assert imagine[2] is False and " 404" in imagine[1] and "does not offer imagine" in imagine[3]
    assert imagine[1].endswith("ai.probe()")  # as the probe found it: no call spent on a route that is not there
    # The tour's calls are real calls in the calls panel like any other (the probe's are kept under the server).
    revise = next(step for step in steps if "revise" in step[0])
    assert revise[2] is False and " 404" in revise[1] and "does not offer revise" in revise[3]
    # The companion speaks through espeak-ng where it is on the PATH; elsewhere the step says it is not offered, as for imagine.
    speak = next(step for step in steps if "speak" in step[0])
    speaks = shutil.which("espeak-ng") is not None
    assert speak[2] is speaks and (" 200" in speak[1] if speaks else "does not offer speak" in speak[3]), speak
    for action in ("catalog", "think", "respond", "continue", "understand", *(["speak"] if speaks else [])):
        assert any(row.startswith(action) for row in rows), (action, rows)
    assert position == 0  # finished: /tour starts again from the first step


def test_esc_ends_the_tour_and_tour_takes_it_up_where_it_stopped(monkeypatch: Any) -> None:
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        await pilot.press("f1")
        await pilot.press("t")  # F1's help offers the tour first
        first = await take_steps(pilot, 2)
        third = await wait_for(pilot, lambda: tour_step(app) if tour_step(app) and tour_step(app).lesson.number == 3 else None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        stopped_at = app.session.tour.position
        await ask_for(pilot, "/tour")
        again = await wait_for(pilot, lambda: tour_step(app))
        resumed = again.lesson.heading
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await ask_for(pilot, "/tour again")
        restarted = (await wait_for(pilot, lambda: tour_step(app))).lesson.heading
        await pilot.press("escape")
        return [h for h, *_ in first], third.lesson.heading, stopped_at, resumed, restarted

    first, third, stopped_at, resumed, restarted = run_app(GuideApp(), script, size=(120, 40))
    steps = len(STEPS)
    assert first[0].startswith(f"Tour 1 of {steps} · catalog") and first[1].startswith(f"Tour 2 of {steps} · think")
    assert third.startswith(f"Tour 3 of {steps} · respond") and stopped_at == 2
    assert resumed == third
    assert restarted.startswith(f"Tour 1 of {steps} · catalog")


async def open_last_call(pilot: Pilot[None]) -> CallDetail:
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await pilot.press("f2")
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, CallDetail)
    return app.screen


async def to_line(pilot: Pilot[None], area: TextArea, words: str) -> int:
    """Put the cursor at the end of the first line holding `words` (as a click there would); its row."""
    row = next(i for i, line in enumerate(area.text.split("\n")) if words in line)
    area.focus()
    area.move_cursor((row, 0))
    await pilot.press("end")
    await pilot.pause()
    return row


def test_replay_an_edited_think_call_schema_error_first_then_streaming_flipped(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello there")
        detail = await open_last_call(pilot)
        sent_before = len(server.requests)
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen.query_one("#replay-body", TextArea)
        # Make the user message's role a wizard, key by key.
        row = await to_line(pilot, editor, '"content": "hello there"')
        await to_line(pilot, editor, '"role": "user"')
        assert editor.cursor_location[0] == row - 1
        await pilot.press("left", "left", *["backspace"] * 4, *"wizard")
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        problems = static_text(app.screen, "#replay-problems")
        nothing_sent = len(server.requests) == sent_before
        # Put it right, flip streaming off, and send.
        await pilot.press("end", "left", "left", *["backspace"] * 6, *"user")
        await pilot.press("ctrl+t")
        flipped = editor.text
        await pilot.press("ctrl+s")
        replay = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, CallDetail) and app.screen is not detail else None)
        await pilot.pause(0.1)
        active = replay.query_one("#call-tabs", TabbedContent).active
        beside = (static_text(replay, "#beside-changed"), static_text(replay, "#beside-original"), static_text(replay, "#beside-replay"))
        return (
            problems,
            nothing_sent,
            flipped,
            server.requests[-1].json,
            replay.trace,
            replay.original is detail.trace,
            active,
            beside,
            panel_rows(app),
            [row["id"] for row in app.session.store.traces(stored_id(app))],
        )

    problems, nothing_sent, flipped, sent, trace, compared, active, beside, rows, stored = run_app(make_app(server), script, size=(140, 44))
    assert re.search(r"messages\[\d\]\.role", problems) and "wizard" in problems
    assert "user" in problems  # the values the spec allows
    assert "ctrl+s again" in problems
    assert nothing_sent
    assert '"stream"' not in flipped and '"stream_options"' not in flipped
    assert sent["messages"][-1] == {"role": "user", "content": "hello there"} and "stream" not in sent
    assert trace.action == "think" and not trace.stream and trace.status == 200 and trace.gentle.startswith("ai.replay('think'")
    assert compared and active == "tab-beside"
    changed, original, replayed = beside
    assert "stream" in changed and "stream_options" in changed
    assert "data: [DONE]" in original and "data:" not in replayed  # SSE frames beside one JSON body
    assert '"object": "chat.completion"' in replayed
    assert sum(row.startswith("think") for row in rows) == 2  # the replay is a call like any other: in the panel,
    assert trace.id in stored  # and stored with the conversation


def test_moving_to_a_field_shows_what_the_spec_says_of_it(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "explain me")
        detail = await open_last_call(pilot)
        detail.query_one("#call-tabs", TabbedContent).active = "tab-request"
        await pilot.pause()
        request = detail.query_one("#text-request", TextArea)
        await to_line(pilot, request, '"model"')
        on_model = static_text(detail, "#field-help")
        await to_line(pilot, request, '"role"')
        on_role = static_text(detail, "#field-help")
        detail.query_one("#call-tabs", TabbedContent).active = "tab-response"
        await pilot.pause()
        response = detail.query_one("#text-response", TextArea)
        row = await to_line(pilot, response, '"finish_reason": "stop"')
        response.move_cursor((row, response.text.split("\n")[row].index('"finish_reason": "stop"') + 3))
        await pilot.pause()
        on_frame = static_text(detail, "#field-help")
        await to_line(pilot, response, "HTTP 200")
        off_json = static_text(detail, "#field-help")
        return on_model, on_role, on_frame, off_json

    on_model, on_role, on_frame, off_json = run_app(make_app(server), script, size=(140, 44))
    assert on_model.startswith("model") and "string" in on_model and "required" in on_model
    assert "messages[0].role" in on_role and "system" in on_role  # the persona's system message leads
    assert on_frame.startswith("choices[0].finish_reason") and "stop" in on_frame  # a frame's field, as the chunk schema says
    assert off_json.startswith("Move to a field")


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})
