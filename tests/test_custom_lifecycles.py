"""A lifecycle of the user's own, written from the docs alone: a summons talk (约谈).

The rectification office schedules a talk with a unit head; once it is held a written
report is due in 30 calendar days (domain.md R11), with a warning 5 days before and an
escalation when late; the report is accepted, or sent back once for revision, which
opens the deadline again.  It is defined in a rulebook's TOML that extends a built-in
rulebook, with a variation in Python, and run through the public API only, on memory,
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    DeadlineBinding,
    DefinitionError,
    Field,
    GuardContext,
    InspectionFlowError,
    Ledger,
    Lifecycle,
    PayloadError,
    PermissionDeniedError,
    Rulebook,
    RulebookError,
    State,
    Transition,
    guard,
    load_rulebook,
    parse_rulebook,
    status_report,
)


@guard("sent_back_at_most_once")
def sent_back_at_most_once(ctx: GuardContext) -> str | None:
    """Refuse a second sending back: the office accepts the revised report or escalates."""
    if ctx.snapshot.data.get("sent_back"):
        return "the report was sent back once already; accept it or escalate the case"
    return None


@guard("not_the_convener")
def not_the_convener(ctx: GuardContext) -> str | None:
    """Refuse a review by the unit that held the talk."""
    held_by = ctx.snapshot.data.get("held_by", {})
    if (held_by.get("area"), held_by.get("name")) == (ctx.actor.area, ctx.actor.name):
        return f"{ctx.actor.name} held the talk; another unit must review the report"
    return None


SUMMONS_TOML = """
[rulebook]
name = "yiyang-summons-2023"
title = "益阳市约谈办法（示例）"
level = "municipal"
extends = "hunan-provincial-2023"

[deadlines.summons_report]
amount = 30
unit = "calendar_days"
source = "Written report within 30 days of a summons talk (domain.md R11)"
confidence = "M"

[[deadlines.summons_report.warnings]]
name = "report_due_soon"
before = 5
unit = "calendar_days"
label_zh = "书面报告即将到期"

[[deadlines.summons_report.escalations]]
name = "report_overdue"
after = 0
unit = "calendar_days"
label_zh = "书面报告超期"

[[lifecycles]]
name = "summons_talk"
kind = "summons_talk"
label_zh = "约谈"
label_en = "summons talk"
creators = ["rectification_office"]
fields = [
  { name = "unit", type = "str" },
  { name = "unit_head", type = "str" },
  { name = "scheduled_for", type = "date" },
  { name = "cause", type = "choice", choices = ["yellow_cards", "red_light", "other"] },
]

[[lifecycles.states]]
name = "scheduled"
label_zh = "已安排约谈"
label_en = "talk scheduled"

[[lifecycles.states]]
name = "held"
label_zh = "已约谈"
label_en = "talk held"

[[lifecycles.states]]
name = "report_received"
label_zh = "已收到书面报告"
label_en = "report received"

[[lifecycles.states]]
name = "reviewed"
label_zh = "报告审核通过"
label_en = "report reviewed"
terminal = true
counts_as = "closed"

[[lifecycles.states]]
name = "called_off"
label_zh = "约谈取消"
label_en = "called off"
terminal = true
counts_as = "excluded"

[[lifecycles.transitions]]
event = "hold_talk"
sources = ["scheduled"]
target = "held"
roles = ["rectification_office"]
records_actor = "held_by"
fields = [{ name = "attendees", type = "int" }, { name = "minutes", required = false }]
label_zh = "约谈"
label_en = "hold the talk"

[[lifecycles.transitions]]
event = "call_off"
sources = ["scheduled"]
target = "called_off"
roles = ["rectification_office"]
fields = [{ name = "reason", type = "str" }]
label_zh = "取消约谈"
label_en = "call off"

[[lifecycles.transitions]]
event = "submit_report"
sources = ["held"]
target = "report_received"
roles = ["owner_unit"]
records_actor = "submitted_by"
fields = [{ name = "report", type = "str" }]
label_zh = "报送书面报告"
label_en = "submit the report"

[[lifecycles.transitions]]
event = "send_back"
sources = ["report_received"]
target = "held"
roles = ["rectification_office"]
guards = ["sent_back_at_most_once"]
marks = { sent_back = true }
fields = [{ name = "reason", type = "str" }]
records = { reason = "revision_reason" }
label_zh = "退回修改"
label_en = "send back for revision"

