"""Shared fixtures: a loopback server, the OpenAPI spec, a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer

SPEC = Path(__file__).resolve().parents[2] / "shared" / "openai-openapi" / "openapi.yaml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's key, server or folders."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GUIDE_MODEL", "GUIDE_PERSONA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GUIDE_HOME", str(tmp_path / "guide-home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / ".local" / "share"))


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
    """The official OpenAI OpenAPI spec."""
    yaml = pytest.importorskip("yaml")
    if not SPEC.exists():
        message = f"the OpenAPI spec is not at {SPEC}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI lays shared/ beside the clone; without it these checks cannot run)")
        pytest.skip(message)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open() as handle:
        return yaml.load(handle, Loader=loader)  # type: ignore[no-any-return]


@pytest.fixture
def run_guide() -> Any:
    """Run `python -m guide ARGS` as a user would (env vars as keywords)."""
    import subprocess
    import sys

    def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "guide", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        )

    return run
