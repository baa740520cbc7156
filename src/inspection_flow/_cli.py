"""The ``inspection-flow`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._calendar import ChinaCalendar, YearSchedule
from ._rules import SHANGHAI, DeadlineRule, as_instant
from ._terminal import print_table, to_json
from .exceptions import (
    CalendarCoverageError,
    InspectionFlowError,
    LifecycleError,
    MissingDependencyError,
    PayloadError,
    StoreError,
)

if TYPE_CHECKING:
    from ._ledger import Ledger

# Commands on an existing ledger: a missing file is a usage error (exit 2) found before
# opening, so nothing is created; the reading ones also open it read-only.
_WRITING_ON_LEDGERS = (
    "repair",
    "upgrade",
    "calendar",
    "fire",
    "sweep",
    "status",
    "verify",
    "anchor",
    "overdue",
    "report",
)


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


def _typed(text: str) -> tuple[dt.date | None, dt.time | None]:
    """A day and/or time of day in a form an office types (2024/3/31, 2024年3月31日,
    3月31日 of this year, 2024-03-31 09:00), read as the 台账 import reads them."""
    from ._office.cells import CellError, parse_moment

    try:
        # The command line is the edge: a day typed without its year is of this year.
        return parse_moment(text, dt.date.today().year)
    except CellError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2024-03-31, 2024/3/31, 2024年3月31日): {exc}"
        ) from None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    day, _ = _typed(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is a time of day; give the date")
    return day


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

    schedules = [s for path in args.files for s in YearSchedule.from_file(path)]
    with _open(args.db, calendar=_calendar(args)) as ledger:
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
        with _open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
            calendar = ledger.calendar
    if args.json:
        years = {y: calendar.schedule(y).source for y in calendar.years}
        print(to_json({"calendar": calendar.version, "years": years}))
        return 0
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


def _rulebooks(args: argparse.Namespace) -> int:
    """List the built-in rulebooks with their regimes, or one rulebook's sourced values."""
    from ._rulebook import BUILTIN_RULEBOOKS, load_rulebook

    if args.name is None:
        for name in BUILTIN_RULEBOOKS:
            rb = load_rulebook(name)
            since = rb.effective_from.isoformat() if rb.effective_from else ""
            until = rb.effective_until.isoformat() if rb.effective_until else ""
            span = f"{since}–{until}" if since else "-"
            regimes = f" (by the round's date: {', '.join(rb.regimes)})" if rb.regimes else ""
            print(f"{name}\t{rb.level}\t{span}\t{rb.regime or rb.title}{regimes}")
        return 0
    rb = load_rulebook(args.name)
    print(f"{rb.name}: {rb.title}")
    for value in rb.values(args.lang):
        print(f"{value.key}\t{value.confidence}\t{value.value}\t{value.source}")
    return 0


def _open(target: str, **options: Any) -> Ledger:
    """Open a ledger; a target that is no ledger (an empty or foreign database, a URL of
    a missing file) is a usage error, not a refusal."""
    from ._ledger import Ledger

    try:
        return Ledger.open(target, **options)
    except MissingDependencyError:
        raise
    except StoreError as exc:
        raise _UsageError(str(exc)) from exc


def _anchor_text(text: str) -> str:
    """An anchor as typed; one that cannot be read is a usage error."""
    from .stores import Anchor

    try:
        return str(Anchor.parse(text))
    except StoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inspection-flow")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for (reading the
    installed metadata costs every command's start about 70 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show the version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"inspection-flow {_version()}\n")
        parser.exit()


