"""Opening a SQL store: read-only opening, refusing what is not a ledger, bad options."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given

from inspection_flow import SHANGHAI, Actor, Ledger, StoreError
from inspection_flow._cli import main as cli_main
from inspection_flow.stores import SQLStore
from inspection_flow.stores._sql import SCHEMA_VERSION, metadata
from inspection_flow.testing import create_commit, next_commit
from strategies import bad_busy_timeouts

META = "inspection_flow_meta"
needs_postgres = pytest.mark.skipif(
    not os.environ.get("INSPECTION_FLOW_PG_URL"),
    reason="set INSPECTION_FLOW_PG_URL=postgresql+psycopg://user@host/db to run against PostgreSQL",
)


# --- helpers -----------------------------------------------------------------------------


def _files(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file in ``folder`` with the digest of its bytes and its mtime."""
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
    }


def _raw(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            for sql in statements:
                conn.execute(sql)
    finally:
        conn.close()


def _make_ledger(path: Path) -> None:
    """A closed ledger file holding one entity at version 2."""
    with SQLStore.open(path) as store:
        commit = create_commit("case-1")
        store.append(commit)
        store.append(next_commit(commit.snapshot))


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    _make_ledger(path)
    return path


def _refused(target: object, match: str, **options: object) -> StoreError:
    with pytest.raises(StoreError, match=match) as info:
        SQLStore.open(target, **options)  # type: ignore[arg-type]
    return info.value


# --- read-only opening -----------------------------------------------------------------


def test_read_only_store_reads_and_changes_nothing(ledger_path: Path) -> None:
    """A read-only store reads a ledger and leaves the database file's bytes and mtime alone."""
    before = _files(ledger_path.parent)
    with SQLStore.open(ledger_path, read_only=True) as store:
        assert store.read_only
        assert store.get("case-1").version == 2  # type: ignore[union-attr]
        assert [e.version for e in store.events("case-1")] == [1, 2]
        assert store.verify().ok
    _assert_database_unchanged(before, _files(ledger_path.parent), "ledger.db")


def test_every_write_through_a_read_only_store_is_refused(ledger_path: Path) -> None:
    """append, batches, claims and rebuild raise StoreError saying the store is read-only."""
    before = _files(ledger_path.parent)["ledger.db"]
    with SQLStore.open(ledger_path, read_only=True) as store:
        snapshot = store.get("case-1")
        assert snapshot is not None
        writes = [
            lambda: store.append(create_commit("case-2")),
            lambda: store.append_batch([create_commit("case-2")]),
            lambda: store.append(next_commit(snapshot)),
            lambda: store.claim_due_alerts(snapshot.created_at),
            lambda: store.rebuild("case-1"),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="opened read-only"):
                write()
        assert list(store.entity_ids()) == ["case-1"]
    assert _files(ledger_path.parent)["ledger.db"] == before


def test_read_only_sqlite_connections_are_query_only(ledger_path: Path) -> None:
    """The read-only engine's connections refuse writes in SQLite itself, not only in the store."""
    with SQLStore.open(ledger_path, read_only=True) as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1
        with pytest.raises(sa.exc.OperationalError, match=r"readonly|read-only|query_only"):
            conn.exec_driver_sql(f"DELETE FROM {META}")


def test_read_only_ledger_refuses_commands(ledger_path: Path) -> None:
    """Ledger.open(read_only=True) reads entities; a command raises StoreError, writes nothing."""
    path = ledger_path.parent / "rounds.db"
    office = Actor("leading_office", "430000", "督察办")
    at = dt.datetime(2023, 6, 19, 9, tzinfo=SHANGHAI)
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        ledger.create_round("R", name="益阳市", area="430900", actor=office, at=at)
    before = _files(path.parent)[path.name]
    with Ledger.open(path, read_only=True, rulebook="hunan-provincial-2023") as ledger:
        assert ledger.get("R").version == 1
        with pytest.raises(StoreError, match="opened read-only"):
            ledger.fire("R", "announce", actor=office, at=at)
        assert ledger.get("R").version == 1
    assert _files(path.parent)[path.name] == before


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "url"])
def test_read_only_missing_file_is_not_created(tmp_path: Path, as_url: bool) -> None:
    """A read-only open of a missing file (path or sqlite:/// URL) is refused, creating nothing."""
    path = tmp_path / "missing.db"
    target = f"sqlite:///{path}" if as_url else str(path)
    _refused(target, "no such ledger file", read_only=True)
    with pytest.raises(StoreError, match="no such ledger file"):
        Ledger.open(target, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_read_only_empty_file_stays_empty(tmp_path: Path) -> None:
    """A read-only open of an empty file is refused as holding no ledger; no schema is written."""
    path = tmp_path / "empty.db"
    path.touch()
    before = _files(tmp_path)
    _refused(path, "not a ledger: it holds no tables", read_only=True)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("target", ["sqlite://", "sqlite:///:memory:"])
def test_read_only_in_memory_database_is_refused(target: str) -> None:
    """An in-memory database has no ledger to read: a read-only open of one is refused."""
    _refused(target, "names no SQLite file", read_only=True)


def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the ledger file is refused with a clear message."""
    _refused(tmp_path, "is a directory", read_only=True)


def test_read_only_engine_refuses_a_missing_file(tmp_path: Path) -> None:
    """make_engine(read_only=True) refuses a missing file instead of creating it."""
    with pytest.raises(StoreError, match="no such ledger file"):
        SQLStore.make_engine(tmp_path / "missing.db", read_only=True)
    assert list(tmp_path.iterdir()) == []


# --- a ledger in a read-only directory ---------------------------------------------------


# Root writes into any directory whatever its mode, so a test running as root reads the
# archive through a read-only bind mount, private to the reading process (unshare);
# either way the reader first checks that it cannot create a file there.
def _reader_command(folder: Path, *args: str) -> list[str]:
    if os.geteuid() != 0:
        return [*args]
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("running as root: needs unshare and mount to make a read-only directory")
    script = 'mount --bind -o ro "$0" "$0" && cd "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(folder), *args]


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Path]:
    """A directory the test makes read-only once it has put a ledger in it."""
    folder = tmp_path / "archive"
    folder.mkdir()
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def _seal(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


def _run_as_reader(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in ``folder``, where it cannot create or change a file."""
    probe = subprocess.run(
        _reader_command(folder, sys.executable, "-c", "open('probe', 'w')"),
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0 or "Read-only file system" not in probe.stderr:
        assert "Permission denied" in probe.stderr, probe
    return subprocess.run(
        _reader_command(folder, sys.executable, *args),
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


_READ_ARCHIVE = textwrap.dedent(
    """
    import sys
    from inspection_flow import StoreError
    from inspection_flow.stores import SQLStore
    try:
        with SQLStore.open(sys.argv[1], read_only=True) as store:
            print(list(store.entity_ids()), store.get("case-1").version, store.verify().ok)
    except StoreError as exc:
        print("StoreError:", exc)
    """
)


@pytest.mark.slow
def test_read_only_open_works_in_a_read_only_directory(archive: Path) -> None:
    """A WAL ledger in a read-only directory is read without creating or changing any file."""
    _make_ledger(archive / "ledger.db")
    _seal(archive)
    before = _files(archive)
    assert set(before) == {"ledger.db"}
    for target in ("ledger.db", f"sqlite:///{archive / 'ledger.db'}"):
        done = _run_as_reader(archive, "-c", _READ_ARCHIVE, target)
        assert done.stdout.strip() == "['case-1'] 2 True", done
    assert _files(archive) == before


@pytest.mark.slow
def test_unreadable_write_ahead_log_is_refused(archive: Path, tmp_path: Path) -> None:
    """Committed data in a -wal file unreadable in a read-only directory is refused, not skipped."""
    source = tmp_path / "ledger.db"
    _make_ledger(source)
    writer = sqlite3.connect(source)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with writer:
            writer.execute(f"INSERT INTO {META} VALUES ('note', 'kept in the log')")
        shutil.copy(source, archive / "ledger.db")
        shutil.copy(f"{source}-wal", archive / "ledger.db-wal")
    finally:
        writer.close()
    _seal(archive)
    before = _files(archive)
    done = _run_as_reader(archive, "-c", _READ_ARCHIVE, "ledger.db")
    assert done.stdout.startswith("StoreError: ledger.db has committed data in ledger.db-wal")
    assert _files(archive) == before


# --- the command line ------------------------------------------------------------------


@pytest.mark.parametrize("command", [["verify"], ["status", "--as-of", "2024-03-31"]])
@pytest.mark.parametrize("case", ["empty", "missing", "missing-url"])
def test_reading_commands_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], case: str
) -> None:
    """status and verify on an empty or missing file say so in one line, exit 2, write nothing."""
    path = tmp_path / "ledger.db"
    if case == "empty":
        path.touch()
    target = f"sqlite:///{path}" if case == "missing-url" else str(path)
    before = _files(tmp_path)
    assert cli_main([command[0], target, *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("inspection-flow: "), err
    assert ("not a ledger" if case == "empty" else "no such ledger file") in err
    assert _files(tmp_path) == before


@pytest.mark.slow
def test_reading_commands_work_on_a_read_only_archive(archive: Path) -> None:
    """status, verify (also --deep) and anchor read an archive in a read-only directory."""
    _make_ledger(archive / "ledger.db")
    _seal(archive)
    before = _files(archive)
    for command in (
        ["verify", "ledger.db"],
        ["verify", "--deep", "ledger.db"],
        ["anchor", "ledger.db"],
        ["status", "ledger.db", "--as-of", "2024-03-31"],
    ):
        done = _run_as_reader(archive, "-m", "inspection_flow", *command)
        assert (done.returncode, done.stderr) == (0, ""), done
        if command[0] == "verify":
            assert done.stdout.startswith("intact: 1 entities, 2 events"), done
    assert _files(archive) == before


def test_reading_commands_refuse_a_foreign_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify on a SQLite file of another application names its tables and writes nothing."""
    path = tmp_path / "other.db"
    _raw(path, "CREATE TABLE documents (id INTEGER PRIMARY KEY)")
    before = _files(tmp_path)
    assert cli_main(["verify", str(path)]) == 2
    assert "only other tables (documents)" in capsys.readouterr().err
    assert _files(tmp_path) == before


# --- refusing what is not a ledger -------------------------------------------------------


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "url"])
def test_foreign_sqlite_file_is_refused_unchanged(tmp_path: Path, as_url: bool) -> None:
    """A SQLite file with other tables and none of the ledger's is refused, left byte for byte."""
    path = tmp_path / "other.db"
    _raw(
        path, "CREATE TABLE documents (id INTEGER PRIMARY KEY)", "INSERT INTO documents VALUES (1)"
    )
    before = _files(tmp_path)
    target = f"sqlite:///{path}" if as_url else path
    error = _refused(target, "not a ledger: it holds other tables \\(documents\\)")
    assert "make_engine" in str(error)
    assert _files(tmp_path) == before


def test_engine_may_hold_the_ledger_beside_its_own_tables(tmp_path: Path) -> None:
    """Through an Engine, the ledger's tables are created beside the application's own."""
    path = tmp_path / "app.db"
    _raw(path, "CREATE TABLE documents (id INTEGER PRIMARY KEY)")
    engine = SQLStore.make_engine(path)
    try:
        with SQLStore(engine) as store:
            store.append(create_commit("case-1"))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    with SQLStore.open(path) as store:
        assert list(store.entity_ids()) == ["case-1"]


def test_new_file_becomes_a_wal_ledger(tmp_path: Path) -> None:
    """A new file gets the ledger's tables, its schema version and write-ahead logging."""
    path = tmp_path / "new.db"
    SQLStore.open(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert set(metadata.tables) <= tables
        meta = conn.execute(f"SELECT key, value FROM {META} ORDER BY key").fetchall()
        # The latest time of its first 0 events: none.
        assert meta == [
            ("latest_at", '{"events": 0, "at": null}'),
            ("schema_version", str(SCHEMA_VERSION)),
        ]
    finally:
        conn.close()


def _assert_database_unchanged(
    before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]], name: str
) -> None:
    """The database file is unchanged; SQLite may have left an empty log and its index."""
    assert after[name] == before[name]
    assert set(after) - set(before) <= {f"{name}-wal", f"{name}-shm"}
    if f"{name}-wal" in after:
        assert after[f"{name}-wal"][0] == hashlib.sha256(b"").hexdigest()


def _refused_unchanged(path: Path, match: str) -> None:
    """Both a writing and a read-only open of ``path`` are refused; the file is unchanged."""
    before = _files(path.parent)
    _refused(path, match)
    _assert_database_unchanged(before, _files(path.parent), path.name)
    _refused(path, match, read_only=True)
    _assert_database_unchanged(before, _files(path.parent), path.name)


def test_ledger_tables_without_metadata_are_refused(ledger_path: Path) -> None:
    """Ledger tables without inspection_flow_meta are refused, naming the tables found."""
    _raw(ledger_path, f"DROP TABLE {META}")
    _refused_unchanged(
        ledger_path, f"holds the ledger tables if_calendar_years, if_commands, .* but no {META}"
    )


def test_metadata_without_schema_version_is_refused(ledger_path: Path) -> None:
    """An inspection_flow_meta without schema_version is refused as incomplete metadata."""
    _raw(ledger_path, f"DELETE FROM {META}")
    _refused_unchanged(ledger_path, "has no schema_version, so the metadata is incomplete")


@pytest.mark.parametrize("table", [t.name for t in metadata.sorted_tables if t.name != META])
def test_missing_ledger_table_is_refused(ledger_path: Path, table: str) -> None:
    """A ledger lacking any one of the tables of its schema version is refused, naming it."""
    _raw(ledger_path, f"DROP TABLE {table}")
    _refused_unchanged(ledger_path, f"table {table} is missing")


def test_renamed_column_is_refused(ledger_path: Path) -> None:
    """A ledger table whose columns differ from the code's is refused, naming both sides."""
    _raw(ledger_path, "ALTER TABLE if_events RENAME COLUMN payload TO body")
    _refused_unchanged(ledger_path, "table if_events lacks payload and has unexpected body")


def test_unexpected_ledger_table_is_refused(ledger_path: Path) -> None:
    """A table named like the ledger's that this schema version does not have is refused."""
    _raw(ledger_path, "CREATE TABLE if_unknown (id INTEGER)")
    _refused_unchanged(ledger_path, "unexpected table if_unknown")


def test_application_tables_beside_a_ledger_are_fine(ledger_path: Path) -> None:
    """Tables of the application's own beside a complete ledger do not stop it opening."""
    _raw(ledger_path, "CREATE TABLE documents (id INTEGER PRIMARY KEY)")
    with SQLStore.open(ledger_path) as store:
        assert list(store.entity_ids()) == ["case-1"]
    with SQLStore.open(ledger_path, read_only=True) as store:
        assert list(store.entity_ids()) == ["case-1"]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (str(SCHEMA_VERSION + 1), "newer than"),
        (str(SCHEMA_VERSION - 1), "older than"),
        ("two", "not a number"),
    ],
)
def test_other_schema_versions_are_refused_unchanged(
    ledger_path: Path, value: str, match: str
) -> None:
    """A newer, older or unreadable schema version is refused before anything is written."""
    _raw(ledger_path, f"UPDATE {META} SET value = '{value}' WHERE key = 'schema_version'")
    _refused_unchanged(ledger_path, match)


