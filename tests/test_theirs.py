"""The app's calls panel shows the calls other programs make to its companion, marked theirs, with a mine / theirs / all filter."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList
from tui_helpers import run_app, wait_until_connected

from guide.tui.app import GuideApp
from guide.tui.widgets.calls_panel import CallsPanel

AGENT = "my-script/1.0"
KEY = "sk-their-key-0123456789abcdef"


def rows(app: GuideApp) -> list[str]:
    calls = app.screen.query_one(CallsPanel).query_one("#calls", OptionList)
    return [str(calls.get_option_at_index(index).prompt) for index in range(calls.option_count)]


async def until(pilot: Pilot[None], check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        await pilot.pause(0.05)
    raise AssertionError("not in time")


async def watching_theirs(pilot: Pilot[None]) -> None:
    """Until the app is on the companion and looks for other programs' calls to it."""
    await wait_until_connected(pilot)
    await until(pilot, lambda: pilot.app.screen.their_row is not None)  # type: ignore[attr-defined]


def test_a_call_another_program_makes_to_the_companion_appears_marked_theirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await watching_theirs(pilot)
        assert app.session.server.client is not None
        body = {"model": "reflective-listener", "messages": [{"role": "user", "content": "from my own script"}]}
        async with httpx.AsyncClient() as client:
            said = await client.post(
                app.session.server.client.base_url.rstrip("/") + "/chat/completions",
                json=body,
                headers={"User-Agent": AGENT, "Authorization": f"Bearer {KEY}"},
            )
        assert said.status_code == 200, said.text
        theirs = await until(pilot, lambda: [row for row in rows(app) if row.startswith("theirs · ")])
        header = str(app.screen.query_one("#calls-title").render())
        app.screen.query_one(CallsPanel).query_one("#calls").focus()
        shown = {}
        for _ in range(3):
            await pilot.press("w")
            await pilot.pause(0.1)
            shown[app.screen.query_one(CallsPanel).whose] = rows(app)
        trace = next(t for t in app.screen.query_one(CallsPanel).traces.values() if t.caller)
        return theirs, header, shown, trace

    theirs, header, shown, trace = run_app(GuideApp(), script)
    assert theirs[0].startswith("theirs · think → POST /v1/chat/completions · 200") and AGENT in theirs[0]
    assert "w: mine / theirs / all" in header
    assert shown["theirs"] == theirs and not any(row.startswith("theirs") for row in shown["mine"]) and shown["all"][-1] == theirs[0]
    assert KEY not in str(trace.to_dict()) and trace.request_headers["authorization"].endswith(KEY[-4:])


def footer(app: GuideApp) -> list[str]:
    return [shown.binding.description for shown in app.screen.active_bindings.values()]


def test_the_filter_key_shows_in_the_footer_only_once_another_programs_call_has_come(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any call of another program, `w Mine / theirs / all` would only crowd F6/F7 out of an 80-column footer."""
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await watching_theirs(pilot)
        assert app.session.server.client is not None
        app.screen.query_one(CallsPanel).query_one("#calls").focus()
        await pilot.pause(0.1)
        before = footer(app)
        async with httpx.AsyncClient() as client:
            body = {"model": "reflective-listener", "messages": [{"role": "user", "content": "hi"}]}
            base = app.session.server.client.base_url.rstrip("/")
            said = await client.post(base + "/chat/completions", json=body, headers={"User-Agent": AGENT})
        assert said.status_code == 200, said.text
        await until(pilot, lambda: [row for row in rows(app) if row.startswith("theirs · ")])
        await pilot.pause(0.1)
        return before, footer(app)

    before, after = run_app(GuideApp(), script, size=(80, 24))
    assert "Mine / theirs / all" not in before and "Mine / theirs / all" in after, (before, after)


def test_another_programs_call_appears_as_it_starts_and_updates_as_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its body still coming, the call is a running row already (as the relay's are); once answered, the same row says 200."""
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await watching_theirs(pilot)
        assert app.session.server.client is not None
        address = httpx.URL(app.session.server.client.base_url)
        body = json.dumps({"model": "reflective-listener", "messages": [{"role": "user", "content": "slowly"}]}).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{address.port}\r\nUser-Agent: {AGENT}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", address.port)
        try:
            writer.write(head + body[:10])  # the rest of the body is still to come
            await writer.drain()
            running = await until(pilot, lambda: [row for row in rows(app) if row.startswith("theirs · ")], seconds=15)
            writer.write(body[10:])
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 15)
        finally:
            writer.close()
        ended = await until(pilot, lambda: [row for row in rows(app) if row.startswith("theirs · ") and " 200 " in row], seconds=15)
        return running, ended, rows(app), answer

    running, ended, shown, answer = run_app(GuideApp(), script)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert "…" in running[0] and AGENT in running[0]
    assert len([row for row in shown if row.startswith("theirs · ")]) == 1 and AGENT in ended[0]
