"""Each request body checked against the spec's request schema, as OpenAI checks it: a 400 naming the field and why.

The validators are built once, from the compact spec the package ships
(guide/learn/openapi.compact.json), with a real JSON Schema validator
(Draft 2020-12). /v1/edits is gone from the current spec: its body is
checked against the historical CreateEditRequest (tests/test_revise_shape.py
writes down where it was read). Fields the spec does not define pass: the
spec leaves its request objects open, and clients send their own extras.

The checks here are about shape (type, range, enum, required). What a body
may cost is bounded before it is parsed (limits.py), and what each engine
does with a valid field is decided in fields.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from guide.client import ACTIONS, Gentle
from guide.learn.spec import load, schema_for

from .limits import Refusal

SPEC = "urn:guide:openai"
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
CHECKED = ("think", "continue", "understand", "respond", "speak")
"""The actions whose JSON bodies the spec describes (listen's form values arrive as text: limits.py reads them)."""


def as_json_schema(node: Any) -> Any:
    """OpenAPI's `nullable: true` (which the spec still uses in places) as JSON Schema says it."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") is True else converted


def tagged(document: dict[str, Any]) -> dict[str, tuple[str, frozenset[str]]]:
    """Each union branch a discriminator can pick, by its $ref: the property that tells (`role`, `type`) and the values it takes."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            name = (node.get("discriminator") or {}).get("propertyName")
            for branch in node.get("oneOf", []) if isinstance(name, str) else []:
                ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
                target = document["components"]["schemas"].get(ref.removeprefix("#/components/schemas/"), {})
                said = target.get("properties", {}).get(name, {})
                values = [said["const"]] if "const" in said else said.get("enum", [])
                if ref and values:
                    found[ref] = (str(name), frozenset(v for v in values if isinstance(v, str)))
            stack.extend(node.values())
    return found


def discriminating(branches_by_ref: dict[str, tuple[str, frozenset[str]]]) -> Any:
    """`oneOf` that, where the spec names a discriminator and the value carries it, checks the one branch it names.

    A message of 40 turns is otherwise tried against all six message kinds:
    about a quarter of a millisecond per message, 10 ms for a long conversation.
    """
    whole = Draft202012Validator.VALIDATORS["oneOf"]

    def one_of(validator: Any, branches: list[Any], instance: Any, schema: dict[str, Any]) -> Any:
        name = (schema.get("discriminator") or {}).get("propertyName")
        if name and isinstance(instance, dict) and isinstance(instance.get(name), str):
            for index, branch in enumerate(branches):
                tag = branches_by_ref.get(branch.get("$ref", "") if isinstance(branch, dict) else "")
                if tag and tag[0] == name and instance[name] in tag[1]:
                    yield from validator.descend(instance, branch, schema_path=index)
                    return
        yield from whole(validator, branches, instance, schema)

    return one_of


@cache
def validators() -> dict[Gentle, Draft202012Validator]:
    """A validator per action, built once (about 40 ms for all of them)."""
    document = as_json_schema(load())
    registry: Registry[Any] = Registry().with_resource(SPEC, DRAFT202012.create_resource(document))
    keywords = {"oneOf": discriminating(tagged(document))}
    fast = extend(Draft202012Validator, keywords)  # type: ignore[no-untyped-call]
    made = {"revise": Draft202012Validator(EDIT_REQUEST)}
    for action in CHECKED:
        schema = schema_for(action, "request")
        if schema is not None and "$ref" in schema:
            made[action] = fast({"$ref": SPEC + schema["$ref"]}, registry=registry)
    return made


def check_body(action: Gentle, body: dict[str, Any]) -> None:
    """Refuse a body the spec rules out, with a 400 naming the first field at fault and why."""
    validator = validators().get(action)
    if validator is None or validator.is_valid(lightened(action, body)):  # the common case, four times cheaper than gathering every error of a union
        return
    error = best_match(validator.iter_errors(body))
    if error is None:
        return
    param, why, rule = explain(error)
    if rule == "required":
        raise Refusal(400, f"'{param}' is required.", param=param, code="missing_required_parameter")
    shown = f"'{param}'" if param else "The body"
    code = "invalid_type" if rule == "type" else "invalid_value"
    raise Refusal(400, f"{shown} {why} (the spec for {ACTIONS[action].endpoint} says so).", param=param or None, code=code)


def whole_numbers(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each whole float (`5.0`) as an int, at the top and in lists of numbers (token arrays).

    JSON Schema counts 5.0 as an integer, so the spec lets `dimensions: 2.0` or `max_tokens: 5.0` through;
    the engines slice and count with them, and a float there failed (a 500) or was quietly not honoured."""

    def whole(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list) and len(value) <= 65_536:
            return [whole(item) if not isinstance(item, list) else [whole(x) for x in item] for item in value]
        return value

    return {key: whole(value) for key, value in body.items()}


def lightened(action: Gentle, body: dict[str, Any]) -> dict[str, Any]:
    """The body as the validator would judge it, cheaper: texts to embed (up to the spec's 2,048) stand for themselves by the first.

    The schema takes a list of texts when each is text and there are 1 to 2,048
    of them; checking 2,048 one by one took 25 ms, the GIL held throughout.
    """
    given = body.get("input")
    if action == "understand" and isinstance(given, list) and 1 < len(given) <= 2048 and all(isinstance(text, str) for text in given):
        return {**body, "input": given[:1]}
    return body


def explain(error: ValidationError) -> tuple[str, str, str]:
    """The field at fault (as `messages[0].role`), why in words, and the rule broken; a union's branches are read for what they would take."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        depth = len(error.absolute_path)
        fitting = [errors for errors in branches.values() if not any(unfit(e, depth) for e in errors)]
        if fitting:  # the branches of the value's kind (its `role` or `type` matched): their own complaint is the one
            return explain(best_match(e for errors in fitting for e in errors) or fitting[0][0])
        wanted = allowed([e for errors in branches.values() for e in errors if e.validator in ("enum", "const")])
        if wanted and not fitting:
            return (
                field(next(e for e in error.context if e.validator in ("enum", "const")).absolute_path),
                f"should be one of: {', '.join(wanted)}",
                "enum",
            )
        kinds = [str(k) for e in error.context if e.validator == "type" and e.absolute_path == error.absolute_path for k in listed(e.validator_value)]
        if kinds:
            return field(error.absolute_path), "should be " + " or ".join(dict.fromkeys(kinds)), "type"
        return explain(best_match(error.context) or error.context[0])
    return (
        field(error.absolute_path if error.validator != "required" else [*error.absolute_path, missing(error)]),
        reason(error),
        str(error.validator),
    )


def unfit(error: ValidationError, depth: int) -> bool:
    """Whether a branch's error says the value is of another kind than the branch (not merely wrong within it)."""
    return error.validator in ("enum", "const") or (error.validator == "type" and len(error.absolute_path) == depth)


def allowed(errors: list[ValidationError]) -> list[str]:
    """The values the branches would take, where each failed on an enum or a const at the same place."""
    if not errors or any(e.validator not in ("enum", "const") for e in errors) or len({tuple(e.absolute_path) for e in errors}) > 1:
        return []
    values = [v for e in errors for v in listed(e.validator_value)]
    return list(dict.fromkeys(repr(v) if not isinstance(v, str) else v for v in values))


def listed(value: Any) -> list[Any]:
    """A schema keyword's value as a list (`type` is a name or a list of names)."""
    return value if isinstance(value, list) else [value]


def missing(error: ValidationError) -> str:
    """The required property a `required` error is about (its message begins with the name's repr)."""
    for name in listed(error.validator_value):
        if isinstance(error.instance, dict) and name not in error.instance:
            return str(name)
    return ""


def reason(error: ValidationError) -> str:
    """Why a value is refused, without echoing it (a value may be megabytes)."""
    rule, limit = error.validator, error.validator_value
    words: dict[str, Callable[[], str]] = {
        "required": lambda: "is required",
        "type": lambda: "should be " + " or ".join(str(k) for k in listed(limit)),
        "enum": lambda: "should be one of: " + ", ".join(str(v) for v in listed(limit)),
        "const": lambda: f"should be {limit!r}",
        "minimum": lambda: f"should be at least {limit}",
        "maximum": lambda: f"should be at most {limit}",
        "exclusiveMinimum": lambda: f"should be more than {limit}",
        "exclusiveMaximum": lambda: f"should be less than {limit}",
        "minItems": lambda: f"should hold at least {limit:,} item{'s' if limit != 1 else ''}",
        "maxItems": lambda: f"should hold at most {limit:,} items",
        "minLength": lambda: f"should be at least {limit:,} character{'s' if limit != 1 else ''} long",
        "maxLength": lambda: f"should be at most {limit:,} characters long",
        "additionalProperties": lambda: "holds a field the spec does not allow there",
    }
    said = words.get(str(rule))
    return said() if said else f"does not keep to the spec ({rule})"


def field(path: Iterable[Any]) -> str:
    """A path as OpenAI's `param` writes it: `messages[0].content`."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text
