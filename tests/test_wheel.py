"""The wheel carries the bundled personas and the compact OpenAPI spec: install it (not editable) and read them."""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with guide installed from a freshly built wheel.

    No network: the wheel is built without build isolation (hatchling is a test
    dependency), and the runtime dependencies are borrowed from this
    environment through a .pth file placed after the venv's own packages.
    """
    pytest.importorskip("hatchling")
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = (work / "dist").glob("guide-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    )
    borrowed = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib.stdout.strip()) / "zz_borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    return venv


def test_the_wheel_lists_the_bundled_personas(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run([str(installed / "bin" / "guide"), "--home", str(home), "personas"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for persona in ("calm-guide", "api-docent", "socratic-tutor", "terse-engineer"):
        assert persona in result.stdout
    assert result.stderr == ""


def test_the_installed_personas_live_inside_the_package(installed: Path, tmp_path: Path) -> None:
    code = "import guide.personas as p; print(p.bundled_dir())"
    where = subprocess.run([str(installed / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert Path(where.stdout.strip()).is_relative_to(installed)
    assert (Path(where.stdout.strip()) / "calm-guide.toml").is_file()


def test_the_installed_wheel_carries_the_compact_spec(installed: Path, tmp_path: Path) -> None:
    code = "import guide.learn.spec as s; print(s.__file__); print(len(s.load()['paths']))"
    result = subprocess.run([str(installed / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    where, routes = result.stdout.split()
    assert Path(where).is_relative_to(installed)
    assert (Path(where).parent / "openapi.compact.json").is_file()
    assert (Path(where).parent / "SOURCE.txt").is_file()
    assert int(routes) == 9
