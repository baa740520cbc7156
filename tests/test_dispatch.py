"""The monthly dispatch (调度): progress reports due on the rulebook's day, and the warning
lights at each dispatch: yellow when behind, two yellow cards → a supervision letter (专函督办),
red → a summons talk (约谈)."""

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
    GuardError,
    InvalidTransitionError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    RulebookError,
    load_rulebook,
    status_report,
)
from strategies import ACCEPTOR, LIAISON, OFFICE, OWNER, RECT_OFFICE, TEAM

D = dt.date
HUNAN = load_rulebook("hunan-provincial-2023")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def fed_back(ledger: Ledger) -> Ledger:
    """The Yiyang round of 2023, given feedback on 2023-09-26."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=36)
    return ledger


def planned(ledger: Ledger, tid: str, deadline: str, milestones: list[str]) -> None:
    """A task of 赫山区 planned on 2023-10-09 and started the next day."""
    ledger.add_task(
        "R",
        title=f"整改任务{tid}",
        area="430903",
        actor=RECT_OFFICE,
        at=at("2023-10-09"),
        task_id=tid,
    )
    fields: dict[str, Any] = {
        "owner": "430903",
        "measures": "按方案整改",
        "term": "medium",
        "deadline": deadline,
    }
    if milestones:
        fields["milestones"] = milestones
    ledger.fire(tid, "plan", actor=RECT_OFFICE, at=at("2023-10-09", 10), **fields)
    ledger.fire(tid, "start", actor=OWNER, at=at("2023-10-10"))


def closed(ledger: Ledger, tid: str) -> None:
    """Claim, verify, sign off, notice and close a task; closed on 2023-11-08."""
    ledger.fire(tid, "claim_completion", actor=OWNER, at=at("2023-10-20"))
    ledger.fire(tid, "start_verification", actor=ACCEPTOR, at=at("2023-10-23"))
    ledger.fire(
        tid,
        "sign_off",
        actor=ACCEPTOR,
        at=at("2023-10-24"),
        document_number="益环督整验〔2023〕4号",
    )
    ledger.fire(tid, "start_notice", actor=RECT_OFFICE, at=at("2023-10-25"))
    ledger.fire(tid, "close", actor=RECT_OFFICE, at=at("2023-11-08"))


def tasks(ledger: Ledger) -> None:
    """T1 on schedule, T2 behind its first milestone, T3 past its deadline, T4 done."""
    planned(ledger, "T1", "2024-06-30", ["2023-11-30 完成非法码头拆除", "2024-03-31 完成岸线复绿"])
    planned(ledger, "T2", "2024-03-31", ["2023-10-31 完成排查", "2023-11-30 完成截污"])
    planned(ledger, "T3", "2023-11-20", [])
    planned(ledger, "T4", "2023-12-31", [])
    closed(ledger, "T4")
    ledger.fire("T1", "meet_milestone", actor=OWNER, at=at("2023-11-28"), milestone=1)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The Yiyang round given feedback, with its four tasks: in memory, SQLite or PostgreSQL."""
    if request.param == "memory":
        book = Ledger(rulebook=HUNAN)
    else:
        target = (
            str(tmp_path / "dispatch.db")
            if request.param == "sqlite"
            else str(request.getfixturevalue("pg_schema_url"))
        )
        book = Ledger.open(target, rulebook=HUNAN)
    with book:
        tasks(fed_back(book))
        yield book


def test_reports_are_due_at_the_months_end(ledger: Ledger) -> None:
    """Hunan dispatches at each month's end: November's reports are due on 11-30."""
    snap = ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    assert snap.entity_id == "R/dispatch-2023-11"
    assert (snap.kind, snap.state, snap.data["period"]) == ("dispatch", "called", "2023-11")
    due = snap.deadlines["reports_due"]
    assert (due.last_day, due.status) == (D(2023, 11, 30), "open")
    # The city office records each report it receives from a county.
    ledger.fire(snap.entity_id, "receive_report", actor=RECT_OFFICE, at=at("2023-11-29"), task="T1")
    ledger.fire(snap.entity_id, "collect_reports", actor=RECT_OFFICE, at=at("2023-12-01"))
    assert ledger.get(snap.entity_id).deadlines["reports_due"].status == "met_late"