def _indexes(target: str, table: str) -> set[str]:
    engine = sa.create_engine(target)
    try:
        return {str(index["name"]) for index in sa.inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "where", ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres])]
)
def test_a_ledger_made_before_an_index_was_added_gets_it_when_opened_for_writing(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A ledger lacking the index on its command records (made before it was added) is
    read as it is by a read-only store, and gets the index, its rows unchanged, from the
    first store that may write; nothing else about it changes."""
    if where == "sqlite":
        path = tmp_path / "ledger.db"
        _make_ledger(path)
        target = f"sqlite:///{path}"
    else:
        target = str(request.getfixturevalue("pg_schema_url"))
        with SQLStore.open(target) as store:
            commit = create_commit("case-1")
            store.append(commit)
            store.append(next_commit(commit.snapshot))
    engine = sa.create_engine(target)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_if_commands_entity")
    engine.dispose()
    assert "ix_if_commands_entity" not in _indexes(target, "if_commands")
    with SQLStore.open(target, read_only=True) as store:
        assert store.verify().ok
    assert "ix_if_commands_entity" not in _indexes(target, "if_commands")
    with SQLStore.open(target) as store:
        assert store.verify(deep=True).ok
        assert store.get("case-1").version == 2  # type: ignore[union-attr]
    assert "ix_if_commands_entity" in _indexes(target, "if_commands")
    # Opened again, the index is found and left as it is.
    with SQLStore.open(target) as store:
        assert store.verify().ok


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres])]
)
def new_ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new ledger is made: a SQLite file's URL, or an empty PostgreSQL schema's."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


def _kept_latest(target: str) -> str | None:
    """The ledger's ``latest_at`` row as stored, or None."""
    engine = sa.create_engine(target)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(f"SELECT value FROM {META} WHERE key = 'latest_at'")
            ).scalar_one_or_none()
    finally:
        engine.dispose()


