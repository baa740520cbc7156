"""The ledger's foundation: its store, rulebooks, calendar and areas, reading entities, and
writing inside or outside a batch."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._areas import Actor, AreaRegistry
from .._calendar import ChinaCalendar, YearSchedule
from .._checks import (
    check_id,
)
from .._collector import collector_paused
from .._definitions import Lifecycle
from .._guards import DERIVATIONS, GUARDS, Derivation, Guard
from .._records import (
    Commit,
    DeadlineRecord,
    Event,
    Snapshot,
    release_memos,
    replay,
)
from .._rulebook import Rulebook, load_rulebook
from .._rules import DeadlineRule, as_instant
from ..exceptions import (
    ChronologyError,
    DefinitionError,
    EntityNotFoundError,
    LateEntryError,
    PayloadError,
    RulebookError,
    StoreError,
)
from ..stores import EventStore, MemoryStore
from .inputs import _check_filters
from .values import Clock, SystemClock

if TYPE_CHECKING:
    import sqlalchemy as sa

    # Only a type: the complaints room builds what it caches here.
    from .complaints import _Intake

_L = TypeVar("_L", bound="_Base")


class _Base:
    """The ledger's foundation: its store, rulebooks, calendar and areas, reading entities,
    and writing inside or outside a batch."""

    def __init__(
        self,
        store: EventStore | None = None,
        *,
        rulebook: Rulebook | str = "central",
        calendar: ChinaCalendar | None = None,
        rulebooks: Iterable[Rulebook] = (),
        areas: AreaRegistry | None = None,
        clock: Clock | None = None,
        guards: Mapping[str, Guard] | None = None,
    ) -> None:
        self.store: EventStore = store if store is not None else MemoryStore()
        # The ledger's own guards first (a local variant of a registered one), then every
        # registered guard.
        self._guards: Mapping[str, Guard] = ChainMap(
            _own_guards(guards), cast("dict[str, Guard]", GUARDS)
        )
        self._derivations: Mapping[str, Derivation] = DERIVATIONS
        self.calendar = calendar if calendar is not None else ChinaCalendar()
        # Years supplied to the ledger are kept in its store, so that every process
        # opening it computes on the same calendar.
        supplied = self.store.calendar_years()
        if supplied:
            self.calendar = self.calendar.with_years(supplied)
        self.clock: Clock = clock if clock is not None else SystemClock()
        default = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        self.rulebook = default
        self._rulebooks: dict[str, Rulebook] = {default.name: default}
        for rb in rulebooks:
            self._rulebooks[rb.name] = rb
        self.areas = areas if areas is not None else AreaRegistry()
        for rb in self._rulebooks.values():
            self._register_areas(rb)
        self._round_rulebook: dict[str, Rulebook] = {}
        # Jurisdiction answers, by (actor area, entity area); cleared when areas change.
        self._covers_cache: dict[tuple[str, str], bool] = {}
        # Area codes found to name an area, so each is looked at once per registry state.
        self._known_areas: tuple[int, set[str]] = (self.areas.generation, set())
        self._covers_generation = self.areas.generation
        self._shapes: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        self._lifecycles: dict[tuple[str, str], Lifecycle] = {}
        self._intakes: dict[str, _Intake] = {}
        self._day_iso: dict[dt.date, tuple[str, str]] = {}
        self._rule_dicts: dict[DeadlineRule, Mapping[str, Any]] = {}
        # Deadline records started at one instant under one rule, and the effects of
        # events that share them; the objects are kept with their ids, so an id is never
        # mistaken after reuse.
        self._started: dict[tuple[Any, ...], tuple[Rulebook, ChinaCalendar, DeadlineRecord]] = {}
        self._effects_memo: dict[
            tuple[Any, ...],
            tuple[tuple[DeadlineRecord, ...], dict[str, Any], dict[str, DeadlineRecord]],
        ] = {}
        # Payloads checked lately, for their steps, with their clean forms (by the ids of
        # both; one tuple, replaced whole): fire_many and a hand-over check one payload
        # for many entities.
        self._clean_memo: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}
        self._pending: dict[str, Snapshot] | None = None
        self._pending_commits: list[Commit] = []
        self._pending_commands: dict[str, tuple[Event, ...]] = {}
        # Inside a batch: what the store answered for each entity read (None: no such
        # entity), so that a batch reads an entity, its round or a new id once.
        self._reads: dict[str, Snapshot | None] = {}
        # Inside a batch: command ids the store said were never applied.
        self._unused_commands: set[str] = set()
        # Inside a batch: what the steps of its commands came to for entities alike, kept
        # across its commands (see _Engine._transition).
        self._batch_plans: dict[tuple[Any, ...], Any] | None = None
        # Names this ledger's claims when several workers sweep one store.
        self._worker = f"ledger-{uuid.uuid4().hex[:12]}"

    @classmethod
    def open(
        cls: type[_L],
        target: str | os.PathLike[str] | sa.Engine | sa.Connection,
        *,
        read_only: bool = False,
        store_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> _L:
        """Open a durable ledger: a SQLite file path, a database URL, an Engine or Connection.

        Args:
            target: ``"ledger.db"``, ``"sqlite:///ledger.db"``,
                ``"postgresql+psycopg://user@host/db"``, a SQLAlchemy Engine, or a
                Connection (the ledger then writes inside the caller's transaction).
            read_only: open an existing ledger for reading only: nothing is created or
                written, and every command raises :class:`StoreError`.
            store_options: options of :class:`SQLStore` (``busy_timeout``,
                ``synchronous``, ``read_only``).
            options: options of :class:`Ledger` (``rulebook``, ``calendar``, …).

        Raises:
            StoreError: the database cannot be opened or is not a ledger this release can
                use; an option of the store is unknown or not acceptable; ``read_only``
                and the ledger does not exist.
            MissingDependencyError: the database's driver extra is not installed.
        """
        from ..stores import SQLStore

        if store_options is None:
            store_options = {}
        if not isinstance(store_options, Mapping) or not all(
            isinstance(key, str) for key in store_options
        ):
            raise StoreError(
                f"store_options must be a mapping of option names to values, not {store_options!r}"
            )
        given = dict(store_options)
        if read_only is not False:
            given["read_only"] = read_only
        return cls(SQLStore.open(target, **given), **options)

    def close(self) -> None:
        """Close the store, and let go of what the process-wide memos of writes hold."""
        self.store.close()
        release_memos()

    def __enter__(self: _L) -> _L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def supply_calendar_year(self, schedule: YearSchedule) -> bool:
        """Keep a year's working-day schedule in the ledger and compute with it from now on.

        For a year the data package does not have yet (or a correction of one it has):
        the store keeps it, so every process that opens the ledger uses it.  Deadlines
        already recorded do not move by themselves; :meth:`recompute` moves them and
        records what moved.

        Args:
            schedule: the year, e.g. from :meth:`YearSchedule.from_file`.

        Returns:
            Whether the ledger's calendar changed (``False`` if it kept that same year).

        Raises:
            CalendarDataError: ``schedule`` is not a :class:`YearSchedule`, or the year
                would leave a gap after the calendar's years; nothing is kept.
            StoreError: the store keeps no calendar years or was opened read-only.
        """
        calendar = self.calendar.with_years([schedule])
        changed = self.store.keep_calendar_year(schedule)
        self.calendar = calendar
        return changed

    def _register_areas(self, rb: Rulebook) -> None:
        for code, (name, parent) in rb.areas.items():
            self.areas.register(code, name, parent)
        for alias, code in rb.area_aliases.items():
            self.areas.register_alias(alias, code)

    def add_rulebook(self, rulebook: Rulebook) -> None:
        """Make ``rulebook`` available to rounds that name it (replacing one of that name)."""
        self._rulebooks[rulebook.name] = rulebook
        self._register_areas(rulebook)
        self._round_rulebook = {
            k: v for k, v in self._round_rulebook.items() if v.name != rulebook.name
        }
        if hasattr(self, "_lifecycles"):
            self._lifecycles.clear()
            self._intakes.clear()

    def _rulebook_named(self, name: str) -> Rulebook:
        rb = self._rulebooks.get(name)
        if rb is None:
            rb = load_rulebook(name)
            # A regime of a generic rulebook the ledger holds (``central`` given with
            # lifecycles of the user's own) carries those lifecycles, so that choosing the
            # regime by a round's date never drops them.
            generic = next((g for g in self._rulebooks.values() if name in g.regimes), None)
            if generic is not None:
                extra = [
                    lc for key, lc in generic.lifecycles.items() if rb.lifecycles.get(key) is not lc
                ]
                if extra:
                    rb = rb.with_lifecycles(*extra)
            self.add_rulebook(rb)
        return rb

    def rulebook_of(self, entity: Snapshot | str) -> Rulebook:
        """Return the rulebook governing an entity (its round's)."""
        snap = entity if isinstance(entity, Snapshot) else self.get(entity)
        round_id = snap.entity_id if snap.kind == "round" else snap.round_id
        if round_id is None:
            return self.rulebook
        rb = self._round_rulebook.get(round_id)
        if rb is None:
            rnd = snap if snap.kind == "round" else self.get(round_id)
            name = str(rnd.data.get("rulebook", self.rulebook.name))
            try:
                rb = self._rulebook_named(name)
            except RulebookError as exc:
                raise RulebookError(
                    name,
                    f"round {round_id}",
                    f"the round is governed by rulebook {name!r}, which this ledger does not "
                    f"know; open the ledger with rulebooks=[load_rulebook(path)]",
                ) from exc
            self._round_rulebook[round_id] = rb
        return rb

    def lifecycle_of(self, snapshot: Snapshot) -> Lifecycle:
        """Return the lifecycle definition an entity follows."""
        key = (snapshot.round_id or snapshot.entity_id, snapshot.lifecycle)
        lc = self._lifecycles.get(key)
        if lc is None:
            lc = self.rulebook_of(snapshot).lifecycle(snapshot.lifecycle)
            self._lifecycles[key] = lc
        return lc

    def get(self, entity_id: str) -> Snapshot:
        """Return the entity's current snapshot.

        Raises:
            EntityNotFoundError: no such entity.
            PayloadError: ``entity_id`` is not an identifier (text, see :func:`check_id`).
        """
        snap = self._load(check_id(entity_id, "entity_id", event="get"))
        if snap is None:
            raise EntityNotFoundError(entity_id)
        return snap

    def _load(self, entity_id: str) -> Snapshot | None:
        pending = self._pending
        if pending is None:
            return self.store.get(entity_id)
        snap = pending.get(entity_id)
        if snap is not None:
            return snap
        # Read once per batch: the batch writes only if no entity it read has moved on
        # meanwhile (the store checks each version), and a new id taken meanwhile makes
        # the store refuse the batch.
        reads = self._reads
        if entity_id in reads:
            return reads[entity_id]
        snap = reads[entity_id] = self.store.get(entity_id)
        return snap

    def _read_ahead(self, entity_ids: Iterable[str]) -> None:
        """Inside a batch, read the entities the batch will use with one look-up."""
        if self._pending is None:
            return
        reads = self._reads
        wanted = [i for i in entity_ids if i not in reads and i not in self._pending]
        if wanted:
            found = self.store.get_many(wanted)
            for entity_id in wanted:
                reads[entity_id] = found.get(entity_id)

    def _read_ahead_commands(self, command_ids: Iterable[str]) -> None:
        """Inside a batch, learn with one look-up which of the batch's command ids were
        never applied, so that their commands ask the store nothing more."""
        if self._pending is None:
            return
        wanted = [c for c in command_ids if c.__class__ is str]
        if wanted:
            used = self.store.commands_used(wanted)
            self._unused_commands.update(c for c in wanted if c not in used)

    def _command(self, command_id: str) -> tuple[Event, ...] | None:
        if self._pending is not None:
            done = self._pending_commands.get(command_id)
            if done is not None:
                return done
            if command_id in self._unused_commands:
                # Looked up for the batch; a command another process applies meanwhile
                # is found by the store when the batch is written (the id is unique
                # there), and its first result is returned as for any repeat.
                return None
        return self.store.command(command_id)

    def _write(self, commits: Sequence[Commit]) -> tuple[Event, ...]:
        """Write commits now, or queue them when inside :meth:`batch`; return the events."""
        if self._pending is None:
            if len(commits) == 1:
                return self.store.append(commits[0])
            return tuple(e for stored in self.store.append_batch(commits) for e in stored)
        for c in commits:
            self._pending_commits.append(c)
            self._pending[c.entity_id] = c.snapshot
            if c.command_id is not None:
                self._pending_commands[c.command_id] = c.events
        if len(commits) == 1:
            return commits[0].events
        return tuple(e for c in commits for e in c.events)

    @contextlib.contextmanager
    def batch(self: _L) -> Iterator[_L]:
        """Collect the commands of a block and write them in one transaction at its end.

        Inside the block, :meth:`get`, :meth:`fire` and the creating methods see the
        block's own changes; queries (:meth:`find`, :meth:`overdue`, counts) see only what
        is stored.  If the block raises, nothing of it is written; if the store refuses
        the batch (another writer changed one of its entities), nothing is written and
        :class:`ConcurrencyError` is raised.  Nested blocks join the outer one.
        """
        if self._pending is not None:
            yield self
            return
        self._pending = {}
        self._pending_commits = []
        self._pending_commands = {}
        self._reads = {}
        self._unused_commands = set()
        self._batch_plans = {}
        # The block's commands stay alive until it ends: the collector would walk them over
        # and over for nothing (see _collector).
        with collector_paused():
            try:
                with self.store.holding_reads():
                    yield self
                commits = self._pending_commits
                self._pending = None
                if commits:
                    self.store.append_batch(commits)
            finally:
                # Freed by reference counting before the collector runs again, so that its
                # first collection does not walk the whole block.
                commits = []
                self._pending = None
                self._pending_commits = []
                self._pending_commands = {}
                self._reads = {}
                self._unused_commands = set()
                self._batch_plans = None

    def history(self, entity_id: str) -> list[Event]:
        """Return the entity's events, oldest first (its audit trail)."""
        events = self.store.events(check_id(entity_id, "entity_id", event="history"))
        if not events:
            raise EntityNotFoundError(entity_id)
        return events

    def rebuild(self, entity_id: str) -> Snapshot:
        """Rebuild the entity by folding its events (it equals the stored snapshot)."""
        snap = replay(self.history(entity_id))
        assert snap is not None
        return snap

    def _recorded_at(self) -> dt.datetime:
        """Return the present, by the ledger's clock: when an event is written."""
        return as_instant(self.clock.now(), "the ledger's clock")

    def _late_entry(
        self,
        snap: Snapshot | Rulebook,
        entity_id: str,
        event: str,
        when: dt.datetime,
        recorded: dt.datetime,
        reason: Any,
    ) -> dict[str, str] | None:
        """Return what a back-dated entry records (its reason and the limit), or ``None``.

        Raises:
            LateEntryError: the fact happened further back than the round's rulebook
                allows (``[recording] backdate_limit``) and no reason is given.
            PayloadError: ``reason`` is not text.
        """
        if reason is not None and (reason.__class__ is not str or not reason.strip()):
            raise PayloadError(
                entity_id, event, "late_entry_reason", f"must be text, not {reason!r}"
            )
        if recorded <= when:
            return None
        rb = snap if isinstance(snap, Rulebook) else self.rulebook_of(snap)
        limit = rb.backdate_limit
        if limit is None or recorded <= limit.compute(when, self.calendar).due_at:
            return None
        if reason is None:
            raise LateEntryError(entity_id, event, when, recorded, limit.describe())
        return {"reason": reason, "limit": limit.describe()}

    def _instant(self, at: Any, snap: Snapshot | None, entity_id: str) -> dt.datetime:
        when = as_instant(at, "at")
        # What happened is ordered among the entity's facts only: the ledger's own notes
        # (a sweep's alerts) never stop a clerk entering a fact that happened before them.
        if snap is not None and when < snap.facts_until:
            raise ChronologyError(entity_id, when, snap.facts_until)
        return when

    def find(self, **filters: Any) -> list[Snapshot]:
        """Return entities matching the filters of :meth:`EventStore.find`.

        The filters: ``kind``, ``round_id``, ``state`` (one or several), ``area`` or
        ``areas``, ``batch``, ``category``, ``parent_id``, ``open_only``.  ``area=`` (one
        code) is expanded to every area it covers, so a city's office sees its counties;
        ``areas=`` is passed as given.
        """
        _check_filters(filters)
        if "area" in filters:
            filters["areas"] = self.areas_within(filters.pop("area"))
        return self.store.find(**filters)

    def areas_within(self, area: str) -> list[str]:
        """Return ``area`` and every known area it covers."""
        check_id(area, "area", event="areas_within")
        known = set(self.areas.names()) | {
            a for a in self.store.counts_by_area() if isinstance(a, str)
        }
        known.add(area)
        return sorted(a for a in known if self.areas.covers(area, a))

    def _covers(self, actor: Actor, areas: Iterable[str]) -> bool:
        cache = self._covers_cache
        if self._covers_generation != self.areas.generation:
            cache.clear()
            self._covers_generation = self.areas.generation
        outer = actor.area
        for a in areas:
            key = (outer, a)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = self.areas.covers(outer, a)
            if hit:
                return True
        return False


def _own_guards(guards: Mapping[str, Guard] | None) -> dict[str, Guard]:
    """Check the guards a ledger is given: names of guards, and functions.

    Raises:
        DefinitionError: a name is not an identifier, or a value is not callable.
    """
    if guards is None:
        return {}
    if not isinstance(guards, Mapping):
        raise DefinitionError("-", "guards", "give a mapping of guard names to functions")
    for name, function in guards.items():
        if not isinstance(name, str) or not name.isidentifier() or not callable(function):
            raise DefinitionError(
                "-", f"guard {name!r}", "give a name and a function of a GuardContext"
            )
    return dict(guards)


def _event_keeping_state(
    snap: Snapshot,
    name: str,
    at: dt.datetime,
    actor: Actor,
    payload: Mapping[str, Any],
    effects: Mapping[str, Any],
    recorded_at: dt.datetime | None,
) -> Event:
    """An event the ledger records of its own on ``snap`` (an alert, a recompute, a
    withdrawal): it follows the entity's latest event and leaves its state as it is."""
    return Event.new(
        snap.entity_id,
        snap.version + 1,
        name,
        at,
        actor,
        payload,
        snap.state,
        snap.state,
        effects,
        None,
        snap.last_hash,
        recorded_at,
    )
