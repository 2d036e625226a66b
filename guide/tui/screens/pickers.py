"""Pickers: persona, model and server, each a small modal list."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from guide.client import Gentle
from guide.personas import Persona
from guide.safe_text import one_line


class Picker(ModalScreen[str | None]):
    """A titled list; Enter chooses, Esc leaves."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="close")]

    def __init__(self, title: str, options: list[Option], note: str = "", current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.note = note
        self.current = current
        """The option in force: the list opens on it, so Enter keeps it."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker"):
            yield Label(self.title_text, classes="picker-title", markup=False)
            yield OptionList(*self.options, id="picker-list")
            if self.note:
                yield Label(self.note, classes="picker-note")

    def on_mount(self) -> None:
        listed = self.query_one(OptionList)
        at = next((i for i, option in enumerate(self.options) if self.current is not None and option.id == self.current), None)
        if at is not None:
            listed.highlighted = at

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def persona_picker(personas: dict[str, Persona], current: str) -> Picker:
    """Every persona with its description; also new and edit."""
    options = [
        Option(Text(one_line(f"{'●' if p.id == current else ' '} {p.name} — {p.description}  [{p.source}]")), id=f"use:{p.id}")
        for p in personas.values()
    ]
    from guide.personas import bundled

    options += [
        Option(Text(one_line(f"↺ Restore the bundled {original.name} (your copy is removed)")), id=f"restore:{p.id}")
        for p in personas.values()
        if p.source == "user" and (original := bundled(p.id)) is not None
    ]
    options += [
        Option("+ New persona…", id="new"),
        Option(Text(one_line(f"✎ Edit {personas[current].name if current in personas else current}…")), id="edit"),
    ]
    return Picker("Persona · who the guide is", options, "Switching takes effect on the next turn.", current=f"use:{current}")


def model_picker(models: list[Any], current: str | None) -> Picker:
    """The models the catalog listed, grouped by what each is for."""
    from guide.client import ACTIONS
    from guide.models import LABELS, grouped

    options: list[Option] = []
    for purpose, listed in grouped(models).items():
        options.append(Option(Text(LABELS[purpose], style="bold"), disabled=True))
        options += [Option(Text(one_line(f"  {'●' if m.id == current else ' '} {m.id}  ({m.owned_by or 'unknown owner'})")), id=m.id) for m in listed]
    empty = [Option("The server lists no models.", id="", disabled=True)]
    note = "A chat model answers; the others serve their actions."
    return Picker(f"Model · from catalog ({ACTIONS[Gentle.catalog].endpoint})", options or empty, note, current=current)


def server_picker(current: str, in_force: str | None = None) -> Picker:
    """guide's own companion, the presets, and a custom address (the list opens on the one in force)."""
    from guide.client import PROVIDERS

    options = [Option(Text("guide's companion (built in) · on this machine, no key"), id="companion")]
    options += [Option(Text(f"{p.name:<10} {p.base_url}"), id=f"preset:{p.id}") for p in PROVIDERS.values()]
    options.append(Option("Custom address…", id="custom"))
    note = "guide asks the server you choose what it offers, and asks you before using one that does not answer."
    return Picker(f"Server · now {one_line(current)}", options, note, current=in_force)


class AddressPrompt(ModalScreen[str | None]):
    """Ask for a custom server address."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker"):
            yield Label("Server address (without /v1)", classes="picker-title")
            yield Input(placeholder="http://127.0.0.1:8080", id="address")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
