"""`guide ask` with a persona whose tools come from an MCP server (issue 29): asked on the terminal first, or --yes, or trusted.

The model is a loopback server that asks for `lake_depth` and then answers; the MCP server is tests/mcp_lakes.py, started
by guide itself from the settings. What the model was sent back (the tool message) says whether the tool ran.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse, tool_call_chunk

pytest.importorskip("mcp", reason="the MCP SDK is the mcp extra (guide-chat[mcp])")

LAKES = str(Path(__file__).with_name("mcp_lakes.py"))
ROOT = Path(__file__).resolve().parents[1]
PERSONA = 'id = "lake-guide"\nname = "Lake guide"\ndescription = "d"\naddress = "Fira"\ngreeting = "g"\nsystem = "Answer about lakes."\ntools = ["mcp:lakes"]\n'


def setup(trust: str = "") -> None:
    home = Path(os.environ["GUIDE_HOME"])
    (home / "config" / "personas").mkdir(parents=True)
    (home / "config" / "personas" / "lake-guide.toml").write_text(PERSONA)
    trusted = f"trust = [{trust!r}]\n" if trust else ""
    (home / "config" / "config.toml").write_text(
        f"[mcp.servers.lakes]\ncommand = {sys.executable!r}\nargs = [{LAKES!r}]\n{trusted}".replace("'", '"')
    )


def script(server: LoopbackServer) -> None:
    server.push(
        Stream(sse(tool_call_chunk(0, id="call_1", name="lake_depth", arguments='{"lake": "Baikal"}'), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("Baikal is deep."), chat_chunk(finish="stop"))),
    )


def tool_message(server: LoopbackServer) -> str:
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")][-2:]  # the last ask's two rounds
    assert len(chats) == 2 and len(server.requests) % 2 == 0, [r.path for r in server.requests]
    assert [t["function"]["name"] for t in chats[0].json["tools"]] == ["lake_depth"]
    sent: dict[str, Any] = chats[1].json["messages"][-1]
    assert sent["role"] == "tool" and sent["tool_call_id"] == "call_1"
    return str(sent["content"])


def asking(server: LoopbackServer, *more: str) -> list[str]:
    """The command line of `guide ask` as the lake guide, at the loopback model, with `more` options."""
    return [
        sys.executable,
        "-m",
        "guide",
        "ask",
        "--persona",
        "lake-guide",
        "--base-url",
        server.url,
        "--model",
        "loopback-model",
        *more,
        "How deep?",
    ]


def ask(server: LoopbackServer, *more: str) -> subprocess.CompletedProcess[str]:
    arguments = asking(server, *more)
    # start_new_session: no controlling terminal, as under cron or CI, whatever runs the tests.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(arguments, capture_output=True, text=True, timeout=120, env=env, input="", start_new_session=True)


def test_with_no_terminal_and_no_yes_the_call_is_declined_and_the_model_told(server: LoopbackServer) -> None:
    setup()
    script(server)
    done = ask(server)
    assert done.returncode == 0, done.stderr
    assert "not asked" in tool_message(server) and "the call was not made" in tool_message(server)
    assert "Baikal is deep." in done.stdout


def test_yes_runs_the_call_and_the_model_reads_its_result(server: LoopbackServer) -> None:
    setup()
    script(server)
    done = ask(server, "--yes")
    assert done.returncode == 0, done.stderr
    assert tool_message(server) == "1642 m"


def test_a_trusted_tool_runs_without_asking(server: LoopbackServer) -> None:
    setup(trust="lake_depth")
    script(server)
    done = ask(server)
    assert done.returncode == 0, done.stderr
    assert tool_message(server) == "1642 m"


def ask_on_a_terminal(server: LoopbackServer, answer: str, *more: str) -> tuple[int, str]:
    """guide ask with a pty as its terminal (stdin a closed pipe): the question read there, `answer` typed; exit code and stderr."""
    leader, follower = pty.openpty()

    def controlling() -> None:  # the pty becomes the child's terminal: /dev/tty opens it
        os.setsid()
        fcntl.ioctl(follower, termios.TIOCSCTTY, 0)

    arguments = asking(server, *more)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=controlling, pass_fds=(follower,)
    )
    os.close(follower)
    try:
        child.stdin.close()  # type: ignore[union-attr]
        child.stdin = None
        seen = b""
        ends = time.monotonic() + 90
        while b"Run it?" not in seen and time.monotonic() < ends:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                try:
                    seen += os.read(leader, 4096)
                except OSError:  # the child closed the terminal: it ended
                    break
        assert b"MCP server lakes to run lake_depth(lake='Baikal')" in seen, (seen, child.communicate(timeout=30))
        os.write(leader, answer.encode())
        _, err = child.communicate(timeout=30 if answer == "\x03" else 90)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(leader)
    return child.returncode, err.decode()


@pytest.mark.parametrize(("answer", "result"), [("y\n", "1642 m"), ("n\n", "The user declined this call."), ("\x03", None)])
def test_the_question_is_asked_on_the_terminal_while_stdin_is_a_pipe(server: LoopbackServer, answer: str, result: str | None) -> None:
    """y runs it, n declines it, and Ctrl-C (\\x03, as the terminal sends it) ends guide ask at once, not at the next Enter."""
    setup()
    script(server)
    code, err = ask_on_a_terminal(server, answer)
    if result is None:
        assert code == 130, err  # stopped, as any Ctrl-C stops guide ask
        return
    assert code == 0, err
    assert tool_message(server) == result


def test_always_holds_when_the_conversation_is_continued(server: LoopbackServer) -> None:
    setup()
    script(server)
    code, err = ask_on_a_terminal(server, "a\n")
    assert code == 0, err
    script(server)
    done = ask(server, "-c")  # no terminal now, and no --yes: "always" is what lets it run
    assert done.returncode == 0, done.stderr
    assert tool_message(server) == "1642 m"


def test_a_huge_result_reaches_the_model_cut_and_the_store_bounded(server: LoopbackServer) -> None:
    """A server answering with 5 MB (a whole log, a hostile server): the model reads the first 32,000 characters, and the
    store keeps the exchange with its long texts cut, not four whole copies of it (request, parts, the text, every message)."""
    setup()
    config = Path(os.environ["GUIDE_HOME"]) / "config" / "config.toml"
    config.write_text(config.read_text().replace(f'"{LAKES}"]', f'"{LAKES}", "huge"]'))
    script(server)
    done = ask(server, "--yes")
    assert done.returncode == 0, done.stderr
    assert tool_message(server).startswith("deep deep") and len(tool_message(server)) < 33_000
    stored = sum(path.stat().st_size for path in (Path(os.environ["GUIDE_HOME"]) / "data").glob("guide.sqlite3*"))
    assert stored < 2_000_000, f"{stored:,} bytes in the store for one call"


def test_a_renamed_tool_never_takes_the_name_of_another_so_the_model_gets_the_one_it_called(server: LoopbackServer) -> None:
    """guide's `now` is taken, so the server's `now` is renamed lakes_now: the name of the server's other tool. Two tools
    of one name reached the model, and its call to lakes_now ran `now`."""
    setup()
    home = Path(os.environ["GUIDE_HOME"])
    persona = home / "config" / "personas" / "lake-guide.toml"
    persona.write_text(persona.read_text().replace('tools = ["mcp:lakes"]', 'tools = ["now", "mcp:lakes"]'))
    config = home / "config" / "config.toml"
    config.write_text(config.read_text().replace(f'"{LAKES}"]', f'"{LAKES}", "clash"]'))
    server.push(
        Stream(sse(tool_call_chunk(0, id="call_1", name="lakes_now", arguments="{}"), tool_call_chunk(0, finish="tool_calls"))),
        Stream(sse(chat_chunk("It is late."), chat_chunk(finish="stop"))),
    )
    done = ask(server, "--yes")
    assert done.returncode == 0, done.stderr
    first, second = [r for r in server.requests if r.path.endswith("/chat/completions")]
    names = [tool["function"]["name"] for tool in first.json["tools"]]
    assert len(names) == len(set(names)) == 4, names
    assert second.json["messages"][-1]["content"] == "the lakes' clock"
