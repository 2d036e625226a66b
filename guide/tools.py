"""The tools a persona may offer the model: a small bundled set, safe by construction. Headless.

Nothing here reaches the network or runs a command. `calculate` reads the
expression as arithmetic (Python's own parser, then only numbers and
operators are evaluated: no names, no calls, no eval), `read_file` reads only
inside the data folder, a file the user names, and only its start.
A persona names them in its file: `tools = ["now", "calculate"]`.
"""

from __future__ import annotations

import ast
import datetime
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guide.locations import data_dir

READ_AT_MOST = 32_000
"""Characters of a file read_file sends the model."""
LONGEST_SUM = 200
"""Characters of an expression calculate reads."""
LARGEST_POWER = 1000
"""The largest exponent calculate raises to (10**10**10 would fill the memory)."""


def now() -> str:
    """The date and time now, where the user is (ISO 8601, with the time zone)."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def calculate(expression: str) -> str:
    """Work out an arithmetic expression: numbers, + - * / // % ** and parentheses, such as (3 + 4) * 2."""
    if len(expression) > LONGEST_SUM:
        raise ValueError(f"the expression is longer than {LONGEST_SUM} characters")
    tree = ast.parse(expression.strip(), mode="eval")
    return str(_value(tree.body))


def _value(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](_value(node.operand))  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > LARGEST_POWER:
            raise ValueError(f"powers above {LARGEST_POWER} are not worked out")
        return OPERATORS[type(node.op)](left, right)  # type: ignore[no-any-return]
    raise ValueError("only numbers, + - * / // % ** and parentheses")


def read_file(name: str) -> str:
    """Read a text file the user named, from guide's data folder (its first 32,000 characters)."""
    folder = data_dir().resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise ValueError("only files inside guide's data folder can be read")
    if not path.is_file():
        raise FileNotFoundError(f"there is no file {name!r} in guide's data folder")
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        text = handle.read(READ_AT_MOST + 1)
    return text if len(text) <= READ_AT_MOST else text[:READ_AT_MOST] + "… (cut)"


BUNDLED: dict[str, Callable[..., str]] = {"now": now, "calculate": calculate, "read_file": read_file}
"""The tools a persona may name, by name."""


def tools_for(names: tuple[str, ...]) -> list[Callable[..., str]]:
    """The functions for these names (the persona's file was checked when it loaded)."""
    return [BUNDLED[name] for name in names if name in BUNDLED]


def folder_of_files() -> Path:
    """Where read_file reads: the data folder."""
    return data_dir()
