"""The words a clerk reads: Chinese output names things in Chinese, never by the code's
identifiers; a request not yet answered reads 待提供; an overdue line says how far it has
escalated; every shipped source cites a document a user can find; the demo ends with the
commands that read its ledger again."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import pytest

from inspection_flow import (
    BUILTIN_RULEBOOKS,
    SHANGHAI,
    Ledger,
    load_rulebook,
    status_report,
)
from inspection_flow._cli import main
from inspection_flow._demo import ROUND_ID, build_demo
from inspection_flow._ledger import CATEGORIES_ZH

D = dt.date
HUNAN = load_rulebook("hunan-provincial-2023")
AS_OF = D(2024, 3, 31)


@pytest.fixture(scope="module")
def demo() -> Ledger:
    """The demo's ledger, in memory, swept to the end of the demo's status day."""
    ledger = Ledger(rulebook="hunan-provincial-2023")
    build_demo(ledger)
    ledger.sweep(dt.datetime(2024, 4, 1, tzinfo=SHANGHAI))
    return ledger


def _identifiers() -> set[str]:
    """The code's names a Chinese reader must never meet: kinds, lifecycles, states,
    deadlines, rulebook keys, ladder steps and categories."""
    names: set[str] = set(CATEGORIES_ZH)
    for lc in HUNAN.lifecycles.values():
        names |= {lc.name, lc.kind}
        names |= {s.name for s in lc.states}
        names |= {d.name for d in lc.deadlines}
    names |= set(HUNAN.rules) | set(HUNAN.ladders)
    for ladder in HUNAN.ladders.values():
        names |= {step.name for step in (*ladder.warnings, *ladder.escalations)}
    return names


def _line_of(report: str, entity_id: str) -> str:
    return next(line for line in report.splitlines() if line.strip().startswith(entity_id))


def test_chinese_status_of_the_demo_names_no_identifier(demo: Ledger) -> None:
    """The Chinese status report of the demo's ledger holds no kind, lifecycle, state,
    deadline, rule, ladder step or category identifier."""
    report = status_report(demo, AS_OF, round_id=ROUND_ID, lang="zh")
    found = sorted(
        name
        for name in _identifiers()
        if re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", report)
    )
    assert found == []
    assert "Asia/Shanghai" not in report


def test_a_requested_document_reads_pending_and_its_overdue_line_says_not_provided(
    demo: Ledger,
) -> None:
    """A document request asked for and not provided reads 待提供, and its overdue line
    says 逾期未提供."""
    report = status_report(demo, AS_OF, round_id=ROUND_ID, lang="zh")
    assert "调阅资料: 2（已提供 1, 待提供 1）" in report
    assert "已调阅" not in report
    line = _line_of(report, "YY-DOC-02")
    assert "待提供" in line
    assert "逾期未提供276天" in line


def test_the_overdue_list_shows_the_furthest_escalation(demo: Ledger) -> None:
    """Each overdue line names the furthest escalation recorded by the report's day."""
    report = status_report(demo, AS_OF, round_id=ROUND_ID, lang="zh")
    assert "逾期未完成整改91天，已升级至约谈" in _line_of(report, "YY-T04")
    earlier = status_report(demo, D(2024, 1, 20), round_id=ROUND_ID, lang="zh")
    assert "已升级至督办函" in _line_of(earlier, "YY-T04")
    english = status_report(demo, AS_OF, round_id=ROUND_ID, lang="en")
    assert "91 days overdue, escalated to summons talk" in _line_of(english, "YY-T04")


def test_lateness_alone_is_not_an_escalation(demo: Ledger) -> None:
    """A deadline without a ladder is overdue, not escalated, once its day passes."""
    report = status_report(demo, AS_OF, round_id=ROUND_ID, lang="zh")
    assert "已升级" not in _line_of(report, "YY-DOC-02")


def test_a_stored_deadline_explained_in_chinese_names_its_rule_in_words(demo: Ledger) -> None:
    """A deadline explained in Chinese gives its label and its rule's Chinese name, not
    the deadline's or the rule's key; English keeps the key for those who read code."""
    view = demo.deadlines("YY-DOC-02")[0]
    zh = view.explain("zh")
    assert zh.splitlines()[0] == "提供资料"
    assert "名称：提供调阅资料" in zh
    assert "provide_due" not in zh
    assert "document_request" not in zh
    en = view.explain("en")
    assert en.splitlines()[0] == "documents due (provide_due)"
    assert "Name: document_request" in en


@pytest.mark.parametrize("name", BUILTIN_RULEBOOKS)
def test_shipped_sources_cite_no_file_of_the_project(name: str) -> None:
    """No source of a built-in rulebook refers to a file outside the package."""
    rulebook = load_rulebook(name)
    for key, (source, confidence) in rulebook.notes.items():
        assert ".md" not in source, key
        assert source.strip(), key
        assert confidence in {"H", "M", "L"}, key


@pytest.mark.parametrize("name", BUILTIN_RULEBOOKS)
def test_sources_without_a_published_rule_say_so(name: str) -> None:
    """A value set per round, for want of a published rule, says so and is not rated H."""
    rulebook = load_rulebook(name)
    for key, (source, confidence) in rulebook.notes.items():
        if "按轮次设置" in source:
            assert confidence != "H", key


def test_the_demo_ends_with_the_commands_that_read_its_ledger_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's last lines are the status and verify commands with its file's path, and
    both run as printed."""
    db = tmp_path / "demo ledger.db"
    assert main(["demo", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    status, verify = lines[-2].strip(), lines[-1].strip()
    quoted = shlex.quote(str(db))
    assert status == f"inspection-flow status {quoted} --as-of 2024-03-31 --lang zh"
    assert verify == f"inspection-flow verify {quoted}"
    assert lines[-3] == "再次查看这个台账："
    assert main(shlex.split(status)[1:]) == 0
    assert "待提供" in capsys.readouterr().out
    assert main(shlex.split(verify)[1:]) == 0
    assert "intact" in capsys.readouterr().out
