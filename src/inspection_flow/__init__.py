"""inspection_flow: lifecycles and deadline rules of ecological-environment protection
inspections (生态环境保护督察)."""

import typing as _typing

from ._areas import ROLES, Actor, AreaRegistry
from ._briefing import briefing_docx, briefing_html, briefing_markdown
from ._builtin import (
    ACCOUNTABILITY,
    COMPLAINT,
    DISPATCH,
    DOCUMENT_REQUEST,
    FINDINGS,
    FINDINGS_ZH,
    LIFECYCLES,
    PUBLICATION,
    ROUND,
    TASK,
)
from ._calendar import ChinaCalendar, DayInfo, YearSchedule
from ._definitions import DeadlineBinding, Field, Lifecycle, State, Transition
from ._guards import GuardContext, guard, register_derivation, register_guard
from ._ledger import (
    CATEGORIES,
    CATEGORIES_ZH,
    AlertNotice,
    Batch,
    Briefing,
    BriefingArea,
    BriefingBatch,
    BriefingItem,
    BriefingTask,
    Clock,
    DeadlineView,
    Decision,
    DispatchResult,
    Ledger,
    LedgerView,
    Moved,
    Publication,
    SystemClock,
)
from ._records import Commit, DeadlineRecord, DeadlineStatus, Event, Snapshot
from ._report import status_report
from ._rulebook import BUILTIN_RULEBOOKS, Ladder, Rulebook, load_rulebook, parse_rulebook
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
from .stores import (
    Anchor,
    CountKey,
    EventStore,
    LateEntry,
    LedgerHead,
    MemoryStore,
    Problem,
    RepairReport,
    VerifyReport,
)

if _typing.TYPE_CHECKING:
    from .stores import SQLStore

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
    "Briefing",
    "BriefingArea",
    "BriefingBatch",
    "BriefingItem",
    "BriefingTask",
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
    "DISPATCH",
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
    "DispatchResult",
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
    "PUBLICATION",
    "Pause",
    "PayloadError",
    "PermissionDeniedError",
    "Problem",
    "Publication",
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
    "briefing_docx",
    "briefing_html",
    "briefing_markdown",
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
    # The SQL store (and SQLAlchemy) loads on first use, keeping ``import inspection_flow``
    # quick for calendar and deadline work.
    if name == "SQLStore":
        from .stores import SQLStore

        return SQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
