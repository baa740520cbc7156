"""Wording tables: every sentence that explanations, status reports and diagrams print.

A table maps message keys to ``str.format`` templates with named fields; the code passes
values and never chooses words.  Chinese and English are built in; another language, or a
local wording of one sentence, is a table given as data (:func:`register_wording`,
:meth:`Wording.override`).  A key a table leaves out is read from the table it falls back
on, English at the root, so a partial table works from its first line.

Three kinds of key:

* templates, e.g. ``explain.rule = "Rule: {rule}"``: the fields are those the built-in
  tables use for that key;
* counted templates, e.g. ``unit.hours``: a table may add ``unit.hours.one``, used when
  the count is one (English plurals);
* labels, ``label.state.<lifecycle>.<state>``, ``label.event.<lifecycle>.<event>``,
  ``label.deadline.<name>``, ``label.holiday.<English name>``, ``label.category.<code>``,
  ``label.rule.<rulebook key>``, ``label.overdue.<deadline>`` (an overdue line's words),
  ``label.alert.<ladder step>``:
  plain text naming a thing the definitions already name in Chinese and English.  A table
  without the label uses the definitions' own, in the language its ``labels`` key says
  (``zh`` or ``en``).
"""

from __future__ import annotations

import datetime as dt
import string
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeAlias

import attrs

from ._checks import shown
from .exceptions import UnknownLanguageError, WordingError

__all__ = ["Lang", "Wording", "register_wording", "wording"]

