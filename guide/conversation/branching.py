"""The branch in view: windows over it (the transcript's), and moving between branches (switch, search, compare)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import BranchShown, TurnAdded
from .keeping import NEWER_PAGE, RESUME_PAGE, Keeping
from .turns import Turn

if TYPE_CHECKING:
    from guide.client import Trace


class Branching(Keeping):
    """Which branch is in view, and the others of the tree."""

    # A window over the branch in view (the transcript's): asked by turn, as indices move when older turns are read in.

    def _at(self, turn: Turn) -> int | None:
        """Where a turn held is, looking from the end (where turns are added)."""
        return next((index for index in range(len(self.turns) - 1, -1, -1) if self.turns[index] is turn), None)

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

    async def answers(self, turn: Turn) -> list[tuple[Turn | None, Trace | None]]:
        """For each version of a turn, oldest first (what a comparison of branches sets side by side): the reply that answered
        it the way its branch was last seen (itself, for a reply), and that reply's call (None where there is none, or not kept)."""
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

    def _show_again(self, kept: int, path: list[Turn], more: bool = False) -> None:
        """Show a branch (remembered by the store): the turns held up to `kept`, then `path` (the store holding `more` after it).
        Turns only added back (a reply asked again with no answer) are said as added: the transcript knows the rest."""
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
