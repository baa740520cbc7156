"""Benchmark: the durable store — SQLite commits, batched imports, overdue queries, and
PostgreSQL with one and two writing processes.

Run from the repository root::

    python benchmarks/bench_store.py            # full run (about ten minutes)
    python benchmarks/bench_store.py --quick    # smaller sizes, for a smoke test

PostgreSQL is reached at ``--pg-url`` (default: ``INSPECTION_FLOW_PG_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each run works in a fresh schema
that it drops afterwards.  SQLite files live in a temporary directory deleted at the end.

Measures, each against a baseline in the same run:

(1) durable single commands on a fresh SQLite file: complaints received, then five
    commands fired on each, every command its own transaction — with
    ``synchronous=FULL`` (the default) and, as the baseline, ``NORMAL``;
(2) batched imports into SQLite, two ways:
    (a) end to end through the ledger: the same commands inside ``with ledger.batch():``
        blocks of 2,000 commands (lifecycle checks, hashing, one read of each entity
        the block has not touched yet, and the write);
    (b) the store alone: the same history, produced beforehand by a ledger on a
        ``MemoryStore``, written with ``SQLStore.append_batch`` in chunks — one commit
        per entity carrying its whole history (the import), and one commit per command
        in command order (the live write path, for comparison);
(3) the overdue query on 100,000 and 1,000,000 open tasks with one deadline each, due
    times spread over two years, about 1 % overdue at the query instant:
    ``store.overdue(now, limit=100)``, ``store.overdue(now)`` (the full list) and
    ``Ledger.overdue(now)``, cold (a new engine, the file's pages dropped from the
    operating system's cache with ``posix_fadvise``, best effort) and warm, the median
    of several runs each; and SQLite's query plan;
(4) PostgreSQL: worker processes, each with its own ledger, firing a fixed number of
    commands on its own complaint cases, one transaction each; one worker against two,
    run in the order 1, 2, 2, 1 so that a change in the machine's other load weighs on
    both alike; the client's CPU per command and how busy the machine was are shown.

Targets: (2b) importing histories at least 20,000 events/s; (3) ``overdue(now,
limit=100)`` under 50 ms on 1,000,000 tasks, warm and cold, served by the partial index
on open entities' due times; (4) two workers at least 1.5x the commands/s of one.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import logging
import multiprocessing as mp
import os
import platform
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from machine import load, python_speed, verdict

from inspection_flow import SHANGHAI, Actor, Commit, Ledger, MemoryStore, Snapshot, SQLStore
from inspection_flow._records import fold
from inspection_flow.stores._sql import _overdue_query
from inspection_flow.testing import create_commit, deadline

TARGET_IMPORT_EVENTS_S = 20_000.0
TARGET_OVERDUE_S = 0.050
TARGET_PG_RATIO = 1.5

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

RULEBOOK = "hunan-provincial-2023"
ROUND = "HN-2023-2-YY"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
OWNER = Actor("owner_unit", "430903", "赫山区")

#: The commands each case receives after hand-over: five commands, five events.
STEPS: tuple[tuple[str, Actor, dict[str, Any]], ...] = (
    ("assign", LIAISON, {"owners": ["430903"]}),
    ("start_investigation", OWNER, {}),
    ("record_finding", OWNER, {"finding": "substantiated"}),
    ("start_rectification", OWNER, {}),
    ("report_result", OWNER, {"summary": "已责令整改"}),
)

#: Overdue population: due times spread over two years from DUE_FROM; the query instant
#: lies OVERDUE_SHARE of the way in.
DUE_FROM = dt.datetime(2024, 1, 1, tzinfo=SHANGHAI)
DUE_SPAN = dt.timedelta(days=730)
OVERDUE_SHARE = 0.01
TASK_AREAS = ("430902", "430903", "430921", "430922", "430923", "430981")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


def case_id(prefix: str, i: int) -> str:
    return f"{prefix}C{i:07d}"


def stationed(ledger: Ledger) -> Ledger:
    """Create the round and station the team in, so complaints can be received."""
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=at(20, 9))
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at(26, 9))
    return ledger


def receive_one(ledger: Ledger, entity_id: str) -> None:
    ledger.receive_complaint(
        ROUND,
        channel="phone",
        received_at=at(27, 10),
        area="430903",
        summary="夜间施工噪声扰民",
        category="noise",
        actor=TEAM,
        complaint_id=entity_id,
    )


def hand_over(ledger: Ledger) -> None:
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at(28, 9))


def fire_steps(ledger: Ledger, ids: Sequence[str], step: int) -> None:
    event, actor, payload = STEPS[step]
    when = at(28, 10)
    for entity_id in ids:
        ledger.fire(entity_id, event, actor=actor, at=when, **payload)


def receive_many(ledger: Ledger, ids: Sequence[str]) -> None:
    for entity_id in ids:
        receive_one(ledger, entity_id)


def in_batches(
    ledger: Ledger,
    ids: Sequence[str],
    size: int,
    command: Callable[[Ledger, Sequence[str]], None],
) -> None:
    """Give ``command`` the ids in chunks of ``size``, each chunk in one ledger batch."""
    for k in range(0, len(ids), size):
        with ledger.batch():
            command(ledger, ids[k : k + size])


def median_time(runs: int, call: Callable[[], object]) -> tuple[float, object]:
    times = []
    result: object = None
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:>10,.0f}/s"


# -- (1) durable single commands -----------------------------------------------------------


def bench_single(directory: Path, cases: int, synchronous: str) -> tuple[float, int]:
    """Return (seconds, commands) for ``cases`` receipts and 5 commands on each."""
    path = directory / f"single-{synchronous.lower()}.db"
    ledger = stationed(
        Ledger.open(path, rulebook=RULEBOOK, store_options={"synchronous": synchronous})
    )
    ids = [case_id("S", i) for i in range(cases)]
    gc.collect()
    start = time.perf_counter()
    receive_many(ledger, ids)
    received = time.perf_counter() - start
    hand_over(ledger)  # one transaction for all cases; not counted
    start = time.perf_counter()
    for step in range(len(STEPS)):
        fire_steps(ledger, ids, step)
    fired = time.perf_counter() - start
    assert ledger.get(ids[-1]).state == "reported"
    ledger.close()
    return received + fired, cases * (1 + len(STEPS))


# -- (2) batched imports ----------------------------------------------------------------------


def bench_ledger_batches(directory: Path, cases: int, size: int) -> tuple[float, float, int, int]:
    """Return (receive s, fire s, receive events, fire events) through ledger batches."""
    ledger = stationed(Ledger.open(directory / "ledger-batches.db", rulebook=RULEBOOK))
    ids = [case_id("B", i) for i in range(cases)]
    gc.collect()
    start = time.perf_counter()
    in_batches(ledger, ids, size, receive_many)
    received = time.perf_counter() - start
    hand_over(ledger)
    start = time.perf_counter()
    for step in range(len(STEPS)):
        in_batches(ledger, ids, size, functools.partial(fire_steps, step=step))
    fired = time.perf_counter() - start
    assert ledger.get(ids[-1]).state == "reported"
    ledger.close()
    return received, fired, cases, cases * len(STEPS)


def memory_history(cases: int) -> tuple[MemoryStore, list[str]]:
    """Run the commands of (2a) on a ledger in memory; return its store and entity ids."""
    store = MemoryStore()
    ledger = stationed(Ledger(store, rulebook=RULEBOOK))
    ids = [case_id("B", i) for i in range(cases)]
    receive_many(ledger, ids)
    hand_over(ledger)
    for step in range(len(STEPS)):
        fire_steps(ledger, ids, step)
    return store, [ROUND, *ids]


def history_commits(store: MemoryStore, ids: Sequence[str]) -> list[Commit]:
    """One commit per entity: its whole history and its current snapshot."""
    commits = []
    for entity_id in ids:
        snapshot = store.get(entity_id)
        assert snapshot is not None
        commits.append(Commit(snapshot, tuple(store.events(entity_id)), 0))
    return commits


def command_commits(store: MemoryStore, ids: Sequence[str]) -> list[Commit]:
    """One commit per event, in the order the commands were given (by event time)."""
    commits: list[Commit] = []
    for entity_id in ids:
        snapshot: Snapshot | None = None
        for event in store.events(entity_id):
            after = fold(snapshot, event)
            commits.append(Commit(after, (event,), event.version - 1))
            snapshot = after
    # Stable sort: within an entity versions stay in order; across entities, by time.
    commits.sort(key=lambda c: (c.events[0].at, c.events[0].version))
    return commits


def import_commits(path: Path, commits: Sequence[Commit], chunk: int) -> tuple[float, int]:
    """Write ``commits`` with append_batch in chunks; return (seconds, events)."""
    store = SQLStore.open(path)
    events = sum(len(c.events) for c in commits)
    gc.collect()
    start = time.perf_counter()
    for k in range(0, len(commits), chunk):
        store.append_batch(commits[k : k + chunk])
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, events


# -- (3) overdue queries ---------------------------------------------------------------------


def task_commits(start: int, stop: int, rng: random.Random) -> list[Commit]:
    """Open rectification tasks with one deadline each, due over DUE_SPAN from DUE_FROM."""
    created = DUE_FROM - dt.timedelta(days=30)
    span = DUE_SPAN.total_seconds()
    commits = []
    for i in range(start, stop):
        due = DUE_FROM + dt.timedelta(seconds=int(rng.uniform(0, span)))
        commits.append(
            create_commit(
                f"T{i:07d}",
                at=created,
                kind="task",
                state="rectifying",
                area=TASK_AREAS[i % len(TASK_AREAS)],
                round_id=ROUND,
                data={"title": "整改任务"},
                deadlines={"rectification_due": deadline("rectification_due", due)},
            )
        )
    return commits


def populate(path: Path, start: int, stop: int, rng: random.Random, chunk: int) -> float:
    """Append tasks start..stop to the SQLite file; print progress; return seconds."""
    store = SQLStore.open(path)
    began = time.perf_counter()
    built = written = 0.0
    step = max(chunk, (stop - start) // 10 // chunk * chunk)
    for k in range(start, stop, chunk):
        t0 = time.perf_counter()
        commits = task_commits(k, min(k + chunk, stop), rng)
        t1 = time.perf_counter()
        store.append_batch(commits)
        t2 = time.perf_counter()
        built += t1 - t0
        written += t2 - t1
        done = min(k + chunk, stop)
        if (done - start) % step == 0 or done == stop:
            print(
                f"      ... {done:>9,} tasks  {t2 - began:6.1f} s  "
                f"(building commits {built:5.1f} s, append_batch {written:5.1f} s, "
                f"{(done - start) / written:,.0f} commits/s written)",
                flush=True,
            )
    store.close()
    return time.perf_counter() - began


def checkpoint(path: Path) -> None:
    """Move the write-ahead log into the database file, so a cold read reads the file."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def drop_file_cache(path: Path) -> None:
    """Ask the kernel to forget the file's cached pages (clean pages only; best effort)."""
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def query_plan(store: SQLStore, now: dt.datetime, limit: int | None) -> list[str]:
    query = _overdue_query(now, kind=None, areas=None)
    if limit is not None:
        query = query.limit(limit)
    engine: sa.Engine = store._engine
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return [str(row[-1]) for row in rows]


