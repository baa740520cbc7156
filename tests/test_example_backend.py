"""The FastAPI example (examples/backend) serves the ledger as docs/backend.md says: on SQLite
and PostgreSQL, with the caller known by token only, the library's refusals as HTTP statuses,
idempotency keys that hold across two workers, and responses that keep to its own schema."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from examples.backend.app import EXAMPLE_TOKENS, Settings, create_app, load_tokens
from examples.backend.seed import ROUND, seed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from inspection_flow import SHANGHAI, Actor, Commit, Ledger, SQLStore
from processes import run_all

TOKENS = load_tokens(EXAMPLE_TOKENS)
TEAM = {"Authorization": "Bearer team-demo-token"}
LIAISON = {"Authorization": "Bearer liaison-demo-token"}
HESHAN = {"Authorization": "Bearer heshan-demo-token"}
ZIYANG = {"Authorization": "Bearer ziyang-demo-token"}


def at(day: str, hour: int = 9, minute: int = 0) -> str:
    """An instant in Asia/Shanghai, as the JSON a client sends."""
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), SHANGHAI)
    return moment.isoformat()


def complaint(area: str = "430903", minute: int = 5, **extra: Any) -> dict[str, Any]:
    """A call on the first day of the station-in."""
    return {
        "channel": "phone",
        "received_at": at("2023-06-26", 10, minute),
        "area": area,
        "summary": "夜间施工噪声扰民",
        "category": "noise",
        **extra,
    }


def seeded(url: str) -> None:
    with Ledger.open(url, rulebook="hunan-provincial-2023") as ledger:
        seed(ledger)


@pytest.fixture
def client(ledger_url: str) -> Iterator[TestClient]:
    """The service on a ledger holding the Yiyang round, stationed in."""
    seeded(ledger_url)
    with TestClient(create_app(Settings(ledger_url, TOKENS))) as client:
        yield client


def handed_over_case(client: TestClient) -> str:
    """Receive a 赫山区 case, hand it over on 06-27 and assign it to 赫山区; return its id."""
    made = client.post(f"/rounds/{ROUND}/complaints", json=complaint(), headers=TEAM)
    assert made.status_code == 201, made.text
    case = made.json()["entity_id"]
    batch = client.post(
        f"/rounds/{ROUND}/batches",
        json={"day": "2023-06-27", "at": at("2023-06-27")},
        headers=TEAM,
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["case_ids"] == [case]
    assigned = client.post(
        f"/entities/{case}/events",
        json={"event": "assign", "at": at("2023-06-27", 11), "payload": {"owners": ["430903"]}},
        headers=LIAISON,
    )
    assert assigned.status_code == 201, assigned.text
    return case


def test_a_case_from_complaint_to_result(client: TestClient) -> None:
    """A complaint is received, handed over, assigned and investigated through the service;
    its deadlines, the actions open to the county and the briefing follow."""
    case = handed_over_case(client)
    assert client.get(f"/entities/{case}/actions", headers=HESHAN).json() == {
        "entity_id": case,
        "state": "assigned",
        "events": ["start_investigation"],
    }
    fired = client.post(
        f"/entities/{case}/events",
        json={"event": "start_investigation", "at": at("2023-06-28")},
        headers=HESHAN,
    )
    assert fired.status_code == 201, fired.text
    body = fired.json()
    assert (body["state_before"], body["state_after"]) == ("assigned", "investigating")
    assert body["actor"] == {"role": "owner_unit", "area": "430903", "name": "赫山区人民政府"}

    deadlines = client.get(
        f"/entities/{case}/deadlines", params={"at": at("2023-07-20"), "lang": "en"}, headers=HESHAN
    ).json()
    result_due = next(d for d in deadlines if d["name"] == "result_due")
    assert result_due["last_day"] == "2023-07-07"
    assert result_due["overdue"] is True
    assert "working days" in result_due["explanation"] or "days" in result_due["explanation"]

    overdue = client.get("/overdue", params={"at": at("2023-07-20")}, headers=HESHAN).json()
    assert [e["entity_id"] for e in overdue] == [case]
    assert client.get("/overdue", params={"at": at("2023-07-20")}, headers=ZIYANG).json() == []

    briefing = client.get(
        f"/rounds/{ROUND}/briefing", params={"as_of": "2023-06-27"}, headers=LIAISON
    )
    assert briefing.status_code == 200, briefing.text
    figures = briefing.json()
    assert (figures["title"], figures["received"], figures["handed_over"]) == (
        "工作简报 第1期",
        1,
        1,
    )
    assert figures["batches"] == [{"number": 1, "day": "2023-06-27", "cases": 1}]
    markdown = client.get(
        f"/rounds/{ROUND}/briefing.md", params={"as_of": "2023-06-27"}, headers=LIAISON
    )
    assert markdown.text.startswith("# 工作简报 第1期")
    page = client.get(
        f"/rounds/{ROUND}/briefing.html", params={"as_of": "2023-06-27"}, headers=LIAISON
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text


def test_the_caller_is_the_token_not_the_body(client: TestClient) -> None:
    """A county's account is refused another county's case, reading or acting (403); an
    actor in the body is refused as a payload field, and without a token nothing is done."""
    case = handed_over_case(client)
    before = client.get(f"/entities/{case}", headers=HESHAN)
    assert before.status_code == 200
    for path in (f"/entities/{case}", f"/entities/{case}/deadlines", f"/entities/{case}/actions"):
        refused = client.get(path, headers=ZIYANG)
        assert refused.status_code == 403, path
        assert refused.json()["error"] == "PermissionDeniedError"
        assert "赫山区" in refused.json()["message"]
    acting = client.post(
        f"/entities/{case}/events",
        json={"event": "start_investigation", "at": at("2023-06-28")},
        headers=ZIYANG,
    )
    assert acting.status_code == 403
    posing = client.post(
        f"/entities/{case}/events",
        json={
            "event": "start_investigation",
            "at": at("2023-06-28"),
            "payload": {"actor": {"role": "owner_unit", "area": "430903"}},
        },
        headers=ZIYANG,
    )
    assert posing.status_code == 422
    assert client.get(f"/rounds/{ROUND}/briefing?as_of=2023-06-27", headers=ZIYANG).status_code == (
        403
    )
    anonymous = client.get(f"/entities/{case}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = client.get(f"/entities/{case}", headers={"Authorization": "Bearer guessed"})
    assert wrong.status_code == 401
    assert client.get(f"/entities/{case}", headers=HESHAN).json() == before.json()


def test_refusals_become_http_statuses(client: TestClient) -> None:
    """Refused transition 409 with the events allowed, bad payload and naive instants 422,
    unknown entity 404; none of them changes the case."""
    case = handed_over_case(client)
    refused = client.post(
        f"/entities/{case}/events",
        json={"event": "close", "at": at("2023-06-28")},
        headers=HESHAN,
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "InvalidTransitionError"
    assert "start_investigation" in refused.json()["allowed"]
    assert "close" not in refused.json()["allowed"]
    bad = client.post(
        f"/entities/{case}/events",
        json={"event": "start_investigation", "at": at("2023-06-28"), "payload": {"no": 1}},
        headers=HESHAN,
    )
    assert (bad.status_code, bad.json()["error"]) == (422, "PayloadError")
    naive = client.post(
        f"/entities/{case}/events",
        json={"event": "start_investigation", "at": "2023-06-28T09:00:00"},
        headers=HESHAN,
    )
    assert (naive.status_code, naive.json()["error"]) == (422, "RequestValidationError")
    missing = client.get("/entities/YY-9999", headers=HESHAN)
    assert (missing.status_code, missing.json()["error"]) == (404, "EntityNotFoundError")
    assert client.get(f"/entities/{case}", headers=HESHAN).json()["state"] == "assigned"


def test_a_lost_race_is_409_with_retry_after(ledger_url: str) -> None:
    """A writer that lost an optimistic race gets 409 and Retry-After, and nothing is written."""
    seeded(ledger_url)
    app = create_app(Settings(ledger_url, TOKENS, retry_after=2))

    @app.post("/stale-write")
    def stale_write() -> None:
        # A real stale write on the store, as docs/storage.md shows it.
        ledger: Ledger = app.state.ledgers.get()
        current = ledger.get(ROUND)
        latest = ledger.history(ROUND)[-1]
        ledger.store.append(Commit(current, (latest,), expected_version=current.version - 1))

    with TestClient(app) as client:
        lost = client.post("/stale-write")
        assert lost.status_code == 409
        assert lost.headers["retry-after"] == "2"
        assert lost.json()["error"] == "ConcurrencyError"
        assert client.get(f"/entities/{ROUND}", headers=LIAISON).json()["version"] == 3


def test_an_idempotency_key_applies_a_command_once(client: TestClient) -> None:
    """The same Idempotency-Key twice gives the first answer and records one case or event."""
    key = {"Idempotency-Key": "call-2023-06-26-0001"}
    first = client.post(f"/rounds/{ROUND}/complaints", json=complaint(), headers={**TEAM, **key})
    again = client.post(f"/rounds/{ROUND}/complaints", json=complaint(), headers={**TEAM, **key})
    assert first.status_code == again.status_code == 201
    assert first.json()["entity_id"] == again.json()["entity_id"]
    assert len(client.get("/overdue", params={"at": at("2023-07-20")}, headers=TEAM).json()) == 0
    # The key names the command: sent again with another body, the first answer stands.
    reused = client.post(
        f"/rounds/{ROUND}/complaints", json=complaint(minute=30), headers={**TEAM, **key}
    )
    assert reused.json() == first.json()
    other = client.post(
        f"/entities/{ROUND}/events",
        json={"event": "end_station_in", "at": at("2023-07-16", 20)},
        headers={**TEAM, **key},
    )
    assert (other.status_code, other.json()["error"]) == (422, "PayloadError")
    assert "already used" in other.json()["message"]
    figures = client.get(
        f"/rounds/{ROUND}/briefing", params={"as_of": "2023-06-26"}, headers=LIAISON
    ).json()
    assert figures["received"] == 1


def test_the_service_shares_the_applications_engine(tmp_path: Path) -> None:
    """Given the application's engine, the service keeps the ledger beside the
    application's own tables and leaves the engine open on shutdown."""
    engine = SQLStore.make_engine(tmp_path / "app.db")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE attachments (id INTEGER PRIMARY KEY, name TEXT)"))
    with Ledger.open(engine, rulebook="hunan-provincial-2023") as ledger:
        seed(ledger)
    with TestClient(create_app(Settings("unused", TOKENS), engine=engine)) as client:
        assert client.get(f"/entities/{ROUND}", headers=LIAISON).json()["state"] == "stationed"
    with engine.connect() as conn:  # still usable: the service did not dispose of it
        tables = set(sa.inspect(conn).get_table_names())
    assert {"attachments", "if_entities", "if_events"} <= tables
    engine.dispose()


