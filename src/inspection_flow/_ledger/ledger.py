"""The ledger (台账): rounds, complaint cases and rectification tasks, their events and
deadlines, behind a store; and a read-only view of it as of a past day.

The class is built in rooms, each a module of this package, one on top of the other:
base (store, rulebooks, batches) → deadlines → engine (check, fire, effects, create) →
sweep → the inspection's domain commands (rounds, complaints, tasks) → queries.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._areas import Actor
from .._calendar import YearSchedule
from .._display import html_table, markdown_table
from .._records import ALERT, Commit, Event, Snapshot, fold
from .._rules import SHANGHAI, as_instant
from ..exceptions import AnchorError, StoreError
from ..stores import Anchor, EventStore, MemoryStore, RepairReport, VerifyReport
from .briefing import LISTED, Briefing, Period, compute_briefing
from .queries import _Queries
from .values import AlertNotice

if TYPE_CHECKING:
    from .._office import ImportReport

__all__ = ["Ledger", "LedgerView"]


class Ledger(_Queries):
    """The ledger of one or more inspection rounds.

    Args:
        store: where events and snapshots are kept (default: in memory).
        rulebook: the default rulebook, a :class:`Rulebook` or a built-in name; each round
            may name its own.
        calendar: the working-day calendar (default: :class:`ChinaCalendar()`).
        rulebooks: further rulebooks rounds may name.
        areas: extra areas (codes without GB/T 2260 structure, e.g. management zones).
        clock: the present, for :meth:`sweep` without ``now`` and for when each event is
            recorded (default: the system clock).

    Raises:
        RulebookError: ``rulebook`` names no built-in rulebook.

    Examples:
        The source case's first complaint, in memory (``Ledger.open`` gives a durable one):

        >>> import datetime as dt
        >>> from inspection_flow import SHANGHAI, Actor, Ledger
        >>> ledger = Ledger(rulebook="hunan-provincial-2023")
        >>> office = Actor("leading_office", "430000")
        >>> team = Actor("inspection_team", "430000")
        >>> _ = ledger.create_round(
        ...     "HN-2023-R2-YY", name="湖南省第二轮省级督察 益阳", area="430900",
        ...     actor=office, at=dt.datetime(2023, 6, 1, 9, tzinfo=SHANGHAI))
        >>> _ = ledger.fire("HN-2023-R2-YY", "announce", actor=office,
        ...                 at=dt.datetime(2023, 6, 20, 9, tzinfo=SHANGHAI))
        >>> _ = ledger.fire("HN-2023-R2-YY", "station_in", actor=team,
        ...                 at=dt.datetime(2023, 6, 26, 9, tzinfo=SHANGHAI))
        >>> case = ledger.receive_complaint(
        ...     "HN-2023-R2-YY", channel="phone", area="430903", category="noise",
        ...     summary="夜间施工噪声扰民", actor=team,
        ...     received_at=dt.datetime(2023, 6, 27, 19, 59, tzinfo=SHANGHAI))
        >>> case.state, case.data["batch_day"]     # the hotline's day ends at 20:00
        ('received', '2023-06-28')
    """

    def as_of(self, when: dt.date | dt.datetime) -> LedgerView:
        """Return the ledger as it stood when ``when`` ended: a read-only view.

        The view folds only the events that happened by then (``at``, not when they
        were recorded), so a briefing for a past day counts what was true that day,
        and a paper record entered the next morning counts on the day it happened.  A
        sweep records the alerts it finds in one event dated by the latest of them; each
        alert counts from its own instant, so one that fell due by then counts as
        recorded although its event is dated later (the event is not in the view's
        history).  When nothing in the store happened after the cutoff
        (:meth:`EventStore.latest_at`), the view reads the ledger's own projection, as
        quick as the ledger; otherwise it reads the store's events once (one pass,
        :meth:`EventStore.histories`) and keeps the result in memory, which costs in
        proportion to the events read.

        Args:
            when: a day (meaning its end, 24:00 Asia/Shanghai), or an aware instant.

        Returns:
            A :class:`LedgerView` with the ledger's read API (``get``, ``find``,
            ``counts``, ``tally``, ``rates``, ``overdue``, ``deadlines``, ``history``…);
            its clock stands at the cutoff.

        Raises:
            AnchorError: ``when`` is neither a day nor an aware datetime.
        """
        cutoff = _cutoff(when)
        latest = self.store.latest_at()
        if latest is not None and latest <= cutoff:
            # Every event is in the view: its fold is the stored projection.
            return LedgerView(self, self.store, cutoff)
        return self._replayed(cutoff)

    def _replayed(self, cutoff: dt.datetime) -> LedgerView:
        """The view as of ``cutoff``, folded from the events that happened by then."""
        store = MemoryStore()
        for events in self.store.histories():
            snapshot: Snapshot | None = None
            kept: list[Event] = []
            for event in events:
                if event.at <= cutoff:
                    snapshot = fold(snapshot, event, chained=False)
                    kept.append(event)
                elif event.name == ALERT and snapshot is not None:
                    snapshot = _alerts_due_by(snapshot, event, cutoff)
            if snapshot is not None:
                store.append(Commit(snapshot, tuple(kept), 0))
        return LedgerView(self, store, cutoff)

    def briefing(
        self,
        as_of: dt.date,
        *,
        period: Period = "day",
        number: int | None = None,
        round_id: str | None = None,
        listed: int | None = LISTED,
    ) -> Briefing:
        """Count the figures of a numbered briefing (工作简报 第N期) for a day or a week.

        Everything is counted from the ledger as it stood at the end of ``as_of``
        (:meth:`as_of`): complaints received (受理) in the period and in all, hand-over
        batches (交办批次), cases concluded (办结) and interim-closed (阶段性办结), findings
        and the 属实率, the outcomes of 边督边改 where cases recorded them, a row per area,
        counts by category, overdue and escalated items with the explanation of their
        deadlines, and the round's tasks by 序时进度.  Render it with
        :func:`briefing_markdown`, :func:`briefing_html` or :func:`briefing_docx`.

        Args:
            as_of: the briefing's day: the last day of its period.
            period: ``"day"``, or ``"week"`` (the seven days ending on ``as_of``).
            number: the briefing's number (第N期); by default the days (or weeks,
                rounded up) since the team stationed in, so the day after the
                station-in is 第1期 as in the source case.
            round_id: the round (default: the only round the ledger holds).
            listed: how many overdue items, and how many escalated ones, are listed with
                their explanations, most overdue first (default 50); the others are
                counted (:attr:`Briefing.overdue_total`, :attr:`Briefing.escalated_total`)
                and the full list is an export (``Ledger.export(path, kind="overdue", ...)``).
                ``None`` lists them all.

        Raises:
            PayloadError: a bad ``as_of``, ``period``, ``number`` or ``listed``, or no
                ``round_id`` while the ledger holds several rounds.
            EntityNotFoundError: ``round_id`` names no round of the ledger.

        Cost: one :meth:`as_of` (a report as of a day at or after the latest event reads
        the store as it is; an earlier day reads every event once), the store's counts of
        the round's complaints, the round's tasks, and the items listed.
        """
        return compute_briefing(
            self, as_of, period=period, number=number, round_id=round_id, listed=listed
        )

    # -- office documents (the [office] extra; see docs/office.md) --------------------------

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str | Sequence[str] = "complaints",
        as_of: dt.date,
        lang: Literal["zh", "en"] = "zh",
        batch: int | None = None,
    ) -> None:
        """Write the ledger's tables as they stood at the end of ``as_of`` to a file.

        Args:
            path: a ``.xlsx`` workbook (one sheet per kind: frozen header, column widths,
                date cells) or a ``.csv`` file (one kind, UTF-8 with a BOM).
            kind: ``complaints`` (信访件台账), ``tasks`` (整改台账), ``overdue``,
                ``escalations``, ``disclosure`` (信访件办理情况一览表), or several.
            as_of: the day whose end the tables are drawn at.
            lang: ``zh`` (Chinese headers and labels) or ``en``.
            batch: for ``disclosure``, the batch to list (default: every batch).

        Raises:
            TableError: unknown kind, language or file type.
            MissingDependencyError: a ``.xlsx`` file without ``inspection-flow[office]``.
        """
        # The office layer stands above the ledger; it is loaded only when asked for.
        from .._office import export_table

        export_table(self, path, kind=kind, as_of=as_of, lang=lang, batch=batch)

    def import_table(
        self,
        path: str | os.PathLike[str],
        *,
        round_id: str | None = None,
        actor: Actor | None = None,
        sheet: str | None = None,
        mapping: Mapping[str, str] | str | os.PathLike[str] | None = None,
        channel: str = "phone",
        skip_bad: bool | str | os.PathLike[str] = False,
    ) -> ImportReport:
        """Import a hand-kept 信访件台账 (``.xlsx`` or ``.csv``): each row's receipt,
        and its hand-over where it gives a 交办日期; re-importing adds nothing but the
        hand-overs of held cases still waiting whose 交办日期 the file now gives.

        Every row is checked before anything is written; while a row is bad nothing is
        imported unless ``skip_bad`` is set (a path writes the rejected rows there).
        docs/office.md lists the headers, date forms and mapping files read.

        Raises:
            TableImportError: bad rows, each with sheet, row number, column and reason.
            TableError: the file cannot be read, or has no header row.
            MissingDependencyError: a ``.xlsx`` file without ``inspection-flow[office]``.
        """
        from .._office import import_table

        return import_table(
            self,
            path,
            round_id=round_id,
            actor=actor,
            sheet=sheet,
            mapping=mapping,
            channel=channel,
            skip_bad=skip_bad,
        )

    def to_frame(
        self,
        kind: str = "complaints",
        *,
        as_of: dt.date,
        lang: Literal["zh", "en"] = "zh",
        columns: str = "keys",
        engine: str = "pandas",
        batch: int | None = None,
    ) -> Any:
        """Return a table of the ledger as it stood at the end of ``as_of`` as a
        DataFrame with typed columns (whole numbers, days, instants, text).

        Args:
            kind: as for :meth:`export`.
            lang: the language of the labels in the cells (states, areas, categories).
            columns: name the columns by field (``keys``) or by header (``zh``, ``en``);
                ``frame.attrs["labels"]`` maps each field to its Chinese header (pandas).
            engine: ``pandas`` or ``polars``.

        Raises:
            TableError: unknown kind, language, column naming or engine.
            MissingDependencyError: the engine is not installed.
        """
        from .._office import to_frame

        return to_frame(
            self, kind, as_of=as_of, lang=lang, columns=columns, engine=engine, batch=batch
        )

    # -- display --------------------------------------------------------------------------

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        # The store's head is one small read: a repr never counts a large ledger's rows.
        head = self.store.head()
        store = self.store
        shown = repr(store) if type(store).__repr__ is not object.__repr__ else type(store).__name__
        rows = [("store", shown), ("rulebook", self.rulebook.name)]
        if head is not None:
            rows += [("entities", str(head.entities)), ("events", str(head.events))]
        cutoff = getattr(self, "cutoff", None)
        if cutoff is not None:
            rows.append(("as of", cutoff.isoformat()))
        return type(self).__name__, rows

    def __repr__(self) -> str:
        name, rows = self._summary()
        return f"<{name} " + ", ".join(f"{k}={v}" for k, v in rows) + ">"

    def _repr_html_(self) -> str:
        name, rows = self._summary()
        return html_table(name, ("", ""), rows)

    def _repr_markdown_(self) -> str:
        name, rows = self._summary()
        return markdown_table(name, ("", ""), rows)


def _alerts_due_by(snapshot: Snapshot, event: Event, cutoff: dt.datetime) -> Snapshot:
    """Return ``snapshot`` with the alerts of a later-dated sweep event that fell due by
    ``cutoff`` counted as fired."""
    due = [
        (deadline, name)
        for key in ("alerts", "superseded")
        for deadline, _, name, instant in event.payload.get(key, ())
        if dt.datetime.fromisoformat(instant) <= cutoff
    ]
    if not due:
        return snapshot
    deadlines = dict(snapshot.deadlines)
    for deadline, name in due:
        record = deadlines.get(deadline)
        if record is not None and name not in record.fired:
            deadlines[deadline] = attrs.evolve(record, fired=(*record.fired, name))
    return attrs.evolve(snapshot, deadlines=deadlines)


def _cutoff(when: Any) -> dt.datetime:
    if isinstance(when, dt.datetime):
        return as_instant(when, "as_of")
    if isinstance(when, dt.date):
        return dt.datetime.combine(when, dt.time.max, SHANGHAI)
    raise AnchorError(when, "as_of takes a day (datetime.date) or an aware datetime")


class _Stopped:
    """A clock standing at one instant."""

    def __init__(self, instant: dt.datetime) -> None:
        self.instant = instant

    def now(self) -> dt.datetime:
        """Return the instant it stands at."""
        return self.instant


class LedgerView(Ledger):
    """A ledger as it stood at a past instant (see :meth:`Ledger.as_of`): reading only.

    Every command (``fire``, the creating commands, ``sweep``, ``recompute``) is refused
    with :class:`StoreError` and changes nothing; ``verify`` and ``anchor`` audit the
    ledger itself, as it is stored.

    Attributes:
        cutoff: the instant the view stands at; events that happened later are left out.
        ledger: the ledger it is a view of.
    """

    def __init__(self, ledger: Ledger, store: EventStore, cutoff: dt.datetime) -> None:
        super().__init__(
            store,
            rulebook=ledger.rulebook,
            calendar=ledger.calendar,
            rulebooks=ledger._rulebooks.values(),
            areas=ledger.areas,
            clock=_Stopped(cutoff),
        )
        self._guards = ledger._guards
        self.cutoff = cutoff
        self.ledger = ledger

    def _refuse(self) -> StoreError:
        return StoreError(
            f"this is the ledger as of {self.cutoff.isoformat()}, for reading only; "
            "enter commands in the ledger itself"
        )

    def _write(self, commits: Sequence[Commit]) -> tuple[Event, ...]:
        raise self._refuse()

    def _commit_new(
        self, ev: Event, snap: Snapshot, command_id: str | None, *, generated: bool = False
    ) -> Snapshot:
        raise self._refuse()

    def sweep(self, now: dt.datetime | None = None, *, limit: int = 500) -> list[AlertNotice]:
        """Refuse: a view records no alerts (a view of the whole ledger reads its store,
        where claiming alerts would hold them back from the ledger's own sweepers).

        Raises:
            StoreError: always.
        """
        raise self._refuse()

    def supply_calendar_year(self, schedule: YearSchedule) -> bool:
        """Refuse: a view keeps no calendar year (keep it in the ledger itself).

        Raises:
            StoreError: always.
        """
        raise self._refuse()

    def verify(self, *, deep: bool = False, anchor: Anchor | str | None = None) -> VerifyReport:
        """Audit the ledger itself, as stored (see :meth:`Ledger.verify`)."""
        return self.ledger.verify(deep=deep, anchor=anchor)

    def anchor(self) -> Anchor:
        """Return the anchor of the ledger itself, as stored (see :meth:`Ledger.anchor`)."""
        return self.ledger.anchor()

    def repair(self) -> RepairReport:
        """Refuse: a view mends nothing (repair the ledger itself).

        Raises:
            StoreError: always.
        """
        raise self._refuse()
