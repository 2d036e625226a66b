"""The tools a persona may offer: safe by construction; a persona naming an unknown one is a reported problem; frames are marked."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from loopback import LoopbackServer, chat_answer

from guide import Guide, personas
from guide.client import Trace
from guide.client._tools import Toolbox, ToolCall
from guide.locations import data_dir
from guide.tools import GOES_ON, READ_AT_MOST, calculate, now, read_file, tools_for
from guide.wire_text import frame_kinds, frames_text


@pytest.mark.parametrize(("expression", "value"), [("(3 + 4) * 2", "14"), ("2 ** 10", "1024"), ("7 / 2", "3.5"), ("-3 % 2", "1")])
def test_calculate_works_out_arithmetic(expression: str, value: str) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os').system('true')", "open('x')", "9 ** 9 ** 9", "x + 1", "[1, 2]", "1 " * 150])
def test_calculate_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises((ValueError, SyntaxError)):
        calculate(expression)


def test_now_says_the_time_with_its_zone() -> None:
    assert "T" in now() and ("+" in now() or "Z" in now() or "-" in now()[10:])


def test_read_file_reads_only_the_files_folder_never_what_guide_keeps(tmp_path: Path) -> None:
    folder = data_dir() / "files"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("a quiet lake", encoding="utf-8")
    assert read_file("notes.txt") == "a quiet lake"
    outside = tmp_path / "secret.txt"
    outside.write_text("no", encoding="utf-8")
    # What guide keeps beside it: the conversations (a model asked for guide.sqlite3-wal and got old chats), the log, the clipboard.
    for kept in ("guide.sqlite3", "guide.sqlite3-wal", "guide.log", "clipboard.txt"):
        (data_dir() / kept).write_text("an earlier conversation", encoding="utf-8")
    names = (str(outside), "../secret.txt", "../../etc/passwd", "../guide.sqlite3", "../guide.sqlite3-wal", "../guide.log", "../clipboard.txt")
    for name in (*names, str(data_dir() / "guide.sqlite3-wal")):
        with pytest.raises((ValueError, FileNotFoundError)):
            read_file(name)


def test_calculate_refuses_a_number_too_large_to_work_out_quickly() -> None:
    # Refused from the operands' sizes, before the work: big-integer arithmetic holds Python's lock, and froze the app.
    for expression in ("((10**1000)**1000)**10", "(10**999)**1000", "9**9**9", "(10**999)**11 * 10**999"):
        with pytest.raises(ValueError, match=r"digits|powers"):
            calculate(expression)
    assert calculate("(10**100)*(10**100)") == str(10**200)


def test_a_persona_naming_an_unknown_tool_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = 'id = "x"\nname = "X"\ndescription = "d"\naddress = "Fira"\ngreeting = "Hi"\nsystem = "Be calm."\ntools = ["now", "shell"]\n'
    found = personas.parse(text, tmp_path / "x.toml", "user")
    assert isinstance(found, personas.PersonaProblem)
    assert "unknown tool 'shell'" in found.message and found.line == 7


def test_a_persona_with_known_tools_keeps_them_through_its_file(tmp_path: Path) -> None:
    text = 'id = "x"\nname = "X"\ndescription = "d"\naddress = "Fira"\ngreeting = "Hi"\nsystem = "Be calm."\ntools = ["now", "calculate"]\n'
    persona = personas.parse(text, tmp_path / "x.toml", "user")
    assert isinstance(persona, personas.Persona) and persona.tools == ("now", "calculate")
    again = personas.parse(persona.to_toml(), tmp_path / "x.toml", "user")
    assert isinstance(again, personas.Persona) and again.tools == ("now", "calculate")


def chunk(delta: dict[str, object]) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": delta}]})


def test_the_call_detail_marks_reasoning_answer_and_tool_frames() -> None:
    frames = [
        (1.0, chunk({"reasoning_content": "hm"})),
        (2.0, chunk({"content": "<think>inline"})),
        (3.0, chunk({"content": " more</think>"})),
        (4.0, chunk({"content": "Hello"})),
        (5.0, chunk({"tool_calls": [{"index": 0, "function": {"name": "now", "arguments": "{}"}}]})),
        (6.0, "[DONE]"),
    ]
    assert frame_kinds(frames) == ["reasoning", "reasoning", "reasoning", "answer", "tool_calls", ""]
    text = frames_text(Trace(action="think", method="POST", url="http://x/v1/chat/completions", stream=True, frames=frames))
    assert text.splitlines()[0] == "6 frames (3 reasoning, 1 answer, 1 tool_calls)"
    assert "reasoning   data: " in text and "answer      data: " in text and "tool_calls  data: " in text


def test_frames_of_a_plain_reply_are_shown_as_before() -> None:
    frames = [(1.0, chunk({"content": "Hello"})), (2.0, "[DONE]")]
    text = frames_text(Trace(action="think", method="POST", url="http://x/v1/chat/completions", stream=True, frames=frames))
    assert text.splitlines()[0] == "2 frames"
    assert "answer" not in text and "    1.0 ms  data: " in text


def test_a_persona_with_tools_still_answers_on_a_server_that_takes_none(run_guide, companion) -> None:
    # The reflective listener refuses tools; the toolsmith, who carries three, answers without them and says so once.
    done = run_guide("ask", "--persona", "toolsmith", "--base-url", companion, "What time is it?")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "does not take tools" in done.stderr and "answers without them" in done.stderr
    assert "Traceback" not in done.stderr


# What the model reads back: each tool asked for by a loopback model and run by the tool loop, its answer read from the next request.


def answered(server: LoopbackServer, tool: str, **arguments: str) -> str:
    call = {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": json.dumps(arguments)}}
    server.push(chat_answer(None, tool_calls=[call]), chat_answer("Done."))
    with Guide(base_url=server.url, model="loopback-model") as ai:
        assert ai.think("Go on.", tools=tools_for((tool,)), run_tools=True).text == "Done."
    message = server.requests[-1].json["messages"][-1]
    assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
    return str(message["content"])


def files() -> Path:
    folder = data_dir() / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_read_file_never_reads_a_link_swapped_in_while_it_opens(tmp_path: Path) -> None:
    # A check then an open read outside the folder in 4 of 18,797 tries; here a thread swaps notes.txt between a file and a link, for 2 s.
    (tmp_path / "secret.txt").write_text("an earlier conversation", encoding="utf-8")
    (files() / "real.txt").write_text("a quiet lake", encoding="utf-8")
    os.link(files() / "real.txt", files() / "notes.txt")
    stop, results = threading.Event(), set()

    def swap() -> None:
        for turn in range(10**9):
            if stop.is_set():
                return
            spare = files() / f".spare{turn % 2}"
            spare.unlink(missing_ok=True)
            if turn % 2:
                os.symlink(tmp_path / "secret.txt", spare)
            else:
                os.link(files() / "real.txt", spare)
            os.replace(spare, files() / "notes.txt")

    toolbox, call = Toolbox([read_file]), ToolCall(id="call_1", name="read_file", arguments='{"name": "notes.txt"}')
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # the threads take turns often, as two processes on two cores would
    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            results.add(toolbox.run(call))
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        swapper.join(timeout=5)
    assert not [result for result in results if "earlier conversation" in result], "read the link's target outside the folder"
    link = "error: ValueError: 'notes.txt' is a link; read_file opens only files in the files folder themselves, never links"
    assert results <= {"a quiet lake", link}, results - {"a quiet lake", link}


def test_a_files_folder_that_is_a_link_is_refused_and_its_target_left_as_it_was(tmp_path: Path, server: LoopbackServer) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    (elsewhere / "notes.txt").write_text("not for the model", encoding="utf-8")
    data_dir().mkdir(parents=True, exist_ok=True)
    (data_dir() / "files").symlink_to(elsewhere)
    said = answered(server, "read_file", name="notes.txt")
    assert said == "error: ValueError: the files folder is a link to another place; read_file reads only a real folder named files"
    assert elsewhere.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("missing.txt", "FileNotFoundError: there is no file 'missing.txt' in the files folder"),
        ("sub/missing.txt", "FileNotFoundError: there is no file 'sub/missing.txt' in the files folder"),
        (
            "../guide.sqlite3",
            "ValueError: '../guide.sqlite3' is not a name in the files folder: read_file reads only names there, such as 'notes.txt'",
        ),
        ("/etc/passwd", "ValueError: '/etc/passwd' is not a name in the files folder: read_file reads only names there, such as 'notes.txt'"),
        ("link.txt", "ValueError: 'link.txt' is a link; read_file opens only files in the files folder themselves, never links"),
        ("linked/notes.txt", "ValueError: 'linked/notes.txt' is a link; read_file opens only files in the files folder themselves, never links"),
        ("sub", "ValueError: 'sub' is not a file (a folder or a device); read_file reads only text files"),
        ("pipe", "ValueError: 'pipe' is not a file (a folder or a device); read_file reads only text files"),
    ],
)
def test_read_file_tells_the_model_only_the_name_it_asked_for(name: str, said: str, tmp_path: Path, server: LoopbackServer) -> None:
    # The folder's path has the user's name in it (/home/fira/...): the model is told the name it asked for, never where guide keeps it.
    (tmp_path / "secret.txt").write_text("an earlier conversation", encoding="utf-8")
    (files() / "sub").mkdir()
    (files() / "link.txt").symlink_to(tmp_path / "secret.txt")
    (files() / "linked").symlink_to(tmp_path)
    os.mkfifo(files() / "pipe")  # a FIFO nobody writes to: refused at once, never waited on
    text = answered(server, "read_file", name=name)
    assert text == f"error: {said}"
    assert str(tmp_path) not in text


def test_the_model_reads_at_most_32000_characters_of_any_file_and_is_told_it_goes_on(server: LoopbackServer) -> None:
    # 8 MB of numbered lines: the model gets the start and read_file's own note, and read_file reads no more than it sends.
    lines = "".join(f"line {number}\n" for number in range(800_000))
    (files() / "long.txt").write_text(lines, encoding="utf-8")
    tracemalloc.start()
    try:
        text = answered(server, "read_file", name="long.txt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text == lines[: READ_AT_MOST - len(GOES_ON)] + GOES_ON and len(text) == READ_AT_MOST
    assert peak < 4_000_000, f"{peak:,} bytes to read 32,000 characters"


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("(10**1000)**5", "the result is too long to write out: more than 4,300 digits"),
        ("-(10**1000)**5", "the result is too long to write out: more than 4,300 digits"),
        ("(-8) ** 0.5", "the result is not a real number: a negative number to a fractional power"),
        ("1e308 * 10", "the result is too large to write out"),
        ("10**400 / 3", "the result is too large to write out"),
    ],
)
def test_calculate_says_plainly_why_a_result_is_not_given(expression: str, said: str, server: LoopbackServer) -> None:
    # 5,001 digits passed the digit check, then str() refused it past Python's 4,300; (-8) ** 0.5 came back complex, 1e308 * 10 as 'inf'.
    assert answered(server, "calculate", expression=expression) == f"error: ValueError: {said}"
    assert answered(server, "calculate", expression="(10**1000)**4 * 10**299 * 9") == "9" + "0" * 4299  # 4,300 digits: written out
