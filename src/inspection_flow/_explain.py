"""Explanations of computed due dates, worded from the tables of :mod:`._wording`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ._calendar import ChinaCalendar, DayInfo
from ._wording import Lang, Wording, wording

if TYPE_CHECKING:
    from ._rules import Due

_LOCAL_NAMES_SEP = wording("zh").text("names_sep")
#: A counting unit's words for the amount a pause moves a deadline by.
_MOVED = {"hours": "moved.hours", "working_days": "moved.working_days"}


def _day(d: dt.date, w: Wording) -> str:
    return w.text("day", date=d.isoformat(), weekday=w.text(f"weekday.{d.isoweekday()}"))


def _span(a: dt.date, b: dt.date, w: Wording) -> str:
    return a.isoformat() if a == b else w.text("span", first=a.isoformat(), last=b.isoformat())


def _runs(days: list[DayInfo]) -> list[tuple[dt.date, dt.date, list[DayInfo], int]]:
    """Group consecutive days into runs, one per break, with the first day of each name.

    A break may join two holidays, as the notices do (2023: 中秋节、国庆节 09-29..10-06);
    its run then carries both names.
    """
    runs: list[tuple[dt.date, dt.date, list[DayInfo], int]] = []
    for info in days:
        if runs and runs[-1][1] + dt.timedelta(days=1) == info.day:
            a, _, named, n = runs[-1]
            if all(info.name_en != x.name_en for x in named):
                named.append(info)
            runs[-1] = (a, info.day, named, n + 1)
        else:
            runs.append((info.day, info.day, [info], 1))
    return runs


def _holiday(info: DayInfo, w: Wording) -> str:
    return w.label(f"label.holiday.{info.name_en}", info.name_zh, info.name_en)


def explain(due: Due, cal: ChinaCalendar, lang: Lang) -> str:
    """Return the steps from ``due``'s anchor to its due time as lines of text.

    Raises:
        UnknownLanguageError: no wording table is registered for ``lang``.
    """
    # Long by design: one sentence per step of a computation, in the order the steps happen.
    w = wording(lang)
    rule = due.rule
    unit = rule.unit.value
    lines: list[str] = [w.text("explain.rule", rule=rule.describe(w))]
    if rule.name:
        # A rulebook's key is an identifier; the tables name the built-in ones in words.
        name = w.label(f"label.rule.{rule.name}", rule.name, rule.name)
        lines.append(w.text("explain.name", name=name))
    if unit == "hours":
        lines.append(w.text("explain.from_instant", anchor=due.anchor))
    elif rule.count_start_day and due.first_day != due.start:
        # A working-day rule counts the start day only if it is a working day.
        lines.append(
            w.text(
                "explain.start_on_rest_day",
                start=_day(due.start, w),
                first_day=_day(due.first_day, w),
            )
        )
    elif rule.count_start_day:
        lines.append(w.text("explain.start_counted", start=_day(due.start, w)))
    else:
        lines.append(w.text("explain.start_not_counted", start=_day(due.start, w)))
    if unit != "hours":
        lines.extend(_days(due, cal, w))
    moved = _MOVED.get(unit, "moved.days")
    for adj in due.adjustments:
        if adj.kind == "pause":
            p = adj.pause
            assert p is not None
            lines.append(
                w.text(
                    "explain.pause",
                    start=p.start.isoformat(),
                    end=p.end.isoformat() if p.end is not None else w.text("explain.pause_running"),
                    reason=p.reason or w.text("explain.pause_no_reason"),
                    moved=w.text(moved, n=adj.amount),
                    last_day=adj.last_day.isoformat(),
                )
            )
        else:
            e = adj.extension
            assert e is not None
            what = (
                w.text("explain.extension_until", until=e.until.isoformat())
                if e.until is not None
                else e.unit.label(e.amount, w)
                if e.unit and e.amount
                else ""
            )
            lines.append(
                w.text(
                    "explain.extension",
                    extension=what,
                    reason=e.reason,
                    last_day=adj.last_day.isoformat(),
                )
            )
    if unit == "working_days":
        lines.append(w.text("explain.working_day_n", n=rule.amount, day=_day(due.last_day, w)))
    elif unit != "hours":
        lines.append(w.text("explain.last_day", day=_day(due.last_day, w)))
    closing = due.due_at.isoformat()
    if unit != "hours" and rule.closes_at is None:
        closing = w.text("end_of_day", day=due.last_day.isoformat())
    lines.append(w.text("explain.due", due=closing))
    if due.suspended:
        lines.append(w.text("explain.suspended"))
    if due.provisional:
        lines.append(w.text("explain.provisional"))
    lines.append(w.text("explain.calendar", version=due.calendar_version))
    return "\n".join(lines)


def _days(due: Due, cal: ChinaCalendar, w: Wording) -> list[str]:
    """The lines on the days of a day-counted period: breaks, make-up and local days,
    weekends, the roll and the years not yet published."""
    rule = due.rule
    unit = rule.unit.value
    lo = due.start if rule.count_start_day else due.start + dt.timedelta(days=1)
    hi = due.last_day
    holidays: list[DayInfo] = []
    makeups: list[DayInfo] = []
    local_rest: list[DayInfo] = []
    local_work: list[DayInfo] = []
    provisional: list[DayInfo] = []
    weekends = 0
    d = lo
    while d <= hi:
        info = cal.describe(d)
        if info.kind == "holiday":
            holidays.append(info)
        elif info.kind == "makeup":
            makeups.append(info)
        elif info.kind == "local_rest":
            local_rest.append(info)
        elif info.kind == "local_work":
            local_work.append(info)
        elif info.kind == "provisional":
            provisional.append(info)
        elif info.kind == "weekend":
            weekends += 1
        d += dt.timedelta(days=1)
    lines: list[str] = []
    holiday = "explain.holiday_skipped" if unit == "working_days" else "explain.holiday_counted"
    sep = w.text("names_sep")
    for a, b, named, n in _runs(holidays):
        name = sep.join(_holiday(info, w) for info in named)
        lines.append(w.count(holiday, n, span=_span(a, b, w), name=name))
    for info in makeups:
        day = _day(info.day, w)
        lines.append(w.text("explain.makeup_workday", day=day, name=_holiday(info, w)))
    # A local decree names its days in Chinese only; the names are shown as given.
    for a, b, named, n in _runs(local_rest):
        name = _LOCAL_NAMES_SEP.join(info.name_zh for info in named)
        lines.append(w.count("explain.local_rest_day", n, span=_span(a, b, w), name=name))
    for info in local_work:
        lines.append(w.text("explain.local_workday", day=_day(info.day, w), name=info.name_zh))
    if weekends and unit == "working_days":
        lines.append(w.count("explain.weekends_skipped", weekends))
    if rule.roll:
        unrolled = rule._period_end(due.first_day)
        rolled = cal.next_workday(unrolled)
        if rolled != unrolled:
            lines.append(w.text("explain.rolled", day=_day(unrolled, w), next_day=_day(rolled, w)))
    if provisional:
        span = _span(provisional[0].day, provisional[-1].day, w)
        lines.append(w.text("explain.provisional_days", span=span))
    return lines