_ZH: dict[str, str] = {
    "labels": "zh",
    # -- days, units and lists ------------------------------------------------------------
    "weekday.1": "一",
    "weekday.2": "二",
    "weekday.3": "三",
    "weekday.4": "四",
    "weekday.5": "五",
    "weekday.6": "六",
    "weekday.7": "日",
    "day": "{date}（周{weekday}）",
    "span": "{first}..{last}",
    "end_of_day": "{day} 24:00（北京时间）",
    "names_sep": "、",
    "intake.outside_round": "不属本轮督察范围（{round}），转{area}处理",
    "unit.working_days": "{n}个工作日",
    "unit.calendar_days": "{n}日",
    "unit.months": "{n}个月",
    "unit.hours": "{n}小时",
    "moved.working_days": "{n}个工作日",
    "moved.days": "{n}天",
    "moved.hours": "{n}小时",
    # -- a rule in words ------------------------------------------------------------------
    "rule.start_day_counted": "含起算日",
    "rule.start_day_not_counted": "不含起算日",
    "rule.roll": "末日遇休息日顺延",
    "rule.no_roll": "末日遇休息日不顺延",
    "rule.options_sep": "，",
    "rule.with_options": "{rule}（{options}）",
    # -- a computed due date explained ----------------------------------------------------
    "explain.rule": "规则：{rule}",
    "explain.name": "名称：{name}",
    "explain.from_instant": "起算时刻：{anchor}",
    "explain.start_on_rest_day": "起算日：{start}，含当日，但当日为休息日，自{first_day}起算",
    "explain.start_counted": "起算日：{start}，当日计入",
    "explain.start_not_counted": "起算日：{start}，当日不计（民法典第201条），自次日起算",
    "explain.holiday_skipped": "跳过：{span} {name}放假（{n}天）",
    "explain.holiday_counted": "计入（自然日）：{span} {name}放假（{n}天）",
    "explain.makeup_workday": "计入：{day}调休上班（{name}）",
    "explain.local_rest_day": "跳过：{span} 地方休息日（{name}，{n}天）",
    "explain.local_workday": "计入：{day}地方工作日（{name}）",
    "explain.weekends_skipped": "跳过周末：{n}天",
    "explain.rolled": "末日顺延：{day}为休息日，顺延至 {next_day}（民法典第203条）",
    "explain.provisional_days": "暂定：{span} 所在年度放假安排未公布，按周末推算",
    "explain.pause": "暂停：{start} 至 {end}（{reason}），顺延{moved}，末日变为 {last_day}",
    "explain.pause_running": "至今",
    "explain.pause_no_reason": "未注明原因",
    "explain.extension": "延期：{extension}（{reason}），末日变为 {last_day}",
    "explain.extension_until": "至 {until}",
    "explain.working_day_n": "第{n}个工作日：{day}",
    "explain.last_day": "期间末日：{day}",
    "explain.due": "截止：{due}",
    "explain.suspended": "状态：计时暂停中，恢复后截止日将顺延",
    "explain.provisional": "注意：结果为暂定（涉及未公布放假安排的年度）",
    "explain.calendar": "日历：{version}",
    # -- a stored deadline explained ------------------------------------------------------
    # The deadline's key is an identifier of the code; a Chinese reader gets its label only.
    "deadline.head": "{label}",
    "deadline.fixed": "期限由方案确定（{anchor}）：{due}",
    "deadline.extended": "延期：{reason}",
    "deadline.status": "状态：{status}",
    "deadline.status_ended": "状态：{status} {ended_at}",
    "deadline.status.open": "未完成",
    "deadline.status.met": "已完成",
    "deadline.status.met_late": "逾期完成",
    "deadline.late_by": "{status}（逾期{n}天）",
    "deadline.status.cancelled": "已取消",
    "deadline.moved": (
        "注意：按现行规则和日历应为 {today}，已存期限 {stored} 未改动；如需更新请执行 recompute"
    ),
    # -- the status report ----------------------------------------------------------------
    "report.title": "台账情况（截至 {day} 24:00）",
    "report.calendar_ends": (
        "注意：工作日历只覆盖到 {last}（还有{days}天）；{year}年放假安排公布后，"
        "用 inspection-flow calendar add 台账 年度文件.toml 补充"
    ),
    "report.calendar_ended": (
        "注意：工作日历只覆盖到 {last}，其后的期限为暂定或无法计算；{year}年放假安排公布后，"
        "用 inspection-flow calendar add 台账 年度文件.toml 补充，再执行 recompute"
    ),
    "report.provisional": "（暂定）",
    "report.kind.round": "督察轮次",
    "report.kind.complaint": "信访件",
    "report.kind.task": "整改任务",
    "report.kind.document_request": "调阅资料",
    "report.counts": "{kind}: {total}（{states}）",
    "report.state_count": "{state} {n}",
    "report.states_sep": ", ",
    "report.by_area": "信访件按地区：",
    "report.area_count": "  {area} {n}",
    "report.by_category": "信访件按类别：{categories}",
    "report.category_count": "{category} {n}",
    "report.categories_sep": "，",
    "report.batches": "交办批次：{batches}批（第{first}–{last}批），共{cases}件",
    "report.rates": "办结率 {case_closing}；整改任务销号率 {task_closing}；序时进度 {on_schedule}",
    "report.late_hand_over": (
        "晚交办：第{number}批 {n}件应于 {day} 交办，{handed} 才交办（晚{days}天）"
    ),
    "report.publications": (
        "已公开一览表：{n}张（最近一张：第{batch}批，{day}）；待公开或待再次公开：{waiting}件"
    ),
    "report.dispatch": (
        "调度（{period}，评价日 {day}）：贴蓝签{blue}项、挂黄牌{yellow}项、亮红灯{red}项、"
        "已完成{done}项；专函督办：{letters}；约谈：{talks}"
    ),
    "report.none": "无",
    "report.ids_sep": "、",
    "report.on_time": (
        "按时办结率 {case_on_time}（逾期办结 {cases_met_late} 件，仍超期 {cases_overdue} 件）；"
        "按期完成率 {task_on_time}（逾期完成 {tasks_met_late} 项，仍超期 {tasks_overdue} 项）"
    ),
    "report.percent": "{percent:.1f}%",
    "report.no_rate": "—",
    "report.overdue": "超期事项：{n}",
    "report.item": "  {entity_id}  {area}  {state}  {when}  {title}",
    "report.overdue_by": "{overdue}{span}",
    "report.overdue_generic": "超期",
    "report.escalated": "{when}，已升级至{alert}",
    "report.due_on": "{day}到期（还有{n}个工作日）",
    "report.due_today": "{day}到期（今日）",
    "report.more": "  …另有{n}项",
    "report.explained": "【{entity_id}】\n{explanation}",
    "report.due_soon": "{days}个工作日内到期：{n}",
    "report.integrity_ok": "完整性校验：完好（{entities}个对象，{events}条事件）",
    "report.integrity_problems": (
        "完整性校验：发现{n}处问题（用 inspection-flow verify 查看全部）"
    ),
    "report.problem": "  {problem}",
    # -- diagrams -------------------------------------------------------------------------
    "diagram.activities": "不改变状态：{events}",
    "diagram.events_sep": "、",
    # -- names of the built-in rulebooks' rules, and what an overdue deadline means -------
    "label.rule.station_in": "进驻期",
    "label.rule.case_result": "办理结果反馈",
    "label.rule.case_publish": "办理结果公开",
    "label.rule.plan": "报送整改方案",
    "label.rule.progress_report": "报送整改进展",
    "label.rule.public_notice": "销号公示",
    "label.rule.document_request": "提供调阅资料",
    "label.rule.task_deadline": "整改时限",
    "label.rule.immediate_rectification": "立行立改时限",
    "label.rule.dispatch_report": "调度进展报送",
    "label.overdue.result_due": "逾期未反馈",
    "label.overdue.publish_due": "逾期未公开",
    "label.overdue.plan_due": "逾期未报送整改方案",
    "label.overdue.progress_report_due": "逾期未报送整改进展",
    "label.overdue.rectify_due": "逾期未完成整改",
    "label.overdue.immediate_due": "逾期未完成立行立改",
    "label.overdue.provide_due": "逾期未提供",
    "label.overdue.reports_due": "逾期未报送调度进展",
}