def _instant(text: str) -> dt.datetime:
    """An instant: ISO 8601 with its offset, or a day and time as an office types them
    (2024-07-15 09:00, 2024/7/15 9:00, 2024年7月15日 9:00), in China Standard Time."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
        if len(text.strip()) <= len("2024-07-15"):
            # A day alone is no instant: when in the day it happened is the point.
            raise ValueError(text)
    except ValueError:
        day, time = _typed(text)
        if day is None or time is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an instant; give a day and a time, e.g. 2024-07-15 09:00 "
                "(China Standard Time) or 2024-07-15T09:00+08:00"
            ) from None
        value = dt.datetime.combine(day, time.replace(tzinfo=None))
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return as_instant(value)


def _actor(text: str) -> object:
    from ._areas import Actor

    role, _, rest = text.partition(":")
    area, _, name = rest.partition(":")
    if not role or not area:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write the actor as ROLE:AREA[:NAME], e.g. owner_unit:430903:赫山区人民政府"
        )
    return Actor(role, area, name)


def _data_item(text: str) -> tuple[str, object]:
    """``key=value``: the value read as JSON when it is (numbers, lists, true), else text."""
    import json

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write event data as KEY=VALUE")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, float):
        value = raw  # amounts are exact decimal text, never binary floats
    return key.strip(), value


def _today() -> dt.date:
    # The command line is the edge: it may read the clock, the library never does.
    return dt.datetime.now(SHANGHAI).date()


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), SHANGHAI)


def _calendar_line(calendar: ChinaCalendar, lang: str) -> str:
    """Name the source of a calendar: the data package's version and any year supplied."""
    supplied = [
        f"{y}: {calendar.schedule(y).source}"
        for y in calendar.years
        if not calendar.schedule(y).source.startswith("chinesecalendar")
    ]
    extra = ("；" if lang == "zh" else "; ") + "; ".join(supplied) if supplied else ""
    if lang == "zh":
        return (
            f"工作日历：{calendar.version}（国务院放假调休通知，经 chinesecalendar 数据包）{extra}"
        )
    return (
        f"Working-day calendar: {calendar.version} (the State Council's holiday notices, "
        f"through the chinesecalendar package){extra}"
    )


def _status_json(ledger: Ledger, as_of: dt.date, round_id: str | None) -> dict[str, object]:
    view = ledger.as_of(as_of)
    now = _end_of(as_of)
    kinds = sorted(str(k) for k in view.counts("kind"))
    return {
        "as_of": as_of,
        "round_id": round_id,
        "calendar": ledger.calendar.version,
        "states": {
            k: view.counts("state", kind=k, round_id=None if k == "round" else round_id)
            for k in kinds
        },
        "areas": view.counts("area", kind="complaint", round_id=round_id),
        "categories": view.counts("categories", kind="complaint", round_id=round_id),
        "batches": view.counts("batch", kind="complaint", round_id=round_id),
        "rates": view.rates(now, round_id=round_id),
        "overdue": [s.entity_id for s in view.overdue(now)],
    }


def _overdue_rows(
    ledger: Ledger, as_of: dt.date, args: argparse.Namespace
) -> list[dict[str, object]]:
    view = ledger.as_of(as_of)
    now = _end_of(as_of)
    rows: list[dict[str, object]] = []
    for snap in view.overdue(now, kind=args.kind, area=args.area):
        if args.round_id is not None and args.round_id not in (snap.round_id, snap.entity_id):
            continue
        views = [v for v in view.deadlines(snap.entity_id) if v.is_overdue(now)]
        if not views:
            continue
        dv = next((v for v in views if v.due_at == snap.next_due_at), views[0])
        lifecycle = view.lifecycle_of(snap)
        rows.append(
            {
                "entity_id": snap.entity_id,
                "kind": snap.kind,
                "area": snap.area,
                "area_name": view.areas.name(snap.area),
                "state": snap.state,
                "state_label": lifecycle.state(snap.state).label_zh,
                "deadline": dv.name,
                "deadline_label": dv.label_zh,
                "last_day": dv.last_day,
                "days_overdue": (now - dv.due_at).days,
                "explanation": dv.explain(args.lang),
            }
        )
    return rows


def _overdue(args: argparse.Namespace) -> int:

    as_of = args.as_of or _today()
    with _open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
        rows = _overdue_rows(ledger, as_of, args)
    if args.json:
        print(to_json({"as_of": as_of, "overdue": rows}))
        return 0
    zh = args.lang == "zh"
    print_table(
        ("编号", "区县", "状态", "期限", "截止日", "超期天数")
        if zh
        else ("id", "area", "state", "deadline", "last day", "days overdue"),
        [
            (
                r["entity_id"],
                r["area_name"],
                r["state_label"] if zh else r["state"],
                r["deadline_label"] if zh else r["deadline"],
                str(r["last_day"]),
                r["days_overdue"],
            )
            for r in rows
        ],
        sys.stdout,
        title=(
            f"{as_of.isoformat()} 超期事项：{len(rows)}"
            if zh
            else f"Overdue on {as_of}: {len(rows)}"
        ),
    )
    for r in rows[: args.explain]:
        print(f"\n【{r['entity_id']}】\n{r['explanation']}")
    return 0


