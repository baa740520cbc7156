"""Complaint cases (信访件): receiving them through the hotline window, daily batches and
their hand-over, splitting a case."""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .._areas import Actor
from .._checks import (
    MAX_YEAR,
    check_date,
    check_id,
)
from .._collector import collector_paused
from .._definitions import CREATE, Lifecycle
from .._records import (
    NO_DEADLINES,
    Commit,
    Event,
    Snapshot,
    fold,
    iso,
)
from .._rulebook import Rulebook
from .._rules import SHANGHAI, Channel, as_instant
from .._wording import wording
from ..exceptions import (
    ConcurrencyError,
    GuardError,
    PayloadError,
    PermissionDeniedError,
)
from ..stores import EventStore
from ..stores._base import at_most
from .engine import _build, _Plans
from .inputs import _CATEGORY_SET, _check_actor, _check_category, _check_ids, _check_text, _plain
from .rounds import _INTAKE_STATES, _Rounds
from .values import _ONE_DAY, Batch


@attrs.define(slots=True)
class _Intake:
    """What receiving a complaint needs of its round, valid while the round is unchanged."""

    last_hash: str
    generation: int
    rulebook: Rulebook
    lifecycle: Lifecycle
    windowed: frozenset[Channel]
    closes: dt.time
    window: str
    first_day: dt.date | None
    last_day: dt.date | None
    creations: dict[tuple[Actor, str, str], tuple[tuple[Any, ...], Mapping[str, Any]]]
    # The last acceptance sequence given out by intake day, read from the store once per
    # day and round state, then counted on here.
    sequences: dict[str, int] = attrs.field(factory=dict)


# A Channel is a str enum: looking up the member itself finds its value's entry, and a
# value is found in a set of members.
_CHANNEL_VALUES: Mapping[Any, str] = {c.value: c.value for c in Channel}

_HAND_OVER = "hand_over_batch"
# How often a receipt counts again when other processes took its number meanwhile.
_NUMBER_RETRIES = 20
# Cases a hand-over outside a batch reads, moves and writes at a time.
_HAND_OVER_PAGE = 2000


def _all_categories(
    complaint_id: str | None, category: str, categories: Sequence[str]
) -> list[str]:
    """Return every category of a complaint, the primary one first, each once.

    Raises:
        PayloadError: ``categories`` is not a list, or names an unknown category.
    """
    if not isinstance(categories, (list, tuple)):
        raise PayloadError(
            complaint_id or "-", CREATE, "categories", "must be a list of pollution categories"
        )
    return list(dict.fromkeys([category, *(_check_category(complaint_id, c) for c in categories)]))


class _NumberTaken(Exception):
    """Another process gave out the acceptance number a receipt was about to write."""

    def __init__(self, error: PayloadError) -> None:
        super().__init__(str(error))
        self.error = error


