"""The source case replayed: Hunan's second provincial inspection in Yiyang, 2023
(domain.md §1), from the deployment meeting to the archive."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    AlertNotice,
    Batch,
    GuardError,
    InspectionFlowError,
    Ledger,
    Snapshot,
    load_rulebook,
)
from strategies import ACCEPTOR, LIAISON, OFFICE, PARTY, PUBLIC, RECT_OFFICE, TEAM

D = dt.date
ROUND = "HN-2023-2-YY"
OTHER_ROUND = "HN-2023-2-CD"

HESHAN = Actor("owner_unit", "430903", "赫山区")
ZIYANG = Actor("owner_unit", "430902", "资阳区")
ZIYANG_ACCEPTOR = Actor("accepting_unit", "430902", "资阳区生态环境分局")
ANHUA = Actor("owner_unit", "430923", "安化县")
TAOJIANG = Actor("owner_unit", "430922", "桃江县")
YUANJIANG = Actor("owner_unit", "430981", "沅江市")
DATONGHU = Actor("owner_unit", "430971", "大通湖区")


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


@attrs.define
class SourceCase:
    """The ledger after the replay, and what was seen on the way."""

    ledger: Ledger
    seen: dict[str, Any] = attrs.Factory(dict)

    def refused(self, key: str, call: Any) -> None:
        """Run a command that must be refused, keeping the error."""
        with pytest.raises(InspectionFlowError) as info:
            call()
        self.seen[key] = info.value

    def fire(
        self, entity: str, event: str, actor: Actor, when: dt.datetime, **payload: Any
    ) -> None:
        self.ledger.fire(entity, event, actor=actor, at=when, **payload)


class _Entered:
    """The ledger's clock in a replay: every event is entered on 2024-12-31."""

    def now(self) -> dt.datetime:
        """Return 2024-12-31 18:00 in Shanghai."""
        return at("2024-12-31", 18)


