"""Make the README's screenshots: the real app, driven by Pilot.

    python screenshots/make.py [WORD…]  (writes screenshots/*.svg, or only the scenes whose names hold a WORD; --png adds PNGs via rsvg-convert)

Most scenes talk over real HTTP to the test suite's scripted loopback server,
and say so: its one model is called `scripted-replies`, so the header never
names a model that did not write the words on screen. A transport shows it as
http://127.0.0.1:8080 so the pictures do not change with the port. The
companion scene is the real thing: guide starts its companion, and with the
`local` extra SmolLM2-135M writes the reply (the picture then differs from run
to run, as the model's words do). Settings and data go to a scratch GUIDE_HOME.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

sys.path.insert(0, str(HERE.parent / "benchmarks"))

from long_conversation import NEEDLE, generate  # noqa: E402
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse  # noqa: E402
from tui_helpers import RedirectTransport, settle, wait_until_connected  # noqa: E402

SIZE = (140, 40)
SCRIPTED = "scripted-replies"
"""The loopback server's only model: the header says plainly that the replies are scripted."""
REPLY = (
    "That sounds like a lot to carry at once, Fira.\n\n"
    "When everything feels urgent, it can help to pick **one small thing** and let the rest wait a moment:\n\n"
    "- What would make tomorrow morning a little lighter?\n"
    "- Which worry is asking for action, and which only for attention?\n\n"
    "We can look at them together, one at a time."
)


def calm_reply() -> Stream:
    words = REPLY.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    usage = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": SCRIPTED,
        "choices": [],
        "usage": {"prompt_tokens": 212, "completion_tokens": 61, "total_tokens": 273},
    }
    chunks = [*[chat_chunk(p) for p in pieces], chat_chunk(finish="stop")]
    for chunk in chunks:
        chunk["model"] = SCRIPTED
    return Stream(sse(*chunks, usage))


def short_reply(*pieces: str) -> Stream:
    """A reply in a few frames: a side by side of two of them fits a small screen."""
    chunks = [*[chat_chunk(p) for p in pieces], chat_chunk(finish="stop")]
    for chunk in chunks:
        chunk["model"] = SCRIPTED
    return Stream(sse(*chunks))


def size_of(name: str) -> tuple[int, int]:
    """The screen a scene's name asks for (…-at-80x24), else SIZE."""
    found = re.search(r"at-(\d+)x(\d+)", name)
    return (int(found[1]), int(found[2])) if found else SIZE


def calm_tool_answer() -> Stream:
    """The answer after the tool's result went back: the time, as the tool said it."""
    import datetime

    clock = datetime.datetime.now().astimezone().strftime("%H:%M")
    chunks = [chat_chunk(f"{clock}, by your clock."), chat_chunk(finish="stop")]
    for chunk in chunks:
        chunk["model"] = SCRIPTED
    return Stream(sse(*chunks))


async def shoot(name: str, server: LoopbackServer, steps: object, out: Path, size: tuple[int, int] = SIZE) -> None:
    from guide.tui.app import GuideApp

    if name.endswith("companion"):
        app = GuideApp()  # nothing configured: guide finds no local server and starts its companion
    else:
        app = GuideApp(flags={"base_url": "http://127.0.0.1:8080", "model": SCRIPTED}, transport=RedirectTransport(int(server.url.rsplit(":", 1)[1])))
    try:
        await run(app, steps, out / f"{name}.svg", size)
    finally:
        answering = app.session.server.answering
        started = answering.companion.process if answering is not None and answering.companion is not None else None
        if started is not None:  # the companion outlives guide for a while; the next scene would find it busy and take the next port
            started.terminate()
            started.wait(10)
    print(f"wrote {out / name}.svg")


