"""The app against hostile servers and broken folders: calm notices, nothing leaked, nothing run, never a traceback.

Every test drives the real app with Pilot (keys and slash commands, as a
user would) against a loopback server that misbehaves on cue.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send, wait_for_modal

from guide.locations import config_dir, data_dir
from guide.tui.app import GuideApp

KEY = "sk-proj-ECHOED-secret-key-7a2b1c9d"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})


def notices(app: GuideApp) -> list[tuple[str, str, str]]:
    return [(n.severity, n.title or "", n.message) for n in app.recent.said]


async def command(pilot: Pilot[None], text: str) -> None:
    app: GuideApp = pilot.app  # type: ignore[assignment]
    app.chat.composer.text = text
    await pilot.press("enter")
    await settle(pilot, 0.2)


MALFORMED = {
    "usage is a string": ([chat_chunk("Hello"), chat_chunk(finish="stop"), {**chat_chunk(), "choices": [], "usage": "lots"}], None),
    "content is a number": ([{**chat_chunk(), "choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": None}]}], "was not text"),
    "the frame is a list": ([[1, 2]], "not the JSON object"),
}


@pytest.mark.parametrize(("frames", "why"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_stream_is_a_calm_notice_and_the_app_goes_on(frames: list[Any], why: str | None, server: LoopbackServer) -> None:
    server.push(Stream(sse(*frames)))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        first, words = notices(app), app.chat.composer.text
        app.chat.composer.text = ""
        await type_and_send(pilot, "Still here?")  # the app still answers
        return first, words, app.session.conversation.turns[-1].content, app.is_running

    first, words, last, running = run_app(make_app(server), script)
    assert running and last == "You said: Still here?"
    errors = [(title, message) for severity, title, message in first if severity == "error"]
    if why is None:
        assert errors == [] and words == ""
    else:
        assert words == "Hello"  # nothing arrived: the words went back to the composer
        assert errors and errors[0][0] == "The server's reply was not understood." and why in errors[0][1]


def test_a_malformed_embedding_is_a_calm_notice(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        await command(pilot, "/catalog")  # the models are known: /understand's next call is the embedding itself
        server.push(Answer(body={"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "!!!not base64"}]}))
        await command(pilot, "/understand a quiet lake")
        return notices(pilot.app), pilot.app.is_running  # type: ignore[arg-type]

    shown, running = run_app(make_app(server), script)
    assert running
    assert any(title == "The server's reply was not understood." and "base64" in message for _, title, message in shown)


def test_a_key_echoed_in_a_stream_reaches_neither_screen_nor_store(monkeypatch: pytest.MonkeyPatch, server: LoopbackServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    pieces = ["Your key is "] + [KEY[i : i + 5] for i in range(0, len(KEY), 5)] + [" and that is all."]
    server.push(Stream(sse(*(chat_chunk(p) for p in pieces), chat_chunk(finish="stop"))))
    server.push(*[Stream(sse(*(chat_chunk(p) for p in pieces), done=False), cut=True)] * 3)  # and one that breaks off

    async def script(pilot: Pilot[None]) -> dict[str, str]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Say my key")
        await type_and_send(pilot, "Again")
        await command(pilot, "/export calls")
        seen = {"screen": app.export_screenshot(), "turns": json.dumps([t.content for t in app.session.conversation.turns], ensure_ascii=False)}
        seen["traces"] = json.dumps([t.to_dict() for t in app.chat.panel.traces.values()])
        seen["notices"] = json.dumps(notices(app))
        return seen

    seen = run_app(make_app(server), script)
    assert "Your key is ••••" in seen["turns"]
    for where, text in seen.items():
        assert KEY not in text, where
    for path in data_dir().rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_escape_sequences_from_a_server_are_shown_as_symbols_never_run(server: LoopbackServer) -> None:
    hostile = LoopbackServer(models=[f"evil{ESCAPES}model"])
    hostile.push(Answer(400, {"error": {"message": f"bad{ESCAPES}request", "type": "invalid_request_error", "param": None, "code": None}}))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")  # the model is the catalog's first: its name goes to the status line
        await type_and_send(pilot, "Hello")
        return app.export_screenshot(), str(app.chat.query_one("#status").render()), notices(app)

    try:
        screen, status, shown = run_app(GuideApp(flags={"base_url": hostile.url}), script)
    finally:
        hostile.close()
    told = status + json.dumps(shown)
    assert "\x1b" not in told and "\x07" not in told and "\x1b" not in screen
    assert "evil␛]0;pwned␇␛[2Jmodel" in status
    assert any("bad␛]0;pwned␇␛[2Jrequest" in message for _, _, message in shown)


def test_persona_names_with_escapes_are_shown_as_symbols(server: LoopbackServer) -> None:
    folder = config_dir() / "personas"
    folder.mkdir(parents=True)
    (folder / "evil.toml").write_text(
        'id = "evil"\nname = "Evil\\u001b]0;pwned\\u0007"\ndescription = "d\\u001b[2J"\naddress = "Fira"\ngreeting = "Hi"\nsystem = "Be."\n'
    )

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f5")
        await wait_for_modal(pilot)
        picker = app.screen.export_screenshot() if hasattr(app.screen, "export_screenshot") else app.export_screenshot()
        await pilot.press("escape")
        await command(pilot, "/persona evil")
        return picker, str(app.chat.query_one("#status").render()), app.export_screenshot()

    picker, status, screen = run_app(make_app(server), script)
    assert "\x1b" not in picker + status + screen
    assert "Evil␛]0;pwned␇" in status


def test_a_server_that_redirects_is_explained_and_not_followed(server: LoopbackServer) -> None:
    server.push(Answer(307, b"", headers={"location": "https://elsewhere.example/v1/chat/completions"}))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        return notices(app), app.chat.composer.text

    shown, words = run_app(make_app(server), script)
    assert words == "Hello"
    assert any(title == "The server redirected the call elsewhere." and "https://elsewhere.example" in message for _, title, message in shown)
    assert len([r for r in server.requests if r.path.endswith("/chat/completions")]) == 1


def test_an_exports_folder_that_is_a_file_is_a_notice_naming_it(server: LoopbackServer) -> None:
    data_dir().mkdir(parents=True)
    for folder in ("exports", "sounds", "images"):
        (data_dir() / folder).write_text("not a folder")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        await command(pilot, "/export")
        await command(pilot, "/speak a calm word")
        await command(pilot, "/imagine a calm lake")
        await type_and_send(pilot, "Still here?")
        return notices(app), app.session.conversation.turns[-1].content

    shown, last = run_app(make_app(server), script)
    assert last == "You said: Still here?"
    about_the_folder = [message for severity, title, message in shown if title == "A file could not be used" and severity == "error"]
    assert [m.split(":")[0] for m in about_the_folder] == [str(data_dir() / folder) for folder in ("exports", "sounds", "images")]


class Exploding(httpx.AsyncHTTPTransport):
    """A transport whose every request fails in a way nobody planned for."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a failure nobody expected")