_EN: dict[str, str] = {
    "labels": "en",
    "weekday.1": "Mon",
    "weekday.2": "Tue",
    "weekday.3": "Wed",
    "weekday.4": "Thu",
    "weekday.5": "Fri",
    "weekday.6": "Sat",
    "weekday.7": "Sun",
    "day": "{date} ({weekday})",
    "span": "{first}..{last}",
    "end_of_day": "{day} 24:00 (Asia/Shanghai)",
    "names_sep": " and ",
    "intake.outside_round": "outside the round's areas ({round}); passed on to {area}",
    "unit.working_days": "{n} working days",
    "unit.working_days.one": "{n} working day",
    "unit.calendar_days": "{n} calendar days",
    "unit.calendar_days.one": "{n} calendar day",
    "unit.months": "{n} months",
    "unit.months.one": "{n} month",
    "unit.hours": "{n} hours",
    "unit.hours.one": "{n} hour",
    "moved.working_days": "{n} working days",
    "moved.days": "{n} days",
    "moved.hours": "{n} hours",
    "rule.start_day_counted": "start day counted",
    "rule.start_day_not_counted": "start day not counted",
    "rule.roll": "a rest last day rolls to the next working day",
    "rule.no_roll": "no roll",
    "rule.options_sep": "; ",
    "rule.with_options": "{rule} ({options})",
    "explain.rule": "Rule: {rule}",
    "explain.name": "Name: {name}",
    "explain.from_instant": "Counted from the instant {anchor}",
    "explain.start_on_rest_day": (
        "Start day: {start}, to be counted but a rest day; counting begins on {first_day}"
    ),
    "explain.start_counted": "Start day: {start}, counted",
    "explain.start_not_counted": (
        "Start day: {start}, not counted (Civil Code art. 201); counting begins the next day"
    ),
    "explain.holiday_skipped": "Skipped: {span} {name} holiday ({n} days)",
    "explain.holiday_skipped.one": "Skipped: {span} {name} holiday ({n} day)",
    "explain.holiday_counted": "Counted (calendar days): {span} {name} holiday ({n} days)",
    "explain.holiday_counted.one": "Counted (calendar days): {span} {name} holiday ({n} day)",
    "explain.makeup_workday": "Counted: {day} as a make-up workday ({name})",
    "explain.local_rest_day": "Skipped: {span} local rest day ({name}, {n})",
    "explain.local_workday": "Counted: {day} as a local workday ({name})",
    "explain.weekends_skipped": "Skipped weekend days: {n}",
    "explain.rolled": (
        "Rolled: {day} is a rest day; the period ends on {next_day} (Civil Code art. 203)"
    ),
    "explain.provisional_days": (
        "Provisional: {span} lies in a year whose schedule is not published; weekends assumed"
    ),
    "explain.pause": (
        "Paused: {start} to {end} ({reason}); moved by {moved}, last day now {last_day}"
    ),
    "explain.pause_running": "still paused",
    "explain.pause_no_reason": "no reason given",
    "explain.extension": "Extended: {extension} ({reason}); last day now {last_day}",
    "explain.extension_until": "until {until}",
    "explain.working_day_n": "Working day {n}: {day}",
    "explain.last_day": "Last day: {day}",
    "explain.due": "Due: {due}",
    "explain.suspended": "Status: the clock is paused; the due date moves once it runs again",
    "explain.provisional": "Note: provisional (reaches a year whose schedule is not published)",
    "explain.calendar": "Calendar: {version}",
    "deadline.head": "{label} ({name})",
    "deadline.fixed": "Deadline set in the plan ({anchor}): {due}",
    "deadline.extended": "Extended: {reason}",
    "deadline.status": "Status: {status}",
    "deadline.status_ended": "Status: {status} {ended_at}",
    "deadline.status.open": "open",
    "deadline.status.met": "met",
    "deadline.status.met_late": "met late",
    "deadline.late_by": "{status} ({n} days late)",
    "deadline.late_by.one": "{status} ({n} day late)",
    "deadline.status.cancelled": "cancelled",
    "deadline.moved": (
        "Note: today's rules and calendar give {today}; the stored {stored} is unchanged "
        "until recompute is run"
    ),
    "report.title": "Ledger status as of {day} 24:00",
    "report.calendar_ends": (
        "Note: the working-day calendar covers days up to {last} ({days} days left); once "
        "the {year} holiday notice is published, add it with "
        "inspection-flow calendar add LEDGER YEAR-FILE.toml"
    ),
    "report.calendar_ended": (
        "Note: the working-day calendar covers days up to {last}; deadlines after it are "
        "provisional or cannot be computed; once the {year} holiday notice is published, add "
        "it with inspection-flow calendar add LEDGER YEAR-FILE.toml, then recompute"
    ),
    "report.provisional": " (provisional)",
    "report.kind.round": "rounds",
    "report.kind.complaint": "complaint cases",
    "report.kind.task": "rectification tasks",
    "report.kind.document_request": "document requests",
    "report.counts": "{kind}: {total} ({states})",
    "report.state_count": "{state} {n}",
    "report.states_sep": ", ",
    "report.by_area": "Complaint cases by area:",
    "report.area_count": "  {area} {n}",
    "report.by_category": "Complaint cases by category: {categories}",
    "report.category_count": "{category} {n}",
    "report.categories_sep": ", ",
    "report.batches": "Hand-over batches: {batches} (no. {first}–{last}), {cases} cases",
    "report.rates": (
        "Case closing rate {case_closing}; task closing rate {task_closing}; "
        "on schedule {on_schedule}"
    ),
    "report.late_hand_over": (
        "Handed over late: batch {number}, {n} cases due {day}, handed over {handed} "
        "({days} days late)"
    ),
    "report.late_hand_over.one": (
        "Handed over late: batch {number}, {n} case due {day}, handed over {handed} "
        "({days} days late)"
    ),
    "report.publications": (
        "Lists published: {n} (latest: batch {batch}, {day}); awaiting publication or "
        "publication again: {waiting} cases"
    ),
    "report.dispatch": (
        "Dispatch {period} (judged {day}): blue {blue}, yellow {yellow}, red {red}, "
        "done {done}; supervision letters: {letters}; summons talks: {talks}"
    ),
    "report.none": "none",
    "report.ids_sep": ", ",
    "report.on_time": (
        "Cases concluded on time {case_on_time} ({cases_met_late} late, {cases_overdue} still "
        "overdue); tasks completed on time {task_on_time} ({tasks_met_late} late, "
        "{tasks_overdue} still overdue)"
    ),
    "report.percent": "{percent:.1f}%",
    "report.no_rate": "—",
    "report.overdue": "Overdue: {n}",
    "report.item": "  {entity_id}  {area}  {state}  {when}  {title}",
    "report.overdue_by": "{span} overdue",
    "report.overdue_generic": "overdue",
    "report.escalated": "{when}, escalated to {alert}",
    "report.due_on": "due {day} ({n} working days left)",
    "report.due_on.one": "due {day} (1 working day left)",
    "report.due_today": "due {day} (today)",
    "report.more": "  … and {n} more",
    "report.explained": "[{entity_id}] \n{explanation}",
    "report.due_soon": "Due within {days} working days: {n}",
    "report.integrity_ok": "Integrity: {summary}",
    "report.integrity_problems": (
        "Integrity: {n} problems found (inspection-flow verify lists them all)"
    ),
    "report.problem": "  {problem}",
    "diagram.activities": "without a change of state — {events}",
    "diagram.events_sep": ", ",
}

