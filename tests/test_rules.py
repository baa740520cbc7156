"""Deadline rules: constructors, parsing, computation, alerts, pauses, extensions, explanations."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    AnchorError,
    CalendarCoverageError,
    ChinaCalendar,
    DeadlineRule,
    Due,
    EarlyWarning,
    EscalationStep,
    Extension,
    InvalidRuleError,
    Pause,
    Unit,
    UnitMismatchError,
)
from strategies import aware_instants, deadline_rules, inner_days, working_day_rules

D = dt.date
ONE_DAY = dt.timedelta(days=1)
UTC = dt.timezone.utc


def at(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    """An instant on ``day`` in Asia/Shanghai."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def midnight_after(day: dt.date) -> dt.datetime:
    """24:00 Asia/Shanghai of ``day``."""
    return at(day + ONE_DAY)


# --- constructors and defaults ------------------------------------------------------------------


def test_constructor_defaults() -> None:
    """Calendar-day and month rules roll by default; working-day and hour rules do not."""
    assert DeadlineRule.working_days(30) == DeadlineRule(30, Unit.WORKING_DAYS)
    assert DeadlineRule.calendar_days(21).roll
    assert DeadlineRule.months(6).roll
    assert not DeadlineRule.working_days(30).roll
    assert not DeadlineRule.hours(48).roll
    for rule in (
        DeadlineRule.working_days(30),
        DeadlineRule.calendar_days(21),
        DeadlineRule.months(6),
    ):
        assert not rule.count_start_day
        assert rule.closes_at is None
    assert DeadlineRule.calendar_days(21, roll=False).roll is False
    assert DeadlineRule(30, "working_days").unit is Unit.WORKING_DAYS


@pytest.mark.parametrize(
    ("text", "amount", "unit", "count_start_day"),
    [
        ("30 working days", 30, Unit.WORKING_DAYS, False),
        ("30 Working Days", 30, Unit.WORKING_DAYS, False),
        ("1 working day", 1, Unit.WORKING_DAYS, False),
        ("5 business days", 5, Unit.WORKING_DAYS, False),
        ("30个工作日", 30, Unit.WORKING_DAYS, False),
        ("10个工作日（含当日）", 10, Unit.WORKING_DAYS, True),
        ("10个工作日(含当日)", 10, Unit.WORKING_DAYS, True),
        ("10 working days including the start day", 10, Unit.WORKING_DAYS, True),
        ("21 days", 21, Unit.CALENDAR_DAYS, False),
        ("21 calendar days", 21, Unit.CALENDAR_DAYS, False),
        ("21天（含当日）", 21, Unit.CALENDAR_DAYS, True),
        ("30日", 30, Unit.CALENDAR_DAYS, False),
        ("9个自然日", 9, Unit.CALENDAR_DAYS, False),
        ("6个月", 6, Unit.MONTHS, False),
        ("6 months", 6, Unit.MONTHS, False),
        ("1 month", 1, Unit.MONTHS, False),
        ("48 hours", 48, Unit.HOURS, False),
        ("24小时", 24, Unit.HOURS, False),
        ("  7 days  ", 7, Unit.CALENDAR_DAYS, False),
    ],
)
def test_parse(text: str, amount: int, unit: Unit, count_start_day: bool) -> None:
    """parse reads English and Chinese rule texts, including "（含当日）" for the start day."""
    rule = DeadlineRule.parse(text)
    assert (rule.amount, rule.unit, rule.count_start_day) == (amount, unit, count_start_day)
    assert rule.roll is (unit in (Unit.CALENDAR_DAYS, Unit.MONTHS))


def test_parse_takes_options() -> None:
    """Options given to parse override the unit's defaults."""
    rule = DeadlineRule.parse("21 days", roll=False, name="station-in")
    assert (rule.roll, rule.name) == (False, "station-in")


@pytest.mark.parametrize(
    "text", ["", "thirty days", "30", "30 weeks", "-3 days", "days 30", "3.5 days", None]
)
def test_parse_refuses_what_it_cannot_read(text: Any) -> None:
    """A text that is not an amount followed by a known unit is refused, with examples."""
    with pytest.raises(InvalidRuleError, match="10个工作日") as info:
        DeadlineRule.parse(text)
    assert info.value.field == "text"


def test_parse_refuses_zero() -> None:
    """ "0 days" parses but a period of zero days is refused."""
    with pytest.raises(InvalidRuleError) as info:
        DeadlineRule.parse("0 days")
    assert info.value.field == "amount"


@pytest.mark.parametrize("amount", [0, -1, -30])
def test_zero_or_negative_amount_is_refused(amount: int) -> None:
    """A period of zero or fewer units is refused with InvalidRuleError on 'amount'."""
    with pytest.raises(InvalidRuleError) as info:
        DeadlineRule.working_days(amount)
    assert info.value.field == "amount"


@pytest.mark.parametrize("amount", [1.5, "30", True, None])
def test_amount_must_be_whole(amount: Any) -> None:
    """A fractional, textual or boolean amount is refused."""
    with pytest.raises(InvalidRuleError, match="whole"):
        DeadlineRule(amount, Unit.WORKING_DAYS)


@pytest.mark.parametrize("unit", ["weeks", "working days", "", 3])
def test_unknown_unit_is_refused(unit: Any) -> None:
    """A unit other than working_days, calendar_days, months, hours is refused, listing them."""
    with pytest.raises(InvalidRuleError, match="working_days") as info:
        DeadlineRule(3, unit)
    assert info.value.field == "unit"


CONSTRUCTORS = {
    "working_days": Unit.WORKING_DAYS,
    "calendar_days": Unit.CALENDAR_DAYS,
    "months": Unit.MONTHS,
    "hours": Unit.HOURS,
}


@pytest.mark.parametrize("name", [*CONSTRUCTORS, "parse"])
def test_constructors_name_every_option(name: str) -> None:
    """Each constructor takes the rule's options as named keywords, with no catch-all."""
    params = inspect.signature(getattr(DeadlineRule, name)).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    options = [f.name for f in attrs.fields(DeadlineRule)][2:]
    assert list(params)[1:] == options
    assert all(params[o].kind is inspect.Parameter.KEYWORD_ONLY for o in options)


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_constructors_pass_every_option_on(name: str) -> None:
    """Every option given to a constructor ends up in the rule, as the class would set it."""
    hours = name == "hours"
    options: dict[str, Any] = {
        "count_start_day": not hours,
        "roll": not hours,
        "closes_at": None if hours else dt.time(17, 30),
        "name": "plan",
        "source": "整改方案 第三条",
        "confidence": "M",
        "warnings": [EarlyWarning("soon", before=1, unit="hours" if hours else "working_days")],
        "escalations": [EscalationStep("late", 2, "hours" if hours else "working_days")],
    }
    rule = getattr(DeadlineRule, name)(3, **options)
    assert rule == DeadlineRule(3, CONSTRUCTORS[name], **options)
    assert isinstance(rule.warnings, tuple)


def test_parse_takes_its_defaults_from_the_text() -> None:
    """parse counts the start day and rolls as the text and unit say unless told otherwise."""
    assert DeadlineRule.parse("21天（含当日）") == DeadlineRule.calendar_days(
        21, count_start_day=True
    )
    assert DeadlineRule.parse("21天（含当日）", count_start_day=False, roll=False) == (
        DeadlineRule.calendar_days(21, roll=False)
    )
    assert DeadlineRule.parse("6 months", name="m", source="s", confidence="L") == (
        DeadlineRule.months(6, name="m", source="s", confidence="L")
    )


