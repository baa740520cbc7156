"""The built-in lifecycles: inspection round, complaint case, rectification task, document
request, accountability case (domain.md §5), the publication of a batch's results (一览表)
and the monthly dispatch (调度).

It is long because it is data: seven lifecycles, each transition a few lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._areas import ROLES, Actor
from ._definitions import DeadlineBinding, Field, FieldType, Lifecycle, State, Transition
from ._guards import GuardContext, register_derivation, register_guard
from ._rules import SHANGHAI
from .exceptions import PayloadError

__all__ = [
    "ACCOUNTABILITY",
    "COMPLAINT",
    "DISPATCH",
    "DOCUMENT_REQUEST",
    "LIFECYCLES",
    "PUBLICATION",
    "ROUND",
    "TASK",
]

_ROLES = frozenset(ROLES)

TEAM = frozenset({"inspection_team"})
OFFICE = frozenset({"leading_office"})
LIAISON = frozenset({"liaison", "inspected_party"})
RECT_OFFICE = frozenset({"rectification_office"})
OWNER = frozenset({"owner_unit"})
ACCEPTOR = frozenset({"accepting_unit"})
SYSTEM = frozenset({"system"})
DISCIPLINE = frozenset({"discipline"})
CLOCK_KEEPERS = frozenset({"rectification_office", "leading_office", "inspection_team"})


# --- guards and derivations of the built-in lifecycles ----------------------------------------


def _unit(actor: Actor | Mapping[str, str] | None) -> tuple[str, str] | None:
    """An acting unit as (area, name), from an actor or an actor recorded as data."""
    if actor is None:
        return None
    if isinstance(actor, Actor):
        return (actor.area, actor.name)
    return (actor.get("area", ""), actor.get("name", ""))


def _same_unit(ctx: GuardContext, field: str, what: str) -> str | None:
    earlier = ctx.snapshot.data.get(field)
    if earlier is None:
        return None
    # A unit is its area and name: two unnamed actors of one area cannot be told apart,
    # so they count as the same unit and must give their names to verify each other.
    key = _unit(earlier)
    if key is not None and key == _unit(ctx.actor):
        return (
            f"{ctx.actor.name or ctx.actor.area} {what}; who accepts is answerable "
            "(谁验收、谁负责), so another unit must verify"
        )
    return None


def _finding_substantiated(ctx: GuardContext) -> str | None:
    if ctx.snapshot.data.get("finding") == "unsubstantiated":
        return (
            f"the finding is {FINDINGS_ZH['unsubstantiated']} (unsubstantiated); "
            "report the result instead"
        )
    return None


def _not_the_applicant(ctx: GuardContext) -> str | None:
    return _same_unit(ctx, "applied_by", "applied for acceptance itself")


def _not_the_claimant(ctx: GuardContext) -> str | None:
    return _same_unit(ctx, "claimed_by", "claimed completion itself")


def _notice_elapsed(ctx: GuardContext) -> str | None:
    record = ctx.snapshot.deadlines.get("notice_ends")
    if record is None or record.status != "open":
        return "no public notice is running"
    if ctx.at < record.due_at:
        return (
            f"the public notice (公示) runs until {record.last_day.isoformat()} 24:00; "
            "close after it ends"
        )
    return None


def _all_tasks_closed(ctx: GuardContext) -> str | None:
    """Every task of the round closed, or in a state that outlives the round (长期坚持)."""
    open_tasks = []
    for s in ctx.ledger.find(kind="task", round_id=ctx.snapshot.entity_id):
        lc = ctx.ledger.lifecycle_of(s)
        if lc.counts_as(s.state) == "open" and not lc.outlives_round(s.state):
            open_tasks.append(f"{s.entity_id} ({s.state})")
    if open_tasks:
        shown = ", ".join(open_tasks[:5]) + (" …" if len(open_tasks) > 5 else "")
        return (
            f"{len(open_tasks)} task(s) neither closed nor kept up for the long term "
            f"(长期坚持): {shown}; close them, or mark those that go on long-term"
        )
    return None


def _during_station_in(ctx: GuardContext) -> str | None:
    """立行立改 is for what the station-in finds, while the team is stationed."""
    round_id = ctx.snapshot.round_id
    if round_id is None:
        return "the task belongs to no round, so no station-in found it; plan it instead"
    state = ctx.ledger.get(round_id).state
    if state != "stationed":
        return (
            f"rectification on the spot (立行立改) is for problems found during the "
            f"station-in, and the round {round_id} is {state!r}; plan the task instead"
        )
    return None


def _acceptor_named(ctx: GuardContext) -> str | None:
    """Only the acceptors the rulebook names (``[acceptance] by``) verify and accept."""
    by = ctx.ledger.rulebook_of(ctx.snapshot).acceptance_by
    if not by:
        return None
    areas = ctx.ledger.areas
    own = list(dict.fromkeys(areas.canonical(a) for a in ctx.snapshot.areas))
    higher = areas.canonical(ctx.actor.area) not in own and all(
        areas.covers(ctx.actor.area, a) for a in own
    )
    if "higher_level" in by and higher:
        return None
    lead = ctx.snapshot.data.get("lead_unit")
    if "industry_department" in by and lead and ctx.actor.name == lead:
        return None
    named = []
    if "higher_level" in by:
        named.append(f"a unit of a level above {', '.join(areas.name(a) for a in own)}")
    if "industry_department" in by:
        named.append(
            f"the lead unit (牵头单位) {lead}"
            if lead
            else "the lead unit (牵头单位), which the plan does not name"
        )
    who = ctx.actor.name or areas.name(ctx.actor.area)
    return (
        f"{who} may not verify or accept this task: the rulebook's [acceptance] names "
        f"{' or '.join(named)} (谁验收、谁负责)"
    )


def _owners_mode(ctx: GuardContext) -> Mapping[str, Any]:
    """A case assigned to several owners is shared (共办); to divide it, split it."""
    owners = list(dict.fromkeys(ctx.payload["owners"]))
    if len(owners) > 1 and ctx.payload.get("mode", "shared") != "shared":
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "mode",
            "several owners share a case (mode 'shared'); use split to divide it",
        )
    return {"mode": "shared" if len(owners) > 1 else "single"}


#: The review levels a rulebook names (``[review]``), in Chinese.
LEVELS_ZH = {"county": "县级", "city": "市级", "province": "省级", "team": "督察组"}


def actor_level(actor: Actor) -> str:
    """The review level an actor acts at: ``team`` for the inspection team; otherwise its
    area's level by the shape of its GB/T 2260 code (``430000`` a province, ``430900`` a
    city, any other id a county-level area such as ``430921`` or ``430971``)."""
    if actor.role == "inspection_team":
        return "team"
    code = actor.area
    if len(code) == 6 and code.isdigit() and code.endswith("00"):
        return "province" if code.endswith("0000") else "city"
    return "county"


def _level(level: str) -> str:
    return f"the {level} level ({LEVELS_ZH.get(level, level)})"


def _who(actor: Actor) -> str:
    return f"{actor.name or actor.role} of {actor.area} acts at {_level(actor_level(actor))}"


def _relay(ctx: GuardContext) -> tuple[str, ...]:
    return tuple(ctx.ledger.rulebook_of(ctx.snapshot).review_levels)


def result_level(levels: tuple[str, ...], data: Mapping[str, Any]) -> str:
    """The level a reported result is with, awaiting its review: as the relay recorded
    it, or, for a result reported before the relay was recorded, the first level above
    the owner's."""
    level = data.get("result_level")
    return level if isinstance(level, str) and level in levels[1:] else levels[1]


