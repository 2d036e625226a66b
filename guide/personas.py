"""Personas: who the guide is. One TOML file each, bundled or the user's own (which overrides a bundled one's id).

    id = "calm-guide"
    name = "Calm guide"
    description = "A calm, thoughtful guide who waits for you to begin."
    address = "Fira"
    greeting = "…"
    system = "… {address} …"      # {address} becomes the address in use
    model = "…"                   # optional
    [options]                     # optional
    temperature = 0.7

A file that cannot be read is reported (path, line, field) and skipped; the rest load.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .locations import user_personas_dir, write_private

DEFAULT_ID = "calm-guide"
REQUIRED = ("id", "name", "description", "address", "greeting", "system")
NUMBER, WHOLE, ANY = (int, float), (int,), (float("-inf"), float("inf"))
OPTIONS: dict[str, tuple[tuple[type, ...], tuple[float, float]]] = {
    "temperature": (NUMBER, (0, 2)),
    "top_p": (NUMBER, (0, 1)),
    "max_tokens": (WHOLE, (1, 1_000_000)),
    "presence_penalty": (NUMBER, (-2, 2)),
    "frequency_penalty": (NUMBER, (-2, 2)),
    "seed": (WHOLE, ANY),
}
"""Each option's type and the spec's bounds (CreateChatCompletionRequest): a persona outside them would be refused on every call."""
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A persona id, matched whole (fullmatch): it becomes a file name, so no dots, slashes or line ends."""
Source = Literal["bundled", "user"]


@dataclass(frozen=True)
class Persona:
    """A persona: its voice (system prompt), its greeting, whom it addresses."""

    id: str
    name: str
    description: str
    """One line: what this persona is for."""
    address: str
    """Whom it addresses ("Fira")."""
    greeting: str
    """The words it opens a conversation with, while it waits."""
    system: str
    """The system prompt; {address} is replaced by the address in use."""
    model: str | None = None
    """A preferred model, used when the user has chosen none."""
    options: dict[str, Any] = field(default_factory=dict)
    """Sampling preferences sent with each think call."""
    tools: tuple[str, ...] = ()
    """Tools the model may call: bundled (guide.tools.BUNDLED: now, calculate, read_file) and an MCP server's (mcp:SERVER, mcp:SERVER/TOOL)."""
    source: Source = "user"
    path: Path | None = None

    def voice(self) -> tuple[Any, ...]:
        """What the persona says and how (not where its file is): two equal voices are the same persona."""
        return (self.id, self.name, self.description, self.address, self.greeting, self.system, self.model, sorted(self.options.items()), self.tools)

    def system_prompt(self, address: str | None = None) -> str:
        """The system prompt with the address filled in."""
        return self.system.replace("{address}", address or self.address)

    def greeting_for(self, address: str | None = None) -> str:
        """The greeting with the address filled in."""
        return self.greeting.replace("{address}", address or self.address)

    def to_toml(self) -> str:
        """The persona as TOML, multi-line strings kept readable."""
        data: dict[str, Any] = {key: getattr(self, key) for key in REQUIRED}
        if self.model:
            data["model"] = self.model
        if self.tools:
            data["tools"] = list(self.tools)
        if self.options:
            data["options"] = dict(self.options)
        # TOML folds a CRLF inside a multi-line string into LF: keep any CR exact.
        readable = not any("\r" in value for value in data.values() if isinstance(value, str))
        import tomli_w  # only when writing: launch stays light

        return tomli_w.dumps(data, multiline_strings=readable)


@dataclass(frozen=True)
class PersonaProblem:
    """Why a persona file was skipped."""

    path: Path
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}" + (f", line {self.line}" if self.line else "")
        what = f" (field '{self.field}')" if self.field else ""
        return f"{where}: {self.message}{what}"


@dataclass
class PersonaShelf:
    """Every persona that loaded, by id, and the files that could not."""

    personas: dict[str, Persona]
    problems: list[PersonaProblem]

    def get(self, persona_id: str | None) -> Persona:
        """The persona with this id, else the default, else the first (else the built-in calm guide)."""
        return self.personas.get(persona_id or "") or self.personas.get(DEFAULT_ID) or next(iter(self.personas.values()), FALLBACK)


FALLBACK = Persona(
    id=DEFAULT_ID,
    name="Calm guide",
    description="A calm, thoughtful guide (built in, used when no persona file loads).",
    address="Fira",
    greeting="I'm here, {address}. Begin whenever you're ready.",
    system="You are a calm, thoughtful guide. Speak simply and warmly. Address the user as {address} when it feels natural.",
    source="bundled",
)
"""The calm guide as a last resort, so the app always has someone to be."""


def bundled_dir() -> Path:
    """The bundled personas: inside the wheel, or personas/ beside a source checkout."""
    inside = Path(__file__).with_name("bundled_personas")
    return inside if inside.is_dir() else Path(__file__).resolve().parents[1] / "personas"


