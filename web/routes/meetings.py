"""Deliberation session (议事会) pages: the public session page with sign-up, the calendar file,
"my sessions", and the workers' pages (their sessions, schedule and edit, attendance, minutes).
Also the sessions section of the topic page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.areas import queries as area_queries
from consultation.areas.models import Area
from consultation.deliberation.models import Topic
from consultation.errors import ValidationFailed, msg
from consultation.meetings import ics, policy, record
from consultation.meetings import queries as meetings
from consultation.meetings import services as scheduling
from consultation.meetings.models import (
    DESCRIPTION_MAX,
    ITEM_TITLE_MAX,
    MAX_CAPACITY,
    MINUTES_MAX,
    OUTCOME_LABELS,
    PLACE_MAX,
    TITLE_MAX,
    URL_MAX,
    WALK_IN_NAME_MAX,
    Meeting,
    MeetingState,
    SignupStatus,
)
from consultation.validation import parse_id
from web.auth import require_user
from web.context import Ctx
from web.forms import form_fields, invalid_form, redirect
from web.i18n import TIMEZONE
from web.i18n import gettext as _
from web.ratelimit import limit
from web.routes.worker import require_console
from web.routing import RouteTable
from web.templating import render
from web.topic_sections import topic_section

routes = RouteTable()
LIMITS = {"title_max": TITLE_MAX, "description_max": DESCRIPTION_MAX, "place_max": PLACE_MAX, "url_max": URL_MAX,
          "capacity_max": MAX_CAPACITY, "item_title_max": ITEM_TITLE_MAX, "minutes_max": MINUTES_MAX,
          "walk_in_name_max": WALK_IN_NAME_MAX, "reason_max": scheduling.REASON_MAX}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
# Signing up and cancelling, counted together per person (the JSON API shares the same budget): each
# writes audit rows and notifications, and a cancel may e-mail the first person waiting.
SIGNUP_CHANGE_LIMIT = 20
SIGNUP_CHANGE_WINDOW_SECONDS = 3600


async def limit_signup_changes(ctx: Ctx) -> None:
    """Count one sign-up or cancel by the signed-in person; HTTP 429 past ``SIGNUP_CHANGE_LIMIT``
    in ``SIGNUP_CHANGE_WINDOW_SECONDS`` (web pages and the API together)."""
    await limit(ctx, f"meeting-signup:user:{ctx.actor.user_id}", max_hits=SIGNUP_CHANGE_LIMIT,
                per_seconds=SIGNUP_CHANGE_WINDOW_SECONDS)


def parse_local(raw: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-05-01T19:30``) read as China time; ``None`` if unreadable."""
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "T"))
    except ValueError:
        return None
    return value.replace(tzinfo=TIMEZONE) if value.tzinfo is None else None


