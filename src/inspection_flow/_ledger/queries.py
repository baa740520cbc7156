"""Queries over the ledger: finding entities, overdue and due-soon items, counts and rates,
and the audit."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from collections.abc import Collection, Iterator, Sequence
from typing import Any, Literal

from .._checks import (
    check_limit,
    shown,
)
from .._collector import collector_paused
from .._definitions import Lifecycle
from .._records import (
    Snapshot,
)
from .._rules import SHANGHAI, as_instant
from ..exceptions import (
    PayloadError,
    StoreError,
)
from ..stores import Anchor, RepairReport, VerifyReport
from ..stores._base import value_paths
from .dispatches import _Dispatches
from .inputs import _COUNT_BY, _SUM_BY, _check_filters
from .tasks import RECTIFY_DEADLINES, _judge

#: The deadline whose keeping makes a case concluded on time (按时办结) and a task
#: completed on schedule (按期完成).
_TIMED = {"complaint": ("result_due",), "task": RECTIFY_DEADLINES}


def _rate(on_time: int, late: int) -> float | None:
    return on_time / (on_time + late) if on_time + late else None


class _Queries(_Dispatches):
    """Queries over the ledger: finding entities, overdue and due-soon items, counts and
    rates, and the audit."""

    # Counts taken together for a report (_counted_together): filters -> fields, counts.
    _together: dict[
        tuple[str | None, str | None], tuple[list[str], dict[tuple[Any, ...], int] | None]
    ]

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
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Return open entities whose next deadline falls within ``working_days`` working
        days after ``now``'s day (and is not yet past), earliest first (at most ``limit``
        of them).

        Raises:
            AnchorError, PayloadError: a bad instant, filter, ``working_days`` or
                ``limit`` (0 to 10,000).
        """
        check_limit(working_days, "working_days", event="due_within")
        _check_filters({"kind": kind, "area": area})
        if limit is not None:
            check_limit(limit, "limit", event="due_within")
        when = as_instant(now, "now")
        last = self.calendar.add_workdays(when.date(), working_days)
        end = dt.datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + dt.timedelta(days=1)
        areas = self.areas_within(area) if area else None
        return self.store.due_between(when, end, kind=kind, areas=areas, limit=limit)

    def due_end(self, working_days: int, now: dt.datetime) -> dt.datetime:
        """Return the end of the span :meth:`due_within` looks at: 24:00 of the
        ``working_days``-th working day after ``now``'s day."""
        check_limit(working_days, "working_days", event="due_within")
        when = as_instant(now, "now")
        last = self.calendar.add_workdays(when.date(), working_days)
        return dt.datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + dt.timedelta(days=1)

    def count_values(
        self,
        fields: Sequence[str],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        area: str | None = None,
        due: tuple[dt.datetime | None, dt.datetime] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """Count entities by values of their snapshots, as the store counts them
        (:meth:`EventStore.count_values`): no snapshot is read into Python on a SQL store.

        Args:
            fields: dotted paths into a snapshot's plain form, e.g. ``["batch",
                "data.handed_over_day"]`` or ``["deadlines.result_due.status"]``.
            kind, round_id, area: which entities (``area`` covers the areas within it).
            due: only open entities whose next due time lies in ``(start, end]``.

        Returns:
            The number of entities with each tuple of values.

        Raises:
            PayloadError: a filter or a field is not one the ledger knows.
        """
        _check_filters({"kind": kind, "round_id": round_id, "area": area})
        if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
            raise PayloadError(
                "-", "count_values", "fields", f"{shown(fields)} must be a list of fields"
            )
        try:
            paths = value_paths(fields)
        except StoreError as exc:
            raise PayloadError("-", "count_values", "fields", str(exc)) from None
        del paths
        if due is not None:
            start, end = due
            due = (None if start is None else as_instant(start, "start"), as_instant(end, "end"))
        return self._values(list(fields), kind=kind, round_id=round_id, area=area, due=due)

    def _values(
        self,
        fields: list[str],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        area: str | None = None,
        due: tuple[dt.datetime | None, dt.datetime] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """:meth:`count_values` without the checks, answered from the counts taken
        together (:meth:`_counted_together`) when they hold the fields."""
        together = self.__dict__.get("_together")
        shared = together.get((kind, round_id)) if together and area is None and not due else None
        if together is not None and shared is not None and set(fields) <= set(shared[0]):
            wide, groups = shared
            if groups is None:
                groups = self.store.count_values(wide, kind=kind, round_id=round_id)
                together[(kind, round_id)] = (wide, groups)
            at = [wide.index(f) for f in fields]
            out: dict[tuple[Any, ...], int] = {}
            for key, n in groups.items():
                narrow = tuple(key[i] for i in at)
                out[narrow] = out.get(narrow, 0) + n
            return out
        areas = self.areas_within(area) if area else None
        return self.store.count_values(fields, kind=kind, round_id=round_id, areas=areas, due=due)

    def _held_together(self, fields: Sequence[str], kind: str | None, round_id: str | None) -> bool:
        """Whether counts by ``fields`` of these entities are answered from the counts
        taken together (:meth:`_counted_together`)."""
        together = self.__dict__.get("_together")
        shared = together.get((kind, round_id)) if together else None
        return shared is not None and set(fields) <= set(shared[0])

    @contextlib.contextmanager
    def _counted_together(
        self, kind: str | None, round_id: str | None, fields: Sequence[str]
    ) -> Iterator[None]:
        """Within the block, answer counts of entities of ``kind`` (and ``round_id``) by
        any of ``fields`` from one count by all of them: a report that counts the same
        entities several ways reads them once."""
        together = self.__dict__.get("_together")
        if together is None:
            together = self._together = {}
        together[(kind, round_id)] = (list(fields), None)
        try:
            yield
        finally:
            together.pop((kind, round_id), None)

    def counts(
        self,
        by: Literal["state", "area", "batch", "category", "categories", "kind"],
        *,
        kind: str | None = None,
        round_id: str | None = None,
        area: str | None = None,
    ) -> dict[str | int | None, int]:
        """Count entities by state, area, batch, category or kind.

        By area, an entity counts under each of its areas (a task spanning several
        counties, a case shared between them, 共办) — within ``area`` when it is given —
        so the counts by area may add up to more than the entities, while every other
        count (by state, kind, …) and :meth:`tally` count each entity once.  An alias's
        entities count with its area's, under the area's code (see
        :meth:`AreaRegistry.register_alias`).  By ``"category"`` each complaint
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
        if by != "area":
            if areas is None and self._held_together([by], kind, round_id):
                # A report that counts these entities by several values anyway reads them
                # once (_counted_together), not once more for this column.
                return {
                    key: n for (key,), n in self._values([by], kind=kind, round_id=round_id).items()
                }
            return self.store.counts(by, kind=kind, round_id=round_id, areas=areas)
        if areas is None and self._held_together(["areas"], kind, round_id):
            # Each entity counts once under each of its areas, as the store counts them.
            each: dict[str, int] = {}
            for (held,), n in self._values(["areas"], kind=kind, round_id=round_id).items():
                for a in dict.fromkeys(held or ()):
                    each[a] = each.get(a, 0) + n
        else:
            each = self.store.counts_by_area(kind=kind, round_id=round_id, areas=areas)
        # Within ``area``: an entity found there counts under its areas there only.
        within = set(areas) if areas is not None else each.keys()
        counted: dict[str | int | None, int] = {a: n for a, n in each.items() if a in within}
        if not self.areas.aliases():
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
        # The store counts each pair of primary category and list of categories.
        counted: dict[str | int | None, int] = {}
        pairs = (
            self.store.count_values(
                ["category", "data.categories"], kind=kind, round_id=round_id, areas=areas
            )
            if areas is not None
            else self._values(["category", "data.categories"], kind=kind, round_id=round_id)
        )
        for (primary, named), n in pairs.items():
            counted[primary] = counted.get(primary, 0) + n
            if isinstance(named, tuple):
                for c in named:
                    if c != primary:
                        counted[c] = counted.get(c, 0) + n
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

        Cost: the store counts each combination of group and values
        (:meth:`count_values`), in the database on a SQL store; no snapshot is decoded.
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
        out: dict[str | int | None, dict[str, int | decimal.Decimal]] = {}
        # The store counts each combination of group and values; summed here, exactly.
        counted = self._values(
            [by or "kind", *(f"data.{key}" for key in fields)],
            kind=kind,
            round_id=round_id,
            area=area,
        )
        for (group_of, *values), n in counted.items():
            group: str | int | None = group_of if by is not None else None
            totals = out.get(group)
            if totals is None:
                totals = out[group] = {
                    key: decimal.Decimal(0) if amounts[key] else 0 for key in fields
                }
            for key, value in zip(fields, values, strict=False):
                if value is not None:
                    # Amounts are stored as decimal text, whole numbers as numbers.
                    totals[key] += (decimal.Decimal(value) if amounts[key] else int(value)) * n
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
        # 序时进度 is judged against each task's milestones (阶段目标): the store counts
        # each combination of what the judgement reads, and each is judged once.
        behind = 0
        judged = self._values(
            [
                "round_id",
                "lifecycle",
                "state",
                "data.milestones",
                "data.milestones_met",
                "deadlines.rectify_due.status",
                "deadlines.rectify_due.suspended",
                "deadlines.rectify_due.last_day",
            ],
            kind="task",
            round_id=round_id,
            area=area,
        )
        for (rid, lifecycle, state, milestones, met, status, suspended, last), n in judged.items():
            if task_lc.counts_as(state) != "open":
                continue
            rb = self.rulebook_of(rid) if rid is not None else self.rulebook
            passed = status == "open" and not suspended and dt.date.fromisoformat(last) < on
            progress = _judge(
                rb.lifecycle(lifecycle).counts_as(state) == "closed",
                list(milestones or []),
                set(met or []),
                passed,
                on,
            )
            if progress == "behind":
                behind += n
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
        when = as_instant(now, "now")
        on_time = late = overdue = 0
        # Whether a deadline was late is stored in its record: the store counts each
        # combination of status, suspension and due time (few: cases handed over together
        # share their due times).
        # A task has one of its deadlines (the plan's, or the on-the-spot one): an entity
        # without a deadline counts under none of its statuses.
        counted = [
            self._values(
                [f"deadlines.{deadline}.{key}" for key in ("status", "suspended", "due_at")],
                kind=kind,
                round_id=round_id,
                area=area,
            )
            for deadline in _TIMED[kind]
        ]
        for (status, suspended, due_at), n in (kv for c in counted for kv in c.items()):
            if status == "met":
                on_time += n
            elif status == "met_late":
                late += n
            elif (
                status == "open"
                and not suspended
                and due_at is not None
                and when >= dt.datetime.fromisoformat(due_at)
            ):
                overdue += n
        return on_time, late, overdue

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the ledger and report every problem found (see :meth:`EventStore.verify`).

        Args:
            deep: also fold every entity from its events and compare its projection.
            anchor: an anchor printed or published earlier (:meth:`anchor`).
        """
        # Every event is read and checked once, and nothing read stays: the collector
        # would walk the audit's own bookkeeping over and over (see _collector).
        with collector_paused():
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
        with collector_paused():
            report = self.store.repair()
        self._intakes.clear()
        return report
