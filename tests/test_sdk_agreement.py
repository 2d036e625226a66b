"""guide and the official openai SDK send the same request for the same call.

Each gentle action is made with guide; then the SDK is called with exactly the
arguments of the trace's Python snippet (the trace's request body). A loopback
server records both requests, and their bodies must agree on every field the
spec defines. So a user who copies the snippet gets the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Recorded
from spec_check import _schema

from guide import ACTIONS, Guide, Trace

openai = pytest.importorskip("openai")
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


def sent_fields(spec: dict[str, Any], action: str, request: Recorded) -> dict[str, Any]:
    """What the request carried, limited to the fields the spec defines (for revise, the fields the spec of its day defined)."""
    row = ACTIONS[action]
    if row.path not in spec["paths"]:
        from test_revise_shape import CREATE_EDIT_REQUEST

        return {k: v for k, v in dict(request.json or {}).items() if k in CREATE_EDIT_REQUEST["properties"]}
    operation = spec["paths"][row.path][row.method.lower()]
    if "requestBody" not in operation:
        return {}
    content = operation["requestBody"]["content"]
    properties, _ = _schema(spec, content[request.content_type]["schema"])
    if request.content_type == "multipart/form-data":
        body: dict[str, Any] = {**request.form, **{k: (name, data) for k, (name, data) in request.files.items()}}
    else:
        body = dict(request.json or {})
    return {k: v for k, v in body.items() if k in properties}


def call_with_sdk(client: Any, trace: Trace, tmp_path: Path) -> None:
    """The SDK call the trace's Python snippet writes, with the same arguments."""
    kwargs = {k: v for k, v in (trace.request_body or {}).items() if k not in trace.request_files}
    for field, filename in trace.request_files.items():
        kwargs[field] = (tmp_path / filename).open("rb")
    if trace.action == "revise":  # current SDKs dropped edits.create: the snippet makes the HTTP call through the SDK's post
        client.post(trace.mapping.path, body=kwargs, cast_to=object)
        return
    target = client
    for part in trace.mapping.sdk_call.split("."):
        target = getattr(target, part)
    result = target(**kwargs)
    if trace.stream:
        list(result)


def guide_calls(ai: Guide, audio: Path) -> dict[str, Any]:
    return {
        "think": lambda: ai.think([{"role": "user", "content": "Hello"}], system="Be calm.", temperature=0.3, max_tokens=40),
        "think-stream": lambda: ai.think("Stream, please", stream=True, top_p=0.9).text and None,
        "continue": lambda: ai.continue_("Once upon a time", max_tokens=12),
        "understand": lambda: ai.understand(["a quiet lake", "a calm sea"]),
        "imagine": lambda: ai.imagine("a quiet lake", model="dall-e-2", size="256x256"),
        "listen": lambda: ai.listen(audio, language="en"),
        "speak": lambda: ai.speak("Welcome back, Fira.", voice="nova", format="wav"),
        "catalog": lambda: ai.catalog(),
        "interpret": lambda: ai.interpret(audio),
        "discern": lambda: ai.discern("some words"),
        "revise": lambda: ai.revise("What day of the wek is it?", "Fix the spelling.", temperature=0.2),
        "respond": lambda: ai.respond([{"role": "user", "content": "Hello"}], instructions="Be calm.", temperature=0.3, max_output_tokens=40),
        "respond-stream": lambda: ai.respond("Stream, please", stream=True, top_p=0.9).text and None,
    }


CASES = [
    "think",
    "think-stream",
    "continue",
    "understand",
    "imagine",
    "listen",
    "speak",
    "catalog",
    "interpret",
    "discern",
    "revise",
    "respond",
    "respond-stream",
]


@pytest.mark.parametrize("case", CASES)
def test_guide_and_the_sdk_send_the_same_request(case: str, server: LoopbackServer, spec: dict[str, Any], tmp_path: Path) -> None:
    audio = tmp_path / "note.wav"
    audio.write_bytes(WAV)
    traces: list[Trace] = []
    with Guide(base_url=server.url, model="loopback-model", on_trace=traces.append) as ai:
        guide_calls(ai, audio)[case]()
    trace = traces[-1]
    action = trace.action
    ours = server.requests[-1]
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0, timeout=60)
    call_with_sdk(sdk, trace, tmp_path)
    theirs = server.requests[-1]
    assert theirs is not ours
    assert (theirs.method, theirs.path, theirs.content_type) == (ours.method, ours.path, ours.content_type)
    assert sent_fields(spec, action, theirs) == sent_fields(spec, action, ours)


