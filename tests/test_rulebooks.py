"""Rulebooks: the built-in ones, user-written TOML files, and validation errors that name
the file and the key."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import attrs
import pytest

from inspection_flow import (
    BUILTIN_RULEBOOKS,
    LIFECYCLES,
    SHANGHAI,
    Actor,
    Channel,
    ChinaCalendar,
    DailyWindow,
    GuardError,
    Ledger,
    PermissionDeniedError,
    Rulebook,
    RulebookError,
    Unit,
    load_rulebook,
    parse_rulebook,
)
from strategies import LIAISON, OFFICE, OWNER, RECT_OFFICE, TEAM

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CAL = ChinaCalendar()
D = dt.date


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


# --- the built-in rulebooks ----------------------------------------------------------------


def test_builtin_names() -> None:
    """The library ships the central rulebook, its regimes, and Hunan's 2023 provincial one."""
    assert BUILTIN_RULEBOOKS == (
        "central",
        "central-2019",
        "central-2022",
        "central-2025",
        "hunan-provincial-2023",
    )


@pytest.mark.parametrize("name", BUILTIN_RULEBOOKS)
def test_builtin_rulebooks_load(name: str) -> None:
    """Each built-in rulebook loads by name, with its level and a source naming it."""
    rb = load_rulebook(name)
    assert rb.name == name
    assert rb.level == ("central" if name.startswith("central") else "provincial")
    assert rb.source == f"<builtin {name}>"
    assert rb.title
    assert rb.dispatch == "monthly"


@pytest.mark.parametrize("name", BUILTIN_RULEBOOKS)
def test_builtin_values_carry_source_and_confidence(name: str) -> None:
    """Every built-in rulebook value names its source and an H, M or L confidence."""
    rb = load_rulebook(name)
    expected = (
        {f"deadlines.{k}" for k in rb.rules}
        | {f"ladders.{k}" for k in rb.ladders}
        | {
            f"ladders.{k}.{kind}.{step.name}"
            for k, ladder in rb.ladders.items()
            for kind, steps in (("warnings", ladder.warnings), ("escalations", ladder.escalations))
            for step in steps
        }
        | {"intake", "dispatch", "dispatch.report_day", "review"}
        | ({"acceptance"} if rb.acceptance_by else set())
        | ({"rulebook"} if name.startswith("central") else set())
    )
    assert set(rb.notes) == expected
    for key, (source, confidence) in rb.notes.items():
        assert source.strip(), key
        assert confidence in ("H", "M", "L"), key
    for key, rule in rb.rules.items():
        assert (rule.source, rule.confidence) == rb.notes[f"deadlines.{key}"]
        assert rule.name == key


@pytest.mark.parametrize("name", BUILTIN_RULEBOOKS)
def test_builtin_rulebooks_have_every_rule_the_lifecycles_need(name: str) -> None:
    """Every lifecycle deadline finds its rule (or ladder) in each built-in rulebook."""
    rb = load_rulebook(name)
    assert set(rb.lifecycles) == set(LIFECYCLES)
    for lc in rb.lifecycles.values():
        for b in lc.deadlines:
            if lc.needs_rule(b):
                assert rb.rule(b.rule).amount > 0
            elif lc.name == "dispatch":
                # A dispatch's report day comes from [dispatch] report_day; no ladder warns
                # of it.
                assert b.rule not in rb.ladders
                assert rb.notes["dispatch.report_day"][0]
            else:
                assert b.rule in rb.ladders


def test_hunan_station_in_is_21_days_counting_the_start_day() -> None:
    """Hunan's station-in is 21 calendar days counting the start day, unrolled: 06-26 to 07-16."""
    rule = load_rulebook("hunan-provincial-2023").rule("station_in")
    assert (rule.amount, rule.unit, rule.count_start_day, rule.roll) == (
        21,
        Unit.CALENDAR_DAYS,
        True,
        False,
    )
    due = rule.compute(at("2023-06-26"), CAL)
    assert due.last_day == D(2023, 7, 16)
    assert due.due_at == at("2023-07-17", 0)
    assert rule.confidence == "H"


