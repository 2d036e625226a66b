"""The app's companion: found at its lasting address, or started there as a process of its own, and started again when it stops.

It listens on 127.0.0.1:8765 (`companion_port`, GUIDE_COMPANION_PORT), used only when it proves it is this user's
(identity.py); anything else there is another program, said so, and the next port is tried. One the app starts is
detached (its own session, its output in the data folder), outlives the app, and stops after 15 idle minutes.
`Keeper` restarts it when it stops, saying so in one line (after two model-engine crashes, with the reflective
listener). Nothing waits on the caller's loop: the process starts on a thread and is asked over async HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from . import identity

Said = Literal["information", "warning", "error"]
"""How much what the keeper says matters (the app shows it as a notice of that severity)."""

IDLE_STOP = 900.0
"""Seconds with no request after which a companion the app started stops by itself."""
START_SECONDS = 240.0
"""How long a starting companion may take to answer (checking a model's first token included)."""
PORTS_TRIED = 10
"""Ports after the wanted one tried when other programs hold them."""
ASK_SECONDS = 1.0
ANSWER_BYTES = 16_384
CRASHES = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT")
ENGINE_CRASHES_BEFORE_LISTENER = 2
LOG_KEPT = 1_000_000
"""Bytes of a companion's log kept across starts."""
PORT_IN_USE = 3
"""`guide serve`'s exit status when its port is taken (EXIT_UNREACHABLE in guide.cli.common)."""
KEEP_AWAKE_SECONDS = 300.0
"""While the app runs it asks its companion who it is this often, so the idle stop counts from when the app quits."""


class CompanionFailed(Exception):
    """The companion could not be found or started; the words say why."""


@dataclass
class Companion:
    """guide's companion, running in a process of its own."""

    port: int
    pid: int | None
    described: str
    kind: str
    model_id: str
    process: subprocess.Popen[bytes] | None = None
    """The process, when this run started it (then its exit status can be read)."""
    set_aside: str | None = None
    """Why the model was set aside for the listener at start-up (its first token crashed), and how to rebuild."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def model_engine(self) -> bool:
        """Whether a language model (llama.cpp) answers, rather than the reflective listener."""
        return self.kind == "local model"

    async def ended(self) -> str | None:
        """How it ended, in words ("crashed (SIGSEGV)"), or None while it runs: by its exit status (a waitpid that never
        waits) when this run started it, else by whether its port still takes a connection."""
        if self.process is not None:
            code = self.process.poll()
            return None if code is None else ended_words(code)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), ASK_SECONDS)
        except (TimeoutError, OSError):
            return "stopped"
        writer.close()
        return None

    def crashed(self) -> bool:
        """Whether it died by a crash signal (SIGSEGV and the like)."""
        code = self.process.poll() if self.process is not None else None
        return code is not None and code < 0 and signal_name(code) in CRASHES


def signal_name(code: int) -> str:
    """The signal a negative exit status says ended a process ("SIGSEGV"; "signal 99" for one this system does not name)."""
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def ended_words(code: int) -> str:
    """How a companion process ended, for the user: "stopped", "crashed (SIGSEGV)", "was stopped (SIGTERM)"."""
    if code == 0:
        return "stopped"
    if code > 0:
        return f"stopped with status {code}"
    name = signal_name(code)
    return f"crashed ({name})" if name in CRASHES else f"was stopped ({name})"


def wanted_port(settings: Any) -> int:
    """The companion's port: the `companion_port` setting (GUIDE_COMPANION_PORT), else 8765."""
    value = str(getattr(settings, "companion_port", None) or "")
    try:
        port = int(value)
    except ValueError:
        return identity.DEFAULT_PORT
    return port if 0 < port < 65536 else identity.DEFAULT_PORT


async def ask(port: int, key: bytes) -> dict[str, Any] | str:
    """Who answers at 127.0.0.1:port: our companion's own words, "nobody", or "other" (another program). A plain GET over
    asyncio's streams: asked ten times a second on the app's loop while one starts, an HTTP client would build a TLS context each time."""
    import json

    nonce = secrets.token_hex(16)
    request = f"GET {identity.PROOF_PATH}?nonce={nonce} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), ASK_SECONDS)
    except (TimeoutError, OSError):
        return "nobody"
    try:
        writer.write(request.encode("ascii"))
        answer = await asyncio.wait_for(read_to_end(reader), ASK_SECONDS)
    except (TimeoutError, OSError):
        return "other"  # it took the connection and said nothing a companion would
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
        return "other"
    try:
        said = json.loads(body)
    except ValueError:
        return "other"
    return said if isinstance(said, dict) and identity.proves(said, key, nonce, port) else "other"


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """What the other side sends until it closes (it was asked to), at most ANSWER_BYTES."""
    answer = b""
    while len(answer) < ANSWER_BYTES:
        piece = await reader.read(ANSWER_BYTES - len(answer))
        if not piece:
            break
        answer += piece
    return answer


def found(port: int, said: dict[str, Any], process: subprocess.Popen[bytes] | None = None) -> Companion:
    def text(name: str) -> str:
        value = said.get(name)
        return str(value) if isinstance(value, str) else "?"

    pid = said.get("pid")
    why = said.get("set_aside")
    return Companion(
        port, pid if isinstance(pid, int) else None, text("described"), text("kind"), text("model"), process, why if isinstance(why, str) else None
    )


def launch(port: int, gguf: str | None) -> subprocess.Popen[bytes]:
    """`guide serve` on the port, detached: a session of its own (no terminal's signals reach it), its output in the data folder."""
    from guide.locations import ensure_private

    ensure_private(identity.folder())
    command = [sys.executable, "-m", "guide", "serve", "--port", str(port), "--stop-when-idle", f"{IDLE_STOP:g}"]
    if gguf:
        command += ["--gguf", gguf]
    log = identity.log_path(port)
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_KEPT:
            log.unlink()  # a log of many starts: the newest start begins a new one
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    options: dict[str, Any] = {"start_new_session": True} if sys.platform != "win32" else {"creationflags": 0x00000008 | 0x00000200}
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=descriptor,
            stderr=descriptor,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            **options,
        )
    finally:
        os.close(descriptor)
    identity.write_record(port, process.pid, starting=True)  # whoever must stop it finds it by pid even before it answers
    return process


