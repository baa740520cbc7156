"""Complaint cases as offices handle them: acceptance numbers (受理编号)."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from inspection_flow import Ledger, PayloadError, RulebookError, load_rulebook, status_report
from processes import run_all
from strategies import OFFICE, TEAM
from test_fuzz import at

# The form of the numbers in a published 一览表 (阳泉市, 2025-07-01: D3SX202505280018):
# channel letter, the round (3), the province (SX), the intake day, the day's sequence.
NUMBERED = (
    '[rulebook]\nname = "numbered"\ntitle = "x"\nextends = "hunan-provincial-2023"\n'
    '[intake]\nacceptance_number = "{channel}3SX{day}{seq:04d}"\n'
)


def _rulebook(tmp_path: Path, text: str = NUMBERED) -> object:
    """Load a rulebook written to ``tmp_path``."""
    path = tmp_path / "numbered.toml"
    path.write_text(text, encoding="utf-8")
    return load_rulebook(str(path))


def _open(tmp_path: Path, backend: str, url: str | None = None) -> Ledger:
    """A ledger of the numbered rulebook with the Yiyang round stationed in (in the
    database of ``url`` if given)."""
    rb = _rulebook(tmp_path)
    if backend == "memory":
        led = Ledger(rulebook=rb)  # type: ignore[arg-type]
    else:
        led = Ledger.open(url or tmp_path / "ledger.db", rulebook=rb)  # type: ignore[arg-type]
    led.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    led.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    led.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    return led


def _receive(led: Ledger, channel: str, when: dt.datetime, **kw: object) -> str:
    """Receive a complaint; return its acceptance number."""
    snap = led.receive_complaint(
        "R",
        channel=channel,
        received_at=when,
        area="430903",
        summary="砂石码头粉尘污染",
        category="air",
        actor=TEAM,
        **kw,  # type: ignore[arg-type]
    )
    number = str(snap.data["acceptance_number"])
    assert snap.entity_id == f"R/{number}"
    return number


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_numbers_follow_the_rulebook_form_and_count_per_day(tmp_path: Path, backend: str) -> None:
    """Calls and letters of a day are numbered 0001, 0002 … in the form, a new day from 1."""
    with _open(tmp_path, backend) as led:
        assert _receive(led, "phone", at("2023-06-27", 9)) == "D3SX202306270001"
        assert _receive(led, "letter", at("2023-06-27", 10)) == "X3SX202306270002"
        # After the hotline closes, a call is the next day's intake.
        assert _receive(led, "phone", at("2023-06-27", 21)) == "D3SX202306280001"
        assert _receive(led, "phone", at("2023-06-27", 11)) == "D3SX202306270003"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_hand_over_between_receipts_keeps_counting(tmp_path: Path, backend: str) -> None:
    """After the round changes (a batch handed over) the day's count goes on from the store."""
    with _open(tmp_path, backend) as led:
        _receive(led, "letter", at("2023-06-27", 9))
        assert _receive(led, "letter", at("2023-06-28", 9)) == "X3SX202306280001"
        led.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 10))
        assert _receive(led, "letter", at("2023-06-28", 11)) == "X3SX202306280002"


def test_two_ledgers_on_one_database_never_give_the_same_number(
    tmp_path: Path, ledger_url: str
) -> None:
    """Two ledgers receiving into one database by turns each take the next free number:
    a receipt whose number the other took meanwhile (its write refused) counts again."""
    with _open(tmp_path, "sql", ledger_url) as first:
        second = Ledger.open(ledger_url, rulebook=first.rulebook)
        with second:
            numbers = [
                _receive(led, "phone", at("2023-06-27", 9 + i))
                for i, led in enumerate([first, second, first, second, second, first])
            ]
    assert len(set(numbers)) == 6
    assert sorted(numbers) == [f"D3SX20230627{i:04d}" for i in range(1, 7)]