# --- two workers on PostgreSQL -----------------------------------------------------------


def _worker(url: str, barrier: Barrier, case: str, out: str) -> None:
    """One instance of the service, sending the same keyed command as the other."""
    with TestClient(create_app(Settings(url, TOKENS))) as client:
        barrier.wait(timeout=60)
        made = client.post(
            f"/rounds/{ROUND}/complaints",
            json=complaint(area="430902", minute=40),
            headers={**TEAM, "Idempotency-Key": "both-workers-call"},
        )
        fired = client.post(
            f"/entities/{case}/events",
            json={"event": "start_investigation", "at": at("2023-06-28")},
            headers={**HESHAN, "Idempotency-Key": "both-workers-start"},
        )
    Path(out).write_text(
        f"{made.status_code} {made.json().get('entity_id')}\n"
        f"{fired.status_code} {fired.json().get('hash')}\n",
        encoding="utf-8",
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_one_key_one_event(pg_schema_url: str, tmp_path: Path) -> None:
    """Two instances of the service on one PostgreSQL ledger, sent the same Idempotency-Key
    at the same moment, both answer with the same case and event, recorded once."""
    seeded(pg_schema_url)
    with TestClient(create_app(Settings(pg_schema_url, TOKENS))) as client:
        case = handed_over_case(client)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"worker{n}.txt" for n in range(2)]
    run_all(
        [ctx.Process(target=_worker, args=(pg_schema_url, barrier, case, str(out))) for out in outs]
    )
    answers = [out.read_text(encoding="utf-8").splitlines() for out in outs]
    assert answers[0] == answers[1]
    (made_status, _), (fired_status, _) = (line.split() for line in answers[0])
    assert (made_status, fired_status) == ("201", "201")
    with Ledger.open(pg_schema_url, rulebook="hunan-provincial-2023") as ledger:
        starts = [e for e in ledger.history(case) if e.name == "start_investigation"]
        assert len(starts) == 1
        assert ledger.counts("area", kind="complaint") == {"430903": 1, "430902": 1}