def bench_overdue(
    path: Path, now: dt.datetime, *, limit_runs: tuple[int, int], list_runs: tuple[int, int]
) -> dict[str, tuple[float, float, int]]:
    """Time the overdue queries; return {name: (cold median s, warm median s, rows)}.

    ``limit_runs`` and ``list_runs`` are the (cold, warm) runs of the query with a limit
    and of the full lists.
    """
    checkpoint(path)
    calls: dict[str, tuple[Callable[[Any], list[Snapshot]], tuple[int, int]]] = {
        "store.overdue(now, limit=100)": (
            lambda target: target.store.overdue(now, limit=100),
            limit_runs,
        ),
        "store.overdue(now)": (lambda target: target.store.overdue(now), list_runs),
        "Ledger.overdue(now)": (lambda target: target.overdue(now), list_runs),
    }
    out: dict[str, tuple[float, float, int]] = {}
    for name, (call, (cold_runs, warm_runs)) in calls.items():
        colds = []
        rows = 0
        for _ in range(cold_runs):
            ledger = Ledger.open(path, rulebook=RULEBOOK)
            drop_file_cache(path)
            gc.collect()
            start = time.perf_counter()
            rows = len(call(ledger))
            colds.append(time.perf_counter() - start)
            ledger.close()
        ledger = Ledger.open(path, rulebook=RULEBOOK)
        call(ledger)  # warm the connection pool, SQLite's page cache and the OS cache
        warm, _ = median_time(warm_runs, functools.partial(call, ledger))
        ledger.close()
        out[name] = (statistics.median(colds), warm, rows)
    return out


