"""The station-in's length: one calendar month to the same date, or the end an
announcement gives."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import inspection_flow
from inspection_flow import (
    SHANGHAI,
    ChinaCalendar,
    DeadlineRule,
    Ledger,
    MemoryStore,
    PayloadError,
    RulebookError,
    load_rulebook,
    parse_rulebook,
)
from strategies import OFFICE, TEAM

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CENTRAL = load_rulebook("central")
D = dt.date


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def station(ledger: Ledger, day: str, **payload: str) -> None:
    """Create, announce and station in a central round ``R`` on ``day``."""
    before = (D.fromisoformat(day) - dt.timedelta(days=7)).isoformat()
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at(before))
    ledger.fire("R", "announce", actor=OFFICE, at=at(before, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(day), meeting="动员会", **payload)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-05-08", D(2024, 6, 8)),
        ("2019-07-15", D(2019, 8, 15)),
        ("2021-04-06", D(2021, 5, 6)),
    ],
)
def test_a_central_station_in_ends_one_month_later_on_the_same_date(start: str, end: D) -> None:
    """A central round stationed on a day ends on the same date of the next month."""
    ledger = Ledger(rulebook=CENTRAL)
    station(ledger, start)
    (view,) = ledger.deadlines("R")
    assert view.record.last_day == end
    assert not view.fixed


def test_the_central_station_in_rule_is_one_month_without_roll() -> None:
    """The central rule counts one month, not the start day, and a Saturday end stays."""
    rule = CENTRAL.rule("station_in")
    assert rule.describe("en") == "1 month (start day not counted; no roll)"
    due = rule.compute(at("2024-05-08"), ChinaCalendar())
    assert due.last_day == D(2024, 6, 8)  # a Saturday


def test_an_announced_end_is_the_station_in_end() -> None:
    """A station-in carrying its announced end date ends on that date, kept on recompute."""
    ledger = Ledger(rulebook=CENTRAL)
    station(ledger, "2024-05-08", announced_end="2024-06-07")
    (view,) = ledger.deadlines("R")
    assert view.record.last_day == D(2024, 6, 7)
    assert view.fixed
    assert ledger.recompute("R", actor=OFFICE, at=at("2024-05-20")) == []


def test_a_station_in_without_an_announced_end_moves_with_the_rulebook() -> None:
    """Without an announced end, recompute moves the end to the current rulebook's rule."""
    thirty = DeadlineRule.calendar_days(30, count_start_day=True, roll=False, name="station_in")
    # Without its regimes, the changed rulebook governs the round itself.
    old = attrs.evolve(CENTRAL, rules={**CENTRAL.rules, "station_in": thirty}, regimes=())
    store = MemoryStore()
    station(Ledger(store, rulebook=old), "2024-05-08")
    ledger = Ledger(store, rulebook=CENTRAL)
    (moved,) = ledger.recompute("R", actor=OFFICE, at=at("2024-05-20"))
    assert (moved.old_last_day, moved.new_last_day) == (D(2024, 6, 6), D(2024, 6, 8))


def test_an_announced_end_not_after_the_station_in_is_refused() -> None:
    """An announced end on or before the station-in day is refused and records nothing."""
    ledger = Ledger(rulebook=CENTRAL)
    with pytest.raises(PayloadError, match="announced_end"):
        station(ledger, "2024-05-08", announced_end="2024-05-08")
    assert ledger.get("R").state == "announced"


def test_a_rulebook_without_the_station_in_rule_is_refused() -> None:
    """The station-in may need its rule, so a rulebook without it fails to load."""
    path = Path(inspection_flow.__file__).parent / "rulebooks" / "central.toml"
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    del data["deadlines"]["station_in"]
    with pytest.raises(RulebookError, match="station_in"):
        parse_rulebook(data)
