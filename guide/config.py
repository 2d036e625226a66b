"""Settings: one config.toml, overridden for one run by environment and flags (flag, environment, file, default, strongest
first). guide never writes a key to the file: only the *name* of the variable that holds it (`api_key_env`).
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from .constants import DEFAULT_HISTORY
from .locations import settings_file, write_private

Source = Literal["flag", "environment", "file", "default"]


@dataclass(frozen=True)
class Settings:
    """The settings in force for this run."""

    provider: str | None = None
    """A provider preset (openai, ollama, lmstudio, llamacpp, vllm, localai)."""
    base_url: str | None = None
    """The server's address; wins over the provider's usual one."""
    model: str | None = None
    """The model to use; else the persona's preference, else the server's first."""
    persona: str = "calm-guide"
    """The persona the guide speaks as."""
    address: str | None = None
    """Whom the guide addresses; overrides the persona's own (Fira)."""
    theme: str | None = None
    """The terminal app's theme."""
    api_key_env: str = "OPENAI_API_KEY"
    """The name of the environment variable that holds the key."""
    gguf: str | None = None
    """A GGUF model file for the built-in companion (with the local extra)."""
    timeout: str | None = None
    """Seconds to wait on a server that says nothing, before giving up (default 120)."""
    history: str | None = None
    """Characters of the conversation sent with each message, the latest first (default 100000)."""
    companion_port: str | None = None
    """The port of guide's companion on 127.0.0.1 (default 8765), where the app finds it or starts it."""

    def server(self) -> str | None:
        """The address to talk to: base_url, else the provider's, else None."""
        if self.base_url or not self.provider:
            return self.base_url or None
        from guide.client import PROVIDERS

        preset = PROVIDERS.get(self.provider)
        return preset.base_url if preset else None

    def read_timeout(self) -> float:
        """The timeout in seconds (a value that is not a positive number counts as the default)."""
        return positive(self.timeout, DEFAULT_TIMEOUT)

    def history_budget(self) -> int:
        """How many characters of the conversation go with each message."""
        return int(positive(self.history, DEFAULT_HISTORY))

    def api_key(self) -> str | None:
        """The key, read from the environment variable named by api_key_env."""
        return os.environ.get(self.api_key_env) or None


DEFAULT_TIMEOUT = 120.0


def positive(value: str | None, default: float) -> float:
    """A setting that is a positive number, else the default."""
    try:
        number = float(value or default)
    except ValueError:
        return default
    return number if 0 < number < float("inf") else default


KEYS = tuple(f.name for f in fields(Settings))
ENVIRONMENT: dict[str, tuple[str, ...]] = {key: (f"GUIDE_{key.upper()}",) for key in KEYS}
ENVIRONMENT["base_url"] = ("GUIDE_BASE_URL", "OPENAI_BASE_URL")


@dataclass(frozen=True)
class Loaded:
    """Settings in force, where each came from, and any trouble with the file."""

    settings: Settings
    sources: dict[str, Source]
    path: Path
    problem: str | None = None
    """Why the file could not be read, if it could not."""
    mcp: bool = False
    """Whether the file has an `mcp` table: MCP servers are read from it (guide.mcp.settings) only then, not before every greeting."""


