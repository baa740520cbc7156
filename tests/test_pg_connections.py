"""A ledger opened from a PostgreSQL URL between its commands: the connection its
commands run on holds nothing open on the server, survives the server ending it, and is
never shared with a forked child."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from inspection_flow import SHANGHAI, Actor, InvalidTransitionError, Ledger

pytestmark = pytest.mark.postgres

OFFICE = Actor("leading_office", "430000")
TEAM = Actor("inspection_team", "430000")


def at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def named(pg_schema_url: str) -> Iterator[tuple[str, str, sa.Engine]]:
    """A URL whose sessions carry an application name of their own, that name, and an
    engine of the test's own to watch them from."""
    name = f"if_conn_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(pg_schema_url).update_query_dict({"application_name": name})
    admin = sa.create_engine(pg_schema_url)
    try:
        yield url.render_as_string(hide_password=False), name, admin
    finally:
        admin.dispose()


def _activity(admin: sa.Engine, name: str, column: str) -> list[Any]:
    """A column of ``pg_stat_activity`` for each of the ledger's sessions on the server."""
    with admin.connect() as conn:
        return list(
            conn.exec_driver_sql(
                f"SELECT {column} FROM pg_stat_activity WHERE application_name = %(name)s",
                {"name": name},
            ).scalars()
        )


def _states(admin: sa.Engine, name: str) -> list[str]:
    """What each of the ledger's sessions on the server is doing."""
    return sorted(_activity(admin, name, "state"))


def _sessions(admin: sa.Engine, name: str) -> set[int]:
    """The server's process ids of the ledger's sessions."""
    return set(_activity(admin, name, "pid"))


def _stationed(ledger: Ledger) -> None:
    ledger.create_round("R", name="益阳", area="430900", actor=OFFICE, at=at(20))
    ledger.fire("R", "announce", actor=OFFICE, at=at(20, 10))
    ledger.fire("R", "station_in", actor=TEAM, at=at(26))


def _receive(ledger: Ledger, minute: int) -> str:
    return ledger.receive_complaint(
        "R",
        channel="phone",
        received_at=at(27, 10, minute),
        area="430903",
        summary="夜间施工噪声扰民",
        category="noise",
        actor=TEAM,
    ).entity_id


def test_between_commands_no_session_is_left_in_a_transaction(
    named: tuple[str, str, sa.Engine],
) -> None:
    """After each command, and after one the ledger refuses, every session of the ledger
    is idle (no lock, no snapshot held); closing the ledger ends them all."""
    url, name, admin = named
    ledger = Ledger.open(url)
    try:
        _stationed(ledger)
        for minute in range(3):
            _receive(ledger, minute)
            states = _states(admin, name)
            assert states
            assert set(states) == {"idle"}, states
        with pytest.raises(InvalidTransitionError):
            ledger.fire("R", "station_in", actor=TEAM, at=at(27, 12))
        assert set(_states(admin, name)) == {"idle"}
        # The refusal left nothing behind: the next command is written.
        case = _receive(ledger, 30)
        assert ledger.get(case).version == 1
        assert ledger.verify().ok
    finally:
        ledger.close()
    # A session ends on the server a moment after its client closes it.
    deadline = time.monotonic() + 10
    while _states(admin, name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _states(admin, name) == []


def test_a_command_after_the_server_ended_the_sessions_is_written(
    named: tuple[str, str, sa.Engine],
) -> None:
    """The server ends the ledger's sessions between two commands (a restart, an idle
    timeout): the next command reads and writes on a new session, at its first try."""
    url, name, admin = named
    ledger = Ledger.open(url)
    try:
        _stationed(ledger)
        _receive(ledger, 0)
        _end_sessions(admin, name)
        case = _receive(ledger, 1)
        assert ledger.get(case).version == 1
        assert len(ledger.find(kind="complaint")) == 2
        assert ledger.verify().ok
    finally:
        ledger.close()


def _end_sessions(admin: sa.Engine, name: str) -> None:
    """End every session of the ledger on the server, as a restart does."""
    with admin.connect() as conn:
        ended = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %(name)s",
            {"name": name},
        ).scalar_one()
    assert ended >= 1


def test_a_read_of_many_entities_after_the_server_ended_the_sessions_reads_them_all(
    named: tuple[str, str, sa.Engine],
) -> None:
    """A read of more entities than one query takes (500), the first query meeting the
    ended session: every later query runs on the new session too."""
    url, name, admin = named
    ledger = Ledger.open(url)
    try:
        _stationed(ledger)
        received = ledger.receive_complaints(
            "R",
            [
                {
                    "channel": "phone",
                    "received_at": at(27, 10),
                    "area": "430903",
                    "summary": "夜间施工噪声扰民",
                    "category": "noise",
                }
                for _ in range(1_200)
            ],
            actor=TEAM,
        )
        ids = [snapshot.entity_id for snapshot in received]
        assert ledger.store.get(ids[0]) is not None
        _end_sessions(admin, name)
        found = ledger.store.get_many(ids)
        assert sorted(found) == sorted(ids)
    finally:
        ledger.close()


def test_a_forked_child_commands_on_sessions_of_its_own(
    named: tuple[str, str, sa.Engine],
) -> None:
    """A process forked after the ledger's commands (a worker of a pre-forking server)
    writes on sessions of its own: the parent's session goes on serving the parent."""
    url, name, admin = named
    ledger = Ledger.open(url)
    try:
        _stationed(ledger)
        _receive(ledger, 0)
        before = _sessions(admin, name)
        done_r, done_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports by its exit status
            code = 1
            try:
                _receive(ledger, 1)
                os.write(done_w, b"x")
                os.read(go_r, 1)
                code = 0
            finally:
                os._exit(code)
        # The parent keeps only its ends: a child that dies early ends the read.
        os.close(done_w)
        os.close(go_r)
        try:
            assert os.read(done_r, 1) == b"x"
            # While the child lives, its session is one the parent never had.
            during = _sessions(admin, name)
        finally:
            os.write(go_w, b"x")
            _, status = os.waitpid(pid, 0)
            os.close(done_r)
            os.close(go_w)
        assert os.waitstatus_to_exitcode(status) == 0
        assert during - before, (before, during)
        # The parent's own session still answers, and sees the child's write.
        case = _receive(ledger, 2)
        assert ledger.get(case).version == 1
        assert len(ledger.find(kind="complaint")) == 3
        assert ledger.verify().ok
    finally:
        ledger.close()
