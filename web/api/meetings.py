"""Deliberation sessions (议事会) as JSON: upcoming sessions of an area, one session with its agenda
(and its minutes once published), and signing up or cancelling (seats, then the waitlist in order).

Sessions are public. Who signed up or attended is never published: only the seat counts and the
caller's own place.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.areas.models import Area
from consultation.errors import ValidationFailed, msg
from consultation.meetings import policy
from consultation.meetings import queries as meetings
from consultation.meetings import services as scheduling
from consultation.meetings.models import Meeting, MeetingState, Outcome, SignupStatus
from consultation.meetings.queries import Place, Seats
from consultation.validation import parse_id
from web.api.core import (
    PAGE_PARAMS,
    ApiTable,
    Param,
    Schema,
    array,
    boolean,
    enum,
    integer,
    iso,
    nullable,
    ok,
    page_body,
    page_of,
    page_request,
    string,
    timestamp,
)
from web.api.serializers import AreaRef, TopicRef, area_ref
from web.auth import require_user
from web.context import Ctx
from web.i18n import gettext, translate
from web.routes.meetings import limit_signup_changes

routes = ApiTable()
TAG = "Sessions"
MEETING = "/api/v1/meetings/{meeting_id:int}"

SeatCounts = Schema("SeatCounts", {"capacity": integer(minimum=1), "confirmed": integer(minimum=0),
                                   "waitlisted": integer(minimum=0), "left": integer(minimum=0)},
                    required=("capacity", "confirmed", "waitlisted", "left"))

MeetingSummary = Schema("MeetingSummary", {
    "id": integer(), "url": string("The session's page."), "title": string(),
    "state": enum([s.value for s in MeetingState]), "state_label": string(),
    "community": AreaRef.ref, "starts_at": timestamp(), "ends_at": timestamp(),
    "place": nullable(string()), "online_url": nullable(string()),
    "calendar_url": string("An iCalendar (.ics) file of the session."),
}, required=("id", "url", "title", "state", "state_label", "community", "starts_at", "ends_at", "place",
             "online_url", "calendar_url"))

AgendaItem = Schema("AgendaItem", {
    "id": integer(), "position": integer(minimum=1), "title": string(), "topic": nullable(TopicRef),
    "outcome": nullable(enum([o.value for o in Outcome], "Once the minutes are published.")),
    "outcome_label": nullable(string()),
    "minutes": nullable(string("The minutes of this item, once published.")),
}, required=("id", "position", "title", "topic", "outcome", "outcome_label", "minutes"))

MySignup = Schema("MySignup", {
    "meeting_id": integer(),
    "status": nullable(enum([s.value for s in SignupStatus if s is not SignupStatus.cancelled],
                            "The caller's place; null when they have none.")),
    "status_label": nullable(string()),
    "waitlist_rank": nullable(integer("1 = next to get a seat.", minimum=1)),
    "seats": SeatCounts.ref,
}, required=("meeting_id", "status", "status_label", "waitlist_rank", "seats"))

MeetingDetail = Schema("MeetingDetail", {
    **MeetingSummary.properties,
    "description": nullable(string()),
    "cancel_reason": nullable(string()),
    "minutes_published_at": nullable(timestamp()),
    "agenda": array(AgendaItem),
    "seats": SeatCounts.ref,
    "viewer": {"type": "object", "properties": {
        "signed_in": boolean(), "signup": nullable(MySignup), "can_sign_up": boolean(),
        "signup_problem": nullable(string("Why the caller cannot sign up (when signed in without a place)."))},
        "required": ["signed_in", "signup", "can_sign_up", "signup_problem"]},
}, required=(*MeetingSummary.required, "description", "cancel_reason", "minutes_published_at", "agenda", "seats",
             "viewer"))



def seat_counts(seats: Seats) -> dict[str, int]:
    return {"capacity": seats.capacity, "confirmed": seats.confirmed, "waitlisted": seats.waitlisted,
            "left": seats.left}


def meeting_summary(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id, "url": f"/meetings/{meeting.id}", "title": meeting.title, "state": meeting.state.value,
        "state_label": gettext(meeting.state.label), "community": area_ref(meeting.community),
        "starts_at": iso(meeting.starts_at), "ends_at": iso(meeting.ends_at), "place": meeting.place,
        "online_url": meeting.online_url, "calendar_url": f"/meetings/{meeting.id}/calendar.ics",
    }


def my_signup(meeting: Meeting, place: Place | None, seats: Seats) -> dict[str, Any]:
    return {
        "meeting_id": meeting.id,
        "status": place.signup.status.value if place else None,
        "status_label": gettext(place.signup.status.label) if place else None,
        "waitlist_rank": place.waitlist_rank if place else None,
        "seats": seat_counts(seats),
    }


async def _meeting(request: Request, ctx: Ctx) -> Meeting:
    return await meetings.get_meeting(ctx.db, request.path_params["meeting_id"])


@routes.endpoint("/api/v1/meetings", summary="Upcoming sessions of an area", tag=TAG, query=(
    Param("area", integer(minimum=1), "An area id: sessions of its community (a compound: its community's), "
                                      "or of every community inside it.", required=True),
    *PAGE_PARAMS,
), responses={200: ("Scheduled sessions that have not ended, soonest first", page_of(MeetingSummary))})
async def api_meetings(request: Request, ctx: Ctx) -> Response:
    page = page_request(request)
    area_id = parse_id(request.query_params.get("area"))
    area = await ctx.db.get(Area, area_id) if area_id else None
    if area is None:
        raise ValidationFailed({"area": msg("There is no such area.")})
    found, total = await meetings.upcoming_page_for_area(ctx.db, area, offset=page.offset, limit=page.per_page)
    return ok(page_body([meeting_summary(m) for m in found], page, total))


@routes.endpoint(MEETING, summary="A session with its agenda (and minutes once published)", tag=TAG,
                 responses={200: ("The session", MeetingDetail)})
async def api_meeting(request: Request, ctx: Ctx) -> Response:
    meeting = await _meeting(request, ctx)
    seats = await meetings.seats(ctx.db, meeting)
    place = await meetings.place_of(ctx.db, meeting, ctx.actor.user_id)
    published = meeting.state is MeetingState.minutes_published
    problem = policy.signup_problem(ctx.actor, meeting) if ctx.user is not None and place is None else None
    return ok({
        **meeting_summary(meeting),
        "description": meeting.description,
        "cancel_reason": meeting.cancel_reason,
        "minutes_published_at": iso(meeting.minutes_published_at) if published else None,
        "agenda": [{
            "id": item.id, "position": item.position, "title": item.title,
            "topic": {"id": item.topic.id, "title": item.topic.title, "url": f"/topics/{item.topic.id}"}
            if item.topic else None,
            "outcome": item.outcome.value if published and item.outcome else None,
            "outcome_label": gettext(item.outcome.label) if published and item.outcome else None,
            "minutes": item.minutes_text if published else None,
        } for item in meeting.agenda],
        "seats": seat_counts(seats),
        "viewer": {
            "signed_in": ctx.user is not None,
            "signup": my_signup(meeting, place, seats) if place else None,
            "can_sign_up": ctx.user is not None and place is None and problem is None,
            "signup_problem": translate(problem) if problem is not None else None,
        },
    })


@routes.endpoint(f"{MEETING}/signup", "POST", summary="Sign up for a session", name="api_meeting_signup", tag=TAG,
                 signed_in=True, responses={201: ("Signed up: a seat, or a place on the waitlist", MySignup),
                                            200: ("Already signed up: nothing changed", MySignup)})
async def api_meeting_signup(request: Request, ctx: Ctx) -> Response:
    """Residents of the session's community, until it starts. When the seats are gone the caller joins
    the waitlist and gets a seat automatically, in order, when one is freed."""
    require_user(ctx)
    meeting = await _meeting(request, ctx)
    await limit_signup_changes(ctx)  # one budget with the pages
    _, made = await scheduling.sign_up(ctx.db, ctx.actor, meeting)
    place = await meetings.place_of(ctx.db, meeting, ctx.actor.user_id)
    return ok(my_signup(meeting, place, await meetings.seats(ctx.db, meeting)), 201 if made else 200)


@routes.endpoint(f"{MEETING}/signup", "DELETE", summary="Cancel one's sign-up", name="api_meeting_cancel_signup",
                 tag=TAG, signed_in=True,
                 responses={200: ("Cancelled (also when there was nothing to cancel); a freed seat went to the "
                                  "first person on the waitlist", MySignup)})
async def api_meeting_cancel_signup(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    meeting = await _meeting(request, ctx)
    await limit_signup_changes(ctx)
    await scheduling.cancel_signup(ctx.db, ctx.actor, meeting)
    return ok(my_signup(meeting, None, await meetings.seats(ctx.db, meeting)))
