"""The ledger on the in-memory store: creating entities, firing events, permissions and
jurisdictions, guards, deadlines, sweeps, recompute and queries."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import attrs
import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    AnchorError,
    ChinaCalendar,
    ChronologyError,
    DeadlineRule,
    EntityNotFoundError,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    Snapshot,
    load_rulebook,
    status_report,
)
from inspection_flow._records import Event, iso, replay
from strategies import (
    ACCEPTOR,
    LIAISON,
    OFFICE,
    OWNER,
    PARTY,
    PUBLIC,
    RECT_OFFICE,
    SAME_UNIT_ACCEPTOR,
    TEAM,
)

HUNAN = load_rulebook("hunan-provincial-2023")
D = dt.date
ZIYANG = Actor("owner_unit", "430902", "资阳区")
CITY_OWNER = Actor("owner_unit", "430900", "益阳市生态环境局")
#: The document number (文号) of an acceptance's sign-off.
DOC = "益环督整验〔2023〕1号"


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
    """A team with no part in the round's area cannot add complaints to it."""
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
    """An actor within the round's area may create entities in it; one of another city may not."""
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
    """A city's liaison cannot make a unit of another city a case's owner; nothing changes."""
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
    """Calls after the station-in are refused; late letters and calls made during it are taken."""
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
    """The unit that claimed completion (same area and name) may not sign off its own task."""
    claimed(ledger, claimant)
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2023-11-02"))
    before = ledger.get("T")
    with pytest.raises(GuardError) as info:
        ledger.fire("T", "sign_off", actor=signer, at=at("2023-11-03"), document_number=DOC)
    assert info.value.guard == "not_the_claimant"
    assert "谁验收、谁负责" in info.value.reason
    unchanged(ledger, "T", before, before.version)
    ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2023-11-03"), document_number=DOC)
    assert ledger.get("T").state == "signed_off"


# --- a task sent back is behind its deadline again ------------------------------------------


@pytest.mark.parametrize("send_back", ["fail_verification", "object"])
def test_a_task_sent_back_has_its_deadline_open_again(ledger: Ledger, send_back: str) -> None:
    """A task sent back is in progress with its deadline open again, overdue and escalated."""
    claimed(ledger, OWNER)
    assert ledger.get("T").deadlines["rectify_due"].status == "met"
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2023-11-02"))
    if send_back == "object":
        ledger.fire("T", "sign_off", actor=ACCEPTOR, at=at("2023-11-03"), document_number=DOC)
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
    assert names == ["yellow_card"]  # due_soon, found after the deadline, is superseded
    assert ledger.get("T").deadlines["rectify_due"].fired == ("due_soon", "yellow_card")
    assert ledger.rebuild("T") == ledger.get("T")


# --- a paused clock does not run -------------------------------------------------------------


def test_a_paused_deadline_is_neither_overdue_nor_escalated(ledger: Ledger) -> None:
    """A paused deadline is neither overdue nor alerted; once resumed and past, it is."""
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
    """A changed rule shows the stored deadline as moved until recompute records the move."""
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


def test_a_recorded_move_and_a_retry_are_logged(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """recompute says at INFO which deadlines moved; a retried command says at DEBUG that
    the stored event answers it, both through the library's own logger."""
    stationed(ledger)
    handed_over(ledger)
    rules = {**HUNAN.rules, "case_result": DeadlineRule.calendar_days(5, name="case_result")}
    ledger.add_rulebook(attrs.evolve(HUNAN, rules=rules))
    with caplog.at_level(logging.DEBUG, logger="inspection_flow"):
        ledger.recompute("C", actor=OFFICE, at=at("2023-06-29"))
        for _ in range(2):
            ledger.fire(
                "R",
                "visit",
                actor=TEAM,
                at=at("2023-06-29"),
                department="市住建局",
                command_id="visit-9",
            )
    messages = [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("inspection_flow")
    ]
    assert (logging.INFO, "recompute: C: result_due moved and recorded") in messages
    assert any(
        level == logging.DEBUG and "'visit-9' was applied before" in text
        for level, text in messages
    )


# --- can() and idempotency -------------------------------------------------------------------


def test_can_refuses_an_instant_before_the_latest_event(ledger: Ledger) -> None:
    """can() at an instant before the entity's latest event says no, as fire() would."""
    stationed(ledger)
    decision = ledger.can("R", "end_station_in", TEAM, at=at("2023-06-21"))
    assert not decision
    assert "in the order it happened" in decision.reasons[0]
    assert ledger.can("R", "end_station_in", TEAM, at=at("2023-07-16"))


def test_a_command_id_reused_for_another_command_is_refused(ledger: Ledger) -> None:
    """A command id reused for another entity or event is refused, not answered with the first."""
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


# --- creating entities ----------------------------------------------------------------------


def test_a_round_is_created_planned_by_the_leading_office(ledger: Ledger) -> None:
    """create_round records one creating event and a planned round with its rulebook."""
    rnd = ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    assert (rnd.kind, rnd.state, rnd.version, rnd.area, rnd.terminal) == (
        "round",
        "planned",
        1,
        "430900",
        False,
    )
    assert rnd.data == {
        "name": "益阳市",
        "rulebook": "hunan-provincial-2023",
        "round_type": "routine",
        "batches": 0,
    }
    (event,) = ledger.history("R")
    assert (event.name, event.actor, event.state_before, event.state_after) == (
        "create",
        OFFICE,
        "",
        "planned",
    )
    assert ledger.get("R") == rnd == ledger.rebuild("R")


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        (TEAM, "only leading_office may create"),
        (Actor("leading_office", "440000", "广东省督察办"), "no jurisdiction over 益阳市"),
        (Actor("leading_office", "430903", "赫山区"), "no jurisdiction over 益阳市"),
    ],
)
def test_a_round_by_the_wrong_creator_is_refused(ledger: Ledger, actor: Actor, error: str) -> None:
    """Only a leading office whose area includes the round's may create it."""
    with pytest.raises(PermissionDeniedError, match=error) as info:
        ledger.create_round("R", name="益阳市", area="430900", actor=actor, at=at("2023-06-20"))
    assert (info.value.role, info.value.area) == (actor.role, actor.area)
    with pytest.raises(EntityNotFoundError):
        ledger.get("R")


def test_an_entity_id_is_used_once(ledger: Ledger) -> None:
    """Creating a second entity with a used id is refused and the first stays as it was."""
    rnd = stationed(ledger)
    with pytest.raises(PayloadError) as info:
        ledger.create_round("R", name="x", area="430900", actor=OFFICE, at=at("2023-06-21"))
    assert info.value.field == "entity_id"
    unchanged(ledger, "R", rnd, 3)
    complaint(ledger, "C")
    with pytest.raises(PayloadError, match="already used"):
        complaint(ledger, "C")
    with pytest.raises(PayloadError, match="already used"):
        complaint(ledger, "R")


def test_naive_instants_are_refused(ledger: Ledger) -> None:
    """A datetime without a time zone is refused with AnchorError wherever an instant is due."""
    naive = dt.datetime(2023, 6, 20, 9)
    with pytest.raises(AnchorError):
        ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=naive)
    stationed(ledger)
    with pytest.raises(AnchorError):
        ledger.fire("R", "end_station_in", actor=TEAM, at=naive.replace(month=7))
    with pytest.raises(AnchorError):
        complaint(ledger, "C", received_at=naive.replace(day=27))
    with pytest.raises(AnchorError):
        ledger.sweep(naive)
    assert len(ledger.history("R")) == 3


def test_instants_in_other_zones_are_kept_as_given(ledger: Ledger) -> None:
    """An aware instant in UTC is accepted and its Shanghai day decides the intake day."""
    stationed(ledger)
    call = complaint(
        ledger,
        "C",
        channel="phone",
        received_at=dt.datetime(2023, 6, 27, 12, 30, tzinfo=dt.timezone.utc),
    )
    assert call.data["intake_day"] == "2023-06-28"
    assert call.created_at == at("2023-06-27", 20, 30)


