"""The OpenAI OpenAPI spec, cut down to what guide speaks: its map's routes and every component they reach.

    python -m guide.learn.spec_cut [PATH/TO/openapi.yaml]

writes guide/learn/openapi.compact.json from the full spec (by default ../shared/openai-openapi/openapi.yaml, beside the
clone). The compact copy ships inside the package (it explains fields and checks edited requests in the app) and the
tests read it, so the spec checks run on any fresh machine; `test_the_compact_spec_is_the_full_ones_cut` derives it again
whenever the full spec is there and fails if the copy has gone stale. PyYAML (a test dependency, not a runtime one) is
imported only to read the full spec.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from guide.client import Gentle

HERE = Path(__file__).resolve().parent
FULL = HERE.parents[2] / "shared" / "openai-openapi" / "openapi.yaml"
COMPACT = HERE / "openapi.compact.json"
STREAM_CHUNKS = {
    Gentle.think: "CreateChatCompletionStreamResponse",
    Gentle.continue_: "CreateCompletionResponse",
    Gentle.respond: "ResponseStreamEvent",
}
"""The schema each streamed action's chunks (respond's: typed events) keep to, by gentle action: only the map spells a path."""
DROPPED = "x-oaiMeta"
"""The spec's documentation examples (curl, Python, Node, C# samples): no field's meaning is in them, and they were a third of the copy."""
ALSO = ("ErrorResponse", *STREAM_CHUNKS.values())


def cut(spec: dict[str, Any], routes: dict[str, str], schemas: tuple[str, ...] = ALSO) -> dict[str, Any]:
    """Just these routes (path → method) and these schemas, with every component they refer to; routes the spec lacks
    (revise's /edits, retired at OpenAI: its historical shape is in tests/test_revise_shape.py) are left out."""
    paths = {path: {method.lower(): spec["paths"][path][method.lower()]} for path, method in routes.items() if path in spec["paths"]}
    wanted = {f"#/components/schemas/{name}" for name in schemas}
    stack: list[Any] = [paths, *(spec["components"]["schemas"][name] for name in schemas)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in wanted:
                wanted.add(ref)
                section, name = ref.removeprefix("#/components/").split("/", 1)
                stack.append(spec["components"][section][name])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    components: dict[str, dict[str, Any]] = {"securitySchemes": spec["components"].get("securitySchemes", {})}
    for ref in sorted(wanted):
        section, name = ref.removeprefix("#/components/").split("/", 1)
        components.setdefault(section, {})[name] = spec["components"][section][name]
    compact: dict[str, Any] = _without_examples(
        {"openapi": spec["openapi"], "info": spec["info"], "servers": spec["servers"], "paths": paths, "components": components}
    )
    return compact


def _without_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_examples(value) for key, value in node.items() if key != DROPPED}
    if isinstance(node, list):
        return [_without_examples(item) for item in node]
    return node


def map_routes() -> dict[str, str]:
    """The routes of guide's map (path → method)."""
    from guide.client import ACTIONS

    return {action.path: action.method for action in ACTIONS.values()}


def read_full(path: Path = FULL) -> dict[str, Any]:
    """The full spec, read from its YAML (needs PyYAML)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        full: dict[str, Any] = yaml.load(handle, Loader=loader)
    return full


def as_text(compact: dict[str, Any]) -> str:
    """The compact spec as it is stored: one line of JSON, keys sorted, so a re-cut compares byte for byte."""
    return json.dumps(compact, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"


def main(full: Path) -> None:
    """Cut the full spec at this path and write the compact copy beside this module."""
    spec, routes = read_full(full), map_routes()
    text = as_text(cut(spec, routes))
    COMPACT.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(full.read_bytes()).hexdigest()
    print(f"wrote {COMPACT} ({len(text.encode()):,} bytes) from {full} (sha256 {digest})")
    for path in sorted(set(routes) - set(spec["paths"])):
        print(f"left out {path}: the map has it, the spec no longer does (retired)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FULL)
