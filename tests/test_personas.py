"""Personas: bundled and the user's, bad files reported and skipped, exact round trips."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guide import ACTIONS, personas
from guide.locations import user_personas_dir

BUNDLED = {"calm-guide", "api-docent", "socratic-tutor", "terse-engineer", "toolsmith"}


def write_user(name: str, text: str) -> Path:
    folder = user_personas_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bundled_personas_load_without_problems() -> None:
    shelf = personas.load()
    assert shelf.problems == []
    assert BUNDLED <= set(shelf.personas)
    assert all(shelf.personas[i].source == "bundled" for i in BUNDLED)
    assert next(iter(shelf.personas)) == "calm-guide"


def test_the_calm_guide_addresses_fira_and_waits() -> None:
    guide = personas.load().get(None)
    assert guide.id == "calm-guide" and guide.address == "Fira"
    greeting = guide.greeting_for()
    assert "Fira" in greeting and "ready" in greeting and "listening" in greeting
    prompt = guide.system_prompt()
    for words in (
        "calm",
        "thoughtful",
        "simple, clear english",
        "gentle wisdom",
        "like a real person",
        "steadily and warmly",
        "fira",
        "waiting",
    ):
        assert words in prompt.lower(), words
    assert "{address}" not in prompt


def test_the_address_in_use_replaces_the_placeholder() -> None:
    guide = personas.load().get("calm-guide")
    assert "Ada" in guide.system_prompt("Ada") and "Fira" not in guide.system_prompt("Ada")
    assert guide.greeting_for("Ada").startswith("I'm here, Ada.")


def test_the_api_docent_knows_the_whole_map() -> None:
    prompt = personas.load().get("api-docent").system
    for action in ACTIONS.values():
        assert f"{action.name} → {action.method} {action.legacy_path} → {action.sdk_call}" in prompt


def test_every_persona_has_a_distinct_voice() -> None:
    shelf = personas.load()
    prompts = [shelf.personas[i].system for i in BUNDLED]
    assert len(set(prompts)) == len(prompts)
    assert len({shelf.personas[i].description for i in BUNDLED}) == len(BUNDLED)


def test_a_user_persona_overrides_a_bundled_one_by_id() -> None:
    calm = personas.load().get("calm-guide")
    personas.save(replace(calm, name="My calm guide", greeting="Hi {address}."))
    shelf = personas.load()
    assert shelf.personas["calm-guide"].name == "My calm guide"
    assert shelf.personas["calm-guide"].source == "user"


def test_save_and_remove_a_user_persona() -> None:
    path = personas.save(personas.template("night-owl"))
    assert path.parent == user_personas_dir() and "night-owl" in personas.load().personas
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    personas.remove("night-owl")
    assert "night-owl" not in personas.load().personas


def test_a_bundled_persona_cannot_be_removed() -> None:
    with pytest.raises(LookupError, match="bundled"):
        personas.remove("calm-guide")


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ('id = "x"\nname = \n', 2, None, "not valid TOML"),
        ('id = "broken"\nname = "B"\ndescription = "d"\naddress = "Fira"\ngreeting = "hi"\n', None, "system", "missing"),
        ('id = "broken"\nname = "B"\ndescription = "d"\naddress = 7\ngreeting = "hi"\nsystem = "s"\n', 4, "address", "should be text"),
        (
            'id = "broken"\nname = "B"\ndescription = "d"\naddress = "F"\ngreeting = "hi"\nsystem = "s"\n[options]\ntemperature = "hot"\n',
            8,
            "temperature",
            "number",
        ),
        ('id = "Broken Id"\nname = "B"\ndescription = "d"\naddress = "F"\ngreeting = "hi"\nsystem = "s"\n', 1, "id", "lower-case"),
        (
            'id = "broken"\nname = "B"\ndescription = "d"\naddress = "F"\ngreeting = "hi"\nsystem = "s"\nvoice = "deep"\n',
            7,
            "voice",
            "unknown field",
        ),
    ],
    ids=["invalid-toml", "missing-field", "wrong-type", "wrong-option-type", "bad-id", "unknown-field"],
)
def test_a_bad_file_is_reported_with_path_line_and_field_and_the_rest_load(text: str, line: int | None, field: str | None, words: str) -> None:
    path = write_user("broken.toml", text)
    shelf = personas.load()
    assert BUNDLED <= set(shelf.personas)
    [problem] = shelf.problems
    assert problem.path == path and problem.line == line and problem.field == field
    assert words in problem.message
    assert str(path) in str(problem)


def test_a_file_that_is_not_utf8_is_reported() -> None:
    folder = user_personas_dir()
    folder.mkdir(parents=True)
    (folder / "latin.toml").write_bytes(b'name = "caf\xe9"')
    assert "could not be read" in personas.load().problems[0].message


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(system=TEXT, greeting=TEXT, name=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s))
def test_unicode_and_long_multiline_prompts_round_trip_exactly(system: str, greeting: str, name: str) -> None:
    persona = replace(personas.template("round-trip"), system=system * 3 + "\n\n  indented\n\ttabbed ✓ — Fira\n", greeting=greeting, name=name)
    parsed = personas.parse(persona.to_toml(), Path("round-trip.toml"), "user")
    assert isinstance(parsed, personas.Persona)
    assert (parsed.system, parsed.greeting, parsed.name) == (persona.system, persona.greeting, persona.name)


def test_multiline_prompts_are_written_readably() -> None:
    text = personas.load().get("calm-guide").to_toml()
    assert 'system = """' in text and "\\n" not in text.split('system = """', 1)[1].split('"""', 1)[0]