def test_a_look_back_round_names_its_parent(ledger: Ledger) -> None:
    """A look-back (回头看) or special round must name an existing parent round."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    with pytest.raises(PayloadError) as info:
        ledger.create_round(
            "LB",
            name="回头看",
            area="430900",
            actor=OFFICE,
            at=at("2024-06-20"),
            round_type="look_back",
        )
    assert info.value.field == "parent_round"
    with pytest.raises(EntityNotFoundError):
        ledger.create_round(
            "LB",
            name="回头看",
            area="430900",
            actor=OFFICE,
            at=at("2024-06-20"),
            round_type="look_back",
            parent_round="R-0",
        )
    lb = ledger.create_round(
        "LB",
        name="回头看",
        area="430900",
        actor=OFFICE,
        at=at("2024-06-20"),
        round_type="look_back",
        parent_round="R",
    )
    assert (lb.parent_id, lb.data["round_type"]) == ("R", "look_back")


def test_a_complaint_is_received_with_its_intake_and_batch_days(ledger: Ledger) -> None:
    """A complaint records channel, instant, category, intake and batch days and extra fields."""
    stationed(ledger)
    snap = complaint(ledger, "C", complainant="匿名", seen_on=D(2023, 6, 25))
    assert (snap.kind, snap.state, snap.area, snap.category, snap.round_id, snap.batch) == (
        "complaint",
        "received",
        "430903",
        "air",
        "R",
        None,
    )
    assert snap.data["channel"] == "letter"
    assert snap.data["received_at"] == "2023-06-27T10:00:00+08:00"
    assert (snap.data["intake_day"], snap.data["batch_day"]) == ("2023-06-27", "2023-06-28")
    assert (snap.data["complainant"], snap.data["seen_on"]) == ("匿名", "2023-06-25")
    assert snap.deadlines == {}


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"category": "smell"}, PayloadError, "category"),
        ({"channel": "pigeon"}, PayloadError, "channel"),
        ({"actor": LIAISON}, PermissionDeniedError, None),
        ({"actor": Actor("inspection_team", "430700")}, PermissionDeniedError, None),
    ],
)
def test_a_complaint_with_bad_data_is_refused(
    ledger: Ledger, changes: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    """A bad category or channel, or a creator not of the team or area, records no complaint."""
    stationed(ledger)
    with pytest.raises(error) as info:
        complaint(ledger, "C", **changes)
    if field is not None:
        assert info.value.field == field  # type: ignore[attr-defined]
    assert ledger.find(kind="complaint") == []


def test_an_empty_summary_is_refused(ledger: Ledger) -> None:
    """A complaint needs a summary."""
    stationed(ledger)
    with pytest.raises(PayloadError, match="summary"):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2023-06-27"),
            area="430903",
            summary="  ",
            category="air",
            actor=TEAM,
        )


@pytest.mark.parametrize("state_events", [(), ("announce",)])
def test_no_complaint_before_the_round_is_stationed(
    ledger: Ledger, state_events: tuple[str, ...]
) -> None:
    """A planned or announced round takes no complaints (GuardError round_state)."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    for e in state_events:
        ledger.fire("R", e, actor=OFFICE, at=at("2023-06-20", 10))
    with pytest.raises(GuardError) as info:
        complaint(ledger, "C")
    assert info.value.guard == "round_state"
    assert ledger.find(kind="complaint") == []


def test_complaints_without_an_id_get_distinct_ids(ledger: Ledger) -> None:
    """Complaints received without an id get distinct ids under their round."""
    stationed(ledger)
    ids = {complaint(ledger, None).entity_id for _ in range(3)}  # type: ignore[arg-type]
    assert len(ids) == 3
    assert all(i.startswith("R/C-") for i in ids)


def test_creating_with_a_command_id_is_idempotent(ledger: Ledger) -> None:
    """Receiving the same complaint twice with one command id records it once."""
    stationed(ledger)
    first = complaint(ledger, None, command_id="intake-0627-001")  # type: ignore[arg-type]
    again = complaint(ledger, None, command_id="intake-0627-001")  # type: ignore[arg-type]
    assert again == first
    assert len(ledger.find(kind="complaint")) == 1


def test_a_command_id_of_another_complaint_is_refused_for_a_named_one(ledger: Ledger) -> None:
    """A complaint with its own id and a command id that created another is refused."""
    stationed(ledger)
    complaint(ledger, "C-1", command_id="intake-0627-001")
    with pytest.raises(PayloadError) as info:
        complaint(ledger, "C-2", command_id="intake-0627-001")
    assert (info.value.entity_id, info.value.field) == ("C-2", "command_id")
    assert "C-1" in info.value.problem
    assert [s.entity_id for s in ledger.find(kind="complaint")] == ["C-1"]


def test_a_retried_creation_inside_a_batch_returns_the_stored_entity(ledger: Ledger) -> None:
    """Inside a batch, a creation retried without an id returns the entity stored or queued."""
    stationed(ledger)
    stored = complaint(ledger, None, command_id="intake-1")  # type: ignore[arg-type]
    with ledger.batch():
        assert complaint(ledger, None, command_id="intake-1") == stored  # type: ignore[arg-type]
        queued = complaint(ledger, None, command_id="intake-2")  # type: ignore[arg-type]
        assert complaint(ledger, None, command_id="intake-2") == queued  # type: ignore[arg-type]
        with pytest.raises(PayloadError):
            ledger.request_documents(
                "R",
                documents="台账",
                area="430900",
                actor=TEAM,
                at=at("2023-06-28"),
                command_id="intake-2",
            )
    assert len(ledger.find(kind="complaint")) == 2
    assert ledger.get(queued.entity_id) == queued


