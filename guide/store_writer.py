"""The store's one writer: a thread with its own connection, so no write ever waits on the UI loop.

Writes are plain data (`Write`), queued in order, one transaction each. Another guide's lock is waited out a quarter of
a second at a time (a missed moment beats a frozen window) and the write retried until it lands: nothing is dropped.
What is still queued at exit is kept in a `pending-*.jsonl` file beside the store, replayed next time it opens (in one
transaction, else write by write). Rows carry a `uid` made with them, so a write never waits for an id and replaying
one twice changes nothing. A write that can never land (a pending line from another version, hand-edited or half
restored; a row that breaks a constraint) never stops the others: it is kept as it was in a `set-aside-*.jsonl` file
of its own, and the user is told where.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .locations import write_private_bytes

LOCK_WAIT_MS = 250
"""How long one attempt waits for another guide's lock (harlequin's rule)."""
RETRY_AT_MOST = 2.0
"""Seconds between attempts, at most, while the lock is held elsewhere."""

Saving = Literal["saving", "waiting", "failing", "set aside", "stopped"]
"""What the writer reports: "set aside" each time writes are kept aside (the words name the file); the others when they change."""
KEEP_TRYING = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL}
KEEP_TRYING |= {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
"""Errors of the moment or of the file, not of the write: it is kept and tried again (and, at exit, kept in a pending
file that a repaired store takes). Any other error is the write's own: it can never land, and is set aside."""


@dataclass(frozen=True)
class Write:
    """One write, as data: it can be queued, retried, and kept in a file."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


def as_data(value: Any, otherwise: Callable[[Any], Any] = lambda value: value) -> Any:
    """A write's field as plain data: a trace filed as it was becomes its record (`to_dict`) here, on the writer's thread."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else otherwise(value)


def busy(error: sqlite3.OperationalError) -> bool:
    """Whether another connection holds the lock (worth waiting for, never a broken file)."""
    return "locked" in str(error) or "busy" in str(error)


def not_the_writes(error: BaseException) -> bool:
    """Whether the error is the store's (a lock, a full or read-only disk), not the write's: trying again later may land it."""
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) if code is None else code & 0xFF in KEEP_TRYING


def parse(line: bytes) -> Write:
    """One line of a pending file as a write; ValueError if it is not one (another version's, a hand edit, half a line)."""
    data = json.loads(line)
    if not isinstance(data, dict) or set(data) - {"kind", "fields"} or not isinstance(data.get("kind"), str):
        raise ValueError("not a write this guide knows")
    if not isinstance(data.get("fields", {}), dict):
        raise ValueError("its fields are not a mapping")
    return Write(data["kind"], data.get("fields", {}))


def as_line(write: Write) -> bytes:
    """A write as a line of a pending or set-aside file: a record (`to_dict`) as its data, what JSON cannot hold as its text."""
    return json.dumps({"kind": write.kind, "fields": write.fields}, ensure_ascii=False, default=lambda value: as_data(value, str)).encode("utf-8")


def said(error: BaseException) -> str:
    """An error in a few words, for a notice."""
    words = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {words}" if words else type(error).__name__


