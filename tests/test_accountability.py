"""Accountability cases (移交移送 → 调查 → 问责 → 公开) and summons talks (约谈) with the
written report due after each, through the public API, in memory, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspection_flow import (
    ACCOUNTABILITY,
    BUILTIN_RULEBOOKS,
    SHANGHAI,
    Actor,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    load_rulebook,
    status_report,
)

OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
DISCIPLINE = Actor("discipline", "430900", "益阳市纪委监委")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
HESHAN = Actor("owner_unit", "430903", "赫山区人民政府")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger under the Hunan rulebook: in memory, in a SQLite file, in PostgreSQL."""
    rulebook = load_rulebook("hunan-provincial-2023")
    if request.param == "memory":
        yield Ledger(rulebook=rulebook)
        return
    if request.param == "sqlite":
        target = str(tmp_path / "accountability.db")
    else:
        target = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(target, rulebook=rulebook) as durable:
        yield durable


def transferred(ledger: Ledger, entity_id: str = "ZR-001") -> None:
    """A problem handed over by the team on 2023-09-26."""
    ledger.create(
        "accountability",
        entity_id=entity_id,
        actor=TEAM,
        at=at("2023-09-26"),
        area="430903",
        problem="黑臭水体整治不力",
        transferred_to="益阳市纪委监委",
    )


def talked_to(ledger: Ledger, entity_id: str) -> int:
    """People talked to on a case: the sum over its summons talks."""
    return sum(
        e.payload["people"] for e in ledger.history(entity_id) if e.name == "hold_summons_talk"
    )


def test_a_case_runs_from_transfer_to_publication(ledger: Ledger) -> None:
    """Transfer, investigate, talk twice, report, decide, publish; counted and audited."""
    transferred(ledger)
    case = ledger.get("ZR-001")
    assert (case.kind, case.state, case.data["problem"]) == (
        "accountability",
        "transferred",
        "黑臭水体整治不力",
    )
    assert ledger.available("ZR-001", DISCIPLINE) == ["start_investigation", "hold_summons_talk"]
    assert ledger.available("ZR-001", LIAISON) == ["submit_talk_report"]

    ledger.fire("ZR-001", "start_investigation", actor=DISCIPLINE, at=at("2023-10-09"))
    ledger.fire(
        "ZR-001",
        "hold_summons_talk",
        actor=TEAM,
        at=at("2023-10-16"),
        people=3,
        talked_to="赫山区政府及水利局负责人",
    )
    (due,) = ledger.deadlines("ZR-001")
    assert (due.name, due.label_zh, due.status, due.last_day) == (
        "talk_report_due",
        "约谈整改书面报告",
        "open",
        dt.date(2023, 11, 15),
    )
    assert [s.entity_id for s in ledger.overdue(at("2023-11-16"), kind="accountability")] == [
        "ZR-001"
    ]
    ledger.fire(
        "ZR-001", "submit_talk_report", actor=HESHAN, at=at("2023-11-14"), report="整改报告"
    )
    assert ledger.deadlines("ZR-001")[0].status == "met"
    assert ledger.overdue(at("2023-11-16"), kind="accountability") == []

    ledger.fire(
        "ZR-001",
        "hold_summons_talk",
        actor=DISCIPLINE,
        at=at("2023-11-20"),
        people=2,
        talked_to="赫山区住建局负责人",
    )
    assert talked_to(ledger, "ZR-001") == 5
    totals = ledger.get("ZR-001").data
    assert (totals["talks"], totals["people_talked_to"]) == (2, 5)
    # A later talk asks for its own report: the deadline runs again from the later talk.
    assert [(d.status, d.last_day) for d in ledger.deadlines("ZR-001")] == [
        ("open", dt.date(2023, 12, 20))
    ]
    ledger.fire("ZR-001", "submit_talk_report", actor=LIAISON, at=at("2023-11-30"), report="报告")

    ledger.fire("ZR-001", "decide", actor=DISCIPLINE, at=at("2023-12-01"), people=4, note="诫勉4人")
    decided = ledger.get("ZR-001")
    assert (decided.state, decided.data["held_accountable"], decided.data["decision"]) == (
        "decided",
        4,
        "诫勉4人",
    )
    assert ledger.tally("accountability") == {"open": 1, "closed": 0, "excluded": 0}
    ledger.fire("ZR-001", "publish", actor=LIAISON, at=at("2023-12-20"), where="湖南日报")
    assert ledger.get("ZR-001").state == "published"
    assert ledger.tally("accountability") == {"open": 0, "closed": 1, "excluded": 0}
    assert ledger.counts("state", kind="accountability") == {"published": 1}
    assert ledger.available("ZR-001", DISCIPLINE) == []
    assert ledger.verify(deep=True).ok


