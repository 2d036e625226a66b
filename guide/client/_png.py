"""PNG in pure Python: decode, downscale, encode. Headless (the app's preview draws from it too).

Only 8-bit, non-interlaced PNG (grey, RGB, palette, with or without alpha). Every byte may be hostile, so the work is bounded before it is
done: one IHDR, first; at most MAX_PIXELS pixels and LONGEST_SIDE a side; scanlines inflated a piece at a time, each row unfiltered as it
comes and kept only where asked; at most MAX_WORK of unfiltering, weighted by each filter's cost in pure Python (None and Up on whole rows
as big integers, Sub in a few such passes, Average and Paeth a byte at a time). Callers still run it off the UI's loop.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from operator import itemgetter

Pixel = tuple[int, int, int]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
SIGNATURE = b"\x89PNG\r\n\x1a\n"

MAX_PIXELS = 4096 * 4096
"""Larger pictures are not decoded (the decoder is pure Python)."""
LONGEST_SIDE = 16384
"""Nor are pictures longer than this on a side: each row costs Python time, however narrow it is."""
MAX_CHUNKS = 65536
"""A file of more chunks than this is not read (a 20 MB file of empty chunks would take seconds to walk)."""
COST = (1, 3, 1, 28, 60)
"""What unfiltering a byte costs, per filter (None, Sub, Up, Average, Paeth), in units of about 3 ns (measured)."""
MAX_WORK = COST[4] * 3 * 1024 * 1024
"""The most unfiltering one picture gets: a 1024×1024 RGB picture whose every row is Paeth, about 0.6 s."""
PIECE = 64 * 1024
"""Compressed bytes given to the inflater at a time (what it has not used yet is copied on each call)."""


class NotDecoded(ValueError):
    """The picture stopped being one guide decodes partway (short, corrupt, or past MAX_WORK)."""


@dataclass(frozen=True)
class Header:
    """What a PNG's chunks say, once checked: its size, colour type, palette and compressed data."""

    width: int
    height: int
    colour: int
    palette: bytes
    idat: tuple[memoryview, ...]

    @property
    def step(self) -> int:
        """Bytes a pixel."""
        return CHANNELS[self.colour]

    @property
    def stride(self) -> int:
        """Bytes a row (without its filter byte)."""
        return self.width * self.step


@dataclass(frozen=True)
class Decoded:
    """A PNG's unfiltered scanlines (the rows asked for), read a pixel at a time."""

    width: int
    height: int
    colour: int
    palette: bytes
    lines: dict[int, bytes]

    def pixel(self, x: int, y: int) -> Pixel:
        """The RGB colour at (x, y) (alpha dropped; a palette index past the palette is black); y must be a row that was kept."""
        line, at, palette = self.lines[y], x * CHANNELS[self.colour], self.palette
        if self.colour in (2, 6):
            return line[at], line[at + 1], line[at + 2]
        if self.colour == 3:
            index = line[at] * 3
            return (palette[index], palette[index + 1], palette[index + 2]) if index + 2 < len(palette) else (0, 0, 0)
        return line[at], line[at], line[at]


def _chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]] | None:
    """Each chunk's kind and body up to IEND, or None if this is not a PNG whose one IHDR comes first."""
    if not data.startswith(SIGNATURE):
        return None
    view, position = memoryview(data), 8
    listed: list[tuple[bytes, memoryview]] = []
    while position + 8 <= len(data):
        if len(listed) == MAX_CHUNKS:
            return None
        length, kind = struct.unpack_from(">I4s", data, position)
        listed.append((kind, view[position + 8 : position + 8 + length]))
        position += 12 + length
        if kind == b"IEND":
            break
    # The size check and the decoder must read the same header: a second one, or a chunk before it, is refused.
    if not listed or listed[0][0] != b"IHDR" or len(listed[0][1]) != 13 or any(kind == b"IHDR" for kind, _ in listed[1:]):
        return None
    return iter(listed)


