"""The scripts in examples/ run as a new user would run them, and the documentation quotes
them (and the lifecycle diagrams) exactly as they are."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inspection_flow import LIFECYCLES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOCS = sorted((ROOT / "docs").glob("*.md"))

#: Lines each script must print, by file name.
EXPECTED = {
    "source_case.py": [
        "进驻 station-in: 2023-06-26 – 2023-07-16",
        "第1批 batch 1 (2023-06-28): YY-0001, YY-0002, YY-0003",
        "第2批 batch 2 (2023-06-29): YY-0004, YY-0005",
        "refused: 资阳区 has no jurisdiction over 赫山区",
        "case result due (result_due) → 2023-07-10",
        "overdue: YY-0002, YY-0003, YY-0004, YY-0005",
        "hash chains: intact: 6 entities, 33 events",
    ],
    "scheduler.py": [
        "two workers swept 2023-06-27 to 2023-08-31",
        "alerts recorded: 10, delivered: 10",
        "each delivered exactly once",
    ],
}

# A quoted excerpt is marked in the docs as: <!-- excerpt: examples/NAME.py --> followed
# (after an optional skip marker) by a fenced python block.
EXCERPT = re.compile(
    r"<!-- excerpt: (?P<path>examples/[\w.]+) -->\s*(?:<!-- skip: next -->\s*)?"
    r"```python\n(?P<code>.*?)```",
    re.DOTALL,
)
MERMAID = re.compile(r"```mermaid\n(?P<diagram>.*?)\n```", re.DOTALL)


def test_every_example_has_expected_output() -> None:
    """Each script in examples/ is listed with the lines it must print."""
    assert EXAMPLES
    assert {p.name for p in EXAMPLES} == set(EXPECTED)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    """The script exits with 0 from a foreign working directory and prints what it promises."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    for expected in EXPECTED[script.name]:
        assert expected in lines, f"{expected!r} not in output:\n{done.stdout}"


def test_doc_excerpts_are_taken_from_the_examples() -> None:
    """Every excerpt of an example quoted in docs/ appears verbatim in that script."""
    found = 0
    for doc in DOCS:
        for match in EXCERPT.finditer(doc.read_text(encoding="utf-8")):
            found += 1
            script = (ROOT / match["path"]).read_text(encoding="utf-8")
            assert match["code"] in script, f"{doc.name} quotes {match['path']} inexactly"
    assert found


def test_lifecycle_diagrams_are_current() -> None:
    """Each Mermaid diagram in docs/lifecycles.md is what Lifecycle.mermaid() draws today."""
    text = (ROOT / "docs" / "lifecycles.md").read_text(encoding="utf-8")
    diagrams = [m["diagram"] for m in MERMAID.finditer(text)]
    drawn = {lc.mermaid(lang) for lc in LIFECYCLES.values() for lang in ("zh", "en")}
    assert diagrams
    for diagram in diagrams:
        assert diagram in drawn, diagram.splitlines()[:3]
