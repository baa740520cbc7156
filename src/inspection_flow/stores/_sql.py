"""A durable store on SQLAlchemy Core: SQLite by default, PostgreSQL through psycopg 3.

Tables (all prefixed ``if_`` so they can live beside an application's own)::

    inspection_flow_meta   key/value; ``schema_version`` of the tables below, and
                           ``latest_at``: the latest time of the ledger's first events
    if_events              append-only events, primary key (entity_id, version)
    if_entities            the projection: one row per entity, its snapshot and the
                           columns the queries filter and sort on
    if_entity_areas        every area of every entity, so area filters use an index
    if_commands            command ids already applied, for idempotency
    if_ledger_head         one row: how many events, entities and applied commands the
                           ledger holds, written in the same transaction as they are; each
                           event's ``seq`` is its position in the ledger's order
    if_calendar_years      working-day schedules supplied to the ledger (a year the data
                           package does not have yet), one row per year, read by every
                           process that opens the ledger

Upgrading the schema: :data:`metadata` describes the current tables, so a project that
manages its database with Alembic points ``target_metadata`` at
``inspection_flow.stores.SQLStore.metadata`` and lets ``alembic revision --autogenerate``
write the migration; the migration also updates ``schema_version`` in
``inspection_flow_meta``.  A release that changes the tables raises
:data:`SCHEMA_VERSION` and ships that migration.  A store refuses a database whose
schema version is newer than the code's, so an old program never writes into tables it
does not understand.  An index added to the tables of a version leaves the version as it
is: a store that may write creates it when it opens a ledger made before it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import operator
import os
import random
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, cast

import attrs
import orjson
import sqlalchemy as sa
import xxhash
from sqlalchemy.dialects import postgresql as _postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .._calendar import YearSchedule
from .._records import (
    PASSED_ALERT,
    Commit,
    Event,
    Snapshot,
    canonical_bytes,
    iso,
    release_memos,
    replay,
    stored_data,
)
from .._rules import SHANGHAI
from ..exceptions import (
    ConcurrencyError,
    InspectionFlowError,
    MissingDependencyError,
    StoreError,
    TamperError,
)
from ._audit import (
    Anchor,
    AuditedEvent,
    CheckedEvent,
    CommandRow,
    EntityRecords,
    LedgerHead,
    Problem,
    ProjectionRow,
    RepairReport,
    VerifyReport,
    anchor_of,
    audit,
)
from ._base import (
    CountKey,
    DueSpan,
    EventStore,
    at_most,
    check_chain,
    plain_value,
    tally_values,
    value_paths,
)
from ._commands import first_result

__all__ = ["SCHEMA_VERSION", "SQLStore", "metadata"]

#: The version of the tables this code reads and writes.
SCHEMA_VERSION = 2

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
# An execution option marking the store's own connections as "read" or "write"; on
# SQLite a write begins IMMEDIATE and a read begins no transaction (_configure_sqlite).
_MODE_OPTION = "inspection_flow_mode"
# Rows fetched per query when walking a whole table (entity ids, verify).
_PAGE = 2000
#: Entities whose projection a repair rewrites in one transaction.
_REPAIR_BATCH = 1000


class _Instant(sa.types.TypeDecorator[dt.datetime]):
    """An aware instant stored so that it sorts: ``timestamptz`` on PostgreSQL,
    integer microseconds since the Unix epoch (UTC) elsewhere."""

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value.astimezone(_UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.astimezone(_UTC)
        return _EPOCH + dt.timedelta(microseconds=int(value))


#: The tables of a SQL store, for ``create_all`` and Alembic's autogenerate.
metadata = sa.MetaData()

_meta = sa.Table(
    "inspection_flow_meta",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
)

_entities = sa.Table(
    "if_entities",
    metadata,
    sa.Column("entity_id", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("lifecycle", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("area", sa.String, nullable=False),
    sa.Column("round_id", sa.String),
    sa.Column("parent_id", sa.String),
    sa.Column("batch", sa.Integer),
    sa.Column("category", sa.String),
    sa.Column("terminal", sa.Boolean, nullable=False),
    sa.Column("next_due_at", _Instant),
    sa.Column("next_alert_at", _Instant),
    sa.Column("created_at", _Instant, nullable=False),
    sa.Column("updated_at", _Instant, nullable=False),
    # A sweeping worker's lease on the entity's due alerts (claim_due_alerts).
    sa.Column("claimed_by", sa.String),
    sa.Column("claimed_until", _Instant),
    sa.Column("snapshot", sa.Text, nullable=False),
)

_open = _entities.c.terminal == sa.false()
sa.Index(
    "ix_if_entities_open_due",
    _entities.c.next_due_at,
    _entities.c.entity_id,
    sqlite_where=_open,
    postgresql_where=_open,
)
sa.Index("ix_if_entities_alert", _entities.c.next_alert_at, _entities.c.entity_id)
sa.Index("ix_if_entities_kind_state", _entities.c.kind, _entities.c.state)
sa.Index("ix_if_entities_area", _entities.c.area)
sa.Index("ix_if_entities_round_batch", _entities.c.round_id, _entities.c.batch)
sa.Index("ix_if_entities_category", _entities.c.category)
sa.Index("ix_if_entities_parent", _entities.c.parent_id)

_entity_areas = sa.Table(
    "if_entity_areas",
    metadata,
    sa.Column("entity_id", sa.String, sa.ForeignKey("if_entities.entity_id"), primary_key=True),
    sa.Column("area", sa.String, primary_key=True),
    sa.Index("ix_if_entity_areas_area", "area", "entity_id"),
)

_events = sa.Table(
    "if_events",
    metadata,
    sa.Column("entity_id", sa.String, sa.ForeignKey("if_entities.entity_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("at", sa.String, nullable=False),
    sa.Column("at_utc", _Instant, nullable=False),
    sa.Column("actor_role", sa.String, nullable=False),
    sa.Column("actor_area", sa.String, nullable=False),
    sa.Column("actor_name", sa.String, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("effects", sa.Text, nullable=False),
    sa.Column("state_before", sa.String, nullable=False),
    sa.Column("state_after", sa.String, nullable=False),
    sa.Column("command_id", sa.String),
    sa.Column("prev_hash", sa.String, nullable=False),
    sa.Column("hash", sa.String, nullable=False),
    # When the event was written (its ``at`` is when it happened); NULL for events written
    # before the ledger kept it.  Hashed like the rest of the event when present.
    sa.Column("recorded_at", sa.String),
    # The event's position in the order the ledger took its events: 1, 2, 3… without
    # gaps, given out by the head in the writing transaction.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Index("ix_if_events_seq", "seq", unique=True),
)

_head = sa.Table(
    "if_ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("entities", sa.BigInteger, nullable=False),
    sa.Column("commands", sa.BigInteger, nullable=False),
)

_commands = sa.Table(
    "if_commands",
    metadata,
    sa.Column("command_id", sa.String, primary_key=True),
    sa.Column("entity_id", sa.String, sa.ForeignKey("if_entities.entity_id"), nullable=False),
    sa.Column("first_version", sa.Integer, nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False),
)
#: An entity's command records, as verify reads them and repair replaces them: without it
#: each look-up scanned the whole table, once per entity in a repair.
_COMMANDS_BY_ENTITY = sa.Index("ix_if_commands_entity", _commands.c.entity_id)
#: Indexes added to the tables of this schema version after ledgers were made with it: a
#: store that may write creates those a ledger lacks when it opens it (_prepare).
_ADDED_INDEXES = (_COMMANDS_BY_ENTITY,)

_calendar_years = sa.Table(
    "if_calendar_years",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("schedule", sa.Text, nullable=False),
)

# The statements of the write path and of point reads, built once: building a statement
# with literal values costs more than executing it.
_INSERT_ENTITY = sa.insert(_entities)
_UPDATE_ENTITY = sa.update(_entities).where(
    _entities.c.entity_id == sa.bindparam("b_entity_id"),
    _entities.c.version == sa.bindparam("b_expected"),
)
#: An entity on which a step of escalation has fired by :b_now: an alert of kind
#: "escalation", other than the due time's own, whose name its deadline lists as fired,
#: due by then (the deadline records' instants are written in Asia/Shanghai, so their
#: texts sort as the instants do).  See _records.escalation_of.
_ESCALATED = {
    "sqlite": (
        "EXISTS (SELECT 1 FROM json_each(if_entities.snapshot, '$.deadlines') AS d, "
        "json_each(d.value, '$.alerts') AS a, json_each(d.value, '$.fired') AS f "
        "WHERE json_extract(a.value, '$[0]') = 'escalation' "
        f"AND json_extract(a.value, '$[1]') <> '{PASSED_ALERT}' "
        "AND f.value = json_extract(a.value, '$[1]') "
        "AND json_extract(a.value, '$[2]') <= :b_now)"
    ),
    "postgresql": (
        "EXISTS (SELECT 1 FROM jsonb_each(CAST(if_entities.snapshot AS jsonb) -> 'deadlines') "
        "AS d(key, value), jsonb_array_elements(d.value -> 'alerts') AS a(value) "
        "WHERE a.value ->> 0 = 'escalation' "
        f"AND a.value ->> 1 <> '{PASSED_ALERT}' "
        "AND jsonb_exists(d.value -> 'fired', a.value ->> 1) "
        "AND a.value ->> 2 <= :b_now)"
    ),
}

#: Text every snapshot with a fired alert holds, and no other but by chance: its canonical
#: JSON (no spaces, see :func:`canonical_bytes`) writes a non-empty list of fired alerts'
#: names so, and a quote inside a string is escaped.  Looked for before the JSON is parsed:
#: on 42,406 overdue complaints of the benchmark ledger, none escalated yet, the search
#: takes 0.22 s and the parse 0.60 s (SQLite 3.40.1).
_FIRED_SOME = '"fired":["'

#: A projection row rewritten whole, whatever version it holds (a repair).
_REWRITE_ENTITY = sa.update(_entities).where(_entities.c.entity_id == sa.bindparam("b_entity_id"))
_DELETE_AREAS = sa.delete(_entity_areas).where(
    _entity_areas.c.entity_id == sa.bindparam("b_entity_id")
)
_INSERT_AREAS = sa.insert(_entity_areas)
_INSERT_EVENTS = sa.insert(_events)
_INSERT_COMMAND = sa.insert(_commands)
_SELECT_VERSION = sa.select(_entities.c.version).where(
    _entities.c.entity_id == sa.bindparam("b_entity_id")
)


class _StoredSnapshot(FunctionElement[Any]):
    """An entity's snapshot column as the store reads it: on SQLite its UTF-8 bytes
    (``CAST(snapshot AS BLOB)``), which JSON is parsed from without the driver making
    text of them first; elsewhere the text.  The store's keys of what it keeps
    (_text_key) are made from what it writes in the same form."""

    name = "stored_snapshot"
    type = sa.types.NullType()
    inherit_cache = True


@compiles(_StoredSnapshot)
def _stored_snapshot(element: _StoredSnapshot, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_StoredSnapshot, "sqlite")
def _stored_snapshot_sqlite(element: _StoredSnapshot, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


_SNAPSHOT_READ = _StoredSnapshot(_entities.c.snapshot).label("snapshot")

_SELECT_SNAPSHOT = sa.select(_entities.c.entity_id, _entities.c.version, _SNAPSHOT_READ).where(
    _entities.c.entity_id == sa.bindparam("b_entity_id")
)
_SELECT_EVENTS = (
    sa.select(_events)
    .where(
        _events.c.entity_id == sa.bindparam("b_entity_id"),
        _events.c.version.between(sa.bindparam("b_first"), sa.bindparam("b_last")),
    )
    .order_by(_events.c.version)
)
_REWRITE_COMMAND = sa.update(_commands).where(
    _commands.c.command_id == sa.bindparam("b_command_id")
)
_SELECT_COMMAND = sa.select(_commands).where(_commands.c.command_id == sa.bindparam("b_command_id"))
# Counts what a transaction adds and hands out the positions of its events; the row stays
# locked until the transaction ends, so positions are given in commit order, without gaps.
_ADVANCE_HEAD = (
    sa.update(_head)
    .where(_head.c.id == 1)
    .values(
        events=_head.c.events + sa.bindparam("b_events", type_=sa.BigInteger),
        entities=_head.c.entities + sa.bindparam("b_entities", type_=sa.BigInteger),
        commands=_head.c.commands + sa.bindparam("b_commands", type_=sa.BigInteger),
    )
    .returning(_head.c.events)
)
# Positional placeholders of the drivers whose executemany takes tuples (sqlite3,
# psycopg); other drivers get SQLAlchemy's statements.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# _ADVANCE_HEAD in the terms of the drivers the store runs statements on directly.
_HEAD_SQL = {
    style: f"UPDATE if_ledger_head SET events = events + {mark}, entities = entities + {mark}, "
    f"commands = commands + {mark} WHERE id = 1 RETURNING events"
    for style, mark in _PLACEHOLDERS.items()
}
# Ids per query of SQLStore.get_many (SQLite allows 32,766 parameters, PostgreSQL 65,535).
_MANY = 500
# Snapshots kept by SQLStore with what identifies their stored text (_text_key), so that
# reading back an entity the store wrote or read recently costs a hash of the text read,
# not a decoding.  About 1–2 KB each, where keeping the text too took about 6 KB (the
# text of a complaint with its summary in Chinese is about 4 KB): 60,000 kept take the
# memory 20,000 did (a streamed hand-over of 100,000 cases peaks at about 220 MB either
# way), and a command run over each of up to 60,000 cases in turn (the steps of an
# import) finds each one here.  A run over more finds none: the oldest go first, and the
# run needs them next.
_DECODED = 60_000

#: On a SQLite file in write-ahead logging, the point reads of a block holding reads (a
#: batch, an import) after its first share a read transaction, this many at most before
#: another begins: beginning and ending one takes the database's locks (system calls on
#: the log's index), which cost about as much as the read itself (see
#: docs/performance.md).
_READS_TOGETHER = 256


def _text_key(text: Any) -> int | None:
    """What a kept snapshot remembers of its stored text: the text's length and a hash
    of 64 bits keyed per process, in one integer (the length above the hash's 64 bits:
    an integer, unlike a pair, is nothing the cyclic collector walks), ``None`` for what
    is not text.

    The text is a ``str``, or on SQLite its UTF-8 bytes (see :class:`_StoredSnapshot`;
    a ``bytearray`` as written, see :func:`_projection`).
    A read whose text has another key is decoded, so a row changed behind the store's
    back (another writer, a repair, a damaged projection) is read as it is stored.
    Bytes are hashed with XXH3 under a seed drawn when the module is loaded: a point read
    in an import hashes the text it reads, and Python's own hash of bytes (SipHash) took
    six times as long for a snapshot's 1.5-5 KB; a ``str`` keeps Python's hash.
    """
    kind = text.__class__
    if kind is bytes or kind is bytearray:
        return len(text) << 64 | _xxh3(text, _TEXT_SEED)
    return len(text) << 64 | hash(text) & _LOW64 if kind is str else None


#: The hash of a snapshot's UTF-8 bytes (see _text_key), and its seed for this process.
_xxh3 = xxhash.xxh3_64_intdigest
_TEXT_SEED = random.getrandbits(64)
_LOW64 = (1 << 64) - 1


#: Commits whose rows a write builds at a time: a batch of at most this many builds them
#: all before its transaction; a larger one builds and writes them a chunk at a time in
#: it, so that it never holds every row of a write of 100,000 commands at once.
_WRITE_CHUNK = 2000

#: The entities a streamed write (append_chunks) keeps decoded, its latest chunks'.
_STREAM_KEPT = 4000

#: A write of at least this many events to a SQLite file in write-ahead logging leaves the
#: copy of the log into the database file (SQLite's checkpoint) to a thread of its own
#: (see _Checkpoints); a smaller one lets SQLite copy it as it commits, as usual.
_LARGE_WRITE = 1000

#: Where a write's connection counts the events it has written (Connection.info).
_EVENTS_WRITTEN = "inspection_flow.events_written"

#: A commit to write, with its entity's row and its events' rows if built already (a
#: commit followed in its batch by another of its entity has no row of its own).
_Prepared = tuple[Commit, "dict[str, Any] | None", "list[tuple[Any, ...]] | None"]

#: What the store keeps of an entity's row it wrote (see SQLStore._keep): the entity's
#: id, its text's key, the snapshot and the values of the columns kept unless changed.
_Kept = tuple[str, "int | None", Snapshot, tuple[Any, ...]]


def _written(commit: Commit, row: dict[str, Any]) -> _Kept:
    """What to keep of the entity's row ``row`` written by ``commit``."""
    snapshot = commit.snapshot
    return (snapshot.entity_id, _text_key(row["snapshot"]), snapshot, _kept_values(row))


class _Redo(Exception):
    """A batch written in bulk met a conflict; raised inside a transaction to roll it
    back, so the batch is written again commit by commit."""


class _Conflict(Exception):
    """A commit lost a race; raised inside a transaction to roll it back."""

    def __init__(
        self, commit: Commit, actual: int | None = None, cause: Exception | None = None
    ) -> None:
        self.commit = commit
        self.actual = actual
        self.cause = cause


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(module, extra)


def _url(target: object) -> sa.URL:
    """Return the URL of ``target``, a database URL or the path of a SQLite file.

    Raises:
        StoreError: ``target`` is neither, or is a URL that cannot be parsed.
        MissingDependencyError: a PostgreSQL URL is given but psycopg is missing.
    """
    text = os.fspath(target) if isinstance(target, os.PathLike) else target
    if not isinstance(text, str):
        raise StoreError(
            f"cannot open a ledger from {_shown(target)} ({type(target).__name__}); give the path "
            f"of a SQLite file, a database URL, a SQLAlchemy Engine or a Connection"
        )
    if not text.strip() or "\x00" in text:
        raise StoreError(
            f"{_shown(text)} is not a usable path or database URL; give the path of a SQLite file "
            f"or a URL such as sqlite:///ledger.db"
        )
    if "://" in text:
        try:
            url = sa.make_url(text)
            # The port is parsed on first use: a malformed one fails here, not later.
            _ = url.port
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise StoreError(f"{text!r} is not a database URL: {exc}") from exc
    else:
        url = sa.URL.create("sqlite", database=text)
    if url.get_backend_name() == "postgresql":
        # A bare postgresql:// would mean psycopg2; this package speaks psycopg 3.
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if url.get_driver_name() == "psycopg":
            _require("psycopg", "postgres")
    return url


#: The options of :meth:`SQLStore.open`, for the message about an unknown one.
_OPTIONS = ("busy_timeout", "read_only", "synchronous")
#: The longest wait for SQLite's write lock that busy_timeout accepts, in seconds.
_MAX_BUSY_TIMEOUT = 86_400


def _shown(value: object) -> str:
    """``repr(value)`` cut to a length a message can carry."""
    try:
        text = repr(value)
    except ValueError:  # an integer with more digits than Python will print
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _check_options(busy_timeout: object, synchronous: object, read_only: object) -> None:
    """Refuse store options of the wrong type or out of range.

    Raises:
        StoreError: an option is not acceptable; the message names it.
    """
    if (
        isinstance(busy_timeout, bool)
        or not isinstance(busy_timeout, (int, float))
        # Written so that NaN, infinities and huge integers all fail the comparison.
        or not 0 <= busy_timeout <= _MAX_BUSY_TIMEOUT
    ):
        raise StoreError(
            f"busy_timeout must be a number of seconds from 0 to {_MAX_BUSY_TIMEOUT}, "
            f"not {_shown(busy_timeout)}"
        )
    if not isinstance(synchronous, str) or synchronous not in ("NORMAL", "FULL"):
        raise StoreError(f"synchronous must be 'NORMAL' or 'FULL', not {_shown(synchronous)}")
    if not isinstance(read_only, bool):
        raise StoreError(f"read_only must be True or False, not {_shown(read_only)}")


