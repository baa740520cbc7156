"""The progress dispatch (调度): each period's call for progress reports, with its due date
from the rulebook, and the warning-light evaluation of the round's tasks (贴蓝签、挂黄牌、
亮红灯) with what escalates: two yellow cards → a supervision letter (专函督办), a red light
→ a summons talk (约谈)."""

from __future__ import annotations

import calendar as _months
import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from .._areas import Actor
from .._checks import check_date, check_id, check_text
from .._records import Snapshot
from .._rules import SHANGHAI
from ..exceptions import GuardError, PayloadError
from .inputs import _check_actor
from .publications import _Publications
from .rounds import _TASK_STATES
from .tasks import _rectify_record
from .values import DispatchResult

_OPEN = "open_dispatch"
_EVALUATE = "evaluate_dispatch"
#: The reason recorded for a task red because its rectification deadline has passed.
DEADLINE_PASSED = "deadline_passed"


def _period(value: object, cadence: str, round_id: str) -> tuple[int, int]:
    """Return a dispatch period as (year, month), from ``"YYYY-MM"`` or a day in it.

    Raises:
        PayloadError: not a month, or under a quarterly cadence not a quarter's last month.
    """
    if isinstance(value, dt.date):
        year, month = value.year, value.month
    else:
        text = value if isinstance(value, str) else ""
        try:
            year, month = (int(part) for part in text.split("-"))
            if len(text) != 7 or not 1 <= month <= 12 or year < 1:
                raise ValueError(text)
        except ValueError:
            raise PayloadError(
                round_id, _OPEN, "period", f"{value!r} must be a month, 'YYYY-MM'"
            ) from None
    if cadence == "quarterly" and month % 3:
        raise PayloadError(
            round_id,
            _OPEN,
            "period",
            f"the rulebook dispatches quarterly: give a quarter's last month (03, 06, 09, 12), "
            f"not {year:04d}-{month:02d}",
        )
    return year, month


def reports_due(year: int, month: int, report_day: int | Literal["last"]) -> dt.date:
    """The day progress reports of a period are due: the rulebook's day of its month."""
    if report_day == "last":
        return dt.date(year, month, _months.monthrange(year, month)[1])
    return dt.date(year, month, report_day)


def _day_of(instant: str) -> dt.date:
    """The day in Shanghai of an instant stored as ISO text."""
    return dt.datetime.fromisoformat(instant).astimezone(SHANGHAI).date()


def _result(snap: Snapshot) -> DispatchResult:
    data = snap.data
    return DispatchResult(
        snap.entity_id,
        snap.round_id or "",
        str(data["period"]),
        dt.date.fromisoformat(data["on"]),
        dict(data["lights"]),
        tuple(data.get("done") or ()),
        dict(data.get("reasons") or {}),
        tuple(data.get("supervision_letters") or ()),
        tuple(data.get("summons_talks") or ()),
    )


