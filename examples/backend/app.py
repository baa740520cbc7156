"""A web service over an inspection ledger (台账), for a city's and its counties' offices.

Run it (from the repository's root, after ``pip install fastapi uvicorn``)::

    export INSPECTION_FLOW_DB=sqlite:///yiyang.db        # or postgresql+psycopg://…
    export INSPECTION_FLOW_TOKENS=examples/backend/tokens.example.json
    python -m examples.backend.seed                       # the Yiyang round, stationed in
    uvicorn --factory examples.backend.app:create_app

The caller is known by a bearer token only: the token maps to an :class:`Actor` (role,
area, unit) in the configuration the service is given, never to anything in the request
body, so a county's account cannot act or read as another county.  The library's errors
become HTTP statuses (see :data:`STATUS`); an ``Idempotency-Key`` header becomes the
command's ``command_id``, so a retried request is applied once.  docs/backend.md walks
through it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import attrs
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from inspection_flow import (
    Actor,
    Briefing,
    CalendarError,
    ChronologyError,
    ConcurrencyError,
    DeadlineView,
    EntityNotFoundError,
    Event,
    GuardError,
    InspectionFlowError,
    InvalidTransitionError,
    Ledger,
    PayloadError,
    PermissionDeniedError,
    RuleError,
    Snapshot,
    SQLStore,
    StoreError,
    WordingError,
    briefing_html,
    briefing_markdown,
)

# --- configuration ---------------------------------------------------------------------

#: The demonstration's tokens: the team, Yiyang's liaison group, 赫山区 and 资阳区.
EXAMPLE_TOKENS = Path(__file__).with_name("tokens.example.json")


@attrs.frozen
class Settings:
    """What the service is given: where the ledger is, and who the callers are.

    Attributes:
        database: a SQLite path or database URL (``INSPECTION_FLOW_DB``).
        tokens: each bearer token's actor (``INSPECTION_FLOW_TOKENS`` names a JSON file
            ``{"token": {"role": …, "area": …, "name": …}}``).
        rulebook: the ledger's default rulebook (``INSPECTION_FLOW_RULEBOOK``).
        retry_after: seconds a client is told to wait after losing a concurrent write.
    """

    database: str
    tokens: Mapping[str, Actor]
    rulebook: str = "hunan-provincial-2023"
    retry_after: int = 1

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment."""
        path = os.environ.get("INSPECTION_FLOW_TOKENS", "")
        return cls(
            database=os.environ.get("INSPECTION_FLOW_DB", "sqlite:///ledger.db"),
            tokens=load_tokens(Path(path)) if path else {},
            rulebook=os.environ.get("INSPECTION_FLOW_RULEBOOK", "hunan-provincial-2023"),
        )


def load_tokens(path: str | os.PathLike[str]) -> dict[str, Actor]:
    """Read a JSON file mapping each bearer token to the actor it stands for."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {token: Actor.from_dict(actor) for token, actor in raw.items()}


# --- one ledger per worker thread, on the application's engine --------------------------


class Ledgers:
    """The ledgers of one service: one per worker thread, all on one shared engine.

    A :class:`Ledger` keeps caches of its own and is not shared between threads; the
    engine and its connection pool are.  Opening a ledger on an engine uses it as it is
    and never disposes of it (docs/storage.md).
    """

    def __init__(self, engine: sa.Engine, rulebook: str) -> None:
        self.engine = engine
        self.rulebook = rulebook
        self._local = threading.local()
        self._opened: list[Ledger] = []
        self._lock = threading.Lock()
        # The first open creates the tables, before any request can race it.
        self.get()

    def get(self) -> Ledger:
        """Return this thread's ledger, opening it on first use."""
        ledger: Ledger | None = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = Ledger.open(self.engine, rulebook=self.rulebook)
            self._local.ledger = ledger
            with self._lock:
                self._opened.append(ledger)
        return ledger

    def close(self) -> None:
        """Close every ledger opened (the engine stays with its owner)."""
        with self._lock:
            for ledger in self._opened:
                ledger.close()
            self._opened.clear()


# --- request and response bodies -------------------------------------------------------


class ErrorOut(BaseModel):
    """A refused request: the error's class and a message a clerk can act on."""

    error: str = Field(examples=["InvalidTransitionError"])
    message: str
    allowed: list[str] | None = Field(
        default=None, description="the events allowed now, when a transition was refused"
    )


