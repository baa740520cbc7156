"""Large writes: receive_complaints, reads held for a batch, get_many, a streamed
hand-over, and the benchmarks' quick modes."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from inspection_flow import (
    SHANGHAI,
    Actor,
    ChronologyError,
    ConcurrencyError,
    InvalidTransitionError,
    Ledger,
    MemoryStore,
    PayloadError,
    PermissionDeniedError,
    Snapshot,
    SQLStore,
)
from inspection_flow._ledger import complaints
from inspection_flow.stores import _sql

OFFICE = Actor("leading_office", "430000")
TEAM = Actor("inspection_team", "430000")
ROOT = Path(__file__).resolve().parent.parent


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, tzinfo=SHANGHAI)


def row(cid: str, hour: int = 10, area: str = "430903") -> dict[str, Any]:
    return {
        "channel": "phone",
        "received_at": at(27, hour),
        "area": area,
        "summary": "噪声扰民",
        "category": "noise",
        "complaint_id": cid,
    }


class CountingStore(SQLStore):
    """A SQLite store that counts the point reads the ledger makes."""

    def __init__(self, target: Path) -> None:
        super().__init__(target)
        self.reads: list[str] = []

    def get(self, entity_id: str) -> Snapshot | None:
        self.reads.append(entity_id)
        return super().get(entity_id)


def stationed(store: MemoryStore | SQLStore) -> Ledger:
    ledger = Ledger(store, rulebook="hunan-provincial-2023")
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    return ledger


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        store: MemoryStore | SQLStore = MemoryStore()
    elif request.param == "sqlite":
        store = SQLStore.open(tmp_path / "l.db")
    else:
        store = SQLStore.open(request.getfixturevalue("pg_schema_url"))
    led = stationed(store)
    yield led
    led.close()


def comparable(snap: Snapshot) -> tuple[Any, ...]:
    return (snap.entity_id, snap.state, snap.version, snap.area, snap.category, dict(snap.data))


def test_receive_complaints_records_what_receive_complaint_records(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Each row is recorded as one receive_complaint call would record it."""
    rows = [row(f"C{i}", hour=8 + i) for i in range(14)]
    got = ledger.receive_complaints("R", rows, actor=TEAM)
    one_by_one = stationed(MemoryStore())
    expected = [one_by_one.receive_complaint("R", actor=TEAM, **r) for r in rows]
    assert [comparable(s) for s in got] == [comparable(s) for s in expected]
    assert [comparable(ledger.get(s.entity_id)) for s in got] == [comparable(s) for s in got]
    # A call after 20:00 belongs to the next day, as for receive_complaint.
    assert got[-1].data["intake_day"] == "2023-06-28"


def test_receive_complaints_with_an_id_in_use_writes_nothing(ledger: Ledger) -> None:
    """An id already stored, or given twice in the rows, refuses every row."""
    ledger.receive_complaints("R", [row("C1")], actor=TEAM)
    for rows in ([row("C2"), row("C1"), row("C3")], [row("C4"), row("C4")]):
        with pytest.raises(PayloadError, match=r"C1|C4") as refused:
            ledger.receive_complaints("R", rows, actor=TEAM)
        assert refused.value.field == "entity_id"
        assert ledger.counts("state", kind="complaint") == {"received": 1}


def test_receive_complaints_refuses_rows_naming_the_actor_or_round(ledger: Ledger) -> None:
    """The round and the actor are given once; a row naming them, or not a mapping, is refused."""
    with pytest.raises(PayloadError, match="actor"):
        ledger.receive_complaints("R", [{**row("C1"), "actor": TEAM}], actor=TEAM)
    with pytest.raises(PayloadError, match="round_id"):
        ledger.receive_complaints("R", [{**row("C1"), "round_id": "R"}], actor=TEAM)
    with pytest.raises(PayloadError, match="mapping"):
        ledger.receive_complaints("R", ["C1"], actor=TEAM)  # type: ignore[list-item]
    assert ledger.counts("state", kind="complaint") == {}


