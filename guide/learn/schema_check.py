"""A small JSON Schema checker for the part of the language the OpenAI spec uses.

The compact spec uses these keywords and no others that constrain a value:
$ref, type, nullable, enum (with x-stainless-const), properties, required,
additionalProperties, items, anyOf, oneOf, allOf, discriminator, minimum,
maximum, minItems, maxItems, minLength, maxLength. `format` is only a hint
and is not checked. `const` and the exclusive bounds are read too, in case a
newer spec brings them.

A union that fails is reported through the branch that fits the value best
(its discriminator, else the branch with the fewest problems), so a learner
reads one plain sentence rather than a problem for every branch.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One way a body departs from the spec: where, and what the spec says."""

    path: str
    """The field, as `messages[0].role` ("" for the whole body)."""
    message: str
    """Plain words, then the spec's own first sentence about the field."""

    def __str__(self) -> str:
        return f"{self.path or '(the body)'}: {self.message}"


def dotted(path: Sequence[str | int]) -> str:
    """`("messages", 0, "content")` as `messages[0].content`."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step):
            text += f".{step}" if text else step
        else:
            text += f"[{step!r}]"
    return text


def first_sentence(description: str) -> str:
    """The description's first sentence, with Markdown links reduced to their words."""
    text = " ".join(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", description).split())
    match = re.search(r"(?<=[.!?])\s", text)
    return text[: match.start()] if match else text


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _fits_type(value: Any, wanted: str) -> bool:
    found = json_type(value)
    return found == wanted or (wanted == "number" and found == "integer")


def _listing(values: Sequence[Any], most: int = 8) -> str:
    shown = ", ".join(str(value) if isinstance(value, str) else repr(value) for value in values[:most])
    return shown + (", …" if len(values) > most else "")


class Schemas:
    """The spec's components, with the two questions asked of them: does a value fit, and which branch fits best."""

    def __init__(self, spec: dict[str, Any], *, strict: bool = False, form: bool = False) -> None:
        self.spec = spec
        self.strict = strict
        """A field the spec does not define is a problem even where it says nothing of additionalProperties (requests)."""
        self.form = form
        """Values came from a multipart form, so numbers and booleans arrive as text."""

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema a $ref points at (followed until it points nowhere further), with its siblings laid over it."""
        seen = 0
        while "$ref" in schema and seen < 32:
            node: Any = self.spec
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**node, **siblings}
            seen += 1
        return schema

    def describe(self, schema: dict[str, Any], value: Any = None) -> str:
        """The spec's words for this schema: its own, else those of what its $ref, allOf or union lands on."""
        schema = self.resolve(schema)
        if isinstance(schema.get("description"), str) and schema["description"].strip():
            return str(schema["description"]).strip()
        branches = self.branches(schema)
        if branches:
            chosen = self.best(schema, branches, value) if value is not None else None
            for branch in [chosen] if chosen is not None else [b for b in branches if self.resolve(b).get("type") != "null"]:
                words = self.describe(branch, value)
                if words:
                    return words
        for part in schema.get("allOf", []):
            words = self.describe(part, value)
            if words:
                return words
        return ""

    @staticmethod
    def branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The branches of an anyOf or oneOf union (empty for anything else)."""
        return [*schema.get("anyOf", []), *schema.get("oneOf", [])]

    def best(self, schema: dict[str, Any], branches: list[dict[str, Any]], value: Any) -> dict[str, Any] | None:
        """The branch that fits this value best: by discriminator, then fewest problems; None if no branch takes its type."""
        tag = self.tag(schema, branches)
        if tag and isinstance(value, dict) and tag in value:
            for branch in branches:
                allowed = self.resolve(self.properties(branch)[0].get(tag, {})).get("enum", ())
                if value[tag] in allowed:
                    return branch
            return None
        typed = [branch for branch in branches if self._takes_type(branch, value)]
        if not typed:
            return None
        return min(typed, key=lambda branch: len(list(self.problems(branch, value, ()))))

    def tag(self, schema: dict[str, Any], branches: list[dict[str, Any]]) -> str | None:
        """The property that says which branch an object is: the discriminator, or a field every branch pins to its own values."""
        named = schema.get("discriminator", {}).get("propertyName")
        if named:
            return str(named)
        pinned: set[str] | None = None
        for branch in branches:
            properties = self.properties(branch)[0]
            found = {name for name, each in properties.items() if "enum" in self.resolve(each)}
            pinned = found if pinned is None else pinned & found
        return min(pinned) if pinned and len(pinned) == 1 else None

    def _takes_type(self, schema: dict[str, Any], value: Any) -> bool:
        schema = self.resolve(schema)
        branches = self.branches(schema)
        if branches:
            return any(self._takes_type(branch, value) for branch in branches)
        types = self.types(schema)
        return not types or any(_fits_type(value, wanted) for wanted in types) or (value is None and bool(schema.get("nullable")))

    def types(self, schema: dict[str, Any]) -> list[str]:
        """The types a schema names itself (through allOf too), as a list."""
        schema = self.resolve(schema)
        named = schema.get("type")
        if isinstance(named, str):
            return [named]
        if isinstance(named, list):
            return [str(each) for each in named]
        for part in schema.get("allOf", []):
            found = self.types(part)
            if found:
                return found
        return ["object"] if "properties" in schema else []

    def properties(self, schema: dict[str, Any]) -> tuple[dict[str, Any], set[str], Any]:
        """Properties, required names and additionalProperties of an object schema, merged over allOf."""
        schema = self.resolve(schema)
        properties: dict[str, Any] = dict(schema.get("properties", {}))
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        for part in schema.get("allOf", []):
            more, needed, other = self.properties(part)
            properties.update(more)
            required |= needed
            extra = other if extra is None else extra
        return properties, required, extra

    def problems(self, schema: dict[str, Any], value: Any, path: Path, *, fields: bool = True) -> Iterator[Problem]:
        """Every way this value departs from this schema (one per field, the first found).

        `fields=False` leaves an object's fields to the caller: an allOf checks them once, over all its parts merged.
        """
        schema = self.resolve(schema)
        words = first_sentence(self.describe(schema, value))
        said = f" — {words}" if words else ""
        if self.form and isinstance(value, str):
            value = _from_form(value, self.types(schema))
        if value is None and (schema.get("nullable") or "null" in self.types(schema)):
            return
        branches = self.branches(schema)
        if branches:
            yield from self._union(schema, branches, value, path, said)
        for part in schema.get("allOf", []):
            yield from self.problems(part, value, path, fields=False)
        types = [str(each) for each in ([schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", []))]
        if types and not any(_fits_type(value, wanted) for wanted in types):
            yield Problem(dotted(path), f"should be {' or '.join(_a(t) for t in types)}, not {_a(json_type(value))}{said}")
            return
        if "enum" in schema and value not in schema["enum"]:
            yield Problem(dotted(path), f"{_shown(value)} is not one of: {_listing(schema['enum'])}{said}")
        if "const" in schema and value != schema["const"]:
            yield Problem(dotted(path), f"should be {_shown(schema['const'])}, not {_shown(value)}{said}")
        yield from self._bounds(schema, value, path, said)
        if fields and isinstance(value, dict) and any(key in schema for key in ("properties", "additionalProperties", "required", "allOf")):
            yield from self._object(schema, value, path)
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                yield from self.problems(schema["items"], item, (*path, index))

    def _union(self, schema: dict[str, Any], branches: list[dict[str, Any]], value: Any, path: Path, said: str) -> Iterator[Problem]:
        if any(not any(True for _ in self.problems(branch, value, path)) for branch in branches):
            return
        tag = self.tag(schema, branches)
        chosen = self.best(schema, branches, value)
        if chosen is not None:
            yield from self.problems(chosen, value, path)
        elif tag and isinstance(value, dict) and tag in value:
            tags = [self.resolve(self.properties(branch)[0].get(tag, {})) for branch in branches]
            allowed = [each for found in tags for each in found.get("enum", ())]
            common = _common_words([str(found.get("description", "")) for found in tags])
            yield Problem(dotted((*path, tag)), f"{_shown(value[tag])} is not one of: {_listing(allowed)}" + (f" — {common}" if common else ""))
        else:
            kinds = list(dict.fromkeys(t for branch in branches for t in (self.types(branch) or ["any"])))
            yield Problem(dotted(path), f"should be {' or '.join(_a(t) for t in kinds)}, not {_a(json_type(value))}{said}")

    def _bounds(self, schema: dict[str, Any], value: Any, path: Path, said: str) -> Iterator[Problem]:
        where = dotted(path)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                yield Problem(where, f"{value!r} is less than the minimum, {schema['minimum']!r}{said}")
            if "maximum" in schema and value > schema["maximum"]:
                yield Problem(where, f"{value!r} is more than the maximum, {schema['maximum']!r}{said}")
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                yield Problem(where, f"{value!r} should be more than {schema['exclusiveMinimum']!r}{said}")
            if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
                yield Problem(where, f"{value!r} should be less than {schema['exclusiveMaximum']!r}{said}")
        if isinstance(value, (str, list)):
            unit = "characters" if isinstance(value, str) else "items"
            if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
                yield Problem(where, f"has {len(value)} {unit}; the spec asks for at least {schema['minLength']}{said}")
            if "maxLength" in schema and isinstance(value, str) and len(value) > schema["maxLength"]:
                yield Problem(where, f"has {len(value):,} {unit}; the spec allows at most {schema['maxLength']:,}{said}")
            if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
                yield Problem(where, f"has {len(value)} {unit}; the spec asks for at least {schema['minItems']}{said}")
            if "maxItems" in schema and isinstance(value, list) and len(value) > schema["maxItems"]:
                yield Problem(where, f"has {len(value):,} {unit}; the spec allows at most {schema['maxItems']:,}{said}")

    def _object(self, schema: dict[str, Any], value: dict[str, Any], path: Path) -> Iterator[Problem]:
        properties, required, extra = self.properties(schema)
        missing = required - set(value)
        for name in [name for name in properties if name in missing] + sorted(missing - set(properties)):
            words = first_sentence(self.describe(properties.get(name, {})))
            yield Problem(dotted((*path, name)), f"`{name}` is required and missing" + (f" — {words}" if words else ""))
        for name, item in value.items():
            if name in properties:
                yield from self.problems(properties[name], item, (*path, name))
            elif isinstance(extra, dict):
                yield from self.problems(extra, item, (*path, name))
            elif extra is False or (self.strict and extra is None and properties):
                near = difflib.get_close_matches(name, list(properties), n=1)
                hint = f"did you mean `{near[0]}`?" if near else f"it knows: {_listing(sorted(properties), 12)}"
                yield Problem(dotted((*path, name)), f"the spec defines no field `{name}` here ({hint})")


def _from_form(text: str, types: list[str]) -> Any:
    """A multipart field's text as the number or boolean the schema asks for, where it reads as one."""
    if "integer" in types and re.fullmatch(r"-?\d+", text):
        return int(text)
    if "number" in types and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return float(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


def _common_words(descriptions: list[str]) -> str:
    """What several branches' descriptions share ("The role of the messages author…"), or the first of them."""
    texts = [first_sentence(text) for text in descriptions if text]
    if not texts:
        return ""
    shared = texts[0]
    for text in texts[1:]:
        while not text.startswith(shared):
            shared = shared[:-1]
    if shared == texts[0]:
        return shared
    cut = shared.rfind(",") if "," in shared else shared.rfind(" ")
    return shared[:cut].rstrip(" ,") + "…" if cut >= 12 else texts[0]


def _a(kind: str) -> str:
    return {"array": "an array", "object": "an object", "integer": "an integer", "null": "null", "any": "any value"}.get(kind, f"a {kind}")


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else json_type(value)
    return text if len(text) <= 60 else text[:57] + "…"
