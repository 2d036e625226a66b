"""Pictures in the history, on a server that takes none: the words go without them, said once, and nothing is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopback import Answer, LoopbackServer, PNG_1x1
from textual.pilot import Pilot
from tui_helpers import command, run_app, settle, transcript_text, type_and_send

from guide.tui.app import GuideApp


class TextOnly(LoopbackServer):
    """llama-cpp-python's server with a text-only chat format: a message whose content is a list fails inside it."""

    def default(self, request: Any) -> Any:
        messages = (request.json or {}).get("messages")
        if isinstance(messages, list) and any(isinstance(m.get("content"), list) for m in messages):
            return Answer(500, {"error": {"message": 'can only concatenate str (not "list") to str', "type": "internal_server_error"}})
        return super().default(request)


def chats(server: LoopbackServer) -> list[Any]:
    return [r.json["messages"] for r in server.requests if isinstance((r.json or {}).get("messages"), list)]


def test_after_a_switch_to_a_text_only_server_the_history_goes_without_its_pictures(server: LoopbackServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)
    with TextOnly() as plain:

        async def script(pilot: Pilot[None]) -> Any:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await command(pilot, f"/attach {lake}")
            await type_and_send(pilot, "What is this?")
            app.session.server.client = app.session._client(plain.url)  # the server changes
            app.session.conversation.switch_server("now talking to the plain one", was=server.url, now=plain.url)
            await type_and_send(pilot, "And now?")
            await settle(pilot, 0.3)
            await type_and_send(pilot, "Once more")
            await settle(pilot, 0.3)
            notes = [n.message for n in app.recent.said]
            return notes, transcript_text(app), app.chat.composer.text

        notes, shown, left = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
        sent = chats(plain)
    replies = [text for role, _, text in shown if role == "assistant"]
    assert replies[-2:] == ["You said: And now?", "You said: Once more"] and left == ""
    told = [note for note in notes if "picture" in note and "without them" in note]
    assert len(told) == 1 and "1 picture" in told[0]  # said once
    # The calls that carried the picture failed (retried as the SDK retries a 500); every call after carried the words only.
    with_pictures = [m for m in sent if any(isinstance(x["content"], list) for x in m)]
    assert with_pictures == sent[: len(with_pictures)] and len(sent) == len(with_pictures) + 2
    assert all(isinstance(x["content"], str) for m in sent[len(with_pictures) :] for x in m)
    first = next(x["content"] for x in sent[-1] if x["role"] == "user")
    assert first == "What is this?\n\n(A picture was attached here and left out: lake.png.)"