def parse(text: str, path: Path, source: Source) -> Persona | PersonaProblem:
    """A persona from TOML text, or the problem that stops it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        return PersonaProblem(path, f"not valid TOML: {error}", int(line.group(1)) if line else None)
    except RecursionError:
        return PersonaProblem(path, "not a persona: its tables or arrays are nested too deeply to read")

    def problem(message: str, key: str) -> PersonaProblem:
        # [ \t]*, not \s*: \s would run across blank lines from every line start (quadratic on a file of blank lines).
        found = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.M)
        return PersonaProblem(path, message, text.count("\n", 0, found.start()) + 1 if found else None, key)

    for key in REQUIRED:
        if key not in data:
            return problem("a required field is missing", key)
        if not isinstance(data[key], str):
            return problem(f"should be text, not {type(data[key]).__name__}", key)
    if not ID_PATTERN.fullmatch(data["id"]):
        return problem("should be lower-case letters, digits, - or _", "id")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        return problem(f"should be text, not {type(model).__name__}", "model")
    options = data.get("options", {})
    if not isinstance(options, dict):
        return problem("should be a table", "options")
    for key, value in options.items():
        if key not in OPTIONS:
            return problem(f"unknown option (known: {', '.join(OPTIONS)})", key)
        kinds, (low, high) = OPTIONS[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            return problem(f"should be a number, not {type(value).__name__}", key)
        if isinstance(value, (int, float)) and not low <= value <= high:
            return problem(f"should be from {low:g} to {high:g}, as the API takes it, not {value:g}", key)
    tools = data.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(name, str) for name in tools):
        return problem("should be a list of tool names", "tools")
    from .tools import BUNDLED  # small: the tools' own imports are the standard library's

    strange = [name for name in tools if name not in BUNDLED and not name.startswith("mcp:")]
    if strange:
        return problem(f"unknown tool {strange[0]!r} (known: {', '.join(BUNDLED)}, mcp:SERVER, mcp:SERVER/TOOL)", "tools")
    if any(name.startswith("mcp:") for name in tools):  # only then: the MCP settings' module is not on the way to the greeting
        from .mcp.settings import tool_name_problem

        wrong = next((why for name in tools if name.startswith("mcp:") and (why := tool_name_problem(name))), None)
        if wrong:
            return problem(wrong, "tools")
    unknown = sorted(set(data) - {*REQUIRED, "model", "options", "tools"})
    if unknown:
        return problem("unknown field", unknown[0])
    chosen = tuple(dict.fromkeys(tools))  # each named once, in the order first named
    return Persona(**{key: data[key] for key in REQUIRED}, model=model or None, options=dict(options), tools=chosen, source=source, path=path)


def _load_folder(folder: Path, source: Source, shelf: PersonaShelf) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            shelf.problems.append(PersonaProblem(path, f"could not be read: {error}"))
            continue
        result = parse(text, path, source)
        if isinstance(result, PersonaProblem):
            shelf.problems.append(result)
        else:
            shelf.personas[result.id] = result


def load(user_dir: Path | None = None) -> PersonaShelf:
    """Every persona: bundled first, then the user's, which override by id."""
    shelf = PersonaShelf({}, [])
    _load_folder(bundled_dir(), "bundled", shelf)
    _load_folder(user_dir or user_personas_dir(), "user", shelf)
    ordered = sorted(shelf.personas.values(), key=lambda p: (p.id != DEFAULT_ID, p.name.lower()))
    shelf.personas = {p.id: p for p in ordered}
    return shelf


def check_id(persona_id: str) -> str | None:
    """Why this is not a persona id (lower-case letters, digits, - or _), or None if it is."""
    if ID_PATTERN.fullmatch(persona_id):
        return None
    return f"'{persona_id}' is not a persona id: an id is lower-case letters, digits, - or _ (e.g. night-owl), at most 64."


def file_for(persona_id: str, user_dir: Path | None = None, suffix: str = ".toml") -> Path:
    """The user's file for a persona id: always inside the personas folder (ValueError for an id that is not one)."""
    if reason := check_id(persona_id):
        raise ValueError(reason)
    folder = user_dir or user_personas_dir()
    path = folder / f"{persona_id}{suffix}"
    if path.parent != folder:  # cannot happen for a valid id; kept as the rule this function exists for
        raise ValueError(f"'{persona_id}' does not name a file in {folder}.")
    return path


def save(persona: Persona, user_dir: Path | None = None) -> Path:
    """Write a persona to the user's folder (atomically); return its path."""
    path = file_for(persona.id, user_dir)
    write_private(path, persona.to_toml())
    return path


def remove(persona_id: str, user_dir: Path | None = None) -> Path:
    """Delete a user persona; bundled ones cannot be removed. Nothing outside the personas folder is touched."""
    path = file_for(persona_id, user_dir)
    if not path.exists():
        bundled = (bundled_dir() / f"{persona_id}.toml").exists()
        mine = f"There is no persona of yours called '{persona_id}'."
        raise LookupError(f"'{persona_id}' is a bundled persona; only your own can be removed." if bundled else mine)
    path.unlink()
    return path


def bundled(persona_id: str) -> Persona | None:
    """The persona guide ships under this id (whether or not the user's own copy overrides it), or None."""
    path = bundled_dir() / f"{persona_id}.toml"
    try:
        found = parse(path.read_text(encoding="utf-8"), path, "bundled")
    except (OSError, UnicodeDecodeError):
        return None
    return found if isinstance(found, Persona) else None


def template(persona_id: str) -> Persona:
    """A new persona to start from."""
    return Persona(
        id=persona_id,
        name=persona_id.replace("-", " ").replace("_", " ").capitalize(),
        description="One line: what this persona is for.",
        address="Fira",
        greeting="Hello, {address}. I'm listening whenever you're ready.",
        system="You are a helpful guide.\nSpeak plainly, and address the user as {address} when it feels natural.\n",
        options={"temperature": 0.7},
    )
