"""The conversation's branches: which turns are versions of one another, and the way down a branch made here.

Each turn follows its parent (`Turn.parent`, a uid; "" for a first turn); the turns held are the branch in view. Only
what switching needs is kept in memory: the branch points (the store's, read as the conversation opens, and the ones
made since) and the turns made since it opened. A branch read from the store is walked there (`Store.branch`): a long
tree is never held whole.
"""

from __future__ import annotations

from .turns import Turn


class Tree:
    """The branch points of a conversation, and the turns made while it is open."""

    def __init__(self, forks: dict[str, list[str]] | None = None) -> None:
        self.forks: dict[str, list[str]] = forks or {}
        """Each branch point: its uid ("" for the first turns) and its children's, oldest first."""
        self.made: dict[str, Turn] = {}
        """The turns made while the conversation is open, by uid: all that follows them is made here too."""
        self.below: dict[str, list[Turn]] = {}
        """The turns made here that follow each turn (by its uid), oldest first."""
        self.left: dict[str, int] = {}
        """When each turn last left the view (a count): going back down a branch finds the way it was left."""

    def grow(self, turn: Turn, version_of: Turn | None = None) -> None:
        """Keep a turn just made; `version_of` is the turn it is another version of (an edit, a reply asked again)."""
        self.made[turn.uid] = turn
        self.below.setdefault(turn.parent, []).append(turn)
        if version_of is not None:
            self.forks.setdefault(turn.parent, [version_of.uid])
        if turn.parent in self.forks and turn.uid not in self.forks[turn.parent]:
            self.forks[turn.parent].append(turn.uid)

    def forget(self, turn: Turn) -> None:
        """A turn taken away (words never answered, a divider undone): it is no version of anything any more."""
        self.made.pop(turn.uid, None)
        if turn in self.below.get(turn.parent, []):
            self.below[turn.parent].remove(turn)
        versions = self.forks.get(turn.parent)
        if versions is not None and turn.uid in versions:
            versions.remove(turn.uid)
            if len(versions) < 2:
                del self.forks[turn.parent]

    def leave(self, turns: list[Turn]) -> None:
        """These turns leave the view (another branch is shown)."""
        now = max(self.left.values(), default=0) + 1
        for turn in turns:
            self.left[turn.uid] = now

    def versions(self, turn: Turn) -> list[str]:
        """The uids of a turn's versions (itself among them), oldest first."""
        return self.forks.get(turn.parent) or [turn.uid]

    def down(self, uid: str) -> list[Turn] | None:
        """The branch from a turn made here to its end, the way it was last seen at each branch point (else its latest
        version); None for a turn read from the store (its branch is read there)."""
        turn = self.made.get(uid)
        if turn is None:
            return None
        path = [turn]
        while following := self.below.get(path[-1].uid):
            path.append(max(reversed(following), key=lambda version: self.left.get(version.uid, 0)))
        return path


def other_branches(every: list[Turn], shown: list[Turn]) -> list[tuple[Turn | None, list[Turn]]]:
    """Each branch of `every` turn that is not `shown` (the branch in view, whole): the turn it follows (None for the
    first turns) and its turns to the end, taking the latest version at each branch point, in the order they are met."""
    by_uid = {turn.uid: turn for turn in every}
    below: dict[str, list[Turn]] = {}
    for turn in every:
        below.setdefault(turn.parent, []).append(turn)
    done = {turn.uid for turn in shown}
    found: list[tuple[Turn | None, list[Turn]]] = []
    paths = [shown]
    while paths:
        for turn in paths.pop(0):
            for version in below.get(turn.parent, []):
                if version.uid in done:
                    continue
                branch = [version]
                while below.get(branch[-1].uid):
                    branch.append(below[branch[-1].uid][-1])
                done.update(each.uid for each in branch)
                found.append((by_uid.get(turn.parent), branch))
                paths.append(branch)
    return found
