"""Benchmark: large writes — a hand-over of 100,000 cases, and PostgreSQL commands.

Run from the repository root::

    python benchmarks/bench_writes.py                 # full run
    python benchmarks/bench_writes.py --quick         # smaller sizes, for a smoke test
    python benchmarks/bench_writes.py --parts h       # one part: h (hand-over), p (PostgreSQL)

(h) ``hand_over_batch`` of N received cases (100,000; quick 5,000) on a SQLite file:
    streamed (the ledger reads, moves and writes 2,000 cases at a time, in one
    transaction) against the same call inside ``with ledger.batch():``, which holds every
    case and commit until the block ends.  The file is populated once (in a separate
    process) and copied for each run; each run is a new interpreter, timed, with its peak
    RSS (``ru_maxrss``), its RSS before the call, the CPU time of the calling thread
    (what the call did, without its waits for the disk) and the seconds the close took
    (not timed: it waits for the copy of the write-ahead log into the file, which a
    large write leaves to a background thread).  Runs alternate, three of each (quick:
    one), medians reported.  Targets: streamed under 10 s and 300 MB peak RSS.
(p) PostgreSQL: ``Ledger.fire`` one command per transaction, against a raw psycopg
    yardstick doing, per command, what a hand-written store would do at the least: one
    SELECT of the entity's snapshot and, in one transaction, an UPDATE of its row and an
    INSERT of the event (JSON and SHA-256 built as the ledger builds them).  Client CPU
    per command (``time.process_time``) is compared; then 2 workers against 1,
    alternated as 1, 2, 2, 1, 1, 2 (as many of each as ``--runs``, at least two; quick
    1, 2, 2, 1), each run of the ledger followed by one of the yardstick, the ratio of
    the medians judged.  Targets:
    ledger CPU <= 0.6 ms per command and <= 3x the yardstick; 2 workers >= 1.5x one when
    a second core is free (the output says when it was not).  Beside the verdict, the
    yardstick's own gain from a second worker, and how much more pure Python two
    processes get done than one on this machine: the workers share its cores with the
    server.  Then one more run of two workers, not counted, tells where their server
    processes spent it (waiting for the client, flushing the WAL, waiting for a row lock,
    running), from pg_stat_activity read every 5 ms.  Then receipts:
    ``Ledger.receive_complaint`` one complaint at a time, outside a batch, against raw
    psycopg doing what a hand-written store would do at the least (one SELECT of the
    round's snapshot, then one statement inserting the complaint's row and its event,
    JSON and SHA-256 as above); the same two targets per receipt (client CPU <= 0.6 ms,
    <= 3x the yardstick).

The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from machine import load, python_speed, verdict

from inspection_flow import SHANGHAI, Actor, Ledger

TARGET_HANDOVER_S = 10.0
TARGET_HANDOVER_MB = 300.0
RULEBOOK = "hunan-provincial-2023"
ROUND = "HN-2023-2-YY"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# -- (h) the hand-over -------------------------------------------------------------------------


def populate(path: Path, cases: int) -> None:
    """A round stationed in, and ``cases`` complaints received on 2023-06-27."""
    ledger = Ledger.open(path, rulebook=RULEBOOK)
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=at(20, 9))
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at(26, 9))
    rows = (
        {
            "channel": "phone",
            "received_at": at(27, 8 + i % 12, i % 60),
            "area": ("430902", "430903", "430921", "430922", "430923", "430981")[i % 6],
            "summary": "夜间施工噪声扰民",
            "category": "noise",
            "complaint_id": f"YY-2023-{i:07d}",
        }
        for i in range(cases)
    )
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == 5_000:
            ledger.receive_complaints(ROUND, chunk, actor=TEAM)
            chunk = []
    if chunk:
        ledger.receive_complaints(ROUND, chunk, actor=TEAM)
    ledger.close()


def hand_over_once(path: str, how: str) -> None:
    """In a new interpreter: hand the day's cases over; print a JSON line of figures."""
    ledger = Ledger.open(path, rulebook=RULEBOOK)
    ledger.get(ROUND)
    before = rss_mb()
    # The calling thread's CPU time (user and system): its waits for the disk are not in it.
    cpu = time.thread_time()
    start = time.perf_counter()
    if how == "streamed":
        handed = ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at(28, 9))
    else:
        with ledger.batch():
            handed = ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at(28, 9))
    seconds = time.perf_counter() - start
    cpu = time.thread_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    assert handed is not None
    count = ledger.counts("state", kind="complaint")
    # Not timed: the close waits for the copy of the write-ahead log into the file, which
    # the hand-over left to a background thread.
    start = time.perf_counter()
    ledger.close()
    closing = time.perf_counter() - start
    assert count == {"handed_over": len(handed.case_ids)}, count
    figures = {
        "seconds": seconds,
        "peak": peak,
        "before": before,
        "cases": len(handed.case_ids),
        "close": closing,
        "cpu": cpu,
    }
    print(json.dumps(figures))