def size_of(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height from its one header, without decoding it (None: not a PNG guide can read)."""
    chunks = _chunks(data)
    if chunks is None:
        return None
    width, height = struct.unpack(">II", next(chunks)[1][:8])
    return width, height


def header(data: bytes) -> Header | None:
    """The checked header of a PNG guide decodes, or None (not a PNG, or one past what guide decodes)."""
    chunks = _chunks(data)
    if chunks is None:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", next(chunks)[1])
    palette, idat = b"", []
    for kind, body in chunks:
        if kind == b"PLTE":
            palette = bytes(body)
        elif kind == b"IDAT":
            idat.append(body)
    if depth != 8 or interlace or colour not in CHANNELS or not width or not height:
        return None
    if width * height > MAX_PIXELS or max(width, height) > LONGEST_SIDE:
        return None
    return Header(width, height, colour, palette, tuple(idat))


def scanlines(found: Header) -> Iterator[bytes]:
    """Each row unfiltered, top to bottom (NotDecoded if the data runs short, is corrupt, or costs past MAX_WORK)."""
    stride, step = found.stride, found.step
    size = stride + 1
    top, low, every = _lanes(stride)
    inflater, pending, work = zlib.decompressobj(), bytearray(), 0
    pieces = (body[at : at + PIECE] for body in found.idat for at in range(0, len(body), PIECE))
    previous = bytes(stride)
    for _ in range(found.height):
        while len(pending) < size:
            piece = inflater.unconsumed_tail or next(pieces, None)
            if piece is None or inflater.eof:
                raise NotDecoded("the picture's data ends early")
            try:
                pending += inflater.decompress(piece, max(size, 1 << 20))
            except zlib.error as error:
                raise NotDecoded(str(error)) from None
        kind = pending[0]
        if kind > 4:
            raise NotDecoded(f"unknown row filter {kind}")
        work += stride * COST[kind]
        if work > MAX_WORK:
            raise NotDecoded("the picture takes longer to decode than guide gives one")
        raw = bytes(pending[1:size])
        del pending[:size]  # cheap: a bytearray gives up its front without moving the rest
        previous = _unfiltered(kind, raw, previous, step, (top, low, every))
        yield previous


def decode(data: bytes, rows: Collection[int] | None = None) -> Decoded | None:
    """The picture's scanlines (only `rows`, if given), or None if it is not a PNG guide reads."""
    found = header(data)
    if found is None:
        return None
    lines: dict[int, bytes] = {}
    try:
        for y, line in enumerate(scanlines(found)):
            if rows is None or y in rows:
                lines[y] = line
    except NotDecoded:
        return None
    return Decoded(found.width, found.height, found.colour, found.palette, lines)


def _lanes(size: int) -> tuple[int, int, int]:
    """Masks over `size` bytes as one integer: each byte's top bit, the other seven bits, every bit."""
    every = (1 << (8 * size)) - 1
    top = int.from_bytes(b"\x80" * size, "little")
    return top, every ^ top, every


def _added(a: int, b: int, top: int, low: int) -> int:
    """Byte-wise a + b (mod 256) on integers holding bytes: no carry crosses from one byte to the next."""
    return ((a & low) + (b & low)) ^ ((a ^ b) & top)


def _unfiltered(kind: int, raw: bytes, previous: bytes, step: int, lanes: tuple[int, int, int]) -> bytes:
    """One row with its filter undone (PNG spec §9)."""
    top, low, every = lanes
    n = len(raw)
    if kind == 0:
        return raw
    if kind == 2:
        total = _added(int.from_bytes(raw, "little"), int.from_bytes(previous, "little"), top, low)
        return total.to_bytes(n, "little")
    if kind == 1:  # a running sum along the row, as log2(n) whole-row additions (a prefix scan)
        total, shift = int.from_bytes(raw, "little"), step
        while shift < n:
            total = _added(total, (total << (8 * shift)) & every, top, low)
            shift *= 2
        return total.to_bytes(n, "little")
    # Average and Paeth depend on the byte just undone: a byte at a time, one channel at a time
    # (the left neighbour is then the last value, carried in a local: about a third faster than indexing).
    line = bytearray(n)
    for channel in range(step):
        left, corner, undone = 0, 0, list[int]()
        keep = undone.append
        if kind == 3:
            for value, up in zip(raw[channel::step], previous[channel::step]):
                left = (value + ((left + up) >> 1)) & 0xFF
                keep(left)
        else:
            for value, up in zip(raw[channel::step], previous[channel::step]):
                pa, pb, pc = abs(up - corner), abs(left - corner), abs(left + up - corner - corner)
                left = (value + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
                keep(left)
                corner = up
        line[channel::step] = bytes(undone)
    return bytes(line)


def fitted(width: int, height: int, side: int) -> tuple[int, int]:
    """The size that fits within `side` on both sides, keeping the proportions."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscaled(data: bytes, width: int, height: int) -> bytes | None:
    """The picture at a smaller size, as an RGB PNG (each new pixel the mean of four samples of its area), or None.

    Streams: of each row the samples are kept, and only of the rows sampled.
    """
    found = header(data)
    if found is None:
        return None
    samples = [_samples(y, height, found.height) for y in range(height)]
    wanted = {y for pair in samples for y in pair}
    columns = [_samples(x, width, found.width) for x in range(width)]
    left, right = _gatherer(found, [x for x, _ in columns]), _gatherer(found, [x for _, x in columns])
    top, _, every = _lanes(width * 3)
    even = every ^ (top >> 7)
    kept: dict[int, int] = {}
    try:
        for y, line in enumerate(scanlines(found)):
            if y in wanted:
                kept[y] = _mean(int.from_bytes(left(line), "little"), int.from_bytes(right(line), "little"), even)
    except NotDecoded:
        return None
    out = bytearray()
    for first, second in samples:
        out.append(0)
        out += _mean(kept[first], kept[second], even).to_bytes(width * 3, "little")
    return encode_rgb(width, height, bytes(out))


def _mean(a: int, b: int, even: int) -> int:
    """Byte-wise floor((a + b) / 2) on integers holding bytes (`even` masks each byte's low bit, so no bit crosses bytes)."""
    return (a & b) + (((a ^ b) & even) >> 1)


def _gatherer(found: Header, columns: list[int]) -> Callable[[bytes], bytes]:
    """A function from a row to the RGB bytes of the given columns, at C speed (itemgetter, translate)."""
    step, count = found.step, len(columns)
    channels = (0, 1, 2) if found.colour in (2, 6) else (0,)  # grey and palette rows give one byte a pixel
    getters = [itemgetter(*[x * step + channel for x in columns]) for channel in channels]
    tables: list[bytes | None] = [None, None, None]
    if found.colour == 3:  # colour the indices by the palette, as Decoded.pixel does (an index past it is black)
        palette = found.palette
        tables = [bytes(palette[3 * i + c] if 3 * i + 2 < len(palette) else 0 for i in range(256)) for c in range(3)]

    def gathered(row: bytes) -> bytes:
        picked = [getter(row) for getter in getters]
        values = [bytes([one]) if count == 1 else bytes(one) for one in picked]
        out = bytearray(3 * count)
        for channel in range(3):
            value, table = values[channel % len(values)], tables[channel]
            out[channel::3] = value.translate(table) if table is not None else value
        return bytes(out)

    return gathered


def _samples(at: int, count: int, source: int) -> tuple[int, int]:
    """The two source positions, a quarter and three quarters into the area of one new pixel."""
    return min(source - 1, (4 * at + 1) * source // (4 * count)), min(source - 1, (4 * at + 3) * source // (4 * count))


def encode_rgb(width: int, height: int, filtered: bytes) -> bytes:
    """An RGB PNG from scanlines that each start with their filter byte."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(filtered, 6)) + chunk(b"IEND", b"")
