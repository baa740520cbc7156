"""Retried commands that race: every caller gets the stored result or a clear error."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from inspection_flow import SHANGHAI, Actor, ConcurrencyError, Ledger, PayloadError, SQLStore
from processes import run_all
from statements import trace_statements

PG_URL = os.environ.get("INSPECTION_FLOW_PG_URL")

OFFICE = Actor("leading_office", "430000")
TEAM = Actor("inspection_team", "430000")
#: Rounds fired on: "R" by every worker, "R0", "R1", … one per worker.
WORKERS = 4
#: Command ids per kind of command, each sent by every worker at once.
COMMANDS = 6
VISIT_AT = dt.datetime(2023, 6, 27, 9, tzinfo=SHANGHAI)


def at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


def _stationed(ledger: Ledger, round_id: str) -> None:
    ledger.create_round(round_id, name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire(round_id, "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire(round_id, "station_in", actor=TEAM, at=at(26))


def _receive(
    ledger: Ledger, command_id: str, complaint_id: str | None = None, minute: int = 0
) -> Any:
    return ledger.receive_complaint(
        "R",
        channel="letter",
        received_at=at(27, 10, minute),
        area="430903",
        summary="砂石码头粉尘污染",
        category="air",
        actor=TEAM,
        complaint_id=complaint_id,
        command_id=command_id,
    )


def _visit(ledger: Ledger, round_id: str, command_id: str, department: str = "市住建局") -> Any:
    return ledger.fire(
        round_id,
        "visit",
        actor=TEAM,
        at=VISIT_AT,
        department=department,
        command_id=command_id,
    )


# --- one race, played out step by step ------------------------------------------------------


def _after_read(
    engine: sa.Engine, meanwhile: Callable[[], object], table: str = "if_commands"
) -> list[bool]:
    """Run ``meanwhile`` once, right after the next read of ``table`` on ``engine``:
    before the next statement the engine's connections run after it.

    It plays another process winning the race between a command's reads and its write:
    a receipt's look-up of its command id, a command's read of its entity (a command is
    not looked up first: the write refuses an id in use).
    Statements are seen at the driver (:func:`trace_statements`).
    """
    seen: list[bool] = []
    played: list[bool] = []

    def statement(sql: Any) -> None:
        if played:
            return
        if seen:
            played.append(True)
            meanwhile()
        elif isinstance(sql, str) and sql.lstrip().startswith("SELECT") and f"FROM {table}" in sql:
            seen.append(True)

    trace_statements(engine, statement)
    # Holds True once the race was played: each test checks that it was.
    return played


@pytest.fixture
def target(ledger_url: str) -> str:
    """A new ledger database: a SQLite file, or a fresh PostgreSQL schema."""
    return ledger_url


@pytest.fixture
def two(target: str) -> Iterator[tuple[Ledger, Ledger, sa.Engine]]:
    """Two ledgers on one database, as two processes would have, and the second's engine."""
    first = Ledger.open(target, rulebook="hunan-provincial-2023")
    engine = SQLStore.make_engine(target)
    second = Ledger(SQLStore(engine), rulebook="hunan-provincial-2023")
    try:
        _stationed(first, "R")
        _stationed(first, "R2")
        yield first, second, engine
    finally:
        first.close()
        engine.dispose()


