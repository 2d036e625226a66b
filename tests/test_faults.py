"""Faults on purpose, through the real app: servers that break, a killed app, two apps at once, a damaged store."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Reset, Stall, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import run_app, settle, stored_id, transcript_text
from waits import lines_within

from guide.conversation import new_uid
from guide.store import Store
from guide.tui.app import GuideApp

HERE = Path(__file__).resolve().parent
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><hr>nginx</body></html>"
QUICK_RETRY = {"retry-after-ms": "10"}
SERVER_ERROR = {"error": {"message": "The engine overheated.", "type": "server_error", "param": None, "code": None}}

FAULTS: dict[str, tuple[list[Any], str, str]] = {
    # name: (what the server does, what of the reply is kept, words in the notice's title)
    "dies mid-stream": ([Stream(sse(chat_chunk("Half a "), chat_chunk("thought"), done=False), cut=True)], "Half a thought", "broke off"),
    "stalls before answering": ([Stall(3), Stall(3), Stall(3)], "", "took too long"),
    "stalls mid-stream": ([Stream(sse(chat_chunk("Half a "), chat_chunk("thought")), pause=3)], "Half a ", "took too long"),
    "answers garbage": (
        [Answer(200, b"\x00\x01\x02 this is neither JSON nor events \xff\xfe", {"content-type": "application/octet-stream"})],
        "",
        "not understood",
    ),
    "answers HTML": ([Answer(502, HTML, {"content-type": "text/html", **QUICK_RETRY})] * 3, "", "ran into a problem"),
    "resets the connection": ([Reset(), Reset(), Reset()], "", "closed the connection"),
    "returns 500 three times": ([Answer(500, SERVER_ERROR, QUICK_RETRY)] * 3, "", "ran into a problem"),
}


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def on_screen_and_stored(app: GuideApp) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The conversation as the transcript shows it, and as the store holds it."""
    shown = [(v.role, v.text, v.state) for v in app.chat.transcript.views if getattr(v, "role", None) in ("user", "assistant")]  # type: ignore[attr-defined]
    conversation = stored_id(app)
    kept = [(m.role, m.content, m.state) for m in Store().messages(conversation)] if conversation else []
    return shown, kept


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failing_server_gets_a_calm_notice_and_nothing_is_lost(fault: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_TIMEOUT", "0.5")
    answers, kept, title = FAULTS[fault]
    server.push(*answers)

    async def script(pilot: Pilot[None]) -> dict[str, Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "Tell me about the sea"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        notices = [(n.severity, n.title or "", n.message) for n in app.recent.said]
        failed = {"notices": notices, "composer": app.chat.composer.text, "screen": on_screen_and_stored(app)}
        server.script.clear()
        await pilot.press("enter")  # the words are still there: send them again, now the server is well
        await settle(pilot, 0.2)
        return {**failed, "after": on_screen_and_stored(app), "last": transcript_text(app)[-1]}

    seen = run_app(make_app(server), script)
    severity, notice_title, message = seen["notices"][-1]
    assert severity == "error" and title in notice_title.lower() and "F2" in message
    assert seen["composer"] == "Tell me about the sea"
    shown, stored = seen["screen"]
    assert shown == stored  # the store matches the screen
    if kept:
        assert shown == [("user", "Tell me about the sea", "done"), ("assistant", kept, "cut")]
    else:
        assert shown == []  # nothing arrived: the words went back to the composer, not into the transcript
    shown, stored = seen["after"]
    assert shown == stored and shown[-1] == ("assistant", "You said: Tell me about the sea", "done")
    assert seen["last"][0] == "assistant"


def drive(base_url: str, count: int, *, then_stream: bool = False) -> subprocess.Popen[str]:
    """The real app in another process (tests/drive_app.py), sharing this test's GUIDE_HOME."""
    args = [sys.executable, str(HERE / "drive_app.py"), base_url, str(count), *(["--then-stream"] if then_stream else [])]
    return subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(HERE)}
    )


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        result = str(db.execute("PRAGMA integrity_check").fetchone()[0])
    db.close()
    return result


