"""What happened at a session: attendance (sign-ups ticked present or absent, walk-ins added) and the
minutes per agenda item with the outcome, then published. Published minutes are final: they are the
record resolutions link to, so they are not edited afterwards (a correction is a new session item).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from consultation import audit
from consultation.accounts.models import User
from consultation.db import utcnow
from consultation.errors import N_, Conflict, InvalidState, Message, ValidationFailed, msg
from consultation.meetings.models import (
    MAX_WALK_INS,
    MINUTES_MAX,
    WALK_IN_NAME_MAX,
    Meeting,
    MeetingAgendaItem,
    MeetingAttendee,
    MeetingSignup,
    MeetingState,
    Outcome,
    SignupStatus,
)
from consultation.meetings.services import lock_meeting, meeting_url, set_state_if
from consultation.notifications.services import notify_many
from consultation.policy import Actor, require
from consultation.validation import check_length

ATTENDANCE_OPENS = timedelta(hours=1)
MINUTES_TITLE = N_("The minutes of a session you signed up for are published")


# --- attendance ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttendanceMarks:
    """Ticked boxes of the attendance form: sign-ups by user id, walk-ins by attendee row id."""

    present_users: frozenset[int]
    present_walk_ins: frozenset[int]


async def record_attendance(session: AsyncSession, actor: Actor, meeting: Meeting, marks: AttendanceMarks) -> None:
    """Tick who came: every confirmed sign-up is stored present or absent, walk-ins as ticked. The
    first record marks the session held."""
    require(actor, "meetings.manage", meeting.community)
    await _open_for_record(session, meeting)
    confirmed = set((await session.scalars(select(MeetingSignup.user_id).where(
        MeetingSignup.meeting_id == meeting.id, MeetingSignup.status == SignupStatus.confirmed))).all())
    existing = await _attendees(session, meeting.id)
    rows = {row.user_id: row for row in existing if row.user_id is not None}
    for user_id in sorted(confirmed):
        row = rows.get(user_id)
        if row is None:
            session.add(MeetingAttendee(meeting_id=meeting.id, user_id=user_id, walk_in=False,
                                        present=user_id in marks.present_users, recorded_by_id=actor.user_id))
        elif not row.walk_in:
            row.present = user_id in marks.present_users
    for row in (row for row in existing if row.walk_in):
        row.present = row.id in marks.present_walk_ins
    await session.flush()
    present = sum(1 for row in await _attendees(session, meeting.id) if row.present)
    await audit.record(session, "meeting.attendance", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"present": present, "signed_up": len(confirmed)})


async def add_walk_in(session: AsyncSession, actor: Actor, meeting: Meeting, *, user_id: int | None = None,
                      name: str = "") -> MeetingAttendee:
    """Record someone present who did not sign up: a registered resident of the community (found by
    the worker by phone or name) or, for people without an account, a name only."""
    require(actor, "meetings.manage", meeting.community)
    name = name.strip()
    user = None
    if user_id is not None:
        user = await session.scalar(select(User).options(selectinload(User.home_area)).where(User.id == user_id))
        if user is None or user.home_area is None or not user.home_area.path.startswith(meeting.community.path):
            raise ValidationFailed({"q": msg("Choose a resident of {community}.", community=meeting.community.name)})
    elif problem := check_length(name, minimum=1, maximum=WALK_IN_NAME_MAX):
        raise ValidationFailed({"name": problem})
    await _open_for_record(session, meeting)
    row = None
    if user is not None:
        row = await session.scalar(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id,
                                                                 MeetingAttendee.user_id == user.id))
    if row is not None:
        row.present = True
    else:
        walk_ins = await session.scalar(select(func.count(MeetingAttendee.id)).where(
            MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.walk_in.is_(True)))
        if (walk_ins or 0) >= MAX_WALK_INS:
            raise ValidationFailed({"": msg("A session can record at most {n} walk-ins.", n=MAX_WALK_INS)})
        signed_up = user is not None and await session.scalar(select(MeetingSignup.id).where(
            MeetingSignup.meeting_id == meeting.id, MeetingSignup.user_id == user.id,
            MeetingSignup.status == SignupStatus.confirmed)) is not None
        row = MeetingAttendee(meeting_id=meeting.id, user_id=user.id if user else None,
                              name=None if user else name, walk_in=not signed_up, present=True,
                              recorded_by_id=actor.user_id)
        session.add(row)
    await session.flush()
    await audit.record(session, "meeting.walk_in", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"attendee_id": row.id, "registered": user is not None})
    return row


async def _attendees(session: AsyncSession, meeting_id: int) -> list[MeetingAttendee]:
    return list((await session.scalars(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id)
                                       .order_by(MeetingAttendee.id))).all())


def record_problem(meeting: Meeting) -> Message | None:
    """Why attendance and minutes cannot be recorded now: they start an hour before the session and
    end when the minutes are published."""
    if meeting.state is MeetingState.cancelled:
        return msg("This session was cancelled.")
    if meeting.state is MeetingState.minutes_published:
        return msg("The minutes are published; the record of this session is final.")
    if meeting.state is MeetingState.scheduled and utcnow() < meeting.starts_at - ATTENDANCE_OPENS:
        return msg("Attendance and minutes can be recorded from one hour before the session.")
    return None


def is_open_for_record(meeting: Meeting) -> bool:
    return record_problem(meeting) is None


async def _open_for_record(session: AsyncSession, meeting: Meeting) -> None:
    """Lock the meeting, check recording is open, and move a scheduled session to held."""
    await lock_meeting(session, meeting)
    if (problem := record_problem(meeting)) is not None:
        raise InvalidState(problem)
    if meeting.state is MeetingState.scheduled:
        await set_state_if(session, meeting, MeetingState.scheduled, MeetingState.held)


# --- minutes -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemMinutes:
    """What the worker wrote for one agenda item; ``outcome`` is "" while undecided."""

    text: str
    outcome: str


async def save_minutes(session: AsyncSession, actor: Actor, meeting: Meeting, entries: dict[int, ItemMinutes], *,
                       publish: bool = False) -> None:
    """Store the minutes of each agenda item (``entries`` keyed by item id; others are left alone);
    with ``publish`` every item then needs a summary and an outcome, and the minutes become public
    and final. Every problem is reported per field before anything is written."""
    require(actor, "meetings.manage", meeting.community)
    items: list[MeetingAgendaItem] = list(meeting.agenda)
    errors: dict[str, Message | str] = {}
    cleaned: dict[int, tuple[str, Outcome | None]] = {}
    for item in items:
        entry = entries.get(item.id)
        text = (entry.text if entry else item.minutes_text or "").strip()
        raw = entry.outcome if entry else (item.outcome.value if item.outcome else "")
        if problem := check_length(text, maximum=MINUTES_MAX):
            errors[f"text_{item.id}"] = problem
        elif publish and not text:
            errors[f"text_{item.id}"] = msg("Write what was discussed before publishing.")
        if raw and raw not in Outcome.__members__:
            errors[f"outcome_{item.id}"] = msg("Choose the outcome.")
        elif publish and not raw:
            errors[f"outcome_{item.id}"] = msg("Choose the outcome before publishing.")
        cleaned[item.id] = (text, Outcome(raw) if raw in Outcome.__members__ else None)
    if errors:
        raise ValidationFailed(errors)
    await _open_for_record(session, meeting)
    changes = {}
    for item in items:
        text, outcome = cleaned[item.id]
        if (item.minutes_text or "", item.outcome) != (text, outcome):
            changes[str(item.id)] = {"outcome": outcome.value if outcome else None, "chars": len(text)}
            item.minutes_text, item.outcome = text or None, outcome
    await session.flush()
    if changes:
        await audit.record(session, "meeting.minutes_saved", "meeting", meeting.id, actor_id=actor.user_id,
                           ip=actor.ip, after={"items": changes})
    if publish:
        await _publish(session, actor, meeting)


async def _publish(session: AsyncSession, actor: Actor, meeting: Meeting) -> None:
    now = utcnow()
    if not await set_state_if(session, meeting, MeetingState.held, MeetingState.minutes_published,
                                  minutes_published_at=now):
        raise Conflict()
    await audit.record(session, "meeting.minutes_published", "meeting", meeting.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"state": MeetingState.held.value},
                       after={"state": MeetingState.minutes_published.value})
    people: set[int | None] = set((await session.scalars(select(MeetingSignup.user_id).where(
        MeetingSignup.meeting_id == meeting.id, MeetingSignup.status == SignupStatus.confirmed))).all())
    people |= set((await session.scalars(select(MeetingAttendee.user_id).where(
        MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.present.is_(True)))).all())
    await notify_many(session, sorted(u for u in people if u is not None and u != actor.user_id), "meeting.minutes",
                      MINUTES_TITLE, body=meeting.title, url=meeting_url(meeting) + "#minutes")

