"""The demo: the Yiyang 2023 source case built into a SQLite ledger.

The round, its dates, its rulebook and its areas are those of the source case (益阳市督察
工作简报, 2023); the complaints, findings and tasks are a deterministic synthetic stream
(fixed seed), not the real cases.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shlex
import sys
import time
from collections.abc import Iterator
from typing import Any, Literal, TextIO

from ._areas import Actor
from ._calendar import ChinaCalendar
from ._ledger import Ledger
from ._rules import SHANGHAI

__all__ = ["ROUND_ID", "build_demo"]

ROUND_ID = "HN-2023-R2-B1-YY"

OFFICE = Actor("leading_office", "430000", "省生态环境保护督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
LIAISON = Actor("liaison", "430900", "益阳市督察联络组")
RECT_OFFICE = Actor("rectification_office", "430900", "益阳市整改办")

#: Inspected areas of the source case, with a weight for the synthetic stream.
AREAS = (
    ("430903", "赫山区", 18),
    ("430902", "资阳区", 12),
    ("430923", "安化县", 16),
    ("430922", "桃江县", 13),
    ("430981", "沅江市", 13),
    ("430921", "南县", 11),
    ("430971", "大通湖区", 8),
    ("430972", "益阳高新区", 9),
)
CATEGORIES = (
    ("air", 30, ("企业废气排放异味扰民", "露天焚烧秸秆", "搅拌站扬尘污染")),
    ("noise", 25, ("夜间施工噪声扰民", "商铺音响噪声", "砂石场机器噪声")),
    ("water", 20, ("养殖废水直排沟渠", "生活污水溢流入河", "工业园区废水偷排")),
    ("ecology", 10, ("非法采砂破坏河道", "毁林开垦", "侵占湿地")),
    ("soil", 7, ("废渣倾倒污染耕地", "矿区土壤污染")),
    ("solid_waste", 6, ("建筑垃圾乱堆乱放", "医疗废物处置不规范")),
    ("other", 2, ("环评手续不全", "油烟扰民")),
)
FINDINGS = (
    ("substantiated", 45),
    ("largely_substantiated", 20),
    ("partly_substantiated", 15),
    ("unsubstantiated", 20),
)
#: Feedback problems of the round: the city reported 36.
TASKS = 36


def _t(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    d = first
    while d <= last:
        yield d
        d += dt.timedelta(days=1)


class _Progress:
    """Progress of a long step as a bar on one line of a terminal (plain lines elsewhere)."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.tty = bool(out is not None and out.isatty())

    def step(self, label: str, done: int, total: int) -> None:
        if self.out is None:
            return
        if self.tty:
            filled = 24 * done // max(1, total)
            self.out.write(f"\r{label} [{'█' * filled}{'·' * (24 - filled)}] {done}/{total}")
            if done == total:
                self.out.write("\n")
            self.out.flush()
        elif done == total or done % max(1, total // 4) == 0:
            self.out.write(f"{label} {done}/{total}\n")


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def build_demo(
    ledger: Ledger,
    *,
    seed: int = 20230626,
    per_day: tuple[int, int] = (6, 14),
    progress: TextIO | None = None,
) -> dict[str, int]:
    """Build the source case into ``ledger``; return counts of what was written.

    The ledger must use the ``hunan-provincial-2023`` rulebook and hold no round
    ``HN-2023-R2-B1-YY`` yet.
    """
    # Long by design: the demo is a script of the source case, day by day; it reads best as one
    # story.
    rng = random.Random(seed)
    bar = _Progress(progress)
    counts = {"complaints": 0, "batches": 0, "tasks": 0, "events": 0}
    area_weights = tuple((a, w) for a, _, w in AREAS)
    cat_weights = tuple((c, w) for c, w, _ in CATEGORIES)
    summaries = {c: s for c, _, s in CATEGORIES}
    names = {a: n for a, n, _ in AREAS}

    # -- preparation and mobilization (source case: 06-20 deployment, 06-26 station-in) --
    ledger.create_round(
        ROUND_ID,
        name="湖南省第二轮省级生态环境保护督察第一批·益阳市",
        area="430900",
        actor=OFFICE,
        at=_t(dt.date(2023, 6, 19), 9),
        rulebook="hunan-provincial-2023",
    )
    ledger.fire(ROUND_ID, "announce", actor=OFFICE, at=_t(dt.date(2023, 6, 19), 10))
    ledger.fire(
        ROUND_ID,
        "hold_meeting",
        actor=LIAISON,
        at=_t(dt.date(2023, 6, 20), 9),
        kind="deployment",
        title="益阳市迎接省级生态环境保护督察工作部署会",
    )
    ledger.fire(
        ROUND_ID, "station_in", actor=TEAM, at=_t(dt.date(2023, 6, 26), 9), meeting="督察动员会"
    )
    ledger.fire(
        ROUND_ID,
        "hold_meeting",
        actor=LIAISON,
        at=_t(dt.date(2023, 6, 26), 10),
        kind="report",
        title="益阳市工作汇报会",
    )

    station_first, station_last = dt.date(2023, 6, 26), dt.date(2023, 7, 16)
    cases: list[tuple[str, str]] = []

    def receive(day: dt.date, letters_only: bool = False) -> None:
        n = rng.randint(1, 3) if letters_only else rng.randint(*per_day)
        for _ in range(n):
            counts["complaints"] += 1
            cid = f"YY-{counts['complaints']:04d}"
            area = _pick(rng, area_weights)
            category = _pick(rng, cat_weights)
            phone = not letters_only and rng.random() < 0.75
            # Calls mostly inside the hotline window (a few after 20:00 belong to the next
            # day's intake); letters at any time.
            minute = rng.randint(8 * 60, 21 * 60 + 30) if phone else rng.randint(0, 1439)
            received = _t(day, minute // 60, minute % 60)
            place = names[area]
            ledger.receive_complaint(
                ROUND_ID,
                channel="phone" if phone else rng.choice(("letter", "mailbox")),
                received_at=received,
                area=area,
                summary=f"{place}{rng.choice(summaries[category])}",
                category=category,
                actor=TEAM,
                complaint_id=cid,
            )
            roll = rng.random()
            if roll < 0.05:
                # Out of the team's scope: passed to the local area under the usual rules.
                ledger.fire(
                    cid,
                    "pass_on",
                    actor=TEAM,
                    at=received + dt.timedelta(minutes=30),
                    reason="不属于生态环境问题，转交属地处理",
                )
            elif roll < 0.08 and cases:
                ledger.fire(
                    cid,
                    "mark_duplicate",
                    actor=TEAM,
                    at=received + dt.timedelta(minutes=30),
                    duplicate_of=rng.choice(cases)[0],
                )
            else:
                cases.append((cid, area))

    # -- station-in: daily intake and the next morning's hand-over batch -----------------
    days = list(_days(station_first, station_last + dt.timedelta(days=4)))
    for i, day in enumerate(days, start=1):
        if day > station_first:
            batch = ledger.hand_over_batch(ROUND_ID, day, actor=TEAM, at=_t(day, 9))
            if batch is not None:
                counts["batches"] += 1
        if day == dt.date(2023, 6, 27):
            ledger.fire(
                ROUND_ID,
                "visit",
                actor=TEAM,
                at=_t(day, 10),
                department="市生态环境局",
                note="走访问询",
            )
            ledger.fire(
                ROUND_ID, "talk", actor=TEAM, at=_t(day, 15), **{"with": "市政府主要负责同志"}
            )
            ledger.request_documents(
                ROUND_ID,
                documents="2021年以来环境信访件办理台账",
                area="430900",
                actor=TEAM,
                at=_t(day, 16),
                request_id="YY-DOC-01",
            )
            ledger.request_documents(
                ROUND_ID,
                documents="“两高”项目清单及审批资料",
                area="430900",
                actor=TEAM,
                at=_t(day, 16, 30),
                request_id="YY-DOC-02",
            )
        if day == dt.date(2023, 6, 28):
            ledger.fire("YY-DOC-01", "provide", actor=LIAISON, at=_t(day, 17))
        with ledger.batch():  # one transaction for the day's intake
            if day <= station_last:
                receive(day)
            elif day <= station_last + dt.timedelta(days=2):
                receive(day, letters_only=True)  # late letters still arrive and are batched
        if day == station_last:
            ledger.fire(ROUND_ID, "end_station_in", actor=TEAM, at=_t(day, 20, 30))
        bar.step("进驻期间受理与交办（天）", i, len(days))

    # -- case handling: assignment, investigation, findings, results, publication --------
    end_of_cases = dt.date(2023, 9, 15)
    handled = 0
    with ledger.batch():  # one transaction for the handling of all cases
        for n, (cid, area) in enumerate(cases, start=1):
            snap = ledger.get(cid)
            owner = Actor("owner_unit", area, f"{names[area]}人民政府")
            if snap.state == "received":
                continue
            start = snap.updated_at
            ledger.fire(
                cid, "assign", actor=LIAISON, at=start + dt.timedelta(hours=2), owners=[area]
            )
            if rng.random() < 0.1:
                ledger.fire(cid, "mark_key", actor=TEAM, at=start + dt.timedelta(hours=3))
            t = start + dt.timedelta(days=1)
            ledger.fire(cid, "start_investigation", actor=owner, at=t)
            t += dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
            finding = _pick(rng, FINDINGS)
            ledger.fire(cid, "record_finding", actor=owner, at=t, finding=finding)
            if finding != "unsubstantiated":
                t += dt.timedelta(hours=rng.randint(2, 30))
                ledger.fire(cid, "start_rectification", actor=owner, at=t)
            # About one case in seven reports late, after its result deadline.
            late = rng.random() < 0.15
            t += dt.timedelta(
                days=rng.randint(6, 12) if late else rng.randint(0, 4), hours=rng.randint(1, 6)
            )
            if t.date() > end_of_cases:
                continue
            dispositions = ["order_to_rectify"] if finding != "unsubstantiated" else []
            if finding == "substantiated" and rng.random() < 0.3:
                dispositions.append("fine")
            # The counted outcomes of 边督边改, as briefings state them; derived from the
            # dispositions (no draw from the seed, so the stream stays as it was).
            outcomes: dict[str, Any] = {}
            if "order_to_rectify" in dispositions:
                outcomes["rectification_orders"] = 1
            if "fine" in dispositions:
                outcomes["penalty_cases"] = 1
                outcomes["fines_10k_yuan"] = f"{n % 5 + 1}.5"
            ledger.fire(
                cid,
                "report_result",
                actor=owner,
                at=t,
                summary="已调查处理，详见办理情况",
                dispositions=dispositions,
                handling_status="closed" if finding == "unsubstantiated" else "interim_closed",
                **outcomes,
            )
            # The city's liaison group checks the county's result and sends it up.
            ledger.fire(cid, "forward_result", actor=LIAISON, at=t + dt.timedelta(hours=1))
            t += dt.timedelta(days=rng.randint(1, 3))
            ledger.fire(cid, "publish", actor=LIAISON, at=t, where="益阳日报、益阳市人民政府网")
            if rng.random() < 0.55:
                t += dt.timedelta(days=rng.randint(5, 30))
                event = (
                    "close"
                    if finding == "unsubstantiated" or rng.random() < 0.6
                    else "close_interim"
                )
                ledger.fire(cid, event, actor=LIAISON, at=t)
            handled += 1
            bar.step("信访件办理（件）", n, len(cases))

    # -- report, feedback, plan and tasks -------------------------------------------------
    ledger.fire(ROUND_ID, "approve_report", actor=OFFICE, at=_t(dt.date(2023, 9, 5), 10))
    feedback = _t(dt.date(2023, 9, 20), 10)
    ledger.fire(ROUND_ID, "give_feedback", actor=TEAM, at=feedback, problems=TASKS)
    plan_submitted = _t(dt.date(2023, 11, 3), 16)
    terms = (
        ("short", dt.date(2023, 12, 31)),
        ("medium", dt.date(2024, 6, 30)),
        ("long", dt.date(2025, 12, 31)),
    )
    owners = [a for a, _, _ in AREAS]
    task_ids: list[tuple[str, str, str]] = []
    for k in range(1, TASKS + 1):
        tid = f"YY-T{k:02d}"
        area = owners[(k - 1) % len(owners)]
        category = _pick(rng, cat_weights)
        ledger.add_task(
            ROUND_ID,
            title=f"反馈问题{k}：{names[area]}{rng.choice(summaries[category])}整治不到位",
            area=area,
            actor=RECT_OFFICE,
            at=feedback + dt.timedelta(hours=2),
            task_id=tid,
            category=category,
            problem_no=k,
        )
        task_ids.append((tid, area, terms[(k - 1) % 3][0]))
        counts["tasks"] += 1
    ledger.fire(ROUND_ID, "submit_plan", actor=LIAISON, at=plan_submitted)
    ledger.fire(ROUND_ID, "approve_plan", actor=OFFICE, at=_t(dt.date(2023, 11, 20), 10))
    ledger.fire(ROUND_ID, "publish_plan", actor=LIAISON, at=_t(dt.date(2023, 11, 24), 10))
    ledger.fire(
        ROUND_ID, "start_rectification", actor=RECT_OFFICE, at=_t(dt.date(2023, 11, 24), 11)
    )
    planned_at = _t(dt.date(2023, 11, 24), 15)
    acceptor = Actor("accepting_unit", "430900", "益阳市生态环境局")
    with ledger.batch():  # one transaction for the tasks' progress
        for k, (tid, area, term) in enumerate(task_ids, start=1):
            deadline = dict(terms)[term]
            owner = Actor("owner_unit", area, f"{names[area]}人民政府")
            ledger.fire(
                tid,
                "plan",
                actor=RECT_OFFICE,
                at=planned_at,
                owner=area,
                measures="制定专项整治方案，明确责任人和时限",
                term=term,
                deadline=deadline.isoformat(),
            )
            ledger.fire(tid, "start", actor=owner, at=planned_at + dt.timedelta(days=3))
            # Eight short-term tasks were done by the report date, as the city reported.
            if term == "short" and k <= 24:
                t = _t(dt.date(2023, 12, 10), 10) + dt.timedelta(days=k % 7)
                ledger.fire(tid, "claim_completion", actor=owner, at=t, evidence="整改完成报告")
                ledger.fire(tid, "start_verification", actor=acceptor, at=t + dt.timedelta(days=3))
                ledger.fire(
                    tid,
                    "sign_off",
                    actor=acceptor,
                    at=t + dt.timedelta(days=5),
                    document_number=f"益环督整验〔2023〕{k}号",
                )
                notice_at = t + dt.timedelta(days=6)
                ledger.fire(
                    tid, "start_notice", actor=RECT_OFFICE, at=notice_at, where="益阳市人民政府网"
                )
                if k == 4:
                    # An objection during the public notice sends the task back.
                    ledger.fire(
                        tid,
                        "object",
                        actor=Actor("public", "430900", "群众"),
                        at=notice_at + dt.timedelta(days=2),
                        reason="现场仍有异味",
                    )
                    continue
                end = ledger.get(tid).deadlines["notice_ends"].due_at
                ledger.fire(tid, "close", actor=RECT_OFFICE, at=end + dt.timedelta(hours=9))
                ledger.fire(tid, "file", actor=RECT_OFFICE, at=end + dt.timedelta(days=2))
            elif term == "medium" and k % 5 == 0:
                ledger.fire(
                    tid,
                    "request_extension",
                    actor=owner,
                    at=_t(dt.date(2024, 5, 20), 10),
                    reason="项目资金未到位",
                    until="2024-09-30",
                )
                ledger.fire(
                    tid,
                    "approve_extension",
                    actor=RECT_OFFICE,
                    at=_t(dt.date(2024, 5, 27), 10),
                    reason="同意延期至2024年9月底",
                    until="2024-09-30",
                )
            elif term == "long" and k % 3 == 0:
                ledger.fire(
                    tid,
                    "mark_long_term",
                    actor=RECT_OFFICE,
                    at=planned_at + dt.timedelta(days=5),
                    reason="需长期坚持",
                )
            bar.step("整改任务（项）", k, len(task_ids))
    counts["handled"] = handled
    return counts


def run_demo(
    db: str,
    *,
    as_of: dt.date,
    lang: str = "zh",
    out: TextIO | None = None,
    err: TextIO | None = None,
    calendar: ChinaCalendar | None = None,
) -> int:
    """Build the demo ledger in the SQLite file ``db`` and print its status, then the
    commands that read it again; return 0.

    ``calendar`` is the working-day calendar to compute with (default: the data package's).
    """
    from ._report import status_report

    # Read at the call, not at import: a host (or a test) may have replaced the streams.
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err

    started = time.perf_counter()
    with Ledger.open(
        db,
        rulebook="hunan-provincial-2023",
        store_options={"synchronous": "NORMAL"},
        calendar=calendar,
    ) as ledger:
        err.write(f"构建台账 {db} …\n" if lang == "zh" else f"Building the ledger in {db} …\n")
        counts = build_demo(ledger, progress=err)
        end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0), SHANGHAI)
        alerts = ledger.sweep(end)
        built = time.perf_counter() - started
        lang_: Literal["zh", "en"] = "en" if lang == "en" else "zh"
        out.write(status_report(ledger, as_of, round_id=ROUND_ID, lang=lang_, verify=True) + "\n")
        if lang_ == "zh":
            out.write(
                f"\n共受理信访件 {counts['complaints']} 件，交办 {counts['batches']} 批，"
                f"整改任务 {counts['tasks']} 项；本次巡检记录预警/升级 {len(alerts)} 条。"
                f"用时 {built:.1f} 秒。\n"
                "（轮次、日期、规则与地区取自益阳市2023年督察简报；信访件、结论与任务为固定种子生成的示例数据。）\n"
                "\n再次查看这个台账：\n"
            )
        else:
            out.write(
                f"\n{counts['complaints']} complaints received, {counts['batches']} batches "
                f"handed over, {counts['tasks']} rectification tasks; the sweep recorded "
                f"{len(alerts)} warnings and escalations. Built in {built:.1f} s.\n"
                "(Round, dates, rules and areas are those of the Yiyang 2023 briefing; "
                "complaints, findings and tasks are synthetic, from a fixed seed.)\n"
                "\nTo look at this ledger again:\n"
            )
        # The absolute path, quoted for a shell, so the lines can be pasted anywhere as they are.
        path = shlex.quote(os.path.abspath(db))
        out.write(f"  inspection-flow status {path} --as-of {as_of.isoformat()} --lang {lang_}\n")
        out.write(f"  inspection-flow verify {path}\n")
    return 0
