"""The briefing (工作简报): its figures against counts made independently from the ledger's
events, and its Word, HTML and Markdown forms read back."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspection_flow import (
    COMPLAINT,
    SHANGHAI,
    TASK,
    Actor,
    Briefing,
    EntityNotFoundError,
    Event,
    Ledger,
    MissingDependencyError,
    PayloadError,
    briefing_docx,
    briefing_html,
    briefing_markdown,
)
from inspection_flow._demo import ROUND_ID, build_demo

#: Days of the source case's round: the first briefing's day (第1期, 2023-06-27), a day
#: of the station-in, the week after it, and a day of the rectification.
DAYS = (
    (dt.date(2023, 6, 27), "day"),
    (dt.date(2023, 7, 5), "day"),
    (dt.date(2023, 7, 20), "week"),
    (dt.date(2024, 3, 31), "day"),
)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo round in a SQLite file, swept to the end of 2024-03-31."""
    path = tmp_path_factory.mktemp("briefing") / "yiyang.db"
    with Ledger.open(str(path), rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger)
        ledger.sweep(dt.datetime(2024, 4, 1, tzinfo=SHANGHAI))
    return path


@pytest.fixture(scope="module")
def demo(demo_file: Path) -> Iterator[Ledger]:
    with Ledger.open(str(demo_file), read_only=True) as ledger:
        yield ledger


def _events_by(ledger: Ledger, cutoff: dt.datetime) -> dict[str, list[Event]]:
    """Every entity's events that happened by ``cutoff``, read one by one."""
    out = {}
    for snap in ledger.find():
        kept = [e for e in ledger.history(snap.entity_id) if e.at <= cutoff]
        if kept:
            out[snap.entity_id] = kept
    return out


def _states(lifecycle: object, counts_as: str) -> set[str]:
    return {s.name for s in lifecycle.states if s.counts_as == counts_as}  # type: ignore[attr-defined]


def _reference(ledger: Ledger, day: dt.date, period: str) -> dict[str, object]:
    """The briefing's figures counted by folding each entity's events by hand."""
    cutoff = dt.datetime.combine(day, dt.time.max, SHANGHAI)
    first = day - dt.timedelta(days=6 if period == "week" else 0)
    closed_states = _states(COMPLAINT, "closed")
    task_closed = _states(TASK, "closed")
    received = in_period = passed_on = duplicates = 0
    closed = interim = in_progress = 0
    batches: dict[int, int] = Counter()
    findings: Counter[str] = Counter()
    orders = penalties = 0
    fines = decimal.Decimal(0)
    per_area: Counter[tuple[str, str]] = Counter()
    progress: Counter[str] = Counter()
    for events in _events_by(ledger, cutoff).values():
        created = events[0]
        made = created.effects["create"]
        state = events[-1].state_after
        if made["kind"] == "task":
            deadline = next((e.payload["deadline"] for e in events if e.name == "plan"), None)
            if state in task_closed:
                progress["done"] += 1
            elif deadline is not None and dt.date.fromisoformat(deadline) < day:
                progress["behind"] += 1
            else:
                progress["on_schedule"] += 1
            continue
        if made["kind"] != "complaint":
            continue
        received += 1
        intake = dt.date.fromisoformat(created.payload["intake_day"])
        in_period += first <= intake <= day
        area = made["area"]
        for e in events:
            if e.name == "assign":
                area = e.payload["owners"][0]
            elif e.name == "batch":
                batches[e.payload["number"]] += 1
            elif e.name == "record_finding":
                findings[e.payload["finding"]] += 1
            elif e.name == "report_result":
                orders += e.payload.get("rectification_orders", 0)
                penalties += e.payload.get("penalty_cases", 0)
                fines += decimal.Decimal(e.payload.get("fines_10k_yuan", "0"))
        per_area[area, "received"] += 1
        passed_on += state == "passed_on"
        duplicates += state == "duplicate"
        if state == "interim_closed":
            interim += 1
        elif state in closed_states:
            closed += 1
            per_area[area, "closed"] += 1
        elif state not in ("received", "passed_on", "duplicate", "split"):
            in_progress += 1
    found = sum(findings.values())
    return {
        "received": received,
        "received_in_period": in_period,
        "passed_on": passed_on,
        "duplicates": duplicates,
        "batches": dict(batches),
        "closed": closed,
        "interim_closed": interim,
        "in_progress": in_progress,
        "findings": dict(findings),
        "substantiated_rate": (found - findings["unsubstantiated"]) / found if found else None,
        "outcomes": {
            "rectification_orders": orders,
            "penalty_cases": penalties,
            "fines_10k_yuan": fines,
        },
        "per_area": dict(per_area),
        "progress": dict(progress),
    }


