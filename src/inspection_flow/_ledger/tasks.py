"""Rectification tasks (整改任务) and document requests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

from .._areas import Actor
from .._builtin import parse_milestone
from .._records import (
    DeadlineRecord,
    Snapshot,
)
from .._rules import SHANGHAI
from .complaints import _Complaints
from .inputs import _check_category, _check_text, _plain
from .rounds import _DOCUMENT_STATES, _TASK_ADD_STATES

Progress = Literal["done", "on_schedule", "behind"]


def _judge(
    closed: bool, milestones: list[str], met: set[int], deadline_passed: bool, on: dt.date
) -> Progress:
    """已完成 / 达到序时进度 / 未达序时进度: every milestone due by ``on`` must be met."""
    if closed:
        return "done"
    for number, text in enumerate(milestones, start=1):
        milestone = parse_milestone(text)
        if milestone is not None and milestone[0] < on and number not in met:
            return "behind"
    return "behind" if deadline_passed else "on_schedule"


#: The deadlines by which a task is to be rectified: the plan's (整改时限), or the one of
#: a problem rectified on the spot during the station-in (立行立改).
RECTIFY_DEADLINES = ("rectify_due", "immediate_due")


def _rectify_record(snap: Snapshot) -> DeadlineRecord | None:
    for name in RECTIFY_DEADLINES:
        record = snap.deadlines.get(name)
        if record is not None:
            return record
    return None


class _Tasks(_Complaints):
    """Rectification tasks (整改任务) and document requests."""

    def add_task(
        self,
        round_id: str,
        *,
        title: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        task_id: str | None = None,
        category: str | None = None,
        areas: Sequence[str] | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a rectification task (整改任务): a problem of the round's feedback
        (反馈问题), or one found during the station-in, to be rectified on the spot
        (``rectify_immediately``, 立行立改).

        A task may span several counties: ``areas`` lists them all (``area`` among them,
        first), and each one's officers see it and may act on it; the plan's ``owner``
        and ``owners`` then say whose it is.  ``late_entry_reason`` is as for
        :meth:`fire`.
        """

        if isinstance(areas, (list, tuple)):
            # The task's area is one of them, and its primary one.
            areas = list(dict.fromkeys([area, *areas]))

        def checked() -> tuple[str | None, dict[str, Any]]:
            _check_text(task_id, "title", title)
            known = _check_category(task_id, category) if category is not None else None
            return known, {**_plain(data), "title": title}

        return self._create_in_round(
            round_id,
            _TASK_ADD_STATES,
            "adding tasks from feedback",
            "task",
            "T",
            task_id,
            checked,
            area=area,
            areas=areas,
            actor=actor,
            at=at,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )

    def request_documents(
        self,
        round_id: str,
        *,
        documents: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        request_id: str | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
    ) -> Snapshot:
        """Record a document request (调阅资料) of the team to an area; its clock starts now.

        ``late_entry_reason`` is as for :meth:`fire`.
        """

        def checked() -> tuple[str | None, dict[str, Any]]:
            _check_text(request_id, "documents", documents)
            return None, {"documents": documents}

        return self._create_in_round(
            round_id,
            _DOCUMENT_STATES,
            "requesting documents",
            "document_request",
            "D",
            request_id,
            checked,
            area=area,
            actor=actor,
            at=at,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )

    def _create_in_round(
        self,
        round_id: str,
        states: frozenset[str],
        what: str,
        lifecycle: str,
        prefix: str,
        given_id: str | None,
        checked: Callable[[], tuple[str | None, dict[str, Any]]],
        *,
        area: str,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None,
        late_entry_reason: str | None,
        areas: Sequence[str] | None = None,
    ) -> Snapshot:
        """Create an entity of one of the round's lifecycles, while the round is in
        ``states``, with an id made up (``<round>/<prefix>-…``) when none is given.

        ``checked`` checks the command's own fields once the round and the actor's part
        in it are (who asks comes first) and gives the category and data.
        """
        rnd = self._round(round_id, states, what)
        self._in_round(rnd, actor, given_id or "-")
        rb = self.rulebook_of(rnd)
        category, data = checked()
        entity_id = given_id or f"{round_id}/{prefix}-{uuid.uuid4().hex[:12]}"
        ev, snap = self._create(
            entity_id=entity_id,
            lifecycle=rb.lifecycle(lifecycle),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            category=category,
            data=data,
            areas=areas,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )
        return self._commit_new(ev, snap, command_id, generated=not given_id)

    def progress(self, task_id: str, *, on: dt.date) -> Progress:
        """Judge a task's 序时进度 on the day ``on``, from its history up to that day.

        A milestone (阶段目标) dated before ``on`` must have been reported met
        (``meet_milestone``) by the end of ``on``; a task that is not long-term must also
        not be past its rectification deadline (整改时限).

        Returns:
            ``"done"`` (已完成): closed by that day; ``"on_schedule"`` (达到序时进度);
            ``"behind"`` (未达序时进度).

        Raises:
            EntityNotFoundError: no entity has this id.
        """
        snap = self.get(task_id)
        lifecycle = self.lifecycle_of(snap)
        state = snap.state
        milestones: list[str] = []
        met: set[int] = set()
        for event in self.history(task_id):
            if event.at.astimezone(SHANGHAI).date() > on:
                break
            state = event.state_after
            # Milestones are planned, added (a long-term task's next years) and met by
            # events that record the whole list each time.
            recorded = event.effects.get("data") or {}
            if "milestones" in recorded:
                milestones = list(recorded["milestones"] or [])
            if "milestones_met" in recorded:
                met = set(recorded["milestones_met"])
        record = _rectify_record(snap)
        passed = (
            record is not None
            and record.status == "open"
            and not record.suspended
            and record.last_day < on
        )
        return _judge(lifecycle.counts_as(state) == "closed", milestones, met, passed, on)

    def _progress_now(self, snap: Snapshot, on: dt.date) -> Progress:
        """A task's 序时进度 on ``on`` from its current record (no history read)."""
        record = _rectify_record(snap)
        passed = (
            record is not None
            and record.status == "open"
            and not record.suspended
            and record.last_day < on
        )
        return _judge(
            self.lifecycle_of(snap).counts_as(snap.state) == "closed",
            list(snap.data.get("milestones") or []),
            set(snap.data.get("milestones_met") or []),
            passed,
            on,
        )
