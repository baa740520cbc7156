"""The ledger's sweep on a schedule: APScheduler on several workers, each alert delivered once.

A sweep (``Ledger.sweep``) records every warning, escalation and lapse that came due as an
event on its entity and returns them; this script runs it every few minutes with
APScheduler and delivers what it returns.  Start it on as many machines as you like
against one PostgreSQL (or SQLite) ledger: the workers split the due entities between them
(a 5-minute lease in the store), and an alert two workers race for is recorded by one of
them only (the store refuses the later write), so each alert is delivered once.

    pip install 'apscheduler>=3.10,<4'
    python examples/scheduler.py worker --db postgresql+psycopg://ledger@db/inspections

Without arguments it shows itself working: it puts the source case's round (Yiyang, 2023)
with some complaints into a new SQLite ledger, starts two worker processes whose clock
runs from 27 June to 31 August 2023 in a few seconds, and checks that every alert the
ledger recorded was delivered by exactly one of them.  ``--db URL`` runs the same on
another database (it must hold no ledger yet).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from inspection_flow import SHANGHAI, Actor, AlertNotice, Clock, Ledger, SystemClock

RULEBOOK = "hunan-provincial-2023"
ROUND = "HN-2023-YY"
OFFICE = Actor("leading_office", "430000", "湖南省生态环境保护督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
#: Where the demonstration's clock starts and stops.
DEMO_START = dt.datetime(2023, 6, 27, 0, 0, tzinfo=SHANGHAI)
DEMO_END = dt.datetime(2023, 8, 31, 0, 0, tzinfo=SHANGHAI)

_log = logging.getLogger("scheduler")


class FastClock:
    """A clock for the demonstration: ``speed`` business seconds to each real one, from
    ``start``, standing at ``end``.  It stands at ``start`` until the file ``origin``
    holds the real instant it starts at, written once every worker is up."""

    def __init__(self, start: dt.datetime, end: dt.datetime, speed: float, origin: str) -> None:
        self.start, self.end, self.speed, self.origin = start, end, speed, origin
        self._started: float | None = None

    def now(self) -> dt.datetime:
        """The business instant now."""
        if self._started is None:
            try:
                with open(self.origin, encoding="utf-8") as file:
                    self._started = float(file.read())
            except (FileNotFoundError, ValueError):
                return self.start
        elapsed = max(0.0, time.time() - self._started) * self.speed
        span = (self.end - self.start).total_seconds()
        return self.start + dt.timedelta(seconds=min(span, elapsed))


def deliver(notice: AlertNotice, worker: str) -> None:
    """Deliver one alert: here a JSON line on standard output; in an office, a text
    message, an e-mail or a task in the office's system."""
    line = {
        "worker": worker,
        "entity_id": notice.entity_id,
        "area": notice.area,
        "deadline": notice.deadline,
        "alert": notice.name,
        "kind": notice.alert_kind,
        "at": notice.at.isoformat(),
        "label": notice.label_zh,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)


def sweep_and_deliver(ledger: Ledger, worker: str) -> dt.datetime:
    """One run of the job: record what came due by the ledger's clock, deliver it.

    Returns the instant swept to.  A failure is logged and the next run tries again:
    nothing was recorded for an alert whose write failed, so it is still due then.
    """
    now = ledger.clock.now()
    try:
        notices = ledger.sweep(now)
    except Exception:
        _log.exception("%s: sweep at %s failed; the next run tries again", worker, now)
        return now
    for notice in notices:
        deliver(notice, worker)
    return now


def run_worker(target: str, worker: str, every: float, clock: Clock, stop_at_end: bool) -> None:
    """Sweep every ``every`` seconds until stopped (Ctrl-C), or, on the demonstration's
    clock, once a sweep has reached its end."""
    scheduler = BlockingScheduler(timezone=SHANGHAI)
    with Ledger.open(target, rulebook=RULEBOOK, clock=clock) as ledger:

        def job() -> None:
            swept_to = sweep_and_deliver(ledger, worker)
            if stop_at_end and isinstance(clock, FastClock) and swept_to >= clock.end:
                scheduler.shutdown(wait=False)

        scheduler.add_job(
            job,
            IntervalTrigger(seconds=every, timezone=SHANGHAI),
            id="sweep",
            # One sweep at a time per worker; runs missed while one was slow are merged.
            max_instances=1,
            coalesce=True,
            next_run_time=dt.datetime.now(SHANGHAI),
        )
        print(json.dumps({"ready": worker}), flush=True)
        # Ctrl-C or a service manager's stop ends the worker; the ledger closes on the way out.
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            scheduler.start()


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in Asia/Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