@pytest.mark.parametrize(
    "opts", [{"count_start_day": True}, {"roll": True}, {"closes_at": dt.time(17)}]
)
def test_hour_rules_refuse_day_options(opts: dict[str, Any]) -> None:
    """An hour period has no start day to count, no roll and no closing time."""
    with pytest.raises(InvalidRuleError):
        DeadlineRule.hours(48, **opts)


@pytest.mark.parametrize(
    "opts",
    [
        {"count_start_day": 1},
        {"roll": "yes"},
        {"closes_at": "17:00"},
        {"confidence": "high"},
    ],
)
def test_options_are_checked(opts: dict[str, Any]) -> None:
    """Flags must be booleans, closes_at a time, confidence H, M or L."""
    with pytest.raises(InvalidRuleError) as info:
        DeadlineRule.working_days(5, **opts)
    assert info.value.field == next(iter(opts))


def test_rule_descriptions() -> None:
    """describe states the amount, whether the start day counts and whether it rolls."""
    assert DeadlineRule.working_days(30).describe() == "30个工作日（不含起算日）"
    assert DeadlineRule.parse("10个工作日（含当日）").describe("en") == (
        "10 working days (start day counted)"
    )
    assert DeadlineRule.calendar_days(21).describe() == "21日（不含起算日，末日遇休息日顺延）"
    assert DeadlineRule.months(1, roll=False).describe("en") == (
        "1 month (start day not counted; no roll)"
    )
    assert DeadlineRule.hours(48).describe() == "48小时"
    assert DeadlineRule.hours(1).describe("en") == "1 hour"


# --- computing due dates ------------------------------------------------------------------------


def test_feedback_plus_30_working_days(calendar: ChinaCalendar) -> None:
    """Feedback on 2021-07-16 + 30 working days is due 2021-08-27 at 24:00 Asia/Shanghai."""
    due = DeadlineRule.working_days(30).compute(D(2021, 7, 16), calendar)
    assert due.start == D(2021, 7, 16)
    assert due.first_day == D(2021, 7, 19)  # 07-16 is a Friday and is not counted
    assert due.last_day == D(2021, 8, 27)
    assert due.due_at == dt.datetime(2021, 8, 28, 0, 0, tzinfo=SHANGHAI)
    assert due.due_at.utcoffset() == dt.timedelta(hours=8)
    assert due.due_at.isoformat() == "2021-08-28T00:00:00+08:00"
    assert due.calendar_version == calendar.version
    assert not due.provisional
    assert not due.suspended


@given(rule=working_day_rules(), day=inner_days())
def test_working_day_rule_matches_the_calendar(
    calendar: ChinaCalendar, rule: DeadlineRule, day: dt.date
) -> None:
    """A working-day rule's last day is add_workdays from the anchor (or the day before it)."""
    due = rule.compute(day, calendar)
    start = day - ONE_DAY if rule.count_start_day else day
    assert due.last_day == calendar.add_workdays(start, rule.amount)
    assert due.first_day == calendar.add_workdays(start, 1)
    assert due.due_at == midnight_after(due.last_day)
    assert calendar.workdays_between(start, due.last_day) == rule.amount


def test_count_start_day_working_days(calendar: ChinaCalendar) -> None:
    """With "（含当日）" a working start day is day 1; a rest start day is not counted."""
    rule = DeadlineRule.parse("10个工作日（含当日）")
    monday = rule.compute(D(2023, 7, 3), calendar)
    assert (monday.first_day, monday.last_day) == (D(2023, 7, 3), D(2023, 7, 14))
    saturday = rule.compute(D(2023, 7, 1), calendar)
    assert (saturday.first_day, saturday.last_day) == (D(2023, 7, 3), D(2023, 7, 14))
    assert DeadlineRule.working_days(10).compute(D(2023, 7, 3), calendar).last_day == D(2023, 7, 17)


def test_station_in_21_days_counting_the_start_day(calendar: ChinaCalendar) -> None:
    """The Yiyang station-in: 21 days from 2023-06-26 counting the start day, no roll: 07-16."""
    rule = DeadlineRule.parse("21天（含当日）", roll=False)
    due = rule.compute(D(2023, 6, 26), calendar)
    assert (due.first_day, due.last_day) == (D(2023, 6, 26), D(2023, 7, 16))
    assert due.due_at == midnight_after(D(2023, 7, 16))


def test_calendar_days_roll_over_a_weekend(calendar: ChinaCalendar) -> None:
    """A calendar-day period ending on Saturday 2023-07-15 ends on Monday 07-17 instead."""
    assert DeadlineRule.calendar_days(21).compute(D(2023, 6, 24), calendar).last_day == D(
        2023, 7, 17
    )
    no_roll = DeadlineRule.calendar_days(21, roll=False)
    assert no_roll.compute(D(2023, 6, 24), calendar).last_day == D(2023, 7, 15)


def test_calendar_days_roll_out_of_a_holiday(calendar: ChinaCalendar) -> None:
    """A period ending in National Day 2023 ends on the first working day, Saturday 10-07."""
    due = DeadlineRule.calendar_days(10).compute(D(2023, 9, 20), calendar)
    assert due.last_day == D(2023, 10, 7)


def test_calendar_days_on_a_working_last_day_do_not_move(calendar: ChinaCalendar) -> None:
    """A calendar-day period ending on a working day stays there."""
    assert DeadlineRule.calendar_days(7).compute(D(2023, 7, 3), calendar).last_day == D(2023, 7, 10)


@pytest.mark.parametrize(
    ("anchor", "n", "last"),
    [
        (D(2023, 1, 31), 1, D(2023, 2, 28)),  # no 02-31: the end of February
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year
        (D(2023, 8, 31), 1, D(2023, 10, 7)),  # 09-30 falls in National Day: rolls
        (D(2023, 6, 26), 6, D(2023, 12, 26)),
        (D(2023, 11, 30), 3, D(2024, 2, 29)),  # across the year end
    ],
)
def test_months(calendar: ChinaCalendar, anchor: dt.date, n: int, last: dt.date) -> None:
    """Months end on the corresponding day, or the month's last day (Civil Code art. 202)."""
    assert DeadlineRule.months(n).compute(anchor, calendar).last_day == last


def test_months_without_roll_and_counting_the_start_day(calendar: ChinaCalendar) -> None:
    """Counting the start day ends a month period the day before the corresponding day."""
    assert DeadlineRule.months(1, roll=False).compute(D(2023, 3, 31), calendar).last_day == D(
        2023, 4, 30
    )
    counted = DeadlineRule.months(1, count_start_day=True, roll=False)
    assert counted.compute(D(2023, 1, 15), calendar).last_day == D(2023, 2, 14)


def test_hours_need_an_instant(calendar: ChinaCalendar) -> None:
    """An hour rule counts from an aware instant, and refuses a bare day."""
    rule = DeadlineRule.hours(48)
    due = rule.compute(at(D(2023, 6, 27), 10), calendar)
    assert due.due_at == at(D(2023, 6, 29), 10)
    assert due.last_day == D(2023, 6, 29)
    with pytest.raises(AnchorError, match="instant"):
        rule.compute(D(2023, 6, 27), calendar)


