"""The store contract: the tests every :class:`~inspection_flow.stores.EventStore` passes.

A third-party store runs the suite by subclassing :class:`StoreContract` in a pytest
module and saying how to make a fresh, empty store::

    from inspection_flow.testing import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self):
            return MyStore(...)

The store fixture closes the store after each test.  A store that does not lease due
alerts to sweeping workers (see :meth:`EventStore.claim_due_alerts`) sets
``leases_alerts = False``.

The commits are built by hand with :func:`create_commit` and :func:`next_commit`, which
write events in the effects format :func:`~inspection_flow._records.fold` reads, so the
suite needs no lifecycle, rulebook or calendar.  This module imports pytest; import it
from tests only.

It is long because it is the whole contract every store must keep, one test a behaviour.
"""

from __future__ import annotations

import abc
import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest

from ._areas import Actor
from ._records import Commit, DeadlineRecord, DeadlineStatus, Event, Snapshot, fold
from .exceptions import ConcurrencyError, PayloadError, StoreError
from .stores import EventStore

__all__ = [
    "CST",
    "OFFICE",
    "T0",
    "StoreContract",
    "create_commit",
    "deadline",
    "next_commit",
]

#: China Standard Time, the offset of the instants the suite writes.
CST = dt.timezone(dt.timedelta(hours=8), "CST")
#: The instant the suite's histories start at.
T0 = dt.datetime(2023, 9, 20, 9, 30, tzinfo=CST)
#: The actor of the suite's events.
OFFICE = Actor("rectification_office", "430900", "益阳市整改办")


def deadline(
    name: str,
    due_at: dt.datetime,
    *,
    alerts: Sequence[dt.datetime] = (),
    fired: Sequence[int] = (),
    status: DeadlineStatus = "open",
) -> dict[str, Any]:
    """Return a deadline record as event effects store it.

    Args:
        name: the deadline's name.
        due_at: when it falls due.
        alerts: instants of its alerts, named ``alert-0``, ``alert-1``, …
        fired: indexes of the alerts that have fired.
        status: ``open``, ``met``, ``met_late`` or ``cancelled``.
    """
    record = DeadlineRecord(
        name=name,
        rule={"amount": 15, "unit": "working_days"},
        anchor="handed_over",
        last_day=due_at.date(),
        due_at=due_at,
        calendar_version="test",
        status=status,
        alerts=tuple(("warning", f"alert-{i}", at, "预警") for i, at in enumerate(alerts)),
        fired=tuple(f"alert-{i}" for i in fired),
    )
    return record.to_dict()


def create_commit(
    entity_id: str,
    *,
    at: dt.datetime = T0,
    kind: str = "complaint",
    state: str = "received",
    area: str = "430900",
    areas: Sequence[str] | None = None,
    round_id: str | None = "hunan-2023",
    parent_id: str | None = None,
    batch: int | None = None,
    category: str | None = None,
    data: Mapping[str, Any] | None = None,
    deadlines: Mapping[str, Mapping[str, Any]] | None = None,
    command_id: str | None = None,
    actor: Actor = OFFICE,
) -> Commit:
    """Return the commit creating ``entity_id``: one sealed version-1 event and its fold."""
    create: dict[str, Any] = {
        "kind": kind,
        "lifecycle": kind,
        "area": area,
        "areas": list(areas) if areas is not None else [area],
        "round_id": round_id,
        "parent_id": parent_id,
        "batch": batch,
        "category": category,
        "data": dict(data or {"summary": f"{entity_id} 信访件"}),
    }
    effects: dict[str, Any] = {"create": create}
    if deadlines:
        effects["deadlines"] = {k: dict(v) for k, v in deadlines.items()}
    event = Event(
        entity_id=entity_id,
        version=1,
        name="create",
        at=at,
        actor=actor,
        # fold takes a created entity's data from the creating payload (older folds read
        # create["data"]); both carry it.
        payload=dict(create["data"]),
        state_before=state,
        state_after=state,
        effects=effects,
        command_id=command_id,
    ).sealed()
    return Commit(fold(None, event), (event,), 0, command_id)


def next_commit(
    snapshot: Snapshot,
    *,
    at: dt.datetime | None = None,
    name: str = "update",
    state: str | None = None,
    set: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    deadlines: Mapping[str, Mapping[str, Any]] | None = None,
    payload: Mapping[str, Any] | None = None,
    command_id: str | None = None,
    events: int = 1,
    actor: Actor = OFFICE,
) -> Commit:
    """Return a commit of ``events`` sealed events following ``snapshot``.

    The first event carries the given effects; further ones only move time on a minute.
    """
    current = snapshot
    written: list[Event] = []
    when = at if at is not None else snapshot.updated_at + dt.timedelta(hours=1)
    for i in range(events):
        effects: dict[str, Any] = {}
        if i == 0:
            if set:
                effects["set"] = dict(set)
            if data:
                effects["data"] = dict(data)
            if deadlines:
                effects["deadlines"] = {k: dict(v) for k, v in deadlines.items()}
        event = Event(
            entity_id=current.entity_id,
            version=current.version + 1,
            name=name,
            at=when + dt.timedelta(minutes=i),
            actor=actor,
            payload=dict(payload or {"note": f"step {current.version + 1}"}),
            state_before=current.state,
            state_after=state if state is not None else current.state,
            effects=effects,
            command_id=command_id,
            prev_hash=current.last_hash,
        ).sealed()
        current = fold(current, event)
        written.append(event)
    return Commit(current, tuple(written), snapshot.version, command_id)