def _receiver(path: str, rulebook: str, barrier: Any, out: str) -> None:
    """Receive ten calls into the shared file, each at the same moment as the others."""
    numbers = []
    with Ledger.open(path, rulebook=load_rulebook(rulebook)) as led:
        for i in range(10):
            barrier.wait(timeout=60)
            numbers.append(_receive(led, "phone", at("2023-06-27", 9 + i)))
    Path(out).write_text(json.dumps(numbers))


@pytest.mark.slow
def test_processes_receiving_at_once_never_share_a_number(tmp_path: Path) -> None:
    """Three processes receiving thirty calls at once give out 0001 to 0030, each once."""
    _open(tmp_path, "sqlite").close()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["inspection_flow", "sqlalchemy"])
    barrier = ctx.Barrier(3)
    outs = [tmp_path / f"numbers-{n}.json" for n in range(3)]
    run_all(
        [
            ctx.Process(
                target=_receiver,
                args=(
                    str(tmp_path / "ledger.db"),
                    str(tmp_path / "numbered.toml"),
                    barrier,
                    str(o),
                ),
            )
            for o in outs
        ]
    )
    numbers = [n for o in outs for n in json.loads(o.read_text())]
    assert sorted(numbers) == [f"D3SX20230627{i:04d}" for i in range(1, 31)]


def test_a_refused_receipt_leaves_no_gap(tmp_path: Path) -> None:
    """A complaint refused for an area outside the round takes no number."""
    with _open(tmp_path, "memory") as led:
        with pytest.raises(Exception, match="430102"):
            led.receive_complaint(
                "R",
                channel="phone",
                received_at=at("2023-06-27", 9),
                area="430102",
                summary="x",
                category="air",
                actor=TEAM,
            )
        assert _receive(led, "phone", at("2023-06-27", 9)) == "D3SX202306270001"


def test_a_given_id_takes_no_number(tmp_path: Path) -> None:
    """A complaint recorded under an id of its own keeps it and gets no number."""
    with _open(tmp_path, "memory") as led:
        snap = led.receive_complaint(
            "R",
            channel="phone",
            received_at=at("2023-06-27", 9),
            area="430903",
            summary="x",
            category="air",
            actor=TEAM,
            complaint_id="C",
        )
        assert "acceptance_number" not in snap.data


def test_without_a_form_complaints_get_no_number(tmp_path: Path) -> None:
    """The built-in rulebooks set no form: complaints keep generated ids and no number."""
    assert load_rulebook("hunan-provincial-2023").acceptance_number == ""


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('acceptance_number = "{channel}{seq:04d}"', "must hold {day} and {seq}"),
        ('acceptance_number = "{channel}{day}{seq:04d}{round}"', "is not a form"),
        ("acceptance_number = 3", "must be a string"),
        ('channel_letters = {fax = "F"}', "write one of phone"),
    ],
)
def test_a_bad_form_is_refused_naming_the_key(tmp_path: Path, line: str, problem: str) -> None:
    """A form without {day} and {seq}, with unknown placeholders, or a bad letter is refused."""
    text = NUMBERED.replace('acceptance_number = "{channel}3SX{day}{seq:04d}"', line)
    with pytest.raises(RulebookError, match="intake") as info:
        _rulebook(tmp_path, text)
    assert problem in str(info.value)


def test_channel_letters_can_be_set(tmp_path: Path) -> None:
    """A rulebook may letter a visit F; the others keep D and X."""
    rb = _rulebook(tmp_path, NUMBERED + 'channel_letters = {visit = "F"}\n')
    assert rb.channel_letters["visit"] == "F"  # type: ignore[attr-defined]
    assert rb.channel_letters["phone"] == "D"  # type: ignore[attr-defined]


