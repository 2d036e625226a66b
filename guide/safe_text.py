"""Text from outside shown safely: everything guide did not write itself (a server's words, model names, file names,
persona fields) passes here before a terminal, so an ESC is drawn as ␛, never obeyed (retitling, clearing the screen).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n]+")


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "␡" if code == 0x7F else "�"


def visible(text: str) -> str:
    """The text with terminal control characters (ESC, BEL, bidi overrides, …) shown as symbols; lines kept."""
    return _CONTROL.sub(_symbol, text)


def one_line(text: str) -> str:
    """`visible`, on one line: for a status line, a list row, a title."""
    return _BREAKS.sub(" ", visible(text))
