"""Complaint cases as offices handle them: a result relayed up the review levels and returned
at each (退回重办), acceptance (验收销号) only after full 办结 with its public notice and
reviews, and a closed case reopened when its problem comes back (反弹)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from inspection_flow import (
    COMPLAINT,
    Actor,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    Ledger,
    RulebookError,
    State,
    load_rulebook,
    parse_rulebook,
)
from strategies import ACCEPTOR, LIAISON, OFFICE, OWNER, PUBLIC, TEAM

HUNAN = load_rulebook("hunan-provincial-2023")
CENTRAL = load_rulebook("central")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
D = dt.date

#: 赫山区's own accepting unit (区级验收): another unit than 赫山区 that applies.
COUNTY_ACCEPTOR = Actor("accepting_unit", "430903", "赫山区生态环境分局")
#: A county-level liaison: the relay's city level is not its to act at.
COUNTY_LIAISON = Actor("liaison", "430903", "赫山区联络组")
#: The province's liaison group of a central round (省级协调联络组).
PROVINCE_LIAISON = Actor("liaison", "430000", "湖南省协调联络组")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def reported(ledger: Ledger, cid: str = "C", *, handling_status: str | None = None) -> None:
    """A Yiyang round stationed on 06-26; a case about 赫山区 handed over on 06-28 and its
    result reported by 赫山区 on 07-02."""
    if "R" not in {s.entity_id for s in ledger.find(kind="round")}:
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
        complaint_id=cid,
    )
    ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    ledger.fire(cid, "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=["430903"])
    ledger.fire(cid, "start_investigation", actor=OWNER, at=at("2023-06-28", 11))
    ledger.fire(cid, "record_finding", actor=OWNER, at=at("2023-07-01"), finding="substantiated")
    status = {} if handling_status is None else {"handling_status": handling_status}
    ledger.fire(
        cid, "report_result", actor=OWNER, at=at("2023-07-02"), summary="已责令整改", **status
    )


def closed(ledger: Ledger, cid: str = "C") -> None:
    """The case forwarded by the city on 07-03, published on 07-04 and closed on 07-05."""
    reported(ledger, cid)
    ledger.fire(cid, "forward_result", actor=LIAISON, at=at("2023-07-03"))
    ledger.fire(cid, "publish", actor=LIAISON, at=at("2023-07-04"), where="益阳日报")
    ledger.fire(cid, "close", actor=LIAISON, at=at("2023-07-05"))


def accepted(ledger: Ledger, cid: str = "C") -> None:
    """The closed case accepted: applied 07-10, reviewed by the district and the city, its
    notice run from 07-11 to its end."""
    closed(ledger, cid)
    ledger.fire(cid, "apply_acceptance", actor=OWNER, at=at("2023-07-10"))
    ledger.fire(cid, "review_acceptance", actor=COUNTY_ACCEPTOR, at=at("2023-07-10", 15))
    ledger.fire(cid, "start_notice", actor=OWNER, at=at("2023-07-11"), where="赫山区政府网站")
    ledger.fire(cid, "review_acceptance", actor=ACCEPTOR, at=at("2023-07-20"))
    ends = ledger.get(cid).deadlines["notice_ends"].due_at
    ledger.fire(cid, "accept", actor=ACCEPTOR, at=ends)


def refused(ledger: Ledger, cid: str, guard: str, event: str, actor: Actor, **kw: Any) -> str:
    """Fire a command that a guard must refuse; check nothing changed; return the reason."""
    before = ledger.get(cid)
    events = len(ledger.history(cid))
    with pytest.raises(GuardError) as info:
        ledger.fire(cid, event, actor=actor, **kw)
    assert info.value.guard == guard
    assert ledger.get(cid) == before
    assert len(ledger.history(cid)) == events
    return str(info.value)


# --- the relay of a result: county → city → team -----------------------------------------------


def test_rulebooks_name_their_review_levels_with_a_source() -> None:
    """The built-in rulebooks name the relay and the acceptance review levels, sourced."""
    assert HUNAN.review_levels == ("county", "city", "team")
    assert CENTRAL.review_levels == ("county", "city", "province", "team")
    assert HUNAN.acceptance_levels == CENTRAL.acceptance_levels == ("county", "city")
    for rb in (HUNAN, CENTRAL):
        source, conf = rb.notes["review"]
        assert conf == "L"
        assert "博山区" in source
        assert "http://m.qqx123.com/read69064.html" in source


def test_a_county_result_goes_to_the_city_before_the_team() -> None:
    """The county's result waits for the city: the team can neither return nor see it
    published, a county liaison cannot forward it; the city forwards it up to the team."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger)
    assert ledger.get("C").data["result_level"] == "city"
    why = refused(
        ledger,
        "C",
        "result_with_team",
        "return_for_rehandling",
        TEAM,
        at=at("2023-07-03"),
        reason="x",
    )
    assert "city level (市级)" in why
    assert "forward_result" in why
    refused(ledger, "C", "result_with_team", "publish", LIAISON, at=at("2023-07-03"))
    why = refused(
        ledger, "C", "result_with_this_level", "forward_result", COUNTY_LIAISON, at=at("2023-07-03")
    )
    assert "with the city level (市级)" in why
    assert "acts at the county level (县级)" in why
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-03"), opinion="同意上报")
    snap = ledger.get("C")
    assert snap.state == "reported"
    assert snap.data["result_level"] == "team"
    assert snap.data["forwarded_by"] == LIAISON.to_dict()
    why = refused(
        ledger,
        "C",
        "result_with_this_level",
        "return_to_owner",
        LIAISON,
        at=at("2023-07-03", 10),
        reason="x",
    )
    assert "return_for_rehandling" in why
    refused(
        ledger, "C", "result_with_this_level", "forward_result", LIAISON, at=at("2023-07-03", 10)
    )


