"""The endpoints of ``/api/v1``: people in (leads, interactions), leads and tasks out, responses and decisions.

Every POST honours an ``Idempotency-Key`` header for 24 hours (:mod:`cadence.services.idempotency`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.core.decisions import Outcome
from cadence.services import idempotency
from cadence.services.answers import configured_questions, known_answers
from cadence.services.api_keys import Scope
from cadence.services.enrollments import decide, get_lead, record_response
from cadence.services.intake import describe, interactions_of, record_interaction, upsert_lead
from cadence.services.lead_views import show_lead
from cadence.services.tasks import count_tasks, list_tasks
from cadence.services.workspace.decisions import DecisionForm, check_decision
from cadence.web.api.errors import ApiError, cadence_errors
from cadence.web.api.models import (
    BookingIn,
    DecisionIn,
    ErrorOut,
    InteractionIn,
    LeadIn,
    LeadOut,
    ResponseIn,
    ResponseType,
)
from cadence.web.api.security import Caller, needs
from cadence.web.deps import get_clock, get_context

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (401, "No API key, or an unknown or revoked one (`unauthorized`)."),
        (403, "The key's scope does not allow this (`forbidden_scope`)."),
        (413, "The body is over the limit (`body_too_large`)."),
        (422, "The body cannot be used; `code` says why."),
        (429, "Too many requests with this key; see `Retry-After` (`rate_limited`)."),
    )
}

router = APIRouter(prefix="/api/v1", responses=ERRORS)

IntakeKey = Annotated[Caller, Depends(needs(Scope.INTAKE))]
ReadKey = Annotated[Caller, Depends(needs(Scope.READ))]
WriteKey = Annotated[Caller, Depends(needs(Scope.WRITE))]
Email = Annotated[str, Path(max_length=320, description="The lead's email address.")]
FUTURE_SLACK = timedelta(minutes=5)
"""How far ahead of our clock an interaction's time may be (clocks differ); later is refused."""

Work = Callable[[Session, datetime], tuple[int, dict[str, Any]]]


def wake(request: Request, answer: dict[str, Any]) -> None:
    """After the commit: tell the runners that a lead was just enrolled, so its first step runs now (speed to lead)."""
    if answer.get("enrolled") and answer.get("email"):
        for waker in getattr(request.app.state, "intake_wakers", ()):
            waker(answer["email"], answer.get("first_step_at"))


def posted(request: Request, caller: Caller, body: BaseModel, work: Work) -> JSONResponse:
    """Run ``work`` in one transaction, honouring the request's ``Idempotency-Key``; wake the runners after."""
    ctx = get_context(request)
    now = get_clock(request)()
    given = request.headers.get("idempotency-key")
    with cadence_errors():
        key = idempotency.check_key(given) if given is not None else None
    hashed = idempotency.request_hash(request.method, request.url.path, body.model_dump_json())
    try:
        with ctx.sessions() as session, session.begin():
            if key is not None:
                try:
                    kept = idempotency.kept_answer(session, caller.key_id, key, hashed, now=now)
                except idempotency.KeyReused as exc:
                    raise ApiError(422, "idempotency_key_reused", str(exc)) from None
                if kept is not None:
                    return JSONResponse(kept.body, kept.status, headers={"Idempotent-Replayed": "true"})
            status, answer = work(session, now)
            if key is not None:
                idempotency.keep_answer(session, caller.key_id, key, hashed, status, answer, now=now)
    except IntegrityError:
        if key is not None:
            raise ApiError(
                409, "idempotency_in_progress", "a request with this Idempotency-Key is being handled: retry"
            ) from None
        raise ApiError(409, "conflict", "another request changed this person at the same moment: retry") from None
    wake(request, answer)
    return JSONResponse(answer, status)


