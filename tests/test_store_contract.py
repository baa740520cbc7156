"""Every store passes the store contract; the SQL store keeps its own promises too."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from inspection_flow import ConcurrencyError, MissingDependencyError, StoreError, TamperError
from inspection_flow.stores import EventStore, MemoryStore, SQLStore
from inspection_flow.stores._sql import SCHEMA_VERSION
from inspection_flow.testing import T0, StoreContract, create_commit, deadline, next_commit

PG_URL = os.environ.get("INSPECTION_FLOW_PG_URL")
needs_postgres = pytest.mark.skipif(
    not PG_URL,
    reason="set INSPECTION_FLOW_PG_URL=postgresql+psycopg://user@host/db to run against PostgreSQL",
)


class TestMemoryStore(StoreContract):
    """The in-memory store."""

    leases_alerts = False

    def make_store(self) -> EventStore:
        return MemoryStore()


class TestSQLiteStore(StoreContract):
    """The SQL store on a SQLite file."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "ledger.db"

    def make_store(self) -> EventStore:
        return SQLStore.open(self.path)


@pytest.mark.postgres
@needs_postgres
class TestPostgresStore(StoreContract):
    """The SQL store on PostgreSQL, one fresh schema per test."""

    @pytest.fixture(autouse=True)
    def _schema(self, pg_schema_url: str) -> None:
        self.url = pg_schema_url

    def make_store(self) -> EventStore:
        return SQLStore.open(self.url)


# --- the SQL store's own behaviour ----------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLStore]:
    with SQLStore.open(db_path) as opened:
        assert isinstance(opened, SQLStore)
        yield opened


