"""Reading the cells of a hand-kept 台账: headers matched to fields, and the dates, times,
numbers and labels offices type, parsed with pendulum."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from typing import Any

import pendulum

from .._ledger import CATEGORIES, CATEGORIES_ZH
from .._rules import SHANGHAI, Channel

__all__ = [
    "FIELDS",
    "CellError",
    "field_of_header",
    "normalise_header",
    "parse_batch",
    "parse_categories",
    "parse_channel",
    "parse_day",
    "parse_instant",
]


class CellError(ValueError):
    """A cell that cannot be read as its column's field; the message says why."""


#: Fields an import reads, each with the header names offices give it.  The first name
#: is the one the export writes.
FIELDS: Mapping[str, tuple[str, ...]] = {
    "number": (
        "受理编号",
        "编号",
        "信访件编号",
        "举报件编号",
        "受理号",
        "件号",
        "转办编号",
        "acceptance number",
        "number",
    ),
    "batch": ("交办批次", "批次", "转办批次", "交办批次号", "batch"),
    "handed_over": ("交办日期", "交办时间", "转办日期", "转办时间", "交办日", "handed over"),
    "received_at": ("受理时间", "来电时间", "来信时间", "举报时间", "接收时间", "received at"),
    "received_day": (
        "受理日期",
        "来电日期",
        "来信日期",
        "举报日期",
        "接收日期",
        "日期",
        "received on",
    ),
    "channel": ("来源", "举报方式", "来源方式", "渠道", "受理方式", "channel"),
    "area": (
        "区县",
        "行政区域",
        "所属区县",
        "属地",
        "县市区",
        "区县（市）",
        "责任地区",
        "地区",
        "area",
    ),
    "category": ("类别", "污染类型", "问题类型", "举报类型", "类型", "category", "pollution type"),
    "summary": (
        "内容摘要",
        "交办问题基本情况",
        "举报内容",
        "反映问题",
        "问题描述",
        "主要内容",
        "信访内容",
        "summary",
    ),
    # Columns the export writes that an import reads but does not record: what becomes of
    # a case after its hand-over is recorded by those who handle it (see docs/office.md).
    "state": ("办理状态", "status"),
    "finding": ("是否属实", "finding"),
    "result": ("办理结果", "result"),
    "result_due": ("办理时限", "result due"),
    "overdue": ("是否超期", "overdue"),
    "published": ("公开情况", "published"),
}

#: Fields recorded by an import; the others are read and named in its report.
RECORDED = frozenset(
    {
        "number",
        "batch",
        "handed_over",
        "received_at",
        "received_day",
        "channel",
        "area",
        "category",
        "summary",
    }
)

_SPACES = re.compile(r"[\s\u3000*＊:：]+")
_REMARK = re.compile(r"[（(][^）)]*[）)]$")


def normalise_header(text: Any) -> str:
    """A header as compared: spaces, line breaks, stars and colons dropped, lower case."""
    return _SPACES.sub("", str(text or "")).lower()


_HEADER_FIELD = {normalise_header(h): f for f, names in FIELDS.items() for h in names}


def field_of_header(text: Any, mapping: Mapping[str, str] | None = None) -> str | None:
    """The field a header names: by the mapping, a synonym, or a synonym with a remark in
    brackets after it (``受理时间（24小时制）``); ``None`` for a column not read."""
    key = normalise_header(text)
    if not key:
        return None
    if mapping and key in mapping:
        return mapping[key]
    found = _HEADER_FIELD.get(key)
    if found is None:
        found = _HEADER_FIELD.get(_REMARK.sub("", key))
    return found


# -- days and times ----------------------------------------------------------------------

#: Day forms offices type, as pendulum formats, longest first.
_DAY_FORMS = (
    "YYYY年M月D日 H:mm",
    "YYYY年M月D日H:mm",
    "YYYY年M月D日 H时mm分",
    "YYYY年M月D日H时mm分",
    "YYYY年M月D日 H时",
    "YYYY年M月D日",
    "YYYY/M/D H:mm:ss",
    "YYYY/M/D H:mm",
    "YYYY/M/D",
    "YYYY-M-D H:mm:ss",
    "YYYY-M-D H:mm",
    "YYYY-M-D",
    "YYYY.M.D H:mm",
    "YYYY.M.D",
    "YYYYMMDD",
)
_TIME_FORMS = ("H:mm:ss", "H:mm", "H时mm分", "H时", "H点mm分", "H点")
_MONTH_DAY = re.compile(r"^\d{1,2}月\d{1,2}日")
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
#: Excel's day 0 (its serial dates count from 1899-12-30, the 1900 leap-year bug included).
_EXCEL_EPOCH = pendulum.Date(1899, 12, 30)
_TZ = pendulum.timezone("Asia/Shanghai")
#: Serial dates from 1954 to 2118: a whole number outside is no date an office typed.
_SERIALS = range(20000, 80000)


