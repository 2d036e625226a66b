"""A picture in the terminal: a PNG drawn with half blocks (two pixels a cell).

The decoding is headless (`guide.client._png`); this draws. Anything that is
not an 8-bit, non-interlaced PNG is not drawn, and the app shows the file's
path instead.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from guide.client._png import MAX_PIXELS, Pixel, decode

__all__ = ["MAX_PIXELS", "decode_png", "half_blocks"]


def decode_png(data: bytes) -> tuple[int, int, list[list[Pixel]]] | None:
    """Width, height and rows of RGB pixels, or None if this PNG is not one guide draws."""
    decoded = decode(data)
    if decoded is None:
        return None
    rows = [[decoded.pixel(x, y) for x in range(decoded.width)] for y in range(decoded.height)]
    return decoded.width, decoded.height, rows


def half_blocks(data: bytes, columns: int = 48) -> Text | None:
    """The image as rows of ▀ (top pixel as colour, bottom as background)."""
    decoded = decode(data)
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