def _raw(db_path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def _two_steps(store: SQLStore) -> None:
    commit = create_commit("case-1")
    store.append(commit)
    store.append(next_commit(commit.snapshot, payload={"note": "整改方案已报送"}))
    store.append(next_commit(store.get("case-1"), payload={"note": "验收"}))  # type: ignore[arg-type]


def test_changed_byte_in_payload_is_named_by_verify(store: SQLStore, db_path: Path) -> None:
    """A byte changed in a stored payload makes verify name the entity and version."""
    _two_steps(store)
    assert store.verify().ok
    _raw(
        db_path,
        "UPDATE if_events SET payload = replace(payload, '整改', '修改') "
        "WHERE entity_id = 'case-1' AND version = 2",
    )
    report = store.verify()
    assert (report.ok, report.entity_id, report.version) == (False, "case-1", 2)
    assert "hash" in report.problem


def test_unreadable_payload_is_a_store_error(store: SQLStore, db_path: Path) -> None:
    """Unreadable JSON in an event row raises StoreError naming the entity and version."""
    _two_steps(store)
    _raw(db_path, "UPDATE if_events SET payload = '{\"note\": ' WHERE version = 3")
    with pytest.raises(StoreError, match="case-1 event 3") as info:
        store.events("case-1")
    assert isinstance(info.value, TamperError)
    assert (info.value.entity_id, info.value.version) == ("case-1", 3)
    report = store.verify()
    assert (report.ok, report.entity_id, report.version) == (False, "case-1", 3)


def test_event_with_missing_fields_is_a_store_error(store: SQLStore, db_path: Path) -> None:
    """An event row whose actor or time is unusable raises StoreError, not a raw error."""
    _two_steps(store)
    _raw(db_path, "UPDATE if_events SET actor_role = '' WHERE version = 2")
    _raw(db_path, "UPDATE if_events SET at = 'yesterday' WHERE version = 3")
    with pytest.raises(StoreError, match="case-1 event 2"):
        store.events("case-1")
    _raw(db_path, "UPDATE if_events SET actor_role = 'liaison' WHERE version = 2")
    with pytest.raises(StoreError, match="case-1 event 3"):
        store.events("case-1")


@pytest.mark.parametrize(
    "snapshot",
    ["{not json", "[]", json.dumps({"entity_id": "case-1"}), json.dumps({"deadlines": []})],
)
def test_unreadable_snapshot_is_a_store_error(
    store: SQLStore, db_path: Path, snapshot: str
) -> None:
    """A snapshot row that cannot be read raises StoreError naming entity and version;
    rebuild rewrites it from the events."""
    _two_steps(store)
    good = store.get("case-1")
    _raw(db_path, "UPDATE if_entities SET snapshot = ?", snapshot)
    with pytest.raises(StoreError, match=r"case-1 \(version 3\)"):
        store.get("case-1")
    with pytest.raises(StoreError, match="case-1"):
        store.find()
    assert store.rebuild("case-1") == good
    assert store.get("case-1") == good


def test_rebuild_refuses_a_broken_chain(store: SQLStore, db_path: Path) -> None:
    """rebuild raises TamperError rather than fold a tampered history."""
    _two_steps(store)
    _raw(db_path, "UPDATE if_events SET name = 'forged' WHERE version = 2")
    with pytest.raises(TamperError) as info:
        store.rebuild("case-1")
    assert info.value.version == 2
    assert store.rebuild("nothing") is None


def test_connection_joins_the_callers_transaction(db_path: Path) -> None:
    """Given a Connection, writes happen in the caller's transaction: its rollback undoes them."""
    engine = SQLStore.make_engine(db_path)
    try:
        with engine.connect() as conn:
            with conn.begin():
                SQLStore(conn)
            trans = conn.begin()
            store = SQLStore(conn)
            store.append(create_commit("case-1"))
            assert store.get("case-1") is not None
            trans.rollback()
            with conn.begin():
                assert SQLStore(conn).get("case-1") is None
        with SQLStore(engine) as store:
            assert store.get("case-1") is None
    finally:
        engine.dispose()


def test_refused_command_leaves_the_callers_transaction_usable(db_path: Path) -> None:
    """A refused command rolls back its savepoint only; the caller's other writes commit."""
    engine = SQLStore.make_engine(db_path)
    try:
        with engine.connect() as conn, conn.begin():
            store = SQLStore(conn)
            first = create_commit("case-1")
            store.append(first)
            with pytest.raises(ConcurrencyError):
                store.append(create_commit("case-1"))
            store.append(next_commit(first.snapshot))
        with SQLStore(engine) as store:
            assert [e.version for e in store.events("case-1")] == [1, 2]
            assert store.verify().ok
    finally:
        engine.dispose()


def test_schema_version_newer_than_code_is_refused(store: SQLStore, db_path: Path) -> None:
    """A database written by a newer release is refused with a clear message."""
    _raw(
        db_path,
        "UPDATE inspection_flow_meta SET value = ? WHERE key = 'schema_version'",
        str(SCHEMA_VERSION + 1),
    )
    with pytest.raises(StoreError, match="newer than"):
        SQLStore.open(db_path)
    _raw(db_path, "UPDATE inspection_flow_meta SET value = 'x' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="not a number"):
        SQLStore.open(db_path)


def test_opens_urls_paths_and_engines(tmp_path: Path) -> None:
    """A URL, a path string, a Path and an engine open the same kind of store."""
    path = tmp_path / "a.db"
    with SQLStore.open(f"sqlite:///{path}") as store:
        store.append(create_commit("case-1"))
    for target in (str(path), path):
        with SQLStore.open(target) as store:
            assert list(store.entity_ids()) == ["case-1"]
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with SQLStore(engine) as store:
            assert store.get("case-1") is not None
            assert "a.db" in repr(store)
    finally:
        engine.dispose()


def test_sqlite_is_configured_for_durability(store: SQLStore, db_path: Path) -> None:
    """The store's SQLite connections use WAL, full sync, foreign keys and a busy timeout."""
    with store._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_overdue_uses_the_open_due_index(store: SQLStore) -> None:
    """EXPLAIN QUERY PLAN shows overdue served by the partial index, with no sort step."""
    from inspection_flow.stores._sql import _overdue_query

    query = _overdue_query(T0, kind=None, areas=None)
    compiled = query.compile(store._engine, compile_kwargs={"literal_binds": True})
    with store._engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    assert any("ix_if_entities_open_due" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_naive_instants_are_refused(store: SQLStore) -> None:
    """Queries refuse naive datetimes instead of comparing them with stored instants."""
    with pytest.raises(StoreError, match="timezone-aware"):
        store.overdue(T0.replace(tzinfo=None))


def test_inconsistent_commit_is_refused(store: SQLStore) -> None:
    """A commit whose events do not continue its expected version is refused."""
    commit = create_commit("case-1")
    step = next_commit(commit.snapshot)
    with pytest.raises(StoreError, match="continue the expected version"):
        store.append(attrs.evolve(step, expected_version=0))
    with pytest.raises(StoreError, match="snapshot version"):
        store.append(attrs.evolve(commit, snapshot=step.snapshot))


def test_unserialisable_payload_is_refused(store: SQLStore) -> None:
    """A payload that is not JSON is refused with a StoreError, and nothing is written."""
    commit = create_commit("case-1")
    event = attrs.evolve(commit.events[0], payload={"tags": {"水", "气"}})
    with pytest.raises(StoreError, match="payload cannot be stored as JSON"):
        store.append(attrs.evolve(commit, events=(event,)))
    assert store.get("case-1") is None


def test_missing_psycopg_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL URL without psycopg installed names the extra to install."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependencyError, match=r"inspection-flow\[postgres\]"):
        SQLStore.open("postgresql://postgres@127.0.0.1/test")


def test_bad_url_is_a_store_error() -> None:
    """A malformed URL raises StoreError."""
    with pytest.raises(StoreError):
        SQLStore.open("sqlite+nothing://x/y")


def test_due_deadlines_read_back(store: SQLStore) -> None:
    """Due and alert instants survive storage to the microsecond."""
    due = T0.replace(microsecond=123456)
    store.append(create_commit("case-1", deadlines={"due": deadline("due", due, alerts=[due])}))
    assert [s.entity_id for s in store.overdue(due)] == ["case-1"]
    assert store.overdue(due.replace(microsecond=123455)) == []
    assert [s.entity_id for s in store.due_alerts(due)] == ["case-1"]


@pytest.mark.postgres
@needs_postgres
def test_postgres_connection_joins_the_callers_transaction(pg_schema_url: str) -> None:
    """On PostgreSQL too, a refused command leaves the caller's transaction usable and
    the caller's rollback removes the store's writes."""
    engine = SQLStore.make_engine(pg_schema_url)
    try:
        with engine.connect() as conn:
            with conn.begin():
                store = SQLStore(conn)
                first = create_commit("case-1")
                store.append(first)
                with pytest.raises(ConcurrencyError):
                    store.append(create_commit("case-1"))
                store.append(next_commit(first.snapshot))
            trans = conn.begin()
            SQLStore(conn).append(create_commit("case-2"))
            trans.rollback()
        with SQLStore(engine) as store:
            assert list(store.entity_ids()) == ["case-1"]
            assert [e.version for e in store.events("case-1")] == [1, 2]
    finally:
        engine.dispose()


@pytest.mark.postgres
@needs_postgres
def test_postgres_claims_skip_locked_rows(pg_schema_url: str) -> None:
    """A claim passes over entities another transaction has locked instead of waiting."""
    url = sa.make_url(pg_schema_url)
    # Should the claim wait for the lock after all, it fails after 5 s instead of hanging.
    options = f"{url.query['options']} -clock_timeout=5000"
    store_url = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    due = T0 + dt.timedelta(days=1)
    with SQLStore.open(store_url) as store:
        for entity_id in ("a", "b", "c"):
            store.append(
                create_commit(entity_id, deadlines={"due": deadline("due", due, alerts=[T0])})
            )
        other = sa.create_engine(pg_schema_url)
        try:
            with other.connect() as conn, conn.begin():
                conn.exec_driver_sql("SELECT 1 FROM if_entities WHERE entity_id = 'a' FOR UPDATE")
                claimed = store.claim_due_alerts(T0, worker="w1")
                assert [s.entity_id for s in claimed] == ["b", "c"]
        finally:
            other.dispose()
        assert [s.entity_id for s in store.claim_due_alerts(T0, worker="w2")] == ["a"]


def test_write_lock_held_too_long_is_a_store_error(db_path: Path) -> None:
    """A writer that cannot get SQLite's write lock within busy_timeout raises StoreError."""
    with SQLStore.open(db_path, busy_timeout=0.2) as store:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreError, match="write lock"):
                store.append(create_commit("case-1"))
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        store.append(create_commit("case-1"))
        assert [e.version for e in store.events("case-1")] == [1]
