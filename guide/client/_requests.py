"""Building requests for each gentle action, no I/O: its arguments become a `Call` (the map's row, the full URL, and
the JSON body or multipart form the spec asks for), which the drivers in `_sync` and `_async` only send."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from guide.constants import MAX_AUDIO, PROBE

from ._address import url_for
from ._errors import RequestRefused
from ._map import ACTIONS, Action, Gentle
from ._pictures import PROBE_PNG, Prepared, prepare, with_pictures

if TYPE_CHECKING:
    from ._tools import Toolbox

Message = Mapping[str, Any]
Messages: TypeAlias = str | Sequence[Message]
AudioInput: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]

AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
    ".webm": "audio/webm",
    ".mpga": "audio/mpeg",
    ".mpeg": "audio/mpeg",
}
AUDIO_MAGIC: tuple[tuple[bytes, str], ...] = ((b"RIFF", ".wav"), (b"ID3", ".mp3"), (b"OggS", ".ogg"), (b"fLaC", ".flac"), (b"\x1aE\xdf\xa3", ".webm"))
AUDIO_MAGIC += ((b"\xff\xfb", ".mp3"), (b"\xff\xf3", ".mp3"), (b"\xff\xf2", ".mp3"))
"""How an audio file begins, by its suffix (an MP3 without ID3 starts with a frame's sync bytes); an MP4 says ftyp at byte 4."""
SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}


USER_AGENT = "guide (OpenAI-compatible client)"
LONG = 160
"""Strings longer than this are shortened in the gentle call as shown."""


@dataclass(frozen=True)
class Call:
    """One request, ready to send: built from the map, sent by a driver."""

    action: Action
    url: str
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    stream: bool = False
    gentle: str = ""
    notes: tuple[str, ...] = field(default=())


