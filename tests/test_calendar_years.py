"""Calendar years not yet in the data package: year files, ledgers that keep them, the CLI."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
import sqlalchemy as sa

from inspection_flow import (
    SHANGHAI,
    CalendarDataError,
    ChinaCalendar,
    DeadlineRule,
    Ledger,
    StoreError,
    YearSchedule,
    status_report,
)
from inspection_flow._cli import _parser, main
from inspection_flow.stores import MemoryStore, SQLStore
from strategies import OFFICE, TEAM

D = dt.date

# An illustration of the form only: the State Council has not published 2027 here.
YEAR_2027 = """\
[year.2027]
source = "illustration only, not the State Council's notice, https://www.gov.cn/"
holidays = [2027-01-01, { from = 2027-02-06, to = 2027-02-12, name = "春节" }]
workdays = [{ date = 2027-02-14, name = "春节" }, "2027-02-20"]
"""


@pytest.fixture
def year_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """A TOML year file for 2027."""
    path = tmp_path / "2027.toml"
    path.write_text(YEAR_2027, encoding="utf-8")
    return path


def write(tmp_path: pathlib.Path, text: str, name: str = "year.toml") -> pathlib.Path:
    """Write a year file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the year file ------------------------------------------------------------------------


def test_a_year_file_is_read_into_schedules(year_file: pathlib.Path) -> None:
    """A [year.2027] table gives its rest days (ranges expanded), workdays and source."""
    (sched,) = YearSchedule.from_file(year_file)
    assert sched.year == 2027
    assert list(sched.rest_days)[:2] == [D(2027, 1, 1), D(2027, 2, 6)]
    assert len(sched.rest_days) == 8
    assert sched.rest_days[D(2027, 2, 8)] == "春节"
    assert dict(sched.makeup_workdays) == {
        D(2027, 2, 14): "春节",
        D(2027, 2, 20): "make-up workday",
    }
    assert sched.source.startswith("illustration only")


def test_from_files_adds_the_year_to_the_calendar(year_file: pathlib.Path) -> None:
    """ChinaCalendar.from_files covers 2027 with the file's days, results not provisional."""
    calendar = ChinaCalendar.from_files(year_file)
    assert 2027 in calendar.years
    assert not calendar.is_workday(D(2027, 1, 1))
    assert not calendar.is_workday(D(2027, 2, 8))
    assert calendar.is_workday(D(2027, 2, 14))
    assert calendar.describe(D(2027, 2, 14)).kind == "makeup"
    due = DeadlineRule.working_days(30).compute(D(2026, 12, 20), calendar)
    assert not due.provisional


def test_several_years_in_one_file(tmp_path: pathlib.Path) -> None:
    """One file may hold several years; they come back in order."""
    path = write(
        tmp_path,
        '[year.2028]\nsource = "notice 2028"\n[year.2027]\nsource = "notice 2027"\n',
    )
    assert [s.year for s in YearSchedule.from_file(path)] == [2027, 2028]
    assert ChinaCalendar.from_files(path).years.stop == 2029


def test_from_files_keeps_the_unpublished_mode(year_file: pathlib.Path) -> None:
    """unpublished='weekends' still estimates the years after the file's."""
    calendar = ChinaCalendar.from_files(year_file, unpublished="weekends")
    assert calendar.describe(D(2028, 3, 1)).kind == "provisional"


