"""The store's one writer: a thread with its own connection, so no write ever waits on the UI loop.

Writes are plain data (`Write`: a kind and its fields), queued in order and
applied one transaction each. A lock held by another guide is waited out a
quarter of a second at a time (a missed moment beats a frozen window) and the
write is retried until it lands: nothing is dropped, and saving resumes by
itself. What is still queued when guide closes, if the lock is never freed,
is kept in a `pending-*.jsonl` file beside the store and applied the next
time it opens. Rows carry a `uid` made with them, so a write never waits for
an id and replaying one twice changes nothing.
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

from .locations import write_private

LOCK_WAIT_MS = 250
"""How long one attempt waits for another guide's lock (harlequin's rule)."""
RETRY_AT_MOST = 2.0
"""Seconds between attempts, at most, while the lock is held elsewhere."""

Saving = Literal["saving", "waiting", "failing"]


@dataclass(frozen=True)
class Write:
    """One write, as data: it can be queued, retried, and kept in a file."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


def as_data(value: Any) -> Any:
    """A write's field as plain data: a trace filed as it was becomes its record here, on the writer's thread."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def busy(error: sqlite3.OperationalError) -> bool:
    """Whether another connection holds the lock (worth waiting for, never a broken file)."""
    return "locked" in str(error) or "busy" in str(error)


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
        db.execute(
            "INSERT INTO messages(uid, conversation_id, role, kind, content, persona, model, state, trace_id, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uid) DO NOTHING",
            (f["uid"], row[0], f["role"], f.get("kind", ""), f["content"], f.get("persona", ""), f.get("model", ""), f.get("state", "done"),
             f.get("trace_id"), data, f["at"]),
        )  # fmt: skip
        title = f["content"].strip().splitlines()[0][:60] if f["role"] == "user" and f["content"].strip() else None
        db.execute(
            "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' AND ? IS NOT NULL THEN ? ELSE title END WHERE id = ?",
            (f["at"], title, title, row[0]),
        )
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


class Writer(threading.Thread):
    """Applies queued writes in order, one transaction each, on its own connection."""

    def __init__(self, path: Path, on_saving: Callable[[Saving, str], None] | None = None) -> None:
        super().__init__(name="guide-store-writer", daemon=True)
        self.path = path
        self.on_saving = on_saving
        self.queue: queue.Queue[Write | None] = queue.Queue()
        self.current: Write | None = None
        self.state: Saving = "saving"
        self.stopping = threading.Event()
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
        """Wait until every write queued so far has landed (or was dropped); False on timeout."""
        with self._landed:
            return self._landed.wait_for(lambda: self._unlanded == 0, timeout)

    def run(self) -> None:
        self._db = sqlite3.connect(self.path, timeout=LOCK_WAIT_MS / 1000, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        self._db.execute("PRAGMA foreign_keys=ON")
        try:
            for kept in sorted(self.path.parent.glob(f"{self.path.name}.pending-*.jsonl")):
                self._replay(kept)
            self._done()
            while not self.stopping.is_set():
                write = self.queue.get()
                if write is None:
                    break
                self.current = write
                if not self._land([write]):
                    break
                self.current = None
                self._done()
        finally:
            self._db.close()

    def _done(self) -> None:
        with self._landed:
            self._unlanded -= 1
            self._landed.notify_all()

    def _replay(self, kept: Path) -> None:
        try:
            writes = [Write(**json.loads(line)) for line in kept.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, ValueError, TypeError):
            return  # unreadable: left where it is, for the user to look at
        if self._land(writes):
            kept.unlink(missing_ok=True)

    def _land(self, writes: list[Write]) -> bool:
        """Apply the writes in one transaction, retrying while the lock is elsewhere; False if stopped first."""
        assert self._db is not None
        delay = 0.05
        while True:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for write in writes:
                        apply(self._db, write)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as error:
                # Locked by another guide, or the disk is full or read-only: keep the write and try again.
                self._tell("waiting" if busy(error) else "failing", str(error))
                if self.stopping.wait(delay):
                    return False
                delay = min(delay * 2, RETRY_AT_MOST)
                continue
            except sqlite3.Error as error:  # a write that can never land (a bug): dropped, and said
                self._tell("failing", f"a write could not be saved and was dropped ({error})")
                return True
            self._tell("saving", "")
            return True

    def _tell(self, state: Saving, why: str) -> None:
        if state != self.state:
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
        if not left:
            return None
        kept = self.path.with_name(f"{self.path.name}.pending-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10_000:04d}.jsonl")
        lines = ({"kind": write.kind, "fields": {name: as_data(value) for name, value in write.fields.items()}} for write in left)
        write_private(kept, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        return kept