def _ids(snapshots: Sequence[Snapshot]) -> list[str]:
    return [s.entity_id for s in snapshots]


def _new(commit: Commit) -> tuple[Snapshot, Event]:
    return commit.snapshot, commit.events[0]


class StoreContract(abc.ABC):
    """The behaviour every event store must show; subclass it and define :meth:`make_store`."""

    #: Whether :meth:`EventStore.claim_due_alerts` leases what it returns.
    leases_alerts: ClassVar[bool] = True

    @abc.abstractmethod
    def make_store(self) -> EventStore:
        """Return a new, empty store."""

    @pytest.fixture
    def store(self) -> Iterator[EventStore]:
        """A new, empty store, closed after the test."""
        store = self.make_store()
        try:
            yield store
        finally:
            store.close()

    # -- writing and reading back ---------------------------------------------------------

    def test_round_trip(self, store: EventStore) -> None:
        """An appended commit reads back equal: snapshot, events, aware instants."""
        due = T0 + dt.timedelta(days=15)
        commit = create_commit(
            "case-1",
            data={"summary": "河道排污", "tags": ["水", "排污"], "n": 3, "x": 1.5},
            deadlines={"handling_due": deadline("handling_due", due, alerts=[due - _DAY])},
            command_id="cmd-1",
        )
        assert store.append(commit) == commit.events
        assert store.get("case-1") == commit.snapshot
        assert store.events("case-1") == list(commit.events)
        stored = store.events("case-1")[0]
        assert stored.at == T0
        assert stored.at.utcoffset() == dt.timedelta(hours=8)
        snapshot = store.get("case-1")
        assert snapshot is not None
        assert snapshot.created_at.utcoffset() is not None
        assert snapshot.next_due_at == due
        assert snapshot.deadlines["handling_due"].alerts[0][2] == due - _DAY

    def test_unknown_entity(self, store: EventStore) -> None:
        """An unknown entity has no snapshot and no events; an unknown command no result."""
        assert store.get("nothing") is None
        assert store.events("nothing") == []
        assert store.command("nothing") is None
        assert list(store.entity_ids()) == []

    def test_versions_count_events(self, store: EventStore) -> None:
        """Versions run 1, 2, 3… across commits, and a commit may hold several events."""
        commit = create_commit("case-1")
        store.append(commit)
        second = next_commit(commit.snapshot, events=3, state="handling")
        store.append(second)
        third = next_commit(second.snapshot, data={"owner": "赫山区"})
        store.append(third)
        history = store.events("case-1")
        assert [e.version for e in history] == [1, 2, 3, 4, 5]
        snapshot = store.get("case-1")
        assert snapshot is not None
        assert snapshot.version == 5
        assert snapshot.state == "handling"
        assert snapshot.last_hash == history[-1].hash
        assert snapshot.data["owner"] == "赫山区"

    def test_stale_expected_version_is_refused(self, store: EventStore) -> None:
        """A commit written against an old version raises ConcurrencyError, writes nothing."""
        first = create_commit("case-1")
        store.append(first)
        winner = next_commit(first.snapshot, state="handling")
        loser = next_commit(first.snapshot, state="closed", events=2)
        store.append(winner)
        with pytest.raises(ConcurrencyError) as info:
            store.append(loser)
        assert (info.value.entity_id, info.value.expected, info.value.actual) == ("case-1", 1, 2)
        assert store.events("case-1") == [*first.events, *winner.events]
        assert store.get("case-1") == winner.snapshot

    def test_creating_twice_is_a_conflict(self, store: EventStore) -> None:
        """Creating an entity that exists raises ConcurrencyError (expected 0, actual 1)."""
        store.append(create_commit("case-1"))
        with pytest.raises(ConcurrencyError) as info:
            store.append(create_commit("case-1", kind="task"))
        assert (info.value.expected, info.value.actual) == (0, 1)
        snapshot = store.get("case-1")
        assert snapshot is not None
        assert snapshot.kind == "complaint"

    def test_append_new(self, store: EventStore) -> None:
        """append_new writes a new entity like a commit expecting version 0."""
        commit = create_commit("case-1")
        assert store.append_new(commit.snapshot, commit.events[0]) == commit.events
        assert store.get("case-1") == commit.snapshot
        assert store.events("case-1") == list(commit.events)
        other = create_commit("case-1", kind="task")
        with pytest.raises(ConcurrencyError) as info:
            store.append_new(other.snapshot, other.events[0])
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert store.get("case-1") == commit.snapshot
        step = next_commit(commit.snapshot)
        store.append(step)
        assert store.events("case-1") == [*commit.events, *step.events]
        with_id = create_commit("case-2", command_id="create-2")
        first = store.append_new(with_id.snapshot, with_id.events[0], "create-2")
        assert store.append_new(with_id.snapshot, with_id.events[0], "create-2") == first
        assert store.command("create-2") == with_id.events

    def test_expected_version_of_unknown_entity(self, store: EventStore) -> None:
        """A commit expecting a version of an entity that does not exist is refused."""
        base = create_commit("case-1")
        with pytest.raises(ConcurrencyError) as info:
            store.append(next_commit(base.snapshot))
        assert (info.value.expected, info.value.actual) == (1, 0)
        assert store.get("case-1") is None
        assert store.events("case-1") == []

    def test_repeated_command_returns_first_result(self, store: EventStore) -> None:
        """A command id seen before returns the first command's events and writes nothing."""
        first = create_commit("case-1", command_id="create-1")
        events = store.append(first)
        assert store.append(first) == events
        step = next_commit(first.snapshot, command_id="step-1")
        assert store.append(step) == step.events
        # The same command id again, even written against the newer version.
        again = next_commit(step.snapshot, command_id="step-1", state="closed")
        assert store.append(again) == step.events
        assert [e.version for e in store.events("case-1")] == [1, 2]
        assert store.get("case-1") == step.snapshot
        assert store.command("step-1") == step.events
        assert store.command("create-1") == first.events

    def test_command_id_of_another_entity_is_refused(self, store: EventStore) -> None:
        """A command id applied to one entity is refused on another; nothing is written."""
        first = create_commit("case-1", command_id="create-1")
        store.append(first)
        with pytest.raises(PayloadError) as info:
            store.append(create_commit("case-2", command_id="create-1"))
        assert (info.value.entity_id, info.value.field) == ("case-2", "command_id")
        assert "case-1" in info.value.problem
        with pytest.raises(PayloadError):
            store.append_new(*_new(create_commit("case-2", command_id="create-1")), "create-1")
        assert store.get("case-2") is None
        assert store.events("case-2") == []
        other = create_commit("case-2")
        store.append(other)
        step = next_commit(first.snapshot, command_id="step-1")
        store.append(step)
        with pytest.raises(PayloadError, match="case-1"):
            store.append(next_commit(other.snapshot, command_id="step-1"))
        assert store.get("case-2") == other.snapshot
        assert store.command("step-1") == step.events
        assert store.command("create-1") == first.events

    def test_command_id_of_another_event_is_refused(self, store: EventStore) -> None:
        """A command id is refused for another event, and for a creation when it was a step."""
        first = create_commit("case-1")
        store.append(first)
        step = next_commit(first.snapshot, name="create", command_id="step-1")
        store.append(step)
        with pytest.raises(PayloadError, match="step-1"):
            store.append(next_commit(step.snapshot, name="close", command_id="step-1"))
        # The same entity and event name, but the command did not create the entity.
        with pytest.raises(PayloadError):
            store.append(create_commit("case-1", command_id="step-1"))
        assert store.events("case-1") == [*first.events, *step.events]

    def test_batch_with_a_reused_command_id_writes_nothing(self, store: EventStore) -> None:
        """A batch reusing a command id for another entity, stored or in the batch, is refused."""
        store.append(create_commit("case-a", command_id="c-a"))
        with pytest.raises(PayloadError):
            store.append_batch([create_commit("case-b"), create_commit("case-c", command_id="c-a")])
        twice = [create_commit(e, command_id="c-b") for e in ("case-b", "case-c")]
        with pytest.raises(PayloadError):
            store.append_batch(twice)
        assert list(store.entity_ids()) == ["case-a"]
        assert store.command("c-b") is None

    # -- batches --------------------------------------------------------------------------

    def test_batch_writes_everything(self, store: EventStore) -> None:
        """A batch may create entities and chain commits on one entity."""
        a = create_commit("case-a")
        b = create_commit("case-b")
        a2 = next_commit(a.snapshot, state="handling")
        results = store.append_batch([a, b, a2])
        assert results == [a.events, b.events, a2.events]
        assert store.get("case-a") == a2.snapshot
        assert store.get("case-b") == b.snapshot

    def test_batch_with_several_commits_of_an_entity(self, store: EventStore) -> None:
        """An entity created or stored, then changed several times in one batch, ends as
        its last commit leaves it: its columns, areas and commands as if written one by
        one."""
        stored = create_commit("case-s", area="430902")
        store.append(stored)
        s2 = next_commit(stored.snapshot, state="assigned", set={"areas": ["430903", "430921"]})
        s3 = next_commit(s2.snapshot, state="handling", command_id="c-s3")
        s4 = next_commit(s3.snapshot, state="closed", set={"batch": 3}, data={"x": 1})
        new = create_commit("case-n", area="430903", command_id="c-n1")
        n2 = next_commit(new.snapshot, state="assigned", set={"areas": ["430902"]})
        n3 = next_commit(n2.snapshot, state="handling", command_id="c-n3")
        results = store.append_batch([s2, new, s3, n2, s4, n3])
        assert results == [c.events for c in (s2, new, s3, n2, s4, n3)]
        assert store.get("case-s") == s4.snapshot
        assert store.get("case-n") == n3.snapshot
        assert store.events("case-s") == [*stored.events, *s2.events, *s3.events, *s4.events]
        assert store.events("case-n") == [*new.events, *n2.events, *n3.events]
        assert _ids(store.find(areas=["430921"])) == ["case-s"]
        assert _ids(store.find(areas=["430902"])) == ["case-n"]
        assert _ids(store.find(state="closed", batch=3)) == ["case-s"]
        assert store.command("c-s3") == s3.events
        assert store.command("c-n1") == new.events
        assert store.command("c-n3") == n3.events
        assert store.verify().ok
        # A commit that does not follow the one before it in the batch is stale.
        again = next_commit(s4.snapshot, state="reopened")
        skipped = next_commit(s3.snapshot, state="archived")
        with pytest.raises(ConcurrencyError):
            store.append_batch([again, skipped])
        assert store.get("case-s") == s4.snapshot

    def test_batch_is_all_or_nothing(self, store: EventStore) -> None:
        """A batch with one stale commit raises ConcurrencyError and writes none of it."""
        base = create_commit("case-a")
        store.append(base)
        moved = next_commit(base.snapshot)
        store.append(moved)
        fresh = create_commit("case-b")
        stale = next_commit(base.snapshot, state="closed")
        with pytest.raises(ConcurrencyError):
            store.append_batch([fresh, stale])
        assert store.get("case-b") is None
        assert store.events("case-b") == []
        assert store.get("case-a") == moved.snapshot

    def test_batch_skips_applied_commands(self, store: EventStore) -> None:
        """A batch returns the first result of commands already applied."""
        first = create_commit("case-a", command_id="c-a")
        store.append(first)
        b = create_commit("case-b", command_id="c-b")
        results = store.append_batch([create_commit("case-a", command_id="c-a"), b])
        assert results == [first.events, b.events]
        assert [e.version for e in store.events("case-a")] == [1]

    # -- queries ------------------------------------------------------------------------------

    def _population(self, store: EventStore) -> None:
        commits = [
            create_commit("c-1", area="430902", batch=1, category="water"),
            create_commit("c-2", area="430903", batch=1, category="air"),
            create_commit(
                "c-3", area="430902", areas=["430902", "430921"], batch=2, category="water"
            ),
            create_commit("t-1", kind="task", area="430903", round_id="central-2021"),
            create_commit("t-2", kind="task", area="430921", parent_id="c-1", batch=2),
        ]
        store.append_batch(commits)
        c2 = commits[1].snapshot
        store.append(next_commit(c2, state="closed", set={"terminal": True}))
        t1 = commits[3].snapshot
        store.append(next_commit(t1, state="rectifying"))

    def test_get_many(self, store: EventStore) -> None:
        """get_many answers the ids that name entities, each as get does."""
        a = create_commit("case-a")
        b = create_commit("case-b")
        store.append_batch([a, b, next_commit(a.snapshot, state="handling")])
        found = store.get_many(["case-b", "case-x", "case-a", "case-b"])
        assert sorted(found) == ["case-a", "case-b"]
        assert found["case-a"] == store.get("case-a")
        assert found["case-b"] == b.snapshot
        assert store.get_many([]) == {}

    def test_append_chunks_writes_all_or_nothing(self, store: EventStore) -> None:
        """Chunks are written together; a stale commit or a failure while the chunks are
        produced writes none of them."""
        base = create_commit("case-a")
        store.append(base)
        moved = next_commit(base.snapshot)
        store.append(moved)
        with pytest.raises(ConcurrencyError):
            store.append_chunks(
                [[create_commit("case-b")], [next_commit(base.snapshot, state="closed")]]
            )

        def failing() -> Iterator[list[Commit]]:
            yield [create_commit("case-c")]
            raise RuntimeError("producing the chunks failed")

        with pytest.raises(RuntimeError):
            store.append_chunks(failing())
        assert store.get_many(["case-b", "case-c"]) == {}
        assert store.events("case-b") == store.events("case-c") == []
        assert store.get("case-a") == moved.snapshot
        later = next_commit(moved.snapshot, state="closed")
        store.append_chunks(iter([[create_commit("case-b")], [], [later]]))
        assert store.get("case-a") == later.snapshot
        assert store.get("case-b") is not None

    def test_find_pages_follow_find(self, store: EventStore) -> None:
        """find_pages yields find's answer in pages of the size asked."""
        self._population(store)
        pages = list(store.find_pages(page=2))
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [s for p in pages for s in p] == store.find()
        assert [_ids(p) for p in store.find_pages(page=2, state="received")] == [
            ["c-1", "c-3"],
            ["t-2"],
        ]
        assert list(store.find_pages(kind="nothing")) == []

    def test_find_pages_keep_data_at_most(self, store: EventStore) -> None:
        """find_pages(data_at_most=(field, text)) keeps the entities whose data field is
        absent, not text, or text at most ``text`` (compared as Python compares texts)."""
        days = {
            "d-1": "2023-06-27",
            "d-2": "2023-06-28",
            "d-3": "2023-06-29",
            "d-4": "2023-06-2８",  # a full-width digit sorts after every ASCII one
            "d-5": 20230627,
            "d-6": None,
            "d-7": '2023-06-2"',  # written with an escape in JSON; '"' sorts before digits
            "d-8": ["2023-06-29"],  # a list is no text, whatever it holds
            "d-9": [],
        }
        commits = [
            create_commit(
                entity_id,
                data={"summary": "信访件"} if day is None else {"summary": "信访件", "day": day},
            )
            for entity_id, day in days.items()
        ]
        store.append_batch(commits)
        pages = store.find_pages(page=2, kind="complaint", data_at_most=("day", "2023-06-28"))
        assert [_ids(p) for p in pages] == [["d-1", "d-2"], ["d-5", "d-6"], ["d-7", "d-8"], ["d-9"]]
        assert _ids(
            [s for p in store.find_pages(data_at_most=("day", "2023-06-27")) for s in p]
        ) == ["d-1", "d-5", "d-6", "d-7", "d-8", "d-9"]

    def test_commands_used(self, store: EventStore) -> None:
        """commands_used names the command ids applied, each once, and no other."""
        store.append(create_commit("case-a", command_id="cmd-a"))
        store.append(create_commit("case-b"))
        assert store.commands_used(["cmd-x", "cmd-a", "cmd-a"]) == {"cmd-a"}
        assert store.commands_used([*(f"cmd-{i}" for i in range(1200)), "cmd-a"]) == {"cmd-a"}
        assert store.commands_used([]) == set()

    def test_find_filters(self, store: EventStore) -> None:
        """find applies every filter given, and orders by entity id."""
        self._population(store)
        assert _ids(store.find()) == ["c-1", "c-2", "c-3", "t-1", "t-2"]
        assert _ids(store.find(kind="task")) == ["t-1", "t-2"]
        assert _ids(store.find(round_id="central-2021")) == ["t-1"]
        assert _ids(store.find(state="received")) == ["c-1", "c-3", "t-2"]
        assert _ids(store.find(state=["closed", "rectifying"])) == ["c-2", "t-1"]
        assert _ids(store.find(areas=["430921"])) == ["c-3", "t-2"]
        assert _ids(store.find(areas=["430902", "430903"])) == ["c-1", "c-2", "c-3", "t-1"]
        assert _ids(store.find(areas=[])) == []
        assert _ids(store.find(batch=2)) == ["c-3", "t-2"]
        assert _ids(store.find(category="water")) == ["c-1", "c-3"]
        assert _ids(store.find(parent_id="c-1")) == ["t-2"]
        assert _ids(store.find(open_only=True)) == ["c-1", "c-3", "t-1", "t-2"]
        assert _ids(store.find(kind="complaint", areas=["430902"], batch=1)) == ["c-1"]
        assert store.find(kind="nothing") == []

    def test_areas_follow_events(self, store: EventStore) -> None:
        """An event that moves an entity to other areas moves it in area filters too."""
        commit = create_commit("case-1", area="430902")
        store.append(commit)
        moved = next_commit(commit.snapshot, set={"area": "430903", "areas": ["430903", "430921"]})
        store.append(moved)
        store.append(next_commit(moved.snapshot, state="handling"))
        assert store.find(areas=["430902"]) == []
        assert _ids(store.find(areas=["430921"])) == ["case-1"]
        assert store.counts("area", areas=["430903"]) == {"430903": 1}
        assert store.counts_by_area() == {"430903": 1, "430921": 1}
        assert store.counts_by_area(areas=["430921"]) == {"430903": 1, "430921": 1}
        assert store.counts_by_area(areas=["430902"]) == {}
        assert store.counts_by_area(areas=["430921"], kind="complaint") == {
            "430903": 1,
            "430921": 1,
        }
        assert store.counts_by_area(kind="task") == {}

    def test_entity_ids_are_ordered(self, store: EventStore) -> None:
        """entity_ids yields every entity once, in order."""
        for entity_id in ["b", "a", "c"]:
            store.append(create_commit(entity_id))
        assert list(store.entity_ids()) == ["a", "b", "c"]

    def test_recorded_at_round_trips(self, store: EventStore) -> None:
        """An event's recording time reads back equal, and its hash still holds."""
        first = create_commit("case-1").events[0]
        entered = attrs.evolve(first, recorded_at=T0 + 2 * _DAY).sealed()
        store.append(Commit(fold(None, entered), (entered,), 0))
        (stored,) = store.events("case-1")
        assert stored == entered
        assert stored.recorded_at == T0 + 2 * _DAY
        assert store.verify().ok

    def test_histories_until(self, store: EventStore) -> None:
        """histories(until) yields each entity's events that happened by then, in order."""
        a = create_commit("a")
        store.append(a)
        later = next_commit(a.snapshot, at=T0 + dt.timedelta(hours=2))
        store.append(later)
        # Entered after, happened before: a paper record entered late.
        earlier = next_commit(later.snapshot, at=T0 + dt.timedelta(hours=1))
        store.append(earlier)
        store.append(create_commit("b", at=T0 + dt.timedelta(hours=3)))
        every = list(store.histories())
        assert [[(e.entity_id, e.version) for e in h] for h in every] == [
            [("a", 1), ("a", 2), ("a", 3)],
            [("b", 1)],
        ]
        cut = list(store.histories(T0 + dt.timedelta(minutes=90)))
        assert [[(e.entity_id, e.version) for e in h] for h in cut] == [[("a", 1), ("a", 3)]]
        assert list(store.histories(T0 - _DAY)) == []

    def _deadlines(self, store: EventStore) -> dict[str, Snapshot]:
        """Entities due at T0 + n days, with alerts a day earlier."""
        out: dict[str, Snapshot] = {}
        for entity_id, days, area in [
            ("d-3", 3, "430902"),
            ("d-1", 1, "430903"),
            ("d-2b", 2, "430902"),
            ("d-2a", 2, "430903"),
            ("d-9", 9, "430902"),
        ]:
            due = T0 + days * _DAY
            commit = create_commit(
                entity_id,
                area=area,
                deadlines={"due": deadline("due", due, alerts=[due - _DAY])},
            )
            store.append(commit)
            out[entity_id] = commit.snapshot
        store.append(create_commit("no-deadline"))
        return out

    def test_deadlines_are_read_by_due_instant_then_name(self, store: EventStore) -> None:
        """An entity's deadlines read back by due instant, ties by name, however written."""
        commit = create_commit(
            "two-deadlines",
            deadlines={
                "b-late": deadline("b-late", T0 + 5 * _DAY),
                "c-early": deadline("c-early", T0 + 2 * _DAY),
                "a-early": deadline("a-early", T0 + 2 * _DAY),
            },
        )
        store.append(commit)
        stored = store.get("two-deadlines")
        assert stored is not None
        assert list(stored.deadlines) == ["a-early", "c-early", "b-late"]
        store.append(next_commit(stored, deadlines={"a-early": deadline("a-early", T0 + 9 * _DAY)}))
        moved = store.get("two-deadlines")
        assert moved is not None
        assert list(moved.deadlines) == ["c-early", "b-late", "a-early"]
        found = store.find(kind="complaint")
        assert [list(s.deadlines) for s in found] == [list(moved.deadlines)]

    def test_overdue_ordering(self, store: EventStore) -> None:
        """overdue lists open entities due at or before now, earliest first, ties by id."""
        self._deadlines(store)
        now = T0 + 3 * _DAY
        assert _ids(store.overdue(now)) == ["d-1", "d-2a", "d-2b", "d-3"]
        assert _ids(store.overdue(now, limit=2)) == ["d-1", "d-2a"]
        assert _ids(store.overdue(now, areas=["430902"])) == ["d-2b", "d-3"]
        assert _ids(store.overdue(now, kind="task")) == []
        assert store.overdue(T0) == []
        # The same instant in another offset gives the same answer.
        assert _ids(store.overdue(now.astimezone(dt.timezone.utc))) == _ids(store.overdue(now))

    def test_overdue_excludes_terminal_and_met(self, store: EventStore) -> None:
        """A terminal entity is never overdue, and a met deadline no longer counts."""
        snapshots = self._deadlines(store)
        store.append(next_commit(snapshots["d-1"], state="closed", set={"terminal": True}))
        met = deadline("due", T0 + 2 * _DAY, status="met")
        later = deadline("later", T0 + 30 * _DAY)
        store.append(next_commit(snapshots["d-2a"], deadlines={"due": met, "later": later}))
        assert _ids(store.overdue(T0 + 3 * _DAY)) == ["d-2b", "d-3"]
        assert _ids(store.overdue(T0 + 30 * _DAY)) == ["d-2b", "d-3", "d-9", "d-2a"]

    def test_due_between(self, store: EventStore) -> None:
        """due_between lists open entities due in (start, end], earliest first."""
        self._deadlines(store)
        got = store.due_between(T0 + _DAY, T0 + 3 * _DAY)
        assert _ids(got) == ["d-2a", "d-2b", "d-3"]
        assert _ids(store.due_between(T0, T0 + 9 * _DAY, areas=["430903"])) == ["d-1", "d-2a"]
        assert store.due_between(T0 + 9 * _DAY, T0 + 99 * _DAY) == []

    def test_due_alerts(self, store: EventStore) -> None:
        """due_alerts lists unfired alerts at or before now, earliest first, up to limit."""
        snapshots = self._deadlines(store)
        now = T0 + 2 * _DAY
        assert _ids(store.due_alerts(now)) == ["d-1", "d-2a", "d-2b", "d-3"]
        assert _ids(store.due_alerts(now, limit=1)) == ["d-1"]
        fired = deadline("due", T0 + _DAY, alerts=[T0], fired=[0])
        store.append(next_commit(snapshots["d-1"], deadlines={"due": fired}))
        assert _ids(store.due_alerts(now)) == ["d-2a", "d-2b", "d-3"]
        assert store.due_alerts(T0) == []

    def test_claim_due_alerts(self, store: EventStore) -> None:
        """Claims return due alerts; leasing stores split them between workers."""
        snapshots = self._deadlines(store)
        now = T0 + 2 * _DAY
        first = store.claim_due_alerts(now, worker="w1", limit=2)
        assert _ids(first) == ["d-1", "d-2a"]
        if not self.leases_alerts:
            return
        second = store.claim_due_alerts(now, worker="w2", limit=10)
        assert _ids(second) == ["d-2b", "d-3"]
        assert store.claim_due_alerts(now, worker="w3") == []
        # Writing an entity ends its lease.
        store.append(next_commit(snapshots["d-2a"]))
        hours = dt.timedelta(hours=2)
        assert _ids(store.claim_due_alerts(now, worker="w3", lease=hours)) == ["d-2a"]
        # Leases run on the store's clock: a worker whose now is years ahead waits too.
        assert _ids(store.claim_due_alerts(now + 3650 * _DAY, worker="w4")) == ["d-9"]

    def test_claim_lease_ends_in_real_time(self, store: EventStore) -> None:
        """A claim made with now years ahead holds its entities for the lease, no longer."""
        self._deadlines(store)
        now = T0 + 2 * _DAY
        ahead = now + 3650 * _DAY
        first = store.claim_due_alerts(ahead, worker="w1", lease=dt.timedelta(seconds=0.2))
        assert _ids(first) == ["d-1", "d-2a", "d-2b", "d-3", "d-9"]
        if not self.leases_alerts:
            return
        # The worker dies here; once the lease has run out, another takes its entities.
        time.sleep(0.3)
        assert _ids(store.claim_due_alerts(now, worker="w2")) == ["d-1", "d-2a", "d-2b", "d-3"]
        # A claim made with an earlier now keeps others out all the same.
        later = store.claim_due_alerts(ahead, worker="w3")
        assert _ids(later) == ["d-9"]
        assert store.claim_due_alerts(ahead, worker="w4") == []

    def test_counts(self, store: EventStore) -> None:
        """counts groups entities by one column, with optional filters."""
        self._population(store)
        assert store.counts("state") == {"received": 3, "closed": 1, "rectifying": 1}
        assert store.counts("kind") == {"complaint": 3, "task": 2}
        assert store.counts("area") == {"430902": 2, "430903": 2, "430921": 1}
        assert store.counts("batch") == {1: 2, 2: 2, None: 1}
        assert store.counts("category") == {"water": 2, "air": 1, None: 2}
        assert store.counts("state", kind="task") == {"rectifying": 1, "received": 1}
        assert store.counts("kind", round_id="central-2021") == {"task": 1}
        assert store.counts("kind", areas=["430921"]) == {"complaint": 1, "task": 1}

    def test_due_between_limit(self, store: EventStore) -> None:
        """due_between with a limit returns the earliest ones only, ties by id."""
        self._deadlines(store)
        got = store.due_between(T0, T0 + 9 * _DAY, limit=3)
        assert _ids(got) == ["d-1", "d-2a", "d-2b"]
        assert _ids(store.due_between(T0, T0 + 9 * _DAY, limit=0)) == []

    def test_limits_follow_writes(self, store: EventStore) -> None:
        """Queries with a limit see every write before them: moved, met and closed due times."""
        snapshots = self._deadlines(store)
        now = T0 + 3 * _DAY
        assert _ids(store.overdue(now, limit=1)) == ["d-1"]
        # d-1 moves later, d-2a is closed, d-9 moves earlier.
        store.append(
            next_commit(snapshots["d-1"], deadlines={"due": deadline("due", T0 + _DAY * 8)})
        )
        store.append(next_commit(snapshots["d-2a"], state="closed", set={"terminal": True}))
        moved = deadline("due", T0 + _DAY / 2)
        store.append(next_commit(snapshots["d-9"], deadlines={"due": moved}))
        assert _ids(store.overdue(now, limit=2)) == ["d-9", "d-2b"]
        assert _ids(store.overdue(now)) == ["d-9", "d-2b", "d-3"]
        assert _ids(store.due_between(now, T0 + 9 * _DAY, limit=5)) == ["d-1"]
        # The new due times carry no alerts: d-1 and d-9 left the alerts' order.
        alerts = _ids(store.due_alerts(now))
        assert "d-1" not in alerts
        assert "d-9" not in alerts
        assert "d-2b" in alerts
        assert _ids(store.due_alerts(now, limit=2)) == alerts[:2]

    def test_count_values(self, store: EventStore) -> None:
        """count_values counts entities by values of their snapshots, with filters."""
        self._population(store)
        commit = create_commit(
            "c-4",
            area="430903",
            batch=2,
            category="air",
            data={"categories": ["air", "water"], "fine": "1.5", "orders": 2, "seen": True},
            deadlines={"due": deadline("due", T0 + _DAY)},
        )
        store.append(commit)
        assert store.count_values(["kind"]) == {("complaint",): 4, ("task",): 2}
        assert store.count_values(["category", "data.categories"], kind="complaint") == {
            ("water", None): 2,
            ("air", None): 1,
            ("air", ("air", "water")): 1,
        }
        assert store.count_values(
            ["data.fine", "data.orders", "data.seen", "data.missing"], areas=["430903"]
        ) == {("1.5", 2, True, None): 1, (None, None, None, None): 2}
        assert store.count_values(
            ["deadlines.due.status", "deadlines.due.due_at", "deadlines.due.suspended"],
            round_id="hunan-2023",
        ) == {
            ("open", (T0 + _DAY).isoformat(), False): 1,
            (None, None, None): 4,
        }
        assert store.count_values(["batch", "terminal"], kind="complaint") == {
            (1, False): 1,
            (1, True): 1,
            (2, False): 2,
        }
        assert store.count_values(["entity_id"], due=(None, T0 + 2 * _DAY)) == {("c-4",): 1}
        assert store.count_values(["entity_id"], due=(T0 + _DAY, T0 + 2 * _DAY)) == {}

    def test_count_values_as_read_from_snapshots(self, store: EventStore) -> None:
        """count_values gives, for several values inside snapshots mixed with columns, what
        counting the snapshots read one by one gives."""
        self._population(store)
        store.append(
            create_commit(
                "c-4",
                area="430903",
                batch=2,
                category="air",
                data={"categories": ["air", "water"], "fine": "1.5", "ratio": 0.25, "none": None},
                deadlines={"due": deadline("due", T0 + _DAY)},
            )
        )
        wide = [
            "data.ratio",
            "batch",
            "data.categories",
            "area",
            "data.none",
            "deadlines.due",
            "category",
            "deadlines.due.due_at",
            "data.missing",
        ]
        for fields, filters in (
            (wide, {}),
            (wide, {"kind": "complaint"}),
            (wide, {"due": (None, T0 + 2 * _DAY)}),
            (["data.fine", "data.categories"], {"areas": ["430903"]}),
            (["data.categories", "terminal", "data.fine"], {"round_id": "hunan-2023"}),
            (["terminal"], {"due": (None, T0 + 2 * _DAY)}),
            (["terminal", "kind"], {"due": (None, T0 + 2 * _DAY)}),
            # Each entity its own set: by its id with a value, or with several.
            (["state", "entity_id", "data.fine"], {"kind": "complaint"}),
            (["entity_id", "data.fine", "data.categories", "batch"], {"areas": ["430903"]}),
        ):
            counted = store.count_values(fields, **filters)
            assert counted == EventStore.count_values(store, fields, **filters)
            assert sum(counted.values()) >= 1

    def test_count_values_counts_equal_numbers_as_one_value(self, store: EventStore) -> None:
        """Numbers equal in value count as one value however their JSON wrote them (1 and
        1.0), as counting the snapshots read one by one does."""
        for i, n in enumerate((1, 1.0, 2)):
            store.append(create_commit(f"n-{i}", data={"n": n}))
        for fields, expected in (
            (["data.n"], {(1,): 2, (2,): 1}),
            (["kind", "data.n"], {("complaint", 1): 2, ("complaint", 2): 1}),
            (["data.n", "data.missing"], {(1, None): 2, (2, None): 1}),
        ):
            counted = store.count_values(fields)
            assert counted == expected
            assert counted == EventStore.count_values(store, fields)

    def test_count_values_refuses_other_fields(self, store: EventStore) -> None:
        """count_values takes dotted paths into a snapshot, nothing else."""
        for fields in ([], ["nope"], ["data.a b"], ["data..x"], "kind"):
            with pytest.raises(StoreError, match="count"):
                store.count_values(fields)

    def test_latest_at(self, store: EventStore) -> None:
        """latest_at is when the latest event happened, or None (unknown or empty)."""
        empty = store.latest_at()
        commit = create_commit("c-1")
        store.append(commit)
        store.append(next_commit(commit.snapshot, at=T0 + 5 * _DAY))
        store.append(create_commit("c-2", at=T0 + _DAY))
        found = store.latest_at()
        if found is not None:
            assert empty is None
            assert found == T0 + 5 * _DAY

    def test_latest_at_over_many_writes(self, store: EventStore) -> None:
        """latest_at stays the time of the latest event over many writes, past 10,000
        events (where a store may keep the latest time of its first events), whatever
        order the times come in: back-dated events leave it, a later one moves it on."""
        if type(store).latest_at is EventStore.latest_at:
            return  # the store does not say (EventStore's default answers None)
        store.append(create_commit("first", at=T0))
        latest = T0
        assert store.latest_at() == latest
        # Times run back and forth inside each write; the latest lands in the fourth of
        # seven writes of 1,500 events (the 10,000th is in the seventh).
        for block in range(7):
            commits = []
            for i in range(1_500):
                minutes = (i * 7_919) % 20_000 + (20_000 if block == 3 and i == 700 else 0)
                at = T0 + dt.timedelta(minutes=minutes)
                commits.append(create_commit(f"m-{block}-{i}", at=at))
                latest = max(latest, at)
            store.append_batch(commits)
            assert store.latest_at() == latest
        # Back-dated events after them change nothing; a later one, in a write of its own
        # or among earlier ones, is the latest.
        store.append_batch([create_commit(f"b-{i}", at=T0 - _DAY) for i in range(300)])
        assert store.latest_at() == latest
        later = T0 + 60 * _DAY
        store.append(create_commit("later-1", at=later))
        assert store.latest_at() == later
        store.append_batch(
            [create_commit("earlier", at=T0), create_commit("later-2", at=later + _DAY)]
        )
        assert store.latest_at() == later + _DAY

    # -- integrity ----------------------------------------------------------------------------

    def test_verify_intact(self, store: EventStore) -> None:
        """verify passes over untouched chains and counts what it checked."""
        commit = create_commit("case-1")
        store.append(commit)
        store.append(next_commit(commit.snapshot, events=2))
        store.append(create_commit("case-2"))
        report = store.verify()
        assert report.ok, str(report)
        assert (report.entities, report.events) == (2, 4)
        assert str(report).startswith("intact")

    def test_verify_finds_changed_content(self, store: EventStore) -> None:
        """An event whose content does not match its hash is named by entity and version."""
        commit = create_commit("case-1")
        store.append(commit)
        step = next_commit(commit.snapshot, events=2)
        changed = attrs.evolve(step.events[0], payload={"note": "changed after sealing"})
        store.append(attrs.evolve(step, events=(changed, step.events[1])))
        report = store.verify()
        assert not report.ok
        assert (report.entity_id, report.version) == ("case-1", 2)
        assert "hash" in report.problem

    def test_verify_finds_broken_link(self, store: EventStore) -> None:
        """An event that does not point at the hash before it is named."""
        store.append(create_commit("case-0"))
        commit = create_commit("case-1")
        store.append(commit)
        step = next_commit(commit.snapshot)
        unlinked = attrs.evolve(step.events[0], prev_hash="f" * 64).sealed()
        store.append(attrs.evolve(step, events=(unlinked,)))
        report = store.verify()
        assert (report.ok, report.entity_id, report.version) == (False, "case-1", 2)

    def test_verify_reports_every_problem(self, store: EventStore) -> None:
        """Problems in two entities are both reported, and a state that does not follow
        the event before it is named even when hashes and links hold."""
        first = create_commit("case-1")
        store.append(first)
        step = next_commit(first.snapshot)
        store.append(attrs.evolve(step, events=(attrs.evolve(step.events[0], name="forged"),)))
        second = create_commit("case-2", state="received")
        store.append(second)
        jump = next_commit(second.snapshot, state="closed")
        forged = attrs.evolve(jump.events[0], state_before="closed").sealed()
        store.append(attrs.evolve(jump, events=(forged,)))
        report = store.verify()
        assert [(p.entity_id, p.version, p.field) for p in report.problems] == [
            ("case-1", 2, "hash"),
            ("case-2", 2, "state"),
        ]

    def test_head_counts_what_was_written(self, store: EventStore) -> None:
        """A store that keeps a head counts events, entities and applied commands, also
        for commands repeated and batches written together."""
        if not store.keeps_head:
            pytest.skip("this store keeps no ledger head")
        first = create_commit("case-1", command_id="c1")
        store.append(first)
        store.append(first)
        store.append_batch(
            [
                next_commit(first.snapshot, events=2, command_id="c2"),
                create_commit("case-2"),
            ]
        )
        head = store.head()
        assert head is not None
        assert (head.events, head.entities, head.commands) == (4, 2, 2)
        assert store.verify(deep=True).ok

    def test_anchor_holds_while_the_ledger_grows(self, store: EventStore) -> None:
        """An anchor taken earlier still matches after more events are written."""
        if not store.keeps_head:
            pytest.skip("this store keeps no ledger head")
        first = create_commit("case-1")
        store.append(first)
        anchor = store.anchor()
        assert anchor.events == 1
        store.append(next_commit(first.snapshot))
        assert store.anchor() != anchor
        report = store.verify(anchor=anchor)
        assert report.ok, str(report)


_DAY = dt.timedelta(days=1)
