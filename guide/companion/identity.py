"""How guide knows its own companion: a secret in the private data folder, and a record of each one running.

Anything may answer at 127.0.0.1:8765: the app sends a conversation there only when `GET /guide/companion?nonce=N`
answers with `proof`, an HMAC of the nonce and the port under a secret only this user can read (0600). The port is
in the HMAC, so a program on another port passing the question on proves nothing. Other clients never need the
secret. Each companion writes `<port>.json` beside it (pid, port, who started it, its log), so it can be stopped by pid."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

PROOF_PATH = "/guide/companion"
"""The one route that is guide's own: it answers who this is, never anything of the user's."""
DEFAULT_PORT = 8765
RELAY_PORT = 8766
"""Where `guide watch` and `guide serve --relay` listen by default: beside the companion's 8765, so never a companion's next port."""


def folder() -> Path:
    """The companion's corner of the data folder (private)."""
    from guide.locations import data_dir

    return data_dir() / "companion"


def secret() -> bytes:
    """This user's companion secret: made once, readable by the user only."""
    from guide.locations import ensure_private

    path = ensure_private(folder()) / "secret"
    try:
        kept = path.read_bytes()
    except FileNotFoundError:
        kept = b""
    if len(kept) >= 32:
        return kept
    made = secrets.token_hex(32).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # two starting at once: one writes, both read it
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(made)
    return made


def proof(key: bytes, nonce: str, port: int) -> str:
    """What the companion on `port` answers to `nonce`."""
    return hmac.new(key, f"{nonce}:{port}".encode(), hashlib.sha256).hexdigest()


def proves(answer: Any, key: bytes, nonce: str, port: int) -> bool:
    """Whether an answer to the question is this user's companion on that port."""
    given = answer.get("proof") if isinstance(answer, dict) else None
    return isinstance(given, str) and hmac.compare_digest(given, proof(key, nonce, port))


def record_path(port: int) -> Path:
    return folder() / f"{port}.json"


def log_path(port: int) -> Path:
    """Where a companion the app starts writes what it says (its banner, its crashes)."""
    return folder() / f"{port}.log"


def write_record(port: int, pid: int | None = None, **facts: Any) -> Path:
    """Say that a companion runs on this port (its pid, this process's by default, and more)."""
    from guide.locations import write_private

    path = record_path(port)
    write_private(path, json.dumps({"pid": pid or os.getpid(), "port": port, **facts}))
    return path


def read_record(port: int) -> dict[str, Any] | None:
    """What the companion on a port wrote about itself, if it did."""
    try:
        found = json.loads(record_path(port).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("pid"), int) else None


def remove_record(port: int) -> None:
    """The companion on this port is stopping: its record goes (only its own)."""
    found = read_record(port)
    if found is not None and found.get("pid") == os.getpid():
        record_path(port).unlink(missing_ok=True)
