"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from hypothesis import strategies as st

from inspection_flow import (
    SHANGHAI,
    Actor,
    DeadlineRule,
    EarlyWarning,
    EscalationStep,
    Snapshot,
    Unit,
)

#: The first and last day of the published schedules (chinesecalendar 2004–2026).
FIRST_PUBLISHED = dt.date(2004, 1, 1)
LAST_PUBLISHED = dt.date(2026, 12, 31)

#: The largest step the properties take, in working days.  Small enough that a step from
#: an inner day never leaves the published years (60 working days < 100 calendar days).
MAX_STEP = 60


#: Ids under which Yiyang's areas are recorded in the Hunan rulebook: each zone's
#: statistics code and its old id (an alias), beside two districts.
YIYANG_AREA_IDS = ("430971", "yiyang-datonghu", "430972", "yiyang-hitech", "430903", "430902")


def yiyang_area_ids() -> st.SearchStrategy[list[str]]:
    """Lists of the area ids complaints may be recorded under, old ids and codes mixed."""
    return st.lists(st.sampled_from(YIYANG_AREA_IDS), min_size=1, max_size=8)


def published_days() -> st.SearchStrategy[dt.date]:
    """Any day of a published year."""
    return st.dates(FIRST_PUBLISHED, LAST_PUBLISHED)


def inner_days() -> st.SearchStrategy[dt.date]:
    """A published day from which MAX_STEP working days either way stay published."""
    return st.dates(dt.date(2004, 7, 1), dt.date(2026, 6, 30))


def steps() -> st.SearchStrategy[int]:
    """A positive number of working days, at most MAX_STEP."""
    return st.integers(1, MAX_STEP)


def time_zones() -> st.SearchStrategy[dt.tzinfo]:
    """Time zones a caller may attach: Shanghai, UTC, one with DST, fixed offsets."""
    return st.sampled_from(
        [
            SHANGHAI,
            dt.timezone.utc,
            zoneinfo.ZoneInfo("America/New_York"),
            dt.timezone(dt.timedelta(hours=8)),
            dt.timezone(dt.timedelta(hours=-11, minutes=-30)),
        ]
    )


def aware_instants(
    lo: dt.date = dt.date(2005, 1, 1), hi: dt.date = dt.date(2025, 12, 31)
) -> st.SearchStrategy[dt.datetime]:
    """An aware instant between two days, in any of :func:`time_zones`."""
    return st.datetimes(
        min_value=dt.datetime.combine(lo, dt.time()),
        max_value=dt.datetime.combine(hi, dt.time(23, 59, 59)),
        timezones=time_zones(),
    )


def _names() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


def _day_units() -> st.SearchStrategy[Unit]:
    return st.sampled_from([Unit.WORKING_DAYS, Unit.CALENDAR_DAYS, Unit.MONTHS])


@st.composite
def deadline_rules(draw: st.DrawFn) -> DeadlineRule:
    """A valid deadline rule of any unit, with consistent warnings and escalations."""
    unit = draw(st.sampled_from(list(Unit)))
    hours = unit is Unit.HOURS
    amount = draw(st.integers(1, 400))
    count_start_day = False if hours else draw(st.booleans())
    roll = False if hours else draw(st.booleans())
    closes_at = None if hours else draw(st.none() | st.times())
    names = draw(st.lists(_names(), unique=True, max_size=5))
    split = draw(st.integers(0, len(names)))
    alert_units = st.just(Unit.HOURS) if hours else _day_units()
    warnings = []
    for name in names[:split]:
        label = draw(st.text(max_size=6))
        if draw(st.booleans()):
            warnings.append(
                EarlyWarning(
                    name, before=draw(st.integers(1, 30)), unit=draw(alert_units), label_zh=label
                )
            )
        else:
            fraction = draw(st.floats(0, 1, exclude_min=True, exclude_max=True))
            warnings.append(EarlyWarning(name, fraction=fraction, label_zh=label))
    escalations = [
        EscalationStep(
            name, draw(st.integers(0, 60)), draw(alert_units), label_zh=draw(st.text(max_size=6))
        )
        for name in names[split:]
    ]
    return DeadlineRule(
        amount,
        unit,
        count_start_day=count_start_day,
        roll=roll,
        closes_at=closes_at,
        name=draw(st.text(max_size=12)),
        source=draw(st.text(max_size=12)),
        confidence=draw(st.sampled_from(["", "H", "M", "L"])),
        warnings=warnings,
        escalations=escalations,
    )


@st.composite
def working_day_rules(draw: st.DrawFn) -> DeadlineRule:
    """A working-day rule with up to 40 working days, counting the start day or not."""
    return DeadlineRule.working_days(draw(st.integers(1, 40)), count_start_day=draw(st.booleans()))


# --- ledgers: the source case's actors, and payloads for every built-in event ------------

