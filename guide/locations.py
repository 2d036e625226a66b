"""Where guide keeps things: the one place config and data paths come from. `GUIDE_HOME` (or `--home`) puts both under one
folder (`config/`, `data/`); else XDG on Linux, Application Support on macOS, %APPDATA% on Windows. Folders are made
readable by the user only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "guide"


def home() -> Path | None:
    """The folder GUIDE_HOME names, if any."""
    value = os.environ.get("GUIDE_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """The folder for config.toml and the user's personas."""
    root = home()
    if root is not None:
        return root / "config"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / APP
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP


def data_dir() -> Path:
    """The folder for conversations, traces and saved images and sounds."""
    root = home()
    if root is not None:
        return root / "data"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP / "data"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / APP
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP


def settings_file() -> Path:
    """config.toml."""
    return config_dir() / "config.toml"


def user_personas_dir() -> Path:
    """The user's own personas, one TOML file each."""
    return config_dir() / "personas"


def ensure_private(folder: Path) -> Path:
    """Create the folder, and each parent it lacks, readable by the user only (folders that exist keep their mode but the last)."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for made in reversed(missing):
        made.mkdir(mode=0o700, exist_ok=True)
        _chmod(made, 0o700)  # mkdir's mode is narrowed by the umask, never widened: say it exactly
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # raises the error that says why
    _chmod(folder, 0o700)
    return folder


def _chmod(path: Path, mode: int) -> None:
    try:
        path.chmod(mode)
    except OSError:
        pass


def write_private_bytes(path: Path, data: bytes) -> Path:
    """Write a new file readable by the user only (0600), in a private folder."""
    ensure_private(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    _chmod(path, 0o600)
    return path


def append_private(path: Path, text: str) -> None:
    """Append to a file readable by the user only (0600)."""
    ensure_private(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(text)


def write_private(path: Path, text: str) -> None:
    """Write a file atomically (a temporary file, then rename), mode 0600. A symbolic link (a config.toml kept with the
    user's dotfiles) is written through: the link stays, its target gets the text."""
    if path.is_symlink():
        path = path.resolve()  # the target's folder is the user's, not ours: its mode is left alone
    else:
        ensure_private(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
