"""The generic engine: checking a command (state, role, jurisdiction, payload, guards),
firing it, its effects, creating entities.

It is long because checking, firing and creating share their memos and helpers on the
hot path; the deadlines, the sweep and the domain commands live in rooms of their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from .._areas import Actor
from .._checks import (
    check_id,
)
from .._definitions import CREATE, Lifecycle, Transition, check_payload
from .._guards import GuardContext
from .._records import (
    NO_DEADLINES,
    Commit,
    DeadlineRecord,
    DeadlineStatus,
    Event,
    Snapshot,
    fold,
    in_due_order,
    iso,
    one_area,
)
from .._rulebook import Rulebook
from .._rules import as_instant
from ..exceptions import (
    ChronologyError,
    ConcurrencyError,
    GuardError,
    InspectionFlowError,
    PayloadError,
    PermissionDeniedError,
    StoreError,
)
from .base import _event_keeping_state
from .deadlines import _Deadlines
from .inputs import (
    _check_actor,
    _check_areas,
    _check_command,
    _clock_candidate,
    _id_in_use,
    _placeholder,
    _plain,
    _unknown_area,
)
from .values import _MEMO_SIZE, _NO_DATA, _SYSTEM, ALERT_WITHDRAWN, Decision

_log = logging.getLogger(__name__)

#: What ``fire`` logs when a command sent again is answered with its first event.
_REPEATED = "fire: command %r was applied before; its event is the answer"


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
    recorded_at: dt.datetime | None = None,
) -> tuple[Event, Snapshot]:
    """Return a new entity's creating event and the snapshot ``fold(None, event)`` gives."""
    kind, name, area, owner_areas, round_id, parent_id, batch, category = shape
    initial = lifecycle.initial
    ev = Event.new(
        entity_id,
        1,
        CREATE,
        when,
        actor,
        data,
        "",
        initial,
        effects,
        command_id,
        recorded_at=recorded_at,
    )
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
        when,
    )
    return ev, snap


def _withdrawal(before: Snapshot, after: Snapshot, fact: Event) -> Event | None:
    """Return the event withdrawing the alerts a late-entered fact proves groundless.

    A fact entered after the sweep recorded an alert may have happened before the alert's
    instant: a deadline it met by then was never behind, and an alert that fell due
    after it is withdrawn.  The alert stays recorded (it is never edited) and, being
    among the deadline's fired alerts, is never fired again.
    """
    withdrawn: list[list[str]] = []
    for name, record in before.deadlines.items():
        ended = after.deadlines.get(name)
        if record.status != "open" or ended is None or ended.status != "met":
            continue
        for kind, alert, due, _ in record.alerts:
            if alert in record.fired and due > fact.at:
                withdrawn.append([name, kind, alert, iso(due)])
    if not withdrawn:
        return None
    # Dated when the fact happened: from then on the alerts had no ground.
    return _event_keeping_state(
        after,
        ALERT_WITHDRAWN,
        fact.at,
        _SYSTEM,
        {"withdrawn": withdrawn, "because": [fact.version, fact.name]},
        {},
        fact.recorded_at,
    )


#: The values an effects mapping may share with other events: immutable and plain.
_PLAIN = frozenset((str, int, bool))


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


#: What the steps of one command came to for entities alike (see _Engine._transition),
#: by :func:`_plan_key`: the deadline mapping the key names (kept, so that its id stays
#: its own), the transition, the state after the step, its checked payload, its effects
#: (but what a derivation adds, worked out for each entity) and the deadline records it
#: starts or changes.
_Plans = dict[
    tuple[Any, ...],
    tuple[
        Mapping[str, DeadlineRecord],
        Transition,
        str,
        dict[str, Any],
        dict[str, Any],
        dict[str, DeadlineRecord],
    ],
]

#: Plans a command keeps; one applied to many entities makes a few.
_PLANS = 64

#: The types of payload values a batch's plans are kept for (see _command_scope).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plannable(t: Transition) -> bool:
    """Whether a step's checks and effects depend on the entity only through what
    :func:`_plan_key` holds, but for its guards and derivation (functions of the whole
    entity, run for each entity): not if it manages a clock or extends a deadline (read
    from the entity's records)."""
    return t.clock is None and t.extends is None


