"""The store: shared by two instances at once, never waited on by its caller, and nothing lost.

Another guide holding the write lock is a real second process here, holding
a real SQLite lock.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def message_line(conversation: str, uid: str, role: Any, content: str) -> str:
    """One write as an earlier guide kept it in a pending file."""
    fields = {"conversation": conversation, "uid": uid, "role": role, "content": content, "kind": "", "persona": "", "at": 1.0}
    return json.dumps({"kind": "message", "fields": fields})


def pending_file(path: Path, lines: list[str]) -> Path:
    """A `pending-*.jsonl` beside the store, as a data folder holds one after a guide closed while another held the lock."""
    kept = path.with_name(f"{path.name}.pending-20261201-093000-0042.jsonl")
    kept.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    kept.chmod(0o600)
    return kept


def test_one_bad_line_in_a_pending_file_neither_stops_saving_nor_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    Store(path).close()
    conversation = new_uid()
    good = [json.dumps({"kind": "conversation", "fields": {"uid": conversation, "persona": "calm-guide", "title": "", "at": 1.0}})]
    good += [message_line(conversation, new_uid(), "user", f"kept {i}") for i in range(3)]
    incomplete = json.dumps({"kind": "message", "fields": {"conversation": conversation, "uid": new_uid(), "role": "user"}})  # no content: KeyError
    not_fields = json.dumps({"kind": "rename", "fields": None})  # TypeError
    kept = pending_file(path, [good[0], good[1], incomplete, good[2], not_fields, good[3]])
    heard: list[tuple[str, str]] = []
    store = Store(path, on_saving=lambda state, why: heard.append((state, why)))
    store.add_message(conversation, new_uid(), "assistant", "written in this run")
    assert store.flush(timeout=10), "the writer stopped: nothing written in this run is saved"
    info = store.conversations()[0]
    assert [m.content for m in store.messages(info.id)] == ["kept 0", "kept 1", "kept 2", "written in this run"]
    assert not kept.exists()
    [aside] = tmp_path.glob("guide.sqlite3.set-aside-*.jsonl")
    assert (aside.stat().st_mode & 0o777) == 0o600
    assert aside.read_text(encoding="utf-8").splitlines() == [incomplete, not_fields]  # as they were, to look at
    assert [state for state, _ in heard] == ["set aside"] and str(aside) in heard[0][1]
    assert store.close() is None
    again = Store(path)  # the next start does not meet the bad lines again, and saves as usual
    again.add_message(conversation, new_uid(), "user", "the next day")
    assert again.flush(timeout=10) and again._writer.is_alive()
    assert [m.content for m in again.messages(info.id)][-1] == "the next day"
    assert list(tmp_path.glob("guide.sqlite3.set-aside-*.jsonl")) == [aside]


def test_a_write_that_cannot_land_is_set_aside_and_the_other_fifty_are_saved(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    Store(path).close()
    conversation = new_uid()
    lines = [json.dumps({"kind": "conversation", "fields": {"uid": conversation, "persona": "calm-guide", "title": "", "at": 1.0}})]
    lines += [message_line(conversation, new_uid(), "user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(50)]
    broken = message_line(conversation, new_uid(), None, "a role of null breaks NOT NULL")  # IntegrityError
    lines.insert(26, broken)
    kept = pending_file(path, lines)
    heard: list[tuple[str, str]] = []
    store = Store(path, on_saving=lambda state, why: heard.append((state, why)))
    assert store.flush(timeout=10)
    assert [m.content for m in store.messages(store.conversations()[0].id)] == [f"message {i}" for i in range(50)]
    assert not kept.exists()
    [aside] = tmp_path.glob("guide.sqlite3.set-aside-*.jsonl")
    assert aside.read_text(encoding="utf-8") == broken + "\n" and (aside.stat().st_mode & 0o777) == 0o600
    assert heard and heard[-1][0] == "set aside" and str(aside) in heard[-1][1] and "NOT NULL" in heard[-1][1]
    store.add_message(conversation, new_uid(), None, "the same, written now")  # type: ignore[arg-type]
    store.add_message(conversation, new_uid(), "user", "and the next one")
    assert store.flush(timeout=10) and store._writer.is_alive()
    assert [m.content for m in store.messages(store.conversations()[0].id)][-1] == "and the next one"
    assert len(list(tmp_path.glob("guide.sqlite3.set-aside-*.jsonl"))) == 2  # the live write is kept aside too, never dropped
