"""revise: POST /v1/edits, retired at OpenAI and gone from its current spec, checked against the shape the spec of its day gave.

The historical shape, written down here because the current spec no longer has it.
Source: the openai/openai-openapi repository's own generated client, at commit
4ae63eade2535459f37df7b369fb085988cf517e, files openai-java/docs/CreateEditRequest.md
and openai-java/docs/CreateEditResponse.md (the spec's CreateEditRequest and
CreateEditResponse as generated from openapi.yaml then); the same fields and words
are in the old API reference ("Create edit", POST https://api.openai.com/v1/edits,
mirrored e.g. at w3cschool.cn/openai_api/openai-api-edits.html) and in the old
openai-python `openai.Edit.create(model=..., input=..., instruction=...)`.
"""

from __future__ import annotations

from typing import Any

import pytest
from loopback import LoopbackServer

from guide import ACTIONS, Guide, NotOffered

CREATE_EDIT_REQUEST: dict[str, Any] = {
    "required": {"model", "instruction"},
    "properties": {
        "model": (str, "ID of the model to use. You can use the text-davinci-edit-001 or code-davinci-edit-001 model with this endpoint."),
        "input": (str, "The input text to use as a starting point for the edit. (optional, default '')"),
        "instruction": (str, "The instruction that tells the model how to edit the prompt."),
        "n": (int, "How many edits to generate for the input and instruction. (optional, default 1)"),
        "temperature": ((int, float), "What sampling temperature to use, between 0 and 2. (optional, default 1)"),
        "top_p": ((int, float), "An alternative to sampling with temperature, called nucleus sampling. (optional, default 1)"),
    },
}
CREATE_EDIT_RESPONSE: dict[str, Any] = {
    "required": {"object", "created", "choices", "usage"},
    "object": "edit",
    "choice": {"text", "index"},  # the spec then reused CreateCompletionResponse's choices (text, index, logprobs, finish_reason)
    "usage": {"prompt_tokens", "completion_tokens", "total_tokens"},
}


def request_problems(body: Any) -> list[str]:
    """How a body departs from the historical CreateEditRequest: [] when it keeps to it."""
    if not isinstance(body, dict):
        return ["not an object"]
    problems = [f"{name} is required" for name in sorted(CREATE_EDIT_REQUEST["required"] - set(body))]
    for name, value in body.items():
        if name not in CREATE_EDIT_REQUEST["properties"]:
            problems.append(f"the spec defined no field {name}")
        elif not isinstance(value, CREATE_EDIT_REQUEST["properties"][name][0]) or isinstance(value, bool):
            problems.append(f"{name} has the wrong type")
    return problems


def response_problems(body: Any) -> list[str]:
    """How an answer departs from the historical CreateEditResponse."""
    if not isinstance(body, dict):
        return ["not an object"]
    problems = [f"{name} is missing" for name in sorted(CREATE_EDIT_RESPONSE["required"] - set(body))]
    if body.get("object") != CREATE_EDIT_RESPONSE["object"]:
        problems.append("object is not 'edit'")
    for choice in body.get("choices") or []:
        problems += [f"choices[].{name} is missing" for name in sorted(CREATE_EDIT_RESPONSE["choice"] - set(choice))]
    problems += [f"usage.{name} is missing" for name in sorted(CREATE_EDIT_RESPONSE["usage"] - set(body.get("usage") or {}))]
    return problems


def test_the_shape_check_can_fail() -> None:
    assert request_problems({"model": "m", "prompt": "x"}) == ["instruction is required", "the spec defined no field prompt"]
    assert response_problems({"object": "text_completion", "created": 0, "choices": [{"text": ""}], "usage": {}})


def test_revise_is_on_the_map_as_retired() -> None:
    row = ACTIONS["revise"]
    assert (row.method, row.legacy_path, row.sdk_call) == ("POST", "/v1/edits", "edits.create")
    assert "retired at OpenAI" in row.meaning and "LocalAI" in row.meaning


def test_revise_sends_the_historical_request_over_a_real_socket_and_reads_its_answer(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        edit = ai.revise("What day of the wek is it?", "Fix the spelling mistakes.", temperature=0.2)
    sent = server.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/edits")
    assert sent.json == {
        "model": "loopback-model",
        "input": "What day of the wek is it?",
        "instruction": "Fix the spelling mistakes.",
        "temperature": 0.2,
    }
    assert request_problems(sent.json) == []
    assert edit.text == "What day of the week is it?" and edit.usage and edit.trace is not None
    assert response_problems(edit.trace.response_body) == []
    assert edit.trace.gentle == "ai.revise('What day of the wek is it?', 'Fix the spelling mistakes.', temperature=0.2)"


def test_the_companion_without_a_language_model_says_it_has_no_revise(companion: str) -> None:
    with Guide(base_url=companion) as ai, pytest.raises(NotOffered) as caught:
        ai.revise("What day of the wek is it?", "Fix the spelling mistakes.")
    assert caught.value.status == 404 and "revise (POST /v1/edits)" in caught.value.detail


def test_the_companion_with_a_language_model_revises_in_the_historical_shape() -> None:
    from guide.companion.engines import bundled_gguf
    from guide.companion.running import start

    if bundled_gguf() is None:
        pytest.skip("needs SmolLM2 (the local extra)")
    running = start()
    try:
        with Guide(base_url=running.url) as ai:
            edit = ai.revise("the lake are calm", "Fix the grammar.", temperature=0)
    finally:
        running.stop()
    assert edit.trace is not None and edit.trace.status == 200
    assert request_problems(edit.trace.request_body) == [] and response_problems(edit.trace.response_body) == []
    assert edit.text.strip()  # what a 135M model makes of the wish is its own affair


def test_the_probe_tells_whether_a_server_has_revise() -> None:
    with LoopbackServer(offers={"/models", "/chat/completions"}) as without, Guide(base_url=without.url) as ai:
        assert ai.probe()["revise"].support == "no"
    with LoopbackServer() as offering, Guide(base_url=offering.url) as ai:
        assert ai.probe()["revise"].support == "yes"  # it refused the probe's instruction of the wrong type
