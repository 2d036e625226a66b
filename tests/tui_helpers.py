"""Helpers for driving the real app with Pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from textual.pilot import Pilot

from guide.tui.app import GuideApp

SIZE = (120, 36)


class RedirectTransport(httpx.AsyncHTTPTransport):
    """Sends to the loopback server while the app believes it talks to `shown`.

    Snapshots then show a fixed address instead of a random port, and the
    traffic still crosses a real socket.
    """

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self.port)
        return await super().handle_async_request(request)


def run_app(app: GuideApp, script: Callable[[Pilot[None]], Awaitable[Any]], size: tuple[int, int] = SIZE, *, toasts: bool = False) -> Any:
    """Run the app headless, play the script, return what it returns (with toasts: notices drawn, as on a terminal)."""

    async def main() -> Any:
        async with app.run_test(size=size, notifications=toasts) as pilot:
            await settle(pilot)
            return await script(pilot)

    return asyncio.run(main())


async def settle(pilot: Pilot[None], seconds: float = 0.05) -> None:
    """Let workers and renders finish."""
    await pilot.pause(seconds)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_and_send(pilot: Pilot[None], text: str) -> None:
    """Type into the composer as a user would, then Enter."""
    pilot.app.chat.composer.focus()
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])
    await pilot.press("enter")
    await settle(pilot)


async def command(pilot: Pilot[None], text: str) -> None:
    """Put a command (or words) in the composer and press Enter, as pasted."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    app.chat.composer.text = text
    await pilot.press("enter")
    await settle(pilot, 0.2)


async def wait_for_modal(pilot: Pilot[None]) -> None:
    """Wait until a screen opens over the chat (a picker run by a worker)."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    for _ in range(100):
        await pilot.pause(0.02)
        if app.screen is not app.chat:
            return


async def pick_server(pilot: Pilot[None], url: str) -> None:
    """F7, the last row (an address of one's own), the address, Enter: as a user picks a server (the probe then runs)."""
    from textual.widgets import Input

    app: GuideApp = pilot.app  # type: ignore[assignment]
    await pilot.press("f7")
    await wait_for_modal(pilot)
    picker = app.screen.query_one("#picker-list")
    picker.highlighted = picker.option_count - 1  # type: ignore[attr-defined]
    await pilot.press("enter")
    await pilot.pause(0.2)
    app.screen.query_one(Input).value = url
    await pilot.press("enter")


async def wait_until_connected(pilot: Pilot[None]) -> None:
    """Wait until the app knows who answers (a local server, or the companion it starts)."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # the companion is a process of its own: starting it takes a second or two, more on a busy machine
    while loop.time() < deadline:
        await pilot.pause(0.02)
        if app.session.started.is_set():
            return


def transcript_text(app: GuideApp) -> list[tuple[str, str, str]]:
    """(role, who, text) of every message on screen."""
    from guide.tui.widgets.transcript import MessageView

    return [(v.role, v.who, v.text) for v in app.chat.query(MessageView)]


def panel_rows(app: GuideApp) -> list[str]:
    """The calls panel's rows as text."""
    from textual.widgets import OptionList

    calls = app.chat.panel.query_one("#calls", OptionList)
    return [str(calls.get_option_at_index(i).prompt) for i in range(calls.option_count)]


def stored_id(app: GuideApp) -> int | None:
    """The store's id of the conversation on screen (waiting for queued writes to land), or None if it is not stored."""
    store, conversation = app.session.store, app.session.conversation
    if store is None or not conversation.stored:
        return None
    assert store.flush(10)
    return next((info.id for info in store.conversations() if info.uid == conversation.uid), None)
