"""The tour: every gentle action, one real call at a time, against the server in use. Headless.

The app shows each step as the call whole (`/tour`, F1, the palette); `guide tour` prints it as curl and its answer.
Both take the steps the same way: `await Tour().take(guide, model_for, support, probe_calls)`.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guide.client import ACTIONS, Gentle

if TYPE_CHECKING:
    from guide.client import AsyncGuide, GuideError, Sound, Trace

ModelFor = Callable[[str], Awaitable["str | None"]]
Make = Callable[["AsyncGuide", "str | None", dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Step:
    """One stop of the tour: what the docent says, the call it makes, and the fields worth a look."""

    action: Gentle
    says: str
    """Two sentences: what the action means and which legacy endpoint carries it."""
    make: Make
    """The call: short and cheap. What it answers (the first, for a plain list of pictures) carries its trace."""
    request_fields: tuple[str, ...] = ()
    response_fields: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """`understand → POST /v1/embeddings`."""
        return f"{self.action} → {ACTIONS[self.action].endpoint}"


async def _speak(ai: AsyncGuide, model: str | None, kept: dict[str, Any]) -> Sound:
    sound = await ai.speak("Hello, Fira. The lake is calm today.", model=model, format="wav")
    kept["audio"] = sound.data  # the tour hands this sound to listen and interpret
    return sound


def quiet_wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A short silent WAV: what listen hears when speak had nothing to give it."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def heard(kept: dict[str, Any]) -> io.BytesIO:
    """The sound speak made (or a moment of silence), as a file named as speak's curl saves it."""
    sound = io.BytesIO(kept.get("audio") or quiet_wav())
    sound.name = "speech.wav"
    return sound


STEPS: tuple[Step, ...] = (
    Step(
        Gentle.catalog,
        "catalog asks who is here to help: GET /v1/models lists the models this server offers. "
        "It is the one call with no body, and each model's id is the name the other calls take.",
        lambda ai, model, kept: ai.catalog(),
        response_fields=("data", "data[0].id", "data[0].owned_by"),
    ),
    Step(
        Gentle.think,
        "think is one turn of a conversation: POST /v1/chat/completions takes the messages so far and answers with one more. "
        "Every chat you have here is this call, streamed; this one asks for the whole answer at once.",
        lambda ai, model, kept: ai.think("In five words: what is a calm morning?", model=model, max_tokens=24),
        request_fields=("model", "messages", "max_tokens"),
        response_fields=("choices[0].message.content", "choices[0].finish_reason", "usage"),
    ),
    Step(
        Gentle.respond,
        "respond is the same turn on OpenAI's newer surface: POST /v1/responses takes an input and instructions, and the server may keep "
        "the conversation and its tools. Its answer is a list of output items, streamed as typed events such as response.output_text.delta "
        "rather than chunks.",
        lambda ai, model, kept: ai.respond(
            "In five words: what is a calm morning?", instructions="Be calm.", model=model, stream=True, max_output_tokens=24
        ),
        request_fields=("input", "instructions", "stream"),
        response_fields=("type", "sequence_number"),
    ),
    Step(
        Gentle.continue_,
        "continue is the older way to generate: POST /v1/completions takes a bare prompt, with no roles, and carries it forward. "
        "This one streams, so the answer arrives as Server-Sent Events, one data: line per piece.",
        lambda ai, model, kept: ai.continue_("The lake at dawn was", model=model, stream=True, max_tokens=16),
        request_fields=("prompt", "stream", "max_tokens"),
        response_fields=("choices[0].text", "choices[0].finish_reason"),
    ),
    Step(
        Gentle.revise,
        "revise hands over words with a wish: POST /v1/edits takes an input and an instruction and gives the input back changed. "
        "OpenAI has retired it (chat took its place); LocalAI and a few other servers still serve it, and the probe tells whether this one does.",
        lambda ai, model, kept: ai.revise("The lake were calm at dawn.", "Fix the grammar.", model=model, temperature=0),
        request_fields=("input", "instruction"),
        response_fields=("choices[0].text", "usage"),
    ),
    Step(
        Gentle.understand,
        "understand turns text into meaning you can measure: POST /v1/embeddings answers each input with a vector of numbers. "
        "Texts that mean nearly the same get vectors that point nearly the same way.",
        lambda ai, model, kept: ai.understand(["a calm lake", "still water"], model=model),
        request_fields=("model", "input", "encoding_format"),
        response_fields=("data[0].embedding", "usage"),
    ),
    Step(
        Gentle.discern,
        "discern asks whether words are safe to say: POST /v1/moderations answers whether the input is flagged, with a score per category. "
        "Many local servers do not offer it; the probe tells.",
        lambda ai, model, kept: ai.discern("I like quiet mornings by the lake.", model=model),
        request_fields=("input",),
        response_fields=("results[0].flagged", "results[0].categories"),
    ),
    Step(
        Gentle.imagine,
        "imagine turns words into a picture: POST /v1/images/generations answers with the image as base64 or as a URL. "
        "Drawing is slow, so the tour asks for the smallest size.",
        lambda ai, model, kept: ai.imagine("a calm lake at dawn", model=model, size="256x256"),
        request_fields=("prompt", "size", "response_format"),
        response_fields=("data[0].b64_json", "data[0].url"),
    ),
    Step(
        Gentle.speak,
        "speak turns words into sound: POST /v1/audio/speech answers with audio bytes, not JSON. "
        "The tour keeps this sound and hands it to the next step.",
        _speak,
        request_fields=("model", "input", "voice", "response_format"),
    ),
    Step(
        Gentle.listen,
        "listen turns sound back into words: POST /v1/audio/transcriptions takes the audio as a file upload (multipart/form-data), not JSON. "
        "The tour sends the sound speak made (a second of silence if it made none).",
        lambda ai, model, kept: ai.listen(heard(kept), model=model),
        request_fields=("file", "model", "response_format"),
        response_fields=("text",),
    ),
    Step(
        Gentle.interpret,
        "interpret hears speech in any language and writes it down in English: POST /v1/audio/translations takes the same upload as listen. "
        "It is the only action whose answer is always English.",
        lambda ai, model, kept: ai.interpret(heard(kept), model=model),
        request_fields=("file", "model"),
        response_fields=("text",),
    ),
)
"""Every row of the map, in the order a learner meets them."""


