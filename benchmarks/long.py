"""Long conversations: opening them, the memory they take, searching them.

Open: a fresh process per run opens the stored conversation as a user does
(F4, Enter) until its last message is on screen (headless), for 2,000 and
10,000 messages, against the same for a 10-message one, in the same run.
Memory: the whole process's peak resident size after opening each.
Find: ctrl+f in the 10,000-message one for a word only an old message holds,
until it is on screen (every turn is read from the store first).
Search: the store's full-text search for one word across 10,000 messages,
against a plain `LIKE '%word%'` scan of the same table.
Branches: the same opening for 10,000 messages with 100 branch points (an
edit each), and switching the branch point nearest the top, headless (the
conversation reads the branch's head from the store), then in the app: from the
switch until the transcript has drawn the branch at its branch point.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from long_conversation import NEEDLE, generate  # noqa: E402

SIZES = (10, 2_000, 10_000)
RUNS = 5
BRANCH_POINTS = 100


def open_once(home: Path) -> dict[str, float]:
    """opened, peak, and (when the conversation is long enough) found, peak_after_find."""
    done = subprocess.run(
        [sys.executable, str(HERE / "open_child.py")], env={**os.environ, "GUIDE_HOME": str(home)}, check=True, capture_output=True, text=True
    )
    return {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines() if line.strip())}


def search_times(home: Path) -> tuple[float, float, int]:
    os.environ["GUIDE_HOME"] = str(home)
    from guide.store import Store

    store = Store()
    db = sqlite3.connect(home / "data" / "guide.sqlite3")
    fts, scan = [], []
    found = 0
    for _ in range(20):
        started = time.perf_counter()
        found = len(store.search(NEEDLE))
        fts.append(time.perf_counter() - started)
        started = time.perf_counter()
        db.execute("SELECT id FROM messages WHERE content LIKE ?", (f"%{NEEDLE}%",)).fetchall()
        scan.append(time.perf_counter() - started)
    db.close()
    store.close()
    return statistics.median(fts), statistics.median(scan), found


def switch_times(home: Path) -> tuple[float, float]:
    """Seconds to switch the branch point nearest the top to its edit (a short branch), and back (the 10,000-message one)."""
    import asyncio

    os.environ["GUIDE_HOME"] = str(home)
    from guide.conversation import Conversation
    from guide.personas import FALLBACK
    from guide.store import Store

    async def measure() -> tuple[float, float]:
        store = Store()
        [info] = store.conversations()
        talk = await Conversation.resume(store, info.id, lambda _: FALLBACK)
        assert talk is not None
        await talk.load_all()
        top = next(turn for turn in talk.turns if talk.siblings(turn)[1] > 1)
        started = time.perf_counter()
        assert await talk.switch(top, 1)
        there = time.perf_counter() - started
        edited = next(turn for turn in talk.turns if turn.parent == top.parent)
        started = time.perf_counter()
        assert await talk.switch(edited, -1)
        back = time.perf_counter() - started
        store.close()
        return there, back

    return asyncio.run(measure())


def redraw_times(home: Path) -> tuple[float, float]:
    """Milliseconds from ] on the branch point nearest the top (in the app, its window at the first messages) until the
    transcript shows the edit's branch, and from [ until it shows the 10,000-message one again (at its branch point: the
    version switched to stays where the eye is, and the rest of the branch is read as it is scrolled to)."""
    import asyncio

    os.environ["GUIDE_HOME"] = str(home)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from tui_helpers import settle

    from guide.conversation import Conversation
    from guide.tui.app import GuideApp
    from guide.tui.widgets.transcript import MessageView, Transcript

    async def measure() -> tuple[float, float]:
        app = GuideApp(flags={"base_url": "http://127.0.0.1:9", "model": "none"})  # nothing is sent: no server is needed
        marks: list[float] = []

        def marked(method: Any) -> Any:
            async def timed(*args: Any) -> Any:
                try:
                    return await method(*args)
                finally:
                    marks.append(time.perf_counter())

            return timed

        # From the switch asked of the conversation until the transcript has redrawn (and revealed the version chosen, when
        # it is held): the keys' own way through Pilot is not the app's time.
        switch, follow, reveal = Conversation.switch, Transcript.follow_branch, Transcript.reveal

        async def switched(self: Any, turn: Any, step: int) -> bool:
            marks.clear()
            marks.append(time.perf_counter())
            return await switch(self, turn, step)

        Conversation.switch = switched  # type: ignore[method-assign]
        Transcript.follow_branch, Transcript.reveal = marked(follow), marked(reveal)  # type: ignore[method-assign]
        took: list[float] = []
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                await settle(pilot)
                await pilot.press("f4")
                await settle(pilot, 0.3)
                await pilot.press("enter")
                await settle(pilot, 0.5)
                await pilot.press("ctrl+home")
                await settle(pilot, 0.5)
                transcript, talk = app.chat.transcript, app.chat.conversation
                for key in ("]", "["):
                    top = next(v.turn for v in transcript.views if isinstance(v, MessageView) and v.turn and talk.siblings(v.turn)[1] > 1)
                    transcript.focus()
                    transcript.choose(top)
                    await pilot.press(key)
                    await app.workers.wait_for_complete()
                    took.append((max(marks) - marks[0]) * 1000)
        finally:
            Conversation.switch, Transcript.follow_branch, Transcript.reveal = switch, follow, reveal  # type: ignore[method-assign]
        return took[0], took[1]

    return asyncio.run(measure())


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    opened: dict[int, float] = {}
    peaks: dict[int, float] = {}
    out = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in SIZES:
            home = Path(scratch) / str(size)
            generate(home, size)
            runs = [open_once(home) for _ in range(RUNS)]
            opened[size] = statistics.median(run["opened"] for run in runs)
            peaks[size] = max(run["peak"] for run in runs)
        find = statistics.median(run["found"] for run in runs)
        find_peak = max(run["peak_after_find"] for run in runs)
        fts, scan, found = search_times(Path(scratch) / str(SIZES[-1]))
        branched = Path(scratch) / "branched"
        generate(branched, SIZES[-1], branches=BRANCH_POINTS)
        branched_runs = [open_once(branched) for _ in range(RUNS)]
        there, back = switch_times(branched)
        drawn_there, drawn_back = redraw_times(branched)
    if found != 1:
        raise SystemExit(f"search found {found} messages holding {NEEDLE!r}, not 1")
    anchor = f"open {SIZES[0]} messages"
    small, big = SIZES[0], SIZES[-1]
    peak_anchor = f"peak, {small} messages"
    out.append((f"open a {small}-message conversation → last message on screen", opened[small], "s", 1.0, anchor))
    for size in SIZES[1:]:
        out.append((f"open a {size:,}-message conversation (target ≤ 1.5×)", opened[size], "s", opened[size] / opened[small], anchor))
    out.append((f"peak memory, {small}-message conversation open", peaks[small], "MiB", 1.0, peak_anchor))
    out.append((f"peak memory, {big:,}-message conversation open (target ≤ 150 MiB)", peaks[big], "MiB", peaks[big] / peaks[small], peak_anchor))
    opened_branched = statistics.median(run["opened"] for run in branched_runs)
    peak_branched = max(run["peak"] for run in branched_runs)
    out.append(
        (f"open {big:,} messages, {BRANCH_POINTS} branch points (target ≤ 1.5×)", opened_branched, "s", opened_branched / opened[small], anchor)
    )
    out.append(
        (f"peak memory, {big:,} messages, {BRANCH_POINTS} branch points (≤ 150 MiB)", peak_branched, "MiB", peak_branched / peaks[small], peak_anchor)
    )
    out.append(("switch the top branch point to its edit (headless)", there * 1000, "ms", there / opened[small], anchor))
    out.append((f"switch it back: a {big:,}-message branch (target < 100 ms)", back * 1000, "ms", back / opened[small], anchor))
    drawn = "drawn (target < 100 ms)"
    out.append((f"] on the top branch point → the edit's branch {drawn}", drawn_there, "ms", drawn_there / 1000 / opened[small], anchor))
    out.append((f"[ back → the {big:,}-message branch at its branch point {drawn}", drawn_back, "ms", drawn_back / 1000 / opened[small], anchor))
    out.append((f"find (ctrl+f) one old message in {big:,} → on screen", find, "s", find / opened[small], anchor))
    out.append((f"peak memory after that find (all {big:,} turns read)", find_peak, "MiB", find_peak / peaks[small], peak_anchor))
    out.append((f"LIKE scan for a word in {big:,} messages", scan * 1000, "ms", 1.0, "LIKE scan"))
    out.append((f"search {big:,} messages, full-text index (target < 50 ms)", fts * 1000, "ms", fts / scan, "LIKE scan"))
    return out


if __name__ == "__main__":
    for name, value, unit, ratio, anchor in rows():
        print(f"{name:<66} {value:9.3f} {unit:<5} {ratio:5.2f}× {anchor}")
