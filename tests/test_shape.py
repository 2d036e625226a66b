"""The code's shape: the app uses the client's public names, and Textual's public API only.

A private name is the first thing to change in a minor release: these tests
fail when one is reached for, so the next upgrade is not a hunt.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import guide
import guide.tui

ROOT = Path(guide.__file__).parent


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Each module an import statement in `path` names (an ImportFrom's names too, since `from a import _b` may be a module)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def private_imports(prefix: str, skip: str | None = None) -> list[str]:
    """`file:line module` for each import, in guide's modules (less those under `skip`), of a private module under `prefix`."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).as_posix()
        if skip and relative.startswith(skip):
            continue
        for line, name in imported_modules(path):
            parts = name.split(".")
            if name.startswith(prefix + ".") and any(part.startswith("_") and not part.startswith("__") for part in parts[1:]):
                found.append(f"{relative}:{line} {'.'.join(parts[: 1 + next(i for i, p in enumerate(parts[1:], 1) if p.startswith('_'))])}")
    return sorted(set(found))


def test_only_the_client_imports_its_private_modules() -> None:
    # What the app needs is guide.client's public names, or guide.client.internal (documented as the app's).
    assert private_imports("guide.client", skip="guide/client/") == []


def test_the_clients_internal_api_loads_no_httpx() -> None:
    # The first paint reads addresses, pictures and the PNG decoder through it: httpx comes later, with the first call.
    code = "import sys, guide.client.internal as i; [getattr(i, n) for n in i.__all__]; print(sorted(m for m in ('httpx', 'textual') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


GENTLE_NAMES = frozenset(str(name) for name in guide.ACTIONS)
THE_MAP = ROOT / "client" / "_map.py"
"""The one module that spells the gentle actions' names: elsewhere each is a `Gentle` member, which mypy checks."""


def action_literals(path: Path) -> list[str]:
    """`file:line 'name'` for each string constant in `path` that names a gentle action.

    Docstrings and the text parts of f-strings are prose, not names, and are not counted.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bodies = [node.body for node in ast.walk(tree) if isinstance(getattr(node, "body", None), list)]  # type: ignore[attr-defined]
    prose = {id(statement.value) for body in bodies for statement in body if isinstance(statement, ast.Expr)}  # docstrings
    prose |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    return [
        f"{path.relative_to(ROOT.parent).as_posix()}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in GENTLE_NAMES and id(node) not in prose
    ]


def test_no_module_but_the_map_spells_a_gentle_action() -> None:
    # `action == "speak"` in ten files is what made adding an endpoint a hunt: what differs per endpoint is on the map's row,
    # and the name is `Gentle.speak`. (Re-run /work/wt/actions-codemod.py after a merge brings strings back.)
    found = [line for path in sorted(ROOT.rglob("*.py")) if path != THE_MAP for line in action_literals(path)]
    assert found == []


def test_no_guide_module_imports_a_private_textual_module() -> None:
    assert private_imports("textual") == []


def guide_tui_classes() -> Iterator[type]:
    """Every class defined in guide.tui's modules, nested ones (a widget's messages) too."""
    for info in pkgutil.walk_packages(guide.tui.__path__, "guide.tui."):
        module = importlib.import_module(info.name)
        pending = [value for value in vars(module).values() if inspect.isclass(value) and value.__module__ == module.__name__]
        while pending:
            cls = pending.pop()
            yield cls
            pending += [value for value in vars(cls).values() if inspect.isclass(value) and value.__module__ == module.__name__]


def textual_private_overrides() -> list[str]:
    """`Class._method (textual.Base)` for each method a guide.tui class defines over a Textual base's private one."""
    found = []
    for cls in guide_tui_classes():
        textual_bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "textual"]
        for name, value in vars(cls).items():
            if not name.startswith("_") or name.startswith("__"):
                continue
            if not (inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property))):
                continue  # Textual's own bookkeeping set on subclasses (_css_type_name, _decorated_handlers) is not an override
            base = next((base for base in textual_bases if name in vars(base)), None)
            if base is not None:
                found.append(f"{cls.__qualname__}.{name} ({base.__module__}.{base.__qualname__})")
    return sorted(found)


def test_no_tui_class_overrides_a_textual_private_method() -> None:
    assert textual_private_overrides() == []


def long_functions(folder: Path, most: int) -> list[str]:
    """`file:line name (N lines)` for each function or method under `folder` longer than `most` lines, a nested one within its outer and on its own."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > most:
                    found.append(f"{path.relative_to(ROOT.parent).as_posix()}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_the_companion_is_over_80_lines() -> None:
    # The companion's build() was 265 lines of nested closures: a function this long is a module waiting to be one.
    assert long_functions(ROOT / "companion", 80) == []