def test_lights_at_a_dispatch(ledger: Ledger) -> None:
    """On 11-30: T1 blue, T2 yellow (behind 10-31), T3 red (deadline 11-20 passed), T4 done."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    result = ledger.evaluate_dispatch(
        "R/dispatch-2023-11", on=D(2023, 11, 30), actor=RECT_OFFICE, at=at("2023-12-01")
    )
    assert dict(result.lights) == {"T1": "blue", "T2": "yellow", "T3": "red"}
    assert result.done == ("T4",)
    assert dict(result.reasons) == {"T3": "deadline_passed"}
    assert result.supervision_letters == ()
    assert result.summons_talks == ("T3",)
    assert dict(result.counts) == {
        "blue": 1,
        "yellow": 1,
        "red": 1,
        "done": 1,
        "supervision_letters": 0,
        "summons_talks": 1,
    }
    snap = ledger.get("R/dispatch-2023-11")
    assert snap.state == "evaluated"
    assert snap.deadlines["reports_due"].status == "met_late"
    assert ledger.dispatch_result(snap.entity_id) == result
    assert ledger.dispatches("R") == [result]


def test_a_briefing_states_the_latest_dispatch(ledger: Ledger) -> None:
    """The status report gives the latest evaluated dispatch's lights and escalations."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    ledger.evaluate_dispatch(
        "R/dispatch-2023-11", on=D(2023, 11, 30), actor=RECT_OFFICE, at=at("2023-12-01")
    )
    zh = status_report(ledger, D(2023, 12, 2), round_id="R").splitlines()
    assert (
        "调度（2023-11，评价日 2023-11-30）：贴蓝签1项、挂黄牌1项、亮红灯1项、已完成1项；"
        "专函督办：无；约谈：T3"
    ) in zh
    en = status_report(ledger, D(2023, 12, 2), lang="en").splitlines()
    assert (
        "Dispatch 2023-11 (judged 2023-11-30): blue 1, yellow 1, red 1, done 1; "
        "supervision letters: none; summons talks: T3"
    ) in en
    # As of the day before the evaluation, there was none to state.
    assert not any("调度（" in line for line in status_report(ledger, D(2023, 11, 30)).splitlines())


def test_two_yellow_cards_bring_a_supervision_letter(ledger: Ledger) -> None:
    """T2 yellow in November and December: its second card brings a letter, its third none,
    its fourth the next."""
    letters = []
    for period, on, when in (
        ("2023-11", "2023-11-30", "2023-12-01"),
        ("2023-12", "2023-12-31", "2024-01-02"),
        ("2024-01", "2024-01-31", "2024-02-01"),
        ("2024-02", "2024-02-29", "2024-03-01"),
    ):
        ledger.open_dispatch("R", period, actor=RECT_OFFICE, at=at(f"{period}-01", 8))
        result = ledger.evaluate_dispatch(
            f"R/dispatch-{period}", on=D.fromisoformat(on), actor=RECT_OFFICE, at=at(when)
        )
        assert result.lights["T2"] == "yellow"
        letters.append(result.supervision_letters)
    assert letters == [(), ("T2",), (), ("T2",)]


def test_a_red_light_from_the_facts_passed_in(ledger: Ledger) -> None:
    """A task the office finds red (exposed by the media) is red with that reason."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    result = ledger.evaluate_dispatch(
        "R/dispatch-2023-11",
        on=D(2023, 11, 30),
        actor=RECT_OFFICE,
        at=at("2023-12-01"),
        red={"T1": "被省级主流媒体曝光"},
    )
    assert result.lights["T1"] == "red"
    assert result.reasons["T1"] == "被省级主流媒体曝光"
    assert result.summons_talks == ("T1", "T3")


def test_a_red_light_on_a_task_not_evaluated_is_refused(ledger: Ledger) -> None:
    """Naming a done or unknown task red is refused and records nothing."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    for task in ("T4", "T9"):
        with pytest.raises(PayloadError, match=f"{task} is not a task"):
            ledger.evaluate_dispatch(
                "R/dispatch-2023-11",
                on=D(2023, 11, 30),
                actor=RECT_OFFICE,
                at=at("2023-12-01"),
                red={task: "评估难以按期完成"},
            )
    assert ledger.get("R/dispatch-2023-11").state == "called"


