"""The scheduler example (examples/scheduler.py): two worker processes sweeping one
PostgreSQL ledger on APScheduler deliver every alert that came due, each exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from examples import scheduler

from inspection_flow import Ledger


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_deliver_each_alert_once(pg_schema_url: str, tmp_path: Path) -> None:
    """Every alert the ledger recorded was delivered by exactly one worker, and none that
    came due by the end of the run was left unrecorded."""
    scheduler.seed(pg_schema_url)
    workers = scheduler.start_workers(
        pg_schema_url, count=2, every=0.1, seconds=2.0, origin=str(tmp_path / "origin")
    )
    delivered = scheduler.collect(workers)
    keys = Counter((d["entity_id"], d["deadline"], d["alert"]) for d in delivered)
    assert keys
    assert max(keys.values()) == 1
    assert keys == scheduler.recorded_alerts(pg_schema_url)
    assert {d["worker"] for d in delivered} <= {"worker-1", "worker-2"}
    with Ledger.open(pg_schema_url, rulebook=scheduler.RULEBOOK) as ledger:
        # Nothing that came due by the end of the run is still waiting to be recorded.
        assert ledger.sweep(scheduler.DEMO_END) == []
        cases = ledger.find(kind="complaint")
        assert len(cases) == 10
        # Each case's result deadline passed in July: one lapse each.
        due = {
            (case.entity_id, name)
            for case in cases
            for name, record in case.deadlines.items()
            if record.kind == "due" and record.due_at <= scheduler.DEMO_END
        }
    assert {(entity, deadline) for entity, deadline, _ in keys} == due


def test_the_demonstration_clock_waits_for_its_start(tmp_path: Path) -> None:
    """The demonstration's clock stands at its start until its origin is written, then runs
    at its speed and stops at its end."""
    origin = tmp_path / "origin"
    clock = scheduler.FastClock(scheduler.DEMO_START, scheduler.DEMO_END, 86400.0, str(origin))
    assert clock.now() == scheduler.DEMO_START
    origin.write_text(repr(dt.datetime.now().timestamp() - 2.0), encoding="utf-8")
    later = clock.now()
    assert scheduler.DEMO_START + dt.timedelta(days=2) <= later < scheduler.DEMO_END
    origin.write_text("0", encoding="utf-8")  # read once: a running clock never jumps
    assert clock.now() >= later
    assert scheduler.FastClock(
        scheduler.DEMO_START, scheduler.DEMO_END, 1e9, str(origin)
    ).now() == (scheduler.DEMO_END)
