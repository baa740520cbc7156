"""The command line of a day's work: overdue, fire, sweep, report, diagram, JSON output,
the version, and exit statuses (2 usage, 1 refused or failed check)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from inspection_flow import SHANGHAI, Ledger, __version__
from inspection_flow._cli import main
from inspection_flow._demo import build_demo


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo round in a SQLite file, swept to the end of 2024-03-31."""
    path = tmp_path_factory.mktemp("cli") / "yiyang.db"
    with Ledger.open(str(path), rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger)
        ledger.sweep(dt.datetime(2024, 4, 1, tzinfo=SHANGHAI))
    return path


@pytest.fixture
def copy(demo_file: Path, tmp_path: Path) -> Path:
    """A copy of the demo ledger to write to."""
    target = tmp_path / "copy.db"
    shutil.copy(demo_file, target)
    return target


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the installed version and exits 0."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"inspection-flow {__version__}"


def test_overdue_table_and_json(demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """overdue lists the items past a deadline as a table, and the same items as JSON."""
    assert main(["overdue", str(demo_file), "--as-of", "2024-03-31", "--explain", "1"]) == 0
    text = capsys.readouterr().out
    assert "2024-03-31 超期事项：6" in text
    assert "YY-T04" in text
    assert "整改时限" in text
    assert "规则：2个工作日" in text  # the first item's deadline explained
    assert main(["overdue", str(demo_file), "--as-of", "2024-03-31", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["overdue"]) == 6
    first = data["overdue"][0]
    assert first["entity_id"] == "YY-DOC-02"
    assert first["last_day"] == "2023-06-29"
    assert first["days_overdue"] == 276
    assert main(["overdue", str(demo_file), "--as-of", "2024-03-31", "--kind", "task"]) == 0
    assert "YY-DOC-02" not in capsys.readouterr().out


def test_status_names_its_calendar_and_has_json(
    demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status names the calendar it counted with; --json gives the counts and rates."""
    assert main(["status", str(demo_file), "--as-of", "2023-07-20"]) == 0
    out = capsys.readouterr().out
    assert "工作日历：chinesecalendar==" in out
    assert main(["status", str(demo_file), "--as-of", "2023-07-20", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2023-07-20"
    assert sum(data["states"]["complaint"].values()) == sum(data["areas"].values())
    assert set(data["rates"]) >= {"case_closing_rate", "on_schedule_rate"}


def test_status_defaults_to_today(demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --as-of, status reports on today (the command line reads the clock)."""
    assert main(["status", str(demo_file), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    today = dt.datetime.now(SHANGHAI).date()
    assert data["as_of"] in {today.isoformat(), (today + dt.timedelta(days=1)).isoformat()}


def test_report_in_three_formats(
    demo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """report writes Markdown to the screen, HTML and Word to files, and JSON figures."""
    db = str(demo_file)
    assert main(["report", db, "--as-of", "2023-06-27", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("# 工作简报 第1期\n")
    html = tmp_path / "b.html"
    assert main(["report", db, "--as-of", "2023-07-20", "--period", "week", "--format", "html",
                 "--out", str(html)]) == 0  # fmt: skip
    assert "工作简报 第4期" in capsys.readouterr().out
    assert html.read_text(encoding="utf-8").count("<svg") == 2
    docx = tmp_path / "b.docx"
    assert main(["report", db, "--as-of", "2024-03-31", "--format", "docx", "--number", "12",
                 "--out", str(docx)]) == 0  # fmt: skip
    assert docx.stat().st_size > 10_000
    assert "工作简报 第12期" in capsys.readouterr().out
    assert main(["report", db, "--as-of", "2023-07-05", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["number"] == 9
    assert data["received"] > 0


def test_fire_records_an_event(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fire records an event with its data and prints what it recorded; the same
    command id again records nothing more."""
    args = ["fire", str(copy), "YY-T02", "claim_completion", "--actor",
            "owner_unit:430902:资阳区人民政府", "--at", "2024-04-02T10:00+08:00",
            "--data", "evidence=整改完成报告", "--command-id", "cmd-2", "--json"]  # fmt: skip
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["event"] == "claim_completion"
    assert data["state"] == "completion_claimed"
    assert main(args) == 0  # a retry: the stored event, nothing new
    assert json.loads(capsys.readouterr().out)["version"] == data["version"]
    with Ledger.open(str(copy), read_only=True) as ledger:
        assert ledger.get("YY-T02").data["evidence"] == "整改完成报告"


def test_a_refused_command_exits_1(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An event the lifecycle does not allow now is refused in one line, exit 1, and
    nothing is written."""
    with Ledger.open(str(copy), read_only=True) as ledger:
        before = ledger.get("YY-T02").version
    assert main(["fire", str(copy), "YY-T02", "file", "--actor",
                 "rectification_office:430900", "--at", "2024-04-02T10:00+08:00"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith("inspection-flow: ")
    assert err.count("\n") == 1
    with Ledger.open(str(copy), read_only=True) as ledger:
        assert ledger.get("YY-T02").version == before


@pytest.mark.parametrize(
    "args",
    [
        ["fire", "{db}", "YY-T02", "start", "--actor", "owner_unit"],
        ["fire", "{db}", "YY-T02", "start", "--actor", "x:1", "--data", "no-equals"],
        ["fire", "{db}", "YY-T02", "start", "--actor", "x:1", "--at", "2024-04-02"],
        ["sweep", "{db}", "--now", "yesterday"],
        ["report", "{db}", "--format", "pdf"],
    ],
)
def test_usage_errors_exit_2(copy: Path, args: list[str]) -> None:
    """Arguments that cannot be read are usage errors: exit status 2."""
    with pytest.raises(SystemExit) as info:
        main([a.format(db=copy) for a in args])
    assert info.value.code == 2


def test_unknown_names_exit_2(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An id, round or lifecycle that names nothing is a usage error too, in one line."""
    assert main(["fire", str(copy), "NOPE", "start", "--actor", "owner_unit:430902"]) == 2
    assert main(["report", str(copy), "--as-of", "2023-07-05", "--round", "NOPE"]) == 2
    assert main(["diagram", "nope"]) == 2
    assert main(["report", str(copy.parent / "missing.db"), "--as-of", "2023-07-05"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 4
    assert all(line.startswith("inspection-flow: ") for line in err.splitlines())


def test_verify_exits_1_when_a_check_fails(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """verify prints JSON on request, and exits 1 when the ledger was tampered with."""
    assert main(["verify", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("UPDATE if_events SET payload = replace(payload, '整改', '整治') "
                     "WHERE entity_id = 'YY-T01'")  # fmt: skip
    assert main(["verify", str(copy)]) == 1


def test_sweep_records_what_came_due(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sweep --now records the alerts that came due since the last sweep, once."""
    assert main(["sweep", str(copy), "--now", "2024-07-15T09:00+08:00", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["alerts"]
    assert first
    assert all(a["at"] <= "2024-07-15T09:00:00+08:00" for a in first)
    assert main(["sweep", str(copy), "--now", "2024-07-15T09:00+08:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["alerts"] == []


def test_diagram_and_due_json(capsys: pytest.CaptureFixture[str]) -> None:
    """diagram prints a lifecycle as Mermaid; due --json gives the deadline as data."""
    assert main(["diagram", "complaint", "--rulebook", "hunan-provincial-2023"]) == 0
    assert capsys.readouterr().out.startswith("stateDiagram-v2")
    assert main(["due", "2021-07-16", "30 working days", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["last_day"] == "2021-08-27"


def test_plain_tables_align_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    """Piped output is plain columns, a Chinese character counted two columns wide."""
    import io

    from inspection_flow._terminal import print_table, width

    out = io.StringIO()
    print_table(("区县", "n"), [("赫山区", 3), ("南县", 12)], out)
    lines = out.getvalue().splitlines()
    assert [width(line) for line in lines[1:]] == [width(lines[1])] * 2
    assert lines[2].endswith("12")
    assert lines[1].endswith(" 3")


def test_a_terminal_gets_a_rich_table() -> None:
    """On a terminal, with rich installed, the table is drawn by rich (box lines), and
    the Chinese cells are kept whole."""
    pytest.importorskip("rich")
    import io

    from inspection_flow._terminal import print_table

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    print_table(("区县", "n"), [("赫山区", 3), ("益阳高新区", 12)], out, title="超期")
    text = out.getvalue()
    assert "┃" in text or "│" in text
    assert "益阳高新区" in text
    assert "超期" in text


def test_days_and_instants_are_read_as_an_office_types_them(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2024年3月31日 and 2024/3/31 are 2024-03-31; 2024/7/15 9:00 is 09:00 China Standard Time."""
    assert main(["overdue", str(copy), "--as-of", "2024-03-31", "--json"]) == 0
    iso = capsys.readouterr().out
    for typed in ("2024年3月31日", "2024/3/31", "2024.3.31", "20240331"):
        assert main(["overdue", str(copy), "--as-of", typed, "--json"]) == 0
        assert capsys.readouterr().out == iso
    assert main(["sweep", str(copy), "--now", "2024/7/15 9:00", "--json"]) == 0
    alerts = json.loads(capsys.readouterr().out)["alerts"]
    assert alerts
    assert all(a["at"] <= "2024-07-15T09:00:00+08:00" for a in alerts)
    # The same instant with its offset: everything was already recorded.
    assert main(["sweep", str(copy), "--now", "2024-07-15T01:00+00:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["alerts"] == []


@pytest.mark.parametrize("bad", ["2024年13月31日", "31/2024", "明天", "20:30"])
def test_a_day_that_cannot_be_read_is_a_usage_error(
    copy: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["overdue", str(copy), "--as-of", bad])
    assert exit_.value.code == 2
    assert repr(bad) in capsys.readouterr().err