# --- several categories ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_type_totals_count_each_category(tmp_path: Path, backend: str) -> None:
    """Two complaints of air, one also of noise and water: by categories air 2, noise 1,
    water 1 (4 > 2 cases); by category only the primary ones."""
    with _open(tmp_path, backend) as led:
        _receive(led, "phone", at("2023-06-27", 9), categories=["noise", "噪声", "water"])
        _receive(led, "phone", at("2023-06-27", 10))
        both = led.counts("categories", kind="complaint", round_id="R")
        assert both == {"air": 2, "noise": 1, "water": 1}
        assert led.counts("category", kind="complaint", round_id="R") == {"air": 2}
        first = led.get("R/D3SX202306270001")
        assert first.data["categories"] == ["air", "noise", "water"]
        assert first.category == "air"


@pytest.mark.parametrize("given", ["noise", ["fax"], [3]])
def test_bad_categories_are_refused_and_nothing_is_written(tmp_path: Path, given: object) -> None:
    """categories that are not a list of known categories are refused; nothing is written."""
    with _open(tmp_path, "memory") as led:
        with pytest.raises(PayloadError) as info:
            _receive(led, "phone", at("2023-06-27", 9), categories=given)
        assert info.value.field in {"categories", "category"}
        assert led.find(kind="complaint") == []
        assert _receive(led, "phone", at("2023-06-27", 9)) == "D3SX202306270001"


def test_the_status_report_counts_each_category(tmp_path: Path) -> None:
    """The report's counts by category give air 2 and noise 1 for two cases, one of both."""
    with _open(tmp_path, "memory") as led:
        _receive(led, "phone", at("2023-06-27", 9), categories=["noise"])
        _receive(led, "phone", at("2023-06-27", 10))
        report = status_report(led, dt.date(2023, 6, 27), round_id="R")
    assert "信访件按类别：大气 2，噪声 1" in report


# --- repeats (重复件) ------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_repeat_handed_over_points_to_its_original_and_stays_counted(
    tmp_path: Path, backend: str
) -> None:
    """A repeat in batch 2 of a case of batch 1 records 见第1批 and counts in batch 2."""
    with _open(tmp_path, backend) as led:
        original = "R/" + _receive(led, "letter", at("2023-06-27", 9))
        led.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 9))
        repeat = "R/" + _receive(led, "letter", at("2023-06-28", 10))
        led.hand_over_batch("R", dt.date(2023, 6, 29), actor=TEAM, at=at("2023-06-29", 9))
        led.mark_duplicate(repeat, original, actor=TEAM, at=at("2023-06-29", 10))
        snap = led.get(repeat)
        assert snap.state == "duplicate"
        assert snap.data["duplicate_of"] == original
        assert snap.data["duplicate_of_batch"] == 1
        assert led.counts("batch", kind="complaint", round_id="R") == {1: 1, 2: 1}
        # Its result clock stops; publication counts from a result it will never have.
        assert [(v.name, v.status) for v in led.deadlines(repeat)] == [("result_due", "cancelled")]


def test_a_repeat_found_on_receipt_points_to_an_unbatched_original(tmp_path: Path) -> None:
    """Marked before either is batched, a repeat records its original and no batch."""
    with _open(tmp_path, "memory") as led:
        original = "R/" + _receive(led, "phone", at("2023-06-27", 9))
        repeat = "R/" + _receive(led, "phone", at("2023-06-27", 10))
        led.mark_duplicate(repeat, original, actor=TEAM, at=at("2023-06-27", 11))
        assert led.get(repeat).data["duplicate_of"] == original
        assert "duplicate_of_batch" not in led.get(repeat).data


@pytest.mark.parametrize("other", ["self", "R"])
def test_a_repeat_of_itself_or_of_no_complaint_is_refused(tmp_path: Path, other: str) -> None:
    """Naming the case itself or the round as the original is refused; nothing is written."""
    with _open(tmp_path, "memory") as led:
        repeat = "R/" + _receive(led, "phone", at("2023-06-27", 9))
        with pytest.raises(PayloadError, match="not another complaint") as info:
            led.mark_duplicate(
                repeat, repeat if other == "self" else other, actor=TEAM, at=at("2023-06-27", 11)
            )
        assert info.value.field == "duplicate_of"
        assert led.get(repeat).state == "received"
