"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import strategies as st

from inspection_flow import SHANGHAI, DeadlineRule, EarlyWarning, EscalationStep, Unit

#: The first and last day of the published schedules (chinesecalendar 2004–2026).
FIRST_PUBLISHED = dt.date(2004, 1, 1)
LAST_PUBLISHED = dt.date(2026, 12, 31)

#: The largest step the properties take, in working days.  Small enough that a step from
#: an inner day never leaves the published years (60 working days < 100 calendar days).
MAX_STEP = 60


def published_days() -> st.SearchStrategy[dt.date]:
    """Any day of a published year."""
    return st.dates(FIRST_PUBLISHED, LAST_PUBLISHED)


def inner_days() -> st.SearchStrategy[dt.date]:
    """A published day from which MAX_STEP working days either way stay published."""
    return st.dates(dt.date(2004, 7, 1), dt.date(2026, 6, 30))


def steps() -> st.SearchStrategy[int]:
    """A positive number of working days, at most MAX_STEP."""
    return st.integers(1, MAX_STEP)


def time_zones() -> st.SearchStrategy[dt.tzinfo]:
    """Time zones a caller may attach: Shanghai, UTC, one with DST, fixed offsets."""
    return st.sampled_from(
        [
            SHANGHAI,
            dt.timezone.utc,
            zoneinfo.ZoneInfo("America/New_York"),
            dt.timezone(dt.timedelta(hours=8)),
            dt.timezone(dt.timedelta(hours=-11, minutes=-30)),
        ]
    )


def aware_instants(
    lo: dt.date = dt.date(2005, 1, 1), hi: dt.date = dt.date(2025, 12, 31)
) -> st.SearchStrategy[dt.datetime]:
    """An aware instant between two days, in any of :func:`time_zones`."""
    return st.datetimes(
        min_value=dt.datetime.combine(lo, dt.time()),
        max_value=dt.datetime.combine(hi, dt.time(23, 59, 59)),
        timezones=time_zones(),
    )


def _names() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


def _day_units() -> st.SearchStrategy[Unit]:
    return st.sampled_from([Unit.WORKING_DAYS, Unit.CALENDAR_DAYS, Unit.MONTHS])


@st.composite
def deadline_rules(draw: st.DrawFn) -> DeadlineRule:
    """A valid deadline rule of any unit, with consistent warnings and escalations."""
    unit = draw(st.sampled_from(list(Unit)))
    hours = unit is Unit.HOURS
    amount = draw(st.integers(1, 400))
    count_start_day = False if hours else draw(st.booleans())
    roll = False if hours else draw(st.booleans())
    closes_at = None if hours else draw(st.none() | st.times())
    names = draw(st.lists(_names(), unique=True, max_size=5))
    split = draw(st.integers(0, len(names)))
    alert_units = st.just(Unit.HOURS) if hours else _day_units()
    warnings = []
    for name in names[:split]:
        label = draw(st.text(max_size=6))
        if draw(st.booleans()):
            warnings.append(
                EarlyWarning(
                    name, before=draw(st.integers(1, 30)), unit=draw(alert_units), label_zh=label
                )
            )
        else:
            fraction = draw(st.floats(0, 1, exclude_min=True, exclude_max=True))
            warnings.append(EarlyWarning(name, fraction=fraction, label_zh=label))
    escalations = [
        EscalationStep(
            name, draw(st.integers(0, 60)), draw(alert_units), label_zh=draw(st.text(max_size=6))
        )
        for name in names[split:]
    ]
    return DeadlineRule(
        amount,
        unit,
        count_start_day=count_start_day,
        roll=roll,
        closes_at=closes_at,
        name=draw(st.text(max_size=12)),
        source=draw(st.text(max_size=12)),
        confidence=draw(st.sampled_from(["", "H", "M", "L", "L-M", "M-H"])),
        warnings=warnings,
        escalations=escalations,
    )


@st.composite
def working_day_rules(draw: st.DrawFn) -> DeadlineRule:
    """A working-day rule with up to 40 working days, counting the start day or not."""
    return DeadlineRule.working_days(draw(st.integers(1, 40)), count_start_day=draw(st.booleans()))
