"""What each engine does with each request field the spec defines: honours it, refuses it with a 400 naming it, or takes it with no effect.

A field is never accepted and ignored: one the engine cannot honour is refused (unless its value asks for nothing:
null, the default, an empty list); one with no behaviour on a local server (`user`, `metadata`...) is taken with no
effect. docs/servers.md's table is made from this one (`table()`; a test keeps them equal, and every spec field here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from guide.client import Gentle

from .limits import Refusal

Treatment = Literal["honoured", "refused", "no effect", "not offered"]
HONOURED: Treatment = "honoured"
REFUSED: Treatment = "refused"
INERT: Treatment = "no effect"
ABSENT: Treatment = "not offered"
"""The whole route is a 404 for this engine (the listener cannot rewrite text as asked)."""


def unset(value: Any, body: dict[str, Any]) -> bool:
    """Null, false, zero or empty: asks for nothing."""
    return value is None or value is False or value == 0 or value == [] or value == {}


def one_of(*values: Any) -> Callable[[Any, dict[str, Any]], bool]:
    """Harmless when null or one of these (the spec's default, say)."""
    return lambda value, body: value is None or value in values


def plain_format(value: Any, body: dict[str, Any]) -> bool:
    """A response_format (or text.format) of plain text."""
    return value is None or (isinstance(value, dict) and value.get("type") in (None, "text"))


def plain_text(value: Any, body: dict[str, Any]) -> bool:
    """respond's `text`: plain text out, at the default verbosity."""
    return value is None or (isinstance(value, dict) and plain_format(value.get("format"), body) and value.get("verbosity") in (None, "medium"))


def default_verbosity(value: Any, body: dict[str, Any]) -> bool:
    """respond's `text` at the default verbosity, whatever its format."""
    return value is None or (isinstance(value, dict) and value.get("verbosity") in (None, "medium"))


def no_tools_wanted(value: Any, body: dict[str, Any]) -> bool:
    """No tools, or tools offered with tool_choice "none" (use no tool)."""
    return unset(value, body) or body.get("tool_choice") == "none"


@dataclass(frozen=True)
class Field:
    """One request field: what the reflective listener and a loaded model (SmolLM2) do with it."""

    listener: Treatment
    model: Treatment
    why: str = ""
    """What the engine cannot do, said in the refusal; for a field honoured, how (the docs' table shows both)."""
    harmless: Callable[[Any, dict[str, Any]], bool] = unset
    """Values taken even where the field is refused: they ask for nothing the engine lacks."""
    model_harmless: Callable[[Any, dict[str, Any]], bool] | None = None
    """Where the model honours part of a field the listener refuses (`text`: its format, not its verbosity), what the model takes of it."""
    code: str = "unsupported_parameter"
    """The error's code: guide's own client reads `tools_not_supported` as ToolsNotTaken."""


SAMPLED = Field(INERT, HONOURED, "the listener does not sample: its replies come from rules")
SAME = Field(HONOURED, HONOURED)
LOCAL = Field(INERT, INERT, "nothing to do on a local server")
LOGPROBS = "this companion reports no token probabilities (llama.cpp would keep every position's logits: 400 MB for SmolLM2)"
JSON_OUT = "the listener cannot shape its reply as JSON (load a model: guide serve --gguf FILE)"
NO_TOOLS = "the reflective listener does not call tools: it has no model to decide with (load one: guide serve --gguf FILE, or ask without tools)"
REASONING = "this engine does not reason in steps: it has no reasoning effort to set"
NO_AUDIO_OUT = "this companion answers in text only (speech is POST /v1/audio/speech)"
SEARCH = "this companion has no web search"

LIMIT = Field(HONOURED, HONOURED, "an upper bound; finish_reason `length` when reached (the listener's tokens are its words)")

CHAT: dict[str, Field] = {
    "model": SAME,
    "messages": SAME,
    "max_tokens": LIMIT,
    "max_completion_tokens": LIMIT,
    "stop": Field(HONOURED, HONOURED, "up to 4; setting it turns off the companion's own natural ends for SmolLM2"),
    "n": Field(HONOURED, HONOURED, "the choices are made one after another"),
    "seed": Field(HONOURED, HONOURED, "the listener picks its wording by it"),
    "stream": SAME,
    "stream_options": SAME,
    "temperature": SAMPLED,
    "top_p": SAMPLED,
    "frequency_penalty": SAMPLED,
    "presence_penalty": SAMPLED,
    "logit_bias": Field(REFUSED, REFUSED, "this companion does not bias tokens"),
    "logprobs": Field(REFUSED, REFUSED, LOGPROBS),
    "top_logprobs": Field(REFUSED, REFUSED, LOGPROBS),
    "response_format": Field(REFUSED, HONOURED, JSON_OUT, plain_format),
    "tools": Field(REFUSED, HONOURED, NO_TOOLS, no_tools_wanted, code="tools_not_supported"),
    "tool_choice": Field(HONOURED, HONOURED, '"none" with tools: no tool is used (the listener answers)'),
    "parallel_tool_calls": Field(INERT, INERT, "a permission: the companion never calls tools in parallel"),
    "functions": Field(REFUSED, REFUSED, "deprecated: send `tools` instead"),
    "function_call": Field(REFUSED, REFUSED, "deprecated: send `tool_choice` instead", one_of("none")),
    "modalities": Field(REFUSED, REFUSED, NO_AUDIO_OUT, lambda value, body: value is None or value == ["text"]),
    "audio": Field(REFUSED, REFUSED, NO_AUDIO_OUT),
    "reasoning_effort": Field(REFUSED, REFUSED, REASONING),
    "verbosity": Field(REFUSED, REFUSED, "this engine has no verbosity to set", one_of("medium")),
    "web_search_options": Field(REFUSED, REFUSED, SEARCH),
    "store": Field(REFUSED, REFUSED, "this companion keeps no chat completions (the Responses API's are kept)"),
    "prediction": Field(INERT, INERT, "a predicted output only saves time; the reply is the same"),
    "moderation": Field(REFUSED, REFUSED, "this companion has no moderation"),
    "metadata": LOCAL,
    "user": LOCAL,
    "safety_identifier": LOCAL,
    "service_tier": LOCAL,
    "prompt_cache_key": LOCAL,
    "prompt_cache_retention": LOCAL,
    "prompt_cache_options": LOCAL,
}
COMPLETION: dict[str, Field] = {
    **{name: CHAT[name] for name in ("model", "max_tokens", "n", "seed", "stream", "stream_options", "user")},
    "stop": Field(HONOURED, HONOURED, "up to 4"),
    **{name: CHAT[name] for name in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "logit_bias")},
    "prompt": Field(HONOURED, HONOURED, "text or a list of texts (joined); a prompt of token ids is refused with a 400 naming it"),
    "echo": Field(HONOURED, HONOURED, "the prompt comes first in the text (not counted as made tokens)"),
    "logprobs": Field(REFUSED, REFUSED, LOGPROBS),
    "best_of": Field(REFUSED, REFUSED, "this companion makes each completion once (best_of should be 1)", one_of(1)),
    "suffix": Field(REFUSED, REFUSED, "this engine does not insert text: it continues at the end only", one_of("")),
}
EMBEDDINGS: dict[str, Field] = {
    "model": SAME,
    "input": SAME,
    "encoding_format": SAME,
    "dimensions": Field(HONOURED, HONOURED, "the vector's first dimensions, made unit length again; more than the model has is refused"),
    "user": LOCAL,
}
RESPONSES: dict[str, Field] = {
    **{name: CHAT[name] for name in ("model", "stream", "temperature", "top_p", "metadata", "user", "safety_identifier", "service_tier")},
    **{name: CHAT[name] for name in ("prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "parallel_tool_calls", "moderation")},
    "input": SAME,
    "instructions": SAME,
    "max_output_tokens": Field(HONOURED, HONOURED, "an upper bound; status `incomplete`, reason `max_output_tokens`, when reached"),
    "store": Field(HONOURED, HONOURED, "the last 256 responses (at most 8 MB) kept in memory until the companion stops"),
    "previous_response_id": Field(HONOURED, HONOURED, "continues a kept response's conversation; an id not kept is a 404"),
    "stream_options": SAME,
    "text": Field(REFUSED, HONOURED, JSON_OUT + "; and no engine here sets a verbosity", plain_text, default_verbosity),
    "tools": Field(
        REFUSED, REFUSED, "this companion calls tools through POST /v1/chat/completions only", no_tools_wanted, code="tools_not_supported"
    ),
    "tool_choice": SAME,
    "max_tool_calls": Field(INERT, INERT, "a bound: no tool is called here"),
    "top_logprobs": Field(REFUSED, REFUSED, LOGPROBS),
    "include": Field(REFUSED, REFUSED, "this companion has nothing more to include"),
    "reasoning": Field(REFUSED, REFUSED, REASONING, lambda value, body: value is None or not any(v is not None for v in value.values())),
    "background": Field(REFUSED, REFUSED, "this companion answers while you wait only"),
    "conversation": Field(REFUSED, REFUSED, "this companion has no conversations API: continue with previous_response_id"),
    "context_management": Field(REFUSED, REFUSED, "this companion does not compact a context"),
    "prompt": Field(REFUSED, REFUSED, "this companion has no stored prompt templates"),
    "truncation": Field(REFUSED, REFUSED, "a reply too long for the model's context is refused, never cut", one_of("disabled")),
}
SPEECH: dict[str, Field] = {
    "model": SAME,
    "input": SAME,
    "voice": Field(INERT, INERT, "espeak-ng speaks every voice in its one English voice"),
    "response_format": SAME,
    "speed": Field(REFUSED, REFUSED, "espeak-ng speaks at its own speed here", one_of(1, 1.0)),
    "instructions": Field(REFUSED, REFUSED, "espeak-ng cannot be told how to speak"),
    "stream_format": Field(REFUSED, REFUSED, "this companion sends the whole audio at once", one_of("audio")),
}


def form_unset(value: Any, body: dict[str, Any]) -> bool:
    """A form value that asks for nothing (a form's values are text)."""
    return value in (None, "", "false", "[]", "0")


TRANSCRIPTION: dict[str, Field] = {
    "file": SAME,
    "model": SAME,
    "response_format": SAME,
    "language": Field(REFUSED, REFUSED, "pocketsphinx here knows English only", lambda value, body: value in (None, "", "en")),
    "temperature": Field(INERT, INERT, "pocketsphinx decodes without sampling"),
    "prompt": Field(REFUSED, REFUSED, "pocketsphinx cannot be steered by a prompt", form_unset),
    "stream": Field(REFUSED, REFUSED, "this companion sends the whole transcript at once", form_unset),
    **{
        name: Field(REFUSED, REFUSED, "pocketsphinx gives the words alone", form_unset)
        for name in ("timestamp_granularities", "include", "chunking_strategy", "keywords", "known_speaker_names", "known_speaker_references")
    },
    "languages": Field(REFUSED, REFUSED, "pocketsphinx here knows English only", form_unset),
}
EDITS: dict[str, Field] = {
    **{
        name: Field(ABSENT, HONOURED, "the listener does not offer /v1/edits (404)")
        for name in ("model", "input", "instruction", "temperature", "top_p")
    },
    "n": Field(ABSENT, REFUSED, "this companion makes one edit at a time (n should be 1)", one_of(1)),
}
"""revise's fields, as the historical CreateEditRequest gave them (tests/test_revise_shape.py)."""
FIELDS: dict[Gentle, dict[str, Field]] = {
    Gentle.think: CHAT,
    Gentle.continue_: COMPLETION,
    Gentle.understand: EMBEDDINGS,
    Gentle.respond: RESPONSES,
    Gentle.speak: SPEECH,
    Gentle.listen: TRANSCRIPTION,
    Gentle.revise: EDITS,
}
"""Per action, each request field the spec defines (listen's arrive as form values: text, and `name[]` for a list)."""


def refuse_unhonoured(action: Gentle, body: dict[str, Any], *, model: bool) -> None:
    """A 400 naming the first field this engine would have to ignore; `model`: a language model answers, not the listener."""
    for given, value in body.items():
        name = given.removesuffix("[]")
        rule = FIELDS.get(action, {}).get(name)
        if rule is None:
            continue
        if model and rule.model_harmless is not None:
            if rule.model_harmless(value, body):
                continue
        elif (rule.model if model else rule.listener) != REFUSED or rule.harmless(value, body):
            continue
        engine = "The companion's model" if model else "The companion's reflective listener"
        raise Refusal(400, f"{engine} cannot honour '{name}': {rule.why}.", param=name, code=rule.code)


def table() -> str:
    """The docs' table: each field of each route, and what the listener and SmolLM2 do with it."""
    from guide.client import ACTIONS

    lines = ["| route | field | reflective listener | SmolLM2 (`--gguf`) | notes |", "|---|---|---|---|---|"]
    for action, fields in FIELDS.items():
        for name, rule in sorted(fields.items()):
            lines.append(f"| {ACTIONS[action].endpoint} | `{name}` | {rule.listener} | {rule.model} | {rule.why} |")
    return "\n".join(lines) + "\n"
