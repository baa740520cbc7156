"""The deadline engine: starting deadlines, their clocks (pauses, extensions), explaining
and recomputing them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._areas import Actor
from .._definitions import DeadlineBinding, Transition
from .._records import (
    Commit,
    DeadlineRecord,
    Snapshot,
    fold,
    iso,
)
from .._rulebook import Rulebook
from .._rules import DeadlineRule, Due, Pause
from ..exceptions import (
    GuardError,
    InspectionFlowError,
    PayloadError,
)
from .base import _Base, _event_keeping_state
from .inputs import _check_actor, _extension
from .values import _MEMO_SIZE, RECOMPUTE, DeadlineView, Moved, _record_overdue

_log = logging.getLogger(__name__)


def _given(binding: DeadlineBinding, record: DeadlineRecord) -> bool:
    """Whether the record's last day was given in the data rather than computed."""
    # A day given in the data is kept in a rule built for it and named after the
    # deadline (Rulebook.rule_for); a computed one keeps the rulebook's rule and key.
    return binding.date_field is not None and record.rule.get("name") == binding.name


class _Deadlines(_Base):
    """The deadline engine: starting deadlines, their clocks (pauses, extensions),
    explaining and recomputing them."""

    def deadlines(self, entity_id: str) -> list[DeadlineView]:
        """Return each deadline of the entity, stored values with a live explanation.

        Returns:
            One :class:`DeadlineView` per deadline, by due instant then name: its
            ``status`` (``open``, ``met``, ``met_late``, ``cancelled``), ``last_day``,
            ``due_at``, ``days_late``, ``is_overdue(now)``, ``explain(lang)`` and the
            stored ``record``.

        Raises:
            EntityNotFoundError: no such entity.
        """
        return self._deadline_views(self.get(entity_id))

    def _deadline_views(
        self, snap: Snapshot, *, overdue_at: dt.datetime | None = None
    ) -> list[DeadlineView]:
        """:meth:`deadlines` of an entity whose snapshot is at hand; with ``overdue_at``,
        only those overdue then (:meth:`DeadlineView.is_overdue`), the others not computed."""
        lc = self.lifecycle_of(snap)
        rb = self.rulebook_of(snap)
        labels = {b.name: (b.label_zh or b.name, b.label_en or b.name) for b in lc.deadlines}
        bindings = {b.name: b for b in lc.deadlines}
        fixed = {
            name
            for name, record in snap.deadlines.items()
            if name in bindings and _given(bindings[name], record)
        }
        rules = {b.name: b.rule for b in lc.deadlines}
        out = []
        for name, record in snap.deadlines.items():
            if overdue_at is not None and not _record_overdue(record, overdue_at):
                continue
            live = record
            if record.status == "open" and name not in fixed and rules.get(name) in rb.rules:
                # An open deadline is explained as today's rulebook would compute it, so a
                # changed rule shows as moved until recompute records it.
                live = attrs.evolve(record, rule=rb.rules[rules[name]].to_dict())
            try:
                due: Due | None = self._compute_record(live)
            except InspectionFlowError:
                due = None
            zh, en = labels.get(name, (name, name))
            out.append(DeadlineView(name, zh, en, record, due, name in fixed))
        return out

    def _record(
        self,
        name: str,
        rule: DeadlineRule,
        anchor: dt.datetime,
        due: Due,
        *,
        pauses: tuple[tuple[str, str | None, str], ...] = (),
        extensions: tuple[Mapping[str, Any], ...] = (),
        fired: tuple[str, ...] = (),
        kind: Literal["due", "period"] = "due",
    ) -> DeadlineRecord:
        alerts = [(a.kind, a.name, a.at, a.label_zh) for a in due.alerts()]
        # The end of a period (a station-in, a public notice) is not something to be late
        # for; a due date is, and says so when it passes.
        if kind == "due" and not any(
            k == "escalation" and at == due.due_at for k, _, at, _ in alerts
        ):
            alerts.append(("escalation", "overdue", due.due_at, "超期"))
        alerts.sort(key=lambda a: (a[2], a[1]))
        return DeadlineRecord(
            name=name,
            rule=self._rule_dict(rule),
            anchor=iso(anchor),
            last_day=due.last_day,
            due_at=due.due_at,
            calendar_version=due.calendar_version,
            provisional=due.provisional,
            suspended=due.suspended,
            pauses=pauses,
            extensions=extensions,
            alerts=tuple(alerts),
            fired=fired,
            kind=kind,
        )

    def _rule_dict(self, rule: DeadlineRule) -> Mapping[str, Any]:
        # Deadlines started under one rule share its (immutable) dict.
        found = self._rule_dicts.get(rule)
        if found is None:
            if len(self._rule_dicts) >= _MEMO_SIZE:
                self._rule_dicts.clear()  # a task's own date makes a rule of its own
            found = self._rule_dicts[rule] = rule.to_dict()
        return found

    def _start(
        self,
        entity_id: str,
        binding: DeadlineBinding,
        rb: Rulebook,
        at: dt.datetime,
        payload: Mapping[str, Any],
    ) -> DeadlineRecord:
        if binding.date_field is not None and payload.get(binding.date_field) is not None:
            last = dt.date.fromisoformat(payload[binding.date_field])
            if last <= at.date():
                raise PayloadError(
                    entity_id,
                    binding.starts_on,
                    binding.date_field,
                    f"the deadline {last.isoformat()} must be after {at.date().isoformat()}",
                )
            rule = rb.rule_for(binding, last, at.date())
        else:
            # Cases handed over in one batch start identical deadlines: compute each once
            # and share the (immutable) record.
            key = (binding, id(rb), id(self.calendar), at)
            hit = self._started.get(key)
            if hit is not None and hit[0] is rb and hit[1] is self.calendar:
                return hit[2]
            if binding.rule_optional and binding.rule not in rb.rules:
                raise PayloadError(
                    entity_id,
                    binding.starts_on,
                    str(binding.date_field),
                    f"the rulebook {rb.name!r} sets no time for the "
                    f"{binding.label_en or binding.name} ([deadlines.{binding.rule}]); "
                    "give its last day",
                )
            rule = rb.rule(binding.rule)
            record = self._record(
                binding.name, rule, at, rule.compute(at, self.calendar), kind=binding.kind
            )
            if len(self._started) >= _MEMO_SIZE:
                self._started.clear()
            self._started[key] = (rb, self.calendar, record)
            return record
        due = rule.compute(at, self.calendar)
        return self._record(binding.name, rule, at, due, kind=binding.kind)

    def _compute_record(self, record: DeadlineRecord) -> Due:
        rule = DeadlineRule.from_dict(record.rule)
        anchor = dt.datetime.fromisoformat(record.anchor)
        pauses = tuple(
            Pause(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e) if e else None, r)
            for s, e, r in record.pauses
        )
        extensions = tuple(_extension(e) for e in record.extensions)
        return rule.compute(anchor, self.calendar, pauses=pauses, extensions=extensions)

    def _recomputed(self, record: DeadlineRecord, **changes: Any) -> DeadlineRecord:
        updated = attrs.evolve(record, **changes)
        due = self._compute_record(updated)
        rule = DeadlineRule.from_dict(updated.rule)
        fresh = self._record(
            record.name,
            rule,
            dt.datetime.fromisoformat(record.anchor),
            due,
            pauses=updated.pauses,
            extensions=updated.extensions,
            kind=record.kind,
        )
        # An alert already recorded stays recorded: a moved deadline never fires it twice.
        return attrs.evolve(fresh, fired=record.fired)

    def _clock(
        self, snap: Snapshot, t: Transition, at: dt.datetime, payload: Mapping[str, Any]
    ) -> DeadlineRecord:
        """The record of the deadline a clock event works on, paused, resumed or extended."""
        record = snap.deadlines[payload["deadline"]]
        if t.clock == "pause":
            pauses = (*record.pauses, (at.isoformat(), None, payload["reason"]))
            return self._recomputed(record, pauses=pauses)
        if t.clock == "resume":
            start, _, reason = record.pauses[-1]
            pauses = (*record.pauses[:-1], (start, at.isoformat(), reason))
            return self._recomputed(record, pauses=pauses)
        ext: dict[str, Any] = {"reason": payload["reason"], "granted_at": at.isoformat()}
        for key in ("amount", "unit", "until"):
            if key in payload:
                ext[key] = payload[key]
        if "until" in payload:
            _refuse_shortening(snap.entity_id, t.event, record, payload["until"])
        try:
            _extension(ext)
            return self._recomputed(record, extensions=(*record.extensions, ext))
        except InspectionFlowError as exc:
            raise PayloadError(snap.entity_id, t.event, "amount", str(exc)) from exc

    def _check_clock(self, snap: Snapshot, t: Transition, payload: Mapping[str, Any]) -> None:
        event = t.event
        name = payload["deadline"]
        record = snap.deadlines.get(name)
        if record is None or record.status != "open":
            open_names = [n for n, r in snap.deadlines.items() if r.status == "open"]
            raise PayloadError(
                snap.entity_id,
                event,
                "deadline",
                f"no open deadline {name!r}; open now: {', '.join(open_names) or 'none'}",
            )
        paused = bool(record.pauses) and record.pauses[-1][1] is None
        if t.clock == "pause" and paused:
            raise GuardError(snap.entity_id, event, "clock_running", f"{name} is already paused")
        if t.clock == "resume" and not paused:
            raise GuardError(snap.entity_id, event, "clock_paused", f"{name} is not paused")
        if t.clock == "extend":
            has_amount = "amount" in payload or "unit" in payload
            if has_amount == ("until" in payload):
                raise PayloadError(
                    snap.entity_id,
                    event,
                    "amount",
                    "give either 'amount' with 'unit', or 'until'",
                )

    def _extend_until(
        self, snap: Snapshot, name: str, at: dt.datetime, payload: Mapping[str, Any]
    ) -> DeadlineRecord:
        record = snap.deadlines.get(name)
        if record is None or record.status != "open":
            raise PayloadError(
                snap.entity_id, "approve_extension", "until", f"no open deadline {name!r} to extend"
            )
        _refuse_shortening(snap.entity_id, "approve_extension", record, payload["until"])
        ext = {"reason": payload["reason"], "until": payload["until"], "granted_at": at.isoformat()}
        try:
            return self._recomputed(record, extensions=(*record.extensions, ext))
        except InspectionFlowError as exc:
            raise PayloadError(snap.entity_id, "approve_extension", "until", str(exc)) from exc

    def recompute(
        self, entity_id: str, *, actor: Actor, at: dt.datetime, apply: bool = True
    ) -> list[Moved]:
        """Recompute the entity's open deadlines with today's rulebook and calendar.

        Stored deadlines never move by themselves; this reports every difference and, if
        ``apply``, records them in one ``recompute`` event.
        """
        _check_actor(actor, entity_id, RECOMPUTE)
        snap = self.get(entity_id)
        when = self._instant(at, snap, entity_id)
        lc = self.lifecycle_of(snap)
        rb = self.rulebook_of(snap)
        moved: list[Moved] = []
        changes: dict[str, Any] = {}
        for name, record in snap.deadlines.items():
            if record.status != "open":
                continue
            binding = next((b for b in lc.deadlines if b.name == name), None)
            rule_dict = record.rule
            if binding is not None and not _given(binding, record):
                rule_dict = rb.rule(binding.rule).to_dict()
            fresh = self._recomputed(record, rule=rule_dict)
            if fresh.last_day != record.last_day or fresh.due_at != record.due_at:
                moved.append(
                    Moved(
                        entity_id,
                        name,
                        record.last_day,
                        fresh.last_day,
                        record.calendar_version,
                        fresh.calendar_version,
                    )
                )
                changes[name] = fresh.to_dict()
        if moved and apply:
            ev = _event_keeping_state(
                snap,
                RECOMPUTE,
                when,
                actor,
                {"moved": [m.deadline for m in moved]},
                {"deadlines": changes},
                self._recorded_at(),
            )
            self._write((Commit(fold(snap, ev), (ev,), snap.version),))
            _log.info(
                "recompute: %s: %s moved and recorded",
                entity_id,
                ", ".join(m.deadline for m in moved),
            )
        return moved


def _refuse_shortening(entity_id: str, event: str, record: DeadlineRecord, until: str) -> None:
    """Refuse an extension until a day before the deadline's last day.

    The rule refuses it too, unless a pause counted before it moved the last day past
    that day (an extension granted while the clock stood still moves nothing then).
    """
    if dt.date.fromisoformat(until) < record.last_day:
        raise PayloadError(
            entity_id,
            event,
            "until",
            f"{until} is before the current last day {record.last_day.isoformat()}; an "
            f"extension cannot shorten a period",
        )
