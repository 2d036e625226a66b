"""The spec's schemas read for what they say of a field: its words, type, properties, and the union branch a value takes.

Checking a value is jsonschema's job (validate.py, imported on first use);
this module stays free of it, so explaining a field costs no import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One way a body departs from the spec: where, and what the spec says."""

    path: str
    """The field, as `messages[0].role` ("" for the whole body)."""
    message: str
    """Plain words, then the spec's own first sentence about the field."""
    rule: str = ""
    """The JSON Schema keyword broken (`type`, `required`, `enum`…)."""

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


def plain(text: str) -> str:
    """Markdown links reduced to their words, and the whitespace to single spaces."""
    return " ".join(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).split())


def first_sentence(description: str) -> str:
    """The description's first sentence, in plain words."""
    text = plain(description)
    match = re.search(r"(?<=[.!?])\s", text)
    return text[: match.start()] if match else text


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    kinds = ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


class Schemas:
    """The spec's components, with the questions asked of them: what a schema says, and which union branch a value takes."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema a $ref points at (followed until it points nowhere further), with its siblings laid over it."""
        for _ in range(32):
            if "$ref" not in schema:
                break
            node: Any = self.spec
            for part in schema["$ref"].partition("#/")[2].split("/"):  # validate's refs carry the spec's base URI before the #
                node = node[part]
            schema = {**node, **{key: value for key, value in schema.items() if key != "$ref"}}
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
        from .validate import validator

        return min(typed, key=lambda branch: sum(1 for _ in validator(branch).iter_errors(value)))

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
        types, found = self.types(schema), json_type(value)
        return not types or found in types or (found == "integer" and "number" in types) or (value is None and bool(schema.get("nullable")))

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