@pytest.mark.parametrize(("day", "period"), DAYS)
def test_figures_match_the_events(demo: Ledger, day: dt.date, period: str) -> None:
    """Each figure of the briefing equals the count made by folding the events by hand."""
    b = demo.briefing(day, period=period)  # type: ignore[arg-type]
    ref = _reference(demo, day, period)
    assert b.received == ref["received"]
    assert b.received_in_period == ref["received_in_period"]
    assert b.passed_on == ref["passed_on"]
    assert b.duplicates == ref["duplicates"]
    assert {x.number: x.cases for x in b.batches} == ref["batches"]
    assert b.handed_over == sum(ref["batches"].values())  # type: ignore[attr-defined]
    assert (b.closed, b.interim_closed, b.in_progress) == (
        ref["closed"],
        ref["interim_closed"],
        ref["in_progress"],
    )
    assert dict(b.findings) == ref["findings"]
    assert b.substantiated_rate == ref["substantiated_rate"]
    recorded = {k: v for k, v in ref["outcomes"].items() if v}  # type: ignore[attr-defined]
    assert dict(b.outcomes) == recorded
    per_area = ref["per_area"]
    assert {a.area: a.received for a in b.areas} == {
        area: n
        for (area, what), n in per_area.items()  # type: ignore[attr-defined]
        if what == "received"
    }
    assert {a.area: a.closed for a in b.areas if a.closed} == {
        area: n
        for (area, what), n in per_area.items()  # type: ignore[attr-defined]
        if what == "closed"
    }
    assert {k: v for k, v in b.progress_counts.items() if v} == ref["progress"]
    assert sum(n for _, n in b.daily_intake) == b.received


def _read_case_by_case(ledger: Ledger, day: dt.date, period: str) -> dict[str, object]:
    """Figures of the briefing counted from every complaint's snapshot, read one by one
    from the ledger as of ``day``, and its overdue items from the store's overdue list."""
    view = ledger.as_of(day)
    (rnd,) = view.find(kind="round")
    rid = rnd.entity_id
    now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), SHANGHAI)
    first = day - dt.timedelta(days=6 if period == "week" else 0)
    overdue = view.overdue(now)
    late_cases = {s.entity_id for s in overdue if s.kind == "complaint"}
    per_area_overdue: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    intake: Counter[dt.date] = Counter()
    batch_days: dict[int, dt.date] = {}
    closed_in_period = 0
    for snap in view.find(kind="complaint", round_id=rid):
        per_area_overdue[snap.area] += snap.entity_id in late_cases
        if isinstance(snap.data.get("handling_status"), str):
            statuses[snap.data["handling_status"]] += 1
        intake[dt.date.fromisoformat(snap.data["intake_day"])] += 1
        handed = snap.data.get("handed_over_day") or snap.data.get("batch_day")
        if snap.batch is not None and handed is not None:
            on = dt.date.fromisoformat(handed)
            batch_days[snap.batch] = min(batch_days.get(snap.batch, on), on)
        closed = view.lifecycle_of(snap).counts_as(snap.state) == "closed"
        closed_in_period += closed and first <= snap.facts_until.astimezone(SHANGHAI).date() <= day
    items = [
        s.entity_id
        for s in overdue
        if (s.entity_id == rid or s.round_id == rid)
        and any(v.is_overdue(now) for v in view.deadlines(s.entity_id))
    ]
    return {
        "per_area_overdue": dict(per_area_overdue),
        "statuses": dict(statuses),
        "intake": dict(intake),
        "batch_days": batch_days,
        "closed_in_period": closed_in_period,
        "items": items,
    }


def _read_back(b: Briefing) -> dict[str, object]:
    return {
        "per_area_overdue": {a.area: a.overdue for a in b.areas},
        "statuses": dict(b.handling_statuses),
        "intake": {d: n for d, n in b.daily_intake if n},
        "batch_days": {x.number: x.day for x in b.batches},
        "closed_in_period": b.closed_in_period,
        "items": [i.entity_id for i in b.overdue],
    }


@pytest.mark.parametrize(("day", "period"), DAYS)
def test_counted_figures_match_the_snapshots_read_one_by_one(
    demo: Ledger, day: dt.date, period: str
) -> None:
    """Overdue cases by area, cases closed in the period, 办理状态, intake by day, batch
    days and the overdue items, counted by the store, equal those read case by case."""
    b = demo.briefing(day, period=period)  # type: ignore[arg-type]
    assert _read_back(b) == _read_case_by_case(demo, day, period)
    # 办理状态 in the order the briefing states them, whatever order cases came in.
    order = ["closed", "interim_closed", "in_progress"]
    assert list(b.handling_statuses) == [s for s in order if s in b.handling_statuses]


