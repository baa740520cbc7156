"""Errors raised by inspection_flow.

Every error the library raises on purpose derives from :class:`InspectionFlowError`,
carries the values that caused it as attributes, and says in its message what the
caller can do about it.  Where an error refines a builtin, it subclasses that builtin
too, so ``except LookupError`` keeps working.

The tree::

    InspectionFlowError
    ├── CalendarError
    │   ├── CalendarCoverageError        (LookupError)  a date outside the published schedules
    │   └── CalendarDataError            (ValueError)   a supplied year schedule is inconsistent
    ├── RuleError                        (ValueError)   a deadline rule or its input is wrong
    │   ├── InvalidRuleError                            amount, unit or option not allowed
    │   ├── UnitMismatchError                           working days mixed with hours, etc.
    │   └── AnchorError                                 naive datetime, wrong type of anchor
    ├── RulebookError                    (ValueError)   a rulebook file fails validation (file, key)
    ├── LifecycleError
    │   ├── DefinitionError              (ValueError)   a lifecycle definition is inconsistent
    │   ├── InvalidTransitionError                      event unknown, or not allowed in the state
    │   ├── GuardError                                  a precondition of the event failed
    │   ├── PermissionDeniedError        (PermissionError) role or jurisdiction forbids the event
    │   ├── PayloadError                 (ValueError)   the event's data is missing or malformed
    │   │   └── LateEntryError                          entered long after it happened, no reason
    │   └── ChronologyError              (ValueError)   an event dated before the entity's last fact
    ├── EntityNotFoundError              (LookupError)  no entity with that identifier
    ├── WordingError                     (ValueError)   a wording table is malformed (language, key)
    │   └── UnknownLanguageError         (LookupError)  no wording table for that language
    ├── TableError                       (ValueError)   a 台账 table cannot be written or read
    │   └── TableImportError                            rows to import are bad (each listed)
    └── StoreError                                      the storage failed or holds bad data
        ├── ConcurrencyError                            a stale writer lost an optimistic race
        ├── TamperError                                 the hash chain of stored events is broken
        └── MissingDependencyError       (ImportError)  an optional extra is not installed
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = [
    "AnchorError",
    "CalendarCoverageError",
    "CalendarDataError",
    "CalendarError",
    "ChronologyError",
    "ConcurrencyError",
    "DefinitionError",
    "EntityNotFoundError",
    "GuardError",
    "InspectionFlowError",
    "InvalidRuleError",
    "InvalidTransitionError",
    "LateEntryError",
    "LifecycleError",
    "MissingDependencyError",
    "PayloadError",
    "PermissionDeniedError",
    "RowProblem",
    "RuleError",
    "RulebookError",
    "StoreError",
    "TableError",
    "TableImportError",
    "TamperError",
    "UnitMismatchError",
    "UnknownLanguageError",
    "WordingError",
]


class InspectionFlowError(Exception):
    """Root of every error inspection_flow raises on purpose."""


# --- calendars ---------------------------------------------------------------------------


class CalendarError(InspectionFlowError):
    """A working-day calendar cannot answer."""


class CalendarCoverageError(CalendarError, LookupError):
    """A date falls in a year whose official schedule the calendar does not hold.

    Attributes:
        year: the uncovered year.
        covered: the years the calendar does hold, as ``(first, last)``.
    """

    def __init__(self, year: int, covered: tuple[int, int]) -> None:
        self.year = year
        self.covered = covered
        super().__init__(
            f"No official working-day schedule is known for {year} "
            f"(this calendar covers {covered[0]}–{covered[1]}). "
            f"Either supply the State Council's notice for {year} with "
            f"ChinaCalendar(extra=[YearSchedule({year}, rest_days=..., makeup_workdays=..., "
            f"source=...)]), or opt in to provisional results with "
            f"ChinaCalendar(unpublished='weekends')."
        )


class CalendarDataError(CalendarError, ValueError):
    """A supplied year schedule contradicts itself or the calendar it extends.

    Attributes:
        year: the year of the schedule.
        day: the offending date, if one date is at fault.
        problem: what is wrong, in words.
        file: the year file the schedule was read from, if any.
        key: where in that file, e.g. ``year.2027.workdays[0]``, if one key is at fault.
    """

    def __init__(
        self,
        year: int,
        problem: str,
        day: _dt.date | None = None,
        *,
        file: str | None = None,
        key: str | None = None,
    ) -> None:
        self.year = year
        self.day = day
        self.problem = problem
        self.file = file
        self.key = key
        where = f" ({day.isoformat()})" if day is not None else ""
        place = ""
        if file is not None:
            place = f" in {file}" + (f", at {key}" if key else "")
        super().__init__(f"Schedule for {year}{where}{place}: {problem}")


# --- rules -------------------------------------------------------------------------------


class RuleError(InspectionFlowError, ValueError):
    """A deadline rule, or the input given to it, is not acceptable."""


class InvalidRuleError(RuleError):
    """A rule's amount, unit or option is not allowed.

    Attributes:
        field: the name of the offending field.
        value: the offending value.
    """

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"Deadline rule field {field!r} = {value!r}: {problem}")


class UnitMismatchError(RuleError):
    """Two quantities in different units were combined.

    Attributes:
        expected: the unit the rule counts in.
        got: the unit that was offered.
        what: what carried the wrong unit (a warning, an extension, …).
    """

    def __init__(self, expected: str, got: str, what: str) -> None:
        self.expected = expected
        self.got = got
        self.what = what
        super().__init__(
            f"The {what} is in {got} but the rule counts {expected}; "
            f"state the {what} in {expected} so the two are never mixed."
        )


class AnchorError(RuleError):
    """The anchor (start) of a computation is not a usable date or instant.

    Attributes:
        value: the offending anchor.
    """

    def __init__(self, value: Any, problem: str) -> None:
        self.value = value
        self.problem = problem
        super().__init__(f"Anchor {value!r}: {problem}")


class RulebookError(InspectionFlowError, ValueError):
    """A rulebook fails validation.

    Attributes:
        source: the file (or name) of the rulebook.
        key: the dotted key at fault, e.g. ``deadlines.plan_due.unit``.
        problem: what is wrong, in words.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: [{key}] {problem}")


