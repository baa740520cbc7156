"""Guards: named preconditions of transitions, in one registry users extend.

A guard is a function of a :class:`GuardContext` that returns ``None`` when the event may
happen, or the reason it may not, in words a clerk can act on.  Lifecycles name their
guards; a name must be registered before a lifecycle naming it is built, so a misspelt
guard is a :class:`DefinitionError` at definition time, never an error at ``fire``.
The built-in guards (谁验收、谁负责, a public notice that has run its course, every task
closed, …) are registered the same way, by the module that defines the built-in
lifecycles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .exceptions import DefinitionError

if TYPE_CHECKING:
    from ._areas import Actor, AreaRegistry
    from ._definitions import Lifecycle
    from ._records import Snapshot
    from ._rulebook import Rulebook

__all__ = [
    "DERIVATIONS",
    "GUARDS",
    "GuardContext",
    "LedgerView",
    "guard",
    "register_derivation",
    "register_guard",
]


class LedgerView(Protocol):
    """What a guard may ask of the ledger: read-only queries."""

    def get(self, entity_id: str) -> Snapshot:
        """Return an entity's snapshot."""

    def find(self, **filters: Any) -> list[Snapshot]:
        """Return entities matching the filters of :meth:`Ledger.find`."""

    @property
    def areas(self) -> AreaRegistry:
        """The areas and their parents, to decide who covers whom."""

    def rulebook_of(self, entity: Snapshot | str) -> Rulebook:
        """Return the rulebook governing an entity (its round's)."""

    def lifecycle_of(self, snapshot: Snapshot) -> Lifecycle:
        """Return the lifecycle definition an entity follows."""


@attrs.frozen
class GuardContext:
    """What a guard sees of a command.

    Attributes:
        ledger: read-only queries of the ledger (``get``, ``find``).
        snapshot: the entity as it stands before the event.
        actor: who fires the event.
        at: when the event happens.
        payload: the event's fields, checked against the transition's field types.
        event: the event's name.
    """

    ledger: LedgerView
    snapshot: Snapshot
    actor: Actor
    at: dt.datetime
    payload: Mapping[str, Any]
    event: str = ""


#: A guard: ``None`` when the event may happen, else the reason it may not.
Guard = Callable[[GuardContext], "str | None"]
#: A derivation: extra data an event records, worked out from its context (may raise
#: ``PayloadError`` for a payload it cannot accept).
Derivation = Callable[[GuardContext], Mapping[str, Any]]

_GUARDS: dict[str, Guard] = {}
_DERIVATIONS: dict[str, Derivation] = {}

#: The registered guards by name (read-only; add with :func:`register_guard`).
GUARDS: Mapping[str, Guard] = MappingProxyType(_GUARDS)
#: The registered derivations by name (read-only; add with :func:`register_derivation`).
DERIVATIONS: Mapping[str, Derivation] = MappingProxyType(_DERIVATIONS)


def _name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise DefinitionError("-", f"{what} {name!r}", "a name must be a Python-style identifier")
    return name


def register_guard(name: str, function: Guard, *, replace: bool = False) -> Guard:
    """Register ``function`` as the guard called ``name``; return it.

    Raises:
        DefinitionError: the name is not an identifier, or is taken and ``replace`` is
            false.
    """
    _name(name, "guard")
    if not callable(function):
        raise DefinitionError("-", f"guard {name!r}", "must be a function of a GuardContext")
    if name in _GUARDS and not replace and _GUARDS[name] is not function:
        raise DefinitionError(
            "-", f"guard {name!r}", "is registered already; pass replace=True to replace it"
        )
    _GUARDS[name] = function
    return function


def guard(name: str, *, replace: bool = False) -> Callable[[Guard], Guard]:
    """Register the decorated function as the guard called ``name``.

    Example::

        @guard("two_reviewers")
        def two_reviewers(ctx: GuardContext) -> str | None:
            ...
    """

    def register(function: Guard) -> Guard:
        return register_guard(name, function, replace=replace)

    return register


def register_derivation(name: str, function: Derivation, *, replace: bool = False) -> Derivation:
    """Register ``function`` as the derivation called ``name``; return it.

    Raises:
        DefinitionError: the name is not an identifier, or is taken and ``replace`` is
            false.
    """
    _name(name, "derivation")
    if name in _DERIVATIONS and not replace and _DERIVATIONS[name] is not function:
        raise DefinitionError(
            "-", f"derivation {name!r}", "is registered already; pass replace=True to replace it"
        )
    _DERIVATIONS[name] = function
    return function
