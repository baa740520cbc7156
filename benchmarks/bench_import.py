"""Benchmark: importing a 台账 into SQLite through the public API, against a hand-rolled
sqlite3 import of the same rows in the same run.

Run from the repository root::

    python benchmarks/bench_import.py            # full run (a few minutes)
    python benchmarks/bench_import.py --quick    # smaller sizes, for a smoke test
    python benchmarks/bench_import.py --cases 100000 --ways d --runs 3
                                                 # a 台账 of 100,000 rows, (d) and (e) only

The ledger imported: N complaint cases of one round, each received, handed over in the
day's batch, then taken through five commands (assign, start_investigation,
record_finding, start_rectification, report_result), written in blocks of 2,000 commands.
Three ways, alternated in one process, each on a fresh file, so that a change in the
machine's other load weighs on all alike:

(a) the per-command API: ``ledger.receive_complaint`` and ``ledger.fire`` inside
    ``with ledger.batch():`` blocks — every check the ledger makes (ids, roles and
    jurisdiction, the lifecycle, payloads, the hotline window, deadlines), the hash
    chain, one read of each entity per block, one write per block;
(b) the bulk intake: ``ledger.receive_complaints(round_id, rows)`` for the receipts (ids
    checked in bulk) and ``ledger.fire_many(ids, event, ...)`` for each block's command
    (the block's entities read with one look-up per 500), with the checks of (a);
(c) the yardstick, hand-rolled with ``sqlite3`` and ``orjson``: the same events as
    canonical JSON (sorted keys), each hashed with SHA-256 over its content and the
    previous event's hash, the entity's snapshot as a JSON column, the block's entities
    looked up 500 at a time, as the ledger looks them up (are new ids free; the current
    snapshots of the entities a command changes),
    the state checked against the command's expected one, and one transaction per block
    with ``executemany``, in a file of 16 KB pages (a quarter faster than SQLite's
    default 4 KB for these rows; the ledger's own files keep the default), each JSON
    copied out of orjson's bytes (see :func:`canonical`): what a competent engineer
    would write to load such a ledger fast, without the ledger's rules.

The hand-over (one ``hand_over_batch`` for all cases; a plain UPDATE in (c)) is not
timed.  Every file is checked afterwards: all cases ``reported``, every event stored.

And a 信访件台账 CSV file of as many rows (the one ``bench_office.py`` writes: 21 days of
calls, each handed over the next day), both timed whole:

(d) ``Ledger.import_table(path)`` into a new SQLite ledger: the file read and checked,
    each row's receipt, then each day's hand-over (batch and hand-over events);
(e) the yardstick for (d), as (c) is written: the CSV read with the standard library, the
    times parsed with ``datetime.fromisoformat``, the batches numbered by day, then each
    row's receipt, batch and hand-over events hashed into its entity's chain and the case
    written once, in its final state, in blocks (the file tells every case's end, so no
    case is written twice).

Target: (a) and (b) take at most 1.5x the time of (c), and (d) at most 1.5x (e), the
median of the runs' paired ratios.  The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import gc
import hashlib
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from bench_office import AREAS, CATEGORIES, write_file
from machine import load, python_speed

from inspection_flow import SHANGHAI, Actor, Ledger

T = TypeVar("T")

TARGET_RATIO = 1.5

RULEBOOK = "hunan-provincial-2023"
ROUND = "HN-2023-2-YY"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
OWNER = Actor("owner_unit", "430903", "赫山区")
GENESIS = "0" * 64

#: The seconds each way's closing took, not timed: a ledger's close waits for the copy of
#: its write-ahead log into the file that its large writes leave to a background thread;
#: the hand-rolled loads' close copies what their commits left in the log.
CLOSES: dict[str, list[float]] = {key: [] for key in "abcde"}


def closed(key: str, close: Callable[[], None]) -> None:
    start = time.perf_counter()
    close()
    CLOSES[key].append(time.perf_counter() - start)


#: The commands each case takes after hand-over, with the state each leaves.
STEPS: tuple[tuple[str, Actor, dict[str, Any], str, str], ...] = (
    ("assign", LIAISON, {"owners": ["430903"]}, "handed_over", "assigned"),
    ("start_investigation", OWNER, {}, "assigned", "investigating"),
    ("record_finding", OWNER, {"finding": "substantiated"}, "investigating", "verified"),
    ("start_rectification", OWNER, {}, "verified", "rectifying"),
    ("report_result", OWNER, {"summary": "已责令整改"}, "rectifying", "reported"),
)


SUMMARY = "夜间施工噪声扰民"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


RECEIVED = at(27, 10)
HANDED = at(28, 9)
FIRED = at(28, 10)


def case_id(i: int) -> str:
    return f"YY-2023-{i:07d}"


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


# -- (a) and (b): through the ledger ---------------------------------------------------------


def stationed(path: Path) -> Ledger:
    ledger = Ledger.open(path, rulebook=RULEBOOK)
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=at(20, 9))
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at(26, 9))
    return ledger


def receive_each(ledger: Ledger, ids: Sequence[str]) -> None:
    with ledger.batch():
        for entity_id in ids:
            ledger.receive_complaint(
                ROUND,
                channel="phone",
                received_at=RECEIVED,
                area="430903",
                summary=SUMMARY,
                category="noise",
                actor=TEAM,
                complaint_id=entity_id,
            )


def receive_bulk(ledger: Ledger, ids: Sequence[str]) -> None:
    ledger.receive_complaints(
        ROUND,
        [
            {
                "channel": "phone",
                "received_at": RECEIVED,
                "area": "430903",
                "summary": SUMMARY,
                "category": "noise",
                "complaint_id": entity_id,
            }
            for entity_id in ids
        ],
        actor=TEAM,
    )


def fire_each(
    ledger: Ledger, block: Sequence[str], event: str, actor: Actor, payload: dict[str, Any]
) -> None:
    with ledger.batch():
        for entity_id in block:
            ledger.fire(entity_id, event, actor=actor, at=FIRED, **payload)


def fire_bulk(
    ledger: Ledger, block: Sequence[str], event: str, actor: Actor, payload: dict[str, Any]
) -> None:
    ledger.fire_many(block, event, actor=actor, at=FIRED, **payload)


def through_ledger(
    path: Path,
    ids: Sequence[str],
    size: int,
    receive: Callable[[Ledger, Sequence[str]], None],
    fire: Callable[[Ledger, Sequence[str], str, Actor, dict[str, Any]], None],
    key: str,
) -> float:
    """Import the cases through the ledger; return the seconds timed."""
    ledger = stationed(path)
    gc.collect()
    start = time.perf_counter()
    for block in chunks(ids, size):
        receive(ledger, block)
    timed = time.perf_counter() - start
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=HANDED)
    gc.collect()
    start = time.perf_counter()
    for event, actor, payload, _, _ in STEPS:
        for block in chunks(ids, size):
            fire(ledger, block, event, actor, payload)
    timed += time.perf_counter() - start
    states = ledger.counts("state", kind="complaint")
    assert states == {"reported": len(ids)}, states
    closed(key, ledger.close)
    return timed


# -- (c) the hand-rolled yardstick -----------------------------------------------------------

#: The page size of the hand-rolled loads' files.  SQLite's default is 4,096 bytes; a
#: file's page size is set before its first write
#: (https://www.sqlite.org/pragma.html#pragma_page_size).  With rows of a few KB (a
#: snapshot, an event's JSON) 16 KB pages made the hand-rolled loads about a quarter
#: faster (docs/performance.md), so the yardsticks take them: the fastest way found.
PAGE_SIZE = 16384

SCHEMA = """
CREATE TABLE entities (
    entity_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
    version INTEGER NOT NULL, area TEXT NOT NULL, round_id TEXT, snapshot TEXT NOT NULL
);
CREATE INDEX ix_entities_kind_state ON entities (kind, state);
CREATE INDEX ix_entities_round ON entities (round_id);
CREATE TABLE events (
    entity_id TEXT NOT NULL REFERENCES entities (entity_id), version INTEGER NOT NULL,
    name TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (entity_id, version)
);
"""


#: The ids one look-up of the hand-rolled loads asks for (as many as the ledger's).
LOOKUP = 500


def looked_up(conn: sqlite3.Connection, columns: str, ids: Sequence[str]) -> list[Any]:
    """The rows (``columns``) of the entities of ``ids`` that exist, asked 500 at a time."""
    rows: list[Any] = []
    for k in range(0, len(ids), LOOKUP):
        part = ids[k : k + LOOKUP]
        marks = ",".join("?" * len(part))
        sql = f"SELECT {columns} FROM entities WHERE entity_id IN ({marks})"
        rows += conn.execute(sql, part).fetchall()
    return rows


def taken(conn: sqlite3.Connection, ids: Sequence[str]) -> list[str]:
    """The ids of ``ids`` already in use."""
    return [row[0] for row in looked_up(conn, "entity_id", ids)]


def current(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, tuple[int, bytes]]:
    """The version and stored snapshot of each entity of ``ids``."""
    rows = looked_up(conn, "entity_id, version, snapshot", ids)
    return {row[0]: (row[1], row[2]) for row in rows}


def canonical(data: Any) -> bytearray:
    """``data``'s canonical JSON, copied out of orjson's own bytes, which are freed at
    once: a block keeps its rows until its statements run, and keeping orjson's output of
    a KB or more made each further one slower to make, several times what the copy costs
    (docs/performance.md).  sqlite3 binds a bytearray as it binds bytes."""
    return bytearray(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


def hashed_event(
    entity_id: str,
    version: int,
    name: str,
    when: str,
    actor: dict[str, str],
    payload: dict[str, Any],
    before: str,
    after: str,
    effects: dict[str, Any],
    prev_hash: str,
) -> tuple[bytearray, str]:
    content = {
        "entity_id": entity_id,
        "version": version,
        "name": name,
        "at": when,
        "actor": actor,
        "payload": payload,
        "state_before": before,
        "state_after": after,
        "effects": effects,
        "command_id": None,
        "prev_hash": prev_hash,
        "recorded_at": dt.datetime.now(SHANGHAI).isoformat(),
    }
    body = canonical(content)
    return body, hashlib.sha256(body).hexdigest()


#: The deadline records a case carries after its hand-over, as the ledger stores them
#: (the rules' wording stands in for the rulebook's, of the same length), so that (c)
#: writes snapshots and events of the same size as the ledger's.
RULE_SOURCE = "本轮未见公开规定，沿用中央督察组的时限，按轮次设置；" * 3


def deadline(name: str, days: int, last_day: str, due_at: str) -> dict[str, Any]:
    return {
        "name": name,
        "rule": {
            "amount": days,
            "unit": "calendar_days",
            "name": name,
            "source": RULE_SOURCE,
            "confidence": "M",
        },
        "anchor": HANDED.isoformat(),
        "last_day": last_day,
        "due_at": due_at,
        "calendar_version": "chinesecalendar==1.11.0/2004-2026/sha256:dc9f596c75770805",
        "provisional": False,
        "suspended": False,
        "status": "open",
        "ended_at": None,
        "pauses": [],
        "extensions": [],
        "alerts": [["escalation", "overdue", due_at, "超期"]],
        "fired": [],
    }


DEADLINES = {
    "publish_due": deadline("publish_due", 9, "2023-07-07", "2023-07-08T00:00:00+08:00"),
    "result_due": deadline("result_due", 10, "2023-07-10", "2023-07-11T00:00:00+08:00"),
}


def receipt(
    entity_id: str,
    round_id: str,
    received: str,
    area: str,
    category: str,
    summary: str,
    batch_day: str,
    team: dict[str, str],
) -> tuple[tuple[Any, ...], tuple[Any, ...], dict[str, Any]]:
    """A call's receipt as the ledger records it: the entity's row, its first event and
    its snapshot."""
    payload = {
        "channel": "phone",
        "received_at": received,
        "summary": summary,
        "intake_day": received[:10],
        "batch_day": batch_day,
    }
    create = {
        "kind": "complaint",
        "lifecycle": "complaint",
        "area": area,
        "round_id": round_id,
        "category": category,
    }
    body, digest = hashed_event(
        entity_id, 1, "create", received, team, payload, "", "received", {"create": create}, GENESIS
    )
    snapshot = {
        "entity_id": entity_id,
        "kind": "complaint",
        "lifecycle": "complaint",
        "state": "received",
        "version": 1,
        "area": area,
        "areas": [area],
        "round_id": round_id,
        "parent_id": None,
        "batch": None,
        "category": category,
        "created_at": received,
        "updated_at": received,
        "terminal": False,
        "data": payload,
        "deadlines": {},
        "last_hash": digest,
        "occurred_at": received,
    }
    entity = (entity_id, "complaint", "received", 1, area, round_id, canonical(snapshot))
    return entity, (entity_id, 1, "create", received, body, digest), snapshot


def hand_rolled(path: Path, ids: Sequence[str], size: int) -> float:
    """Import the same cases with sqlite3 alone; return the seconds timed."""
    conn = by_hand(path)
    gc.collect()
    start = time.perf_counter()
    receive_by_hand(conn, ids, size)
    timed = time.perf_counter() - start
    hand_over_by_hand(conn, ids, size)
    gc.collect()
    start = time.perf_counter()
    fire_by_hand(conn, ids, size)
    timed += time.perf_counter() - start
    states = dict(conn.execute("SELECT state, count(*) FROM entities GROUP BY state").fetchall())
    assert states == {"reported": len(ids)}, states
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(ids) * 8
    closed("c", conn.close)
    return timed


def by_hand(path: Path) -> sqlite3.Connection:
    """A new database of the yardstick's schema: write-ahead logging and
    ``synchronous = FULL`` as the ledger sets its files, and the larger pages that make
    the hand-rolled loads fastest (:data:`PAGE_SIZE`)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    return conn