def _from_serial(value: float) -> tuple[dt.date, dt.time | None]:
    whole = int(value)
    if whole not in _SERIALS:
        raise CellError(f"{value!r} is no Excel serial date of a plausible year")
    day = _EXCEL_EPOCH.add(days=whole)
    fraction = value - whole
    if not fraction:
        return dt.date(day.year, day.month, day.day), None
    minutes = round(fraction * 24 * 60)
    moment = pendulum.datetime(day.year, day.month, day.day, tz=_TZ).add(minutes=minutes)
    return moment.date(), moment.time()


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_DIGITS = re.compile(r"\d")
#: The form that last read each shape of text (digits as 9): a sheet types its dates one
#: way, so pendulum is asked once with the right form, not with every form in turn.
_FORM_OF_SHAPE: dict[str, str] = {}
_SHAPES_KEPT = 256


@functools.lru_cache(maxsize=8192)
def _parse_text(text: str, year: int) -> tuple[dt.date | None, dt.time | None]:
    # Cached: a sheet repeats its days and times, and pendulum reads each text once.
    if _SERIAL.match(text):
        return _from_serial(float(text))
    if _MONTH_DAY.match(text):
        # 6月27日 is a day of the round's year; pendulum would fill in the current one.
        text = f"{year}年{text}"
    iso = _ISO.match(text)
    if iso:
        # ISO text, as exported by a program: the standard library reads exactly these
        # forms, several times faster than a general parser.
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise CellError(f"{text!r} is not a date: {exc}") from None
        return moment.date(), moment.time() if iso.group(1) else None
    shape = _DIGITS.sub("9", text)
    known = _FORM_OF_SHAPE.get(shape)
    forms = (known, *_DAY_FORMS) if known else _DAY_FORMS
    for form in forms:
        try:
            moment = pendulum.from_format(text, form, tz=_TZ)
        except ValueError as exc:
            if "does not match" in str(exc):
                continue
            raise CellError(f"{text!r} is not a date: {exc}") from None
        if len(_FORM_OF_SHAPE) < _SHAPES_KEPT:
            _FORM_OF_SHAPE[shape] = form
        has_time = "H" in form
        return moment.date(), moment.time() if has_time else None
    for form in _TIME_FORMS:
        try:
            # Only the time of day is kept: the day pendulum fills in is never read.
            moment = pendulum.from_format(text, form, tz=_TZ)
        except ValueError:
            continue
        return None, moment.time()
    raise CellError(
        f"{text!r} is not a date or time in a known form (2023/6/27, 2023-06-27, "
        "2023年6月27日, 6月27日, an Excel date, 20:30)"
    )


