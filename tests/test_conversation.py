"""The conversation, headless: every behaviour the app relies on, without Pilot.

Each test drives a real Conversation with guide's real async client against
a loopback server, and a real store in the test's own folder.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse

from guide import AsyncGuide, GuideError
from guide.conversation import Conversation, Event, ReplyEnded, ReplyPieces, Turn, TurnAdded, TurnRemoved, blocks
from guide.models import ModelChoice
from guide.personas import FALLBACK, Persona
from guide.store import Store

OTHER = Persona(id="night-owl", name="Night owl", description="d", address="Fira", greeting="Hoo.", system="You are a night owl.", source="user")


def run(script: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(script())


def conversation(server: LoopbackServer, store: Store | None = None, **options: Any) -> tuple[Conversation, list[Event]]:
    events: list[Event] = []
    guide = AsyncGuide(base_url=server.url, max_retries=0)
    options.setdefault("models", ModelChoice(chosen="loopback-model"))
    made = Conversation(FALLBACK, guide=guide, store=store, emit=events.append, **options)
    made.guide.on_trace = made.file_call  # type: ignore[union-attr]
    return made, events


async def say(conversation: Conversation, text: str) -> Any:
    """Send, and the answer's pieces as the conversation reported them."""
    told, pieces = conversation.emit, []

    def heard(event: Event) -> None:
        if isinstance(event, ReplyPieces):
            pieces.extend(text for kind, text in event.parts if kind == "answer")
        told(event)

    conversation.emit = heard
    try:
        exchange = await conversation.send(text)
    finally:
        conversation.emit = told
    return exchange, pieces


def stored_turns(store: Store) -> list[tuple[str, str, str]]:
    assert store.flush()
    info = store.conversations()[0]
    return [(m.role, m.kind, m.content) for m in store.messages(info.id)]


def test_the_greeting_opens_the_conversation_without_any_call(server: LoopbackServer) -> None:
    talk, events = conversation(server)
    assert talk.greeting() == FALLBACK.greeting_for(None) and talk.turns == [] and events == []
    assert server.requests == []


def test_a_message_streams_a_reply_that_is_kept_and_stored(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)
    exchange, pieces = run(lambda: say(talk, "Hello there"))
    assert "".join(pieces) == "You said: Hello there" and exchange.state == "done"
    assert [(t.role, t.content) for t in talk.turns] == [("user", "Hello there"), ("assistant", "You said: Hello there")]
    assert isinstance(events[0], TurnAdded) and isinstance(events[-1], ReplyEnded) and events[-1].exchange.turn is talk.turns[-1]
    assert stored_turns(store) == [("user", "", "Hello there"), ("assistant", "", "You said: Hello there")]
    sent = server.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": talk.system()} and sent["model"] == "loopback-model"


def test_a_failure_before_any_word_gives_the_words_back_and_stores_nothing(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)
    server.push(Answer(500, {"error": {"message": "boom"}}))
    with pytest.raises(GuideError):
        run(lambda: say(talk, "Keep these words"))
    ended = [e for e in events if isinstance(e, ReplyEnded)][-1].exchange
    assert ended.words_back == "Keep these words" and ended.turn is None and talk.turns == []
    assert any(isinstance(e, TurnRemoved) for e in events)
    assert store.flush() and all(store.messages(c.id) == [] for c in store.conversations())


def test_a_reply_cut_off_is_kept_as_cut_with_what_arrived(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Half a "), chat_chunk("thought"), done=False), cut=True))
    talk, events = conversation(server)
    with pytest.raises(GuideError):
        run(lambda: say(talk, "Go on"))
    assert [(t.role, t.content, t.state) for t in talk.turns] == [("user", "Go on", "done"), ("assistant", "Half a thought", "cut")]
    assert [e for e in events if isinstance(e, ReplyEnded)][-1].exchange.words_back == "Go on"


def test_stopping_a_reply_keeps_what_arrived_marked_stopped(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk("Slowly "), chat_chunk("and "), chat_chunk("slowly")), pause=0.3))
    talk, _ = conversation(server)

    async def script() -> None:
        task = asyncio.create_task(talk.send("Tell me"))
        await asyncio.sleep(0.45)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(script)
    assert talk.turns[-1].role == "assistant" and talk.turns[-1].state == "stopped" and talk.turns[-1].content.startswith("Slowly")


