"""The store: shared by two instances at once, and read back whole."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from guide.store import Store


def test_two_instances_write_at_once_without_loss_or_corruption(tmp_path: Path) -> None:
    path = tmp_path / "guide.sqlite3"
    first, second = Store(path), Store(path)
    conversations = [first.new_conversation("calm-guide"), second.new_conversation("calm-guide")]
    errors: list[BaseException] = []

    def write(store: Store, conversation: int | None) -> None:
        try:
            assert conversation is not None
            for i in range(150):
                store.add_message(conversation, "user" if i % 2 == 0 else "assistant", f"message {i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(store, c)) for store, c in zip((first, second), conversations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and first.failure is None and second.failure is None
    for conversation in conversations:
        assert conversation is not None
        assert [m.content for m in Store(path).messages(conversation)] == [f"message {i}" for i in range(150)]
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_stopped_reply_is_kept_with_what_arrived(tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    conversation = store.new_conversation("calm-guide")
    assert conversation is not None
    store.add_message(conversation, "user", "Tell me")
    store.add_message(conversation, "assistant", "Half a", state="stopped")
    assert [(m.role, m.content, m.state) for m in store.messages(conversation)] == [("user", "Tell me", "done"), ("assistant", "Half a", "stopped")]
    assert store.conversations()[0].title == "Tell me"
    assert "(stopped)" in store.export_markdown(conversation)