def test_a_year_given_twice_is_refused(tmp_path: pathlib.Path, year_file: pathlib.Path) -> None:
    """The same year in two files is refused, naming the second file."""
    other = write(tmp_path, '[year.2027]\nsource = "another"\n', "other.toml")
    with pytest.raises(CalendarDataError, match="twice") as info:
        ChinaCalendar.from_files(year_file, other)
    assert info.value.file == str(other)
    assert info.value.key == "year.2027"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[year.2027]\nholidays = [2027-01-01]\n", "year.2027.source", "source"),
        (
            '[year.2027]\nsource = "n"\nworkdays = [2027-01-04]\n',
            "year.2027.workdays[0]",
            "Saturday or Sunday",
        ),
        (
            '[year.2027]\nsource = "n"\nholidays = ["2027-01-01", 2026-12-31]\n',
            "year.2027.holidays[1]",
            "outside the year",
        ),
        (
            '[year.2027]\nsource = "n"\nholidays = [2027-02-06]\nworkdays = [2027-02-06]\n',
            "year.2027.holidays[0] and year.2027.workdays[0]",
            "both",
        ),
        (
            '[year.2027]\nsource = "n"\nholidays = ["2027-13-01"]\n',
            "year.2027.holidays[0]",
            "not a day",
        ),
        ('[year.2027]\nsource = "n"\nholidays = "2027-01-01"\n', "year.2027.holidays", "list"),
        (
            '[year.2027]\nsource = "n"\nholidays = [{ from = 2027-02-12, to = 2027-02-06 }]\n',
            "year.2027.holidays[0]",
            "before it starts",
        ),
        (
            '[year.2027]\nsource = "n"\nholidays = [{ day = 2027-02-12 }]\n',
            "year.2027.holidays[0]",
            "unknown key 'day'",
        ),
        ('[year.2027]\nsource = "n"\nrest = []\n', "year.2027.rest", "unknown key 'rest'"),
        ('[year.27]\nsource = "n"\n', "year.27", "not a year"),
        (
            '[year.2027]\nsource = "n"\nholidays = [2027-01-01, 2027-01-01]\n',
            "year.2027.holidays[1]",
            "twice",
        ),
        ('[years.2027]\nsource = "n"\n', "years", "unknown table"),
    ],
)
def test_a_bad_year_file_names_file_and_key(
    tmp_path: pathlib.Path, text: str, key: str, problem: str
) -> None:
    """Each mistake in a year file is a CalendarDataError naming the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(CalendarDataError, match=problem) as info:
        ChinaCalendar.from_files(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert str(path) in str(info.value)
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("[year.2027\n", "not valid TOML"), ("", "no year in the file")],
)
def test_an_unreadable_year_file_is_refused(
    tmp_path: pathlib.Path, text: str, problem: str
) -> None:
    """A file that is not TOML, or holds no year, is refused naming the file."""
    path = write(tmp_path, text)
    with pytest.raises(CalendarDataError, match=problem) as info:
        YearSchedule.from_file(path)
    assert info.value.file == str(path)


def test_a_missing_year_file_is_refused(tmp_path: pathlib.Path) -> None:
    """A path that does not exist is a CalendarDataError naming it."""
    with pytest.raises(CalendarDataError, match="cannot read") as info:
        YearSchedule.from_file(tmp_path / "nope.toml")
    assert info.value.file == str(tmp_path / "nope.toml")


def test_a_schedule_survives_its_plain_data(year_file: pathlib.Path) -> None:
    """to_dict and from_dict give back the same schedule."""
    (sched,) = YearSchedule.from_file(year_file)
    assert YearSchedule.from_dict(sched.to_dict()) == sched


def test_with_years_keeps_local_days(year_file: pathlib.Path) -> None:
    """Adding a year to a local calendar keeps its local days and its name."""
    local = ChinaCalendar().with_local_days("某市演示", rest_days=[D(2023, 6, 26)])
    (sched,) = YearSchedule.from_file(year_file)
    added = local.with_years([sched])
    assert added.name == "某市演示"
    assert not added.is_workday(D(2023, 6, 26))
    assert not added.is_workday(D(2027, 1, 1))


# --- a ledger keeps the years supplied to it ------------------------------------------------


def at(day: str, hour: int = 10) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def fed_back_in_december(ledger: Ledger) -> None:
    """A round given feedback on 2026-12-15: its plan falls due in 2027 (30 working days,
    as Hunan's provincial rulebook has it)."""
    ledger.create_round(
        "R",
        name="益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2026-09-01"),
        rulebook="hunan-provincial-2023",
    )
    ledger.fire("R", "announce", actor=OFFICE, at=at("2026-09-01", 11))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2026-09-07"), meeting="动员会")
    ledger.fire("R", "end_station_in", actor=TEAM, at=at("2026-10-07", 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at("2026-12-01"))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at("2026-12-15"), problems=12)


def test_the_whole_path_provisional_then_official_then_recompute(
    ledger_url: str, year_file: pathlib.Path
) -> None:
    """A plan due provisionally in 2027 moves when 2027 is supplied, and recompute records it."""
    estimate = ChinaCalendar(unpublished="weekends")
    with Ledger.open(ledger_url, calendar=estimate) as ledger:
        fed_back_in_december(ledger)
        plan = ledger.get("R").deadlines["plan_due"]
        assert plan.provisional
        assert plan.last_day == D(2027, 1, 26)
        (sched,) = YearSchedule.from_file(year_file)
        assert ledger.supply_calendar_year(sched)
        assert not ledger.supply_calendar_year(sched)  # the same year again changes nothing
    # Another process, opening the same database, computes with the supplied year.
    with Ledger.open(ledger_url, calendar=estimate) as other:
        assert 2027 in other.calendar.years
        view = {v.name: v for v in other.deadlines("R")}["plan_due"]
        assert view.moved
        moved = other.recompute("R", actor=OFFICE, at=at("2026-12-16"))
        assert [(m.deadline, m.old_last_day, m.new_last_day) for m in moved] == [
            ("plan_due", D(2027, 1, 26), D(2027, 1, 27))
        ]
        assert "+weekends" in moved[0].old_calendar_version
        assert moved[0].new_calendar_version == other.calendar.version
        plan = other.get("R").deadlines["plan_due"]
        assert plan.last_day == D(2027, 1, 27)
        assert not plan.provisional
        assert other.history("R")[-1].name == "recompute"


