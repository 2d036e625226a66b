"""What the companion says of an action it does not offer: what is missing, and whether anything can bring it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from guide import Guide
from guide.client import NotOffered


@pytest.fixture
def without_espeak(tmp_path: Path) -> Iterator[str]:
    """A companion (the reflective listener) started where espeak-ng is not on PATH; its address."""
    from guide.companion.running import start

    empty = tmp_path / "bin"
    empty.mkdir()
    before = os.environ["PATH"]
    os.environ["PATH"] = str(empty)
    try:
        running = start("none")
    finally:
        os.environ["PATH"] = before
    try:
        yield running.url
    finally:
        running.stop()


def refusal(url: str, action: str) -> str:
    with Guide(base_url=url, max_retries=0) as ai, pytest.raises(NotOffered) as caught:
        if action == "speak":
            ai.speak("Welcome back.")
        elif action == "imagine":
            ai.imagine("a quiet lake")
        elif action == "discern":
            ai.discern("kind words")
        else:
            ai.interpret(b"RIFF")
    return caught.value.detail or ""


def test_speak_names_espeak_ng_and_how_to_install_it(without_espeak: str) -> None:
    words = refusal(without_espeak, "speak")
    assert "espeak-ng" in words and "apt install espeak-ng" in words


@pytest.mark.parametrize("action", ["imagine", "discern", "interpret"])
def test_what_nothing_can_bring_says_so(action: str, without_espeak: str) -> None:
    words = refusal(without_espeak, action)
    assert "nothing to install brings one" in words and "installed here" not in words
