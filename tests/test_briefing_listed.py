"""A briefing lists the most overdue items and counts the rest; the stores count what is
overdue and escalated without reading the entities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspection_flow import SHANGHAI, Ledger, PayloadError, Snapshot, briefing_markdown
from inspection_flow._cli import main
from inspection_flow._demo import ROUND_ID, build_demo
from inspection_flow._records import escalation_of

DAY = dt.date(2024, 3, 31)
#: Instants to count at: during the station-in, at its end, in the rectification.
INSTANTS = (
    dt.datetime(2023, 7, 10, tzinfo=SHANGHAI),
    dt.datetime(2023, 7, 21, tzinfo=SHANGHAI),
    dt.datetime(2024, 4, 1, tzinfo=SHANGHAI),
)


@pytest.fixture(params=["memory", "stored"])
def demo(request: pytest.FixtureRequest, ledger_url: str) -> Iterator[Ledger]:
    """The source case, swept to the end of 2024-03-31, in memory, SQLite or PostgreSQL."""
    if request.param == "memory":
        ledger = Ledger(rulebook="hunan-provincial-2023")
    else:
        ledger = Ledger.open(ledger_url, rulebook="hunan-provincial-2023")
    with ledger:
        build_demo(ledger, per_day=(2, 5))
        ledger.sweep(dt.datetime(2024, 4, 1, tzinfo=SHANGHAI))
        yield ledger


def _naive(found: list[Snapshot], now: dt.datetime, round_id: str | None) -> list[str]:
    kept = [s for s in found if round_id is None or s.round_id == round_id]
    return [s.entity_id for s in sorted(kept, key=lambda s: (s.next_due_at, s.entity_id))]


def test_the_stores_ids_equal_what_reading_every_entity_finds(demo: Ledger) -> None:
    escalated_seen = False
    for now in INSTANTS:
        every = [
            s
            for s in demo.find()
            if not s.terminal and s.next_due_at is not None and s.next_due_at <= now
        ]
        for round_id in (ROUND_ID, None):
            assert demo.store.overdue_ids(now, round_id=round_id) == _naive(every, now, round_id)
            escalated = [s for s in every if escalation_of(s, now) is not None]
            assert demo.store.escalated_ids(now, round_id=round_id) == _naive(
                escalated, now, round_id
            )
            escalated_seen = escalated_seen or bool(escalated)
    assert escalated_seen, "the swept source case has escalated items to count"


def test_a_briefing_lists_the_most_overdue_and_counts_the_rest(demo: Ledger) -> None:
    every = demo.briefing(DAY, listed=None)
    assert len(every.overdue) >= 3
    assert every.escalated
    assert (every.overdue_total, every.escalated_total) == (
        len(every.overdue),
        len(every.escalated),
    )
    assert every.overdue_unlisted == 0
    assert "未列出" not in briefing_markdown(every)
    two = demo.briefing(DAY, listed=2)
    assert two.overdue == every.overdue[:2]
    assert two.escalated == every.escalated[:2]
    assert (two.overdue_total, two.escalated_total) == (every.overdue_total, every.escalated_total)
    assert two.overdue_unlisted == every.overdue_total - 2
    text = briefing_markdown(two)
    assert f"超期事项{every.overdue_total}件，其中已升级{every.escalated_total}件。" in text
    assert f"以上列出超期最久的2件，另有{every.overdue_total - 2}件未列出" in text
    none = demo.briefing(DAY, listed=0)
    assert none.overdue == none.escalated == ()
    assert none.overdue_total == every.overdue_total
    # The default lists up to 50: the source case has fewer on that day.
    assert demo.briefing(DAY) == every


@pytest.mark.parametrize("listed", [-1, 1.5, "10", True])
def test_a_bad_listed_is_refused(listed: object) -> None:
    ledger = Ledger(rulebook="hunan-provincial-2023")
    build_demo(ledger, per_day=(1, 2))
    with pytest.raises(PayloadError, match="listed"):
        ledger.briefing(DAY, listed=listed)  # type: ignore[arg-type]


def test_the_report_command_takes_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = f"{tmp_path}/demo.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger, per_day=(2, 5))
    assert main(["report", path, "--as-of", DAY.isoformat(), "--listed", "1"]) == 0
    assert "另有" in capsys.readouterr().out
    assert main(["report", path, "--as-of", DAY.isoformat(), "--listed", "all"]) == 0
    assert "未列出" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["report", path, "--as-of", DAY.isoformat(), "--listed", "some"])
    assert exc.value.code == 2
