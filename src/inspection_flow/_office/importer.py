"""Importing a hand-kept 信访件台账 (.xlsx or .csv) into a ledger: every row checked before
anything is written, each receipt and hand-over recorded through the ledger's commands.

What an import records: each complaint's receipt (受理) and, where the row gives its
交办日期, its hand-over in the batch of that day.  The later columns (办理状态, 是否属实,
办理结果…) are read and named in the report, not recorded: findings and results are
recorded by those who handle the cases, each under their own name.

Long by design: reading a row's cells, checking the rows and batches, and writing them
stay in one module, so that "everything checked, then everything written" reads in one
place; the file side (sheets, headers, rejects) is in :mod:`.sheets`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._areas import Actor
from .._collector import collector_paused
from .._ledger import Ledger
from .._records import Snapshot
from .._rules import SHANGHAI
from ..exceptions import (
    ConcurrencyError,
    EntityNotFoundError,
    InspectionFlowError,
    RowProblem,
    TableError,
    TableImportError,
)
from .cells import (
    FIELDS,
    CellError,
    parse_batch,
    parse_categories,
    parse_channel,
    parse_day,
    parse_moment,
)
from .sheets import check_mapping, find_header, read_csv, read_mapping, read_xlsx, write_rejects

__all__ = ["ImportReport", "import_table"]

#: The reason recorded on every event an import enters after the fact.
_LATE_REASON = "据手工台账补录（导入）"
#: When a row gives a day of receipt but no time: noon, inside the hotline's hours.
_NOON = dt.time(12, 0)
#: When a batch was handed over, where the 交办日期 gives no time.
_HAND_OVER_TIME = dt.time(9, 0)

#: What a cell not yet read is found as in a reader's memo.
_UNREAD = object()


@attrs.frozen
class ImportReport:
    """What an import did.

    Attributes:
        path, sheet: the file and sheet read.
        received: complaints recorded as received.
        handed_over: complaints handed over (in batches by their 交办日期).
        already: rows whose complaint the ledger already held (nothing added).
        rejected: the bad rows skipped (``skip_bad``), each with its reason.
        not_recorded: columns read but not recorded (later steps, unknown headers).
        rejects_path: where the rejected rows were written, if anywhere.
    """

    path: str
    sheet: str
    received: int
    handed_over: int
    already: int
    rejected: tuple[RowProblem, ...] = ()
    not_recorded: tuple[str, ...] = ()
    rejects_path: str | None = None

    def __str__(self) -> str:
        line = (
            f"{self.path} [{self.sheet}]: {self.received} received, {self.handed_over} handed "
            f"over, {self.already} already in the ledger"
        )
        if self.rejected:
            rows = len({p.row for p in self.rejected})
            line += f", {rows} bad row(s) skipped"
            if self.rejects_path:
                line += f" (written to {self.rejects_path})"
        if self.not_recorded:
            line += f"; columns not recorded: {', '.join(self.not_recorded)}"
        return line


@attrs.frozen
class _Row:
    """A good row, read."""

    line: int
    number: str
    received_at: dt.datetime
    channel: str
    area: str
    categories: tuple[str, ...]
    summary: str
    handed_over: dt.datetime | None
    batch: int | None


# -- checking the rows -------------------------------------------------------------------


class _Reader:
    """Reads the cells of one row, collecting a problem for each bad one."""

    def __init__(
        self, ledger: Ledger, sheet: str, headers: list[Any], columns: dict[str, int], year: int
    ) -> None:
        self.ledger = ledger
        self.sheet = sheet
        self.headers = headers
        self.columns = columns
        self.year = year
        names = ledger.areas.names()
        self.area_of_name = {name: code for code, name in names.items()}
        # What a cell's text was read as, by field, type and value: a file repeats its
        # areas, categories, channels, batches and days on every row.  Only readings
        # that succeed are kept (immutable values); a bad cell is read, and reported,
        # every time.
        self.memo: dict[tuple[str, type, Any], Any] = {}
        year = self.year
        # Each field read, in the order read: its column, how it is read, whether it is
        # required and whether its readings are kept in the memo.
        self.plan: tuple[tuple[str, int | None, Callable[[Any], Any], bool, bool], ...] = tuple(
            (field, columns.get(field), parse, required, kept)
            for field, parse, required, kept in (
                ("number", _number, True, False),
                ("area", self.area, True, True),
                ("category", lambda v: tuple(parse_categories(v)), True, True),
                ("summary", _summary, True, False),
                ("channel", parse_channel, False, True),
                ("batch", parse_batch, False, True),
                ("handed_over", lambda v: parse_day(v, year), False, True),
            )
        )

    def cell(self, values: list[Any], field: str) -> Any:
        col = self.columns.get(field)
        if col is None or col >= len(values):
            return None
        value = values[col]
        return value.strip() if isinstance(value, str) else value

    def header(self, field: str) -> str:
        col = self.columns.get(field)
        return str(self.headers[col]).strip() if col is not None else FIELDS[field][0]

    def area(self, value: Any) -> str:
        text = str(value or "").strip()
        if not text:
            raise CellError("empty")
        if text in self.area_of_name:
            return self.area_of_name[text]
        areas = self.ledger.areas
        if areas.known(text):
            return text
        # 益阳市赫山区: an area named after the areas that contain it.
        for name in sorted(self.area_of_name, key=len, reverse=True):
            if text.endswith(name) and name != text:
                prefix = text[: -len(name)]
                code = self.area_of_name[name]
                above = set(areas.ancestors(code))
                if all(
                    self.area_of_name.get(part, "") in above
                    for part in _split_names(prefix, self.area_of_name)
                ):
                    return code
        hints = areas.suggest(text)
        hint = f"; did you mean {' or '.join(hints)}?" if hints else ""
        raise CellError(f"{text!r} is no area the ledger knows{hint}")

    def read(
        self, line: int, values: list[Any], channel: str
    ) -> tuple[_Row | None, list[RowProblem]]:
        problems: list[RowProblem] = []
        memo = self.memo
        size = len(values)
        got: list[Any] = []
        for field, col, parse, required, kept in self.plan:
            value = values[col] if col is not None and col < size else None
            if value.__class__ is str:
                value = value.strip()
            if value is None or value == "":
                if required:
                    problems.append(RowProblem(self.sheet, line, self.header(field), "", "empty"))
                got.append(None)
                continue
            if kept:
                key = (field, value.__class__, value)
                found = memo.get(key, _UNREAD)
                if found is not _UNREAD:
                    got.append(found)
                    continue
            try:
                parsed = parse(value)
            except CellError as exc:
                shown = "" if str(exc) == "empty" else str(value)
                problems.append(RowProblem(self.sheet, line, self.header(field), shown, str(exc)))
                got.append(None)
                continue
            if kept:
                memo[key] = parsed
            got.append(parsed)
        number, area, categories, summary, chan, batch, handed = got
        chan = chan or channel
        received = self.received(line, values, problems)
        if batch is not None and handed is None and "handed_over" in self.columns:
            problems.append(
                RowProblem(
                    self.sheet,
                    line,
                    self.header("handed_over"),
                    "",
                    f"batch {batch} but no 交办日期: give the day it was handed over",
                )
            )
        if problems:
            # In the order of the sheet's columns, as the clerk reads the row.
            order = {str(h).strip(): i for i, h in enumerate(self.headers) if h is not None}
            problems.sort(key=lambda p: order.get(p.column, len(order)))
            return None, problems
        assert received is not None
        assert chan is not None
        return (
            _Row(
                line,
                number,
                received,
                chan,
                area,
                categories,
                summary,
                dt.datetime.combine(handed, _HAND_OVER_TIME, SHANGHAI) if handed else None,
                batch,
            ),
            [],
        )

    def received(
        self, line: int, values: list[Any], problems: list[RowProblem]
    ) -> dt.datetime | None:
        """When the row's complaint was received: the day and time of one column, or a
        day column and a time column; noon when no time is given."""
        moments: dict[str, tuple[dt.date | None, dt.time | None]] = {}
        bad = False
        for field in ("received_at", "received_day"):
            value = self.cell(values, field)
            if value is None or value == "":
                continue
            try:
                moments[field] = parse_moment(value, self.year)
            except CellError as exc:
                bad = True
                problems.append(
                    RowProblem(self.sheet, line, self.header(field), _shown(value), str(exc))
                )
        if bad:
            return None
        at_day, at_time = moments.get("received_at", (None, None))
        on_day, on_time = moments.get("received_day", (None, None))
        day = at_day or on_day
        if day is None and not moments and "handed_over" in self.columns:
            # A list of cases handed over gives no receipt: a batch holds the intake of
            # the day before its day.
            handed = self.cell(values, "handed_over")
            if handed is not None and handed != "":
                try:
                    day = parse_day(handed, self.year) - dt.timedelta(days=1)
                except CellError:
                    return None  # reported as the 交办日期's problem
        if day is None:
            field = "received_day" if "received_day" in self.columns else "received_at"
            problems.append(
                RowProblem(
                    self.sheet,
                    line,
                    self.header(field),
                    "",
                    "no day of receipt: give 受理时间 with its day, 受理日期 or 交办日期",
                )
            )
            return None
        time = at_time or on_time or _NOON
        return dt.datetime.combine(day, time.replace(tzinfo=None), SHANGHAI)


def _split_names(text: str, names: Mapping[str, str]) -> list[str]:
    """Split ``text`` into registered area names, longest first; an unknown rest is kept
    as one part, which no area's ancestors hold."""
    parts: list[str] = []
    while text:
        found = next((n for n in sorted(names, key=len, reverse=True) if text.startswith(n)), None)
        if found is None:
            return [*parts, text]
        parts.append(found)
        text = text[len(found) :]
    return parts


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> str:
    # An Excel number cell holds 12345.0 for 12345.
    return str(int(value)) if isinstance(value, float) else str(value)


