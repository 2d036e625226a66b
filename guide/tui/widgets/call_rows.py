"""The calls panel's list of rows: an OptionList that lays out and draws each row once for what it shows.

Textual's OptionList keeps a row's drawing under the Option object, and
drops every drawing when one prompt changes. The calls panel makes new
Options whenever its rows are laid out again (a filter step, the oldest
rows going) and changes prompts as calls run, so under a program making 50
calls a second every frame wrapped and drew each visible row from scratch
(16 ms a frame, more under load: the keystroke waited behind it). Here a
row's layout and drawing are kept by its words and styles: an Option made
again for the same words, or a row whose neighbour changed, costs a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from rich.segment import Segment
from rich.text import Text
from textual.cache import LRUCache
from textual.message import Message
from textual.strip import Strip
from textual.style import Style
from textual.visual import Padding, Visual, VisualType, visualize
from textual.widgets import OptionList
from textual.widgets.option_list import Option

KEPT = 256
"""Drawings kept (a screenful of rows in each of their looks: plain, highlighted, hovered): few, as the collector walks them all."""


def words_of(prompt: VisualType) -> Any:
    """What a row's drawing depends on, as a key: its words and their styles (a prompt not made of Text is its own key)."""
    if isinstance(prompt, Text):
        return (prompt.plain, str(prompt.style), tuple(prompt.spans), prompt.no_wrap, prompt.overflow)
    return prompt if isinstance(prompt, str) else id(prompt)


class CallRows(OptionList):
    """An OptionList whose rows are laid out and drawn once per look, not once per Option."""

    @dataclass
    class Reached(Message):
        """The user moved the cursor onto the first row (`top`) or the last (`bottom`): where older or newer calls may be paged in."""

        end: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._visuals: LRUCache[Any, Visual] = LRUCache(KEPT)
        self._drawn: LRUCache[tuple[Any, ...], list[Strip]] = LRUCache(KEPT)
        self._placed: LRUCache[tuple[Any, ...], list[Strip]] = LRUCache(KEPT)

    def _get_visual(self, option: Option) -> Visual:
        if option._visual is None:
            key = words_of(option.prompt)
            visual = self._visuals.get(key)
            if visual is None:
                visual = visualize(self, option.prompt, markup=self._markup)
                self._visuals[key] = visual
            option._visual = visual
        return option._visual

    def _get_option_render(self, option: Option, style: Style) -> list[Strip]:
        """OptionList's drawing of a row (the same strips), found by the row's words, then given its place (for a click)."""
        padding = self.get_component_styles("option-list--option").padding
        width = self.scrollable_content_region.width - self._get_left_gutter_width()
        key = (words_of(option.prompt), style, padding, width)
        drawn = self._drawn.get(key)
        if drawn is None:
            visual = self._get_visual(option)
            if padding:
                visual = Padding(visual, padding)
            drawn = [strip.extend_cell_length(width, style.rich_style) for strip in visual.to_strips(self, visual, width, None, style)]
            self._drawn[key] = drawn
        index = self._option_to_index[option]
        placed = self._placed.get((key, index, option._divider))
        if placed is None:  # the row's place is in its drawing: it moves as older rows go
            placed = [strip.apply_meta({"option": index}) for strip in drawn]
            if option._divider:
                rule = self.get_visual_style("option-list--separator")
                placed.append(Strip([Segment("─" * width, rule.rich_style)], width))
            self._placed[(key, index, option._divider)] = placed
        return placed

    def replace_option_prompt(self, option_id: str, prompt: VisualType) -> CallRows:
        """Change one row's words: its drawing is found by them, so the other rows keep theirs."""
        option = self.get_option(option_id)
        width = self._row_width()
        before = self._get_visual(option).get_height(cast(Any, self.styles), width) if width > 0 else None
        option._set_prompt(prompt)
        if before is None or self._get_visual(option).get_height(cast(Any, self.styles), width) != before:
            self._line_cache.clear()  # its height changed (or the list is not laid out yet): the lines below it move
        self.refresh()
        return self

    def _row_width(self) -> int:
        padding = self.get_component_styles("option-list--option").padding
        return self.scrollable_content_region.width - self._get_left_gutter_width() - padding.width

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