[[lifecycles.transitions]]
event = "accept_report"
sources = ["report_received"]
target = "reviewed"
roles = ["rectification_office"]
label_zh = "审核通过"
label_en = "accept the report"

[[lifecycles.deadlines]]
name = "report_due"
rule = "summons_report"
starts_on = "hold_talk"
met_by = ["submit_report"]
reopened_by = ["send_back"]
label_zh = "约谈书面报告"
label_en = "written report due"
"""

OFFICE = Actor("rectification_office", "430900", "益阳市整改办")
HESHAN = Actor("owner_unit", "430903", "赫山区人民政府")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
TALK_FIELDS = {
    "area": "430903",
    "unit": "赫山区人民政府",
    "unit_head": "赫山区区长",
    "scheduled_for": "2023-10-16",
    "cause": "red_light",
}


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant of ``day`` at ``hour`` in Asia/Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


def write_rulebook(folder: Path, text: str = SUMMONS_TOML, name: str = "summons.toml") -> Path:
    """Write a rulebook file and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def summons(tmp_path: Path) -> Rulebook:
    """The city's rulebook with the summons talk, loaded from its file."""
    return load_rulebook(write_rulebook(tmp_path))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, summons: Rulebook) -> Iterator[Ledger]:
    """A ledger under the summons rulebook: in memory, in a SQLite file, in PostgreSQL."""
    if request.param == "memory":
        yield Ledger(rulebook=summons)
        return
    if request.param == "sqlite":
        target = str(tmp_path / "summons.db")
    else:
        target = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(target, rulebook=summons) as durable:
        yield durable


def test_the_rulebook_file_adds_the_summons_talk_to_the_provincial_one(summons: Rulebook) -> None:
    """A rulebook extending a built-in one adds the lifecycle, its rule, states and fields."""
    lc = summons.lifecycle("summons_talk")
    assert sorted(summons.lifecycles) == [
        "accountability",
        "complaint",
        "dispatch",
        "document_request",
        "publication",
        "round",
        "summons_talk",
        "task",
    ]
    assert summons.rule("station_in").describe() == "21日（含起算日，末日遇休息日不顺延）"
    assert summons.rule("summons_report").describe() == "30日（不含起算日，末日遇休息日顺延）"
    assert summons.notes["deadlines.summons_report"][1] == "M"
    assert (lc.kind, lc.initial, sorted(lc.creators)) == (
        "summons_talk",
        "scheduled",
        ["rectification_office"],
    )
    assert {s.name: s.counts_as for s in lc.states} == {
        "scheduled": "open",
        "held": "open",
        "report_received": "open",
        "reviewed": "closed",
        "called_off": "excluded",
    }
    assert [(f.name, f.type) for f in lc.fields] == [
        ("unit", "str"),
        ("unit_head", "str"),
        ("scheduled_for", "date"),
        ("cause", "choice"),
    ]
    assert lc.transition("scheduled", "hold_talk").records_actor == "held_by"
    assert lc.transition("report_received", "send_back").guards == ("sent_back_at_most_once",)


