"""Shared fixtures: a loopback server, the OpenAPI spec, a clean environment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the user's key, server or folders; a companion the app starts listens on a free port, and is stopped after."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GUIDE_MODEL", "GUIDE_PERSONA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GUIDE_HOME", str(tmp_path / "guide-home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / ".local" / "share"))
    monkeypatch.setenv("GUIDE_COMPANION_PORT", str(free_port()))  # never 8765: other runs of the tests share this machine
    yield
    stop_companions(tmp_path / "guide-home" / "data" / "companion")


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_companions(folder: Path, deadline: float = 10.0) -> None:
    """Stop every companion whose record is in this data folder (by pid): SIGTERM, then SIGKILL after the deadline."""
    pids = set()
    for record in folder.glob("*.json"):
        try:
            pids.add(int(json.loads(record.read_text())["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    ends = time.monotonic() + deadline
    for pid in pids:
        while alive(pid) and time.monotonic() < ends:
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether the process runs (a child of ours that ended is reaped here)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A fresh loopback server, closed after the test."""
    with LoopbackServer() as running:
        yield running


@pytest.fixture(scope="module")
def companion() -> Iterator[str]:
    """guide's companion as the app starts it (the reflective listener, hashed word vectors), on loopback; its address."""
    from guide.companion.running import start

    running = start("none")
    try:
        yield running.url
    finally:
        running.stop()


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """The official OpenAI OpenAPI spec, cut to guide's routes (guide/learn/openapi.compact.json: see its SOURCE.txt).

    Read afresh, not guide.learn's cached copy, so nothing a test does to it changes what guide explains.
    """
    from guide.learn.spec_cut import COMPACT

    return json.loads(COMPACT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def run_guide() -> Any:
    """Run `python -m guide ARGS` as a user would (env vars as keywords)."""
    import subprocess
    import sys

    def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "guide", *args],
            input=stdin if stdin is not None else "",  # never the test runner's own stdin: `guide ask` reads a pipe
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )

    return run
