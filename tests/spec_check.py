"""Checks a recorded request against the official OpenAPI spec."""

from __future__ import annotations

from typing import Any

from loopback import Recorded

from guide import ACTIONS, API_VERSION


def _schema(spec: dict[str, Any], ref_or_schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required fields of a schema, following $ref and allOf."""
    schemas = spec["components"]["schemas"]
    if "$ref" in ref_or_schema:
        ref_or_schema = schemas[ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    properties: dict[str, Any] = {}
    required: set[str] = set()
    for part in ref_or_schema.get("allOf", [ref_or_schema]):
        if "$ref" in part:
            more, needed = _schema(spec, part)
        else:
            more, needed = part.get("properties", {}), set(part.get("required", []))
        properties.update(more)
        required |= needed
    return properties, required


def check_request(spec: dict[str, Any], action: str, request: Recorded) -> None:
    """Method, path, content type and required fields, as the spec gives them."""
    row = ACTIONS[action]
    assert request.method == row.method
    assert request.path.split("?")[0] == f"/{API_VERSION}{row.path}"
    operation = spec["paths"][row.path][row.method.lower()]
    if "requestBody" not in operation:
        assert request.body == b""
        return
    content = operation["requestBody"]["content"]
    assert request.content_type in content, (request.content_type, list(content))
    properties, required = _schema(spec, content[request.content_type]["schema"])
    sent = request.json if request.content_type == "application/json" else {**request.form, **request.files}
    assert isinstance(sent, dict)
    missing = required - set(sent)
    assert not missing, f"{action} is missing required fields {missing}"
    unknown = set(sent) - set(properties)
    assert not unknown, f"{action} sent fields the spec does not define: {unknown}"
