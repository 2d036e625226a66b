"""The app around the conversation: live rows from the stream itself, one model resolver, resume as it was shown.

Pilot drives the real app against loopback servers (and the real companion
where its catalog matters), as a user would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loopback import LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import command, panel_rows, run_app, settle, type_and_send, wait_for_modal

from guide import config
from guide.tui.app import GuideApp


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, **flags})


def notices(app: GuideApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app.recent.said]


def test_a_streaming_call_updates_its_row_from_the_stream_itself(server: LoopbackServer) -> None:
    server.push(Stream(sse(*(chat_chunk(f"w{i} ") for i in range(8)), chat_chunk(finish="stop")), pause=0.25))

    async def script(pilot: Pilot[None]) -> list[str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "Go slowly"
        await pilot.press("enter")
        seen = []
        for _ in range(10):
            await asyncio.sleep(0.2)
            rows = panel_rows(app)
            if rows:
                seen.append(rows[-1])
        await settle(pilot)
        return seen

    seen = run_app(make_app(server, model="loopback-model"), script)
    while_streaming = [row for row in seen if "frames" in row]
    assert len(set(while_streaming)) >= 3  # the row changed as frames arrived, before the call ended
    assert seen[-1].startswith("think → POST /v1/chat/completions · 200")


def test_a_model_the_server_does_not_list_is_refused_and_not_saved(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await command(pilot, "/model nonexistent")
        return notices(pilot.app), panel_rows(pilot.app)  # type: ignore[arg-type]

    told, rows = run_app(make_app(server), script)
    assert any("This server has no model 'nonexistent'" in words and "loopback-model" in words for words in told)
    assert rows[-1].startswith("catalog → GET /v1/models")
    assert config.load().settings.model is None


def test_the_model_picker_groups_models_by_what_they_are_for() -> None:
    with LoopbackServer(models=["chat-model", "text-embedding-small", "whisper-1", "tts-1"]) as server:

        async def script(pilot: Pilot[None]) -> list[str]:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await pilot.press("f6")
            await wait_for_modal(pilot)
            listed = app.screen.query_one("#picker-list")
            return [str(listed.get_option_at_index(i).prompt).strip() for i in range(listed.option_count)]  # type: ignore[attr-defined]

        shown = run_app(make_app(server), script)
    assert shown[0] == "Chat (think, continue)" and "chat-model" in shown[1]
    assert shown.index("Embeddings (understand)") < shown.index("Speech (speak)") < shown.index("Transcription (listen, interpret)")
    assert any("text-embedding-small" in row for row in shown)


def test_understand_asks_the_embedding_model_and_a_new_server_sets_the_old_model_aside() -> None:
    with LoopbackServer(models=["chat-model", "text-embedding-small"]) as first, LoopbackServer(models=["other-chat"]) as second:

        async def script(pilot: Pilot[None]) -> Any:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await command(pilot, "/understand a quiet lake")
            await command(pilot, "/model chat-model")
            await pilot.press("f7")
            await wait_for_modal(pilot)
            await pilot.press("end", "enter")
            await pilot.pause(0.2)
            await pilot.press(*list(second.url))
            await pilot.press("enter")
            await settle(pilot, 0.3)
            app.chat.composer.text = ""
            await type_and_send(pilot, "Hello")
            return notices(app), str(app.chat.query_one("#status").render())

        told, status = run_app(make_app(first), script)
        embedded = [r.json for r in first.requests if r.path.endswith("/embeddings")][-1]
        asked = [r.json for r in second.requests if r.path.endswith("/chat/completions")][-1]
    assert embedded["model"] == "text-embedding-small"
    assert asked["model"] == "other-chat"
    assert any("no model 'chat-model'" in words for words in told)
    assert "other-chat" in status


def test_blocks_and_dividers_come_back_on_resume_as_their_own_views(server: LoopbackServer) -> None:
    from guide.tui.widgets.messages import ActionBlock, Divider

    def shown(app: GuideApp) -> list[str]:
        transcript = app.chat.transcript
        return [
            f"{type(v).__name__}:{getattr(v, 'title', '') or getattr(v.turn, 'content', '')}"
            for v in transcript.views
            if isinstance(v, ActionBlock | Divider)
        ]

    async def first(pilot: Pilot[None]) -> list[str]:
        await type_and_send(pilot, "Hello")
        await command(pilot, "/understand a quiet lake")
        await command(pilot, "/model another-model")
        await command(pilot, "/continue Once upon a time")
        await command(pilot, "/persona socratic-tutor")
        return shown(pilot.app)  # type: ignore[arg-type]

    server.models = ["loopback-model", "another-model"]
    live = run_app(make_app(server, model="loopback-model"), first)

    async def second(pilot: Pilot[None]) -> list[str]:
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return shown(pilot.app)  # type: ignore[arg-type]

    again = run_app(make_app(server, model="loopback-model"), second)
    assert live[:3] == [
        "ActionBlock:understand → POST /v1/embeddings",
        "Divider:model: another-model",
        "ActionBlock:continue → POST /v1/completions",
    ]
    assert live[3].startswith("Divider:now speaking as")
    assert again == live


def test_a_model_chosen_for_embeddings_is_remembered_for_this_server() -> None:
    with LoopbackServer(models=["chat-model", "text-embedding-small", "text-embedding-large"]) as server:

        async def choose(pilot: Pilot[None]) -> None:
            await command(pilot, "/model text-embedding-large")

        async def later(pilot: Pilot[None]) -> str:
            await command(pilot, "/understand a quiet lake")
            return str(pilot.app.chat.query_one("#status").render())  # type: ignore[attr-defined]

        run_app(make_app(server), choose)
        status = run_app(make_app(server), later)
        embedded = [r.json for r in server.requests if r.path.endswith("/embeddings")][-1]
    assert embedded["model"] == "text-embedding-large"
    assert "text-embedding" not in status  # the header names the chat model; the embedding choice does not replace it
    assert config.load().settings.model is None


def test_keys_that_arrive_in_one_burst_are_sent_as_typed(server: LoopbackServer) -> None:
    """A terminal (or tmux) may deliver '/continue my own words⏎' at once: the completion list must not replace them."""
    from textual import events

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.focus()
        await pilot.press("slash")  # the list opens on '/', with /imagine highlighted
        for letter in "continue my own words":
            key = events.Key("space" if letter == " " else letter, letter)
            key.set_sender(app)
            app._driver.send_message(key)  # type: ignore[union-attr]
        enter = events.Key("enter", "\r")
        enter.set_sender(app)
        app._driver.send_message(enter)  # type: ignore[union-attr]
        await settle(pilot, 0.3)
        return [r.json for r in server.requests if r.json], app.chat.composer.text

    sent, left = run_app(make_app(server, model="loopback-model"), script)
    assert [body.get("prompt") for body in sent if "prompt" in body] == ["my own words"]
    assert left == ""


def test_resuming_shows_the_greeting_shown_live_not_the_persona_now(server: LoopbackServer) -> None:
    async def first(pilot: Pilot[None]) -> tuple[str, str]:
        await type_and_send(pilot, "first message")
        await command(pilot, "/persona api-docent")
        await type_and_send(pilot, "second message")
        head = pilot.app.chat.transcript.head  # type: ignore[attr-defined]
        return head.who, head.text

    server.models = ["loopback-model", "another-model"]
    live = run_app(make_app(server, model="loopback-model"), first)

    async def second(pilot: Pilot[None]) -> tuple[str, str]:
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        head = pilot.app.chat.transcript.head  # type: ignore[attr-defined]
        return head.who, head.text

    assert live[0] == "Calm guide"
    assert run_app(make_app(server, model="loopback-model"), second) == live


def test_a_continuation_is_shown_without_stray_markup(server: LoopbackServer) -> None:
    from guide.tui.widgets.messages import ActionBlock

    async def script(pilot: Pilot[None]) -> str:
        await command(pilot, "/continue Once upon a time,")
        block = [v for v in pilot.app.chat.transcript.views if isinstance(v, ActionBlock)][-1]  # type: ignore[attr-defined]
        from textual.widgets import Markdown

        return " ".join(str(part.render()) for part in block.query_one(Markdown).query("*") if hasattr(part, "render"))

    shown = run_app(make_app(server, model="loopback-model"), script)
    assert "**" not in shown and "Once upon a time," in shown and "and so it goes on." in shown


def test_letters_typed_in_the_calls_list_reach_the_composer_and_esc_goes_back(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        await pilot.press("f2")  # the calls list has the focus now
        on_list = app.focused is app.chat.panel.query_one("#calls")
        await pilot.press("h", "i")
        typed = app.chat.composer.text, app.focused is app.chat.composer
        await pilot.press("f2")  # back to the calls list
        assert app.focused is app.chat.panel.query_one("#calls")
        await pilot.press("escape")
        return on_list, typed, app.focused is app.chat.composer

    on_list, typed, back = run_app(make_app(server, model="loopback-model"), script)
    assert on_list and typed == ("hi", True) and back
