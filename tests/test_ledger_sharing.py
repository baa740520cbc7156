"""What the ledger reuses between commands must never leak between entities or outlive a
change: intake answers per round state, deadline records shared by a batch, compact
deadline ends, instants written the fast way, events compared as JSON."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    AreaRegistry,
    GuardError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    StoreError,
    load_rulebook,
)
from inspection_flow._records import Event, fold, iso
from strategies import LIAISON, OFFICE, OWNER, TEAM

HUNAN = load_rulebook("hunan-provincial-2023")
CITY_TEAM = Actor("inspection_team", "430900", "益阳市督察组")


def at(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


def stationed(ledger: Ledger) -> None:
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")


def call(ledger: Ledger, cid: str, when: dt.datetime, **kw: object) -> object:
    return ledger.receive_complaint(
        "R",
        channel=kw.pop("channel", "phone"),
        received_at=when,
        area=kw.pop("area", "430903"),
        summary="夜间施工噪声扰民",
        category="noise",
        actor=kw.pop("actor", TEAM),
        complaint_id=cid,
    )


# --- intake answers per round state -------------------------------------------------------


def test_the_hotline_closes_for_later_calls_once_the_station_in_ends() -> None:
    """Calls taken during the station-in do not keep the hotline open after it."""
    ledger = Ledger(rulebook=HUNAN)
    stationed(ledger)
    for i in range(3):
        call(ledger, f"C{i}", at("2023-06-27", 10 + i))
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2023-07-16", 18))
    with pytest.raises(GuardError) as info:
        call(ledger, "late", at("2023-07-17", 10))
    assert info.value.guard == "hotline_open"
    assert call(ledger, "letter", at("2023-07-17", 10), channel="letter")


def test_a_changed_area_registry_is_asked_again() -> None:
    """A zone moved out of an actor's jurisdiction refuses the actor's next complaint."""
    areas = AreaRegistry()
    areas.register("yiyang-zone", "益阳高新区", "430900")
    ledger = Ledger(rulebook=HUNAN, areas=areas)
    stationed(ledger)
    call(ledger, "C1", at("2023-06-27", 10), area="yiyang-zone", actor=CITY_TEAM)
    areas.register("yiyang-zone", "益阳高新区", "430100")  # now under 长沙市
    with pytest.raises(PermissionDeniedError, match="no jurisdiction"):
        call(ledger, "C2", at("2023-06-27", 11), area="yiyang-zone", actor=CITY_TEAM)
    assert ledger.store.get("C2") is None


def test_an_id_in_use_is_refused_and_the_first_case_kept() -> None:
    ledger = Ledger(rulebook=HUNAN)
    stationed(ledger)
    first = call(ledger, "C1", at("2023-06-27", 10))
    with pytest.raises(PayloadError, match="already used"):
        call(ledger, "C1", at("2023-06-27", 11), area="430902")
    assert ledger.get("C1") == first
    assert len(ledger.history("C1")) == 1

    def twice_in_a_batch() -> None:
        with ledger.batch():
            call(ledger, "C2", at("2023-06-27", 12))
            call(ledger, "C2", at("2023-06-27", 13))

    with pytest.raises(PayloadError, match="already used"):
        twice_in_a_batch()
    assert ledger.store.get("C2") is None


# --- deadline records shared by a batch ---------------------------------------------------


def test_cases_handed_over_together_share_deadlines_but_not_their_changes() -> None:
    ledger = Ledger(rulebook=HUNAN)
    stationed(ledger)
    call(ledger, "A", at("2023-06-27", 10))
    call(ledger, "B", at("2023-06-27", 11))
    ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    a, b = ledger.get("A"), ledger.get("B")
    assert a.deadlines == b.deadlines
    ledger.fire("A", "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=["430903"])
    ledger.fire(
        "A",
        "pause_clock",
        actor=TEAM,
        at=at("2023-06-29", 10),
        deadline="result_due",
        reason="等待监测报告",
    )
    assert ledger.get("A").deadlines["result_due"].suspended
    assert ledger.get("B").deadlines == b.deadlines
    assert not ledger.get("B").deadlines["result_due"].suspended
    for cid in ("A", "B"):
        assert ledger.rebuild(cid) == ledger.get(cid)


def test_deadline_ends_are_compact_and_rebuild_from_a_database(tmp_path: Path) -> None:
    """A met deadline is written as [status, at]; a stored history rebuilds the same."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook=HUNAN) as ledger:
        stationed(ledger)
        call(ledger, "C", at("2023-06-27", 10))
        ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
        ledger.fire("C", "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=["430903"])
        ledger.fire("C", "start_investigation", actor=OWNER, at=at("2023-06-28", 11))
        ledger.fire(
            "C", "record_finding", actor=OWNER, at=at("2023-06-29"), finding="unsubstantiated"
        )
        reported = ledger.fire(
            "C", "report_result", actor=OWNER, at=at("2023-06-30"), summary="经核查不属实"
        )
        live = ledger.get("C")
    assert reported.effects["end"] == {"result_due": ("met", "2023-06-30T09:00:00+08:00")}
    # The result starts only the publication clock, written whole; the met one is not.
    assert set(reported.effects["deadlines"]) == {"publish_due"}
    with Ledger.open(path, rulebook=HUNAN) as again:
        assert again.get("C") == live
        assert again.rebuild("C") == live
        assert again.history("C")[-1] == reported
        assert again.get("C").deadlines["result_due"].status == "met"
        assert again.verify().ok


def test_an_end_that_does_not_apply_is_a_store_error() -> None:
    ledger = Ledger(rulebook=HUNAN)
    stationed(ledger)
    snap = ledger.get("R")

    def ending(name: str, end: object) -> Event:
        return Event.new(
            "R",
            snap.version + 1,
            "end_station_in",
            at("2023-07-16"),
            TEAM,
            {},
            snap.state,
            "reporting",
            {"end": {name: end}},
            None,
            snap.last_hash,
        )

    for end in (["met", "2023-06-30T09:00:00+08:00", "x"], ["done", None], "met"):
        with pytest.raises(StoreError, match="station_in_ends"):
            fold(snap, ending("station_in_ends", end))
    with pytest.raises(StoreError, match="no_such_deadline"):
        fold(snap, ending("no_such_deadline", ["met", None]))


# --- instants and equality ---------------------------------------------------------------

ZONES = st.sampled_from(
    [
        SHANGHAI,
        dt.timezone.utc,
        dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
        dt.timezone(dt.timedelta(seconds=5)),
        zoneinfo.ZoneInfo("America/New_York"),
    ]
)


@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    ZONES,
)
def test_iso_writes_what_isoformat_writes(naive: dt.datetime, zone: dt.tzinfo) -> None:
    """Including Shanghai's local mean time before 1901, whose offset has seconds."""
    instant = naive.replace(tzinfo=zone)
    assert iso(instant) == instant.isoformat()


