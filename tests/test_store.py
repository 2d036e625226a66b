"""The store: shared by two instances at once, never waited on by its caller, and nothing lost.

Another guide holding the write lock is a real second process here, holding
a real SQLite lock.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from waits import lines_within

from guide.conversation import new_uid
from guide.store import Store, StoreUnavailable


@contextmanager
def lock_held(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process takes the store's write lock and keeps it for `seconds`."""
    code = (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "db.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and next(lines_within(holder.stdout, 30), "").strip() == "locked"
        yield holder
        holder.wait(30)
    finally:
        holder.kill()
        holder.wait(10)


def test_two_instances_write_at_once_without_loss_or_corruption(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    first, second = Store(path), Store(path)
    conversations = [new_uid(), new_uid()]
    for store, uid in zip((first, second), conversations):
        store.new_conversation(uid, "calm-guide")

    def write(store: Store, conversation: str) -> None:
        for i in range(150):
            store.add_message(conversation, new_uid(), "user" if i % 2 == 0 else "assistant", f"message {i}")

    threads = [threading.Thread(target=write, args=(store, uid)) for store, uid in zip((first, second), conversations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert first.flush() and second.flush()
    reader = Store(path)
    for info in reader.conversations():
        assert [m.content for m in reader.messages(info.id)] == [f"message {i}" for i in range(150)]
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_stopped_reply_is_kept_with_what_arrived(tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    conversation = new_uid()
    store.new_conversation(conversation, "calm-guide")
    store.add_message(conversation, new_uid(), "user", "Tell me")
    store.add_message(conversation, new_uid(), "assistant", "Half a", state="stopped")
    assert store.flush()
    info = store.conversations()[0]
    assert info.title == "Tell me" and info.uid == conversation
    assert [(m.role, m.content, m.state) for m in store.messages(info.id)] == [("user", "Tell me", "done"), ("assistant", "Half a", "stopped")]


def test_writes_return_at_once_while_another_guide_holds_the_lock_and_land_after(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    heard: list[str] = []
    store = Store(path, on_saving=lambda state, why: heard.append(state))
    conversation = new_uid()
    with lock_held(path, 2.0):
        started = time.monotonic()
        store.new_conversation(conversation, "calm-guide")
        for i in range(20):
            store.add_message(conversation, new_uid(), "user", f"words {i}")
        queued_in = time.monotonic() - started
        assert not store.flush(timeout=0.5)  # still waiting for the other guide
        assert store.saving == "waiting"
        assert [c.title for c in store.conversations()] == []  # reads go on meanwhile (WAL): nothing landed yet
    assert store.flush(timeout=10)
    assert queued_in < 0.5  # queueing never waited for the lock (a generous bound: it is a queue.put)
    assert heard == ["waiting", "saving"] and store.saving == "saving"
    assert [m.content for m in store.messages(store.conversations()[0].id)] == [f"words {i}" for i in range(20)]


def test_what_could_not_be_saved_before_closing_is_kept_and_saved_next_time(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    store = Store(path)
    conversation = new_uid()
    with lock_held(path, 4.0):
        store.new_conversation(conversation, "calm-guide")
        store.add_message(conversation, new_uid(), "user", "words worth keeping")
        kept = store.close(timeout=0.5)
        assert kept is not None and kept.exists() and (kept.stat().st_mode & 0o777) == 0o600
    again = Store(path)
    assert again.notice is not None and "could not be saved last time" in again.notice
    assert again.flush(timeout=10)
    assert [m.content for m in again.messages(again.conversations()[0].id)] == ["words worth keeping"]
    assert not kept.exists()
    twice = Store(path)  # replaying is idempotent and the file is gone
    assert twice.flush() and len(twice.messages(twice.conversations()[0].id)) == 1


def test_a_read_of_a_file_that_fails_says_so_instead_of_coming_back_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    store._db.close()  # the connection is gone, as on a disk that failed under it
    with pytest.raises(StoreUnavailable) as caught:
        store.conversations()
    assert "Nothing was lost" in str(caught.value)