def receive_by_hand(conn: sqlite3.Connection, ids: Sequence[str], size: int) -> None:
    """The receipts, a block at a time: each id checked unused, one write a block."""
    team = TEAM.to_dict()
    received = RECEIVED.isoformat()
    for block in chunks(ids, size):
        entities = []
        events = []
        used = taken(conn, block)
        if used:
            raise ValueError(f"{used[0]} is in use")
        for entity_id in block:
            entity, created, _ = receipt(
                entity_id, ROUND, received, "430903", "noise", SUMMARY, "2023-06-28", team
            )
            entities.append(entity)
            events.append(created)
        write(conn, entities, events, insert=True)


def hand_over_by_hand(conn: sqlite3.Connection, ids: Sequence[str], size: int) -> None:
    """The hand-over (not timed): two events per case, as the ledger records."""
    team = TEAM.to_dict()
    for block in chunks(ids, size):
        apply_block(conn, block, "batch", team, {"number": 1}, "received", "batched")
    for block in chunks(ids, size):
        apply_block(
            conn,
            block,
            "hand_over",
            team,
            {"day": "2023-06-28"},
            "batched",
            "handed_over",
            deadlines=DEADLINES,
        )


def fire_by_hand(conn: sqlite3.Connection, ids: Sequence[str], size: int) -> None:
    """The five commands of ``STEPS`` over every case, a block at a time."""
    fired = FIRED.isoformat()
    for event, actor, payload, before, after in STEPS:
        actor_data = actor.to_dict()
        for block in chunks(ids, size):
            apply_block(conn, block, event, actor_data, payload, before, after, when=fired)


