"""`guide serve --relay URL`: a program's calls pass through unchanged, are filed with their gentle name and caller, and go nowhere else.

Each test runs the real command against a loopback upstream (tests/loopback.py)
and calls it as a program would: the official openai SDK, httpx, or raw bytes
on a socket for what no client would send.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import free_port
from loopback import Answer, LoopbackServer, Stream, accepting, chat_answer, chat_chunk, sse, typed_events

KEY = "sk-relay-test-0123456789abcdef"
UPSTREAM_KEY = "sk-upstream-test-fedcba9876543210"
OFF_MAP = "not one of guide's gentle actions"


@contextlib.contextmanager
def relaying(upstream: str, *flags: str, log: Path | None = None) -> Iterator[str]:
    """`guide serve --relay UPSTREAM` on a free port until the block ends; its address."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port), *flags], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, "the relay ended as it started"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the relay did not start listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
            raise AssertionError("the relay did not exit within 15 s of SIGTERM") from None
        finally:
            if log:
                out.close()  # type: ignore[union-attr]


def filed(count: int, seconds: float = 20) -> list[dict[str, Any]]:
    """The calls the relay filed in the store, oldest first, once there are `count` of them and each has ended (it files them as they start too)."""
    path = Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3"
    deadline = time.monotonic() + seconds
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            with contextlib.closing(sqlite3.connect(path, timeout=1)) as db:
                rows = [json.loads(data) for (data,) in db.execute("SELECT data FROM traces ORDER BY started_at")]
            if len(rows) >= count and all(row["state"] != "running" for row in rows):
                return rows
        time.sleep(0.1)
    raise AssertionError(f"{len(rows)} calls filed, not {count}")


def raw(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client would send these) and read the answer's head and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError):
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                piece = connection.recv(65536)
                if not piece:
                    break
                answer += piece
    return answer


# Not an open proxy.