def test_a_dispatch_is_evaluated_once(ledger: Ledger) -> None:
    """A second evaluation is refused; the first stands."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    first = ledger.evaluate_dispatch(
        "R/dispatch-2023-11", on=D(2023, 11, 30), actor=RECT_OFFICE, at=at("2023-12-01")
    )
    with pytest.raises(InvalidTransitionError):
        ledger.evaluate_dispatch(
            "R/dispatch-2023-11", on=D(2023, 12, 1), actor=RECT_OFFICE, at=at("2023-12-02")
        )
    assert ledger.dispatch_result("R/dispatch-2023-11") == first


@pytest.mark.parametrize(
    ("period", "error", "match"),
    [
        ("2023-13", PayloadError, "must be a month"),
        ("2023-1", PayloadError, "must be a month"),
        (202311, PayloadError, "must be a month"),
        ("2023-10", PayloadError, "must be after"),
    ],
)
def test_bad_periods_are_refused(ledger: Ledger, period: Any, error: type, match: str) -> None:
    """A period that is no month, or whose reports were due already, is refused."""
    with pytest.raises(error, match=match):
        ledger.open_dispatch("R", period, actor=RECT_OFFICE, at=at("2023-11-01"))
    assert ledger.find(kind="dispatch") == []


def test_one_dispatch_a_period(ledger: Ledger) -> None:
    """The same period cannot be dispatched twice."""
    ledger.open_dispatch("R", D(2023, 11, 15), actor=RECT_OFFICE, at=at("2023-11-01"))
    with pytest.raises(PayloadError, match="already used"):
        ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-02"))


def test_only_the_rectification_office_dispatches(ledger: Ledger) -> None:
    """A county cannot call for the city's reports, nor evaluate them."""
    with pytest.raises(PermissionDeniedError):
        ledger.open_dispatch("R", "2023-11", actor=OWNER, at=at("2023-11-01"))
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    with pytest.raises(PermissionDeniedError):
        ledger.evaluate_dispatch(
            "R/dispatch-2023-11", on=D(2023, 11, 30), actor=LIAISON, at=at("2023-12-01")
        )


def test_no_dispatch_before_feedback() -> None:
    """Before feedback there is nothing to rectify, so nothing to dispatch."""
    book = Ledger(rulebook=HUNAN)
    book.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    with pytest.raises(GuardError, match="not possible while the round is 'planned'"):
        book.open_dispatch("R", "2023-07", actor=RECT_OFFICE, at=at("2023-07-01"))
    with pytest.raises(PayloadError, match="R is a round, not a dispatch"):
        book.dispatch_result("R")
    assert book.dispatches("R") == []


def test_a_result_is_given_once_evaluated(ledger: Ledger) -> None:
    """A dispatch not yet evaluated has no result to show."""
    ledger.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    with pytest.raises(GuardError, match="2023-11 has not been evaluated"):
        ledger.dispatch_result("R/dispatch-2023-11")
    assert ledger.dispatches("R") == []


def _rulebook(dispatch: str) -> str:
    return f"""
[rulebook]
name = "dispatch-test"
[intake]
hotline_opens = "08:00"
hotline_closes = "20:00"
source = "example value"
confidence = "L"
[deadlines.station_in]
amount = 21
unit = "calendar_days"
source = "example value"
confidence = "L"
[deadlines.case_result]
amount = 10
unit = "calendar_days"
source = "example value"
confidence = "L"
[deadlines.case_publish]
amount = 1
unit = "calendar_days"
source = "example value"
confidence = "L"
[deadlines.plan]
amount = 30
unit = "working_days"
source = "example value"
confidence = "L"
[deadlines.progress_report]
amount = 6
unit = "months"
source = "example value"
confidence = "L"
[deadlines.public_notice]
amount = 10
unit = "working_days"
source = "example value"
confidence = "L"
[deadlines.document_request]
amount = 2
unit = "working_days"
source = "example value"
confidence = "L"
[deadlines.summons_report]
amount = 30
unit = "calendar_days"
source = "example value"
confidence = "L"
[dispatch]
{dispatch}
source = "example value"
confidence = "L"
"""


