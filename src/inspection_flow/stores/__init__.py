"""Stores: where a ledger keeps its events and the projection of its entities."""

from ._base import EventStore, VerifyReport
from ._memory import MemoryStore
from ._sql import SQLStore

__all__ = ["EventStore", "MemoryStore", "SQLStore", "VerifyReport"]