def apply(db: sqlite3.Connection, write: Write) -> None:
    """Apply one write inside the caller's transaction. Replaying a write changes nothing."""
    f = write.fields
    if write.kind == "conversation":
        opening = json.dumps(f["opening"], ensure_ascii=False) if f.get("opening") else None
        db.execute(
            "INSERT INTO conversations(uid, title, persona, opening, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(uid) DO NOTHING",
            (f["uid"], f.get("title", ""), f["persona"], opening, f["at"], f["at"]),
        )
    elif write.kind == "adopt":
        db.execute("UPDATE conversations SET uid = ? WHERE id = ? AND uid IS NULL", (f["uid"], f["id"]))
    elif write.kind == "message":
        row = db.execute("SELECT id FROM conversations WHERE uid = ?", (f["conversation"],)).fetchone()
        if row is None:
            return  # the conversation was deleted meanwhile
        data = json.dumps(f["data"], ensure_ascii=False) if f.get("data") is not None else None
        placed = "parent" in f  # written by a guide that knows branches; an older one's line grows the branch in view (tree_grows)
        added = db.execute(
            "INSERT INTO messages(uid, conversation_id, role, kind, content, persona, model, state, trace_id, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uid) DO NOTHING",
            (f["uid"], None if placed else row[0], f["role"], f.get("kind", ""), f["content"], f.get("persona", ""), f.get("model", ""),
             f.get("state", "done"), f.get("trace_id"), data, f["at"]),
        ).rowcount  # fmt: skip
        if placed and added:
            place(db, row[0], f["uid"], f["parent"])
        title = f["content"].strip().splitlines()[0][:60] if f["role"] == "user" and f["content"].strip() else None
        db.execute(
            "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' AND ? IS NOT NULL THEN ? ELSE title END WHERE id = ?",
            (f["at"], title, title, row[0]),
        )
    elif write.kind == "view":
        row = db.execute("SELECT id FROM conversations WHERE uid = ?", (f["conversation"],)).fetchone()
        leaf = message_id(db, f["leaf"])
        if row is not None and leaf is not None:
            show(db, row[0], way_down(db, row[0], leaf) if f.get("down") else leaf)
    elif write.kind == "delete_message":
        db.execute("DELETE FROM messages WHERE uid = ? OR id = ?", (f.get("uid"), f.get("id")))
    elif write.kind == "trace":
        row = db.execute("SELECT id FROM conversations WHERE uid = ?", (f["conversation"],)).fetchone() if f.get("conversation") else None
        trace = as_data(f["trace"])
        db.execute(
            "INSERT INTO traces(id, conversation_id, action, started_at, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, conversation_id = COALESCE(excluded.conversation_id, traces.conversation_id)",
            (trace["id"], row[0] if row else None, trace["action"], trace["started_at"], json.dumps(trace, ensure_ascii=False)),
        )
    elif write.kind == "rename":
        db.execute("UPDATE conversations SET title = ? WHERE id = ?", (f["title"], f["id"]))
    elif write.kind == "delete_conversation":
        db.execute("DELETE FROM conversations WHERE id = ? OR uid = ?", (f.get("id"), f.get("uid")))
    elif write.kind == "persona":
        db.execute("UPDATE conversations SET persona = ? WHERE uid = ?", (f["persona"], f["conversation"]))
    elif write.kind == "probe":
        db.execute(
            "INSERT INTO probes(base_url, probed_at, data) VALUES (?, ?, ?) "
            "ON CONFLICT(base_url) DO UPDATE SET probed_at = excluded.probed_at, data = excluded.data",
            (f["base_url"], f["at"], json.dumps(f["findings"])),
        )
    elif write.kind == "model_choice":
        db.execute(
            "INSERT INTO model_choices(base_url, action, model) VALUES (?, ?, ?) ON CONFLICT(base_url, action) DO UPDATE SET model = excluded.model",
            (f["base_url"], f["action"], f["model"]),
        )
    else:
        raise ValueError(f"unknown write {write.kind!r}")


def message_id(db: sqlite3.Connection, uid: str | None) -> int | None:
    """The id of the message with that uid (`id-<n>` for one kept before uids existed), if it is there."""
    if uid is None:
        return None
    found = db.execute("SELECT id FROM messages WHERE uid = ?", (uid,)).fetchone()
    if found is None and uid.startswith("id-") and uid[3:].isdigit():
        found = db.execute("SELECT id FROM messages WHERE id = ?", (int(uid[3:]),)).fetchone()
    return int(found[0]) if found else None


def place(db: sqlite3.Connection, conversation_id: int, uid: str, parent: str) -> None:
    """Put a message just added in its tree after its parent (a uid; "" for a first one), and show its branch. A parent gone
    (deleted meanwhile) or another conversation's (a hand-edited line) makes it follow the branch in view, as an older guide's would."""
    added = message_id(db, uid)
    assert added is not None  # just inserted, in this transaction
    leaf = db.execute("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    after = message_id(db, parent) if parent else None
    if after is None or db.execute("SELECT 1 FROM tree WHERE message_id = ? AND conversation_id = ?", (after, conversation_id)).fetchone() is None:
        after = leaf if parent else None
    db.execute("INSERT INTO tree(message_id, conversation_id, parent_id) VALUES (?, ?, ?)", (added, conversation_id, after))
    if after == leaf:  # the branch in view grows: nothing else moves
        db.execute("UPDATE messages SET conversation_id = ? WHERE id = ?", (conversation_id, added))
        db.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (added, conversation_id))
    else:
        show(db, conversation_id, added)


