"""`guide serve` and the companion: loopback by default, a warning when exposed, bounded replies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx

from guide.cli import build_parser
from guide.companion.engines import Engines, Generation, HashedWords
from guide.companion.running import start


class Unhurried:
    """A think engine that makes its reply slowly, until told to finish (so replies overlap)."""

    model_id = "unhurried"
    owned_by = "tests"

    def __init__(self) -> None:
        self.finish = threading.Event()

    def chat(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Generation:
        return Generation(self._pieces(), {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})

    def complete(self, prompt: str, options: dict[str, Any]) -> Generation:
        return self.chat([], options)

    def _pieces(self) -> Iterator[str]:
        yield "slowly"
        self.finish.wait(20)
        yield " done"


def chat(model: str = "unhurried", stream: bool = True) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def test_replies_beyond_the_limit_are_refused_calmly_and_slots_come_back() -> None:
    from guide.client import ACTIONS

    engine = Unhurried()
    running = start(engines=Engines(think=engine, understand=HashedWords()), max_replies=2)
    url = running.url + ACTIONS["think"].legacy_path
    try:
        with httpx.Client(timeout=20) as client:
            first = client.send(client.build_request("POST", url, json=chat()), stream=True)
            second = client.send(client.build_request("POST", url, json=chat()), stream=True)
            assert first.status_code == second.status_code == 200
            third = client.post(url, json=chat(stream=False))
            assert third.status_code == 429 and third.headers["retry-after"] == "1"
            error = third.json()["error"]
            assert error["code"] == "too_many_replies" and "2 replies at once" in error["message"]
            first.close()  # a reader that goes away gives its slot back
            engine.finish.set()
            second.read()
            assert second.text.rstrip().endswith("data: [DONE]")
            second.close()
            for _ in range(3):  # and every slot is free again
                again = client.post(url, json=chat(stream=False))
                assert again.status_code == 200 and again.json()["choices"][0]["message"]["content"] == "slowly done"
    finally:
        engine.finish.set()
        running.stop()


def test_serve_listens_on_loopback_unless_told() -> None:
    # Beyond loopback it needs a key and refuses to start without one: tests/test_serve_exposed.py.
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"


def test_a_wrong_key_of_the_right_length_is_refused() -> None:
    from guide.client import ACTIONS

    running = start("none", api_key="sk-companion-secret-1234")
    try:
        url = running.url + ACTIONS["catalog"].legacy_path
        assert httpx.get(url, headers={"Authorization": "Bearer sk-companion-secret-1234"}).status_code == 200
        refused = httpx.get(url, headers={"Authorization": "Bearer sk-companion-secret-1235"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    finally:
        running.stop()
