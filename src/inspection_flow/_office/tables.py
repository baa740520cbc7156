"""The tables of a ledger an office keeps (台账): their columns and their rows as of a day.

Pure Python: the rows are plain values (text, whole numbers, days, instants) that the
writers of :mod:`.export` put into cells and :mod:`.frames` into typed columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from .._builtin import FINDINGS_ZH
from .._ledger import CATEGORIES_ZH, Ledger
from .._records import DeadlineRecord, Snapshot, fired_escalations
from .._rules import SHANGHAI, Channel
from ..exceptions import DefinitionError, TableError

__all__ = ["KINDS", "Column", "Table", "build_table", "cutoff"]

CellType = Literal["text", "int", "date", "datetime"]
#: The languages a table is written in.
Lang = Literal["zh", "en"]


@attrs.frozen
class Column:
    """One column of a table: its field key, its headers and the type of its cells."""

    key: str
    zh: str
    en: str
    type: CellType = "text"
    width: int = 12

    def header(self, lang: Lang) -> str:
        """The header in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.zh if lang == "zh" else self.en


@attrs.frozen
class Table:
    """A table's title and columns, and its rows of values."""

    kind: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    lang: Lang

    @property
    def headers(self) -> list[str]:
        """The column headers in the table's language."""
        return [c.header(self.lang) for c in self.columns]


C = Column

#: 信访件台账: one row per complaint case.
COMPLAINT_COLUMNS = (
    C("number", "受理编号", "Acceptance number", width=20),
    C("batch", "交办批次", "Batch", "int", 9),
    C("handed_over", "交办日期", "Handed over", "date", 12),
    C("received_at", "受理时间", "Received at", "datetime", 17),
    C("channel", "来源", "Channel", width=9),
    C("area", "区县", "Area", width=12),
    C("category", "类别", "Category", width=12),
    C("summary", "内容摘要", "Summary", width=40),
    C("state", "办理状态", "Status", width=14),
    C("finding", "是否属实", "Finding", width=10),
    C("result", "办理结果", "Result", width=36),
    C("result_due", "办理时限", "Result due", "date", 12),
    C("overdue", "是否超期", "Overdue", width=9),
    C("published", "公开情况", "Published", width=24),
)

#: 整改台账: one row per rectification task.
TASK_COLUMNS = (
    C("problem_no", "序号", "No.", "int", 6),
    C("problem", "问题", "Problem", width=40),
    C("owner", "责任单位", "Responsible unit", width=18),
    C("measures", "措施", "Measures", width=36),
    C("deadline", "时限", "Deadline", "date", 12),
    C("state", "进展", "Progress", width=12),
    C("schedule", "序时进度", "On schedule", width=12),
    C("accepted", "验收", "Accepted", width=8),
    C("notice", "公示", "Public notice", width=8),
    C("closed", "销号", "Closed", width=8),
)

#: Overdue list (超期清单): one row per overdue deadline.
OVERDUE_COLUMNS = (
    C("id", "编号", "Id", width=20),
    C("kind", "类型", "Kind", width=10),
    C("area", "区县", "Area", width=12),
    C("subject", "事项", "Subject", width=40),
    C("deadline", "期限", "Deadline", width=16),
    C("last_day", "应完成日期", "Last day", "date", 12),
    C("days_late", "超期天数", "Days late", "int", 9),
    C("state", "办理状态", "Status", width=14),
)

#: Escalation list (预警升级清单): one row per deadline escalated up its ladder.
ESCALATION_COLUMNS = (
    *OVERDUE_COLUMNS[:6],
    C("step", "升级措施", "Escalated to", width=14),
    C("state", "办理状态", "Status", width=14),
)

#: 信访件办理情况一览表: the per-batch list published for the public.  Personal data is
#: never read into it: no complainant, phone or address field exists in its rows.
DISCLOSURE_COLUMNS = (
    C("seq", "序号", "No.", "int", 6),
    C("number", "受理编号", "Acceptance number", width=20),
    C("summary", "交办问题基本情况", "Complaint handed over", width=40),
    C("area", "行政区域", "Area", width=12),
    C("category", "污染类型", "Pollution type", width=12),
    C("investigation", "调查核实情况", "Investigation", width=36),
    C("finding", "是否属实", "Substantiated", width=10),
    C("handling", "处理和整改情况", "Handling and rectification", width=36),
    C("accountability", "责任人被处理情况", "Persons held to account", width=20),
)

