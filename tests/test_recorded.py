"""What happened and when it was recorded: every event keeps both, the sweep's alerts never
stop a clerk entering an earlier fact, and an alert such a fact proves groundless is
withdrawn by an event of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from inspection_flow import SHANGHAI, ChronologyError, Event, Ledger, Snapshot
from inspection_flow._records import chain_hash
from strategies import LIAISON, OFFICE, TEAM


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.instant = now

    def now(self) -> dt.datetime:
        """Return the instant set last."""
        return self.instant


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger in memory, on SQLite or on PostgreSQL, with a clock the test moves."""
    clock = Clock(at("2023-06-20"))
    if request.param == "memory":
        yield Ledger(rulebook="hunan-provincial-2023", clock=clock)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(url, rulebook="hunan-provincial-2023", clock=clock) as opened:
        yield opened


def requested(ledger: Ledger) -> None:
    """A round stationed in, and a document request of 06-27 due by the end of 06-29."""
    clock = ledger.clock
    assert isinstance(clock, Clock)
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    clock.instant = at("2023-06-27", 9)
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D"
    )


def test_every_event_keeps_when_it_was_recorded(ledger: Ledger) -> None:
    """An event keeps when it happened (at) and when the ledger's clock wrote it."""
    requested(ledger)
    clock = ledger.clock
    assert isinstance(clock, Clock)
    clock.instant = at("2023-06-30", 8)
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    first, last = ledger.history("D")
    assert (first.at, first.recorded_at) == (at("2023-06-27"), at("2023-06-27"))
    assert (last.at, last.recorded_at) == (at("2023-06-29", 17), at("2023-06-30", 8))


def test_the_hash_covers_the_recording_time_only_when_there_is_one(ledger: Ledger) -> None:
    """A changed recording time breaks the hash; an event without one hashes as before."""
    requested(ledger)
    event = ledger.history("D")[0]
    assert chain_hash(event) == event.hash
    assert chain_hash(attrs.evolve(event, recorded_at=at("2023-06-28"))) != event.hash
    bare = attrs.evolve(event, recorded_at=None)
    assert "recorded_at" not in bare.content()
    assert Event.from_dict(bare.sealed().to_dict()).recorded_at is None


def test_a_paper_record_is_entered_after_the_sweeps_alert(ledger: Ledger) -> None:
    """A fact that happened before an alert the sweep recorded may still be entered."""
    requested(ledger)
    notices = ledger.sweep(at("2023-06-30", 8))
    assert [(n.entity_id, n.name) for n in notices] == [("D", "overdue")]
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert ledger.get("D").deadlines["provide_due"].status == "met"
    assert ledger.rebuild("D") == ledger.get("D")


def test_an_alert_a_late_entry_proves_groundless_is_withdrawn(ledger: Ledger) -> None:
    """The overdue alert of a deadline met before it is withdrawn by an event, never refired."""
    requested(ledger)
    ledger.sweep(at("2023-06-30", 8))
    provided = ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert provided.name == "provide"
    alert, fact, withdrawn = ledger.history("D")[-3:]
    assert (alert.name, fact.name, withdrawn.name) == ("alert", "provide", "alert_withdrawn")
    assert withdrawn.at == at("2023-06-29", 17)
    assert withdrawn.payload["because"] == [fact.version, "provide"]
    assert [w[:3] for w in withdrawn.payload["withdrawn"]] == [
        ["provide_due", "escalation", "overdue"]
    ]
    assert ledger.get("D").deadlines["provide_due"].fired == ("overdue",)
    assert ledger.sweep(at("2023-07-20")) == []
    assert ledger.overdue(at("2023-07-20"), kind="document_request") == []


def test_an_alert_before_the_fact_stays(ledger: Ledger) -> None:
    """A fact entered late but happened after the alert withdraws nothing."""
    requested(ledger)
    ledger.sweep(at("2023-07-03"))
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-07-01"))
    assert [e.name for e in ledger.history("D")][-2:] == ["alert", "provide"]


def test_facts_stay_in_the_order_they_happened(ledger: Ledger) -> None:
    """A fact before the entity's latest fact is still refused, alerts or not."""
    requested(ledger)
    ledger.sweep(at("2023-06-30", 8))
    with pytest.raises(ChronologyError) as info:
        ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-26"))
    assert info.value.latest == at("2023-06-27")
    assert not ledger.can("D", "provide", LIAISON, at=at("2023-06-26"))
    assert ledger.can("D", "provide", LIAISON, at=at("2023-06-28"))


def test_a_snapshot_stored_without_the_time_of_its_latest_fact_loads() -> None:
    """A snapshot of an older release (no occurred_at) loads and orders by its latest event."""
    ledger = Ledger(rulebook="hunan-provincial-2023")
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    data = ledger.get("R").to_dict()
    assert data.pop("occurred_at") == at("2023-06-20").isoformat()
    old = Snapshot.from_dict(data)
    assert old.occurred_at is None
    assert old.facts_until == old.updated_at == at("2023-06-20")