# SQLite's primary result codes met when a read-only connection cannot set up the
# shared-memory index of a write-ahead log (no -shm file, and no right to create one).
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14


def _sqlite_file(url: sa.URL) -> str:
    """Return the path of the existing SQLite file ``url`` names, for reading it.

    Raises:
        StoreError: the URL names no file (an in-memory database, a URI) or the file
            does not exist.
    """
    path = url.database or ""
    if not path or path == ":memory:" or url.query:
        raise StoreError(
            f"{url.render_as_string()} names no SQLite file to read; give the file's path "
            f"or sqlite:///PATH"
        )
    if not os.path.exists(path):
        raise StoreError(f"{path}: no such ledger file (nothing was created)")
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a ledger file")
    return path


def _read_only_connector(path: str) -> Callable[[], sqlite3.Connection]:
    """Return a function connecting to the SQLite file ``path`` without writing to it.

    The file is opened with ``mode=ro``.  A ledger in write-ahead-log mode needs a
    ``-shm`` file beside it; in a read-only directory (an archive) where that file is
    missing and cannot be created, the file is opened ``immutable`` instead: nobody can
    be writing to it then, since a writer would need the same files.  A non-empty
    ``-wal`` file holds committed data the immutable open would not see, so that case
    is refused rather than read without it.
    """
    uri = "file:" + urllib.parse.quote(os.path.abspath(path))

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
        try:
            # The write-ahead log is opened lazily: read something to find out now.
            conn.execute("PRAGMA schema_version").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not isinstance(exc, sqlite3.OperationalError):
                raise
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF not in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
                raise
            wal = path + "-wal"
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                raise StoreError(
                    f"{path} has committed data in {wal} that cannot be read without "
                    f"writing beside it ({exc}); copy the ledger's files to a writable "
                    f"directory and open the copy"
                ) from exc
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    return connect


# Engines built by make_engine for writing to SQLite: the store switches their database
# to write-ahead logging once it has checked that the database is a ledger.
_WAL_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _configure_sqlite(
    engine: sa.Engine, *, busy_timeout: float, synchronous: str, read_only: bool = False
) -> None:
    """Set the pragmas of every new connection and take over transaction starts.

    pysqlite starts transactions lazily and not at all for SAVEPOINT, which breaks
    nested transactions; the driver's own handling is switched off and each transaction
    begins explicitly.  A writing transaction begins IMMEDIATE so that it takes the write
    lock before it reads: a deferred one that read first would fail at once with
    "database is locked" when another process had written in between, without waiting
    for the busy timeout.

    The journal mode is not set here: switching to write-ahead logging writes to the
    file, and a database is written to only once it is known to be a ledger
    (:meth:`SQLStore._prepare`).
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    timeout_ms = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(_MODE_OPTION)
        if mode == "read":
            # The store's own reads run each statement on its own: no BEGIN, no
            # ROLLBACK, and events are append-only so no common snapshot is needed.
            return
        if mode != "write":
            conn.exec_driver_sql("BEGIN")
            return
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            _begin_immediate(cursor, timeout_ms)
        finally:
            cursor.close()


def _configure_postgres_read_only(engine: sa.Engine) -> None:
    """Make every session of ``engine`` read-only: the server refuses any write."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        finally:
            dbapi_connection.autocommit = autocommit


def _begin_immediate(cursor: Any, timeout_ms: int) -> None:
    """Take SQLite's write lock, waiting up to ``timeout_ms`` for other writers.

    SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so under steady
    contention the lock sits idle most of the time; writers here retry after a fraction
    of a millisecond instead, with jitter so they do not retry in step.
    """
    cursor.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        pause = 0.0002
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(f"cannot start a write: {exc}") from exc
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"another process held the database's write lock for more than "
                        f"{timeout_ms / 1000:g} s; retry, or raise busy_timeout"
                    ) from exc
            time.sleep(random.uniform(0, pause))
            pause = min(pause * 2, 0.004)
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")


class _Checkpoints:
    """The checkpoints of one SQLite file in write-ahead logging, run in the background.

    SQLite copies the log into the database file when a write commits once the log
    holds 1,000 pages: after a write of 100,000 cases, hundreds of megabytes, which the
    writer waits for although its transaction is safely on disk (the log, synced).  A
    large write (see SQLStore._writing) turns that copy off for its commit and asks for
    it here instead: a thread of its own runs ``PRAGMA wal_checkpoint(PASSIVE)``, in
    SQLite's C code without the interpreter lock, so the writer's caller goes on at
    once, on a second core if there is one.  One runs at a time; a request while one
    runs has it run once more.  What a checkpoint cannot copy (a reader holds old
    pages, no connection is free) is copied by the next one: a later large write's, a
    small write's own, or the last connection's close.  :meth:`wait` waits for the
    running one; the store's close calls it.  The data never depends on a checkpoint:
    a process that ends before one finds everything in the log on the next open.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        #: How many were asked for (tests read it).
        self.requested = 0

    def request(self) -> None:
        with self._lock:
            self.requested += 1
            # (A thread that is not alive was left behind by a fork: a new one runs.)
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._thread = threading.Thread(
                target=self._run, name="inspection_flow checkpoint", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                raw = self._engine.raw_connection()
                try:
                    raw.driver_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchall()
                finally:
                    raw.close()
            except (sa.exc.SQLAlchemyError, sqlite3.Error):
                # Nothing is lost: the next checkpoint copies what this one could not.
                pass
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def wait(self) -> None:
        """Wait for the checkpoint running, and for the one asked for after it."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or thread is threading.current_thread():
                return
            if not thread.is_alive():
                with self._lock:
                    if self._thread is thread:
                        self._thread = None
                return
            thread.join()


