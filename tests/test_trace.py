"""Traces: each call whole, the key redacted, and the same call as snippets."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from loopback import LoopbackServer

from guide import ACTIONS, Guide, Trace
from guide.client import redact_key

KEY = "sk-proj-RECOGNISABLE-KEY-0123456789"


@pytest.fixture
def keyed() -> LoopbackServer:
    with LoopbackServer(api_key=KEY) as running:
        yield running  # type: ignore[misc]


def traces_of_every_action(server: LoopbackServer, tmp_path: Path) -> list[Trace]:
    seen: list[Trace] = []
    audio = tmp_path / "note.wav"
    audio.write_bytes(b"RIFF....WAVE")
    with Guide(base_url=server.url, api_key=KEY, model="loopback-model", on_trace=seen.append) as ai:
        ai.think("Hello", stream=True).text  # noqa: B018
        ai.continue_("Once")
        ai.understand("lake")
        ai.imagine("lake")
        ai.listen(audio)
        ai.speak("hi", format="wav")
        ai.catalog()
        ai.interpret(audio)
        ai.discern("kind")
        ai.revise("What day of the wek is it?", "Fix the spelling.")
        ai.respond("Hello", stream=True).text  # noqa: B018
    finished = [t for t in seen if t.state != "running"]
    assert sorted({t.action for t in finished}) == sorted(ACTIONS)
    return finished


def test_redaction_never_shows_the_whole_key() -> None:
    assert KEY not in redact_key(KEY) and redact_key(KEY).endswith("6789")
    assert redact_key("short") == "••••"


def test_a_trace_records_the_call_whole_without_the_key(keyed: LoopbackServer, tmp_path: Path) -> None:
    for trace in traces_of_every_action(keyed, tmp_path):
        assert trace.status == 200
        assert trace.url.startswith(keyed.url + "/v1/")
        assert trace.request_headers["Authorization"] == "Bearer ••••6789"
        assert trace.ttfb_ms is not None and trace.total_ms is not None
        assert trace.gentle.startswith("ai.")
        assert KEY not in json.dumps(trace.to_dict(), ensure_ascii=False)
        assert KEY not in trace.as_curl() + trace.as_python() + trace.as_node()
        assert Trace.from_dict(json.loads(json.dumps(trace.to_dict()))).to_dict() == trace.to_dict()


def test_binary_parts_are_summarised_by_name_and_size(server: LoopbackServer, tmp_path: Path) -> None:
    traces = {t.action: t for t in traces_of_every_action(server, tmp_path)}
    assert traces["listen"].request_body["file"] == "<file note.wav · 12 bytes · audio/wav>"
    assert traces["listen"].request_files == {"file": "note.wav"}
    assert traces["speak"].response_body.startswith("<binary: ")
    assert traces["imagine"].response_body["data"][0]["b64_json"].startswith("<base64: ")


def test_the_summary_line_reads_like_the_panel(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        trace = ai.think("one two", stream=True)
        trace.text  # noqa: B018
    line = trace.trace.summary()  # type: ignore[union-attr]
    assert line.startswith("think → POST /v1/chat/completions · 200 · ")
    assert line.endswith(" · 11 tok")


def test_the_gentle_call_reads_as_python(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert ai.think("Hello, guide.").trace.gentle == "ai.think('Hello, guide.')"  # type: ignore[union-attr]
        assert ai.continue_("Once", max_tokens=5).trace.gentle == "ai.continue_('Once', max_tokens=5)"  # type: ignore[union-attr]
        assert ai.understand("x", model="loopback-model").trace.gentle == "ai.understand('x', model='loopback-model')"  # type: ignore[union-attr]


def curl_words(command: str) -> list[str]:
    return shlex.split(command.replace("\\\n", " "))


def test_the_curl_snippet_parses_as_shell_and_sends_the_same_body(keyed: LoopbackServer, tmp_path: Path) -> None:
    for trace in traces_of_every_action(keyed, tmp_path):
        words = curl_words(trace.as_curl())
        assert words[0] == "curl" and trace.url in words
        assert "Authorization: Bearer $OPENAI_API_KEY" in words
        if trace.request_files:
            assert f"file=@{trace.request_files['file']}" in words
        elif trace.request_body is not None:
            assert json.loads(words[words.index("-d") + 1]) == trace.request_body


@pytest.mark.parametrize("keyed_call", [True, False])
def test_the_python_snippet_compiles_and_reads_the_key_from_the_environment(keyed_call: bool, server: LoopbackServer, tmp_path: Path) -> None:
    for trace in traces_of_every_action(server, tmp_path):
        if not keyed_call:
            trace.request_headers.pop("Authorization", None)
        code = trace.as_python()
        compile(code, "snippet.py", "exec")
        assert "OPENAI_API_KEY" in code
        called = f"client.post(\n    {trace.mapping.path!r}," if trace.action == "revise" else f"client.{trace.mapping.sdk_call}("
        assert called in code  # revise: current SDKs dropped edits.create, so the snippet makes the HTTP call through post


def test_the_node_snippet_names_the_sdk_call_and_the_env_key(server: LoopbackServer, tmp_path: Path) -> None:
    for trace in traces_of_every_action(server, tmp_path):
        code = trace.as_node()
        called = f'await client.post("{trace.mapping.path}",' if trace.action == "revise" else f"await client.{trace.mapping.sdk_call}("
        assert called in code
        assert "process.env.OPENAI_API_KEY" in code


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_parses_as_javascript(server: LoopbackServer, tmp_path: Path) -> None:
    for trace in traces_of_every_action(server, tmp_path):
        script = tmp_path / f"{trace.action}.mjs"
        script.write_text(trace.as_node())
        checked = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="curl and bash are not installed")
@pytest.mark.parametrize("size", [100, 333_000])
def test_the_curl_snippet_runs_in_a_shell_whatever_the_body_size(size: int, server: LoopbackServer, tmp_path: Path) -> None:
    # A 333 KB body as one -d argument passed Linux's 128 KiB limit for one argument ("Argument list too long").
    words = "a quiet lake " * (size // 13)
    with Guide(base_url=server.url, model="loopback-model") as ai:
        trace = ai.think(words).trace  # type: ignore[union-attr]
    sent = server.requests[-1].json
    script = tmp_path / "snippet.sh"  # as a user pastes it into a shell
    script.write_text(trace.as_curl() + "\n")
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert len(server.requests) == 2 and server.requests[-1].json == sent
    assert json.loads(ran.stdout)["choices"][0]["message"]["content"]
