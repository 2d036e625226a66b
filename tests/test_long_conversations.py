"""Long conversations: the store's pages and search, and the transcript's window, through the app."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import run_app, settle, stored_id, type_and_send

from guide.conversation import core as conversation_core
from guide.conversation import keeping as conversation_keeping
from guide.conversation import new_uid
from guide.store import Store
from guide.tui.app import GuideApp
from guide.tui.widgets import calls_panel
from guide.tui.widgets.find_bar import FindBar
from guide.tui.widgets.transcript import WINDOW, Transcript, turn_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from long_conversation import NEEDLE, NEEDLE_AT, generate


def home() -> Path:
    return Path(os.environ["GUIDE_HOME"])


def make_app(server: LoopbackServer | None = None) -> GuideApp:
    return GuideApp(flags={"base_url": server.url if server else "http://127.0.0.1:9", "model": "loopback-model"})


async def open_first_conversation(pilot: Pilot[None]) -> None:
    """F4, then Enter on the most recent conversation: as a user opens one."""
    await settle(pilot)
    await pilot.press("f4")
    await pilot.pause(0.1)
    await pilot.press("enter")
    await settle(pilot, 0.2)


def held_turns(transcript: Transcript) -> list[Any]:
    """The turns its conversation holds (the transcript keeps only its views)."""
    assert transcript.conversation is not None
    return transcript.conversation.turns


def check_window(transcript: Transcript) -> None:
    """The mounted views are consecutive turns held, in order, on screen in that order, and bounded."""
    window, held = [turn_of(v) for v in transcript.views], held_turns(transcript)
    start = next((i for i, turn in enumerate(held) if window and turn is window[0]), len(held))
    assert held[start : start + len(window)] == window
    shown = [c for c in transcript.children if c is not transcript.head and c is not transcript.live]
    assert shown == transcript.views
    assert len(transcript.views) <= WINDOW


def stored(conversation: int = 1) -> list[str]:
    return [m.content for m in Store().messages(conversation)]


# The store.


def test_pages_meet_with_nothing_skipped_or_repeated() -> None:
    generate(home(), 1000)
    store = Store()
    pages: list[list[int]] = []
    before = None
    while page := store.page(1, before=before, limit=37):
        pages.insert(0, [m.id for m in page])
        before = page[0].id
    ids = [i for page in pages for i in page]
    assert ids == [m.id for m in store.messages(1)] and len(ids) == 1000 and ids == sorted(set(ids))


def test_search_finds_words_in_every_conversation_and_obeys_no_query_syntax() -> None:
    store = Store()
    first_uid, second_uid, reply = new_uid(), new_uid(), new_uid()
    store.new_conversation(first_uid, "calm-guide")
    store.new_conversation(second_uid, "calm-guide")
    store.add_message(first_uid, new_uid(), "user", "Where is the lighthouse?")
    store.add_message(second_uid, new_uid(), "user", "Tea by the window")
    store.add_message(second_uid, reply, "assistant", "The lighthouse, and the harbour.")
    assert store.flush()
    ids = {info.uid: info.id for info in store.conversations()}
    first, second = ids[first_uid], ids[second_uid]
    assert {h.conversation_id for h in store.search("lighthouse")} == {first, second}
    assert [h.conversation_id for h in store.search("lightho")] != []  # the last word may be a prefix
    assert [h.conversation_id for h in store.search("tea window")] == [second]
    assert "«lighthouse»" in store.search("lighthouse harbour")[0].snippet
    for syntax in ('"', "AND", "NEAR(", "tea OR", "*", "-", "col:tea", "'"):
        store.search(syntax)  # looked for, never an FTS5 syntax error
    assert store.saving == "saving"
    store.delete_message(uid=reply)
    store.delete(first)
    assert store.flush() and store.search("lighthouse") == []


def test_an_older_store_is_migrated_after_a_backup_copy() -> None:
    from guide import store_schema

    path = home() / "data" / "guide.sqlite3"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.executescript(store_schema.TABLES)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute("INSERT INTO conversations(title, persona, created_at, updated_at) VALUES ('old', 'calm-guide', 1, 1)")
        db.execute("INSERT INTO messages(conversation_id, role, content, created_at) VALUES (1, 'user', 'an old lighthouse', 1)")
    db.close()
    store = Store()
    [backup] = path.parent.glob("guide.sqlite3.v1-backup-*")
    assert store.notice is not None and str(backup) in store.notice
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT value FROM meta").fetchone()[0] == "1"
        assert copy.execute("SELECT content FROM messages").fetchone()[0] == "an old lighthouse"
    copy.close()
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert [h.snippet for h in store.search("lighthouse")] == ["an old «lighthouse»"]
    assert store_schema.version(store._db) == store_schema.SCHEMA_VERSION
    assert Store().notice is None  # migrated once


def test_call_counts_leave_probes_out() -> None:
    generate(home(), 20)
    assert Store().call_counts(1) == {"think": 10}
    assert len(Store().traces(1, latest=3)) == 3 and Store().trace_count(1) == 10


# The transcript's window, through the app.


def test_scrolling_up_and_back_down_walks_every_turn_once_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversation_core, "RESUME_PAGE", 30)
    monkeypatch.setattr(conversation_keeping, "OLDER_PAGE", 25)
    # 30 turns on opening, then a full page of 25 and a last short one of 15: every kind of page, and more than the
    # window (40), so it slides both ways. (120 turns walked three full pages and took 40 s for nothing more.)
    generate(home(), 70)

    async def script(pilot: Pilot[None]) -> tuple[list[Any], list[Any], list[str]]:
        await open_first_conversation(pilot)
        transcript: Transcript = pilot.app.chat.transcript  # type: ignore[attr-defined]
        assert transcript.more_before and len(held_turns(transcript)) == 30
        check_window(transcript)
        going_up: list[Any] = []
        for _ in range(200):
            if transcript.at_start and transcript.scroll_y == 0:
                break
            await pilot.press("shift+pageup")
            await settle(pilot)
            check_window(transcript)
            going_up += [t for t in [turn_of(v) for v in transcript.views] if t not in going_up]
        assert transcript.head.display  # the greeting opens the conversation again
        going_down: list[Any] = []
        for _ in range(200):
            if transcript.at_end and transcript.scroll_y >= transcript.max_scroll_y:
                break
            await pilot.press("shift+pagedown")
            await settle(pilot)
            check_window(transcript)
            going_down += [t for t in [turn_of(v) for v in transcript.views] if t not in going_down]
        return going_up, going_down, [t.content for t in held_turns(transcript)]

    going_up, going_down, turns = run_app(make_app(), script)
    assert turns == stored()  # read from the store in pages: nothing skipped, nothing twice
    assert sorted(going_up, key=lambda t: t.message_id) == sorted(going_down, key=lambda t: t.message_id)
    assert [t.content for t in sorted(going_up, key=lambda t: t.message_id)] == turns


def test_a_reply_streaming_while_the_user_scrolls_up_is_not_lost(server: LoopbackServer) -> None:
    generate(home(), 80)
    words = [f" word{i}" for i in range(40)]
    server.push(Stream(sse(*[chat_chunk(w) for w in words], chat_chunk(finish="stop")), pause=0.08))

    async def script(pilot: Pilot[None]) -> tuple[str, str, bool]:
        await open_first_conversation(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        transcript = app.chat.transcript
        app.chat.composer.text = "Go on"
        await pilot.press("enter")
        for _ in range(100):  # the reply's first words (a loaded machine takes its time): then scroll up while it streams
            if app.chat.streaming and transcript.last_message("assistant") is not None:
                break
            await pilot.pause(0.05)
        assert app.chat.streaming
        for _ in range(8):
            await pilot.press("shift+pageup")
            await pilot.pause(0.05)
            check_window(transcript)
        await settle(pilot)
        assert not app.chat.streaming and not transcript.at_end  # the user is still reading older turns
        await pilot.press("ctrl+end")
        await settle(pilot)
        check_window(transcript)
        view = transcript.last_message("assistant")
        assert view is not None
        visible = bool(view.region and transcript.region.overlaps(view.region))
        return app.session.conversation.turns[-1].content, view.text, visible

    in_session, on_screen, visible = run_app(make_app(server), script)
    reply = "".join(words)
    assert in_session == on_screen == reply and visible
    assert stored()[-2:] == ["Go on", reply]


def test_find_marks_matches_and_walks_through_them_in_a_long_conversation() -> None:
    generate(home(), NEEDLE_AT + 100)

    async def script(pilot: Pilot[None]) -> None:
        await open_first_conversation(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        transcript = app.chat.transcript
        await type_and_send(pilot, f"/find {NEEDLE}")
        bar = app.chat.query_one(FindBar)
        check_window(transcript)
        current = [v for v in transcript.views if v.has_class("found-current")]
        assert len(current) == 1 and NEEDLE in turn_of(current[0]).content
        assert current[0].region and transcript.region.overlaps(current[0].region)
        assert str(bar.query_one("#find-where").render()).startswith("1 of 1")
        field = bar.query_one("#find-input")
        field.value = "kettle"  # type: ignore[attr-defined]
        field.focus()
        await pilot.press("enter")
        await settle(pilot)
        matches = len(app.chat.found)
        assert matches > 50 and app.chat.found_at == matches - 1  # the latest first
        await pilot.press("up", "up")
        await settle(pilot)
        assert app.chat.found_at == matches - 3 and transcript.current is app.chat.found[matches - 3]
        assert "kettle" in transcript.current.content.casefold()
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert app.chat.found_at == 0  # wrapped round
        assert any(v.has_class("found") for v in transcript.views)
        await pilot.press("escape")
        await settle(pilot)
        assert not bar.display and transcript.current is None and app.focused is app.chat.composer
        assert not any(v.has_class("found") for v in transcript.views)

    run_app(make_app(), script)


def test_the_first_and_the_latest_turn_are_a_key_away() -> None:
    generate(home(), 500)

    async def script(pilot: Pilot[None]) -> None:
        await open_first_conversation(pilot)
        transcript: Transcript = pilot.app.chat.transcript  # type: ignore[attr-defined]
        await pilot.press("ctrl+home")
        await settle(pilot)
        check_window(transcript)
        assert transcript.at_start and transcript.head.display and transcript.scroll_y == 0
        assert [t.content for t in held_turns(transcript)] == stored()
        await pilot.press("ctrl+end")
        await settle(pilot)
        check_window(transcript)
        assert transcript.at_end and transcript.is_anchored
        last = transcript.views[-1]
        assert last.region and transcript.region.overlaps(last.region)

    run_app(make_app(), script)


def test_searching_every_conversation_opens_the_one_found_at_the_message() -> None:
    generate(home(), NEEDLE_AT + 300)
    store = Store()
    other = new_uid()
    store.new_conversation(other, "calm-guide", "Another")
    store.add_message(other, new_uid(), "user", "Nothing to see")
    assert store.flush()

    async def script(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await pilot.pause(0.1)
        await pilot.press("slash", *NEEDLE)
        await pilot.pause(0.1)
        table = app.screen.query_one("#conversation-table")
        assert table.row_count == 1  # type: ignore[attr-defined]
        await pilot.press("enter")  # one Enter in the search box opens the match
        await settle(pilot, 0.2)
        transcript = app.chat.transcript
        assert stored_id(app) == 1
        assert transcript.current is not None and NEEDLE in transcript.current.content
        check_window(transcript)
        [view] = [v for v in transcript.views if v.has_class("found-current")]
        assert view.region and transcript.region.overlaps(view.region)

    run_app(make_app(), script)


def test_the_calls_panel_opens_bounded_and_fetches_earlier_calls_on_request() -> None:
    generate(home(), 2000)

    async def script(pilot: Pilot[None]) -> None:
        await open_first_conversation(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        panel = app.chat.panel
        assert len(panel.traces) == calls_panel.OPENING and panel.earlier == 1000 - calls_panel.OPENING
        assert app.session.conversation.call_counts()["think"] == 1000
        calls = panel.query_one("#calls")
        calls.focus()
        calls.highlighted = 0  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        assert len(panel.traces) == calls_panel.OPENING + calls_panel.PAGE
        assert panel.earlier == 1000 - calls_panel.OPENING - calls_panel.PAGE
        started = [t.started_at for t in panel.traces.values()]
        assert started == sorted(started) and len(set(started)) == len(started)

    run_app(make_app(), script)


def test_the_payload_holds_the_latest_turns_that_fit_the_budget() -> None:
    from guide import personas
    from guide.conversation import Conversation, Turn

    conversation = Conversation(personas.load().get("calm-guide"))
    conversation.turns += [Turn("user", "a" * 40), Turn("assistant", "b" * 40), Turn("divider", "c" * 500), Turn("user", "d" * 40)]
    assert [m["content"][0] for m in conversation.payload()] == ["a", "b", "d"]
    conversation.budget = 80
    assert [m["content"][0] for m in conversation.payload()] == ["b", "d"]
    conversation.budget = 10
    assert [m["content"][0] for m in conversation.payload()] == ["d"]  # the last one always goes


def test_a_long_conversation_sends_only_the_latest_turns_that_fit(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(home(), 2000)
    monkeypatch.setenv("GUIDE_HISTORY", "3000")

    async def script(pilot: Pilot[None]) -> int:
        await open_first_conversation(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "And now?"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return len(held_turns(app.chat.transcript))

    loaded = run_app(make_app(server), script)
    sent = server.requests[-1].json["messages"]
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "And now?"}
    said = [m["content"] for m in sent[1:]]
    assert said == stored()[-len(said) - 1 : -1] and 1 < len(said) < 100  # the latest, in order, none skipped
    assert sum(map(len, said)) <= 3000 < sum(map(len, stored()[-len(said) - 2 : -1]))
    assert loaded < 2000  # the rest of the conversation was never read from the store


def test_the_mouse_wheel_reaches_older_turns_and_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual import events

    monkeypatch.setattr(conversation_core, "RESUME_PAGE", 12)
    monkeypatch.setattr(conversation_keeping, "OLDER_PAGE", 7)
    generate(home(), 26)

    async def script(pilot: Pilot[None]) -> None:
        await open_first_conversation(pilot)
        transcript: Transcript = pilot.app.chat.transcript  # type: ignore[attr-defined]
        for _ in range(400):
            if transcript.head.display and transcript.scroll_y == 0:
                break
            await pilot._post_mouse_events([events.MouseScrollUp], widget=transcript, offset=(5, 5))
            check_window(transcript)
        assert transcript.at_start and transcript.head.display and len(held_turns(transcript)) == 26
        for _ in range(400):
            if transcript.at_end and transcript.scroll_y >= transcript.max_scroll_y:
                break
            await pilot._post_mouse_events([events.MouseScrollDown], widget=transcript, offset=(5, 5))
            check_window(transcript)
        assert transcript.at_end and [t.content for t in held_turns(transcript)] == stored()

    run_app(make_app(), script)


def test_brackets_at_the_top_of_a_long_branch_keep_the_switched_message_on_screen_and_the_rest_follows_on_scroll() -> None:
    generate(home(), 300, branches=2)  # the first message was edited: its branch point is the top of a 300-message branch

    def on_screen(transcript: Transcript, turn: Any) -> str | None:
        """The heading of the message showing a turn, if any part of it is on screen."""
        view = next((v for v in transcript.views if v.turn is turn), None)
        if view is None or not transcript.scrollable_content_region.overlaps(view.region):
            return None
        return str(view.query_one(".who").render())

    async def script(pilot: Pilot[None]) -> list[Any]:
        await open_first_conversation(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        transcript, talk = app.chat.transcript, app.chat.conversation
        await pilot.press("ctrl+home")
        await settle(pilot)
        await pilot.press("tab", *["up"] * len(transcript.views))  # the first message, chosen
        await settle(pilot)
        first = transcript.selected
        assert first is not None and talk.siblings(first) == (0, 2)
        seen: list[Any] = []
        for key in ("]", "["):
            await pilot.press(key)
            await settle(pilot, 0.2)
            check_window(transcript)
            seen.append(on_screen(transcript, transcript.selected))
        seen.append(transcript.selected is not None and transcript.selected.uid == first.uid)
        await pilot.press("ctrl+end")  # the rest of the branch is read as it is wanted
        await settle(pilot, 0.2)
        check_window(transcript)
        seen.append((transcript.at_end, len(talk.turns), talk.more_after))
        return seen

    there, back, same, end = run_app(make_app(), script)
    assert there is not None and there.endswith("‹ 2 / 2 ›")  # the edit, where the first message was
    assert back is not None and back.endswith("‹ 1 / 2 ›")  # the long branch, at its branch point (it opened at its end)
    assert same and end == (True, 300, False)
