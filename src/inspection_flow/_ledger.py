"""The ledger (台账): rounds, complaint cases and rectification tasks, their events and
deadlines, behind a store."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from ._areas import Actor, AreaRegistry
from ._builtin import FINDINGS_ZH, ROUND
from ._calendar import ChinaCalendar
from ._checks import (
    MAX_ID_LENGTH,
    MAX_WHOLE,
    MAX_YEAR,
    check_date,
    check_id,
    check_limit,
    check_text,
    shown,
)
from ._definitions import CREATE, DeadlineBinding, Lifecycle, Transition, check_payload
from ._records import (
    NO_DEADLINES,
    Commit,
    DeadlineRecord,
    DeadlineStatus,
    Event,
    Snapshot,
    fold,
    iso,
    one_area,
    replay,
)
from ._rulebook import Rulebook, load_rulebook
from ._rules import SHANGHAI, Channel, DeadlineRule, Due, Extension, Pause, as_instant
from .exceptions import (
    ChronologyError,
    ConcurrencyError,
    EntityNotFoundError,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    LifecycleError,
    PayloadError,
    PermissionDeniedError,
    RulebookError,
    StoreError,
)
from .stores import Anchor, EventStore, MemoryStore, RepairReport, VerifyReport

if TYPE_CHECKING:
    import sqlalchemy as sa

_log = logging.getLogger(__name__)

__all__ = [
    "AlertNotice",
    "Batch",
    "Clock",
    "DeadlineView",
    "Decision",
    "Ledger",
    "Moved",
    "SystemClock",
]

#: Events the ledger itself records, outside any lifecycle definition.
ALERT = "alert"
RECOMPUTE = "recompute"

_ROUND_TYPES = ("routine", "look_back", "special")
_COUNT_BY = ("state", "area", "batch", "category", "kind")
CATEGORIES = ("air", "water", "noise", "ecology", "soil", "radiation", "solid_waste", "other")
CATEGORIES_ZH = {
    "air": "大气",
    "water": "水",
    "noise": "噪声",
    "ecology": "生态",
    "soil": "土壤",
    "radiation": "辐射",
    "solid_waste": "固体废物",
    "other": "其他",
}

#: Who may create each kind of entity.
_CREATORS: Mapping[str, frozenset[str]] = {
    "round": frozenset({"leading_office"}),
    "complaint": frozenset({"inspection_team"}),
    "task": frozenset({"inspection_team", "rectification_office"}),
    "document_request": frozenset({"inspection_team"}),
}

#: Round states in which complaints are taken (station-in, and late letters after it).
_INTAKE_STATES = frozenset(
    {
        "stationed",
        "station_in_ended",
        "report_approved",
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)
_TASK_STATES = frozenset(
    {
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)
#: Round states in which the team may request documents: any but the archived round.
_DOCUMENT_STATES = frozenset(s.name for s in ROUND.states if not s.terminal)
_CLOCK_EVENTS = frozenset({"pause_clock", "resume_clock", "grant_extension"})
_SYSTEM = Actor("system", "*", "inspection_flow")


class Clock(Protocol):
    """Where the present comes from, for the few operations that need it (sweeps)."""

    def now(self) -> dt.datetime:
        """Return the current instant, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in Asia/Shanghai."""

    def now(self) -> dt.datetime:
        """Return the current instant in Asia/Shanghai."""
        return dt.datetime.now(SHANGHAI)


@attrs.frozen
class Decision:
    """Whether an actor may fire an event now, and if not, why.  Truthy when allowed."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen
class Batch:
    """A daily hand-over batch (交办批次) of complaint cases."""

    round_id: str
    number: int
    day: dt.date
    case_ids: tuple[str, ...]


@attrs.frozen
class AlertNotice:
    """A warning or escalation that came due, recorded once on its entity."""

    entity_id: str
    kind: str
    area: str
    deadline: str
    alert_kind: str
    name: str
    at: dt.datetime
    due_at: dt.datetime
    label_zh: str


@attrs.frozen
class Moved:
    """A deadline that a recompute found different from the stored one."""

    entity_id: str
    deadline: str
    old_last_day: dt.date
    new_last_day: dt.date
    old_calendar_version: str
    new_calendar_version: str