def _result_with_this_level(ctx: GuardContext) -> str | None:
    """Only the level holding a result below the team forwards it or returns it."""
    level = result_level(_relay(ctx), ctx.snapshot.data)
    if level == "team":
        return (
            "the result has gone up to the inspection team (督察组) already; "
            "the team returns it (return_for_rehandling)"
        )
    if actor_level(ctx.actor) != level:
        return f"the result is with {_level(level)} for review; {_who(ctx.actor)}"
    return None


def _result_with_team(ctx: GuardContext) -> str | None:
    """A reported result is returned by the team or published once it reached the team."""
    if ctx.snapshot.state != "reported":
        return None
    level = result_level(_relay(ctx), ctx.snapshot.data)
    if level != "team":
        return (
            f"the result is still with {_level(level)}, which forwards it up "
            "(forward_result) or returns it to the owner (return_to_owner)"
        )
    return None


def _fully_closed(ctx: GuardContext) -> str | None:
    if ctx.snapshot.state == "interim_closed":
        return (
            "the case is closed only for now (阶段性办结); acceptance (验收销号) follows "
            "full 办结: record close once it is handled fully, then apply"
        )
    return None


def _acceptance_reviews(ctx: GuardContext) -> tuple[tuple[str, ...], list[str]]:
    levels = tuple(ctx.ledger.rulebook_of(ctx.snapshot).acceptance_levels)
    done = [str(r.get("level")) for r in ctx.snapshot.data.get("acceptance_reviews") or []]
    return levels, [level for level in levels if level not in done]


def _next_acceptance_review(ctx: GuardContext) -> str | None:
    levels, missing = _acceptance_reviews(ctx)
    if not missing:
        named = ", ".join(levels) or "none"
        return f"every review level the rulebook names ({named}) has reviewed it; accept it"
    if actor_level(ctx.actor) != missing[0]:
        return f"the next review is that of {_level(missing[0])}; {_who(ctx.actor)}"
    return _same_unit(ctx, "applied_by", "applied for acceptance itself")


def _acceptance_complete(ctx: GuardContext) -> str | None:
    """What an acceptance still lacks: its public notice run to its end, and a review at
    each level the rulebook names."""
    lacking: list[str] = []
    notice = ctx.snapshot.deadlines.get("notice_ends")
    if notice is None or notice.status != "open":
        lacking.append("the public notice (公示) has not run: start it (start_notice)")
    elif ctx.at < notice.due_at:
        lacking.append(f"the public notice (公示) runs until {notice.last_day.isoformat()} 24:00")
    _, missing = _acceptance_reviews(ctx)
    if missing:
        shown_levels = ", ".join(_level(level) for level in missing)
        lacking.append(f"no review yet by {shown_levels} (review_acceptance)")
    return "; ".join(lacking) or None


for _name, _guard in (
    ("finding_substantiated", _finding_substantiated),
    ("not_the_applicant", _not_the_applicant),
    ("not_the_claimant", _not_the_claimant),
    ("notice_elapsed", _notice_elapsed),
    ("all_tasks_closed", _all_tasks_closed),
    ("result_with_this_level", _result_with_this_level),
    ("result_with_team", _result_with_team),
    ("fully_closed", _fully_closed),
    ("next_acceptance_review", _next_acceptance_review),
    ("acceptance_complete", _acceptance_complete),
    ("during_station_in", _during_station_in),
    ("acceptor_named", _acceptor_named),
):
    register_guard(_name, _guard)


def _talk_totals(ctx: GuardContext) -> Mapping[str, Any]:
    """Summons talks held on a case and people talked to, so far, as briefings count them."""
    data = ctx.snapshot.data
    return {
        "talks": int(data.get("talks", 0)) + 1,
        "people_talked_to": int(data.get("people_talked_to", 0)) + ctx.payload["people"],
    }


def parse_milestone(text: str) -> tuple[dt.date, str] | None:
    """A milestone (阶段目标) as its date and goal, from ``"YYYY-MM-DD 描述"``; ``None``
    when the text is not of that form."""
    day, _, goal = text.strip().partition(" ")
    try:
        due = dt.date.fromisoformat(day)
    except ValueError:
        return None
    goal = goal.strip()
    return (due, goal) if goal and len(day) == 10 else None


def _milestones(ctx: GuardContext) -> Mapping[str, Any]:
    """Milestones are checked when planned, so that progress can always be judged."""
    given = ctx.payload.get("milestones")
    if given is None:
        return {}
    parsed = [parse_milestone(text) for text in given]
    for number, (text, milestone) in enumerate(zip(given, parsed, strict=True), start=1):
        if milestone is None:
            raise PayloadError(
                ctx.snapshot.entity_id,
                ctx.event,
                "milestones",
                f"milestone {number} ({text!r}) must read 'YYYY-MM-DD 描述', "
                "its date then what is to be achieved by it",
            )
    days = [m[0] for m in parsed if m is not None]
    if days != sorted(days):
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "milestones",
            "list the milestones in the order of their dates",
        )
    return {"milestones": [text.strip() for text in given]}


def _milestone_met(ctx: GuardContext) -> Mapping[str, Any]:
    """A milestone is met once, and only one the plan set."""
    planned = ctx.snapshot.data.get("milestones") or []
    number = ctx.payload["milestone"]
    met = list(ctx.snapshot.data.get("milestones_met") or [])
    if number > len(planned):
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "milestone",
            f"the plan sets {len(planned)} milestone(s); give the number of one of them",
        )
    if number in met:
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "milestone",
            f"milestone {number} ({planned[number - 1]}) is recorded as met already",
        )
    return {"milestones_met": sorted([*met, number])}


def _result_reported(ctx: GuardContext) -> Mapping[str, Any]:
    """A result reported by its owner goes to the first level above the owner's."""
    return {"result_level": _relay(ctx)[1]}


def _result_forwarded(ctx: GuardContext) -> Mapping[str, Any]:
    """A level forwards the result to the next one up (the guard checked it may)."""
    levels = _relay(ctx)
    level = result_level(levels, ctx.snapshot.data)
    return {"result_level": levels[levels.index(level) + 1]}


