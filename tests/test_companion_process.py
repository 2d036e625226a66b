"""The companion in a process of its own, at an address that lasts: found, proven, reused, outliving the app, started again when it crashes.

Every test runs with GUIDE_HOME in a temporary folder and the companion's
port set to a free one (conftest: never 8765, which other runs may hold);
conftest stops every companion whose record is in that data folder, by pid.
A crash of the native engine is played by tests/fake_llama (a stand-in for
llama-cpp-python, put first on the companion's PYTHONPATH).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_companion import Served, free_port, serve
from textual.pilot import Pilot
from tui_helpers import run_app, settle, transcript_text, wait_until_connected

from guide.tui.app import GuideApp

FAKE_LLAMA = Path(__file__).with_name("fake_llama")
serving = contextlib.contextmanager(serve)
"""`guide serve` with these flags, stopped when the block ends."""
KEY = "sk-test-serve-key-0123456789"


def companion_port() -> int:
    return int(os.environ["GUIDE_COMPANION_PORT"])


def record(port: int) -> dict[str, Any] | None:
    """What the companion on the port wrote about itself in the data folder."""
    path = Path(os.environ["GUIDE_HOME"]) / "data" / "companion" / f"{port}.json"
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait(check: Any, seconds: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what or check}")


async def until(pilot: Pilot[None], check: Any, seconds: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await pilot.pause(0.05)
    raise AssertionError(f"waited {seconds} s for {what or check}")


def notices(app: GuideApp) -> list[str]:
    """Every notice the app has shown ("title: words"), whole, those that left the screen included."""
    return [f"{n.title}: {n.message}" for n in app.recent.said]


def streaming(app: GuideApp, word: str) -> bool:
    """Whether a reply is streaming now, and has shown this word."""
    view = app.chat.transcript.last_message("assistant")
    return bool(app.chat.streaming and view is not None and word in view.body.source)


def with_fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, behaviour: str) -> None:
    """The companion the app starts believes a model is installed: tests/fake_llama, behaving as told."""
    model = tmp_path / "fake-model.Q4_0.gguf"
    model.write_bytes(b"GGUF not really")
    monkeypatch.setenv("GUIDE_GGUF", str(model))
    monkeypatch.setenv("FAKE_LLAMA", behaviour)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE_LLAMA), os.environ.get("PYTHONPATH", ""), str(Path.cwd())]))


@contextlib.contextmanager
def serving_at(port: int, *flags: str) -> Iterator[subprocess.Popen[bytes]]:
    """`guide serve` by hand on this port (the listener), until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "guide", "serve", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GUIDE_GGUF": "none"},
    )
    try:
        wait(lambda: record(port) and not (record(port) or {}).get("starting"), what="the companion started by hand")
        yield process
    finally:
        process.terminate()
        process.wait(10)


# The app finds its companion in a process of its own, and the companion outlives it.


def first_call_as_curl(monkeypatch: pytest.MonkeyPatch) -> tuple[str, int, int]:
    """Run the app once with nothing configured, say one thing; (the think call as curl, the companion's pid, its port)."""
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        app.chat.composer.text = "I feel tired"
        await pilot.press("enter")
        await until(pilot, lambda: any(t.action == "think" and t.status == 200 for t in app.chat.panel.traces.values()), what="the reply")
        await settle(pilot)
        think = next(t for t in app.chat.panel.traces.values() if t.action == "think")
        assert app.session.server.client is not None
        return think.as_curl(), app.session.server.client.base_url

    curl, base_url = run_app(GuideApp(), script)
    port = companion_port()
    assert base_url == f"http://127.0.0.1:{port}/v1"  # the lasting address, not a port of the moment
    found = record(port)
    assert found is not None and found["pid"] != os.getpid() and alive(found["pid"])  # another process: the app's crash is not its crash
    return curl, found["pid"], port


def run_curl(curl: str) -> str:
    """Run the snippet as a user pastes it into a shell; the reply's words (the app streams, so from the stream's events)."""
    done = subprocess.run(["bash", "-c", curl + " --silent --show-error --max-time 20"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line[6:]) for line in done.stdout.splitlines() if line.startswith("data: {")]
    assert events, done.stdout
    return "".join(choice["delta"].get("content") or "" for event in events for choice in event["choices"])


def test_a_snippet_from_the_call_detail_still_runs_after_the_app_quits_and_after_it_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    curl, pid, port = first_call_as_curl(monkeypatch)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in curl
    assert "not a language model" in run_curl(curl)  # the app has quit; its companion answers
    again, pid_again, _ = first_call_as_curl(monkeypatch)
    assert pid_again == pid  # guide's own companion was running there: used, not a second one started
    assert "tired" in run_curl(curl) and "tired" in run_curl(again)