def _set_kept_latest(target: str, value: str | None) -> None:
    """Remove the ledger's ``latest_at`` row, or store ``value`` in it."""
    engine = sa.create_engine(target)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {META} WHERE key = 'latest_at'"))
        if value is not None:
            conn.execute(
                sa.text(f"INSERT INTO {META} (key, value) VALUES ('latest_at', :v)"), {"v": value}
            )
    engine.dispose()


def test_a_ledger_without_its_kept_latest_time_gets_it_when_opened_for_writing(
    new_ledger_url: str,
) -> None:
    """A ledger that keeps no latest time (made before it was kept) or one that cannot be
    read is read as it is by a read-only store, whose latest_at reads every event; the
    first store that may write keeps it, covering every event the ledger holds."""
    target = new_ledger_url
    day = dt.timedelta(days=1)
    with SQLStore.open(target) as store:
        commit = create_commit("case-1")
        store.append(commit)
        store.append(next_commit(commit.snapshot, at=commit.snapshot.updated_at + 3 * day))
        store.append(create_commit("case-2", at=commit.snapshot.updated_at + day))
        latest = store.latest_at()
    assert latest == commit.snapshot.updated_at + 3 * day
    kept = f'{{"events": 3, "at": "{latest.astimezone(dt.timezone.utc).isoformat()}"}}'
    # None kept, then kept values it cannot read (a time without its offset, JSON nested
    # deeper than the reader goes).
    unreadable = ("nonsense", '{"events": 2}', '{"events": 1, "at": "2023-09-20"}', "[" * 100_000)
    for stored in (None, *unreadable):
        _set_kept_latest(target, stored)
        with SQLStore.open(target, read_only=True) as store:
            assert store.latest_at() == latest
        assert _kept_latest(target) == stored
        with SQLStore.open(target) as store:
            assert store.latest_at() == latest
            assert store.verify().ok
        assert _kept_latest(target) == kept


