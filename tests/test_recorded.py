"""What happened and when it was recorded: every event keeps both, the sweep's alerts never
stop a clerk entering an earlier fact, and an alert such a fact proves groundless is
withdrawn by an event of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from inspection_flow import (
    SHANGHAI,
    AnchorError,
    ChronologyError,
    Event,
    LateEntry,
    LateEntryError,
    Ledger,
    PayloadError,
    RulebookError,
    Snapshot,
    StoreError,
    load_rulebook,
    status_report,
)
from inspection_flow._cli import main
from inspection_flow._records import chain_hash
from strategies import LIAISON, OFFICE, TEAM


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.instant = now

    def now(self) -> dt.datetime:
        """Return the instant set last."""
        return self.instant


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger in memory, on SQLite or on PostgreSQL, with a clock the test moves."""
    clock = Clock(at("2023-06-20"))
    if request.param == "memory":
        yield Ledger(rulebook="hunan-provincial-2023", clock=clock)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(url, rulebook="hunan-provincial-2023", clock=clock) as opened:
        yield opened


def requested(ledger: Ledger) -> None:
    """A round stationed in, and a document request of 06-27 due by the end of 06-29."""
    clock = ledger.clock
    assert isinstance(clock, Clock)
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    clock.instant = at("2023-06-27", 9)
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D"
    )


def test_every_event_keeps_when_it_was_recorded(ledger: Ledger) -> None:
    """An event keeps when it happened (at) and when the ledger's clock wrote it."""
    requested(ledger)
    clock = ledger.clock
    assert isinstance(clock, Clock)
    clock.instant = at("2023-06-30", 8)
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    first, last = ledger.history("D")
    assert (first.at, first.recorded_at) == (at("2023-06-27"), at("2023-06-27"))
    assert (last.at, last.recorded_at) == (at("2023-06-29", 17), at("2023-06-30", 8))


def test_the_hash_covers_the_recording_time_only_when_there_is_one(ledger: Ledger) -> None:
    """A changed recording time breaks the hash; an event without one hashes as before."""
    requested(ledger)
    event = ledger.history("D")[0]
    assert chain_hash(event) == event.hash
    assert chain_hash(attrs.evolve(event, recorded_at=at("2023-06-28"))) != event.hash
    bare = attrs.evolve(event, recorded_at=None)
    assert "recorded_at" not in bare.content()
    assert Event.from_dict(bare.sealed().to_dict()).recorded_at is None


def test_a_paper_record_is_entered_after_the_sweeps_alert(ledger: Ledger) -> None:
    """A fact that happened before an alert the sweep recorded may still be entered."""
    requested(ledger)
    notices = ledger.sweep(at("2023-06-30", 8))
    assert [(n.entity_id, n.name) for n in notices] == [("D", "overdue")]
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert ledger.get("D").deadlines["provide_due"].status == "met"
    assert ledger.rebuild("D") == ledger.get("D")


def test_an_alert_a_late_entry_proves_groundless_is_withdrawn(ledger: Ledger) -> None:
    """The overdue alert of a deadline met before it is withdrawn by an event, never refired."""
    requested(ledger)
    ledger.sweep(at("2023-06-30", 8))
    provided = ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert provided.name == "provide"
    alert, fact, withdrawn = ledger.history("D")[-3:]
    assert (alert.name, fact.name, withdrawn.name) == ("alert", "provide", "alert_withdrawn")
    assert withdrawn.at == at("2023-06-29", 17)
    assert withdrawn.payload["because"] == [fact.version, "provide"]
    assert [w[:3] for w in withdrawn.payload["withdrawn"]] == [
        ["provide_due", "escalation", "overdue"]
    ]
    assert ledger.get("D").deadlines["provide_due"].fired == ("overdue",)
    assert ledger.sweep(at("2023-07-20")) == []
    assert ledger.overdue(at("2023-07-20"), kind="document_request") == []


def test_an_alert_before_the_fact_stays(ledger: Ledger) -> None:
    """A fact entered late but happened after the alert withdraws nothing."""
    requested(ledger)
    ledger.sweep(at("2023-07-03"))
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-07-01"))
    assert [e.name for e in ledger.history("D")][-2:] == ["alert", "provide"]


def test_facts_stay_in_the_order_they_happened(ledger: Ledger) -> None:
    """A fact before the entity's latest fact is still refused, alerts or not."""
    requested(ledger)
    ledger.sweep(at("2023-06-30", 8))
    with pytest.raises(ChronologyError) as info:
        ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-26"))
    assert info.value.latest == at("2023-06-27")
    assert not ledger.can("D", "provide", LIAISON, at=at("2023-06-26"))
    assert ledger.can("D", "provide", LIAISON, at=at("2023-06-28"))