def _result_returned(ctx: GuardContext) -> Mapping[str, Any]:
    """Returns are counted, with the level of the last one."""
    return {
        "returns": int(ctx.snapshot.data.get("returns", 0)) + 1,
        "returned_at_level": actor_level(ctx.actor),
    }


def _acceptance_applied(ctx: GuardContext) -> Mapping[str, Any]:
    """Each application for acceptance is reviewed afresh."""
    return {"acceptance_reviews": []}


def _acceptance_reviewed(ctx: GuardContext) -> Mapping[str, Any]:
    _, missing = _acceptance_reviews(ctx)
    reviews = list(ctx.snapshot.data.get("acceptance_reviews") or [])
    return {"acceptance_reviews": [*reviews, {"level": missing[0], "by": ctx.actor.to_dict()}]}


#: What a reopened case keeps of each earlier result, besides its events.
_RESULT_KEYS = ("finding", "result_summary", "handling_status", "dispositions")


def _case_reopened(ctx: GuardContext) -> Mapping[str, Any]:
    """A reopened case (反弹) counts its reopenings and keeps each earlier result."""
    data = ctx.snapshot.data
    earlier = {key: data[key] for key in _RESULT_KEYS if key in data}
    earlier["state"] = ctx.snapshot.state
    earlier["until"] = ctx.at.isoformat()
    return {
        "reopened": int(data.get("reopened", 0)) + 1,
        "earlier_results": [*(data.get("earlier_results") or []), earlier],
    }


register_derivation("result_reported", _result_reported)
register_derivation("result_forwarded", _result_forwarded)
register_derivation("result_returned", _result_returned)
register_derivation("acceptance_applied", _acceptance_applied)
register_derivation("acceptance_reviewed", _acceptance_reviewed)
register_derivation("case_reopened", _case_reopened)


def _more_milestones(ctx: GuardContext) -> Mapping[str, Any]:
    """Milestones added to those planned (a long-term task's next years), each dated
    after the last one planned."""
    given = ctx.payload.get("milestones")
    if given is None:
        return {}
    planned = list(ctx.snapshot.data.get("milestones") or [])
    every = {"milestones": [*planned, *given]}
    return _milestones(GuardContext(ctx.ledger, ctx.snapshot, ctx.actor, ctx.at, every, ctx.event))


def _day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


def _acceptance(ctx: GuardContext) -> Mapping[str, Any]:
    """The day of acceptance: as given, else the day of the sign-off; never later."""
    given = ctx.payload.get("accepted_on")
    day = dt.date.fromisoformat(given) if given is not None else _day(ctx.at)
    if day > _day(ctx.at):
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "accepted_on",
            f"{day.isoformat()} is after the sign-off ({_day(ctx.at).isoformat()}); "
            "give the day the acceptance was signed",
        )
    return {"accepted_on": day.isoformat()}


def _closing_record(ctx: GuardContext) -> Mapping[str, Any]:
    """The 销号 as the ledger records it: the acceptance's document number (文号) and
    day, the public notice's first and last days, and the day of closing."""
    data = ctx.snapshot.data
    document = data.get("acceptance_document")
    if not document:
        raise PayloadError(
            ctx.snapshot.entity_id,
            ctx.event,
            "acceptance_document",
            "no document number (文号) of the acceptance is recorded; sign off with "
            "document_number before closing",
        )
    notice = ctx.snapshot.deadlines.get("notice_ends")
    record: dict[str, Any] = {
        "acceptance_document": document,
        "accepted_on": data.get("accepted_on"),
        "notice_from": _day(dt.datetime.fromisoformat(notice.anchor)).isoformat()
        if notice is not None
        else None,
        "notice_until": notice.last_day.isoformat() if notice is not None else None,
        "closed_on": _day(ctx.at).isoformat(),
    }
    if "document_number" in ctx.payload:
        record["closing_document"] = ctx.payload["document_number"]
    return {"closing": record}


register_derivation("owners_mode", _owners_mode)
register_derivation("more_milestones", _more_milestones)
register_derivation("acceptance", _acceptance)
register_derivation("closing_record", _closing_record)
register_derivation("milestones", _milestones)
register_derivation("milestone_met", _milestone_met)
register_derivation("talk_totals", _talk_totals)


def _t(
    event: str,
    sources: str | tuple[str, ...],
    target: str | None,
    roles: frozenset[str],
    zh: str,
    en: str,
    *,
    guards: tuple[str, ...] = (),
    fields: tuple[Field, ...] = (),
    **declared: Any,
) -> Transition:
    src = (sources,) if isinstance(sources, str) else sources
    return Transition(event, src, target, roles, guards, fields, zh, en, **declared)


def _clock_events(states: tuple[str, ...], roles: frozenset[str]) -> tuple[Transition, ...]:
    """Pausing, resuming and extending a deadline: recorded, never an edit of a date."""
    which = Field("deadline", "str", label_zh="期限")
    reason = Field("reason", "str", label_zh="原因")
    return (
        _t(
            "pause_clock",
            states,
            None,
            roles,
            "中止计时",
            "pause clock",
            fields=(which, reason),
            clock="pause",
        ),
        _t(
            "resume_clock",
            states,
            None,
            roles,
            "恢复计时",
            "resume clock",
            fields=(which,),
            clock="resume",
        ),
        _t(
            "grant_extension",
            states,
            None,
            roles,
            "批准延期",
            "grant extension",
            fields=(
                which,
                reason,
                Field("amount", "int", required=False),
                Field(
                    "unit",
                    "choice",
                    required=False,
                    choices=("working_days", "calendar_days", "months", "hours"),
                    labels_zh={
                        "working_days": "工作日",
                        "calendar_days": "自然日",
                        "months": "月",
                        "hours": "小时",
                    },
                ),
                Field("until", "date", required=False),
            ),
            clock="extend",
        ),
    )


# --- inspection round ---------------------------------------------------------------------

_ROUND_STATES = (
    State("planned", "计划", "planned"),
    State("announced", "公告进驻", "announced"),
    State("stationed", "进驻中", "stationed"),
    State("station_in_ended", "进驻结束", "station-in ended"),
    State("report_approved", "督察报告已审定", "report approved"),
    State("feedback_given", "已反馈", "feedback given"),
    State("plan_submitted", "整改方案已报送", "plan submitted"),
    State("plan_approved", "整改方案已审定", "plan approved"),
    State("plan_published", "整改方案已公开", "plan published"),
    State("rectifying", "整改中", "rectifying"),
    State("all_closed", "全部销号", "all closed", counts_as="closed"),
    State("archived", "立卷归档", "archived", terminal=True, counts_as="closed"),
)
_ROUND_LIVE = tuple(s.name for s in _ROUND_STATES if not s.terminal)
_AFTER_STATION = tuple(_ROUND_LIVE[_ROUND_LIVE.index("stationed") :])

