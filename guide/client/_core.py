"""The shared core of Guide and AsyncGuide: everything but the I/O. The drivers (`_sync`, `_async`) send what the core
plans and hand back what they receive; the core decides headers, retries, errors, traces and results."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Generic, Literal, TypeVar

import httpx

from ._address import api_base, display_address, redact_url, url_secrets
from ._errors import (
    CannotConnect,
    GuideError,
    NoModel,
    PicturesNotTaken,
    Redirected,
    ReplyNotUnderstood,
    ReplyTooLarge,
    StreamBrokeOff,
    TimedOut,
    ToolsNotTaken,
    ToolsWentOn,
)
from ._map import Gentle
from ._pictures import carries_pictures, media_type, shortened_urls
from ._providers import DEFAULT_BASE_URL, Finding, judge, local_servers_hint
from ._requests import SPEECH_TYPES, USER_AGENT, Call, Planner
from ._responses import Kind, check_json, error_for, parse_answer, summarise_body
from ._results import Answer, Catalog, Picture, Sound, Transcript, Vector, Vectors, Verdict
from ._retry import retry_delay, should_retry
from ._secrets import redact_key, scrub, scrub_body, scrub_bytes, scrub_value
from ._stream import StreamReader
from ._tools import MAX_ROUNDS, ToolCall, answered, asked
from ._trace import Trace

TraceCallback = Callable[[Trace], None]
PROBE_TIMEOUT = 10.0
PROBE_POOL = httpx.Limits(max_keepalive_connections=0)
"""Probes keep no connection alive (some servers leave an unread body behind on a kept-alive one after a 404): each gets
a fresh one, which guide closes once the answer is read, never by `Connection: close`: a server that answers before
reading the body (404 at once) would close while the body still arrives, and the reset wipes its answer unread."""
PROBE_READ = 64 * 1024
"""The most of a probe's answer guide reads: the start is enough to judge by."""
MAX_REPLY = 64 * 1024 * 1024
"""The most guide reads of one reply (a body, a stream, a picture): a server cannot fill the memory."""
TransportT = TypeVar("TransportT")
ClientT = TypeVar("ClientT")


