"""A long streamed reply is drawn less often as it grows: each draw has Textual measure every block of the reply again.

The render benchmark (benchmarks/tui.py, 20,000 chunks) says how fast; this says why, without a timed assertion:
the message's clock is made to say a frame has passed at every piece, so the old drawing (once a frame, whatever
the length) drew every piece, and the reply must still end whole, every word rendered.
"""

from __future__ import annotations

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send

from guide.tui.app import GuideApp
from guide.tui.widgets import messages

PARAGRAPHS = 300


class FrameEachCall:
    """A monotonic clock a frame (and a little) later at every reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += messages.FRAME * 1.01
        return self.now


def test_a_long_reply_is_drawn_less_often_than_every_frame_and_ends_whole(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets._markdown import MarkdownStream

    pieces = [piece for n in range(PARAGRAPHS) for piece in (f"Paragraph {n}:", " a few calm words.\n\n")]
    text = "".join(pieces)
    writes: list[str] = []
    write = MarkdownStream.write

    async def counted(self: MarkdownStream, fragment: str) -> None:
        writes.append(fragment)
        await write(self, fragment)

    monkeypatch.setattr(MarkdownStream, "write", counted)
    monkeypatch.setattr(messages, "time", FrameEachCall())

    async def script(pilot: Pilot[None]) -> tuple[str, str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        server.push(Stream(sse(*[chat_chunk(piece) for piece in pieces], chat_chunk(finish="stop"))))
        await type_and_send(pilot, "Tell me a long story.")
        await settle(pilot, 0.3)
        view = app.chat.transcript.last_message("assistant")
        assert view is not None
        return view.text, view.body.source

    said, rendered = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
    assert said == text and rendered == text  # every word, rendered
    assert "".join(writes) == text
    assert len(writes) < len(pieces) // 3, len(writes)  # once a frame, it was one draw per piece: 600
