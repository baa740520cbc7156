"""Rectification beyond one county and one feedback: tasks spanning counties, tasks rectified
on the spot during the station-in (立行立改), acceptance by the units the rulebook names,
and rounds closed with long-term tasks (长期坚持) still tracked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    GuardError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    RulebookError,
    load_rulebook,
    parse_rulebook,
    status_report,
)
from strategies import ACCEPTOR, LIAISON, OFFICE, RECT_OFFICE, TEAM

D = dt.date
HUNAN = load_rulebook("hunan-provincial-2023")

#: 南洞庭湖 borders three of Yiyang's places: 沅江市, 南县 and 大通湖区.
YUANJIANG, NANXIAN, DATONGHU = "430981", "430921", "430971"
HESHAN = "430903"
#: The document number (文号) of an acceptance.
DOC = "益环督整验〔2024〕3号"


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger under the Hunan rulebook: in memory, in a SQLite file, in PostgreSQL."""
    if request.param == "memory":
        yield Ledger(rulebook=HUNAN)
        return
    if request.param == "sqlite":
        target = str(tmp_path / "tasks.db")
    else:
        target = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(target, rulebook=HUNAN) as durable:
        yield durable


def stationed(ledger: Ledger) -> None:
    """The Yiyang round, stationed on 2023-06-26."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")


def fed_back(ledger: Ledger) -> None:
    """The Yiyang round, given feedback on 2023-09-26."""
    stationed(ledger)
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=36)


def rectifying(ledger: Ledger) -> None:
    """The round's plan submitted, approved and published, and rectification under way."""
    ledger.fire("R", "submit_plan", actor=LIAISON, at=at("2023-10-20"))
    ledger.fire("R", "approve_plan", actor=OFFICE, at=at("2023-10-25"))
    ledger.fire("R", "publish_plan", actor=LIAISON, at=at("2023-10-27"))
    ledger.fire("R", "start_rectification", actor=RECT_OFFICE, at=at("2023-10-30"))


def planned(ledger: Ledger, tid: str, owner: str = HESHAN, **extra: Any) -> None:
    """A task added on 2023-10-09 and planned for ``owner``, due 2024-06-30."""
    ledger.add_task(
        "R", title="整改反馈问题", area=owner, actor=RECT_OFFICE, at=at("2023-10-09"), task_id=tid
    )
    ledger.fire(
        tid,
        "plan",
        actor=RECT_OFFICE,
        at=at("2023-10-09", 10),
        owner=owner,
        measures="按方案整改",
        term="medium",
        deadline="2024-06-30",
        **extra,
    )


# --- a task spanning several counties -------------------------------------------------------


def test_a_task_spanning_counties_is_each_countys(ledger: Ledger) -> None:
    """A task planned for 沅江市 with 南县 and 大通湖区 is found, counted and acted on in each."""
    fed_back(ledger)
    planned(
        ledger,
        "T-LAKE",
        owner=YUANJIANG,
        owners=[NANXIAN, "yiyang-datonghu"],
        lead_unit="益阳市农业农村局",
        milestones=["2023-12-31 清退矮围网围", "2024-03-31 完成生态修复"],
    )
    snap = ledger.get("T-LAKE")
    assert (snap.area, snap.areas) == (YUANJIANG, (YUANJIANG, NANXIAN, "yiyang-datonghu"))
    for area in (YUANJIANG, NANXIAN, DATONGHU, "yiyang-datonghu", "430900"):
        assert [s.entity_id for s in ledger.find(kind="task", area=area)] == ["T-LAKE"]
    assert ledger.find(kind="task", area=HESHAN) == []
    # Counted under each county, once in every other count.
    assert ledger.counts("area", kind="task") == {YUANJIANG: 1, NANXIAN: 1, DATONGHU: 1}
    assert ledger.counts("area", kind="task", area=NANXIAN) == {NANXIAN: 1}
    assert ledger.counts("kind") == {"round": 1, "task": 1}
    assert ledger.tally("task") == {"open": 1, "closed": 0, "excluded": 0}
    # Each county's officers act on the one task; a county it does not span may not.
    ledger.fire("T-LAKE", "start", actor=Actor("owner_unit", NANXIAN, "南县"), at=at("2023-10-10"))
    datonghu = Actor("owner_unit", DATONGHU, "大通湖区")
    ledger.fire("T-LAKE", "meet_milestone", actor=datonghu, at=at("2023-12-20"), milestone=1)
    with pytest.raises(PermissionDeniedError, match="赫山区 has no jurisdiction"):
        ledger.fire(
            "T-LAKE",
            "meet_milestone",
            actor=Actor("owner_unit", HESHAN, "赫山区"),
            at=at("2023-12-21"),
            milestone=2,
        )
    assert ledger.get("T-LAKE").data["milestones_met"] == [1]
    history = ledger.history("T-LAKE")
    assert [e.actor.area for e in history[-2:]] == [NANXIAN, DATONGHU]