def local_input(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime(LOCAL_FORMAT)


async def _list_field(request: Request, name: str) -> list[str]:
    return [value for value in (await request.form()).getlist(name) if isinstance(value, str)]


# --- the public session page ---------------------------------------------------------------------

async def _page_context(ctx: Ctx, meeting: Meeting) -> dict[str, Any]:
    place = await meetings.place_of(ctx.db, meeting, ctx.actor.user_id)
    return {
        "meeting": meeting,
        "seats": await meetings.seats(ctx.db, meeting),
        "place": place,
        "signup_problem": policy.signup_problem(ctx.actor, meeting) if ctx.user and place is None else None,
        "can_manage": policy.can_manage(ctx.actor, meeting.community),
        "outcome_labels": OUTCOME_LABELS,
        "open_for_signup": meeting.state is MeetingState.scheduled,
        "attended": None if meeting.state in (MeetingState.scheduled, MeetingState.cancelled)
        else await meetings.attendance_count(ctx.db, meeting.id),
    }


@routes.get("/meetings/{meeting_id:int}", name="meeting_page")
async def meeting_page(request: Request, ctx: Ctx) -> Response:
    meeting = await meetings.get_meeting(ctx.db, request.path_params["meeting_id"])
    return render(request, "meetings/meeting.html", await _page_context(ctx, meeting))


@routes.get("/meetings/{meeting_id:int}/calendar.ics", name="meeting_calendar")
async def meeting_calendar(request: Request, ctx: Ctx) -> Response:
    meeting = await meetings.get_meeting(ctx.db, request.path_params["meeting_id"])
    base = request.app.state.settings.base_url.rstrip("/")
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "yishiting"
    body = ics.meeting_calendar(meeting, page_url=f"{base}/meetings/{meeting.id}", uid_domain=host,
                                reminder=scheduling.REMINDER_LEAD, agenda_heading=_("Agenda"))
    return Response(body.encode("utf-8"), media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="meeting-{meeting.id}.ics"'})


@routes.post("/meetings/{meeting_id:int}/signup", name="meeting_signup")
async def sign_up(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    meeting = await meetings.get_meeting(ctx.db, request.path_params["meeting_id"])
    await limit_signup_changes(ctx)
    signup, made = await scheduling.sign_up(ctx.db, ctx.actor, meeting)
    if not made:
        ctx.flash(_("You have already signed up for this session."), "info")
    elif signup.status is SignupStatus.confirmed:
        ctx.flash(_("You have a seat. We will remind you the day before."))
    else:
        ctx.flash(_("All seats are taken: you are on the waitlist and will get a seat automatically if one "
                    "becomes free."), "info")
    return redirect(f"/meetings/{meeting.id}")


@routes.post("/meetings/{meeting_id:int}/cancel-signup", name="meeting_cancel_signup")
async def cancel_signup(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    meeting = await meetings.get_meeting(ctx.db, request.path_params["meeting_id"])
    await limit_signup_changes(ctx)
    if await scheduling.cancel_signup(ctx.db, ctx.actor, meeting) is None:
        ctx.flash(_("You were not signed up for this session."), "info")
    else:
        ctx.flash(_("Your sign-up is cancelled."), "info")
    return redirect(f"/meetings/{meeting.id}")


@routes.get("/my/meetings", name="my_meetings")
async def my_meetings(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    return render(request, "meetings/my_meetings.html", {"mine": await meetings.my_meetings(ctx.db, user.id)})


@topic_section("deliberation/_topic_meetings.html", order=30, slot="end")
async def topic_meetings(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    return {"topic_meetings": await meetings.meetings_for_topic(ctx.db, topic.id)}


# --- the workers' pages --------------------------------------------------------------------------

async def _staff_meeting(request: Request, ctx: Ctx) -> Meeting:
    require_console(ctx)
    return await meetings.meeting_for_staff(ctx.db, ctx.actor, request.path_params["meeting_id"])


@routes.get("/worker/meetings", name="worker_meetings")
async def worker_meetings(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    scopes = await area_queries.worker_communities(ctx.db, ctx.actor)
    return render(request, "meetings/worker_list.html", {
        "lists": await meetings.staff_meetings(ctx.db, ctx.actor), "scopes": scopes})


async def _form_context(ctx: Ctx, community: Area, meeting: Meeting | None, chosen: list[int]) -> dict[str, Any]:
    return {"community": community, "meeting": meeting, "topics": await meetings.eligible_topics(ctx.db, community),
            "chosen_topics": set(chosen), **LIMITS}


async def _draft(request: Request, form: dict[str, str]) -> tuple[scheduling.MeetingDraft, list[int]]:
    topic_ids = [i for i in (parse_id(v) for v in await _list_field(request, "topic_ids")) if i is not None]
    draft = scheduling.MeetingDraft(
        title=form.get("title", ""), starts_at=parse_local(form.get("starts_at", "")),
        ends_at=parse_local(form.get("ends_at", "")), capacity=form.get("capacity", ""),
        place=form.get("place", ""), online_url=form.get("online_url", ""),
        description=form.get("description", ""), topic_ids=topic_ids,
        other_items=form.get("other_items", "").splitlines())
    return draft, topic_ids


@routes.get("/worker/communities/{community_id:int}/meetings/new", name="meeting_new")
async def schedule_form(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    community = await meetings.community_for_staff(ctx.db, ctx.actor, request.path_params["community_id"])
    chosen = [i for i in [parse_id(request.query_params.get("topic"))] if i is not None]
    return render(request, "meetings/form.html", await _form_context(ctx, community, None, chosen)
                  | {"form": {"capacity": "30"}})


@routes.post("/worker/communities/{community_id:int}/meetings/new", name="meeting_new_submit")
async def schedule_submit(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    community = await meetings.community_for_staff(ctx.db, ctx.actor, request.path_params["community_id"])
    form = await form_fields(request)
    draft, chosen = await _draft(request, form)
    try:
        meeting = await scheduling.schedule(ctx.db, ctx.actor, community, draft)
    except ValidationFailed as exc:
        return invalid_form(request, "meetings/form.html", form, exc,
                            await _form_context(ctx, community, None, chosen))
    ctx.flash(_("The session is scheduled. Residents of {community} can now sign up.", community=community.name))
    return redirect(f"/meetings/{meeting.id}")


def _meeting_form(meeting: Meeting) -> dict[str, str]:
    return {"title": meeting.title, "starts_at": local_input(meeting.starts_at),
            "ends_at": local_input(meeting.ends_at), "capacity": str(meeting.capacity),
            "place": meeting.place or "", "online_url": meeting.online_url or "",
            "description": meeting.description or "",
            "other_items": "\n".join(item.title for item in meeting.agenda if item.topic_id is None)}


@routes.get("/worker/meetings/{meeting_id:int}/edit", name="meeting_edit")
async def edit_form(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    chosen = [item.topic_id for item in meeting.agenda if item.topic_id is not None]
    return render(request, "meetings/form.html", await _form_context(ctx, meeting.community, meeting, chosen)
                  | {"form": _meeting_form(meeting)})


@routes.post("/worker/meetings/{meeting_id:int}/edit", name="meeting_edit_submit")
async def edit_submit(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    form = await form_fields(request)
    draft, chosen = await _draft(request, form)
    try:
        await scheduling.update_meeting(ctx.db, ctx.actor, meeting, draft)
    except ValidationFailed as exc:
        return invalid_form(request, "meetings/form.html", form, exc,
                            await _form_context(ctx, meeting.community, meeting, chosen))
    ctx.flash(_("The session was updated; people signed up were told of any change of time or place."))
    return redirect(f"/meetings/{meeting.id}")


@routes.post("/worker/meetings/{meeting_id:int}/cancel", name="meeting_cancel")
async def cancel_meeting(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    form = await form_fields(request)
    try:
        await scheduling.cancel_meeting(ctx.db, ctx.actor, meeting, form.get("reason", ""))
    except ValidationFailed as exc:
        chosen = [item.topic_id for item in meeting.agenda if item.topic_id is not None]
        return invalid_form(request, "meetings/form.html", _meeting_form(meeting) | form, exc,
                            await _form_context(ctx, meeting.community, meeting, chosen))
    ctx.flash(_("The session is cancelled; everyone signed up was told."), "info")
    return redirect(f"/meetings/{meeting.id}")


# --- attendance ----------------------------------------------------------------------------------

async def _attendance_context(request: Request, ctx: Ctx, meeting: Meeting) -> dict[str, Any]:
    sheet = await meetings.attendance_sheet(ctx.db, meeting)
    query = request.query_params.get("q", "")[:40]
    return {
        "meeting": meeting, "sheet": sheet, "q": query,
        "found": await meetings.find_residents(ctx.db, meeting.community, query) if query.strip() else None,
        "counts": {"signed_up": sum(1 for row in sheet if row.signed_up),
                   "present_signed_up": sum(1 for row in sheet if row.signed_up and row.present),
                   "walk_ins": sum(1 for row in sheet if not row.signed_up and row.present),
                   "present": sum(1 for row in sheet if row.present)},
        "recording_open": record.is_open_for_record(meeting), **LIMITS,
    }


@routes.get("/worker/meetings/{meeting_id:int}/attendance", name="meeting_attendance")
async def attendance(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    return render(request, "meetings/attendance.html", await _attendance_context(request, ctx, meeting))


@routes.post("/worker/meetings/{meeting_id:int}/attendance", name="meeting_attendance_submit")
async def attendance_submit(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    ticked = await _list_field(request, "present")
    users = frozenset(i for i in (parse_id(v.removeprefix("user:")) for v in ticked if v.startswith("user:")) if i)
    walk_ins = frozenset(i for i in (parse_id(v.removeprefix("walkin:")) for v in ticked if v.startswith("walkin:"))
                         if i)
    await record.record_attendance(ctx.db, ctx.actor, meeting, record.AttendanceMarks(users, walk_ins))
    ctx.flash(_("Attendance saved."))
    return redirect(f"/worker/meetings/{meeting.id}/attendance")


@routes.post("/worker/meetings/{meeting_id:int}/attendance/walk-in", name="meeting_walk_in")
async def walk_in(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    form = await form_fields(request)
    user_id = parse_id(form.get("user_id"))
    try:
        if "user_id" in form and user_id is None:
            raise ValidationFailed({"q": msg("Choose a resident of {community}.", community=meeting.community.name)})
        await record.add_walk_in(ctx.db, ctx.actor, meeting, user_id=user_id, name=form.get("name", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "meetings/attendance.html", form, exc,
                            await _attendance_context(request, ctx, meeting))
    ctx.flash(_("The walk-in was added as present."))
    return redirect(f"/worker/meetings/{meeting.id}/attendance")


# --- minutes -------------------------------------------------------------------------------------

def _minutes_form(meeting: Meeting) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in meeting.agenda:
        values[f"text_{item.id}"] = item.minutes_text or ""
        values[f"outcome_{item.id}"] = item.outcome.value if item.outcome else ""
    return values


def _minutes_context(meeting: Meeting) -> dict[str, Any]:
    return {"meeting": meeting, "outcome_options": [(o.value, _(label)) for o, label in OUTCOME_LABELS.items()],
            "recording_open": record.is_open_for_record(meeting), **LIMITS}


@routes.get("/worker/meetings/{meeting_id:int}/minutes", name="meeting_minutes")
async def minutes(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    return render(request, "meetings/minutes.html", _minutes_context(meeting) | {"form": _minutes_form(meeting)})


@routes.post("/worker/meetings/{meeting_id:int}/minutes", name="meeting_minutes_submit")
async def minutes_submit(request: Request, ctx: Ctx) -> Response:
    meeting = await _staff_meeting(request, ctx)
    form = await form_fields(request)
    entries = {item.id: record.ItemMinutes(form.get(f"text_{item.id}", ""), form.get(f"outcome_{item.id}", ""))
               for item in meeting.agenda}
    publish = form.get("action") == "publish"
    try:
        await record.save_minutes(ctx.db, ctx.actor, meeting, entries, publish=publish)
    except ValidationFailed as exc:
        return invalid_form(request, "meetings/minutes.html", form, exc, _minutes_context(meeting))
    if publish:
        ctx.flash(_("The minutes are published on the session page and on each topic's page."))
        return redirect(f"/meetings/{meeting.id}#minutes")
    ctx.flash(_("The minutes are saved as a draft; they are not public until you publish them."))
    return redirect(f"/worker/meetings/{meeting.id}/minutes")
