"""The `guide` command against hostile servers, odd input and broken files: one calm line and the documented exit code.

Every test runs the real command in its own process, as a user or a script
would, with GUIDE_HOME pointing at a folder of the test's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse

from guide.locations import config_dir, user_personas_dir

ESCAPES = "\x1b]0;pwned\x07\x1b[2J"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_calm_line(result: subprocess.CompletedProcess[str]) -> str:
    """stderr holds a calm message, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("guide: "), result.stderr
    return result.stderr


# guide ask without --model: the catalog call is inside the same calm handling.


def test_ask_without_a_model_at_an_address_where_nothing_listens_exits_3(run_guide: Any) -> None:
    result = run_guide("ask", "--base-url", f"http://127.0.0.1:{free_port()}", "hello")
    assert result.returncode == 3
    assert "Could not reach the server" in one_calm_line(result)


def test_ask_without_a_model_and_a_refused_key_exits_4(run_guide: Any) -> None:
    with LoopbackServer(api_key="sk-the-right-one") as server:
        result = run_guide("ask", "--base-url", server.url, "hello", OPENAI_API_KEY="sk-the-wrong-one")
    assert result.returncode == 4
    assert "refused the key" in one_calm_line(result) and "sk-the-wrong-one" not in result.stderr


def test_ask_without_a_model_where_the_catalog_is_missing_exits_5(run_guide: Any) -> None:
    with LoopbackServer(offers={"/chat/completions"}) as server:
        result = run_guide("ask", "--base-url", server.url, "hello")
    assert result.returncode == 5
    assert "does not offer" in one_calm_line(result)


def test_ask_with_binary_stdin_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "guide", "ask", "-"], input=b"\xff\xfe\x00binary", capture_output=True, timeout=60)
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert stderr.startswith("guide: ") and "UTF-8" in stderr and "Traceback" not in stderr


def test_ask_into_a_closed_pipe_ends_calmly(server: LoopbackServer) -> None:
    server.push(Stream(sse(*(chat_chunk("word " * 50) for _ in range(400)), chat_chunk(finish="stop"))))
    shell = f"{sys.executable} -m guide ask --base-url {server.url} --model loopback-model hello </dev/null | head -c 10"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=60, env=os.environ)
    assert result.stdout == "word word "
    assert result.stderr == ""  # no traceback, no "Exception ignored", and no complaint: the reader chose to stop, as with `ls | head`
    assert result.returncode == 141


# What a server says reaches stdout and stderr with its control characters as symbols.


def test_ask_shows_a_servers_escapes_as_symbols(server: LoopbackServer, run_guide: Any) -> None:
    server.push(Stream(sse(chat_chunk(f"calm{ESCAPES}words\n"), chat_chunk(finish="stop"))))
    result = run_guide("ask", "--base-url", server.url, "--model", "loopback-model", "hello")
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert result.stdout == "calm␛]0;pwned␇␛[2Jwords\n"


def test_an_error_with_escapes_is_one_line_of_symbols(server: LoopbackServer, run_guide: Any) -> None:
    server.push(Answer(400, {"error": {"message": f"bad\n{ESCAPES}", "type": "invalid_request_error", "param": None, "code": None}}))
    result = run_guide("ask", "--base-url", server.url, "--model", "loopback-model", "hello")
    assert result.returncode == 1
    assert "\x1b" not in one_calm_line(result) and "bad ␛]0;pwned␇␛[2J" in result.stderr


def test_probe_shows_a_servers_escapes_as_symbols(run_guide: Any) -> None:
    words = f"failed{ESCAPES}here"
    with LoopbackServer(offers=set(), missing_route=Answer(500, {"error": {"message": words}})) as server:
        result = run_guide("probe", server.url)
    assert result.returncode == 0
    assert "\x1b" not in result.stdout + result.stderr and "failed␛]0;pwned␇␛[2Jhere" in result.stdout


# Addresses guide cannot use are refused at once: one line, exit 2, nothing sent.


@pytest.mark.parametrize("address", ["file:///etc/passwd", "ftp://example.com", "javascript:alert(1)", "http://[::1", "gopher://x"])
@pytest.mark.parametrize("command", [["ask", "hello", "--base-url"], ["probe"], ["--base-url"]], ids=["ask", "probe", "app"])
def test_an_address_that_is_not_http_is_refused_with_exit_2(command: list[str], address: str, run_guide: Any) -> None:
    result = run_guide(*command, address)
    assert result.returncode == 2
    assert "cannot use the server address" in one_calm_line(result) and len(result.stderr.strip().splitlines()) == 1