def test_tasks_come_from_feedback(ledger: Ledger) -> None:
    """Tasks are added from the station-in on by the office or team, with a valid category
    and title."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    with pytest.raises(GuardError, match="while the round is 'announced'"):
        ledger.add_task("R", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-06-21"))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10))
    with pytest.raises(PermissionDeniedError, match="only inspection_team, rectification_office"):
        ledger.add_task("R", title="x", area="430903", actor=OWNER, at=at("2023-10-09"))
    with pytest.raises(PayloadError, match="category"):
        ledger.add_task(
            "R", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"), category="smell"
        )
    with pytest.raises(PayloadError, match="title"):
        ledger.add_task("R", title="", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"))
    task = ledger.add_task(
        "R",
        title="码头整治",
        area="430903",
        actor=TEAM,
        at=at("2023-10-09"),
        task_id="T",
        problem_no=7,
    )
    assert (task.state, task.data["problem_no"], task.deadlines) == ("identified", 7, {})
    with pytest.raises(PayloadError, match="T is a task, not a round"):
        ledger.add_task("T", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"))


def test_a_document_request_starts_its_clock_at_creation(ledger: Ledger) -> None:
    """A document request is due 2 working days after it is made; only the team makes one."""
    stationed(ledger)
    req = ledger.request_documents(
        "R",
        documents="环评审批台账",
        area="430900",
        actor=TEAM,
        at=at("2023-06-27", 15),
        request_id="D",
    )
    assert req.state == "requested"
    assert req.deadlines["provide_due"].last_day == D(2023, 6, 29)
    with pytest.raises(PermissionDeniedError):
        ledger.request_documents(
            "R", documents="x", area="430900", actor=LIAISON, at=at("2023-06-27")
        )
    with pytest.raises(EntityNotFoundError):
        ledger.request_documents(
            "R-9", documents="x", area="430900", actor=TEAM, at=at("2023-06-27")
        )


# --- firing events: refusals --------------------------------------------------------------


def test_an_event_not_possible_now_is_an_invalid_transition(ledger: Ledger) -> None:
    """An event the state does not allow raises InvalidTransitionError; nothing changes."""
    rnd = stationed(ledger)
    with pytest.raises(InvalidTransitionError) as info:
        ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-06-27"))
    err = info.value
    assert (err.entity_id, err.state, err.event) == ("R", "stationed", "give_feedback")
    assert err.allowed == ledger.lifecycle_of(rnd).allowed("stationed")
    assert "end_station_in" in err.allowed
    unchanged(ledger, "R", rnd, 3)


def test_a_final_state_allows_nothing(ledger: Ledger) -> None:
    """A case passed on is final: any further event is refused with nothing allowed."""
    stationed(ledger)
    complaint(ledger, "C")
    ledger.fire("C", "pass_on", actor=TEAM, at=at("2023-06-27", 11), reason="非生态环境问题")
    snap = ledger.get("C")
    assert snap.terminal
    with pytest.raises(InvalidTransitionError) as info:
        ledger.fire("C", "batch", actor=TEAM, at=at("2023-06-28"), number=1)
    assert info.value.allowed == ()
    assert ledger.available("C", TEAM) == []


def test_a_wrong_role_is_refused(ledger: Ledger) -> None:
    """An event fired by a role not allowed raises PermissionDeniedError; nothing changes."""
    rnd = stationed(ledger)
    with pytest.raises(PermissionDeniedError) as info:
        ledger.fire("R", "end_station_in", actor=LIAISON, at=at("2023-07-16"))
    assert (info.value.role, info.value.area, info.value.event) == (
        "liaison",
        "430900",
        "end_station_in",
    )
    assert "only inspection_team may do this" in str(info.value)
    assert isinstance(info.value, PermissionError)
    unchanged(ledger, "R", rnd, 3)


def test_an_owner_of_another_county_is_refused(ledger: Ledger) -> None:
    """资阳区 may not investigate a case assigned to 赫山区; the city's own unit may."""
    stationed(ledger)
    handed_over(ledger)
    ledger.fire("C", "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=["430903"])
    before = ledger.get("C")
    with pytest.raises(PermissionDeniedError) as info:
        ledger.fire("C", "start_investigation", actor=ZIYANG, at=at("2023-06-28", 11))
    assert (info.value.role, info.value.area) == ("owner_unit", "430902")
    assert "资阳区 has no jurisdiction over 赫山区" in str(info.value)
    unchanged(ledger, "C", before, 4)
    ledger.fire("C", "start_investigation", actor=CITY_OWNER, at=at("2023-06-28", 11))


def test_an_unsubstantiated_finding_cannot_start_rectification(ledger: Ledger) -> None:
    """After a finding of 不属实 the owner reports the result instead of rectifying."""
    stationed(ledger)
    handed_over(ledger)
    investigating(ledger)
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-07-01"), finding="unsubstantiated")
    before = ledger.get("C")
    with pytest.raises(GuardError) as info:
        ledger.fire("C", "start_rectification", actor=OWNER, at=at("2023-07-02"))
    assert info.value.guard == "finding_substantiated"
    assert "不属实" in info.value.reason
    unchanged(ledger, "C", before, before.version)
    ledger.fire("C", "report_result", actor=OWNER, at=at("2023-07-02"), summary="经核查不属实")
    assert ledger.get("C").state == "reported"


@pytest.mark.parametrize(
    "finding", ["substantiated", "largely_substantiated", "partly_substantiated"]
)
def test_a_substantiated_finding_starts_rectification(ledger: Ledger, finding: str) -> None:
    """A finding of 属实, 基本属实 or 部分属实 lets the owner start rectifying."""
    stationed(ledger)
    handed_over(ledger)
    investigating(ledger)
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-07-01"), finding=finding)
    ledger.fire("C", "start_rectification", actor=OWNER, at=at("2023-07-02"))
    assert ledger.get("C").data["finding"] == finding


def test_closing_waits_for_the_public_notice(ledger: Ledger) -> None:
    """A task closes only at 24:00 of the public notice's last day, not a minute before."""
    fed_back(ledger)
    planned_task(ledger)
    for event, actor, day in [
        ("start", OWNER, "2023-10-10"),
        ("claim_completion", OWNER, "2023-11-01"),
        ("start_verification", ACCEPTOR, "2023-11-02"),
        ("sign_off", ACCEPTOR, "2023-11-03"),
        ("start_notice", RECT_OFFICE, "2023-11-06"),
    ]:
        signed = {"document_number": DOC} if event == "sign_off" else {}
        ledger.fire("T", event, actor=actor, at=at(day), **signed)
    notice = ledger.get("T").deadlines["notice_ends"]
    assert notice.last_day == D(2023, 11, 17)
    before = ledger.get("T")
    with pytest.raises(GuardError) as info:
        ledger.fire("T", "close", actor=RECT_OFFICE, at=at("2023-11-17", 23, 59))
    assert info.value.guard == "notice_elapsed"
    assert "2023-11-17 24:00" in info.value.reason
    unchanged(ledger, "T", before, before.version)
    assert not ledger.can("T", "close", RECT_OFFICE, at=at("2023-11-17", 23, 59))
    assert ledger.can("T", "close", RECT_OFFICE, at=at("2023-11-18", 0))
    ledger.fire("T", "close", actor=RECT_OFFICE, at=at("2023-11-18", 0))
    snap = ledger.get("T")
    assert snap.state == "closed"
    assert snap.deadlines["notice_ends"].status == "met"


def test_closing_the_round_waits_for_every_task(ledger: Ledger) -> None:
    """close_all is refused while a task of the round is open, naming it."""
    fed_back(ledger)
    for event, actor in [
        ("submit_plan", PARTY),
        ("approve_plan", OFFICE),
        ("publish_plan", LIAISON),
        ("start_rectification", RECT_OFFICE),
    ]:
        ledger.fire("R", event, actor=actor, at=at("2023-10-09"))
    planned_task(ledger, "T-1")
    planned_task(ledger, "T-2")
    before = ledger.get("R")
    with pytest.raises(GuardError) as info:
        ledger.fire("R", "close_all", actor=RECT_OFFICE, at=at("2023-10-10"))
    assert info.value.guard == "all_tasks_closed"
    assert "2 task(s) neither closed nor kept up for the long term" in info.value.reason
    assert "T-1 (planned), T-2 (planned)" in info.value.reason
    unchanged(ledger, "R", before, before.version)


@pytest.mark.parametrize(
    ("event", "payload", "field", "problem"),
    [
        ("assign", {}, "owners", "is required"),
        ("assign", {"owners": ["430903"], "owner": "430903"}, "owner", "unknown field"),
        ("assign", {"owners": ["430903"], "mode": "joint"}, "mode", "must be one of"),
        ("assign", {"owners": ["430903", "430981"], "mode": "single"}, "mode", "shared"),
        ("split", {"areas": "430903"}, "areas", "list of area codes"),
        ("mark_key", {"why": "x"}, "why", "known: none"),
    ],
)
def test_bad_payloads_are_refused(
    ledger: Ledger, event: str, payload: dict[str, Any], field: str, problem: str
) -> None:
    """A missing, unknown or malformed field raises PayloadError naming it; nothing changes."""
    stationed(ledger)
    before = handed_over(ledger)
    actor = TEAM if event == "mark_key" else LIAISON
    with pytest.raises(PayloadError) as info:
        ledger.fire("C", event, actor=actor, at=at("2023-06-28", 10), **payload)
    assert (info.value.entity_id, info.value.event, info.value.field) == ("C", event, field)
    assert problem in info.value.problem
    unchanged(ledger, "C", before, 3)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"deadline": "2023-13-01"}, "deadline"),
        ({"deadline": "2023-10-09"}, "deadline"),
        ({"deadline": dt.datetime(2023, 12, 29, tzinfo=SHANGHAI)}, "deadline"),
        ({"term": "forever"}, "term"),
        ({"measures": ""}, "measures"),
        ({"owner": 430903}, "owner"),
    ],
)
def test_a_plan_needs_owner_measures_term_and_a_later_deadline(
    ledger: Ledger, changes: dict[str, Any], field: str
) -> None:
    """A task's plan needs owner, measures, a term and a deadline after the planning day."""
    fed_back(ledger)
    task = ledger.add_task(
        "R", title="x", area="430903", actor=RECT_OFFICE, at=at("2023-10-09"), task_id="T"
    )
    payload = {"owner": "430903", "measures": "m", "term": "short", "deadline": "2023-12-29"}
    with pytest.raises(PayloadError) as info:
        ledger.fire(
            "T", "plan", actor=RECT_OFFICE, at=at("2023-10-09", 10), **{**payload, **changes}
        )
    assert info.value.field == field
    unchanged(ledger, "T", task, 1)


def test_an_event_before_the_latest_is_a_chronology_error(ledger: Ledger) -> None:
    """An event before the latest one raises ChronologyError; one at the same instant is fine."""
    rnd = stationed(ledger)
    with pytest.raises(ChronologyError) as info:
        ledger.fire("R", "visit", actor=TEAM, at=at("2023-06-26", 8, 59), department="市林业局")
    assert (info.value.at, info.value.latest) == (at("2023-06-26", 8, 59), at("2023-06-26"))
    unchanged(ledger, "R", rnd, 3)
    ledger.fire("R", "visit", actor=TEAM, at=at("2023-06-26"), department="市林业局")


