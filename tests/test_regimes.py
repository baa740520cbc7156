"""Regimes: central rulebooks per set of rules in force, chosen by the round's date, and
the one confidence scale every rulebook value is labelled on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    LIFECYCLES,
    SHANGHAI,
    Actor,
    ChinaCalendar,
    Ledger,
    RulebookError,
    RulebookValue,
    load_rulebook,
    regime_in_force,
)
from inspection_flow._cli import main

D = dt.date
CAL = ChinaCalendar()
# The central leading office and team acting in Hunan (中央第五生态环境保护督察组, 2024).
OFFICE = Actor("leading_office", "430000", "督察办")
TEAM = Actor("inspection_team", "430000", "中央生态环境保护督察组")
CENTRAL = load_rulebook("central")


def at(day: str, hour: int = 10) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def fed_back(
    ledger: Ledger, created: str, stationed: str, feedback: str, rulebook: str | None = None
) -> str:
    """Create a round on ``created`` (under ``rulebook``, else the ledger's), station it in
    and give feedback on ``feedback``; return the rulebook the round records."""
    rnd = ledger.create_round(
        "R", name="湖南省", area="430000", actor=OFFICE, at=at(created), rulebook=rulebook
    )
    ledger.fire("R", "announce", actor=OFFICE, at=at(created, 11))
    ledger.fire("R", "station_in", actor=TEAM, at=at(stationed), meeting="动员会")
    ledger.fire("R", "end_station_in", actor=TEAM, at=at(stationed, 18))
    ledger.fire("R", "approve_report", actor=OFFICE, at=at(feedback, 8))
    ledger.fire("R", "give_feedback", actor=TEAM, at=at(feedback), problems=10)
    return str(rnd.data["rulebook"])


def plan_due(ledger: Ledger) -> D:
    """The last day of the round's plan deadline."""
    return ledger.get("R").deadlines["plan_due"].last_day


# --- golden dates: plan deadlines of real rounds under each regime -------------------------


def test_a_2021_round_under_central_gets_the_2019_rules_and_30_working_days() -> None:
    """第二轮第三批 in Hunan (stationed 2021-04-06), feedback 2021-07-16: the 2019 规定's 30
    working days end on 2021-08-27."""
    ledger = Ledger()
    assert fed_back(ledger, "2021-04-01", "2021-04-06", "2021-07-16") == "central-2019"
    assert plan_due(ledger) == D(2021, 8, 27)


@pytest.mark.parametrize(
    ("feedback", "due"),
    # 第三轮第二批, fed back 2024-08-20 and 21: 45 working days over the Mid-Autumn and
    # National Day holidays, the make-up Saturdays 09-14 and 10-12 and Sunday 09-29 counted.
    [("2024-08-20", D(2024, 10, 28)), ("2024-08-21", D(2024, 10, 29))],
)
def test_a_2024_round_under_central_gets_45_working_days(feedback: str, due: D) -> None:
    """A round of 第三轮第二批 (stationed in Hunan 2024-05-09) gets the 整改工作办法's 45
    working days."""
    ledger = Ledger(rulebook="central")
    assert fed_back(ledger, "2024-05-06", "2024-05-09", feedback) == "central-2022"
    assert plan_due(ledger) == due


def test_a_round_fed_back_in_january_2025_gets_45_working_days_over_the_spring_festival() -> None:
    """第三轮第三批, fed back 2025-01-10: 45 working days, the Spring Festival off and its
    make-up days 01-26 and 02-08 counted, end on 2025-03-20."""
    ledger = Ledger()
    assert fed_back(ledger, "2024-11-20", "2024-11-25", "2025-01-10") == "central-2022"
    assert plan_due(ledger) == D(2025, 3, 20)


def test_a_round_from_april_2025_on_gets_the_2025_regulation() -> None:
    """A round created on or after 2025-04-28 is governed by the 条例's rulebook."""
    ledger = Ledger()
    assert fed_back(ledger, "2025-09-01", "2025-09-05", "2025-11-03") == "central-2025"
    rule = ledger.rulebook_of("R").rule("plan")
    assert plan_due(ledger) == rule.compute(D(2025, 11, 3), CAL).last_day


def test_an_explicit_regime_always_wins() -> None:
    """A round that names central-2019 keeps its 30 working days whatever its date."""
    ledger = Ledger()
    assert fed_back(ledger, "2024-05-06", "2024-05-09", "2024-08-20", "central-2019") == (
        "central-2019"
    )
    assert plan_due(ledger) == D(2024, 10, 8)


def test_a_reopened_store_keeps_each_rounds_regime() -> None:
    """The round records its regime by name, so a ledger opened again computes alike."""
    ledger = Ledger()
    fed_back(ledger, "2021-04-01", "2021-04-06", "2021-07-16")
    again = Ledger(ledger.store)
    assert again.rulebook_of("R").name == "central-2019"
    assert again.rulebook_of("R").rule("plan").amount == 30


def test_a_round_before_any_central_regime_is_refused_and_nothing_is_recorded() -> None:
    """central has no regime before 2019-06-06: the round is refused, with the way out."""
    ledger = Ledger()
    with pytest.raises(RulebookError, match="no regime of 'central' is in force on 2018-06-01"):
        ledger.create_round("R", name="湖南省", area="430000", actor=OFFICE, at=at("2018-06-01"))
    assert list(ledger.find()) == []
    ledger.create_round(
        "R",
        name="湖南省",
        area="430000",
        actor=OFFICE,
        at=at("2018-06-01"),
        rulebook="central-2019",
    )
    assert ledger.get("R").data["rulebook"] == "central-2019"


# --- the regimes as data -------------------------------------------------------------------


def test_each_regime_has_its_rules_dates_and_plan_time() -> None:
    """Each central regime names the rules it follows, its dates and its plan time."""
    expected = {
        "central-2019": (
            "《中央生态环境保护督察工作规定》",
            D(2019, 6, 6),
            D(2025, 4, 27),
            30,
            "H",
        ),
        "central-2022": ("整改工作办法", D(2022, 1, 1), D(2025, 4, 27), 45, "H"),
        "central-2025": ("《生态环境保护督察工作条例》", D(2025, 4, 28), None, 45, "M"),
    }
    for name, (regime, since, until, days, confidence) in expected.items():
        rb = load_rulebook(name)
        assert regime in rb.regime, name
        assert (rb.effective_from, rb.effective_until, rb.regimes) == (since, until, ())
        assert rb.rule("plan").amount == days
        assert rb.notes["deadlines.plan"][1] == confidence
        assert rb.notes["rulebook"][0], name


def test_the_2022_start_date_is_labelled_an_inference() -> None:
    """The month and day of the 2022 整改工作办法 are not known: its start is marked L."""
    source, confidence = load_rulebook("central-2022").notes["rulebook"]
    assert confidence == "L"
    assert "未能核实" in source


def test_central_is_the_current_regime_under_its_own_name() -> None:
    """central holds the values of central-2025 and lists the regimes it chooses among."""
    current = load_rulebook("central-2025")
    assert CENTRAL.name == "central"
    assert CENTRAL.regimes == ("central-2019", "central-2022", "central-2025")
    assert dict(CENTRAL.rules) == dict(current.rules)
    assert (CENTRAL.regime, CENTRAL.effective_from) == (current.regime, current.effective_from)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (D(2019, 6, 6), "central-2019"),
        (D(2021, 12, 31), "central-2019"),
        (D(2022, 1, 1), "central-2022"),
        (D(2025, 4, 27), "central-2022"),
        (D(2025, 4, 28), "central-2025"),
    ],
)
def test_the_regime_in_force_changes_on_its_first_day(day: D, name: str) -> None:
    """Each regime governs from its first day on."""
    assert regime_in_force(CENTRAL, day).name == name