def report_overdue(n: int, path: Path, results: dict[str, tuple[float, float, int]]) -> bool:
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    print(f"    {n:,} tasks, file {size / 1e6:,.0f} MB:")
    ok = True
    for name, (cold, warm, rows) in results.items():
        line = (
            f"      {name:<30} {rows:>7,} rows  cold {cold * 1e3:8.1f} ms  "
            f"warm {warm * 1e3:8.1f} ms  ({warm / max(rows, 1) * 1e6:5.1f} us/row warm)"
        )
        if name.endswith("limit=100)"):
            passed = max(cold, warm) < TARGET_OVERDUE_S
            ok = ok and passed
            line += f"  target < {TARGET_OVERDUE_S * 1e3:.0f} ms {verdict(passed)}"
        print(line)
    return ok


# -- (4) PostgreSQL ---------------------------------------------------------------------------


@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema, dropped afterwards."""
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


def pg_settings(url: str) -> str | None:
    """Return the server's version and durability settings, or None if unreachable."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            fsync = conn.exec_driver_sql("SHOW fsync").scalar()
        return f"PostgreSQL {version}, synchronous_commit={sync}, fsync={fsync}"
    except Exception as exc:
        print(f"    PostgreSQL at {url} unreachable: {exc.__class__.__name__}: {exc}")
        return None
    finally:
        engine.dispose()


