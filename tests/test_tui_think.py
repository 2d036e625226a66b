"""think in full, in the app: the folded reasoning block, /attach with its preview, a tool round as rows in the calls panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopback import LoopbackServer, PNG_1x1, Stream, chat_chunk, sse, tool_call_chunk
from textual.pilot import Pilot
from textual.widgets import Static
from tui_helpers import command, panel_rows, run_app, settle, transcript_text, type_and_send

from guide.tui.app import GuideApp
from guide.tui.widgets.messages import ThoughtBlock
from guide.tui.widgets.transcript import MessageView


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})


def thinking(field: str, text: str) -> dict[str, Any]:
    chunk = chat_chunk()
    chunk["choices"][0]["delta"] = {field: text}
    return chunk


def test_reasoning_streams_into_a_folded_block_that_survives_resume(server: LoopbackServer) -> None:
    frames = sse(
        thinking("reasoning_content", "Fira asks of lakes."),
        thinking("reasoning", " Keep it short."),
        chat_chunk("Lakes are calm."),
        chat_chunk(finish="stop"),
    )
    server.push(Stream(frames, pause=0.3))

    async def first(pilot: Pilot[None]) -> dict[str, Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "Tell me of lakes"
        await pilot.press("enter")
        await pilot.pause(0.8)  # two frames of thought, no answer yet
        live = app.chat.transcript.live
        assert live is not None
        block = live.query_one(ThoughtBlock)
        midway = (block.collapsed, str(block.title), block.reasoning, live.text)
        await settle(pilot, 1.0)
        block = app.chat.transcript.last_message("assistant").query_one(ThoughtBlock)  # type: ignore[union-attr]
        done = (block.collapsed, str(block.title), block.reasoning)
        block.collapsed = False
        await settle(pilot)
        opened = block.query_one(".thought", Static).display
        await type_and_send(pilot, "And seas?")
        return {"midway": midway, "done": done, "opened": opened}

    seen = run_app(make_app(server), first)
    collapsed, title, reasoning, answer = seen["midway"]
    assert collapsed and title.startswith("thinking…") and reasoning.startswith("Fira asks of lakes.") and answer == ""
    assert seen["done"][0] and seen["done"][1].startswith("thought for ") and seen["done"][1].endswith(" s")
    assert seen["done"][2] == "Fira asks of lakes. Keep it short."
    assert seen["opened"]
    sent = server.requests[-1].json["messages"]
    assert {"role": "assistant", "content": "Lakes are calm."} in sent
    assert "Fira asks" not in server.requests[-1].body.decode()  # the reasoning never goes back

    async def again(pilot: Pilot[None]) -> tuple[str, str]:
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        app: GuideApp = pilot.app  # type: ignore[assignment]
        replies = [v for v in app.chat.query(MessageView) if v.role == "assistant" and v.query(ThoughtBlock)]
        block = replies[0].query_one(ThoughtBlock)
        return str(block.title), block.reasoning

    title, reasoning = run_app(make_app(server), again)
    assert title == seen["done"][1] and reasoning == "Fira asks of lakes. Keep it short."


def test_attach_shows_the_picture_and_sends_it_with_the_next_message(server: LoopbackServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)

    async def script(pilot: Pilot[None]) -> tuple[list[str], int, Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, f"/attach {lake}")
        notes = [n.message for n in app.recent.said]
        await type_and_send(pilot, "What is this?")
        await settle(pilot, 0.3)
        asked = app.chat.transcript.last_message("user")
        assert asked is not None
        return notes, len(asked.query(".picture")), transcript_text(app)[-2]

    notes, previews, asked = run_app(make_app(server), script)
    assert any("lake.png is ready at 1×1." in note and "next message" in note for note in notes)
    assert previews == 1
    assert asked == ("user", "You", "What is this?")
    content = server.requests[-1].json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"} and content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_picture_path_pasted_on_its_own_is_attached(server: LoopbackServer, tmp_path: Path) -> None:
    from textual import events

    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)

    async def script(pilot: Pilot[None]) -> tuple[str, int]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.post_message(events.Paste(f"'{lake}'"))
        await settle(pilot, 0.3)
        return app.chat.composer.text, len(app.session.conversation.pending)

    assert run_app(make_app(server), script) == ("", 1)


def test_a_tool_round_appears_as_rows_in_the_calls_panel(server: LoopbackServer) -> None:
    server.push(
        Stream(sse(tool_call_chunk(0, id="call_1", name="now", arguments="{}"), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("It is noon."), chat_chunk(finish="stop"))),
    )

    async def script(pilot: Pilot[None]) -> tuple[list[str], Any, str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "What time is it?")
        await settle(pilot, 0.3)
        reply = app.chat.transcript.last_message("assistant")
        assert reply is not None and reply.turn is not None
        return panel_rows(app), transcript_text(app)[-1], str(reply.query_one(".tools-used", Static).render())

    rows, said, used = run_app(make_app(server, persona="toolsmith"), script)
    assert rows[-2].startswith("think → tool_calls: now() · POST /v1/chat/completions · 200")
    assert rows[-1].startswith("think ← tool result · POST /v1/chat/completions · 200")
    assert said[2] == "It is noon."
    assert used.startswith("used now() → ")
    first, second = (r.json for r in server.requests[-2:])
    assert [t["function"]["name"] for t in first["tools"]] == ["now", "calculate", "read_file"]
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-2]["tool_calls"][0]["function"]["name"] == "now"


def test_a_long_thought_costs_nothing_while_folded_and_shows_its_latest_part_when_opened() -> None:
    import asyncio

    from textual.app import App, ComposeResult

    from guide.tui.widgets.messages import THOUGHT_SHOWN

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield ThoughtBlock("", "thinking…")

    async def main() -> tuple[str, str]:
        app = One()
        async with app.run_test() as pilot:
            block = app.query_one(ThoughtBlock)
            for _ in range(1000):  # 4 MB of reasoning, a frame at a time: folded, none of it is drawn (it was, every frame, growing)
                block.add("x" * 4000)
            folded = str(block.query_one(".thought", Static).render())
            block.collapsed = False
            await pilot.pause()
            return folded, str(block.query_one(".thought", Static).render())

    folded, opened = asyncio.run(main())
    assert folded == ""
    assert opened.startswith("… (3,950,000 characters before these are not shown)") and len(opened) < THOUGHT_SHOWN + 100


def test_a_message_sent_while_a_picture_is_still_being_made_ready_says_it_goes_without(
    server: LoopbackServer, tmp_path: Path, monkeypatch: Any
) -> None:
    import time

    from guide.client import _pictures

    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)
    slow = _pictures.prepare

    def slowly(path: str) -> Any:
        time.sleep(0.6)  # a 4096×4096 PNG takes seconds to make smaller
        return slow(path)

    monkeypatch.setattr(_pictures, "prepare", slowly)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = f"/attach {lake}"
        await pilot.press("enter")
        await pilot.pause(0.1)
        app.chat.composer.text = "what is this?"
        await pilot.press("enter")  # at once, before the picture is ready
        await settle(pilot, 1.0)
        return [n.message for n in app.recent.said], server.requests[-1].json["messages"][-1]

    said, sent = run_app(make_app(server), script)
    assert any("still being made ready" in words and "not this one" in words for words in said)
    assert sent["content"] == "what is this?"  # it went without the picture, as it said


def test_a_file_refused_before_any_call_points_at_no_call(server: LoopbackServer, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")

    async def script(pilot: Pilot[None]) -> list[str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, f"/attach {text}")
        await settle(pilot, 0.2)
        return [f"{n.title} {n.message}" for n in app.recent.said if n.severity == "error"]

    said = run_app(make_app(server), script)
    assert said and "not a picture guide can send" in said[-1] and "F2" not in said[-1]  # no call was made: no row to open