def test_a_central_round_relays_through_the_province() -> None:
    """Under the central rulebook the city forwards to the province's liaison group, which
    forwards to the team; the city cannot act for the province."""
    ledger = Ledger(rulebook=CENTRAL)
    reported(ledger)
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-03"))
    assert ledger.get("C").data["result_level"] == "province"
    refused(
        ledger, "C", "result_with_this_level", "forward_result", LIAISON, at=at("2023-07-03", 10)
    )
    refused(ledger, "C", "result_with_team", "publish", LIAISON, at=at("2023-07-03", 10))
    ledger.fire("C", "forward_result", actor=PROVINCE_LIAISON, at=at("2023-07-04"))
    assert ledger.get("C").data["result_level"] == "team"
    ledger.fire("C", "publish", actor=LIAISON, at=at("2023-07-05"))
    assert ledger.get("C").state == "published"


def test_a_rulebook_without_review_levels_relays_straight_to_the_team() -> None:
    """A rulebook naming no [review] keeps the result going from the owner to the team."""
    data = _rulebook_data()
    ledger = Ledger(rulebook=parse_rulebook(data))
    reported(ledger)
    assert ledger.get("C").data["result_level"] == "team"
    ledger.fire("C", "publish", actor=LIAISON, at=at("2023-07-03"))
    assert ledger.get("C").state == "published"


def test_the_city_returns_a_result_and_its_deadline_runs_on() -> None:
    """The city's return (退回重办) records who and why and reopens the result's deadline with
    its day unchanged; the county's next report meets it again."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger)
    first = ledger.get("C").deadlines["result_due"]
    assert first.status == "met"
    ledger.fire("C", "return_to_owner", actor=LIAISON, at=at("2023-07-03"), reason="未附监测报告")
    snap = ledger.get("C")
    assert snap.state == "investigating"
    assert snap.data["returned_by"] == LIAISON.to_dict()
    assert snap.data["reason"] == "未附监测报告"
    assert snap.data["returns"] == 1
    assert snap.data["returned_at_level"] == "city"
    again = snap.deadlines["result_due"]
    assert again.status == "open"
    assert (again.last_day, again.due_at) == (first.last_day, first.due_at)
    assert "rehandling_due" not in snap.deadlines
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-07-04"), finding="substantiated")
    ledger.fire("C", "report_result", actor=OWNER, at=at("2023-07-05"), summary="补充监测报告")
    snap = ledger.get("C")
    assert snap.deadlines["result_due"].status == "met"
    assert snap.data["result_level"] == "city"


def test_the_team_returns_a_result_and_rehandling_gets_its_own_time() -> None:
    """The team's return starts the re-handling deadline, the rulebook's case time from the
    return; a later return by the city reopens only that, not the first result's."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger)
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-03"))
    ledger.fire("C", "return_for_rehandling", actor=TEAM, at=at("2023-07-04"), reason="群众不满意")
    snap = ledger.get("C")
    assert snap.state == "investigating"
    assert snap.data["returned_by"] == TEAM.to_dict()
    assert snap.data["returned_at_level"] == "team"
    due = snap.deadlines["rehandling_due"]
    # 10 calendar days (case_result, Hunan) from 07-04: 07-14.
    assert (due.status, due.last_day) == ("open", D(2023, 7, 14))
    assert snap.deadlines["result_due"].status == "met"
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-07-06"), finding="substantiated")
    ledger.fire("C", "report_result", actor=OWNER, at=at("2023-07-07"), summary="已停产整治")
    assert ledger.get("C").deadlines["rehandling_due"].status == "met"
    ledger.fire("C", "return_to_owner", actor=LIAISON, at=at("2023-07-08"), reason="证据不足")
    snap = ledger.get("C")
    assert snap.deadlines["rehandling_due"].status == "open"
    assert snap.deadlines["result_due"].status == "met"
    assert snap.data["returns"] == 2
    assert ledger.rebuild("C") == snap


