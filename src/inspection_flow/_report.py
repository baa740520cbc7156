"""Status reports of a ledger (台账情况), as text for a terminal or a briefing.

The words come from the tables of :mod:`._wording`; the states are labelled as the
lifecycle each entity follows under its round's rulebook labels them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ._definitions import Lifecycle
from ._ledger import CATEGORIES_ZH, Ledger
from ._records import Snapshot, fired_escalations
from ._rulebook import Rulebook
from ._rules import SHANGHAI, as_instant
from ._wording import Lang, Wording, wording
from .exceptions import DefinitionError, EntityNotFoundError

__all__ = ["status_report"]

#: The built-in kinds, in the order the report lists them; other kinds follow by name.
_KINDS = ("round", "complaint", "task", "document_request")
#: The working days ahead the report looks for deadlines coming due.
_DUE_SOON_DAYS = 10
#: The days before the calendar's last covered day from which the report warns of it.
_COVERAGE_WARNING_DAYS = 60


def _state_label(lifecycle: Lifecycle | None, state: str, w: Wording) -> str:
    if lifecycle is None:
        return state
    try:
        s = lifecycle.state(state)
    except DefinitionError:
        return state
    return w.label(f"label.state.{lifecycle.name}.{state}", s.label_zh, s.label_en)


def _of_kind(rulebook: Rulebook, kind: str) -> list[Lifecycle]:
    """The rulebook's lifecycles that make entities of ``kind``, the one named after it
    first: several lifecycles may share a kind, and their states are counted together."""
    found = [lc for lc in rulebook.lifecycles.values() if lc.kind == kind]
    return sorted(found, key=lambda lc: (lc.name != kind, lc.name))


def _kind_label(kind: str, lifecycles: list[Lifecycle], w: Wording) -> str:
    if kind in _KINDS:
        return w.text(f"report.kind.{kind}")
    if not lifecycles:
        return kind
    lc = lifecycles[0]
    return w.label(f"label.lifecycle.{lc.name}", lc.label_zh, lc.label_en) or kind


def _counted_state_label(lifecycles: list[Lifecycle], state: str, w: Wording) -> str:
    for lc in lifecycles:
        if state in {s.name for s in lc.states}:
            return _state_label(lc, state, w)
    return state


def _pct(value: float | None, w: Wording) -> str:
    if value is None:
        return w.text("report.no_rate")
    return w.text("report.percent", percent=value * 100)


def _overdue(item: Snapshot, ledger: Ledger, now: dt.datetime, w: Wording) -> str:
    """How long ``item`` is overdue, in the words of its overdue deadline, and the furthest
    escalation recorded on that deadline by ``now``."""
    due = item.next_due_at
    assert due is not None
    views = [v for v in ledger.deadlines(item.entity_id) if v.is_overdue(now)]
    view = next((v for v in views if v.due_at == due), views[0] if views else None)
    generic = w.text("report.overdue_generic")
    overdue = generic if view is None else w.label(f"label.overdue.{view.name}", generic, generic)
    when = w.text("report.overdue_by", overdue=overdue, span=w.span(due, now))
    if view is None:
        return when
    # The alert of the due time is lateness itself, not a step up a ladder: an overdue
    # line never reads as escalated by it.
    escalations = fired_escalations(view.record, now)
    if not escalations:
        return when
    _, name, label_zh = escalations[-1]
    # Ladders label their steps in Chinese only; another language reads the step's name.
    alert = w.label(f"label.alert.{name}", label_zh, name.replace("_", " "))
    return w.text("report.escalated", when=when, alert=alert)


def _line(item: Snapshot, ledger: Ledger, now: dt.datetime, w: Wording) -> str:
    due = item.next_due_at
    title = str(
        item.data.get("summary")
        or item.data.get("title")
        or item.data.get("documents")
        or item.data.get("name", "")
    )
    if due is None:
        when = ""
    elif due <= now:
        when = _overdue(item, ledger, now, w)
    else:
        last = (due - dt.timedelta(microseconds=1)).date()
        # The day in progress at ``now`` (a report as of a day's 24:00 is in that day);
        # the working days left are the whole ones after it, up to the last day.
        today = (now.astimezone(due.tzinfo) - dt.timedelta(microseconds=1)).date()
        if last == today:
            when = w.text("report.due_today", day=last.isoformat())
        else:
            left = ledger.calendar.workdays_between(today, last)
            when = w.count("report.due_on", left, day=last.isoformat())
    if due is not None and any(
        r.provisional and r.status == "open" and r.due_at == due for r in item.deadlines.values()
    ):
        when += w.text("report.provisional")
    return w.text(
        "report.item",
        entity_id=item.entity_id,
        area=ledger.areas.name(item.area),
        state=_state_label(ledger.lifecycle_of(item), item.state, w),
        when=when,
        title=title[:40],
    )


def _coverage_line(ledger: Ledger, day: dt.date, w: Wording) -> str | None:
    """Warn when ``day`` is near or past the last day the ledger's calendar covers."""
    last = dt.date(ledger.calendar.years.stop - 1, 12, 31)
    left = (last - day).days
    if left > _COVERAGE_WARNING_DAYS:
        return None
    key = "report.calendar_ends" if left >= 0 else "report.calendar_ended"
    return w.text(key, last=last.isoformat(), days=left, year=last.year + 1)


