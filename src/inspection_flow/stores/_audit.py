"""The audit of a store: what :meth:`EventStore.verify` checks, and what it reports.

Three things are checked against each other:

- each entity's events: versions without gaps, each event pointing at the hash of the one
  before it, its content matching its own hash, and its state before equal to the state
  after the event before it;
- the ledger's head, written in the same transaction as the events: how many events,
  entities and applied commands the ledger holds, and each event's position in the order
  the ledger took them, so that removing an entity's latest event, or a whole entity,
  shows;
- the projection (each entity's row and snapshot, its area rows, the record of applied
  commands) against the events: a deep check folds every entity again and compares
  every field.

An :class:`Anchor` is a short digest of the first N events in the ledger's order, to be
printed or published: a ledger whose events were rewritten and re-hashed throughout
passes every check above, but no longer matches an anchor taken before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .._records import Event, Snapshot, canonical_bytes, chain_hash, fold
from ..exceptions import StoreError, TamperError

__all__ = [
    "Anchor",
    "CommandRow",
    "EntityRecords",
    "LedgerHead",
    "Problem",
    "ProjectionRow",
    "RepairReport",
    "VerifyReport",
    "anchor_of",
    "audit",
    "chain_problems",
    "snapshot_differences",
]


@attrs.frozen
class LateEntry:
    """A fact entered further back than its rulebook allows, with the reason given.

    Not a problem: the ledger asked for the reason and kept it; an audit lists such
    entries so they can be looked at.

    Attributes:
        entity_id, version, event: the event.
        at: when it happened; recorded_at: when it was entered.
        reason: the reason given; limit: the limit it passed, in words.
    """

    entity_id: str
    version: int
    event: str
    at: dt.datetime
    recorded_at: dt.datetime | None
    reason: str
    limit: str

    def __str__(self) -> str:
        entered = self.recorded_at.isoformat() if self.recorded_at is not None else "?"
        return (
            f"{self.entity_id} event {self.version} ({self.event}): happened "
            f"{self.at.isoformat()}, entered {entered}, past {self.limit}: {self.reason}"
        )


@attrs.frozen
class Problem:
    """One thing an audit found wrong.

    Attributes:
        entity_id: the entity concerned, or ``None`` for the ledger as a whole.
        version: the event concerned, if one is.
        field: what is wrong: ``hash``, ``link``, ``version``, ``state``, ``event``,
            ``projection``, ``snapshot``, a snapshot field (``state``, ``deadlines``…),
            a projection column, ``areas``, ``commands``, ``head``, ``anchor`` or
            ``latest_at`` (the latest time a SQL store keeps of the ledger's first
            events).
        message: what was found, in words a clerk can pass on.
        repairable: whether :meth:`EventStore.repair` mends it: the projection, the
            record of applied commands and the kept latest time are derived from the
            events and can be written again; the events and the head are the record
            itself and cannot.
    """

    entity_id: str | None
    version: int | None
    field: str
    message: str
    repairable: bool = False

    def __str__(self) -> str:
        if self.entity_id is None:
            return f"ledger: {self.message}"
        if self.version is None:
            return f"{self.entity_id}: {self.message}"
        return f"{self.entity_id} event {self.version}: {self.message}"


@attrs.frozen
class LedgerHead:
    """What the ledger's head records: its events, entities and applied commands."""

    events: int
    entities: int
    commands: int


_ANCHOR = re.compile(r"^if1-(\d{1,18})-([0-9a-f]{32})$")


@attrs.frozen
class Anchor:
    """A short digest of the first ``events`` events of a ledger, in the order it took them.

    Its text form (``if1-1234-…``) is meant to be printed in a report or published: a
    later :meth:`EventStore.verify` with the anchor shows whether those events are still
    the ones anchored, however the ledger grew since.
    """

    events: int
    digest: str

    def __str__(self) -> str:
        return f"if1-{self.events}-{self.digest}"

    @classmethod
    def parse(cls, text: Anchor | str) -> Anchor:
        """Read an anchor from its text form.

        Raises:
            StoreError: ``text`` is not an anchor.
        """
        if isinstance(text, Anchor):
            return text
        found = _ANCHOR.match(text.strip().lower()) if isinstance(text, str) else None
        if found is None:
            raise StoreError(
                f"{text!r} is not a ledger anchor; an anchor reads like if1-1234-"
                "followed by 32 hexadecimal digits, as printed by 'inspection-flow anchor'"
            )
        return cls(int(found.group(1)), found.group(2))


