"""Reading large ledgers: counts by the store, views as of a day, limit queries, the
status report without the integrity check, the benchmark's smoke run."""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    Ledger,
    MemoryStore,
    PayloadError,
    Snapshot,
    status_report,
)
from inspection_flow._demo import ROUND_ID, build_demo
from inspection_flow._report import _CASE_FIELDS
from inspection_flow.testing import create_commit, deadline, next_commit

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2024, 3, 31)
T0 = dt.datetime(2024, 1, 1, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's ledger in a SQLite file."""
    path = tmp_path_factory.mktemp("reading") / "demo.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger)
    return path


def _replayed_view(ledger: Ledger, day: dt.date) -> Ledger:
    cutoff = dt.datetime.combine(day, dt.time.max, SHANGHAI)
    return ledger._replayed(cutoff)


def test_a_view_after_every_event_reads_the_projection(demo_file: Path) -> None:
    """as_of a day after the latest event reads the stored projection, and counts, rates,
    sums and lists equal those of the view folded from the events."""
    with Ledger.open(demo_file, read_only=True) as ledger:
        latest = ledger.store.latest_at()
        assert latest is not None
        day = latest.astimezone(SHANGHAI).date()
        view = ledger.as_of(day)
        assert view.store is ledger.store
        folded = _replayed_view(ledger, day)
        assert folded.store is not ledger.store
        now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI)
        for by in ("state", "area", "batch", "category", "categories", "kind"):
            assert view.counts(by) == folded.counts(by)  # type: ignore[arg-type]
        assert view.rates(now) == folded.rates(now)
        fields = ["rectification_orders", "penalty_cases"]
        assert view.sums(fields, by="area") == folded.sums(fields, by="area")
        assert view.overdue(now, limit=5) == folded.overdue(now, limit=5)
        assert view.due_within(10, now) == folded.due_within(10, now)


def test_a_view_of_an_earlier_day_is_folded_from_the_events(demo_file: Path) -> None:
    """as_of a day before the latest event leaves out what happened later."""
    with Ledger.open(demo_file, read_only=True) as ledger:
        view = ledger.as_of(dt.date(2023, 7, 1))
        assert view.store is not ledger.store
        assert view.counts("kind") != ledger.counts("kind")


def test_the_report_is_the_same_from_the_projection_and_from_the_events(
    demo_file: Path,
) -> None:
    """The status report counted by the store equals the one counted from a folded view."""
    with Ledger.open(demo_file, read_only=True) as ledger:
        latest = ledger.store.latest_at()
        assert latest is not None
        day = latest.astimezone(SHANGHAI).date()
        assert ledger.as_of(day).store is ledger.store
        fast = status_report(ledger, day, round_id=ROUND_ID)
        slow = status_report(_replayed_view(ledger, day), day, round_id=ROUND_ID)
        assert fast == slow
        assert "超期事项" in fast