@router.post(
    "/leads",
    response_model=LeadOut,
    status_code=201,
    summary="Create or update a person by email",
    description="The same fields and rules as the CSV import. The answer says whether the person is a name, a lead "
    "or unfit, with the reasons, and for a lead its class, owner, cadence and the first step's time. 201 when the "
    "person is new, 200 when updated. Scope: intake.",
    responses={200: {"model": LeadOut, "description": "The person existed and was updated."}},
)
def create_lead(request: Request, body: LeadIn, caller: IntakeKey) -> JSONResponse:
    """Create or update a person by email; say what became of them."""
    ctx = get_context(request)

    def work(session: Session, now: datetime) -> tuple[int, dict[str, Any]]:
        values, custom = body.values()
        values["email"] = body.email
        with cadence_errors(invalid="invalid_lead"):
            intake = upsert_lead(ctx, session, values, custom, now=now)
        return (201 if intake.created else 200), intake.as_dict()

    return posted(request, caller, body, work)


@router.post(
    "/interactions",
    status_code=201,
    summary="Record one interaction of a person",
    description="Kept as the person's history (what they interacted with says why to follow up) and counted: a "
    "name that reaches the threshold becomes a lead and is enrolled at once. A person not seen before is created "
    "(from `person`, if given). Scope: intake.",
)
def create_interaction(request: Request, body: InteractionIn, caller: IntakeKey) -> JSONResponse:
    """Record one interaction; the answer is the person as after it."""
    ctx = get_context(request)

    def work(session: Session, now: datetime) -> tuple[int, dict[str, Any]]:
        at = body.at or now
        if at.tzinfo is None:
            raise ApiError(422, "invalid_request", "at needs a time zone, e.g. 2026-12-07T15:00:00Z")
        if at > now + FUTURE_SLACK:
            raise ApiError(422, "invalid_request", "at is in the future")
        person = None
        if body.person is not None:
            values, custom = body.person.values()
            person = {**values, "custom": custom}
        with cadence_errors(invalid="invalid_lead"):
            intake = record_interaction(
                ctx,
                session,
                body.email,
                body.kind,
                topic=body.topic,
                at=at,
                now=now,
                recorded_by=f"API key {caller.name}",
                person=person,
            )
        return 201, intake.as_dict()

    return posted(request, caller, body, work)


@router.get(
    "/leads/{email}",
    summary="One lead, with its timeline",
    description="Fields, qualification, owner, enrollment, decision, the timeline of touches and responses, and "
    "the interactions. Scope: read.",
)
def get_lead_details(request: Request, email: Email, caller: ReadKey) -> dict[str, Any]:
    """Everything about one lead."""
    ctx = get_context(request)
    with cadence_errors(), ctx.sessions() as session:
        data = show_lead(session, email, settings=ctx.settings)
        lead = get_lead(session, email)
        data["qualification"] = {
            k: v for k, v in describe(ctx, session, lead).as_dict().items() if k in ("kind", "reasons")
        }
        data["interaction_history"] = interactions_of(session, email)
    return data