def _summary(value: Any) -> str:
    # A cell typed with Alt+Enter holds line breaks; the ledger keeps one line of text.
    text = " ".join(str(value).split())
    if not text:
        raise CellError("empty")
    return text


def _empty(values: list[Any]) -> bool:
    # Text is the only cell value that can be blank (numbers, days and booleans never
    # write as blank text).
    for value in values:
        if value is not None and (value.__class__ is not str or value.strip()):
            return False
    return True


# -- the import --------------------------------------------------------------------------


def import_table(
    ledger: Ledger,
    path: str | os.PathLike[str],
    *,
    round_id: str | None = None,
    actor: Actor | None = None,
    sheet: str | None = None,
    mapping: Mapping[str, str] | str | os.PathLike[str] | None = None,
    channel: str = "phone",
    skip_bad: bool | str | os.PathLike[str] = False,
) -> ImportReport:
    """Import a hand-kept 信访件台账 (.xlsx or .csv) into ``ledger``.

    Each row becomes a complaint received by the round's team (its id the row's 受理编号),
    and rows with a 交办日期 are handed over in the batch of that day.  Re-importing the
    same file adds nothing: a complaint the ledger holds is left as it is, unless it
    still waits for its batch and its row now gives a 交办日期 (a 台账 filled in day by
    day): it is then handed over with that day's batch.

    Args:
        path: the file; ``.xlsx`` (the sheet 信访件台账, or the first) or ``.csv``.
        round_id: the round (may be left out when the ledger holds one round).
        actor: who receives and hands over (default: the inspection team of the round's
            province).
        sheet: the sheet of a workbook to read.
        mapping: local headers and the fields they mean: a dict or a TOML mapping file
            with a table ``[columns]``.
        channel: how complaints arrived where the row does not say (default ``phone``).
        skip_bad: import the good rows although some are bad; a path writes the bad rows
            there, each with its reason (``.csv`` or ``.xlsx``).

    Returns:
        An :class:`ImportReport`.

    Raises:
        TableImportError: rows are bad (each listed with sheet, row, column and reason)
            and ``skip_bad`` is not set; nothing was imported.
        TableError: the file cannot be read, has no header row, or names no round.
        MissingDependencyError: a ``.xlsx`` file without openpyxl (``[office]``).
    """
    target = os.fspath(path)
    suffix = os.path.splitext(target)[1].lower()
    if suffix not in (".xlsx", ".csv"):
        raise TableError(target, "import a .xlsx or .csv file")
    if not os.path.exists(target):
        raise TableError(target, "no such file")
    try:
        channel = parse_channel(channel)
    except CellError as exc:
        raise TableError(target, f"channel: {exc}") from None
    if mapping is None:
        local: dict[str, str] = {}
    elif isinstance(mapping, Mapping):
        local = check_mapping(mapping, "mapping")
    else:
        local = read_mapping(mapping)
    rnd = _round(ledger, round_id, target)
    if actor is None:
        actor = Actor("inspection_team", rnd.area[:2] + "0000", "督察组")
    # The rows read and the snapshots written stay alive for the whole import: the
    # collector, let run meanwhile, would walk them again and again (a workbook's own
    # cycles, left when it is read, are collected after the import).
    with collector_paused():
        name, rows = read_xlsx(target, sheet) if suffix == ".xlsx" else read_csv(target)
        start, columns, unread = find_header(rows, local, target)
        headers = rows[start][1]
        reader = _Reader(ledger, name, headers, columns, _year(rnd))
        problems, good = _read_rows(reader, name, rows[start + 1 :], channel)

        def record(found: list[RowProblem], *, together: bool) -> ImportReport:
            return _record(
                ledger,
                rnd,
                actor,
                good,
                found,
                target,
                name,
                unread,
                skip_bad,
                rows,
                start,
                together=together,
            )

        try:
            return record(list(problems), together=True)
        except ConcurrencyError:
            # Another writer changed a case the import read, or took one of its ids, and
            # nothing was written: the receipts, then the hand-overs, each in a write of
            # its own, the cases the hand-overs move read again if they moved on.
            return record(problems, together=False)


