"""The tools a persona may offer the model (`tools = ["now", "calculate"]`): a small bundled set, safe by construction.

Nothing here reaches the network or runs a command. `calculate` evaluates only numbers and operators from Python's own
parser (no names, no calls, no eval, no number past LARGEST_DIGITS). `read_file` reads only the start of a file the user
put in the data folder's `files` folder (never the conversations, log, exports or clipboard file beside it, never
through a link). What either tells the model names only what the model asked for.
"""

from __future__ import annotations

import ast
import datetime
import errno
import math
import operator
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

from guide.locations import data_dir, ensure_private

READ_AT_MOST = 32_000
"""Characters read_file sends the model, its note that the file goes on included (the tool loop would cut a longer result with its own note)."""
GOES_ON = f"… (cut: the file goes on past these {READ_AT_MOST:,} characters)"
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
    return _written(_value(tree.body))


def _written(value: int | float) -> str:
    """The number as text, or why not, said before str() is tried (it refuses past Python's digit limit, 4,300 by default)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is too large to write out" if math.isinf(value) else "the result is not a number")
    longest = min(LARGEST_DIGITS, sys.get_int_max_str_digits() or LARGEST_DIGITS)
    if isinstance(value, int) and abs(value) >= 10**longest:  # a comparison, not a conversion: cheap at any size calculate allows
        raise ValueError(f"the result is too long to write out: more than {longest:,} digits")
    return str(value)


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
        try:
            result = OPERATORS[type(node.op)](left, right)
        except OverflowError:  # 10.0 ** 400, or 10**400 / 3: past what a number with a decimal point holds
            raise ValueError("the result is too large to write out") from None
        if isinstance(result, complex):  # (-8) ** 0.5: Python answers with a complex number, the tool promises real ones
            raise ValueError("the result is not a real number: a negative number to a fractional power")
        return result  # type: ignore[no-any-return]
    raise ValueError("only numbers, + - * / // % ** and parentheses")


def _digits(number: int | float) -> int:
    """Decimal digits of a number's integer part, estimated from its size in bits (no conversion to text)."""
    return int(abs(number)).bit_length() * 30103 // 100000 + 1 if isinstance(number, int) else 1


def read_file(name: str) -> str:
    """Read a text file the user put in guide's `files` folder, inside the data folder (up to 32,000 characters of it)."""
    parts = _parts_of(name)
    folder = _open_folder_of_files()
    try:
        handle = _open_beneath(folder, parts, name)
    finally:
        os.close(folder)
    with os.fdopen(handle, "r", encoding="utf-8", errors="replace") as opened:
        text = opened.read(READ_AT_MOST + 1)  # never more: a file of gigabytes costs no more than this
    return text if len(text) <= READ_AT_MOST else text[: READ_AT_MOST - len(GOES_ON)] + GOES_ON


# Each step opens from the descriptor of the folder before it and never follows a link, so nothing swapped in
# between a check and the open (a link to the user's other files) can be read: there is no separate check.
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FILE = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once, then is refused


def _shown(name: str) -> str:
    """The name as the model asked for it, and only that: error texts never say where the data folder is (the user's name)."""
    return repr(name if len(name) <= 200 else name[:200] + "…")


def _parts_of(name: str) -> list[str]:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or name.startswith("/") or "\0" in name or ".." in parts:
        raise ValueError(f"{_shown(name)} is not a name in the files folder: read_file reads only names there, such as 'notes.txt'")
    return parts


def _open_folder_of_files() -> int:
    """The `files` folder, opened once; a folder that is a link is refused (and its target left as it is)."""
    if not hasattr(os, "O_NOFOLLOW") or os.open not in os.supports_dir_fd:
        raise ValueError("read_file needs a system that can open a file without following links, and this one cannot")
    try:
        data = os.open(ensure_private(data_dir()), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        raise ValueError(f"guide's data folder cannot be opened ({error.strerror})") from None
    try:
        try:
            folder = os.open("files", _FOLDER, dir_fd=data)
        except FileNotFoundError:
            os.mkdir("files", 0o700, dir_fd=data)
            folder = os.open("files", _FOLDER, dir_fd=data)
        except OSError as error:
            if stat.S_ISLNK(os.stat("files", dir_fd=data, follow_symlinks=False).st_mode):
                raise ValueError("the files folder is a link to another place; read_file reads only a real folder named files") from None
            raise ValueError(f"the files folder cannot be opened ({error.strerror})") from None
    finally:
        os.close(data)
    try:
        os.fchmod(folder, 0o700)  # on the folder itself, opened without following a link: readable by the user only
    except OSError:
        pass
    return folder


def _open_beneath(folder: int, parts: list[str], name: str) -> int:
    """The file at these parts under the folder's descriptor, each part opened without following a link; a regular file only."""
    at = folder
    try:
        for part in parts[:-1]:
            inner = _open_part(at, part, _FOLDER, name)
            if at != folder:
                os.close(at)
            at = inner
        handle = _open_part(at, parts[-1], _FILE, name)
    finally:
        if at != folder:
            os.close(at)
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise ValueError(f"{_shown(name)} is not a file (a folder or a device); read_file reads only text files")
        os.set_blocking(handle, True)
    except BaseException:
        os.close(handle)
        raise
    return handle


def _open_part(at: int, part: str, flags: int, name: str) -> int:
    try:
        return os.open(part, flags, dir_fd=at)
    except OSError as error:
        raise _refusal(error, part, at, name) from None


def _refusal(error: OSError, part: str, at: int, name: str) -> Exception:
    """What the model reads when a part would not open: the name it asked for and why, never a path of the user's."""
    if isinstance(error, FileNotFoundError):
        return FileNotFoundError(f"there is no file {_shown(name)} in the files folder")
    try:
        link = stat.S_ISLNK(os.stat(part, dir_fd=at, follow_symlinks=False).st_mode)
    except OSError:
        link = False
    if link or error.errno == errno.ELOOP:
        return ValueError(f"{_shown(name)} is a link; read_file opens only files in the files folder themselves, never links")
    if error.errno == errno.ENOTDIR:
        return FileNotFoundError(f"there is no file {_shown(name)} in the files folder")
    return ValueError(f"{_shown(name)} cannot be read ({error.strerror})")


BUNDLED: dict[str, Callable[..., str]] = {"now": now, "calculate": calculate, "read_file": read_file}
"""The tools a persona may name, by name."""


def tools_for(names: tuple[str, ...]) -> list[Callable[..., str]]:
    """The functions for these names (the persona's file was checked when it loaded)."""
    return [BUNDLED[name] for name in names if name in BUNDLED]
