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

_SCALAR = re.compile(r"[^\s,:\[\]{}\"]+")


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
    while position < len(text) and position <= offset:
        char = text[position]
        if not stack and (char not in "{[" or text.startswith("[DONE]", position)):
            position += 1  # between top-level values: `data: `, blank lines, the stream's closing `[DONE]`
            continue
        if char.isspace():
            position += 1
            continue
        frame = stack[-1] if stack else None
        if char == '"':
            end = _string_end(text, position)
            if frame is not None and position <= offset <= end:
                if frame.is_object and not frame.after_colon:
                    return (*frame.path, _decoded(text[position:end]))
                return frame.member()
            if frame is not None and frame.is_object and not frame.after_colon:
                frame.key = _decoded(text[position:end])
            position = end
            continue
        if char in "{[":
            path = frame.member() if frame is not None else ()
            if offset == position:
                return path
            stack.append(_Frame(path, char == "{"))
            position += 1
            continue
        if char in "}]":
            if offset == position:
                return stack[-1].path if stack else None
            if stack:
                stack.pop()
            position += 1
            continue
        assert frame is not None  # outside a container only { and [ are read
        if char == ":":
            frame.after_colon = True
            if offset == position:
                return frame.member()
        elif char == ",":
            if offset == position:
                return frame.path
            if frame.is_object:
                frame.key, frame.after_colon = None, False
            else:
                frame.index += 1
        else:
            match = _SCALAR.match(text, position)
            end = match.end() if match else position + 1
            if position <= offset <= end:
                return frame.member() if frame.after_colon or not frame.is_object else frame.path
            position = end
            continue
        position += 1
    if not stack:
        return None
    frame = stack[-1]
    return frame.member() if (frame.is_object and frame.after_colon) else frame.path


def _string_end(text: str, start: int) -> int:
    """The index just past the closing quote of the string that opens at `start` (the text's end if it never closes)."""
    position = start + 1
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        if text[position] == '"':
            return position + 1
        position += 1
    return len(text)


def _decoded(token: str) -> str:
    """A string token's text; an unfinished one as far as it goes."""
    try:
        value = json.loads(token if token.endswith('"') and len(token) > 1 else token + '"')
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token.strip('"')