async def run(app: object, steps: object, svg: Path, size: tuple[int, int]) -> None:
    async with app.run_test(size=size, notifications=True) as pilot:  # type: ignore[attr-defined]
        await settle(pilot, 0.3)
        await steps(pilot)  # type: ignore[operator]
        if app.screen is app.chat:
            await settle(pilot, 0.3)
        else:
            await pilot.pause(0.5)  # a picker's worker waits for the choice: settling would wait for ever
        for trace in app.chat.panel.traces.values():
            trace.total_ms = trace.total_ms and round(trace.total_ms / 100) * 100 + 100  # steady figures
            app.chat.panel.show(trace)
        app.chat.composer.cursor_blink = False
        await pilot.pause(0.1)
        app.save_screenshot(str(svg))  # type: ignore[attr-defined]


async def send(pilot: object, text: str) -> None:
    app = pilot.app  # type: ignore[attr-defined]
    app.chat.composer.text = text
    app.chat.composer.focus()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot, 0.3)  # type: ignore[arg-type]


async def main(out: Path, png: bool) -> None:
    server = LoopbackServer(models=[SCRIPTED])

    async def nothing(pilot: object) -> None:
        pass

    async def conversation(pilot: object) -> None:
        server.push(calm_reply())
        await send(pilot, "I have too many things on my mind tonight.")
        await send(pilot, "/understand a quiet lake | a calm sea")

    async def detail(pilot: object) -> None:
        await conversation(pilot)
        await pilot.press("f2")  # type: ignore[attr-defined]
        await pilot.press("up", "enter")  # type: ignore[attr-defined]
        await settle(pilot, 0.2)  # type: ignore[arg-type]
        pilot.app.screen.query_one("#call-tabs").active = "tab-response"  # type: ignore[attr-defined]

    async def the_map(pilot: object) -> None:
        await conversation(pilot)
        await pilot.press("f3")  # type: ignore[attr-defined]
        await settle(pilot, 0.5)  # type: ignore[arg-type]

    async def persona(pilot: object) -> None:
        await pilot.press("f5")  # type: ignore[attr-defined]

    async def failure(pilot: object) -> None:
        server.push(
            Answer(
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided: ••••a1b2.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
        )
        await send(pilot, "Are you there?")

    async def companion(pilot: object) -> None:
        await wait_until_connected(pilot)  # type: ignore[arg-type]
        await settle(pilot, 7)  # type: ignore[arg-type]  # the "who is answering" notice has gone; the header says it
        await send(pilot, "I feel a little lost tonight.")
        for _ in range(300):  # the real model writes the reply
            await pilot.pause(0.1)  # type: ignore[attr-defined]
            if not pilot.app.chat.streaming:  # type: ignore[attr-defined]
                break

    async def small_screen(pilot: object) -> None:
        server.push(calm_reply())
        await send(pilot, "I have too many things on my mind tonight.")
        await pilot.press("f7")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]

    async def long_one(pilot: object) -> None:
        generate(Path(os.environ["GUIDE_HOME"]), 10_000, title="Evening walks, all year")
        await pilot.press("f4")  # type: ignore[attr-defined]
        await settle(pilot, 0.2)  # type: ignore[arg-type]

    async def search(pilot: object) -> None:
        await long_one(pilot)
        await pilot.press("slash", *"lantern harbour")  # type: ignore[attr-defined]

    async def find(pilot: object) -> None:
        await long_one(pilot)
        await pilot.press("enter")  # type: ignore[attr-defined]
        await settle(pilot, 0.3)  # type: ignore[arg-type]
        await pilot.press("ctrl+f", *NEEDLE, "enter")  # type: ignore[attr-defined]

    async def tour_companion(pilot: object) -> None:
        from guide.tui.screens.call_detail import CallDetail

        app = pilot.app  # type: ignore[attr-defined]
        await wait_until_connected(pilot)  # type: ignore[arg-type]
        await settle(pilot, 7)  # type: ignore[arg-type]
        app.chat.composer.text = "/tour"
        await pilot.press("enter")  # type: ignore[attr-defined]
        for step in range(2):  # catalog, then think: the real model answers, and the Request tab opens on its body
            for _ in range(300):
                await pilot.pause(0.1)  # type: ignore[attr-defined]
                if isinstance(app.screen, CallDetail) and app.screen.lesson and app.screen.lesson.number == step + 1:
                    break
            await pilot.pause(0.5)  # type: ignore[attr-defined]  # let the step finish mounting: Enter as it mounts can crash Textual's tabs
            if step == 0:
                await pilot.press("enter")  # type: ignore[attr-defined]
        area = app.screen.query_one("#text-request")
        row = next(i for i, line in enumerate(area.text.split("\n")) if '"max_tokens"' in line)
        area.focus()
        area.move_cursor((row, 5))
        await pilot.pause(0.2)  # type: ignore[attr-defined]

    async def replay_companion(pilot: object) -> None:
        from guide.tui.screens.call_detail import CallDetail

        app = pilot.app  # type: ignore[attr-defined]
        await companion(pilot)
        await pilot.press("f2", "enter")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]
        first = app.screen
        await pilot.press("e")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]
        await pilot.press("ctrl+t", "ctrl+s")  # type: ignore[attr-defined]
        for _ in range(300):  # the real model answers again, in one JSON body this time
            await pilot.pause(0.1)  # type: ignore[attr-defined]
            if isinstance(app.screen, CallDetail) and app.screen is not first:
                break
        await pilot.pause(0.3)  # type: ignore[attr-defined]

    async def reasoning(pilot: object) -> None:
        from guide.tui.widgets.messages import ThoughtBlock

        thought = (
            "Fira says her mind is full tonight. She does not need a plan from me; she needs a little room. One small question, then let her choose."
        )
        words = thought.split(" ")
        frames = []
        for i, word in enumerate(words):
            chunk = chat_chunk()
            chunk["choices"][0]["delta"] = {"reasoning_content": word if i == 0 else " " + word}
            frames.append(chunk)
        answer = "Then let us set one thing down first, Fira. Which of them is loudest right now?"
        frames += [chat_chunk(w if i == 0 else " " + w) for i, w in enumerate(answer.split(" "))]
        frames.append(chat_chunk(finish="stop"))
        for frame in frames:
            frame["model"] = SCRIPTED
        server.push(Stream(sse(*frames), pause=0.05))
        await send(pilot, "I have too many things on my mind tonight.")
        block = pilot.app.chat.query(ThoughtBlock).last()  # type: ignore[attr-defined]
        block.collapsed = False
        await settle(pilot, 0.2)  # type: ignore[arg-type]

    async def tool_round(pilot: object) -> None:
        from loopback import tool_call_chunk

        await send(pilot, "/persona toolsmith")
        asked = [tool_call_chunk(0, id="call_1", name="now", arguments="{}"), tool_call_chunk(0, finish="tool_calls")]
        for frame in asked:
            frame["model"] = SCRIPTED
        server.push(Stream(sse(*asked)), calm_tool_answer())
        await send(pilot, "What time is it where I am?")
        await pilot.press("f2")  # type: ignore[attr-defined]
        await settle(pilot, 0.2)  # type: ignore[arg-type]

    async def notice_cut(pilot: object) -> None:
        await failure(pilot)  # the 401's notice: the server's words and the hint, more than two lines of a toast

    async def notices_list(pilot: object) -> None:
        await send(pilot, "/persona nobody-by-that-name")
        await failure(pilot)
        await pilot.press("f8")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]

    async def persona_form(pilot: object) -> None:
        await pilot.press("f5")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]
        await pilot.press("end", "up", "enter")  # type: ignore[attr-defined]  # "+ New persona…", just above "Edit"
        await pilot.pause(0.3)  # type: ignore[attr-defined]

    async def replay_beside(pilot: object) -> None:
        from guide.tui.screens.call_detail import CallDetail

        app = pilot.app  # type: ignore[attr-defined]
        server.push(short_reply("Then let us", " set one thing", " down first, Fira."))
        await send(pilot, "I have too many things on my mind tonight.")
        await pilot.press("f2", "enter")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]
        first = app.screen
        await pilot.press("e")  # type: ignore[attr-defined]
        await pilot.pause(0.3)  # type: ignore[attr-defined]
        editor = app.screen.query_one("#replay-body")
        body = json.loads(editor.text)
        body["temperature"] = 0.2
        editor.load_text(json.dumps(body, indent=2, ensure_ascii=False))
        server.push(short_reply("Then let us", " set one thing", " aside first, Fira."))
        await pilot.press("ctrl+s")  # type: ignore[attr-defined]
        for _ in range(100):
            await pilot.pause(0.1)  # type: ignore[attr-defined]
            if isinstance(app.screen, CallDetail) and app.screen is not first:
                break
        await pilot.pause(0.5)  # type: ignore[attr-defined]

    async def branch_point(pilot: object) -> None:
        server.push(calm_reply())
        await send(pilot, "I have too many things on my mind tonight.")
        server.push(short_reply("Then let us start", " with Friday.", " What does it ask of you?"))
        await send(pilot, "Mostly work: a deadline on Friday.")
        await pilot.press("tab", "up", "up", "e")  # type: ignore[attr-defined]  # the message above the last reply, edited
        pilot.app.chat.composer.text = "Mostly my sister: she moves away on Friday."  # type: ignore[attr-defined]
        server.push(short_reply("That is a big change,", " and a tender one.", " How are you with it?"))
        await pilot.press("enter")  # type: ignore[attr-defined]
        await settle(pilot, 0.3)  # type: ignore[arg-type]
        await pilot.press("tab", "up", "up", "[")  # type: ignore[attr-defined]  # back to the first version: ‹ 1 / 2 ›
        await settle(pilot, 0.3)  # type: ignore[arg-type]
        pilot.app.clear_notifications()  # type: ignore[attr-defined]  # the edit's notice has been read: the calls show

    async def branches_compared(pilot: object) -> None:
        await branch_point(pilot)
        await pilot.press("d")  # type: ignore[attr-defined]
        await pilot.pause(0.5)  # type: ignore[attr-defined]

    scenes = [
        ("01-greeting", nothing),
        ("02-reply-and-calls", conversation),
        ("03-call-detail", detail),
        ("04-map", the_map),
        ("05-persona-picker", persona),
        ("06-error", failure),
        ("07-companion", companion),
        ("08-search-every-conversation", search),
        ("09-find-in-10000-messages", find),
        ("10-server-picker-at-80x24", small_screen),
        ("11-tour-companion", tour_companion),
        ("12-replay-beside-companion", replay_companion),
        ("13-reasoning-reply", reasoning),
        ("14-tool-round-in-the-calls", tool_round),
        ("15-notice-cut-at-80x24", notice_cut),
        ("16-notice-cut-at-120x40", notice_cut),
        ("17-recent-notices-at-80x24", notices_list),
        ("18-recent-notices-at-120x40", notices_list),
        ("19-new-persona-at-80x24", persona_form),
        ("20-replay-beside-at-80x24", replay_beside),
        ("21-call-detail-at-120x40", detail),
        ("22-branch-point", branch_point),
        ("23-branches-compared", branches_compared),
    ]
    only = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    scenes = [(name, steps) for name, steps in scenes if not only or any(word in name for word in only)]
    try:
        for name, steps in scenes:
            with tempfile.TemporaryDirectory() as home:
                os.environ["GUIDE_HOME"] = home
                await shoot(name, server, steps, out, size_of(name))
    finally:
        server.close()
    if png:
        if not shutil.which("rsvg-convert"):
            raise SystemExit("rsvg-convert is not installed (apt-get install librsvg2-bin)")
        for svg in sorted(out / f"{name}.svg" for name, _ in scenes):
            # Textual's SVG keeps each line's indentation as no-break spaces, which rsvg drops unless told to keep them.
            preserved = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
            subprocess.run(["rsvg-convert", "-o", str(svg.with_suffix(".png"))], input=preserved.encode(), check=True)
            print(f"wrote {svg.with_suffix('.png')}")


if __name__ == "__main__":
    asyncio.run(main(HERE, "--png" in sys.argv))