def test_unknown_entities_and_non_actors_are_refused(ledger: Ledger) -> None:
    """An unknown id raises EntityNotFoundError; an actor that is not an Actor, PayloadError."""
    rnd = stationed(ledger)
    with pytest.raises(EntityNotFoundError) as info:
        ledger.fire("R-404", "announce", actor=OFFICE, at=at("2023-06-27"))
    assert isinstance(info.value, LookupError)
    with pytest.raises(PayloadError, match="actor"):
        ledger.fire("R", "end_station_in", actor={"role": "inspection_team"}, at=at("2023-07-16"))  # type: ignore[arg-type]
    unchanged(ledger, "R", rnd, 3)
    with pytest.raises(EntityNotFoundError):
        ledger.history("R-404")


def test_every_refusal_is_an_inspection_flow_error() -> None:
    """The errors a ledger raises for refused commands share the library's root."""
    for cls in (
        InvalidTransitionError,
        PermissionDeniedError,
        GuardError,
        PayloadError,
        ChronologyError,
        AnchorError,
        EntityNotFoundError,
    ):
        assert issubclass(cls, InspectionFlowError)


# --- activities ----------------------------------------------------------------------------


def test_activities_are_recorded_without_moving_the_round(ledger: Ledger) -> None:
    """Meetings, visits and talks are events whose state before and after is the same."""
    stationed(ledger)
    ledger.fire("R", "visit", actor=TEAM, at=at("2023-06-27"), department="市生态环境局")
    ledger.fire("R", "talk", actor=TEAM, at=at("2023-06-27", 15), **{"with": "市长"})
    ledger.fire("R", "hold_meeting", actor=PARTY, at=at("2023-06-27", 16), kind="briefing")
    events = ledger.history("R")[-3:]
    assert [e.name for e in events] == ["visit", "talk", "hold_meeting"]
    assert all(e.state_before == e.state_after == "stationed" for e in events)
    assert ledger.get("R").state == "stationed"
    assert "with" not in ledger.get("R").data  # activities stay in the history only
    assert events[1].payload["with"] == "市长"


# --- can and available ---------------------------------------------------------------------


def test_can_and_available_answer_for_each_actor(ledger: Ledger) -> None:
    """can() and available() answer, with reasons, what each actor may do now."""
    stationed(ledger)
    handed_over(ledger)
    assert ledger.can("C", "assign", LIAISON)
    no = ledger.can("C", "assign", OWNER)
    assert not no
    assert "only inspected_party, liaison may do this" in no.reasons[0]
    assert not ledger.can("C", "accept", LIAISON).allowed
    assert "not possible in state 'handed_over'" in ledger.can("C", "accept", LIAISON).reasons[0]
    assert ledger.available("C", LIAISON) == ["split", "assign"]
    assert ledger.available("C", PARTY) == ["split", "assign"]
    assert ledger.available("C", TEAM) == [
        "mark_duplicate",
        "mark_key",
        "pause_clock",
        "grant_extension",
    ]
    assert ledger.available("C", RECT_OFFICE) == ["pause_clock", "grant_extension"]
    assert ledger.available("C", OWNER) == []
    assert ledger.available("C", Actor("liaison", "430700")) == []
    ledger.fire(
        "C",
        "pause_clock",
        actor=RECT_OFFICE,
        at=at("2023-06-29"),
        deadline="result_due",
        reason="x",
    )
    # Its only clock is paused: it may be resumed or extended, and nothing else paused.
    assert ledger.available("C", RECT_OFFICE) == ["resume_clock", "grant_extension"]


def test_a_city_office_acts_on_its_counties(ledger: Ledger) -> None:
    """A city's office acts on and sees its counties' tasks; a county's office only its own."""
    fed_back(ledger)
    planned_task(ledger, "T-HS", owner="430903")
    planned_task(ledger, "T-ZY", owner="430902")
    city = Actor("rectification_office", "430900")
    heshan = Actor("rectification_office", "430903", "赫山区整改办")
    ledger.fire("T-HS", "start", actor=OWNER, at=at("2023-10-10"))
    ledger.fire("T-ZY", "start", actor=ZIYANG, at=at("2023-10-10"))
    assert ledger.can("T-HS", "mark_long_term", city)
    assert ledger.can("T-ZY", "mark_long_term", city)
    assert ledger.can("T-HS", "mark_long_term", heshan)
    decision = ledger.can("T-ZY", "mark_long_term", heshan)
    assert not decision
    assert "赫山区 has no jurisdiction over 资阳区" in decision.reasons[0]
    assert [s.entity_id for s in ledger.find(kind="task", area="430903")] == ["T-HS"]
    assert [s.entity_id for s in ledger.find(kind="task", area="430900")] == ["T-HS", "T-ZY"]


def test_a_shared_case_may_be_handled_by_either_owner(ledger: Ledger) -> None:
    """A case shared by 赫山区 and 资阳区 (共办) is open to both, not to a third county."""
    stationed(ledger)
    handed_over(ledger)
    ledger.fire(
        "C",
        "assign",
        actor=LIAISON,
        at=at("2023-06-28", 10),
        owners=["430903", "430902", "430903"],
        mode="shared",
    )
    snap = ledger.get("C")
    assert (snap.area, snap.areas, snap.data["mode"]) == ("430903", ("430903", "430902"), "shared")
    assert ledger.can("C", "start_investigation", OWNER)
    assert ledger.can("C", "start_investigation", ZIYANG)
    assert not ledger.can("C", "start_investigation", Actor("owner_unit", "430921", "南县"))
    ledger.fire("C", "start_investigation", actor=ZIYANG, at=at("2023-06-29"))
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-06-30"), finding="substantiated")
    assert [s.entity_id for s in ledger.find(kind="complaint", area="430902")] == ["C"]


def test_a_split_case_gives_each_area_its_own_case_on_the_parents_clock(ledger: Ledger) -> None:
    """Splitting ends the parent; each area's part keeps the parent's result clock."""
    stationed(ledger)
    parent = handed_over(ledger)
    with pytest.raises(PayloadError, match="two different areas"):
        ledger.split_case("C", ["430903", "430903"], actor=LIAISON, at=at("2023-06-28", 10))
    with pytest.raises(PermissionDeniedError):
        ledger.split_case("C", ["430903", "430702"], actor=LIAISON, at=at("2023-06-28", 10))
    unchanged(ledger, "C", parent, 3)
    children = ledger.split_case("C", ["430903", "430902"], actor=LIAISON, at=at("2023-06-28", 10))
    assert [c.entity_id for c in children] == ["C-1", "C-2"]
    done = ledger.get("C")
    assert (done.state, done.terminal) == ("split", True)
    assert {r.status for r in done.deadlines.values()} == {"cancelled"}
    for child, area in zip(children, ["430903", "430902"], strict=True):
        snap = ledger.get(child.entity_id)
        assert (snap.state, snap.area, snap.parent_id, snap.batch) == ("handed_over", area, "C", 1)
        assert snap.data["split_from"] == "C"
        assert snap.deadlines["result_due"].last_day == parent.deadlines["result_due"].last_day
        assert ledger.rebuild(child.entity_id) == snap
    ledger.fire("C-2", "assign", actor=LIAISON, at=at("2023-06-28", 11), owners=["430902"])
    with pytest.raises(PermissionDeniedError):
        ledger.fire("C-2", "start_investigation", actor=OWNER, at=at("2023-06-28", 12))
    ledger.fire("C-2", "start_investigation", actor=ZIYANG, at=at("2023-06-28", 12))
    assert ledger.find(parent_id="C") == [ledger.get("C-1"), ledger.get("C-2")]


# --- idempotency ---------------------------------------------------------------------------


def test_repeating_a_command_appends_nothing(ledger: Ledger) -> None:
    """A fire repeated with its command id returns the first event and appends nothing."""
    stationed(ledger)
    first = ledger.fire(
        "R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18), command_id="end-R"
    )
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    again = ledger.fire(
        "R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18), command_id="end-R"
    )
    assert again == first
    assert again.command_id == "end-R"
    assert [e.name for e in ledger.history("R")][-2:] == ["end_station_in", "approve_report"]
    assert ledger.get("R").state == "report_approved"


# --- clocks: pauses, resumes, extensions ---------------------------------------------------


