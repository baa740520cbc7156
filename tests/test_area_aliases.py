"""Area aliases: another id of an area counts, finds and governs as the area itself."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import attrs
import pytest
from hypothesis import given

from inspection_flow import (
    SHANGHAI,
    Actor,
    AreaRegistry,
    Ledger,
    PayloadError,
    RulebookError,
    load_rulebook,
    status_report,
)
from strategies import LIAISON, OFFICE, TEAM, yiyang_area_ids

D = dt.date
DATONGHU = Actor("owner_unit", "430971", "大通湖区")
OLD_DATONGHU = Actor("owner_unit", "yiyang-datonghu", "大通湖区")


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def yiyang_registry() -> AreaRegistry:
    """益阳市 with 大通湖区 under its statistics code and its old id as an alias."""
    areas = AreaRegistry({"430971": ("大通湖区", "430900")})
    areas.register_alias("yiyang-datonghu", "430971")
    return areas


def stationed(ledger: Ledger) -> Ledger:
    """A Yiyang round stationed on 2023-06-26."""
    ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"))
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    return ledger


def receive(ledger: Ledger, cid: str, area: str) -> None:
    """A letter about waste water in ``area``, received on 2023-06-27."""
    ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at("2023-06-27", 10),
        area=area,
        summary="养殖废水直排沟渠",
        category="water",
        actor=TEAM,
        complaint_id=cid,
    )


def with_cases(ledger: Ledger) -> Ledger:
    """A Yiyang round with one case under 大通湖区's old id, two under its code, one in 赫山区."""
    stationed(ledger)
    for cid, area in (
        ("C-old", "yiyang-datonghu"),
        ("C-new", "430971"),
        ("C-new-2", "430971"),
        ("C-heshan", "430903"),
    ):
        receive(ledger, cid, area)
    return ledger


# --- the registry ----------------------------------------------------------------------------


def test_an_alias_stands_for_its_area() -> None:
    """An alias has its area's code, name and parent, and each covers the other."""
    areas = yiyang_registry()
    assert areas.canonical("yiyang-datonghu") == "430971"
    assert areas.canonical("430903") == "430903"
    assert areas.name("yiyang-datonghu") == "大通湖区"
    assert areas.parent("yiyang-datonghu") == "430900"
    assert areas.known("yiyang-datonghu")
    assert areas.covers("430971", "yiyang-datonghu")
    assert areas.covers("yiyang-datonghu", "430971")
    assert areas.covers("430900", "yiyang-datonghu")
    assert not areas.covers("yiyang-datonghu", "430903")
    assert areas.aliases() == {"yiyang-datonghu": "430971"}


def test_registering_an_alias_again_for_the_same_area_is_harmless() -> None:
    """The same alias for the same area may be registered twice."""
    areas = yiyang_registry()
    areas.register_alias("yiyang-datonghu", "430971")
    assert areas.aliases() == {"yiyang-datonghu": "430971"}


@pytest.mark.parametrize(
    ("alias", "code", "field", "words"),
    [
        ("yiyang-zone", "430972", "code", "register the area first"),
        ("other", "yiyang-datonghu", "code", "itself another id of 430971"),
        ("430971", "430900", "alias", "is the area 大通湖区"),
        ("yiyang-datonghu", "430900", "alias", "already an alias of 430971"),
        ("", "430971", "alias", ""),
    ],
)
def test_a_wrong_alias_is_refused_and_changes_nothing(
    alias: str, code: str, field: str, words: str
) -> None:
    """An alias of no area, of an alias, that is an area, or of two areas is refused."""
    areas = yiyang_registry()
    areas.register("430900", "益阳市", "430000")
    generation = areas.generation
    with pytest.raises(PayloadError) as info:
        areas.register_alias(alias, code)
    assert info.value.field == field
    assert words in info.value.problem
    assert areas.aliases() == {"yiyang-datonghu": "430971"}
    assert areas.generation == generation


def test_an_alias_cannot_be_registered_as_an_area() -> None:
    """Registering an area under an alias's id is refused, so one id names one place."""
    areas = yiyang_registry()
    with pytest.raises(PayloadError, match="another id of 430971"):
        areas.register("yiyang-datonghu", "大通湖区", "430900")
    assert "yiyang-datonghu" not in areas.names()


# --- the rulebook ----------------------------------------------------------------------------


def test_the_hunan_rulebook_uses_the_statistics_codes_with_the_old_ids_as_aliases() -> None:
    """大通湖区 and 益阳高新区 are 430971 and 430972, the ids used before their aliases."""
    rb = load_rulebook("hunan-provincial-2023")
    assert rb.areas["430971"] == ("大通湖区", "430900")
    assert rb.areas["430972"] == ("益阳高新区", "430900")
    assert "yiyang-datonghu" not in rb.areas
    assert rb.area_aliases == {"yiyang-datonghu": "430971", "yiyang-hitech": "430972"}
    ledger = Ledger(rulebook=rb)
    assert ledger.areas.canonical("yiyang-hitech") == "430972"
    assert ledger.areas.name("yiyang-hitech") == "益阳高新区"