ROUND = Lifecycle(
    name="round",
    kind="round",
    label_zh="督察轮次",
    label_en="inspection round",
    initial="planned",
    states=_ROUND_STATES,
    roles=_ROLES,
    creators=OFFICE,
    transitions=(
        _t("announce", "planned", "announced", OFFICE, "公告", "announce"),
        _t(
            "station_in",
            "announced",
            "stationed",
            TEAM,
            "动员会·进驻",
            "station in",
            fields=(
                Field("meeting", "str", required=False),
                Field("announced_end", "date", required=False, label_zh="公告的进驻结束日期"),
            ),
        ),
        _t("end_station_in", "stationed", "station_in_ended", TEAM, "进驻结束", "end station-in"),
        _t(
            "approve_report",
            "station_in_ended",
            "report_approved",
            OFFICE,
            "审定督察报告",
            "approve report",
        ),
        _t(
            "give_feedback",
            "report_approved",
            "feedback_given",
            TEAM,
            "反馈意见",
            "give feedback",
            fields=(Field("problems", "int", required=False),),
        ),
        _t(
            "submit_plan",
            "feedback_given",
            "plan_submitted",
            LIAISON,
            "报送整改方案",
            "submit plan",
        ),
        _t(
            "approve_plan",
            "plan_submitted",
            "plan_approved",
            OFFICE,
            "审定整改方案",
            "approve plan",
        ),
        _t(
            "return_plan",
            "plan_submitted",
            "feedback_given",
            OFFICE,
            "退回整改方案",
            "return plan",
            fields=(Field("reason", "str"),),
        ),
        _t(
            "publish_plan",
            "plan_approved",
            "plan_published",
            LIAISON,
            "公开整改方案",
            "publish plan",
        ),
        _t(
            "start_rectification",
            "plan_published",
            "rectifying",
            RECT_OFFICE,
            "组织整改",
            "start rectification",
        ),
        _t(
            "close_all",
            "rectifying",
            "all_closed",
            RECT_OFFICE,
            "全部销号",
            "close all",
            guards=("all_tasks_closed",),
        ),
        _t("archive", "all_closed", "archived", OFFICE, "立卷归档", "archive"),
        _t(
            "hold_meeting",
            _ROUND_LIVE,
            None,
            TEAM | LIAISON | OFFICE | RECT_OFFICE,
            "召开会议",
            "hold meeting",
            fields=(
                Field(
                    "kind",
                    "choice",
                    choices=(
                        "deployment",
                        "mobilization",
                        "report",
                        "briefing",
                        "feedback",
                        "other",
                    ),
                ),
                Field("title", "str", required=False),
            ),
        ),
        _t(
            "visit",
            _AFTER_STATION,
            None,
            TEAM,
            "走访",
            "visit",
            fields=(Field("department", "str"), Field("note", "str", required=False)),
        ),
        _t(
            "talk",
            _AFTER_STATION,
            None,
            TEAM,
            "个别谈话·座谈",
            "talk",
            fields=(Field("with", "str"), Field("note", "str", required=False)),
        ),
        _t(
            "record_batch",
            _AFTER_STATION,
            None,
            TEAM,
            "交办批次",
            "record batch",
            fields=(
                Field("number", "int"),
                Field("day", "date"),
                Field("cases", "list"),
                Field("handed_over_on", "date", required=False, label_zh="交办日"),
                Field("late", "list", required=False, label_zh="晚交办"),
            ),
            records=(("number", "batches"),),
        ),
        _t(
            "report_progress",
            ("plan_approved", "plan_published", "rectifying"),
            None,
            LIAISON | RECT_OFFICE,
            "报送整改进展",
            "report progress",
            fields=(Field("note", "str", required=False),),
        ),
        *_clock_events(_ROUND_LIVE, OFFICE),
    ),
    deadlines=(
        DeadlineBinding(
            "station_in_ends",
            "station_in",
            "station_in",
            frozenset({"end_station_in"}),
            date_field="announced_end",
            label_zh="进驻结束",
            label_en="end of station-in",
            kind="period",
        ),
        DeadlineBinding(
            "plan_due",
            "plan",
            "give_feedback",
            frozenset({"submit_plan"}),
            label_zh="报送整改方案",
            label_en="rectification plan due",
        ),
        DeadlineBinding(
            "progress_report_due",
            "progress_report",
            "approve_plan",
            frozenset({"report_progress"}),
            label_zh="报送整改进展",
            label_en="progress report due",
        ),
    ),
)

# --- complaint case -----------------------------------------------------------------------

FINDINGS = ("substantiated", "largely_substantiated", "partly_substantiated", "unsubstantiated")
FINDINGS_ZH = {
    "substantiated": "属实",
    "largely_substantiated": "基本属实",
    "partly_substantiated": "部分属实",
    "unsubstantiated": "不属实",
}
DISPOSITIONS = (
    "order_to_rectify",
    "fine",
    "case_filed",
    "detention",
    "summons_talk",
    "accountability",
)

#: 办理状态 of a reported result, as published lists state it.
HANDLING_STATUSES = ("closed", "interim_closed", "in_progress")
HANDLING_STATUSES_ZH = {
    "closed": "已办结",
    "interim_closed": "阶段性办结",
    "in_progress": "正在办理",
}

#: The counted outcomes of 边督边改 a result reports, as briefings count them: each a
#: payload field and data key of the same name, its type and its label with its unit.
#: The fine is an amount in 万元 kept as decimal text (see :class:`Field`).
OUTCOMES: tuple[tuple[str, FieldType, str], ...] = (
    ("rectification_orders", "count", "责令整改（家）"),
    ("penalty_cases", "count", "立案处罚（家）"),
    ("fines_10k_yuan", "decimal", "罚款（万元）"),
    ("criminal_investigations", "count", "立案侦查（件）"),
    ("detentions", "count", "行政/刑事拘留（人）"),
    ("summons_talks", "count", "约谈（人）"),
    ("persons_held_accountable", "count", "问责（人）"),
)


def handling_status(state: str, data: Mapping[str, Any]) -> str | None:
    """A case's 办理状态 now: what its closing says, else what its latest result reported.

    Closing a case records its status too; the state is read first so that a case closed
    before closing recorded it still counts as closed.
    """
    if state == "interim_closed":
        return "interim_closed"
    if state in ("closed", "under_acceptance", "accepted"):
        return "closed"
    status = data.get("handling_status")
    return status if isinstance(status, str) else None


def _as_published(ctx: GuardContext) -> Mapping[str, Any]:
    """What a publication shows of a case: its 办理状态 then, and how often it was published."""
    data = ctx.snapshot.data
    out: dict[str, Any] = {"publications": int(data.get("publications", 0)) + 1}
    status = handling_status(ctx.snapshot.state, data)
    if status is not None:
        out["published_status"] = status
    return out


register_derivation("as_published", _as_published)