def _read_rows(
    reader: _Reader, name: str, lines: list[tuple[int, list[Any]]], channel: str
) -> tuple[list[RowProblem], list[_Row]]:
    """Read the rows below the header: the good ones, and the problems of the others
    (a 受理编号 given twice is a problem of its second row)."""
    problems: list[RowProblem] = []
    good: list[_Row] = []
    seen: dict[str, int] = {}
    for line, values in lines:
        if _empty(values):
            continue
        row, found = reader.read(line, values, channel)
        if row is not None and row.number in seen:
            found = [
                RowProblem(
                    name,
                    line,
                    reader.header("number"),
                    row.number,
                    f"the same 受理编号 as row {seen[row.number]}",
                )
            ]
            row = None
        if row is None:
            problems.extend(found)
        else:
            seen[row.number] = line
            good.append(row)
    return problems, good


def _hand_over(
    ledger: Ledger,
    round_id: str,
    actor: Actor,
    hand_over: dict[dt.date, list[_Row]],
    cases: dict[str, Snapshot],
) -> int:
    """Hand over each day's batch as hand_over_batch hands it over, the waiting cases found
    once; return how many cases were handed over.  The cases the import received or read
    are not read again: a case moved on meanwhile fails the write's version check."""
    days: list[tuple[dt.date, dt.datetime]] = []
    for day in sorted(hand_over):
        wanted = [r for r in hand_over[day] if r.number in cases]
        if wanted:
            at = wanted[0].handed_over or dt.datetime.combine(day, _HAND_OVER_TIME, SHANGHAI)
            days.append((day, at))
    known = {snap.entity_id: snap for snap in cases.values()}
    batches = ledger._hand_over_days(
        round_id, days, actor=actor, late_entry_reason=_LATE_REASON, known=known
    )
    return sum(len(batch.case_ids) for batch in batches if batch is not None)