def _fire(args: argparse.Namespace) -> int:

    payload = dict(args.data)
    at = args.at or dt.datetime.now(SHANGHAI)
    with _open(args.db, calendar=_calendar(args)) as ledger:
        event = ledger.fire(
            args.entity,
            args.event,
            actor=args.actor,
            at=at,
            command_id=args.command_id,
            late_entry_reason=args.late_entry_reason,
            **payload,
        )
        snap = ledger.get(args.entity)
    if args.json:
        print(
            to_json(
                {
                    "entity_id": event.entity_id,
                    "event": event.name,
                    "version": event.version,
                    "at": event.at,
                    "state": snap.state,
                    "deadlines": {
                        name: {"status": r.status, "last_day": r.last_day}
                        for name, r in snap.deadlines.items()
                    },
                }
            )
        )
    else:
        print(
            f"{event.entity_id}: {event.name} recorded as event {event.version}; state {snap.state}"
        )
    return 0


def _sweep(args: argparse.Namespace) -> int:

    now = args.now or dt.datetime.now(SHANGHAI)
    with _open(args.db, calendar=_calendar(args)) as ledger:
        notices = ledger.sweep(now)
    if args.json:
        print(to_json({"now": now, "alerts": notices}))
        return 0
    print_table(
        ("entity", "area", "deadline", "alert", "due", "label"),
        [
            (n.entity_id, n.area, n.deadline, n.name, n.due_at.isoformat(), n.label_zh)
            for n in notices
        ],
        sys.stdout,
        title=f"sweep at {now.isoformat()}: {len(notices)} alert(s) recorded",
    )
    return 0


