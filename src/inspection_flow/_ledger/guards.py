"""Guards: preconditions of transitions, checked before an event is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._areas import Actor
from .._builtin import FINDINGS_ZH
from .._records import (
    Snapshot,
)
from .values import _actor_key

if TYPE_CHECKING:
    from .base import _Base


@attrs.frozen
class _GuardContext:
    ledger: _Base
    snapshot: Snapshot
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, Any]


def _same_unit(ctx: _GuardContext, field: str, what: str) -> str | None:
    earlier = ctx.snapshot.data.get(field)
    if earlier is None:
        return None
    # A unit is its area and name: two unnamed actors of one area cannot be told apart,
    # so they count as the same unit and must give their names to verify each other.
    key = _actor_key(earlier)
    if key is not None and key == _actor_key(ctx.actor):
        return (
            f"{ctx.actor.name or ctx.actor.area} {what}; who accepts is answerable "
            "(谁验收、谁负责), so another unit must verify"
        )
    return None


def _guard_finding_substantiated(ctx: _GuardContext) -> str | None:
    if ctx.snapshot.data.get("finding") == "unsubstantiated":
        return (
            f"the finding is {FINDINGS_ZH['unsubstantiated']} (unsubstantiated); "
            "report the result instead"
        )
    return None


def _guard_not_the_applicant(ctx: _GuardContext) -> str | None:
    return _same_unit(ctx, "applied_by", "applied for acceptance itself")


def _guard_not_the_claimant(ctx: _GuardContext) -> str | None:
    return _same_unit(ctx, "claimed_by", "claimed completion itself")


def _guard_notice_elapsed(ctx: _GuardContext) -> str | None:
    record = ctx.snapshot.deadlines.get("notice_ends")
    if record is None or record.status != "open":
        return "no public notice is running"
    if ctx.at < record.due_at:
        return (
            f"the public notice (公示) runs until {record.last_day.isoformat()} 24:00; "
            "close after it ends"
        )
    return None


def _guard_all_tasks_closed(ctx: _GuardContext) -> str | None:
    open_tasks = [
        s.entity_id
        for s in ctx.ledger.store.find(kind="task", round_id=ctx.snapshot.entity_id)
        if s.state not in ("closed", "filed")
    ]
    if open_tasks:
        shown = ", ".join(open_tasks[:5]) + (" …" if len(open_tasks) > 5 else "")
        return f"{len(open_tasks)} task(s) not yet closed: {shown}"
    return None


GUARDS: Mapping[str, Callable[[_GuardContext], str | None]] = {
    "finding_substantiated": _guard_finding_substantiated,
    "not_the_applicant": _guard_not_the_applicant,
    "not_the_claimant": _guard_not_the_claimant,
    "notice_elapsed": _guard_notice_elapsed,
    "all_tasks_closed": _guard_all_tasks_closed,
}