def test_regenerate_replaces_the_last_reply(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        await say(talk, "Once")
        server.push(Stream(sse(chat_chunk("A new answer"), chat_chunk(finish="stop"))))
        assert await talk.regenerate() is not None

    run(script)
    assert [t.content for t in talk.turns] == ["Once", "A new answer"]
    assert [content for _, _, content in stored_turns(store)] == ["Once", "A new answer"]


def test_the_history_budget_reads_older_turns_back_from_the_store(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    writer, _ = conversation(server, store)
    for i in range(300):
        writer.add(Turn("user" if i % 2 == 0 else "assistant", f"turn {i}"))
    assert store.flush()
    conversation_id = store.conversations()[0].id

    async def script() -> Conversation:
        chosen = ModelChoice(chosen="loopback-model")
        resumed = await Conversation.resume(
            store, conversation_id, lambda _: FALLBACK, budget=1_000_000, guide=AsyncGuide(base_url=server.url), models=chosen
        )
        assert resumed is not None and len(resumed.turns) == 200 and resumed.more_before
        await say(resumed, "and now")
        return resumed

    resumed = run(script)
    sent = server.requests[-1].json["messages"]
    assert len(sent) == 1 + 300 + 1 and sent[1]["content"] == "turn 0" and sent[-1]["content"] == "and now"
    assert len(resumed.turns) == 300 + 2 and not resumed.more_before


def test_a_small_budget_sends_only_the_latest_turns_and_reads_nothing_more(server: LoopbackServer) -> None:
    talk, _ = conversation(server, budget=30)
    for i in range(6):
        talk.add(Turn("user" if i % 2 == 0 else "assistant", f"ten chars{i}"))
    run(lambda: say(talk, "last words"))
    sent = [m["content"] for m in server.requests[-1].json["messages"][1:]]
    assert sent == ["ten chars4", "ten chars5", "last words"]


def test_switching_persona_shows_a_divider_and_the_next_call_speaks_as_it(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        await say(talk, "Hello")
        talk.switch_persona(OTHER)
        await say(talk, "And now?")

    run(script)
    assert server.requests[-1].json["messages"][0]["content"] == "You are a night owl."
    assert ("divider", "persona", "now speaking as Night owl") in stored_turns(store)
    assert talk.turns[-1].persona == "Night owl"


def test_calls_made_before_the_conversation_was_stored_are_filed_with_it(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        await talk.know_models()  # a catalog call before anything was said
        await say(talk, "Hello")

    run(script)
    assert store.flush()
    conversation_id = store.conversations()[0].id
    assert [t["action"] for t in store.traces(conversation_id)] == ["catalog", "think"]


def test_understand_asks_an_embedding_model_not_the_chat_model(tmp_path: Path) -> None:
    with LoopbackServer(models=["chat-model", "text-embedding-small"]) as server:
        talk, _ = conversation(server, Store(tmp_path / "guide.sqlite3"), models=ModelChoice())
        turn = run(lambda: blocks.understand(talk, "a quiet lake"))
        asked = [r for r in server.requests if r.path.endswith("/embeddings")][-1].json
    assert asked["model"] == "text-embedding-small"
    assert turn.role == "action" and turn.kind == "understand" and turn.title == "understand → POST /v1/embeddings"


def test_a_chosen_model_the_server_lacks_is_set_aside_with_a_notice(tmp_path: Path) -> None:
    with LoopbackServer(models=["chat-model", "text-embedding-small"]) as server:
        talk, events = conversation(server, models=ModelChoice(chosen="gone-model"))

        async def script() -> None:
            await talk.know_models()
            await say(talk, "Hi")

        run(script)
        asked = server.requests[-1].json["model"]
    assert asked == "chat-model"
    assert any("no model 'gone-model'" in getattr(e, "message", "") for e in events)


def test_resume_and_export_show_every_block_and_divider_as_shown_live(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> tuple[str, Conversation | None, str]:
        await say(talk, "Hello")
        await blocks.understand(talk, "a quiet lake | a still pond")
        await blocks.catalog(talk)
        talk.switch_model("another-model")
        await blocks.carry_on(talk, "Once upon a time")
        live = await talk.export()
        assert store.flush()
        resumed = await Conversation.resume(store, store.conversations()[0].id, lambda _: FALLBACK)
        assert resumed is not None
        return live, resumed, await resumed.export()

    live, resumed, again = run(script)
    assert resumed is not None
    shown = [(t.role, t.kind, t.content, t.title) for t in talk.turns]
    assert [(t.role, t.kind, t.content, t.title) for t in resumed.turns] == shown
    assert [t.kind for t in resumed.turns if t.role == "action"] == ["understand", "catalog", "continue"]
    assert again == live and "understand → POST /v1/embeddings" in live and "*model: another-model*" in live


def test_export_with_calls_has_each_call_after_its_turn(server: LoopbackServer, tmp_path: Path) -> None:
    talk, _ = conversation(server, Store(tmp_path / "guide.sqlite3"))
    run(lambda: say(talk, "Hello"))
    markdown = run(lambda: talk.export(with_calls=True))
    assert "> `think → POST /v1/chat/completions · 200" in markdown and "curl " in markdown


def test_the_conversation_core_never_imports_textual() -> None:
    code = "import sys, json; import guide.conversation, guide.conversation.blocks, guide.models, guide.store; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout)
    assert not any(name == "textual" or name.startswith("textual.") for name in loaded)


def test_a_resumed_conversation_opens_with_the_greeting_it_opened_with(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> tuple[Conversation | None, str]:
        await say(talk, "first message")
        talk.switch_persona(OTHER)
        await say(talk, "second message")
        assert store.flush()
        resumed = await Conversation.resume(store, store.conversations()[0].id, lambda _: OTHER)
        assert resumed is not None
        return resumed, await resumed.export()

    resumed, exported = run(script)
    assert resumed is not None and resumed.opening == (FALLBACK.name, FALLBACK.greeting_for(None)) == talk.opening
    assert exported.split("\n")[2:5] == [f"**{FALLBACK.name}**:", "", FALLBACK.greeting_for(None)]


def test_a_model_lookup_that_fails_gives_the_words_back(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        store = Store(tmp_path / "guide.sqlite3")
        talk, events = conversation(server, store, models=ModelChoice())  # no model: the catalog is asked first
        server.push(*[Answer(500, {"error": {"message": "the catalog failed"}})] * 3)
        with pytest.raises(GuideError):
            run(lambda: say(talk, "Keep these words"))
    ended = [e for e in events if isinstance(e, ReplyEnded)][-1].exchange
    assert ended.words_back == "Keep these words" and talk.turns == []
    assert store.flush() and all(store.messages(c.id) == [] for c in store.conversations())


def test_a_reply_runs_and_is_stopped_with_no_widget_what_was_said_reported_and_stored_as_stopped(server: LoopbackServer, tmp_path: Path) -> None:
    server.push(Stream(sse(chat_chunk("Slowly "), chat_chunk("and "), chat_chunk("slowly")), pause=0.3))
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)

    async def script() -> None:
        task = asyncio.create_task(talk.send("Tell me"))  # nobody iterates anything: the conversation runs the call itself
        for _ in range(200):  # until the first words are reported (a deadline, never a hang)
            if any(isinstance(event, ReplyPieces) for event in events):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(script)
    reported = [part for event in events if isinstance(event, ReplyPieces) for part in event.parts]
    assert reported == [("answer", "Slowly ")]
    ended = [event.exchange for event in events if isinstance(event, ReplyEnded)]
    assert len(ended) == 1 and ended[0].state == "stopped" and ended[0].turn is talk.turns[-1]
    assert [(t.role, t.content, t.state) for t in talk.turns] == [("user", "Tell me", "done"), ("assistant", "Slowly ", "stopped")]
    assert store.flush()
    kept = store.messages(store.conversations()[0].id)
    assert [(m.role, m.content, m.state) for m in kept] == [("user", "Tell me", "done"), ("assistant", "Slowly ", "stopped")]
    trace = next(iter(talk.calls.values()))
    assert trace.state == "stopped"
