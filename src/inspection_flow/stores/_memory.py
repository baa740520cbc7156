"""An in-memory store, for tests, notebooks and quick scripts."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Collection, Iterator, Sequence

from .._calendar import YearSchedule
from .._records import Commit, Event, Snapshot
from ..exceptions import ConcurrencyError, TamperError
from ._audit import Anchor, CommandRow, EntityRecords, LedgerHead, ProjectionRow, anchor_of
from ._base import CountKey, EventStore
from ._commands import first_result

__all__ = ["MemoryStore"]


class MemoryStore(EventStore):
    """Keeps everything in dictionaries; nothing survives the process."""

    def __init__(self) -> None:
        self._events: dict[str, Event | list[Event]] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._commands: dict[str, tuple[Event, ...]] = {}
        # Every event in the order the store took it: the ledger's order, for anchors.
        self._log: list[Event] = []
        self._lock = threading.Lock()
        self._calendar_years: dict[int, YearSchedule] = {}

    keeps_head = True

    def calendar_years(self) -> list[YearSchedule]:
        return [self._calendar_years[y] for y in sorted(self._calendar_years)]

    def keep_calendar_year(self, schedule: YearSchedule) -> bool:
        with self._lock:
            if self._calendar_years.get(schedule.year) == schedule:
                return False
            self._calendar_years[schedule.year] = schedule
            return True

    def append(self, commit: Commit) -> tuple[Event, ...]:
        with self._lock:
            return self._append(commit)

    def append_batch(self, commits: Sequence[Commit]) -> list[tuple[Event, ...]]:
        with self._lock:
            versions: dict[str, int] = {}
            # Checked before anything is written: a command id reused for another
            # entity refuses the whole batch.
            batch_commands: dict[str, tuple[Event, ...]] = {}
            for c in commits:
                if c.command_id is not None:
                    done = self._commands.get(c.command_id) or batch_commands.get(c.command_id)
                    if done is not None:
                        first_result(c, done)
                        continue
                    batch_commands[c.command_id] = c.events
                current = versions.get(c.entity_id)
                if current is None:
                    snap = self._snapshots.get(c.entity_id)
                    current = snap.version if snap else 0
                if current != c.expected_version:
                    raise ConcurrencyError(c.entity_id, c.expected_version, current)
                versions[c.entity_id] = c.snapshot.version
            return [self._append(c) for c in commits]

    def append_new(
        self, snapshot: Snapshot, event: Event, command_id: str | None = None
    ) -> tuple[Event, ...]:
        if command_id is not None:
            return super().append_new(snapshot, event, command_id)
        entity_id = snapshot.entity_id
        with self._lock:
            found = self._snapshots.get(entity_id)
            if found is not None:
                raise ConcurrencyError(entity_id, 0, found.version)
            self._snapshots[entity_id] = snapshot
            self._events[entity_id] = event
            self._log.append(event)
        return (event,)

    def _append(self, commit: Commit) -> tuple[Event, ...]:
        if commit.command_id is not None:
            done = self._commands.get(commit.command_id)
            if done is not None:
                return first_result(commit, done)
        entity_id = commit.snapshot.entity_id
        snap = self._snapshots.get(entity_id)
        current = snap.version if snap is not None else 0
        if current != commit.expected_version:
            raise ConcurrencyError(entity_id, commit.expected_version, current)
        # An entity with one event keeps it alone: most cases of a large intake have one.
        events = self._events.get(entity_id)
        if events is None:
            new = commit.events
            self._events[entity_id] = new[0] if len(new) == 1 else list(new)
        elif isinstance(events, list):
            events.extend(commit.events)
        else:
            self._events[entity_id] = [events, *commit.events]
        self._snapshots[entity_id] = commit.snapshot
        self._log.extend(commit.events)
        if commit.command_id is not None:
            self._commands[commit.command_id] = commit.events
        return commit.events

    def get(self, entity_id: str) -> Snapshot | None:
        return self._snapshots.get(entity_id)

    def get_many(self, entity_ids: Collection[str]) -> dict[str, Snapshot]:
        snapshots = self._snapshots
        return {i: s for i in entity_ids if (s := snapshots.get(i)) is not None}

    def events(self, entity_id: str) -> list[Event]:
        events = self._events.get(entity_id)
        if events is None:
            return []
        return list(events) if isinstance(events, list) else [events]

    def command(self, command_id: str) -> tuple[Event, ...] | None:
        return self._commands.get(command_id)

    def _matching(
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
    ) -> Iterator[Snapshot]:
        states = {state} if isinstance(state, str) else (set(state) if state else None)
        area_set = set(areas) if areas is not None else None
        for s in self._snapshots.values():
            if kind is not None and s.kind != kind:
                continue
            if round_id is not None and s.round_id != round_id:
                continue
            if states is not None and s.state not in states:
                continue
            if area_set is not None and not area_set.intersection(s.areas):
                continue
            if batch is not None and s.batch != batch:
                continue
            if category is not None and s.category != category:
                continue
            if parent_id is not None and s.parent_id != parent_id:
                continue
            if open_only and s.terminal:
                continue
            yield s

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
        found = self._matching(
            kind=kind,
            round_id=round_id,
            state=state,
            areas=areas,
            batch=batch,
            category=category,
            parent_id=parent_id,
            open_only=open_only,
        )
        return sorted(found, key=lambda s: s.entity_id)

    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        found = [
            (due, s.entity_id, s)
            for s in self._matching(kind=kind, areas=areas, open_only=True)
            if (due := s.next_due_at) is not None and due <= now
        ]
        found.sort(key=lambda t: (t[0], t[1]))
        out = [t[2] for t in found]
        return out[:limit] if limit is not None else out

    def due_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
    ) -> list[Snapshot]:
        found = [
            (due, s.entity_id, s)
            for s in self._matching(kind=kind, areas=areas, open_only=True)
            if (due := s.next_due_at) is not None and start < due <= end
        ]
        found.sort(key=lambda t: (t[0], t[1]))
        return [t[2] for t in found]

    def due_alerts(self, now: dt.datetime, *, limit: int = 1000) -> list[Snapshot]:
        found = [
            (at, s.entity_id, s)
            for s in self._snapshots.values()
            if (at := s.next_alert_at) is not None and at <= now
        ]
        found.sort(key=lambda t: (t[0], t[1]))
        return [t[2] for t in found[:limit]]

    def counts(
        self,
        by: CountKey,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str | int | None, int]:
        out: dict[str | int | None, int] = {}
        for s in self._matching(kind=kind, round_id=round_id, areas=areas):
            key: str | int | None = getattr(s, by)
            out[key] = out.get(key, 0) + 1
        return out

    def entity_ids(self) -> Iterator[str]:
        yield from sorted(self._snapshots)

    # -- integrity ------------------------------------------------------------------------

    def head(self) -> LedgerHead:
        with self._lock:
            return LedgerHead(len(self._log), len(self._snapshots), len(self._commands))

    def _anchored(self, events: int) -> Anchor:
        return anchor_of(e.hash for e in self._log[:events])

    def _audit_records(self, deep: bool) -> Iterator[EntityRecords]:
        commands: dict[str, list[CommandRow]] = {}
        for command_id, written in self._commands.items():
            entity_id = written[0].entity_id
            commands.setdefault(entity_id, []).append(
                CommandRow(command_id, entity_id, written[0].version, written[-1].version)
            )
        for entity_id in sorted(self._snapshots.keys() | self._events.keys() | commands.keys()):
            events: list[tuple[int | None, Event | TamperError]] = [
                (None, e) for e in self.events(entity_id)
            ]
            snap = self._snapshots.get(entity_id)
            row = ProjectionRow(snap.version, snap if deep else None) if snap else None
            yield EntityRecords(entity_id, events, row, commands.get(entity_id, []))

    def _rewrite_projection(self, snapshot: Snapshot) -> int:
        with self._lock:
            self._snapshots[snapshot.entity_id] = snapshot
            restored = 0
            for command_id, written in _commands_of(self.events(snapshot.entity_id)).items():
                if command_id not in self._commands:
                    self._commands[command_id] = written
                    restored += 1
            return restored


def _commands_of(events: list[Event]) -> dict[str, tuple[Event, ...]]:
    """Return the events each command wrote, by command id."""
    out: dict[str, list[Event]] = {}
    for event in events:
        if event.command_id is not None:
            out.setdefault(event.command_id, []).append(event)
    return {k: tuple(v) for k, v in out.items()}
