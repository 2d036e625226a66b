"""The README and docs/ point only at files that exist, and the README stays short enough to read first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # code blocks hold no links
    return [target for target in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(page: Path) -> None:
    missing = [target for target in relative_links(page) if not (page.parent / target.split("#", 1)[0]).exists()]
    assert missing == []


def test_every_docs_page_is_linked_from_the_readme_or_another_page() -> None:
    linked = {(page.parent / target.split("#", 1)[0]).resolve() for page in PAGES for target in relative_links(page)}
    orphans = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert orphans == []


def test_the_readme_stays_under_200_lines() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 200
