"""The key never leaves the environment: a session with a recognisable key, then a search.

Screen, traces, the store, an export, a screenshot, error messages, snippets
and `guide config` are all searched for the key after a session that used it
(including a server that echoes the key back in an error).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Stream
from textual.pilot import Pilot
from tui_helpers import command, run_app, settle, type_and_send

from guide import Guide
from guide.client._secrets import REDACTED
from guide.locations import config_dir, data_dir
from guide.tui.app import GuideApp

KEY = "sk-proj-RECOGNISABLE-secret-key-4f1c0ffee"


def test_the_key_appears_nowhere_after_a_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_guide: Any) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with LoopbackServer(api_key=KEY) as server:

        async def script(pilot: Pilot[None]) -> dict[str, str]:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            await type_and_send(pilot, "Hello")
            # A server that echoes the key back in its error, as some do.
            server.push(
                Answer(
                    401,
                    {
                        "error": {
                            "message": f"Incorrect API key provided: {KEY}.",
                            "type": "invalid_request_error",
                            "param": None,
                            "code": "invalid_api_key",
                        }
                    },
                )
            )
            await type_and_send(pilot, "Again")
            app.chat.composer.text = "/understand a quiet lake"
            await pilot.press("enter")
            await settle(pilot)
            app.chat.composer.text = "/export calls"
            await pilot.press("enter")
            await settle(pilot)
            from guide.tui.screens.call_detail import CallDetail

            seen = {"notices": "\n".join(f"{n.title} {n.message}" for n in app.recent.said)}
            for trace in app.chat.panel.traces.values():
                detail = CallDetail(trace)
                seen[f"detail {trace.id}"] = "\n".join(detail.texts.values())
            seen["screen"] = app.export_screenshot()
            await pilot.press("f2", "enter")
            await settle(pilot)
            seen["detail screen"] = app.export_screenshot()
            return seen

        seen = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)

    assert "Incorrect API key provided" in seen["notices"]  # the echo arrived, and was scrubbed
    for where, text in seen.items():
        assert KEY not in text, where
    for path in data_dir().rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    exports = list((data_dir() / "exports").glob("*.md"))
    assert exports and "curl" in exports[0].read_text()
    shown = run_guide("config", OPENAI_API_KEY=KEY)
    assert KEY not in shown.stdout + shown.stderr and "$OPENAI_API_KEY is set" in shown.stdout


def test_settings_and_data_folders_are_readable_by_the_user_only(server: LoopbackServer, run_guide: Any) -> None:
    assert run_guide("config", "set", "model", "m").returncode == 0

    async def script(pilot: Pilot[None]) -> None:
        await type_and_send(pilot, "Hello")

    run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)
    for folder in (config_dir(), data_dir()):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in (config_dir() / "config.toml", data_dir() / "guide.sqlite3"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert os.environ["GUIDE_HOME"] in str(data_dir())


ESCAPED = "".join(f"\\u{ord(c):04x}" for c in KEY)
"""The key as JSON escapes (`\\u0073\\u006b-…`): no byte of it is the key's, and every JSON reader decodes it to the key."""


def revealed(text: str) -> str:
    """Text with every `\\uXXXX` escape decoded, however many backslashes a JSON-in-JSON copy put before it."""
    return re.sub(r"\\+u([0-9a-fA-F]{4})", lambda found: chr(int(found[1], 16)), text)


def echoing(value: Any) -> bytes:
    """JSON in which each `ECHO` is the key as escapes and each `PLAIN` the key as it is."""
    return json.dumps(value).replace("ECHO", ESCAPED).replace("PLAIN", KEY).encode()