def _autocheckpoint(conn: sa.Connection, pages: int) -> int | None:
    """Set the connection's automatic checkpoint (0: none); return the setting before, or
    None if SQLite refused (the write then commits with its checkpoint, as usual: a
    setting never fails a write)."""
    driver: Any = conn.connection.driver_connection
    try:
        before = int(driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        driver.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
    except sqlite3.Error:
        return None
    return before


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise StoreError(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value


def _json(value: Any, entity_id: str, version: int, what: str) -> str:
    return _json_bytes(value, entity_id, version, what).decode("utf-8")


def _json_bytes(value: Any, entity_id: str, version: int, what: str) -> bytes:
    """``value``'s canonical JSON in UTF-8 (see :func:`canonical_bytes`)."""
    try:
        return canonical_bytes(value)
    except (StoreError, TypeError, ValueError) as exc:
        raise StoreError(
            f"{entity_id} (version {version}): the {what} cannot be stored as JSON: {exc}"
        ) from exc


def _plain_json(text: Any) -> Any:
    """The plain value (:func:`plain_value`) of a JSON text read from SQLite, or None."""
    return None if text is None else plain_value(_loads(text))


def _loads(text: Any, *, utf8: bool = False) -> Any:
    # Text, or where the store read a text column as its UTF-8 bytes (``utf8``, see
    # _StoredSnapshot), those bytes.
    if not (isinstance(text, str) or (utf8 and isinstance(text, bytes))):
        raise TypeError(f"expected JSON text, found {type(text).__name__}")
    # orjson parses several times faster than json; its errors are ValueErrors too.
    return orjson.loads(text)


def _decode_event(row: sa.Row[Any]) -> Event:
    """Rebuild an event from its row.

    Raises:
        TamperError: the row cannot be read (unreadable JSON, missing fields).
    """
    try:
        payload = _loads(row.payload)
        effects = _loads(row.effects)
        if not isinstance(payload, dict) or not isinstance(effects, dict):
            raise TypeError("payload and effects must be JSON objects")
        return Event.from_dict(
            {
                "entity_id": row.entity_id,
                "version": row.version,
                "name": row.name,
                "at": row.at,
                "actor": {"role": row.actor_role, "area": row.actor_area, "name": row.actor_name},
                "payload": payload,
                "state_before": row.state_before,
                "state_after": row.state_after,
                "effects": effects,
                "command_id": row.command_id,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
                "recorded_at": row.recorded_at,
            }
        )
    except (InspectionFlowError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TamperError(
            row.entity_id, row.version, f"the stored event cannot be read: {exc}"
        ) from exc


def _decode_snapshot(entity_id: str, version: Any, text: Any, *, utf8: bool = False) -> Snapshot:
    """Rebuild a snapshot from its row (its text, or the UTF-8 bytes of it where the
    store read them so: ``utf8``).

    Raises:
        StoreError: the row cannot be read.
    """
    try:
        data = _loads(text, utf8=utf8)
        if not isinstance(data, dict):
            raise TypeError("a snapshot must be a JSON object")
        return Snapshot.from_dict(data)
    except (InspectionFlowError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoreError(
            f"{entity_id} (version {version}): the stored snapshot cannot be read ({exc}); "
            f"rebuild it from the entity's events with SQLStore.rebuild({entity_id!r})"
        ) from exc


# The JSON of effects mappings written lately, by the mapping's id, with the mapping:
# the many cases of one hand-over or of one command in a batch share one (immutable)
# effects mapping.  Few are shared at a time, and commands fired one by one each have
# their own, which the memo would otherwise keep alive (and the collector walk) by the
# thousand.
_EFFECTS_JSON: dict[int, tuple[Mapping[str, Any], str]] = {}
_EFFECTS_KEPT = 256


def _effects_json(event: Event) -> str:
    effects = event.effects
    known = _EFFECTS_JSON.get(id(effects))
    if known is not None and known[0] is effects:
        return known[1]
    text = _json(dict(effects), event.entity_id, event.version, "effects")
    if len(_EFFECTS_JSON) >= _EFFECTS_KEPT:
        _EFFECTS_JSON.clear()
    _EFFECTS_JSON[id(effects)] = (effects, text)
    return text


#: The columns of an event's row in the order :func:`_event_values` gives them (the
#: instant to convert for the database last); ``seq`` follows, given by the head when the
#: event is written (:func:`_advance_head`).
_EVENT_COLUMNS = (
    "entity_id",
    "version",
    "name",
    "at",
    "actor_role",
    "actor_area",
    "actor_name",
    "payload",
    "effects",
    "state_before",
    "state_after",
    "command_id",
    "prev_hash",
    "hash",
    "recorded_at",
    "at_utc",
)


def _event_values(event: Event) -> tuple[Any, ...]:
    """An event's row (``at_utc`` still an instant), in the order of ``_EVENT_COLUMNS``."""
    at = event.at
    if at.__class__ is not dt.datetime or at.tzinfo is not SHANGHAI:
        _aware(at, f"{event.entity_id} event {event.version} time")
    actor = event.actor
    return (
        event.entity_id,
        event.version,
        event.name,
        iso(at),
        actor.role,
        actor.area,
        actor.name,
        _payload_json(event),
        _effects_json(event),
        event.state_before,
        event.state_after,
        event.command_id,
        event.prev_hash,
        event.hash,
        None if event.recorded_at is None else iso(event.recorded_at),
        at,
    )


def _payload_json(event: Event) -> str:
    """The JSON of an event's payload; the two payloads written last are written once
    each (the commands of a ``fire_many`` share one; a hand-over's cases alternate
    between the batch's and the hand-over's)."""
    global _LAST_PAYLOAD, _BEFORE_PAYLOAD
    payload = event.payload
    last = _LAST_PAYLOAD
    if last[0] is payload:
        return last[1]
    before = _BEFORE_PAYLOAD
    if before[0] is payload:
        _BEFORE_PAYLOAD, _LAST_PAYLOAD = last, before
        return before[1]
    text = _json(
        payload if payload.__class__ is dict else dict(payload),
        event.entity_id,
        event.version,
        "payload",
    )
    _BEFORE_PAYLOAD, _LAST_PAYLOAD = last, (payload, text)
    return text


# The payloads written last and the one before, each with its JSON (each replaced whole).
_LAST_PAYLOAD: tuple[Mapping[str, Any] | None, str] = (None, "")
_BEFORE_PAYLOAD: tuple[Mapping[str, Any] | None, str] = (None, "")


def _advance_head(conn: sa.Connection, events: int, entities: int, commands: int) -> int:
    """Count what the transaction writes in the ledger's head; return the number (seq) of
    its first event."""
    sql = _HEAD_SQL.get(conn.dialect.paramstyle)
    if sql is None or conn.get_execution_options().get("schema_translate_map"):
        last = conn.execute(
            _ADVANCE_HEAD,
            {"b_events": events, "b_entities": entities, "b_commands": commands},
        ).scalar_one_or_none()
    else:
        found = _driver(conn, sql, (events, entities, commands), fetch=True)
        last = found[0][0] if found else None
    if last is None:
        raise StoreError(_NO_HEAD)
    before = int(last) - events
    if (before + events) // _LATEST_EVERY != before // _LATEST_EVERY:
        # The head's row is locked by this transaction: every event before this one's
        # is written and seen, so the latest time of the first ``before`` is known.
        _keep_latest(conn, before)
    return before + 1


#: Why nothing can be written on a ledger whose head's row is gone (a damaged database).
_NO_HEAD = (
    "the ledger's head (table if_ledger_head) is missing, so nothing more can be "
    "written; run verify() and restore the database from a backup"
)


def _refused(exc: sa.exc.DBAPIError) -> StoreError:
    """The error of a write the database refused (other than a conflict)."""
    return StoreError(f"the database refused the write: {exc.orig}")


#: The text a statement written on its own fails with when the head's row is missing
#: (see SQLStore._advance_inserting): it then writes nothing.
_NO_HEAD_MARK = "inspection_flow: the ledger head is missing"


#: The key of ``inspection_flow_meta`` that holds the latest time (``at``) of the
#: ledger's first events, as JSON: ``{"events": E, "at": ISO time or null}`` for the
#: events at positions 1 to E.  Events are never changed or removed and positions are
#: given without gaps, so what it says stays true: the ledger's latest time is the later
#: of it and the latest of the events after E, read with the index on positions
#: (:meth:`SQLStore.latest_at`), instead of a read of every event.  A release that
#: does not keep it writes on; the events after E are then only more to read.
_LATEST_KEY = "latest_at"
#: A writing transaction that takes the ledger past a multiple of this many events brings
#: ``latest_at`` up to the events before it (a read of those since the last time).
_LATEST_EVERY = 10_000


def _kept_latest(conn: sa.Connection) -> tuple[int, dt.datetime | None] | None:
    """What ``latest_at`` holds: the number of events it covers and their latest time,
    or ``None`` if the ledger keeps none (made before it, and not yet opened by a store
    that may write) or what it holds cannot be used (:func:`_usable_latest`)."""
    return _usable_latest(*_stored_latest(conn))


def _stored_latest(conn: sa.Connection) -> tuple[str | None, int | None]:
    """The text ``latest_at`` holds and the head's count of events, as stored."""
    text, held_events = conn.execute(
        sa.select(
            sa.select(_meta.c.value).where(_meta.c.key == _LATEST_KEY).scalar_subquery(),
            sa.select(_head.c.events).where(_head.c.id == 1).scalar_subquery(),
        )
    ).one()
    return text, held_events


def _usable_latest(
    text: str | None, held_events: int | None
) -> tuple[int, dt.datetime | None] | None:
    """What ``text`` says (see :func:`_kept_latest`), or ``None`` if there is none or
    it cannot be used: unreadable, a time without its offset, or covering more events
    than the head counts (``held_events``)."""
    if text is None or held_events is None:
        return None
    try:
        held = json.loads(text)
        events = held["events"]
        at = held["at"]
        if events.__class__ is not int or not 0 <= events <= held_events:
            return None
        when = None if at is None else dt.datetime.fromisoformat(at)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    if when is not None:
        if when.tzinfo is None:
            return None
        when = when.astimezone(_UTC)
    return events, when


def _latest_after(conn: sa.Connection, events: int, upto: int | None = None) -> dt.datetime | None:
    """The latest time of the events at positions after ``events`` (to ``upto``)."""
    query = sa.select(sa.func.max(_events.c.at_utc)).where(_events.c.seq > events)
    if upto is not None:
        query = query.where(_events.c.seq <= upto)
    return _instant_read(conn.execute(query).scalar_one_or_none())


def _instant_read(value: Any) -> dt.datetime | None:
    """An ``at_utc`` value as the database returned it, as an aware instant."""
    return _Instant().process_result_value(value, None)  # type: ignore[arg-type]


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _latest_text(events: int, at: dt.datetime | None) -> str:
    return json.dumps({"events": events, "at": None if at is None else at.isoformat()})


def _keep_latest(conn: sa.Connection, upto: int) -> None:
    """Bring ``latest_at`` up to the first ``upto`` events (the head's row locked)."""
    kept = _kept_latest(conn)
    if kept is None or kept[0] >= upto:
        # None kept: the next store that may write and opens the ledger keeps it.
        return
    events, at = kept
    at = _later(at, _latest_after(conn, events, upto))
    conn.execute(
        sa.update(_meta).where(_meta.c.key == _LATEST_KEY).values(value=_latest_text(upto, at))
    )


class _LatestFound:
    """The latest time of the events at positions 1 to ``events``, noted as an audit
    reads them (:meth:`noting`); ``whole`` says whether every such event could be read."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.at: dt.datetime | None = None
        self.whole = True

    def noting(self, records: Iterable[EntityRecords]) -> Iterator[EntityRecords]:
        upto = self.events
        for record in records:
            for seq, item in record.events:
                if seq is None or seq > upto:
                    continue
                if isinstance(item, TamperError):
                    self.whole = False
                    continue
                at = self.at
                if at is None or item.at > at:
                    self.at = item.at
            yield record


def _start_latest(conn: sa.Connection, *, again: bool = False) -> None:
    """Keep ``latest_at`` in a ledger made before it, or write it ``again`` (a repair):
    one read of every event, in a writing transaction holding the head's row so no event
    is written meanwhile (taken first, as every writer takes it)."""
    events = conn.execute(
        sa.select(_head.c.events).where(_head.c.id == 1).with_for_update()
    ).scalar_one_or_none()
    if events is None or (not again and _kept_latest(conn) is not None):
        return
    conn.execute(sa.delete(_meta).where(_meta.c.key == _LATEST_KEY))
    conn.execute(
        sa.insert(_meta).values(
            key=_LATEST_KEY, value=_latest_text(int(events), _latest_after(conn, 0, int(events)))
        )
    )


def _micros(value: dt.datetime) -> int:
    """An instant as the SQLite column holds it (see :class:`_Instant`)."""
    global _LAST_MICROS
    last = _LAST_MICROS
    if last[0] is value:
        # A new entity's row names one instant twice (created, updated) in a row.
        return last[1]
    known = _MICROS.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if len(_MICROS) >= 4096:
        _MICROS.clear()
    _MICROS[id(value)] = _LAST_MICROS = (value, micros)
    return micros


# Instants converted lately, by id, with the instant (one tuple, replaced whole): a
# write converts an entity's times with its entities' rows, then the same instants as
# its events' times; a block of a few thousand rows finds them here.
_MICROS: dict[int, tuple[dt.datetime, int]] = {}
# The instant converted last (one tuple, replaced whole).
_LAST_MICROS: tuple[dt.datetime | None, int] = (None, 0)


def _release_write_memos() -> None:
    """Empty the process-wide memos of writes (effects' and payloads' JSON, instants
    converted) and those of the records (see :func:`release_memos`)."""
    global _LAST_MICROS, _LAST_PAYLOAD, _BEFORE_PAYLOAD
    _EFFECTS_JSON.clear()
    _MICROS.clear()
    _LAST_MICROS = (None, 0)
    _LAST_PAYLOAD = _BEFORE_PAYLOAD = (None, "")
    release_memos()


def _in_utc(value: dt.datetime) -> dt.datetime:
    """An instant as the PostgreSQL column takes it (see :class:`_Instant`)."""
    return value.astimezone(_UTC)


def _binder(column: sa.Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The function converting a value for ``column``, or ``None``: for an instant, the
    conversion :class:`_Instant` makes, without its machinery (``None`` stays ``None``
    where it is called); for other types, the type's own."""
    if isinstance(column.type, _Instant):
        return _in_utc if dialect.name == "postgresql" else _micros
    if column.table is _entities and column.name == "snapshot" and dialect.name == "sqlite":
        # The rows hold it as a bytearray already (_projection): SQLite's driver binds one
        # as it is, where it passes bytes through an adapter look-up that fails, as it does
        # a None (see _bound_nulls); stored as text all the same (``CAST(? AS TEXT)``).
        return None
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(
        dialect
    )
    return processor


def _driver(conn: sa.Connection, sql: str, params: Sequence[Any], *, fetch: bool = False) -> Any:
    """Run one statement on the driver's own cursor, in ``conn``'s transaction; return
    its rows (``fetch``) or its row count.

    SQLAlchemy's machinery around one statement costs several times what the driver
    does; the store's fixed statements on the write path skip it.  The driver's errors
    are raised as SQLAlchemy's (``IntegrityError`` …), as from ``conn.execute``.
    """
    dbapi = conn.dialect.loaded_dbapi
    cursor = _kept_cursor(conn.info, conn.connection.driver_connection)
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else cursor.rowcount
    except dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, dbapi.Error) from exc


def _kept_cursor(info: dict[Any, Any], driver: Any) -> Any:
    """The cursor kept with the driver's connection ``driver`` in its pool entry's
    ``info`` (which SQLAlchemy empties when it replaces the connection; the cursor is
    also checked to be the connection's own).  Making and closing a cursor for each
    statement cost a command on PostgreSQL about as much as one of its statements."""
    kept = info.get(_CURSOR)
    if kept is None or kept[0] is not driver:
        kept = info[_CURSOR] = (driver, driver.cursor())
    return kept[1]


#: psycopg's ``TransactionStatus.IDLE``: the connection is in no transaction.
_PG_IDLE = 0


def _idle(conn: sa.Connection) -> bool:
    """Whether ``conn``, a connection of PostgreSQL, is usable and in no transaction."""
    if conn.closed or conn.invalidated or conn.in_transaction():
        return False
    driver: Any = conn.connection.driver_connection
    return bool(driver.info.transaction_status == _PG_IDLE)


#: Connections a store kept for its blocks holding reads (see
#: :meth:`SQLStore._kept_connection`) when the process was forked: they belong to the
#: parent, whose socket a child must neither use nor close, so they are never released.
_FORKED_AWAY: list[Any] = []

#: Where a connection of the driver keeps the cursor the store's own statements and
#: point reads run on (the pool entry's info), with the connection it belongs to.
_CURSOR = "inspection_flow.cursor"


def _event_rows(commit: Commit) -> list[tuple[Any, ...]]:
    return [_event_values(e) for e in commit.events]


def _projection(snapshot: Snapshot, *, utf8: bool = False) -> dict[str, Any]:
    """The entity's row: its columns, and its snapshot's canonical JSON as text, or as
    UTF-8 bytes in a ``bytearray`` (``utf8``) for the store's own statements on SQLite,
    which store them as text (see :func:`_text_rows`)."""
    row = _columns(snapshot)
    data = stored_data(snapshot)
    row["snapshot"] = (
        # A copy, and orjson's own bytes freed at once: a write keeps a chunk's rows until
        # its statements run, and while orjson's outputs are kept each further one takes
        # about four times what it takes with the copy (3.4 against 0.8 us for 1.5 KB,
        # docs/performance.md).  The driver binds a bytearray as it is (see _binder).
        bytearray(_json_bytes(data, snapshot.entity_id, snapshot.version, "snapshot"))
        if utf8
        else _json(data, snapshot.entity_id, snapshot.version, "snapshot")
    )
    return row


def _text_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of :func:`_projection` with their snapshots as text, for a statement of
    SQLAlchemy (it would store bytes as a BLOB)."""
    return [
        {**row, "snapshot": row["snapshot"].decode("utf-8")}
        if isinstance(row["snapshot"], bytes | bytearray)
        else row
        for row in rows
    ]


#: A command's row (if_commands), in the order the store writes its values.
_COMMAND_COLUMNS = ("command_id", "entity_id", "first_version", "last_version")


def _set_values(
    update: tuple[tuple[str, ...], dict[str, Any], str, int],
    converters: list[tuple[int, Callable[[Any], Any]]],
) -> tuple[Any, ...]:
    """An update's values (see SQLStore._update_many): its columns' values converted as
    their types convert them, then the entity's id and expected version."""
    names, row, entity_id, expected = update
    values = [row[n] for n in names]
    for i, convert in converters:
        value = values[i]
        if value is not None:
            values[i] = convert(value)
    values.append(entity_id)
    values.append(expected)
    return tuple(values)


def _bound_nulls(
    params: list[tuple[Any, ...]], nullable: tuple[int, ...], width: int
) -> tuple[tuple[int, ...], list[tuple[Any, ...]]]:
    """The positions of ``nullable`` that hold None in every row of ``params`` (rows of
    ``width`` values), and the rows without the values at those positions.

    SQLite's driver, the standard library's ``sqlite3``, passes each parameter that is not
    an int, a float, a str or a bytearray through its adapters; for a None that look-up
    fails, with an exception made and dropped, at about the cost of the database's own
    work for the column.  A statement of the store on SQLite writes a column that is NULL
    in each of its rows as the literal NULL instead (the plans' ``nulls``).
    """
    nulls = tuple(i for i in nullable if all(row[i] is None for row in params))
    if not nulls:
        return nulls, params
    keep = [i for i in range(width) if i not in nulls]
    if len(keep) == 1:
        (only,) = keep
        return nulls, [(row[only],) for row in params]
    return nulls, list(map(operator.itemgetter(*keep), params))


def _value_mark(dialect: Dialect, table: sa.Table, name: str, mark: str) -> str:
    """The placeholder of column ``name`` in the store's own statements on the driver: on
    SQLite a snapshot comes as its UTF-8 bytes and is stored as text."""
    if table is _entities and name == "snapshot" and dialect.name == "sqlite":
        return f"CAST({mark} AS TEXT)"
    return mark


def _columns(snapshot: Snapshot) -> dict[str, Any]:
    """The entity's columns but its snapshot."""
    return {
        "kind": snapshot.kind,
        "lifecycle": snapshot.lifecycle,
        "state": snapshot.state,
        "version": snapshot.version,
        "area": snapshot.area,
        "round_id": snapshot.round_id,
        "parent_id": snapshot.parent_id,
        "batch": snapshot.batch,
        "category": snapshot.category,
        "terminal": snapshot.terminal,
        "next_due_at": snapshot.next_due_at,
        "next_alert_at": snapshot.next_alert_at,
        "created_at": snapshot.created_at,
        "updated_at": snapshot.updated_at,
        # Writing an entity ends any lease on its alerts: what was due has changed.
        "claimed_by": None,
        "claimed_until": None,
    }


#: The entity columns an update leaves out when they keep their value: the database then
#: neither converts them nor rewrites their indexes' entries.
_KEPT_UNLESS_CHANGED = (
    "kind",
    "lifecycle",
    "state",
    "area",
    "round_id",
    "parent_id",
    "batch",
    "category",
    "terminal",
    "next_due_at",
    "next_alert_at",
    "created_at",
    "updated_at",
)
#: The values of the columns :data:`_KEPT_UNLESS_CHANGED` in an entity's row, in order.
_kept_values = operator.itemgetter(*_KEPT_UNLESS_CHANGED)

#: The columns every update sets: the version and snapshot change with each write, and a
#: write ends any lease on the entity's alerts (taken without a new version).
_ALWAYS_SET = ("version", "snapshot", "claimed_by", "claimed_until")
#: Every column an update may set.
_ALL_SET = _KEPT_UNLESS_CHANGED + _ALWAYS_SET
#: The columns an update sets, by which of :data:`_KEPT_UNLESS_CHANGED` changed (a tuple
#: of booleans in their order): one tuple of names for each combination met, so that
#: updates alike are grouped by the same tuple.
_SET_WHEN: dict[tuple[bool, ...], tuple[str, ...]] = {}


def _sets_areas(event: Event) -> bool:
    setters = event.effects.get("set")
    if not setters:
        return False
    return "areas" in setters or "area" in setters


def _check_commit(commit: Commit) -> None:
    entity_id = commit.snapshot.entity_id
    version = commit.expected_version
    for event in commit.events:
        version += 1
        if event.entity_id != entity_id or event.version != version:
            raise StoreError(
                f"commit for {entity_id}: event {event.entity_id} {event.version} should be "
                f"{entity_id} {version}; a commit's events continue the expected version"
            )
    if commit.snapshot.version != version:
        raise StoreError(
            f"commit for {entity_id}: snapshot version {commit.snapshot.version} should be "
            f"{version}, the version after its events"
        )


def _names(names: Collection[str], shown: int = 5) -> str:
    ordered = sorted(names)
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def _column_problem(table: sa.Table, found: set[str] | None) -> str:
    """Say how the columns found for ``table`` differ from its definition, or ``""``."""
    if found is None:
        return f"table {table.name} is missing"
    expected = set(table.c.keys())
    parts = []
    if missing := expected - found:
        parts.append(f"lacks {_names(missing)}")
    if extra := found - expected:
        parts.append(f"has unexpected {_names(extra)}")
    return f"table {table.name} {' and '.join(parts)}" if parts else ""


class SQLStore(EventStore):
    """Events and the projection of entities in a SQL database.

    Args:
        target: a database URL (``sqlite:///ledger.db``,
            ``postgresql+psycopg://user@host/db``), a filesystem path (a SQLite file), a
            :class:`sqlalchemy.Engine`, or a :class:`sqlalchemy.Connection`.  Given a
            connection, the store writes inside the caller's transaction, one SAVEPOINT
            per command, and never commits or rolls it back: the caller does.
        read_only: open the database for reading only: nothing is created or written,
            not even an empty file or the tables; a SQLite file is opened read-only (in
            a read-only directory too) and PostgreSQL sessions are read-only.  Any write
            through the store raises :class:`StoreError`.
        busy_timeout: on SQLite, seconds a writer waits for another process's lock.
        synchronous: on SQLite, ``"FULL"`` (the default) syncs the write-ahead log at
            every commit, so a command reported as accepted survives a power cut;
            ``"NORMAL"`` is faster and survives a crash of the program but may lose the
            latest commits on a power cut or operating-system crash.

    Engines the store creates from a URL or path are configured for it (on SQLite:
    write-ahead log, foreign keys, busy timeout, writers that take the lock before
    reading); an engine or connection passed in is used as it is, so build it with
    :meth:`make_engine` when several processes write to one SQLite file.

    Before anything is written the store checks what the database holds, with reads
    only: a database without any of the ledger's tables gets them (but a SQLite file
    opened by path or URL must then hold no other tables either); a complete ledger of
    this schema version is opened; anything else is refused (docs/storage.md, "What is
    refused").

    Raises:
        MissingDependencyError: a PostgreSQL URL is given but psycopg is not installed.
        StoreError: the options or ``target`` are not acceptable, the database cannot be
            opened, or it is not a ledger this release can use (foreign tables in a
            SQLite file, ledger tables without their metadata or with other columns, a
            schema version other than this code's); a read-only open of a missing or
            empty database.
    """

    #: The tables, for Alembic's autogenerate (see the module docstring).
    metadata = metadata

    def __init__(
        self,
        target: str | os.PathLike[str] | sa.Engine | sa.Connection,
        *,
        read_only: bool = False,
        busy_timeout: float = 30.0,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
    ) -> None:
        _check_options(busy_timeout, synchronous, read_only)
        self._connection: sa.Connection | None = None
        self._owns_engine = False
        self._read_only = read_only
        # Set once the store knows its SQLite file is in write-ahead logging, and it
        # manages the transactions (see _Checkpoints).
        self._checkpoints: _Checkpoints | None = None
        # INSERT statements in the driver's own terms, by table and columns.
        self._insert_plans: dict[
            tuple[Any, ...], tuple[str, list[tuple[int, Callable[[Any], Any]]]]
        ] = {}
        # The positions of nullable columns in those statements, by table and columns.
        self._nullables: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
        # A cursor of the driver kept for reads by holding_reads, and the point reads
        # in the driver's own terms (None: SQLAlchemy's statements are used instead).
        self._held: Any = None
        # The connection of that cursor, on which a write inside the block runs too.
        self._held_conn: sa.Connection | None = None
        # The connection the blocks holding reads run on, kept between them where the
        # store keeps one (_keeps, see _kept_connection), the process that checked it
        # out, and its driver's autocommit when it was checked out.
        self._kept: tuple[sa.Connection, int, bool] | None = None
        # On SQLite, the point reads on that cursor in the read transaction open (see
        # _share_read): -1 before the block's first read, 0 with none open.  Only on a
        # file in write-ahead logging (_share_reads), where a read transaction keeps
        # no writer waiting.
        self._shared_reads = -1
        self._share_reads = False
        self._raw_reads: tuple[str, str, str] | None = None
        self._raw_command: str | None = None
        self._raw_commands: str | None = None
        # The latest snapshots written or read, by their stored text: a read that finds
        # the same text needs no decoding (bounded; the oldest go first: an OrderedDict
        # drops its first entry in constant time, where a dict's first key is found
        # after every slot its earlier deletions left behind).
        # Each: the key of the stored text, the snapshot, and the values of the columns
        # an update may leave as they are (_KEPT_UNLESS_CHANGED) when written here.
        self._decoded: collections.OrderedDict[
            str, tuple[int, Snapshot, tuple[Any, ...] | None]
        ] = collections.OrderedDict()
        if isinstance(target, sa.Connection):
            self._connection = target
            self._engine = target.engine
        elif isinstance(target, sa.Engine):
            self._engine = target
        else:
            self._engine = self.make_engine(
                target, busy_timeout=busy_timeout, synchronous=synchronous, read_only=read_only
            )
            self._owns_engine = True
        # Whether the database is SQLite.  There a snapshot travels as its UTF-8 bytes
        # both ways: written with the store's own statements (CAST AS TEXT), read as a
        # BLOB (see _StoredSnapshot); as text, the driver converted each one from and to
        # Python's form of it.  And there a write begins IMMEDIATE (_writing).
        self._sqlite = self._engine.dialect.name == "sqlite"
        # On PostgreSQL, with an engine of the store's own, until the store closes.
        self._keeps = self._owns_engine and self._engine.dialect.name == "postgresql"
        try:
            self._prepare()
        except StoreError as exc:
            self.close()
            if isinstance(exc.__cause__, sa.exc.DBAPIError):
                raise StoreError(
                    f"cannot open {self._describe()}: {exc.__cause__.orig}"
                ) from exc.__cause__
            raise
        except InspectionFlowError:
            self.close()
            raise
        except (sa.exc.SQLAlchemyError, TypeError, ValueError, OSError) as exc:
            # A URL whose query the driver does not take, a connection that fails
            # before SQL runs: the caller gets the store's error, not the driver's.
            self.close()
            raise StoreError(f"cannot open {self._describe()}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | sa.Engine | sa.Connection,
        *,
        read_only: bool = False,
        busy_timeout: float = 30.0,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
        **unknown: Any,
    ) -> SQLStore:
        """Open (and, unless ``read_only``, create if needed) the store at ``target``.

        See :class:`SQLStore` for the arguments.

        Raises:
            StoreError: an option is unknown or not acceptable, or see :class:`SQLStore`.
            MissingDependencyError: the database's driver extra is not installed.
        """
        if unknown:
            raise StoreError(
                f"unknown store option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, sorted(unknown)))}; the options are "
                f"{', '.join(_OPTIONS)}"
            )
        return cls(target, read_only=read_only, busy_timeout=busy_timeout, synchronous=synchronous)

    @staticmethod
    def make_engine(
        target: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
        read_only: bool = False,
    ) -> sa.Engine:
        """Return an engine for a URL or SQLite path, configured as the store needs.

        Use it to share one engine (or one of its connections) between the store and the
        application's own tables.  With ``read_only`` the engine never writes: a SQLite
        file is opened read-only (and must exist), PostgreSQL sessions are read-only.

        Raises:
            MissingDependencyError: a PostgreSQL URL is given but psycopg is missing.
            StoreError: ``target`` is not a usable path or URL, an option is not
                acceptable, or (``read_only``) the SQLite file does not exist.
        """
        _check_options(busy_timeout, synchronous, read_only)
        url = _url(target)
        try:
            url.get_dialect()
            if read_only and url.get_backend_name() == "sqlite":
                engine = sa.create_engine(url, creator=_read_only_connector(_sqlite_file(url)))
            else:
                engine = sa.create_engine(url)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise StoreError(f"cannot open {url.render_as_string()}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            _configure_sqlite(
                engine, busy_timeout=busy_timeout, synchronous=synchronous, read_only=read_only
            )
            if not read_only:
                _WAL_ENGINES.add(engine)
        elif read_only and engine.dialect.name == "postgresql":
            _configure_postgres_read_only(engine)
        return engine

    def __repr__(self) -> str:
        return f"SQLStore({self._engine.url.render_as_string()!r})"

    def close(self) -> None:
        """Release the engine the store created (a caller's engine or connection stays
        open) and the snapshots the store keeps."""
        if self._checkpoints is not None:
            self._checkpoints.wait()
        self._keeps = False
        self._release_kept()
        if self._owns_engine:
            self._engine.dispose()
            self._owns_engine = False
        self._decoded.clear()
        _release_write_memos()

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only (any write raises :class:`StoreError`)."""
        return self._read_only

    def _describe(self) -> str:
        url = self._engine.url
        if url.get_backend_name() == "sqlite" and url.database:
            return url.database
        return url.render_as_string()

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        if self._read_only:
            raise StoreError(
                f"the ledger {self._describe()} was opened read-only; open it without "
                f"read_only to write"
            )
        try:
            if self._connection is not None:
                with self._connection.begin_nested():
                    yield self._connection
                return
            held = self._held_conn
            if held is not None and not held.in_transaction():
                # Inside a block holding reads (a command read, then written): on the
                # connection held, so that the command checks out one connection, not
                # two.  Its reads ran each on its own; the write is a transaction.
                driver: Any = held.connection.driver_connection
                autocommit = driver.autocommit if not self._sqlite else None
                self._end_shared_reads()
                if autocommit:
                    driver.autocommit = False
                try:
                    with self._transaction(held) as conn:
                        yield conn
                finally:
                    if autocommit:
                        driver.autocommit = True
                return
            with self._engine.connect() as conn, self._transaction(conn):
                yield conn
        except sa.exc.DBAPIError as exc:
            raise _refused(exc) from exc

    @contextlib.contextmanager
    def _transaction(self, conn: sa.Connection) -> Iterator[sa.Connection]:
        """A write's transaction on ``conn``, a connection of the store's engine."""
        if self._sqlite:
            # Read on SQLite only (_configure_sqlite): the write begins IMMEDIATE.
            conn.execution_options(**{_MODE_OPTION: "write"})
        checkpoints = self._checkpoints
        # A large write commits without copying the log into the file; the copy runs in
        # the background (see _Checkpoints).
        restore: int | None = None
        try:
            with conn.begin():
                yield conn
                if checkpoints is not None and conn.info.get(_EVENTS_WRITTEN, 0) >= _LARGE_WRITE:
                    restore = _autocheckpoint(conn, 0)
        finally:
            if checkpoints is not None:
                conn.info.pop(_EVENTS_WRITTEN, None)
            if restore is not None:
                _autocheckpoint(conn, restore)
        if checkpoints is not None and restore is not None:
            checkpoints.request()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        try:
            if self._connection is not None:
                yield self._connection
            else:
                with self._engine.connect() as conn:
                    # No BEGIN and ROLLBACK around each read; events are append-only,
                    # so a read needs no snapshot common to its statements.
                    if conn.dialect.name == "postgresql":
                        conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.execution_options(**{_MODE_OPTION: "read"})
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"the database could not be read: {exc.orig}") from exc

    def _prepare(self) -> None:
        if self._read_only:
            with self._reading() as conn:
                self._inspect(conn)
                if self._sqlite and self._connection is None:
                    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                    self._share_reads = mode == "wal"
            return
        missing: list[sa.Index] = []
        unkept = False
        for attempt in range(2):
            try:
                with self._writing() as conn:
                    if self._inspect(conn):
                        metadata.create_all(conn)
                        conn.execute(
                            sa.insert(_meta).values(key="schema_version", value=str(SCHEMA_VERSION))
                        )
                        conn.execute(
                            sa.insert(_head).values(id=1, events=0, entities=0, commands=0)
                        )
                        conn.execute(
                            sa.insert(_meta).values(key=_LATEST_KEY, value=_latest_text(0, None))
                        )
                    else:
                        missing = _missing_indexes(conn)
                        unkept = _kept_latest(conn) is None
                break
            except StoreError as exc:
                # Two processes creating the tables at once: one loses; the tables exist.
                if attempt or not isinstance(exc.__cause__, sa.exc.DBAPIError):
                    raise
        if missing:
            # In a transaction of its own: a role that may write rows but not create
            # indexes (another process creating them at once) still opens the ledger,
            # whose verify and repair are only slower without them.
            with contextlib.suppress(StoreError), self._writing() as conn:
                for index in missing:
                    index.create(conn)
        if unkept:
            # Likewise: without it, latest_at() reads every event, as it did before.
            with contextlib.suppress(StoreError), self._writing() as conn:
                _start_latest(conn)
        if self._engine in _WAL_ENGINES and self._connection is None:
            # Write-ahead logging is a property of the file, kept once set; it is set
            # only now that the file is known to be a ledger.
            with self._reading() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if mode != "wal":
                    mode = conn.exec_driver_sql("PRAGMA journal_mode = WAL").scalar()
            if mode == "wal" and self._checkpoints is None:
                self._checkpoints = _Checkpoints(self._engine)
            self._share_reads = mode == "wal"

    def _inspect(self, conn: sa.Connection) -> bool:
        """Check what the database holds, with reads only; return whether it is empty.

        The rule: the ledger's tables are those of :data:`metadata` (and any table named
        ``if_*``).  A database with none of them is empty for the ledger: its tables
        are created there, beside an application's own — except in a SQLite file
        opened by path or URL, which holds a ledger and nothing else, so a file with
        other tables is refused.  A database with any of them must hold all of them,
        with the columns this code expects, and ``schema_version`` in
        ``inspection_flow_meta`` equal to :data:`SCHEMA_VERSION`.

        Raises:
            StoreError: the database is not a ledger this release can use, or (read-only)
                holds no ledger; the message says what was found.
        """
        # Long by design: each way a database can fail to be a ledger, checked in order, before
        # anything is written.
        where = self._describe()
        translate = conn.get_execution_options().get("schema_translate_map") or {}
        schema = translate.get(None)
        inspector = sa.inspect(conn)
        found = set(inspector.get_table_names(schema=schema))
        ours = {name for name in found if name in metadata.tables or name.startswith("if_")}
        if not ours:
            if self._read_only:
                what = f"only other tables ({_names(found)})" if found else "no tables"
                raise StoreError(f"{where} is not a ledger: it holds {what}")
            if found and self._owns_engine and conn.dialect.name == "sqlite":
                raise StoreError(
                    f"{where} is not a ledger: it holds other tables ({_names(found)}) and "
                    f"none of the ledger's; open a new or empty file, or, to keep the "
                    f"ledger beside your own tables, open it through an Engine "
                    f"(SQLStore.make_engine)"
                )
            return True
        if _meta.name not in found:
            raise StoreError(
                f"{where} holds the ledger tables {_names(ours)} but no {_meta.name}, so "
                f"its schema version is unknown; it was not opened"
            )
        columns = inspector.get_multi_columns(schema=schema, filter_names=sorted(ours))
        found_columns = {name: {c["name"] for c in cols} for (_, name), cols in columns.items()}
        problem = _column_problem(_meta, found_columns.get(_meta.name, set()))
        if problem:
            raise StoreError(f"{where}: {problem}; it was not opened")
        version = conn.execute(
            sa.select(_meta.c.value).where(_meta.c.key == "schema_version")
        ).scalar_one_or_none()
        if version is None:
            raise StoreError(
                f"{where} holds the ledger tables {_names(ours)} but {_meta.name} has no "
                f"schema_version, so the metadata is incomplete; it was not opened"
            )
        self._check_version(version)
        problems = [
            problem
            for table in metadata.sorted_tables
            if (problem := _column_problem(table, found_columns.get(table.name)))
        ]
        problems += [f"unexpected table {name}" for name in sorted(ours - set(metadata.tables))]
        if problems:
            raise StoreError(
                f"{where} has schema version {version} but its tables are not those of "
                f"that version: {'; '.join(problems)}; it was not opened"
            )
        return False

    # -- calendar years ----------------------------------------------------------------------

    def calendar_years(self) -> list[YearSchedule]:
        with self._reading() as conn:
            rows = conn.execute(
                sa.select(_calendar_years.c.schedule).order_by(_calendar_years.c.year)
            ).scalars()
            return [YearSchedule.from_dict(json.loads(text)) for text in rows]

    def keep_calendar_year(self, schedule: YearSchedule) -> bool:
        text = json.dumps(schedule.to_dict(), ensure_ascii=False, sort_keys=True)
        with self._writing() as conn:
            found = conn.execute(
                sa.select(_calendar_years.c.schedule).where(_calendar_years.c.year == schedule.year)
            ).scalar_one_or_none()
            if found == text:
                return False
            if found is None:
                conn.execute(sa.insert(_calendar_years).values(year=schedule.year, schedule=text))
            else:
                conn.execute(
                    sa.update(_calendar_years)
                    .where(_calendar_years.c.year == schedule.year)
                    .values(schedule=text)
                )
            return True

    @staticmethod
    def _check_version(found: str) -> None:
        try:
            version = int(found)
        except ValueError:
            raise StoreError(
                f"inspection_flow_meta holds schema_version {found!r}, which is not a number; "
                f"this is not a database written by inspection_flow"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"this database has inspection_flow schema version {version}, newer than "
                f"version {SCHEMA_VERSION} that this release understands; upgrade "
                f"inspection-flow before opening it"
            )
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"this database has inspection_flow schema version {version}, older than "
                f"version {SCHEMA_VERSION}; upgrade it first with 'inspection-flow upgrade "
                f"DATABASE' (SQLStore.upgrade), after a backup"
            )

    # -- writing --------------------------------------------------------------------------

    def append(self, commit: Commit) -> tuple[Event, ...]:
        return self._write([commit])[0]

    def append_batch(self, commits: Sequence[Commit]) -> list[tuple[Event, ...]]:
        return self._write(commits)

    def _write(self, commits: Sequence[Commit]) -> list[tuple[Event, ...]]:
        # Rows are built before the transaction: on SQLite the write lock is held from
        # its first statement, and every other writer waits while it is.  A batch larger
        # than a chunk builds them chunk by chunk as it writes (see _write_bulk), so that
        # a write of 100,000 commands never holds all their rows at once.
        prepared: list[_Prepared] = []
        ahead = len(commits) <= _WRITE_CHUNK
        utf8 = self._sqlite
        # Each entity's row is written once, as its last commit of the batch leaves it
        # (see _write_bulk): the rows of the commits before are made only if needed.
        last = (
            {c.snapshot.entity_id: i for i, c in enumerate(commits)}
            if ahead and len(commits) > 1
            else None
        )
        for i, commit in enumerate(commits):
            _check_commit(commit)
            if not ahead:
                prepared.append((commit, None, None))
                continue
            row = (
                None
                if last is not None and last[commit.snapshot.entity_id] != i
                else _projection(commit.snapshot, utf8=utf8)
            )
            prepared.append((commit, row, _event_rows(commit)))
        # A lost race is retried only when the winner was this very command (its result
        # is then returned) or when the store turns out to hold the expected version.
        # A winner that used the same command id for another entity or event is
        # another command: PayloadError, never its events.
        done: dict[str, tuple[Event, ...]] = {}
        cause: Exception | None = None
        for _ in range(3):
            try:
                return self._write_all(prepared, done)
            except _Conflict as conflict:
                commit, cause = conflict.commit, conflict.cause
                with self._reading() as conn:
                    if commit.command_id is not None:
                        first = self._command(conn, commit.command_id)
                        if first is not None:
                            done[commit.command_id] = first_result(commit, first)
                            continue
                    actual = conflict.actual
                    if actual is None:
                        actual = self._version(conn, commit.entity_id)
                if actual != commit.expected_version:
                    raise ConcurrencyError(
                        commit.entity_id, commit.expected_version, actual
                    ) from None
        raise StoreError(
            f"{commits[0].entity_id}: the database kept refusing the write ({cause}); "
            f"retry it, and if it persists run verify()"
        ) from cause

    def _write_all(
        self,
        prepared: list[_Prepared],
        done: dict[str, tuple[Event, ...]],
    ) -> list[tuple[Event, ...]]:
        # A command applied before is not looked up first: its row in if_commands
        # refuses the second insert, and the conflict handling in _write returns the
        # first result (or refuses another command under its id).  That saves a query
        # on every write for a case that is rare.
        results: list[tuple[Event, ...]] = []
        written: dict[str, tuple[Event, ...]] = {}
        todo: list[_Prepared] = []
        for item in prepared:
            commit = item[0]
            command_id = commit.command_id
            if command_id is not None and command_id in done:
                results.append(first_result(commit, done[command_id]))
            elif command_id is not None and command_id in written:
                # Checked before the transaction: the batch is refused as a whole.
                results.append(first_result(commit, written[command_id]))
            else:
                results.append(commit.events)
                todo.append(item)
                if command_id is not None:
                    written[command_id] = commit.events
        if len(todo) > 1:
            try:
                with self._writing() as conn:
                    kept = self._write_bulk(conn, todo)
                self._keep_written(kept)
                return results
            except _Redo:
                pass
        if len(todo) == 1:
            commit, row, event_rows = todo[0]
            if row is None:
                row = _projection(commit.snapshot, utf8=self._sqlite)
            if event_rows is None:
                event_rows = _event_rows(commit)
            if self._write_alone(commit, row, event_rows):
                self._keep_written([_written(commit, row)])
                return results
            todo[0] = (commit, row, event_rows)
        # One by one, each commit writes its own row.
        kept = []
        with self._writing() as conn:
            for commit, row, event_rows in todo:
                if row is None:
                    row = _projection(commit.snapshot, utf8=self._sqlite)
                if event_rows is None:
                    event_rows = _event_rows(commit)
                self._write_one(conn, commit, row, event_rows)
                kept.append(_written(commit, row))
        self._keep_written(kept)
        return results

    def _keep_written(self, kept: Iterable[_Kept]) -> None:
        # Kept with the text written: a later read uses it only if it finds that text
        # (a caller's transaction rolled back, another writer: the text differs).
        for entity_id, key, snapshot, values in kept:
            self._keep(entity_id, key, snapshot, values)

    def _write_bulk(self, conn: sa.Connection, todo: Sequence[_Prepared]) -> list[_Kept]:
        """Write several commits with one statement per table and kind of change, for
        each chunk of them; return what to keep of the rows written (see _keep).

        A statement per row costs far more in the driver and SQLAlchemy than in the
        database, and so does SQLAlchemy's handling of each row's parameters: inserts
        go to the driver as they are (:meth:`_insert_many`).  Rows not built yet are
        built a chunk at a time.  Any conflict (an entity that exists or moved on, a
        command applied before) raises :class:`_Redo`; the transaction is rolled back
        and the commits are written one by one, which tells which of them conflicts.
        """
        # Each entity's row is written once, as its last commit of the batch leaves it,
        # from the version its first commit expected: the commits between carry no row
        # (see _write) and must follow one another.
        last: dict[str, tuple[Commit, dict[str, Any] | None]] = {}
        expected_first: dict[str, int] = {}
        setting_areas: set[str] = set()
        command_rows: list[dict[str, Any]] = []
        events = 0
        for commit, row, _ in todo:
            entity_id = commit.snapshot.entity_id
            before = last.get(entity_id)
            if before is None:
                expected_first[entity_id] = commit.expected_version
            elif commit.expected_version != before[0].snapshot.version:
                # Not the version the batch left (created after it was written, or a
                # commit that skips one): a conflict, found one by one.
                raise _Redo
            last[entity_id] = (commit, row)
            changes = commit.events
            events += len(changes)
            if (
                _sets_areas(changes[0])
                if len(changes) == 1
                else any(_sets_areas(e) for e in changes)
            ):
                setting_areas.add(entity_id)
            if commit.command_id is not None:
                command_rows.append(
                    {
                        "command_id": commit.command_id,
                        "entity_id": entity_id,
                        "first_version": commit.expected_version + 1,
                        "last_version": commit.snapshot.version,
                    }
                )
        kept: list[_Kept] = []
        created = 0
        ids = list(expected_first)
        try:
            # Entities first: the other tables refer to them.
            for k in range(0, len(ids), _WRITE_CHUNK):
                created += self._write_entities(
                    conn, ids[k : k + _WRITE_CHUNK], last, expected_first, setting_areas, kept
                )
            first = _advance_head(conn, events, created, len(command_rows))
            # The events in the batch's order, numbered on from the head.
            for k in range(0, len(todo), _WRITE_CHUNK):
                rows: list[tuple[Any, ...]] = []
                for commit, _, event_rows in todo[k : k + _WRITE_CHUNK]:
                    rows += _event_rows(commit) if event_rows is None else event_rows
                self._insert_events(conn, rows, first)
                first += len(rows)
            self._insert_many(conn, _commands, command_rows)
        except sa.exc.IntegrityError:
            raise _Redo from None
        return kept

    def _write_entities(
        self,
        conn: sa.Connection,
        ids: list[str],
        last: dict[str, tuple[Commit, dict[str, Any] | None]],
        expected_first: dict[str, int],
        setting_areas: set[str],
        kept: list[_Kept],
    ) -> int:
        """Insert or update the rows of the entities ``ids`` as their last commits leave
        them, and their area rows where those change; return how many were inserted."""
        inserts: list[tuple[str, dict[str, Any]]] = []
        # Each update: the columns it sets, the entity's row, its id and expected version.
        updates: list[tuple[tuple[str, ...], dict[str, Any], str, int]] = []
        # The snapshot whose areas each entity's area rows end up holding, and the
        # entities whose stored area rows are replaced.
        areas: dict[str, Snapshot] = {}
        replaced: list[dict[str, Any]] = []
        for entity_id in ids:
            commit, row = last[entity_id]
            if row is None:
                row = _projection(commit.snapshot, utf8=self._sqlite)
            written = _written(commit, row)
            kept.append(written)
            expected = expected_first[entity_id]
            if expected == 0:
                inserts.append((entity_id, row))
                areas[entity_id] = commit.snapshot
                continue
            names, known = self._to_set(entity_id, expected, written[3])
            updates.append((names, row, entity_id, expected))
            if entity_id in setting_areas and not (
                # Set to the areas the entity had (a case assigned to the area it was
                # received for): its area rows stay as they are.
                known is not None and set(known.areas) == set(commit.snapshot.areas)
            ):
                replaced.append({"b_entity_id": entity_id})
                areas[entity_id] = commit.snapshot
        self._insert_entities(conn, inserts)
        if updates:
            # One statement per set of columns changed.
            groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
            for update in updates:
                groups.setdefault(update[0], []).append(update)
            for columns, group in groups.items():
                if conn.dialect.supports_sane_multi_rowcount:
                    if self._update_many(conn, columns, group) != len(group):
                        raise _Redo
                else:
                    for update in group:
                        if self._update_many(conn, columns, [update]) != 1:
                            raise _Redo
        if replaced:
            self._delete_areas(conn, replaced)
        area_rows = [
            {"entity_id": entity_id, "area": a}
            for entity_id, snapshot in areas.items()
            for a in sorted(set(snapshot.areas))
        ]
        self._insert_many(conn, _entity_areas, area_rows)
        return len(inserts)

    def _to_set(
        self, entity_id: str, expected: int, after: tuple[Any, ...]
    ) -> tuple[tuple[str, ...], Snapshot | None]:
        """The columns an update of the entity from version ``expected`` sets, ``after``
        the values of its new row's columns :data:`_KEPT_UNLESS_CHANGED`, and the
        snapshot of that version the store keeps, if it does."""
        known = self._decoded.get(entity_id)
        if known is None or known[1].version != expected:
            return _ALL_SET, None
        # The row holds the columns of the version kept (the update matches only that
        # version): the columns left as they are spare their conversion, and an index's
        # entry its rewrite.
        before = known[2]
        if before is None:
            before = _kept_values(_columns(known[1]))
        changed = tuple(map(operator.ne, before, after))
        names = _SET_WHEN.get(changed)
        if names is None:
            names = _SET_WHEN[changed] = (
                *[n for n, differs in zip(_KEPT_UNLESS_CHANGED, changed, strict=True) if differs],
                *_ALWAYS_SET,
            )
        return names, known[1]

    def _insert_many(
        self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> None:
        """Insert ``rows`` (dicts with the same keys) with one ``executemany`` of the driver.

        SQLAlchemy's processing of each row's parameters costs more than the database's
        insert; here only the columns whose type converts values (instants, booleans)
        are converted, with the conversion the type makes, so the rows stored are the same.
        """
        if not rows:
            return
        dialect = conn.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        if mark is None or conn.get_execution_options().get("schema_translate_map"):
            # A driver taking other placeholders, or tables the caller maps elsewhere.
            conn.execute(sa.insert(table), rows)
            return
        names = tuple(rows[0])
        sql, converters = self._plan(conn, table, names)
        params: list[tuple[Any, ...]] = []
        for row in rows:
            values = [row[n] for n in names]
            for i, convert in converters:
                value = values[i]
                if value is not None:
                    values[i] = convert(value)
            params.append(tuple(values))
        sql, params = self._nulls_written(
            sql, params, table, names, len(names), lambda n: self._plan(conn, table, names, n)
        )
        if len(params) == 1:
            _driver(conn, sql, params[0])
        else:
            conn.exec_driver_sql(sql, params)

    def _insert_entities(self, conn: sa.Connection, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Insert new entities (each its id and its row of :func:`_projection`) as
        :meth:`_insert_many` inserts, each row's values taken in the order the rows hold
        their columns (one order: :func:`_projection` makes every row)."""
        if not rows:
            return
        mark = _PLACEHOLDERS.get(conn.dialect.paramstyle)
        if mark is None or conn.get_execution_options().get("schema_translate_map"):
            self._insert_many(
                conn, _entities, _text_rows([{"entity_id": i, **row} for i, row in rows])
            )
            return
        names = ("entity_id", *rows[0][1])
        sql, converters = self._plan(conn, _entities, names)
        params: list[tuple[Any, ...]] = []
        for entity_id, row in rows:
            values = [entity_id, *row.values()]
            for i, convert in converters:
                value = values[i]
                if value is not None:
                    values[i] = convert(value)
            params.append(tuple(values))
        sql, params = self._nulls_written(
            sql,
            params,
            _entities,
            names,
            len(names),
            lambda n: self._plan(conn, _entities, names, n),
        )
        if len(params) == 1:
            _driver(conn, sql, params[0])
        else:
            conn.exec_driver_sql(sql, params)

    def _plan(
        self,
        conn: sa.Connection,
        table: sa.Table,
        names: tuple[str, ...],
        nulls: tuple[int, ...] = (),
    ) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
        """The driver's INSERT of ``names`` into ``table``, with the converters of its
        columns by position; made once.  The columns at the positions ``nulls`` are
        written as the literal NULL, without a parameter (see :func:`_bound_nulls`)."""
        key = (table.name, names, nulls) if nulls else (table.name, names)
        plan = self._insert_plans.get(key)
        if plan is None:
            dialect = conn.dialect
            mark = _PLACEHOLDERS[dialect.paramstyle]
            quote = dialect.identifier_preparer
            marks = ", ".join(
                "NULL" if i in nulls else _value_mark(dialect, table, n, mark)
                for i, n in enumerate(names)
            )
            sql = (
                f"INSERT INTO {quote.format_table(table)} "
                f"({', '.join(quote.quote(n) for n in names)}) VALUES ({marks})"
            )
            converters: list[tuple[int, Callable[[Any], Any]]] = []
            for i, name in enumerate(names):
                convert = _binder(table.c[name], dialect)
                if convert is not None:
                    converters.append((i, convert))
            plan = self._insert_plans[key] = (sql, converters)
        return plan

    def _nulls_written(
        self,
        sql: str,
        params: list[tuple[Any, ...]],
        table: sa.Table,
        names: tuple[str, ...],
        width: int,
        plan: Callable[[tuple[int, ...]], tuple[str, Any]],
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """On SQLite, ``sql`` and its rows ``params`` (``width`` values each, the first
        for the columns ``names`` of ``table``) with the columns empty in every row
        written as the literal NULL (see :func:`_bound_nulls`): the statement ``plan``
        makes for those positions, and the rows without them.  Elsewhere, as given."""
        if not self._sqlite:
            return sql, params
        key = (table.name, names)
        nullable = self._nullables.get(key)
        if nullable is None:
            nullable = self._nullables[key] = tuple(
                i for i, n in enumerate(names) if table.c[n].nullable
            )
        nulls, params = _bound_nulls(params, nullable, width)
        return (plan(nulls)[0] if nulls else sql), params

    def _insert_events(self, conn: sa.Connection, rows: list[tuple[Any, ...]], first: int) -> None:
        """Insert event rows (:func:`_event_values`), numbered from ``first``, with one
        ``executemany`` of the driver."""
        if not rows:
            return
        if self._checkpoints is not None:
            info = conn.info
            info[_EVENTS_WRITTEN] = info.get(_EVENTS_WRITTEN, 0) + len(rows)
        dialect = conn.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        names = (*_EVENT_COLUMNS, "seq")
        if mark is None or conn.get_execution_options().get("schema_translate_map"):
            conn.execute(
                sa.insert(_events),
                [dict(zip(names, (*row, first + i), strict=True)) for i, row in enumerate(rows)],
            )
            return
        sql, converters = self._plan(conn, _events, names)
        ((at, convert),) = converters
        assert at == len(_EVENT_COLUMNS) - 1
        # Concatenated: a third faster than unpacking into a new tuple.
        params = [row[:at] + (convert(row[at]), first + i) for i, row in enumerate(rows)]  # noqa: RUF005
        sql, params = self._nulls_written(
            sql, params, _events, names, len(names), lambda n: self._plan(conn, _events, names, n)
        )
        if len(params) == 1:
            _driver(conn, sql, params[0])
        else:
            conn.exec_driver_sql(sql, params)

    def _advance_inserting(
        self,
        conn: sa.Connection,
        rows: list[tuple[Any, ...]],
        entities: int,
        command: tuple[str, str, int, int] | None,
        update: tuple[tuple[str, ...], dict[str, Any], str, int] | None = None,
        *,
        created: tuple[str, dict[str, Any], Sequence[str]] | None = None,
        alone: bool = False,
    ) -> bool | None:
        """On PostgreSQL, update the entity's row if ``update`` is given (the columns to
        set, a row of :func:`_projection`, the entity's id and expected version), or
        insert a new entity's row and its area rows if ``created`` is (its id, its row of
        :func:`_projection`, its areas), count a
        command's events, entity and command in the ledger's head, insert its event rows
        (:func:`_event_values`), numbered on from the head, and its command's row
        (``command``: id, entity, first and last version) if it has an id, with one
        statement: a command's write makes up to three round trips less to the server.
        Return True when written, False when the entity's row was not at the expected
        version (nothing is counted or inserted then), and None where the store writes
        them one by one (another database, tables the caller maps elsewhere).

        Each write is a data-modifying WITH.  The head's update reads the entity's (it
        runs only if the entity's row matched), so a command locks the entity's row before
        the head's, as every write of the store does; the INSERT reads the head's count,
        so the events are numbered by the head their transaction locks, as
        :func:`_advance_head` numbers them.  The command's row is inserted where the head's
        update ran (the entity's row matched), whether or not it is read: a command id
        used before fails the statement with the unique violation its own INSERT would
        raise.  A statement run ``alone`` (an update in autocommit, see
        :meth:`_write_alone`) has committed when it returns.
        """
        if (
            not rows
            or conn.dialect.name != "postgresql"
            or _PLACEHOLDERS.get(conn.dialect.paramstyle) != "%s"
            or conn.get_execution_options().get("schema_translate_map")
        ):
            return None
        names_set = update[0] if update is not None else ()
        new_areas = sorted(set(created[2])) if created is not None else []
        new_names = ("entity_id", *created[1]) if created is not None else ()
        key = (
            "HEAD+EVENTS",
            (
                str(len(rows)),
                "command" if command is not None else "",
                *names_set,
                f"created with {len(new_areas)} areas" if created is not None else "",
                *new_names,
                "alone" if alone else "",
            ),
        )
        plan = self._insert_plans.get(key)
        if plan is None:
            quote = conn.dialect.identifier_preparer
            names = (*_EVENT_COLUMNS, "seq")
            marks = ", ".join(["%s"] * len(_EVENT_COLUMNS))
            last = len(rows) - 1
            selects = " UNION ALL ".join(
                f"SELECT {marks}, head.events - {last - i} FROM head" for i in range(len(rows))
            )
            # The command's row is made from the head's update, as the events are: where
            # the entity's row did not match, the statement writes no command row either
            # (committed on its own, it would leave the id used by a command never
            # applied).
            applied = (
                f", applied AS (INSERT INTO {quote.format_table(_commands)} "
                f"({', '.join(_COMMAND_COLUMNS)}) SELECT %s, %s, %s, %s FROM head)"
                if command is not None
                else ""
            )
            entity = matched = ""
            if update is not None:
                sets = ", ".join(f"{quote.quote(n)} = %s" for n in names_set)
                entity = (
                    f"entity AS (UPDATE {quote.format_table(_entities)} SET {sets} "
                    "WHERE entity_id = %s AND version = %s RETURNING 1), "
                )
                matched = " AND EXISTS (SELECT 1 FROM entity)"
            elif created is not None:
                entity = (
                    f"entity AS (INSERT INTO {quote.format_table(_entities)} "
                    f"({', '.join(quote.quote(n) for n in new_names)}) "
                    f"VALUES ({', '.join(['%s'] * len(new_names))}) RETURNING 1), "
                )
                if new_areas:
                    entity += (
                        f"areas AS (INSERT INTO {quote.format_table(_entity_areas)} "
                        "(entity_id, area) VALUES "
                        f"{', '.join(['(%s, %s)'] * len(new_areas))}), "
                    )
                matched = " AND EXISTS (SELECT 1 FROM entity)"
            # One row: whether the entity's row matched, and the last event's number
            # (none if the head's row is missing).
            sql = (
                f"WITH {entity}head AS (UPDATE {quote.format_table(_head)} SET "
                "events = events + %s, entities = entities + %s, commands = commands + %s "
                f"WHERE id = 1{matched} RETURNING events){applied}, "
                f"inserted AS (INSERT INTO {quote.format_table(_events)} "
                f"({', '.join(quote.quote(n) for n in names)}) {selects} RETURNING seq) "
                f"SELECT {'(SELECT count(*) FROM entity)' if entity else '1'}, "
                "(SELECT max(seq) FROM inserted)"
            )
            if alone:
                # Committed on its own, the statement must fail, writing nothing, where
                # the entity's row was written but no event (the head's row is gone):
                # the cast of the text fails.  The text is made from a subquery, so
                # that the planner cannot fold the cast into an error of every run.
                sql += (
                    ", CASE WHEN EXISTS (SELECT 1 FROM entity) AND NOT EXISTS "
                    "(SELECT 1 FROM inserted) THEN CAST(concat("
                    f"'{_NO_HEAD_MARK} ', (SELECT count(*) FROM entity)) AS integer) END"
                )
            plan = self._insert_plans[key] = (sql, self._plan(conn, _events, names)[1])
        sql, converters = plan
        ((at, convert),) = converters
        params: list[Any] = []
        if update is not None:
            params += _set_values(update, self._update_plan(conn.dialect, update[0])[1])
        elif created is not None:
            new_id, new_row, _ = created
            values = [new_id, *new_row.values()]
            for i, convert_new in self._plan(conn, _entities, new_names)[1]:
                if values[i] is not None:
                    values[i] = convert_new(values[i])
            params += values
            for area in new_areas:
                params += (new_id, area)
        params += (len(rows), entities, 0 if command is None else 1)
        if command is not None:
            params += command
        for row in rows:
            params += row[:at]
            params.append(convert(row[at]))
        ((matched, last, *_),) = _driver(conn, sql, params, fetch=True)
        if not matched:
            return False
        if last is None:
            raise StoreError(_NO_HEAD)
        last_seq = int(last)
        before = last_seq - len(rows)
        if last_seq // _LATEST_EVERY != before // _LATEST_EVERY:
            if alone:
                self._keep_latest_alone(before)
            else:
                # As _advance_head: the head's row is locked by this transaction.
                _keep_latest(conn, before)
        return True

    def _keep_latest_alone(self, upto: int) -> None:
        """Bring ``latest_at`` up to the first ``upto`` events after a statement that
        committed on its own: in a transaction of its own holding the head's row, as a
        writer holds it, so that two such keepings cannot write it out of order.  The
        command is written whatever happens here: a keeping that fails is made by the
        next write that passes a multiple of :data:`_LATEST_EVERY` (from the events the
        ledger's latest time was kept for), so its error is not the command's."""
        with contextlib.suppress(StoreError), self._writing() as conn:
            conn.execute(sa.select(_head.c.events).where(_head.c.id == 1).with_for_update())
            _keep_latest(conn, upto)

    def _update_many(
        self,
        conn: sa.Connection,
        names: tuple[str, ...],
        updates: Sequence[tuple[Any, dict[str, Any], str, int]],
    ) -> int:
        """Set the columns ``names`` of entities (each update: the columns, a row of
        :func:`_projection`, the entity's id and expected version) with one
        ``executemany`` of the driver, as :meth:`_insert_many` inserts; return how many
        rows matched their expected version."""
        dialect = conn.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        if mark is None or conn.get_execution_options().get("schema_translate_map"):
            # The statement sets the columns each row names.
            keyed = [
                {**{n: row[n] for n in names}, "b_entity_id": entity_id, "b_expected": expected}
                for _, row, entity_id, expected in updates
            ]
            if "snapshot" in names:
                keyed = _text_rows(keyed)
            return int(conn.execute(_UPDATE_ENTITY, keyed).rowcount)
        sql, converters = self._update_plan(dialect, names)
        params = [_set_values(update, converters) for update in updates]
        # The two values after the columns' (the id and the expected version) are never NULL.
        sql, params = self._nulls_written(
            sql,
            params,
            _entities,
            names,
            len(names) + 2,
            lambda n: self._update_plan(dialect, names, n),
        )
        if len(params) == 1:
            return int(_driver(conn, sql, params[0]))
        return int(conn.exec_driver_sql(sql, params).rowcount)

    def _update_plan(
        self, dialect: Dialect, names: tuple[str, ...], nulls: tuple[int, ...] = ()
    ) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
        """The driver's UPDATE of the entity's columns ``names`` at its expected version
        (see :meth:`_update_many`), with the converters of those columns by position;
        made once.  The columns at the positions ``nulls`` are set to the literal NULL,
        without a parameter (see :func:`_bound_nulls`)."""
        key = ("UPDATE", names, nulls) if nulls else ("UPDATE", names)
        plan = self._insert_plans.get(key)
        if plan is None:
            mark = _PLACEHOLDERS[dialect.paramstyle]
            quote = dialect.identifier_preparer
            sets = ", ".join(
                f"{quote.quote(n)} = "
                + ("NULL" if i in nulls else _value_mark(dialect, _entities, n, mark))
                for i, n in enumerate(names)
            )
            sql = (
                f"UPDATE {quote.format_table(_entities)} SET {sets} "
                f"WHERE {quote.quote('entity_id')} = {mark} AND {quote.quote('version')} = {mark}"
            )
            converters: list[tuple[int, Callable[[Any], Any]]] = []
            for i, name in enumerate(names):
                convert = _binder(_entities.c[name], dialect)
                if convert is not None:
                    converters.append((i, convert))
            plan = self._insert_plans[key] = (sql, converters)
        return plan

    def _plan_one(
        self, commit: Commit, row: dict[str, Any]
    ) -> tuple[
        tuple[str, str, int, int] | None,
        tuple[tuple[str, ...], dict[str, Any], str, int] | None,
        bool,
    ]:
        """How one commit writes: its command's row (id, entity, first and last
        version), if it has an id; the update of its entity's row (the columns to set,
        ``row``, the entity's id and expected version), or None for a new entity; and
        whether its entity's area rows are written."""
        entity_id = commit.entity_id
        snapshot = commit.snapshot
        command = (
            None
            if commit.command_id is None
            else (commit.command_id, entity_id, commit.expected_version + 1, snapshot.version)
        )
        if commit.expected_version == 0:
            return command, None, True
        # The version check and the write are one statement, so two writers holding
        # the same version cannot both succeed, whatever the isolation level.
        names, known = self._to_set(entity_id, commit.expected_version, _kept_values(row))
        # An entity's areas change only through an event that sets them (see fold), so
        # the area rows are rewritten only then, and not when it is set to the areas it
        # had (a case assigned to the area it was received for).
        areas = any(_sets_areas(e) for e in commit.events) and not (
            known is not None and set(known.areas) == set(snapshot.areas)
        )
        return command, (names, row, entity_id, commit.expected_version), areas

    def _write_alone(
        self, commit: Commit, row: dict[str, Any], event_rows: list[tuple[Any, ...]]
    ) -> bool:
        """Write one commit as a statement on its own, outside any transaction, where it
        is one statement: on PostgreSQL, on the connection a block holding reads keeps
        in autocommit (a command's or a receipt's read, then its write), a commit that
        creates its entity, or updates its entity's row without rewriting its area rows.
        The statement is atomic on its own, as a transaction of one statement is, and the
        round trips of ``BEGIN`` and ``COMMIT`` are spared.  Return False where it is not
        one statement (it is then written in a transaction, as ever)."""
        held = self._held_conn
        if (
            self._sqlite
            or held is None
            or self._read_only
            or self._connection is not None
            or held.in_transaction()
            or held.dialect.name != "postgresql"
        ):
            return False
        driver: Any = held.connection.driver_connection
        level = driver.isolation_level
        if not driver.autocommit or (level is not None and level.name != "READ_COMMITTED"):
            # An engine set to a stricter isolation level writes in a transaction at it.
            return False
        command, update, areas = self._plan_one(commit, row)
        if update is not None and areas:
            return False
        try:
            if update is None:
                # A new entity (a receipt): its row and area rows with the rest; an id in
                # use fails the statement with the unique violation, writing nothing.
                created = (commit.entity_id, row, commit.snapshot.areas)
                done = self._advance_inserting(
                    held, event_rows, 1, command, created=created, alone=True
                )
            else:
                done = self._advance_inserting(held, event_rows, 0, command, update, alone=True)
        except sa.exc.IntegrityError as exc:
            raise _Conflict(commit, cause=exc) from None
        except sa.exc.DBAPIError as exc:
            if _NO_HEAD_MARK in str(exc.orig):
                raise StoreError(_NO_HEAD) from None
            raise _refused(exc) from exc
        if done is None:
            return False
        if not done:
            # Nothing was written; the entity's version is read again by _write.
            raise _Conflict(commit)
        return True

    def _write_one(
        self,
        conn: sa.Connection,
        commit: Commit,
        row: dict[str, Any],
        event_rows: list[tuple[Any, ...]],
    ) -> tuple[Event, ...]:
        entity_id = commit.entity_id
        snapshot = commit.snapshot
        command, update, areas = self._plan_one(commit, row)
        if update is None:
            # A new entity: its row, its area rows, the head, the events and the command
            # in one statement where the database takes it (an id in use fails it with
            # the unique violation the entity's own INSERT would raise).
            try:
                if self._advance_inserting(
                    conn, event_rows, 1, command, created=(entity_id, row, snapshot.areas)
                ):
                    return commit.events
                self._insert_entities(conn, [(entity_id, row)])
            except sa.exc.IntegrityError as exc:
                raise _Conflict(commit, cause=exc) from None
        if update is not None and not areas:
            # The entity's row, the head, the events and the command in one statement
            # where the database takes it.
            try:
                done = self._advance_inserting(conn, event_rows, 0, command, update)
            except sa.exc.IntegrityError as exc:
                raise _Conflict(commit, cause=exc) from None
            if done is not None:
                if not done:
                    raise _Conflict(commit, self._version(conn, entity_id))
                return commit.events
        if update is not None and self._update_many(conn, update[0], [update]) != 1:
            raise _Conflict(commit, self._version(conn, entity_id))
        if areas:
            self._write_areas(conn, snapshot, replace=commit.expected_version != 0)
        created = 1 if commit.expected_version == 0 else 0
        try:
            if self._advance_inserting(conn, event_rows, created, command):
                return commit.events
            first = _advance_head(conn, len(event_rows), created, 0 if command is None else 1)
            self._insert_events(conn, event_rows, first)
            if command is not None:
                self._insert_many(
                    conn, _commands, [dict(zip(_COMMAND_COLUMNS, command, strict=True))]
                )
        except sa.exc.IntegrityError as exc:
            raise _Conflict(commit, cause=exc) from None
        return commit.events

    def _write_areas(self, conn: sa.Connection, snapshot: Snapshot, *, replace: bool) -> None:
        if replace:
            self._delete_areas(conn, [{"b_entity_id": snapshot.entity_id}])
        areas = sorted(set(snapshot.areas))
        if areas:
            self._insert_many(
                conn, _entity_areas, [{"entity_id": snapshot.entity_id, "area": a} for a in areas]
            )

    def _delete_areas(self, conn: sa.Connection, ids: list[dict[str, Any]]) -> None:
        """Delete the area rows of the entities ``ids`` (each ``{"b_entity_id": id}``), on
        the driver as :meth:`_insert_many` inserts: SQLAlchemy's machinery around one
        statement cost a command on PostgreSQL more than the database's work."""
        dialect = conn.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        if mark is None or conn.get_execution_options().get("schema_translate_map"):
            conn.execute(_DELETE_AREAS, ids)
            return
        plan = self._insert_plans.get(("DELETE", ("entity_id",)))
        if plan is None:
            quote = dialect.identifier_preparer
            sql = (
                f"DELETE FROM {quote.format_table(_entity_areas)} "
                f"WHERE {quote.quote('entity_id')} = {mark}"
            )
            plan = self._insert_plans[("DELETE", ("entity_id",))] = (sql, [])
        sql = plan[0]
        if len(ids) == 1:
            _driver(conn, sql, (ids[0]["b_entity_id"],))
        else:
            conn.exec_driver_sql(sql, [(i["b_entity_id"],) for i in ids])

    # -- reading --------------------------------------------------------------------------

    @staticmethod
    def _version(conn: sa.Connection, entity_id: str) -> int:
        found = conn.execute(_SELECT_VERSION, {"b_entity_id": entity_id}).scalar_one_or_none()
        return int(found) if found is not None else 0

    @staticmethod
    def _events(
        conn: sa.Connection, entity_id: str, first: int = 1, last: int | None = None
    ) -> list[Event]:
        rows = conn.execute(
            _SELECT_EVENTS,
            {
                "b_entity_id": entity_id,
                "b_first": first,
                "b_last": last if last is not None else 2**31 - 1,
            },
        )
        return [_decode_event(row) for row in rows]

    def _command(self, conn: sa.Connection, command_id: str) -> tuple[Event, ...] | None:
        row = conn.execute(_SELECT_COMMAND, {"b_command_id": command_id}).one_or_none()
        if row is None:
            return None
        return tuple(self._events(conn, row.entity_id, row.first_version, row.last_version))

    def _snapshots(self, query: sa.Select[Any]) -> list[Snapshot]:
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [
            _decode_snapshot(r.entity_id, r.version, r.snapshot, utf8=self._sqlite) for r in rows
        ]

    def get(self, entity_id: str) -> Snapshot | None:
        if self._held is None and self._connection is None:
            # One connection of the driver, without SQLAlchemy's machinery around it.
            with self._holding(writable=False):
                return self._get(entity_id)
        return self._get(entity_id)

    def _get(self, entity_id: str) -> Snapshot | None:
        held = self._held
        if held is not None:
            assert self._raw_reads is not None
            rows = self._read_raw(self._raw_reads[0], (entity_id,))
            row = rows[0] if rows else None
        else:
            with self._reading() as conn:
                row = conn.execute(_SELECT_SNAPSHOT, {"b_entity_id": entity_id}).one_or_none()
        return None if row is None else self._snapshot(row[0], row[1], row[2])

    def _snapshot(self, entity_id: str, version: Any, text: Any) -> Snapshot:
        """Decode a stored snapshot, or return the one decoded or written from that text."""
        known = self._decoded.get(entity_id)
        if known is not None and known[0] == _text_key(text):
            return known[1]
        snap = _decode_snapshot(entity_id, version, text, utf8=self._sqlite)
        self._remember(entity_id, text, snap)
        return snap

    def _remember(self, entity_id: str, text: str, snap: Snapshot) -> None:
        self._keep(entity_id, _text_key(text), snap, None)

    def _keep(
        self,
        entity_id: str,
        key: int | None,
        snap: Snapshot,
        values: tuple[Any, ...] | None,
    ) -> None:
        """Keep ``snap`` as what the entity's stored text of ``key`` decodes to, with the
        values of its columns kept unless changed if known (``values``)."""
        decoded = self._decoded
        decoded.pop(entity_id, None)
        if key is None:
            return
        if len(decoded) >= _DECODED:
            decoded.popitem(last=False)
        decoded[entity_id] = (key, snap, values)

    def commands_used(self, command_ids: Collection[str]) -> set[str]:
        """Those of ``command_ids`` that were applied: one query per 500 ids."""
        wanted = list(dict.fromkeys(command_ids))
        used: set[str] = set()
        held = self._held
        if held is not None:
            # Inside a block holding reads (an import): on the held connection.
            assert self._raw_reads is not None
            assert self._raw_commands is not None
            mark = self._raw_reads[2]
            for k in range(0, len(wanted), _MANY):
                part = wanted[k : k + _MANY]
                sql = f"{self._raw_commands} IN ({', '.join([mark] * len(part))})"
                used.update(row[0] for row in self._read_raw(sql, part))
            return used
        with self._reading() as conn:
            for k in range(0, len(wanted), _MANY):
                query = sa.select(_commands.c.command_id).where(
                    _commands.c.command_id.in_(wanted[k : k + _MANY])
                )
                used.update(conn.execute(query).scalars())
        return used

    def get_many(self, entity_ids: Collection[str]) -> dict[str, Snapshot]:
        """Return the snapshots of those of ``entity_ids`` that exist, by id: one query per
        500 ids."""
        wanted = list(dict.fromkeys(entity_ids))
        if not wanted:
            return {}
        with self._holding(writable=False):
            held = self._held
            rows: list[Any] = []
            for k in range(0, len(wanted), _MANY):
                part = wanted[k : k + _MANY]
                if held is not None:
                    assert self._raw_reads is not None
                    _, select, mark = self._raw_reads
                    sql = f"{select} IN ({', '.join([mark] * len(part))})"
                    rows += self._read_raw(sql, part)
                else:
                    query = _select_snapshots().where(_entities.c.entity_id.in_(part))
                    with self._reading() as conn:
                        rows += conn.execute(query).all()
        return {row[0]: self._snapshot(row[0], row[1], row[2]) for row in rows}

    def _read_raw(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a read with the held cursor of the driver (the block's, which a read may
        replace: see :meth:`_reconnected`); return its rows."""
        cursor = self._held
        try:
            if self._share_reads:
                self._share_read(cursor)
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())
        except self._engine.dialect.loaded_dbapi.Error as exc:
            if self._reconnected():
                return self._read_raw(sql, params)
            raise StoreError(f"the database could not be read: {exc}") from exc

    def _reconnected(self) -> bool:
        """Whether the kept connection a read of the block failed on was lost (the
        server ended it: a restart, an idle timeout) outside a transaction, and the
        block now holds a new one: the read is then run again, as it would have run on
        a connection checked out for the block, and so are the block's later reads.  A
        connection lost inside a transaction is not replaced: the transaction is lost
        with it."""
        kept = self._kept
        if kept is None or kept[1] != os.getpid():
            return False
        conn = kept[0]
        driver: Any = conn.connection.driver_connection
        if not driver.closed or conn.in_transaction():
            return False
        writable = self._held_conn is not None
        self._release_kept()
        fresh = self._kept_connection()
        self._held = _kept_cursor(fresh.info, fresh.connection.driver_connection)
        self._held_conn = fresh if writable else None
        return True

    def _share_read(self, cursor: Any) -> None:
        """Open the read transaction the next read on the held cursor runs in, on a
        SQLite file in write-ahead logging (where a reader keeps no writer waiting; with
        a rollback journal it would hold a lock that every writer waits for).

        The block's first read runs on its own (a single command reads once, then
        writes); the later ones share a read transaction, :data:`_READS_TOGETHER` at
        most, so that a long block does not keep the log from being copied into the
        file for long.  Reads in one transaction see the ledger as it was when it
        began: a command planned on an entity that another writer changed meanwhile is
        refused at the write, as it is when the change comes after the read.
        """
        shared = self._shared_reads
        if shared < 0:
            self._shared_reads = 0
        elif shared == 0 or shared >= _READS_TOGETHER:
            if shared:
                cursor.execute("COMMIT")
            cursor.execute("BEGIN")
            self._shared_reads = 1
        else:
            self._shared_reads = shared + 1

    def _end_shared_reads(self) -> None:
        """End the held cursor's read transaction, if one is open (before a write on
        its connection, and when the block ends)."""
        if self._shared_reads > 0:
            self._shared_reads = 0
            try:
                self._held.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"the database could not be read: {exc}") from exc

    @contextlib.contextmanager
    def holding_reads(self) -> Iterator[None]:
        """Keep one connection of the driver for the point reads of the block.

        A point read through SQLAlchemy costs several times the database's own work (a
        check-out from the pool, the statement's machinery); :meth:`get` and
        :meth:`get_many` inside the block run on one connection without either.  Each
        read runs on its own and sees what is committed, but on a SQLite file in
        write-ahead logging, where the reads after the first share a read transaction,
        a bounded number at a time (see :meth:`_share_read`).  A write inside the block
        runs on that connection too (a command's read, then its write), after the
        reads' transaction ends.  A store given a connection, or an engine whose tables
        are mapped elsewhere, reads as always.
        """
        with self._holding(writable=True):
            yield

    @contextlib.contextmanager
    def _holding(self, *, writable: bool) -> Iterator[None]:
        """:meth:`holding_reads`; a connection of SQLAlchemy around the driver's only if
        the block may write on it (``writable``): a single read outside a block is about
        a third cheaper without."""
        if self._held is not None or self._connection is not None:
            yield
            return
        dialect = self._engine.dialect
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        if mark is None or self._engine.get_execution_options().get("schema_translate_map"):
            yield
            return
        if self._raw_reads is None:
            table = dialect.identifier_preparer.format_table(_entities)
            snapshot = "CAST(snapshot AS BLOB)" if self._sqlite else "snapshot"
            select = f"SELECT entity_id, version, {snapshot} FROM {table} WHERE entity_id"
            self._raw_reads = (f"{select} = {mark}", select, mark)
            commands = dialect.identifier_preparer.format_table(_commands)
            self._raw_command = f"SELECT 1 FROM {commands} WHERE command_id = {mark}"
            self._raw_commands = f"SELECT command_id FROM {commands} WHERE command_id"
        if self._keeps:
            yield from self._holding_kept(writable=writable)
            return
        conn: sa.Connection | None = None
        try:
            if writable:
                conn = self._engine.connect()
                raw = conn.connection
            else:
                raw = self._engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"the database could not be read: {exc.orig}") from exc
        driver: Any = raw.driver_connection
        autocommit = None
        try:
            if dialect.name == "postgresql":
                # Each read on its own, as _reading does: no transaction left open.
                autocommit = driver.autocommit
                driver.autocommit = True
            self._held = _kept_cursor(raw.info, driver)
            self._held_conn = conn
            self._shared_reads = -1
            try:
                yield
            except BaseException:
                # The block's own error is the one to report; the connection goes back
                # to the pool, which ends whatever transaction it holds.
                with contextlib.suppress(StoreError):
                    self._end_shared_reads()
                raise
            self._end_shared_reads()
        finally:
            self._held = None
            self._held_conn = None
            self._shared_reads = -1
            try:
                if autocommit is not None:
                    driver.autocommit = autocommit
            finally:
                (raw if conn is None else conn).close()

    def _holding_kept(self, *, writable: bool) -> Iterator[None]:
        """:meth:`_holding` on the connection kept between blocks (PostgreSQL, an engine
        of the store's own): in autocommit, so that each read and each one-statement
        write commits on its own, as on a connection checked out for the block.

        A command outside a batch is a block of its own; checking a connection out of
        the pool and back in, and setting its autocommit both ways, cost a command
        about a sixth of its client CPU.  Kept idle, the connection holds no lock and no
        snapshot on the server; the pool would keep it open all the same.  It goes back
        to the pool when a block ends with an error (whatever the error left on it) or
        with a transaction open, and when the store closes.
        """
        conn = self._kept_connection()
        self._held = _kept_cursor(conn.info, conn.connection.driver_connection)
        self._held_conn = conn if writable else None
        self._shared_reads = -1
        clean = False
        try:
            yield
            clean = True
        finally:
            self._held = None
            self._held_conn = None
            # A read may have replaced the connection (_reconnected).
            kept = self._kept
            if kept is not None and (not clean or not _idle(kept[0])):
                self._release_kept()

    def _kept_connection(self) -> sa.Connection:
        """The connection kept for blocks holding reads, checked out if none is."""
        kept = self._kept
        if kept is not None:
            if kept[1] == os.getpid():
                return kept[0]
            # Checked out by the process this one was forked from: its socket is that
            # process's; never used, closed or returned here (see _FORKED_AWAY).  So
            # are the pool's connections: the engine (the store's own) starts a new
            # pool, leaving the parent's connections to it.
            _FORKED_AWAY.append(kept[0])
            self._kept = None
            self._engine.dispose(close=False)
        try:
            conn = self._engine.connect()
            driver: Any = conn.connection.driver_connection
            autocommit = bool(driver.autocommit)
            driver.autocommit = True
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"the database could not be read: {exc.orig}") from exc
        self._kept = (conn, os.getpid(), autocommit)
        return conn

    def _release_kept(self) -> None:
        """Give the kept connection back to the pool (which ends any transaction left
        on it), with its autocommit as it was checked out."""
        kept, self._kept = self._kept, None
        if kept is None:
            return
        conn, pid, autocommit = kept
        if pid != os.getpid():
            # A forked child's: neither this connection nor the pool's are its own.
            _FORKED_AWAY.append(conn)
            self._engine.dispose(close=False)
            return
        try:
            if not conn.closed and not conn.invalidated:
                driver: Any = conn.connection.driver_connection
                try:
                    if driver.info.transaction_status != _PG_IDLE:
                        driver.rollback()
                    driver.autocommit = autocommit
                except Exception:
                    # Lost, or its autocommit not set back: never handed to another
                    # user of the pool as it is; the pool makes a new one in its place.
                    conn.invalidate()
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()

    def events(self, entity_id: str) -> list[Event]:
        with self._reading() as conn:
            return self._events(conn, entity_id)

    def command(self, command_id: str) -> tuple[Event, ...] | None:
        held = self._held
        if held is not None:
            # Inside a block holding reads (a batch of commands with ids, an import):
            # an id not used before, the usual answer, is told on the held connection.
            assert self._raw_command is not None
            if not self._read_raw(self._raw_command, (command_id,)):
                return None
        with self._reading() as conn:
            return self._command(conn, command_id)

    def find(
        self,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        state: str | Collection[str] | None = None,
        areas: Collection[str] | None = None,
        batch: int | None = None,
        category: str | None = None,
        parent_id: str | None = None,
        open_only: bool = False,
    ) -> list[Snapshot]:
        query = _filtered(
            _select_snapshots(),
            kind=kind,
            round_id=round_id,
            state=state,
            areas=areas,
            batch=batch,
            category=category,
            parent_id=parent_id,
            open_only=open_only,
        )
        return self._snapshots(query.order_by(_entities.c.entity_id))

    def find_pages(
        self,
        *,
        page: int = 2000,
        data_at_most: tuple[str, str] | None = None,
        **filters: Any,
    ) -> Iterator[list[Snapshot]]:
        """Yield :meth:`find`'s answer page by page: the matching ids in one query, then
        each page's rows by their ids when it is asked for (an entity written meanwhile
        is seen in its new state).

        The ids come from the filters' index in one sort; paging after the last id
        instead would sort every matching row again for each page (quadratic in a
        hand-over of 100,000 cases), and filtering each page again would lead the
        database back to that index.  ``data_at_most`` is looked up by SQLite's and
        PostgreSQL's JSON functions, so that the rows it leaves out are not read.
        """
        # Told on the snapshots read where the database cannot read the field itself.
        kept = data_at_most
        with self._reading() as conn:
            dialect = conn.dialect.name
            if data_at_most is None or dialect not in ("sqlite", "postgresql"):
                query = _filtered(sa.select(_entities.c.entity_id), **filters)
                ids = list(conn.execute(query.order_by(_entities.c.entity_id)).scalars())
            else:
                # The field's value comes with each id, read by the database from the
                # snapshot's text, and is told here: the pages read are those kept.
                field, most = data_at_most
                query = _filtered(
                    sa.select(_entities.c.entity_id, _data_json(dialect, field)), **filters
                )
                ids = [
                    entity_id
                    for entity_id, found in conn.execute(query.order_by(_entities.c.entity_id))
                    if at_most(_data_value(dialect, found), most)
                ]
                kept = None
        for k in range(0, len(ids), page):
            part = ids[k : k + page]
            rows: list[Any] = []
            with self._reading() as conn:
                for j in range(0, len(part), _MANY):
                    query = _select_snapshots().where(
                        _entities.c.entity_id.in_(part[j : j + _MANY])
                    )
                    rows += conn.execute(query).all()
            rows.sort(key=lambda r: r.entity_id)
            # Kept with their text, as get() keeps what it reads: a page read to be moved
            # and written back (a hand-over) then updates only the columns that change,
            # and its indexes only where they do (see _write_bulk).
            found = [self._snapshot(r.entity_id, r.version, r.snapshot) for r in rows]
            if kept is not None:
                found = [s for s in found if at_most(s.data.get(kept[0]), kept[1])]
            if found:
                yield found

    def append_chunks(self, chunks: Iterable[Sequence[Commit]]) -> None:
        """Write the chunks in one transaction, each with one statement per table as it
        comes (see :meth:`EventStore.append_chunks`)."""
        failed: list[Commit] = []
        decoded = self._decoded
        held: collections.deque[list[_Kept]] = collections.deque()
        count = 0
        try:
            with self._writing() as conn:
                for chunk in chunks:
                    prepared: list[_Prepared] = []
                    for commit in chunk:
                        _check_commit(commit)
                        if commit.command_id is not None:
                            raise StoreError(
                                f"{commit.entity_id}: append_chunks writes commits without "
                                f"command ids; use append_batch"
                            )
                        row = _projection(commit.snapshot, utf8=self._sqlite)
                        prepared.append((commit, row, _event_rows(commit)))
                    if prepared:
                        failed = list(chunk)
                        written = self._write_bulk(conn, prepared)
                        # Kept with the text written, as append_batch keeps them (if the
                        # transaction is rolled back, the text read later differs), but
                        # only the latest chunks': a streamed write holds one chunk at a
                        # time, and keeping 60,000 snapshots of a 100,000-case hand-over
                        # doubled its peak memory.
                        self._keep_written(written)
                        held.append(written)
                        count += len(written)
                        while count > _STREAM_KEPT and len(held) > 1:
                            older = held.popleft()
                            count -= len(older)
                            for entity_id, _, snapshot, _ in older:
                                entry = decoded.get(entity_id)
                                if entry is not None and entry[1] is snapshot:
                                    del decoded[entity_id]
        except _Redo:
            # The transaction was rolled back: nothing of any chunk is written.
            error = self._append_chunks_conflict(failed)
            if error is not None:
                raise error from None
            raise StoreError(
                f"{failed[0].entity_id}: the database refused the write, and nothing was "
                f"written; retry it, and if it persists run verify()"
            ) from None

    def _append_chunks_conflict(self, commits: Sequence[Commit]) -> ConcurrencyError | None:
        with self._reading() as conn:
            for commit in commits:
                actual = self._version(conn, commit.entity_id)
                if actual != commit.expected_version:
                    return ConcurrencyError(commit.entity_id, commit.expected_version, actual)
        return None

    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        query = _overdue_query(_aware(now, "now"), kind=kind, areas=areas)
        if limit is not None:
            query = query.limit(limit)
        return self._snapshots(query)

    def overdue_ids(self, now: dt.datetime, *, round_id: str | None = None) -> list[str]:
        """The ids of :meth:`overdue` (of ``round_id``), from the index on open
        entities' due times; no snapshot is read."""
        return self._overdue_ids(now, round_id, escalated=False)

    def escalated_ids(self, now: dt.datetime, *, round_id: str | None = None) -> list[str]:
        """The ids of :meth:`overdue_ids` with a step of escalation fired by ``now``, found
        by the database in each snapshot's deadlines (SQLite's and PostgreSQL's JSON
        functions); other databases read the snapshots."""
        return self._overdue_ids(now, round_id, escalated=True)

    def _overdue_ids(self, now: dt.datetime, round_id: str | None, *, escalated: bool) -> list[str]:
        at = _aware(now, "now")
        due = _entities.c.next_due_at
        query = sa.select(_entities.c.entity_id).where(_open, due <= at)
        if round_id is not None:
            query = query.where(_entities.c.round_id == round_id)
        if escalated:
            clause = _ESCALATED.get(self._engine.dialect.name)
            if clause is None:
                return super().escalated_ids(now, round_id=round_id)
            query = query.where(
                _entities.c.snapshot.contains(_FIRED_SOME),
                sa.text(clause).bindparams(b_now=iso(at.astimezone(SHANGHAI))),
            )
        with self._reading() as conn:
            return list(conn.execute(query.order_by(due, _entities.c.entity_id)).scalars())

    def due_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        due = _entities.c.next_due_at
        query = _filtered(
            _select_snapshots().where(
                due > _aware(start, "start"), due <= _aware(end, "end"), _open
            ),
            kind=kind,
            areas=areas,
        )
        query = query.order_by(due, _entities.c.entity_id)
        if limit is not None:
            query = query.limit(limit)
        return self._snapshots(query)

    def due_alerts(self, now: dt.datetime, *, limit: int = 1000) -> list[Snapshot]:
        alert = _entities.c.next_alert_at
        query = (
            _select_snapshots()
            .where(alert <= _aware(now, "now"))
            .order_by(alert, _entities.c.entity_id)
            .limit(limit)
        )
        return self._snapshots(query)

    def claim_due_alerts(
        self,
        now: dt.datetime,
        *,
        worker: str = "",
        limit: int = 100,
        lease: dt.timedelta = dt.timedelta(minutes=5),
    ) -> list[Snapshot]:
        """Lease up to ``limit`` entities with alerts due at ``now`` to ``worker`` for ``lease``.

        Which alerts are due is judged by ``now``, the business time of the sweep; the
        lease is set and checked on the database's clock, so a worker whose ``now`` is
        far ahead or behind, or that died after claiming, holds its entities for
        ``lease`` of real time and no longer.  Another worker's claim skips leased
        entities, so several sweepers split the work; on PostgreSQL the claim locks rows
        with ``FOR UPDATE SKIP LOCKED`` so that concurrent claims never wait for one
        another.  Appending to an entity ends its lease.  Firing an alert exactly once
        does not depend on the lease: a worker that lost the race gets
        :class:`ConcurrencyError` from :meth:`append`.

        Raises:
            StoreError: ``now`` is not timezone-aware, or ``lease`` is not a positive
                timedelta.
        """
        now = _aware(now, "now")
        if not isinstance(lease, dt.timedelta) or lease <= dt.timedelta(0):
            raise StoreError(f"lease must be a positive timedelta, not {lease!r}")
        alert = _entities.c.next_alert_at
        until = _entities.c.claimed_until
        with self._writing() as conn:
            clock, leased_until = _lease_clock(conn.dialect, lease)
            query = (
                sa.select(_entities.c.entity_id)
                .where(alert <= now, sa.or_(until.is_(None), until <= clock))
                .order_by(alert, _entities.c.entity_id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(
                sa.update(_entities)
                .where(_entities.c.entity_id.in_(ids))
                .values(claimed_by=worker, claimed_until=leased_until)
            )
            rows = conn.execute(
                _select_snapshots()
                .where(_entities.c.entity_id.in_(ids))
                .order_by(alert, _entities.c.entity_id)
            ).all()
        return [
            _decode_snapshot(r.entity_id, r.version, r.snapshot, utf8=self._sqlite) for r in rows
        ]

    def counts(
        self,
        by: CountKey,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str | int | None, int]:
        if by not in ("state", "area", "batch", "category", "kind"):
            raise StoreError(f"cannot count by {by!r}; use state, area, batch, category or kind")
        column = _entities.c[by]
        query = _filtered(
            sa.select(column, sa.func.count()).group_by(column),
            kind=kind,
            round_id=round_id,
            areas=areas,
        )
        with self._reading() as conn:
            return {key: int(n) for key, n in conn.execute(query)}

    def counts_by_area(
        self,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str, int]:
        # One row per entity and area is kept for the area filters: grouping them counts
        # an entity of several areas under each.  Without filters on the entities, the
        # index on (area, entity_id) answers alone.
        area = _entity_areas.c.area
        query: sa.Select[Any]
        if kind is None and round_id is None:
            query = sa.select(area, sa.func.count()).group_by(area)
            if areas is not None:
                in_areas = sa.select(_entity_areas.c.entity_id).where(area.in_(list(areas)))
                query = query.where(_entity_areas.c.entity_id.in_(in_areas))
        else:
            joined = _entities.join(
                _entity_areas, _entities.c.entity_id == _entity_areas.c.entity_id
            )
            query = _filtered(
                sa.select(area, sa.func.count()).select_from(joined).group_by(area),
                kind=kind,
                round_id=round_id,
                areas=areas,
            )
        with self._reading() as conn:
            return {key: int(n) for key, n in conn.execute(query)}

    def count_values(
        self,
        fields: Sequence[str],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
        due: DueSpan | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """Count entities by values of their snapshots; see :meth:`EventStore.count_values`.

        Counted by the database (``GROUP BY`` over the values the JSON functions read from
        the snapshot column): no snapshot is sent to Python or decoded.
        """
        paths = value_paths(fields)
        with self._reading() as conn:
            dialect = conn.dialect.name
            if dialect not in ("sqlite", "postgresql"):
                found = self.find(kind=kind, round_id=round_id, areas=areas)
                return tally_values(found, paths)
            if dialect == "sqlite":
                source: Any = _entities
                document = _entities.c.snapshot
            else:
                # The text is parsed once per row, not once per field: a subquery the
                # planner keeps (OFFSET 0) casts it to jsonb.
                source = _filtered(
                    sa.select(
                        *(_entities.c[name] for name in sorted(_COLUMN_VALUES)),
                        sa.cast(_entities.c.snapshot, _JSONB).label("doc"),
                    ),
                    kind=kind,
                    round_id=round_id,
                    areas=areas,
                )
                source = _due_within(source, due).offset(0).subquery()
                document = source.c.doc
            in_json = [
                i for i, p in enumerate(paths) if not (len(p) == 1 and p[0] in _COLUMN_VALUES)
            ]
            if dialect == "sqlite" and len(in_json) > 1:
                return self._count_json_values(conn, paths, in_json, kind, round_id, areas, due)
            values = [
                (
                    # Only open entities fall due: SQLite then counts from the index on open
                    # entities' due times alone, reading no row for a value it knows.
                    sa.literal(False, sa.Boolean())
                    if dialect == "sqlite" and due is not None and path == ("terminal",)
                    else (source.c if dialect == "postgresql" else _entities.c)[path[0]]
                    if i not in in_json
                    else _json_at(dialect, document, path)
                ).label(f"v{i}")
                for i, path in enumerate(paths)
            ]
            if dialect == "sqlite":
                query = _counted_narrow(
                    _due_within(
                        _filtered(sa.select(*values), kind=kind, round_id=round_id, areas=areas),
                        due,
                    ),
                    paths,
                    computed=bool(in_json),
                )
            else:
                query = _counted(sa.select(*values).select_from(source), values, paths)
            converters = [
                _plain_json if dialect == "sqlite" and i in in_json else plain_value
                for i in range(len(paths))
            ]
            # All rows at once, each column converted as a whole: counted by id there is
            # a row per entity, and handling them one by one cost more than the query.
            rows = conn.execute(query).all()
            if not rows:
                return {}
            *columns, counts = zip(*rows, strict=True)
            keys = zip(
                *(
                    map(convert, column)
                    for convert, column in zip(converters, columns, strict=True)
                ),
                strict=True,
            )
            if ("entity_id",) in paths:
                # One row, and so one set of values, per entity.
                return dict(zip(keys, map(int, counts), strict=True))
            out: dict[tuple[Any, ...], int] = {}
            for key, count in zip(keys, counts, strict=True):
                out[key] = out.get(key, 0) + int(count)
            return out

    def _count_json_values(
        self,
        conn: sa.Connection,
        paths: list[tuple[str, ...]],
        in_json: list[int],
        kind: str | None,
        round_id: str | None,
        areas: Collection[str] | None,
        due: DueSpan | None,
    ) -> dict[tuple[Any, ...], int]:
        """:meth:`count_values` on SQLite for several values inside the snapshot: one
        ``json_extract`` reads them all as one JSON array.

        Each ``->`` parses the snapshot's text again (measured on SQLite 3.40: eight
        values read by ``->`` took about twice as long as one ``json_extract`` of the
        same eight); grouping by the array groups by the values it holds.
        """
        wheres = [
            sa.literal("$" + "".join(f'."{key}"' for key in paths[i]), sa.String()) for i in in_json
        ]
        packed = sa.func.json_extract(_entities.c.snapshot, *wheres, type_=sa.String()).label("vj")
        columns = [
            _entities.c[path[0]].label(f"v{i}") for i, path in enumerate(paths) if i not in in_json
        ]
        query = _counted_narrow(
            _due_within(
                _filtered(sa.select(*columns, packed), kind=kind, round_id=round_id, areas=areas),
                due,
            ),
            paths,
            computed=True,
        )
        at = {i: k for k, i in enumerate(in_json)}
        out: dict[tuple[Any, ...], int] = {}
        for row in conn.execute(query):
            inside = _loads(row[-2])
            plain = iter(row[:-2])
            key = tuple(
                plain_value(inside[at[i]]) if i in at else plain_value(next(plain))
                for i in range(len(paths))
            )
            out[key] = out.get(key, 0) + int(row[-1])
        return out

    def latest_at(self) -> dt.datetime | None:
        with self._reading() as conn:
            kept = _kept_latest(conn)
            if kept is None:
                return _latest_after(conn, 0)
            events, at = kept
            return _later(at, _latest_after(conn, events))

    def entity_ids(self) -> Iterator[str]:
        # One page per query, no cursor held open between pages: a caller may stop early.
        last: str | None = None
        while True:
            query = sa.select(_entities.c.entity_id).order_by(_entities.c.entity_id).limit(_PAGE)
            if last is not None:
                query = query.where(_entities.c.entity_id > last)
            with self._reading() as conn:
                page = list(conn.execute(query).scalars())
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1]

    def histories(self, until: dt.datetime | None = None) -> Iterator[list[Event]]:
        # One pass over the events in pages, no cursor held open between pages.
        ids, versions = _events.c.entity_id, _events.c.version
        current: list[Event] = []
        last: tuple[str, int] | None = None
        while True:
            query = sa.select(_events).order_by(ids, versions).limit(_PAGE)
            if until is not None:
                query = query.where(_events.c.at_utc <= until)
            if last is not None:
                query = query.where(
                    sa.or_(ids > last[0], sa.and_(ids == last[0], versions > last[1]))
                )
            with self._reading() as conn:
                page = list(conn.execute(query))
            for row in page:
                event = _decode_event(row)
                if current and current[0].entity_id != event.entity_id:
                    yield current
                    current = []
                current.append(event)
            if len(page) < _PAGE:
                break
            last = (page[-1].entity_id, page[-1].version)
        if current:
            yield current

    # -- integrity ------------------------------------------------------------------------

    keeps_head = True

    @contextlib.contextmanager
    def _consistent(self) -> Iterator[sa.Connection]:
        """Read inside one transaction, so that every statement sees the same ledger
        (REPEATABLE READ on PostgreSQL; on SQLite a read transaction of the write-ahead
        log) while other processes go on writing."""
        try:
            if self._connection is not None:
                yield self._connection
                return
            with self._engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"the database could not be read: {exc.orig}") from exc

    @staticmethod
    def _head(conn: sa.Connection) -> LedgerHead | None:
        row = conn.execute(sa.select(_head).where(_head.c.id == 1)).one_or_none()
        if row is None:
            return None
        return LedgerHead(int(row.events), int(row.entities), int(row.commands))

    def head(self) -> LedgerHead | None:
        with self._reading() as conn:
            return self._head(conn)

    @staticmethod
    def _anchor_at(conn: sa.Connection, events: int) -> Anchor:
        rows = conn.execution_options(yield_per=_PAGE).execute(
            sa.select(_events.c.hash).where(_events.c.seq <= events).order_by(_events.c.seq)
        )
        return anchor_of(rows.scalars())

    def _anchored(self, events: int) -> Anchor:
        with self._consistent() as conn:
            return self._anchor_at(conn, events)

    def anchor(self) -> Anchor:
        with self._consistent() as conn:
            head = self._head(conn)
            if head is None:
                raise StoreError(
                    "the ledger's head (table if_ledger_head) is missing; run verify()"
                )
            return self._anchor_at(conn, head.events)

    @staticmethod
    def _gaps(conn: sa.Connection, events: int) -> list[int]:
        """Return the first position of each gap in 1..``events`` (at most 21 of them)."""
        later = _events.alias("later")
        starts = (
            sa.select((_events.c.seq + 1).label("gap"))
            .where(
                _events.c.seq < events,
                ~sa.exists().where(later.c.seq == _events.c.seq + 1),
            )
            .order_by(_events.c.seq)
            .limit(21)
        )
        gaps = [int(g) for g in conn.execute(starts).scalars()]
        first = conn.execute(sa.select(sa.func.min(_events.c.seq))).scalar_one_or_none()
        if events and (first is None or int(first) > 1):
            gaps.insert(0, 1)
        return gaps[:21]

    def _records(self, conn: sa.Connection, deep: bool) -> Iterator[EntityRecords]:
        """Everything the store holds of each entity, a page of entities at a time, then
        what is held of entities that have no projection row."""
        columns = [_entities.c.entity_id, _entities.c.version]
        if deep:
            columns = list(_entities.c)
        last: str | None = None
        while True:
            query = sa.select(*columns).order_by(_entities.c.entity_id).limit(_PAGE)
            if last is not None:
                query = query.where(_entities.c.entity_id > last)
            rows = conn.execute(query).all()
            if not rows:
                break
            ids = [r.entity_id for r in rows]
            yield from self._page(conn, ids, {r.entity_id: r for r in rows}, deep)
            if len(rows) < _PAGE:
                break
            last = ids[-1]
        known = sa.select(_entities.c.entity_id)
        orphans = sorted(
            set(
                conn.execute(
                    sa.union(
                        sa.select(_events.c.entity_id).where(_events.c.entity_id.not_in(known)),
                        sa.select(_commands.c.entity_id).where(_commands.c.entity_id.not_in(known)),
                        sa.select(_entity_areas.c.entity_id).where(
                            _entity_areas.c.entity_id.not_in(known)
                        ),
                    )
                ).scalars()
            )
        )
        for i in range(0, len(orphans), _PAGE):
            yield from self._page(conn, orphans[i : i + _PAGE], {}, deep)

    def _page(
        self, conn: sa.Connection, ids: list[str], rows: Mapping[str, Any], deep: bool
    ) -> Iterator[EntityRecords]:
        # Long by design: reads one page of entities from every table the audit compares, in one
        # transaction.
        events: dict[str, list[tuple[int | None, AuditedEvent]]] = {}
        noted: dict[str, list[Problem]] = {}
        slow = ids
        if not deep and conn.dialect.name in ("sqlite", "postgresql"):
            # The hashes are checked on the stored text; only the entities where something
            # does not hold are read again as whole events, to say what.
            checked, suspect = _checked_events(conn, ids)
            events.update(checked)
            slow = [entity_id for entity_id in ids if entity_id in suspect]
        query = (
            sa.select(_events)
            .where(_events.c.entity_id.in_(slow))
            .order_by(_events.c.entity_id, _events.c.version)
        )
        for row in conn.execute(query) if slow else ():
            item: Event | CheckedEvent | TamperError
            try:
                item = _decode_event(row)
            except TamperError as exc:
                item = exc
            else:
                # at_utc is not hashed: it only orders and filters; it must say what
                # the hashed time says.
                if row.at_utc != item.at:
                    noted.setdefault(row.entity_id, []).append(
                        Problem(
                            row.entity_id,
                            item.version,
                            "at_utc",
                            f"its time column at_utc holds {row.at_utc.isoformat()}, but the "
                            f"event was recorded at {item.at.isoformat()}",
                        )
                    )
            events.setdefault(row.entity_id, []).append((int(row.seq), item))
        commands: dict[str, list[CommandRow]] = {}
        for row in conn.execute(sa.select(_commands).where(_commands.c.entity_id.in_(ids))):
            commands.setdefault(row.entity_id, []).append(
                CommandRow(row.command_id, row.entity_id, row.first_version, row.last_version)
            )
        areas: dict[str, list[str]] = {}
        if deep:
            query = sa.select(_entity_areas).where(_entity_areas.c.entity_id.in_(ids))
            for row in conn.execute(query):
                areas.setdefault(row.entity_id, []).append(row.area)
        for entity_id in ids:
            found = rows.get(entity_id)
            projection = None
            if found is not None:
                snapshot: Snapshot | StoreError | None = None
                stored: dict[str, Any] | None = None
                if deep:
                    try:
                        snapshot = _decode_snapshot(entity_id, found.version, found.snapshot)
                    except StoreError as exc:
                        snapshot = exc
                    stored = {name: getattr(found, name) for name in _AUDITED_COLUMNS}
                projection = ProjectionRow(
                    int(found.version),
                    snapshot,
                    stored,
                    tuple(areas.get(entity_id, ())) if deep else None,
                )
            yield EntityRecords(
                entity_id,
                events.get(entity_id, []),
                projection,
                sorted(commands.get(entity_id, []), key=lambda c: c.first_version),
                noted.get(entity_id, ()),
            )

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the ledger; see :meth:`EventStore.verify`.

        Everything is read in one transaction, a page of entities at a time, so the
        check sees one state of the ledger while other processes go on writing.  An
        event row that cannot be read at all is reported and the check goes on.
        """
        checked = Anchor.parse(anchor) if anchor is not None else None
        with self._consistent() as conn:
            stored, held_events = _stored_latest(conn)
            kept = _usable_latest(stored, held_events)
            records = self._records(conn, deep)
            found = _LatestFound(kept[0] if kept is not None else 0)
            report = audit(
                found.noting(records) if kept is not None else records,
                head=self._head(conn),
                keeps_head=True,
                deep=deep,
                expected_columns=_audited_columns,
                missing_positions=lambda n: self._gaps(conn, n),
                anchored=lambda n: self._anchor_at(conn, n),
                anchor=checked,
            )
        wrong = None
        if kept is None and stored is not None:
            wrong = (
                f"cannot be used: it holds {stored[:200]!r}; its latest time is read from "
                "every event meanwhile"
            )
        elif kept is not None and found.whole and found.at != kept[1]:
            # Counted on the events read: the same events, whatever was written since.
            events, at = kept
            said = "no event" if at is None else at.astimezone(SHANGHAI).isoformat()
            latest = "none" if found.at is None else found.at.astimezone(SHANGHAI).isoformat()
            wrong = (
                f"says its first {events} events end at {said}, but the latest of them "
                f"happened at {latest}"
            )
        if wrong is not None:
            problem = Problem(
                None,
                None,
                "latest_at",
                f"the ledger's kept latest time (latest_at in inspection_flow_meta) {wrong}; "
                "run repair() to write it again from the events",
                repairable=True,
            )
            report = attrs.evolve(report, problems=(*report.problems, problem))
        return report

    def repair(self) -> RepairReport:
        """Rewrite drifted projection rows from the events; see :meth:`EventStore.repair`.

        One deep audit finds them; they are then rewritten :data:`_REPAIR_BATCH` entities
        to a transaction, each batch's events read in one query.
        """
        report = self.verify(deep=True)
        if any(p.field == "latest_at" for p in report.problems):
            with self._writing() as conn:
                _start_latest(conn, again=True)
        unrepairable = tuple(p for p in report.problems if not p.repairable)
        broken = {p.entity_id for p in unrepairable if p.entity_id is not None}
        entities = sorted(
            {
                p.entity_id
                for p in report.problems
                if p.repairable and p.entity_id is not None and p.entity_id not in broken
            }
        )
        repaired: list[str] = []
        commands = 0
        for k in range(0, len(entities), _REPAIR_BATCH):
            chunk = entities[k : k + _REPAIR_BATCH]
            with self._writing() as conn:
                histories: dict[str, list[Event]] = {}
                query = (
                    sa.select(_events)
                    .where(_events.c.entity_id.in_(chunk))
                    .order_by(_events.c.entity_id, _events.c.version)
                )
                for row in conn.execute(query):
                    histories.setdefault(row.entity_id, []).append(_decode_event(row))
                rebuilt = [
                    (snapshot, histories[entity_id])
                    for entity_id in chunk
                    if (snapshot := replay(histories.get(entity_id, []))) is not None
                ]
                commands += self._rewrite_many(conn, rebuilt)
                repaired += [snapshot.entity_id for snapshot, _ in rebuilt]
        return RepairReport(tuple(repaired), commands, unrepairable)

    def _rewrite_many(
        self, conn: sa.Connection, rebuilt: Sequence[tuple[Snapshot, list[Event]]]
    ) -> int:
        """Rewrite the projection rows and areas of many entities with one statement per
        table, in ``conn``'s transaction; their command records as :meth:`_rewrite_in`
        does; return how many command records were restored."""
        if not rebuilt:
            return 0
        ids = [snapshot.entity_id for snapshot, _ in rebuilt]
        present: set[str] = set()
        for k in range(0, len(ids), _MANY):
            present.update(
                conn.execute(
                    sa.select(_entities.c.entity_id).where(
                        _entities.c.entity_id.in_(ids[k : k + _MANY])
                    )
                ).scalars()
            )
        rows = {snapshot.entity_id: _projection(snapshot) for snapshot, _ in rebuilt}
        updates = [{"b_entity_id": i, **row} for i, row in rows.items() if i in present]
        if updates:
            conn.execute(_REWRITE_ENTITY, updates)
        inserts = [{"entity_id": i, **row} for i, row in rows.items() if i not in present]
        if inserts:
            conn.execute(_INSERT_ENTITY, inserts)
        for k in range(0, len(ids), _MANY):
            conn.execute(
                sa.delete(_entity_areas).where(_entity_areas.c.entity_id.in_(ids[k : k + _MANY]))
            )
        areas = [
            {"entity_id": snapshot.entity_id, "area": a}
            for snapshot, _ in rebuilt
            for a in sorted(set(snapshot.areas))
        ]
        if areas:
            conn.execute(_INSERT_AREAS, areas)
        return self._restore_commands(
            conn, [(snapshot.entity_id, history) for snapshot, history in rebuilt]
        )

    def _rewrite_projection(self, snapshot: Snapshot) -> int:
        with self._writing() as conn:
            return self._rewrite_in(conn, snapshot, self._events(conn, snapshot.entity_id))

    def _rewrite_in(self, conn: sa.Connection, snapshot: Snapshot, history: list[Event]) -> int:
        """Rewrite ``snapshot``'s projection row, areas and command records in ``conn``'s
        transaction; return how many command records were restored."""
        entity_id = snapshot.entity_id
        values = _projection(snapshot)
        if conn.execute(_SELECT_VERSION, {"b_entity_id": entity_id}).one_or_none() is None:
            conn.execute(_INSERT_ENTITY, [{"entity_id": entity_id, **values}])
        else:
            conn.execute(
                sa.update(_entities).where(_entities.c.entity_id == entity_id).values(**values)
            )
        self._write_areas(conn, snapshot, replace=True)
        return self._restore_commands(conn, [(entity_id, history)])

    @staticmethod
    def _restore_commands(conn: sa.Connection, histories: Sequence[tuple[str, list[Event]]]) -> int:
        """Make the command records of each entity those its events carry; return how many
        were restored.

        A record its entity's events no longer carry is deleted; a command id they carry
        is written for the entity, over a record naming another entity if there is one
        (as entities are taken in order, the last to carry an id keeps it).  A few
        statements for all the entities, each look-up by an index."""
        carried: dict[str, tuple[str, list[int]]] = {}
        for entity_id, history in histories:
            for event in history:
                if event.command_id is not None:
                    held = carried.get(event.command_id)
                    if held is not None and held[0] == entity_id:
                        held[1].append(event.version)
                    else:
                        carried[event.command_id] = (entity_id, [event.version])
        ids = [entity_id for entity_id, _ in histories]
        stale: list[str] = []
        for k in range(0, len(ids), _MANY):
            query = sa.select(_commands.c.command_id).where(
                _commands.c.entity_id.in_(ids[k : k + _MANY])
            )
            # A record of an id one of these entities carries is rewritten below, whichever
            # entity it names; the others are deleted.
            stale += [c for c in conn.execute(query).scalars() if c not in carried]
        for k in range(0, len(stale), _MANY):
            conn.execute(
                sa.delete(_commands).where(_commands.c.command_id.in_(stale[k : k + _MANY]))
            )
        wanted = list(carried)
        present: set[str] = set()
        for k in range(0, len(wanted), _MANY):
            query = sa.select(_commands.c.command_id).where(
                _commands.c.command_id.in_(wanted[k : k + _MANY])
            )
            present.update(conn.execute(query).scalars())
        rows = {
            command_id: {
                "entity_id": entity_id,
                "first_version": versions[0],
                "last_version": versions[-1],
            }
            for command_id, (entity_id, versions) in carried.items()
        }
        restored = [{"command_id": c, **row} for c, row in rows.items() if c not in present]
        if restored:
            conn.execute(_INSERT_COMMAND, restored)
        rewritten = [{"b_command_id": c, **row} for c, row in rows.items() if c in present]
        if rewritten:
            conn.execute(_REWRITE_COMMAND, rewritten)
        return len(restored)

    @classmethod
    def upgrade(cls, target: str | os.PathLike[str] | sa.Engine) -> int:
        """Upgrade a ledger's tables to this release's schema, in one transaction.

        From version 1: every event gets its position in the ledger's order (by time,
        then entity and version) and the ledger gets its head.  Take a backup first.

        Returns:
            The schema version the database had (``SCHEMA_VERSION`` if it was current).

        Raises:
            StoreError: the database is not a ledger, or its version is unknown.
        """
        engine = target if isinstance(target, sa.Engine) else cls.make_engine(target)
        try:
            with engine.connect() as conn, conn.begin():
                found = conn.execute(
                    sa.select(_meta.c.value).where(_meta.c.key == "schema_version")
                ).scalar_one_or_none()
                if found is None or not str(found).isdigit():
                    raise StoreError(
                        f"{engine.url.render_as_string()} holds no inspection_flow schema "
                        "version; this is not a ledger written by inspection_flow"
                    )
                version = int(found)
                if version == SCHEMA_VERSION:
                    return version
                if version != 1:
                    raise StoreError(
                        f"cannot upgrade schema version {version}; this release upgrades "
                        f"version 1 to {SCHEMA_VERSION}"
                    )
                _upgrade_1_to_2(conn)
                return version
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"the upgrade failed and changed nothing: {exc.orig}") from exc
        finally:
            if not isinstance(target, sa.Engine):
                engine.dispose()

    def rebuild(self, entity_id: str) -> Snapshot | None:
        """Rewrite an entity's projection row from its events; return the new snapshot.

        For a projection row that was damaged or written by a faulty program: the events
        are the record, the snapshot only a cache of their fold.

        Raises:
            TamperError: the entity's events are unreadable or their chain is broken.
        """
        with self._writing() as conn:
            history = self._events(conn, entity_id)
            version, problem = check_chain(entity_id, history)
            if version is not None:
                raise TamperError(entity_id, version, problem)
            snapshot = replay(history)
            if snapshot is None:
                return None
            conn.execute(
                sa.update(_entities)
                .where(_entities.c.entity_id == entity_id)
                .values(**_projection(snapshot))
            )
            self._write_areas(conn, snapshot, replace=True)
        return snapshot


def _lease_clock(
    dialect: Dialect, lease: dt.timedelta
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """Return the database's present and the end of a lease starting now, as SQL.

    Leases are kept on the database's clock, shared by every worker, rather than on a
    worker's ``now``, which may be far from the present or from other workers' clocks.
    """
    if dialect.name == "postgresql":
        present: sa.ColumnElement[Any] = sa.func.now()
        return present, present + sa.literal(lease, sa.Interval())
    # claimed_until holds integer microseconds since the Unix epoch here (_Instant);
    # julianday counts days from the Julian epoch, 2440587.5 days before the Unix one.
    present = sa.literal_column(
        "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)", sa.BigInteger()
    )
    micros = lease // dt.timedelta(microseconds=1)
    return present, present + sa.literal(micros, sa.BigInteger())


_JSONB = _postgresql.JSONB()


#: Snapshot keys the projection keeps in columns of the same name and value: counted from
#: the column, not from the snapshot's JSON.
_COLUMN_VALUES = frozenset(
    [
        "entity_id",
        "kind",
        "lifecycle",
        "state",
        "version",
        "area",
        "round_id",
        "parent_id",
        "batch",
        "category",
        "terminal",
    ]
)


def _json_at(dialect: str, document: Any, path: tuple[str, ...]) -> sa.ColumnElement[Any]:
    """The JSON value at ``path`` in ``document``: JSON text on SQLite (``->``), jsonb
    on PostgreSQL (``#>``); SQL NULL where the path leads nowhere."""
    if dialect == "sqlite":
        where = "$" + "".join(f'."{key}"' for key in path)
        found: sa.ColumnElement[Any] = document.op("->")(sa.literal(where, sa.String()))
    else:
        found = document.op("#>")(sa.literal(list(path), _postgresql.ARRAY(sa.Text())))
    return found


def _counted(
    query: sa.Select[Any], values: Sequence[Any], paths: Sequence[tuple[str, ...]]
) -> sa.Select[Any]:
    """``query`` selecting ``values`` (read at ``paths``), with a count of each set of
    values as its last column.  Counted by an entity's id, each entity is a set of its own:
    its rows come with a count of 1, without the sort that grouping costs (on SQLite about
    half the time of reading a value from 10,000 snapshots)."""
    if ("entity_id",) in paths:
        return query.add_columns(sa.literal(1, sa.Integer()))
    return query.add_columns(sa.func.count()).group_by(*values)


def _missing_indexes(conn: sa.Connection) -> list[sa.Index]:
    """The indexes of :data:`_ADDED_INDEXES` the ledger's tables lack (a ledger made
    before they were added)."""
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    inspector = sa.inspect(conn)
    missing = []
    for index in _ADDED_INDEXES:
        table = cast(sa.Table, index.table)
        held = inspector.get_indexes(table.name, schema=translate.get(None))
        if index.name not in {found["name"] for found in held}:
            missing.append(index)
    return missing


def _counted_narrow(
    query: sa.Select[Any], paths: Sequence[tuple[str, ...]], *, computed: bool
) -> sa.Select[Any]:
    """:func:`_counted` on SQLite, where ``computed`` says whether some of the values
    are computed from the row (read from the snapshot's JSON).

    Grouped by such an expression, SQLite sorts the rows with the whole snapshot in each
    (it computes the value again from it for the result): 0.99 s against 0.50 s for
    100,000 snapshots of 1.3 KB (SQLite 3.40.1).  Computed in a subquery that SQLite
    runs as a co-routine (``LIMIT -1``, no limit at all, keeps it from being merged into
    the grouping query), only the values are sorted."""
    if not computed or ("entity_id",) in paths:
        return _counted(query, list(query.selected_columns), paths)
    inner = query.limit(-1).subquery()
    values = list(inner.c)
    return sa.select(*values, sa.func.count()).group_by(*values)


def _due_within(query: sa.Select[Any], due: DueSpan | None) -> sa.Select[Any]:
    if due is None:
        return query
    start, end = due
    at = _entities.c.next_due_at
    query = query.where(_open, at <= _aware(end, "end"))
    return query if start is None else query.where(at > _aware(start, "start"))


#: The columns verify reads of each event: those written, then its position.
_CHECKED = (*_EVENT_COLUMNS, "seq")
_CHECKED_COLUMNS = ", ".join(_CHECKED)
# On SQLite the payload and effects as their UTF-8 bytes, which the hash covers: no text is
# decoded from them to be encoded again.
_CHECKED_BYTES = ", ".join(
    f"CAST({name} AS BLOB)" if name in ("payload", "effects") else name for name in _CHECKED
)


def _checked_events(
    conn: sa.Connection, ids: Sequence[str]
) -> tuple[dict[str, list[tuple[int | None, AuditedEvent]]], set[str]]:
    """Read the events of ``ids`` and check each one's hash on its stored text.

    The hashed content is rebuilt around the stored payload and effects as they are
    (canonical JSON, written so), so no event is decoded; the time column is checked
    against the event's time.  Returns the events of the entities where everything held,
    and the entities where something did not (to be read again as whole events).
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_CHECKED_BYTES} FROM if_events WHERE entity_id IN ({marks})"
        params: Any = list(ids)
    else:
        sql = f"SELECT {_CHECKED_COLUMNS} FROM if_events WHERE entity_id = ANY(%s)"
        params = (list(ids),)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql + " ORDER BY entity_id, version", params)
    out: dict[str, list[tuple[int | None, AuditedEvent]]] = {}
    suspect: set[str] = set()
    sha256 = hashlib.sha256
    dumps = orjson.dumps
    fragment = orjson.Fragment
    parse = dt.datetime.fromisoformat
    instants: dict[Any, tuple[dt.datetime, Any]] = {}
    late_marker: Any = b'"late_entry"' if sqlite else '"late_entry"'
    # The rows come entity by entity: the list of the entity being read is kept at hand.
    current: str | None = None
    events: list[tuple[int | None, AuditedEvent]] = []
    for row in cursor:
        (entity_id, version, name, at, role, area, actor, payload, effects, before, after) = row[
            :11
        ]
        if entity_id != current:
            if entity_id in suspect:
                continue
            current = entity_id
            events = out[entity_id] = []
        (command_id, prev_hash, hashed, recorded, at_utc, seq) = row[11:]
        try:
            # The content the hash covers, its keys in their canonical (sorted) order, so
            # that orjson writes the canonical JSON without sorting them (the actor's
            # too); the payload and effects are written as stored.
            content = {
                "actor": {"area": area, "name": actor, "role": role},
                "at": at,
                "command_id": command_id,
                "effects": fragment(effects),
                "entity_id": entity_id,
                "name": name,
                "payload": fragment(payload),
                "prev_hash": prev_hash,
            }
            if recorded is not None:
                content["recorded_at"] = recorded
            content["state_after"] = after
            content["state_before"] = before
            content["version"] = version
            # Events share their instants (a day's batch, a hand-over): each text is
            # parsed once, with the time column's value it must match.
            instant = instants.get(at)
            if instant is None:
                when = parse(at)
                # A time without an offset fails here: subtracting an aware epoch raises.
                instant = instants[at] = (
                    when,
                    (when - _EPOCH) // _MICROSECOND if sqlite else when,
                )
            when = instant[0]
            held = sha256(dumps(content)).hexdigest() == hashed and instant[1] == at_utc
            late = None
            if held and late_marker in effects:
                late = orjson.loads(effects).get("late_entry")
                held = isinstance(late, dict)
        except (TypeError, ValueError, AttributeError):
            held = False
        if not held:
            suspect.add(entity_id)
            del out[entity_id]
            current = None
            continue
        events.append(
            (
                seq if seq.__class__ is int else int(seq),
                CheckedEvent(
                    entity_id,
                    version,
                    name,
                    when,
                    parse(recorded) if late is not None and recorded is not None else None,
                    prev_hash,
                    hashed,
                    before,
                    after,
                    command_id,
                    late,
                ),
            )
        )
    cursor.close()
    return out, suspect


_MICROSECOND = dt.timedelta(microseconds=1)


def _select_snapshots() -> sa.Select[Any]:
    return sa.select(_entities.c.entity_id, _entities.c.version, _SNAPSHOT_READ)


def _overdue_query(
    now: dt.datetime, *, kind: str | None, areas: Collection[str] | None
) -> sa.Select[Any]:
    """The overdue query: served by the partial index on open entities' due times."""
    due = _entities.c.next_due_at
    query = _filtered(_select_snapshots().where(_open, due <= now), kind=kind, areas=areas)
    return query.order_by(due, _entities.c.entity_id)


def _data_json(dialect: str, field: str) -> sa.ColumnElement[Any]:
    """The JSON of an entity's data ``field`` as the database reads it from the snapshot's
    text, on SQLite or PostgreSQL (see :func:`_data_value`)."""
    if dialect == "sqlite":
        # Two paths: a JSON array of the value and the kind, in which a text comes quoted,
        # so that it is told from a number, an object or a missing value (null).
        return sa.func.json_extract(
            _entities.c.snapshot,
            sa.literal(f'$.data."{field}"', sa.String()),
            sa.literal("$.kind", sa.String()),
            type_=sa.String(),
        )
    inside = sa.cast(_entities.c.snapshot, _postgresql.JSONB)["data"][field]
    return sa.cast(inside, sa.Text())


def _data_value(dialect: str, found: Any) -> Any:
    """The data value :func:`_data_json` read (``None`` where the field is missing)."""
    if found is None:
        return None
    value = orjson.loads(found)
    return value[0] if dialect == "sqlite" else value


def _filtered(
    query: sa.Select[Any],
    *,
    kind: str | None = None,
    round_id: str | None = None,
    state: str | Collection[str] | None = None,
    areas: Collection[str] | None = None,
    batch: int | None = None,
    category: str | None = None,
    parent_id: str | None = None,
    open_only: bool = False,
) -> sa.Select[Any]:
    columns: Mapping[str, Any] = {
        "kind": kind,
        "round_id": round_id,
        "batch": batch,
        "category": category,
        "parent_id": parent_id,
    }
    for name, value in columns.items():
        if value is not None:
            query = query.where(_entities.c[name] == value)
    if isinstance(state, str):
        query = query.where(_entities.c.state == state)
    elif state:
        query = query.where(_entities.c.state.in_(list(state)))
    if areas is not None:
        in_areas = sa.select(_entity_areas.c.entity_id).where(_entity_areas.c.area.in_(list(areas)))
        query = query.where(_entities.c.entity_id.in_(in_areas))
    if open_only:
        query = query.where(_open)
    return query


# The projection's columns an audit compares with the fold of the entity's events (the
# lease columns are a sweeper's, and the snapshot is compared field by field).
_AUDITED_COLUMNS = tuple(
    c.name
    for c in _entities.c
    if c.name not in ("entity_id", "snapshot", "claimed_by", "claimed_until")
)


def _audited_columns(snapshot: Snapshot) -> dict[str, Any]:
    values = _projection(snapshot)
    out = {}
    for name in _AUDITED_COLUMNS:
        value = values[name]
        if isinstance(value, dt.datetime):
            # Read back from the database in UTC (PostgreSQL) or as microseconds (SQLite).
            value = value.astimezone(_UTC)
        out[name] = value
    return out


def _upgrade_1_to_2(conn: sa.Connection) -> None:
    """Give every event its position and recording time, the ledger its head and a table of
    supplied calendar years (schema 1 to 2); events written before keep no recording time."""
    conn.exec_driver_sql("ALTER TABLE if_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0")
    conn.exec_driver_sql("ALTER TABLE if_events ADD COLUMN recorded_at VARCHAR")
    conn.exec_driver_sql(
        "UPDATE if_events SET seq = (SELECT r.n FROM (SELECT entity_id, version, "
        "ROW_NUMBER() OVER (ORDER BY at_utc, entity_id, version) AS n FROM if_events) AS r "
        "WHERE r.entity_id = if_events.entity_id AND r.version = if_events.version)"
    )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE if_events ALTER COLUMN seq DROP DEFAULT")
    for index in _events.indexes:
        if index.name == "ix_if_events_seq":
            index.create(conn)
    _head.create(conn, checkfirst=True)
    _calendar_years.create(conn, checkfirst=True)
    counts = conn.execute(
        sa.select(
            sa.select(sa.func.count()).select_from(_events).scalar_subquery(),
            sa.select(sa.func.count()).select_from(_entities).scalar_subquery(),
            sa.select(sa.func.count()).select_from(_commands).scalar_subquery(),
        )
    ).one()
    conn.execute(
        sa.insert(_head).values(id=1, events=counts[0], entities=counts[1], commands=counts[2])
    )
    conn.execute(
        sa.update(_meta).where(_meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
    )
