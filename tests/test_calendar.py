"""The working-day calendar: State Council schedules, arithmetic, coverage, local days."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    AnchorError,
    CalendarCoverageError,
    CalendarDataError,
    ChinaCalendar,
    DeadlineRule,
    InvalidRuleError,
    YearSchedule,
)
from strategies import (
    FIRST_PUBLISHED,
    LAST_PUBLISHED,
    MAX_STEP,
    inner_days,
    steps,
)

D = dt.date
ONE_DAY = dt.timedelta(days=1)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive."""
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


# --- a naive reference ----------------------------------------------------------------------
# Built from the published schedules one day at a time, with none of the calendar's indexes.


def naive_is_workday(calendar: ChinaCalendar, day: dt.date) -> bool:
    """Whether ``day`` is a working day, read straight off its year's schedule."""
    schedule = calendar.schedule(day.year)
    if day in schedule.makeup_workdays:
        return True
    if day in schedule.rest_days:
        return False
    return day.weekday() < 5


def naive_add(calendar: ChinaCalendar, day: dt.date, n: int) -> dt.date:
    """Walk day by day to the n-th working day after (n > 0) or before (n < 0) ``day``."""
    step = ONE_DAY if n > 0 else -ONE_DAY
    left = abs(n)
    while True:
        day += step
        if naive_is_workday(calendar, day):
            left -= 1
            if left == 0:
                return day


def naive_between(calendar: ChinaCalendar, a: dt.date, b: dt.date) -> int:
    """Count working days d with a < d <= b, negated when b < a."""
    lo, hi, sign = (a, b, 1) if a <= b else (b, a, -1)
    return sign * sum(naive_is_workday(calendar, d) for d in days(lo + ONE_DAY, hi))


# --- golden dates from the State Council notices --------------------------------------------

REST_2023 = [
    *days(D(2022, 12, 31), D(2023, 1, 2)),  # New Year's Day
    *days(D(2023, 1, 21), D(2023, 1, 27)),  # Spring Festival
    D(2023, 4, 5),  # Tomb-sweeping Day
    *days(D(2023, 4, 29), D(2023, 5, 3)),  # Labour Day
    *days(D(2023, 6, 22), D(2023, 6, 24)),  # Dragon Boat Festival
    *days(D(2023, 9, 29), D(2023, 10, 6)),  # Mid-autumn Festival and National Day
]
MAKEUP_2023 = [
    D(2023, 1, 28),
    D(2023, 1, 29),
    D(2023, 4, 23),
    D(2023, 5, 6),
    D(2023, 6, 25),
    D(2023, 10, 7),
    D(2023, 10, 8),
]


@pytest.mark.parametrize("day", REST_2023, ids=str)
def test_2023_notice_rest_days(calendar: ChinaCalendar, day: dt.date) -> None:
    """Every rest day of the 2023 notice is not a working day, weekday or not."""
    assert not calendar.is_workday(day)


@pytest.mark.parametrize("day", MAKEUP_2023, ids=str)
def test_2023_notice_makeup_workdays(calendar: ChinaCalendar, day: dt.date) -> None:
    """Every make-up workday of the 2023 notice is a working day although it is a weekend."""
    assert day.weekday() >= 5
    assert calendar.is_workday(day)


def test_2023_has_no_other_exceptions(calendar: ChinaCalendar) -> None:
    """Outside the notice's lists, every day of 2023 is a working day exactly when Mon–Fri."""
    for day in days(D(2023, 1, 1), D(2023, 12, 31)):
        expected = day in MAKEUP_2023 or (day.weekday() < 5 and day not in REST_2023)
        assert calendar.is_workday(day) is expected, day


@pytest.mark.parametrize("day", days(D(2020, 1, 31), D(2020, 2, 2)), ids=str)
def test_2020_spring_festival_extension(calendar: ChinaCalendar, day: dt.date) -> None:
    """The 2020 Spring Festival extension made 01-31..02-02 rest days (02-01 was to be worked)."""
    assert not calendar.is_workday(day)
    assert calendar.describe(day).kind == "holiday"


