"""The audit finds what was done to a ledger behind its back, on SQLite and PostgreSQL:
changed, unlinked or removed events, removed entities, a drifted projection, a wiped record
of applied commands, a rewritten history against an anchor; repair mends what is derived."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from inspection_flow import (
    SHANGHAI,
    Actor,
    Anchor,
    Event,
    Ledger,
    MemoryStore,
    StoreError,
    VerifyReport,
)
from inspection_flow._records import GENESIS, Commit, canonical_json, chain_hash, fold
from inspection_flow.stores import SQLStore, _sql
from inspection_flow.stores._audit import anchor_of
from inspection_flow.testing import create_commit, next_commit
from strategies import LIAISON, OFFICE, TEAM

# The actor of the frozen hash vectors: never change it.
VECTOR_ACTOR = Actor("inspection_team", "430000", "省第四督察组")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


def build(ledger: Ledger, cases: int = 3) -> None:
    """A Yiyang round stationed in, with ``cases`` complaints, the first one batched."""
    ledger.create_round(
        "R",
        name="益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2023-06-20"),
        rulebook="hunan-provincial-2023",
    )
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    for i in range(cases):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2023-06-27", 10),
            area="430903",
            summary=f"砂石码头粉尘污染 {i}",
            category="air",
            actor=TEAM,
            complaint_id=f"C-{i}",
            command_id=f"cmd-{i}",
        )
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))


@pytest.fixture
def url(ledger_url: str) -> str:
    """The database of the ledger under test."""
    return ledger_url


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    """A durable ledger holding a small round."""
    with Ledger.open(url) as opened:
        build(opened)
        yield opened


def raw(url: str, *statements: str) -> None:
    """Change the database behind the ledger's back."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def fields(report: VerifyReport) -> set[tuple[str | None, str]]:
    """The (entity, field) pairs a report names."""
    return {(p.entity_id, p.field) for p in report.problems}


def test_an_untouched_ledger_is_intact_deeply(ledger: Ledger) -> None:
    """A ledger written only through its API passes the plain and the deep audit."""
    report = ledger.verify(deep=True)
    assert report.ok, str(report)
    assert report.deep
    assert str(report).startswith("intact: 4 entities")
    assert report.entity_id is None
    assert report.problem == ""


def test_every_changed_event_is_reported(ledger: Ledger, url: str) -> None:
    """Two events changed in two entities give two problems: one does not hide the other."""
    raw(
        url,
        "UPDATE if_events SET payload = replace(payload, '0', '9') "
        "WHERE entity_id = 'C-0' AND version = 1",
        "UPDATE if_events SET name = 'forged' WHERE entity_id = 'C-2' AND version = 2",
    )
    report = ledger.verify()
    assert not report.ok
    assert fields(report) == {("C-0", "hash"), ("C-2", "hash")}
    assert (report.entity_id, report.version) == ("C-0", 1)
    assert len(str(report).splitlines()) == 2


def test_removing_an_entitys_latest_event_is_reported(ledger: Ledger, url: str) -> None:
    """Deleting the last event of a chain (every link before it still holds) is found."""
    raw(url, "DELETE FROM if_events WHERE entity_id = 'C-1' AND version = 2")
    report = ledger.verify()
    assert ("C-1", "version") in fields(report)
    assert (None, "head") in fields(report)
    assert any("removed" in p.message for p in report.problems)


def test_removing_a_whole_entity_is_reported(ledger: Ledger, url: str) -> None:
    """An entity deleted with all its rows leaves the head's counts and a gap in positions."""
    raw(
        url,
        "DELETE FROM if_events WHERE entity_id = 'C-1'",
        "DELETE FROM if_entity_areas WHERE entity_id = 'C-1'",
        "DELETE FROM if_commands WHERE entity_id = 'C-1'",
        "DELETE FROM if_entities WHERE entity_id = 'C-1'",
    )
    report = ledger.verify()
    assert not report.ok
    messages = str(report)
    assert "1 entities were removed" in messages
    assert "3 events were removed" in messages
    assert (None, "position") in fields(report)
    assert (None, "commands") in fields(report)


def test_a_state_that_does_not_follow_is_reported() -> None:
    """An event whose state before is not the state after the event before it is named,
    even when its hash and link are right."""
    store = MemoryStore()
    commit = create_commit("case-1", state="received")
    store.append(commit)
    step = next_commit(commit.snapshot, state="handed_over")
    forged = attrs.evolve(step.events[0], state_before="closed").sealed()
    store.append(attrs.evolve(step, events=(forged,)))
    report = store.verify()
    assert fields(report) == {("case-1", "state")}
    assert "'closed'" in report.problem
    assert "'received'" in report.problem