def test_pauses_and_extensions_are_events_that_move_the_deadline(ledger: Ledger) -> None:
    """Pauses, resumes and extensions are events that move the deadline and are explained."""
    stationed(ledger)
    handed_over(ledger)
    assert ledger.get("C").deadlines["result_due"].last_day == D(2023, 7, 10)
    ledger.fire(
        "C",
        "pause_clock",
        actor=RECT_OFFICE,
        at=at("2023-06-30", 10),
        deadline="result_due",
        reason="等待检测报告",
    )
    record = ledger.get("C").deadlines["result_due"]
    assert record.suspended
    assert record.pauses == (("2023-06-30T10:00:00+08:00", None, "等待检测报告"),)
    ledger.fire(
        "C", "resume_clock", actor=RECT_OFFICE, at=at("2023-07-03", 10), deadline="result_due"
    )
    assert ledger.get("C").deadlines["result_due"].last_day == D(2023, 7, 11)
    ledger.fire(
        "C",
        "grant_extension",
        actor=TEAM,
        at=at("2023-07-04", 10),
        deadline="result_due",
        reason="案情复杂",
        amount=5,
        unit="calendar_days",
    )
    record = ledger.get("C").deadlines["result_due"]
    assert (record.last_day, record.due_at) == (D(2023, 7, 17), at("2023-07-18", 0))
    assert [e["reason"] for e in record.extensions] == ["案情复杂"]
    ledger.fire(
        "C",
        "grant_extension",
        actor=TEAM,
        at=at("2023-07-05", 10),
        deadline="result_due",
        reason="需补充调查",
        until=D(2023, 7, 31),
    )
    assert ledger.get("C").deadlines["result_due"].last_day == D(2023, 7, 31)
    names = [e.name for e in ledger.history("C")]
    assert names[-4:] == ["pause_clock", "resume_clock", "grant_extension", "grant_extension"]
    text = {v.name: v for v in ledger.deadlines("C")}["result_due"].explain("en")
    for part in ("Paused", "等待检测报告", "Extended", "案情复杂", "需补充调查", "2023-07-31"):
        assert part in text
    assert ledger.rebuild("C") == ledger.get("C")


@pytest.mark.parametrize(
    ("event", "payload", "error", "name"),
    [
        ("resume_clock", {"deadline": "result_due"}, GuardError, "clock_paused"),
        ("pause_clock", {"deadline": "plan_due", "reason": "x"}, PayloadError, "deadline"),
        ("grant_extension", {"deadline": "result_due", "reason": "x"}, PayloadError, "amount"),
        (
            "grant_extension",
            {
                "deadline": "result_due",
                "reason": "x",
                "amount": 3,
                "unit": "calendar_days",
                "until": "2023-08-01",
            },
            PayloadError,
            "amount",
        ),
        (
            "grant_extension",
            {"deadline": "result_due", "reason": "x", "amount": 3, "unit": "working_days"},
            PayloadError,
            "amount",
        ),
        (
            "grant_extension",
            {"deadline": "result_due", "reason": "x", "until": "2023-07-01"},
            PayloadError,
            "until",
        ),
        (
            "grant_extension",
            {"deadline": "result_due", "reason": "x", "amount": 3},
            PayloadError,
            "amount",
        ),
    ],
)
def test_clock_commands_are_checked(
    ledger: Ledger, event: str, payload: dict[str, Any], error: type[Exception], name: str
) -> None:
    """Malformed or impossible pauses, resumes and extensions are refused; nothing changes."""
    stationed(ledger)
    before = handed_over(ledger)
    with pytest.raises(error) as info:
        ledger.fire("C", event, actor=RECT_OFFICE, at=at("2023-06-30"), **payload)
    got = getattr(info.value, "guard", None) or getattr(info.value, "field", None)
    assert got == name
    unchanged(ledger, "C", before, 3)


def test_a_clock_paused_after_an_extension_runs_on_from_the_extended_day(
    ledger: Ledger,
) -> None:
    """Extended until 07-31, then paused for three days: the resume moves 07-31 on by the
    days paused, and an extension until a day before the last day is refused."""
    stationed(ledger)
    handed_over(ledger)
    ledger.fire(
        "C",
        "grant_extension",
        actor=TEAM,
        at=at("2023-07-05", 10),
        deadline="result_due",
        reason="需补充调查",
        until=D(2023, 7, 31),
    )
    for event, when, extra in (
        ("pause_clock", "2023-07-20", {"reason": "等待检测报告"}),
        ("resume_clock", "2023-07-23", {}),
    ):
        ledger.fire("C", event, actor=RECT_OFFICE, at=at(when, 10), deadline="result_due", **extra)
    record = ledger.get("C").deadlines["result_due"]
    assert record.last_day == D(2023, 8, 3)
    assert ledger.rebuild("C") == ledger.get("C")
    before = ledger.get("C")
    with pytest.raises(PayloadError, match="before the current last day 2023-08-03") as info:
        ledger.fire(
            "C",
            "grant_extension",
            actor=TEAM,
            at=at("2023-07-24", 10),
            deadline="result_due",
            reason="x",
            until=D(2023, 8, 1),
        )
    assert info.value.field == "until"
    assert ledger.get("C") == before


def test_a_clock_cannot_be_paused_twice_or_by_an_owner(ledger: Ledger) -> None:
    """A paused clock cannot be paused again, and owner units do not keep clocks."""
    stationed(ledger)
    handed_over(ledger)
    ledger.fire(
        "C",
        "pause_clock",
        actor=RECT_OFFICE,
        at=at("2023-06-30"),
        deadline="result_due",
        reason="x",
    )
    with pytest.raises(GuardError, match="already paused"):
        ledger.fire(
            "C",
            "pause_clock",
            actor=RECT_OFFICE,
            at=at("2023-07-01"),
            deadline="result_due",
            reason="y",
        )
    ledger.fire("C", "assign", actor=LIAISON, at=at("2023-07-01"), owners=["430903"])
    with pytest.raises(PermissionDeniedError):
        ledger.fire("C", "resume_clock", actor=OWNER, at=at("2023-07-02"), deadline="result_due")


def test_an_approved_task_extension_moves_its_deadline(ledger: Ledger) -> None:
    """An approved task extension moves its deadline to the day approved; a denied one does not."""
    fed_back(ledger)
    planned_task(ledger)
    ledger.fire("T", "start", actor=OWNER, at=at("2023-10-10"))
    ledger.fire("T", "request_extension", actor=OWNER, at=at("2023-12-01"), reason="汛期")
    ledger.fire("T", "deny_extension", actor=RECT_OFFICE, at=at("2023-12-02"), reason="不充分")
    assert ledger.get("T").deadlines["rectify_due"].last_day == D(2023, 12, 29)
    ledger.fire("T", "request_extension", actor=OWNER, at=at("2023-12-03"), reason="汛期")
    with pytest.raises(PayloadError, match="cannot shorten"):
        ledger.fire(
            "T",
            "approve_extension",
            actor=RECT_OFFICE,
            at=at("2023-12-04"),
            reason="同意",
            until="2023-12-20",
        )
    ledger.fire(
        "T",
        "approve_extension",
        actor=RECT_OFFICE,
        at=at("2023-12-04"),
        reason="同意",
        until="2024-03-31",
    )
    snap = ledger.get("T")
    assert (snap.state, snap.deadlines["rectify_due"].last_day) == ("in_progress", D(2024, 3, 31))
    text = {v.name: v for v in ledger.deadlines("T")}["rectify_due"].explain("en")
    assert "Extended: 同意" in text


# --- deadlines and their explanations -------------------------------------------------------


def test_deadlines_are_explained_with_their_status(ledger: Ledger) -> None:
    """deadlines() gives labels, stored days, an explanation and the status of each deadline."""
    stationed(ledger)
    (view,) = ledger.deadlines("R")
    assert (view.name, view.label_zh, view.label_en, view.status) == (
        "station_in_ends",
        "进驻结束",
        "end of station-in",
        "open",
    )
    assert (view.last_day, view.due_at, view.moved) == (D(2023, 7, 16), at("2023-07-17", 0), False)
    zh = view.explain()
    assert "含起算日" in zh
    assert "2023-07-16" in zh
    assert "状态：未完成" in zh
    # The end of the station-in is the end of a period, never overdue.
    assert not view.is_overdue(at("2023-07-17", 0))
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    (view,) = ledger.deadlines("R")
    assert view.status == "met"
    assert "Status: met 2023-07-16T18:00:00+08:00" in view.explain("en")
    assert not view.is_overdue(at("2023-08-01"))


