"""Benchmark: the instructions the imports and a hand-over execute, counted by valgrind's
callgrind, against the hand-rolled yardstick of ``bench_import.py``.

Run from the repository root (valgrind must be installed)::

    python benchmarks/bench_instructions.py                  # the parts below, 2,000 rows
    python benchmarks/bench_instructions.py --parts d,e --rows 1000
    python benchmarks/bench_instructions.py --src /path/to/other/checkout/src --src src

Timings on a shared virtual machine drift by a third from one run to the next, more than
most changes move them.  The instructions a run executes do not: the same program on the
same input counts the same within about 0.2 %, however loaded the machine is.  So this
benchmark measures what a change does to the work itself, and ``bench_import.py`` what
the work costs in time, the database's writes to disk included (which this one leaves
out: the time the disk takes is no instruction of the process).

Each part runs in a new interpreter under callgrind twice, with and without its work
(the setup alone); the difference is the part's count:

(d) ``Ledger.import_table`` of a 信访件台账 CSV of ``--rows`` rows (``bench_office.py``'s
    file) into a new SQLite ledger: (d) of ``bench_import.py``;
(e) the same file loaded by hand with sqlite3 and orjson: (e) of ``bench_import.py``;
(h) ``hand_over_batch`` of ``--rows`` received cases;
(b) the five commands of ``bench_import.py`` over ``--rows`` handed-over cases with
    ``fire_many``, 2,000 at a time;
(a) the same five commands with ``fire``, one case at a time, in ``batch()`` blocks of
    2,000 (the per-command path of ``bench_import.py``'s (a));
(c) the same five commands by hand with sqlite3 and orjson, 2,000 cases a block: the
    yardstick (c) of ``bench_import.py``, the yardstick of (a) and (b);
(p) the five commands on PostgreSQL, one transaction per command, over a tenth of
    ``--rows`` cases: the client's side of ``bench_writes.py --parts p`` (the server's
    work is another process's, not counted); counted per command;
(r) its yardstick, the raw psycopg commands of ``bench_writes.py --parts p``.
(p) and (r) need the server of ``INSPECTION_FLOW_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and are not run by default.

With several ``--src``, each part is counted for each source tree in turn (an A/B of two
commits: ``git worktree add /tmp/base <commit>`` gives the other tree).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("d", "e", "h", "b", "a", "c", "p", "r")
DEFAULT_PARTS = ("d", "e", "h", "b", "a", "c")
PG_URL = os.environ.get(
    "INSPECTION_FLOW_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pg_child(part: str, cases: int, work: bool) -> None:
    """(p) or (r): fire the five commands on ``cases`` PostgreSQL cases, if ``work``."""
    import queue

    import bench_writes as w

    with w.pg_schema(PG_URL) as scoped:
        w.pg_populate(scoped, ["W0-"], cases)
        worker = w.pg_ledger_worker if part == "p" else w.pg_raw_worker
        if not work:
            # The worker's setup alone (its connection, its first read): no commands.
            w.STEPS = ()
        worker(scoped, "W0-", cases, None, queue.Queue())


def per_unit(part: str, rows: int) -> int:
    """What a part's count is divided by: commands for (p) and (r), else rows."""
    return pg_cases(rows) * 5 if part in ("p", "r") else rows


def pg_cases(rows: int) -> int:
    return max(rows // 10, 1)


def child(part: str, rows: int, work: bool) -> None:
    """Set the part up and, if ``work``, run it (in the process callgrind counts)."""
    sys.path.insert(0, str(HERE))
    if part in ("p", "r"):
        pg_child(part, pg_cases(rows), work)
        return
    import bench_import as b
    from bench_office import write_file

    folder = Path(tempfile.mkdtemp())
    try:
        if part in ("d", "e"):
            table = folder / "t.csv"
            write_file(str(table), rows)
            if part == "d":
                ledger = b.table_ledger(folder / "l.db")
                gc.collect()
                if work:
                    ledger.import_table(table, actor=b.TEAM)
                ledger.close()
            elif work:
                b.table_hand_rolled(folder / "y.db", table, rows, 2000)
            return
        ids = [b.case_id(i) for i in range(rows)]
        if part == "c":
            conn = b.by_hand(folder / "y.db")
            b.receive_by_hand(conn, ids, 2000)
            b.hand_over_by_hand(conn, ids, 2000)
            gc.collect()
            if work:
                b.fire_by_hand(conn, ids, 2000)
            conn.close()
            return
        ledger = b.stationed(folder / "l.db")
        for block in b.chunks(ids, 2000):
            b.receive_bulk(ledger, block)
        if part in ("a", "b"):
            ledger.hand_over_batch(b.ROUND, dt.date(2023, 6, 28), actor=b.TEAM, at=b.HANDED)
        gc.collect()
        if work and part == "h":
            ledger.hand_over_batch(b.ROUND, dt.date(2023, 6, 28), actor=b.TEAM, at=b.HANDED)
        elif work:
            fire = b.fire_bulk if part == "b" else b.fire_each
            for event, actor, payload, _, _ in b.STEPS:
                for block in b.chunks(ids, 2000):
                    fire(ledger, block, event, actor, payload)
        ledger.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def counted(src: str | None, part: str, rows: int, work: bool) -> int:
    """The instructions of one run of the child under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = str(Path(src).resolve())
        # A fixed seed for str hashes: the same dict layouts in both runs.
        env["PYTHONHASHSEED"] = "0"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            part,
            "--rows",
            str(rows),
        ]
        if not work:
            command.append("--setup-only")
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"part ({part}) failed under callgrind:\n{done.stderr[-3000:]}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no total")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parts",
        default=",".join(DEFAULT_PARTS),
        help="d, e, h, b, a, c, p, r (default d, e, h, b, a, c)",
    )
    parser.add_argument("--rows", type=int, default=2000, help="rows or cases (default 2,000)")
    parser.add_argument("--src", action="append", help="a source tree to count (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, not args.setup_only)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: install it (Debian: apt-get install valgrind)")
        return 2
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; give some of {', '.join(PARTS)}")
    sources: list[str | None] = args.src or [None]
    print(f"instructions counted by callgrind, {args.rows:,} rows; python {sys.version.split()[0]}")
    results: dict[tuple[str | None, str], int] = {}
    for part in parts:
        for src in sources:
            total = counted(src, part, args.rows, True)
            setup = counted(src, part, args.rows, False)
            results[src, part] = total - setup
            where = "" if src is None else f"  {src}"
            unit = "command" if part in ("p", "r") else "row"
            print(
                f"  ({part}) {(total - setup) / 1e6:10.1f} M instructions "
                f"({(total - setup) / per_unit(part, args.rows) / 1e3:7.1f} k a {unit}){where}",
                flush=True,
            )
    for src in sources:
        where = "" if src is None else f"  {src}"
        for part, base in (("d", "e"), ("b", "c"), ("a", "c")):
            if (src, part) in results and (src, base) in results:
                ratio = results[src, part] / results[src, base]
                print(f"({part}) / ({base}) = {ratio:.2f}x in instructions{where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
