"""What a new user met in an everyday hour: F4's list stays open as you tidy it, a notice says a thing once and no longer than it is true.

Each test is the reproduction, through the real app under Pilot against a loopback server.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea
from tui_helpers import command, run_app, settle, type_and_send, wait_for_modal

from guide.tui.app import GuideApp
from guide.tui.screens.call_detail import CallDetail
from guide.tui.screens.conversations import ConversationsScreen


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


async def until(pilot: Pilot[None], done: Any, seconds: float = 10.0) -> Any:
    """Pause until done() gives something true (or the deadline passes: then what it gives last)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (found := done()) and asyncio.get_running_loop().time() < deadline:
        await pilot.pause(0.05)
    return found


def first_column(app: GuideApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(row)[0]) for row in range(table.row_count)]


def exported(app: GuideApp) -> str:
    return next((n.message.removeprefix("Exported to ") for n in app.recent.said if n.message.startswith("Exported to ")), "")


def test_the_list_stays_open_after_rename_export_and_delete_and_shows_each_change(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first words")
        await pilot.press("ctrl+n")
        await type_and_send(pilot, "second words")
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await settle(pilot, 0.2)
        seen = [first_column(app)]
        await pilot.press("r", *"calm", "enter")
        seen.append(await until(pilot, lambda: isinstance(app.screen, ConversationsScreen) and "calm" in first_column(app) and first_column(app)))
        await pilot.press("e")
        await until(pilot, lambda: exported(app))
        seen.append(isinstance(app.screen, ConversationsScreen))
        await pilot.press("down", "d")
        await settle(pilot)
        await pilot.press("y")
        seen.append(await until(pilot, lambda: isinstance(app.screen, ConversationsScreen) and len(first_column(app)) == 1 and first_column(app)))
        return seen

    before, renamed, open_after_export, deleted = run_app(make_app(server), script)
    assert before == ["second words", "first words"]
    assert renamed == ["calm", "first words"]
    assert open_after_export
    assert deleted == ["calm"]


def test_an_export_after_a_rename_carries_the_new_title(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first words")
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await settle(pilot, 0.2)
        await pilot.press("r", *"calm", "enter")
        await settle(pilot, 0.2)
        if not isinstance(app.screen, ConversationsScreen):  # the list closed after the rename (it should not: the test above)
            await pilot.press("f4")
            await wait_for_modal(pilot)
            await settle(pilot, 0.2)
        await pilot.press("e")
        return Path(await until(pilot, lambda: exported(app))).read_text(encoding="utf-8")

    text = run_app(make_app(server), script)
    assert text.splitlines()[0] == "# calm"


def test_the_replaying_notice_goes_when_the_replay_has_answered(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello there")
        await pilot.press("f2")
        await pilot.press("end", "enter")
        first = await until(pilot, lambda: isinstance(app.screen, CallDetail) and app.screen)
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query(TextArea))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CallDetail) and app.screen is not first)
        await settle(pilot, 0.2)
        return [str(toast.render()) for toast in app.screen.query("Toast")], [n.message for n in app.recent.said]

    shown, said = run_app(make_app(server), script, toasts=True)
    assert any(words.startswith("Replaying think") for words in said)  # it was said while the replay ran
    assert not any("Replaying" in words for words in shown), shown


def test_search_finds_the_words_of_a_slash_commands_block(server: LoopbackServer) -> None:
    # A block is what the user asked for and read (what /continue wrote on, a /listen transcript): F4's search finds it there.
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, "/continue Once upon an okapi")
        await settle(pilot, 0.3)
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await settle(pilot, 0.2)
        await pilot.press("slash", *"okapi")
        table = app.screen.query_one(DataTable)
        return await until(pilot, lambda: table.row_count and "okapi" in str(table.get_row_at(0)[3]) and [str(cell) for cell in table.get_row_at(0)])

    row = run_app(make_app(server), script)
    assert row and row[1] == "/continue" and "«okapi»" in row[3], row


def test_a_notice_up_when_a_dialog_opens_is_drawn_once(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.notify("Zebrafish swim calmly.", timeout=8)
        await settle(pilot, 0.2)
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await settle(pilot, 0.3)
        return app.export_screenshot()

    drawn = run_app(make_app(server), script, size=(160, 40), toasts=True)  # wide: the list does not cover the chat's notices
    assert len(re.findall("Zebrafish", drawn)) == 1


def test_f4_on_the_open_list_closes_it(server: LoopbackServer) -> None:
    # The list now stays open as it is tidied, so F4 is what closes it: it stacked a second list.
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first words")
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await settle(pilot, 0.2)
        await pilot.press("f4")
        await settle(pilot, 0.3)
        return [type(screen).__name__ for screen in app.screen_stack]

    assert run_app(make_app(server), script) == ["ChatScreen"]