@pytest.mark.parametrize(
    "target",
    [
        "/v1/../elsewhere",
        "/v1/%2e%2e/elsewhere",
        "/v1/%2E%2e/%2e%2e/v1/models",
        "/v1/%252e%252e/elsewhere",
        "/v1/.%2e/elsewhere",
        "/v1/..%2felsewhere",
        "/v1/..%5celsewhere",
        "/v1/models/..",
    ],
)
def test_a_path_that_walks_out_of_the_base_never_leaves_it(target: str) -> None:
    with LoopbackServer() as upstream, relaying(upstream.url + "/v1") as relay:
        port = relay.rsplit(":", 1)[1]
        answer = raw(relay, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
        assert upstream.requests == []


def test_an_absolute_url_a_host_or_x_forwarded_host_never_reach_another_host() -> None:
    with LoopbackServer() as upstream, LoopbackServer() as elsewhere, relaying(upstream.url) as relay:
        port, other = relay.rsplit(":", 1)[1], elsewhere.url.rsplit(":", 1)[1]
        absolute = raw(relay, f"GET {elsewhere.url}/v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        assert absolute.startswith(b"HTTP/1.1 404"), absolute[:200]
        # A loopback Host with the other server's port is still this relay's name: the call goes to the one upstream.
        hosted = httpx.get(f"{relay}/v1/models", headers={"Host": f"127.0.0.1:{other}", "X-Forwarded-Host": f"127.0.0.1:{other}"})
        assert hosted.status_code == 200
        forwarded = httpx.get(f"{relay}/v1/models", headers={"X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"})
        assert forwarded.status_code == 200
        foreign = httpx.get(f"{relay}/v1/models", headers={"Host": "evil.example"})
        assert foreign.status_code == 421
        assert httpx.get(f"{relay}/v1/models", headers={"Origin": "https://evil.example"}).status_code == 403
        assert elsewhere.requests == []
        seen = upstream.requests
        assert len(seen) == 2
        for request in seen:
            assert request.headers["host"] == upstream.url.removeprefix("http://")
            assert not {"x-forwarded-host", "forwarded"} & set(request.headers)


def test_a_path_off_the_map_passes_through_unchanged_and_shows_as_itself() -> None:
    form = b'--b0undary\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--b0undary\r\nContent-Disposition: form-data; name="file"; '
    form += b'filename="calls.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n{"custom_id": "1"}\n\x00\xff\r\n--b0undary--\r\n'
    made = {"id": "file-1", "object": "file", "bytes": 21, "created_at": 0, "filename": "calls.jsonl", "purpose": "batch", "status": "processed"}
    with LoopbackServer() as upstream, relaying(upstream.url) as relay:
        upstream.push(Answer(200, made))
        headers = {"Content-Type": "multipart/form-data; boundary=b0undary", "Authorization": f"Bearer {KEY}", "User-Agent": "my-uploader/1.0"}
        answer = httpx.post(f"{relay}/v1/files?purpose=batch", content=form, headers=headers)
        assert answer.status_code == 200 and answer.json() == made
        sent = upstream.requests[0]
        assert (sent.method, sent.path, sent.body, sent.headers["content-type"]) == ("POST", "/v1/files?purpose=batch", form, headers["Content-Type"])
        assert sent.headers["authorization"] == f"Bearer {KEY}" and sent.headers["user-agent"] == "my-uploader/1.0"
        (call,) = filed(1)
    assert call["action"] == OFF_MAP and call["method"] == "POST" and "/v1/files" in call["url"]
    assert call["caller"] == "my-uploader/1.0" and call["status"] == 200
    assert KEY not in json.dumps(call)


@contextlib.contextmanager
def sink() -> Iterator[tuple[str, list[int]]]:
    """An upstream that reads whatever comes and never answers; its address, and the bytes it got on each connection."""
    got: list[int] = []

    def read_all(connection: socket.socket, stop: threading.Event) -> None:
        got.append(0)
        connection.settimeout(0.05)
        with connection:
            while not stop.is_set():
                try:
                    piece = connection.recv(1 << 20)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not piece:
                    return
                got[-1] += len(piece)

    with accepting(read_all) as listening:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}", got


def test_an_upstream_that_has_ended_leaves_no_thread_waiting_for_a_connection() -> None:
    # sink()'s thread waited in accept() on a listener closed under it. A signal restarts such a wait in the kernel on the descriptor's
    # number, by then the next listener's: the thread took (and read for ever) the relay's call to the next test's LoopbackServer,
    # which never saw it, and the official SDK's test failed under load.
    before = threading.active_count()
    with sink() as (address, got):
        with socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), timeout=10):
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                time.sleep(0.01)
        time.sleep(0.2)  # the thread is back in accept(), as after the relay it served went away
    assert threading.active_count() == before