# --- against its own schema ----------------------------------------------------------------


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[FastAPI]:
    """The service on SQLite with one case handed over and assigned, lifespan running."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    seeded(url)
    app = create_app(Settings(url, TOKENS))
    with TestClient(app) as client:
        handed_over_case(client)
        yield app


def test_responses_keep_to_the_openapi_schema(sqlite_app: FastAPI) -> None:
    """Generated requests to every operation never get a server error, and each answer's
    status, content type, headers and body are those the schema declares."""
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_asgi("/openapi.json", sqlite_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:

        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def conforms(case: Any) -> None:
            for token in (TEAM, HESHAN):
                response = case.call(headers=token)
                case.validate_response(response, checks=checks)

        conforms()


def test_the_schema_names_every_refusal() -> None:
    """The OpenAPI schema declares the bearer scheme, the Idempotency-Key header and the
    statuses of refusals, with Retry-After on 409."""
    schema = create_app(Settings("sqlite://", {})).openapi()
    fire = schema["paths"]["/entities/{entity_id}/events"]["post"]
    assert set(fire["responses"]) == {"201", "401", "403", "404", "409", "422", "503"}
    assert "Retry-After" in fire["responses"]["409"]["headers"]
    assert any(p["name"] == "Idempotency-Key" for p in fire["parameters"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert Actor.__name__ not in str(fire["requestBody"])
