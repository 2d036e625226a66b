"""Write a long conversation into a scratch GUIDE_HOME, to try or measure guide on it.

    python benchmarks/long_conversation.py /tmp/scratch 10000 [branch points]
    GUIDE_HOME=/tmp/scratch guide        # then F4 opens it

Messages alternate between the user and the calm guide (the last one is the
guide's): paragraphs, lists, now and then a code fence. Each message's words
come from its distance to the end, so every run writes the same words and
the latest messages are the same whatever the length. Message 1234 (counting from 0) holds the word "lighthouse", and no
other does, so search has one thing to find. It also files one call per
reply, so the calls panel and its counts have something to read.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

WORDS = (
    "breath calm tea window morning river stone light quiet path garden walk rain listen slowly "
    "moment kettle notebook shoulder evening lantern harbour meadow cloud patience question answer"
).split()
NEEDLE = "lighthouse"
NEEDLE_AT = 1234


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def message(rng: random.Random, index: int) -> str:
    """One message's Markdown: a few sentences, sometimes a list or code."""
    parts = [words(rng, rng.randint(8, 40)).capitalize() + "."]
    if rng.random() < 0.4:
        parts.append("\n".join(f"- {words(rng, rng.randint(3, 8))}" for _ in range(rng.randint(2, 4))))
    if rng.random() < 0.1:
        parts.append(f"```python\nprint({words(rng, 2)!r})\n```")
    if index == NEEDLE_AT:
        parts.append(f"The {NEEDLE} keeps its light on.")
    return "\n\n".join(parts)


def generate(home: Path, count: int, *, title: str = "A long walk", calls: bool = True, branches: int = 0) -> int:
    """Write one conversation of `count` messages (and a call per reply); returns its id. With `branches`, that many user
    messages, spread evenly from the first, were edited once (a message and its reply each); the first branch stays in view."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import os

    os.environ["GUIDE_HOME"] = str(home)
    from guide.client import ACTIONS, Trace
    from guide.store import Store

    store = Store()
    uid = uuid.uuid4().hex
    store.new_conversation(uid, "calm-guide", title)
    assert store.flush()
    conversation = next(info.id for info in store.conversations() if info.uid == uid)
    store.close()
    start = time.time() - count * 60
    rows, traces = [], []
    for i in range(count):
        rng = random.Random(count - i)  # the same latest messages whatever the length: sizes compare fairly
        role = "user" if (count - i) % 2 == 0 else "assistant"
        trace_id = f"call-{conversation}-{i}" if calls and role == "assistant" else None
        rows.append((conversation, role, message(rng, i), "Calm guide" if role == "assistant" else "", "smollm2", "done", trace_id, start + i * 60))
        if trace_id:
            trace = Trace(
                "think",
                "POST",
                "http://127.0.0.1:8080" + ACTIONS["think"].legacy_path,
                gentle="ai.think(messages, stream=True)",
                request_body={"model": "smollm2", "stream": True},
                stream=True,
                id=trace_id,
                started_at=start + i * 60,
                state="done",
                status=200,
                total_ms=rng.uniform(300, 3000),
                usage={"prompt_tokens": 40, "completion_tokens": 60, "total_tokens": 100},
            ).to_dict()
            traces.append((trace_id, conversation, "think", start + i * 60, json.dumps(trace)))
    db = sqlite3.connect(home / "data" / "guide.sqlite3")
    with db:
        db.executemany(
            "INSERT INTO messages(conversation_id, role, content, persona, model, state, trace_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany("INSERT INTO traces(id, conversation_id, action, started_at, data) VALUES (?, ?, ?, ?, ?)", traces)
        db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (start + count * 60, conversation))
        if branches:
            branch(db, conversation, branches, start)
    db.close()
    assert conversation is not None
    return conversation


def branch(db: sqlite3.Connection, conversation: int, branches: int, start: float) -> None:
    """Edit `branches` user messages, spread evenly from the first, as guide keeps an edit: a sibling and its reply, out of view."""
    line = [row[0] for row in db.execute("SELECT id FROM messages WHERE conversation_id = ? ORDER BY id", (conversation,))]
    users = [
        i
        for i, message_id in enumerate(line)
        if i < len(line) - 2 and db.execute("SELECT role FROM messages WHERE id = ?", (message_id,)).fetchone()[0] == "user"
    ]
    for n, i in enumerate(users[:: max(1, len(users) // branches)][:branches]):
        parent = line[i - 1] if i else None
        for role, words in (("user", f"Edited message {n}, put another way."), ("assistant", f"Another answer to edit {n}.")):
            added = db.execute(
                "INSERT INTO messages(conversation_id, role, content, model, uid, created_at) VALUES (NULL, ?, ?, 'smollm2', ?, ?)",
                (role, words, uuid.uuid4().hex, start + i * 60 + 30),
            ).lastrowid
            db.execute("INSERT INTO tree(message_id, conversation_id, parent_id) VALUES (?, ?, ?)", (added, conversation, parent))
            parent = added


def main() -> None:
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    home, count = Path(sys.argv[1]), int(sys.argv[2])
    conversation = generate(home, count, branches=int(sys.argv[3]) if len(sys.argv) == 4 else 0)
    print(f"conversation {conversation}: {count:,} messages in {home / 'data' / 'guide.sqlite3'}")


if __name__ == "__main__":
    main()