_TITLES = {
    "complaints": ("信访件台账", "Complaint cases"),
    "tasks": ("整改台账", "Rectification tasks"),
    "overdue": ("超期清单", "Overdue"),
    "escalations": ("预警升级清单", "Escalations"),
    "disclosure": ("信访件办理情况一览表", "Disclosure list"),
}

#: The kinds of table, in the order a workbook of them holds its sheets.
KINDS = tuple(_TITLES)

_KIND_LABELS = {
    "complaint": ("信访件", "complaint"),
    "task": ("整改任务", "task"),
    "round": ("督察轮次", "round"),
    "document_request": ("调阅资料", "document request"),
    "accountability": ("责任追究", "accountability"),
}

_YES = {"zh": ("是", "否"), "en": ("yes", "no")}

_PROGRESS = {
    "done": ("已完成", "done"),
    "on_schedule": ("达到序时进度", "on schedule"),
    "behind": ("未达序时进度", "behind"),
}

#: Task states from which acceptance (验收), the public notice (公示) and closing (销号)
#: are reached.
_ACCEPTED = frozenset({"signed_off", "public_notice", "closed", "filed"})
_NOTICE = frozenset({"public_notice", "closed", "filed"})
_CLOSED = frozenset({"closed", "filed"})

#: Counted outcomes of 边督边改 that say who was held to account, with their units.
_ACCOUNTABILITY = (
    ("persons_held_accountable", "问责{n}人", "{n} held accountable"),
    ("summons_talks", "约谈{n}人", "{n} summoned"),
    ("detentions", "拘留{n}人", "{n} detained"),
)

_DISPOSITIONS = {
    "order_to_rectify": "责令整改",
    "fine": "罚款",
    "case_filed": "立案查处",
    "detention": "拘留",
    "summons_talk": "约谈",
    "accountability": "问责",
}


def cutoff(as_of: dt.date) -> dt.datetime:
    """The end of ``as_of`` (24:00 Asia/Shanghai): the instant a table is drawn at."""
    return dt.datetime.combine(as_of, dt.time.max, SHANGHAI)


def _title(kind: str, lang: Lang) -> str:
    zh, en = _TITLES[kind]
    return zh if lang == "zh" else en


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "zh" else pair[1]


class _Labels:
    """Display labels of one table in one language, each worked out once."""

    def __init__(self, ledger: Ledger, lang: Lang) -> None:
        self.ledger = ledger
        self.lang = lang
        self._states: dict[tuple[str, str], str] = {}

    def state(self, snap: Snapshot) -> str:
        key = (snap.lifecycle, snap.state)
        label = self._states.get(key)
        if label is None:
            label = snap.state  # a state no definition labels reads as its name
            try:
                state = self.ledger.lifecycle_of(snap).state(snap.state)
                label = state.label_zh if self.lang == "zh" else state.label_en
            except (DefinitionError, LookupError):
                pass
            self._states[key] = label
        return label

    def area(self, code: str) -> str:
        return self.ledger.areas.name(code)

    def category(self, snap: Snapshot) -> str:
        named = snap.data.get("categories")
        cats = list(named) if isinstance(named, list) and named else [snap.category]
        if self.lang == "zh":
            return "、".join(CATEGORIES_ZH.get(c, c) for c in cats if c is not None)
        return ", ".join(c.replace("_", " ") for c in cats if c is not None)

    def finding(self, snap: Snapshot) -> str:
        finding = snap.data.get("finding")
        if not finding:
            return ""
        if self.lang == "zh":
            return str(FINDINGS_ZH.get(finding, finding))
        return str(finding).replace("_", " ")

    def channel(self, value: Any) -> str:
        if not value:
            return ""
        try:
            channel = Channel(value)
        except ValueError:
            return str(value)
        return channel.label_zh if self.lang == "zh" else channel.value

    def yes(self, flag: bool) -> str:
        return _YES[self.lang][0 if flag else 1]

    def kind(self, kind: str) -> str:
        return _pick(_KIND_LABELS.get(kind, (kind, kind)), self.lang)


