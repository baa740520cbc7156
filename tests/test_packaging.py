"""The package as published: one version, a licence, the declared Pythons checked in CI,
and every runtime dependency doing work in the package."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

import inspection_flow

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SRC = ROOT / "src" / "inspection_flow"

#: The module each runtime distribution is imported as.
IMPORT_NAMES = {
    "attrs": "attrs",
    "pendulum": "pendulum",
    "transitions": "transitions",
    "chinesecalendar": "chinese_calendar",
    "sqlalchemy": "sqlalchemy",
    "orjson": "orjson",
    "xxhash": "xxhash",
    "tomli": "tomli",
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert match is not None
    return match.group(0).lower()


def test_the_version_is_written_once_and_the_metadata_agrees() -> None:
    """pyproject.toml reads the version from the package; the installed metadata says the same."""
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/inspection_flow/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", inspection_flow.__version__)
    assert metadata.version("inspection-flow") == inspection_flow.__version__


def test_the_changelog_has_a_section_for_what_is_next_and_what_was_released() -> None:
    """CHANGELOG.md keeps an Unreleased section on top, then one section per released version."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased"
    for version in headings[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version


def test_the_licence_is_in_the_repository_and_declared() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_declared_pythons_are_the_ones_ci_runs() -> None:
    """The classifiers name each Python from requires-python on; .ci/run tests each of them."""
    declared = sorted(
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert declared, "no Python version classifiers"
    lowest = PROJECT["requires-python"].removeprefix(">=")
    assert declared[0] == lowest
    minors = [int(v.split(".")[1]) for v in declared]
    assert minors == list(range(minors[0], minors[-1] + 1)), "a Python version is skipped"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r"^PYTHONS=\"([^\"]+)\"", ci, flags=re.M)
    assert match is not None, ".ci/run names the Pythons it tests in PYTHONS"
    assert sorted(match.group(1).split()) == declared


def test_the_lowest_versions_ci_tests_are_the_declared_floors() -> None:
    """.ci/lowest.txt pins each runtime dependency at the floor pyproject.toml declares."""
    pins = {}
    for line in (ROOT / ".ci" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    for requirement in PROJECT["dependencies"]:
        name = _name(requirement)
        floor = re.search(r">=([0-9.]+)", requirement)
        assert floor is not None, f"{requirement} declares no lowest version"
        assert name in pins, f".ci/lowest.txt does not pin {name}"
        assert pins[name].split(".")[: len(floor.group(1).split("."))] == floor.group(1).split(
            "."
        ), f"{name}: CI tests {pins[name]}, pyproject.toml declares >={floor.group(1)}"


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("requirement", PROJECT["dependencies"])
def test_every_runtime_dependency_is_imported_by_the_package(requirement: str) -> None:
    """A dependency every user installs must do work in src/, not only in tests or examples."""
    module = IMPORT_NAMES[_name(requirement)]
    assert module in _imported_modules(), f"{_name(requirement)} is declared but never imported"


def test_the_test_extra_holds_no_lint_tools_and_testing_brings_pytest() -> None:
    """Lint tools are the lint dependency group; the testing extra brings pytest."""
    extras = PROJECT["optional-dependencies"]
    tools = {"ruff", "mypy", "import-linter"}
    assert not tools & {_name(r) for r in extras["test"]}
    assert tools <= {_name(r) for r in PYPROJECT["dependency-groups"]["lint"]}
    assert "pytest" in {_name(r) for r in extras["testing"]}