def test_guide_ask_probe_and_tour_use_the_same_companion(run_guide: Any) -> None:
    port = companion_port()
    asked = run_guide("ask", "I need a rest", GUIDE_GGUF="none")
    assert asked.returncode == 0, asked.stderr
    first = record(port)
    assert first is not None and alive(first["pid"])
    probed = run_guide("probe", GUIDE_GGUF="none")
    assert probed.returncode == 0, probed.stderr
    assert f"http://127.0.0.1:{port}/v1" in probed.stdout and "✓ think" in probed.stdout
    again = run_guide("ask", "I need a walk", GUIDE_GGUF="none")
    assert again.returncode == 0 and "a walk" in again.stdout
    toured = run_guide("tour", GUIDE_GGUF="none")
    assert toured.returncode == 0, toured.stderr
    assert f"$ curl http://127.0.0.1:{port}/v1/chat/completions" in toured.stdout  # its curl lines point at the address that lasts
    assert (record(port) or {}).get("pid") == first["pid"]


# Another program at the address is told apart from guide's own companion.


class Answers(BaseHTTPRequestHandler):
    """A plain HTTP server: every GET gets the same 200."""

    body = b"<html>hello</html>"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


class Impostor(Answers):
    """A program that says it is guide's companion, and cannot prove it."""

    body = json.dumps({"guide_companion": True, "proof": "0" * 64, "described": "a fake", "kind": "local model", "model": "stolen"}).encode()


