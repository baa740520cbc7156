"""The source case: Yiyang (益阳), Hunan, 2023, replayed through the public API.

The round's dates, hotline hours, rulebook and areas are those of the city's briefing
(工作简报 第1期, 2023-06-27).  The complaints, their findings and the rectification task
are made up for the example.  Everything runs in memory; run it with

    python examples/source_case.py
"""

from __future__ import annotations

import datetime as dt

from inspection_flow import SHANGHAI, Actor, Ledger, PermissionDeniedError


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in Asia/Shanghai; the ledger refuses naive datetimes."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


ROUND = "HN-2023-R2-YY"
OFFICE = Actor("leading_office", "430000", "湖南省督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")
LIAISON = Actor("liaison", "430900", "益阳市督察联络组")
HESHAN = Actor("owner_unit", "430903", "赫山区人民政府")
ZIYANG = Actor("owner_unit", "430902", "资阳区人民政府")


def main() -> None:
    ledger = Ledger(rulebook="hunan-provincial-2023")

    # Preparation and mobilization: deployment meeting on 06-20, station-in on 06-26.
    ledger.create_round(
        ROUND,
        name="湖南省第二轮省级督察·益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2023-06-19", 9),
    )
    ledger.fire(ROUND, "announce", actor=OFFICE, at=at("2023-06-19", 10))
    ledger.fire(ROUND, "hold_meeting", actor=LIAISON, at=at("2023-06-20", 9), kind="deployment")
    ledger.fire(ROUND, "station_in", actor=TEAM, at=at("2023-06-26", 9), meeting="督察动员会")
    (station_in,) = ledger.deadlines(ROUND)
    print(f"进驻 station-in: 2023-06-26 – {station_in.last_day}")

    # Five calls on 06-27; the hotline answers 8:00-20:00, so the last two belong to 06-28.
    calls = [
        ("07:59", "430903"),
        ("08:00", "430903"),
        ("19:59", "430902"),
        ("20:00", "430903"),
        ("23:00", "430922"),
    ]
    for number, (clock, area) in enumerate(calls, start=1):
        hour, minute = map(int, clock.split(":"))
        ledger.receive_complaint(
            ROUND,
            channel="phone",
            received_at=at("2023-06-27", hour, minute),
            area=area,
            summary="夜间施工噪声扰民",
            category="noise",
            actor=TEAM,
            complaint_id=f"YY-{number:04d}",
        )

    # One hand-over batch a day, holding the previous day's intake.
    for day in ("2023-06-28", "2023-06-29"):
        batch = ledger.hand_over_batch(ROUND, dt.date.fromisoformat(day), actor=TEAM, at=at(day, 9))
        assert batch is not None
        print(f"第{batch.number}批 batch {batch.number} ({day}): {', '.join(batch.case_ids)}")

    # The city's liaison group assigns a case to 赫山区; 资阳区 may not act on it.
    ledger.fire("YY-0001", "assign", actor=LIAISON, at=at("2023-06-28", 11), owners=["430903"])
    try:
        ledger.fire("YY-0001", "start_investigation", actor=ZIYANG, at=at("2023-06-29", 9))
    except PermissionDeniedError as error:
        print(f"refused: {error.reason}")
    ledger.fire("YY-0001", "start_investigation", actor=HESHAN, at=at("2023-06-29", 9))
    ledger.fire(
        "YY-0001", "record_finding", actor=HESHAN, at=at("2023-07-02", 9), finding="substantiated"
    )
    ledger.fire("YY-0001", "start_rectification", actor=HESHAN, at=at("2023-07-03", 9))
    ledger.fire(
        "YY-0001",
        "report_result",
        actor=HESHAN,
        at=at("2023-07-06", 9),
        summary="已责令停止夜间施工",
        dispositions=["order_to_rectify"],
    )
    # The city's liaison group checks the district's result and sends it up to the team.
    ledger.fire("YY-0001", "forward_result", actor=LIAISON, at=at("2023-07-06", 15))
    ledger.fire("YY-0001", "publish", actor=LIAISON, at=at("2023-07-07", 9), where="益阳日报")
    ledger.fire("YY-0001", "close", actor=LIAISON, at=at("2023-07-08", 9))

    # Each deadline says how it was reached.
    result_due = next(v for v in ledger.deadlines("YY-0002") if v.name == "result_due")
    print(result_due.explain("en").splitlines()[0], "→", result_due.last_day)

    # The sweep records each warning and escalation once; the others are now overdue.
    midnight = at("2023-07-11", 0)
    notices = ledger.sweep(midnight)
    print(f"sweep at {midnight:%Y-%m-%d %H:%M}: {len(notices)} alerts")
    print("overdue:", ", ".join(s.entity_id for s in ledger.overdue(midnight)))
    print("by state:", dict(sorted(ledger.counts("state", kind="complaint").items())))
    rates = ledger.rates(midnight, round_id=ROUND)
    print(f"办结率 case closing rate: {rates['case_closing_rate']:.0%}")
    print("hash chains:", ledger.verify())


if __name__ == "__main__":
    main()