def cpu_ticks() -> tuple[int, int]:
    """Return the machine's (busy, total) CPU ticks from /proc/stat, or (0, 0)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def pg_worker(url: str, prefix: str, cases: int, barrier: Any, results: Any) -> None:
    """Fire STEPS on this worker's cases, one transaction per command; report timings."""
    logging.getLogger("transitions").setLevel(logging.WARNING)
    ledger = Ledger.open(url, rulebook=RULEBOOK)
    ids = [case_id(prefix, i) for i in range(cases)]
    ledger.rulebook_of(ledger.get(ids[0]))  # load the round's rulebook before the clock
    barrier.wait()
    ticks = cpu_ticks()
    cpu = time.process_time()
    start = time.perf_counter()
    for step in range(len(STEPS)):
        fire_steps(ledger, ids, step)
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    ledger.close()
    results.put((start, end, cases * len(STEPS), cpu, ticks, cpu_ticks()))


@attrs.frozen
class PgRun:
    workers: int
    seconds: float
    commands: int
    client_cpu: float
    machine_busy: float | None

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


def bench_pg(url: str, workers: int, cases: int) -> PgRun:
    """Run ``workers`` processes firing commands on their own cases in a fresh schema."""
    ctx = mp.get_context("spawn")
    with pg_schema(url) as scoped:
        setup = stationed(Ledger.open(scoped, rulebook=RULEBOOK))
        for w in range(workers):
            ids = [case_id(f"W{w}", i) for i in range(cases)]
            in_batches(setup, ids, 2000, receive_many)
        hand_over(setup)
        setup.close()
        barrier = ctx.Barrier(workers)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=pg_worker, args=(scoped, f"W{w}", cases, barrier, results))
            for w in range(workers)
        ]
        for p in procs:
            p.start()
        got: list[Any] = []
        while len(got) < workers:
            try:
                got.append(results.get(timeout=1))
            except queue.Empty:
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a PostgreSQL worker failed (exit {failed[0]})") from None
        for p in procs:
            p.join()
    first = min(got, key=lambda g: g[0])
    last = max(got, key=lambda g: g[1])
    busy, total = last[5][0] - first[4][0], last[5][1] - first[4][1]
    return PgRun(
        workers,
        last[1] - first[0],
        sum(g[2] for g in got),
        sum(g[3] for g in got),
        busy / total if total > 0 else None,
    )


# -- the run ---------------------------------------------------------------------------------


def machine() -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(
        f"machine: nproc {affinity or os.cpu_count()}, python {platform.python_version()}, "
        f"{platform.platform()}; SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sa.__version__}; load average at the start {load()}"
    )
    print(f"machine speed: {python_speed()}", flush=True)


