"""The theme: a name that is not a theme is refused when set, and survived when met at start."""

from __future__ import annotations

import subprocess
import tomllib
from typing import Any

import pytest
from loopback import LoopbackServer
from textual.constants import DEFAULT_THEME
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES
from tui_helpers import run_app

from guide import config
from guide.locations import settings_file
from guide.tui.app import GuideApp


def test_config_set_refuses_a_theme_that_does_not_exist(run_guide: Any) -> None:
    result: subprocess.CompletedProcess[str] = run_guide("config", "set", "theme", "not-a-theme")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("guide: There is no theme called 'not-a-theme'.")
    assert all(name in result.stderr for name in BUILTIN_THEMES)
    assert "Traceback" not in result.stderr and not settings_file().exists()


def test_config_set_keeps_a_theme_by_its_own_name(run_guide: Any) -> None:
    result: subprocess.CompletedProcess[str] = run_guide("config", "set", "theme", "Tokyo Night")
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(settings_file().read_text())["theme"] == "tokyo-night"


def theme_at_start(server: LoopbackServer) -> tuple[str, list[tuple[str, str]]]:
    """Start the real app, let it paint; the theme in force and the theme notices shown."""

    async def script(pilot: Pilot[None]) -> tuple[str, list[tuple[str, str]]]:
        app = pilot.app
        return app.theme, [(n.title, n.message) for n in app.recent.said if n.title == "Theme"]

    return run_app(GuideApp(flags={"base_url": server.url, "model": "m"}), script)  # type: ignore[no-any-return]


def test_an_unknown_theme_in_the_settings_file_starts_with_the_default_and_says_so(server: LoopbackServer) -> None:
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text('theme = "not-a-theme"\n')
    theme, notices = theme_at_start(server)
    assert theme == DEFAULT_THEME
    assert len(notices) == 1 and "'not-a-theme'" in notices[0][1] and str(settings_file()) in notices[0][1]
    assert tomllib.loads(settings_file().read_text())["theme"] == "not-a-theme"  # the user's setting is not overwritten


def test_an_unknown_theme_in_the_environment_names_the_variable(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_THEME", "Nrod")
    theme, notices = theme_at_start(server)
    assert theme == DEFAULT_THEME
    assert len(notices) == 1 and "'Nrod'" in notices[0][1] and "GUIDE_THEME" in notices[0][1]
    assert not settings_file().exists()


def test_a_theme_name_in_other_case_is_the_theme(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_THEME", "Nord")
    assert theme_at_start(server) == ("nord", [])


@pytest.mark.parametrize(("written", "name"), [("nord", "nord"), ("Nord", "nord"), (" Tokyo Night ", "tokyo-night"), ("rose_pine", "rose-pine")])
def test_theme_names_forgive_case_spaces_and_underscores(written: str, name: str) -> None:
    assert config.theme_name(written) == name


def test_a_theme_name_is_not_guessed() -> None:
    assert config.theme_name("nor") is None and config.theme_name("") is None