#: Keys whose texts name things rather than hold templates; any suffix may follow.
_LABEL_PREFIX = "label."
#: The definitions carry these labels; a table's ``labels`` key picks one.
_LABEL_LANGUAGES = ("zh", "en")
_FORMATTER = string.Formatter()


def _fields(lang: str, key: str, text: str) -> frozenset[str]:
    """The named fields a template uses; refuse text ``str.format`` cannot read."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        problem = f"is not a template ({exc}); write {{{{ for a brace"
        raise WordingError(lang, key, problem) from None
    names: set[str] = set()
    for _literal, name, _spec, _conversion in parsed:
        if name is None:
            continue
        if not name or not name.isidentifier():
            raise WordingError(
                lang, key, f"uses the field {{{name}}}; fields are named, e.g. {{n}}"
            )
        names.add(name)
    return frozenset(names)


def _known_fields() -> dict[str, frozenset[str]]:
    """The fields each key may use: those the code passes, i.e. the built-in tables'."""
    out: dict[str, frozenset[str]] = {}
    for lang, table in (("zh", _ZH), ("en", _EN)):
        for key, text in table.items():
            base = key.removesuffix(".one")
            out[base] = out.get(base, frozenset()) | _fields(lang, key, text)
            out[key] = out[base]
    return out


