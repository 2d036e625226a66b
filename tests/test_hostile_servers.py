"""Every byte a server sends is untrusted: malformed shapes, echoed keys, redirects, floods.

Each test goes through guide's real client over a real socket to a loopback
server that misbehaves on cue; what the client hands back is either a result
of the right shape or one of guide's own errors, never a crash, and never a
secret.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from fuzzing import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse

from guide import ACTIONS, Guide, GuideError, Redirected, ReplyNotUnderstood, ReplyTooLarge, UnusableAddress
from guide.client._results import Answer as ReplyAnswer
from guide.client._stream import StreamReader
from guide.client._trace import Trace

KEY = "sk-proj-ECHOED-secret-key-7a2b1c9d"


def chunk(**fields: Any) -> dict[str, Any]:
    """A chat chunk with fields replaced as a hostile server would."""
    base = chat_chunk("Hello")
    base.update(fields)
    return base


MALFORMED_STREAMS = {
    "usage is a string": [chat_chunk("Hi"), chat_chunk(finish="stop"), chunk(choices=[], usage="lots")],
    "usage is a list": [chat_chunk("Hi"), chat_chunk(finish="stop"), chunk(choices=[], usage=[1, 2])],
    "content is a number": [chunk(choices=[{"index": 0, "delta": {"content": 5}, "finish_reason": None}])],
    "content is an object": [chunk(choices=[{"index": 0, "delta": {"content": {"text": "x"}}, "finish_reason": None}])],
    "delta is a list": [chunk(choices=[{"index": 0, "delta": ["x"], "finish_reason": None}])],
    "choices is an object": [chunk(choices={"0": {"delta": {"content": "x"}}})],
    "a choice is a string": [chunk(choices=["x"])],
    "finish_reason is an object": [chat_chunk("Hi"), chunk(choices=[{"index": 0, "delta": {}, "finish_reason": {"why": 1}}])],
    "model is a number": [chunk(model=7), chat_chunk(finish="stop")],
    "reasoning is a number": [chunk(choices=[{"index": 0, "delta": {"reasoning_content": 3}, "finish_reason": None}]), chat_chunk(finish="stop")],
    "a frame is a list": [[1, 2, 3]],
    "a frame is a string": ['"just words"'],
    "error is a string in a list": [["error"]],
}


@pytest.mark.parametrize("frames", MALFORMED_STREAMS.values(), ids=MALFORMED_STREAMS.keys())
def test_a_malformed_stream_is_a_guide_error_or_a_clean_reply(frames: list[Any], server: LoopbackServer) -> None:
    server.push(Stream(sse(*frames)))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        try:
            reply = ai.think("Hi", stream=True)
            text = reply.text
        except GuideError as error:
            assert isinstance(error, ReplyNotUnderstood | GuideError) and error.title
            assert isinstance(error.partial, str)
            return
    assert isinstance(text, str)
    assert reply.usage is None or isinstance(reply.usage, dict)
    assert reply.model is None or isinstance(reply.model, str)
    assert reply.finish_reason is None or isinstance(reply.finish_reason, str)
    assert isinstance(reply.reasoning, str)
    assert reply.trace is not None
    reply.trace.summary()  # the panel's row is drawn from these


MALFORMED_BODIES = {
    "usage is a string": {"choices": [{"message": {"content": "Hi"}, "finish_reason": "stop"}], "usage": "lots", "model": 5},
    "content is a number": {"choices": [{"message": {"content": 5}}]},
    "message is a list": {"choices": [{"message": ["Hi"]}]},
    "reasoning is an object": {"choices": [{"message": {"content": "Hi", "reasoning_content": {"a": 1}}, "finish_reason": []}]},
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_a_malformed_whole_reply_is_a_guide_error_or_a_clean_reply(body: dict[str, Any], server: LoopbackServer) -> None:
    server.push(Answer(body=body))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        try:
            reply = ai.think("Hi")
        except GuideError as error:
            assert isinstance(error, ReplyNotUnderstood)
            return
    assert isinstance(reply.text, str) and (reply.usage is None or isinstance(reply.usage, dict))
    assert reply.model is None or isinstance(reply.model, str)
    assert reply.finish_reason is None or isinstance(reply.finish_reason, str)
    assert isinstance(reply.reasoning, str)


MALFORMED_EMBEDDINGS = {
    "bad base64": "!!!not base64!!!",
    "base64 of an odd length": base64.b64encode(b"\x00\x01\x02").decode(),
    "an object": {"0": 1.0},
    "a number": 3,
    "ragged token vectors": [[1.0, 2.0], [3.0]],
    "token vectors of words": [["a", "b"], ["c", "d"]],
    "words": ["a", "b"],
    "booleans": [True, False],
}


@pytest.mark.parametrize("embedding", MALFORMED_EMBEDDINGS.values(), ids=MALFORMED_EMBEDDINGS.keys())
def test_a_malformed_embedding_is_not_understood(embedding: Any, server: LoopbackServer) -> None:
    server.push(Answer(body={"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": embedding}]}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyNotUnderstood) as caught:
        ai.understand("a quiet lake")
    assert "embedding" in caught.value.detail


@pytest.mark.parametrize("index", ["0", None, {"i": 0}, [0]], ids=["text", "null", "object", "list"])
def test_embeddings_with_indexes_that_are_not_numbers_are_not_understood(index: Any, server: LoopbackServer) -> None:
    rows = [{"embedding": [1.0], "index": index}, {"embedding": [2.0], "index": 1}]
    server.push(Answer(body={"data": rows}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyNotUnderstood):
        ai.understand(["a", "b"])


# Thousands of shapes a hostile stream may take: the reader raises only guide's own errors.

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
DELTAS = st.fixed_dictionaries(
    {},
    optional={"content": ANY_JSON, "reasoning_content": ANY_JSON, "reasoning": ANY_JSON, "role": ANY_JSON},
)
CHOICES = st.fixed_dictionaries({}, optional={"delta": DELTAS | ANY_JSON, "text": ANY_JSON, "finish_reason": ANY_JSON, "index": ANY_JSON})
CHUNKS = st.fixed_dictionaries(
    {},
    optional={"choices": st.lists(CHOICES | ANY_JSON, max_size=2) | ANY_JSON, "usage": ANY_JSON, "model": ANY_JSON, "error": ANY_JSON},
)
FRAMES = st.lists(CHUNKS | ANY_JSON, max_size=6)


@settings(max_examples=examples(1000, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=FRAMES, kind=st.sampled_from(["chat", "completion"]), done=st.booleans())
def test_any_frames_give_a_reply_of_the_right_shape_or_a_guide_error(frames: list[Any], kind: Any, done: bool) -> None:
    trace = Trace(action="think", method="POST", url="http://127.0.0.1/v1/chat/completions", stream=True)
    answer = ReplyAnswer()
    reader = StreamReader(kind, answer, trace, 0.0, secrets=(KEY,))
    text = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + ("data: [DONE]\n\n" if done else "")
    try:
        pieces = reader.feed(text) + reader.finish()
    except GuideError as error:
        assert isinstance(error.partial, str)
        return
    assert all(isinstance(piece, str) for piece in pieces)
    assert all(isinstance(piece, str) for piece in answer.pieces + answer.reasoning)
    assert answer.usage is None or isinstance(answer.usage, dict)
    assert answer.model is None or isinstance(answer.model, str)
    assert answer.finish_reason is None or isinstance(answer.finish_reason, str)
    trace.usage = answer.usage
    trace.summary()


# The key, echoed back by a server, is kept out of everything the client keeps.


def echoing_stream(key: str, *, cut: bool = False) -> Stream:
    """A stream that echoes the key a few characters at a time (as a model repeating its prompt would)."""
    pieces = ["Your key is "] + [key[i : i + 5] for i in range(0, len(key), 5)] + [" and that is all."]
    frames = [chat_chunk(piece) for piece in pieces]
    if cut:
        return Stream(sse(*frames, done=False), cut=True)
    return Stream(sse(*frames, chat_chunk(finish="stop"), {**chat_chunk(), "choices": [], "model": key, "usage": {"total_tokens": 3}}))


def test_a_key_echoed_a_few_characters_at_a_time_is_kept_out_of_the_reply_and_its_trace(server: LoopbackServer) -> None:
    server.push(echoing_stream(KEY))
    with Guide(base_url=server.url, model="loopback-model", api_key=KEY) as ai:
        reply = ai.think("Hi", stream=True)
        pieces = list(reply)
    assert KEY not in "".join(pieces) and KEY not in reply.text
    assert reply.text.startswith("Your key is ••••") and reply.text.endswith(" and that is all.")
    assert reply.model is not None and KEY not in reply.model
    assert reply.trace is not None
    kept = json.dumps(reply.trace.to_dict())
    assert KEY not in kept
    assert KEY not in "".join(json.loads(data)["choices"][0]["delta"].get("content", "") for _, data in reply.trace.frames[:-2])


def test_a_key_echoed_in_a_stream_that_breaks_is_kept_out_of_what_arrived(server: LoopbackServer) -> None:
    server.push(echoing_stream(KEY, cut=True), echoing_stream(KEY, cut=True), echoing_stream(KEY, cut=True))
    with Guide(base_url=server.url, model="loopback-model", api_key=KEY) as ai, pytest.raises(GuideError) as caught:
        ai.think("Hi", stream=True).text  # noqa: B018
    error = caught.value
    assert error.partial.startswith("Your key is ••••") and KEY not in error.partial
    assert KEY not in json.dumps(error.trace.to_dict())


def test_a_key_echoed_whole_in_a_json_reply_is_scrubbed(server: LoopbackServer) -> None:
    body = {"choices": [{"message": {"content": f"I saw {KEY}."}, "finish_reason": "stop"}], "model": f"m-{KEY}"}
    server.push(Answer(body=body))
    with Guide(base_url=server.url, model="loopback-model", api_key=KEY) as ai:
        reply = ai.think("Hi")
    assert KEY not in reply.text and KEY not in (reply.model or "")
    assert KEY not in json.dumps(reply.trace.to_dict() if reply.trace else {})


# Credentials in the base address are used, never shown.


def test_credentials_in_the_address_are_sent_and_never_shown(server: LoopbackServer) -> None:
    base = server.url.replace("http://", "http://fira:hunter2pass@") + "?api-key=query-secret-42"
    with Guide(base_url=base, model="loopback-model") as ai:
        reply = ai.think("Hi")
        shown = [repr(ai), ai.base_url, ai.address]
    request = server.requests[-1]
    assert request.path == "/v1/chat/completions?api-key=query-secret-42"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"fira:hunter2pass").decode()
    trace = reply.trace
    assert trace is not None and trace.path == "/v1/chat/completions"
    shown += [trace.url, trace.as_curl(), trace.as_python(), trace.as_node(), json.dumps(trace.to_dict())]
    for text in shown:
        assert "hunter2pass" not in text and "query-secret-42" not in text and "fira" not in text, text
    assert "api-key=••••" in trace.url


def test_credentials_in_an_address_that_cannot_be_reached_stay_out_of_the_error() -> None:
    with Guide(base_url="http://fira:hunter2pass@127.0.0.1:9?api-key=query-secret-42", model="m", max_retries=0) as ai:
        with pytest.raises(GuideError) as caught:
            ai.think("Hi")
    error = caught.value
    told = " ".join([error.title, error.detail, error.hint, error.url, json.dumps(error.trace.to_dict())])
    assert "hunter2pass" not in told and "query-secret-42" not in told


def test_a_query_string_on_the_address_follows_the_path(server: LoopbackServer) -> None:
    with Guide(base_url=server.url + "/v1?api-version=2024-02-01", model="loopback-model") as ai:
        vector = ai.understand("a lake")
    assert server.requests[-1].path == "/v1/embeddings?api-version=2024-02-01"
    assert vector.trace is not None and vector.trace.url.endswith("/v1/embeddings?api-version=2024-02-01")


@pytest.mark.parametrize(
    "address",
    ["file:///etc/passwd", "ftp://example.com", "javascript:alert(1)", "http://[::1", "http://host:port", "http:// spaced", "gopher://x", ""],
)
def test_an_address_that_is_not_http_is_refused_before_any_request(address: str) -> None:
    with pytest.raises(UnusableAddress) as caught:
        Guide(base_url=address or " ")
    assert caught.value.detail.startswith("The address was refused")


# Redirects are reported, not followed; replies are read up to a limit.


def test_a_redirect_says_where_and_is_not_followed(server: LoopbackServer) -> None:
    server.push(Answer(307, b"", headers={"location": "https://elsewhere.example/v1/chat/completions"}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(Redirected) as caught:
        ai.think("Hi")
    assert "307" in caught.value.detail and "https://elsewhere.example/v1/chat/completions" in caught.value.detail
    assert len(server.requests) == 1


def test_a_redirected_stream_says_where(server: LoopbackServer) -> None:
    server.push(Answer(301, b"moved", headers={"location": "/v2/chat"}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(Redirected):
        ai.think("Hi", stream=True).text  # noqa: B018


def test_a_reply_declared_larger_than_the_limit_is_not_read(server: LoopbackServer) -> None:
    server.push(Stream([b"{" + b" " * (1024 * 1024)] * 70, status=200))
    with Guide(base_url=server.url, model="loopback-model", max_retries=0) as ai, pytest.raises(ReplyTooLarge):
        ai.understand("a lake")


def test_a_gzip_bomb_is_not_inflated_past_the_limit(server: LoopbackServer) -> None:
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    server.push(Answer(body=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyTooLarge):
        ai.understand("a lake")


def test_a_stream_that_never_ends_is_cut_at_the_limit(server: LoopbackServer) -> None:
    frame = f"data: {json.dumps(chat_chunk('x' * 60_000))}\n\n".encode()
    server.push(Stream([frame] * 1200))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyTooLarge) as caught:
        ai.think("Hi", stream=True).text  # noqa: B018
    assert len(caught.value.partial) > 1_000_000


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "data:image/png;base64,AAAA", "//no-scheme/x.png"])
def test_a_picture_address_that_is_not_http_is_not_fetched(url: str, server: LoopbackServer) -> None:
    server.push(Answer(body={"created": 0, "data": [{"url": url}]}))
    with Guide(base_url=server.url) as ai, pytest.raises(ReplyNotUnderstood) as caught:
        ai.imagine("a lake")
    assert "http and https only" in caught.value.detail


def test_snippets_for_an_address_with_a_query_keep_it_apart_from_the_base(server: LoopbackServer) -> None:
    with Guide(base_url=server.url + "?api-version=2024-02-01&api-key=query-secret-42", model="loopback-model") as ai:
        trace = ai.think("Hi").trace
    assert trace is not None
    python, node = trace.as_python(), trace.as_node()
    assert f"base_url='{server.url}/v1'" in python and "default_query={'api-version': '2024-02-01', 'api-key': '••••'}" in python
    assert f'baseURL: "{server.url}/v1"' in node and '"api-key": "••••"' in node
    assert "query-secret-42" not in python + node + trace.as_curl()


def test_a_probe_that_is_redirected_leaves_the_question_open(server: LoopbackServer) -> None:
    from guide.client import probe

    server.push(*[Answer(302, b"", headers={"location": "https://elsewhere.example/"})] * len(ACTIONS))
    found = probe(server.url)
    assert {finding.support for finding in found.values()} == {"unknown"}
    assert all("redirected" in finding.reason for finding in found.values())


DEEP = b'{"choices":' + b"[" * 200_000 + b"]" * 200_000 + b"}"


def test_a_reply_nested_too_deeply_is_not_understood(server: LoopbackServer) -> None:
    server.push(Answer(body=DEEP, headers={"content-type": "application/json"}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyNotUnderstood):
        ai.think("Hi")


def test_a_frame_nested_too_deeply_is_not_understood(server: LoopbackServer) -> None:
    server.push(Stream([b"data: " + DEEP + b"\n\n"]))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(ReplyNotUnderstood):
        ai.think("Hi", stream=True).text  # noqa: B018


def test_an_error_nested_too_deeply_is_still_the_servers_error(server: LoopbackServer) -> None:
    server.push(Answer(400, DEEP, headers={"content-type": "application/json"}))
    with Guide(base_url=server.url, model="loopback-model") as ai, pytest.raises(GuideError) as caught:
        ai.think("Hi")
    assert caught.value.status == 400


def test_a_probe_answered_with_deep_json_leaves_the_question_open_or_answers(server: LoopbackServer) -> None:
    from guide.client import probe

    server.push(*[Answer(400, DEEP, headers={"content-type": "application/json"})] * len(ACTIONS))
    assert len(probe(server.url)) == len(ACTIONS)


@pytest.mark.parametrize("listed", [[1, 2, 3], {"data": ["a", "b"]}, {"data": [{"name": "no id"}]}], ids=["numbers", "words", "no-ids"])
def test_a_catalog_of_things_that_are_not_models_is_not_understood(listed: Any, server: LoopbackServer) -> None:
    server.push(Answer(body=listed))
    with Guide(base_url=server.url) as ai, pytest.raises(ReplyNotUnderstood):
        ai.catalog()