def test_a_task_added_over_counties_is_found_there_before_its_plan(ledger: Ledger) -> None:
    """add_task(areas=...) makes the task each county's from the start, its area first."""
    fed_back(ledger)
    snap = ledger.add_task(
        "R",
        title="南洞庭湖违规养殖",
        area=YUANJIANG,
        areas=[NANXIAN, YUANJIANG],
        actor=RECT_OFFICE,
        at=at("2023-10-09"),
        task_id="T-LAKE",
    )
    assert snap.areas == (YUANJIANG, NANXIAN)
    assert [s.entity_id for s in ledger.find(kind="task", area=NANXIAN)] == ["T-LAKE"]
    assert ledger.counts("area", kind="task") == {YUANJIANG: 1, NANXIAN: 1}


COUNTIES = ("430902", "430903", "430921", "430922", "430923", "430981", "430971", "430972")


@settings(max_examples=25, deadline=None)
@given(spans=st.lists(st.lists(st.sampled_from(COUNTIES), min_size=1, max_size=4), max_size=6))
def test_counts_by_area_are_what_find_finds_in_each_area(spans: list[list[str]]) -> None:
    """For any tasks over any counties, the count under a county is the number found there,
    and the count by kind is the number of tasks."""
    ledger = Ledger(rulebook=HUNAN)
    fed_back(ledger)
    for n, counties in enumerate(spans):
        ledger.add_task(
            "R",
            title="跨区县问题",
            area=counties[0],
            areas=counties,
            actor=RECT_OFFICE,
            at=at("2023-10-09"),
            task_id=f"T-{n}",
        )
    by_area = ledger.counts("area", kind="task")
    for county in COUNTIES:
        assert by_area.get(county, 0) == len(ledger.find(kind="task", area=county))
    assert ledger.counts("kind").get("task", 0) == len(spans)
    assert sum(by_area.values()) == sum(len(set(c)) for c in spans)


# --- 立行立改: rectified on the spot during the station-in -----------------------------------


def test_a_problem_found_during_the_station_in_is_rectified_on_the_spot(ledger: Ledger) -> None:
    """A task added during the station-in is rectified on the spot, flagged, with the
    rulebook's deadline: 2023-06-28 + 10 calendar days is Saturday 07-08, so Monday 07-10."""
    stationed(ledger)
    ledger.add_task(
        "R", title="资江河道非法采砂", area=HESHAN, actor=TEAM, at=at("2023-06-28"), task_id="T-NOW"
    )
    event = ledger.fire(
        "T-NOW",
        "rectify_immediately",
        actor=RECT_OFFICE,
        at=at("2023-06-28", 10),
        owner=HESHAN,
        measures="当即拆除采砂设备，恢复河道",
        typical_case=True,
        lead_unit="赫山区水利局",
    )
    assert (event.state_before, event.state_after) == ("identified", "in_progress")
    snap = ledger.get("T-NOW")
    assert snap.data["immediate"] is True
    assert snap.data["typical_case"] is True
    due = snap.deadlines["immediate_due"]
    assert (due.last_day, due.rule["amount"]) == (D(2023, 7, 10), 10)
    assert "rectify_due" not in snap.deadlines
    assert ledger.progress("T-NOW", on=D(2023, 7, 10)) == "on_schedule"
    assert ledger.progress("T-NOW", on=D(2023, 7, 11)) == "behind"
    assert ledger.rates(at("2023-07-11"))["tasks_overdue"] == 1
    assert "逾期未完成立行立改" in status_report(ledger, at("2023-07-11"), round_id="R")