def _round(ledger: Ledger, round_id: str | None, path: str) -> Snapshot:
    rnd = _find_round(ledger, round_id, path)
    # The round's rulebook registers its areas when first loaded: before names are read.
    ledger.rulebook_of(rnd)
    return rnd


def _find_round(ledger: Ledger, round_id: str | None, path: str) -> Snapshot:
    if round_id is not None:
        try:
            rnd = ledger.get(round_id)
        except EntityNotFoundError:
            rnd = None
        if rnd is None or rnd.kind != "round":
            raise TableError(path, f"the ledger holds no round {round_id!r}")
        return rnd
    rounds = ledger.find(kind="round")
    if len(rounds) != 1:
        names = ", ".join(r.entity_id for r in rounds) or "none"
        raise TableError(path, f"name the round to import into (rounds: {names})")
    return rounds[0]


def _year(rnd: Snapshot) -> int:
    """The round's year, for days typed without one (6月27日): its station-in's."""
    station = rnd.deadlines.get("station_in_ends")
    if station is not None:
        return dt.datetime.fromisoformat(station.anchor).astimezone(SHANGHAI).year
    return rnd.created_at.astimezone(SHANGHAI).year


def _entity_id(rnd: Snapshot, number: str, numbered: object) -> str:
    """The id a row's complaint gets: ``<round>/<number>`` when the round's rulebook
    numbers complaints (``numbered``, read once for the whole table), else the number."""
    if numbered:
        return f"{rnd.entity_id}/{number}"
    return number


