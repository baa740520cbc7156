"""Rectification as the 整改台账 records it: a task's units, leader, person and target,
its milestones (阶段目标) and its 序时进度 judged against them on any day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspection_flow import SHANGHAI, Ledger, PayloadError, load_rulebook
from strategies import ACCEPTOR, OFFICE, OWNER, RECT_OFFICE, TEAM

D = dt.date

MILESTONES = [
    "2023-11-30 完成非法码头拆除",
    "2024-03-31 完成岸线复绿",
    "2024-06-30 通过验收",
]


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger under the Hunan rulebook: in memory, in a SQLite file, in PostgreSQL."""
    rulebook = load_rulebook("hunan-provincial-2023")
    if request.param == "memory":
        yield Ledger(rulebook=rulebook)
        return
    if request.param == "sqlite":
        target = str(tmp_path / "rectification.db")
    else:
        target = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(target, rulebook=rulebook) as durable:
        yield durable


def fed_back(ledger: Ledger) -> None:
    """A Yiyang round given feedback on 2023-09-26."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=36)


def planned(ledger: Ledger, tid: str = "T", **extra: Any) -> None:
    """A task planned on 2023-10-09 for 赫山区 with three milestones, and started."""
    ledger.add_task(
        "R",
        title="砂石码头整治",
        area="430903",
        actor=RECT_OFFICE,
        at=at("2023-10-09"),
        task_id=tid,
    )
    fields: dict[str, Any] = {
        "owner": "430903",
        "measures": "拆除非法码头，岸线复绿",
        "term": "medium",
        "deadline": "2024-06-30",
        "milestones": MILESTONES,
        **extra,
    }
    fields = {name: value for name, value in fields.items() if value is not None}
    ledger.fire(tid, "plan", actor=RECT_OFFICE, at=at("2023-10-09", 10), **fields)
    ledger.fire(tid, "start", actor=OWNER, at=at("2023-10-10"))


def test_a_plan_records_the_units_leader_person_and_target(ledger: Ledger) -> None:
    """The lead, responsible and supporting units, leader, person and target are recorded."""
    fed_back(ledger)
    planned(
        ledger,
        lead_unit="赫山区人民政府",
        responsible_units=["赫山区水利局", "赫山区交通运输局"],
        supporting_units=["益阳市生态环境局赫山分局"],
        leader="赫山区副区长",
        person="赫山区水利局局长",
        target="2024年6月底前完成非法码头拆除和岸线复绿",
    )
    data = ledger.get("T").data
    assert data["lead_unit"] == "赫山区人民政府"
    assert data["responsible_units"] == ["赫山区水利局", "赫山区交通运输局"]
    assert data["supporting_units"] == ["益阳市生态环境局赫山分局"]
    assert (data["leader"], data["person"]) == ("赫山区副区长", "赫山区水利局局长")
    assert data["target"].startswith("2024年6月底前")
    assert data["milestones"] == MILESTONES


@pytest.mark.parametrize(
    ("milestones", "problem"),
    [
        (["完成拆除"], "must read 'YYYY-MM-DD 描述'"),
        (["2023-11-31 完成拆除"], "must read 'YYYY-MM-DD 描述'"),
        (["2023-11-30"], "must read 'YYYY-MM-DD 描述'"),
        (["2024-03-31 复绿", "2023-11-30 拆除"], "in the order of their dates"),
        ("2023-11-30 完成拆除", "must be a list of text"),
    ],
)
def test_malformed_milestones_are_refused_and_change_nothing(
    ledger: Ledger, milestones: Any, problem: str
) -> None:
    """Milestones that are not dated goals in date order are refused; the task stays put."""
    fed_back(ledger)
    ledger.add_task(
        "R", title="整治", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"), task_id="T"
    )
    with pytest.raises(PayloadError, match=problem) as info:
        ledger.fire(
            "T",
            "plan",
            actor=RECT_OFFICE,
            at=at("2023-10-09", 10),
            owner="430903",
            measures="m",
            term="short",
            deadline="2024-06-30",
            milestones=milestones,
        )
    assert info.value.field == "milestones"
    assert ledger.get("T").state == "identified"
    assert len(ledger.history("T")) == 1


def test_progress_is_judged_against_the_milestones_due_by_the_day(ledger: Ledger) -> None:
    """On schedule while each milestone due is met; behind once one due is not."""
    fed_back(ledger)
    planned(ledger)
    assert ledger.progress("T", on=D(2023, 11, 30)) == "on_schedule"
    assert ledger.progress("T", on=D(2023, 12, 1)) == "behind"
    ledger.fire("T", "meet_milestone", actor=OWNER, at=at("2023-12-05"), milestone=1)
    assert ledger.progress("T", on=D(2023, 12, 4)) == "behind"
    assert ledger.progress("T", on=D(2023, 12, 5)) == "on_schedule"
    assert ledger.progress("T", on=D(2024, 4, 1)) == "behind"
    assert ledger.get("T").data["milestones_met"] == [1]


def test_a_task_without_milestones_is_behind_past_its_deadline(ledger: Ledger) -> None:
    """With no milestones, the rectification deadline is what the task is judged by."""
    fed_back(ledger)
    planned(ledger, milestones=None)
    assert ledger.progress("T", on=D(2024, 6, 30)) == "on_schedule"
    assert ledger.progress("T", on=D(2024, 7, 1)) == "behind"


def test_a_closed_task_is_done_from_its_closing_day(ledger: Ledger) -> None:
    """A task closed (销号) is done from that day, and judged by milestones before it."""
    fed_back(ledger)
    planned(ledger)
    for number, day in ((1, "2023-11-20"), (2, "2024-03-20")):
        ledger.fire("T", "meet_milestone", actor=OWNER, at=at(day), milestone=number)
    ledger.fire("T", "claim_completion", actor=OWNER, at=at("2024-04-01"))
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2024-04-02"))
    ledger.fire(
        "T", "sign_off", actor=ACCEPTOR, at=at("2024-04-03"), document_number="益环验〔2024〕3号"
    )
    ledger.fire("T", "start_notice", actor=RECT_OFFICE, at=at("2024-04-08"))
    notice_end = ledger.get("T").deadlines["notice_ends"].due_at
    ledger.fire("T", "close", actor=RECT_OFFICE, at=notice_end + dt.timedelta(hours=1))
    closed_on = (notice_end + dt.timedelta(hours=1)).astimezone(SHANGHAI).date()
    assert ledger.progress("T", on=closed_on) == "done"
    assert ledger.progress("T", on=D(2024, 4, 5)) == "on_schedule"


def test_a_long_term_task_is_judged_by_its_yearly_milestones(ledger: Ledger) -> None:
    """A long-term task (长期坚持) leaves its deadline but stays judged by its milestones."""
    fed_back(ledger)
    planned(ledger, milestones=["2024-12-31 2024年度目标", "2025-12-31 2025年度目标"])
    ledger.fire("T", "mark_long_term", actor=RECT_OFFICE, at=at("2024-06-01"), reason="长效机制")
    ledger.fire("T", "meet_milestone", actor=OWNER, at=at("2024-12-20"), milestone=1)
    assert ledger.progress("T", on=D(2025, 6, 1)) == "on_schedule"
    assert ledger.progress("T", on=D(2026, 1, 1)) == "behind"


@pytest.mark.parametrize(
    ("number", "problem"), [(4, "sets 3 milestone"), (1, "recorded as met already")]
)
def test_a_milestone_not_planned_or_met_already_is_refused(
    ledger: Ledger, number: int, problem: str
) -> None:
    """Only a milestone the plan set, not yet met, can be reported met."""
    fed_back(ledger)
    planned(ledger)
    ledger.fire("T", "meet_milestone", actor=OWNER, at=at("2023-11-20"), milestone=1)
    with pytest.raises(PayloadError, match=problem):
        ledger.fire("T", "meet_milestone", actor=OWNER, at=at("2023-11-21"), milestone=number)
    assert ledger.get("T").data["milestones_met"] == [1]
    assert len(ledger.history("T")) == 4


def test_the_on_schedule_rate_counts_tasks_behind_their_milestones(ledger: Ledger) -> None:
    """rates' 序时进度 counts a task behind a milestone though its deadline is far off."""
    fed_back(ledger)
    planned(ledger, "T1")
    planned(ledger, "T2")
    ledger.fire("T1", "meet_milestone", actor=OWNER, at=at("2023-11-20"), milestone=1)
    assert ledger.rates(at("2023-11-30"), round_id="R")["on_schedule_rate"] == 1.0
    assert ledger.rates(at("2023-12-01"), round_id="R")["on_schedule_rate"] == 0.5
