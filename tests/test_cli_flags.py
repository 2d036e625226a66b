"""guide's own flags work before or after the command, the later winning; `guide --version`.

Every case runs the real `guide` command against a loopback server and
checks where the request really went and what it carried.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer

from guide import personas
from guide.cli import DISTRIBUTION, version

Run = Callable[..., subprocess.CompletedProcess[str]]
MODELS = ["losing-model", "winning-model"]  # the first is what the server picks when no model reaches it


def gone() -> str:
    """An address where nothing listens."""
    with LoopbackServer() as server:
        return server.url


def placed(flag: str, value: str, where: str, losing: str) -> list[str]:
    """`guide ask hi` with the flag before the command, after it, or both (a losing value first)."""
    if where == "before":
        return [flag, value, "ask", "hi"]
    if where == "after":
        return ["ask", "hi", flag, value]
    return [flag, losing, "ask", "hi", flag, value]


WHERE = ["before", "after", "both, the later wins"]


def chats(server: LoopbackServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize("where", WHERE)
def test_base_url_is_honoured_before_or_after_the_command(where: str, run_guide: Run) -> None:
    with LoopbackServer() as server:
        result = run_guide(*placed("--base-url", server.url, where, losing=gone()), "--model", "loopback-model")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "You said: hi\n" and len(chats(server)) == 1


def test_the_later_base_url_wins_even_when_it_cannot_answer(run_guide: Run) -> None:
    dead = gone()
    with LoopbackServer() as server:
        result = run_guide("--base-url", server.url, "ask", "hi", "--base-url", dead, "--model", "loopback-model")
        assert result.returncode == 3 and dead in result.stderr
        assert server.requests == []


@pytest.mark.parametrize("where", WHERE)
def test_model_is_honoured_before_or_after_the_command(where: str, run_guide: Run) -> None:
    with LoopbackServer(models=MODELS) as server:
        result = run_guide(*placed("--model", "winning-model", where, losing="losing-model"), OPENAI_BASE_URL=server.url)
        assert result.returncode == 0, result.stderr
        assert [chat["model"] for chat in chats(server)] == ["winning-model"]


@pytest.mark.parametrize("where", WHERE)
def test_persona_is_honoured_before_or_after_the_command(where: str, run_guide: Run) -> None:
    terse = personas.load().get("terse-engineer")
    with LoopbackServer() as server:
        result = run_guide(*placed("--persona", "terse-engineer", where, losing="socratic-tutor"), OPENAI_BASE_URL=server.url)
        assert result.returncode == 0, result.stderr
        [chat] = chats(server)
        assert chat["messages"][0] == {"role": "system", "content": terse.system_prompt()}


def home_answering_at(home: Path, address: str) -> str:
    """A guide home whose settings name a server and its model."""
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(f'base_url = "{address}"\nmodel = "loopback-model"\n')
    return str(home)


@pytest.mark.parametrize("where", WHERE)
def test_home_is_honoured_before_or_after_the_command(where: str, run_guide: Run, tmp_path: Path) -> None:
    with LoopbackServer() as server:
        home = home_answering_at(tmp_path / "this-home", server.url)
        other = home_answering_at(tmp_path / "other-home", gone())
        result = run_guide(*placed("--home", home, where, losing=other))
        assert result.returncode == 0, result.stderr
        assert len(chats(server)) == 1


def test_config_shows_this_runs_flags_from_either_place(run_guide: Run) -> None:
    before = run_guide("--model", "from-before", "config")
    after = run_guide("config", "--persona", "terse-engineer")
    assert before.returncode == after.returncode == 0
    assert any(line.split() == ["model", "from-before", "flag"] for line in before.stdout.splitlines())
    assert any(line.split() == ["persona", "terse-engineer", "flag"] for line in after.stdout.splitlines())


def test_a_flag_a_command_does_not_use_is_said_not_silently_dropped(run_guide: Run) -> None:
    result = run_guide("--model", "some-model", "map")
    assert result.returncode == 0 and result.stdout.startswith("think")
    assert result.stderr == "guide: --model is for the app, `guide ask` and `guide config`; `guide map` does not use it.\n"


def test_a_new_personas_model_is_the_personas_not_this_runs(run_guide: Run) -> None:
    result = run_guide("personas", "new", "quiet-one", "--model", "its-model")
    assert result.returncode == 0 and result.stderr == ""
    saved = personas.file_for("quiet-one")
    assert tomllib.loads(saved.read_text())["model"] == "its-model"


def test_version_prints_the_version(run_guide: Run) -> None:
    result = run_guide("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"guide {version()}\n"


def test_version_is_the_installed_distributions_by_our_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # `guide` on the package index is another project: its metadata must never be read as ours.
    installed = {"guide-chat": "9.8.7", "guide": "0.0.8"}

    def metadata_version(name: str) -> str:
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(importlib.metadata, "version", metadata_version)
    assert version() == "9.8.7"


def test_the_distribution_name_is_the_one_pyproject_publishes() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert DISTRIBUTION == pyproject["project"]["name"]


def test_version_without_installed_metadata_is_the_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    import guide

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert version() == guide.__version__
