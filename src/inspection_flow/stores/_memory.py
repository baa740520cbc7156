"""An in-memory store, for tests, notebooks and quick scripts."""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from .._calendar import YearSchedule
from .._records import Commit, Event, Snapshot
from ..exceptions import ConcurrencyError, TamperError
from ._audit import Anchor, CommandRow, EntityRecords, LedgerHead, ProjectionRow, anchor_of
from ._base import CountKey, DueSpan, EventStore, tally_values, value_paths, within
from ._commands import first_result

__all__ = ["MemoryStore"]

_DAY = 86_400


def _day(at: dt.datetime) -> int:
    return int(at.timestamp()) // _DAY


class _TimeIndex:
    """Entities by the day (UTC) of one of their instants, so that a query with a limit
    reads the earliest days only instead of sorting every entity."""

    def __init__(self, key: Callable[[Snapshot], dt.datetime | None]) -> None:
        self.key = key
        self.day_of: dict[str, int] = {}
        self.buckets: dict[int, set[str]] = {}
        self.days: list[int] = []  # sorted; a bucket emptied stays listed

    def update(self, entity_id: str, snapshot: Snapshot | None) -> None:
        old = self.day_of.pop(entity_id, None)
        if old is not None:
            self.buckets[old].discard(entity_id)
        at = self.key(snapshot) if snapshot is not None else None
        if at is None:
            return
        day = _day(at)
        bucket = self.buckets.get(day)
        if bucket is None:
            bucket = self.buckets[day] = set()
            bisect.insort(self.days, day)
        bucket.add(entity_id)
        self.day_of[entity_id] = day

    def scan(
        self,
        snapshots: dict[str, Snapshot],
        start: dt.datetime | None,
        end: dt.datetime,
        accept: Callable[[Snapshot], bool],
        limit: int | None,
    ) -> list[Snapshot]:
        """The entities whose instant lies in ``(start, end]``, earliest first."""
        key = self.key
        lo = 0 if start is None else bisect.bisect_left(self.days, _day(start))
        hi = bisect.bisect_right(self.days, _day(end))
        out: list[tuple[dt.datetime, str, Snapshot]] = []
        for day in self.days[lo:hi]:
            found = []
            for entity_id in self.buckets[day]:
                snap = snapshots[entity_id]
                at = key(snap)
                if at is not None and at <= end and (start is None or at > start) and accept(snap):
                    found.append((at, entity_id, snap))
            found.sort(key=lambda t: (t[0], t[1]))
            out.extend(found)
            if limit is not None and len(out) >= limit:
                break
        return [t[2] for t in out[:limit]]


def _open_due(snapshot: Snapshot) -> dt.datetime | None:
    return None if snapshot.terminal else snapshot.next_due_at


def _alert_at(snapshot: Snapshot) -> dt.datetime | None:
    return snapshot.next_alert_at


def _accepting(kind: str | None, areas: Collection[str] | None) -> Callable[[Snapshot], bool]:
    area_set = frozenset(areas) if areas is not None else None

    def accept(s: Snapshot) -> bool:
        return (kind is None or s.kind == kind) and (
            area_set is None or not area_set.isdisjoint(s.areas)
        )

    return accept


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
        # Indexes of due times and alert times, brought up to date from the log when a
        # query needs them, so that writing pays nothing for them.
        self._due = _TimeIndex(_open_due)
        self._alerts = _TimeIndex(_alert_at)
        self._indexed = 0  # events of the log the indexes have seen
        # The latest time of the log's first events, and how many: latest_at reads only
        # the events after them.
        self._latest: tuple[int, dt.datetime | None] = (0, None)
        self._rewritten: set[str] = set()  # entities rewritten apart from the log

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

    def _indexes(self) -> None:
        """Bring the time indexes up to date with the entities written since last asked."""
        with self._lock:
            log = self._log
            if self._indexed == len(log) and not self._rewritten:
                return
            touched = {e.entity_id for e in log[self._indexed :]} | self._rewritten
            snapshots = self._snapshots
            for entity_id in touched:
                snap = snapshots.get(entity_id)
                self._due.update(entity_id, snap)
                self._alerts.update(entity_id, snap)
            self._indexed = len(log)
            self._rewritten.clear()

    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        self._indexes()
        return self._due.scan(self._snapshots, None, now, _accepting(kind, areas), limit)

    def due_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        kind: str | None = None,
        areas: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        self._indexes()
        return self._due.scan(self._snapshots, start, end, _accepting(kind, areas), limit)

    def due_alerts(self, now: dt.datetime, *, limit: int = 1000) -> list[Snapshot]:
        self._indexes()
        return self._alerts.scan(self._snapshots, None, now, _accepting(None, None), limit)

    def count_values(
        self,
        fields: Sequence[str],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
        due: DueSpan | None = None,
    ) -> dict[tuple[Any, ...], int]:
        paths = value_paths(fields)
        found = self._matching(kind=kind, round_id=round_id, areas=areas)
        return tally_values((s for s in found if within(s, due)), paths)

    def latest_at(self) -> dt.datetime | None:
        with self._lock:
            seen, latest = self._latest
            log = self._log
            if len(log) > seen:
                # A slice: islice would step over the first ``seen`` events again.
                found = max(e.at for e in log[seen:])
                latest = found if latest is None else max(latest, found)
                self._latest = (len(log), latest)
            return latest

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

    def counts_by_area(
        self,
        *,
        kind: str | None = None,
        round_id: str | None = None,
        areas: Collection[str] | None = None,
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self._matching(kind=kind, round_id=round_id, areas=areas):
            for area in dict.fromkeys(s.areas):
                out[area] = out.get(area, 0) + 1
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
            self._rewritten.add(snapshot.entity_id)
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