def test_a_snapshot_stored_without_the_time_of_its_latest_fact_loads() -> None:
    """A snapshot of an older release (no occurred_at) loads and orders by its latest event."""
    ledger = Ledger(rulebook="hunan-provincial-2023")
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    data = ledger.get("R").to_dict()
    assert data.pop("occurred_at") == at("2023-06-20").isoformat()
    old = Snapshot.from_dict(data)
    assert old.occurred_at is None
    assert old.facts_until == old.updated_at == at("2023-06-20")


# --- the ledger as of a past day ---------------------------------------------------------------


def provided_late(ledger: Ledger) -> None:
    """D provided on 06-29 17:00 but entered after the sweep of 07-03; E never provided."""
    requested(ledger)
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="E"
    )
    ledger.sweep(at("2023-07-03"))
    ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))


def test_as_of_a_day_folds_only_what_had_happened_by_its_end(ledger: Ledger) -> None:
    """The view of 06-28 knows nothing of 06-29; that of 06-29 counts a fact entered later."""
    provided_late(ledger)
    before = ledger.as_of(dt.date(2023, 6, 28))
    assert before.cutoff == dt.datetime.combine(dt.date(2023, 6, 28), dt.time.max, SHANGHAI)
    assert before.get("D").state == "requested"
    assert [e.name for e in before.history("D")] == ["create"]
    assert before.counts("state") == {"requested": 2, "stationed": 1}
    assert before.overdue(before.clock.now()) == []
    day = ledger.as_of(dt.date(2023, 6, 29))
    assert day.get("D").state == "provided"
    assert day.get("D").deadlines["provide_due"].status == "met"
    assert day.counts("state") == {"provided": 1, "requested": 1, "stationed": 1}
    later = ledger.as_of(dt.date(2023, 7, 3))
    assert [s.entity_id for s in later.overdue(later.clock.now())] == ["E"]
    assert later.get("E") == ledger.get("E")


def test_as_of_an_instant_cuts_within_the_day(ledger: Ledger) -> None:
    """An aware instant cuts at that instant: a fact of 17:00 is not there at 16:00."""
    provided_late(ledger)
    assert ledger.as_of(at("2023-06-29", 16)).get("D").state == "requested"
    assert ledger.as_of(at("2023-06-29", 17)).get("D").state == "provided"


def test_a_view_refuses_every_command_and_changes_nothing(ledger: Ledger) -> None:
    """Commands on a view are refused with StoreError; the ledger itself is untouched."""
    provided_late(ledger)
    view = ledger.as_of(dt.date(2023, 6, 28))
    versions = {i: ledger.get(i).version for i in ("R", "D", "E")}
    with pytest.raises(StoreError, match="for reading only"):
        view.fire("E", "provide", actor=LIAISON, at=at("2023-06-28", 10))
    with pytest.raises(StoreError, match="for reading only"):
        view.sweep(at("2023-07-03"))
    with pytest.raises(StoreError, match="for reading only"):
        view.request_documents(
            "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-28"), request_id="F"
        )
    with pytest.raises(StoreError, match="for reading only"):
        view.repair()
    assert view.get("E").version == 1
    assert {i: ledger.get(i).version for i in ("R", "D", "E")} == versions
    assert view.verify().ok


def test_as_of_refuses_what_is_not_a_day_or_an_instant() -> None:
    """A naive datetime or a string is an AnchorError."""
    ledger = Ledger()
    with pytest.raises(AnchorError):
        ledger.as_of(dt.datetime(2023, 6, 28, 9))
    with pytest.raises(AnchorError):
        ledger.as_of("2023-06-28")  # type: ignore[arg-type]


def test_the_status_of_a_past_day_counts_what_had_happened_by_then(ledger: Ledger) -> None:
    """The report of 06-28 lists D as due soon; that of 06-29 knows it was provided."""
    provided_late(ledger)
    assert "  D  " in status_report(ledger, dt.date(2023, 6, 28))
    assert "  D  " not in status_report(ledger, dt.date(2023, 6, 29))


