"""The mapping panel: one row per call, added as it starts, updated as it streams."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from guide.client import Trace

EMPTY = "Every call the guide makes will appear here: the gentle action, and the legacy endpoint it called."
LIMIT = 500


def row_text(trace: Trace) -> Text:
    """`think → POST /v1/chat/completions · 200 · 1.2 s · 143 tok`, coloured by outcome."""
    line = trace.summary()
    if trace.state == "running":
        elapsed = time.time() - trace.started_at
        frames = f" · {len(trace.frames)} frames" if trace.stream and trace.frames else ""
        line = line.replace(" · …", f" · {elapsed:.1f} s…{frames}")
    text = Text(line)
    if trace.state == "failed":
        text.stylize("bold red")
    elif trace.state == "stopped":
        text.stylize("yellow")
    elif trace.state == "running":
        text.stylize("cyan")
    return text


class MappingPanel(Vertical):
    """Every call of this conversation, newest last; Enter opens one whole."""

    @dataclass
    class CallSelected(Message):
        """The user chose a call to see whole."""

        trace: Trace

    def __init__(self) -> None:
        super().__init__(id="mapping-panel")
        self.traces: dict[str, Trace] = {}

    def compose(self) -> ComposeResult:
        yield Label("Calls · gentle action → legacy endpoint", classes="panel-title")
        yield Static(EMPTY, id="panel-empty")
        yield OptionList(id="calls")

    def on_mount(self) -> None:
        self.set_interval(0.25, self._tick)
        self.query_one("#calls").display = False

    def show(self, trace: Trace) -> None:
        """Add the call's row, or update it if it is already shown."""
        calls = self.query_one("#calls", OptionList)
        if trace.id in self.traces:
            index = list(self.traces).index(trace.id)
            calls.replace_option_prompt_at_index(index, row_text(trace))
            return
        self.traces[trace.id] = trace
        calls.add_option(Option(row_text(trace), id=trace.id))
        calls.display = True
        self.query_one("#panel-empty").display = False
        if len(self.traces) > LIMIT:
            oldest = next(iter(self.traces))
            del self.traces[oldest]
            calls.remove_option(oldest)
        calls.highlighted = len(self.traces) - 1
        calls.scroll_end(animate=False)

    def clear(self) -> None:
        """Forget every row (a new conversation)."""
        self.traces.clear()
        calls = self.query_one("#calls", OptionList)
        calls.clear_options()
        calls.display = False
        self.query_one("#panel-empty").display = True

    def _tick(self) -> None:
        for trace in self.traces.values():
            if trace.state == "running":
                self.show(trace)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        trace = self.traces.get(event.option.id or "")
        if trace is not None:
            self.post_message(self.CallSelected(trace))