def _plan_key(snap: Snapshot, event: str) -> tuple[Any, ...]:
    """What a plannable step of one command (one actor, instant, recorded instant and
    reason, one payload for each event) depends on in the entity: its rulebook and
    lifecycle, state, areas, deadlines and whether it is final.

    The deadlines are named by identity: a deadline mapping is never changed, and the
    entities of a batch share one.
    """
    return (
        snap.round_id or snap.entity_id,
        snap.lifecycle,
        snap.state,
        snap.areas,
        id(snap.deadlines),
        snap.terminal,
        event,
    )


class _Engine(_Deadlines):
    """The generic engine: checking a command (state, role, jurisdiction, payload, guards),
    firing it, its effects, creating entities."""

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
            raise lc.refusal(snap.entity_id, snap.state, event)
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
        if not (payload or t.fields):
            clean: dict[str, Any] = {}
        else:
            # The same payload for the same step (fire_many, a hand-over's two steps) is
            # checked once: the check depends on the two alone, and its result is never
            # changed (it is shared).  Kept with both, so an id is never mistaken.
            memo = self._clean_memo
            known = memo.get((id(t), id(payload)))
            if known is not None and known[0] is t and known[1] is payload:
                clean = known[2]
            else:
                clean = check_payload(snap.entity_id, t, payload)
                if len(memo) >= 16:
                    memo.clear()
                memo[(id(t), id(payload))] = (t, payload, clean)
        for f in t.fields:
            if f.type not in ("area", "areas") or f.name not in clean or f.name in placeholders:
                continue
            codes = [clean[f.name]] if f.type == "area" else clean[f.name]
            self._check_known_areas(snap.entity_id, event, f.name, codes)
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
            self._guard(snap, t, GuardContext(self, snap, actor, at, clean, event))
        if t.clock is not None:
            self._check_clock(snap, t, clean)
        return t, clean

    def _guard(self, snap: Snapshot, t: Transition, ctx: GuardContext) -> None:
        """Run the guards of ``t`` in their order; refuse with the first that objects."""
        guards = self._guards
        for name in t.guards:
            reason = guards[name](ctx)
            if reason is not None:
                raise GuardError(snap.entity_id, t.event, name, reason)

    def _command_scope(
        self,
        actor: Actor,
        when: dt.datetime,
        late_entry_reason: Any,
        payload: Mapping[str, Any],
    ) -> tuple[Any, ...] | None:
        """What a step's plan kept across the commands of a batch depends on besides the
        entity: the actor, the instant, the reason for a late entry, the payload (each
        value with its type: ``True`` is not ``1`` to a field's check), and the calendar
        and areas the checks and deadlines read, which the batch's code may change
        between its commands.  A list or tuple of plain scalars (an assignment's owners)
        is held as its items, each with its type; the checks copy it into the payload
        they return, so a plan never shares a caller's list.  ``None`` when a value of
        the payload is anything else (mappings, nested lists): such a command is
        checked for itself."""
        if actor.__class__ is not Actor or (
            late_entry_reason is not None and late_entry_reason.__class__ is not str
        ):
            return None
        fields = []
        for name, value in payload.items():
            cls = value.__class__
            if cls not in _SCALARS:
                if cls is not list and cls is not tuple:
                    return None
                items = tuple([(item.__class__, item) for item in value])
                for item_cls, _ in items:
                    if item_cls not in _SCALARS:
                        return None
                fields.append((name, cls, items))
                continue
            fields.append((name, cls, value))
        areas = self.areas
        return (
            actor,
            when,
            late_entry_reason,
            tuple(fields),
            self.calendar,
            areas,
            areas.generation,
        )

    def _derived(self, effects: dict[str, Any], derive: str, ctx: GuardContext) -> dict[str, Any]:
        """``effects`` with the data the derivation ``derive`` adds for the entity of
        ``ctx``, over the rest of the event's data, as :meth:`_effects` adds it."""
        extra = self._derivations[derive](ctx)
        if not extra:
            return effects
        return {**effects, "data": {**effects.get("data", _NO_DATA), **extra}}

    def _check_known_areas(
        self, entity_id: str, event: str, field: str, codes: Iterable[str]
    ) -> None:
        """Refuse a code that names no area, suggesting the registered areas close to it.

        Raises:
            PayloadError: naming ``field``; the entity and event are as given.
        """
        generation, known = self._known_areas
        if generation != self.areas.generation:
            known = set()
            self._known_areas = (self.areas.generation, known)
        for code in codes:
            if code in known:
                continue
            if not self.areas.known(code):
                raise PayloadError(
                    entity_id, event, field, _unknown_area(code, self.areas.suggest(code))
                )
            known.add(code)

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

        Payload fields are checked only when given.  Nothing is written.

        Returns:
            A :class:`Decision`, truthy when allowed; otherwise its ``reasons`` say why
            (the state, the actor's role or jurisdiction, a guard, the payload).
        """
        _check_actor(actor, entity_id, event)
        snap = self.get(entity_id)
        check_id(event, "event", entity_id=snap.entity_id, event="can")
        lc = self.lifecycle_of(snap)
        when = as_instant(at, "at") if at is not None else snap.facts_until
        t = lc.transition(snap.state, event)
        reasons: list[str] = []
        if t is None:
            refusal = lc.refusal(snap.entity_id, snap.state, event)
            if refusal.unknown:
                return Decision(False, (str(refusal),))
            allowed = ", ".join(lc.allowed(snap.state)) or "none"
            return Decision(
                False,
                (f"'{event}' is not possible in state '{snap.state}'; allowed now: {allowed}",),
            )
        if when < snap.facts_until:
            reasons.append(str(ChronologyError(entity_id, when, snap.facts_until)))
        try:
            filled = dict(payload)
            if t.clock is not None and "deadline" not in filled:
                # Asked without a deadline: may the actor manage some deadline this way?
                filled["deadline"] = _clock_candidate(snap, t.clock)
                if t.clock == "extend" and not filled.keys() & {"amount", "unit", "until"}:
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

    def fire(
        self,
        entity_id: str,
        event: str,
        *,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        **payload: Any,
    ) -> Event:
        """Apply ``event`` to the entity on behalf of ``actor`` at ``at``.

        Appends one immutable event and updates the entity's deadlines.  A refused command
        changes nothing.  ``at`` is when it happened; the event also keeps when it was
        recorded (``recorded_at``, by the ledger's clock).  A fact may be entered after
        an alert the sweep recorded at a later instant: if it met the alert's deadline
        before that instant, an ``alert_withdrawn`` event follows it in the same write.

        Args:
            entity_id: the entity.
            event: the lifecycle event, e.g. ``hand_over``, ``record_finding``.
            actor: who acts (role and area).
            at: when it happened, a timezone-aware datetime not before the entity's
                latest fact (its latest event other than the ledger's alerts).
            command_id: makes the command idempotent: repeating it returns the first
                result and appends nothing.
            late_entry_reason: why a fact is entered further back than the rulebook's
                ``[recording] backdate_limit`` allows; required then, and recorded with
                the event (:attr:`Event.late_entry`).
            payload: the event's fields.

        Returns:
            The appended event (the command's own, not a withdrawal after it).

        Raises:
            EntityNotFoundError, InvalidTransitionError, PermissionDeniedError, GuardError,
            PayloadError, ChronologyError, AnchorError; LateEntryError: entered too far
            back without ``late_entry_reason``; ConcurrencyError if another writer
            changed the entity meanwhile (nothing is written; retry).
        """
        # Inside a batch, what a step came to is kept for the batch's later commands on
        # entities alike (see _transition).
        return self._fire(
            entity_id,
            event,
            actor,
            at,
            command_id,
            late_entry_reason,
            payload,
            None,
            self._batch_plans,
            across=True,
        )

    def _fire(
        self,
        entity_id: str,
        event: str,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None,
        late_entry_reason: str | None,
        payload: Mapping[str, Any],
        recorded: dt.datetime | None = None,
        plans: _Plans | None = None,
        *,
        across: bool = False,
    ) -> Event:
        if event.__class__ is not str or command_id is not None:
            _check_command(entity_id, event, command_id)
        if self._pending is not None and command_id is not None:
            # In a batch, a command applied before is looked up first: applied again to
            # the batch's state, it would move its entity on meanwhile.
            first = self._fired_before(command_id, entity_id, event)
            if first is not None:
                return first
        # Outside a batch the command id is not looked up first: the write refuses an id
        # in use and the store answers a repeat with its first result (or refuses another
        # command under its id), and a repeat that cannot be applied again looks it up
        # then (_fire_on).  The entity's read and the command's write share one
        # connection of the store (a batch holds one for its reads already).
        held = self.store.holding_reads() if self._pending is None else contextlib.nullcontext()
        with held:
            return self._fire_on(
                entity_id,
                event,
                actor,
                at,
                command_id,
                late_entry_reason,
                payload,
                recorded,
                plans,
                across=across,
            )

    def _fire_on(
        self,
        entity_id: str,
        event: str,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None,
        late_entry_reason: str | None,
        payload: Mapping[str, Any],
        recorded: dt.datetime | None,
        plans: _Plans | None,
        *,
        across: bool,
    ) -> Event:
        try:
            snap = self.get(entity_id)
            event_obj, new = self._transition(
                snap,
                event,
                actor,
                at,
                payload,
                command_id,
                late_entry_reason,
                recorded,
                plans,
                across=across,
            )
        except InspectionFlowError as exc:
            # A repeat finds the entity moved on by its first application (or, racing
            # it, by its first attempt): the stored result is the answer, not the
            # refusal.  A command id used for another command is refused as such.
            if command_id is not None and not isinstance(exc, StoreError):
                first = self._fired_before(command_id, entity_id, event)
                if first is not None:
                    return first
            raise
        events: tuple[Event, ...] = (event_obj,)
        if snap.deadlines and snap.facts_until < snap.updated_at:
            withdrawal = _withdrawal(snap, new, event_obj)
            if withdrawal is not None:
                events = (event_obj, withdrawal)
                new = fold(new, withdrawal)
        # The store refuses the command id if another process used it for another
        # entity or event, and returns the first result if it applied this command.
        stored = self._write((Commit(new, events, snap.version, command_id),))
        if stored[0] is not event_obj:
            _log.debug(_REPEATED, command_id)
        return stored[0]

    def fire_many(
        self,
        entity_ids: Sequence[str],
        event: str,
        *,
        actor: Actor,
        at: dt.datetime,
        command_ids: Sequence[str | None] | None = None,
        late_entry_reason: str | None = None,
        **payload: Any,
    ) -> list[Event]:
        """Apply the same ``event`` to each of ``entity_ids`` in one write: a day's
        assignments, a batch of findings entered from a 台账, an import.

        Each entity gets the command :meth:`fire` would apply (by ``actor``, at ``at``,
        with ``payload``), checked as :meth:`fire` checks it; the entities are read with
        one look-up per 500.  All or nothing: the first refusal is raised, for the
        entity it names, and nothing is written.  Inside :meth:`batch` the commands join
        the block's write.  An id given twice gets the command twice, in turn.

        Args:
            entity_ids: the entities, in the order their events are written.
            event, actor, at, late_entry_reason, payload: as for :meth:`fire`.
            command_ids: one id per entity (or ``None`` for an entity), as
                :meth:`fire`'s ``command_id``: a repeated import returns the first
                results and appends nothing.

        Returns:
            The appended events, one per entity, in the order of ``entity_ids``.

        Raises:
            PayloadError: ``entity_ids`` is a single text or not a list of ids, or
                ``command_ids`` does not give one per entity; and every error of
                :meth:`fire`, for the first entity refused.
        """
        if isinstance(entity_ids, str) or not isinstance(entity_ids, Sequence):
            raise PayloadError(
                str(entity_ids)[:60],
                str(event),
                "entity_ids",
                f"give a list of entity ids, not {entity_ids!r}",
            )
        ids = list(entity_ids)
        if command_ids is None:
            commands: list[str | None] = [None] * len(ids)
        elif isinstance(command_ids, str) or len(command_ids) != len(ids):
            raise PayloadError(
                ids[0] if ids else "",
                str(event),
                "command_ids",
                f"give one command id (or None) per entity: {len(ids)} entities",
            )
        else:
            commands = list(command_ids)
        with self.batch():
            self._read_ahead([i for i in ids if i.__class__ is str])
            self._read_ahead_commands(c for c in commands if c is not None)
            # One write, recorded at one instant; one payload for all, checked once for
            # each step the entities take (see _transition's plans).
            recorded = self._recorded_at()
            plans: _Plans = {}
            return [
                self._fire(
                    entity_id,
                    event,
                    actor,
                    at,
                    command_id,
                    late_entry_reason,
                    payload,
                    recorded,
                    plans,
                )
                for entity_id, command_id in zip(ids, commands, strict=True)
            ]

    def _fired_before(self, command_id: str, entity_id: str, event: str) -> Event | None:
        """Return the event ``command_id`` stored, if it was applied already.

        Raises:
            PayloadError: the id was used for another entity or event.
        """
        done = self._command(command_id)
        if done is None:
            return None
        # The command's own event comes first; an alert it withdrew, after it.
        first = done[0]
        if (first.entity_id, first.name) != (entity_id, event):
            raise PayloadError(
                entity_id,
                event,
                "command_id",
                f"{command_id!r} was already used for '{first.name}' on "
                f"{first.entity_id}; give each command its own id",
            )
        _log.debug(_REPEATED, command_id)
        return first

    def _transition(
        self,
        snap: Snapshot,
        event: str,
        actor: Actor,
        at: Any,
        payload: Mapping[str, Any],
        command_id: str | None,
        late_entry_reason: str | None = None,
        recorded: dt.datetime | None = None,
        plans: _Plans | None = None,
        *,
        across: bool = False,
    ) -> tuple[Event, Snapshot]:
        """Check ``event`` on ``snap`` and apply it: the event and the snapshot after it.

        ``plans``, given by a command that applies its steps to many entities
        (fire_many, a day's hand-over) and used for that command alone, keeps what a
        step's checks and effects came to for entities alike in all they depend on (see
        :func:`_plan_key`): each further one is only checked for its chronology, its
        guards and derivation, hashed and folded.

        ``across``: the plans are a batch's, kept across its commands (:meth:`fire`
        inside :meth:`batch`); their key also holds what the command brings (see
        :meth:`_command_scope`), and each command works out its own late entry, as it
        reads the clock for itself.
        """
        if actor.__class__ is not Actor:
            _check_actor(actor, snap.entity_id, event)
        when = self._instant(at, snap, snap.entity_id)
        if recorded is None:
            recorded = self._recorded_at()
        key: tuple[Any, ...] = ()
        plan = None
        if plans is not None:
            key = _plan_key(snap, event)
            if across:
                scope = self._command_scope(actor, when, late_entry_reason, payload)
                if scope is None:
                    plans = None
                else:
                    key = (*key, scope)
            if plans is not None:
                plan = plans.get(key)
        if plan is not None:
            # In the order of the checks of a step not planned: guards, late entry, then
            # the derivation.
            _, t, new_state, clean, effects, records = plan
            ctx = None
            if t.guards:
                ctx = GuardContext(self, snap, actor, when, clean, event)
                self._guard(snap, t, ctx)
            if across:
                late = self._late_entry(
                    snap, snap.entity_id, event, when, recorded, late_entry_reason
                )
                if late is not None:
                    effects = {**effects, "late_entry": late}
            if t.derive is not None:
                if ctx is None:
                    ctx = GuardContext(self, snap, actor, when, clean, event)
                effects = self._derived(effects, t.derive, ctx)
        else:
            lc = self.lifecycle_of(snap)
            t, clean = self._check(snap, lc, event, actor, when, payload)
            new_state = lc.step(snap.entity_id, snap.state, event)
            late = self._late_entry(snap, snap.entity_id, event, when, recorded, late_entry_reason)
            planned = plans is not None and _plannable(t)
            # A planned step's derivation is worked out for each entity, over the rest.
            effects, records = self._effects(
                snap, lc, t, new_state, actor, when, clean, derive=not planned
            )
            # A batch's plan leaves the late entry out: each command works out its own.
            kept = effects
            if late is not None:
                # A copy: effects may be shared between events.
                effects = {**effects, "late_entry": late}
            if planned:
                assert plans is not None
                if len(plans) >= _PLANS:
                    plans.clear()
                plans[key] = (
                    snap.deadlines,
                    t,
                    new_state,
                    clean,
                    kept if across else effects,
                    records,
                )
                if t.derive is not None:
                    ctx = GuardContext(self, snap, actor, when, clean, event)
                    effects = self._derived(effects, t.derive, ctx)
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
            recorded,
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
        *,
        derive: bool = True,
    ) -> tuple[dict[str, Any], dict[str, DeadlineRecord]]:
        """The effects of ``t`` on ``snap`` and the deadline records it starts or changes;
        ``derive=False`` leaves out what its derivation adds (see :meth:`_derived`)."""
        # Long by design: every declaration of a transition, in the order its effects are
        # recorded; inlined because it runs on every fire (see docs/performance.md).
        event = t.event
        data: Mapping[str, Any] = _NO_DATA
        setters: dict[str, Any] = {}
        deadlines: dict[str, DeadlineRecord] = {}
        # What the event records is declared on its transition (see Transition): by
        # default the payload of a step that changes the state becomes the entity's
        # data; activities that leave the state (meetings, visits) stay in the history
        # only.  The payload is a fresh dict, never changed: it is shared.
        if t.clock is not None:
            deadlines[payload["deadline"]] = self._clock(snap, t, at, payload)
        elif t.records is not None:
            if t.records:
                data = {key: payload[f] for f, key in t.records if f in payload}
        elif t.target is not None:
            data = payload
        extra: dict[str, Any] = {}
        if t.assigns is not None:
            if t.assigns.__class__ is str:
                codes = payload[t.assigns]
                owners = [codes] if isinstance(codes, str) else list(dict.fromkeys(codes))
            else:
                given: list[str] = []
                for name in t.assigns:
                    codes = payload.get(name)
                    if codes is not None:
                        given.extend([codes] if isinstance(codes, str) else codes)
                owners = list(dict.fromkeys(given))
            if owners:
                setters["areas"] = tuple(owners)
                setters["area"] = owners[0]
        if t.sets_batch is not None:
            setters["batch"] = payload[t.sets_batch]
        if t.records_actor is not None:
            extra[t.records_actor] = actor.to_dict()
        if t.marks:
            extra.update(t.marks)
        if t.extends is not None:
            extended = t.extends
            if extended.__class__ is not str:
                extended = next((n for n in extended if n in snap.deadlines), extended[0])
            deadlines[extended] = self._extend_until(snap, extended, at, payload)
        if t.derive is not None and derive:
            extra.update(
                self._derivations[t.derive](GuardContext(self, snap, actor, at, payload, event))
            )
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
                    # Late is a recorded fact, not a later reading of the dates: the end
                    # effect says met_late, so no change of rule or calendar alters it.
                    late = record.kind == "due" and not record.suspended
                    if met and late and at >= record.due_at:
                        status = "met_late"
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
            reopened = [
                (b.name, record)
                for b in lc.deadlines_reopened_by(event)
                if (record := snap.deadlines.get(b.name)) is not None
                and record.status in ("met", "met_late")
                and b.name not in deadlines
            ]
            # Of several deadlines an event may reopen (a case's first result and its
            # re-handling after a return), it reopens the one met last: the one the fact
            # it sends back had met.
            if len(reopened) > 1:
                last = max(r.ended_at or at for _, r in reopened)
                reopened = [(n, r) for n, r in reopened if (r.ended_at or at) == last]
            for name, record in reopened:
                ends[name] = ("open", None)
                deadlines[name] = record.ended("open", None)
        if new_state in lc.terminal_states:
            setters["terminal"] = True
            for name, record in snap.deadlines.items():
                if record.status == "open" and name not in deadlines:
                    ends[name] = ("cancelled", iso(at))
                    deadlines[name] = record.ended("cancelled", at)
        elif snap.terminal:
            # Recorded in a state an earlier definition made final (a case accepted and
            # closed), and leaving it now (reopened): the entity is live again.
            setters["terminal"] = False
        # Batch numbers and deadlines started together (a day's batch, its hand-over):
        # many cases set the same fields and start the same shared records, so they share
        # one (immutable) effects mapping and deadline mapping.
        # Plain recorded values (a batch's hand-over day) are shared with the rest.
        shareable = not ends and bool(setters or deadlines)
        if shareable:
            for value in data.values():
                if value.__class__ not in _PLAIN:
                    shareable = False
                    break
        if shareable:
            key = (
                tuple(setters.items()),
                tuple([(n, id(r)) for n, r in deadlines.items()]) if deadlines else (),
                tuple(data.items()),
            )
            # The memo keeps the records whose ids its keys hold, so an id in a key found
            # names the very record it was made with.
            hit = self._effects_memo.get(key)
            if hit is not None:
                return hit[1], hit[2]
        started_in = tuple(deadlines.values())
        # Kept in the one order of deadlines (due instant, then name), sorted once per
        # shared mapping.
        ordered = in_due_order(deadlines)
        if ordered is not deadlines:
            deadlines = dict(ordered)
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
            self._effects_memo[key] = (started_in, effects, deadlines)
        return effects, deadlines

    def create(
        self,
        lifecycle: str,
        *,
        actor: Actor,
        at: dt.datetime,
        area: str,
        entity_id: str | None = None,
        round_id: str | None = None,
        parent_id: str | None = None,
        category: str | None = None,
        areas: Sequence[str] | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        **fields: Any,
    ) -> Snapshot:
        """Create an entity of any lifecycle the rulebook defines, built-in or the user's.

        The lifecycle is looked up in the round's rulebook (the ledger's default rulebook
        without ``round_id``); only its ``creators`` may create, within their
        jurisdiction over ``area`` (and ``areas``).  ``fields`` become the entity's data,
        checked against the lifecycle's ``fields`` when it declares them.  The inspection's
        own commands (:meth:`create_round`, :meth:`receive_complaint`, :meth:`add_task`,
        :meth:`request_documents`) are conveniences over the same engine that also check
        what their domain asks (the round's state, the hotline window…).

        Args:
            lifecycle: the lifecycle's name, e.g. ``"two_reviewer_acceptance"``.
            actor, at: who creates it, and when (an aware datetime).
            area: the entity's area (its owner's, once assigned).
            entity_id: its id; made up when not given.
            round_id, parent_id: the round it belongs to, and its parent entity.
            category: a category, for counts.
            areas: all its areas, when it has several.
            command_id: makes the creation idempotent.
            late_entry_reason: why it is entered further back than the rulebook allows
                (as for :meth:`fire`).
            fields: its data.

        Returns:
            The stored snapshot.

        Raises:
            EntityNotFoundError: the round or parent does not exist.
            RulebookError: the rulebook has no such lifecycle.
            PermissionDeniedError, PayloadError, AnchorError: as for :meth:`fire`.
        """
        # Long by design: mostly argument checks and the docstring.
        _check_command(entity_id or "-", CREATE, command_id)
        check_id(lifecycle, "lifecycle", entity_id=entity_id or "-", event=CREATE)
        if entity_id is not None:
            check_id(entity_id, "entity_id", entity_id="-", event=CREATE)
        _check_actor(actor, entity_id or "-", CREATE)
        if round_id is not None:
            check_id(round_id, "round_id", entity_id=entity_id or "-", event=CREATE)
            rb = self.rulebook_of(self.get(round_id))
        else:
            rb = self.rulebook
        if parent_id is not None:
            check_id(parent_id, "parent_id", entity_id=entity_id or "-", event=CREATE)
            self.get(parent_id)
        lc = rb.lifecycle(lifecycle)
        made = entity_id or (
            f"{round_id + '/' if round_id else ''}{lc.kind}-{uuid.uuid4().hex[:12]}"
        )
        if lc.fields:
            creation = Transition(CREATE, (lc.initial,), lc.initial, lc.creators, (), lc.fields)
            data: Mapping[str, Any] = check_payload(made, creation, fields)
        else:
            data = _plain(fields)
        ev, snap = self._create(
            entity_id=made,
            lifecycle=lc,
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            parent_id=parent_id,
            category=category,
            data=data,
            areas=areas,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )
        return self._commit_new(ev, snap, command_id, generated=entity_id is None)

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
        late_entry_reason: str | None = None,
    ) -> tuple[Event, Snapshot]:
        # Long by design: creation's checks and the effects shared between entities of one shape.
        check_id(entity_id, "entity_id", event=CREATE)
        if command_id is not None:
            check_id(command_id, "command_id", entity_id=entity_id, event=CREATE)
        _check_actor(actor, entity_id, CREATE)
        if area.__class__ is not str or areas:
            _check_areas(entity_id, area, areas)
        self._check_known_areas(entity_id, CREATE, "areas" if areas else "area", areas or (area,))
        when = as_instant(at, "at")
        kind = lifecycle.kind
        if creators is None:
            creators = lifecycle.creators
        if actor.role not in creators:
            raise PermissionDeniedError(
                entity_id,
                CREATE,
                actor.role,
                actor.area,
                f"only {', '.join(sorted(creators))} may create a {lifecycle.label_en}"
                if creators
                else f"no role may create a {lifecycle.label_en}: its lifecycle "
                f"{lifecycle.name!r} declares no creators",
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
        ordered = in_due_order(records)
        if ordered is not records:
            records = dict(ordered)
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
        recorded = self._recorded_at()
        late = self._late_entry(rb, entity_id, CREATE, when, recorded, late_entry_reason)
        if late is not None:
            # A copy: effects may be shared between entities.
            effects = {**effects, "late_entry": late}
        return _build(
            lifecycle,
            shape,
            effects,
            records,
            entity_id,
            when,
            actor,
            data,
            command_id,
            recorded,
        )

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
