"""A step applied to many cases at once (fire_many, a day's hand-over) is checked and its
effects worked out once for cases alike: it gives each case exactly what fire() gives it
alone, and refuses the case that differs in what the step depends on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    ChronologyError,
    Field,
    GuardContext,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    LateEntryError,
    Ledger,
    Lifecycle,
    MemoryStore,
    PayloadError,
    PermissionDeniedError,
    SQLStore,
    State,
    Transition,
    load_rulebook,
    register_derivation,
)
from test_recorded import LIMITED

OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
CITY = Actor("owner_unit", "430900", "益阳市")
HESHAN = Actor("owner_unit", "430903", "赫山区")
RECORDED = dt.datetime(2023, 8, 1, 9, tzinfo=SHANGHAI)


class FixedClock:
    """Every event recorded at one instant, so that two ledgers hash alike."""

    def now(self) -> dt.datetime:
        return RECORDED


def at(day: int, hour: int = 9, month: int = 6) -> dt.datetime:
    return dt.datetime(2023, month, day, hour, tzinfo=SHANGHAI)


def row(cid: str, day: int, area: str) -> dict[str, Any]:
    return {
        "channel": "phone",
        "received_at": at(day, 10),
        "area": area,
        "summary": "噪声扰民",
        "category": "noise",
        "complaint_id": cid,
    }


#: Cases of two batches and two counties; the second batch's time for a result is
#: extended.
CASES = {
    "C0": (27, "430903"),
    "C1": (27, "430903"),
    "C2": (27, "430902"),
    "C3": (29, "430903"),
    "C4": (29, "430902"),
    "C5": (29, "430902"),
}


def populated(store: MemoryStore | SQLStore) -> Ledger:
    """The cases handed over, the second batch's time for a result extended."""
    ledger = Ledger(store, rulebook="hunan-provincial-2023", clock=FixedClock())
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    for day in (27, 29):
        rows = [row(cid, d, area) for cid, (d, area) in CASES.items() if d == day]
        ledger.receive_complaints("R", rows, actor=TEAM)
        ledger.hand_over_batch("R", dt.date(2023, 6, day + 1), actor=TEAM, at=at(day + 1))
    for cid in ("C3", "C4", "C5"):
        ledger.fire(
            cid,
            "grant_extension",
            actor=TEAM,
            at=at(30, 14),
            deadline="result_due",
            reason="涉及多个部门",
            until="2023-07-20",
        )
    return ledger


def assigned(ledger: Ledger, ids: list[str]) -> None:
    """Each case assigned to its own county on 1 July."""
    for cid in ids:
        ledger.fire(cid, "assign", actor=LIAISON, at=at(1, 9, 7), owners=[CASES[cid][1]])


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SQLStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    opened = SQLStore.open(tmp_path / "l.db")
    yield opened
    opened.close()


def test_each_case_gets_what_fire_gives_it_alone(store: MemoryStore | SQLStore) -> None:
    """Cases of two batches and two counties marked repeats at once: each event (hash
    included) and snapshot is the one fire() makes for the case alone, each cancelling
    its own time for a result (the second batch's extended)."""
    ledger = populated(store)
    alone = populated(MemoryStore())
    ids = list(CASES)
    when = at(1, 9, 7)
    events = ledger.fire_many(ids, "mark_duplicate", actor=TEAM, at=when, duplicate_of="Y1")
    expected = [
        alone.fire(i, "mark_duplicate", actor=TEAM, at=when, duplicate_of="Y1") for i in ids
    ]
    assert events == expected
    assert [ledger.get(i).to_dict() for i in ids] == [alone.get(i).to_dict() for i in ids]
    # Ended at the end of the last day: 10 July, and 20 July as extended.
    due = {i: ledger.get(i).deadlines["result_due"].due_at for i in ids}
    assert due == {i: at(21 if CASES[i][0] == 29 else 11, 0, 7) for i in ids}
    assert {ledger.get(i).deadlines["result_due"].status for i in ids} == {"cancelled"}
    assert ledger.verify(deep=True).ok


def test_a_county_case_is_refused_after_cases_of_another(store: MemoryStore | SQLStore) -> None:
    """赫山区 may investigate its own cases: the first case of 资阳区 is refused, though
    cases alike in all else went before it, and nothing is written."""
    ledger = populated(store)
    assigned(ledger, list(CASES))
    before = {i: ledger.get(i).version for i in CASES}
    with pytest.raises(PermissionDeniedError) as refused:
        ledger.fire_many(["C0", "C1", "C2"], "start_investigation", actor=HESHAN, at=at(1, 10, 7))
    assert refused.value.entity_id == "C2"
    assert {i: ledger.get(i).version for i in CASES} == before


