"""Shared fixtures and Hypothesis settings for the test suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from inspection_flow import ChinaCalendar

# The suite runs on small machines: modest example counts by default, more on demand
# with HYPOTHESIS_PROFILE=thorough.  No per-example deadline: a loaded machine must not
# turn a slow example into a failure.
settings.register_profile(
    "quick",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(scope="session")
def calendar() -> ChinaCalendar:
    """The national calendar, refusing unpublished years."""
    return ChinaCalendar()


@pytest.fixture(scope="session")
def weekends_calendar() -> ChinaCalendar:
    """The national calendar, computing past the published years with weekends only."""
    return ChinaCalendar(unpublished="weekends")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections work in a fresh schema, dropped afterwards."""
    url = os.environ.get("INSPECTION_FLOW_PG_URL")
    if not url:
        pytest.skip("set INSPECTION_FLOW_PG_URL=postgresql+psycopg://user@host/db")
    import sqlalchemy as sa

    schema = f"if_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        # Commits need not wait for the disk: no test here is about PostgreSQL's durability.
        options = f"-csearch_path={schema} -csynchronous_commit=off"
        yield (
            sa.make_url(url)
            .update_query_dict({"options": options})
            .render_as_string(hide_password=False)
        )
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new ledger database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_schema_url"))
