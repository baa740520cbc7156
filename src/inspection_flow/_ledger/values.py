"""What the ledger hands back: decisions, batches, alert notices, moved deadlines, deadline
views; and the clock it reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, Protocol

import attrs

from .._areas import Actor
from .._records import (
    DeadlineRecord,
)
from .._rules import SHANGHAI, Due, as_instant

#: Events the ledger itself records, outside any lifecycle definition.
ALERT = "alert"


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
    """A daily hand-over batch (交办批次) of complaint cases."""

    round_id: str
    number: int
    day: dt.date
    case_ids: tuple[str, ...]


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


@attrs.frozen
class DeadlineView:
    """A stored deadline with its live explanation."""

    name: str
    label_zh: str
    label_en: str
    record: DeadlineRecord
    due: Due | None
    fixed: bool = False

    @property
    def status(self) -> str:
        """``open``, ``met`` or ``cancelled``."""
        return self.record.status

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
        return (
            self.record.status == "open"
            and self.record.kind == "due"
            and not self.record.suspended
            and as_instant(now, "now") >= self.record.due_at
        )

    def explain(self, lang: Literal["zh", "en"] = "zh") -> str:
        """Explain how the stored due date was reached, and what became of it."""
        zh = lang == "zh"
        head = f"{self.label_zh}（{self.name}）" if zh else f"{self.label_en} ({self.name})"
        if self.fixed:
            anchor = self.record.anchor[:10]
            day = self.record.last_day.isoformat()
            body = (
                f"期限由方案确定（{anchor}）：{day} 24:00 (Asia/Shanghai)"
                if zh
                else f"Deadline set in the plan ({anchor}): {day} 24:00 (Asia/Shanghai)"
            )
            if self.record.extensions:
                ext = self.record.extensions[-1]
                body += (
                    f"\n延期：{ext.get('reason', '')}"
                    if zh
                    else f"\nExtended: {ext.get('reason', '')}"
                )
        else:
            body = self.due.explain(lang) if self.due is not None else ""
        status = {
            "open": ("未完成", "open"),
            "met": ("已完成", "met"),
            "cancelled": ("已取消", "cancelled"),
        }[self.record.status][0 if zh else 1]
        ended = f" {self.record.ended_at.isoformat()}" if self.record.ended_at else ""
        lines = [head, body, ("状态：" if zh else "Status: ") + status + ended]
        if self.moved:
            assert self.due is not None
            lines.append(
                f"注意：按现行规则和日历应为 {self.due.last_day}，已存期限 {self.last_day} 未改动；"
                "如需更新请执行 recompute"
                if zh
                else f"Note: today's rules and calendar give {self.due.last_day}; the stored "
                f"{self.last_day} is unchanged until recompute is run"
            )
        return "\n".join(line for line in lines if line)


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


#: Entries kept by each of the ledger's small memos before it starts afresh.
_MEMO_SIZE = 1024


_ONE_DAY = dt.timedelta(days=1)