def part_handover(cases: int, runs: int) -> bool:
    print(f"(h) hand_over_batch of {cases:,} received cases, SQLite, synchronous=FULL")
    with tempfile.TemporaryDirectory(prefix="bench_writes_") as tmp:
        source = Path(tmp) / "populated.db"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--populate", str(source), "--cases", str(cases)],
            check=True,
        )
        print(f"    populated in {time.perf_counter() - start:.1f} s (not timed)", flush=True)
        results: dict[str, list[dict[str, float]]] = {"streamed": [], "in batch()": []}
        for run in range(runs):
            for how in results:
                path = Path(tmp) / f"run-{run}.db"
                for suffix in ("", "-wal"):
                    if Path(f"{source}{suffix}").exists():
                        shutil.copy(f"{source}{suffix}", f"{path}{suffix}")
                out = subprocess.run(
                    [sys.executable, __file__, "--hand-over", str(path), how],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                got = json.loads(out.strip().splitlines()[-1])
                results[how].append(got)
                print(
                    f"    run {run + 1} {how:<11} {got['seconds']:6.2f} s  peak RSS "
                    f"{got['peak']:6.0f} MB (before the call {got['before']:4.0f} MB)  "
                    f"CPU {got['cpu']:5.2f} s  close {got['close']:4.2f} s  load {load()}",
                    flush=True,
                )
                for p in Path(tmp).glob(f"run-{run}.db*"):
                    p.unlink()
    medians = {
        how: (
            statistics.median(r["seconds"] for r in rs),
            statistics.median(r["peak"] for r in rs),
        )
        for how, rs in results.items()
    }
    for how, (seconds, peak) in medians.items():
        print(f"    {how:<11} median {seconds:6.2f} s, peak RSS {peak:6.0f} MB")
    seconds, peak = medians["streamed"]
    ok = seconds < TARGET_HANDOVER_S and peak < TARGET_HANDOVER_MB
    print(
        f"    streamed: {seconds:.2f} s (target < {TARGET_HANDOVER_S:.0f} s), peak RSS "
        f"{peak:.0f} MB (target < {TARGET_HANDOVER_MB:.0f} MB) {'PASS' if ok else 'FAIL'}; "
        f"in batch() / streamed = {medians['in batch()'][0] / seconds:.2f}x time, "
        f"{medians['in batch()'][1] / peak:.2f}x peak"
    )
    return ok


# -- (p) PostgreSQL --------------------------------------------------------------------------

STEPS = (
    ("assign", Actor("liaison", "430900", "益阳市联络组"), {"owners": ["430903"]}),
    ("start_investigation", Actor("owner_unit", "430903", "赫山区"), {}),
    ("record_finding", Actor("owner_unit", "430903", "赫山区"), {"finding": "substantiated"}),
    ("start_rectification", Actor("owner_unit", "430903", "赫山区"), {}),
    ("report_result", Actor("owner_unit", "430903", "赫山区"), {"summary": "已责令整改"}),
)


@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"if_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


def pg_populate(url: str, prefixes: Sequence[str], cases: int) -> None:
    """The round, and ``cases`` handed-over cases per prefix (not timed)."""
    ledger = Ledger.open(url, rulebook=RULEBOOK)
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=at(20, 9))
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at(26, 9))
    for prefix in prefixes:
        rows = [
            {
                "channel": "phone",
                "received_at": at(27, 10),
                "area": "430903",
                "summary": "夜间施工噪声扰民",
                "category": "noise",
                "complaint_id": f"{prefix}{i:06d}",
            }
            for i in range(cases)
        ]
        ledger.receive_complaints(ROUND, rows, actor=TEAM)
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at(28, 9))
    ledger.close()