def test_a_summons_talk_runs_from_scheduling_to_review(ledger: Ledger) -> None:
    """Create, hold, warn, submit, send back, escalate, resubmit, refuse, accept, count, audit."""
    first = ledger.create(
        "summons_talk",
        entity_id="YT-001",
        actor=OFFICE,
        at=at("2023-10-09"),
        command_id="form-yt-001",
        **TALK_FIELDS,
    )
    retried = ledger.create(
        "summons_talk",
        entity_id="YT-001",
        actor=OFFICE,
        at=at("2023-10-09"),
        command_id="form-yt-001",
        **TALK_FIELDS,
    )
    assert retried == first
    assert (first.kind, first.state, first.version, dict(first.deadlines)) == (
        "summons_talk",
        "scheduled",
        1,
        {},
    )
    assert first.data["scheduled_for"] == "2023-10-16"
    assert ledger.available("YT-001", OFFICE) == ["hold_talk", "call_off"]
    assert ledger.available("YT-001", HESHAN) == []

    ledger.fire("YT-001", "hold_talk", actor=OFFICE, at=at("2023-10-16"), attendees=6)
    talk = ledger.get("YT-001")
    assert talk.state == "held"
    assert talk.data["held_by"] == {
        "role": "rectification_office",
        "area": "430900",
        "name": "益阳市整改办",
    }
    (due,) = ledger.deadlines("YT-001")
    assert (due.name, due.label_zh, due.status, due.last_day) == (
        "report_due",
        "约谈书面报告",
        "open",
        dt.date(2023, 11, 15),
    )
    assert due.explain("zh").splitlines()[:3] == [
        "约谈书面报告",
        "规则：30日（不含起算日，末日遇休息日顺延）",
        "名称：summons_report",
    ]
    assert "期间末日：2023-11-15（周三）" in due.explain("zh")
    assert ledger.available("YT-001", HESHAN) == ["submit_report"]

    assert ledger.sweep(at("2023-11-09", 23)) == []
    warned = ledger.sweep(at("2023-11-10", 8))
    assert [(n.entity_id, n.deadline, n.name, n.label_zh) for n in warned] == [
        ("YT-001", "report_due", "report_due_soon", "书面报告即将到期")
    ]
    assert ledger.sweep(at("2023-11-10", 8)) == []

    ledger.fire("YT-001", "submit_report", actor=HESHAN, at=at("2023-11-14"), report="整改报告")
    assert ledger.deadlines("YT-001")[0].status == "met"
    assert ledger.get("YT-001").data["submitted_by"]["name"] == "赫山区人民政府"
    ledger.fire("YT-001", "send_back", actor=OFFICE, at=at("2023-11-15"), reason="措施不具体")
    sent_back = ledger.get("YT-001")
    assert (sent_back.state, sent_back.data["sent_back"], sent_back.data["revision_reason"]) == (
        "held",
        True,
        "措施不具体",
    )
    reopened = ledger.deadlines("YT-001")[0]
    assert (reopened.status, reopened.last_day) == ("open", dt.date(2023, 11, 15))

    escalated = ledger.sweep(at("2023-11-16", 8))
    assert [(n.entity_id, n.name, n.label_zh) for n in escalated] == [
        ("YT-001", "report_overdue", "书面报告超期")
    ]
    assert ledger.sweep(at("2023-11-16", 8)) == []
    assert [s.entity_id for s in ledger.overdue(at("2023-11-16", 8))] == ["YT-001"]
    report = status_report(ledger, dt.date(2023, 11, 16))
    assert "YT-001  赫山区  已约谈  超期" in report
    assert "约谈: 1（已约谈 1）" in report
    assert "YT-001  赫山区  talk held" in status_report(ledger, dt.date(2023, 11, 16), lang="en")

    ledger.fire("YT-001", "submit_report", actor=HESHAN, at=at("2023-11-17"), report="修改稿")
    refused = ledger.can("YT-001", "send_back", OFFICE, reason="仍不具体")
    assert not refused
    assert refused.reasons == (
        "YT-001: 'send_back' refused (sent_back_at_most_once): the report was sent back once "
        "already; accept it or escalate the case",
    )
    assert ledger.available("YT-001", OFFICE) == ["accept_report"]
    ledger.fire("YT-001", "accept_report", actor=OFFICE, at=at("2023-11-20"))
    assert ledger.get("YT-001").state == "reviewed"
    assert ledger.get("YT-001").terminal
    assert ledger.sweep(at("2023-12-31")) == []

    other = ledger.create("summons_talk", actor=OFFICE, at=at("2023-11-20"), **TALK_FIELDS)
    assert other.entity_id != "YT-001"
    ledger.fire(other.entity_id, "call_off", actor=OFFICE, at=at("2023-11-21"), reason="已整改")
    assert ledger.tally("summons_talk") == {"open": 0, "closed": 1, "excluded": 1}
    assert ledger.counts("kind") == {"summons_talk": 2}
    assert "约谈: 2（约谈取消 1, 报告审核通过 1）" in status_report(ledger, dt.date(2023, 11, 21))
    audit = ledger.verify(deep=True)
    assert audit.ok, audit.problems
    assert (audit.entities, audit.events) == (2, 10)


def test_a_creation_without_an_id_retried_returns_the_first(ledger: Ledger) -> None:
    """A retried creation whose id the ledger makes up returns the entity stored first."""
    first = ledger.create(
        "summons_talk", actor=OFFICE, at=at("2023-10-09"), command_id="form-42", **TALK_FIELDS
    )
    again = ledger.create(
        "summons_talk", actor=OFFICE, at=at("2023-10-09"), command_id="form-42", **TALK_FIELDS
    )
    assert again.entity_id == first.entity_id
    assert ledger.counts("kind") == {"summons_talk": 1}