_KNOWN = _known_fields()


#: The longest language code taken (a BCP 47 tag rarely passes 35 characters).
_LONGEST_CODE = 35


def _check_code(lang: object) -> None:
    if (
        not isinstance(lang, str)
        or not lang
        or len(lang) > _LONGEST_CODE
        or not lang.isprintable()
        or lang != lang.strip()
    ):
        raise WordingError(
            _code(lang), "", "a language code is short printable text, e.g. 'ug' or 'zh-HK'"
        )


def _code(lang: object) -> str:
    """The language code as a message shows it: as given, or shortened if it is no code."""
    if isinstance(lang, str) and len(lang) <= _LONGEST_CODE and lang.isprintable():
        return lang
    return shown(lang)


def _checked(lang: str, texts: Mapping[str, str]) -> Mapping[str, str]:
    """Return ``texts`` as a read-only mapping, or refuse a key or template the code
    would not understand."""
    if not isinstance(texts, Mapping):
        raise WordingError(lang, "", f"must be a mapping of key to text, not {shown(texts)}")
    out: dict[str, str] = {}
    for key, text in texts.items():
        if not isinstance(key, str) or not isinstance(text, str):
            where = key if isinstance(key, str) else shown(key)
            raise WordingError(lang, where, "keys and texts must be text")
        if key.startswith(_LABEL_PREFIX):
            out[key] = text
            continue
        if key == "labels":
            if text not in _LABEL_LANGUAGES:
                raise WordingError(lang, key, f"must be one of {', '.join(_LABEL_LANGUAGES)}")
            out[key] = text
            continue
        allowed = _KNOWN.get(key)
        if allowed is None and key.endswith(".one"):
            allowed = _KNOWN.get(key.removesuffix(".one"))
        if allowed is None:
            raise WordingError(lang, key, "is not a message key; see wording('en').texts")
        unknown = _fields(lang, key, text) - allowed
        if unknown:
            names = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
            raise WordingError(
                lang,
                key,
                f"uses {', '.join(f'{{{n}}}' for n in sorted(unknown))}; "
                f"this message has the fields {names}",
            )
        out[key] = text
    return MappingProxyType(out)


