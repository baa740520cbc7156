"""The briefing (工作简报) rendered for people: a Word document, a self-contained HTML page
with inline SVG charts, and Markdown for notebooks.

The figures come from :meth:`Ledger.briefing`; this module only lays them out.  Word needs
python-docx, from the ``office`` extra, imported only when a Word file is written; HTML
and Markdown need nothing beyond the standard library.  The briefing is written in
Chinese, the language of the form it follows; its headings are the table below.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ._display import html_table, markdown_table
from ._ledger.briefing import Briefing, BriefingItem
from ._rules import SHANGHAI
from .exceptions import MissingDependencyError

if TYPE_CHECKING:
    from ._ledger import Ledger

__all__ = ["briefing_docx", "briefing_html", "briefing_markdown"]

#: The briefing's words: headings, column names and the labels of 序时进度.
LABELS = {
    "overview": "一、总体情况",
    "areas": "二、分区县情况",
    "categories": "三、分类别情况",
    "overdue": "四、超期和升级事项",
    "tasks": "五、整改任务序时进度",
    "charts": "附图",
    "chart.intake": "图1 每日受理与按批交办（件）",
    "chart.closing": "图2 分区县办结情况（件）",
    "chart.progress": "图3 整改任务序时进度（项）",
    "series.received": "受理",
    "series.handed_over": "交办",
    "series.closed": "办结",
    "series.interim_closed": "阶段性办结",
    "series.in_progress": "办理中",
    "progress.done": "已完成",
    "progress.on_schedule": "达到序时进度",
    "progress.behind": "未达序时进度",
    "none": "无",
}
_AREA_COLUMNS = ("区县", "受理", "交办", "办结", "阶段性办结", "办理中", "超期")
_TASK_COLUMNS = ("序号", "问题", "责任单位", "状态", "整改时限", "序时进度")
_OVERDUE_COLUMNS = ("编号", "区县", "事项", "期限", "截止日", "超期天数", "升级")
#: Bar colours of the charts: one per series, distinct in greyscale print too.
_COLOURS = {
    "received": "#1f4e79",
    "handed_over": "#9dc3e6",
    "closed": "#2e7d32",
    "interim_closed": "#a5d6a7",
    "in_progress": "#bdbdbd",
    "done": "#2e7d32",
    "on_schedule": "#64b5f6",
    "behind": "#c62828",
}


def _md(d: dt.date) -> str:
    return f"{d.month}月{d.day}日"


def _ymd(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _pct(value: float | int | None) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def _num(value: int | decimal.Decimal) -> str:
    return str(value.normalize()) if isinstance(value, decimal.Decimal) else str(value)


def _unit(label: str) -> tuple[str, str]:
    """Split ``责令整改（家）`` into ``("责令整改", "家")``."""
    if label.endswith("）") and "（" in label:
        name, _, unit = label[:-1].partition("（")
        return name, unit
    return label, ""


def _period(b: Briefing) -> str:
    if b.period == "day":
        return "当日"
    return "本周"


def overview(b: Briefing) -> list[str]:
    """The headline paragraphs (总体情况), as sentences."""
    since = f"{_md(b.first_day)}至{_md(b.last_day)}" if b.period == "week" else _md(b.last_day)
    lines = [
        f"截至{_ymd(b.last_day)}，督察组共受理群众信访举报{b.received}件"
        f"（{_period(b)}受理{b.received_in_period}件），其中转交地方处理{b.passed_on}件、"
        f"重复件{b.duplicates}件。",
    ]
    if b.batches:
        now = (
            "、".join(f"第{n}批" for n in b.batches_in_period)
            if b.batches_in_period
            else LABELS["none"]
        )
        lines.append(
            f"已交办{len(b.batches)}批{b.handed_over}件（{since}交办：{now}）。"
            f"已办结{b.closed}件，阶段性办结{b.interim_closed}件，正在办理{b.in_progress}件；"
            f"{_period(b)}办结（含阶段性办结）{b.closed_in_period}件；"
            f"办结率{_pct(b.rates.get('case_closing_rate'))}。"
        )
    if b.findings:
        found = "、".join(f"{k}{n}件" for k, n in b.findings_zh.items())
        lines.append(
            f"已核实{sum(b.findings.values())}件，其中{found}，属实率{_pct(b.substantiated_rate)}。"
        )
    if b.handling_statuses:
        statuses = "、".join(f"{k}{n}件" for k, n in b.handling_statuses_zh.items())
        lines.append(f"已反馈的办理结果中，{statuses}。")
    if b.outcomes:
        parts = []
        for key, value in b.outcomes.items():
            name, unit = _unit(b.outcome_labels.get(key, key))
            parts.append(f"{name}{_num(value)}{unit}")
        lines.append(f"边督边改：{'，'.join(parts)}。")
    counts = b.progress_counts
    if b.tasks:
        lines.append(
            f"整改任务{len(b.tasks)}项：{LABELS['progress.done']}{counts['done']}项，"
            f"{LABELS['progress.on_schedule']}{counts['on_schedule']}项，"
            f"{LABELS['progress.behind']}{counts['behind']}项。"
        )
    lines.append(
        f"超期事项{b.overdue_total}件，其中已升级{b.escalated_total}件。"
        if b.overdue_total
        else "无超期事项。"
    )
    return lines


def _area_rows(b: Briefing) -> list[list[str]]:
    rows = [
        [
            a.name,
            *map(str, (a.received, a.handed_over, a.closed, a.interim_closed)),
            *map(str, (a.in_progress, a.overdue)),
        ]
        for a in b.areas
    ]
    total = [
        "合计",
        str(sum(a.received for a in b.areas)),
        str(sum(a.handed_over for a in b.areas)),
        str(sum(a.closed for a in b.areas)),
        str(sum(a.interim_closed for a in b.areas)),
        str(sum(a.in_progress for a in b.areas)),
        str(sum(a.overdue for a in b.areas)),
    ]
    return [*rows, total] if rows else []


def _task_rows(b: Briefing) -> list[list[str]]:
    return [
        [
            str(t.problem_no) if t.problem_no is not None else t.entity_id,
            t.title,
            t.area_name,
            t.state_label,
            t.deadline.isoformat() if t.deadline is not None else "—",
            LABELS[f"progress.{t.progress}"],
        ]
        for t in b.tasks
    ]


def _overdue_rows(items: Sequence[BriefingItem]) -> list[list[str]]:
    return [
        [
            i.entity_id,
            i.area_name,
            i.title,
            i.deadline_label,
            i.last_day.isoformat(),
            str(i.days_overdue),
            i.escalation or "—",
        ]
        for i in items
    ]


# -- charts: (label, [(series, value), ...]) rows ------------------------------------------


def _intake_series(b: Briefing) -> list[tuple[str, list[tuple[str, int]]]]:
    handed: dict[dt.date, int] = {}
    for batch in b.batches:
        handed[batch.day] = handed.get(batch.day, 0) + batch.cases
    return [
        (f"{d.month}/{d.day}", [("received", n), ("handed_over", handed.get(d, 0))])
        for d, n in b.daily_intake
    ]


def _closing_series(b: Briefing) -> list[tuple[str, list[tuple[str, int]]]]:
    return [
        (
            a.name,
            [
                ("closed", a.closed),
                ("interim_closed", a.interim_closed),
                ("in_progress", a.in_progress),
            ],
        )
        for a in b.areas
    ]


def _progress_series(b: Briefing) -> list[tuple[str, list[tuple[str, int]]]]:
    counts = b.progress_counts
    return [(LABELS[f"progress.{k}"], [(k, counts[k])]) for k in ("done", "on_schedule", "behind")]


def _series_label(name: str) -> str:
    return LABELS.get(f"series.{name}") or LABELS[f"progress.{name}"]


def _legend(series: Sequence[str], x: int, y: int) -> str:
    parts = []
    for i, name in enumerate(series):
        px = x + i * 110
        parts.append(
            f'<rect x="{px}" y="{y - 10}" width="12" height="12" fill="{_COLOURS[name]}"/>'
            f'<text x="{px + 16}" y="{y}" font-size="12">{_series_label(name)}</text>'
        )
    return "".join(parts)


def svg_columns(title: str, rows: list[tuple[str, list[tuple[str, int]]]]) -> str:
    """A grouped column chart as an inline SVG element: one group of columns per row."""
    series = [name for name, _ in rows[0][1]] if rows else []
    top = max((v for _, values in rows for _, v in values), default=0) or 1
    group = max(14, 8 * len(series) + 6)
    width = max(320, 50 + group * len(rows) + 20)
    height, base, left = 240, 190, 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{base - 150 + 4}" font-size="10" text-anchor="end">{top}</text>',
        f'<text x="{left - 6}" y="{base + 4}" font-size="10" text-anchor="end">0</text>',
        _legend(series, left, 16),
    ]
    bar = max(4, (group - 6) // max(1, len(series)))
    for i, (label, values) in enumerate(rows):
        x0 = left + 4 + i * group
        for j, (name, value) in enumerate(values):
            h = round(150 * value / top)
            out.append(
                f'<rect x="{x0 + j * bar}" y="{base - h}" width="{bar - 1}" height="{h}" '
                f'fill="{_COLOURS[name]}"><title>{html.escape(label)} '
                f"{_series_label(name)} {value}</title></rect>"
            )
        if len(rows) <= 16 or i % 2 == 0:
            cx = x0 + group // 2
            out.append(
                f'<text x="{cx}" y="{base + 14}" font-size="10" text-anchor="end" '
                f'transform="rotate(-45 {cx} {base + 14})">{html.escape(label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def svg_bars(title: str, rows: list[tuple[str, list[tuple[str, int]]]]) -> str:
    """A horizontal stacked bar chart as an inline SVG element: one bar per row."""
    series = list(dict.fromkeys(name for _, values in rows for name, _ in values))
    top = max((sum(v for _, v in values) for _, values in rows), default=0) or 1
    left, span, line = 110, 360, 26
    width, height = left + span + 60, 40 + line * len(rows) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        _legend(series, left, 16) if len(series) > 1 else "",
    ]
    for i, (label, values) in enumerate(rows):
        y = 34 + i * line
        out.append(
            f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        x = left
        for name, value in values:
            w = round(span * value / top)
            if w:
                out.append(
                    f'<rect x="{x}" y="{y}" width="{w}" height="18" fill="{_COLOURS[name]}">'
                    f"<title>{html.escape(label)} {_series_label(name) if len(series) > 1 else ''}"
                    f" {value}</title></rect>"
                )
            x += w
        total = sum(v for _, v in values)
        out.append(f'<text x="{x + 6}" y="{y + 14}" font-size="12">{total}</text>')
    out.append("</svg>")
    return "".join(out)


def _bar(value: int, top: int, width: int = 30) -> str:
    return "█" * round(width * value / top)


def _text_bars(rows: list[tuple[str, list[tuple[str, int]]]], width: int = 30) -> list[str]:
    """A chart as lines of text: label, the values, and a bar of blocks for the total."""
    top = max((sum(v for _, v in values) for _, values in rows), default=0) or 1
    pad = max((len(label) for label, _ in rows), default=0)
    lines = []
    for label, values in rows:
        total = sum(v for _, v in values)
        numbers = " / ".join(str(v) for _, v in values)
        lines.append(f"{label.ljust(pad, '　')} {_bar(total, top, width)} {numbers}")
    return lines


def _charts(b: Briefing) -> list[tuple[str, list[tuple[str, list[tuple[str, int]]]], bool]]:
    """The charts: title, rows, and whether drawn as columns (else bars)."""
    charts: list[tuple[str, list[tuple[str, list[tuple[str, int]]]], bool]] = []
    if b.daily_intake:
        charts.append((LABELS["chart.intake"], _intake_series(b), True))
    if b.areas:
        charts.append((LABELS["chart.closing"], _closing_series(b), False))
    if b.tasks:
        charts.append((LABELS["chart.progress"], _progress_series(b), False))
    return charts


def _heading(b: Briefing) -> tuple[str, str]:
    span = f"{_ymd(b.first_day)}至{_ymd(b.last_day)}" if b.period == "week" else _ymd(b.last_day)
    return b.title, f"{b.round_name}　{span}"


# -- Markdown -------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(columns: Sequence[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return [LABELS["none"]]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return out


def unlisted_note(b: Briefing) -> str | None:
    """The line under the overdue items when the briefing lists only the most overdue."""
    if b.overdue_unlisted <= 0:
        return None
    return (
        f"以上列出超期最久的{len(b.overdue)}件，另有{b.overdue_unlisted}件未列出；"
        "完整清单见超期事项表"
        "（inspection-flow export 台账 表格.xlsx --kind overdue --as-of 当日）。"
    )


def briefing_markdown(b: Briefing) -> str:
    """Return the briefing as Markdown: headline figures, tables, overdue items with the
    explanation of their deadlines, and the charts drawn as text bars."""
    title, sub = _heading(b)
    out = [f"# {title}", "", sub, "", f"## {LABELS['overview']}", ""]
    out.extend(f"{line}\n" for line in overview(b))
    out += [f"## {LABELS['areas']}", "", *_md_table(_AREA_COLUMNS, _area_rows(b)), ""]
    out += [f"## {LABELS['categories']}", ""]
    out += [*_md_table(("类别", "件数"), [[c, str(n)] for c, n in b.categories]), ""]
    out += [f"## {LABELS['overdue']}", "", *_md_table(_OVERDUE_COLUMNS, _overdue_rows(b.overdue))]
    for item in b.overdue:
        out += ["", f"**{item.entity_id}**", "", "```text", item.explanation, "```"]
    if note := unlisted_note(b):
        out += ["", note]
    out += ["", f"## {LABELS['tasks']}", "", *_md_table(_TASK_COLUMNS, _task_rows(b)), ""]
    charts = _charts(b)
    if charts:
        out += [f"## {LABELS['charts']}", ""]
        for chart_title, rows, _ in charts:
            series = " / ".join(_series_label(name) for name, _ in rows[0][1])
            out += [f"**{chart_title}**（{series}）", "", "```text", *_text_bars(rows), "```", ""]
    return "\n".join(out).rstrip() + "\n"


# -- HTML -----------------------------------------------------------------------------------

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  "SimSun", sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #111;
  line-height: 1.6; }
header { text-align: center; border-bottom: 3px solid #c00; margin-bottom: 1.5em; }
header h1 { color: #c00; font-size: 2em; letter-spacing: 0.2em; margin: 0.2em 0; }
h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; font-size: 0.95em; }
th, td { border: 1px solid #666; padding: 0.2em 0.5em; text-align: left; }
th { background: #eee; }
td.n { text-align: right; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 0.5em; font-size: 0.85em; }
figure { margin: 1em 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: bold; }
svg.chart { max-width: 100%; height: auto; }
@media print {
  @page { size: A4; margin: 2cm; }
  body { margin: 0; max-width: none; }
  h2 { break-after: avoid; }
  table, pre { break-inside: avoid; }
}
"""