@given(st.dates(D(2019, 6, 6), D(2099, 12, 31)))
def test_the_regime_in_force_is_the_latest_begun(day: D) -> None:
    """For any day, the regime chosen is the one a table of first days gives."""
    if day < D(2022, 1, 1):
        expected = "central-2019"
    elif day < D(2025, 4, 28):
        expected = "central-2022"
    else:
        expected = "central-2025"
    assert regime_in_force(CENTRAL, day).name == expected


def test_a_rulebook_without_regimes_is_its_own_regime() -> None:
    """regime_in_force returns a single regime as it is, whatever the day."""
    rb = load_rulebook("central-2019")
    assert regime_in_force(rb, D(2030, 1, 1)) is rb
    assert not rb.in_force(D(2030, 1, 1))
    assert rb.in_force(D(2019, 6, 6))


# --- honest labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["central", "central-2019", "hunan-provincial-2023"])
def test_the_unsourced_ladder_offsets_are_marked_l_step_by_step(name: str) -> None:
    """督办函 after 10 and 约谈 after 30 working days have no source: each step says so and
    is L; the ladder keeps the source of what is published (two yellow cards → 督办, red
    light → 约谈)."""
    rb = load_rulebook(name)
    ladder = rb.ladders["task_deadline"]
    steps = {s.name: s for s in ladder.escalations}
    for step, days in (("supervision_letter", 10), ("summons_talk", 30)):
        assert steps[step].after == days
        assert steps[step].confidence == "L"
        assert "未见公开规定" in steps[step].source
        assert rb.notes[f"ladders.task_deadline.escalations.{step}"][1] == "L"
    assert "黄牌预警2次即专函督办" in ladder.source
    assert "约谈" in ladder.source


