"""The map screen (F3), through the app: readable at every size, honest about web pages, and the probe's calls kept there."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import Answer, LoopbackServer
from textual.pilot import Pilot
from tui_helpers import panel_rows, run_app, settle, type_and_send

from guide import ACTIONS
from guide.store import Store
from guide.tui.app import GuideApp

WEB_PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def screen_lines(app: GuideApp) -> list[str]:
    """What the terminal shows, line by line."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def open_map(pilot: Pilot[None]) -> None:
    await pilot.press("f3")
    await settle(pilot, 0.3)


@pytest.mark.parametrize("size", [(120, 40), (100, 30)], ids=["120x40", "100x30"])
def test_every_column_of_the_map_is_on_screen(size: tuple[int, int], server: LoopbackServer) -> None:
    """Each action's meaning (the last column) is on screen whole, wrapped where the width asks."""

    async def script(pilot: Pilot[None]) -> tuple[str, int]:
        await open_map(pilot)
        table = pilot.app.screen.query_one("#map-table")
        words = []
        for row in range(len(ACTIONS)):
            table.move_cursor(row=row)  # type: ignore[attr-defined]
            await settle(pilot)
            words.append(" ".join(screen_lines(pilot.app)))  # type: ignore[arg-type]
        return " ".join(words), table.scroll_x  # type: ignore[attr-defined]

    shown, scrolled = run_app(make_app(server), script, size=size)
    shown = " ".join(shown.replace("│", " ").split())
    assert scrolled == 0
    for action in ACTIONS.values():
        assert action.meaning.split()[-1] in shown and action.sdk_call in shown and action.endpoint in shown
    last = " ".join(ACTIONS["interpret"].meaning.split())
    assert all(word in shown for word in last.split())


def test_at_120_columns_the_last_column_is_whole_on_screen(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[str]:
        await open_map(pilot)
        return screen_lines(pilot.app)  # type: ignore[arg-type]

    lines = run_app(make_app(server), script, size=(120, 40))
    start = next(line.index("what it means") for line in lines if "what it means" in line)
    column = " ".join(" ".join(line[start:].replace("│", " ").split()) for line in lines)
    for action in ACTIONS.values():
        assert action.meaning in column, (action.meaning, column)


def test_a_server_of_web_pages_offers_nothing_on_the_map_and_says_why() -> None:
    page = Answer(200, WEB_PAGE, headers={"content-type": "text/html"})
    with LoopbackServer(offers=set(), missing_route=page) as server:

        async def script(pilot: Pilot[None]) -> tuple[list[str], str]:
            from textual.widgets import DataTable

            await open_map(pilot)
            table = pilot.app.screen.query_one(DataTable)
            return [str(table.get_row(name)[2]) for name in ACTIONS], " ".join(" ".join(screen_lines(pilot.app)).split())  # type: ignore[arg-type]

        marks, shown = run_app(make_app(server), script, size=(120, 40))
    assert marks == ["✗ not offered"] * len(ACTIONS)
    assert "think: answered with a web page, not the API's shape (HTTP 200)." in shown


def test_probe_calls_stay_out_of_the_chat_and_open_from_the_map(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> dict[str, Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello")
        await open_map(pilot)  # the server is probed now: nine calls
        await pilot.press("escape")
        await settle(pilot)
        seen: dict[str, Any] = {"panel": panel_rows(app), "filed": [t.gentle for t in app.session.conversation.calls.values()]}
        await open_map(pilot)
        await pilot.press("down", "down", "enter")  # understand's probe call
        await settle(pilot)
        seen["detail"] = app.screen
        store = app.session.store
        assert store is not None and app.session.server.client is not None
        assert await store.read(store.flush, 10)
        seen["kept"] = await store.read(store.probe, app.session.server.client.base_url)
        return seen

    seen = run_app(make_app(server), script, size=(120, 40))
    assert len(seen["panel"]) == 1 and seen["panel"][0].startswith("think")
    assert all(gentle != "ai.probe()" for gentle in seen["filed"])
    detail = seen["detail"]
    assert type(detail).__name__ == "CallDetail" and detail.trace.action == "understand" and detail.trace.gentle == "ai.probe()"
    assert [call["action"] for call in seen["kept"]["calls"]] == list(ACTIONS)
    store = Store()
    stored = [trace["gentle"] for conversation in store.conversations() for trace in store.traces(conversation.id)]
    store.close()
    assert stored and "ai.probe()" not in stored
