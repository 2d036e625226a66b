"""The OpenAI spec that travels with guide (the compact copy beside this module, see SOURCE.txt, read once): each field
explained in its own words, and bodies checked against it. A part is what a field belongs to: the request body, the JSON
answer, one streamed chunk, or the error shape every route shares.

    explain("think", "request", ("messages", 0, "role"), body=body).text()
    check("think", body)          # [] when the spec agrees
    path_at(text, offset)         # ("messages", 0, "content")
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from .json_path import path_at
from .schema_check import Problem, Schemas, dotted, json_type, plain
from .spec_cut import STREAM_CHUNKS

if TYPE_CHECKING:
    from guide.client import Gentle

__all__ = ["Explanation", "Part", "Problem", "check", "explain", "in_spec", "load", "path_at", "schema_for"]

Part = Literal["request", "response", "chunk", "error"]

FORMS = ("multipart/form-data",)
"""Request bodies sent as a form (listen, interpret): their values arrive as text."""

UNDESCRIBED: dict[Part, dict[str, str]] = {
    "error": {
        "": "The error shape every route shares: one `error` object saying what went wrong.",
        "error": "What went wrong: a message for people, its type, and the parameter and code it concerns.",
        "error.message": "A human-readable account of what went wrong.",
        "error.type": "The kind of error, such as `invalid_request_error`.",
        "error.param": "The request parameter the error concerns, or null.",
        "error.code": "A short machine-readable code for the error, or null.",
    },
    "request": {
        "messages.content.image_url": "The picture: its URL (an http(s) address, or the image itself as a data URL) and the detail to see it at.",
        "tools.function": "The function the model may ask to call: its name, what it does, and its parameters as a JSON Schema.",
    },
    "response": {
        "object": "The object type of this answer.",
        "data": "The items of this answer.",
        "choices.index": "The place of this choice in the list of choices, counting from 0.",
        "choices.text": "The text the model generated for this choice.",
        "choices.logprobs": "The log probabilities of the generated tokens, when they were asked for; otherwise null.",
        **dict.fromkeys(
            ("output.content.logprobs", "part.logprobs", "item.content.logprobs", "response.output.content.logprobs"),
            "The log probabilities of the output text's tokens, when they were asked for; otherwise an empty list.",
        ),
    },
}
UNDESCRIBED["chunk"] = UNDESCRIBED["response"]  # continue streams chunks in its answer's own shape
"""guide's words for the few fields the spec leaves without any; `explain` marks them as guide's, not the spec's."""
GUIDES_WORDS = " (guide's words: the spec leaves this field undescribed)"


