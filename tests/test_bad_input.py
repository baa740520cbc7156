"""Bad input: each case found by hand or by the fuzz test, refused with a library error
that changes nothing; what is hashed is what a store keeps."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pendulum

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib
import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    AnchorError,
    DeadlineRule,
    EventStore,
    InvalidRuleError,
    Ledger,
    MemoryStore,
    PayloadError,
    RulebookError,
    SQLStore,
    load_rulebook,
    parse_rulebook,
)
from inspection_flow._cli import main
from strategies import MEGABYTE_TEXT, OFFICE, TEAM
from test_fuzz import LATER, _fire_args, at, fingerprint, seed
from test_store_contract import needs_postgres

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=[needs_postgres, pytest.mark.postgres]),
]


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A seeded ledger on each backend."""
    store: EventStore
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SQLStore.open(str(tmp_path / "ledger.db"))
    else:
        store = SQLStore.open(request.getfixturevalue("pg_schema_url"))
    with Ledger(store, rulebook="hunan-provincial-2023") as led:
        seed(led)
        yield led


@pytest.mark.parametrize("bad_id", ["a\x00b", MEGABYTE_TEXT, "\ud800", " ", "R\n"])
def test_a_bad_id_is_refused_the_same_way_on_every_backend(ledger: Ledger, bad_id: str) -> None:
    """NUL, megabyte, surrogate and blank ids raise PayloadError on every store alike."""
    before = fingerprint(ledger.store, ())
    with pytest.raises(PayloadError) as info:
        ledger.add_task("R", title="整治", area="430903", actor=TEAM, at=LATER, task_id=bad_id)
    assert info.value.field == "entity_id"
    with pytest.raises(PayloadError):
        ledger.get(bad_id)
    with pytest.raises(PayloadError):
        ledger.fire("R", "hold_meeting", actor=OFFICE, at=LATER, command_id=bad_id)
    assert fingerprint(ledger.store, ()) == before


def test_an_int_actor_name_or_area_is_refused() -> None:
    """An actor's name, area and role must be text: an int is never hashed as a number."""
    with pytest.raises(PayloadError, match="name"):
        Actor("inspection_team", "430000", 42)  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="area"):
        Actor("inspection_team", 430000)  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="actor"):
        Ledger().can("R", "x", None)  # type: ignore[arg-type]


def test_an_int_command_id_is_refused(ledger: Ledger) -> None:
    """A command id must be text; an int would be hashed as a number and read back as text."""
    before = fingerprint(ledger.store, ())
    with pytest.raises(PayloadError, match="command_id"):
        ledger.fire("R", "hold_meeting", actor=TEAM, at=LATER, command_id=7)  # type: ignore[arg-type]
    assert fingerprint(ledger.store, ()) == before


def test_what_is_hashed_is_what_sqlite_keeps(tmp_path: Path) -> None:
    """Events written with every kind of accepted value, read back from SQLite, still verify."""
    path = tmp_path / "ledger.db"
    with Ledger.open(str(path), rulebook="hunan-provincial-2023") as led:
        seed(led)
        actor = Actor("inspection_team", "430000", "第四督察组")
        led.receive_complaint(
            "R",
            channel="letter",
            received_at=pendulum.datetime(2023, 10, 10, 2, tz="UTC"),
            area="430903",
            summary="夜间\n噪声",
            category="noise",
            actor=actor,
            complaint_id="C2",
            command_id="cmd-7",
            floor=3,
            noted={"by": ["甲", "乙"], "level": 1.5},
        )
    with Ledger.open(str(path)) as led:
        assert led.verify().ok
        assert led.history("C2")[0].actor == actor


def test_the_at_column_holds_the_instant_in_shanghai(tmp_path: Path) -> None:
    """An event given in UTC is stored as the same instant written with +08:00, as documented."""
    path = tmp_path / "ledger.db"
    with Ledger.open(str(path), rulebook="hunan-provincial-2023") as led:
        seed(led)
        utc = dt.datetime(2023, 10, 10, 2, tzinfo=dt.timezone.utc)
        led.fire("R", "hold_meeting", actor=TEAM, at=utc, kind="briefing", title="简报会")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (text,) = conn.execute(
            "SELECT at FROM if_events WHERE entity_id = 'R' ORDER BY version DESC LIMIT 1"
        ).fetchone()
    assert text == "2023-10-10T10:00:00+08:00"


@pytest.mark.parametrize(
    "when",
    [
        pendulum.datetime(2023, 10, 10, 10, tz="Asia/Shanghai"),
        pendulum.datetime(2023, 10, 10, 2, tz="UTC"),
    ],
)
def test_pendulum_instants_are_accepted_like_datetimes(ledger: Ledger, when: Any) -> None:
    """An aware pendulum DateTime is accepted wherever an aware datetime is."""
    ev = ledger.fire("R", "hold_meeting", actor=TEAM, at=when, kind="briefing", title="简报会")
    assert ev.at == at("2023-10-10", 10)
    assert ev.at.__class__ is dt.datetime
    ledger.overdue(when)
    ledger.due_within(5, when)
    ledger.sweep(when)


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone.utc),
        dt.datetime(9999, 12, 31, 23, tzinfo=SHANGHAI),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
        pendulum.naive(2023, 10, 10),
        dt.datetime(2023, 10, 10),
    ],
)
def test_instants_near_the_ends_of_time_or_naive_are_refused(ledger: Ledger, when: Any) -> None:
    """An instant near year 1 or 9999, or a naive one, raises AnchorError, not OverflowError."""
    before = fingerprint(ledger.store, ())
    with pytest.raises(AnchorError):
        ledger.fire("R", "hold_meeting", actor=TEAM, at=when, kind="briefing", title="简报会")
    with pytest.raises(AnchorError):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=when,
            area="430903",
            summary="噪声",
            category="noise",
            actor=TEAM,
        )
    assert fingerprint(ledger.store, ()) == before


