"""Make store-v3.sqlite3: a conversations file as guide wrote it at schema 3, before branches (kept, binary, for the migration tests).

Run with the guide of that time on the path (it was made from main at 7dcbd90):

    PYTHONPATH=/path/to/guide-at-7dcbd90 python tests/data/make_store_v3.py tests/data/store-v3.sqlite3
"""

from __future__ import annotations

import sys
from pathlib import Path

from guide.store import Store
from guide.store_schema import SCHEMA_VERSION

assert SCHEMA_VERSION == 3, "run this with the guide that wrote schema 3"
path = Path(sys.argv[1])
path.unlink(missing_ok=True)
store = Store(path)
store.new_conversation("walk", "calm-guide", opening=("Calm guide", "Hello, take your time."))
store.add_message("walk", "w1", "user", "Where shall we walk?")
store.add_message("walk", "w2", "assistant", "Along the river, slowly.", persona="Calm guide", model="m1", trace_id="t1")
store.add_message("walk", "w3", "divider", "model: m2", kind="model", model="m2", data={"action": "think", "was": "m1"})
store.add_message("walk", "w4", "user", "And after the river?")
store.add_message("walk", "w5", "assistant", "A first answer, asked again below.", persona="Calm guide", model="m2")
store.delete_message(uid="w5")  # ctrl+r as it was: the reply replaced
store.add_message("walk", "w6", "assistant", "Up to the meadow.", persona="Calm guide", model="m2", state="stopped")
store.new_conversation("tea", "calm-guide")
store.add_message("tea", "t1", "user", "Which tea?")
store.add_message("tea", "t2", "assistant", "Green, not too hot.", persona="Calm guide")
store.new_conversation("empty", "calm-guide")  # made, then nothing said (as a stray write can leave one)
assert store.flush()
assert store.close() is None
