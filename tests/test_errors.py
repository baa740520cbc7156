"""Errors that say what is wrong: unknown areas and events, Chinese labels as input, an
unknown round on the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from inspection_flow import (
    EntityNotFoundError,
    GuardError,
    InvalidTransitionError,
    Ledger,
    MemoryStore,
    PayloadError,
    RulebookError,
    load_rulebook,
)
from inspection_flow._cli import main
from strategies import LIAISON, OFFICE, OWNER, RECT_OFFICE, TEAM
from test_fuzz import LATER, at, fingerprint, seed


@pytest.fixture
def ledger() -> Ledger:
    """A seeded Yiyang ledger in memory."""
    led = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    seed(led)
    return led


@pytest.fixture
def stationed() -> Ledger:
    """A Yiyang round stationed in on 2023-06-26, receiving complaints."""
    led = Ledger(MemoryStore(), rulebook="hunan-provincial-2023")
    led.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    led.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    led.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    return led


def _letter(led: Ledger, area: object, **kw: object) -> object:
    """Receive a letter of 06-27 about ``area``."""
    args: dict[str, object] = {
        "channel": "letter",
        "received_at": at("2023-06-27", 10),
        "area": area,
        "summary": "砂石码头粉尘污染",
        "category": "air",
        "actor": TEAM,
    }
    args.update(kw)
    return led.receive_complaint("R", **args)  # type: ignore[arg-type]


# --- areas -------------------------------------------------------------------------------


def test_an_area_given_by_its_name_is_a_payload_error_suggesting_its_code(ledger: Ledger) -> None:
    """area="赫山区" is refused as a bad field with the code to use, not as jurisdiction."""
    before = fingerprint(ledger.store, ())
    with pytest.raises(PayloadError, match="430903 赫山区") as info:
        ledger.add_task("R", title="整治", area="赫山区", actor=RECT_OFFICE, at=LATER)
    assert info.value.field == "area"
    assert fingerprint(ledger.store, ()) == before


def test_a_misspelt_code_under_a_listed_city_is_refused_with_close_codes(ledger: Ledger) -> None:
    """430930 is no division of 益阳 the rulebook lists: refused, suggesting 430903 赫山区."""
    with pytest.raises(PayloadError, match="430903 赫山区") as info:
        ledger.add_task("R", title="整治", area="430930", actor=RECT_OFFICE, at=LATER)
    assert info.value.field == "area"


def test_an_int_area_is_a_payload_error_naming_the_field(ledger: Ledger) -> None:
    """area=430903 (an int) is refused naming the field and the text to write."""
    with pytest.raises(PayloadError, match="'430903'") as info:
        ledger.add_task("R", title="整治", area=430903, actor=RECT_OFFICE, at=LATER)  # type: ignore[arg-type]
    assert info.value.field == "area"


def test_a_complaint_about_an_area_by_name_is_refused(stationed: Ledger) -> None:
    """A complaint with area="赫山区" is a PayloadError suggesting 430903, every time."""
    for _ in range(2):
        with pytest.raises(PayloadError, match="430903 赫山区"):
            _letter(stationed, "赫山区")
    assert stationed.find(kind="complaint") == []


def test_known_complaint_areas_still_go_through_after_a_refusal(stationed: Ledger) -> None:
    """A refused area leaves the next complaints of known areas (and zones) accepted."""
    with pytest.raises(PayloadError):
        _letter(stationed, "43O903")
    for area in ("430903", "430903", "yiyang-datonghu", "430900"):
        _letter(stationed, area)
    assert len(stationed.find(kind="complaint")) == 4


def test_an_assigned_area_field_is_checked_too(stationed: Ledger) -> None:
    """Assigning a case to an owner named by its name is refused, suggesting the code."""
    snap = _letter(stationed, "430903")
    stationed.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    case = snap.entity_id  # type: ignore[attr-defined]
    with pytest.raises(PayloadError, match="430903 赫山区") as info:
        stationed.fire(case, "assign", actor=LIAISON, at=at("2023-06-28", 11), owners=["赫山区"])
    assert info.value.field == "owners"


# --- complaints outside the round --------------------------------------------------------


def test_a_complaint_outside_the_round_is_refused_by_default(stationed: Ledger) -> None:
    """A complaint about 长沙 430102 into the Yiyang round is refused, naming both."""
    with pytest.raises(GuardError, match="430102") as info:
        _letter(stationed, "430102")
    assert "益阳市" in str(info.value)
    assert info.value.guard == "within_round"
    assert stationed.find(kind="complaint") == []


def test_a_rulebook_may_pass_an_outside_complaint_on(tmp_path: Path) -> None:
    """With [intake] outside_round = "pass_on", it is recorded and passed on to its area."""
    path = tmp_path / "passing-on.toml"
    path.write_text(
        '[rulebook]\nname = "passing-on"\ntitle = "x"\nextends = "hunan-provincial-2023"\n'
        '[intake]\noutside_round = "pass_on"\n',
        encoding="utf-8",
    )
    rb = load_rulebook(str(path))
    assert rb.outside_round == "pass_on"
    assert load_rulebook("hunan-provincial-2023").outside_round == "refuse"
    led = Ledger(MemoryStore(), rulebook=rb)
    led.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    led.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    led.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    snap = _letter(led, "430102")
    assert snap.state == "passed_on"  # type: ignore[attr-defined]
    assert "430102" in snap.data["reason"]  # type: ignore[attr-defined]
    assert snap.version == 2  # type: ignore[attr-defined]
    inside = _letter(led, "430903")
    assert inside.state == "received"  # type: ignore[attr-defined]


# --- events ------------------------------------------------------------------------------


def test_a_misspelt_event_is_unknown_with_a_suggestion(ledger: Ledger) -> None:
    """fire(..., "publsh") is an unknown event; did you mean publish? — not "not possible"."""
    with pytest.raises(InvalidTransitionError, match="did you mean 'publish'") as info:
        ledger.fire("C", "publsh", actor=TEAM, at=LATER)
    assert info.value.unknown
    assert "not possible now" not in str(info.value)
    decision = ledger.can("C", "publsh", TEAM)
    assert "did you mean 'publish'" in decision.reasons[0]


def test_a_known_event_in_the_wrong_state_is_still_not_possible_now(ledger: Ledger) -> None:
    """publish on a received case is a known event, not possible in that state."""
    with pytest.raises(InvalidTransitionError, match="not possible now") as info:
        ledger.fire("C", "publish", actor=TEAM, at=LATER)
    assert not info.value.unknown


def test_handing_over_before_the_day_names_no_internal_event(stationed: Ledger) -> None:
    """The refusal of an early hand-over speaks of hand_over_batch, never record_batch."""
    _letter(stationed, "430903")
    with pytest.raises(GuardError) as info:
        stationed.hand_over_batch("R", dt.date(2023, 6, 29), actor=TEAM, at=at("2023-06-28"))
    assert "record_batch" not in str(info.value)
    assert info.value.event == "hand_over_batch"


def test_handing_over_twice_says_which_batch_it_was(stationed: Ledger) -> None:
    """A day already handed over is refused naming its batch; an empty day returns None."""
    assert (
        stationed.hand_over_batch("R", dt.date(2023, 6, 27), actor=TEAM, at=at("2023-06-27"))
        is None
    )
    _letter(stationed, "430903")
    batch = stationed.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    assert batch is not None
    with pytest.raises(GuardError, match=r"already handed over \(batch 1\)") as info:
        stationed.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 11))
    assert "record_batch" not in str(info.value)


# --- Chinese labels as input ---------------------------------------------------------------


def test_chinese_category_and_finding_are_accepted_and_stored_in_english(stationed: Ledger) -> None:
    """category="大气", mode="共办", finding="属实" are recorded as air, shared, substantiated."""
    snap = _letter(stationed, "430903", category="大气")
    assert snap.category == "air"  # type: ignore[attr-defined]
    case = snap.entity_id  # type: ignore[attr-defined]
    stationed.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    stationed.fire(
        case,
        "assign",
        actor=LIAISON,
        at=at("2023-06-28", 11),
        owners=["430903", "430902"],
        mode="共办",
    )
    stationed.fire(case, "start_investigation", actor=OWNER, at=at("2023-06-29"))
    ev = stationed.fire(case, "record_finding", actor=OWNER, at=at("2023-06-30"), finding="属实")
    assert ev.payload["finding"] == "substantiated"
    assert stationed.get(case).data["finding"] == "substantiated"
    assert stationed.get(case).data["mode"] == "shared"
    assert stationed.counts("category", kind="complaint") == {"air": 1}


def test_an_unknown_label_lists_the_choices_with_their_labels(stationed: Ledger) -> None:
    """finding="属" is refused naming each choice with its Chinese label; nothing changes."""
    case = _letter(stationed, "430903").entity_id  # type: ignore[attr-defined]
    stationed.hand_over_batch("R", dt.date(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    stationed.fire(case, "assign", actor=LIAISON, at=at("2023-06-28", 11), owners=["430903"])
    stationed.fire(case, "start_investigation", actor=OWNER, at=at("2023-06-29"))
    before = fingerprint(stationed.store, ())
    with pytest.raises(PayloadError, match=r"substantiated \(属实\)") as info:
        stationed.fire(case, "record_finding", actor=OWNER, at=at("2023-06-30"), finding="属")
    assert info.value.field == "finding"
    assert fingerprint(stationed.store, ()) == before


def test_public_chinese_labels_of_categories_and_findings() -> None:
    """CATEGORIES_ZH and FINDINGS_ZH are public, for forms and reports."""
    import inspection_flow

    assert inspection_flow.CATEGORIES_ZH["air"] == "大气"
    assert inspection_flow.FINDINGS_ZH["substantiated"] == "属实"


# --- the command line ----------------------------------------------------------------------


def test_status_of_an_unknown_round_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status --round NOPE exits 2 with one line naming the rounds there are."""
    db = str(tmp_path / "ledger.db")
    led = Ledger.open(db, rulebook="hunan-provincial-2023")
    seed(led)
    led.close()
    assert main(["status", db, "--as-of", "2023-10-10", "--round", "NOPE"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "NOPE" in err
    assert "rounds: R" in err


def test_status_report_refuses_an_unknown_round(ledger: Ledger) -> None:
    """status_report(round_id="NOPE") raises EntityNotFoundError listing the rounds."""
    from inspection_flow import status_report

    with pytest.raises(EntityNotFoundError, match="NOPE"):
        status_report(ledger, dt.date(2023, 10, 10), round_id="NOPE")


def test_a_rulebook_field_may_label_its_choices_in_chinese(tmp_path: Path) -> None:
    """A TOML field's labels_zh = { red_light = "红灯" } records cause="红灯" as red_light."""
    from test_custom_lifecycles import OFFICE as CITY_OFFICE
    from test_custom_lifecycles import SUMMONS_TOML, TALK_FIELDS, write_rulebook

    labelled = SUMMONS_TOML.replace(
        'choices = ["yellow_cards", "red_light", "other"] }',
        'choices = ["yellow_cards", "red_light", "other"], labels_zh = { red_light = "红灯" } }',
    )
    assert labelled != SUMMONS_TOML
    led = Ledger(rulebook=load_rulebook(write_rulebook(tmp_path, labelled)))
    talk = led.create(
        "summons_talk", actor=CITY_OFFICE, at=at("2023-10-09"), **{**TALK_FIELDS, "cause": "红灯"}
    )
    assert talk.data["cause"] == "red_light"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('outside_round = "ignore"', "intake.outside_round"),
        ('labels_zh = { nothing = "无" }', "labels_zh"),
    ],
)
def test_bad_labels_or_outside_round_values_are_rulebook_errors(
    tmp_path: Path, line: str, key: str
) -> None:
    """An unknown outside_round or a label of no choice is refused naming the key."""
    from test_custom_lifecycles import SUMMONS_TOML, write_rulebook

    if key == "labels_zh":
        text = SUMMONS_TOML.replace('"other"] }', f'"other"], {line} }}')
    else:
        text = SUMMONS_TOML.replace(
            "[deadlines.summons_report]", f"[intake]\n{line}\n\n[deadlines.summons_report]"
        )
    assert text != SUMMONS_TOML
    with pytest.raises(RulebookError, match=key):
        load_rulebook(write_rulebook(tmp_path, text))
