"""Turns: everything a conversation shows, typed, so it can be stored and shown again exactly: a message (finished,
stopped or cut off), a divider (the persona or a model changed), or an action's block. The greeting is not a turn: it
opens every conversation, unsent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from guide.safe_text import visible

if TYPE_CHECKING:
    from guide.store import StoredMessage

Role = Literal["user", "assistant", "divider", "action"]
State = Literal["done", "stopped", "cut"]
SAID: tuple[str, ...] = ("user", "assistant")
"""The roles that go to the model; dividers and blocks are for the eye."""


def new_uid() -> str:
    """A uid made with a turn or a conversation: writes never wait for an id."""
    return uuid.uuid4().hex


@dataclass(eq=False)
class Turn:
    """One entry of the conversation (compared by identity: two equal words are two turns)."""

    role: Role
    content: str
    state: State = "done"
    persona: str = ""
    """Who spoke (a reply's persona name)."""
    model: str = ""
    """The model that answered (a reply), or the one chosen (a model divider)."""
    kind: str = ""
    """A divider's reason (persona, model) or a block's action (understand, speak, …)."""
    data: dict[str, Any] | None = None
    """What a block needs to be shown again: its title, a saved file, figures."""
    trace_id: str | None = None
    message_id: int | None = None
    """The store's id, for turns read back from it (paging goes by it)."""
    uid: str = field(default_factory=new_uid)
    parent: str = ""
    """The uid of the turn it follows in its branch ("" for a first turn): a conversation is a tree."""
    stored: bool = False
    """Whether the turn is in the store (or queued to it)."""
    picture: Any = None
    """A drawn preview of a picture block (not stored: drawn again from the file)."""
    pictures: list[Any] = field(default_factory=list)
    """A message's pictures, ready to send (guide.client.internal.Prepared; not stored: read again from their files)."""

    @property
    def title(self) -> str:
        """A block's heading: `understand → POST /v1/embeddings`."""
        return str((self.data or {}).get("title", ""))

    @classmethod
    def from_stored(cls, message: StoredMessage) -> Turn:
        """A turn read back from the store."""
        role: Role = message.role if message.role in ("user", "assistant", "divider", "action") else "divider"  # type: ignore[assignment]
        state: State = message.state if message.state in ("done", "stopped", "cut") else "done"  # type: ignore[assignment]
        kept = {name: getattr(message, name) for name in ("persona", "model", "kind", "data", "trace_id")}
        uid = message.uid or f"id-{message.id}"  # kept before uids existed: known by its id
        return cls(role, message.content, state, message_id=message.id, uid=uid, parent=message.parent_uid or "", stored=True, **kept)


STATE_NOTES = {"stopped": " (stopped)", "cut": " (cut off)"}


ROUNDS_APART = "\n\n"
"""Between the words of a reply's rounds (one that asked for tools, then the answer): they never run into one another."""
TOOL_KEPT = 32_000
"""The most of a tool's answer kept to send again: what the model reads of one (read_file and MCP results are cut there)."""
ROUNDS_KEPT = 128_000
"""The most characters of a reply's tool rounds kept with it: past that (many rounds of long files), only its words are kept, and
the model asks again if it needs them; the store does not grow by megabytes a turn."""


def tool_rounds(turn: Turn) -> tuple[list[dict[str, Any]], str]:
    """The tool rounds that led to a reply, as they were sent (kept in its data), and the reply's own words after them (the turn
    shows every round's words, ROUNDS_APART). A stored round not in the shape it was sent in gives no rounds, not a bad request."""
    kept = (turn.data or {}).get("tool_history") if turn.role == "assistant" else None
    if not isinstance(kept, list) or not kept:
        return [], turn.content
    for message in kept:
        if not isinstance(message, dict) or message.get("role") not in ("assistant", "tool"):
            return [], turn.content
        if message["role"] == "tool" and not (isinstance(message.get("tool_call_id"), str) and isinstance(message.get("content"), str)):
            return [], turn.content
        if message["role"] == "assistant" and not (isinstance(message.get("tool_calls"), list) and isinstance(message.get("content") or "", str)):
            return [], turn.content
    said_before = ROUNDS_APART.join(m["content"] for m in kept if m["role"] == "assistant" and m.get("content"))
    words = turn.content
    if said_before and words.startswith(said_before):
        words = words[len(said_before) :].removeprefix(ROUNDS_APART)
    return kept, words


def thought_label(ms: Any) -> str:
    """`thought for 4.2 s` (or `thought` where the time is not known)."""
    if isinstance(ms, (int, float)) and not isinstance(ms, bool):
        return f"thought for {ms / 1000:.1f} s"
    return "thought"


def as_markdown(title: str, turns: list[Turn], calls: dict[str, Any] | None = None, *, opening: tuple[str, str] | None = None) -> str:
    """The conversation as Markdown: the greeting it opened with, then every turn as it was shown; with calls (trace id →
    Trace), each turn's call follows it (its summary line and its curl)."""
    lines = [f"# {title}", ""]
    if opening is not None:
        lines += [f"**{opening[0]}**:", "", opening[1], ""]
    for turn in turns:
        if turn.role == "divider":
            lines += ["---", f"*{turn.content}*", ""]
            continue
        who = {"user": "You", "assistant": turn.persona or "Guide", "action": turn.title or "Action"}[turn.role]
        lines += [f"**{who}**{STATE_NOTES.get(turn.state, '')}:", ""]
        data = turn.data or {}
        if turn.role == "assistant" and isinstance(data.get("reasoning"), str) and data["reasoning"]:
            import html  # only as a reply's reasoning is written out: its entities table is not on the way to the greeting

            thought = html.escape(data["reasoning"])  # inside an HTML block: a `</details>` or `<script>` in it stays words
            lines += ["<details><summary>" + thought_label(data.get("thought_ms")) + "</summary>", "", thought, "", "</details>", ""]
        for used in data.get("tools") or [] if turn.role == "assistant" else []:
            if isinstance(used, dict):
                lines += [f"> *used `{used.get('call', '')}` → {str(used.get('result', ''))[:200]}*", ""]
        for picture in data.get("pictures") or [] if turn.role == "user" else []:
            if isinstance(picture, dict):
                lines += [f"*picture: {picture.get('name', '')}* ({picture.get('path', '')})", ""]
        lines += [turn.content, ""]
        trace = (calls or {}).get(turn.trace_id or "")
        if trace is not None:
            lines += [f"> `{trace.summary()}`", "", "```sh", trace.as_curl(), "```", ""]
    # A server's escape sequences never reach a terminal that `cat`s the file (OSC 52 would set the clipboard).
    return visible("\n".join(lines).rstrip()) + "\n"
