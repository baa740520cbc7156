"""Deadline rules: how a due date follows from an anchor, written the way rules are written.

It is long because a deadline's vocabulary (units, warnings, escalations, pauses,
extensions) and its computation share one set of private helpers, tuned together for
speed.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from ._calendar import ChinaCalendar
from ._checks import MAX_AMOUNT, MAX_YEAR, MIN_YEAR
from ._display import html_table, markdown_table
from ._wording import Lang, wording
from .exceptions import AnchorError, InvalidRuleError, UnitMismatchError

__all__ = [
    "SHANGHAI",
    "Alert",
    "Channel",
    "DailyWindow",
    "DeadlineRule",
    "Due",
    "EarlyWarning",
    "EscalationStep",
    "Extension",
    "IntakeRule",
    "Pause",
    "Unit",
    "as_instant",
]

#: The time zone every deadline of the library is stated in.
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

_date = dt.date
_datetime = dt.datetime
_ONE_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)


class Unit(str, enum.Enum):
    """What a rule counts."""

    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    MONTHS = "months"
    HOURS = "hours"

    def label(self, n: int, lang: Lang = "zh") -> str:
        """Return ``n`` of this unit in words, e.g. ``30个工作日`` or ``30 working days``.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        return wording(lang).count(f"unit.{self.value}", n)


_DAY_UNITS = frozenset({Unit.WORKING_DAYS, Unit.CALENDAR_DAYS, Unit.MONTHS})


def _unit(value: Any, field: str = "unit") -> Unit:
    if isinstance(value, Unit):
        return value
    try:
        return Unit(value)
    except ValueError:
        raise InvalidRuleError(
            field, value, f"unknown unit; use one of {', '.join(u.value for u in Unit)}"
        ) from None