def test_the_demo_has_figures_to_count() -> None:
    """The days compared above hold overdue cases, closed cases and overdue items, so the
    comparison has something to compare."""
    with Ledger(rulebook="hunan-provincial-2023") as ledger:
        build_demo(ledger)
        ledger.sweep(dt.datetime(2024, 4, 1, tzinfo=SHANGHAI))
        read = [_read_case_by_case(ledger, day, period) for day, period in DAYS]
    assert any(sum(r["per_area_overdue"].values()) for r in read)  # type: ignore[attr-defined]
    assert any(r["closed_in_period"] for r in read)
    assert any(r["items"] for r in read)
    assert any(len(r["statuses"]) > 1 for r in read)  # type: ignore[arg-type]


def test_the_first_briefing_is_numbered_as_the_source_case(demo: Ledger) -> None:
    """2023-06-27, the day after the station-in, is 第1期, as the source case's briefing;
    a week's briefing is numbered in weeks."""
    first = demo.briefing(dt.date(2023, 6, 27))
    assert first.number == 1
    assert first.title == "工作简报 第1期"
    assert first.station_in_first == dt.date(2023, 6, 26)
    assert demo.briefing(dt.date(2023, 7, 16), period="week").number == 3
    assert demo.briefing(dt.date(2023, 6, 27), number=7).number == 7


def test_a_week_counts_seven_days(demo: Ledger) -> None:
    """A week's intake is the sum of its seven days' intake."""
    week = demo.briefing(dt.date(2023, 7, 9), period="week")
    days = [demo.briefing(dt.date(2023, 7, 9) - dt.timedelta(days=k)) for k in range(7)]
    assert week.first_day == dt.date(2023, 7, 3)
    assert week.received_in_period == sum(d.received_in_period for d in days)
    assert set(week.batches_in_period) == {n for d in days for n in d.batches_in_period}


def test_overdue_items_carry_their_explanation(demo: Ledger) -> None:
    """On 2024-03-31 the overdue items are listed with the explanation of their deadline,
    most overdue first, and the tasks escalated to a summons talk are marked so."""
    b = demo.briefing(dt.date(2024, 3, 31))
    assert b.overdue, "the demo has overdue tasks on 2024-03-31"
    days = [i.days_overdue for i in b.overdue]
    assert days == sorted(days, reverse=True)
    for item in b.overdue:
        assert item.last_day < dt.date(2024, 4, 1)
        assert item.deadline_label in item.explanation
    assert b.escalated
    assert {i.escalation for i in b.escalated} == {"约谈"}
    assert all(i.kind == "task" for i in b.escalated)


def test_bad_input_is_refused(demo: Ledger) -> None:
    """A bad day, period or number is a PayloadError; an unknown round is named."""
    with pytest.raises(PayloadError, match="period"):
        demo.briefing(dt.date(2023, 7, 5), period="month")  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="number"):
        demo.briefing(dt.date(2023, 7, 5), number=0)
    with pytest.raises(PayloadError, match="as_of"):
        demo.briefing(dt.datetime(2023, 7, 5, tzinfo=SHANGHAI))
    with pytest.raises(EntityNotFoundError, match=ROUND_ID):
        demo.briefing(dt.date(2023, 7, 5), round_id="NOPE")


def test_several_rounds_need_one_named() -> None:
    """A ledger of two rounds asks which one the briefing is of."""
    office = Actor("leading_office", "430000", "督察办")
    ledger = Ledger(rulebook="hunan-provincial-2023")
    for rid, area in (("R1", "430900"), ("R2", "430100")):
        ledger.create_round(
            rid, name=rid, area=area, actor=office, at=dt.datetime(2023, 6, 1, tzinfo=SHANGHAI)
        )
    with pytest.raises(PayloadError, match="R1, R2"):
        ledger.briefing(dt.date(2023, 6, 2))
    assert ledger.briefing(dt.date(2023, 6, 2), round_id="R2").received == 0


def test_markdown_states_the_headline_figures(demo: Ledger) -> None:
    """The Markdown has the numbered title, the headline figures and the tables."""
    b = demo.briefing(dt.date(2023, 7, 20), period="week")
    text = briefing_markdown(b)
    assert text.startswith(f"# 工作简报 第{b.number}期\n")
    assert f"共受理群众信访举报{b.received}件" in text
    assert f"已交办{len(b.batches)}批{b.handed_over}件" in text
    assert f"属实率{b.substantiated_rate * 100:.1f}%" in text  # type: ignore[operator]
    assert f"责令整改{b.outcomes['rectification_orders']}家" in text
    assert "| 区县 | 受理 | 交办 | 办结 | 阶段性办结 | 办理中 | 超期 |" in text
    for area in b.areas:
        assert f"| {area.name} | {area.received} | {area.handed_over} |" in text