def test_2020_work_resumed_after_the_extension(calendar: ChinaCalendar) -> None:
    """Work resumed on Monday 2020-02-03, right after the extension."""
    assert calendar.next_workday(D(2020, 1, 24)) == D(2020, 2, 3)


@pytest.mark.parametrize(
    "day", [D(2023, 6, 25), D(2024, 2, 4), D(2026, 2, 14), D(2026, 2, 28)], ids=str
)
def test_makeup_workdays_are_working_days(calendar: ChinaCalendar, day: dt.date) -> None:
    """A make-up workday (调休上班) on a Saturday or Sunday is a working day."""
    assert day.weekday() >= 5
    assert calendar.is_workday(day)
    assert calendar.describe(day).kind == "makeup"


def test_2005_12_31_was_worked(calendar: ChinaCalendar) -> None:
    """Saturday 2005-12-31 was worked (国办发明电〔2005〕35号), which chinesecalendar misses."""
    assert calendar.is_workday(D(2005, 12, 31))
    assert calendar.describe(D(2005, 12, 31)).kind == "makeup"
    assert not calendar.is_workday(D(2006, 1, 3))


#: Days on which the calendar corrects chinesecalendar, with what the notice says.
CORRECTIONS = {
    # 2006 New Year (国办发明电〔2005〕35号): "12月31日（星期六）上班"; chinesecalendar 1.11
    # leaves it a weekend (liriansu-opus/chinese-calendar issue 125).
    D(2005, 12, 31): True,
}


def test_agrees_with_chinesecalendar_except_corrections(calendar: ChinaCalendar) -> None:
    """Every published day agrees with chinese_calendar.is_workday but for the corrections."""
    differ = {
        day: calendar.is_workday(day)
        for day in days(FIRST_PUBLISHED, LAST_PUBLISHED)
        if calendar.is_workday(day) != chinese_calendar.is_workday(day)
    }
    assert differ == {d: v for d, v in CORRECTIONS.items() if chinese_calendar.is_workday(d) != v}
    for day, workday in CORRECTIONS.items():
        assert calendar.is_workday(day) is workday


#: Days on which the `holidays` package is known to disagree with the State Council notices,
#: with the first `holidays` version that fixes each (None: not fixed yet).
HOLIDAYS_PACKAGE_ERRORS: dict[dt.date, tuple[int, int] | None] = {
    # Sundays worked to make up for the 2019 Labour Day holiday, extended to four days by
    # the notice of 2019-03-22; older `holidays` releases keep them weekends (its issue 3293).
    D(2019, 4, 28): (0, 92),
    D(2019, 5, 5): (0, 92),
}


def _holidays_version() -> tuple[int, int]:
    major, minor = holidays.__version__.split(".")[:2]
    return int(major), int(minor)


def test_agrees_with_the_holidays_package(calendar: ChinaCalendar) -> None:
    """Every day of every published year agrees with holidays.China, except the known errors."""
    china = holidays.China(years=calendar.years)
    installed = _holidays_version()
    expected = {
        day
        for day, fixed_in in HOLIDAYS_PACKAGE_ERRORS.items()
        if fixed_in is None or installed < fixed_in
    }
    disagreements = {
        day
        for day in days(D(calendar.years[0], 1, 1), D(calendar.years[-1], 12, 31))
        if calendar.is_workday(day) != china.is_working_day(day)
    }
    assert calendar.years == range(2004, 2027)
    assert disagreements == expected


