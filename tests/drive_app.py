"""Drive the real app headless in its own process, for tests that kill it or run two at once.

    GUIDE_HOME=... python tests/drive_app.py BASE_URL COUNT [--then-stream]

Sends COUNT messages one after another, each waiting for its reply, and
prints `replied N` after each. With --then-stream it prints `ready`, waits
for a line on stdin (the test readies its server), sends one more message
and prints `streaming` once its reply has begun, then waits to be killed.
At the end it prints every notice the app showed, one per line, as
`notice SEVERITY TITLE: MESSAGE`, then `done`.
"""

from __future__ import annotations

import asyncio
import sys

from guide.tui.app import GuideApp


async def main(base_url: str, count: int, then_stream: bool) -> None:
    app = GuideApp(flags={"base_url": base_url, "model": "loopback-model"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        for n in range(count):
            app.chat.composer.text = f"message {n} from process"
            await pilot.press("enter")
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            print(f"replied {n}", flush=True)
        if then_stream:
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            app.chat.composer.text = "the last words"
            await pilot.press("enter")
            for _ in range(1000):
                view = app.chat.transcript.last_message("assistant")
                if app.chat.streaming and view is not None and view.body.source:  # words are on screen
                    print("streaming", flush=True)
                    await asyncio.sleep(60)
                await pilot.pause(0.01)
            print("never streamed", flush=True)
        for notice in app.recent.said:
            print(f"notice {notice.severity} {notice.title}: {notice.message}".replace("\n", " "), flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), "--then-stream" in sys.argv))
