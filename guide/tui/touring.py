"""The tour in the app: each step's real call (`guide.learn.tour`) opened whole, the docent's words over it; Enter goes on,
Esc stops, and the session keeps the step, so /tour takes it up again there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guide.learn.tour import STEPS

if TYPE_CHECKING:
    from guide.tui.app import GuideApp


async def take_tour(app: GuideApp, again: bool) -> None:
    """Take the tour from where it stopped (or from the start), one step per call detail."""
    from guide.tui.screens.call_detail import TourStep

    session = app.session
    await session.started.wait()
    tour = session.tour
    if again:
        tour.restart()
    elif tour.started:
        app.notify(f"Taking the tour up again at step {tour.position + 1} of {len(STEPS)}.", title="Tour", timeout=4)
    support, probed = await session.probe(tell=False), session.server.client
    while tour.position < len(STEPS):
        guide = session.server.client
        assert guide is not None  # the session has started
        if guide is not probed:  # another server was picked during the tour: what it offers is asked again
            support, probed = await session.probe(tell=False), guide
        taken = await tour.take(guide, session.conversation.model_for, support, session.server.calls)
        if taken.trace is None:  # nothing went on the wire for it (the probe kept no call): say so and go on
            app.notify(taken.words or "This step made no call.", title=taken.heading, timeout=8)
            tour.position += 1
            continue
        choice = await app.push_screen_wait(TourStep(taken.trace, taken))
        if choice != "next":
            app.notify(f"The tour stops at step {taken.number} of {len(STEPS)}; /tour takes it up again there.", title="Tour", timeout=6)
            return
        tour.position += 1
    tour.restart()
    app.notify("That was the whole map, every call in the calls panel. e in a call's detail replays it with your edits.", title="Tour", timeout=8)
