"""`guide serve` beyond loopback: a key, or it does not start (issue 23, item 10)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from test_companion import free_port, serve


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_serve_beyond_loopback_without_a_key_refuses_to_start_and_says_how(host: str) -> None:
    port = free_port()
    env = {**os.environ, "GUIDE_GGUF": "none", "GUIDE_SERVE_KEY": ""}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "guide", "serve", "--host", host, "--port", str(port)], capture_output=True, text=True, env=env, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`guide serve --host {host}` without a key started serving")
    assert result.returncode == 2, result.stderr
    assert "a key is required" in result.stderr and "GUIDE_SERVE_KEY=" in result.stderr and "--api-key" in result.stderr
    assert "leave --host out" in result.stderr
    assert "guide companion on" not in result.stdout and "Traceback" not in result.stderr


def test_serve_beyond_loopback_with_a_key_says_the_address_it_listens_on() -> None:
    key = "sk-companion-exposed-1234"
    for served in serve("--host", "0.0.0.0", env={"GUIDE_SERVE_KEY": key}):
        port = served.url.rsplit(":", 1)[1]
        first = served.output().splitlines()[0]
        assert first.startswith(f"guide companion on http://0.0.0.0:{port} "), first
        assert "warning" not in served.output()
        assert httpx.get(served.url + "/v1/models", timeout=5).status_code == 401
        assert httpx.get(served.url + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=5).status_code == 200