def test_a_case_in_another_state_is_refused(store: MemoryStore | SQLStore) -> None:
    """A case not assigned yet cannot be investigated: it is refused after a case alike
    in all but its state."""
    ledger = populated(store)
    assigned(ledger, ["C0"])
    with pytest.raises(InvalidTransitionError) as refused:
        ledger.fire_many(["C0", "C1"], "start_investigation", actor=HESHAN, at=at(1, 10, 7))
    assert refused.value.entity_id == "C1"
    assert ledger.get("C0").state == "assigned"


def test_a_case_with_a_later_fact_is_refused(store: MemoryStore | SQLStore) -> None:
    """The chronology is checked case by case: a case whose latest fact is after the
    command's instant is refused, after a case alike whose facts are all before it."""
    ledger = populated(store)
    with pytest.raises(ChronologyError) as refused:
        ledger.fire_many(
            ["C0", "C3"], "mark_duplicate", actor=TEAM, at=at(30, 12), duplicate_of="Y"
        )
    assert refused.value.entity_id == "C3"
    assert ledger.get("C0").state == "handed_over"


def test_a_guard_is_run_for_every_case(store: MemoryStore | SQLStore) -> None:
    """A guarded step's checks are planned but its guard is run for each case: a case
    whose finding does not allow it is refused after a case alike in all the guard does
    not read."""
    ledger = populated(store)
    assigned(ledger, ["C0", "C1"])
    ledger.fire_many(["C0", "C1"], "start_investigation", actor=HESHAN, at=at(1, 10, 7))
    ledger.fire("C0", "record_finding", actor=HESHAN, at=at(1, 11, 7), finding="substantiated")
    ledger.fire("C1", "record_finding", actor=HESHAN, at=at(1, 11, 7), finding="unsubstantiated")
    with pytest.raises(GuardError) as refused:
        ledger.fire_many(["C0", "C1"], "start_rectification", actor=HESHAN, at=at(1, 14, 7))
    assert refused.value.entity_id == "C1"
    assert ledger.get("C0").state == "verified"


#: The five commands of an import, for the cases of 赫山区: derived data (the mode of an
#: assignment, the level a result goes to), a guarded step, payloads with a list, a
#: choice, text and a count.
IMPORT_STEPS: list[tuple[str, Actor, dict[str, Any]]] = [
    ("assign", LIAISON, {"owners": ["430903"]}),
    ("start_investigation", HESHAN, {}),
    ("record_finding", HESHAN, {"finding": "substantiated", "note": "属实"}),
    ("start_rectification", HESHAN, {}),
    ("report_result", HESHAN, {"summary": "已整改", "rectification_orders": 1}),
]


@pytest.mark.parametrize("how", ["fire_many", "batch"])
def test_an_imports_commands_give_each_case_what_fire_gives_it_alone(
    store: MemoryStore | SQLStore, how: str
) -> None:
    """The five commands of an import applied to the cases of a county, with fire_many
    or one case at a time inside a batch (which keeps what a step came to for the
    batch's later commands): each event (hash included) and snapshot is the one fire()
    makes for the case alone, outside any batch."""
    ledger = populated(store)
    alone = populated(MemoryStore())
    ids = [i for i, (_, area) in CASES.items() if area == "430903"]
    for hour, (event, actor, payload) in enumerate(IMPORT_STEPS, start=9):
        when = at(1, hour, 7)
        if how == "fire_many":
            events = ledger.fire_many(ids, event, actor=actor, at=when, **payload)
        else:
            with ledger.batch():
                events = [ledger.fire(i, event, actor=actor, at=when, **payload) for i in ids]
        expected = [alone.fire(i, event, actor=actor, at=when, **payload) for i in ids]
        assert events == expected, event
    assert {ledger.get(i).data["mode"] for i in ids} == {"single"}
    assert {ledger.get(i).data["result_level"] for i in ids} == {"city"}
    assert [ledger.get(i).to_dict() for i in ids] == [alone.get(i).to_dict() for i in ids]
    assert ledger.verify(deep=True).ok


def _inspected_twice(ctx: GuardContext) -> dict[str, Any]:
    """What the entity records: its own count of sites, doubled."""
    return {"visits": 2 * int(ctx.snapshot.data["sites"])}


register_derivation("step_plans_inspected_twice", _inspected_twice)

