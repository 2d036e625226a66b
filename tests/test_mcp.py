"""MCP (issue 29): servers in the settings, `guide mcp add | list | serve`, the client hub against real servers, hostile ones too.

The servers are real: tests/mcp_lakes.py (built with the SDK, over stdio and streamable HTTP) and mcp-server-time from the
package index. Each test that starts one stops it (the hub closes it; a subprocess has a deadline).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

pytest.importorskip("mcp", reason="the MCP SDK is the mcp extra (guide-chat[mcp])")

from guide.mcp.client import Hub
from guide.mcp.record import McpCall
from guide.mcp.settings import Server

LAKES = str(Path(__file__).with_name("mcp_lakes.py"))
ROOT = Path(__file__).resolve().parents[1]


def guide(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "guide", *args], capture_output=True, text=True, timeout=timeout, env=env)


def lakes(mode: str = "well", **more: Any) -> Server:
    return Server(mode, sys.executable, (LAKES, mode), **more)


def call(servers: list[Server], server: str, tool: str, arguments: dict[str, Any], deadline: float = 30) -> McpCall:
    hub = Hub({s.name: s for s in servers}, deadline=deadline)
    try:
        return asyncio.run(hub.call(server, tool, arguments))
    finally:
        hub.close()


def test_guide_mcp_add_keeps_servers_in_the_settings_and_list_starts_each_showing_its_tools() -> None:
    added = guide("mcp", "add", "lakes", "--trust", "lake_depth", "--", sys.executable, LAKES)
    assert added.returncode == 0, added.stderr
    assert guide("mcp", "add", "gone", "--", "no-such-program-anywhere").returncode == 0
    assert guide("mcp", "add", "both", "--url", "http://127.0.0.1:1/mcp", "--", "python").returncode == 2
    assert guide("mcp", "add", "bad name!", "--", "python").returncode == 2
    assert guide("mcp", "add", "secret", "--url", "http://me:hunter2@127.0.0.1:1/mcp").returncode == 2
    settings = (Path(os.environ["GUIDE_HOME"]) / "config" / "config.toml").read_text()
    assert "hunter2" not in settings and "[mcp.servers.lakes]" in settings and 'trust = [\n    "lake_depth",\n]' in settings

    listed = guide("mcp", "list")
    assert listed.returncode == 1  # one server does not start
    out = listed.stdout
    assert "lakes" in out and "starts" in out and "lake_depth: The deepest point of a lake, in metres." in out
    assert "trusted: lake_depth" in out
    assert "gone  no-such-program-anywhere" in out and "does not start: mcp gone: the command 'no-such-program-anywhere' is not found" in out


def test_a_persona_names_mcp_tools_beside_guides_own(tmp_path: Path) -> None:
    from guide import personas

    base = 'id = "lake-guide"\nname = "Lake guide"\ndescription = "d"\naddress = "Fira"\ngreeting = "g"\nsystem = "s"\n'
    good = personas.parse(base + 'tools = ["now", "mcp:lakes", "mcp:time/get_current_time"]\n', tmp_path / "a.toml", "user")
    assert isinstance(good, personas.Persona)
    assert good.tools == ("now", "mcp:lakes", "mcp:time/get_current_time")
    for wrong in ('"mcp:"', '"mcp:lakes/"', '"mcp:bad name"', '"lakes"'):
        refused = personas.parse(base + f"tools = [{wrong}]\n", tmp_path / "b.toml", "user")
        assert isinstance(refused, personas.PersonaProblem), wrong
        assert refused.field == "tools"


def test_a_tool_call_is_recorded_whole_the_json_rpc_both_ways_its_parts_and_timings() -> None:
    record = call([lakes()], "well", "lake_depth", {"lake": "Baikal"})
    assert record.outcome == "ok", record.error
    assert record.result_text == "1642 m"
    assert record.parts == [{"type": "text", "text": "1642 m"}]
    assert record.request is not None and record.request["method"] == "tools/call"
    assert record.request["params"]["name"] == "lake_depth" and record.request["params"]["arguments"] == {"lake": "Baikal"}
    assert (
        record.response is not None and record.response["id"] == record.request["id"] and record.response["result"]["content"][0]["text"] == "1642 m"
    )
    assert record.start_ms is not None and record.total_ms is not None and record.total_ms >= record.start_ms
    summary = record.summary()
    assert summary.startswith("mcp well → tools/call lake_depth · ok · ") and summary.endswith(("ms", " s"))
    stored = json.loads(json.dumps(record.to_dict()))
    assert McpCall.from_dict(stored).summary() == summary


def test_a_published_server_from_the_package_index_answers(tmp_path: Path) -> None:
    pytest.importorskip("mcp_server_time", reason="mcp-server-time is in the test extra")
    time_server = Server("time", sys.executable, ("-m", "mcp_server_time", "--local-timezone", "UTC"))
    record = call([time_server], "time", "get_current_time", {"timezone": "Europe/Oslo"})
    assert record.outcome == "ok", record.error
    assert json.loads(record.result_text)["timezone"] == "Europe/Oslo"


def test_a_server_gets_only_path_home_and_its_own_env_never_guides_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-never-for-servers")
    monkeypatch.setenv("GUIDE_SOMETHING", "guide's own")
    record = call([lakes("env", env={"LAKE_UNITS": "metres"})], "env", "lake_depth", {"lake": "tahoe"})
    seen = json.loads(record.result_text)
    assert "sk-secret-never-for-servers" not in record.result_text
    # LC_CTYPE: the server's own Python sets it as it starts (PEP 538), it is not passed in.
    assert set(seen) - {"LC_CTYPE"} == {"PATH", "HOME", "LAKE_UNITS"}
    assert seen["HOME"] == os.environ["HOME"] and seen["LAKE_UNITS"] == "metres"


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("hang", "no answer within 4 s"),
        ("die", "the server closed the connection"),
        ("garbage", "not MCP's JSON-RPC"),
    ],
)
def test_a_server_that_hangs_dies_or_writes_garbage_ends_the_call_with_one_calm_line(mode: str, says: str) -> None:
    began = time.monotonic()
    record = call([lakes(mode)], mode, "lake_depth", {"lake": "tahoe"}, deadline=4)
    assert record.outcome == "failed"
    assert record.error is not None and says in record.error and "\n" not in record.error and "\x1b" not in record.error
    assert record.error.startswith(f"mcp {mode}: ")
    assert time.monotonic() - began < 30  # the deadline, the SDK's polite stop, and no more


def open_files() -> dict[tuple[int, int], int]:
    """The regular files this process holds open (a deleted temporary file too), by device and inode, with their sizes."""
    found: dict[tuple[int, int], int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            held = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if stat.S_ISREG(held.st_mode):
            found[(held.st_dev, held.st_ino)] = held.st_size
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_a_server_writing_megabytes_on_stderr_is_kept_to_its_newest_few_kilobytes() -> None:
    hub = Hub({"chatty": lakes("chatty")}, deadline=60)

    before = open_files()

    async def use() -> tuple[McpCall, str, int]:
        record = await hub.call("chatty", "lake_depth", {"lake": "tahoe"})
        session = hub._connections["chatty"]
        await asyncio.sleep(0.5)  # the reader thread catches up
        grown = [size - before.get(file, 0) for file, size in open_files().items()]
        return record, session.stderr_tail(), max(grown, default=0)

    try:
        record, tail, grown = asyncio.run(use())
    finally:
        hub.close()
    assert record.outcome == "ok"
    assert grown < 1 << 20  # was a temporary file of 20 MB: a server could fill the disk
    assert tail.rstrip().endswith("chatty: the last words")


def test_a_server_that_will_not_start_or_is_not_named_is_a_calm_line() -> None:
    missing = call([Server("gone", "no-such-program-anywhere")], "gone", "x", {})
    assert missing.outcome == "failed" and "is not found on the PATH" in (missing.error or "")
    unnamed = call([], "lakes", "lake_depth", {})
    assert unnamed.outcome == "failed" and "no such server in the settings" in (unnamed.error or "")
    nobody = call([Server("web", url=f"http://127.0.0.1:{free_port()}/mcp")], "web", "lake_depth", {}, deadline=8)
    assert nobody.outcome == "failed" and "nothing answers at" in (nobody.error or "")


def test_an_error_result_reaches_the_model_as_error_text_and_the_server_stays_up() -> None:
    hub = Hub({"well": lakes()}, deadline=30)

    async def twice() -> tuple[McpCall, McpCall]:
        return await hub.call("well", "lake_depth", {"lake": "Atlantis"}), await hub.call("well", "lake_depth", {"lake": "tahoe"})

    try:
        wrong, right = asyncio.run(twice())
    finally:
        hub.close()
    assert wrong.outcome == "error" and wrong.error is not None and "lake_depth answered with an error" in wrong.error
    assert right.outcome == "ok" and right.result_text == "501 m" and right.start_ms is None  # the same server, not started again


def test_a_servers_escape_sequences_never_reach_the_terminal_from_guide_mcp_list() -> None:
    assert guide("mcp", "add", "escape", "--", sys.executable, LAKES, "escape").returncode == 0
    listed = guide("mcp", "list")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout + listed.stderr and "\x07" not in listed.stdout
    assert "lake_depth" in listed.stdout and "wipe: ␛[2J␛]0;owned␇ clears the screen" in listed.stdout


def test_streamable_http_server() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, LAKES, "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        ends = time.monotonic() + 60
        record = call([Server("web", url=url)], "web", "lake_depth", {"lake": "superior"}, deadline=10)
        while record.outcome != "ok" and time.monotonic() < ends:  # it is still starting
            time.sleep(0.5)
            record = call([Server("web", url=url)], "web", "lake_depth", {"lake": "superior"}, deadline=10)
        assert record.outcome == "ok", record.error
        assert record.result_text == "406 m" and record.response is not None
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_guide_mcp_serve_answers_the_sdks_own_client() -> None:
    from mcp import Client, StdioServerParameters

    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "GUIDE_HOME": os.environ["GUIDE_HOME"], "PYTHONPATH": str(ROOT)}
    served = StdioServerParameters(command=sys.executable, args=["-m", "guide", "mcp", "serve"], env=env)

    async def use() -> tuple[list[str], str, bool, bool]:
        async with asyncio.timeout(60), Client(served) as client:
            listed = await client.list_tools()
            answer = await client.call_tool("calculate", {"expression": "(3 + 4) * 2"})
            refused = await client.call_tool("read_file", {"name": "../config/config.toml"})
            return sorted(t.name for t in listed.tools), answer.content[0].text, answer.is_error, refused.is_error  # type: ignore[union-attr]

    names, text, failed, refused = asyncio.run(use())
    assert names == ["calculate", "now", "read_file"]
    assert text == "14" and not failed
    assert refused  # read_file reads only guide's files folder, for another client as for guide's own model


def test_launch_imports_no_mcp_sdk(tmp_path: Path) -> None:
    persona = 'id = "lake-guide"\nname = "L"\ndescription = "d"\naddress = "Fira"\ngreeting = "g"\nsystem = "s"\ntools = ["mcp:lakes"]\n'
    folder = Path(os.environ["GUIDE_HOME"]) / "config" / "personas"
    folder.mkdir(parents=True)
    (folder / "lake-guide.toml").write_text(persona)
    (folder.parent / "config.toml").write_text(f'[mcp.servers.lakes]\ncommand = "{sys.executable}"\nargs = ["{LAKES}"]\n')
    code = (
        "import sys, guide.cli, guide.tui.app, guide.personas as p; from guide.chat_session import ChatSession;"
        "assert 'lake-guide' in p.load().personas; assert ChatSession({'persona': 'lake-guide'}).mcp is not None; print('mcp' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "False", result.stderr


def test_without_the_sdk_guide_mcp_says_how_to_install_it() -> None:
    code = "import sys; sys.modules['mcp'] = None; from guide.cli import main; sys.exit(main(['mcp', 'serve']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and "pip install 'guide-chat[mcp]'" in result.stderr


def test_guide_mcp_serve_tells_the_client_why_a_tool_refused() -> None:
    """guide's own tools refuse with a reason its own model reads ("powers above 1000…"); over MCP the client got only
    "Error executing tool calculate", and the server's stderr a traceback."""
    from mcp import Client, StdioServerParameters

    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "GUIDE_HOME": os.environ["GUIDE_HOME"], "PYTHONPATH": str(ROOT)}
    served = StdioServerParameters(command=sys.executable, args=["-m", "guide", "mcp", "serve"], env=env)

    async def use() -> list[tuple[bool, str]]:
        async with asyncio.timeout(60), Client(served) as client:
            power = await client.call_tool("calculate", {"expression": "9 ** 9 ** 9"})
            outside = await client.call_tool("read_file", {"name": "../config/config.toml"})
            return [(answer.is_error, answer.content[0].text) for answer in (power, outside)]  # type: ignore[union-attr]

    (power_failed, power), (outside_failed, outside) = asyncio.run(use())
    assert power_failed and "powers above 1000" in power
    assert outside_failed and "is not a name in the files folder" in outside and os.environ["GUIDE_HOME"] not in outside