SILENCE_SENT = "speak made no sound here, so this call sent a second of silence: an empty answer is the right one."


@dataclass
class Taken:
    """What one step did: its call (or the probe's, for an action not offered) and how it went."""

    step: Step
    number: int
    """1-based."""
    trace: Trace | None
    offered: bool | None
    """False where the server does not offer the action (the probe said so, or the call was refused as not offered)."""
    error: GuideError | None = None
    words: str = ""
    """What happened, in a line or two, for the learner."""

    @property
    def heading(self) -> str:
        """`Tour 3 of 9 · continue → POST /v1/completions`."""
        return f"Tour {self.number} of {len(STEPS)} · {self.step.title}"


def not_offered_words(action: Gentle, found: Mapping[str, Any], *, probed: bool = True) -> str:
    """How an action the server lacks looks: what the probe (or the call itself) found, and where to see it on the wire."""
    status = found.get("status")
    answer = f"it answered HTTP {status}" if status is not None else "nothing answered"
    sent = "the probe sent a request no server can act on to" if probed else "the call went to"
    whose = "the probe's" if probed else "that call"
    return (
        f"This server does not offer {action}: {sent} {ACTIONS[action].legacy_path} and {answer} "
        f"({found.get('reason') or 'no such route'}). That is what a missing route looks like on the wire: the call shown is {whose}. "
        "The tour moves on."
    )


@dataclass
class Tour:
    """Where the learner is in the tour; Esc leaves it there, and /tour takes it up again."""

    position: int = 0
    """The next step to take (0-based)."""
    kept: dict[str, Any] = field(default_factory=dict)
    """What one step leaves the next (the sound speak made, for listen)."""

    @property
    def started(self) -> bool:
        """Begun and not finished."""
        return 0 < self.position < len(STEPS)

    def restart(self) -> None:
        self.position, self.kept = 0, {}

    async def take(self, ai: AsyncGuide, model_for: ModelFor, support: Mapping[str, Any], probe_calls: Mapping[str, Trace]) -> Taken:
        """Take the step at `position`: the real call, or the probe's call for an action this server does not offer."""
        from guide.client import GuideError, NotOffered

        step, number = STEPS[self.position], self.position + 1
        found = support.get(step.action) or {}
        if found.get("support") == "no":
            return Taken(step, number, probe_calls.get(step.action), False, words=not_offered_words(step.action, found))
        try:
            row = ACTIONS[step.action]
            model = await model_for(step.action) if row.purpose and not row.server_picks else None
            made = await step.make(ai, model, self.kept)
            trace = made.trace if hasattr(made, "trace") else made[0].trace  # a catalog is a list with a trace; pictures, a plain list
        except NotOffered as error:
            words = not_offered_words(step.action, {"status": error.status, "reason": error.detail or error.title}, probed=False)
            return Taken(step, number, error.trace, False, error, words)
        except GuideError as error:
            return Taken(step, number, error.trace, None, error, error.explain())
        if row.body == "multipart" and not self.kept.get("audio"):  # listen and interpret send the sound speak made
            return Taken(step, number, trace, True, words=SILENCE_SENT)
        return Taken(step, number, trace, True)