def replay() -> SourceCase:
    """Replay the Yiyang 2023 round on the Hunan provincial rulebook."""
    # Every event is recorded at one instant of the ledger's clock, so that two replays
    # are alike to the hash.
    case = SourceCase(Ledger(rulebook=load_rulebook("hunan-provincial-2023"), clock=_Entered()))
    ledger, seen, fire = case.ledger, case.seen, case.fire

    # 06-20: the round is set; the city holds its deployment meeting (部署会).
    ledger.create_round(
        ROUND,
        name="湖南省第四生态环境保护督察组进驻益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2023-06-20", 8),
    )
    fire(ROUND, "announce", OFFICE, at("2023-06-20", 8, 30))
    fire(
        ROUND,
        "hold_meeting",
        PARTY,
        at("2023-06-20", 9),
        kind="deployment",
        title="全市迎接省生态环境保护督察工作部署会",
    )
    seen["after deployment"] = ledger.get(ROUND)

    # 06-26: mobilization meeting (动员会) and the city's work report open the station-in.
    fire(ROUND, "station_in", TEAM, at("2023-06-26", 9), meeting="动员会")
    fire(ROUND, "hold_meeting", PARTY, at("2023-06-26", 10), kind="report", title="工作汇报会")
    seen["station deadline"] = ledger.deadlines(ROUND)

    # 06-27: the sub-groups visit departments and talk (走访, 座谈).
    fire(ROUND, "visit", TEAM, at("2023-06-27", 9, 30), department="市生态环境局")
    fire(ROUND, "visit", TEAM, at("2023-06-27", 10, 30), department="市发展改革委")
    fire(ROUND, "talk", TEAM, at("2023-06-27", 15), **{"with": "市政府主要负责同志"})
    seen["after visits"] = ledger.get(ROUND)

    # 06-27: documents requested (调阅资料), due in 2 working days; provided late.
    ledger.request_documents(
        ROUND,
        documents="2021年以来环评审批及信访件办理台账",
        area="430900",
        actor=TEAM,
        at=at("2023-06-27", 16),
        request_id="YY-D01",
    )

    # 06-27: calls to the hotline (8:00–20:00) and a letter in the post box.
    for cid, when, channel, area, category in [
        ("YY-C01", at("2023-06-27", 7, 59), "phone", "430903", "air"),
        ("YY-C02", at("2023-06-27", 8, 0), "phone", "430902", "water"),
        ("YY-C03", at("2023-06-27", 19, 59), "phone", "430923", "ecology"),
        ("YY-C04", at("2023-06-27", 20, 0), "phone", "430922", "noise"),
        ("YY-C05", at("2023-06-27", 23, 0), "phone", "430981", "water"),
        ("YY-L01", at("2023-06-27", 23, 0), "letter", "430971", "water"),
    ]:
        ledger.receive_complaint(
            ROUND,
            channel=channel,
            received_at=when,
            area=area,
            summary="群众反映的生态环境问题",
            category=category,
            actor=TEAM,
            complaint_id=cid,
        )

    # 06-28 and 06-29: the daily hand-over batches (交办).
    seen["batch 1"] = ledger.hand_over_batch(ROUND, D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    seen["batch 2"] = ledger.hand_over_batch(ROUND, D(2023, 6, 29), actor=TEAM, at=at("2023-06-29"))
    seen["sweep 06-30"] = ledger.sweep(at("2023-06-30", 0))
    seen["overdue 06-30"] = ledger.overdue(at("2023-06-30", 8))
    fire("YY-D01", "provide", LIAISON, at("2023-07-03", 10), note="已补充提供")

    # Assigning, investigating and the four findings.
    fire("YY-C01", "assign", LIAISON, at("2023-06-28", 10), owners=["430903"])
    fire("YY-C02", "assign", LIAISON, at("2023-06-28", 10), owners=["430902"])
    fire("YY-C03", "assign", LIAISON, at("2023-06-28", 10), owners=["430923"])
    fire(
        "YY-L01",
        "assign",
        LIAISON,
        at("2023-06-28", 10),
        owners=["430971", "430981"],
        mode="shared",
    )
    fire("YY-C04", "assign", LIAISON, at("2023-06-29", 10), owners=["430922"])
    seen["split"] = ledger.split_case(
        "YY-C05", ["430981", "430971"], actor=LIAISON, at=at("2023-06-29", 10)
    )
    for cid, owner, day in [
        ("YY-C01", HESHAN, "2023-06-28"),
        ("YY-C02", ZIYANG, "2023-06-28"),
        ("YY-C03", ANHUA, "2023-06-28"),
        ("YY-L01", DATONGHU, "2023-06-28"),
        ("YY-C04", TAOJIANG, "2023-06-29"),
    ]:
        fire(cid, "start_investigation", owner, at(day, 14))
    fire("YY-C01", "record_finding", HESHAN, at("2023-07-01"), finding="substantiated")
    fire("YY-C02", "record_finding", ZIYANG, at("2023-07-01"), finding="largely_substantiated")
    fire("YY-C03", "record_finding", ANHUA, at("2023-07-02"), finding="partly_substantiated")
    fire("YY-C04", "record_finding", TAOJIANG, at("2023-07-03"), finding="unsubstantiated")
    fire("YY-L01", "record_finding", YUANJIANG, at("2023-07-03"), finding="substantiated")
    fire("YY-C01", "start_rectification", HESHAN, at("2023-07-02"))
    fire("YY-C02", "start_rectification", ZIYANG, at("2023-07-02"))
    case.refused(
        "unsubstantiated", lambda: fire("YY-C04", "start_rectification", TAOJIANG, at("2023-07-04"))
    )

    # Results back to the team, published, closed.
    fire(
        "YY-C01",
        "report_result",
        HESHAN,
        at("2023-07-05"),
        summary="已责令停产整改并立案处罚",
        dispositions=["order_to_rectify", "fine", "case_filed"],
    )
    fire("YY-C02", "report_result", ZIYANG, at("2023-07-06"), summary="已完成清淤")
    fire("YY-C03", "report_result", ANHUA, at("2023-07-06"), summary="部分属实，已整改")
    fire("YY-C04", "report_result", TAOJIANG, at("2023-07-07"), summary="经核查不属实")
    # Each published the day after its result, as the publication clock asks, once the
    # city's liaison group has checked it and sent it up to the team.
    for cid, day in (("YY-C01", "2023-07-06"), ("YY-C02", "2023-07-07"), ("YY-C03", "2023-07-07")):
        fire(cid, "forward_result", LIAISON, at(day, 9))
        fire(cid, "publish", LIAISON, at(day, 10), where="益阳日报")
    fire("YY-C04", "forward_result", LIAISON, at("2023-07-08", 9))
    fire("YY-C04", "publish", LIAISON, at("2023-07-08", 10), where="益阳日报")
    for cid in ("YY-C01", "YY-C03", "YY-C04"):
        fire(cid, "close", LIAISON, at("2023-07-10"))
    fire("YY-C02", "close_interim", LIAISON, at("2023-07-10"))

    # 07-16: the station-in ends; a phone call is refused after it, late letters still come.
    fire(ROUND, "end_station_in", TEAM, at("2023-07-16", 18))
    case.refused(
        "late call",
        lambda: ledger.receive_complaint(
            ROUND,
            channel="phone",
            received_at=at("2023-07-17", 10),
            area="430903",
            summary="x",
            category="air",
            actor=TEAM,
        ),
    )
    ledger.receive_complaint(
        ROUND,
        channel="letter",
        received_at=at("2023-07-18", 10),
        area="430921",
        summary="南县养殖污染",
        category="water",
        actor=TEAM,
        complaint_id="YY-L02",
    )
    seen["batch 3"] = ledger.hand_over_batch(ROUND, D(2023, 7, 19), actor=TEAM, at=at("2023-07-19"))

    # Another city of the same batch of the inspection numbers its batches from 1.
    ledger.create_round(
        OTHER_ROUND,
        name="湖南省第二轮省级生态环境保护督察进驻常德市",
        area="430700",
        actor=OFFICE,
        at=at("2023-06-20", 8),
    )
    fire(OTHER_ROUND, "announce", OFFICE, at("2023-06-20", 8, 30))
    fire(OTHER_ROUND, "station_in", TEAM, at("2023-06-26", 9))
    ledger.receive_complaint(
        OTHER_ROUND,
        channel="letter",
        received_at=at("2023-06-27", 11),
        area="430702",
        summary="x",
        category="air",
        actor=TEAM,
        complaint_id="CD-L01",
    )
    seen["other batch"] = ledger.hand_over_batch(
        OTHER_ROUND, D(2023, 6, 28), actor=TEAM, at=at("2023-06-28")
    )

    # Report, feedback, plan.
    fire(ROUND, "approve_report", OFFICE, at("2023-09-15"))
    fire(ROUND, "give_feedback", TEAM, at("2023-09-26", 10), problems=36)
    seen["plan due"] = ledger.get(ROUND).deadlines["plan_due"]
    for tid, owner, term, deadline in [
        ("YY-T01", "430903", "short", "2023-12-31"),
        ("YY-T02", "430902", "medium", "2024-06-30"),
        ("YY-T03", "430923", "long", "2025-12-31"),
    ]:
        ledger.add_task(
            ROUND,
            title=f"反馈问题整改 {tid}",
            area=owner,
            actor=RECT_OFFICE,
            at=at("2023-09-27"),
            task_id=tid,
            category="water",
        )
        fire(
            tid,
            "plan",
            RECT_OFFICE,
            at("2023-11-24", 15),
            owner=owner,
            measures="制定整改措施，明确责任人和时限",
            term=term,
            deadline=deadline,
        )
    fire(ROUND, "submit_plan", PARTY, at("2023-11-10"))
    fire(ROUND, "approve_plan", OFFICE, at("2023-11-20"))
    fire(ROUND, "publish_plan", LIAISON, at("2023-11-24", 10))
    fire(ROUND, "start_rectification", RECT_OFFICE, at("2023-11-24", 11))
    seen["progress due"] = ledger.get(ROUND).deadlines["progress_report_due"]

    # A short-term task through acceptance and public notice; an objection sends it back.
    fire("YY-T01", "start", HESHAN, at("2023-11-27"))
    fire("YY-T01", "claim_completion", HESHAN, at("2023-12-20"), evidence="整改销号材料")
    fire("YY-T01", "start_verification", ACCEPTOR, at("2023-12-22"))
    fire("YY-T01", "sign_off", ACCEPTOR, at("2023-12-25"), document_number="益环验〔2023〕1号")
    fire("YY-T01", "start_notice", RECT_OFFICE, at("2023-12-26"), where="益阳市人民政府网站")
    seen["first notice"] = ledger.get("YY-T01").deadlines["notice_ends"]
    fire("YY-T01", "object", PUBLIC, at("2024-01-03"), reason="群众反映仍有偷排")
    seen["after objection"] = ledger.get("YY-T01")
    seen["overdue 01-05"] = ledger.overdue(at("2024-01-05"), kind="task")
    fire("YY-T01", "claim_completion", HESHAN, at("2024-01-10"))
    fire("YY-T01", "start_verification", ACCEPTOR, at("2024-01-11"))
    fire("YY-T01", "sign_off", ACCEPTOR, at("2024-01-12"), document_number="益环验〔2024〕1号")
    fire("YY-T01", "start_notice", RECT_OFFICE, at("2024-01-15"))
    seen["second notice"] = ledger.get("YY-T01").deadlines["notice_ends"]
    case.refused("early close", lambda: fire("YY-T01", "close", RECT_OFFICE, at("2024-01-26", 17)))
    fire("YY-T01", "close", RECT_OFFICE, at("2024-01-27"))
    case.refused("open tasks", lambda: fire(ROUND, "close_all", RECT_OFFICE, at("2024-02-01")))
    fire("YY-T01", "file", RECT_OFFICE, at("2024-01-30"))
    seen["rates 2024-02-01"] = ledger.rates(at("2024-02-01"), round_id=ROUND)

    # The case accepted and closed (验收销号): not while closed only for now (阶段性办结);
    # once closed fully, reviewed by the district and the city, after its public notice.
    case.refused(
        "interim acceptance", lambda: fire("YY-C02", "apply_acceptance", ZIYANG, at("2023-09-20"))
    )
    fire("YY-C02", "close", LIAISON, at("2023-09-28"))
    fire("YY-C02", "apply_acceptance", ZIYANG, at("2023-10-10"))
    fire("YY-C02", "review_acceptance", ZIYANG_ACCEPTOR, at("2023-10-10", 15))
    fire("YY-C02", "start_notice", ZIYANG, at("2023-10-11"), where="资阳区人民政府网站")
    case.refused(
        "acceptance in notice", lambda: fire("YY-C02", "accept", ACCEPTOR, at("2023-10-20"))
    )
    fire("YY-C02", "review_acceptance", ACCEPTOR, at("2023-10-20", 10))
    fire("YY-C02", "accept", ACCEPTOR, ledger.get("YY-C02").deadlines["notice_ends"].due_at)

    # The medium-term and the long-term task, then the round closes and is archived.
    fire("YY-T02", "start", ZIYANG, at("2023-11-27"))
    fire("YY-T03", "start", ANHUA, at("2023-11-27"))
    fire("YY-T03", "mark_long_term", RECT_OFFICE, at("2023-12-01"), reason="需长期坚持")
    for tid, owner, day in [("YY-T02", ZIYANG, "2024-05-06"), ("YY-T03", ANHUA, "2024-05-06")]:
        fire(tid, "claim_completion", owner, at(day))
        fire(tid, "start_verification", ACCEPTOR, at(day, 10))
        fire(tid, "sign_off", ACCEPTOR, at(day, 11), document_number=f"益环验〔2023〕{tid}号")
        fire(tid, "start_notice", RECT_OFFICE, at(day, 12))
        fire(tid, "close", RECT_OFFICE, ledger.get(tid).deadlines["notice_ends"].due_at)
        fire(tid, "file", RECT_OFFICE, at("2024-05-31"))
    fire(ROUND, "report_progress", LIAISON, at("2024-05-10"), note="整改进展报告")
    fire(ROUND, "close_all", RECT_OFFICE, at("2024-06-03"))
    fire(ROUND, "archive", OFFICE, at("2024-06-28"))
    return case


@pytest.fixture(scope="module")
def case() -> SourceCase:
    """The source case, replayed once for this module."""
    return replay()


def test_the_deployment_meeting_precedes_the_station_in(case: SourceCase) -> None:
    """The city's deployment meeting of 06-20 is recorded while the round is announced."""
    snap = case.seen["after deployment"]
    assert snap.state == "announced"
    meeting = next(e for e in case.ledger.history(ROUND) if e.name == "hold_meeting")
    assert (meeting.at, meeting.payload["kind"], meeting.actor) == (
        at("2023-06-20", 9),
        "deployment",
        PARTY,
    )


def test_the_station_in_runs_21_days_to_07_16(case: SourceCase) -> None:
    """The station-in opened on 06-26 runs to 07-16 inclusive and ended that day."""
    (view,) = case.seen["station deadline"]
    assert (view.name, view.last_day, view.due_at) == (
        "station_in_ends",
        D(2023, 7, 16),
        at("2023-07-17", 0),
    )
    assert "当日计入" in view.explain()
    record = case.ledger.get(ROUND).deadlines["station_in_ends"]
    assert (record.status, record.ended_at) == ("met", at("2023-07-16", 18))


def test_visits_and_talks_leave_the_round_stationed(case: SourceCase) -> None:
    """The visits and talks of 06-27 are events that leave the round's state as it was."""
    assert case.seen["after visits"].state == "stationed"
    activities = [e for e in case.ledger.history(ROUND) if e.name in ("visit", "talk")]
    assert [e.payload.get("department") or e.payload.get("with") for e in activities] == [
        "市生态环境局",
        "市发展改革委",
        "市政府主要负责同志",
    ]
    assert all(e.state_before == e.state_after == "stationed" for e in activities)


def test_the_document_request_went_overdue_and_was_met_late(case: SourceCase) -> None:
    """The documents due 06-29 were warned once on 06-30 and met late on 07-03."""
    notices: list[AlertNotice] = case.seen["sweep 06-30"]
    assert [(n.entity_id, n.deadline, n.name) for n in notices] == [
        ("YY-D01", "provide_due", "overdue")
    ]
    assert [s.entity_id for s in case.seen["overdue 06-30"]] == ["YY-D01"]
    snap = case.ledger.get("YY-D01")
    record = snap.deadlines["provide_due"]
    assert (snap.state, record.last_day, record.status) == ("provided", D(2023, 6, 29), "met_late")
    assert record.ended_at is not None
    assert record.ended_at > record.due_at


@pytest.mark.parametrize(
    ("cid", "intake", "batch"),
    [
        ("YY-C01", "2023-06-27", 1),
        ("YY-C02", "2023-06-27", 1),
        ("YY-C03", "2023-06-27", 1),
        ("YY-C04", "2023-06-28", 2),
        ("YY-C05", "2023-06-28", 2),
        ("YY-L01", "2023-06-27", 1),
    ],
)
def test_each_complaint_joins_the_batch_of_the_day_after_its_intake(
    case: SourceCase, cid: str, intake: str, batch: int
) -> None:
    """Each complaint joins the batch of the day after its intake day."""
    snap = case.ledger.get(cid)
    assert snap.data["intake_day"] == intake
    assert snap.batch == batch


def test_batches_are_numbered_per_round(case: SourceCase) -> None:
    """Yiyang's batches are numbered 1, 2, 3; another city's round numbers its own from 1."""
    b1: Batch = case.seen["batch 1"]
    b2: Batch = case.seen["batch 2"]
    b3: Batch = case.seen["batch 3"]
    assert (b1.number, b1.day, sorted(b1.case_ids)) == (
        1,
        D(2023, 6, 28),
        ["YY-C01", "YY-C02", "YY-C03", "YY-L01"],
    )
    assert (b2.number, b2.day, sorted(b2.case_ids)) == (2, D(2023, 6, 29), ["YY-C04", "YY-C05"])
    assert (b3.number, b3.day, b3.case_ids) == (3, D(2023, 7, 19), ("YY-L02",))
    assert case.seen["other batch"].number == 1
    assert case.ledger.get(ROUND).data["batches"] == 3


def test_result_clocks_start_at_hand_over(case: SourceCase) -> None:
    """Result clocks run from the batch's hand-over, publication clocks from the result,
    rolled past a weekend."""
    c01 = case.ledger.get("YY-C01").deadlines
    c04 = case.ledger.get("YY-C04").deadlines
    # Reported 07-05: published by 07-06; reported Friday 07-07: by Monday 07-10.
    assert (c01["result_due"].last_day, c01["publish_due"].last_day) == (
        D(2023, 7, 10),
        D(2023, 7, 6),
    )
    assert (c04["result_due"].last_day, c04["publish_due"].last_day) == (
        D(2023, 7, 10),
        D(2023, 7, 10),
    )
    assert {r.status for r in c01.values()} == {"met"}


def test_a_late_letter_is_batched_but_a_late_call_is_refused(case: SourceCase) -> None:
    """After the station-in a call is refused but a letter is taken and handed over."""
    err = case.seen["late call"]
    assert isinstance(err, GuardError)
    assert err.guard == "hotline_open"
    late = case.ledger.get("YY-L02")
    assert (late.state, late.batch, late.data["batch_day"]) == ("handed_over", 3, "2023-07-19")


def test_the_four_findings(case: SourceCase) -> None:
    """The cases carry the four findings; an unsubstantiated one is reported, not rectified."""
    findings = {
        cid: case.ledger.get(cid).data["finding"]
        for cid in ("YY-C01", "YY-C02", "YY-C03", "YY-C04")
    }
    assert findings == {
        "YY-C01": "substantiated",
        "YY-C02": "largely_substantiated",
        "YY-C03": "partly_substantiated",
        "YY-C04": "unsubstantiated",
    }
    err = case.seen["unsubstantiated"]
    assert isinstance(err, GuardError)
    assert err.guard == "finding_substantiated"
    states = {cid: case.ledger.get(cid).state for cid in findings}
    assert states == {
        "YY-C01": "closed",
        "YY-C02": "accepted",
        "YY-C03": "closed",
        "YY-C04": "closed",
    }
    assert case.ledger.get("YY-C01").data["dispositions"] == [
        "order_to_rectify",
        "fine",
        "case_filed",
    ]


def test_each_result_went_up_through_the_city(case: SourceCase) -> None:
    """Every result published reached the team through the city's liaison group."""
    for cid in ("YY-C01", "YY-C02", "YY-C03", "YY-C04"):
        names = [e.name for e in case.ledger.history(cid)]
        assert names.index("report_result") < names.index("forward_result") < names.index("publish")
        assert case.ledger.get(cid).data["result_level"] == "team"


def test_the_case_was_accepted_only_after_full_closing_its_notice_and_reviews(
    case: SourceCase,
) -> None:
    """YY-C02 was refused acceptance while closed only for now, and during its notice without
    the city's review; it was accepted once both had happened."""
    interim = case.seen["interim acceptance"]
    assert isinstance(interim, GuardError)
    assert interim.guard == "fully_closed"
    early = case.seen["acceptance in notice"]
    assert isinstance(early, GuardError)
    assert early.guard == "acceptance_complete"
    assert "runs until 2023-10-24 24:00" in early.reason
    assert "city level (市级)" in early.reason
    snap = case.ledger.get("YY-C02")
    assert snap.state == "accepted"
    assert [r["level"] for r in snap.data["acceptance_reviews"]] == ["county", "city"]
    assert snap.deadlines["notice_ends"].status == "met"


def test_split_and_shared_cases(case: SourceCase) -> None:
    """A split case's parts keep its clock; both owners act on a shared case."""
    parts: list[Snapshot] = case.seen["split"]
    assert [(p.entity_id, p.area) for p in parts] == [
        ("YY-C05-1", "430981"),
        ("YY-C05-2", "430971"),
    ]
    assert case.ledger.get("YY-C05").state == "split"
    due = {
        p.entity_id: case.ledger.get(p.entity_id).deadlines["result_due"].last_day for p in parts
    }
    assert set(due.values()) == {D(2023, 7, 10)}
    shared = case.ledger.get("YY-L01")
    assert shared.areas == ("430971", "430981")
    actors = {e.actor.name for e in case.ledger.history("YY-L01")[-2:]}
    assert actors == {"大通湖区", "沅江市"}


def test_the_plan_is_due_30_working_days_after_feedback(case: SourceCase) -> None:
    """Feedback on 09-26 makes the plan due 11-13; the progress report is due 6 months on."""
    plan = case.seen["plan due"]
    assert (plan.last_day, plan.status) == (D(2023, 11, 13), "open")
    stored = case.ledger.get(ROUND).deadlines
    assert (stored["plan_due"].status, stored["plan_due"].ended_at) == ("met", at("2023-11-10"))
    assert case.seen["progress due"].last_day == D(2024, 5, 20)
    assert stored["progress_report_due"].status == "met"


def test_tasks_are_planned_with_owner_measures_term_and_deadline(case: SourceCase) -> None:
    """Tasks are planned with owner, measures, term and a deadline that becomes rectify_due."""
    t02 = case.ledger.get("YY-T02")
    assert (t02.area, t02.data["term"], t02.data["deadline"]) == ("430902", "medium", "2024-06-30")
    assert t02.data["measures"]
    assert t02.deadlines["rectify_due"].last_day == D(2024, 6, 30)
    t03 = case.ledger.get("YY-T03")
    assert t03.deadlines["rectify_due"].status == "met"
    assert any(e.name == "mark_long_term" for e in case.ledger.history("YY-T03"))


def test_an_objection_during_the_public_notice_sends_the_task_back(case: SourceCase) -> None:
    """An objection during the notice sends the task back, overdue, until closed and filed."""
    assert case.seen["first notice"].last_day == D(2024, 1, 9)
    back = case.seen["after objection"]
    assert back.state == "in_progress"
    assert back.deadlines["notice_ends"].status == "cancelled"
    assert back.deadlines["rectify_due"].status == "open"
    assert [s.entity_id for s in case.seen["overdue 01-05"]] == ["YY-T01"]
    assert case.seen["second notice"].last_day == D(2024, 1, 26)
    assert case.seen["early close"].guard == "notice_elapsed"
    names = [e.name for e in case.ledger.history("YY-T01")]
    assert names.count("object") == 1
    assert names[-2:] == ["close", "file"]


def test_the_round_closes_only_when_every_task_has(case: SourceCase) -> None:
    """The round closes only once every task is closed, and is then archived intact."""
    err = case.seen["open tasks"]
    assert err.guard == "all_tasks_closed"
    assert "YY-T02" in err.reason
    assert case.seen["rates 2024-02-01"]["task_closing_rate"] == pytest.approx(1 / 3)
    rnd = case.ledger.get(ROUND)
    assert (rnd.state, rnd.terminal) == ("archived", True)
    assert case.ledger.counts("state", kind="task", round_id=ROUND) == {"filed": 3}
    assert case.ledger.verify().ok


def test_the_ledger_dashboards(case: SourceCase) -> None:
    """Counts by batch, category and area and the closing rates read as a clerk expects."""
    ledger = case.ledger
    assert ledger.counts("batch", kind="complaint", round_id=ROUND) == {1: 4, 2: 4, 3: 1}
    assert ledger.counts("category", kind="complaint", round_id=ROUND) == {
        "air": 1,
        "water": 6,
        "ecology": 1,
        "noise": 1,
    }
    assert len(ledger.find(kind="complaint", area="430900")) == 9
    assert [s.entity_id for s in ledger.find(kind="complaint", area="430971")] == [
        "YY-C05-2",
        "YY-L01",
    ]
    rates = ledger.rates(at("2024-06-30"), round_id=ROUND)
    # Of the 8 cases in scope (the split parent is not), 4 are closed or accepted.
    assert rates["case_closing_rate"] == pytest.approx(4 / 8)
    assert rates["task_closing_rate"] == 1.0


def test_replaying_gives_the_same_ledger(case: SourceCase) -> None:
    """Replaying the case again gives identical snapshots: only the injected clock matters."""
    again = replay().ledger
    for snap in case.ledger.find():
        assert again.get(snap.entity_id) == snap
        assert case.ledger.rebuild(snap.entity_id) == snap
