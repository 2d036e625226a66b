"""Everyday use without surprises: what a newcomer hit in the first hour, each done as they did it."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import run_app, settle, wait_for_modal

from guide.tui.app import GuideApp


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})


def toasts(app: GuideApp) -> list[str]:
    """The words of every notice on screen, as shown."""
    from textual.widgets._toast import Toast

    return [str(toast.render()) for toast in app.screen.query(Toast)] + [str(t.render()) for t in app.query(Toast)]


def test_the_help_table_keeps_a_command_with_a_pipe_in_one_row(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[list[str]]:
        from textual.widgets._markdown import MarkdownTable

        await pilot.press("f1")
        await wait_for_modal(pilot)
        await settle(pilot)
        tables = list(pilot.app.screen.query(MarkdownTable))
        return [list(map(str, row)) for table in tables for row in table._rows]

    rows = run_app(make_app(server), script)
    understand = [row for row in rows if row and row[0].startswith("/understand")]
    assert understand == [[understand[0][0], understand[0][1], "POST /v1/embeddings"]]
    assert "A | B" in understand[0][0]


def test_ctrl_c_says_how_to_quit_in_plain_words(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[str]:
        pilot.app.chat.query_one("#calls").focus()  # type: ignore[attr-defined]
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        return [n.message for n in pilot.app._notifications]

    said = run_app(make_app(server), script)
    assert any("ctrl+q" in words for words in said)
    assert not any("[b]" in words for words in said)
