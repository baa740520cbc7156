"""Stores: where a ledger keeps its events and the projection of its entities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._audit import Anchor, LateEntry, LedgerHead, Problem, RepairReport, VerifyReport
from ._base import CountKey, EventStore
from ._memory import MemoryStore

if TYPE_CHECKING:
    from ._sql import SQLStore

__all__ = [
    "Anchor",
    "CountKey",
    "EventStore",
    "LateEntry",
    "LedgerHead",
    "MemoryStore",
    "Problem",
    "RepairReport",
    "SQLStore",
    "VerifyReport",
]


def __getattr__(name: str) -> Any:
    # SQLAlchemy takes about half a second to import; only users of the SQL store pay it.
    if name == "SQLStore":
        from ._sql import SQLStore

        return SQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
