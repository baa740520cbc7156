"""The ``inspection-flow`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

from ._calendar import ChinaCalendar, YearSchedule
from ._rules import DeadlineRule, as_instant
from .exceptions import CalendarCoverageError, InspectionFlowError

# Commands that write to an existing ledger; the reading ones (status, verify, anchor)
# open it read-only, and the store refuses a missing file itself.
_WRITING_ON_LEDGERS = ("repair", "upgrade", "calendar")


def _anchor(text: str) -> dt.date | dt.datetime:
    try:
        if "T" in text or " " in text.strip():
            value = dt.datetime.fromisoformat(text.strip())
            if value.tzinfo is None:
                raise argparse.ArgumentTypeError(
                    f"{text!r} has no time zone; add one, e.g. {text}+08:00"
                )
            return as_instant(value)
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or an instant (YYYY-MM-DDTHH:MM+08:00)"
        ) from None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _existing(target: str) -> str | None:
    """Return an error message if ``target`` is a file path that does not exist."""
    import os

    if "://" not in target and not os.path.exists(target):
        return f"inspection-flow: {target}: no such ledger file (nothing was created)"
    return None


def _calendar(args: argparse.Namespace) -> ChinaCalendar:
    """The calendar a command computes with: the data package, the --calendar year files,
    and past them weekends only if --provisional."""
    if getattr(args, "provisional", False):
        return ChinaCalendar.from_files(*args.calendar_files, unpublished="weekends")
    return ChinaCalendar.from_files(*args.calendar_files)


def _say(message: str) -> None:
    """Print an error on one line of stderr: a name typed with a line break in it is
    shown escaped, so scripts reading the error see one line."""
    print(message.replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)


def _uncovered(exc: CalendarCoverageError) -> str:
    return (
        f"inspection-flow: no official working-day schedule is known for {exc.year} "
        f"(the calendar covers {exc.covered[0]}–{exc.covered[1]}). Once the State Council's "
        f"holiday notice for {exc.year} is out, write it in a year file and pass "
        f"--calendar {exc.year}.toml, or keep it in a ledger with 'inspection-flow calendar "
        f"add LEDGER {exc.year}.toml'; or pass --provisional to count weekends only, with "
        f"every result marked provisional. See docs/calendar.md."
    )


def _calendar_add(args: argparse.Namespace) -> int:
    from ._ledger import Ledger

    schedules = [s for path in args.files for s in YearSchedule.from_file(path)]
    with Ledger.open(args.db, calendar=_calendar(args)) as ledger:
        for sched in schedules:
            if ledger.supply_calendar_year(sched):
                print(f"{sched.year}: kept in the ledger ({sched.source})")
            else:
                print(f"{sched.year}: the ledger already keeps this schedule; nothing changed")
        print(f"the ledger's calendar: {ledger.calendar.version}")
        moves = [
            (snap.entity_id, view)
            for snap in ledger.find(open_only=True)
            if any(r.provisional and r.status == "open" for r in snap.deadlines.values())
            for view in ledger.deadlines(snap.entity_id)
            if view.status == "open" and view.record.provisional and view.due is not None
        ]
        if moves:
            print(
                f"provisional deadlines with this calendar: {len(moves)} (stored dates do not "
                f"move by themselves; Ledger.recompute records each move):"
            )
            for entity_id, view in moves:
                assert view.due is not None
                change = (
                    f"{view.last_day.isoformat()} → {view.due.last_day.isoformat()}"
                    if view.moved
                    else f"{view.last_day.isoformat()}, unchanged"
                )
                print(f"  {entity_id} {view.name}: {change}")
    return 0


def _calendar_show(args: argparse.Namespace) -> int:
    if args.db is None:
        calendar = _calendar(args)
    else:
        from ._ledger import Ledger

        with Ledger.open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
            calendar = ledger.calendar
    print(f"calendar: {calendar.version}")
    print(f"covers {calendar.years.start}–{calendar.years.stop - 1}")
    for year in calendar.years:
        source = calendar.schedule(year).source
        if not source.startswith("chinesecalendar"):
            print(f"  {year}: {source}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from ._demo import run_demo

    if args.db is None:
        folder = tempfile.mkdtemp(prefix="inspection-flow-demo-")
        db = os.path.join(folder, "yiyang-2023.db")
    else:
        db = args.db
        if os.path.exists(db):
            if not args.force:
                _say(
                    f"inspection-flow: {db} exists; choose another --db, or pass --force to "
                    "replace it"
                )
                return 2
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
    return run_demo(db, as_of=args.as_of, lang=args.lang, calendar=_calendar(args))


def _export(args: argparse.Namespace) -> int:
    from ._ledger import Ledger

    with Ledger.open(
        args.db, read_only=True, rulebook=args.rulebook, calendar=_calendar(args)
    ) as ledger:
        ledger.export(
            args.path,
            kind=args.kinds or ["complaints"],
            as_of=args.as_of,
            lang=args.lang,
            batch=args.batch,
        )
    print(f"wrote {args.path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from ._ledger import Ledger
    from .exceptions import TableImportError

    with Ledger.open(args.db, rulebook=args.rulebook, calendar=_calendar(args)) as ledger:
        try:
            report = ledger.import_table(
                args.path,
                round_id=args.round_id,
                sheet=args.sheet,
                mapping=args.mapping,
                channel=args.channel,
                skip_bad=args.skip_bad or False,
            )
        except TableImportError as exc:
            # One line to say what happened, then one line per bad row, for the clerk to
            # correct in the sheet.
            _say(
                f"inspection-flow: {exc.path}: {len(exc.problems)} problem(s), nothing was "
                "imported; correct these rows, or pass --skip-bad REJECTS.csv to import the "
                "good rows"
            )
            for problem in exc.problems:
                _say(f"  {problem}")
            return 1
    print(report)
    return 0


def _add_office_commands(sub: Any, years: argparse.ArgumentParser) -> None:
    """The ``export`` and ``import`` commands (台账 files; the ``[office]`` extra)."""
    export = sub.add_parser(
        "export",
        parents=[years],
        help="write a ledger's tables (台账) to .xlsx or .csv",
        description="Write tables of a ledger as they stood at the end of a day: "
        "complaints (信访件台账), tasks (整改台账), overdue, escalations, disclosure "
        "(信访件办理情况一览表). A .xlsx workbook takes one sheet per --kind; a .csv file "
        "one kind, in UTF-8 with a BOM. Example: inspection-flow export yiyang.db "
        "taizhang.xlsx --kind complaints --kind tasks --as-of 2023-07-20",
    )
    export.add_argument("db", help="SQLite file or database URL")
    export.add_argument("path", help="the .xlsx or .csv file to write")
    export.add_argument(
        "--kind",
        dest="kinds",
        action="append",
        choices=("complaints", "tasks", "overdue", "escalations", "disclosure"),
        help="a table to write (repeatable; default complaints)",
    )
    export.add_argument("--as-of", type=_day, required=True, help="day YYYY-MM-DD")
    export.add_argument("--batch", type=int, help="for disclosure: only this batch")
    export.add_argument("--lang", choices=("zh", "en"), default="zh")
    export.add_argument(
        "--rulebook",
        default="central",
        help="default rulebook of the ledger (rounds name their own)",
    )
    export.set_defaults(run=_export)
    imp = sub.add_parser(
        "import",
        parents=[years],
        help="import a hand-kept 信访件台账 (.xlsx or .csv) into a ledger",
        description="Record each row's receipt, and its hand-over where it gives a 交办日期. "
        "Every row is checked first: while any is bad nothing is imported, and each bad "
        "row is listed with its row number, column and reason. Re-importing adds nothing.",
    )
    imp.add_argument("db", help="SQLite file or database URL")
    imp.add_argument("path", help="the .xlsx or .csv file to read")
    imp.add_argument(
        "--round", dest="round_id", help="the round (needed if the ledger has several)"
    )
    imp.add_argument("--sheet", help="the sheet of a workbook (default 信访件台账, or the first)")
    imp.add_argument(
        "--mapping", metavar="FILE", help='a TOML file: [columns] "local header" = "field"'
    )
    imp.add_argument(
        "--skip-bad",
        metavar="REJECTS",
        help="import the good rows and write the bad ones, with reasons, to REJECTS",
    )
    imp.add_argument(
        "--channel", default="phone", help="how complaints arrived where a row does not say"
    )
    imp.add_argument(
        "--rulebook",
        default="central",
        help="default rulebook of the ledger (rounds name their own)",
    )
    imp.set_defaults(run=_import)


def _parser() -> argparse.ArgumentParser:
    # Long by design: one argparse declaration per command; long but flat.
    parser = argparse.ArgumentParser(
        prog="inspection-flow",
        description="Deadlines and ledgers of ecological-environment protection inspections.",
    )
    # Every command that reads or computes dates takes the year files of years the data
    # package does not have yet.
    years = argparse.ArgumentParser(add_help=False)
    years.add_argument(
        "--calendar",
        dest="calendar_files",
        metavar="FILE",
        action="append",
        default=[],
        help="a TOML year file of a year the data package lacks (repeatable)",
    )
    provisional = argparse.ArgumentParser(add_help=False)
    provisional.add_argument(
        "--provisional",
        action="store_true",
        help="compute past the published years with weekends only, marked provisional",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    due = sub.add_parser(
        "due",
        parents=[years, provisional],
        help="compute and explain a deadline",
        description="Compute a due date from an anchor and a rule, and explain each step. "
        "Example: inspection-flow due 2023-09-20 '30 working days'",
    )
    due.add_argument("anchor", type=_anchor, help="start date YYYY-MM-DD or aware instant")
    due.add_argument(
        "rule", help="e.g. '30 working days', '21 days', '6个月', '10个工作日（含当日）'"
    )
    due.add_argument("--count-start-day", action="store_true", help="count the start day")
    due.add_argument(
        "--no-roll", action="store_true", help="do not move a rest last day to the next working day"
    )
    due.add_argument("--lang", choices=("zh", "en"), default="zh")
    demo = sub.add_parser(
        "demo",
        parents=[years, provisional],
        help="build the Yiyang 2023 source case into a SQLite ledger and print its status",
        description="Build the Yiyang 2023 inspection round (real dates, rulebook and areas; "
        "synthetic complaints and tasks from a fixed seed) into a SQLite ledger, then print "
        "its status as of a date.",
    )
    demo.add_argument("--db", help="SQLite file to create (default: a new temporary file)")
    demo.add_argument("--force", action="store_true", help="replace --db if it exists")
    demo.add_argument(
        "--as-of",
        type=_day,
        default=dt.date(2024, 3, 31),
        help="status date YYYY-MM-DD (default 2024-03-31)",
    )
    demo.add_argument("--lang", choices=("zh", "en"), default="zh")
    status = sub.add_parser(
        "status", parents=[years, provisional], help="print the status of an existing ledger"
    )
    status.add_argument("db", help="SQLite file or database URL")
    status.add_argument("--as-of", type=_day, required=True, help="status date YYYY-MM-DD")
    status.add_argument("--round", dest="round_id", help="only this round")
    status.add_argument(
        "--rulebook",
        default="central",
        help="default rulebook of the ledger (rounds name their own)",
    )
    status.add_argument("--lang", choices=("zh", "en"), default="zh")
    verify = sub.add_parser(
        "verify",
        parents=[years],
        help="audit a ledger: hash chains, the ledger's head, and (--deep) the projection",
        description="Check every entity's hash chain, the ledger's head (nothing removed) "
        "and the record of applied commands; report every problem found. Exit status 0 "
        "when intact, 1 when a problem was found.",
    )
    verify.add_argument("db", help="SQLite file or database URL")
    verify.add_argument(
        "--deep",
        action="store_true",
        help="also fold every entity from its events and compare its projection",
    )
    verify.add_argument(
        "--anchor", help="an anchor printed earlier by 'inspection-flow anchor' to check against"
    )
    anchor = sub.add_parser(
        "anchor",
        parents=[years],
        help="print a short digest of the whole ledger, to keep or publish outside it",
    )
    anchor.add_argument("db", help="SQLite file or database URL")
    repair = sub.add_parser(
        "repair",
        parents=[years],
        help="rewrite drifted projection rows from the events (the events are never touched)",
    )
    repair.add_argument("db", help="SQLite file or database URL")
    upgrade = sub.add_parser(
        "upgrade", help="upgrade a ledger written by an earlier release to this one's tables"
    )
    upgrade.add_argument("db", help="SQLite file or database URL")
    calendar = sub.add_parser(
        "calendar",
        help="calendar years the data package does not have yet",
        description="Keep a year's working-day schedule (from the State Council's holiday "
        "notice) in a ledger, so that every process opening it computes with it, or show "
        "which years a calendar covers.",
    )
    years_of = calendar.add_subparsers(dest="calendar_command", required=True)
    add = years_of.add_parser(
        "add",
        parents=[years],
        help="keep the years of TOML year files in a ledger",
        description="Keep the years of TOML year files in a ledger. Deadlines already "
        "recorded do not move by themselves: recompute records their moves.",
    )
    add.add_argument("db", help="SQLite file or database URL")
    add.add_argument("files", nargs="+", metavar="FILE", help="TOML year files")
    show = years_of.add_parser(
        "show", parents=[years], help="print the years a calendar (or a ledger's) covers"
    )
    show.add_argument("db", nargs="?", help="SQLite file or database URL (optional)")
    _add_office_commands(sub, years)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    # Long by design: one branch per command, each a few lines.
    args = _parser().parse_args(argv)
    try:
        if args.command == "due":
            rule = DeadlineRule.parse(
                args.rule,
                count_start_day=True if args.count_start_day else None,
                roll=False if args.no_roll else None,
            )
            due = rule.compute(args.anchor, _calendar(args))
            print(due.explain(args.lang))
            return 0
        if args.command == "demo":
            return _demo(args)
        if args.command in ("export", "import"):
            if problem := _existing(args.db):
                _say(problem)
                return 2
            return int(args.run(args))
        if (
            args.command in _WRITING_ON_LEDGERS
            and args.db is not None
            and (problem := _existing(args.db))
        ):
            _say(problem)
            return 2
        if args.command == "status":
            from ._ledger import Ledger
            from ._report import status_report

            # Reading commands open the ledger read-only: they never create a file or
            # tables, and they work on an archive in a read-only directory.
            with Ledger.open(
                args.db, read_only=True, rulebook=args.rulebook, calendar=_calendar(args)
            ) as ledger:
                print(status_report(ledger, args.as_of, round_id=args.round_id, lang=args.lang))
            return 0
        if args.command == "verify":
            from ._ledger import Ledger

            with Ledger.open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
                report = ledger.verify(deep=args.deep, anchor=args.anchor)
            print(report)
            return 0 if report.ok else 1
        if args.command == "anchor":
            from ._ledger import Ledger

            with Ledger.open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
                print(ledger.anchor())
            return 0
        if args.command == "repair":
            from ._ledger import Ledger

            with Ledger.open(args.db, calendar=_calendar(args)) as ledger:
                repaired = ledger.repair()
            print(repaired)
            return 0 if repaired.ok else 1
        if args.command == "calendar":
            if args.calendar_command == "add":
                return _calendar_add(args)
            return _calendar_show(args)
        if args.command == "upgrade":
            from .stores._sql import SCHEMA_VERSION, SQLStore

            before = SQLStore.upgrade(args.db)
            print(
                f"schema version {before} upgraded to {SCHEMA_VERSION}"
                if before != SCHEMA_VERSION
                else f"already at schema version {before}; nothing changed"
            )
            return 0
    except CalendarCoverageError as exc:
        _say(_uncovered(exc))
        return 2
    except InspectionFlowError as exc:
        _say(f"inspection-flow: {exc}")
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
