"""Bad and enormous input, through the app: huge replies and prompts, pastes, audio and pictures, a tiny terminal."""

from __future__ import annotations

import base64
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse
from textual import events
from textual.pilot import Pilot
from tui_helpers import run_app, settle

from guide import config, personas
from guide.constants import MAX_AUDIO
from guide.store import Store
from guide.tui.app import GuideApp


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def png(width: int, height: int) -> bytes:
    """A real RGB PNG of noise (it does not compress: the file is about width × height × 3 bytes)."""
    rng = random.Random(7)
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def last_reply(app: GuideApp) -> tuple[str, str]:
    view = app.chat.transcript.last_message("assistant")
    assert view is not None
    return view.text, view.body.source


def test_a_one_megabyte_reply_streams_whole_and_is_kept(server: LoopbackServer) -> None:
    pieces = [f"Line {i}: " + "calm " * 200 + "\n\n" for i in range(1000)]
    reply = "".join(pieces)
    assert len(reply) > 1_000_000
    server.push(Stream(sse(*[chat_chunk(p) for p in pieces], chat_chunk(finish="stop"))))

    async def script(pilot: Pilot[None]) -> tuple[str, str]:
        pilot.app.chat.composer.text = "Say a lot"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return last_reply(pilot.app)  # type: ignore[arg-type]

    text, shown = run_app(make_app(server), script)
    assert text == reply and shown == reply
    assert Store().messages(1)[-1].content == reply


def test_a_hundred_thousand_character_prompt_is_sent_and_kept_whole(server: LoopbackServer) -> None:
    prompt = "".join(random.Random(3).choice("abcdefgh ijklmnop\n") for _ in range(100_000))

    async def script(pilot: Pilot[None]) -> tuple[str, str]:
        pilot.app.chat.composer.text = prompt  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return last_reply(pilot.app)  # type: ignore[arg-type]

    text, _ = run_app(make_app(server), script)
    assert server.requests[-1].json["messages"][-1]["content"] == prompt
    assert text == f"You said: {prompt}"
    assert Store().messages(1)[0].content == prompt


def test_a_ten_thousand_line_paste_lands_in_the_composer_and_is_sent(server: LoopbackServer) -> None:
    pasted = "\n".join(f"line {i} of the log" for i in range(10_000))
    server.push(Stream(sse(chat_chunk("I have read the whole log."), chat_chunk(finish="stop"))))  # not 50,000 echoed words

    async def script(pilot: Pilot[None]) -> int:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.post_message(events.Paste(pasted))  # as a terminal delivers it: to the app, for the focused composer
        await settle(pilot)
        lines = app.chat.composer.document.line_count
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return lines

    assert run_app(make_app(server), script) == 10_000
    assert server.requests[-1].json["messages"][-1]["content"] == pasted


def test_pasted_control_characters_and_escapes_are_shown_as_text(server: LoopbackServer) -> None:
    pasted = "\x1b[2J\x1b]52;c;ZXZpbA==\x07clear?\r\nnext\x00line\x9b"

    async def script(pilot: Pilot[None]) -> str:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.post_message(events.Paste(pasted))  # as a terminal delivers it: to the app, for the focused composer
        await settle(pilot)
        return app.chat.composer.text

    text = run_app(make_app(server), script)
    assert text == "␛[2J␛]52;c;ZXZpbA==␇clear?\nnext␀line�"
    assert not any(ord(ch) < 32 and ch != "\n" for ch in text)


def test_audio_over_the_limit_is_refused_before_anything_is_sent(server: LoopbackServer, tmp_path: Path) -> None:
    big = tmp_path / "long-meeting.wav"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB (sparse: nothing is written)

    async def script(pilot: Pilot[None]) -> list[tuple[str, str, str]]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = f"/listen {big}"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return [(n.severity, n.title or "", n.message) for n in app.recent.said]

    notices = run_app(make_app(server), script)
    severity, title, message = notices[-1]
    assert severity == "error" and "50 MB" in title and f"{MAX_AUDIO // 2**20} MB" in title and "compress" in message
    assert not [r for r in server.requests if "audio" in r.path]


