"""The ledger (台账) and what it hands back; see :mod:`.ledger` for how it is arranged."""

from .briefing import Briefing, BriefingArea, BriefingBatch, BriefingItem, BriefingTask
from .inputs import CATEGORIES, CATEGORIES_ZH
from .ledger import Ledger, LedgerView
from .values import (
    AlertNotice,
    Batch,
    Clock,
    DeadlineView,
    Decision,
    DispatchResult,
    Moved,
    Publication,
    SystemClock,
)

__all__ = [
    "CATEGORIES",
    "CATEGORIES_ZH",
    "AlertNotice",
    "Batch",
    "Briefing",
    "BriefingArea",
    "BriefingBatch",
    "BriefingItem",
    "BriefingTask",
    "Clock",
    "DeadlineView",
    "Decision",
    "DispatchResult",
    "Ledger",
    "LedgerView",
    "Moved",
    "Publication",
    "SystemClock",
]