def test_killed_mid_reply_the_store_opens_cleanly_and_the_conversation_goes_on(server: LoopbackServer) -> None:
    child = drive(server.url, 1, then_stream=True)
    try:
        assert child.stdout is not None and child.stdin is not None and child.stderr is not None
        lines = []
        for line in lines_within(child.stdout, 120):  # a child that goes quiet fails the test; it does not hang it
            lines.append(line.strip())
            if line.strip() == "ready":
                server.push(Stream(sse(*[chat_chunk(f" w{i}") for i in range(200)]), pause=0.05))
                child.stdin.write("\n")
                child.stdin.flush()
            if line.strip() in ("streaming", "never streamed"):
                break
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert lines[-1:] == ["streaming"], (lines, child.stderr.read())  # read once it is dead: the pipe has an end
    finally:
        child.kill()
        child.wait(10)
    path = Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3"
    assert integrity(path) == "ok"
    stored = [(m.role, m.content, m.state) for m in Store().messages(1)]
    assert stored == [
        ("user", "message 0 from process", "done"),
        ("assistant", "You said: message 0 from process", "done"),
        ("user", "the last words", "done"),  # kept when sent; the reply that was streaming is absent, never half-written
    ]

    async def script(pilot: Pilot[None]) -> list[tuple[str, str, str]]:
        await settle(pilot)
        await pilot.press("f4")
        await pilot.pause(0.1)
        await pilot.press("enter")
        await settle(pilot, 0.2)
        pilot.app.chat.composer.text = "Shall we go on?"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return transcript_text(pilot.app)  # type: ignore[arg-type]

    shown = run_app(make_app(server), script)
    assert [text for _, _, text in shown[-3:]] == ["the last words", "Shall we go on?", "You said: Shall we go on?"]
    assert len(Store().messages(1)) == 5


def test_two_apps_on_one_data_folder_lose_nothing_and_never_lock(server: LoopbackServer) -> None:
    children = [drive(server.url, 12), drive(server.url, 12)]
    outputs = []
    try:
        for child in children:
            out, err = child.communicate(timeout=240)
            assert child.returncode == 0, err
            outputs.append(out)
    finally:
        for child in children:  # past the deadline: not left running
            child.kill()
            child.wait(10)
    for out in outputs:
        assert "replied 11" in out and "done" in out
        assert "notice error" not in out and "notice warning" not in out and "locked" not in out.lower()
    store = Store()
    conversations = store.conversations()
    assert len(conversations) == 2
    for info in conversations:
        contents = [m.content for m in store.messages(info.id)]
        assert contents == [text for n in range(12) for text in (f"message {n} from process", f"You said: message {n} from process")]
    assert integrity(store.path) == "ok"


