"""The tools a persona may offer: safe by construction; a persona naming an unknown one is a reported problem; frames are marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guide import personas
from guide.client import Trace
from guide.locations import data_dir
from guide.tools import calculate, now, read_file
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
