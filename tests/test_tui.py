"""The terminal app, driven with Pilot against a real loopback server."""

from __future__ import annotations

import asyncio
import tomllib
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import panel_rows, run_app, settle, stored_id, transcript_text, type_and_send, wait_for_modal, wait_until_connected

from guide import ACTIONS, config, personas
from guide.locations import settings_file
from guide.store import Store
from guide.tui.app import GuideApp
from guide.tui.widgets.transcript import MessageView

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, **flags})


def test_the_greeting_opens_the_conversation_and_no_call_is_made(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[tuple[str, str, str]]:
        await pilot.pause(0.3)
        return transcript_text(pilot.app)  # type: ignore[arg-type]

    shown = run_app(make_app(server), script)
    assert shown == [("greeting", "Calm guide", personas.load().get("calm-guide").greeting_for())]
    assert "Fira" in shown[0][2]
    assert server.requests == []


def test_the_status_line_shows_persona_server_and_model(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> str:
        return str(pilot.app.chat.query_one("#status").render())  # type: ignore[attr-defined]

    status = run_app(make_app(server, model="loopback-model"), script)
    assert "Calm guide" in status and server.url in status and "/v1" not in status and "loopback-model" in status


def test_send_streams_the_reply_and_adds_its_mapping_row(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> tuple[Any, Any]:
        await type_and_send(pilot, "Hello guide")
        return transcript_text(pilot.app), panel_rows(pilot.app)  # type: ignore[arg-type]

    shown, rows = run_app(make_app(server, model="loopback-model"), script)
    assert shown[1:] == [("user", "You", "Hello guide"), ("assistant", "Calm guide", "You said: Hello guide")]
    assert rows[-1].startswith("think → POST /v1/chat/completions · 200 · ")
    sent = server.requests[-1].json
    assert sent["stream"] is True and sent["messages"][0]["role"] == "system" and "Fira" in sent["messages"][0]["content"]


def test_enter_sends_and_ctrl_j_adds_a_newline(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        pilot.app.chat.composer.focus()  # type: ignore[attr-defined]
        await pilot.press("o", "n", "e", "ctrl+j", "t", "w", "o", "enter")
        await settle(pilot)
        return transcript_text(pilot.app)  # type: ignore[arg-type]

    shown = run_app(make_app(server, model="loopback-model"), script)
    assert shown[1] == ("user", "You", "one\ntwo")


def test_up_in_an_empty_composer_recalls_the_last_prompt(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> str:
        await type_and_send(pilot, "remember me")
        await pilot.press("up")
        return pilot.app.chat.composer.text  # type: ignore[attr-defined,no-any-return]

    assert run_app(make_app(server, model="loopback-model"), script) == "remember me"


def slow_stream(count: int = 400) -> Stream:
    return Stream(sse(*[chat_chunk(f"w{i} ") for i in range(count)], chat_chunk(finish="stop")), pause=0.02)


def test_escape_stops_the_reply_and_keeps_what_arrived(server: LoopbackServer) -> None:
    server.push(slow_stream())

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.focus()
        await pilot.press("h", "i", "enter")
        for _ in range(200):
            await pilot.pause(0.02)
            view = app.chat.transcript.last_message("assistant")
            if view is not None and view.body.source.count("w") >= 3:
                break
        held = app.chat.composer.holding
        await pilot.press("n", "e", "x", "t", "enter")  # writing goes on while the reply streams; Enter waits
        held_words = app.chat.composer.text
        await pilot.press("escape")
        await settle(pilot, 0.2)
        view = app.chat.transcript.last_message("assistant")
        assert view is not None
        return held, held_words, view.state, view.text, app.chat.composer.holding, panel_rows(app)[-1], stored_id(app)

    held, held_words, state, text, held_after, row, conversation = run_app(make_app(server, model="m"), script)
    assert held and held_words == "next" and not held_after
    assert state == "stopped"
    assert text.startswith("w0 w1 w2") and not text.endswith("w399 ")
    assert row.endswith("stopped")
    stored = Store().messages(conversation)
    assert [(m.role, m.state) for m in stored] == [("user", "done"), ("assistant", "stopped")]
    assert stored[1].content == text


def test_a_failed_call_gives_the_words_back_and_a_calm_notice(server: LoopbackServer) -> None:
    server.push(
        Answer(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
    )

    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "my careful words")
        app: GuideApp = pilot.app  # type: ignore[assignment]
        notices = [(n.title, n.message, n.severity) for n in app.recent.said]
        return app.chat.composer.text, transcript_text(app), notices, panel_rows(app)

    text, shown, notices, rows = run_app(make_app(server, model="m"), script)
    assert text == "my careful words"
    assert [role for role, _, _ in shown] == ["greeting"]
    assert any(
        title == "The server refused the key." and "Incorrect API key" in message and severity == "error" for title, message, severity in notices
    )
    assert rows[-1].startswith("think → POST /v1/chat/completions · 401")


def test_a_stream_cut_off_keeps_the_partial_reply_marked_and_the_words(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Half a "), chat_chunk("thought"), done=False), cut=True))

    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "tell me")
        app: GuideApp = pilot.app  # type: ignore[assignment]
        view = app.chat.transcript.last_message("assistant")
        assert view is not None
        return view.state, view.text, app.chat.composer.text

    state, text, composer = run_app(make_app(server, model="m"), script)
    assert (state, text, composer) == ("cut", "Half a thought", "tell me")


ACTION_COMMANDS = {
    "imagine": "/imagine a quiet lake",
    "understand": "/understand calm | still",
    "speak": "/speak Welcome back",
    "listen": "/listen {wav}",
    "interpret": "/interpret {wav}",
    "continue": "/continue Once upon",
    "catalog": "/catalog",
    "discern": "/discern kind words",
}


@pytest.mark.parametrize("action", list(ACTION_COMMANDS))
def test_each_slash_command_adds_its_mapping_row(action: str, server: LoopbackServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("guide.tui.screens.chat.PLAYERS", ())
    wav = tmp_path / "note.wav"
    wav.write_bytes(WAV)
    line = ACTION_COMMANDS[action].format(wav=wav)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = line
        app.chat.composer.focus()
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return panel_rows(app), [n.message for n in app.recent.said if n.severity == "error"], app.chat.composer.text

    rows, errors, composer = run_app(make_app(server, model="loopback-model"), script)
    assert errors == []
    assert any(row.startswith(f"{action} → {ACTIONS[action].method} {ACTIONS[action].legacy_path} · 200") for row in rows), rows
    if action in ("listen", "interpret"):
        assert "heard" in composer


def test_the_slash_menu_completes_as_you_type(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.focus()
        await pilot.press("slash", "i", "m")
        await pilot.pause()
        shown = app.chat.query_one("#suggestions").display
        await pilot.press("tab")
        return shown, app.chat.composer.text

    shown, text = run_app(make_app(server), script)
    assert shown and text == "/imagine "


def test_a_slash_typed_before_the_list_is_mounted_is_suggested_when_it_comes(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is mounted a frame after the greeting: what was typed in that first frame is suggested as it arrives."""
    from guide.tui.screens.chat import ChatScreen

    mount_list = ChatScreen._after_first_frame

    async def typed_first(screen: ChatScreen) -> None:
        screen.composer.text = "/im"  # as typed in the first frame: no list yet to show it
        await asyncio.sleep(0.3)  # the composer has heard of the change, and found no list
        await mount_list(screen)

    monkeypatch.setattr(ChatScreen, "_after_first_frame", typed_first)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.pause()
        return app.chat.query_one("#suggestions").display

    assert run_app(make_app(server), script)


def test_switching_persona_shows_a_divider_changes_the_next_system_message_and_is_saved(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first")
        app.chat.composer.text = "/persona socratic-tutor"
        await pilot.press("enter")
        await settle(pilot)
        await type_and_send(pilot, "second")
        return [str(d.render()) for d in app.chat.query("Divider")]

    dividers = run_app(make_app(server, model="loopback-model"), script)
    assert any("Socratic tutor" in d for d in dividers)
    systems = [r.json["messages"][0]["content"] for r in server.requests if r.path.endswith("/chat/completions")]
    assert "calm and thoughtful guide" in systems[0] and "Socratic tutor" in systems[1]
    assert tomllib.loads(settings_file().read_text())["persona"] == "socratic-tutor"


def test_picking_a_model_calls_catalog_and_saves_the_choice(server: LoopbackServer) -> None:
    server.models = ["loopback-model", "another-model"]

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f6")
        await wait_for_modal(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        return panel_rows(app)

    rows = run_app(make_app(server), script)
    assert rows[-1].startswith("catalog → GET /v1/models · 200")
    assert config.load().settings.model == "another-model"


def test_a_conversation_is_resumed_after_a_restart(server: LoopbackServer) -> None:
    async def first(pilot: Pilot[None]) -> int:
        await type_and_send(pilot, "keep this")
        return stored_id(pilot.app)  # type: ignore[arg-type]

    conversation = run_app(make_app(server, model="loopback-model"), first)

    async def second(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await type_and_send(pilot, "and this")
        return transcript_text(app), stored_id(app), panel_rows(app)

    shown, resumed, rows = run_app(make_app(server, model="loopback-model"), second)
    assert resumed == conversation
    assert [text for _, _, text in shown[1:]] == ["keep this", "You said: keep this", "and this", "You said: and this"]
    assert server.requests[-1].json["messages"][1:] == [
        {"role": "user", "content": "keep this"},
        {"role": "assistant", "content": "You said: keep this"},
        {"role": "user", "content": "and this"},
    ]
    assert len([r for r in rows if r.startswith("think")]) == 2


def test_selecting_a_row_opens_the_call_whole(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from guide.tui.screens.call_detail import CallDetail

        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "show me")
        await pilot.press("f2")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CallDetail)
        return screen.texts

    texts = run_app(make_app(server, model="loopback-model"), script)
    assert texts["gentle"].startswith("ai.think(")
    assert "POST " + server.url + "/v1/chat/completions" in texts["request"]
    assert "data: [DONE]" in texts["response"] and "frames" in texts["response"]
    assert texts["curl"].startswith("curl --no-buffer")
    assert "client.chat.completions.create(" in texts["python"]


def test_the_map_screen_shows_every_action_with_support_and_counts(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import DataTable

        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "count me")
        await pilot.press("f3")
        await settle(pilot, 0.3)
        table = app.screen.query_one(DataTable)
        return [table.get_row(name) for name in ACTIONS]

    rows = run_app(make_app(server, model="loopback-model"), script)
    assert [row[0] for row in rows] == list(ACTIONS)
    assert all(row[2] == "✓ offered" for row in rows)
    assert rows[0][3] == "1"


def test_new_conversation_greets_again_without_a_call(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "hello")
        count = len(server.requests)
        await pilot.press("ctrl+n")
        await settle(pilot)
        return transcript_text(pilot.app), count  # type: ignore[arg-type]

    shown, count = run_app(make_app(server, model="loopback-model"), script)
    assert [role for role, _, _ in shown] == ["greeting"]
    assert len(server.requests) == count


def test_regenerate_replaces_the_last_reply(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "again")
        await pilot.press("ctrl+r")
        await settle(pilot)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        return transcript_text(app), Store().messages(stored_id(app) or 0)

    shown, stored = run_app(make_app(server, model="loopback-model"), script)
    assert [role for role, _, _ in shown] == ["greeting", "user", "assistant"]
    assert [m.role for m in stored] == ["user", "assistant"]
    assert len([r for r in server.requests if r.path.endswith("/chat/completions")]) == 2


def test_cannot_connect_at_start_keeps_the_app_open_and_explains() -> None:
    with LoopbackServer() as gone:
        url = gone.url

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        at_start = [(n.title, n.message) for n in app.recent.said]
        await type_and_send(pilot, "anyone there")
        return at_start, [n.title for n in app.recent.said], app.chat.composer.text, transcript_text(app)

    at_start, titles, composer, shown = run_app(GuideApp(flags={"base_url": url, "model": "m"}), script)
    assert any(title == "Could not reach the server" and "F7" in message for title, message in at_start)
    assert shown[0][0] == "greeting"
    assert any(title and title.startswith("Could not reach the server at") for title in titles)
    assert composer == "anyone there"


def test_markup_and_escapes_in_replies_are_shown_literally(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("[bold]not bold[/bold] \x1b[31mred\x1b[0m"), chat_chunk(finish="stop"))))

    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "hi")
        view = pilot.app.chat.transcript.last_message("assistant")  # type: ignore[attr-defined]
        assert isinstance(view, MessageView)
        return view.body.source

    source = run_app(make_app(server, model="m"), script)
    assert "[bold]not bold[/bold]" in source and "\x1b" not in source and "␛[31mred" in source


def test_imagine_saves_the_image_and_previews_it(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "/imagine a quiet lake"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return [str(p.render()) for p in app.chat.query(".picture")], app.session.conversation.turns[-1].content

    pictures, words = run_app(make_app(server, model="loopback-model"), script)
    assert pictures == ["▀"]
    saved = words.split("`")[1]
    from pathlib import Path

    assert Path(saved).read_bytes().startswith(b"\x89PNG")
    assert "a revised a quiet lake" in words


def test_choosing_a_theme_is_saved(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> None:
        pilot.app.theme = "nord"
        await pilot.pause()

    run_app(make_app(server), script)
    assert config.load().settings.theme == "nord"

    async def again(pilot: Pilot[None]) -> str:
        return pilot.app.theme

    assert run_app(make_app(server), again) == "nord"


def test_export_writes_the_conversation_with_its_calls(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "write me down")
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "/export calls"
        await pilot.press("enter")
        await settle(pilot)
        return [n.message for n in app.recent.said]

    messages = run_app(make_app(server, model="loopback-model"), script)
    path = next(m for m in messages if m.startswith("Exported to ")).removeprefix("Exported to ")
    from pathlib import Path

    text = Path(path).read_text()
    assert "write me down" in text and "You said: write me down" in text
    assert "think → POST /v1/chat/completions · 200" in text and "curl --no-buffer" in text


def test_conversations_can_be_renamed_and_deleted(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "first words")
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("r", "c", "a", "l", "m", "enter")
        await settle(pilot)
        titles = [c.title for c in Store().conversations()]
        await pilot.press("d")  # the list stays open after a rename
        await settle(pilot)
        await pilot.press("y")  # delete asks first
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        return titles, Store().conversations(), transcript_text(app)

    titles, left, shown = run_app(make_app(server, model="loopback-model"), script)
    assert titles == ["calm"]
    assert left == []
    assert [role for role, _, _ in shown] == ["greeting"]


def test_a_persona_made_in_the_app_is_saved_and_used(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import Input, TextArea

        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f5")
        await pilot.pause(0.1)
        picker = app.screen.query_one("#picker-list")
        picker.highlighted = picker.option_count - 2  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause(0.2)
        editor = app.screen
        editor.query_one("#pid", Input).value = "night-owl"
        editor.query_one("#name", Input).value = "Night owl"
        editor.query_one("#description", Input).value = "Keeps watch at night"  # a new persona's starts empty (issue 26)
        editor.query_one("#system", TextArea).text = "You keep watch at night with {address}."
        await pilot.press("ctrl+s")
        await settle(pilot)
        await type_and_send(pilot, "still up")
        return app.session.conversation.persona.id

    assert run_app(make_app(server, model="loopback-model"), script) == "night-owl"
    owl = personas.load().personas["night-owl"]
    assert owl.source == "user" and owl.name == "Night owl"
    assert server.requests[-1].json["messages"][0]["content"] == "You keep watch at night with Fira."


def test_the_server_picker_saves_the_address_and_probes_it(server: LoopbackServer) -> None:
    with LoopbackServer(offers={"/chat/completions", "/models"}) as other:

        async def script(pilot: Pilot[None]) -> Any:
            from tui_helpers import pick_server

            app: GuideApp = pilot.app  # type: ignore[assignment]
            await pick_server(pilot, other.url)
            for _ in range(100):
                await pilot.pause(0.02)
                if app.session.server.support is not None:
                    break
            await settle(pilot)  # the picker's worker ends with the status line
            return app.session.server.support, str(app.chat.query_one("#status").render())

        support, status = run_app(make_app(server), script)
    assert config.load().settings.base_url == other.url
    assert support["think"]["support"] == "yes" and support["imagine"]["support"] == "no"
    assert other.url in status


def test_a_preset_server_is_saved_as_the_provider(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f7")
        await wait_for_modal(pilot)
        picker = app.screen.query_one("#picker-list")
        picker.highlighted = 2  # type: ignore[attr-defined]  # Ollama, on loopback (after guide's companion and OpenAI)
        await pilot.press("enter")
        for _ in range(200):  # nothing answers there: guide asks before using it
            await pilot.pause(0.02)
            if app.screen is not app.chat and app.screen.query("Label.confirm-question"):
                break
        await pilot.press("y")
        for _ in range(200):
            await pilot.pause(0.02)
            if app.session.server.support is not None:
                break
        return app.session.server.support

    support = run_app(make_app(server), script)
    settings = config.load().settings
    assert settings.provider == "ollama" and settings.base_url is None
    assert settings.server() == "http://127.0.0.1:11434"
    assert support is not None


def test_a_full_disk_is_reported_once_and_the_chat_goes_on(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await settle(pilot)
        assert app.session.store is not None
        db = app.session.store._writer._db
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")  # SQLite's own "disk is full" from here on
        for words in ("first " * 2000, "second"):  # the first needs new pages at once
            app.chat.composer.text = words
            await pilot.press("enter")
            await settle(pilot, 0.2)
        return transcript_text(app), [n.message for n in app.recent.said if n.title == "Storage"]

    shown, storage = run_app(make_app(server, model="loopback-model"), script)
    assert [text.strip() for _, _, text in shown[1:]] == [
        "first " * 1999 + "first",
        "You said: " + ("first " * 1999) + "first",
        "second",
        "You said: second",
    ]
    assert len(storage) == 1 and "full" in storage[0]


def test_a_conversations_file_that_is_not_a_database_is_set_aside(server: LoopbackServer) -> None:
    from guide.locations import data_dir

    data_dir().mkdir(parents=True)
    (data_dir() / "guide.sqlite3").write_bytes(b"this is not a database, just words" * 100)

    async def script(pilot: Pilot[None]) -> Any:
        await type_and_send(pilot, "still here")
        app: GuideApp = pilot.app  # type: ignore[assignment]
        return [n.message for n in app.recent.said], stored_id(app)

    notices, conversation = run_app(make_app(server, model="loopback-model"), script)
    [kept] = data_dir().glob("guide.sqlite3.broken-*")
    assert kept.read_bytes().startswith(b"this is not a database")
    assert any(str(kept) in n for n in notices)
    assert conversation is not None and [m.content for m in Store().messages(conversation)] == ["still here", "You said: still here"]
