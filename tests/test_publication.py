"""Publication of case results per batch (一览表 第N批), counted from the result, and the
publication again of cases whose 办理状态 changed after their list went out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    AlertNotice,
    GuardError,
    InvalidTransitionError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    load_rulebook,
    status_report,
)
from strategies import LIAISON, OFFICE, TEAM

D = dt.date
HUNAN = load_rulebook("hunan-provincial-2023")
HESHAN = Actor("owner_unit", "430903", "赫山区")
ZIYANG = Actor("owner_unit", "430902", "资阳区")
OWNERS = {"430903": HESHAN, "430902": ZIYANG}
ZIYANG_LIAISON = Actor("liaison", "430902", "资阳区联络组")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


def stationed(book: Ledger) -> Ledger:
    """The Yiyang round of 2023, stationed in on 06-26."""
    book.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    book.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    book.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    return book


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A Hunan ledger with the Yiyang round stationed: in memory, SQLite or PostgreSQL."""
    if request.param == "memory":
        book = Ledger(rulebook=HUNAN)
    else:
        target = (
            str(tmp_path / "publication.db")
            if request.param == "sqlite"
            else str(request.getfixturevalue("pg_schema_url"))
        )
        book = Ledger.open(target, rulebook=HUNAN)
    with book:
        yield stationed(book)


def handed_over(ledger: Ledger, received: str, cases: dict[str, str]) -> None:
    """Receive ``cases`` (id → area) on ``received``, hand them over the next day, and
    have each owner investigate and find it true."""
    for cid, area in cases.items():
        ledger.receive_complaint(
            "R",
            channel="phone",
            received_at=at(received, 10),
            area=area,
            summary="砂石码头粉尘污染",
            category="air",
            actor=TEAM,
            complaint_id=cid,
        )
    batch_day = dt.date.fromisoformat(received) + dt.timedelta(days=1)
    ledger.hand_over_batch("R", batch_day, actor=TEAM, at=at(batch_day.isoformat()))
    for cid, area in cases.items():
        ledger.fire(cid, "assign", actor=LIAISON, at=at(batch_day.isoformat(), 10), owners=[area])
        ledger.fire(
            cid, "start_investigation", actor=OWNERS[area], at=at(batch_day.isoformat(), 11)
        )
        ledger.fire(
            cid,
            "record_finding",
            actor=OWNERS[area],
            at=at(batch_day.isoformat(), 15),
            finding="属实",
        )


def reported(ledger: Ledger, cid: str, day: str, status: str) -> None:
    """Report ``cid``'s result on ``day`` with the 办理状态 ``status``."""
    area = ledger.get(cid).area
    ledger.fire(
        cid,
        "report_result",
        actor=OWNERS[area],
        at=at(day),
        summary="已责令停产整治",
        handling_status=status,
    )
    # The city's liaison group sends it up to the team, whose results a list publishes.
    ledger.fire(cid, "forward_result", actor=LIAISON, at=at(day, 12))


def two_batches(ledger: Ledger) -> None:
    """Batch 1 (C1, C2, handed over 06-28) and batch 2 (C3, handed over 06-29)."""
    handed_over(ledger, "2023-06-27", {"C1": "430903", "C2": "430902"})
    handed_over(ledger, "2023-06-28", {"C3": "430903"})


def test_publication_is_due_after_the_result_not_before(ledger: Ledger) -> None:
    """A handed-over case has no publication clock; it starts with the result, one day on."""
    two_batches(ledger)
    assert [v.name for v in ledger.deadlines("C1")] == ["result_due"]
    reported(ledger, "C1", "2023-07-05", "阶段性办结")
    due = {v.name: v.last_day for v in ledger.deadlines("C1")}
    # Result due 10 days after the hand-over of 06-28 (Saturday 07-08, rolled to Monday);
    # publication the day after the result, before the result was due.
    assert due == {"result_due": dt.date(2023, 7, 10), "publish_due": dt.date(2023, 7, 6)}