class GuideCore(Planner, Generic[TransportT, ClientT]):
    """Settings and decisions shared by the sync and async drivers (each says how it opens its httpx client)."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 600.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        on_trace: TraceCallback | None = None,
        transport: TransportT | None = None,
    ) -> None:
        address = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self._base = api_base(address)
        self.base_url = redact_url(self._base)
        """The base every legacy path hangs from, version included, as it may be shown."""
        self.address = display_address(self._base)
        """The server's address as a person gives it (without the version or any credentials)."""
        self._address_secrets = url_secrets(self._base)
        self.api_key = api_key if api_key is not None else (os.environ.get("OPENAI_API_KEY") or None)
        self.model = model
        """The default model; None means the first one the catalog lists."""
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.max_retries = max_retries
        self.on_trace = on_trace
        self._listed_model: str | None = None
        self._custom = transport is not None
        self._ssl = httpx.create_ssl_context()  # shared with the probes' pool, which then opens in no time
        self._probe_timeout = httpx.Timeout(PROBE_TIMEOUT, connect=self.connect_timeout)
        self._http = self._client(transport)

    def _client(self, transport: TransportT | None) -> ClientT:
        """The httpx client this driver sends through (each driver opens its own kind)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be kept or shown: the key, and credentials in the address."""
        return ((self.api_key,) if self.api_key else ()) + self._address_secrets

    def tools_asked(self, call: Call, reply: Any, rounds: int) -> tuple[ToolCall, ...]:
        """The tool calls a finished round asked for (empty: it answered in words). The one round cap of the one tool loop:
        `rounds` counts the replies so far; past MAX_ROUNDS, ToolsWentOn."""
        calls: tuple[ToolCall, ...] = reply.tool_calls
        if calls and rounds >= MAX_ROUNDS:
            detail = f"After {rounds} round trips the model still asked for {', '.join(c.shown() for c in calls)}."
            raise ToolsWentOn(action=Gentle.think, url=call.url, detail=detail, partial=reply.text)
        return calls

    @staticmethod
    def round_after(call: Call, reply: Any, calls: Sequence[ToolCall], results: Sequence[str], rounds: int) -> Call:
        """The call that sends the tools' results back, after the round that asked for them."""
        assert call.json is not None
        messages = [*call.json["messages"], asked(reply.text, calls), *answered(calls, results)]
        shown = ", ".join(c.shown() for c in calls)
        gentle = f"{call.gentle.split('  #')[0]}  # round {rounds + 1}: the answers of {shown} go back"
        notes = (f"Tool round {rounds + 1}: guide ran {shown} and sent the answers back as tool messages.",)
        return replace(call, json={**call.json, "messages": messages}, gentle=gentle, notes=notes)

    @staticmethod
    def picture_finding(error: GuideError | None) -> Finding:
        """What the picture probe's answer says: taken, refused for the picture, or not known."""
        if error is None:
            return Finding(Gentle.think, "yes", 200, "the model answered a picture")
        if isinstance(error, PicturesNotTaken):
            return Finding(Gentle.think, "no", error.status, f"the model refused a picture: {error.detail}"[:120])
        return Finding(Gentle.think, "unknown", error.status, f"{error.title} {error.detail}".strip()[:120])

    def chosen_model(self, asked: str | None) -> str | None:
        """The model to use without asking the server, or None to ask it."""
        return asked or self.model or self._listed_model

    def first_listed(self, models: Catalog) -> tuple[str, tuple[str, ...]]:
        """The first model the catalog lists, remembered, with a note for the trace."""
        if not models:
            raise NoModel(hint="The server lists no models; name one with model=..., or load one into the server.")
        self._listed_model = models[0].id
        return self._listed_model, (f"No model was named, so guide used the first one the catalog lists: {self._listed_model}.",)

    # The life of a call, shared by both drivers.

    def headers(self, call: Call) -> dict[str, str]:
        """The headers to send, key included: never recorded as they are."""
        headers = {"Accept": "text/event-stream" if call.stream else "application/json", "User-Agent": USER_AGENT}
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def request_args(self, call: Call) -> dict[str, Any]:
        """What `build_request` takes to send this call (the JSON body as bytes, exactly as the trace shows it)."""
        content = None if call.json is None else json.dumps(call.json, ensure_ascii=False, separators=(",", ":")).encode()
        return dict(method=call.action.method, url=call.url, headers=self.headers(call), content=content, data=call.form, files=call.files)

    def begin(self, call: Call) -> Trace:
        """A new trace for this call, announced to subscribers."""
        headers = self.headers(call)
        if "Authorization" in headers:
            headers["Authorization"] = "Bearer " + redact_key(self.api_key or "")
        if call.files:
            headers["Content-Type"] = "multipart/form-data"
            body: Any = dict(call.form or {})
            for field, (name, data, media) in call.files.items():
                body[field] = f"<file {name} · {len(data):,} bytes · {media}>"
        else:
            body = shortened_urls(call.json)  # a picture is sent whole, and kept as its start and its length
        trace = Trace(
            action=call.action.name,
            method=call.action.method,
            url=redact_url(call.url),
            gentle=call.gentle,
            request_headers=headers,
            request_body=body,
            request_files={field: name for field, (name, _, _) in (call.files or {}).items()},
            stream=call.stream,
            notes=list(call.notes),
        )
        self.emit(trace)
        return trace

    def emit(self, trace: Trace) -> None:
        """Tell the subscriber about a trace: as it starts, as a stream goes on (every PROGRESS_EVERY), and as it ends."""
        if self.on_trace is not None:
            self.on_trace(trace)

    def after_failure(self, trace: Trace, exc: httpx.TransportError, attempt: int) -> float:
        """Seconds to wait before retrying a call that got no answer, or raise: it was too slow, found nothing to connect to,
        or the connection dropped before an answer."""
        detail = scrub(describe(exc), self.secrets)
        if attempt < self.max_retries:
            trace.retries += 1
            trace.notes.append(f"Retry {attempt + 1}: {detail}")
            return retry_delay(attempt)
        if isinstance(exc, httpx.TimeoutException):  # the url and action are the trace's, set by `fail`
            error: GuideError = TimedOut(detail=detail)
        elif not isinstance(exc, httpx.ConnectError):
            error = StreamBrokeOff(
                "The server closed the connection without answering.", hint="It may have crashed or restarted; try again.", detail=detail
            )
        else:
            hint = f"Check that it is running and the address is right. {local_servers_hint()}"
            error = CannotConnect(f"Could not reach the server at {self.address}.", hint=hint, detail=detail)
        raise self.fail(trace, error)

    def after_status(self, trace: Trace, status: int, headers: dict[str, str], attempt: int) -> float | None:
        """Seconds to wait before retrying after this status, or None to go on."""
        if attempt < self.max_retries and should_retry(status, headers):
            trace.retries += 1
            trace.notes.append(f"Retry {attempt + 1}: the server answered {status}.")
            return retry_delay(attempt, headers)
        return None

    def received(self, trace: Trace, status: int, headers: dict[str, str], started: float) -> None:
        """Record the status line and headers of the answer."""
        trace.status = status
        trace.response_headers = {k: scrub(v, self.secrets) for k, v in headers.items()}
        trace.ttfb_ms = round((time.perf_counter() - started) * 1000, 1)

    def error_status(self, trace: Trace, body: bytes, started: float) -> GuideError:
        """The error for an HTTP error status, recorded on the trace."""
        body = scrub_bytes(body, self.secrets)
        trace.response_body = self.summarised(body, trace)
        return self.fail(trace, self._refused_for(trace, error_for(trace.status or 0, body, url=trace.url, action=trace.action)), started)

    @staticmethod
    def _refused_for(trace: Trace, error: GuideError) -> GuideError:
        """A refusal that names what the request carried (pictures, tools) becomes the calm error that says so."""
        status, words = error.status or 0, error.detail.lower()
        if status not in (400, 415, 422, 500, 501) or not isinstance(trace.request_body, dict):
            return error
        body = trace.request_body
        kind: type[GuideError] | None = None
        if carries_pictures(body) and any(word in words for word in ("image", "vision", "multimodal", "mmproj")):
            kind = PicturesNotTaken
        elif body.get("tools") and any(word in words for word in ("tool", "function", "jinja")):
            kind = ToolsNotTaken
        if kind is None:
            return error
        return kind(status=error.status, body=error.body, url=error.url, action=error.action, detail=error.detail)

    def redirected(self, trace: Trace, body: bytes, started: float) -> GuideError:
        """The error for a 3xx: where the server pointed, which guide does not follow."""
        trace.response_body = self.summarised(scrub_bytes(body, self.secrets), trace)
        location = trace.response_headers.get("location", "")
        where = f" and pointed to {redact_url(location)}." if location else " without saying where."
        return self.fail(trace, Redirected(status=trace.status, body=trace.response_body, detail=f"It answered {trace.status}{where}"), started)

    def broke_off(self, trace: Trace, exc: httpx.HTTPError, partial: str, started: float) -> GuideError:
        """The error for a connection that failed while a reply was arriving."""
        kind = TimedOut if isinstance(exc, httpx.TimeoutException) else StreamBrokeOff
        return self.fail(trace, kind(partial=partial, detail=describe(exc)), started)

    def too_large(self, trace: Trace, started: float, partial: str = "") -> GuideError:
        """The error for a reply past MAX_REPLY; what arrived of a stream is kept."""
        error = ReplyTooLarge(partial=partial, detail=f"The reply passed {MAX_REPLY // 2**20} MB, the most guide reads.")
        return self.fail(trace, error, started)

    def declared_too_large(self, headers: dict[str, str] | Any) -> bool:
        """Whether the reply says, before it is read, that it is larger than guide reads."""
        declared = str(headers.get("content-length", ""))
        return declared.isdigit() and int(declared) > MAX_REPLY

    def reader(self, kind: Kind, answer: Answer, trace: Trace, started: float) -> StreamReader:
        """The reader for a streamed reply (chunks, or respond's typed events), which keeps the secrets out of it."""
        if kind == "response":
            from ._events import EventReader

            return EventReader(kind, answer, trace, started, secrets=self.secrets, limit=MAX_REPLY)
        return StreamReader(kind, answer, trace, started, secrets=self.secrets, limit=MAX_REPLY)

    def finish(self, trace: Trace, body: bytes, started: float, *, binary: bool = False) -> Any:
        """The parsed reply of a finished, non-streamed call; the trace ends."""
        if not binary:
            body = scrub_bytes(body, self.secrets)
        trace.response_body = self.summarised(body, trace)
        try:
            parsed = body if binary else self._scrubbed(check_json(body, status=trace.status or 0, url=trace.url, action=trace.action))
            if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                trace.usage = parsed["usage"]
        except GuideError as error:
            raise self.fail(trace, error, started) from None
        self.end(trace, started)
        return parsed

    def end(self, trace: Trace, started: float, state: Literal["done", "stopped"] = "done") -> None:
        """The call is over: record the total time and announce it."""
        trace.total_ms = round((time.perf_counter() - started) * 1000, 1)
        trace.state = state
        self.emit(trace)

    def fail(self, trace: Trace, error: GuideError, started: float | None = None) -> GuideError:
        """Record the error on the trace, announce it, and return it to raise."""
        error.url = redact_url(error.url) if error.url else trace.url
        error.action = error.action or trace.action
        error.body = self._scrubbed(error.body)
        error.detail = scrub(error.detail, self.secrets)
        error.partial = scrub(error.partial, self.secrets)
        trace.error = self._scrubbed(error.as_dict())
        trace.state = "failed"
        if started is not None:
            trace.total_ms = round((time.perf_counter() - started) * 1000, 1)
        error.trace = trace
        self.emit(trace)
        return error

    def summarised(self, body: bytes, trace: Trace) -> Any:
        """A response body as the trace keeps it, with any echo of the key scrubbed."""
        return self._scrubbed(summarise_body(body, trace.response_headers))

    def _scrubbed(self, value: Any) -> Any:
        return scrub_value(value, self.secrets)

    # Probes and image downloads: the drivers do the I/O, these decide.

    def probe_unanswered(self, call: Call, trace: Trace, started: float, exc: httpx.HTTPError) -> Finding:
        """A probe that got no answer: the question stays open."""
        trace.notes.append(describe(exc))
        self.end(trace, started)
        return judge(call.action, None, b"", describe(exc))

    def probe_answered(self, call: Call, trace: Trace, started: float, status: int, headers: dict[str, str], body: bytes) -> Finding:
        """What a probe's answer says about the route."""
        self.received(trace, status, headers, started)
        body = scrub_body(body, self.secrets)  # its verdict quotes the server's words
        trace.response_body = self.summarised(body, trace)
        self.end(trace, started)
        return judge(call.action, status, body, headers=headers, cut=len(body) >= PROBE_READ)

    def download_failed(self, trace: Trace, failure: str) -> GuideError:
        """The error for an image the server pointed to but that could not be fetched."""
        return self.fail(trace, ReplyNotUnderstood("The image could not be fetched from the address the server gave.", detail=failure))

    def check_download(self, trace: Trace, url: str) -> None:
        """Refuse to fetch a picture from an address that is not http or https."""
        if url.split("://", 1)[0].lower() not in ("http", "https") or "://" not in url:
            raise self.download_failed(trace, f"guide fetches pictures over http and https only, not {redact_url(url)[:80]!r}.")

    @staticmethod
    def answered_whole(headers: dict[str, str] | Any) -> bool:
        """Whether a stream request was answered with one JSON reply (some servers ignore stream)."""
        return str(headers.get("content-type", "")).startswith("application/json")

    def unstreamed(self, trace: Trace, kind: Kind, answer: Answer, body: bytes, started: float) -> None:
        """Read a whole JSON reply where a stream was asked for, as if it had streamed."""
        trace.notes.append("The server answered the stream request with one JSON reply instead of a stream.")
        whole = self.parsed(trace, parse_answer, kind, self.finish(trace, body, started))
        answer.pieces[:] = whole.pieces
        answer.reasoning[:] = whole.reasoning
        answer.tool_calls[:] = whole.tool_calls
        answer.usage, answer.finish_reason, answer.model, answer.done = whole.usage, whole.finish_reason, whole.model, True

    @staticmethod
    def answer_usage(trace: Trace, answer: Answer) -> None:
        """Copy a streamed reply's usage onto its trace."""
        if answer.usage:
            trace.usage = answer.usage
        elif trace.stream and trace.mapping.reads == "response":
            trace.notes.append("The server's response.completed carried no usage.")
        elif trace.stream:
            trace.notes.append("The server sent no usage chunk (stream_options.include_usage was asked).")

    @staticmethod
    def with_trace(result: Vector | Vectors | Transcript | Catalog | Verdict, trace: Trace, note: str | None = None) -> Any:
        """The result with its trace attached (and a note about it on the trace)."""
        if note:
            trace.notes.append(note)
        result.trace = trace
        return result

    @staticmethod
    def sound(data: bytes, trace: Trace, format: str | None) -> Sound:
        """The audio of a speak call, with its media type."""
        media = trace.response_headers.get("content-type", "").split(";")[0].strip()
        fmt = format or "mp3"
        return Sound(data=data, media_type=media or SPEECH_TYPES.get(fmt, "audio/mpeg"), format=fmt, trace=trace)

    @staticmethod
    def picture(data: bytes, url: str | None, revised: str | None, trace: Trace) -> Picture:
        """One generated image, its media type read from its first bytes."""
        return Picture(data=data, media_type=media_type(data) or "image/png", revised_prompt=revised, url=url, trace=trace)

    def parsed(self, trace: Trace, read: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`read(*args)`, with a shape error recorded on the trace."""
        try:
            return read(*args, **kwargs)
        except GuideError as error:
            raise self.fail(trace, error) from None


def describe(exc: Exception) -> str:
    """An httpx failure in plain words."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
