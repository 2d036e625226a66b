"""A body checked against the spec with a real JSON Schema validator (Draft 2020-12), each broken rule said in one plain sentence.

guide's one validator: the replay editor's check (spec.check) and the companion's 400s (companion/validation.py) read
their problems here. It imports jsonschema, so it is imported on first use, never on the way to the first paint. A union
that fails is read through the branch that fits the value (its discriminator, else the branches of the value's own
kind): a learner reads one sentence rather than a complaint from every branch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from jsonschema.validators import extend
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .schema_check import Problem, Schemas, dotted, first_sentence, json_type
from .spec import load

SPEC = "urn:guide:openai"


def as_json_schema(node: Any, anchor: str = "") -> Any:
    """OpenAPI's `nullable: true` (which the spec still uses in places) as JSON Schema says it; the words stay on the whole.
    With an anchor, each `#/components/…` reference points into the spec held under that name."""
    if isinstance(node, list):
        return [as_json_schema(item, anchor) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: anchor + value if key == "$ref" else as_json_schema(value, anchor) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is not True:
        return converted
    return {"anyOf": [converted, {"type": "null"}], **({"description": node["description"]} if "description" in node else {})}


def closed(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with each object it leaves open closed (`unevaluatedProperties: false`): OpenAI refuses an unrecognized argument.
    An allOf part is left open, since its siblings define the rest of the object; the object that holds the allOf is closed."""
    schemas = document["components"]["schemas"]
    parts = {
        part["$ref"].rsplit("/", 1)[-1] for node in _nodes(document) for part in node.get("allOf", []) if isinstance(part, dict) and "$ref" in part
    }

    def close(node: Any, part: bool = False) -> Any:
        if isinstance(node, list):
            return [close(item) for item in node]
        if not isinstance(node, dict):
            return node
        made = {key: close(value) if key != "allOf" else [close(each, True) for each in value] for key, value in node.items()}
        if not part and ("properties" in node or "allOf" in node) and "additionalProperties" not in node and node.get("type", "object") == "object":
            made["unevaluatedProperties"] = False
        return made

    return {**document, "components": {**document["components"], "schemas": {name: close(each, name in parts) for name, each in schemas.items()}}}