def test_a_list_publishes_a_batch_and_marks_each_case(ledger: Ledger) -> None:
    """Publishing batch 1's list marks each reported case of it published, with its status."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "阶段性办结")
    reported(ledger, "C2", "2023-07-05", "已办结")
    reported(ledger, "C3", "2023-07-05", "已办结")
    pub = ledger.publish_list(
        "R", 1, actor=LIAISON, at=at("2023-07-06", 10), where="益阳日报、益阳市人民政府网"
    )
    assert (pub.publication_id, pub.number, pub.batch) == ("R/publication-1", 1, 1)
    assert pub.published_on == dt.date(2023, 7, 6)
    assert pub.case_ids == ("C1", "C2")
    assert dict(pub.statuses) == {"C1": "interim_closed", "C2": "closed"}
    assert pub.republished == ()
    for cid in ("C1", "C2"):
        case = ledger.get(cid)
        assert case.state == "published"
        assert case.data["published_in"] == "R/publication-1"
        assert case.data["published_in_batch"] == 1
        assert case.deadlines["publish_due"].status == "met"
    # Batch 2's case is not in batch 1's list: it waits for its own.
    assert ledger.get("C3").state == "reported"
    assert [s.entity_id for s in ledger.awaiting_publication("R")] == ["C3"]
    snap = ledger.get("R/publication-1")
    assert (snap.kind, snap.state, snap.batch) == ("publication", "published", 1)
    assert ledger.publications("R") == [pub]


def test_a_changed_status_is_published_again_in_a_later_list(ledger: Ledger) -> None:
    """阶段性办结 → 已办结 after batch 1's list: batch 2's list publishes it again."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "阶段性办结")
    reported(ledger, "C2", "2023-07-05", "已办结")
    first = ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"))
    ledger.fire("C1", "close_interim", actor=LIAISON, at=at("2023-07-07"))
    assert ledger.awaiting_publication("R") == []
    ledger.fire("C1", "close", actor=LIAISON, at=at("2023-07-20"))
    assert [s.entity_id for s in ledger.awaiting_publication("R")] == ["C1"]
    reported(ledger, "C3", "2023-07-21", "已办结")
    second = ledger.publish_list("R", 2, actor=LIAISON, at=at("2023-07-22"))
    assert second.case_ids == ("C1", "C3")
    assert second.republished == ("C1",)
    assert dict(second.statuses) == {"C1": "closed", "C3": "closed"}
    c1 = ledger.get("C1")
    assert c1.state == "closed"
    assert (c1.data["published_in"], c1.data["published_in_batch"]) == ("R/publication-2", 2)
    assert (c1.data["published_status"], c1.data["publications"]) == ("closed", 2)
    # The history keeps both publications, each with the list it was in.
    lists = [
        (e.name, e.payload["publication"])
        for e in ledger.history("C1")
        if e.name in ("publish", "republish")
    ]
    assert lists == [("publish", first.publication_id), ("republish", second.publication_id)]
    assert ledger.awaiting_publication("R") == []


def test_a_briefing_states_the_lists_and_the_cases_awaiting_one(ledger: Ledger) -> None:
    """The status report counts the lists published and the cases awaiting publication."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "阶段性办结")
    reported(ledger, "C3", "2023-07-05", "已办结")
    ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"))
    zh = status_report(ledger, D(2023, 7, 6), round_id="R").splitlines()
    assert "已公开一览表：1张（最近一张：第1批，2023-07-06）；待公开或待再次公开：1件" in zh
    en = status_report(ledger, D(2023, 7, 6), lang="en").splitlines()
    assert (
        "Lists published: 1 (latest: batch 1, 2023-07-06); awaiting publication or "
        "publication again: 1 cases"
    ) in en


def test_named_cases_must_await_publication(ledger: Ledger) -> None:
    """A list of named cases refuses one that awaits nothing, and writes nothing."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "已办结")
    with pytest.raises(PayloadError, match=r"C2 .*awaits no publication"):
        ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"), cases=["C1", "C2"])
    assert ledger.get("C1").state == "reported"
    assert ledger.publications("R") == []
    pub = ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"), cases=["C1"])
    assert pub.case_ids == ("C1",)


def test_nothing_to_publish_and_unknown_batches_are_refused(ledger: Ledger) -> None:
    """A list with no reported result, or of a batch never handed over, is refused."""
    two_batches(ledger)
    with pytest.raises(GuardError, match="no result of batch 1"):
        ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"))
    for bad in (0, 3, True, "1"):
        with pytest.raises(PayloadError, match="2 batch"):
            ledger.publish_list("R", bad, actor=LIAISON, at=at("2023-07-06"))  # type: ignore[arg-type]
    assert ledger.find(kind="publication") == []


def test_only_the_cases_area_may_publish_them(ledger: Ledger) -> None:
    """A county's liaison cannot publish another county's case; nothing is written."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "已办结")
    with pytest.raises(PermissionDeniedError):
        ledger.publish_list(
            "R", 1, actor=ZIYANG_LIAISON, at=at("2023-07-06"), area="430902", cases=["C1"]
        )
    assert ledger.get("C1").state == "reported"
    assert ledger.find(kind="publication") == []


def test_a_single_case_may_still_be_published_alone(ledger: Ledger) -> None:
    """Existing ledgers publish case by case: publish without a list still meets the clock."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "已办结")
    ledger.fire("C1", "publish", actor=LIAISON, at=at("2023-07-06"), where="益阳日报")
    case = ledger.get("C1")
    assert case.state == "published"
    assert case.deadlines["publish_due"].status == "met"
    assert (case.data["where"], case.data["published_status"]) == ("益阳日报", "closed")
    assert "published_in" not in case.data
    # Published already and unchanged: no later list takes it in.
    assert ledger.awaiting_publication("R") == []


