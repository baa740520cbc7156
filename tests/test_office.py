"""台账 files: export to Excel and CSV, import of a hand-kept sheet, the 一览表, frames."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    Ledger,
    MemoryStore,
    MissingDependencyError,
    Snapshot,
    SQLStore,
    StoreError,
    TableError,
    TableImportError,
)
from inspection_flow._cli import main
from inspection_flow._demo import build_demo
from inspection_flow._office.cells import CellError, parse_day, parse_instant

ROUND = "HN-2023-R2-YY"
OFFICE = Actor("leading_office", "430000", "湖南省督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
AS_OF = dt.date(2023, 7, 20)


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in Asia/Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


def stationed(ledger: Ledger) -> Ledger:
    """The source case's round, stationed in on 2023-06-26."""
    ledger.create_round(
        ROUND,
        name="湖南省第二轮省级督察·益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2023-06-19", 9),
    )
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at("2023-06-19", 10))
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at("2023-06-26", 9))
    return ledger


def received_and_handed_over(ledger: Ledger) -> Ledger:
    """Four complaints of the first days, three handed over in two batches."""
    calls = [
        ("2023-06-26", 10, "430903", "noise", None),
        ("2023-06-26", 21, "430902", "water", ["water", "air"]),
        ("2023-06-27", 9, "430971", "air", None),
        ("2023-06-28", 9, "430923", "soil", None),
    ]
    for n, (day, hour, area, category, categories) in enumerate(calls, start=1):
        ledger.receive_complaint(
            ROUND,
            channel="phone" if n != 3 else "letter",
            received_at=at(day, hour),
            area=area,
            summary=f"问题{n}：夜间施工噪声扰民",
            category=category,
            categories=categories,
            actor=TEAM,
            complaint_id=f"YY-{n:04d}",
        )
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 27), actor=TEAM, at=at("2023-06-27", 9))
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 9))
    return ledger


def new_ledger(kind: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> Ledger:
    """A ledger under the Hunan rulebook in memory, a SQLite file or PostgreSQL."""
    if kind == "memory":
        return Ledger(rulebook="hunan-provincial-2023")
    target = (
        str(tmp_path / f"{name}.db")
        if kind == "sqlite"
        else str(request.getfixturevalue("pg_schema_url"))
    )
    return Ledger.open(target, rulebook="hunan-provincial-2023")


@pytest.fixture
def source() -> Ledger:
    """The source case with four complaints, in memory."""
    return received_and_handed_over(stationed(Ledger(rulebook="hunan-provincial-2023")))


def events(ledger: Ledger) -> int:
    head = ledger.store.head()
    assert head is not None
    return head.events


# -- export ------------------------------------------------------------------------------


def test_csv_is_utf8_with_a_bom_and_chinese_headers(source: Ledger, tmp_path: Path) -> None:
    """A CSV export starts with the UTF-8 byte-order mark and the 信访件台账 headers."""
    path = tmp_path / "信访件台账.csv"
    source.export(path, kind="complaints", as_of=AS_OF)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][:6] == ["受理编号", "交办批次", "交办日期", "受理时间", "来源", "区县"]
    assert rows[1] == [
        "YY-0001",
        "1",
        "2023-06-27",
        "2023-06-26 10:00",
        "电话",
        "赫山区",
        "噪声",
        "问题1：夜间施工噪声扰民",
        "已交办",
        "",
        "",
        "2023-07-07",
        "是",
        "",
    ]
    # The call at 21:00 belongs to 06-27's intake, handed over in batch 2; both categories.
    assert rows[2][1:3] == ["2", "2023-06-28"]
    assert rows[2][6] == "水、大气"
    assert rows[4][1:3] == ["", ""]
    assert rows[4][8] == "受理"


def test_english_headers(source: Ledger, tmp_path: Path) -> None:
    """lang="en" writes English headers and labels; area names stay as registered."""
    path = tmp_path / "cases.csv"
    source.export(path, kind="complaints", as_of=AS_OF, lang="en")
    rows = list(csv.reader(path.read_text("utf-8-sig").splitlines()))
    assert rows[0][:3] == ["Acceptance number", "Batch", "Handed over"]
    assert rows[1][4] == "phone"
    assert rows[1][8] == "handed over"
    assert rows[1][12] == "yes"