class ActorOut(BaseModel):
    """Who the caller is, as the service knows them from their token."""

    role: str
    area: str
    name: str


class ComplaintIn(BaseModel):
    """A complaint (信访件) received by the team: the case is created from it."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["phone", "letter", "mailbox", "email", "visit"] = Field(
        description="how it came in"
    )
    received_at: AwareDatetime = Field(
        description="when it came in; a call after the hotline closes belongs to the next day"
    )
    area: str = Field(min_length=1, max_length=64, description="GB/T 2260 code of the area")
    summary: str = Field(min_length=1, max_length=2000)
    category: str = Field(min_length=1, max_length=64, description="air, water, noise, …")
    categories: list[str] | None = Field(default=None, max_length=16)
    complaint_id: str | None = Field(default=None, min_length=1, max_length=128)


class FireIn(BaseModel):
    """A step on an entity's lifecycle, by the caller."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=64, examples=["start_investigation"])
    at: AwareDatetime = Field(description="when it happened")
    payload: dict[str, Any] = Field(default_factory=dict, description="the event's fields")
    late_entry_reason: str | None = Field(default=None, max_length=2000)


class HandOverIn(BaseModel):
    """A day's hand-over batch (交办), by the team."""

    model_config = ConfigDict(extra="forbid")

    day: dt.date = Field(description="the batch's day: it holds the previous day's intake")
    at: AwareDatetime = Field(description="when the batch was handed over")


class EntityOut(BaseModel):
    """An entity's current state."""

    entity_id: str
    kind: str
    state: str
    version: int
    area: str
    areas: list[str]
    round_id: str | None
    batch: int | None
    category: str | None
    next_due_at: dt.datetime | None
    data: dict[str, Any]


class EventOut(BaseModel):
    """An event the ledger recorded."""

    entity_id: str
    version: int
    name: str
    at: dt.datetime
    state_before: str
    state_after: str
    actor: ActorOut
    command_id: str | None
    hash: str


class HandedOverOut(BaseModel):
    """A batch handed over."""

    round_id: str
    number: int
    day: dt.date
    case_ids: list[str]


class ActionsOut(BaseModel):
    """What the caller may do on an entity now."""

    entity_id: str
    state: str
    events: list[str]


class DeadlineOut(BaseModel):
    """A deadline, with how it was reached."""

    name: str
    label: str
    status: str
    last_day: dt.date
    due_at: dt.datetime
    overdue: bool
    explanation: str


class BatchOut(BaseModel):
    """A hand-over batch (第N批)."""

    number: int
    day: dt.date
    cases: int


class AreaOut(BaseModel):
    """One area's row of the briefing (分区县情况)."""

    area: str
    name: str
    received: int
    handed_over: int
    closed: int
    interim_closed: int
    in_progress: int
    overdue: int


class OverdueItemOut(BaseModel):
    """An overdue item of the briefing."""

    entity_id: str
    kind: str
    area_name: str
    title: str
    deadline: str
    last_day: dt.date
    days_overdue: int
    escalation: str | None


class BriefingOut(BaseModel):
    """The figures of a numbered briefing (工作简报 第N期)."""

    title: str
    round_id: str
    number: int
    period: str
    first_day: dt.date
    last_day: dt.date
    received: int
    received_in_period: int
    handed_over: int
    closed: int
    interim_closed: int
    in_progress: int
    substantiated_rate: float | None
    batches: list[BatchOut]
    areas: list[AreaOut]
    overdue: list[OverdueItemOut]


# --- errors ----------------------------------------------------------------------------

#: The HTTP status of each refusal, the most precise class first.
STATUS: tuple[tuple[type[InspectionFlowError], int], ...] = (
    (PermissionDeniedError, 403),
    (EntityNotFoundError, 404),
    (ConcurrencyError, 409),
    (InvalidTransitionError, 409),
    (GuardError, 409),
    (ChronologyError, 409),
    (PayloadError, 422),
    (RuleError, 422),
    (CalendarError, 422),
    (WordingError, 422),
    (StoreError, 503),
)

