"""The store interface every backend implements."""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from .._calendar import YearSchedule
from .._records import (
    GENESIS,
    Commit,
    DeadlineRecord,
    Event,
    Snapshot,
    canonical_json,
    chain_hash,
    escalation_of,
    iso,
    replay,
)
from ..exceptions import StoreError, TamperError
from ._audit import (
    Anchor,
    EntityRecords,
    LedgerHead,
    ProjectionRow,
    RepairReport,
    VerifyReport,
    audit,
)

__all__ = ["CountKey", "EventStore", "VerifyReport"]

CountKey = Literal["state", "area", "batch", "category", "kind"]

#: A span of due times ``(start, end]`` (``start`` ``None``: every due time up to ``end``).
DueSpan = tuple["dt.datetime | None", dt.datetime]

#: The top-level keys of a snapshot's plain form (:meth:`Snapshot.to_dict`).
SNAPSHOT_KEYS = frozenset(
    [
        "entity_id",
        "kind",
        "lifecycle",
        "state",
        "version",
        "area",
        "areas",
        "round_id",
        "parent_id",
        "batch",
        "category",
        "created_at",
        "updated_at",
        "terminal",
        "data",
        "deadlines",
        "last_hash",
        "occurred_at",
    ]
)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def value_paths(fields: Sequence[str]) -> list[tuple[str, ...]]:
    """Split dotted ``fields`` (``"data.categories"``, ``"deadlines.result_due.status"``)
    into paths into a snapshot's plain form.

    Raises:
        StoreError: ``fields`` is empty, or a field is not a dotted path of identifiers
            starting with a snapshot key.
    """
    if isinstance(fields, str) or not fields:
        raise StoreError(f"count_values takes a non-empty list of fields, not {fields!r}")
    paths = []
    for field in fields:
        parts = tuple(field.split(".")) if isinstance(field, str) else ()
        if not parts or parts[0] not in SNAPSHOT_KEYS or not all(_KEY.match(p) for p in parts):
            raise StoreError(
                f"cannot count by {field!r}: give a dotted path into a snapshot, starting "
                f"with one of {', '.join(sorted(SNAPSHOT_KEYS))} (e.g. 'data.categories')"
            )
        paths.append(parts)
    return paths


def plain_value(value: Any) -> Any:
    """Return a JSON value as :meth:`EventStore.count_values` gives it: arrays as tuples,
    objects as canonical JSON text, everything else as JSON has it."""
    if value is None or value.__class__ in (str, int, float, bool):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(plain_value(v) for v in value)
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, DeadlineRecord):
        return canonical_json(value.to_dict())
    if isinstance(value, Mapping):
        return canonical_json(dict(value))
    return value


def snapshot_value(snapshot: Snapshot, path: tuple[str, ...]) -> Any:
    """Return the value at ``path`` in ``snapshot``'s plain form, ``None`` if absent."""
    value: Any = getattr(snapshot, path[0])
    for key in path[1:]:
        if isinstance(value, DeadlineRecord):
            value = value.to_dict()
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return plain_value(value)


def tally_values(
    snapshots: Iterable[Snapshot], paths: Sequence[tuple[str, ...]]
) -> dict[tuple[Any, ...], int]:
    """Count ``snapshots`` by the tuple of their values at ``paths``."""
    out: dict[tuple[Any, ...], int] = {}
    for snap in snapshots:
        key = tuple(snapshot_value(snap, p) for p in paths)
        out[key] = out.get(key, 0) + 1
    return out


def _due_order(snapshot: Snapshot) -> tuple[dt.datetime, str]:
    due = snapshot.next_due_at
    assert due is not None  # an overdue entity has a due time
    return due, snapshot.entity_id


def within(snapshot: Snapshot, due: DueSpan | None) -> bool:
    """Whether ``snapshot`` is open with its next due time in ``due`` (or ``due`` is None)."""
    if due is None:
        return True
    at = snapshot.next_due_at
    start, end = due
    return not snapshot.terminal and at is not None and at <= end and (start is None or at > start)


