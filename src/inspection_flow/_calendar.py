"""China's official working-day calendar (State Council 放假调休 notices).

It is long because the calendar's questions share tables built once from the official
schedules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import attrs

from .exceptions import AnchorError, CalendarCoverageError, CalendarDataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["ChinaCalendar", "DayInfo", "YearSchedule"]

_date = dt.date
_datetime = dt.datetime

# How far a calendar opened with unpublished="weekends" reaches past the published years.
# Generous on purpose: rectification tasks run for years, long-term ones for a decade.
_PROVISIONAL_SPAN = 30

#: Chinese names of the holidays chinesecalendar names in English.
_HOLIDAY_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

DayKind = Literal[
    "weekday", "weekend", "holiday", "makeup", "local_rest", "local_work", "provisional"
]


def _as_day(value: object) -> dt.date:
    """Return ``value`` as a plain date, refusing datetimes and other types."""
    if isinstance(value, _datetime):
        raise AnchorError(
            value,
            "a datetime is not a day; convert it to Asia/Shanghai and pass .date(), "
            "or give the instant to DeadlineRule.compute",
        )
    if isinstance(value, _date):
        return _date(value.year, value.month, value.day)
    raise AnchorError(value, f"expected a datetime.date, got {type(value).__name__}")


def _named_days(
    value: Mapping[dt.date, str] | Iterable[dt.date], default_name: str
) -> dict[dt.date, str]:
    if isinstance(value, Mapping):
        return {_as_day(d): str(n) for d, n in value.items()}
    return {_as_day(d): default_name for d in value}


@attrs.frozen(init=False)
class YearSchedule:
    """One year's official schedule: statutory rest days and make-up workdays (调休).

    Args:
        year: the calendar year.
        rest_days: the rest days of the notice (weekend days inside a holiday may be
            listed or not), as dates or as a mapping of date to holiday name.
        makeup_workdays: weekend days that are working days (调休上班), as dates or a
            mapping of date to the holiday they make up for.
        source: where the schedule comes from, e.g. the notice's number and date.

    Raises:
        CalendarDataError: a day is outside the year, a make-up workday is not a
            weekend, or a day is both a rest day and a workday.
    """

    year: int
    rest_days: Mapping[dt.date, str]
    makeup_workdays: Mapping[dt.date, str]
    source: str

    def __init__(
        self,
        year: int,
        rest_days: Mapping[dt.date, str] | Iterable[dt.date] = (),
        makeup_workdays: Mapping[dt.date, str] | Iterable[dt.date] = (),
        source: str = "",
    ) -> None:
        if not isinstance(year, int) or not 1900 <= year <= 2200:
            raise CalendarDataError(int(year) if isinstance(year, int) else 0, "bad year")
        rest = _named_days(rest_days, "rest day")
        work = _named_days(makeup_workdays, "make-up workday")
        for d in (*rest, *work):
            if d.year != year:
                raise CalendarDataError(year, "day lies outside the year", d)
        for d in work:
            if d.weekday() < 5:
                raise CalendarDataError(
                    year, "a make-up workday must fall on a Saturday or Sunday", d
                )
        both = sorted(set(rest) & set(work))
        if both:
            raise CalendarDataError(year, "listed both as rest day and as workday", both[0])
        if not source:
            raise CalendarDataError(year, "name the source of the schedule (the notice)")
        self.__attrs_init__(year, dict(sorted(rest.items())), dict(sorted(work.items())), source)

    def fingerprint(self) -> str:
        """Return a canonical text of the schedule, used to version calendars."""
        rest = ",".join(d.isoformat() for d in self.rest_days)
        work = ",".join(d.isoformat() for d in self.makeup_workdays)
        return f"{self.year}|R:{rest}|W:{work}"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> tuple[YearSchedule, ...]:
        """Read the year schedules of a TOML year file, in order of year.

        The file holds one table per year (see docs/calendar.md)::

            [year.2027]
            source = "国务院办公厅关于2027年部分节假日安排的通知 (国办发明电〔2026〕N号), https://..."
            holidays = [2027-01-01, { from = 2027-02-06, to = 2027-02-12, name = "春节" }]
            workdays = [{ date = 2027-02-14, name = "春节" }]

        A day is a TOML date, a ``"YYYY-MM-DD"`` text, ``{ date = …, name = … }`` or a
        range ``{ from = …, to = …, name = … }`` (both ends included).

        Raises:
            CalendarDataError: the file cannot be read, is not TOML, or a year in it is
                inconsistent; the error names the file and the key at fault.
        """
        return _read_year_file(path)

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as plain data (ISO dates), for storing it."""
        return {
            "year": self.year,
            "holidays": {d.isoformat(): n for d, n in self.rest_days.items()},
            "workdays": {d.isoformat(): n for d, n in self.makeup_workdays.items()},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> YearSchedule:
        """Rebuild a schedule from :meth:`to_dict`'s data.

        Raises:
            CalendarDataError: the data is not a consistent schedule.
        """
        try:
            return cls(
                int(data["year"]),
                {_date.fromisoformat(d): str(n) for d, n in data["holidays"].items()},
                {_date.fromisoformat(d): str(n) for d, n in data["workdays"].items()},
                str(data["source"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, CalendarDataError):
                raise
            raise CalendarDataError(0, f"not a stored year schedule: {exc}") from exc


_YEAR_KEYS = ("holidays", "workdays", "source")


def _file_days(value: object, year: int, file: str, key: str) -> dict[dt.date, tuple[str, str]]:
    """Return the days a list of a year file names: day -> (name, the key naming it)."""

    def refuse(problem: str, at: str = key) -> CalendarDataError:
        return CalendarDataError(year, problem, file=file, key=at)

    def day_of(item: object, at: str) -> dt.date:
        if isinstance(item, _datetime):
            raise refuse("give a day (YYYY-MM-DD), not a time", at)
        if isinstance(item, _date):
            return item
        if isinstance(item, str):
            try:
                return _date.fromisoformat(item.strip())
            except ValueError:
                raise refuse(f"{item!r} is not a day YYYY-MM-DD", at) from None
        raise refuse(f"{item!r} is not a day YYYY-MM-DD", at)

    if not isinstance(value, list):
        raise refuse("give a list of days, e.g. [2027-01-01, 2027-02-06]")
    found: dict[dt.date, tuple[str, str]] = {}
    for i, item in enumerate(value):
        at = f"{key}[{i}]"
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"date", "from", "to", "name"})
            if unknown:
                raise refuse(f"unknown key {unknown[0]!r}; use date, or from and to, and name", at)
            name = item.get("name", "")
            if not isinstance(name, str):
                raise refuse("name must be text, e.g. 春节", at)
            if "date" in item and not ({"from", "to"} & set(item)):
                days = [day_of(item["date"], f"{at}.date")]
            elif {"from", "to"} <= set(item) and "date" not in item:
                first = day_of(item["from"], f"{at}.from")
                last = day_of(item["to"], f"{at}.to")
                if last < first:
                    raise refuse(f"the range ends ({last}) before it starts ({first})", at)
                days = [
                    _date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)
                ]
            else:
                raise refuse("give either date, or from and to", at)
        else:
            name = ""
            days = [day_of(item, at)]
        for d in days:
            if d in found:
                raise refuse(f"{d.isoformat()} is listed twice (also at {found[d][1]})", at)
            found[d] = (name, at)
    return found


