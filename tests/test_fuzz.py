"""Fuzzing the public API: wrong-typed and extreme arguments to every public callable and
CLI command raise only library errors, and a refused command leaves the store as it was."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    AreaRegistry,
    ChinaCalendar,
    DeadlineRule,
    EventStore,
    InspectionFlowError,
    Ledger,
    MemoryStore,
    SQLStore,
    Wording,
    load_rulebook,
    parse_rulebook,
    register_wording,
    wording,
)
from inspection_flow._cli import main
from strategies import OFFICE, RECT_OFFICE, TEAM, bad_values, payload_for

D = dt.date
CALENDAR = ChinaCalendar()


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def seed(ledger: Ledger) -> None:
    """A Yiyang round given feedback, a letter waiting for its batch, a task planned."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at("2023-06-27", 10),
        area="430903",
        summary="砂石码头粉尘污染",
        category="air",
        actor=TEAM,
        complaint_id="C",
    )
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=36)
    ledger.add_task(
        "R",
        title="砂石码头整治",
        area="430903",
        actor=RECT_OFFICE,
        at=at("2023-10-09"),
        task_id="T",
    )


def fingerprint(store: EventStore, command_ids: tuple[str, ...]) -> Any:
    """What a refused command must leave unchanged: every entity, its version and chain
    head, its events, and the commands recorded."""
    entities = [(s.entity_id, s.version, s.last_hash, s.state) for s in store.find()]
    events = [len(store.events(e[0])) for e in entities]
    commands = [store.command(c) is not None for c in command_ids]
    return entities, events, commands


