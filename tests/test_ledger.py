"""The ledger on the in-memory store: creating entities, firing events, permissions and
jurisdictions, guards, deadlines, sweeps, recompute and queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    DeadlineRule,
    GuardError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    Snapshot,
    load_rulebook,
)
from strategies import (
    ACCEPTOR,
    LIAISON,
    OFFICE,
    OWNER,
    PUBLIC,
    RECT_OFFICE,
    SAME_UNIT_ACCEPTOR,
    TEAM,
)

HUNAN = load_rulebook("hunan-provincial-2023")
D = dt.date
ZIYANG = Actor("owner_unit", "430902", "资阳区")
CITY_OWNER = Actor("owner_unit", "430900", "益阳市生态环境局")


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


def stationed(ledger: Ledger, round_id: str = "R") -> Snapshot:
    """A Yiyang round stationed on 2023-06-26 09:00."""
    ledger.create_round(round_id, name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire(round_id, "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire(round_id, "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    return ledger.get(round_id)


def fed_back(ledger: Ledger, round_id: str = "R") -> Snapshot:
    """A Yiyang round given feedback on 2023-09-26 10:00."""
    stationed(ledger, round_id)
    ledger.fire(round_id, "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire(round_id, "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire(round_id, "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=36)
    return ledger.get(round_id)


def complaint(
    ledger: Ledger, cid: str, *, area: str = "430903", received: str = "2023-06-27", **kw: Any
) -> Snapshot:
    """A letter about dust received by the team on ``received`` at 10:00."""
    return ledger.receive_complaint(
        "R",
        channel=kw.pop("channel", "letter"),
        received_at=kw.pop("received_at", at(received, 10)),
        area=area,
        summary="砂石码头粉尘污染",
        category=kw.pop("category", "air"),
        actor=kw.pop("actor", TEAM),
        complaint_id=cid,
        **kw,
    )


def handed_over(ledger: Ledger, cid: str = "C", **kw: Any) -> Snapshot:
    """A complaint received on 06-27 and handed over in the batch of 06-28 at 09:00."""
    complaint(ledger, cid, **kw)
    ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    return ledger.get(cid)


def investigating(ledger: Ledger, cid: str = "C", owners: list[str] | None = None) -> None:
    """Assign a handed-over case to 赫山区 (or ``owners``), which starts investigating."""
    ledger.fire(cid, "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=owners or ["430903"])
    ledger.fire(cid, "start_investigation", actor=OWNER, at=at("2023-06-28", 11))


def planned_task(
    ledger: Ledger, tid: str = "T", deadline: str = "2023-12-29", owner: str = "430903"
) -> Snapshot:
    """A task of the fed-back round, planned on 2023-10-09 for 赫山区 and started."""
    ledger.add_task(
        "R",
        title="砂石码头整治",
        area=owner,
        actor=RECT_OFFICE,
        at=at("2023-10-09"),
        task_id=tid,
        category="water",
    )
    ledger.fire(
        tid,
        "plan",
        actor=RECT_OFFICE,
        at=at("2023-10-09", 10),
        owner=owner,
        measures="拆除非法码头",
        term="short",
        deadline=deadline,
    )
    return ledger.get(tid)


def unchanged(ledger: Ledger, entity_id: str, before: Snapshot, events: int) -> None:
    """Assert the entity has neither moved nor gained events."""
    assert ledger.get(entity_id) == before
    assert len(ledger.history(entity_id)) == events


@pytest.fixture
def ledger() -> Ledger:
    """A ledger on the Hunan 2023 rulebook, in memory."""
    return Ledger(rulebook=HUNAN)


# --- jurisdiction ------------------------------------------------------------------------


def test_a_team_of_another_province_cannot_add_complaints_to_a_round(ledger: Ledger) -> None:
    """A complaint is refused when its creator has no part in the round's area, even if the
    complaint's own area is the creator's."""
    stationed(ledger)
    guangdong = Actor("inspection_team", "440000", "广东省督察组")
    with pytest.raises(PermissionDeniedError) as info:
        complaint(ledger, "C", area="440300", actor=guangdong)
    assert (info.value.role, info.value.area) == ("inspection_team", "440000")
    assert "no part in the round R" in info.value.reason
    assert ledger.find(kind="complaint") == []


def test_a_county_office_may_add_tasks_of_its_own_county_to_the_city_round(
    ledger: Ledger,
) -> None:
    """An actor whose area lies within the round's may create entities in it; one outside
    (another city) may not."""
    fed_back(ledger)
    heshan_office = Actor("rectification_office", "430903", "赫山区整改办")
    task = ledger.add_task(
        "R", title="黑臭水体", area="430903", actor=heshan_office, at=at("2023-10-09"), task_id="T"
    )
    assert task.area == "430903"
    changde = Actor("rectification_office", "430700", "常德市整改办")
    with pytest.raises(PermissionDeniedError, match="no part in the round"):
        ledger.add_task("R", title="x", area="430702", actor=changde, at=at("2023-10-09"))
    with pytest.raises(PermissionDeniedError, match="no part in the round"):
        ledger.request_documents(
            "R",
            documents="台账",
            area="430702",
            actor=Actor("inspection_team", "430700"),
            at=at("2023-10-09"),
        )


def test_assigning_a_case_outside_the_liaisons_jurisdiction_is_refused(ledger: Ledger) -> None:
    """A city's liaison cannot make a unit of another city the owner of a case; nothing
    changes."""
    stationed(ledger)
    before = handed_over(ledger)
    with pytest.raises(PermissionDeniedError) as info:
        ledger.fire(
            "C", "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=["430903", "430702"]
        )
    assert "430702 (owners)" in info.value.reason
    unchanged(ledger, "C", before, 3)


def test_planning_a_task_for_an_owner_outside_the_office_is_refused(ledger: Ledger) -> None:
    """A city's rectification office cannot plan a task for a unit of another province."""
    fed_back(ledger)
    task = ledger.add_task(
        "R", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"), task_id="T"
    )
    with pytest.raises(PermissionDeniedError, match="440300 \\(owner\\)"):
        ledger.fire(
            "T",
            "plan",
            actor=RECT_OFFICE,
            at=at("2023-10-09", 10),
            owner="440300",
            measures="m",
            term="short",
            deadline="2023-12-29",
        )
    unchanged(ledger, "T", task, 1)