def test_hunan_hotline_answers_from_eight_to_eight() -> None:
    """Hunan's hotline window is 08:00–20:00 and governs phone calls only."""
    intake = load_rulebook("hunan-provincial-2023").intake
    assert intake.window == DailyWindow(dt.time(8), dt.time(20))
    assert intake.windowed_channels == frozenset({Channel.PHONE})
    assert intake.window.describe() == "08:00–20:00"


@pytest.mark.parametrize(
    ("feedback", "due"),
    [(D(2021, 7, 16), D(2021, 8, 27)), (D(2023, 9, 26), D(2023, 11, 13))],
)
@pytest.mark.parametrize("name", ["central-2019", "hunan-provincial-2023"])
def test_plan_is_due_30_working_days_after_feedback(name: str, feedback: D, due: D) -> None:
    """Under the 2019 rules (and Hunan's copy of them) the plan is due 30 working days
    after feedback, make-up workdays counted."""
    rule = load_rulebook(name).rule("plan")
    assert (rule.amount, rule.unit, rule.count_start_day) == (30, Unit.WORKING_DAYS, False)
    assert rule.compute(feedback, CAL).last_day == due


def test_central_station_in_is_about_a_month() -> None:
    """The central rulebook's station-in is one month to the same date, unrolled."""
    rule = load_rulebook("central").rule("station_in")
    assert (rule.amount, rule.unit, rule.count_start_day, rule.roll) == (
        1,
        Unit.MONTHS,
        False,
        False,
    )


def test_hunan_registers_yiyang_and_its_zones() -> None:
    """The Hunan rulebook names Yiyang's districts and its two zones without a GB/T 2260
    code, under the statistics codes in common use."""
    rb = load_rulebook("hunan-provincial-2023")
    assert rb.areas["430900"] == ("益阳市", "430000")
    assert rb.areas["430971"] == ("大通湖区", "430900")
    ledger = Ledger(rulebook=rb)
    assert ledger.areas.name("430972") == "益阳高新区"
    assert ledger.areas.covers("430900", "430971")
    assert not ledger.areas.covers("430903", "430971")


def test_unknown_rule_or_lifecycle_is_a_rulebook_error() -> None:
    """Asking a rulebook for a rule or lifecycle it lacks names the rulebook and the key."""
    rb = load_rulebook("central")
    with pytest.raises(RulebookError) as info:
        rb.rule("moon_landing")
    assert (info.value.source, info.value.key) == ("<builtin central>", "deadlines.moon_landing")
    with pytest.raises(RulebookError, match="lifecycle permit"):
        rb.lifecycle("permit")


def test_a_task_deadline_takes_its_day_from_the_data_and_its_ladder_from_the_rulebook() -> None:
    """For a deadline given in the data, the rule ends on that day and carries the ladder."""
    rb = load_rulebook("central")
    binding = LIFECYCLES["task"].deadline("rectify_due")
    rule = rb.rule_for(binding, D(2023, 12, 31), D(2023, 11, 30))
    due = rule.compute(D(2023, 11, 30), CAL)
    assert due.last_day == D(2023, 12, 31)
    assert [s.name for s in rule.escalations] == [
        "yellow_card",
        "supervision_letter",
        "summons_talk",
    ]
    assert [w.name for w in rule.warnings] == ["due_soon"]


# --- a user-written rulebook --------------------------------------------------------------

