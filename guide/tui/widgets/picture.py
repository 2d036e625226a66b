"""A picture in the terminal: a PNG drawn with half blocks (two pixels a cell), decoded by the client's headless decoder.

Anything but an 8-bit, non-interlaced PNG within the decoder's bounds is not drawn (the app shows the path instead), and a
preview is bounded: at most MAX_LINES lines, and no sliver more than MAX_ASPECT times as long one way as the other.
"""

from __future__ import annotations

from pathlib import Path

from rich.style import Style
from rich.text import Text

from guide.client import GuideError
from guide.client.internal import MAX_PIXELS, Pixel, png_decode, png_header, read_picture

__all__ = ["MAX_ASPECT", "MAX_LINES", "MAX_PIXELS", "decode_png", "half_blocks", "previews"]

MAX_LINES = 32
"""The most lines a preview takes (a tall picture is drawn narrower)."""
MAX_ASPECT = 16
"""Pictures longer than this many times their width (or wider than this many times their height) are not drawn."""


def decode_png(data: bytes) -> tuple[int, int, list[list[Pixel]]] | None:
    """Width, height and rows of RGB pixels, or None if this PNG is not one guide draws."""
    decoded = png_decode(data)
    if decoded is None:
        return None
    rows = [[decoded.pixel(x, y) for x in range(decoded.width)] for y in range(decoded.height)]
    return decoded.width, decoded.height, rows


def half_blocks(data: bytes, columns: int = 48) -> Text | None:
    """The image as rows of ▀ (top pixel as colour, bottom as background); only the rows sampled are kept."""
    found = png_header(data)
    if found is None or max(found.width, found.height) > MAX_ASPECT * min(found.width, found.height):
        return None
    width, height = found.width, found.height
    columns = max(1, min(columns, width))
    lines = max(1, round(height * columns / width / 2))
    if lines > MAX_LINES:
        lines, columns = MAX_LINES, max(1, min(columns, round(width * 2 * MAX_LINES / height)))
    xs = [column * width // columns for column in range(columns)]
    ys = [(min(height - 1, 2 * line * height // (2 * lines)), min(height - 1, (2 * line + 1) * height // (2 * lines))) for line in range(lines)]
    decoded = png_decode(data, rows={y for pair in ys for y in pair})
    if decoded is None:
        return None
    text = Text()
    for line, (upper, lower) in enumerate(ys):
        for x in xs:
            top, bottom = decoded.pixel(x, upper), decoded.pixel(x, lower)
            text.append("▀", Style(color=f"rgb{top}", bgcolor=f"rgb{bottom}"))
        if line < lines - 1:
            text.append("\n")
    return text


def previews(sources: list[bytes | str], columns: int = 48) -> list[Text]:
    """The pictures that can be drawn, from their bytes or their files (read as any picture is: bounded; one gone is left out)."""
    drawn = []
    for source in sources:
        try:
            data = source if isinstance(source, bytes) else read_picture(Path(source))
        except GuideError:  # gone, or no longer a regular file within the limit
            continue
        picture = half_blocks(data, columns)
        if picture is not None:
            drawn.append(picture)
    return drawn
