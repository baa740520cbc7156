"""The documentation site: every page in its navigation, and the examples in the public
names' docstrings run (the reference shows them)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import inspection_flow

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: The main entry points: their docstrings carry an example the reference shows.
ENTRY_POINTS = ("Ledger", "ChinaCalendar", "DeadlineRule", "Rulebook")

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(inspection_flow.__path__, "inspection_flow.")
    if info.name != "inspection_flow.__main__"
)


def nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav lists, in order."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_nav_lists_every_page_once() -> None:
    """Each docs/*.md page is in the site's navigation, once; the nav names no missing page."""
    pages = nav_pages()
    on_disk = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(pages) == on_disk
    assert len(pages) == len(set(pages))


def test_nav_keeps_the_four_kinds_apart() -> None:
    """Tutorial, how-to guides, explanation and reference are sections of their own."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    sections = ("教程 / Tutorial", "操作指南 / How-to", "解释 / Explanation", "参考 / Reference")
    for section in sections:
        assert f"  - {section}:" in text


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_points_have_examples(name: str) -> None:
    """The main entry points' docstrings have an Examples section with doctests."""
    # Python 3.13 strips docstrings' indentation when it compiles them: compare them clean.
    doc = inspect.cleandoc(getattr(inspection_flow, name).__doc__ or "")
    assert "\nExamples:\n" in doc
    assert ">>> " in doc


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    """Every doctest in the package's docstrings gives the output it shows."""
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(module, module_name, globs={}):
        if test.examples and test.name.startswith(module_name):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
