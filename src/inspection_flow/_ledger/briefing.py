"""The figures of a briefing (工作简报): what a day's or a week's briefing of a round states,
counted from the ledger as it stood at the end of the period.

The figures are read through the ledger's query API (``as_of``, ``counts``, the counts of
values the store makes, ``sums``, ``rates``, ``deadlines``, ``progress``): the complaints
are counted, not read; only the overdue items listed and the tasks are.  Rendering them as
Word, HTML or Markdown is the business of :mod:`inspection_flow._briefing`, above the
ledger.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import attrs

from .._builtin import FINDINGS, FINDINGS_ZH, HANDLING_STATUSES, HANDLING_STATUSES_ZH, OUTCOMES
from .._checks import shown
from .._records import escalation_of
from .._rules import SHANGHAI
from ..exceptions import DefinitionError, EntityNotFoundError, PayloadError
from .inputs import CATEGORIES_ZH

if TYPE_CHECKING:
    from .._records import Snapshot
    from .ledger import Ledger, LedgerView

__all__ = [
    "Briefing",
    "BriefingArea",
    "BriefingBatch",
    "BriefingItem",
    "BriefingTask",
    "Period",
    "compute_briefing",
]

Period = Literal["day", "week"]

#: Findings that make a case substantiated in part or whole (属实、基本属实、部分属实).
_SUBSTANTIATED = ("substantiated", "largely_substantiated", "partly_substantiated")
#: The overdue items a briefing lists by default, most overdue first; the others are
#: counted (a briefing is read by people; the full list is an export).
LISTED = 50


@attrs.frozen
class BriefingBatch:
    """A hand-over batch (第N批) as the briefing counts it.

    Attributes:
        number: the batch's number; day: the day it was handed over; cases: its cases.
    """

    number: int
    day: dt.date
    cases: int


@attrs.frozen
class BriefingArea:
    """One area's row of the briefing's table (分区县情况).

    Attributes:
        area, name: the area's code and name.
        received: complaints received about it; handed_over: of them, in a batch.
        closed: concluded (办结, acceptance included); interim_closed: 阶段性办结;
        in_progress: handed over and still open; overdue: open past a deadline.
    """

    area: str
    name: str
    received: int
    handed_over: int
    closed: int
    interim_closed: int
    in_progress: int
    overdue: int


@attrs.frozen
class BriefingItem:
    """An overdue item, with the explanation of its deadline.

    Attributes:
        entity_id, kind, area_name, title, state_label: what it is.
        deadline, deadline_label: the overdue deadline's name and label (中文).
        last_day: the deadline's last day; days_overdue: calendar days past its due time.
        escalation: the furthest escalation recorded by then (its label), or ``None``.
        explanation: how the deadline was reached, in Chinese.
    """

    entity_id: str
    kind: str
    area_name: str
    title: str
    state_label: str
    deadline: str
    deadline_label: str
    last_day: dt.date
    days_overdue: int
    escalation: str | None
    explanation: str


@attrs.frozen
class BriefingTask:
    """A rectification task and its 序时进度 on the briefing's day.

    Attributes:
        entity_id, problem_no, title, area_name, state_label: what it is.
        deadline: its rectification deadline's last day, if planned.
        progress: ``done`` (已完成), ``on_schedule`` (达到序时进度) or ``behind``.
    """

    entity_id: str
    problem_no: int | None
    title: str
    area_name: str
    state_label: str
    deadline: dt.date | None
    progress: str


@attrs.frozen
class Briefing:
    """The figures of a numbered briefing (工作简报 第N期) of one round, for a day or a week.

    Counted from the ledger as it stood at the end of ``last_day`` (:meth:`Ledger.as_of`).
    "In the period" counts what happened from ``first_day`` to ``last_day``; the other
    figures are totals up to ``last_day``.

    Attributes:
        round_id, round_name: the round.
        period, number, first_day, last_day: which briefing it is (第 ``number`` 期).
        station_in_first: the day the team stationed in, if it has.
        received, received_in_period: complaints received (受理), all and in the period.
        passed_on, duplicates: of them, passed to the local area and repeats.
        batches: the hand-over batches (交办批次), by number; batches_in_period: their
            numbers handed over in the period; handed_over: cases handed over in them.
        daily_intake: complaints received each day, from the first intake day.
        closed, interim_closed, in_progress: cases concluded (办结, acceptance included),
            interim-closed (阶段性办结), and handed over but still open.
        closed_in_period: cases concluded or interim-closed in the period.
        findings: cases by finding (属实, 基本属实, 部分属实, 不属实), those recorded.
        substantiated_rate: 属实率, the share of findings substantiated in whole or part,
            ``None`` before any finding.
        handling_statuses: results by the 办理状态 they reported, where reported.
        outcomes: the counted outcomes of 边督边改 some case recorded, by data key: sum.
        outcome_labels: each outcome's label with its unit (责令整改（家）, …).
        areas: one row per area with complaints; categories: complaints by category
            label (a case counts under each of its categories).
        overdue, escalated: items past a deadline, and those escalated, most overdue
            first: at most the ``listed`` first of each (:meth:`Ledger.briefing`).
        overdue_total, escalated_total: how many items are past a deadline, and escalated,
            listed or not.
        tasks: the round's rectification tasks with their 序时进度.
        rates: :meth:`Ledger.rates` at the end of the period.
    """

    round_id: str
    round_name: str
    period: Period
    number: int
    first_day: dt.date
    last_day: dt.date
    station_in_first: dt.date | None
    received: int
    received_in_period: int
    passed_on: int
    duplicates: int
    batches: tuple[BriefingBatch, ...]
    batches_in_period: tuple[int, ...]
    handed_over: int
    daily_intake: tuple[tuple[dt.date, int], ...]
    closed: int
    interim_closed: int
    in_progress: int
    closed_in_period: int
    findings: Mapping[str, int]
    substantiated_rate: float | None
    handling_statuses: Mapping[str, int]
    outcomes: Mapping[str, int | decimal.Decimal]
    outcome_labels: Mapping[str, str]
    areas: tuple[BriefingArea, ...]
    categories: tuple[tuple[str, int], ...]
    overdue: tuple[BriefingItem, ...]
    escalated: tuple[BriefingItem, ...]
    tasks: tuple[BriefingTask, ...]
    rates: Mapping[str, float | int | None]
    overdue_total: int
    escalated_total: int

    @property
    def overdue_unlisted(self) -> int:
        """Items past a deadline that the briefing counts but does not list."""
        return self.overdue_total - len(self.overdue)

    @property
    def title(self) -> str:
        """The briefing's heading, e.g. ``工作简报 第1期``."""
        return f"工作简报 第{self.number}期"

    @property
    def progress_counts(self) -> dict[str, int]:
        """Tasks by 序时进度: ``done``, ``on_schedule``, ``behind``."""
        out = {"done": 0, "on_schedule": 0, "behind": 0}
        for t in self.tasks:
            out[t.progress] = out.get(t.progress, 0) + 1
        return out

    @property
    def findings_zh(self) -> dict[str, int]:
        """:attr:`findings` under their Chinese labels."""
        return {FINDINGS_ZH.get(k, k): n for k, n in self.findings.items()}

    @property
    def handling_statuses_zh(self) -> dict[str, int]:
        """:attr:`handling_statuses` under their Chinese labels."""
        return {HANDLING_STATUSES_ZH.get(k, k): n for k, n in self.handling_statuses.items()}


