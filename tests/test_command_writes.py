"""A command outside a batch: one connection for its read and its write, and (on
PostgreSQL) its events numbered by the ledger's head in the statement that inserts them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from inspection_flow import (
    SHANGHAI,
    Actor,
    ConcurrencyError,
    Event,
    InvalidTransitionError,
    Ledger,
    PayloadError,
    SQLStore,
    StoreError,
)
from inspection_flow.stores import _sql
from inspection_flow.testing import create_commit, next_commit
from statements import trace_statements

OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[sa.Engine]:
    """The engine a ledger's store runs on, as an application that shares it makes it."""
    engine = SQLStore.make_engine(ledger_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _checkouts(engine: sa.Engine) -> list[int]:
    """A list that counts every connection checked out of ``engine``'s pool from now."""
    seen: list[int] = []
    sa.event.listen(engine, "checkout", lambda *args: seen.append(1))
    return seen


def _round(ledger: Ledger) -> None:
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at(20))


def test_a_command_reads_and_writes_on_one_connection(engine: sa.Engine) -> None:
    """``fire`` outside a batch checks out one connection for the entity's read and the
    write, with a command id or without; every connection goes back to the pool, and
    what was written reads back."""
    ledger = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023")
    _round(ledger)
    seen = _checkouts(engine)
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    assert len(seen) == 1
    ledger.fire("R", "station_in", actor=TEAM, at=at(26), command_id="in-R")
    assert len(seen) == 2
    # The command again: the write finds its id in use, and its first event is the answer.
    again = ledger.fire("R", "station_in", actor=TEAM, at=at(26), command_id="in-R")
    assert again == ledger.history("R")[-1]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert [e.name for e in ledger.history("R")] == ["create", "announce", "station_in"]
    assert ledger.get("R").state == "stationed"


def _statements(engine: sa.Engine) -> list[str]:
    """A list of every statement ``engine``'s connections run from now, as the driver
    sees them."""
    seen: list[str] = []
    trace_statements(engine, lambda sql: seen.append(str(sql)))
    return seen


def test_a_command_with_an_id_is_not_looked_up_before_its_write(engine: sa.Engine) -> None:
    """``fire`` with a command id outside a batch reads its entity and writes: the write
    refuses an id in use, so no look-up of the id goes first.  A repeat is answered with
    its first event whether the entity's state takes the command again (``visit``) or
    not (``end_station_in``), and an id used for another command is refused."""
    ledger = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023")
    _stationed(ledger)
    seen = _statements(engine)
    visit = {"actor": TEAM, "at": at(27), "department": "市住建局", "command_id": "visit-R"}
    first = ledger.fire("R", "visit", **visit)
    looked_up = [q for q in seen if "FROM if_commands" in q and q.lstrip().startswith("SELECT")]
    assert seen
    assert not looked_up
    assert ledger.fire("R", "visit", **{**visit, "department": "市水利局"}) == first
    end = {"actor": TEAM, "at": at(28), "command_id": "end-R"}
    ended = ledger.fire("R", "end_station_in", **end)
    assert ledger.fire("R", "end_station_in", **end) == ended
    with pytest.raises(PayloadError) as info:
        ledger.fire("R", "visit", actor=TEAM, at=at(28), department="市住建局", command_id="end-R")
    assert info.value.field == "command_id"
    names = [e.name for e in ledger.history("R")]
    assert names == ["create", "announce", "station_in", "visit", "end_station_in"]
    assert ledger.verify().ok