BASE = """\
[rulebook]
name = "changde-municipal-2024"
title = "常德市生态环境保护督察（测试）"
level = "municipal"

[intake]
hotline_opens = "09:00"
hotline_closes = "18:00"
windowed_channels = ["phone"]
source = "test"
confidence = "H"

[deadlines.station_in]
amount = 15
unit = "calendar_days"
count_start_day = true
roll = false
source = "test"
confidence = "H"

[deadlines.case_result]
amount = 5
unit = "working_days"
source = "a city's own 5 days (domain.md R4)"
confidence = "M"

[deadlines.case_publish]
amount = 9
unit = "calendar_days"
source = "example value (case_publish)"
confidence = "L"

[deadlines.plan]
amount = 20
unit = "working_days"
source = "example value (plan)"
confidence = "L"

[deadlines.progress_report]
amount = 3
unit = "months"
source = "example value (progress_report)"
confidence = "L"

[deadlines.public_notice]
amount = 5
unit = "working_days"
count_start_day = true
source = "example value (public_notice)"
confidence = "L"

[deadlines.document_request]
amount = 1
unit = "working_days"
source = "example value (document_request)"
confidence = "L"

[deadlines.summons_report]
amount = 30
unit = "calendar_days"
source = "example value (summons_report)"
confidence = "L"

[ladders.task_deadline]
source = "test"
confidence = "L"
escalations = [{ name = "yellow_card", after = 0, unit = "working_days" }]

[dispatch]
cadence = "quarterly"
source = "test"
confidence = "M"

[areas.changde-hitech]
name = "常德高新区"
parent = "430700"
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a rulebook file and return its path."""
    path = tmp_path / "rulebook.toml"
    path.write_text(text, encoding="utf-8")
    return path


def replaced(old: str, new: str) -> str:
    """BASE with one piece of text replaced."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def test_a_user_rulebook_loads_with_its_values(tmp_path: Path) -> None:
    """A TOML file with custom values loads, with its file as source and its notes."""
    path = write(tmp_path, BASE)
    rb = load_rulebook(path)
    assert rb.source == str(path)
    assert (rb.name, rb.level, rb.dispatch) == ("changde-municipal-2024", "municipal", "quarterly")
    assert rb.intake.window == DailyWindow(dt.time(9), dt.time(18))
    assert rb.rule("case_result").amount == 5
    assert rb.notes["deadlines.case_result"] == ("a city's own 5 days (domain.md R4)", "M")
    assert rb.notes["deadlines.plan"] == ("example value (plan)", "L")
    assert rb.notes["dispatch"] == ("test", "M")
    assert rb.areas["changde-hitech"] == ("常德高新区", "430700")
    assert load_rulebook(str(path)) == rb


def test_a_round_created_with_a_user_rulebook_follows_it(tmp_path: Path) -> None:
    """A round created with a user rulebook file uses its station-in, hotline and result time."""
    path = write(tmp_path, BASE)
    ledger = Ledger()
    team = Actor("inspection_team", "430000")
    office = Actor("leading_office", "430000")
    rnd = ledger.create_round(
        "CD", name="常德市", area="430700", actor=office, at=at("2024-04-01"), rulebook=str(path)
    )
    assert rnd.data["rulebook"] == "changde-municipal-2024"
    assert ledger.rulebook_of("CD").source == str(path)
    ledger.fire("CD", "announce", actor=office, at=at("2024-04-01", 10))
    ledger.fire("CD", "station_in", actor=team, at=at("2024-04-08"))
    (station,) = ledger.deadlines("CD")
    assert station.last_day == D(2024, 4, 22)
    late_call = ledger.receive_complaint(
        "CD",
        channel="phone",
        received_at=at("2024-04-09", 18, 30),
        area="430702",
        summary="夜间施工噪声",
        category="noise",
        actor=team,
    )
    assert late_call.data["intake_day"] == "2024-04-10"
    batch = ledger.hand_over_batch("CD", D(2024, 4, 11), actor=team, at=at("2024-04-11"))
    assert batch is not None
    assert batch.number == 1
    result = {d.name: d for d in ledger.deadlines(late_call.entity_id)}["result_due"]
    assert result.last_day == D(2024, 4, 18)
    # The default rulebook of the same ledger still governs its other rounds.
    ledger.create_round("ZJ", name="张家界市", area="430800", actor=office, at=at("2024-04-01"))
    assert ledger.rulebook_of("ZJ").name == "central-2022"  # the regime in force that day


def test_a_round_takes_a_rulebook_object(tmp_path: Path) -> None:
    """A Rulebook object given to create_round governs that round and registers its areas."""
    rb = load_rulebook(write(tmp_path, BASE))
    ledger = Ledger(rulebook="hunan-provincial-2023")
    ledger.create_round(
        "CD", name="常德市", area="430700", actor=OFFICE, at=at("2024-04-01"), rulebook=rb
    )
    assert ledger.rulebook_of("CD") is rb
    assert ledger.areas.covers("430700", "changde-hitech")


def test_permissions_transitions_bindings_and_roles_change_the_lifecycles(tmp_path: Path) -> None:
    """A rulebook's permissions, transitions, bindings and roles govern its rounds' entities."""
    text = (
        BASE
        + """
