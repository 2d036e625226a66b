"""The persona form: every field a persona file holds, at 80x24. A new persona starts with its words empty and examples as
placeholders (typed over, an example as text was prepended to, and saved untouched); Esc asks before it throws changes
away; Tab moves focus at once, so keys typed fast after it land in the field it reached."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, TextArea

from guide.personas import Persona, template
from guide.safe_text import one_line

BUNDLED_NOTE = "This persona comes bundled with guide: saving keeps your own copy, which F5 can remove later to restore the bundled one."
EXAMPLE = template("night-owl")


class PersonaEditor(ModalScreen[Persona | None]):
    """Create or edit a persona: name, address, greeting, system prompt, model, temperature, tools."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [
        Binding("escape", "leave", "Cancel", id="cancel"),
        Binding("ctrl+s", "save", "Save", id="save"),
        Binding("ctrl+a", "select_all", "Select all", id="select-all", priority=True),  # over the fields' "line start"
        # At once, as the app reads the key (priority): keys typed right after Tab go to the field it reached.
        Binding("tab", "move(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "move(-1)", "Previous field", show=False, priority=True),
    ]

    def __init__(self, persona: Persona, creating: bool) -> None:
        super().__init__()
        self.persona = replace(persona, description="", greeting="", system="") if creating else persona
        self.creating = creating
        self.unchanged: tuple[Any, ...] = ()
        """The form as it opened: Esc asks before throwing away anything else."""

    def compose(self) -> ComposeResult:
        from guide.tools import BUNDLED

        persona = self.persona
        temperature = persona.options.get("temperature")
        with VerticalScroll(id="persona-editor", classes="picker"):
            yield Label("New persona" if self.creating else one_line(f"Edit {persona.name}"), classes="picker-title", markup=False)
            if persona.source == "bundled" and not self.creating:
                yield Label(BUNDLED_NOTE, classes="picker-note", markup=False)
            yield Label("Id (lower-case letters, digits, - or _; fixed once made)", classes="field-label")
            yield Input(persona.id, placeholder=EXAMPLE.id, id="pid", disabled=not self.creating)
            yield Label("Name", classes="field-label")
            yield Input(persona.name, placeholder=EXAMPLE.name, id="name")
            yield Label("Description (one line: what it is for)", classes="field-label")
            yield Input(persona.description, placeholder="Keeps you company late at night", id="description")
            yield Label("Address (whom it speaks to)", classes="field-label")
            yield Input(persona.address, placeholder=EXAMPLE.address, id="address")
            yield Label("Greeting (shown while it waits for you to begin)", classes="field-label")
            yield TextArea(persona.greeting, id="greeting", soft_wrap=True, placeholder=EXAMPLE.greeting)
            yield Label("System prompt ({address} becomes the address)", classes="field-label")
            yield TextArea(persona.system, id="system", soft_wrap=True, placeholder=EXAMPLE.system)
            yield Label("Model (empty: the one picked with F6)", classes="field-label")
            yield Input(persona.model or "", placeholder="llama3.2:3b", id="model")
            yield Label("Temperature (0 to 2; empty: the server's own)", classes="field-label")
            yield Input("" if temperature is None else str(temperature), placeholder="0.7", id="temperature")
            yield Label("Tools the model may call", classes="field-label")
            with Horizontal(classes="tools"):
                for name in BUNDLED:
                    yield Checkbox(name, name in persona.tools, id=f"tool-{name}")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Typing goes into the form at once (the scroller itself would take focus otherwise)."""
        self.query_one("#pid" if self.creating else "#name", Input).focus()
        self.unchanged = self.values()

    def values(self) -> tuple[Any, ...]:
        """What the form holds now."""
        texts = tuple(field.value for field in self.query(Input)) + tuple(area.text for area in self.query(TextArea))
        return texts + tuple(box.value for box in self.query(Checkbox))

    def action_move(self, direction: int) -> None:
        self.focus_next() if direction > 0 else self.focus_previous()

    def action_select_all(self) -> None:
        """ctrl+a: everything in the field, to type over or copy."""
        focused = self.focused
        if isinstance(focused, (Input, TextArea)):
            focused.select_all()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        from guide.personas import ID_PATTERN

        pid = self.query_one("#pid", Input).value.strip()
        if not ID_PATTERN.fullmatch(pid):
            self.notify("The id is lower-case letters, digits, - or _.", severity="warning")
            return
        name, description, address, model, temperature = (
            self.query_one(f"#{key}", Input).value.strip() for key in ("name", "description", "address", "model", "temperature")
        )
        missing = [label for label, value in (("name", name), ("description", description), ("address", address)) if not value]
        if missing:
            self.notify(f"The {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed.", severity="warning")
            self.query_one(f"#{missing[0]}", Input).focus()
            return
        options = {key: value for key, value in self.persona.options.items() if key != "temperature"}
        if temperature:
            try:
                warmth = float(temperature)
            except ValueError:
                warmth = -1.0
            if not 0 <= warmth <= 2:
                self.notify("The temperature is a number from 0 to 2 (or empty).", severity="warning")
                self.query_one("#temperature", Input).focus()
                return
            options["temperature"] = warmth
        # The form shows guide's own tools; the persona's mcp: tools (not shown) are kept as they were.
        tools = (*(str(box.label) for box in self.query(Checkbox) if box.value), *(name for name in self.persona.tools if name.startswith("mcp:")))
        greeting, system = (self.query_one(f"#{key}", TextArea).text for key in ("greeting", "system"))
        said = replace(self.persona, id=pid, name=name, description=description, address=address, greeting=greeting, system=system)
        self.dismiss(replace(said, model=model or None, options=options, tools=tools, source="user"))

    @on(Button.Pressed, "#cancel")
    def action_leave(self) -> None:
        """Esc or Cancel: gone at once if nothing changed; otherwise asked first."""
        if self.values() == self.unchanged:
            self.dismiss(None)
            return
        from guide.tui.screens.confirm import Confirm

        question = Confirm("Discard your changes?", "What you wrote in this form is lost.", keys="y discards them · n or Esc goes on editing")

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(question, answered)
