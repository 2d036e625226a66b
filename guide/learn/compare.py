"""Two answers side by side, their differences marked: what a replay with edits changed. Headless."""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

Mark = Literal[" ", "~", "-", "+"]
"""Same on both sides · changed · only on the left (the original) · only on the right (the replay)."""
Row = tuple[str, str, Mark]


VOLATILE = frozenset({"id", "created", "created_at", "completed_at", "system_fingerprint", "item_id", "call_id"})
"""Fields that differ on every call (ids, times): set apart, so that the comparison marks what changed in the answer."""
CONTEXT = 12
"""Characters kept before the first difference in a changed line: the change stays on screen in a narrow column."""


def without_volatile(value: Any, apart: dict[str, list[str]]) -> Any:
    """The value with its ids and times taken out (collected in `apart`, by name, in order)."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if key in VOLATILE and isinstance(item, (str, int, float)):
                apart.setdefault(key, []).append(str(item))
            else:
                kept[key] = without_volatile(item, apart)
        return kept
    if isinstance(value, list):
        return [without_volatile(item, apart) for item in value]
    return value


def comparable(status: int | None, body: Any, frames: list[tuple[float, str]]) -> tuple[str, str]:
    """An answer as it is compared (status, then the body or each frame's data, ids and arrival times left out), and what was left out."""
    apart: dict[str, list[str]] = {}
    lines = [f"HTTP {status}" if status is not None else "no answer"]
    if frames:
        for _, data in frames:
            try:
                lines.append("data: " + json.dumps(without_volatile(json.loads(data), apart), ensure_ascii=False))
            except ValueError:
                lines.append(f"data: {data}")
    elif isinstance(body, (dict, list)):
        lines += json.dumps(without_volatile(body, apart), indent=2, ensure_ascii=False).splitlines()
    elif body is not None:
        lines += str(body).splitlines()
    left_out = " · ".join(f"{name} {values[0]}" + (f" (+{len(values) - 1})" if len(values) > 1 else "") for name, values in apart.items())
    return "\n".join(lines), left_out


def _shared_start(old: str, new: str) -> int:
    """How many characters two texts share at their start."""
    return next((at for at, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))


def from_the_change(old: str, new: str, width: int | None = None) -> tuple[str, str]:
    """Two changed lines shown from a little before where they first differ when a long shared start would hide the change;
    whole when the change is within the first `width` characters (what a column shows): the field it is in stays in sight."""
    same = _shared_start(old, new)
    if same <= CONTEXT * 2 or (width is not None and same + CONTEXT <= width):
        return old, new
    cut = same - CONTEXT
    return "…" + old[cut:], "…" + new[cut:]


def changed_spans(old: str, new: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where two lines differ: the part of each between what they share at the start and what they share at the end."""
    start = _shared_start(old, new)
    end = _shared_start(old[start:][::-1], new[start:][::-1])
    return (start, len(old) - end), (start, len(new) - end)


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
