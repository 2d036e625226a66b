"""Settings: one file, overridden for one run, written atomically, never a key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from loopback import LoopbackServer

from guide import config
from guide.locations import config_dir, data_dir, settings_file


def test_guide_home_moves_config_and_data_under_one_folder(tmp_path: Path) -> None:
    home = Path(os.environ["GUIDE_HOME"])
    assert config_dir() == home / "config" and data_dir() == home / "data"


def test_without_guide_home_the_platform_folders_are_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GUIDE_HOME")
    assert config_dir() == tmp_path / "home" / ".config" / "guide"
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "guide"


def test_defaults_when_there_is_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUIDE_COMPANION_PORT")  # conftest's free port for the companion: a default here
    loaded = config.load()
    assert loaded.settings == config.Settings()
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.settings.persona == "calm-guide" and loaded.settings.api_key_env == "OPENAI_API_KEY"


def test_override_order_is_flag_then_environment_then_file_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config.write({"model": "from-file", "persona": "api-docent", "theme": "nord"})
    monkeypatch.setenv("GUIDE_MODEL", "from-env")
    monkeypatch.setenv("GUIDE_PERSONA", "socratic-tutor")
    loaded = config.load({"model": "from-flag", "persona": None})
    assert loaded.settings.model == "from-flag" and loaded.sources["model"] == "flag"
    assert loaded.settings.persona == "socratic-tutor" and loaded.sources["persona"] == "environment"
    assert loaded.settings.theme == "nord" and loaded.sources["theme"] == "file"
    assert loaded.settings.address is None and loaded.sources["address"] == "default"
    assert tomllib.loads(settings_file().read_text())["model"] == "from-file"


def test_openai_base_url_is_read_as_the_sdk_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234")
    assert config.load().settings.server() == "http://127.0.0.1:1234"


def test_a_provider_gives_its_usual_address_and_base_url_wins() -> None:
    config.write({"provider": "ollama"})
    assert config.load().settings.server() == "http://127.0.0.1:11434"
    config.write({"base_url": "http://127.0.0.1:9999"})
    assert config.load().settings.server() == "http://127.0.0.1:9999"


def test_the_key_comes_from_the_variable_named_in_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    config.write({"api_key_env": "MY_SERVER_KEY"})
    monkeypatch.setenv("MY_SERVER_KEY", "sk-mine")
    assert config.load().settings.api_key() == "sk-mine"


def test_writing_keeps_keys_guide_does_not_know() -> None:
    path = settings_file()
    path.parent.mkdir(parents=True)
    path.write_text('future_option = "keep me"\n[plugins]\nx = 1\n')
    config.write({"model": "m"})
    assert tomllib.loads(path.read_text()) == {"future_option": "keep me", "plugins": {"x": 1}, "model": "m"}


def test_writing_is_atomic_and_private() -> None:
    config.write({"model": "m"})
    path = settings_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_a_failed_write_leaves_the_old_file_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    config.write({"model": "before"})

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        config.write({"model": "after"})
    assert tomllib.loads(settings_file().read_text()) == {"model": "before"}
    assert [p.name for p in settings_file().parent.iterdir()] == ["config.toml"]


def test_a_file_that_cannot_be_parsed_is_kept_aside_not_overwritten() -> None:
    path = settings_file()
    path.parent.mkdir(parents=True)
    path.write_text("model = = broken\n")
    loaded = config.load()
    assert loaded.problem is not None and "line 1" in loaded.problem
    notice = config.write({"persona": "api-docent"})
    assert notice is not None and "config.toml.broken-" in notice
    [kept] = path.parent.glob("config.toml.broken-*")
    assert kept.read_text() == "model = = broken\n"
    assert tomllib.loads(path.read_text()) == {"persona": "api-docent"}


def test_a_key_is_never_written() -> None:
    for key, value in (("api_key", "sk-123"), ("base_url", "sk-123")):
        with pytest.raises(ValueError, match="never writes"):
            config.write({key: value})
    assert not settings_file().exists()


def test_unknown_settings_and_providers_are_refused() -> None:
    with pytest.raises(ValueError, match="no setting"):
        config.write({"colour": "blue"})
    with pytest.raises(ValueError, match="Unknown provider"):
        config.write({"provider": "skynet"})


def test_guide_config_shows_each_setting_and_its_source(run_guide) -> None:  # type: ignore[no-untyped-def]
    config.write({"theme": "nord"})
    result = run_guide("config", GUIDE_MODEL="env-model", OPENAI_API_KEY="sk-visible-never-0123456789")
    assert result.returncode == 0
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if not line.startswith("#")}
    assert rows["model"][1:] == ["env-model", "environment"]
    assert rows["theme"][1:] == ["nord", "file"]
    assert rows["persona"][1:] == ["calm-guide", "default"]
    assert "$OPENAI_API_KEY is set" in result.stdout
    assert "sk-visible-never" not in result.stdout + result.stderr


def test_guide_config_set_changes_one_setting(run_guide) -> None:  # type: ignore[no-untyped-def]
    assert run_guide("config", "set", "persona", "socratic-tutor").returncode == 0
    assert config.load().settings.persona == "socratic-tutor"
    assert run_guide("config", "set", "persona", "").returncode == 0
    assert config.load().sources["persona"] == "default"
    refused = run_guide("config", "set", "api_key", "sk-123")
    assert refused.returncode == 2 and "never writes a key" in refused.stderr


def test_guide_ask_speaks_as_the_persona(run_guide, server: LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("ask", "Hello", "--base-url", server.url, "--model", "loopback-model")
    assert result.returncode == 0, result.stderr
    body = server.requests[-1].json
    assert body["messages"][0]["role"] == "system"
    assert "calm and thoughtful guide" in body["messages"][0]["content"] and "Fira" in body["messages"][0]["content"]
    assert body["temperature"] == 0.7


def test_guide_ask_takes_another_persona_and_the_settings_address(run_guide, server: LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    config.write({"address": "Ada", "base_url": server.url})
    result = run_guide("ask", "Hello", "--persona", "socratic-tutor", "--model", "loopback-model")
    assert result.returncode == 0, result.stderr
    body = server.requests[-1].json
    assert "Socratic tutor working with Ada" in body["messages"][0]["content"]
    assert body["temperature"] == 0.5


def test_guide_ask_uses_the_personas_preferred_model_unless_one_is_chosen(run_guide, server: LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from guide import personas

    server.models = ["preferred", "chosen"]
    personas.save(replace(personas.load().get("calm-guide"), model="preferred"))
    assert run_guide("ask", "Hi", "--base-url", server.url).returncode == 0
    assert server.requests[-1].json["model"] == "preferred"
    config.write({"model": "chosen"})
    assert run_guide("ask", "Hi", "--base-url", server.url).returncode == 0
    assert server.requests[-1].json["model"] == "chosen"


def test_guide_ask_with_an_unknown_persona_says_so(run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("ask", "Hi", "--persona", "nobody")
    assert result.returncode == 2 and "no persona called 'nobody'" in result.stderr


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_an_arbitrary_settings_file_loads_or_is_reported_never_a_crash(data: bytes) -> None:
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    loaded = config.load()
    assert isinstance(loaded.settings, config.Settings)
    assert all(isinstance(getattr(loaded.settings, key), (str, type(None))) for key in config.KEYS)
