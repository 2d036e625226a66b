"""A reply that ends with no words is said as such: a blank message is never a mystery."""

from __future__ import annotations

import asyncio
from typing import Any

from loopback import LoopbackServer, Stream, chat_chunk, sse

from guide import AsyncGuide
from guide.conversation import Conversation, Notice
from guide.models import ModelChoice
from guide.personas import FALLBACK


def test_an_answer_with_no_words_is_told_and_kept_as_it_came(server: LoopbackServer) -> None:
    server.push(Stream(sse(chat_chunk(""), chat_chunk(finish="stop"))))
    heard: list[Any] = []

    async def go() -> str:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as guide:
            conversation = Conversation(FALLBACK, guide=guide, models=ModelChoice(chosen="loopback-model"), emit=heard.append)
            return (await conversation.send("What is 12 times 7?")).text

    assert asyncio.run(go()) == ""
    told = [event.message for event in heard if isinstance(event, Notice) and event.title == "Reply"]
    assert len(told) == 1 and "ended its answer with no words" in told[0] and "ctrl+r" in told[0]


def test_an_answer_with_words_says_nothing_more(server: LoopbackServer) -> None:
    heard: list[Any] = []

    async def go() -> None:
        async with AsyncGuide(base_url=server.url, model="loopback-model") as guide:
            conversation = Conversation(FALLBACK, guide=guide, models=ModelChoice(chosen="loopback-model"), emit=heard.append)
            await conversation.send("hello")

    asyncio.run(go())
    assert not [event for event in heard if isinstance(event, Notice) and event.title == "Reply"]