def test_verify_finds_a_wrong_kept_latest_time_and_repair_writes_it_again(
    new_ledger_url: str,
) -> None:
    """A kept latest time that is not the latest of the events it covers, or that covers
    more events than the ledger holds, is a problem verify reports and repair mends;
    one that covers fewer events is true and left as it is."""
    target = new_ledger_url
    first = create_commit("case-1")
    start = first.snapshot.updated_at
    with SQLStore.open(target) as store:
        store.append(first)
        store.append(next_commit(first.snapshot, at=start + dt.timedelta(days=3)))
        store.append(create_commit("case-2", at=start + dt.timedelta(days=1)))
    utc = dt.timezone.utc
    latest = (start + dt.timedelta(days=3)).astimezone(utc).isoformat()
    right = f'{{"events": 3, "at": "{latest}"}}'
    fewer = f'{{"events": 1, "at": "{start.astimezone(utc).isoformat()}"}}'
    _set_kept_latest(target, fewer)
    with SQLStore.open(target) as store:
        assert store.verify().ok
        assert store.latest_at() == start + dt.timedelta(days=3)
    assert _kept_latest(target) == fewer
    # Wrong: read as true until verify finds it; repair writes it again.
    _set_kept_latest(target, f'{{"events": 3, "at": "{start.astimezone(utc).isoformat()}"}}')
    with SQLStore.open(target) as store:
        assert store.latest_at() == start
        [problem] = store.verify().problems
        assert (problem.field, problem.entity_id, problem.repairable) == ("latest_at", None, True)
        assert "says its first 3 events end at 2023-09-20T09:30:00+08:00" in problem.message
        assert "but the latest of them happened at 2023-09-23T09:30:00+08:00" in problem.message
        assert "run repair()" in problem.message
        assert store.repair().ok
        assert store.verify().ok
        assert store.latest_at() == start + dt.timedelta(days=3)
    assert _kept_latest(target) == right
    # Covering more events than the ledger holds: not used, and reported; the next store
    # that may write keeps it again.
    _set_kept_latest(target, '{"events": 4, "at": null}')
    with SQLStore.open(target, read_only=True) as store:
        assert store.latest_at() == start + dt.timedelta(days=3)
        [problem] = store.verify().problems
        assert problem.field == "latest_at"
        assert "cannot be used" in problem.message
    SQLStore.open(target).close()
    assert _kept_latest(target) == right


