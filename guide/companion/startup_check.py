"""Before `guide serve` announces a model: can its engine make one token without crashing?

llama-cpp-python's default build may die with SIGSEGV on the first token on some CPUs (AMX on Sapphire Rapids
cloud VMs), taking its process with it. So the token is made in a child (`python -m guide.companion.startup_check
FILE`): if it dies or fails, the companion serves the reflective listener and says why, and how to rebuild."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .engines import Engines, HashedWords, LlamaEngine, ReflectiveListener
from .supervise import CRASHES, signal_name

CHECK_SECONDS = 180.0
"""Loading a model from a slow disk and making one token; a check that takes longer counts as failed."""
REBUILD = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir llama-cpp-python'


def how_it_ended(code: int) -> str:
    """A child's exit status in words ("killed by SIGSEGV (a crash)")."""
    if code >= 0:
        return f"exited with status {code}"
    name = signal_name(code)
    return f"was killed by {name}" + (" (a crash)" if name in CRASHES else "")


def check(engines: Engines) -> tuple[Engines, str | None]:
    """The engines to serve, and why the model was set aside (None when it made its token, or there is no model)."""
    engine = engines.think
    if not isinstance(engine, LlamaEngine):
        return engines, None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "guide.companion.startup_check", str(engine.path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHECK_SECONDS,
        )
    except subprocess.TimeoutExpired:
        why = f"it made no token in {CHECK_SECONDS:g} s"
    else:
        if done.returncode == 0:
            return engines, None
        said = [line for line in done.stderr.strip().splitlines() if line.strip()]
        why = f"the engine {how_it_ended(done.returncode)} making its first token" + (f": {said[-1].strip()[:200]}" if said else "")
    listener = Engines(think=ReflectiveListener(), understand=HashedWords(), speak=engines.speak, listen=engines.listen)
    words = (
        f"The model {engine.path.name} could not answer here ({why}), so the companion serves the reflective listener.\n"
        f"If llama-cpp-python was built for another CPU, rebuild it for this one:\n  {REBUILD}"
    )
    return listener, words


def main(argv: list[str]) -> int:
    """The child: load the model and make one token."""
    engine = LlamaEngine(Path(argv[0]))
    generation = engine.chat([{"role": "user", "content": "Hello"}], {"max_tokens": 1})
    next(generation.pieces, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
