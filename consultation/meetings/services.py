"""Write use cases for sessions (议事会): schedule, edit, cancel; sign up and cancel a sign-up (with the
waitlist); the reminder job. Attendance and minutes are in ``record.py``.

Seats and the waitlist order are decided under a lock on the meeting's row (``SELECT … FOR UPDATE``
on PostgreSQL; on SQLite every writing request already holds the database's write lock), so
concurrent sign-ups never overbook and promotions always take the waitlist in order. Services
validate, check permissions through the policy, audit every change and only ``flush()``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit
from consultation.areas.models import Area
from consultation.db import utcnow
from consultation.deliberation.models import Topic
from consultation.errors import N_, Conflict, Forbidden, InvalidState, Message, ValidationFailed, msg
from consultation.meetings import policy
from consultation.meetings.models import (
    DESCRIPTION_MAX,
    ITEM_TITLE_MAX,
    MAX_CAPACITY,
    PLACE_MAX,
    TITLE_MAX,
    URL_MAX,
    Meeting,
    MeetingAgendaItem,
    MeetingSignup,
    MeetingState,
    SignupStatus,
)
from consultation.meetings.queries import AGENDA_TOPIC_STATES
from consultation.notifications.services import notify, notify_many
from consultation.policy import Actor, require
from consultation.validation import check_length

REMINDER_LEAD = timedelta(hours=24)
MAX_DURATION = timedelta(hours=12)
MAX_OTHER_ITEMS = 10
REASON_MAX = 1000

SEAT_TITLE = N_("You have a seat at a deliberation session")
WAITLIST_TITLE = N_("You are on the waitlist for a deliberation session")
PROMOTED_TITLE = N_("A seat became free: you now have a seat at the session")
REMINDER_TITLE = N_("Reminder: your deliberation session starts within 24 hours")
CHANGED_TITLE = N_("A session you signed up for has changed")
CANCELLED_TITLE = N_("A session you signed up for was cancelled")


@dataclass
class MeetingDraft:
    """What a worker enters to schedule or edit a session. Times are already parsed into aware
    datetimes (``None``: missing or unreadable); ``capacity`` may still be the raw text."""

    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: str | int
    place: str = ""
    online_url: str = ""
    description: str = ""
    topic_ids: list[int] = field(default_factory=list)
    other_items: list[str] = field(default_factory=list)


# --- scheduling ----------------------------------------------------------------------------------

async def schedule(session: AsyncSession, actor: Actor, community: Area, draft: MeetingDraft) -> Meeting:
    """A worker of ``community`` schedules a session with at least one topic on its agenda."""
    require(actor, "meetings.manage", community)
    values, topics, others = await _validate(session, community, draft)
    meeting = Meeting(community_id=community.id, created_by_id=actor.user_id, state=MeetingState.scheduled,
                      **values)
    session.add(meeting)
    await session.flush()
    set_committed_value(meeting, "community", community)
    await _replace_agenda(session, meeting, topics, others)
    await audit.record(session, "meeting.scheduled", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       after=_snapshot(meeting))
    return meeting


async def update_meeting(session: AsyncSession, actor: Actor, meeting: Meeting, draft: MeetingDraft) -> Meeting:
    """Change a scheduled session. People signed up are told when the time or place changed; a
    larger capacity promotes people from the waitlist at once; a smaller one than the seats already
    confirmed is refused."""
    require(actor, "meetings.manage", meeting.community)
    _require_state(meeting, MeetingState.scheduled)
    await lock_meeting(session, meeting)
    _require_state(meeting, MeetingState.scheduled)
    values, topics, others = await _validate(session, meeting.community, draft)
    confirmed, _ = await seat_counts(session, meeting.id)
    if values["capacity"] < confirmed:
        raise ValidationFailed({"capacity": msg("{n} seats are already confirmed; the capacity cannot be lower.",
                                                n=confirmed)})
    before, old_start = _snapshot(meeting), meeting.starts_at
    moved = (values["starts_at"], values["ends_at"], values["place"], values["online_url"]) != (
        meeting.starts_at, meeting.ends_at, meeting.place, meeting.online_url)
    for key, value in values.items():
        setattr(meeting, key, value)
    meeting.sequence += 1
    meeting.updated_at = utcnow()
    if values["starts_at"] != old_start:
        await session.execute(update(MeetingSignup).where(MeetingSignup.meeting_id == meeting.id)
                              .values(reminded_at=None).execution_options(synchronize_session=False))
    await session.flush()
    await _replace_agenda(session, meeting, topics, others)
    await audit.record(session, "meeting.updated", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       before=before, after=_snapshot(meeting))
    if moved:
        await notify_many(session, await _active_people(session, meeting.id), "meeting.changed", CHANGED_TITLE,
                          body=meeting.title, url=meeting_url(meeting), email=True)
    await _promote(session, meeting, actor)
    return meeting


async def cancel_meeting(session: AsyncSession, actor: Actor, meeting: Meeting, reason: str) -> Meeting:
    """Call off a scheduled session with a public reason; everyone signed up is told."""
    require(actor, "meetings.manage", meeting.community)
    reason = reason.strip()
    if problem := check_length(reason, minimum=1, maximum=REASON_MAX):
        raise ValidationFailed({"reason": problem})
    await lock_meeting(session, meeting)
    _require_state(meeting, MeetingState.scheduled)
    if not await set_state_if(session, meeting, MeetingState.scheduled, MeetingState.cancelled,
                                  cancel_reason=reason, sequence=meeting.sequence + 1):
        raise Conflict()
    await audit.record(session, "meeting.cancelled", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"state": MeetingState.scheduled.value},
                       after={"state": MeetingState.cancelled.value, "reason": reason})
    await notify_many(session, await _active_people(session, meeting.id), "meeting.cancelled", CANCELLED_TITLE,
                      body=meeting.title, url=meeting_url(meeting), email=True)
    return meeting


# --- signing up ----------------------------------------------------------------------------------

async def sign_up(session: AsyncSession, actor: Actor, meeting: Meeting) -> tuple[MeetingSignup, bool]:
    """Take a seat, or the next place on the waitlist when the seats are gone.

    Returns the sign-up and whether this call made it; signing up again while signed up (a double
    submit, even a concurrent one) returns the existing sign-up unchanged.
    """
    await _raise_signup_problem(actor, meeting)
    await lock_meeting(session, meeting)
    await _raise_signup_problem(actor, meeting)  # the meeting may have changed while we waited
    assert actor.user_id is not None
    signup = await _signup_of(session, meeting.id, actor.user_id)
    if signup is not None and signup.status is not SignupStatus.cancelled:
        return signup, False
    confirmed, waiting = await seat_counts(session, meeting.id)
    status = SignupStatus.confirmed if confirmed < meeting.capacity and waiting == 0 else SignupStatus.waitlisted
    position = await _next_position(session, meeting)
    now = utcnow()
    reminded = now if status is SignupStatus.confirmed and meeting.starts_at - now <= REMINDER_LEAD else None
    if signup is None:
        signup = MeetingSignup(meeting_id=meeting.id, user_id=actor.user_id, status=status, position=position,
                               created_at=now, updated_at=now, reminded_at=reminded)
        session.add(signup)
    else:
        signup.status, signup.position, signup.updated_at = status, position, now
        signup.promoted_at, signup.reminded_at = None, reminded
    await session.flush()
    await audit.record(session, "meeting.signed_up", "meeting", meeting.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"status": status.value, "position": position})
    title = SEAT_TITLE if status is SignupStatus.confirmed else WAITLIST_TITLE
    await notify(session, actor.user_id, "meeting.signup", title, body=meeting.title, url=meeting_url(meeting))
    return signup, True


async def cancel_signup(session: AsyncSession, actor: Actor, meeting: Meeting) -> MeetingSignup | None:
    """Give up one's seat or waitlist place. A freed seat goes at once to the first person on the
    waitlist, who is notified. Returns ``None`` if there was nothing to cancel."""
    if actor.user_id is None:
        raise Forbidden(msg("Please log in first."))
    await lock_meeting(session, meeting)
    if meeting.state is not MeetingState.scheduled or meeting.starts_at <= utcnow():
        raise InvalidState(msg("The session has started or is over; a sign-up can no longer be cancelled."))
    signup = await _signup_of(session, meeting.id, actor.user_id)
    if signup is None or signup.status is SignupStatus.cancelled:
        return None
    was = signup.status
    signup.status, signup.updated_at = SignupStatus.cancelled, utcnow()
    await session.flush()
    await audit.record(session, "meeting.signup_cancelled", "meeting", meeting.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"status": was.value, "position": signup.position},
                       after={"status": SignupStatus.cancelled.value})
    if was is SignupStatus.confirmed:
        await _promote(session, meeting, None)
    return signup


# --- reminders (a periodic job of the worker) ----------------------------------------------------

async def send_due_reminders(session: AsyncSession, now: datetime | None = None) -> int:
    """Notify every confirmed person whose session starts within ``REMINDER_LEAD``, once.

    Idempotent and safe to run from several workers at once: each sign-up's ``reminded_at`` is set by
    a single conditional UPDATE, and only the rows this run set are notified.
    """
    now = now or utcnow()
    due = select(Meeting.id).where(Meeting.state == MeetingState.scheduled, Meeting.starts_at > now,
                                   Meeting.starts_at <= now + REMINDER_LEAD)
    rows = (await session.execute(
        update(MeetingSignup)
        .where(MeetingSignup.meeting_id.in_(due), MeetingSignup.status == SignupStatus.confirmed,
               MeetingSignup.reminded_at.is_(None))
        .values(reminded_at=now)
        .returning(MeetingSignup.user_id, MeetingSignup.meeting_id)
        .execution_options(synchronize_session=False)
    )).all()
    titles = dict((await session.execute(
        select(Meeting.id, Meeting.title).where(Meeting.id.in_({meeting_id for _, meeting_id in rows}))
    )).all()) if rows else {}
    people: dict[int, list[int]] = defaultdict(list)
    for user_id, meeting_id in rows:
        people[meeting_id].append(user_id)
    for meeting_id in sorted(people):
        await notify_many(session, people[meeting_id], "meeting.reminder", REMINDER_TITLE, body=titles[meeting_id],
                          url=f"/meetings/{meeting_id}", email=True)
        await audit.record(session, "meeting.reminded", "meeting", meeting_id,
                           after={"people": len(people[meeting_id])})
    await session.flush()
    return len(rows)


# --- shared with record.py -----------------------------------------------------------------------

def meeting_url(meeting: Meeting) -> str:
    return f"/meetings/{meeting.id}"


async def seat_counts(session: AsyncSession, meeting_id: int) -> tuple[int, int]:
    """(confirmed seats, people on the waitlist)."""
    counts = dict((await session.execute(
        select(MeetingSignup.status, func.count(MeetingSignup.id))
        .where(MeetingSignup.meeting_id == meeting_id).group_by(MeetingSignup.status)
    )).all())
    return int(counts.get(SignupStatus.confirmed, 0)), int(counts.get(SignupStatus.waitlisted, 0))


async def lock_meeting(session: AsyncSession, meeting: Meeting) -> None:
    """Take the meeting's row lock (the serialisation point of its seats) and refresh what it guards."""
    row = (await session.execute(
        select(Meeting.state, Meeting.capacity, Meeting.next_position, Meeting.starts_at, Meeting.sequence)
        .where(Meeting.id == meeting.id).with_for_update()
    )).one()
    for key, value in row._mapping.items():
        set_committed_value(meeting, key, value)