# --- acceptance: after full 办结, its public notice and each review level -----------------------


def test_an_interim_closed_case_is_not_accepted() -> None:
    """A case closed only for now (阶段性办结) is refused acceptance with what to do."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger, handling_status="interim_closed")
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-03"))
    ledger.fire("C", "publish", actor=LIAISON, at=at("2023-07-04"))
    ledger.fire("C", "close_interim", actor=LIAISON, at=at("2023-07-05"))
    assert ledger.get("C").data["handling_status"] == "interim_closed"
    why = refused(ledger, "C", "fully_closed", "apply_acceptance", OWNER, at=at("2023-07-10"))
    assert "阶段性办结" in why
    assert "record close" in why
    ledger.fire("C", "close", actor=LIAISON, at=at("2023-08-01"))
    assert ledger.get("C").data["handling_status"] == "closed"
    ledger.fire("C", "apply_acceptance", actor=OWNER, at=at("2023-08-02"))
    assert ledger.get("C").state == "under_acceptance"


def test_acceptance_needs_its_notice_and_every_review_level() -> None:
    """Accepting says what is missing: the notice still running and the reviews not made;
    reviews go in the rulebook's order and never by the applicant's own unit."""
    ledger = Ledger(rulebook=HUNAN)
    closed(ledger)
    ledger.fire("C", "apply_acceptance", actor=OWNER, at=at("2023-07-10"))
    with pytest.raises(InvalidTransitionError) as info:
        ledger.fire("C", "accept", actor=ACCEPTOR, at=at("2023-07-10", 10))
    assert "start_notice" in str(info.value)
    why = refused(
        ledger,
        "C",
        "next_acceptance_review",
        "review_acceptance",
        ACCEPTOR,
        at=at("2023-07-10", 10),
    )
    assert "county level (县级)" in why
    same_unit = Actor("accepting_unit", OWNER.area, OWNER.name)
    why = refused(
        ledger,
        "C",
        "next_acceptance_review",
        "review_acceptance",
        same_unit,
        at=at("2023-07-10", 10),
    )
    assert "谁验收、谁负责" in why
    ledger.fire("C", "review_acceptance", actor=COUNTY_ACCEPTOR, at=at("2023-07-10", 15))
    ledger.fire("C", "start_notice", actor=OWNER, at=at("2023-07-11"))
    notice = ledger.get("C").deadlines["notice_ends"]
    # 10 working days counting the first (Hunan): 07-11 … 07-24.
    assert notice.last_day == D(2023, 7, 24)
    why = refused(ledger, "C", "acceptance_complete", "accept", ACCEPTOR, at=at("2023-07-20"))
    assert "runs until 2023-07-24 24:00" in why
    assert "no review yet by the city level (市级)" in why
    ledger.fire("C", "review_acceptance", actor=ACCEPTOR, at=at("2023-07-20"), opinion="同意销号")
    why = refused(ledger, "C", "acceptance_complete", "accept", ACCEPTOR, at=at("2023-07-21"))
    assert "review" not in why
    refused(
        ledger, "C", "next_acceptance_review", "review_acceptance", ACCEPTOR, at=at("2023-07-21")
    )
    ledger.fire("C", "accept", actor=ACCEPTOR, at=notice.due_at)
    snap = ledger.get("C")
    assert snap.state == "accepted"
    assert [r["level"] for r in snap.data["acceptance_reviews"]] == ["county", "city"]
    assert snap.data["acceptance_reviews"][0]["by"] == COUNTY_ACCEPTOR.to_dict()
    assert snap.deadlines["notice_ends"].status == "met"


def test_an_objection_sends_the_case_back_and_reviews_start_again() -> None:
    """An objection during the notice sends the case back to rectification and ends the
    notice; a new application is reviewed afresh."""
    ledger = Ledger(rulebook=HUNAN)
    closed(ledger)
    ledger.fire("C", "apply_acceptance", actor=OWNER, at=at("2023-07-10"))
    ledger.fire("C", "review_acceptance", actor=COUNTY_ACCEPTOR, at=at("2023-07-10", 15))
    ledger.fire("C", "start_notice", actor=OWNER, at=at("2023-07-11"))
    ledger.fire("C", "object", actor=PUBLIC, at=at("2023-07-12"), reason="夜间仍有粉尘")
    snap = ledger.get("C")
    assert snap.state == "rectifying"
    assert snap.deadlines["notice_ends"].status == "cancelled"
    ledger.fire("C", "report_result", actor=OWNER, at=at("2023-07-20"), summary="加装喷淋")
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-20", 10))
    ledger.fire("C", "publish", actor=LIAISON, at=at("2023-07-21"))
    ledger.fire("C", "close", actor=LIAISON, at=at("2023-07-22"))
    ledger.fire("C", "apply_acceptance", actor=OWNER, at=at("2023-07-24"))
    assert ledger.get("C").data["acceptance_reviews"] == []


# --- reopening (反弹) ----------------------------------------------------------------------------


def test_an_accepted_case_is_reopened_with_its_history_kept() -> None:
    """The problem came back: the accepted case is reopened, live again, its earlier result
    kept in its events and in earlier_results; it counts by its state and as open."""
    ledger = Ledger(rulebook=HUNAN)
    accepted(ledger)
    before = ledger.rates(at("2023-08-01"), round_id="R")
    assert before["case_closing_rate"] == 1.0
    ledger.fire(
        "C",
        "reopen",
        actor=LIAISON,
        at=at("2023-08-01"),
        reason="码头夜间复产，粉尘反弹",
        new_complaint="D4SX202308010001",
    )
    snap = ledger.get("C")
    assert (snap.state, snap.terminal) == ("reopened", False)
    assert snap.data["reopened"] == 1
    assert snap.data["reopen_reason"] == "码头夜间复产，粉尘反弹"
    assert snap.data["reopened_by_complaint"] == "D4SX202308010001"
    assert snap.data["reopened_by"] == LIAISON.to_dict()
    [earlier] = snap.data["earlier_results"]
    assert earlier["result_summary"] == "已责令整改"
    assert earlier["finding"] == "substantiated"
    assert earlier["handling_status"] == "closed"
    assert earlier["state"] == "accepted"
    due = snap.deadlines["reopened_due"]
    assert (due.status, due.last_day) == ("open", D(2023, 8, 11))
    names = [e.name for e in ledger.history("C")]
    assert names.index("report_result") < names.index("accept") < names.index("reopen")
    assert ledger.counts("state", kind="complaint") == {"reopened": 1}
    assert ledger.rates(at("2023-08-01"), round_id="R")["case_closing_rate"] == 0.0
    assert ledger.rebuild("C") == snap
    # Handled again: the new result meets the reopened case's deadline.
    ledger.fire("C", "start_investigation", actor=OWNER, at=at("2023-08-02"))
    ledger.fire("C", "record_finding", actor=OWNER, at=at("2023-08-03"), finding="substantiated")
    ledger.fire("C", "report_result", actor=OWNER, at=at("2023-08-05"), summary="再次关停")
    snap = ledger.get("C")
    assert snap.deadlines["reopened_due"].status == "met"
    assert snap.data["result_summary"] == "再次关停"
    assert snap.data["earlier_results"][0]["result_summary"] == "已责令整改"


def test_only_a_closed_case_is_reopened() -> None:
    """A case still being handled is not reopened; the owner may not reopen its own case."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger)
    with pytest.raises(InvalidTransitionError):
        ledger.fire("C", "reopen", actor=LIAISON, at=at("2023-07-03"), reason="x")
    closed(ledger, "C2")
    with pytest.raises(Exception, match="only"):
        ledger.fire("C2", "reopen", actor=OWNER, at=at("2023-07-06"), reason="x")
    ledger.fire("C2", "reopen", actor=TEAM, at=at("2023-07-06"), reason="群众再次举报")
    assert ledger.get("C2").state == "reopened"


