"""The server in force, in one place: its client, how it was found, what its probe found, the models chosen on it.

The session changes it, in one call that announces the change (`Switched`);
conversations, the header and the map read it, and keep no copy. Nothing
here imports httpx: the client is made only once who answers is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guide.models import ModelChoice

if TYPE_CHECKING:
    from guide.client import AsyncGuide, Trace
    from guide.connect import Answering


@dataclass
class Server:
    """Who answers now: the one home of the client, its address and key, and of the model chosen for each action."""

    client: AsyncGuide | None = None
    """The client: it derived the address (`client.address`) and holds the key. None until who answers is known."""
    answering: Answering | None = None
    """How it was found when the settings name no server (a local one, the companion); None when they name one."""
    support: dict[str, Any] | None = None
    """What its probe found (action → support, status, reason), for the map; None until probed."""
    calls: dict[str, Trace] = field(default_factory=dict)
    """The probe's calls by action: kept under the server, never in a conversation."""
    models: ModelChoice = field(default_factory=ModelChoice)

    @property
    def companion(self) -> Any:
        """guide's companion, when it is the one answering (supervise.Companion), else None."""
        return self.answering.companion if self.answering is not None else None