def test_a_task_deadline_is_explained_as_given_in_the_plan(ledger: Ledger) -> None:
    """A task's deadline comes from its plan and is explained so."""
    fed_back(ledger)
    planned_task(ledger)
    (view,) = ledger.deadlines("T")
    assert view.last_day == D(2023, 12, 29)
    assert "期限由方案确定（2023-10-09）：2023-12-29 24:00" in view.explain()
    assert "Deadline set in the plan" in view.explain("en")


# --- sweeps ----------------------------------------------------------------------------------


def test_a_tasks_ladder_fires_in_order_each_alert_once(ledger: Ledger) -> None:
    """A task's warning and escalation ladder fires in order, each alert once, as an event."""
    fed_back(ledger)
    planned_task(ledger)
    ledger.fire("T", "start", actor=OWNER, at=at("2023-10-10"))
    rect = ledger.get("T").deadlines["rectify_due"]
    assert [(a[1], a[2]) for a in rect.alerts] == [
        ("due_soon", at("2023-12-15", 0)),
        ("yellow_card", at("2023-12-30", 0)),
        ("supervision_letter", at("2024-01-16", 0)),
        ("summons_talk", at("2024-02-10", 0)),
    ]
    seen: list[str] = []
    for instant in [
        at("2023-12-14", 23, 59),
        at("2023-12-15", 0),
        at("2023-12-15", 0),
        at("2023-12-29", 23, 59),
        at("2023-12-30", 0),
        at("2024-01-16", 0),
        at("2024-01-16", 0),
        at("2024-02-10", 0),
        at("2024-06-01", 0),
    ]:
        for _ in range(2):
            notices = [n for n in ledger.sweep(instant) if n.entity_id == "T"]
            seen.extend(n.name for n in notices)
            for n in notices:
                assert (n.kind, n.area, n.deadline) == ("task", "430903", "rectify_due")
                assert n.due_at == at("2023-12-30", 0)
                assert n.at <= instant
    assert seen == ["due_soon", "yellow_card", "supervision_letter", "summons_talk"]
    alerts = [e for e in ledger.history("T") if e.name == "alert"]
    assert [e.payload["alerts"][0][2] for e in alerts] == seen
    assert all(e.actor.role == "system" and e.state_before == e.state_after for e in alerts)
    assert ledger.get("T").deadlines["rectify_due"].fired == tuple(seen)


def test_a_late_sweep_records_every_alert_due_at_once(ledger: Ledger) -> None:
    """A late first sweep records every alert due, in order, in one event; the next finds none.

    The early warning, found only after the deadline passed, is recorded as superseded
    and not announced: the escalations say more.
    """
    fed_back(ledger)
    planned_task(ledger)
    notices = [n for n in ledger.sweep(at("2024-03-01")) if n.entity_id == "T"]
    assert [n.name for n in notices] == ["yellow_card", "supervision_letter", "summons_talk"]
    alerts = [e for e in ledger.history("T") if e.name == "alert"]
    assert len(alerts) == 1
    assert [a[2] for a in alerts[0].payload["superseded"]] == ["due_soon"]
    assert ledger.get("T").deadlines["rectify_due"].fired == (
        "due_soon",
        "yellow_card",
        "supervision_letter",
        "summons_talk",
    )
    assert ledger.sweep(at("2024-03-01")) == []
    assert ledger.sweep(at("2024-03-02")) == []


def test_a_sweep_is_logged_at_info(ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    """Each sweep says at INFO, through the library's own logger, how many alerts it recorded."""
    fed_back(ledger)
    planned_task(ledger)
    with caplog.at_level(logging.INFO, logger="inspection_flow"):
        notices = ledger.sweep(at("2024-03-01"))
    [record] = [r for r in caplog.records if r.name.startswith("inspection_flow")]
    assert record.levelno == logging.INFO
    assert f"{len(notices)} alerts recorded" in record.getMessage()


def test_a_warning_found_just_before_the_deadline_is_announced(ledger: Ledger) -> None:
    """A warning is superseded only once its deadline has passed, not by lateness alone."""
    fed_back(ledger)
    planned_task(ledger)
    notices = [n for n in ledger.sweep(at("2023-12-29", 23, 59)) if n.entity_id == "T"]
    assert [n.name for n in notices] == ["due_soon"]
    assert "superseded" not in ledger.history("T")[-1].payload
    notices = [n for n in ledger.sweep(at("2023-12-30", 0)) if n.entity_id == "T"]
    assert [n.name for n in notices] == ["yellow_card"]


def test_a_warning_found_at_the_due_instant_is_superseded(ledger: Ledger) -> None:
    """At the due instant (24:00 of the last day) the deadline has passed."""
    fed_back(ledger)
    planned_task(ledger)
    notices = [n for n in ledger.sweep(at("2023-12-30", 0)) if n.entity_id == "T"]
    assert [n.name for n in notices] == ["yellow_card"]
    assert ledger.get("T").deadlines["rectify_due"].fired == ("due_soon", "yellow_card")
    assert ledger.sweep(at("2023-12-31")) == []


def test_a_sweep_uses_the_injected_clock() -> None:
    """Without an instant, sweep asks the ledger's clock."""

    class Fixed:
        def now(self) -> dt.datetime:
            return at("2023-07-20")

    ledger = Ledger(rulebook=HUNAN, clock=Fixed())
    stationed(ledger)
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D-1"
    )
    notices = ledger.sweep()
    assert [(n.entity_id, n.deadline, n.name) for n in notices] == [
        ("D-1", "provide_due", "overdue")
    ]


def test_the_end_of_a_period_is_never_overdue() -> None:
    """A station-in or public notice that has ended raises no alert and is not overdue."""
    ledger = Ledger(rulebook=HUNAN)
    stationed(ledger)
    assert ledger.sweep(at("2023-07-20")) == []
    assert ledger.overdue(at("2023-07-20")) == []
    (view,) = ledger.deadlines("R")
    assert view.name == "station_in_ends"
    assert not view.is_overdue(at("2023-07-20"))