class _Complaints(_Rounds):
    """Complaint cases (信访件): receiving them through the hotline window, daily batches and
    their hand-over, splitting a case."""

    def receive_complaint(
        self,
        round_id: str,
        *,
        channel: Channel | str,
        received_at: dt.datetime,
        area: str,
        summary: str,
        category: str,
        actor: Actor,
        complaint_id: str | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        categories: Sequence[str] | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a complaint (信访件) received by the round's team.

        Its intake day follows the rulebook's hotline window (a call after 20:00 belongs to
        the next day); it will be handed over in the batch of the day after.
        ``late_entry_reason`` is as for :meth:`fire`.

        ``category`` is the complaint's primary pollution category, the one
        ``counts("category")`` counts; ``categories`` names every category it concerns
        (一件举报可能涉及多种问题类型), kept as ``data["categories"]`` with the primary one
        first, each counted by ``counts("categories")``.

        When the rulebook sets ``[intake] acceptance_number`` and no ``complaint_id`` is
        given, the complaint gets the next acceptance number (受理编号) of its intake day,
        kept as ``data["acceptance_number"]`` and as its id (``<round_id>/<number>``): the
        store refuses an id twice, so two processes never give out the same number (the
        later one counts again and takes the next).
        """
        # Outside a batch, the round's read and the receipt's write share one connection
        # of the store, as a command's do (a batch holds one for its reads already).
        held = self.store.holding_reads() if self._pending is None else contextlib.nullcontext()
        with held:
            # A receipt whose number another process took meanwhile counts again and takes
            # the next: the store refuses an id twice.
            for tries in range(_NUMBER_RETRIES, -1, -1):
                try:
                    return self._receive_complaint(
                        round_id,
                        channel=channel,
                        received_at=received_at,
                        area=area,
                        summary=summary,
                        category=category,
                        actor=actor,
                        complaint_id=complaint_id,
                        command_id=command_id,
                        late_entry_reason=late_entry_reason,
                        categories=categories,
                        **data,
                    )
                except _NumberTaken as taken:
                    if not tries:
                        raise taken.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def receive_complaints(
        self, round_id: str, rows: Iterable[Mapping[str, Any]], *, actor: Actor
    ) -> list[Snapshot]:
        """Record many complaints received by the round's team, in one write: an import.

        Each row holds the keyword arguments of :meth:`receive_complaint` (``channel``,
        ``received_at``, ``area``, ``summary``, ``category``, and any of
        ``complaint_id``, ``command_id``, ``late_entry_reason``, ``categories`` and
        other data); ``actor`` records them all.  Every check of
        :meth:`receive_complaint` is made on every row; the round is read once, and the
        rows' ids are checked together with one look-up per 500.  Inside
        :meth:`batch` the rows join the block's write.

        Returns:
            The complaints' snapshots, in the order of the rows.

        Raises:
            PayloadError: a row is not a mapping, or names ``round_id`` or ``actor``
                (given once, for all rows); and every error of
                :meth:`receive_complaint`, for the first row refused. Nothing of the
                rows is written then.
        """
        check_id(round_id, "round_id", event=CREATE)
        _check_actor(actor, round_id, CREATE)
        given = list(rows) if not isinstance(rows, list) else rows
        for row in given:
            if not isinstance(row, Mapping) or not all(k.__class__ is str for k in row):
                raise PayloadError(
                    round_id,
                    CREATE,
                    "rows",
                    f"each row must be a mapping of receive_complaint's arguments, not {row!r}",
                )
            if "round_id" in row or "actor" in row:
                raise PayloadError(
                    str(row.get("complaint_id") or round_id),
                    CREATE,
                    "round_id" if "round_id" in row else "actor",
                    "give the round and the actor once, for all rows, not in a row",
                )
        with self.batch():
            self._read_ahead(
                [round_id] + [i for row in given if (i := row.get("complaint_id")).__class__ is str]
            )
            self._read_ahead_commands(
                c for row in given if (c := row.get("command_id")) is not None
            )
            return [self.receive_complaint(round_id, actor=actor, **row) for row in given]

    def _receive_complaint(
        self,
        round_id: str,
        *,
        channel: Channel | str,
        received_at: dt.datetime,
        area: str,
        summary: str,
        category: str,
        actor: Actor,
        complaint_id: str | None = None,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
        categories: Sequence[str] | None = None,
        **data: Any,
    ) -> Snapshot:
        """Record a complaint; see :meth:`receive_complaint`."""
        # Long by design: the hot path of an intake of thousands of cases a day: checks and
        # effects are worked out once per actor, area and category, inline (see
        # docs/performance.md).
        rnd = self._load(check_id(round_id, "round_id", event=CREATE))
        if rnd is None or rnd.kind != "round" or rnd.state not in _INTAKE_STATES:
            rnd = self._round(round_id, _INTAKE_STATES, "receiving complaints")
        ctx = self._intakes.get(round_id)
        if ctx is None or ctx.last_hash != rnd.last_hash or ctx.generation != self.areas.generation:
            ctx = self._intake_context(rnd)
        try:
            ch = _CHANNEL_VALUES[channel]
        except (KeyError, TypeError):
            raise PayloadError(
                complaint_id or "-",
                CREATE,
                "channel",
                f"unknown channel {channel!r}; use one of {', '.join(c.value for c in Channel)}",
            ) from None
        if category.__class__ is not str or category not in _CATEGORY_SET:
            category = _check_category(complaint_id, category)
        if summary.__class__ is not str or not summary.strip() or not summary.isprintable():
            _check_text(complaint_id, "summary", summary)
        if area.__class__ is not str or complaint_id is not None or command_id is not None:
            _check_ids(complaint_id, area, command_id)
        when = (
            received_at
            if received_at.__class__ is dt.datetime
            and received_at.tzinfo is SHANGHAI
            and received_at.year <= MAX_YEAR
            else as_instant(received_at, "received_at")
        )
        intake = when.date()
        if ch in ctx.windowed and when.time() >= ctx.closes:
            intake += _ONE_DAY
        days = self._day_iso.get(intake)
        if days is None:
            days = self._day_iso[intake] = (intake.isoformat(), (intake + _ONE_DAY).isoformat())
        number = None
        seq = 0
        if complaint_id is None and ctx.rulebook.acceptance_number:
            number, seq = self._acceptance_number(ctx, round_id, ch, intake, days[0])
            entity_id = f"{round_id}/{number}"
        else:
            entity_id = complaint_id or f"{round_id}/C-{uuid.uuid4().hex[:12]}"
        # Who may record a complaint of this area and category is worked out once per
        # round state; later complaints of the same kind reuse the answer and effects.
        key = (actor, area, category) if actor.__class__ is Actor else None
        known = ctx.creations.get(key) if key is not None else None
        outside = False
        if known is None or entity_id.__class__ is not str or not entity_id:
            known = None
            self._in_round(rnd, actor, entity_id)
        payload: dict[str, Any] = {
            "channel": ch,
            "received_at": iso(when),
            "summary": summary,
            "intake_day": days[0],
            "batch_day": days[1],
        }
        if data:
            payload = {**_plain(data), **payload}
        if categories is not None:
            payload["categories"] = _all_categories(complaint_id, category, categories)
        if number is not None:
            payload["acceptance_number"] = number
            payload["acceptance_seq"] = seq
        if known is not None:
            recorded = self._recorded_at()
            late = self._late_entry(
                ctx.rulebook, entity_id, CREATE, when, recorded, late_entry_reason
            )
            ev, snap = _build(
                ctx.lifecycle,
                known[0],
                known[1] if late is None else {**known[1], "late_entry": late},
                NO_DEADLINES,
                entity_id,
                when,
                actor,
                payload,
                command_id,
                recorded,
            )
        else:
            ev, snap = self._create(
                entity_id=entity_id,
                lifecycle=ctx.lifecycle,
                rb=ctx.rulebook,
                area=area,
                actor=actor,
                at=when,
                round_id=round_id,
                category=category,
                data=payload,
                command_id=command_id,
                late_entry_reason=late_entry_reason,
            )
            # Never remembered as a known shape: each such complaint is looked at again;
            # a back-dated entry's effects are its own, never shared with later ones.
            outside = not any(self.areas.covers(r, area) for r in rnd.areas)
            if (
                key is not None
                and not snap.deadlines
                and not outside
                and "late_entry" not in ev.effects
            ):
                shape = (
                    snap.kind,
                    snap.lifecycle,
                    area,
                    snap.areas,
                    round_id,
                    None,
                    None,
                    category,
                )
                ctx.creations[key] = (shape, ev.effects)
        # Checked once the actor may create complaints at all: who asks comes first.
        if ctx.first_day is not None and when.date() < ctx.first_day:
            raise GuardError(
                entity_id,
                CREATE,
                "station_in",
                f"received {when.date()}, before the team stationed in on {ctx.first_day}",
            )
        if ctx.last_day is not None and ch in ctx.windowed and intake > ctx.last_day:
            raise GuardError(
                entity_id,
                CREATE,
                "hotline_open",
                f"the hotline ({ctx.window}) closed with the station-in on {ctx.last_day}; "
                "record a later complaint as a letter",
            )
        try:
            if outside:
                stored = self._outside_round(ctx.rulebook, rnd, ev, snap, command_id, complaint_id)
            else:
                stored = self._commit_new(ev, snap, command_id, generated=not complaint_id)
        except PayloadError as exc:
            if number is None or exc.field != "entity_id":
                raise
            ctx.sequences.pop(days[0], None)
            raise _NumberTaken(exc) from None
        if number is not None and stored.entity_id == entity_id:
            # Counted on only once written: a refused receipt leaves no gap.
            ctx.sequences[days[0]] = max(seq, ctx.sequences.get(days[0], 0))
        return stored

    def _acceptance_number(
        self, ctx: _Intake, round_id: str, channel: str, intake: dt.date, day: str
    ) -> tuple[str, int]:
        """Return the next acceptance number (受理编号) of the round's intake day, and its
        sequence."""
        last = ctx.sequences.get(day)
        if last is None:
            # Once per day and round state: the numbers already given out, read back.
            last = max(
                (
                    int(s.data.get("acceptance_seq", 0))
                    for s in self.store.find(kind="complaint", round_id=round_id)
                    if s.data.get("intake_day") == day
                ),
                default=0,
            )
            ctx.sequences[day] = last
        number = ctx.rulebook.acceptance_number.format(
            channel=ctx.rulebook.channel_letters.get(channel, channel),
            day=intake.strftime("%Y%m%d"),
            seq=last + 1,
        )
        return number, last + 1

    def _outside_round(
        self,
        rb: Rulebook,
        rnd: Snapshot,
        ev: Event,
        snap: Snapshot,
        command_id: str | None,
        complaint_id: str | None,
    ) -> Snapshot:
        """Refuse a complaint about an area outside the round's, or record it as passed on
        to that area, as the rulebook's ``[intake] outside_round`` says.

        Raises:
            GuardError: the rulebook refuses such complaints (its default).
        """
        names = "、".join(f"{self.areas.name(a)} {a}" for a in rnd.areas)
        where = f"{self.areas.name(snap.area)} {snap.area}"
        if rb.outside_round != "pass_on":
            raise GuardError(
                snap.entity_id,
                CREATE,
                "within_round",
                f"{where} is outside the round {rnd.entity_id} over {names}; record the "
                f"complaint in the round covering {snap.area}, or set [intake] outside_round "
                '= "pass_on" in the rulebook to pass such complaints on',
            )
        reason = wording("zh").text("intake.outside_round", round=names, area=where)
        # Worked out before anything is written, so a refusal of the pass-on leaves no
        # complaint behind.
        ev2, passed = self._transition(snap, "pass_on", ev.actor, ev.at, {"reason": reason}, None)
        stored = self._commit_new(ev, snap, command_id, generated=not complaint_id)
        if stored.version != snap.version or stored.last_hash != snap.last_hash:
            return stored  # a retried command: the first attempt's answer stands
        self._write((Commit(passed, (ev2,), snap.version),))
        return passed

    def _intake_context(self, rnd: Snapshot) -> _Intake:
        """What receiving a complaint needs of its round, worked out once per round state."""
        rb = self.rulebook_of(rnd)
        first_day = last_day = None
        station = rnd.deadlines.get("station_in_ends")
        if station is not None:
            first_day = dt.datetime.fromisoformat(station.anchor).astimezone(SHANGHAI).date()
            if station.ended_at is not None:
                last_day = station.ended_at.astimezone(SHANGHAI).date()
        ctx = _Intake(
            rnd.last_hash,
            self.areas.generation,
            rb,
            rb.lifecycle("complaint"),
            rb.intake.windowed_channels,
            rb.intake.window.closes,
            rb.intake.window.describe(),
            first_day,
            last_day,
            {},
        )
        self._intakes[rnd.entity_id] = ctx
        return ctx

    def pending_for_batch(self, round_id: str, day: dt.date) -> list[Snapshot]:
        """Return received cases of the round due in the batch of ``day`` (or earlier)."""
        check_id(round_id, "round_id", event="pending_for_batch")
        iso = check_date(day, "day", entity_id=round_id, event="pending_for_batch").isoformat()
        return [
            s
            for s in self.store.find(kind="complaint", round_id=round_id, state="received")
            if str(s.data.get("batch_day", "")) <= iso
        ]

    def hand_over_batch(
        self,
        round_id: str,
        day: dt.date,
        *,
        actor: Actor,
        at: dt.datetime,
        late_entry_reason: str | None = None,
    ) -> Batch | None:
        """Batch and hand over every received case due on ``day`` (交办), in one write.

        The batch holds the intake of the day before (the previous day's hotline window and
        letters); cases still waiting from earlier days join it.  Each case's result clock
        starts at ``at``, and the day it was handed over is recorded (``handed_over_day``)
        beside the batch day its intake gave it (``batch_day``, unchanged): the batch
        names the cases handed over after their batch day (:attr:`Batch.late`).  Inside
        :meth:`batch`, the cases the batch itself received are waiting too.  Returns
        ``None`` when nothing was received for the day.
        ``late_entry_reason`` is as for :meth:`fire`.

        Raises:
            GuardError: ``at`` is before ``day``, or the day's batch was already handed
                over and nothing has been received for it since (the message names the
                batch).
            PermissionDeniedError, ChronologyError: as for :meth:`fire`; nothing is
                written then.
        """
        return self._hand_over_batch(round_id, day, actor, at, late_entry_reason)

    def _hand_over_days(
        self,
        round_id: str,
        days: Sequence[tuple[dt.date, dt.datetime]],
        *,
        actor: Actor,
        late_entry_reason: str | None,
        known: Mapping[str, Snapshot] | None = None,
    ) -> list[Batch | None]:
        """:meth:`hand_over_batch` for each ``(day, at)`` in turn, the days in order (an
        import's), all in one transaction: if one day's hand-over is refused, none is
        written.  The cases waiting for the last day are found once, with their batch
        days, and each day's hand-over reads only its own cases.  ``known``: snapshots
        of cases the caller holds, not read again (see :func:`_still_waiting`)."""
        ordered = sorted(days)
        if not ordered:
            return []
        last = ordered[-1][0].isoformat()
        by_day = self._waiting_by_day(round_id, last)
        pending = sorted(by_day)
        plan: list[tuple[dt.date, dt.datetime, list[str]]] = []
        for day, at in ordered:
            taken = bisect.bisect_right(pending, day.isoformat())
            due, pending = pending[:taken], pending[taken:]
            ids = [i for batch_day in due for i in by_day[batch_day]]
            if len(due) > 1:
                ids.sort()
            plan.append((day, at, ids))
        try:
            return self._hand_over_plan(round_id, plan, actor, late_entry_reason, known)
        except ConcurrencyError:
            if known is None:
                raise
            # A case held moved on meanwhile (nothing was written): the cases are read
            # again.
            return self._hand_over_plan(round_id, plan, actor, late_entry_reason, None)

    def _waiting_by_day(self, round_id: str, last: str) -> dict[str, list[str]]:
        """The round's cases waiting for a batch of ``last`` or before, in id order, by
        their batch day."""
        # The ids and batch days alone, counted by the store (the SQL store reads them in
        # the database): no snapshot is read, so each is read once, by its day's page.
        counted = self.store.count_values(
            ("state", "entity_id", "data.batch_day"), kind="complaint", round_id=round_id
        )
        values: Iterable[tuple[Any, Any, Any]] = counted
        if self._pending is not None:
            # Inside a batch: the round's complaints as the batch leaves them.
            stored = {entity_id: (state, day) for state, entity_id, day in counted}
            for snap in self._pending.values():
                if snap.kind == "complaint" and snap.round_id == round_id:
                    stored[snap.entity_id] = (snap.state, snap.data.get("batch_day"))
            values = ((state, entity_id, day) for entity_id, (state, day) in stored.items())
        # The batch days in order, each with its waiting cases in id order: a day's batch
        # takes the days up to its own.
        by_day: dict[str, list[str]] = {}
        for state, entity_id, batch_day in values:
            if state == "received" and at_most(batch_day, last):
                by_day.setdefault("" if batch_day is None else str(batch_day), []).append(entity_id)
        for ids in by_day.values():
            ids.sort()
        return by_day

    def _hand_over_plan(
        self,
        round_id: str,
        plan: Sequence[tuple[dt.date, dt.datetime, list[str]]],
        actor: Actor,
        late_entry_reason: str | None,
        known: Mapping[str, Snapshot] | None,
    ) -> list[Batch | None]:
        """Hand over each day's cases of ``plan`` (``(day, at, ids)``, the days in order)
        in one transaction, the round's batches numbered on from the day before's; inside
        a batch, in the batch's write, the cases as the batch leaves them."""
        check_id(round_id, "round_id", event=_HAND_OVER)
        _check_actor(actor, round_id, _HAND_OVER)
        rnd = self._round(round_id, _INTAKE_STATES, "handing over a batch", _HAND_OVER)
        # Written in one transaction, the hand-overs' events are recorded at one instant.
        recorded_at = self._recorded_at()
        batches: list[Batch | None] = []

        def chunks() -> Iterator[list[Commit]]:
            nonlocal rnd
            for day, at, ids in plan:
                self._check_hand_over(rnd, day, actor, at)
                wanted = day.isoformat()
                pages = (
                    [
                        s
                        for s in self._still_waiting(ids[k : k + _HAND_OVER_PAGE], round_id, known)
                        if str(s.data.get("batch_day", "")) <= wanted
                    ]
                    for k in range(0, len(ids), _HAND_OVER_PAGE)
                )
                batch, rnd = yield from self._day_commits(
                    rnd, day, pages, actor, at, late_entry_reason, recorded_at
                )
                if batch is None:
                    self._refuse_a_day_done(round_id, day)
                batches.append(batch)

        if not any(ids for _, _, ids in plan):
            # No case waits: nothing to write, only days handed over before to refuse.
            for day, at, _ in plan:
                self._check_hand_over(rnd, day, actor, at)
                self._refuse_a_day_done(round_id, day)
            return [None] * len(plan)
        if self._pending is not None:
            for chunk in chunks():
                self._write(chunk)
            return batches
        # Freed page by page by reference counting; the collector would only walk them.
        with collector_paused():
            self.store.append_chunks(chunks())
        return batches

    def _still_waiting(
        self, ids: list[str], round_id: str, known: Mapping[str, Snapshot] | None
    ) -> list[Snapshot]:
        """:func:`_still_waiting`; inside a batch, the cases as the batch leaves them."""
        if self._pending is None:
            return _still_waiting(ids, self.store, round_id, known)
        self._read_ahead(ids)
        return [
            s
            for entity_id in ids
            if (s := self._load(entity_id)) is not None
            and (s.kind, s.round_id, s.state) == ("complaint", round_id, "received")
        ]

    def _hand_over_batch(
        self,
        round_id: str,
        day: dt.date,
        actor: Actor,
        at: dt.datetime,
        late_entry_reason: str | None,
    ) -> Batch | None:
        # Refusals speak of the command the clerk called, never of the round's internal
        # record_batch event.
        check_id(round_id, "round_id", event=_HAND_OVER)
        check_date(day, "day", entity_id=round_id, event=_HAND_OVER)
        _check_actor(actor, round_id, _HAND_OVER)
        rnd = self._round(round_id, _INTAKE_STATES, "handing over a batch", _HAND_OVER)
        self._check_hand_over(rnd, day, actor, at)
        # Outside a batch the cases are read, moved and written page by page, in one
        # transaction: a hand-over of 100,000 cases never holds them all.  Inside one,
        # they are the cases as the batch leaves them, its own receipts among them.
        return self._hand_over_days(
            round_id, [(day, at)], actor=actor, late_entry_reason=late_entry_reason
        )[0]

    def _check_hand_over(self, rnd: Snapshot, day: dt.date, actor: Actor, at: dt.datetime) -> None:
        """Refuse the hand-over of ``day``'s batch by ``actor`` at ``at`` in the round."""
        round_id = rnd.entity_id
        recording = self.lifecycle_of(rnd).transition(rnd.state, "record_batch")
        if recording is not None and actor.role not in recording.roles:
            raise PermissionDeniedError(
                round_id,
                _HAND_OVER,
                actor.role,
                actor.area,
                f"only {', '.join(sorted(recording.roles))} may hand over a batch",
            )
        if as_instant(at, "at").date() < day:
            # The batch of a day holds the intake of the day before, complete only once
            # that day is over.
            raise GuardError(
                round_id,
                _HAND_OVER,
                "batch_day",
                f"the batch of {day.isoformat()} cannot be handed over before that day",
            )

    def _refuse_a_day_done(self, round_id: str, day: dt.date) -> None:
        """With no case waiting for ``day``: refuse it if its batch was handed over."""
        done = self._batch_of_day(round_id, day)
        if done is not None:
            raise GuardError(
                round_id,
                _HAND_OVER,
                "batch_day",
                f"the batch of {day.isoformat()} was already handed over (batch {done}) "
                "and no case has been received for it since",
            )

    def _day_commits(
        self,
        rnd: Snapshot,
        day: dt.date,
        pages: Iterable[list[Snapshot]],
        actor: Actor,
        at: dt.datetime,
        late_entry_reason: str | None,
        recorded_at: dt.datetime,
    ) -> Generator[list[Commit], None, tuple[Batch | None, Snapshot]]:
        """Yield the commits that batch and hand over the cases of ``pages`` (waiting for
        ``day``), page by page, then the round's record of the batch, every event
        recorded at ``recorded_at``; return the batch and the round after it (``None``
        and the round as it was if no case waits)."""
        round_id = rnd.entity_id
        number = int(rnd.data.get("batches", 0)) + 1
        on = as_instant(at, "at").astimezone(SHANGHAI).date()
        handed = {"day": on.isoformat()}
        numbered = {"number": number}
        ids: list[str] = []
        late: list[str] = []
        # The cases' two steps are checked and their effects worked out once for cases
        # alike (see _Engine._transition).
        plans: _Plans = {}
        for page in pages:
            if not page:
                continue
            commits = []
            for snap in page:
                ev1, mid = self._transition(
                    snap, "batch", actor, at, numbered, None, late_entry_reason, recorded_at, plans
                )
                ev2, new = self._transition(
                    mid, "hand_over", actor, at, handed, None, late_entry_reason, recorded_at, plans
                )
                commits.append(Commit(new, (ev1, ev2), snap.version))
                ids.append(snap.entity_id)
                if str(snap.data.get("batch_day", handed["day"])) < handed["day"]:
                    late.append(snap.entity_id)
            yield commits
        if not ids:
            return None, rnd
        recorded: dict[str, Any] = {
            "number": number,
            "day": day.isoformat(),
            "cases": ids,
            "handed_over_on": handed["day"],
        }
        if late:
            recorded["late"] = late
        ev, new_round = self._transition(
            rnd, "record_batch", actor, at, recorded, None, late_entry_reason, recorded_at
        )
        yield [Commit(new_round, (ev,), rnd.version)]
        return Batch(round_id, number, day, tuple(ids), on, tuple(late)), new_round

    def _batch_of_day(self, round_id: str, day: dt.date) -> int | None:
        """Return the number of the latest batch handed over for ``day``, if any."""
        wanted = day.isoformat()
        numbers = [
            int(ev.payload["number"])
            for ev in self.store.events(round_id)
            if ev.name == "record_batch" and ev.payload.get("day") == wanted
        ]
        return numbers[-1] if numbers else None

    def mark_duplicate(
        self,
        case_id: str,
        original_id: str,
        *,
        actor: Actor,
        at: dt.datetime,
        command_id: str | None = None,
        late_entry_reason: str | None = None,
    ) -> Event:
        """Mark a complaint a repeat (重复件) of ``original_id``, pointing to it and its batch.

        A repeat is marked on receipt, or once handed over in a batch (重复件，见第X批),
        where it stays counted in the batch's and the round's totals as published lists
        count it; its result and publication clocks stop.  The case records
        ``duplicate_of`` and, once the original was batched, ``duplicate_of_batch``.
        ``command_id`` and ``late_entry_reason`` are as for :meth:`fire`.

        Raises:
            PayloadError: the original is the case itself, or not a complaint of the same
                round; EntityNotFoundError: either is unknown; InvalidTransitionError,
                PermissionDeniedError: as for :meth:`fire`.  Nothing is written then.
        """
        case = self.get(check_id(case_id, "case_id", event="mark_duplicate"))
        original = self.get(
            check_id(original_id, "original_id", entity_id=case_id, event="mark_duplicate")
        )
        if original.entity_id == case.entity_id or (original.kind, original.round_id) != (
            case.kind,
            case.round_id,
        ):
            raise PayloadError(
                case_id,
                "mark_duplicate",
                "duplicate_of",
                f"{original_id} is not another complaint of round {case.round_id}; name the "
                "case this one repeats",
            )
        pointer: dict[str, Any] = {"duplicate_of": original.entity_id}
        if original.batch is not None:
            pointer["duplicate_of_batch"] = original.batch
        return self.fire(
            case_id,
            "mark_duplicate",
            actor=actor,
            at=at,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
            **pointer,
        )

    def split_case(
        self,
        case_id: str,
        areas: Sequence[str],
        *,
        actor: Actor,
        at: dt.datetime,
        late_entry_reason: str | None = None,
    ) -> list[Snapshot]:
        """Split a handed-over case between areas (分解): one child case per area.

        Each child keeps the parent's result clock; the parent ends in ``split``.
        ``late_entry_reason`` is as for :meth:`fire`.
        """
        # Long by design: splitting writes the parent's event and each child's creation and hand-
        # over in one batch.
        parent = self.get(case_id)
        _check_actor(actor, case_id, "split")
        if not isinstance(areas, (list, tuple)):
            raise PayloadError(case_id, "split", "areas", "must be a list of area codes")
        for area in areas:
            check_id(area, "areas", entity_id=case_id, event="split")
        if len(set(areas)) < 2:
            raise PayloadError(case_id, "split", "areas", "name at least two different areas")
        ev, new_parent = self._transition(
            parent, "split", actor, at, {"areas": list(areas)}, None, late_entry_reason
        )
        rb = self.rulebook_of(parent)
        lc = rb.lifecycle("complaint")
        commits = [Commit(new_parent, (ev,), parent.version)]
        children: list[Snapshot] = []
        inherited = {
            n: attrs.evolve(r, fired=()) for n, r in parent.deadlines.items() if r.status == "open"
        }
        for i, area in enumerate(dict.fromkeys(areas), start=1):
            child_id = f"{case_id}-{i}"
            if self._load(child_id) is not None:
                raise PayloadError(
                    case_id,
                    "split",
                    "areas",
                    f"the part's id {child_id} is already used by another entity",
                )
            data = {**parent.data, "split_from": case_id}
            cev, child = self._create(
                entity_id=child_id,
                lifecycle=lc,
                rb=rb,
                area=area,
                actor=actor,
                # Whoever may split the parent creates its parts.
                creators=frozenset({actor.role}),
                at=at,
                round_id=parent.round_id,
                parent_id=case_id,
                category=parent.category,
                data=data,
                batch=parent.batch,
                extra_deadlines=inherited,
                late_entry_reason=late_entry_reason,
            )
            # A split case starts where its parent stood: handed over, clock running.
            jump = Event.new(
                child_id,
                2,
                "inherit",
                ev.at,
                actor,
                {"from": case_id},
                child.state,
                "handed_over",
                {},
                None,
                child.last_hash,
                cev.recorded_at,
            )
            child = fold(child, jump)
            commits.append(Commit(child, (cev, jump), 0))
            children.append(child)
        self._write(commits)
        return children


def _still_waiting(
    ids: list[str],
    store: EventStore,
    round_id: str,
    known: Mapping[str, Snapshot] | None = None,
) -> list[Snapshot]:
    """The cases of ``ids`` still received in the round, read together, in the order of
    ``ids`` (a batch lists its cases in id order, whatever order the store answers in).

    ``known``: snapshots the caller holds (an import's receipts), taken as they are; the
    write's version check refuses the hand-over if one has moved on meanwhile."""
    if known is None:
        found = store.get_many(ids)
    else:
        missing = [i for i in ids if i not in known]
        found = store.get_many(missing) if missing else {}
        found.update((i, known[i]) for i in ids if i in known)
    return [
        s
        for entity_id in ids
        if (s := found.get(entity_id)) is not None
        and (s.kind, s.round_id, s.state) == ("complaint", round_id, "received")
    ]