@attrs.frozen
class Sizes:
    single_cases: int
    batch_cases: int
    overdue_sizes: tuple[int, int]
    limit_runs: tuple[int, int]
    list_runs: tuple[int, int]
    pg_cases: int
    pg_rounds: int
    batch_size: int = 2_000
    import_chunk: int = 1_000
    populate_chunk: int = 10_000


FULL = Sizes(400, 17_000, (100_000, 1_000_000), (5, 15), (3, 5), 600, 2)
QUICK = Sizes(50, 2_000, (20_000, 100_000), (3, 5), (2, 3), 100, 1)


def part_single(directory: Path, sizes: Sizes, passed: dict[str, bool]) -> None:
    print("(1) durable single commands, one transaction each, on a fresh SQLite file")
    full_s, full_n = bench_single(directory, sizes.single_cases, "FULL")
    normal_s, normal_n = bench_single(directory, sizes.single_cases, "NORMAL")
    for label, s, n in (("FULL", full_s, full_n), ("NORMAL", normal_s, normal_n)):
        print(
            f"    synchronous={label:<6} {n:>7,} commands {s:7.2f} s  "
            f"{rate(n, s)} commands  {rate(n, s)} events  ({s / n * 1e3:.2f} ms/command)"
        )
    print(f"    NORMAL / FULL = {(normal_n / normal_s) / (full_n / full_s):.2f}x (no target)")


def part_import(directory: Path, sizes: Sizes, passed: dict[str, bool]) -> None:
    cases, size = sizes.batch_cases, sizes.batch_size
    print(f"(2) batched import of {cases:,} cases x (1 receipt + {len(STEPS)} commands)")
    rec_s, fire_s, rec_n, fire_n = bench_ledger_batches(directory, cases, size)
    ledger_events = rec_n + fire_n
    ledger_rate = ledger_events / (rec_s + fire_s)
    print(
        f"    (a) through the ledger, {size:,} commands per batch:"
        f"\n        receive_complaint {rec_n:>9,} events {rec_s:7.2f} s {rate(rec_n, rec_s)}"
        f"\n        fire              {fire_n:>9,} events {fire_s:7.2f} s {rate(fire_n, fire_s)}"
        f"\n        together          {ledger_events:>9,} events {rec_s + fire_s:7.2f} s "
        f"{ledger_rate:>10,.0f}/s  (no target; the hand-over between them not timed)"
    )
    store, ids = memory_history(cases)
    histories = history_commits(store, ids)
    per_command = command_commits(store, ids)
    del store
    chunk = sizes.import_chunk
    hist_s, hist_n = import_commits(directory / "import-histories.db", histories, chunk)
    cmd_s, cmd_n = import_commits(directory / "import-commands.db", per_command, size)
    hist_rate = hist_n / hist_s
    ok = passed["(2b) import"] = hist_rate >= TARGET_IMPORT_EVENTS_S
    print(
        f"    (b) the store alone, SQLStore.append_batch of commits prepared in memory:"
        f"\n        one commit per entity (its whole history), {chunk:,} commits per batch: "
        f"{len(histories):,} commits, {hist_n:,} events {hist_s:7.2f} s "
        f"{hist_rate:>10,.0f} events/s  target >= {TARGET_IMPORT_EVENTS_S:,.0f} {verdict(ok)}"
        f"\n        one commit per command, {size:,} commits per batch: "
        f"{len(per_command):,} commits, {cmd_n:,} events {cmd_s:7.2f} s "
        f"{cmd_n / cmd_s:>10,.0f} events/s  (no target)"
        f"\n    store alone (histories) / through the ledger = {hist_rate / ledger_rate:.1f}x; "
        f"store alone (per command) / through the ledger = "
        f"{cmd_n / cmd_s / ledger_rate:.1f}x"
    )