def test_a_met_deadline_raises_no_alert(ledger: Ledger) -> None:
    """A document provided in time is never overdue; one withdrawn is cancelled."""
    stationed(ledger)
    for rid in ("D-1", "D-2", "D-3"):
        ledger.request_documents(
            "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id=rid
        )
    ledger.fire("D-1", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    ledger.fire("D-2", "withdraw", actor=TEAM, at=at("2023-06-28"))
    assert ledger.get("D-1").deadlines["provide_due"].status == "met"
    assert ledger.get("D-2").deadlines["provide_due"].status == "cancelled"
    notices = ledger.sweep(at("2023-07-03"))
    assert [(n.entity_id, n.name) for n in notices if n.kind == "document_request"] == [
        ("D-3", "overdue")
    ]
    assert [s.entity_id for s in ledger.overdue(at("2023-07-03"), kind="document_request")] == [
        "D-3"
    ]


# --- recompute -------------------------------------------------------------------------------


def test_recompute_with_a_calendar_holding_a_local_rest_day(ledger: Ledger) -> None:
    """A local rest day shows a deadline as moved; recompute reports and records it once."""
    stationed(ledger)
    handed_over(ledger)
    local = ChinaCalendar().with_local_days("益阳市 2023 防汛调休", rest_days=[D(2023, 7, 10)])
    other = Ledger(ledger.store, rulebook=HUNAN, calendar=local)
    view = {v.name: v for v in other.deadlines("C")}["result_due"]
    assert (view.last_day, view.moved) == (D(2023, 7, 10), True)
    assert view.due is not None
    assert view.due.last_day == D(2023, 7, 11)
    assert not {v.name: v for v in ledger.deadlines("C")}["result_due"].moved
    version = ledger.get("C").version
    preview = other.recompute("C", actor=OFFICE, at=at("2023-06-29"), apply=False)
    assert ledger.get("C").version == version
    moved = other.recompute("C", actor=OFFICE, at=at("2023-06-29"))
    assert moved == preview
    (m,) = moved
    assert (m.entity_id, m.deadline, m.old_last_day, m.new_last_day) == (
        "C",
        "result_due",
        D(2023, 7, 10),
        D(2023, 7, 11),
    )
    assert m.old_calendar_version != m.new_calendar_version == local.version
    last = other.history("C")[-1]
    assert (last.name, last.payload, last.actor) == ("recompute", {"moved": ["result_due"]}, OFFICE)
    assert other.get("C").deadlines["result_due"].calendar_version == local.version
    assert other.recompute("C", actor=OFFICE, at=at("2023-06-29")) == []
    assert len(other.history("C")) == version + 1


def test_recompute_leaves_closed_deadlines_alone(ledger: Ledger) -> None:
    """Deadlines already met are history: recompute neither reports nor changes them."""
    stationed(ledger)
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    rules = {**HUNAN.rules, "station_in": DeadlineRule.calendar_days(30, name="station_in")}
    ledger.add_rulebook(attrs.evolve(HUNAN, rules=rules))
    assert not ledger.deadlines("R")[0].moved
    assert ledger.recompute("R", actor=OFFICE, at=at("2023-07-17")) == []


# --- queries ---------------------------------------------------------------------------------


def test_overdue_due_within_counts_and_rates(ledger: Ledger) -> None:
    """overdue, due_within, counts and rates answer for the round and for an area."""
    stationed(ledger)
    complaint(ledger, "C-1", area="430903")
    complaint(ledger, "C-2", area="430902", category="water")
    complaint(ledger, "C-3", area="yiyang-datonghu", category="water")
    complaint(ledger, "C-4", area="430903", received="2023-06-28")
    ledger.fire("C-3", "pass_on", actor=TEAM, at=at("2023-06-27", 11))
    ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    ledger.hand_over_batch("R", D(2023, 6, 29), actor=TEAM, at=at("2023-06-29"))
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D"
    )
    assert ledger.counts("state", kind="complaint") == {"handed_over": 3, "passed_on": 1}
    assert ledger.counts("batch", kind="complaint") == {1: 2, None: 1, 2: 1}
    assert ledger.counts("category", kind="complaint") == {"air": 2, "water": 2}
    assert ledger.counts("area", kind="complaint", area="430903") == {"430903": 2}
    assert ledger.counts("kind", round_id="R") == {"complaint": 4, "document_request": 1}
    assert ledger.counts("kind", area="430900") == {
        "round": 1,
        "complaint": 4,
        "document_request": 1,
    }
    now = at("2023-07-08", 12)
    # The results of 06-28's batch fall due on Saturday 07-08, rolled to Monday 07-10.
    assert [s.entity_id for s in ledger.overdue(now)] == ["D"]
    later = at("2023-07-11", 12)
    overdue = ledger.overdue(later)
    assert [s.entity_id for s in overdue] == ["D", "C-1", "C-2", "C-4"]
    assert [s.entity_id for s in ledger.overdue(later, kind="complaint", area="430902")] == ["C-2"]
    soon = ledger.due_within(2, at("2023-07-08"))
    assert [s.entity_id for s in soon] == ["C-1", "C-2", "C-4"]
    assert ledger.due_within(2, at("2023-07-08"), area="430902") == [ledger.get("C-2")]
    rates = ledger.rates(now, round_id="R")
    assert (
        rates.items()
        >= {
            "case_closing_rate": 0.0,
            "task_closing_rate": None,
            "on_schedule_rate": None,
            "case_on_time_rate": None,
            "cases_overdue": 0,
        }.items()
    )


def test_rates_count_closed_cases_and_tasks_on_schedule(ledger: Ledger) -> None:
    """Rates count closed cases in scope, closed tasks, and open tasks not yet due."""
    stationed(ledger)
    for cid in ("C-1", "C-2", "C-3"):
        complaint(ledger, cid)
    ledger.fire("C-3", "mark_duplicate", actor=TEAM, at=at("2023-06-27", 11), duplicate_of="C-1")
    ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    investigating(ledger, "C-1")
    ledger.fire(
        "C-1", "record_finding", actor=OWNER, at=at("2023-07-01"), finding="unsubstantiated"
    )
    ledger.fire("C-1", "report_result", actor=OWNER, at=at("2023-07-02"), summary="不属实")
    ledger.fire("C-1", "forward_result", actor=LIAISON, at=at("2023-07-02", 12))
    ledger.fire("C-1", "publish", actor=LIAISON, at=at("2023-07-03"))
    ledger.fire("C-1", "close", actor=LIAISON, at=at("2023-07-04"))
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10))
    planned_task(ledger, "T-1", deadline="2023-11-30")
    planned_task(ledger, "T-2", deadline="2024-06-30")
    rates = ledger.rates(at("2023-12-01"), round_id="R")
    assert rates == {
        "case_closing_rate": 0.5,
        "task_closing_rate": 0.0,
        "on_schedule_rate": 0.5,
        "case_on_time_rate": 1.0,
        "cases_met_late": 0,
        "cases_overdue": 1,
        "task_on_time_rate": None,
        "tasks_met_late": 0,
        "tasks_overdue": 1,
    }
    assert ledger.rates(at("2023-12-01"), area="430921") == {
        "case_closing_rate": None,
        "task_closing_rate": None,
        "on_schedule_rate": None,
        "case_on_time_rate": None,
        "cases_met_late": 0,
        "cases_overdue": 0,
        "task_on_time_rate": None,
        "tasks_met_late": 0,
        "tasks_overdue": 0,
    }


def test_a_days_batch_is_not_handed_over_before_that_day(ledger: Ledger) -> None:
    """The batch of 06-28 holds 06-27's intake and cannot be handed over on 06-27."""
    stationed(ledger)
    before = complaint(ledger, "C")
    with pytest.raises(GuardError) as info:
        ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-27", 21))
    assert info.value.guard == "batch_day"
    unchanged(ledger, "C", before, 1)
    assert ledger.get("R").data["batches"] == 0
    batch = ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 0))
    assert batch is not None
    assert batch.case_ids == ("C",)


def test_no_documents_are_requested_in_an_archived_round(ledger: Ledger) -> None:
    """A document request in an archived round is refused with the round's state."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    for event, actor in [
        ("announce", OFFICE),
        ("station_in", TEAM),
        ("end_station_in", TEAM),
        ("approve_report", OFFICE),
        ("give_feedback", TEAM),
        ("submit_plan", PARTY),
        ("approve_plan", OFFICE),
        ("publish_plan", LIAISON),
        ("start_rectification", RECT_OFFICE),
        ("close_all", RECT_OFFICE),
        ("archive", OFFICE),
    ]:
        ledger.fire("R", event, actor=actor, at=at("2023-06-21"))
    with pytest.raises(GuardError, match="while the round is 'archived'"):
        ledger.request_documents(
            "R", documents="台账", area="430900", actor=TEAM, at=at("2023-07-01")
        )
    assert ledger.find(kind="document_request") == []


def test_a_command_id_of_another_command_creates_nothing(ledger: Ledger) -> None:
    """A command id already used to fire an event is refused when creating a complaint."""
    stationed(ledger)
    ledger.fire(
        "R", "visit", actor=TEAM, at=at("2023-06-27"), department="市水利局", command_id="cmd-7"
    )
    with pytest.raises(PayloadError) as info:
        complaint(ledger, None, command_id="cmd-7")  # type: ignore[arg-type]
    assert info.value.field == "command_id"
    assert ledger.find(kind="complaint") == []


def test_a_document_request_needs_its_documents_named(ledger: Ledger) -> None:
    """A document request with blank documents is refused and records nothing."""
    stationed(ledger)
    with pytest.raises(PayloadError) as info:
        ledger.request_documents(
            "R", documents="  ", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D-9"
        )
    assert info.value.field == "documents"
    assert ledger.find(kind="document_request") == []


# --- facts as they happened --------------------------------------------------------------


def reported(ledger: Ledger, day: str, cid: str = "C", summary: str = "已调查处理") -> Snapshot:
    """A case of the 06-28 batch (result due 07-10) found true and reported on ``day``."""
    if "R" not in {s.entity_id for s in ledger.find(kind="round")}:
        stationed(ledger)
    handed_over(ledger, cid)
    investigating(ledger, cid)
    ledger.fire(cid, "record_finding", actor=OWNER, at=at("2023-07-01"), finding="substantiated")
    ledger.fire(
        cid,
        "report_result",
        actor=OWNER,
        at=at(day),
        summary=summary,
        dispositions=["order_to_rectify"],
    )
    return ledger.get(cid)


def test_a_reported_result_keeps_the_complaints_own_text(ledger: Ledger) -> None:
    """report_result records the result's text apart; the complaint's summary stays."""
    snap = reported(ledger, "2023-07-05", summary="已调查处理，详见办理情况")
    assert snap.data["summary"] == "砂石码头粉尘污染"
    assert snap.data["result_summary"] == "已调查处理，详见办理情况"
    assert snap.data["dispositions"] == ["order_to_rectify"]
    assert ledger.rebuild("C") == snap


def test_a_result_on_the_last_day_is_met_on_time(ledger: Ledger) -> None:
    """A result reported on the deadline's last day met it, zero days late."""
    reported(ledger, "2023-07-10")
    view = next(v for v in ledger.deadlines("C") if v.name == "result_due")
    assert (view.status, view.days_late) == ("met", 0)
    assert "已完成" in view.explain("zh")


