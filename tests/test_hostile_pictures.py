"""Pictures bounded in memory and time, whoever made them (issue 23, items 6–8).

Through the user's path: `/attach PATH` + Enter in the real app, with hostile
files made on disk; and a server's `/imagine` picture, drawn again each time
its conversation opens. The outcomes are asserted (refused, sent as it is, not
drawn); how long the worst picture within the limits takes is in
benchmarks/pictures.py.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer
from textual.pilot import Pilot
from tui_helpers import command, run_app, settle, stored_id

from guide.client import _png
from guide.tui.app import GuideApp
from guide.tui.widgets.picture import MAX_LINES


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ihdr(width: int, height: int, colour: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))


def grey(width: int, height: int, *, before: bytes = b"") -> bytes:
    """A real grey PNG of zeros (it compresses to almost nothing), with `before` ahead of its IHDR."""
    raw = (b"\x00" + bytes(width)) * height
    return _png.SIGNATURE + before + ihdr(width, height) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def notices(app: GuideApp) -> list[str]:
    return [f"{n.title or ''}: {n.message}" for n in app.recent.said]


async def attach(pilot: Pilot[None], path: Path | str) -> tuple[list[str], list[Any]]:
    """/attach PATH + Enter; the notices, and the pictures now waiting for the next message."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await command(pilot, f"/attach {path}")
    return notices(app), list(app.session.conversation.pending)


# Item 6: a tall PNG.


@pytest.mark.parametrize("height", [100_000, 16_777_216])
def test_a_png_taller_than_the_decoder_takes_goes_as_it_is_without_being_decoded(height: int, server: LoopbackServer, tmp_path: Path) -> None:
    tall = tmp_path / "tall.png"
    tall.write_bytes(grey(1, height))  # 16,777,216 rows: 32 KB, and 1.5 GB once decoded a row an object
    said, pending = run_app(make_app(server), lambda pilot: attach(pilot, tall))
    assert any(f"tall.png is 1×{height}: making it smaller would take" in note and "so it goes as it is" in note for note in said), said
    assert len(pending) == 1 and pending[0].data == tall.read_bytes()


