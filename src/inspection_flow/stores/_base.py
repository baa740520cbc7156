"""The store interface every backend implements."""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Literal

import attrs

from .._records import GENESIS, Commit, Event, Snapshot, chain_hash

__all__ = ["CountKey", "EventStore", "VerifyReport"]

CountKey = Literal["state", "area", "batch", "category", "kind"]


@attrs.frozen
class VerifyReport:
    """The result of checking every entity's hash chain.

    Attributes:
        ok: whether every chain is intact.
        entities: how many entities were checked.
        events: how many events were checked.
        entity_id, version, problem: the first broken link, if any.
    """

    ok: bool
    entities: int
    events: int
    entity_id: str | None = None
    version: int | None = None
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"intact: {self.entities} entities, {self.events} events"
        return f"broken: {self.entity_id} event {self.version}: {self.problem}"


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

    @abc.abstractmethod
    def due_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose earliest open due time lies in ``(start, end]``,
        earliest first."""

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

    @abc.abstractmethod
    def entity_ids(self) -> Iterator[str]:
        """Yield every entity id, in order."""

    # -- integrity ------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Check every entity's hash chain; report the first broken link.

        Raises:
            StoreError: a stored row cannot be read at all.
        """
        entities = events = 0
        for entity_id in self.entity_ids():
            history = self.events(entity_id)
            entities += 1
            events += len(history)
            version, problem = check_chain(entity_id, history)
            if version is not None:
                return VerifyReport(False, entities, events, entity_id, version, problem)
        return VerifyReport(True, entities, events)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store's resources."""

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
