"""Branches in the app (issue 28), through the keys: e on an earlier message of yours sends it as a new branch, [ and ]
move between versions, and the branch in view is what is sent, shown and opened again. The real app under Pilot, against
a loopback server, with its store in the test's own folder."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send

from guide.tui.app import GuideApp
from guide.tui.widgets.transcript import MessageView

ONE = ["First", "You said: First", "Second", "You said: Second", "Third", "You said: Third"]
EDITED = ["First", "You said: First", "Second, edited", "You said: Second, edited"]


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def shown(app: GuideApp) -> list[str]:
    """The words of each message on screen (the greeting left out)."""
    return [view.text for view in app.chat.transcript.views if isinstance(view, MessageView)]


def headings(app: GuideApp) -> list[str]:
    return [str(view.query_one(".who").render()) for view in app.chat.transcript.views if isinstance(view, MessageView)]


def sent(server: LoopbackServer) -> list[str]:
    """The messages of the last chat request, after the system prompt."""
    asked = [r for r in server.requests if r.path.endswith("/chat/completions")][-1]
    return [message["content"] for message in asked.json["messages"][1:]]


async def choose(pilot: Pilot[None], back: int) -> None:
    """Tab to the transcript, and ↑ to the message `back` before the last."""
    await pilot.press("tab", *["up"] * (back + 1))
    await settle(pilot)


async def three(pilot: Pilot[None]) -> None:
    for words in ("First", "Second", "Third"):
        await type_and_send(pilot, words)


async def edit_second(pilot: Pilot[None]) -> str:
    """e on "Second", its words changed in the composer, Enter: what the composer held after e."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await choose(pilot, 3)
    await pilot.press("e")
    await settle(pilot)
    opened = app.chat.composer.text
    await pilot.press("end", ",", "space", *"edited")
    await pilot.press("enter")
    await settle(pilot, 0.2)
    return opened


def test_e_on_an_early_message_sends_it_as_a_new_branch_and_the_turns_after_it_leave_the_view(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        before = shown(app)
        opened = await edit_second(pilot)
        return before, opened, shown(app), headings(app), app.chat.focused is app.chat.composer

    before, opened, after, heads, composing = run_app(make_app(server), script)
    assert before == ONE and opened == "Second"
    assert after == EDITED  # the new reply shown, Third and its reply no longer
    assert sent(server) == ["First", "You said: First", "Second, edited"]  # nothing of the other branch went
    assert heads[2].endswith("‹ 2 / 2 ›") and "‹" not in heads[0] and composing
