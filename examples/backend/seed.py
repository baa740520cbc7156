"""Put the source case's round into the service's ledger: the Yiyang (益阳) round of Hunan's
2023 provincial inspection, announced on 19 June and stationed in on 26 June 2023.

    INSPECTION_FLOW_DB=sqlite:///yiyang.db python -m examples.backend.seed

The provincial office's and the team's own steps, done here through the library as they
would be in their own systems.  Running it again changes nothing: each step carries a
command id.
"""

from __future__ import annotations

import datetime as dt
import os

from inspection_flow import SHANGHAI, Actor, Ledger

ROUND = "HN-2023-YY"
OFFICE = Actor("leading_office", "430000", "湖南省生态环境保护督察办")
TEAM = Actor("inspection_team", "430000", "省第四生态环境保护督察组")


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in Asia/Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)


def seed(ledger: Ledger) -> None:
    """Create the round, announce it and station the team in (each once)."""
    ledger.create_round(
        ROUND,
        name="益阳市",
        area="430900",
        actor=OFFICE,
        at=at("2023-06-19", 9),
        command_id=f"{ROUND}:create",
    )
    ledger.fire(
        ROUND, "announce", actor=OFFICE, at=at("2023-06-19", 10), command_id=f"{ROUND}:announce"
    )
    ledger.fire(
        ROUND,
        "station_in",
        actor=TEAM,
        at=at("2023-06-26", 9),
        meeting="督察动员会",
        command_id=f"{ROUND}:station_in",
    )


def main() -> None:
    target = os.environ.get("INSPECTION_FLOW_DB", "sqlite:///ledger.db")
    with Ledger.open(target, rulebook="hunan-provincial-2023") as ledger:
        seed(ledger)
        snap = ledger.get(ROUND)
        print(f"{ROUND} 益阳市: {snap.state} (version {snap.version})")


if __name__ == "__main__":
    main()