def test_hours_ending_at_midnight_belong_to_the_day_before(calendar: ChinaCalendar) -> None:
    """24 hours from 00:00 end at the next 00:00, which is 24:00 of the anchor's day."""
    due = DeadlineRule.hours(24).compute(at(D(2023, 6, 27)), calendar)
    assert due.due_at == at(D(2023, 6, 28))
    assert due.last_day == D(2023, 6, 27)


def test_an_instant_counts_from_its_day_in_shanghai(calendar: ChinaCalendar) -> None:
    """17:00 UTC on 09-19 is 01:00 on 09-20 in Shanghai, so the period runs from 09-20."""
    instant = dt.datetime(2023, 9, 19, 17, tzinfo=UTC)
    due = DeadlineRule.working_days(30).compute(instant, calendar)
    assert due.start == D(2023, 9, 20)
    assert due.last_day == D(2023, 11, 7)
    assert due.anchor is instant


@given(instant=aware_instants())
def test_hours_are_exact(calendar: ChinaCalendar, instant: dt.datetime) -> None:
    """An hour rule is due exactly that many hours after the instant, stated in Shanghai."""
    due = DeadlineRule.hours(72).compute(instant, calendar)
    # Exact elapsed hours: compare in UTC, where adding hours never meets a DST change.
    assert due.due_at == instant.astimezone(UTC) + dt.timedelta(hours=72)
    assert due.due_at.tzinfo is SHANGHAI
    assert due.last_day == (due.due_at - dt.timedelta(microseconds=1)).date()


def test_closes_at(calendar: ChinaCalendar) -> None:
    """A rule with a closing time is due at that time of the last day, not at 24:00."""
    rule = DeadlineRule.working_days(3, closes_at=dt.time(17, 30))
    due = rule.compute(D(2023, 6, 21), calendar)
    assert due.due_at == at(D(2023, 6, 27), 17, 30)
    assert "2023-06-27T17:30:00+08:00" in due.explain()


@pytest.mark.parametrize(
    "anchor",
    [dt.datetime(2023, 9, 20, 9), "2023-09-20", 20230920, None],
)
def test_bad_anchors_are_refused(calendar: ChinaCalendar, anchor: Any) -> None:
    """A naive datetime or a non-date anchor raises AnchorError."""
    with pytest.raises(AnchorError):
        DeadlineRule.working_days(30).compute(anchor, calendar)


def test_naive_anchor_error_says_what_to_do(calendar: ChinaCalendar) -> None:
    """The naive-datetime error tells the caller to attach a time zone."""
    with pytest.raises(AnchorError, match="Asia/Shanghai"):
        DeadlineRule.calendar_days(5).compute(dt.datetime(2023, 9, 20, 9), calendar)


def test_uncovered_years_are_refused(calendar: ChinaCalendar) -> None:
    """A period reaching 2027 raises CalendarCoverageError, for every unit."""
    for rule in (
        DeadlineRule.working_days(30),
        DeadlineRule.calendar_days(60),
        DeadlineRule.calendar_days(60, roll=False),
        DeadlineRule.months(2),
    ):
        with pytest.raises(CalendarCoverageError) as info:
            rule.compute(D(2026, 12, 1), calendar)
        assert info.value.year == 2027
    with pytest.raises(CalendarCoverageError):
        DeadlineRule.hours(24 * 40).compute(at(D(2026, 12, 1)), calendar)


def test_provisional_due(weekends_calendar: ChinaCalendar) -> None:
    """On a weekends calendar a period reaching 2027 is computed, marked provisional."""
    due = DeadlineRule.working_days(30).compute(D(2026, 12, 1), weekends_calendar)
    assert due.provisional
    assert due.last_day.year == 2027
    assert "暂定" in due.explain()
    assert "provisional" in due.explain("en").lower()


# --- plain data ---------------------------------------------------------------------------------


@given(rule=deadline_rules())
def test_to_dict_from_dict_round_trip(rule: DeadlineRule) -> None:
    """from_dict(to_dict(rule)) gives back the same rule."""
    assert DeadlineRule.from_dict(rule.to_dict()) == rule


def test_to_dict_keeps_only_what_differs_from_the_defaults() -> None:
    """to_dict writes the amount and unit, and other keys only when they differ from defaults."""
    assert DeadlineRule.calendar_days(21).to_dict() == {"amount": 21, "unit": "calendar_days"}
    rule = DeadlineRule.working_days(
        30,
        name="plan_due",
        source="domain R6",
        confidence="H",
        closes_at=dt.time(17),
        warnings=[EarlyWarning("soon", before=5, unit=Unit.WORKING_DAYS)],
        escalations=[EscalationStep("督办", 10, "working_days", label_zh="督办函")],
    )
    assert rule.to_dict() == {
        "amount": 30,
        "unit": "working_days",
        "closes_at": "17:00",
        "name": "plan_due",
        "source": "domain R6",
        "confidence": "H",
        "warnings": [{"name": "soon", "before": 5, "unit": "working_days"}],
        "escalations": [
            {"name": "督办", "after": 10, "unit": "working_days", "label_zh": "督办函"}
        ],
    }


def test_closes_at_with_seconds_round_trips() -> None:
    """A closing time with seconds survives to_dict and from_dict."""
    rule = DeadlineRule.working_days(3, closes_at=dt.time(17, 30, 15))
    assert DeadlineRule.from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"amount": 3, "unit": "working_days", "weeks": 2}, "weeks"),
        ({"unit": "working_days"}, "amount"),
        ({"amount": 3}, "unit"),
        ({"amount": 3, "unit": "fortnights"}, "unit"),
        ({"amount": "3", "unit": "working_days"}, "amount"),
        ({"amount": 3, "unit": "working_days", "roll": "yes"}, "roll"),
        ({"amount": 3, "unit": "working_days", "count_start_day": None}, "count_start_day"),
        ({"amount": 3, "unit": "working_days", "closes_at": "5pm"}, "closes_at"),
        ({"amount": 3, "unit": "working_days", "name": 7}, "name"),
        ({"amount": 3, "unit": "working_days", "warnings": "soon"}, "warnings"),
        ({"amount": 3, "unit": "working_days", "warnings": ["soon"]}, "warnings"),
        (
            {"amount": 3, "unit": "working_days", "warnings": [{"name": "w", "colour": "red"}]},
            "warnings.colour",
        ),
        (
            {"amount": 3, "unit": "working_days", "warnings": [{"name": "w", "before": 1}]},
            "warnings.w.unit",
        ),
        (
            {"amount": 3, "unit": "working_days", "escalations": [{"name": "e", "after": 1}]},
            "escalations",
        ),
        ("30 working days", "rule"),
    ],
)
def test_from_dict_errors_name_the_key(data: Any, key: str) -> None:
    """from_dict refuses unknown, missing or ill-typed keys, naming the key at fault."""
    with pytest.raises(InvalidRuleError) as info:
        DeadlineRule.from_dict(data)
    assert info.value.field == key


# --- warnings and escalations -------------------------------------------------------------------


def test_hour_warnings_on_a_day_rule_are_refused() -> None:
    """A warning or escalation in hours on a working-day rule raises UnitMismatchError."""
    with pytest.raises(UnitMismatchError) as info:
        DeadlineRule.working_days(30, warnings=[EarlyWarning("w", before=24, unit="hours")])
    assert (info.value.expected, info.value.got) == ("working_days", "hours")
    with pytest.raises(UnitMismatchError):
        DeadlineRule.working_days(30, escalations=[EscalationStep("e", 2, "hours")])
    with pytest.raises(UnitMismatchError):
        DeadlineRule.hours(48, escalations=[EscalationStep("e", 2, "working_days")])