_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or unknown bearer token"},
    403: {"model": ErrorOut, "description": "the caller's role or area does not allow it"},
    404: {"model": ErrorOut, "description": "no such entity"},
    422: {"model": ErrorOut, "description": "the request's data is malformed"},
    503: {"model": ErrorOut, "description": "the ledger's database is unavailable"},
}
_WRITE_REFUSED: dict[int | str, dict[str, Any]] = {
    **_REFUSED,
    409: {
        "model": ErrorOut,
        "description": "not possible in the entity's state, or another writer was first "
        "(then Retry-After says when to try again)",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}

# The text routes (Markdown, HTML) answer refusals in JSON all the same.
_TEXT_REFUSED: dict[int | str, dict[str, Any]] = {
    code: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for code, entry in _REFUSED.items()
}


class Refused(Exception):
    """A request the service itself refuses (no token)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InspectionFlowError)
    status = next((code for cls, code in STATUS if isinstance(exc, cls)), 500)
    body = ErrorOut(
        error=type(exc).__name__,
        message=str(exc),
        allowed=list(exc.allowed) if isinstance(exc, InvalidTransitionError) else None,
    )
    headers = {}
    # A lost race, or a database that is down: both are worth trying again shortly.
    if isinstance(exc, ConcurrencyError) or status == 503:
        headers["Retry-After"] = str(request.app.state.settings.retry_after)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _refused_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    body = ErrorOut(error=exc.error, message=exc.message)
    return JSONResponse(body.model_dump(), status_code=exc.status, headers=headers)


def _http_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = ErrorOut(error="HTTPException", message=str(exc.detail))
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


def _invalid_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    body = ErrorOut(error="RequestValidationError", message=problems)
    return JSONResponse(body.model_dump(), status_code=422)


# --- the caller ------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="a token from the service's configuration")


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor the bearer token stands for; nothing in the request can change it."""
    tokens: Mapping[str, Actor] = request.app.state.settings.tokens
    actor = tokens.get(credentials.credentials) if credentials is not None else None
    if actor is None:
        raise Refused(401, "Unauthenticated", "give a known bearer token (Authorization header)")
    return actor


def ledger_of(request: Request) -> Ledger:
    """This worker thread's ledger."""
    ledgers: Ledgers = request.app.state.ledgers
    return ledgers.get()


Caller = Annotated[Actor, Depends(caller)]
LedgerDep = Annotated[Ledger, Depends(ledger_of)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="repeat it to retry: the command is applied once",
    ),
]
# Case ids may hold a slash: ``HN-2023-YY/0626-001``, a round and its acceptance number.
EntityId = Annotated[str, PathParam(min_length=1, max_length=128)]


def readable(ledger: Ledger, actor: Actor, entity_id: str) -> Snapshot:
    """Return the entity if it lies within the actor's jurisdiction.

    Raises:
        EntityNotFoundError: no such entity.
        PermissionDeniedError: it lies outside the actor's area.
    """
    snap = ledger.get(entity_id)
    if not any(ledger.areas.covers(actor.area, area) for area in snap.areas):
        where = ", ".join(ledger.areas.name(a) for a in snap.areas)
        raise PermissionDeniedError(
            snap.entity_id,
            "read",
            actor.role,
            actor.area,
            f"{ledger.areas.name(actor.area)} has no jurisdiction over {where}",
        )
    return snap


def _entity(snap: Snapshot) -> EntityOut:
    return EntityOut(
        entity_id=snap.entity_id,
        kind=snap.kind,
        state=snap.state,
        version=snap.version,
        area=snap.area,
        areas=list(snap.areas),
        round_id=snap.round_id,
        batch=snap.batch,
        category=snap.category,
        next_due_at=snap.next_due_at,
        data=dict(snap.data),
    )


def _event(event: Event) -> EventOut:
    return EventOut(
        entity_id=event.entity_id,
        version=event.version,
        name=event.name,
        at=event.at,
        state_before=event.state_before,
        state_after=event.state_after,
        actor=ActorOut(**event.actor.to_dict()),
        command_id=event.command_id,
        hash=event.hash,
    )


def _deadline(view: DeadlineView, now: dt.datetime, lang: Literal["zh", "en"]) -> DeadlineOut:
    return DeadlineOut(
        name=view.name,
        label=view.label_zh if lang == "zh" else view.label_en,
        status=view.status,
        last_day=view.last_day,
        due_at=view.due_at,
        overdue=view.is_overdue(now),
        explanation=view.explain(lang),
    )