@cache
def load() -> dict[str, Any]:
    """The compact spec, read once from the package."""
    text = resources.files(__package__).joinpath("openapi.compact.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _operation(action: Gentle) -> dict[str, Any] | None:
    """The spec's operation for this action; None for one the spec no longer has (revise: /edits is retired)."""
    from guide.client import ACTIONS  # the map alone: names load on first use, so neither httpx nor the drivers

    row = ACTIONS.get(action)
    if row is None:  # a call another program made, off the map: guide explains only its own routes
        return None
    operation = load()["paths"].get(row.path, {}).get(row.method.lower())
    return operation if isinstance(operation, dict) else None


def in_spec(action: Gentle) -> bool:
    """Whether the current spec has this action's route (revise's /edits is retired, and gone from it)."""
    return _operation(action) is not None


def _content(action: Gentle, part: Part) -> tuple[dict[str, Any] | None, str]:
    """The schema of this part of this action's call, and its media type (None for an action the spec lacks)."""
    operation = _operation(action)
    if operation is None:
        return None, ""
    if part == "request":
        content = operation.get("requestBody", {}).get("content", {})
        for media in ("application/json", *FORMS):
            if media in content:
                return content[media]["schema"], media
        return None, ""
    if part == "response":
        content = operation["responses"].get("200", {}).get("content", {})
        return (content["application/json"]["schema"], "application/json") if "application/json" in content else (None, "")
    if part == "chunk":
        name = STREAM_CHUNKS.get(action)
        return ({"$ref": f"#/components/schemas/{name}"}, "text/event-stream") if name else (None, "")
    return {"$ref": "#/components/schemas/ErrorResponse"}, "application/json"


def schema_for(action: Gentle, part: Part) -> dict[str, Any] | None:
    """The spec's schema for this part of the action's call; None where there is no JSON (catalog's request, speak's audio)."""
    return _content(action, part)[0]


@dataclass(frozen=True)
class Explanation:
    """What the spec says of one field."""

    path: str
    """The field, as `messages[0].content` ("" for the whole body)."""
    type: str
    """Readable: "string", "array of objects", "string or array", "integer or null"."""
    description: str
    """The spec's own words (those of the schema the field's $ref or union lands on, where it has none of its own)."""
    default: Any = None
    allowed: tuple[Any, ...] = ()
    """The only values allowed (enum or const); empty where a union also takes any value of the type."""
    deprecated: bool = False
    required: bool = False
    nullable: bool = False

    def text(self) -> str:
        """A short paragraph for a help line: the field, its facts, then the first paragraph of the spec's words."""
        facts = [self.type]
        facts += [word for word, on in (("required", self.required), ("deprecated", self.deprecated)) if on]
        if self.default is not None:
            facts.append(f"default: {json.dumps(self.default)}")
        if self.allowed:
            shown = [str(value) if isinstance(value, str) else json.dumps(value) for value in self.allowed[:10]]
            facts.append("one of: " + ", ".join(shown) + (", …" if len(self.allowed) > 10 else ""))
        paragraph = plain(self.description.strip().split("\n\n", 1)[0])
        return f"{self.path or '(the whole body)'} — {' · '.join(facts)}\n{paragraph}"


def explain(action: Gentle, part: Part, path: Sequence[str | int], *, body: Any = None) -> Explanation | None:
    """The field at this path (`()` for the whole body); with the body, a union is read through the branch it takes. None if unknown.

    A field without words of its own borrows them: from the schema its $ref or union lands on, an item from its array,
    the whole body from its operation, and the few the spec leaves bare from UNDESCRIBED (marked as guide's).
    """
    written = schema_for(action, part)
    if written is None:
        return None
    schemas = Schemas(load())
    value, required = body, False
    holder: tuple[dict[str, Any], Any] = (written, value)
    for depth, step in enumerate(path):
        found = _member(schemas, written, value, step)
        if found is None:
            words = schemas.describe(written, value) if schemas.resolve(written).get("additionalProperties") is True else ""
            if words:  # inside an object the spec leaves free (a tool's parameters, a JSON Schema of the caller's): the object's words
                return Explanation(path=dotted(path), type="any", description=f"Part of {dotted(path[:depth])}, which the spec leaves free. {words}")
            return None
        holder = (written, value)
        written, required = found
        value = _step_into(value, step)
    description = schemas.describe(written, value)
    if not description and path and isinstance(path[-1], int):
        description = schemas.describe(*holder)  # an item without words of its own: those of the array it is in
    if not description and not path:
        description = _operation_words(action, part)
    if not description:
        key = ".".join(str(step) for step in path if isinstance(step, str))
        description = UNDESCRIBED.get(part, {}).get(key, "")
        description += GUIDES_WORDS if description else ""
    landed = _landing(schemas, written, value)
    resolved = schemas.resolve(written)
    if value is None and len([b for b in schemas.branches(resolved) if schemas.resolve(b).get("type") != "null"]) > 1:
        landed = {}  # no value to choose a branch by: one branch's default is not the field's
    words = _type_words(schemas, written)
    return Explanation(
        path=dotted(path),
        type=words,
        description=description,
        default=resolved.get("default", landed.get("default")),
        allowed=_allowed(schemas, written),
        deprecated=bool(resolved.get("deprecated") or landed.get("deprecated")),
        required=required,
        nullable=words == "null" or words.endswith(" or null"),
    )


def check(action: Gentle, body: Any, part: Part = "request") -> list[Problem]:
    """Every way this body departs from the spec's schema, in plain words and the spec's own; [] when it agrees.

    In a request, a field the spec does not define is a problem even where the spec leaves objects open (OpenAI refuses
    an unrecognized argument); in an answer, only where the spec says it allows none.
    """
    from .validate import problems, validator  # jsonschema: on the first check, not on the way to the first paint

    schema, media = _content(action, part)
    if schema is None:
        return []
    if media in FORMS and isinstance(body, dict):
        body = _from_form(Schemas(load()), schema, body)
    return problems(validator(schema, strict=part == "request"), body)


def _from_form(schemas: Schemas, schema: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """A multipart form's text values as the numbers and booleans the schema asks for, where they read as one."""
    properties = schemas.properties(schema)[0]
    read = dict(form)
    for name, text in form.items():
        kinds = schemas.types(properties[name]) if name in properties and isinstance(text, str) else []
        if "integer" in kinds and re.fullmatch(r"-?\d+", text):
            read[name] = int(text)
        elif "number" in kinds and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
            read[name] = float(text)
        elif "boolean" in kinds and text in ("true", "false"):
            read[name] = text == "true"
    return read


def _member(schemas: Schemas, written: dict[str, Any], value: Any, step: str | int) -> tuple[dict[str, Any], bool] | None:
    """The schema of one step down (a property or an item) and whether it is required; unions read through the fitting branch."""
    schema = schemas.resolve(written)
    branches = schemas.branches(schema)
    if branches:
        first = schemas.best(schema, branches, value) if value is not None else None
        if first is None and isinstance(value, dict) and step in value and step == schemas.tag(schema, branches):
            members = [found for branch in branches if (found := _member(schemas, branch, value, step)) is not None]
            if len(members) > 1:  # a value no branch takes (role "wizard"): the field as every branch has it, not the first's
                given = json.dumps(value[step], ensure_ascii=False)[:40]
                words = f"Each kind here has its own {step}; {given} is none of them."
                return {"anyOf": [schema for schema, _ in members], "description": words}, any(needed for _, needed in members)
        for branch in [first] + [b for b in branches if b is not first] if first is not None else branches:
            found = _member(schemas, branch, value, step)
            if found is not None:
                return found
        return None
    if isinstance(step, int):
        for holder in (schema, *(schemas.resolve(part) for part in schema.get("allOf", []))):
            if isinstance(holder.get("items"), dict):
                return holder["items"], False
        return None
    properties, required, extra = schemas.properties(schema)
    if step in properties:
        return properties[step], step in required
    return (extra, False) if isinstance(extra, dict) else None


def _step_into(value: Any, step: str | int) -> Any:
    if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
        return value[step]
    if isinstance(step, str) and isinstance(value, dict):
        return value.get(step)
    return None


def _landing(schemas: Schemas, written: dict[str, Any], value: Any) -> dict[str, Any]:
    """The schema a union lands on for this value (its first non-null branch without one)."""
    schema = schemas.resolve(written)
    branches = schemas.branches(schema)
    if not branches:
        return schema
    chosen = schemas.best(schema, branches, value) if value is not None else None
    if chosen is None:
        chosen = next((b for b in branches if schemas.resolve(b).get("type") != "null"), branches[0])
    return _landing(schemas, chosen, value)


def _allowed(schemas: Schemas, written: dict[str, Any]) -> tuple[Any, ...]:
    schema = schemas.resolve(written)
    if "const" in schema:
        return (schema["const"],)
    branches = [schemas.resolve(b) for b in schemas.branches(schema)]
    if not branches:
        return tuple(schema.get("enum", ()))
    real = [b for b in branches if b.get("type") != "null"]
    if not real or any("enum" not in b and "const" not in b for b in real):
        return ()  # a branch takes any value of its type: the enum is only a list of known ones
    return tuple(dict.fromkeys(v for b in real for v in ([b["const"]] if "const" in b else b["enum"])))


def _type_words(schemas: Schemas, written: dict[str, Any], depth: int = 0) -> str:
    """The type as a person reads it: "string or array of objects", "number or null"."""
    schema = schemas.resolve(written)
    branches = schemas.branches(schema)
    words: list[str] = []
    if branches:
        for branch in branches:
            words += _type_words(schemas, branch, depth).split(" or ")
    else:
        for kind in schemas.types(schema) or sorted({json_type(v) for v in schema.get("enum", [])}) or ["any"]:
            items = schema.get("items")
            if kind == "array" and isinstance(items, dict) and depth < 2:
                kind = "array of " + " or ".join(_plural(w) for w in _type_words(schemas, items, depth + 1).split(" or "))
            words.append(kind)
    if schema.get("nullable"):
        words.append("null")
    return " or ".join(sorted(dict.fromkeys(words), key=lambda word: word == "null"))  # null last, as people say it


def _plural(words: str) -> str:
    first, _, rest = words.partition(" ")
    return (first + "s" + (" " + rest if rest else "")) if first not in ("any", "null") else words


def _operation_words(action: Gentle, part: Part) -> str:
    """For the whole body, where its schema has no words: what the operation or its answer says."""
    operation = _operation(action) or {}
    if part == "response":
        return str(operation["responses"].get("200", {}).get("description", ""))
    if part == "request":
        said = str(operation.get("requestBody", {}).get("description") or operation.get("description") or operation.get("summary", ""))
        return said.rsplit("---", 1)[-1].strip()  # after the banner some operations open with
    return ""