def test_the_status_command_as_of_a_past_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --as-of 2023-06-28` counts what had happened by that day's end."""
    path = tmp_path / "ledger.db"
    with Ledger.open(path, rulebook="hunan-provincial-2023", clock=Clock(at("2023-06-20"))) as led:
        provided_late(led)
    assert main(["status", str(path), "--as-of", "2023-06-28"]) == 0
    out = capsys.readouterr().out
    assert "截至 2023-06-28" in out
    assert "  D  " in out
    assert main(["status", str(path), "--as-of", "2023-06-29"]) == 0
    assert "  D  " not in capsys.readouterr().out


# --- back-dated entries ------------------------------------------------------------------------

LIMITED = """
[rulebook]
name = "yiyang-2023"
extends = "hunan-provincial-2023"

[recording.backdate_limit]
amount = 3
unit = "working_days"
source = "益阳市督察办台账管理要求"
confidence = "M"
"""


def limited_ledger(tmp_path: Path, now: dt.datetime, url: str | None = None) -> Ledger:
    """A ledger (in memory, or opened at ``url``) whose rulebook lets a fact be entered up
    to 3 working days late, set up on 06-27 and its clock then moved to ``now``."""
    path = tmp_path / "yiyang.toml"
    path.write_text(LIMITED, encoding="utf-8")
    clock = Clock(at("2023-06-20"))
    rulebook = load_rulebook(path)
    ledger = (
        Ledger(rulebook=rulebook, clock=clock)
        if url is None
        else Ledger.open(url, rulebook=rulebook, clock=clock)
    )
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    clock.instant = at("2023-06-27")
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.request_documents(
        "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-27"), request_id="D"
    )
    clock.instant = now
    return ledger


def test_a_rulebook_sets_how_far_back_a_fact_may_be_entered(tmp_path: Path) -> None:
    """[recording] backdate_limit is read with its source; without it there is no limit."""
    ledger = limited_ledger(tmp_path, at("2023-06-27"))
    limit = ledger.rulebook.backdate_limit
    assert limit is not None
    assert (limit.amount, limit.source) == (3, "益阳市督察办台账管理要求")
    assert ledger.rulebook.notes["recording.backdate_limit"] == ("益阳市督察办台账管理要求", "M")
    assert load_rulebook("hunan-provincial-2023").backdate_limit is None


def test_a_rulebooks_recording_table_is_checked(tmp_path: Path) -> None:
    """An unknown key or a bad limit is a RulebookError naming the key."""
    path = tmp_path / "bad.toml"
    path.write_text(
        LIMITED.replace("recording.backdate_limit", "recording.backdate_limt"), encoding="utf-8"
    )
    with pytest.raises(RulebookError, match="recording"):
        load_rulebook(path)
    path.write_text(LIMITED.replace("amount = 3", "amount = -3"), encoding="utf-8")
    with pytest.raises(RulebookError, match=r"recording\.backdate_limit"):
        load_rulebook(path)


def test_a_fact_within_the_limit_needs_no_reason(tmp_path: Path) -> None:
    """A fact of 06-29 entered on 07-04, 3 working days on, is entered as any other."""
    ledger = limited_ledger(tmp_path, at("2023-07-04", 20))
    event = ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert event.late_entry is None


def test_a_fact_past_the_limit_needs_a_reason_shown_in_its_history(tmp_path: Path) -> None:
    """Past the limit a fact is refused without a reason, and kept with it when given."""
    ledger = limited_ledger(tmp_path, at("2023-07-05", 9))
    with pytest.raises(LateEntryError) as info:
        ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17))
    assert info.value.field == "late_entry_reason"
    assert "late_entry_reason" in str(info.value)
    assert ledger.get("D").version == 1
    with pytest.raises(PayloadError, match="must be text"):
        ledger.fire("D", "provide", actor=LIAISON, at=at("2023-06-29", 17), late_entry_reason=" ")
    ledger.fire(
        "D", "provide", actor=LIAISON, at=at("2023-06-29", 17), late_entry_reason="纸质签收单补录"
    )
    last = ledger.history("D")[-1]
    assert last.late_entry == {
        "reason": "纸质签收单补录",
        "limit": last.effects["late_entry"]["limit"],
    }
    assert "3" in last.late_entry["limit"]
    assert "late_entry_reason" not in ledger.get("D").data
    assert ledger.rebuild("D") == ledger.get("D")


def test_creating_past_the_limit_needs_a_reason(tmp_path: Path) -> None:
    """The generic create refuses a back-dated creation without a reason, as fire does."""
    ledger = limited_ledger(tmp_path, at("2023-07-20"))
    with pytest.raises(LateEntryError):
        ledger.create(
            "document_request", actor=TEAM, at=at("2023-06-28"), area="430900", round_id="R"
        )
    snap = ledger.create(
        "document_request",
        actor=TEAM,
        at=at("2023-06-28"),
        area="430900",
        round_id="R",
        late_entry_reason="督察组纸质记录",
        documents="台账",
    )
    (event,) = ledger.history(snap.entity_id)
    assert event.late_entry is not None
    assert event.late_entry["reason"] == "督察组纸质记录"


def test_the_audit_lists_back_dated_entries_with_their_reasons(tmp_path: Path) -> None:
    """verify() stays intact and lists each back-dated entry with its reason."""
    ledger = limited_ledger(tmp_path, at("2023-07-05", 9))
    assert ledger.verify().late_entries == ()
    ledger.fire(
        "D", "provide", actor=LIAISON, at=at("2023-06-29", 17), late_entry_reason="纸质签收单补录"
    )
    report = ledger.verify(deep=True)
    assert report.ok, str(report)
    (entry,) = report.late_entries
    assert isinstance(entry, LateEntry)
    assert (entry.entity_id, entry.event, entry.reason) == ("D", "provide", "纸质签收单补录")
    assert (entry.at, entry.recorded_at) == (at("2023-06-29", 17), at("2023-07-05", 9))
    assert "纸质签收单补录" in str(report)
    assert str(report).startswith("intact:")


@pytest.mark.parametrize(
    "where", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_both_audits_list_back_dated_entries_on_every_store(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A back-dated entry is listed with its reason by the plain audit, which checks each
    event on its stored text, and by the deep one, which decodes it, on every store."""
    url = None
    if where == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    elif where == "postgres":
        url = str(request.getfixturevalue("pg_schema_url"))
    ledger = limited_ledger(tmp_path, at("2023-07-05", 9), url)
    with ledger:
        ledger.fire(
            "D",
            "provide",
            actor=LIAISON,
            at=at("2023-06-29", 17),
            late_entry_reason="纸质签收单补录",
        )
        for report in (ledger.verify(), ledger.verify(deep=True)):
            assert report.ok, str(report)
            (entry,) = report.late_entries
            assert (entry.entity_id, entry.event, entry.reason) == (
                "D",
                "provide",
                "纸质签收单补录",
            )
            assert (entry.at, entry.recorded_at) == (at("2023-06-29", 17), at("2023-07-05", 9))


def test_every_creating_command_takes_a_late_entry_reason(tmp_path: Path) -> None:
    """Complaints, tasks, document requests and hand-overs entered late need a reason too."""
    ledger = limited_ledger(tmp_path, at("2023-07-20"))
    with pytest.raises(LateEntryError):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2023-06-27", 10),
            area="430903",
            summary="砂石码头粉尘污染",
            category="air",
            actor=TEAM,
            complaint_id="C-0",
        )
    for i in (1, 2):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2023-06-27", 10),
            area="430903",
            summary="砂石码头粉尘污染",
            category="air",
            actor=TEAM,
            complaint_id=f"C-{i}",
            late_entry_reason="来信登记簿补录",
        )
    assert [ledger.history(f"C-{i}")[0].late_entry is not None for i in (1, 2)] == [True, True]
    # A complaint entered in time makes the next of its kind take the intake's quick path,
    # which asks for the reason all the same.
    clock = ledger.clock
    assert isinstance(clock, Clock)
    clock.instant = at("2023-06-27", 11)
    ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at("2023-06-27", 10),
        area="430903",
        summary="夜间噪声",
        category="air",
        actor=TEAM,
        complaint_id="C-3",
    )
    clock.instant = at("2023-07-20")
    with pytest.raises(LateEntryError):
        ledger.receive_complaint(
            "R",
            channel="letter",
            received_at=at("2023-06-27", 10),
            area="430903",
            summary="夜间噪声",
            category="air",
            actor=TEAM,
            complaint_id="C-4",
        )
    assert ledger.history("C-3")[0].late_entry is None
    with pytest.raises(LateEntryError):
        ledger.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    batch = ledger.hand_over_batch(
        "R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"), late_entry_reason="补录"
    )
    assert batch is not None
    assert batch.case_ids == ("C-1", "C-2", "C-3")
    with pytest.raises(LateEntryError):
        ledger.request_documents(
            "R", documents="台账", area="430900", actor=TEAM, at=at("2023-06-28"), request_id="E"
        )
    ledger.request_documents(
        "R",
        documents="台账",
        area="430900",
        actor=TEAM,
        at=at("2023-06-28"),
        request_id="E",
        late_entry_reason="补录",
    )
    assert len(ledger.verify().late_entries) == 2 + 3 * 2 + 1 + 1


def test_as_of_reads_a_sql_ledger_larger_than_a_page(tmp_path: Path) -> None:
    """The SQL store's histories read page after page: every entity is in the view."""
    with Ledger.open(tmp_path / "big.db", rulebook="hunan-provincial-2023") as ledger:
        ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
        ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
        ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
        with ledger.batch():
            for i in range(2100):
                ledger.receive_complaint(
                    "R",
                    channel="letter",
                    received_at=at("2023-06-27", 10),
                    area="430903",
                    summary="砂石码头粉尘污染",
                    category="air",
                    actor=TEAM,
                    complaint_id=f"C-{i:04}",
                )
        assert ledger.as_of(dt.date(2023, 6, 27)).counts("kind") == {"complaint": 2100, "round": 1}
        assert ledger.as_of(dt.date(2023, 6, 26)).counts("kind") == {"round": 1}
