"""Lifecycle definitions: validation, pictures, the shared machine, and every legal path
of each built-in lifecycle run through a ledger."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import transitions

from inspection_flow import (
    ACCOUNTABILITY,
    COMPLAINT,
    DISPATCH,
    DOCUMENT_REQUEST,
    LIFECYCLES,
    PUBLICATION,
    ROUND,
    TASK,
    DeadlineBinding,
    DefinitionError,
    Field,
    InvalidTransitionError,
    Ledger,
    Lifecycle,
    Snapshot,
    State,
    Transition,
    load_rulebook,
)
from strategies import (
    ACCEPTOR,
    COUNTY_ACCEPTOR,
    LIAISON,
    OFFICE,
    RECT_OFFICE,
    T0,
    TEAM,
    actor_for,
    payload_for,
)

HUNAN = load_rulebook("hunan-provincial-2023")
HOUR = dt.timedelta(hours=1)
OWNERS = frozenset({"owner_unit"})


def tiny(**changes: Any) -> Lifecycle:
    """A two-state lifecycle, valid as given; ``changes`` replace its parts."""
    spec: dict[str, Any] = {
        "name": "tiny",
        "kind": "tiny",
        "label_zh": "小",
        "label_en": "tiny",
        "initial": "open",
        "states": (State("open", "办理中", "open"), State("done", "已办结", "done", terminal=True)),
        "transitions": (
            Transition("finish", ("open",), "done", OWNERS, fields=(Field("on", "date"),)),
            Transition("note", ("open",), None, OWNERS),
        ),
        "deadlines": (DeadlineBinding("due", "rule", "create", frozenset({"finish"})),),
    }
    spec.update(changes)
    return Lifecycle(**spec)


def rebuilt(lc: Lifecycle) -> Lifecycle:
    """The lifecycle built again from its public parts."""
    return Lifecycle(
        name=lc.name,
        kind=lc.kind,
        label_zh=lc.label_zh,
        label_en=lc.label_en,
        initial=lc.initial,
        states=lc.states,
        transitions=lc.transitions,
        deadlines=lc.deadlines,
        roles=lc.roles,
        creators=lc.creators,
        fields=lc.fields,
    )


# --- definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("lc", LIFECYCLES.values(), ids=list(LIFECYCLES))
def test_builtin_lifecycle_validates(lc: Lifecycle) -> None:
    """Each built-in lifecycle passes validation when built again from its parts."""
    assert rebuilt(lc) == lc
    assert lc.state(lc.initial).name == lc.initial


def test_builtin_lifecycles_are_the_exported_ones() -> None:
    """LIFECYCLES holds the round, complaint, task, document request, accountability case,
    publication and dispatch."""
    assert LIFECYCLES == {
        "round": ROUND,
        "complaint": COMPLAINT,
        "task": TASK,
        "document_request": DOCUMENT_REQUEST,
        "accountability": ACCOUNTABILITY,
        "publication": PUBLICATION,
        "dispatch": DISPATCH,
    }


@pytest.mark.parametrize("lc", LIFECYCLES.values(), ids=list(LIFECYCLES))
def test_every_live_state_can_still_end(lc: Lifecycle) -> None:
    """From every state of a built-in lifecycle an end is reachable: a terminal state, or
    the final closing of a case (已验收销号), which only a problem coming back reopens."""
    for state in lc.states:
        seen = {state.name}
        frontier = [state.name]
        while frontier:
            s = frontier.pop()
            for event in lc.allowed(s):
                target = lc.transition(s, event).target  # type: ignore[union-attr]
                if target is not None and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        ends = {s for s in seen if lc.state(s).terminal}
        ends |= {"accepted"} & seen if lc.name == "complaint" else set()
        assert ends, state.name


@pytest.mark.parametrize("lc", LIFECYCLES.values(), ids=list(LIFECYCLES))
def test_terminal_states_allow_nothing(lc: Lifecycle) -> None:
    """A terminal state allows no event, and a live state allows at least one."""
    for state in lc.states:
        assert bool(lc.allowed(state.name)) is not state.terminal, state.name


def test_tiny_lifecycle_is_valid() -> None:
    """The test's small lifecycle is valid, so each refusal below has one cause."""
    lc = tiny()
    assert lc.events == ("finish", "note")
    assert lc.deadlines_started_by("create") == (lc.deadline("due"),)
    assert lc.deadlines_ended_by("finish") == ((lc.deadline("due"), True),)