def test_an_on_the_spot_deadline_given_is_kept_and_may_be_extended(ledger: Ledger) -> None:
    """A deadline given with 立行立改 is kept; an approved extension moves it."""
    stationed(ledger)
    ledger.add_task(
        "R", title="码头扬尘", area=HESHAN, actor=TEAM, at=at("2023-06-28"), task_id="T"
    )
    ledger.fire(
        "T",
        "rectify_immediately",
        actor=RECT_OFFICE,
        at=at("2023-06-28", 10),
        owner=HESHAN,
        measures="覆盖裸露堆场",
        deadline="2023-07-05",
    )
    assert ledger.get("T").deadlines["immediate_due"].last_day == D(2023, 7, 5)
    owner = Actor("owner_unit", HESHAN, "赫山区")
    ledger.fire("T", "request_extension", actor=owner, at=at("2023-07-03"), reason="雨季施工")
    ledger.fire(
        "T",
        "approve_extension",
        actor=RECT_OFFICE,
        at=at("2023-07-04"),
        reason="雨季",
        until="2023-07-14",
    )
    assert ledger.get("T").deadlines["immediate_due"].last_day == D(2023, 7, 14)


def test_rectification_on_the_spot_is_for_the_station_in_only(ledger: Ledger) -> None:
    """Once the station-in has ended, 立行立改 is refused and the task is planned instead."""
    stationed(ledger)
    ledger.add_task(
        "R", title="码头扬尘", area=HESHAN, actor=TEAM, at=at("2023-07-10"), task_id="T"
    )
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    before = ledger.get("T")
    with pytest.raises(GuardError) as info:
        ledger.fire(
            "T",
            "rectify_immediately",
            actor=RECT_OFFICE,
            at=at("2023-07-17"),
            owner=HESHAN,
            measures="覆盖",
        )
    assert info.value.guard == "during_station_in"
    assert "'station_in_ended'" in info.value.reason
    assert ledger.get("T") == before


def test_a_rulebook_without_an_on_the_spot_time_asks_for_the_day() -> None:
    """A rulebook written before 立行立改 loads; the event must then give its last day."""
    rules = {k: v for k, v in HUNAN.rules.items() if k != "immediate_rectification"}
    ledger = Ledger(rulebook=attrs.evolve(HUNAN, rules=rules))
    stationed(ledger)
    ledger.add_task(
        "R", title="码头扬尘", area=HESHAN, actor=TEAM, at=at("2023-06-28"), task_id="T"
    )
    with pytest.raises(PayloadError, match=r"sets no time .*immediate_rectification"):
        ledger.fire(
            "T",
            "rectify_immediately",
            actor=RECT_OFFICE,
            at=at("2023-06-28", 10),
            owner=HESHAN,
            measures="覆盖",
        )
    ledger.fire(
        "T",
        "rectify_immediately",
        actor=RECT_OFFICE,
        at=at("2023-06-28", 10),
        owner=HESHAN,
        measures="覆盖",
        deadline="2023-07-07",
    )
    assert ledger.get("T").deadlines["immediate_due"].last_day == D(2023, 7, 7)


# --- acceptance by the units the rulebook names -----------------------------------------------


def claimed(ledger: Ledger, tid: str = "T", owner: str = HESHAN, **extra: Any) -> None:
    """A task planned, started and claimed complete by its owner county."""
    planned(ledger, tid, owner, **extra)
    unit = Actor("owner_unit", owner, ledger.areas.name(owner))
    ledger.fire(tid, "start", actor=unit, at=at("2023-10-10"))
    ledger.fire(tid, "claim_completion", actor=unit, at=at("2024-03-28"), evidence="整改报告")