def editor(tmp_path: Path, code: str) -> str:
    """An $EDITOR that runs this Python on the file it is given."""
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\npath = pathlib.Path(sys.argv[1])\ntext = path.read_text()\n" + code)
    return f"{sys.executable} {script}"


def test_guide_personas_lists_id_name_description_and_source(run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("personas")
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("calm-guide"))
    assert "Calm guide" in line and "[bundled]" in line and "waits for you" in line


def test_guide_personas_show_prints_the_toml(run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("personas", "show", "socratic-tutor")
    assert 'id = "socratic-tutor"' in result.stdout


def test_guide_personas_new_from_flags(run_guide) -> None:  # type: ignore[no-untyped-def]
    result = run_guide("personas", "new", "night-owl", "--name", "Night owl", "--system", "You are awake late, {address}.", "--temperature", "0.4")
    assert result.returncode == 0, result.stderr
    owl = personas.load().personas["night-owl"]
    assert owl.name == "Night owl" and owl.options == {"temperature": 0.4} and owl.source == "user"


def test_guide_personas_new_opens_the_editor_on_a_template(run_guide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edit = editor(tmp_path, "path.write_text(text.replace('One line: what this persona is for.', 'Keeps watch at night.'))")
    result = run_guide("personas", "new", "night-owl", EDITOR=edit)
    assert result.returncode == 0, result.stderr
    assert personas.load().personas["night-owl"].description == "Keeps watch at night."


def test_editing_a_bundled_persona_copies_it_to_the_user_folder_first(run_guide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edit = editor(tmp_path, "path.write_text(text.replace('name = \"Terse engineer\"', 'name = \"Very terse\"'))")
    result = run_guide("personas", "edit", "terse-engineer", EDITOR=edit)
    assert result.returncode == 0, result.stderr
    persona = personas.load().personas["terse-engineer"]
    assert persona.name == "Very terse" and persona.source == "user"
    assert (personas.bundled_dir() / "terse-engineer.toml").read_text().count("Terse engineer") == 1


def test_a_broken_edit_is_kept_as_a_draft_and_nothing_is_lost(run_guide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edit = editor(tmp_path, "path.write_text(text + '\\nthis is = = not toml\\n')")
    result = run_guide("personas", "edit", "calm-guide", EDITOR=edit)
    assert result.returncode == 1
    assert "not saved" in result.stderr and "draft" in result.stderr and "Traceback" not in result.stderr
    draft = user_personas_dir() / "calm-guide.toml.draft"
    assert "this is = = not toml" in draft.read_text()
    assert personas.load().personas["calm-guide"].source == "bundled"
    fix = editor(tmp_path, "path.write_text(text.replace('this is = = not toml', ''))")
    assert run_guide("personas", "edit", "calm-guide", EDITOR=fix).returncode == 0
    assert not draft.exists() and personas.load().personas["calm-guide"].source == "user"


def test_guide_personas_remove_only_removes_the_users(run_guide) -> None:  # type: ignore[no-untyped-def]
    personas.save(personas.template("night-owl"))
    assert run_guide("personas", "remove", "night-owl").returncode == 0
    refused = run_guide("personas", "remove", "calm-guide")
    assert refused.returncode == 1 and "bundled" in refused.stderr


def test_a_broken_user_file_is_reported_by_the_command_and_the_rest_list(run_guide) -> None:  # type: ignore[no-untyped-def]
    path = write_user("broken.toml", "id = \n")
    result = run_guide("personas")
    assert result.returncode == 0
    assert f"skipped a persona file: {path}, line 1" in result.stderr
    assert "calm-guide" in result.stdout


def test_guide_home_flag_moves_the_user_folder(run_guide, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "elsewhere"
    assert run_guide("--home", str(other), "personas", "new", "owl", "--name", "Owl").returncode == 0
    assert (other / "config" / "personas" / "owl.toml").exists()
    assert "owl" not in personas.load().personas
    assert os.environ["GUIDE_HOME"] != str(other)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_arbitrary_text_is_a_persona_or_a_reported_problem_never_a_crash(text: str) -> None:
    result = personas.parse(text, Path("any.toml"), "user")
    assert isinstance(result, (personas.Persona, personas.PersonaProblem))


def test_a_temperature_outside_the_apis_range_is_refused_before_it_is_saved(run_guide: Any) -> None:
    made = run_guide("personas", "new", "pirate", "--name", "Pirate", "--temperature", "3")
    assert made.returncode == 2 and "from 0 to 2" in made.stderr
    assert "pirate" not in personas.load().personas


@pytest.mark.parametrize(("option", "value"), [("temperature", 3), ("top_p", 1.5), ("presence_penalty", -3), ("max_tokens", 0)])
def test_a_persona_file_with_an_option_outside_the_apis_range_is_reported(option: str, value: float, tmp_path: Path) -> None:
    text = personas.template("pirate").to_toml() + f"\n[options]\n{option} = {value}\n"
    found = personas.parse(text.replace("[options]\ntemperature = 0.7\n", ""), tmp_path / "pirate.toml", "user")
    assert isinstance(found, personas.PersonaProblem) and "as the API takes it" in found.message and found.field == option