#: The fields of publishing a case's result, alone or in a list (一览表), and what they record.
_PUBLISHED_IN = (
    Field("where", "str", required=False, label_zh="公开渠道"),
    Field("publication", "str", required=False, label_zh="公开清单"),
    Field("list_batch", "int", required=False, label_zh="一览表所属批次（第N批）"),
)
_PUBLISHED_RECORDS = (
    ("where", "where"),
    ("publication", "published_in"),
    ("list_batch", "published_in_batch"),
)

COMPLAINT = Lifecycle(
    name="complaint",
    kind="complaint",
    label_zh="信访件",
    label_en="complaint case",
    initial="received",
    roles=_ROLES,
    creators=TEAM,
    states=(
        State("received", "受理", "received"),
        State("passed_on", "转交地方", "passed on", terminal=True, counts_as="excluded"),
        State("duplicate", "重复件", "duplicate", terminal=True, counts_as="excluded"),
        State("batched", "编入批次", "batched"),
        State("handed_over", "已交办", "handed over"),
        State("split", "已分解", "split", terminal=True, counts_as="excluded"),
        State("assigned", "已分办", "assigned"),
        State("investigating", "调查核实", "investigating"),
        State("verified", "已核实", "finding recorded"),
        State("rectifying", "正在整改", "rectifying"),
        State("reopened", "反弹重办", "reopened"),
        State("reported", "办理情况已反馈", "result reported"),
        State("published", "已公开", "published"),
        State("interim_closed", "阶段性办结", "interim closed", counts_as="closed"),
        State("closed", "已办结", "closed", counts_as="closed"),
        State("under_acceptance", "验收中", "under acceptance", counts_as="closed"),
        State("public_notice", "销号公示", "public notice", counts_as="closed"),
        # Not terminal: a problem that comes back (反弹) reopens even an accepted case.
        State("accepted", "已验收销号", "accepted and closed", counts_as="closed"),
    ),
    transitions=(
        _t(
            "pass_on",
            "received",
            "passed_on",
            TEAM,
            "转交地方处理",
            "pass on",
            fields=(Field("reason", "str", required=False),),
        ),
        _t(
            "mark_duplicate",
            # A repeat is found on receipt, or once handed over in a batch, where it
            # stays counted (重复件，见第X批).
            ("received", "handed_over"),
            "duplicate",
            TEAM,
            "重复件",
            "mark duplicate",
            fields=(
                Field("duplicate_of", "str", label_zh="原件"),
                Field("duplicate_of_batch", "int", required=False, label_zh="见第X批"),
            ),
        ),
        _t(
            "batch",
            "received",
            "batched",
            TEAM,
            "编入批次",
            "batch",
            fields=(Field("number", "int"),),
            records=(),
            sets_batch="number",
        ),
        _t(
            "hand_over",
            "batched",
            "handed_over",
            TEAM,
            "交办",
            "hand over",
            # The day it was handed over is a fact of its own: a late hand-over starts the
            # clock later than the batch day the intake gave the case.
            fields=(Field("day", "date", required=False, label_zh="交办日"),),
            records=(("day", "handed_over_day"),),
        ),
        _t(
            "split",
            "handed_over",
            "split",
            LIAISON,
            "分解",
            "split",
            fields=(Field("areas", "areas"),),
        ),
        _t(
            "assign",
            "handed_over",
            "assigned",
            LIAISON,
            "分办",
            "assign",
            fields=(
                Field("owners", "areas"),
                Field(
                    "mode",
                    "choice",
                    required=False,
                    choices=("single", "shared"),
                    labels_zh={"shared": "共办"},
                ),
            ),
            assigns="owners",
            derive="owners_mode",
        ),
        _t(
            "start_investigation",
            ("assigned", "reopened"),
            "investigating",
            OWNER,
            "调查核实",
            "start investigation",
        ),
        _t(
            "record_finding",
            "investigating",
            "verified",
            OWNER,
            "核实结论",
            "record finding",
            fields=(
                Field("finding", "choice", choices=FINDINGS, labels_zh=FINDINGS_ZH),
                Field("note", "str", required=False),
            ),
        ),
        _t(
            "start_rectification",
            "verified",
            "rectifying",
            OWNER,
            "开始整改",
            "start rectification",
            guards=("finding_substantiated",),
        ),
        _t(
            "report_result",
            ("verified", "rectifying"),
            "reported",
            OWNER,
            "反馈办理情况",
            "report result",
            fields=(
                Field("summary", "str"),
                Field("dispositions", "list", required=False),
                Field(
                    "handling_status",
                    "choice",
                    required=False,
                    choices=HANDLING_STATUSES,
                    label_zh="办理状态",
                    labels_zh=HANDLING_STATUSES_ZH,
                ),
                *(
                    Field(name, kind, required=False, label_zh=label)
                    for name, kind, label in OUTCOMES
                ),
            ),
            # The result has its own text: the complaint's summary is what was complained
            # of, and no later event changes it.
            records=(
                ("summary", "result_summary"),
                ("dispositions", "dispositions"),
                ("handling_status", "handling_status"),
                *((name, name) for name, _, _ in OUTCOMES),
            ),
            derive="result_reported",
        ),
        _t(
            "forward_result",
            "reported",
            None,
            LIAISON | OFFICE,
            "审核上报",
            "forward result",
            # The level holding the result sends it one level up the rulebook's relay
            # ([review] levels), county → city → team.
            fields=(Field("opinion", "str", required=False, label_zh="审核意见"),),
            guards=("result_with_this_level",),
            records=(),
            records_actor="forwarded_by",
            derive="result_forwarded",
        ),
        _t(
            "return_to_owner",
            "reported",
            "investigating",
            LIAISON | OFFICE,
            "审核退回重办",
            "return to owner",
            # A level below the team returns the owner's result before it goes up; the
            # result's deadline runs on (result_due reopens, its day unchanged).
            fields=(Field("reason", "str", label_zh="退回原因"),),
            guards=("result_with_this_level",),
            records_actor="returned_by",
            derive="result_returned",
        ),
        _t(
            "publish",
            "reported",
            "published",
            LIAISON,
            "公开办理结果",
            "publish",
            fields=_PUBLISHED_IN,
            guards=("result_with_team",),
            records=_PUBLISHED_RECORDS,
            derive="as_published",
        ),
        _t(
            "republish",
            # A case whose 办理状态 changed after its list went out is published again in
            # a later list (同时将第X批交办信访件……办理情况予以公开); an accepted case is
            # final and is not.
            ("published", "interim_closed", "closed", "under_acceptance", "public_notice"),
            None,
            LIAISON,
            "再次公开办理情况",
            "republish",
            fields=_PUBLISHED_IN,
            records=_PUBLISHED_RECORDS,
            derive="as_published",
        ),
        _t(
            "return_for_rehandling",
            ("reported", "published"),
            "investigating",
            TEAM,
            "退回重办",
            "return for re-handling",
            # The team returns a result that has come up to it; re-handling gets a
            # deadline of its own (rehandling_due).
            fields=(Field("reason", "str"),),
            guards=("result_with_team",),
            records_actor="returned_by",
            derive="result_returned",
        ),
        _t(
            "close_interim",
            "published",
            "interim_closed",
            LIAISON,
            "阶段性办结",
            "close (interim)",
            marks={"handling_status": "interim_closed"},
        ),
        _t(
            "close",
            ("published", "interim_closed"),
            "closed",
            LIAISON,
            "办结",
            "close",
            marks={"handling_status": "closed"},
        ),
        _t(
            "apply_acceptance",
            # From an interim closing too, where the guard says what is missing.
            ("closed", "interim_closed"),
            "under_acceptance",
            OWNER,
            "申请验收",
            "apply for acceptance",
            guards=("fully_closed",),
            records_actor="applied_by",
            derive="acceptance_applied",
        ),
        _t(
            "start_notice",
            "under_acceptance",
            "public_notice",
            OWNER | ACCEPTOR | LIAISON | RECT_OFFICE,
            "销号公示",
            "start public notice",
            fields=(Field("where", "str", required=False, label_zh="公示渠道"),),
        ),
        _t(
            "review_acceptance",
            ("under_acceptance", "public_notice"),
            None,
            ACCEPTOR | LIAISON | OFFICE | RECT_OFFICE | TEAM,
            "审核验收",
            "review acceptance",
            # One review per level the rulebook names ([review] acceptance), in order.
            fields=(Field("opinion", "str", required=False, label_zh="审核意见"),),
            guards=("next_acceptance_review",),
            records=(),
            derive="acceptance_reviewed",
        ),
        _t(
            "accept",
            "public_notice",
            "accepted",
            ACCEPTOR,
            "验收销号",
            "accept and close",
            guards=("not_the_applicant", "acceptance_complete"),
        ),
        _t(
            "reject_acceptance",
            ("under_acceptance", "public_notice"),
            "rectifying",
            ACCEPTOR,
            "验收不通过",
            "reject acceptance",
            fields=(Field("reason", "str"),),
        ),
        _t(
            "object",
            "public_notice",
            "rectifying",
            frozenset({"public"}) | LIAISON | RECT_OFFICE | TEAM,
            "公示异议",
            "object",
            fields=(Field("reason", "str"),),
        ),
        _t(
            "reopen",
            ("closed", "under_acceptance", "public_notice", "accepted"),
            "reopened",
            TEAM | LIAISON | OFFICE | RECT_OFFICE,
            "反弹重办",
            "reopen",
            # The problem came back: the case is handled again, its earlier result kept
            # in its events and in earlier_results.
            fields=(
                Field("reason", "str", label_zh="反弹情况"),
                Field("new_complaint", "str", required=False, label_zh="反映反弹的举报件"),
            ),
            records=(("reason", "reopen_reason"), ("new_complaint", "reopened_by_complaint")),
            records_actor="reopened_by",
            derive="case_reopened",
        ),
        _t(
            "mark_key",
            (
                "received",
                "batched",
                "handed_over",
                "assigned",
                "investigating",
                "verified",
                "rectifying",
                "reopened",
            ),
            None,
            TEAM,
            "列为重点件",
            "mark key case",
            marks={"key_case": True},
        ),
        *_clock_events(
            (
                "handed_over",
                "assigned",
                "investigating",
                "verified",
                "rectifying",
                "reported",
                "reopened",
            ),
            CLOCK_KEEPERS,
        ),
    ),
    deadlines=(
        DeadlineBinding(
            "result_due",
            "case_result",
            "hand_over",
            frozenset({"report_result"}),
            frozenset({"split", "mark_duplicate"}),
            label_zh="办理结果反馈",
            label_en="case result due",
            reopened_by=frozenset({"return_to_owner"}),
        ),
        # A result the team returns, and a case reopened (反弹), are handled again in the
        # time the rulebook gives a case (case_result), from the return or the reopening.
        DeadlineBinding(
            "rehandling_due",
            "case_result",
            "return_for_rehandling",
            frozenset({"report_result"}),
            label_zh="退回重办结果反馈",
            label_en="re-handled result due",
            reopened_by=frozenset({"return_to_owner"}),
        ),
        DeadlineBinding(
            "reopened_due",
            "case_result",
            "reopen",
            frozenset({"report_result"}),
            label_zh="反弹重办结果反馈",
            label_en="reopened case result due",
            reopened_by=frozenset({"return_to_owner"}),
        ),
        DeadlineBinding(
            "notice_ends",
            "public_notice",
            "start_notice",
            frozenset({"accept"}),
            frozenset({"object", "reject_acceptance", "reopen"}),
            label_zh="销号公示期满",
            label_en="end of public notice",
            kind="period",
        ),
        # Counted from the result: a list publishes results, so its clock cannot run out
        # before the result is due (it did when it counted from the hand-over).  A result
        # reported again after re-handling starts it again.
        DeadlineBinding(
            "publish_due",
            "case_publish",
            "report_result",
            frozenset({"publish"}),
            frozenset({"split", "mark_duplicate"}),
            label_zh="办理结果公开",
            label_en="result publication due",
        ),
    ),
)

