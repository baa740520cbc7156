"""On a SQLite file in write-ahead logging, the point reads of a block holding reads (a
batch, an import) after its first share a read transaction of a bounded number of reads;
a write on the held connection, and the block's end, close it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from inspection_flow import SHANGHAI, Actor, ConcurrencyError, Ledger, SQLStore
from inspection_flow.stores import _sql
from inspection_flow.testing import create_commit

OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
RULEBOOK = "hunan-provincial-2023"


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, tzinfo=SHANGHAI)


def _ledger(path: Path, rounds: int) -> Ledger:
    ledger = Ledger.open(path, rulebook=RULEBOOK)
    with ledger.batch():
        for k in range(rounds):
            ledger.create_round(f"R{k}", name="益阳市", area="430900", actor=OFFICE, at=at(20))
    return ledger


def _driver(store: SQLStore) -> Any:
    """The driver's connection of the cursor the store holds for its reads."""
    return store._held.connection


def _read_twice(store: SQLStore, first: str = "R0", second: str = "R1") -> Any:
    """Read two entities inside the store's block; return the driver's connection."""
    assert store.get(first) is not None
    assert store.get(second) is not None
    return _driver(store)


def test_reads_after_the_first_share_a_transaction_that_ends_with_the_block(
    tmp_path: Path,
) -> None:
    ledger = _ledger(tmp_path / "l.db", 3)
    store = ledger.store
    assert isinstance(store, SQLStore)
    try:
        with store.holding_reads():
            assert store.get("R0") is not None
            # A single command reads once and writes: its read opens no transaction.
            assert not _driver(store).in_transaction
            assert store.get("R1") is not None
            assert _driver(store).in_transaction
            driver = _driver(store)
        assert not driver.in_transaction
        drivers: list[Any] = []
        with pytest.raises(KeyError):
            _reads_then_fails(store, drivers)
        assert drivers
        assert not drivers[0].in_transaction
    finally:
        ledger.close()


def _reads_then_fails(store: SQLStore, drivers: list[Any]) -> None:
    with store.holding_reads():
        drivers.append(_read_twice(store))
        raise KeyError("the caller's own error")


def test_a_change_by_another_writer_is_seen_within_the_bound(tmp_path: Path) -> None:
    """Reads in one transaction see the ledger as it was when it began; after
    ``_READS_TOGETHER`` reads at most, a new one begins and sees what was committed."""
    ledger = _ledger(tmp_path / "l.db", 2)
    store = ledger.store
    assert isinstance(store, SQLStore)
    other = Ledger.open(tmp_path / "l.db", rulebook=RULEBOOK)
    try:
        with store.holding_reads():
            store.get("R0")
            store.get("R0")
            other.fire("R1", "announce", actor=OFFICE, at=at(20, 10))
            reads = 0
            while store.get("R1").state != "announced":  # type: ignore[union-attr]
                reads += 1
                assert reads <= _sql._READS_TOGETHER
            assert reads > 0
    finally:
        other.close()
        ledger.close()


def test_a_write_after_shared_reads_runs_on_the_held_connection(tmp_path: Path) -> None:
    """A command inside a block holding reads ends the reads' transaction and writes."""
    ledger = _ledger(tmp_path / "l.db", 3)
    store = ledger.store
    assert isinstance(store, SQLStore)
    try:
        with store.holding_reads():
            assert _read_twice(store).in_transaction
            ledger.fire("R2", "announce", actor=OFFICE, at=at(20, 10))
            assert not _driver(store).in_transaction
            assert store.get("R2").state == "announced"  # type: ignore[union-attr]
        assert ledger.get("R2").state == "announced"
        assert ledger.verify().ok
    finally:
        ledger.close()


def test_a_batch_planned_on_an_entity_changed_meanwhile_writes_nothing(tmp_path: Path) -> None:
    """Another writer moves an entity on after the batch's reads began: the batch's
    command on it, planned on what the batch read, is refused at the write, and nothing
    of the batch is written."""
    ledger = _ledger(tmp_path / "l.db", 3)
    other = Ledger.open(tmp_path / "l.db", rulebook=RULEBOOK)
    try:
        with pytest.raises(ConcurrencyError):
            _batch_with_a_change_meanwhile(ledger, other)
        assert [ledger.get(f"R{k}").state for k in range(3)] == [
            "planned",
            "planned",
            "announced",
        ]
        assert [e.at for e in ledger.history("R2")][-1] == at(20, 11)
        assert ledger.verify().ok
    finally:
        other.close()
        ledger.close()


def _batch_with_a_change_meanwhile(ledger: Ledger, other: Ledger) -> None:
    with ledger.batch():
        ledger.fire("R0", "announce", actor=OFFICE, at=at(20, 10))
        ledger.fire("R1", "announce", actor=OFFICE, at=at(20, 10))
        other.fire("R2", "announce", actor=OFFICE, at=at(20, 11))
        ledger.fire("R2", "announce", actor=OFFICE, at=at(20, 10))


def test_reads_are_not_shared_on_a_file_with_a_rollback_journal(tmp_path: Path) -> None:
    """On a file that keeps a rollback journal (an engine made by the application, which
    the store does not switch to write-ahead logging), a read transaction would hold a
    lock that writers wait for: each read runs on its own, and another connection
    writes at once while the block goes on."""
    path = tmp_path / "journal.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    store = SQLStore(engine)
    try:
        for k in range(3):
            store.append(create_commit(f"E{k}"))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
        other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            with store.holding_reads():
                assert not _read_twice(store, "E0", "E1").in_transaction
                other.execute("UPDATE if_entities SET updated_at = updated_at WHERE 0")
                other.execute("BEGIN IMMEDIATE")
                other.execute("COMMIT")
        finally:
            other.close()
    finally:
        store.close()
        engine.dispose()


def test_a_read_only_store_on_a_logged_file_shares_its_reads(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "l.db", 3)
    ledger.close()
    reader = Ledger.open(tmp_path / "l.db", rulebook=RULEBOOK, read_only=True)
    store = reader.store
    assert isinstance(store, SQLStore)
    try:
        with store.holding_reads():
            assert _read_twice(store).in_transaction
    finally:
        reader.close()