def apply_block(
    conn: sqlite3.Connection,
    block: Sequence[str],
    event: str,
    actor: dict[str, str],
    payload: dict[str, Any],
    before: str,
    after: str,
    when: str | None = None,
    deadlines: dict[str, Any] | None = None,
) -> None:
    """Apply one command to each entity of the block: read, check, hash, one write."""
    when = when or HANDED.isoformat()
    effects: dict[str, Any] = {"data": payload} if payload else {}
    if deadlines:
        effects["deadlines"] = deadlines
    entities = []
    events = []
    rows = current(conn, block)
    for entity_id in block:
        row = rows.get(entity_id)
        if row is None:
            raise LookupError(entity_id)
        version, text = row
        snapshot = orjson.loads(text)
        events.append(step(snapshot, event, (before, after), when, actor, payload, effects))
        entities.append((after, version + 1, canonical(snapshot), entity_id, version))
    write(conn, entities, events, insert=False)


def step(
    snapshot: dict[str, Any],
    event: str,
    move: tuple[str, str],
    when: str,
    actor: dict[str, str],
    payload: dict[str, Any],
    effects: dict[str, Any],
) -> tuple[Any, ...]:
    """Apply one command, moving the entity from one state to another (``move``), to
    its snapshot (checked, hashed into its chain, the snapshot changed in place); return
    the event's row."""
    before, after = move
    entity_id = snapshot["entity_id"]
    version = snapshot["version"]
    if snapshot["state"] != before:
        raise ValueError(f"{entity_id}: {event} not allowed in {snapshot['state']}")
    body, digest = hashed_event(
        entity_id,
        version + 1,
        event,
        when,
        actor,
        payload,
        before,
        after,
        effects,
        snapshot["last_hash"],
    )
    if "deadlines" in effects:
        snapshot["deadlines"] = effects["deadlines"]
    snapshot["state"] = after
    snapshot["version"] = version + 1
    snapshot["updated_at"] = snapshot["occurred_at"] = when
    snapshot["last_hash"] = digest
    snapshot["data"].update(payload)
    return (entity_id, version + 1, event, when, body, digest)


