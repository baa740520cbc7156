"""Queries over the ledger: finding entities, overdue and due-soon items, counts and rates,
and the audit."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Collection, Sequence
from typing import Literal

from .._checks import (
    check_limit,
    shown,
)
from .._definitions import Lifecycle
from .._records import (
    Snapshot,
)
from .._rules import SHANGHAI, as_instant
from ..exceptions import (
    PayloadError,
)
from ..stores import Anchor, RepairReport, VerifyReport
from .dispatches import _Dispatches
from .inputs import _COUNT_BY, _SUM_BY, _check_filters

#: The deadline whose keeping makes a case concluded on time (按时办结) and a task
#: completed on schedule (按期完成).
_TIMED = {"complaint": "result_due", "task": "rectify_due"}


def _rate(on_time: int, late: int) -> float | None:
    return on_time / (on_time + late) if on_time + late else None


class _Queries(_Dispatches):
    """Queries over the ledger: finding entities, overdue and due-soon items, counts and
    rates, and the audit."""

    def overdue(
        self,
        now: dt.datetime,
        *,
        kind: str | None = None,
        area: str | None = None,
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Return open entities with a deadline past due at ``now``, most overdue first
        (at most ``limit`` of them).

        Raises:
            AnchorError, PayloadError: a bad instant, filter or ``limit`` (0 to 10,000).
        """
        _check_filters({"kind": kind, "area": area})
        if limit is not None:
            check_limit(limit, "limit", event="overdue")
        areas = self.areas_within(area) if area else None
        return self.store.overdue(as_instant(now, "now"), kind=kind, areas=areas, limit=limit)

    def due_within(
        self,
        working_days: int,
        now: dt.datetime,
        *,
        kind: str | None = None,
        area: str | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose next deadline falls within ``working_days`` working
        days after ``now``'s day (and is not yet past).

        Raises:
            AnchorError, PayloadError: a bad instant, filter or ``working_days`` (0 to
                10,000).
        """
        check_limit(working_days, "working_days", event="due_within")
        _check_filters({"kind": kind, "area": area})
        when = as_instant(now, "now")
        last = self.calendar.add_workdays(when.date(), working_days)
        end = dt.datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + dt.timedelta(days=1)
        areas = self.areas_within(area) if area else None
        return self.store.due_between(when, end, kind=kind, areas=areas)

    def counts(
        self,
        by: Literal["state", "area", "batch", "category", "categories", "kind"],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        area: str | None = None,
    ) -> dict[str | int | None, int]:
        """Count entities by state, area, batch, category or kind.

        By area, an alias's entities count with its area's, under the area's code
        (see :meth:`AreaRegistry.register_alias`).  By ``"category"`` each complaint
        counts once, under its primary category; by ``"categories"`` it counts under each
        category it concerns, so the totals may exceed the number of complaints, as
        published counts say (一件举报可能涉及多种问题类型).

        Raises:
            PayloadError: ``by`` or a filter is not one the ledger knows.
        """
        if by not in _COUNT_BY:
            raise PayloadError(
                "-", "counts", "by", f"{shown(by)}: count by one of {', '.join(_COUNT_BY)}"
            )
        _check_filters({"kind": kind, "round_id": round_id, "area": area})
        areas = self.areas_within(area) if area else None
        if by == "categories":
            return self._count_categories(kind, round_id, areas)
        counted = self.store.counts(by, kind=kind, round_id=round_id, areas=areas)
        if by != "area" or not self.areas.aliases():
            return counted
        merged: dict[str | int | None, int] = {}
        for key, n in counted.items():
            own = self.areas.canonical(key) if isinstance(key, str) else key
            merged[own] = merged.get(own, 0) + n
        return merged

    def _count_categories(
        self, kind: str | None, round_id: str | None, areas: Collection[str] | None
    ) -> dict[str | int | None, int]:
        """Count each category of each entity: the primary ones by the store, the others
        read from the entities that name more than one."""
        # The store counts the primary categories cheaply; only the other categories need
        # the entities read.
        counted = self.store.counts("category", kind=kind, round_id=round_id, areas=areas)
        for snap in self.store.find(kind=kind, round_id=round_id, areas=areas):
            named = snap.data.get("categories")
            if isinstance(named, list):
                for c in named:
                    if c != snap.category:
                        counted[c] = counted.get(c, 0) + 1
        return counted

    def sums(
        self,
        fields: Sequence[str],
        *,
        kind: str = "complaint",
        round_id: str | None = None,
        area: str | None = None,
        by: Literal["area", "batch"] | None = None,
    ) -> dict[str | int | None, dict[str, int | decimal.Decimal]]:
        """Sum numeric data over the entities of ``kind``, by area or batch, as a briefing
        states its totals (责令整改 N 家, 罚款 N 万元, …).

        Args:
            fields: data keys that events of the lifecycle of ``kind`` record from whole
                number (``int``, ``count``) or amount (``decimal``) fields, e.g. the
                outcomes a complaint's result reports (``rectification_orders``,
                ``fines_10k_yuan``, …).
            kind, round_id, area: which entities (``area`` covers the areas within it).
            by: ``"area"`` (each entity's primary area), ``"batch"`` (its hand-over
                batch, ``None`` for none), or ``None`` for one total under the key
                ``None``.

        Returns:
            For each group, each field's sum: an ``int`` for whole numbers, a
            :class:`decimal.Decimal` for amounts, exact; an entity that did not record a
            field adds nothing to it, and a group is listed only if an entity is in it.
            Groups come by area code or batch number, ``None`` last.

        Raises:
            PayloadError: ``fields`` is empty or names a key no event of ``kind`` records
                as a number; ``by`` or a filter is not one the ledger knows.

        Cost: every matching entity's snapshot is read (one query of the store); no index
        holds the data, so a sum over a whole province's cases reads them all.
        """
        if by is not None and by not in _SUM_BY:
            raise PayloadError(
                "-", "sums", "by", f"{shown(by)}: sum by one of {', '.join(_SUM_BY)} or None"
            )
        _check_filters({"kind": kind, "round_id": round_id, "area": area})
        amounts = self._summable(kind, round_id)
        if isinstance(fields, str) or not isinstance(fields, (list, tuple)) or not fields:
            raise PayloadError(
                "-", "sums", "fields", f"{shown(fields)} must be a non-empty list of data keys"
            )
        for key in fields:
            if key.__class__ is not str or key not in amounts:
                raise PayloadError(
                    "-",
                    "sums",
                    "fields",
                    f"{shown(key)} is not a number that {kind} events record; "
                    f"sum one of {', '.join(sorted(amounts))}",
                )
        filters: dict[str, str] = {"kind": kind}
        if round_id is not None:
            filters["round_id"] = round_id
        if area is not None:
            filters["area"] = area
        out: dict[str | int | None, dict[str, int | decimal.Decimal]] = {}
        for snap in self.find(**filters):
            group: str | int | None = (
                snap.area if by == "area" else snap.batch if by == "batch" else None
            )
            totals = out.get(group)
            if totals is None:
                totals = out[group] = {
                    key: decimal.Decimal(0) if amounts[key] else 0 for key in fields
                }
            for key in fields:
                value = snap.data.get(key)
                if value is not None:
                    # Amounts are stored as decimal text, whole numbers as numbers.
                    totals[key] += decimal.Decimal(value) if amounts[key] else int(value)
        # Groups in a briefing's order, the same from every store: by code or number,
        # the cases of no batch last.
        return {g: out[g] for g in sorted(out, key=lambda g: (g is None, str(g).zfill(20)))}

    def _summable(self, kind: str, round_id: str | None) -> dict[str, bool]:
        """The data keys events of ``kind`` record from number fields: ``True`` for an
        amount (``decimal``), ``False`` for a whole number."""
        lc = self._lifecycle_of_kind(kind, round_id)
        out: dict[str, bool] = {}
        for t in lc.transitions:
            recorded = (
                t.records
                if t.records is not None
                else tuple((f.name, f.name) for f in t.fields)
                if t.target is not None
                else ()
            )
            for field, key in recorded:
                spec = t.field_index.get(field)
                if spec is not None and spec.type in ("int", "count", "decimal"):
                    out[key] = spec.type == "decimal"
        return out

    def tally(
        self, kind: str, *, round_id: str | None = None, area: str | None = None
    ) -> dict[str, int]:
        """Count the entities of ``kind`` as their lifecycle says rates count their states:
        ``open``, ``closed`` and ``excluded`` (see :class:`State`).

        States are read from the lifecycle of ``kind`` in the round's rulebook (the
        ledger's default rulebook without ``round_id``).
        """
        lc = self._lifecycle_of_kind(kind, round_id)
        out = {"open": 0, "closed": 0, "excluded": 0}
        for state, n in self.counts("state", kind=kind, round_id=round_id, area=area).items():
            out[lc.counts_as(str(state))] += n
        return out

    def _lifecycle_of_kind(self, kind: str, round_id: str | None) -> Lifecycle:
        rb = self.rulebook_of(round_id) if round_id is not None else self.rulebook
        for lc in rb.lifecycles.values():
            if lc.kind == kind:
                return lc
        raise PayloadError(
            "-",
            "tally",
            "kind",
            f"rulebook {rb.name!r} has no lifecycle of kind {kind!r}; "
            f"its kinds: {', '.join(sorted({lc.kind for lc in rb.lifecycles.values()}))}",
        )

    def rates(
        self, now: dt.datetime, *, round_id: str | None = None, area: str | None = None
    ) -> dict[str, float | int | None]:
        """Return the closing rate of cases (办结率), the closing rate of tasks (销号率) and
        the on-schedule rate of open tasks (序时进度), each ``None`` when there is nothing
        to rate; and how deadlines were kept: ``case_on_time_rate`` (按时办结率, cases
        whose result was reported by its due time among those reported) and
        ``task_on_time_rate`` (按期完成率, tasks completed by their deadline among those
        completed), each ``None`` when nothing was yet done, with the counts of cases and
        tasks done late (``cases_met_late``, ``tasks_met_late``) apart from those still
        open past due at ``now`` (``cases_overdue``, ``tasks_overdue``).

        What counts as closed or outside the rate is what the lifecycles say of their
        states (:meth:`tally`).
        """
        cases = self.tally("complaint", round_id=round_id, area=area)
        tasks = self.tally("task", round_id=round_id, area=area)
        in_scope = cases["open"] + cases["closed"]
        total_tasks = sum(tasks.values())
        open_tasks = tasks["open"]
        task_lc = self._lifecycle_of_kind("task", round_id)
        on = as_instant(now, "now").astimezone(SHANGHAI).date()
        # 序时进度 is judged against each task's milestones (阶段目标), so every open task
        # is read, not only those in the index of due times.
        filters: dict[str, str] = {"kind": "task"}
        if round_id is not None:
            filters["round_id"] = round_id
        if area is not None:
            filters["area"] = area
        behind = sum(
            1
            for s in self.find(**filters)
            if task_lc.counts_as(s.state) == "open" and self._progress_now(s, on) == "behind"
        )
        case_on_time, cases_late, cases_overdue = self._timeliness("complaint", now, round_id, area)
        task_on_time, tasks_late, tasks_overdue = self._timeliness("task", now, round_id, area)
        return {
            "case_closing_rate": cases["closed"] / in_scope if in_scope else None,
            "task_closing_rate": tasks["closed"] / total_tasks if total_tasks else None,
            "on_schedule_rate": (open_tasks - behind) / open_tasks if open_tasks else None,
            "case_on_time_rate": _rate(case_on_time, cases_late),
            "cases_met_late": cases_late,
            "cases_overdue": cases_overdue,
            "task_on_time_rate": _rate(task_on_time, tasks_late),
            "tasks_met_late": tasks_late,
            "tasks_overdue": tasks_overdue,
        }

    def _timeliness(
        self, kind: str, now: dt.datetime, round_id: str | None, area: str | None
    ) -> tuple[int, int, int]:
        """Count the entities of ``kind`` whose main deadline was met on time, met late,
        and is still open past due at ``now``."""
        deadline = _TIMED[kind]
        filters: dict[str, str] = {"kind": kind}
        if round_id is not None:
            filters["round_id"] = round_id
        if area is not None:
            filters["area"] = area
        when = as_instant(now, "now")
        on_time = late = overdue = 0
        # Read entity by entity: whether a deadline was late is stored in its record,
        # which no index of the stores holds.
        for snap in self.find(**filters):
            record = snap.deadlines.get(deadline)
            if record is None:
                continue
            if record.status == "met":
                on_time += 1
            elif record.status == "met_late":
                late += 1
            elif record.status == "open" and not record.suspended and when >= record.due_at:
                overdue += 1
        return on_time, late, overdue

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the ledger and report every problem found (see :meth:`EventStore.verify`).

        Args:
            deep: also fold every entity from its events and compare its projection.
            anchor: an anchor printed or published earlier (:meth:`anchor`).
        """
        return self.store.verify(deep=deep, anchor=anchor)

    def anchor(self) -> Anchor:
        """Return a short digest of the whole ledger as it stands, to print or publish.

        Kept outside the database (in a signed report, a notice, a letter), it shows later
        whether the events it covers were changed, even by someone who rewrote and
        re-hashed them all: ``verify(anchor=...)``.
        """
        return self.store.anchor()

    def repair(self) -> RepairReport:
        """Rewrite drifted projection rows and missing records of applied commands from
        the events (see :meth:`EventStore.repair`); the events are never touched."""
        report = self.store.repair()
        self._intakes.clear()
        return report