def test_status_verifies_only_when_asked(
    demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` prints no integrity check unless given --verify."""
    from inspection_flow._cli import main

    assert main(["status", str(demo_file), "--as-of", AS_OF.isoformat()]) == 0
    plain = capsys.readouterr().out
    assert "完整性校验" not in plain
    assert main(["status", str(demo_file), "--as-of", AS_OF.isoformat(), "--verify"]) == 0
    checked = capsys.readouterr().out
    assert "完整性校验：完好" in checked
    # The same report, with the integrity check added.
    assert [line for line in checked.splitlines() if line and "完整性校验" not in line] == [
        line for line in plain.splitlines() if line
    ]


def test_count_values_through_the_ledger(demo_file: Path) -> None:
    """Ledger.count_values counts by snapshot values, within an area; bad fields are a
    PayloadError."""
    with Ledger.open(demo_file, read_only=True) as ledger:
        counted = ledger.count_values(["state"], kind="complaint", area="430903")
        assert counted == {
            (state,): n
            for state, n in ledger.counts("state", kind="complaint", area="430903").items()
        }
        batches = ledger.count_values(["batch", "data.batch_day"], kind="complaint")
        assert sum(batches.values()) == sum(ledger.counts("kind", kind="complaint").values())
        for bad in (["nope"], "state", [], ["data.a-b"]):
            with pytest.raises(PayloadError, match="fields"):
                ledger.count_values(bad)  # type: ignore[arg-type]


def test_sums_count_each_combination_once() -> None:
    """sums adds whole numbers and amounts exactly, each entity once, by area."""
    store = MemoryStore()
    for i, (area, orders, fine) in enumerate(
        [("430902", 1, "1.5"), ("430902", 1, "1.5"), ("430903", 2, "0.25"), ("430903", 0, None)]
    ):
        data = {"rectification_orders": orders}
        if fine is not None:
            data["fines_10k_yuan"] = fine
        store.append(create_commit(f"c-{i}", area=area, data=data, round_id=None))
    ledger = Ledger(store, rulebook="hunan-provincial-2023")
    got = ledger.sums(["rectification_orders", "fines_10k_yuan"], by="area")
    assert got == {
        "430902": {"rectification_orders": 2, "fines_10k_yuan": decimal.Decimal("3.0")},
        "430903": {"rectification_orders": 2, "fines_10k_yuan": decimal.Decimal("0.25")},
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 11),  # entity
            st.integers(-3 * 24, 40 * 24),  # due, hours from T0
            st.booleans(),  # closes the entity
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(-24, 30 * 24),
    st.integers(0, 15),
)
def test_memory_limits_agree_with_sorting_everything(
    writes: list[tuple[int, int, bool]], hours: int, limit: int
) -> None:
    """MemoryStore's overdue, due_between and due_alerts with a limit equal sorting every
    entity and slicing, after any sequence of writes."""
    store = MemoryStore()
    current: dict[str, Snapshot] = {}
    for entity, due_hours, closes in writes:
        entity_id = f"e-{entity:02d}"
        due = T0 + dt.timedelta(hours=due_hours)
        record = {"due": deadline("due", due, alerts=[due - dt.timedelta(hours=5)])}
        snap = current.get(entity_id)
        if snap is None:
            commit = create_commit(entity_id, area=f"4309{entity % 3:02d}", deadlines=record)
        elif snap.terminal:
            continue
        else:
            commit = next_commit(
                snap,
                at=max(snap.updated_at, T0) + dt.timedelta(minutes=1),
                deadlines=record,
                **({"state": "closed", "set": {"terminal": True}} if closes else {}),
            )
        store.append(commit)
        current[entity_id] = commit.snapshot
        now = T0 + dt.timedelta(hours=hours)
        snaps = list(current.values())
        end = now + dt.timedelta(days=5)
        overdue = _naive(snaps, _open_due, None, now)
        assert [s.entity_id for s in store.overdue(now, limit=limit)] == overdue[:limit]
        in_area = [i for i in overdue if current[i].areas[0] == "430901"]
        got = store.overdue(now, areas=["430901"], limit=limit)
        assert [s.entity_id for s in got] == in_area[:limit]
        between = _naive(snaps, _open_due, now, end)
        got = store.due_between(now, end, limit=limit)
        assert [s.entity_id for s in got] == between[:limit]
        alerts = _naive(snaps, _alert_at, None, now)
        assert [s.entity_id for s in store.due_alerts(now, limit=limit)] == alerts[:limit]


def _open_due(s: Snapshot) -> dt.datetime | None:
    return None if s.terminal else s.next_due_at


def _alert_at(s: Snapshot) -> dt.datetime | None:
    return s.next_alert_at


def _naive(
    snaps: list[Snapshot],
    key: Callable[[Snapshot], dt.datetime | None],
    start: dt.datetime | None,
    end: dt.datetime,
) -> list[str]:
    """The ids whose instant lies in (start, end], sorted by instant then id."""
    found = []
    for s in snaps:
        at = key(s)
        if at is not None and at <= end and (start is None or at > start):
            found.append((at, s.entity_id))
    return [entity_id for _, entity_id in sorted(found)]


def test_the_benchmark_runs_quick() -> None:
    """benchmarks/bench_read.py --quick runs every part and prints its summary."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_read.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert "load average at the start" in done.stdout
    assert "summary:" in done.stdout
    for part in (
        "(s) inspection-flow status",
        "(b) inspection-flow report",
        "(v) verify",
        "(c) verify and repair with command records",
        "(m) MemoryStore",
        "(i) import",
        "(g) point reads in a block",
    ):
        assert part in done.stdout


def test_the_benchmark_takes_parts_with_commas() -> None:
    """bench_read.py --parts s,b runs the parts named, letters with commas between them,
    and refuses a part it does not know."""
    run = [sys.executable, str(ROOT / "benchmarks" / "bench_read.py"), "--quick"]
    done = subprocess.run(
        [*run, "--parts", "s,b"], capture_output=True, text=True, check=True, timeout=600
    )
    assert "(s) inspection-flow status" in done.stdout
    assert "(b) inspection-flow report" in done.stdout
    assert "(i) import" not in done.stdout
    # Parts that time new processes run them with the package's bytecode compiled.
    assert "compiled beforehand, as pip install does" in done.stdout
    refused = subprocess.run([*run, "--parts", "s,x"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "unknown parts x" in refused.stderr


def test_importing_the_package_loads_nothing_heavy() -> None:
    """``import inspection_flow`` loads the calendar and deadline rules only: no SQLAlchemy,
    no importlib.metadata, no ledger, stores or lifecycle engine until first used."""
    heavy = [
        "sqlalchemy",
        "importlib.metadata",
        "transitions",
        "pendulum",
        "inspection_flow._ledger",
        "inspection_flow.stores",
        "inspection_flow._builtin",
    ]
    code = (
        "import sys, inspection_flow\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "inspection_flow.DeadlineRule.working_days(30)\n"
        "assert inspection_flow.Ledger.__name__ == 'Ledger'\n"
        "assert 'inspection_flow._ledger' in sys.modules\n"
        "from inspection_flow import *\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_calendar_benchmark_runs_quick() -> None:
    """benchmarks/bench_calendar.py --quick checks every yardstick and prints the bisect floor."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_calendar.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert "ours vs bisect floor per scalar call" in done.stdout
    assert "ours vs numpy searchsorted per item" in done.stdout


def test_repair_rewrites_in_batches(
    demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """repair rewrites every drifted row, a batch of entities per transaction, and the
    ledger verifies deep afterwards."""
    import contextlib
    import shutil
    import sqlite3

    from inspection_flow.stores import _sql

    copy = tmp_path / "damaged.db"
    shutil.copyfile(demo_file, copy)
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        damaged = conn.execute(
            "update if_entities set state = 'tampered' where rowid % 7 = 0"
        ).rowcount
    assert damaged > 5
    monkeypatch.setattr(_sql, "_REPAIR_BATCH", 3)
    with Ledger.open(copy) as ledger:
        assert not ledger.verify(deep=True).ok
        report = ledger.repair()
        assert len(report.repaired) == damaged
        assert report.ok
        assert ledger.verify(deep=True).ok


def test_a_view_on_the_live_store_writes_nothing(demo_file: Path, tmp_path: Path) -> None:
    """A view that reads the ledger's own store refuses sweeps and calendar years before
    touching the store: no lease is taken, nothing is kept."""
    import shutil

    from inspection_flow import StoreError, YearSchedule

    copy = tmp_path / "live.db"
    shutil.copyfile(demo_file, copy)
    with Ledger.open(copy) as ledger:
        latest = ledger.store.latest_at()
        assert latest is not None
        view = ledger.as_of(latest + dt.timedelta(days=400))
        assert view.store is ledger.store
        head = ledger.store.head()
        with pytest.raises(StoreError, match="for reading only"):
            view.sweep(latest + dt.timedelta(days=400))
        with pytest.raises(StoreError, match="for reading only"):
            view.supply_calendar_year(YearSchedule(2099, {}, {}, "test"))
        assert ledger.store.head() == head
        assert ledger.store.calendar_years() == []
        # No lease was taken: the ledger's own sweep finds every alert due.
        assert ledger.sweep(latest + dt.timedelta(days=400))


def test_a_report_counts_an_entity_of_several_areas_under_each(ledger_url: str) -> None:
    """Within a report's counts taken together, a case shared by two counties counts under
    each, and every count by a column equals the store's own count."""
    office = Actor("leading_office", "430000", "省督察办")
    team = Actor("inspection_team", "430000", "省第四督察组")
    liaison = Actor("liaison", "430900", "益阳市督察联络组")

    def at(day: int, hour: int) -> dt.datetime:
        return dt.datetime(2023, 6, day, hour, tzinfo=SHANGHAI)

    with Ledger.open(ledger_url, rulebook="hunan-provincial-2023") as ledger:
        ledger.create_round("YY", name="益阳市", area="430900", actor=office, at=at(19, 9))
        ledger.fire("YY", "announce", actor=office, at=at(19, 10))
        ledger.fire("YY", "station_in", actor=team, at=at(26, 9))
        ids = [
            ledger.receive_complaint(
                "YY", channel="phone", received_at=at(26, 10 + k), area=area,
                summary="示例", category=category, categories=[category, "air"], actor=team,
            ).entity_id
            for k, (area, category) in enumerate((("430903", "noise"), ("430923", "water")))
        ]  # fmt: skip
        ledger.hand_over_batch("YY", dt.date(2023, 6, 27), actor=team, at=at(27, 9))
        ledger.fire(ids[0], "assign", actor=liaison, at=at(27, 10), owners=["430903", "430923"])
        bys = ("area", "batch", "category", "categories", "state")
        apart = {by: ledger.counts(by, kind="complaint") for by in bys}  # type: ignore[arg-type]
        with ledger._counted_together("complaint", None, _CASE_FIELDS):
            together = {by: ledger.counts(by, kind="complaint") for by in bys}  # type: ignore[arg-type]
            assert ledger._held_together(["areas", "batch", "category"], "complaint", None)
    assert together == apart
    assert together["area"] == {"430903": 1, "430923": 2}
    assert together["categories"] == {"noise": 1, "water": 1, "air": 2}
