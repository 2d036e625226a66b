"""The key never leaves the environment: a session with a recognisable key, then a search.

Screen, traces, the store, an export, a screenshot, error messages, snippets
and `guide config` are all searched for the key after a session that used it
(including a server that echoes the key back in an error).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send

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

            seen = {"notices": "\n".join(f"{n.title} {n.message}" for n in app._notifications)}
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
