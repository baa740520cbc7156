"""Rectification tasks (整改任务) and document requests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from .._areas import Actor
from .._records import (
    Snapshot,
)
from .complaints import _Complaints
from .inputs import _check_category, _check_text, _plain
from .rounds import _DOCUMENT_STATES, _TASK_STATES


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
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a rectification task (整改任务) from the round's feedback (反馈问题).

        ``late_entry_reason`` is as for :meth:`fire`.
        """
        rnd = self._round(round_id, _TASK_STATES, "adding tasks from feedback")
        self._in_round(rnd, actor, task_id or "-")
        rb = self.rulebook_of(rnd)
        _check_text(task_id, "title", title)
        if category is not None:
            category = _check_category(task_id, category)
        entity_id = task_id or f"{round_id}/T-{uuid.uuid4().hex[:12]}"
        ev, snap = self._create(
            entity_id=entity_id,
            lifecycle=rb.lifecycle("task"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            category=category,
            data={**_plain(data), "title": title},
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )
        return self._commit_new(ev, snap, command_id, generated=not task_id)

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
        rnd = self._round(round_id, _DOCUMENT_STATES, "requesting documents")
        self._in_round(rnd, actor, request_id or "-")
        rb = self.rulebook_of(rnd)
        _check_text(request_id, "documents", documents)
        entity_id = request_id or f"{round_id}/D-{uuid.uuid4().hex[:12]}"
        ev, snap = self._create(
            entity_id=entity_id,
            lifecycle=rb.lifecycle("document_request"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            round_id=round_id,
            data={"documents": documents},
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )
        return self._commit_new(ev, snap, command_id, generated=not request_id)