def test_day_units_mix_in_alerts() -> None:
    """A working-day rule may warn in calendar days: both count days."""
    rule = DeadlineRule.working_days(
        30, warnings=[EarlyWarning("w", before=7, unit=Unit.CALENDAR_DAYS)]
    )
    assert rule.warnings[0].unit is Unit.CALENDAR_DAYS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "w"},
        {"name": "w", "before": 3, "fraction": 0.5, "unit": "working_days"},
        {"name": "w", "before": 3},
        {"name": "w", "before": 0, "unit": "working_days"},
        {"name": "w", "fraction": 1.0},
        {"name": "w", "fraction": 0},
    ],
)
def test_early_warning_validation(kwargs: dict[str, Any]) -> None:
    """A warning has a name and exactly one of a positive 'before' (with unit) or a fraction."""
    with pytest.raises(InvalidRuleError):
        EarlyWarning(**kwargs)


def test_escalation_validation() -> None:
    """An escalation step has a name and a non-negative offset."""
    with pytest.raises(InvalidRuleError):
        EscalationStep("", 1, "working_days")
    with pytest.raises(InvalidRuleError):
        EscalationStep("e", -1, "working_days")


def test_alert_names_are_unique() -> None:
    """Two alerts of one rule cannot share a name."""
    with pytest.raises(InvalidRuleError, match="unique"):
        DeadlineRule.working_days(
            30,
            warnings=[EarlyWarning("x", fraction=0.5)],
            escalations=[EscalationStep("x", 0, "working_days")],
        )


def test_alerts(calendar: ChinaCalendar) -> None:
    """Warnings fall N working days before or at a fraction; escalations after the due time."""
    rule = DeadlineRule.working_days(
        30,
        warnings=[
            EarlyWarning("three days left", before=3, unit=Unit.WORKING_DAYS),
            EarlyWarning("half time", fraction=0.5),
        ],
        escalations=[
            EscalationStep("yellow card", 0, Unit.WORKING_DAYS),
            EscalationStep("supervision letter", 10, Unit.WORKING_DAYS, label_zh="督办"),
            EscalationStep("summons talk", 1, Unit.MONTHS, label_zh="约谈"),
        ],
    )
    due = rule.compute(D(2023, 9, 20), calendar)
    alerts = {a.name: a for a in due.alerts()}
    # Period: 09-21 00:00 .. 11-08 00:00, 48 days; half time is 24 days in.
    assert alerts["half time"].at == at(D(2023, 10, 15))
    # The third working day before Tuesday 11-07 is Thursday 11-02; warned as it begins.
    assert alerts["three days left"].at == at(D(2023, 11, 2))
    assert alerts["yellow card"].at == due.due_at
    # Ten working days after 11-07 is 11-21, at its end.
    assert alerts["supervision letter"].at == midnight_after(D(2023, 11, 21))
    assert alerts["supervision letter"].label_zh == "督办"
    assert alerts["summons talk"].at == midnight_after(D(2023, 12, 7))
    assert [a.kind for a in due.alerts()] == [
        "warning",
        "warning",
        "escalation",
        "escalation",
        "escalation",
    ]
    assert [a.at for a in due.alerts()] == sorted(a.at for a in due.alerts())


def test_hour_alerts(calendar: ChinaCalendar) -> None:
    """An hour rule's alerts are hours around the due instant and a fraction of the period."""
    rule = DeadlineRule.hours(
        48,
        warnings=[
            EarlyWarning("a day left", before=24, unit=Unit.HOURS),
            EarlyWarning("quarter", fraction=0.25),
        ],
        escalations=[EscalationStep("late", 6, Unit.HOURS)],
    )
    due = rule.compute(at(D(2023, 6, 27), 10), calendar)
    alerts = {a.name: a.at for a in due.alerts()}
    assert alerts == {
        "quarter": at(D(2023, 6, 27), 22),
        "a day left": at(D(2023, 6, 28), 10),
        "late": at(D(2023, 6, 29), 16),
    }


def test_no_alerts(calendar: ChinaCalendar) -> None:
    """A rule without warnings or escalations has no alerts."""
    assert DeadlineRule.working_days(5).compute(D(2023, 6, 21), calendar).alerts() == ()


def test_is_overdue(calendar: ChinaCalendar) -> None:
    """A due date is overdue from 24:00 of its last day on, not a microsecond before."""
    due = DeadlineRule.working_days(3).compute(D(2023, 6, 21), calendar)
    assert not due.is_overdue(at(D(2023, 6, 27), 23, 59))
    assert due.is_overdue(at(D(2023, 6, 28)))
    assert due.is_overdue(dt.datetime(2023, 6, 27, 16, tzinfo=UTC))
    assert not due.is_overdue(dt.datetime(2023, 6, 27, 15, 59, tzinfo=UTC))
    with pytest.raises(AnchorError):
        due.is_overdue(dt.datetime(2023, 6, 28))


def test_due_equality_and_plain_data(calendar: ChinaCalendar) -> None:
    """Two computations of the same rule and anchor are equal; to_dict gives plain data."""
    rule = DeadlineRule.working_days(30)
    a = rule.compute(D(2023, 9, 20), calendar)
    b = rule.compute(D(2023, 9, 20), calendar)
    assert a == b
    assert hash(a) == hash(b)
    assert a != rule.compute(D(2023, 9, 21), calendar)
    assert a.to_dict() == {
        "rule": {"amount": 30, "unit": "working_days"},
        "anchor": "2023-09-20",
        "last_day": "2023-11-07",
        "due_at": "2023-11-08T00:00:00+08:00",
        "calendar_version": calendar.version,
        "provisional": False,
        "suspended": False,
    }


# --- explanations -------------------------------------------------------------------------------


def test_explain_national_day_in_chinese(calendar: ChinaCalendar) -> None:
    """The Chinese explanation names the skipped holiday 09-29..10-06 and the Saturday worked."""
    text = DeadlineRule.working_days(30).compute(D(2023, 9, 20), calendar).explain("zh")
    assert "跳过：2023-09-29..2023-10-06 中秋节、国庆节放假（8天）" in text
    assert "计入：2023-10-07（周六）调休上班（国庆节）" in text
    assert "计入：2023-10-08（周日）调休上班（国庆节）" in text
    assert "当日不计（民法典第201条）" in text
    assert "第30个工作日：2023-11-07（周二）" in text
    assert "截止：2023-11-07 24:00（北京时间）" in text
    assert f"日历：{calendar.version}" in text


def test_explain_national_day_in_english(calendar: ChinaCalendar) -> None:
    """The English explanation names the same holiday and make-up workdays."""
    text = DeadlineRule.working_days(30).compute(D(2023, 9, 20), calendar).explain("en")
    assert (
        "Skipped: 2023-09-29..2023-10-06 Mid-autumn Festival and National Day holiday (8 days)"
        in text
    )
    assert "Counted: 2023-10-07 (Sat) as a make-up workday (National Day)" in text
    assert "Working day 30: 2023-11-07 (Tue)" in text
    assert "Due: 2023-11-07 24:00 (Asia/Shanghai)" in text


