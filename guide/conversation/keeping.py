"""The conversation kept in the store: turns in and out, filed from its first message, and the branch in view read back a
page at a time. Writes are queued to the store's writer and return at once; reads run in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .events import OlderLoaded, TurnAdded, TurnRemoved
from .state import ConversationState
from .turns import Turn

if TYPE_CHECKING:
    from guide.store import Store

RESUME_PAGE = 200
"""Turns read when a conversation opens (the transcript mounts only the last few)."""
OLDER_PAGE = 1000
"""Turns read from the store at a time, going back."""
NEWER_PAGE = 50
"""Turns of a branch read from the store at a time, going on from where it was opened (at its branch point)."""


class Keeping(ConversationState):
    """The turns of the branch in view, and their link to the store."""

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
        kept = {name: getattr(turn, name) for name in ("kind", "persona", "model", "state", "trace_id", "data", "parent")}
        self.store.add_message(self.uid, turn.uid, turn.role, turn.content, **kept)
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

    async def _caught_up(self) -> int | None:
        """The conversation's id in the store, once every write queued so far has landed (its tree is read next)."""
        store = self.store
        if store is None or not self.stored:
            return None
        await store.read(store.flush)
        return self.stored_id or await store.read(store.id_of, self.uid)  # begun in this session: known by its uid