def write(
    conn: sqlite3.Connection,
    entities: list[tuple[Any, ...]],
    events: list[tuple[Any, ...]],
    *,
    insert: bool,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if insert:
            conn.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?)", entities)
        else:
            cursor = conn.executemany(
                "UPDATE entities SET state = ?, version = ?, snapshot = ? "
                "WHERE entity_id = ? AND version = ?",
                entities,
            )
            if cursor.rowcount != len(entities):
                raise RuntimeError("an entity moved on meanwhile")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", events)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- (d) and (e): a 信访件台账 file --------------------------------------------------------------

TABLE_ROUND = "HN-2023-R2-YY"


def table_ledger(path: Path) -> Ledger:
    """The round the file's calls reached: stationed on 2023-06-26 for 21 days."""
    ledger = Ledger.open(path, rulebook=RULEBOOK)
    start = dt.datetime(2023, 6, 19, 9, tzinfo=SHANGHAI)
    ledger.create_round(TABLE_ROUND, name="益阳市", area="430900", actor=OFFICE, at=start)
    ledger.fire(TABLE_ROUND, "announce", actor=OFFICE, at=start + dt.timedelta(hours=1))
    ledger.fire(TABLE_ROUND, "station_in", actor=TEAM, at=at(26, 9))
    return ledger