def _number(snap: Snapshot) -> str:
    """The case's acceptance number (受理编号), or its id where it has none."""
    return str(snap.data.get("acceptance_number") or snap.entity_id)


def _day(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value)).astimezone(SHANGHAI)


def _is_overdue(record: DeadlineRecord, now: dt.datetime) -> bool:
    return (
        record.status == "open"
        and record.kind == "due"
        and not record.suspended
        and now >= record.due_at
    )


def _complaint_rows(ledger: Ledger, now: dt.datetime, w: _Labels) -> list[tuple[Any, ...]]:
    rows = []
    for snap in _ordered(ledger.find(kind="complaint")):
        data = snap.data
        due = snap.deadlines.get("result_due")
        rows.append(
            (
                _number(snap),
                snap.batch,
                _day(data.get("handed_over_day")),
                _instant(data.get("received_at")),
                w.channel(data.get("channel")),
                w.area(snap.area),
                w.category(snap),
                str(data.get("summary", "")),
                w.state(snap),
                w.finding(snap),
                str(data.get("result_summary", "")),
                due.last_day if due is not None else None,
                w.yes(any(_is_overdue(r, now) for r in snap.deadlines.values())),
                str(data.get("where", "")) if snap.state in _PUBLISHED else "",
            )
        )
    return rows


#: Complaint states in which the result has been published.
_PUBLISHED = frozenset({"published", "interim_closed", "closed", "under_acceptance", "accepted"})


def _task_rows(ledger: Ledger, as_of: dt.date, w: _Labels) -> list[tuple[Any, ...]]:
    rows = []
    tasks = ledger.find(kind="task")
    tasks.sort(key=lambda s: (int(s.data.get("problem_no") or 0), s.entity_id))
    for snap in tasks:
        data = snap.data
        units = data.get("responsible_units")
        owner = (
            data.get("lead_unit")
            or ("、".join(units) if isinstance(units, list) and units else None)
            or (w.area(data["owner"]) if data.get("owner") else w.area(snap.area))
        )
        schedule = ""
        if data.get("deadline"):
            schedule = _pick(_PROGRESS[ledger.progress(snap.entity_id, on=as_of)], w.lang)
        rows.append(
            (
                data.get("problem_no"),
                str(data.get("title") or data.get("problem") or ""),
                str(owner),
                str(data.get("measures", "")),
                _day(data.get("deadline")),
                w.state(snap),
                schedule,
                w.yes(snap.state in _ACCEPTED),
                w.yes(snap.state in _NOTICE),
                w.yes(snap.state in _CLOSED),
            )
        )
    return rows


def _subject(snap: Snapshot) -> str:
    data = snap.data
    return str(data.get("summary") or data.get("title") or data.get("problem") or "")


def _deadline_label(ledger: Ledger, snap: Snapshot, name: str, lang: Lang) -> str:
    for view in ledger.deadlines(snap.entity_id):
        if view.name == name:
            return view.label_zh if lang == "zh" else view.label_en
    return name


def _overdue_rows(ledger: Ledger, now: dt.datetime, w: _Labels) -> list[tuple[Any, ...]]:
    rows = []
    for snap in ledger.overdue(now):
        for name, record in snap.deadlines.items():
            if _is_overdue(record, now):
                rows.append(
                    (
                        snap.entity_id,
                        w.kind(snap.kind),
                        w.area(snap.area),
                        _subject(snap),
                        _deadline_label(ledger, snap, name, w.lang),
                        record.last_day,
                        (now.date() - record.last_day).days,
                        w.state(snap),
                    )
                )
    return rows


def _escalation_rows(ledger: Ledger, now: dt.datetime, w: _Labels) -> list[tuple[Any, ...]]:
    rows = []
    for snap in _ordered(ledger.find()):
        for name, record in snap.deadlines.items():
            steps = fired_escalations(record, now)
            if not steps:
                continue
            _, step, label = steps[-1]
            rows.append(
                (
                    snap.entity_id,
                    w.kind(snap.kind),
                    w.area(snap.area),
                    _subject(snap),
                    _deadline_label(ledger, snap, name, w.lang),
                    record.last_day,
                    label if w.lang == "zh" and label else step.replace("_", " "),
                    w.state(snap),
                )
            )
    return rows