def test_a_sqlite_ledger_reopened_from_its_file_goes_on(tmp_path: Path, summons: Rulebook) -> None:
    """A ledger reopened from its file with the same rulebook carries the talk on."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook=summons) as ledger:
        ledger.create(
            "summons_talk", entity_id="YT-7", actor=OFFICE, at=at("2023-10-09"), **TALK_FIELDS
        )
        ledger.fire("YT-7", "hold_talk", actor=OFFICE, at=at("2023-10-16"), attendees=4)
    reloaded = load_rulebook(write_rulebook(tmp_path, name="again.toml"))
    with Ledger.open(path, rulebook=reloaded) as ledger:
        assert ledger.get("YT-7").state == "held"
        assert ledger.deadlines("YT-7")[0].last_day == dt.date(2023, 11, 15)
        ledger.fire("YT-7", "submit_report", actor=HESHAN, at=at("2023-11-01"), report="报告")
        ledger.fire("YT-7", "accept_report", actor=OFFICE, at=at("2023-11-02"))
        assert ledger.tally("summons_talk") == {"open": 0, "closed": 1, "excluded": 0}
        assert ledger.verify(deep=True).ok


def test_a_ledger_reopened_without_the_rulebook_says_which_to_give(
    tmp_path: Path, summons: Rulebook
) -> None:
    """Reopened without the rulebook that defines the lifecycle, a command says what to do."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook=summons) as ledger:
        ledger.create(
            "summons_talk", entity_id="YT-8", actor=OFFICE, at=at("2023-10-09"), **TALK_FIELDS
        )
    with Ledger.open(path) as ledger:
        assert ledger.get("YT-8").state == "scheduled"
        with pytest.raises(RulebookError) as caught:
            ledger.fire("YT-8", "hold_talk", actor=OFFICE, at=at("2023-10-16"), attendees=4)
        assert "'summons_talk'" in caught.value.problem
        assert "rulebook=" in caught.value.problem
        assert ledger.get("YT-8").version == 1


def reviewed_variation() -> Lifecycle:
    """A variation in Python: the report is reviewed by another unit than the convener."""
    office_roles = frozenset({"rectification_office", "leading_office"})
    return Lifecycle(
        name="summons_talk_reviewed",
        kind="summons_talk",
        label_zh="约谈（异单位审核）",
        label_en="summons talk (reviewed elsewhere)",
        initial="scheduled",
        creators=office_roles,
        fields=(Field("unit"), Field("unit_head"), Field("scheduled_for", "date")),
        states=(
            State("scheduled", "已安排约谈", "talk scheduled"),
            State("held", "已约谈", "talk held"),
            State("report_received", "已收到书面报告", "report received"),
            State("reviewed", "报告审核通过", "report reviewed", terminal=True, counts_as="closed"),
        ),
        transitions=(
            Transition("hold_talk", ("scheduled",), "held", office_roles, records_actor="held_by"),
            Transition(
                "submit_report",
                ("held",),
                "report_received",
                frozenset({"owner_unit"}),
                fields=(Field("report"),),
            ),
            Transition(
                "accept_report",
                ("report_received",),
                "reviewed",
                office_roles,
                guards=("not_the_convener",),
            ),
        ),
        deadlines=(
            DeadlineBinding(
                "report_due",
                "summons_report",
                "hold_talk",
                frozenset({"submit_report"}),
                label_zh="约谈书面报告",
            ),
        ),
    )


def test_a_variation_in_python_runs_beside_the_toml_one(summons: Rulebook) -> None:
    """A Python lifecycle added with with_lifecycles shares the kind; its guard refuses."""
    both = summons.with_lifecycles(reviewed_variation())
    ledger = Ledger(rulebook=both)
    province = Actor("leading_office", "430000", "湖南省督察办")
    ledger.create(
        "summons_talk_reviewed",
        entity_id="YT-P1",
        actor=OFFICE,
        at=at("2023-10-09"),
        area="430903",
        unit="赫山区人民政府",
        unit_head="区长",
        scheduled_for="2023-10-16",
    )
    ledger.create(
        "summons_talk", entity_id="YT-T1", actor=OFFICE, at=at("2023-10-09"), **TALK_FIELDS
    )
    ledger.fire("YT-P1", "hold_talk", actor=OFFICE, at=at("2023-10-16"))
    assert ledger.deadlines("YT-P1")[0].last_day == dt.date(2023, 11, 15)
    ledger.fire("YT-P1", "submit_report", actor=HESHAN, at=at("2023-11-01"), report="报告")
    decision = ledger.can("YT-P1", "accept_report", OFFICE)
    assert decision.reasons == (
        "YT-P1: 'accept_report' refused (not_the_convener): 益阳市整改办 held the talk; "
        "another unit must review the report",
    )
    assert ledger.available("YT-P1", province) == ["accept_report"]
    ledger.fire("YT-P1", "accept_report", actor=province, at=at("2023-11-02"))
    assert ledger.tally("summons_talk") == {"open": 1, "closed": 1, "excluded": 0}
    report = status_report(ledger, dt.date(2023, 11, 2))
    assert "约谈: 2（报告审核通过 1, 已安排约谈 1）" in report
    assert ledger.verify(deep=True).ok


