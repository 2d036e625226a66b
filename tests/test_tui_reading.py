"""Reading what the app shows, as a newcomer does (issue 14): every line reachable, copyable, findable, meaningful.

Pilot drives the real app against loopback servers (and the real companion
where its hashed vectors matter), as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import run_app, settle, stored_id, type_and_send

from guide.tui.app import GuideApp


def make_app(url: str, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": url, **flags})


async def command(pilot: Pilot[None], text: str) -> None:
    app: GuideApp = pilot.app  # type: ignore[assignment]
    app.chat.composer.text = text
    await pilot.press("enter")
    await settle(pilot, 0.2)


def notices(app: GuideApp) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.fixture
def companion() -> Iterator[str]:
    """The built-in companion, serving its hashed word vectors on loopback."""
    from guide.companion.running import start

    running = start("none")
    try:
        yield running.url
    finally:
        running.stop()


# /understand says something about the vectors (item 15).


def test_understand_shows_size_norm_largest_components_and_similarity_in_words(companion: str) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, "/understand a quiet lake | a calm lake")
        block = app.chat.transcript.views[-1]
        return block.text, stored_id(app)  # type: ignore[union-attr]

    shown, conversation = run_app(make_app(companion), script)
    assert "0.0000, 0.0000" not in shown
    assert "Cosine similarity of the two: **0.6667** — somewhat related" in shown
    assert shown.count("256 dimensions · norm 1.0000 · 3 non-zero") == 2
    assert shown.count("Largest components (by size): `[") == 2 and "+0.5774" in shown

    async def resumed(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        await command(pilot, "/export")
        exported = next(m for m in notices(app) if m.startswith("Exported to ")).removeprefix("Exported to ")
        return app.chat.transcript.views[-1].text, Path(exported).read_text()  # type: ignore[union-attr]

    again, exported = run_app(make_app(companion), resumed)
    assert again == shown
    assert shown in exported