@attrs.frozen
class DeadlineView:
    """A stored deadline with its live explanation."""

    name: str
    label_zh: str
    label_en: str
    record: DeadlineRecord
    due: Due | None
    fixed: bool = False

    @property
    def status(self) -> str:
        """``open``, ``met`` or ``cancelled``."""
        return self.record.status

    @property
    def last_day(self) -> dt.date:
        """The stored last day."""
        return self.record.last_day

    @property
    def due_at(self) -> dt.datetime:
        """The stored due time."""
        return self.record.due_at

    @property
    def moved(self) -> bool:
        """Whether today's rulebook and calendar would give another last day."""
        return self.due is not None and self.due.last_day != self.record.last_day

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the deadline is open, its clock running, and its due time passed at ``now``.

        The end of a period (station-in, public notice) is never overdue.
        """
        return (
            self.record.status == "open"
            and self.record.kind == "due"
            and not self.record.suspended
            and as_instant(now, "now") >= self.record.due_at
        )

    def explain(self, lang: Literal["zh", "en"] = "zh") -> str:
        """Explain how the stored due date was reached, and what became of it."""
        zh = lang == "zh"
        head = f"{self.label_zh}（{self.name}）" if zh else f"{self.label_en} ({self.name})"
        if self.fixed:
            anchor = self.record.anchor[:10]
            day = self.record.last_day.isoformat()
            body = (
                f"期限由方案确定（{anchor}）：{day} 24:00 (Asia/Shanghai)"
                if zh
                else f"Deadline set in the plan ({anchor}): {day} 24:00 (Asia/Shanghai)"
            )
            if self.record.extensions:
                ext = self.record.extensions[-1]
                body += (
                    f"\n延期：{ext.get('reason', '')}"
                    if zh
                    else f"\nExtended: {ext.get('reason', '')}"
                )
        else:
            body = self.due.explain(lang) if self.due is not None else ""
        status = {
            "open": ("未完成", "open"),
            "met": ("已完成", "met"),
            "cancelled": ("已取消", "cancelled"),
        }[self.record.status][0 if zh else 1]
        ended = f" {self.record.ended_at.isoformat()}" if self.record.ended_at else ""
        lines = [head, body, ("状态：" if zh else "Status: ") + status + ended]
        if self.moved:
            assert self.due is not None
            lines.append(
                f"注意：按现行规则和日历应为 {self.due.last_day}，已存期限 {self.last_day} 未改动；"
                "如需更新请执行 recompute"
                if zh
                else f"Note: today's rules and calendar give {self.due.last_day}; the stored "
                f"{self.last_day} is unchanged until recompute is run"
            )
        return "\n".join(line for line in lines if line)


def _actor_key(actor: Actor | Mapping[str, str] | None) -> tuple[str, str] | None:
    if actor is None:
        return None
    if isinstance(actor, Actor):
        return (actor.area, actor.name)
    return (actor.get("area", ""), actor.get("name", ""))


# --- guards -------------------------------------------------------------------------------


@attrs.frozen
class _GuardContext:
    ledger: Ledger
    snapshot: Snapshot
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, Any]


def _same_unit(ctx: _GuardContext, field: str, what: str) -> str | None:
    earlier = ctx.snapshot.data.get(field)
    if earlier is None:
        return None
    # A unit is its area and name: two unnamed actors of one area cannot be told apart,
    # so they count as the same unit and must give their names to verify each other.
    key = _actor_key(earlier)
    if key is not None and key == _actor_key(ctx.actor):
        return (
            f"{ctx.actor.name or ctx.actor.area} {what}; who accepts is answerable "
            "(谁验收、谁负责), so another unit must verify"
        )
    return None


def _guard_finding_substantiated(ctx: _GuardContext) -> str | None:
    if ctx.snapshot.data.get("finding") == "unsubstantiated":
        return (
            f"the finding is {FINDINGS_ZH['unsubstantiated']} (unsubstantiated); "
            "report the result instead"
        )
    return None


def _guard_not_the_applicant(ctx: _GuardContext) -> str | None:
    return _same_unit(ctx, "applied_by", "applied for acceptance itself")


def _guard_not_the_claimant(ctx: _GuardContext) -> str | None:
    return _same_unit(ctx, "claimed_by", "claimed completion itself")


def _guard_notice_elapsed(ctx: _GuardContext) -> str | None:
    record = ctx.snapshot.deadlines.get("notice_ends")
    if record is None or record.status != "open":
        return "no public notice is running"
    if ctx.at < record.due_at:
        return (
            f"the public notice (公示) runs until {record.last_day.isoformat()} 24:00; "
            "close after it ends"
        )
    return None


def _guard_all_tasks_closed(ctx: _GuardContext) -> str | None:
    open_tasks = [
        s.entity_id
        for s in ctx.ledger.store.find(kind="task", round_id=ctx.snapshot.entity_id)
        if s.state not in ("closed", "filed")
    ]
    if open_tasks:
        shown = ", ".join(open_tasks[:5]) + (" …" if len(open_tasks) > 5 else "")
        return f"{len(open_tasks)} task(s) not yet closed: {shown}"
    return None


GUARDS: Mapping[str, Callable[[_GuardContext], str | None]] = {
    "finding_substantiated": _guard_finding_substantiated,
    "not_the_applicant": _guard_not_the_applicant,
    "not_the_claimant": _guard_not_the_claimant,
    "notice_elapsed": _guard_notice_elapsed,
    "all_tasks_closed": _guard_all_tasks_closed,
}


# --- the ledger ---------------------------------------------------------------------------


@attrs.define(slots=True)
class _Intake:
    """What receiving a complaint needs of its round, valid while the round is unchanged."""

    last_hash: str
    generation: int
    rulebook: Rulebook
    lifecycle: Lifecycle
    windowed: frozenset[Channel]
    closes: dt.time
    window: str
    first_day: dt.date | None
    last_day: dt.date | None
    creations: dict[tuple[Actor, str, str], tuple[tuple[Any, ...], Mapping[str, Any]]]


# A Channel is a str enum: looking up the member itself finds its value's entry, and a
# value is found in a set of members.
_CHANNEL_VALUES: Mapping[Any, str] = {c.value: c.value for c in Channel}
_CATEGORY_SET = frozenset(CATEGORIES)
_ONE_DAY = dt.timedelta(days=1)
#: Entries kept by each of the ledger's small memos before it starts afresh.
_MEMO_SIZE = 1024
_NO_DATA: Mapping[str, Any] = MappingProxyType({})
#: Events whose effects are more than the payload recorded as data.
_SPECIAL_EFFECTS = frozenset(
    {
        "assign",
        "plan",
        "batch",
        "claim_completion",
        "apply_acceptance",
        "mark_key",
        "approve_extension",
        "record_batch",
    }
)


class Ledger:
    """The ledger of one or more inspection rounds.

    Args:
        store: where events and snapshots are kept (default: in memory).
        rulebook: the default rulebook, a :class:`Rulebook` or a built-in name; each round
            may name its own.
        calendar: the working-day calendar (default: :class:`ChinaCalendar()`).
        rulebooks: further rulebooks rounds may name.
        areas: extra areas (codes without GB/T 2260 structure, e.g. management zones).
        clock: the present, for :meth:`sweep` without ``now`` (default: the system clock).
    """

    def __init__(
        self,
        store: EventStore | None = None,
        *,
        rulebook: Rulebook | str = "central",
        calendar: ChinaCalendar | None = None,
        rulebooks: Iterable[Rulebook] = (),
        areas: AreaRegistry | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store: EventStore = store if store is not None else MemoryStore()
        self.calendar = calendar if calendar is not None else ChinaCalendar()
        self.clock: Clock = clock if clock is not None else SystemClock()
        default = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        self.rulebook = default
        self._rulebooks: dict[str, Rulebook] = {default.name: default}
        for rb in rulebooks:
            self._rulebooks[rb.name] = rb
        self.areas = areas if areas is not None else AreaRegistry()
        for rb in self._rulebooks.values():
            self._register_areas(rb)
        self._round_rulebook: dict[str, Rulebook] = {}
        # Jurisdiction answers, by (actor area, entity area); cleared when areas change.
        self._covers_cache: dict[tuple[str, str], bool] = {}
        self._covers_generation = self.areas.generation
        self._shapes: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        self._lifecycles: dict[tuple[str, str], Lifecycle] = {}
        self._intakes: dict[str, _Intake] = {}
        self._day_iso: dict[dt.date, tuple[str, str]] = {}
        self._rule_dicts: dict[DeadlineRule, Mapping[str, Any]] = {}
        # Deadline records started at one instant under one rule, and the effects of
        # events that share them; the objects are kept with their ids, so an id is never
        # mistaken after reuse.
        self._started: dict[tuple[Any, ...], tuple[Rulebook, ChinaCalendar, DeadlineRecord]] = {}
        self._effects_memo: dict[
            tuple[Any, ...],
            tuple[tuple[DeadlineRecord, ...], dict[str, Any], dict[str, DeadlineRecord]],
        ] = {}
        self._pending: dict[str, Snapshot] | None = None
        self._pending_commits: list[Commit] = []
        self._pending_commands: dict[str, tuple[Event, ...]] = {}
        # Names this ledger's claims when several workers sweep one store.
        self._worker = f"ledger-{uuid.uuid4().hex[:12]}"

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | sa.Engine | sa.Connection,
        *,
        read_only: bool = False,
        store_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Ledger:
        """Open a durable ledger: a SQLite file path, a database URL, an Engine or Connection.

        Args:
            target: ``"ledger.db"``, ``"sqlite:///ledger.db"``,
                ``"postgresql+psycopg://user@host/db"``, a SQLAlchemy Engine, or a
                Connection (the ledger then writes inside the caller's transaction).
            read_only: open an existing ledger for reading only: nothing is created or
                written, and every command raises :class:`StoreError`.
            store_options: options of :class:`SQLStore` (``busy_timeout``,
                ``synchronous``, ``read_only``).
            options: options of :class:`Ledger` (``rulebook``, ``calendar``, …).

        Raises:
            StoreError: the database cannot be opened or is not a ledger this release can
                use; an option of the store is unknown or not acceptable; ``read_only``
                and the ledger does not exist.
            MissingDependencyError: the database's driver extra is not installed.
        """
        from .stores import SQLStore

        if store_options is None:
            store_options = {}
        if not isinstance(store_options, Mapping) or not all(
            isinstance(key, str) for key in store_options
        ):
            raise StoreError(
                f"store_options must be a mapping of option names to values, not {store_options!r}"
            )
        given = dict(store_options)
        if read_only is not False:
            given["read_only"] = read_only
        return cls(SQLStore.open(target, **given), **options)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rulebooks ------------------------------------------------------------------------

    def _register_areas(self, rb: Rulebook) -> None:
        for code, (name, parent) in rb.areas.items():
            self.areas.register(code, name, parent)

    def add_rulebook(self, rulebook: Rulebook) -> None:
        """Make ``rulebook`` available to rounds that name it (replacing one of that name)."""
        self._rulebooks[rulebook.name] = rulebook
        self._register_areas(rulebook)
        self._round_rulebook = {
            k: v for k, v in self._round_rulebook.items() if v.name != rulebook.name
        }
        if hasattr(self, "_lifecycles"):
            self._lifecycles.clear()
            self._intakes.clear()

    def _rulebook_named(self, name: str) -> Rulebook:
        rb = self._rulebooks.get(name)
        if rb is None:
            rb = load_rulebook(name)
            self.add_rulebook(rb)
        return rb

    def rulebook_of(self, entity: Snapshot | str) -> Rulebook:
        """Return the rulebook governing an entity (its round's)."""
        snap = entity if isinstance(entity, Snapshot) else self.get(entity)
        round_id = snap.entity_id if snap.kind == "round" else snap.round_id
        if round_id is None:
            return self.rulebook
        rb = self._round_rulebook.get(round_id)
        if rb is None:
            rnd = snap if snap.kind == "round" else self.get(round_id)
            name = str(rnd.data.get("rulebook", self.rulebook.name))
            try:
                rb = self._rulebook_named(name)
            except RulebookError as exc:
                raise RulebookError(
                    name,
                    f"round {round_id}",
                    f"the round is governed by rulebook {name!r}, which this ledger does not "
                    f"know; open the ledger with rulebooks=[load_rulebook(path)]",
                ) from exc
            self._round_rulebook[round_id] = rb
        return rb

    def lifecycle_of(self, snapshot: Snapshot) -> Lifecycle:
        """Return the lifecycle definition an entity follows."""
        key = (snapshot.round_id or snapshot.entity_id, snapshot.lifecycle)
        lc = self._lifecycles.get(key)
        if lc is None:
            lc = self.rulebook_of(snapshot).lifecycle(snapshot.lifecycle)
            self._lifecycles[key] = lc
        return lc

    # -- reading --------------------------------------------------------------------------

    def get(self, entity_id: str) -> Snapshot:
        """Return the entity's current snapshot.

        Raises:
            EntityNotFoundError: no such entity.
            PayloadError: ``entity_id`` is not an identifier (text, see :func:`check_id`).
        """
        snap = self._load(check_id(entity_id, "entity_id", event="get"))
        if snap is None:
            raise EntityNotFoundError(entity_id)
        return snap

    # -- writing through a batch ----------------------------------------------------------

    def _load(self, entity_id: str) -> Snapshot | None:
        pending = self._pending
        if pending is not None:
            snap = pending.get(entity_id)
            if snap is not None:
                return snap
        return self.store.get(entity_id)

    def _command(self, command_id: str) -> tuple[Event, ...] | None:
        if self._pending is not None:
            done = self._pending_commands.get(command_id)
            if done is not None:
                return done
        return self.store.command(command_id)

    def _write(self, commits: Sequence[Commit]) -> tuple[Event, ...]:
        """Write commits now, or queue them when inside :meth:`batch`; return the events."""
        if self._pending is None:
            if len(commits) == 1:
                return self.store.append(commits[0])
            return tuple(e for stored in self.store.append_batch(commits) for e in stored)
        for c in commits:
            self._pending_commits.append(c)
            self._pending[c.entity_id] = c.snapshot
            if c.command_id is not None:
                self._pending_commands[c.command_id] = c.events
        return tuple(e for c in commits for e in c.events)

    @contextlib.contextmanager
    def batch(self) -> Iterator[Ledger]:
        """Collect the commands of a block and write them in one transaction at its end.

        Inside the block, :meth:`get`, :meth:`fire` and the creating methods see the
        block's own changes; queries (:meth:`find`, :meth:`overdue`, counts) see only what
        is stored.  If the block raises, nothing of it is written; if the store refuses
        the batch (another writer changed one of its entities), nothing is written and
        :class:`ConcurrencyError` is raised.  Nested blocks join the outer one.
        """
        if self._pending is not None:
            yield self
            return
        self._pending = {}
        self._pending_commits = []
        self._pending_commands = {}
        try:
            yield self
            commits = self._pending_commits
            self._pending = None
            if commits:
                self.store.append_batch(commits)
        finally:
            self._pending = None
            self._pending_commits = []
            self._pending_commands = {}

    def history(self, entity_id: str) -> list[Event]:
        """Return the entity's events, oldest first (its audit trail)."""
        events = self.store.events(check_id(entity_id, "entity_id", event="history"))
        if not events:
            raise EntityNotFoundError(entity_id)
        return events

    def rebuild(self, entity_id: str) -> Snapshot:
        """Rebuild the entity by folding its events (it equals the stored snapshot)."""
        snap = replay(self.history(entity_id))
        assert snap is not None
        return snap

    def find(self, **filters: Any) -> list[Snapshot]:
        """Return entities matching the filters of :meth:`EventStore.find`.

        ``area=`` (one code) is expanded to every area it covers, so a city's office sees
        its counties; ``areas=`` is passed as given.
        """
        _check_filters(filters)
        if "area" in filters:
            filters["areas"] = self.areas_within(filters.pop("area"))
        return self.store.find(**filters)

    def areas_within(self, area: str) -> list[str]:
        """Return ``area`` and every known area it covers."""
        check_id(area, "area", event="areas_within")
        known = set(self.areas.names()) | {
            a for a in self.store.counts("area") if isinstance(a, str)
        }
        known.add(area)
        return sorted(a for a in known if self.areas.covers(area, a))

    def deadlines(self, entity_id: str) -> list[DeadlineView]:
        """Return each deadline of the entity, stored values with a live explanation."""
        snap = self.get(entity_id)
        lc = self.lifecycle_of(snap)
        rb = self.rulebook_of(snap)
        labels = {b.name: (b.label_zh or b.name, b.label_en or b.name) for b in lc.deadlines}
        fixed = {b.name for b in lc.deadlines if b.date_field is not None}
        rules = {b.name: b.rule for b in lc.deadlines if b.date_field is None}
        out = []
        for name, record in snap.deadlines.items():
            live = record
            if record.status == "open" and rules.get(name) in rb.rules:
                # An open deadline is explained as today's rulebook would compute it, so a
                # changed rule shows as moved until recompute records it.
                live = attrs.evolve(record, rule=rb.rules[rules[name]].to_dict())
            try:
                due: Due | None = self._compute_record(live)
            except InspectionFlowError:
                due = None
            zh, en = labels.get(name, (name, name))
            out.append(DeadlineView(name, zh, en, record, due, name in fixed))
        return out

    # -- permission ------------------------------------------------------------------------

    def _covers(self, actor: Actor, areas: Iterable[str]) -> bool:
        cache = self._covers_cache
        if self._covers_generation != self.areas.generation:
            cache.clear()
            self._covers_generation = self.areas.generation
        outer = actor.area
        for a in areas:
            key = (outer, a)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = self.areas.covers(outer, a)
            if hit:
                return True
        return False

    def _check(
        self,
        snap: Snapshot,
        lc: Lifecycle,
        event: str,
        actor: Actor,
        at: dt.datetime,
        payload: Mapping[str, Any],
        placeholders: Collection[str] = (),
    ) -> tuple[Transition, dict[str, Any]]:
        t = lc.transition(snap.state, event)
        if t is None:
            raise InvalidTransitionError(snap.entity_id, snap.state, event, lc.allowed(snap.state))
        if actor.role not in t.roles:
            raise PermissionDeniedError(
                snap.entity_id,
                event,
                actor.role,
                actor.area,
                f"only {', '.join(sorted(t.roles))} may do this",
            )
        if actor.role not in ("system", "public") and not self._covers(actor, snap.areas):
            where = ", ".join(self.areas.name(a) for a in snap.areas)
            raise PermissionDeniedError(
                snap.entity_id,
                event,
                actor.role,
                actor.area,
                f"{self.areas.name(actor.area)} has no jurisdiction over {where}",
            )
        clean = check_payload(snap.entity_id, t, payload) if (payload or t.fields) else {}
        for f in t.fields:
            if f.type not in ("area", "areas") or f.name not in clean or f.name in placeholders:
                continue
            codes = [clean[f.name]] if f.type == "area" else clean[f.name]
            outside = [c for c in codes if not self._covers(actor, (c,))]
            if outside:
                raise PermissionDeniedError(
                    snap.entity_id,
                    event,
                    actor.role,
                    actor.area,
                    f"{self.areas.name(actor.area)} has no jurisdiction over "
                    f"{', '.join(self.areas.name(c) for c in outside)} ({f.name})",
                )
        if t.guards:
            ctx = _GuardContext(self, snap, actor, at, clean)
            for name in t.guards:
                reason = GUARDS[name](ctx)
                if reason is not None:
                    raise GuardError(snap.entity_id, event, name, reason)
        if event in _CLOCK_EVENTS:
            self._check_clock(snap, event, clean)
        return t, clean

    def _check_clock(self, snap: Snapshot, event: str, payload: Mapping[str, Any]) -> None:
        name = payload["deadline"]
        record = snap.deadlines.get(name)
        if record is None or record.status != "open":
            open_names = [n for n, r in snap.deadlines.items() if r.status == "open"]
            raise PayloadError(
                snap.entity_id,
                event,
                "deadline",
                f"no open deadline {name!r}; open now: {', '.join(open_names) or 'none'}",
            )
        paused = bool(record.pauses) and record.pauses[-1][1] is None
        if event == "pause_clock" and paused:
            raise GuardError(snap.entity_id, event, "clock_running", f"{name} is already paused")
        if event == "resume_clock" and not paused:
            raise GuardError(snap.entity_id, event, "clock_paused", f"{name} is not paused")
        if event == "grant_extension":
            has_amount = "amount" in payload or "unit" in payload
            if has_amount == ("until" in payload):
                raise PayloadError(
                    snap.entity_id,
                    event,
                    "amount",
                    "give either 'amount' with 'unit', or 'until'",
                )

    def can(
        self,
        entity_id: str,
        event: str,
        actor: Actor,
        *,
        at: dt.datetime | None = None,
        **payload: Any,
    ) -> Decision:
        """Say whether ``actor`` may fire ``event`` on the entity now, with the reasons if not.

        Payload fields are checked only when given.
        """
        _check_actor(actor, entity_id, event)
        snap = self.get(entity_id)
        check_id(event, "event", entity_id=snap.entity_id, event="can")
        lc = self.lifecycle_of(snap)
        when = as_instant(at, "at") if at is not None else snap.updated_at
        t = lc.transition(snap.state, event)
        reasons: list[str] = []
        if t is None:
            allowed = ", ".join(lc.allowed(snap.state)) or "none"
            return Decision(
                False,
                (f"'{event}' is not possible in state '{snap.state}'; allowed now: {allowed}",),
            )
        if when < snap.updated_at:
            reasons.append(str(ChronologyError(entity_id, when, snap.updated_at)))
        try:
            filled = dict(payload)
            if event in _CLOCK_EVENTS and "deadline" not in filled:
                # Asked without a deadline: may the actor manage some deadline this way?
                filled["deadline"] = _clock_candidate(snap, event)
                if event == "grant_extension" and not filled.keys() & {"amount", "unit", "until"}:
                    filled["until"] = _placeholder("date", ())
            for f in t.fields:
                if f.required and f.name not in filled:
                    filled[f.name] = _placeholder(f.type, f.choices)
            placeholders = filled.keys() - payload.keys()
            self._check(snap, lc, event, actor, when, filled, placeholders)
        except (PermissionDeniedError, GuardError, PayloadError) as exc:
            reasons.append(str(exc))
        return Decision(not reasons, tuple(reasons))

    def available(self, entity_id: str, actor: Actor) -> list[str]:
        """Return the events ``actor`` may fire on the entity now."""
        _check_actor(actor, entity_id, "available")
        snap = self.get(entity_id)
        lc = self.lifecycle_of(snap)
        return [e for e in lc.allowed(snap.state) if self.can(entity_id, e, actor)]

    # -- writing --------------------------------------------------------------------------

    def _instant(self, at: Any, snap: Snapshot | None, entity_id: str) -> dt.datetime:
        when = as_instant(at, "at")
        if snap is not None and when < snap.updated_at:
            raise ChronologyError(entity_id, when, snap.updated_at)
        return when

    def fire(
        self,
        entity_id: str,
        event: str,
        *,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None = None,
        **payload: Any,
    ) -> Event:
        """Apply ``event`` to the entity on behalf of ``actor`` at ``at``.

        Appends one immutable event and updates the entity's deadlines.  A refused command
        changes nothing.

        Args:
            entity_id: the entity.
            event: the lifecycle event, e.g. ``hand_over``, ``record_finding``.
            actor: who acts (role and area).
            at: when, a timezone-aware datetime not before the entity's latest event.
            command_id: makes the command idempotent: repeating it returns the first
                result and appends nothing.
            payload: the event's fields.

        Returns:
            The appended event.

        Raises:
            EntityNotFoundError, InvalidTransitionError, PermissionDeniedError, GuardError,
            PayloadError, ChronologyError, AnchorError; ConcurrencyError if another writer
            changed the entity meanwhile (nothing is written; retry).
        """
        if event.__class__ is not str or command_id is not None:
            _check_command(entity_id, event, command_id)
        if command_id is not None:
            first = self._fired_before(command_id, entity_id, event)
            if first is not None:
                return first
        snap = self.get(entity_id)
        try:
            event_obj, new = self._transition(snap, event, actor, at, payload, command_id)
        except LifecycleError:
            # A retry racing its own first attempt finds the entity already moved on by
            # it: the stored result is the answer, not the refusal.
            if command_id is not None:
                first = self._fired_before(command_id, entity_id, event)
                if first is not None:
                    return first
            raise
        # The store refuses the command id if another process used it for another
        # entity or event, and returns the first result if it applied this command.
        stored = self._write((Commit(new, (event_obj,), snap.version, command_id),))
        return stored[-1]

    def _fired_before(self, command_id: str, entity_id: str, event: str) -> Event | None:
        """Return the event ``command_id`` stored, if it was applied already.

        Raises:
            PayloadError: the id was used for another entity or event.
        """
        done = self._command(command_id)
        if done is None:
            return None
        first = done[-1]
        if (first.entity_id, first.name) != (entity_id, event):
            raise PayloadError(
                entity_id,
                event,
                "command_id",
                f"{command_id!r} was already used for '{first.name}' on "
                f"{first.entity_id}; give each command its own id",
            )
        return first

    def _transition(
        self,
        snap: Snapshot,
        event: str,
        actor: Actor,
        at: Any,
        payload: Mapping[str, Any],
        command_id: str | None,
    ) -> tuple[Event, Snapshot]:
        if actor.__class__ is not Actor:
            _check_actor(actor, snap.entity_id, event)
        when = self._instant(at, snap, snap.entity_id)
        lc = self.lifecycle_of(snap)
        t, clean = self._check(snap, lc, event, actor, when, payload)
        new_state = lc.step(snap.entity_id, snap.state, event)
        effects, records = self._effects(snap, lc, t, new_state, actor, when, clean)
        ev = Event.new(
            snap.entity_id,
            snap.version + 1,
            event,
            when,
            actor,
            clean,
            snap.state,
            new_state,
            effects,
            command_id,
            snap.last_hash,
        )
        return ev, fold(snap, ev, records)

    def _effects(
        self,
        snap: Snapshot,
        lc: Lifecycle,
        t: Transition,
        new_state: str,
        actor: Actor,
        at: dt.datetime,
        payload: Mapping[str, Any],
    ) -> tuple[dict[str, Any], dict[str, DeadlineRecord]]:
        event = t.event
        data: Mapping[str, Any] = _NO_DATA
        setters: dict[str, Any] = {}
        deadlines: dict[str, DeadlineRecord] = {}
        if event in _CLOCK_EVENTS:
            deadlines[payload["deadline"]] = self._clock(snap, event, at, payload)
        elif t.target is not None and event != "batch":
            # What a step records becomes the entity's data (owners, finding, measures…);
            # activities that leave the state (meetings, visits, batches) stay in the
            # history only.  The payload is a fresh dict, never changed: it is shared.
            data = payload
        if event in _SPECIAL_EFFECTS:
            extra: dict[str, Any] = {}
            if event == "assign":
                owners = list(dict.fromkeys(payload["owners"]))
                if not owners:
                    raise PayloadError(snap.entity_id, event, "owners", "name at least one owner")
                if len(owners) > 1 and payload.get("mode", "shared") != "shared":
                    raise PayloadError(
                        snap.entity_id,
                        event,
                        "mode",
                        "several owners share a case (mode 'shared'); use split to divide it",
                    )
                setters["areas"] = tuple(owners)
                setters["area"] = owners[0]
                extra["mode"] = "shared" if len(owners) > 1 else "single"
            elif event == "plan":
                owner = payload["owner"]
                setters["areas"] = (owner,)
                setters["area"] = owner
            elif event == "batch":
                setters["batch"] = payload["number"]
            elif event == "claim_completion":
                extra["claimed_by"] = actor.to_dict()
            elif event == "apply_acceptance":
                extra["applied_by"] = actor.to_dict()
            elif event == "mark_key":
                extra["key_case"] = True
            elif event == "approve_extension":
                deadlines["rectify_due"] = self._extend_until(snap, "rectify_due", at, payload)
            elif event == "record_batch":
                data = {"batches": payload["number"]}
            if extra:
                data = {**data, **extra}
        # Deadlines met, cancelled or reopened are recorded as [status, at]; deadlines
        # started or changed otherwise, as whole records.
        ends: dict[str, tuple[str, str | None]] = {}
        if snap.deadlines:
            for b, met in lc.deadlines_ended_by(event):
                changed = deadlines.get(b.name)
                record = changed or snap.deadlines.get(b.name)
                if record is not None and record.status == "open":
                    status: DeadlineStatus = "met" if met else "cancelled"
                    if changed is None:
                        ends[b.name] = (status, iso(at))
                    deadlines[b.name] = record.ended(status, at)
        started = lc.deadlines_started_by(event)
        if started:
            rb = self.rulebook_of(snap)
            for b in started:
                ends.pop(b.name, None)
                deadlines[b.name] = self._start(snap.entity_id, b, rb, at, payload)
        if snap.deadlines:
            for b in lc.deadlines_reopened_by(event):
                record = snap.deadlines.get(b.name)
                if record is not None and record.status == "met" and b.name not in deadlines:
                    ends[b.name] = ("open", None)
                    deadlines[b.name] = record.ended("open", None)
        if new_state in lc.terminal_states:
            setters["terminal"] = True
            for name, record in snap.deadlines.items():
                if record.status == "open" and name not in deadlines:
                    ends[name] = ("cancelled", iso(at))
                    deadlines[name] = record.ended("cancelled", at)
        # Batch numbers and deadlines started together (a day's batch, its hand-over):
        # many cases set the same fields and start the same shared records, so they share
        # one (immutable) effects mapping and deadline mapping.
        shareable = not data and not ends and bool(setters or deadlines)
        if shareable:
            key = (tuple(setters.items()), tuple((n, id(r)) for n, r in deadlines.items()))
            hit = self._effects_memo.get(key)
            if hit is not None and all(
                a is b for a, b in zip(hit[0], deadlines.values(), strict=True)
            ):
                return hit[1], hit[2]
        effects: dict[str, Any] = {}
        if data:
            effects["data"] = data
        if setters:
            effects["set"] = setters
        if len(ends) < len(deadlines):
            effects["deadlines"] = {n: r.to_dict() for n, r in deadlines.items() if n not in ends}
        if ends:
            effects["end"] = ends
        if shareable:
            if len(self._effects_memo) >= _MEMO_SIZE:
                self._effects_memo.clear()
            # The records are kept with their ids, so a reused id never matches.
            self._effects_memo[key] = (tuple(deadlines.values()), effects, deadlines)
        return effects, deadlines

    # -- deadlines ------------------------------------------------------------------------

    def _record(
        self,
        name: str,
        rule: DeadlineRule,
        anchor: dt.datetime,
        due: Due,
        *,
        pauses: tuple[tuple[str, str | None, str], ...] = (),
        extensions: tuple[Mapping[str, Any], ...] = (),
        fired: tuple[str, ...] = (),
        kind: Literal["due", "period"] = "due",
    ) -> DeadlineRecord:
        alerts = [(a.kind, a.name, a.at, a.label_zh) for a in due.alerts()]
        # The end of a period (a station-in, a public notice) is not something to be late
        # for; a due date is, and says so when it passes.
        if kind == "due" and not any(
            k == "escalation" and at == due.due_at for k, _, at, _ in alerts
        ):
            alerts.append(("escalation", "overdue", due.due_at, "超期"))
        alerts.sort(key=lambda a: (a[2], a[1]))
        return DeadlineRecord(
            name=name,
            rule=self._rule_dict(rule),
            anchor=iso(anchor),
            last_day=due.last_day,
            due_at=due.due_at,
            calendar_version=due.calendar_version,
            provisional=due.provisional,
            suspended=due.suspended,
            pauses=pauses,
            extensions=extensions,
            alerts=tuple(alerts),
            fired=fired,
            kind=kind,
        )

    def _rule_dict(self, rule: DeadlineRule) -> Mapping[str, Any]:
        # Deadlines started under one rule share its (immutable) dict.
        found = self._rule_dicts.get(rule)
        if found is None:
            if len(self._rule_dicts) >= _MEMO_SIZE:
                self._rule_dicts.clear()  # a task's own date makes a rule of its own
            found = self._rule_dicts[rule] = rule.to_dict()
        return found

    def _start(
        self,
        entity_id: str,
        binding: DeadlineBinding,
        rb: Rulebook,
        at: dt.datetime,
        payload: Mapping[str, Any],
    ) -> DeadlineRecord:
        if binding.date_field is not None:
            last = dt.date.fromisoformat(payload[binding.date_field])
            if last <= at.date():
                raise PayloadError(
                    entity_id,
                    binding.starts_on,
                    binding.date_field,
                    f"the deadline {last.isoformat()} must be after {at.date().isoformat()}",
                )
            rule = rb.rule_for(binding, last, at.date())
        else:
            # Cases handed over in one batch start identical deadlines: compute each once
            # and share the (immutable) record.
            key = (binding, id(rb), id(self.calendar), at)
            hit = self._started.get(key)
            if hit is not None and hit[0] is rb and hit[1] is self.calendar:
                return hit[2]
            rule = rb.rule(binding.rule)
            record = self._record(
                binding.name, rule, at, rule.compute(at, self.calendar), kind=binding.kind
            )
            if len(self._started) >= _MEMO_SIZE:
                self._started.clear()
            self._started[key] = (rb, self.calendar, record)
            return record
        due = rule.compute(at, self.calendar)
        return self._record(binding.name, rule, at, due, kind=binding.kind)

    def _compute_record(self, record: DeadlineRecord) -> Due:
        rule = DeadlineRule.from_dict(record.rule)
        anchor = dt.datetime.fromisoformat(record.anchor)
        pauses = tuple(
            Pause(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e) if e else None, r)
            for s, e, r in record.pauses
        )
        extensions = tuple(_extension(e) for e in record.extensions)
        return rule.compute(anchor, self.calendar, pauses=pauses, extensions=extensions)

    def _recomputed(self, record: DeadlineRecord, **changes: Any) -> DeadlineRecord:
        updated = attrs.evolve(record, **changes)
        due = self._compute_record(updated)
        rule = DeadlineRule.from_dict(updated.rule)
        fresh = self._record(
            record.name,
            rule,
            dt.datetime.fromisoformat(record.anchor),
            due,
            pauses=updated.pauses,
            extensions=updated.extensions,
            kind=record.kind,
        )
        # An alert already recorded stays recorded: a moved deadline never fires it twice.
        return attrs.evolve(fresh, fired=record.fired)

    def _clock(
        self, snap: Snapshot, event: str, at: dt.datetime, payload: Mapping[str, Any]
    ) -> DeadlineRecord:
        record = snap.deadlines[payload["deadline"]]
        if event == "pause_clock":
            pauses = (*record.pauses, (at.isoformat(), None, payload["reason"]))
            return self._recomputed(record, pauses=pauses)
        if event == "resume_clock":
            start, _, reason = record.pauses[-1]
            pauses = (*record.pauses[:-1], (start, at.isoformat(), reason))
            return self._recomputed(record, pauses=pauses)
        ext: dict[str, Any] = {"reason": payload["reason"], "granted_at": at.isoformat()}
        for key in ("amount", "unit", "until"):
            if key in payload:
                ext[key] = payload[key]
        try:
            _extension(ext)
            return self._recomputed(record, extensions=(*record.extensions, ext))
        except InspectionFlowError as exc:
            raise PayloadError(snap.entity_id, event, "amount", str(exc)) from exc

    def _extend_until(
        self, snap: Snapshot, name: str, at: dt.datetime, payload: Mapping[str, Any]
    ) -> DeadlineRecord:
        record = snap.deadlines.get(name)
        if record is None or record.status != "open":
            raise PayloadError(
                snap.entity_id, "approve_extension", "until", f"no open deadline {name!r} to extend"
            )
        ext = {"reason": payload["reason"], "until": payload["until"], "granted_at": at.isoformat()}
        try:
            return self._recomputed(record, extensions=(*record.extensions, ext))
        except InspectionFlowError as exc:
            raise PayloadError(snap.entity_id, "approve_extension", "until", str(exc)) from exc

    def recompute(
        self, entity_id: str, *, actor: Actor, at: dt.datetime, apply: bool = True
    ) -> list[Moved]:
        """Recompute the entity's open deadlines with today's rulebook and calendar.

        Stored deadlines never move by themselves; this reports every difference and, if
        ``apply``, records them in one ``recompute`` event.
        """
        _check_actor(actor, entity_id, RECOMPUTE)
        snap = self.get(entity_id)
        when = self._instant(at, snap, entity_id)
        lc = self.lifecycle_of(snap)
        rb = self.rulebook_of(snap)
        moved: list[Moved] = []
        changes: dict[str, Any] = {}
        for name, record in snap.deadlines.items():
            if record.status != "open":
                continue
            binding = next((b for b in lc.deadlines if b.name == name), None)
            rule_dict = record.rule
            if binding is not None and binding.date_field is None:
                rule_dict = rb.rule(binding.rule).to_dict()
            fresh = self._recomputed(record, rule=rule_dict)
            if fresh.last_day != record.last_day or fresh.due_at != record.due_at:
                moved.append(
                    Moved(
                        entity_id,
                        name,
                        record.last_day,
                        fresh.last_day,
                        record.calendar_version,
                        fresh.calendar_version,
                    )
                )
                changes[name] = fresh.to_dict()
        if moved and apply:
            ev = Event.new(
                entity_id,
                snap.version + 1,
                RECOMPUTE,
                when,
                actor,
                {"moved": [m.deadline for m in moved]},
                snap.state,
                snap.state,
                {"deadlines": changes},
                None,
                snap.last_hash,
            )
            self._write((Commit(fold(snap, ev), (ev,), snap.version),))
        return moved

    # -- creating -------------------------------------------------------------------------

    def _create(
        self,
        *,
        entity_id: str,
        lifecycle: Lifecycle,
        rb: Rulebook,
        area: str,
        actor: Actor,
        at: Any,
        round_id: str | None = None,
        parent_id: str | None = None,
        category: str | None = None,
        data: Mapping[str, Any],
        areas: Sequence[str] | None = None,
        command_id: str | None = None,
        batch: int | None = None,
        extra_deadlines: Mapping[str, DeadlineRecord] | None = None,
        creators: frozenset[str] | None = None,
    ) -> tuple[Event, Snapshot]:
        check_id(entity_id, "entity_id", event=CREATE)
        if command_id is not None:
            check_id(command_id, "command_id", entity_id=entity_id, event=CREATE)
        _check_actor(actor, entity_id, CREATE)
        if area.__class__ is not str or areas:
            _check_areas(entity_id, area, areas)
        when = as_instant(at, "at")
        kind = lifecycle.kind
        if creators is None:
            creators = _CREATORS.get(kind, frozenset())
        if actor.role not in creators:
            raise PermissionDeniedError(
                entity_id,
                CREATE,
                actor.role,
                actor.area,
                f"only {', '.join(sorted(creators))} may create a {lifecycle.label_en}",
            )
        owner_areas = tuple(areas) if areas and tuple(areas) != (area,) else one_area(area)
        if not self._covers(actor, owner_areas):
            raise PermissionDeniedError(
                entity_id,
                CREATE,
                actor.role,
                actor.area,
                f"{self.areas.name(actor.area)} has no jurisdiction over {self.areas.name(area)}",
            )
        started = lifecycle.deadlines_started_by(CREATE)
        records: dict[str, DeadlineRecord] = {
            b.name: self._start(entity_id, b, rb, when, data) for b in started
        }
        if extra_deadlines:
            records.update(extra_deadlines)
        shape = (kind, lifecycle.name, area, owner_areas, round_id, parent_id, batch, category)
        if records:
            effects: Mapping[str, Any] = {
                "create": _create_effects(shape),
                "deadlines": {n: r.to_dict() for n, r in records.items()},
            }
        else:
            # Effects are immutable once recorded; cases of one round, area and category
            # share one mapping, which keeps a million open cases small.
            effects = self._shapes.get(shape) or self._shapes.setdefault(
                shape, {"create": _create_effects(shape)}
            )
        return _build(lifecycle, shape, effects, records, entity_id, when, actor, data, command_id)

    def _commit_new(
        self, ev: Event, snap: Snapshot, command_id: str | None, *, generated: bool = False
    ) -> Snapshot:
        """Write a new entity; return the snapshot stored for it.

        Args:
            generated: whether the ledger made up the entity's id, so that a retry of
                the command names another id than the first attempt did.

        Raises:
            PayloadError: the id is in use, or ``command_id`` was used for another
                command.
        """
        if command_id is not None:
            found = self._created_before(command_id, snap, generated=generated)
            if found is not None:
                return found
        # Outside a batch the store refuses an id in use (expected version 0), which
        # spares a read; inside one, the write comes later, so look now.
        if self._pending is not None and self._load(snap.entity_id) is not None:
            raise _id_in_use(snap.entity_id)
        try:
            if self._pending is None:
                stored = self.store.append_new(snap, ev, command_id)
            else:
                stored = self._write((Commit(snap, (ev,), 0, command_id),))
        except ConcurrencyError as exc:
            if exc.entity_id == snap.entity_id and exc.expected == 0:
                raise _id_in_use(snap.entity_id) from None
            raise
        except PayloadError as exc:
            # Another process applied the command first, under an id it made up itself:
            # the store refuses ours, and the entity it created is the answer.
            if command_id is None or exc.field != "command_id" or not generated:
                raise
            found = self._created_before(command_id, snap, generated=True)
            if found is None:
                raise
            return found
        if stored[0].hash != ev.hash:
            # The store answered with the first attempt's event, written by another
            # process between our look-up and our write.
            return self.get(stored[0].entity_id)
        return snap

    def _created_before(
        self, command_id: str, snap: Snapshot, *, generated: bool
    ) -> Snapshot | None:
        """Return the entity ``command_id`` created, if it was applied already.

        A creation whose id the ledger made up matches any entity of the same kind and
        round the command created; one with the caller's id matches only that entity.

        Raises:
            PayloadError: the id was used for another command.
        """
        done = self._command(command_id)
        if done is None:
            return None
        first = done[0]
        create = first.effects.get("create")
        if (
            first.name == CREATE
            and first.version == 1
            and isinstance(create, Mapping)
            and create.get("kind") == snap.kind
            and create.get("round_id") == snap.round_id
            and (generated or first.entity_id == snap.entity_id)
        ):
            return self.get(first.entity_id)
        raise PayloadError(
            snap.entity_id,
            CREATE,
            "command_id",
            f"{command_id!r} was already used for '{done[-1].name}' on "
            f"{first.entity_id}; give each command its own id",
        )

    def create_round(
        self,
        round_id: str,
        *,
        name: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        rulebook: Rulebook | str | None = None,
        parent_round: str | None = None,
        round_type: Literal["routine", "look_back", "special"] = "routine",
        command_id: str | None = None,
    ) -> Snapshot:
        """Create an inspection round (督察轮次) over ``area``, governed by ``rulebook``.

        A look-back (回头看) or special inspection names its ``parent_round``.

        Raises:
            PayloadError: an argument is of the wrong type, the name is blank, the round
                type unknown; PermissionDeniedError, RulebookError, AnchorError.
        """
        check_id(round_id, "round_id", event=CREATE)
        _check_text(round_id, "name", name)
        if round_type not in _ROUND_TYPES:
            raise PayloadError(
                round_id,
                CREATE,
                "round_type",
                f"{shown(round_type)} is not a round type; use one of {', '.join(_ROUND_TYPES)}",
            )
        if rulebook is not None and not isinstance(rulebook, Rulebook):
            check_id(rulebook, "rulebook", entity_id=round_id, event=CREATE)
        if parent_round is not None:
            check_id(parent_round, "parent_round", entity_id=round_id, event=CREATE)
        if isinstance(rulebook, Rulebook):
            self.add_rulebook(rulebook)
            rb = rulebook
        else:
            rb = self._rulebook_named(rulebook) if rulebook else self.rulebook
        if parent_round is not None:
            self.get(parent_round)
        elif round_type != "routine":
            raise PayloadError(
                round_id,
                CREATE,
                "parent_round",
                f"a {round_type} round must name the round it follows up",
            )
        data = {"name": name, "rulebook": rb.name, "round_type": round_type, "batches": 0}
        ev, snap = self._create(
            entity_id=round_id,
            lifecycle=rb.lifecycle("round"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            parent_id=parent_round,
            data=data,
            command_id=command_id,
        )
        self._round_rulebook[round_id] = rb
        return self._commit_new(ev, snap, command_id)

    def _round(self, round_id: str, states: Collection[str] | None, what: str) -> Snapshot:
        rnd = self.get(round_id)
        if rnd.kind != "round":
            raise PayloadError(
                round_id, CREATE, "round_id", f"{round_id} is a {rnd.kind}, not a round"
            )
        if states is not None and rnd.state not in states:
            raise GuardError(
                round_id,
                CREATE,
                "round_state",
                f"{what} is not possible while the round is '{rnd.state}'",
            )
        return rnd

    def _in_round(self, rnd: Snapshot, actor: Actor, entity_id: str) -> None:
        """Refuse an actor whose jurisdiction neither includes nor lies within the round's."""
        if not isinstance(actor, Actor):
            return
        if self._covers(actor, rnd.areas) or any(
            self.areas.covers(a, actor.area) for a in rnd.areas
        ):
            return
        raise PermissionDeniedError(
            entity_id,
            CREATE,
            actor.role,
            actor.area,
            f"{self.areas.name(actor.area)} has no part in the round {rnd.entity_id} over "
            f"{', '.join(self.areas.name(a) for a in rnd.areas)}",
        )

    def receive_complaint(
        self,
        round_id: str,
        *,
        channel: Channel | str,
        received_at: dt.datetime,
        area: str,
        summary: str,
        category: str,
        actor: Actor,
        complaint_id: str | None = None,
        command_id: str | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a complaint (信访件) received by the round's team.

        Its intake day follows the rulebook's hotline window (a call after 20:00 belongs to
        the next day); it will be handed over in the batch of the day after.
        """
        rnd = self._load(check_id(round_id, "round_id", event=CREATE))
        if rnd is None or rnd.kind != "round" or rnd.state not in _INTAKE_STATES:
            rnd = self._round(round_id, _INTAKE_STATES, "receiving complaints")
        ctx = self._intakes.get(round_id)
        if ctx is None or ctx.last_hash != rnd.last_hash or ctx.generation != self.areas.generation:
            ctx = self._intake_context(rnd)
        try:
            ch = _CHANNEL_VALUES[channel]
        except (KeyError, TypeError):
            raise PayloadError(
                complaint_id or "-",
                CREATE,
                "channel",
                f"unknown channel {channel!r}; use one of {', '.join(c.value for c in Channel)}",
            ) from None
        if category.__class__ is not str or category not in _CATEGORY_SET:
            _check_category(complaint_id, category)
        if summary.__class__ is not str or not summary.strip() or not summary.isprintable():
            _check_text(complaint_id, "summary", summary)
        if area.__class__ is not str or complaint_id is not None or command_id is not None:
            _check_ids(complaint_id, area, command_id)
        when = (
            received_at
            if received_at.__class__ is dt.datetime
            and received_at.tzinfo is SHANGHAI
            and received_at.year <= MAX_YEAR
            else as_instant(received_at, "received_at")
        )
        intake = when.date()
        if ch in ctx.windowed and when.time() >= ctx.closes:
            intake += _ONE_DAY
        days = self._day_iso.get(intake)
        if days is None:
            days = self._day_iso[intake] = (intake.isoformat(), (intake + _ONE_DAY).isoformat())
        entity_id = complaint_id or f"{round_id}/C-{uuid.uuid4().hex[:12]}"
        # Who may record a complaint of this area and category is worked out once per
        # round state; later complaints of the same kind reuse the answer and effects.
        key = (actor, area, category) if actor.__class__ is Actor else None
        known = ctx.creations.get(key) if key is not None else None
        if known is None or entity_id.__class__ is not str or not entity_id:
            known = None
            self._in_round(rnd, actor, entity_id)
        payload = {
            "channel": ch,
            "received_at": iso(when),
            "summary": summary,
            "intake_day": days[0],
            "batch_day": days[1],
        }
        if data:
            payload = {**_plain(data), **payload}
        if known is not None:
            ev, snap = _build(
                ctx.lifecycle,
                known[0],
                known[1],
                NO_DEADLINES,
                entity_id,
                when,
                actor,
                payload,
                command_id,
            )
        else:
            ev, snap = self._create(
                entity_id=entity_id,
                lifecycle=ctx.lifecycle,
                rb=ctx.rulebook,
                area=area,
                actor=actor,
                at=when,
                round_id=round_id,
                category=category,
                data=payload,
                command_id=command_id,
            )
            if key is not None and not snap.deadlines:
                shape = (
                    snap.kind,
                    snap.lifecycle,
                    area,
                    snap.areas,
                    round_id,
                    None,
                    None,
                    category,
                )
                ctx.creations[key] = (shape, ev.effects)
        # Checked once the actor may create complaints at all: who asks comes first.
        if ctx.first_day is not None and when.date() < ctx.first_day:
            raise GuardError(
                entity_id,
                CREATE,
                "station_in",
                f"received {when.date()}, before the team stationed in on {ctx.first_day}",
            )
        if ctx.last_day is not None and ch in ctx.windowed and intake > ctx.last_day:
            raise GuardError(
                entity_id,
                CREATE,
                "hotline_open",
                f"the hotline ({ctx.window}) closed with the station-in on {ctx.last_day}; "
                "record a later complaint as a letter",
            )
        return self._commit_new(ev, snap, command_id, generated=not complaint_id)

    def _intake_context(self, rnd: Snapshot) -> _Intake:
        """What receiving a complaint needs of its round, worked out once per round state."""
        rb = self.rulebook_of(rnd)
        first_day = last_day = None
        station = rnd.deadlines.get("station_in_ends")
        if station is not None:
            first_day = dt.datetime.fromisoformat(station.anchor).astimezone(SHANGHAI).date()
            if station.ended_at is not None:
                last_day = station.ended_at.astimezone(SHANGHAI).date()
        ctx = _Intake(
            rnd.last_hash,
            self.areas.generation,
            rb,
            rb.lifecycle("complaint"),
            rb.intake.windowed_channels,
            rb.intake.window.closes,
            rb.intake.window.describe(),
            first_day,
            last_day,
            {},
        )
        self._intakes[rnd.entity_id] = ctx
        return ctx

    def add_task(
        self,
        round_id: str,
        *,
        title: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        task_id: str | None = None,
        category: str | None = None,
        command_id: str | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a rectification task (整改任务) from the round's feedback (反馈问题)."""
        rnd = self._round(round_id, _TASK_STATES, "adding tasks from feedback")
        self._in_round(rnd, actor, task_id or "-")
        rb = self.rulebook_of(rnd)
        _check_text(task_id, "title", title)
        if category is not None:
            _check_category(task_id, category)
        entity_id = task_id or f"{round_id}/T-{uuid.uuid4().hex[:12]}"
        ev, snap = self._create(
            entity_id=entity_id,
            lifecycle=rb.lifecycle("task"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            category=category,
            data={**_plain(data), "title": title},
            command_id=command_id,
        )
        return self._commit_new(ev, snap, command_id, generated=not task_id)

    def request_documents(
        self,
        round_id: str,
        *,
        documents: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        request_id: str | None = None,
        command_id: str | None = None,
    ) -> Snapshot:
        """Record a document request (调阅资料) of the team to an area; its clock starts now."""
        rnd = self._round(round_id, _DOCUMENT_STATES, "requesting documents")
        self._in_round(rnd, actor, request_id or "-")
        rb = self.rulebook_of(rnd)
        _check_text(request_id, "documents", documents)
        entity_id = request_id or f"{round_id}/D-{uuid.uuid4().hex[:12]}"
        ev, snap = self._create(
            entity_id=entity_id,
            lifecycle=rb.lifecycle("document_request"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            data={"documents": documents},
            command_id=command_id,
        )
        return self._commit_new(ev, snap, command_id, generated=not request_id)

    # -- batches --------------------------------------------------------------------------

    def pending_for_batch(self, round_id: str, day: dt.date) -> list[Snapshot]:
        """Return received cases of the round due in the batch of ``day`` (or earlier)."""
        check_id(round_id, "round_id", event="pending_for_batch")
        iso = check_date(day, "day", entity_id=round_id, event="pending_for_batch").isoformat()
        return [
            s
            for s in self.store.find(kind="complaint", round_id=round_id, state="received")
            if str(s.data.get("batch_day", "")) <= iso
        ]

    def hand_over_batch(
        self, round_id: str, day: dt.date, *, actor: Actor, at: dt.datetime
    ) -> Batch | None:
        """Batch and hand over every received case due on ``day`` (交办), in one write.

        The batch holds the intake of the day before (the previous day's hotline window and
        letters); cases still waiting from earlier days join it.  Each case's result clock
        starts at ``at``.  Returns ``None`` when no case is waiting.

        Raises:
            PermissionDeniedError, GuardError, ChronologyError: as for :meth:`fire`;
            nothing is written then.
        """
        check_id(round_id, "round_id", event="record_batch")
        check_date(day, "day", entity_id=round_id, event="record_batch")
        _check_actor(actor, round_id, "record_batch")
        rnd = self._round(round_id, _INTAKE_STATES, "handing over a batch")
        if as_instant(at, "at").date() < day:
            # The batch of a day holds the intake of the day before, complete only once
            # that day is over.
            raise GuardError(
                round_id,
                "record_batch",
                "batch_day",
                f"the batch of {day.isoformat()} cannot be handed over before that day",
            )
        cases = self.pending_for_batch(round_id, day)
        if not cases:
            return None
        number = int(rnd.data.get("batches", 0)) + 1
        commits: list[Commit] = []
        for snap in cases:
            ev1, mid = self._transition(snap, "batch", actor, at, {"number": number}, None)
            ev2, new = self._transition(mid, "hand_over", actor, at, {}, None)
            commits.append(Commit(new, (ev1, ev2), snap.version))
        ids = [s.entity_id for s in cases]
        ev, new_round = self._transition(
            rnd,
            "record_batch",
            actor,
            at,
            {"number": number, "day": day.isoformat(), "cases": ids},
            None,
        )
        commits.append(Commit(new_round, (ev,), rnd.version))
        self._write(commits)
        return Batch(round_id, number, day, tuple(ids))

    def split_case(
        self, case_id: str, areas: Sequence[str], *, actor: Actor, at: dt.datetime
    ) -> list[Snapshot]:
        """Split a handed-over case between areas (分解): one child case per area.

        Each child keeps the parent's result clock; the parent ends in ``split``.
        """
        parent = self.get(case_id)
        _check_actor(actor, case_id, "split")
        if not isinstance(areas, (list, tuple)):
            raise PayloadError(case_id, "split", "areas", "must be a list of area codes")
        for area in areas:
            check_id(area, "areas", entity_id=case_id, event="split")
        if len(set(areas)) < 2:
            raise PayloadError(case_id, "split", "areas", "name at least two different areas")
        ev, new_parent = self._transition(parent, "split", actor, at, {"areas": list(areas)}, None)
        rb = self.rulebook_of(parent)
        lc = rb.lifecycle("complaint")
        commits = [Commit(new_parent, (ev,), parent.version)]
        children: list[Snapshot] = []
        inherited = {
            n: attrs.evolve(r, fired=()) for n, r in parent.deadlines.items() if r.status == "open"
        }
        for i, area in enumerate(dict.fromkeys(areas), start=1):
            child_id = f"{case_id}-{i}"
            if self._load(child_id) is not None:
                raise PayloadError(
                    case_id,
                    "split",
                    "areas",
                    f"the part's id {child_id} is already used by another entity",
                )
            data = {**parent.data, "split_from": case_id}
            cev, child = self._create(
                entity_id=child_id,
                lifecycle=lc,
                rb=rb,
                area=area,
                actor=actor,
                # Whoever may split the parent creates its parts.
                creators=frozenset({actor.role}),
                at=at,
                round_id=parent.round_id,
                parent_id=case_id,
                category=parent.category,
                data=data,
                batch=parent.batch,
                extra_deadlines=inherited,
            )
            # A split case starts where its parent stood: handed over, clock running.
            jump = Event.new(
                child_id,
                2,
                "inherit",
                ev.at,
                actor,
                {"from": case_id},
                child.state,
                "handed_over",
                {},
                None,
                child.last_hash,
            )
            child = fold(child, jump)
            commits.append(Commit(child, (cev, jump), 0))
            children.append(child)
        self._write(commits)
        return children

    # -- sweeping -------------------------------------------------------------------------

    def sweep(self, now: dt.datetime | None = None, *, limit: int = 500) -> list[AlertNotice]:
        """Record every warning and escalation that came due by ``now``, each exactly once.

        Safe to run as often as wanted, and from several workers at once: an alert is
        recorded as an event on its entity, and a second worker racing for the same entity
        loses the optimistic-concurrency check and skips it.

        Raises:
            AnchorError: ``now`` is not an aware datetime; PayloadError: ``limit`` is not a
                whole number from 1 to 10,000.
        """
        check_limit(limit, "limit", minimum=1, event="sweep")
        when = as_instant(now, "now") if now is not None else as_instant(self.clock.now())
        notices: list[AlertNotice] = []
        seen: set[str] = set()
        while True:
            claimed = self.store.claim_due_alerts(when, worker=self._worker, limit=limit)
            batch = [s for s in claimed if s.entity_id not in seen]
            if not batch:
                break
            for snap in batch:
                seen.add(snap.entity_id)
                try:
                    notices.extend(self._fire_alerts(snap, when))
                except ConcurrencyError:
                    # Another worker recorded these alerts, or the entity moved on: read it
                    # again and record whatever is still pending.
                    _log.debug("sweep: %s changed meanwhile; reading it again", snap.entity_id)
                    fresh = self.store.get(snap.entity_id)
                    if fresh is not None:
                        try:
                            notices.extend(self._fire_alerts(fresh, when))
                        except ConcurrencyError:
                            continue
        _log.info(
            "sweep at %s: %d alerts recorded on %d entities",
            when.isoformat(),
            len(notices),
            len(seen),
        )
        return notices

    def _fire_alerts(self, snap: Snapshot, now: dt.datetime) -> list[AlertNotice]:
        pending: _Alerts = []
        # An early warning found only once its deadline has passed (a late sweep) would
        # warn of what is already overdue: it is recorded as superseded, not announced.
        superseded: _Alerts = []
        for name, record in snap.deadlines.items():
            late = now >= record.due_at
            for alert in record.pending_alerts(now):
                stale = late and alert[0] == "warning"
                (superseded if stale else pending).append((name, alert, record))
        if not pending and not superseded:
            return []
        pending.sort(key=_alert_order)
        superseded.sort(key=_alert_order)
        every = sorted([*superseded, *pending], key=_alert_order)
        changes: dict[str, Any] = {}
        for name, alert, record in every:
            current = DeadlineRecord.from_dict(changes[name]) if name in changes else record
            changes[name] = attrs.evolve(current, fired=(*current.fired, alert[1])).to_dict()
        # Recorded as of the latest alert's own instant, not the sweep's: a clerk may still
        # enter what happened between the alert and the sweep.
        at = max(every[-1][1][2], snap.updated_at)
        payload: dict[str, Any] = {"alerts": [[n, a[0], a[1], iso(a[2])] for n, a, _ in pending]}
        if superseded:
            payload["superseded"] = [[n, a[0], a[1], iso(a[2])] for n, a, _ in superseded]
        ev = Event.new(
            snap.entity_id,
            snap.version + 1,
            ALERT,
            at,
            _SYSTEM,
            payload,
            snap.state,
            snap.state,
            {"deadlines": changes},
            None,
            snap.last_hash,
        )
        self._write((Commit(fold(snap, ev), (ev,), snap.version),))
        return [
            AlertNotice(
                snap.entity_id, snap.kind, snap.area, name, a[0], a[1], a[2], record.due_at, a[3]
            )
            for name, a, record in pending
        ]

    # -- queries --------------------------------------------------------------------------

    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        area: str | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Return open entities with a deadline past due at ``now``, most overdue first
        (at most ``limit`` of them).

        Raises:
            AnchorError, PayloadError: a bad instant, filter or ``limit`` (0 to 10,000).
        """
        _check_filters({"kind": kind, "area": area})
        if limit is not None:
            check_limit(limit, "limit", event="overdue")
        areas = self.areas_within(area) if area else None
        return self.store.overdue(as_instant(now, "now"), kind=kind, areas=areas, limit=limit)

    def due_within(
        self,
        working_days: int,
        now: dt.datetime,
        *,
        kind: str | None = None,
        area: str | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose next deadline falls within ``working_days`` working
        days after ``now``'s day (and is not yet past).

        Raises:
            AnchorError, PayloadError: a bad instant, filter or ``working_days`` (0 to
                10,000).
        """
        check_limit(working_days, "working_days", event="due_within")
        _check_filters({"kind": kind, "area": area})
        when = as_instant(now, "now")
        last = self.calendar.add_workdays(when.date(), working_days)
        end = dt.datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + dt.timedelta(days=1)
        areas = self.areas_within(area) if area else None
        return self.store.due_between(when, end, kind=kind, areas=areas)

    def counts(
        self,
        by: Literal["state", "area", "batch", "category", "kind"],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        area: str | None = None,
    ) -> dict[str | int | None, int]:
        """Count entities by state, area, batch, category or kind.

        Raises:
            PayloadError: ``by`` or a filter is not one the ledger knows.
        """
        if by not in _COUNT_BY:
            raise PayloadError(
                "-", "counts", "by", f"{shown(by)}: count by one of {', '.join(_COUNT_BY)}"
            )
        _check_filters({"kind": kind, "round_id": round_id, "area": area})
        areas = self.areas_within(area) if area else None
        return self.store.counts(by, kind=kind, round_id=round_id, areas=areas)

    def rates(
        self, now: dt.datetime, *, round_id: str | None = None, area: str | None = None
    ) -> dict[str, float | None]:
        """Return the closing rate of cases (办结率), the closing rate of tasks (销号率) and
        the on-schedule rate of open tasks (序时进度), each ``None`` when there is nothing
        to rate."""
        cases = self.counts("state", kind="complaint", round_id=round_id, area=area)
        tasks = self.counts("state", kind="task", round_id=round_id, area=area)
        out_of_scope = sum(cases.get(s, 0) for s in ("passed_on", "duplicate", "split"))
        in_scope = sum(cases.values()) - out_of_scope
        done_cases = sum(
            cases.get(s, 0) for s in ("interim_closed", "closed", "under_acceptance", "accepted")
        )
        total_tasks = sum(tasks.values())
        closed_tasks = sum(tasks.get(s, 0) for s in ("closed", "filed"))
        open_tasks = total_tasks - closed_tasks
        # Counted from the index of due times: only the overdue tasks are read.
        behind = sum(
            1
            for s in self.overdue(now, kind="task", area=area)
            if (round_id is None or s.round_id == round_id) and s.state != "closed"
        )
        return {
            "case_closing_rate": done_cases / in_scope if in_scope else None,
            "task_closing_rate": closed_tasks / total_tasks if total_tasks else None,
            "on_schedule_rate": (open_tasks - behind) / open_tasks if open_tasks else None,
        }

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the ledger and report every problem found (see :meth:`EventStore.verify`).

        Args:
            deep: also fold every entity from its events and compare its projection.
            anchor: an anchor printed or published earlier (:meth:`anchor`).
        """
        return self.store.verify(deep=deep, anchor=anchor)

    def anchor(self) -> Anchor:
        """Return a short digest of the whole ledger as it stands, to print or publish.

        Kept outside the database (in a signed report, a notice, a letter), it shows later
        whether the events it covers were changed, even by someone who rewrote and
        re-hashed them all: ``verify(anchor=...)``.
        """
        return self.store.anchor()

    def repair(self) -> RepairReport:
        """Rewrite drifted projection rows and missing records of applied commands from
        the events (see :meth:`EventStore.repair`); the events are never touched."""
        report = self.store.repair()
        self._intakes.clear()
        return report


def _build(
    lifecycle: Lifecycle,
    shape: tuple[Any, ...],
    effects: Mapping[str, Any],
    records: Mapping[str, DeadlineRecord],
    entity_id: str,
    when: dt.datetime,
    actor: Actor,
    data: Mapping[str, Any],
    command_id: str | None,
) -> tuple[Event, Snapshot]:
    """Return a new entity's creating event and the snapshot ``fold(None, event)`` gives."""
    kind, name, area, owner_areas, round_id, parent_id, batch, category = shape
    initial = lifecycle.initial
    ev = Event.new(entity_id, 1, CREATE, when, actor, data, "", initial, effects, command_id)
    snap = Snapshot(
        entity_id,
        kind,
        name,
        initial,
        1,
        area,
        owner_areas,
        round_id,
        parent_id,
        batch,
        category,
        when,
        when,
        False,
        data,
        records or NO_DEADLINES,
        ev.hash,
    )
    return ev, snap


def _create_effects(shape: tuple[Any, ...]) -> dict[str, Any]:
    kind, lifecycle, area, areas, round_id, parent_id, batch, category = shape
    out: dict[str, Any] = {"kind": kind, "lifecycle": lifecycle, "area": area}
    if areas != (area,):
        out["areas"] = list(areas)
    for key, value in (
        ("round_id", round_id),
        ("parent_id", parent_id),
        ("batch", batch),
        ("category", category),
    ):
        if value is not None:
            out[key] = value
    return out


#: Alerts of a sweep: the deadline's name, the alert, the deadline's record.
_Alerts = list[tuple[str, tuple[str, str, dt.datetime, str], DeadlineRecord]]


def _alert_order(item: tuple[str, tuple[str, str, dt.datetime, str], DeadlineRecord]) -> Any:
    """Alerts in the order they fell due, then by deadline and alert name."""
    name, alert, _ = item
    return (alert[2], name, alert[1])


def _id_in_use(entity_id: str) -> PayloadError:
    return PayloadError(
        entity_id, CREATE, "entity_id", "is already used by another entity; choose another id"
    )


def _check_text(entity_id: str | None, field: str, value: object) -> None:
    """Refuse a creating command's text field that is missing, blank or not storable."""
    check_text(value, field, entity_id=_named(entity_id), event=CREATE)


def _named(entity_id: object) -> str:
    """The id to name in an error: the id itself if it is usable text, else ``-``."""
    if (
        isinstance(entity_id, str)
        and 0 < len(entity_id) <= MAX_ID_LENGTH
        and entity_id.isprintable()
    ):
        return entity_id
    return "-"


def _check_actor(actor: object, entity_id: object, event: object) -> None:
    """Refuse anything but an :class:`Actor` where one acts."""
    if not isinstance(actor, Actor):
        raise PayloadError(
            _named(entity_id),
            _named(event),
            "actor",
            f"{shown(actor)} is not an actor; pass Actor(role, area, name)",
        )


def _check_command(entity_id: object, event: object, command_id: object) -> None:
    """Refuse an event name or command id that is not an identifier."""
    check_id(event, "event", entity_id=_named(entity_id), event="fire")
    if command_id is not None:
        check_id(command_id, "command_id", entity_id=_named(entity_id), event=str(event))


def _check_ids(entity_id: object, area: object, command_id: object) -> None:
    """Refuse a new entity's id, area or command id that is not an identifier."""
    if entity_id is not None:
        check_id(entity_id, "entity_id", event=CREATE)
    check_id(area, "area", entity_id=_named(entity_id), event=CREATE)
    if command_id is not None:
        check_id(command_id, "command_id", entity_id=_named(entity_id), event=CREATE)


def _check_areas(entity_id: str, area: object, areas: object) -> None:
    """Refuse an owner area, or list of owner areas, that is not area codes."""
    check_id(area, "area", entity_id=entity_id, event=CREATE)
    if areas is not None:
        if not isinstance(areas, (list, tuple)):
            raise PayloadError(entity_id, CREATE, "areas", "must be a list of area codes")
        for a in areas:
            check_id(a, "areas", entity_id=entity_id, event=CREATE)


#: The filters of :meth:`Ledger.find`, and what each accepts.
_TEXT_FILTERS = frozenset({"kind", "round_id", "category", "parent_id", "area"})
_MANY_FILTERS = frozenset({"state", "areas"})


def _check_filters(filters: Mapping[str, Any]) -> None:
    """Refuse a query filter the stores do not know, or one of the wrong type."""
    for key, value in filters.items():
        if value is None:
            continue
        if key in _TEXT_FILTERS:
            check_id(value, key, event="find")
        elif key in _MANY_FILTERS:
            if isinstance(value, str) and key == "state":
                check_id(value, key, event="find")
            elif isinstance(value, (list, tuple, set, frozenset)):
                for v in value:
                    check_id(v, key, event="find")
            else:
                raise PayloadError("-", "find", key, f"{shown(value)} must be a list of text")
        elif key == "batch":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise PayloadError("-", "find", key, f"{shown(value)} must be a batch number")
        elif key == "open_only":
            if not isinstance(value, bool):
                raise PayloadError("-", "find", key, "must be True or False")
        else:
            known = ", ".join(sorted({*_TEXT_FILTERS, *_MANY_FILTERS, "batch", "open_only"}))
            raise PayloadError("-", "find", shown(key), f"is not a filter; use {known}")


def _check_category(entity_id: str | None, category: object) -> None:
    """Refuse a pollution category the ledger does not know."""
    if category.__class__ is not str or category not in CATEGORIES:
        raise PayloadError(
            _named(entity_id), CREATE, "category", f"use one of {', '.join(CATEGORIES)}"
        )


def _extension(data: Mapping[str, Any]) -> Extension:
    until = data.get("until")
    return Extension(
        reason=data["reason"],
        amount=data.get("amount"),
        unit=data.get("unit"),
        until=dt.date.fromisoformat(until) if until else None,
        granted_at=dt.datetime.fromisoformat(data["granted_at"])
        if data.get("granted_at")
        else None,
    )


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return extra fields as JSON-able data (dates and instants as ISO text)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dt.datetime):
            out[key] = as_instant(value, key).isoformat()
        elif isinstance(value, dt.date):
            out[key] = value.isoformat()
        else:
            out[key] = _json_value(value, key, 0)
    return out


def _json_value(value: Any, key: str, depth: int) -> Any:
    """Return ``value`` if it is plain JSON a store keeps exactly as hashed, else raise."""
    cls = value.__class__
    if cls is str:
        return check_text(value, key, event=CREATE, empty=True)
    if value is None or cls is bool or (cls is int and -MAX_WHOLE <= value <= MAX_WHOLE):
        return value
    if cls is float and math.isfinite(value):
        return value
    if depth >= 32:
        raise PayloadError("-", CREATE, key, "is nested more than 32 levels deep")
    if cls is list or cls is tuple:
        return [_json_value(v, key, depth + 1) for v in value]
    if cls is dict:
        out = {}
        for k, v in value.items():
            if k.__class__ is not str:
                raise PayloadError("-", CREATE, key, f"has a key {shown(k)} that is not text")
            out[check_text(k, key, event=CREATE)] = _json_value(v, key, depth + 1)
        return out
    raise PayloadError(
        "-",
        CREATE,
        key,
        f"cannot store {shown(value)}: use text, whole numbers up to "
        f"{MAX_WHOLE}, finite numbers, true/false, lists and tables",
    )


def _clock_candidate(snap: Snapshot, event: str) -> str:
    """An open deadline ``event`` could act on: a running one to pause, a paused one to
    resume, any to extend; ``"-"`` when there is none."""
    for name, record in sorted(snap.deadlines.items()):
        if record.status != "open":
            continue
        paused = bool(record.pauses) and record.pauses[-1][1] is None
        if event == "grant_extension" or paused == (event == "resume_clock"):
            return name
    return "-"


def _placeholder(kind: str, choices: tuple[str, ...]) -> Any:
    """A valid stand-in for a required field, so ``can`` checks roles and guards alone."""
    if kind == "choice":
        return choices[0]
    return {
        "int": 1,
        "bool": True,
        "date": "2100-01-01",
        "datetime": "2100-01-01T00:00:00+08:00",
        "list": ["-"],
        "areas": ["-"],
        "dict": {},
    }.get(kind, "-")