def _record(
    ledger: Ledger,
    rnd: Snapshot,
    actor: Actor,
    good: list[_Row],
    problems: list[RowProblem],
    path: str,
    sheet: str,
    unread: list[str],
    skip_bad: bool | str | os.PathLike[str],
    rows: list[tuple[int, list[Any]]],
    start: int,
    *,
    together: bool,
) -> ImportReport:
    """Record the good rows, or nothing while a row is bad and ``skip_bad`` is not set.

    ``together``: the receipts and the hand-overs in one write, each case written once
    as it ends; else the receipts, then the hand-overs (all days in one write)."""
    round_id = rnd.entity_id
    numbered = ledger.rulebook_of(rnd).acceptance_number
    already = 0
    received: dict[str, Snapshot] = {}
    fresh: list[_Row] = []
    # Rows of complaints the ledger holds, still waiting for their batch, that the file
    # now gives a 交办日期 (a 台账 filled in day by day, or an import whose hand-overs
    # were not written): handed over with the day's batch, as the file says.
    waiting: list[tuple[_Row, Snapshot]] = []
    # One read of the round's complaints, not one per row.
    held = {s.entity_id: s for s in ledger.find(kind="complaint", round_id=round_id)}
    for row in good:
        snap = held.get(_entity_id(rnd, row.number, numbered))
        if snap is None:
            fresh.append(row)
            continue
        already += 1
        if row.handed_over is not None and snap.state == "received":
            waiting.append((row, snap))
    if problems and not skip_bad:
        raise TableImportError(path, problems)
    handed_days = sorted(
        r.handed_over
        for r in itertools.chain(fresh, (row for row, _ in waiting))
        if r.handed_over is not None
    )
    if handed_days:
        # The hand-overs are written after the receipts: whoever imports must be allowed
        # to hand over before anything is written.
        may = ledger.can(round_id, "record_batch", actor, at=handed_days[0])
        if not may:
            raise TableError(
                path,
                f"{actor.name or actor.role} may not hand over batches of {round_id}: "
                f"{'; '.join(may.reasons)}; nothing was imported",
            )
    hand_over: dict[dt.date, list[_Row]] = {}
    # The cases each row hands over: the import's receipts and the waiting ones held.
    cases: dict[str, Snapshot] = {}
    for row, snap in waiting:
        if _before_batch_day(row, snap, sheet, problems):
            continue
        cases[row.number] = snap
        hand_over.setdefault(row.handed_over.date(), []).append(row)  # type: ignore[union-attr]
    if problems and not skip_bad:
        raise TableImportError(path, sorted(problems, key=lambda p: p.row))
    with ledger.batch():
        # The rows' ids and command ids are looked up together, not row by row.
        ledger._read_ahead([round_id] + [_entity_id(rnd, r.number, numbered) for r in fresh])
        ledger._read_ahead_commands(f"import/{round_id}/{r.number}" for r in fresh)
        for row in fresh:
            entity_id = _entity_id(rnd, row.number, numbered)
            extra: dict[str, Any] = {"acceptance_number": row.number} if numbered else {}
            try:
                snap = ledger.receive_complaint(
                    round_id,
                    channel=row.channel,
                    received_at=row.received_at,
                    area=row.area,
                    summary=row.summary,
                    category=row.categories[0],
                    categories=list(row.categories) if len(row.categories) > 1 else None,
                    actor=actor,
                    complaint_id=entity_id,
                    command_id=f"import/{round_id}/{row.number}",
                    late_entry_reason=_LATE_REASON,
                    **extra,
                )
            except InspectionFlowError as exc:
                problems.append(RowProblem(sheet, row.line, "", row.number, str(exc)))
                continue
            received[row.number] = snap
            if row.handed_over is not None:
                if _before_batch_day(row, snap, sheet, problems):
                    del received[row.number]
                    continue
                cases[row.number] = snap
                hand_over.setdefault(row.handed_over.date(), []).append(row)
        # A batch hands over every case waiting for its day: batches that contradict the
        # ledger's cannot be imported in part, so they refuse the file even with skip_bad.
        contradictions = _check_batches(ledger, rnd, hand_over, received, cases, fresh, sheet)
        if contradictions or (problems and not skip_bad):
            problems.extend(contradictions)
            problems.sort(key=lambda p: p.row)
            raise TableImportError(path, problems)
        if together:
            handed = _hand_over(ledger, round_id, actor, hand_over, cases)
    if not together:
        handed = _hand_over(ledger, round_id, actor, hand_over, cases)
    problems.sort(key=lambda p: p.row)
    written = write_rejects(skip_bad, problems, rows, start, path)
    return ImportReport(
        path,
        sheet,
        len(received),
        handed,
        already,
        tuple(problems),
        tuple(unread),
        written,
    )