# --- rulebooks and old ledgers -----------------------------------------------------------------


def _rulebook_data(review: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal rulebook of one's own, with ``[review]`` when given."""
    data: dict[str, Any] = {
        "rulebook": {"name": "own", "level": "provincial"},
        "intake": {
            "hotline_opens": "08:00",
            "hotline_closes": "20:00",
            "source": "本市办法",
            "confidence": "L",
        },
        "deadlines": {
            key: {"amount": 10, "unit": "calendar_days", "source": "本市办法", "confidence": "L"}
            for key in (
                "station_in",
                "case_result",
                "case_publish",
                "plan",
                "progress_report",
                "public_notice",
                "document_request",
                "summons_report",
            )
        },
    }
    if review is not None:
        data["review"] = {"source": "本市办法", "confidence": "L", **review}
    return data


@pytest.mark.parametrize(
    ("review", "problem"),
    [
        ({"levels": ["county", "city"]}, "up to the team"),
        ({"levels": ["team"]}, "up to the team"),
        ({"levels": ["county", "town", "team"]}, "unknown level 'town'"),
        ({"levels": ["city", "county", "team"]}, "from the lowest up"),
        ({"acceptance": ["county", "county"]}, "names a level twice"),
        ({"acceptance": "city"}, "must be a list"),
        ({"levels": ["county", "team"], "by": "x"}, "review.by"),
    ],
)
def test_bad_review_levels_are_refused_when_loaded(review: dict[str, Any], problem: str) -> None:
    """A [review] table naming no way up to the team, an unknown, repeated or misordered level,
    or an unknown key is refused with its key."""
    with pytest.raises(RulebookError, match="review") as info:
        parse_rulebook(_rulebook_data(review))
    assert problem in str(info.value)


def _old_complaint() -> Any:
    """The complaint lifecycle as it was before reviews: an accepted case was final and a
    result carried no level."""
    states = tuple(
        attrs.evolve(s, terminal=True) if s.name == "accepted" else s for s in COMPLAINT.states
    )
    transitions = []
    for t in COMPLAINT.transitions:
        if t.event == "reopen":
            t = attrs.evolve(t, sources=tuple(s for s in t.sources if s != "accepted"))
        elif t.event == "report_result":
            t = attrs.evolve(t, derive=None)
        elif t.event in ("accept", "publish"):
            t = attrs.evolve(t, guards=tuple(g for g in t.guards if g == "not_the_applicant"))
        transitions.append(t)
    return attrs.evolve(COMPLAINT, states=states, transitions=tuple(transitions))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_old_ledger_reads_the_same_and_its_cases_go_on(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Cases recorded under the old definition fold the same under the new one: an accepted
    case (stored as final) is reopened and live again, and a result reported without a level
    is with the city, which forwards it; in SQLite and PostgreSQL alike."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_schema_url"))
    )
    old_rulebook = HUNAN.with_lifecycles(_old_complaint())
    with Ledger.open(url, rulebook=old_rulebook) as old:
        closed(old, "A")
        old.fire("A", "apply_acceptance", actor=OWNER, at=at("2023-07-10"))
        old.fire("A", "start_notice", actor=OWNER, at=at("2023-07-11"))
        old.fire("A", "accept", actor=ACCEPTOR, at=at("2023-07-25"))
        reported(old, "B")
        kept = {cid: old.get(cid) for cid in ("A", "B")}
    assert kept["A"].terminal
    assert "result_level" not in kept["B"].data
    with Ledger.open(url, rulebook=HUNAN) as new:
        for cid, snap in kept.items():
            assert new.get(cid) == snap
            assert new.rebuild(cid) == snap
        assert [s.entity_id for s in new.find(kind="complaint", open_only=True)] == ["B"]
        new.fire("A", "reopen", actor=LIAISON, at=at("2023-08-01"), reason="反弹")
        new.fire("B", "forward_result", actor=LIAISON, at=at("2023-08-01"))
        assert new.get("B").data["result_level"] == "team"
        assert new.get("A").terminal is False
        assert sorted(s.entity_id for s in new.find(kind="complaint", open_only=True)) == [
            "A",
            "B",
        ]
        assert new.counts("state", kind="complaint") == {"reopened": 1, "reported": 1}
        assert new.verify(deep=True).ok
    with Ledger.open(url, rulebook=HUNAN) as again:
        assert again.get("A").state == "reopened"
        assert again.rebuild("A") == again.get("A")


