"""The ``inspection-flow`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from ._calendar import ChinaCalendar
from ._rules import DeadlineRule, as_instant
from .exceptions import InspectionFlowError


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inspection-flow",
        description="Deadlines and ledgers of ecological-environment protection inspections.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    due = sub.add_parser(
        "due",
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
    due.add_argument(
        "--provisional",
        action="store_true",
        help="compute past the published years with weekends only",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "due":
            opts: dict[str, bool] = {}
            if args.count_start_day:
                opts["count_start_day"] = True
            if args.no_roll:
                opts["roll"] = False
            rule = DeadlineRule.parse(args.rule, **opts)
            calendar = ChinaCalendar(unpublished="weekends" if args.provisional else "error")
            due = rule.compute(args.anchor, calendar)
            print(due.explain(args.lang))
            return 0
    except InspectionFlowError as exc:
        print(f"inspection-flow: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
