"""A stand-in for llama-cpp-python, for tests of what guide does when the native engine crashes.

Put this folder first on PYTHONPATH of a `guide serve` (with GUIDE_GGUF naming
any file) and the companion believes a model is installed. FAKE_LLAMA says
how it behaves:

- `abort`: loading the model kills the process with SIGABRT, as a llama.cpp
  built for another CPU does on its first token (its start-up check fails);
- `slow-to-load`: loading takes 4 s (the start-up check too), then as `slow`;
- `slow` (the default): a reply of 200 words, one every 50 ms, so a test can
  kill the companion while the reply streams.

No real model is loaded and no native code runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

LLAMA_POOLING_TYPE_MEAN = 1
WORDS = 200
PAUSE = 0.05


class Llama:
    def __init__(self, model_path: str, **options: Any) -> None:
        if os.environ.get("FAKE_LLAMA") == "abort":
            os.abort()
        if os.environ.get("FAKE_LLAMA") == "slow-to-load":
            time.sleep(4)
        self.model_path = model_path
        self.n_tokens = 0

    def create_chat_completion(
        self, messages: list[dict[str, Any]], stream: bool = False, max_tokens: int | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        for n in range(min(max_tokens or WORDS, WORDS)):
            self.n_tokens = n + 1
            yield {"choices": [{"delta": {"content": f"word{n} "}, "finish_reason": None}]}
            time.sleep(PAUSE)
        yield {"choices": [{"delta": {}, "finish_reason": "length"}]}

    def create_completion(self, prompt: str, stream: bool = False, max_tokens: int | None = None, **options: Any) -> Iterator[dict[str, Any]]:
        for n in range(min(max_tokens or WORDS, WORDS)):
            self.n_tokens = n + 1
            yield {"choices": [{"text": f"word{n} ", "finish_reason": None}]}
            time.sleep(PAUSE)

    def embed(self, text: str) -> list[float]:
        return [1.0, 0.0]

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split())))
