"""An MCP tool in the app (issue 29): a persona with an MCP server's tool, a model that calls it, the approval prompt,
the rows in the calls panel, the MCP exchange opened whole, and the answer sent the tool's result. All real: the app under
Pilot, a loopback model server, tests/mcp_lakes.py started by guide from the settings, the store on disk."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse, tool_call_chunk
from textual.pilot import Pilot
from textual.widgets import OptionList
from tui_helpers import panel_rows, run_app, settle, stored_id, transcript_text

from guide.tui.app import GuideApp

pytest.importorskip("mcp", reason="the MCP SDK is the mcp extra (guide-chat[mcp])")

LAKES = str(Path(__file__).with_name("mcp_lakes.py"))
PERSONA = 'id = "lake-guide"\nname = "Lake guide"\ndescription = "d"\naddress = "Fira"\ngreeting = "g"\nsystem = "Answer about lakes."\ntools = ["mcp:lakes"]\n'


def setup() -> None:
    home = Path(os.environ["GUIDE_HOME"])
    (home / "config" / "personas").mkdir(parents=True)
    (home / "config" / "personas" / "lake-guide.toml").write_text(PERSONA)
    (home / "config" / "config.toml").write_text(f'[mcp.servers.lakes]\ncommand = "{sys.executable}"\nargs = ["{LAKES}"]\n')


async def until(pilot: Pilot[None], done: Callable[[], bool], seconds: float = 90) -> None:
    """Wait for what the app does off the loop (the MCP server starts in its own process): a deadline, never forever."""
    for _ in range(int(seconds * 10)):
        if done():
            return
        await pilot.pause(0.1)
    raise AssertionError("the app did not get there in time")


def test_an_mcp_tool_is_asked_about_shown_as_its_own_row_and_opened_whole(server: LoopbackServer) -> None:
    from guide.tui.screens.approve_tool import ApproveTool
    from guide.tui.screens.mcp_detail import McpDetail

    setup()
    server.push(
        Stream(sse(tool_call_chunk(0, id="call_1", name="lake_depth", arguments='{"lake": "Baikal"}'), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("Baikal is 1642 m deep, Fira."), chat_chunk(finish="stop"))),
    )

    async def script(pilot: Pilot[None]) -> dict[str, Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "How deep is Baikal?"  # not type_and_send: its settle would wait on the reply, which waits on the prompt
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApproveTool))
        asked = str(app.screen.query_one("#approve-call").render())
        await pilot.pause(ApproveTool.SETTLE)  # a key pressed as it opens is not an answer
        await pilot.press("y")
        await until(pilot, lambda: any(text.startswith("Baikal is") for _, _, text in transcript_text(app)))
        await settle(pilot, 0.2)
        rows = panel_rows(app)
        calls = app.chat.panel.query_one("#calls", OptionList)
        calls.focus()
        calls.highlighted = next(i for i, row in enumerate(rows) if row.startswith("mcp lakes → tools/call"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, McpDetail))
        texts = dict(app.screen.texts)  # type: ignore[attr-defined]
        conversation = stored_id(app)
        stored = app.session.store.traces(conversation, latest=50) if app.session.store and conversation else []
        return {"asked": asked, "rows": rows, "texts": texts, "stored": [row["action"] for row in stored]}

    seen = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model", "persona": "lake-guide"}), script)
    assert seen["asked"] == "lake_depth(lake='Baikal')"
    rows = seen["rows"]
    mcp_rows = [row for row in rows if row.startswith("mcp ")]
    assert mcp_rows[0].startswith("mcp lakes → tools/list · ok · ")
    assert mcp_rows[1].startswith("mcp lakes → tools/call lake_depth · ok · ") and mcp_rows[1].endswith(" ms")
    order = [row.split(" · ")[0] for row in rows]
    call_at = order.index("mcp lakes → tools/call lake_depth")
    assert order[call_at - 1].startswith("think → tool_calls: lake_depth") and order[call_at + 1].startswith("think ← tool result")
    texts = seen["texts"]
    assert '"method": "tools/call"' in texts["request"] and '"lake": "Baikal"' in texts["request"]
    assert '"text": "1642 m"' in texts["response"] and '"text": "1642 m"' in texts["content"]
    assert "→ sent" in texts["messages"] and "← received" in texts["messages"]
    assert seen["stored"].count("mcp") == 2  # kept with the conversation, as every call is
    answered = server.requests[-1].json["messages"][-1]
    assert answered == {"role": "tool", "tool_call_id": "call_1", "content": "1642 m"}


def test_tools_lists_the_personas_tools_and_turns_a_server_off_for_this_conversation(server: LoopbackServer) -> None:
    from tui_helpers import command, type_and_send

    setup()
    server.push(Stream(sse(chat_chunk("Lakes are calm."), chat_chunk(finish="stop"))))

    async def script(pilot: Pilot[None]) -> tuple[list[str], list[str]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, "/tools")
        await command(pilot, "/tools lakes off")
        await command(pilot, "/tools seas off")
        await type_and_send(pilot, "Tell me of lakes")
        await until(pilot, lambda: any(text == "Lakes are calm." for _, _, text in transcript_text(app)))
        return [n.message for n in app.recent.said if n.title == "Tools"], panel_rows(app)

    said, rows = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model", "persona": "lake-guide"}), script)
    assert said[0] == "mcp:lakes (on): listed when first used"
    assert said[1] == "mcp:lakes is off for this conversation."
    assert said[2].startswith("Usage: /tools SERVER on|off")
    assert not any(row.startswith("mcp ") for row in rows)  # the server was never started
    assert "tools" not in server.requests[-1].json


def test_editing_a_persona_in_the_form_keeps_its_mcp_tools(server: LoopbackServer) -> None:
    from textual.widgets import Checkbox

    from guide.tui.screens.persona_form import PersonaEditor

    setup()

    async def script(pilot: Pilot[None]) -> tuple[str, ...]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        edited: list[Any] = []
        app.push_screen(PersonaEditor(app.session.shelf.personas["lake-guide"], creating=False), edited.append)
        await until(pilot, lambda: bool(app.screen.query("#greeting")))
        app.screen.query_one("#tool-now", Checkbox).value = True
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(edited))
        return tuple(edited[0].tools)

    assert run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model", "persona": "lake-guide"}), script) == ("now", "mcp:lakes")


def test_an_always_answer_is_kept_with_the_conversation_and_holds_after_resume(server: LoopbackServer) -> None:
    from guide.tui.screens.approve_tool import ApproveTool

    setup()
    asks = Stream(sse(tool_call_chunk(0, id="call_1", name="lake_depth", arguments='{"lake": "Tahoe"}'), tool_call_chunk(0, finish="tool_calls")))
    server.push(
        asks, Stream(sse(chat_chunk("Deep."), chat_chunk(finish="stop"))), asks, Stream(sse(chat_chunk("Still deep."), chat_chunk(finish="stop")))
    )
    flags = {"base_url": server.url, "model": "loopback-model", "persona": "lake-guide"}

    async def first(pilot: Pilot[None]) -> None:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "How deep is Tahoe?"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApproveTool))
        await pilot.pause(ApproveTool.SETTLE)
        await pilot.press("a")
        await until(pilot, lambda: any(text == "Deep." for _, _, text in transcript_text(app)))
        await settle(pilot, 0.2)

    async def again(pilot: Pilot[None]) -> tuple[set[str], bool]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        always = set(app.session.conversation.mcp_always)
        app.chat.composer.text = "And now?"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApproveTool) or any(text == "Still deep." for _, _, text in transcript_text(app)))
        return always, isinstance(app.screen, ApproveTool)

    run_app(GuideApp(flags=flags), first)
    always, asked_again = run_app(GuideApp(flags=flags), again)
    assert always == {"lakes/lake_depth"}
    assert not asked_again
    assert server.requests[-1].json["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "501 m"}


def test_keys_typed_as_the_prompt_appears_are_not_an_answer(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The composer says "write on if you like" while the model answers: the prompt opens under the user's fingers, and the
    next letters of their sentence ("any…", "yes…") must not approve the call. Only a key pressed once it has been seen counts."""
    from guide.tui.screens.approve_tool import ApproveTool

    monkeypatch.setattr(ApproveTool, "SETTLE", 3.0)  # wide, so a loaded machine's slow Pilot still presses inside it
    setup()
    server.push(
        Stream(sse(tool_call_chunk(0, id="call_1", name="lake_depth", arguments='{"lake": "Baikal"}'), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("Deep."), chat_chunk(finish="stop"))),
    )

    async def script(pilot: Pilot[None]) -> tuple[bool, str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "How deep is Baikal?"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApproveTool))
        await pilot.press("a", "y")  # typed on, as the prompt opened
        still_asked = isinstance(app.screen, ApproveTool)
        await pilot.pause(ApproveTool.SETTLE)
        await pilot.press("n")
        await until(pilot, lambda: any(text == "Deep." for _, _, text in transcript_text(app)))
        return still_asked, str(app.session.conversation.mcp_always)

    still_asked, always = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model", "persona": "lake-guide"}), script)
    assert still_asked
    assert always == "set()"
    assert server.requests[-1].json["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "The user declined this call."}
