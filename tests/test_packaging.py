"""Packaging, as a release makes it: `python -m build` (the sdist, then the wheel from the sdist), `twine check`,
and each installed in a fresh virtual environment, where `guide --version`, `guide map` and the personas work,
and a slice of the test suite passes from the unpacked sdist.

No network: the build runs without isolation (build, twine and hatchling are in the test extra), and each
fresh environment borrows the runtime dependencies from this one through a .pth file placed after its own
packages, so `import guide` there finds the installed copy first. About 30 s in all.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from guide import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME, VERSION = PROJECT["name"], PROJECT["version"]
BASE = f"{NAME.replace('-', '_')}-{VERSION}"  # the file name both distributions start with

# What the sdist holds: the package, the personas, the tests and all they read. Not screenshots/.
SDIST_TREES = ("guide", "personas", "tests", "docs", "benchmarks")
SDIST_FILES = (".ci/run", "README.md", "LICENSE", "pyproject.toml")
SDIST_ADDED = {"PKG-INFO", ".gitignore"}  # written or always kept by the build backend

# The slice of the suite run from the unpacked sdist against the sdist's install: the tests that read
# what lies outside the package (README, .ci/run, docs, personas, snapshots) or draw the app with the
# installed stylesheet. The whole suite runs once, from the checkout.
SLICE = (
    "tests/test_map.py",
    "tests/test_install_instructions.py",
    "tests/test_personas.py",
    "tests/test_exported_members.py",
    "tests/test_snapshots.py",
)


@dataclass(frozen=True)
class Built:
    """The two distributions, the sdist unpacked, and a fresh environment with each installed."""

    sdist: Path
    wheel: Path
    unpacked: Path
    venvs: dict[str, Path]


def environment() -> dict[str, str]:
    """This environment, less what would import guide from somewhere else: a PYTHONPATH, or the working folder."""
    kept = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return {**kept, "PYTHONSAFEPATH": "1"}


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A command, its output kept, in the environment above."""
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd, env=environment(), timeout=timeout)


def fresh_venv(where: Path) -> Path:
    """A virtual environment without pip (this one's pip installs into it) that borrows our dependencies."""
    run(sys.executable, "-m", "venv", "--without-pip", where).check_returncode()
    purelib = run(where / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib) / "zz_borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    return where