def seed(target: str) -> None:
    """Put the Yiyang round and ten complaints, handed over in daily batches, into a new
    ledger; their result and publication deadlines fall due in July and August."""
    with Ledger.open(target, rulebook=RULEBOOK) as ledger:
        ledger.create_round(
            ROUND, name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-19", 9)
        )
        ledger.fire(ROUND, "announce", actor=OFFICE, at=at("2023-06-19", 10))
        ledger.fire(ROUND, "station_in", actor=TEAM, at=at("2023-06-26", 9))
        areas = ["430903", "430902", "430922", "430923", "430981"]
        # One call a day from 26 June; each day's intake is handed over the next morning.
        for n in range(10):
            day = DEMO_START.date() + dt.timedelta(days=n - 1)
            ledger.receive_complaint(
                ROUND,
                channel="phone",
                received_at=at(day.isoformat(), 10),
                area=areas[n % 5],
                summary="夜间施工噪声扰民",
                category="noise",
                actor=TEAM,
                complaint_id=f"YY-{n + 1:04d}",
            )
            batch_day = day + dt.timedelta(days=1)
            ledger.hand_over_batch(ROUND, batch_day, actor=TEAM, at=at(batch_day.isoformat(), 9))


def recorded_alerts(target: str) -> Counter[tuple[str, str, str]]:
    """Every alert the ledger recorded, as (entity, deadline, alert) with its count."""
    found: Counter[tuple[str, str, str]] = Counter()
    with Ledger.open(target, read_only=True, rulebook=RULEBOOK) as ledger:
        for snap in ledger.find():
            for event in ledger.history(snap.entity_id):
                for deadline, _kind, name, _at in event.payload.get("alerts", ()):
                    if event.name == "alert":
                        found[(snap.entity_id, deadline, name)] += 1
    return found


def start_workers(
    target: str, count: int, every: float, seconds: float, origin: str
) -> list[subprocess.Popen[str]]:
    """Start ``count`` worker processes on the demonstration's clock, which covers its span
    in about ``seconds`` once started; start it when each worker has said it is ready."""
    speed = (DEMO_END - DEMO_START).total_seconds() / seconds
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "worker",
                "--db",
                target,
                "--name",
                f"worker-{n}",
                "--every",
                str(every),
                "--demo-clock",
                f"{speed}:{origin}",
            ],
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for n in range(1, count + 1)
    ]
    for process in workers:
        assert process.stdout is not None
        if "ready" not in json.loads(process.stdout.readline() or "{}"):
            raise SystemExit("a worker failed to start")
    with open(origin, "w", encoding="utf-8") as file:
        file.write(repr(time.time()))
    return workers


def collect(workers: Sequence[subprocess.Popen[str]], timeout: float = 120) -> list[dict[str, str]]:
    """Wait for the workers and return every alert they delivered."""
    delivered: list[dict[str, str]] = []
    for process in workers:
        out, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed with exit status {process.returncode}")
        delivered.extend(json.loads(line) for line in out.splitlines() if line.strip())
    return delivered


def demo(target: str | None) -> None:
    folder = None
    if target is None:
        folder = tempfile.mkdtemp()
        target = os.path.join(folder, "ledger.db")
    seed(target)
    origin = os.path.join(folder or tempfile.mkdtemp(), "clock-origin")
    delivered = collect(start_workers(target, count=2, every=0.2, seconds=3.0, origin=origin))
    by_worker = Counter(d["worker"] for d in delivered)
    keys = Counter((d["entity_id"], d["deadline"], d["alert"]) for d in delivered)
    recorded = recorded_alerts(target)
    once = keys == recorded and set(keys.values()) <= {1}
    print(f"two workers swept {DEMO_START:%Y-%m-%d} to {DEMO_END:%Y-%m-%d}")
    for worker in sorted(by_worker):
        print(f"  {worker} delivered {by_worker[worker]}")
    print(f"alerts recorded: {sum(recorded.values())}, delivered: {len(delivered)}")
    print("each delivered exactly once" if once else "DELIVERED TWICE OR NOT AT ALL")
    if not once:
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="sweep on a schedule until stopped")
    worker.add_argument("--db", required=True, help="SQLite path or database URL")
    worker.add_argument("--every", type=float, default=300.0, help="seconds between sweeps")
    worker.add_argument("--name", default=f"worker-{os.getpid()}")
    worker.add_argument("--demo-clock", help=argparse.SUPPRESS)
    seeding = sub.add_parser("seed", help="put the demonstration's round into a new ledger")
    seeding.add_argument("--db", required=True)
    parser.add_argument("--db", dest="demo_db", help="the demonstration's database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.command == "worker":
        clock: Clock = SystemClock()
        if args.demo_clock:
            speed, origin = args.demo_clock.split(":", 1)
            clock = FastClock(DEMO_START, DEMO_END, float(speed), origin)
            # A demonstration's sweeps may overrun its fast interval: skipped runs are
            # expected there, not worth a warning.
            logging.getLogger("apscheduler").setLevel(logging.ERROR)
        run_worker(args.db, args.name, args.every, clock, stop_at_end=bool(args.demo_clock))
    elif args.command == "seed":
        seed(args.db)
    else:
        demo(args.demo_db)


if __name__ == "__main__":
    main()