def _rulebook_with_areas(tmp_path: Path, areas: str) -> Path:
    """The Hunan rulebook file with ``areas`` appended."""
    base = files("inspection_flow") / "rulebooks" / "hunan-provincial-2023.toml"
    path = tmp_path / "hunan-changed.toml"
    path.write_text(base.read_text(encoding="utf-8") + "\n" + areas, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("areas", "key", "words"),
    [
        ('[areas.430975]\nname = "某区"\naliases = "x"\n', "areas.430975.aliases", "list"),
        ('[areas.430975]\nname = "某区"\naliases = [1]\n', "areas.430975.aliases", "list"),
        (
            '[areas.430975]\nname = "某区"\naliases = ["yiyang-datonghu"]\n',
            "areas.430975.aliases",
            "already an alias of 430971",
        ),
        (
            '[areas.430975]\nname = "某区"\naliases = ["430903"]\n',
            "areas.430975.aliases",
            "an area of its own",
        ),
    ],
)
def test_wrong_aliases_in_a_rulebook_name_the_key(
    tmp_path: Path, areas: str, key: str, words: str
) -> None:
    """Aliases that are not a list of ids, or that clash, fail with file and key."""
    with pytest.raises(RulebookError) as info:
        load_rulebook(_rulebook_with_areas(tmp_path, areas))
    assert info.value.key == key
    assert words in info.value.problem


# --- the ledger, on every store --------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A Hunan ledger in memory, in SQLite or in PostgreSQL."""
    if request.param == "memory":
        yield Ledger(rulebook="hunan-provincial-2023")
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_schema_url"))
    with Ledger.open(url, rulebook="hunan-provincial-2023") as opened:
        yield opened


def test_counts_by_area_never_split_one_place(ledger: Ledger) -> None:
    """Cases under the old id and under the code count as one area, under the code."""
    with_cases(ledger)
    assert ledger.counts("area", kind="complaint") == {"430971": 3, "430903": 1}
    assert ledger.counts("area", kind="complaint", area="yiyang-datonghu") == {"430971": 3}
    assert ledger.counts("area", kind="complaint", area="430900") == {"430971": 3, "430903": 1}


def test_find_by_the_code_or_the_alias_finds_both(ledger: Ledger) -> None:
    """find(area=...) by the code or by the old id returns the cases under either."""
    with_cases(ledger)
    expected = ["C-new", "C-new-2", "C-old"]
    assert sorted(s.entity_id for s in ledger.find(kind="complaint", area="430971")) == expected
    found = ledger.find(kind="complaint", area="yiyang-datonghu")
    assert sorted(s.entity_id for s in found) == expected


def test_events_keep_the_id_they_were_recorded_with(ledger: Ledger) -> None:
    """Nothing is rewritten: the case recorded under the old id still holds it."""
    with_cases(ledger)
    assert ledger.get("C-old").area == "yiyang-datonghu"
    assert ledger.history("C-old")[0].effects["create"]["area"] == "yiyang-datonghu"
    assert ledger.verify().ok


def test_jurisdiction_follows_the_alias(ledger: Ledger) -> None:
    """The unit under the code acts on a case under the old id, and the other way round."""
    with_cases(ledger)
    ledger.hand_over_batch("R", D(2023, 6, 28), actor=TEAM, at=at("2023-06-28"))
    for cid, owner in (("C-old", "yiyang-datonghu"), ("C-new", "430971"), ("C-heshan", "430903")):
        ledger.fire(cid, "assign", actor=LIAISON, at=at("2023-06-28", 10), owners=[owner])
    assert ledger.can("C-old", "start_investigation", DATONGHU)
    assert ledger.can("C-new", "start_investigation", OLD_DATONGHU)
    assert not ledger.can("C-heshan", "start_investigation", DATONGHU)
    ledger.fire("C-old", "start_investigation", actor=DATONGHU, at=at("2023-06-29"))
    assert ledger.get("C-old").state == "investigating"


def test_the_status_report_lists_one_place_once(ledger: Ledger) -> None:
    """The report's counts by area name 大通湖区 once, with every case of it."""
    with_cases(ledger)
    text = status_report(ledger, D(2023, 6, 28), round_id="R")
    lines = [line for line in text.splitlines() if "大通湖区" in line]
    assert len(lines) == 1
    assert "3" in lines[0]


@given(yiyang_area_ids())
def test_counts_by_area_are_the_counts_of_each_place(ids: list[str]) -> None:
    """However cases mix old ids and codes, counts by area are those of their areas."""
    ledger = stationed(Ledger(rulebook="hunan-provincial-2023"))
    for n, area in enumerate(ids):
        receive(ledger, f"C-{n}", area)
    expected = Counter(ledger.areas.canonical(a) for a in ids)
    assert ledger.counts("area", kind="complaint") == dict(expected)
    for place in expected:
        found = ledger.find(kind="complaint", area=place)
        assert len(found) == expected[place]


def test_a_ledger_recorded_under_the_old_ids_counts_with_the_codes(tmp_path: Path) -> None:
    """Cases stored when the old id was an area count, once reopened, with the code's."""
    hunan = load_rulebook("hunan-provincial-2023")
    before = attrs.evolve(
        hunan,
        areas={
            **{c: v for c, v in hunan.areas.items() if c != "430971"},
            "yiyang-datonghu": ("大通湖区", "430900"),
        },
        area_aliases={},
    )
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(url, rulebook=before) as ledger:
        receive(stationed(ledger), "C-old", "yiyang-datonghu")
    with Ledger.open(url, rulebook=hunan) as ledger:
        receive(ledger, "C-new", "430971")
        assert ledger.counts("area", kind="complaint") == {"430971": 2}
        assert ledger.get("C-old").area == "yiyang-datonghu"
        assert ledger.verify(deep=True).ok