def _round_of(view: LedgerView, round_id: str | None) -> Snapshot:
    rounds = view.find(kind="round")
    ids = sorted(r.entity_id for r in rounds)
    if round_id is None:
        if len(rounds) == 1:
            return rounds[0]
        raise PayloadError(
            "-",
            "briefing",
            "round_id",
            f"the ledger holds {len(rounds)} rounds on that day; name one of "
            f"{', '.join(ids) or '(none)'}",
        )
    for r in rounds:
        if r.entity_id == round_id:
            return r
    raise EntityNotFoundError(round_id, "round", ids)


def _station_in(view: LedgerView, round_id: str) -> dt.date | None:
    for event in view.history(round_id):
        if event.name == "station_in":
            return event.at.astimezone(SHANGHAI).date()
    return None


def _state_label(view: LedgerView, snap: Snapshot) -> str:
    try:
        return view.lifecycle_of(snap).state(snap.state).label_zh
    except DefinitionError:  # a state its lifecycle no longer defines
        return snap.state


def _title(snap: Snapshot) -> str:
    return str(
        snap.data.get("summary")
        or snap.data.get("title")
        or snap.data.get("documents")
        or snap.data.get("name", "")
    )


def compute_briefing(
    ledger: Ledger,
    as_of: dt.date,
    *,
    period: Period = "day",
    number: int | None = None,
    round_id: str | None = None,
    listed: int | None = LISTED,
) -> Briefing:
    """Count the figures of a briefing; see :meth:`Ledger.briefing`."""
    # Long by design: one pass per section of the briefing, in the order it prints.
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise PayloadError("-", "briefing", "as_of", f"{shown(as_of)} is not a day (date)")
    if period not in ("day", "week"):
        raise PayloadError("-", "briefing", "period", f"{shown(period)}: use 'day' or 'week'")
    if number is not None and (number.__class__ is not int or not 1 <= number <= 10_000):
        raise PayloadError("-", "briefing", "number", f"{shown(number)}: a whole number 1–10000")
    if listed is not None and (listed.__class__ is not int or not 0 <= listed <= 1_000_000):
        raise PayloadError(
            "-", "briefing", "listed", f"{shown(listed)}: a whole number 0–1000000, or None"
        )
    view = ledger.as_of(as_of)
    rnd = _round_of(view, round_id)
    rid = rnd.entity_id
    last = as_of
    first = as_of - dt.timedelta(days=6 if period == "week" else 0)
    now = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0), SHANGHAI)
    station_first = _station_in(view, rid)
    if number is None:
        # Numbered from the station-in, as the source case's 第1期 is the day after it.
        days = (as_of - station_first).days if station_first is not None else 1
        number = max(1, days if period == "day" else -(-days // 7))

    # The complaints are counted by the store (count_values: GROUP BY in the database on
    # a SQL store): the figures and the categories from one count by all the values they
    # need; no complaint is read.
    with view._counted_together("complaint", rid, _CASE_FIELDS):
        counts = _count_cases(view, rnd, first, last, now)
        outcome_keys = [k for k, _, _ in OUTCOMES if k in counts.recorded_outcomes]
        outcomes: dict[str, int | decimal.Decimal] = {}
        if outcome_keys:
            outcomes = dict(view.sums(outcome_keys, round_id=rid).get(None, {}))
        rates = view.rates(now, round_id=rid)
        by_category = view.counts("categories", kind="complaint", round_id=rid)
    intake = counts.intake
    batch_days, batch_cases = counts.batch_days, counts.batch_cases
    findings, statuses, per_area = counts.findings, counts.statuses, counts.per_area

    daily: list[tuple[dt.date, int]] = []
    if intake:
        # A call after the hotline closes belongs to the next day's intake (R1), which
        # may lie past the period's last day; it is shown on its own day.  Days without
        # intake after the last one are shown for a week at most: a briefing months after
        # the station-in charts the station-in, not months of zeros.
        latest = max(intake)
        d, end = min(intake), max(latest, min(last, latest + dt.timedelta(days=7)))
        while d <= end:
            daily.append((d, intake.get(d, 0)))
            d += dt.timedelta(days=1)
    batches = tuple(
        BriefingBatch(n, batch_days.get(n, last), batch_cases[n]) for n in sorted(batch_cases)
    )
    found = sum(findings.values())
    areas = tuple(
        BriefingArea(code, view.areas.name(code), *row)
        for code, row in sorted(per_area.items(), key=lambda kv: kv[0])
    )
    categories = tuple(
        (CATEGORIES_ZH.get(str(c), str(c)), n)
        for c, n in sorted(by_category.items(), key=lambda kv: (-kv[1], str(kv[0])))
    )

    # Counted by the store from its index (and the JSON of the overdue entities' deadlines
    # for the escalated); only the items listed are read and explained.
    overdue_ids = _of_round(view, rnd, now, view.store.overdue_ids(now, round_id=rid), False)
    escalated_ids = _of_round(view, rnd, now, view.store.escalated_ids(now, round_id=rid), True)
    shown_ids = overdue_ids if listed is None else overdue_ids[:listed]
    shown_escalated = escalated_ids if listed is None else escalated_ids[:listed]
    wanted = list(dict.fromkeys([*shown_ids, *shown_escalated]))
    read = view.store.get_many(wanted)
    made = {i.entity_id: i for i in _items(view, [read[i] for i in wanted if i in read], now)}
    items = [made[i] for i in shown_ids if i in made]
    escalated = [made[i] for i in shown_escalated if i in made]

    tasks = []
    for snap in view.find(kind="task", round_id=rid):
        record = snap.deadlines.get("rectify_due")
        problem_no = snap.data.get("problem_no")
        tasks.append(
            BriefingTask(
                entity_id=snap.entity_id,
                problem_no=problem_no if isinstance(problem_no, int) else None,
                title=_title(snap),
                area_name=view.areas.name(snap.area),
                state_label=_state_label(view, snap),
                deadline=record.last_day if record is not None else None,
                progress=view.progress(snap.entity_id, on=as_of),
            )
        )
    tasks.sort(key=lambda t: (t.problem_no is None, t.problem_no or 0, t.entity_id))

    return Briefing(
        round_id=rid,
        round_name=str(rnd.data.get("name", rid)),
        period=period,
        number=number,
        first_day=first,
        last_day=last,
        station_in_first=station_first,
        received=counts.received,
        received_in_period=counts.received_in_period,
        passed_on=counts.passed_on,
        duplicates=counts.duplicates,
        batches=batches,
        batches_in_period=tuple(b.number for b in batches if first <= b.day <= last),
        handed_over=sum(b.cases for b in batches),
        daily_intake=tuple(daily),
        closed=counts.closed,
        interim_closed=counts.interim_closed,
        in_progress=counts.in_progress,
        closed_in_period=counts.closed_in_period,
        findings=MappingProxyType({k: n for k, n in findings.items() if n}),
        substantiated_rate=(
            sum(findings.get(k, 0) for k in _SUBSTANTIATED) / found if found else None
        ),
        handling_statuses=MappingProxyType(statuses),
        outcomes=MappingProxyType(outcomes),
        outcome_labels=MappingProxyType({k: label for k, _, label in OUTCOMES}),
        areas=areas,
        categories=categories,
        overdue=tuple(items),
        escalated=tuple(i for i in escalated if i.escalation is not None),
        tasks=tuple(tasks),
        rates=MappingProxyType(rates),
        overdue_total=len(overdue_ids),
        escalated_total=len(escalated_ids),
    )


#: What the briefing counts of a round's complaints, in one count by all of them.
_CASE_FIELDS = (
    "kind",
    "data.intake_day",
    "area",
    "state",
    "lifecycle",
    "batch",
    "data.handed_over_day",
    "data.batch_day",
    "data.finding",
    "data.handling_status",
    *(f"data.{key}" for key, _, _ in OUTCOMES),
    "deadlines.result_due.status",
    "deadlines.result_due.suspended",
    "deadlines.result_due.due_at",
    "category",
    "data.categories",
)


_STATUS_ORDER = {status: k for k, status in enumerate(HANDLING_STATUSES)}


@attrs.define
class _CaseCounts:
    """The figures of a round's complaints, as :func:`_count_cases` counts them."""

    received: int = 0
    received_in_period: int = 0
    passed_on: int = 0
    duplicates: int = 0
    closed: int = 0
    interim_closed: int = 0
    in_progress: int = 0
    closed_in_period: int = 0
    intake: dict[dt.date, int] = attrs.Factory(dict)
    batch_days: dict[int, dt.date] = attrs.Factory(dict)
    batch_cases: dict[int, int] = attrs.Factory(dict)
    findings: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(FINDINGS, 0))
    statuses: dict[str, int] = attrs.Factory(dict)
    recorded_outcomes: set[str] = attrs.Factory(set)
    #: By area: received, handed over, closed, interim-closed, in progress, overdue.
    per_area: dict[str, list[int]] = attrs.Factory(dict)


def _day(value: object) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def _local_day(instant: object) -> dt.date:
    assert isinstance(instant, str)
    return dt.datetime.fromisoformat(instant).astimezone(SHANGHAI).date()


def _count_cases(
    view: LedgerView, rnd: Snapshot, first: dt.date, last: dt.date, now: dt.datetime
) -> _CaseCounts:
    """Count the figures of the round's complaints from the store's counts of their
    values; each group of cases with the same values counts as many times as it holds."""
    rid = rnd.entity_id
    out = _CaseCounts()
    rulebook = view.rulebook_of(rnd)
    counts_as: dict[tuple[str, str], str] = {}
    undated = closing = False
    groups = view._values(list(_CASE_FIELDS), kind="complaint", round_id=rid)
    for key, n in groups.items():
        intake_day, area, state, lifecycle, batch, handed, batch_day, finding, status = key[1:10]
        outcome_values = key[10 : 10 + len(OUTCOMES)]
        out.received += n
        day = _day(intake_day)
        if day is None:
            undated = True
        else:
            out.intake[day] = out.intake.get(day, 0) + n
            if first <= day <= last:
                out.received_in_period += n
        row = out.per_area.setdefault(view.areas.canonical(area), [0] * 6)
        row[0] += n
        if state == "passed_on":
            out.passed_on += n
        elif state == "duplicate":
            out.duplicates += n
        if batch is not None:
            row[1] += n
            handed_on = _day(handed) or _day(batch_day)
            if handed_on is not None:
                out.batch_days[batch] = min(out.batch_days.get(batch, handed_on), handed_on)
            out.batch_cases[batch] = out.batch_cases.get(batch, 0) + n
        counted = counts_as.get((lifecycle, state))
        if counted is None:
            counted = counts_as[(lifecycle, state)] = rulebook.lifecycle(lifecycle).counts_as(state)
        if state == "interim_closed":
            out.interim_closed += n
            row[3] += n
        elif counted == "closed":
            out.closed += n
            row[2] += n
        elif counted == "open" and batch is not None:
            out.in_progress += n
            row[4] += n
        closing = closing or counted == "closed"
        if isinstance(finding, str):
            out.findings[finding] = out.findings.get(finding, 0) + n
        if isinstance(status, str):
            out.statuses[status] = out.statuses.get(status, 0) + n
        out.recorded_outcomes.update(
            k for (k, _, _), v in zip(OUTCOMES, outcome_values, strict=True) if v is not None
        )
    # In a fixed order, not the order the store's groups come in.
    out.statuses = {
        k: out.statuses[k]
        for k in sorted(out.statuses, key=lambda k: (_STATUS_ORDER.get(k, len(_STATUS_ORDER)), k))
    }
    if undated:
        # Cases stored before the intake day was kept count on the day they were created.
        for (intake_day, created), n in view._values(
            ["data.intake_day", "created_at"], kind="complaint", round_id=rid
        ).items():
            if _day(intake_day) is None:
                day = _local_day(created)
                out.intake[day] = out.intake.get(day, 0) + n
                if first <= day <= last:
                    out.received_in_period += n
    if closing:
        # When a case's latest fact happened (Snapshot.facts_until) is read only if some
        # case is closed: it tells each case apart.
        for (lifecycle, state, occurred, updated), n in view._values(
            ["lifecycle", "state", "occurred_at", "updated_at"], kind="complaint", round_id=rid
        ).items():
            if counts_as.get((lifecycle, state)) != "closed":
                continue
            if first <= _local_day(occurred if occurred is not None else updated) <= last:
                out.closed_in_period += n
    # By round only: SQLite reads the round's entities by the round's index, where a filter
    # by kind too made it read every complaint of every round by the index on kinds.
    for (kind, area), n in view._values(["kind", "area"], round_id=rid, due=(None, now)).items():
        if kind != "complaint":
            continue
        overdue_row = out.per_area.get(view.areas.canonical(area))
        if overdue_row is not None:
            overdue_row[5] += n
    return out


def _of_round(
    view: LedgerView, rnd: Snapshot, now: dt.datetime, ids: list[str], escalated: bool
) -> list[str]:
    """``ids`` (the round's entities, most overdue first) with the round itself in its
    place when it is overdue (and escalated, if ``escalated``) too."""
    due = rnd.next_due_at
    if rnd.terminal or due is None or due > now or rnd.entity_id in ids:
        return ids
    if escalated and escalation_of(rnd, now) is None:
        return ids
    # Its place in the order (due time, then id), found by halving: a few entities read.
    key = (due, rnd.entity_id)
    lo, hi = 0, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        snap = view.store.get(ids[mid])
        at = snap.next_due_at if snap is not None else None
        if at is not None and (at, ids[mid]) < key:
            lo = mid + 1
        else:
            hi = mid
    return [*ids[:lo], rnd.entity_id, *ids[lo:]]


def _items(view: LedgerView, snapshots: list[Snapshot], now: dt.datetime) -> list[BriefingItem]:
    """The overdue items of ``snapshots``, each with the explanation of its deadline."""
    items: list[BriefingItem] = []
    for snap in snapshots:
        views = view._deadline_views(snap, overdue_at=now)
        if not views:
            continue
        dv = next((v for v in views if v.due_at == snap.next_due_at), views[0])
        items.append(
            BriefingItem(
                entity_id=snap.entity_id,
                kind=snap.kind,
                area_name=view.areas.name(snap.area),
                title=_title(snap),
                state_label=_state_label(view, snap),
                deadline=dv.name,
                deadline_label=dv.label_zh,
                last_day=dv.last_day,
                days_overdue=(now - dv.due_at).days,
                escalation=escalation_of(snap, now),
                explanation=dv.explain("zh"),
            )
        )
    return items