DOWN = """WITH RECURSIVE down(id) AS (
    SELECT m.id FROM messages m JOIN tree t ON t.message_id = m.id WHERE t.conversation_id = ? AND (m.uid = ? OR m.id = ?)
    UNION ALL
    SELECT (SELECT message_id FROM tree WHERE parent_id = down.id ORDER BY COALESCE(left_at, 0) DESC, message_id DESC LIMIT 1)
    FROM down WHERE down.id IS NOT NULL
    LIMIT ?
) SELECT id FROM down WHERE id IS NOT NULL"""
"""The branch that goes on from a message (conversation, uid, id, rows to walk at most or -1), the way it was last seen at
each branch point (else its latest version). The limit lets a branch's head be read without walking it all."""


def way_down(db: sqlite3.Connection, conversation_id: int, start: int) -> int:
    """The last message of the branch that goes on from `start`, the way it was last seen."""
    ids = db.execute(DOWN, (conversation_id, None, start, -1)).fetchall()
    return int(ids[-1][0]) if ids else start


COMING = """WITH RECURSIVE up(id, parent) AS (
    SELECT t.message_id, t.parent_id FROM tree t JOIN messages m ON m.id = t.message_id
        WHERE t.message_id = :leaf AND t.conversation_id = :conversation AND m.conversation_id IS NULL
    UNION ALL SELECT t.message_id, t.parent_id FROM tree t JOIN up ON t.message_id = up.parent JOIN messages m ON m.id = t.message_id
        WHERE m.conversation_id IS NULL
) SELECT id, parent FROM up"""
"""The messages of the branch ending at :leaf that are not in view, from the leaf up to the branch point."""


def show(db: sqlite3.Connection, conversation_id: int, leaf: int) -> None:
    """Make the branch that ends at `leaf` the one in view: its messages hold the conversation, the others none (and
    remember when they left it). Only what lies below the branch point moves: along a branch ids only grow, so what
    leaves the view is exactly what is in view after the branch point."""
    at: dict[str, float] = {"leaf": leaf, "conversation": conversation_id}
    if db.execute("SELECT 1 FROM tree WHERE message_id = :leaf AND conversation_id = :conversation", at).fetchone() is None:
        return  # not a message of this conversation (deleted meanwhile)
    coming = db.execute(COMING, at).fetchall()
    at["point"] = (coming[-1][1] or 0) if coming else leaf
    at["now"] = time.time()
    db.execute(
        "UPDATE tree SET left_at = :now WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = :conversation AND id > :point)", at
    )
    db.execute("UPDATE messages SET conversation_id = NULL WHERE conversation_id = :conversation AND id > :point", at)
    db.executemany("UPDATE messages SET conversation_id = ? WHERE id = ?", [(conversation_id, row[0]) for row in coming])
    db.execute("UPDATE conversations SET leaf_id = :leaf WHERE id = :conversation", at)