def through_import_table(path: Path, table: Path, rows: int) -> float:
    """``Ledger.import_table`` of the file into a new SQLite ledger; the seconds timed."""
    ledger = table_ledger(path)
    gc.collect()
    start = time.perf_counter()
    report = ledger.import_table(table, actor=TEAM)
    timed = time.perf_counter() - start
    assert (report.received, report.handed_over) == (rows, rows), report
    closed("d", ledger.close)
    return timed


def table_hand_rolled(path: Path, table: Path, rows: int, size: int) -> float:
    """The same file loaded with sqlite3 alone, as (c) loads: the CSV read with the
    standard library, each row's receipt, batch and hand-over hashed into its entity's
    chain and the case written once, handed over, in blocks; the seconds timed."""
    conn = by_hand(path)
    team = TEAM.to_dict()
    areas = dict(AREAS)
    categories = dict(CATEGORIES)
    gc.collect()
    start = time.perf_counter()
    with open(table, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))[1:]
    # The batches numbered by day, then each case written once, handed over.
    numbers = {day: n for n, day in enumerate(sorted({line[2] for line in lines}), start=1)}
    for block in chunks(lines, size):
        entities = []
        events = []
        used = taken(conn, [line[0] for line in block])
        if used:
            raise ValueError(f"{used[0]} is in use")
        for number, _, handed, received_text, area_name, category_name, summary in block:
            received = dt.datetime.fromisoformat(received_text).replace(tzinfo=SHANGHAI)
            _, event, snapshot = receipt(
                number,
                TABLE_ROUND,
                received.isoformat(),
                areas[area_name],
                categories[category_name],
                summary,
                handed,
                team,
            )
            when = dt.datetime.combine(
                dt.date.fromisoformat(handed), dt.time(9), SHANGHAI
            ).isoformat()
            batched = {"number": numbers[handed]}
            handed_over = {"day": handed}
            events += [
                event,
                step(
                    snapshot,
                    "batch",
                    ("received", "batched"),
                    when,
                    team,
                    batched,
                    {"data": batched},
                ),
                step(
                    snapshot,
                    "hand_over",
                    ("batched", "handed_over"),
                    when,
                    team,
                    handed_over,
                    {"data": handed_over, "deadlines": DEADLINES},
                ),
            ]
            entities.append(
                (
                    number,
                    "complaint",
                    "handed_over",
                    3,
                    snapshot["area"],
                    TABLE_ROUND,
                    canonical(snapshot),
                )
            )
        write(conn, entities, events, insert=True)
    timed = time.perf_counter() - start
    states = dict(conn.execute("SELECT state, count(*) FROM entities GROUP BY state").fetchall())
    assert states == {"handed_over": rows}, states
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == rows * 3
    closed("e", conn.close)
    return timed


