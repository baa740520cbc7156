"""Sweeps: recording each warning and escalation that came due, exactly once, from one or
several workers."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import attrs

from .._checks import (
    check_limit,
)
from .._records import (
    Commit,
    DeadlineRecord,
    Snapshot,
    fold,
    iso,
)
from .._rules import as_instant
from ..exceptions import (
    ConcurrencyError,
)
from .base import _event_keeping_state
from .engine import _Engine
from .values import _SYSTEM, ALERT, AlertNotice

_log = logging.getLogger(__name__)

#: Alerts of a sweep: the deadline's name, the alert, the deadline's record.
_Alerts = list[tuple[str, tuple[str, str, dt.datetime, str], DeadlineRecord]]


def _alert_order(item: tuple[str, tuple[str, str, dt.datetime, str], DeadlineRecord]) -> Any:
    """Alerts in the order they fell due, then by deadline and alert name."""
    name, alert, _ = item
    return (alert[2], name, alert[1])


class _Sweep(_Engine):
    """Sweeps: recording each warning and escalation that came due, exactly once, from one
    or several workers."""

    def sweep(self, now: dt.datetime | None = None, *, limit: int = 500) -> list[AlertNotice]:
        """Record every warning and escalation that came due by ``now``, each exactly once.

        Safe to run as often as wanted, and from several workers at once: an alert is
        recorded as an event on its entity, and a second worker racing for the same entity
        loses the optimistic-concurrency check and skips it.

        Args:
            now: the present, aware; by default the ledger's clock.
            limit: how many entities each claim takes (claims go on until none is due).

        Returns:
            An :class:`AlertNotice` for each alert this call recorded (none that another
            worker recorded).

        Raises:
            AnchorError: ``now`` is not an aware datetime; PayloadError: ``limit`` is not a
                whole number from 1 to 10,000.
        """
        check_limit(limit, "limit", minimum=1, event="sweep")
        when = as_instant(now, "now") if now is not None else as_instant(self.clock.now())
        notices: list[AlertNotice] = []
        seen: set[str] = set()
        while True:
            claimed = self.store.claim_due_alerts(when, worker=self._worker, limit=limit)
            batch = [s for s in claimed if s.entity_id not in seen]
            if not batch:
                break
            for snap in batch:
                seen.add(snap.entity_id)
                try:
                    notices.extend(self._fire_alerts(snap, when))
                except ConcurrencyError:
                    # Another worker recorded these alerts, or the entity moved on: read it
                    # again and record whatever is still pending.
                    _log.debug("sweep: %s changed meanwhile; reading it again", snap.entity_id)
                    fresh = self.store.get(snap.entity_id)
                    if fresh is not None:
                        try:
                            notices.extend(self._fire_alerts(fresh, when))
                        except ConcurrencyError:
                            continue
        _log.info(
            "sweep at %s: %d alerts recorded on %d entities",
            when.isoformat(),
            len(notices),
            len(seen),
        )
        return notices

    def _fire_alerts(self, snap: Snapshot, now: dt.datetime) -> list[AlertNotice]:
        pending: _Alerts = []
        # An early warning found only once its deadline has passed (a late sweep) would
        # warn of what is already overdue: it is recorded as superseded, not announced.
        superseded: _Alerts = []
        for name, record in snap.deadlines.items():
            late = now >= record.due_at
            for alert in record.pending_alerts(now):
                stale = late and alert[0] == "warning"
                (superseded if stale else pending).append((name, alert, record))
        if not pending and not superseded:
            return []
        pending.sort(key=_alert_order)
        superseded.sort(key=_alert_order)
        every = sorted([*superseded, *pending], key=_alert_order)
        changes: dict[str, Any] = {}
        for name, alert, record in every:
            current = DeadlineRecord.from_dict(changes[name]) if name in changes else record
            changes[name] = attrs.evolve(current, fired=(*current.fired, alert[1])).to_dict()
        # Recorded as of the latest alert's own instant, not the sweep's: a clerk may still
        # enter what happened between the alert and the sweep.
        at = max(every[-1][1][2], snap.updated_at)
        payload: dict[str, Any] = {"alerts": [[n, a[0], a[1], iso(a[2])] for n, a, _ in pending]}
        if superseded:
            payload["superseded"] = [[n, a[0], a[1], iso(a[2])] for n, a, _ in superseded]
        ev = _event_keeping_state(
            snap, ALERT, at, _SYSTEM, payload, {"deadlines": changes}, self._recorded_at()
        )
        self._write((Commit(fold(snap, ev), (ev,), snap.version),))
        return [
            AlertNotice(
                snap.entity_id, snap.kind, snap.area, name, a[0], a[1], a[2], record.due_at, a[3]
            )
            for name, a, record in pending
        ]
