"""Open the first stored conversation the way a user does (F4, Enter), headless, once.

GUIDE_HOME=... python benchmarks/open_child.py

Prints `opened <seconds>` (Enter until the last message is on screen),
`peak <MiB>` (the whole process's peak resident memory then), and, after
ctrl+f for the word only one old message holds, `found <seconds>` (Enter
until that message is on screen) and `peak_after_find <MiB>`.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

from guide.tui.app import GuideApp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from long_conversation import NEEDLE, NEEDLE_AT


def on_screen(app: GuideApp, text: str) -> bool:
    """Whether the last message's view is mounted and inside the transcript's visible region."""
    view = app.chat.transcript.last_message()
    if view is None or view.text != text or not view.is_attached:
        return False
    return bool(view.region and app.chat.transcript.region.contains_region(view.region))


def found_on_screen(app: GuideApp, word: str) -> bool:
    """Whether the search's current message is mounted and visible."""
    transcript = app.chat.transcript
    views = [v for v in transcript.views if v.has_class("found-current")]
    return bool(views and word in views[0].turn.content and views[0].region and transcript.region.overlaps(views[0].region))  # type: ignore[attr-defined]


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would include the parent's, kept across exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


async def main() -> None:
    app = GuideApp(flags={"base_url": "http://127.0.0.1:9", "model": "bench"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await app.session.started.wait()
        while app.session.store is None:  # it opens in a thread of its own, and may come after the app has started
            await pilot.pause(0.05)
        store = app.session.store
        [info] = store.conversations()[:1]
        last = store.page(info.id, limit=1)[0].content
        await pilot.press("f4")
        while app.screen is app.chat:
            await pilot.pause(0.01)
        await pilot.pause(0.1)
        started = time.perf_counter()
        await pilot.press("enter")
        while not on_screen(app, last):
            await pilot.pause(0)
        elapsed = time.perf_counter() - started
        await pilot.pause(0.3)
        print(f"opened {elapsed:.6f}\npeak {peak_mib():.1f}", flush=True)
        if info.messages > NEEDLE_AT:
            await pilot.press("ctrl+f", *NEEDLE)
            started = time.perf_counter()
            await pilot.press("enter")
            while not found_on_screen(app, NEEDLE):
                await pilot.pause(0)
            print(f"found {time.perf_counter() - started:.6f}\npeak_after_find {peak_mib():.1f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        raise SystemExit(__doc__)
    asyncio.run(main())