def chat_stream() -> Stream:
    chunk = {"id": "PLAIN", "object": "chat.completion.chunk", "created": 0, "model": "ECHO", "x_echo": "ECHO", "system_fingerprint": "ECHO"}
    pieces = [{**chunk, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]} for word in ("Calm ", "words.")]
    end = {
        **chunk,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    return Stream([b"data: " + echoing(event) + b"\n\n" for event in (*pieces, end)] + [b"data: [DONE]\n\n"])


def respond_stream(*, fail: bool = False) -> Stream:
    response = {"id": "ECHO", "object": "response", "created_at": 0, "status": "in_progress", "model": "ECHO", "output": [], "x_echo": "ECHO"}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": response}]
    events.append({"type": "response.output_text.delta", "item_id": "ECHO", "output_index": 0, "content_index": 0, "delta": "Calm words."})
    if fail:
        events.append({"type": "error", "code": "ECHO", "message": "Incorrect API key provided: ECHO.", "param": None})
    else:
        events.append(
            {"type": "response.completed", "response": {**response, "status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2}}}
        )
    return Stream([b"data: " + echoing(event) + b"\n\n" for event in events])


def test_a_key_echoed_in_json_escapes_or_in_any_field_appears_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that echoes the key spelt as JSON escapes passes a scrub of the raw bytes; the fields guide reads besides the
    # words (the model, ids, error texts, fields it does not know but keeps in the trace) must be scrubbed once decoded.
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    embedding = {"object": "list", "model": "ECHO", "x_echo": "ECHO", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]}
    refused = {"error": {"message": "Incorrect API key provided: ECHO.", "type": "ECHO", "param": "PLAIN", "code": "invalid_api_key"}}
    with LoopbackServer(api_key=KEY) as server:

        async def script(pilot: Pilot[None]) -> dict[str, str]:
            app: GuideApp = pilot.app  # type: ignore[assignment]
            server.push(chat_stream())
            await type_and_send(pilot, "Hello")
            server.push(Answer(body=echoing(embedding), headers={"content-type": "application/json"}))
            await command(pilot, "/understand a quiet lake")
            server.push(Answer(401, echoing(refused), headers={"content-type": "application/json"}))
            await type_and_send(pilot, "Again")
            await command(pilot, "/respond on")
            server.push(respond_stream())
            await type_and_send(pilot, "Through respond")
            server.push(respond_stream(fail=True))
            await type_and_send(pilot, "Once more")
            from guide.tui.screens.call_detail import CallDetail

            talk = app.session.conversation
            seen = {"notices": "\n".join(f"{n.title} {n.message}" for n in app.recent.said)}
            seen["turns"] = "\n".join(f"{turn.model} {turn.content} {turn.data}" for turn in talk.turns)
            for trace in app.chat.panel.traces.values():
                seen[f"trace {trace.id}"] = json.dumps(trace.to_dict(), ensure_ascii=False)
                seen[f"detail {trace.id}"] = "\n".join(CallDetail(trace).texts.values())
            seen["screen"] = app.export_screenshot()
            return seen

        seen = run_app(GuideApp(flags={"base_url": server.url, "model": "loopback-model"}), script)

    assert "Calm words." in seen["turns"] and "Incorrect API key provided" in seen["notices"]  # every echo arrived
    assert f"{REDACTED}{KEY[-4:]} Calm words." in seen["turns"]  # the model that answered, as the server named it, scrubbed
    assert len([where for where in seen if where.startswith("trace ")]) >= 5
    seen.update({str(path): path.read_bytes().decode("latin-1") for path in data_dir().rglob("*") if path.is_file()})
    leaks = [where for where, text in seen.items() if KEY in revealed(text)]
    assert not leaks, " · ".join(leaks)


def test_a_probe_does_not_quote_a_key_its_server_echoed() -> None:
    # What a probe found is shown on the map and stored with the server: its reason quotes the server's words.
    class Echoing(LoopbackServer):
        def default(self, request: Any) -> Answer:
            return Answer(400, f"a key {KEY} came".encode(), headers={"content-type": "text/plain"})

    with Echoing() as server, Guide(base_url=server.url, api_key=KEY) as ai:
        found = ai.probe()
    assert found and all("not in the API's error shape: a key" in finding.reason for finding in found.values())
    assert not [finding.action for finding in found.values() if KEY in finding.reason]
