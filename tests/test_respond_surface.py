"""The chat on either surface: /respond sends the next messages through respond, the header says so, /revise makes a block."""

from __future__ import annotations

import asyncio
from typing import Any

from loopback import LoopbackServer

from guide import AsyncGuide
from guide.conversation import Conversation, blocks
from guide.conversation.core import respond_options
from guide.personas import FALLBACK
from guide.status import Status, fit
from guide.tui.slash.table import BY_NAME, parse


def chat(server: LoopbackServer) -> Conversation:
    return Conversation(FALLBACK, guide=AsyncGuide(base_url=server.url, model="loopback-model"))


def test_the_same_turn_goes_through_think_then_respond_row_beside_row(server: LoopbackServer) -> None:
    async def script() -> list[str]:
        talk = chat(server)
        await talk.send("Hello")
        talk.switch_surface("respond")
        await talk.send("Hello")
        return [turn.content for turn in talk.turns if turn.role == "assistant"]

    replies = asyncio.run(script())
    paths = [request.path for request in server.requests if request.path != "/v1/models"]  # the catalog names the model first
    assert paths == ["/v1/chat/completions", "/v1/responses"]
    sent = server.requests[-1].json
    assert sent["stream"] is True and sent["instructions"] and sent["input"][-1] == {"role": "user", "content": "Hello"}
    assert not any(message.get("role") == "system" for message in sent["input"])  # the persona goes as instructions
    assert replies[0] == replies[1] == "You said: Hello"


def test_switching_surface_shows_a_divider_and_switching_back_takes_it_away(server: LoopbackServer) -> None:
    talk = chat(server)
    talk.switch_surface("respond")
    assert talk.turns[-1].role == "divider" and "respond" in talk.turns[-1].content and "POST /v1/responses" in talk.turns[-1].content
    talk.switch_surface("think")
    assert talk.turns == [] and talk.surface == "think"


def test_a_personas_options_are_renamed_for_respond_or_left_out() -> None:
    options = {"temperature": 0.7, "max_tokens": 64, "seed": 7, "presence_penalty": 0.5}
    assert respond_options(options) == {"temperature": 0.7, "max_output_tokens": 64}


def test_the_header_says_which_surface_carries_the_chat() -> None:
    status = Status("Calm guide", ("127.0.0.1:8765",), "smollm2", "respond")
    assert fit(status, 200).endswith("smollm2 via respond")
    assert fit(status, 40).endswith(" via respond") and len(fit(status, 40)) <= 40
    assert "via" not in fit(Status("Calm guide", ("127.0.0.1:8765",), "smollm2"), 200)


def test_revise_takes_an_instruction_and_a_text_between_a_bar(server: LoopbackServer) -> None:
    command, argument = parse("/revise Fix the spelling. | What day of the wek is it?")  # type: ignore[misc]
    assert command is BY_NAME["revise"] and command.problem(argument) is None
    assert command.problem("Fix the spelling.") and command.problem("| only text")
    assert BY_NAME["respond"].app_action == "respond({})"

    async def script() -> Any:
        return await blocks.revise(chat(server), argument)

    turn = asyncio.run(script())
    assert server.requests[-1].json["instruction"] == "Fix the spelling." and server.requests[-1].json["input"] == "What day of the wek is it?"
    assert turn.kind == "revise" and "What day of the week is it?" in turn.content and turn.data["title"] == "revise → POST /v1/edits"


def test_in_the_app_respond_on_sends_the_next_turn_through_respond_row_beside_row(server: LoopbackServer) -> None:
    from textual.pilot import Pilot
    from tui_helpers import command, panel_rows, run_app, transcript_text, type_and_send

    from guide.tui.app import GuideApp

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        await command(pilot, "/respond on")
        header = str(app.chat.query_one("#status").render())
        await type_and_send(pilot, "Hello")
        await command(pilot, "/revise Make it formal | hi there")
        await command(pilot, "/respond off")
        after = str(app.chat.query_one("#status").render())
        return header, after, panel_rows(app), transcript_text(app)

    header, after, rows, shown = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(140, 40))
    assert header.endswith("via respond") and "via respond" not in after
    calls = [row.split(" · ")[0] for row in rows]
    assert calls[:2] == ["think → POST /v1/chat/completions", "respond → POST /v1/responses"]  # the same turn on both surfaces
    assert "revise → POST /v1/edits" in calls
    assert [text for role, _, text in shown if role == "assistant"] == ["You said: Hello", "You said: Hello"]
    paths = [request.path for request in server.requests if request.path != "/v1/models"]
    assert paths == ["/v1/chat/completions", "/v1/responses", "/v1/edits"]
    assert server.requests[-1].json["instruction"] == "Make it formal" and server.requests[-1].json["input"] == "hi there"