def test_explain_counted_start_day(calendar: ChinaCalendar) -> None:
    """An explanation says when the start day is counted."""
    rule = DeadlineRule.parse("10个工作日（含当日）")
    assert "当日计入" in rule.compute(D(2023, 7, 3), calendar).explain()
    assert "Start day: 2023-07-03 (Mon), counted" in rule.compute(D(2023, 7, 3), calendar).explain(
        "en"
    )


def test_explain_roll(calendar: ChinaCalendar) -> None:
    """A calendar-day explanation says the last day rolled off a rest day, and why."""
    due = DeadlineRule.calendar_days(21).compute(D(2023, 6, 24), calendar)
    zh, en = due.explain("zh"), due.explain("en")
    assert "2023-07-15（周六）为休息日，顺延至 2023-07-17（周一）（民法典第203条）" in zh
    assert "期间末日：2023-07-17（周一）" in zh
    assert "2023-07-15 (Sat) is a rest day; the period ends on 2023-07-17 (Mon)" in en
    unrolled = DeadlineRule.calendar_days(21).compute(D(2023, 6, 26), calendar).explain()
    assert "顺延至" not in unrolled


def test_explain_calendar_days_count_holidays(calendar: ChinaCalendar) -> None:
    """A calendar-day explanation lists holidays inside the period as counted, not skipped."""
    text = DeadlineRule.calendar_days(30).compute(D(2023, 9, 20), calendar).explain()
    assert "计入（自然日）：2023-09-29..2023-10-06 中秋节、国庆节放假（8天）" in text
    assert "跳过周末" not in text


def test_explain_local_days(calendar: ChinaCalendar) -> None:
    """A local calendar's explanation names the local rest day and local workday."""
    local = calendar.with_local_days(
        "test", rest_days={D(2023, 7, 4): "地方节日"}, workdays={D(2023, 7, 8): "补班"}
    )
    text = DeadlineRule.working_days(5).compute(D(2023, 7, 3), local).explain()
    assert "跳过：2023-07-04 地方休息日（地方节日，1天）" in text
    assert "计入：2023-07-08（周六）地方工作日（补班）" in text


def test_explain_hours(calendar: ChinaCalendar) -> None:
    """An hour rule's explanation gives the instant counted from and the exact due instant."""
    text = DeadlineRule.hours(48).compute(at(D(2023, 6, 27), 10), calendar).explain("en")
    assert "Counted from the instant 2023-06-27 10:00:00+08:00" in text
    assert "Due: 2023-06-29T10:00:00+08:00" in text


def test_explain_needs_the_calendar(calendar: ChinaCalendar) -> None:
    """A Due rebuilt without its calendar cannot explain itself and says so."""
    due = DeadlineRule.working_days(3).compute(D(2023, 6, 21), calendar)
    bare = Due(
        due.rule,
        due.anchor,
        due.start,
        due.first_day,
        due.last_day,
        due.due_at,
        due.calendar_version,
        due.provisional,
    )
    assert bare == due
    with pytest.raises(AnchorError, match="calendar"):
        bare.explain()


# --- pauses -------------------------------------------------------------------------------------

PLAN = DeadlineRule.working_days(30)
FEEDBACK = D(2023, 9, 20)  # due 2023-11-07


def test_pause_moves_by_the_working_days_paused(calendar: ChinaCalendar) -> None:
    """Paused 10-10 09:00 to 10-12 15:00: 10-10 and 10-11 are paused, 10-12 counts again."""
    pause = Pause(at(D(2023, 10, 10), 9), at(D(2023, 10, 12), 15), "awaiting a survey")
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause])
    assert due.last_day == D(2023, 11, 9)
    assert due.due_at == midnight_after(D(2023, 11, 9))
    (step,) = due.adjustments
    assert (step.kind, step.amount, step.last_day) == ("pause", 2, D(2023, 11, 9))
    assert "暂停：" in due.explain()
    assert "顺延2个工作日" in due.explain()
    assert "moved by 2 working days" in due.explain("en")


def test_pause_over_a_holiday_moves_only_working_days(calendar: ChinaCalendar) -> None:
    """A pause over National Day moves the due date by the working days in it, not the holiday."""
    pause = Pause(at(D(2023, 9, 28)), at(D(2023, 10, 9)))  # 09-28, 10-07, 10-08 paused
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause])
    assert due.last_day == calendar.add_workdays(D(2023, 11, 7), 3)


def test_same_day_pause_moves_nothing(calendar: ChinaCalendar) -> None:
    """A pause that starts and ends on the same day moves nothing: the resume day counts."""
    pause = Pause(at(D(2023, 10, 10), 9), at(D(2023, 10, 10), 17))
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause])
    assert due.last_day == D(2023, 11, 7)
    assert due.adjustments[0].amount == 0


def test_pause_after_the_last_day_moves_nothing(calendar: ChinaCalendar) -> None:
    """A pause that starts after the last day moves nothing."""
    pause = Pause(at(D(2023, 11, 8), 9), at(D(2023, 11, 20)))
    assert PLAN.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 11, 7)


def test_pause_before_the_anchor_moves_nothing(calendar: ChinaCalendar) -> None:
    """A pause that ends before counting begins moves nothing."""
    pause = Pause(at(D(2023, 9, 1)), at(D(2023, 9, 20), 12))
    assert PLAN.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 11, 7)


def test_pause_on_the_last_day(calendar: ChinaCalendar) -> None:
    """A pause from the last day to the next moves the due date by that one working day."""
    pause = Pause(at(D(2023, 11, 7), 10), at(D(2023, 11, 8), 10))
    assert PLAN.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 11, 8)


def test_pause_past_the_last_day_holds_the_remaining_days(calendar: ChinaCalendar) -> None:
    """Paused with 2 working days left until 07-10: those 2 days run 07-10 and 07-11."""
    rule = DeadlineRule.working_days(3)
    assert rule.compute(D(2023, 6, 23), calendar).last_day == D(2023, 6, 27)
    pause = Pause(at(D(2023, 6, 26), 9), at(D(2023, 7, 10), 9))
    due = rule.compute(D(2023, 6, 23), calendar, pauses=[pause])
    assert due.last_day == D(2023, 7, 11)
    assert due.adjustments[0].amount == calendar.workdays_between(D(2023, 6, 25), D(2023, 7, 9))


def test_pause_spanning_the_whole_period_restarts_it(calendar: ChinaCalendar) -> None:
    """A pause from before the anchor to after the last day runs the whole period from resume."""
    rule = DeadlineRule.working_days(3)
    pause = Pause(at(D(2023, 6, 1)), at(D(2023, 7, 10)))
    assert rule.compute(D(2023, 6, 21), calendar, pauses=[pause]).last_day == D(2023, 7, 12)


def test_open_pause_suspends(calendar: ChinaCalendar) -> None:
    """A pause with no end holds the clock: suspended, the dates a lower bound."""
    pause = Pause(at(D(2023, 10, 10), 9), None, "awaiting the court")
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause])
    assert due.suspended
    assert due.last_day == D(2023, 11, 7)
    assert "计时暂停中" in due.explain()
    assert "至今" in due.explain()
    assert "the clock is paused" in due.explain("en")