def test_a_python_lifecycle_with_an_unknown_role_is_refused_by_the_rulebook(
    summons: Rulebook,
) -> None:
    """with_lifecycles refuses a creator or a role the rulebook does not know."""
    lc = reviewed_variation()
    typo = Lifecycle(
        name=lc.name,
        kind=lc.kind,
        label_zh=lc.label_zh,
        label_en=lc.label_en,
        initial=lc.initial,
        creators=frozenset({"rectification_ofice"}),
        fields=lc.fields,
        states=lc.states,
        transitions=lc.transitions,
        deadlines=lc.deadlines,
    )
    with pytest.raises(RulebookError) as caught:
        summons.with_lifecycles(typo)
    assert caught.value.key == "lifecycles.summons_talk_reviewed.creators"
    assert "unknown role 'rectification_ofice'" in caught.value.problem
    bad_role = Transition("submit_report", ("held",), "report_received", frozenset({"owner_units"}))
    typo = Lifecycle(
        name=lc.name,
        kind=lc.kind,
        label_zh=lc.label_zh,
        label_en=lc.label_en,
        initial=lc.initial,
        creators=lc.creators,
        fields=lc.fields,
        states=lc.states,
        transitions=(lc.transitions[0], bad_role, lc.transitions[2]),
        deadlines=lc.deadlines,
    )
    with pytest.raises(RulebookError) as caught:
        summons.with_lifecycles(typo)
    assert caught.value.key == "lifecycles.summons_talk_reviewed.transitions[1].roles"
    assert "unknown role 'owner_units'" in caught.value.problem


@pytest.mark.parametrize(
    ("mistake", "fixed", "key", "problem"),
    [
        pytest.param(
            '"sent_back_at_most_once"',
            '"sent_back_once"',
            "lifecycles[0].transitions[3].guards",
            "unknown guard 'sent_back_once'",
            id="unknown-guard",
        ),
        pytest.param(
            'target = "reviewed"',
            'target = "reviwed"',
            "lifecycles[0].transitions[4].target",
            "unknown state 'reviwed'",
            id="misspelt-state",
        ),
        pytest.param(
            'rule = "summons_report"',
            'rule = "summons_reprot"',
            "deadlines.summons_reprot",
            "is required by the summons_talk deadline 'report_due'",
            id="rule-the-rulebook-lacks",
        ),
        pytest.param(
            'creators = ["rectification_office"]',
            'creators = ["rectification_ofice"]',
            "lifecycles[0].creators",
            "unknown role 'rectification_ofice'",
            id="unknown-creator",
        ),
        pytest.param(
            'type = "int"',
            'type = "integer"',
            "lifecycles[0].transitions[0].fields[0].type",
            "use one of str, int",
            id="unknown-field-type",
        ),
        pytest.param(
            'met_by = ["submit_report"]',
            'met_by = ["submit"]',
            "lifecycles[0]",
            "deadline 'report_due': refers to unknown event 'submit'",
            id="deadline-on-unknown-event",
        ),
        pytest.param(
            'counts_as = "closed"',
            'counts_as = "done"',
            "lifecycles[0].states[3].counts_as",
            "must be open, closed or excluded",
            id="bad-counts-as",
        ),
        pytest.param(
            'choices = ["yellow_cards", "red_light", "other"]',
            "choices = []",
            "lifecycles[0].fields[3].choices",
            "a choice field needs its choices",
            id="choice-without-choices",
        ),
    ],
)
def test_a_mistake_in_the_rulebook_names_the_file_and_key(
    tmp_path: Path, mistake: str, fixed: str, key: str, problem: str
) -> None:
    """Each mistake a user makes in the TOML is a RulebookError naming the file and key."""
    assert mistake in SUMMONS_TOML
    path = write_rulebook(tmp_path, SUMMONS_TOML.replace(mistake, fixed, 1), "broken.toml")
    with pytest.raises(RulebookError) as caught:
        load_rulebook(path)
    error = caught.value
    assert (error.source, error.key) == (str(path), key)
    assert problem in error.problem
    assert str(path) in str(error)