# --- lifecycles --------------------------------------------------------------------------


class LifecycleError(InspectionFlowError):
    """A command on an entity's lifecycle is refused."""


class DefinitionError(LifecycleError, ValueError):
    """A lifecycle definition is inconsistent.

    Attributes:
        lifecycle: the name of the definition.
        key: the part at fault (a state, event or rule name).
    """

    def __init__(self, lifecycle: str, key: str, problem: str) -> None:
        self.lifecycle = lifecycle
        self.key = key
        self.problem = problem
        where = f"Lifecycle {lifecycle!r}, {key}" if lifecycle != "-" else key
        super().__init__(f"{where}: {problem}")


class InvalidTransitionError(LifecycleError):
    """The event is not allowed in the entity's current state, or is no event at all.

    Attributes:
        entity_id, state, event: the refused command.
        allowed: the events allowed in this state.
        unknown: whether the lifecycle has no event of that name at all (a misspelling).
        suggestions: events of the lifecycle whose names are close to ``event``.
    """

    def __init__(
        self,
        entity_id: str,
        state: str,
        event: str,
        allowed: Sequence[str],
        *,
        unknown: bool = False,
        suggestions: Sequence[str] = (),
    ) -> None:
        self.entity_id = entity_id
        self.state = state
        self.event = event
        self.allowed = tuple(allowed)
        self.unknown = unknown
        self.suggestions = tuple(suggestions)
        hint = ", ".join(self.allowed) if self.allowed else "none: the state is final"
        if unknown:
            guess = (
                f"did you mean {' or '.join(repr(s) for s in self.suggestions)}? "
                if self.suggestions
                else ""
            )
            message = f"{entity_id}: {event!r} is an unknown event; {guess}Allowed now: {hint}."
        else:
            message = (
                f"{entity_id} is '{state}'; '{event}' is not possible now. Allowed now: {hint}."
            )
        super().__init__(message)


class GuardError(LifecycleError):
    """A precondition of the event failed.

    Attributes:
        entity_id, event: the refused command.
        guard: the name of the failed precondition.
        reason: why it failed, in words.
    """

    def __init__(self, entity_id: str, event: str, guard: str, reason: str) -> None:
        self.entity_id = entity_id
        self.event = event
        self.guard = guard
        self.reason = reason
        super().__init__(f"{entity_id}: '{event}' refused ({guard}): {reason}")


class PermissionDeniedError(LifecycleError, PermissionError):
    """The actor's role or jurisdiction does not allow the event.

    Attributes:
        entity_id, event: the refused command.
        role, area: the actor.
        reason: why, in words.
    """

    def __init__(self, entity_id: str, event: str, role: str, area: str, reason: str) -> None:
        self.entity_id = entity_id
        self.event = event
        self.role = role
        self.area = area
        self.reason = reason
        super().__init__(f"{entity_id}: '{event}' by {role} of {area} refused: {reason}")


class PayloadError(LifecycleError, ValueError):
    """The data given with an event is missing or malformed.

    Attributes:
        entity_id, event: the refused command.
        field: the offending field.
    """

    def __init__(self, entity_id: str, event: str, field: str, problem: str) -> None:
        self.entity_id = entity_id
        self.event = event
        self.field = field
        self.problem = problem
        super().__init__(f"{entity_id}: '{event}' field {field!r}: {problem}")


class LateEntryError(PayloadError):
    """A fact entered further back than the rulebook's ``[recording] backdate_limit``
    allows, without a reason.

    Attributes:
        entity_id, event: the refused command.
        at: when the fact happened; recorded_at: when it is being entered.
        limit: the limit, in words (e.g. ``3个工作日``).
    """

    def __init__(
        self,
        entity_id: str,
        event: str,
        at: _dt.datetime,
        recorded_at: _dt.datetime,
        limit: str,
    ) -> None:
        self.at = at
        self.recorded_at = recorded_at
        self.limit = limit
        super().__init__(
            entity_id,
            event,
            "late_entry_reason",
            f"it happened at {at.isoformat()} and is entered at {recorded_at.isoformat()}, "
            f"further back than the rulebook allows without a reason ({limit}); give "
            "late_entry_reason='…' (e.g. a paper record entered late) to enter it",
        )