#: A lifecycle of one's own, a round's site inspections, whose derivation reads the
#: entity's data: entities alike in all a plan holds differ in what it derives.
SITE_VISIT = Lifecycle(
    name="site_visit",
    kind="site_visit",
    label_zh="现场检查",
    label_en="site visit",
    initial="planned",
    creators=frozenset({"inspection_team"}),
    fields=(Field("sites", "int"),),
    states=(
        State("planned", "已安排", "planned"),
        State("visited", "已检查", "visited", terminal=True),
    ),
    transitions=(
        Transition(
            "visit",
            ("planned",),
            "visited",
            frozenset({"inspection_team"}),
            derive="step_plans_inspected_twice",
        ),
    ),
)


def test_a_derivation_is_worked_out_for_each_case(store: MemoryStore | SQLStore) -> None:
    """Entities of one round, lifecycle, state and area, with no deadline: each records
    what the derivation makes of its own data, not of the first entity's."""
    rulebook = load_rulebook("hunan-provincial-2023").with_lifecycles(SITE_VISIT)
    ledger = Ledger(store, rulebook=rulebook, clock=FixedClock())
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    for n, sites in enumerate((1, 3, 2)):
        ledger.create(
            "site_visit",
            entity_id=f"V{n}",
            round_id="R",
            area="430903",
            actor=TEAM,
            at=at(21),
            sites=sites,
        )
    events = ledger.fire_many(["V0", "V1", "V2"], "visit", actor=TEAM, at=at(22))
    assert [e.effects["data"]["visits"] for e in events] == [2, 6, 4]
    assert [ledger.get(f"V{n}").data["visits"] for n in range(3)] == [2, 6, 4]
    assert ledger.verify(deep=True).ok


def test_a_hand_over_of_two_counties_matches_its_cases_handed_alone(
    store: MemoryStore | SQLStore,
) -> None:
    """A day's hand-over of cases of two counties gives each case the events it gets in
    a hand-over of that case alone."""
    ledger = Ledger(store, rulebook="hunan-provincial-2023", clock=FixedClock())
    ledgers = [
        ledger,
        *(
            Ledger(MemoryStore(), rulebook="hunan-provincial-2023", clock=FixedClock())
            for _ in CASES
        ),
    ]
    for led, cases in zip(ledgers, [list(CASES), *([c] for c in CASES)], strict=True):
        led.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
        led.fire("R", "announce", actor=OFFICE, at=at(20, 10))
        led.fire("R", "station_in", actor=TEAM, at=at(26))
        led.receive_complaints("R", [row(c, 27, CASES[c][1]) for c in cases], actor=TEAM)
        led.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    for one, cid in zip(ledgers[1:], CASES, strict=True):
        assert ledger.history(cid) == one.history(cid)
        assert ledger.get(cid).to_dict() == one.get(cid).to_dict()


class TickingClock:
    """A clock a second later at every reading."""

    def __init__(self) -> None:
        self.now_at = RECORDED

    def now(self) -> dt.datetime:
        self.now_at += dt.timedelta(seconds=1)
        return self.now_at


def test_fire_many_records_its_events_at_one_instant() -> None:
    """Written in one transaction, the events of one fire_many are recorded at one
    instant, read once from the ledger's clock, whatever the number of cases."""
    ledger = populated(MemoryStore())
    clock = TickingClock()
    ledger.clock = clock
    events = ledger.fire_many(
        list(CASES), "mark_duplicate", actor=TEAM, at=at(1, 9, 7), duplicate_of="Y"
    )
    assert {e.recorded_at for e in events} == {clock.now_at}
    assert clock.now_at == RECORDED + dt.timedelta(seconds=1)


# --- a batch's commands, one case at a time --------------------------------------------


def test_a_field_of_another_type_is_checked_again_in_a_batch(
    store: MemoryStore | SQLStore,
) -> None:
    """A count given as 1 and then as True: equal in Python, but a count is no yes-or-no.
    The second command of the batch, on a case alike, is refused as it is alone."""
    ledger = populated(store)
    assigned(ledger, ["C0", "C1"])
    for step in ("start_investigation", "record_finding"):
        extra = {"finding": "substantiated"} if step == "record_finding" else {}
        ledger.fire_many(["C0", "C1"], step, actor=HESHAN, at=at(1, 10, 7), **extra)

    def report(cid: str, orders: object) -> None:
        ledger.fire(
            cid,
            "report_result",
            actor=HESHAN,
            at=at(1, 11, 7),
            summary="已整改",
            rectification_orders=orders,
        )

    with ledger.batch():
        report("C0", 1)
        with pytest.raises(PayloadError):
            report("C1", True)
    assert (ledger.get("C0").state, ledger.get("C1").state) == ("reported", "verified")