[roles]
expert_panel = "专家组"

[[permissions]]
lifecycle = "round"
event = "hold_meeting"
roles = ["leading_office"]

[[transitions]]
lifecycle = "task"
event = "expert_review"
sources = ["verifying"]
target = "signed_off"
roles = ["expert_panel"]
label_zh = "专家评审"

[deadlines.verification]
amount = 5
unit = "working_days"
source = "example value (verification)"
confidence = "L"

[[bindings]]
lifecycle = "task"
name = "verify_due"
rule = "verification"
starts_on = "start_verification"
met_by = ["sign_off", "expert_review"]
cancelled_by = ["fail_verification"]
"""
    )
    rb = load_rulebook(write(tmp_path, text))
    assert rb.lifecycle("round").transitions_of("hold_meeting")[0].roles == {"leading_office"}
    assert rb.lifecycle("task").transition("verifying", "expert_review") is not None
    ledger = Ledger(rulebook=rb)
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    with pytest.raises(PermissionDeniedError, match="only leading_office may do this"):
        ledger.fire("R", "hold_meeting", actor=LIAISON, at=at("2023-06-20", 10), kind="deployment")
    ledger.fire("R", "hold_meeting", actor=OFFICE, at=at("2023-06-20", 10), kind="deployment")
    for i, event in enumerate(
        ["announce", "station_in", "end_station_in", "approve_report", "give_feedback"]
    ):
        actor = OFFICE if event in ("announce", "approve_report") else TEAM
        ledger.fire("R", event, actor=actor, at=at("2023-07-01", 9 + i))
    ledger.add_task(
        "R", title="码头整治", area="430903", actor=RECT_OFFICE, at=at("2023-07-02"), task_id="T"
    )
    ledger.fire(
        "T",
        "plan",
        actor=RECT_OFFICE,
        at=at("2023-07-03"),
        owner="430903",
        measures="拆除",
        term="short",
        deadline="2023-09-30",
    )
    ledger.fire("T", "start", actor=OWNER, at=at("2023-07-04"))
    ledger.fire("T", "claim_completion", actor=OWNER, at=at("2023-07-05"))
    acceptor = Actor("accepting_unit", "430900", "市生态环境局")
    ledger.fire("T", "start_verification", actor=acceptor, at=at("2023-07-06"))
    verify = {d.name: d for d in ledger.deadlines("T")}["verify_due"]
    assert verify.last_day == D(2023, 7, 13)
    ledger.fire("T", "expert_review", actor=Actor("expert_panel", "430900"), at=at("2023-07-07"))
    snap = ledger.get("T")
    assert snap.state == "signed_off"
    assert snap.deadlines["verify_due"].status == "met"


def test_bindings_carry_labels_kind_and_reopening_events(tmp_path: Path) -> None:
    """A [[bindings]] entry may set labels, mark a period, and name events that reopen it."""
    text = (
        BASE
        + """
[deadlines.acceptance]
amount = 5
unit = "working_days"
source = "example value (acceptance)"
confidence = "L"

[[bindings]]
lifecycle = "complaint"
name = "acceptance_due"
rule = "acceptance"
starts_on = "apply_acceptance"
met_by = ["accept"]
reopened_by = ["reject_acceptance"]
label_zh = "验收时限"
label_en = "acceptance due"

