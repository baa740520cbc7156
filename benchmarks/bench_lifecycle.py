"""Benchmark: commands through ``Ledger.fire`` against bare ``transitions`` machines.

Run from the repository root::

    python benchmarks/bench_lifecycle.py            # full run (about a minute)
    python benchmarks/bench_lifecycle.py --quick    # smaller sizes, for a smoke test

Measures, in one process:

(a) 100,000 commands through ``Ledger.fire`` on complaint cases (permission and
    jurisdiction check, payload validation, guard, the transition on the shared machine,
    one hashed event, deadline updates), 20,000 cases x 5 commands;
(b) the same 100,000 transitions on ONE bare shared ``transitions.Machine`` driving a
    single cursor model (``set_state`` + trigger) — the cheapest way to use the library
    for many entities;
(c) the same transitions with ``add_model`` per entity (one model object per case
    registered on one machine) — the pattern the library avoids;
(d) creating 100,000 open cases: time, and memory held (tracemalloc);
(e) creating 1,000,000 open cases: time, and the process's peak RSS growth.

Targets: (a) per command at most 4x (b); (e) under 20 s and 1.5 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import platform
import resource
import sys
import time
import tracemalloc

from transitions import Machine

from inspection_flow import COMPLAINT, SHANGHAI, Actor, Ledger

TARGET_FIRE_RATIO = 4.0
TARGET_CREATE_S = 20.0
TARGET_CREATE_BYTES = 1.5e9

ROUND = "HN-2023-2-YY"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第二督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
OWNER = Actor("owner_unit", "430903", "赫山区")
AREAS = ("430902", "430903", "430921", "430922", "430923", "430981")

#: The commands each case receives, after hand-over.
STEPS = (
    ("assign", LIAISON, {"owners": ["430903"]}),
    ("start_investigation", OWNER, {}),
    ("record_finding", OWNER, {"finding": "substantiated"}),
    ("start_rectification", OWNER, {}),
    ("report_result", OWNER, {"summary": "已责令整改"}),
)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


def stationed_ledger() -> Ledger:
    ledger = Ledger(rulebook="hunan-provincial-2023")
    ledger.create_round(ROUND, name="益阳市", area="430900", actor=OFFICE, at=at(20, 9))
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at(26, 9))
    return ledger


def receive(ledger: Ledger, n: int, area_of: tuple[str, ...] = ("430903",)) -> None:
    when = at(27, 10)
    k = len(area_of)
    for i in range(n):
        ledger.receive_complaint(
            ROUND,
            channel="phone",
            received_at=when,
            area=area_of[i % k],
            summary="夜间施工噪声扰民",
            category="noise",
            actor=TEAM,
            complaint_id=f"C{i:07d}",
        )


def bench_fire(cases: int) -> tuple[float, int]:
    ledger = stationed_ledger()
    receive(ledger, cases)
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at(28, 9))
    ids = [f"C{i:07d}" for i in range(cases)]
    when = at(28, 10)
    gc.collect()
    start = time.perf_counter()
    for event, actor, payload in STEPS:
        for entity_id in ids:
            ledger.fire(entity_id, event, actor=actor, at=when, **payload)
    elapsed = time.perf_counter() - start
    assert ledger.get(ids[-1]).state == "reported"
    return elapsed, cases * len(STEPS)


def _events() -> list[str]:
    return [event for event, _, _ in STEPS]


def bench_bare_machine(cases: int) -> tuple[float, int]:
    class Cursor:
        state: str

    cursor = Cursor()
    machine = Machine(
        model=cursor,
        states=[s.name for s in COMPLAINT.states],
        initial="handed_over",
        auto_transitions=False,
    )
    for t in COMPLAINT.transitions:
        machine.add_transition(t.event, list(t.sources), t.target or "=")
    states = ["handed_over"] * cases
    gc.collect()
    start = time.perf_counter()
    for event in _events():
        for i in range(cases):
            machine.set_state(states[i], model=cursor)
            cursor.trigger(event)  # type: ignore[attr-defined]
            states[i] = cursor.state
    elapsed = time.perf_counter() - start
    assert states[-1] == "reported"
    return elapsed, cases * len(STEPS)


def bench_add_model(cases: int) -> tuple[float, int]:
    class Case:
        pass

    machine = Machine(
        model=None,
        states=[s.name for s in COMPLAINT.states],
        initial="handed_over",
        auto_transitions=False,
    )
    for t in COMPLAINT.transitions:
        machine.add_transition(t.event, list(t.sources), t.target or "=")
    gc.collect()
    start = time.perf_counter()
    models = []
    for _ in range(cases):
        m = Case()
        machine.add_model(m)
        models.append(m)
    for event in _events():
        for m in models:
            m.trigger(event)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    assert models[-1].state == "reported"  # type: ignore[attr-defined]
    return elapsed, cases * len(STEPS)


def bench_create_memory(n: int) -> tuple[float, int]:
    ledger = stationed_ledger()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    receive(ledger, n, AREAS)
    elapsed = time.perf_counter() - start
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(ledger.store.find(kind="complaint", state="received", batch=None)) == n
    return elapsed, held


def _rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def bench_create_many(n: int) -> tuple[float, int]:
    ledger = stationed_ledger()
    gc.collect()
    before = _rss_bytes()
    start = time.perf_counter()
    receive(ledger, n, AREAS)
    elapsed = time.perf_counter() - start
    grown = _rss_bytes() - before
    assert ledger.counts("state", kind="complaint") == {"received": n}
    return elapsed, grown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    logging.getLogger("transitions").setLevel(logging.WARNING)
    fire_cases = 2_000 if args.quick else 20_000
    add_model_cases = 2_000 if args.quick else 20_000
    mem_cases = 10_000 if args.quick else 100_000
    many_cases = 20_000 if args.quick else 1_000_000

    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()}; quick={args.quick}"
    )
    fire_s, fire_n = bench_fire(fire_cases)
    bare_s, bare_n = bench_bare_machine(fire_cases)
    add_s, add_n = bench_add_model(add_model_cases)
    fire_us = fire_s / fire_n * 1e6
    bare_us = bare_s / bare_n * 1e6
    add_us = add_s / add_n * 1e6
    ratio = fire_us / bare_us
    print(f"(a) Ledger.fire          {fire_n:>9,} commands  {fire_us:8.1f} us/command")
    print(f"(b) bare shared Machine  {bare_n:>9,} triggers  {bare_us:8.1f} us/trigger")
    print(
        f"(c) add_model per entity {add_n:>9,} triggers  {add_us:8.1f} us/trigger "
        f"(add_model included)"
    )
    print(
        f"    fire / bare machine = {ratio:.2f}x  (target <= {TARGET_FIRE_RATIO:.0f}x) "
        f"{'PASS' if ratio <= TARGET_FIRE_RATIO else 'FAIL'}"
    )
    mem_s, mem_bytes = bench_create_memory(mem_cases)
    print(
        f"(d) create {mem_cases:,} open cases: {mem_s:.2f} s under tracemalloc, "
        f"{mem_bytes / 1e6:.0f} MB held ({mem_bytes / mem_cases:.0f} B/case)"
    )
    many_s, many_bytes = bench_create_many(many_cases)
    ok_time = many_s <= TARGET_CREATE_S
    ok_mem = many_bytes <= TARGET_CREATE_BYTES
    print(
        f"(e) create {many_cases:,} open cases: {many_s:.1f} s "
        f"({many_s / many_cases * 1e6:.1f} us/case), peak RSS grew {many_bytes / 1e9:.2f} GB "
        f"(targets {TARGET_CREATE_S:.0f} s, {TARGET_CREATE_BYTES / 1e9:.1f} GB) "
        f"{'PASS' if ok_time and ok_mem else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
