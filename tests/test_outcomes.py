"""The handling status and counted outcomes of 边督边改 a result reports, and their sums by
area and batch as a briefing states them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from inspection_flow import SHANGHAI, Actor, Ledger, PayloadError, load_rulebook
from strategies import LIAISON, OFFICE, TEAM

HUNAN = load_rulebook("hunan-provincial-2023")
HESHAN = Actor("owner_unit", "430903", "赫山区")
ZIYANG = Actor("owner_unit", "430902", "资阳区")
OWNERS = {"430903": HESHAN, "430902": ZIYANG}


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A Hunan ledger with a Yiyang round stationed: in memory, SQLite or PostgreSQL."""
    if request.param == "memory":
        book = Ledger(rulebook=HUNAN)
    else:
        target = (
            str(tmp_path / "outcomes.db")
            if request.param == "sqlite"
            else str(request.getfixturevalue("pg_schema_url"))
        )
        book = Ledger.open(target, rulebook=HUNAN)
    with book:
        book.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
        book.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
        book.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
        yield book


def investigated(ledger: Ledger, cid: str, area: str, received: str) -> None:
    """Receive a phone complaint about ``area`` on ``received`` at 10:00."""
    ledger.receive_complaint(
        "R",
        channel="phone",
        received_at=at(received, 10),
        area=area,
        summary="砂石码头粉尘污染",
        category="air",
        actor=TEAM,
        complaint_id=cid,
    )


def hand_over(ledger: Ledger, day: str, cases: list[tuple[str, str]]) -> None:
    """Hand over the batch of ``day``; each case is assigned to its area and found true."""
    ledger.hand_over_batch("R", dt.date.fromisoformat(day), actor=TEAM, at=at(day))
    for cid, area in cases:
        ledger.fire(cid, "assign", actor=LIAISON, at=at(day, 10), owners=[area])
        ledger.fire(cid, "start_investigation", actor=OWNERS[area], at=at(day, 11))
        ledger.fire(cid, "record_finding", actor=OWNERS[area], at=at(day, 15), finding="属实")


def report(ledger: Ledger, cid: str, area: str, **outcomes: Any) -> None:
    """Report the result of ``cid`` on 07-05 with ``outcomes``."""
    ledger.fire(
        cid,
        "report_result",
        actor=OWNERS[area],
        at=at("2023-07-05"),
        summary="已责令停产整治",
        **outcomes,
    )


# A briefing's numbers: two batches, two districts.
BRIEFING: dict[str, tuple[str, str, dict[str, Any]]] = {
    "C1": (
        "430903",
        "2023-06-27",
        {
            "handling_status": "已办结",
            "rectification_orders": 3,
            "penalty_cases": 1,
            "fines_10k_yuan": "12.5",
            "summons_talks": 2,
        },
    ),
    "C2": (
        "430902",
        "2023-06-27",
        {
            "handling_status": "interim_closed",
            "rectification_orders": 1,
            "fines_10k_yuan": 3.75,
            "persons_held_accountable": 1,
        },
    ),
    "C3": (
        "430903",
        "2023-06-28",
        {
            "handling_status": "正在办理",
            "rectification_orders": 2,
            "penalty_cases": 2,
            "fines_10k_yuan": Decimal("0.0150"),
            "criminal_investigations": 1,
            "detentions": 2,
        },
    ),
    "C4": ("430902", "2023-06-28", {"handling_status": "已办结", "rectification_orders": 0}),
}


def briefed(ledger: Ledger) -> None:
    """Enter the briefing's cases and results through the ledger's commands."""
    for day, batch_day in (("2023-06-27", "2023-06-28"), ("2023-06-28", "2023-06-29")):
        cases = [(cid, area) for cid, (area, received, _) in BRIEFING.items() if received == day]
        for cid, area in cases:
            investigated(ledger, cid, area, day)
        hand_over(ledger, batch_day, cases)
    for cid, (area, _, outcomes) in BRIEFING.items():
        report(ledger, cid, area, **outcomes)


OUTCOMES = [
    "rectification_orders",
    "penalty_cases",
    "fines_10k_yuan",
    "criminal_investigations",
    "detentions",
    "summons_talks",
    "persons_held_accountable",
]


def test_a_result_records_its_handling_status_and_outcomes_apart(ledger: Ledger) -> None:
    """A result records 办理状态 as its choice (given by label or name) and each outcome
    under its own key; the fine is kept as decimal text; the complaint's text stays."""
    briefed(ledger)
    c1, c2, c3, c4 = (ledger.get(c) for c in ("C1", "C2", "C3", "C4"))
    assert [c.data["handling_status"] for c in (c1, c2, c3, c4)] == [
        "closed",
        "interim_closed",
        "in_progress",
        "closed",
    ]
    assert (c1.data["fines_10k_yuan"], c2.data["fines_10k_yuan"]) == ("12.5", "3.75")
    assert c3.data["fines_10k_yuan"] == "0.015"
    assert c1.data["summons_talks"] == 2
    assert "detentions" not in c1.data
    assert c4.data["rectification_orders"] == 0
    assert c1.data["summary"] == "砂石码头粉尘污染"
    assert c1.data["result_summary"] == "已责令停产整治"


