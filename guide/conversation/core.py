"""Conversation: one conversation, headless. The app, `guide ask` and the tests all drive it.

It owns the persona in force, the turns of every kind, the part of a long
conversation read from the store (older turns are read a page at a time), the
history budget, which model answers, regenerate, resume, filing each call with
its conversation, and export. It never touches a widget: what happens is
reported through `emit` as events (`guide.conversation.events`).

The conversation is stored from its first message or block, with everything
before it (dividers, calls). Writes are queued to the store's writer and
return at once; reads run in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from guide.client import Gentle
from guide.constants import DEFAULT_HISTORY, PROBE
from guide.models import PURPOSES, ModelChoice, Server
from guide.tools import tools_for

from .events import BranchShown, CallFiled, Event, Notice, OlderLoaded, PersonaChanged, ReplyEnded, ReplyStarted, Switched, TurnAdded, TurnRemoved
from .exchange import Exchange
from .tree import Tree, other_branches
from .turns import SAID, Turn, as_markdown, new_uid

if TYPE_CHECKING:
    from guide.client import AsyncGuide, AsyncReply, Catalog, Trace
    from guide.client.internal import BeforeTool, Prepared
    from guide.mcp.tools import McpTools
    from guide.personas import Persona
    from guide.store import Store

RESUME_PAGE = 200
"""Turns read when a conversation opens (the transcript mounts only the last few)."""
OLDER_PAGE = 1000
"""Turns read from the store at a time, going back."""
NEWER_PAGE = 50
"""Turns of a branch read from the store at a time, going on from where it was opened (at its branch point)."""
Surface = Literal[Gentle.think, Gentle.respond]
"""Which gentle action carries the chat's messages: chat completions, or the Responses API."""
Undo = tuple[int, list[Turn], bool]
"""A branch to show again if a reply gets no answer: where it goes on from, its turns held, and whether the store holds more."""
RESPOND_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_output_tokens"}
"""A persona's sampling options as the Responses API names them; the others (seed, penalties, stop) it does not take."""


def respond_options(options: dict[str, Any]) -> dict[str, Any]:
    """A persona's options for respond: renamed where the Responses API has the field, left out where it has none."""
    return {RESPOND_OPTIONS[name]: value for name, value in options.items() if name in RESPOND_OPTIONS}


