"""The composer: Enter sends, ctrl+j adds a newline, up recalls, / completes."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from guide.safe_text import visible
from guide.tui import slash

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")
PLACEHOLDER = "Write to the guide…  (Enter sends · ctrl+j new line · / for commands)"
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def picture_path(pasted: str) -> str | None:
    """The path, if what was pasted is a picture file's path on its own (quoted, or as a file:// URL, as terminals paste a dropped file)."""
    text = pasted.strip().strip("'\"")
    if text.startswith("file://"):
        from urllib.parse import unquote

        text = unquote(text.removeprefix("file://"))
    if not text or "\n" in text or not text.lower().endswith(PICTURE_SUFFIXES):
        return None
    from pathlib import Path

    return text if Path(text).expanduser().is_file() else None


class Composer(TextArea, inherit_bindings=False):
    """Where the user writes. While a reply streams, writing goes on but Enter waits."""

    BINDINGS = [binding for binding in TextArea.BINDINGS if getattr(binding, "key", None) not in ("f6", "f7")]
    """TextArea's keys, less F6 and F7 (select line, select all): those are guide's model and server pickers."""

    @dataclass
    class Submitted(Message):
        """The user sent what they wrote."""

        composer: Composer
        text: str

    class Recall(Message):
        """Up-arrow in an empty composer: bring back the last prompt."""

    class Held(Message):
        """Enter while a reply streams: nothing is sent yet."""

    @dataclass
    class PicturePasted(Message):
        """A picture's path was pasted on its own: it is attached, not written."""

        path: str

    def __init__(self) -> None:
        super().__init__(id="composer", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = PLACEHOLDER
        self.holding = False
        """A reply is streaming: the user may write the next message, and Enter waits for the reply."""

    @property
    def suggestions(self) -> OptionList | None:
        """The completion list beside the composer, if the screen has one."""
        found = self.screen.query("#suggestions")
        return found.first(OptionList) if found else None

    def on_key(self, event: events.Key) -> None:
        """Guide's keys, handled before TextArea's: a key handled here is stopped and its default (TextArea's typing) prevented."""
        if self._handled(event.key):
            event.stop()
            event.prevent_default()

    def _handled(self, key: str) -> bool:
        suggestions = self.suggestions
        showing = suggestions is not None and suggestions.display
        # The list may lag what was typed (keys that arrive in one burst): judge by the text itself.
        matches = slash.complete(self.text)
        if key == "enter":
            if showing and matches and self.text.strip() != "/":
                choice = self._chosen(matches)
                if self.text != f"/{choice}":
                    self.complete(choice)
                    return True
            if self.text.strip() and not self.read_only and self.holding:
                self.post_message(self.Held())
            elif self.text.strip() and not self.read_only:
                # Emptied now, before the next key is read: what is typed after Enter is the next message, never cleared
                # by the screen handling this one later. Words that do not go are given back (`give_back`).
                sent, self.text = self.text, ""
                self.post_message(self.Submitted(self, sent))
        elif key in NEWLINE_KEYS:
            if not self.read_only:
                self.insert("\n")
        elif key == "tab" and showing and matches:
            self.complete(self._chosen(matches))
        elif key in ("up", "down") and showing and suggestions is not None:
            suggestions.action_cursor_up() if key == "up" else suggestions.action_cursor_down()
        elif key == "up" and not self.text:
            self.post_message(self.Recall())
        else:
            return False  # left to TextArea, which types it
        return True

    def _chosen(self, matches: list[slash.SlashCommand]) -> str:
        """The command highlighted in the list, if the text may still become it; else the first it may become."""
        suggestions = self.suggestions
        assert suggestions is not None
        highlighted = suggestions.get_option_at_index(suggestions.highlighted or 0).id
        return highlighted if highlighted in {command.name for command in matches} else matches[0].name

    def on_paste(self, event: events.Paste) -> None:
        """Pasted text arrives as text: line ends kept, control characters and escapes shown as symbols."""
        event.stop()
        event.prevent_default()  # TextArea's own handler would insert the raw text
        path = picture_path(event.text)
        if path:
            self.post_message(self.PicturePasted(path))
            return
        if self.read_only:
            return
        text = visible(event.text.replace("\r\n", "\n").replace("\r", "\n"))
        # As TextArea pastes: over the selection, the cursor after what was pasted, and in the undo history.
        result = self.replace(text, *self.selection, maintain_selection_offset=False)
        self.move_cursor(result.end_location)
        self.focus()

    def give_back(self, words: str) -> None:
        """Put words back to send again (not sent, or a call that failed); anything written meanwhile stays after them."""
        written = self.text
        self.text = words + (f"\n{written}" if written.strip() else "")
        self.move_cursor(self.document.end)

    def complete(self, name: str) -> None:
        """Fill in a slash command, ready for its argument."""
        command = slash.BY_NAME.get(name)
        if command is None:
            return
        self.text = f"/{name}" + (" " if command.argument else "")
        self.move_cursor(self.document.end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.suggest()

    def suggest(self) -> None:
        """Show the slash commands the text so far may be (the list is mounted a frame after launch: it is asked again then)."""
        suggestions = self.suggestions
        if suggestions is None:
            return
        matches = slash.complete(self.text)
        suggestions.clear_options()
        if matches and not (len(matches) == 1 and self.text == f"/{matches[0].name}" and not matches[0].argument):
            suggestions.add_options([Option(f"{c.usage:<28} {c.help}", id=c.name) for c in matches])
            suggestions.highlighted = 0
            suggestions.display = True
        else:
            suggestions.display = False