# -- the run ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--cases", type=int, help="cases per run (default 10,000; quick 500)")
    parser.add_argument("--runs", type=int, help="alternated runs (default 5; quick 1)")
    parser.add_argument(
        "--ways",
        default="abcde",
        help="which ways to run: a to e, each with its yardstick, e.g. de (default all)",
    )
    args = parser.parse_args()
    chosen = set(args.ways.replace(",", ""))
    if not chosen or chosen - set("abcde"):
        parser.error(f"--ways takes letters of abcde, not {args.ways!r}")
    # A way is timed against its yardstick in the same run: (c) for (a) and (b), (e) for (d).
    chosen |= {"c" for key in chosen if key in "ab"} | {"e" for key in chosen if key == "d"}
    ways_run = "".join(key for key in "abcde" if key in chosen)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    cases = args.cases or (500 if args.quick else 10_000)
    runs = args.runs or (1 if args.quick else 5)
    size = 2_000
    began = time.perf_counter()
    print(
        f"machine: nproc {os.cpu_count()}, python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; load average at the start {load()}"
    )
    print(f"machine speed: {python_speed()}", flush=True)
    events = cases * 6
    print(f"ways {ways_run}, synchronous=FULL; {runs} alternated run(s)", flush=True)
    if chosen & set("abc"):
        print(
            f"import of {cases:,} cases x (1 receipt + {len(STEPS)} commands) = {events:,} "
            f"events timed, blocks of {size:,}",
            flush=True,
        )
    if chosen & set("de"):
        print(
            f"a 信访件台账 CSV of {cases:,} rows (receipt, batch, hand-over: "
            f"{cases * 3:,} events) through import_table, against the same loaded by hand",
            flush=True,
        )
    ids = [case_id(i) for i in range(cases)]
    times: dict[str, list[float]] = {key: [] for key in "abcde"}
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        directory = Path(tmp)
        table = directory / "台账.csv"
        write_file(str(table), cases)
        for run in range(runs):
            ways: dict[str, Callable[[Path], float]] = {
                "c": lambda p: hand_rolled(p, ids, size),
                "a": lambda p: through_ledger(p, ids, size, receive_each, fire_each, "a"),
                "b": lambda p: through_ledger(p, ids, size, receive_bulk, fire_bulk, "b"),
                "e": lambda p: table_hand_rolled(p, table, cases, size),
                "d": lambda p: through_import_table(p, table, cases),
            }
            for key, way in ways.items():
                if key not in chosen:
                    continue
                path = directory / f"{key}{run}.db"
                times[key].append(way(path))
                for p in directory.glob(f"{key}{run}.db*"):
                    p.unlink()
            print(
                f"    run {run + 1}: "
                + "  ".join(f"({key}) {times[key][-1]:6.2f} s" for key in ways_run)
                + f"   load {load()}",
                flush=True,
            )
    labels = {
        "a": "(a) receive_complaint + fire in batch()",
        "b": "(b) receive_complaints + fire_many",
        "c": "(c) hand-rolled sqlite3 + orjson",
        "d": "(d) import_table of the 台账 file",
        "e": "(e) the file loaded by hand, as (c)",
    }
    for key, label in labels.items():
        if key not in chosen:
            continue
        med = statistics.median(times[key])
        count = events if key in "abc" else cases * 3
        print(f"{label:<42} {med:7.2f} s  {count / med:>9,.0f} events/s  (median)")
    print(
        "closing afterwards, not timed (a ledger's close waits for its background "
        "checkpoint): "
        + ", ".join(f"({key}) {statistics.median(CLOSES[key]):.2f} s" for key in ways_run)
    )
    ok = True
    for key, base in (("a", "c"), ("b", "c"), ("d", "e")):
        if key not in chosen:
            continue
        ratio = statistics.median(t / c for t, c in zip(times[key], times[base], strict=True))
        passed = ratio <= TARGET_RATIO
        ok = ok and passed
        # The same runs counted to the end of their close: a ledger leaves the copy of
        # its log into the file to the background, the hand-rolled loads make it as they
        # commit; shown beside the target, not judged.
        whole = statistics.median(
            (t + tc) / (c + cc)
            for t, tc, c, cc in zip(times[key], CLOSES[key], times[base], CLOSES[base], strict=True)
        )
        print(
            f"({key}) / ({base}) = {ratio:.2f}x, the median of the paired ratios "
            f"(target <= {TARGET_RATIO}x) {'PASS' if passed else 'FAIL'}; "
            f"{whole:.2f}x counted to the end of the close"
        )
    print(f"load average at the end: {load()}; {time.perf_counter() - began:.0f} s in all")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