# --- worked examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2021, 7, 16), 30, D(2021, 8, 27)),  # feedback + 30 working days
        (D(2023, 6, 21), 3, D(2023, 6, 27)),  # Sunday 06-25 is a make-up workday
        (D(2023, 9, 20), 30, D(2023, 11, 7)),  # across National Day and its make-up days
        (D(2023, 12, 29), 1, D(2024, 1, 2)),  # across the weekend and New Year 2024
        (D(2023, 12, 29), 3, D(2024, 1, 4)),
        (D(2024, 12, 31), -1, D(2024, 12, 30)),  # backwards from the year's last day
        (D(2025, 1, 2), -1, D(2024, 12, 31)),  # backwards over New Year 2025
        (D(2024, 1, 2), -1, D(2023, 12, 29)),
        (D(2023, 10, 1), 1, D(2023, 10, 7)),  # from inside a holiday to a Saturday worked
        (D(2023, 10, 9), -1, D(2023, 10, 8)),  # back to a Sunday worked
    ],
)
def test_add_workdays_examples(
    calendar: ChinaCalendar, start: dt.date, n: int, expected: dt.date
) -> None:
    """add_workdays reproduces the worked examples, across years and holidays."""
    assert calendar.add_workdays(start, n) == expected


def test_workdays_between_across_new_year(calendar: ChinaCalendar) -> None:
    """Between Friday 2023-12-29 and 2024-01-02 lies one working day (the last one)."""
    assert calendar.workdays_between(D(2023, 12, 29), D(2024, 1, 2)) == 1
    assert calendar.workdays_between(D(2024, 1, 2), D(2023, 12, 29)) == -1


def test_station_in_period(calendar: ChinaCalendar) -> None:
    """A 21-day station-in from 2023-06-26, start day counted, no roll, ends 2023-07-16."""
    rule = DeadlineRule.calendar_days(21, count_start_day=True, roll=False)
    assert rule.compute(D(2023, 6, 26), calendar).last_day == D(2023, 7, 16)


# --- API semantics --------------------------------------------------------------------------


def test_add_workdays_is_strictly_after(calendar: ChinaCalendar) -> None:
    """add_workdays(d, 1) on a working day is the next working day, never d itself."""
    assert calendar.add_workdays(D(2023, 6, 26), 1) == D(2023, 6, 27)
    assert calendar.add_workdays(D(2023, 6, 30), 1) == D(2023, 7, 3)


def test_add_workdays_negative_is_strictly_before(calendar: ChinaCalendar) -> None:
    """add_workdays(d, -1) on a working day is the previous working day, never d itself."""
    assert calendar.add_workdays(D(2023, 6, 27), -1) == D(2023, 6, 26)
    assert calendar.add_workdays(D(2023, 6, 26), -1) == D(2023, 6, 25)
    assert calendar.add_workdays(D(2023, 6, 25), -1) == D(2023, 6, 21)


@pytest.mark.parametrize("n", [0, 1.0, True, "3", None])
def test_add_workdays_refuses_a_bad_count(calendar: ChinaCalendar, n: object) -> None:
    """Zero or a non-integer count of working days is refused with InvalidRuleError."""
    with pytest.raises(InvalidRuleError) as info:
        calendar.add_workdays(D(2023, 6, 21), n)  # type: ignore[arg-type]
    assert info.value.field == "n"


def test_zero_workdays_points_to_next_workday(calendar: ChinaCalendar) -> None:
    """The error for n=0 tells the caller to use next_workday() instead."""
    with pytest.raises(InvalidRuleError, match="next_workday"):
        calendar.add_workdays(D(2023, 6, 21), 0)


def test_workdays_between_examples(calendar: ChinaCalendar) -> None:
    """workdays_between counts working days d with a < d <= b and is negated when b < a."""
    assert calendar.workdays_between(D(2023, 6, 21), D(2023, 6, 21)) == 0
    assert calendar.workdays_between(D(2023, 6, 21), D(2023, 6, 27)) == 3
    assert calendar.workdays_between(D(2023, 6, 27), D(2023, 6, 21)) == -3
    # 09-29..10-06 off, Saturday 10-07 and Sunday 10-08 worked, Monday 10-09.
    assert calendar.workdays_between(D(2023, 9, 28), D(2023, 10, 9)) == 3
    assert calendar.workdays_between(D(2023, 9, 29), D(2023, 10, 6)) == 0


