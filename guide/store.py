"""Conversations, messages and traces in SQLite (the user's data folder).

WAL mode, a busy timeout and retried writes so two instances can share a
folder; a schema version in `meta`, migrated on open after a backup copy
(`store_schema`); one transaction per finished message. Long conversations
are read a page at a time, and search uses SQLite's full-text index. A reply cut short is
stored with what had arrived, and its state says so. The key is never stored:
traces arrive already redacted.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import store_schema
from .locations import data_dir, ensure_private

LIST = """SELECT c.id, c.title, c.persona, c.updated_at,
       (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.role IN ('user', 'assistant')) AS n
FROM conversations c"""
PROBE_GENTLE = "ai.probe()"
"""How a probe's trace names itself (guide.client._requests.PROBE; not imported: httpx stays unloaded)."""


def busy(error: sqlite3.OperationalError) -> bool:
    """Whether another connection holds the lock (worth waiting for, never a broken file)."""
    return "locked" in str(error) or "busy" in str(error)


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: every word must appear, the last may be a prefix.

    Each word is quoted, so words like AND, NEAR or a stray quote are looked
    for, not obeyed.
    """
    words = [word.replace('"', '""') for word in text.split()]
    if not words:
        return ""
    return " ".join(f'"{word}"' for word in words) + "*"


@dataclass(frozen=True)
class StoredMessage:
    """One message as kept: role is user, assistant, divider or action."""

    id: int
    conversation_id: int
    role: str
    content: str
    persona: str = ""
    model: str = ""
    state: str = "done"
    """done, stopped (by the user) or cut (by a failure)."""
    trace_id: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation in the list: title, persona, size and last activity."""

    id: int
    title: str
    persona: str
    messages: int
    updated_at: float


@dataclass(frozen=True)
class Hit:
    """A message found by search, with the words around the match."""

    conversation_id: int
    message_id: int
    title: str
    role: str
    snippet: str
    created_at: float


Result = TypeVar("Result")
WRITE_ATTEMPTS = 5