def test_receive_complaints_inside_a_batch_joins_its_write(ledger: Ledger) -> None:
    """Inside batch() the rows are written with the block, and not if the block fails."""

    def block() -> None:
        with ledger.batch():
            ledger.receive_complaints("R", [row("C1"), row("C2")], actor=TEAM)
            assert ledger.get("C2").state == "received"
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        block()
    assert ledger.counts("state", kind="complaint") == {}


def test_a_batch_reads_each_entity_once(tmp_path: Path) -> None:
    """Inside batch() the round, each new id and each changed entity are read once."""
    store = CountingStore(tmp_path / "l.db")
    ledger = stationed(store)
    store.reads.clear()
    with ledger.batch():
        for i in range(5):
            ledger.receive_complaint("R", actor=TEAM, **row(f"C{i}"))
    assert sorted(store.reads) == ["C0", "C1", "C2", "C3", "C4", "R"]
    store.reads.clear()
    ledger.receive_complaints("R", [row(f"D{i}") for i in range(5)], actor=TEAM)
    assert store.reads == []  # the round and the ids came with one get_many
    ledger.close()


LIAISON = Actor("liaison", "430900")
OWNER = Actor("owner_unit", "430903")


def handed(ledger: Ledger, cases: int) -> list[str]:
    """``cases`` calls of 06-27 received and handed over on 06-28; their ids."""
    ids = [f"C{i}" for i in range(cases)]
    ledger.receive_complaints("R", [row(i) for i in ids], actor=TEAM)
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    return ids


def test_fire_many_applies_what_fire_applies(ledger: Ledger) -> None:
    """Each entity gets the event fire() gives it, in the order of the ids, in one write."""
    ids = handed(ledger, 6)
    one_by_one = stationed(MemoryStore())
    handed(one_by_one, 6)
    events = ledger.fire_many(ids, "assign", actor=LIAISON, at=at(28, 10), owners=["430903"])
    expected = [
        one_by_one.fire(i, "assign", actor=LIAISON, at=at(28, 10), owners=["430903"]) for i in ids
    ]
    assert [e.entity_id for e in events] == ids
    assert [(e.name, e.version, dict(e.payload), dict(e.effects)) for e in events] == [
        (e.name, e.version, dict(e.payload), dict(e.effects)) for e in expected
    ]
    assert [comparable(ledger.get(i)) for i in ids] == [comparable(one_by_one.get(i)) for i in ids]
    assert all(ledger.history(i)[-1] == e for i, e in zip(ids, events, strict=True))


