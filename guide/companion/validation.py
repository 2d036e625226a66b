"""Each request body checked against the spec's request schema, as OpenAI checks it: a 400 naming the field and why.

Validators (Draft 2020-12) are built once from the compact spec the package ships; /v1/edits, gone from the spec,
is checked against the historical CreateEditRequest (tests/test_revise_shape.py). Fields the spec does not define
pass (its request objects are open). Shape only: cost is bounded before parsing (limits.py), engines' use of a
valid field is decided in fields.py."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from guide.client import ACTIONS, Gentle
from guide.learn.spec import schema_for
from guide.learn.validate import problems, validator

from .limits import Refusal

EDIT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["model", "instruction"],
    "properties": {
        "model": {"type": "string"},
        "input": {"type": ["string", "null"]},
        "instruction": {"type": "string"},
        "n": {"type": ["integer", "null"], "minimum": 1, "maximum": 20},
        "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
        "top_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    },
}
"""CreateEditRequest as the spec of its day gave it (its ranges from the same spec's words)."""
CHECKED = (Gentle.think, Gentle.continue_, Gentle.understand, Gentle.respond, Gentle.speak)
"""The actions whose JSON bodies the spec describes (listen's form values arrive as text: limits.py reads them)."""


@cache
def validators() -> dict[Gentle, Draft202012Validator]:
    """A validator per action, built once (about 40 ms for all of them)."""
    made = {Gentle.revise: Draft202012Validator(EDIT_REQUEST)}
    for action in CHECKED:
        schema = schema_for(action, "request")
        if schema is not None:
            made[action] = validator(schema)
    return made


def check_body(action: Gentle, body: dict[str, Any]) -> None:
    """Refuse a body the spec rules out, with a 400 naming the first field at fault and why."""
    checker = validators().get(action)
    found = problems(checker, lightened(action, body)) and problems(checker, body) if checker is not None else []
    if not found:
        return
    param, why, rule = found[0].path, found[0].message, found[0].rule
    if rule == "required":
        raise Refusal(400, f"'{param}' is required.", param=param, code="missing_required_parameter")
    shown = f"'{param}':" if param else "The body"
    code = "invalid_type" if rule == "type" else "invalid_value"
    raise Refusal(400, f"{shown} {why} (the spec for {ACTIONS[action].endpoint} says so).", param=param or None, code=code)


def whole_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each whole float (`5.0`) as an int, at the top and in lists of numbers (token arrays): JSON Schema lets
    `max_tokens: 5.0` through as an integer, and the engines slicing with a float failed (a 500) or quietly did not honour it."""

    def whole(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list) and len(value) <= 65_536:
            return [whole(item) if not isinstance(item, list) else [whole(x) for x in item] for item in value]
        return value

    return {key: whole(value) for key, value in body.items()}


def lightened(action: Gentle, body: dict[str, Any]) -> dict[str, Any]:
    """The body as the validator would judge it, cheaper: a list of 2 to 2,048 texts to embed stands as its first (the schema
    takes any such list; checking 2,048 one by one took 25 ms, the GIL held throughout)."""
    given = body.get("input")
    if action == Gentle.understand and isinstance(given, list) and 1 < len(given) <= 2048 and all(isinstance(text, str) for text in given):
        return {**body, "input": given[:1]}
    return body