def test_a_unit_of_the_same_county_may_not_accept(ledger: Ledger) -> None:
    """Another unit of the task's own county, not its lead unit, is refused by name."""
    fed_back(ledger)
    claimed(ledger, lead_unit="赫山区农业农村局")
    before = ledger.get("T")
    with pytest.raises(GuardError) as info:
        ledger.fire(
            "T",
            "start_verification",
            actor=Actor("accepting_unit", HESHAN, "赫山区生态环境分局"),
            at=at("2024-04-01"),
        )
    assert info.value.guard == "acceptor_named"
    assert "赫山区生态环境分局 may not verify or accept" in info.value.reason
    assert (
        "a unit of a level above 赫山区 or the lead unit (牵头单位) 赫山区农业农村局"
        in info.value.reason
    )
    assert ledger.get("T") == before


@pytest.mark.parametrize(
    "acceptor",
    [ACCEPTOR, Actor("accepting_unit", HESHAN, "赫山区农业农村局")],
    ids=["higher_level", "industry_department"],
)
def test_a_higher_level_or_the_lead_unit_accepts(ledger: Ledger, acceptor: Actor) -> None:
    """The city (a level above) or the task's lead unit verifies and signs off."""
    fed_back(ledger)
    claimed(ledger, lead_unit="赫山区农业农村局")
    ledger.fire("T", "start_verification", actor=acceptor, at=at("2024-04-01"))
    ledger.fire("T", "sign_off", actor=acceptor, at=at("2024-04-03"), document_number=DOC)
    snap = ledger.get("T")
    assert snap.state == "signed_off"
    assert snap.data["acceptance_document"] == DOC
    assert snap.data["accepted_on"] == "2024-04-03"
    assert snap.data["accepted_by"] == acceptor.to_dict()


def test_a_county_the_task_spans_is_no_level_above_it(ledger: Ledger) -> None:
    """For a task over 沅江市 and 南县, 沅江市's unit may not accept; the city may."""
    fed_back(ledger)
    claimed(ledger, owner=YUANJIANG, owners=[NANXIAN])
    with pytest.raises(GuardError, match="a level above 沅江市, 南县"):
        ledger.fire(
            "T",
            "start_verification",
            actor=Actor("accepting_unit", YUANJIANG, "沅江市生态环境分局"),
            at=at("2024-04-01"),
        )
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2024-04-01"))


def test_who_accepts_is_a_rulebook_value(tmp_path: Path) -> None:
    """[acceptance] by names the acceptors; without it any accepting unit may accept."""
    lead = Actor("accepting_unit", HESHAN, "赫山区农业农村局")
    text = (
        '[rulebook]\nname = "higher-only"\nextends = "hunan-provincial-2023"\n'
        '[acceptance]\nby = ["higher_level"]\nsource = "示例"\nconfidence = "L"\n'
    )
    path = tmp_path / "higher-only.toml"
    path.write_text(text, encoding="utf-8")
    higher_only = load_rulebook(path)
    assert higher_only.acceptance_by == ("higher_level",)
    ledger = Ledger(rulebook=higher_only)
    fed_back(ledger)
    claimed(ledger, lead_unit=lead.name)
    with pytest.raises(GuardError, match="a level above 赫山区 \\(谁验收"):
        ledger.fire("T", "start_verification", actor=lead, at=at("2024-04-01"))
    anyone = Ledger(rulebook=attrs.evolve(HUNAN, acceptance_by=()))
    fed_back(anyone)
    claimed(anyone)
    anyone.fire(
        "T",
        "start_verification",
        actor=Actor("accepting_unit", HESHAN, "赫山区生态环境分局"),
        at=at("2024-04-01"),
    )
    with pytest.raises(RulebookError, match=r"\[acceptance.by\].*'same_level'"):
        parse_rulebook({**_minimal(), "acceptance": {"by": ["same_level"]}})


def _minimal() -> dict[str, Any]:
    return {
        "rulebook": {"name": "x", "extends": "hunan-provincial-2023"},
    }