def test_a_png_past_the_decoder_s_work_goes_as_it_is(server: LoopbackServer, tmp_path: Path) -> None:
    rows = _png.MAX_WORK // (2048 * 4 * _png.COST[4]) + 16  # every row Paeth, the slowest filter: a little past the budget
    raw = b"".join(b"\x04" + os.urandom(2048 * 4) for _ in range(rows))
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(_png.SIGNATURE + ihdr(2048, rows, 6) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
    said, pending = run_app(make_app(server), lambda pilot: attach(pilot, heavy))
    assert any(f"heavy.png is 2048×{rows}: making it smaller would take" in note for note in said), said
    assert len(pending) == 1 and pending[0].data == heavy.read_bytes()


def test_the_largest_png_within_the_limits_is_still_made_smaller(server: LoopbackServer, tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    wide.write_bytes(grey(_png.LONGEST_SIDE, _png.MAX_PIXELS // _png.LONGEST_SIDE))
    said, pending = run_app(make_app(server), lambda pilot: attach(pilot, wide))
    assert any("wide.png is 16384×1024; it is ready at 1024×64" in note for note in said), said
    assert _png.size_of(pending[0].data) == (1024, 64)


# Item 7: a second IHDR, or a chunk before the first.


@pytest.mark.parametrize(
    "before",
    [ihdr(1, 1), chunk(b"tEXt", b"Comment\x00hello")],
    ids=["a second IHDR after a 1x1 one", "a chunk before the IHDR"],
)
def test_attach_refuses_a_png_whose_header_is_not_first_and_alone(before: bytes, server: LoopbackServer, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.png"
    hostile.write_bytes(grey(1, 16_777_216, before=before))
    said, pending = run_app(make_app(server), lambda pilot: attach(pilot, hostile))
    assert any("hostile.png is not a PNG guide can read" in note for note in said), said
    assert pending == []
    assert _png.size_of(hostile.read_bytes()) is None and _png.decode(hostile.read_bytes()) is None


@pytest.mark.parametrize(
    ("picture", "drawn"),
    [
        (grey(1, 200_000, before=ihdr(1, 1)), False),  # the size check saw 1×1, the decoder drew 100,000 lines
        (grey(1, 200_000), False),
        (grey(40, 960), False),  # 24 times as tall as wide
        (grey(60, 960), True),  # 16 times: drawn, within MAX_LINES
    ],
    ids=["two IHDR", "1 x 200,000", "40 x 960", "60 x 960"],
)
def test_a_server_s_picture_is_drawn_within_bounds_each_time_its_conversation_opens(picture: bytes, drawn: bool, server: LoopbackServer) -> None:
    answer = {"created": 0, "data": [{"b64_json": base64.b64encode(picture).decode(), "revised_prompt": "a thin line"}]}
    server.push(Answer(200, answer))

    def previews(app: GuideApp) -> list[str]:
        return [str(p.render()) for p in app.chat.query(".picture")]

    async def made(pilot: Pilot[None]) -> tuple[list[str], int | None]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, "/imagine a thin line")
        await settle(pilot, 0.3)
        return previews(app), stored_id(app)

    async def opened(pilot: Pilot[None]) -> tuple[list[str], int | None, str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return previews(app), stored_id(app), app.session.conversation.turns[-1].content

    first, conversation = run_app(make_app(server), made)
    again, reopened, words = run_app(make_app(server), opened)
    assert reopened == conversation is not None
    assert "Saved to `" in words  # the path is shown whatever is drawn
    for shown in (first, again):
        assert len(shown) == (1 if drawn else 0)
        assert all(0 < preview.count("\n") + 1 <= MAX_LINES for preview in shown)


# Item 8: what is not a regular file.


@pytest.mark.parametrize("kind", ["/dev/zero", "a pipe", "a folder"])
def test_attach_refuses_what_is_not_a_regular_file_at_once(kind: str, server: LoopbackServer, tmp_path: Path) -> None:
    if kind == "/dev/zero":
        path = Path("/dev/zero")  # endless: read whole, it filled memory (2.9 GB) before a MemoryError
        if not path.exists():
            pytest.skip("this system has no /dev/zero")
    elif kind == "a pipe":
        path = tmp_path / "pipe.png"
        os.mkfifo(path)  # opened to read, it waits for a writer for ever
    else:
        path = tmp_path / "pictures.png"
        path.mkdir()

    async def script(pilot: Pilot[None]) -> tuple[list[str], list[Any]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = f"/attach {path}"
        await pilot.press("enter")
        deadline = time.monotonic() + 10  # not settle(): a worker stuck on the pipe would wait with it
        while not app.recent.said and time.monotonic() < deadline:
            await pilot.pause(0.05)
        said = notices(app)
        if kind == "a pipe":  # a reader stuck on the pipe (guide as it was) gets its end, so the app can quit
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # no reader: guide never opened it to wait
        return said, list(app.session.conversation.pending)

    said, pending = asyncio.run(asyncio.wait_for(_run(make_app(server), script), 60))
    name = path.name
    expected = f"{name} is a folder" if kind == "a folder" else f"{name} is not a file (a device, a pipe or a socket)"
    assert any(expected in note for note in said), said
    assert pending == []


async def _run(app: GuideApp, script: Any) -> Any:
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        return await script(pilot)


@pytest.mark.parametrize("kind", ["a pipe", "/dev/zero"])
def test_a_conversation_whose_picture_became_a_pipe_or_a_device_opens_and_goes_on(kind: str, server: LoopbackServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake.png"
    lake.write_bytes(grey(2, 2))

    async def first(pilot: Pilot[None]) -> int | None:
        await command(pilot, f"/attach {lake}")
        await command(pilot, "What is this?")
        await settle(pilot, 0.3)
        return stored_id(pilot.app)  # type: ignore[arg-type]

    conversation = run_app(make_app(server), first)
    lake.unlink()
    if kind == "a pipe":
        os.mkfifo(lake)  # read whole, the preview and the next message waited on it for ever
    else:
        lake.symlink_to("/dev/zero")  # read whole, it filled memory

    async def second(pilot: Pilot[None]) -> tuple[list[str], list[str]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        app.chat.composer.text = "and now?"
        await pilot.press("enter")
        deadline = time.monotonic() + 15  # not settle(): a worker stuck on the pipe would wait with it
        while time.monotonic() < deadline and not any(v.text == "You said: and now?" for v in app.chat.transcript.query("MessageView")):
            await pilot.pause(0.1)
        words = [str(getattr(v, "text", "")) for v in app.chat.transcript.query("MessageView")]
        for _ in range(3):  # readers stuck on the pipe (guide as it was) get its end, so the app can quit
            try:
                os.close(os.open(lake, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                break
            await pilot.pause(0.1)
        return words, notices(app)

    assert conversation is not None
    words, said = asyncio.run(asyncio.wait_for(_run(make_app(server), second), 90))
    assert "You said: and now?" in words, words
    assert any("A picture of an earlier message is gone" in note for note in said), said
