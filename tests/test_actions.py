"""Every row of the map, through Guide and AsyncGuide, over a real socket."""

from __future__ import annotations

import asyncio
import base64
import inspect
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, PNG_1x1
from spec_check import check_request

from guide import ACTIONS, AsyncGuide, Guide, Picture, Sound, Transcript, Vector, Verdict

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "

CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "think": (("Hello, guide.",), {}),
    "continue": (("Once upon a time",), {}),
    "understand": (("a quiet lake",), {}),
    "imagine": (("a quiet lake at dawn",), {}),
    "listen": ((WAV,), {}),
    "speak": (("Welcome back, Fira.",), {"format": "wav"}),
    "catalog": ((), {}),
    "interpret": ((WAV,), {}),
    "discern": (("a kind word",), {}),
    "revise": (("What day of the wek is it?", "Fix the spelling."), {}),
    "respond": (("Hello, guide.",), {"instructions": "Be calm."}),
}


def run(mode: str, base_url: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call one gentle action with the sync or the async driver."""
    if mode == "sync":
        with Guide(base_url=base_url, model=kwargs.pop("client_model", None)) as ai:
            result = getattr(ai, ACTIONS[name].method_name)(*args, **kwargs)
            if name in ("think", "continue"):
                result.text  # noqa: B018 - finish a stream before the client closes
            return result

    async def go() -> Any:
        async with AsyncGuide(base_url=base_url, model=kwargs.pop("client_model", None)) as ai:
            outcome = getattr(ai, ACTIONS[name].method_name)(*args, **kwargs)
            return await outcome if inspect.isawaitable(outcome) else outcome

    return asyncio.run(go())


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(ACTIONS))
def test_every_action_sends_what_the_spec_asks_and_carries_its_trace(mode: str, name: str, server: LoopbackServer, spec: dict[str, Any]) -> None:
    args, kwargs = CALLS[name]
    result = run(mode, server.url, name, *args, client_model="loopback-model", **kwargs)
    sent = [r for r in server.requests if r.path.endswith(ACTIONS[name].path)]
    assert len(sent) == 1
    if ACTIONS[name].path in spec["paths"]:
        check_request(spec, name, sent[0])
    else:  # revise: retired, gone from the spec; checked against the shape the spec of its day gave
        from test_revise_shape import request_problems

        assert request_problems(sent[0].json) == []
    assert result.trace is not None
    assert result.trace.action == name
    assert result.trace.url == server.url + ACTIONS[name].legacy_path
    assert result.trace.status == 200
    assert result.trace.state == "done"


@pytest.mark.parametrize("mode", MODES)
def test_think_answers_a_plain_string_as_one_user_message(mode: str, server: LoopbackServer) -> None:
    reply = run(mode, server.url, "think", "Hello, guide.", system="Be calm.", client_model="loopback-model")
    assert str(reply) == reply.text == "You said: Hello, guide."
    assert server.requests[-1].json["messages"] == [
        {"role": "system", "content": "Be calm."},
        {"role": "user", "content": "Hello, guide."},
    ]
    assert reply.usage == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
    assert reply.finish_reason == "stop"


def test_think_takes_a_conversation_and_options(server: LoopbackServer) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Again"}]
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think(messages, temperature=0.2, max_tokens=50)
    assert reply.text == "You said: Again"
    body = server.requests[-1].json
    assert body["messages"] == messages
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50


@pytest.mark.parametrize("mode", MODES)
def test_continue_reads_the_completions_text(mode: str, server: LoopbackServer) -> None:
    reply = run(mode, server.url, "continue", "Once upon a time", client_model="loopback-model")
    assert reply.text == " and so it goes on."
    assert server.requests[-1].json["prompt"] == "Once upon a time"


@pytest.mark.parametrize("mode", MODES)
def test_understand_gives_one_vector_for_a_string_and_a_list_for_a_list(mode: str, server: LoopbackServer) -> None:
    one = run(mode, server.url, "understand", "banana", client_model="loopback-model")
    many = run(mode, server.url, "understand", ["a", "bb"], client_model="loopback-model")
    assert isinstance(one, Vector) and one == [6.0, 3.0, 0.5]
    assert [list(v) for v in many] == [[1.0, 1.0, 0.5], [2.0, 0.0, 0.5]]
    assert many.trace is not None


def test_understand_averages_per_token_vectors_and_says_so(server: LoopbackServer) -> None:
    server.push(Answer(body={"object": "list", "model": "m", "data": [{"index": 0, "embedding": [[1.0, 3.0], [3.0, 5.0]]}]}))
    with Guide(base_url=server.url, model="m") as ai:
        vector = ai.understand("two tokens")
    assert vector == [2.0, 4.0]
    assert vector.trace is not None and any("mean pooling" in note for note in vector.trace.notes)


@pytest.mark.parametrize(
    ("first_bytes", "media"),
    [(b"\xff\xd8\xff\xe0", "image/jpeg"), (b"GIF89a", "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"), (b"?", "image/png")],
)
def test_a_generated_picture_is_labelled_by_its_first_bytes(first_bytes: bytes, media: str, server: LoopbackServer) -> None:
    """As a picture given in a message is (`_pictures.media_type`): a GIF was labelled image/png. Unknown bytes stay PNG, the default."""
    data = first_bytes + b"\x00" * 16
    server.push(Answer(body={"created": 0, "data": [{"b64_json": base64.b64encode(data).decode()}]}))
    with Guide(base_url=server.url, model="m") as ai:
        picture = ai.imagine("a quiet lake")
    assert picture.data == data and picture.media_type == media


@pytest.mark.parametrize("mode", MODES)
def test_imagine_decodes_base64_images(mode: str, server: LoopbackServer) -> None:
    picture = run(mode, server.url, "imagine", "a quiet lake", model="dall-e-2")
    assert isinstance(picture, Picture)
    assert picture.data == PNG_1x1 and picture.media_type == "image/png"
    assert picture.revised_prompt == "a revised a quiet lake"
    assert server.requests[-1].json["response_format"] == "b64_json"


def test_imagine_downloads_an_image_given_by_url(server: LoopbackServer, tmp_path: Path) -> None:
    server.push(Answer(body={"created": 0, "data": [{"url": server.url + "/files/image.png"}]}))
    with Guide(base_url=server.url) as ai:
        picture = ai.imagine("a quiet lake", model="gpt-image-1")
    assert isinstance(picture, Picture) and picture.data == PNG_1x1
    assert picture.save(tmp_path / "lake.png").read_bytes() == PNG_1x1
    assert "response_format" not in server.requests[-1].json


def test_imagine_with_n_gives_a_list(server: LoopbackServer) -> None:
    with Guide(base_url=server.url) as ai:
        pictures = ai.imagine("lakes", n=2)
    assert isinstance(pictures, list) and len(pictures) == 2


@pytest.mark.parametrize("mode", MODES)
def test_speak_returns_audio_bytes_with_their_type(mode: str, server: LoopbackServer) -> None:
    sound = run(mode, server.url, "speak", "Welcome back, Fira.", voice="nova", format="wav", client_model="tts-1")
    assert isinstance(sound, Sound)
    assert sound.data.startswith(b"RIFF") and sound.media_type == "audio/wav"
    assert server.requests[-1].json == {"model": "tts-1", "input": "Welcome back, Fira.", "voice": "nova", "response_format": "wav"}


@pytest.mark.parametrize("source", ["path", "bytes", "file"])
def test_listen_sends_a_path_bytes_or_a_file_as_multipart_with_a_name(source: str, server: LoopbackServer, tmp_path: Path) -> None:
    path = tmp_path / "note.wav"
    path.write_bytes(WAV)
    audio: Any = {"path": path, "bytes": WAV, "file": None}[source]
    with Guide(base_url=server.url, model="whisper-1") as ai:
        if source == "file":
            with path.open("rb") as handle:
                words = ai.listen(handle, language="en")
        else:
            words = ai.listen(audio, language="en")
    assert isinstance(words, Transcript)
    sent = server.requests[-1]
    name, data = sent.files["file"]
    assert data == WAV and name in ("note.wav", "audio.wav")
    assert sent.form["model"] == "whisper-1" and sent.form["language"] == "en"
    assert words == f"heard {len(WAV)} bytes of {name}"


def test_interpret_reads_the_translation(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="whisper-1") as ai:
        words = ai.interpret(WAV)
    assert words.startswith("in English: ")
    assert server.requests[-1].path == "/v1/audio/translations"


@pytest.mark.parametrize("mode", MODES)
def test_catalog_lists_models_with_their_owner(mode: str, server: LoopbackServer) -> None:
    models = run(mode, server.url, "catalog")
    assert [(m.id, m.owned_by) for m in models] == [("loopback-model", "tests")]


@pytest.mark.parametrize("mode", MODES)
def test_discern_gives_a_verdict_with_categories(mode: str, server: LoopbackServer) -> None:
    verdict = run(mode, server.url, "discern", "words of hate")
    assert isinstance(verdict, Verdict)
    assert verdict.flagged and verdict.flagged_categories == ["hate"]
    assert verdict.scores["hate"] == 0.9


@pytest.mark.parametrize("mode", MODES)
def test_without_a_model_the_first_listed_is_used_and_the_trace_says_so(mode: str) -> None:
    with LoopbackServer(models=["first-model", "second-model"]) as server:
        server.models = ["first-model", "second-model"]
        reply = run(mode, server.url, "think", "Hi")
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/chat/completions"]
    assert server.requests[-1].json["model"] == "first-model"
    assert any("first-model" in note and "catalog" in note for note in reply.trace.notes)


def test_the_model_argument_wins_over_the_client_default(server: LoopbackServer) -> None:
    server.models = ["default-model", "asked-model"]
    with Guide(base_url=server.url, model="default-model") as ai:
        ai.think("Hi", model="asked-model")
        ai.think("Hi")
    assert [r.json["model"] for r in server.requests] == ["asked-model", "default-model"]


def test_a_server_with_no_models_gives_a_calm_no_model_error(server: LoopbackServer) -> None:
    from guide import GuideError

    server.models = []
    with Guide(base_url=server.url) as ai, pytest.raises(GuideError) as caught:
        ai.think("Hi")
    assert type(caught.value).__name__ == "NoModel"
    assert "model" in caught.value.hint
