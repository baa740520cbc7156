"""What a write reuses (instants' texts, deadline mappings' JSON and next times, effects'
JSON, deadline mappings read back) is what it would compute afresh: checked on every
entity of the source case."""

from __future__ import annotations

import datetime as dt
import gc
import sqlite3
import weakref
from pathlib import Path

import attrs
import orjson
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import SHANGHAI, Actor, Ledger, MemoryStore, Snapshot, SQLStore
from inspection_flow._demo import build_demo
from inspection_flow._records import _for_json, canonical_json, iso, stored_data
from inspection_flow.stores._sql import _effects_json

OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")


def naive_next_due(snapshot: Snapshot) -> dt.datetime | None:
    dues = [
        d.due_at
        for d in snapshot.deadlines.values()
        if d.status == "open" and not d.suspended and d.kind == "due"
    ]
    return min(dues) if dues else None


def naive_next_alert(snapshot: Snapshot) -> dt.datetime | None:
    ats = [
        a[2]
        for d in snapshot.deadlines.values()
        if d.status == "open" and not d.suspended
        for a in d.alerts
        if a[1] not in d.fired
    ]
    return min(ats) if ats else None


def test_reused_values_equal_fresh_ones() -> None:
    ledger = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    build_demo(ledger, per_day=(2, 4))
    snapshots = ledger.find()
    assert any(s.deadlines for s in snapshots)
    for _ in range(2):  # the second pass reads the memos the first one filled
        for s in snapshots:
            assert canonical_json(stored_data(s)) == canonical_json(s.to_dict())
            assert s.next_due_at == naive_next_due(s)
            assert s.next_alert_at == naive_next_alert(s)
            assert iso(s.updated_at) == s.updated_at.isoformat()
        for s in snapshots:
            for event in ledger.history(s.entity_id):
                assert iso(event.at) == event.at.isoformat()
                text = orjson.dumps(dict(event.effects), option=orjson.OPT_SORT_KEYS).decode()
                assert _effects_json(event) == text


def test_a_reused_object_is_never_mistaken_for_another() -> None:
    # Memos are keyed by identity and hold the object: a new object at a freed address
    # gets its own text.
    for day in range(1, 29):
        instant = dt.datetime(2023, 6, day, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert iso(instant) == instant.isoformat()
        del instant
        gc.collect()


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.builds(
            dt.timezone,
            st.timedeltas(
                min_value=dt.timedelta(hours=-23, minutes=-59, seconds=-59),
                max_value=dt.timedelta(hours=23, minutes=59, seconds=59),
            ),
        ),
    )
)
def test_the_text_of_an_instant_at_a_fixed_offset_is_its_isoformat(instant: dt.datetime) -> None:
    """Instants read back from their ISO text have fixed offsets; their text is written the
    fast way only where it equals isoformat() (whole minutes), else by isoformat()."""
    assert iso(instant) == instant.isoformat()
    other = instant + dt.timedelta(microseconds=1)
    assert iso(other) == other.isoformat()
    # A snapshot's instants are handed to orjson as they are where it writes them so.
    for value in (instant, other):
        assert orjson.dumps(_for_json(value)) == orjson.dumps(value.isoformat())


@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1902, 1, 1), max_value=dt.datetime(2100, 1, 1)),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(min_value=0, max_value=3), max_size=30),
)
def test_the_texts_of_instants_written_in_turn_are_their_isoformat(
    naive: list[dt.datetime], order: list[int]
) -> None:
    """The instants a write names in turn (an event's own, the one it is recorded at,
    another's), however they alternate, are each written as their isoformat()."""
    instants = [n.replace(tzinfo=SHANGHAI) for n in naive]
    for i in order:
        instant = instants[i % len(instants)]
        assert iso(instant) == instant.isoformat()


@given(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)))
def test_a_snapshot_instant_in_shanghai_is_written_as_its_isoformat(naive: dt.datetime) -> None:
    """In Asia/Shanghai, before 1901 too (an offset in seconds, local mean time)."""
    instant = naive.replace(tzinfo=SHANGHAI)
    assert orjson.dumps(_for_json(instant)) == orjson.dumps(instant.isoformat())