def _before_batch_day(row: _Row, snap: Snapshot, sheet: str, problems: list[RowProblem]) -> bool:
    """Whether the row's 交办日期 falls before the batch day of its complaint's receipt
    (a problem, added to ``problems``)."""
    assert row.handed_over is not None
    day = row.handed_over.date().isoformat()
    batch_day = str(snap.data.get("batch_day", ""))
    if day >= batch_day:
        return False
    problems.append(
        RowProblem(
            sheet,
            row.line,
            FIELDS["handed_over"][0],
            day,
            f"before the batch day {batch_day} its receipt gives it",
        )
    )
    return True


def _check_batches(
    ledger: Ledger,
    rnd: Snapshot,
    hand_over: dict[dt.date, list[_Row]],
    received: dict[str, Snapshot],
    cases: dict[str, Snapshot],
    fresh: list[_Row],
    sheet: str,
) -> list[RowProblem]:
    """Check that the batches the rows name are the ones their hand-over will make: a
    batch holds every case waiting for its day, and batches are numbered in order.

    ``received``: the import's receipts by number; ``cases``: the complaints the rows
    hand over (received now or held, waiting), by number."""
    problems: list[RowProblem] = []
    waiting = [
        (r, received[r.number]) for r in fresh if r.number in received and r.handed_over is None
    ]
    handed = {snap.entity_id for snap in cases.values()}
    stored = [
        s
        for s in ledger.find(kind="complaint", round_id=rnd.entity_id, state="received")
        if s.entity_id not in handed
    ]
    number = int(rnd.data.get("batches", 0))
    for day in sorted(hand_over):
        iso = day.isoformat()
        number += 1
        for row, snap in waiting:
            if str(snap.data.get("batch_day", "")) <= iso:
                problems.append(
                    RowProblem(
                        sheet,
                        row.line,
                        FIELDS["handed_over"][0],
                        "",
                        f"no 交办日期, but its batch day {snap.data.get('batch_day')} falls "
                        f"before the batch of {iso}, which hands over every waiting case",
                    )
                )
        waiting = [(r, s) for r, s in waiting if str(s.data.get("batch_day", "")) > iso]
        for snap in stored:
            if str(snap.data.get("batch_day", "")) <= iso:
                problems.append(
                    RowProblem(
                        sheet,
                        0,
                        "",
                        snap.entity_id,
                        f"the ledger's case {snap.entity_id} waits for the batch of {iso} "
                        "but the file does not hand it over",
                    )
                )
        stored = [s for s in stored if str(s.data.get("batch_day", "")) > iso]
        for row in hand_over[day]:
            if row.batch is not None and row.batch != number:
                problems.append(
                    RowProblem(
                        sheet,
                        row.line,
                        FIELDS["batch"][0],
                        str(row.batch),
                        f"the hand-over of {iso} is batch {number} of the round",
                    )
                )
    return problems
