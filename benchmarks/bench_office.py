"""Benchmark: importing a 信访件台账 file against recording the same rows directly.

Run from the repository root::

    python benchmarks/bench_office.py            # 5,000 rows, five runs each
    python benchmarks/bench_office.py --quick    # 500 rows, for a smoke test

Measures, in one process, on a CSV file of the source case's station-in (21 days of
calls, each handed over the next day in that day's batch):

(a) ``Ledger.import_table(path)`` into a new in-memory ledger: reading the file, matching
    headers, parsing every day and time (ISO texts with the standard library, office forms
    with pendulum), checking every row and batch,
    then recording each receipt and hand-over through the ledger's commands;
(b) the fastest correct way to record the same rows through the same commands: the CSV
    read with the standard library, days and times parsed with
    ``datetime.fromisoformat`` (the file is known to be ISO), no checks of the rows,
    receipts written in one ``Ledger.batch()`` and one ``hand_over_batch`` per day.

(a) and (b) run alternately, five times each; each run of (a) is compared with the run
of (b) next to it and the median of the ratios is reported, so that a change in the
machine's other load weighs on both.  Target: (a) at most 1.5x (b).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time

from machine import load, python_speed

from inspection_flow import SHANGHAI, Actor, Ledger
from inspection_flow._office import cells

TARGET_RATIO = 1.5
RUNS = 5
ROUND = "HN-2023-R2-YY"
OFFICE = Actor("leading_office", "430000", "湖南省督察办")
TEAM = Actor("inspection_team", "430000", "督察组")
AREAS = (("赫山区", "430903"), ("资阳区", "430902"), ("安化县", "430923"), ("桃江县", "430922"))
CATEGORIES = (("噪声", "noise"), ("水", "water"), ("大气", "air"), ("土壤", "soil"))


def stationed() -> Ledger:
    ledger = Ledger(rulebook="hunan-provincial-2023")
    start = dt.datetime(2023, 6, 19, 9, tzinfo=SHANGHAI)
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=start)
    ledger.fire(ROUND, "announce", actor=OFFICE, at=start + dt.timedelta(hours=1))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=dt.datetime(2023, 6, 26, 9, tzinfo=SHANGHAI))
    return ledger


def write_file(path: str, rows: int) -> None:
    """A 台账 of ``rows`` calls, spread over the 21 days of station-in, 8:00-19:59."""
    first = dt.date(2023, 6, 26)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(["受理编号", "交办批次", "交办日期", "受理时间", "区县", "类别", "内容摘要"])
        for i in range(rows):
            day = first + dt.timedelta(days=i * 21 // rows)
            minute = 8 * 60 + (i * 7) % (12 * 60)
            area, _ = AREAS[i % len(AREAS)]
            category, _ = CATEGORIES[i % len(CATEGORIES)]
            out.writerow(
                [
                    f"D{i:06d}",
                    (day - first).days + 1,
                    (day + dt.timedelta(days=1)).isoformat(),
                    f"{day.isoformat()} {minute // 60:02d}:{minute % 60:02d}",
                    area,
                    category,
                    f"第{i}件：夜间施工噪声扰民",
                ]
            )


def run_import(path: str) -> float:
    ledger = stationed()
    # Each run reads its texts afresh: what one run parsed must not speed up the next.
    cells._parse_text.cache_clear()
    cells._FORM_OF_SHAPE.clear()
    start = time.perf_counter()
    report = ledger.import_table(path)
    elapsed = time.perf_counter() - start
    assert report.received == report.handed_over, report
    return elapsed


def run_direct(path: str) -> float:
    ledger = stationed()
    areas = dict(AREAS)
    categories = dict(CATEGORIES)
    start = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    days: set[dt.date] = set()
    with ledger.batch():
        for number, _, handed, received, area, category, summary in rows:
            # A file whose every cell is known to be right: no checks, stdlib parsing.
            ledger.receive_complaint(
                ROUND,
                channel="phone",
                received_at=dt.datetime.fromisoformat(received).replace(tzinfo=SHANGHAI),
                area=areas[area],
                summary=summary,
                category=categories[category],
                actor=TEAM,
                complaint_id=number,
                late_entry_reason="据手工台账补录（导入）",
            )
            days.add(dt.date.fromisoformat(handed))
    for day in sorted(days):
        ledger.hand_over_batch(
            ROUND,
            day,
            actor=TEAM,
            at=dt.datetime.combine(day, dt.time(9), SHANGHAI),
            late_entry_reason="据手工台账补录（导入）",
        )
    elapsed = time.perf_counter() - start
    assert len(ledger.find(kind="complaint", state="handed_over")) == len(rows)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 rows")
    args = parser.parse_args()
    rows = 500 if args.quick else 5000
    print(
        f"python {platform.python_version()}, {platform.platform()}, nproc {os.cpu_count()}, "
        f"load average {load()}"
    )
    print(f"machine speed: {python_speed()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "台账.csv")
        write_file(path, rows)
        ratios = []
        for run in range(1, RUNS + 1):
            a = run_import(path)
            b = run_direct(path)
            ratios.append(a / b)
            print(
                f"run {run}: (a) import_table {a:.3f} s ({a / rows * 1e6:.0f} µs a row), "
                f"(b) direct {b:.3f} s, ratio {a / b:.2f}"
            )
    ratio = statistics.median(ratios)
    ok = ratio <= TARGET_RATIO
    print(
        f"{rows} rows: median ratio (a)/(b) {ratio:.2f} (target at most {TARGET_RATIO}) "
        f"{'PASS' if ok else 'FAIL'}; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
