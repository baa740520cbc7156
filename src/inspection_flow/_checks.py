"""Checks of the values callers hand in, one helper per kind of value.

Every public entry point checks its arguments here before it reads or writes anything,
so a wrong type or an extreme value becomes a library error, never a raw ``TypeError``
or a driver error, and what is hashed is exactly what a store keeps.  Each helper tests
the common case first with a cheap ``__class__ is`` comparison and only then looks
closer.
"""

from __future__ import annotations

import datetime as dt
import reprlib
from typing import Any

from .exceptions import PayloadError

__all__ = [
    "MAX_AMOUNT",
    "MAX_ID_LENGTH",
    "MAX_WHOLE",
    "MAX_YEAR",
    "MIN_YEAR",
    "check_date",
    "check_id",
    "check_limit",
    "check_text",
    "shown",
]

#: The longest identifier (entity, round, command, area, role) accepted, in characters.
MAX_ID_LENGTH = 200

#: The largest amount of a deadline rule, an extension or a query window, in its unit:
#: far beyond any real period, small enough that no date arithmetic overflows.
MAX_AMOUNT = 10_000

#: The years an instant may fall in: the deadlines of an instant late in the last one still
#: end before the calendar does (year 9999).
MIN_YEAR = 1900
MAX_YEAR = 9000

#: The largest whole number a payload field holds: every JSON reader keeps it exactly.
MAX_WHOLE = 2**53 - 1

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlevel = 3


def shown(value: Any) -> str:
    """Return a short ``repr`` of ``value`` for a message, however large or deep it is."""
    return _short.repr(value)


def _text_problem(value: Any, *, empty: bool, longest: int | None) -> str | None:
    """Say what is wrong with ``value`` as text, or ``None`` if nothing is."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if not empty and not value.strip():
        return "must be non-empty text"
    if longest is not None and len(value) > longest:
        return f"is {len(value)} characters long; at most {longest} are allowed"
    if "\x00" in value:
        return "contains a NUL character, which no database keeps"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate character, which is not valid Unicode text"
    return None


def check_id(value: Any, field: str, *, entity_id: str = "-", event: str = "-") -> str:
    """Return ``value`` if it is a usable identifier, else raise.

    An identifier is non-empty text of printable characters (no NUL, no control
    character, no lone surrogate), at most :data:`MAX_ID_LENGTH` long; the same rule
    holds on every store.

    Raises:
        PayloadError: ``value`` is not such text; the error names ``field``.
    """
    if (
        value.__class__ is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not value.isspace()
    ):
        return value
    problem = _text_problem(value, empty=False, longest=MAX_ID_LENGTH)
    if problem is None and isinstance(value, str) and not value.isprintable():
        problem = "contains a control or unprintable character"
    if problem is None:
        return str(value)
    raise PayloadError(entity_id, event, field, f"{shown(value)} {problem}")


def check_text(
    value: Any,
    field: str,
    *,
    entity_id: str = "-",
    event: str = "-",
    empty: bool = False,
) -> str:
    """Return ``value`` if it is text a store keeps as given, else raise.

    Text may hold line breaks but no NUL and no lone surrogate; it is non-empty (and not
    only blanks) unless ``empty``.

    Raises:
        PayloadError: ``value`` is not such text; the error names ``field``.
    """
    if value.__class__ is str and value.isprintable() and (empty or value.strip()):
        return value
    problem = _text_problem(value, empty=empty, longest=None)
    if problem is None:
        return str(value)
    raise PayloadError(entity_id, event, field, problem)


def check_limit(
    value: Any, field: str, *, minimum: int = 0, event: str = "-", entity_id: str = "-"
) -> int:
    """Return ``value`` if it is a whole number from ``minimum`` to :data:`MAX_AMOUNT`
    (a count of entities or working days), else raise.

    Raises:
        PayloadError: ``value`` is not such a number.
    """
    if value.__class__ is int and minimum <= value <= MAX_AMOUNT:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        problem = f"{shown(value)} must be a whole number"
    else:
        problem = f"{value} must be from {minimum} to {MAX_AMOUNT}"
    raise PayloadError(entity_id, event, field, problem)


def check_date(value: Any, field: str, *, entity_id: str = "-", event: str = "-") -> dt.date:
    """Return ``value`` if it is a calendar day (a ``date``, not a ``datetime``), else raise.

    Raises:
        PayloadError: ``value`` is not a date.
    """
    if value.__class__ is dt.date:
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise PayloadError(
        entity_id, event, field, f"{shown(value)} must be a date, e.g. datetime.date(2023, 6, 28)"
    )