def _handling(data: Mapping[str, Any], lang: Lang) -> str:
    parts = [str(data["result_summary"])] if data.get("result_summary") else []
    dispositions = data.get("dispositions")
    if isinstance(dispositions, list) and dispositions:
        if lang == "zh":
            parts.append("、".join(str(_DISPOSITIONS.get(d, d)) for d in dispositions))
        else:
            parts.append(", ".join(str(d).replace("_", " ") for d in dispositions))
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


def _accountability(data: Mapping[str, Any], lang: Lang) -> str:
    parts = [
        (zh if lang == "zh" else en).format(n=int(data[key]))
        for key, zh, en in _ACCOUNTABILITY
        if data.get(key)
    ]
    if not parts:
        return "无" if lang == "zh" else "none"
    return "，".join(parts) if lang == "zh" else ", ".join(parts)


def _disclosure_rows(ledger: Ledger, batch: int | None, w: _Labels) -> list[tuple[Any, ...]]:
    cases = [
        s
        for s in _ordered(ledger.find(kind="complaint"))
        if s.batch is not None and (batch is None or s.batch == batch)
    ]
    cases.sort(key=lambda s: (s.batch or 0, _number(s)))
    rows = []
    for seq, snap in enumerate(cases, start=1):
        data = snap.data
        rows.append(
            (
                seq,
                _number(snap),
                str(data.get("summary", "")),
                w.area(snap.area),
                w.category(snap),
                str(data.get("note", "")),
                w.finding(snap),
                _handling(data, w.lang),
                _accountability(data, w.lang),
            )
        )
    return rows


def _ordered(snaps: Iterable[Snapshot]) -> list[Snapshot]:
    """Entities in the order a clerk reads them: by receipt, then by id."""
    return sorted(snaps, key=lambda s: (s.created_at, s.entity_id))


_COLUMNS = {
    "complaints": COMPLAINT_COLUMNS,
    "tasks": TASK_COLUMNS,
    "overdue": OVERDUE_COLUMNS,
    "escalations": ESCALATION_COLUMNS,
    "disclosure": DISCLOSURE_COLUMNS,
}


def columns_of(kind: str) -> tuple[Column, ...]:
    """The columns of a kind of table.

    Raises:
        TableError: ``kind`` is not one of :data:`KINDS`.
    """
    try:
        return _COLUMNS[kind]
    except KeyError:
        raise TableError(
            "-", f"unknown table kind {kind!r}; use one of {', '.join(KINDS)}"
        ) from None


def build_table(
    ledger: Ledger,
    kind: str,
    *,
    as_of: dt.date,
    lang: Lang = "zh",
    batch: int | None = None,
) -> Table:
    """Build the table ``kind`` of ``ledger`` as it stood at the end of ``as_of``.

    ``ledger`` is read as it is: pass ``ledger.as_of(day)`` to read a past day.

    Raises:
        TableError: unknown kind or language.
    """
    columns = columns_of(kind)
    if lang not in _YES:
        raise TableError("-", f"unknown language {lang!r}; tables are written in zh or en")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise TableError("-", f"as_of must be a day (datetime.date), not {as_of!r}")
    # Each round's rulebook registers its areas when first loaded: load them before any
    # area is named.
    for rnd in ledger.find(kind="round"):
        ledger.rulebook_of(rnd)
    w = _Labels(ledger, lang)
    now = cutoff(as_of)
    build: Callable[[], list[tuple[Any, ...]]] = {
        "complaints": lambda: _complaint_rows(ledger, now, w),
        "tasks": lambda: _task_rows(ledger, as_of, w),
        "overdue": lambda: _overdue_rows(ledger, now, w),
        "escalations": lambda: _escalation_rows(ledger, now, w),
        "disclosure": lambda: _disclosure_rows(ledger, batch, w),
    }[kind]
    title = _title(kind, lang)
    if kind == "disclosure" and batch is not None:
        title = f"第{batch}批{title}" if lang == "zh" else f"{title}, batch {batch}"
    return Table(kind, title, columns, tuple(build()), lang)
