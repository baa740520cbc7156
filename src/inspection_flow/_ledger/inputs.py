"""Checks of what callers pass the ledger's commands: ids, actors, filters, extra fields."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._areas import Actor
from .._checks import (
    MAX_ID_LENGTH,
    MAX_WHOLE,
    check_id,
    check_text,
    shown,
)
from .._definitions import CREATE
from .._records import (
    Snapshot,
)
from .._rules import Extension, as_instant
from ..exceptions import (
    PayloadError,
)


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
    if isinstance(area, int) and not isinstance(area, bool):
        # A code typed as a number: say how to write it, rather than only that it is wrong.
        raise PayloadError(
            entity_id, CREATE, "area", f"{area} must be text: write the code as '{area}'"
        )
    check_id(area, "area", entity_id=entity_id, event=CREATE)
    if areas is not None:
        if not isinstance(areas, (list, tuple)):
            raise PayloadError(entity_id, CREATE, "areas", "must be a list of area codes")
        for a in areas:
            check_id(a, "areas", entity_id=entity_id, event=CREATE)


def _unknown_area(code: str, suggestions: Sequence[str]) -> str:
    """Say that ``code`` is no area, with the registered areas close to it."""
    guess = f"did you mean {' or '.join(suggestions)}? " if suggestions else ""
    return (
        f"unknown area {code!r}; {guess}An area is a GB/T 2260 code (430903) or a code "
        "registered in the ledger's areas (430971)"
    )


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


def _check_category(entity_id: str | None, category: object) -> str:
    """Return the category's name, given by name or by its Chinese label (大气 is air).

    Raises:
        PayloadError: a pollution category the ledger does not know.
    """
    if category.__class__ is str:
        if category in _CATEGORY_SET:
            return str(category)
        named = _CATEGORY_OF_LABEL.get(str(category))
        if named is not None:
            return named
    known = ", ".join(f"{c} ({CATEGORIES_ZH[c]})" for c in CATEGORIES)
    raise PayloadError(_named(entity_id), CREATE, "category", f"use one of {known}")


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


def _placeholder(kind: str, choices: tuple[str, ...]) -> Any:
    """A valid stand-in for a required field, so ``can`` checks roles and guards alone."""
    if kind == "choice":
        return choices[0]
    return {
        "int": 1,
        "count": 0,
        "decimal": "0",
        "bool": True,
        "date": "2100-01-01",
        "datetime": "2100-01-01T00:00:00+08:00",
        "list": ["-"],
        "areas": ["-"],
        "dict": {},
    }.get(kind, "-")


def _clock_candidate(snap: Snapshot, clock: str) -> str:
    """An open deadline a ``clock`` event could act on: a running one to pause, a paused one to
    resume, any to extend; ``"-"`` when there is none."""
    for name, record in sorted(snap.deadlines.items()):
        if record.status != "open":
            continue
        paused = bool(record.pauses) and record.pauses[-1][1] is None
        if clock == "extend" or paused == (clock == "resume"):
            return name
    return "-"


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


_CATEGORY_SET = frozenset(CATEGORIES)
_CATEGORY_OF_LABEL = {label: name for name, label in CATEGORIES_ZH.items()}


_COUNT_BY = ("state", "area", "batch", "category", "categories", "kind")


_SUM_BY = ("area", "batch")
