"""The tools a persona may offer the model: a small bundled set, safe by construction. Headless.

Nothing here reaches the network or runs a command. `calculate` reads the
expression as arithmetic (Python's own parser, then only numbers and
operators are evaluated: no names, no calls, no eval, and no number past
LARGEST_DIGITS), `read_file` reads only a file the user put in the `files`
folder inside the data folder (never the conversations, the log, exports or
the clipboard file beside it), and only its start.
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
LARGEST_DIGITS = 10_000
"""The most digits an operand or a result may have: big-integer arithmetic holds Python's lock, so ((10**1000)**1000)**10 froze the app."""


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
        if (
            isinstance(node.op, (ast.Pow, ast.Mult))
            and _digits(left) * (abs(right) if isinstance(node.op, ast.Pow) else 1) + (0 if isinstance(node.op, ast.Pow) else _digits(right))
            > LARGEST_DIGITS
        ):
            raise ValueError(f"the result would have more than {LARGEST_DIGITS:,} digits")
        return OPERATORS[type(node.op)](left, right)  # type: ignore[no-any-return]
    raise ValueError("only numbers, + - * / // % ** and parentheses")


def _digits(number: int | float) -> int:
    """Decimal digits of a number's integer part, estimated from its size in bits (no conversion to text)."""
    return int(abs(number)).bit_length() * 30103 // 100000 + 1 if isinstance(number, int) else 1


def read_file(name: str) -> str:
    """Read a text file the user put in guide's `files` folder, inside the data folder (its first 32,000 characters)."""
    folder = folder_of_files().resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise ValueError(f"only files in {folder} can be read")
    if not path.is_file():
        raise FileNotFoundError(f"there is no file {name!r} in {folder}")
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        text = handle.read(READ_AT_MOST + 1)
    return text if len(text) <= READ_AT_MOST else text[:READ_AT_MOST] + "… (cut)"


BUNDLED: dict[str, Callable[..., str]] = {"now": now, "calculate": calculate, "read_file": read_file}
"""The tools a persona may name, by name."""


def tools_for(names: tuple[str, ...]) -> list[Callable[..., str]]:
    """The functions for these names (the persona's file was checked when it loaded)."""
    return [BUNDLED[name] for name in names if name in BUNDLED]


def folder_of_files() -> Path:
    """Where read_file reads: `files` in the data folder, made for it (readable by the user only), apart from what guide keeps."""
    from guide.locations import ensure_private

    return ensure_private(data_dir() / "files")