def guarded(fallback: Callable[[], Any]) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """A store method that, when the disk fails, reports it once and lets the app go on in memory."""

    def wrap(method: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(method)
        def run(self: Store, *args: Any, **kwargs: Any) -> Result:
            if self.failure is None:
                try:
                    return method(self, *args, **kwargs)
                except (sqlite3.Error, OSError) as error:
                    self.failure = error
                    if self.on_failure is not None:
                        self.on_failure(error)
            return fallback()  # type: ignore[no-any-return]

        return run

    return wrap


class Store:
    """The SQLite store. Open one per app; every write is its own transaction.

    A file that is not a database (or is damaged) is set aside as
    `guide.sqlite3.broken-<timestamp>` and a new one is made; `notice` says so.
    If the disk fails later (full, read-only), the failing call is reported once
    through `on_failure` and the store stops writing, so the app goes on in memory.
    """

    def __init__(self, path: Path | None = None, on_failure: Callable[[Exception], None] | None = None) -> None:
        self.path = path or data_dir() / "guide.sqlite3"
        self.on_failure = on_failure
        self.failure: Exception | None = None
        self.notice: str | None = None
        """What the user should know about opening the store (a file set aside)."""
        ensure_private(self.path.parent)
        try:
            self._db = self._open_when_free()
        except sqlite3.OperationalError:
            raise  # busy, locked, no room: the file may be fine, so it is never set aside for this
        except sqlite3.DatabaseError:
            kept = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path.rename(kept)
            for extra in ("-wal", "-shm"):
                self.path.with_name(self.path.name + extra).unlink(missing_ok=True)
            self.notice = f"The conversations file could not be read, so it was set aside as {kept} and a new one was started."
            self._db = self._open()

    def _open_when_free(self) -> sqlite3.Connection:
        """Open, waiting out another instance that is creating or migrating the file."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return self._open()
            except sqlite3.OperationalError as error:
                if not busy(error) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            if fresh:
                self.path.chmod(0o600)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
            if integrity != "ok":
                raise sqlite3.DatabaseError(f"the file is damaged ({integrity})")
            news = store_schema.bring_up_to_date(db, self.path)
            self.notice = " ".join(filter(None, [self.notice, news])) or None
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write. Another instance holding the lock is waited for (busy timeout), then retried."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if not busy(error) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Conversations.

    @guarded(lambda: None)
    def new_conversation(self, persona: str, title: str = "") -> int | None:
        """Start a conversation; returns its id."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO conversations(title, persona, created_at, updated_at) VALUES (?, ?, ?, ?)", (title, persona, now, now))
        return int(cursor.lastrowid or 0)

    @guarded(list)
    def conversations(self) -> list[ConversationInfo]:
        """Every conversation, the most recent first, with its message count (indexed)."""
        return [self._info(row) for row in self._db.execute(LIST + " ORDER BY c.updated_at DESC, c.id DESC").fetchall()]

    @guarded(lambda: None)
    def conversation(self, conversation_id: int) -> ConversationInfo | None:
        """One conversation's entry, if it exists."""
        row = self._db.execute(LIST + " WHERE c.id = ?", (conversation_id,)).fetchone()
        return self._info(row) if row else None

    @staticmethod
    def _info(row: sqlite3.Row) -> ConversationInfo:
        return ConversationInfo(row["id"], row["title"], row["persona"], row["n"], row["updated_at"])

    @guarded(lambda: None)
    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a title."""
        with self._transaction() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    @guarded(lambda: None)
    def delete(self, conversation_id: int) -> None:
        """Delete a conversation with its messages and traces."""
        with self._transaction() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    @guarded(lambda: None)
    def set_persona(self, conversation_id: int, persona: str) -> None:
        """Remember the persona a conversation now speaks as."""
        with self._transaction() as db:
            db.execute("UPDATE conversations SET persona = ? WHERE id = ?", (persona, conversation_id))

    # Messages.

    @guarded(lambda: None)
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        persona: str = "",
        model: str = "",
        state: str = "done",
        trace_id: str | None = None,
    ) -> int | None:
        """Store one finished message (in one transaction); returns its id."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO messages(conversation_id, role, content, persona, model, state, trace_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, persona, model, state, trace_id, now),
            )
            title = content.strip().splitlines()[0][:60] if role == "user" and content.strip() else None
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' AND ? IS NOT NULL THEN ? ELSE title END WHERE id = ?",
                (now, title, title, conversation_id),
            )
        return int(cursor.lastrowid or 0)

    @guarded(lambda: None)
    def delete_message(self, message_id: int) -> None:
        """Remove one message (the last reply, when it is regenerated)."""
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    @guarded(list)
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """A conversation's messages, in order."""
        return self.page(conversation_id)

    @guarded(list)
    def page(self, conversation_id: int, *, before: int | None = None, limit: int | None = None) -> list[StoredMessage]:
        """Up to `limit` messages just before message `before` (or the latest), oldest first."""
        rows = self._db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (conversation_id, before if before is not None else 2**63 - 1, limit if limit is not None else -1),
        ).fetchall()
        return [StoredMessage(**dict(row)) for row in reversed(rows)]

    @guarded(list)
    def search(self, text: str, limit: int = 50) -> list[Hit]:
        """Messages of every conversation that hold all the words, best matches first."""
        query = fts_query(text)
        if not query:
            return []
        rows = self._db.execute(
            """SELECT m.id, m.conversation_id, m.role, m.created_at, c.title,
                      snippet(messages_fts, 0, '«', '»', '…', 12) AS around
               FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id
               WHERE messages_fts MATCH ? AND m.role IN ('user', 'assistant')
               ORDER BY rank LIMIT ?""",
            (query, limit),
        ).fetchall()
        return [Hit(r["conversation_id"], r["id"], r["title"], r["role"], " ".join(r["around"].split()), r["created_at"]) for r in rows]

    # Traces and probes.

    @guarded(lambda: None)
    def save_trace(self, conversation_id: int | None, trace: Any) -> None:
        """Store (or update) a finished call's trace."""
        data = json.dumps(trace.to_dict(), ensure_ascii=False)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO traces(id, conversation_id, action, started_at, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data, conversation_id = COALESCE(excluded.conversation_id, traces.conversation_id)",
                (trace.id, conversation_id, trace.action, trace.started_at, data),
            )

    @guarded(list)
    def traces(self, conversation_id: int, *, latest: int | None = None, before: float | None = None) -> list[dict[str, Any]]:
        """A conversation's traces as data, oldest first: the `latest` few (started `before` a time), if given."""
        rows = self._db.execute(
            "SELECT data FROM traces WHERE conversation_id = ? AND started_at < ? ORDER BY started_at DESC LIMIT ?",
            (conversation_id, before if before is not None else float("inf"), latest if latest is not None else -1),
        ).fetchall()
        return [json.loads(row["data"]) for row in reversed(rows)]

    @guarded(lambda: 0)
    def trace_count(self, conversation_id: int) -> int:
        """How many calls a conversation has stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM traces WHERE conversation_id = ?", (conversation_id,)).fetchone()[0])

    @guarded(dict)
    def call_counts(self, conversation_id: int) -> dict[str, int]:
        """How many calls of each action a conversation made (probes not counted)."""
        rows = self._db.execute(
            "SELECT action, COUNT(*) AS n FROM traces WHERE conversation_id = ? AND json_extract(data, '$.gentle') != ? GROUP BY action",
            (conversation_id, PROBE_GENTLE),
        ).fetchall()
        return {row["action"]: row["n"] for row in rows}

    @guarded(lambda: None)
    def probe(self, base_url: str) -> dict[str, Any] | None:
        """The cached probe of a server, if any."""
        row = self._db.execute("SELECT data FROM probes WHERE base_url = ?", (base_url,)).fetchone()
        return json.loads(row["data"]) if row else None

    @guarded(lambda: None)
    def save_probe(self, base_url: str, findings: dict[str, Any]) -> None:
        """Cache what a probe found."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO probes(base_url, probed_at, data) VALUES (?, ?, ?) "
                "ON CONFLICT(base_url) DO UPDATE SET probed_at = excluded.probed_at, data = excluded.data",
                (base_url, time.time(), json.dumps(findings)),
            )

    # Export.

    def export_markdown(self, conversation_id: int, *, with_calls: bool = False) -> str:
        """The conversation as Markdown, optionally with each call's summary and curl."""
        info = self.conversation(conversation_id)
        title = info.title if info and info.title else f"Conversation {conversation_id}"
        lines = [f"# {title}", ""]
        traces = {t["id"]: t for t in self.traces(conversation_id)} if with_calls else {}
        for message in self.messages(conversation_id):
            if message.role == "divider":
                lines += ["---", f"*{message.content}*", ""]
                continue
            who = {"user": "You", "assistant": message.persona or "Guide", "action": "Action"}.get(message.role, message.role)
            note = {"stopped": " (stopped)", "cut": " (cut off)"}.get(message.state, "")
            lines += [f"**{who}**{note}:", "", message.content, ""]
            if with_calls and message.trace_id in traces:
                from guide.client import Trace

                trace = Trace.from_dict(traces[message.trace_id])
                lines += [f"> `{trace.summary()}`", "", "```sh", trace.as_curl(), "```", ""]
        return "\n".join(lines).rstrip() + "\n"
