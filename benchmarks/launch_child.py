"""One launch, headless, exiting as soon as the first words are on screen.

python benchmarks/launch_child.py guide|bare
"""

from __future__ import annotations

import sys
import time

WHICH = sys.argv[1]


def painted(app: object) -> None:
    """The first words are on screen: say when (wall clock), and leave."""
    print(f"painted {time.time():.6f}", flush=True)
    app.exit()  # type: ignore[attr-defined]


if WHICH == "bare":
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("I'm here, Fira. Calm, present, and listening.")

        def on_mount(self) -> None:
            self.call_after_refresh(painted, self)

    Bare().run(headless=True)
else:
    from guide.tui.app import GuideApp

    class Measured(GuideApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(painted, self)

    Measured().run(headless=True)