class Conversation:
    """One conversation: its persona, its turns, its calls. Drive it; it reports events."""

    def __init__(
        self,
        persona: Persona,
        *,
        guide: AsyncGuide | None = None,
        store: Store | None = None,
        models: ModelChoice | None = None,
        server: Server | None = None,
        address: str | None = None,
        budget: int = DEFAULT_HISTORY,
        emit: Callable[[Event], None] | None = None,
        uid: str | None = None,
        stored_id: int | None = None,
    ) -> None:
        self.persona = persona
        self.server = server or Server(guide, models=models or ModelChoice())
        """The server in force (the session's own, shared: a switch there is seen here), or one of its own (`guide`, `models`)."""
        self.store = store
        self.address = address
        """Whom the guide addresses, over the persona's own (settings)."""
        self.budget = budget
        self.emit: Callable[[Event], None] = emit or (lambda event: None)
        self.uid = uid or new_uid()
        self.stored_id = stored_id
        """The store's id, once known (a resumed conversation): reads go by it."""
        self.stored = stored_id is not None
        """Whether the conversation is in the store (or queued to it)."""
        self.opening = (persona.name, self.greeting())
        """Who greeted, and the words, as the conversation opened (a resumed one shows the same)."""
        self.turns: list[Turn] = []
        """The turns held, of the branch in view: the latest ones, and older ones as they are read back."""
        self.tree = Tree()
        """Its branches: which turns are versions of one another (edits, replies asked again)."""
        self._moved = False
        """The branch in view changed: the store is caught up before older turns are read from it."""
        self.more_before = False
        """Whether the store holds turns older than the first one held."""
        self.more_after = False
        """Whether the branch in view goes on in the store after the last turn held (it was opened at its branch point)."""
        self._waiting: list[tuple[Turn, Turn | None]] = []
        """Turns said while the end of the branch is not held (a divider, say), with what each is a version of: they
        follow its end once it is read."""
        self._reading = asyncio.Lock()
        """Held while turns are read in from the store: two readers never read (and add) the same page."""
        self.surface: Surface = Gentle.think
        """Which action the next messages go through (/respond flips it): the same turn, on either surface."""
        self.calls: dict[str, Trace] = {}
        """The calls made while this conversation was open, by trace id."""
        self.tools_refused = False
        """The server refused the persona's tools: the next calls go without them, until another server answers."""
        self.pictures_refused = False
        """The server failed on the pictures in the history: the next calls send the words without them, until another server answers."""
        self._unfiled: list[Trace] = []
        """Calls made before the conversation was stored: filed with it."""
        self.counted: dict[str, int] = {}
        """Calls of each action made before it was resumed (read from the store once)."""
        self.pending: list[Prepared] = []
        """Pictures attached for the next message (/attach)."""
        self.streams = True
        """Whether replies are asked for as streams (`guide ask --no-stream` asks for them whole)."""
        self.before_tool: BeforeTool | None = None
        """Asked before each tool call runs (True runs it; False or a text does not, and the model reads why); None runs them all."""
        self.mcp: McpTools | None = None
        """The MCP servers in the settings, for a persona that names mcp:SERVER tools (None: such tools are left out)."""
        self.mcp_off: set[str] = set()
        """MCP servers turned off for this conversation (/tools SERVER off): their tools are not offered."""
        self.mcp_always: set[str] = set()
        """MCP tools ("SERVER/TOOL") the user said always run in this conversation. Both sets are kept with each reply, and read back on resume."""

    @property
    def guide(self) -> AsyncGuide | None:
        return self.server.client

    @property
    def models(self) -> ModelChoice:
        return self.server.models

    # What the guide is.

    def greeting(self) -> str:
        """The persona's opening words, addressed as the settings say (shown, never sent: the guide waits)."""
        return self.persona.greeting_for(self.address)

    def system(self) -> str:
        """The system prompt for the next think call."""
        return self.persona.system_prompt(self.address)

    def payload(self) -> list[dict[str, Any]]:
        """The messages for think: user and reply turns, the latest that fit the budget (the last always goes).

        Only the words of a reply go back, never its reasoning (as the
        providers ask); a message's pictures go with it as content parts.
        """
        said = [t for t in self.turns if t.role in SAID and (t.content or t.pictures)]
        kept = 0
        for start in range(len(said) - 1, -1, -1):
            kept += len(said[start].content)
            if kept > self.budget and start < len(said) - 1:
                said = said[start + 1 :]
                break
        return [self._message(t, pictures=not self.pictures_refused) for t in said]

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

    # Turns in and out.

    def add(self, turn: Turn) -> Turn:
        """Append a turn, store it, and say so."""
        self._grow(turn)
        self.emit(TurnAdded(turn))
        return turn

    def _grow(self, turn: Turn, version_of: Turn | None = None) -> None:
        """Append a turn to the branch in view (after the last one held, or where its parent says when none is) and store it.
        While the end of the branch is not held, the turn waits for it (`reach_end`)."""
        if self.more_after or self._waiting:
            self._waiting.append((turn, version_of))
            return
        if self.turns:
            turn.parent = self.turns[-1].uid
        self.tree.grow(turn, version_of)
        self.turns.append(turn)
        self._file(turn)

    def remove_last(self) -> Turn | None:
        """Take the last turn away (and out of the store)."""
        if self._waiting:
            turn = self._waiting.pop()[0]  # never stored: it waited for the end of the branch
            self.emit(TurnRemoved(turn))
            return turn
        if not self.turns or self.more_after:
            return None
        turn = self.turns.pop()
        self.tree.forget(turn)
        if turn.stored and self.store is not None:
            self.store.delete_message(uid=turn.uid, message_id=turn.message_id)
        self.emit(TurnRemoved(turn))
        return turn

    def _file(self, turn: Turn) -> None:
        """Store a turn; the first message or block stores the conversation, with what came before it."""
        if self.store is None:
            return
        if not self.stored:
            if turn.role not in ("user", "action"):
                return  # a divider before anything was said waits to be filed with the conversation
            self.store.new_conversation(self.uid, self.persona.id, opening=self.opening)
            self.stored = True
            for earlier in self.turns:
                if earlier is not turn and not earlier.stored:
                    self._write(earlier)
            for trace in self._unfiled:
                self.store.save_trace(self.uid, trace)
            self._unfiled.clear()
        self._write(turn)

    def keep_in(self, store: Store) -> None:
        """The store opened after the conversation began (another guide held it): store what was said meanwhile, in order, every
        branch of it, and its calls."""
        if self.store is not None:
            return
        self.store = store
        finished = [trace for trace in self.calls.values() if trace.state != "running"]
        if not any(turn.role in ("user", "action") for turn in self.turns):
            for trace in finished:  # as file_call does: kept, and filed with the conversation once something is said
                store.save_trace(None, trace)
            self._unfiled.extend(finished)
            return
        store.new_conversation(self.uid, self.persona.id, opening=self.opening)
        self.stored = True
        for turn in [*self.tree.made.values(), *self.turns]:  # every branch said meanwhile, each turn after the one it follows
            if not turn.stored:
                self._write(turn)
        if self.turns:
            store.show(self.uid, self.turns[-1].uid)
        for trace in finished:
            store.save_trace(self.uid, trace)

    def _write(self, turn: Turn) -> None:
        assert self.store is not None
        self.store.add_message(
            self.uid,
            turn.uid,
            turn.role,
            turn.content,
            kind=turn.kind,
            persona=turn.persona,
            model=turn.model,
            state=turn.state,
            trace_id=turn.trace_id,
            data=turn.data,
            parent=turn.parent,
        )
        turn.stored = True

    # Older turns, from the store.

    async def load_older(self, limit: int | None = None) -> int:
        """Read the page before the first turn held; how many came (0: there are no more)."""
        if not self.more_before or self.store is None or self.stored_id is None:
            return 0
        limit = limit or OLDER_PAGE
        store, stored_id = self.store, self.stored_id
        older: list[Any] = []
        async with self._reading:
            if not self.more_before:
                return 0  # read meanwhile
            first = next((t.message_id for t in self.turns if t.message_id is not None), None)
            await self._store_knows_view()
            older = await store.read(store.page, stored_id, before=first, limit=limit)
            if len(older) < limit:
                self.more_before = False
            self.turns[0:0] = [Turn.from_stored(message) for message in older]
        if older:
            self.emit(OlderLoaded(len(older)))
        return len(older)

    async def _store_knows_view(self) -> None:
        """Turns of the branch in view are read by the store's mark of it: after a switch, that mark lands first."""
        if self._moved and self.store is not None:
            await self.store.read(self.store.flush)
            self._moved = False

    async def load_newer(self, limit: int = NEWER_PAGE) -> int:
        """Read the page after the last turn held, when the branch was opened at its branch point; how many came. Reaching
        its end, the turns said meanwhile follow it (they waited for it)."""
        store, stored_id = self.store, self.stored_id
        if not self.more_after or store is None or stored_id is None:
            return 0
        async with self._reading:
            if not self.more_after:
                return 0
            await self._store_knows_view()
            held = {turn.uid for turn in self.turns[-limit:]}
            last = next((t.message_id for t in reversed(self.turns) if t.message_id is not None), 0)
            newer = await store.read(store.page, stored_id, after=last, limit=limit + len(held))
            fresh = [self.tree.made.get(m.uid or "") or Turn.from_stored(m) for m in newer if (m.uid or f"id-{m.id}") not in held]
            self.turns += fresh
            self.more_after = len(newer) == limit + len(held)
        if not self.more_after:
            self._release_waiting()
        return len(fresh)

    def _release_waiting(self) -> None:
        """The end of the branch is held: the turns said meanwhile follow it, in order."""
        waiting, self._waiting = self._waiting, []
        for turn, version_of in waiting:
            self._grow(turn, version_of)

    async def reach_end(self) -> None:
        """Hold the branch in view to its end (before a message is sent there, or a reply asked again)."""
        while self.more_after:
            if not await self.load_newer(OLDER_PAGE) and self.more_after:
                self.more_after = False  # the store holds no more of it (it changed underneath): what is held is the branch
                self._release_waiting()

    async def load_back(self, enough: Callable[[], bool]) -> None:
        """Read older pages until there are enough turns held (or no more)."""
        while self.more_before and not enough():
            if not await self.load_older():
                return

    async def load_all(self) -> None:
        """Read every turn of the branch in view (before find or export looks through them)."""
        await self.load_back(lambda: False)
        await self.reach_end()

    # A window over the branch in view (the transcript's): asked by turn, as indices move when older turns are read in.

    def _at(self, turn: Turn) -> int | None:
        """Where a turn held is, looking from the end (where turns are added)."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index] is turn:
                return index
        return None

    def by_uid(self, uid: str) -> Turn | None:
        """The turn held with that uid, if any."""
        return next((turn for turn in reversed(self.turns) if turn.uid == uid), None)

    def holds(self, turn: Turn) -> bool:
        """Whether a turn is held, in the branch in view."""
        return self._at(turn) is not None

    def before(self, turn: Turn | None, count: int) -> list[Turn]:
        """Up to `count` turns held just before a turn (None: the last ones held); none for a turn not held."""
        at = len(self.turns) if turn is None else self._at(turn)
        return [] if at is None else self.turns[max(0, at - count) : at]

    def after(self, turn: Turn | None, count: int) -> list[Turn]:
        """Up to `count` turns held just after a turn (None: the first ones held); none for a turn not held."""
        at = -1 if turn is None else self._at(turn)
        return [] if at is None else self.turns[at + 1 : at + 1 + count]

    def first(self, turn: Turn) -> bool:
        """Whether a turn opens the conversation (nothing before it, held or stored)."""
        return not self.more_before and bool(self.turns) and self.turns[0] is turn

    def last(self, turn: Turn) -> bool:
        """Whether a turn ends the branch in view (nothing after it, held or stored)."""
        return not self.more_after and bool(self.turns) and self.turns[-1] is turn

    # Branches.

    def siblings(self, turn: Turn) -> tuple[int, int]:
        """Which version of itself a turn is, and how many there are: (0, 1) for a turn never edited or asked again."""
        versions = self.tree.versions(turn)
        return versions.index(turn.uid) if turn.uid in versions else 0, len(versions)

    async def switch(self, turn: Turn, step: int) -> bool:
        """Show another version of a turn held (`step` versions on, back if negative) and the branch that follows it, the
        way it was last seen at each branch point; False when there is no such version. The store remembers the branch in view."""
        versions = self.tree.versions(turn)
        at = versions.index(turn.uid) + step if turn.uid in versions else -1
        if step == 0 or not 0 <= at < len(versions) or not any(held is turn for held in self.turns):
            return False
        if self._waiting:
            await self.reach_end()  # what was said at the end of the branch left is kept there
        path, more = self.tree.down(versions[at]), False
        if path is None:
            store, stored_id = self.store, await self._caught_up()
            if store is None or stored_id is None:
                return False
            # Its head only: the branch opens at its branch point, and the rest is read as it is wanted (`load_newer`).
            found, length = await store.read(store.branch, stored_id, versions[at], NEWER_PAGE, head=True)
            if not found:
                return False
            path, more = [self.tree.made.get(message.uid or "") or Turn.from_stored(message) for message in found], length > len(found)
        kept = self._at(turn)
        if kept is None:
            return False  # the turn left the view while the branch was read
        self._show_again(kept, path, more)
        return True

    async def show_branch_of(self, message_id: int) -> bool:
        """Show the branch that holds a stored message of this conversation (a search found it in a branch not in view),
        opened at its end as a resumed conversation is; False when it is in view already, or not this conversation's."""
        if self._waiting:
            await self.reach_end()  # what was said at the end of the branch left is kept there
        store, stored_id = self.store, await self._caught_up()
        if store is None or stored_id is None or await store.read(store.shown, message_id):
            return False
        found, _ = await store.read(store.branch, stored_id, f"id-{message_id}", 1)
        if not found:
            return False
        store.show(self.uid, found[-1].uid or f"id-{found[-1].id}")
        await store.read(store.flush)
        latest = await store.read(store.page, stored_id, limit=RESUME_PAGE)
        self.tree.leave(self.turns)
        self.turns = [self.tree.made.get(message.uid or "") or Turn.from_stored(message) for message in latest]
        self.more_before, self.more_after, self._moved = len(latest) == RESUME_PAGE, False, False
        self.emit(BranchShown(0))
        return True

    async def found_elsewhere(self, words: str) -> list[int]:
        """The stored messages of this conversation that hold the words (every one, the last perhaps as a prefix) on a branch
        not in view, best matches first: what a search of the conversation finds beyond the branch shown."""
        store, stored_id = self.store, await self._caught_up()
        if store is None or stored_id is None:
            return []
        hits = await store.read(store.search, words, 200)
        return [hit.message_id for hit in hits if hit.conversation_id == stored_id and not await store.read(store.shown, hit.message_id)]

    async def calls_elsewhere(self) -> set[str]:
        """The calls that answered turns on branches not in view (trace ids): the calls panel shows those of the branch in view."""
        store, stored_id = self.store, await self._caught_up()
        found = {turn.trace_id for turn in self.tree.made.values() if turn.trace_id}
        if store is not None and stored_id is not None:
            found |= await store.read(store.calls_elsewhere, stored_id)
        return found - {turn.trace_id for turn in self.turns if turn.trace_id}

    async def edit(self, turn: Turn, text: str) -> Exchange:
        """Send `text` in place of an earlier message of the user's, as a new branch from there (nothing is deleted: `switch`
        shows the other again); the reply streams as `send`'s does. If nothing arrives, the branch left is shown again."""
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
        await self.load_back(self._holds_budget)
        await self._pictures_again()
        return await self._reply(edited, undo=(index, left, False))

    async def answers(self, turn: Turn) -> list[tuple[Turn | None, Trace | None]]:
        """For each version of a turn, oldest first: the reply that answered it (itself, for a reply), the way its branch
        was last seen, and the call that reply came from (None where there is none, or it is not kept). Two of them are
        what a comparison of branches sets side by side: the requests as sent, and what came back."""
        from guide.client import Trace

        found: list[tuple[Turn | None, Trace | None]] = []
        for uid in self.tree.versions(turn):
            held = next((i for i, t in enumerate(self.turns) if t.uid == uid), None)
            way = self.turns[held:] if held is not None else self.tree.down(uid)
            if way is None:
                store, stored_id = self.store, await self._caught_up()
                # Its first few turns: the reply comes next, after a divider or a block at most.
                read = await store.read(store.branch, stored_id, uid, 8, head=True) if store is not None and stored_id is not None else ([], 0)
                way = [self.tree.made.get(message.uid or "") or Turn.from_stored(message) for message in read[0]]
            reply = next((t for t in way if t.role == "assistant"), None)
            call = self.calls.get(reply.trace_id) if reply is not None and reply.trace_id else None
            if call is None and reply is not None and reply.trace_id and self.store is not None:
                kept = await self.store.read(self.store.trace, reply.trace_id)
                call = Trace.from_dict(kept) if kept is not None else None
            found.append((reply, call))
        return found

    async def _caught_up(self) -> int | None:
        """The conversation's id in the store, once every write queued so far has landed (its tree is read next)."""
        store = self.store
        if store is None or not self.stored:
            return None
        await store.read(store.flush)
        return self.stored_id or await store.read(store.id_of, self.uid)  # begun in this session: known by its uid

    def _show_again(self, kept: int, path: list[Turn], more: bool = False) -> None:
        """Show a branch: the turns held up to `kept`, then `path` (the store holding `more` of it after that); the store
        remembers it. Turns only added back (a reply asked again with no answer) are said as added, as the transcript
        already knows them."""
        added = kept == len(self.turns) and not self.more_after
        self.tree.leave(self.turns[kept:])
        self.turns[kept:] = path
        self.more_after = more
        if path and self.stored and self.store is not None:
            self.store.show(self.uid, path[-1].uid, down=more)
            self._moved = True
        for turn in path if added else []:
            self.emit(TurnAdded(turn))
        if not added:
            self.emit(BranchShown(kept))

    # Replies.

    async def send(self, text: str) -> Exchange:
        """Say something, and stream the reply to its end: it is reported as ReplyStarted, ReplyPieces and ReplyEnded.

        The user's words are stored at once (kept even if guide is killed
        mid-reply). A reply that fails before a word arrived takes the words
        back out, into `exchange.words_back`, and its error is raised.
        Cancelling the task stops the reply: what arrived is kept, stopped.
        """
        pictures, self.pending = self.pending, []
        data = {"pictures": [{"path": p.path, "name": p.name, "note": p.note} for p in pictures]} if pictures else None
        await self.reach_end()  # the message follows the end of the branch in view
        asked = self.add(Turn("user", text, data=data, pictures=pictures))
        await self.load_back(self._holds_budget)
        await self._pictures_again()  # the latest turns that fit go with the message
        return await self._reply(asked)

    async def regenerate(self) -> Exchange | None:
        """Ask again for the last reply, as `send` does (None when the last turn is not a reply). The new reply is another
        version of the last one, which is kept (`switch` shows it again); if nothing arrives, the last one is shown again."""
        await self.reach_end()
        last = self.turns[-1] if self.turns else None
        asked = next((t for t in reversed(self.turns) if t.role == "user"), None)
        if last is None or last.role != "assistant" or asked is None:
            return None
        self.tree.leave([self.turns.pop()])
        self.emit(TurnRemoved(last))
        return await self._reply(asked, fresh=False, version_of=last, undo=(len(self.turns), [last], False))

    async def _reply(self, asked: Turn, *, fresh: bool = True, version_of: Turn | None = None, undo: Undo | None = None) -> Exchange:
        """Ask for a reply to `asked` (said just now for it when `fresh`); the reply is another version of `version_of`, if
        given; `undo` is the branch to show again (from an index, its turns) if nothing arrives."""
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
                history = self.payload()
                options = {**self.persona.options}
                if tools:  # the client's one tool loop runs them, round after round, each round streamed
                    options.update(tools=tools, run_tools=True, before_tool=self.before_tool)
                exchange.reply = guide.think(history, system=self.system(), stream=self.streams, model=model, **options)
                if tools:
                    exchange.without_tools = self._without_tools(guide, history, model)
                if self.pictures_in(history):
                    exchange.without_pictures = self._without_pictures(guide, model, options)
            self.emit(ReplyStarted(exchange))
            await exchange.run(self.emit)
        except asyncio.CancelledError:
            exchange.state = "stopped"
            await exchange.close()
            self._ended(exchange, model, fresh, version_of, undo)
            raise
        except Exception as error:  # a GuideError, or one nobody expected: the caller's boundary reports it
            exchange.state, exchange.error = "cut", error
            await exchange.close()
            self._ended(exchange, model, fresh, version_of, undo)
            raise
        self._ended(exchange, model, fresh, version_of, undo)
        return exchange

    def _mcp_said(self, words: str) -> None:
        self.emit(Notice("MCP", words, "warning"))

    def _without_tools(self, guide: AsyncGuide, history: list[dict[str, Any]], model: str | None) -> Callable[[], AsyncReply]:
        """The same call without tools, said once: a server that takes none still answers the persona's words."""

        def again() -> AsyncReply:
            self.tools_refused = True
            words = f"This server does not take tools, so {self.persona.name} answers without them (until the server changes)."
            self.emit(Notice("Tools", words, "warning"))
            return guide.think(history, system=self.system(), stream=self.streams, model=model, **self.persona.options)

        return again

    def _without_pictures(self, guide: AsyncGuide, model: str | None, options: dict[str, Any]) -> Callable[[], AsyncReply]:
        """The same call with the words only, said once: a server that takes no pictures fails every message that carries them."""

        def again() -> AsyncReply:
            left_out = self.pictures_in(self.payload())
            self.pictures_refused = True
            words = (
                f"This server failed on the {left_out} picture{'s' if left_out != 1 else ''} in this conversation, "
                "so the words go without them from now on (until the server changes)."
            )
            self.emit(Notice("Pictures", words, "warning"))
            return guide.think(self.payload(), system=self.system(), stream=self.streams, model=model, **options)

        return again

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
                data["tools"] = exchange.tools_used
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

        if (
            self.surface == Gentle.respond
            and isinstance(exchange.error, NotOffered)
            and exchange.error.action == Gentle.respond
            and not exchange.text
        ):
            self.leave_respond("This server does not offer respond (POST /v1/responses)")

    def leave_respond(self, why: str) -> None:
        """Go back to think because the server in force has no respond: a divider, and one notice that names /respond."""
        self.switch_surface(Gentle.think)
        words = f"{why}, so the next messages go through think again; /respond on when a server offers it. Your words are kept."
        self.emit(Notice("Respond", words, "warning"))

    def require_guide(self) -> AsyncGuide:
        """The client; a conversation with none cannot call."""
        if self.guide is None:
            raise RuntimeError("This conversation has no client to call with.")
        return self.guide

    # The persona and the models.

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
        """Show a change as a divider. Changed again before anything was said, the last divider is replaced
        (or taken away, when the change is undone): dividers never stack."""
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
        """The branch in view as Markdown, exactly as it was shown (blocks and dividers too), under its title (else its first
        words); with `every_branch`, each other branch follows it, under a heading naming the turn it follows."""
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