def test_areas_set_to_what_they_were_keep_their_rows(tmp_path: Path) -> None:
    """A case assigned to the area it was received for keeps its area rows; a case given
    other areas has its rows replaced; the area filters and the deep check agree."""
    store = SQLStore.open(tmp_path / "l.db")
    ledger = stationed(store)
    ids = handed(ledger, 4)
    replaced: list[str] = []

    def seen(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if sql.startswith("DELETE FROM if_entity_areas"):
            replaced.extend(p[0] for p in (params if many else [params]))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        with ledger.batch():
            ledger.fire_many(ids[:2], "assign", actor=LIAISON, at=at(28, 10), owners=["430903"])
            ledger.fire(ids[2], "assign", actor=LIAISON, at=at(28, 10), owners=["430902"])
            ledger.fire(ids[3], "assign", actor=LIAISON, at=at(28, 10), owners=["430903", "430902"])
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    assert sorted(replaced) == ids[2:]
    assert sorted(s.entity_id for s in ledger.find(kind="complaint", area="430902")) == ids[2:]
    assert sorted(s.entity_id for s in ledger.find(kind="complaint", area="430903")) == [
        ids[0],
        ids[1],
        ids[3],
    ]
    assert ledger.verify(deep=True).ok
    ledger.close()


def test_fire_many_refused_for_one_entity_writes_nothing(ledger: Ledger) -> None:
    """A refusal for any entity is raised for it, and no entity moves."""
    ids = handed(ledger, 4)
    ledger.fire("C2", "assign", actor=LIAISON, at=at(28, 10), owners=["430903"])
    before = {i: ledger.get(i).version for i in ids}
    with pytest.raises(InvalidTransitionError) as refused:
        ledger.fire_many(ids, "assign", actor=LIAISON, at=at(28, 11), owners=["430903"])
    assert refused.value.entity_id == "C2"
    with pytest.raises(PermissionDeniedError):
        ledger.fire_many(["C0", "C1"], "assign", actor=OWNER, at=at(28, 11), owners=["430903"])
    assert {i: ledger.get(i).version for i in ids} == before


def test_fire_many_with_command_ids_is_idempotent(ledger: Ledger) -> None:
    """Repeated with the same command ids, fire_many returns the first events and appends
    nothing; ids and command ids that do not match are refused."""
    ids = handed(ledger, 3)
    commands = [f"assign-{i}" for i in ids]
    first = ledger.fire_many(
        ids, "assign", actor=LIAISON, at=at(28, 10), command_ids=commands, owners=["430903"]
    )
    again = ledger.fire_many(
        ids, "assign", actor=LIAISON, at=at(28, 10), command_ids=commands, owners=["430903"]
    )
    assert again == first
    assert [ledger.get(i).version for i in ids] == [e.version for e in first]
    for bad in (commands[:2], "assign-C0"):
        with pytest.raises(PayloadError) as refused:
            ledger.fire_many(ids, "start_investigation", actor=OWNER, at=at(29), command_ids=bad)
        assert refused.value.field == "command_ids"
    with pytest.raises(PayloadError) as refused:
        ledger.fire_many("C0", "start_investigation", actor=OWNER, at=at(29))
    assert refused.value.field == "entity_ids"
    assert [ledger.get(i).version for i in ids] == [e.version for e in first]


def test_a_command_applied_meanwhile_by_another_writer_keeps_its_first_result(
    tmp_path: Path,
) -> None:
    """A batch looks its command ids up when it reads; one applied by another writer
    before the batch is written returns that writer's event, and the rest is written."""
    path = tmp_path / "l.db"
    first = stationed(SQLStore.open(path))
    ids = handed(first, 3)
    other = Ledger(SQLStore.open(path), rulebook="hunan-provincial-2023")
    commands = [f"assign-{i}" for i in ids]
    with first.batch():
        first.fire_many(
            ids, "assign", actor=LIAISON, at=at(28, 10), command_ids=commands, owners=["430903"]
        )
        theirs = other.fire(
            "C1", "assign", actor=LIAISON, at=at(28, 10), command_id="assign-C1", owners=["430903"]
        )
    assert [first.get(i).version for i in ids] == [4, 4, 4]
    assert first.history("C1")[-1] == theirs
    assert len(first.history("C1")) == 4
    assert first.verify().ok
    first.close()
    other.close()


def test_fire_many_reads_the_entities_together(tmp_path: Path) -> None:
    """The entities are read with one look-up, not one each; inside batch() the commands
    join the block's write."""
    store = CountingStore(tmp_path / "l.db")
    ledger = stationed(store)
    ids = handed(ledger, 5)
    store.reads.clear()
    ledger.fire_many(ids, "assign", actor=LIAISON, at=at(28, 10), owners=["430903"])
    assert store.reads == []

    def block() -> None:
        with ledger.batch():
            ledger.fire_many(ids, "start_investigation", actor=OWNER, at=at(28, 11))
            assert ledger.get("C4").state == "investigating"
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        block()
    assert ledger.counts("state", kind="complaint") == {"assigned": 5}
    ledger.close()


def test_get_many_returns_the_entities_that_exist(ledger: Ledger) -> None:
    """get_many answers every id that names an entity, and leaves the others out."""
    ledger.receive_complaints("R", [row(f"C{i}") for i in range(3)], actor=TEAM)
    ids = ["C0", "nope", "C2", "R", "C0"] + [f"X{i}" for i in range(600)]
    found = ledger.store.get_many(ids)
    assert sorted(found) == ["C0", "C2", "R"]
    assert found["C2"] == ledger.store.get("C2")
    assert ledger.store.get_many([]) == {}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(complaints, "_HAND_OVER_PAGE", 3)


@pytest.mark.usefixtures("small_pages")
def test_a_streamed_hand_over_moves_every_case(ledger: Ledger) -> None:
    """Handed over page by page, the batch holds every case in order, as in one write."""
    ledger.receive_complaints("R", [row(f"C{i:02d}") for i in range(10)], actor=TEAM)
    batch = ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert batch is not None
    assert batch.case_ids == tuple(f"C{i:02d}" for i in range(10))
    assert ledger.counts("state", kind="complaint") == {"handed_over": 10}
    assert ledger.get("R").data["batches"] == 1
    assert ledger.history("R")[-1].payload["cases"] == list(batch.case_ids)
    assert ledger.verify().ok
    in_one = stationed(MemoryStore())
    in_one.receive_complaints("R", [row(f"C{i:02d}") for i in range(10)], actor=TEAM)
    with in_one.batch():
        same = in_one.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert same == batch
    assert [comparable(ledger.get(c)) for c in batch.case_ids] == [
        comparable(in_one.get(c)) for c in batch.case_ids
    ]


@pytest.mark.usefixtures("small_pages")
def test_a_streamed_hand_over_keeps_only_its_last_pages_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL store lets go of the snapshots a streamed hand-over reads and writes, page
    by page, but the latest pages' (here up to 5 entities: the last page of 3 cases and
    the round): the cases read afterwards are read as stored, handed over."""
    monkeypatch.setattr(_sql, "_STREAM_KEPT", 5)
    store = SQLStore.open(tmp_path / "l.db")
    ledger = stationed(store)
    ids = [f"C{i:03d}" for i in range(300)]
    ledger.receive_complaints("R", [row(c) for c in ids], actor=TEAM)
    assert {ledger.get(c).state for c in ids} == {"received"}
    assert set(ids) <= set(store._decoded)
    batch = ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert batch is not None
    assert batch.case_ids == tuple(ids)
    assert set(ids) & set(store._decoded) == set(ids[-3:])
    assert {ledger.get(c).state for c in ids} == {"handed_over"}
    assert ledger.verify(deep=True).ok
    ledger.close()


@pytest.mark.usefixtures("small_pages")
def test_a_streamed_hand_over_refused_at_its_end_writes_nothing(ledger: Ledger) -> None:
    """A refusal after pages of cases were written in the transaction leaves none moved."""
    ledger.receive_complaints("R", [row(f"C{i:02d}") for i in range(10)], actor=TEAM)
    # The round's latest fact is later than the hand-over: its record_batch, the last
    # write, is refused.
    ledger.fire("R", "visit", actor=TEAM, at=at(28, 12), department="市生态环境局")
    head = ledger.store.head()
    with pytest.raises(ChronologyError):
        ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert ledger.counts("state", kind="complaint") == {"received": 10}
    assert ledger.store.head() == head
    assert ledger.verify().ok


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sql, "_WRITE_CHUNK", 3)


def mixed_batch(ledger: Ledger) -> None:
    """One batch of 23 commits: ten cases received, then each marked key (its two
    commits far apart), and two cases stored before, changed twice (assigned to two
    areas, then marked key) and once."""
    ledger.receive_complaints("R", [row("C-a"), row("C-b")], actor=TEAM)
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    with ledger.batch():
        ledger.receive_complaints("R", [row(f"C{i:02d}") for i in range(10)], actor=TEAM)
        for i in range(10):
            ledger.fire(f"C{i:02d}", "mark_key", actor=TEAM, at=at(28, 10))
        ledger.fire(
            "C-a",
            "assign",
            actor=Actor("liaison", "430900"),
            at=at(28, 10),
            owners=["430903", "430921"],
        )
        ledger.fire("C-a", "mark_key", actor=TEAM, at=at(28, 11))
        ledger.fire("C-b", "mark_key", actor=TEAM, at=at(28, 11))


@pytest.mark.usefixtures("small_chunks")
def test_a_batch_written_chunk_by_chunk_stores_what_one_chunk_stores(ledger: Ledger) -> None:
    """A batch larger than a chunk builds and writes its rows a chunk at a time, in one
    transaction: its entities, areas, events and head are those the same batch leaves
    in memory."""
    mixed_batch(ledger)
    in_memory = stationed(MemoryStore())
    mixed_batch(in_memory)
    ids = [f"C{i:02d}" for i in range(10)] + ["C-a", "C-b"]
    assert [comparable(ledger.get(i)) for i in ids] == [comparable(in_memory.get(i)) for i in ids]
    assert [ledger.get(i).areas for i in ids] == [in_memory.get(i).areas for i in ids]
    assert [e.name for e in ledger.history("C03")] == ["create", "mark_key"]
    assert [s.entity_id for s in ledger.find(areas=["430921"])] == ["C-a"]
    assert ledger.counts("state", kind="complaint") == in_memory.counts("state", kind="complaint")
    assert ledger.store.head() == in_memory.store.head()
    assert all(ledger.rebuild(i) == ledger.get(i) for i in ids)
    assert ledger.verify().ok


class OneByOneCounted(SQLStore):
    """A store that counts the commits it writes one by one (the second try of a batch
    whose bulk write met a conflict)."""

    one_by_one = 0

    def _write_one(self, *args: Any) -> Any:
        self.one_by_one += 1
        return super()._write_one(*args)


@pytest.mark.usefixtures("small_chunks")
def test_a_batch_written_chunk_by_chunk_is_written_in_one_try(ledger_url: str) -> None:
    """Chunk by chunk, the bulk write itself stores the batch: nothing is left for the
    commit-by-commit second try, which would hide a chunk the bulk write missed."""
    store = OneByOneCounted(ledger_url)
    ledger = stationed(store)
    try:
        store.one_by_one = 0  # a single command is written on its own
        mixed_batch(ledger)
        assert store.one_by_one == 0
        assert ledger.counts("state", kind="complaint") == {
            "assigned": 1,
            "handed_over": 1,
            "received": 10,
        }
    finally:
        ledger.close()


@pytest.mark.usefixtures("small_chunks")
def test_a_batch_written_chunk_by_chunk_refused_writes_nothing(ledger: Ledger) -> None:
    """A conflict met in a later chunk leaves nothing of the earlier ones written."""
    ledger.receive_complaints("R", [row("C-a")], actor=TEAM)
    other = Ledger(ledger.store, rulebook="hunan-provincial-2023")

    def block() -> None:
        with ledger.batch():
            ledger.receive_complaints("R", [row(f"C{i:02d}") for i in range(10)], actor=TEAM)
            ledger.fire("C-a", "mark_key", actor=TEAM, at=at(27, 12))
            # Another clerk marks C-a before the batch is written.
            other.fire("C-a", "mark_key", actor=TEAM, at=at(27, 11))

    with pytest.raises(ConcurrencyError):
        block()
    assert ledger.counts("state", kind="complaint") == {"received": 1}
    assert [e.name for e in ledger.history("C-a")] == ["create", "mark_key"]
    assert ledger.get("C-a").version == 2
    head = ledger.store.head()
    assert head is not None
    assert (head.entities, head.events) == (2, 5)
    assert ledger.verify().ok


class FixedClock:
    """A clock that always says 2023-07-01 12:00, so two ledgers record alike."""

    def now(self) -> dt.datetime:
        return dt.datetime(2023, 7, 1, 12, tzinfo=SHANGHAI)


def written(store: SQLStore) -> Ledger:
    """Receipts in bulk, a streamed hand-over, then commands in a batch (one entity twice,
    some with command ids, one repeated) and alone."""
    ledger = Ledger(store, rulebook="hunan-provincial-2023", clock=FixedClock())
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    ledger.receive_complaints("R", [row(f"C{i}") for i in range(12)], actor=TEAM)
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    liaison = Actor("liaison", "430900")
    owner = Actor("owner_unit", "430903")
    with ledger.batch():
        for i in range(12):
            ledger.fire(
                f"C{i}",
                "assign",
                actor=liaison,
                at=at(28, 10),
                owners=["430903"],
                command_id=f"assign-{i}" if i % 2 else None,
            )
        ledger.fire("C0", "start_investigation", actor=owner, at=at(28, 11))
        ledger.fire(
            "C1", "assign", actor=liaison, at=at(28, 10), owners=["430903"], command_id="assign-1"
        )
    ledger.fire("C2", "start_investigation", actor=owner, at=at(28, 12), command_id="s-2")
    return ledger


def test_a_store_on_mapped_tables_writes_what_the_driver_path_writes(
    ledger_url: str, tmp_path: Path
) -> None:
    """Tables the caller maps elsewhere (schema_translate_map) are written through
    SQLAlchemy's statements, not the driver's: the same events, hashes, numbering and
    snapshots as the driver's path, and the ledger verifies."""
    direct = written(SQLStore.open(tmp_path / "direct.db"))
    engine = sa.create_engine(ledger_url)
    schema = "main" if engine.dialect.name == "sqlite" else None
    if schema is None:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    mapped_engine = engine.execution_options(schema_translate_map={None: schema})
    try:
        mapped = written(SQLStore(mapped_engine))
        ids = ["R", *[f"C{i}" for i in range(12)]]
        for entity_id in ids:
            assert mapped.history(entity_id) == direct.history(entity_id)
            assert mapped.get(entity_id) == direct.get(entity_id)
        with engine.connect() as conn:
            order = conn.exec_driver_sql(
                "SELECT entity_id, version FROM if_events ORDER BY seq"
            ).all()
        with direct.store._engine.connect() as conn:  # type: ignore[attr-defined]
            assert (
                order
                == conn.exec_driver_sql(
                    "SELECT entity_id, version FROM if_events ORDER BY seq"
                ).all()
            )
        for column in ("state", "area", "batch"):
            assert mapped.counts(column) == direct.counts(column)
        assert mapped.verify(deep=True).ok
        mapped.close()
    finally:
        direct.close()
        mapped_engine.dispose()
        engine.dispose()


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "inspection_flow checkpoint"]


