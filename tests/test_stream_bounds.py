"""A stream of many events: the trace keeps its first and last frames and counts the rest by kind; filing it builds nothing large.

A server may send millions of tiny events within the size guide reads (64 MB).
Each used to be kept on the trace, and filing the call built the whole record
(88 MB for 3,000,000 events) on the UI loop. `benchmarks/tiny_events.py`
measures the loop while the app reads and files such a reply.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, Stream, chat_chunk, sse

from guide import AsyncGuide, Guide, Trace
from guide.client._trace import FRAMES_FIRST, FRAMES_LAST
from guide.conversation import Conversation
from guide.models import ModelChoice
from guide.personas import FALLBACK
from guide.store import Store
from guide.wire_text import frames_text

TINY = 30_000
"""Tiny events in the stream: many more than a trace keeps."""
KEY = "sk-proj-BOUNDED-secret-key-77aa0ffee"


def tiny_events(count: int) -> list[bytes]:
    """A Responses stream: created, a word, `count` events of a type guide does not read, another word, completed."""
    response = {"id": "resp_1", "object": "response", "created_at": 0, "status": "in_progress", "model": "loopback-model", "output": []}

    def event(value: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(value).encode() + b"\n\n"

    def delta(text: str) -> bytes:
        return event({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": text})

    tiny = b'data: {"type":"x"}\n\n' * count
    done = event({"type": "response.completed", "response": {**response, "status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2}}})
    return [
        event({"type": "response.created", "response": response}) + delta("Calm"),
        tiny[: len(tiny) // 2],
        tiny[len(tiny) // 2 :] + delta(" words.") + done,
    ]


def test_a_stream_of_many_events_is_kept_as_its_ends_and_counts_and_filed_off_the_loop(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built_on: list[str] = []
    to_dict = Trace.to_dict

    def recorded(trace: Trace) -> dict[str, Any]:
        built_on.append(threading.current_thread().name)
        return to_dict(trace)

    monkeypatch.setattr(Trace, "to_dict", recorded)
    store = Store(tmp_path / "guide.sqlite3")
    talk = Conversation(FALLBACK, guide=AsyncGuide(base_url=server.url, max_retries=0), store=store, models=ModelChoice(chosen="loopback-model"))
    assert talk.guide is not None
    talk.guide.on_trace = talk.file_call
    talk.switch_surface("respond")
    server.push(Stream(tiny_events(TINY)))

    async def say() -> str:
        return (await talk.send("Hello")).text

    assert asyncio.run(say()) == "Calm words."  # the words among the events left out are read all the same
    trace = next(trace for trace in talk.calls.values() if trace.action == "respond")
    everything = TINY + 4
    assert len(trace.frames) == FRAMES_FIRST + FRAMES_LAST and trace.frame_count == everything
    assert trace.frames_left_out == everything - FRAMES_FIRST - FRAMES_LAST and trace.left_out == {"x": trace.frames_left_out}
    assert json.loads(trace.frames[0][1])["type"] == "response.created" and json.loads(trace.frames[-1][1])["type"] == "response.completed"
    assert store.flush()
    assert built_on and set(built_on) == {"guide-store-writer"}  # the record is made on the writer's thread, never on the loop
    with sqlite3.connect(tmp_path / "guide.sqlite3") as db:
        (data,) = db.execute("SELECT data FROM traces WHERE action = 'respond'").fetchone()
    assert len(data) < 100_000  # 2,000 tiny frames and the request: not 30,000 frames
    stored = Trace.from_dict(json.loads(data))
    assert len(stored.frames) == FRAMES_FIRST + FRAMES_LAST and stored.frames_left_out == trace.frames_left_out
    shown = frames_text(stored)  # the call detail's frames, of the trace as the store keeps it
    assert shown.startswith(f"{everything:,} typed events")
    assert f"… {everything - 16:,} more events …" in shown and f"({trace.frames_left_out:,} of them not kept, only counted by event type: " in shown
    store.close()


def test_a_key_split_across_frames_is_masked_in_the_frames_kept_at_either_end() -> None:
    # The frames that hold the pieces of a split key are found among those kept, after those between were left out.
    pieces = ["word "] * 5000
    pieces[10:12] = [KEY[:9], KEY[9:] + " "]  # in the first frames kept
    pieces[2500:2502] = [KEY[:9], KEY[9:] + " "]  # left out
    pieces[-3:-1] = [KEY[:9], KEY[9:] + " "]  # in the last frames kept
    with LoopbackServer() as server, Guide(base_url=server.url, model="loopback-model", api_key=KEY) as ai:
        server.push(Stream(sse(*[chat_chunk(piece) for piece in pieces], chat_chunk(finish="stop"))))
        reply = ai.think("Hello", stream=True)
        text = "".join(reply)
    assert KEY not in text and text.count(f"••••{KEY[-4:]}") == 3
    trace = reply.trace
    assert trace is not None and len(trace.frames) == FRAMES_FIRST + FRAMES_LAST and trace.left_out == {"answer": trace.frames_left_out}
    kept = "".join(json.loads(data)["choices"][0]["delta"].get("content", "") for _, data in trace.frames if data.startswith("{"))
    assert KEY not in kept and kept.count("•" * len(KEY)) == 2
    assert trace.frames_left_out == len(pieces) + 2 - FRAMES_FIRST - FRAMES_LAST  # the pieces, the finish and [DONE]