def test_snapshots_read_back_share_equal_deadlines(tmp_path: Path) -> None:
    """Cases handed over together carry equal deadlines: read back from the database they
    share one mapping, and each snapshot equals the one written and its events' fold."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger, per_day=(2, 4))
        received(ledger, 5)
        handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
        ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)
        written = {s.entity_id: s for s in ledger.find(kind="complaint")}
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        read = {s.entity_id: s for s in ledger.find(kind="complaint")}
        assert read == written
        for entity_id, snap in read.items():
            assert ledger.rebuild(entity_id) == snap
            assert canonical_json(stored_data(snap)) == canonical_json(snap.to_dict())
    by_json: dict[str, set[int]] = {}
    for snap in read.values():
        if snap.deadlines:
            text = canonical_json({n: r.to_dict() for n, r in snap.deadlines.items()})
            by_json.setdefault(text, set()).add(id(snap.deadlines))
    assert all(len(ids) == 1 for ids in by_json.values())
    same = {id(read[f"SAME-{i}"].deadlines) for i in range(5)}
    assert len(same) == 1
    assert read["SAME-0"].deadlines


def test_a_streamed_hand_over_keeps_what_it_wrote(tmp_path: Path) -> None:
    """The cases a streamed hand-over writes are kept with the text written: read again,
    each is the snapshot the hand-over made, not decoded anew."""
    with Ledger.open(tmp_path / "ledger.db", rulebook="hunan-provincial-2023") as ledger:
        ids = received(ledger, 5)
        handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
        ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)
        store = ledger.store
        assert isinstance(store, SQLStore)
        for entity_id in ids:
            kept = store._decoded.get(entity_id)
            assert kept is not None
            assert kept[1].state == "handed_over"
            assert ledger.get(entity_id) is kept[1]


def test_a_closed_ledger_leaves_nothing_in_the_write_memos(tmp_path: Path) -> None:
    """Once a ledger is closed and let go, the process-wide memos of writes hold none of
    its deadline records or snapshots: they are freed with the ledger."""
    store = SQLStore.open(tmp_path / "ledger.db")
    ledger = Ledger(store, rulebook="hunan-provincial-2023")
    ids = received(ledger, 3)
    handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
    ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)
    for entity_id in ids:
        ledger.fire(
            entity_id,
            "assign",
            actor=Actor("liaison", "430900"),
            at=handed.replace(hour=10),
            owners=["430903"],
        )
    snap = ledger.get(ids[0])
    assert snap is not None
    assert snap.deadlines
    watched = [weakref.ref(r) for r in snap.deadlines.values()]
    watched.append(weakref.ref(snap))
    del snap
    ledger.close()
    del ledger, store
    gc.collect()
    assert [ref() for ref in watched] == [None] * len(watched)


def test_a_closed_ledger_in_memory_leaves_no_ended_record_behind() -> None:
    """A ledger on a MemoryStore whose cases met a deadline, once closed and let go,
    leaves none of its records in the memo of ended records."""
    ledger = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    ids = received(ledger, 3)
    handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
    ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)
    liaison, owner = Actor("liaison", "430900"), Actor("owner_unit", "430903")
    steps = [
        ("assign", liaison, {"owners": ["430903"]}),
        ("start_investigation", owner, {}),
        ("record_finding", owner, {"finding": "substantiated"}),
        ("start_rectification", owner, {}),
        ("report_result", owner, {"summary": "已责令整改"}),
    ]
    for hour, (event, actor, payload) in enumerate(steps, start=10):
        ledger.fire_many(ids, event, actor=actor, at=handed.replace(hour=hour), **payload)
    snap = ledger.get(ids[0])
    assert snap is not None
    assert "met" in [r.status for r in snap.deadlines.values()]
    watched = [weakref.ref(r) for r in snap.deadlines.values()]
    del snap
    ledger.close()
    del ledger
    gc.collect()
    assert [ref() for ref in watched] == [None] * len(watched)


def test_a_kept_snapshot_gives_way_to_a_stored_text_of_the_same_length(
    tmp_path: Path,
) -> None:
    """The store keeps what identifies the text it wrote, not its length alone: a row
    changed behind its back to a text of the same length is read as it is stored."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        (entity_id,) = received(ledger, 1)
        store = ledger.store
        assert isinstance(store, SQLStore)
        kept = store.get(entity_id)
        assert kept is not None
        assert store.get(entity_id) is kept
        with sqlite3.connect(path) as conn:
            (text,) = conn.execute(
                "SELECT snapshot FROM if_entities WHERE entity_id = ?", (entity_id,)
            ).fetchone()
            changed = text.replace("夜间施工", "夜间装修")
            assert changed != text
            assert len(changed) == len(text)
            conn.execute(
                "UPDATE if_entities SET snapshot = ? WHERE entity_id = ?", (changed, entity_id)
            )
        conn.close()
        read = store.get(entity_id)
        assert read is not None
        assert read is not kept
        assert "夜间装修" in read.data["summary"]


def received(ledger: Ledger, cases: int) -> list[str]:
    """A stationed round ``R`` with ``cases`` calls of 2023-06-27, for the batch of 06-28."""
    start = dt.datetime(2023, 6, 20, 9, tzinfo=SHANGHAI)
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=start)
    ledger.fire("R", "announce", actor=OFFICE, at=start.replace(hour=10))
    ledger.fire("R", "station_in", actor=TEAM, at=start.replace(day=26))
    day = dt.datetime(2023, 6, 27, 10, tzinfo=SHANGHAI)
    ids = [f"SAME-{i}" for i in range(cases)]
    for entity_id in ids:
        ledger.receive_complaint(
            "R",
            channel="phone",
            received_at=day,
            area="430903",
            summary="夜间施工噪声扰民",
            category="noise",
            actor=TEAM,
            complaint_id=entity_id,
        )
    return ids