def test_next_workday(calendar: ChinaCalendar) -> None:
    """next_workday is the first working day on or after the day."""
    assert calendar.next_workday(D(2023, 9, 28)) == D(2023, 9, 28)
    assert calendar.next_workday(D(2023, 9, 29)) == D(2023, 10, 7)
    assert calendar.next_workday(D(2023, 7, 15)) == D(2023, 7, 17)


def test_previous_workday(calendar: ChinaCalendar) -> None:
    """previous_workday is the last working day on or before the day."""
    assert calendar.previous_workday(D(2023, 10, 7)) == D(2023, 10, 7)
    assert calendar.previous_workday(D(2023, 10, 6)) == D(2023, 9, 28)


def test_workdays_lists_the_working_days(calendar: ChinaCalendar) -> None:
    """workdays(a, b) yields the working days a <= d <= b in order, none when b < a."""
    assert list(calendar.workdays(D(2023, 9, 28), D(2023, 10, 9))) == [
        D(2023, 9, 28),
        D(2023, 10, 7),
        D(2023, 10, 8),
        D(2023, 10, 9),
    ]
    assert list(calendar.workdays(D(2023, 10, 9), D(2023, 9, 28))) == []


@pytest.mark.parametrize(
    "method",
    ["is_workday", "next_workday", "previous_workday", "describe"],
)
def test_a_datetime_is_not_a_day(calendar: ChinaCalendar, method: str) -> None:
    """The calendar refuses a datetime where it expects a day, saying how to convert it."""
    instant = dt.datetime(2023, 6, 21, 23, 30, tzinfo=dt.timezone.utc)
    with pytest.raises(AnchorError, match="Asia/Shanghai"):
        getattr(calendar, method)(instant)


def test_a_datetime_is_refused_by_arithmetic(calendar: ChinaCalendar) -> None:
    """add_workdays and workdays_between refuse datetimes too."""
    instant = dt.datetime(2023, 6, 21, 12, tzinfo=dt.timezone.utc)
    with pytest.raises(AnchorError):
        calendar.add_workdays(instant, 1)
    with pytest.raises(AnchorError):
        calendar.workdays_between(D(2023, 6, 21), instant)


def test_describe_names_each_kind_of_day(calendar: ChinaCalendar) -> None:
    """describe names a weekday, weekend, holiday or make-up workday in Chinese and English."""
    national = calendar.describe(D(2023, 10, 2))
    assert (national.kind, national.name_zh, national.name_en) == (
        "holiday",
        "国庆节",
        "National Day",
    )
    makeup = calendar.describe(D(2023, 10, 7))
    assert (makeup.kind, makeup.is_workday, makeup.name_zh) == ("makeup", True, "国庆节")
    assert calendar.describe(D(2023, 7, 15)).kind == "weekend"
    assert calendar.describe(D(2023, 7, 14)).kind == "weekday"


# --- properties against the naive reference -------------------------------------------------


def test_every_published_day_matches_the_schedules(calendar: ChinaCalendar) -> None:
    """is_workday agrees with the naive reading of the schedules on every published day."""
    for day in days(FIRST_PUBLISHED, LAST_PUBLISHED):
        assert calendar.is_workday(day) is naive_is_workday(calendar, day), day


@given(day=inner_days(), n=steps(), forward=st.booleans())
def test_add_workdays_matches_the_naive_loop(
    calendar: ChinaCalendar, day: dt.date, n: int, forward: bool
) -> None:
    """add_workdays(d, n) is the day a day-by-day walk reaches, in either direction."""
    n = n if forward else -n
    assert calendar.add_workdays(day, n) == naive_add(calendar, day, n)