def _events(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM if_events").fetchone()[0])
    finally:
        conn.close()


def _events_in_the_file_alone(path: Path, tmp_path: Path) -> int:
    """The events the database file holds without its write-ahead log: those copied
    into it by a checkpoint."""
    alone = tmp_path / "alone.db"
    shutil.copy(path, alone)
    return _events(alone)


def test_a_large_write_is_copied_into_the_file_in_the_background(tmp_path: Path) -> None:
    """A write of 1,000 events or more commits without SQLite's copy of the log into
    the database file; a thread of its own makes the copy, and close waits for it.  A
    smaller write leaves the copy to SQLite, as it comes."""
    path = tmp_path / "l.db"
    store = SQLStore.open(path)
    ledger = stationed(store)
    checkpoints = store._checkpoints
    assert checkpoints is not None
    before = checkpoints.requested
    ledger.receive_complaints("R", [row(f"S{i:03d}") for i in range(20)], actor=TEAM)
    assert checkpoints.requested == before
    ledger.receive_complaints("R", [row(f"C{i:04d}") for i in range(1_200)], actor=TEAM)
    assert checkpoints.requested == before + 1
    checkpoints.wait()
    assert not _checkpoint_threads()
    total = _events(path)
    assert _events_in_the_file_alone(path, tmp_path) == total
    # The streamed hand-over of the 1,220 cases: 2,440 events, one more checkpoint.
    handed = ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert handed is not None
    assert len(handed.case_ids) == 1_220
    assert checkpoints.requested == before + 2
    ledger.close()
    assert not _checkpoint_threads()
    assert _events_in_the_file_alone(path, tmp_path) == total + 2 * 1_220 + 1


def test_a_checkpoint_thread_left_behind_by_a_fork_is_replaced(tmp_path: Path) -> None:
    """A fork copies the store but not its threads: a thread recorded as running that is
    not alive neither blocks close nor stops the next checkpoint."""
    path = tmp_path / "l.db"
    store = SQLStore.open(path)
    ledger = stationed(store)
    checkpoints = store._checkpoints
    assert checkpoints is not None
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    checkpoints._thread = gone
    # Waited for in a thread of the test's own: a wait that never returns fails the test.
    waiting = threading.Thread(target=checkpoints.wait, daemon=True)
    waiting.start()
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    checkpoints._thread = gone
    ledger.receive_complaints("R", [row(f"C{i:04d}") for i in range(1_100)], actor=TEAM)
    checkpoints.wait()
    assert _events_in_the_file_alone(path, tmp_path) == _events(path)
    ledger.close()


def test_a_memory_or_shared_connection_store_runs_no_checkpoint_of_its_own(
    tmp_path: Path,
) -> None:
    """Only a store that runs its own transactions on a file in write-ahead logging
    checkpoints in the background: a caller's connection is left as the caller has it."""
    engine = SQLStore.make_engine(tmp_path / "l.db")
    try:
        with engine.connect() as conn:
            store = SQLStore(conn)
            ledger = stationed(store)
            ledger.receive_complaints("R", [row(f"C{i:04d}") for i in range(1_100)], actor=TEAM)
            assert store._checkpoints is None
            conn.commit()
    finally:
        engine.dispose()
    memory = SQLStore.open("sqlite://")
    try:
        assert memory._checkpoints is None
    finally:
        memory.close()


def _write_then_end_abruptly(path: str) -> None:
    ledger = stationed(SQLStore.open(path))
    ledger.receive_complaints("R", [row(f"C{i:04d}") for i in range(1_500)], actor=TEAM)
    # No close, no interpreter shutdown: the background checkpoint may be anywhere.
    os._exit(0)


def test_a_large_write_is_kept_if_the_process_ends_before_its_checkpoint(
    tmp_path: Path,
) -> None:
    """The data of a large write is safe once the write returns: the log is synced at
    commit, and the next open finds everything in it."""
    path = tmp_path / "l.db"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); "
            f"import test_bulk_writes as t; t._write_then_end_abruptly({str(path)!r})",
        ],
        check=True,
        cwd=ROOT,
    )
    ledger = Ledger.open(path)
    try:
        assert ledger.counts("state", kind="complaint") == {"received": 1_500}
        assert ledger.verify(deep=True).ok
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_import.py", ["--quick", "--cases", "40"]),
        ("bench_writes.py", ["--quick", "--parts", "h", "--cases", "60"]),
        ("bench_store.py", ["--quick", "--parts", "3"]),
    ],
)
def test_the_benchmarks_quick_modes_run(script: str, args: list[str]) -> None:
    """The benchmarks' --quick modes run to their summary (a smoke test, nothing timed),
    printing the machine's speed and its load, as numbers, at the start and the end."""
    done = _benchmark(script, *args)
    assert done.returncode == 0, done.stderr
    assert "load average at the start" in done.stdout
    assert "load average at the end" in done.stdout
    assert re.search(r"load average at the end:? \d+\.\d\d, \d+\.\d\d, \d+\.\d\d", done.stdout)
    assert "machine speed: a loop of ten million additions took" in done.stdout


