"""Conversation: one conversation, headless, in layers: `state` (what it holds), `keeping` (its turns and the store),
`branching` (the branch in view), and here what it sends and what comes back (payload, replies, edit, regenerate), what
answers (persona, surface, model, server), its calls, export and resume. It reports through `emit`, never to a widget.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from guide.client import Gentle
from guide.constants import PROBE
from guide.models import PURPOSES
from guide.tools import tools_for

from .branching import Branching
from .events import BranchShown, CallFiled, Notice, PersonaChanged, ReplyEnded, ReplyStarted, Switched, TurnAdded, TurnRemoved
from .keeping import NEWER_PAGE as NEWER_PAGE
from .keeping import RESUME_PAGE
from .state import Surface as Surface
from .tree import Tree, other_branches
from .turns import SAID, Turn, as_markdown, new_uid, tool_rounds

if TYPE_CHECKING:
    from guide.client import AsyncGuide, AsyncReply, Catalog, Trace
    from guide.client.internal import Prepared
    from guide.personas import Persona
    from guide.store import Store

    from .exchange import Exchange

Undo = tuple[int, list[Turn], bool]
"""A branch to show again if a reply gets no answer: where it goes on from, its turns held, and whether the store holds more."""
RESPOND_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_output_tokens"}
"""A persona's sampling options as the Responses API names them; the others (seed, penalties, stop) it does not take."""


def respond_options(options: dict[str, Any]) -> dict[str, Any]:
    """A persona's options for respond: renamed where the Responses API has the field, else left out."""
    return {RESPOND_OPTIONS[name]: value for name, value in options.items() if name in RESPOND_OPTIONS}