def at_most(value: Any, most: str) -> bool:
    """Whether :meth:`EventStore.find_pages`' ``data_at_most`` keeps a data value: absent,
    not text, or text at most ``most`` (as Python compares texts)."""
    return not isinstance(value, str) or value <= most


def check_chain(entity_id: str, events: Sequence[Event]) -> tuple[int | None, str]:
    """Return the first broken link of one entity's events as ``(version, problem)``."""
    prev = GENESIS
    for expected, event in enumerate(events, start=1):
        if event.version != expected:
            return expected, f"version {event.version} found where {expected} was expected"
        if event.prev_hash != prev:
            return event.version, "its previous-hash does not match the event before it"
        if chain_hash(event) != event.hash:
            return event.version, "its content does not match its hash (changed after writing)"
        prev = event.hash
    return None, ""


class EventStore(abc.ABC):
    """Append-only events per entity, with a queryable projection of current states.

    Implementations must make :meth:`append` atomic: the events and the new snapshot are
    written together or not at all.  The contract suite in :mod:`inspection_flow.testing`
    checks a store against this interface.
    """

    # -- writing --------------------------------------------------------------------------

    @abc.abstractmethod
    def append(self, commit: Commit) -> tuple[Event, ...]:
        """Write one command's events and snapshot; return the stored events.

        If ``commit.command_id`` was already applied to the same entity by the same
        event (and, when ``commit`` creates its entity, as that entity's creation), return
        that command's events and write nothing.  This holds when the first command is
        found before writing and when it wins a race with this one.

        Raises:
            ConcurrencyError: the entity's stored version is not
                ``commit.expected_version``; nothing is written.
            PayloadError: ``commit.command_id`` was already used for another entity or
                event (field ``command_id``); nothing is written.
        """

    def append_new(
        self, snapshot: Snapshot, event: Event, command_id: str | None = None
    ) -> tuple[Event, ...]:
        """Write a new entity: its creating event and first snapshot.

        The same as ``append(Commit(snapshot, (event,), 0, command_id))``, which is what
        it does unless a store overrides it with a quicker way.

        Raises:
            ConcurrencyError: the entity exists (expected version 0); nothing is written.
            PayloadError: ``command_id`` was already used for another command, as in
                :meth:`append`; nothing is written.
        """
        return self.append(Commit(snapshot, (event,), 0, command_id))

    def append_batch(self, commits: Sequence[Commit]) -> list[tuple[Event, ...]]:
        """Write several commits in one transaction, all or nothing.

        Command ids are treated as in :meth:`append`, also between commits of the batch.

        Raises:
            ConcurrencyError: any commit is stale; nothing is written.
            PayloadError: a commit's command id was used for another entity or event;
                nothing is written.
        """
        return [self.append(c) for c in commits]

    # -- reading --------------------------------------------------------------------------

    @abc.abstractmethod
    def get(self, entity_id: str) -> Snapshot | None:
        """Return the entity's snapshot, or ``None``."""

    def append_chunks(self, chunks: Iterable[Sequence[Commit]]) -> None:
        """Write the commits of every chunk in one transaction: all of them or none.

        For a write too large to hold at once (a hand-over of 100,000 cases): a store
        may write each chunk as it comes, so that only one is held.  The chunks may be
        produced lazily; an exception while producing them writes nothing.  The commits
        carry no command ids.

        Raises:
            ConcurrencyError: an entity moved on, or a new one exists (nothing written).
        """
        commits = [c for chunk in chunks for c in chunk]
        if commits:
            self.append_batch(commits)

    def find_pages(
        self,
        *,
        page: int = 2000,
        data_at_most: tuple[str, str] | None = None,
        **filters: Any,
    ) -> Iterator[list[Snapshot]]:
        """Yield what :meth:`find` returns in pages of at most ``page`` snapshots, in the
        order of entity ids, so that a caller holds one page at a time.

        A store may read each page when it is asked for; an entity written meanwhile
        may then be seen in its new state or not.  ``data_at_most=(field, text)`` keeps
        the entities whose ``data[field]`` is absent, not text, or text at most ``text``
        (a complaint's ``batch_day`` up to a hand-over's day).
        """
        found = self.find(**filters)
        if data_at_most is not None:
            field, most = data_at_most
            found = [s for s in found if at_most(s.data.get(field), most)]
        for k in range(0, len(found), page):
            yield found[k : k + page]

    def get_many(self, entity_ids: Collection[str]) -> dict[str, Snapshot]:
        """Return the snapshots of those of ``entity_ids`` that exist, by id.

        One look-up for many ids (a store may answer them with one query); ids that name
        no entity are absent from the answer.
        """
        found: dict[str, Snapshot] = {}
        for entity_id in entity_ids:
            snap = self.get(entity_id)
            if snap is not None:
                found[entity_id] = snap
        return found

    def commands_used(self, command_ids: Collection[str]) -> set[str]:
        """Return those of ``command_ids`` that were applied (one look-up for many: an
        import checks its rows' command ids together).  The default asks :meth:`command`
        for each."""
        return {c for c in dict.fromkeys(command_ids) if self.command(c) is not None}

    @contextlib.contextmanager
    def holding_reads(self) -> Iterator[None]:
        """Keep what reads need (a connection) from one read to the next within the block.

        The ledger holds it for a :meth:`Ledger.batch`, and around a command's read and
        write outside one (a store may then write on what it keeps); reads inside see
        what is stored, as outside.  The default keeps nothing.
        """
        yield

    @abc.abstractmethod
    def events(self, entity_id: str) -> list[Event]:
        """Return the entity's events in version order (empty if unknown)."""

    @abc.abstractmethod
    def command(self, command_id: str) -> tuple[Event, ...] | None:
        """Return the events a command wrote, or ``None`` if it was never applied."""

    @abc.abstractmethod
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
        """Return the snapshots matching every given filter, ordered by entity id."""

    @abc.abstractmethod
    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose earliest open due time is at or before ``now``,
        earliest first."""

    def overdue_ids(self, now: dt.datetime, *, round_id: str | None = None) -> list[str]:
        """Return the ids of what :meth:`overdue` finds (of ``round_id`` when given),
        earliest due time first, then by id: a count and an order without reading
        the entities (a store may answer from its index alone)."""
        found = [s for s in self.overdue(now) if round_id is None or s.round_id == round_id]
        return [s.entity_id for s in sorted(found, key=_due_order)]

    def escalated_ids(self, now: dt.datetime, *, round_id: str | None = None) -> list[str]:
        """Return the ids of :meth:`overdue_ids` on which a step of escalation has fired
        by ``now`` (:func:`escalation_of`), in the same order."""
        found = [
            s
            for s in self.overdue(now)
            if (round_id is None or s.round_id == round_id) and escalation_of(s, now) is not None
        ]
        return [s.entity_id for s in sorted(found, key=_due_order)]

    @abc.abstractmethod
    def due_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose earliest open due time lies in ``(start, end]``,
        earliest first (at most ``limit`` of them)."""

    @abc.abstractmethod
    def due_alerts(self, now: dt.datetime, *, limit: int = 1000) -> list[Snapshot]:
        """Return entities with an unfired alert at or before ``now``, earliest first."""

    def claim_due_alerts(
        self,
        now: dt.datetime,
        *,
        worker: str = "",
        limit: int = 100,
        lease: dt.timedelta = dt.timedelta(minutes=5),
    ) -> list[Snapshot]:
        """Return entities with due alerts for ``worker`` to fire, earliest first.

        A store shared by several sweeping workers leases what it returns to ``worker``
        until ``now + lease`` and leaves leased entities out of other workers' claims,
        so the workers split the work; appending to an entity ends its lease.  This
        default leases nothing and returns :meth:`due_alerts`.  Firing an alert exactly
        once never depends on the lease: the worker that loses a race to append gets
        :class:`ConcurrencyError`.
        """
        return self.due_alerts(now, limit=limit)

    @abc.abstractmethod
    def counts(
        self,
        by: CountKey,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str | int | None, int]:
        """Count entities by one column, with optional filters."""

    def counts_by_area(
        self,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str, int]:
        """Count entities under each of their areas: one of several areas (a task that
        spans counties, a case shared between them) counts once under each.

        This default reads the matching entities; a store may count them more quickly.
        """
        out: dict[str, int] = {}
        for snap in self.find(kind=kind, round_id=round_id, areas=areas):
            for area in dict.fromkeys(snap.areas):
                out[area] = out.get(area, 0) + 1
        return out

    def count_values(
        self,
        fields: Sequence[str],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
        due: DueSpan | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """Count entities by the values of ``fields`` in their snapshots, without
        returning the snapshots: how many have each combination of values.

        Args:
            fields: dotted paths into a snapshot's plain form (:meth:`Snapshot.to_dict`),
                e.g. ``"state"``, ``"data.categories"``, ``"deadlines.result_due.status"``.
            kind, round_id, areas: as for :meth:`find`.
            due: only open entities whose earliest open due time lies in ``(start, end]``
                (``start`` ``None`` for every due time up to ``end``).

        Returns:
            For each tuple of values (one per field, in order) the number of entities
            with it.  Values are as JSON holds them (instants and days as ISO text),
            arrays as tuples, objects as canonical JSON text; a missing value is
            ``None``.

        Raises:
            StoreError: a field is not a path into a snapshot.

        This default reads the matching snapshots (:meth:`find`); stores override it to
        count in the database.
        """
        paths = value_paths(fields)
        found = self.find(kind=kind, round_id=round_id, areas=areas, open_only=due is not None)
        return tally_values((s for s in found if within(s, due)), paths)

    def latest_at(self) -> dt.datetime | None:
        """Return when the latest of all events happened (its ``at``), ``None`` if the
        store holds none or cannot tell cheaply.

        A view of the ledger as of an instant at or after it is the ledger itself
        (:meth:`Ledger.as_of`).  This default cannot tell.
        """
        return None

    @abc.abstractmethod
    def entity_ids(self) -> Iterator[str]:
        """Yield every entity id, in order."""

    def histories(self, until: dt.datetime | None = None) -> Iterator[list[Event]]:
        """Yield each entity's events that happened by ``until`` (all without it).

        One list per entity that has such events, in the order of entity ids, each in
        version order.  Versions may have gaps: an event recorded later may have happened
        earlier (a paper record entered after an alert).  This default reads entity by
        entity; stores override it to read in one pass.
        """
        for entity_id in self.entity_ids():
            events = [e for e in self.events(entity_id) if until is None or e.at <= until]
            if events:
                yield events

    # -- calendar years -------------------------------------------------------------------

    def calendar_years(self) -> list[YearSchedule]:
        """Return the working-day schedules supplied to the ledger, in order of year.

        A store shared by several processes keeps them so that every process computes
        with the same calendar.  This default keeps none.
        """
        return []

    def keep_calendar_year(self, schedule: YearSchedule) -> bool:
        """Keep ``schedule`` (replacing a kept schedule of its year); return whether it changed.

        Raises:
            StoreError: the store keeps no calendar years, or was opened read-only.
        """
        raise StoreError(
            f"{type(self).__name__} keeps no calendar years; give the ledger a calendar "
            f"with the year instead (ChinaCalendar.from_files)"
        )

    # -- integrity ------------------------------------------------------------------------

    #: Whether the store keeps a ledger head (counts and the order of events) to audit.
    keeps_head: bool = False

    def head(self) -> LedgerHead | None:
        """Return what the ledger's head records, or ``None`` if the store keeps none."""
        return None

    def _audit_records(self, deep: bool) -> Iterator[EntityRecords]:
        """Yield everything the store holds of each entity, for :meth:`verify`.

        This default reads through the public interface; stores override it to read in
        bulk, and to include what that interface cannot show (positions, command records,
        entities without a projection row).
        """
        for entity_id in self.entity_ids():
            events: list[tuple[int | None, Event | TamperError]] = [
                (None, e) for e in self.events(entity_id)
            ]
            snapshot: Snapshot | StoreError | None
            try:
                snapshot = self.get(entity_id)
            except StoreError as exc:
                snapshot = exc
            if snapshot is None:
                yield EntityRecords(entity_id, events, None)
                continue
            version = snapshot.version if isinstance(snapshot, Snapshot) else -1
            row = ProjectionRow(version, snapshot if deep else None)
            yield EntityRecords(entity_id, events, row)

    def _anchored(self, events: int) -> Anchor | None:
        """Return the anchor of the ledger's first ``events`` events, or ``None`` if the
        store keeps no order of events."""
        return None

    def anchor(self) -> Anchor:
        """Return the anchor of the whole ledger as it stands: a short digest to print or
        publish, which :meth:`verify` checks later.

        Raises:
            StoreError: the store keeps no order of events to anchor.
        """
        head = self.head()
        found = self._anchored(head.events) if head is not None else None
        if found is None:
            raise StoreError(f"{type(self).__name__} keeps no order of events to anchor")
        return found

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the store and report every problem found, not only the first.

        Checks every entity's hash chain (versions, links, hashes, each state following
        the one before), the projection's version of each entity against its events, the
        record of applied commands, and the ledger's head (how many events, entities and
        commands it holds, and the events' positions), so that removing an entity's latest
        event, or a whole entity, shows.

        Args:
            deep: also fold every entity from its events and compare its projection field
                by field (state, version, deadlines, areas, the query columns).
            anchor: an anchor taken earlier (:meth:`anchor`); the ledger's first events
                must still be those it covers.

        Raises:
            StoreError: the anchor is not one; the store cannot be read at all.
        """
        checked = Anchor.parse(anchor) if anchor is not None else None
        return audit(
            self._audit_records(deep),
            head=self.head(),
            keeps_head=self.keeps_head,
            deep=deep,
            anchored=self._anchored_or_none(),
            anchor=checked,
        )

    def _anchored_or_none(self) -> Callable[[int], Anchor] | None:
        def anchored(n: int) -> Anchor:
            found = self._anchored(n)
            assert found is not None
            return found

        return anchored if self.keeps_head else None

    def repair(self) -> RepairReport:
        """Rewrite every drifted projection row, and restore missing records of applied
        commands, from the events; never touch the events or the head.

        Returns:
            What was rewritten, and the problems no repair can mend (in the events, or in
            the head: they stay reported by :meth:`verify`).

        Raises:
            StoreError: the store cannot rewrite its projection.
        """
        report = self.verify(deep=True)
        entities = sorted(
            {p.entity_id for p in report.problems if p.repairable and p.entity_id is not None}
        )
        unrepairable = tuple(p for p in report.problems if not p.repairable)
        broken = {p.entity_id for p in unrepairable if p.entity_id is not None}
        repaired: list[str] = []
        commands = 0
        for entity_id in entities:
            if entity_id in broken:
                continue
            snapshot = replay(self.events(entity_id))
            if snapshot is None:
                continue
            commands += self._rewrite_projection(snapshot)
            repaired.append(entity_id)
        return RepairReport(tuple(repaired), commands, unrepairable)

    def _rewrite_projection(self, snapshot: Snapshot) -> int:
        """Write ``snapshot`` as the entity's projection and its records of applied
        commands from its events; return how many command records were restored."""
        raise StoreError(f"{type(self).__name__} cannot rewrite its projection")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store's resources."""

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
