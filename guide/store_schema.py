"""The store's schema, and the migrations that bring an older file up to date (after a copy of it is set aside).

Version 2 adds full-text search (FTS5, kept in step by triggers) and the long-conversation indexes. Version 3 types every
turn (`kind`, `data` as JSON), remembers a model per action and server (`model_choices`), and gives rows a `uid` made
with them, so writes can be queued and replayed without waiting for an id. Version 4 makes each conversation a tree: a
`tree` row per message names its parent, `conversations.leaf_id` the branch in view, and `messages.conversation_id`
holds the conversation only for the messages of that branch. The messages table keeps its columns, so a version 3
guide (`SELECT *` into its own fields) reads the branch in view as a plain conversation; triggers keep its writes in
the tree (a message it adds grows the branch in view, one it deletes moves the leaf back, a conversation it deletes
takes its hidden branches with it).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

SCHEMA_VERSION = 4

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    persona TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    persona TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'done',
    trace_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    started_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_by_conversation ON traces(conversation_id, started_at);
CREATE TABLE IF NOT EXISTS probes (base_url TEXT PRIMARY KEY, probed_at REAL NOT NULL, data TEXT NOT NULL);
"""

VERSION_2 = """
CREATE INDEX IF NOT EXISTS messages_by_role ON messages(conversation_id, role);
CREATE INDEX IF NOT EXISTS conversations_by_activity ON conversations(updated_at);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
"""


VERSION_3 = """
ALTER TABLE conversations ADD COLUMN uid TEXT;
ALTER TABLE conversations ADD COLUMN opening TEXT;
ALTER TABLE messages ADD COLUMN uid TEXT;
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN data TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS conversations_by_uid ON conversations(uid);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_uid ON messages(uid);
CREATE TABLE IF NOT EXISTS model_choices (base_url TEXT NOT NULL, action TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (base_url, action));
"""
"""Rows made before version 3 keep a NULL uid (they were written whole, by id); UNIQUE allows many NULLs."""

VERSION_4 = """
CREATE TABLE messages_v4 (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    persona TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'done',
    trace_id TEXT,
    created_at REAL NOT NULL,
    uid TEXT,
    kind TEXT NOT NULL DEFAULT '',
    data TEXT
);
INSERT INTO messages_v4(id, conversation_id, role, content, persona, model, state, trace_id, created_at, uid, kind, data)
    SELECT id, conversation_id, role, content, persona, model, state, trace_id, created_at, uid, kind, data FROM messages;
DROP TRIGGER IF EXISTS messages_fts_insert;
DROP TRIGGER IF EXISTS messages_fts_delete;
DROP TRIGGER IF EXISTS messages_fts_update;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE TABLE tree (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id INTEGER,
    left_at REAL
);
INSERT INTO tree(message_id, conversation_id, parent_id)
    SELECT id, conversation_id, LAG(id) OVER (PARTITION BY conversation_id ORDER BY id) FROM messages;
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_by_role ON messages(conversation_id, role);
CREATE UNIQUE INDEX messages_by_uid ON messages(uid);
CREATE INDEX tree_by_parent ON tree(parent_id, message_id);
CREATE INDEX tree_by_conversation ON tree(conversation_id, parent_id);
ALTER TABLE conversations ADD COLUMN leaf_id INTEGER;
UPDATE conversations SET leaf_id = (SELECT MAX(id) FROM messages WHERE conversation_id = conversations.id);
CREATE TRIGGER tree_grows AFTER INSERT ON messages WHEN new.conversation_id IS NOT NULL BEGIN
    INSERT INTO tree(message_id, conversation_id, parent_id)
        VALUES (new.id, new.conversation_id, (SELECT leaf_id FROM conversations WHERE id = new.conversation_id));
    UPDATE conversations SET leaf_id = new.id WHERE id = new.conversation_id;
END;
CREATE TRIGGER tree_shrinks BEFORE DELETE ON messages BEGIN
    UPDATE conversations SET leaf_id = (SELECT parent_id FROM tree WHERE message_id = old.id) WHERE leaf_id = old.id;
END;
CREATE TRIGGER tree_goes BEFORE DELETE ON conversations BEGIN
    DELETE FROM messages WHERE conversation_id IS NULL AND id IN (SELECT message_id FROM tree WHERE conversation_id = old.id);
END;
"""
"""The messages table is made again (the one way SQLite lets a column become nullable), with the same columns in the same
order, ids kept: search's index follows them. A message this guide adds is written with no conversation first (so
`tree_grows`, which serves older guides and pending writes of theirs, leaves it alone), then placed in the tree and shown."""


def version(db: sqlite3.Connection) -> int:
    """The schema version the file says it has (0 for a new, empty file)."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


def backup(path: Path, old: int) -> Path:
    """A consistent copy of the file as it is, beside it, before it is changed: read on a connection of its own, as the
    migrating one holds the write lock (SQLite cannot copy from a connection inside its own write)."""
    copy = path.with_name(f"{path.name}.v{old}-backup-{time.strftime('%Y%m%d-%H%M%S')}")
    source = sqlite3.connect(path, timeout=10)
    try:
        with sqlite3.connect(copy) as target:
            source.backup(target)
        target.close()
    finally:
        source.close()
    copy.chmod(0o600)
    return copy


def bring_up_to_date(db: sqlite3.Connection, path: Path) -> str | None:
    """Create or migrate the schema; returns what the user should know, if anything."""
    old = version(db)
    if old > SCHEMA_VERSION:
        return f"The conversations file was written by a newer guide (schema {old}); it is used as it is."
    if old == SCHEMA_VERSION:
        return None
    db.execute("BEGIN IMMEDIATE")  # the lock first: a guide waiting for another makes one copy when it gets it, not one per attempt
    old = version(db)  # read again under the lock: another instance may have moved it on meanwhile
    if old >= SCHEMA_VERSION:
        db.execute("ROLLBACK")
        return None
    try:
        kept = backup(path, old) if old else None
        script = TABLES + VERSION_2 + (VERSION_3 if old < 3 else "")
        script += VERSION_4 + VERSION_2 if old < 4 else ""  # version 2's search triggers again: they went with the old table
        for statement in split(script):
            db.execute(statement)
        if old:
            db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),)
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    if kept is None:
        return None
    return f"The conversations file was updated to this version of guide; a copy of the old one is kept at {kept}."


def split(script: str) -> list[str]:
    """The statements of a script, triggers kept whole (executescript would commit on its own)."""
    statements: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