def test_outcomes_sum_by_area_and_batch_as_a_briefing_states_them(ledger: Ledger) -> None:
    """sums() totals each outcome over the round, by area and by batch, exactly, the groups
    in order of code and number."""
    briefed(ledger)
    total = ledger.sums(OUTCOMES, round_id="R")
    assert total == {
        None: {
            "rectification_orders": 6,
            "penalty_cases": 3,
            "fines_10k_yuan": Decimal("16.265"),
            "criminal_investigations": 1,
            "detentions": 2,
            "summons_talks": 2,
            "persons_held_accountable": 1,
        }
    }
    by_area = ledger.sums(["rectification_orders", "fines_10k_yuan"], by="area")
    assert by_area == {
        "430903": {"rectification_orders": 5, "fines_10k_yuan": Decimal("12.515")},
        "430902": {"rectification_orders": 1, "fines_10k_yuan": Decimal("3.75")},
    }
    by_batch = ledger.sums(["penalty_cases", "fines_10k_yuan"], by="batch")
    assert by_batch == {
        1: {"penalty_cases": 1, "fines_10k_yuan": Decimal("16.25")},
        2: {"penalty_cases": 2, "fines_10k_yuan": Decimal("0.015")},
    }
    assert (list(by_area), list(by_batch)) == (["430902", "430903"], [1, 2])
    assert ledger.sums(["detentions"], area="430902") == {None: {"detentions": 0}}
    assert ledger.sums(["detentions"], area="430900", by="area")["430903"] == {"detentions": 2}


def test_sums_of_nothing_are_empty(ledger: Ledger) -> None:
    """With no entity matching, sums() lists no group."""
    assert ledger.sums(["rectification_orders"], round_id="R") == {}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("rectification_orders", -1, "must be from 0"),
        ("rectification_orders", 1.5, "must be a whole number"),
        ("rectification_orders", True, "must be a whole number"),
        ("fines_10k_yuan", "12.34567", "more than 4 places"),
        ("fines_10k_yuan", "-2", "must be an amount from 0"),
        ("fines_10k_yuan", "十二", "must be an amount such as"),
        ("fines_10k_yuan", float("nan"), "must be an amount from 0"),
        ("fines_10k_yuan", True, "must be an amount such as"),
        ("handling_status", "办完了", "已办结"),
    ],
)
def test_a_bad_outcome_is_refused_and_changes_nothing(
    ledger: Ledger, field: str, value: Any, words: str
) -> None:
    """A negative or fractional count, a bad amount or an unknown status is a PayloadError
    naming the field, and the case stays as it was."""
    investigated(ledger, "C1", "430903", "2023-06-27")
    hand_over(ledger, "2023-06-28", [("C1", "430903")])
    before = ledger.get("C1")
    with pytest.raises(PayloadError) as info:
        report(ledger, "C1", "430903", **{field: value})
    assert info.value.field == field
    assert words in str(info.value)
    assert ledger.get("C1") == before


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "words"),
    [
        ((["summary"],), {}, "fields", "sum one of"),
        ((["fines"],), {}, "fields", "fines_10k_yuan"),
        (([],), {}, "fields", "non-empty list"),
        (("detentions",), {}, "fields", "non-empty list"),
        (([3],), {}, "fields", "is not a number"),
        ((["detentions"],), {"by": "category"}, "by", "sum by one of area, batch"),
        ((["detentions"],), {"kind": "rocket"}, "kind", "no lifecycle of kind"),
        ((["detentions"],), {"round_id": ""}, "round_id", ""),
    ],
)
def test_sums_refuses_bad_arguments_with_library_errors(
    ledger: Ledger, args: tuple[Any, ...], kwargs: dict[str, Any], field: str, words: str
) -> None:
    """Unknown or non-numeric fields, an unknown grouping, kind or bad filter are
    PayloadErrors that say what can be summed."""
    with pytest.raises(PayloadError) as info:
        ledger.sums(*args, **kwargs)
    assert info.value.field == field
    assert words in str(info.value)


def test_a_rulebook_lifecycle_may_record_counts_and_amounts(tmp_path: Path) -> None:
    """A TOML lifecycle's fields may be count and decimal; they are checked and summed."""
    import test_custom_lifecycles as custom

    text = custom.SUMMONS_TOML.replace(
        '{ name = "attendees", type = "int" }',
        '{ name = "attendees", type = "count" }, { name = "cost", type = "decimal" }',
    )
    ledger = Ledger(rulebook=load_rulebook(custom.write_rulebook(tmp_path, text)))
    for tid, attendees, cost in (("YT-1", 0, "0.5"), ("YT-2", 6, "1.25")):
        ledger.create(
            "summons_talk",
            entity_id=tid,
            actor=custom.OFFICE,
            at=at("2023-10-09"),
            **custom.TALK_FIELDS,
        )
        ledger.fire(
            tid,
            "hold_talk",
            actor=custom.OFFICE,
            at=at("2023-10-16"),
            attendees=attendees,
            cost=cost,
        )
    assert ledger.sums(["attendees", "cost"], kind="summons_talk") == {
        None: {"attendees": 6, "cost": Decimal("1.75")}
    }
    ledger.create(
        "summons_talk",
        entity_id="YT-3",
        actor=custom.OFFICE,
        at=at("2023-10-09"),
        **custom.TALK_FIELDS,
    )
    with pytest.raises(PayloadError, match="more than 4 places"):
        ledger.fire(
            "YT-3",
            "hold_talk",
            actor=custom.OFFICE,
            at=at("2023-10-16"),
            attendees=1,
            cost="0.00001",
        )
    assert ledger.get("YT-3").state == "scheduled"
