"""The ledger (台账): rounds, complaint cases and rectification tasks, their events and
deadlines, behind a store.

The class is built in rooms, each a module of this package, one on top of the other:
base (store, rulebooks, batches) → deadlines → engine (check, fire, effects, create) →
sweep → the inspection's domain commands (rounds, complaints, tasks) → queries.
"""

from __future__ import annotations

from .queries import _Queries

__all__ = ["Ledger"]


class Ledger(_Queries):
    """The ledger of one or more inspection rounds.

    Args:
        store: where events and snapshots are kept (default: in memory).
        rulebook: the default rulebook, a :class:`Rulebook` or a built-in name; each round
            may name its own.
        calendar: the working-day calendar (default: :class:`ChinaCalendar()`).
        rulebooks: further rulebooks rounds may name.
        areas: extra areas (codes without GB/T 2260 structure, e.g. management zones).
        clock: the present, for :meth:`sweep` without ``now`` (default: the system clock).
    """