def test_a_result_reported_again_is_published_again(ledger: Ledger) -> None:
    """A published case returned for re-handling and reported again awaits a new list."""
    two_batches(ledger)
    reported(ledger, "C1", "2023-07-05", "已办结")
    ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-06"))
    ledger.fire("C1", "return_for_rehandling", actor=TEAM, at=at("2023-07-07"), reason="群众不满意")
    ledger.fire("C1", "record_finding", actor=HESHAN, at=at("2023-07-09"), finding="属实")
    ledger.fire("C1", "report_result", actor=HESHAN, at=at("2023-07-10"), summary="已复查")
    ledger.fire("C1", "forward_result", actor=LIAISON, at=at("2023-07-10", 12))
    publish_due = ledger.get("C1").deadlines["publish_due"]
    assert (publish_due.status, publish_due.last_day) == ("open", dt.date(2023, 7, 11))
    second = ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-11"))
    assert (second.number, second.case_ids, second.republished) == (2, ("C1",), ("C1",))


def test_an_accepted_case_is_not_published_again() -> None:
    """Acceptance is final: republish is not possible from 已验收销号."""
    from inspection_flow import COMPLAINT

    assert COMPLAINT.transition("accepted", "republish") is None
    with pytest.raises(InvalidTransitionError):
        COMPLAINT.step("C", "accepted", "republish")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["in_progress", "interim_closed", "closed"]),
            st.lists(st.sampled_from(["close_interim", "close", "publish"]), max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_awaiting_is_status_changed_since_last_published(
    plan: list[tuple[str, list[str]]],
) -> None:
    """Whatever is closed and published in whatever order, a case awaits publication exactly
    when its status differs from the status last published (or it was never published)."""
    book = stationed(Ledger(rulebook=HUNAN))
    cases = {f"C{i}": "430903" for i in range(1, len(plan) + 1)}
    handed_over(book, "2023-06-27", cases)
    shown: dict[str, str | None] = {}
    current: dict[str, str] = {}
    for i, (status, _) in enumerate(plan, start=1):
        reported(book, f"C{i}", "2023-07-05", status)
        shown[f"C{i}"], current[f"C{i}"] = None, status
    day = dt.date(2023, 7, 6)
    for i, (_, steps) in enumerate(plan, start=1):
        cid = f"C{i}"
        for step in steps:
            day += dt.timedelta(days=1)
            when = at(day.isoformat())
            if step == "publish":
                if shown[cid] != current[cid]:
                    book.publish_list("R", 1, actor=LIAISON, at=when, cases=[cid])
                    shown[cid] = current[cid]
                continue
            if book.lifecycle_of(book.get(cid)).transition(book.get(cid).state, step) is None:
                continue
            book.fire(cid, step, actor=LIAISON, at=when)
            current[cid] = "closed" if step == "close" else "interim_closed"
        awaiting = {s.entity_id for s in book.awaiting_publication("R")}
        assert (cid in awaiting) is (shown[cid] != current[cid]), (cid, steps)


def test_a_restarted_publication_clock_alerts_once_per_start(ledger: Ledger) -> None:
    """The stateful test's case C-2: a result not published in time is overdue once; the
    case is returned for re-handling (no second alert for that clock, however late the
    sweep) and reported again, which starts ``publish_due`` afresh, whose overdue alert is
    then recorded once more, and once only.  (Re-handling has its own clock,
    ``rehandling_due``, with alerts of its own.)"""

    def publication(swept: list[AlertNotice]) -> list[tuple[str, str, str, dt.datetime]]:
        return [
            (n.entity_id, n.deadline, n.name, n.due_at)
            for n in swept
            if n.entity_id == "C2" and n.deadline == "publish_due"
        ]

    two_batches(ledger)
    reported(ledger, "C2", "2023-07-05", "阶段性办结")
    first = ledger.get("C2").deadlines["publish_due"]
    swept = ledger.sweep(at("2023-08-04"))
    assert publication(swept) == [("C2", "publish_due", "overdue", first.due_at)]
    ledger.fire("C2", "return_for_rehandling", actor=TEAM, at=at("2023-08-04", 10), reason="退回")
    assert publication(ledger.sweep(at("2023-09-03"))) == []
    ledger.fire("C2", "record_finding", actor=ZIYANG, at=at("2023-09-04"), finding="属实")
    ledger.fire("C2", "report_result", actor=ZIYANG, at=at("2023-09-05"), summary="已复查")
    second = ledger.get("C2").deadlines["publish_due"]
    assert (second.anchor, second.fired) == (at("2023-09-05").isoformat(), ())
    assert second.due_at > first.due_at
    swept = ledger.sweep(at("2023-10-05"))
    assert publication(swept) == [("C2", "publish_due", "overdue", second.due_at)]
    assert publication(ledger.sweep(at("2023-11-04"))) == []
    alerts = [e for e in ledger.history("C2") if e.name == "alert"]
    published = [[a[:2] for a in e.payload["alerts"] if a[0] == "publish_due"] for e in alerts]
    assert [p for p in published if p] == [
        [["publish_due", "escalation"]],
        [["publish_due", "escalation"]],
    ]