def test_hunan_values_copied_from_another_rulebook_say_so_and_are_l() -> None:
    """Hunan's case-result, publication and plan times were not published for the round:
    each says which rulebook it is copied from, and is L."""
    notes = load_rulebook("hunan-provincial-2023").notes
    for key, origin in (
        ("deadlines.case_result", "central"),
        ("deadlines.case_publish", "central"),
        ("deadlines.plan", "central-2019"),
    ):
        source, confidence = notes[key]
        assert source.startswith(f"复制自 {origin} 规则手册"), key
        assert confidence == "L", key
    assert "5天" in notes["deadlines.case_result"][0]
    assert notes["deadlines.station_in"][1] == "H"


def test_values_list_every_value_with_its_label_for_a_report() -> None:
    """Rulebook.values gives each value in words with source and confidence, ladder steps
    included."""
    values = {v.key: v for v in load_rulebook("central-2019").values("en")}
    assert values["deadlines.plan"] == RulebookValue(
        "deadlines.plan",
        "30 working days (start day not counted)",
        load_rulebook("central-2019").notes["deadlines.plan"][0],
        "H",
    )
    assert values["rulebook"].value.endswith("2019-06-06–2025-04-27")
    talk = values["ladders.task_deadline.escalations.summons_talk"]
    assert (talk.value, talk.confidence) == ("summons_talk +30 working days", "L")
    assert all(v.source and v.confidence in ("H", "M", "L") for v in values.values())


# --- the loader refuses values off the scale or without a source ---------------------------

RULEBOOK = """\
[rulebook]
name = "test-regime"
level = "municipal"
extends = "hunan-provincial-2023"
regime = "example rules"
effective_from = 2024-01-01
source = "example notice"
confidence = "M"

[deadlines.case_result]
amount = 5
unit = "working_days"
source = "example: a city's own 5 days"
confidence = "M"
"""


def refused(tmp_path: Path, text: str) -> RulebookError:
    """Load ``text`` as a rulebook file and return the error it raises."""
    path = tmp_path / "rulebook.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    return info.value


