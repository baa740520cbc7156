"""Events, snapshots and deadline records: the plain data a ledger stores.

Everything here round-trips through JSON-able dicts, and an event's hash covers its
content and the previous event's hash, so a store can prove nothing was touched.

It is long because events, snapshots, deadline records and their fold are one format:
they change together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs
import orjson

from ._areas import Actor
from ._display import html_table, markdown_table
from ._rules import SHANGHAI
from .exceptions import StoreError

__all__ = [
    "ALERT",
    "ALERT_WITHDRAWN",
    "GENESIS",
    "LEDGER_NOTES",
    "NO_DEADLINES",
    "Commit",
    "DeadlineRecord",
    "DeadlineStatus",
    "Event",
    "Snapshot",
    "canonical_bytes",
    "canonical_json",
    "chain_hash",
    "fold",
    "in_due_order",
    "iso",
    "one_area",
    "release_memos",
    "replay",
]

#: The "previous hash" of an entity's first event.
GENESIS = "0" * 64

#: Events the ledger records about an entity's deadlines on its own (a sweep's alerts, an
#: alert withdrawn): notes on what happened, not facts of the entity, so they never
#: decide what may be entered before them.
ALERT = "alert"
ALERT_WITHDRAWN = "alert_withdrawn"
LEDGER_NOTES = frozenset({ALERT, ALERT_WITHDRAWN})

#: What became of a deadline: still ``open``; ``met`` by its due time; ``met_late``, after
#: it; or ``cancelled``.  A deadline stored as met before ``met_late`` existed stays met.
DeadlineStatus = Literal["open", "met", "met_late", "cancelled"]


# The two instants written last, with their texts (each one tuple, replaced whole, so
# that a thread never pairs one instant with another's text): a write's snapshot and
# event name the same instant one after another (updated, occurred, the event's time),
# and the events of one write alternate between their own time and the one instant
# they are recorded at.
_LAST_ISO: tuple[dt.datetime | None, str] = (None, "")
_BEFORE_ISO: tuple[dt.datetime | None, str] = (None, "")


def iso(value: dt.datetime) -> str:
    """Return ``value.isoformat()`` (the fast way for an instant in Asia/Shanghai)."""
    global _LAST_ISO, _BEFORE_ISO
    last = _LAST_ISO
    if last[0] is value:
        return last[1]
    before = _BEFORE_ISO
    if before[0] is value:
        _BEFORE_ISO, _LAST_ISO = last, before
        return before[1]
    # orjson writes an aware datetime exactly as isoformat() does, four times faster,
    # unless the offset has seconds: Shanghai's has had none since 1901.  Event.new
    # hands such instants to orjson directly.
    fast = _orjson_writes(value)
    text = orjson.dumps(value)[1:-1].decode() if fast else value.isoformat()
    _BEFORE_ISO, _LAST_ISO = last, (value, text)
    return text


def _orjson_writes(value: dt.datetime) -> bool:
    """Whether orjson writes ``value`` exactly as ``isoformat()`` does: an instant in
    Asia/Shanghai after 1901 (no offset in seconds since), or at a fixed offset of whole
    minutes (as instants read back from their ISO text are)."""
    tz = value.tzinfo
    if tz is SHANGHAI:
        return value.year > 1901
    if tz.__class__ is dt.timezone:
        whole = _WHOLE_MINUTES.get(tz)
        if whole is None:
            offset = tz.utcoffset(None)
            whole = _WHOLE_MINUTES[tz] = offset.microseconds == 0 and offset.seconds % 60 == 0
        return whole
    return False


# Fixed offsets (datetime.timezone) by whether they are whole minutes; few are ever seen.
_WHOLE_MINUTES: dict[dt.timezone, bool] = {}


# Actors' plain forms, built once each (read-only: only ever serialised).
_ACTOR_DATA: dict[Actor, dict[str, str]] = {}


def _actor_data(actor: Actor) -> dict[str, str]:
    found = _ACTOR_DATA.get(actor)
    if found is None:
        if len(_ACTOR_DATA) >= 4096:
            _ACTOR_DATA.clear()
        found = _ACTOR_DATA[actor] = actor.to_dict()
    return found


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else iso(value)


def _parse_dt(value: Any, what: str) -> dt.datetime:
    try:
        out = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise StoreError(f"stored {what} {value!r} is not an ISO instant") from None
    if out.utcoffset() is None:
        raise StoreError(f"stored {what} {value!r} has no time zone")
    return out


def _parse_opt_dt(value: Any, what: str) -> dt.datetime | None:
    return None if value is None else _parse_dt(value, what)


def canonical_bytes(data: Any) -> bytes:
    """Return ``data`` as canonical JSON in UTF-8: sorted keys, no spaces, no escapes.

    Raises:
        StoreError: ``data`` holds something JSON cannot represent.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise StoreError(f"cannot store {data!r} as JSON: {exc}") from exc