def _listed(text: str) -> int | None:
    """How many overdue items a briefing lists: a whole number, or ``all``."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number, or 'all'") from None
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r}: from 0 to 1000000, or 'all'")
    return value


def _report(args: argparse.Namespace) -> int:
    import os

    from ._briefing import briefing_docx, briefing_html, briefing_markdown

    as_of = args.as_of or _today()
    with _open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
        briefing = ledger.briefing(
            as_of,
            period=args.period,
            number=args.number,
            round_id=args.round_id,
            listed=args.listed,
        )
    if args.json:
        print(to_json(briefing))
        return 0
    if args.format == "docx":
        out = args.out or f"briefing-{as_of.isoformat()}.docx"
        briefing_docx(briefing, out)
        print(f"{briefing.title}: {os.path.abspath(out)}")
        return 0
    text = briefing_html(briefing) if args.format == "html" else briefing_markdown(briefing)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{briefing.title}: {os.path.abspath(args.out)}")
    return 0


def _diagram(args: argparse.Namespace) -> int:
    from ._rulebook import load_rulebook

    rulebook = load_rulebook(args.rulebook)
    lifecycle = rulebook.lifecycles.get(args.lifecycle)
    if lifecycle is None:
        raise _UsageError(
            f"{args.lifecycle!r} is not a lifecycle of rulebook {rulebook.name!r}; "
            f"its lifecycles: {', '.join(sorted(rulebook.lifecycles))}"
        )
    text = lifecycle.mermaid(args.lang)
    if args.json:
        print(to_json({"lifecycle": lifecycle.name, "rulebook": rulebook.name, "mermaid": text}))
    else:
        print(text)
    return 0


class _UsageError(Exception):
    """What was typed names nothing or cannot be read: exit status 2."""


#: Exit statuses: 0 done, 1 refused by the ledger or a check failed, 2 a usage error.
_REFUSED, _USAGE = 1, 2


def _status_of(exc: InspectionFlowError) -> int:
    """1 when the ledger refused the command or a store failed; 2 when what was typed
    (a date, a rule, a rulebook, an id, a language) cannot be used."""
    if isinstance(exc, PayloadError) and exc.entity_id == "-":
        return _USAGE  # a query's filter or option, as typed, not a command refused
    if isinstance(exc, (LifecycleError, StoreError)):
        return _REFUSED
    return _USAGE


def _export(args: argparse.Namespace) -> int:
    with _open(args.db, read_only=True, rulebook=args.rulebook, calendar=_calendar(args)) as ledger:
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
    from .exceptions import TableImportError

    with _open(args.db, rulebook=args.rulebook, calendar=_calendar(args)) as ledger:
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
            return _REFUSED
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
    parser.add_argument("--version", action=_VersionAction)
    # Every reading command can print JSON for scripts instead of text for people.
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(dest="command", required=True)
    due = sub.add_parser(
        "due",
        parents=[years, provisional, as_json],
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
    rulebooks = sub.add_parser(
        "rulebooks",
        help="list the built-in rulebooks and their regimes, or one rulebook's values",
        description="Without a name: each built-in rulebook, its level, the dates its regime "
        "is in force and the rules it follows. With a name or a TOML path: each value with "
        "its confidence (H, M, L) and source, one a line, tab-separated.",
    )
    rulebooks.add_argument("name", nargs="?", help="a built-in rulebook name or a TOML file")
    rulebooks.add_argument("--lang", choices=("zh", "en"), default="zh")
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
        "status",
        parents=[years, provisional, as_json],
        help="print the status of an existing ledger",
        description="Print a ledger's status as of a day (default today): counts by state, "
        "area, batch and category, rates, overdue and due-soon items, and the calendar used.",
    )
    status.add_argument("db", help="SQLite file or database URL")
    status.add_argument(
        "--as-of", type=_day, default=None, help="status date YYYY-MM-DD (default today)"
    )
    status.add_argument("--round", dest="round_id", help="only this round")
    status.add_argument(
        "--rulebook",
        default="central",
        help="default rulebook of the ledger (rounds name their own)",
    )
    status.add_argument("--lang", choices=("zh", "en"), default="zh")
    status.add_argument(
        "--verify",
        action="store_true",
        help="also audit the whole ledger (hash chains, head), which reads every event",
    )
    verify = sub.add_parser(
        "verify",
        parents=[years, as_json],
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
        "--anchor",
        type=_anchor_text,
        help="an anchor printed earlier by 'inspection-flow anchor' to check against",
    )
    anchor = sub.add_parser(
        "anchor",
        parents=[years, as_json],
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
        "show", parents=[years, as_json], help="print the years a calendar (or a ledger's) covers"
    )
    show.add_argument("db", nargs="?", help="SQLite file or database URL (optional)")
    _day_work_parsers(sub, years, provisional, as_json)
    _add_office_commands(sub, years)
    return parser


def _day_work_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    years: argparse.ArgumentParser,
    provisional: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    """The commands of a day's work on a ledger: overdue, fire, sweep, report, diagram."""
    overdue = sub.add_parser(
        "overdue",
        parents=[years, provisional, as_json],
        help="list the items past a deadline on a day, most overdue first",
    )
    overdue.add_argument("db", help="SQLite file or database URL")
    overdue.add_argument("--as-of", type=_day, help="the day YYYY-MM-DD (default today)")
    overdue.add_argument("--kind", help="only this kind (complaint, task, …)")
    overdue.add_argument("--area", help="only this area and the areas within it (a code)")
    overdue.add_argument("--round", dest="round_id", help="only this round")
    overdue.add_argument(
        "--explain", type=int, default=0, metavar="N", help="explain the first N deadlines"
    )
    overdue.add_argument("--lang", choices=("zh", "en"), default="zh")
    fire = sub.add_parser(
        "fire",
        parents=[years],
        help="record an event on an entity (a step of its lifecycle)",
        description="Record EVENT on ENTITY for an actor. Example: inspection-flow fire "
        "yiyang.db YY-0001 start_investigation --actor owner_unit:430903:赫山区人民政府 "
        "--at 2023-06-28T09:00+08:00",
    )
    fire.add_argument("db", help="SQLite file or database URL")
    fire.add_argument("entity", help="the entity's id")
    fire.add_argument("event", help="the event, e.g. record_finding")
    fire.add_argument("--actor", type=_actor, required=True, help="ROLE:AREA[:NAME] of who acts")
    fire.add_argument(
        "--at", type=_instant, help="when it happened, e.g. 2024-07-15 09:00 (UTC+8) (default now)"
    )
    fire.add_argument(
        "--data",
        type=_data_item,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='event data (repeatable); JSON values such as 3 or ["430903"] are read as such',
    )
    fire.add_argument("--command-id", help="an id that makes a retry record the event once")
    fire.add_argument("--late-entry-reason", help="why a fact is entered long after it happened")
    fire.add_argument("--json", action="store_true", help="print the event recorded as JSON")
    sweep = sub.add_parser(
        "sweep",
        parents=[years],
        help="record the warnings and escalations that came due",
    )
    sweep.add_argument("db", help="SQLite file or database URL")
    sweep.add_argument(
        "--now", type=_instant, help="the instant, e.g. 2024-07-15 09:00 (UTC+8) (default now)"
    )
    sweep.add_argument("--json", action="store_true", help="print the alerts recorded as JSON")
    report = sub.add_parser(
        "report",
        parents=[years, as_json],
        help="write the numbered briefing (工作简报 第N期) of a day or a week",
        description="Write a round's briefing as of a day: headline figures, tables by area "
        "and category, overdue and escalated items with their deadlines explained, tasks by "
        "序时进度, and charts. Word needs the office extra (python-docx).",
    )
    report.add_argument("db", help="SQLite file or database URL")
    report.add_argument("--as-of", type=_day, help="the briefing's day YYYY-MM-DD (default today)")
    report.add_argument("--format", choices=("docx", "html", "md"), default="md")
    report.add_argument(
        "--out",
        help="file to write (default: md and html to the screen, docx to briefing-DAY.docx)",
    )
    report.add_argument("--period", choices=("day", "week"), default="day")
    report.add_argument("--number", type=int, help="the briefing's number 第N期")
    report.add_argument("--round", dest="round_id", help="the round (default: the only one)")
    report.add_argument(
        "--listed",
        type=_listed,
        default=50,
        help="overdue items listed with their explanations, most overdue first (default 50; "
        "'all' lists every one); the others are counted",
    )
    diagram = sub.add_parser(
        "diagram",
        parents=[as_json],
        help="print a lifecycle as a Mermaid state diagram",
    )
    diagram.add_argument(
        "lifecycle", help="round, complaint, task, document_request, accountability, …"
    )
    diagram.add_argument("--rulebook", default="central", help="a built-in name or a TOML file")
    diagram.add_argument("--lang", choices=("zh", "en"), default="zh")


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
            print(to_json(due.to_dict()) if args.json else due.explain(args.lang))
            return 0
        if args.command == "diagram":
            return _diagram(args)
        if args.command == "demo":
            return _demo(args)
        if args.command in ("export", "import"):
            if problem := _existing(args.db):
                _say(problem)
                return _USAGE
            return int(args.run(args))
        if args.command == "rulebooks":
            return _rulebooks(args)
        if (
            args.command in _WRITING_ON_LEDGERS
            and args.db is not None
            and (problem := _existing(args.db))
        ):
            _say(problem)
            return 2
        if args.command == "status":
            from ._report import status_report

            as_of = args.as_of or _today()
            # Reading commands open the ledger read-only: they never create a file or
            # tables, and they work on an archive in a read-only directory.
            with _open(
                args.db, read_only=True, rulebook=args.rulebook, calendar=_calendar(args)
            ) as ledger:
                if args.json:
                    print(to_json(_status_json(ledger, as_of, args.round_id)))
                    return 0
                text = status_report(
                    ledger, as_of, round_id=args.round_id, lang=args.lang, verify=args.verify
                )
                print(text)
                print(_calendar_line(ledger.calendar, args.lang))
            return 0
        if args.command == "overdue":
            return _overdue(args)
        if args.command == "fire":
            return _fire(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "report":
            return _report(args)
        if args.command == "verify":
            with _open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
                report = ledger.verify(deep=args.deep, anchor=args.anchor)
            print(to_json(report) if args.json else report)
            return 0 if report.ok else _REFUSED
        if args.command == "anchor":
            with _open(args.db, read_only=True, calendar=_calendar(args)) as ledger:
                anchor = ledger.anchor()
            print(
                to_json({"anchor": str(anchor), "events": anchor.events}) if args.json else anchor
            )
            return 0
        if args.command == "repair":
            with _open(args.db, calendar=_calendar(args)) as ledger:
                repaired = ledger.repair()
            print(repaired)
            return 0 if repaired.ok else _REFUSED
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
        return _USAGE
    except _UsageError as exc:
        _say(f"inspection-flow: {exc}")
        return _USAGE
    except InspectionFlowError as exc:
        _say(f"inspection-flow: {exc}")
        return _status_of(exc)
    except OSError as exc:
        # A file to write that cannot be written (a --out in a missing folder, a full disk).
        _say(f"inspection-flow: {exc}")
        return _REFUSED
    return _REFUSED  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