def test_a_regime_of_ones_own_loads(tmp_path: Path) -> None:
    """A user's rulebook may be a regime: its first day, its rules, their source."""
    path = tmp_path / "rulebook.toml"
    path.write_text(RULEBOOK, encoding="utf-8")
    rb = load_rulebook(path)
    assert (rb.regime, rb.effective_from, rb.effective_until) == (
        "example rules",
        D(2024, 1, 1),
        None,
    )
    assert rb.notes["rulebook"] == ("example notice", "M")


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('confidence = "M"\n\n[deadlines', 'confidence = "L-M"\n\n[deadlines', "rulebook", "H, M"),
        (
            'source = "example: a city\'s own 5 days"\n',
            "",
            "deadlines.case_result.source",
            "is required",
        ),
        (
            'confidence = "M"\n"""',
            '"""',
            "deadlines.case_result.confidence",
            "H, M or L",
        ),
        ('confidence = "M"\n', 'confidence = "M-H"\n', "rulebook.confidence", "H, M or L"),
        (
            "effective_from = 2024-01-01\n",
            "effective_from = 2024-01-01\neffective_until = 2023-12-31\n",
            "rulebook.effective_until",
            "before effective_from",
        ),
        ("effective_from = 2024-01-01\n", "", "rulebook.effective_from", "first day"),
        (
            "effective_from = 2024-01-01",
            'effective_from = "soon"',
            "rulebook.effective_from",
            "date",
        ),
        ('regime = "example rules"', "regimes = [1]", "rulebook.regimes", "rulebook names"),
        (
            'source = "example notice"\n',
            'source = ""\n',
            "rulebook.source",
            "public source",
        ),
    ],
)
def test_the_loader_refuses_a_value_off_the_scale_or_without_a_source(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    """A value must name its source and be H, M or L: anything else is refused, with the key."""
    text = (RULEBOOK + '"""').replace(old, new, 1).removesuffix('"""')
    assert text != RULEBOOK
    error = refused(tmp_path, text)
    assert error.key.startswith(key)
    assert problem in error.problem


@pytest.mark.parametrize(
    ("step", "key", "problem"),
    [
        (
            '{ name = "letter", after = 5, unit = "working_days", confidence = "L" }',
            "ladders.task_deadline.escalations.letter.source",
            "is required",
        ),
        (
            '{ name = "letter", after = 5, unit = "working_days", source = "x", confidence = "?" }',
            "ladders.task_deadline",
            "H, M or L",
        ),
    ],
)
def test_a_ladder_step_needs_its_own_source_with_its_own_confidence(
    tmp_path: Path, step: str, key: str, problem: str
) -> None:
    """A step that labels itself needs both a source and an H, M or L confidence."""
    text = RULEBOOK + (
        f'\n[ladders.task_deadline]\nsource = "x"\nconfidence = "M"\nescalations = [{step}]\n'
    )
    error = refused(tmp_path, text)
    assert error.key == key
    assert problem in error.problem


# --- the command line ------------------------------------------------------------------------


def test_the_command_line_lists_the_regimes(capsys: pytest.CaptureFixture[str]) -> None:
    """``inspection-flow rulebooks`` shows each regime's dates and rules."""
    assert main(["rulebooks"]) == 0
    lines = {line.split("\t")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "2019-06-06–2025-04-27" in lines["central-2019"]
    assert "《中央生态环境保护督察工作规定》" in lines["central-2019"]
    assert "central-2019, central-2022, central-2025" in lines["central"]


def test_the_command_line_shows_each_value_with_its_confidence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``inspection-flow rulebooks NAME`` prints key, confidence, value and source."""
    assert main(["rulebooks", "central-2022", "--lang", "en"]) == 0
    rows = {line.split("\t")[0]: line.split("\t") for line in capsys.readouterr().out.splitlines()}
    assert rows["deadlines.plan"][1:3] == ["H", "45 working days (start day not counted)"]
    assert rows["ladders.task_deadline.escalations.supervision_letter"][1] == "L"
    assert main(["rulebooks", "central-1999"]) == 2
    assert "no built-in rulebook" in capsys.readouterr().err


# --- what a regime keeps of the rulebook it is chosen for ------------------------------------


def test_a_rulebook_written_on_central_is_its_own_not_a_choice_of_regimes(tmp_path: Path) -> None:
    """A city's rulebook extending central keeps its own values for its rounds: it does not
    inherit central's choice among regimes."""
    path = tmp_path / "city.toml"
    path.write_text(
        '[rulebook]\nextends = "central"\nname = "city"\nlevel = "municipal"\n\n'
        '[deadlines.plan]\namount = 20\nunit = "working_days"\n'
        'source = "example: the city\'s own 20 working days"\nconfidence = "L"\n',
        encoding="utf-8",
    )
    city = load_rulebook(path)
    assert city.regimes == ()
    ledger = Ledger(rulebook=city)
    assert fed_back(ledger, "2021-04-01", "2021-04-06", "2021-07-16") == "city"
    assert plan_due(ledger) == D(2021, 8, 13)  # 20 working days after 2021-07-16


def test_lifecycles_added_to_central_go_with_the_regime_chosen() -> None:
    """central given lifecycles of one's own keeps them in the regime a round gets, and in
    a ledger opened again with it."""
    custom = attrs.evolve(LIFECYCLES["task"], name="inspection_note", kind="inspection_note")
    ours = CENTRAL.with_lifecycles(custom)
    ledger = Ledger(rulebook=ours)
    assert fed_back(ledger, "2021-04-01", "2021-04-06", "2021-07-16") == "central-2019"
    assert ledger.rulebook_of("R").lifecycle("inspection_note") is custom
    assert ledger.rulebook_of("R").rule("plan").amount == 30
    again = Ledger(ledger.store, rulebook=ours)
    assert again.rulebook_of("R").lifecycle("inspection_note") is custom


@pytest.mark.parametrize("name", ["central-2019", "central-2022", "hunan-provincial-2023"])
def test_a_copied_value_says_so_first_and_is_l(name: str) -> None:
    """Any value a built-in rulebook copies from another begins "复制自 NAME 规则手册" and
    is L, whatever else its source says."""
    for key, (source, confidence) in load_rulebook(name).notes.items():
        if "复制自" in source:
            assert source.startswith("复制自 "), key
            assert source.split(" ")[1] in {"central", "central-2019"}, key
            assert confidence == "L", key


@pytest.mark.parametrize(
    "name", ["central", "central-2019", "central-2022", "hunan-provincial-2023"]
)
def test_the_docs_show_each_builtin_value_as_the_rulebook_words_it(name: str) -> None:
    """docs/rulebooks.md shows the source of every value of the built-in rulebooks as the
    rulebook words it (the earlier regimes: their regime and plan)."""
    docs = (Path(__file__).parent.parent / "docs" / "rulebooks.md").read_text(encoding="utf-8")
    for value in load_rulebook(name).values("zh"):
        if name in ("central-2019", "central-2022") and value.key not in (
            "rulebook",
            "deadlines.plan",
        ):
            continue
        cells = [text.replace("|", "\\|") for text in (value.value, value.source)]
        assert f"| {cells[0]} | {cells[1]} | {value.confidence} |" in docs, (name, value.key)