class _Dispatches(_Publications):
    """The progress dispatch (调度) and its warning-light evaluation."""

    def open_dispatch(
        self,
        round_id: str,
        period: str | dt.date,
        *,
        actor: Actor,
        at: dt.datetime,
        dispatch_id: str | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
    ) -> Snapshot:
        """Call for the period's progress reports (调度通知): a ``dispatch`` of the round.

        The reports are due on the rulebook's ``[dispatch] report_day`` of the period's
        month (月底 by default), the dispatch's ``reports_due`` deadline, met when the
        reports are collected or the tasks evaluated.

        Args:
            round_id: the round, from its feedback on (整改 follows it).
            period: the month, ``"YYYY-MM"`` or a day in it; under a quarterly cadence,
                a quarter's last month.
            actor, at: who calls for the reports (the rectification office) and when,
                before the reports are due.
            dispatch_id: its id (default ``<round>/dispatch-YYYY-MM``: one a period).
            command_id, late_entry_reason: as for :meth:`fire`.

        Raises:
            GuardError: the round has had no feedback yet, or is closed; PayloadError: a
                bad period, the period already dispatched, or ``at`` not before the reports'
                due day; PermissionDeniedError: as for :meth:`create`.
        """
        check_id(round_id, "round_id", event=_OPEN)
        _check_actor(actor, round_id, _OPEN)
        rnd = self._round(round_id, _TASK_STATES, "dispatching rectification progress", _OPEN)
        rb = self.rulebook_of(rnd)
        year, month = _period(period, rb.dispatch, round_id)
        name = f"{year:04d}-{month:02d}"
        entity_id = dispatch_id or f"{round_id}/dispatch-{name}"
        due = reports_due(year, month, rb.dispatch_report_day)

        def checked() -> tuple[str | None, dict[str, Any]]:
            return None, {"period": name, "reports_due": due.isoformat()}

        return self._create_in_round(
            round_id,
            _TASK_STATES,
            "dispatching rectification progress",
            "dispatch",
            "dispatch",
            entity_id,
            checked,
            area=rnd.area,
            actor=actor,
            at=at,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )

    def evaluate_dispatch(
        self,
        dispatch_id: str,
        *,
        on: dt.date,
        actor: Actor,
        at: dt.datetime,
        red: Mapping[str, str] | None = None,
        note: str | None = None,
        command_id: str | None = None,
    ) -> DispatchResult:
        """Evaluate the round's tasks at a dispatch and record the lights (亮灯评价).

        Each task planned by ``on`` and not completed gets a light from its 序时进度 that
        day (:meth:`progress`): ``blue`` (贴蓝签) when on schedule; ``yellow`` (挂黄牌)
        when behind a milestone; ``red`` (亮红灯) when past its rectification deadline,
        or when ``red`` names it (judged unable to finish in time, criticised by a higher
        level or exposed by the media, as the office finds).  Completed tasks are
        listed as done.  A task whose yellow cards since its last supervision letter
        reach two gets a supervision letter (专函督办); each red task, a summons talk of
        its unit's head (约谈).  Yellow cards are counted over the round's dispatches of
        earlier periods that were evaluated.

        Args:
            dispatch_id: the dispatch.
            on: the day progress is judged (the facts as they stood by its end).
            actor, at: who evaluates (the rectification office) and when.
            red: tasks found red by the office, each with the reason.
            note: a remark recorded with the evaluation.
            command_id: as for :meth:`fire`.

        Returns:
            The :class:`DispatchResult` recorded.

        Raises:
            PayloadError: the id is not a dispatch's, or ``red`` names a task that is not
                evaluated; InvalidTransitionError: the dispatch was evaluated already;
                PermissionDeniedError, ChronologyError: as for :meth:`fire`.
        """
        # Long by design: judging each task, then counting its cards over earlier dispatches.
        check_id(dispatch_id, "dispatch_id", event=_EVALUATE)
        snap = self.get(dispatch_id)
        if snap.kind != "dispatch":
            raise PayloadError(
                dispatch_id,
                _EVALUATE,
                "dispatch_id",
                f"{dispatch_id} is a {snap.kind}, not a dispatch",
            )
        day = check_date(on, "on", entity_id=dispatch_id, event=_EVALUATE)
        named = dict(red or {})
        for task_id, reason in named.items():
            check_id(task_id, "red", entity_id=dispatch_id, event=_EVALUATE)
            check_text(reason, "red", entity_id=dispatch_id, event=_EVALUATE)
        lights: dict[str, str] = {}
        reasons: dict[str, str] = {}
        done: list[str] = []
        for task in sorted(
            self.store.find(kind="task", round_id=snap.round_id), key=lambda s: s.entity_id
        ):
            record = _rectify_record(task)
            if record is None or _day_of(record.anchor) > day:
                continue  # not planned by then: nothing to judge it against
            progress = self.progress(task.entity_id, on=day)
            tid = task.entity_id
            if progress == "done":
                done.append(tid)
                continue
            passed = record.status == "open" and not record.suspended and record.last_day < day
            if tid in named:
                lights[tid], reasons[tid] = "red", named[tid]
            elif passed:
                lights[tid], reasons[tid] = "red", DEADLINE_PASSED
            else:
                lights[tid] = "yellow" if progress == "behind" else "blue"
        unknown = sorted(set(named) - set(lights))
        if unknown:
            raise PayloadError(
                dispatch_id,
                _EVALUATE,
                "red",
                f"{unknown[0]} is not a task of round {snap.round_id} open and planned by "
                f"{day.isoformat()}; name only tasks the dispatch evaluates",
            )
        letters = self._second_yellow_cards(snap, lights)
        talks = sorted(t for t, light in lights.items() if light == "red")
        payload: dict[str, Any] = {
            "on": day,
            "lights": lights,
            "done": done,
            "reasons": reasons,
            "supervision_letters": letters,
            "summons_talks": talks,
        }
        if note is not None:
            payload["note"] = note
        self.fire(dispatch_id, "evaluate", actor=actor, at=at, command_id=command_id, **payload)
        return self.dispatch_result(dispatch_id)

    def _second_yellow_cards(self, snap: Snapshot, lights: Mapping[str, str]) -> list[str]:
        """The yellow tasks whose cards since their last supervision letter reach two."""
        period = str(snap.data["period"])
        earlier = sorted(
            (
                d
                for d in self.store.find(kind="dispatch", round_id=snap.round_id)
                if d.state == "evaluated" and str(d.data["period"]) < period
            ),
            key=lambda d: (str(d.data["period"]), str(d.data["on"])),
        )
        cards: dict[str, int] = {}
        for d in earlier:
            for task_id, light in dict(d.data["lights"]).items():
                if light == "yellow":
                    cards[task_id] = cards.get(task_id, 0) + 1
            for task_id in d.data.get("supervision_letters") or ():
                cards[task_id] = 0
        return sorted(
            t for t, light in lights.items() if light == "yellow" and cards.get(t, 0) + 1 >= 2
        )

    def dispatch_result(self, dispatch_id: str) -> DispatchResult:
        """Return a dispatch's evaluation as recorded.

        Raises:
            EntityNotFoundError: no such entity; PayloadError: it is not a dispatch;
            GuardError: it has not been evaluated yet.
        """
        check_id(dispatch_id, "dispatch_id", event="dispatch_result")
        snap = self.get(dispatch_id)
        if snap.kind != "dispatch":
            raise PayloadError(
                dispatch_id,
                "dispatch_result",
                "dispatch_id",
                f"{dispatch_id} is a {snap.kind}, not a dispatch",
            )
        if "lights" not in snap.data:
            raise GuardError(
                dispatch_id,
                "dispatch_result",
                "evaluated",
                f"the dispatch of {snap.data.get('period')} has not been evaluated yet; "
                "evaluate it with evaluate_dispatch",
            )
        return _result(snap)

    def dispatches(self, round_id: str) -> list[DispatchResult]:
        """Return the round's evaluated dispatches, by period.

        Raises:
            EntityNotFoundError: no such round; PayloadError: the id is not a round's.
        """
        check_id(round_id, "round_id", event="dispatches")
        self._round(round_id, None, "listing dispatches", "dispatches")
        found = [
            _result(s)
            for s in self.store.find(kind="dispatch", round_id=round_id)
            if "lights" in s.data
        ]
        return sorted(found, key=lambda r: (r.period, r.dispatch_id))