def test_a_rulebook_sets_the_report_day_with_its_source(tmp_path: Path) -> None:
    """report_day 25 makes reports due on the 25th; its source and confidence are noted."""
    path = tmp_path / "rb.toml"
    path.write_text(
        _rulebook(
            'cadence = "quarterly"\nreport_day = 25\n'
            'report_source = "test"\nreport_confidence = "L"'
        ),
        encoding="utf-8",
    )
    rb = load_rulebook(path)
    assert (rb.dispatch, rb.dispatch_report_day) == ("quarterly", 25)
    assert rb.notes["dispatch.report_day"] == ("test", "L")
    book = fed_back(Ledger(rulebook=rb))
    with pytest.raises(PayloadError, match="quarter's last month"):
        book.open_dispatch("R", "2023-11", actor=RECT_OFFICE, at=at("2023-11-01"))
    snap = book.open_dispatch("R", "2023-12", actor=RECT_OFFICE, at=at("2023-11-01"))
    assert snap.deadlines["reports_due"].last_day == D(2023, 12, 25)


@pytest.mark.parametrize("day", ["0", "29", "true", '"end"', '"25"'])
def test_a_bad_report_day_is_refused(tmp_path: Path, day: str) -> None:
    """report_day is a day from 1 to 28 or "last"; anything else names the key."""
    path = tmp_path / "rb.toml"
    path.write_text(
        _rulebook(f'report_day = {day}\nreport_source = "t"\nreport_confidence = "L"'),
        encoding="utf-8",
    )
    with pytest.raises(RulebookError, match=r"dispatch\.report_day"):
        load_rulebook(path)


@pytest.mark.parametrize("name", ["central", "hunan-provincial-2023"])
def test_the_shipped_report_days_cite_their_sources(name: str) -> None:
    """Each shipped rulebook's report day says where it comes from, and how sure it is."""
    rb = load_rulebook(name)
    source, confidence = rb.notes["dispatch.report_day"]
    assert rb.dispatch_report_day == "last"
    assert "每月底调度" in source
    assert confidence == {"central": "L", "hunan-provincial-2023": "M"}[name]


@given(st.lists(st.booleans(), min_size=1, max_size=8))
def test_letters_come_with_every_second_yellow_card(behind: list[bool]) -> None:
    """However a task goes behind and catches up month by month, a supervision letter comes
    exactly with every second yellow card since the last letter (a naive count)."""
    book = fed_back(Ledger(rulebook=HUNAN))
    # One milestone at the end of each month; met in the month it is on schedule.
    months = [D(2023, 11, 1) + dt.timedelta(days=31 * i) for i in range(len(behind))]
    ends = [D(m.year, m.month, 28) for m in months]
    planned(book, "T", "2025-06-30", [f"{e.isoformat()} 阶段目标{i}" for i, e in enumerate(ends)])
    cards = 0
    for number, (late, end) in enumerate(zip(behind, ends, strict=True), start=1):
        if not late:
            book.fire("T", "meet_milestone", actor=OWNER, at=at(end.isoformat()), milestone=number)
        period = end.strftime("%Y-%m")
        book.open_dispatch("R", period, actor=RECT_OFFICE, at=at(f"{period}-01", 8))
        result = book.evaluate_dispatch(
            f"R/dispatch-{period}",
            on=end + dt.timedelta(days=1),
            actor=RECT_OFFICE,
            at=at(end.isoformat(), 20),
        )
        # Behind is judged on every milestone due so far: once late, it stays behind.
        yellow = any(behind[:number])
        assert result.lights["T"] == ("yellow" if yellow else "blue")
        cards += yellow
        letter = yellow and cards == 2
        if letter:
            cards = 0
        assert result.supervision_letters == (("T",) if letter else ())
