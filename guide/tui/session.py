"""One conversation as the app holds it: headless, so its rules are easy to test.

The persona's greeting opens it without any call; the history sent to think
is the user and assistant turns only (dividers and action blocks are for the
eye); the persona's system prompt leads every think call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guide.personas import Persona


@dataclass(eq=False)
class Turn:
    """One entry of the transcript (compared by identity: two equal words are two turns)."""

    role: str
    """user, assistant, greeting, divider or action."""
    content: str
    state: str = "done"
    persona: str = ""
    message_id: int | None = None
    trace_id: str | None = None
    title: str = ""
    """An action block's heading (action → endpoint)."""
    picture: Any = None
    """An action block's picture (imagine's preview)."""


@dataclass
class Session:
    """The conversation on screen."""

    persona: Persona
    address: str | None = None
    conversation_id: int | None = None
    turns: list[Turn] = field(default_factory=list)

    def greeting(self) -> str:
        """The persona's opening words, addressed as the settings say."""
        return self.persona.greeting_for(self.address)

    def system(self) -> str:
        """The system prompt for the next think call."""
        return self.persona.system_prompt(self.address)

    def history(self, budget: int | None = None) -> list[dict[str, Any]]:
        """The messages for think: user and assistant turns, in order.

        With a budget, only the latest turns whose words fit in that many
        characters (the last one always goes, whatever its length).
        """
        said = [t for t in self.turns if t.role in ("user", "assistant") and t.content]
        if budget is not None:
            kept = 0
            for start in range(len(said) - 1, -1, -1):
                kept += len(said[start].content)
                if kept > budget and start < len(said) - 1:
                    said = said[start + 1 :]
                    break
        return [{"role": t.role, "content": t.content} for t in said]

    def holds(self, budget: int) -> bool:
        """Whether the turns loaded hold at least `budget` characters of conversation."""
        return sum(len(t.content) for t in self.turns if t.role in ("user", "assistant")) >= budget

    def last_prompt(self) -> str | None:
        """What the user last wrote (for up-arrow recall)."""
        return next((t.content for t in reversed(self.turns) if t.role == "user"), None)

    def last_reply(self) -> Turn | None:
        """The last assistant turn."""
        return next((t for t in reversed(self.turns) if t.role == "assistant"), None)
