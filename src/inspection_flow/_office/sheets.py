"""Reading a 台账 file into rows of cells, finding its header row, and writing rejected
rows back out: the file side of an import, apart from what its rows mean."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import RowProblem, TableError
from ._deps import require
from .cells import FIELDS, RECORDED, field_of_header, normalise_header

__all__ = ["check_mapping", "find_header", "read_csv", "read_mapping", "read_xlsx", "write_rejects"]

#: Rows searched for the header row, under titles and notes a sheet may start with.
_HEADER_SEARCH = 10
_REQUIRED = ("number", "area", "category", "summary")


def read_xlsx(path: str, sheet: str | None) -> tuple[str, list[tuple[int, list[Any]]]]:
    openpyxl = require("openpyxl")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file it cannot read
        raise TableError(path, f"cannot read the workbook: {exc}") from exc
    try:
        names = list(book.sheetnames)
        if sheet is None:
            preferred = [n for n in names if n in ("信访件台账", "Complaint cases")]
            sheet = preferred[0] if preferred else names[0]
        elif sheet not in names:
            raise TableError(path, f"no sheet {sheet!r}; the workbook has {', '.join(names)}")
        rows = [
            (number, list(values))
            for number, values in enumerate(book[sheet].iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()
    return sheet, rows


def read_csv(path: str) -> tuple[str, list[tuple[int, list[Any]]]]:
    # Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the system's code page, GB18030
    # on Chinese Windows: try the one, then the other.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with open(path, encoding=encoding, newline="") as f:
                rows = list(csv.reader(f))
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise TableError(path, "the CSV file is neither UTF-8 nor GB18030 text")
    sheet = os.path.splitext(os.path.basename(path))[0]
    return sheet, [(number, list(values)) for number, values in enumerate(rows, start=1)]


def read_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a mapping file: a TOML table ``[columns]`` of local header = field (or the
    standard header it means).

    Raises:
        TableError: unreadable file, or a field no table has.
    """
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    target = os.fspath(path)
    try:
        with open(target, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TableError(target, f"cannot read the mapping file: {exc}") from exc
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise TableError(target, 'the mapping file needs a table [columns] of "header" = "field"')
    return check_mapping(columns, target)


def check_mapping(columns: Mapping[str, Any], where: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for header, target in columns.items():
        field = target if target in FIELDS else field_of_header(target)
        if not isinstance(target, str) or field is None:
            known = ", ".join(f"{k} ({v[0]})" for k, v in FIELDS.items())
            raise TableError(where, f"column {header!r} maps to {target!r}; use one of {known}")
        mapping[normalise_header(header)] = field
    return mapping


def find_header(
    rows: list[tuple[int, list[Any]]], mapping: Mapping[str, str], path: str
) -> tuple[int, dict[str, int], list[str]]:
    """The header row: the first of the top rows naming the acceptance number and at least
    two other fields; returns its index, the column of each field and the columns not
    recorded."""
    for index, (_, values) in enumerate(rows[:_HEADER_SEARCH]):
        fields = [field_of_header(v, mapping) for v in values]
        if "number" in fields and sum(f is not None for f in fields) >= 3:
            columns: dict[str, int] = {}
            unread: list[str] = []
            for col, (value, field) in enumerate(zip(values, fields, strict=True)):
                if field is None or field not in RECORDED:
                    if str(value or "").strip():
                        unread.append(str(value).strip())
                    continue
                if field in columns:
                    raise TableError(
                        path,
                        f"two columns name {FIELDS[field][0]}: {values[columns[field]]!r} and "
                        f"{value!r}; map one of them to another field in a mapping file",
                    )
                columns[field] = col
            missing = [FIELDS[f][0] for f in _REQUIRED if f not in columns]
            if not {"received_at", "received_day", "handed_over"} & set(columns):
                missing.append(FIELDS["received_at"][0])
            if missing:
                raise TableError(
                    path,
                    f"the header row (row {rows[index][0]}) has no column for "
                    f"{', '.join(missing)}; name it in a mapping file (--mapping)",
                )
            return index, columns, unread
    raise TableError(
        path,
        f"no header row in the first {_HEADER_SEARCH} rows names 受理编号 and the other "
        "columns of a 信访件台账; name local headers in a mapping file (--mapping)",
    )


def write_rejects(
    skip_bad: bool | str | os.PathLike[str],
    problems: Sequence[RowProblem],
    rows: list[tuple[int, list[Any]]],
    start: int,
    path: str,
) -> str | None:
    """Write the rejected rows, as they were, each with its reasons, to ``skip_bad``."""
    if isinstance(skip_bad, bool) or not problems:
        return None
    target = os.fspath(skip_bad)
    if os.path.abspath(target) == os.path.abspath(path):
        raise TableError(target, "write the rejected rows to another file than the one imported")
    reasons: dict[int, list[str]] = {}
    for p in problems:
        where = f"{p.column}: " if p.column else ""
        reasons.setdefault(p.row, []).append(f"{where}{p.reason}")
    by_line = dict(rows)
    header = ["行号", *[_shown(v) for v in rows[start][1]], "原因"]
    out = [
        [line, *[_shown(v) for v in by_line.get(line, [])], "；".join(why)]
        for line, why in sorted(reasons.items())
    ]
    if target.lower().endswith(".xlsx"):
        openpyxl = require("openpyxl")
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "未导入"
        sheet.append(header)
        for r in out:
            sheet.append(r)
        sheet.freeze_panes = "A2"
        book.save(target)
    else:
        with open(target, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(out)
    return target


def _shown(value: Any) -> str:
    return "" if value is None else str(value)
