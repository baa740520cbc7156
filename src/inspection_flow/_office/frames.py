"""A ledger's tables as DataFrames, for notebooks: pandas, or polars when asked for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .._ledger import Ledger
from ..exceptions import TableError
from ._deps import require
from .export import table_rows
from .tables import Lang, Table

__all__ = ["to_frame"]

_PANDAS_TYPES = {"int": "Int64", "text": "string"}


def to_frame(
    ledger: Ledger,
    kind: str = "complaints",
    *,
    as_of: dt.date,
    lang: Lang = "zh",
    columns: str = "keys",
    engine: str = "pandas",
    batch: int | None = None,
) -> Any:
    """Return the table ``kind`` of ``ledger`` at the end of ``as_of`` as a DataFrame.

    Whole numbers are nullable integers, days and instants are datetime columns (instants
    in Asia/Shanghai), text is text.  Columns are named by field (``columns="keys"``) or
    by header (``"zh"``, ``"en"``); a pandas frame's ``attrs["labels"]`` maps fields to
    their Chinese headers and ``attrs["title"]`` names the table.

    Raises:
        TableError: unknown kind, language, column naming or engine.
        MissingDependencyError: the engine is not installed (``[office]`` brings pandas).
    """
    if columns not in ("keys", "zh", "en"):
        raise TableError("-", f"name columns by keys, zh or en, not {columns!r}")
    if engine not in ("pandas", "polars"):
        raise TableError("-", f"make frames with pandas or polars, not {engine!r}")
    lib = require(engine)
    table = table_rows(ledger, kind, as_of=as_of, lang=lang, batch=batch)
    names = [
        c.key if columns == "keys" else c.zh if columns == "zh" else c.en for c in table.columns
    ]
    if engine == "polars":
        return _polars(lib, table, names)
    return _pandas(lib, table, names)


def _pandas(pd: Any, table: Table, names: list[str]) -> Any:
    data: dict[str, Any] = {}
    for index, (column, name) in enumerate(zip(table.columns, names, strict=True)):
        values = [row[index] for row in table.rows]
        if column.type == "date":
            data[name] = pd.to_datetime(pd.Series(values, dtype="object"))
        elif column.type == "datetime":
            data[name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns, Asia/Shanghai]")
        else:
            data[name] = pd.Series(values, dtype=_PANDAS_TYPES[column.type])
    frame = pd.DataFrame(data)
    frame.attrs["title"] = table.title
    frame.attrs["labels"] = {c.key: c.zh for c in table.columns}
    return frame


def _polars(pl: Any, table: Table, names: list[str]) -> Any:
    types = {
        "int": pl.Int64,
        "text": pl.Utf8,
        "date": pl.Date,
        "datetime": pl.Datetime(time_zone="Asia/Shanghai"),
    }
    schema = {name: types[c.type] for c, name in zip(table.columns, names, strict=True)}
    return pl.DataFrame([list(r) for r in table.rows], schema=schema, orient="row")
