"""Branches in the store (issue 28): a tree per conversation, an existing file migrated, and older guides still at home in it.

`store-v3.sqlite3` was written by the guide of schema 3 (tests/data/make_store_v3.py says how). The
older guide's reads and writes below are its own words of that time, kept here as they were: they
must go on working on a file this guide has made, since an older guide opens a newer file as it is.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guide import store_schema
from guide.store import Store

V3 = Path(__file__).parent / "data" / "store-v3.sqlite3"


@dataclass(frozen=True)
class OlderStoredMessage:
    """StoredMessage as the guide of schema 3 had it: it reads `SELECT *` into exactly these fields."""

    id: int
    conversation_id: int
    role: str
    content: str
    persona: str = ""
    model: str = ""
    state: str = "done"
    trace_id: str | None = None
    created_at: float = 0.0
    uid: str | None = None
    kind: str = ""
    data: Any = None


OLDER_PAGE = "SELECT * FROM messages WHERE conversation_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
OLDER_LIST = """SELECT c.id, c.uid, c.title, c.persona, c.opening, c.updated_at,
       (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.role IN ('user', 'assistant')) AS n
FROM conversations c ORDER BY c.updated_at DESC, c.id DESC"""
OLDER_SEARCH = """SELECT m.id, m.conversation_id, c.title FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
JOIN conversations c ON c.id = m.conversation_id WHERE messages_fts MATCH ? AND m.role IN ('user', 'assistant')"""
OLDER_INSERT = (
    "INSERT INTO messages(uid, conversation_id, role, kind, content, persona, model, state, trace_id, data, created_at) "
    "VALUES (?, ?, ?, '', ?, '', '', 'done', NULL, NULL, ?) ON CONFLICT(uid) DO NOTHING"
)


def older_guide(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys=ON")
    return db


def older_read(db: sqlite3.Connection, conversation_id: int) -> list[str]:
    """What the older guide shows of a conversation: its page, made into its own messages (a column too many would fail here)."""
    rows = db.execute(OLDER_PAGE, (conversation_id, 2**63 - 1, -1)).fetchall()
    return [OlderStoredMessage(**dict(row)).content for row in reversed(rows)]


def migrated(tmp_path: Path) -> Store:
    path = tmp_path / "guide.sqlite3"
    shutil.copy(V3, path)
    return Store(path)


def test_a_v3_store_is_migrated_with_every_conversation_as_one_branch(tmp_path: Path) -> None:
    with sqlite3.connect(V3) as before:
        assert before.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    before.close()
    store = migrated(tmp_path)
    assert store_schema.version(store._db) == store_schema.SCHEMA_VERSION == 4
    assert store.notice is not None and "copy of the old one" in store.notice
    walk, tea, empty = sorted(store.conversations(), key=lambda info: info.id)
    assert (walk.title, walk.messages, tea.messages, empty.messages) == ("Where shall we walk?", 4, 2, 0)
    messages = store.messages(walk.id)
    assert [m.content for m in messages] == [
        "Where shall we walk?",
        "Along the river, slowly.",
        "model: m2",
        "And after the river?",
        "Up to the meadow.",
    ]
    assert [m.parent_uid for m in messages] == [None, "w1", "w2", "w3", "w4"]  # one branch, in the order it was said
    assert messages[-1].state == "stopped" and messages[2].data == {"action": "think", "was": "m1"}
    assert store.forks(walk.id) == {} and store.forks(empty.id) == {}
    assert [hit.conversation_id for hit in store.search("meadow")] == [walk.id]
    # The next message follows the last one, and the file is migrated once.
    store.add_message("walk", "w7", "user", "And then?", parent="w6")
    assert store.flush()
    assert [m.parent_uid for m in store.messages(walk.id)][-1] == "w6"
    store.close()
    assert Store(tmp_path / "guide.sqlite3").notice is None


def two_branches(tmp_path: Path) -> tuple[Store, int]:
    """walk: w1 → w2 → w3 → w4 → w6 (as kept), then w4 edited: w1 → w2 → w3 → e1 → e2, the branch in view."""
    store = migrated(tmp_path)
    store.add_message("walk", "e1", "user", "And past the lighthouse?", parent="w3")
    store.add_message("walk", "e2", "assistant", "To the harbour.", parent="e1")
    assert store.flush()
    return store, 1


def test_a_branch_made_from_an_earlier_message_is_kept_beside_the_first(tmp_path: Path) -> None:
    store, walk = two_branches(tmp_path)
    assert [m.uid for m in store.messages(walk)] == ["w1", "w2", "w3", "e1", "e2"]
    assert store.forks(walk) == {"w3": ["w4", "e1"]}
    kept, length = store.branch(walk, "w4", limit=10)
    assert [m.uid for m in kept] == ["w4", "w6"] and length == 2
    store.show("walk", "w6")
    assert store.flush()
    assert [m.uid for m in store.messages(walk)] == ["w1", "w2", "w3", "w4", "w6"]
    assert store.conversation(walk).messages == 4  # type: ignore[union-attr]
    assert [hit.conversation_id for hit in store.search("lighthouse")] == [walk]  # every branch is searched
    store.close()
    assert [m.uid for m in Store(tmp_path / "guide.sqlite3").messages(walk)][-1] == "w6"  # the branch in view is remembered


def test_an_older_guide_reads_the_branch_in_view_of_a_v4_store_and_its_writes_grow_it(tmp_path: Path) -> None:
    store, walk = two_branches(tmp_path)
    store.close()
    older = older_guide(tmp_path / "guide.sqlite3")
    assert older_read(older, walk) == ["Where shall we walk?", "Along the river, slowly.", "model: m2", "And past the lighthouse?", "To the harbour."]
    assert {row["id"]: row["n"] for row in older.execute(OLDER_LIST)}[walk] == 4
    assert [row["id"] for row in older.execute(OLDER_SEARCH, ('"meadow"',))] == []  # a hidden branch never shows in another's place
    # The older guide says something, then asks again (its ctrl+r deletes the reply), then deletes the other conversation.
    older.execute(OLDER_INSERT, ("o1", walk, "user", "Is it far?", time.time()))
    older.execute(OLDER_INSERT, ("o2", walk, "assistant", "Not far.", time.time()))
    older.execute("DELETE FROM messages WHERE uid = ? OR id = ?", ("o2", None))
    older.execute(OLDER_INSERT, ("o3", walk, "assistant", "An hour, slowly.", time.time()))
    older.close()
    store = Store(tmp_path / "guide.sqlite3")
    assert [(m.uid, m.parent_uid) for m in store.messages(walk)][-3:] == [("e2", "e1"), ("o1", "e2"), ("o3", "o1")]
    assert store.forks(walk) == {"w3": ["w4", "e1"]}
    store.close()
    older = older_guide(tmp_path / "guide.sqlite3")
    older.execute("DELETE FROM conversations WHERE id = ?", (walk,))
    assert older.execute("SELECT COUNT(*) FROM messages m JOIN tree t ON t.message_id = m.id WHERE t.conversation_id = ?", (walk,)).fetchone()[0] == 0
    assert older.execute("SELECT COUNT(*) FROM messages WHERE conversation_id IS NULL").fetchone()[0] == 0  # its hidden branch went too
    older.close()


def test_pending_writes_of_an_older_guide_replay_into_the_branch_in_view(tmp_path: Path) -> None:
    store, walk = two_branches(tmp_path)
    store.close()
    line = {"kind": "message", "fields": {"conversation": "walk", "uid": "p1", "role": "user", "content": "Kept from last time", "kind": "",
                                          "persona": "", "model": "", "state": "done", "trace_id": None, "data": None, "at": time.time()}}  # fmt: skip
    pending = tmp_path / "guide.sqlite3.pending-20261204-120000-0001.jsonl"
    pending.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")  # replayed twice: changes nothing more
    store = Store(tmp_path / "guide.sqlite3")
    assert store.flush() and not pending.exists()
    assert [(m.uid, m.parent_uid) for m in store.messages(walk)][-2:] == [("e2", "e1"), ("p1", "e2")]
    store.close()


def test_the_branch_in_view_is_always_the_way_from_its_leaf_to_the_first_message(tmp_path: Path) -> None:
    import random

    rng = random.Random(28)
    store = Store(tmp_path / "guide.sqlite3")
    store.new_conversation("c", "calm-guide")
    parents: dict[str, str] = {}
    for n in range(80):  # a tree grown at random: a new message after any earlier one (an edit, a reply asked again) or at the end
        uid = f"m{n}"
        parents[uid] = rng.choice(["", *parents]) if n % 3 == 0 else (f"m{n - 1}" if n else "")
        store.add_message("c", uid, "user", f"message {n}", parent=parents[uid])
    for _ in range(60):
        leaf = rng.choice(list(parents))
        store.show("c", leaf)
        assert store.flush()
        way = [leaf]
        while parents[way[-1]]:
            way.append(parents[way[-1]])
        assert [m.uid for m in store.messages(1)] == way[::-1]
    store.close()


def test_a_message_written_after_another_conversations_message_follows_its_own_branch_in_view(tmp_path: Path) -> None:
    store, walk = two_branches(tmp_path)
    store.add_message("walk", "x1", "user", "Kept in the walk", parent="t2")  # t2 is the tea conversation's (a hand-edited line)
    assert store.flush()
    assert [(m.uid, m.parent_uid) for m in store.messages(walk)][-2:] == [("e2", "e1"), ("x1", "e2")]
    assert [m.uid for m in store.messages(2)] == ["t1", "t2"]
    store.close()