@attrs.frozen
class Wording:
    """The wording of one language: message keys to templates, over a fallback table.

    ``Wording("ug", {...})`` is a table over English; :meth:`override` gives a local
    wording of some sentences; :func:`register_wording` lets ``lang="ug"`` name a table.
    ``dict(wording("en").texts)`` lists every key with its English template and fields.

    Attributes:
        lang: the language code, e.g. ``zh``, ``en``, ``ug``.
        texts: this table's own texts (read-only), without those of its fallback.
        fallback: the table read for a key this one lacks (default: English); ``None``
            only for English itself.

    Raises:
        WordingError: a key is not a message key, a template uses a field the message
            does not have, or the language code is empty.
    """

    lang: str
    texts: Mapping[str, str]
    fallback: Wording | None = attrs.field(factory=lambda: _ENGLISH)

    def __attrs_post_init__(self) -> None:
        _check_code(self.lang)
        if self.fallback is not None and not isinstance(self.fallback, Wording):
            raise WordingError(self.lang, "", "the fallback must be a Wording or None")
        # A private copy, so a caller's later change to its dict never changes the wording.
        object.__setattr__(self, "texts", _checked(self.lang, self.texts))

    def _find(self, key: str, one: bool = False) -> str:
        if key.__class__ is not str:
            raise WordingError(self.lang, shown(key), "a message key is text, e.g. 'explain.rule'")
        table: Wording | None = self
        while table is not None:
            if one:
                text = table.texts.get(f"{key}.one")
                if text is not None:
                    return text
            text = table.texts.get(key)
            if text is not None:
                return text
            table = table.fallback
        # The English table holds every key the code asks for; a miss is the library's bug.
        raise WordingError(self.lang, key, "is not a message key")

    def text(self, key: str, /, **fields: object) -> str:
        """Return the message ``key`` with ``fields`` filled in.

        Raises:
            WordingError: no table has the key, or the fields do not fill its template.
        """
        return self._fill(key, self._find(key), fields)

    def count(self, key: str, n: int, /, **fields: object) -> str:
        """Return the counted message ``key`` for ``n``, singular where the table has one.

        Raises:
            WordingError: no table has the key, or the fields do not fill its template.
        """
        one = isinstance(n, int) and abs(n) == 1
        return self._fill(key, self._find(key, one), {**fields, "n": n})

    def span(self, start: dt.datetime, end: dt.datetime, /) -> str:
        """Return the time from ``start`` to ``end`` in words, in its largest whole unit:
        whole days from one day on (``3天``, ``3 days``), else whole hours, else minutes.

        Offices count lateness in days (超期3天), never in weeks; the unit words and their
        plural forms are pendulum's locale data for this table's language, or for the
        nearest table it falls back to that pendulum has (English at last).

        Raises:
            WordingError: ``start`` or ``end`` is not an aware datetime.
        """
        for value in (start, end):
            if not isinstance(value, dt.datetime) or value.utcoffset() is None:
                raise WordingError(
                    self.lang, shown(value), "a span needs two datetimes with a time zone"
                )
        import pendulum  # pendulum is loaded only when a report words a span

        # A duration of elapsed time, not a calendar interval: 14 hours across midnight
        # are 14 hours, not a day.
        elapsed = pendulum.duration(seconds=abs((end - start).total_seconds()))
        for unit, amount in (
            ("day", elapsed.in_days()),
            ("hour", elapsed.in_hours()),
            ("minute", elapsed.in_minutes()),
        ):
            if amount or unit == "minute":
                return _unit_words(self, unit, amount)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fill(self, key: str, template: str, fields: Mapping[str, object]) -> str:
        try:
            return template.format(**fields)
        except (LookupError, ValueError, TypeError, AttributeError) as exc:
            given = ", ".join(sorted(fields)) or "none"
            raise WordingError(
                self.lang, key, f"cannot be filled from the fields given ({given}): {exc}"
            ) from exc

    def label(self, key: str, zh: str, en: str) -> str:
        """Return the label ``key`` if a table has it, else the definitions' own label
        in the table's label language (``zh`` or ``en``).

        Raises:
            WordingError: ``key`` is not text.
        """
        if key.__class__ is not str:
            raise WordingError(self.lang, shown(key), "a label key is text, e.g. 'label.state.x.y'")
        table: Wording | None = self
        while table is not None:
            text = table.texts.get(key)
            if text is not None:
                return text
            table = table.fallback
        return zh if self._find("labels") == "zh" else en

    def override(self, texts: Mapping[str, str]) -> Wording:
        """Return this wording with ``texts`` read first: a local wording of some sentences.

        Raises:
            WordingError: a key is not a message key, or a template uses a field the
                message does not have.
        """
        return Wording(self.lang, texts, self)


