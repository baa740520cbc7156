"""Command ids: when a repeated command gets the result stored the first time."""

from __future__ import annotations

from collections.abc import Sequence

from .._records import Commit, Event
from ..exceptions import PayloadError, StoreError

__all__ = ["first_result"]


def first_result(commit: Commit, first: Sequence[Event]) -> tuple[Event, ...]:
    """Return ``first``, the events ``commit.command_id`` wrote before, if they answer ``commit``.

    They answer it when they were written to the same entity by the same event and, for
    a commit creating its entity (expected version 0), when they created it.  Anything
    else is another command under the same id: returning its events would tell the
    caller its own command was written.

    Raises:
        PayloadError: the id was used for another entity or event (field ``command_id``).
        StoreError: the store records the id as applied but holds none of its events.
    """
    if not first:
        raise StoreError(
            f"command {commit.command_id!r} is recorded as applied but its events are "
            f"missing; run verify()"
        )
    head, last = first[0], first[-1]
    event = commit.events[-1].name if commit.events else "-"
    if (
        head.entity_id == commit.entity_id
        and last.name == event
        and (commit.expected_version != 0 or head.version == 1)
    ):
        return tuple(first)
    raise PayloadError(
        commit.entity_id,
        event,
        "command_id",
        f"{commit.command_id!r} was already used for '{last.name}' on {head.entity_id}; "
        f"give each command its own id",
    )