def test_a_wiped_command_record_is_reported_and_repaired(ledger: Ledger, url: str) -> None:
    """Emptying the record of applied commands is found; repair restores it from the events,
    and a retried command is again recognised."""
    version = ledger.get("C-0").version
    raw(url, "DELETE FROM if_commands")
    report = ledger.verify()
    assert (None, "commands") in fields(report)
    assert {("C-0", "commands"), ("C-1", "commands"), ("C-2", "commands")} <= fields(report)
    repaired = ledger.repair()
    assert repaired.ok
    assert repaired.commands == 3
    assert ledger.verify().ok
    again = ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at("2023-06-27", 10),
        area="430903",
        summary="砂石码头粉尘污染 0",
        category="air",
        actor=TEAM,
        complaint_id="C-0",
        command_id="cmd-0",
    )
    assert (again.entity_id, again.version) == ("C-0", version)


def test_repair_makes_the_command_records_those_the_events_carry(ledger: Ledger, url: str) -> None:
    """A record moved to another entity, a record no event carries and a record with wrong
    versions are all put right by one repair, whatever entity each names."""
    before = _rows(url, _COMMAND_ROWS)
    raw(
        url,
        "UPDATE if_commands SET entity_id = 'C-2' WHERE command_id = 'cmd-1'",
        "UPDATE if_commands SET last_version = 9 WHERE command_id = 'cmd-0'",
        "INSERT INTO if_commands (command_id, entity_id, first_version, last_version) "
        "VALUES ('cmd-x', 'C-0', 1, 1)",
    )
    assert _rows(url, _COMMAND_ROWS) != before
    assert {("C-0", "commands"), ("C-1", "commands"), ("C-2", "commands")} <= fields(
        ledger.verify()
    )
    repaired = ledger.repair()
    assert repaired.ok
    assert repaired.commands == 0  # every id the events carry still had a record
    assert _rows(url, _COMMAND_ROWS) == before
    assert ledger.verify().ok


def test_repair_of_many_entities_restores_each_ones_commands(url: str) -> None:
    """More entities than one look-up holds (500), each with a stray record: every one's
    records are made right in the repair's batches."""
    with Ledger.open(url) as ledger:
        build(ledger, cases=1203)
        before = _rows(url, _COMMAND_ROWS)
        raw(
            url,
            "DELETE FROM if_commands WHERE substr(command_id, 1, 5) = 'cmd-1'",
            "UPDATE if_commands SET last_version = 7 WHERE substr(command_id, 1, 5) = 'cmd-2'",
            "INSERT INTO if_commands (command_id, entity_id, first_version, last_version) "
            "SELECT 'x-' || entity_id, entity_id, 1, 1 FROM if_entities WHERE kind = 'complaint'",
        )
        assert len(ledger.verify().problems) >= 1203
        repaired = ledger.repair()
        assert repaired.ok
        assert repaired.commands == sum(1 for (c, *_) in before if str(c).startswith("cmd-1"))
        assert _rows(url, _COMMAND_ROWS) == before
        assert ledger.verify().ok


_COMMAND_ROWS = (
    "SELECT command_id, entity_id, first_version, last_version FROM if_commands ORDER BY command_id"
)


def test_deep_check_reports_every_drifted_field(ledger: Ledger, url: str) -> None:
    """The deep audit names each projection field that differs from the fold of the events;
    the plain audit does not read the projection that far."""
    snapshot = json.loads(_scalar(url, "SELECT snapshot FROM if_entities WHERE entity_id='C-0'"))
    snapshot["state"] = "closed"
    snapshot["data"]["summary"] = "改过的摘要"
    raw(
        url,
        "UPDATE if_entities SET snapshot = '"
        + json.dumps(snapshot, ensure_ascii=False).replace("'", "''")
        + "' WHERE entity_id = 'C-0'",
        "UPDATE if_entities SET next_due_at = NULL WHERE entity_id = 'C-1'",
        "DELETE FROM if_entity_areas WHERE entity_id = 'C-2'",
    )
    assert ledger.verify().ok
    report = ledger.verify(deep=True)
    assert {("C-0", "state"), ("C-0", "data"), ("C-1", "next_due_at"), ("C-2", "areas")} <= (
        fields(report)
    )
    assert all(p.repairable for p in report.problems)
    before = _rows(url, "SELECT * FROM if_events ORDER BY seq")
    repaired = ledger.repair()
    assert set(repaired.repaired) == {"C-0", "C-1", "C-2"}
    assert ledger.verify(deep=True).ok
    assert _rows(url, "SELECT * FROM if_events ORDER BY seq") == before
    assert ledger.get("C-0").data["summary"] == "砂石码头粉尘污染 0"