def test_a_talk_without_its_count_changes_nothing(ledger: Ledger) -> None:
    """A talk must say how many people were talked to; a refused one adds to no total."""
    transferred(ledger)
    before = ledger.get("ZR-001")
    with pytest.raises(PayloadError):
        ledger.fire("ZR-001", "hold_summons_talk", actor=TEAM, at=at("2023-10-16"), talked_to="x")
    with pytest.raises(PayloadError):
        ledger.fire(
            "ZR-001", "hold_summons_talk", actor=TEAM, at=at("2023-10-16"), people=-1, talked_to="x"
        )
    assert ledger.get("ZR-001") == before
    assert ledger.deadlines("ZR-001") == []


def test_the_status_report_counts_cases_and_lists_a_late_talk_report(ledger: Ledger) -> None:
    """The status report counts accountability cases by state and lists a report not made."""
    transferred(ledger)
    ledger.fire(
        "ZR-001", "hold_summons_talk", actor=TEAM, at=at("2023-10-16"), people=3, talked_to="x"
    )
    lines = status_report(ledger, dt.date(2023, 11, 20)).splitlines()
    assert lines[1] == "责任追究问题: 1（已移交 1）"
    assert "超期事项：1" in lines
    assert "约谈整改书面报告" in lines


def test_only_the_discipline_role_investigates_and_decides(ledger: Ledger) -> None:
    """The team or the liaison may not investigate or decide; the case stays where it was."""
    transferred(ledger)
    for actor in (TEAM, LIAISON, OFFICE):
        with pytest.raises(PermissionDeniedError):
            ledger.fire("ZR-001", "start_investigation", actor=actor, at=at("2023-10-09"))
    ledger.fire("ZR-001", "start_investigation", actor=DISCIPLINE, at=at("2023-10-09"))
    with pytest.raises(PermissionDeniedError):
        ledger.fire("ZR-001", "decide", actor=TEAM, at=at("2023-12-01"), people=1)
    assert ledger.get("ZR-001").state == "investigating"


def test_a_decision_without_its_count_is_refused(ledger: Ledger) -> None:
    """问责 must say how many people were held accountable; a refused decision changes nothing."""
    transferred(ledger)
    ledger.fire("ZR-001", "start_investigation", actor=DISCIPLINE, at=at("2023-10-09"))
    before = ledger.get("ZR-001")
    with pytest.raises(PayloadError):
        ledger.fire("ZR-001", "decide", actor=DISCIPLINE, at=at("2023-12-01"))
    with pytest.raises(PayloadError):
        ledger.fire("ZR-001", "decide", actor=DISCIPLINE, at=at("2023-12-01"), people="四")
    assert ledger.get("ZR-001") == before


def test_only_the_team_or_office_transfers_a_case(ledger: Ledger) -> None:
    """The discipline commission receives a case; it does not create one."""
    with pytest.raises(PermissionDeniedError):
        ledger.create(
            "accountability", actor=DISCIPLINE, at=at("2023-09-26"), area="430903", problem="x"
        )
    ledger.create("accountability", actor=OFFICE, at=at("2023-09-26"), area="430903", problem="x")
    assert ledger.counts("kind") == {"accountability": 1}


@pytest.mark.parametrize("name", sorted(BUILTIN_RULEBOOKS))
def test_every_builtin_rulebook_gives_the_talk_report_rule(name: str) -> None:
    """Each built-in rulebook has the accountability case and a sourced 30-day report rule."""
    rulebook = load_rulebook(name)
    assert rulebook.lifecycle("accountability") == ACCOUNTABILITY
    assert rulebook.rule("summons_report").describe() == "30日（不含起算日，末日遇休息日顺延）"
    source, confidence = rulebook.notes["deadlines.summons_report"]
    assert confidence == "L"
    assert "山东省环境保护约谈办法" in source