def test_overlapping_pauses_are_not_counted_twice(calendar: ChinaCalendar) -> None:
    """Two overlapping pauses pause their union once."""
    a = Pause(at(D(2023, 10, 10)), at(D(2023, 10, 12)), "a")
    b = Pause(at(D(2023, 10, 11)), at(D(2023, 10, 13)), "b")
    union = Pause(at(D(2023, 10, 10)), at(D(2023, 10, 13)))
    assert (
        PLAN.compute(FEEDBACK, calendar, pauses=[b, a]).last_day
        == PLAN.compute(FEEDBACK, calendar, pauses=[union]).last_day
        == calendar.add_workdays(D(2023, 11, 7), 3)
    )
    assert PLAN.compute(FEEDBACK, calendar, pauses=[a, b]).adjustments[0].reason == "a; b"


def test_two_pauses_add_up(calendar: ChinaCalendar) -> None:
    """Two separate pauses move the due date by the sum of their working days."""
    a = Pause(at(D(2023, 10, 10)), at(D(2023, 10, 11)))
    b = Pause(at(D(2023, 10, 16)), at(D(2023, 10, 18)))
    due = PLAN.compute(FEEDBACK, calendar, pauses=[a, b])
    assert due.last_day == calendar.add_workdays(D(2023, 11, 7), 3)


def test_pause_in_other_time_zones_uses_shanghai_days(calendar: ChinaCalendar) -> None:
    """A pause given in UTC counts the Shanghai days it covers."""
    # 10-09 16:00 UTC is 10-10 00:00 in Shanghai; 10-11 16:00 UTC is 10-12 00:00.
    pause = Pause(
        dt.datetime(2023, 10, 9, 16, tzinfo=UTC), dt.datetime(2023, 10, 11, 16, tzinfo=UTC)
    )
    assert PLAN.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 11, 9)


@given(
    rule=working_day_rules(),
    day=st.dates(D(2010, 1, 1), D(2025, 6, 30)),
    offset=st.integers(0, 39),
    k=st.integers(1, 20),
)
def test_a_pause_of_k_working_days_moves_the_due_date_by_k(
    calendar: ChinaCalendar, rule: DeadlineRule, day: dt.date, offset: int, k: int
) -> None:
    """A pause of k working days inside the period moves the last day by exactly k working days."""
    plain = rule.compute(day, calendar)
    period = list(calendar.workdays(plain.first_day, plain.last_day))
    begin = period[offset % len(period)]
    resume = calendar.add_workdays(begin, k)  # k working days paused: begin .. resume - 1
    due = rule.compute(day, calendar, pauses=[Pause(at(begin, 9), at(resume, 9))])
    assert due.last_day == calendar.add_workdays(plain.last_day, k)
    assert calendar.workdays_between(plain.last_day, due.last_day) == k


def test_calendar_day_pause_then_roll(calendar: ChinaCalendar) -> None:
    """A 21-day period paused one day ends one day later, then rolls: Sunday 07-16 to 07-17."""
    rule = DeadlineRule.calendar_days(21)
    pause = Pause(at(D(2023, 7, 1), 9), at(D(2023, 7, 2), 9))
    due = rule.compute(D(2023, 6, 24), calendar, pauses=[pause])
    assert due.last_day == D(2023, 7, 17)
    assert due.adjustments[0].amount == 1
    assert "顺延1天" in due.explain()


def test_calendar_day_pause_past_the_last_day(calendar: ChinaCalendar) -> None:
    """A calendar-day period paused with 3 days left resumes with those 3 days."""
    rule = DeadlineRule.calendar_days(10, roll=False)  # 06-27 .. 07-06
    pause = Pause(at(D(2023, 7, 4)), at(D(2023, 7, 20)))
    assert rule.compute(D(2023, 6, 26), calendar, pauses=[pause]).last_day == D(2023, 7, 22)


def test_pause_over_the_rolled_last_day(calendar: ChinaCalendar) -> None:
    """A pause from the weekend into the rolled last day ends the period on the resume day."""
    rule = DeadlineRule.calendar_days(21)  # 07-15 (Saturday) rolls to Monday 07-17
    pause = Pause(at(D(2023, 7, 16)), at(D(2023, 7, 19)))
    assert rule.compute(D(2023, 6, 24), calendar, pauses=[pause]).last_day == D(2023, 7, 19)
    short = Pause(at(D(2023, 7, 16)), at(D(2023, 7, 17)))
    assert rule.compute(D(2023, 6, 24), calendar, pauses=[short]).last_day == D(2023, 7, 17)


def test_hour_pause(calendar: ChinaCalendar) -> None:
    """An hour rule paused for 3 h 30 min is due 3 h 30 min later."""
    rule = DeadlineRule.hours(48)
    pause = Pause(at(D(2023, 6, 28), 9), at(D(2023, 6, 28), 12, 30))
    due = rule.compute(at(D(2023, 6, 27), 10), calendar, pauses=[pause])
    assert due.due_at == at(D(2023, 6, 29), 13, 30)
    assert due.adjustments[0].amount == 3


def test_hour_pause_before_the_anchor_instant(calendar: ChinaCalendar) -> None:
    """Only the part of a pause after the anchor instant stops an hour rule's clock."""
    rule = DeadlineRule.hours(48)
    anchor = at(D(2023, 6, 27), 10)
    before = Pause(at(D(2023, 6, 27), 8), at(D(2023, 6, 27), 9))
    assert rule.compute(anchor, calendar, pauses=[before]).due_at == at(D(2023, 6, 29), 10)
    across = Pause(at(D(2023, 6, 27), 9), at(D(2023, 6, 27), 11))
    assert rule.compute(anchor, calendar, pauses=[across]).due_at == at(D(2023, 6, 29), 11)


def test_hour_pause_after_the_due_time_or_open(calendar: ChinaCalendar) -> None:
    """An hour pause after the due time moves nothing; an open one suspends."""
    rule = DeadlineRule.hours(48)
    anchor = at(D(2023, 6, 27), 10)
    late = Pause(at(D(2023, 6, 29), 10), at(D(2023, 6, 30)))
    assert rule.compute(anchor, calendar, pauses=[late]).due_at == at(D(2023, 6, 29), 10)
    due = rule.compute(anchor, calendar, pauses=[Pause(at(D(2023, 6, 28)))])
    assert due.suspended
    assert due.due_at == at(D(2023, 6, 29), 10)


def test_pause_validation(calendar: ChinaCalendar) -> None:
    """A pause needs aware instants and cannot end before it starts; pauses must be Pauses."""
    with pytest.raises(AnchorError):
        Pause(dt.datetime(2023, 10, 10, 9))
    with pytest.raises(AnchorError):
        Pause(at(D(2023, 10, 10)), dt.datetime(2023, 10, 11))
    with pytest.raises(AnchorError, match="before it starts"):
        Pause(at(D(2023, 10, 10)), at(D(2023, 10, 9)))
    with pytest.raises(InvalidRuleError):
        PLAN.compute(FEEDBACK, calendar, pauses=[(at(D(2023, 10, 10)), None)])  # type: ignore[list-item]


def test_pause_into_an_unpublished_year_is_refused(calendar: ChinaCalendar) -> None:
    """A pause that pushes the due date into 2027 raises CalendarCoverageError."""
    rule = DeadlineRule.calendar_days(10, roll=False)
    pause = Pause(at(D(2026, 12, 1)), at(D(2027, 1, 10)))
    with pytest.raises(CalendarCoverageError):
        rule.compute(D(2026, 11, 25), calendar, pauses=[pause])
    hours = Pause(at(D(2026, 12, 1)), at(D(2027, 1, 10)))
    with pytest.raises(CalendarCoverageError):
        DeadlineRule.hours(48).compute(at(D(2026, 11, 30)), calendar, pauses=[hours])


