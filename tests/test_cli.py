"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import LoopbackServer

from guide.client import ACTIONS


def guide(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    # Never the test runner's own stdin: `guide ask` reads what is piped to it.
    return subprocess.run([sys.executable, "-m", "guide", *args], input=stdin or "", capture_output=True, text=True, env=environment, timeout=60)


def test_help_lists_what_exists_and_nothing_unfinished() -> None:
    result = guide("--help")
    assert result.returncode == 0
    for command in ("map", "ask", "probe"):
        assert command in result.stdout
    assert "not implemented" not in result.stdout.lower()


def test_help_says_plain_guide_opens_the_app() -> None:
    assert "Plain `guide`, with no command, opens the terminal app." in " ".join(guide("--help").stdout.split())


@pytest.mark.parametrize("command", ["ask", "map", "probe", "serve", "tour"])
def test_an_unknown_flag_shows_the_commands_own_usage(command: str) -> None:
    result = guide(command, "--bogus", "hi")
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: guide {command} ") and "unrecognized arguments: --bogus" in result.stderr


@pytest.mark.parametrize("command", ["map", "ask", "probe"])
def test_every_command_has_help(command: str) -> None:
    result = guide(command, "--help")
    assert result.returncode == 0 and "usage: guide" in result.stdout


def test_ask_streams_one_answer_to_stdout(server: LoopbackServer) -> None:
    result = guide("ask", "Hello, guide.", "--base-url", server.url, "--model", "loopback-model")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: Hello, guide.\n"
    assert server.requests[-1].json["stream"] is True


def test_ask_reads_stdin_for_a_dash(server: LoopbackServer) -> None:
    result = guide("ask", "-", "--model", "loopback-model", stdin="from a pipe\n", OPENAI_BASE_URL=server.url)
    assert result.stdout == "You said: from a pipe\n"
    assert server.requests[-1].json["messages"][-1]["content"] == "from a pipe"


def test_ask_without_a_model_uses_the_servers_first(server: LoopbackServer) -> None:
    result = guide("ask", "Hi", "--base-url", server.url)
    assert result.returncode == 0 and result.stdout == "You said: Hi\n"


def test_ask_that_cannot_connect_exits_3_with_one_calm_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = guide("ask", "Hi", "--base-url", f"http://127.0.0.1:{port}", "--model", "m")
    assert result.returncode == 3
    assert result.stderr.startswith(f"guide: Could not reach the server at http://127.0.0.1:{port}.")
    assert "Traceback" not in result.stderr


def test_ask_with_a_refused_key_exits_4_without_showing_the_key() -> None:
    with LoopbackServer(api_key="sk-right-key") as server:
        result = guide("ask", "Hi", "--base-url", server.url, "--model", "m", OPENAI_API_KEY="sk-wrong-key-0123456789")
    assert result.returncode == 4
    assert "refused the key" in result.stderr
    assert "sk-wrong-key-0123456789" not in result.stderr + result.stdout


def test_ask_with_nothing_to_ask_is_a_usage_error() -> None:
    result = guide("ask", "-", stdin="   ")
    assert result.returncode == 2 and "nothing to ask" in result.stderr


def test_ask_keeps_what_arrived_when_the_stream_breaks(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse

    server.push(Stream(sse(chat_chunk("Half a "), chat_chunk("thought"), done=False), cut=True))
    result = guide("ask", "Hi", "--base-url", server.url, "--model", "m")
    assert result.returncode == 1
    assert result.stdout == "Half a thought\n"
    assert "broke off" in result.stderr


def test_probe_prints_the_support_map() -> None:
    with LoopbackServer(offers={"/chat/completions", "/models"}) as server:
        result = guide("probe", server.url)
    assert result.returncode == 0
    lines = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()[1:]}
    assert lines["think"] == "✓" and lines["catalog"] == "✓" and lines["imagine"] == "✗"


def test_probe_of_nothing_exits_3() -> None:
    with LoopbackServer() as server:
        url = server.url
    assert guide("probe", url).returncode == 3


def test_map_markdown_is_a_table() -> None:
    result = guide("map", "--markdown")
    assert result.stdout.startswith("| gentle action |") and result.stdout.count("\n") == len(ACTIONS) + 2


# `guide ask` in a shell, as `llm` users expect it.


def sent_messages(server: LoopbackServer) -> list[dict[str, object]]:
    return server.requests[-1].json["messages"]  # type: ignore[no-any-return]


def test_piped_text_follows_the_instruction(server: LoopbackServer) -> None:
    result = guide("ask", "Summarise this:", "--base-url", server.url, "--model", "loopback-model", stdin="The lake is still.\n")
    assert result.returncode == 0, result.stderr
    assert sent_messages(server)[-1] == {"role": "user", "content": "Summarise this:\n\nThe lake is still."}


def test_piped_text_alone_is_the_question(server: LoopbackServer) -> None:
    result = guide("ask", "--base-url", server.url, "--model", "loopback-model", stdin="x\n")
    assert result.returncode == 0, result.stderr
    assert sent_messages(server)[-1] == {"role": "user", "content": "x"}


def test_ask_short_flags_system_and_options(server: LoopbackServer) -> None:
    result = guide(
        "ask", "Hi", "-s", "Be brief.", "-o", "temperature", "0.2", "-o", "seed", "7", "--base-url", server.url, "--model", "loopback-model"
    )
    assert result.returncode == 0, result.stderr
    body = server.requests[-1].json
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["temperature"] == 0.2 and body["seed"] == 7


def test_ask_no_stream_and_json(server: LoopbackServer) -> None:
    whole = guide("ask", "Hi", "--no-stream", "--base-url", server.url, "--model", "loopback-model")
    assert whole.returncode == 0 and whole.stdout == "You said: Hi\n"
    assert not server.requests[-1].json.get("stream")
    printed = guide("ask", "Hi", "--json", "--base-url", server.url, "--model", "loopback-model")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["choices"][0]["message"]["content"] == "You said: Hi"


def test_ask_keeps_its_exchange_and_continue_goes_on_with_it(server: LoopbackServer) -> None:
    first = guide("ask", "My name is Fira.", "--base-url", server.url, "--model", "loopback-model")
    assert first.returncode == 0, first.stderr
    again = guide("ask", "-c", "What is my name?", "--base-url", server.url, "--model", "loopback-model")
    assert again.returncode == 0, again.stderr
    said = [(m["role"], m["content"]) for m in sent_messages(server) if m["role"] != "system"]
    assert said == [("user", "My name is Fira."), ("assistant", "You said: My name is Fira."), ("user", "What is my name?")]
    from guide.store import Store

    store = Store()
    try:
        listed = store.conversations()
    finally:
        store.close()
    assert len(listed) == 1 and listed[0].title.startswith("My name is Fira") and listed[0].messages == 4


def test_a_failed_ask_leaves_no_empty_conversation_behind() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = guide("ask", "hi", "--base-url", f"http://127.0.0.1:{port}", "--model", "m")
    assert result.returncode == 3
    from guide.store import Store

    store = Store()
    try:
        assert store.conversations() == []
    finally:
        store.close()


def test_a_home_that_cannot_be_made_says_where_the_folders_come_from(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = guide("ask", "hi", GUIDE_HOME=str(blocker / "home"), GUIDE_GGUF="none")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "set GUIDE_HOME (or --home DIR) to a folder you can write" in result.stderr