class Bench:
    """A seeded ledger on one backend, built again after a call that changed it."""

    def __init__(self, make_store: Callable[[], EventStore]) -> None:
        self.make_store = make_store
        self._ledger: Ledger | None = None

    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.make_store(), rulebook="hunan-provincial-2023")
            seed(self._ledger)
        return self._ledger

    def spoil(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
        self._ledger = None


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """A folder for the SQLite files of this module."""
    path = Path(tempfile.mkdtemp(prefix="if-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def bench(request: pytest.FixtureRequest, folder: Path) -> Iterator[Bench]:
    """A seeded ledger on the memory store and on a SQLite file."""
    counter = iter(range(1_000_000))

    def make() -> EventStore:
        if request.param == "memory":
            return MemoryStore()
        return SQLStore.open(str(folder / f"fuzz-{next(counter)}.db"))

    b = Bench(make)
    yield b
    b.spoil()


COMMANDS = ("cmd-1",)
LATER = at("2023-10-10", 10)


def _fire_args(ledger: Ledger) -> dict[str, Any]:
    payload = payload_for("round", "grant_extension", ledger.get("R"), LATER)
    return {"entity_id": "R", "event": "grant_extension", "actor": OFFICE, "at": LATER, **payload}


#: Ledger methods with arguments that are valid on the seeded ledger.
LEDGER_CALLS: dict[str, Callable[[Ledger], dict[str, Any]]] = {
    "get": lambda _: {"entity_id": "C"},
    "history": lambda _: {"entity_id": "C"},
    "deadlines": lambda _: {"entity_id": "T"},
    "rebuild": lambda _: {"entity_id": "T"},
    "rulebook_of": lambda _: {"entity": "T"},
    "find": lambda _: {
        "kind": "task",
        "round_id": "R",
        "state": "received",
        "area": "430900",
        "batch": 1,
        "category": "air",
        "parent_id": "R",
        "open_only": True,
    },
    "areas_within": lambda _: {"area": "430900"},
    "can": lambda _: {"entity_id": "T", "event": "plan", "actor": RECT_OFFICE, "at": LATER},
    "available": lambda _: {"entity_id": "T", "actor": RECT_OFFICE},
    "overdue": lambda _: {"now": LATER, "kind": "task", "area": "430900", "limit": 5},
    "due_within": lambda _: {"working_days": 5, "now": LATER, "kind": "task", "area": "430900"},
    "counts": lambda _: {"by": "state", "kind": "task", "round_id": "R", "area": "430900"},
    "rates": lambda _: {"now": LATER, "round_id": "R", "area": "430900"},
    "pending_for_batch": lambda _: {"round_id": "R", "day": D(2023, 6, 28)},
    "create_round": lambda _: {
        "round_id": "R2",
        "name": "长沙市",
        "area": "430100",
        "actor": OFFICE,
        "at": LATER,
        "rulebook": "central",
        "parent_round": "R",
        "round_type": "look_back",
        "command_id": "cmd-1",
    },
    "receive_complaint": lambda _: {
        "round_id": "R",
        "channel": "letter",
        "received_at": LATER,
        "area": "430903",
        "summary": "夜间噪声扰民",
        "category": "noise",
        "actor": TEAM,
        "complaint_id": "C2",
        "command_id": "cmd-1",
    },
    "add_task": lambda _: {
        "round_id": "R",
        "title": "黑臭水体治理",
        "area": "430903",
        "actor": RECT_OFFICE,
        "at": LATER,
        "task_id": "T2",
        "category": "water",
        "command_id": "cmd-1",
        "problems": 2,
    },
    "request_documents": lambda _: {
        "round_id": "R",
        "documents": "排污许可台账",
        "area": "430903",
        "actor": TEAM,
        "at": LATER,
        "request_id": "D2",
        "command_id": "cmd-1",
    },
    "fire": _fire_args,
    "hand_over_batch": lambda _: {
        "round_id": "R",
        "day": D(2023, 6, 28),
        "actor": TEAM,
        "at": LATER,
    },
    "split_case": lambda _: {
        "case_id": "C",
        "areas": ["430903", "430902"],
        "actor": TEAM,
        "at": LATER,
    },
    "sweep": lambda _: {"now": LATER, "limit": 5},
    "create": lambda _: {
        "lifecycle": "document_request",
        "actor": TEAM,
        "at": LATER,
        "area": "430903",
        "entity_id": "D3",
        "round_id": "R",
        "command_id": "cmd-1",
        "documents": "排污许可台账",
    },
    "tally": lambda _: {"kind": "task", "round_id": "R", "area": "430900"},
    "verify": lambda _: {"deep": True, "anchor": None},
    "recompute": lambda _: {"entity_id": "T", "actor": OFFICE, "at": LATER, "apply": True},
}


@st.composite
def spoiled(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one or two of its arguments replaced by bad values."""
    names = draw(st.lists(st.sampled_from(sorted(valid)), min_size=1, max_size=2, unique=True))
    return {**valid, **{n: draw(bad_values()) for n in names}}


@pytest.mark.parametrize("method", sorted(LEDGER_CALLS))
@given(data=st.data())
def test_ledger_methods_refuse_bad_input_and_write_nothing(
    bench: Bench, method: str, data: st.DataObject
) -> None:
    """A ledger method given a bad argument raises a library error and writes nothing."""
    ledger = bench.ledger()
    kwargs = data.draw(spoiled(LEDGER_CALLS[method](ledger)))
    before = fingerprint(ledger.store, COMMANDS)
    try:
        getattr(ledger, method)(**kwargs)
    except InspectionFlowError:
        assert fingerprint(ledger.store, COMMANDS) == before
    else:
        if fingerprint(ledger.store, COMMANDS) != before:
            bench.spoil()


#: Callables outside the ledger, with valid arguments.
PLAIN_CALLS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "Actor": (Actor, {"role": "owner_unit", "area": "430903", "name": "赫山区"}),
    "AreaRegistry.register": (
        lambda **kw: AreaRegistry().register(**kw),
        {"code": "yiyang-datonghu", "name": "大通湖区", "parent": "430900"},
    ),
    "AreaRegistry": (
        AreaRegistry,
        {"areas": {"yiyang-datonghu": ("大通湖区", "430900")}},
    ),
    "AreaRegistry.covers": (
        lambda **kw: AreaRegistry().covers(**kw),
        {"outer": "430900", "inner": "430903"},
    ),
    "DeadlineRule": (
        DeadlineRule,
        {
            "amount": 30,
            "unit": "working_days",
            "count_start_day": False,
            "roll": False,
            "closes_at": dt.time(18),
            "name": "plan_due",
        },
    ),
    "DeadlineRule.working_days": (DeadlineRule.working_days, {"n": 30}),
    "DeadlineRule.calendar_days": (DeadlineRule.calendar_days, {"n": 30}),
    "DeadlineRule.months": (DeadlineRule.months, {"n": 6}),
    "DeadlineRule.hours": (DeadlineRule.hours, {"n": 48}),
    "DeadlineRule.parse": (DeadlineRule.parse, {"text": "30 working days"}),
    "DeadlineRule.compute": (
        lambda **kw: DeadlineRule.working_days(30).compute(calendar=CALENDAR, **kw),
        {"anchor": D(2023, 9, 26), "pauses": (), "extensions": ()},
    ),
    "DeadlineRule.from_dict": (
        DeadlineRule.from_dict,
        {"data": {"amount": 30, "unit": "working_days"}},
    ),
    "ChinaCalendar.add_workdays": (CALENDAR.add_workdays, {"d": D(2023, 9, 26), "n": 5}),
    "ChinaCalendar.is_workday": (CALENDAR.is_workday, {"d": D(2023, 9, 26)}),
    "ChinaCalendar.next_workday": (CALENDAR.next_workday, {"d": D(2023, 9, 26)}),
    "ChinaCalendar.previous_workday": (CALENDAR.previous_workday, {"d": D(2023, 9, 26)}),
    "ChinaCalendar.describe": (CALENDAR.describe, {"d": D(2023, 9, 26)}),
    "ChinaCalendar.schedule": (CALENDAR.schedule, {"year": 2023}),
    "ChinaCalendar.workdays_between": (
        CALENDAR.workdays_between,
        {"a": D(2023, 9, 26), "b": D(2023, 10, 26)},
    ),
    "ChinaCalendar.is_provisional": (
        CALENDAR.is_provisional,
        {"a": D(2023, 9, 26), "b": D(2023, 10, 26)},
    ),
    "load_rulebook": (load_rulebook, {"name_or_path": "central"}),
    "parse_rulebook": (parse_rulebook, {"data": {"name": "x"}, "source": "x.toml"}),
    "Due.explain": (
        DeadlineRule.working_days(30).compute(D(2023, 9, 26), CALENDAR).explain,
        {"lang": "en"},
    ),
    "Wording": (
        Wording,
        {"lang": "ug", "texts": {"explain.rule": "Rule: {rule}"}, "fallback": wording("en")},
    ),
    "Wording.override": (wording("zh").override, {"texts": {"explain.rule": "规则为{rule}"}}),
    "wording": (wording, {"lang": "zh"}),
    "Wording.text": (
        lambda key, **kw: wording("en").text(key, **kw),
        {"key": "explain.rule", "rule": "30 working days"},
    ),
    "Wording.count": (
        lambda key, n, **kw: wording("en").count(key, n, **kw),
        {"key": "unit.hours", "n": 1},
    ),
    # Registered under one code only: a random code must never replace Chinese or English.
    "register_wording": (
        lambda **kw: register_wording("x-fuzz", **kw),
        {"texts": {"explain.rule": "Rule: {rule}"}},
    ),
}


@pytest.mark.parametrize("name", sorted(PLAIN_CALLS))
@given(data=st.data())
def test_public_callables_raise_only_library_errors(name: str, data: st.DataObject) -> None:
    """A public callable given a bad argument raises a library error, never a raw one."""
    function, valid = PLAIN_CALLS[name]
    kwargs = data.draw(spoiled(valid))
    with contextlib.suppress(InspectionFlowError):
        function(**kwargs)


def cli_words() -> st.SearchStrategy[str]:
    """Words a careless user may type on the command line."""
    return st.one_of(
        st.sampled_from(
            [
                "",
                "0",
                "-1",
                "999999999 days",
                "999999999 hours",
                "99999999999999999999 months",
                "9999-12-31",
                "0001-01-01",
                "9999-12-31T23:00+00:00",
                "2023-09-26T09:00",
                "a\x00b",
                "\udcff",
                "--count-start-day",
                "--provisional",
                "--as-of",
                "--lang",
                "en",
            ]
        ),
        st.text(max_size=8),
    )


@given(
    command=st.sampled_from(["due", "status", "verify"]),
    words=st.lists(cli_words(), max_size=3),
)
def test_cli_answers_bad_input_with_one_line_and_an_exit_code(
    command: str, words: list[str]
) -> None:
    """A command line with bad words ends with an exit code, never a traceback."""
    argv = [command, *words] if command != "due" else [command, "2023-09-26", *words]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refusing the words
            code = exc.code  # type: ignore[assignment]
    assert isinstance(code, int)
    if code == 2 and err.getvalue().startswith("inspection-flow:"):
        assert err.getvalue().count("\n") == 1