def _whole(value: Any, field: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRuleError(field, value, "must be a whole number")
    if value < minimum:
        raise InvalidRuleError(field, value, f"must be at least {minimum}")
    if value > MAX_AMOUNT:
        raise InvalidRuleError(field, value, f"must be at most {MAX_AMOUNT}")
    return value


def _aware(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, _datetime):
        raise AnchorError(value, f"{field} must be a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise AnchorError(
            value,
            f"{field} is a naive datetime; attach a time zone, e.g. "
            "tzinfo=ZoneInfo('Asia/Shanghai'), so the day it falls on is unambiguous",
        )
    return value


def _pause_start(value: Any) -> dt.datetime:
    return as_instant(value, "pause start")


def _pause_end(value: Any) -> dt.datetime | None:
    return None if value is None else as_instant(value, "pause end")


def _granted_at(value: Any) -> dt.datetime | None:
    return None if value is None else as_instant(value, "granted_at")


def _channel(value: Channel | str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise InvalidRuleError(
            "channel", value, f"unknown channel; use one of {', '.join(c.value for c in Channel)}"
        ) from None


def _channels(value: Iterable[Channel | str]) -> frozenset[Channel]:
    return frozenset(_channel(c) for c in value)


def as_instant(value: Any, field: str = "instant") -> dt.datetime:
    """Return ``value`` as an aware datetime in Asia/Shanghai.

    Raises:
        AnchorError: ``value`` is naive or not a datetime.
    """
    if value.__class__ is _datetime and value.tzinfo is SHANGHAI and value.year <= MAX_YEAR:
        return value  # already what is asked for: the common case on the ledger's hot path
    aware = _aware(value, field)
    if aware.__class__ is not _datetime:
        # pendulum's DateTime and other subclasses are hashed and stored as the plain
        # datetime they stand for.
        aware = _datetime(
            aware.year,
            aware.month,
            aware.day,
            aware.hour,
            aware.minute,
            aware.second,
            aware.microsecond,
            tzinfo=aware.tzinfo,
            fold=aware.fold,
        )
    try:
        out = aware.astimezone(SHANGHAI)
    except OverflowError:
        out = None
    if out is None or not MIN_YEAR <= out.year <= MAX_YEAR:
        raise AnchorError(
            value, f"{field} must fall in the years {MIN_YEAR}–{MAX_YEAR} (Asia/Shanghai)"
        )
    return out


# Building an aware datetime costs over 1 µs, about a quarter of a whole compute(); a
# process meets few distinct last days (a calendar spans decades), so each is built once.
@functools.lru_cache(maxsize=1 << 15)
def _midnight_after(day: dt.date) -> dt.datetime:
    nxt = day + _ONE_DAY
    return _datetime(nxt.year, nxt.month, nxt.day, tzinfo=SHANGHAI)


def _end_of(day: dt.date, closes: dt.time | None) -> dt.datetime:
    if closes is None:
        return _midnight_after(day)
    return _datetime.combine(day, closes, SHANGHAI)


def _start_of(day: dt.date) -> dt.datetime:
    return _datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def _add_months(day: dt.date, n: int) -> dt.date:
    # Civil Code art. 202: the corresponding day of the last month; the month's last day
    # where there is none (01-31 + 1 month -> 02-28/29).
    month0 = day.month - 1 + n
    year = day.year + month0 // 12
    month = month0 % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return _date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# --- alert ladders -------------------------------------------------------------------------

#: The confidence labels (docs/rulebooks.md, "Confidence"): H quoted from a rule or an
#: announcement of the round, M from the same authority's practice, L inferred; ``""``
#: for a value built in code that states none.
CONFIDENCES = ("", "H", "M", "L")


def _check_label(key: str, source: object, confidence: object) -> None:
    """Refuse a source that is not text or a confidence off the scale."""
    if not isinstance(source, str):
        raise InvalidRuleError(f"{key}.source", source, "must be text")
    if confidence not in CONFIDENCES:
        raise InvalidRuleError(f"{key}.confidence", confidence, "use H, M or L")


@attrs.frozen
class EarlyWarning:
    """A warning before the due time: ``before`` units ahead, or a fraction of the period.

    Exactly one of ``before`` and ``fraction`` is given.  A warning never changes the
    deadline and never cancels the work.
    """

    name: str
    before: int | None = None
    unit: Unit | None = attrs.field(default=None, converter=attrs.converters.optional(_unit))
    fraction: float | None = None
    label_zh: str = ""
    source: str = ""
    confidence: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.name:
            raise InvalidRuleError("warnings.name", self.name, "a warning needs a name")
        _check_label(f"warnings.{self.name}", self.source, self.confidence)
        if (self.before is None) == (self.fraction is None):
            raise InvalidRuleError(
                f"warnings.{self.name}", self.before, "give either 'before' or 'fraction'"
            )
        if self.before is not None:
            _whole(self.before, f"warnings.{self.name}.before", minimum=1)
            if self.unit is None:
                raise InvalidRuleError(f"warnings.{self.name}.unit", None, "'before' needs a unit")
        if self.fraction is not None and not (
            isinstance(self.fraction, (int, float)) and 0 < self.fraction < 1
        ):
            raise InvalidRuleError(
                f"warnings.{self.name}.fraction", self.fraction, "must lie strictly between 0 and 1"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the warning as plain data."""
        out: dict[str, Any] = {"name": self.name}
        if self.before is not None:
            out["before"] = self.before
            out["unit"] = self.unit.value if self.unit else None
        else:
            out["fraction"] = self.fraction
        for key in ("label_zh", "source", "confidence"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@attrs.frozen
class EscalationStep:
    """A named step of an escalation ladder, ``after`` units past the due time.

    E.g. a yellow card at the due time, a supervision letter (督办) 10 working days
    later, a summons talk (约谈) after 30.  Escalations never cancel the work.
    ``source`` and ``confidence`` label the step itself where it differs from its
    ladder's (an offset no rule publishes is marked ``L``).
    """

    name: str
    after: int
    unit: Unit = attrs.field(converter=_unit)
    label_zh: str = ""
    source: str = ""
    confidence: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.name:
            raise InvalidRuleError("escalations.name", self.name, "a step needs a name")
        _whole(self.after, f"escalations.{self.name}.after", minimum=0)
        _check_label(f"escalations.{self.name}", self.source, self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """Return the step as plain data."""
        out: dict[str, Any] = {"name": self.name, "after": self.after, "unit": self.unit.value}
        for key in ("label_zh", "source", "confidence"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@attrs.frozen
class Alert:
    """A warning or escalation that falls due at an instant."""

    kind: Literal["warning", "escalation"]
    name: str
    at: dt.datetime
    label_zh: str = ""


# --- pauses and extensions -----------------------------------------------------------------


@attrs.frozen
class Pause:
    """The clock stops at ``start`` and runs again at ``end`` (``None``: still paused).

    For day-based rules the days from the start day up to (not including) the resume day
    are paused: the resume day counts again, so a pause that starts and ends on the same
    day moves nothing.  For hour rules the paused time moves the due time exactly.
    """

    start: dt.datetime = attrs.field(converter=_pause_start)
    end: dt.datetime | None = attrs.field(default=None, converter=_pause_end)
    reason: str = ""

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise AnchorError(self.end, "a pause cannot end before it starts")


@attrs.frozen
class Extension:
    """An extension (延期) granted with a reason: by an amount, or until a day."""

    reason: str
    amount: int | None = None
    unit: Unit | None = attrs.field(default=None, converter=attrs.converters.optional(_unit))
    until: dt.date | None = None
    granted_at: dt.datetime | None = attrs.field(default=None, converter=_granted_at)
    granted_by: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.reason:
            raise InvalidRuleError("extension.reason", self.reason, "an extension needs a reason")
        if (self.amount is None) == (self.until is None):
            raise InvalidRuleError(
                "extension", self.amount, "give either an amount with its unit or 'until'"
            )
        if self.amount is not None:
            _whole(self.amount, "extension.amount", minimum=1)
            if self.unit is None:
                raise InvalidRuleError("extension.unit", None, "an amount needs a unit")
        if self.until is not None and (
            isinstance(self.until, _datetime) or not isinstance(self.until, _date)
        ):
            raise InvalidRuleError("extension.until", self.until, "must be a date")


# --- the rule ------------------------------------------------------------------------------


_PARSE = re.compile(
    r"""^\s*(?P<n>\d+)\s*
    (?P<unit>working\s+days?|work\s*days?|business\s+days?|个?工作日
      |calendar\s+days?|days?|个?自然日|天|日
      |months?|个月|月
      |hours?|个?小时)
    \s*(?P<start>[(（]?\s*(?:含当日|含起算日|including\s+(?:the\s+)?start\s+day|start\s+day\s+counted)\s*[)）]?)?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _unit_of_word(word: str) -> Unit:
    w = word.lower()
    if "工作日" in w or "work" in w or "business" in w:
        return Unit.WORKING_DAYS
    if "月" in w or "month" in w:
        return Unit.MONTHS
    if "小时" in w or "hour" in w:
        return Unit.HOURS
    return Unit.CALENDAR_DAYS


def _warnings(value: Iterable[EarlyWarning]) -> tuple[EarlyWarning, ...]:
    return tuple(value)


def _escalations(value: Iterable[EscalationStep]) -> tuple[EscalationStep, ...]:
    return tuple(value)


def _default_roll(unit: Unit) -> bool:
    return unit in (Unit.CALENDAR_DAYS, Unit.MONTHS)


@attrs.frozen
class DeadlineRule:
    """A deadline rule: an amount of a unit, counted from an anchor the way a rule says.

    The default counting is the Civil Code's (arts. 201–203): the start day is not
    counted; a calendar-day or month period whose last day is a rest day ends on the next
    working day; the last day ends at 24:00 Asia/Shanghai.  Build rules with the
    constructors :meth:`working_days`, :meth:`calendar_days`, :meth:`months`,
    :meth:`hours`, or :meth:`parse`.

    Raises:
        InvalidRuleError: the amount is not a positive whole number, or the options do not
            fit the unit.

    Examples:
        A rectification plan due 30 working days after the feedback of 2021-07-16:

        >>> import datetime as dt
        >>> from inspection_flow import ChinaCalendar, DeadlineRule
        >>> due = DeadlineRule.working_days(30).compute(dt.date(2021, 7, 16), ChinaCalendar())
        >>> due.last_day
        datetime.date(2021, 8, 27)
        >>> DeadlineRule.parse("10个工作日（含当日）").describe("en")
        '10 working days (start day counted)'
    """

    amount: int
    unit: Unit = attrs.field(converter=_unit)
    count_start_day: bool = False
    roll: bool = False
    closes_at: dt.time | None = None
    name: str = ""
    source: str = ""
    confidence: str = ""
    warnings: tuple[EarlyWarning, ...] = attrs.field(default=(), converter=_warnings)
    escalations: tuple[EscalationStep, ...] = attrs.field(default=(), converter=_escalations)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidRuleError("amount", self.amount, "must be a whole number")
        if self.amount == 0:
            raise InvalidRuleError(
                "amount", 0, f"a period of zero {self.unit.value} has no last day"
            )
        if self.amount < 0:
            raise InvalidRuleError(
                "amount", self.amount, "a period cannot be negative; count from the anchor forward"
            )
        if self.amount > MAX_AMOUNT:
            raise InvalidRuleError(
                "amount", self.amount, f"at most {MAX_AMOUNT} {self.unit.value} are allowed"
            )
        for flag in ("count_start_day", "roll"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidRuleError(flag, getattr(self, flag), "must be true or false")
        if self.unit is Unit.HOURS:
            if self.count_start_day:
                raise InvalidRuleError(
                    "count_start_day", True, "hours count from the anchor instant, not a day"
                )
            if self.roll:
                raise InvalidRuleError("roll", True, "an hour period does not roll to a workday")
            if self.closes_at is not None:
                raise InvalidRuleError("closes_at", self.closes_at, "an hour period ends exactly")
        if self.closes_at is not None and not isinstance(self.closes_at, dt.time):
            raise InvalidRuleError("closes_at", self.closes_at, "must be a time of day")
        if self.confidence not in CONFIDENCES:
            raise InvalidRuleError("confidence", self.confidence, "use H, M or L")
        seen: set[str] = set()
        for w in self.warnings:
            if not isinstance(w, EarlyWarning):
                raise InvalidRuleError("warnings", w, "must be EarlyWarning values")
            if w.unit is not None:
                self._check_unit(w.unit, f"warning {w.name!r}")
            if w.name in seen:
                raise InvalidRuleError("warnings", w.name, "names must be unique")
            seen.add(w.name)
        for s in self.escalations:
            if not isinstance(s, EscalationStep):
                raise InvalidRuleError("escalations", s, "must be EscalationStep values")
            self._check_unit(s.unit, f"escalation step {s.name!r}")
            if s.name in seen:
                raise InvalidRuleError("escalations", s.name, "names must be unique")
            seen.add(s.name)

    def _check_unit(self, unit: Unit, what: str) -> None:
        hours_rule = self.unit is Unit.HOURS
        if hours_rule != (unit is Unit.HOURS):
            raise UnitMismatchError(self.unit.value, unit.value, what)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def working_days(
        cls,
        n: int,
        *,
        count_start_day: bool = False,
        roll: bool = False,
        closes_at: dt.time | None = None,
        name: str = "",
        source: str = "",
        confidence: str = "",
        warnings: Iterable[EarlyWarning] = (),
        escalations: Iterable[EscalationStep] = (),
    ) -> DeadlineRule:
        """Return a rule of ``n`` working days (the result is always a working day).

        Args:
            n: the amount, a whole number from 1.
            count_start_day: count the anchor's own day as the first day.
            roll: a last day that is a rest day moves to the next working day.
            closes_at: the last day ends at this time of day instead of 24:00.
            name: the rule's key, e.g. ``plan``.
            source: where the value comes from (a document and article).
            confidence: ``H``, ``M`` or ``L`` (docs/rulebooks.md).
            warnings: early warnings before the due instant.
            escalations: steps after it.

        Raises:
            InvalidRuleError: a value is not acceptable.
        """
        return cls(
            n,
            Unit.WORKING_DAYS,
            count_start_day,
            roll,
            closes_at,
            name,
            source,
            confidence,
            warnings,
            escalations,
        )

    @classmethod
    def calendar_days(
        cls,
        n: int,
        *,
        count_start_day: bool = False,
        roll: bool = True,
        closes_at: dt.time | None = None,
        name: str = "",
        source: str = "",
        confidence: str = "",
        warnings: Iterable[EarlyWarning] = (),
        escalations: Iterable[EscalationStep] = (),
    ) -> DeadlineRule:
        """Return a rule of ``n`` calendar days; by default a rest last day rolls forward.

        Args:
            n: the amount, a whole number from 1.
            count_start_day: count the anchor's own day as the first day.
            roll: a last day that is a rest day moves to the next working day.
            closes_at: the last day ends at this time of day instead of 24:00.
            name: the rule's key, e.g. ``plan``.
            source: where the value comes from (a document and article).
            confidence: ``H``, ``M`` or ``L`` (docs/rulebooks.md).
            warnings: early warnings before the due instant.
            escalations: steps after it.

        Raises:
            InvalidRuleError: a value is not acceptable.
        """
        return cls(
            n,
            Unit.CALENDAR_DAYS,
            count_start_day,
            roll,
            closes_at,
            name,
            source,
            confidence,
            warnings,
            escalations,
        )

    @classmethod
    def months(
        cls,
        n: int,
        *,
        count_start_day: bool = False,
        roll: bool = True,
        closes_at: dt.time | None = None,
        name: str = "",
        source: str = "",
        confidence: str = "",
        warnings: Iterable[EarlyWarning] = (),
        escalations: Iterable[EscalationStep] = (),
    ) -> DeadlineRule:
        """Return a rule of ``n`` months (Civil Code art. 202); a rest last day rolls.

        Args:
            n: the amount, a whole number from 1.
            count_start_day: count the anchor's own day as the first day.
            roll: a last day that is a rest day moves to the next working day.
            closes_at: the last day ends at this time of day instead of 24:00.
            name: the rule's key, e.g. ``plan``.
            source: where the value comes from (a document and article).
            confidence: ``H``, ``M`` or ``L`` (docs/rulebooks.md).
            warnings: early warnings before the due instant.
            escalations: steps after it.

        Raises:
            InvalidRuleError: a value is not acceptable.
        """
        return cls(
            n,
            Unit.MONTHS,
            count_start_day,
            roll,
            closes_at,
            name,
            source,
            confidence,
            warnings,
            escalations,
        )

    @classmethod
    def hours(
        cls,
        n: int,
        *,
        count_start_day: bool = False,
        roll: bool = False,
        closes_at: dt.time | None = None,
        name: str = "",
        source: str = "",
        confidence: str = "",
        warnings: Iterable[EarlyWarning] = (),
        escalations: Iterable[EscalationStep] = (),
    ) -> DeadlineRule:
        """Return a rule of ``n`` hours from the anchor instant.

        ``count_start_day``, ``roll`` and ``closes_at`` are accepted only at their
        defaults: an hour period has no day to count, roll or close; other values raise
        :class:`InvalidRuleError`.  The other arguments are as for :meth:`working_days`.
        """
        return cls(
            n,
            Unit.HOURS,
            count_start_day,
            roll,
            closes_at,
            name,
            source,
            confidence,
            warnings,
            escalations,
        )

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        count_start_day: bool | None = None,
        roll: bool | None = None,
        closes_at: dt.time | None = None,
        name: str = "",
        source: str = "",
        confidence: str = "",
        warnings: Iterable[EarlyWarning] = (),
        escalations: Iterable[EscalationStep] = (),
    ) -> DeadlineRule:
        """Parse a rule as written: ``"30 working days"``, ``"10个工作日（含当日）"``, ``"6个月"``.

        Args:
            text: an amount and a unit, in English or Chinese; ``（含当日）`` counts the
                start day.
            count_start_day: ``None`` (the default) takes it from the text.
            roll: ``None`` (the default) rolls calendar-day and month periods only.
            closes_at, name, source, confidence, warnings, escalations: as for
                :meth:`working_days`.

        Raises:
            InvalidRuleError: the text is not an amount followed by a known unit, or a
                value is not acceptable.
        """
        m = _PARSE.match(text) if isinstance(text, str) else None
        if m is None:
            raise InvalidRuleError(
                "text",
                text,
                "write an amount and a unit, e.g. '30 working days', '21 days', '6 months', "
                "'48 hours', '10个工作日（含当日）'",
            )
        unit = _unit_of_word(m["unit"])
        return cls(
            int(m["n"]),
            unit,
            bool(m["start"]) if count_start_day is None else count_start_day,
            _default_roll(unit) if roll is None else roll,
            closes_at,
            name,
            source,
            confidence,
            warnings,
            escalations,
        )

    # -- plain data -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as plain data (only what differs from the defaults of its unit)."""
        out: dict[str, Any] = {"amount": self.amount, "unit": self.unit.value}
        if self.count_start_day:
            out["count_start_day"] = True
        if self.roll != _default_roll(self.unit):
            out["roll"] = self.roll
        if self.closes_at is not None:
            whole_minute = not (self.closes_at.second or self.closes_at.microsecond)
            out["closes_at"] = self.closes_at.isoformat(
                timespec="minutes" if whole_minute else "auto"
            )
        for key in ("name", "source", "confidence"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.warnings:
            out["warnings"] = [w.to_dict() for w in self.warnings]
        if self.escalations:
            out["escalations"] = [s.to_dict() for s in self.escalations]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadlineRule:
        """Build a rule from plain data, as written by :meth:`to_dict` or a rulebook.

        Raises:
            InvalidRuleError: a key is unknown, missing or of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise InvalidRuleError("rule", data, "must be a table of keys")
        known = {
            "amount",
            "unit",
            "count_start_day",
            "roll",
            "closes_at",
            "name",
            "source",
            "confidence",
            "warnings",
            "escalations",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRuleError(
                unknown[0], data[unknown[0]], f"unknown key; known: {sorted(known)}"
            )
        for key in ("amount", "unit"):
            if key not in data:
                raise InvalidRuleError(key, None, "is required")
        unit = _unit(data["unit"])
        kwargs: dict[str, Any] = {k: data[k] for k in ("name", "source", "confidence") if k in data}
        for key in ("name", "source", "confidence"):
            if key in kwargs and not isinstance(kwargs[key], str):
                raise InvalidRuleError(key, kwargs[key], "must be text")
        kwargs["count_start_day"] = data.get("count_start_day", False)
        kwargs["roll"] = data.get("roll", _default_roll(unit))
        if "closes_at" in data:
            try:
                kwargs["closes_at"] = dt.time.fromisoformat(str(data["closes_at"]))
            except ValueError:
                raise InvalidRuleError("closes_at", data["closes_at"], "write HH:MM") from None
        kwargs["warnings"] = tuple(
            _build(EarlyWarning, w, "warnings") for w in _list(data.get("warnings", []), "warnings")
        )
        kwargs["escalations"] = tuple(
            _build(EscalationStep, s, "escalations")
            for s in _list(data.get("escalations", []), "escalations")
        )
        return cls(data["amount"], unit, **kwargs)

    # -- words ----------------------------------------------------------------------------

    def describe(self, lang: Lang = "zh") -> str:
        """Return the rule in words, e.g. ``30个工作日（不含起算日）``.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        w = wording(lang)
        text = self.unit.label(self.amount, w)
        options: list[str] = []
        if self.unit is not Unit.HOURS:
            counted = "counted" if self.count_start_day else "not_counted"
            options.append(w.text(f"rule.start_day_{counted}"))
        if self.unit in (Unit.CALENDAR_DAYS, Unit.MONTHS):
            options.append(w.text("rule.roll" if self.roll else "rule.no_roll"))
        if not options:
            return text
        joined = w.text("rule.options_sep").join(options)
        return w.text("rule.with_options", rule=text, options=joined)

    # -- computation ----------------------------------------------------------------------

    def compute(
        self,
        anchor: dt.date | dt.datetime,
        calendar: ChinaCalendar,
        *,
        pauses: Sequence[Pause] = (),
        extensions: Sequence[Extension] = (),
    ) -> Due:
        """Compute the due date of this rule from ``anchor`` on ``calendar``.

        Args:
            anchor: the day (a date) or the instant (an aware datetime) the period runs
                from; an instant counts from its day in Asia/Shanghai.
            calendar: the working-day calendar.
            pauses: periods in which the clock stops (inputs, never edits of a date).
            extensions: extensions granted, applied with the pauses in the order they
                happened (an extension by its ``granted_at``; one without it after the
                pauses).

        Returns:
            The :class:`Due`, with its explanation.

        Raises:
            AnchorError: the anchor is naive or of the wrong type.
            CalendarCoverageError: the period reaches into a year without a schedule.
            UnitMismatchError: an extension's unit differs from the rule's.
        """
        # Long by design: the hot path of every deadline: inlined on purpose (see
        # docs/performance.md), each step commented.
        if (
            self.unit is Unit.WORKING_DAYS
            and not pauses
            and not extensions
            and calendar.__class__ is ChinaCalendar
        ):
            # The case a sweep over a ledger repeats a million times; the general path
            # below gives the same Due, and the errors when the period leaves the table.
            day: dt.date | None = None
            if anchor.__class__ is _date:
                day = anchor
            elif (
                isinstance(anchor, _datetime)
                and anchor.__class__ is _datetime
                and anchor.tzinfo is SHANGHAI
            ):
                day = anchor.date()
            period = (
                None
                if day is None
                else calendar._workday_period(day, self.amount, self.count_start_day)
            )
            if period is not None:
                assert day is not None
                first, last, provisional = period
                return _new_due(
                    self,
                    anchor,
                    day,
                    first,
                    last,
                    _end_of(last, self.closes_at),
                    calendar._version,
                    provisional,
                    calendar,
                )
        if pauses or extensions:
            _check_adjustments(pauses, extensions)
        if anchor.__class__ is _date:
            day = anchor
            instant = None
        elif isinstance(anchor, _datetime):
            instant = as_instant(anchor, "anchor")
            day = instant.date()
        elif isinstance(anchor, _date):
            day = _date(anchor.year, anchor.month, anchor.day)
            instant = None
        else:
            raise AnchorError(anchor, "expected a date or a timezone-aware datetime")
        try:
            unit = self.unit
            n = self.amount
            if unit is Unit.WORKING_DAYS:
                first = calendar.next_workday(day if self.count_start_day else day + _ONE_DAY)
                last = calendar.add_workdays(day - _ONE_DAY if self.count_start_day else day, n)
                due_at = _end_of(last, self.closes_at)
            elif unit is Unit.HOURS:
                if instant is None:
                    raise AnchorError(anchor, "an hour period needs an instant, not a day")
                first = day
                due_at = instant + dt.timedelta(hours=n)
                last = (due_at - dt.timedelta(microseconds=1)).date()
                calendar.is_workday(last)  # refuses uncovered years like the day rules do
            else:
                first = day if self.count_start_day else day + _ONE_DAY
                if unit is Unit.CALENDAR_DAYS:
                    last = first + dt.timedelta(days=n - 1)
                else:
                    last = _add_months(day, n)
                    if self.count_start_day:
                        last -= _ONE_DAY
                if self.roll:
                    last = calendar.next_workday(last)
                else:
                    calendar.is_workday(last)
                due_at = _end_of(last, self.closes_at)
            steps: tuple[Adjustment, ...] = ()
            suspended = False
            if pauses or extensions:
                last, due_at, steps, suspended = self._adjust(
                    first, last, due_at, calendar, pauses, extensions
                )
        except OverflowError:
            # Past 9999-12-31, the last day Python's dates hold: no calendar reaches it.
            raise AnchorError(
                anchor, f"{self.unit.label(self.amount, 'en')} from it run past 9999-12-31"
            ) from None
        lo = first if first < day else day
        provisional = calendar.is_provisional(lo, last)
        return Due(
            self,
            anchor,
            day,
            first,
            last,
            due_at,
            calendar.version,
            provisional,
            suspended,
            steps,
            calendar,
        )

    def _period_end(self, first: dt.date) -> dt.date:
        """Return the last day of a calendar-day or month period from ``first``, unrolled."""
        if self.unit is Unit.CALENDAR_DAYS:
            return first + dt.timedelta(days=self.amount - 1)
        day = first if self.count_start_day else first - _ONE_DAY
        end = _add_months(day, self.amount)
        return end - _ONE_DAY if self.count_start_day else end

    def _adjust(
        self,
        first: dt.date,
        last: dt.date,
        due_at: dt.datetime,
        calendar: ChinaCalendar,
        pauses: Sequence[Pause],
        extensions: Sequence[Extension],
    ) -> tuple[dt.date, dt.datetime, tuple[Adjustment, ...], bool]:
        # Long by design: pauses and extensions in the order the Civil Code applies them; split,
        # the shared state would travel through many arguments.
        steps: list[Adjustment] = []
        suspended = False
        # A pause lengthens the period itself and a rest last day rolls only once the
        # period is known (Civil Code art. 203): pauses move the unrolled last day.
        end = self._period_end(first) if self.roll else last
        since = due_at - dt.timedelta(hours=self.amount)  # an hour rule's anchor instant
        for item in _in_order(_merge(pauses), extensions):
            if isinstance(item, Extension):
                last, due_at = self._extend(item, last, due_at, calendar, steps)
                end = last
                continue
            pause = item
            if self.unit is Unit.HOURS:
                if pause.start >= due_at:
                    steps.append(Adjustment("pause", pause.reason, 0, last, pause=pause))
                    continue
                if pause.end is None:
                    suspended = True
                    steps.append(Adjustment("pause", pause.reason, 0, last, pause=pause))
                    continue
                begin = max(pause.start, since)
                moved = pause.end - begin if pause.end > begin else dt.timedelta(0)
                due_at = due_at + moved
                last = (due_at - dt.timedelta(microseconds=1)).date()
                calendar.is_workday(last)
                steps.append(
                    Adjustment(
                        "pause", pause.reason, int(moved.total_seconds() // 3600), last, pause=pause
                    )
                )
                continue
            s_day = pause.start.date()
            if s_day > last:
                steps.append(Adjustment("pause", pause.reason, 0, last, pause=pause))
                continue
            if pause.end is None:
                suspended = True
                steps.append(Adjustment("pause", pause.reason, 0, last, pause=pause))
                continue
            lo = max(s_day, first)
            # Not cut at the last day: a pause that outlasts the period holds the days
            # still to run until the clock runs again on the resume day.
            resume = pause.end.date()
            hi = resume - _ONE_DAY
            if hi < lo:
                steps.append(Adjustment("pause", pause.reason, 0, last, pause=pause))
                continue
            if self.unit is Unit.WORKING_DAYS:
                paused = calendar.workdays_between(lo - _ONE_DAY, hi)
                if paused:
                    last = calendar.add_workdays(last, paused)
            else:
                paused = (hi - lo).days + 1
                # A pause begun after the period ran out, over the days its end rolled
                # across, leaves the resume day at the earliest.
                end = max(end + dt.timedelta(days=paused), resume)
                last = calendar.next_workday(end) if self.roll else end
                calendar.is_workday(last)
            steps.append(Adjustment("pause", pause.reason, paused, last, pause=pause))
            due_at = _end_of(last, self.closes_at)
        return last, due_at, tuple(steps), suspended

    def _extend(
        self,
        ext: Extension,
        last: dt.date,
        due_at: dt.datetime,
        calendar: ChinaCalendar,
        steps: list[Adjustment],
    ) -> tuple[dt.date, dt.datetime]:
        """Apply one extension to the period as it stands; return its last day and due
        instant."""
        if ext.until is not None:
            if ext.until < last and any(step.kind == "pause" for step in steps):
                # Granted while a pause held the clock: counted when the clock ran again,
                # the pause moved the last day past the extension's day, which then
                # moves nothing (an extension never shortens a period).
                steps.append(Adjustment("extension", ext.reason, 0, last, extension=ext))
                return last, due_at
            if ext.until < last:
                raise InvalidRuleError(
                    "extension.until",
                    ext.until,
                    f"is before the current last day {last.isoformat()}; an extension "
                    "cannot shorten a period",
                )
            calendar.is_workday(ext.until)
            last = ext.until
            due_at = _end_of(last, self.closes_at)
            steps.append(Adjustment("extension", ext.reason, 0, last, extension=ext))
            return last, due_at
        assert ext.amount is not None
        assert ext.unit is not None
        if ext.unit is not self.unit:
            raise UnitMismatchError(self.unit.value, ext.unit.value, "extension")
        if self.unit is Unit.HOURS:
            due_at = due_at + dt.timedelta(hours=ext.amount)
            last = (due_at - dt.timedelta(microseconds=1)).date()
            calendar.is_workday(last)
        else:
            if self.unit is Unit.WORKING_DAYS:
                last = calendar.add_workdays(last, ext.amount)
            else:
                if self.unit is Unit.CALENDAR_DAYS:
                    last = last + dt.timedelta(days=ext.amount)
                else:
                    last = _add_months(last, ext.amount)
                last = calendar.next_workday(last) if self.roll else last
                calendar.is_workday(last)
            due_at = _end_of(last, self.closes_at)
        steps.append(Adjustment("extension", ext.reason, ext.amount, last, extension=ext))
        return last, due_at


#: Where an extension granted at no recorded instant falls among the pauses: after them.
_NOT_DATED = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def _in_order(pauses: list[Pause], extensions: Sequence[Extension]) -> list[Pause | Extension]:
    """Return the pauses and extensions in the order they happened: a pause by its start,
    an extension by when it was granted (one with no such instant after every pause); a
    pause and an extension at one instant, the pause first.

    An extension granted before a pause is extended by the pause as the rest of the period
    is: the clock stopped with the extended period running.
    """
    for ext in extensions:
        if not isinstance(ext, Extension):
            raise InvalidRuleError("extensions", ext, "must be Extension values")
    timeline: list[tuple[dt.datetime, int, int, Pause | Extension]] = [
        (p.start, 0, i, p) for i, p in enumerate(pauses)
    ]
    timeline += [(e.granted_at or _NOT_DATED, 1, i, e) for i, e in enumerate(extensions)]
    timeline.sort(key=lambda t: t[:3])
    return [t[3] for t in timeline]


def _check_adjustments(pauses: Any, extensions: Any) -> None:
    """Refuse pauses or extensions that are not lists of :class:`Pause` and
    :class:`Extension` values."""
    for field, value, kind in (("pauses", pauses, Pause), ("extensions", extensions, Extension)):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, kind) for v in value):
            raise InvalidRuleError(field, value, f"must be a list of {kind.__name__} values")


def _merge(pauses: Sequence[Pause]) -> list[Pause]:
    for p in pauses:
        if not isinstance(p, Pause):
            raise InvalidRuleError("pauses", p, "must be Pause values")
    ordered = sorted(pauses, key=lambda p: p.start)
    merged: list[Pause] = []
    for p in ordered:
        if merged:
            prev = merged[-1]
            if prev.end is None:
                continue
            if p.start <= prev.end:
                end = None if p.end is None else max(prev.end, p.end)
                reason = "; ".join(r for r in (prev.reason, p.reason) if r)
                merged[-1] = Pause(prev.start, end, reason)
                continue
        merged.append(p)
    return merged


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise InvalidRuleError(key, value, "must be a list of tables")
    return list(value)


def _build(kind: type[Any], data: Any, key: str) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidRuleError(key, data, "each entry must be a table")
    fields = {a.name for a in attrs.fields(kind)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InvalidRuleError(
            f"{key}.{unknown[0]}", data[unknown[0]], f"unknown key; known: {sorted(fields)}"
        )
    required = [a.name for a in attrs.fields(kind) if a.init and a.default is attrs.NOTHING]
    missing = [name for name in required if name not in data]
    if missing:
        raise InvalidRuleError(
            key, data, f"{missing[0]!r} is required; each entry needs {', '.join(required)}"
        )
    try:
        return kind(**data)
    except TypeError as exc:
        raise InvalidRuleError(key, data, str(exc)) from exc


@attrs.frozen
class Adjustment:
    """A pause or extension applied to a due date, for explanations."""

    kind: Literal["pause", "extension"]
    reason: str
    amount: int
    last_day: dt.date
    pause: Pause | None = None
    extension: Extension | None = None


@attrs.frozen(eq=False)
class Due:
    """A computed due date, with everything needed to reproduce and explain it.

    Attributes:
        rule: the rule.
        anchor: the anchor as given.
        start: the anchor's day in Asia/Shanghai.
        first_day: the first counted day of the period.
        last_day: the last day of the period.
        due_at: the end of the last day (24:00 Asia/Shanghai, or the rule's closing time).
        calendar_version: the calendar's fingerprint.
        provisional: whether the period reaches into a year without a published schedule.
        suspended: whether an open pause holds the clock (the dates are a lower bound).
        adjustments: the pauses and extensions applied, in order.
    """

    rule: DeadlineRule
    anchor: dt.date | dt.datetime
    start: dt.date
    first_day: dt.date
    last_day: dt.date
    due_at: dt.datetime
    calendar_version: str
    provisional: bool
    suspended: bool = False
    adjustments: tuple[Adjustment, ...] = ()
    _calendar: ChinaCalendar | None = attrs.field(default=None, repr=False, alias="calendar")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Due):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        anchor = self.anchor.isoformat()
        flags = "".join(
            f", {flag}"
            for flag, on in (("provisional", self.provisional), ("suspended", self.suspended))
            if on
        )
        return (
            f"<Due {self.rule.describe('en')} from {anchor}: last day "
            f"{self.last_day.isoformat()}, due {self.due_at.isoformat()}{flags}>"
        )

    def _display_rows(self) -> list[tuple[str, str]]:
        return [
            ("rule", self.rule.describe("zh")),
            ("anchor", self.anchor.isoformat()),
            ("first day", self.first_day.isoformat()),
            ("last day", self.last_day.isoformat()),
            ("due at", self.due_at.isoformat()),
            ("provisional", "yes" if self.provisional else "no"),
        ]

    def _repr_html_(self) -> str:
        return html_table("Due", ("", ""), self._display_rows())

    def _repr_markdown_(self) -> str:
        return markdown_table("Due", ("", ""), self._display_rows())

    def _key(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.anchor,
            self.last_day,
            self.due_at,
            self.calendar_version,
            self.provisional,
            self.suspended,
            self.adjustments,
        )

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the due time has passed at ``now`` (an aware datetime)."""
        return as_instant(now, "now") >= self.due_at

    def alerts(self) -> tuple[Alert, ...]:
        """Return the rule's warnings and escalations as instants, in time order."""
        rule = self.rule
        if not rule.warnings and not rule.escalations:
            return ()
        cal = self._require_calendar()
        out: list[Alert] = []
        period_start = (
            as_instant(self.anchor, "anchor")
            if rule.unit is Unit.HOURS
            else _start_of(self.first_day)
        )
        for w in rule.warnings:
            if w.fraction is not None:
                at = period_start + (self.due_at - period_start) * w.fraction
            else:
                assert w.before is not None
                assert w.unit is not None
                at = _shift(self.last_day, self.due_at, -w.before, w.unit, cal, start_of_day=True)
            out.append(Alert("warning", w.name, at, w.label_zh))
        for s in rule.escalations:
            at = (
                self.due_at
                if s.after == 0
                else _shift(self.last_day, self.due_at, s.after, s.unit, cal, start_of_day=False)
            )
            out.append(Alert("escalation", s.name, at, s.label_zh))
        out.sort(key=lambda a: a.at)
        return tuple(out)

    def _require_calendar(self) -> ChinaCalendar:
        if self._calendar is None:
            raise AnchorError(self, "this Due was rebuilt without its calendar")
        return self._calendar

    def to_dict(self) -> dict[str, Any]:
        """Return the due date as plain data (the rule, anchor and results)."""
        anchor = self.anchor
        return {
            "rule": self.rule.to_dict(),
            "anchor": anchor.isoformat(),
            "last_day": self.last_day.isoformat(),
            "due_at": self.due_at.isoformat(),
            "calendar_version": self.calendar_version,
            "provisional": self.provisional,
            "suspended": self.suspended,
        }

    def explain(self, lang: Lang = "zh") -> str:
        """List the steps from the anchor to the due time, in Chinese, English or a
        language given as a wording table.

        Names the holidays skipped, the make-up workdays counted (调休), the weekends
        skipped, the roll to the next working day, pauses, extensions and whether the
        result is provisional.

        Args:
            lang: a registered language code (``"zh"``, ``"en"``, or one added with
                :func:`register_wording`) or a :class:`Wording`.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        from ._explain import explain

        return explain(self, self._require_calendar(), lang)


# attrs' frozen __init__ sets each of a Due's eleven slots by name through
# object.__setattr__, the largest cost of a compute(); the fast path writes the slots
# through their descriptors, about 0.4 µs less a call.  The names are checked here so
# that a changed field list fails at import, not as a half-built Due.
_DUE_FIELDS = (
    "rule",
    "anchor",
    "start",
    "first_day",
    "last_day",
    "due_at",
    "calendar_version",
    "provisional",
    "suspended",
    "adjustments",
    "_calendar",
)
if tuple(a.name for a in attrs.fields(Due)) != _DUE_FIELDS:  # pragma: no cover
    raise ImportError("Due's fields changed; update _DUE_FIELDS and _new_due")
_DUE_SETTERS = tuple(Due.__dict__[name].__set__ for name in _DUE_FIELDS)
_object_new = object.__new__


def _new_due(
    rule: DeadlineRule,
    anchor: dt.date | dt.datetime,
    start: dt.date,
    first_day: dt.date,
    last_day: dt.date,
    due_at: dt.datetime,
    calendar_version: str,
    provisional: bool,
    calendar: ChinaCalendar,
) -> Due:
    """Return ``Due(...)`` of a period with no pauses or extensions."""
    due: Due = _object_new(Due)
    (
        set_rule,
        set_anchor,
        set_start,
        set_first_day,
        set_last_day,
        set_due_at,
        set_calendar_version,
        set_provisional,
        set_suspended,
        set_adjustments,
        set_calendar,
    ) = _DUE_SETTERS
    set_rule(due, rule)
    set_anchor(due, anchor)
    set_start(due, start)
    set_first_day(due, first_day)
    set_last_day(due, last_day)
    set_due_at(due, due_at)
    set_calendar_version(due, calendar_version)
    set_provisional(due, provisional)
    set_suspended(due, False)
    set_adjustments(due, ())
    set_calendar(due, calendar)
    return due


def _shift(
    last: dt.date,
    due_at: dt.datetime,
    n: int,
    unit: Unit,
    cal: ChinaCalendar,
    *,
    start_of_day: bool,
) -> dt.datetime:
    if unit is Unit.HOURS:
        return due_at + dt.timedelta(hours=n)
    if unit is Unit.WORKING_DAYS:
        day = cal.add_workdays(last, n)
    elif unit is Unit.CALENDAR_DAYS:
        day = last + dt.timedelta(days=n)
    else:
        day = _add_months(last, n)
    return _start_of(day) if start_of_day else _end_of(day, None)


# --- daily windows -------------------------------------------------------------------------


class Channel(str, enum.Enum):
    """How a complaint arrived."""

    PHONE = "phone"
    LETTER = "letter"
    MAILBOX = "mailbox"
    EMAIL = "email"
    VISIT = "visit"

    @property
    def label_zh(self) -> str:
        """The channel's Chinese name."""
        return {
            "phone": "电话",
            "letter": "来信",
            "mailbox": "邮政信箱",
            "email": "电子邮件",
            "visit": "来访",
        }[self.value]


@attrs.frozen
class DailyWindow:
    """A daily time-of-day window [opens, closes) in Asia/Shanghai, e.g. 8:00–20:00."""

    opens: dt.time
    closes: dt.time

    def __attrs_post_init__(self) -> None:
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if not isinstance(value, dt.time) or value.tzinfo is not None:
                raise InvalidRuleError(name, value, "must be a plain time of day, e.g. 08:00")
        if not self.opens < self.closes:
            raise InvalidRuleError("closes", self.closes, "must be after 'opens' on the same day")

    def contains(self, instant: dt.datetime) -> bool:
        """Whether ``instant`` (aware) falls inside the window."""
        t = as_instant(instant).time()
        return self.opens <= t < self.closes

    def describe(self) -> str:
        """Return the window as ``08:00–20:00``."""
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


@attrs.frozen
class IntakeRule:
    """Assigns each arriving complaint to the day whose intake it belongs to.

    A call inside the hotline window belongs to that day; a call after it closes
    belongs to the next day's window; a call before it opens, to that day's window.
    Letters, mailbox and other written channels are taken any time and belong to the
    day they arrive.  A day's intake is handed over in the next morning's batch.
    """

    window: DailyWindow = DailyWindow(dt.time(8), dt.time(20))
    windowed_channels: frozenset[Channel] = attrs.field(
        default=frozenset({Channel.PHONE}),
        converter=_channels,
    )

    def intake_day(self, instant: dt.datetime, channel: Channel | str = Channel.PHONE) -> dt.date:
        """Return the day whose intake ``instant`` belongs to.

        Raises:
            AnchorError: the instant is naive.
            InvalidRuleError: the channel is unknown.
        """
        local = as_instant(instant, "received_at")
        if _channel(channel) in self.windowed_channels and local.time() >= self.window.closes:
            return local.date() + _ONE_DAY
        return local.date()

    def batch_day(self, instant: dt.datetime, channel: Channel | str = Channel.PHONE) -> dt.date:
        """Return the day of the hand-over batch that carries ``instant``'s complaint."""
        return self.intake_day(instant, channel) + _ONE_DAY