def test_huge_amounts_are_refused(ledger: Ledger) -> None:
    """Amounts past the documented maximum raise library errors, never OverflowError."""
    with pytest.raises(InvalidRuleError):
        DeadlineRule.calendar_days(10**9)
    with pytest.raises(InvalidRuleError):
        DeadlineRule.parse("999999999 days")
    with pytest.raises(PayloadError):
        ledger.fire(**{**_fire_args(ledger), "amount": 10**9})
    assert main(["due", "2023-09-26", "999999999 days"]) == 2


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("due_within", {"working_days": -1, "now": LATER}),
        ("due_within", {"working_days": "5", "now": LATER}),
        ("overdue", {"now": LATER, "limit": -1}),
        ("sweep", {"now": LATER, "limit": 0}),
        ("find", {"kind": 3}),
        ("find", {"state": None, "colour": "red"}),
        ("counts", {"by": "colour"}),
        ("areas_within", {"area": 430900}),
        ("pending_for_batch", {"round_id": "R", "day": "2023-06-28"}),
    ],
)
def test_bad_queries_are_refused(ledger: Ledger, method: str, kwargs: dict[str, Any]) -> None:
    """Negative limits and windows, unknown or wrong-typed filters raise PayloadError."""
    with pytest.raises(PayloadError):
        getattr(ledger, method)(**kwargs)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"round_type": "surprise", "parent_round": "R"}, "round_type"),
        ({"area": 430100}, "area"),
        ({"actor": None}, "actor"),
    ],
)
def test_create_round_refuses_silently_accepted_values(
    ledger: Ledger, changes: dict[str, Any], field: str
) -> None:
    """Blank round names, unknown round types, int areas and missing actors are refused."""
    kwargs: dict[str, Any] = {"name": "长沙市", "area": "430100", "actor": OFFICE, "at": LATER}
    with pytest.raises(PayloadError) as info:
        ledger.create_round("R2", **{**kwargs, **changes})
    assert info.value.field == field
    assert ledger.find(kind="round") == [ledger.get("R")]


@pytest.mark.parametrize("problems", [0, -3, True, 10**30])
def test_feedback_problem_counts_must_be_positive(ledger: Ledger, problems: Any) -> None:
    """A zero, negative, boolean or huge problem count is refused."""
    fresh = Ledger(rulebook="hunan-provincial-2023")
    fresh.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    fresh.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    fresh.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    fresh.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    fresh.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    with pytest.raises(PayloadError, match="problems"):
        fresh.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26"), problems=problems)


def test_task_categories_of_the_wrong_type_are_refused(ledger: Ledger) -> None:
    """A category that is not text is refused, not looked up."""
    with pytest.raises(PayloadError, match="category"):
        ledger.add_task("R", title="整治", area="430903", actor=TEAM, at=LATER, category=["air"])


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8", bytes(range(256)), b"a = " + b"[" * 5000 + b"]" * 5000],
)
def test_unreadable_rulebook_files_raise_rulebook_error(tmp_path: Path, content: bytes) -> None:
    """Invalid UTF-8, binary and deeply nested files raise RulebookError naming the file."""
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize("value", [None, 3, b"central", MEGABYTE_TEXT, "a\x00b"])
def test_load_rulebook_refuses_what_is_not_a_name_or_path(value: Any) -> None:
    """load_rulebook(None), bytes, ints and impossible paths raise RulebookError."""
    with pytest.raises(RulebookError):
        load_rulebook(value)


def builtin_data() -> dict[str, Any]:
    """The data of the Hunan rulebook, to spoil one value of."""
    text = (
        resources.files("inspection_flow") / "rulebooks" / "hunan-provincial-2023.toml"
    ).read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_a_non_text_area_parent_is_refused() -> None:
    """An area's parent that is not text is an error naming the key, not silently dropped."""
    data = builtin_data()
    data.setdefault("areas", {})["yiyang-datonghu"] = {"name": "大通湖区", "parent": 430900}
    with pytest.raises(RulebookError) as info:
        parse_rulebook(data, "x.toml")
    assert info.value.key == "areas.yiyang-datonghu.parent"


def test_huge_amounts_in_a_rulebook_name_the_key() -> None:
    """A rule of a billion days in a rulebook raises RulebookError naming the deadline."""
    data = builtin_data()
    name = next(iter(data["deadlines"]))
    data["deadlines"][name]["amount"] = 10**9
    with pytest.raises(RulebookError) as info:
        parse_rulebook(data, "x.toml")
    assert info.value.key.startswith(f"deadlines.{name}")
