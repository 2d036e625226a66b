"""A scriptable OpenAI-compatible server on loopback, for the tests.

By default it answers every endpoint of the map the way the spec shapes
them; `push()` queues scripted answers (faults included) that are used first.
It records every request it receives.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PNG_1x1 = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def wav_bytes(samples: int = 800) -> bytes:
    """A tiny valid WAV file of silence."""
    data = b"\x00\x00" * samples
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


@dataclass
class Answer:
    """A scripted answer: status, body and headers."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """A scripted stream: raw chunks, written with a pause between them."""

    chunks: list[bytes]
    pause: float = 0.0
    cut: bool = False
    """Drop the connection after the chunks instead of ending the body."""
    status: int = 200


@dataclass
class Reset:
    """Close the connection without answering."""


@dataclass
class Stall:
    """Answer nothing for a while (bounded, so the server always stops)."""

    seconds: float = 5.0


def sse(*events: Any, done: bool = True) -> list[bytes]:
    """SSE frames for these events (dicts become JSON), then [DONE]."""
    frames = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]
    if done:
        frames.append(b"data: [DONE]\n\n")
    return frames


def chat_chunk(content: str | None = None, *, reasoning: str | None = None, finish: str | None = None) -> dict[str, Any]:
    """One chat.completion.chunk."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "loopback-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_chunk(index: int, *, id: str | None = None, name: str | None = None, arguments: str = "", finish: str | None = None) -> dict[str, Any]:
    """One chat.completion.chunk carrying a piece of a tool call (the id and name come once, the arguments in pieces)."""
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        call["id"], call["type"] = id, "function"
    if name is not None:
        call["function"]["name"] = name
    chunk = chat_chunk(finish=finish)
    chunk["choices"][0]["delta"] = {"tool_calls": [call]}
    return chunk