def test_can_reports_an_owner_outside_the_jurisdiction_only_when_given(ledger: Ledger) -> None:
    """can() checks an owner's area when the caller names it, and not otherwise."""
    fed_back(ledger)
    ledger.add_task(
        "R", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"), task_id="T"
    )
    assert ledger.can("T", "plan", RECT_OFFICE)
    assert ledger.can("T", "plan", RECT_OFFICE, owner="yiyang-datonghu")
    decision = ledger.can("T", "plan", RECT_OFFICE, owner="440300")
    assert not decision
    assert "no jurisdiction over 440300" in decision.reasons[0]


# --- phone complaints and the station-in ----------------------------------------------------


def test_phone_complaints_after_the_station_in_are_refused(ledger: Ledger) -> None:
    """The hotline closes with the station-in: a call after its last day (or after 20:00 on
    it) is refused, while a late letter and a call entered late but made during the
    station-in are taken."""
    stationed(ledger)
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    with pytest.raises(GuardError) as info:
        complaint(ledger, "P1", channel="phone", received_at=at("2023-07-17", 10))
    assert info.value.guard == "hotline_open"
    with pytest.raises(GuardError, match="08:00–20:00"):
        complaint(ledger, "P2", channel="phone", received_at=at("2023-07-16", 20, 30))
    late_entry = complaint(ledger, "P3", channel="phone", received_at=at("2023-07-16", 19, 59))
    assert late_entry.data["batch_day"] == "2023-07-17"
    letter = complaint(ledger, "L1", received="2023-07-20")
    assert letter.data["batch_day"] == "2023-07-21"
    assert sorted(s.entity_id for s in ledger.find(kind="complaint")) == ["L1", "P3"]