def test_an_address_in_the_environment_that_is_not_http_is_refused(run_guide: Any) -> None:
    result = run_guide("ask", "hello", OPENAI_BASE_URL="file:///etc/passwd")
    assert result.returncode == 2 and "not http or https" in one_calm_line(result)


@pytest.mark.parametrize(
    "address", ["file:///etc/passwd", "http://[::1", "http://fira:hunter2pass@example.com", "http://example.com?api-key=hunter2pass"]
)
def test_config_set_refuses_an_address_it_cannot_use_or_that_carries_a_secret(address: str, run_guide: Any) -> None:
    result = run_guide("config", "set", "base_url", address)
    assert result.returncode == 2
    one_calm_line(result)
    settings = config_dir() / "config.toml"
    assert not settings.exists() or "hunter2pass" not in settings.read_text()


def test_config_shows_an_address_from_the_environment_without_its_password(run_guide: Any) -> None:
    result = run_guide("config", GUIDE_BASE_URL="http://fira:hunter2pass@example.com:8080")
    assert result.returncode == 0 and "hunter2pass" not in result.stdout and "example.com:8080" in result.stdout


# Files: nested too deep, blank for a megabyte, ids that are paths, links.


def test_a_settings_file_nested_too_deeply_is_reported_and_guide_starts(run_guide: Any) -> None:
    config_dir().mkdir(parents=True)
    (config_dir() / "config.toml").write_text("model = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run_guide("config")
    assert result.returncode == 0 and "nested too deeply" in one_calm_line(result)
    assert run_guide("map").returncode == 0


def test_a_persona_nested_too_deeply_is_reported_and_the_others_load(run_guide: Any) -> None:
    user_personas_dir().mkdir(parents=True)
    (user_personas_dir() / "deep.toml").write_text("id = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run_guide("personas")
    assert result.returncode == 0 and "calm-guide" in result.stdout
    assert "deep.toml" in result.stderr and "nested too deeply" in result.stderr and "Traceback" not in result.stderr


def test_a_persona_of_blank_lines_is_reported_without_freezing(run_guide: Any) -> None:
    user_personas_dir().mkdir(parents=True)
    (user_personas_dir() / "blank.toml").write_text("\n" * 1_000_000)  # the problem-line search was quadratic: minutes, not moments
    result = run_guide("personas")  # run_guide gives up after 60 s: a freeze fails the test
    assert result.returncode == 0 and "blank.toml" in result.stderr and "missing" in result.stderr


@pytest.mark.parametrize("verb", ["remove", "show", "edit", "new"])
@pytest.mark.parametrize("given", ["../config", "../../x", "a/b", "calm-guide\n", ".hidden", "UPPER"])
def test_a_persona_id_that_is_a_path_is_refused_and_nothing_outside_is_touched(verb: str, given: str, run_guide: Any) -> None:
    assert run_guide("config", "set", "model", "m").returncode == 0
    settings = config_dir() / "config.toml"
    before = settings.read_text()
    result = run_guide("personas", verb, given, EDITOR="true")
    assert result.returncode == 2
    assert "not a persona id" in one_calm_line(result)
    assert settings.read_text() == before
    assert sorted(p.name for p in config_dir().iterdir()) == ["config.toml"]


def test_config_set_writes_through_a_linked_settings_file(tmp_path: Path, run_guide: Any) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir(mode=0o755)
    target = dotfiles / "guide.toml"
    target.write_text('theme = "nord"\n')
    config_dir().mkdir(parents=True)
    link = config_dir() / "config.toml"
    link.symlink_to(target)
    result = run_guide("config", "set", "model", "loopback-model")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == target
    assert 'model = "loopback-model"' in target.read_text() and 'theme = "nord"' in target.read_text()
    assert (dotfiles.stat().st_mode & 0o777) == 0o755  # the user's own folder keeps its mode


def test_a_new_guide_home_is_readable_by_the_user_only(tmp_path: Path, run_guide: Any) -> None:
    home = tmp_path / "fresh" / "guide-home"
    result = run_guide("config", "set", "model", "m", GUIDE_HOME=str(home))
    assert result.returncode == 0
    for folder in (home, home / "config"):
        assert (folder.stat().st_mode & 0o777) == 0o700, folder
    assert ((home / "config" / "config.toml").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("given", ["../x", "nonexistent"])
def test_config_set_refuses_a_persona_that_is_not_there(given: str, run_guide: Any) -> None:
    result = run_guide("config", "set", "persona", given)
    assert result.returncode == 2 and "persona" in one_calm_line(result)
    assert run_guide("config", "set", "persona", "socratic-tutor").returncode == 0
