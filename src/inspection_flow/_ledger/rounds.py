"""Inspection rounds (督察轮次): creating a round, and what other commands ask of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Literal

from .._areas import Actor
from .._builtin import ROUND
from .._checks import (
    check_id,
    shown,
)
from .._definitions import CREATE
from .._records import (
    Snapshot,
)
from .._rulebook import Rulebook, regime_in_force
from .._rules import as_instant
from ..exceptions import (
    GuardError,
    PayloadError,
    PermissionDeniedError,
)
from .inputs import _check_text
from .sweep import _Sweep

_ROUND_TYPES = ("routine", "look_back", "special")


#: Round states in which complaints are taken (station-in, and late letters after it).
_INTAKE_STATES = frozenset(
    {
        "stationed",
        "station_in_ended",
        "report_approved",
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)


#: Round states of rectification: from the feedback on.
_TASK_STATES = frozenset(
    {
        "feedback_given",
        "plan_submitted",
        "plan_approved",
        "plan_published",
        "rectifying",
    }
)

#: Round states in which tasks are added: from the station-in on, when a problem found
#: may be rectified on the spot (立行立改), to the feedback's tasks and rectification.
_TASK_ADD_STATES = _TASK_STATES | {"stationed", "station_in_ended", "report_approved"}


#: Round states in which the team may request documents: any but the archived round.
_DOCUMENT_STATES = frozenset(s.name for s in ROUND.states if not s.terminal)


class _Rounds(_Sweep):
    """Inspection rounds (督察轮次): creating a round, and what other commands ask of it."""

    def create_round(
        self,
        round_id: str,
        *,
        name: str,
        area: str,
        actor: Actor,
        at: dt.datetime,
        rulebook: Rulebook | str | None = None,
        parent_round: str | None = None,
        round_type: Literal["routine", "look_back", "special"] = "routine",
        command_id: str | None = None,
        late_entry_reason: str | None = None,
    ) -> Snapshot:
        """Create an inspection round (督察轮次) over ``area``, governed by ``rulebook``.

        Under a generic rulebook (``central``, or a ledger whose default it is) the
        regime in force on the round's date ``at`` governs the round and is recorded as
        its rulebook (``central-2019``, ``central-2022``, ``central-2025``); a regime
        named explicitly always wins.
        A look-back (回头看) or special inspection names its ``parent_round``.
        ``late_entry_reason`` is as for :meth:`fire`.

        Raises:
            PayloadError: an argument is of the wrong type, the name is blank, the round
                type unknown; PermissionDeniedError, RulebookError, AnchorError.
        """
        # Long by design: mostly argument checks, one a line.
        check_id(round_id, "round_id", event=CREATE)
        _check_text(round_id, "name", name)
        if round_type not in _ROUND_TYPES:
            raise PayloadError(
                round_id,
                CREATE,
                "round_type",
                f"{shown(round_type)} is not a round type; use one of {', '.join(_ROUND_TYPES)}",
            )
        if rulebook is not None and not isinstance(rulebook, Rulebook):
            check_id(rulebook, "rulebook", entity_id=round_id, event=CREATE)
        if parent_round is not None:
            check_id(parent_round, "parent_round", entity_id=round_id, event=CREATE)
        if isinstance(rulebook, Rulebook):
            self.add_rulebook(rulebook)
            rb = rulebook
        else:
            rb = self._rulebook_named(rulebook) if rulebook else self.rulebook
        if rb.regimes and isinstance(at, dt.datetime) and at.tzinfo is not None:
            # A generic rulebook (``central``): the round's date chooses the regime, which
            # the round then names; a naive ``at`` is refused below, as for any command.
            # as_instant refuses an instant outside the calendar's years before it is used.
            rb = regime_in_force(rb, as_instant(at, "at").date(), self._rulebook_named)
        if parent_round is not None:
            self.get(parent_round)
        elif round_type != "routine":
            raise PayloadError(
                round_id,
                CREATE,
                "parent_round",
                f"a {round_type} round must name the round it follows up",
            )
        data = {"name": name, "rulebook": rb.name, "round_type": round_type, "batches": 0}
        ev, snap = self._create(
            entity_id=round_id,
            lifecycle=rb.lifecycle("round"),
            rb=rb,
            area=area,
            actor=actor,
            at=at,
            parent_id=parent_round,
            data=data,
            command_id=command_id,
            late_entry_reason=late_entry_reason,
        )
        self._round_rulebook[round_id] = rb
        return self._commit_new(ev, snap, command_id)

    def _round(
        self, round_id: str, states: Collection[str] | None, what: str, event: str = CREATE
    ) -> Snapshot:
        rnd = self.get(round_id)
        if rnd.kind != "round":
            raise PayloadError(
                round_id, event, "round_id", f"{round_id} is a {rnd.kind}, not a round"
            )
        if states is not None and rnd.state not in states:
            raise GuardError(
                round_id,
                event,
                "round_state",
                f"{what} is not possible while the round is '{rnd.state}'",
            )
        return rnd

    def _in_round(self, rnd: Snapshot, actor: Actor, entity_id: str) -> None:
        """Refuse an actor whose jurisdiction neither includes nor lies within the round's."""
        if not isinstance(actor, Actor):
            return
        if self._covers(actor, rnd.areas) or any(
            self.areas.covers(a, actor.area) for a in rnd.areas
        ):
            return
        raise PermissionDeniedError(
            entity_id,
            CREATE,
            actor.role,
            actor.area,
            f"{self.areas.name(actor.area)} has no part in the round {rnd.entity_id} over "
            f"{', '.join(self.areas.name(a) for a in rnd.areas)}",
        )
