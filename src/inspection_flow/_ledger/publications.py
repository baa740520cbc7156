"""Publishing case results per batch (信访件办理情况一览表, 第N批), and publishing again the
cases whose 办理状态 changed after their list went out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .._areas import Actor
from .._builtin import handling_status, result_level
from .._checks import check_id
from .._definitions import CREATE, Transition, check_payload
from .._records import Commit, Snapshot
from .._rulebook import DEFAULT_RELAY
from .._rules import SHANGHAI, as_instant
from ..exceptions import GuardError, PayloadError
from .inputs import _check_actor, _id_in_use
from .tasks import _Tasks
from .values import Publication

_PUBLISH_LIST = "publish_list"
#: States in which a published case may be published again (an accepted case is final).
_REPUBLISHABLE = frozenset({"published", "interim_closed", "closed", "under_acceptance"})


def awaits_publication(snap: Snapshot, relay: tuple[str, ...] = DEFAULT_RELAY) -> bool:
    """Whether a complaint's result awaits publication, or publication again.

    A reported result awaits its first publication (or, reported again after re-handling,
    its next) once it has gone up the relay ``relay`` (the rulebook's ``[review]
    levels``) to the team; a published case whose 办理状态 has changed since (阶段性办结 →
    已办结) awaits publication again.  A case published before publications recorded its
    status is taken as published as it stands.
    """
    if snap.kind != "complaint":
        return False
    if snap.state == "reported":
        return result_level(relay, snap.data) == "team"
    if snap.state not in _REPUBLISHABLE or "published_status" not in snap.data:
        return False
    return bool(handling_status(snap.state, snap.data) != snap.data["published_status"])


def _publication(snap: Snapshot) -> Publication:
    data = snap.data
    return Publication(
        snap.entity_id,
        snap.round_id or "",
        int(data["number"]),
        int(data["batch"]),
        dt.date.fromisoformat(data["published_on"]),
        tuple(data["cases"]),
        dict(data["statuses"]),
        tuple(data.get("republished") or ()),
        data.get("where"),
    )


class _Publications(_Tasks):
    """Publishing case results per batch (一览表, 第N批), and republication."""

    def awaiting_publication(self, round_id: str) -> list[Snapshot]:
        """Return the round's cases whose result awaits publication or publication again.

        These are the cases a later list takes in: results reported and not yet
        published, and published cases whose 办理状态 changed since (see
        :meth:`publish_list`).

        Raises:
            EntityNotFoundError: no such round; PayloadError: the id is not a round's.
        """
        check_id(round_id, "round_id", event="awaiting_publication")
        self._round(round_id, None, "listing cases to publish", "awaiting_publication")
        return sorted(
            (
                s
                for s in self.store.find(kind="complaint", round_id=round_id)
                if awaits_publication(s, tuple(self.rulebook_of(s).review_levels))
            ),
            key=lambda s: (s.batch or 0, s.entity_id),
        )

    def publish_list(
        self,
        round_id: str,
        batch: int,
        *,
        actor: Actor,
        at: dt.datetime,
        cases: Sequence[str] | None = None,
        where: str | None = None,
        area: str | None = None,
        publication_id: str | None = None,
        late_entry_reason: str | None = None,
    ) -> Publication:
        """Publish the results of batch ``batch`` as one list (第N批信访件办理情况一览表).

        Records a publication (lifecycle ``publication``) listing each case with its
        办理状态 as published, and marks each case published in it, in one write: a case
        whose result was reported moves to ``published`` (its ``publish_due`` met); a case
        published before whose 办理状态 changed since is published again (``republish``,
        its state unchanged).  Each case records the list it was last published in
        (``published_in``, ``published_in_batch``), its 办理状态 then
        (``published_status``) and how often it was published (``publications``).

        Args:
            round_id: the round.
            batch: the hand-over batch whose results the list publishes (第N批).
            actor, at: who publishes (the liaison or the inspected party) and when.
            cases: the cases to list; by default every case of batch ``batch`` or an
                earlier one that awaits publication or publication again (see
                :meth:`awaiting_publication`), as lists take in earlier batches' cases
                (同时将第一批交办信访件……办理情况予以公开).  Cases of the batch whose result
                is not yet reported are left for a later list.
            where: where it is published (newspaper, website).
            area: the publication's area (default: the round's).
            publication_id: its id (default ``<round>/publication-<n>``, ``n`` its place
                among the round's publications).
            late_entry_reason: as for :meth:`fire`.

        Returns:
            The :class:`Publication` recorded.

        Raises:
            PayloadError: ``batch`` was not handed over, a case named awaits no
                publication, or the id is in use; GuardError: no case awaits
                publication; PermissionDeniedError, ChronologyError: as for
                :meth:`fire`.  Nothing is written then.
        """
        # Long by design: the argument checks, then each case's event and the list's
        # creation, written together.
        check_id(round_id, "round_id", event=_PUBLISH_LIST)
        _check_actor(actor, round_id, _PUBLISH_LIST)
        rnd = self._round(round_id, None, "publishing results", _PUBLISH_LIST)
        handed = int(rnd.data.get("batches", 0))
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= handed:
            raise PayloadError(
                round_id,
                _PUBLISH_LIST,
                "batch",
                f"{batch!r} is not a batch of round {round_id}: {handed} batch(es) have been "
                "handed over; give the number of the batch whose results are published",
            )
        waiting = self.awaiting_publication(round_id)
        if cases is None:
            chosen = [s for s in waiting if s.batch is not None and s.batch <= batch]
        else:
            if not isinstance(cases, (list, tuple)):
                raise PayloadError(round_id, _PUBLISH_LIST, "cases", "must be a list of case ids")
            by_id = {s.entity_id: s for s in waiting}
            chosen = []
            for case_id in dict.fromkeys(cases):
                check_id(case_id, "cases", entity_id=round_id, event=_PUBLISH_LIST)
                found = by_id.get(case_id)
                if found is None:
                    state = self.get(case_id).state
                    raise PayloadError(
                        case_id,
                        _PUBLISH_LIST,
                        "cases",
                        f"{case_id} ({state}) awaits no publication in round {round_id}: "
                        "only a reported result that has gone up to the team, or a published "
                        "case whose 办理状态 changed since, is listed",
                    )
                chosen.append(found)
        if not chosen:
            raise GuardError(
                round_id,
                _PUBLISH_LIST,
                "results_reported",
                f"no result of batch {batch} or before awaits publication; publish once "
                "results are reported and forwarded up to the team (forward_result)",
            )
        number = len(self.store.find(kind="publication", round_id=round_id)) + 1
        pub_id = publication_id or f"{round_id}/publication-{number}"
        check_id(pub_id, "publication_id", entity_id=round_id, event=_PUBLISH_LIST)
        if self._load(pub_id) is not None:
            raise _id_in_use(pub_id)
        on = as_instant(at, "at").astimezone(SHANGHAI).date()
        given: dict[str, Any] = {"publication": pub_id, "list_batch": batch}
        if where is not None:
            given["where"] = where
        commits: list[Commit] = []
        statuses: dict[str, str] = {}
        again: list[str] = []
        for snap in chosen:
            if "publications" in snap.data or "published_in" in snap.data:
                again.append(snap.entity_id)
            event = "publish" if snap.state == "reported" else "republish"
            ev, new = self._transition(snap, event, actor, at, given, None, late_entry_reason)
            statuses[snap.entity_id] = str(new.data.get("published_status", ""))
            commits.append(Commit(new, (ev,), snap.version))
        rb = self.rulebook_of(rnd)
        lc = rb.lifecycle("publication")
        fields: dict[str, Any] = {
            "number": number,
            "batch": batch,
            "published_on": on,
            "cases": list(statuses),
            "statuses": statuses,
        }
        if again:
            fields["republished"] = again
        if where is not None:
            fields["where"] = where
        creation = Transition(CREATE, (lc.initial,), lc.initial, lc.creators, (), lc.fields)
        data = check_payload(pub_id, creation, fields)
        ev, snap = self._create(
            entity_id=pub_id,
            lifecycle=lc,
            rb=rb,
            area=area if area is not None else rnd.area,
            actor=actor,
            at=at,
            round_id=round_id,
            data=data,
            batch=batch,
            late_entry_reason=late_entry_reason,
        )
        self._write([Commit(snap, (ev,), 0), *commits])
        return _publication(snap)

    def publications(self, round_id: str) -> list[Publication]:
        """Return the round's published lists, in the order they were published.

        Raises:
            EntityNotFoundError: no such round; PayloadError: the id is not a round's.
        """
        check_id(round_id, "round_id", event="publications")
        self._round(round_id, None, "listing publications", "publications")
        found = [_publication(s) for s in self.store.find(kind="publication", round_id=round_id)]
        return sorted(found, key=lambda p: (p.number, p.publication_id))