def _unit_words(table: Wording, unit: str, amount: int) -> str:
    """``amount`` of ``unit`` (day, hour, minute) in the words of pendulum's locale for
    ``table``'s language, or of the nearest fallback table pendulum has a locale for."""
    from pendulum.locales.locale import Locale

    lang: Wording | None = table
    while lang is not None:
        try:
            locale = Locale.load(lang.lang)
        except ValueError:  # pendulum has no locale of this language
            lang = lang.fallback
            continue
        template = locale.translation(f"units.{unit}.{locale.plural(amount)}")
        if isinstance(template, str):
            return template.format(amount)
        lang = lang.fallback
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


_ENGLISH: Wording = Wording("en", _EN, None)
_REGISTRY: dict[str, Wording] = {"en": _ENGLISH, "zh": Wording("zh", _ZH, _ENGLISH)}
_REGISTERING = threading.Lock()

#: A language: the code of a registered wording table (``"zh"``, ``"en"``, …) or a
#: :class:`Wording`.
Lang: TypeAlias = str | Wording


def wording(lang: Lang) -> Wording:
    """Return the wording of ``lang``: a registered language code, or a :class:`Wording`.

    Raises:
        UnknownLanguageError: no table is registered for the code.
    """
    if isinstance(lang, Wording):
        return lang
    table = _REGISTRY.get(lang) if isinstance(lang, str) else None
    if table is None:
        raise UnknownLanguageError(_code(lang), tuple(sorted(_REGISTRY)))
    return table


def register_wording(lang: str, texts: Mapping[str, str] | Wording) -> Wording:
    """Register the wording of a language, so ``lang=`` may name it; return it.

    A mapping for a new language is a table over English: the keys it leaves out are
    read in English.  A mapping for a registered language overrides those of its
    sentences, for every later explanation and report of the process; a :class:`Wording`
    replaces the registered one (e.g. to restore what :func:`wording` returned before).

    Args:
        lang: the language code, e.g. ``"ug"``.
        texts: message keys to templates, or a whole :class:`Wording`.

    Raises:
        WordingError: the code is empty, a key is not a message key, or a template uses a
            field the message does not have.
    """
    _check_code(lang)
    with _REGISTERING:
        if isinstance(texts, Wording):
            table = texts
        else:
            table = Wording(lang, texts, _REGISTRY.get(lang, _ENGLISH))
        _REGISTRY[lang] = table
    return table