def test_a_sign_off_records_its_document_number_and_day(ledger: Ledger) -> None:
    """The sign-off needs the acceptance's 文号; its day may be given, never after it."""
    fed_back(ledger)
    claimed(ledger)
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2024-04-01"))
    with pytest.raises(PayloadError, match=r"document_number.*is required"):
        ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2024-04-03"))
    with pytest.raises(PayloadError, match="2024-04-04 is after the sign-off"):
        ledger.fire(
            "T",
            "sign_off",
            actor=ACCEPTOR,
            at=at("2024-04-03"),
            document_number=DOC,
            accepted_on="2024-04-04",
        )
    ledger.fire(
        "T",
        "sign_off",
        actor=ACCEPTOR,
        at=at("2024-04-03"),
        document_number=DOC,
        accepted_on="2024-04-02",
    )
    assert ledger.get("T").data["accepted_on"] == "2024-04-02"


def test_the_closing_records_document_and_dates_of_acceptance_notice_and_closing(
    ledger: Ledger,
) -> None:
    """销号 keeps the 文号 and dates: accepted 04-03, notice 04-08 to 04-19 (10 working days
    counting the first), closed 04-20."""
    fed_back(ledger)
    claimed(ledger)
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2024-04-01"))
    ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2024-04-03"), document_number=DOC)
    ledger.fire(
        "T", "start_notice", actor=RECT_OFFICE, at=at("2024-04-08"), where="益阳市人民政府网"
    )
    ledger.fire(
        "T", "close", actor=RECT_OFFICE, at=at("2024-04-20"), document_number="益督整办〔2024〕12号"
    )
    assert ledger.get("T").data["closing"] == {
        "acceptance_document": DOC,
        "accepted_on": "2024-04-03",
        "notice_from": "2024-04-08",
        "notice_until": "2024-04-19",
        "closed_on": "2024-04-20",
        "closing_document": "益督整办〔2024〕12号",
    }
    assert ledger.rebuild("T") == ledger.get("T")


# --- a round closed with long-term tasks ------------------------------------------------------


def test_a_round_closes_with_long_term_tasks_which_stay_tracked(ledger: Ledger) -> None:
    """Open tasks block closing, listed by id and state; long-term ones do not, and after
    the round is archived they keep their yearly milestones and progress."""
    fed_back(ledger)
    owner = Actor("owner_unit", HESHAN, "赫山区")
    planned(ledger, "T-LONG", milestones=["2023-12-31 完成年度治理任务"])
    planned(ledger, "T-OPEN")
    rectifying(ledger)
    for tid in ("T-LONG", "T-OPEN"):
        ledger.fire(tid, "start", actor=owner, at=at("2023-11-01"))
    ledger.fire(
        "T-LONG",
        "mark_long_term",
        actor=RECT_OFFICE,
        at=at("2023-11-02"),
        reason="水质改善需长期坚持",
        milestones=["2024-12-31 断面水质稳定达到III类"],
    )
    with pytest.raises(GuardError) as info:
        ledger.fire("R", "close_all", actor=RECT_OFFICE, at=at("2023-11-03"))
    assert info.value.guard == "all_tasks_closed"
    assert "1 task(s) neither closed nor kept up for the long term" in info.value.reason
    assert "T-OPEN (in_progress)" in info.value.reason
    assert "T-LONG" not in info.value.reason
    ledger.fire(
        "T-OPEN", "mark_long_term", actor=RECT_OFFICE, at=at("2023-11-04"), reason="长效机制"
    )
    ledger.fire("R", "close_all", actor=RECT_OFFICE, at=at("2023-11-05"))
    ledger.fire("R", "archive", actor=OFFICE, at=at("2023-11-06"))
    assert ledger.get("R").state == "archived"
    # Still tracked: milestones met, the next year's added, progress judged against them.
    ledger.fire("T-LONG", "meet_milestone", actor=owner, at=at("2023-12-28"), milestone=1)
    ledger.fire(
        "T-LONG",
        "add_milestones",
        actor=RECT_OFFICE,
        at=at("2024-01-05"),
        milestones=["2025-12-31 建成长效监管机制"],
    )
    assert ledger.get("T-LONG").data["milestones"] == [
        "2023-12-31 完成年度治理任务",
        "2024-12-31 断面水质稳定达到III类",
        "2025-12-31 建成长效监管机制",
    ]
    assert ledger.progress("T-LONG", on=D(2024, 12, 31)) == "on_schedule"
    assert ledger.progress("T-LONG", on=D(2025, 1, 1)) == "behind"
    ledger.fire("T-LONG", "meet_milestone", actor=owner, at=at("2024-12-30"), milestone=2)
    assert ledger.progress("T-LONG", on=D(2025, 1, 1)) == "on_schedule"
    assert [s.entity_id for s in ledger.find(kind="task", state="long_term")] == [
        "T-LONG",
        "T-OPEN",
    ]