# --- rectification task -------------------------------------------------------------------

TERMS = ("short", "medium", "long")

#: What a plan (整改台账) says of a task beyond its owner, measures and deadline.
_PLAN_DETAILS = (
    Field("owners", "areas", required=False, label_zh="涉及地区"),
    Field("lead_unit", "str", required=False, label_zh="牵头单位"),
    Field("responsible_units", "list", required=False, label_zh="责任单位"),
    Field("supporting_units", "list", required=False, label_zh="配合单位"),
    Field("leader", "str", required=False, label_zh="责任领导"),
    Field("person", "str", required=False, label_zh="责任人"),
    Field("target", "str", required=False, label_zh="整改目标"),
    Field("milestones", "list", required=False, label_zh="阶段目标"),
)

TASK = Lifecycle(
    name="task",
    kind="task",
    label_zh="整改任务",
    label_en="rectification task",
    initial="identified",
    roles=_ROLES,
    creators=TEAM | RECT_OFFICE,
    states=(
        State("identified", "反馈问题", "identified"),
        State("planned", "纳入方案", "planned"),
        State("in_progress", "整改中", "in progress"),
        State("extension_requested", "申请延期", "extension requested"),
        State("long_term", "长期坚持", "long-term", outlives_round=True),
        State("completion_claimed", "申请验收", "completion claimed"),
        State("verifying", "现场核查", "verifying"),
        State("signed_off", "审核签字", "signed off"),
        State("public_notice", "销号公示", "public notice"),
        State("closed", "销号", "closed", counts_as="closed"),
        State("filed", "备案", "filed", terminal=True, counts_as="closed"),
    ),
    transitions=(
        _t(
            "plan",
            "identified",
            "planned",
            RECT_OFFICE,
            "纳入整改方案",
            "plan",
            fields=(
                Field("owner", "area"),
                Field("measures", "str"),
                Field("term", "choice", choices=TERMS),
                Field("deadline", "date"),
                *_PLAN_DETAILS,
            ),
            # The lead county first, then the other counties the task spans: each one's
            # officers see the task and may act on it.
            assigns=("owner", "owners"),
            derive="milestones",
        ),
        _t(
            "rectify_immediately",
            "identified",
            "in_progress",
            RECT_OFFICE,
            "立行立改",
            "rectify immediately",
            guards=("during_station_in",),
            fields=(
                Field("owner", "area"),
                Field("measures", "str"),
                Field("deadline", "date", required=False),
                Field("typical_case", "bool", required=False, label_zh="典型案例"),
                *_PLAN_DETAILS,
            ),
            marks={"immediate": True},
            assigns=("owner", "owners"),
            derive="milestones",
        ),
        _t("start", "planned", "in_progress", OWNER, "开始整改", "start"),
        _t(
            "request_extension",
            "in_progress",
            "extension_requested",
            OWNER,
            "申请延期",
            "request extension",
            fields=(Field("reason", "str"), Field("until", "date", required=False)),
        ),
        _t(
            "approve_extension",
            "extension_requested",
            "in_progress",
            RECT_OFFICE,
            "批准延期",
            "approve extension",
            fields=(Field("reason", "str"), Field("until", "date")),
            extends=("rectify_due", "immediate_due"),
        ),
        _t(
            "deny_extension",
            "extension_requested",
            "in_progress",
            RECT_OFFICE,
            "不予延期",
            "deny extension",
            fields=(Field("reason", "str"),),
        ),
        _t(
            "mark_long_term",
            "in_progress",
            "long_term",
            RECT_OFFICE,
            "列为长期坚持",
            "mark long-term",
            fields=(
                Field("reason", "str"),
                Field("milestones", "list", required=False, label_zh="年度阶段目标"),
            ),
            derive="more_milestones",
        ),
        _t(
            "add_milestones",
            ("in_progress", "extension_requested", "long_term"),
            None,
            RECT_OFFICE,
            "增列阶段目标",
            "add milestones",
            fields=(Field("milestones", "list", label_zh="阶段目标"),),
            records=(),
            derive="more_milestones",
        ),
        _t(
            "meet_milestone",
            ("in_progress", "extension_requested", "long_term"),
            None,
            OWNER | RECT_OFFICE,
            "完成阶段目标",
            "meet milestone",
            fields=(
                Field("milestone", "int", label_zh="阶段目标序号"),
                Field("evidence", "str", required=False, label_zh="佐证材料"),
            ),
            derive="milestone_met",
        ),
        _t(
            "claim_completion",
            ("in_progress", "long_term"),
            "completion_claimed",
            OWNER,
            "申请验收",
            "claim completion",
            fields=(Field("evidence", "str", required=False),),
            records_actor="claimed_by",
        ),
        _t(
            "start_verification",
            "completion_claimed",
            "verifying",
            ACCEPTOR,
            "现场核查",
            "start verification",
            guards=("acceptor_named",),
        ),
        _t(
            "fail_verification",
            ("verifying", "signed_off"),
            "in_progress",
            ACCEPTOR,
            "核查不通过",
            "fail verification",
            guards=("acceptor_named",),
            fields=(Field("reason", "str"),),
        ),
        _t(
            "sign_off",
            "verifying",
            "signed_off",
            ACCEPTOR,
            "审核签字",
            "sign off",
            guards=("not_the_claimant", "acceptor_named"),
            fields=(
                Field("document_number", "str", label_zh="验收意见文号"),
                Field("accepted_on", "date", required=False, label_zh="验收日期"),
            ),
            records=(("document_number", "acceptance_document"),),
            records_actor="accepted_by",
            derive="acceptance",
        ),
        _t(
            "start_notice",
            "signed_off",
            "public_notice",
            RECT_OFFICE,
            "销号公示",
            "start public notice",
            fields=(Field("where", "str", required=False),),
        ),
        _t(
            "object",
            "public_notice",
            "in_progress",
            frozenset({"public", "rectification_office", "inspection_team"}),
            "公示异议",
            "object",
            fields=(Field("reason", "str"),),
        ),
        _t(
            "close",
            "public_notice",
            "closed",
            RECT_OFFICE,
            "销号",
            "close",
            guards=("notice_elapsed",),
            fields=(Field("document_number", "str", required=False, label_zh="销号文号"),),
            records=(),
            derive="closing_record",
        ),
        _t("file", "closed", "filed", RECT_OFFICE, "备案", "file"),
        *_clock_events(
            ("planned", "in_progress", "extension_requested", "public_notice"), RECT_OFFICE
        ),
    ),
    deadlines=(
        DeadlineBinding(
            "rectify_due",
            "task_deadline",
            "plan",
            frozenset({"claim_completion", "mark_long_term"}),
            date_field="deadline",
            reopened_by=frozenset({"fail_verification", "object"}),
            label_zh="整改时限",
            label_en="rectification deadline",
        ),
        DeadlineBinding(
            "immediate_due",
            "immediate_rectification",
            "rectify_immediately",
            frozenset({"claim_completion", "mark_long_term"}),
            date_field="deadline",
            reopened_by=frozenset({"fail_verification", "object"}),
            label_zh="立行立改时限",
            label_en="on-the-spot rectification deadline",
            rule_optional=True,
        ),
        DeadlineBinding(
            "notice_ends",
            "public_notice",
            "start_notice",
            frozenset({"close"}),
            frozenset({"object"}),
            label_zh="公示期满",
            label_en="end of public notice",
            kind="period",
        ),
    ),
)

