"""Responses the companion keeps (`store: true`, the Responses API's default), so `previous_response_id` and GET /v1/responses/{id} work.

In memory only, and bounded: the newest 256, and no more than 8 MB of
text in all (the oldest go first). A response that is gone, or never was,
is a 404 in OpenAI's shape, as OpenAI answers an id it does not know.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .limits import Refusal

MOST_KEPT = 256
MOST_BYTES = 8 * 1024 * 1024
"""Characters of conversation kept in all, at most (a response carries its whole conversation, so long chains weigh most)."""


class StoredResponses:
    """Each kept Response, with the conversation it ended (its input, then its reply) for the next turn to continue."""

    def __init__(self, most: int = MOST_KEPT, most_bytes: int = MOST_BYTES) -> None:
        self.most, self.most_bytes = most, most_bytes
        self.kept: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]], int]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()  # kept from the event loop and read from it; one lock keeps the count honest

    def keep(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        """Keep a finished Response and the conversation (without instructions: they do not carry over) that it ended."""
        weight = sum(len(str(m.get("content") or "")) for m in conversation) + len(str(response))
        with self.lock:
            self.kept[response["id"]] = (response, conversation, weight)
            self.size += weight
            while self.kept and (len(self.kept) > self.most or self.size > self.most_bytes):
                _, (_, _, gone) = self.kept.popitem(last=False)
                self.size -= gone

    def response(self, ident: str, param: str | None = None) -> dict[str, Any]:
        """The kept Response, or a 404."""
        return self._found(ident, param)[0]

    def conversation(self, ident: str) -> list[dict[str, Any]]:
        """The conversation a kept Response ended, for `previous_response_id`; a 404 naming the field if it is not kept."""
        return list(self._found(ident, "previous_response_id")[1])

    def _found(self, ident: str, param: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self.lock:
            found = self.kept.get(ident)
        if found is None:
            shown = ident if len(ident) <= 80 else ident[:80] + "…"
            raise Refusal(
                404,
                f"No response with id '{shown}' is kept here (this companion keeps the last {self.most} responses made with store: true, "
                "in memory, until it stops).",
                param=param,
                code="response_not_found",
            )
        return found[0], found[1]