def _late_hand_overs(ledger: Ledger, round_id: str | None, w: Wording) -> list[str]:
    """Lines naming the batches handed over after the batch day of some of their cases."""
    late: dict[tuple[int, str, str], int] = {}
    counted = ledger.count_values(
        ["batch", "data.batch_day", "data.handed_over_day"], kind="complaint", round_id=round_id
    )
    for (batch, due, handed), n in counted.items():
        if (
            isinstance(batch, int)
            and isinstance(handed, str)
            and isinstance(due, str)
            and due < handed
        ):
            key = (batch, due, handed)
            late[key] = late.get(key, 0) + n
    lines = []
    for (number, due, handed), n in sorted(late.items()):
        days = (dt.date.fromisoformat(handed) - dt.date.fromisoformat(due)).days
        lines.append(
            w.count("report.late_hand_over", n, number=number, day=due, handed=handed, days=days)
        )
    return lines


def _in_round(item: Snapshot, round_id: str | None) -> bool:
    return round_id is None or item.round_id in (round_id, None) or item.entity_id == round_id


def _count_due(
    ledger: Ledger, start: dt.datetime | None, end: dt.datetime, round_id: str | None
) -> int:
    """How many open entities of the report's rounds fall due in ``(start, end]``."""
    # Of every round, counted by a value the store knows without reading the rows.
    counted = ledger.count_values(["round_id" if round_id else "terminal"], due=(start, end))
    return sum(n for (rid,), n in counted.items() if round_id is None or rid in (round_id, None))


def _first(
    fetch: Callable[[int], list[Snapshot]], round_id: str | None, wanted: int
) -> list[Snapshot]:
    """The first ``wanted`` items of the report's rounds, reading no more rows than needed
    (more each time the rounds left out filled the rows read)."""
    limit = max(wanted, 1)
    while True:
        rows = fetch(limit)
        kept = [s for s in rows if _in_round(s, round_id)]
        if len(kept) >= wanted or len(rows) < limit:
            return kept[:wanted]
        limit *= 4


def _publications_and_dispatches(ledger: Ledger, round_id: str | None, w: Wording) -> list[str]:
    """Per round: the lists published and the cases awaiting one; the latest dispatch's
    lights and what escalates, as a briefing states them."""
    lines: list[str] = []
    rounds = [round_id] if round_id else sorted(r.entity_id for r in ledger.find(kind="round"))
    none, sep = w.text("report.none"), w.text("report.ids_sep")
    for rid in rounds:
        published = ledger.publications(rid)
        if published:
            latest = published[-1]
            lines.append(
                w.count(
                    "report.publications",
                    len(published),
                    batch=latest.batch,
                    day=latest.published_on.isoformat(),
                    waiting=len(ledger.awaiting_publication(rid)),
                )
            )
        dispatched = ledger.dispatches(rid)
        if dispatched:
            last = dispatched[-1]
            counts = last.counts
            lines.append(
                w.text(
                    "report.dispatch",
                    period=last.period,
                    day=last.on.isoformat(),
                    blue=counts["blue"],
                    yellow=counts["yellow"],
                    red=counts["red"],
                    done=counts["done"],
                    letters=sep.join(last.supervision_letters) or none,
                    talks=sep.join(last.summons_talks) or none,
                )
            )
    return lines