def part_overdue(directory: Path, sizes: Sizes, passed: dict[str, bool]) -> None:
    (lc, lw), (fc, fw) = sizes.limit_runs, sizes.list_runs
    print(
        f"(3) overdue queries on open tasks, due over {DUE_SPAN.days} days, "
        f"~{OVERDUE_SHARE:.0%} overdue; medians of {lc} cold and {lw} warm runs "
        f"(limit=100), {fc} cold and {fw} warm (full lists)"
    )
    path = directory / "overdue.db"
    now = DUE_FROM + DUE_SPAN * OVERDUE_SHARE
    rng = random.Random(20230626)
    done = 0
    warm_limit: dict[int, float] = {}
    small, large = sizes.overdue_sizes
    for n in (small, large):
        print(
            f"    populating {done:,} -> {n:,} tasks "
            f"(append_batch, {sizes.populate_chunk:,} per batch)"
        )
        populate(path, done, n, rng, sizes.populate_chunk)
        done = n
        results = bench_overdue(path, now, limit_runs=sizes.limit_runs, list_runs=sizes.list_runs)
        ok = report_overdue(n, path, results)
        warm_limit[n] = results["store.overdue(now, limit=100)"][1]
        if n == large:
            passed["(3) overdue"] = ok
    print(
        f"    limit=100 warm, {large:,} / {small:,} tasks = "
        f"{warm_limit[large] / warm_limit[small]:.2f}x for {large // small}x the tasks"
    )
    store = SQLStore.open(path)
    uses_index = True
    for limit in (100, None):
        plan = query_plan(store, now, limit)
        uses_index = uses_index and any("ix_if_entities_open_due" in p for p in plan)
        print(f"    EXPLAIN QUERY PLAN (limit={limit}): {' | '.join(plan)}")
    store.close()
    passed["(3) index"] = uses_index
    print(f"    the partial index ix_if_entities_open_due serves both: {verdict(uses_index)}")
    for p in directory.glob("overdue.db*"):
        p.unlink()


def part_postgres(url: str, sizes: Sizes, passed: dict[str, bool]) -> None:
    print(f"(4) PostgreSQL: workers firing {sizes.pg_cases * len(STEPS):,} commands each")
    settings = pg_settings(url)
    if settings is None:
        print("    SKIP (PostgreSQL unreachable)")
        return
    print(f"    {settings}")
    # Runs in the order 1, 2, 2, 1 workers (or 1, 2 when quick), so that a drift in the
    # machine's other load weighs on both sides alike.
    order = (1, 2) if sizes.pg_rounds == 1 else (1, 2, 2, 1) * (sizes.pg_rounds // 2)
    runs: list[PgRun] = []
    for workers in order:
        run = bench_pg(url, workers, sizes.pg_cases)
        runs.append(run)
        busy = "" if run.machine_busy is None else f", machine CPU {run.machine_busy:.0%} busy"
        print(
            f"    {workers} worker{'s' if workers > 1 else ' '} {run.commands:>7,} commands "
            f"{run.seconds:7.2f} s {rate(run.commands, run.seconds)} commands  "
            f"(client CPU {run.client_cpu / run.commands * 1e3:.2f} ms/command{busy})",
            flush=True,
        )
    by = {w: [r for r in runs if r.workers == w] for w in (1, 2)}
    rates = {w: sum(r.commands for r in rs) / sum(r.seconds for r in rs) for w, rs in by.items()}
    ratio = rates[2] / rates[1]
    ok = passed["(4) PostgreSQL"] = ratio >= TARGET_PG_RATIO
    print(
        f"    all runs: 1 worker {rates[1]:,.0f}/s, 2 workers {rates[2]:,.0f}/s; "
        f"2 workers / 1 worker = {ratio:.2f}x  (target >= {TARGET_PG_RATIO}x) {verdict(ok)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--parts",
        default="1234",
        help="which parts to run, e.g. 23 (default: 1234, all of them)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("INSPECTION_FLOW_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL URL for part 4 (a fresh schema is created and dropped)",
    )
    args = parser.parse_args()
    logging.getLogger("transitions").setLevel(logging.WARNING)
    sizes = QUICK if args.quick else FULL
    began = time.perf_counter()
    machine()
    print(f"quick={args.quick}; parts {args.parts}", flush=True)
    passed: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        directory = Path(tmp)
        print(f"SQLite files in {directory}")
        if "1" in args.parts:
            part_single(directory, sizes, passed)
        if "2" in args.parts:
            part_import(directory, sizes, passed)
        if "3" in args.parts:
            part_overdue(directory, sizes, passed)
    if "4" in args.parts:
        part_postgres(args.pg_url, sizes, passed)
    print(f"load average at the end: {load()}; {time.perf_counter() - began:.0f} s in all")
    print("summary: " + "; ".join(f"{k} {verdict(v)}" for k, v in passed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