@given(a=inner_days(), span=st.integers(-120, 120))
def test_workdays_between_matches_the_naive_count(
    calendar: ChinaCalendar, a: dt.date, span: int
) -> None:
    """workdays_between(a, b) equals a day-by-day count, negated when b < a."""
    b = a + dt.timedelta(days=span)
    assert calendar.workdays_between(a, b) == naive_between(calendar, a, b)
    assert calendar.workdays_between(b, a) == -calendar.workdays_between(a, b)


@given(day=inner_days())
def test_next_and_previous_workday_match_the_naive_walk(
    calendar: ChinaCalendar, day: dt.date
) -> None:
    """next_workday and previous_workday are the nearest working days on either side."""
    nxt = day if naive_is_workday(calendar, day) else naive_add(calendar, day, 1)
    prev = day if naive_is_workday(calendar, day) else naive_add(calendar, day, -1)
    assert calendar.next_workday(day) == nxt
    assert calendar.previous_workday(day) == prev


@given(day=inner_days(), n=steps())
def test_add_then_count_round_trip(calendar: ChinaCalendar, day: dt.date, n: int) -> None:
    """Counting the working days from d to add_workdays(d, n) gives back n."""
    assert calendar.workdays_between(day, calendar.add_workdays(day, n)) == n
    assert calendar.workdays_between(day, calendar.add_workdays(day, -n)) == -(
        n - 1 + calendar.is_workday(day)
    )


@given(d1=inner_days(), d2=inner_days(), n=steps(), m=steps())
def test_add_workdays_is_monotonic(
    calendar: ChinaCalendar, d1: dt.date, d2: dt.date, n: int, m: int
) -> None:
    """A later start never gives an earlier result; more working days give a later one."""
    lo, hi = sorted((d1, d2))
    assert calendar.add_workdays(lo, n) <= calendar.add_workdays(hi, n)
    if n != m:
        assert (calendar.add_workdays(lo, n) < calendar.add_workdays(lo, m)) is (n < m)
    assert calendar.add_workdays(lo, -n) < lo < calendar.add_workdays(lo, n)