def test_a_damaged_store_is_set_aside_and_a_new_one_started(server: LoopbackServer) -> None:
    store = Store()
    conversation = new_uid()
    store.new_conversation(conversation, "calm-guide")
    for i in range(400):
        store.add_message(conversation, new_uid(), "user", f"words worth keeping {i} " * 20)
    assert store.flush()
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with store.path.open("r+b") as damaged:
        damaged.seek(4096 * 3)
        damaged.write(os.urandom(4096 * 4))

    async def script(pilot: Pilot[None]) -> list[str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "still here"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return [n.message for n in app.recent.said]

    notices = run_app(make_app(server), script)
    [kept] = store.path.parent.glob("guide.sqlite3.broken-*")
    assert any(str(kept) in n for n in notices)
    assert [m.content for m in Store().messages(1)] == ["still here", "You said: still here"]


def test_a_read_only_store_is_reported_once_and_the_chat_goes_on_in_memory(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> tuple[list[str], list[str]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await settle(pilot)
        assert app.session.store is not None
        app.session.store._writer._db.execute("PRAGMA query_only = ON")  # SQLite now refuses every write, as with a read-only file
        for words in ("first", "second"):
            app.chat.composer.text = words
            await pilot.press("enter")
            await settle(pilot, 0.2)
        return [text for _, _, text in transcript_text(app)[1:]], [n.message for n in app.recent.said if n.title == "Storage"]

    shown, storage = run_app(make_app(server), script)
    assert shown == ["first", "You said: first", "second", "You said: second"]
    assert len(storage) == 1 and "readonly" in storage[0] and "nothing on screen is lost" in storage[0]


def test_a_data_folder_that_cannot_be_made_leaves_the_chat_working(server: LoopbackServer) -> None:
    home = Path(os.environ["GUIDE_HOME"])
    home.mkdir(parents=True)
    (home / "data").write_text("a file where the data folder should be")

    async def script(pilot: Pilot[None]) -> tuple[list[str], list[str]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "hello"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return [text for _, _, text in transcript_text(app)[1:]], [n.message for n in app.recent.said if n.title == "Storage"]

    shown, storage = run_app(make_app(server), script)
    assert shown == ["hello", "You said: hello"]
    assert len(storage) == 1 and "cannot be saved" in storage[0] and "in memory" in storage[0]


def older_guides_file(path: Path) -> None:
    """The conversations file as an earlier guide left it (schema 1, WAL): this guide migrates it as it opens."""
    from guide import store_schema

    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(store_schema.TABLES)
    db.close()


def typed_quickly(app: GuideApp, keys: str) -> None:
    """Keys as a terminal hands over a quick typist's: all queued before the app reads the first ("⏎" is Enter)."""
    from textual import events

    for key in keys:
        name, character = {"⏎": ("enter", "\r"), " ": ("space", " ")}.get(key, (key, key))
        event = events.Key(name, character)
        event.set_sender(app)
        app._driver.send_message(event)  # type: ignore[union-attr]


def test_keys_typed_while_another_guide_holds_the_store_are_sent_at_once_and_kept(server: LoopbackServer) -> None:
    from test_store import lock_held

    path = Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3"
    older_guides_file(path)

    def said(app: GuideApp) -> list[tuple[str, str]]:
        return [(v.role, v.text) for v in app.chat.transcript.views if getattr(v, "role", None) in ("user", "assistant")]  # type: ignore[attr-defined]

    async def until(ready: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not ready() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return ready()

    with lock_held(path, 8.0):  # another guide (or a backup tool) holds a write transaction as guide starts

        async def script() -> dict[str, Any]:
            app = make_app(server)
            async with app.run_test(size=(120, 36)) as pilot:
                await pilot.pause(0.3)
                app.chat.composer.focus()
                typed_quickly(app, "hello⏎and more")
                replied = await until(lambda: ("assistant", "You said: hello") in said(app), 5.0)  # well before the other guide lets go
                seen = {"replied": replied, "store open": app.session.store is not None, "composer": app.chat.composer.text}
                assert await until(lambda: app.session.store is not None, 20.0)  # the lock goes at 8 s; then the file is migrated
                await pilot.press("enter")
                assert await until(lambda: ("assistant", "You said: and more") in said(app), 10.0), seen
                store = app.session.store
                assert store is not None and await asyncio.to_thread(store.flush, 10)
                return {**seen, "notices": [n.message for n in app.recent.said]}

        seen = asyncio.run(script())
    assert seen["replied"] and not seen["store open"], seen  # sending did not wait for the store
    assert seen["composer"] == "and more"  # the words typed after Enter are still there
    assert any("still opening (another guide may be using it)" in notice for notice in seen["notices"])
    stored = Store()
    [info] = stored.conversations()
    said_and_stored = [(m.role, m.content) for m in stored.messages(info.id)]
    assert said_and_stored == [("user", "hello"), ("assistant", "You said: hello"), ("user", "and more"), ("assistant", "You said: and more")]


def test_guide_quits_at_once_while_another_guide_holds_the_store_and_what_was_said_is_saved_next_time(server: LoopbackServer) -> None:
    from test_store import lock_held

    path = Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3"
    older_guides_file(path)  # opening it means migrating it, which waits for the other guide's lock
    with lock_held(path, 14.0):

        async def script() -> float:
            app = make_app(server)
            async with app.run_test(size=(120, 36)) as pilot:
                await pilot.pause(0.3)
                app.chat.composer.text = "hello"
                await pilot.press("enter")
                for _ in range(200):
                    await pilot.pause(0.02)
                    if app.session.conversation.last_reply() is not None:
                        break
                leaving = time.monotonic()
            return leaving

        leaving = asyncio.run(script())
        took = time.monotonic() - leaving
        copies = sorted(path.parent.glob("guide.sqlite3.v1-backup-*"))
        kept = sorted(path.parent.glob("guide.sqlite3.pending-*.jsonl"))
        # Read while the lock is held: in this process (not in a real exit) the store's opening thread lives on, and once
        # the lock goes it opens the file and saves the pending one, as the next guide would (CI saw it gone).
        modes = [file.stat().st_mode & 0o777 for file in kept]
    assert took < 3, f"quitting took {took:.1f} s: it waited for the other guide"
    assert copies == []  # a copy is made once the lock is had, not one per attempt while it is held
    assert len(kept) == 1 and modes == [0o600]
    store = Store()  # the next guide, once the file is free
    assert store.flush(10)
    [info] = store.conversations()
    assert [(m.role, m.content) for m in store.messages(info.id)] == [("user", "hello"), ("assistant", "You said: hello")]


def test_a_write_set_aside_at_start_is_told_with_the_file_that_keeps_it(server: LoopbackServer) -> None:
    import json

    path = Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3"
    Store().close()
    conversation = new_uid()
    lines = [{"kind": "conversation", "fields": {"uid": conversation, "persona": "calm-guide", "at": 1.0}}]
    lines.append({"kind": "message", "fields": {"conversation": conversation, "uid": new_uid(), "role": "user", "content": "kept", "at": 1.0}})
    lines.append({"kind": "message", "fields": {"conversation": conversation, "uid": new_uid(), "role": None, "content": "no role", "at": 1.0}})
    path.with_name("guide.sqlite3.pending-20261201-093000-0042.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    async def script(pilot: Pilot[None]) -> list[str]:
        await settle(pilot, 0.3)
        return [n.message for n in pilot.app.recent.said if n.title == "Storage"]

    notices = run_app(make_app(server), script)
    [aside] = path.parent.glob("guide.sqlite3.set-aside-*.jsonl")
    assert any(str(aside) in notice and "could not be saved" in notice for notice in notices), notices
    assert [m.content for m in Store().messages(Store().conversations()[0].id)] == ["kept"]
