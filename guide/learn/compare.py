"""Two answers side by side, their differences marked: what a replay with edits changed. Headless."""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

Mark = Literal[" ", "~", "-", "+"]
"""Same on both sides · changed · only on the left (the original) · only on the right (the replay)."""
Row = tuple[str, str, Mark]


def side_by_side(left: str, right: str) -> list[Row]:
    """The two texts line by line, aligned where they agree, each row marked by how its sides differ."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [(line, line, " ") for line in a[i1:i2]]
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            old, new = (olds[k] if k < len(olds) else None), (news[k] if k < len(news) else None)
            mark: Mark = "~" if old is not None and new is not None else ("-" if old is not None else "+")
            rows.append((old or "", new or "", mark))
    return rows


def changed_fields(before: Any, after: Any, at: str = "") -> list[str]:
    """The paths where two JSON values differ (`temperature`, `messages[0].content`, `stream`)."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for key in [*before, *(k for k in after if k not in before)]:
            where = f"{at}.{key}" if at else str(key)
            if key not in before or key not in after:
                paths.append(where)
            else:
                paths += changed_fields(before[key], after[key], where)
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [path for i, (x, y) in enumerate(zip(before, after)) for path in changed_fields(x, y, f"{at}[{i}]")]
    same = json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)
    return [] if same else [at or "(the whole body)"]