@given(day=inner_days(), a=st.integers(1, MAX_STEP // 2), b=st.integers(1, MAX_STEP // 2))
def test_add_workdays_composes(calendar: ChinaCalendar, day: dt.date, a: int, b: int) -> None:
    """Adding a then b working days equals adding a + b; likewise backwards."""
    assert calendar.add_workdays(calendar.add_workdays(day, a), b) == calendar.add_workdays(
        day, a + b
    )
    assert calendar.add_workdays(calendar.add_workdays(day, -a), -b) == calendar.add_workdays(
        day, -a - b
    )


@given(day=inner_days(), n=steps())
def test_negative_steps_invert_positive_ones(calendar: ChinaCalendar, day: dt.date, n: int) -> None:
    """n working days forward then n back lands on the last working day on or before d."""
    assert calendar.add_workdays(calendar.add_workdays(day, n), -n) == calendar.previous_workday(
        day
    )
    assert calendar.add_workdays(calendar.add_workdays(day, -n), n) == calendar.next_workday(day)


@given(day=inner_days())
def test_results_are_working_days(calendar: ChinaCalendar, day: dt.date) -> None:
    """next_workday and previous_workday always land on working days."""
    assert calendar.is_workday(calendar.next_workday(day))
    assert calendar.is_workday(calendar.previous_workday(day))


# --- coverage ---------------------------------------------------------------------------------


def test_unpublished_year_is_refused(calendar: ChinaCalendar) -> None:
    """A day in 2027 (no notice yet) raises CalendarCoverageError, also a LookupError."""
    with pytest.raises(CalendarCoverageError) as info:
        calendar.is_workday(D(2027, 1, 4))
    error = info.value
    assert isinstance(error, LookupError)
    assert error.year == 2027
    assert error.covered == (2004, 2026)
    message = str(error)
    assert "2027" in message
    assert "extra=[YearSchedule(2027" in message
    assert "unpublished='weekends'" in message


@pytest.mark.parametrize(
    ("call", "year"),
    [
        (lambda c: c.add_workdays(D(2026, 12, 28), 10), 2027),
        (lambda c: c.add_workdays(D(2004, 1, 6), -10), 2003),
        (lambda c: c.workdays_between(D(2026, 12, 1), D(2027, 1, 1)), 2027),
        (lambda c: c.next_workday(D(2027, 1, 1)), 2027),
        (lambda c: c.previous_workday(D(2003, 12, 31)), 2003),
        (lambda c: c.schedule(2027), 2027),
    ],
)
def test_reaching_past_the_published_years_is_refused(
    calendar: ChinaCalendar, call: object, year: int
) -> None:
    """Arithmetic whose start or result leaves the published years names the year it needs."""
    with pytest.raises(CalendarCoverageError) as info:
        call(calendar)  # type: ignore[operator]
    assert info.value.year == year


def test_is_published(calendar: ChinaCalendar) -> None:
    """is_published is true for 2004–2026 only."""
    assert calendar.is_published(2004)
    assert calendar.is_published(2026)
    assert not calendar.is_published(2003)
    assert not calendar.is_published(2027)


def _schedule_2027() -> YearSchedule:
    return YearSchedule(
        2027,
        rest_days={D(2027, 1, 1): "New Year's Day", D(2027, 2, 8): "Spring Festival"},
        makeup_workdays={D(2027, 2, 20): "Spring Festival"},
        source="test notice for 2027",
    )


def test_an_extra_year_makes_it_computable() -> None:
    """A supplied 2027 schedule makes 2027 computable, make-up workday included."""
    calendar = ChinaCalendar(extra=[_schedule_2027()])
    assert calendar.years == range(2004, 2028)
    assert not calendar.is_workday(D(2027, 1, 1))
    assert calendar.is_workday(D(2027, 2, 20))
    assert calendar.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert calendar.schedule(2027).source == "test notice for 2027"
    with pytest.raises(CalendarCoverageError):
        calendar.is_workday(D(2028, 1, 3))


def test_an_extra_year_replaces_a_published_one() -> None:
    """A supplied schedule for a published year replaces the provider's."""
    calendar = ChinaCalendar(extra=[YearSchedule(2023, source="a corrected 2023")])
    assert calendar.is_workday(D(2023, 10, 2))
    assert not calendar.is_workday(D(2023, 10, 7))
    assert calendar.version != ChinaCalendar().version


def test_a_gap_between_years_is_refused() -> None:
    """A schedule for 2029 without 2027 and 2028 leaves a gap and is refused."""
    with pytest.raises(CalendarDataError) as info:
        ChinaCalendar(extra=[YearSchedule(2029, source="test notice for 2029")])
    assert info.value.year == 2027


def test_extra_must_be_schedules() -> None:
    """extra accepts YearSchedule values only."""
    with pytest.raises(CalendarDataError):
        ChinaCalendar(extra=[{2027: []}])  # type: ignore[list-item]


def test_unknown_unpublished_mode_is_refused() -> None:
    """unpublished is 'error' or 'weekends', nothing else."""
    with pytest.raises(CalendarDataError, match="weekends"):
        ChinaCalendar(unpublished="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "problem", "day"),
    [
        (
            {"makeup_workdays": [D(2027, 1, 4)]},
            "Saturday or Sunday",
            D(2027, 1, 4),
        ),
        ({"rest_days": [D(2026, 12, 31)]}, "outside the year", D(2026, 12, 31)),
        (
            {"rest_days": [D(2027, 2, 6)], "makeup_workdays": [D(2027, 2, 6)]},
            "both",
            D(2027, 2, 6),
        ),
    ],
)
def test_year_schedule_validation(kwargs: dict[str, object], problem: str, day: dt.date) -> None:
    """A make-up workday on a weekday, a day outside the year, or a day in both lists is refused."""
    with pytest.raises(CalendarDataError, match=problem) as info:
        YearSchedule(2027, source="test", **kwargs)  # type: ignore[arg-type]
    assert info.value.year == 2027
    assert info.value.day == day


def test_year_schedule_needs_a_source() -> None:
    """A schedule without its source (the notice) is refused."""
    with pytest.raises(CalendarDataError, match="source"):
        YearSchedule(2027, rest_days=[D(2027, 1, 1)])


def test_year_schedule_refuses_a_bad_year() -> None:
    """A year outside 1900–2200 is refused."""
    with pytest.raises(CalendarDataError):
        YearSchedule(1800, source="test")


def test_year_schedule_refuses_datetimes() -> None:
    """A schedule lists days, not instants."""
    with pytest.raises(AnchorError):
        YearSchedule(2027, rest_days=[dt.datetime(2027, 1, 1)], source="test")


def test_weekends_mode_computes_past_the_published_years(
    weekends_calendar: ChinaCalendar,
) -> None:
    """With unpublished='weekends', 2027 has weekends only and results there are provisional."""
    assert weekends_calendar.is_workday(D(2027, 1, 1))  # a Friday; no notice known
    assert not weekends_calendar.is_workday(D(2027, 1, 2))
    assert weekends_calendar.describe(D(2027, 1, 1)).kind == "provisional"
    assert weekends_calendar.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 1)
    assert weekends_calendar.is_provisional(D(2026, 12, 1), D(2027, 1, 1))
    assert not weekends_calendar.is_provisional(D(2026, 1, 1), D(2026, 12, 31))
    # Published years are unchanged.
    assert not weekends_calendar.is_workday(D(2023, 10, 2))
    assert weekends_calendar.years == range(2004, 2027)
    assert weekends_calendar.unpublished == "weekends"


def test_due_is_provisional_only_past_the_published_years(
    weekends_calendar: ChinaCalendar,
) -> None:
    """Due.provisional is true when the period reaches 2027 and false inside 2004–2026."""
    rule = DeadlineRule.working_days(30)
    assert rule.compute(D(2026, 12, 1), weekends_calendar).provisional
    assert not rule.compute(D(2023, 9, 20), weekends_calendar).provisional
    assert rule.compute(D(2023, 9, 20), weekends_calendar).last_day == D(2023, 11, 7)


def test_versions_tell_calendars_apart() -> None:
    """Plain, extra-year, weekends and local calendars each have their own version."""
    plain = ChinaCalendar()
    versions = {
        plain.version,
        ChinaCalendar(extra=[_schedule_2027()]).version,
        ChinaCalendar(unpublished="weekends").version,
        plain.with_local_days("益阳市 test", rest_days=[D(2023, 7, 3)]).version,
    }
    assert len(versions) == 4
    assert plain.version.startswith("chinesecalendar==")


def test_versions_are_stable() -> None:
    """Two constructions of the same calendar have the same version, compare and hash equal."""
    a, b = ChinaCalendar(extra=[_schedule_2027()]), ChinaCalendar(extra=[_schedule_2027()])
    assert a.version == b.version
    assert a == b
    assert hash(a) == hash(b)
    assert a != ChinaCalendar()
    assert repr(a) == f"ChinaCalendar(version={a.version!r})"
    local = ChinaCalendar().with_local_days("x", rest_days=[D(2023, 7, 3)])
    assert local.version == ChinaCalendar().with_local_days("x", rest_days=[D(2023, 7, 3)]).version


# --- local calendars ----------------------------------------------------------------------------


def test_local_rest_day(calendar: ChinaCalendar) -> None:
    """A local rest day stops being a working day and moves results, in the local calendar only."""
    local = calendar.with_local_days("资阳区 test", rest_days={D(2023, 6, 26): "local festival"})
    assert calendar.is_workday(D(2023, 6, 26))
    assert not local.is_workday(D(2023, 6, 26))
    assert calendar.add_workdays(D(2023, 6, 21), 3) == D(2023, 6, 27)
    assert local.add_workdays(D(2023, 6, 21), 3) == D(2023, 6, 28)
    info = local.describe(D(2023, 6, 26))
    assert (info.kind, info.name_zh) == ("local_rest", "local festival")
    assert local.name == "资阳区 test"
    assert calendar.name == "China"
    assert local.version != calendar.version


def test_local_workday(calendar: ChinaCalendar) -> None:
    """A local workday on a weekend becomes a working day."""
    local = calendar.with_local_days("test", workdays=[D(2023, 7, 15)])
    assert local.is_workday(D(2023, 7, 15))
    assert local.describe(D(2023, 7, 15)).kind == "local_work"
    assert local.workdays_between(D(2023, 7, 14), D(2023, 7, 17)) == 2


def test_local_days_accumulate_and_override(calendar: ChinaCalendar) -> None:
    """A second local decree keeps the first's days unless it says otherwise about them."""
    first = calendar.with_local_days("a", rest_days=[D(2023, 7, 3), D(2023, 7, 4)])
    second = first.with_local_days("b", workdays=[D(2023, 7, 4)])
    assert not second.is_workday(D(2023, 7, 3))
    assert second.is_workday(D(2023, 7, 4))
    assert second.name == "a+b"
    assert len({calendar.version, first.version, second.version}) == 3


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("", {"rest_days": [D(2023, 7, 3)]}),
        ("x", {"rest_days": [D(2027, 7, 5)]}),
        ("x", {"rest_days": [D(2023, 7, 3)], "workdays": [D(2023, 7, 3)]}),
    ],
)
def test_local_days_validation(
    calendar: ChinaCalendar, name: str, kwargs: dict[str, object]
) -> None:
    """A local calendar needs a name, days in published years, and no day in both lists."""
    with pytest.raises(CalendarDataError):
        calendar.with_local_days(name, **kwargs)  # type: ignore[arg-type]