def _briefing(b: Briefing) -> BriefingOut:
    return BriefingOut(
        title=b.title,
        round_id=b.round_id,
        number=b.number,
        period=b.period,
        first_day=b.first_day,
        last_day=b.last_day,
        received=b.received,
        received_in_period=b.received_in_period,
        handed_over=b.handed_over,
        closed=b.closed,
        interim_closed=b.interim_closed,
        in_progress=b.in_progress,
        substantiated_rate=b.substantiated_rate,
        batches=[BatchOut(number=x.number, day=x.day, cases=x.cases) for x in b.batches],
        areas=[AreaOut(**attrs.asdict(a)) for a in b.areas],
        overdue=[
            OverdueItemOut(
                entity_id=i.entity_id,
                kind=i.kind,
                area_name=i.area_name,
                title=i.title,
                deadline=i.deadline,
                last_day=i.last_day,
                days_overdue=i.days_overdue,
                escalation=i.escalation,
            )
            for i in b.overdue
        ],
    )


# Fields of Ledger.fire itself, which an event's payload may not carry.
_RESERVED = frozenset({"entity_id", "event", "actor", "at", "command_id", "late_entry_reason"})


# --- the application -------------------------------------------------------------------


def create_app(settings: Settings | None = None, *, engine: sa.Engine | None = None) -> FastAPI:
    """Build the service.

    Args:
        settings: the database, tokens and rulebook; read from the environment if ``None``.
        engine: the application's own SQLAlchemy engine, to keep the ledger beside its
            other tables; the service then leaves disposing of it to the caller.  Without
            it the service builds one (``SQLStore.make_engine``) and disposes of it on
            shutdown.
    """
    settings = settings if settings is not None else Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        shared = SQLStore.make_engine(settings.database) if engine is None else engine
        app.state.ledgers = Ledgers(shared, settings.rulebook)
        try:
            yield
        finally:
            app.state.ledgers.close()
            if own:
                shared.dispose()

    app = FastAPI(
        title="inspection_flow ledger service",
        version="0.1.0",
        description="Complaint cases, deadlines and briefings of an inspection round, "
        "for the offices that keep its ledger (台账).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_exception_handler(InspectionFlowError, _error_response)
    app.add_exception_handler(Refused, _refused_response)
    app.add_exception_handler(RequestValidationError, _invalid_response)
    app.add_exception_handler(StarletteHTTPException, _http_response)

    @app.get("/me", responses=_REFUSED)
    def me(actor: Caller) -> ActorOut:
        """Who the service takes the caller for."""
        return ActorOut(**actor.to_dict())

    @app.post("/rounds/{round_id}/complaints", status_code=201, responses=_WRITE_REFUSED)
    def receive_complaint(
        round_id: EntityId,
        complaint: ComplaintIn,
        actor: Caller,
        ledger: LedgerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> EntityOut:
        """Receive a complaint (受理信访件): the team records it against the round."""
        snap = ledger.receive_complaint(
            round_id,
            channel=complaint.channel,
            received_at=complaint.received_at,
            area=complaint.area,
            summary=complaint.summary,
            category=complaint.category,
            categories=complaint.categories,
            complaint_id=complaint.complaint_id,
            actor=actor,
            command_id=idempotency_key,
        )
        return _entity(snap)

    @app.post("/rounds/{round_id}/batches", status_code=201, responses=_WRITE_REFUSED)
    def hand_over_batch(
        round_id: EntityId, batch: HandOverIn, actor: Caller, ledger: LedgerDep
    ) -> HandedOverOut | None:
        """Hand over the day's batch (交办第N批): the cases' result clocks start.

        Answers ``null`` when nothing was received for the day.  A second hand-over of a
        day with nothing new is refused (409), so a retry cannot make a second batch.
        """
        done = ledger.hand_over_batch(round_id, batch.day, actor=actor, at=batch.at)
        if done is None:
            return None
        return HandedOverOut(
            round_id=done.round_id, number=done.number, day=done.day, case_ids=list(done.case_ids)
        )

    @app.post("/entities/{entity_id:path}/events", status_code=201, responses=_WRITE_REFUSED)
    def fire(
        entity_id: EntityId,
        command: FireIn,
        actor: Caller,
        ledger: LedgerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> EventOut:
        """Fire an event on the entity, as the caller (e.g. ``start_investigation``)."""
        reserved = sorted(_RESERVED & command.payload.keys())
        if reserved:
            raise PayloadError(
                entity_id,
                command.event,
                reserved[0],
                "is a field of the command itself, not of the event's payload",
            )
        readable(ledger, actor, entity_id)
        event = ledger.fire(
            entity_id,
            command.event,
            actor=actor,
            at=command.at,
            command_id=idempotency_key,
            late_entry_reason=command.late_entry_reason,
            **command.payload,
        )
        return _event(event)

    @app.get("/entities/{entity_id:path}/actions", responses=_REFUSED)
    def actions(entity_id: EntityId, actor: Caller, ledger: LedgerDep) -> ActionsOut:
        """The events the caller may fire on the entity now."""
        snap = readable(ledger, actor, entity_id)
        return ActionsOut(
            entity_id=snap.entity_id, state=snap.state, events=ledger.available(entity_id, actor)
        )

    @app.get("/entities/{entity_id:path}/deadlines", responses=_REFUSED)
    def deadlines(
        entity_id: EntityId,
        actor: Caller,
        ledger: LedgerDep,
        at: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
        lang: Literal["zh", "en"] = "zh",
    ) -> list[DeadlineOut]:
        """The entity's deadlines, the earliest first, each with how it was reached."""
        readable(ledger, actor, entity_id)
        now = at if at is not None else ledger.clock.now()
        return [_deadline(v, now, lang) for v in ledger.deadlines(entity_id)]

    @app.get("/entities/{entity_id:path}", responses=_REFUSED)
    def get_entity(entity_id: EntityId, actor: Caller, ledger: LedgerDep) -> EntityOut:
        """An entity's current state."""
        return _entity(readable(ledger, actor, entity_id))

    @app.get("/overdue", responses=_REFUSED)
    def overdue(
        actor: Caller,
        ledger: LedgerDep,
        at: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
        kind: Literal["round", "complaint", "task", "document_request"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[EntityOut]:
        """Open entities past a deadline within the caller's area, most overdue first."""
        now = at if at is not None else ledger.clock.now()
        found = ledger.overdue(now, kind=kind, area=actor.area, limit=limit)
        return [_entity(s) for s in found]

    def briefing_of(
        ledger: Ledger,
        actor: Actor,
        round_id: str,
        as_of: dt.date,
        period: Literal["day", "week"],
    ) -> Briefing:
        rnd = readable(ledger, actor, round_id)
        if rnd.kind != "round":
            raise EntityNotFoundError(round_id, "round")
        return ledger.briefing(as_of, period=period, round_id=round_id)

    @app.get("/rounds/{round_id}/briefing", responses=_REFUSED)
    def briefing(
        round_id: EntityId,
        as_of: dt.date,
        actor: Caller,
        ledger: LedgerDep,
        period: Literal["day", "week"] = "day",
    ) -> BriefingOut:
        """The figures of the round's briefing (工作简报 第N期) for a day or a week."""
        return _briefing(briefing_of(ledger, actor, round_id, as_of, period))

    @app.get(
        "/rounds/{round_id}/briefing.md",
        response_class=PlainTextResponse,
        responses={
            **_TEXT_REFUSED,
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        },
    )
    def briefing_md(
        round_id: EntityId,
        as_of: dt.date,
        actor: Caller,
        ledger: LedgerDep,
        period: Literal["day", "week"] = "day",
    ) -> str:
        """The round's briefing as Markdown."""
        return briefing_markdown(briefing_of(ledger, actor, round_id, as_of, period))

    @app.get(
        "/rounds/{round_id}/briefing.html",
        response_class=HTMLResponse,
        responses={
            **_TEXT_REFUSED,
            200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        },
    )
    def briefing_page(
        round_id: EntityId,
        as_of: dt.date,
        actor: Caller,
        ledger: LedgerDep,
        period: Literal["day", "week"] = "day",
    ) -> str:
        """The round's briefing as a self-contained web page, charts included."""
        return briefing_html(briefing_of(ledger, actor, round_id, as_of, period))

    return app


if __name__ == "__main__":
    print(json.dumps(create_app(Settings("sqlite://", {})).openapi(), ensure_ascii=False))