def test_repair_leaves_broken_events_reported(ledger: Ledger, url: str) -> None:
    """Repair never mends events: a changed event stays reported, as unrepairable."""
    raw(url, "UPDATE if_events SET name = 'forged' WHERE entity_id = 'C-2' AND version = 2")
    repaired = ledger.repair()
    assert not repaired.ok
    assert [(p.entity_id, p.field) for p in repaired.unrepairable] == [("C-2", "hash")]
    assert "cannot repair: C-2 event 2" in str(repaired)
    assert not ledger.verify().ok


def test_an_anchor_shows_a_rewritten_history(ledger: Ledger, url: str) -> None:
    """A history rewritten and re-hashed throughout passes the plain audit, but no longer
    matches an anchor taken before; a ledger that only grew still matches it."""
    anchor = ledger.anchor()
    assert str(anchor).startswith("if1-")
    assert Anchor.parse(str(anchor)) == anchor
    ledger.fire("C-0", "assign", actor=LIAISON, at=at("2023-06-29"), owners=["430903"])
    assert ledger.verify(anchor=str(anchor)).ok
    # Rewrite C-1's first event and re-seal the whole chain and its snapshot.
    history = ledger.history("C-1")
    changed = attrs.evolve(history[0], payload={**history[0].payload, "summary": "伪造"})
    prev = changed.prev_hash
    rewritten = []
    for event in [changed, *history[1:]]:
        sealed = attrs.evolve(event, prev_hash=prev).sealed()
        rewritten.append(sealed)
        prev = sealed.hash
    statements = [
        f"UPDATE if_events SET payload = '{canonical_json(dict(e.payload))}', "
        f"prev_hash = '{e.prev_hash}', hash = '{e.hash}' "
        f"WHERE entity_id = 'C-1' AND version = {e.version}"
        for e in rewritten
    ]
    raw(url, *statements)
    ledger.repair()
    assert ledger.verify(deep=True).ok
    report = ledger.verify(anchor=anchor)
    assert fields(report) == {(None, "anchor")}
    assert "rewritten" in report.problem
    with pytest.raises(StoreError, match="not a ledger anchor"):
        ledger.verify(anchor="if1-12-xyz")


def test_an_anchor_of_more_events_than_the_ledger_holds_is_reported(ledger: Ledger) -> None:
    """An anchor covering more events than the ledger holds says that events were removed."""
    anchor = ledger.anchor()
    report = ledger.verify(anchor=Anchor(anchor.events + 5, anchor.digest))
    assert "events were removed" in report.problem


def test_memory_store_anchors_and_verifies() -> None:
    """The in-memory store keeps the ledger's order too: anchors and head match."""
    ledger = Ledger()
    build(ledger)
    anchor = ledger.anchor()
    head = ledger.store.head()
    assert head is not None
    assert (head.events, head.entities, head.commands) == (anchor.events, 4, 3)
    assert ledger.verify(deep=True, anchor=anchor).ok