def test_complaints_received_before_the_station_in_are_refused(ledger: Ledger) -> None:
    """A complaint dated before the day the team stationed in cannot have reached it."""
    stationed(ledger)
    with pytest.raises(GuardError, match="before the team stationed in on 2023-06-26"):
        complaint(ledger, "C", received_at=at("2023-06-25", 23))
    early_call = complaint(ledger, "C", channel="phone", received_at=at("2023-06-26", 8))
    assert early_call.data["intake_day"] == "2023-06-26"


# --- who accepts is answerable --------------------------------------------------------------


def claimed(ledger: Ledger, claimant: Actor) -> None:
    fed_back(ledger)
    planned_task(ledger)
    ledger.fire("T", "start", actor=claimant, at=at("2023-10-10"))
    ledger.fire("T", "claim_completion", actor=claimant, at=at("2023-11-01"))


@pytest.mark.parametrize(
    ("claimant", "signer"),
    [
        (OWNER, SAME_UNIT_ACCEPTOR),
        (Actor("owner_unit", "430903"), Actor("accepting_unit", "430903")),
    ],
    ids=["named", "unnamed"],
)
def test_the_claimant_cannot_sign_off_its_own_task(
    ledger: Ledger, claimant: Actor, signer: Actor
) -> None:
    """The unit that claimed completion (same area and name, named or not) may not verify
    and sign it off; the refusal changes nothing."""
    claimed(ledger, claimant)
    ledger.fire("T", "start_verification", actor=signer, at=at("2023-11-02"))
    before = ledger.get("T")
    with pytest.raises(GuardError) as info:
        ledger.fire("T", "sign_off", actor=signer, at=at("2023-11-03"))
    assert info.value.guard == "not_the_claimant"
    assert "谁验收、谁负责" in info.value.reason
    unchanged(ledger, "T", before, before.version)
    ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2023-11-03"))
    assert ledger.get("T").state == "signed_off"


# --- a task sent back is behind its deadline again ------------------------------------------


@pytest.mark.parametrize("send_back", ["fail_verification", "object"])
def test_a_task_sent_back_has_its_deadline_open_again(ledger: Ledger, send_back: str) -> None:
    """A task whose verification fails, or whose public notice meets an objection, is back in
    progress with its rectification deadline open again (same day), overdue once past it and
    escalated by the sweep."""
    claimed(ledger, OWNER)
    assert ledger.get("T").deadlines["rectify_due"].status == "met"
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2023-11-02"))
    if send_back == "object":
        ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2023-11-03"))
        ledger.fire("T", "start_notice", actor=RECT_OFFICE, at=at("2023-11-06"))
        ledger.fire("T", "object", actor=PUBLIC, at=at("2023-11-08"), reason="仍有偷排")
    else:
        ledger.fire("T", "fail_verification", actor=ACCEPTOR, at=at("2023-11-03"), reason="未完成")
    snap = ledger.get("T")
    assert snap.state == "in_progress"
    record = snap.deadlines["rectify_due"]
    assert (record.status, record.ended_at, record.last_day) == ("open", None, D(2023, 12, 29))
    assert [s.entity_id for s in ledger.overdue(at("2024-01-02"), kind="task")] == ["T"]
    names = [n.name for n in ledger.sweep(at("2024-01-02")) if n.entity_id == "T"]
    assert names == ["due_soon", "yellow_card"]
    assert ledger.rebuild("T") == ledger.get("T")


# --- a paused clock does not run -------------------------------------------------------------