def test_an_unexpected_failure_is_a_notice_with_the_traceback_in_a_log() -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Hello")
        return notices(app), app.is_running, app.chat.composer.text

    app = GuideApp(flags={"base_url": "http://127.0.0.1:9", "model": "m"}, transport=Exploding())
    shown, running, words = run_app(app, script)
    assert running and words == "Hello"
    log = data_dir() / "guide.log"
    assert any("RuntimeError" in message and str(log) in message for _, _, message in shown)
    assert "a failure nobody expected" in log.read_text() and "Traceback" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("address", "why"),
    [("file:///etc/passwd", "not http or https"), ("http://[::1", "well-formed"), ("http://fira:hunter2pass@127.0.0.1:1", "password")],
)
def test_a_custom_server_address_that_cannot_be_used_is_refused_not_saved(address: str, why: str, server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f7")
        await wait_for_modal(pilot)
        await pilot.press("end", "enter")  # Custom address…
        await pilot.pause(0.2)
        await pilot.press(*list(address))
        await pilot.press("enter")
        await settle(pilot, 0.2)
        return notices(app)

    shown = run_app(make_app(server), script)
    assert any(why in message for _, _, message in shown)
    settings = config_dir() / "config.toml"
    assert not settings.exists() or ("hunter2pass" not in settings.read_text() and address not in settings.read_text())


def test_what_guide_writes_is_readable_by_the_user_only(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await type_and_send(pilot, "Hello")
        await command(pilot, "/export")
        await command(pilot, "/speak a calm word")
        await command(pilot, "/imagine a calm lake")

    run_app(make_app(server), script)
    home = Path(str(data_dir())).parent
    assert stat.S_IMODE(home.stat().st_mode) == 0o700, home
    written = [path for path in home.rglob("*")]
    assert {p.parent.name for p in written if p.is_file()} >= {"exports", "sounds", "images"}
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