def _counts_rulebook(ledger: Ledger, round_id: str | None) -> Rulebook:
    """The rulebook whose lifecycles label the counts: the round's, the one rulebook
    every round follows, or else the ledger's default.

    Reading each round's rulebook also registers its areas, for their names.

    Raises:
        EntityNotFoundError: the ledger holds no round ``round_id``.
    """
    of_round = {rnd.entity_id: ledger.rulebook_of(rnd) for rnd in ledger.find(kind="round")}
    if round_id in of_round:
        return of_round[round_id]
    if round_id is not None:
        # Counting a round that is not there would print zeros a reader takes for facts.
        raise EntityNotFoundError(round_id, "round", sorted(of_round))
    used = {rb.name: rb for rb in of_round.values()}
    return next(iter(used.values())) if len(used) == 1 else ledger.rulebook


def status_report(
    ledger: Ledger,
    as_of: dt.datetime | dt.date,
    *,
    round_id: str | None = None,
    lang: Lang = "zh",
    explain: int = 2,
    listed: int = 8,
    verify: bool = False,
) -> str:
    """Return the ledger's status as of an instant or a day (its end), as text.

    Counts by kind and state, by area, by batch and category; the lists published and the
    latest dispatch's lights; overdue and due-soon items; closing and on-schedule rates;
    and, if asked, the integrity check.  Everything but the integrity check is counted
    from the events that happened by then (:meth:`Ledger.as_of`).
    ``explain`` overdue items come with the explanation of their deadline.  States carry
    the labels of the lifecycle each entity follows under its round's rulebook.

    Args:
        ledger: the ledger to report on.
        as_of: an aware instant, or a day (meaning its end, 24:00 Asia/Shanghai).
        round_id: report on this round only (default: every round).
        lang: a registered language code (``"zh"``, ``"en"``, or one added with
            :func:`register_wording`) or a :class:`Wording`.
        explain: how many overdue items to explain.
        listed: how many overdue and due-soon items to list.
        verify: also audit the whole ledger (:meth:`Ledger.verify`), which reads every
            event; without it the report reads only counts and the items it lists.

    Raises:
        UnknownLanguageError: no wording table is registered for ``lang``.
        EntityNotFoundError: ``round_id`` names no round of the ledger.
    """
    # Long by design: the report's sections, in the order printed; each section is a few lines of
    # the same shape.
    w = wording(lang)
    if isinstance(as_of, dt.datetime):
        now = as_instant(as_of, "as_of")
    else:
        nxt = as_of + dt.timedelta(days=1)
        now = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=SHANGHAI)
    # Counted from what had happened by then, not from today's projection.
    ledger = ledger.as_of(as_of)
    rulebook = _counts_rulebook(ledger, round_id)
    out: list[str] = []
    day = (now - dt.timedelta(microseconds=1)).date()
    out.append(w.text("report.title", day=day.isoformat()))
    if (coverage := _coverage_line(ledger, day, w)) is not None:
        out.append(coverage)
    # The complaints are counted once by everything the report says of them.
    with ledger._counted_together("complaint", round_id, _CASE_FIELDS):
        _counted_sections(ledger, rulebook, round_id, now, out, w)
    _listed_sections(ledger, round_id, now, out, w, explain=explain, listed=listed)
    if not verify:
        return "\n".join(out)
    report = ledger.verify()
    out.append("")
    if report.ok:
        out.append(
            w.text(
                "report.integrity_ok",
                entities=report.entities,
                events=report.events,
                summary=str(report),
            )
        )
    else:
        out.append(w.count("report.integrity_problems", len(report.problems)))
        out.extend(w.text("report.problem", problem=p) for p in report.problems[:5])
    return "\n".join(out)


#: What the report counts of complaints: areas, categories, batches and their days, and
#: the keeping of the result deadline.
_CASE_FIELDS = (
    "areas",
    "category",
    "data.categories",
    "batch",
    "data.batch_day",
    "data.handed_over_day",
    "deadlines.result_due.status",
    "deadlines.result_due.suspended",
    "deadlines.result_due.due_at",
)


