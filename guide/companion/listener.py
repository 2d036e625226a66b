"""The reflective listener: a small rule-based companion in the ELIZA tradition, no language model (and it says so).

Its tokens are words. It reads only the last few hundred characters said, and every rule is linear: no pattern needs
something after a `.*` that may be absent (a question is a text ending in "?", checked before any question rule).
`"why " * 24000` once took the server 5 to 9 s."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

MODEL_ID = "reflective-listener"
INTRODUCTION = (
    "(I'm guide's reflective listener: a few dozen rules, not a language model. "
    "For real answers, run `pip install 'guide-chat[local]'` for a small local model, "
    "or talk to another server.)\n\n"
)
"""Said once, first. A server answers any program (the app, `guide ask`, someone's script): it names no key of the app's."""
CANNOT_SEE = (
    "I can't see pictures: I'm a few rules, not a model that sees. Tell me in words what it shows, and I'll listen.",
    "Pictures are beyond me; I only hear words. What does it show you?",
)

REFLECTIONS = dict(
    pair.split(">", 1)
    for pair in (
        "i>you me>you my>your mine>yours myself>yourself am>are i'm>you're i've>you've i'll>you'll i'd>you'd your>my yours>mine "
        "you're>I'm you've>I've you'll>I'll you'd>I'd yourself>myself"
    ).split()
)

SUBJECT_NEXT = frozenset(
    "are were do did have had can could will would should may might must know think feel want need say said seem never always "
    "don't didn't can't won't".split()
)
"""Words after which "you" was the one doing something (it becomes "I"); elsewhere "you" is the one done to ("me")."""

PICTURE_WORDS = re.compile(r"\b(?:picture|image|photo|photograph|screenshot)s?\b", re.IGNORECASE)
"""Words asking about a picture: the listener cannot see one, and says so rather than reflect as if it had."""

HEARD = 400
"""Characters of the last message the listener reads: it reflects the last thing said."""

RULES: list[tuple[str, list[str]]] = [
    (r"\bi need (.+)", ["What would it mean to you to have {0}?", "Take your time. Why do you feel you need {0}?"]),
    (
        r"\bi (?:feel|am feeling) (.+)",
        ["It's all right to feel {0}. When did you first notice it?", "Feeling {0} can be heavy. What is it like, right now?"],
    ),
    (r"\bi am (.+)", ["How long have you been {0}?", "What does being {0} ask of you?"]),
    (r"\bi'm (.+)", ["You're {0}. Let's sit with that for a moment. What brought it on?", "How does being {0} feel in your body, right now?"]),
    (r"\bi can'?t (.+)", ["What makes it feel like you can't {0}?", "If you could {0}, what would be different?"]),
    (
        r"\bi don'?t know\b(.*)",
        ["Not knowing is a fine place to begin. What do you know, even a little?", "That's all right. What would you guess, if you had to?"],
    ),
    (r"\bi want (.+)", ["What draws you to {0}?", "If you had {0}, what would you do with it?"]),
    (r"\bi think (.+)", ["What makes you think {0}?", "And if {0}, what follows for you?"]),
    (r"\bbecause (.+)", ["Is that the whole reason, or is there more beneath it?", "And {0}... how does that sit with you?"]),
    (r"\b(?:sorry|apologi[sz]e)\b", ["There's nothing to apologise for here.", "No need to be sorry. Go on, gently."]),
    (
        r"\b(?:hello|hi|hey|good (?:morning|evening|afternoon))\b",
        ["Hello. I'm here. What's on your mind?", "Hi. Take a breath; what would you like to talk about?"],
    ),
    (r"\bthank(?:s| you)\b", ["You're welcome. I'm glad to sit with you.", "Thank you for sharing it with me."]),
    (
        r"\b(?:tired|exhausted|worn out)\b",
        ["Rest is part of the way, not a step off it. What would help you rest?", "When did you last feel truly rested?"],
    ),
    (
        r"\b(?:anxious|worried|afraid|scared|nervous)\b",
        ["Worry often points at something we care about. What matters here?", "Let's slow down. What is the worry, in one sentence?"],
    ),
    (
        r"\b(?:sad|down|lonely|lost)\b",
        ["I'm sorry it feels that way. You don't have to carry it alone here.", "What would a kind friend say to you about this?"],
    ),
    (r"\b(?:happy|glad|grateful|calm)\b", ["That's good to hear. What helped it happen?", "Let's notice that for a moment. What does it feel like?"]),
    (r"\bwhy\b(.*)\?$", ["What do you think?", "Maybe the answer is already close. What comes to mind first?"]),
    (
        r"\b(?:what|how) (?:should|do) i (.+)\?$",
        ["What feels like the smallest next step?", "If a friend asked you how to {0}, what would you tell them?"],
    ),
    (r"\bmy (mother|father|family|friend|partner|work|job|boss)\b(.*)", ["Tell me more about your {0}.", "How are things with your {0} these days?"]),
    (r"\b(you .+)", ["We're talking about you, not me. What about you?", "What makes you say {0}?"]),
    (r"\?$", ["That's a good question to hold. What's your own sense of it?", "Let's look at it together. Where would you like to start?"]),
]
FALLBACKS = [
    "Tell me more.",
    "I'm listening. Go on, whenever you're ready.",
    "How does that feel, as you say it?",
    "Let's stay with that a moment. What else is there?",
    "What would you like to happen next?",
]
CONTINUATIONS = [" and so it settles, one breath at a time.", " and the rest can wait until morning.", " and that, for now, is enough."]


def reflect(fragment: str) -> str:
    """Turn the speaker's words toward them: 'my day' → 'your day', 'you are kind' → 'I am kind', 'I need you' → 'you need me'."""
    words = fragment.strip().rstrip(".!?").split()
    turned: list[str] = []
    for i, word in enumerate(words):
        lower, before = word.lower(), words[i - 1].lower() if i else ""
        if lower == "you":
            turned.append("I" if (words[i + 1].lower() if i + 1 < len(words) else "") in SUBJECT_NEXT else "me")
        elif lower in ("are", "were") and before == "you" and turned[-1] == "I":
            turned.append("am" if lower == "are" else "was")
        elif lower == "was" and before == "i":
            turned.append("were")
        else:
            turned.append(REFLECTIONS.get(lower, word))
    return " ".join(turned)


COMPILED = [(re.compile(pattern.removesuffix(r"\?$"), re.IGNORECASE), pattern.endswith(r"\?$"), answers) for pattern, answers in RULES]
"""Each rule as (pattern, asks, answers): a rule that `asks` is tried only on a question, on its words without the "?"."""


def heard(text: str, limit: int = HEARD) -> str:
    """The last `limit` characters of a text, starting at a word, spaces made single."""
    if len(text) > limit:
        tail = text[-limit:]
        if not text[-limit - 1].isspace():  # cut inside a word: begin at the next one
            space = next((i for i, c in enumerate(tail) if c.isspace()), -1)
            tail = tail[space + 1 :] if space >= 0 else tail
        text = tail
    return " ".join(text.split())


def respond(text: str, *, first: bool, seed: int | None = None) -> str:
    """A calm reflection of the last thing said."""
    chooser = random.Random(seed if seed is not None else len(text))
    said = heard(text)
    question = said.endswith("?")
    reply = chooser.choice(CANNOT_SEE) if PICTURE_WORDS.search(said) else None
    for pattern, asks, answers in COMPILED if reply is None else ():
        if asks and not question:
            continue
        match = pattern.search(said[:-1] if asks else said)
        if match:
            groups = [reflect(group) for group in match.groups()] or [""]
            reply = chooser.choice(answers).format(*groups)
            break
    reply = reply or chooser.choice(FALLBACKS)
    return (INTRODUCTION + reply) if first else reply


def carry_on(prompt: str, *, seed: int | None = None) -> str:
    """A continuation that does not pretend to be more than a gentle ending."""
    return random.Random(seed if seed is not None else len(prompt)).choice(CONTINUATIONS)


def words(text: str) -> Iterator[str]:
    """The reply as the listener's tokens: words with their spaces."""
    yield from re.split(r"(?<=\s)(?=\S)", text)
