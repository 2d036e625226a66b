"""One launch, headless, exiting as soon as the first words are on screen.

python benchmarks/launch_child.py guide|bare|companion

`companion`: guide with nothing configured, so it finds or starts its
companion (a process of its own) after the first frame; it prints when the
greeting is painted, then when the companion answers, and leaves.
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
elif WHICH == "companion":
    import gc

    gc.disable()  # as `guide` does before it imports the app (guide.cli.run_app)
    from guide.tui.app import GuideApp

    class Waiting(GuideApp):
        def on_mount(self) -> None:  # Textual calls GuideApp.on_mount too (handlers run for each class): no super() here
            self.call_after_refresh(lambda: print(f"painted {time.time():.6f}", flush=True))
            self.set_interval(0.01, self.answering)

        def answering(self) -> None:
            if self.session.started.is_set():
                print(f"answering {time.time():.6f} {self.session.server_address()}", flush=True)
                self.exit()

    Waiting().run(headless=True)
else:
    import gc

    gc.disable()  # as `guide` does before it imports the app (guide.cli.run_app)
    from guide.tui.app import GuideApp

    class Measured(GuideApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.call_after_refresh(painted, self)

    Measured().run(headless=True)
