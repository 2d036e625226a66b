"""Every failure becomes a calm GuideError with the raw legacy error attached."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Reset, Stall, Stream, chat_chunk, sse

from guide import (
    AsyncGuide,
    CannotConnect,
    Guide,
    GuideError,
    KeyRefused,
    ModelNotFound,
    NotOffered,
    RateLimited,
    ReplyNotUnderstood,
    RequestRefused,
    ServerFailed,
    StreamBrokeOff,
    TimedOut,
)
from guide.client._retry import retry_delay, should_retry

FAST = {"retry-after-ms": "5"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fail(server_or_url: LoopbackServer | str, call: str = "think", **client: Any) -> GuideError:
    base = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    with Guide(base_url=base, model="loopback-model", **client) as ai, pytest.raises(GuideError) as caught:
        if call == "think":
            ai.think("Hi")
        elif call == "stream":
            ai.think("Hi", stream=True).text  # noqa: B018
        else:
            getattr(ai, call)("a lake")
    error = caught.value
    assert error.title and error.hint
    assert error.trace is not None and error.trace.state == "failed" and error.trace.error is not None
    return error


def test_cannot_connect_names_the_address_and_the_usual_local_servers() -> None:
    port = free_port()
    error = fail(f"http://127.0.0.1:{port}", max_retries=0)
    assert isinstance(error, CannotConnect)
    assert f"127.0.0.1:{port}" in error.title
    assert "Ollama 11434" in error.hint and "LM Studio 1234" in error.hint


def test_dropped_connections_are_retried_twice_then_told_apart_from_no_server(server: LoopbackServer) -> None:
    server.push(Reset(), Reset(), Reset())
    error = fail(server)
    assert isinstance(error, StreamBrokeOff) and not isinstance(error, CannotConnect)
    assert error.title == "The server closed the connection without answering."
    assert len(server.requests) == 3
    assert error.trace is not None and error.trace.retries == 2


def test_a_server_that_never_answers_times_out(server: LoopbackServer) -> None:
    server.push(Stall(3))
    error = fail(server, timeout=0.3, max_retries=0)
    assert isinstance(error, TimedOut)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_key_refused_and_the_key_never_shows(status: int, server: LoopbackServer) -> None:
    key = "sk-test-RECOGNISABLE-0123456789abcdef"
    server.push(
        Answer(
            status,
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
    )
    error = fail(server, api_key=key)
    assert isinstance(error, KeyRefused) and error.status == status
    assert key not in error.explain() and key not in repr(error.body) and key not in repr(error.trace.to_dict())  # type: ignore[union-attr]
    assert "cdef" in error.trace.request_headers["Authorization"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(404, {"error": {"message": "Unknown route", "type": "invalid_request_error", "param": None, "code": "unknown_url"}}),
        Answer(404, "404 page not found"),
        Answer(404, "<html><body><h1>Not Found</h1></body></html>", {"content-type": "text/html"}),
        Answer(200, {"error": "Unexpected endpoint or method. (POST /v1/images/generations)"}),
        Answer(405, {"detail": "Method Not Allowed"}),
    ],
    ids=["json-404", "text-404", "html-404", "lm-studio-200", "405"],
)
def test_an_endpoint_the_server_lacks_is_not_offered(answer: Answer, server: LoopbackServer) -> None:
    server.push(answer)
    error = fail(server, call="imagine")
    assert isinstance(error, NotOffered)
    assert error.body is not None
    assert error.detail


def test_an_html_404_is_described_without_its_markup(server: LoopbackServer) -> None:
    server.push(Answer(404, "<html><body><h1>Not Found</h1></body></html>", {"content-type": "text/html"}))
    error = fail(server)
    assert error.detail == "(an HTML page) Not Found"


def test_an_unknown_model_is_model_not_found(server: LoopbackServer) -> None:
    with Guide(base_url=server.url) as ai, pytest.raises(ModelNotFound) as caught:
        ai.think("Hi", model="no-such-model")
    assert "no-such-model" in caught.value.detail


def test_a_bad_request_is_refused_with_the_servers_words_and_not_retried(server: LoopbackServer) -> None:
    server.push(Answer(400, {"error": {"message": "max_tokens is too large", "type": "invalid_request_error", "param": "max_tokens", "code": None}}))
    error = fail(server)
    assert isinstance(error, RequestRefused)
    assert error.detail == "max_tokens is too large"
    assert len(server.requests) == 1


def test_a_fastapi_style_detail_is_read(server: LoopbackServer) -> None:
    server.push(Answer(422, {"detail": [{"loc": ["body", "messages"], "msg": "field required", "type": "missing"}]}))
    assert fail(server).detail == "field required"


def test_500_then_200_is_retried_and_succeeds(server: LoopbackServer) -> None:
    server.push(Answer(500, {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}, FAST))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        reply = ai.think("Hi")
    assert reply.text == "You said: Hi"
    assert reply.trace is not None and reply.trace.retries == 1
    assert len(server.requests) == 2


def test_500_three_times_is_server_failed(server: LoopbackServer) -> None:
    server.push(*[Answer(500, "Internal Server Error", FAST)] * 3)
    error = fail(server)
    assert isinstance(error, ServerFailed) and error.status == 500
    assert len(server.requests) == 3


def test_the_server_may_forbid_a_retry(server: LoopbackServer) -> None:
    server.push(Answer(503, "busy", {"x-should-retry": "false"}))
    assert isinstance(fail(server), ServerFailed)
    assert len(server.requests) == 1


def test_429_honours_retry_after_then_succeeds(server: LoopbackServer) -> None:
    server.push(Answer(429, {"error": {"message": "slow down", "type": "rate_limit", "param": None, "code": None}}, {"retry-after": "0.05"}))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert ai.think("Hi").text == "You said: Hi"


def test_429_every_time_is_rate_limited(server: LoopbackServer) -> None:
    server.push(*[Answer(429, {"error": {"message": "slow down", "type": "rate_limit", "param": None, "code": None}}, FAST)] * 3)
    error = fail(server)
    assert isinstance(error, RateLimited) and error.trace is not None and error.trace.retries == 2


@pytest.mark.parametrize(
    "answer",
    [Answer(200, "this is not json"), Answer(200, {"choices": "wrong"}), Answer(200, {"object": "list"})],
    ids=["garbage", "wrong-choices", "no-choices"],
)
def test_a_reply_that_is_not_the_spec_shape_is_not_understood(answer: Answer, server: LoopbackServer) -> None:
    server.push(answer)
    assert isinstance(fail(server), ReplyNotUnderstood)


def test_a_stream_cut_before_done_keeps_the_pieces_on_the_error(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Half "), chat_chunk("a reply"), done=False), cut=True))
    error = fail(server, call="stream")
    assert isinstance(error, StreamBrokeOff)
    assert error.partial == "Half a reply"


def test_an_error_object_inside_a_stream_raises_with_the_partial_reply(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Some "), {"error": {"message": "model crashed", "type": "server_error"}}, done=False)))
    error = fail(server, call="stream")
    assert isinstance(error, ServerFailed)
    assert error.partial == "Some " and error.detail == "model crashed"


def test_a_garbage_frame_inside_a_stream_is_not_understood(server: LoopbackServer) -> None:
    server.push(Stream([b"data: {not json\n\n"]))
    assert isinstance(fail(server, call="stream"), ReplyNotUnderstood)


def test_a_stream_that_ends_cleanly_after_finishing_without_done_is_accepted(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("All "), chat_chunk("here."), chat_chunk(finish="stop"), done=False)))
    with Guide(base_url=server.url, model="m") as ai:
        reply = ai.think("Hi", stream=True)
        assert reply.text == "All here."
    assert reply.trace is not None and any("[DONE]" in note for note in reply.trace.notes)


def test_async_errors_are_the_same_errors(server: LoopbackServer) -> None:
    server.push(Answer(401, {"error": {"message": "no", "type": "x", "param": None, "code": None}}))

    async def go() -> None:
        async with AsyncGuide(base_url=server.url, model="m") as ai:
            await ai.think("Hi")

    with pytest.raises(KeyRefused):
        asyncio.run(go())


def test_async_stream_cut_keeps_the_partial(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Half"), done=False), cut=True))

    async def go() -> None:
        async with AsyncGuide(base_url=server.url, model="m") as ai:
            async for _ in ai.think("Hi", stream=True):
                pass

    with pytest.raises(StreamBrokeOff) as caught:
        asyncio.run(go())
    assert caught.value.partial == "Half"


def test_retry_policy_is_the_sdks() -> None:
    assert all(should_retry(status, {}) for status in (408, 409, 429, 500, 502, 503))
    assert not any(should_retry(status, {}) for status in (400, 401, 403, 404, 422))
    assert should_retry(400, {"x-should-retry": "true"})
    assert retry_delay(0, {"retry-after-ms": "250"}) == 0.25
    assert retry_delay(0, {"retry-after": "3"}) == 3.0
    assert 0.375 <= retry_delay(0, {"retry-after": "600"}) <= 0.5  # over 60 s: backoff instead
    assert 0.75 <= retry_delay(1) <= 1.0
    assert 6.0 <= retry_delay(10) <= 8.0
    soon = email.utils.formatdate(time.time() + 3, usegmt=True)
    assert 1.0 < retry_delay(0, {"retry-after": soon}) <= 3.0
