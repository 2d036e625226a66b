"""The server's address: checked (only http and https, refused before any request), versioned once, never shown with its secrets.

`api_base` adds `/v1` unless the address ends in a version already (`/v1`, `/v1beta/openai`, `/openai/v1`); a query
follows the action's path. Credentials in an address (`user:secret@`, `?api-key=`) are sent as given; everything a
person or a file sees (traces, snippets, errors, repr, settings) gets `redact_url`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from ._errors import UnusableAddress
from ._map import API_VERSION, Action

SCHEMES = ("http", "https")
REDACTED = "••••"
PUBLIC_QUERY = frozenset({"api-version", "api_version", "version"})
"""Query parameters that are settings, not secrets (Azure's api-version)."""
SHORTEST_SECRET = 4
"""Shorter credentials are redacted in addresses but not hunted for in text (they would match ordinary words)."""

_VERSIONED = re.compile(r"/v\d+[a-z0-9]*(/openai)?$|/openai/v\d+[a-z0-9]*$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _split(address: str) -> tuple[str, str, str, str, str]:
    """The parts of an http(s) address, or UnusableAddress saying why not."""
    given = address.strip()
    if not given:
        raise _unusable(address, "it is empty")
    if _UNSAFE.search(given):
        raise _unusable(address, "it contains spaces or control characters")
    if "://" not in given:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)", given):  # javascript:…, mailto:… (but not host:port)
            raise _unusable(address, f"'{given.split(':', 1)[0]}:' is not http or https")
        given = "http://" + given
    try:
        parts = urlsplit(given)
        port = parts.port  # a port that is not a number raises here
    except ValueError as error:
        raise _unusable(address, f"it is not a well-formed URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _unusable(address, f"'{scheme}://' is not http or https")
    if not parts.hostname:
        raise _unusable(address, "it names no host")
    del port
    return scheme, parts.netloc, parts.path, parts.query, ""


def _unusable(address: str, why: str) -> UnusableAddress:
    return UnusableAddress(f"guide cannot use the server address {redact_url(address)!r}.", detail=f"The address was refused: {why}.")


def check_address(address: str) -> str | None:
    """Why guide cannot use this address, or None if it can."""
    try:
        _split(address)
    except UnusableAddress as error:
        return error.detail.removeprefix("The address was refused: ").rstrip(".")
    return None


def api_base(address: str) -> str:
    """The base every legacy path hangs from: the address with its API version (credentials kept)."""
    scheme, netloc, path, query, _ = _split(address)
    path = path.rstrip("/")
    if not _VERSIONED.search(path):
        path = f"{path}/{API_VERSION}"
    return urlunsplit((scheme, netloc, path, query, ""))


def url_for(base: str, action: Action) -> str:
    """The full legacy URL of an action on a base that already has its version (its query after the path)."""
    head, mark, query = base.partition("?")
    return head + action.path + mark + query


def redact_url(url: str) -> str:
    """The URL as it may be shown: no user or password, and secret query values hidden."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (an invalid port raises here, as it would for a request)
    except ValueError:
        return re.sub(r"//[^/@]*@", f"//{REDACTED}@", url.split("?", 1)[0])
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{quote(name)}={quote(value) if name.lower() in PUBLIC_QUERY else REDACTED}" for name, value in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url: str) -> tuple[str, ...]:
    """The credentials an address carries (user, password, secret query values), to hunt for in text."""
    try:
        parts = urlsplit(url.strip() if "://" in url else "http://" + url.strip())
        found = [parts.username or "", parts.password or ""]
        found += [value for name, value in parse_qsl(parts.query, keep_blank_values=True) if name.lower() not in PUBLIC_QUERY]
    except ValueError:
        return ()
    found += [quote(secret, safe="") for secret in found]  # as they may appear, encoded, in a URL
    return tuple(sorted({secret for secret in found if len(secret) >= SHORTEST_SECRET}, key=len, reverse=True))


def display_address(address: str) -> str:
    """The address as people give it, without the version guide adds, and without its secrets."""
    try:
        base = redact_url(api_base(address))
    except UnusableAddress:
        base = redact_url(address.strip())
    head, mark, query = base.partition("?")
    head = head.rstrip("/")
    suffix = f"/{API_VERSION}"
    return (head[: -len(suffix)] if head.endswith(suffix) else head) + mark + query
