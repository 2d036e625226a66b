"""The public surface: complete, sorted, and free of the TUI."""

from __future__ import annotations

import json
import subprocess
import sys

import guide
import guide.client


def in_order(names: list[str]) -> list[str]:
    """Constants, then classes, then the rest: the order ruff's RUF022 keeps."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))


def test_all_is_sorted_and_complete() -> None:
    assert guide.__all__ == in_order(guide.__all__)
    for name in guide.__all__:
        assert getattr(guide, name) is not None


def test_the_client_exports_what_it_defines() -> None:
    assert guide.client.__all__ == in_order(guide.client.__all__)
    assert set(guide.client._MODULE_OF) | {"probe"} == set(guide.client.__all__)
    for name in guide.client.__all__:
        assert getattr(guide.client, name) is not None


def test_guide_reexports_the_client_surface() -> None:
    for name in ("Guide", "AsyncGuide", "ACTIONS", "GuideError", "Reply", "Trace"):
        assert getattr(guide, name) is getattr(guide.client, name)


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    return set(json.loads(out))


def test_the_client_never_imports_textual() -> None:
    loaded = _modules_after("import guide, guide.client; from guide import Guide, AsyncGuide")
    assert "httpx" in loaded
    assert not any(name == "textual" or name.startswith("textual.") for name in loaded)


def test_importing_guide_loads_neither_httpx_nor_textual() -> None:
    loaded = _modules_after("import guide")
    assert "httpx" not in loaded
    assert "textual" not in loaded
