"""The terminal app: launch to greeting, and rendering a 20,000-chunk reply.

Launch: a fresh process until the greeting is painted (headless), against a
minimal Textual app that shows one line, in the same run.
Render: a 20,000-chunk reply streamed from a loopback server as fast as it
can send, until the last word is rendered, against writing the same chunks
one by one into a plain Log widget.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from stream_server import expected_text  # noqa: E402

CHUNKS = 20_000
LAUNCHES = 9
RENDERS = 3


def launch(*which: str) -> list[float]:
    """The median launch of each app, launched in turns (bare, guide, bare, …) so that a busy moment weighs on both."""
    times: list[list[float]] = [[] for _ in which]
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as bytecode:
        # As a user's second launch: modules compiled once (an editable install under PYTHONDONTWRITEBYTECODE
        # would otherwise compile every module at every launch), into a cache of the benchmark's own.
        env = {**os.environ, "GUIDE_HOME": home, "PYTHONPYCACHEPREFIX": bytecode}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for app in which:
            subprocess.run([sys.executable, str(HERE / "launch_child.py"), app], check=True, env=env, capture_output=True)
        for _ in range(LAUNCHES):
            for app, kept in zip(which, times):
                started = time.time()
                done = subprocess.run([sys.executable, str(HERE / "launch_child.py"), app], check=True, env=env, capture_output=True, text=True)
                if "painted " not in done.stdout:
                    raise SystemExit(f"the {app} app did not paint:\n{done.stdout[-2000:]}")
                kept.append(float(done.stdout.split("painted ")[1].split()[0]) - started)
    return [statistics.median(kept) for kept in times]


async def render_guide(base: str) -> float:
    from guide.tui.app import GuideApp

    app = GuideApp(flags={"base_url": base, "model": "bench"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.chat.composer.text = "Go."
        started = time.perf_counter()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        elapsed = time.perf_counter() - started
        view = app.chat.transcript.last_message("assistant")
        if view is None or view.text != expected_text(CHUNKS) or view.body.source != expected_text(CHUNKS):
            raise SystemExit("the app's reply (or what it rendered) does not equal the stream's text")
    return elapsed


async def render_log(base: str) -> float:
    from textual.app import App, ComposeResult
    from textual.widgets import Log

    from guide import AsyncGuide

    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Log()

    app = LogApp()
    async with app.run_test(size=(120, 40)) as pilot, AsyncGuide(base_url=base, model="bench") as ai:
        log = app.query_one(Log)
        started = time.perf_counter()
        async for piece in ai.think("Go.", stream=True):
            log.write(piece)
            await asyncio.sleep(0)
        await pilot.pause()
        return time.perf_counter() - started


def launch_with_companion() -> tuple[float, float]:
    """Launch to greeting, and launch to the companion answering, when the app must start its companion (median of LAUNCHES).

    Each launch has a fresh port with nothing on it, so the app starts `guide serve` there; the companion is
    stopped by its pid (from the data folder) after each launch, as it would otherwise outlive the app.
    """
    import json
    import signal
    import socket

    painted, answering = [], []
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as bytecode:
        env = {**os.environ, "GUIDE_HOME": home, "PYTHONPYCACHEPREFIX": bytecode, "GUIDE_GGUF": "none"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for n in range(LAUNCHES + 1):  # the first compiles the modules, as in launch()
            with socket.socket() as free:
                free.bind(("127.0.0.1", 0))
                env["GUIDE_COMPANION_PORT"] = str(free.getsockname()[1])
            started = time.time()
            try:
                done = subprocess.run(
                    [sys.executable, str(HERE / "launch_child.py"), "companion"], env=env, capture_output=True, text=True, timeout=120
                )
            finally:
                for record in Path(home, "data", "companion").glob("*.json"):
                    try:
                        os.kill(int(json.loads(record.read_text())["pid"]), signal.SIGTERM)
                    except (OSError, ValueError, KeyError):
                        pass
            if "answering " not in done.stdout:
                raise SystemExit(f"the app did not find its companion:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            if n:
                painted.append(float(done.stdout.split("painted ")[1].split()[0]) - started)
                answering.append(float(done.stdout.split("answering ")[1].split()[0]) - started)
    return statistics.median(painted), statistics.median(answering)


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    bare, ours = launch("bare", "guide")
    greeted, answered = launch_with_companion()
    out = [
        ("launch → first line: minimal Textual app", bare, "s", 1.0, "bare Textual"),
        ("launch → greeting: guide (target ≤ 1.4×)", ours, "s", ours / bare, "bare Textual"),
        ("launch → greeting: guide starting its companion in its own process (target ≤ 1.5×)", greeted, "s", greeted / bare, "bare Textual"),
        ("launch → the companion answering (guide serve started by the app)", answered, "s", answered / bare, "bare Textual"),
    ]
    log, guide = render()
    out += [
        (f"render {CHUNKS:,} chunks: Log widget per chunk", log, "s", 1.0, "Log"),
        (f"render {CHUNKS:,} chunks: guide transcript (target ≤ 0.25×)", guide, "s", guide / log, "Log"),
    ]
    return out


def render() -> tuple[float, float]:
    """The Log's render and guide's, each in a fresh process (no cache warmed by the other), in turns; the medians of RENDERS.

    One render of each swings with a busy machine (a Log run took 6 s, then 15 s); turns and medians keep the ratio honest.
    """
    server = subprocess.Popen([sys.executable, str(HERE / "stream_server.py"), str(CHUNKS)], stdout=subprocess.PIPE, text=True)
    logs, guides = [], []
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as bytecode:
            env = {**os.environ, "GUIDE_HOME": home, "PYTHONPYCACHEPREFIX": bytecode}  # compiled, as in launch()
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            for which in ("log", "guide"):  # the first compiles the modules each imports on the way
                subprocess.run([sys.executable, __file__, "render", which, base], env=env, capture_output=True, check=True)
            for _ in range(RENDERS):
                for which, times in (("log", logs), ("guide", guides)):
                    done = subprocess.run([sys.executable, __file__, "render", which, base], env=env, capture_output=True, text=True, check=True)
                    times.append(float(done.stdout.split()[-1]))
    finally:
        server.kill()
        server.wait()
    return statistics.median(logs), statistics.median(guides)


if __name__ == "__main__" and sys.argv[1:2] == ["render"]:
    print(asyncio.run((render_log if sys.argv[2] == "log" else render_guide)(sys.argv[3])))
elif __name__ == "__main__":
    for name, value, unit, ratio, anchor in rows():
        print(f"{name:<58} {value:8.3f} {unit}  {ratio:5.2f}× {anchor}")