def test_an_instant_of_1900_hashes_as_isoformat_writes_it() -> None:
    """Events hand recent Shanghai instants to the encoder directly; older ones as text."""
    old = dt.datetime(1900, 6, 1, 9, tzinfo=SHANGHAI)
    ev = Event.new("X", 1, "create", old, TEAM, {}, "", "received", {"create": {}}, None)
    assert ev.to_dict()["at"] == "1900-06-01T09:00:00+08:05:43"
    assert ev.sealed().hash == ev.hash


@given(st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(9999, 12, 30)))
def test_an_events_times_hash_as_isoformat_writes_them(naive: dt.datetime) -> None:
    """The time an event happened and the time it was recorded, handed to the encoder
    directly when they are recent Shanghai instants, hash as their isoformat() text."""
    instant = naive.replace(tzinfo=SHANGHAI)
    ev = Event.new(
        "X",
        1,
        "create",
        instant,
        TEAM,
        {},
        "",
        "received",
        {"create": {}},
        None,
        "0" * 64,
        instant,
    )
    assert ev.to_dict()["recorded_at"] == instant.isoformat()
    assert ev.sealed().hash == ev.hash


def test_events_compare_as_json() -> None:
    """Arrays written as tuples equal the lists a store reads back; content still counts."""
    base = ("X", 1, "create", at("2023-06-27"), TEAM)
    ev = Event.new(*base, {"owners": ("430903",)}, "", "received", {"set": {"areas": ("a",)}})
    same = Event.new(*base, {"owners": ["430903"]}, "", "received", {"set": {"areas": ["a"]}})
    other = Event.new(*base, {"owners": ["430902"]}, "", "received", {"set": {"areas": ["a"]}})
    assert ev == same
    assert ev.hash == same.hash
    assert ev != other
    assert hash(ev) == hash(same)