def _html_table(columns: Sequence[str], rows: list[list[str]]) -> str:
    if not rows:
        return f"<p>{LABELS['none']}</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{html.escape(c)}</td>' if c.isdigit() else f"<td>{html.escape(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def briefing_html(b: Briefing) -> str:
    """Return the briefing as one self-contained HTML page: the charts are inline SVG,
    every Chinese word is text, and the stylesheet lays it out for print (A4)."""
    title, sub = _heading(b)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}　{html.escape(b.round_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(sub)}</p></header>",
        f"<h2>{LABELS['overview']}</h2>",
        *(f"<p>{html.escape(line)}</p>" for line in overview(b)),
        f"<h2>{LABELS['areas']}</h2>",
        _html_table(_AREA_COLUMNS, _area_rows(b)),
        f"<h2>{LABELS['categories']}</h2>",
        _html_table(("类别", "件数"), [[c, str(n)] for c, n in b.categories]),
        f"<h2>{LABELS['overdue']}</h2>",
        _html_table(_OVERDUE_COLUMNS, _overdue_rows(b.overdue)),
        *(
            f"<details><summary>{html.escape(i.entity_id)} {html.escape(i.deadline_label)}"
            f"</summary><pre>{html.escape(i.explanation)}</pre></details>"
            for i in b.overdue
        ),
        *(f"<p>{html.escape(note)}</p>" for note in (unlisted_note(b),) if note),
        f"<h2>{LABELS['tasks']}</h2>",
        _html_table(_TASK_COLUMNS, _task_rows(b)),
    ]
    charts = _charts(b)
    if charts:
        parts.append(f"<h2>{LABELS['charts']}</h2>")
        for chart_title, rows, columns in charts:
            svg = svg_columns(chart_title, rows) if columns else svg_bars(chart_title, rows)
            parts.append(
                f"<figure><figcaption>{html.escape(chart_title)}</figcaption>{svg}</figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# -- Word -----------------------------------------------------------------------------------


def briefing_docx(b: Briefing, path: str | os.PathLike[str]) -> None:
    """Write the briefing as a Word document (.docx) to ``path``: the headline figures, the
    tables, the overdue items with the explanation of their deadlines, and the charts as
    tables of bars (Word draws no SVG).

    Raises:
        MissingDependencyError: python-docx is not installed (the ``office`` extra).
    """
    try:
        import docx
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml.ns import qn
        from docx.shared import Pt, RGBColor
    except ImportError as exc:
        raise MissingDependencyError("python-docx", "office") from exc

    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(11)
    # Word picks the font of Chinese text from the East Asian slot, not the Latin name.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    title, sub = _heading(b)
    head = document.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = head.add_run(title)
    run.bold = True
    run.font.size = Pt(26)
    run.font.color.rgb = RGBColor(0xCC, 0x00, 0x00)
    line = document.add_paragraph(sub)
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def table(columns: Sequence[str], rows: list[list[str]]) -> None:
        if not rows:
            document.add_paragraph(LABELS["none"])
            return
        t = document.add_table(rows=1, cols=len(columns))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, columns, strict=True):
            cell.text = text
        for row in rows:
            cells = t.add_row().cells
            for cell, text in zip(cells, row, strict=True):
                cell.text = text

    document.add_heading(LABELS["overview"], level=2)
    for sentence in overview(b):
        document.add_paragraph(sentence)
    document.add_heading(LABELS["areas"], level=2)
    table(_AREA_COLUMNS, _area_rows(b))
    document.add_heading(LABELS["categories"], level=2)
    table(("类别", "件数"), [[c, str(n)] for c, n in b.categories])
    document.add_heading(LABELS["overdue"], level=2)
    table(_OVERDUE_COLUMNS, _overdue_rows(b.overdue))
    for item in b.overdue:
        document.add_paragraph(item.explanation, style="Quote")
    if note := unlisted_note(b):
        document.add_paragraph(note)
    document.add_heading(LABELS["tasks"], level=2)
    table(_TASK_COLUMNS, _task_rows(b))
    charts = _charts(b)
    if charts:
        document.add_heading(LABELS["charts"], level=2)
        for chart_title, rows, _ in charts:
            document.add_paragraph(chart_title).runs[0].bold = True
            names = [name for name, _ in rows[0][1]]
            top = max(sum(v for _, v in values) for _, values in rows) or 1
            table(
                ("", *(_series_label(n) for n in names), ""),
                [
                    [label, *(str(v) for _, v in values), _bar(sum(v for _, v in values), top)]
                    for label, values in rows
                ],
            )
    document.save(os.fspath(path))


# -- a round's timeline --------------------------------------------------------------------


@attrs.frozen
class TimelineMark:
    """One mark on a round's timeline: an event that happened or a deadline's last day.

    Attributes:
        day: the Asia/Shanghai day of the event, or the deadline's last day.
        kind: ``event`` or ``deadline``.
        name: the event's or deadline's name, e.g. ``station_in``, ``plan_due``.
        label: its Chinese label, e.g. 进驻, 报送整改方案.
        status: for a deadline, ``open``, ``met``, ``met_late`` or ``cancelled``; ``""``
            for an event.
    """

    day: dt.date
    kind: str
    name: str
    label: str
    status: str = ""


@attrs.frozen
class RoundTimeline:
    """A round's events and deadlines in date order, shown as a chart in a notebook.

    Build it with :func:`round_timeline`; ``_repr_html_`` draws an inline SVG time axis
    (events above it, deadlines below, an open deadline hollow) with a table of the marks.
    """

    round_id: str
    name: str
    marks: tuple[TimelineMark, ...]

    def __repr__(self) -> str:
        span = f"{self.marks[0].day}…{self.marks[-1].day}" if self.marks else "empty"
        return f"<RoundTimeline {self.round_id} {self.name}: {len(self.marks)} marks, {span}>"

    def svg(self) -> str:
        """The timeline as an inline SVG element (CJK labels as text)."""
        title = f"{self.name} 督察时间线"
        if not self.marks:
            return (
                '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">'
                f"<title>{html.escape(title)}</title></svg>"
            )
        first, last = self.marks[0].day, self.marks[-1].day
        days = max(1, (last - first).days)
        left, span, axis = 20, 720, 150
        width, height = left + span + 120, 300
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
            f"<title>{html.escape(title)}</title>",
            f'<line x1="{left}" y1="{axis}" x2="{left + span}" y2="{axis}" stroke="#333"/>',
            f'<text x="{left}" y="{axis + 16}" font-size="10">{first.isoformat()}</text>',
            f'<text x="{left + span}" y="{axis + 16}" font-size="10" text-anchor="end">'
            f"{last.isoformat()}</text>",
        ]
        for i, mark in enumerate(self.marks):
            x = left + round(span * (mark.day - first).days / days)
            above = mark.kind == "event"
            step = 18 * (i % 6)
            y = axis - 30 - step if above else axis + 34 + step
            colour = "#1f5fa8" if above else "#b8420f"
            fill = "none" if mark.status == "open" else colour
            text = f"{_md(mark.day)} {mark.label}"
            out.append(
                f'<line x1="{x}" y1="{axis}" x2="{x}" y2="{y}" stroke="{colour}" '
                f'stroke-width="0.6"/>'
                f'<circle cx="{x}" cy="{axis}" r="4" fill="{fill}" stroke="{colour}">'
                f"<title>{html.escape(mark.day.isoformat())} {html.escape(mark.label)}"
                f"{' ' + mark.status if mark.status else ''}</title></circle>"
                f'<text x="{x + 3}" y="{y}" font-size="10" fill="{colour}">'
                f"{html.escape(text)}</text>"
            )
        out.append("</svg>")
        return "".join(out)

    def _rows(self) -> list[tuple[str, str, str, str]]:
        kinds = {"event": "事件", "deadline": "期限"}
        return [(m.day.isoformat(), kinds[m.kind], m.label or m.name, m.status) for m in self.marks]

    def _repr_html_(self) -> str:
        return self.svg() + html_table(
            f"{self.round_id} {self.name}", ("日期", "类型", "事项", "状态"), self._rows()
        )

    def _repr_markdown_(self) -> str:
        return markdown_table(
            f"{self.round_id} {self.name}", ("日期", "类型", "事项", "状态"), self._rows()
        )


def round_timeline(ledger: Ledger, round_id: str) -> RoundTimeline:
    """Return the timeline of round ``round_id``: each event of its history and each of its
    deadlines' last days, in date order (events before deadlines on the same day).

    Raises:
        EntityNotFoundError: no entity has that id.
    """
    snapshot = ledger.get(round_id)
    lifecycle = ledger.lifecycle_of(snapshot)
    marks: list[TimelineMark] = []
    for event in ledger.history(round_id):
        transition = lifecycle.transition(event.state_before, event.name)
        label = transition.label_zh if transition is not None else ""
        if not label and event.version == 1:
            label = "建立"  # the creation of the round, which no transition names
        day = event.at.astimezone(SHANGHAI).date()
        marks.append(TimelineMark(day, "event", event.name, label or event.name))
    for view in ledger.deadlines(round_id):
        marks.append(
            TimelineMark(
                view.record.last_day,
                "deadline",
                view.name,
                view.label_zh or view.name,
                view.status,
            )
        )
    marks.sort(key=lambda m: (m.day, m.kind != "event"))
    name = str(snapshot.data.get("name", ""))
    return RoundTimeline(round_id, name, tuple(marks))