def test_a_ledger_refuses_a_year_that_leaves_a_gap(ledger_url: str) -> None:
    """A year after a missing one is refused and nothing is kept."""
    with Ledger.open(ledger_url) as ledger, pytest.raises(CalendarDataError, match="contiguous"):
        ledger.supply_calendar_year(YearSchedule(2029, source="a notice for 2029"))
    with Ledger.open(ledger_url) as reopened:
        assert 2029 not in reopened.calendar.years


def test_a_read_only_ledger_keeps_no_year(tmp_path: pathlib.Path, year_file: pathlib.Path) -> None:
    """A ledger opened read-only refuses to keep a year."""
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    (sched,) = YearSchedule.from_file(year_file)
    with Ledger.open(path, read_only=True) as ledger, pytest.raises(StoreError, match="read-only"):
        ledger.supply_calendar_year(sched)


def test_a_memory_ledger_keeps_its_years(year_file: pathlib.Path) -> None:
    """The in-memory store keeps supplied years for ledgers sharing it."""
    store = MemoryStore()
    (sched,) = YearSchedule.from_file(year_file)
    Ledger(store).supply_calendar_year(sched)
    assert 2027 in Ledger(store).calendar.years


def test_a_version_1_ledger_gets_the_calendar_table_on_upgrade(tmp_path: pathlib.Path) -> None:
    """The 1 to 2 upgrade creates the table of calendar years."""
    path = tmp_path / "old.db"
    Ledger.open(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE if_calendar_years")
        conn.exec_driver_sql("DROP TABLE if_ledger_head")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_if_events_seq")
        conn.exec_driver_sql("ALTER TABLE if_events DROP COLUMN seq")
        conn.exec_driver_sql("ALTER TABLE if_events DROP COLUMN recorded_at")
        conn.exec_driver_sql("UPDATE inspection_flow_meta SET value = '1'")
    engine.dispose()
    assert SQLStore.upgrade(str(path)) == 1
    with Ledger.open(path) as ledger:
        assert ledger.supply_calendar_year(YearSchedule(2027, source="a notice for 2027"))


# --- the status report warns before the calendar ends --------------------------------------


def test_status_warns_60_days_before_the_calendar_ends() -> None:
    """From 60 days before the last covered day, status says how long is left and what to do."""
    ledger = Ledger()
    last = dt.date(ledger.calendar.years.stop - 1, 12, 31)
    quiet = status_report(ledger, last - dt.timedelta(days=61), lang="en")
    assert "calendar covers" not in quiet
    warned = status_report(ledger, last - dt.timedelta(days=60), lang="en")
    assert f"covers days up to {last.isoformat()} (60 days left)" in warned.splitlines()[1]
    assert "calendar add" in warned
    zh = status_report(ledger, last - dt.timedelta(days=31), lang="zh")
    assert f"工作日历只覆盖到 {last.isoformat()}（还有31天）" in zh


def test_status_past_the_calendar_says_results_are_provisional() -> None:
    """Past the calendar's end, status with provisional results says so and how to fix it."""
    ledger = Ledger(calendar=ChinaCalendar(unpublished="weekends"))
    last = dt.date(ledger.calendar.years.stop - 1, 12, 31)
    text = status_report(ledger, last + dt.timedelta(days=1), lang="en")
    assert "deadlines after it are provisional" in text


def test_status_marks_provisional_deadlines(year_file: pathlib.Path) -> None:
    """An item whose deadline was computed over an unpublished year is marked provisional."""
    ledger = Ledger(calendar=ChinaCalendar(unpublished="weekends"))
    fed_back_in_december(ledger)
    text = status_report(ledger, D(2027, 1, 20), lang="en")
    assert "due 2027-01-26 (4 working days left) (provisional)" in text
    zh = status_report(ledger, D(2027, 1, 20), lang="zh")
    assert "2027-01-26到期（还有4个工作日）（暂定）" in zh
    (sched,) = YearSchedule.from_file(year_file)
    ledger.supply_calendar_year(sched)
    ledger.recompute("R", actor=OFFICE, at=at("2027-01-04"))
    en = status_report(ledger, D(2027, 1, 20), lang="en")
    assert "due 2027-01-27 (5 working days left)  " in en


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def december_ledger(tmp_path: pathlib.Path) -> str:
    """A SQLite ledger whose round was given feedback on 2026-12-15 (plan due in 2027)."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, calendar=ChinaCalendar(unpublished="weekends")) as ledger:
        fed_back_in_december(ledger)
    return str(path)


def test_due_with_a_year_file(capsys: pytest.CaptureFixture[str], year_file: pathlib.Path) -> None:
    """due --calendar FILE computes over 2027 with the file's holidays, not provisionally."""
    assert main(["due", "2026-12-15", "30 working days", "--calendar", str(year_file)]) == 0
    out = capsys.readouterr().out
    assert "第30个工作日：2027-01-27" in out
    assert "暂定" not in out
    assert main(["due", "2026-12-15", "30 working days", "--provisional", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Working day 30: 2027-01-26" in out
    assert "provisional" in out


def test_status_past_the_package_without_the_year(
    capsys: pytest.CaptureFixture[str], december_ledger: str
) -> None:
    """status on 2026-12-17 without the 2027 year exits 2 telling the clerk what to run."""
    assert main(["status", december_ledger, "--as-of", "2026-12-17"]) == 2
    err = capsys.readouterr().err
    assert "inspection-flow calendar add LEDGER 2027.toml" in err
    assert "--provisional" in err


def test_status_provisional(capsys: pytest.CaptureFixture[str], december_ledger: str) -> None:
    """status --provisional reports past the package, warning that the calendar ends soon."""
    assert main(["status", december_ledger, "--as-of", "2026-12-17", "--provisional"]) == 0
    out = capsys.readouterr().out
    assert "工作日历只覆盖到 2026-12-31（还有14天）" in out


def test_status_with_a_year_file(
    capsys: pytest.CaptureFixture[str], december_ledger: str, year_file: pathlib.Path
) -> None:
    """status --calendar FILE reports past the package with the file's year."""
    argv = ["status", december_ledger, "--as-of", "2026-12-17", "--calendar", str(year_file)]
    assert main(argv) == 0
    assert "工作日历只覆盖到" not in capsys.readouterr().out


def test_calendar_add_keeps_the_year_for_every_later_command(
    capsys: pytest.CaptureFixture[str], december_ledger: str, year_file: pathlib.Path
) -> None:
    """calendar add keeps the year in the ledger: status then works without options."""
    assert main(["calendar", "add", december_ledger, str(year_file)]) == 0
    out = capsys.readouterr().out
    assert "2027: kept in the ledger (illustration only" in out
    assert "provisional deadlines with this calendar: 1" in out
    assert "  R plan_due: 2027-01-26 → 2027-01-27" in out
    assert main(["calendar", "add", december_ledger, str(year_file)]) == 0
    assert "2027: the ledger already keeps this schedule" in capsys.readouterr().out
    assert main(["status", december_ledger, "--as-of", "2026-12-17"]) == 0
    capsys.readouterr()
    assert main(["calendar", "show", december_ledger]) == 0
    shown = capsys.readouterr().out
    assert "covers 2004–2027" in shown
    assert "  2027: illustration only" in shown


def test_calendar_add_refuses_a_bad_file(
    capsys: pytest.CaptureFixture[str], december_ledger: str, tmp_path: pathlib.Path
) -> None:
    """A bad year file is refused naming file and key, and the ledger keeps nothing."""
    bad = write(tmp_path, '[year.2027]\nsource = "n"\nworkdays = [2027-01-04]\n')
    assert main(["calendar", "add", december_ledger, str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "year.2027.workdays[0]" in err
    with Ledger.open(december_ledger, read_only=True) as ledger:
        assert 2027 not in ledger.calendar.years


def test_calendar_show_without_a_ledger(
    capsys: pytest.CaptureFixture[str], year_file: pathlib.Path
) -> None:
    """calendar show prints the years a calendar of year files covers."""
    assert main(["calendar", "show", "--calendar", str(year_file)]) == 0
    assert "covers 2004–2027" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "provisional"),
    [
        (["due", "2026-12-01", "30 working days"], True),
        (["demo"], True),
        (["status", "x.db", "--as-of", "2026-12-17"], True),
        (["verify", "x.db"], False),
        (["anchor", "x.db"], False),
        (["repair", "x.db"], False),
        (["calendar", "add", "x.db", "y.toml"], False),
        (["calendar", "show"], False),
    ],
)
def test_every_command_takes_year_files(argv: list[str], provisional: bool) -> None:
    """--calendar FILE on every command that opens a ledger or computes dates; --provisional
    on those that compute dates."""
    args = _parser().parse_args([*argv, "--calendar", "a.toml", "--calendar", "b.toml"])
    assert args.calendar_files == ["a.toml", "b.toml"]
    if provisional:
        assert _parser().parse_args([*argv, "--provisional"]).provisional


def test_the_documented_year_file_reads(tmp_path: pathlib.Path) -> None:
    """The year file shown in docs/calendar.md is one the calendar reads."""
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "calendar.md").read_text("utf-8")
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    (sched,) = YearSchedule.from_file(write(tmp_path, block))
    assert sched.makeup_workdays == {D(2027, 2, 14): "春节", D(2027, 2, 20): "make-up workday"}
    assert sched.rest_days[D(2027, 1, 1)] == "元旦"
