"""What `guide ask` writes: every run ends on a fresh line, and no advice that only the app can follow.

The real `guide` command, against a loopback server scripted to fail the
way servers do.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Reset, Stream, chat_chunk, sse
from textual.binding import Binding

from guide.cli.common import failed
from guide.locations import data_dir
from guide.tui.app import GuideApp
from guide.tui.slash.table import COMMANDS

Run = Callable[..., subprocess.CompletedProcess[str]]


def gone() -> str:
    with LoopbackServer() as server:
        return server.url


# Every run ends on a fresh line.


@pytest.mark.parametrize(
    ("pieces", "shown"),
    [
        (["Calm ", "words"], "Calm words\n"),
        (["Calm ", "words\n"], "Calm words\n"),
        (["Two\n", "lines\n\n"], "Two\nlines\n\n"),
        ([], "\n"),
    ],
    ids=["no newline at the end", "one newline at the end", "blank lines kept", "an empty reply"],
)
def test_a_streamed_reply_ends_with_exactly_one_line_end(pieces: list[str], shown: str, server: LoopbackServer, run_guide: Run) -> None:
    server.push(Stream(sse(*[chat_chunk(p) for p in pieces], chat_chunk(finish="stop"))))
    result = run_guide("ask", "Hi", "--base-url", server.url, "--model", "loopback-model")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def test_a_failure_mid_reply_ends_the_reply_line_then_says_why(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Half a"), {"error": {"message": "the model fell over", "type": "server_error"}}, done=False)))
    command = [sys.executable, "-m", "guide", "ask", "Hi", "--base-url", server.url, "--model", "loopback-model"]
    # One pipe for both, as a terminal shows them: the error must not land on the reply's unfinished line.
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.startswith("Half a\nguide: ") and result.stdout.endswith("\n") and "the model fell over" in result.stdout


def test_a_failure_nobody_expected_says_the_command_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    code = failed(RuntimeError("a bug"), argparse.Namespace(command="ask"))
    said = capsys.readouterr().err
    assert code == 1 and said.startswith("guide: Something unexpected went wrong (RuntimeError); guide stopped.")
    assert app_only_advice(said) == [] and str(data_dir() / "guide.log") in said


def test_a_failure_before_any_words_leaves_stdout_empty(run_guide: Run) -> None:
    result = run_guide("ask", "Hi", "--base-url", gone(), "--model", "m")
    assert result.returncode == 3 and result.stdout == "" and result.stderr.endswith("\n")


def test_a_terminal_that_cannot_show_a_character_gets_a_stand_in_not_a_crash(server: LoopbackServer, run_guide: Run) -> None:
    result = run_guide("ask", "café ☕", "--base-url", server.url, "--model", "loopback-model", PYTHONIOENCODING="ascii")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: caf? ?\n" and result.stderr == ""


# No advice that only the app can follow.

F_KEYS = re.compile(r"\bF(?:[1-9]|1[0-2])\b")
SLASH_COMMANDS = re.compile(r"(?<![\w/.:])/(?:" + "|".join(c.name for c in COMMANDS) + r")\b")
APP_ONLY = ("calls panel", "command palette", "ctrl+", "press ", "keeps running")


def app_only_advice(text: str) -> list[str]:
    """What in this text only the app's user could act on: its keys, its slash commands, its panels."""
    found = F_KEYS.findall(text) + SLASH_COMMANDS.findall(text)
    return found + [words for words in APP_ONLY if words in text.lower()]


def test_the_scan_knows_the_apps_own_advice() -> None:
    f_keys = [binding.key.upper() for binding in GuideApp.BINDINGS if isinstance(binding, Binding) and binding.key.startswith("f")]
    assert f_keys and all(F_KEYS.fullmatch(key) for key in f_keys)
    assert app_only_advice("F7 picks a server. Try /catalog. Each attempt is in the calls panel.") == ["F7", "/catalog", "calls panel"]
    assert app_only_advice("GET /v1/models lists them; --base-url URL names another server.") == []


def dead_server(server: LoopbackServer) -> tuple[str, ...]:
    return ("--base-url", gone(), "--model", "m")


def key_refused(server: LoopbackServer) -> tuple[str, ...]:
    server.api_key = "sk-the-right-key"
    return ("--base-url", server.url, "--model", "loopback-model")


def unknown_model(server: LoopbackServer) -> tuple[str, ...]:
    return ("--base-url", server.url, "--model", "no-such-model")


def not_offered(server: LoopbackServer) -> tuple[str, ...]:
    server.offers = {"/models"}
    return ("--base-url", server.url, "--model", "loopback-model")


def hung_up(server: LoopbackServer) -> tuple[str, ...]:
    server.push(Reset(), Reset(), Reset())
    return ("--base-url", server.url, "--model", "loopback-model")


def redirected(server: LoopbackServer) -> tuple[str, ...]:
    server.push(Answer(307, b"", headers={"location": "https://elsewhere.example/v1/chat/completions"}))
    return ("--base-url", server.url, "--model", "loopback-model")


@pytest.mark.parametrize(
    ("failing", "code"),
    [(dead_server, 3), (key_refused, 4), (unknown_model, 1), (not_offered, 5), (hung_up, 1), (redirected, 1)],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_failed_ask_gives_advice_a_command_line_user_can_follow(failing: Any, code: int, server: LoopbackServer, run_guide: Run) -> None:
    result = run_guide("ask", "Hi", *failing(server))
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("guide: ") and "Traceback" not in result.stderr
    assert app_only_advice(result.stdout + result.stderr) == []


@pytest.mark.parametrize(("failing", "flag"), [(dead_server, "--base-url URL"), (redirected, "--base-url URL"), (unknown_model, "--model NAME")])
def test_a_failure_the_flags_can_mend_names_the_flag(failing: Any, flag: str, server: LoopbackServer, run_guide: Run) -> None:
    result = run_guide("ask", "Hi", *failing(server))
    assert flag in result.stderr


def test_the_companion_notice_names_the_flag_not_the_key(run_guide: Run) -> None:
    result = run_guide("ask", "Hello", GUIDE_GGUF="none")
    assert result.returncode == 0, result.stderr
    assert "built-in companion is answering" in result.stderr and "--base-url URL picks a server." in result.stderr
    assert app_only_advice(result.stderr) == []  # stdout is the companion's own reply, which speaks to every client
