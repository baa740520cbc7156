"""What the ledger hands back: decisions, batches, alert notices, moved deadlines, deadline
views; and the clock it reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

import attrs

from .._areas import Actor
from .._display import html_table, markdown_table
from .._records import ALERT as ALERT
from .._records import ALERT_WITHDRAWN as ALERT_WITHDRAWN
from .._records import (
    DeadlineRecord,
)
from .._rules import SHANGHAI, Due, as_instant
from .._wording import Lang, wording

#: Events the ledger itself records, outside any lifecycle definition: ALERT and
#: ALERT_WITHDRAWN (imported above from the records' format, which folds them as notes),
#: and RECOMPUTE, a clerk's command and so a fact of the entity's own.
RECOMPUTE = "recompute"


_SYSTEM = Actor("system", "*", "inspection_flow")


class Clock(Protocol):
    """Where the present comes from, for the few operations that need it (sweeps)."""

    def now(self) -> dt.datetime:
        """Return the current instant, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in Asia/Shanghai."""

    def now(self) -> dt.datetime:
        """Return the current instant in Asia/Shanghai."""
        return dt.datetime.now(SHANGHAI)


@attrs.frozen
class Decision:
    """Whether an actor may fire an event now, and if not, why.  Truthy when allowed."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen
class Batch:
    """A daily hand-over batch (交办批次) of complaint cases.

    Attributes:
        round_id, number, day: the round, the batch's number and the day it is the batch of.
        case_ids: the cases handed over.
        handed_over_on: the day they were handed over (their clocks start then).
        late: the cases whose batch day, as their intake gave it, is earlier than the day
            they were handed over.
    """

    round_id: str
    number: int
    day: dt.date
    case_ids: tuple[str, ...]
    handed_over_on: dt.date | None = None
    late: tuple[str, ...] = ()