def test_the_postgresql_benchmark_judges_each_target_apart() -> None:
    """bench_writes.py --parts p (quick) on the test server: the machine's speed, then a
    verdict for the CPU per command and one for its ratio to raw psycopg, each its own;
    the two workers' gain judged only when a second core was free, and shown beside the
    yardstick's gain and the machine's; then receipts, with the same two verdicts."""
    url = os.environ.get("INSPECTION_FLOW_PG_URL")
    if not url:
        pytest.skip("set INSPECTION_FLOW_PG_URL=postgresql+psycopg://user@host/db")
    done = _benchmark("bench_writes.py", "--quick", "--parts", "p", "--runs", "1", "--pg-url", url)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "machine speed: a loop of ten million additions took" in out
    cpu = next(line for line in out.splitlines() if "client CPU per command" in line)
    assert re.search(r"target <= 0\.6 ms\) (PASS|FAIL); raw psycopg", cpu), cpu
    assert re.search(r"\(target <= 3x\) (PASS|FAIL)$", cpu), cpu
    gain = next(line for line in out.splitlines() if "2 workers / 1 worker" in line)
    if "a second core was free" in gain:
        assert re.search(r"is free\) (PASS|FAIL) -- ", gain), gain
    else:
        assert "is free) not judged -- " in gain, gain
    # Beside the verdict: the yardstick's own gain and the machine's for pure Python.
    assert re.search(
        r"beside it: raw psycopg 2 workers / 1 worker = \d+\.\d\dx; two loops of pure "
        r"Python at once: \d+\.\d\dx the work of one",
        out,
    ), out
    # Where the two workers' server processes spent one more run, by their wait events:
    # sampled (a sampler that never finds the workers' processes says "nothing sampled").
    waits = next(line for line in out.splitlines() if "two workers' server processes" in line)
    assert re.search(
        r"one more run \(not counted; [\d,]+ samples\): waiting for its client \d+%, "
        r"flushing the WAL \d+%, waiting for a row lock \d+%, running \d+%, other \d+%$",
        waits,
    ), waits
    # Receipts, each on its own, against their yardstick: the same two verdicts.
    receipts = next(line for line in out.splitlines() if "client CPU per receipt" in line)
    assert re.search(r"target <= 0\.6 ms\) (PASS|FAIL); raw psycopg", receipts), receipts
    assert re.search(r"\(target <= 3x\) (PASS|FAIL)$", receipts), receipts


def test_the_import_benchmark_runs_the_ways_asked_with_their_yardsticks() -> None:
    """bench_import.py --ways d runs the 台账 import and its yardstick (e) only, and
    refuses a way it does not know."""
    done = _benchmark("bench_import.py", "--quick", "--cases", "40", "--ways", "d")
    assert done.returncode == 0, done.stderr
    assert "(d) / (e) = " in done.stdout
    assert "(d) import_table" in done.stdout
    assert "(a)" not in done.stdout
    assert "(c) hand-rolled" not in done.stdout
    refused = _benchmark("bench_import.py", "--quick", "--ways", "dx")
    assert refused.returncode == 2
    assert "--ways takes letters of abcde" in refused.stderr


def _benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the benchmarks with ``args``; its outputs are captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("part", ["d", "e", "h", "b", "a", "c"])
def test_the_instruction_benchmark_parts_run(part: str) -> None:
    """Each part bench_instructions.py counts runs, with its work and its setup alone
    (without valgrind: a smoke test, nothing counted)."""
    script = str(ROOT / "benchmarks" / "bench_instructions.py")
    for extra in ([], ["--setup-only"]):
        done = subprocess.run(
            [sys.executable, script, "--child", part, "--rows", "30", *extra],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