class Conversation(Branching):
    """One conversation: its persona, its turns, its calls. Drive it; it reports events."""

    def system(self) -> str:
        """The system prompt for the next think call."""
        return self.persona.system_prompt(self.address)

    def payload(self, *, with_rounds: bool = False) -> list[dict[str, Any]]:
        """The messages for think: user and reply turns, the latest that fit the budget (the last always goes). Only a
        reply's words go back, never its reasoning (as the providers ask); a message's pictures go as content parts. With
        `with_rounds` (the call offers tools), a reply that used tools is sent after the rounds that led to it, as they were
        sent: the model keeps what it asked and read (without tools offered, some servers refuse tool messages)."""
        said = [t for t in self.turns if t.role in SAID and (t.content or t.pictures)]
        picked: list[tuple[Turn, list[dict[str, Any]], str]] = []
        kept = 0
        for turn in reversed(said):
            rounds, words = tool_rounds(turn) if with_rounds else ([], turn.content)
            kept += len(turn.content) + sum(len(str(m.get("content") or "")) for m in rounds)
            if kept > self.budget and picked:
                break
            picked.append((turn, rounds, words))
        messages: list[dict[str, Any]] = []
        for turn, rounds, words in reversed(picked):
            message = self._message(turn, pictures=not self.pictures_refused)
            messages += [*rounds, {**message, "content": words} if rounds else message]
        return messages

    def pictures_in(self, history: list[dict[str, Any]]) -> int:
        """How many pictures a payload carries."""
        return sum(1 for m in history if isinstance(m.get("content"), list) for part in m["content"] if part.get("type") == "image_url")

    @staticmethod
    def _message(turn: Turn, *, pictures: bool = True) -> dict[str, Any]:
        if not turn.pictures:
            return {"role": turn.role, "content": turn.content}
        if not pictures:  # this server cannot take them: the words go, and say a picture was there
            left_out = ", ".join(picture.name for picture in turn.pictures)
            return {"role": turn.role, "content": f"{turn.content}\n\n(A picture was attached here and left out: {left_out}.)".strip()}
        text = [{"type": "text", "text": turn.content}] if turn.content else []
        return {"role": turn.role, "content": [*text, *(picture.part for picture in turn.pictures)]}

    # Pictures.

    async def attach(self, path: str) -> Prepared:
        """A picture for the next message: read, checked and made smaller off the loop (RequestRefused says why not)."""
        from guide.client.internal import prepare

        prepared = await asyncio.to_thread(prepare, os.path.expanduser(path))
        self.pending.append(prepared)
        return prepared

    async def _pictures_again(self) -> None:
        """Pictures of earlier messages (a resumed conversation) read again from their files; one that is gone is said so, once."""
        from guide.client import GuideError
        from guide.client.internal import prepare

        for turn in self.turns:
            listed = (turn.data or {}).get("pictures") if turn.role == "user" else None
            if not isinstance(listed, list) or turn.pictures or not listed:
                continue
            paths = [str(item.get("path")) for item in listed if isinstance(item, dict) and item.get("path")]
            try:
                turn.pictures = [await asyncio.to_thread(prepare, path) for path in paths]
            except (GuideError, OSError):
                turn.data = {**(turn.data or {}), "pictures": []}
                self.emit(Notice("Pictures", "A picture of an earlier message is gone from its folder; the words went without it.", "warning"))

    def _holds_budget(self) -> bool:
        return sum(len(t.content) for t in self.turns if t.role in SAID) >= self.budget

    def last_prompt(self) -> str | None:
        """What the user last wrote (for ↑ recall)."""
        return next((t.content for t in reversed(self.turns) if t.role == "user"), None)

    def last_reply(self) -> Turn | None:
        """The last reply."""
        return next((t for t in reversed(self.turns) if t.role == "assistant"), None)

    # Replies.

    async def send(self, text: str) -> Exchange:
        """Say something, and stream the reply (ReplyStarted, ReplyPieces, ReplyEnded). The words are stored at once (kept if
        guide is killed mid-reply); a reply that fails before a word arrived gives them back (`exchange.words_back`) and
        its error is raised. Cancelling the task stops the reply: what arrived is kept, stopped."""
        pictures, self.pending = self.pending, []
        data = {"pictures": [{"path": p.path, "name": p.name, "note": p.note} for p in pictures]} if pictures else None
        await self.reach_end()  # the message follows the end of the branch in view
        return await self._reply(self.add(Turn("user", text, data=data, pictures=pictures)))

    async def edit(self, turn: Turn, text: str) -> Exchange:
        """Send `text` in place of an earlier message of the user's, as a new branch from there (`switch` shows the other
        again); the reply streams as `send`'s does. If nothing arrives, the branch left is shown again."""
        if turn.role != "user" or not any(held is turn for held in self.turns):
            raise ValueError("Only a message of yours in the branch in view can be edited.")
        await self.reach_end()  # the branch left is whole (shown again if the edit gets no answer), what waited for its end at it
        if self.turns[0] is turn:
            await self.load_older()  # the turn it follows is held, so older turns are read from where the branch is shared
        index = next(i for i, held in enumerate(self.turns) if held is turn)
        left = self.turns[index:]
        self.tree.leave(left)
        del self.turns[index:]
        self.emit(BranchShown(index))
        edited = Turn("user", text, data=turn.data, pictures=list(turn.pictures), parent=turn.parent)
        self._grow(edited, version_of=turn)
        self.emit(TurnAdded(edited))
        self._moved = True
        return await self._reply(edited, undo=(index, left, False))

    async def regenerate(self) -> Exchange | None:
        """Ask again for the last reply (None when the last turn is not one): another version of it, which is kept (`switch`
        shows it again, as it is shown if nothing arrives)."""
        await self.reach_end()
        last = self.turns[-1] if self.turns else None
        asked = next((t for t in reversed(self.turns) if t.role == "user"), None)
        if last is None or last.role != "assistant" or asked is None:
            return None
        self.tree.leave([self.turns.pop()])
        self.emit(TurnRemoved(last))
        return await self._reply(asked, fresh=False, version_of=last, undo=(len(self.turns), [last], False))

    async def _reply(self, asked: Turn, *, fresh: bool = True, version_of: Turn | None = None, undo: Undo | None = None) -> Exchange:
        """Ask for a reply to `asked` (said just now for it when `fresh`), another version of `version_of` if given; `undo`
        is the branch to show again if nothing arrives."""
        if fresh:
            await self.load_back(self._holds_budget)
            await self._pictures_again()  # the latest turns that fit go with the message
        from .exchange import Exchange  # with the first message: not on the way to the greeting

        exchange = Exchange(self.persona.name, None, asked)
        model: str | None = None
        try:
            guide = self.require_guide()
            model = await self.model_for(Gentle.think)  # may ask the catalog first: its failure, too, gives the words back
            if self.surface == Gentle.respond:
                options = respond_options(self.persona.options)
                exchange.reply = guide.respond(self.payload(), instructions=self.system(), stream=self.streams, model=model, **options)
            else:
                tools: list[Any] = [] if self.tools_refused else tools_for(self.persona.tools)
                if self.mcp is not None and not self.tools_refused and any(name.startswith("mcp:") for name in self.persona.tools):
                    taken = [tool.__name__ for tool in tools]
                    names = [name for name in self.persona.tools if name.removeprefix("mcp:").partition("/")[0] not in self.mcp_off]
                    tools += await self.mcp.tools(names, taken=taken, file=self.file_call, say=self._mcp_said)
                history = self.payload(with_rounds=bool(tools))
                options = {**self.persona.options}
                if tools:  # the client's one tool loop runs them, round after round, each round streamed
                    options.update(tools=tools, run_tools=True, before_tool=self.before_tool)
                exchange.reply = guide.think(history, system=self.system(), stream=self.streams, model=model, **options)
                if tools:
                    exchange.without_tools = partial(self._without_tools, guide, model)
                if self.pictures_in(history):
                    exchange.without_pictures = partial(self._without_pictures, guide, model, options)
            self.emit(ReplyStarted(exchange))
            await exchange.run(self.emit)
        except (asyncio.CancelledError, Exception) as error:  # a GuideError, or one nobody expected: the caller's boundary reports it
            if isinstance(error, asyncio.CancelledError):
                exchange.state = "stopped"
            else:
                exchange.state, exchange.error = "cut", error
            await exchange.close()
            self._ended(exchange, model, fresh, version_of, undo)
            raise
        self._ended(exchange, model, fresh, version_of, undo)
        return exchange

    def _mcp_said(self, words: str) -> None:
        self.emit(Notice("MCP", words, "warning"))

    def _without_tools(self, guide: AsyncGuide, model: str | None) -> AsyncReply:
        """The same call without tools, said once: a server that takes none still answers the persona's words."""
        self.tools_refused = True
        words = f"This server does not take tools, so {self.persona.name} answers without them (until the server changes)."
        self.emit(Notice("Tools", words, "warning"))
        return guide.think(self.payload(), system=self.system(), stream=self.streams, model=model, **self.persona.options)

    def _without_pictures(self, guide: AsyncGuide, model: str | None, options: dict[str, Any]) -> AsyncReply:
        """The same call with the words only, said once: a server that takes no pictures fails every message that carries them."""
        left_out = self.pictures_in(self.payload())
        self.pictures_refused = True
        words = (
            f"This server failed on the {left_out} picture{'s' if left_out != 1 else ''} in this conversation, "
            "so the words go without them from now on (until the server changes)."
        )
        self.emit(Notice("Pictures", words, "warning"))
        return guide.think(self.payload(with_rounds="tools" in options), system=self.system(), stream=self.streams, model=model, **options)

    def _ended(self, exchange: Exchange, model: str | None, fresh: bool = True, version_of: Turn | None = None, undo: Undo | None = None) -> None:
        """Keep the reply as a turn, or give the words back when nothing arrived (and show again the branch left for it)."""
        text = exchange.text
        if exchange.error is not None and not text:
            if fresh and self.turns and self.turns[-1] is exchange.asked:
                self.remove_last()
            if undo is not None:
                self._show_again(*undo)
        else:
            reply = exchange.reply
            answered = (reply.model if reply else None) or model or ""
            trace = reply.trace if reply else None
            if exchange.state == "done" and not text.strip() and exchange.error is None:
                self._said_nothing(exchange, trace)
            data: dict[str, Any] = {}
            if exchange.reasoning:
                data["reasoning"], data["thought_ms"] = exchange.reasoning, exchange.thought_ms
            if exchange.tools_used:
                data["tools"], data["tool_history"] = exchange.tools_used, exchange.tool_history
            if self.mcp_off or self.mcp_always:
                data["mcp"] = {"off": sorted(self.mcp_off), "always": sorted(self.mcp_always)}
            turn = Turn(
                "assistant", text, exchange.state, persona=exchange.who, model=answered, trace_id=trace.id if trace else None, data=data or None
            )
            self._grow(turn, version_of)
            exchange.turn = turn
        if exchange.error is not None:
            if fresh:  # a reply asked again leaves its question where it is: no words to give back
                exchange.words_back = exchange.asked.content
            self._respond_refused(exchange)
        self.emit(ReplyEnded(exchange))

    def _said_nothing(self, exchange: Exchange, trace: Trace | None) -> None:
        """A reply that ended with no words: said, so an empty message is not a mystery (the call shows what came)."""
        usage = (trace.usage or {}) if trace is not None else {}
        made = usage.get("completion_tokens")
        tokens = f" after {made} token{'s' if made != 1 else ''}" if isinstance(made, int) else ""
        after = f" (it used tools {len(exchange.tools_used)} time{'s' if len(exchange.tools_used) != 1 else ''} first)" if exchange.tools_used else ""
        words = f"The model ended its answer with no words{tokens}{after}. ctrl+r asks again; F2 shows the call as it came."
        self.emit(Notice("Reply", words, "warning"))

    def _respond_refused(self, exchange: Exchange) -> None:
        """A server that does not offer respond: back to think, said once (each message would fail the same way)."""
        from guide.client import NotOffered

        error = exchange.error
        if self.surface == Gentle.respond and isinstance(error, NotOffered) and error.action == Gentle.respond and not exchange.text:
            self.leave_respond("This server does not offer respond (POST /v1/responses)")

    # The persona and the models.

    def leave_respond(self, why: str) -> None:
        """Go back to think because the server in force has no respond: a divider, and one notice that names /respond."""
        self.switch_surface(Gentle.think)
        words = f"{why}, so the next messages go through think again; /respond on when a server offers it. Your words are kept."
        self.emit(Notice("Respond", words, "warning"))

    async def model_for(self, action: str) -> str | None:
        """The model for an action; asks the server's catalog first when that is the only way to know."""
        name = self.models.for_action(action, self.persona.model)
        if self.models.catalog is None and (name is None or PURPOSES.get(action, "chat") != "chat"):
            await self.know_models()
            name = self.models.for_action(action, self.persona.model)
        return name

    async def know_models(self) -> Catalog:
        """Ask the server's catalog (a real call, shown with the others) and learn it: the model in force may change (announced)."""
        catalog = await self.require_guide().catalog()
        for words in self.models.learn(list(catalog), self.persona.model):
            self.emit(Notice("Model", words, "warning"))
        self.emit(Switched("model"))
        return catalog

    def switch_persona(self, persona: Persona, why: str = "edited") -> None:
        """Speak as another persona (or an edited one: `why` says how) from the next turn; the switch shows in the transcript."""
        was = self.persona
        edited = persona.id == was.id
        if edited and persona.voice() == was.voice():
            self.persona = persona  # the same voice (perhaps now your own copy): nothing to show
            return
        self.persona = persona
        label = f"now speaking as {persona.name}" + (f" ({why})" if edited else "")
        self._divide(Turn("divider", label, kind="persona", data={"persona": persona.id}), was=was.id, now=None if edited else persona.id)
        if self.stored and self.store is not None:
            self.store.set_persona(self.uid, persona.id)
        self.emit(PersonaChanged(persona))

    def switch_surface(self, surface: Surface) -> None:
        """Send the next messages through `think` or `respond`; the switch shows in the transcript."""
        if surface == self.surface:
            return
        was, self.surface = self.surface, surface
        from guide.client import ACTIONS

        label = f"now answering through {surface} ({ACTIONS[surface].endpoint})"
        self._divide(Turn("divider", label, kind="surface", data={"surface": surface}), was=was, now=surface)
        self.emit(Switched("surface"))
        if surface == Gentle.respond and self.persona.tools:
            words = f"{self.persona.name}'s tools go with think only: through respond, the model answers without them."
            self.emit(Notice("Tools", words, "warning"))

    def switch_model(self, name: str) -> list[str]:
        """Answer with another model from the next call (checked against the catalog by the caller); the actions it answers."""
        actions, was = self.models.choose(name)
        if name != was:
            label = f"model: {name}" if actions == [Gentle.think] else f"model for {actions[0]}: {name}"
            self._divide(Turn("divider", label, kind="model", model=name, data={"action": actions[0]}), was=was, now=name)
        return actions

    def switch_server(self, label: str, *, was: str, now: str) -> None:
        """Another server answers from the next call; the switch shows in the transcript."""
        if was != now:
            self.tools_refused = self.pictures_refused = False  # the next server may take them
            self._divide(Turn("divider", label, kind="server", data={"server": now}), was=was, now=now)

    def _divide(self, divider: Turn, *, was: str, now: str | None) -> None:
        """Show a change as a divider; changed again before anything was said, the last one is replaced (or taken away, when
        the change is undone): dividers never stack."""
        last = self._waiting[-1][0] if self._waiting else self.turns[-1] if self.turns and not self.more_after else None
        data = divider.data or {}
        if last is not None and last.role == "divider" and last.kind == divider.kind and (last.data or {}).get("action") == data.get("action"):
            self.remove_last()
            was = str((last.data or {}).get("was", ""))
            if was and was == now:
                return
        divider.data = {**data, "was": was}
        self.add(divider)

    # Calls.

    def file_call(self, trace: Trace) -> None:
        """Keep a call with this conversation (as it starts, streams and ends); say so."""
        self.calls[trace.id] = trace
        self.emit(CallFiled(trace))
        if trace.state == "running" or self.store is None:
            return
        self.store.save_trace(self.uid if self.stored else None, trace)
        if not self.stored:
            self._unfiled.append(trace)

    async def stored_calls(self, latest: int, before: float | None = None) -> tuple[list[Trace], int]:
        """The latest stored calls (started before a time, if given), oldest first, and how many are stored in all."""
        from guide.client import Trace

        store = self.store
        if store is None or self.stored_id is None:
            return [], 0
        data = await store.read(store.traces, self.stored_id, latest=latest, before=before)
        return [Trace.from_dict(row) for row in data], await store.read(store.trace_count, self.stored_id)

    def call_counts(self) -> dict[str, int]:
        """How many calls of each action were made here (probes not counted)."""
        counts = dict(self.counted)
        for trace in self.calls.values():
            if trace.gentle != PROBE and trace.state != "running":
                counts[trace.action] = counts.get(trace.action, 0) + 1
        return counts

    # Export.

    async def export(self, *, with_calls: bool = False, title: str = "", every_branch: bool = False) -> str:
        """The branch in view as Markdown, as it was shown, under its title (else its first words); with `every_branch`, each
        other branch follows, under a heading naming the turn it follows."""
        await self.load_all()
        calls: dict[str, Any] = {}
        if with_calls:
            from guide.client import Trace

            if self.store is not None and self.stored_id is not None:
                stored = await self.store.read(self.store.traces, self.stored_id)
                calls = {data["id"]: Trace.from_dict(data) for data in stored}
            calls.update(self.calls)
        said = next((t.content for t in self.turns if t.role == "user"), "")
        title = title or (said.strip().splitlines()[0][:60] if said.strip() else "A conversation")
        shown = as_markdown(title, self.turns, calls, opening=self.opening)
        if not every_branch:
            return shown
        every = list(self.tree.made.values())
        stored_id = await self._caught_up()
        if self.store is not None and stored_id is not None:
            every = [self.tree.made.get(m.uid or "") or Turn.from_stored(m) for m in await self.store.read(self.store.tree, stored_id)]
        sections = [shown]
        for after, branch in other_branches(every, self.turns):
            heading = f"Another branch, after: {' '.join(after.content.split())[:60]}" if after is not None else "Another branch, from the start"
            sections.append("#" + as_markdown(heading, branch, calls))
        return "\n".join(sections)

    # Resuming.

    @classmethod
    async def resume(cls, store: Store, conversation_id: int, persona_for: Callable[[str], Persona], **options: Any) -> Conversation | None:
        """A stored conversation, opened at its latest turns (older ones are read as they are wanted)."""
        info = await store.read(store.conversation, conversation_id)
        if info is None:
            return None
        conversation = cls(persona_for(info.persona), store=store, uid=info.uid or new_uid(), stored_id=conversation_id, **options)
        if info.uid is None:
            store.adopt(conversation_id, conversation.uid)  # kept before uids: known by one from now on
        if info.opening is not None:
            conversation.opening = info.opening
        latest = await store.read(store.page, conversation_id, limit=RESUME_PAGE)
        conversation.counted = await store.read(store.call_counts, conversation_id)
        conversation.turns = [Turn.from_stored(message) for message in latest]
        conversation.more_before = len(latest) == RESUME_PAGE
        stored = (turn.data.get("mcp") for turn in reversed(conversation.turns) if turn.role == "assistant" and turn.data)
        kept = next((choice for choice in stored if isinstance(choice, dict)), {})
        for name, held in (("off", conversation.mcp_off), ("always", conversation.mcp_always)):
            held.update(item for item in kept.get(name, ()) if isinstance(item, str))  # as the last reply left them
        conversation.tree = Tree(await store.read(store.forks, conversation_id))
        switched = next((t for t in reversed(conversation.turns) if t.role == "divider" and t.kind == "surface"), None)
        if switched is not None and (switched.data or {}).get("surface") == Gentle.respond:
            conversation.surface = Gentle.respond  # it answered through respond when it was left: it goes on so
        return conversation
