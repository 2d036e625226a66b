"""Branches, headless (issue 28): an edit starts a branch, ctrl+r makes another version of a reply, and the branch in
view is what is sent, stored, and opened again. A real Conversation with guide's real client against a loopback server,
and a real store in the test's own folder."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from loopback import Answer, LoopbackServer, Stream, chat_chunk, sse

from guide import AsyncGuide, GuideError
from guide.conversation import BranchShown, Conversation, Event, ReplyEnded, Turn, TurnAdded
from guide.conversation.core import NEWER_PAGE
from guide.models import ModelChoice
from guide.personas import FALLBACK
from guide.store import Store


def run(script: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(script())


def conversation(server: LoopbackServer, store: Store | None = None) -> tuple[Conversation, list[Event]]:
    events: list[Event] = []
    made = Conversation(
        FALLBACK, guide=AsyncGuide(base_url=server.url, max_retries=0), store=store, emit=events.append, models=ModelChoice(chosen="loopback-model")
    )
    return made, events


async def resumed(server: LoopbackServer, store: Store) -> Conversation:
    opened = await Conversation.resume(store, store.conversations()[0].id, lambda _: FALLBACK, models=ModelChoice(chosen="loopback-model"))
    assert opened is not None
    opened.server.client = AsyncGuide(base_url=server.url, max_retries=0)
    return opened


def said(talk: Conversation) -> list[str]:
    return [turn.content for turn in talk.turns]


def sent(server: LoopbackServer) -> list[str]:
    """The messages of the last request, after the system prompt."""
    return [message["content"] for message in server.requests[-1].json["messages"][1:]]


ONE = ["First", "You said: First", "Second", "You said: Second", "Third", "You said: Third"]
EDITED = ["First", "You said: First", "Second, edited", "You said: Second, edited"]


def test_the_request_after_an_edit_holds_the_edited_message_and_none_of_the_other_branch(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        assert said(talk) == ONE
        await talk.edit(talk.turns[2], "Second, edited")
        assert sent(server) == ["First", "You said: First", "Second, edited"]
        assert said(talk) == EDITED and talk.siblings(talk.turns[2]) == (1, 2) and talk.siblings(talk.turns[0]) == (0, 1)
        assert BranchShown(2) in events
        assert await talk.switch(talk.turns[2], -1) and said(talk) == ONE and talk.siblings(talk.turns[2]) == (0, 2)
        assert not await talk.switch(talk.turns[2], -1)  # the first version has none before it
        await talk.send("Fourth")
        assert sent(server) == [*ONE, "Fourth"]
        assert await talk.switch(talk.turns[2], 1) and said(talk) == EDITED
        await talk.send("Fifth")
        assert sent(server) == [*EDITED, "Fifth"]

    run(script)
    assert store.flush()
    assert [m.content for m in store.messages(store.conversations()[0].id)] == [*EDITED, "Fifth", "You said: Fifth"]


def test_a_resumed_conversation_opens_on_its_branch_in_view_and_switches_through_the_store(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        await talk.edit(talk.turns[2], "Second, edited")
        assert store.flush()
        again = await resumed(server, store)
        assert said(again) == EDITED and again.siblings(again.turns[2]) == (1, 2)
        assert await again.switch(again.turns[2], -1) and said(again) == ONE  # read from the store: it was made in another session
        await again.send("Fourth")
        assert sent(server) == [*ONE, "Fourth"]
        assert store.flush()
        last = await resumed(server, store)
        assert said(last) == [*ONE, "Fourth", "You said: Fourth"] and last.siblings(last.turns[2]) == (0, 2)

    run(script)


def test_regenerate_keeps_the_last_reply_as_another_version(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        await talk.send("Once")
        server.push(Stream(sse(chat_chunk("A new answer"), chat_chunk(finish="stop"))))
        assert await talk.regenerate() is not None
        assert sent(server) == ["Once"] and said(talk) == ["Once", "A new answer"] and talk.siblings(talk.turns[1]) == (1, 2)
        assert await talk.switch(talk.turns[1], -1) and said(talk) == ["Once", "You said: Once"]
        assert store.flush()
        again = await resumed(server, store)
        assert said(again) == ["Once", "You said: Once"] and again.siblings(again.turns[1]) == (0, 2)
        assert await again.switch(again.turns[1], 1) and said(again) == ["Once", "A new answer"]

    run(script)


def test_an_edit_that_gets_no_answer_gives_the_words_back_and_shows_the_branch_left(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        server.push(Answer(500, {"error": {"message": "boom"}}))
        with pytest.raises(GuideError):
            await talk.edit(talk.turns[2], "Second, edited")

    run(script)
    ended = [e for e in events if isinstance(e, ReplyEnded)][-1].exchange
    assert ended.words_back == "Second, edited" and said(talk) == ONE and talk.siblings(talk.turns[2]) == (0, 1)
    assert store.flush()
    conversation_id = store.conversations()[0].id
    assert [m.content for m in store.messages(conversation_id)] == ONE and store.forks(conversation_id) == {}


def test_a_reply_asked_again_that_gets_no_answer_keeps_the_question_and_the_last_reply(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)

    async def script() -> None:
        await talk.send("Once")
        server.push(Answer(500, {"error": {"message": "boom"}}))
        with pytest.raises(GuideError):
            await talk.regenerate()

    run(script)
    assert said(talk) == ["Once", "You said: Once"] and talk.siblings(talk.turns[1]) == (0, 1)
    assert events[-2:-1] == [TurnAdded(talk.turns[1])]  # the transcript shows it again; nothing goes back to the composer
    assert [e for e in events if isinstance(e, ReplyEnded)][-1].exchange.words_back is None
    assert store.flush() and [m.content for m in store.messages(store.conversations()[0].id)] == ["Once", "You said: Once"]


def test_going_back_down_a_branch_finds_it_the_way_it_was_left(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        await talk.edit(talk.turns[4], "Third, edited")
        assert await talk.switch(talk.turns[4], -1) and said(talk) == ONE  # the edit is the latest version, and not the one in view
        await talk.edit(talk.turns[2], "Second, edited")
        assert await talk.switch(talk.turns[2], -1) and said(talk) == ONE
        await talk.edit(talk.turns[2], "Second, edited again")
        assert store.flush()
        again = await resumed(server, store)
        assert again.siblings(again.turns[2]) == (2, 3)
        assert await again.switch(again.turns[2], -2) and said(again) == ONE  # through the store, as it was left

    run(script)


def test_guide_ask_continue_goes_on_with_the_branch_in_view(server: LoopbackServer) -> None:
    def ask(*words: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "guide", "ask", *words, "--base-url", server.url, "--model", "loopback-model"],
            input="", capture_output=True, text=True, env=os.environ, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    ask("My name is Fira.")
    ask("-c", "Where do I live?")
    store = Store()

    async def script() -> None:
        talk = await resumed(server, store)
        await talk.edit(talk.turns[0], "My name is Ada.")  # the newest branch, then left: the first is in view
        assert await talk.switch(talk.turns[0], -1)

    run(script)
    assert store.close() is None
    ask("-c", "What is my name?")
    assert sent(server) == ["My name is Fira.", "You said: My name is Fira.", "Where do I live?", "You said: Where do I live?", "What is my name?"]


def test_a_word_found_only_in_a_branch_not_in_view_opens_that_branch(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, events = conversation(server, store)

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        await talk.edit(talk.turns[2], "Second, by the lighthouse")
        assert await talk.switch(talk.turns[2], -1) and said(talk) == ONE
        assert store.flush()
        hit = next(found for found in store.search("lighthouse") if found.role == "user")
        assert await talk.show_branch_of(hit.message_id)
        assert said(talk) == ["First", "You said: First", "Second, by the lighthouse", "You said: Second, by the lighthouse"]
        assert events[-1] == BranchShown(0) and not await talk.show_branch_of(hit.message_id)  # in view now

    run(script)


def test_branches_made_before_the_store_opened_are_all_kept_when_it_does(server: LoopbackServer, tmp_path: Path) -> None:
    talk, _ = conversation(server)  # another guide held the file: the conversation began without it

    async def script() -> None:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        await talk.edit(talk.turns[2], "Second, edited")

    run(script)
    store = Store(tmp_path / "guide.sqlite3")
    talk.keep_in(store)
    assert store.flush()

    async def reopened() -> None:
        again = await resumed(server, store)
        assert said(again) == EDITED and again.siblings(again.turns[2]) == (1, 2)
        assert await again.switch(again.turns[2], -1) and said(again) == ONE

    run(reopened)


def test_the_history_of_a_long_branch_switched_to_is_read_from_that_branch(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)
    a = [f"a{i}" for i in range(250)]

    async def script() -> None:
        talk.add(Turn("user", "A0"))
        for i, words in enumerate(a):
            talk.add(Turn("assistant" if i % 2 == 0 else "user", words))
        await talk.edit(talk.turns[0], "B0")
        for i in range(250):
            talk.add(Turn("user" if i % 2 == 0 else "assistant", f"b{i}"))
        assert store.flush()
        again = await Conversation.resume(
            store, store.conversations()[0].id, lambda _: FALLBACK, budget=10**6, models=ModelChoice(chosen="loopback-model")
        )
        assert again is not None and len(again.turns) == 200 and again.turns[-1].content == "b249"
        again.server.client = AsyncGuide(base_url=server.url, max_retries=0)
        await again.load_all()
        assert await again.switch(again.turns[0], -1)  # A's branch is longer than a page: it opens at its branch point
        assert len(again.turns) == NEWER_PAGE and again.turns[0].content == "A0" and again.more_after
        server.models.append("loopback-model-2")
        again.switch_model("loopback-model-2")  # its divider waits for the end of the branch
        await again.send("next")  # the rest of the branch is read first: the message follows its end
        last, divider, said = again.turns[-4], again.turns[-3], again.turns[-2]
        assert (last.content, divider.role, said.content) == ("a249", "divider", "next")
        assert divider.parent == last.uid and said.parent == divider.uid

    run(script)
    assert sent(server) == ["A0", *a, "next"]


def test_export_of_every_branch_has_the_one_in_view_then_each_other_after_the_turn_it_follows(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)

    async def script() -> tuple[str, str]:
        for words in ("First", "Second", "Third"):
            await talk.send(words)
        await talk.edit(talk.turns[2], "Second, edited")
        server.push(Stream(sse(chat_chunk("Asked again"), chat_chunk(finish="stop"))))
        await talk.regenerate()
        return await talk.export(), await talk.export(every_branch=True)

    shown, every = run(script)
    assert "Second, edited" in shown and "Asked again" in shown and "Third" not in shown
    assert every.startswith(shown)
    others = every[len(shown) :]
    assert others.index("## Another branch, after: Second, edited") < others.index("You said: Second, edited")  # the reply asked again
    assert others.index("## Another branch, after: You said: First") < others.index("Third") < others.index("You said: Third")
    assert others.count("**You**") == 2 and "Asked again" not in others


def test_each_version_of_a_message_has_its_reply_and_the_request_that_was_sent_for_it(server: LoopbackServer, tmp_path: Path) -> None:
    store = Store(tmp_path / "guide.sqlite3")
    talk, _ = conversation(server, store)
    talk.guide.on_trace = talk.file_call  # type: ignore[union-attr]

    def asked(call: Any) -> list[str]:
        return [message["content"] for message in call.request_body["messages"][1:]]

    async def script() -> None:
        for words in ("First", "Second"):
            await talk.send(words)
        await talk.edit(talk.turns[2], "Second, edited")
        [(first, first_call), (second, second_call)] = await talk.answers(talk.turns[2])
        assert (first.content, second.content) == ("You said: Second", "You said: Second, edited")  # type: ignore[union-attr]
        assert asked(first_call)[-1] == "Second" and asked(second_call)[-1] == "Second, edited"
        assert store.flush()
        again = await resumed(server, store)  # read from the store: the other branch, and both calls
        assert [(reply.content, asked(call)) for reply, call in await again.answers(again.turns[2])] == [  # type: ignore[union-attr]
            ("You said: Second", ["First", "You said: First", "Second"]),
            ("You said: Second, edited", ["First", "You said: First", "Second, edited"]),
        ]

    run(script)