def _read_year_file(path: str | os.PathLike[str]) -> tuple[YearSchedule, ...]:
    file = os.fspath(path)
    try:
        with open(file, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise CalendarDataError(0, f"cannot read the file: {exc.strerror}", file=file) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalendarDataError(0, f"not valid TOML: {exc}", file=file) from exc
    years = data.get("year")
    unknown = sorted(set(data) - {"year"})
    if unknown:
        raise CalendarDataError(
            0,
            f"unknown table {unknown[0]!r}; a year file holds [year.YYYY] tables",
            file=file,
            key=unknown[0],
        )
    if not isinstance(years, dict) or not years:
        raise CalendarDataError(
            0,
            "no year in the file; write a [year.2027] table with holidays, workdays, source",
            file=file,
        )
    out = []
    for label, table in years.items():
        key = f"year.{label}"
        if not (label.isdigit() and len(label) == 4):
            raise CalendarDataError(0, f"{label!r} is not a year, e.g. 2027", file=file, key=key)
        year = int(label)
        if not isinstance(table, dict):
            raise CalendarDataError(
                year, "give a table of holidays, workdays and source", file=file, key=key
            )
        for name in table:
            if name not in _YEAR_KEYS:
                raise CalendarDataError(
                    year,
                    f"unknown key {name!r}; a year holds holidays, workdays and source",
                    file=file,
                    key=f"{key}.{name}",
                )
        source = table.get("source", "")
        if not isinstance(source, str) or not source.strip():
            raise CalendarDataError(
                year,
                "name the source: the State Council notice's title, number and web address",
                file=file,
                key=f"{key}.source",
            )
        rest = _file_days(table.get("holidays", []), year, file, f"{key}.holidays")
        work = _file_days(table.get("workdays", []), year, file, f"{key}.workdays")
        where = {d: k for d, (_, k) in (*rest.items(), *work.items())}
        try:
            out.append(
                YearSchedule(
                    year,
                    {d: n or "rest day" for d, (n, _) in rest.items()},
                    {d: n or "make-up workday" for d, (n, _) in work.items()},
                    source.strip(),
                )
            )
        except CalendarDataError as exc:
            at = where.get(exc.day) if exc.day is not None else None
            if exc.day is not None and exc.day in rest and exc.day in work:
                at = f"{rest[exc.day][1]} and {work[exc.day][1]}"
            raise CalendarDataError(
                exc.year, exc.problem, exc.day, file=file, key=at or key
            ) from None
    return tuple(sorted(out, key=lambda s: s.year))


@attrs.frozen
class DayInfo:
    """What a calendar knows of one day, for explanations."""

    day: dt.date
    is_workday: bool
    kind: DayKind
    name_zh: str
    name_en: str


#: Make-up workdays the data source misses, each checked against its notice:
#: day -> (the holiday it makes up for, the notice).
_MISSED_MAKEUP_WORKDAYS = {
    # "12月31日（星期六）上班"; chinesecalendar (1.11 at least) keeps it a weekend.
    _date(2005, 12, 31): ("New Year's Day", "国办发明电〔2005〕35号"),
}


def _provider_schedules() -> tuple[dict[int, YearSchedule], str]:
    import chinese_calendar as cc

    # importlib.metadata scans sys.path (~0.1 s) and costs ~30 ms to import; the module's
    # own attribute is instant, so metadata is asked only when it is missing.
    version = str(getattr(cc, "__version__", "") or "")
    if not version:
        from importlib import metadata

        version = metadata.version("chinesecalendar")
    rest: dict[int, dict[dt.date, str]] = {}
    work: dict[int, dict[dt.date, str]] = {}
    for d, name in cc.holidays.items():
        rest.setdefault(d.year, {})[d] = str(name)
    for d, name in cc.workdays.items():
        if d.weekday() >= 5:
            work.setdefault(d.year, {})[d] = str(name)
    years = range(min(rest), max(rest) + 1)
    source = f"chinesecalendar {version} (State Council 放假调休 notices)"
    sources = dict.fromkeys(years, source)
    for d, (name, notice) in _MISSED_MAKEUP_WORKDAYS.items():
        rest.get(d.year, {}).pop(d, None)
        work.setdefault(d.year, {})[d] = name
        sources[d.year] += f"; {d.isoformat()} worked per {notice}"
    return (
        {y: YearSchedule(y, rest.get(y, {}), work.get(y, {}), sources[y]) for y in years},
        version,
    )


_PROVIDER: tuple[dict[int, YearSchedule], str] | None = None


def _provider() -> tuple[dict[int, YearSchedule], str]:
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = _provider_schedules()
    return _PROVIDER


class ChinaCalendar:
    """China's official working-day calendar.

    Holds every published State Council schedule of rest days and make-up workdays,
    indexed once so that each question is answered by a couple of list look-ups.

    Args:
        extra: schedules of years the data source does not have yet (or corrections of
            years it has), e.g. a notice published after the last release.
        unpublished: ``"error"`` (the default) refuses dates in years without a
            published schedule; ``"weekends"`` treats such years as weekends-only and
            marks everything computed over them provisional.

    Raises:
        CalendarDataError: the extra schedules leave a gap between covered years.

    Examples:
        Sunday 2023-06-25 was a make-up workday after the Dragon Boat Festival:

        >>> import datetime as dt
        >>> from inspection_flow import ChinaCalendar
        >>> calendar = ChinaCalendar()
        >>> calendar.is_workday(dt.date(2023, 6, 25))
        True
        >>> calendar.add_workdays(dt.date(2023, 6, 21), 3)
        datetime.date(2023, 6, 27)
        >>> calendar.add_workdays(dt.date(2021, 7, 16), 30)
        datetime.date(2021, 8, 27)
    """

    __slots__ = (
        "_base",
        "_cum",
        "_first_year",
        "_info",
        "_isw",
        "_last_year",
        "_local_name",
        "_pub_hi",
        "_pub_lo",
        "_schedules",
        "_unpublished",
        "_version",
        "_work",
    )

    def __init__(
        self,
        extra: Iterable[YearSchedule] = (),
        *,
        unpublished: Literal["error", "weekends"] = "error",
    ) -> None:
        if unpublished not in ("error", "weekends"):
            raise CalendarDataError(
                0, f"unpublished must be 'error' or 'weekends', not {unpublished!r}"
            )
        provided, provider_version = _provider()
        schedules = dict(provided)
        for sched in extra:
            if not isinstance(sched, YearSchedule):
                raise CalendarDataError(0, f"extra must hold YearSchedule objects, not {sched!r}")
            schedules[sched.year] = sched
        _check_contiguous(schedules)
        self._setup(
            schedules,
            unpublished,
            f"chinesecalendar=={provider_version}",
            local_name=None,
            local_rest={},
            local_work={},
        )

    @classmethod
    def from_files(
        cls,
        *paths: str | os.PathLike[str],
        unpublished: Literal["error", "weekends"] = "error",
    ) -> ChinaCalendar:
        """Return the official calendar with the years of TOML year files added.

        Each file holds one or more ``[year.YYYY]`` tables (see
        :meth:`YearSchedule.from_file`); a year given twice, in one file or in two, is
        refused, since which of the two is right is a clerk's decision.

        Args:
            paths: year files.
            unpublished: as for :class:`ChinaCalendar`.

        Raises:
            CalendarDataError: a file cannot be read or is inconsistent (the error names
                the file and key), a year is given twice, or the years leave a gap.
        """
        found: dict[int, tuple[YearSchedule, str]] = {}
        for path in paths:
            for sched in YearSchedule.from_file(path):
                if sched.year in found:
                    raise CalendarDataError(
                        sched.year,
                        f"the year is given twice (also in {found[sched.year][1]}); keep one",
                        file=os.fspath(path),
                        key=f"year.{sched.year}",
                    )
                found[sched.year] = (sched, os.fspath(path))
        return cls(extra=[s for s, _ in found.values()], unpublished=unpublished)

    def with_years(self, schedules: Iterable[YearSchedule]) -> ChinaCalendar:
        """Return this calendar with ``schedules`` added (replacing years it has).

        Local days and the treatment of unpublished years are kept.

        Raises:
            CalendarDataError: a value is not a :class:`YearSchedule`, or the years
                leave a gap.
        """
        schedules = list(schedules)
        if not schedules:
            return self
        merged = dict(self._schedules)
        for sched in schedules:
            if not isinstance(sched, YearSchedule):
                raise CalendarDataError(0, f"give YearSchedule objects, not {sched!r}")
            merged[sched.year] = sched
        _check_contiguous(merged)
        new = ChinaCalendar.__new__(ChinaCalendar)
        new._setup(
            merged,
            self._unpublished,
            self._version.split("/", 1)[0],
            local_name=self._local_name,
            local_rest={
                _date.fromordinal(o): v[2] for o, v in self._info.items() if v[1] == "local_rest"
            },
            local_work={
                _date.fromordinal(o): v[2] for o, v in self._info.items() if v[1] == "local_work"
            },
        )
        return new

    # -- construction ---------------------------------------------------------------------

    def _setup(
        self,
        schedules: dict[int, YearSchedule],
        unpublished: str,
        provider: str,
        *,
        local_name: str | None,
        local_rest: Mapping[dt.date, str],
        local_work: Mapping[dt.date, str],
    ) -> None:
        # Long by design: one pass over the published schedules builds every table the calendar
        # reads; split, the passes would repeat.
        self._schedules = schedules
        self._unpublished = unpublished
        self._local_name = local_name
        self._pub_lo = min(schedules)
        self._pub_hi = max(schedules)
        span = _PROVISIONAL_SPAN if unpublished == "weekends" else 0
        self._first_year = self._pub_lo - span
        self._last_year = self._pub_hi + span
        base = _date(self._first_year, 1, 1).toordinal()
        end = _date(self._last_year, 12, 31).toordinal()
        info: dict[int, tuple[bool, DayKind, str, str]] = {}
        for sched in schedules.values():
            for d, name in sched.rest_days.items():
                info[d.toordinal()] = (False, "holiday", _HOLIDAY_ZH.get(name, name), name)
            for d, name in sched.makeup_workdays.items():
                info[d.toordinal()] = (True, "makeup", _HOLIDAY_ZH.get(name, name), name)
        for d, name in local_rest.items():
            info[d.toordinal()] = (False, "local_rest", name, name)
        for d, name in local_work.items():
            info[d.toordinal()] = (True, "local_work", name, name)
        isw = bytearray(end - base + 1)
        cum = [0] * (end - base + 1)
        work: list[dt.date] = []
        count = 0
        # 0001-01-01 (ordinal 1) was a Monday, so weekday = (ordinal - 1) % 7.
        for k in range(end - base + 1):
            o = base + k
            special = info.get(o)
            is_work = special[0] if special is not None else (o - 1) % 7 < 5
            if is_work:
                isw[k] = 1
                count += 1
                work.append(_date.fromordinal(o))
            cum[k] = count
        self._base = base
        self._isw = bytes(isw)
        self._cum = cum
        self._work = work
        self._info = info
        digest = hashlib.sha256()
        for y in sorted(schedules):
            digest.update(schedules[y].fingerprint().encode())
        for label, days in (("LR", local_rest), ("LW", local_work)):
            digest.update(f"|{label}:".encode())
            digest.update(",".join(sorted(d.isoformat() for d in days)).encode())
        mode = "+weekends" if unpublished == "weekends" else ""
        local = f"@{local_name}" if local_name else ""
        self._version = (
            f"{provider}/{self._pub_lo}-{self._pub_hi}{mode}{local}/"
            f"sha256:{digest.hexdigest()[:16]}"
        )

    def with_local_days(
        self,
        name: str,
        *,
        rest_days: Mapping[dt.date, str] | Iterable[dt.date] = (),
        workdays: Mapping[dt.date, str] | Iterable[dt.date] = (),
    ) -> ChinaCalendar:
        """Return a local calendar: this one with extra local rest days or workdays.

        A provincial or municipal decree may add a rest day (e.g. a local festival) or
        make a day a working day.  The result has its own :attr:`version`.

        Args:
            name: the local calendar's name, e.g. ``"湖南省 2023 第12号令"``.
            rest_days: extra rest days, as dates or a mapping of date to reason.
            workdays: extra working days, as dates or a mapping of date to reason.

        Raises:
            CalendarDataError: a day lies outside the published years or is both.
        """
        if not name:
            raise CalendarDataError(0, "a local calendar needs a name")
        rest = _named_days(rest_days, name)
        work = _named_days(workdays, name)
        both = sorted(set(rest) & set(work))
        if both:
            raise CalendarDataError(both[0].year, "listed both as rest day and as workday", both[0])
        for d in (*rest, *work):
            if not self._pub_lo <= d.year <= self._pub_hi:
                raise CalendarDataError(d.year, "local days must lie in a published year", d)
        prev_rest = {
            _date.fromordinal(o): v[2] for o, v in self._info.items() if v[1] == "local_rest"
        }
        prev_work = {
            _date.fromordinal(o): v[2] for o, v in self._info.items() if v[1] == "local_work"
        }
        for d in work:
            prev_rest.pop(d, None)
        for d in rest:
            prev_work.pop(d, None)
        full_name = f"{self._local_name}+{name}" if self._local_name else name
        new = ChinaCalendar.__new__(ChinaCalendar)
        new._setup(
            self._schedules,
            self._unpublished,
            self._version.split("/", 1)[0],
            local_name=full_name,
            local_rest={**prev_rest, **rest},
            local_work={**prev_work, **work},
        )
        return new

    # -- properties -----------------------------------------------------------------------

    @property
    def years(self) -> range:
        """The years with a published schedule."""
        return range(self._pub_lo, self._pub_hi + 1)

    @property
    def version(self) -> str:
        """A stable fingerprint: provider, its version, covered years, hash of the tables."""
        return self._version

    @property
    def unpublished(self) -> str:
        """How years without a published schedule are treated: ``error`` or ``weekends``."""
        return self._unpublished

    @property
    def name(self) -> str:
        """The local calendar's name, or ``"China"`` for the national schedule."""
        return self._local_name or "China"

    def schedule(self, year: int) -> YearSchedule:
        """Return the published schedule of ``year``.

        Raises:
            CalendarCoverageError: the year has no published schedule.
        """
        _check_year(year)
        try:
            return self._schedules[year]
        except KeyError:
            raise CalendarCoverageError(year, (self._pub_lo, self._pub_hi)) from None

    def is_published(self, year: int) -> bool:
        """Whether ``year`` has a published (or supplied) schedule."""
        _check_year(year)
        return self._pub_lo <= year <= self._pub_hi

    def is_provisional(self, a: dt.date, b: dt.date) -> bool:
        """Whether any day between ``a`` and ``b`` (inclusive) lies in an unpublished year."""
        a, b = _as_day(a), _as_day(b)
        lo, hi = (a, b) if a <= b else (b, a)
        return lo.year < self._pub_lo or hi.year > self._pub_hi

    def __repr__(self) -> str:
        return f"ChinaCalendar(version={self._version!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChinaCalendar) and other._version == self._version

    def __hash__(self) -> int:
        return hash(self._version)

    # -- questions ------------------------------------------------------------------------

    def _uncovered(self, year: int) -> CalendarCoverageError:
        return CalendarCoverageError(year, (self._pub_lo, self._pub_hi))

    def _offset(self, d: dt.date) -> int:
        k = d.toordinal() - self._base
        if k < 0 or k >= len(self._isw):
            raise self._uncovered(d.year)
        return k

    def is_workday(self, d: dt.date) -> bool:
        """Whether ``d`` is a working day (make-up workdays on weekends included).

        Raises:
            CalendarCoverageError: ``d`` lies in a year without a schedule.
        """
        if d.__class__ is not _date:
            d = _as_day(d)
        return self._isw[self._offset(d)] == 1

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """Return the n-th working day strictly after ``d`` (n ≥ 1) or before it (n ≤ -1).

        Raises:
            InvalidRuleError: ``n`` is zero or not an integer.
            CalendarCoverageError: ``d`` or the result lies in a year without a schedule.
        """
        if d.__class__ is not _date:
            d = _as_day(d)
        k = d.toordinal() - self._base
        cum = self._cum
        if k < 0 or k >= len(cum):
            raise self._uncovered(d.year)
        if n.__class__ is not int or n == 0:
            _bad_count(n)
        if n > 0:
            i = cum[k] + n - 1
            work = self._work
            if i >= len(work):
                raise self._uncovered(self._last_year + 1)
            return work[i]
        i = cum[k] - self._isw[k] + n
        if i < 0:
            raise self._uncovered(self._first_year - 1)
        return self._work[i]

    def _workday_period(
        self, d: dt.date, n: int, count_start_day: bool
    ) -> tuple[dt.date, dt.date, bool] | None:
        """Return (first day, n-th working day, provisional) of a period from ``d``.

        The same answer as ``next_workday`` and ``add_workdays`` together, from one index
        look-up: ``DeadlineRule.compute`` runs this a million times in a sweep.  ``d`` is
        a plain date and ``n`` ≥ 1; ``None`` means "off the table", and the caller takes
        the general path, which raises the right error.
        """
        k = d.toordinal() - self._base - count_start_day
        cum = self._cum
        if k < 0 or k + 1 >= len(cum):
            return None
        i = cum[k]
        work = self._work
        if i + n > len(work):
            return None
        last = work[i + n - 1]
        return work[i], last, d.year < self._pub_lo or last.year > self._pub_hi

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Return the number of working days d with a < d ≤ b (negated when b < a).

        Raises:
            CalendarCoverageError: ``a`` or ``b`` lies in a year without a schedule.
        """
        if a.__class__ is not _date:
            a = _as_day(a)
        if b.__class__ is not _date:
            b = _as_day(b)
        cum = self._cum
        return cum[self._offset(b)] - cum[self._offset(a)]

    def next_workday(self, d: dt.date) -> dt.date:
        """Return the first working day on or after ``d``.

        Raises:
            CalendarCoverageError: ``d`` or the result lies in a year without a schedule.
        """
        if d.__class__ is not _date:
            d = _as_day(d)
        k = self._offset(d)
        i = self._cum[k] - self._isw[k]
        if i >= len(self._work):
            raise self._uncovered(self._last_year + 1)
        return self._work[i]

    def previous_workday(self, d: dt.date) -> dt.date:
        """Return the last working day on or before ``d``.

        Raises:
            CalendarCoverageError: ``d`` or the result lies in a year without a schedule.
        """
        if d.__class__ is not _date:
            d = _as_day(d)
        k = self._offset(d)
        i = self._cum[k] - 1
        if i < 0:
            raise self._uncovered(self._first_year - 1)
        return self._work[i]

    def workdays(self, a: dt.date, b: dt.date) -> Iterator[dt.date]:
        """Yield the working days d with a ≤ d ≤ b, in order."""
        a = _as_day(a)
        b = _as_day(b)
        if b < a:
            return
        ka, kb = self._offset(a), self._offset(b)
        start = self._cum[ka] - self._isw[ka]
        yield from self._work[start : self._cum[kb]]

    def describe(self, d: dt.date) -> DayInfo:
        """Say what kind of day ``d`` is and why, for explanations."""
        d = _as_day(d)
        k = self._offset(d)
        special = self._info.get(d.toordinal())
        if special is not None:
            return DayInfo(d, special[0], special[1], special[2], special[3])
        if not self._pub_lo <= d.year <= self._pub_hi:
            return DayInfo(
                d,
                self._isw[k] == 1,
                "provisional",
                "未公布（按周末推算）",
                "unpublished (weekends assumed)",
            )
        if d.weekday() >= 5:
            return DayInfo(d, False, "weekend", "周末", "weekend")
        return DayInfo(d, True, "weekday", "工作日", "weekday")


def _check_contiguous(schedules: Mapping[int, YearSchedule]) -> None:
    for a, b in itertools.pairwise(sorted(schedules)):
        if b != a + 1:
            raise CalendarDataError(
                a + 1, f"no schedule between {a} and {b}; published years must be contiguous"
            )


def _check_year(year: object) -> None:
    """Refuse a year that is not a whole number."""
    if year.__class__ is not int:
        from .exceptions import InvalidRuleError

        raise InvalidRuleError("year", year, "must be a whole number, e.g. 2023")


def _bad_count(n: object) -> None:
    from .exceptions import InvalidRuleError

    if n == 0 and isinstance(n, int):
        raise InvalidRuleError(
            "n", n, "zero working days has no meaning; use next_workday() for 'on or after'"
        )
    raise InvalidRuleError("n", n, "the number of working days must be a whole number")