# --- document request (调阅资料) ------------------------------------------------------------

DOCUMENT_REQUEST = Lifecycle(
    name="document_request",
    kind="document_request",
    label_zh="调阅资料",
    label_en="document request",
    initial="requested",
    roles=_ROLES,
    creators=TEAM,
    states=(
        State("requested", "待提供", "requested"),
        State("provided", "已提供", "provided", terminal=True, counts_as="closed"),
        State("withdrawn", "已撤回", "withdrawn", terminal=True, counts_as="excluded"),
    ),
    transitions=(
        _t(
            "provide",
            "requested",
            "provided",
            LIAISON | OWNER,
            "提供资料",
            "provide",
            fields=(Field("note", "str", required=False),),
        ),
        _t("withdraw", "requested", "withdrawn", TEAM, "撤回", "withdraw"),
    ),
    deadlines=(
        DeadlineBinding(
            "provide_due",
            "document_request",
            "create",
            frozenset({"provide"}),
            frozenset({"withdraw"}),
            label_zh="提供资料",
            label_en="documents due",
        ),
    ),
)

# --- accountability case (责任追究问题) -------------------------------------------------------

ACCOUNTABILITY = Lifecycle(
    name="accountability",
    kind="accountability",
    label_zh="责任追究问题",
    label_en="accountability case",
    initial="transferred",
    roles=_ROLES,
    # The team draws up the list of problems and files (问题清单和案卷) and the leading office
    # hands them over (移交移送); either may enter the case.
    creators=TEAM | OFFICE,
    fields=(
        Field("problem", "str", label_zh="问题"),
        Field("transferred_to", "str", required=False, label_zh="移交对象"),
    ),
    states=(
        State("transferred", "已移交", "transferred"),
        State("investigating", "调查中", "investigating"),
        State("decided", "已问责", "decided"),
        State("published", "已公开", "published", terminal=True, counts_as="closed"),
    ),
    transitions=(
        _t(
            "start_investigation",
            "transferred",
            "investigating",
            DISCIPLINE,
            "组织调查",
            "start investigation",
        ),
        _t(
            "decide",
            "investigating",
            "decided",
            DISCIPLINE,
            "问责",
            "decide accountability",
            # How many people were held accountable is what announcements count (问责X人);
            # none is a decision too, recorded as 0.
            fields=(
                Field("people", "int", label_zh="问责人数"),
                Field("note", "str", required=False, label_zh="问责情况"),
            ),
            records=(("people", "held_accountable"), ("note", "decision")),
        ),
        _t(
            "publish",
            "decided",
            "published",
            LIAISON | OFFICE,
            "公开问责情况",
            "publish",
            fields=(Field("where", "str", required=False, label_zh="公开渠道"),),
        ),
        _t(
            "hold_summons_talk",
            ("transferred", "investigating", "decided"),
            None,
            TEAM | OFFICE | RECT_OFFICE | DISCIPLINE,
            "约谈",
            "hold summons talk",
            # Each talk is an event of its own and keeps its count; the case keeps running
            # totals, so no later talk overwrites an earlier one's people.
            fields=(
                Field("people", "int", label_zh="约谈人数"),
                Field("talked_to", "str", label_zh="约谈对象"),
            ),
            derive="talk_totals",
        ),
        _t(
            "submit_talk_report",
            ("transferred", "investigating", "decided"),
            None,
            LIAISON | OWNER,
            "报送约谈整改情况",
            "submit talk report",
            fields=(Field("report", "str", label_zh="书面报告"),),
        ),
    ),
    deadlines=(
        DeadlineBinding(
            "talk_report_due",
            "summons_report",
            "hold_summons_talk",
            frozenset({"submit_talk_report"}),
            label_zh="约谈整改书面报告",
            label_en="written report after a summons talk",
        ),
    ),
)