def test_the_definition_keeps_the_states_old_events_land_in() -> None:
    """Every state an old ledger's events can name is still defined."""
    names = {s.name for s in COMPLAINT.states}
    assert {
        "reported",
        "published",
        "interim_closed",
        "closed",
        "under_acceptance",
        "accepted",
    } <= names
    assert isinstance(COMPLAINT.state("reopened"), State)
    assert COMPLAINT.counts_as("reopened") == "open"
    assert COMPLAINT.counts_as("public_notice") == "closed"


def test_review_levels_read_from_toml(tmp_path: Path) -> None:
    """A rulebook file names its levels in [review]; one extending Hunan's may change them."""
    path = tmp_path / "mine.toml"
    path.write_text(
        textwrap.dedent(
            """
            [rulebook]
            name = "mine"
            extends = "hunan-provincial-2023"

            [review]
            levels = ["county", "team"]
            acceptance = ["city"]
            source = "本市办法"
            confidence = "M"
            """
        ),
        encoding="utf-8",
    )
    rb = load_rulebook(path)
    assert rb.review_levels == ("county", "team")
    assert rb.acceptance_levels == ("city",)
    assert rb.notes["review"] == ("本市办法", "M")


# --- stateful: returns, acceptance and reopening against a naive model --------------------------


_LEVEL_OF = {LIAISON: "city", COUNTY_LIAISON: "county", OFFICE: "province"}
_REVIEWERS = {COUNTY_ACCEPTOR: "county", ACCEPTOR: "city"}
_RESULT_DEADLINES = ("result_due", "rehandling_due", "reopened_due")


