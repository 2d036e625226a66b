"""Launch: what is done before the greeting's first frame, seen in a real process that leaves as soon as it is painted.

The benchmark (benchmarks/tui.py, launch → greeting) says how long; these say what is on the way, so a change that
puts the store, the network, the tour or a second greeting back on it turns a test red rather than a figure slower.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import gc, json, sys
gc.disable()  # as `guide` does before it imports the app (guide.cli.run_app; test_guide_turns_collections_off_before_importing_the_app)
import guide.tui.app as guide_app
from guide.tui.screens import chat

collected = sum(stat["collections"] for stat in gc.get_stats())
greetings, focused = [], []

class Greeting(chat.MessageView):
    def __init__(self, role, *args, **options):
        super().__init__(role, *args, **options)
        if role == "greeting":
            greetings.append(self)

class Watched(chat.Transcript):
    def on_focus(self):
        focused.append("transcript")

chat.MessageView, chat.Transcript = Greeting, Watched
seen = {}

class Painted(guide_app.GuideApp):
    def on_mount(self):  # Textual calls GuideApp.on_mount too (after this one): the first frame is the next refresh
        self.call_after_refresh(self.painted)

    def painted(self):
        seen["modules"] = sorted(sys.modules)
        seen["collections"] = sum(stat["collections"] for stat in gc.get_stats()) - collected
        seen["greetings"], seen["focused"] = len(greetings), focused
        seen["focus"] = self.screen.focused.id if self.screen.focused is not None else None
        seen["rules"] = sorted({name for rule in self.stylesheet.rules for name in rule.selector_names})
        self.call_later(self.after)

    def after(self):
        seen["collecting_after"] = gc.isenabled()
        seen["frozen_after"] = gc.get_freeze_count()
        print(json.dumps(seen), flush=True)
        self.exit()

Painted(flags={"base_url": sys.argv[1], "model": "loopback-model"}).run(headless=True)
"""

NOT_AT_FIRST_PAINT = (
    "httpx",  # the first call brings it
    "sqlite3",
    "guide.store",  # opened off the loop, after the first frame
    "guide.companion",
    "jsonschema",
    "markdown_it",  # the greeting is plain words
    "mcp",
    "guide.learn.tour",  # /tour makes it
    "wave",
    "guide.mcp",  # read where an `mcp` table or an `mcp:` tool names a server
    "html",  # escapes a reply's reasoning as it is exported
    "guide.conversation.exchange",  # made with the first message
    "guide.tui.screens.notices",  # the notices kept for F8 begin with the first one, after the greeting
)


def first_paint(server: LoopbackServer) -> dict[str, Any]:
    """Launch the app headless (bytecode compiled, as installed) and report what was there when the greeting was painted."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUIDE_GGUF": "none"}
    done = subprocess.run([sys.executable, "-c", CHILD, server.url], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_first_frame_imports_nothing_the_greeting_does_not_need(server: LoopbackServer) -> None:
    loaded = set(first_paint(server)["modules"])
    early = sorted(name for name in loaded for heavy in NOT_AT_FIRST_PAINT if name == heavy or name.startswith(heavy + "."))
    assert not early, early


def test_the_dialogs_css_is_not_read_before_the_first_frame(server: LoopbackServer) -> None:
    """guide.tcss held every dialog's rules (half the file), parsed before the greeting; they are read as a dialog opens
    (the snapshots of the call detail, the map and help show them applied)."""
    rules = set(first_paint(server)["rules"])
    assert {"#composer", "#transcript", "#calls-panel"} <= rules
    assert not rules & {"#call-detail", "#call-tabs", ".picker", "#persona-editor", "#replay", "#map-title", "#beside"}


def test_the_first_frame_paints_one_greeting_with_the_composer_focused_and_no_collection(server: LoopbackServer) -> None:
    """The greeting composed is the one shown (it was made and mounted a second time), focus goes straight to the composer
    (Textual focused the transcript first, restyling it twice), and no garbage collection walks what the imports made
    before the greeting is painted; collections are back on right after it."""
    seen = first_paint(server)
    assert seen["greetings"] == 1
    assert seen["focus"] == "composer" and seen["focused"] == []
    assert seen["collections"] == 0
    assert seen["collecting_after"] is True
    assert seen["frozen_after"] > 50_000  # what start-up made is kept out of the collections that follow


GC_AT_RUN = """
import gc, sys, types
app = types.ModuleType("guide.tui.app")  # stands in for the app: says whether collections were on as `guide` ran it
app.run = lambda flags: print(gc.isenabled())
sys.modules["guide.tui.app"] = app
from guide.cli import main
main(["--base-url", sys.argv[1]])
"""


def test_guide_turns_collections_off_before_importing_the_app(server: LoopbackServer) -> None:
    """The plain `guide` command, not an import of the app, turns garbage collection off until the first frame: a program
    or a test importing guide.tui.app keeps its collector as it was."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUIDE_GGUF": "none"}
    ran = subprocess.run([sys.executable, "-c", GC_AT_RUN, server.url], capture_output=True, text=True, timeout=120, env=env)
    assert ran.stdout.split() == ["False"], ran.stderr[-3000:]
    imported = subprocess.run(
        [sys.executable, "-c", "import gc, guide.tui.app; print(gc.isenabled())"], capture_output=True, text=True, timeout=120, env=env
    )
    assert imported.stdout.split() == ["True"], imported.stderr[-3000:]