def test_an_area_moved_within_a_batch_is_checked_again(store: MemoryStore | SQLStore) -> None:
    """益阳市 starts the investigation of a case of 赫山区; 赫山区 is then registered under
    another city (a wrong parent corrected), and the next case of 赫山区 in the same batch
    is refused: the batch's plans are kept for the areas as they were."""
    ledger = populated(store)
    assigned(ledger, ["C0", "C1"])
    with ledger.batch():
        ledger.fire("C0", "start_investigation", actor=CITY, at=at(1, 10, 7))
        ledger.areas.register("430903", "赫山区", parent="430100")
        with pytest.raises(PermissionDeniedError) as refused:
            ledger.fire("C1", "start_investigation", actor=CITY, at=at(1, 10, 7))
    assert refused.value.entity_id == "C1"
    assert (ledger.get("C0").state, ledger.get("C1").state) == ("investigating", "assigned")


def test_a_list_changed_between_commands_of_a_batch_is_read_again(
    store: MemoryStore | SQLStore,
) -> None:
    """An assignment's owners are a list, planned by its items within a batch: a list the
    caller changes between two commands, or the same codes given as a tuple, assign each
    case as given, and no case holds the caller's list."""
    ledger = populated(store)
    owners = ["430903"]
    with ledger.batch():
        ledger.fire("C0", "assign", actor=LIAISON, at=at(1, 9, 7), owners=owners)
        owners[0] = "430902"
        ledger.fire("C1", "assign", actor=LIAISON, at=at(1, 9, 7), owners=owners)
        ledger.fire("C2", "assign", actor=LIAISON, at=at(1, 9, 7), owners=("430902",))
        ledger.fire("C3", "assign", actor=LIAISON, at=at(1, 9, 7), owners=["430903"])
    owners.append("430921")
    cases = [ledger.get(c) for c in ("C0", "C1", "C2", "C3")]
    assert [c.area for c in cases] == ["430903", "430902", "430902", "430903"]
    assert [c.data["owners"] for c in cases] == [["430903"], ["430902"], ["430902"], ["430903"]]
    alone = populated(MemoryStore())
    for cid, codes in (("C0", ["430903"]), ("C1", ["430902"]), ("C2", ("430902",))):
        alone.fire(cid, "assign", actor=LIAISON, at=at(1, 9, 7), owners=codes)
        assert ledger.history(cid) == alone.history(cid)


class SetClock:
    """A clock the test sets."""

    def __init__(self, instant: dt.datetime) -> None:
        self.instant = instant

    def now(self) -> dt.datetime:
        return self.instant


def limited(store: MemoryStore | SQLStore, tmp_path: Path) -> tuple[Ledger, SetClock]:
    """A round whose rulebook lets facts be entered 3 working days late, with C0 and C1
    of 赫山区 handed over on 06-28, each step recorded on time; and its clock."""
    path = tmp_path / "limited.toml"
    path.write_text(LIMITED, encoding="utf-8")
    clock = SetClock(at(20))
    ledger = Ledger(store, rulebook=load_rulebook(path), clock=clock)
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    clock.instant = at(26, 10)
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    clock.instant = at(27, 12)
    ledger.receive_complaints("R", [row(c, 27, "430903") for c in ("C0", "C1")], actor=TEAM)
    clock.instant = at(28, 10)
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    return ledger, clock


def test_each_command_of_a_batch_reads_the_clock_for_its_late_entry(
    store: MemoryStore | SQLStore, tmp_path: Path
) -> None:
    """Facts may be entered 3 working days late: a repeat of 06-29 marked on 07-04 needs
    no reason; the same command on a case alike, once the clock reads 07-05, is refused
    without one and records it when given."""
    ledger, clock = limited(store, tmp_path)
    with ledger.batch():
        clock.instant = at(4, 20, 7)
        first = ledger.fire("C0", "mark_duplicate", actor=TEAM, at=at(29, 17), duplicate_of="Y")
        clock.instant = at(5, 9, 7)
        with pytest.raises(LateEntryError):
            ledger.fire("C1", "mark_duplicate", actor=TEAM, at=at(29, 17), duplicate_of="Y")
        late = ledger.fire(
            "C1",
            "mark_duplicate",
            actor=TEAM,
            at=at(29, 17),
            duplicate_of="Y",
            late_entry_reason="纸质登记补录",
        )
    assert first.late_entry is None
    assert late.late_entry is not None
    assert late.late_entry["reason"] == "纸质登记补录"
    assert [e.name for e in ledger.history("C1")][-1] == "mark_duplicate"
    assert ledger.verify(deep=True).ok