class ReturnsAndReopening(RuleBasedStateMachine):
    """Random returns at each level, acceptance steps and reopenings of one case, legal and
    not, checked against a model of what the rules allow; a refusal changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(rulebook=HUNAN)
        reported(self.ledger)
        self.now = at("2023-07-02", 12)
        self.state = "reported"
        self.level = "city"
        self.returns = 0
        self.reopened = 0
        self.reviews: list[str] = []

    def attempt(
        self, allowed: bool, event: str, actor: Actor, when: dt.datetime | None = None, **kw: Any
    ) -> bool:
        """Fire ``event``; it must succeed exactly when the model allows it."""
        self.now = max(self.now + dt.timedelta(hours=1), when or self.now)
        before = self.ledger.get("C")
        events = len(self.ledger.history("C"))
        if not allowed:
            with pytest.raises(InspectionFlowError):
                self.ledger.fire("C", event, actor=actor, at=self.now, **kw)
            assert self.ledger.get("C") == before
            assert len(self.ledger.history("C")) == events
            return False
        self.ledger.fire("C", event, actor=actor, at=self.now, **kw)
        return True

    @rule(actor=st.sampled_from(list(_LEVEL_OF)))
    def forward(self, actor: Actor) -> None:
        ok = self.state == "reported" and self.level == "city" and _LEVEL_OF[actor] == "city"
        if self.attempt(ok, "forward_result", actor):
            self.level = "team"

    @rule(actor=st.sampled_from(list(_LEVEL_OF)))
    def city_return(self, actor: Actor) -> None:
        ok = self.state == "reported" and self.level == "city" and _LEVEL_OF[actor] == "city"
        if self.attempt(ok, "return_to_owner", actor, reason="材料不全"):
            self.state, self.returns = "investigating", self.returns + 1

    @rule()
    def team_return(self) -> None:
        ok = (self.state, self.level) == ("reported", "team") or self.state == "published"
        if self.attempt(ok, "return_for_rehandling", TEAM, reason="群众不满意"):
            self.state, self.returns = "investigating", self.returns + 1

    @rule()
    def report(self) -> None:
        if self.state == "investigating":
            self.attempt(True, "record_finding", OWNER, finding="substantiated")
            self.state = "verified"
        ok = self.state in ("verified", "rectifying")
        if self.attempt(ok, "report_result", OWNER, summary="已整改"):
            self.state, self.level = "reported", "city"

    @rule()
    def publish(self) -> None:
        ok = (self.state, self.level) == ("reported", "team")
        if self.attempt(ok, "publish", LIAISON):
            self.state = "published"

    @rule(interim=st.booleans())
    def close(self, interim: bool) -> None:
        if interim:
            if self.attempt(self.state == "published", "close_interim", LIAISON):
                self.state = "interim_closed"
        elif self.attempt(self.state in ("published", "interim_closed"), "close", LIAISON):
            self.state = "closed"

    @rule()
    def apply(self) -> None:
        if self.attempt(self.state == "closed", "apply_acceptance", OWNER):
            self.state, self.reviews = "under_acceptance", []

    @rule(reviewer=st.sampled_from(list(_REVIEWERS)))
    def review(self, reviewer: Actor) -> None:
        missing = [lv for lv in HUNAN.acceptance_levels if lv not in self.reviews]
        ok = (
            self.state in ("under_acceptance", "public_notice")
            and bool(missing)
            and missing[0] == _REVIEWERS[reviewer]
        )
        if self.attempt(ok, "review_acceptance", reviewer):
            self.reviews.append(_REVIEWERS[reviewer])

    @rule()
    def start_notice(self) -> None:
        if self.attempt(self.state == "under_acceptance", "start_notice", OWNER):
            self.state = "public_notice"

    @rule(wait=st.booleans())
    def accept(self, wait: bool) -> None:
        notice = self.ledger.get("C").deadlines.get("notice_ends")
        when = notice.due_at if wait and notice is not None and notice.status == "open" else None
        ready = when is not None or (notice is not None and self.now >= notice.due_at)
        ok = (
            self.state == "public_notice"
            and ready
            and self.reviews == list(HUNAN.acceptance_levels)
        )
        if self.attempt(ok, "accept", ACCEPTOR, when):
            self.state = "accepted"

    @rule(objection=st.booleans())
    def send_back(self, objection: bool) -> None:
        if objection:
            ok = self.state == "public_notice"
            done = self.attempt(ok, "object", PUBLIC, reason="仍有粉尘")
        else:
            ok = self.state in ("under_acceptance", "public_notice")
            done = self.attempt(ok, "reject_acceptance", ACCEPTOR, reason="未整改到位")
        if done:
            self.state = "rectifying"

    @rule()
    def reopen(self) -> None:
        ok = self.state in ("closed", "under_acceptance", "public_notice", "accepted")
        if self.attempt(ok, "reopen", LIAISON, reason="反弹"):
            self.state, self.reopened = "reopened", self.reopened + 1

    @rule()
    def investigate_again(self) -> None:
        if self.attempt(self.state == "reopened", "start_investigation", OWNER):
            self.state = "investigating"

    @invariant()
    def the_case_is_as_the_model_says(self) -> None:
        snap = self.ledger.get("C")
        assert snap.state == self.state
        assert snap.terminal is False
        assert snap.data.get("returns", 0) == self.returns
        assert snap.data.get("reopened", 0) == self.reopened
        assert len(snap.data.get("earlier_results") or []) == self.reopened
        if self.state == "reported":
            assert snap.data["result_level"] == self.level
        running = [
            n
            for n in _RESULT_DEADLINES
            if n in snap.deadlines and snap.deadlines[n].status == "open"
        ]
        assert len(running) <= 1, running
        if self.state in ("reopened", "investigating") and (self.returns or self.reopened):
            assert len(running) == 1, (self.state, running)

    @invariant()
    def state_is_the_fold_of_events(self) -> None:
        assert self.ledger.rebuild("C") == self.ledger.get("C")


TestReturnsAndReopening = ReturnsAndReopening.TestCase
TestReturnsAndReopening.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


def test_a_list_takes_in_only_results_that_reached_the_team() -> None:
    """A batch's list (一览表) leaves a result still with the city for a later list."""
    ledger = Ledger(rulebook=HUNAN)
    reported(ledger)
    assert ledger.awaiting_publication("R") == []
    with pytest.raises(GuardError, match="forward_result"):
        ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-03"))
    ledger.fire("C", "forward_result", actor=LIAISON, at=at("2023-07-03"))
    assert [s.entity_id for s in ledger.awaiting_publication("R")] == ["C"]
    listed = ledger.publish_list("R", 1, actor=LIAISON, at=at("2023-07-04"))
    assert listed.case_ids == ("C",)
    assert ledger.get("C").state == "published"