def pg_ledger_worker(url: str, prefix: str, cases: int, barrier: Any, results: Any) -> None:
    """Fire every step on this worker's cases, one transaction per command."""
    ledger = Ledger.open(url, rulebook=RULEBOOK)
    ids = [f"{prefix}{i:06d}" for i in range(cases)]
    ledger.rulebook_of(ledger.get(ids[0]))
    if barrier is not None:
        barrier.wait()
    cpu, start = time.process_time(), time.perf_counter()
    when = at(28, 10)
    for event, actor, payload in STEPS:
        for entity_id in ids:
            ledger.fire(entity_id, event, actor=actor, at=when, **payload)
    results.put((start, time.perf_counter(), cases * len(STEPS), time.process_time() - cpu))
    ledger.close()


def pg_raw_tables(url: str) -> None:
    """The yardstick's tables, made before its workers start (not timed)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE raw_entities (entity_id TEXT PRIMARY KEY, "
                "state TEXT NOT NULL, version INTEGER NOT NULL, snapshot TEXT NOT NULL)"
            )
            conn.exec_driver_sql(
                "CREATE TABLE raw_events (entity_id TEXT NOT NULL, version INTEGER "
                "NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, hash TEXT NOT NULL, "
                "PRIMARY KEY (entity_id, version))"
            )
    finally:
        engine.dispose()


def pg_raw_worker(url: str, prefix: str, cases: int, barrier: Any, results: Any) -> None:
    """The yardstick: per command one SELECT, then UPDATE + INSERT in one transaction,
    with psycopg alone; the event as canonical JSON, chained by SHA-256."""
    import hashlib

    import orjson
    import psycopg
    import sqlalchemy as sa

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(dsn, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw_entities SELECT entity_id, state, version, snapshot "
            "FROM if_entities WHERE entity_id LIKE %s",
            (f"{prefix}%",),
        )
    ids = [f"{prefix}{i:06d}" for i in range(cases)]
    if barrier is not None:
        barrier.wait()
    cpu, start = time.process_time(), time.perf_counter()
    when = at(28, 10).isoformat()
    cur = conn.cursor()
    for event, actor, payload in STEPS:
        actor_data = actor.to_dict()
        for entity_id in ids:
            cur.execute(
                "SELECT version, snapshot FROM raw_entities WHERE entity_id = %s", (entity_id,)
            )
            version, text = cur.fetchone()
            snapshot = orjson.loads(text)
            content = {
                "entity_id": entity_id,
                "version": version + 1,
                "name": event,
                "at": when,
                "actor": actor_data,
                "payload": payload,
                "state_before": snapshot["state"],
                "state_after": event,
                "effects": {"data": payload} if payload else {},
                "command_id": None,
                "prev_hash": snapshot["last_hash"],
                "recorded_at": dt.datetime.now(SHANGHAI).isoformat(),
            }
            body = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.sha256(body).hexdigest()
            snapshot.update(state=event, version=version + 1, last_hash=digest, updated_at=when)
            with conn.transaction():
                cur.execute(
                    "UPDATE raw_entities SET state = %s, version = %s, snapshot = %s "
                    "WHERE entity_id = %s AND version = %s",
                    (event, version + 1, orjson.dumps(snapshot).decode(), entity_id, version),
                )
                if cur.rowcount != 1:
                    raise RuntimeError(f"{entity_id} moved on")
                cur.execute(
                    "INSERT INTO raw_events VALUES (%s, %s, %s, %s, %s)",
                    (entity_id, version + 1, event, body.decode(), digest),
                )
    results.put((start, time.perf_counter(), cases * len(STEPS), time.process_time() - cpu))
    conn.close()


def pg_receipt_worker(url: str, prefix: str, cases: int, barrier: Any, results: Any) -> None:
    """Receive ``cases`` complaints, each one on its own (outside a batch)."""
    ledger = Ledger.open(url, rulebook=RULEBOOK)
    ledger.rulebook_of(ledger.get(ROUND))
    if barrier is not None:
        barrier.wait()
    cpu, start = time.process_time(), time.perf_counter()
    for i in range(cases):
        ledger.receive_complaint(
            ROUND,
            channel="phone",
            received_at=at(27, 11),
            area="430903",
            summary="夜间施工噪声扰民",
            category="noise",
            actor=TEAM,
            complaint_id=f"{prefix}new-{i:06d}",
        )
    results.put((start, time.perf_counter(), cases, time.process_time() - cpu))
    ledger.close()


def pg_raw_receipt_worker(url: str, prefix: str, cases: int, barrier: Any, results: Any) -> None:
    """The receipts' yardstick: per receipt one SELECT of the round, then the complaint's
    row and its event inserted by one statement committed on its own, with psycopg
    alone."""
    import hashlib

    import orjson
    import psycopg
    import sqlalchemy as sa

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(dsn, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw_entities SELECT entity_id, state, version, snapshot "
            "FROM if_entities WHERE entity_id = %s",
            (ROUND,),
        )
    if barrier is not None:
        barrier.wait()
    cpu, start = time.process_time(), time.perf_counter()
    when = at(27, 11).isoformat()
    actor_data = TEAM.to_dict()
    cur = conn.cursor()
    for i in range(cases):
        cur.execute("SELECT state, snapshot FROM raw_entities WHERE entity_id = %s", (ROUND,))
        state, text = cur.fetchone()
        if state != "stationed" or orjson.loads(text)["entity_id"] != ROUND:
            raise RuntimeError(f"{ROUND} takes no complaints")
        entity_id = f"{prefix}new-{i:06d}"
        data = {
            "channel": "phone",
            "received_at": when,
            "area": "430903",
            "summary": "夜间施工噪声扰民",
            "category": "noise",
        }
        content = {
            "entity_id": entity_id,
            "version": 1,
            "name": "create",
            "at": when,
            "actor": actor_data,
            "payload": data,
            "state_before": "",
            "state_after": "received",
            "effects": {"data": data},
            "command_id": None,
            "prev_hash": "0" * 64,
            "recorded_at": dt.datetime.now(SHANGHAI).isoformat(),
        }
        body = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(body).hexdigest()
        snapshot = {
            "entity_id": entity_id,
            "state": "received",
            "version": 1,
            "round_id": ROUND,
            "data": data,
            "last_hash": digest,
            "created_at": when,
            "updated_at": when,
        }
        # Both rows in one statement, committed on its own: all or nothing, in one
        # round trip.
        cur.execute(
            "WITH entity AS (INSERT INTO raw_entities VALUES (%s, %s, %s, %s)) "
            "INSERT INTO raw_events VALUES (%s, %s, %s, %s, %s)",
            (
                entity_id,
                "received",
                1,
                orjson.dumps(snapshot).decode(),
                entity_id,
                1,
                "create",
                body.decode(),
                digest,
            ),
        )
    results.put((start, time.perf_counter(), cases, time.process_time() - cpu))
    conn.close()


def pg_run(
    url: str, worker: Any, workers: int, cases: int, *, name: str | None = None
) -> tuple[float, int, float]:
    """Run ``workers`` processes of ``worker`` on fresh cases; return (s, commands, cpu s).
    ``name``: the application name the workers' connections give the server."""
    import multiprocessing as mp

    import sqlalchemy as sa

    ctx = mp.get_context("spawn")
    prefixes = [f"W{w}-" for w in range(workers)]
    with pg_schema(url) as scoped:
        pg_populate(scoped, prefixes, cases)
        if worker in (pg_raw_worker, pg_raw_receipt_worker):
            pg_raw_tables(scoped)
        if name is not None:
            scoped = (
                sa.make_url(scoped)
                .update_query_dict({"application_name": name})
                .render_as_string(hide_password=False)
            )
        barrier = ctx.Barrier(workers)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=worker, args=(scoped, p, cases, barrier, results)) for p in prefixes
        ]
        for p in procs:
            p.start()
        got = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
            if p.exitcode:
                raise RuntimeError(f"a worker failed (exit {p.exitcode})")
    first = min(g[0] for g in got)
    last = max(g[1] for g in got)
    return last - first, sum(g[2] for g in got), sum(g[3] for g in got)