def anchor_of(hashes: Iterable[str]) -> Anchor:
    """Return the anchor of events given by their hashes, in the ledger's order."""
    digest = bytes(32)
    n = 0
    for value in hashes:
        digest = hashlib.sha256(digest + value.encode("utf-8", "surrogatepass")).digest()
        n += 1
    return Anchor(n, digest.hex()[:32])


@attrs.frozen
class VerifyReport:
    """The result of an audit.

    Attributes:
        entities: how many entities were checked.
        events: how many events were checked.
        problems: everything found wrong, in the order found; empty when all is well.
        deep: whether every entity's projection was compared with the fold of its events.
        anchor: the anchor the ledger was checked against, if any.
        late_entries: the facts entered further back than their rulebook allows, each
            with its reason (not problems: listed to be looked at).
    """

    entities: int
    events: int
    problems: tuple[Problem, ...] = ()
    deep: bool = False
    anchor: Anchor | None = None
    late_entries: tuple[LateEntry, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.problems

    @property
    def entity_id(self) -> str | None:
        """The entity of the first problem, if any."""
        return self.problems[0].entity_id if self.problems else None

    @property
    def version(self) -> int | None:
        """The event of the first problem, if any."""
        return self.problems[0].version if self.problems else None

    @property
    def problem(self) -> str:
        """The first problem's message, or ``""``."""
        return self.problems[0].message if self.problems else ""

    def __str__(self) -> str:
        if self.ok:
            checked = f"intact: {self.entities} entities, {self.events} events"
            if self.deep:
                checked += ", projection matches the events"
            if self.anchor is not None:
                checked += f", anchor {self.anchor} matches"
            if self.late_entries:
                listed = "\n".join(f"  {e}" for e in self.late_entries)
                checked += f"\nback-dated entries, with their reasons:\n{listed}"
            return checked
        return "\n".join(f"broken: {p}" for p in self.problems)


@attrs.frozen
class RepairReport:
    """What :meth:`EventStore.repair` rewrote, and what it could not repair.

    Attributes:
        repaired: the entities whose projection was rewritten from their events.
        commands: how many records of applied commands were restored from the events.
        unrepairable: problems in the events themselves, which no repair can mend.
    """

    repaired: tuple[str, ...] = ()
    commands: int = 0
    unrepairable: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether everything found could be repaired."""
        return not self.unrepairable

    def __str__(self) -> str:
        lines = [
            f"repaired: {len(self.repaired)} entities, {self.commands} command records"
            + (
                f" ({', '.join(self.repaired[:10])}{' …' if len(self.repaired) > 10 else ''})"
                if self.repaired
                else ""
            )
        ]
        lines.extend(f"cannot repair: {p}" for p in self.unrepairable)
        return "\n".join(lines)


@attrs.frozen
class ProjectionRow:
    """An entity's row in a store's projection, as an audit reads it.

    Attributes:
        version: the row's version.
        snapshot: the stored snapshot, the error met reading it, or ``None`` where not read.
        columns: stored values of the columns the queries use (SQL stores), if read.
        areas: the stored area rows (SQL stores), if read.
    """

    version: int
    snapshot: Snapshot | StoreError | None = None
    columns: Mapping[str, Any] | None = None
    areas: tuple[str, ...] | None = None


@attrs.frozen
class CommandRow:
    """A record of an applied command: which of an entity's events it wrote."""

    command_id: str
    entity_id: str
    first_version: int
    last_version: int


class CheckedEvent:
    """An event a store read and found to hash to its stored hash, left undecoded.

    A store that checks each event's hash where it reads the row (from the stored text,
    without building an :class:`Event`) hands the audit these: everything the audit
    compares but the hash itself, which held.  ``recorded_at`` is read only for a
    back-dated entry (``late_entry`` set), the only time the audit reports it.
    """

    __slots__ = (
        "at",
        "command_id",
        "entity_id",
        "hash",
        "late_entry",
        "name",
        "prev_hash",
        "recorded_at",
        "state_after",
        "state_before",
        "version",
    )

    def __init__(
        self,
        entity_id: str,
        version: int,
        name: str,
        at: dt.datetime,
        recorded_at: dt.datetime | None,
        prev_hash: str,
        hash: str,
        state_before: str,
        state_after: str,
        command_id: str | None,
        late_entry: Mapping[str, str] | None,
    ) -> None:
        self.entity_id = entity_id
        self.version = version
        self.name = name
        self.at = at
        self.recorded_at = recorded_at
        self.prev_hash = prev_hash
        self.hash = hash
        self.state_before = state_before
        self.state_after = state_after
        self.command_id = command_id
        self.late_entry = late_entry


#: What an audit reads of an event: the event, one whose hash was checked where it was
#: read, or the error met reading it.
AuditedEvent = Event | CheckedEvent | TamperError


@attrs.frozen
class EntityRecords:
    """Everything a store holds of one entity, as an audit reads it.

    Attributes:
        entity_id: the entity.
        events: its events in version order, each with its position in the ledger's order
            (``None`` where the store keeps none), or the error met reading it.
        row: its projection row, or ``None`` if it has none.
        commands: its records of applied commands, or ``None`` where the store keeps none
            that can be read apart from the events.
        problems: what the store itself found wrong in how it keeps the entity (e.g. an
            event's time column that differs from its recorded time).
    """

    entity_id: str
    events: Sequence[tuple[int | None, AuditedEvent]]
    row: ProjectionRow | None
    commands: Sequence[CommandRow] | None = None
    problems: Sequence[Problem] = ()


def chain_problems(
    entity_id: str, events: Sequence[tuple[int | None, AuditedEvent]]
) -> list[Problem]:
    """Return every broken link of one entity's events, not only the first.

    A changed event is reported once: the link of the event after it is checked against
    the hash stored with the changed one, which still holds.
    """
    # Long by design: one check per kind of broken link, in the order an auditor reads a chain.
    problems: list[Problem] = []
    expected = 1
    prev_hash: str | None = "0" * 64
    prev_state: str | None = None
    prev_position: int | None = None
    for position, item in events:
        if isinstance(item, TamperError):
            problems.append(Problem(entity_id, item.version, "event", item.problem))
            expected, prev_hash, prev_state = item.version + 1, None, None
            continue
        event = item
        if event.version != expected:
            missing = (
                f"events {expected}–{event.version - 1} are missing"
                if event.version > expected + 1
                else f"event {expected} is missing"
                if event.version > expected
                else f"version {event.version} found where {expected} was expected"
            )
            problems.append(Problem(entity_id, event.version, "version", missing))
            prev_hash = prev_state = None
        if prev_hash is not None and event.prev_hash != prev_hash:
            problems.append(
                Problem(
                    entity_id,
                    event.version,
                    "link",
                    "its previous-hash does not match the event before it",
                )
            )
        if not isinstance(event, CheckedEvent) and chain_hash(event) != event.hash:
            problems.append(
                Problem(
                    entity_id,
                    event.version,
                    "hash",
                    "its content does not match its hash (changed after writing)",
                )
            )
        if prev_state is not None and event.state_before != prev_state:
            problems.append(
                Problem(
                    entity_id,
                    event.version,
                    "state",
                    f"it starts from state {event.state_before!r}, but the event before it "
                    f"left the entity in {prev_state!r}",
                )
            )
        if position is not None and prev_position is not None and position <= prev_position:
            problems.append(
                Problem(
                    entity_id,
                    event.version,
                    "position",
                    f"it stands at position {position} of the ledger, before the event "
                    f"before it ({prev_position})",
                )
            )
        expected = event.version + 1
        prev_hash, prev_state = event.hash, event.state_after
        prev_position = position if position is not None else prev_position
    return problems


def _comparable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return canonical_bytes({k: _comparable(v) for k, v in value.items()})
    if hasattr(value, "to_dict"):
        return canonical_bytes(value.to_dict())
    if isinstance(value, (list, tuple)):
        return canonical_bytes([_comparable(v) for v in value])
    return value


def snapshot_differences(expected: Snapshot, found: Snapshot) -> list[str]:
    """Return the names of the snapshot fields in which ``found`` differs from ``expected``."""
    out = []
    for field in attrs.fields(Snapshot):
        a, b = getattr(expected, field.name), getattr(found, field.name)
        if a == b:
            continue
        if _comparable(a) != _comparable(b):
            out.append(field.name)
    return out


def audit(
    records: Iterable[EntityRecords],
    *,
    head: LedgerHead | None,
    keeps_head: bool,
    deep: bool,
    expected_columns: Callable[[Snapshot], Mapping[str, Any]] | None = None,
    missing_positions: Callable[[int], Sequence[int]] | None = None,
    anchored: Callable[[int], Anchor] | None = None,
    anchor: Anchor | None = None,
) -> VerifyReport:
    """Check a store's records of every entity against each other and against the head.

    Args:
        records: every entity the store holds anything of, each once.
        head: what the ledger's head records, or ``None`` if it has none.
        keeps_head: whether the store keeps a head (so a missing one is a problem).
        deep: fold every entity and compare its projection.
        expected_columns: the projection columns a snapshot should give (SQL stores).
        missing_positions: given the head's count of events, the positions that hold no
            event (asked only when the counts disagree).
        anchored: given a count N, the anchor of the ledger's first N events.
        anchor: an anchor to check the ledger against.
    """
    # Long by design: one pass over every entity, keeping the ledger-wide counts the head is
    # checked against.
    problems: list[Problem] = []
    late_entries: list[LateEntry] = []
    entities = events = commands = 0
    # The events' positions: how many, their sum, the sum of their squares, the highest.
    count = total = squares = highest = 0
    for rec in records:
        entity_id = rec.entity_id
        if rec.events:
            entities += 1
        events += len(rec.events)
        chain = chain_problems(entity_id, rec.events)
        problems.extend(chain)
        problems.extend(rec.problems)
        # One pass over the entity's events: their positions, the events that could be
        # read, their late entries.
        good: list[Event | CheckedEvent] = []
        for position, e in rec.events:
            if position is not None:
                count += 1
                total += position
                squares += position * position
                if position > highest:
                    highest = position
            if isinstance(e, TamperError):
                continue
            good.append(e)
            late = e.late_entry
            if late is not None:
                late_entries.append(
                    LateEntry(
                        entity_id,
                        e.version,
                        e.name,
                        e.at,
                        e.recorded_at,
                        str(late.get("reason", "")),
                        str(late.get("limit", "")),
                    )
                )
        last = good[-1] if good and len(good) == len(rec.events) else None
        if rec.commands is not None:
            commands += len(rec.commands)
            problems.extend(_command_problems(entity_id, good, rec.commands))
        row = rec.row
        if not rec.events:
            if row is not None:
                problems.append(
                    Problem(
                        entity_id,
                        None,
                        "events",
                        "it has a row in the projection but no events: its events were removed",
                    )
                )
            continue
        if row is None:
            problems.append(
                Problem(
                    entity_id,
                    None,
                    "projection",
                    "it has events but no row in the projection; run repair() to restore it",
                    repairable=True,
                )
            )
            continue
        stored_version = rec.events[-1][1].version
        if row.version != stored_version:
            problems.append(
                Problem(
                    entity_id,
                    None,
                    "version",
                    f"the projection is at version {row.version} but its events end at "
                    f"version {stored_version}: events were removed, or the projection "
                    "was written apart from them",
                    repairable=True,
                )
            )
        if deep and last is not None and not chain:
            # A deep audit reads whole events: it folds them.
            whole = [e for e in good if isinstance(e, Event)]
            problems.extend(_projection_problems(entity_id, whole, row, expected_columns))
    if keeps_head:
        problems.extend(
            _head_problems(
                head,
                entities,
                events,
                commands,
                [count, total, squares, highest],
                missing_positions,
            )
        )
    if anchor is not None:
        problems.extend(_anchor_problems(anchor, head, events, anchored))
    return VerifyReport(entities, events, tuple(problems), deep, anchor, tuple(late_entries))


def _command_problems(
    entity_id: str, events: Sequence[Event | CheckedEvent], rows: Sequence[CommandRow]
) -> list[Problem]:
    carried: dict[str, list[int]] = {}
    for event in events:
        if event.command_id is not None:
            carried.setdefault(event.command_id, []).append(event.version)
    problems = []
    recorded = {r.command_id: r for r in rows}
    for command_id, versions in carried.items():
        row = recorded.get(command_id)
        if row is None:
            problems.append(
                Problem(
                    entity_id,
                    versions[0],
                    "commands",
                    f"command {command_id!r} has no record among the applied commands "
                    "(the record of applied commands was changed); run repair() to restore it",
                    repairable=True,
                )
            )
        elif (row.first_version, row.last_version) != (versions[0], versions[-1]):
            problems.append(
                Problem(
                    entity_id,
                    versions[0],
                    "commands",
                    f"command {command_id!r} is recorded as versions {row.first_version}–"
                    f"{row.last_version} but its events are versions {versions[0]}–"
                    f"{versions[-1]}",
                    repairable=True,
                )
            )
    for row in rows:
        if row.command_id not in carried:
            problems.append(
                Problem(
                    entity_id,
                    row.first_version,
                    "commands",
                    f"command {row.command_id!r} is recorded as applied, but no event of "
                    "this entity carries it",
                    repairable=True,
                )
            )
    return problems


def _projection_problems(
    entity_id: str,
    events: Sequence[Event],
    row: ProjectionRow,
    expected_columns: Callable[[Snapshot], Mapping[str, Any]] | None,
) -> list[Problem]:
    problems = []
    try:
        folded: Snapshot | None = None
        for event in events:
            folded = fold(folded, event)
    except StoreError as exc:
        return [Problem(entity_id, None, "events", f"its events cannot be folded: {exc}")]
    assert folded is not None
    snap = row.snapshot
    if isinstance(snap, StoreError):
        problems.append(
            Problem(entity_id, None, "snapshot", f"cannot be read: {snap}", repairable=True)
        )
    elif snap is not None:
        for name in snapshot_differences(folded, snap):
            problems.append(
                Problem(
                    entity_id,
                    None,
                    name,
                    f"the stored snapshot's {name} differs from the fold of its events: "
                    f"{_short(getattr(snap, name))} stored, {_short(getattr(folded, name))} "
                    "from the events",
                    repairable=True,
                )
            )
    if row.columns is not None and expected_columns is not None:
        for name, value in expected_columns(folded).items():
            stored = row.columns.get(name)
            if stored != value:
                problems.append(
                    Problem(
                        entity_id,
                        None,
                        name,
                        f"the projection's column {name} holds {_short(stored)}, the events "
                        f"give {_short(value)}",
                        repairable=True,
                    )
                )
    if row.areas is not None and tuple(sorted(set(folded.areas))) != tuple(sorted(row.areas)):
        problems.append(
            Problem(
                entity_id,
                None,
                "areas",
                f"the projection's area rows are {list(row.areas)}, the events give "
                f"{sorted(set(folded.areas))}",
                repairable=True,
            )
        )
    return problems


def _short(value: Any) -> str:
    text = repr(value.to_dict() if hasattr(value, "to_dict") else value)
    return text if len(text) <= 80 else text[:77] + "..."


def _head_problems(
    head: LedgerHead | None,
    entities: int,
    events: int,
    commands: int,
    positions: list[int],
    missing_positions: Callable[[int], Sequence[int]] | None,
) -> Iterator[Problem]:
    # Long by design: one message per count the head keeps.
    if head is None:
        yield Problem(
            None,
            None,
            "head",
            "the ledger's head (its count of events, entities and commands) is missing",
        )
        return
    if head.events != events:
        gone = head.events - events
        yield Problem(
            None,
            None,
            "head",
            f"the ledger's head records {head.events} events, {events} were found"
            + (f": {gone} events were removed" if gone > 0 else ""),
        )
    n = head.events
    count, total, squares, highest = positions
    if count and (
        highest != n or total != n * (n + 1) // 2 or squares != n * (n + 1) * (2 * n + 1) // 6
    ):
        missing = list(missing_positions(n)) if missing_positions is not None else []
        where = (
            f": nothing stands at position{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(str, missing[:20]))}{' …' if len(missing) > 20 else ''}"
            if missing
            else ""
        )
        yield Problem(
            None,
            None,
            "position",
            f"the events' positions do not run 1 to {n} without gaps{where}",
        )
    if head.entities != entities:
        yield Problem(
            None,
            None,
            "head",
            f"the ledger's head records {head.entities} entities, {entities} have events"
            + (
                f": {head.entities - entities} entities were removed"
                if head.entities > entities
                else ""
            ),
        )
    if head.commands != commands:
        yield Problem(
            None,
            None,
            "commands",
            f"the ledger's head records {head.commands} applied commands, {commands} "
            "records were found (the record of applied commands was changed); run "
            "repair() to restore them from the events",
            repairable=True,
        )


def _anchor_problems(
    anchor: Anchor,
    head: LedgerHead | None,
    events: int,
    anchored: Callable[[int], Anchor] | None,
) -> Iterator[Problem]:
    if anchored is None:
        yield Problem(None, None, "anchor", "this store keeps no order of events to anchor")
        return
    held = head.events if head is not None else events
    if held < anchor.events:
        yield Problem(
            None,
            None,
            "anchor",
            f"the anchor covers {anchor.events} events but the ledger holds {held}: "
            "events were removed",
        )
        return
    found = anchored(anchor.events)
    if found != anchor:
        yield Problem(
            None,
            None,
            "anchor",
            f"the ledger's first {anchor.events} events give {found}, not the anchor "
            f"{anchor}: events were changed, removed or rewritten since it was taken",
        )
