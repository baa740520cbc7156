"""Output of the command line: tables for a terminal, JSON for scripts.

Tables are drawn with rich when it is installed (the ``cli`` extra) and the output is a
terminal; otherwise, and always when piped, as plain columns aligned for Chinese text
(a CJK character takes two columns).  rich is optional because the package is first a
library: rich brings pygments and markdown-it-py, several megabytes that a service
embedding the ledger never uses, and plain columns say the same.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import attrs

__all__ = ["print_table", "to_json", "width"]


def width(text: str) -> int:
    """The columns ``text`` takes in a terminal: two for a wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int, right: bool) -> str:
    space = " " * max(0, columns - width(text))
    return space + text if right else text + space


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    out: TextIO,
    *,
    title: str | None = None,
) -> None:
    """Print ``rows`` under ``headers``: with rich on a terminal, else as plain columns.

    Numbers are aligned to the right.
    """
    cells = [[str(c) for c in row] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row[i], (int, float, decimal.Decimal)) for row in rows)
        for i in range(len(headers))
    ]
    if out.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for header, right in zip(headers, numeric, strict=True):
                table.add_column(header, justify="right" if right else "left")
            for row in cells:
                table.add_row(*row)
            Console(file=out).print(table)
            return
    if title:
        out.write(title + "\n")
    widths = [max([width(h), *(width(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [list(headers), *cells]
    for n, row in enumerate(lines):
        out.write(
            "  ".join(
                _pad(c, w, right and n > 0)
                for c, w, right in zip(row, widths, numeric, strict=True)
            ).rstrip()
            + "\n"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(value: Any) -> str:
    """Return ``value`` as indented JSON, Chinese as it is: dates as ISO text, amounts
    (``Decimal``) as exact text, attrs records as objects."""
    return json.dumps(_plain(value), ensure_ascii=False, indent=2)