def test_xlsx_has_a_sheet_per_kind_frozen_header_widths_and_date_cells(
    source: Ledger, tmp_path: Path
) -> None:
    """A workbook holds one sheet per kind, header frozen, widths set, days as date cells."""
    path = tmp_path / "台账.xlsx"
    kinds = ["complaints", "tasks", "overdue", "escalations", "disclosure"]
    source.export(path, kind=kinds, as_of=AS_OF)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "信访件台账",
        "整改台账",
        "超期清单",
        "预警升级清单",
        "信访件办理情况一览表",
    ]
    sheet = book["信访件台账"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["H"].width == 40
    assert sheet["C2"].value == dt.datetime(2023, 6, 27)
    assert sheet["C2"].is_date
    assert sheet["C2"].number_format == "yyyy-mm-dd"
    assert sheet["D3"].value == dt.datetime(2023, 6, 26, 21, 0)
    assert sheet["B2"].value == 1
    # Three results are overdue on 07-20 (due 07-07 and 07-10).
    overdue = book["超期清单"]
    assert [c.value for c in overdue[1]][:3] == ["编号", "类型", "区县"]
    assert [row[0].value for row in overdue.iter_rows(min_row=2)] == [
        "YY-0001",
        "YY-0002",
        "YY-0003",
    ]


def test_unknown_kind_and_file_type_are_refused(source: Ledger, tmp_path: Path) -> None:
    """An unknown kind or file type is a TableError naming what to use; nothing is written."""
    with pytest.raises(TableError, match="use one of complaints, tasks"):
        source.export(tmp_path / "a.csv", kind="letters", as_of=AS_OF)
    with pytest.raises(TableError, match=r"\.xlsx or \.csv"):
        source.export(tmp_path / "a.ods", as_of=AS_OF)
    with pytest.raises(TableError, match="one table"):
        source.export(tmp_path / "a.csv", kind=["complaints", "tasks"], as_of=AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_import_refuses_a_missing_file_and_an_unknown_channel(
    source: Ledger, tmp_path: Path
) -> None:
    """A missing file, another file type or an unknown default channel is a TableError."""
    with pytest.raises(TableError, match="no such file"):
        source.import_table(tmp_path / "missing.csv")
    with pytest.raises(TableError, match=r"\.xlsx or \.csv"):
        source.import_table(tmp_path / "a.ods")
    path = tmp_path / "a.csv"
    source.export(path, as_of=AS_OF)
    with pytest.raises(TableError, match="no channel"):
        source.import_table(path, channel="pigeon")


def test_export_reads_the_ledger_as_of_the_day(source: Ledger, tmp_path: Path) -> None:
    """A table as of 06-27 holds the cases received by then, before the second batch."""
    path = tmp_path / "a.csv"
    source.export(path, as_of=dt.date(2023, 6, 27))
    rows = list(csv.reader(path.read_text("utf-8-sig").splitlines()))[1:]
    assert [r[0] for r in rows] == ["YY-0001", "YY-0002", "YY-0003"]
    assert [r[8] for r in rows] == ["已交办", "受理", "受理"]


def test_disclosure_list_leaves_personal_data_out(tmp_path: Path) -> None:
    """The 一览表 has the published columns and never a complainant's name or phone."""
    ledger = received_and_handed_over(stationed(Ledger(rulebook="hunan-provincial-2023")))
    ledger.receive_complaint(
        ROUND,
        channel="phone",
        received_at=at("2023-06-28", 10),
        area="430903",
        summary="某厂夜间排放废气",
        category="air",
        actor=TEAM,
        complaint_id="YY-0005",
        complainant="张三",
        phone="13800000000",
    )
    ledger.hand_over_batch(ROUND, dt.date(2023, 6, 29), actor=TEAM, at=at("2023-06-29", 9))
    path = tmp_path / "一览表.csv"
    ledger.export(path, kind="disclosure", as_of=AS_OF, batch=3)
    text = path.read_text("utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == [
        "序号",
        "受理编号",
        "交办问题基本情况",
        "行政区域",
        "污染类型",
        "调查核实情况",
        "是否属实",
        "处理和整改情况",
        "责任人被处理情况",
    ]
    # Batch 3 holds 06-28's intake: YY-0004 and the new case.
    assert rows[1][:2] == ["1", "YY-0004"]
    assert rows[2][:5] == ["2", "YY-0005", "某厂夜间排放废气", "赫山区", "大气"]
    assert "张三" not in text
    assert "13800000000" not in text


def test_disclosure_shows_findings_handling_and_accountability() -> None:
    """A handled case's row gives its finding, result, dispositions and who was held to
    account."""
    from inspection_flow._office import table_rows

    ledger = Ledger(rulebook="hunan-provincial-2023")
    build_demo(ledger)
    table = table_rows(ledger, "disclosure", as_of=dt.date(2024, 3, 31), batch=1)
    assert table.title == "第1批信访件办理情况一览表"
    first = table.rows[0]
    assert first[:2] == (1, "YY-0001")
    assert first[6] == "属实"
    assert first[7] == "已调查处理，详见办理情况；责令整改"
    assert {row[8] for row in table.rows} <= {"无"} | {r[8] for r in table.rows if "人" in r[8]}


def test_escalation_list_shows_the_furthest_step_recorded_by_the_day() -> None:
    """The escalation list names each deadline's furthest step recorded by the sweep as of
    the day: a yellow card in early January, a supervision letter later, a summons talk by
    March."""
    from inspection_flow._office import table_rows

    ledger = Ledger(rulebook="hunan-provincial-2023")
    build_demo(ledger)
    ledger.sweep(dt.datetime(2024, 3, 1, tzinfo=SHANGHAI))
    steps = {
        day: {row[6] for row in table_rows(ledger, "escalations", as_of=day).rows}
        for day in (dt.date(2023, 12, 31), dt.date(2024, 1, 5), dt.date(2024, 1, 20))
    }
    assert steps == {
        dt.date(2023, 12, 31): set(),
        dt.date(2024, 1, 5): {"超期黄牌"},
        dt.date(2024, 1, 20): {"督办函"},
    }
    march = table_rows(ledger, "escalations", as_of=dt.date(2024, 3, 31))
    assert [row[0] for row in march.rows] == ["YY-T04", "YY-T25", "YY-T28", "YY-T31", "YY-T34"]
    assert {row[6] for row in march.rows} == {"约谈"}
    assert march.rows[0][4:6] == ("整改时限", dt.date(2023, 12, 31))


def test_task_ledger_columns_follow_progress() -> None:
    """The 整改台账 gives each task's owner, deadline, 序时进度 and how far it has come
    towards closing."""
    from inspection_flow._office import table_rows

    ledger = Ledger(rulebook="hunan-provincial-2023")
    build_demo(ledger)
    table = table_rows(ledger, "tasks", as_of=dt.date(2024, 3, 31))
    first, second = table.rows[:2]
    assert first[:5] == (
        1,
        "反馈问题1：赫山区夜间施工噪声扰民整治不到位",
        "赫山区",
        "制定专项整治方案，明确责任人和时限",
        dt.date(2023, 12, 31),
    )
    assert first[5:] == ("备案", "已完成", "是", "是", "是")
    assert second[5:] == ("整改中", "达到序时进度", "否", "否", "否")
    assert len(table.rows) == 36


# -- round trip and idempotency ----------------------------------------------------------


@pytest.mark.parametrize(
    "store", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_import_export_gives_the_same_contents(
    source: Ledger, tmp_path: Path, request: pytest.FixtureRequest, store: str, suffix: str
) -> None:
    """A ledger exported, imported into a new ledger and exported again gives the same
    file contents; importing it again adds nothing."""
    first = tmp_path / f"first{suffix}"
    source.export(first, kind=["complaints"], as_of=AS_OF)
    copy = stationed(new_ledger(store, tmp_path, request, "copy"))
    try:
        report = copy.import_table(first)
        assert (report.received, report.handed_over, report.already) == (4, 3, 0)
        assert "办理状态" in report.not_recorded
        second = tmp_path / f"second{suffix}"
        copy.export(second, kind=["complaints"], as_of=AS_OF)
        if suffix == ".csv":
            assert first.read_bytes() == second.read_bytes()
        else:
            assert cells(first) == cells(second)
        before = events(copy)
        again = copy.import_table(first)
        assert (again.received, again.handed_over, again.already) == (0, 0, 4)
        assert events(copy) == before
        snap = copy.get("YY-0002")
        assert (snap.state, snap.batch, snap.data["categories"]) == (
            "handed_over",
            2,
            ["water", "air"],
        )
    finally:
        copy.close()


def cells(path: Path) -> list[list[list[Any]]]:
    book = openpyxl.load_workbook(path)
    return [[[c.value for c in row] for row in sheet.iter_rows()] for sheet in book.worksheets]


# -- a messy hand-kept sheet -------------------------------------------------------------


def messy_workbook(path: Path, *, bad: bool) -> None:
    """A 台账 as an office keeps it: a title row, headers in its own words, dates typed in
    every form, a time column, an Excel serial date, notes; optionally bad rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "6月台账"
    sheet.append(["益阳市迎接省生态环境保护督察信访件台账（第一周）"])
    sheet.append([])
    sheet.append(
        [
            "序号",
            "受理\n编号",
            "来电日期",
            "受理时间（24小时制）",
            "所属区县",
            "问题类型",
            "举报内容",
            "交办日期",
            "批次",
            "备注",
        ]
    )
    rows: list[list[Any]] = [
        [
            1,
            "D001",
            "2023/6/26",
            "10:05",
            "赫山区",
            "噪声",
            "工地夜间施工",
            "2023年6月27日",
            "第1批",
            "",
        ],
        [
            2,
            "D002",
            "2023年6月26日",
            "20:30",
            "资阳区",
            "水污染、大气",
            "企业偷排废水\n气味刺鼻",
            "6月28日",
            2,
            "来电",
        ],
        [
            3,
            "D003",
            dt.datetime(2023, 6, 27),
            "9:15",
            "430971",
            "大气污染",
            "养殖场臭气",
            45105,
            "2",
            "",
        ],
        [4, " D004 ", "6月28日", None, "安化县", "土壤", "矿区废渣堆放", None, None, "待交办"],
    ]
    if bad:
        rows += [
            [5, "D005", "2023/13/27", "10:00", "赫山区", "噪声", "噪声扰民", None, None, ""],
            [6, "D006", "2023/6/28", "10:00", "赫山县", "噪声", "噪声扰民", None, None, ""],
            [7, "D007", "2023/6/28", "11:00", "桃江县", "光污染", "", None, None, ""],
            [8, "D001", "2023/6/28", "12:00", "桃江县", "噪声", "重复编号", None, None, ""],
        ]
    for row in rows:
        sheet.append(row)
    sheet["H6"].number_format = "yyyy/m/d"
    book.save(path)


def test_a_messy_sheet_is_imported_as_a_clerk_typed_it(tmp_path: Path) -> None:
    """Headers in local words, mixed date forms, a time column and serial dates are read;
    each complaint's intake follows its time, each batch its 交办日期."""
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    path = tmp_path / "台账.xlsx"
    messy_workbook(path, bad=False)
    report = ledger.import_table(path)
    assert (report.received, report.handed_over, report.already) == (4, 3, 0)
    assert report.sheet == "6月台账"
    assert set(report.not_recorded) == {"序号", "备注"}
    first, second, third, fourth = (ledger.get(f"D00{n}") for n in range(1, 5))
    assert first.data["received_at"] == "2023-06-26T10:05:00+08:00"
    assert (first.batch, first.data["handed_over_day"]) == (1, "2023-06-27")
    # 20:30 is after the hotline closed: 06-27's intake, in the batch of 06-28.
    assert second.data["intake_day"] == "2023-06-27"
    assert (second.batch, second.category, second.data["categories"]) == (
        2,
        "water",
        ["water", "air"],
    )
    assert second.data["summary"] == "企业偷排废水 气味刺鼻"
    assert (third.area, third.batch, third.data["handed_over_day"]) == ("430971", 2, "2023-06-28")
    # No time given: noon of the day, waiting for its batch.
    assert (fourth.state, fourth.data["received_at"]) == ("received", "2023-06-28T12:00:00+08:00")


def test_bad_rows_are_all_reported_and_nothing_is_imported(tmp_path: Path) -> None:
    """Every bad row is reported with sheet, row, column and reason; nothing is written."""
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    before = events(ledger)
    path = tmp_path / "台账.xlsx"
    messy_workbook(path, bad=True)
    with pytest.raises(TableImportError) as caught:
        ledger.import_table(path)
    found = [(p.sheet, p.row, p.column) for p in caught.value.problems]
    assert found == [
        ("6月台账", 8, "来电日期"),
        ("6月台账", 9, "所属区县"),
        ("6月台账", 10, "问题类型"),
        ("6月台账", 10, "举报内容"),
        ("6月台账", 11, "受理\n编号"),
    ]
    reasons = [p.reason for p in caught.value.problems]
    assert "month must be in 1..12" in reasons[0]
    assert "430903 赫山区" in reasons[1]
    assert "'光污染' is no pollution category" in reasons[2]
    assert reasons[3] == "empty"
    assert reasons[4] == "the same 受理编号 as row 4"
    assert "nothing was imported" in str(caught.value)
    assert events(ledger) == before


def test_skip_bad_imports_the_good_rows_and_writes_the_rejects(tmp_path: Path) -> None:
    """With skip_bad the good rows are imported and the bad ones written with reasons."""
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    path = tmp_path / "台账.xlsx"
    messy_workbook(path, bad=True)
    rejects = tmp_path / "rejects.csv"
    report = ledger.import_table(path, skip_bad=rejects)
    assert report.received == 4
    assert report.rejects_path == str(rejects)
    rows = list(csv.reader(rejects.read_text("utf-8-sig").splitlines()))
    assert rows[0][0] == "行号"
    assert rows[0][-1] == "原因"
    assert [r[0] for r in rows[1:]] == ["8", "9", "10", "11"]
    assert "问题类型" in rows[3][-1]
    assert "举报内容: empty" in rows[3][-1]
    assert len(ledger.find(kind="complaint")) == 4


def test_a_mapping_file_names_local_headers(tmp_path: Path) -> None:
    """A TOML mapping file maps headers no synonym knows to fields."""
    path = tmp_path / "local.csv"
    path.write_text(
        "件编码,收到时间,乡镇,种类,群众反映\nX-1,2023-06-26 10:00,赫山区,噪声,广场舞噪声\n",
        encoding="utf-8",
    )
    with pytest.raises(TableError, match="no header row"):
        stationed(Ledger(rulebook="hunan-provincial-2023")).import_table(path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\n"件编码" = "受理编号"\n"收到时间" = "received_at"\n"乡镇" = "area"\n'
        '"种类" = "类别"\n"群众反映" = "summary"\n',
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    assert ledger.import_table(path, mapping=mapping).received == 1
    assert ledger.get("X-1").data["summary"] == "广场舞噪声"


def test_a_list_of_cases_handed_over_is_read_without_receipt_times(tmp_path: Path) -> None:
    """A list in the published form, with no receipt column, records each case as
    received the day before its 交办日期; areas named with their city, categories in
    longer words."""
    path = tmp_path / "交办清单.csv"
    path.write_text(
        "序号,受理编号,交办日期,行政区域,污染类型,交办问题基本情况\n"
        "1,X430000202306260001,2023-06-27,益阳市赫山区,工业废气,化工厂夜间排放刺鼻气体\n"
        "2,D430000202306260002,2023-06-27,湖南省益阳市资阳区,生活污水、建筑噪音,小区污水外溢\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    report = ledger.import_table(path, channel="letter")
    assert (report.received, report.handed_over) == (2, 2)
    first = ledger.get("X430000202306260001")
    assert (first.area, first.category, first.batch) == ("430903", "air", 1)
    assert first.data["received_at"] == "2023-06-26T12:00:00+08:00"
    second = ledger.get("D430000202306260002")
    assert (second.area, second.data["categories"]) == ("430902", ["water", "noise"])


def test_an_area_under_another_city_is_not_taken_for_a_county(tmp_path: Path) -> None:
    """A county name after a city that does not contain it is refused, not guessed."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要\nA-1,2023-06-26 10:00,长沙市赫山区,噪声,噪声\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    with pytest.raises(TableImportError) as caught:
        ledger.import_table(path)
    assert caught.value.problems[0].column == "区县"


def test_an_actor_who_may_not_hand_over_imports_nothing(tmp_path: Path) -> None:
    """Rows to hand over, imported by someone who may not hand over, import nothing."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
        "A-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    before = events(ledger)
    liaison = Actor("liaison", "430900", "益阳市督察联络组")
    with pytest.raises(TableError, match="may not hand over batches"):
        ledger.import_table(path, actor=liaison)
    assert events(ledger) == before


def test_a_gb18030_csv_is_read(tmp_path: Path) -> None:
    """A CSV saved by Excel on Chinese Windows (GB18030) reads as well as UTF-8."""
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        "受理编号,受理时间,区县,类别,内容摘要\nG-1,2023/6/27 8:30,南县,水,河道污染\n".encode(
            "gb18030"
        )
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    assert ledger.import_table(path).received == 1
    assert ledger.get("G-1").area == "430921"


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_an_import_hands_over_each_day_as_hand_over_batch_does(store: str, tmp_path: Path) -> None:
    """An import's hand-overs, the waiting cases found once for all its days, give the
    batches hand_over_batch gives called day by day."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
        "B-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27\n"
        "B-2,2023-06-27 10:00,赫山区,噪声,噪声,2023-06-28\n"
        "B-3,2023-06-27 11:00,赫山区,噪声,噪声,2023-06-28\n"
        "B-4,2023-06-28 11:00,赫山区,噪声,噪声,2023-06-29\n",
        encoding="utf-8",
    )

    def ledger(name: str) -> Ledger:
        return stationed(
            Ledger(rulebook="hunan-provincial-2023")
            if store == "memory"
            else Ledger.open(tmp_path / f"{name}.db", rulebook="hunan-provincial-2023")
        )

    imported, by_hand = ledger("imported"), ledger("by_hand")
    report = imported.import_table(path, actor=TEAM)
    assert (report.received, report.handed_over) == (4, 4)
    received = ("2023-06-26 10", "2023-06-27 10", "2023-06-27 11", "2023-06-28 11")
    for n, when in enumerate(received, start=1):
        day, hour = when.split()
        by_hand.receive_complaint(
            ROUND,
            channel="phone",
            received_at=at(day, int(hour)),
            area="430903",
            summary="噪声",
            category="noise",
            actor=TEAM,
            complaint_id=f"B-{n}",
        )
    for day in ("2023-06-27", "2023-06-28", "2023-06-29"):
        by_hand.hand_over_batch(ROUND, dt.date.fromisoformat(day), actor=TEAM, at=at(day, 9))
    assert {s.entity_id: s.batch for s in imported.find(kind="complaint")} == {
        s.entity_id: s.batch for s in by_hand.find(kind="complaint")
    }
    assert [s.batch for s in imported.find(kind="complaint")] == [1, 2, 2, 3]
    imported.close()
    by_hand.close()


class AnswersBackwards(MemoryStore):
    """A store of one's own whose get_many answers in the reverse of the order asked:
    the contract promises a mapping by id, no order."""

    def get_many(self, entity_ids: Collection[str]) -> dict[str, Snapshot]:
        found = super().get_many(entity_ids)
        return dict(reversed(list(found.items())))


def test_an_imported_batch_lists_its_cases_in_id_order(tmp_path: Path) -> None:
    """An import's batch lists its cases in id order, as hand_over_batch does, whatever
    order the store reads them in."""
    path = tmp_path / "a.csv"
    rows = [f"B-{n},2023-06-26 1{n}:00,赫山区,噪声,噪声,2023-06-27" for n in range(5)]
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要,交办日期\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(AnswersBackwards(), rulebook="hunan-provincial-2023"))
    ledger.import_table(path, actor=TEAM)
    (batch,) = [e for e in ledger.history(ROUND) if e.name == "record_batch"]
    assert batch.payload["cases"] == [f"B-{n}" for n in range(5)]


class MarksACaseKey(MemoryStore):
    """A store of one's own through which another clerk marks case K-1 key once the
    import's receipts are written, before its hand-overs."""

    ledger: Ledger | None = None

    def count_values(self, fields: Any, **filters: Any) -> dict[tuple[Any, ...], int]:
        ledger, self.ledger = self.ledger, None
        if ledger is not None:
            ledger.fire("K-1", "mark_key", actor=TEAM, at=at("2023-06-27", 8))
        return super().count_values(fields, **filters)


def test_a_case_moved_on_during_an_import_is_read_again_and_handed_over(
    tmp_path: Path,
) -> None:
    """The import hands over the cases it received without reading them back; one that
    another clerk changed meanwhile fails that write's version check, and the day's
    cases are then read again and handed over."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
        "K-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27\n"
        "K-2,2023-06-26 11:00,赫山区,噪声,噪声,2023-06-27\n",
        encoding="utf-8",
    )
    store = MarksACaseKey()
    ledger = stationed(Ledger(store, rulebook="hunan-provincial-2023"))
    store.ledger = ledger
    report = ledger.import_table(path, actor=TEAM)
    assert (report.received, report.handed_over) == (2, 2)
    assert store.ledger is None  # the case was marked in between
    case = ledger.get("K-1")
    assert case.state == "handed_over"
    assert [e.name for e in ledger.history("K-1")] == ["create", "mark_key", "batch", "hand_over"]


class RefusesTheSecondBatch(MemoryStore):
    """A store whose database refuses, while ``refusing``, any write that records a
    round's second batch."""

    refusing = True

    def append_batch(self, commits: Any) -> Any:
        if self.refusing and any(
            e.name == "record_batch" and e.payload["number"] == 2 for c in commits for e in c.events
        ):
            raise StoreError("the database refused the write: the disk is full")
        return super().append_batch(commits)


TWO_DAYS = (
    "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
    "L-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27\n"
    "L-2,2023-06-27 10:00,赫山区,噪声,噪声,2023-06-28\n"
)


def test_an_import_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    """The receipts and the hand-overs of every day are one write: when the database
    refuses it, nothing of the file is written, and the file imported again is."""
    path = tmp_path / "a.csv"
    path.write_text(TWO_DAYS, encoding="utf-8")
    store = RefusesTheSecondBatch()
    ledger = stationed(Ledger(store, rulebook="hunan-provincial-2023"))
    before = events(ledger)
    with pytest.raises(StoreError, match="disk is full"):
        ledger.import_table(path, actor=TEAM)
    assert events(ledger) == before
    assert ledger.get(ROUND).data["batches"] == 0
    store.refusing = False
    report = ledger.import_table(path, actor=TEAM)
    assert (report.received, report.handed_over, report.already) == (2, 2, 0)
    assert [(ledger.get(i).state, ledger.get(i).batch) for i in ("L-1", "L-2")] == [
        ("handed_over", 1),
        ("handed_over", 2),
    ]


def test_an_import_reads_and_writes_with_the_collector_paused(tmp_path: Path) -> None:
    """The rows an import reads stay alive until its write: the cyclic collector is
    paused from the file's reading to the end of the write, so that it does not walk
    them again and again, and enabled again after."""
    rows = ["受理编号,受理时间,区县,类别,内容摘要,交办日期"]
    rows += [f"L-{k},2023-06-26 10:00,赫山区,噪声,噪声{k},2023-06-27" for k in range(3000)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.collect()
    gc.callbacks.append(seen)
    try:
        report = ledger.import_table(path, actor=TEAM)
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(seen)
        (gc.enable if was else gc.disable)()
    assert (report.received, report.handed_over) == (3000, 3000)
    # At most the one collection that may start as the pause ends.
    assert len(collections) <= 1, collections


def test_an_import_inside_a_batch_joins_its_write(tmp_path: Path) -> None:
    """Inside a batch the import hands over the cases it receives, and nothing is
    written before the batch ends."""
    path = tmp_path / "a.csv"
    path.write_text(TWO_DAYS, encoding="utf-8")
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    before = events(ledger)
    with ledger.batch():
        report = ledger.import_table(path, actor=TEAM)
        assert events(ledger) == before
        assert ledger.get("L-2").state == "handed_over"
    assert (report.received, report.handed_over) == (2, 2)
    assert [(ledger.get(i).state, ledger.get(i).batch) for i in ("L-1", "L-2")] == [
        ("handed_over", 1),
        ("handed_over", 2),
    ]
    assert events(ledger) == before + 2 * 3 + 2


class AnotherClerkMarksACaseKey:
    """A store through which another clerk, with a ledger of their own, marks case K-0
    key just before the import's write, once ``clerk`` is set."""

    clerk: Ledger | None = None

    def append_batch(self, commits: Any) -> Any:
        clerk, self.clerk = self.clerk, None
        if clerk is not None:
            clerk.fire("K-0", "mark_key", actor=TEAM, at=at("2023-06-27", 8))
        return super().append_batch(commits)


class MemoryClerk(AnotherClerkMarksACaseKey, MemoryStore):
    pass


class SQLClerk(AnotherClerkMarksACaseKey, SQLStore):
    pass


@pytest.mark.parametrize(
    "kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_import_whose_case_moved_on_is_written_again(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """A case the import hands over, changed by another clerk after the import read it,
    fails the write's version check: nothing is written, and the import is written
    again in two writes (the receipts, then the hand-overs), the case read again."""
    path = tmp_path / "a.csv"
    header = "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
    path.write_text(header + "K-0,2023-06-26 09:00,赫山区,噪声,噪声,\n", encoding="utf-8")
    store: MemoryClerk | SQLClerk
    if kind == "memory":
        store = MemoryClerk()
    elif kind == "sqlite":
        store = SQLClerk(tmp_path / "a.db")
    else:
        store = SQLClerk(request.getfixturevalue("pg_schema_url"))
    ledger = stationed(Ledger(store, rulebook="hunan-provincial-2023"))
    try:
        assert ledger.import_table(path, actor=TEAM).received == 1
        path.write_text(
            header + "K-0,2023-06-26 09:00,赫山区,噪声,噪声,2023-06-27\n"
            "K-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27\n",
            encoding="utf-8",
        )
        store.clerk = Ledger(store, rulebook="hunan-provincial-2023")
        report = ledger.import_table(path, actor=TEAM)
        assert store.clerk is None  # the case was marked in between
        assert (report.received, report.handed_over, report.already) == (1, 2, 1)
        names = [e.name for e in ledger.history("K-0")]
        assert names == ["create", "mark_key", "batch", "hand_over"]
        assert [e.name for e in ledger.history("K-1")] == ["create", "batch", "hand_over"]
        assert ledger.get("K-1").batch == ledger.get("K-0").batch == 1
        assert ledger.verify().ok
    finally:
        ledger.close()


def test_a_table_filled_in_day_by_day_hands_over_the_cases_it_holds(tmp_path: Path) -> None:
    """A 台账 imported again once its 交办日期 are filled in hands over the cases the ledger
    received from it before and that still wait: the ledger ends as the file says."""
    path = tmp_path / "a.csv"
    header = "受理编号,受理时间,区县,类别,内容摘要,交办日期,交办批次\n"
    path.write_text(
        header + "F-1,2023-06-26 10:00,赫山区,噪声,噪声,,\n"
        "F-2,2023-06-26 11:00,赫山区,大气,废气,,\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    first = ledger.import_table(path)
    assert (first.received, first.handed_over, first.already) == (2, 0, 0)
    path.write_text(
        header + "F-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27,1\n"
        "F-2,2023-06-26 11:00,赫山区,大气,废气,2023-06-27,1\n"
        "F-3,2023-06-27 10:00,赫山区,噪声,噪声,,\n",
        encoding="utf-8",
    )
    second = ledger.import_table(path)
    assert (second.received, second.handed_over, second.already) == (1, 2, 2)
    assert [ledger.get(i).state for i in ("F-1", "F-2", "F-3")] == [
        "handed_over",
        "handed_over",
        "received",
    ]
    assert ledger.get("F-1").batch == ledger.get("F-2").batch == 1
    # Once handed over, the same file adds nothing.
    before = events(ledger)
    third = ledger.import_table(path)
    assert (third.received, third.handed_over, third.already) == (0, 0, 3)
    assert events(ledger) == before


def test_a_held_case_handed_over_before_its_batch_day_is_refused(tmp_path: Path) -> None:
    """A 交办日期 the file now gives to a case the ledger holds is checked as a new row's
    is: before the batch day of its receipt, the file is refused and nothing changes."""
    path = tmp_path / "a.csv"
    header = "受理编号,受理时间,区县,类别,内容摘要,交办日期\n"
    path.write_text(header + "G-1,2023-06-27 10:00,赫山区,噪声,噪声,\n", encoding="utf-8")
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    ledger.import_table(path)
    path.write_text(header + "G-1,2023-06-27 10:00,赫山区,噪声,噪声,2023-06-27\n", encoding="utf-8")
    before = events(ledger)
    with pytest.raises(TableImportError) as caught:
        ledger.import_table(path)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (2, "交办日期")
    assert "before the batch day 2023-06-28" in problem.reason
    assert events(ledger) == before
    assert ledger.get("G-1").state == "received"


def test_a_bad_cell_repeated_on_many_rows_is_reported_on_each(tmp_path: Path) -> None:
    """Readings are remembered by cell text, refusals are not: each row with the same bad
    area is reported, and a good area after them is still read."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要\n"
        "H-1,2023-06-26 10:00,赫山县,噪声,噪声\n"
        "H-2,2023-06-26 11:00,赫山县,噪声,噪声\n"
        "H-3,2023-06-26 12:00,赫山区,噪声,噪声\n"
        "H-4,2023-06-26 13:00,赫山区,噪声,噪声\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    report = ledger.import_table(path, skip_bad=True)
    assert [(p.row, p.column) for p in report.rejected] == [(2, "区县"), (3, "区县")]
    assert report.received == 2
    assert ledger.get("H-3").area == ledger.get("H-4").area == "430903"


def test_a_batch_that_contradicts_the_ledger_is_refused(tmp_path: Path) -> None:
    """A 交办批次 other than the batch its 交办日期 makes is refused, even with skip_bad."""
    path = tmp_path / "a.csv"
    path.write_text(
        "受理编号,受理时间,区县,类别,内容摘要,交办日期,交办批次\n"
        "B-1,2023-06-26 10:00,赫山区,噪声,噪声,2023-06-27,3\n",
        encoding="utf-8",
    )
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    with pytest.raises(TableImportError) as caught:
        ledger.import_table(path, skip_bad=True)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (2, "交办批次")
    assert "batch 1 of the round" in problem.reason
    assert ledger.find(kind="complaint") == []


# -- dates -------------------------------------------------------------------------------


@given(st.dates(min_value=dt.date(1960, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_every_typed_form_of_a_day_reads_as_that_day(day: dt.date) -> None:
    """The forms offices type and Excel's serial numbers give the day a naive count gives."""
    y, m, d = day.year, day.month, day.day
    serial = (day - dt.date(1899, 12, 30)).days
    forms: list[Any] = [
        f"{y}/{m}/{d}",
        f"{y}-{m:02d}-{d:02d}",
        f"{y}年{m}月{d}日",
        f"{y}.{m}.{d}",
        f"{y}{m:02d}{d:02d}",
        serial,
        float(serial),
        str(serial),
        dt.datetime(y, m, d),
    ]
    for form in forms:
        assert parse_day(form, 2023) == day, form
    assert parse_day(f"{m}月{d}日", y) == day


def test_times_and_days_combine() -> None:
    """A time column joins the day column; a serial fraction is a time of day."""
    assert parse_instant("20:30", "6月27日", 2023, default_time=dt.time(12)) == at(
        "2023-06-27", 20, 30
    )
    assert parse_instant(45104.5, None, 2023, default_time=dt.time(12)) == at("2023-06-27", 12)
    assert parse_instant("2023年6月27日 8时5分", None, 2023, default_time=dt.time(12)) == at(
        "2023-06-27", 8, 5
    )
    with pytest.raises(CellError, match="no day of receipt"):
        parse_instant("20:30", None, 2023, default_time=dt.time(12))
    with pytest.raises(CellError, match="not a date or time"):
        parse_day("下周一", 2023)
    with pytest.raises(CellError, match="plausible year"):
        parse_day(12, 2023)


# -- frames and the extra ----------------------------------------------------------------


def test_to_frame_has_typed_columns_and_chinese_labels(source: Ledger) -> None:
    """A frame's columns are typed: numbers, days, instants, text; labels in attrs."""
    frame = source.to_frame("complaints", as_of=AS_OF)
    assert str(frame["batch"].dtype) == "Int64"
    assert frame["handed_over"].dtype.kind == "M"
    assert str(frame["received_at"].dt.tz) == "Asia/Shanghai"
    assert frame.attrs["labels"]["number"] == "受理编号"
    assert frame.groupby("area").size().to_dict() == {
        "大通湖区": 1,
        "安化县": 1,
        "资阳区": 1,
        "赫山区": 1,
    }
    zh = source.to_frame("complaints", as_of=AS_OF, columns="zh")
    assert list(zh.columns[:2]) == ["受理编号", "交办批次"]


def test_to_frame_with_polars(source: Ledger) -> None:
    """engine="polars" gives a polars frame with the same typed columns."""
    pl = pytest.importorskip("polars")
    frame = source.to_frame("complaints", as_of=AS_OF, engine="polars", columns="zh")
    assert frame.schema["交办批次"] == pl.Int64
    assert frame.schema["交办日期"] == pl.Date
    assert frame.schema["受理时间"] == pl.Datetime(time_zone="Asia/Shanghai")
    assert frame["受理编号"].to_list() == ["YY-0001", "YY-0002", "YY-0003", "YY-0004"]
    assert frame["交办日期"].to_list()[:2] == [dt.date(2023, 6, 27), dt.date(2023, 6, 28)]


def test_a_missing_extra_names_the_install_command(
    source: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without openpyxl or the frame library the error says how to install the extra."""
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'inspection-flow\[office\]'"):
        source.export(tmp_path / "a.xlsx", as_of=AS_OF)
    assert not (tmp_path / "a.xlsx").exists()
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(MissingDependencyError, match="polars"):
        source.to_frame("complaints", as_of=AS_OF, engine="polars")


def test_the_core_imports_without_the_office_libraries() -> None:
    """``import inspection_flow`` loads neither openpyxl nor pandas."""
    code = (
        "import sys, inspection_flow; "
        "assert 'openpyxl' not in sys.modules and 'pandas' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- reprs -------------------------------------------------------------------------------


def test_reprs_are_short_and_say_what_matters(source: Ledger) -> None:
    """Ledger, Snapshot, DeadlineView and Due have short reprs and notebook tables."""
    assert repr(source) == (
        "<Ledger store=MemoryStore, rulebook=hunan-provincial-2023, entities=5, events=15>"
    )
    snap = source.get("YY-0001")
    text = repr(snap)
    assert len(text) < 200
    assert "handed_over" in text
    assert "430903" in text
    assert "result_due 2023-07-07 open" in text
    assert "<td>result_due</td><td>2023-07-07</td>" in snap._repr_html_()
    assert "| result_due | 2023-07-07 |" in snap._repr_markdown_()
    view = next(v for v in source.deadlines("YY-0001") if v.name == "result_due")
    assert repr(view).startswith("<DeadlineView result_due (")
    assert "2023-07-07" in repr(view)
    assert "open" in repr(view)
    assert view.due is not None
    assert repr(view.due).startswith("<Due 10 ")
    assert "<td>last day</td><td>2023-07-07</td>" in view.due._repr_html_()
    assert "| entities | 5 |" in source._repr_markdown_()
    assert "as of" in repr(source.as_of(AS_OF))


def test_html_reprs_escape_text() -> None:
    """Text in an HTML repr is escaped."""
    from inspection_flow._display import html_table, markdown_table

    assert "&lt;b&gt;" in html_table("t", ["a"], [["<b>"]])
    assert "a\\|b" in markdown_table("t", ["x"], [["a|b"]])


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    """A SQLite ledger holding the source case with four complaints."""
    db = str(tmp_path / "yiyang.db")
    with Ledger.open(db, rulebook="hunan-provincial-2023") as ledger:
        received_and_handed_over(stationed(ledger))
    return db


def test_cli_export_and_import(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """export writes the tables; import into a new ledger reports what it recorded."""
    xlsx = str(tmp_path / "台账.xlsx")
    assert (
        main(
            [
                "export",
                demo_db,
                xlsx,
                "--kind",
                "complaints",
                "--kind",
                "tasks",
                "--as-of",
                "2023-07-20",
            ]
        )
        == 0
    )
    assert openpyxl.load_workbook(xlsx).sheetnames == ["信访件台账", "整改台账"]
    copy = str(tmp_path / "copy.db")
    with Ledger.open(copy, rulebook="hunan-provincial-2023") as ledger:
        stationed(ledger)
    capsys.readouterr()
    assert main(["import", copy, xlsx, "--rulebook", "hunan-provincial-2023"]) == 0
    assert "4 received, 3 handed over, 0 already" in capsys.readouterr().out
    assert main(["import", copy, xlsx]) == 0
    assert "0 received, 0 handed over, 4 already" in capsys.readouterr().out


def test_cli_import_lists_bad_rows_and_skips_them_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad rows are listed one a line and refuse the import; --skip-bad writes them out."""
    db = str(tmp_path / "a.db")
    with Ledger.open(db, rulebook="hunan-provincial-2023") as ledger:
        stationed(ledger)
    path = tmp_path / "台账.xlsx"
    messy_workbook(path, bad=True)
    assert main(["import", db, str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "5 problem(s), nothing was imported" in err[0]
    assert err[1].startswith("  6月台账 row 8, column 来电日期 ('2023/13/27')")
    rejects = tmp_path / "rejects.xlsx"
    assert main(["import", db, str(path), "--skip-bad", str(rejects)]) == 0
    assert "4 bad row(s) skipped" in capsys.readouterr().out
    assert openpyxl.load_workbook(rejects)["未导入"].max_row == 5
    assert main(["import", str(tmp_path / "missing.db"), str(path)]) == 2