def test_a_result_after_the_last_day_is_met_late(ledger: Ledger) -> None:
    """A result reported two days after its last day is met late, by two calendar days."""
    snap = reported(ledger, "2023-07-12")
    record = snap.deadlines["result_due"]
    assert (record.status, record.ended_at) == ("met_late", at("2023-07-12"))
    assert ledger.history("C")[-1].effects["end"]["result_due"][0] == "met_late"
    view = next(v for v in ledger.deadlines("C") if v.name == "result_due")
    assert (view.status, view.days_late) == ("met_late", 2)
    assert view.days_late_at(at("2023-07-20")) == 2
    assert "逾期完成（逾期2天）" in view.explain("zh")
    assert "met late (2 days late)" in view.explain("en")
    assert ledger.rebuild("C") == snap
    assert ledger.verify(deep=True).ok


def test_an_open_deadline_counts_its_days_late_at_an_instant(ledger: Ledger) -> None:
    """An open deadline past its last day is late by the calendar days since, none before."""
    stationed(ledger)
    handed_over(ledger)
    view = next(v for v in ledger.deadlines("C") if v.name == "result_due")
    assert view.days_late is None
    assert view.days_late_at(at("2023-07-10", 23)) == 0
    assert view.days_late_at(at("2023-07-13")) == 3


def test_a_met_late_task_deadline_opens_again_when_sent_back(ledger: Ledger) -> None:
    """A task claimed after its deadline is met late, and open again when verification fails."""
    fed_back(ledger)
    planned_task(ledger, deadline="2023-10-31")
    ledger.fire("T", "start", actor=OWNER, at=at("2023-10-10"))
    ledger.fire("T", "claim_completion", actor=OWNER, at=at("2023-11-02"))
    assert ledger.get("T").deadlines["rectify_due"].status == "met_late"
    ledger.fire("T", "start_verification", actor=ACCEPTOR, at=at("2023-11-03"))
    ledger.fire("T", "fail_verification", actor=ACCEPTOR, at=at("2023-11-06"), reason="未完成")
    assert ledger.get("T").deadlines["rectify_due"].status == "open"


def test_a_stored_met_stays_met(ledger: Ledger) -> None:
    """An end recorded as met before met_late existed folds as met, however late it was."""
    snap = reported(ledger, "2023-07-12")
    events = ledger.history("C")
    last = events[-1]
    old = Event.new(
        last.entity_id,
        last.version,
        last.name,
        last.at,
        last.actor,
        {"summary": "已调查处理"},
        last.state_before,
        last.state_after,
        {"data": {"summary": "已调查处理"}, "end": {"result_due": ["met", iso(last.at)]}},
        prev_hash=last.prev_hash,
    )
    folded = replay([*events[:-1], old])
    assert folded is not None
    assert folded.deadlines["result_due"].status == "met"
    assert folded.data["summary"] == "已调查处理"
    assert snap.deadlines["result_due"].status == "met_late"


def test_rates_tell_on_time_from_late_and_still_overdue(ledger: Ledger) -> None:
    """rates give the on-time rates and count met-late apart from still overdue."""
    reported(ledger, "2023-07-10", "C-1")
    reported(ledger, "2023-07-12", "C-2")
    complaint(ledger, "C-3")
    ledger.hand_over_batch("R", D(2023, 6, 29), actor=TEAM, at=at("2023-06-29"))
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2023-09-15"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2023-09-26", 10), problems=3)
    planned_task(ledger, "T-1", deadline="2023-10-31")
    ledger.fire("T-1", "start", actor=OWNER, at=at("2023-10-10"))
    ledger.fire("T-1", "claim_completion", actor=OWNER, at=at("2023-11-02"))
    planned_task(ledger, "T-2", deadline="2023-10-31")
    rates = ledger.rates(at("2023-11-03"), round_id="R")
    assert rates["case_on_time_rate"] == 0.5
    assert (rates["cases_met_late"], rates["cases_overdue"]) == (1, 1)
    assert rates["task_on_time_rate"] == 0.0
    assert (rates["tasks_met_late"], rates["tasks_overdue"]) == (1, 1)
    assert ledger.rates(at("2023-11-03"), area="430921")["case_on_time_rate"] is None
    report = status_report(ledger, D(2023, 11, 2), round_id="R")
    assert "按时办结率 50.0%（逾期办结 1 件，仍超期 1 件）" in report
    assert "按期完成率 0.0%（逾期完成 1 项，仍超期 1 项）" in report
    report = status_report(ledger, D(2023, 11, 2), round_id="R", lang="en")
    assert "Cases concluded on time 50.0% (1 late, 1 still overdue)" in report
    assert "tasks completed on time 0.0% (1 late, 1 still overdue)" in report


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_deadlines_are_listed_by_due_instant_then_name(tmp_path: Any, backend: str) -> None:
    """deadlines(id) lists the earliest due first, the same in memory and on SQLite."""
    if backend == "memory":
        ledger = Ledger(rulebook=HUNAN)
    else:
        ledger = Ledger.open(tmp_path / "ledger.db", rulebook=HUNAN)
    with ledger:
        stationed(ledger)
        handed_over(ledger)
        investigating(ledger)
        ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-06-29"), finding="属实")
        # The publication clock starts with the result and falls due before the result's.
        ledger.fire("C", "report_result", actor=OWNER, at=at("2023-07-04"), summary="已整改")
        assert [v.name for v in ledger.deadlines("C")] == ["publish_due", "result_due"]
        assert ledger.deadlines("C")[0].last_day == D(2023, 7, 5)


def test_a_late_hand_over_records_the_day_and_says_so(ledger: Ledger) -> None:
    """A case of the 06-28 batch handed over on 06-30 keeps its batch day, records the day
    it was handed over, starts its clock then, and the batch and status say it was late."""
    stationed(ledger)
    complaint(ledger, "C")
    complaint(ledger, "C-ON-TIME", received="2023-06-29")
    batch = ledger.hand_over_batch("R", D(2023, 6, 30), actor=TEAM, at=at("2023-06-30"))
    assert batch is not None
    assert (batch.number, batch.day, batch.handed_over_on) == (1, D(2023, 6, 30), D(2023, 6, 30))
    assert batch.late == ("C",)
    snap = ledger.get("C")
    assert (snap.batch, snap.data["batch_day"], snap.data["handed_over_day"]) == (
        1,
        "2023-06-28",
        "2023-06-30",
    )
    assert snap.deadlines["result_due"].anchor.startswith("2023-06-30")
    assert ledger.get("C-ON-TIME").data["handed_over_day"] == "2023-06-30"
    report = status_report(ledger, D(2023, 7, 1), round_id="R")
    assert "晚交办：第1批 1件应于 2023-06-28 交办，2023-06-30 才交办（晚2天）" in report
    english = status_report(ledger, D(2023, 7, 1), round_id="R", lang="en")
    assert "Handed over late: batch 1, 1 case due 2023-06-28, handed over 2023-06-30" in english
    assert "(2 days late)" in english


def test_a_batch_handed_over_on_its_day_is_not_late(ledger: Ledger) -> None:
    """A batch handed over on its day lists no late case, and the status names none."""
    stationed(ledger)
    batch_snap = handed_over(ledger)
    assert batch_snap.data["handed_over_day"] == "2023-06-28"
    assert "晚交办" not in status_report(ledger, D(2023, 7, 1), round_id="R")
