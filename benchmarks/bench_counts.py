"""Benchmark: counting by area when an entity may have several areas.

Run from the repository root::

    python benchmarks/bench_counts.py            # 200,000 entities
    python benchmarks/bench_counts.py --quick    # 20,000, for a smoke test

A SQLite file holds complaint cases and tasks over Yiyang's counties, one in ten of
them over two or three counties (a shared case, a task spanning counties).  Each query
runs warm, several times, and its median counts:

- the baseline: ``store.counts("area")``, one count per entity under its primary area
  (one ``GROUP BY`` over the entities);
- ``store.counts_by_area()``: under each of its areas, from the index on the areas
  alone; and with a kind filter, which joins the entities (beside the primary-area
  count with the same filter);
- ``Ledger.counts("area")``: what a caller gets, aliases merged;
- ``Ledger.find(kind="task", area="430921")``, which asks for the areas known before it
  filters.

Each line prints its median and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import load, python_speed

from inspection_flow import Ledger, SQLStore, load_rulebook
from inspection_flow.testing import create_commit

COUNTIES = ("430902", "430903", "430921", "430922", "430923", "430981", "430971", "430972")
RUNS = 7


def fill(store: SQLStore, entities: int) -> None:
    """Write ``entities`` cases and tasks, one in ten over two or three counties."""
    rng = random.Random(11)
    chunk = []
    for i in range(entities):
        kind = "task" if i % 4 == 0 else "complaint"
        first = rng.choice(COUNTIES)
        areas = [first]
        if i % 10 == 0:
            areas += rng.sample([c for c in COUNTIES if c != first], rng.randint(1, 2))
        chunk.append(create_commit(f"e-{i:07d}", kind=kind, area=first, areas=areas))
        if len(chunk) == 2000:
            store.append_batch(chunk)
            chunk = []
    if chunk:
        store.append_batch(chunk)


def median_ms(call: Callable[[], object]) -> float:
    call()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="20,000 entities")
    args = parser.parse_args()
    entities = 20_000 if args.quick else 200_000
    print(f"python {sys.version.split()[0]}; load average {load()}")
    print(f"machine speed: {python_speed()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "counts.db")
        store = SQLStore.open(path)
        start = time.perf_counter()
        fill(store, entities)
        print(f"{entities:,} entities written in {time.perf_counter() - start:.1f} s")
        ledger = Ledger(store, rulebook=load_rulebook("hunan-provincial-2023"))
        base = median_ms(lambda: store.counts("area"))
        rows = [
            ("store.counts('area') (baseline: primary area)", base),
            ("store.counts_by_area()", median_ms(store.counts_by_area)),
            (
                "store.counts('area', kind='task')",
                median_ms(lambda: store.counts("area", kind="task")),
            ),
            (
                "store.counts_by_area(kind='task')",
                median_ms(lambda: store.counts_by_area(kind="task")),
            ),
            ("Ledger.counts('area')", median_ms(lambda: ledger.counts("area"))),
            (
                "Ledger.find(kind='task', area='430921')",
                median_ms(lambda: ledger.find(kind="task", area="430921")),
            ),
        ]
        for name, ms in rows:
            print(f"{name:48} {ms:9.1f} ms  x{ms / base:5.2f}")
        total = sum(store.counts("area").values())
        each = sum(store.counts_by_area().values())
        print(f"entities {total:,}; counted under each of their areas {each:,}")
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