def _nodes(document: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON document."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            yield node
            stack.extend(node.values())


def tagged(document: dict[str, Any]) -> dict[str, tuple[str, frozenset[str]]]:
    """Each union branch a discriminator can pick, by its $ref: the property that tells (`role`, `type`) and the values it takes."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for node in _nodes(document):
        name = (node.get("discriminator") or {}).get("propertyName")
        for branch in node.get("oneOf", []) if isinstance(name, str) else []:
            ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
            said = document["components"]["schemas"].get(ref.removeprefix("#/components/schemas/"), {}).get("properties", {}).get(name, {})
            values = [said["const"]] if "const" in said else said.get("enum", [])
            if ref and values:
                found[ref] = (str(name), frozenset(v for v in values if isinstance(v, str)))
    return found


def discriminating(branches_by_ref: dict[str, tuple[str, frozenset[str]]]) -> Any:
    """`oneOf` that, where the spec names a discriminator and the value carries it, checks the one branch it names: a message
    of 40 turns is otherwise tried against all six message kinds (about 0.25 ms per message, 10 ms for a long conversation)."""
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
def _kind(strict: bool) -> tuple[Any, Registry[Any]]:
    """The validator class and the registry holding the spec (closed when strict), built once each (about 40 ms)."""
    document = as_json_schema(load())
    if strict:
        document = closed(document)
    registry: Registry[Any] = Registry().with_resource(SPEC, DRAFT202012.create_resource(document))
    return extend(Draft202012Validator, {"oneOf": discriminating(tagged(document))}), registry  # type: ignore[no-untyped-call]


def validator(schema: dict[str, Any], *, strict: bool = False) -> Draft202012Validator:
    """A validator for a schema of the spec's (its $refs point into the spec); strict refuses fields the spec does not define."""
    kind, registry = _kind(strict)
    return kind(as_json_schema(schema, SPEC), registry=registry)  # type: ignore[no-any-return]


def problems(checker: Draft202012Validator, value: Any) -> list[Problem]:
    """Each rule the value breaks, one per field, read through the union branch that fits."""
    if checker.is_valid(value):  # the common case, four times cheaper than gathering every error of a union
        return []
    return list({problem.path: problem for error in checker.iter_errors(value) for problem in explain(error)}.values())


def explain(error: ValidationError) -> list[Problem]:
    """The field(s) at fault and why; a union's branches are read for what they would take."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches, depth = _branches(error), len(error.absolute_path)
        fitting = [errors for errors in branches if not any(unfit(e, depth) for e in errors)]
        if fitting:  # the branches of the value's kind (its `role` or `type` matched): their own complaint is the one
            candidates = [e for errors in fitting for e in errors]
            chosen = best_match(candidates) or candidates[0]
            if other_kind(chosen, len(chosen.absolute_path)):  # best_match walked into a branch of another kind (stop: [] read as a string)
                chosen = max(candidates, key=relevance)  # explain() reads its union itself
            return explain(chosen)
        tags = [e for errors in branches for e in errors if e.validator in ("enum", "const")]
        wanted = _listing(allowed(tags), 12)
        if wanted and not other_kind(error, depth):  # a value of no branch's kind (model: 5) is told its kind, not every name one branch lists
            return [_problem(tags[0].absolute_path, f"{_shown(tags[0].instance)} is not one of: {wanted}", "enum", _common_words(tags))]
        kinds = kinds_taken(error)
        if kinds:
            ordered = sorted(dict.fromkeys(kinds), key=lambda kind: kind == "null")  # null last, as people say it
            wrong = f"should be {' or '.join(_a(k) for k in ordered)}, not {_a(json_type(error.instance))}"
            return [_problem(error.absolute_path, wrong, "type", _words(_schema(error), error.instance))]
        return explain(best_match(error.context) or error.context[0])
    if error.validator in ("unevaluatedProperties", "additionalProperties"):
        known = sorted(Schemas(load()).properties(_schema(error))[0])
        extra = sorted(name for name in (error.instance if isinstance(error.instance, dict) else {}) if name not in known)
        return [_problem([*error.absolute_path, name], _unknown(name, known), str(error.validator)) for name in extra]
    if error.validator == "required":
        name = missing(error)
        field = _schema(error).get("properties", {}).get(name, {})
        return [_problem([*error.absolute_path, name], f"`{name}` is required and missing", "required", _words(field, None))]
    return [_problem(error.absolute_path, reason(error), str(error.validator), _words(_schema(error), error.instance))]


def _problem(path: Iterable[str | int], why: str, rule: str, words: str = "") -> Problem:
    return Problem(dotted(list(path)), why + (f" — {words}" if words else ""), rule)


def _schema(error: ValidationError) -> dict[str, Any]:
    return dict(error.schema) if isinstance(error.schema, dict) else {}


def unfit(error: ValidationError, depth: int) -> bool:
    """Whether a branch's error says the value is of another kind than the branch (not merely wrong within it)."""
    return error.validator in ("enum", "const") or other_kind(error, depth)


def other_kind(error: ValidationError, depth: int) -> bool:
    """Whether the error refuses the value's kind where it stands: a type, or a union (a nullable one) none of whose branches takes it."""
    if len(error.absolute_path) != depth:
        return False
    if error.validator in ("anyOf", "oneOf") and error.context:
        return all(any(other_kind(e, depth) for e in errors) for errors in _branches(error))
    return error.validator == "type"


def _branches(error: ValidationError) -> list[list[ValidationError]]:
    """A failed union's errors, grouped by the branch that gave them."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return list(branches.values())


def kinds_taken(error: ValidationError) -> list[str]:
    """The kinds a union takes where it stands, through the unions inside it (a nullable union of a string and an array)."""
    found: list[str] = []
    for sub in error.context or ():
        if sub.absolute_path != error.absolute_path:
            continue
        if sub.validator == "type":
            found += [str(kind) for kind in listed(sub.validator_value)]
        elif sub.validator in ("anyOf", "oneOf"):
            found += kinds_taken(sub)
    return found


def allowed(errors: list[ValidationError]) -> list[str]:
    """The values the branches would take, where each failed on an enum or a const at the same place."""
    if not errors or len({tuple(e.absolute_path) for e in errors}) > 1:
        return []
    values = [v for e in errors for v in listed(e.validator_value)]
    return list(dict.fromkeys(repr(v) if not isinstance(v, str) else v for v in values))


def listed(value: Any) -> list[Any]:
    """A schema keyword's value as a list (`type` is a name or a list of names)."""
    return value if isinstance(value, list) else [value]


def missing(error: ValidationError) -> str:
    """The required property a `required` error is about."""
    return next((str(name) for name in listed(error.validator_value) if isinstance(error.instance, dict) and name not in error.instance), "")


def reason(error: ValidationError) -> str:
    """Why a value is refused, in a sentence's predicate; a value is shown cut short (it may be megabytes)."""
    rule, limit, value = error.validator, error.validator_value, error.instance
    count = len(value) if isinstance(value, (str, list)) else 0
    unit = "characters" if isinstance(value, str) else "items"
    words: dict[str, Callable[[], str]] = {
        "type": lambda: f"should be {' or '.join(_a(str(k)) for k in listed(limit))}, not {_a(json_type(value))}",
        "enum": lambda: f"{_shown(value)} is not one of: {_listing(listed(limit))}",
        "const": lambda: f"should be {_shown(limit)}, not {_shown(value)}",
        "minimum": lambda: f"{value!r} is less than the minimum, {limit!r}",
        "maximum": lambda: f"{value!r} is more than the maximum, {limit!r}",
        "exclusiveMinimum": lambda: f"{value!r} should be more than {limit!r}",
        "exclusiveMaximum": lambda: f"{value!r} should be less than {limit!r}",
        **dict.fromkeys(("minItems", "minLength"), lambda: f"has {count:,} {unit}; the spec asks for at least {limit:,}"),
        **dict.fromkeys(("maxItems", "maxLength"), lambda: f"has {count:,} {unit}; the spec allows at most {limit:,}"),
    }
    said = words.get(str(rule))
    return said() if said else f"does not keep to the spec ({rule})"


def _unknown(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=1)
    return f"the spec defines no field `{name}` here ({f'did you mean `{near[0]}`?' if near else f'it knows: {_listing(known, 12)}'})"


def _words(schema: Any, value: Any) -> str:
    """The spec's first sentence about this schema (through its $ref or the branch the value takes)."""
    return first_sentence(Schemas(load()).describe(schema, value)) if isinstance(schema, dict) else ""


def _common_words(errors: list[ValidationError]) -> str:
    """What several branches' words share ("The role of the messages author…"), or the first's."""
    texts = [first_sentence(str(_schema(e).get("description", ""))) for e in errors if _schema(e).get("description")]
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


def _listing(values: list[Any], most: int = 8) -> str:
    shown = ", ".join(str(value) if isinstance(value, str) else repr(value) for value in values[:most])
    return shown + (", …" if len(values) > most else "")


def _a(kind: str) -> str:
    return {"array": "an array", "object": "an object", "integer": "an integer", "null": "null", "any": "any value"}.get(kind, f"a {kind}")


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else json_type(value)
    return text if len(text) <= 60 else text[:57] + "…"
