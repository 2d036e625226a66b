"""The calls panel's list of rows: an OptionList that says when the user's cursor reaches either end, where older or newer calls page in.

It keeps to OptionList's public API: a faster drawing of rows (each kept by
its words, so one running row's change does not redraw the others) was tried
by overriding OptionList's private `_get_option_render`, and left out: a
private method is the first thing to change in a Textual minor release.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import OptionList


class CallRows(OptionList):
    """An OptionList that tells the panel when the user moves onto its first or last row."""

    @dataclass
    class Reached(Message):
        """The user moved the cursor onto the first row (`top`) or the last (`bottom`): where older or newer calls may be paged in."""

        end: str

    # The user's moves (keys, not the panel placing the cursor): at either end, the panel may page calls in.

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._reached()

    def action_page_up(self) -> None:
        super().action_page_up()  # type: ignore[no-untyped-call]
        self._reached()

    def action_first(self) -> None:
        super().action_first()
        self._reached()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._reached()

    def action_page_down(self) -> None:
        super().action_page_down()  # type: ignore[no-untyped-call]
        self._reached()

    def action_last(self) -> None:
        super().action_last()
        self._reached()

    def _reached(self) -> None:
        if self.option_count and self.highlighted == 0:
            self.post_message(self.Reached("top"))
        elif self.option_count and self.highlighted == self.option_count - 1:
            self.post_message(self.Reached("bottom"))
