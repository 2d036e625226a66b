"""Errors: one tree, each with a calm title, a hint, and the raw reply attached.

GuideError
├── CannotConnect        nothing answered at the address
├── TimedOut             the server took too long
├── KeyRefused           401 / 403
├── NotOffered           404, or LM Studio's 200 "Unexpected endpoint"
├── ModelNotFound        404 model_not_found
├── RequestRefused       another 4xx: the server did not accept the request
│   ├── PicturesNotTaken  the model or server takes no pictures
│   └── ToolsNotTaken     the server takes no tools
├── RateLimited          429
├── ServerFailed         5xx, or an error object inside a stream
├── ReplyNotUnderstood   not JSON, or not the shape the spec gives
├── ReplyTooLarge        the reply was larger than guide reads
├── Redirected           a 3xx: the server pointed elsewhere (guide does not follow)
├── StreamBrokeOff       the stream closed before [DONE]
├── NoModel              no model was named and the server lists none
├── ToolsWentOn          run_tools: the model still asked for tools after the last round
└── UnusableAddress      not an http(s) address: refused before any request
"""

from __future__ import annotations

from typing import Any


class GuideError(Exception):
    """Something went wrong on a call; `title` says what, `hint` what to try."""

    title = "Something went wrong."
    hint = "Try again in a moment."

    def __init__(
        self,
        title: str | None = None,
        *,
        hint: str | None = None,
        status: int | None = None,
        body: Any = None,
        url: str = "",
        action: str = "",
        partial: str = "",
        detail: str = "",
    ) -> None:
        if title is not None:
            self.title = title
        if hint is not None:
            self.hint = hint
        self.detail = detail
        """The server's own words about it (or what guide saw), in one line."""
        self.status = status
        """The HTTP status, where the server answered."""
        self.body = body
        """The raw legacy error: parsed JSON where it was JSON, else text."""
        self.url = url
        self.action = action
        self.partial = partial
        """What had arrived of a streamed reply before the failure."""
        self.trace: Any = None
        """The Trace of the failed call (set by the driver)."""
        super().__init__(self.title)

    def __str__(self) -> str:
        return self.title

    def explain(self) -> str:
        """Title, the server's words and the hint, one per line."""
        lines = [self.title]
        if self.detail:
            lines.append(f"The server said: {self.detail}")
        lines.append(self.hint)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The error as plain data, for a trace."""
        return {"type": type(self).__name__, "title": self.title, "hint": self.hint, "detail": self.detail, "status": self.status, "body": self.body}


class CannotConnect(GuideError):
    """Nothing answered at the address."""

    title = "Could not reach the server."
    hint = "Check that it is running and the address is right."


class TimedOut(GuideError):
    """The server accepted the call but took too long to answer."""

    title = "The server took too long to answer."
    hint = "It may be busy or loading a model; try again, or raise the timeout."


class KeyRefused(GuideError):
    """401 / 403: the key is missing, wrong, or not allowed this call."""

    title = "The server refused the key."
    hint = "Set OPENAI_API_KEY (or the variable named in settings) to a valid key."


class NotOffered(GuideError):
    """The server has no such endpoint."""

    title = "This server does not offer that action."
    hint = "Try another action, or a server that offers this one (guide probe URL)."


class ModelNotFound(GuideError):
    """The server has the endpoint but not the named model."""

    title = "The server has no model by that name."
    hint = "Pick one the server lists: its catalog (GET /v1/models) names them."


class RequestRefused(GuideError):
    """Another 4xx: the server understood the call and declined it."""

    title = "The server did not accept the request."
    hint = "The server's words say which part it objected to; the call's raw error is kept whole with it."


class RateLimited(GuideError):
    """429: too many calls, or the quota is spent."""

    title = "The server asks us to slow down."
    hint = "Wait a little and try again; check the account's quota if it persists."


class ServerFailed(GuideError):
    """5xx, or an error the server reported inside a stream."""

    title = "The server ran into a problem."
    hint = "Try again; if it persists, the server's own log will say more."


class ReplyNotUnderstood(GuideError):
    """The reply was not JSON, or not the shape the OpenAI spec gives."""

    title = "The server's reply was not understood."
    hint = "Is the address an OpenAI-compatible API? The raw reply is attached."


class StreamBrokeOff(GuideError):
    """The stream closed before `data: [DONE]`; `partial` keeps what came."""

    title = "The reply broke off before it finished."
    hint = "What arrived is kept; try again to get the rest."


class NoModel(GuideError):
    """No model was named, and the server's catalog lists none."""

    title = "No model to use."
    hint = "Name one with model=..., or load one into the server."


class ReplyTooLarge(GuideError):
    """The reply went past the most guide reads (a body, a stream, or a picture)."""

    title = "The server's reply was too large."
    hint = "guide stopped reading it. Ask for less (max_tokens, fewer images), or check the server."


class Redirected(GuideError):
    """A 3xx: the server sent guide to another address, which guide does not follow."""

    title = "The server redirected the call elsewhere."
    hint = "guide does not follow redirects. If you trust the new address, use it as the server's address."


class UnusableAddress(GuideError):
    """The address is not one guide can send to (not http or https, or malformed)."""

    title = "guide cannot use that server address."
    hint = "Give an http:// or https:// address, such as http://127.0.0.1:11434."


class PicturesNotTaken(RequestRefused):
    """A think call carried a picture, and the server refused it for that (a model without vision)."""

    title = "This model does not take pictures."
    hint = "Choose a vision model (llama.cpp needs its --mmproj file), or send the words without the picture."


class ToolsNotTaken(RequestRefused):
    """A think call offered tools, and the server refused it for that."""

    title = "This server does not take tools."
    hint = "Choose a model or server that calls tools (llama.cpp needs --jinja), or ask without them."


class ToolsWentOn(GuideError):
    """With run_tools, the model was still asking for tools when the rounds ran out."""

    title = "The model kept asking for tools."
    hint = "guide stopped the round trips there. Ask more plainly, or offer fewer tools."