T = Transition
DONE_AGAIN = State("done", "已办结", "done")


@pytest.mark.parametrize(
    ("changes", "key", "problem"),
    [
        ({"initial": "nowhere"}, "initial", "unknown state 'nowhere'"),
        (
            {"transitions": (T("finish", ("open",), "nowhere", OWNERS),)},
            "event 'finish'",
            "unknown state 'nowhere'",
        ),
        (
            {"transitions": (T("finish", ("limbo",), "done", OWNERS),)},
            "event 'finish'",
            "unknown state 'limbo'",
        ),
        (
            {"states": (State("open", "a", "a"), State("open", "b", "b"))},
            "state 'open'",
            "defined twice",
        ),
        (
            {
                "states": (
                    State("open", "a", "a"),
                    State("done", "b", "b", terminal=True),
                    State("lost", "c", "c"),
                ),
                "transitions": (
                    T("finish", ("open",), "done", OWNERS, fields=(Field("on", "date"),)),
                    T("wander", ("lost",), "open", OWNERS),
                ),
            },
            "state 'lost'",
            "cannot be reached",
        ),
        (
            {
                "transitions": (
                    T("finish", ("open",), "done", OWNERS, fields=(Field("on", "date"),)),
                    T("reopen", ("done",), "open", OWNERS),
                )
            },
            "event 'reopen'",
            "leaves the terminal state 'done'",
        ),
        (
            {
                "transitions": (
                    T("finish", ("open",), "done", OWNERS, fields=(Field("on", "date"),)),
                    T("note", ("done",), None, OWNERS),
                )
            },
            "event 'note'",
            "leaves the terminal state 'done'",
        ),
        (
            {
                "transitions": (
                    T("finish", ("open",), "done", OWNERS),
                    T("finish", ("open",), None, OWNERS),
                )
            },
            "event 'finish'",
            "defined twice from 'open'",
        ),
        (
            {"transitions": (T("finish", ("open",), "done", frozenset()),)},
            "event 'finish'",
            "no role may fire it",
        ),
        (
            {
                "roles": frozenset({"owner_unit"}),
                "transitions": (T("finish", ("open",), "done", frozenset({"mayor"})),),
            },
            "event 'finish'",
            "unknown role 'mayor'",
        ),
        (
            {"transitions": (T("finish", (), "done", OWNERS),)},
            "event 'finish'",
            "no source state",
        ),
        (
            {"deadlines": (DeadlineBinding("due", "rule", "start", frozenset({"finish"})),)},
            "deadline 'due'",
            "unknown event 'start'",
        ),
        (
            {"deadlines": (DeadlineBinding("due", "rule", "create", frozenset({"finsh"})),)},
            "deadline 'due'",
            "unknown event 'finsh'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding(
                        "due", "rule", "create", frozenset({"finish"}), frozenset({"drop"})
                    ),
                )
            },
            "deadline 'due'",
            "unknown event 'drop'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding("due", "rule", "create", frozenset({"finish"})),
                    DeadlineBinding("due", "rule", "create", frozenset({"finish"})),
                )
            },
            "deadline 'due'",
            "defined twice",
        ),
        (
            {"deadlines": (DeadlineBinding("due", "rule", "", frozenset({"finish"})),)},
            "deadline 'due'",
            "needs 'starts_on' or 'on_enter'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding("due", "rule", "", frozenset({"finish"}), on_enter="limbo"),
                )
            },
            "deadline 'due'",
            "unknown state 'limbo'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding("due", "rule", "", frozenset({"finish"}), on_enter="done"),
                )
            },
            "deadline 'due'",
            "state 'done' is terminal",
        ),
        (
            {"deadlines": (DeadlineBinding("due", "rule", "finish", frozenset({"note"})),)},
            "deadline 'due'",
            "starts on 'finish', which ends in the terminal state 'done'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding(
                        "due", "rule", "create", frozenset({"finish"}), date_field="until"
                    ),
                )
            },
            "deadline 'due'",
            "event 'create' has no field 'until'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding("due", "rule", "note", frozenset({"finish"}), date_field="on"),
                )
            },
            "deadline 'due'",
            "event 'note' has no field 'on'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding(
                        "due", "rule", "create", frozenset({"finish"}), reopened_by=frozenset({"x"})
                    ),
                )
            },
            "deadline 'due'",
            "unknown event 'x'",
        ),
        (
            {
                "deadlines": (
                    DeadlineBinding(
                        "due",
                        "rule",
                        "create",
                        frozenset({"finish"}),
                        reopened_by=frozenset({"finish"}),
                    ),
                )
            },
            "deadline 'due'",
            "event 'finish' both ends and reopens it",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_inconsistent_definitions_are_refused(
    changes: dict[str, Any], key: str, problem: str
) -> None:
    """An inconsistent definition raises DefinitionError naming the lifecycle, part and problem."""
    with pytest.raises(DefinitionError) as info:
        tiny(**changes)
    assert info.value.lifecycle == "tiny"
    assert info.value.key == key
    assert problem in info.value.problem
    assert isinstance(info.value, ValueError)


def test_a_date_field_deadline_on_its_event_is_accepted() -> None:
    """A deadline whose last day comes from a field of its starting event is valid."""
    lc = tiny(
        deadlines=(DeadlineBinding("due", "rule", "note", frozenset({"finish"}), date_field="on"),),
        transitions=(
            Transition("finish", ("open",), "done", OWNERS),
            Transition("note", ("open",), None, OWNERS, fields=(Field("on", "date"),)),
        ),
    )
    assert lc.deadline("due").date_field == "on"


def test_an_on_enter_deadline_starts_on_every_way_in() -> None:
    """An on_enter deadline starts on every event entering its state, and on creation if initial."""
    lc = tiny(
        states=(
            State("open", "办理中", "open"),
            State("held", "暂停", "held"),
            State("done", "已办结", "done", terminal=True),
        ),
        transitions=(
            Transition("hold", ("open",), "held", OWNERS),
            Transition("release", ("held",), "open", OWNERS),
            Transition("finish", ("open", "held"), "done", OWNERS),
        ),
        deadlines=(DeadlineBinding("due", "rule", "", frozenset({"finish"}), on_enter="open"),),
    )
    due = lc.deadline("due")
    assert lc.deadlines_started_by("create") == (due,)
    assert lc.deadlines_started_by("release") == (due,)
    assert lc.deadlines_started_by("hold") == ()


def test_a_task_sent_back_reopens_its_rectification_deadline() -> None:
    """rectify_due is reopened when verification fails or the public notice meets an objection."""
    due = TASK.deadline("rectify_due")
    on_the_spot = TASK.deadline("immediate_due")
    assert TASK.deadlines_reopened_by("fail_verification") == (due, on_the_spot)
    assert TASK.deadlines_reopened_by("object") == (due, on_the_spot)
    assert TASK.deadlines_reopened_by("close") == ()


def test_unknown_names_are_refused_by_the_questions() -> None:
    """Asking a lifecycle for a state or deadline it lacks raises DefinitionError."""
    with pytest.raises(DefinitionError, match="'limbo'"):
        TASK.state("limbo")
    with pytest.raises(DefinitionError, match="'due'"):
        TASK.deadline("due")
    assert TASK.transition("filed", "close") is None
    assert TASK.allowed("limbo") == ()


def test_rule_keys_name_every_deadline_rule() -> None:
    """rule_keys() lists the rulebook keys a lifecycle's deadlines need."""
    assert TASK.rule_keys() == frozenset(
        {"task_deadline", "immediate_rectification", "public_notice"}
    )
    assert ROUND.rule_keys() == frozenset({"station_in", "plan", "progress_report"})


# --- pictures ------------------------------------------------------------------------------


@pytest.mark.parametrize("lc", LIFECYCLES.values(), ids=list(LIFECYCLES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mermaid_draws_every_state_and_transition(lc: Lifecycle, lang: str) -> None:
    """The Mermaid diagram declares every state and draws every transition from each source."""
    text = lc.mermaid(lang)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert f"    [*] --> {lc.initial}" in lines
    for s in lc.states:
        label = s.label_zh if lang == "zh" else s.label_en
        assert f'    state "{label}" as {s.name}' in lines
        assert (f"    {s.name} --> [*]" in lines) is s.terminal
    notes = {
        line.split(" of ", 1)[1].split(": ", 1)[0]: line.split(": ", 1)[1]
        for line in lines
        if line.startswith("    note right of ")
    }
    for t in lc.transitions:
        label = (t.label_zh if lang == "zh" else t.label_en) or t.event
        for src in t.sources:
            if t.target is None:
                assert label in notes[src]
            else:
                assert f"    {src} --> {t.target}: {label}" in lines
    arrows = [line for line in lines if ": " in line and "-->" in line]
    assert len(arrows) == sum(len(t.sources) for t in lc.transitions if t.target is not None)
    assert not any(
        line.startswith(f"    {s.name} --> {s.name}:") for s in lc.states for line in lines
    )


def test_mimebundle_gives_markdown_with_the_diagram() -> None:
    """A notebook shows a lifecycle as Markdown holding its Mermaid diagram."""
    bundle = TASK._repr_mimebundle_()
    assert bundle["text/markdown"] == f"```mermaid\n{TASK.mermaid()}\n```"
    assert bundle["text/plain"].startswith("Lifecycle('task': 11 states")


# --- the shared machine --------------------------------------------------------------------


@pytest.mark.parametrize("lc", LIFECYCLES.values(), ids=list(LIFECYCLES))
def test_step_agrees_with_the_definition(lc: Lifecycle) -> None:
    """step() goes where the definition says, or refuses listing the state's allowed events."""
    for state in lc.states:
        for event in lc.events:
            t = lc.transition(state.name, event)
            if t is None:
                with pytest.raises(InvalidTransitionError) as info:
                    lc.step("X-1", state.name, event)
                assert info.value.entity_id == "X-1"
                assert info.value.state == state.name
                assert info.value.event == event
                assert info.value.allowed == lc.allowed(state.name)
            else:
                assert lc.step("X-1", state.name, event) == (t.target or state.name)


def test_step_refuses_an_unknown_event_or_state() -> None:
    """An event the lifecycle lacks, or a state it lacks, is an invalid transition."""
    with pytest.raises(InvalidTransitionError, match="Allowed now: plan"):
        TASK.step("T-1", "identified", "fly")
    with pytest.raises(InvalidTransitionError) as info:
        TASK.step("T-1", "limbo", "plan")
    assert info.value.allowed == ()


def test_invalid_transition_message_says_when_a_state_is_final() -> None:
    """Refusing an event in a terminal state says that nothing is allowed any more."""
    with pytest.raises(InvalidTransitionError, match="none: the state is final"):
        TASK.step("T-1", "filed", "close")


class _CountingMachine(transitions.Machine):  # type: ignore[misc]
    built = 0
    delay = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        time.sleep(self.delay)
        super().__init__(*args, **kwargs)


@pytest.fixture
def counting_machine(monkeypatch: pytest.MonkeyPatch) -> type[_CountingMachine]:
    """transitions.Machine replaced by a subclass that counts the machines built."""

    class Counting(_CountingMachine):
        built = 0

    monkeypatch.setattr(transitions, "Machine", Counting)
    return Counting


def test_one_machine_serves_every_entity(counting_machine: type[_CountingMachine]) -> None:
    """A definition builds one transitions machine, however many entities it steps."""
    lc = rebuilt(TASK)
    for i in range(50):
        assert lc.step(f"T-{i}", "identified", "plan") == "planned"
        assert lc.step(f"T-{i}", "public_notice", "object") == "in_progress"
    assert counting_machine.built == 1


def test_first_use_from_many_threads_builds_one_machine(
    counting_machine: type[_CountingMachine],
) -> None:
    """Threads stepping a fresh definition at once share one machine and all get answers."""
    counting_machine.delay = 0.05
    lc = rebuilt(DOCUMENT_REQUEST)
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        try:
            results.append(lc.step("D-1", "requested", "provide"))
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert results == ["provided"] * 4
    assert counting_machine.built == 1


def test_machines_are_built_without_auto_transitions(
    counting_machine: type[_CountingMachine],
) -> None:
    """The shared machine offers no to_<state> shortcuts: only defined events move it."""
    lc = rebuilt(DOCUMENT_REQUEST)
    with pytest.raises(InvalidTransitionError):
        lc.step("D-1", "requested", "to_provided")


class _MachineWithoutObjections(transitions.Machine):  # type: ignore[misc]
    def add_transition(self, trigger: str, *args: Any, **kwargs: Any) -> None:
        if trigger != "object":
            super().add_transition(trigger, *args, **kwargs)


def test_the_shared_machine_decides_what_may_happen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A move the machine does not know is refused by step, transition and allowed alike."""
    monkeypatch.setattr(transitions, "Machine", _MachineWithoutObjections)
    lc = rebuilt(TASK)
    assert "object" in lc.events
    assert lc.transition("public_notice", "object") is None
    assert "object" not in lc.allowed("public_notice")
    with pytest.raises(InvalidTransitionError) as info:
        lc.step("T-1", "public_notice", "object")
    assert info.value.allowed == lc.allowed("public_notice")
    assert lc.step("T-1", "identified", "plan") == "planned"


def test_a_field_index_is_read_only() -> None:
    """A transition's fields by name cannot be changed through field_index."""
    t = TASK.transitions_of("plan")[0]
    name = next(iter(t.field_index))
    with pytest.raises(TypeError):
        t.field_index["extra"] = Field("extra")  # type: ignore[index]
    with pytest.raises(TypeError):
        del t.field_index[name]  # type: ignore[attr-defined]
    assert set(t.field_index) == {f.name for f in t.fields}


def test_building_a_machine_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """The library says at DEBUG, through its own logger, when it builds a definition's machine."""
    with caplog.at_level(logging.DEBUG, logger="inspection_flow"):
        rebuilt(DOCUMENT_REQUEST).step("D-1", "requested", "provide")
    [record] = [r for r in caplog.records if r.name.startswith("inspection_flow")]
    assert record.levelno == logging.DEBUG
    assert "document_request" in record.getMessage()


def test_no_logger_of_transitions_is_changed() -> None:
    """Importing the package, building machines and firing events leave transitions' loggers
    at the levels the host application gave them."""
    code = textwrap.dedent(
        """
        import datetime as dt, logging
        logging.getLogger("transitions.core").setLevel(logging.INFO)
        levels = {n: logging.getLogger(n).level for n in ("transitions", "transitions.core")}
        import inspection_flow as f

        at = dt.datetime(2023, 6, 20, 9, tzinfo=f.SHANGHAI)
        office = f.Actor("leading_office", "430000", "省督察办")
        for lc in f.LIFECYCLES.values():
            lc.allowed(lc.initial)
        ledger = f.Ledger(rulebook="hunan-provincial-2023")
        ledger.create_round("R", name="益阳市", area="430900", actor=office, at=at)
        ledger.fire("R", "announce", actor=office, at=at)
        after = {n: logging.getLogger(n).level for n in levels}
        assert after == levels == {"transitions": 0, "transitions.core": 20}, after
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- every legal path ------------------------------------------------------------------------


#: Transitions defined so that their guard can say what is missing: always refused.
REFUSED = {("complaint", "interim_closed", "apply_acceptance")}


def _paths(lc: Lifecycle) -> list[tuple[str, ...]]:
    """Every simple path of state-changing events from the initial state, each also closed by
    one event back into a state it has visited."""
    out: list[tuple[str, ...]] = []

    def walk(state: str, path: tuple[str, ...], seen: frozenset[str]) -> None:
        out.append(path)
        for event in lc.allowed(state):
            target = lc.transition(state, event).target  # type: ignore[union-attr]
            if target is None or (lc.name, state, event) in REFUSED:
                continue
            if target in seen:
                out.append((*path, event))
            else:
                walk(target, (*path, event), seen | {target})

    walk(lc.initial, (), frozenset({lc.initial}))
    return out


def _end_state(lc: Lifecycle, path: tuple[str, ...]) -> str:
    state = lc.initial
    for event in path:
        state = lc.transition(state, event).target or state  # type: ignore[union-attr]
    return state


PATHS = [(name, path) for name, lc in LIFECYCLES.items() for path in _paths(lc)]


def test_paths_reach_every_state_and_use_every_transition() -> None:
    """The enumerated paths end in every state and take every state-changing transition."""
    for name, lc in LIFECYCLES.items():
        mine = [p for n, p in PATHS if n == name]
        assert {_end_state(lc, p) for p in mine} == {s.name for s in lc.states}
        taken: set[tuple[str, str]] = set()
        for path in mine:
            state = lc.initial
            for event in path:
                taken.add((state, event))
                state = lc.transition(state, event).target  # type: ignore[union-attr,assignment]
        changing = {
            (src, t.event)
            for t in lc.transitions
            if t.target is not None
            for src in t.sources
            if (name, src, t.event) not in REFUSED
        }
        assert taken == changing, name


class PathRunner:
    """Runs events on one fresh entity of a fresh ledger, at instants one hour apart."""

    def __init__(self, lifecycle: str, path: tuple[str, ...] = ()) -> None:
        self.ledger = Ledger(rulebook=HUNAN)
        self.lifecycle = lifecycle
        self.now = T0
        self.ledger.create_round("R", name="益阳市", area="430900", actor=OFFICE, at=self.tick())
        if lifecycle == "round":
            self.entity = "R"
        elif lifecycle == "complaint":
            self.advance_round("announce", "station_in")
            self.ledger.receive_complaint(
                "R",
                channel="letter",
                received_at=self.tick(),
                area="430903",
                summary="砂石码头粉尘污染",
                category="air",
                actor=TEAM,
                complaint_id="C-1",
            )
            self.entity = "C-1"
        elif lifecycle == "task":
            # A task rectified on the spot (立行立改) arises during the station-in.
            on_the_spot = path[:1] == ("rectify_immediately",)
            self.advance_round(
                *("announce", "station_in")
                if on_the_spot
                else ("announce", "station_in", "end_station_in", "approve_report", "give_feedback")
            )
            self.ledger.add_task(
                "R",
                title="砂石码头整治",
                area="430903",
                actor=RECT_OFFICE,
                at=self.tick(),
                task_id="T-1",
            )
            self.entity = "T-1"
        elif lifecycle == "accountability":
            self.ledger.create(
                "accountability",
                round_id="R",
                entity_id="ZR-1",
                actor=TEAM,
                at=self.tick(),
                area="430903",
                problem="黑臭水体整治不力",
            )
            self.entity = "ZR-1"
        elif lifecycle == "publication":
            self.advance_round("announce", "station_in")
            self.ledger.create(
                "publication",
                round_id="R",
                entity_id="P-1",
                actor=actor_for(PUBLICATION.creators),
                at=self.tick(),
                area="430900",
                number=1,
                batch=1,
                published_on="2023-06-28",
                cases=["C-1"],
                statuses={"C-1": "closed"},
            )
            self.entity = "P-1"
        elif lifecycle == "dispatch":
            self.advance_round(
                "announce", "station_in", "end_station_in", "approve_report", "give_feedback"
            )
            self.ledger.create(
                "dispatch",
                round_id="R",
                entity_id="DP-1",
                actor=actor_for(DISPATCH.creators),
                at=self.tick(),
                area="430900",
                period=f"{self.now:%Y-%m}",
                reports_due=(self.now + dt.timedelta(days=30)).date().isoformat(),
            )
            self.entity = "DP-1"
        else:
            self.ledger.request_documents(
                "R",
                documents="环评审批台账",
                area="430900",
                actor=TEAM,
                at=self.tick(),
                request_id="D-1",
            )
            self.entity = "D-1"

    def tick(self, not_before: dt.datetime | None = None) -> dt.datetime:
        self.now = max(self.now + HOUR, not_before or self.now)
        return self.now

    def advance_round(self, *events: str) -> None:
        for event in events:
            self.fire("R", "round", event)

    def fire(self, entity: str, lifecycle: str, event: str) -> None:
        snap = self.ledger.get(entity)
        lc = self.ledger.lifecycle_of(snap)
        t = lc.transition(snap.state, event)
        assert t is not None, (entity, snap.state, event)
        not_before = None
        if event == "close" and lifecycle == "task":
            not_before = snap.deadlines["notice_ends"].due_at
        if lifecycle == "complaint":
            not_before = self.clear_the_way(entity, snap, event)
        if event == "close_all":
            self.close_a_task()
        at = self.tick(not_before)
        self.ledger.fire(
            entity,
            event,
            actor=actor_for(t.roles),
            at=at,
            **payload_for(lifecycle, event, snap, at),
        )

    def clear_the_way(self, entity: str, snap: Snapshot, event: str) -> dt.datetime | None:
        """What a complaint's guarded events need first: its result forwarded up to the team,
        and its acceptance reviewed at each level; the instant its public notice ends."""
        if snap.state == "reported" and event in ("publish", "return_for_rehandling"):
            self.ledger.fire(entity, "forward_result", actor=LIAISON, at=self.tick())
        if event == "accept":
            for reviewer in (COUNTY_ACCEPTOR, ACCEPTOR):
                self.ledger.fire(entity, "review_acceptance", actor=reviewer, at=self.tick())
            return snap.deadlines["notice_ends"].due_at
        return None

    def close_a_task(self) -> None:
        """Give the round a task and close it, so the round's tasks are all closed."""
        self.ledger.add_task(
            "R",
            title="黑臭水体治理",
            area="430903",
            actor=RECT_OFFICE,
            at=self.tick(),
            task_id="T-9",
        )
        for event in (
            "plan",
            "start",
            "claim_completion",
            "start_verification",
            "sign_off",
            "start_notice",
            "close",
        ):
            self.fire("T-9", "task", event)

    def run(self, path: tuple[str, ...]) -> None:
        for event in path:
            self.fire(self.entity, self.lifecycle, event)


@pytest.mark.parametrize(
    ("lifecycle", "path"),
    PATHS,
    ids=[f"{name}:{'>'.join(path) or 'created'}" for name, path in PATHS],
)
def test_every_legal_path_runs_through_a_ledger(lifecycle: str, path: tuple[str, ...]) -> None:
    """Each legal path, fired by the right actors, ends as the definition says, one event a step
    (besides the events that leave the state, which some guards need first)."""
    runner = PathRunner(lifecycle, path)
    before = len(runner.ledger.history(runner.entity))
    runner.run(path)
    lc = LIFECYCLES[lifecycle]
    snap = runner.ledger.get(runner.entity)
    assert snap.state == _end_state(lc, path)
    assert snap.terminal is lc.state(snap.state).terminal
    history = runner.ledger.history(runner.entity)
    steps = [e for e in history[before:] if e.state_before != e.state_after or e.name in path]
    assert tuple(e.name for e in steps) == path
    for prev, event in itertools.pairwise(history):
        assert event.state_before == prev.state_after
    if snap.terminal:
        assert all(r.status != "open" for r in snap.deadlines.values())
    assert runner.ledger.rebuild(runner.entity) == snap
    assert runner.ledger.verify().ok
