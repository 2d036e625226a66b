"""Conversations, messages and traces in SQLite (the user's data folder); nothing here waits on the UI loop.

Writes are queued to one writer thread (`store_writer`) and return at once. Reads are methods for a worker thread
(`await store.read(store.page, …)`) on a connection with a short lock wait; one that cannot be made raises
`StoreUnavailable` (a calm title), never comes back silently empty. WAL mode; the schema migrated on open after a backup
copy (`store_schema`). A reply cut short is stored with what had arrived. The key is never stored: traces arrive redacted.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from . import store_schema
from .constants import PROBE
from .locations import data_dir, ensure_private
from .store_writer import DOWN, LOCK_WAIT_MS, Saving, Write, Writer, busy, keep_pending

LIST = """SELECT c.id, c.uid, c.title, c.persona, c.opening, c.updated_at,
       (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.role IN ('user', 'assistant')) AS n
FROM conversations c"""
WITH_PARENT = """SELECT m.*, COALESCE(p.uid, 'id-' || p.id) AS parent_uid
FROM messages m LEFT JOIN tree t ON t.message_id = m.id LEFT JOIN messages p ON p.id = t.parent_id"""
"""Messages with their parent's uid (None for a first message): the conversation's tree, as the turns hold it."""
THEIRS = "conversation_id IS NULL AND json_extract(data, '$.notes[0]') = ?"
"""Calls another program made, as one `seen_by` filed them (the companion, or a relay: their first note)."""


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: every word must appear, the last may be a prefix. Each word is quoted, so words
    like AND, NEAR or a stray quote are looked for, not obeyed."""
    words = [word.replace('"', '""') for word in text.split()]
    if not words:
        return ""
    return " ".join(f'"{word}"' for word in words) + "*"


def parsed(text: str | None) -> Any:
    """A column's JSON as data; None for none, or for text that is not JSON (a hand edit)."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StoredMessage:
    """One message as kept: role is user, assistant, divider or action; kind and data say more."""

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
    uid: str | None = None
    kind: str = ""
    """A divider's reason (persona, model) or an action block's action (understand, speak, …)."""
    data: dict[str, Any] | None = None
    """What a block needs to be shown again (its title, a saved file), as JSON."""
    parent_uid: str | None = None
    """The uid of the message it follows in its branch (None for a first message)."""


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation in the list: title, persona, size and last activity."""

    id: int
    title: str
    persona: str
    messages: int
    updated_at: float
    uid: str | None = None
    opening: tuple[str, str] | None = None
    """Who greeted, and with what words, when the conversation opened (as it was shown)."""


@dataclass(frozen=True)
class Hit:
    """A message found by search, with the words around the match."""

    conversation_id: int
    message_id: int
    title: str
    role: str
    snippet: str
    created_at: float
    kind: str = ""
    """A block's action (`continue`), for saying whose words were found."""


class StoreUnavailable(Exception):
    """A read that could not be made (another guide holds the file too long, or the disk failed)."""

    title = "The conversations could not be read just now."

    def __init__(self, why: str) -> None:
        super().__init__(f"{why} Nothing was lost; try again in a moment.")


P = ParamSpec("P")
Result = TypeVar("Result")
OPEN_ATTEMPTS = 5
READ_PATIENCE = 3.0
"""Seconds a read (off the UI loop) keeps trying while another guide checkpoints the file."""