def canonical_json(data: Any) -> str:
    """Return ``data`` as canonical JSON text: sorted keys, no spaces, UTF-8 kept."""
    return canonical_bytes(data).decode("utf-8")


@attrs.frozen
class DeadlineRecord:
    """A deadline as stored on an entity: what was computed, when, and what became of it.

    Stored values are authoritative: a later change of rulebook or calendar does not move
    them; :meth:`Ledger.recompute` reports and records any difference explicitly.
    """

    name: str
    rule: Mapping[str, Any]
    anchor: str
    last_day: dt.date
    due_at: dt.datetime
    calendar_version: str
    provisional: bool = False
    suspended: bool = False
    status: DeadlineStatus = "open"
    ended_at: dt.datetime | None = None
    pauses: tuple[tuple[str, str | None, str], ...] = ()
    extensions: tuple[Mapping[str, Any], ...] = ()
    alerts: tuple[tuple[str, str, dt.datetime, str], ...] = ()
    fired: tuple[str, ...] = ()
    kind: Literal["due", "period"] = "due"

    def ended(self, status: DeadlineStatus, at: dt.datetime | None) -> DeadlineRecord:
        """Return the record with its status and end changed (met, cancelled or reopened).

        The cases that share a record (handed over together) and end it at one instant (a
        ``fire_many``) share the ended record too: made once, written once.
        """
        key = (id(self), status, id(at))
        known = _ENDED.get(key)
        if known is not None and known[0] is self and known[1] is at:
            return known[2]
        # Built directly: attrs.evolve costs several times more on the ledger's hot path.
        out = DeadlineRecord(
            self.name,
            self.rule,
            self.anchor,
            self.last_day,
            self.due_at,
            self.calendar_version,
            self.provisional,
            self.suspended,
            status,
            at,
            self.pauses,
            self.extensions,
            self.alerts,
            self.fired,
            self.kind,
        )
        if len(_ENDED) >= 8192:
            _ENDED.clear()
        # Kept with the record and the instant, so that an id in a key names them.
        _ENDED[key] = (self, at, out)
        return out

    def pending_alerts(self, now: dt.datetime) -> list[tuple[str, str, dt.datetime, str]]:
        """Return alerts due at ``now`` that have not fired, for an open running deadline.

        While a pause holds the clock (``suspended``) nothing falls due.
        """
        if self.status != "open" or self.suspended:
            return []
        return [a for a in self.alerts if a[2] <= now and a[1] not in self.fired]

    def next_alert_at(self) -> dt.datetime | None:
        """Return the instant of the next alert that has not fired, if open and running."""
        if self.status != "open" or self.suspended:
            return None
        pending = [a[2] for a in self.alerts if a[1] not in self.fired]
        return min(pending) if pending else None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-able data.

        Arrays are tuples, and the rule, pauses and extensions are the record's own
        (immutable) values: an event's effects are kept for the life of a ledger, and
        shared, untracked values keep a million of them small and cheap to collect.
        """
        return {
            "name": self.name,
            "rule": self.rule,
            "anchor": self.anchor,
            "last_day": self.last_day.isoformat(),
            "due_at": iso(self.due_at),
            "calendar_version": self.calendar_version,
            "provisional": self.provisional,
            "suspended": self.suspended,
            "status": self.status,
            "ended_at": _iso(self.ended_at),
            "pauses": self.pauses,
            "extensions": self.extensions,
            "alerts": tuple((k, n, iso(at), label) for k, n, at, label in self.alerts),
            "fired": self.fired,
            **({"kind": self.kind} if self.kind != "due" else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadlineRecord:
        """Rebuild a record from :meth:`to_dict`.

        Raises:
            StoreError: the data is malformed.
        """
        try:
            return cls(
                name=data["name"],
                rule=data["rule"],
                anchor=data["anchor"],
                last_day=dt.date.fromisoformat(data["last_day"]),
                due_at=_parse_dt(data["due_at"], "due_at"),
                calendar_version=data["calendar_version"],
                provisional=bool(data.get("provisional", False)),
                suspended=bool(data.get("suspended", False)),
                status=data.get("status", "open"),
                ended_at=_parse_opt_dt(data.get("ended_at"), "ended_at"),
                pauses=tuple((p[0], p[1], p[2]) for p in data.get("pauses", ())),
                extensions=tuple(data.get("extensions", ())),
                alerts=tuple(
                    (a[0], a[1], _parse_dt(a[2], "alert"), a[3]) for a in data.get("alerts", ())
                ),
                fired=tuple(data.get("fired", ())),
                kind=data.get("kind", "due"),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StoreError(f"malformed deadline record {data!r}: {exc}") from exc


@attrs.frozen
class Event:
    """One accepted command: who did what, when, to which entity, and what it changed.

    ``payload`` is what the actor gave; ``effects`` is what the ledger computed from it
    (deadlines started or ended, data set).  Replaying effects rebuilds the entity
    without the rulebook or calendar, so a stored deadline never moves silently.
    """

    entity_id: str
    version: int
    name: str
    at: dt.datetime
    actor: Actor
    # Compared as JSON, so an event read back from a store (arrays as lists) equals the
    # one written (arrays may be tuples).
    payload: Mapping[str, Any] = attrs.field(eq=canonical_bytes)
    state_before: str
    state_after: str
    effects: Mapping[str, Any] = attrs.field(factory=dict, eq=canonical_bytes)
    command_id: str | None = None
    prev_hash: str = GENESIS
    hash: str = ""
    #: When the event was written, as the ledger's clock said; ``at`` is when it happened.
    #: Events stored before the ledger kept it have none.
    recorded_at: dt.datetime | None = None

    @property
    def late_entry(self) -> Mapping[str, str] | None:
        """The reason a back-dated entry was given and the limit it passed, or ``None``."""
        found = self.effects.get("late_entry")
        return found if isinstance(found, Mapping) else None

    def content(self) -> dict[str, Any]:
        """Return the hashed content of the event (everything but its own hash).

        ``recorded_at`` is part of it only when set, so events stored without it hash as
        they always did.
        """
        out: dict[str, Any] = {
            "entity_id": self.entity_id,
            "version": self.version,
            "name": self.name,
            "at": iso(self.at),
            "actor": self.actor.to_dict(),
            "payload": dict(self.payload),
            "state_before": self.state_before,
            "state_after": self.state_after,
            "effects": dict(self.effects),
            "command_id": self.command_id,
            "prev_hash": self.prev_hash,
        }
        if self.recorded_at is not None:
            out["recorded_at"] = iso(self.recorded_at)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the event as JSON-able data, hash included."""
        out = self.content()
        out["hash"] = self.hash
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict`.

        Raises:
            StoreError: the data is malformed.
        """
        try:
            return cls(
                entity_id=data["entity_id"],
                version=int(data["version"]),
                name=data["name"],
                at=_parse_dt(data["at"], "event time"),
                actor=Actor.from_dict(data["actor"]),
                payload=data["payload"],
                state_before=data["state_before"],
                state_after=data["state_after"],
                effects=data.get("effects", {}),
                command_id=data.get("command_id"),
                prev_hash=data.get("prev_hash", GENESIS),
                hash=data.get("hash", ""),
                recorded_at=_parse_opt_dt(data.get("recorded_at"), "recording time"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"malformed event {data!r}: {exc}") from exc

    def sealed(self) -> Event:
        """Return the event with its hash computed over its content."""
        return attrs.evolve(self, hash=chain_hash(self))

    @classmethod
    def new(
        cls,
        entity_id: str,
        version: int,
        name: str,
        at: dt.datetime,
        actor: Actor,
        payload: Mapping[str, Any],
        state_before: str,
        state_after: str,
        effects: Mapping[str, Any],
        command_id: str | None = None,
        prev_hash: str = GENESIS,
        recorded_at: dt.datetime | None = None,
    ) -> Event:
        """Return a new event, its hash computed over its content (built once)."""
        content = {
            "entity_id": entity_id,
            "version": version,
            "name": name,
            "at": _for_json(at),
            "actor": _ACTOR_DATA.get(actor) or _actor_data(actor),
            "payload": payload,
            "state_before": state_before,
            "state_after": state_after,
            "effects": effects,
            "command_id": command_id,
            "prev_hash": prev_hash,
        }
        if recorded_at is not None:
            content["recorded_at"] = _for_json(recorded_at)
        digest = hashlib.sha256(canonical_bytes(content)).hexdigest()
        return cls(
            entity_id,
            version,
            name,
            at,
            actor,
            payload,
            state_before,
            state_after,
            effects,
            command_id,
            prev_hash,
            digest,
            recorded_at,
        )


def chain_hash(event: Event) -> str:
    """Return the SHA-256 of ``event``'s content, which includes the previous hash."""
    return hashlib.sha256(canonical_bytes(event.content())).hexdigest()


# The canonical JSON of deadline mappings, by the mapping's id, with the mapping.
_DEADLINES_JSON: dict[int, tuple[Mapping[str, Any], Any]] = {}

# Deadline records' data by the record's id, with the record (so that an id is never
# mistaken after reuse): a record is shared by the many entities that started it at one
# instant under one rule.
_RECORD_DATA: dict[int, tuple[DeadlineRecord, dict[str, Any]]] = {}


@attrs.frozen
class Snapshot:
    """An entity's current state: the fold of its events, kept as the store's projection.

    Attributes:
        entity_id, kind, lifecycle: what the entity is.
        state, version: where it stands; the version counts its events.
        area: its primary area (the owner's area once assigned); ``areas`` all of them.
        round_id, parent_id: the round it belongs to, and its parent entity if any.
        batch, category: hand-over batch number and pollution category, if any.
        created_at, updated_at: its first and latest events.
        occurred_at: when its latest fact happened: the latest event that is not one of
            the ledger's notes (:data:`LEDGER_NOTES`); ``None`` in snapshots stored
            before it was kept (see :attr:`facts_until`).
        terminal: whether its state is final.
        data: its fields (summary, channel, owner, measures, finding, …).
        deadlines: its deadline records by name, by due instant then name.
        last_hash: the hash of its latest event.
    """

    entity_id: str
    kind: str
    lifecycle: str
    state: str
    version: int
    area: str
    areas: tuple[str, ...]
    round_id: str | None
    parent_id: str | None
    batch: int | None
    category: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    terminal: bool
    data: Mapping[str, Any]
    deadlines: Mapping[str, DeadlineRecord]
    last_hash: str
    occurred_at: dt.datetime | None = None

    @property
    def facts_until(self) -> dt.datetime:
        """When the entity's latest fact happened: nothing earlier may be entered after it.

        A snapshot stored before this was kept falls back on its latest event of any kind.
        """
        return self.occurred_at if self.occurred_at is not None else self.updated_at

    @property
    def next_due_at(self) -> dt.datetime | None:
        """The earliest due time among open deadlines whose clock runs, or ``None``.

        Ends of periods (a station-in, a public notice) are not due times.
        """
        return _next_times(self.deadlines)[0]

    @property
    def next_alert_at(self) -> dt.datetime | None:
        """The earliest alert not yet fired among open deadlines, or ``None``."""
        return _next_times(self.deadlines)[1]

    def __repr__(self) -> str:
        # Short: a notebook or a log shows the entity, never its whole data.
        parts = [self.entity_id, self.kind, self.state, f"area {self.area}"]
        if self.batch is not None:
            parts.append(f"batch {self.batch}")
        deadlines = ", ".join(
            f"{d.name} {d.last_day.isoformat()} {d.status}" for d in self.deadlines.values()
        )
        if deadlines:
            parts.append(f"deadlines: {deadlines}")
        return f"<Snapshot {' · '.join(parts)}>"

    def _display(self) -> tuple[str, list[tuple[str, str, str, str]]]:
        title = f"{self.entity_id} · {self.kind} · {self.state} · area {self.area}"
        if self.batch is not None:
            title += f" · batch {self.batch}"
        rows = [
            (d.name, d.last_day.isoformat(), d.due_at.isoformat(), str(d.status))
            for d in self.deadlines.values()
        ]
        return title, rows

    def _repr_html_(self) -> str:
        title, rows = self._display()
        return html_table(title, ("deadline", "last day", "due at", "status"), rows)

    def _repr_markdown_(self) -> str:
        title, rows = self._display()
        return markdown_table(title, ("deadline", "last day", "due at", "status"), rows)

    def to_dict(self) -> dict[str, Any]:
        """Return the snapshot as JSON-able data."""
        return {
            "entity_id": self.entity_id,
            "kind": self.kind,
            "lifecycle": self.lifecycle,
            "state": self.state,
            "version": self.version,
            "area": self.area,
            "areas": list(self.areas),
            "round_id": self.round_id,
            "parent_id": self.parent_id,
            "batch": self.batch,
            "category": self.category,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "terminal": self.terminal,
            "data": dict(self.data),
            "deadlines": {k: v.to_dict() for k, v in self.deadlines.items()},
            "last_hash": self.last_hash,
            **({"occurred_at": iso(self.occurred_at)} if self.occurred_at is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        """Rebuild a snapshot from :meth:`to_dict`.

        Raises:
            StoreError: the data is malformed.
        """
        try:
            return cls(
                entity_id=data["entity_id"],
                kind=data["kind"],
                lifecycle=data["lifecycle"],
                state=data["state"],
                version=int(data["version"]),
                area=data["area"],
                areas=tuple(data["areas"]),
                round_id=data.get("round_id"),
                parent_id=data.get("parent_id"),
                batch=data.get("batch"),
                category=data.get("category"),
                created_at=_parse_dt(data["created_at"], "created_at"),
                updated_at=_parse_dt(data["updated_at"], "updated_at"),
                terminal=bool(data["terminal"]),
                data=data.get("data", {}),
                deadlines=_read_deadlines(data.get("deadlines")),
                last_hash=data.get("last_hash", GENESIS),
                occurred_at=_parse_opt_dt(data.get("occurred_at"), "occurred_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"malformed snapshot {data!r}: {exc}") from exc


def _read_deadlines(data: Any) -> Mapping[str, DeadlineRecord]:
    """Return the deadline mapping of a snapshot read back, shared with the snapshots
    read before whose deadlines have the same JSON.

    The cases handed over together carry the same records, and an entity's versions
    the same mapping until a deadline changes: read back, they share one mapping again,
    so that what is computed once per mapping (its JSON, its next due time) stays
    computed once, and a large ledger read back holds one copy.
    """
    if not data:
        return NO_DEADLINES
    key = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    found = _READ_DEADLINES.get(key)
    if found is None:
        found = in_due_order({k: DeadlineRecord.from_dict(v) for k, v in data.items()})
        if len(_READ_DEADLINES) >= 8192:
            _READ_DEADLINES.clear()
        _READ_DEADLINES[key] = found
    return found


# Deadline mappings read back, by their canonical JSON (see _read_deadlines).
_READ_DEADLINES: dict[bytes, Mapping[str, DeadlineRecord]] = {}


# Records ended lately, by the ids of the record and the instant and the status (see
# DeadlineRecord.ended).
_ENDED: dict[tuple[int, str, int], tuple[DeadlineRecord, dt.datetime | None, DeadlineRecord]] = {}


# The next due time and alert of deadline mappings, by the mapping's id, with the mapping:
# a mapping is never changed once a snapshot holds it, and snapshots share it (the cases
# handed over together, an entity's versions that leave its deadlines alone).
_NEXT_TIMES: dict[
    int, tuple[Mapping[str, DeadlineRecord], tuple[dt.datetime | None, dt.datetime | None]]
] = {}


def release_memos() -> None:
    """Empty the process-wide memos of this module (the JSON of deadline mappings and
    records, mappings read back, records ended, next times, the last instants written).

    They share work between the many entities of one write; what they hold of a ledger
    that was closed only keeps its objects alive (and, measured, slows the next ledger's
    import by some 5 %).  Called when a ledger or a SQL store is closed; the memos fill
    again as they are used, so another ledger still open loses nothing but their reuse.
    """
    global _LAST_ISO, _BEFORE_ISO
    for memo in (_DEADLINES_JSON, _RECORD_DATA, _READ_DEADLINES, _ENDED, _NEXT_TIMES):
        memo.clear()
    _LAST_ISO = _BEFORE_ISO = (None, "")


def _next_times(
    deadlines: Mapping[str, DeadlineRecord],
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the next due time and the next alert of a snapshot's deadlines."""
    known = _NEXT_TIMES.get(id(deadlines))
    if known is not None and known[0] is deadlines:
        return known[1]
    dues = [
        d.due_at
        for d in deadlines.values()
        if d.status == "open" and not d.suspended and d.kind == "due"
    ]
    ats = [a for d in deadlines.values() if (a := d.next_alert_at()) is not None]
    times = (min(dues) if dues else None, min(ats) if ats else None)
    if len(_NEXT_TIMES) >= 8192:
        _NEXT_TIMES.clear()
    _NEXT_TIMES[id(deadlines)] = (deadlines, times)
    return times


#: The alert every due deadline carries at its due time; not a step of escalation.
PASSED_ALERT = "overdue"


def fired_escalations(
    record: DeadlineRecord, now: dt.datetime
) -> list[tuple[dt.datetime, str, str]]:
    """Return the steps of escalation fired on a deadline by ``now`` as ``(at, name,
    label)``, earliest first; the alert of the due time itself is no step."""
    return sorted(
        (at, name, label)
        for kind, name, at, label in record.alerts
        if kind == "escalation" and name != PASSED_ALERT and name in record.fired and at <= now
    )


def escalation_of(snapshot: Snapshot, now: dt.datetime) -> str | None:
    """Return the label (or name) of the latest escalation step fired on the entity by
    ``now`` (督办函, 约谈 …), or ``None``."""
    labels = sorted(
        (at, label or name)
        for record in snapshot.deadlines.values()
        for at, name, label in fired_escalations(record, now)
    )
    return labels[-1][1] if labels else None


def stored_data(snapshot: Snapshot) -> dict[str, Any]:
    """Return ``snapshot.to_dict()`` for writing it out at once with orjson.

    The deadlines are an ``orjson.Fragment``: their canonical JSON, written once for a
    mapping that many snapshots share (one record is shared by the many entities that
    started it at one instant under one rule, and an entity's versions share the
    mapping until a deadline changes).  The result is for ``canonical_json`` only.
    """
    deadlines: Any
    if not snapshot.deadlines:
        deadlines = {}
    else:
        mapping = snapshot.deadlines
        known = _DEADLINES_JSON.get(id(mapping))
        if known is None or known[0] is not mapping:
            memo = _RECORD_DATA
            data = {}
            for name, record in mapping.items():
                held = memo.get(id(record))
                if held is None or held[0] is not record:
                    if len(memo) >= 8192:
                        memo.clear()
                    held = memo[id(record)] = (record, record.to_dict())
                data[name] = held[1]
            if len(_DEADLINES_JSON) >= 8192:
                _DEADLINES_JSON.clear()
            known = _DEADLINES_JSON[id(mapping)] = (mapping, orjson.Fragment(canonical_bytes(data)))
        deadlines = known[1]
    return {
        "entity_id": snapshot.entity_id,
        "kind": snapshot.kind,
        "lifecycle": snapshot.lifecycle,
        "state": snapshot.state,
        "version": snapshot.version,
        "area": snapshot.area,
        "areas": snapshot.areas,
        "round_id": snapshot.round_id,
        "parent_id": snapshot.parent_id,
        "batch": snapshot.batch,
        "category": snapshot.category,
        # Instants as they are where orjson writes them as isoformat() does (see iso):
        # no text is made for them in between.
        "created_at": _for_json(snapshot.created_at),
        "updated_at": _for_json(snapshot.updated_at),
        "terminal": snapshot.terminal,
        "data": snapshot.data if snapshot.data.__class__ is dict else dict(snapshot.data),
        "deadlines": deadlines,
        "last_hash": snapshot.last_hash,
        **(
            {"occurred_at": _for_json(snapshot.occurred_at)}
            if snapshot.occurred_at is not None
            else {}
        ),
    }


def _for_json(value: dt.datetime) -> dt.datetime | str:
    """``value`` for orjson to write as ``value.isoformat()``: itself where orjson writes
    it so (see :func:`iso`), else that text."""
    return value if _orjson_writes(value) else value.isoformat()


@attrs.frozen
class Commit:
    """What one command writes: its events and the entity's snapshot after them.

    ``expected_version`` is the version the writer read (0 for a new entity); a store
    refuses the commit with :class:`ConcurrencyError` if the entity has moved on.
    ``command_id`` makes the command idempotent: a store that has seen it returns the
    first result and writes nothing.
    """

    snapshot: Snapshot
    events: tuple[Event, ...]
    expected_version: int
    command_id: str | None = None

    @property
    def entity_id(self) -> str:
        """The entity the commit writes."""
        return self.snapshot.entity_id


_SETTABLE = frozenset({"area", "areas", "batch", "category", "terminal", "parent_id"})
NO_DEADLINES: Mapping[str, DeadlineRecord] = MappingProxyType({})
_AREA_TUPLES: dict[str, tuple[str]] = {}


def one_area(area: str) -> tuple[str]:
    """Return ``(area,)``, one shared tuple per area instead of one per entity."""
    found = _AREA_TUPLES.get(area)
    if found is None:
        found = _AREA_TUPLES.setdefault(area, (area,))
    return found


def in_due_order(deadlines: Mapping[str, DeadlineRecord]) -> Mapping[str, DeadlineRecord]:
    """Return ``deadlines`` in their one defined order: by due instant, then by name.

    The mapping itself is returned when already in order, so mappings shared between
    entities stay shared.
    """
    if len(deadlines) < 2:
        return deadlines
    previous: tuple[dt.datetime, str] | None = None
    for name, record in deadlines.items():
        key = (record.due_at, name)
        if previous is not None and key < previous:
            return dict(sorted(deadlines.items(), key=lambda item: (item[1].due_at, item[0])))
        previous = key
    return deadlines


def fold(
    snapshot: Snapshot | None,
    event: Event,
    records: Mapping[str, DeadlineRecord] | None = None,
    *,
    chained: bool = True,
) -> Snapshot:
    """Apply ``event`` to ``snapshot`` (``None`` before the first event) and return the result.

    Only the event's recorded effects are read, never a rulebook or calendar, so
    rebuilding an entity from its events always gives the state it had.  A creating
    event's payload is the entity's initial data.  Effects ``deadlines`` hold whole
    deadline records (started, paused, extended…); effects ``end`` hold ``[status, at]``
    for deadlines met (on time or late), cancelled or reopened.  ``records`` may hand over
    every deadline record the event's effects were written from, which spares parsing
    them again.
    ``chained=False`` folds a selection of an entity's events (those that happened by a
    day, see :meth:`Ledger.as_of`), whose versions may have gaps.

    Raises:
        StoreError: the event does not follow the snapshot (wrong version or chain).
    """
    # Long by design: the fold runs once per event read or written; inlined on purpose (see
    # docs/performance.md).
    effects = event.effects
    deadline_changes = effects.get("deadlines")
    if snapshot is None:
        create = effects.get("create")
        if event.version != 1 or not isinstance(create, Mapping):
            raise StoreError(f"{event.entity_id}: the first event must create the entity")
        deadlines: Mapping[str, DeadlineRecord] = (
            in_due_order({n: DeadlineRecord.from_dict(r) for n, r in deadline_changes.items()})
            if deadline_changes
            else NO_DEADLINES
        )
        area = create["area"]
        areas = create.get("areas")
        return Snapshot(
            event.entity_id,
            create["kind"],
            create["lifecycle"],
            event.state_after,
            1,
            area,
            tuple(areas) if areas else one_area(area),
            create.get("round_id"),
            create.get("parent_id"),
            create.get("batch"),
            create.get("category"),
            event.at,
            event.at,
            False,
            event.payload,
            deadlines,
            event.hash,
            event.at,
        )
    if chained and (event.version != snapshot.version + 1 or event.prev_hash != snapshot.last_hash):
        raise StoreError(
            f"{event.entity_id}: event {event.version} does not follow version {snapshot.version}"
        )
    data_changes = effects.get("data")
    data = {**snapshot.data, **data_changes} if data_changes else snapshot.data
    ends = effects.get("end")
    if deadline_changes or ends:
        if records is not None and not snapshot.deadlines:
            # Nothing to keep: the records are the whole mapping (shared, never changed).
            deadlines = records
        elif records is not None:
            deadlines = {**snapshot.deadlines, **records}
        else:
            deadlines = dict(snapshot.deadlines)
            if deadline_changes:
                for name, record in deadline_changes.items():
                    deadlines[name] = DeadlineRecord.from_dict(record)
            if ends:
                for name, end in ends.items():
                    deadlines[name] = _end(event, deadlines.get(name), name, end)
        # Stores and readers see one order (``deadlines(id)[0]`` is the earliest due).
        deadlines = in_due_order(deadlines)
    else:
        deadlines = snapshot.deadlines
    setters = effects.get("set")
    if setters:
        changes: dict[str, Any] = {}
        for key, value in setters.items():
            if key not in _SETTABLE:
                raise StoreError(f"{event.entity_id}: event {event.version} sets unknown {key!r}")
            changes[key] = tuple(value) if key == "areas" else value
        area = changes.get("area", snapshot.area)
        areas = changes.get("areas", snapshot.areas)
        parent_id = changes.get("parent_id", snapshot.parent_id)
        batch = changes.get("batch", snapshot.batch)
        category = changes.get("category", snapshot.category)
        terminal = changes.get("terminal", snapshot.terminal)
    else:
        area, areas, parent_id = snapshot.area, snapshot.areas, snapshot.parent_id
        batch, category, terminal = snapshot.batch, snapshot.category, snapshot.terminal
    return Snapshot(
        snapshot.entity_id,
        snapshot.kind,
        snapshot.lifecycle,
        event.state_after,
        event.version,
        area,
        areas,
        snapshot.round_id,
        parent_id,
        batch,
        category,
        snapshot.created_at,
        event.at,
        terminal,
        data,
        deadlines,
        event.hash,
        snapshot.occurred_at if event.name in LEDGER_NOTES else event.at,
    )


_END_STATUSES = frozenset({"open", "met", "met_late", "cancelled"})


def _end(event: Event, record: DeadlineRecord | None, name: str, end: Any) -> DeadlineRecord:
    """Apply one ``end`` effect, ``[status, at]``: a deadline met (on time or late),
    cancelled or reopened."""
    try:
        status, at = end
    except (TypeError, ValueError):
        status, at = None, None
    if record is None or status not in _END_STATUSES:
        raise StoreError(
            f"{event.entity_id}: event {event.version} ends deadline {name!r} with {end!r}, "
            "which does not apply"
        )
    return record.ended(status, _parse_opt_dt(at, "ended_at"))


def replay(events: list[Event]) -> Snapshot | None:
    """Fold a whole history; ``None`` for an empty one."""
    snapshot: Snapshot | None = None
    for event in events:
        snapshot = fold(snapshot, event)
    return snapshot