def _counted_sections(
    ledger: Ledger,
    rulebook: Rulebook,
    round_id: str | None,
    now: dt.datetime,
    out: list[str],
    w: Wording,
) -> None:
    """The counts, by kind and state, area, category and batch, and the rates."""
    held = {str(k) for k in ledger.counts("kind")}
    for kind in (*_KINDS, *sorted(held - set(_KINDS))):
        counts = ledger.counts("state", kind=kind, round_id=None if kind == "round" else round_id)
        if not counts:
            continue
        lifecycles = _of_kind(rulebook, kind)
        states = w.text("report.states_sep").join(
            w.text("report.state_count", state=_counted_state_label(lifecycles, str(s), w), n=n)
            for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        )
        out.append(
            w.text(
                "report.counts",
                kind=_kind_label(kind, lifecycles, w),
                total=sum(counts.values()),
                states=states,
            )
        )
    by_area = ledger.counts("area", kind="complaint", round_id=round_id)
    if by_area:
        out.append(w.text("report.by_area"))
        for area, n in sorted(by_area.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            out.append(w.text("report.area_count", area=ledger.areas.name(str(area)), n=n))
    by_cat = ledger.counts("categories", kind="complaint", round_id=round_id)
    if by_cat:
        cats = w.text("report.categories_sep").join(
            w.text(
                "report.category_count",
                category=w.label(f"label.category.{c}", CATEGORIES_ZH.get(str(c), str(c)), str(c)),
                n=n,
            )
            for c, n in sorted(by_cat.items(), key=lambda kv: (-kv[1], str(kv[0])))
        )
        out.append(w.text("report.by_category", categories=cats))
    by_batch = ledger.counts("batch", kind="complaint", round_id=round_id)
    batches = sorted(b for b in by_batch if isinstance(b, int))
    if batches:
        out.append(
            w.text(
                "report.batches",
                batches=len(batches),
                first=batches[0],
                last=batches[-1],
                cases=sum(by_batch[b] for b in batches),
            )
        )
    out.extend(_late_hand_overs(ledger, round_id, w))
    out.extend(_publications_and_dispatches(ledger, round_id, w))
    rates = ledger.rates(now, round_id=round_id)
    out.append(
        w.text(
            "report.rates",
            case_closing=_pct(rates["case_closing_rate"], w),
            task_closing=_pct(rates["task_closing_rate"], w),
            on_schedule=_pct(rates["on_schedule_rate"], w),
        )
    )
    out.append(
        w.text(
            "report.on_time",
            case_on_time=_pct(rates["case_on_time_rate"], w),
            cases_met_late=rates["cases_met_late"],
            cases_overdue=rates["cases_overdue"],
            task_on_time=_pct(rates["task_on_time_rate"], w),
            tasks_met_late=rates["tasks_met_late"],
            tasks_overdue=rates["tasks_overdue"],
        )
    )


def _listed_sections(
    ledger: Ledger,
    round_id: str | None,
    now: dt.datetime,
    out: list[str],
    w: Wording,
    *,
    explain: int,
    listed: int,
) -> None:
    """The overdue and due-soon items: counted by the store, only those listed read."""
    total = _count_due(ledger, None, now, round_id)
    overdue = _first(lambda n: ledger.store.overdue(now, limit=n), round_id, max(listed, explain))
    out.append(w.text("report.overdue", n=total))
    for item in overdue[:listed]:
        out.append(_line(item, ledger, now, w))
    if total > listed:
        out.append(w.count("report.more", total - listed))
    for item in overdue[:explain]:
        views = [v for v in ledger.deadlines(item.entity_id) if v.is_overdue(now)]
        for view in views[:1]:
            out.append("")
            out.append(
                w.text("report.explained", entity_id=item.entity_id, explanation=view.explain(w))
            )
    end = ledger.due_end(_DUE_SOON_DAYS, now)
    soon = _first(lambda n: ledger.store.due_between(now, end, limit=n), None, listed)
    out.append("")
    out.append(w.count("report.due_soon", _count_due(ledger, now, end, None), days=_DUE_SOON_DAYS))
    for item in soon[:listed]:
        out.append(_line(item, ledger, now, w))