def test_two_writers_past_ten_thousand_events_keep_the_latest_time_true(
    new_ledger_url: str,
) -> None:
    """Two stores writing at once, each in its own thread, take the ledger past 10,000
    events: the kept latest time covers the events before the write that passed it, and
    latest_at is the latest of all, whichever writer wrote it."""
    target = new_ledger_url
    start = create_commit("first").snapshot.updated_at
    SQLStore.open(target).close()
    errors: list[BaseException] = []

    def write(name: str, step: int) -> None:
        try:
            with SQLStore.open(target) as store:
                for block in range(6):
                    store.append_batch(
                        [
                            create_commit(
                                f"{name}-{block}-{i}",
                                at=start + dt.timedelta(minutes=(i * step + block) % 5_000),
                            )
                            for i in range(1_000)
                        ]
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=("a", 7)),
        threading.Thread(target=write, args=("b", 13)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with SQLStore.open(target, read_only=True) as store:
        assert store.latest_at() == start + dt.timedelta(minutes=4_999)
        assert store.verify().ok
    kept = _kept_latest(target)
    assert kept is not None
    # The write that passed 10,000 events began at 9,000 (blocks of 1,000).
    assert kept.startswith('{"events": 9000, ')


def test_the_kept_latest_time_covers_the_events_before_each_ten_thousandth(
    tmp_path: Path,
) -> None:
    """A write that takes the ledger past a multiple of 10,000 events brings the kept
    latest time up to the events before it; later writes are read after it."""
    target = f"sqlite:///{tmp_path / 'ledger.db'}"
    start = create_commit("first").snapshot.updated_at
    with SQLStore.open(target) as store:
        latest = start
        for block in range(7):
            ats = [start + dt.timedelta(minutes=(block * 1_500 + i) % 9_001) for i in range(1_500)]
            if block == 6:
                assert _kept_latest(target) == '{"events": 0, "at": null}'
            else:
                latest = max(latest, *ats)
            store.append_batch([create_commit(f"c-{block}-{i}", at=at) for i, at in enumerate(ats)])
        utc = latest.astimezone(dt.timezone.utc).isoformat()
        # The seventh write took the ledger from 9,000 events to 10,500.
        assert _kept_latest(target) == f'{{"events": 9000, "at": "{utc}"}}'
        store.append(create_commit("later", at=latest + dt.timedelta(days=1)))
        assert store.latest_at() == latest + dt.timedelta(days=1)
        assert _kept_latest(target) == f'{{"events": 9000, "at": "{utc}"}}'


def test_not_a_database_file_is_refused(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused with a StoreError naming it."""
    path = tmp_path / "notes.db"
    path.write_text("会议纪要\n" * 100, encoding="utf-8")
    before = _files(tmp_path)
    _refused(path, f"cannot open {path}: file is not a database")
    _refused(path, "file is not a database", read_only=True)
    assert _files(tmp_path) == before


# --- bad options and targets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"busy_timeuot": 5}, "unknown store option 'busy_timeuot'; the options are"),
        ({"a": 1, "b": 2}, "unknown store options 'a', 'b'"),
        ({"busy_timeout": "x"}, "busy_timeout must be a number"),
        ({"busy_timeout": None}, "busy_timeout must be a number"),
        ({"busy_timeout": True}, "busy_timeout must be a number"),
        ({"busy_timeout": -1}, "busy_timeout must be a number"),
        ({"busy_timeout": math.nan}, "busy_timeout must be a number"),
        ({"busy_timeout": math.inf}, "busy_timeout must be a number"),
        ({"busy_timeout": 10**5000}, "not a int too large to show"),
        ({"synchronous": "OFF"}, "synchronous must be 'NORMAL' or 'FULL', not 'OFF'"),
        ({"synchronous": "normal"}, "synchronous must be"),
        ({"synchronous": ["FULL"]}, "synchronous must be"),
        ({"read_only": "yes"}, "read_only must be True or False"),
        ({"read_only": 1}, "read_only must be True or False"),
    ],
)
def test_bad_store_options_are_store_errors(
    tmp_path: Path, options: dict[str, object], match: str
) -> None:
    """Unknown or ill-typed store options raise StoreError from SQLStore and Ledger; no file."""
    path = tmp_path / "ledger.db"
    _refused(path, match, **options)
    with pytest.raises(StoreError, match=match):
        Ledger.open(path, store_options=options)
    if "unknown" not in match:
        with pytest.raises(StoreError, match=match):
            SQLStore(path, **options)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@given(bad_busy_timeouts())
def test_busy_timeouts_out_of_range_are_refused(value: object) -> None:
    """Any busy_timeout that is not a number of seconds from 0 to a day is refused."""
    with pytest.raises(StoreError, match="busy_timeout must be a number"):
        SQLStore.make_engine("sqlite://", busy_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("store_options", [[("busy_timeout", 1)], "busy_timeout=1", {1: 2}])
def test_store_options_must_be_a_mapping_of_names(tmp_path: Path, store_options: object) -> None:
    """store_options that is not a mapping of names raises StoreError."""
    with pytest.raises(StoreError, match="store_options must be a mapping"):
        Ledger.open(tmp_path / "ledger.db", store_options=store_options)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (None, "cannot open a ledger from None \\(NoneType\\)"),
        (123, "cannot open a ledger from 123 \\(int\\)"),
        (b"ledger.db", "\\(bytes\\)"),
        ("", "not a usable path"),
        ("  ", "not a usable path"),
        ("led\x00ger.db", "not a usable path"),
        ("nosuch://host/db", "cannot open nosuch://host/db"),
        ("sqlite+nothing://x/y", "cannot open sqlite\\+nothing"),
        ("postgresql+psycopg://h:port/db", "is not a database URL"),
        ("://", "is not a database URL"),
        ("mysql+nosuchdriver://u@h/db", "cannot open"),
    ],
)
def test_bad_targets_are_store_errors(target: object, match: str) -> None:
    """A target of the wrong type, a malformed URL or an unknown dialect raises StoreError."""
    _refused(target, match)
    _refused(target, match, read_only=True)
    with pytest.raises(StoreError, match=match):
        Ledger.open(target)


def test_missing_driver_module_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known dialect whose driver is not installed raises StoreError naming the module."""
    monkeypatch.setitem(sys.modules, "pymysql", None)
    _refused("mysql+pymysql://u@h/db", "pymysql")


def test_unreachable_directory_is_a_store_error(tmp_path: Path) -> None:
    """A file in a directory that does not exist raises StoreError naming the file."""
    path = tmp_path / "nowhere" / "ledger.db"
    _refused(f"sqlite:///{path}", f"cannot open {path}: unable to open database file")
    assert list(tmp_path.iterdir()) == []


# --- PostgreSQL --------------------------------------------------------------------------


def _pg_tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _pg_execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.mark.postgres
@needs_postgres
def test_postgres_read_only_sessions_refuse_writes(pg_schema_url: str) -> None:
    """On PostgreSQL a read-only store reads; the store and the server both refuse writes."""
    with SQLStore.open(pg_schema_url) as store:
        store.append(create_commit("case-1"))
    with SQLStore.open(pg_schema_url, read_only=True) as store:
        assert store.get("case-1").version == 1  # type: ignore[union-attr]
        assert store.verify().ok
        with pytest.raises(StoreError, match="opened read-only"):
            store.append(create_commit("case-2"))
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                conn.exec_driver_sql(f"DELETE FROM {META}")
    with SQLStore.open(pg_schema_url, read_only=True) as store:
        assert list(store.entity_ids()) == ["case-1"]


@pytest.mark.postgres
@needs_postgres
def test_postgres_role_without_the_right_to_create_indexes_opens_an_older_ledger(
    pg_schema_url: str,
) -> None:
    """A role that may read and write the ledger's rows but not create indexes opens a
    ledger made before an index was added, writes to it and verifies it; the index is
    left for a role that may create it."""
    with SQLStore.open(pg_schema_url) as store:
        store.append(create_commit("case-1"))
    url = sa.make_url(pg_schema_url)
    schema = str(url.query["options"]).split("search_path=")[1].split()[0]
    role = f"{schema}_rows"
    admin = sa.create_engine(pg_schema_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_if_commands_entity")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
        )
    try:
        as_role = url.set(username=role, password=None).render_as_string(hide_password=False)
        with SQLStore.open(as_role) as store:
            store.append(next_commit(store.get("case-1")))  # type: ignore[arg-type]
            assert store.verify().ok
        assert "ix_if_commands_entity" not in _indexes(pg_schema_url, "if_commands")
        with SQLStore.open(pg_schema_url) as store:
            assert store.get("case-1").version == 2  # type: ignore[union-attr]
        assert "ix_if_commands_entity" in _indexes(pg_schema_url, "if_commands")
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


@pytest.mark.postgres
@needs_postgres
def test_postgres_read_only_open_of_an_empty_schema_creates_nothing(pg_schema_url: str) -> None:
    """A read-only open of a schema with no ledger is refused and creates no table."""
    _refused(pg_schema_url, "is not a ledger: it holds no tables", read_only=True)
    assert _pg_tables(pg_schema_url) == set()


@pytest.mark.postgres
@needs_postgres
def test_postgres_application_tables_beside_the_ledger(pg_schema_url: str) -> None:
    """On PostgreSQL the ledger's tables are created beside the application's own, and reopen."""
    _pg_execute(pg_schema_url, "CREATE TABLE documents (id INTEGER PRIMARY KEY)")
    with SQLStore.open(pg_schema_url) as store:
        store.append(create_commit("case-1"))
    assert _pg_tables(pg_schema_url) == {"documents", *metadata.tables}
    with SQLStore.open(pg_schema_url) as store:
        assert list(store.entity_ids()) == ["case-1"]
    with SQLStore.open(pg_schema_url, read_only=True) as store:
        assert list(store.entity_ids()) == ["case-1"]


@pytest.mark.postgres
@needs_postgres
def test_postgres_newer_schema_is_refused(pg_schema_url: str) -> None:
    """On PostgreSQL a newer schema version is refused, for writing and reading alike."""
    SQLStore.open(pg_schema_url).close()
    _pg_execute(
        pg_schema_url,
        f"UPDATE {META} SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'",
    )
    _refused(pg_schema_url, "newer than")
    _refused(pg_schema_url, "newer than", read_only=True)


@pytest.mark.postgres
@needs_postgres
def test_postgres_ledger_tables_without_metadata_are_refused(pg_schema_url: str) -> None:
    """On PostgreSQL, ledger tables without their metadata are refused and not recreated."""
    SQLStore.open(pg_schema_url).close()
    _pg_execute(pg_schema_url, f"DROP TABLE {META}")
    _refused(pg_schema_url, f"but no {META}")
    assert META not in _pg_tables(pg_schema_url)


def test_a_write_past_ten_thousand_events_keeps_the_latest_time_kept_before_it(
    tmp_path: Path,
) -> None:
    """The write that takes the ledger past 10,000 events brings the kept latest time on
    from what was kept before (here by the writing open of a ledger of 5,000 events made
    before it was kept): the latest of those 5,000 stays the latest."""
    target = f"sqlite:///{tmp_path / 'ledger.db'}"
    start = create_commit("first").snapshot.updated_at
    latest = start + dt.timedelta(days=1, minutes=10)
    with SQLStore.open(target) as store:
        store.append_batch(
            [
                create_commit(
                    f"a-{i}", at=latest if i == 10 else start + dt.timedelta(minutes=i % 600)
                )
                for i in range(5_000)
            ]
        )
    _set_kept_latest(target, None)
    utc = latest.astimezone(dt.timezone.utc).isoformat()
    with SQLStore.open(target) as store:
        assert _kept_latest(target) == f'{{"events": 5000, "at": "{utc}"}}'
        for block in range(5):
            store.append_batch(
                [
                    create_commit(f"b-{block}-{i}", at=start + dt.timedelta(minutes=i % 600))
                    for i in range(1_000)
                ]
            )
        # The fifth write took the ledger from 9,000 events to 10,000.
        assert _kept_latest(target) == f'{{"events": 9000, "at": "{utc}"}}'
        assert store.latest_at() == latest
