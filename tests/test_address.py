"""Base addresses and keys: the version is added once, as the SDK reads the env."""

from __future__ import annotations

import pytest
from loopback import LoopbackServer

from guide import Guide
from guide.client import api_base, display_address


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://localhost:11434", "http://localhost:11434/v1"),
        ("http://localhost:11434/", "http://localhost:11434/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1"),
        ("https://generativelanguage.googleapis.com/v1beta/openai", "https://generativelanguage.googleapis.com/v1beta/openai"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
        ("https://example.com/proxy", "https://example.com/proxy/v1"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://host/v2", "http://host/v2"),
    ],
)
def test_the_version_is_added_only_where_it_is_missing(given: str, base: str) -> None:
    assert api_base(given) == base


def test_the_address_is_shown_without_the_version() -> None:
    assert display_address("http://localhost:11434/v1") == "http://localhost:11434"
    assert Guide(base_url="http://localhost:11434/").address == "http://localhost:11434"


def test_defaults_come_from_the_environment_as_the_sdk_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment-1234")
    ai = Guide()
    assert ai.base_url == "http://127.0.0.1:1234/v1"
    assert ai.api_key == "sk-from-environment-1234"


def test_without_anything_the_default_is_openai() -> None:
    assert Guide().base_url == "https://api.openai.com/v1"


def test_no_key_sends_no_authorization_header(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model") as ai:
        ai.think("Hi")
    assert "authorization" not in server.requests[-1].headers


def test_a_key_is_sent_as_a_bearer_token(server: LoopbackServer) -> None:
    with Guide(base_url=server.url, model="loopback-model", api_key="sk-abc") as ai:
        ai.think("Hi")
    assert server.requests[-1].headers["authorization"] == "Bearer sk-abc"
