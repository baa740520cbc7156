"""Explanations of computed due dates, in Chinese and English."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ._calendar import ChinaCalendar, DayInfo

if TYPE_CHECKING:
    from ._rules import Due, Lang

_WEEKDAY_ZH = "一二三四五六日"
_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _day(d: dt.date, lang: Lang) -> str:
    if lang == "zh":
        return f"{d.isoformat()}（周{_WEEKDAY_ZH[d.weekday()]}）"
    return f"{d.isoformat()} ({_WEEKDAY_EN[d.weekday()]})"


def _span(a: dt.date, b: dt.date) -> str:
    return a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}"


def _runs(days: list[DayInfo]) -> list[tuple[dt.date, dt.date, str, str, int]]:
    """Group consecutive days into runs, one per break.

    A break may join two holidays, as the notices do (2023: 中秋节、国庆节 09-29..10-06);
    its run then carries both names.
    """
    runs: list[tuple[dt.date, dt.date, str, str, int]] = []
    for info in days:
        if runs and runs[-1][1] + dt.timedelta(days=1) == info.day:
            a, _, zh, en, n = runs[-1]
            if info.name_en not in en.split(" and "):
                zh, en = f"{zh}、{info.name_zh}", f"{en} and {info.name_en}"
            runs[-1] = (a, info.day, zh, en, n + 1)
        else:
            runs.append((info.day, info.day, info.name_zh, info.name_en, 1))
    return runs


def explain(due: Due, cal: ChinaCalendar, lang: Lang) -> str:
    """Return the steps from ``due``'s anchor to its due time as lines of text."""
    rule = due.rule
    unit = rule.unit.value
    zh = lang == "zh"
    lines: list[str] = []
    lines.append(("规则：" if zh else "Rule: ") + rule.describe(lang))
    if rule.name:
        lines.append(("名称：" if zh else "Name: ") + rule.name)
    if unit == "hours":
        lines.append(f"起算时刻：{due.anchor}" if zh else f"Counted from the instant {due.anchor}")
    elif rule.count_start_day and due.first_day != due.start:
        # A working-day rule counts the start day only if it is a working day.
        lines.append(
            f"起算日：{_day(due.start, lang)}，含当日，但当日为休息日，"
            f"自{_day(due.first_day, lang)}起算"
            if zh
            else f"Start day: {_day(due.start, lang)}, to be counted but a rest day; "
            f"counting begins on {_day(due.first_day, lang)}"
        )
    elif rule.count_start_day:
        lines.append(
            f"起算日：{_day(due.start, lang)}，当日计入"
            if zh
            else f"Start day: {_day(due.start, lang)}, counted"
        )
    else:
        lines.append(
            f"起算日：{_day(due.start, lang)}，当日不计（民法典第201条），自次日起算"
            if zh
            else f"Start day: {_day(due.start, lang)}, not counted (Civil Code art. 201); "
            "counting begins the next day"
        )
    if unit != "hours":
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
        counted_rest = unit != "working_days"
        for a, b, name_zh, name_en, n in _runs(holidays):
            if zh:
                verb = "计入（自然日）" if counted_rest else "跳过"
                lines.append(f"{verb}：{_span(a, b)} {name_zh}放假（{n}天）")
            else:
                verb = "Counted (calendar days)" if counted_rest else "Skipped"
                lines.append(f"{verb}: {_span(a, b)} {name_en} holiday ({n} day{'s' * (n > 1)})")
        for info in makeups:
            lines.append(
                f"计入：{_day(info.day, lang)}调休上班（{info.name_zh}）"
                if zh
                else f"Counted: {_day(info.day, lang)} as a make-up workday ({info.name_en})"
            )
        for a, b, name_zh, _en, n in _runs(local_rest):
            lines.append(
                f"跳过：{_span(a, b)} 地方休息日（{name_zh}，{n}天）"
                if zh
                else f"Skipped: {_span(a, b)} local rest day ({name_zh}, {n})"
            )
        for info in local_work:
            lines.append(
                f"计入：{_day(info.day, lang)}地方工作日（{info.name_zh}）"
                if zh
                else f"Counted: {_day(info.day, lang)} as a local workday ({info.name_zh})"
            )
        if weekends and unit == "working_days":
            lines.append(f"跳过周末：{weekends}天" if zh else f"Skipped weekend days: {weekends}")
        if rule.roll:
            unrolled = rule._period_end(due.first_day)
            rolled = cal.next_workday(unrolled)
            if rolled != unrolled:
                lines.append(
                    f"末日顺延：{_day(unrolled, lang)}为休息日，顺延至 {_day(rolled, lang)}"
                    "（民法典第203条）"
                    if zh
                    else f"Rolled: {_day(unrolled, lang)} is a rest day; the period ends on "
                    f"{_day(rolled, lang)} (Civil Code art. 203)"
                )
        if provisional:
            lines.append(
                f"暂定：{_span(provisional[0].day, provisional[-1].day)} 所在年度放假安排未公布，"
                "按周末推算"
                if zh
                else f"Provisional: {_span(provisional[0].day, provisional[-1].day)} lies in a "
                "year whose schedule is not published; weekends assumed"
            )
    moved_zh, moved_en = {
        "hours": ("小时", "hours"),
        "working_days": ("个工作日", "working days"),
    }.get(unit, ("天", "days"))
    for adj in due.adjustments:
        if adj.kind == "pause":
            p = adj.pause
            assert p is not None
            end = p.end.isoformat() if p.end is not None else ("至今" if zh else "still paused")
            if zh:
                lines.append(
                    f"暂停：{p.start.isoformat()} 至 {end}（{p.reason or '未注明原因'}），"
                    f"顺延{adj.amount}{moved_zh}，"
                    f"末日变为 {adj.last_day.isoformat()}"
                )
            else:
                lines.append(
                    f"Paused: {p.start.isoformat()} to {end} ({p.reason or 'no reason given'}); "
                    f"moved by {adj.amount} {moved_en}, "
                    f"last day now {adj.last_day.isoformat()}"
                )
        else:
            e = adj.extension
            assert e is not None
            what = (
                (f"至 {e.until.isoformat()}" if zh else f"until {e.until.isoformat()}")
                if e.until is not None
                else e.unit.label(e.amount, lang)
                if e.unit and e.amount
                else ""
            )
            lines.append(
                f"延期：{what}（{e.reason}），末日变为 {adj.last_day.isoformat()}"
                if zh
                else f"Extended: {what} ({e.reason}); last day now {adj.last_day.isoformat()}"
            )
    if unit == "working_days":
        lines.append(
            f"第{rule.amount}个工作日：{_day(due.last_day, lang)}"
            if zh
            else f"Working day {rule.amount}: {_day(due.last_day, lang)}"
        )
    elif unit != "hours":
        lines.append(
            f"期间末日：{_day(due.last_day, lang)}"
            if zh
            else f"Last day: {_day(due.last_day, lang)}"
        )
    closing = due.due_at.isoformat()
    if unit != "hours" and rule.closes_at is None:
        closing = f"{due.last_day.isoformat()} 24:00 (Asia/Shanghai)"
    lines.append(("截止：" if zh else "Due: ") + closing)
    if due.suspended:
        lines.append(
            "状态：计时暂停中，恢复后截止日将顺延"
            if zh
            else "Status: the clock is paused; the due date moves once it runs again"
        )
    if due.provisional:
        lines.append(
            "注意：结果为暂定（涉及未公布放假安排的年度）"
            if zh
            else "Note: provisional (reaches a year whose schedule is not published)"
        )
    lines.append(("日历：" if zh else "Calendar: ") + due.calendar_version)
    return "\n".join(lines)