@pytest.fixture(params=[Answers, Impostor], ids=["plain-http-server", "impostor"])
def held_port(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Another program listening on the companion's port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GUIDE_COMPANION_PORT", str(server.server_address[1]))
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_port_another_program_holds_is_reported_and_the_companion_listens_on_another(held_port: int, run_guide: Any) -> None:
    result = run_guide("ask", "I need a rest", GUIDE_GGUF="none")
    assert result.returncode == 0, result.stderr
    assert f"Another program holds 127.0.0.1:{held_port}" in result.stderr and "not guide's companion" in result.stderr
    assert "not a language model" in result.stdout  # the conversation went to guide's companion, never to the other program
    assert record(held_port) is None and any(record(port) for port in range(held_port + 1, held_port + 10))


def test_the_app_reports_another_program_on_the_port_and_talks_to_its_own_companion(held_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        assert app.session.server.client is not None
        return app.session.server.client.base_url, notices(app)

    base_url, told = run_app(GuideApp(), script)
    assert base_url != f"http://127.0.0.1:{held_port}"
    assert any(f"Another program holds 127.0.0.1:{held_port}" in words for words in told), told


def test_the_companion_passed_over_its_port_does_not_take_the_relays(held_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """8765 held: the next port is 8766, where `guide watch` puts its relay; the companion goes past it (here the held port + 1 stands for it)."""
    from guide.companion import identity

    monkeypatch.setenv("GUIDE_GGUF", "none")
    monkeypatch.setattr(identity, "RELAY_PORT", held_port + 1)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        assert app.session.server.client is not None
        return app.session.server.client.base_url

    base_url = run_app(GuideApp(), script)
    assert f"127.0.0.1:{held_port + 1}/" not in base_url and record(held_port + 1) is None, base_url


# When the companion crashes, the app says so, starts it again, and goes on.


def test_the_companion_killed_by_sigsegv_while_a_reply_streams_is_started_again_and_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_fake_model(monkeypatch, tmp_path, "slow")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        first = record(companion_port())
        assert first is not None and first["model"] == "fake-model"
        app.chat.composer.text = "Tell me a long story"
        await pilot.press("enter")
        await until(pilot, lambda: streaming(app, "word3"), what="the reply streaming")
        os.kill(first["pid"], signal.SIGSEGV)
        await until(pilot, lambda: any("back at" in words for words in notices(app)), what="the companion started again")
        await until(pilot, lambda: not app.chat.streaming, what="the cut reply to end")
        shown = transcript_text(app)
        second = record(companion_port())
        assert second is not None and second["pid"] != first["pid"] and second["model"] == "fake-model"  # the model again: one crash
        app.chat.composer.text = "And another"
        await pilot.press("enter")
        await until(pilot, lambda: any(words == "And another" for _, _, words in transcript_text(app)), what="the next message")
        await until(pilot, lambda: streaming(app, "word2"), what="the next reply")
        # A second crash of the model engine: the listener answers from then on.
        os.kill(second["pid"], signal.SIGSEGV)
        await until(pilot, lambda: sum("back at" in words for words in notices(app)) == 2, what="the second restart")
        await until(pilot, lambda: not app.chat.streaming, what="the second cut reply to end")
        app.chat.composer.text = "I feel tired"
        await pilot.press("enter")
        await until(pilot, lambda: transcript_text(app)[-1][2].startswith("Feeling tired"), what="the listener's reply")
        return shown, notices(app), str(app.chat.query_one("#status").render()), app.is_running

    shown, told, status, running = run_app(GuideApp(), script)
    assert running
    assert any(role == "user" and words == "Tell me a long story" for role, _, words in shown)  # what the user wrote is kept
    cut = [words for role, _, words in shown if role == "assistant" and "word0" in words]
    assert cut and "word3" in cut[-1] and "word199" not in cut[-1]  # killed while it streamed: what had arrived is kept
    crashed = [words for words in told if "crashed (SIGSEGV)" in words]
    assert len(crashed) == 2 and "starting it again" in crashed[0] and "\n" not in crashed[0]
    assert "crashed twice" in crashed[1] and "reflective listener" in crashed[1]
    assert "reflective-listener" in status
    assert record(companion_port()) is not None and (record(companion_port()) or {}).get("model") == "reflective-listener"


def test_a_model_that_crashes_its_start_up_check_is_set_aside_for_the_listener(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_fake_model(monkeypatch, tmp_path, "abort")
    with serving(gguf=os.environ["GUIDE_GGUF"], env={"PYTHONPATH": os.environ["PYTHONPATH"], "FAKE_LLAMA": "abort"}) as served:
        said = served.output()
        ids = [m.id for m in served.sdk().models.list().data]
        reply = served.sdk().chat.completions.create(model="reflective-listener", messages=[{"role": "user", "content": "Hello"}])
        assert served.process.poll() is None  # the crash was the child's: the companion serves
    assert "fake-model.Q4_0.gguf could not answer here" in said and "SIGABRT" in said
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir llama-cpp-python' in said
    assert said.index("could not answer") < said.index("guide companion on")  # said before the model would have been announced
    assert (
        "reflective-listener" in said.splitlines()[said.splitlines().index(next(x for x in said.splitlines() if x.startswith("guide companion on")))]
    )
    assert ids[0] == "reflective-listener" and "fake-model" not in ids
    assert "not a language model" in (reply.choices[0].message.content or "")


# A companion the app started stops by itself when idle; one started by hand runs on.


def test_a_companion_stops_by_itself_after_the_idle_time(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "guide", "serve", "--port", str(port), "--stop-when-idle", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GUIDE_GGUF": "none"},
        )
    try:
        wait(lambda: record(port), what="the companion's record")
        for _ in range(3):  # requests keep it awake
            assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).status_code == 200
            time.sleep(1)
        assert process.poll() is None
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert "no request for 2 s" in log.read_text()
    assert record(port) is None  # its record goes with it


# `guide serve` says what it offers, refuses a port that cannot be, and names a port in use.


def test_the_banner_names_each_endpoint_offered(tmp_path: Path) -> None:
    with serving() as served:
        said = served.output()
    for line in (
        "think       POST /v1/chat/completions",
        "continue    POST /v1/completions",
        "understand  POST /v1/embeddings",
        "catalog     GET /v1/models",
    ):
        assert line in said, said
    assert "respond     POST /v1/responses" in said


def test_a_port_out_of_range_is_a_usage_error_before_any_banner(run_guide: Any) -> None:
    result = run_guide("serve", "--port", "99999", GUIDE_GGUF="none")
    assert result.returncode == 2
    assert "65535" in result.stderr and "guide companion on" not in result.stdout + result.stderr


def test_a_port_in_use_is_one_calm_line(held_port: int, run_guide: Any) -> None:
    result = run_guide("serve", "--port", str(held_port), GUIDE_GGUF="none")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"guide: another program is already listening on 127.0.0.1:{held_port}. Stop it, or pick another port with --port."
    ]
    assert "guide companion on" not in result.stdout and "ERROR" not in result.stderr


# `guide serve --log`: the companion's side of the wire.


def calls(served: Served) -> None:
    """A plain call, a streamed one, and a refused one (a wrong key), each carrying a secret in its words."""
    sdk = served.sdk()
    sdk.chat.completions.create(model="reflective-listener", messages=[{"role": "user", "content": f"I need {KEY}"}])
    for _ in sdk.chat.completions.create(model="reflective-listener", messages=[{"role": "user", "content": f"I feel {KEY}"}], stream=True):
        pass
    answer = httpx.post(
        served.url + "/v1/chat/completions",
        json={"model": "reflective-listener", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer sk-wrong-key-9876543210", "User-Agent": "refused-agent/2"},
    )
    assert answer.status_code == 401


def logged(*flags: str) -> str:
    with serving(*flags, "--api-key", KEY) as served:
        calls(served)
        return str(wait(lambda: served.output() if served.output().count("POST /v1/chat/completions  ") >= 3 else None, 20, "three log lines"))


def test_serve_log_prints_one_line_per_call(tmp_path: Path) -> None:
    output = logged("--log")
    lines = [line for line in output.splitlines() if "think → POST /v1/chat/completions" in line]
    assert len(lines) == 3, output
    plain, streamed, refused = lines
    assert plain.split()[0].count(":") == 2 and "127.0.0.1:" in plain and '"OpenAI/Python' in plain
    assert "  200  " in plain and " s  " in plain and plain.endswith(" tok")
    assert "  200  " in streamed and "streamed," in streamed and "events" in streamed
    assert '"refused-agent/2"' in refused and "  401  " in refused
    assert KEY not in output and "sk-wrong-key-9876543210" not in output
    assert "  → " not in output  # bodies only with --log full


def test_serve_log_full_adds_the_bodies_with_secrets_replaced(tmp_path: Path) -> None:
    output = logged("--log", "full")
    assert "I need ••••" in output  # the request body, its secret replaced
    assert "  ← " in output and "data: " in output and "not a language model" in output  # the response bodies, the stream's frames
    assert '"error"' in output  # the refused call's answer
    assert KEY not in output and "sk-wrong-key-9876543210" not in output


# The proof is for the user's own app only.


def test_the_proof_is_shown_to_this_machine_only_and_its_secret_is_private() -> None:
    with serving() as served:
        own = httpx.get(served.url + "/guide/companion", params={"nonce": "abc"}, timeout=10)
        rebound = httpx.get(served.url + "/guide/companion", params={"nonce": "abc"}, headers={"Host": "evil.example"}, timeout=10)
        paged = httpx.get(served.url + "/guide/companion", params={"nonce": "abc"}, headers={"Origin": "https://evil.example"}, timeout=10)
    assert own.status_code == 200 and len(own.json()["proof"]) == 64
    assert rebound.status_code == 421 and "proof" not in rebound.text  # a DNS-rebinding page meets the companion's door
    assert paged.status_code == 403 and "proof" not in paged.text
    secret = Path(os.environ["GUIDE_HOME"]) / "data" / "companion" / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_bytes()) >= 32


def test_the_app_says_why_its_model_was_set_aside_and_how_to_rebuild(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_fake_model(monkeypatch, tmp_path, "abort")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        await settle(pilot)
        return notices(app), str(app.chat.query_one("#status").render())

    told, status = run_app(GuideApp(), script)
    said = next((words for words in told if "could not answer here" in words), "")
    assert "SIGABRT" in said and 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir llama-cpp-python' in said, told
    assert "reflective-listener" in status


def test_guide_ask_waits_for_a_companion_still_checking_its_model_rather_than_start_a_second(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_guide: Any
) -> None:
    with_fake_model(monkeypatch, tmp_path, "slow-to-load")
    port = companion_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        first = subprocess.Popen([sys.executable, "-m", "guide", "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait(lambda: (record(port) or {}).get("starting"), what="the companion to take its port")
        asked = run_guide("ask", "Hello")
        assert asked.returncode == 0, asked.stderr
        assert "Another program holds" not in asked.stderr and "word0" in asked.stdout  # the model's words, from the one companion
        assert first.poll() is None and not any(record(other) for other in range(port + 1, port + 10))
    finally:
        first.terminate()
        first.wait(10)


def test_a_companion_started_by_hand_with_a_key_is_passed_over_and_said_so(run_guide: Any) -> None:
    port = companion_port()
    with serving_at(port, "--api-key", KEY):
        asked = run_guide("ask", "I need a rest", GUIDE_GGUF="none")
    assert asked.returncode == 0, asked.stderr
    assert f"guide's companion at 127.0.0.1:{port} asks for a key" in asked.stderr and "not a language model" in asked.stdout


def test_serve_log_leaves_words_alone_when_a_client_sends_a_placeholder_key() -> None:
    # A client's key of "model" blanked every "model" in the log ("GET /v1/••••s"), and "x" every x.
    with serving("--log", "full") as served:
        for key in ("model", "x"):
            httpx.get(served.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        output = str(wait(lambda: served.output() if served.output().count("GET /v1/models") >= 2 else None, 20, "two log lines"))
    assert "••••" not in output and "GET /v1/models" in output and '"object": "list"' in output.replace('"object":"list"', '"object": "list"')
