"""`guide watch`: another program's calls appear as rows while they stream, open whole, and replay to the upstream."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
from conftest import free_port
from loopback import LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from textual.widgets import OptionList, Static, TabbedContent, TextArea

from guide.cli.watch import stop, watching
from guide.tui.screens.call_detail import CallDetail
from guide.tui.widgets.calls_panel import CallsPanel

AGENT = "my-agent/0.1 (LangChain)"


def program(relay: str, done: threading.Event) -> None:
    """Another program: one streamed chat call, as its own client sends it."""
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
    with httpx.stream("POST", f"{relay}/v1/chat/completions", json=body, headers={"User-Agent": AGENT, "Authorization": "Bearer sk-mine"}) as answer:
        for _ in answer.iter_bytes():
            pass
    done.set()


async def until(pilot: Pilot[None], check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await pilot.pause(0.05)
    raise AssertionError("not in time")


def rows(pilot: Pilot[None]) -> list[str]:
    calls = pilot.app.screen.query_one(CallsPanel).query_one("#calls", OptionList)
    return [str(calls.get_option_at_index(index).prompt) for index in range(calls.option_count)]


def test_a_programs_call_appears_while_it_streams_opens_whole_and_replays() -> None:
    with LoopbackServer() as upstream:
        pieces = [chat_chunk(f"word{n} ") for n in range(40)]
        upstream.push(Stream(sse(*pieces, chat_chunk(finish="stop")), pause=0.05))
        app, relay = watching(upstream.url, free_port(), None)
        url = app.relay_url
        done = threading.Event()

        async def main() -> tuple[list[str], list[str], str, str]:
            async with app.run_test(size=(140, 36)) as pilot:
                shown = str(pilot.app.screen.query_one("#watch-base").render())
                await pilot.pause(0.3)  # the view's first look: calls from then on are shown
                threading.Thread(target=program, args=(url, done), daemon=True).start()
                streaming = await until(pilot, lambda: [row for row in rows(pilot) if "frames" in row and "s…" in row])
                ended = await until(pilot, lambda: done.is_set() and [row for row in rows(pilot) if " 200 " in row and "…" not in row])
                await pilot.press("enter")
                detail = await until(pilot, lambda: isinstance(pilot.app.screen, CallDetail) and pilot.app.screen)
                whole = detail.texts["response"] + detail.texts["request"] + detail.texts["gentle"]
                await pilot.press("e")
                await pilot.pause(0.3)
                await pilot.press("ctrl+s")
                replayed = await until(
                    pilot, lambda: isinstance(pilot.app.screen, CallDetail) and pilot.app.screen.original is not None and pilot.app.screen
                )
                await asyncio.to_thread(done.wait, 5)
                return streaming, ended, whole, shown + " " + replayed.trace.summary()

        try:
            streaming, ended, whole, said = asyncio.run(main())
        finally:
            stop(relay)
            app.store.close()
    assert said.startswith(f"OPENAI_BASE_URL={url}/v1")
    assert streaming[0].startswith("think → POST /v1/chat/completions") and AGENT in streaming[0]
    assert AGENT in ended[0]
    assert "word39" in whole and "ai.think(" in whole and "sk-mine" not in whole
    assert len(upstream.requests) == 2 and upstream.requests[1].json["messages"][0]["content"] == "Hello"


def test_a_call_off_the_map_opens_whole_and_its_fields_are_read_without_a_crash() -> None:
    with LoopbackServer() as upstream:
        app, relay = watching(upstream.url, free_port(), None)

        async def main() -> tuple[str, str, str]:
            async with app.run_test(size=(140, 36)) as pilot:
                async with httpx.AsyncClient() as client:
                    await pilot.pause(0.3)  # the view's first look: calls from then on are shown
                    await client.post(f"{app.relay_url}/v1/batches", json={"input_file_id": "file-1", "endpoint": "/v1/chat/completions"})
                row = await until(pilot, lambda: [row for row in rows(pilot) if "POST /v1/batches · 404" in row])
                await pilot.press("enter")
                detail = await until(pilot, lambda: isinstance(pilot.app.screen, CallDetail) and pilot.app.screen)
                area = detail.query_one("#text-request", TextArea)
                detail.query_one("#call-tabs", TabbedContent).active = "tab-request"
                await pilot.pause(0.2)
                line = next(n for n, text in enumerate(area.text.splitlines()) if "input_file_id" in text)
                area.move_cursor((line, area.text.splitlines()[line].index("input_file_id") + 2))
                await pilot.pause(0.2)
                return row[0], str(detail.query_one("#field-help", Static).render()), detail.texts["gentle"]

        try:
            row, help_words, gentle = asyncio.run(main())
        finally:
            stop(relay)
            app.store.close()
    assert row.startswith("not one of guide's gentle actions → POST /v1/batches")
    assert "input_file_id" in help_words and "not one of guide's gentle actions" in gentle


def test_without_to_the_calls_go_to_guides_own_companion(monkeypatch: Any) -> None:
    from guide.cli.watch import upstream_for

    monkeypatch.setenv("GUIDE_GGUF", "none")
    upstream = upstream_for(None)
    assert httpx.get(f"{upstream}/guide/companion", timeout=10).json()["guide_companion"] is True


def test_calls_made_before_the_view_opens_are_shown_from_the_store_as_it_opens() -> None:
    from guide.companion.relay_trace import RELAYED

    with LoopbackServer() as upstream:
        app, relay = watching(upstream.url, free_port(), None)
        try:
            assert httpx.get(f"{app.relay_url}/v1/models", headers={"User-Agent": "early/1.0"}).status_code == 200
            deadline = time.monotonic() + 20
            while not any(c["state"] == "done" for c in app.store.their_calls(None, seen_by=RELAYED, latest=5)[0]):
                assert time.monotonic() < deadline, "the relay did not file the call"
                time.sleep(0.05)

            async def main() -> list[str]:
                async with app.run_test(size=(140, 36)) as pilot:
                    return await until(pilot, lambda: [row for row in rows(pilot) if "early/1.0" in row])  # type: ignore[no-any-return]

            shown = asyncio.run(main())
        finally:
            stop(relay)
            app.store.close()
    assert shown[0].startswith("catalog → GET /v1/models · 200")


def test_a_port_another_program_holds_is_said_and_the_view_never_opens_on_it() -> None:
    """The relay's port taken (another guide, another user's relay): the program would reach that one, so guide watch stops and says so."""
    import socket
    import subprocess
    import sys

    from guide.cli.common import EXIT_UNREACHABLE

    with socket.socket() as other, LoopbackServer() as upstream:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "guide", "watch", "--to", upstream.url, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == EXIT_UNREACHABLE, (done.returncode, done.stderr[-500:])
    assert str(port) in done.stderr and "already listening" in done.stderr


def test_a_program_making_many_calls_keeps_the_view_to_a_screenful_of_rows_and_says_the_rest_are_stored() -> None:
    from guide.tui.screens.watch import ROWS

    made = ROWS + 30
    with LoopbackServer() as upstream:
        app, relay = watching(upstream.url, free_port(), None)

        async def main() -> tuple[int, list[str]]:
            async with app.run_test(size=(140, 36)) as pilot:
                await pilot.pause(0.3)  # the view's first look: calls from then on are shown
                async with httpx.AsyncClient(headers={"User-Agent": "busy/1.0"}) as client:
                    for _ in range(made):
                        await client.get(f"{app.relay_url}/v1/models")
                panel = pilot.app.screen.query_one(CallsPanel)
                await until(pilot, lambda: len(panel.traces) + panel.earlier >= made and all(t.state == "done" for t in panel.traces.values()))
                return len(panel.traces), rows(pilot)

        try:
            kept, shown = asyncio.run(main())
        finally:
            stop(relay)
            app.store.close()
    assert kept <= ROWS  # every row changed lays the whole list out again: 500 of them held a key for 350 ms at 50 calls a second
    assert shown[0].startswith("↑ ") and "earlier calls" in shown[0] and "store" in shown[0]
    assert shown[-1].startswith("catalog → GET /v1/models · 200")


def test_older_calls_page_in_from_the_store_as_the_cursor_moves_up_onto_the_first_row() -> None:
    """130 calls filed: the view opens on the latest 50; Home pages in 50 older ones from the store (the newest past the 60 rows kept
    go, counted), calls that come meanwhile are counted, not shown; End goes back to the latest, followed again."""
    from guide.companion.relay_run import filing
    from guide.companion.relay_trace import Recording
    from guide.store import Store
    from guide.tui.screens.watch import WatchApp

    def file(numbers: range) -> None:
        filed, store = filing()
        for n in numbers:
            call = Recording("POST", "/v1/chat/completions", "http://upstream/v1/chat/completions", [], f"prog/{n:03d}", [])
            call.answered(200, [(b"content-type", b"application/json")])
            filed(call.ended())
        store.close()

    def callers(pilot: Pilot[None]) -> list[str]:
        return [row.rpartition("prog/")[2][:3] if "prog/" in row else row for row in rows(pilot)]

    file(range(130))
    app = WatchApp("http://127.0.0.1:9", "http://upstream", store=Store())

    async def main() -> tuple[list[str], list[str], list[str], list[str], str]:
        async with app.run_test(size=(120, 40)) as pilot:
            opened = await until(pilot, lambda: "129" in callers(pilot) and callers(pilot))
            calls = pilot.app.screen.query_one(CallsPanel).query_one("#calls", OptionList)
            calls.focus()
            await pilot.press("up")  # off the last row: the calls that come now do not pull the cursor back down
            await asyncio.to_thread(file, range(200, 202))
            await until(pilot, lambda: "201" in callers(pilot))
            stayed = callers(pilot)[calls.highlighted or 0]
            await pilot.press("home")
            paged = await until(pilot, lambda: "030" in callers(pilot) and callers(pilot))
            await asyncio.to_thread(file, range(130, 132))
            counted = await until(pilot, lambda: "44 later" in " ".join(rows(pilot)) and callers(pilot))
            await pilot.press("end")
            latest = await until(pilot, lambda: "131" in callers(pilot) and callers(pilot))
            return opened, paged, counted, latest, stayed

    try:
        opened, paged, counted, latest, stayed = asyncio.run(main())
    finally:
        app.store.close()
    assert opened[0].startswith("↑ 80 earlier calls") and opened[1:] == [f"{n:03d}" for n in range(80, 130)]
    assert stayed == "128"
    assert paged[0].startswith("↑ 30 earlier calls") and paged[1:-1] == [f"{n:03d}" for n in range(30, 90)]
    assert paged[-1].startswith("↓ 42 later calls")
    assert counted[1:-1] == paged[1:-1] and counted[-1].startswith("↓ 44 later calls")
    assert latest[0].startswith("↑ 84 earlier calls") and latest[1:] == [f"{n:03d}" for n in range(84, 130)] + ["200", "201", "130", "131"]
