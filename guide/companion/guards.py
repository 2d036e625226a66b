"""The companion's door: who may knock, checked before any route sees a request.

Any local process, and any web page the user opens, can reach a loopback port: a page's cross-site POST carries an
`Origin`, a DNS-rebinding page puts its own name in `Host`. So a request is refused when
- its Host is not a name this server answers to (421, 400 without one): on loopback the loopback names, on one address
  that address, on every address (0.0.0.0, ::) any IP literal and `localhost` (rebinding needs a name), and --allow-host's;
- it carries an Origin (`null` included) that --allow-origin did not name (403; only allowed origins get CORS answers);
- it has no Origin but `Sec-Fetch-Site: cross-site` or `same-site` (an <img>, a no-cors GET): 403 too, as it would go
  on with the server's key (a relay's upstream key);
- a key is set and the request does not carry it as a bearer token (401)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .limits import refuse

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
EVERYWHERE = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str | None:
    """The name or address in a Host header, port and IPv6 brackets taken off; None when it is malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        name, bracket, port = header[1:].partition("]")
        if not bracket:
            return None
    else:
        name, _, rest = header.partition(":")
        port = ":" + rest if ":" in header else ""
    if port and not (port.startswith(":") and port[1:].isdigit()):
        return None
    return name or None


def is_address(name: str) -> bool:
    """Whether a name is an IP literal."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostRule:
    """The Host names a server bound to `bound` answers to."""

    def __init__(self, bound: str, allowed: Iterable[str] = ()) -> None:
        self.bound = bound.strip("[]").lower()
        self.allowed = {name.strip("[]").lower() for name in allowed}
        if is_loopback(self.bound):
            self.allowed |= LOOPBACK_NAMES
        if self.bound not in EVERYWHERE:
            self.allowed.add(self.bound)

    def admits(self, name: str) -> bool:
        """Whether a request under this name is for us."""
        if name in self.allowed:
            return True
        if self.bound in EVERYWHERE:
            return name == "localhost" or is_address(name)
        return False

    @property
    def described(self) -> str:
        """The names, as the refusal says them."""
        if self.bound in EVERYWHERE:
            return "IP addresses, localhost" + "".join(f", {name}" for name in sorted(self.allowed))
        return ", ".join(f"[{name}]" if ":" in name else name for name in sorted(self.allowed))


class Guard:
    """Host, Origin and the key, checked in front of everything (CORS only for the origins allowed)."""

    def __init__(
        self, app: ASGIApp, *, bound: str, allow_hosts: Iterable[str] = (), allow_origins: Iterable[str] = (), api_key: str | None = None
    ) -> None:
        self.hosts = HostRule(bound, allow_hosts)
        self.origins = frozenset(origin.rstrip("/") for origin in allow_origins)
        self.key = api_key.encode() if api_key else None
        self.app: ASGIApp = app
        if self.origins:
            self.app = CORSMiddleware(app, allow_origins=sorted(self.origins), allow_methods=["GET", "POST"], allow_headers=["*"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        refusal = self.check_host(headers.get(b"host")) or self.check_origin(headers.get(b"origin"))
        if refusal is None and b"origin" not in headers:
            refusal = self.check_fetch_site(headers.get(b"sec-fetch-site"))
        if refusal is None and self.key is not None and not is_preflight(scope, headers):
            refusal = self.check_key(headers.get(b"authorization", b""))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check_host(self, given: bytes | None) -> Any:
        if given is None:
            return refuse(400, "The request has no Host header.", code="host_missing")
        name = host_name(given.decode("latin-1"))
        if name is not None and self.hosts.admits(name):
            return None
        shown = given.decode("latin-1")[:100]
        return refuse(
            421,
            f"This server answers to {self.hosts.described}, not '{shown}'. Reached under another name? Start it with --allow-host NAME.",
            code="host_not_allowed",
        )

    def check_origin(self, given: bytes | None) -> Any:
        if given is None or given.decode("latin-1").rstrip("/") in self.origins:
            return None
        shown = given.decode("latin-1")[:100]
        return refuse(
            403,
            f"Requests from web pages ({shown}) are refused: any page you open could otherwise use this server. "
            "To let one in, start it with --allow-origin ORIGIN.",
            code="origin_not_allowed",
        )

    def check_fetch_site(self, given: bytes | None) -> Any:
        """A browser's request with no Origin (GETs in no-cors mode) still names where it came from; a program names nothing."""
        if given is None or given.strip().lower() not in (b"cross-site", b"same-site"):
            return None
        return refuse(
            403,
            "Requests from web pages are refused (this one came from another site, with no Origin): "
            "any page you open could otherwise use this server.",
            code="origin_not_allowed",
        )

    def check_key(self, given: bytes) -> Any:
        scheme, _, token = given.strip().partition(b" ")
        if scheme.lower() == b"bearer" and self.key is not None and hmac.compare_digest(token.strip(), self.key):
            return None
        return refuse(401, "The key is missing or wrong.", code="invalid_api_key")


def is_preflight(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """A CORS preflight (from an allowed origin, by now): browsers send it without the key."""
    return scope["method"] == "OPTIONS" and b"origin" in headers and b"access-control-request-method" in headers