def client_cpu(url: str, ledger: Any, raw: Any, cases: int, runs: int, unit: str) -> None:
    """Time one worker of the ledger (``ledger``) and of its yardstick (``raw``), each
    doing ``cases`` of ``unit`` (a command, a receipt), alternated ``runs`` times; print
    each run, then the verdicts on the client CPU a ``unit`` and on its ratio."""
    cpu: dict[str, list[float]] = {"ledger": [], "raw": []}
    for run in range(runs):
        for name, worker in (("raw", raw), ("ledger", ledger)):
            seconds, done, used = pg_run(url, worker, 1, cases)
            cpu[name].append(used / done)
            print(
                f"    run {run + 1} {name:<6} 1 worker  {done / seconds:6.0f} {unit}s/s, "
                f"client CPU {used / done * 1e3:.3f} ms/{unit}  load {load()}",
                flush=True,
            )
    ledger_cpu = statistics.median(cpu["ledger"])
    ratio = statistics.median(a / b for a, b in zip(cpu["ledger"], cpu["raw"], strict=True))
    # Two targets, each with its verdict: the CPU itself is the machine's (compare the
    # machine speed printed at the start), the ratio to the yardstick is the code's.
    print(
        f"    client CPU per {unit}: ledger {ledger_cpu * 1e3:.3f} ms (median; target <= "
        f"0.6 ms) {verdict(ledger_cpu <= 0.6e-3)}; raw psycopg "
        f"{statistics.median(cpu['raw']) * 1e3:.3f} ms; ledger / raw = {ratio:.2f}x (target "
        f"<= 3x) {verdict(ratio <= 3.0)}"
    )