def last_words(port: int, lines: int = 3) -> str:
    """The end of a companion's log: what it said before it stopped."""
    try:
        text = identity.log_path(port).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " ".join(line.strip() for line in text.strip().splitlines()[-lines:])


async def start_at(port: int, gguf: str | None, key: bytes) -> Companion | None:
    """Start a companion on the port and wait until it proves itself; None if another program took the port meanwhile."""
    try:
        process = await asyncio.to_thread(launch, port, gguf)
    except OSError as error:  # the data folder cannot take its log, or Python cannot be run again
        from guide.failures import describe_os_error

        raise CompanionFailed(f"guide's companion could not be started: {describe_os_error(error)}") from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while loop.time() < deadline:
        said = await ask(port, key)
        if isinstance(said, dict):
            return found(port, said, process)
        code = process.poll()
        if code == PORT_IN_USE:
            return None  # the port was taken between asking and starting: whoever holds it is asked again
        if code is not None:
            raise CompanionFailed(f"guide's companion {ended_words(code)} as it started. {last_words(port)}".strip())
        await asyncio.sleep(0.1)
    process.kill()
    raise CompanionFailed(f"guide's companion did not answer within {START_SECONDS:g} s of starting. Its log: {identity.log_path(port)}")


Passed = tuple[int, str]
"""A port passed over on the way to the companion, and why: "other" (another program) or "key" (a companion that asks for a key)."""


async def find_or_start(settings: Any, gguf: str | None) -> tuple[Companion, list[Passed]]:
    """The user's companion at its address, started if nothing answers there; and the ports passed over on the way."""
    key = await asyncio.to_thread(identity.secret)
    first = wanted_port(settings)
    held: list[Passed] = []
    for port in range(first, min(first + PORTS_TRIED, 65536)):
        if port != first and port == identity.RELAY_PORT:
            continue  # `guide watch` puts its relay there: a companion there would take the calls a program means for the relay
        for _ in range(3):
            said = await ask(port, key)
            if said == "other" and starting_there(port):
                said = await wait_for_start(port, key)
            if isinstance(said, dict) and said.get("key_required"):
                held.append((port, "key"))  # started by hand with --api-key: the app has not that key
                break
            if isinstance(said, dict):
                return found(port, said), held
            if said == "other":
                held.append((port, "other"))
                break
            started = await start_at(port, gguf, key)
            if started is not None:
                return started, held
        else:
            held.append((port, "other"))
    raise CompanionFailed(
        f"Other programs hold 127.0.0.1:{first} and the {PORTS_TRIED - 1} ports after it, so guide's companion has nowhere to listen."
    )