def test_a_paused_deadline_is_neither_overdue_nor_escalated(ledger: Ledger) -> None:
    """While a pause holds a task's clock, its due time passing makes it neither overdue nor
    alerted; after the resume the moved deadline is, once it passes."""
    fed_back(ledger)
    planned_task(ledger)
    ledger.fire("T", "start", actor=OWNER, at=at("2023-10-10"))
    ledger.fire(
        "T",
        "pause_clock",
        actor=RECT_OFFICE,
        at=at("2023-11-01"),
        deadline="rectify_due",
        reason="汛期停工",
    )
    assert ledger.get("T").deadlines["rectify_due"].suspended
    assert ledger.overdue(at("2024-01-31"), kind="task") == []
    assert [n for n in ledger.sweep(at("2024-01-31")) if n.entity_id == "T"] == []
    view = {v.name: v for v in ledger.deadlines("T")}["rectify_due"]
    assert not view.is_overdue(at("2024-01-31"))
    ledger.fire("T", "resume_clock", actor=RECT_OFFICE, at=at("2024-01-31"), deadline="rectify_due")
    record = ledger.get("T").deadlines["rectify_due"]
    assert not record.suspended
    # 2023-11-01 .. 2024-01-30 paused: 91 days added to 2023-12-29.
    assert record.last_day == D(2024, 3, 29)
    assert ledger.overdue(at("2024-03-29", 23), kind="task") == []
    assert [s.entity_id for s in ledger.overdue(at("2024-03-30"), kind="task")] == ["T"]


# --- recompute with a changed rulebook --------------------------------------------------------


def test_a_replaced_rulebook_shows_as_moved_until_recompute(ledger: Ledger) -> None:
    """After a rulebook of the same name changes case_result to 5 days, deadlines() still shows
    the stored day marked as moved; recompute reports and records the move."""
    stationed(ledger)
    handed_over(ledger)
    rules = {**HUNAN.rules, "case_result": DeadlineRule.calendar_days(5, name="case_result")}
    ledger.add_rulebook(attrs.evolve(HUNAN, rules=rules))
    view = {v.name: v for v in ledger.deadlines("C")}["result_due"]
    assert view.last_day == D(2023, 7, 10)
    assert view.moved
    assert view.due is not None
    assert view.due.last_day == D(2023, 7, 3)
    assert "2023-07-03" in view.explain("en")
    assert "recompute" in view.explain("en")
    moved = ledger.recompute("C", actor=OFFICE, at=at("2023-06-29"))
    assert [(m.deadline, m.old_last_day, m.new_last_day) for m in moved] == [
        ("result_due", D(2023, 7, 10), D(2023, 7, 3))
    ]
    assert ledger.history("C")[-1].name == "recompute"
    assert ledger.get("C").deadlines["result_due"].last_day == D(2023, 7, 3)
    assert not any(v.moved for v in ledger.deadlines("C"))


# --- can() and idempotency -------------------------------------------------------------------


def test_can_refuses_an_instant_before_the_latest_event(ledger: Ledger) -> None:
    """can() at an instant before the entity's latest event says no, as fire() would."""
    stationed(ledger)
    decision = ledger.can("R", "end_station_in", TEAM, at=at("2023-06-21"))
    assert not decision
    assert "never goes back in time" in decision.reasons[0]
    assert ledger.can("R", "end_station_in", TEAM, at=at("2023-07-16"))


def test_a_command_id_reused_for_another_command_is_refused(ledger: Ledger) -> None:
    """Repeating a command id returns its event, but the same id on another entity or event
    is refused rather than answered with the first command's event."""
    stationed(ledger)
    first = ledger.fire(
        "R", "visit", actor=TEAM, at=at("2023-06-27"), department="市住建局", command_id="visit-1"
    )
    again = ledger.fire(
        "R", "visit", actor=TEAM, at=at("2023-06-27"), department="市住建局", command_id="visit-1"
    )
    assert again == first
    with pytest.raises(PayloadError) as info:
        ledger.fire(
            "R", "talk", actor=TEAM, at=at("2023-06-27"), command_id="visit-1", **{"with": "市长"}
        )
    assert info.value.field == "command_id"
    assert len(ledger.history("R")) == 4


@pytest.mark.parametrize("owners", [[], [""], "430903", ["430903", 5]])
def test_owners_must_be_a_list_of_area_codes(ledger: Ledger, owners: Any) -> None:
    """Assigning a case needs a non-empty list of area codes as owners."""
    stationed(ledger)
    before = handed_over(ledger)
    with pytest.raises(PayloadError) as info:
        ledger.fire("C", "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=owners)
    assert info.value.field == "owners"
    unchanged(ledger, "C", before, 3)
