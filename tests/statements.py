"""Seeing the statements a store runs, at the driver: those the store runs on the
driver's own cursor are seen as those run through SQLAlchemy are."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa


def trace_statements(engine: sa.Engine, statement: Callable[[Any], None]) -> None:
    """Call ``statement`` with every statement ``engine``'s connections run from now,
    before the driver runs it (SQLite's trace callback, a traced psycopg cursor)."""

    def traced(dbapi_connection: Any, record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(statement)
        else:
            dbapi_connection.cursor_factory = _traced_cursor(statement)

    sa.event.listen(engine, "connect", traced)
    # Every connection from now on is a new one, traced.
    engine.dispose()


def _traced_cursor(statement: Callable[[Any], None]) -> Any:
    """A psycopg cursor class that calls ``statement`` with each statement it runs."""
    import psycopg

    class Traced(psycopg.Cursor[Any]):
        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            statement(query)
            return super().execute(query, *args, **kwargs)

        def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            statement(query)
            return super().executemany(query, *args, **kwargs)

    return Traced