def test_switching_to_respond_with_a_persona_that_carries_tools_says_they_stay_behind(server: LoopbackServer) -> None:
    from guide.conversation import Notice
    from guide.personas import load

    heard: list[Any] = []
    talk = Conversation(load().get("toolsmith"), guide=AsyncGuide(base_url=server.url, model="loopback-model"), emit=heard.append)
    talk.switch_surface("respond")
    said = [event.message for event in heard if isinstance(event, Notice)]
    assert any("tools go with think only" in words for words in said)
    talk.switch_surface("think")
    chat(server).switch_surface("respond")  # the calm guide carries no tools: nothing to say
    assert len([event for event in heard if isinstance(event, Notice)]) == 1


# Mode state follows the server: respond where the server in force offers it, think where it does not.

WITHOUT_RESPOND = {"/chat/completions", "/models"}


def header(app: Any) -> str:
    return str(app.chat.query_one("#status").render())


async def pick_server(pilot: Any, url: str) -> None:
    """F7 to another server, then until its probe has answered."""
    from tui_helpers import pick_server as picked
    from tui_helpers import settle

    pilot.app.session.support = None
    await picked(pilot, url)
    for _ in range(150):
        await pilot.pause(0.02)
        if pilot.app.session.support is not None:
            break
    await settle(pilot, 0.2)


def surface_dividers(app: Any) -> list[str]:
    return [(t.data or {}).get("surface") for t in app.session.conversation.turns if t.role == "divider" and t.kind == "surface"]


def test_switching_to_a_server_without_respond_goes_back_to_think_and_the_next_message_is_answered(server: LoopbackServer) -> None:
    from tui_helpers import command, run_app, transcript_text, type_and_send

    from guide.tui.app import GuideApp

    with LoopbackServer(offers=WITHOUT_RESPOND) as other:

        async def script(pilot: Any) -> Any:
            app = pilot.app
            await command(pilot, "/respond on")
            before = header(app)
            await pick_server(pilot, other.url)
            after = header(app)
            probed = len(other.requests)
            await type_and_send(pilot, "Hello there")
            return before, after, surface_dividers(app), transcript_text(app), app.chat.composer.text, probed

        before, after, dividers, shown, left, probed = run_app(
            GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(140, 40)
        )
        paths = [request.path for request in other.requests[probed:]]
    assert before.endswith("via respond") and "via respond" not in after
    assert dividers == ["respond", "think"]  # the way back shows in the transcript
    assert paths == ["/v1/chat/completions"]  # the message went through think, once
    assert shown[-1][2] == "You said: Hello there" and left == ""


def test_respond_on_is_refused_where_the_server_has_no_respond() -> None:
    from tui_helpers import command, run_app

    from guide.tui.app import GuideApp

    with LoopbackServer(offers=WITHOUT_RESPOND) as other:

        async def script(pilot: Any) -> Any:
            app = pilot.app
            await app.session.probe()
            await command(pilot, "/respond on")
            return header(app), app.session.conversation.surface

        shown, surface = run_app(GuideApp(flags={"base_url": other.url, "model": "loopback-model"}), script, size=(140, 40))
    assert "via respond" not in shown and surface == "think"


def test_a_message_refused_as_not_offered_through_respond_goes_back_to_think_and_keeps_the_words() -> None:
    from tui_helpers import run_app, type_and_send

    from guide.tui.app import GuideApp

    with LoopbackServer(offers=WITHOUT_RESPOND) as other:

        async def script(pilot: Any) -> Any:
            app = pilot.app
            app.session.support = None  # the probe has not said: the call itself finds out
            app.session.conversation.switch_surface("respond")
            app.refresh_status()
            await type_and_send(pilot, "keep me")
            return header(app), app.session.conversation.surface, app.chat.composer.text

        shown, surface, left = run_app(GuideApp(flags={"base_url": other.url, "model": "loopback-model"}), script, size=(140, 40))
    assert surface == "think" and "via respond" not in shown and left == "keep me"


def test_a_conversation_left_on_respond_resumes_on_think_where_the_server_has_none(server: LoopbackServer) -> None:
    from tui_helpers import command, run_app, settle, type_and_send, wait_for_modal

    from guide.tui.app import GuideApp

    async def first(pilot: Any) -> None:
        await command(pilot, "/respond on")
        await type_and_send(pilot, "hi")

    run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), first, size=(140, 40))

    with LoopbackServer(offers=WITHOUT_RESPOND) as other:

        async def second(pilot: Any) -> Any:
            app = pilot.app
            await app.session.probe()
            await pilot.press("f4")
            await wait_for_modal(pilot)
            await pilot.press("enter")
            await settle(pilot, 0.2)
            return header(app), app.session.conversation.surface

        shown, surface = run_app(GuideApp(flags={"base_url": other.url, "model": "loopback-model"}), second, size=(140, 40))
    assert surface == "think" and "via respond" not in shown