def install(venv: Path, distribution: Path) -> None:
    """One distribution into venv: no index, no dependencies, built (for an sdist) with the hatchling we have.

    --ignore-installed, because where this environment has guide-chat installed (as CI's has), pip sees it
    through the borrowed paths and would install nothing.
    """
    pip = (sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps", "--no-index", "--ignore-installed")
    result = run(*pip, "--no-build-isolation", distribution)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    for tool in ("build", "twine", "hatchling"):
        pytest.importorskip(tool, reason=f"needs {tool} (the test extra: pip install '.[test]')")
    work = tmp_path_factory.mktemp("packaging")
    result = run(sys.executable, "-m", "build", "--no-isolation", "--outdir", work / "dist", ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    [sdist] = (work / "dist").glob(f"{BASE}.tar.gz")
    [wheel] = (work / "dist").glob(f"{BASE}-*.whl")
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    venvs = {}
    for kind, distribution in (("wheel", wheel), ("sdist", sdist)):
        venvs[kind] = fresh_venv(work / f"venv-{kind}")
        install(venvs[kind], distribution)
    return Built(sdist, wheel, work / "unpacked" / BASE, venvs)


def test_twine_finds_both_distributions_fit_to_publish(built: Built) -> None:
    result = run(sys.executable, "-m", "twine", "check", "--strict", built.sdist, built.wheel)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_carries_the_personas_and_the_stylesheet(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    personas = {f"guide/bundled_personas/{path.name}" for path in (ROOT / "personas").glob("*.toml")}
    assert personas and personas <= names
    assert "guide/tui/guide.tcss" in names
    assert f"{BASE}.dist-info/licenses/LICENSE" in names


def test_the_wheel_carries_the_compact_spec(built: Built) -> None:
    # Every field is explained in the spec's own words, in the app, wherever guide is installed.
    names = zipfile.ZipFile(built.wheel).namelist()
    assert "guide/learn/openapi.compact.json" in names, "the wheel has no guide/learn/openapi.compact.json"


def test_the_wheel_holds_only_the_package_and_its_metadata(built: Built) -> None:
    names = zipfile.ZipFile(built.wheel).namelist()
    assert all(name.startswith(("guide/", f"{BASE}.dist-info/")) for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_sdist_is_exactly_the_package_its_tests_and_what_they_read(built: Built) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout, to know which files are the project's")
    listed = run("git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard", *SDIST_TREES, *SDIST_FILES)
    expected = {name for name in listed.stdout.splitlines() if (ROOT / name).is_file()}
    with tarfile.open(built.sdist) as archive:
        members = {member.name.removeprefix(f"{BASE}/") for member in archive.getmembers() if member.isfile()}
    assert members - SDIST_ADDED == expected


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_guide_version_is_the_installed_distributions(built: Built, kind: str, tmp_path: Path) -> None:
    venv = built.venvs[kind]
    where = "import importlib.metadata as m; print(m.distribution('guide-chat').locate_file(''))"
    assert Path(run(venv / "bin" / "python", "-c", where, cwd=tmp_path).stdout.strip()).is_relative_to(venv)
    result = run(venv / "bin" / "guide", "--version", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"guide {VERSION}\n", "")


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_guide_map_prints_every_action(built: Built, kind: str, tmp_path: Path) -> None:
    result = run(built.venvs[kind] / "bin" / "guide", "map", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    for action in ACTIONS.values():
        assert action.legacy_path in result.stdout


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_installed_guide_lists_the_bundled_personas(built: Built, kind: str, tmp_path: Path) -> None:
    result = run(built.venvs[kind] / "bin" / "guide", "--home", tmp_path / "home", "personas", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for persona in ("calm-guide", "api-docent", "socratic-tutor", "terse-engineer", "toolsmith"):
        assert persona in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_installed_personas_and_stylesheet_live_inside_the_package(built: Built, kind: str, tmp_path: Path) -> None:
    venv = built.venvs[kind]
    code = "import guide.personas as p; from guide.tui.app import GuideApp; print(p.bundled_dir()); print(GuideApp.CSS_PATH)"
    result = run(venv / "bin" / "python", "-c", code, cwd=tmp_path)
    personas, stylesheet = (Path(line) for line in result.stdout.split())
    assert personas.is_relative_to(venv) and (personas / "calm-guide.toml").is_file()
    assert stylesheet.is_relative_to(venv) and stylesheet.is_file()


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_installed_guide_reads_the_compact_spec_from_inside_the_package(built: Built, kind: str, tmp_path: Path) -> None:
    venv = built.venvs[kind]
    code = "import guide.learn.spec as s; print(s.__file__); print(len(s.load()['paths']))"
    where, routes = run(venv / "bin" / "python", "-c", code, cwd=tmp_path).stdout.split()
    assert Path(where).is_relative_to(venv)
    assert (Path(where).parent / "openapi.compact.json").is_file() and (Path(where).parent / "SOURCE.txt").is_file()
    assert int(routes) == len(ACTIONS) - 1  # revise's /edits is retired: the spec, and so its compact copy, no longer has it


def test_a_slice_of_the_suite_passes_from_the_unpacked_sdist(built: Built) -> None:
    python = built.venvs["sdist"] / "bin" / "python"
    imported = run(python, "-c", "import guide; print(guide.__file__)", cwd=built.unpacked).stdout.strip()
    assert Path(imported).is_relative_to(built.venvs["sdist"])  # the install, not the unpacked source
    result = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SLICE, cwd=built.unpacked, timeout=300)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "passed" in summary and "skipped" not in summary, summary
