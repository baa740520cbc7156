"""Benchmark: commands through ``Ledger.fire`` against bare ``transitions`` machines.

Run from the repository root::

    python benchmarks/bench_lifecycle.py            # full run (about four minutes)
    python benchmarks/bench_lifecycle.py --quick    # smaller sizes, for a smoke test

Measures, in one process:

(a) 100,000 commands through ``Ledger.fire`` on complaint cases (permission and
    jurisdiction check, payload validation, guard, the move the shared machine decided,
    one hashed event, deadline updates), 20,000 cases x 5 commands;
(b) the same 100,000 transitions on ONE bare shared ``transitions.Machine`` driving a
    single cursor model (``set_state`` + trigger) — the cheapest way to use the library
    for many entities;
(c) the same transitions with ``add_model`` per entity (one model object per case
    registered on one machine) — the pattern the library avoids;
(d) creating 100,000 open cases: time, and memory held (tracemalloc);
(e) creating 1,000,000 open cases: time, and the process's peak RSS growth.

Each part runs in a new interpreter, so that none inherits the heap another left behind.
(a) and (b) run alternately in one, five times each, each run of (a) is compared with the
run of (b) next to it, and the median of the five ratios is reported, so that a change
in the machine's other load weighs on both; (e) runs three times, each
time in a new interpreter (once with ``--quick``), and the median of the runs is judged.
The load average is printed at the start and the end; ``--only e`` runs part (e) alone.

Targets: (a) per command at most 4x (b); (e) under 20 s and 1.5 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from machine import load, python_speed
from transitions import Machine

from inspection_flow import COMPLAINT, SHANGHAI, Actor, Ledger

TARGET_FIRE_RATIO = 4.0
TARGET_CREATE_S = 20.0
TARGET_CREATE_BYTES = 1.5e9
#: Alternating runs of (a) and (b), compared by their medians.
RUNS = 5
#: Runs of (e), each in a new interpreter; their median is judged.
E_RUNS = 5

ROUND = "HN-2023-2-YY"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
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


def measure(part: str, quick: bool) -> dict[str, Any]:
    """Run one part in this process and return its figures."""
    logging.getLogger("transitions").setLevel(logging.WARNING)
    if part == "ab":
        # (a) and (b) alternate, RUNS times each, and each pair is compared: a change in
        # the machine's other load then weighs on both.
        cases = 2_000 if quick else 20_000
        fire: list[float] = []
        bare: list[float] = []
        for _ in range(RUNS):
            fire_s, n = bench_fire(cases)
            gc.collect()
            bare_s, _ = bench_bare_machine(cases)
            gc.collect()
            fire.append(fire_s / n * 1e6)
            bare.append(bare_s / n * 1e6)
        return {"n": n, "fire": fire, "bare": bare}
    if part == "c":
        add_s, n = bench_add_model(2_000 if quick else 20_000)
        return {"n": n, "us": add_s / n * 1e6}
    if part == "d":
        n = 10_000 if quick else 100_000
        mem_s, held = bench_create_memory(n)
        return {"n": n, "s": mem_s, "bytes": held}
    n = 20_000 if quick else 1_000_000
    many_s, grown = bench_create_many(n)
    return {"n": n, "s": many_s, "bytes": grown}


def in_new_process(part: str, quick: bool) -> dict[str, Any]:
    """Run one part in a new interpreter, so no part inherits another's heap."""
    command = [sys.executable, __file__, "--part", part, *(["--quick"] if quick else [])]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--part", choices=("ab", "c", "d", "e"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("e",), help="run part (e) alone")
    args = parser.parse_args()
    if args.part:
        print(json.dumps(measure(args.part, args.quick)))
        return 0
    print(f"load average at the start: {load()}; machine speed: {python_speed()}")
    if args.only != "e":
        _parts_abcd(args.quick)
    _part_e(args.quick)
    print(f"load average at the end: {load()}")
    return 0


def _parts_abcd(quick: bool) -> None:
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()}; quick={quick}; each part in a new process"
    )
    ab = in_new_process("ab", quick)
    fire_us = statistics.median(ab["fire"])
    bare_us = statistics.median(ab["bare"])
    # Each run of (a) is compared with the run of (b) next to it in time.
    ratio = statistics.median(f / b for f, b in zip(ab["fire"], ab["bare"], strict=True))
    runs = ", ".join(f"{f:.1f}/{b:.1f}" for f, b in zip(ab["fire"], ab["bare"], strict=True))
    print(f"    runs (a)/(b), us: {runs}")
    print(f"(a) Ledger.fire          {ab['n']:>9,} commands  {fire_us:8.1f} us/command (median)")
    print(f"(b) bare shared Machine  {ab['n']:>9,} triggers  {bare_us:8.1f} us/trigger (median)")
    c = in_new_process("c", quick)
    print(
        f"(c) add_model per entity {c['n']:>9,} triggers  {c['us']:8.1f} us/trigger "
        f"(add_model included)"
    )
    print(
        f"    fire / bare machine = {ratio:.2f}x, the median of the runs' ratios "
        f"(target <= {TARGET_FIRE_RATIO:.0f}x) "
        f"{'PASS' if ratio <= TARGET_FIRE_RATIO else 'FAIL'}"
    )
    d = in_new_process("d", quick)
    print(
        f"(d) create {d['n']:,} open cases: {d['s']:.2f} s under tracemalloc, "
        f"{d['bytes'] / 1e6:.0f} MB held ({d['bytes'] / d['n']:.0f} B/case)"
    )


def _part_e(quick: bool) -> None:
    # Five runs, each in a new process; the median is judged, never the best.
    many = []
    for _ in range(1 if quick else E_RUNS):
        many.append(in_new_process("e", quick))
        e = many[-1]
        print(
            f"    run (e): {e['s']:.1f} s, {e['bytes'] / 1e9:.2f} GB  (load {load()})",
            flush=True,
        )
    many_s = statistics.median(float(e["s"]) for e in many)
    many_bytes = max(int(e["bytes"]) for e in many)
    ok_time = many_s <= TARGET_CREATE_S
    ok_mem = many_bytes <= TARGET_CREATE_BYTES
    n = int(many[0]["n"])
    print(
        f"(e) create {n:,} open cases: {many_s:.1f} s, the median of {len(many)} "
        f"({many_s / n * 1e6:.1f} us/case; fastest {min(float(e['s']) for e in many):.1f} s), "
        f"peak RSS grew {many_bytes / 1e9:.2f} GB at most "
        f"(targets {TARGET_CREATE_S:.0f} s, {TARGET_CREATE_BYTES / 1e9:.1f} GB) "
        f"{'PASS' if ok_time and ok_mem else 'FAIL'}"
    )


if __name__ == "__main__":
    sys.exit(main())