def _require_state(meeting: Meeting, state: MeetingState) -> None:
    if meeting.state is not state:
        raise InvalidState(msg("This is not possible for a session that is “{state_label}”.",
                               state_label=meeting.state.label))


async def set_state_if(session: AsyncSession, meeting: Meeting, from_state: MeetingState,
                           to_state: MeetingState, **values: Any) -> bool:
    values = {"state": to_state, "updated_at": utcnow(), **values}
    result = await session.execute(
        update(Meeting).where(Meeting.id == meeting.id, Meeting.state == from_state).values(**values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        return False
    for key, value in values.items():
        set_committed_value(meeting, key, value)
    return True


async def _raise_signup_problem(actor: Actor, meeting: Meeting) -> None:
    if (problem := policy.signup_problem(actor, meeting)) is not None:
        raise InvalidState(problem) if problem.msgid == policy.SIGNUP_CLOSED else Forbidden(problem)


async def _signup_of(session: AsyncSession, meeting_id: int, user_id: int) -> MeetingSignup | None:
    return await session.scalar(
        select(MeetingSignup).where(MeetingSignup.meeting_id == meeting_id, MeetingSignup.user_id == user_id)
        .execution_options(populate_existing=True))


async def _next_position(session: AsyncSession, meeting: Meeting) -> int:
    position = int((await session.execute(
        update(Meeting).where(Meeting.id == meeting.id).values(next_position=Meeting.next_position + 1)
        .returning(Meeting.next_position).execution_options(synchronize_session=False)
    )).scalar_one())
    set_committed_value(meeting, "next_position", position)
    return position


async def _promote(session: AsyncSession, meeting: Meeting, actor: Actor | None) -> None:
    """Fill free seats from the waitlist, first come first served (call with the meeting locked)."""
    confirmed, _ = await seat_counts(session, meeting.id)
    while confirmed < meeting.capacity:
        first = await session.scalar(
            select(MeetingSignup).where(MeetingSignup.meeting_id == meeting.id,
                                        MeetingSignup.status == SignupStatus.waitlisted)
            .order_by(MeetingSignup.position).limit(1).execution_options(populate_existing=True))
        if first is None:
            return
        now = utcnow()
        first.status, first.promoted_at, first.updated_at = SignupStatus.confirmed, now, now
        if meeting.starts_at - now <= REMINDER_LEAD:
            first.reminded_at = now  # the promotion notice is the reminder
        await session.flush()
        await audit.record(session, "meeting.promoted", "meeting", meeting.id,
                           actor_id=actor.user_id if actor else None,
                           after={"user_id": first.user_id, "position": first.position})
        await notify(session, first.user_id, "meeting.promoted", PROMOTED_TITLE, body=meeting.title,
                     url=meeting_url(meeting), email=True)
        confirmed += 1


async def _active_people(session: AsyncSession, meeting_id: int) -> list[int]:
    return list((await session.scalars(
        select(MeetingSignup.user_id).where(MeetingSignup.meeting_id == meeting_id,
                                            MeetingSignup.status != SignupStatus.cancelled)
        .order_by(MeetingSignup.position))).all())


# --- validation ----------------------------------------------------------------------------------

async def _validate(session: AsyncSession, community: Area,
                    draft: MeetingDraft) -> tuple[dict[str, Any], list[Topic], list[str]]:
    """Every problem of the draft at once, keyed by form field; nothing is written before this passes."""
    title, place = draft.title.strip(), draft.place.strip()
    online_url, description = draft.online_url.strip(), draft.description.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(title, minimum=1, maximum=TITLE_MAX):
        errors["title"] = problem
    if problem := check_length(description, maximum=DESCRIPTION_MAX):
        errors["description"] = problem
    now = utcnow()
    if draft.starts_at is None:
        errors["starts_at"] = msg("Enter the date and time the session starts.")
    elif draft.starts_at <= now:
        errors["starts_at"] = msg("The session must start in the future.")
    if draft.ends_at is None:
        errors["ends_at"] = msg("Enter the date and time the session ends.")
    elif draft.starts_at is not None and draft.ends_at <= draft.starts_at:
        errors["ends_at"] = msg("The session must end after it starts.")
    elif draft.starts_at is not None and draft.ends_at - draft.starts_at > MAX_DURATION:
        errors["ends_at"] = msg("A session lasts at most {n} hours.", n=int(MAX_DURATION.total_seconds() // 3600))
    capacity = _capacity(draft.capacity)
    if capacity is None:
        errors["capacity"] = msg("Enter a whole number from 1 to {n}.", n=MAX_CAPACITY)
    if problem := check_length(place, maximum=PLACE_MAX):
        errors["place"] = problem
    if online_url and (problem := _url_problem(online_url)):
        errors["online_url"] = problem
    if not place and not online_url:
        errors["place"] = msg("Give the place, an online link, or both.")
    topics, topic_problem = await _agenda_topics(session, community, draft.topic_ids)
    if topic_problem:
        errors["topic_ids"] = topic_problem
    others = [line.strip() for line in draft.other_items if line.strip()]
    if len(others) > MAX_OTHER_ITEMS:
        errors["other_items"] = msg("At most {n} other agenda items.", n=MAX_OTHER_ITEMS)
    elif any(len(line) > ITEM_TITLE_MAX for line in others):
        errors["other_items"] = msg("Each agenda item may have at most {n} characters.", n=ITEM_TITLE_MAX)
    if errors:
        raise ValidationFailed(errors)
    assert draft.starts_at is not None and draft.ends_at is not None
    values = {"title": title, "description": description or None, "starts_at": draft.starts_at,
              "ends_at": draft.ends_at, "capacity": capacity, "place": place or None,
              "online_url": online_url or None}
    return values, topics, others


def _capacity(raw: str | int) -> int | None:
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_CAPACITY else None


def _url_problem(url: str) -> Message | None:
    if len(url) > URL_MAX:
        return msg("Enter at most {n} characters.", n=URL_MAX)
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in url):
        return msg("Enter a web address starting with http:// or https://.")
    return None


async def _agenda_topics(session: AsyncSession, community: Area,
                         topic_ids: list[int]) -> tuple[list[Topic], Message | None]:
    wanted = list(dict.fromkeys(topic_ids))  # first mention wins, order kept
    if not wanted:
        return [], msg("Choose at least one topic for the agenda.")
    found = {t.id: t for t in (await session.scalars(select(Topic).where(Topic.id.in_(wanted)))).all()}
    topics = [found[i] for i in wanted if i in found]
    if len(topics) != len(wanted) or any(t.community_id != community.id for t in topics):
        return [], msg("Choose topics of {community} only.", community=community.name)
    if any(t.state not in AGENDA_TOPIC_STATES for t in topics):
        return [], msg("Only topics being deliberated or decided can be put on the agenda.")
    return topics, None


async def _replace_agenda(session: AsyncSession, meeting: Meeting, topics: list[Topic], others: list[str]) -> None:
    """Write the agenda afresh (only while scheduled, before any minutes exist): topics first, then
    the other items, numbered from 1."""
    for old in (await session.scalars(select(MeetingAgendaItem)
                                      .where(MeetingAgendaItem.meeting_id == meeting.id))).all():
        await session.delete(old)
    await session.flush()
    items = [MeetingAgendaItem(meeting_id=meeting.id, position=n, topic_id=topic.id, title=topic.title[:ITEM_TITLE_MAX])
             for n, topic in enumerate(topics, start=1)]
    items += [MeetingAgendaItem(meeting_id=meeting.id, position=n, title=line)
              for n, line in enumerate(others, start=len(topics) + 1)]
    session.add_all(items)
    await session.flush()
    for item, topic in zip(items, [*topics, *[None] * len(others)], strict=True):
        set_committed_value(item, "topic", topic)
    set_committed_value(meeting, "agenda", items)


def _snapshot(meeting: Meeting) -> dict[str, Any]:
    return {"title": meeting.title, "starts_at": meeting.starts_at.isoformat(),
            "ends_at": meeting.ends_at.isoformat(), "place": meeting.place, "online_url": meeting.online_url,
            "capacity": meeting.capacity, "community_id": meeting.community_id}

