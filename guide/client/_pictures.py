"""Pictures into a think message: a file or bytes become an `image_url` content part (`data:image/png;base64,…`).

No I/O but reading the file. The size is checked before anything is read; guide makes a large PNG smaller itself (no
image library is a dependency); other formats go as they are, within the limit, and the note says so.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

from . import _png
from ._errors import RequestRefused

PictureInput: TypeAlias = "str | os.PathLike[str] | bytes | Prepared"

MAX_PICTURE = 20 * 1024 * 1024
"""The largest picture guide sends (OpenAI's limit for one image: 20 MB)."""
MAX_SIDE = 1024
"""Pictures larger than this on a side are made smaller before sending (PNG; most vision models see less than this)."""
SHOWN = 64
"""Characters of a data URL a trace keeps (the rest is counted): a picture is not kept twice."""

PROBE_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
"""One pixel: the picture a probe sends to learn whether a model takes pictures."""

MEDIA = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


@dataclass(frozen=True)
class Prepared:
    """A picture ready to go: its data URL, and what guide did to it."""

    url: str
    name: str
    media_type: str
    size: tuple[int, int] | None
    """Width and height as sent, where guide knows them (PNG)."""
    note: str
    """What guide did, in a sentence: the size sent, and the limit."""
    data: bytes = b""
    """The bytes sent (a preview draws from them)."""
    path: str = ""
    """The file it was read from, where it was one."""

    @property
    def part(self) -> dict[str, Any]:
        """The content part the spec gives: `image_url` with the URL."""
        return {"type": "image_url", "image_url": {"url": self.url}}


def media_type(data: bytes) -> str | None:
    """The picture's media type from its first bytes, or None if it is not PNG, JPEG, GIF or WebP."""
    for magic, media in MEDIA:
        if data.startswith(magic):
            return media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def prepare(picture: PictureInput) -> Prepared:
    """A picture from a path, bytes, or an http(s) or data URL (passed on as given)."""
    if isinstance(picture, str) and picture.split(":", 1)[0].lower() in ("http", "https", "data") and ":" in picture:
        return Prepared(picture, picture[:40], "", None, "The picture's address was sent as given.")
    if isinstance(picture, Prepared):
        return picture
    if isinstance(picture, (bytes, bytearray)):
        name, data = "picture", bytes(_within_limit("The picture", len(picture), picture))
    elif isinstance(picture, (str, os.PathLike)):
        path = Path(picture).expanduser()
        name, data = path.name, read_picture(path)
    else:
        raise TypeError("a picture is a path, bytes, or an http(s) or data URL")
    path_text = str(Path(picture).expanduser()) if isinstance(picture, (str, os.PathLike)) else ""
    return replace(_prepared(name, data), path=path_text)


def read_picture(path: Path) -> bytes:
    """A picture file's bytes: only a regular file, and never more than the limit plus one byte (RequestRefused says why not).

    Opened without blocking, then checked: a pipe would wait for a writer for ever, and
    a device such as /dev/zero has no end (the size a stat gives is 0 for both).
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise RequestRefused(f"guide could not read the picture {path.name}.", hint="Check the path.", detail=str(error)) from None
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode):
            kind = "a folder" if stat.S_ISDIR(found.st_mode) else "not a file (a device, a pipe or a socket)"
            raise RequestRefused(f"{path.name} is {kind}, so guide did not read it.", hint="Attach a picture file: PNG, JPEG, GIF or WebP.")
        _within_limit(path.name, found.st_size, None)  # refused before it is read
        pieces, want, got = [], found.st_size + 1, 0  # one read as large as the file, and one more to see it ends
        while got <= MAX_PICTURE and (piece := os.read(handle, min(want, MAX_PICTURE + 1 - got))):
            pieces.append(piece)
            got, want = got + len(piece), 1 << 20  # it grew since the stat: on, a megabyte at a time
        data = b"".join(pieces)
    except OSError as error:
        raise RequestRefused(f"guide could not read the picture {path.name}.", hint="Check the path.", detail=str(error)) from None
    finally:
        os.close(handle)
    _within_limit(path.name, len(data), None)
    return data


def _prepared(name: str, data: bytes) -> Prepared:
    media = media_type(data)
    if media is None:
        raise RequestRefused(f"{name} is not a picture guide can send.", hint="Send a PNG, JPEG, GIF or WebP file.")
    size = _png.size_of(data)
    if size is None and media == "image/png":
        raise RequestRefused(
            f"{name} is not a PNG guide can read: its header is missing, comes after other data, or comes twice.",
            hint="Save the picture again from an image editor and attach that file.",
        )
    if size is None:
        note = (
            f"{name} was sent as it is ({len(data) / 1024:,.0f} KB; guide makes PNGs smaller itself,"
            f" other formats are sent whole up to {MAX_PICTURE // 2**20} MB)."
        )
        return Prepared(_data_url(media, data), name, media, None, note, data)
    if max(size) <= MAX_SIDE:
        return Prepared(_data_url(media, data), name, media, size, f"{name} was sent at {size[0]}×{size[1]}.", data)
    width, height = _png.fitted(size[0], size[1], MAX_SIDE)
    smaller = _png.downscaled(data, width, height)  # None: past what the pure-Python decoder takes on, in pixels, rows or work
    if smaller is None:
        note = (
            f"{name} is {size[0]}×{size[1]}: making it smaller would take guide's own PNG decoder more than about a second, "
            f"so it goes as it is ({len(data) / 1024:,.0f} KB; many models see at most about {MAX_SIDE} px a side)."
        )
        return Prepared(_data_url(media, data), name, media, size, note, data)
    note = f"{name} is {size[0]}×{size[1]}; sent at {width}×{height} (guide sends pictures at most {MAX_SIDE} px a side)."
    return Prepared(_data_url("image/png", smaller), name, "image/png", (width, height), note, smaller)


def _within_limit(name: str, size: int, value: Any) -> Any:
    if size > MAX_PICTURE:
        raise RequestRefused(
            f"{name} is {size / 2**20:.1f} MB; guide sends pictures of at most {MAX_PICTURE // 2**20} MB.",
            hint="That is the API's limit for one image: send a smaller picture (a PNG guide makes smaller itself).",
        )
    return value


def _data_url(media: str, data: bytes) -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode("ascii")


def with_pictures(message: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A user message with pictures: its text becomes the first content part, the pictures follow."""
    content = message.get("content")
    listed = list(content) if isinstance(content, list) else ([{"type": "text", "text": content}] if content else [])
    return {**message, "content": [*listed, *parts]}


def carries_pictures(body: Any) -> bool:
    """Whether a think body holds an image_url part."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return False
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


def shortened_urls(body: Any) -> Any:
    """The body as a trace keeps it: each data URL cut to its start and counted (as a reply's b64_json is)."""
    if not carries_pictures(body):
        return body
    messages = []
    for message in body["messages"]:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            message = {**message, "content": [_short_part(part) for part in message["content"]]}
        messages.append(message)
    return {**body, "messages": messages}


def _short_part(part: Any) -> Any:
    if not (isinstance(part, dict) and part.get("type") == "image_url" and isinstance(part.get("image_url"), dict)):
        return part
    url = part["image_url"].get("url")
    if not isinstance(url, str) or not url.startswith("data:") or len(url) <= SHOWN:
        return part
    return {**part, "image_url": {**part["image_url"], "url": f"{url[:SHOWN]}…<{len(url):,} characters>"}}