# --- extensions ---------------------------------------------------------------------------------


def test_extension_by_an_amount(calendar: ChinaCalendar) -> None:
    """An extension of 10 working days moves the last day 10 working days on."""
    ext = Extension("site survey needed", 10, Unit.WORKING_DAYS, granted_by="整改办")
    due = PLAN.compute(FEEDBACK, calendar, extensions=[ext])
    assert due.last_day == D(2023, 11, 21)
    assert due.adjustments[0].kind == "extension"
    assert "延期：10个工作日（site survey needed），末日变为 2023-11-21" in due.explain()
    assert "Extended: 10 working days (site survey needed)" in due.explain("en")


def test_extension_until_a_day(calendar: ChinaCalendar) -> None:
    """An extension until a day makes that day the last day."""
    due = PLAN.compute(FEEDBACK, calendar, extensions=[Extension("flood", until=D(2023, 12, 15))])
    assert due.last_day == D(2023, 12, 15)
    assert due.due_at == midnight_after(D(2023, 12, 15))
    assert "至 2023-12-15" in due.explain()


def test_extensions_apply_in_order_after_pauses(calendar: ChinaCalendar) -> None:
    """Extensions with no grant instant apply after the pauses, each in turn."""
    pause = Pause(at(D(2023, 10, 10)), at(D(2023, 10, 11)))
    exts = [Extension("a", 2, "working_days"), Extension("b", 3, "working_days")]
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause], extensions=exts)
    assert due.last_day == calendar.add_workdays(D(2023, 11, 7), 6)
    assert [s.kind for s in due.adjustments] == ["pause", "extension", "extension"]


def test_a_pause_after_an_extension_moves_the_extended_day(calendar: ChinaCalendar) -> None:
    """Extended until 11-20 on 11-01, then paused 11-13 to 11-16: the clock stopped with the
    extended period running, so its three working days (11-13..11-15) move 11-20 on.
    Counted before the extension, the pause would begin after the last day 11-07 and move
    nothing."""
    until = Extension("flood", until=D(2023, 11, 20), granted_at=at(D(2023, 11, 1), 10))
    pause = Pause(at(D(2023, 11, 13), 9), at(D(2023, 11, 16), 9), "awaiting a survey")
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause], extensions=[until])
    assert due.last_day == calendar.add_workdays(D(2023, 11, 20), 3) == D(2023, 11, 23)
    assert [(s.kind, s.amount, s.last_day) for s in due.adjustments] == [
        ("extension", 0, D(2023, 11, 20)),
        ("pause", 3, D(2023, 11, 23)),
    ]


def test_pauses_and_extensions_apply_in_the_order_they_happened(calendar: ChinaCalendar) -> None:
    """A pause before an extension's grant moves the period first; one after it, the
    extended period.  Extensions without a grant instant follow every pause."""
    early = Pause(at(D(2023, 10, 10)), at(D(2023, 10, 12)))  # 2 working days
    late = Pause(at(D(2023, 11, 14)), at(D(2023, 11, 15)))  # 1 working day
    granted = Extension("a", 5, "working_days", granted_at=at(D(2023, 11, 1)))
    undated = Extension("b", 1, "working_days")
    due = PLAN.compute(FEEDBACK, calendar, pauses=[late, early], extensions=[undated, granted])
    assert [s.kind for s in due.adjustments] == ["pause", "extension", "pause", "extension"]
    assert due.adjustments[1].extension is granted
    assert due.last_day == calendar.add_workdays(D(2023, 11, 7), 2 + 5 + 1 + 1)


def test_an_extension_granted_while_paused_can_be_outrun_by_the_pause(
    calendar: ChinaCalendar,
) -> None:
    """Granted until 11-20 while a pause begun 10-10 held the clock; the pause ended on
    12-20 and moved the last day past 11-20: the extension moves nothing, it does not
    shorten the period."""
    pause = Pause(at(D(2023, 10, 10)), at(D(2023, 12, 20)))
    until = Extension("flood", until=D(2023, 11, 20), granted_at=at(D(2023, 10, 20)))
    paused = PLAN.compute(FEEDBACK, calendar, pauses=[pause])
    due = PLAN.compute(FEEDBACK, calendar, pauses=[pause], extensions=[until])
    assert paused.last_day > D(2023, 11, 20)
    assert due.last_day == paused.last_day
    assert (due.adjustments[-1].kind, due.adjustments[-1].amount) == ("extension", 0)


def test_calendar_day_extension_rolls(calendar: ChinaCalendar) -> None:
    """A calendar-day extension ending on a weekend rolls to the next working day."""
    rule = DeadlineRule.calendar_days(7)  # 07-03 + 7 = Monday 07-10
    due = rule.compute(D(2023, 7, 3), calendar, extensions=[Extension("x", 5, "calendar_days")])
    assert due.last_day == D(2023, 7, 17)


def test_month_and_hour_extensions(calendar: ChinaCalendar) -> None:
    """Month extensions add months; hour extensions add exact hours."""
    months = DeadlineRule.months(6).compute(
        D(2023, 6, 26), calendar, extensions=[Extension("x", 1, "months")]
    )
    assert months.last_day == D(2024, 1, 26)
    hours = DeadlineRule.hours(48).compute(
        at(D(2023, 6, 27), 10), calendar, extensions=[Extension("x", 12, "hours")]
    )
    assert hours.due_at == at(D(2023, 6, 29), 22)


def test_extension_in_another_unit_is_refused(calendar: ChinaCalendar) -> None:
    """An extension in calendar days on a working-day rule raises UnitMismatchError."""
    with pytest.raises(UnitMismatchError) as info:
        PLAN.compute(FEEDBACK, calendar, extensions=[Extension("x", 10, Unit.CALENDAR_DAYS)])
    assert info.value.what == "extension"


def test_extension_cannot_shorten(calendar: ChinaCalendar) -> None:
    """An extension until a day before the current last day is refused."""
    with pytest.raises(InvalidRuleError, match="cannot shorten") as info:
        PLAN.compute(FEEDBACK, calendar, extensions=[Extension("x", until=D(2023, 11, 6))])
    assert info.value.field == "extension.until"


def test_extension_into_an_unpublished_year_is_refused(calendar: ChinaCalendar) -> None:
    """An extension reaching 2027 raises CalendarCoverageError."""
    with pytest.raises(CalendarCoverageError):
        PLAN.compute(FEEDBACK, calendar, extensions=[Extension("x", until=D(2027, 3, 1))])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reason": ""},
        {"reason": "x"},
        {"reason": "x", "amount": 3, "unit": "working_days", "until": D(2023, 12, 1)},
        {"reason": "x", "amount": 3},
        {"reason": "x", "amount": 0, "unit": "working_days"},
        {"reason": "x", "amount": -3, "unit": "working_days"},
        {"reason": "x", "until": dt.datetime(2023, 12, 1, tzinfo=SHANGHAI)},
        {"reason": "x", "amount": 3, "unit": "fortnights"},
    ],
)
def test_extension_validation(kwargs: dict[str, Any]) -> None:
    """An extension has a reason and exactly one of a positive amount with unit, or a day."""
    with pytest.raises(InvalidRuleError):
        Extension(**kwargs)


