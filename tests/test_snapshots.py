"""Snapshot tests of the main screens (pytest-textual-snapshot), grouped by screen.

The app talks to a real loopback server shown as http://127.0.0.1:8080, and
timings are set to fixed figures before each picture, so a snapshot changes
only when what the user sees changes. Update with: pytest --snapshot-update
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import RedirectTransport, settle

from guide.tui.app import GuideApp

REPLY = "Let's take it slowly, Fira.\n\n- one breath\n- one step\n\n```python\nprint('calm')\n```"


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer(models=["smollm2-135m"]) as server:
        yield server


def make_app(server: LoopbackServer) -> GuideApp:
    port = int(server.url.rsplit(":", 1)[1])
    return GuideApp(flags={"base_url": "http://127.0.0.1:8080", "model": "smollm2-135m"}, transport=RedirectTransport(port))


def steady(app: GuideApp) -> None:
    """Fixed timings, so pictures do not change from run to run."""
    for trace in app.chat.panel.traces.values():
        trace.ttfb_ms, trace.total_ms = 12.0, 1200.0
        trace.frames = [(20.0 + i, data) for i, (_, data) in enumerate(trace.frames)]
        app.chat.panel.show(trace)
    app.chat.composer.cursor_blink = False


async def converse(pilot: Pilot[None], server: LoopbackServer) -> None:
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await settle(pilot)
    words = REPLY.split(" ")
    server.push(Stream(sse(*[chat_chunk(w if i == 0 else " " + w) for i, w in enumerate(words)], chat_chunk(finish="stop"))))
    app.chat.composer.text = "Where do I begin?"
    await pilot.press("enter")
    await settle(pilot, 0.2)
    steady(app)
    await pilot.pause()


def test_opening_greeting(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        steady(pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(loopback), terminal_size=(120, 32), run_before=before)


def test_opening_greeting_at_80x24_folds_the_panel(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        steady(pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(loopback), terminal_size=(80, 24), run_before=before)


def test_streamed_reply_with_the_calls_panel(snap_compare: Any, loopback: LoopbackServer) -> None:
    assert snap_compare(make_app(loopback), terminal_size=(140, 36), run_before=lambda pilot: converse(pilot, loopback))


def test_call_detail(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await converse(pilot, loopback)
        await pilot.press("f2", "enter")
        await settle(pilot)

    assert snap_compare(make_app(loopback), terminal_size=(140, 36), run_before=before)


def test_map_screen(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await converse(pilot, loopback)
        await pilot.press("f3")
        await settle(pilot, 0.3)

    assert snap_compare(make_app(loopback), terminal_size=(140, 36), run_before=before)


def test_persona_picker(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        steady(pilot.app)  # type: ignore[arg-type]
        await pilot.press("f5")
        await pilot.pause(0.1)

    assert snap_compare(make_app(loopback), terminal_size=(120, 32), run_before=before)


def test_help_screen(snap_compare: Any, loopback: LoopbackServer) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)

    assert snap_compare(make_app(loopback), terminal_size=(120, 40), run_before=before)