def test_a_picture_of_several_megabytes_is_saved_and_previewed(server: LoopbackServer) -> None:
    picture = png(1024, 1024)
    assert len(picture) > 3_000_000
    answer = {"created": 0, "data": [{"b64_json": base64.b64encode(picture).decode(), "revised_prompt": "noise"}]}
    server.push(Answer(200, answer))

    async def script(pilot: Pilot[None]) -> tuple[list[str], str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "/imagine static on an old television"
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return [str(p.render()) for p in app.chat.query(".picture")], app.session.conversation.turns[-1].content

    previews, words = run_app(make_app(server), script)
    assert len(previews) == 1 and previews[0].count("▀") >= 48 * 20
    assert Path(words.split("`")[1]).read_bytes() == picture


def test_resizing_to_forty_by_ten_and_back_during_a_stream_loses_nothing(server: LoopbackServer) -> None:
    words = [f" step{i}" for i in range(60)]
    server.push(Stream(sse(*[chat_chunk(w) for w in words], chat_chunk(finish="stop")), pause=0.02))

    async def script(pilot: Pilot[None]) -> tuple[str, str, bool]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "Walk with me"
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.resize_terminal(40, 10)
        await pilot.pause(0.3)
        await pilot.resize_terminal(120, 36)
        await settle(pilot, 0.2)
        text, shown = last_reply(app)
        return text, shown, app.screen is app.chat

    text, shown, usable = run_app(make_app(server), script)
    assert text == shown == "".join(words) and usable
    assert Store().messages(1)[-1].content == "".join(words)


TOML_VALUES = st.recursive(
    st.none().map(lambda _: "") | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
TOML_TABLES = st.dictionaries(
    st.sampled_from([*config.KEYS, "name", "greeting", "system", "model", "options", "x"]) | st.text(max_size=12), TOML_VALUES, max_size=8
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=TOML_TABLES)
def test_arbitrary_toml_never_crashes_the_settings_or_persona_loaders(table: dict[str, Any], tmp_path: Path) -> None:
    try:
        document = tomli_w.dumps(table)
    except (TypeError, ValueError):
        return  # not expressible as TOML
    settings_file = tmp_path / "config.toml"
    settings_file.write_text(document, encoding="utf-8")
    loaded = config.load(path=settings_file)
    assert isinstance(loaded.settings.read_timeout(), float)
    folder = tmp_path / "personas"
    folder.mkdir(exist_ok=True)
    (folder / "fuzzed.toml").write_text(document, encoding="utf-8")
    shelf = personas.load(folder)
    assert "calm-guide" in shelf.personas  # the built-in guide is always there
    if "fuzzed" not in shelf.personas:
        assert any("fuzzed.toml" in str(problem) for problem in shelf.problems)


@pytest.mark.parametrize(("value", "seconds"), [("30", 30.0), ("0.5", 0.5), ("", 120.0), ("soon", 120.0), ("-1", 120.0), ("inf", 120.0)])
def test_the_timeout_setting_is_read_calmly(value: str, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_TIMEOUT", value)
    assert config.load().settings.read_timeout() == seconds
    assert (config.check("timeout", value) is None) == (value in ("30", "0.5", ""))


def test_a_silent_server_is_given_up_on_after_the_timeout(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopback import Stall

    monkeypatch.setenv("GUIDE_TIMEOUT", "0.3")
    server.push(Stall(2), Stall(2), Stall(2))  # a stall that ended by itself would be "closed the connection"

    async def script(pilot: Pilot[None]) -> str:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.text = "Hello?"
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return [n.title or "" for n in app.recent.said][-1]

    title = run_app(make_app(server), script)
    assert "took too long" in title.lower()