def test_a_record_ended_at_one_instant_is_made_once() -> None:
    """Ending one shared record with one status at one instant gives one record, equal to
    one built afresh; another instant or status gives its own."""
    ledger = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    received(ledger, 3)
    handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
    ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)
    record = ledger.get("SAME-0").deadlines["result_due"]
    assert ledger.get("SAME-1").deadlines["result_due"] is record
    when = dt.datetime(2023, 7, 1, 10, tzinfo=SHANGHAI)
    met = record.ended("met", when)
    assert record.ended("met", when) is met
    assert met == attrs.evolve(record, status="met", ended_at=when)
    later = dt.datetime(2023, 7, 1, 10, tzinfo=SHANGHAI)
    assert record.ended("met", later) is not met
    assert record.ended("met", later) == met
    assert record.ended("cancelled", when).status == "cancelled"
    assert record.ended("open", None).ended_at is None


def test_every_write_stores_its_snapshot_as_text_and_keeps_what_it_wrote(
    ledger_url: str,
) -> None:
    """On SQLite the store writes a snapshot from its UTF-8 bytes and reads it back as
    them (on PostgreSQL as text). Whatever the path (one command, a batch of new cases,
    the same command on many, a streamed hand-over, a batch left with one command when
    its other repeats a command id applied before), the row holds text that the
    database's JSON functions read, and reading the case again gives the snapshot
    written, not one decoded anew."""
    ledger = Ledger.open(ledger_url, rulebook="hunan-provincial-2023")
    try:
        store = ledger.store
        assert isinstance(store, SQLStore)
        with ledger.batch():
            ids = received(ledger, 4)  # one write: new cases in bulk
        handed = dt.datetime(2023, 6, 28, 9, tzinfo=SHANGHAI)
        ledger.hand_over_batch("R", handed.date(), actor=TEAM, at=handed)  # streamed
        liaison = Actor("liaison", "430900")
        ledger.fire_many(ids[:2], "assign", actor=liaison, at=handed, owners=["430903"])
        ledger.fire(ids[2], "assign", actor=liaison, at=handed, owners=["430903"])
        # The repeated command id returns its first result: the batch writes one command.
        ledger.fire(ids[3], "assign", actor=liaison, at=handed, owners=["430903"], command_id="a")
        with ledger.batch():
            ledger.fire(
                ids[0], "start_investigation", actor=Actor("owner_unit", "430903"), at=handed
            )
            ledger.fire(
                ids[3], "assign", actor=liaison, at=handed, owners=["430903"], command_id="a"
            )
        for entity_id in ["R", *ids]:
            kept = store._decoded.get(entity_id)
            assert kept is not None, entity_id
            assert store.get(entity_id) is kept[1], entity_id
        engine = store._engine
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(
                    "SELECT entity_id, typeof(snapshot), json_extract(snapshot, '$.entity_id') "
                    "FROM if_entities"
                ).all()
                assert len(rows) == 5
                assert [kind for _, kind, _ in rows] == ["text"] * 5
                assert all(inside == entity_id for entity_id, _, inside in rows), rows
            else:
                rows = conn.exec_driver_sql(
                    "SELECT entity_id, CAST(snapshot AS jsonb) ->> 'entity_id' FROM if_entities"
                ).all()
                assert len(rows) == 5
                assert all(entity_id == inside for entity_id, inside in rows), rows
        assert ledger.verify(deep=True).ok
    finally:
        ledger.close()


def test_a_snapshot_stored_as_a_blob_is_reported_by_the_deep_verify(tmp_path: Path) -> None:
    """The store reads a snapshot's bytes on SQLite, but what it stores is text: a row
    whose snapshot was made a BLOB behind its back is reported by verify(deep=True), and
    repair() writes it back as text."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        (entity_id,) = received(ledger, 1)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE if_entities SET snapshot = CAST(snapshot AS BLOB) WHERE entity_id = ?",
            (entity_id,),
        )
    conn.close()
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        report = ledger.verify(deep=True)
        assert [p.entity_id for p in report.problems] == [entity_id]
        assert "expected JSON text, found bytes" in report.problems[0].message
        ledger.repair()
        assert ledger.verify(deep=True).ok
    conn = sqlite3.connect(path)
    try:
        assert conn.execute(
            "SELECT typeof(snapshot) FROM if_entities WHERE entity_id = ?", (entity_id,)
        ).fetchone() == ("text",)
    finally:
        conn.close()