[[bindings]]
lifecycle = "task"
name = "verification_window"
rule = "acceptance"
on_enter = "verifying"
met_by = ["sign_off"]
cancelled_by = ["fail_verification"]
kind = "period"
"""
    )
    rb = load_rulebook(write(tmp_path, text))
    due = rb.lifecycle("complaint").deadline("acceptance_due")
    assert (due.label_zh, due.label_en, due.kind) == ("验收时限", "acceptance due", "due")
    assert rb.lifecycle("complaint").deadlines_reopened_by("reject_acceptance") == (due,)
    window = rb.lifecycle("task").deadline("verification_window")
    assert (window.kind, window.on_enter, window.starts_on) == ("period", "verifying", "")


# --- validation errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (BASE + "\n[extras]\nx = 1\n", "extras", "unknown table"),
        (
            BASE.split("[deadlines.station_in]")[0]
            + "[ladders.task_deadline]"
            + BASE.split("[ladders.task_deadline]")[1],
            "deadlines",
            "is required",
        ),
        (
            replaced(
                'amount = 5\nunit = "working_days"\nsource',
                'amount = "ten"\nunit = "working_days"\nsource',
            ),
            "deadlines.case_result.amount",
            "whole number",
        ),
        (
            replaced('amount = 20\nunit = "working_days"', 'amount = 20\nunit = "fortnights"'),
            "deadlines.plan.unit",
            "fortnights",
        ),
        (
            replaced(
                'source = "example value (plan)"\nconfidence = "L"',
                'source = "example value (plan)"\nconfidence = "certain"',
            ),
            "deadlines.plan.confidence",
            "H, M or L",
        ),
        (
            replaced('amount = 20\nunit = "working_days"', 'amount = 20\nunits = "working_days"'),
            "deadlines.plan.units",
            "unknown key",
        ),
        (
            BASE
            + '\n[[permissions]]\nlifecycle = "round"\nevent = "announce"\nroles = ["mayor"]\n',
            "permissions[0].roles",
            "unknown role 'mayor'",
        ),
        (
            BASE + '\n[[permissions]]\nlifecycle = "round"\nevent = "dissolve"\n'
            'roles = ["leading_office"]\n',
            "permissions[0].event",
            "unknown event 'dissolve'",
        ),
        (
            BASE + '\n[[permissions]]\nlifecycle = "permit"\nevent = "x"\nroles = ["public"]\n',
            "permissions[0].lifecycle",
            "unknown lifecycle",
        ),
        (
            BASE + '\n[[transitions]]\nlifecycle = "task"\nevent = "reopen"\nsources = ["filed"]\n'
            'target = "in_progress"\nroles = ["rectification_office"]\n',
            "transitions[0]",
            "leaves the terminal state 'filed'",
        ),
        (
            BASE + '\n[[transitions]]\nlifecycle = "task"\nevent = "reopen"\nsources = []\n'
            'target = "in_progress"\nroles = ["rectification_office"]\n',
            "transitions[0].sources",
            "non-empty list",
        ),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "limbo_due"\nrule = "plan"\n'
            'on_enter = "limbo"\nmet_by = ["close"]\n',
            "bindings[0]",
            "unknown state 'limbo'",
        ),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "after_filing"\nrule = "plan"\n'
            'on_enter = "filed"\nmet_by = ["close"]\n',
            "bindings[0]",
            "state 'filed' is terminal",
        ),
        (
            BASE
            + '\n[[bindings]]\nlifecycle = "task"\nname = "verify_due"\nrule = "verification"\n'
            'starts_on = "start_verification"\nmet_by = ["sign_off"]\n',
            "deadlines.verification",
            "required by the task deadline 'verify_due'",
        ),
        (
            BASE.replace(
                '[deadlines.plan]\namount = 20\nunit = "working_days"\n'
                'source = "example value (plan)"\nconfidence = "L"\n',
                "",
            ),
            "deadlines.plan",
            "required by the round deadline 'plan_due'",
        ),
        (
            replaced('hotline_closes = "18:00"', 'hotline_closes = "6 pm"'),
            "intake.hotline_closes",
            "HH:MM",
        ),
        (
            replaced('hotline_opens = "09:00"', 'hotline_opens = "nine"'),
            "intake.hotline_opens",
            "HH:MM",
        ),
        (
            replaced('hotline_closes = "18:00"', 'hotline_closes = "08:00"'),
            "intake.closes",
            "after 'opens'",
        ),
        (
            replaced('windowed_channels = ["phone"]', 'windowed_channels = ["pigeon"]'),
            "intake.windowed_channels",
            "pigeon",
        ),
        (
            replaced('windowed_channels = ["phone"]', 'windowed_channel = ["phone", "letter"]'),
            "intake.windowed_channel",
            "unknown key",
        ),
        (replaced('level = "municipal"', 'level = "village"'), "rulebook.level", "must be"),
        (
            replaced('level = "municipal"', 'level = "municipal"\nauthor = "x"'),
            "rulebook.author",
            "unknown key",
        ),
        (
            replaced('cadence = "quarterly"', 'cadence = "weekly"'),
            "dispatch.cadence",
            "monthly or quarterly",
        ),
        (
            replaced('cadence = "quarterly"', 'cadance = "monthly"'),
            "dispatch.cadance",
            "unknown key",
        ),
        (
            replaced('source = "test"\nconfidence = "L"', 'source = "test"\nconfidence = "sure"'),
            "ladders.task_deadline.confidence",
            "H, M or L",
        ),
        (
            replaced(
                'escalations = [{ name = "yellow_card", after = 0, unit = "working_days" }]',
                'escalations = [{ name = "yellow_card", after = 0, unit = "hours" }]',
            ),
            "ladders.task_deadline",
            "hours",
        ),
        (replaced('name = "常德高新区"\n', ""), "areas.changde-hitech.name", "is required"),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "x"\nrule = "plan"\n'
            'starts_on = "start"\nmet_bys = ["close"]\n',
            "bindings[0].met_bys",
            "unknown key",
        ),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "x"\nrule = "plan"\n'
            'starts_on = "start"\nmet_by = ["close"]\ncancelled_by = "object"\n',
            "bindings[0].cancelled_by",
            "list of events",
        ),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "x"\nrule = "plan"\n'
            'starts_on = "start"\nmet_by = ["close"]\nkind = "window"\n',
            "bindings[0].kind",
            "due or period",
        ),
        (
            BASE + '\n[[bindings]]\nlifecycle = "task"\nname = "x"\nrule = "plan"\n'
            'starts_on = "start"\nmet_by = ["close"]\nreopened_by = ["reopen"]\n',
            "bindings[0]",
            "unknown event 'reopen'",
        ),
        (
            BASE + '\n[[permissions]]\nlifecycle = "round"\nevent = "announce"\n'
            'roles = ["leading_office"]\nrole = "x"\n',
            "permissions[0].role",
            "unknown key",
        ),
        (
            BASE + '\n[[transitions]]\nlifecycle = "task"\nevent = "pause"\nsources = ["planned"]\n'
            'roles = ["rectification_office"]\ntargets = ["in_progress"]\n',
            "transitions[0].targets",
            "unknown key",
        ),
        (
            replaced('[rulebook]\nname = "changde-municipal-2024"\n', "[rulebook]\n"),
            "rulebook.name",
            "is required",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_validation_errors_name_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    """A rulebook failing validation raises RulebookError naming its file, key and problem."""
    path = write(tmp_path, text)
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    err = info.value
    assert (err.source, err.key) == (str(path), key)
    assert problem in err.problem
    assert str(err).startswith(f"{path}: [{key}] ")
    assert isinstance(err, ValueError)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    """A file that is not TOML is refused, naming the file and the parser's complaint."""
    path = write(tmp_path, BASE + "\n[deadlines.plan\n")
    with pytest.raises(RulebookError, match="not valid TOML") as info:
        load_rulebook(path)
    assert (info.value.source, info.value.key) == (str(path), "-")


