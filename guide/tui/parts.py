"""What the app's parts share: the state they read, declared once for the type checker."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from textual.app import App

if TYPE_CHECKING:
    from guide import config, personas
    from guide.client import AsyncGuide, GuideError, Trace
    from guide.store import Store
    from guide.tui.screens.chat import ChatScreen
    from guide.tui.session import Session


class Parts(App[None]):
    """The base of GuideApp and of the parts it is written in (choices, history)."""

    if TYPE_CHECKING:
        flags: dict[str, Any]
        loaded: config.Loaded
        settings: config.Settings
        shelf: personas.PersonaShelf
        session: Session
        chat: ChatScreen
        calls: Counter[str]
        support: dict[str, Any] | None
        streaming: bool
        answering: Any
        store_problem: str | None
        _guide: AsyncGuide | None
        _unfiled: list[Trace]

        @property
        def guide(self) -> AsyncGuide: ...

        @property
        def store(self) -> Store | None: ...

        async def ready(self) -> None: ...

        def refresh_status(self) -> None: ...

        def server_address(self) -> str: ...

        def explain(self, error: GuideError, what: str) -> None: ...

        async def show_session(self, fetch_older: Any = None) -> None: ...

        def action_stop(self) -> None: ...
