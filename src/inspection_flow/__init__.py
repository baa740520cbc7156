"""inspection_flow: lifecycles and deadline rules of ecological-environment protection
inspections (生态环境保护督察)."""

import importlib as _importlib
import typing as _typing

from ._areas import ROLES, Actor, AreaRegistry
from ._calendar import ChinaCalendar, DayInfo, YearSchedule
from ._rules import (
    SHANGHAI,
    Alert,
    Channel,
    DailyWindow,
    DeadlineRule,
    Due,
    EarlyWarning,
    EscalationStep,
    Extension,
    IntakeRule,
    Pause,
    Unit,
)
from ._wording import Lang, Wording, register_wording, wording
from .exceptions import (
    AnchorError,
    CalendarCoverageError,
    CalendarDataError,
    CalendarError,
    ChronologyError,
    ConcurrencyError,
    DefinitionError,
    EntityNotFoundError,
    GuardError,
    InspectionFlowError,
    InvalidRuleError,
    InvalidTransitionError,
    LateEntryError,
    LifecycleError,
    MissingDependencyError,
    PayloadError,
    PermissionDeniedError,
    RulebookError,
    RuleError,
    StoreError,
    TamperError,
    UnitMismatchError,
    UnknownLanguageError,
    WordingError,
)

if _typing.TYPE_CHECKING:
    from ._builtin import (
        ACCOUNTABILITY,
        COMPLAINT,
        DOCUMENT_REQUEST,
        FINDINGS,
        FINDINGS_ZH,
        LIFECYCLES,
        ROUND,
        TASK,
    )
    from ._definitions import DeadlineBinding, Field, Lifecycle, State, Transition
    from ._guards import GuardContext, guard, register_derivation, register_guard
    from ._ledger import (
        CATEGORIES,
        CATEGORIES_ZH,
        AlertNotice,
        Batch,
        Clock,
        DeadlineView,
        Decision,
        Ledger,
        LedgerView,
        Moved,
        SystemClock,
    )
    from ._records import Commit, DeadlineRecord, DeadlineStatus, Event, Snapshot
    from ._report import status_report
    from ._rulebook import BUILTIN_RULEBOOKS, Ladder, Rulebook, load_rulebook, parse_rulebook
    from .stores import (
        Anchor,
        CountKey,
        EventStore,
        LateEntry,
        LedgerHead,
        MemoryStore,
        Problem,
        RepairReport,
        SQLStore,
        VerifyReport,
    )

#: Where each name loaded on first use lives: the ledger, its records, stores, rulebooks
#: and built-in lifecycles load when first asked for, so that ``import inspection_flow``
#: stays quick for calendar and deadline work (see docs/performance.md).
_LAZY = {
    "ACCOUNTABILITY": "._builtin",
    "COMPLAINT": "._builtin",
    "DOCUMENT_REQUEST": "._builtin",
    "FINDINGS": "._builtin",
    "FINDINGS_ZH": "._builtin",
    "LIFECYCLES": "._builtin",
    "ROUND": "._builtin",
    "TASK": "._builtin",
    "DeadlineBinding": "._definitions",
    "Field": "._definitions",
    "Lifecycle": "._definitions",
    "State": "._definitions",
    "Transition": "._definitions",
    "GuardContext": "._guards",
    "guard": "._guards",
    "register_derivation": "._guards",
    "register_guard": "._guards",
    "CATEGORIES": "._ledger",
    "CATEGORIES_ZH": "._ledger",
    "AlertNotice": "._ledger",
    "Batch": "._ledger",
    "Clock": "._ledger",
    "DeadlineView": "._ledger",
    "Decision": "._ledger",
    "Ledger": "._ledger",
    "LedgerView": "._ledger",
    "Moved": "._ledger",
    "SystemClock": "._ledger",
    "Commit": "._records",
    "DeadlineRecord": "._records",
    "DeadlineStatus": "._records",
    "Event": "._records",
    "Snapshot": "._records",
    "status_report": "._report",
    "BUILTIN_RULEBOOKS": "._rulebook",
    "Ladder": "._rulebook",
    "Rulebook": "._rulebook",
    "load_rulebook": "._rulebook",
    "parse_rulebook": "._rulebook",
    "Anchor": ".stores",
    "CountKey": ".stores",
    "EventStore": ".stores",
    "LateEntry": ".stores",
    "LedgerHead": ".stores",
    "MemoryStore": ".stores",
    "Problem": ".stores",
    "RepairReport": ".stores",
    "VerifyReport": ".stores",
    "SQLStore": ".stores",
}

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - plain sorted order
    "ACCOUNTABILITY",
    "Actor",
    "Alert",
    "AlertNotice",
    "Anchor",
    "AnchorError",
    "AreaRegistry",
    "BUILTIN_RULEBOOKS",
    "Batch",
    "CATEGORIES",
    "CATEGORIES_ZH",
    "COMPLAINT",
    "CalendarCoverageError",
    "CalendarDataError",
    "CalendarError",
    "Channel",
    "ChinaCalendar",
    "ChronologyError",
    "Clock",
    "Commit",
    "ConcurrencyError",
    "CountKey",
    "DOCUMENT_REQUEST",
    "DailyWindow",
    "DayInfo",
    "DeadlineBinding",
    "DeadlineRecord",
    "DeadlineRule",
    "DeadlineStatus",
    "DeadlineView",
    "Decision",
    "DefinitionError",
    "Due",
    "EarlyWarning",
    "EntityNotFoundError",
    "EscalationStep",
    "Event",
    "EventStore",
    "Extension",
    "FINDINGS",
    "FINDINGS_ZH",
    "Field",
    "GuardContext",
    "GuardError",
    "InspectionFlowError",
    "IntakeRule",
    "InvalidRuleError",
    "InvalidTransitionError",
    "LIFECYCLES",
    "Ladder",
    "Lang",
    "LateEntry",
    "LateEntryError",
    "Ledger",
    "LedgerHead",
    "LedgerView",
    "Lifecycle",
    "LifecycleError",
    "MemoryStore",
    "MissingDependencyError",
    "Moved",
    "Pause",
    "PayloadError",
    "PermissionDeniedError",
    "Problem",
    "ROLES",
    "ROUND",
    "RepairReport",
    "RuleError",
    "Rulebook",
    "RulebookError",
    "SHANGHAI",
    "SQLStore",
    "Snapshot",
    "State",
    "StoreError",
    "SystemClock",
    "TASK",
    "TamperError",
    "Transition",
    "Unit",
    "UnitMismatchError",
    "UnknownLanguageError",
    "VerifyReport",
    "Wording",
    "WordingError",
    "YearSchedule",
    "guard",
    "load_rulebook",
    "parse_rulebook",
    "register_derivation",
    "register_guard",
    "register_wording",
    "status_report",
    "wording",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    # The SQL store stays out of the module's namespace: dir() lists it all the same.
    if name != "SQLStore":
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
