"""One owner each for the model, the server and the conversation in force: after a switch, every reader agrees.

Each test switches as a user does (a slash command, F5, F7, F4) and then reads
every place the switch shows: the status line, the next request's `model`,
the address the call went to, the transcript.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import command, panel_rows, pick_server, run_app, settle, transcript_text, type_and_send, wait_for_modal

from guide import personas
from guide.tui.app import GuideApp


def status_of(app: GuideApp) -> str:
    """The status line as drawn now (its cached line: redrawn only when it is refreshed)."""
    return app.chat.query_one("#status").render_line(0).text


def models_asked(server: LoopbackServer) -> list[str]:
    """The model of each message sent (the probe's calls carry no system message)."""
    sent = [r.json for r in server.requests if r.path.endswith("/chat/completions") and isinstance(r.json, dict)]
    return [body["model"] for body in sent if body.get("messages") and body["messages"][0].get("role") == "system"]


def test_after_slash_model_the_status_line_and_the_next_request_name_the_same_model(server: LoopbackServer) -> None:
    server.models = ["loopback-model", "another-model"]

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "before")
        await command(pilot, "/model another-model")
        await settle(pilot)
        shown = status_of(app)
        await type_and_send(pilot, "after")
        return shown, [str(d.render()) for d in app.chat.query("Divider")]

    shown, dividers = run_app(GuideApp(flags={"base_url": server.url}), script)
    assert "another-model" in shown and "loopback-model" not in shown
    assert models_asked(server) == ["loopback-model", "another-model"]
    assert any("another-model" in d for d in dividers)


def test_after_a_persona_switch_its_model_is_shown_and_asked_for(server: LoopbackServer) -> None:
    server.models = ["loopback-model", "owl-model"]
    personas.save(dataclasses.replace(personas.template("night-owl"), name="Night owl", model="owl-model"))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "before")
        await command(pilot, "/persona night-owl")
        await settle(pilot)
        shown = status_of(app)
        await type_and_send(pilot, "after")
        await command(pilot, "/persona calm-guide")  # its model goes with it: the server's first again
        await settle(pilot)
        back = status_of(app)
        await type_and_send(pilot, "again")
        return shown, back

    shown, back = run_app(GuideApp(flags={"base_url": server.url}), script)
    assert "Night owl" in shown and "owl-model" in shown
    assert "Calm guide" in back and "owl-model" not in back and "loopback-model" in back
    assert models_asked(server) == ["loopback-model", "owl-model", "loopback-model"]


def test_after_the_server_picker_the_status_line_the_call_and_the_transcript_name_the_new_server(server: LoopbackServer) -> None:
    with LoopbackServer(models=["other-model"]) as other:

        async def script(pilot: Pilot[None]) -> Any:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await type_and_send(pilot, "before")
            await pick_server(pilot, other.url)
            for _ in range(200):
                await pilot.pause(0.02)
                if other.url in status_of(app) and "other-model" in status_of(app):
                    break
            await settle(pilot)
            shown = status_of(app)
            await type_and_send(pilot, "after")
            think = [trace for trace in app.session.conversation.calls.values() if trace.action == "think"]
            return shown, think[-1].url, [str(d.render()) for d in app.chat.query("Divider")], panel_rows(app)

        shown, url, dividers, rows = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
        assert other.url in shown and server.url not in shown and "other-model" in shown
        assert url.startswith(other.url)
        assert models_asked(other) == ["other-model"] and models_asked(server) == ["loopback-model"]
        assert any("now talking to" in d and other.url.split("//")[1] in d for d in dividers)
        assert rows[-1].startswith("think")


def test_after_f4_resume_the_screen_the_transcript_and_the_next_request_hold_the_resumed_conversation(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first words")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await type_and_send(pilot, "second words")
        await pilot.press("f4")
        await wait_for_modal(pilot)
        await pilot.press("down", "enter")  # the older one, under the newest
        await settle(pilot)
        shown = [text for _, _, text in transcript_text(app)[1:]]
        await type_and_send(pilot, "more")
        return shown, app.chat.conversation is app.session.conversation

    shown, same = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
    assert shown == ["first words", "You said: first words"]
    assert same
    assert server.requests[-1].json["messages"][1:] == [
        {"role": "user", "content": "first words"},
        {"role": "assistant", "content": "You said: first words"},
        {"role": "user", "content": "more"},
    ]


def test_a_server_without_a_catalog_is_still_the_one_shown_and_called(server: LoopbackServer) -> None:
    with LoopbackServer(offers={"/chat/completions"}) as other:  # its catalog is refused: the switch is announced before it is asked

        async def script(pilot: Pilot[None]) -> Any:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await pick_server(pilot, other.url)
            for _ in range(200):
                await pilot.pause(0.02)
                if any(r.path.endswith("/models") for r in other.requests):
                    break
            await settle(pilot)
            shown = status_of(app)
            await type_and_send(pilot, "after")
            return shown

        shown = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
        assert other.url in shown and server.url not in shown
        assert models_asked(other) == ["loopback-model"] and models_asked(server) == []
