"""Keys typed where words cannot go, or before focus moved, go where the cursor is: the rest of a burst typed fast (or
through tmux) already on its way to the calls list when its first letter moved focus to the composer follows focus, in
the order typed (else the letters would land, but Backspace would do nothing and Enter would open the call again)."""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import TextArea

WRITING = ("backspace",)
"""Keys besides letters that are writing, so go to the composer (Backspace on the calls list did nothing: 50 were lost)."""


def follow_focus(widget: Widget, event: events.Key, composer_id: str = "composer") -> None:
    """Hand a key that reached `widget` to where the cursor is: the widget focused now, or the composer for letters."""
    screen = widget.screen
    if widget.has_focus_within:
        if event.key in screen.active_bindings or not ((event.is_printable and event.character) or event.key in WRITING):
            return  # the widget's own key (Enter opens the call, y copies a message)
        found = screen.query(f"#{composer_id}")
        if not found:
            return
        screen.set_focus(found.first())  # at once: the keys queued behind this one follow it
    target = screen.focused
    if target is None or target is widget:
        return
    event.stop()
    event.prevent_default()
    # Writing is done here and now, so it stays in the order typed; other keys (Enter) are posted after it.
    if isinstance(target, TextArea) and event.key in WRITING:
        target.action_delete_left()
    elif isinstance(target, TextArea) and event.is_printable and event.character:
        target.insert(event.character)
    else:
        target.post_message(events.Key(event.key, event.character))