def read_file(path: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The file's table (unknown keys included), or ({}, why it can't be read)."""
    path = path or settings_file()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"{path} could not be read: {error}"
    except tomllib.TOMLDecodeError as error:
        return {}, f"{path} is not valid TOML: {error}"
    except RecursionError:
        return {}, f"{path} is not valid settings: its tables or arrays are nested too deeply to read."


def load(flags: dict[str, Any] | None = None, path: Path | None = None) -> Loaded:
    """The settings in force: flags over environment over file over defaults."""
    path = path or settings_file()
    table, problem = read_file(path)
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for key in KEYS:
        default = getattr(Settings(), key)
        from_env = next((os.environ[name] for name in ENVIRONMENT[key] if os.environ.get(name)), None)
        from_file = table.get(key)
        if flags and flags.get(key) is not None:
            values[key], sources[key] = flags[key], "flag"
        elif from_env is not None:
            values[key], sources[key] = from_env, "environment"
        elif isinstance(from_file, str) and from_file:
            values[key], sources[key] = from_file, "file"
        else:
            if from_file is not None and problem is None:
                problem = f"{path}: '{key}' should be text; it was ignored."
            values[key], sources[key] = default, "default"
    return Loaded(Settings(**values), sources, path, problem, mcp="mcp" in table)


def check(key: str, value: str) -> str | None:
    """Why `key = value` cannot be set, or None if it can."""
    if key in ("api_key", "key", "openai_api_key"):
        return "guide never writes a key to its settings. Put it in the environment variable named by api_key_env (OPENAI_API_KEY by default)."
    if key not in KEYS:
        return f"There is no setting called '{key}'. Known: {', '.join(KEYS)}."
    if key == "provider" and value:
        from guide.client import PROVIDERS

        if value not in PROVIDERS:
            return f"Unknown provider '{value}'. Known: {', '.join(PROVIDERS)}."
    if key == "api_key_env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return "api_key_env is the name of an environment variable, such as OPENAI_API_KEY."
    if key in ("timeout", "history") and value and positive(value, -1) == -1:
        return "timeout is a number of seconds, such as 120." if key == "timeout" else "history is a number of characters, such as 100000."
    if key == "companion_port" and value and not (value.isdigit() and 0 < int(value) < 65536):
        return "companion_port is a port number from 1 to 65535, such as 8765."
    if key in ("api_key_env", "base_url") and value.startswith(("sk-", "Bearer ")):
        return "That looks like a key. guide never writes keys to its settings."
    if key == "base_url" and value:
        return address_problem(value)
    if key == "theme" and value and theme_name(value) is None:
        return f"There is no theme called '{value}'. Themes: {', '.join(theme_names())}."
    if key == "persona" and value:
        from guide import personas

        if not personas.ID_PATTERN.fullmatch(value):
            return f"'{value}' is not a persona id (lower-case letters, digits, - or _). `guide personas` lists them."
        if value not in personas.load().personas:
            return f"There is no persona called '{value}'. `guide personas` lists them."
    return None


def theme_names() -> list[str]:
    """The themes the app can show (Textual's built-in ones), without starting an app."""
    from textual.theme import BUILTIN_THEMES  # only when a theme is named: reading the settings stays light

    return sorted(BUILTIN_THEMES)


def theme_name(value: str) -> str | None:
    """The theme's own name for what the user wrote, or None. Case, spaces and underscores are forgiven ("Tokyo Night" →
    tokyo-night): Textual's names are all lower-case with hyphens, so no two themes can be confused."""
    name = re.sub(r"[\s_]+", "-", value.strip().lower())
    return name if name in theme_names() else None


def address_problem(address: str) -> str | None:
    """Why this server address cannot be kept in the settings, or None if it can."""
    from guide.client.internal import check_address, url_secrets

    why = check_address(address)
    if why:
        return f"guide cannot use that server address: {why}. Give an http:// or https:// address, such as http://127.0.0.1:11434."
    if url_secrets(address) or "@" in address.split("://", 1)[-1].split("/", 1)[0]:
        return (
            "That address carries a password or key (user:password@ or ?key=…), and guide never writes secrets to its settings. "
            "Put the key in the variable named by api_key_env, or give the address for one run with --base-url or GUIDE_BASE_URL."
        )
    return None


def canonical(key: str, value: str) -> str:
    """The value as it is kept: a theme by its own name ("Nord" → nord), anything else as given."""
    return (theme_name(value) or value) if key == "theme" else value


def write(changes: dict[str, str | None], path: Path | None = None) -> str | None:
    """Change settings in the file at once, keeping keys guide doesn't know; None (or "") removes a key. A file that could
    not be parsed is never overwritten: it is kept as config.toml.broken-<timestamp>, and the returned message says so."""
    path = path or settings_file()
    table, problem = read_file(path)
    notice = None
    if problem is not None and path.exists():
        kept = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(kept)
        notice = f"Your settings file could not be read, so it was kept as {kept} and a new one was written."
    for key, value in changes.items():
        reason = check(key, value or "")
        if reason:
            raise ValueError(reason)
        if value:
            table[key] = canonical(key, value)
        else:
            table.pop(key, None)
    import tomli_w  # only when writing: launch stays light

    write_private(path, tomli_w.dumps(table))
    return notice
