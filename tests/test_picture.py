"""The half-block preview decodes PNGs whatever filter each row uses."""

from __future__ import annotations

import struct
import zlib

import pytest

from guide.tui.widgets.picture import decode_png, half_blocks


def paeth(left: int, up: int, corner: int) -> int:
    guess = left + up - corner
    return min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))[2]


def encode(pixels: list[list[tuple[int, int, int]]], filters: list[int]) -> bytes:
    """A real RGB PNG, each row filtered as asked (the forward filters of the spec)."""
    raw = b""
    previous = [0] * (len(pixels[0]) * 3)
    for row, kind in zip(pixels, filters):
        line = [c for pixel in row for c in pixel]
        out = []
        for i, value in enumerate(line):
            left = line[i - 3] if i >= 3 else 0
            up = previous[i]
            corner = previous[i - 3] if i >= 3 else 0
            predictor = [0, left, up, (left + up) >> 1, paeth(left, up, corner)][kind]
            out.append((value - predictor) & 0xFF)
        raw += bytes([kind, *out])
        previous = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", len(pixels[0]), len(pixels), 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_every_row_filter_decodes_exactly(kind: int) -> None:
    pixels = [[((x * 37 + y * 11) % 256, (x * 5 + y * 90) % 256, (x * y * 13) % 256) for x in range(7)] for y in range(5)]
    decoded = decode_png(encode(pixels, [kind] * 5))
    assert decoded == (7, 5, pixels)


def test_half_blocks_put_two_pixels_in_a_cell() -> None:
    red, blue = (255, 0, 0), (0, 0, 255)
    text = half_blocks(encode([[red, red], [blue, blue]], [0, 0]), columns=2)
    assert text is not None and text.plain == "▀▀"
    style = text.spans[0].style
    assert "rgb(255,0,0)" in str(style).replace(" ", "") and "rgb(0,0,255)" in str(style).replace(" ", "")


def test_what_is_not_a_png_is_not_drawn() -> None:
    assert half_blocks(b"\xff\xd8\xff\xe0 a jpeg") is None
    assert decode_png(b"\x89PNG\r\n\x1a\n broken") is None
