"""Random legal and illegal commands on one round with its complaints and tasks, checked
after every step against the lifecycle definitions and the ledger's promises."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import event as note
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from inspection_flow import (
    Actor,
    Batch,
    ChinaCalendar,
    ChronologyError,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    Ledger,
    Lifecycle,
    PayloadError,
    PermissionDeniedError,
    Rulebook,
    Snapshot,
    load_rulebook,
)
from strategies import (
    BY_ROLE,
    OFFICE,
    OUT_OF_AREA,
    OWNER,
    RECT_OFFICE,
    SAME_UNIT_ACCEPTOR,
    T0,
    TEAM,
    actor_for,
    payload_for,
)

HUNAN = load_rulebook("hunan-provincial-2023")
FINDINGS = ("substantiated", "largely_substantiated", "partly_substantiated", "unsubstantiated")
INTAKE_STATES = frozenset(
    {
        "stationed",
        "station_in_ended",
        "report_approved",
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)
TASK_STATES = frozenset(
    {
        "stationed",
        "station_in_ended",
        "report_approved",
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)
CLOCK_EVENTS = frozenset({"pause_clock", "resume_clock", "grant_extension"})
LEDGER_EVENTS = frozenset({"create", "alert", "alert_withdrawn", "recompute", "inherit"})
#: The ledger's notes on an entity: not facts, so they may be followed by earlier facts.
NOTES = frozenset({"alert", "alert_withdrawn"})

#: Steps of time between commands, in minutes: none, half an hour, 5 hours, a day, a week,
#: a month.
STEPS = st.sampled_from([0, 30, 300, 1440, 10080, 43200])
#: What a step does, weighted: moving an entity on most often, then random commands.
ACTIONS = (
    *("move_on",) * 5,
    *("fire",) * 4,
    "receive_complaint",
    "add_task",
    "hand_over_batch",
    "sweep",
)
#: At most a round and eight complaints or tasks, so each gets far.
MAX_ENTITIES = 9
#: Long: left out of the quick run (``-m "not slow"``).
pytestmark = pytest.mark.slow

#: Who fires: the right actor for the event, any role, an actor of another area, or the
#: owner's own unit posing as its verifier.
WHO = st.sampled_from(["right", "right", "right", "any", "elsewhere", "same_unit"])


_REVIEW_GUARDS = frozenset(
    {
        "result_with_this_level",
        "result_with_team",
        "fully_closed",
        "next_acceptance_review",
        "acceptance_complete",
    }
)


def _level_of(actor: Actor) -> str:
    """An actor's review level, as a clerk reads it: the team, or its area's level."""
    if actor.role == "inspection_team":
        return "team"
    if actor.area.endswith("0000"):
        return "province"
    return "city" if actor.area.endswith("00") else "county"


def _review_guard_fails(
    guard: str, rulebook: Rulebook, snap: Snapshot, actor: Actor, when: dt.datetime
) -> bool:
    """Whether a guard of the relay or of acceptance refuses, worked out from the data."""
    relay = rulebook.review_levels
    level = snap.data.get("result_level") or relay[1]
    if guard == "result_with_this_level":
        return level == "team" or _level_of(actor) != level
    if guard == "result_with_team":
        return snap.state == "reported" and level != "team"
    if guard == "fully_closed":
        return snap.state == "interim_closed"
    done = [r["level"] for r in snap.data.get("acceptance_reviews") or []]
    missing = [lv for lv in rulebook.acceptance_levels if lv not in done]
    if guard == "next_acceptance_review":
        by = snap.data.get("applied_by")
        own = by is not None and (by["area"], by["name"]) == (actor.area, actor.name)
        return not missing or _level_of(actor) != missing[0] or own
    notice = snap.deadlines.get("notice_ends")
    return bool(missing) or notice is None or notice.status != "open" or when < notice.due_at


class LedgerMachine(RuleBasedStateMachine):
    """One Yiyang round; complaints and tasks come and go as the commands allow."""

    def __init__(self) -> None:
        super().__init__()
        # An example's clock can run years past T0 (up to six moves of 30 days in a
        # step), past the years whose schedule is published: those count weekends only.
        self.ledger = Ledger(rulebook=HUNAN, calendar=ChinaCalendar(unpublished="weekends"))
        self.now = T0
        self.ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=T0)
        self.ids = ["R"]
        self.counter = itertools.count(1)
        #: Alerts seen, keyed by deadline instance: a deadline started again (a result
        #: reported again after re-handling starts ``publish_due`` afresh) may alert again.
        self.alerts: set[tuple[str, str, int, str]] = set()
        #: How many times each entity's deadline was started by an accepted command.
        self.starts: dict[tuple[str, str], int] = {}

    @initialize(stationed=st.booleans())
    def start(self, stationed: bool) -> None:
        """The round is planned, or already stationed with a call and a letter waiting."""
        if not stationed:
            return
        self.ledger.fire("R", "announce", actor=OFFICE, at=self.advance(60))
        self.ledger.fire("R", "station_in", actor=TEAM, at=self.advance(60 * 24 * 6))
        for channel in ("phone", "letter"):
            cid = f"C-{next(self.counter)}"
            self.ledger.receive_complaint(
                "R",
                channel=channel,
                received_at=self.advance(60),
                area="430903",
                summary="粉尘污染",
                category="air",
                actor=TEAM,
                complaint_id=cid,
            )
            self.ids.append(cid)

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """Do one thing, chosen with weights that let entities travel far in few steps."""
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        getattr(self, action)(data)

    # -- helpers ------------------------------------------------------------------------

    def advance(self, minutes: int) -> dt.datetime:
        self.now += dt.timedelta(minutes=minutes)
        return self.now

    def versions(self) -> dict[str, int]:
        return {i: self.ledger.get(i).version for i in self.ids}

    def covers(self, outer: str, areas: tuple[str, ...] | list[str]) -> bool:
        return any(self.ledger.areas.covers(outer, a) for a in areas)

    def refused(self, expected: type[Exception], call: Any, before: dict[str, int]) -> None:
        """Run ``call``, which must raise exactly ``expected`` and change nothing."""
        snaps = {i: self.ledger.get(i) for i in self.ids}
        with pytest.raises(InspectionFlowError) as info:
            call()
        assert type(info.value) is expected, (type(info.value), expected, info.value)
        note(f"refused: {expected.__name__}")
        assert self.versions() == before
        assert {i: self.ledger.get(i) for i in self.ids} == snaps

    def in_round(self, actor: Actor) -> bool:
        return self.covers(actor.area, ["430900"]) or self.ledger.areas.covers("430900", actor.area)

    # -- creating -------------------------------------------------------------------------

    def receive_complaint(self, data: st.DataObject) -> None:
        """The team takes a complaint, if the round and the hotline allow it."""
        if len(self.ids) >= MAX_ENTITIES:
            return
        channel = data.draw(st.sampled_from(["phone", "letter"]), label="channel")
        area = data.draw(st.sampled_from(["430903", "430902", "yiyang-datonghu"]), label="area")
        actor = data.draw(
            st.sampled_from([TEAM, TEAM, BY_ROLE["liaison"], OUT_OF_AREA[1]]), label="actor"
        )
        when = self.advance(data.draw(STEPS, label="step"))
        cid = f"C-{next(self.counter)}"
        expected = self.complaint_refusal(self.ledger.get("R"), channel, when, actor)

        def call() -> Snapshot:
            return self.ledger.receive_complaint(
                "R",
                channel=channel,
                received_at=when,
                area=area,
                summary="夜间施工噪声",
                category="noise",
                actor=actor,
                complaint_id=cid,
            )

        if expected is not None:
            self.refused(expected, call, self.versions())
            return
        snap = call()
        assert (snap.state, snap.area, snap.version) == ("received", area, 1)
        self.ids.append(cid)

    def complaint_refusal(
        self, rnd: Snapshot, channel: str, when: dt.datetime, actor: Actor
    ) -> type[Exception] | None:
        """The error receiving a complaint must raise, in the order the ledger checks."""
        if rnd.state not in INTAKE_STATES:
            return GuardError
        if not self.in_round(actor):
            return PermissionDeniedError
        if actor.role != "inspection_team":
            return PermissionDeniedError
        station = rnd.deadlines["station_in_ends"]
        intake = HUNAN.intake.intake_day(when, channel)
        if station.ended_at is not None and channel == "phone" and intake > station.ended_at.date():
            return GuardError
        return None

    def add_task(self, data: st.DataObject) -> None:
        """The rectification office adds a task from the feedback, if the round allows it."""
        if len(self.ids) >= MAX_ENTITIES:
            return
        actor = data.draw(
            st.sampled_from([RECT_OFFICE, RECT_OFFICE, OWNER, OUT_OF_AREA[4]]), label="actor"
        )
        area = data.draw(st.sampled_from(["430903", "430902"]), label="area")
        when = self.advance(data.draw(STEPS, label="step"))
        tid = f"T-{next(self.counter)}"
        expected: type[Exception] | None = None
        if self.ledger.get("R").state not in TASK_STATES:
            expected = GuardError
        elif not self.in_round(actor) or actor.role != "rectification_office":
            expected = PermissionDeniedError

        def call() -> Snapshot:
            return self.ledger.add_task(
                "R", title="整改反馈问题", area=area, actor=actor, at=when, task_id=tid
            )

        if expected is not None:
            self.refused(expected, call, self.versions())
            return
        assert call().state == "identified"
        self.ids.append(tid)

    # -- firing ---------------------------------------------------------------------------

    def fire(self, data: st.DataObject) -> None:
        """Fire an event, legal or not, by a right or wrong actor, now or too early."""
        entity = data.draw(st.sampled_from(self.ids), label="entity")
        snap = self.ledger.get(entity)
        lc = self.ledger.lifecycle_of(snap)
        allowed = lc.allowed(snap.state)
        events = st.sampled_from(allowed) if allowed else st.sampled_from(lc.events)
        event = data.draw(st.one_of(events, st.sampled_from(lc.events)), label="event")
        t = lc.transition(snap.state, event)
        who = data.draw(WHO, label="who")
        if who == "right" and t is not None:
            actor = actor_for(t.roles)
        elif who == "same_unit":
            actor = SAME_UNIT_ACCEPTOR
        elif who == "elsewhere":
            actor = data.draw(st.sampled_from(OUT_OF_AREA), label="actor")
        else:
            actor = data.draw(st.sampled_from(list(BY_ROLE.values())), label="actor")
        step = data.draw(STEPS, label="step")
        if snap.version > 1 and data.draw(st.integers(0, 5), label="earlier") == 0:
            when = snap.updated_at - dt.timedelta(minutes=step or 1)
        else:
            when = self.advance(step)
        bad = data.draw(st.integers(0, 9), label="bad payload") == 0
        self.try_fire(data, snap, lc, event, actor, when, bad=bad)

    def move_on(self, data: st.DataObject) -> None:
        """Move one entity on by a few state-changing events, each by the right actor after
        any wait it needs; the round less often than its complaints and tasks."""
        movable = [i for i in self.ids[1:] if not self.ledger.get(i).terminal]
        if not movable or data.draw(st.integers(0, 5), label="round?") == 5:
            movable = ["R"]
        entity = data.draw(st.sampled_from(movable), label="entity")
        step = data.draw(STEPS, label="step")
        moves = 1 if entity == "R" else data.draw(st.integers(1, 6), label="moves")
        for _ in range(moves):
            snap = self.ledger.get(entity)
            lc = self.ledger.lifecycle_of(snap)
            forward = [
                (e, t)
                for e in lc.allowed(snap.state)
                if (t := lc.transition(snap.state, e)) is not None and t.target
            ]
            if not forward:
                return
            event, t = data.draw(st.sampled_from(forward), label="event")
            when = self.advance(step)
            notice = snap.deadlines.get("notice_ends")
            if event == "close" and notice is not None and notice.status == "open":
                self.now = when = max(when, notice.due_at)
            self.try_fire(data, snap, lc, event, actor_for(t.roles), when, bad=False)

    def try_fire(
        self,
        data: st.DataObject,
        snap: Snapshot,
        lc: Lifecycle,
        event: str,
        actor: Actor,
        when: dt.datetime,
        *,
        bad: bool,
    ) -> None:
        """Fire, expecting the precise refusal the oracle names or the definition's move."""
        entity = snap.entity_id
        payload = payload_for(snap.lifecycle, event, snap, when)
        if event == "record_finding":
            payload["finding"] = data.draw(st.sampled_from(FINDINGS), label="finding")
        if bad:
            payload["bogus"] = "不该有的字段"
        expected = self.fire_refusal(snap, lc, event, actor, when, payload, bad)
        before = self.versions()

        def call() -> Any:
            return self.ledger.fire(entity, event, actor=actor, at=when, **payload)

        if expected is not None:
            self.refused(expected, call, before)
            return
        recorded = call()
        t = lc.transition(snap.state, event)
        assert t is not None
        note(f"accepted: {snap.lifecycle} {event}")
        for b in lc.deadlines_started_by(event):
            self.starts[entity, b.name] = self.starts.get((entity, b.name), 0) + 1
        after = self.ledger.get(entity)
        assert after.state == (t.target or snap.state)
        # A fact entered back in time that met a deadline before an alert the sweep
        # recorded is followed by the alert's withdrawal, in the same write.
        withdrawn = after.version == snap.version + 2
        assert after.version == snap.version + 1 or withdrawn
        if withdrawn:
            assert self.ledger.history(entity)[-1].name == "alert_withdrawn"
            assert when < snap.updated_at
        assert (recorded.name, recorded.actor, recorded.at) == (event, actor, when)
        assert {i: v for i, v in self.versions().items() if i != entity} == {
            i: v for i, v in before.items() if i != entity
        }

    def fire_refusal(
        self,
        snap: Snapshot,
        lc: Lifecycle,
        event: str,
        actor: Actor,
        when: dt.datetime,
        payload: dict[str, Any],
        bad: bool,
    ) -> type[Exception] | None:
        """The error a command must raise, in the order the ledger checks, or None."""
        if when < snap.facts_until:
            return ChronologyError
        t = lc.transition(snap.state, event)
        if t is None:
            return InvalidTransitionError
        if actor.role not in t.roles:
            return PermissionDeniedError
        if actor.role not in ("system", "public") and not self.covers(actor.area, snap.areas):
            return PermissionDeniedError
        if bad:
            return PayloadError
        for f in t.fields:
            if f.type in ("area", "areas") and f.name in payload:
                codes = payload[f.name] if f.type == "areas" else [payload[f.name]]
                if not all(self.covers(actor.area, [c]) for c in codes):
                    return PermissionDeniedError
        for guard in t.guards:
            if self.guard_fails(guard, snap, actor, when):
                return GuardError
        if event == "meet_milestone" and payload["milestone"] > len(
            snap.data.get("milestones") or []
        ):
            return PayloadError
        if event in CLOCK_EVENTS:
            record = snap.deadlines.get(payload["deadline"])
            if record is None or record.status != "open":
                return PayloadError
            paused = bool(record.pauses) and record.pauses[-1][1] is None
            if (event == "pause_clock") == paused and event != "grant_extension":
                return GuardError
        return None

    def guard_fails(self, guard: str, snap: Snapshot, actor: Actor, when: dt.datetime) -> bool:
        if guard == "finding_substantiated":
            return bool(snap.data.get("finding") == "unsubstantiated")
        if guard in ("not_the_claimant", "not_the_applicant"):
            by = snap.data.get("claimed_by" if guard == "not_the_claimant" else "applied_by")
            return by is not None and (by["area"], by["name"]) == (actor.area, actor.name)
        if guard == "notice_elapsed":
            record = snap.deadlines.get("notice_ends")
            return record is None or record.status != "open" or when < record.due_at
        if guard in _REVIEW_GUARDS:
            return _review_guard_fails(guard, self.ledger.rulebook_of(snap), snap, actor, when)
        if guard == "during_station_in":
            return self.ledger.get("R").state != "stationed"
        if guard == "acceptor_named":
            # The rulebook names a higher level or the lead unit; the plans name none.
            own = {self.ledger.areas.canonical(a) for a in snap.areas}
            return self.ledger.areas.canonical(actor.area) in own or not all(
                self.ledger.areas.covers(actor.area, a) for a in own
            )
        assert guard == "all_tasks_closed"
        tasks = self.ledger.find(kind="task", round_id="R")
        # A task kept up for the long term (长期坚持) outlives its round.
        return any(s.state not in ("closed", "filed", "long_term") for s in tasks)

    # -- batches and sweeps ---------------------------------------------------------------

    def hand_over_batch(self, data: st.DataObject) -> None:
        """The team hands over today's batch: every waiting case due by today, numbered on."""
        when = self.advance(data.draw(STEPS, label="step"))
        rnd = self.ledger.get("R")
        before = self.versions()
        day = when.date()

        def call() -> Batch | None:
            return self.ledger.hand_over_batch("R", day, actor=TEAM, at=when)

        if rnd.state not in INTAKE_STATES:
            self.refused(GuardError, call, before)
            return
        waiting = sorted(
            s.entity_id
            for s in self.ledger.find(kind="complaint", state="received")
            if s.data["batch_day"] <= day.isoformat()
        )
        if not waiting:
            handed = [
                e.payload["number"]
                for e in self.ledger.history("R")
                if e.name == "record_batch" and e.payload["day"] == day.isoformat()
            ]
            if handed:
                # A day already handed over, with nothing new: refused, naming its batch.
                self.refused(GuardError, call, before)
                return
            assert call() is None
            assert self.versions() == before
            return
        batch = call()
        assert batch is not None
        assert batch.number == rnd.data["batches"] + 1
        assert sorted(batch.case_ids) == waiting
        for cid in waiting:
            case = self.ledger.get(cid)
            assert (case.state, case.batch) == ("handed_over", batch.number)
            assert case.deadlines["result_due"].status == "open"
        assert self.ledger.get("R").data["batches"] == batch.number

    def sweep(self, data: st.DataObject) -> None:
        """A sweep returns each warning and escalation once per deadline instance, whatever
        ran before."""
        when = self.advance(data.draw(STEPS, label="step"))
        notices = self.ledger.sweep(when)
        for n in notices:
            key = (n.entity_id, n.deadline, self.starts.get((n.entity_id, n.deadline), 0), n.name)
            assert key not in self.alerts, key
            self.alerts.add(key)
            assert n.at <= when
            assert self.ledger.history(n.entity_id)[-1].name == "alert"
        assert self.ledger.sweep(when) == []

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def histories_are_sound(self) -> None:
        """Histories are contiguous, facts in order, legal, stop at final states, fold to state."""
        for entity in self.ids:
            snap = self.ledger.get(entity)
            lc = self.ledger.lifecycle_of(snap)
            events = self.ledger.history(entity)
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            facts = [e for e in events if e.name not in NOTES]
            assert all(a.at <= b.at for a, b in itertools.pairwise(facts))
            assert all(a.state_after == b.state_before for a, b in itertools.pairwise(events))
            create = events[0].effects["create"]
            areas = tuple(create.get("areas") or (create["area"],))
            ended = False
            for e in events:
                assert not ended, (entity, e.name)
                if e.actor.role not in ("system", "public"):
                    assert self.covers(e.actor.area, areas), (entity, e.name, e.actor)
                if e.name not in LEDGER_EVENTS:
                    t = lc.transition(e.state_before, e.name)
                    assert t is not None
                    assert e.actor.role in t.roles
                    assert e.state_after == (t.target or e.state_before)
                areas = tuple(e.effects.get("set", {}).get("areas", areas))
                ended = lc.state(e.state_after).terminal
            assert snap.terminal is lc.state(snap.state).terminal
            if snap.terminal:
                assert all(r.status != "open" for r in snap.deadlines.values())
            assert self.ledger.rebuild(entity) == snap

    @invariant()
    def the_chain_is_intact(self) -> None:
        """Every entity's hash chain verifies."""
        report = self.ledger.verify()
        assert report.ok, str(report)
        assert report.entities == len(self.ids)


# Each example runs up to 50 steps; the suite's profile can only raise the count.
LedgerMachine.TestCase.settings = settings(
    max_examples=max(50, settings.default.max_examples), stateful_step_count=50, deadline=None
)
TestLedgerMachine = LedgerMachine.TestCase