def test_extensions_must_be_extensions(calendar: ChinaCalendar) -> None:
    """compute refuses extensions that are not Extension values."""
    with pytest.raises(InvalidRuleError):
        PLAN.compute(FEEDBACK, calendar, extensions=[10])  # type: ignore[list-item]


# --- more edges ---------------------------------------------------------------------------------


def test_explain_counted_start_day_on_a_rest_day(calendar: ChinaCalendar) -> None:
    """With "（含当日）" from a Saturday, the explanation says counting begins on Monday."""
    due = DeadlineRule.parse("10个工作日（含当日）").compute(D(2023, 7, 1), calendar)
    assert due.last_day == D(2023, 7, 14)
    text = due.explain()
    assert "起算日：2023-07-01（周六），含当日，但当日为休息日，自2023-07-03（周一）起算" in text
    assert "当日计入" not in text
    assert "跳过周末：4天" in text  # 07-01, 07-02, 07-08, 07-09
    assert "counting begins on 2023-07-03 (Mon)" in due.explain("en")


def test_explain_names_the_rule(calendar: ChinaCalendar) -> None:
    """A named rule's explanation gives its name."""
    rule = DeadlineRule.working_days(30, name="整改方案报送")
    assert "名称：整改方案报送" in rule.compute(FEEDBACK, calendar).explain()
    assert "Name: 整改方案报送" in rule.compute(FEEDBACK, calendar).explain("en")


def test_date_subclass_anchor(calendar: ChinaCalendar) -> None:
    """A date subclass (pendulum's Date) anchors like a plain date."""
    import pendulum

    due = PLAN.compute(pendulum.date(2023, 9, 20), calendar)
    assert due.last_day == D(2023, 11, 7)
    assert type(due.start) is dt.date


@given(rule=working_day_rules(), day=st.dates(D(2004, 3, 1), D(2026, 12, 31)))
def test_date_and_instant_anchors_agree(
    weekends_calendar: ChinaCalendar, rule: DeadlineRule, day: dt.date
) -> None:
    """Anchoring on a day or on noon of that day in Shanghai gives the same due date."""
    by_day = rule.compute(day, weekends_calendar)
    by_instant = rule.compute(at(day, 12), weekends_calendar)
    assert (by_day.first_day, by_day.last_day, by_day.due_at, by_day.provisional) == (
        by_instant.first_day,
        by_instant.last_day,
        by_instant.due_at,
        by_instant.provisional,
    )
    assert by_day.provisional is (by_day.last_day.year > 2026)


def test_pause_over_a_weekend(calendar: ChinaCalendar) -> None:
    """A weekend-only pause moves a working-day rule by nothing and a calendar-day rule by 2."""
    pause = Pause(at(D(2023, 10, 14)), at(D(2023, 10, 16)))  # Saturday and Sunday
    assert PLAN.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 11, 7)
    rule = DeadlineRule.calendar_days(30, roll=False)  # 09-21 .. 10-20
    assert rule.compute(FEEDBACK, calendar, pauses=[pause]).last_day == D(2023, 10, 22)


def test_pauses_after_an_open_pause_are_absorbed(calendar: ChinaCalendar) -> None:
    """Once a pause is open, later pauses change nothing: the clock is already stopped."""
    open_pause = Pause(at(D(2023, 10, 10)), None, "open")
    later = Pause(at(D(2023, 10, 20)), at(D(2023, 10, 25)), "later")
    due = PLAN.compute(FEEDBACK, calendar, pauses=[later, open_pause])
    assert due.suspended
    assert due.last_day == D(2023, 11, 7)
    assert len(due.adjustments) == 1


def test_month_pause_rolls_once(calendar: ChinaCalendar) -> None:
    """A month period paused a day still ends in the Labour Day holiday, so rolls as before."""
    rule = DeadlineRule.months(1)  # 2023-03-31 + 1 month = Sunday 04-30, rolls to 05-04
    assert rule.compute(D(2023, 3, 31), calendar).last_day == D(2023, 5, 4)
    pause = Pause(at(D(2023, 4, 10)), at(D(2023, 4, 11)))
    assert rule.compute(D(2023, 3, 31), calendar, pauses=[pause]).last_day == D(2023, 5, 4)
    counted = DeadlineRule.months(1, count_start_day=True)  # 01-15 .. 02-14
    assert counted.compute(D(2023, 1, 15), calendar, pauses=[pause]).last_day == D(2023, 2, 14)
    early = Pause(at(D(2023, 1, 16)), at(D(2023, 1, 17)))
    assert counted.compute(D(2023, 1, 15), calendar, pauses=[early]).last_day == D(2023, 2, 15)


def test_calendar_day_warnings(calendar: ChinaCalendar) -> None:
    """A warning 7 calendar days before falls at the start of that day."""
    rule = DeadlineRule.working_days(
        30,
        warnings=[EarlyWarning("a week left", before=7, unit=Unit.CALENDAR_DAYS)],
        escalations=[EscalationStep("a week late", 7, Unit.CALENDAR_DAYS)],
    )
    alerts = {a.name: a.at for a in rule.compute(FEEDBACK, calendar).alerts()}
    assert alerts == {"a week left": at(D(2023, 10, 31)), "a week late": at(D(2023, 11, 15))}


def test_due_is_not_equal_to_other_things(calendar: ChinaCalendar) -> None:
    """A Due compares unequal to values that are not Due."""
    due = PLAN.compute(FEEDBACK, calendar)
    assert due != "2023-11-07"
    assert due != due.last_day


def test_alert_values_are_checked() -> None:
    """Warnings and escalations must be of their types, with whole offsets."""
    with pytest.raises(InvalidRuleError):
        DeadlineRule.working_days(5, warnings=["soon"])
    with pytest.raises(InvalidRuleError):
        DeadlineRule.working_days(5, escalations=["late"])
    with pytest.raises(InvalidRuleError, match="unique"):
        DeadlineRule.working_days(
            5, warnings=[EarlyWarning("w", fraction=0.5), EarlyWarning("w", fraction=0.8)]
        )
    with pytest.raises(InvalidRuleError, match="whole"):
        EarlyWarning("w", before="3", unit="working_days")  # type: ignore[arg-type]


def test_pause_instants_must_be_datetimes() -> None:
    """A pause given as text or a bare day is refused."""
    with pytest.raises(AnchorError):
        Pause("2023-10-10T09:00+08:00")  # type: ignore[arg-type]
    with pytest.raises(AnchorError):
        Pause(D(2023, 10, 10))  # type: ignore[arg-type]


def test_a_warning_without_its_name_says_which_key_is_missing() -> None:
    """A ladder entry missing a required key names it, instead of a constructor's error."""
    with pytest.raises(InvalidRuleError, match=r"warnings.*'name' is required"):
        DeadlineRule.from_dict(
            {
                "name": "x",
                "amount": 10,
                "unit": "working_days",
                "warnings": [{"before": 2, "unit": "working_days"}],
            }
        )


def test_a_period_past_the_last_date_python_holds_is_an_anchor_error() -> None:
    """A period from 9999-12-31 cannot be counted: AnchorError, not OverflowError."""
    for unit in ("working_days", "calendar_days", "months"):
        with pytest.raises(AnchorError, match="past 9999-12-31"):
            DeadlineRule(5, unit).compute(dt.date(9999, 12, 31), ChinaCalendar())