@router.get(
    "/tasks",
    summary="Tasks of the reps",
    description="Overdue first, then by due time. Scope: read.",
)
def get_tasks(
    request: Request,
    caller: ReadKey,
    owner: Annotated[str | None, Query(max_length=320, description="Only this rep's tasks (their email).")] = None,
    status: Annotated[Literal["open", "done", "cancelled"] | None, Query()] = None,
    due: Annotated[Literal["today", "overdue", "all"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Tasks, optionally of one owner and status."""
    ctx = get_context(request)
    now = get_clock(request)()
    with cadence_errors(), ctx.sessions() as session:
        tasks = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due=due, status=status, limit=limit)
        total = count_tasks(session, now=now, settings=ctx.settings, owner=owner, due=due, status=status)
    return {"tasks": tasks, "total": total}


@router.post(
    "/leads/{email}/responses",
    status_code=201,
    summary="Record a response seen outside cadence",
    description="A reply, another contact (a call back, a LinkedIn message) or a booking tool's notification: "
    "the automated steps stop at once and the owner gets a task to act on. Scope: write.",
)
def create_response(request: Request, email: Email, body: ResponseIn, caller: WriteKey) -> JSONResponse:
    """Record the lead's response."""
    if body.type is ResponseType.BOOKING and not body.booking:
        raise ApiError(422, "booking_missing", "a response of type booking needs the notification in `booking`")

    def work(session: Session, now: datetime) -> tuple[int, dict[str, Any]]:
        with cadence_errors():
            lead = get_lead(session, email)
            if body.type is ResponseType.BOOKING:
                booked = _booked(session, body.booking or {}, now, lead=lead.email)
                return 201, {"id": lead.id, "email": lead.email, "type": body.type.value, "booking": booked}
            kind = "reply" if body.type is ResponseType.REPLY else "manual"
            channel = "email" if body.type is ResponseType.REPLY and body.channel == "other" else body.channel
            response, enrollment = record_response(session, lead, now=now, kind=kind, channel=channel, note=body.note)
        return 201, {
            "id": lead.id,
            "email": lead.email,
            "type": body.type.value,
            "channel": response.channel,
            "received_at": response.received_at.isoformat(),
            "enrollment": enrollment.state if enrollment is not None else None,
        }

    return posted(request, caller, body, work)


def _booked(session: Session, payload: dict[str, Any], now: datetime, *, lead: str | None = None) -> dict[str, Any]:
    """Record the meeting a booking notification announces (:func:`cadence.services.meetings.record_booking`).

    With ``lead``, the notification must book that lead: a booking of another person is refused, not
    recorded against whoever it names.
    """
    from cadence.services.meetings import parse_booking, record_booking

    if lead is not None:
        _via, _start, attendees = parse_booking(payload)
        if lead not in {a.strip().lower() for a in attendees}:
            raise ApiError(422, "booking_of_another", f"the booking's attendees do not include {lead}")
    return record_booking(session, payload, now).as_dict()


@router.post(
    "/bookings",
    status_code=201,
    summary="Record a booking tool's notification",
    description="The JSON body a scheduling tool sends when a meeting is booked or moved (Cal.com: `triggerEvent` "
    "`BOOKING_CREATED` or `BOOKING_RESCHEDULED`, `payload.startTime`, `payload.attendees[].email`; Calendly: "
    "`event` `invitee.created`, `payload.email`, `payload.scheduled_event.start_time`). The first attendee who is a "
    "lead gets the decision `meeting_booked` with the meeting's start and the task to qualify before it; a "
    "cancellation books nothing. Scope: write.",
)
def create_booking(request: Request, body: BookingIn, caller: WriteKey) -> JSONResponse:
    """Record the meeting the notification announces."""

    def work(session: Session, now: datetime) -> tuple[int, dict[str, Any]]:
        with cadence_errors(invalid="invalid_booking"):
            return 201, _booked(session, body.model_dump(), now)

    return posted(request, caller, body, work)


@router.post(
    "/leads/{email}/decision",
    status_code=201,
    summary="Record the final decision on a lead",
    description="Its cadence stops and its open tasks are cancelled. A meeting or a qualified hand-off needs the "
    "seven qualifying answers, or `skip_qualification` (recorded). Scope: write.",
)
def create_decision(request: Request, email: Email, body: DecisionIn, caller: WriteKey) -> JSONResponse:
    """Record the decision, through the one rule every path applies."""

    def work(session: Session, now: datetime) -> tuple[int, dict[str, Any]]:
        with cadence_errors():
            lead = get_lead(session, email)
            # the answers the lead gave at earlier conversations count, as in the workspace and the CLI
            checked = check_decision(
                DecisionForm(body.outcome, body.reason, dict(body.answers or {}), body.skip_qualification),
                known_answers(session, lead.id),
                configured_questions(session),
                skip_hint='"skip_qualification": true',
            )
            assert checked is not None, "the outcome is required by the model"
            decision = decide(
                session,
                lead,
                Outcome(checked.outcome),
                now=now,
                reason=checked.reason,
                answers=checked.answers,
                qualification_skipped=checked.qualification_skipped,
                decided_by=f"API key {caller.name}",
            )
        return 201, {
            "id": lead.id,
            "email": lead.email,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "qualification_skipped": decision.qualification_skipped,
            "decided_at": decision.decided_at.isoformat(),
        }

    return posted(request, caller, body, work)