class Store:
    """The SQLite store: reads here, writes queued to one writer thread. Opening may wait for another guide creating or migrating
    the file (the app opens it off its loop). A damaged file is set aside as `guide.sqlite3.broken-<timestamp>` and a new one
    made; `notice` says so. `on_saving` hears, from the writer thread, when saving waits, fails, and lands again."""

    def __init__(self, path: Path | None = None, on_saving: Callable[[Saving, str], None] | None = None) -> None:
        self.path = path or data_dir() / "guide.sqlite3"
        self.notice: str | None = None
        """What the user should know about opening the store (a file set aside, a migration, writes kept from last time)."""
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
        if any(self.path.parent.glob(f"{self.path.name}.pending-*.jsonl")):
            kept_note = "Messages that could not be saved last time are being saved now."
            self.notice = " ".join(filter(None, [self.notice, kept_note]))
        self._reading = threading.Lock()
        self._writer = Writer(self.path, on_saving)
        self._writer.start()

    def _open_when_free(self) -> sqlite3.Connection:
        """Open, waiting out another instance that is creating or migrating the file."""
        for attempt in range(OPEN_ATTEMPTS):
            try:
                return self._open()
            except sqlite3.OperationalError as error:
                if not busy(error) or attempt == OPEN_ATTEMPTS - 1:
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
            db.execute("PRAGMA busy_timeout=10000")  # opening and migrating only: reads get LOCK_WAIT_MS below
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
            if integrity != "ok":
                raise sqlite3.DatabaseError(f"the file is damaged ({integrity})")
            news = store_schema.bring_up_to_date(db, self.path)
            self.notice = " ".join(filter(None, [self.notice, news])) or None
            db.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @property
    def saving(self) -> Saving:
        """saving (all is well), waiting (for another guide's lock) or failing (the disk refuses)."""
        return self._writer.state

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every write so far has landed; False if that took longer than `timeout`."""
        return self._writer.wait(timeout)

    def close(self, timeout: float = 3.0) -> Path | None:
        """Land what is queued (waiting at most `timeout`) and close; the file holding what could not land, if any."""
        kept = self._writer.finish(timeout)
        with self._reading:  # not under a read still going on a thread (closing under it crashed the interpreter); later reads fail calmly
            self._db.close()
        return kept

    # Reading: call these off the UI loop (`await store.read(...)`).

    async def read(self, method: Callable[P, Result], *args: P.args, **kwargs: P.kwargs) -> Result:
        """Run a read in a worker thread: the loop never waits on SQLite."""
        return await asyncio.to_thread(method, *args, **kwargs)

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a query; a lock held elsewhere is waited out for a moment, then StoreUnavailable."""
        deadline = time.monotonic() + READ_PATIENCE
        while True:
            try:
                with self._reading:
                    return self._db.execute(sql, parameters).fetchall()
            except sqlite3.DatabaseError as error:
                if not (isinstance(error, sqlite3.OperationalError) and busy(error)) or time.monotonic() > deadline:
                    raise StoreUnavailable(f"The conversations file could not be read ({error}).") from None
                time.sleep(0.05)

    def conversations(self) -> list[ConversationInfo]:
        """Every conversation, the most recent first, with its message count (indexed)."""
        return [self._info(row) for row in self._rows(LIST + " ORDER BY c.updated_at DESC, c.id DESC")]

    def conversation(self, conversation_id: int) -> ConversationInfo | None:
        """One conversation's entry, if it exists."""
        rows = self._rows(LIST + " WHERE c.id = ?", (conversation_id,))
        return self._info(rows[0]) if rows else None

    @staticmethod
    def _info(row: sqlite3.Row) -> ConversationInfo:
        opening = parsed(row["opening"])
        shown = (str(opening[0]), str(opening[1])) if isinstance(opening, list) and len(opening) == 2 else None
        return ConversationInfo(row["id"], row["title"], row["persona"], row["n"], row["updated_at"], row["uid"], shown)

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """A conversation's messages, in order."""
        return self.page(conversation_id)

    def page(self, conversation_id: int, *, before: int | None = None, limit: int | None = None, after: int | None = None) -> list[StoredMessage]:
        """Up to `limit` messages just before message `before` (or the latest), oldest first; with `after`, the first ones after it."""
        if after is not None:
            rows = self._rows(f"{WITH_PARENT} WHERE m.conversation_id = ? AND m.id > ? ORDER BY m.id LIMIT ?", (conversation_id, after, limit or -1))
            return [self._message(row) for row in rows]
        rows = self._rows(
            f"{WITH_PARENT} WHERE m.conversation_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?",
            (conversation_id, before if before is not None else 2**63 - 1, limit if limit is not None else -1),
        )
        return [self._message(row) for row in reversed(rows)]

    def forks(self, conversation_id: int) -> dict[str, list[str]]:
        """The branch points of a conversation: each parent's uid ("" for the first messages) and its children's, oldest first."""
        rows = self._rows(
            """WITH points AS (SELECT parent_id FROM tree WHERE conversation_id = ? GROUP BY parent_id HAVING COUNT(*) > 1)
               SELECT COALESCE(p.uid, 'id-' || p.id, '') AS parent, COALESCE(m.uid, 'id-' || m.id) AS child
               FROM points CROSS JOIN tree t ON t.conversation_id = ? AND t.parent_id IS points.parent_id
               JOIN messages m ON m.id = t.message_id LEFT JOIN messages p ON p.id = t.parent_id
               ORDER BY t.message_id""",
            (conversation_id, conversation_id),
        )
        forks: dict[str, list[str]] = {}
        for row in rows:
            forks.setdefault(row["parent"], []).append(row["child"])
        return forks

    def id_of(self, uid: str) -> int | None:
        """The id of the conversation with that uid, once it is stored."""
        rows = self._rows("SELECT id FROM conversations WHERE uid = ?", (uid,))
        return int(rows[0][0]) if rows else None

    def tree(self, conversation_id: int) -> list[StoredMessage]:
        """Every message of a conversation, of every branch, oldest first (export reads them all)."""
        rows = self._rows(f"{WITH_PARENT} WHERE t.conversation_id = ? ORDER BY m.id", (conversation_id,))
        return [replace(self._message(row), conversation_id=conversation_id) for row in rows]

    def calls_elsewhere(self, conversation_id: int) -> set[str]:
        """The calls that answered messages of a conversation on branches not in view (their trace ids)."""
        rows = self._rows(
            """SELECT m.trace_id FROM tree t JOIN messages m ON m.id = t.message_id
               WHERE t.conversation_id = ? AND m.conversation_id IS NULL AND m.trace_id IS NOT NULL""",
            (conversation_id,),
        )
        return {row[0] for row in rows}

    def shown(self, message_id: int) -> bool:
        """Whether a message is on its conversation's branch in view."""
        return bool(self._rows("SELECT 1 FROM messages WHERE id = ? AND conversation_id IS NOT NULL", (message_id,)))

    def branch(self, conversation_id: int, uid: str, limit: int, *, head: bool = False) -> tuple[list[StoredMessage], int]:
        """The branch that goes on from a message, the way it was last seen at each branch point (else its latest): its last
        `limit` messages (the message itself first, when they all fit) and how many it holds in all; or with `head` its first
        `limit`, and how many it holds up to one more than that (the walk stops there: a long branch's head is read at once)."""
        start = int(uid[3:]) if uid.startswith("id-") and uid[3:].isdigit() else None
        ids = [row[0] for row in self._rows(DOWN, (conversation_id, uid, start, limit + 2 if head else -1))]
        shown = ids[:limit] if head else ids[-limit:]
        rows = self._rows(f"{WITH_PARENT} WHERE m.id IN ({','.join('?' * len(shown))}) ORDER BY m.id", tuple(shown)) if shown else []
        return [replace(self._message(row), conversation_id=conversation_id) for row in rows], len(ids)

    @staticmethod
    def _message(row: sqlite3.Row) -> StoredMessage:
        fields = dict(row)
        data = parsed(fields.pop("data", None))
        return StoredMessage(**fields, data=data if isinstance(data, dict) else None)

    def search(self, text: str, limit: int = 50) -> list[Hit]:
        """Messages of every conversation that hold all the words, best matches first. A slash command's block is found too
        (what /continue wrote on, a /listen transcript read like a reply); a divider, guide's note of a switch, is not."""
        query = fts_query(text)
        if not query:
            return []
        rows = self._rows(
            """SELECT m.id, t.conversation_id AS tree_conversation, m.role, m.kind, m.created_at, c.title,
                      snippet(messages_fts, 0, '«', '»', '…', 12) AS around
               FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid JOIN tree t ON t.message_id = m.id
               JOIN conversations c ON c.id = t.conversation_id
               WHERE messages_fts MATCH ? AND m.role IN ('user', 'assistant', 'action')
               ORDER BY rank LIMIT ?""",
            (query, limit),
        )
        return [Hit(r["tree_conversation"], r["id"], r["title"], r["role"], " ".join(r["around"].split()), r["created_at"], r["kind"]) for r in rows]

    def traces(self, conversation_id: int, *, latest: int | None = None, before: float | None = None) -> list[dict[str, Any]]:
        """A conversation's traces as data, oldest first: the `latest` few (started `before` a time), if given."""
        rows = self._rows(
            "SELECT data FROM traces WHERE conversation_id = ? AND started_at < ? ORDER BY started_at DESC LIMIT ?",
            (conversation_id, before if before is not None else float("inf"), latest if latest is not None else -1),
        )
        return [json.loads(row["data"]) for row in reversed(rows)]

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """One stored call, as data."""
        rows = self._rows("SELECT data FROM traces WHERE id = ?", (trace_id,))
        return json.loads(rows[0]["data"]) if rows else None

    def their_calls(self, after: int | None, limit: int = 100, *, seen_by: str, latest: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Calls other programs made, as `seen_by` filed them (the companion, or a relay: their first note), after row `after`, oldest
        first, and the last row read. `after` None: where the rows end now, with the `latest` such calls before it (0: none)."""
        if after is None:
            end = int(self._rows("SELECT COALESCE(MAX(rowid), 0) FROM traces")[0][0])
            rows = self._rows(f"SELECT data FROM traces WHERE rowid <= ? AND {THEIRS} ORDER BY rowid DESC LIMIT ?", (end, seen_by, latest))
            return [json.loads(row["data"]) for row in reversed(rows)], end
        rows = self._rows(f"SELECT rowid, data FROM traces WHERE rowid > ? AND {THEIRS} ORDER BY rowid LIMIT ?", (after, seen_by, limit))
        return [json.loads(row["data"]) for row in rows], (rows[-1][0] if rows else after)

    def their_calls_before(self, trace_id: str, limit: int, *, seen_by: str) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` calls `seen_by` filed before the call `trace_id` (by row), oldest first, and how many such calls are before those."""
        found = self._rows("SELECT rowid FROM traces WHERE id = ?", (trace_id,))
        if not found:
            return [], 0
        rows = self._rows(f"SELECT rowid, data FROM traces WHERE rowid < ? AND {THEIRS} ORDER BY rowid DESC LIMIT ?", (found[0][0], seen_by, limit))
        first = rows[-1][0] if rows else found[0][0]
        before = int(self._rows(f"SELECT COUNT(*) FROM traces WHERE rowid < ? AND {THEIRS}", (first, seen_by))[0][0])
        return [json.loads(row["data"]) for row in reversed(rows)], before

    def calls_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        """The calls with these ids, as filed now (a watching app's running rows, read again as the relay files their progress)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [json.loads(row["data"]) for row in self._rows(f"SELECT data FROM traces WHERE id IN ({marks})", tuple(ids))]

    def trace_count(self, conversation_id: int) -> int:
        """How many calls a conversation has stored."""
        return int(self._rows("SELECT COUNT(*) FROM traces WHERE conversation_id = ?", (conversation_id,))[0][0])

    def call_counts(self, conversation_id: int) -> dict[str, int]:
        """How many calls of each action a conversation made (probes not counted)."""
        rows = self._rows(
            "SELECT action, COUNT(*) AS n FROM traces WHERE conversation_id = ? AND json_extract(data, '$.gentle') != ? GROUP BY action",
            (conversation_id, PROBE),
        )
        return {row["action"]: row["n"] for row in rows}

    def probe(self, base_url: str) -> dict[str, Any] | None:
        """The cached probe of a server, if any: `findings` (action → support, status, reason) and its `calls` (traces)."""
        rows = self._rows("SELECT data FROM probes WHERE base_url = ?", (base_url,))
        if not rows:
            return None
        data = json.loads(rows[0]["data"])
        if "findings" not in data:  # kept before the probe's calls were kept with it
            data = {"findings": data, "calls": []}
        return data  # type: ignore[no-any-return]

    def model_choices(self, base_url: str) -> dict[str, str]:
        """The model chosen for each action (other than chat) on this server."""
        return {row["action"]: row["model"] for row in self._rows("SELECT action, model FROM model_choices WHERE base_url = ?", (base_url,))}

    # Writing: queued, in order, never waited for here.

    def new_conversation(self, uid: str, persona: str, title: str = "", opening: tuple[str, str] | None = None) -> None:
        """Start a conversation with the uid it was made with (and the greeting it opened with)."""
        fields = {"uid": uid, "persona": persona, "title": title, "opening": list(opening) if opening else None, "at": time.time()}
        self._writer.submit(Write("conversation", fields))

    def adopt(self, conversation_id: int, uid: str) -> None:
        """Give a conversation kept before uids existed the uid it is now known by."""
        self._writer.submit(Write("adopt", {"id": conversation_id, "uid": uid}))

    def add_message(
        self,
        conversation: str,
        uid: str,
        role: str,
        content: str,
        *,
        kind: str = "",
        persona: str = "",
        model: str = "",
        state: str = "done",
        trace_id: str | None = None,
        data: dict[str, Any] | None = None,
        parent: str | None = None,
    ) -> None:
        """Store one finished message (one transaction) in the conversation with that uid, and show its branch: after its
        `parent` (the message with that uid; "" for a first message), or by default after the last of the branch in view."""
        fields: dict[str, Any] = {"conversation": conversation, "uid": uid, "role": role, "content": content, "kind": kind, "persona": persona}
        fields.update(model=model, state=state, trace_id=trace_id, data=data, at=time.time())
        if parent is not None:
            fields["parent"] = parent
        self._writer.submit(Write("message", fields))

    def show(self, conversation: str, leaf: str, *, down: bool = False) -> None:
        """Remember the branch in view: the one that ends at the message with uid `leaf` (resume opens on it); with `down`,
        the one that goes on from it the way it was last seen (the writer walks it, off the loop)."""
        self._writer.submit(Write("view", {"conversation": conversation, "leaf": leaf, **({"down": True} if down else {})}))

    def delete_message(self, *, uid: str | None = None, message_id: int | None = None) -> None:
        """Remove one message (a reply asked again, words that were never answered)."""
        self._writer.submit(Write("delete_message", {"uid": uid, "id": message_id}))

    def save_trace(self, conversation: str | None, trace: Any) -> None:
        """Store (or update) a call's trace, filed with the conversation of that uid (or none yet). The writer makes the
        record (`to_dict`, then JSON) on its own thread: a snapshot is all the caller builds, so filing never holds the loop."""
        self._writer.submit(Write("trace", {"conversation": conversation, "trace": trace.snapshot()}))

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a title."""
        self._writer.submit(Write("rename", {"id": conversation_id, "title": title}))

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation with its messages and traces."""
        self._writer.submit(Write("delete_conversation", {"id": conversation_id}))

    def set_persona(self, conversation: str, persona: str) -> None:
        """Remember the persona a conversation now speaks as."""
        self._writer.submit(Write("persona", {"conversation": conversation, "persona": persona}))

    def save_probe(self, base_url: str, findings: dict[str, Any], calls: list[dict[str, Any]] | None = None) -> None:
        """Cache what a probe found, with its calls (traces as dicts): kept under the server, not in any conversation."""
        kept = {"findings": findings, "calls": calls or []}
        self._writer.submit(Write("probe", {"base_url": base_url, "findings": kept, "at": time.time()}))

    def save_model_choice(self, base_url: str, action: str, model: str) -> None:
        """Remember the model chosen for an action on this server."""
        self._writer.submit(Write("model_choice", {"base_url": base_url, "action": action, "model": model}))


class Unopened(Store):
    """The store's writes while it cannot be opened (another guide holds the file, and guide is closing): kept as data,
    then in a pending file beside the store, which the next guide to open it saves. Nothing is opened, nothing is read."""

    def __init__(self, path: Path | None = None) -> None:  # not Store's: that opens the file, which is exactly what cannot be done
        self.path = path or data_dir() / "guide.sqlite3"
        self.notice = None
        self._writer = Writer(self.path)  # never started: its queue holds the writes, in order

    def keep(self) -> Path | None:
        """The pending file holding the writes (None if there were none)."""
        writes = self._writer.unsaved()
        return keep_pending(self.path, writes) if writes else None
