"""Ledger.batch: many commands, one transaction."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspection_flow import (
    SHANGHAI,
    Actor,
    ConcurrencyError,
    Ledger,
    MemoryStore,
    PayloadError,
    SQLStore,
)
from inspection_flow._collector import collector_paused

OFFICE = Actor("leading_office", "430000")
TEAM = Actor("inspection_team", "430000")
LIAISON = Actor("liaison", "430900")


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, tzinfo=SHANGHAI)


def stationed(store: MemoryStore | SQLStore) -> Ledger:
    ledger = Ledger(store, rulebook="hunan-provincial-2023")
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))
    return ledger


def receive(ledger: Ledger, cid: str) -> None:
    ledger.receive_complaint(
        "R",
        channel="phone",
        received_at=at(27, 10),
        area="430903",
        summary="噪声扰民",
        category="noise",
        actor=TEAM,
        complaint_id=cid,
    )


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    store = MemoryStore() if request.param == "memory" else SQLStore.open(tmp_path / "l.db")
    led = stationed(store)
    yield led
    led.close()


def test_batch_writes_everything_at_the_end(ledger: Ledger) -> None:
    """Inside a batch the ledger sees its own changes; the store sees them only at the end."""
    with ledger.batch():
        receive(ledger, "C1")
        assert ledger.get("C1").state == "received"
        assert ledger.store.get("C1") is None
    assert ledger.store.get("C1") is not None
    assert ledger.verify().ok


def test_a_failing_block_writes_nothing(ledger: Ledger) -> None:
    """If the block raises, none of its commands is written."""

    def block() -> None:
        with ledger.batch():
            receive(ledger, "C1")
            receive(ledger, "C2")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        block()
    assert ledger.store.get("C1") is None
    assert ledger.store.get("C2") is None
    assert ledger.counts("state", kind="complaint") == {}


def test_several_events_on_one_entity_in_a_batch(ledger: Ledger) -> None:
    """Commands on one entity chain inside a batch and land in order."""
    receive(ledger, "C1")
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    with ledger.batch():
        ledger.fire("C1", "assign", actor=LIAISON, at=at(28, 10), owners=["430903"])
        ledger.fire("C1", "mark_key", actor=TEAM, at=at(28, 11))
    history = ledger.history("C1")
    assert [e.name for e in history][-2:] == ["assign", "mark_key"]
    assert ledger.rebuild("C1") == ledger.get("C1")


def test_a_hand_over_in_a_batch_takes_the_batch_own_receipts(ledger: Ledger) -> None:
    """Cases received earlier in the batch wait for the day's batch like stored ones:
    the hand-over takes both, and all is written when the batch ends."""
    receive(ledger, "C0")
    head = ledger.store.head()
    with ledger.batch():
        receive(ledger, "C1")
        receive(ledger, "C2")
        batch = ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
        assert ledger.store.head() == head
    assert batch is not None
    assert batch.case_ids == ("C0", "C1", "C2")
    assert ledger.counts("state", kind="complaint") == {"handed_over": 3}
    assert [e.name for e in ledger.history("C2")] == ["create", "batch", "hand_over"]
    assert ledger.get("R").data["batches"] == 1
    assert ledger.verify().ok


def test_a_stale_batch_is_refused_whole(ledger: Ledger) -> None:
    """A batch whose entity another writer changed meanwhile is refused, and writes nothing."""
    receive(ledger, "C1")
    other = Ledger(ledger.store, rulebook="hunan-provincial-2023")

    def block() -> None:
        with ledger.batch():
            receive(ledger, "C2")
            ledger.fire("C1", "pass_on", actor=TEAM, at=at(27, 12))
            other.fire("C1", "mark_key", actor=TEAM, at=at(27, 11))

    with pytest.raises(ConcurrencyError):
        block()
    assert ledger.store.get("C2") is None
    assert ledger.get("C1").state == "received"
    assert [e.name for e in ledger.history("C1")] == ["create", "mark_key"]


def test_nested_batches_join_the_outer_one(ledger: Ledger) -> None:
    """A nested batch writes with the outer one, not at its own end."""
    with ledger.batch():
        with ledger.batch():
            receive(ledger, "C1")
        assert ledger.store.get("C1") is None
    assert ledger.store.get("C1") is not None


def test_a_split_part_id_in_use_is_refused_clearly(ledger: Ledger) -> None:
    """Splitting a case whose part id is already taken raises PayloadError and writes nothing."""
    receive(ledger, "C1")
    receive(ledger, "C1-1")
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    with pytest.raises(PayloadError, match="C1-1 is already used"):
        ledger.split_case("C1", ["430903", "430902"], actor=LIAISON, at=at(28, 10))
    assert ledger.get("C1").state == "handed_over"


# -- the collector paused while a batch runs --------------------------------------------------


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.usefixtures("collector_enabled")
def test_a_batch_pauses_the_collector_and_restores_it(ledger: Ledger) -> None:
    with ledger.batch():
        receive(ledger, "C1")
        assert not gc.isenabled()
        with ledger.batch():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert ledger.get("C1").state == "received"


@pytest.mark.usefixtures("collector_enabled")
def test_a_refused_batch_restores_the_collector(ledger: Ledger) -> None:
    def refused() -> None:
        with ledger.batch():
            receive(ledger, "C1")
            ledger.fire("C1", "batch", actor=TEAM, at=at(28), number="one")

    with pytest.raises(PayloadError):
        refused()
    assert gc.isenabled()
    assert ledger.find(kind="complaint") == []


def test_a_collector_disabled_by_the_program_stays_disabled(ledger: Ledger) -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with ledger.batch():
            receive(ledger, "C1")
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.usefixtures("collector_enabled")
def test_concurrent_pauses_end_with_the_last_one() -> None:
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_a_streamed_hand_over_restores_the_collector(tmp_path: Path) -> None:
    ledger = stationed(SQLStore(f"sqlite:///{tmp_path / 'l.db'}"))
    receive(ledger, "C1")
    handed = ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at(28))
    assert handed is not None
    assert handed.case_ids == ("C1",)
    assert gc.isenabled()
    ledger.close()


@pytest.mark.usefixtures("collector_enabled")
def test_verify_and_repair_restore_the_collector(ledger: Ledger) -> None:
    receive(ledger, "C1")
    assert ledger.verify().ok
    assert gc.isenabled()
    ledger.repair()
    assert gc.isenabled()