def test_a_creator_not_among_the_creators_is_refused(summons: Rulebook) -> None:
    """create by a role the lifecycle does not list among its creators writes nothing."""
    ledger = Ledger(rulebook=summons)
    with pytest.raises(PermissionDeniedError) as caught:
        ledger.create(
            "summons_talk", entity_id="YT-9", actor=TEAM, at=at("2023-10-09"), **TALK_FIELDS
        )
    assert "only rectification_office may create a summons talk" in str(caught.value)
    assert ledger.find(kind="summons_talk") == []


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("scheduled_for", "16 Oct", "must be a date YYYY-MM-DD"),
        ("scheduled_for", 20231016, "must be a date"),
        ("cause", "blue_light", "must be one of yellow_cards, red_light, other"),
        ("unit", 5, "must be text, not int"),
        ("unit_head", None, "must be text, not NoneType"),
        ("chair", "市长", "unknown field; known: unit, unit_head, scheduled_for, cause"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_at_creation(
    summons: Rulebook, field: str, value: object, problem: str
) -> None:
    """A typed field given a value of another type is a PayloadError naming the field."""
    ledger = Ledger(rulebook=summons)
    with pytest.raises(PayloadError) as caught:
        ledger.create(
            "summons_talk",
            entity_id="YT-9",
            actor=OFFICE,
            at=at("2023-10-09"),
            **{**TALK_FIELDS, field: value},
        )
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert ledger.find(kind="summons_talk") == []


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        ({"attendees": "6"}, "attendees", "must be a whole number"),
        ({"attendees": True}, "attendees", "must be a whole number"),
        ({}, "attendees", "is required"),
        ({"attendees": 6, "minutes": 3}, "minutes", "must be text, not int"),
    ],
)
def test_an_event_field_of_the_wrong_type_is_refused(
    summons: Rulebook, payload: dict[str, object], field: str, problem: str
) -> None:
    """An event's typed field given a bad value is refused, and the talk stays scheduled."""
    ledger = Ledger(rulebook=summons)
    ledger.create(
        "summons_talk", entity_id="YT-9", actor=OFFICE, at=at("2023-10-09"), **TALK_FIELDS
    )
    with pytest.raises(PayloadError) as caught:
        ledger.fire("YT-9", "hold_talk", actor=OFFICE, at=at("2023-10-16"), **payload)
    assert (caught.value.field, caught.value.problem) == (field, problem)
    assert ledger.get("YT-9").version == 1


def test_an_unknown_lifecycle_lists_the_ones_the_rulebook_defines(summons: Rulebook) -> None:
    """create with a misspelt lifecycle name says which lifecycles there are."""
    ledger = Ledger(rulebook=summons)
    with pytest.raises(RulebookError) as caught:
        ledger.create("summons_tlk", actor=OFFICE, at=at("2023-10-09"), **TALK_FIELDS)
    assert "summons_talk" in caught.value.problem
    assert isinstance(caught.value, InspectionFlowError)


def test_a_misspelt_state_is_named_by_its_key() -> None:
    """A transition naming a state the lifecycle lacks is refused at the key of that
    transition's sources or target, with the states there are."""
    with pytest.raises(RulebookError) as info:
        parse_rulebook(
            {
                "rulebook": {"name": "x", "extends": "hunan-provincial-2023"},
                "lifecycles": [
                    {
                        "name": "y",
                        "states": [{"name": "a"}, {"name": "b", "terminal": True}],
                        "transitions": [
                            {"event": "go", "sources": ["a"], "target": "bb", "roles": ["liaison"]}
                        ],
                    }
                ],
            },
            "city.toml",
        )
    assert "lifecycles[0].transitions[0].target" in str(info.value)
    assert "unknown state 'bb'; the lifecycle's states: a, b" in str(info.value)


def test_a_guard_registered_twice_is_refused_plainly() -> None:
    """Registering another function under a taken guard name says so, naming the guard."""
    from inspection_flow import register_guard

    register_guard("registered_once_here", lambda ctx: None)
    with pytest.raises(DefinitionError, match=r"^guard 'registered_once_here': is registered"):
        register_guard("registered_once_here", lambda ctx: None)