def _stationed(ledger: Ledger, round_id: str = "R") -> None:
    ledger.create_round(round_id, name="益阳市", area="430900", actor=OFFICE, at=at(20))
    ledger.fire(round_id, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(round_id, "station_in", actor=TEAM, at=at(26))


def _receive(ledger: Ledger, complaint_id: str, round_id: str = "R") -> Any:
    return ledger.receive_complaint(
        round_id,
        channel="phone",
        received_at=at(27, 10),
        area="430903",
        summary="夜间施工噪声扰民",
        category="noise",
        actor=TEAM,
        complaint_id=complaint_id,
    )


def test_a_receipt_reads_and_writes_on_one_connection(engine: sa.Engine) -> None:
    """``receive_complaint`` outside a batch checks out one connection for the round's
    read and the complaint's write; an id in use is refused on it, writing nothing, and
    every connection goes back to the pool."""
    ledger = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023")
    _stationed(ledger)
    seen = _checkouts(engine)
    first = _receive(ledger, "C1")
    assert len(seen) == 1
    with pytest.raises(PayloadError, match="already used"):
        _receive(ledger, "C1")
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert ledger.get("C1") == first
    assert [e.name for e in ledger.history("C1")] == ["create"]
    assert ledger.verify().ok


class _RacingClock:
    """The ledger's clock, which lets another process write once when a command asks it
    the time: after the command read its entity, before its write."""

    def __init__(self) -> None:
        self.meanwhile: Callable[[], object] | None = None

    def now(self) -> dt.datetime:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return dt.datetime.now(SHANGHAI)


def _stored(ledger_url: str) -> tuple[list[Any], Any, list[Any], list[Any], str]:
    """What the ledger's tables hold, read with SQL: its events' positions, the head's
    counts, the command records, the area rows and the kept latest time."""
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT seq, entity_id, version, at_utc FROM if_events ORDER BY seq")
            ).all()
            head = conn.execute(
                sa.text("SELECT events, entities, commands FROM if_ledger_head")
            ).one()
            commands = conn.execute(sa.text("SELECT * FROM if_commands")).all()
            areas = conn.execute(
                sa.text("SELECT entity_id, area FROM if_entity_areas ORDER BY entity_id, area")
            ).all()
            kept = conn.execute(
                sa.text("SELECT value FROM inspection_flow_meta WHERE key = 'latest_at'")
            ).scalar_one()
    finally:
        engine.dispose()
    return list(rows), head, list(commands), list(areas), str(kept)


def test_a_refused_command_and_a_lost_race_leave_the_connection_as_it_was(
    engine: sa.Engine, ledger_url: str
) -> None:
    """A command refused before its write, and one whose write loses a race, write
    nothing, return their connection, and leave it out of any transaction (on
    PostgreSQL: as it was, not in autocommit), so the next command goes through."""
    clock = _RacingClock()
    ledger = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023", clock=clock)
    _round(ledger)
    with pytest.raises(InvalidTransitionError):
        ledger.fire("R", "end_station_in", actor=TEAM, at=at(20, 10))
    other = Ledger.open(ledger_url, rulebook="hunan-provincial-2023")
    try:
        # Another process moves the round on between this ledger's read and its write.
        clock.meanwhile = lambda: other.fire("R", "announce", actor=OFFICE, at=at(20, 11))
        with pytest.raises(ConcurrencyError):
            ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
        assert clock.meanwhile is None
    finally:
        other.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            assert driver.autocommit is False
            assert driver.info.transaction_status.name == "IDLE"
        else:
            assert not driver.in_transaction
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    assert [e.name for e in ledger.history("R")] == ["create", "announce", "station_in"]
    assert ledger.verify().ok


