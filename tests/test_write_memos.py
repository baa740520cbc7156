"""What a write reuses (instants' texts, deadline mappings' JSON and next times, effects'
JSON) is what it would compute afresh: checked on every entity of the source case."""

from __future__ import annotations

import datetime as dt
import gc

import orjson

from inspection_flow import Ledger, MemoryStore, Snapshot
from inspection_flow._demo import build_demo
from inspection_flow._records import canonical_json, iso, stored_data
from inspection_flow.stores._sql import _effects_json


def naive_next_due(snapshot: Snapshot) -> dt.datetime | None:
    dues = [
        d.due_at
        for d in snapshot.deadlines.values()
        if d.status == "open" and not d.suspended and d.kind == "due"
    ]
    return min(dues) if dues else None


def naive_next_alert(snapshot: Snapshot) -> dt.datetime | None:
    ats = [
        a[2]
        for d in snapshot.deadlines.values()
        if d.status == "open" and not d.suspended
        for a in d.alerts
        if a[1] not in d.fired
    ]
    return min(ats) if ats else None


def test_reused_values_equal_fresh_ones() -> None:
    ledger = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    build_demo(ledger, per_day=(2, 4))
    snapshots = ledger.find()
    assert any(s.deadlines for s in snapshots)
    for _ in range(2):  # the second pass reads the memos the first one filled
        for s in snapshots:
            assert canonical_json(stored_data(s)) == canonical_json(s.to_dict())
            assert s.next_due_at == naive_next_due(s)
            assert s.next_alert_at == naive_next_alert(s)
            assert iso(s.updated_at) == s.updated_at.isoformat()
        for s in snapshots:
            for event in ledger.history(s.entity_id):
                assert iso(event.at) == event.at.isoformat()
                text = orjson.dumps(dict(event.effects), option=orjson.OPT_SORT_KEYS).decode()
                assert _effects_json(event) == text


def test_a_reused_object_is_never_mistaken_for_another() -> None:
    # Memos are keyed by identity and hold the object: a new object at a freed address
    # gets its own text.
    for day in range(1, 29):
        instant = dt.datetime(2023, 6, day, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert iso(instant) == instant.isoformat()
        del instant
        gc.collect()