def now_in(zone: str) -> str:
    """The time now in a time zone."""
    return "12:00"


NOW_IN = {
    "type": "function",
    "function": {
        "name": "now_in",
        "description": "The time now in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
"""now_in as the OpenAI docs would have you write it by hand."""


def test_a_picture_goes_as_the_sdk_sends_it(server: LoopbackServer, spec: dict[str, Any], tmp_path: Path) -> None:
    import base64

    from loopback import PNG_1x1

    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)
    with Guide(base_url=server.url, model="loopback-model") as ai:
        ai.think("What is this?", images=[lake])
    ours = server.requests[-1]
    url = "data:image/png;base64," + base64.b64encode(lake.read_bytes()).decode()
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0, timeout=60)
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    sdk.chat.completions.create(model="loopback-model", messages=[{"role": "user", "content": content}])
    assert sent_fields(spec, "think", server.requests[-1]) == sent_fields(spec, "think", ours)


def test_a_tool_round_goes_as_the_sdk_sends_it(server: LoopbackServer, spec: dict[str, Any]) -> None:
    from loopback import chat_answer

    call = {"id": "call_1", "type": "function", "function": {"name": "now_in", "arguments": '{"zone": "UTC"}'}}
    server.push(chat_answer(None, tool_calls=[call]), chat_answer("Noon."))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        ai.think("What time is it?", tools=[now_in], run_tools=True)
    first, second = server.requests[-2:]
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0, timeout=60)
    asked = [{"role": "user", "content": "What time is it?"}]
    server.push(chat_answer(None, tool_calls=[call]), chat_answer("Noon."))
    answer = sdk.chat.completions.create(model="loopback-model", messages=asked, tools=[NOW_IN])
    message = answer.choices[0].message
    said = {"role": "assistant", "content": message.content, "tool_calls": [c.model_dump() for c in message.tool_calls or []]}
    follow = [*asked, said, {"role": "tool", "tool_call_id": call["id"], "content": now_in("UTC")}]
    sdk.chat.completions.create(model="loopback-model", messages=follow, tools=[NOW_IN])
    theirs_first, theirs_second = server.requests[-2:]
    assert sent_fields(spec, "think", theirs_first) == sent_fields(spec, "think", first)
    assert sent_fields(spec, "think", theirs_second) == sent_fields(spec, "think", second)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_responses_create_against_guide_serve_agrees_with_respond(stream: bool, companion: str, spec: dict[str, Any]) -> None:
    """The official SDK's responses.create, with the arguments of guide's snippet, against the companion `guide serve` runs."""
    import json

    import httpx

    with Guide(base_url=companion) as ai:
        reply = ai.respond([{"role": "user", "content": "I am tired"}], instructions="Be calm.", stream=stream, temperature=0.5)
        text = reply.text
    trace = reply.trace
    assert trace is not None and trace.status == 200
    sent: list[httpx.Request] = []
    client = openai.OpenAI(
        base_url=companion + "/v1", api_key="none", max_retries=0, timeout=60, http_client=httpx.Client(event_hooks={"request": [sent.append]})
    )
    result = client.responses.create(**trace.request_body)
    if stream:
        events = list(result)
        theirs_text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
        assert [event.type for event in events] == [kind for _, kind, _ in trace.events()]  # the same typed events, in the same order
    else:
        theirs_text = result.output_text
    assert theirs_text == text  # the reflective listener answers the same words the same way
    [request] = sent
    assert (request.method, request.url.path) == ("POST", "/v1/responses")
    properties, _ = _schema(spec, spec["paths"]["/responses"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    theirs = {k: v for k, v in json.loads(request.content).items() if k in properties}
    assert theirs == {k: v for k, v in trace.request_body.items() if k in properties}
