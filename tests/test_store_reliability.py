"""The SQL store loses and duplicates nothing under concurrent writers and hard kills."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from inspection_flow import ConcurrencyError, StoreError
from inspection_flow._records import replay
from inspection_flow.stores import SQLStore
from inspection_flow.testing import create_commit, next_commit
from processes import run_all

PG_URL = os.environ.get("INSPECTION_FLOW_PG_URL")

#: Writers, commits between them, and the shared entities they fight over.
WORKERS = 4
COMMITS = 10_000
ENTITIES = 8


def _write_commits(target: str, worker: int, commits: int, seed: int, out: str) -> None:
    """Append ``commits`` commands to random shared entities, retrying lost races by
    reloading; record each accepted command's entity and first version in ``out``."""
    rng = random.Random(seed)
    accepted: list[tuple[str, str, int]] = []
    retries = 0
    # NORMAL: this test is about concurrency, not power cuts; it spares 10,000 fsyncs.
    with SQLStore.open(target, synchronous="NORMAL") as store:
        for i in range(commits):
            entity_id = f"case-{rng.randrange(ENTITIES)}"
            command_id = f"w{worker}-{i}"
            while True:
                snapshot = store.get(entity_id)
                if snapshot is None:
                    commit = create_commit(entity_id, command_id=command_id)
                else:
                    commit = next_commit(
                        snapshot, command_id=command_id, payload={"worker": worker, "i": i}
                    )
                try:
                    events = store.append(commit)
                except ConcurrencyError:
                    retries += 1
                    continue
                break
            accepted.append((command_id, entity_id, events[0].version))
    Path(out).write_text(json.dumps({"accepted": accepted, "retries": retries}))