class ChronologyError(LifecycleError, ValueError):
    """An event is dated before the entity's latest fact (its latest event other than the
    ledger's own alerts, which never stop an earlier fact being entered).

    Attributes:
        entity_id: the entity.
        at: the refused instant.
        latest: when the entity's latest fact happened.
    """

    def __init__(self, entity_id: str, at: _dt.datetime, latest: _dt.datetime) -> None:
        self.entity_id = entity_id
        self.at = at
        self.latest = latest
        super().__init__(
            f"{entity_id}: an event at {at.isoformat()} would precede its latest fact, at "
            f"{latest.isoformat()}; what happened is entered in the order it happened."
        )


class EntityNotFoundError(InspectionFlowError, LookupError):
    """No entity has the identifier.

    Attributes:
        entity_id: the identifier that was looked up.
        kind: the kind of entity looked for (``round``), or empty for any.
        known: identifiers of that kind the ledger does hold, when they were listed.
    """

    def __init__(self, entity_id: str, kind: str = "", known: Sequence[str] = ()) -> None:
        self.entity_id = entity_id
        self.kind = kind
        self.known = tuple(known)
        if kind:
            held = (
                f"; its {kind}s: {', '.join(self.known)}" if self.known else f"; it has no {kind}"
            )
            super().__init__(f"No {kind} {entity_id!r} in this ledger{held}.")
        else:
            super().__init__(f"No entity {entity_id!r} in this ledger.")


# --- wording -----------------------------------------------------------------------------


class WordingError(InspectionFlowError, ValueError):
    """A wording table holds a key or a template the library cannot use.

    Attributes:
        lang: the language code of the table.
        key: the message key at fault (empty when the table as a whole is).
        problem: what is wrong, in words.
    """

    def __init__(self, lang: str, key: str, problem: str) -> None:
        self.lang = lang
        self.key = key
        self.problem = problem
        where = f", {key!r}" if key else ""
        super().__init__(f"Wording {lang!r}{where}: {problem}")


class UnknownLanguageError(WordingError, LookupError):
    """No wording table is registered for a language.

    Attributes:
        lang: the language asked for.
        known: the registered language codes.
    """

    def __init__(self, lang: str, known: Sequence[str]) -> None:
        self.known = tuple(known)
        super().__init__(
            lang,
            "",
            f"no wording table for this language; use one of {', '.join(self.known)}, "
            "register one with register_wording(code, {...}), or pass a Wording",
        )


# --- stores ------------------------------------------------------------------------------


class StoreError(InspectionFlowError):
    """The storage failed or holds data that cannot be read."""


class ConcurrencyError(StoreError):
    """Another writer appended to the entity first; nothing was written.

    Attributes:
        entity_id: the entity.
        expected: the version the writer expected.
        actual: the version found in the store.
    """

    def __init__(self, entity_id: str, expected: int, actual: int) -> None:
        self.entity_id = entity_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{entity_id}: expected version {expected} but the store holds {actual}; "
            f"reload the entity and retry the command."
        )


class TamperError(StoreError):
    """The hash chain of an entity's stored events is broken.

    Attributes:
        entity_id: the entity.
        version: the first event whose hash does not match.
    """

    def __init__(self, entity_id: str, version: int, problem: str) -> None:
        self.entity_id = entity_id
        self.version = version
        self.problem = problem
        super().__init__(f"{entity_id} event {version}: {problem}")


class MissingDependencyError(StoreError, ImportError):
    """An optional extra is needed but not installed.

    Attributes:
        extra: the extra that provides the dependency.
    """

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'inspection-flow[{extra}]'"
        )


# --- tables (台账 files) -------------------------------------------------------------------


class TableError(InspectionFlowError, ValueError):
    """A 台账 table cannot be written or read: unknown kind, unreadable file, no header.

    Attributes:
        path: the file, or ``"-"``.
        problem: what is wrong.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class RowProblem(NamedTuple):
    """One bad cell or row of a table to import: where it is and why it is refused."""

    sheet: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}"
        if self.column:
            where += f", column {self.column}"
        shown = f" ({self.value!r})" if self.value else ""
        return f"{where}{shown}: {self.reason}"


class TableImportError(TableError):
    """Rows of a table to import are bad; nothing was imported.

    Attributes:
        path: the file.
        problems: every bad row found, in row order (sheet, row, column, value, reason).
    """

    def __init__(self, path: str, problems: Sequence[RowProblem]) -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"\n  … and {more} more"
        super().__init__(
            path,
            f"{len(self.problems)} bad row(s), nothing was imported; correct them, or import "
            f"the good rows with skip_bad (--skip-bad REJECTS):\n{shown}",
        )