def starting_there(port: int) -> bool:
    """Whether a companion is starting on the port (its record is there, its process alive): it takes the port before it answers."""
    record = identity.read_record(port)
    if record is None or not record.get("starting") or sys.platform == "win32":  # os.kill(pid, 0) signals on Windows
        return False
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # alive, as another user: still not ours, and the proof will say so
    return True


async def wait_for_start(port: int, key: bytes) -> dict[str, Any] | str:
    """Ask again until the starting companion answers, stops, or takes too long."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while loop.time() < deadline and starting_there(port):
        await asyncio.sleep(0.2)
    return await ask(port, key)  # started (its record no longer says starting), stopped, or out of time: what answers now


def held_words(held: list[Passed], companion: Companion) -> str | None:
    """What to say when the companion is not at its usual port: who holds the ports passed over."""
    others = ", ".join(str(port) for port, why in held if why == "other")
    keyed = ", ".join(str(port) for port, why in held if why == "key")
    told = []
    if others:
        told.append(f"Another program holds 127.0.0.1:{others} (it is not guide's companion)")
    if keyed:
        told.append(f"guide's companion at 127.0.0.1:{keyed} asks for a key (it was started with --api-key)")
    return f"{'; '.join(told)}, so the companion is at {companion.url}." if told else None


class Keeper:
    """Keeps the app's companion running: notices when it stops, says so in one line, starts it again."""

    WATCH_SECONDS = 0.5

    def __init__(
        self, settings: Any, companion: Companion, gguf: str | None, say: Callable[[Said, str], None], moved: Callable[[Companion], Any]
    ) -> None:
        self.settings, self.companion, self.gguf = settings, companion, gguf
        self.say = say
        """(severity, words): one calm line for the user."""
        self.moved = moved
        """Called (awaited if it returns an awaitable) with the companion that answers now, after a restart."""
        self.engine_crashes = 0
        self.task: asyncio.Task[None] | None = None

    def watch(self) -> None:
        """Watch from now on, on the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._watch(), name="guide-companion-keeper")

    def stop(self) -> None:
        """Stop watching; the companion itself goes on (it outlives the app, and stops when idle)."""
        if self.task is not None:
            self.task.cancel()

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        while True:
            # One this run started is checked without a sound (waitpid); one found running, by a connection, less often.
            await asyncio.sleep(self.WATCH_SECONDS if self.companion.process is not None else 4 * self.WATCH_SECONDS)
            how = await self.companion.ended()
            if how is not None:
                try:
                    if not await self.restart(how):
                        return
                except Exception as error:  # a keeper that dies silently would leave the next crash unsaid
                    from guide.failures import log_failure

                    log_failure(error, "starting the companion again")
                    self.say("error", f"guide's companion could not be started again ({error}). F7 picks another server.")
                    return
                asked = loop.time()
            elif loop.time() - asked > KEEP_AWAKE_SECONDS:
                asked = loop.time()
                await ask(self.companion.port, await asyncio.to_thread(identity.secret))

    async def restart(self, how: str) -> bool:
        """The companion ended: say so, start it again (the listener after the model crashed twice)."""
        before = self.companion
        if before.model_engine and before.crashed():
            self.engine_crashes += 1
        listener = self.engine_crashes >= ENGINE_CRASHES_BEFORE_LISTENER
        why = " Its model engine crashed twice, so the reflective listener answers from now on." if listener and before.model_engine else ""
        self.say("warning", f"guide's companion {how}; starting it again. What you wrote is kept.{why}")
        try:
            now, held = await find_or_start(self.settings, "none" if listener else self.gguf)
        except CompanionFailed as error:
            self.say("error", f"{error} F7 picks another server.")
            return False
        self.companion = now
        words = held_words(held, now)
        self.say("information", words or f"guide's companion is back at {now.url}: {now.described}.")
        if now.set_aside:
            self.say("warning", now.set_aside)
        try:
            result = self.moved(now)
            if asyncio.iscoroutine(result):
                await result
        except Exception as error:  # the companion runs; what failed after (its catalog, say) is shown as its own call
            from guide.failures import log_failure

            log_failure(error, "following the companion after it started again")
        return True