def _run_writers(target: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"worker-{n}.json" for n in range(WORKERS)]
    processes = [
        ctx.Process(
            target=_write_commits,
            args=(target, n, COMMITS // WORKERS, 1000 + n, str(outs[n])),
        )
        for n in range(WORKERS)
    ]
    run_all(processes)

    accepted: dict[str, tuple[str, int]] = {}
    for out in outs:
        for command_id, entity_id, version in json.loads(out.read_text())["accepted"]:
            accepted[command_id] = (entity_id, version)
    assert len(accepted) == COMMITS

    with SQLStore.open(target) as store:
        seen: Counter[str] = Counter()
        total = 0
        for entity_id in store.entity_ids():
            history = store.events(entity_id)
            total += len(history)
            assert [e.version for e in history] == list(range(1, len(history) + 1))
            for event in history:
                assert event.command_id is not None
                seen[event.command_id] += 1
                assert accepted[event.command_id] == (entity_id, event.version)
            assert store.get(entity_id) == replay(history)
        assert total == COMMITS
        assert set(seen) == set(accepted)
        assert max(seen.values()) == 1
        report = store.verify()
        assert report.ok, str(report)
        assert report.events == COMMITS


@pytest.mark.slow
def test_concurrent_writers_on_sqlite(tmp_path: Path) -> None:
    """Four processes appending 10,000 commits to shared entities on one SQLite file
    lose nothing, duplicate nothing, and leave intact chains equal to their replay."""
    path = tmp_path / "ledger.db"
    SQLStore.open(path).close()
    _run_writers(str(path), tmp_path)


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_writers_on_postgres(pg_schema_url: str, tmp_path: Path) -> None:
    """Four processes appending 10,000 commits to shared entities on PostgreSQL lose
    nothing, duplicate nothing, and leave intact chains equal to their replay."""
    SQLStore.open(pg_schema_url).close()
    _run_writers(pg_schema_url, tmp_path)


# --- hard kills ------------------------------------------------------------------------------


def _write_until_killed(path: str, log: str, run: int) -> None:
    """Append commands forever; after each append returns, log its id and event hash."""
    rng = random.Random(run)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    store = SQLStore.open(path)
    i = 0
    while True:
        entity_id = f"case-{rng.randrange(4)}"
        snapshot = store.get(entity_id)
        command_id = f"r{run}-{i}"
        if snapshot is None:
            commit = create_commit(entity_id, command_id=command_id)
        else:
            commit = next_commit(snapshot, command_id=command_id, events=rng.randint(1, 3))
        events = store.append(commit)
        # One write() of a short line: whole or absent, even if killed right after.
        os.write(fd, f"{command_id} {events[-1].hash}\n".encode())
        i += 1


#: How long a killed writer's successor may take to start and commit its first command.
STARTUP = 60


@pytest.mark.slow
def test_writer_killed_at_random_points(tmp_path: Path) -> None:
    """A writer killed with SIGKILL 50 times leaves a file that opens, holds every
    command it reported as committed, and verifies intact."""
    path = tmp_path / "ledger.db"
    log = tmp_path / "committed.log"
    # A fork server with the SQL store and this module (the writer's, which imports pytest)
    # preloaded starts each writer in milliseconds rather than the second a fresh
    # interpreter takes to import them.  The store module itself: ``inspection_flow.stores``
    # loads SQLStore (and SQLAlchemy) only on first use, so preloading the package left
    # every writer importing SQLAlchemy after its fork (a second each at load 7).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["inspection_flow.stores._sql", "inspection_flow.testing", __name__])
    rng = random.Random(7)
    reported: dict[str, str] = {}

    def check(store: SQLStore, command_ids: list[str], run: int) -> None:
        for command_id in command_ids:
            events = store.command(command_id)
            assert events is not None, f"run {run}: committed {command_id} is missing"
            assert events[-1].hash == reported[command_id]

    for run in range(50):
        writer = ctx.Process(target=_write_until_killed, args=(str(path), str(log), run))
        size = log.stat().st_size if log.exists() else 0
        writer.start()
        # Kill at a random point after the writer's first commit, however slow the
        # machine is to start it.  The wait is for start-up, not for the store: a commit
        # takes milliseconds, but the first run also starts the fork server, which imports
        # the package afresh: seconds on a loaded machine (over 10 once, at load 15).
        started = time.monotonic()
        while (log.stat().st_size if log.exists() else 0) == size:
            waited = time.monotonic() - started
            assert waited < STARTUP, f"run {run}: the writer committed nothing in {waited:.0f}s"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        assert writer.exitcode == -signal.SIGKILL
        writer.close()
        new: list[str] = []
        if log.exists():
            for line in log.read_text().splitlines():
                command_id, _, digest = line.partition(" ")
                if len(digest) == 64 and command_id not in reported:
                    reported[command_id] = digest
                    new.append(command_id)
        with SQLStore.open(path) as store:
            check(store, new, run)
            report = store.verify()
            assert report.ok, f"run {run}: {report}"
    with SQLStore.open(path) as store:
        check(store, list(reported), 50)
    assert len(reported) >= 50


@pytest.mark.postgres
def test_a_connection_the_server_ended_is_replaced(pg_schema_url: str) -> None:
    """The server ends the store's connections (a restart, an idle timeout): a write that
    meets a dead connection is refused whole, and the next one runs on a new connection
    with a statement cursor of its own; nothing is lost and the ledger verifies."""
    name = f"if_ended_{os.getpid()}"
    url = sa.make_url(pg_schema_url).update_query_dict({"application_name": name})
    admin = sa.create_engine(pg_schema_url)
    store = SQLStore.open(url.render_as_string(hide_password=False))
    try:
        snapshots = {}
        for entity_id in ("case-1", "case-2"):
            store.append(create_commit(entity_id))
            snapshots[entity_id] = store.get(entity_id)
        for _ in range(2):
            with admin.begin() as conn:
                ended = conn.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    f"WHERE application_name = '{name}'"
                ).scalar_one()
            assert ended >= 1
            written = 0
            for entity_id in ("case-1", "case-2"):
                # The first use of each pooled connection meets it dead; a retry goes on.
                for _attempt in range(3):
                    snapshot = snapshots[entity_id]
                    assert snapshot is not None
                    try:
                        store.append(next_commit(snapshot))
                    except StoreError:
                        continue
                    written += 1
                    break
                snapshots[entity_id] = store.get(entity_id)
            assert written == 2
        for entity_id, snapshot in snapshots.items():
            assert snapshot is not None
            assert snapshot.version == 3
            assert store.get(entity_id) == replay(store.events(entity_id))
        assert store.verify().ok
    finally:
        store.close()
        admin.dispose()