class Writer(threading.Thread):
    """Applies queued writes in order, one transaction each, on its own connection. A write that cannot land is set aside and
    said; if the thread itself cannot go on (its connection fails), it says so and stops, and `finish` keeps what is queued."""

    def __init__(self, path: Path, on_saving: Callable[[Saving, str], None] | None = None) -> None:
        super().__init__(name="guide-store-writer", daemon=True)
        self.path = path
        self.on_saving = on_saving
        self.queue: queue.Queue[Write | None] = queue.Queue()
        self.current: Write | None = None
        self.state: Saving = "saving"
        self.stopping = threading.Event()
        self.set_aside: list[Path] = []
        """Files holding writes that could not land (kept, never deleted), in the order they were made."""
        self._unlanded = 1
        """Writes queued and not yet landed; the first is replaying what an earlier guide could not save."""
        self._landed = threading.Condition()
        self._db: sqlite3.Connection | None = None

    def submit(self, write: Write) -> None:
        """Queue a write (returns at once)."""
        with self._landed:
            self._unlanded += 1
        self.queue.put(write)

    def wait(self, timeout: float) -> bool:
        """Wait until every write queued so far has landed (or was set aside); False on timeout."""
        with self._landed:
            return self._landed.wait_for(lambda: self._unlanded == 0, timeout)

    def run(self) -> None:
        try:
            self._db = sqlite3.connect(self.path, timeout=LOCK_WAIT_MS / 1000, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
            self._db.execute("PRAGMA foreign_keys=ON")
            for kept in sorted(self.path.parent.glob(f"{self.path.name}.pending-*.jsonl")):
                self._replay(kept)
            self._done()
            while not self.stopping.is_set():
                write = self.queue.get()
                if write is None:
                    break
                self.current = write
                if not self._land_or_set_aside(write):
                    break
                self.current = None
                self._done()
        except Exception as error:  # the thread's own failure, never a write's: said, and what is queued is kept by finish()
            self._tell("stopped", said(error))
        finally:
            if self._db is not None:
                self._db.close()

    def _done(self) -> None:
        with self._landed:
            self._unlanded -= 1
            self._landed.notify_all()

    def _land_or_set_aside(self, write: Write) -> bool:
        """Land one write just made; one that cannot is set aside (and said). False if stopped first."""
        try:
            return self._land([write])
        except Exception as error:
            self._keep_aside([(as_line(write), said(error))], "written in this session")
            return True

    def _replay(self, kept: Path) -> None:
        """Land what an earlier guide kept: in one transaction, or write by write if anything fails; the file goes once nothing in it is lost."""
        try:
            lines = [line for line in kept.read_bytes().splitlines() if line.strip()]
        except OSError as error:
            self._tell("set aside", f"{kept} could not be read ({said(error)}); it is left where it is, and tried again next time.")
            return
        writes: list[tuple[bytes, Write]] = []
        unusable: list[tuple[bytes, str]] = []
        for line in lines:
            try:
                writes.append((line, parse(line)))
            except ValueError as error:
                unusable.append((line, said(error)))
        try:
            if not self._land([write for _, write in writes]):
                return  # stopped: the file stays whole (replaying what landed changes nothing)
        except Exception:
            for line, write in writes:
                try:
                    if not self._land([write]):
                        return
                except Exception as error:
                    unusable.append((line, said(error)))
        if unusable:
            order = {line: at for at, line in enumerate(lines)}
            self._keep_aside(sorted(unusable, key=lambda pair: order[pair[0]]), f"kept from an earlier session in {kept.name}")
        kept.unlink(missing_ok=True)

    def _keep_aside(self, lines: list[tuple[bytes, str]], source: str) -> None:
        """Keep writes that cannot land in a file of their own beside the store (0600), as they were, and say where."""
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 1_000_000:06d}"
        aside = self.path.with_name(f"{self.path.name}.set-aside-{stamp}.jsonl")
        write_private_bytes(aside, b"".join(line + b"\n" for line, _ in lines))
        self.set_aside.append(aside)
        count = f"{len(lines)} change{'s' if len(lines) > 1 else ''} to the conversations"
        why = lines[0][1] + (f", and {len(lines) - 1} more" if len(lines) > 1 else "")
        kept = "they were" if len(lines) > 1 else "it was"
        self._tell("set aside", f"{count} ({source}) could not be saved ({why}). Kept as {kept} in {aside}; the rest is saved.")

    def _land(self, writes: list[Write]) -> bool:
        """Apply the writes in one transaction, retrying while the store refuses (a lock elsewhere, a full disk); False if
        stopped first. An error of the writes' own (they can never land) is raised, with none of them applied."""
        assert self._db is not None
        delay = 0.05
        while True:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for write in writes:
                    apply(self._db, write)
                self._db.execute("COMMIT")
            except Exception as error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if not not_the_writes(error):
                    raise
                self._tell("waiting" if isinstance(error, sqlite3.OperationalError) and busy(error) else "failing", str(error))
                if self.stopping.wait(delay):
                    return False
                delay = min(delay * 2, RETRY_AT_MOST)
                continue
            self._tell("saving", "")
            return True

    def _tell(self, state: Saving, why: str) -> None:
        if state == self.state:
            return
        if state != "set aside":  # said each time, and saving goes on as it was
            self.state = state
        if self.on_saving is not None:
            self.on_saving(state, why)

    def unsaved(self) -> list[Write]:
        """What has not landed: the write in hand and the queue (call once the thread has stopped)."""
        left = [self.current] if self.current is not None else []
        while True:
            try:
                write = self.queue.get_nowait()
            except queue.Empty:
                return left
            if write is not None:
                left.append(write)

    def finish(self, timeout: float) -> Path | None:
        """Land what is queued (waiting at most `timeout`), then stop; what could not land is kept in a file."""
        self.queue.put(None)
        self.join(timeout)
        if not self.is_alive() and self.queue.empty() and self.current is None:
            return None
        self.stopping.set()
        self.join(RETRY_AT_MOST + 1)
        left = self.unsaved()
        return keep_pending(self.path, left) if left else None


def keep_pending(path: Path, writes: list[Write]) -> Path:
    """Keep writes that could not land in a `pending-*.jsonl` file beside the store (0600): the next guide to open it saves them."""
    kept = path.with_name(f"{path.name}.pending-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10_000:04d}.jsonl")
    write_private_bytes(kept, b"".join(as_line(write) + b"\n" for write in writes))
    return kept
