"""The inspection-flow command line."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from inspection_flow import Ledger
from inspection_flow._cli import main


def test_due_prints_the_explanation(capsys: pytest.CaptureFixture[str]) -> None:
    """`due 2023-09-20 "30 working days"` explains the deadline in Chinese and exits 0."""
    assert main(["due", "2023-09-20", "30 working days"]) == 0
    out, err = capsys.readouterr()
    assert "跳过：2023-09-29..2023-10-06 中秋节、国庆节放假（8天）" in out
    assert "计入：2023-10-07（周六）调休上班（国庆节）" in out
    assert "第30个工作日：2023-11-07（周二）" in out
    assert "截止：2023-11-07 24:00（北京时间）" in out
    assert err == ""


def test_due_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    """--lang en prints the explanation in English."""
    assert main(["due", "2023-09-20", "30 working days", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Working day 30: 2023-11-07 (Tue)" in out
    assert "Due: 2023-11-07 24:00 (Asia/Shanghai)" in out


def test_count_start_day(capsys: pytest.CaptureFixture[str]) -> None:
    """--count-start-day counts the anchor day, as "（含当日）" in the rule text does."""
    assert main(["due", "2023-07-03", "10 working days", "--count-start-day"]) == 0
    flagged = capsys.readouterr().out
    assert "当日计入" in flagged
    assert "第10个工作日：2023-07-14（周五）" in flagged
    assert main(["due", "2023-07-03", "10个工作日（含当日）"]) == 0
    assert capsys.readouterr().out == flagged
    assert main(["due", "2023-07-03", "10 working days"]) == 0
    assert "第10个工作日：2023-07-17（周一）" in capsys.readouterr().out


def test_no_roll(capsys: pytest.CaptureFixture[str]) -> None:
    """--no-roll keeps a last day that falls on a weekend."""
    assert main(["due", "2023-06-24", "21 days"]) == 0
    assert "期间末日：2023-07-17（周一）" in capsys.readouterr().out
    assert main(["due", "2023-06-24", "21 days", "--no-roll"]) == 0
    assert "期间末日：2023-07-15（周六）" in capsys.readouterr().out


def test_uncovered_year_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A deadline reaching an unpublished year exits 2 with the way out, in commands, on stderr."""
    assert main(["due", "2026-12-01", "30 working days"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("inspection-flow: ")
    assert "2027" in err
    assert "--calendar 2027.toml" in err
    assert "inspection-flow calendar add LEDGER 2027.toml" in err
    assert "--provisional" in err
    assert "ChinaCalendar" not in err


def test_provisional(capsys: pytest.CaptureFixture[str]) -> None:
    """--provisional computes past the published years, saying the result is provisional."""
    assert main(["due", "2026-12-01", "30 working days", "--provisional"]) == 0
    out = capsys.readouterr().out
    assert "注意：结果为暂定" in out
    assert "+weekends" in out


def test_instant_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    """An aware instant anchors an hour rule."""
    assert main(["due", "2023-06-27T10:00+08:00", "48 hours", "--lang", "en"]) == 0
    assert "Due: 2023-06-29T10:00:00+08:00" in capsys.readouterr().out


def test_hour_rule_needs_an_instant(capsys: pytest.CaptureFixture[str]) -> None:
    """An hour rule on a bare date exits 2 and says an instant is needed."""
    assert main(["due", "2023-06-27", "48 hours"]) == 2
    assert "instant" in capsys.readouterr().err


def test_unreadable_rule_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A rule text that cannot be read exits 2 with examples of what can."""
    assert main(["due", "2023-09-20", "thirty days"]) == 2
    assert "30 working days" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("anchor", "message"),
    [("2023-06-27T10:00", "time zone"), ("2023-13-01", "not a date"), ("soon", "not a date")],
)
def test_bad_anchor_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], anchor: str, message: str
) -> None:
    """A naive instant or an unreadable date is a usage error (exit 2) saying what to write."""
    with pytest.raises(SystemExit) as info:
        main(["due", anchor, "30 working days"])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command the CLI prints usage and exits 2."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_python_dash_m(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m inspection_flow due ...` runs the same command and exits with its status."""
    monkeypatch.setattr(sys, "argv", ["inspection_flow", "due", "2021-07-16", "30 working days"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("inspection_flow", run_name="__main__")
    assert info.value.code == 0
    assert "2021-08-27" in capsys.readouterr().out


def test_demo_keeps_complaints_text_and_shows_late_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's cases keep their own text, its late results are met late, and its status
    prints the on-time rates."""
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "按时办结率 78.8%（逾期办结 36 件" in out
    with Ledger.open(db) as ledger:
        cases = ledger.find(kind="complaint")
        reported = [c for c in cases if "result_summary" in c.data]
        assert reported
        assert all(c.data["summary"] != c.data["result_summary"] for c in reported)
        statuses = {c.deadlines["result_due"].status for c in reported}
        assert {"met", "met_late"} <= statuses


def test_an_error_about_a_name_with_a_line_break_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ledger name typed with a line break in it is shown escaped: the error stays one
    line, as scripts reading it expect."""
    assert main(["verify", "no\nsuch.db"]) == 2
    err = capsys.readouterr().err
    assert err == "inspection-flow: no\\nsuch.db: no such ledger file (nothing was created)\n"