# --- publication of a batch's results (信访件办理情况一览表) -----------------------------------

PUBLICATION = Lifecycle(
    name="publication",
    kind="publication",
    label_zh="信访件办理情况公开（一览表）",
    label_en="publication of case results",
    initial="published",
    roles=_ROLES,
    # The inspected area publishes the results of the cases handed over to it.
    creators=LIAISON,
    fields=(
        Field("number", "int", label_zh="公开序号"),
        Field("batch", "int", label_zh="第N批"),
        Field("published_on", "date", label_zh="公开日期"),
        Field("cases", "list", label_zh="公开的信访件"),
        Field("statuses", "dict", label_zh="公开时的办理状态"),
        Field("republished", "list", required=False, label_zh="再次公开的信访件"),
        Field("where", "str", required=False, label_zh="公开渠道"),
    ),
    states=(
        State("published", "已公开", "published"),
        State("filed", "已归档", "filed", terminal=True, counts_as="closed"),
    ),
    transitions=(
        _t(
            "correct",
            "published",
            None,
            LIAISON,
            "更正",
            "correct",
            # A published list is never edited: a correction is a fact of its own.
            fields=(Field("reason", "str", label_zh="更正说明"),),
        ),
        _t("file", "published", "filed", LIAISON | OFFICE, "归档", "file"),
    ),
)

# --- monthly dispatch (调度) and its warning lights --------------------------------------------

#: The warning lights of a dispatch, after 广元市《环境保护督察问题整改“贴蓝签挂黄牌亮红灯”
#: 制度（试行）》: blue (on schedule), yellow (behind, still able to finish in time), red
#: (past its deadline, or judged unable to finish in time, criticised or exposed).
LIGHTS = ("blue", "yellow", "red")
LIGHTS_ZH = {"blue": "贴蓝签", "yellow": "挂黄牌", "red": "亮红灯"}

DISPATCH = Lifecycle(
    name="dispatch",
    kind="dispatch",
    label_zh="整改调度",
    label_en="progress dispatch",
    initial="called",
    roles=_ROLES,
    creators=RECT_OFFICE | OFFICE,
    fields=(
        Field("period", "str", label_zh="调度期（YYYY-MM）"),
        Field("reports_due", "date", label_zh="进展报送截止日"),
    ),
    states=(
        State("called", "已发调度通知", "called"),
        State("collected", "进展已报齐", "reports collected"),
        State("evaluated", "已亮灯评价", "evaluated", terminal=True, counts_as="closed"),
    ),
    transitions=(
        _t(
            "receive_report",
            "called",
            None,
            OWNER | LIAISON | RECT_OFFICE,
            "报送整改进展",
            "receive report",
            fields=(
                Field("task", "str", label_zh="整改任务"),
                Field("note", "str", required=False, label_zh="进展情况"),
            ),
        ),
        _t(
            "collect_reports",
            "called",
            "collected",
            RECT_OFFICE | OFFICE,
            "汇总调度情况",
            "collect reports",
            fields=(Field("missing", "list", required=False, label_zh="未按时报送"),),
        ),
        _t(
            "evaluate",
            ("called", "collected"),
            "evaluated",
            RECT_OFFICE | OFFICE,
            "亮灯评价",
            "evaluate",
            # The lights are worked out by Ledger.evaluate_dispatch from the tasks' progress
            # on the day given and the facts passed in; recorded here as they were shown.
            fields=(
                Field("on", "date", label_zh="评价日"),
                Field("lights", "dict", label_zh="亮灯结果"),
                Field("done", "list", required=False, label_zh="已完成"),
                Field("reasons", "dict", required=False, label_zh="亮红灯原因"),
                Field("supervision_letters", "list", required=False, label_zh="专函督办"),
                Field("summons_talks", "list", required=False, label_zh="约谈"),
                Field("note", "str", required=False),
            ),
        ),
    ),
    deadlines=(
        DeadlineBinding(
            "reports_due",
            "dispatch_report",
            "create",
            frozenset({"collect_reports", "evaluate"}),
            date_field="reports_due",
            label_zh="报送整改进展",
            label_en="progress reports due",
        ),
    ),
)

#: The built-in lifecycles by name, read-only: every rulebook starts from these, so a
#: change here would leak into each rulebook loaded afterwards.
LIFECYCLES: Mapping[str, Lifecycle] = MappingProxyType(
    {
        lc.name: lc
        for lc in (ROUND, COMPLAINT, TASK, DOCUMENT_REQUEST, ACCOUNTABILITY, PUBLICATION, DISPATCH)
    }
)
