"""Where guide keeps things: the one place config and data paths come from.

`GUIDE_HOME` (or `--home`) puts both under one folder: `config/` and `data/`.
Otherwise the platform's conventions: XDG on Linux, Application Support on
macOS, %APPDATA% on Windows. Folders are created readable by the user only.
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
    """Create the folder (and its parents) readable by the user only."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        folder.chmod(0o700)
    except OSError:
        pass
    return folder


def write_private(path: Path, text: str) -> None:
    """Write a file atomically (a temporary file, then rename), mode 0600."""
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