def gentle_call(action: Gentle, *args: Any, **kwargs: Any) -> str:
    """The gentle call as Python, as a person would type it: `ai.think("Hi")`."""
    name = ACTIONS[action].method_name
    parts = [_short(arg) for arg in args]
    parts += [f"{key}={_short(value)}" for key, value in kwargs.items() if value is not None]
    return f"ai.{name}({', '.join(parts)})"


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)) and not (value and isinstance(value[0], Mapping)):
        return "[" + ", ".join(_short(item) for item in value) + "]"  # images=[...], tools=[...]
    if callable(value) and hasattr(value, "__name__"):
        return str(value.__name__)  # a tool: the function's name, as the caller wrote it
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value):,} bytes>"
    if hasattr(value, "read"):
        return f"open({getattr(value, 'name', 'audio')!r}, 'rb')"
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if isinstance(value, str) and len(value) > LONG:
        return repr(value[: LONG // 2] + "…")  # the Request tab has it whole
    return repr(value)


def as_messages(messages: Messages, system: str | None) -> list[dict[str, Any]]:
    """The chat messages to send: a string is one user message; `system` leads."""
    if isinstance(messages, str):
        listed: list[dict[str, Any]] = [{"role": "user", "content": messages}]
    else:
        listed = [dict(message) for message in messages]
    if system is not None:
        listed = [{"role": "system", "content": system}, *(m for m in listed if m.get("role") != "system")]
    return listed


def _streaming(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """A chat or completion body asking, when it streams, for the usage chunk at the end."""
    if stream:
        body["stream"] = True
        body.setdefault("stream_options", {"include_usage": True})
    return body


class Planner:
    """The first half of the core: each gentle action's arguments become the Call the spec asks for (no I/O)."""

    _base: str
    """The base requests go to: version included, credentials as given (never shown)."""

    def _call(self, action: Gentle, gentle: str, notes: tuple[str, ...] = (), **sent: Any) -> Call:
        row = ACTIONS[action]
        return Call(row, url_for(self._base, row), gentle=gentle, notes=notes, **sent)

    def plan_think(
        self,
        messages: Messages,
        system: str | None,
        model: str,
        asked: str | None,
        stream: bool,
        options: dict[str, Any],
        notes: tuple[str, ...],
        *,
        pictures: Sequence[Prepared] = (),
        toolbox: Toolbox | None = None,
        asked_with: dict[str, Any] | None = None,
    ) -> Call:
        """POST /chat/completions with these messages, the system prompt first; pictures (image_url content parts) join the
        last user message, tools are offered (both as given in `asked_with` for the gentle call)."""
        gentle = gentle_call(Gentle.think, messages, system=system, model=asked, stream=stream or None, **(asked_with or {}), **options)
        listed = as_messages(messages, system)
        if pictures:
            last = next((i for i in range(len(listed) - 1, -1, -1) if listed[i].get("role") == "user"), None)
            if last is None:
                raise RequestRefused("Pictures go with a user message, and there is none.", hint="Say something with the picture.")
            listed[last] = with_pictures(listed[last], [picture.part for picture in pictures])
        body: dict[str, Any] = {"model": model, "messages": listed, **options}
        if toolbox is not None and toolbox.specs:
            body["tools"] = list(toolbox.specs)
        notes = (*notes, *(picture.note for picture in pictures))
        return self._call(Gentle.think, gentle, notes, json=_streaming(body, stream), stream=stream)

    def plan_picture_probe(self, model: str) -> Call:
        """A think call with one pixel and max_tokens 1: the cheapest question whether a model takes pictures."""
        call = self.plan_think("What is in this picture?", None, model, None, False, {"max_tokens": 1}, (), pictures=[prepare(PROBE_PNG)])
        return replace(call, gentle="ai.probe_pictures()", notes=())

    def plan_continue(self, prompt: str, model: str, asked: str | None, stream: bool, options: dict[str, Any], notes: tuple[str, ...]) -> Call:
        """POST /completions with the beginning of a text."""
        gentle = gentle_call(Gentle.continue_, prompt, model=asked, stream=stream or None, **options)
        body = _streaming({"model": model, "prompt": prompt, **options}, stream)
        return self._call(Gentle.continue_, gentle, notes, json=body, stream=stream)

    def plan_understand(self, texts: str | Sequence[str], model: str, asked: str | None, notes: tuple[str, ...]) -> Call:
        """POST /embeddings with one text or a batch."""
        body = {"model": model, "input": texts if isinstance(texts, str) else list(texts), "encoding_format": "float"}
        return self._call(Gentle.understand, gentle_call(Gentle.understand, texts, model=asked), notes, json=body)

    def plan_imagine(self, prompt: str, model: str | None, size: str | None, n: int) -> Call:
        """POST /images/generations; asks for base64 where the model allows it."""
        gentle = gentle_call(Gentle.imagine, prompt, model=model, size=size, n=n if n != 1 else None)
        body: dict[str, Any] = {"prompt": prompt, "n": n}
        if model:
            body["model"] = model
        if size:
            body["size"] = size
        if model is None or model.startswith("dall-e"):
            body["response_format"] = "b64_json"
        return self._call(Gentle.imagine, gentle, json=body)

    def plan_speak(self, text: str, voice: str, model: str, asked: str | None, format: str | None, notes: tuple[str, ...]) -> Call:
        """POST /audio/speech; the reply is audio bytes."""
        gentle = gentle_call(Gentle.speak, text, voice=voice if voice != "alloy" else None, model=asked, format=format)
        body: dict[str, Any] = {"model": model, "input": text, "voice": voice}
        if format:
            body["response_format"] = format
        return self._call(Gentle.speak, gentle, notes, json=body)

    def plan_transcribe(self, action: Gentle, audio: AudioInput, model: str, asked: str | None, language: str | None, notes: tuple[str, ...]) -> Call:
        """POST /audio/transcriptions (listen) or /audio/translations (interpret), as multipart/form-data."""
        form = {"model": model, "response_format": "json"}
        if language:
            form["language"] = language
        gentle = gentle_call(action, audio, model=asked, language=language)
        return self._call(action, gentle, notes, form=form, files={"file": read_audio(audio)})

    def plan_catalog(self) -> Call:
        """GET /models."""
        return self._call(Gentle.catalog, gentle_call(Gentle.catalog))

    def plan_discern(self, text: str | Sequence[str], model: str | None) -> Call:
        """POST /moderations."""
        body: dict[str, Any] = {"input": text if isinstance(text, str) else list(text)}
        if model:
            body["model"] = model
        return self._call(Gentle.discern, gentle_call(Gentle.discern, text, model=model), json=body)

    def plan_revise(self, text: str, instruction: str, model: str, asked: str | None, options: dict[str, Any], notes: tuple[str, ...]) -> Call:
        """POST /edits with the words to change (`input`) and the wish (`instruction`), as the spec of its day defined them."""
        gentle = gentle_call(Gentle.revise, text, instruction, model=asked, **options)
        return self._call(Gentle.revise, gentle, notes, json={"model": model, "input": text, "instruction": instruction, **options})

    def plan_respond(
        self, input: Messages, instructions: str | None, model: str, asked: str | None, stream: bool, options: dict[str, Any], notes: tuple[str, ...]
    ) -> Call:
        """POST /responses: `input` as text or a list of messages, the system prompt as `instructions`."""
        gentle = gentle_call(Gentle.respond, input, instructions=instructions, model=asked, stream=stream or None, **options)
        body: dict[str, Any] = {"model": model, "input": input if isinstance(input, str) else [dict(message) for message in input]}
        if instructions is not None:
            body["instructions"] = instructions
        body.update(options)
        if stream:
            body["stream"] = True
        return self._call(Gentle.respond, gentle, notes, json=body, stream=stream)

    def plan_replay(self, action: Gentle, body: dict[str, Any]) -> Call:
        """An action's request with a body written by hand, sent exactly as written (the call detail's replay with edits)."""
        row = ACTIONS[action]
        if row.body != "json":
            edited = [str(each.name) for each in ACTIONS.values() if each.body == "json"]
            raise RequestRefused(
                f"{action} sends no JSON body to edit.", hint=f"Replay with edits takes the JSON bodies: {', '.join(edited[:-1])} and {edited[-1]}."
            )
        stream = body.get("stream") is True and row.streams
        return self._call(action, f"ai.replay({str(action)!r}, {_short(body)})", json=body, stream=stream)


def empty(action: Action, base: str) -> Call:
    """A request no server can act on: routes that exist reject it, others 404.

    An empty JSON body is not enough: llama.cpp's server answers `{}` on chat by generating from an empty conversation.
    A required field with the wrong type (an object where a list or text belongs) is refused by validation first.
    """
    if action.method == "GET":
        return Call(action, url_for(base, action), gentle=PROBE)
    if action.body == "multipart":
        return Call(action, url_for(base, action), form={}, files={"probe": ("empty.txt", b"", "text/plain")}, gentle=PROBE)
    return Call(action, url_for(base, action), json={action.probe_field or action.main_field: {}}, gentle=PROBE)


MINIMAL_BODY: dict[str, dict[str, Any]] = {
    Gentle.think: {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1},
    Gentle.continue_: {"prompt": "Hi", "max_tokens": 1},
    Gentle.understand: {"input": "hi"},
    Gentle.discern: {"input": "hi"},
    Gentle.respond: {"input": "Hi", "max_output_tokens": 16},
}
"""The smallest real request of each action a probe may send (a token or two at most): only after the route failed with a 5xx
on the invalid one, as llama.cpp's server reports its validation, so that a route that exists but cannot answer is told apart."""


def minimal(action: Action, base: str, model: str | None) -> Call | None:
    """A minimal valid request for the action (None where even the smallest would cost a picture or a sound)."""
    body = MINIMAL_BODY.get(action.name)
    if body is None:
        return None
    return Call(action, url_for(base, action), json={**({"model": model} if model else {}), **body}, gentle=PROBE)


def read_audio(audio: AudioInput) -> tuple[str, bytes, str]:
    """A file name, the bytes and the media type for a multipart audio field."""
    if isinstance(audio, (bytes, bytearray)):
        data = bytes(_within_limit(audio, len(audio)))
        name = "audio" + _sniff_suffix(data)
    elif isinstance(audio, (str, os.PathLike)):
        path = Path(audio)
        data = _within_limit(path, path.stat().st_size).read_bytes()  # refused before it is read
        name = path.name
    elif isinstance(audio, io.IOBase) or hasattr(audio, "read"):
        data = audio.read(MAX_AUDIO + 1)
        _within_limit(data, len(data))
        name = Path(str(getattr(audio, "name", ""))).name or "audio" + _sniff_suffix(data)
    else:
        raise TypeError("audio must be a path, bytes or a binary file")
    suffix = Path(name).suffix.lower()
    return name, data, AUDIO_TYPES.get(suffix, "application/octet-stream")


def _within_limit(audio: Any, size: int) -> Any:
    """The audio, if it is small enough to send; refused here, before any upload, if not."""
    if size > MAX_AUDIO:
        raise RequestRefused(
            f"The audio is {size / 2**20:.0f} MB; listen and interpret take at most {MAX_AUDIO // 2**20} MB.",
            hint="That is the API's limit: shorten the recording or compress it (mp3, ogg), then try again.",
        )
    return audio


def _sniff_suffix(data: bytes) -> str:
    found = next((suffix for magic, suffix in AUDIO_MAGIC if data.startswith(magic)), None)
    return found or (".m4a" if data[4:8] == b"ftyp" else ".wav")
