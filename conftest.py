"""Run the code in README.md and docs/*.md as tests; make PostgreSQL tests mandatory in CI."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["README.md", "docs/*.md"],
).pytest()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, Any]:
    """With INSPECTION_FLOW_REQUIRE_PG=1 (as in CI), a skipped PostgreSQL test fails."""
    report = yield
    if (
        os.environ.get("INSPECTION_FLOW_REQUIRE_PG") == "1"
        and report.skipped
        and item.get_closest_marker("postgres") is not None
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} was skipped but CI requires PostgreSQL: "
            "set INSPECTION_FLOW_PG_URL to a reachable server"
        )
    return report