def part_postgres(url: str, *, quick: bool, runs: int) -> None:
    cases = 40 if quick else 400
    print(f"(p) PostgreSQL, one transaction per command, {cases * len(STEPS):,} commands a worker")
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        engine.dispose()
    except Exception as exc:
        print(f"    SKIP: PostgreSQL at {url} unreachable ({exc.__class__.__name__})")
        return
    print(f"    PostgreSQL {version}")
    client_cpu(url, pg_ledger_worker, pg_raw_worker, cases, runs, "command")
    # Whether a second core is free is judged by what the machine does without the
    # benchmark: its busy share over a second before the runs (the load average would
    # count the benchmark's own processes).
    before = cpu_idle()
    time.sleep(1.0)
    other = cpu_idle(before)
    rates: dict[str, dict[int, list[float]]] = {"ledger": {1: [], 2: []}, "raw": {1: [], 2: []}}
    # One and two workers alternated, ``runs`` times each (at least twice): the verdict
    # is the ratio of the medians, so each needs more than one run to be a median.
    order = [w for r in range(max(runs, 2)) for w in ((1, 2) if r % 2 == 0 else (2, 1))]
    for workers in order:
        for name, worker in (("ledger", pg_ledger_worker), ("raw", pg_raw_worker)):
            idle = cpu_idle()
            seconds, commands, _ = pg_run(url, worker, workers, cases)
            busy = cpu_idle(idle)
            rates[name][workers].append(commands / seconds)
            print(
                f"    {name:<6} {workers} worker{'s' if workers > 1 else ' '} "
                f"{commands / seconds:6.0f} commands/s  (machine CPU {busy:.0%} busy)  "
                f"load {load()}",
                flush=True,
            )
    gain = statistics.median(rates["ledger"][2]) / statistics.median(rates["ledger"][1])
    raw_gain = statistics.median(rates["raw"][2]) / statistics.median(rates["raw"][1])
    cores = os.cpu_count() or 1
    free = other * cores < cores - 1
    note = (
        f" -- the machine was {other:.0%} busy before the runs: a second core was free"
        if free
        else f" -- the machine was {other:.0%} busy before the runs: no second core was free"
    )
    judged = verdict(gain >= 1.5) if free else "not judged"
    print(
        f"    2 workers / 1 worker = {gain:.2f}x (target >= 1.5x when a second core is free) "
        f"{judged}{note}"
    )
    # What the machine and the server allow, beside the verdict: the yardstick's own
    # gain from a second worker, and that of two processes of pure Python (each worker
    # shares the machine's cores with the server's processes).
    print(
        f"    beside it: raw psycopg 2 workers / 1 worker = {raw_gain:.2f}x; "
        f"two loops of pure Python at once: {pair_speedup():.2f}x the work of one"
    )
    print(f"    {pg_waits(url, cases)}", flush=True)
    client_cpu(url, pg_receipt_worker, pg_raw_receipt_worker, cases * len(STEPS), runs, "receipt")