@given(
    rest=st.sets(st.dates(D(2023, 1, 1), D(2023, 12, 31)), max_size=10),
    work=st.sets(st.dates(D(2023, 1, 1), D(2023, 12, 31)), max_size=10),
    day=st.dates(D(2023, 3, 1), D(2023, 10, 31)),
    n=st.integers(-40, 40).filter(bool),
)
def test_local_calendar_matches_the_naive_loop(
    calendar: ChinaCalendar, rest: set[dt.date], work: set[dt.date], day: dt.date, n: int
) -> None:
    """A local calendar's add_workdays equals a day-by-day walk over the overridden days."""
    work -= rest
    local = calendar.with_local_days("test", rest_days=rest, workdays=work)

    def is_workday(d: dt.date) -> bool:
        if d in rest:
            return False
        return d in work or naive_is_workday(calendar, d)

    step = ONE_DAY if n > 0 else -ONE_DAY
    expected, left = day, abs(n)
    while left:
        expected += step
        left -= is_workday(expected)
    assert local.add_workdays(day, n) == expected


def test_the_table_ends_with_the_last_schedule() -> None:
    """next_workday past the last published day names the year it would need."""
    calendar = ChinaCalendar(
        extra=[YearSchedule(2027, rest_days=days(D(2027, 12, 27), D(2027, 12, 31)), source="test")]
    )
    with pytest.raises(CalendarCoverageError) as info:
        calendar.next_workday(D(2027, 12, 27))
    assert info.value.year == 2028


def test_the_table_starts_with_the_first_schedule(calendar: ChinaCalendar) -> None:
    """previous_workday before the first published working day names 2003."""
    with pytest.raises(CalendarCoverageError) as info:
        calendar.previous_workday(D(2004, 1, 1))  # New Year's Day, the table's first day
    assert info.value.year == 2003


def test_text_is_not_a_day(calendar: ChinaCalendar) -> None:
    """The calendar refuses text where it expects a day."""
    with pytest.raises(AnchorError, match="str"):
        calendar.is_workday("2023-06-25")  # type: ignore[arg-type]
