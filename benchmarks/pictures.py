"""/attach of the worst pictures within guide's limits: peak memory and time.

Each picture is written to a file, then a fresh process attaches it as the
app does (`prepare`: read, check, make smaller if it is over 1,024 px a side)
and draws the preview the message shows (`half_blocks`, 32 columns), once
timed, once under tracemalloc for the peak of what Python allocated. The
limits: 20 MB a file, 4096×4096 pixels and 16,384 a side, and the decoder's
work budget (`_png.MAX_WORK`), which each "to the budget" picture spends
whole with one row filter. The target (issue 23) is under 100 MB and 1 s;
the issue measured 1,484 MB and 4.6–16 s for a 32 KB PNG of 1 × 16,777,216.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, colour: int, kind: int, *, noise: bool, headers: int = 1) -> bytes:
    """A PNG whose every row uses filter `kind` (noise: random bytes, which do not compress; else zeros)."""
    step = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    rng = random.Random(7)
    row = bytes(width * step)
    raw = b"".join(bytes([kind]) + (rng.randbytes(width * step) if noise else row) for _ in range(height))
    first = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
    extra = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, colour, 0, 0, 0)) if headers == 2 else b""
    return b"\x89PNG\r\n\x1a\n" + extra + first + chunk(b"IDAT", zlib.compress(raw, 1 if noise else 9)) + chunk(b"IEND", b"")


def pictures() -> dict[str, bytes]:
    """The worst pictures within the limits (and the two from the issue, which are past them)."""
    return {
        "4096×4096 RGBA, every row Up (the pixel limit)": png(4096, 4096, 6, 2, noise=False),
        "4096×3840 RGBA, every row Sub (the work budget)": png(4096, 3840, 6, 1, noise=False),
        "2048×822 RGBA noise, every row Average (the work budget)": png(2048, 822, 6, 3, noise=True),
        "2048×384 RGBA noise, every row Paeth (the work budget)": png(2048, 384, 6, 4, noise=True),
        "2600×2600 RGB noise, 20 MB (the file limit)": png(2600, 2600, 2, 0, noise=True),
        "1024×1024 RGB noise, every row Paeth (sent untouched; the preview decodes it)": png(1024, 1024, 2, 4, noise=True),
        "1 × 16,777,216 grey, 32 KB (issue 23 item 6: past the 16,384 rows)": png(1, 16_777_216, 0, 0, noise=False),
        "two IHDR, 1×1 then 1 × 16,777,216 (item 7: refused)": png(1, 16_777_216, 0, 0, noise=False, headers=2),
    }


def attach(path: Path) -> str:
    """What /attach does with the file, then the preview of what would be sent."""
    from guide.client import GuideError
    from guide.client._pictures import prepare
    from guide.tui.widgets.picture import half_blocks

    try:
        prepared = prepare(str(path))
    except GuideError as error:
        return f"refused: {error.title}"
    drawn = half_blocks(prepared.data, columns=32) if prepared.data else None
    return f"{prepared.note} {'preview drawn' if drawn is not None else 'no preview'}"


def child(path: Path) -> None:
    import guide.client._pictures  # imports are not the attach's time
    import guide.tui.widgets.picture  # noqa: F401

    started, cpu = time.perf_counter(), time.process_time()
    said = attach(path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    tracemalloc.start()
    attach(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{seconds} {cpu} {peak} {said}")


def measure(path: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak MB and what /attach said."""
    done = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True, timeout=600)
    seconds, cpu, peak, said = done.stdout.strip().split(" ", 3)
    return float(seconds), float(cpu), int(peak) / 2**20, said


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    measured: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, data) in enumerate(pictures().items()):
            path = Path(scratch) / f"picture-{number}.png"
            path.write_bytes(data)
            seconds, cpu, peak, said = measure(path)
            measured[name] = (seconds, cpu, peak)
            shown = f"{seconds:.2f} s ({cpu:.2f} s of CPU)"
            print(f"  /attach {name} ({len(data) / 2**20:.2f} MB): {shown}, peak {peak:.1f} MB — {said}", file=sys.stderr)
    slowest = max(measured, key=lambda name: measured[name][1])
    largest = max(measured, key=lambda name: measured[name][2])
    cpu, wall, peak = measured[slowest][1], measured[slowest][0], measured[largest][2]
    return [
        (f"/attach + preview, slowest within the limits, CPU time: {slowest} (target < 1 s)", cpu, "s", cpu, "target 1 s"),
        ("/attach + preview, the same picture, wall time (the machine's load included) (target < 1 s)", wall, "s", wall, "target 1 s"),
        (f"/attach + preview, peak memory, largest within the limits: {largest} (target < 100 MB)", peak, "MB", peak / 100, "target 100 MB"),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]))
    else:
        for row in rows():
            print(row)