def test_events_of_single_commands_are_numbered_from_the_head(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits written one at a time, of one event or several, number their events on
    from the ledger's head without a gap, count them (and their entities and commands)
    in the head, record a command's id and a new entity's area rows, and keep the
    ledger's latest time each time their numbers pass a multiple of the keeping
    interval; a creation under an id in use writes nothing."""
    monkeypatch.setattr(_sql, "_LATEST_EVERY", 4)
    store = SQLStore(ledger_url)
    try:
        written: list[Event] = []
        commit = create_commit("case-1", at=at(21))
        for events in (1, 3, 2, 1, 4):
            written += store.append(commit)
            # The commit of three events (versions 3 to 5) under a command id.
            command_id = "cmd-3" if events == 3 else None
            commit = next_commit(commit.snapshot, events=events, command_id=command_id)
        written += store.append(commit)
        written += store.append(create_commit("case-2", at=at(22), areas=["430900", "430903"]))
        # An id in use: refused, and nothing of the commit is written.
        with pytest.raises(ConcurrencyError):
            store.append(create_commit("case-2", at=at(23)))
    finally:
        store.close()
    rows, head, commands, areas, kept = _stored(ledger_url)
    assert [r.seq for r in rows] == list(range(1, 14))
    assert [(r.entity_id, r.version) for r in rows] == [
        *[("case-1", v) for v in range(1, 13)],
        ("case-2", 1),
    ]
    assert tuple(head) == (13, 2, 1)
    assert [tuple(c) for c in commands] == [("cmd-3", "case-1", 3, 5)]
    assert [tuple(a) for a in areas] == [
        ("case-1", "430900"),
        ("case-2", "430900"),
        ("case-2", "430903"),
    ]
    # The last multiple of 4 passed was by the commit of events 9 to 12: the 8 before
    # it are kept, with the latest time among them.
    latest = json.loads(kept)
    assert latest["events"] == 8
    assert dt.datetime.fromisoformat(latest["at"]) == max(e.at for e in written[:8])


def test_a_command_without_the_ledgers_head_is_refused_and_writes_nothing(
    ledger_url: str,
) -> None:
    """With the head's row gone (a damaged database), a command, a creation and a
    receipt are refused with a message that names the head, and nothing of them is
    written."""
    ledger = Ledger.open(ledger_url, rulebook="hunan-provincial-2023")
    try:
        _round(ledger)
        _stationed(ledger, "S")
        engine = sa.create_engine(ledger_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM if_ledger_head"))
        finally:
            engine.dispose()
        with pytest.raises(StoreError, match="if_ledger_head"):
            ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
        with pytest.raises(StoreError, match="if_ledger_head"):
            ledger.create_round("R2", name="长沙市", area="430100", actor=OFFICE, at=at(20))
        with pytest.raises(StoreError, match="if_ledger_head"):
            _receive(ledger, "C1", "S")
        assert [e.name for e in ledger.history("R")] == ["create"]
        assert ledger.get("R").version == 1
        assert ledger.find(kind="round") == [ledger.get("R"), ledger.get("S")]
        assert ledger.find(kind="complaint") == []
        assert ledger.store.get("C1") is None
    finally:
        ledger.close()
    # Nor an area row of the refused complaint (its creation writes them with the rest).
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            areas = conn.execute(
                sa.text("SELECT entity_id, area FROM if_entity_areas ORDER BY entity_id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(a) for a in areas] == [("R", "430900"), ("S", "430900")]


def test_rows_of_one_write_keep_their_own_nulls(engine: sa.Engine) -> None:
    """One write whose rows differ in which columns are empty (a command id on some
    events only, a category or a parent on some entities only) stores each row's own
    values, and a column empty in every row is stored empty: on SQLite such a column is
    written as the literal NULL, the others bound row by row."""
    store = SQLStore(engine)
    created = [
        create_commit("C1", category="noise", command_id="new-1"),
        create_commit("C2"),
        create_commit("C3", parent_id="C1", batch=2),
    ]
    store.append_batch(created)
    moved = [
        next_commit(created[0].snapshot, state="batched", command_id="move-1"),
        next_commit(created[1].snapshot, state="batched", set={"category": "water"}),
        next_commit(created[2].snapshot, state="batched"),
    ]
    store.append_batch(moved)
    store.append_batch([next_commit(c.snapshot, state="handed_over") for c in moved])
    with engine.connect() as conn:
        entities = conn.execute(
            sa.text(
                "SELECT entity_id, category, parent_id, batch, claimed_by, claimed_until "
                "FROM if_entities ORDER BY entity_id"
            )
        ).all()
        events = conn.execute(
            sa.text("SELECT entity_id, version, command_id FROM if_events ORDER BY seq")
        ).all()
    assert [tuple(r) for r in entities] == [
        ("C1", "noise", None, None, None, None),
        ("C2", "water", None, None, None, None),
        ("C3", None, "C1", 2, None, None),
    ]
    assert [tuple(r) for r in events] == [
        ("C1", 1, "new-1"),
        ("C2", 1, None),
        ("C3", 1, None),
        ("C1", 2, "move-1"),
        ("C2", 2, None),
        ("C3", 2, None),
        ("C1", 3, None),
        ("C2", 3, None),
        ("C3", 3, None),
    ]
    for entity_id in ("C1", "C2", "C3"):
        assert store.get(entity_id) == store.rebuild(entity_id)
    store.close()


def test_commands_written_alone_keep_the_ledgers_latest_time(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands written each as one statement on its own (on PostgreSQL: a command's
    read, then its write, with no transaction around it) number their events from the
    head without a gap, and keep the ledger's latest time each time their numbers pass
    a multiple of the keeping interval, as commands in a transaction do."""
    monkeypatch.setattr(_sql, "_LATEST_EVERY", 3)
    ledger = Ledger.open(ledger_url, rulebook="hunan-provincial-2023")
    try:
        _round(ledger)
        ledger.fire("R", "announce", actor=OFFICE, at=at(21, 10))
        # The third event passes 3: the write of a command, not of a creation.
        ledger.fire("R", "station_in", actor=TEAM, at=at(26))
        history = ledger.history("R")
        assert ledger.verify().ok
    finally:
        ledger.close()
    rows, head, _, _, kept = _stored(ledger_url)
    events = len(history)
    assert [r.seq for r in rows] == list(range(1, events + 1))
    assert tuple(head) == (events, 1, 0)
    # Each write here is one event: the last (the third) passed 3, so the two before it
    # are kept, with the latest time among them.
    assert events == 3
    latest = json.loads(kept)
    assert latest["events"] == 2
    at_of = {(e.entity_id, e.version): e.at for e in history}
    first = [at_of[r.entity_id, r.version] for r in rows[: latest["events"]]]
    assert dt.datetime.fromisoformat(latest["at"]) == max(first)


@pytest.mark.postgres
@pytest.mark.parametrize("isolation", [None, "SERIALIZABLE"])
def test_a_command_on_postgresql_is_one_statement_at_the_engines_isolation(
    pg_schema_url: str, isolation: str | None
) -> None:
    """On PostgreSQL a command's write is one statement committed on its own (no
    transaction begun around it), where the engine keeps the server's isolation; an
    engine set to a stricter level writes it in a transaction at that level."""
    engine = (
        SQLStore.make_engine(pg_schema_url)
        if isolation is None
        else sa.create_engine(pg_schema_url, isolation_level=isolation)
    )
    try:
        ledger = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023")
        _round(ledger)
        begun: list[Any] = []
        sa.event.listen(engine, "begin", lambda conn: begun.append(conn.get_isolation_level()))
        ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
        assert begun == ([] if isolation is None else [isolation])
        assert [e.name for e in ledger.history("R")] == ["create", "announce"]
        # A receipt too: its round's read, then its creation in one statement.
        ledger.fire("R", "station_in", actor=TEAM, at=at(26))
        begun.clear()
        _receive(ledger, "C1")
        assert begun == ([] if isolation is None else [isolation])
        assert ledger.get("C1").state == "received"
        assert ledger.verify().ok
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_failed_keeping_after_a_command_written_alone_leaves_the_command(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command written as one statement on its own has committed before the ledger's
    latest time is kept: when that keeping fails, the command stands (it is not
    reported as failed), and the next write that passes a multiple of the keeping
    interval keeps the latest time of every event before it."""
    monkeypatch.setattr(_sql, "_LATEST_EVERY", 3)
    keep = _sql._keep_latest
    failures: list[int] = []

    def failing_once(conn: sa.Connection, upto: int) -> None:
        if not failures:
            failures.append(upto)
            raise StoreError("the keeping failed")
        keep(conn, upto)

    monkeypatch.setattr(_sql, "_keep_latest", failing_once)
    store = SQLStore(pg_schema_url)
    try:
        commit = create_commit("case-1", at=at(21))
        store.append(commit)
        for day in range(22, 28):
            # A command's read and its write on one connection, as Ledger.fire makes them.
            with store.holding_reads():
                snapshot = store.get("case-1")
                assert snapshot is not None
                store.append(next_commit(snapshot, at=at(day)))
        assert [e.version for e in store.events("case-1")] == list(range(1, 8))
    finally:
        store.close()
    # The third event's write passed 3 and failed to keep the two before it; the
    # sixth's passed 6 and kept the five before it.
    assert failures == [2]
    rows, head, _, _, kept = _stored(pg_schema_url)
    assert [r.seq for r in rows] == list(range(1, 8))
    assert tuple(head) == (7, 1, 0)
    assert json.loads(kept)["events"] == 5
    assert dt.datetime.fromisoformat(json.loads(kept)["at"]) == at(25)