#: What a server process of the ledger's workers is doing, by its wait event in
#: pg_stat_activity (https://www.postgresql.org/docs/15/monitoring-stats.html#WAIT-EVENT-TABLE).
WAITS = (
    ("waiting for its client", lambda kind, event: kind == "Client"),
    (
        "flushing the WAL",
        lambda kind, event: event in ("WALSync", "WALWrite") and kind in ("IO", "LWLock"),
    ),
    ("waiting for a row lock", lambda kind, event: kind == "Lock"),
    ("running", lambda kind, event: kind is None),
)


def pg_waits(url: str, cases: int) -> str:
    """Where the server processes of two ledger workers spend a run: one more run, not
    counted, with pg_stat_activity read every 5 ms.  The lock two commands wait for is the
    row of the ledger's head, which numbers the events in the order they are committed
    and so is held until a command's commit is flushed."""
    import threading

    import psycopg
    import sqlalchemy as sa

    name = f"if-bench-{os.getpid()}"
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    seen: dict[str, int] = {}
    stop = threading.Event()

    def sample() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                for kind, event in conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (name,),
                ).fetchall():
                    what = next((w for w, test in WAITS if test(kind, event)), "other")
                    seen[what] = seen.get(what, 0) + 1
                stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        pg_run(url, pg_ledger_worker, 2, cases, name=name)
    finally:
        stop.set()
        sampler.join()
    total = sum(seen.values())
    if not total:
        return "where two workers' server processes spent a run: nothing sampled"
    shares = ", ".join(
        f"{what} {seen.get(what, 0) / total:.0%}" for what in [*(w for w, _ in WAITS), "other"]
    )
    return (
        f"where two workers' server processes spent one more run (not counted; "
        f"{total:,} samples): {shares}"
    )


def pair_speedup() -> float:
    """How much more pure Python two processes get done than one, each timed as
    :func:`machine.python_speed` times its loop (the median of three of each)."""
    code = "from machine import python_speed; print(python_speed().split()[-2])"
    here = str(Path(__file__).resolve().parent)

    def loops(n: int) -> list[float]:
        procs = [
            subprocess.Popen([sys.executable, "-c", code], cwd=here, stdout=subprocess.PIPE)
            for _ in range(n)
        ]
        return [float(p.communicate()[0]) for p in procs]

    one = statistics.median(loops(1)[0] for _ in range(3))
    two = statistics.median(max(loops(2)) for _ in range(3))
    return 2 * one / two


def cpu_idle(since: tuple[int, int] | None = None) -> Any:
    """The machine's (busy, total) CPU ticks, or the busy share since ``since``."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    now = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    if since is None:
        return now
    total = now[1] - since[1]
    return (now[0] - since[0]) / total if total else 0.0


# -- the run ---------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--populate":
        populate(Path(sys.argv[2]), int(sys.argv[4]))
        return 0
    if len(sys.argv) > 2 and sys.argv[1] == "--hand-over":
        hand_over_once(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--parts", default="hp", help="h: hand-over, p: PostgreSQL")
    parser.add_argument("--cases", type=int, help="cases handed over (default 100,000)")
    parser.add_argument("--runs", type=int, help="alternated runs (default 3; quick 1)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "INSPECTION_FLOW_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL URL for part p (a fresh schema is created and dropped)",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    print(
        f"machine: nproc {os.cpu_count()}, python {platform.python_version()}, "
        f"{platform.platform()}; load average at the start {load()}",
        flush=True,
    )
    print(f"machine speed: {python_speed()}", flush=True)
    runs = args.runs or (1 if args.quick else 3)
    if "h" in args.parts:
        part_handover(args.cases or (5_000 if args.quick else 100_000), runs)
    if "p" in args.parts:
        part_postgres(args.pg_url, quick=args.quick, runs=runs)
    print(f"load average at the end: {load()}; {time.perf_counter() - began:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
