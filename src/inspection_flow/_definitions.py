"""Lifecycle definitions: states, transitions, roles, guards and deadline bindings as data.

A :class:`Lifecycle` is immutable and shared by every entity that follows it; an
entity's current state lives in its own record.  Each definition builds one shared
``transitions`` machine, without models, the first time it is asked what may happen.
The machine decides which event may fire from which state and where it leads; its
answers are kept in a table that every later question reads, so no per-entity machine,
model registration or trigger is ever made.

It is long because a definition's validation is kept beside the definition it checks.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from ._checks import MAX_WHOLE, check_id, check_text, shown
from ._guards import DERIVATIONS, GUARDS
from ._wording import Lang, wording
from .exceptions import DefinitionError, InvalidTransitionError, PayloadError

__all__ = ["CREATE", "DeadlineBinding", "Field", "Lifecycle", "State", "Transition"]

_log = logging.getLogger(__name__)

FieldType = Literal[
    "str",
    "int",
    "count",
    "decimal",
    "bool",
    "date",
    "datetime",
    "list",
    "dict",
    "choice",
    "area",
    "areas",
]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class State:
    """A state of a lifecycle, with its Chinese and English labels.

    ``terminal`` states end the entity's life (no event leaves them).  ``counts_as``
    says how rates count an entity in the state: ``"open"`` (still to be done),
    ``"closed"`` (done: closed, accepted, filed…) or ``"excluded"`` (outside what is
    rated: passed on, a duplicate, split into others).

    ``outlives_round`` marks an open state in which an entity does not keep its round
    from closing: it stays tracked after the round is closed and archived (a task kept
    up for the long term, 长期坚持, with its yearly milestones).
    """

    name: str
    label_zh: str
    label_en: str
    terminal: bool = False
    counts_as: Literal["open", "closed", "excluded"] = "open"
    outlives_round: bool = False


@attrs.frozen
class Field:
    """A field of an event's payload: its name, type, whether required, its choices.

    ``labels_zh`` gives choices their Chinese labels (``{"substantiated": "属实"}``);
    a label is accepted as input wherever its choice is, and the choice is recorded.

    Numbers: ``int`` is a whole number from 1 (a batch, a count of problems); ``count``
    is a whole number from 0 (家, 件, 人 counted in a briefing, where none is a fact);
    ``decimal`` is a non-negative amount with at most four places after the point (罚款
    in 万元), recorded as its decimal text (``"12.5"``) so that no reader rounds it.
    """

    name: str
    type: FieldType = "str"
    required: bool = True
    choices: tuple[str, ...] = ()
    label_zh: str = ""
    labels_zh: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)


@attrs.frozen
class Transition:
    """An event that moves an entity from one of ``sources`` to ``target``.

    ``target`` ``None`` records the event without changing the state (an activity such
    as a meeting, or a pause of a clock).  ``roles`` may fire it; ``guards`` name
    preconditions (registered with :func:`register_guard`); ``fields`` describe its
    payload, and ``field_index`` is a read-only mapping of them by name.

    What the event records besides its payload is declared too:

    - ``records``: which payload fields become the entity's data, as ``(field, key)``
      pairs; by default every field does when the state changes, none otherwise.
    - ``records_actor``: a data key set to the actor who fires the event (e.g.
      ``claimed_by``, so a guard can later refuse the same unit, 谁验收、谁负责).
    - ``marks``: constant data set by the event (e.g. ``{"key_case": True}``).
    - ``assigns``: a field of type ``area`` or ``areas`` that becomes the entity's owner
      area(s); or several such fields, whose areas together (in order, without repeats)
      become them — a field left out adds none (a task's lead county and the other
      counties it spans).
    - ``sets_batch``: a whole-number field that becomes the entity's batch number.
    - ``clock``: ``"pause"``, ``"resume"`` or ``"extend"``: the event works on the
      running clock of the deadline named by its ``deadline`` field.
    - ``extends``: a deadline this event moves to the date in its ``until`` field; or
      several, of which it moves the first the entity has (a task's plan deadline, or
      its deadline of rectification on the spot).
    - ``derive``: a registered derivation (:func:`register_derivation`) adding data
      worked out from the payload.
    """

    event: str
    sources: tuple[str, ...]
    target: str | None
    roles: frozenset[str]
    guards: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    label_zh: str = ""
    label_en: str = ""
    records: tuple[tuple[str, str], ...] | None = None
    records_actor: str | None = None
    marks: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    assigns: str | tuple[str, ...] | None = None
    sets_batch: str | None = None
    clock: Literal["pause", "resume", "extend"] | None = None
    extends: str | tuple[str, ...] | None = None
    derive: str | None = None
    field_index: Mapping[str, Field] = attrs.field(init=False, repr=False, eq=False)
    # The plain dict behind ``field_index``, read on every payload check.
    _by_name: dict[str, Field] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "field_index", MappingProxyType(by_name))


@attrs.frozen
class DeadlineBinding:
    """A deadline started by an event and met by others.

    Args:
        name: the deadline's name on the entity, e.g. ``result_due``.
        rule: the rulebook key of its :class:`DeadlineRule` (its amount, or for a
            ``date_field`` deadline its warning and escalation ladder).
        starts_on: the event that starts the clock, at the event's instant
            (``"create"``: the entity's creation); empty when ``on_enter`` is given.
        met_by: events that meet the deadline.
        cancelled_by: events that drop it (e.g. a case passed on).
        date_field: a payload field that holds the last day itself (a task's own
            rectification deadline); the rule then supplies only the ladders.  When the
            field is optional and left out (a station-in whose announcement gives no end
            date), the rule computes the last day as for a deadline without one.
        kind: ``"due"`` for something someone must do by then (overdue afterwards);
            ``"period"`` for the end of a span (station-in, public notice), which is never
            overdue and never counted among due items.
        reopened_by: events that open a met deadline again, its stored day unchanged
            (a task sent back to rectification after its completion was claimed); of
            several deadlines one event may reopen, it reopens the one met last.
        rule_optional: a rulebook may leave the rule out (a rulebook written before the
            deadline existed); the event that starts it must then give ``date_field``.
    """

    name: str
    rule: str
    starts_on: str
    met_by: frozenset[str]
    cancelled_by: frozenset[str] = frozenset()
    date_field: str | None = None
    label_zh: str = ""
    label_en: str = ""
    on_enter: str | None = None
    kind: Literal["due", "period"] = "due"
    reopened_by: frozenset[str] = frozenset()
    rule_optional: bool = False


#: The pseudo-event of an entity's creation, which a deadline may start on.
CREATE = "create"

# Serialises the first use of each definition, so concurrent first steps build one machine.
_BUILD_LOCK = threading.Lock()


@attrs.frozen
class Lifecycle:
    """An immutable lifecycle definition, validated when built.

    Raises:
        DefinitionError: unknown states or roles, unreachable states, transitions out of
            a terminal state, deadlines on events that do not exist, and the like.
    """

    name: str
    kind: str
    label_zh: str
    label_en: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    deadlines: tuple[DeadlineBinding, ...] = ()
    roles: frozenset[str] = frozenset()
    creators: frozenset[str] = frozenset()
    fields: tuple[Field, ...] = ()
    # The shared machine's answers, filled when it is built: for each (state, event) it
    # allows, the transition and the state it leads to; for each state, its events.
    _decided: dict[tuple[str, str], tuple[Transition, str]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )
    _by_state: dict[str, tuple[str, ...]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )
    _state_index: dict[str, State] = attrs.field(init=False, repr=False, eq=False, factory=dict)
    _engine: list[Any] = attrs.field(init=False, repr=False, eq=False, factory=list)
    _starts: dict[str, tuple[DeadlineBinding, ...]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )
    _ends: dict[str, tuple[tuple[DeadlineBinding, bool], ...]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )
    _reopens: dict[str, tuple[DeadlineBinding, ...]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )
    terminal_states: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Long by design: every check of a definition, in the order each relies on the one before
        # (states, transitions, reachability, deadlines).
        names = [s.name for s in self.states]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise DefinitionError(self.name, f"state {dup!r}", "is defined twice")
        self._state_index.update({s.name: s for s in self.states})
        object.__setattr__(
            self, "terminal_states", frozenset(s.name for s in self.states if s.terminal)
        )
        if self.initial not in self._state_index:
            raise DefinitionError(self.name, "initial", f"unknown state {self.initial!r}")
        if self.roles:
            unknown_creators = sorted(self.creators - self.roles)
            if unknown_creators:
                raise DefinitionError(
                    self.name, "creators", f"unknown role {unknown_creators[0]!r}"
                )
        # The definition's own pairs, for checking it; which event may fire where at run
        # time is the shared machine's answer (see _build_machine).
        defined: dict[tuple[str, str], Transition] = {}
        for t in self.transitions:
            self._check_declarations(t)
            if not t.sources:
                raise DefinitionError(self.name, f"event {t.event!r}", "has no source state")
            for s in (*t.sources, *((t.target,) if t.target else ())):
                if s not in self._state_index:
                    raise DefinitionError(self.name, f"event {t.event!r}", f"unknown state {s!r}")
            for s in t.sources:
                if self._state_index[s].terminal:
                    raise DefinitionError(
                        self.name, f"event {t.event!r}", f"leaves the terminal state {s!r}"
                    )
                if (s, t.event) in defined:
                    raise DefinitionError(
                        self.name, f"event {t.event!r}", f"is defined twice from {s!r}"
                    )
                defined[(s, t.event)] = t
            if self.roles:
                unknown = sorted(t.roles - self.roles)
                if unknown:
                    raise DefinitionError(
                        self.name, f"event {t.event!r}", f"unknown role {unknown[0]!r}"
                    )
            if not t.roles:
                raise DefinitionError(self.name, f"event {t.event!r}", "no role may fire it")
        reachable = {self.initial}
        frontier = [self.initial]
        while frontier:
            s = frontier.pop()
            for (src, _), t in defined.items():
                if src == s and t.target and t.target not in reachable:
                    reachable.add(t.target)
                    frontier.append(t.target)
        unreachable = [n for n in names if n not in reachable]
        if unreachable:
            raise DefinitionError(
                self.name, f"state {unreachable[0]!r}", "cannot be reached from the initial state"
            )
        events = {t.event for t in self.transitions} | {CREATE}
        # Every state is reachable by now, so a deadline on entering a known state can
        # always start: no separate "cannot be entered" check is needed.
        seen: set[str] = set()
        starts: dict[str, list[DeadlineBinding]] = {}
        ends: dict[str, list[tuple[DeadlineBinding, bool]]] = {}
        reopens: dict[str, list[DeadlineBinding]] = {}
        for d in self.deadlines:
            if d.name in seen:
                raise DefinitionError(self.name, f"deadline {d.name!r}", "is defined twice")
            seen.add(d.name)
            if d.on_enter is not None:
                if d.on_enter not in self._state_index:
                    raise DefinitionError(
                        self.name, f"deadline {d.name!r}", f"unknown state {d.on_enter!r}"
                    )
                if self._state_index[d.on_enter].terminal:
                    raise DefinitionError(
                        self.name,
                        f"deadline {d.name!r}",
                        f"state {d.on_enter!r} is terminal: a deadline started there could "
                        "never be met",
                    )
                starters = [t.event for t in self.transitions if t.target == d.on_enter]
                if d.on_enter == self.initial:
                    starters.append(CREATE)
            elif d.starts_on:
                starters = [d.starts_on]
                into = {t.target for t in self.transitions if t.event == d.starts_on}
                if into and all(x is not None and self._state_index[x].terminal for x in into):
                    end = sorted(x for x in into if x is not None)[0]
                    raise DefinitionError(
                        self.name,
                        f"deadline {d.name!r}",
                        f"starts on {d.starts_on!r}, which ends in the terminal state {end!r}: "
                        "the deadline could never be met",
                    )
            else:
                raise DefinitionError(
                    self.name, f"deadline {d.name!r}", "needs 'starts_on' or 'on_enter'"
                )
            for e in starters:
                starts.setdefault(e, []).append(d)
            for e in d.met_by:
                ends.setdefault(e, []).append((d, True))
            for e in d.cancelled_by:
                ends.setdefault(e, []).append((d, False))
            for e in d.reopened_by:
                if e in d.met_by or e in d.cancelled_by:
                    raise DefinitionError(
                        self.name, f"deadline {d.name!r}", f"event {e!r} both ends and reopens it"
                    )
                reopens.setdefault(e, []).append(d)
            for e in (*starters, *d.met_by, *d.cancelled_by, *d.reopened_by):
                if e not in events:
                    raise DefinitionError(
                        self.name, f"deadline {d.name!r}", f"refers to unknown event {e!r}"
                    )
            if d.date_field is not None:
                for e in starters:
                    # A deadline started on creation reads its day from the creation fields.
                    fields = {f.name for t in self.transitions if t.event == e for f in t.fields}
                    if e == CREATE:
                        fields.update(f.name for f in self.fields)
                    if d.date_field not in fields:
                        raise DefinitionError(
                            self.name,
                            f"deadline {d.name!r}",
                            f"event {e!r} has no field {d.date_field!r}",
                        )
        self._starts.update({k: tuple(v) for k, v in starts.items()})
        self._ends.update({k: tuple(v) for k, v in ends.items()})
        self._reopens.update({k: tuple(v) for k, v in reopens.items()})

    def _check_declarations(self, t: Transition) -> None:
        """Refuse guards, derivations and effects that name nothing that exists."""
        where = f"event {t.event!r}"
        for name in t.guards:
            if name not in GUARDS:
                known = ", ".join(sorted(GUARDS)) or "none"
                raise DefinitionError(
                    self.name,
                    where,
                    f"unknown guard {name!r}; register it with register_guard() before "
                    f"building the lifecycle (registered: {known})",
                )
        if t.derive is not None and t.derive not in DERIVATIONS:
            raise DefinitionError(self.name, where, f"unknown derivation {t.derive!r}")
        fields = t.field_index
        assigned = (t.assigns,) if isinstance(t.assigns, str) else (t.assigns or (None,))
        for named, types, what in (
            *((a, ("area", "areas"), "assigns") for a in assigned),
            (t.sets_batch, ("int",), "sets_batch"),
        ):
            if named is not None and (named not in fields or fields[named].type not in types):
                raise DefinitionError(
                    self.name,
                    where,
                    f"{what} names {named!r}, which is not a field of type {' or '.join(types)}",
                )
        for source, _ in t.records or ():
            if source not in fields:
                raise DefinitionError(
                    self.name, where, f"records field {source!r}, which the event does not have"
                )
        if t.clock is not None and "deadline" not in fields:
            raise DefinitionError(self.name, where, "a clock event needs a 'deadline' field")
        if t.extends is not None:
            if "until" not in fields:
                raise DefinitionError(self.name, where, "an extending event needs an 'until' field")
            for extended in (t.extends,) if isinstance(t.extends, str) else t.extends:
                if all(d.name != extended for d in self.deadlines):
                    raise DefinitionError(
                        self.name, where, f"extends {extended!r}, which is not a deadline here"
                    )

    # -- questions ------------------------------------------------------------------------

    def counts_as(self, state: str) -> Literal["open", "closed", "excluded"]:
        """How rates count an entity in ``state`` (``"open"`` for a state not defined)."""
        found = self._state_index.get(state)
        return found.counts_as if found is not None else "open"

    def outlives_round(self, state: str) -> bool:
        """Whether an entity in ``state`` stays tracked after its round closes, and so
        does not keep the round from closing (see :class:`State`)."""
        found = self._state_index.get(state)
        return found is not None and found.outlives_round

    def states_counted_as(self, how: Literal["open", "closed", "excluded"]) -> frozenset[str]:
        """The states counted as ``how`` by rates."""
        return frozenset(s.name for s in self.states if s.counts_as == how)

    def state(self, name: str) -> State:
        """Return the state called ``name``.

        Raises:
            DefinitionError: no such state.
        """
        try:
            return self._state_index[name]
        except KeyError:
            raise DefinitionError(self.name, f"state {name!r}", "is not defined") from None

    @property
    def events(self) -> tuple[str, ...]:
        """Every event of the lifecycle, in definition order, without repeats."""
        return tuple(dict.fromkeys(t.event for t in self.transitions))

    def allowed(self, state: str) -> tuple[str, ...]:
        """Return the events possible in ``state``, in definition order."""
        if not self._engine:
            self._machine()
        return self._by_state.get(state, ())

    def transition(self, state: str, event: str) -> Transition | None:
        """Return the transition of ``event`` from ``state``, or ``None`` if not possible."""
        decided = (self._decided or self._machine()).get((state, event))
        return None if decided is None else decided[0]

    def transitions_of(self, event: str) -> tuple[Transition, ...]:
        """Return every transition named ``event``."""
        return tuple(t for t in self.transitions if t.event == event)

    def deadline(self, name: str) -> DeadlineBinding:
        """Return the deadline binding called ``name``.

        Raises:
            DefinitionError: no such deadline.
        """
        for d in self.deadlines:
            if d.name == name:
                return d
        raise DefinitionError(self.name, f"deadline {name!r}", "is not defined")

    def deadlines_started_by(self, event: str) -> tuple[DeadlineBinding, ...]:
        """Return the deadlines that ``event`` starts (``"create"`` for creation)."""
        return self._starts.get(event, ())

    def deadlines_ended_by(self, event: str) -> tuple[tuple[DeadlineBinding, bool], ...]:
        """Return ``(deadline, met)`` pairs ``event`` ends: met, or cancelled."""
        return self._ends.get(event, ())

    def deadlines_reopened_by(self, event: str) -> tuple[DeadlineBinding, ...]:
        """Return the deadlines that ``event`` opens again once met."""
        return self._reopens.get(event, ())

    def needs_rule(self, binding: DeadlineBinding) -> bool:
        """Whether ``binding`` may need its rulebook rule to compute a last day.

        A deadline without a ``date_field`` always does; one with it does when an event
        that starts it may leave the field out.
        """
        if binding.date_field is None:
            return True
        starters = {e for e, started in self._starts.items() if binding in started}
        optional = any(
            f.name == binding.date_field and not f.required
            for t in self.transitions
            if t.event in starters
            for f in t.fields
        )
        return optional or (
            CREATE in starters
            and any(f.name == binding.date_field and not f.required for f in self.fields)
        )

    def rule_keys(self) -> frozenset[str]:
        """The rulebook keys this lifecycle's deadlines need."""
        return frozenset(d.rule for d in self.deadlines)

    # -- running --------------------------------------------------------------------------

    def _machine(self) -> dict[tuple[str, str], tuple[Transition, str]]:
        """Return the shared machine's answers, building the machine on first use."""
        if not self._engine:
            with _BUILD_LOCK:
                if not self._engine:
                    self._build_machine()
        return self._decided

    def _build_machine(self) -> None:
        from transitions import Machine

        # No model: the machine is asked, never triggered, so it holds no entity's state
        # and needs no lock; and it never logs, since only triggers log.
        machine = Machine(
            model=None,
            states=[s.name for s in self.states],
            initial=self.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        for t in self.transitions:
            machine.add_transition(t.event, list(t.sources), t.target or "=")
        decided: dict[tuple[str, str], tuple[Transition, str]] = {}
        by_state: dict[str, list[str]] = {s.name: [] for s in self.states}
        for t in self.transitions:
            known = machine.events.get(t.event)
            for src in t.sources:
                moves = None if known is None else known.transitions.get(src)
                if not moves:
                    continue
                # An internal move (no destination) stays where it is.
                decided[(src, t.event)] = (t, moves[0].dest or src)
                by_state[src].append(t.event)
        self._by_state.update({k: tuple(v) for k, v in by_state.items()})
        # Published whole, and the machine last: a reader that finds either set finds
        # every answer.
        object.__setattr__(self, "_decided", decided)
        self._engine.append(machine)
        _log.debug(
            "built the transitions machine of lifecycle %r: %d states, %d moves",
            self.name,
            len(self.states),
            len(decided),
        )

    def step(self, entity_id: str, state: str, event: str) -> str:
        """Return the state ``event`` leads to from ``state``, as the shared machine decided.

        Raises:
            InvalidTransitionError: the event is not possible in ``state``.
        """
        decided = (self._decided or self._machine()).get((state, event))
        if decided is None:
            raise self.refusal(entity_id, state, event)
        return decided[1]

    def refusal(self, entity_id: str, state: str, event: str) -> InvalidTransitionError:
        """Return the error refusing ``event`` in ``state``: an unknown event, with the
        events whose names are close to it, or one not possible in that state."""
        allowed = self.allowed(state)
        events = self.events
        if event in events:
            return InvalidTransitionError(entity_id, state, event, allowed)
        close = difflib.get_close_matches(str(event), events, n=2, cutoff=0.6)
        return InvalidTransitionError(
            entity_id, state, event, allowed, unknown=True, suggestions=close
        )

    # -- pictures -------------------------------------------------------------------------

    def mermaid(self, lang: Lang = "zh") -> str:
        """Return the lifecycle as a Mermaid ``stateDiagram-v2``.

        Events that leave the state as it is (meetings, visits, clock events) are listed
        in a note beside each state they may happen in, not drawn as arrows.

        Args:
            lang: a registered language code (``"zh"``, ``"en"``, …) or a :class:`Wording`.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        w = wording(lang)
        lines = ["stateDiagram-v2"]
        for s in self.states:
            label = w.label(f"label.state.{self.name}.{s.name}", s.label_zh, s.label_en)
            lines.append(f'    state "{label}" as {s.name}')
        lines.append(f"    [*] --> {self.initial}")
        activities: dict[str, list[str]] = {}
        for t in self.transitions:
            label = w.label(f"label.event.{self.name}.{t.event}", t.label_zh, t.label_en) or t.event
            for src in t.sources:
                if t.target is None:
                    activities.setdefault(src, []).append(label)
                else:
                    lines.append(f"    {src} --> {t.target}: {label}")
        for s in self.states:
            if s.terminal:
                lines.append(f"    {s.name} --> [*]")
        sep = w.text("diagram.events_sep")
        for s in self.states:
            if s.name in activities:
                note = w.text("diagram.activities", events=sep.join(activities[s.name]))
                lines.append(f"    note right of {s.name}: {note}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid()}\n```"

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        return {
            "text/markdown": self._repr_markdown_(),
            "text/plain": f"Lifecycle({self.name!r}: {len(self.states)} states, "
            f"{len(self.transitions)} transitions)",
        }


def check_payload(
    entity_id: str, transition: Transition, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``payload`` against the transition's fields; return it as plain data.

    Dates and datetimes are normalised to ISO text so events are plain JSON.

    Raises:
        PayloadError: a required field is missing, a field is unknown or has a bad value.
    """
    specs = transition._by_name
    out: dict[str, Any] = {}
    for key, value in payload.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise PayloadError(entity_id, transition.event, key, f"unknown field; known: {known}")
        kind = spec.type
        # Plain text and whole numbers are the common case; check them inline.
        cls = value.__class__
        if (kind == "str" and cls is str and value.strip() and value.isprintable()) or (
            kind == "int" and cls is int and 0 < value <= MAX_WHOLE
        ):
            out[key] = value
        else:
            out[key] = _check_value(entity_id, transition.event, spec, value)
    if len(out) < len(specs):
        for spec in transition.fields:
            if spec.required and spec.name not in out:
                raise PayloadError(entity_id, transition.event, spec.name, "is required")
    return out


#: The places after the point a ``decimal`` field keeps: 0.0001 万元 is one yuan.
DECIMAL_PLACES = 4


def _decimal_text(value: Any, bad: Callable[[str], PayloadError]) -> str:
    """Return a non-negative amount as its plain decimal text (``"12.5"``), or raise.

    The amount is kept as text so that no store or JSON reader rounds it through a float;
    a float is taken as the digits it prints as (``12.5``), which is what was typed.
    """
    cls = value.__class__
    if cls is bool or not isinstance(value, (int, float, str, decimal.Decimal)):
        raise bad(f"{shown(value)} must be an amount such as '12.5'")
    try:
        amount = decimal.Decimal(repr(value) if cls is float else str(value).strip())
    except decimal.InvalidOperation:
        raise bad(f"{shown(value)} must be an amount such as '12.5'") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_WHOLE:
        raise bad(f"{shown(value)} must be an amount from 0 to {MAX_WHOLE}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMAL_PLACES:
        raise bad(f"{shown(value)} has more than {DECIMAL_PLACES} places after the point")
    return format(amount.normalize() if amount else decimal.Decimal(0), "f")


def _check_value(entity_id: str, event: str, spec: Field, value: Any) -> Any:
    def bad(problem: str) -> PayloadError:
        return PayloadError(entity_id, event, spec.name, problem)

    t = spec.type
    if t == "str":
        return check_text(value, spec.name, entity_id=entity_id, event=event)
    if t == "area":
        return check_id(value, spec.name, entity_id=entity_id, event=event)
    if t == "choice":
        if value.__class__ is str and value in spec.choices:
            return value
        for choice, label in spec.labels_zh.items():
            if value == label and choice in spec.choices:
                return choice
        shown_choices = ", ".join(
            f"{c} ({spec.labels_zh[c]})" if c in spec.labels_zh else c for c in spec.choices
        )
        raise bad(f"must be one of {shown_choices}; got {shown(value)}")
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("must be a whole number")
        if not 0 < value <= MAX_WHOLE:
            raise bad(f"{shown(value)} must be from 1 to {MAX_WHOLE}")
        return int(value)
    if t == "count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("must be a whole number (0 when there were none)")
        if not 0 <= value <= MAX_WHOLE:
            raise bad(f"{shown(value)} must be from 0 to {MAX_WHOLE}")
        return int(value)
    if t == "decimal":
        return _decimal_text(value, bad)
    if t == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if t == "date":
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise bad("must be a date YYYY-MM-DD") from None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise bad("must be a date")
        return dt.date(value.year, value.month, value.day).isoformat()
    if t == "datetime":
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise bad("must be an ISO instant with a time zone") from None
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            raise bad("must be a timezone-aware datetime")
        return value.isoformat()
    if t == "list":
        if not isinstance(value, (list, tuple)):
            raise bad("must be a list of text")
        return [check_text(v, spec.name, entity_id=entity_id, event=event) for v in value]
    if t == "areas":
        if not isinstance(value, (list, tuple)) or not value:
            raise bad("must be a non-empty list of area codes")
        return [check_id(v, spec.name, entity_id=entity_id, event=event) for v in value]
    if not isinstance(value, Mapping):
        raise bad("must be a table")
    return dict(value)
