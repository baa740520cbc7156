"""Writing a ledger's tables to Excel (.xlsx, one sheet per kind) or CSV (UTF-8 with a BOM,
so that Excel opens it as UTF-8)."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from .._ledger import Ledger
from ..exceptions import TableError
from ._deps import require
from .tables import KINDS, Lang, Table, build_table, columns_of

__all__ = ["KINDS", "export_table", "table_rows", "write_csv", "write_xlsx"]

#: The number formats of date and instant cells, as Excel in a Chinese locale shows them.
_DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def table_rows(
    ledger: Ledger,
    kind: str,
    *,
    as_of: dt.date,
    lang: Lang = "zh",
    batch: int | None = None,
) -> Table:
    """Return the table ``kind`` of ``ledger`` as it stood at the end of ``as_of``.

    Raises:
        TableError: unknown kind or language, or ``as_of`` not a day.
    """
    columns_of(kind)
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise TableError("-", f"as_of must be a day (datetime.date), not {as_of!r}")
    return build_table(ledger.as_of(as_of), kind, as_of=as_of, lang=lang, batch=batch)


def export_table(
    ledger: Ledger,
    path: str | os.PathLike[str],
    *,
    kind: str | Sequence[str] = "complaints",
    as_of: dt.date,
    lang: Lang = "zh",
    batch: int | None = None,
) -> list[Table]:
    """Write tables of ``ledger`` as they stood at the end of ``as_of`` to ``path``.

    A ``.xlsx`` file holds one sheet per kind; a ``.csv`` file holds one kind.

    Raises:
        TableError: unknown kind, language or file type, several kinds for a CSV file.
        MissingDependencyError: ``.xlsx`` without openpyxl (the ``[office]`` extra).
    """
    kinds = [kind] if isinstance(kind, str) else list(kind)
    target = os.fspath(path)
    suffix = os.path.splitext(target)[1].lower()
    if suffix not in (".xlsx", ".csv"):
        raise TableError(target, "write a table to a .xlsx or .csv file")
    if not kinds:
        raise TableError(target, f"name at least one kind of table: {', '.join(KINDS)}")
    for k in kinds:
        columns_of(k)
    if suffix == ".csv" and len(kinds) > 1:
        raise TableError(target, "a CSV file holds one table; write several to a .xlsx file")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise TableError(target, f"as_of must be a day (datetime.date), not {as_of!r}")
    if suffix == ".xlsx":
        require("openpyxl")  # before the ledger is read: a missing extra costs nothing
    view = ledger.as_of(as_of)
    tables = [build_table(view, k, as_of=as_of, lang=lang, batch=batch) for k in kinds]
    if suffix == ".csv":
        write_csv(tables[0], target)
    else:
        write_xlsx(tables, target)
    return tables


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "datetime" and isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(table: Table, path: str) -> None:
    """Write ``table`` as CSV in UTF-8 with a byte-order mark, dates as ``YYYY-MM-DD``."""
    kinds = [c.type for c in table.columns]
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow([_text(v, k) for v, k in zip(row, kinds, strict=True)])


def write_xlsx(tables: Sequence[Table], path: str) -> None:
    """Write each table to its own sheet: frozen header, column widths, typed cells.

    Days are date cells and instants date-and-time cells (Asia/Shanghai wall time: Excel
    cells hold no time zone).
    """
    openpyxl = require("openpyxl")
    styles = require("openpyxl.styles")
    utils = require("openpyxl.utils")
    book = openpyxl.Workbook()
    book.remove(book.active)
    bold = styles.Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        sheet.append(table.headers)
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append([v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in row])
        for index, column in enumerate(table.columns, start=1):
            letter = utils.get_column_letter(index)
            sheet.column_dimensions[letter].width = column.width
            if column.type in ("date", "datetime"):
                form = _DATE_FORMAT if column.type == "date" else _DATETIME_FORMAT
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = form
        sheet.freeze_panes = "A2"
    book.save(path)