#: The actors of the source case (domain.md §1, §6): the province (430000) inspects the
#: city of Yiyang (430900); 赫山区 (430903) is one of its districts.
OFFICE = Actor("leading_office", "430000", "湖南省督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
LIAISON = Actor("liaison", "430900", "益阳市联络组")
PARTY = Actor("inspected_party", "430900", "益阳市人民政府")
RECT_OFFICE = Actor("rectification_office", "430900", "益阳市整改办")
OWNER = Actor("owner_unit", "430903", "赫山区")
ACCEPTOR = Actor("accepting_unit", "430900", "益阳市生态环境局")
PUBLIC = Actor("public", "430903", "群众")

DISCIPLINE = Actor("discipline", "430900", "益阳市纪委监委")

#: The actor who plays each role.
BY_ROLE: dict[str, Actor] = {
    a.role: a
    for a in (OFFICE, TEAM, LIAISON, PARTY, RECT_OFFICE, OWNER, ACCEPTOR, PUBLIC, DISCIPLINE)
}

#: Actors with a role of the inspection but no jurisdiction over Yiyang's entities.
OUT_OF_AREA = (
    Actor("leading_office", "440000", "广东省督察办"),
    Actor("inspection_team", "440000", "广东省督察组"),
    Actor("liaison", "430700", "常德市联络组"),
    Actor("inspected_party", "430902", "资阳区人民政府"),
    Actor("rectification_office", "430700", "常德市整改办"),
    Actor("owner_unit", "430902", "资阳区"),
    Actor("accepting_unit", "430700", "常德市生态环境局"),
)

#: The county's accepting unit (区级验收), another unit than the owner it reviews.
COUNTY_ACCEPTOR = Actor("accepting_unit", "430903", "赫山区生态环境分局")

#: An accepting unit that is the owner itself: it may not verify its own work.
SAME_UNIT_ACCEPTOR = Actor("accepting_unit", OWNER.area, OWNER.name)

#: The instant the source case starts: the city's deployment meeting, 2023-06-20 09:00.
T0 = dt.datetime(2023, 6, 20, 9, tzinfo=SHANGHAI)


def actor_for(roles: frozenset[str]) -> Actor:
    """The test actor of the first of ``roles`` (in sorted order) that has one."""
    return next(BY_ROLE[r] for r in sorted(roles) if r in BY_ROLE)


def _open_deadline(snap: Snapshot, *, paused: bool | None = None) -> str:
    for name, record in sorted(snap.deadlines.items()):
        if record.status != "open":
            continue
        is_paused = bool(record.pauses) and record.pauses[-1][1] is None
        if paused is None or paused == is_paused:
            return name
    return "no-such-deadline"


def payload_for(lifecycle: str, event: str, snap: Snapshot, at: dt.datetime) -> dict[str, Any]:
    """A valid payload for ``event`` of ``lifecycle`` on ``snap`` fired at ``at``.

    Clock events name an open deadline of the entity (a paused one to resume, a running
    one to pause); without one they name a deadline that does not exist.
    """
    if event == "pause_clock":
        return {"deadline": _open_deadline(snap, paused=False), "reason": "等待检测报告"}
    if event == "resume_clock":
        return {"deadline": _open_deadline(snap, paused=True)}
    if event == "grant_extension":
        name = _open_deadline(snap)
        record = snap.deadlines.get(name)
        unit = record.rule["unit"] if record is not None else "working_days"
        return {"deadline": name, "reason": "汛期无法施工", "amount": 1, "unit": unit}
    if (lifecycle, event) == ("task", "plan"):
        return {
            "owner": OWNER.area,
            "measures": "关停取缔非法砂石码头",
            "term": "short",
            "deadline": (at + dt.timedelta(days=90)).date().isoformat(),
            "milestones": [
                f"{(at + dt.timedelta(days=30)).date().isoformat()} 完成码头拆除",
                f"{(at + dt.timedelta(days=60)).date().isoformat()} 完成岸线复绿",
            ],
        }
    if (lifecycle, event) == ("task", "meet_milestone"):
        # The first milestone not yet met; past the last, one the plan did not set.
        met = set(snap.data.get("milestones_met") or [])
        planned = len(snap.data.get("milestones") or [])
        return {"milestone": next(n for n in range(1, planned + 2) if n not in met)}
    if (lifecycle, event) == ("task", "add_milestones"):
        return {"milestones": [f"{(at + dt.timedelta(days=400)).date().isoformat()} 年度目标"]}
    if (lifecycle, event) == ("task", "approve_extension"):
        record = snap.deadlines.get("rectify_due") or snap.deadlines.get("immediate_due")
        base = record.last_day if record is not None else at.date()
        return {"reason": "汛期无法施工", "until": (base + dt.timedelta(days=30)).isoformat()}
    return dict(_PAYLOADS.get((lifecycle, event), {}))


_PAYLOADS: dict[tuple[str, str], dict[str, Any]] = {
    ("round", "station_in"): {"meeting": "动员会"},
    ("round", "give_feedback"): {"problems": 36},
    ("round", "return_plan"): {"reason": "整改措施不具体"},
    ("round", "hold_meeting"): {"kind": "briefing", "title": "工作简报会"},
    ("round", "visit"): {"department": "市生态环境局"},
    ("round", "talk"): {"with": "市长"},
    ("round", "record_batch"): {"number": 1, "day": "2023-06-28", "cases": []},
    ("round", "report_progress"): {"note": "按序时推进"},
    ("complaint", "pass_on"): {"reason": "不属于生态环境问题"},
    ("complaint", "mark_duplicate"): {"duplicate_of": "C-0"},
    ("complaint", "batch"): {"number": 1},
    ("complaint", "split"): {"areas": ["430903", "430902"]},
    ("complaint", "assign"): {"owners": ["430903"]},
    ("complaint", "record_finding"): {"finding": "substantiated"},
    ("complaint", "report_result"): {"summary": "已责令停产整改", "dispositions": ["fine"]},
    ("complaint", "publish"): {"where": "益阳日报"},
    ("complaint", "return_for_rehandling"): {"reason": "群众不满意"},
    ("complaint", "reject_acceptance"): {"reason": "现场仍有异味"},
    ("complaint", "return_to_owner"): {"reason": "调查不深入，未附监测报告"},
    ("complaint", "start_notice"): {"where": "赫山区人民政府网站"},
    ("complaint", "object"): {"reason": "群众反映夜间仍有粉尘"},
    ("complaint", "reopen"): {
        "reason": "码头夜间复产，粉尘反弹",
        "new_complaint": "D4SX202307100003",
    },
    ("task", "request_extension"): {"reason": "汛期无法施工"},
    ("task", "deny_extension"): {"reason": "理由不充分"},
    ("task", "rectify_immediately"): {
        "owner": OWNER.area,
        "measures": "当即拆除违建码头",
        "typical_case": True,
    },
    ("task", "mark_long_term"): {"reason": "需长期坚持"},
    ("task", "sign_off"): {"document_number": "益环督整验〔2023〕1号"},
    ("task", "claim_completion"): {"evidence": "验收材料"},
    ("task", "fail_verification"): {"reason": "现场核查未完成整改"},
    ("task", "start_notice"): {"where": "益阳市人民政府网站"},
    ("task", "object"): {"reason": "群众反映仍有偷排"},
    ("document_request", "provide"): {"note": "已提供台账"},
    ("accountability", "decide"): {"people": 2, "note": "诫勉2人"},
    ("accountability", "publish"): {"where": "湖南日报"},
    ("accountability", "hold_summons_talk"): {"people": 3, "talked_to": "赫山区政府负责人"},
    ("accountability", "submit_talk_report"): {"report": "约谈整改情况报告"},
    ("publication", "correct"): {"reason": "更正受理编号"},
    ("dispatch", "receive_report"): {"task": "T-1"},
    ("dispatch", "collect_reports"): {"missing": []},
    ("dispatch", "evaluate"): {"on": "2023-09-30", "lights": {}},
}


def bad_busy_timeouts() -> st.SearchStrategy[object]:
    """Values a store must refuse as ``busy_timeout``: out of 0..86400 s, or not numbers."""
    return st.one_of(
        st.floats(max_value=0, exclude_max=True),
        st.floats(min_value=86_400, exclude_min=True),
        st.just(float("nan")),
        st.integers(max_value=-1),
        st.integers(min_value=86_401),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
        st.binary(max_size=5),
        st.decimals(allow_nan=False, allow_infinity=False),
    )


# --- bad input ------------------------------------------------------------------------------

#: An identifier over a megabyte long.
MEGABYTE_TEXT = "x" * (1 << 20)


def extreme_instants() -> st.SearchStrategy[Any]:
    """Instants a careless caller may pass: naive, near year 1 or 9999, pendulum's."""
    import pendulum

    utc = dt.timezone.utc
    return st.sampled_from(
        [
            dt.datetime(1, 1, 1, tzinfo=utc),
            dt.datetime(9999, 12, 31, 23, 59, tzinfo=utc),
            dt.datetime(9999, 12, 31, 23, 59, tzinfo=SHANGHAI),
            dt.datetime(9999, 1, 1, tzinfo=SHANGHAI),
            dt.datetime(2023, 9, 26, 10),
            dt.datetime.min,
            dt.datetime.max,
            dt.date(2023, 9, 26),
            dt.date.max,
            dt.time(9),
            pendulum.datetime(2023, 10, 9, 12, tz="Asia/Shanghai"),
            pendulum.datetime(9999, 12, 31, tz="UTC"),
            pendulum.naive(2023, 10, 9, 12),
        ]
    )


def _nested(depth: int) -> Any:
    out: Any = []
    for _ in range(depth):
        out = [out]
    return out


def bad_values() -> st.SearchStrategy[Any]:
    """Wrong-typed and extreme values for any argument of a public callable."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from([0, -1, 1, 10**9, 2**63, -(2**63), 10**30]),
        st.integers(),
        st.floats(),
        st.sampled_from(["", " ", "\ud800", "a\x00b", "\x00", "\n", "430903\udcff", "°"]),
        st.just(MEGABYTE_TEXT),
        st.text(max_size=6),
        st.binary(max_size=6),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.just(_nested(200)),
        st.just({"a": _nested(50)}),
        st.just(object()),
        extreme_instants(),
    )
