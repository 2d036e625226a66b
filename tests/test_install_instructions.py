"""Every `pip install` guide prints or documents installs guide itself or a package guide depends on.

`guide` on the package index is an unrelated project, so an instruction to
`pip install 'guide[local]'` would fetch someone else's code, and its `guide`
module could shadow ours. The allowed names are read from pyproject.toml when
the test runs: our distribution (with its real extras), a clone (`.`,
`-e .`), the dependencies of guide and of its extras, and pip itself.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OURS = canonicalize_name(PYPROJECT["name"])
EXTRAS = set(PYPROJECT["optional-dependencies"])
DEPENDENCIES = {
    canonicalize_name(Requirement(spec).name)
    for spec in [*PYPROJECT["dependencies"], *(spec for specs in PYPROJECT["optional-dependencies"].values() for spec in specs)]
}
ALLOWED = DEPENDENCIES | {"pip"}  # `pip install --upgrade pip` names the installer itself

# What is scanned: what guide prints (the package, the personas) and what it documents or runs.
SCANNED = ["README.md", "docs", "personas", "guide", ".ci", "benchmarks", "screenshots/make.py", "tests"]
TEXT_SUFFIXES = {"", ".py", ".md", ".toml", ".tcss", ".txt", ".json", ".sh", ".cfg", ".yaml", ".yml"}

INSTALL = re.compile(r"\bpip[x3]?\s+install\b")
# One argument after `install`: a quoted word, a bare word (with its [extras]), or what ends the command.
ARGUMENT = re.compile(r"""\s*(?:(?P<end>`|&&|\|\||[;|),#]|$)|'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<bare>[^\s'"`;&|),#\[]+(?:\[[^\]\s]*\])?))""")
TAKES_A_FILE = {"-r", "--requirement", "-c", "--constraint"}


def arguments(rest: str) -> Iterator[str]:
    """The words after `pip install`, up to whatever ends the command (a backtick, `&&`, `)`, a comma…)."""
    position = 0
    while match := ARGUMENT.match(rest, position):
        if match.group("end") is not None:
            return
        yield next(value for value in match.group("single", "double", "bare") if value is not None)
        position = match.end()


def refused(requirement: str) -> str | None:
    """Why this requirement is not one we may tell a user to install, or None if it is."""
    if requirement.startswith((".", "/")):  # a clone, or a file built from it
        extras = re.fullmatch(r"[^\[]*(?:\[(?P<extras>[^\]]*)\])?", requirement)
        unknown = {e.strip() for e in (extras.group("extras") or "").split(",") if e.strip()} - EXTRAS if extras else set()
        return f"extras guide does not have: {sorted(unknown)}" if unknown else None
    if requirement[-1:] in ".:":  # the end of a sentence, not of the name
        requirement = requirement[:-1]
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return "not a package name this test can read"
    name = canonicalize_name(parsed.name)
    if name == OURS:
        unknown = parsed.extras - EXTRAS
        return f"extras guide does not have: {sorted(unknown)}" if unknown else None
    return None if name in ALLOWED else f"neither {OURS} (ours) nor one of its dependencies"


def offenders(text: str) -> list[tuple[int, str, str]]:
    """Each `pip install` argument in text that names a package we do not own or use: (line, argument, why)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for command in INSTALL.finditer(line):
            words = list(arguments(line[command.end() :]))
            if not any(not word.startswith("-") for word in words):
                found.append((number, "(nothing)", "keep a pip install on one line, so what it installs can be read"))
            after_file_option = False
            for word in words:
                if after_file_option:
                    after_file_option = False
                    requirements = ROOT / word
                    if not requirements.is_file():
                        found.append((number, word, "a requirements file that is not here"))
                        continue
                    for spec in requirements.read_text().splitlines():
                        spec = spec.split("#")[0].strip()
                        if spec and (why := refused(spec)):
                            found.append((number, f"{word}: {spec}", why))
                elif word in TAKES_A_FILE:
                    after_file_option = True
                elif not word.startswith("-") and (why := refused(word)):
                    found.append((number, word, why))
    return found


def scanned_files() -> Iterator[Path]:
    """The text files that guide prints from or documents with (this test's own examples excepted)."""
    for name in SCANNED:
        top = ROOT / name
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts and path != Path(__file__).resolve():
                yield path


@pytest.mark.parametrize(
    ("line", "refused_words"),
    [
        ("For real answers, run `pip install 'guide[local]'` for a small local model", ["guide[local]"]),
        ("pipx install guide", ["guide"]),
        ('print("pip install guide-chat.")', []),
        ("pip install . && guide", []),
        ("pip install '.[test]' && python -m pytest", []),
        ("pip install -e '.[local,servers]'", []),
        ("pip install '.[lcoal]'", [".[lcoal]"]),
        ("`pip install 'guide-chat[local]'`", []),
        ("pip install 'guide-chat[lcoal]'", ["guide-chat[lcoal]"]),
        ("python -m pip install -q --upgrade pip", []),
        ("(the openai SDK is not installed: pip install openai, to compare with it)", []),
        ("pip install 'textual>=8.2' llama-cpp-python[server]", []),
        ("pip install requests", ["requests"]),
        ("pip install --index-url https://elsewhere.example/simple guide-chat", ["https://elsewhere.example/simple"]),
        ("python -m pip install -q -r benchmarks/requirements.txt", []),
        ("or run pip install", ["(nothing)"]),
    ],
)
def test_the_scanner_reads_an_install_line(line: str, refused_words: list[str]) -> None:
    assert [word for _, word, _ in offenders(line)] == refused_words


def test_the_scan_covers_what_guide_prints_and_documents() -> None:
    scanned = {path.relative_to(ROOT).as_posix() for path in scanned_files()}
    for expected in ("README.md", "guide/companion/listener.py", "personas/calm-guide.toml", "docs/reliability.md"):
        assert expected in scanned


def test_no_instruction_installs_a_package_we_do_not_own_or_use() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {word} ({why})"
        for path in scanned_files()
        for number, word, why in offenders(path.read_text(errors="replace"))
    ]
    assert found == []