def test_a_missing_file_names_the_builtins(tmp_path: Path) -> None:
    """A path that does not exist is refused, listing the built-in names."""
    path = tmp_path / "nowhere.toml"
    names = ", ".join(BUILTIN_RULEBOOKS)
    with pytest.raises(RulebookError, match=names) as info:
        load_rulebook(path)
    assert info.value.source == str(path)


def test_parse_rulebook_validates_plain_data() -> None:
    """parse_rulebook takes data already read, naming the given source in errors."""
    with pytest.raises(RulebookError) as info:
        parse_rulebook({"rulebook": {"name": "x"}}, "settings.yaml")
    assert (info.value.source, info.value.key) == ("settings.yaml", "intake")


def test_a_round_naming_an_unknown_rulebook_is_refused() -> None:
    """Creating a round with a rulebook name that is neither built in nor a file fails."""
    ledger = Ledger()
    with pytest.raises(RulebookError):
        ledger.create_round(
            "R",
            name="x",
            area="430900",
            actor=OFFICE,
            at=at("2023-06-20"),
            rulebook="atlantis-2023",
        )
    with pytest.raises(LookupError):
        ledger.get("R")


def test_rulebook_values_are_immutable() -> None:
    """A loaded rulebook is a frozen value."""
    rb = load_rulebook("central")
    assert isinstance(rb, Rulebook)
    with pytest.raises(AttributeError):
        rb.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("mapping", ["rules", "ladders", "areas", "lifecycles", "notes"])