def _frozen_texts(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of a mapping of text."""
    return MappingProxyType(dict(mapping))


@attrs.frozen
class Publication:
    """A published list of case results (信访件办理情况一览表, 第N批).

    Attributes:
        publication_id, round_id: the publication and its round.
        number: its place among the round's publications (1, 2, …).
        batch: the hand-over batch whose results it publishes (第N批).
        published_on: the day it went out.
        case_ids: every case it lists, in order.
        statuses: each listed case's 办理状态 as published (``closed``,
            ``interim_closed``, ``in_progress``; ``""`` when the result gave none).
        republished: the listed cases published before, in an earlier list or alone.
        where: where it was published.
    """

    publication_id: str
    round_id: str
    number: int
    batch: int
    published_on: dt.date
    case_ids: tuple[str, ...]
    statuses: Mapping[str, str] = attrs.field(converter=_frozen_texts)
    republished: tuple[str, ...] = ()
    where: str | None = None


@attrs.frozen
class DispatchResult:
    """A dispatch's warning-light evaluation (亮灯评价), as a briefing shows it.

    Attributes:
        dispatch_id, round_id, period: the dispatch, its round and its month (YYYY-MM).
        on: the day the tasks' progress was judged.
        lights: each task evaluated and its light, ``blue`` (贴蓝签: on schedule),
            ``yellow`` (挂黄牌: behind its milestones) or ``red`` (亮红灯: past its
            deadline, or named red from the facts passed in).
        done: the tasks already completed, which get no light.
        reasons: why each red task is red.
        supervision_letters: the tasks whose second yellow card this is (专函督办).
        summons_talks: the red tasks, whose units' heads are summoned (约谈).
    """

    dispatch_id: str
    round_id: str
    period: str
    on: dt.date
    lights: Mapping[str, str] = attrs.field(converter=_frozen_texts)
    done: tuple[str, ...] = ()
    reasons: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_texts)
    supervision_letters: tuple[str, ...] = ()
    summons_talks: tuple[str, ...] = ()

    def tasks(self, light: str) -> tuple[str, ...]:
        """Return the tasks given ``light`` (``blue``, ``yellow`` or ``red``), in id order."""
        return tuple(sorted(t for t, given in self.lights.items() if given == light))

    @property
    def counts(self) -> Mapping[str, int]:
        """How many tasks got each light, how many were done, and how many escalate."""
        return MappingProxyType(
            {
                "blue": len(self.tasks("blue")),
                "yellow": len(self.tasks("yellow")),
                "red": len(self.tasks("red")),
                "done": len(self.done),
                "supervision_letters": len(self.supervision_letters),
                "summons_talks": len(self.summons_talks),
            }
        )


@attrs.frozen
class AlertNotice:
    """A warning or escalation that came due, recorded once on its entity."""

    entity_id: str
    kind: str
    area: str
    deadline: str
    alert_kind: str
    name: str
    at: dt.datetime
    due_at: dt.datetime
    label_zh: str


@attrs.frozen
class Moved:
    """A deadline that a recompute found different from the stored one."""

    entity_id: str
    deadline: str
    old_last_day: dt.date
    new_last_day: dt.date
    old_calendar_version: str
    new_calendar_version: str


def _record_overdue(record: DeadlineRecord, now: dt.datetime) -> bool:
    """:meth:`DeadlineView.is_overdue` of a stored deadline record."""
    return (
        record.status == "open"
        and record.kind == "due"
        and not record.suspended
        and as_instant(now, "now") >= record.due_at
    )


@attrs.frozen
class DeadlineView:
    """A stored deadline with its live explanation."""

    name: str
    label_zh: str
    label_en: str
    record: DeadlineRecord
    due: Due | None
    fixed: bool = False

    def __repr__(self) -> str:
        return (
            f"<DeadlineView {self.name} ({self.label_zh}): last day "
            f"{self.record.last_day.isoformat()}, due {self.record.due_at.isoformat()}, "
            f"{self.record.status}{', moved' if self.moved else ''}>"
        )

    def _display_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("deadline", f"{self.name} {self.label_zh}"),
            ("last day", self.record.last_day.isoformat()),
            ("due at", self.record.due_at.isoformat()),
            ("status", self.record.status),
        ]
        if self.due is not None:
            rows.append(("rule", self.due.rule.describe("zh")))
        return rows

    def _repr_html_(self) -> str:
        return html_table("DeadlineView", ("", ""), self._display_rows())

    def _repr_markdown_(self) -> str:
        return markdown_table("DeadlineView", ("", ""), self._display_rows())

    @property
    def status(self) -> str:
        """``open``, ``met`` (by the due time), ``met_late`` (after it) or ``cancelled``."""
        return self.record.status

    @property
    def days_late(self) -> int | None:
        """How late the deadline was met: calendar days from its last day to the day it
        was met (0 when on time); ``None`` while it is open or once cancelled.

        Calendar days, not working days: a result due on Friday and reported on Monday is
        three days late.  Days are Asia/Shanghai days.
        """
        record = self.record
        if record.status not in ("met", "met_late") or record.ended_at is None:
            return None
        return self.days_late_at(record.ended_at)

    def days_late_at(self, at: dt.datetime) -> int:
        """Return how many calendar days late the deadline is at ``at``: counted from its
        last day to ``at``'s day while open, to the day it was met once met; 0 when it is
        not late, was cancelled, or is the end of a period.

        Raises:
            AnchorError: ``at`` is not an aware instant.
        """
        record = self.record
        when = as_instant(at, "at")
        if record.kind != "due" or record.status == "cancelled":
            return 0
        if record.status != "open" and record.ended_at is not None:
            when = min(when, record.ended_at)
        day = when.astimezone(SHANGHAI).date()
        return max(0, (day - record.last_day).days)

    @property
    def last_day(self) -> dt.date:
        """The stored last day."""
        return self.record.last_day

    @property
    def due_at(self) -> dt.datetime:
        """The stored due time."""
        return self.record.due_at

    @property
    def moved(self) -> bool:
        """Whether today's rulebook and calendar would give another last day."""
        return self.due is not None and self.due.last_day != self.record.last_day

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the deadline is open, its clock running, and its due time passed at ``now``.

        The end of a period (station-in, public notice) is never overdue.
        """
        return _record_overdue(self.record, now)

    def explain(self, lang: Lang = "zh") -> str:
        """Explain how the stored due date was reached, and what became of it.

        Args:
            lang: a registered language code (``"zh"``, ``"en"``, …) or a :class:`Wording`.

        Raises:
            UnknownLanguageError: no wording table is registered for ``lang``.
        """
        w = wording(lang)
        label = w.label(f"label.deadline.{self.name}", self.label_zh, self.label_en)
        head = w.text("deadline.head", label=label, name=self.name)
        if self.fixed:
            due = w.text("end_of_day", day=self.record.last_day.isoformat())
            body = w.text("deadline.fixed", anchor=self.record.anchor[:10], due=due)
            if self.record.extensions:
                reason = self.record.extensions[-1].get("reason", "")
                body += "\n" + w.text("deadline.extended", reason=reason)
        else:
            body = self.due.explain(w) if self.due is not None else ""
        status = w.text(f"deadline.status.{self.record.status}")
        late = self.days_late
        if self.record.status == "met_late" and late:
            status = w.count("deadline.late_by", late, status=status)
        ended = self.record.ended_at
        lines = [
            head,
            body,
            w.text("deadline.status", status=status)
            if ended is None
            else w.text("deadline.status_ended", status=status, ended_at=ended.isoformat()),
        ]
        if self.moved:
            assert self.due is not None
            lines.append(w.text("deadline.moved", today=self.due.last_day, stored=self.last_day))
        return "\n".join(line for line in lines if line)


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


#: Entries kept by each of the ledger's small memos before it starts afresh.
_MEMO_SIZE = 1024


_ONE_DAY = dt.timedelta(days=1)