def chat_answer(content: str | None, *, tool_calls: list[dict[str, Any]] | None = None, reasoning: str | None = None) -> Answer:
    """A whole chat.completion (not streamed), with tool calls or reasoning if given."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    finish = "tool_calls" if tool_calls else "stop"
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    return Answer(
        body={"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "loopback-model", "choices": [choice], "usage": _usage(3)}
    )


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up (as SDKs and cancelled streams do) are not errors here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class LoopbackServer:
    """The server, on 127.0.0.1 and a free port, in a background thread."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        offers: set[str] | None = None,
        models: list[str] | None = None,
        missing_route: Answer | None = None,
    ) -> None:
        self.api_key = api_key
        self.offers = offers
        self.missing_route = missing_route
        """What a route it does not offer answers (default: a JSON 404)."""
        self.models = ["loopback-model"] if models is None else models
        self.script: deque[Answer | Stream | Reset | Stall] = deque()
        self.requests: list[Recorded] = []
        self.closed_streams = 0
        self._stopping = threading.Event()
        self._httpd = QuietServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def push(self, *answers: Answer | Stream | Reset | Stall) -> None:
        self.script.extend(answers)

    def close(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Default answers, shaped as the spec gives them.

    def default(self, request: Recorded) -> Answer | Stream:
        path = request.path.split("?")[0]
        if path.startswith("/v1/"):
            path = path[3:]
        if self.offers is not None and path not in self.offers and not path.startswith("/files/"):
            return self.missing_route or _error(404, f"Unknown route {request.path}", "invalid_request_error", "unknown_url")
        if path == "/models":
            if request.method != "GET":
                return _error(405, "Method not allowed", "invalid_request_error")
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in self.models]
            return Answer(body={"object": "list", "data": data})
        if path == "/files/image.png":
            return Answer(body=PNG_1x1, headers={"content-type": "image/png"})
        if request.method != "POST":
            return _error(405, "Method not allowed", "invalid_request_error")
        body = request.json if isinstance(request.json, dict) else {}
        handler = getattr(self, "_" + path.strip("/").replace("/", "_"), None)
        if handler is None:
            return _error(404, f"Unknown route {request.path}", "invalid_request_error", "unknown_url")
        return handler(request, body)  # type: ignore[no-any-return]

    def _chat_completions(self, request: Recorded, body: dict[str, Any]) -> Answer | Stream:
        if not isinstance(body.get("messages"), list) or not body["messages"] or not body.get("model"):
            return _error(400, "messages and model are required", "invalid_request_error", param="messages")
        if body["model"] not in self.models:
            return _error(404, f"The model {body['model']} does not exist", "invalid_request_error", "model_not_found")
        said = body["messages"][-1].get("content", "")
        text = f"You said: {said}"
        if body.get("stream"):
            words = text.split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            events: list[Any] = [chat_chunk(p) for p in pieces] + [chat_chunk(finish="stop")]
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "loopback-model",
                        "choices": [],
                        "usage": _usage(len(pieces)),
                    }
                )
            return Stream(sse(*events))
        return Answer(
            body={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}],
                "usage": _usage(len(text.split())),
            }
        )

    def _completions(self, request: Recorded, body: dict[str, Any]) -> Answer | Stream:
        if not isinstance(body.get("prompt"), (str, list)) or not body.get("model"):
            return _error(400, "prompt and model are required", "invalid_request_error", param="prompt")
        text = " and so it goes on."
        if body.get("stream"):
            chunk = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"]}
            events = [{**chunk, "choices": [{"index": 0, "text": p, "finish_reason": None}]} for p in (" and so", " it goes on.")]
            events.append({**chunk, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
            return Stream(sse(*events))
        return Answer(
            body={
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
                "usage": _usage(5),
            }
        )

    def _embeddings(self, request: Recorded, body: dict[str, Any]) -> Answer:
        if not isinstance(body.get("input"), (str, list)) or not body.get("model"):
            return _error(400, "input and model are required", "invalid_request_error", param="input")
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), float(t.count("a")), 0.5]} for i, t in enumerate(texts)]
        return Answer(body={"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 3, "total_tokens": 3}})

    def _images_generations(self, request: Recorded, body: dict[str, Any]) -> Answer:
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return _error(400, "prompt is required", "invalid_request_error", param="prompt")
        n = int(body.get("n") or 1)
        if body.get("response_format") == "url":
            row = {"url": self.url + "/files/image.png", "revised_prompt": "a revised " + body["prompt"]}
        else:
            row = {"b64_json": base64.b64encode(PNG_1x1).decode(), "revised_prompt": "a revised " + body["prompt"]}
        return Answer(body={"created": 0, "data": [row] * n})

    def _audio_speech(self, request: Recorded, body: dict[str, Any]) -> Answer:
        if not isinstance(body.get("input"), str) or not body.get("model") or not body.get("voice"):
            return _error(400, "model, input and voice are required", "invalid_request_error", param="input")
        kind = body.get("response_format", "mp3")
        media = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(kind, "application/octet-stream")
        return Answer(body=wav_bytes(), headers={"content-type": media})

    def _audio_transcriptions(self, request: Recorded, body: dict[str, Any]) -> Answer:
        if "file" not in request.files or not request.form.get("model"):
            return _error(400, "file and model are required", "invalid_request_error", param="file")
        name, data = request.files["file"]
        return Answer(body={"text": f"heard {len(data)} bytes of {name}"})

    def _audio_translations(self, request: Recorded, body: dict[str, Any]) -> Answer:
        answer = self._audio_transcriptions(request, body)
        if answer.status == 200:
            answer.body = {"text": "in English: " + answer.body["text"]}
        return answer

    def _moderations(self, request: Recorded, body: dict[str, Any]) -> Answer:
        if not isinstance(body.get("input"), (str, list)):
            return _error(400, "input is required", "invalid_request_error", param="input")
        flagged = "hate" in str(body["input"])
        return Answer(
            body={
                "id": "modr-1",
                "model": "loopback-moderation",
                "results": [
                    {
                        "flagged": flagged,
                        "categories": {"hate": flagged, "violence": False},
                        "category_scores": {"hate": 0.9 if flagged else 0.01, "violence": 0.0},
                    }
                ],
            }
        )

    def _edits(self, request: Recorded, body: dict[str, Any]) -> Answer:
        # CreateEditResponse as the spec of its day gave it (tests/test_revise_shape.py).
        if not isinstance(body.get("instruction"), str) or not body.get("model"):
            return _error(400, "instruction and model are required", "invalid_request_error", param="instruction")
        text = str(body.get("input", "")).replace("wek", "week")
        return Answer(body={"object": "edit", "created": 0, "choices": [{"text": text, "index": 0}], "usage": _usage(len(text.split()))})

    def _responses(self, request: Recorded, body: dict[str, Any]) -> Answer | Stream:
        if not isinstance(body.get("input"), (str, list)) or not body.get("model"):
            return _error(400, "input and model are required", "invalid_request_error", param="input")
        given = body["input"]
        said = given if isinstance(given, str) else str(given[-1].get("content", "")) if given and isinstance(given[-1], dict) else ""
        text = f"You said: {said}"
        if body.get("stream"):
            words = text.split(" ")
            return Stream(typed_events([w if i == 0 else " " + w for i, w in enumerate(words)], model=body["model"]))
        return Answer(body=response_object(text, body["model"]))


def response_object(text: str, model: str = "loopback-model", status: str = "completed") -> dict[str, Any]:
    """A Response as the spec gives it, with one output message."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {"input_tokens": 7, "output_tokens": len(text.split()), "total_tokens": 7 + len(text.split())}
    return {"id": "resp_1", "object": "response", "created_at": 0, "status": status, "model": model, "output": [message], "usage": usage}


def typed_events(pieces: list[str], *, model: str = "loopback-model", named: bool = True, end: bool = True) -> list[bytes]:
    """A Responses stream of these pieces: created, the deltas, completed (each with its `event:` line where `named`)."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response_object("", model, "in_progress"), "output": [], "usage": None}}
    ]
    events += [{"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": p} for p in pieces]
    if end:
        events.append({"type": "response.completed", "response": response_object("".join(pieces), model)})
    frames = []
    for number, event in enumerate(events):
        event["sequence_number"] = number
        head = f"event: {event['type']}\n" if named else ""
        frames.append(f"{head}data: {json.dumps(event)}\n\n".encode())
    return frames


def _usage(completion: int) -> dict[str, int]:
    return {"prompt_tokens": 7, "completion_tokens": completion, "total_tokens": 7 + completion}


def _error(status: int, message: str, kind: str, code: str | None = None, param: str | None = None) -> Answer:
    return Answer(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if recorded.content_type == "application/json":
                try:
                    recorded.json = json.loads(body)
                except ValueError:
                    recorded.json = None
            elif recorded.content_type == "multipart/form-data":
                _read_form(recorded)
            if not self.path.startswith("/files/"):
                server.requests.append(recorded)
            if server.api_key and not self.path.startswith("/files/") and recorded.headers.get("authorization") != f"Bearer {server.api_key}":
                self._answer(_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
                return
            scripted = server.script.popleft() if server.script else server.default(recorded)
            if isinstance(scripted, Reset):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(scripted, Stall):
                server._stopping.wait(scripted.seconds)
                self.close_connection = True
                return
            if isinstance(scripted, Stream):
                self._stream(scripted)
                return
            self._answer(scripted)

        def _answer(self, answer: Answer) -> None:
            payload = answer.body
            headers = {k.lower(): v for k, v in answer.headers.items()}
            if isinstance(payload, (dict, list)):
                payload = json.dumps(payload).encode()
                headers.setdefault("content-type", "application/json")
            elif isinstance(payload, str):
                payload = payload.encode()
                headers.setdefault("content-type", "text/plain; charset=utf-8")
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, stream: Stream) -> None:
            self.send_response(stream.status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for chunk in stream.chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                    if stream.pause:
                        if server._stopping.wait(stream.pause):
                            break
                if stream.cut:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                server.closed_streams += 1
                self.close_connection = True

    return Handler


def _read_form(recorded: Recorded) -> None:
    head = f"Content-Type: {recorded.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + recorded.body)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            recorded.files[str(name)] = (filename, data)
        else:
            recorded.form[str(name)] = data.decode()


@contextlib.contextmanager
def accepting(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[socket.socket]:
    """A loopback listener whose connections `handle(connection, stop)` takes, one at a time, on a thread that ends with the block.

    Only that thread touches the listener, and it closes it: one waiting in accept() on a listener another thread closed kept
    waiting, and a signal restarted the wait on the descriptor's number, by then the next test's listener, whose connections it
    then took (a LoopbackServer that never saw its calls)."""
    listening = socket.create_server(("127.0.0.1", 0))
    listening.settimeout(0.05)
    stop = threading.Event()

    def run() -> None:
        with listening:
            while not stop.is_set():
                try:
                    connection, _ = listening.accept()
                except TimeoutError:
                    continue
                handle(connection, stop)  # it closes the connection (or hands it on)

    thread = threading.Thread(target=run, daemon=True, name="loopback-accepting")
    thread.start()
    try:
        yield listening
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the listener's thread did not end"


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    """Poll until predicate() is true (for what happens in the server thread)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