def test_generated_creation_losing_the_race_returns_the_stored_entity(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A creation without an id whose command another process stored meanwhile returns
    that entity's snapshot, and leaves no entity of its own."""
    winner, loser, engine = two
    stored: list[Any] = []
    played = _after_read(engine, lambda: stored.append(_receive(winner, "intake-1")))
    got = _receive(loser, "intake-1", minute=5)
    assert played == [True], "the race was not played"
    assert got == stored[0] == loser.get(got.entity_id)
    assert [s.entity_id for s in loser.find(kind="complaint")] == [got.entity_id]


def test_explicit_creation_losing_the_race_returns_the_stored_snapshot(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A creation with an id whose command another process stored meanwhile returns the
    stored snapshot, not the one it computed itself."""
    winner, loser, engine = two
    played = _after_read(engine, lambda: _receive(winner, "intake-1", "R/C-1"))
    got = _receive(loser, "intake-1", "R/C-1", minute=5)
    assert played == [True], "the race was not played"
    assert got == loser.get("R/C-1")
    assert got.data["received_at"].endswith("10:00:00+08:00")
    assert len(loser.history("R/C-1")) == 1


def test_creation_losing_the_race_to_another_entity_is_refused(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A creation with its own id whose command id another process used for another
    entity meanwhile is refused with PayloadError and writes nothing."""
    winner, loser, engine = two
    played = _after_read(engine, lambda: _receive(winner, "intake-1", "R/C-1"))
    with pytest.raises(PayloadError) as info:
        _receive(loser, "intake-1", "R/C-2")
    assert played == [True], "the race was not played"
    assert info.value.field == "command_id"
    assert "R/C-1" in info.value.problem
    assert [s.entity_id for s in loser.find(kind="complaint")] == ["R/C-1"]


def test_fire_losing_the_race_to_another_entity_is_refused(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A command fired on one round whose id another process used on another round
    meanwhile is refused with PayloadError and writes nothing."""
    winner, loser, engine = two
    played = _after_read(engine, lambda: _visit(winner, "R2", "visit-1"), "if_entities")
    with pytest.raises(PayloadError) as info:
        _visit(loser, "R", "visit-1")
    assert played == [True], "the race was not played"
    assert (info.value.entity_id, info.value.field) == ("R", "command_id")
    assert "R2" in info.value.problem
    assert len(loser.history("R")) == 3


def test_fire_losing_the_race_to_itself_returns_the_stored_event(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """The same command fired by two processes at once is written once; both get its event."""
    winner, loser, engine = two
    stored: list[Any] = []
    played = _after_read(
        engine, lambda: stored.append(_visit(winner, "R", "visit-1")), "if_entities"
    )
    got = _visit(loser, "R", "visit-1", department="市水利局")
    assert played == [True], "the race was not played"
    assert got == stored[0]
    assert got.payload["department"] == "市住建局"
    assert [e.command_id for e in loser.history("R")][-2:] == [None, "visit-1"]


def test_fire_losing_the_race_to_another_command_leaves_its_id_free(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A command with an id whose entity another command moved on meanwhile raises
    ConcurrencyError and writes nothing, its id included: sent again, it is applied as
    it was sent, not answered with the other command's event."""
    winner, loser, engine = two
    played = _after_read(engine, lambda: _visit(winner, "R", "visit-w"), "if_entities")
    with pytest.raises(ConcurrencyError):
        _visit(loser, "R", "visit-1", department="市水利局")
    assert played == [True], "the race was not played"
    assert loser.store.command("visit-1") is None
    got = _visit(loser, "R", "visit-1", department="市水利局")
    assert got.payload["department"] == "市水利局"
    history = loser.history("R")
    assert [(e.command_id, e.payload.get("department")) for e in history[-2:]] == [
        ("visit-w", "市住建局"),
        ("visit-1", "市水利局"),
    ]


def test_fire_refused_after_its_own_first_attempt_returns_the_stored_event(
    two: tuple[Ledger, Ledger, sa.Engine],
) -> None:
    """A command that another process applied meanwhile, and that the entity's new
    state would refuse, returns the stored event instead of the refusal."""
    winner, loser, engine = two
    stored: list[Any] = []

    def end(ledger: Ledger) -> Any:
        return ledger.fire("R", "end_station_in", actor=TEAM, at=at(28), command_id="end-R")

    played = _after_read(engine, lambda: stored.append(end(winner)), "if_entities")
    got = end(loser)
    assert played == [True], "the race was not played"
    assert got == stored[0]
    assert len(loser.history("R")) == 4


def test_batch_losing_the_race_writes_nothing(two: tuple[Ledger, Ledger, sa.Engine]) -> None:
    """A batch creating under a command id that another process used meanwhile for
    another entity is refused as a whole."""
    winner, loser, _ = two

    def block() -> None:
        with loser.batch():
            _receive(loser, "intake-9", "R/C-9")
            _receive(loser, "intake-1", "R/C-2")
            _receive(winner, "intake-1", "R/C-1")

    with pytest.raises(PayloadError):
        block()
    assert [s.entity_id for s in loser.find(kind="complaint")] == ["R/C-1"]


# --- many processes at once ----------------------------------------------------------------


def _commands(worker: int) -> list[tuple[str, str, Callable[[Ledger], Any]]]:
    """Every command a worker sends: (kind, command id, the call); all workers send the
    same command ids, some to the same entity, some each to its own."""
    out: list[tuple[str, str, Callable[[Ledger], Any]]] = []
    for i in range(COMMANDS):
        out += [
            ("generated", f"gen-{i}", lambda led, c=f"gen-{i}": _receive(led, c)),
            ("explicit", f"exp-{i}", lambda led, c=f"exp-{i}", i=i: _receive(led, c, f"R/E-{i}")),
            (
                "own-entity",
                f"own-{i}",
                lambda led, c=f"own-{i}", i=i: _receive(led, c, f"R/O-{i}-{worker}"),
            ),
            ("same-round", f"visit-{i}", lambda led, c=f"visit-{i}": _visit(led, "R", c)),
            ("own-round", f"mine-{i}", lambda led, c=f"mine-{i}": _visit(led, f"R{worker}", c)),
        ]
    return out


def _race(target: str, worker: int, barrier: Any, out: str) -> None:
    """Send every command at the same moment as the other workers; record each answer."""
    answers: list[list[Any]] = []
    with Ledger.open(target, rulebook="hunan-provincial-2023") as ledger:
        for kind, command_id, call in _commands(worker):
            barrier.wait(timeout=60)
            # A lost race against another command on the entity is retried, as a
            # client would; the command id keeps the retry from writing twice.
            for _ in range(20):
                try:
                    result = call(ledger)
                except ConcurrencyError:
                    continue
                except PayloadError as exc:
                    answers.append([kind, command_id, "PayloadError", exc.field, str(exc)])
                    break
                if hasattr(result, "last_hash"):
                    answers.append([kind, command_id, "ok", result.entity_id, result.last_hash])
                else:
                    answers.append([kind, command_id, "ok", result.entity_id, result.hash])
                break
            else:
                answers.append([kind, command_id, "ConcurrencyError", "", ""])
    Path(out).write_text(json.dumps(answers))


def _run_race(target: str, tmp_path: Path) -> None:
    with Ledger.open(target, rulebook="hunan-provincial-2023") as ledger:
        _stationed(ledger, "R")
        for worker in range(WORKERS):
            _stationed(ledger, f"R{worker}")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["inspection_flow", "sqlalchemy"])
    barrier = ctx.Barrier(WORKERS)
    outs = [tmp_path / f"answers-{n}.json" for n in range(WORKERS)]
    processes = [
        ctx.Process(target=_race, args=(target, n, barrier, str(outs[n]))) for n in range(WORKERS)
    ]
    run_all(processes)

    answers = [a for out in outs for a in json.loads(out.read_text())]
    assert len(answers) == WORKERS * COMMANDS * 5
    with SQLStore.open(target) as store:
        applied: Counter[str] = Counter()
        for entity_id in store.entity_ids():
            for event in store.events(entity_id):
                if event.command_id is not None:
                    applied[event.command_id] += 1
        # Exactly one result per command id, and no entity left by a losing creation.
        assert set(applied.values()) == {1}
        assert len(applied) == COMMANDS * 5
        complaints = store.find(kind="complaint")
        assert len(complaints) == COMMANDS * 3
        outcomes: Counter[tuple[str, str]] = Counter()
        for kind, command_id, outcome, entity_or_field, digest in answers:
            outcomes[kind, outcome] += 1
            events = store.command(command_id)
            assert events is not None, command_id
            if outcome == "ok":
                assert (entity_or_field, digest) == (events[0].entity_id, events[-1].hash)
            else:
                assert (outcome, entity_or_field) == ("PayloadError", "command_id"), digest
    # The same command sent by every worker gets every worker the stored result; a
    # command id sent by each to its own entity gets one of them through.
    assert outcomes == {
        ("generated", "ok"): WORKERS * COMMANDS,
        ("explicit", "ok"): WORKERS * COMMANDS,
        ("same-round", "ok"): WORKERS * COMMANDS,
        ("own-entity", "ok"): COMMANDS,
        ("own-entity", "PayloadError"): (WORKERS - 1) * COMMANDS,
        ("own-round", "ok"): COMMANDS,
        ("own-round", "PayloadError"): (WORKERS - 1) * COMMANDS,
    }


@pytest.mark.slow
def test_processes_sending_the_same_command_ids_at_once(target: str, tmp_path: Path) -> None:
    """Four processes sending the same command ids at once, creating and firing, on one
    entity and on their own: each gets the stored result or PayloadError, and each
    command id is applied exactly once."""
    _run_race(target, tmp_path)