def test_milestones_added_must_follow_those_planned(ledger: Ledger) -> None:
    """A yearly milestone dated before one already planned is refused; nothing changes."""
    fed_back(ledger)
    planned(ledger, "T", milestones=["2024-03-31 完成生态修复"])
    ledger.fire("T", "start", actor=Actor("owner_unit", HESHAN, "赫山区"), at=at("2023-10-10"))
    before = ledger.get("T")
    with pytest.raises(PayloadError, match="in the order of their dates"):
        ledger.fire(
            "T",
            "add_milestones",
            actor=RECT_OFFICE,
            at=at("2023-11-01"),
            milestones=["2023-12-31 年度目标"],
        )
    assert ledger.get("T") == before


def test_a_rulebook_lifecycle_declares_several_owner_fields_and_a_lasting_state() -> None:
    """TOML transitions may assign from several fields and a state may outlive its round."""
    rb = parse_rulebook(
        {
            **_minimal(),
            "lifecycles": [
                {
                    "name": "joint_task",
                    "creators": ["rectification_office"],
                    "states": [
                        {"name": "open"},
                        {"name": "ongoing", "outlives_round": True},
                        {"name": "done", "terminal": True, "counts_as": "closed"},
                    ],
                    "transitions": [
                        {
                            "event": "share",
                            "sources": ["open"],
                            "target": "ongoing",
                            "roles": ["rectification_office"],
                            "fields": [
                                {"name": "lead", "type": "area"},
                                {"name": "others", "type": "areas", "required": False},
                            ],
                            "assigns": ["lead", "others"],
                        },
                        {
                            "event": "finish",
                            "sources": ["ongoing"],
                            "target": "done",
                            "roles": ["owner_unit"],
                        },
                    ],
                }
            ],
        }
    )
    lc = rb.lifecycle("joint_task")
    assert lc.outlives_round("ongoing")
    assert not lc.outlives_round("open")
    ledger = Ledger(rulebook=rb)
    ledger.create(
        "joint_task", entity_id="J", actor=RECT_OFFICE, at=at("2023-10-09"), area="430900"
    )
    ledger.fire(
        "J", "share", actor=RECT_OFFICE, at=at("2023-10-10"), lead=NANXIAN, others=[YUANJIANG]
    )
    assert ledger.get("J").areas == (NANXIAN, YUANJIANG)
    bad = {
        "name": "bad",
        "states": [{"name": "open"}],
        "transitions": [
            {"event": "x", "sources": ["open"], "roles": ["owner_unit"], "assigns": [1]}
        ],
    }
    with pytest.raises(RulebookError, match=r"assigns\] must be a name, or a list of names"):
        parse_rulebook({**_minimal(), "lifecycles": [bad]})


def test_a_task_of_no_round_is_not_rectified_on_the_spot() -> None:
    """A task created outside any round has no station-in: 立行立改 is refused, saying so."""
    ledger = Ledger(rulebook=HUNAN)
    ledger.create("task", entity_id="T", actor=RECT_OFFICE, at=at("2023-06-28"), area=HESHAN)
    with pytest.raises(GuardError, match="belongs to no round"):
        ledger.fire(
            "T",
            "rectify_immediately",
            actor=RECT_OFFICE,
            at=at("2023-06-29"),
            owner=HESHAN,
            measures="覆盖",
        )