def test_docx_tables_read_back(demo: Ledger, tmp_path: Path) -> None:
    """The Word file reopens; its area and task tables hold the briefing's figures."""
    docx = pytest.importorskip("docx")
    b = demo.briefing(dt.date(2024, 3, 31))
    path = tmp_path / "briefing.docx"
    briefing_docx(b, path)
    document = docx.Document(str(path))
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"工作简报 第{b.number}期" in text
    assert f"共受理群众信访举报{b.received}件" in text
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    areas = next(t for t in tables if t[0][0] == "区县")
    assert areas[1:-1] == [
        [
            a.name,
            str(a.received),
            str(a.handed_over),
            str(a.closed),
            str(a.interim_closed),
            str(a.in_progress),
            str(a.overdue),
        ]
        for a in b.areas
    ]
    assert areas[-1][:2] == ["合计", str(b.received)]
    tasks = next(t for t in tables if t[0][0] == "序号")
    assert len(tasks) == len(b.tasks) + 1
    assert [row[5] for row in tasks[1:]].count("未达序时进度") == b.progress_counts["behind"]
    overdue = next(t for t in tables if t[0][0] == "编号")
    assert [row[0] for row in overdue[1:]] == [i.entity_id for i in b.overdue]


def test_docx_without_python_docx_says_which_extra(
    demo: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without python-docx, writing Word is a MissingDependencyError naming the extra, and
    no file is written."""
    monkeypatch.setitem(sys.modules, "docx", None)
    with pytest.raises(MissingDependencyError, match=r"inspection-flow\[office\]"):
        briefing_docx(demo.briefing(dt.date(2023, 7, 5)), tmp_path / "b.docx")
    assert not (tmp_path / "b.docx").exists()


def test_the_core_imports_without_the_office_libraries() -> None:
    """``import inspection_flow`` loads neither python-docx nor rich."""
    code = (
        "import sys, inspection_flow; "
        "assert 'docx' not in sys.modules; assert 'rich' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_html_is_self_contained(demo: Ledger) -> None:
    """The page loads nothing from outside, draws three charts as inline SVG, keeps
    Chinese as text, and has a print stylesheet."""
    html = briefing_html(demo.briefing(dt.date(2024, 3, 31)))
    assert html.count("<svg") == 3
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "<script" not in html
    assert "<link" not in html
    assert "@media print" in html
    assert "赫山区" in html
    assert "图1 每日受理与按批交办" in html


# -- the page in a real browser -------------------------------------------------------------

_CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _browser_or_skip() -> str:
    required = os.environ.get("INSPECTION_FLOW_REQUIRE_BROWSER") == "1"
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    if reason is None and not os.path.exists(_CHROMIUM):
        reason = "chromium is not installed (apt-get install chromium)"
    if reason is not None:
        if required:
            pytest.fail(f"INSPECTION_FLOW_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return _CHROMIUM


@pytest.mark.parametrize(("day", "period"), [DAYS[0], DAYS[3]])
def test_html_renders_in_chromium(demo: Ledger, tmp_path: Path, day: dt.date, period: str) -> None:
    """Headless Chromium opens the page without a console error, shows the briefing's
    text and its charts, and a screenshot is kept under test-artifacts/."""
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    b: Briefing = demo.briefing(day, period=period)  # type: ignore[arg-type]
    page_file = tmp_path / "briefing.html"
    page_file.write_text(briefing_html(b), encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            body = page.inner_text("body")
            charts = page.locator("svg.chart")
            sizes = [charts.nth(i).bounding_box() for i in range(charts.count())]
            _ARTIFACTS.mkdir(exist_ok=True)
            shot = _ARTIFACTS / f"briefing-{day.isoformat()}.png"
            # Checked as taken: another run of the suite may be writing the same file.
            png = page.screenshot(path=str(shot), full_page=True)
            page.emulate_media(media="print")
            printed = page.pdf(format="A4")
        finally:
            browser.close()
    assert errors == []
    assert b.title in body
    assert f"共受理群众信访举报{b.received}件" in body
    assert all(a.name in body for a in b.areas)
    assert len(sizes) == (3 if b.tasks else 2)
    assert all(s is not None and s["width"] > 100 and s["height"] > 50 for s in sizes)
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
    assert printed.startswith(b"%PDF")


def _small_round(ledger: Ledger) -> None:
    """Three days of the source case, by hand: intake, a batch, findings, results with the
    outcomes of 边督边改, one case closed and one interim-closed."""
    office = Actor("leading_office", "430000", "湖南省生态环境保护督察办")
    team = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
    liaison = Actor("liaison", "430900", "益阳市督察联络组")

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)

    ledger.create_round("YY", name="益阳市", area="430900", actor=office, at=at(19, 9))
    ledger.fire("YY", "announce", actor=office, at=at(19, 10))
    ledger.fire("YY", "station_in", actor=team, at=at(26, 9))
    ids = []
    for minute, area, category in ((5, "430903", "noise"), (40, "430923", "water")):
        case = ledger.receive_complaint(
            "YY", channel="phone", received_at=at(26, 10, minute), area=area,
            summary="示例", category=category, actor=team,
        )  # fmt: skip
        ids.append((case.entity_id, area))
    ledger.hand_over_batch("YY", dt.date(2023, 6, 27), actor=team, at=at(27, 9))
    for n, (cid, area) in enumerate(ids):
        owner = Actor("owner_unit", area, "区县人民政府")
        ledger.fire(cid, "assign", actor=liaison, at=at(27, 10), owners=[area])
        ledger.fire(cid, "start_investigation", actor=owner, at=at(27, 11))
        ledger.fire(cid, "record_finding", actor=owner, at=at(28, 9), finding="substantiated")
        ledger.fire(
            cid, "report_result", actor=owner, at=at(28, 15), summary="已查处",
            handling_status="closed" if n == 0 else "interim_closed",
            rectification_orders=1, fines_10k_yuan="0.35",
        )  # fmt: skip
        ledger.fire(cid, "forward_result", actor=liaison, at=at(28, 16))
        ledger.fire(cid, "publish", actor=liaison, at=at(29, 9))
        ledger.fire(cid, "close" if n == 0 else "close_interim", actor=liaison, at=at(29, 10))


def test_every_store_gives_the_same_briefing(ledger_url: str) -> None:
    """The same round kept in memory and in SQLite or PostgreSQL gives the same briefing,
    amounts summed exactly (0.35 + 0.35 万元 = 0.70)."""
    memory = Ledger(rulebook="hunan-provincial-2023")
    _small_round(memory)
    with Ledger.open(ledger_url, rulebook="hunan-provincial-2023") as stored:
        _small_round(stored)
        b = stored.briefing(dt.date(2023, 6, 29))
        read = _read_case_by_case(stored, dt.date(2023, 6, 29), "day")
    assert _read_back(b) == read
    assert b == memory.briefing(dt.date(2023, 6, 29))
    assert (b.closed, b.interim_closed, b.closed_in_period) == (1, 1, 2)
    assert dict(b.outcomes) == {
        "rectification_orders": 2,
        "fines_10k_yuan": decimal.Decimal("0.70"),
    }
    assert dict(b.handling_statuses) == {"closed": 1, "interim_closed": 1}
    assert b.substantiated_rate == 1.0
    assert "边督边改：责令整改2家，罚款0.7万元。" in briefing_markdown(b)


def test_a_rounds_timeline_holds_its_events_and_deadlines_in_order(demo: Ledger) -> None:
    """Each event of the round's history and each deadline's last day, in date order, as
    an SVG chart and a table in a notebook."""
    from inspection_flow import TimelineMark, round_timeline

    timeline = round_timeline(demo, ROUND_ID)
    events = [m for m in timeline.marks if m.kind == "event"]
    deadlines = [m for m in timeline.marks if m.kind == "deadline"]
    history = demo.history(ROUND_ID)
    assert [m.name for m in events] == [e.name for e in history]
    assert {m.name for m in deadlines} == {v.name for v in demo.deadlines(ROUND_ID)}
    days = [m.day for m in timeline.marks]
    assert days == sorted(days)
    station_in = next(m for m in events if m.name == "station_in")
    assert station_in == TimelineMark(dt.date(2023, 6, 26), "event", "station_in", "动员会·进驻")
    html = timeline._repr_html_()
    assert html.startswith("<svg")
    assert "</svg>" in html
    assert html.count("<circle") == len(timeline.marks)
    assert "动员会·进驻" in html
    assert "2023-06-26" in html
    assert "| 2023-06-26 | 事件 | 动员会·进驻 |" in timeline._repr_markdown_()
    assert repr(timeline).startswith(f"<RoundTimeline {ROUND_ID} ")
    with pytest.raises(EntityNotFoundError):
        round_timeline(demo, "no-such-round")
