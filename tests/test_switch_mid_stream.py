"""Switching server while a reply streams: the reply stops as Esc stops it, and what is queued stays as it was."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer, Stream, chat_chunk, sse
from tui_helpers import pick_server, run_app, settle

from guide.tui.app import GuideApp


def test_a_reply_stopped_by_a_server_switch_is_kept_stopped_and_the_queued_words_stay_as_they_were(server: LoopbackServer) -> None:
    server.push(Stream(sse(*[chat_chunk(f"word{i} ") for i in range(150)]), pause=0.1))
    with LoopbackServer() as other:

        async def script(pilot: Any) -> Any:
            app: GuideApp = pilot.app
            app.chat.composer.text = "one"
            await pilot.press("enter")
            for _ in range(200):  # the reply is streaming
                await pilot.pause(0.02)
                if app.chat.streaming and "word1" in "".join(t.content for t in app.session.conversation.turns) + str(
                    app.chat.transcript.views[-1].text
                ):
                    break
            app.chat.composer.focus()
            await pilot.press("q", "u", "e", "u", "e", "d")  # the next message, waiting while the guide answers
            await pick_server(pilot, other.url)
            for _ in range(200):
                await pilot.pause(0.02)
                if app.session.server_address() == other.url and not app.chat.streaming:
                    break
            await settle(pilot, 0.2)
            replies = [t for t in app.session.conversation.turns if t.role == "assistant"]
            composed = app.chat.composer.text
            await pilot.press("enter")  # the queued words go, alone, to the new server
            await settle(pilot, 0.2)
            return replies, composed

        replies, composed = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script, size=(120, 36))
        sent_to_other = [r.json["messages"][-1]["content"] for r in other.requests if isinstance((r.json or {}).get("messages"), list)]
    chats = [r for r in server.requests if isinstance((r.json or {}).get("messages"), list)]
    assert len(chats) == 1  # nothing was sent twice
    assert len(replies) == 1 and replies[0].state == "stopped" and replies[0].content.startswith("word0 ")
    assert composed == "queued"  # not "one\nqueued": the stopped prompt is not put back above it
    assert sent_to_other == ["queued"]