def test_a_guard_refuses_before_a_late_entry_in_a_batch(
    store: MemoryStore | SQLStore, tmp_path: Path
) -> None:
    """A case whose finding forbids rectification, entered too late without a reason,
    is refused by its guard, as fire() refuses it alone, after a case alike was
    rectified in the same batch."""
    ledger, clock = limited(store, tmp_path)
    clock.instant = at(29, 14)
    ledger.fire_many(["C0", "C1"], "assign", actor=LIAISON, at=at(29, 9), owners=["430903"])
    ledger.fire_many(["C0", "C1"], "start_investigation", actor=HESHAN, at=at(29, 10))
    for cid, finding in (("C0", "substantiated"), ("C1", "unsubstantiated")):
        ledger.fire(cid, "record_finding", actor=HESHAN, at=at(29, 11), finding=finding)
    with ledger.batch():
        clock.instant = at(4, 20, 7)
        ledger.fire("C0", "start_rectification", actor=HESHAN, at=at(29, 17))
        clock.instant = at(5, 9, 7)
        with pytest.raises(GuardError):
            ledger.fire("C1", "start_rectification", actor=HESHAN, at=at(29, 17))
    assert (ledger.get("C0").state, ledger.get("C1").state) == ("rectifying", "verified")


#: Commands a clerk may enter for a case, some refused in some states: the actor, the
#: event and its payload (``None`` for the owners: the case's own county).
COMMANDS: list[tuple[Actor, str, dict[str, Any] | None]] = [
    (LIAISON, "assign", None),
    (HESHAN, "start_investigation", {}),
    (CITY, "start_investigation", {}),
    (HESHAN, "record_finding", {"finding": "substantiated"}),
    (HESHAN, "record_finding", {"finding": "unsubstantiated", "note": "不属实"}),
    (HESHAN, "start_rectification", {}),
    (HESHAN, "report_result", {"summary": "已整改", "rectification_orders": 1}),
    (HESHAN, "report_result", {"summary": "已整改", "rectification_orders": True}),
    (TEAM, "mark_duplicate", {"duplicate_of": "Y1"}),
]

#: A case's way through its handling, each step one of these commands (by index).
WAY = [[0], [1, 2], [3, 4], [5], [6, 7]]


def run(ledger: Ledger, commands: list[tuple[int, int]]) -> list[Any]:
    """Enter the commands in turn; return what each gave: its event, or its refusal."""
    outcomes: list[Any] = []
    ids = list(CASES)
    for case, which in commands:
        actor, event, payload = COMMANDS[which]
        cid = ids[case]
        fields = {"owners": [CASES[cid][1]]} if payload is None else payload
        try:
            outcomes.append(ledger.fire(cid, event, actor=actor, at=at(2, 9, 7), **fields))
        except InspectionFlowError as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    return outcomes


@st.composite
def interleaved(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Cases of one batch and county (and one of another) taken along their way, each
    step a variant drawn for the case, sometimes a repeat marked on the way; the cases'
    commands interleaved."""
    ways: list[list[tuple[int, int]]] = []
    cases = draw(st.permutations([0, 1, 2]))[: draw(st.integers(2, 3))]
    for case in cases:
        way = [(case, draw(st.sampled_from(variants))) for variants in WAY]
        if draw(st.integers(0, 3)) == 0:
            way.insert(draw(st.integers(0, len(way))), (case, 8))
        ways.append(way)
    merged: list[tuple[int, int]] = []
    while any(ways):
        way = draw(st.sampled_from([w for w in ways if w]))
        merged.append(way.pop(0))
    return merged


@given(interleaved())
def test_a_batch_gives_what_its_commands_give_one_by_one(commands: list[tuple[int, int]]) -> None:
    """Any interleaving of the cases' commands, some refused, entered in one batch gives
    each command the event or the refusal it gets entered on its own, and the same
    cases."""
    batched = populated(MemoryStore())
    alone = populated(MemoryStore())
    with batched.batch():
        inside = run(batched, commands)
    assert inside == run(alone, commands)
    assert [batched.get(i).to_dict() for i in CASES] == [alone.get(i).to_dict() for i in CASES]
