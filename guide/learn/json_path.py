"""The JSON path of whatever lies under a cursor in a JSON text, even one half typed.

A small tokenizer walks the text from its start, keeping a stack of the objects and arrays it is inside, up to the
offset: a body being edited (a missing brace, an unfinished string) still gives the best path up to the cursor. Text
outside any object or array (an SSE line's `data: ` prefix, the blank line between frames) has no path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

Path = tuple[str | int, ...]

_TOKEN = re.compile(r'"(?:[^"\\]+|\\[\s\S]?)*"?|[^\s,:\[\]{}"]+|\S')
"""A string (to its closing quote, or the text's end), a scalar (number, true, false, null, or a half-typed one), or one of {}[]:,."""
_OPEN = re.compile(r"\{|\[(?!DONE\])")
"""What opens a top-level value: between them lie `data: `, blank lines, the stream's closing `[DONE]`."""


@dataclass
class _Frame:
    """One object or array the cursor is inside."""

    path: Path
    is_object: bool
    key: str | None = None
    index: int = 0
    after_colon: bool = False

    def member(self) -> Path:
        """The path of the member being read now (the key's, or the item's)."""
        if self.is_object:
            return (*self.path, self.key) if self.key is not None else self.path
        return (*self.path, self.index)


def path_at(text: str, offset: int) -> Path | None:
    """The path of the key or value under this character offset; a key gives its property's path. None outside JSON."""
    if not 0 <= offset <= len(text):
        return None
    stack: list[_Frame] = []
    position = 0
    while (found := (_TOKEN if stack else _OPEN).search(text, position)) and found.start() <= offset:
        start, position, token = found.start(), found.end(), found.group()
        frame = stack[-1] if stack else None
        if token in ("{", "["):
            path = frame.member() if frame is not None else ()
            if offset == start:
                return path
            stack.append(_Frame(path, token == "{"))
            continue
        assert frame is not None  # outside a container only { and [ are read
        if token in ("}", "]"):
            if offset == start:
                return frame.path
            stack.pop()
        elif token == ":":
            frame.after_colon = True
            if offset == start:
                return frame.member()
        elif token == ",":
            if offset == start:
                return frame.path
            if frame.is_object:
                frame.key, frame.after_colon = None, False
            else:
                frame.index += 1
        elif token.startswith('"'):
            if offset <= position:
                return (*frame.path, _decoded(token)) if frame.is_object and not frame.after_colon else frame.member()
            if frame.is_object and not frame.after_colon:
                frame.key = _decoded(token)
        elif offset <= position:  # a scalar
            return frame.member() if frame.after_colon or not frame.is_object else frame.path
    if not stack:
        return None
    frame = stack[-1]
    return frame.member() if (frame.is_object and frame.after_colon) else frame.path


def _decoded(token: str) -> str:
    """A string token's text; an unfinished one as far as it goes."""
    try:
        value = json.loads(token if token.endswith('"') and len(token) > 1 else token + '"')
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token.strip('"')