def parse_moment(value: Any, year: int) -> tuple[dt.date | None, dt.time | None]:
    """Read a cell holding a day, a time of day, or both.

    Accepts date and datetime cells, Excel serial numbers, and text in the forms offices
    type: ``2023/6/27``, ``2023-06-27``, ``2023.6.27``, ``20230627``, ``2023年6月27日``,
    ``6月27日`` (a day of ``year``, the round's), each optionally followed by a time, and a
    time alone (``20:30``, ``20时30分``).

    Raises:
        CellError: the cell is none of these.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        has_time = value.time() != dt.time(0)
        return value.date(), value.time() if has_time else None
    if isinstance(value, dt.date):
        return value, None
    if isinstance(value, dt.time):
        return None, value
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not a date")
    if isinstance(value, (int, float)):
        return _from_serial(float(value))
    text = str(value).strip()
    if not text:
        raise CellError("empty")
    return _parse_text(text, year)


def parse_day(value: Any, year: int) -> dt.date:
    """Read a cell holding a day (a time after it is ignored).

    Raises:
        CellError: the cell holds no day.
    """
    day, _ = parse_moment(value, year)
    if day is None:
        raise CellError(f"{value!r} is a time of day, not a date")
    return day


def parse_instant(value: Any, day_value: Any, year: int, *, default_time: dt.time) -> dt.datetime:
    """Read when a complaint was received: a cell with the day and time, or a day column
    and a time column; without a time, ``default_time``.

    Raises:
        CellError: no day can be read from the cells.
    """
    day: dt.date | None = None
    time: dt.time | None = None
    if value is not None and str(value).strip():
        day, time = parse_moment(value, year)
    if day is None:
        if day_value is None or not str(day_value).strip():
            raise CellError("no day of receipt: give 受理时间 with its day, or 受理日期")
        day, day_time = parse_moment(day_value, year)
        if day is None:
            raise CellError(f"{day_value!r} is a time of day, not a date")
        time = time or day_time
    return dt.datetime.combine(day, (time or default_time).replace(tzinfo=None), SHANGHAI)


# -- numbers and labels ------------------------------------------------------------------

_BATCH = re.compile(r"^第?\s*(\d+)\s*批?(次)?$")


def parse_batch(value: Any) -> int:
    """Read a batch number: ``3``, ``3.0`` (an Excel number), ``第3批``.

    Raises:
        CellError: no whole number from 1.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        found = _BATCH.match(str(value).strip())
        if found is None:
            raise CellError(f"{value!r} is not a batch number (3 or 第3批)")
        number = int(found.group(1))
    if number < 1:
        raise CellError(f"{value!r}: batches are numbered from 1")
    return number


_CATEGORY_WORDS: dict[str, str] = {
    **{c: c for c in CATEGORIES},
    **{label: c for c, label in CATEGORIES_ZH.items()},
    **{f"{label}污染": c for c, label in CATEGORIES_ZH.items()},
    "大气污染": "air",
    "废气": "air",
    "扬尘": "air",
    "油烟": "air",
    "水污染": "water",
    "废水": "water",
    "噪音": "noise",
    "生态破坏": "ecology",
    "生态环境": "ecology",
    "固废": "solid_waste",
    "固体废弃物": "solid_waste",
    "垃圾": "solid_waste",
    "辐射类": "radiation",
    "其它": "other",
    "其他污染": "other",
    "其它污染": "other",
    "solid waste": "solid_waste",
    "污水": "water",
    "粉尘": "air",
    "臭气": "air",
    "异味": "air",
    "黑臭水体": "water",
    "危废": "solid_waste",
    "危险废物": "solid_waste",
}
#: Words of two characters or more that name a category inside a longer label (工业废气,
#: 餐饮油烟, 建筑噪音), longest first; one character (水) would match too much (水泥).
_CATEGORY_PARTS = sorted(
    (w for w in _CATEGORY_WORDS if len(w) >= 2 and not w.isascii()), key=len, reverse=True
)
_SEPARATORS = re.compile(r"[、,，/;；\s]+")


def parse_categories(value: Any) -> list[str]:
    """Read one or more pollution categories (``大气``, ``水污染``, ``大气、噪声``), the
    primary one first.

    Raises:
        CellError: a category no label names.
    """
    words = [w for w in _SEPARATORS.split(str(value or "").strip()) if w]
    if not words:
        raise CellError("empty")
    found: list[str] = []
    for word in words:
        category = _CATEGORY_WORDS.get(word.lower())
        if category is None:
            category = next(
                (_CATEGORY_WORDS[part] for part in _CATEGORY_PARTS if part in word), None
            )
        if category is None:
            known = "、".join(CATEGORIES_ZH.values())
            raise CellError(f"{word!r} is no pollution category; use one of {known}")
        if category not in found:
            found.append(category)
    return found


_CHANNEL_WORDS: dict[str, str] = {
    **{c.value: c.value for c in Channel},
    **{c.label_zh: c.value for c in Channel},
    "来电": "phone",
    "热线": "phone",
    "电话举报": "phone",
    "来信": "letter",
    "信件": "letter",
    "信访": "letter",
    "信箱": "mailbox",
    "邮箱": "email",
    "邮件": "email",
}


def parse_channel(value: Any) -> str:
    """Read how a complaint arrived: 来电, 来信, 邮政信箱, 电子邮件, 来访 (or the English
    names).

    Raises:
        CellError: no channel of that name.
    """
    text = str(value or "").strip()
    channel = _CHANNEL_WORDS.get(text.lower())
    if channel is None:
        raise CellError(f"{text!r} is no channel; use 来电, 来信, 邮政信箱, 电子邮件 or 来访")
    return channel