def test_hash_format_is_frozen() -> None:
    """A known event has a known hash: SHA-256 of its canonical JSON (sorted keys, no
    spaces, UTF-8 kept), so a change of JSON encoder can never make stored ledgers look
    tampered."""
    first = Event.new(
        "HN-2023-YY/C-0001",
        1,
        "create",
        at("2023-06-27", 9) + dt.timedelta(minutes=30),
        VECTOR_ACTOR,
        {"summary": "河道排污", "channel": "phone"},
        "",
        "received",
        {"create": {"kind": "complaint", "lifecycle": "complaint", "area": "430903"}},
        "cmd-1",
    )
    second = Event.new(
        "HN-2023-YY/C-0001",
        2,
        "batch",
        dt.datetime(2023, 6, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        Actor("inspection_team", "430000"),
        {"number": 1},
        "received",
        "batched",
        {"set": {"batch": 1}},
        None,
        first.hash,
    )
    assert first.hash == "1cb97864b76a9a609b483e32d5b5b417ee0353c17a75d2e4519eb7141e3393ee"
    assert second.hash == "45fc5084343cff8859cc15fb8dbe218695520ad802fbf277b50f7510e3b08acd"
    for event in (first, second):
        assert chain_hash(event) == event.hash
        reference = json.dumps(
            event.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert hashlib.sha256(reference.encode()).hexdigest() == event.hash
    assert str(anchor_of([first.hash, second.hash])) == "if1-2-92e449dfbb4e319a58da8214497f6fe3"


def write_again(store: SQLStore, written: Ledger, *, unrecorded: Callable[[str], bool]) -> None:
    """Write the events of ``written`` into ``store``, each entity's chained again, those
    of the entities ``unrecorded`` names without a recording time (as a ledger of schema
    1 wrote them, hashed without one)."""
    for entity_id in sorted(written.store.entity_ids()):
        snap = None
        prev = GENESIS
        for event in written.history(entity_id):
            if unrecorded(entity_id):
                event = attrs.evolve(event, recorded_at=None, prev_hash=prev).sealed()
            else:
                event = attrs.evolve(event, prev_hash=prev).sealed()
            prev = event.hash
            snap = fold(snap, event)
            store.append(Commit(snap, (event,), event.version - 1, event.command_id))


def test_upgrade_from_schema_1(tmp_path: Path) -> None:
    """A ledger of schema 1 is refused with advice; upgrade gives its events positions and
    a head, after which it verifies and anchors."""
    path = tmp_path / "old.db"
    written = Ledger()
    build(written)
    with SQLStore.open(path) as store:
        # Schema 1 kept no recording times: its events hash without one.
        write_again(store, written, unrecorded=lambda entity_id: True)
    with Ledger.open(path) as ledger:
        expected = ledger.verify(deep=True)
        assert expected.ok, str(expected)
    url = f"sqlite:///{path}"
    raw(
        url,
        "DROP INDEX ix_if_events_seq",
        "ALTER TABLE if_events DROP COLUMN seq",
        "ALTER TABLE if_events DROP COLUMN recorded_at",
        "DROP TABLE if_ledger_head",
        "UPDATE inspection_flow_meta SET value = '1' WHERE key = 'schema_version'",
    )
    with pytest.raises(StoreError, match="inspection-flow upgrade"):
        Ledger.open(path)
    assert SQLStore.upgrade(path) == 1
    assert SQLStore.upgrade(path) == 2
    with Ledger.open(path) as ledger:
        report = ledger.verify(deep=True)
        assert report.ok, str(report)
        assert (report.entities, report.events) == (expected.entities, expected.events)
        assert ledger.anchor().events == expected.events


def test_the_check_on_the_stored_text_holds_for_every_intact_event(url: str) -> None:
    """verify() checks each event's hash on its stored text and reads an entity again as
    whole events only where that check fails; for an intact ledger it fails nowhere:
    events with a recording time and events written before it was kept (hashed without
    one), each event's hashed content rebuilt exactly, on SQLite and PostgreSQL.  The
    audit's verdict would be the same either way: this is what keeps it one read."""
    written = Ledger()
    build(written)
    with SQLStore.open(url) as store:
        # The round's events as a ledger of schema 1 wrote them, the cases' as now.
        write_again(store, written, unrecorded=lambda entity_id: entity_id == "R")
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                ids = sorted(written.store.entity_ids())
                checked, suspect = _sql._checked_events(conn, ids)
                recorded = conn.execute(
                    sa.text("SELECT count(*) FROM if_events WHERE recorded_at IS NULL")
                ).scalar_one()
        finally:
            engine.dispose()
        assert suspect == set()
        assert sorted(checked) == ids
        assert recorded == len(written.history("R")) > 0
        assert [e.version for _, e in checked["C-0"]] == [e.version for e in written.history("C-0")]
        assert store.verify().ok


@pytest.mark.slow
def test_cli_verify_deep_anchor_and_repair(tmp_path: Path) -> None:
    """The CLI audits (exit 1 on a problem), prints an anchor, checks it, and repairs."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as ledger:
        build(ledger)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "inspection_flow", *args, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )

    anchor = cli("anchor").stdout.strip()
    assert anchor.startswith("if1-")
    assert cli("verify", "--deep", "--anchor", anchor).returncode == 0
    raw(f"sqlite:///{path}", "UPDATE if_entities SET state = 'closed' WHERE entity_id = 'C-1'")
    assert cli("verify").returncode == 0
    deep = cli("verify", "--deep")
    assert deep.returncode == 1
    assert "C-1: the projection's column state holds 'closed'" in deep.stdout
    fixed = cli("repair")
    assert fixed.returncode == 0
    assert "repaired: 1 entities" in fixed.stdout
    assert cli("verify", "--deep", "--anchor", anchor).returncode == 0
    assert "already at schema version 2" in cli("upgrade").stdout
    bad = cli("verify", "--anchor", "nonsense")
    assert bad.returncode == 2
    assert "not a ledger anchor" in bad.stderr


def _scalar(url: str, sql: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_a_time_column_that_differs_from_the_hashed_time_is_reported(
    ledger: Ledger, url: str
) -> None:
    """at_utc is not hashed, so the audit checks it against the hashed time."""
    ledger.fire("C-0", "assign", actor=LIAISON, at=at("2023-06-29"), owners=["430903"])
    events = ledger.history("C-0")
    moved = "2020-01-01 00:00:00+00" if "postgresql" in url else "0"
    raw(url, f"UPDATE if_events SET at_utc = '{moved}' WHERE entity_id = 'C-0' AND version = 2")
    report = ledger.verify()
    assert [(p.entity_id, p.version, p.field) for p in report.problems] == [("C-0", 2, "at_utc")]
    assert events[1].at.isoformat() in report.problem
