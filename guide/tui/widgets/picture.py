"""A picture in the terminal: a PNG drawn with half blocks (two pixels a cell).

Only what guide needs to preview a generated image: 8-bit, non-interlaced
PNG (grey, RGB, palette, with or without alpha). Anything else is not drawn,
and the app shows the saved file's path instead.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

Pixel = tuple[int, int, int]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


MAX_PIXELS = 4096 * 4096
"""Larger pictures are saved but not previewed (the decoder is pure Python)."""


@dataclass(frozen=True)
class Decoded:
    """A PNG's unfiltered scanlines, read a pixel at a time."""

    width: int
    height: int
    colour: int
    palette: bytes
    lines: list[bytearray]

    def pixel(self, x: int, y: int) -> Pixel:
        return _pixel(self.lines[y], x * CHANNELS[self.colour], self.colour, self.palette)


def _decode(data: bytes) -> Decoded | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position, idat, palette = 8, [], b""
    width = height = depth = colour = interlace = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if depth != 8 or interlace or colour not in CHANNELS or not width or not height or width * height > MAX_PIXELS:
        return None
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error:
        return None
    step = CHANNELS[colour]
    stride = width * step
    if len(raw) < height * (stride + 1):
        return None
    lines: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, step)
        lines.append(line)
        previous = line
    return Decoded(width, height, colour, palette, lines)


def decode_png(data: bytes) -> tuple[int, int, list[list[Pixel]]] | None:
    """Width, height and rows of RGB pixels, or None if this PNG is not one guide draws."""
    decoded = _decode(data)
    if decoded is None:
        return None
    rows = [[decoded.pixel(x, y) for x in range(decoded.width)] for y in range(decoded.height)]
    return decoded.width, decoded.height, rows


def _unfilter(kind: int, line: bytearray, previous: bytearray, step: int) -> None:
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up = previous[i]
        corner = previous[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
            line[i] = (line[i] + near[2]) & 0xFF


def _pixel(line: bytearray, at: int, colour: int, palette: bytes) -> Pixel:
    if colour in (2, 6):
        return line[at], line[at + 1], line[at + 2]
    if colour == 3:
        index = line[at] * 3
        return (palette[index], palette[index + 1], palette[index + 2]) if index + 2 < len(palette) else (0, 0, 0)
    return line[at], line[at], line[at]


def half_blocks(data: bytes, columns: int = 48) -> Text | None:
    """The image as rows of ▀ (top pixel as colour, bottom as background)."""
    decoded = _decode(data)
    if decoded is None:
        return None
    width, height = decoded.width, decoded.height
    columns = max(1, min(columns, width))
    lines = max(1, round(height * columns / width / 2))
    text = Text()
    for line in range(lines):
        for column in range(columns):
            x = column * width // columns
            top = decoded.pixel(x, min(height - 1, (2 * line) * height // (2 * lines)))
            bottom = decoded.pixel(x, min(height - 1, (2 * line + 1) * height // (2 * lines)))
            text.append("▀", Style(color=f"rgb{top}", bgcolor=f"rgb{bottom}"))
        if line < lines - 1:
            text.append("\n")
    return text