def test_an_upload_past_the_apis_limit_is_refused_while_it_is_read() -> None:
    with sink() as (upstream, got), relaying(upstream) as relay:
        port = relay.rsplit(":", 1)[1]
        head = f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        declared = raw(relay, (head + f"Content-Length: {26 * 1024 * 1024}\r\n\r\n").encode())
        assert b" 413 " in declared.split(b"\r\n", 1)[0], declared[:200]
        assert got == []  # refused before the upstream was asked
        chunked = raw(
            relay, (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(b"100000\r\n" + b"a" * 0x100000 + b"\r\n" for _ in range(27))
        )
        assert b" 413 " in chunked.split(b"\r\n", 1)[0], chunked[:200]
        assert len(got) == 1 and 1 << 20 < got[0] < 26 * 1024 * 1024  # passed on as it came, and never the whole of it


def test_the_relay_exits_on_sigterm_while_the_upstream_holds_a_call_open(tmp_path: Path) -> None:
    # uvicorn waited for every call to end before exiting, and a silent upstream is given 600 s: the relay outlived SIGTERM.
    body = b'{"model": "m", "messages": []}'
    with sink() as (upstream, got), contextlib.ExitStack() as after:
        with relaying(upstream, log=tmp_path / "relay.log") as relay:  # it asserts the relay ended within 15 s of SIGTERM
            port = relay.rsplit(":", 1)[1]
            program = after.enter_context(socket.create_connection(("127.0.0.1", int(port)), timeout=10))  # still waiting as the relay stops
            head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            program.sendall(head.encode() + body)
            deadline = time.monotonic() + 30
            while not (got and got[-1]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert got and got[-1], "the call never reached the upstream"
        answer = program.recv(65536)
        (call,) = filed(1)
    assert answer.startswith(b"HTTP/1.1 503 ") and b'"relay_stopping"' in answer, answer[:200]  # told, as from a proxy, not a bare cut
    assert call["state"] == "failed" and call["status"] == 503
    assert "Traceback" not in (tmp_path / "relay.log").read_text()


# The official SDK cannot tell the relay is there.


def seen_by_the_sdk(base: str, upstream: LoopbackServer) -> list[Any]:
    """What the SDK sees of each call (status, headers but Date and framing, the bytes of the body), in order."""
    client = openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=2, timeout=60)  # a stuck call fails in a minute, not at pytest's 600 s
    said = [{"role": "user", "content": "Hello there"}]
    seen: list[Any] = []

    def keep(response: Any) -> None:
        headers = {name: value for name, value in response.headers.items() if name not in ("date", "transfer-encoding", "content-length")}
        seen.append((response.status_code, headers, b"".join(response.iter_bytes())))

    with client.chat.completions.with_streaming_response.create(model="loopback-model", messages=said) as response:  # type: ignore[arg-type]
        keep(response)
    pieces = [f"piece {n} " for n in range(200)]
    upstream.push(Stream(sse(*[chat_chunk(p) for p in pieces], chat_chunk(finish="stop")), pause=0.001))
    with client.chat.completions.with_streaming_response.create(model="loopback-model", messages=said, stream=True) as response:  # type: ignore[arg-type]
        keep(response)
    upstream.push(Stream(typed_events(["Hel", "lo"])))
    with client.responses.with_streaming_response.create(model="loopback-model", input="Hello", stream=True) as response:
        keep(response)
    with client.embeddings.with_streaming_response.create(model="loopback-model", input="a quiet lake") as response:
        keep(response)
    upstream.push(Answer(429, {"error": {"message": "Slow down.", "type": "rate_limit_error", "param": None, "code": None}}, {"retry-after": "0"}))
    seen.append(client.chat.completions.create(model="loopback-model", messages=said).model_dump())  # type: ignore[arg-type]
    streamed = client.chat.completions.create(model="loopback-model", messages=said, stream=True)  # type: ignore[arg-type]
    seen.append([chunk.model_dump() for chunk in streamed])
    seen.append([request.headers.get("x-stainless-retry-count") for request in upstream.requests])
    return seen


def test_the_official_sdk_sees_through_the_relay_exactly_what_it_sees_directly(tmp_path: Path) -> None:
    with LoopbackServer() as upstream:
        direct = seen_by_the_sdk(upstream.url, upstream)
        asked_directly = [(r.method, r.path, r.body) for r in upstream.requests]
        upstream.requests.clear()
        with relaying(upstream.url, "--log", log=tmp_path / "relay.log") as relay:
            relayed = seen_by_the_sdk(relay, upstream)
            asked_through = [(r.method, r.path, r.body) for r in upstream.requests]
            calls = filed(7)
    assert relayed == direct
    assert asked_through == asked_directly
    assert [call["action"] for call in calls] == ["think", "think", "respond", "understand", "think", "think", "think"]
    assert {call["caller"] for call in calls} == {f"OpenAI/Python {openai.__version__}"}
    assert all(call["request_headers"]["authorization"].endswith(KEY[-4:]) for call in calls)
    assert calls[1]["stream"] and len(calls[1]["frames"]) == 202  # 200 pieces, the finish, and [DONE]
    assert [call["status"] for call in calls][4:6] == [429, 200]
    logged = (tmp_path / "relay.log").read_text()
    stored = (Path(os.environ["GUIDE_HOME"]) / "data" / "guide.sqlite3").read_bytes()
    assert KEY not in logged and KEY.encode() not in stored and json.dumps(KEY)[1:-1] not in json.dumps(calls)
    assert "think → POST /v1/chat/completions" in logged and "429" in logged


def test_a_refused_connection_upstream_is_a_502_naming_the_upstream() -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    with relaying(gone) as relay:
        client = openai.OpenAI(base_url=relay + "/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
        (call,) = filed(1)
    assert refused.value.status_code == 502
    assert gone.removeprefix("http://") in refused.value.message
    assert call["state"] == "failed" and call["status"] == 502 and call["action"] == "think"


def test_with_a_key_of_its_own_the_relay_sends_the_upstream_key_and_never_its_own() -> None:
    with LoopbackServer(api_key=UPSTREAM_KEY) as upstream, relaying(upstream.url, "--api-key", KEY, "--upstream-key", UPSTREAM_KEY) as relay:
        assert httpx.get(f"{relay}/v1/models").status_code == 401
        assert httpx.get(f"{relay}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {UPSTREAM_KEY}"]
        (call,) = filed(1)
    assert UPSTREAM_KEY not in json.dumps(call) and KEY not in json.dumps(call)


def test_a_program_that_goes_away_mid_stream_stops_the_upstream_call_and_the_row_says_so(tmp_path: Path) -> None:
    with LoopbackServer() as upstream, relaying(upstream.url, log=tmp_path / "relay.log") as relay:
        upstream.push(Stream(sse(*[chat_chunk(f"w{n} ") for n in range(200)]), pause=0.05))
        body = {"model": "loopback-model", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
        with httpx.stream("POST", f"{relay}/v1/chat/completions", json=body) as answer:
            next(answer.iter_raw())
        (call,) = filed(1)
        deadline = time.monotonic() + 10
        while upstream.closed_streams == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert call["state"] == "stopped" and "went away" in " ".join(call["notes"])
    assert upstream.closed_streams == 1  # the relay let the upstream go at once, not after its 10 s
    assert "Traceback" not in (tmp_path / "relay.log").read_text()


def test_keys_and_cookies_in_any_header_a_client_uses_are_never_stored() -> None:
    """Google's SDK sends x-goog-api-key, browsers and gateways a Cookie: the store and the row keep them redacted, as Authorization."""
    secrets = {
        "x-goog-api-key": "goog-secret-0123456789abcdef",
        "cookie": "session=cookie-secret-0123456789; theme=dark",
        "x-auth-token": "tok-secret-0123456789abc",
    }
    with LoopbackServer() as upstream, relaying(upstream.url) as relay:
        assert httpx.get(f"{relay}/v1/models", headers=secrets).status_code == 200
        assert {name: upstream.requests[0].headers[name] for name in secrets} == secrets  # they go on as they came
        (call,) = filed(1)
    stored = b"".join(path.read_bytes() for path in (Path(os.environ["GUIDE_HOME"]) / "data").glob("guide.sqlite3*"))
    for value in secrets.values():
        assert value.encode() not in stored and value not in json.dumps(call)


def test_a_web_pages_request_without_an_origin_never_goes_on() -> None:
    """An <img> or a no-cors fetch from any page the user opens is a GET with no Origin, but the browser says where it
    came from in Sec-Fetch-Site: with --upstream-key it went on with the user's key (and was filed as their call)."""
    with LoopbackServer() as upstream, relaying(upstream.url, "--upstream-key", UPSTREAM_KEY) as relay:
        page = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
        refused = httpx.get(f"{relay}/v1/files", headers=page)
        typed = httpx.get(f"{relay}/v1/models", headers={"Sec-Fetch-Site": "none"})  # the user typed the address: theirs
        program = httpx.get(f"{relay}/v1/models")
        assert refused.status_code == 403 and "web page" in refused.json()["error"]["message"]
        assert typed.status_code == program.status_code == 200
        assert [request.path for request in upstream.requests] == ["/v1/models", "/v1/models"]


def test_a_relay_pointed_at_itself_says_so_instead_of_passing_each_call_round_forever() -> None:
    """OPENAI_BASE_URL copied into --relay (or guide watch --to): each call went to the relay again, until its connections
    ran out and every call hung."""
    port = free_port()
    for upstream in (f"http://127.0.0.1:{port}/v1", f"http://localhost:{port}", f"http://[::1]:{port}/v1"):
        done = subprocess.run(
            [sys.executable, "-m", "guide", "serve", "--relay", upstream, "--port", str(port)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert "itself" in done.stderr


def test_a_frame_the_trace_cannot_read_still_reaches_the_program_whole() -> None:
    # Reading the copy once ran on the path the bytes take: a frame nested too deep for json (a hostile upstream's) cut the program's stream.
    deep = '{"usage": ' + "[" * 100_000 + "]" * 100_000 + "}"
    chunks = sse(chat_chunk("before "), deep, chat_chunk("after"), chat_chunk(finish="stop"))
    body = {"model": "loopback-model", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with LoopbackServer() as upstream, relaying(upstream.url) as relay:
        upstream.push(Stream(chunks))
        with httpx.stream("POST", f"{relay}/v1/chat/completions", json=body, timeout=30) as answer:
            got = b"".join(answer.iter_raw())
        (call,) = filed(1)
    assert got == b"".join(chunks)
    assert call["status"] == 200 and call["state"] == "done" and call["frames"][0][1].endswith('"before "}, "finish_reason": null}]}')
    assert [text for _, text in call["frames"]][1:3] == [deep, json.dumps(chat_chunk("after"))]


def seen_by_langchain(base: str, upstream: LoopbackServer) -> list[Any]:
    """What LangChain's ChatOpenAI gets: a reply, a streamed one, and a structured output (a second client, with its own request shapes)."""
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        country: str

    chat = ChatOpenAI(base_url=base + "/v1", api_key=KEY, model="loopback-model", max_retries=0)  # type: ignore[arg-type]
    upstream.push(chat_answer("Paris."))
    upstream.push(Stream(sse(*[chat_chunk(f"p{n} ") for n in range(50)], chat_chunk(finish="stop"))))
    upstream.push(chat_answer('{"name": "Paris", "country": "France"}'))
    said = chat.invoke("Capital of France?").content
    streamed = "".join(str(piece.content) for piece in chat.stream("Count."))
    city = chat.with_structured_output(City, method="json_schema").invoke("Which city?")
    return [said, streamed, city.model_dump() if isinstance(city, BaseModel) else city]


def test_langchain_sees_through_the_relay_what_it_sees_directly() -> None:
    pytest.importorskip("langchain_openai")
    with LoopbackServer() as upstream:
        direct = seen_by_langchain(upstream.url, upstream)
        asked_directly = [(r.method, r.path, r.body) for r in upstream.requests]
        upstream.requests.clear()
        with relaying(upstream.url) as relay:
            relayed = seen_by_langchain(relay, upstream)
            asked_through = [(r.method, r.path, r.body) for r in upstream.requests]
            calls = filed(3)
    assert relayed == direct == ["Paris.", "".join(f"p{n} " for n in range(50)), {"name": "Paris", "country": "France"}]
    assert asked_through == asked_directly
    assert [call["action"] for call in calls] == ["think"] * 3 and calls[1]["stream"]
    assert calls[2]["request_body"]["response_format"]["type"] == "json_schema"  # what with_structured_output puts on the wire
    assert KEY not in json.dumps(calls)
