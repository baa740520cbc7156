"""Wording as data: explanations, status reports and diagrams read their sentences from
tables, a third language or a local wording is a table, and states are labelled as the
lifecycle an entity follows under its round's rulebook labels them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection_flow import (
    COMPLAINT,
    ROUND,
    SHANGHAI,
    TASK,
    ChinaCalendar,
    DeadlineRule,
    Due,
    Extension,
    InspectionFlowError,
    Ledger,
    Lifecycle,
    Pause,
    Rulebook,
    Unit,
    UnknownLanguageError,
    Wording,
    WordingError,
    load_rulebook,
    register_wording,
    status_report,
    wording,
)
from strategies import OFFICE, TEAM

D = dt.date
HUNAN = load_rulebook("hunan-provincial-2023")

#: A partial Uyghur table, as a user would write one: a few sentences, the rest English.
UYGHUR = {
    "explain.rule": "قائىدە: {rule}",
    "explain.due": "ۋاقتى: {due}",
    "unit.working_days": "{n} خىزمەت كۈنى",
    "report.title": "خاتىرە ئەھۋالى {day} 24:00",
    "report.overdue": "ۋاقتى ئۆتكەن: {n}",
    "label.state.complaint.handed_over": "تاپشۇرۇلدى",
}


def at(day: str, hour: int = 9) -> dt.datetime:
    """An instant in Shanghai."""
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour), SHANGHAI)


def national_day(calendar: ChinaCalendar) -> Due:
    """30 working days from 2023-09-20, across the Mid-Autumn and National Day break."""
    return DeadlineRule.working_days(30).compute(D(2023, 9, 20), calendar)


def yiyang(ledger: Ledger, rulebook: Rulebook | None = None) -> None:
    """A stationed Yiyang round with one letter, handed over on 2023-06-28 and due by
    2023-07-10."""
    ledger.create_round(
        "R", name="益阳市", area="430900", actor=OFFICE, at=at("2023-06-20"), rulebook=rulebook
    )
    ledger.fire("R", "announce", actor=OFFICE, at=at("2023-06-20", 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at("2023-06-26"), meeting="动员会")
    ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at("2023-06-27", 10),
        area="430903",
        summary="砂石码头粉尘污染",
        category="air",
        actor=TEAM,
        complaint_id="C",
    )
    ledger.hand_over_batch("R", day=D(2023, 6, 28), actor=TEAM, at=at("2023-06-28", 17))


@pytest.fixture
def zh_restored() -> Iterator[Wording]:
    """The registered Chinese wording, registered again after the test."""
    before = wording("zh")
    yield before
    register_wording("zh", before)


def test_built_in_tables_hold_the_same_keys() -> None:
    """Chinese and English word the same messages, so neither falls back on the other
    (labels are names, which a table gives only where the definitions' own do not do)."""
    zh = {k.removesuffix(".one") for k in wording("zh").texts if not k.startswith("label.")}
    en = {k.removesuffix(".one") for k in wording("en").texts if not k.startswith("label.")}
    assert zh == en


def test_a_third_language_as_data_words_an_explanation(calendar: ChinaCalendar) -> None:
    """A partial table words its sentences; the sentences it leaves out are in English."""
    due = national_day(calendar)
    text = due.explain(Wording("ug", UYGHUR))
    lines = text.splitlines()
    assert lines[0] == "قائىدە: 30 خىزمەت كۈنى (start day not counted)"
    assert f"ۋاقتى: {due.last_day.isoformat()} 24:00 (Asia/Shanghai)" in lines
    english = due.explain("en").splitlines()
    assert lines[1:-2] == english[1:-2]
    assert lines[-1] == english[-1]


def test_a_missing_key_falls_back_to_english(calendar: ChinaCalendar) -> None:
    """A table without a key reads it from English, even for a language registered by code."""
    register_wording("x-test-fallback", {"explain.calendar": "Cal. {version}"})
    text = national_day(calendar).explain("x-test-fallback")
    assert text.splitlines()[0] == "Rule: 30 working days (start day not counted)"
    assert text.splitlines()[-1].startswith("Cal. chinesecalendar==")
    assert wording("x-test-fallback").text("report.overdue", n=3) == "Overdue: 3"


def test_a_table_without_a_singular_keeps_its_own_word() -> None:
    """A table's one form for every count is used for one too, not English's singular."""
    w = Wording("x-test-one", {"unit.hours": "{n} saat"})
    assert Unit.HOURS.label(1, w) == "1 saat"
    assert Unit.HOURS.label(1, "en") == "1 hour"
    assert Unit.HOURS.label(2, "en") == "2 hours"


def test_a_local_wording_of_one_sentence_shows(
    calendar: ChinaCalendar, zh_restored: Wording
) -> None:
    """Overriding one Chinese sentence changes that line only, as a value or registered."""
    due = DeadlineRule.working_days(30).compute(
        D(2023, 9, 20),
        calendar,
        extensions=[Extension("现场核查", amount=10, unit="working_days")],
    )
    plain = due.explain("zh").splitlines()
    local = zh_restored.override({"explain.extension": "申请延期{extension}，理由：{reason}"})
    worded = due.explain(local).splitlines()
    changed = [(a, b) for a, b in zip(plain, worded, strict=True) if a != b]
    assert changed == [
        ("延期：10个工作日（现场核查），末日变为 2023-11-21", "申请延期10个工作日，理由：现场核查")
    ]
    register_wording("zh", {"explain.extension": "申请延期{extension}，理由：{reason}"})
    assert due.explain("zh").splitlines() == worded
    assert due.explain(zh_restored).splitlines() == plain


def test_an_unknown_language_is_a_library_error(calendar: ChinaCalendar) -> None:
    """An unregistered language code is an UnknownLanguageError naming the known ones."""
    due = national_day(calendar)
    ledger = Ledger(rulebook=HUNAN)
    yiyang(ledger)
    view = ledger.deadlines("R")[0]
    calls = [
        lambda: due.explain("fr"),  # type: ignore[arg-type]
        lambda: due.rule.describe("fr"),
        lambda: view.explain("fr"),
        lambda: status_report(ledger, D(2023, 7, 1), lang="fr"),
        lambda: COMPLAINT.mermaid("fr"),
        lambda: wording(None),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(UnknownLanguageError) as info:
            call()
        assert isinstance(info.value, LookupError)
        assert isinstance(info.value, InspectionFlowError)
        assert "use one of en, " in str(info.value)


@pytest.mark.parametrize(
    ("texts", "key", "problem"),
    [
        ({"explain.rul": "Rule: {rule}"}, "explain.rul", "is not a message key"),
        ({"explain.rule": "Rule: {rules}"}, "explain.rule", "uses {rules}"),
        ({"explain.rule": "Rule: {rule"}, "explain.rule", "is not a template"),
        ({"explain.rule": "Rule: {0}"}, "explain.rule", "fields are named"),
        ({"explain.rule": 3}, "explain.rule", "must be text"),
        ({"labels": "fr"}, "labels", "must be one of zh, en"),
    ],
)
def test_a_bad_table_is_refused_and_registers_nothing(
    texts: dict[str, object], key: str, problem: str
) -> None:
    """A table with an unknown key or field, or a broken template, is a WordingError."""
    with pytest.raises(WordingError) as info:
        register_wording("x-test-bad", texts)  # type: ignore[arg-type]
    assert info.value.key == key
    assert problem in str(info.value)
    with pytest.raises(UnknownLanguageError):
        wording("x-test-bad")


@pytest.mark.parametrize("code", ["", " ug", "a\x00b", "x" * 36, 7, None])
def test_a_language_needs_a_code(code: object) -> None:
    """A blank, padded, unprintable, overlong or non-text code is refused."""
    with pytest.raises(WordingError):
        register_wording(code, {})  # type: ignore[arg-type]
    with pytest.raises(WordingError):
        Wording(code, {})  # type: ignore[arg-type]


def test_a_wording_is_a_value() -> None:
    """A Wording's texts are read-only and its own copy: later changes to the dict do nothing."""
    texts = {"explain.due": "Due by {due}"}
    w = Wording("x-test-value", texts)
    texts["explain.due"] = "changed"
    assert w.text("explain.due", due="x") == "Due by x"
    with pytest.raises(TypeError):
        w.texts["explain.due"] = "changed"  # type: ignore[index]


def test_a_third_language_words_a_status_report() -> None:
    """A status report in a partial table: its title, counts and state labels as given."""
    ledger = Ledger(rulebook=HUNAN)
    yiyang(ledger)
    report = status_report(ledger, D(2023, 9, 1), lang=Wording("ug", UYGHUR))
    lines = report.splitlines()
    assert lines[0] == "خاتىرە ئەھۋالى 2023-09-01 24:00"
    assert "complaint cases: 1 (تاپشۇرۇلدى 1)" in lines
    assert "ۋاقتى ئۆتكەن: 1" in lines
    assert "  C  赫山区  تاپشۇرۇلدى  53 days overdue  砂石码头粉尘污染" in lines
    assert "قائىدە: 10 calendar days (start day not counted; a rest last day rolls" in report
    english = status_report(ledger, D(2023, 9, 1), lang="en").splitlines()
    assert lines[1] == english[1] == "rounds: 1 (stationed 1)"
    assert len(lines) == len(english)


def test_a_label_in_a_table_names_a_state_in_diagrams() -> None:
    """A table's state label shows in Lifecycle.mermaid, the other labels stay English."""
    text = COMPLAINT.mermaid(Wording("ug", UYGHUR))
    assert 'state "تاپشۇرۇلدى" as handed_over' in text
    assert 'state "passed on" as passed_on' in text
    assert TASK.mermaid(Wording("ug", UYGHUR)) == TASK.mermaid("en")


def test_a_deadline_view_is_worded_by_the_table() -> None:
    """A stored deadline's explanation reads its head and status from the table."""
    ledger = Ledger(rulebook=HUNAN)
    yiyang(ledger)
    view = ledger.deadlines("R")[0]
    local = wording("en").override(
        {"deadline.status": "State of play: {status}", "deadline.status.open": "running"}
    )
    text = view.explain(local)
    assert "State of play: running" in text.splitlines()
    assert text.replace("State of play: running", "Status: open") == view.explain("en")


def relabel(lifecycle: Lifecycle, state: str, zh: str, en: str) -> Lifecycle:
    """``lifecycle`` with ``state`` labelled ``zh`` and ``en``."""
    states = tuple(
        attrs.evolve(s, label_zh=zh, label_en=en) if s.name == state else s
        for s in lifecycle.states
    )
    return attrs.evolve(lifecycle, states=states)


def relabelled() -> Rulebook:
    """Hunan's rulebook calling a handed-over complaint 已转办 / sent on and a stationed
    round 驻点中 / on site."""
    lifecycles = {
        **HUNAN.lifecycles,
        "complaint": relabel(COMPLAINT, "handed_over", "已转办", "sent on"),
        "round": relabel(ROUND, "stationed", "驻点中", "on site"),
    }
    return attrs.evolve(HUNAN, name="hunan-relabelled", lifecycles=lifecycles)


def test_the_report_labels_states_as_the_rounds_rulebook_does() -> None:
    """A rulebook's own state label names the state in counts and in the item lines."""
    ledger = Ledger(rulebook=HUNAN)
    yiyang(ledger, relabelled())
    assert ledger.lifecycle_of(ledger.get("C")).state("handed_over").label_zh == "已转办"
    for round_id in ("R", None):
        zh = status_report(ledger, D(2023, 9, 1), round_id=round_id).splitlines()
        assert "督察轮次: 1（驻点中 1）" in zh
        assert "信访件: 1（已转办 1）" in zh
        assert "  C  赫山区  已转办  逾期未反馈53天  砂石码头粉尘污染" in zh
        en = status_report(ledger, D(2023, 9, 1), round_id=round_id, lang="en").splitlines()
        assert "rounds: 1 (on site 1)" in en
        assert "complaint cases: 1 (sent on 1)" in en
        assert "  C  赫山区  sent on  53 days overdue  砂石码头粉尘污染" in en


def test_the_built_in_rulebooks_label_the_report_as_before() -> None:
    """Under a rulebook that relabels nothing, the report's labels are the built-in ones."""
    ledger = Ledger(rulebook=HUNAN)
    yiyang(ledger)
    zh = status_report(ledger, D(2023, 9, 1)).splitlines()
    assert "信访件: 1（已交办 1）" in zh
    assert "  C  赫山区  已交办  逾期未反馈53天  砂石码头粉尘污染" in zh


def test_pauses_are_worded_by_the_table(calendar: ChinaCalendar) -> None:
    """A running pause's words come from the table: its open end and missing reason."""
    due = DeadlineRule.working_days(30).compute(
        D(2023, 9, 20), calendar, pauses=[Pause(at("2023-10-09"))]
    )
    local = wording("en").override(
        {"explain.pause_running": "now", "explain.pause_no_reason": "unstated"}
    )
    assert "Paused: 2023-10-09T09:00:00+08:00 to now (unstated)" in due.explain(local)


def test_a_message_filled_wrongly_is_a_library_error() -> None:
    """A template filled without its fields, or an unknown key, is a WordingError."""
    with pytest.raises(WordingError, match=r"explain\.rule"):
        wording("en").text("explain.rule")
    with pytest.raises(WordingError, match="is not a message key"):
        wording("zh").text("explain.nothing")
    with pytest.raises(WordingError, match="percent"):
        wording("en").text("report.percent", percent="high")


# --- spans of time in words ------------------------------------------------------------

_SH = dt.timezone(dt.timedelta(hours=8))


@given(seconds=st.integers(min_value=0, max_value=400 * 86400))
def test_a_span_is_worded_in_its_largest_whole_unit(seconds: int) -> None:
    """Whole days from one day on, else whole hours, else minutes, never weeks; both ways round."""
    start = dt.datetime(2023, 7, 1, 9, 30, tzinfo=_SH)
    end = start + dt.timedelta(seconds=seconds)
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        zh, en = f"{days}天", f"{days} day" + ("s" if days != 1 else "")
    elif hours:
        zh, en = f"{hours}小时", f"{hours} hour" + ("s" if hours != 1 else "")
    else:
        zh, en = f"{minutes}分钟", f"{minutes} minute" + ("s" if minutes != 1 else "")
    assert wording("zh").span(start, end) == zh
    assert wording("en").span(start, end) == en
    assert wording("zh").span(end, start) == zh


def test_a_span_across_time_zones_is_the_time_between_the_instants() -> None:
    """The same instant written in UTC and in Shanghai is no span at all."""
    at = dt.datetime(2023, 7, 1, 1, tzinfo=dt.timezone.utc)
    assert wording("en").span(at, at.astimezone(_SH)) == "0 minutes"
    assert wording("zh").span(at, at + dt.timedelta(hours=30)) == "1天"


def test_a_language_pendulum_lacks_words_spans_in_its_fallback() -> None:
    """A registered table whose language pendulum has no locale for falls back to English."""
    table = Wording("x-test", {})
    at = dt.datetime(2023, 7, 1, tzinfo=_SH)
    assert table.span(at, at + dt.timedelta(days=3)) == "3 days"


def test_a_span_of_naive_datetimes_is_refused() -> None:
    with pytest.raises(WordingError, match="time zone"):
        wording("zh").span(dt.datetime(2023, 7, 1), dt.datetime(2023, 7, 2))
