"""Benchmark: reading large ledgers — the status report, verify, repair, limit queries of
the memory store, and the import of the package.

Run from the repository root::

    python benchmarks/bench_read.py                 # 100,000 cases (a few minutes)
    python benchmarks/bench_read.py --cases 1000000 # the 1,000,000-case ledger too
    python benchmarks/bench_read.py --quick         # small sizes, a smoke test

Parts (``--parts`` picks some, e.g. ``--parts si`` or ``--parts s,b``):

(s) ``inspection-flow status LEDGER --as-of DAY`` on a SQLite ledger of N complaint
    cases (several rounds, batches handed over day by day, about half of them handled
    to a result, some closed, tasks with milestones), each run a new process; wall time
    and the process's peak RSS (its own ``VmHWM``). The baseline is the same command
    with ``--verify``, the integrity check the report used to run every time.
(b) ``inspection-flow report LEDGER --as-of DAY --round R01 --format md`` (the briefing
    of one round, 50,000 cases), each run a new process, as (s). The yardstick is a
    process that reads every complaint snapshot of the round once (``Ledger.find``),
    what the briefing did before it counted them in the store.
(v) ``Ledger.verify()`` and ``verify(deep=True)`` on the same file, in events/s; and
    ``Ledger.repair()`` after the projection of every tenth entity was damaged, in
    entities rewritten per second.
(c) ``Ledger.verify()`` and ``Ledger.repair()`` (every projection row damaged) on ledgers
    of N and 4N cases received with command ids (``receive_complaints``), so that every
    case has a record of its command: the time a case at 4N against at N says whether
    the work grows with the ledger (1.0) or faster.
(m) ``MemoryStore.overdue(now, limit=100)`` on M open tasks with one deadline each (due
    times over two years, about 1 % overdue): the first query after the writes (which
    brings the store's due-time index up to date) and warm queries; the baseline is
    sorting every overdue task and slicing, what the store did before.
(i) ``import inspection_flow`` in a new interpreter, against ``python -c pass``, and
    which heavy modules it loaded.
(g) point reads as a batch makes them: ``SQLStore.get`` of up to 20,000 cases of the
    ledger of (s), inside ``holding_reads()`` (what ``batch()`` and an import hold),
    after a first pass that keeps the snapshots (a batch reads entities the store
    wrote); against a hand-rolled point ``SELECT`` with ``sqlite3`` (the snapshot read as
    its UTF-8 bytes, as the store reads it), each on its own, and the same inside one
    transaction.

Every part prints the load average at its start and end, the runs it took, and their
median, which is what the targets are judged on.  Before the parts that time new
processes (s, b, i), the package's bytecode is compiled, as ``pip install`` does, so that
no run pays for compiling the package's sources.  Ledgers are built once per size in a
cache directory (``--cache``, default a temporary directory deleted at the end).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import gc
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from machine import load, python_speed, verdict

import inspection_flow
from inspection_flow import SHANGHAI, Actor, Commit, Ledger, MemoryStore, SQLStore
from inspection_flow.testing import create_commit, deadline

TARGET_STATUS_S = {100_000: 2.0, 1_000_000: 10.0}
TARGET_STATUS_MB = {100_000: 200.0}
TARGET_BRIEFING_S = {100_000: 2.0, 1_000_000: 10.0}
TARGET_BRIEFING_MB = {100_000: 200.0}
TARGET_VERIFY_EVENTS_S = 100_000.0
TARGET_OVERDUE_S = 0.050
TARGET_IMPORT_S = 0.150

RULEBOOK = "hunan-provincial-2023"
OFFICE = Actor("leading_office", "430000", "省督察办")
TEAM = Actor("inspection_team", "430000", "省第四督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
RECT_OFFICE = Actor("rectification_office", "430900", "益阳市整改办")
AREAS = ("430902", "430903", "430921", "430922", "430923", "430981", "430971", "430972")
CATEGORIES = ("air", "noise", "water", "ecology", "soil", "solid_waste", "other")
#: Cases per round; a ledger of N cases holds N / ROUND_CASES rounds.
ROUND_CASES = 50_000
STATION_DAYS = 21
AS_OF = dt.date(2024, 3, 31)


def t(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def runs_line(label: str, values: Sequence[float], unit: str, fmt: str = "{:.3f}") -> str:
    shown = ", ".join(fmt.format(v) for v in values)
    return f"    runs {label}: {shown} {unit}"


# -- building a large ledger ------------------------------------------------------------------


def build_round(ledger: Ledger, r: int, cases: int, rng: random.Random) -> None:
    """One round of ``cases`` complaints: received over the station-in, handed over day by
    day, about half handled to a result (some late), some closed; 40 tasks."""
    round_id = f"R{r:02d}"
    start = dt.date(2023, 6, 26)
    ledger.create_round(
        round_id, name=f"第{r}轮", area="430900", actor=OFFICE, at=t(start, 8), rulebook=RULEBOOK
    )
    ledger.fire(round_id, "announce", actor=OFFICE, at=t(start, 8, 30))
    ledger.fire(round_id, "station_in", actor=TEAM, at=t(start, 9))
    per_day = -(-cases // STATION_DAYS)
    received: list[tuple[str, str]] = []
    n = 0
    for d in range(STATION_DAYS + 1):
        day = start + dt.timedelta(days=d)
        if d:
            ledger.hand_over_batch(round_id, day, actor=TEAM, at=t(day, 9))
        if d == STATION_DAYS:
            break
        with ledger.batch():
            for _ in range(min(per_day, cases - n)):
                n += 1
                cid = f"{round_id}-{n:07d}"
                area = AREAS[rng.randrange(len(AREAS))]
                cats = rng.sample(CATEGORIES, 2 if rng.random() < 0.2 else 1)
                ledger.receive_complaint(
                    round_id,
                    channel="phone",
                    received_at=t(day, 10, rng.randrange(60)),
                    area=area,
                    summary="夜间施工噪声扰民" if cats[0] == "noise" else "企业废气排放异味扰民",
                    category=cats[0],
                    categories=cats,
                    actor=TEAM,
                    complaint_id=cid,
                )
                received.append((cid, area))
        if d == STATION_DAYS - 1:
            ledger.fire(round_id, "end_station_in", actor=TEAM, at=t(day, 21))
    with ledger.batch():
        for cid, area in received:
            if rng.random() < 0.5:
                continue
            owner = Actor("owner_unit", area, "区县人民政府")
            begun = ledger.get(cid).updated_at
            ledger.fire(
                cid, "assign", actor=LIAISON, at=begun + dt.timedelta(hours=2), owners=[area]
            )
            when = begun + dt.timedelta(days=1)
            ledger.fire(cid, "start_investigation", actor=owner, at=when)
            when += dt.timedelta(days=2)
            ledger.fire(cid, "record_finding", actor=owner, at=when, finding="substantiated")
            if rng.random() < 0.6:
                late = rng.random() < 0.15
                when += dt.timedelta(days=12 if late else 3)
                ledger.fire(
                    cid,
                    "report_result",
                    actor=owner,
                    at=when,
                    summary="已责令整改",
                    rectification_orders=1,
                    fines_10k_yuan="1.5",
                )
                if rng.random() < 0.5:
                    # The city sends the result up to the team, which a publication needs.
                    ledger.fire(
                        cid, "forward_result", actor=LIAISON, at=when + dt.timedelta(hours=2)
                    )
                    ledger.fire(cid, "publish", actor=LIAISON, at=when + dt.timedelta(days=1))
    feedback = t(dt.date(2023, 9, 20), 10)
    ledger.fire(round_id, "approve_report", actor=OFFICE, at=t(dt.date(2023, 9, 5), 10))
    ledger.fire(round_id, "give_feedback", actor=TEAM, at=feedback, problems=40)
    for k in range(1, 41):
        ledger.add_task(
            round_id,
            title=f"反馈问题{k}",
            area=AREAS[k % len(AREAS)],
            actor=RECT_OFFICE,
            at=feedback + dt.timedelta(hours=2),
            task_id=f"{round_id}-T{k:02d}",
            category=CATEGORIES[k % len(CATEGORIES)],
        )


def build_ledger(path: Path, cases: int, seed: int = 20230626) -> None:
    """Write a ledger of ``cases`` complaints to ``path``, a round at a time: each round is
    built in memory, then its entities' whole histories are written with append_batch."""
    rng = random.Random(seed)
    target = SQLStore.open(path, synchronous="NORMAL")
    rounds = max(1, -(-cases // ROUND_CASES))
    left = cases
    started = time.perf_counter()
    for r in range(1, rounds + 1):
        memory = MemoryStore()
        ledger = Ledger(memory, rulebook=RULEBOOK)
        build_round(ledger, r, min(ROUND_CASES, left), rng)
        left -= ROUND_CASES
        commits = [Commit(snap, tuple(memory.events(snap.entity_id)), 0) for snap in memory.find()]
        for k in range(0, len(commits), 5_000):
            target.append_batch(commits[k : k + 5_000])
        del ledger, memory, commits
        gc.collect()
        print(f"      built round {r}/{rounds} ({time.perf_counter() - started:.0f} s)", flush=True)
    target.close()


def ledger_file(cache: Path, cases: int) -> Path:
    path = cache / f"ledger-{cases}.db"
    if not path.exists():
        print(f"    building a ledger of {cases:,} cases in {path} ...", flush=True)
        partial = path.with_suffix(".part")
        for suffix in ("", "-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        build_ledger(partial, cases)
        partial.rename(path)
    return path


# -- the processes' bytecode ------------------------------------------------------------------


def compile_package() -> None:
    """Compile the package's bytecode, as pip does when it installs a package.

    The parts that time a new process (s, b, i) measure the command as a user runs it.
    From a checkout under ``PYTHONDONTWRITEBYTECODE`` (set on some machines) no bytecode
    is ever written, so every process would compile the package's sources again: about
    150 ms of each run on the machine of docs/performance.md, which no installed copy
    pays.
    """
    package = Path(inspection_flow.__file__).parent
    ok = compileall.compile_dir(package, quiet=1)
    flag = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not set"
    print(
        f"bytecode of {package} compiled beforehand, as pip install does "
        f"(PYTHONDONTWRITEBYTECODE {flag}){'' if ok else ': some modules FAILED to compile'}"
    )


# -- (s) the status report --------------------------------------------------------------------


def run_process(argv: Sequence[str]) -> tuple[float, float, str, float]:
    """Run ``argv``; return its wall time, its peak RSS in MB, its output and the CPU
    seconds it used (user and system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only as a maximum,
    # so each run is measured by a wrapper that prints its own.
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err.decode()}")
    text, tail = out.decode().rsplit("peak-rss-kb ", 1)
    peak_kb, cpu = tail.split()
    return elapsed, float(peak_kb) / 1024, text, float(cpu)


#: Runs the CLI and prints its peak RSS and CPU seconds.  The peak is the process's own
#: high-water mark (``VmHWM``): on Linux ``ru_maxrss`` carries over fork and exec from the
#: parent, so a child of this benchmark, which may hold a ledger it just built, reported
#: the parent's peak (577 MB for a report that peaked at 57 MB).
_WRAPPER = (
    "import resource, sys\n"
    "from inspection_flow._cli import main\n"
    "code = main(sys.argv[1:])\n"
    "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "peak = usage.ru_maxrss\n"
    "try:\n"
    "    with open('/proc/self/status') as status:\n"
    "        peak = next(int(x.split()[1]) for x in status if x.startswith('VmHWM:'))\n"
    "except (OSError, StopIteration):\n"
    "    pass\n"
    "print('peak-rss-kb', peak, usage.ru_utime + usage.ru_stime)\n"
    "sys.exit(code)\n"
)

#: The yardstick of (b): read every complaint snapshot of a round once.
_READ_ROUND = (
    "import sys\n"
    "from inspection_flow import Ledger\n"
    "with Ledger.open(sys.argv[1], read_only=True) as ledger:\n"
    "    found = ledger.find(kind='complaint', round_id=sys.argv[2])\n"
    "print(len(found), 'complaints read')\n"
)


def part_status(cache: Path, sizes: Sequence[int], runs: int) -> dict[str, bool]:
    passed: dict[str, bool] = {}
    print(f"(s) inspection-flow status, each run a new process; load average {load()}")
    for cases in sizes:
        path = ledger_file(cache, cases)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            events = conn.execute("select count(*) from if_events").fetchone()[0]
        print(f"    {cases:,} cases, {events:,} events, file {path.stat().st_size / 1e6:,.0f} MB")
        base = [sys.executable, "-c", _WRAPPER, "status", str(path), "--as-of", AS_OF.isoformat()]
        plain: list[tuple[float, float]] = []
        verified: list[tuple[float, float]] = []
        cpu: list[float] = []
        text = ""
        for _ in range(runs):
            s, mb, text, used = run_process(base)
            plain.append((s, mb))
            cpu.append(used)
            if cases <= 100_000 or not verified:
                verified.append(run_process([*base, "--verify"])[:2])
        med_s = statistics.median(s for s, _ in plain)
        med_mb = statistics.median(mb for _, mb in plain)
        print(runs_line("status (s)", [s for s, _ in plain], "s"))
        print(runs_line("status (MB)", [mb for _, mb in plain], "MB", "{:.0f}"))
        print(runs_line("status CPU (s)", cpu, "s"))
        print(runs_line("status --verify (s)", [s for s, _ in verified], "s"))
        ver_s = statistics.median(s for s, _ in verified)
        limit_s = TARGET_STATUS_S.get(cases)
        limit_mb = TARGET_STATUS_MB.get(cases)
        line = (
            f"    status: median {med_s:.2f} s wall, {statistics.median(cpu):.2f} s CPU, "
            f"{med_mb:.0f} MB peak RSS"
        )
        if limit_s is not None:
            ok = med_s < limit_s and (limit_mb is None or med_mb < limit_mb)
            passed[f"status {cases:,}"] = ok
            mb_target = f" and {limit_mb:.0f} MB" if limit_mb else ""
            line += f"  (target < {limit_s:.0f} s{mb_target}) {verdict(ok)}"
        print(line)
        print(f"    status --verify: median {ver_s:.2f} s = {ver_s / med_s:.1f}x status alone")
        print("    first lines of the report:")
        for row in text.splitlines()[:4]:
            print(f"      {row}")
    print(f"    load average at the end: {load()}")
    return passed


# -- (b) the briefing -------------------------------------------------------------------------


def part_briefing(cache: Path, sizes: Sequence[int], runs: int) -> dict[str, bool]:
    passed: dict[str, bool] = {}
    print(
        f"(b) inspection-flow report (the briefing), each run a new process; load average {load()}"
    )
    for cases in sizes:
        path = ledger_file(cache, cases)
        round_cases = min(cases, ROUND_CASES)
        print(f"    {cases:,} cases; the briefing of round R01 ({round_cases:,} cases)")
        with tempfile.TemporaryDirectory(prefix="bench_read_b_") as out:
            base = [
                sys.executable, "-c", _WRAPPER, "report", str(path), "--as-of",
                AS_OF.isoformat(), "--round", "R01", "--format", "md",
                "--out", str(Path(out) / "briefing.md"),
            ]  # fmt: skip
            briefing: list[tuple[float, float, float]] = []
            yardstick: list[float] = []
            for _ in range(runs):
                s, mb, _, used = run_process(base)
                briefing.append((s, mb, used))
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", _READ_ROUND, str(path), "R01"],
                    check=True,
                    capture_output=True,
                )
                yardstick.append(time.perf_counter() - start)
            lines = (Path(out) / "briefing.md").read_text(encoding="utf-8").splitlines()
        print(runs_line("briefing (s)", [s for s, _, _ in briefing], "s"))
        print(runs_line("briefing (MB)", [mb for _, mb, _ in briefing], "MB", "{:.0f}"))
        print(runs_line("briefing CPU (s)", [c for _, _, c in briefing], "s"))
        print(runs_line("reading the round's complaints (s)", yardstick, "s"))
        med_s = statistics.median(s for s, _, _ in briefing)
        med_mb = statistics.median(mb for _, mb, _ in briefing)
        med_cpu = statistics.median(c for _, _, c in briefing)
        med_read = statistics.median(yardstick)
        line = (
            f"    briefing: median {med_s:.2f} s wall, {med_cpu:.2f} s CPU, {med_mb:.0f} MB "
            f"peak RSS; {len(lines):,} lines of Markdown"
        )
        limit_s = TARGET_BRIEFING_S.get(cases)
        limit_mb = TARGET_BRIEFING_MB.get(cases)
        if limit_s is not None:
            ok = med_s < limit_s and (limit_mb is None or med_mb < limit_mb)
            passed[f"briefing {cases:,}"] = ok
            mb_target = f" and {limit_mb:.0f} MB" if limit_mb else ""
            line += f"  (target < {limit_s:.0f} s{mb_target}) {verdict(ok)}"
        print(line)
        print(
            f"    reading every complaint of the round once: median {med_read:.2f} s; "
            f"the briefing takes {med_s / med_read:.2f}x that"
        )
    print(f"    load average at the end: {load()}")
    return passed


# -- (c) verify and repair with command records ------------------------------------------


def commands_ledger(cache: Path, cases: int) -> Path:
    """A ledger of ``cases`` complaints received in one round, each with a command id."""
    path = cache / f"commands-{cases}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".part")
    for suffix in ("", "-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    received = dt.datetime(2023, 6, 27, 10, tzinfo=SHANGHAI)
    with Ledger.open(partial, rulebook=RULEBOOK) as ledger:
        opened = dt.datetime(2023, 6, 20, 9, tzinfo=SHANGHAI)
        ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=opened)
        ledger.fire("R", "announce", actor=OFFICE, at=opened + dt.timedelta(hours=1))
        ledger.fire("R", "station_in", actor=TEAM, at=dt.datetime(2023, 6, 26, 9, tzinfo=SHANGHAI))
        for k in range(0, cases, 5_000):
            rows = [
                {
                    "channel": "phone",
                    "received_at": received,
                    "area": AREAS[i % len(AREAS)],
                    "summary": "夜间施工噪声扰民",
                    "category": CATEGORIES[i % len(CATEGORIES)],
                    "complaint_id": f"R-{i:07d}",
                    "command_id": f"intake-{i:07d}",
                }
                for i in range(k, min(cases, k + 5_000))
            ]
            ledger.receive_complaints("R", rows, actor=TEAM)
    partial.rename(path)
    return path


def part_commands(cache: Path, cases: int, runs: int) -> dict[str, bool]:
    print(f"(c) verify and repair with command records; load average {load()}")
    per_case: dict[str, list[float]] = {"verify": [], "repair": []}
    for size in (cases, 4 * cases):
        path = commands_ledger(cache, size)
        verify: list[float] = []
        with Ledger.open(path, read_only=True) as ledger:
            for _ in range(runs):
                start = time.perf_counter()
                report = ledger.verify()
                verify.append(time.perf_counter() - start)
                assert report.ok, report
        copy = cache / f"repair-commands-{size}.db"
        shutil.copyfile(path, copy)
        with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
            conn.execute("update if_entities set state = 'tampered' where kind = 'complaint'")
        start = time.perf_counter()
        with Ledger.open(copy) as ledger:
            repaired = ledger.repair()
        repair = time.perf_counter() - start
        assert repaired.ok, repaired
        assert len(repaired.repaired) == size, repaired
        copy.unlink()
        print(f"    {size:,} cases, {size:,} command records")
        print(runs_line("verify (s)", verify, "s"))
        print(
            f"    repair of every case: one run, {repair:.2f} s "
            f"({repair / size * 1e6:.0f} us a case)"
        )
        per_case["verify"].append(statistics.median(verify) / size)
        per_case["repair"].append(repair / size)
    for what, (small, large) in per_case.items():
        print(
            f"    {what}: a case at {4 * cases:,} takes {large / small:.2f}x what it takes at "
            f"{cases:,} (1.00 = grows with the ledger)"
        )
    print(f"    load average at the end: {load()}")
    return {}


# -- (v) verify and repair --------------------------------------------------------------------


def part_verify(cache: Path, cases: int, runs: int) -> dict[str, bool]:
    passed: dict[str, bool] = {}
    print(f"(v) verify and repair on {cases:,} cases; load average {load()}")
    path = ledger_file(cache, cases)
    with Ledger.open(path, read_only=True) as ledger:
        shallow: list[float] = []
        shallow_cpu: list[float] = []
        deep: list[float] = []
        events = 0
        for _ in range(runs):
            start, cpu = time.perf_counter(), time.process_time()
            report = ledger.verify()
            shallow.append(time.perf_counter() - start)
            shallow_cpu.append(time.process_time() - cpu)
            assert report.ok, report
            events = report.events
        # The deep audit folds every entity: one run, it is not a target.
        start = time.perf_counter()
        report = ledger.verify(deep=True)
        deep.append(time.perf_counter() - start)
        assert report.ok, report
    print(runs_line("verify (s)", shallow, "s"))
    print(runs_line("verify CPU (s)", shallow_cpu, "s"))
    print(
        f"    verify by CPU time: {events / statistics.median(shallow_cpu):,.0f} events/s "
        "(what the machine's other load does not change as much)"
    )
    print(runs_line("verify(deep=True) (s)", deep, "s"))
    rate = events / statistics.median(shallow)
    deep_rate = events / statistics.median(deep)
    passed["verify"] = rate >= TARGET_VERIFY_EVENTS_S
    print(
        f"    verify: {events:,} events, median {statistics.median(shallow):.2f} s = "
        f"{rate:,.0f} events/s (target >= {TARGET_VERIFY_EVENTS_S:,.0f}) "
        f"{verdict(passed['verify'])}"
    )
    print(f"    verify(deep=True): one run, {deep[0]:.2f} s = {deep_rate:,.0f} events/s")
    # Repair: damage every tenth projection row on a copy, then rewrite them.
    copy = cache / f"repair-{cases}.db"
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        damaged = conn.execute(
            "update if_entities set state = 'tampered' where rowid % 10 = 0"
        ).rowcount
    start = time.perf_counter()
    with Ledger.open(copy) as ledger:
        repaired = ledger.repair()
    elapsed = time.perf_counter() - start
    assert len(repaired.repaired) == damaged, (len(repaired.repaired), damaged)
    with Ledger.open(copy, read_only=True) as ledger:
        assert ledger.verify(deep=True).ok
    print(
        f"    repair: {damaged:,} damaged projection rows found and rewritten in {elapsed:.2f} s "
        f"({damaged / elapsed:,.0f} entities/s, the deep verify included; one run)"
    )
    copy.unlink()
    print(f"    load average at the end: {load()}")
    return passed


# -- (m) the memory store's limit queries -----------------------------------------------------


def part_memory(tasks: int, runs: int) -> dict[str, bool]:
    print(f"(m) MemoryStore.overdue(now, limit=100) on {tasks:,} open tasks; load average {load()}")
    rng = random.Random(7)
    store = MemoryStore()
    due_from = dt.datetime(2024, 1, 1, tzinfo=SHANGHAI)
    for i in range(tasks):
        due = due_from + dt.timedelta(seconds=rng.randrange(730 * 86_400))
        store.append(
            create_commit(
                f"T{i:07d}",
                kind="task",
                area=AREAS[i % len(AREAS)],
                deadlines={"rectify_due": deadline("rectify_due", due)},
            )
        )
    now = due_from + dt.timedelta(days=7.3)

    def sorted_slice() -> list[object]:
        found = [
            (s.next_due_at, s.entity_id, s)
            for s in store._snapshots.values()
            if not s.terminal and s.next_due_at is not None and s.next_due_at <= now
        ]
        found.sort(key=lambda x: (x[0], x[1]))
        return [x[2] for x in found][:100]

    start = time.perf_counter()
    first = store.overdue(now, limit=100)
    first_s = time.perf_counter() - start
    warm: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        got = store.overdue(now, limit=100)
        warm.append(time.perf_counter() - start)
        start = time.perf_counter()
        want = sorted_slice()
        base.append(time.perf_counter() - start)
        assert got == want == first
    med = statistics.median(warm)
    ok = med < TARGET_OVERDUE_S
    print(runs_line("overdue(limit=100) (ms)", [x * 1000 for x in warm], "ms", "{:.2f}"))
    print(runs_line("sort everything, slice (ms)", [x * 1000 for x in base], "ms", "{:.0f}"))
    print(
        f"    first query after the writes (index brought up to date): {first_s * 1000:.0f} ms\n"
        f"    overdue(limit=100): median {med * 1000:.2f} ms (target < 50 ms) {verdict(ok)}; "
        f"sorting everything: median {statistics.median(base) * 1000:.0f} ms = "
        f"{statistics.median(base) / med:,.0f}x"
    )
    print(f"    load average at the end: {load()}")
    return {"memory overdue": ok}


# -- (g) point reads in a block -------------------------------------------------------------


def part_point_reads(cache: Path, cases: int, runs: int) -> dict[str, bool]:
    print(f"(g) point reads in a block holding reads, {cases:,}-case ledger; load average {load()}")
    path = ledger_file(cache, cases)
    ledger = Ledger.open(path, rulebook=RULEBOOK, read_only=True)
    store = ledger.store
    assert isinstance(store, SQLStore)
    ids = [s.entity_id for s in ledger.find(kind="complaint")]
    ids = random.Random(11).sample(ids, min(20_000, len(ids)))
    raw = sqlite3.connect(path, isolation_level=None)
    # The snapshot read as its UTF-8 bytes, as the store reads it: decoding it to a str
    # first would only make the yardstick slower.
    select = (
        "SELECT entity_id, version, CAST(snapshot AS BLOB) FROM if_entities WHERE entity_id = ?"
    )

    def through_store() -> float:
        start = time.perf_counter()
        with store.holding_reads():
            for entity_id in ids:
                store.get(entity_id)
        return time.perf_counter() - start

    def by_hand(together: bool) -> float:
        start = time.perf_counter()
        if together:
            raw.execute("BEGIN")
        for entity_id in ids:
            raw.execute(select, (entity_id,)).fetchall()
        if together:
            raw.execute("COMMIT")
        return time.perf_counter() - start

    first = through_store()
    ours: list[float] = []
    alone: list[float] = []
    together: list[float] = []
    for _ in range(runs):
        ours.append(through_store() / len(ids) * 1e6)
        alone.append(by_hand(False) / len(ids) * 1e6)
        together.append(by_hand(True) / len(ids) * 1e6)
    raw.close()
    ledger.close()
    print(f"    first pass (snapshots decoded and kept): {first / len(ids) * 1e6:.2f} us a read")
    print(runs_line("store.get in holding_reads (us)", ours, "us", "{:.2f}"))
    print(runs_line("sqlite3, each read on its own (us)", alone, "us", "{:.2f}"))
    print(runs_line("sqlite3, in one transaction (us)", together, "us", "{:.2f}"))
    print(
        f"    medians: store {statistics.median(ours):.2f} us, by hand "
        f"{statistics.median(alone):.2f} us on its own, {statistics.median(together):.2f} us "
        f"in one transaction; {len(ids):,} reads a run"
    )
    print(f"    load average at the end: {load()}")
    return {}


# -- (i) import time --------------------------------------------------------------------------


_HEAVY = ("sqlalchemy", "pendulum", "transitions", "importlib.metadata", "chinese_calendar")


def part_import(runs: int) -> dict[str, bool]:
    print(f"(i) import inspection_flow in a new interpreter; load average {load()}")

    def timed(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    ours: list[float] = []
    bare: list[float] = []
    for _ in range(runs):
        bare.append(timed("pass"))
        ours.append(timed("import inspection_flow"))
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, inspection_flow; print(*[m for m in {_HEAVY!r} if m in sys.modules])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    med, med_bare = statistics.median(ours), statistics.median(bare)
    ok = med < TARGET_IMPORT_S
    print(runs_line("import inspection_flow (ms)", [x * 1000 for x in ours], "ms", "{:.0f}"))
    print(runs_line("python -c pass (ms)", [x * 1000 for x in bare], "ms", "{:.0f}"))
    print(
        f"    import: median {med * 1000:.0f} ms, interpreter alone {med_bare * 1000:.0f} ms "
        f"(target < 150 ms) {verdict(ok)}; heavy modules loaded: {', '.join(loaded) or 'none'}"
    )
    print(f"    load average at the end: {load()}")
    return {"import": ok}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--parts",
        default="sbvcmig",
        help="which parts: s, b, v, c, m, i, g, e.g. sb or s,b (default all)",
    )
    parser.add_argument(
        "--cases", type=int, action="append", help="ledger sizes for (s) (default 100,000)"
    )
    parser.add_argument("--cache", type=Path, help="keep the built ledgers in this directory")
    args = parser.parse_args(argv)
    sizes = args.cases or ([500] if args.quick else [100_000])
    runs = 1 if args.quick else 5
    tasks = 5_000 if args.quick else 1_000_000
    print(
        f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, nproc {os.cpu_count()}"
    )
    print(f"load average at the start: {load()}; quick={args.quick}, parts {args.parts}")
    print(f"machine speed: {python_speed()}", flush=True)
    # Parts are letters, with or without commas between them.
    chosen = list(args.parts.replace(",", "").replace(" ", ""))
    unknown = sorted(set(chosen) - set("sbvcmig"))
    if unknown:
        parser.error(f"unknown parts {', '.join(unknown)}: choose from s, b, v, c, m, i, g")
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench_read_"))
    cache.mkdir(parents=True, exist_ok=True)
    if set(chosen) & set("sbi"):
        compile_package()
    passed: dict[str, bool] = {}
    parts: dict[str, Callable[[], dict[str, bool]]] = {
        "s": lambda: part_status(cache, sizes, runs),
        "b": lambda: part_briefing(cache, sizes, runs),
        "v": lambda: part_verify(cache, min(sizes), runs),
        "c": lambda: part_commands(cache, 500 if args.quick else 5_000, runs),
        "m": lambda: part_memory(tasks, runs),
        "i": lambda: part_import(2 if args.quick else 10),
        "g": lambda: part_point_reads(cache, min(sizes), runs),
    }
    try:
        for key in chosen:
            passed.update(parts[key]())
    finally:
        if args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)
    print(f"load average at the end: {load()}")
    print("summary: " + "; ".join(f"{k} {verdict(v)}" for k, v in passed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