def test_rulebook_mappings_refuse_assignment(mapping: str) -> None:
    """Assigning into or deleting from any of a rulebook's mappings raises TypeError."""
    rb = load_rulebook("hunan-provincial-2023")
    values = getattr(rb, mapping)
    key = next(iter(values))
    with pytest.raises(TypeError):
        values["x"] = values[key]
    with pytest.raises(TypeError):
        del values[key]
    assert "x" not in getattr(load_rulebook("hunan-provincial-2023"), mapping)


def test_a_refused_assignment_leaks_into_no_later_rulebook() -> None:
    """Trying to add a rule or lifecycle to one rulebook leaves the next one loaded as it was."""
    rb = load_rulebook("central")
    with pytest.raises(TypeError):
        rb.rules["plan"] = rb.rules["station_in"]  # type: ignore[index]
    with pytest.raises(TypeError):
        rb.lifecycles["task"] = LIFECYCLES["round"]  # type: ignore[index]
    with pytest.raises(TypeError):
        LIFECYCLES["extra"] = LIFECYCLES["task"]  # type: ignore[index]
    again = load_rulebook("central")
    assert again == rb
    assert "extra" not in again.lifecycles
    assert again.lifecycles["task"] is LIFECYCLES["task"]
    assert sorted(LIFECYCLES) == [
        "accountability",
        "complaint",
        "dispatch",
        "document_request",
        "publication",
        "round",
        "task",
    ]


def test_a_rulebook_keeps_its_values_when_the_callers_data_changes() -> None:
    """Changing the dicts a rulebook was parsed or built from afterwards changes nothing."""
    data = tomllib.loads(BASE)
    rb = parse_rulebook(data, "base.toml")
    before = (dict(rb.rules), dict(rb.areas), dict(rb.notes))
    data["deadlines"]["station_in"]["amount"] = 99
    data["deadlines"]["extra"] = {"amount": 1, "unit": "working_days"}
    data["areas"].clear()
    assert (dict(rb.rules), dict(rb.areas), dict(rb.notes)) == before
    rules = dict(rb.rules)
    built = attrs.evolve(rb, rules=rules)
    rules.clear()
    assert built.rules == rb.rules
    assert built.rule("station_in").amount == 15


def test_complaints_before_station_in_are_refused_under_any_rulebook(tmp_path: Path) -> None:
    """Whatever its rulebook, a round takes no complaints before the team stations in."""
    ledger = Ledger(rulebook=load_rulebook(write(tmp_path, BASE)))
    ledger.create_round("R", name="常德市", area="430700", actor=OFFICE, at=at("2024-04-01"))
    with pytest.raises(GuardError, match="while the round is 'planned'"):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2024-04-02"),
            area="430702",
            summary="x",
            category="air",
            actor=TEAM,
        )
