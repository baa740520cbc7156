"""Status reports of a ledger (台账情况), as text for a terminal or a briefing."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ._builtin import LIFECYCLES
from ._ledger import CATEGORIES_ZH, Ledger
from ._records import Snapshot
from ._rules import SHANGHAI, as_instant
from .exceptions import DefinitionError

__all__ = ["status_report"]

Lang = Literal["zh", "en"]

_KIND_LABELS = {
    "round": ("督察轮次", "rounds"),
    "complaint": ("信访件", "complaint cases"),
    "task": ("整改任务", "rectification tasks"),
    "document_request": ("调阅资料", "document requests"),
}


def _state_label(ledger: Ledger, kind: str, state: str, lang: Lang) -> str:
    lc = LIFECYCLES.get(kind)
    if lc is None:
        return state
    try:
        s = lc.state(state)
    except DefinitionError:
        return state
    return s.label_zh if lang == "zh" else s.label_en


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _line(item: Snapshot, ledger: Ledger, now: dt.datetime, lang: Lang) -> str:
    due = item.next_due_at
    title = str(
        item.data.get("summary")
        or item.data.get("title")
        or item.data.get("documents")
        or item.data.get("name", "")
    )
    area = ledger.areas.name(item.area)
    state = _state_label(ledger, item.kind, item.state, lang)
    if due is None:
        when = ""
    elif due <= now:
        days = (now - due).days
        when = f"超期{days}天" if lang == "zh" else f"{days} days overdue"
    else:
        last = (due - dt.timedelta(microseconds=1)).date()
        when = f"{last.isoformat()}到期" if lang == "zh" else f"due {last.isoformat()}"
    return f"  {item.entity_id}  {area}  {state}  {when}  {title[:40]}"


def status_report(
    ledger: Ledger,
    as_of: dt.datetime | dt.date,
    *,
    round_id: str | None = None,
    lang: Lang = "zh",
    explain: int = 2,
    listed: int = 8,
) -> str:
    """Return the ledger's status as of an instant or a day (its end), as text.

    Counts by kind and state, by area, by batch and category; overdue and due-soon items;
    closing and on-schedule rates; the integrity check.  ``explain`` overdue items come
    with the explanation of their deadline.
    """
    if isinstance(as_of, dt.datetime):
        now = as_instant(as_of, "as_of")
    else:
        nxt = as_of + dt.timedelta(days=1)
        now = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=SHANGHAI)
    zh = lang == "zh"
    for rnd in ledger.find(kind="round"):
        ledger.rulebook_of(rnd)  # registers the round's areas, for their names
    out: list[str] = []
    day = (now - dt.timedelta(microseconds=1)).date()
    out.append(
        f"台账情况（截至 {day.isoformat()} 24:00）"
        if zh
        else f"Ledger status as of {day.isoformat()} 24:00"
    )
    for kind, (label_zh, label_en) in _KIND_LABELS.items():
        counts = ledger.counts("state", kind=kind, round_id=None if kind == "round" else round_id)
        if not counts:
            continue
        total = sum(counts.values())
        parts = ", ".join(
            f"{_state_label(ledger, kind, str(s), lang)} {n}"
            for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        )
        out.append(
            f"{label_zh if zh else label_en}: {total}（{parts}）"
            if zh
            else f"{label_en}: {total} ({parts})"
        )
    by_area = ledger.counts("area", kind="complaint", round_id=round_id)
    if by_area:
        out.append("信访件按地区：" if zh else "Complaint cases by area:")
        for area, n in sorted(by_area.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            out.append(f"  {ledger.areas.name(str(area))} {n}")
    by_cat = ledger.counts("category", kind="complaint", round_id=round_id)
    if by_cat:
        cats = ("，" if zh else ", ").join(
            f"{CATEGORIES_ZH.get(str(c), str(c)) if zh else c} {n}"
            for c, n in sorted(by_cat.items(), key=lambda kv: (-kv[1], str(kv[0])))
        )
        out.append(("信访件按类别：" if zh else "Complaint cases by category: ") + cats)
    by_batch = ledger.counts("batch", kind="complaint", round_id=round_id)
    batches = sorted(b for b in by_batch if isinstance(b, int))
    if batches:
        out.append(
            f"交办批次：{len(batches)}批（第{batches[0]}–{batches[-1]}批），"
            f"共{sum(by_batch[b] for b in batches)}件"
            if zh
            else f"Hand-over batches: {len(batches)} (no. {batches[0]}–{batches[-1]}), "
            f"{sum(by_batch[b] for b in batches)} cases"
        )
    rates = ledger.rates(now, round_id=round_id)
    out.append(
        f"办结率 {_pct(rates['case_closing_rate'])}；"
        f"整改任务销号率 {_pct(rates['task_closing_rate'])}；"
        f"序时进度 {_pct(rates['on_schedule_rate'])}"
        if zh
        else f"Case closing rate {_pct(rates['case_closing_rate'])}; task closing rate "
        f"{_pct(rates['task_closing_rate'])}; on schedule {_pct(rates['on_schedule_rate'])}"
    )
    overdue = [
        s
        for s in ledger.overdue(now)
        if round_id is None or s.round_id in (round_id, None) or s.entity_id == round_id
    ]
    out.append(f"超期事项：{len(overdue)}" if zh else f"Overdue: {len(overdue)}")
    for item in overdue[:listed]:
        out.append(_line(item, ledger, now, lang))
    if len(overdue) > listed:
        out.append(
            f"  …另有{len(overdue) - listed}项" if zh else f"  … and {len(overdue) - listed} more"
        )
    for item in overdue[:explain]:
        views = [v for v in ledger.deadlines(item.entity_id) if v.is_overdue(now)]
        for view in views[:1]:
            out.append("")
            out.append(
                (f"【{item.entity_id}】" if zh else f"[{item.entity_id}] ")
                + "\n"
                + view.explain(lang)
            )
    soon = ledger.due_within(10, now)
    out.append("")
    out.append(
        f"10个工作日内到期：{len(soon)}" if zh else f"Due within 10 working days: {len(soon)}"
    )
    for item in soon[:listed]:
        out.append(_line(item, ledger, now, lang))
    report = ledger.verify()
    out.append("")
    if report.ok:
        out.append(
            f"完整性校验：完好（{report.entities}个对象，{report.events}条事件）"
            if zh
            else f"Integrity: {report}"
        )
    else:
        out.append(
            f"完整性校验：发现{len(report.problems)}处问题（用 inspection-flow verify 查看全部）"
            if zh
            else f"Integrity: {len(report.problems)} problems found "
            "(inspection-flow verify lists them all)"
        )
        out.extend(f"  {p}" for p in report.problems[:5])
    return "\n".join(out)
