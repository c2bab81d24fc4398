"""Reads for sessions (议事会): the access functions, seats and the viewer's place, listings for the
area page, the topic page, "my sessions" and the worker's list, the attendance sheet, and
``minutes_item`` (what a resolution links to)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import Integer, Select, String, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, selectinload

from consultation.accounts.models import Role, User
from consultation.areas.models import Area, AreaLevel
from consultation.db import UTCDateTime, utcnow
from consultation.deliberation.models import Topic, TopicState
from consultation.errors import NotFound
from consultation.meetings.models import (
    Meeting,
    MeetingAgendaItem,
    MeetingAttendee,
    MeetingSignup,
    MeetingState,
    SignupStatus,
)
from consultation.policy import Actor, can
from consultation.validation import normalise_phone

# Topics that can be put on a session's agenda: accepted and not yet decided.
AGENDA_TOPIC_STATES = frozenset({TopicState.deliberating, TopicState.deciding})
LIST_LIMIT = 20
FIND_LIMIT = 10
RECENT_DAYS = 60

_AHEAD = aliased(MeetingSignup)  # built once: each aliased() call makes objects in reference cycles


def _full(query: Select[Meeting]) -> Select[Meeting]:
    return query.options(selectinload(Meeting.community),
                         selectinload(Meeting.agenda).selectinload(MeetingAgendaItem.topic))


async def get_meeting(session: AsyncSession, meeting_id: int) -> Meeting:
    """A session with its community and agenda. Sessions are public: only missing ones are hidden."""
    meeting = await session.scalar(_full(select(Meeting).where(Meeting.id == meeting_id)))
    if meeting is None:
        raise NotFound()
    return meeting


async def meeting_for_staff(session: AsyncSession, actor: Actor, meeting_id: int) -> Meeting:
    """A session the actor manages; another community's looks missing."""
    meeting = await get_meeting(session, meeting_id)
    if not can(actor, "meetings.manage", meeting.community):
        raise NotFound()
    return meeting


async def community_for_staff(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    area = await session.get(Area, community_id)
    if area is None or not can(actor, "meetings.manage", area):
        raise NotFound()
    return area


@dataclass(frozen=True)
class Seats:
    capacity: int
    confirmed: int
    waitlisted: int

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.confirmed)


async def seats(session: AsyncSession, meeting: Meeting) -> Seats:
    counts = dict((await session.execute(
        select(MeetingSignup.status, func.count(MeetingSignup.id))
        .where(MeetingSignup.meeting_id == meeting.id).group_by(MeetingSignup.status)
    )).all())
    return Seats(meeting.capacity, int(counts.get(SignupStatus.confirmed, 0)),
                 int(counts.get(SignupStatus.waitlisted, 0)))


@dataclass(frozen=True)
class Place:
    """One person's sign-up and, on the waitlist, their place in it (1 = next to get a seat)."""

    signup: MeetingSignup
    waitlist_rank: int | None


async def _rank(session: AsyncSession, signup: MeetingSignup) -> int | None:
    if signup.status is not SignupStatus.waitlisted:
        return None
    return int(await session.scalar(select(func.count(MeetingSignup.id)).where(
        MeetingSignup.meeting_id == signup.meeting_id, MeetingSignup.status == SignupStatus.waitlisted,
        MeetingSignup.position <= signup.position)) or 0)


async def place_of(session: AsyncSession, meeting: Meeting, user_id: int | None) -> Place | None:
    """The viewer's active sign-up (``None`` if they have none or cancelled it)."""
    if user_id is None:
        return None
    signup = await session.scalar(select(MeetingSignup).where(
        MeetingSignup.meeting_id == meeting.id, MeetingSignup.user_id == user_id,
        MeetingSignup.status != SignupStatus.cancelled))
    return Place(signup, await _rank(session, signup)) if signup is not None else None


async def eligible_topics(session: AsyncSession, community: Area) -> list[Topic]:
    return list((await session.scalars(
        select(Topic).where(Topic.community_id == community.id, Topic.state.in_(AGENDA_TOPIC_STATES))
        .order_by(Topic.updated_at.desc(), Topic.id.desc())
    )).all())


async def meetings_for_topic(session: AsyncSession, topic_id: int) -> list[tuple[Meeting, MeetingAgendaItem]]:
    """Sessions whose agenda has the topic (cancelled ones left out), newest first, with the item."""
    rows = (await session.execute(
        select(Meeting, MeetingAgendaItem).join(MeetingAgendaItem, MeetingAgendaItem.meeting_id == Meeting.id)
        .where(MeetingAgendaItem.topic_id == topic_id, Meeting.state != MeetingState.cancelled)
        .order_by(Meeting.starts_at.desc())
    )).all()
    return [(meeting, item) for meeting, item in rows]


def _upcoming_in(area: Area) -> Select[Meeting]:
    """Scheduled sessions that have not ended, in the area's community (a compound shows its
    community's; a street, district or city shows those of every community below)."""
    query = (select(Meeting).join(Area, Area.id == Meeting.community_id)
             .where(Meeting.state == MeetingState.scheduled, Meeting.ends_at > utcnow()))
    if (community_id := _community_of(area)) is not None:
        return query.where(Meeting.community_id == community_id)
    return query.where(Area.path.startswith(area.path))


def _community_of(area: Area) -> int | None:
    """The community whose sessions ``area`` lists (itself, or a compound's parent); ``None`` above the
    community level, where the sessions of every community below are found by path."""
    if area.level is AreaLevel.community:
        return area.id
    if area.level is AreaLevel.compound:
        return area.parent_id
    return None


@cache
def _upcoming_statement(by_community: bool) -> Select[Meeting]:
    """``upcoming_for_area``'s statement, built once per kind of area (building it costs more than
    running it); parameters ``:now``, ``:limit`` and ``:community_id`` or ``:path``. A community's
    sessions are found by its id, not by a path prefix (no index serves ``LIKE :path || '%'`` under a
    non-C collation, so that would read every area). The community comes from the join; the agenda is
    not loaded (the area page lists sessions without it)."""
    query = (select(Meeting).join(Area, Area.id == Meeting.community_id)
             .where(Meeting.state == MeetingState.scheduled,
                    Meeting.ends_at > bindparam("now", type_=UTCDateTime())))
    query = (query.where(Meeting.community_id == bindparam("community_id", type_=Integer)) if by_community
             else query.where(Area.path.startswith(bindparam("path", type_=String))))
    return (query.options(contains_eager(Meeting.community)).order_by(Meeting.starts_at, Meeting.id)
            .limit(bindparam("limit", type_=Integer)))


async def upcoming_for_area(session: AsyncSession, area: Area, limit: int = LIST_LIMIT) -> list[Meeting]:
    """Scheduled sessions that have not ended, in the area's community (see ``_upcoming_in``), with their
    communities (not their agendas): one statement."""
    community_id = _community_of(area)
    params = {"now": utcnow(), "limit": limit,
              **({"community_id": community_id} if community_id is not None else {"path": area.path})}
    return list((await session.scalars(_upcoming_statement(community_id is not None), params)).all())


async def upcoming_page_for_area(session: AsyncSession, area: Area, *, offset: int = 0,
                                 limit: int = LIST_LIMIT) -> tuple[list[Meeting], int]:
    """One page of ``upcoming_for_area`` (soonest first, ties by id so pages never overlap) and how
    many there are in all (the JSON API's session list)."""
    query = _upcoming_in(area)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    found = await session.scalars(_full(query).order_by(Meeting.starts_at, Meeting.id).offset(offset).limit(limit))
    return list(found.all()), total


async def my_meetings(session: AsyncSession, user_id: int) -> list[tuple[Meeting, Place]]:
    """The person's active sign-ups, the coming sessions first, then the past ones."""
    ahead = _AHEAD  # the waitlist rank in the same statement: no query per sign-up
    rank = (select(func.count(ahead.id)).where(
        ahead.meeting_id == MeetingSignup.meeting_id, ahead.status == SignupStatus.waitlisted,
        ahead.position <= MeetingSignup.position).correlate(MeetingSignup).scalar_subquery())
    rows = (await session.execute(
        _full(select(Meeting)).add_columns(MeetingSignup, rank)
        .join(MeetingSignup, MeetingSignup.meeting_id == Meeting.id)
        .where(MeetingSignup.user_id == user_id, MeetingSignup.status != SignupStatus.cancelled)
        .order_by(Meeting.starts_at.desc()).limit(100)
    )).all()
    now = utcnow()
    result = [(meeting, Place(signup, int(n) if signup.status is SignupStatus.waitlisted else None))
              for meeting, signup, n in rows]
    return sorted(result, key=lambda pair: (pair[0].ends_at < now, abs((pair[0].starts_at - now).total_seconds())))


@dataclass
class StaffMeetings:
    upcoming: list[Meeting]
    needing_minutes: list[Meeting]
    recent: list[Meeting]


async def staff_meetings(session: AsyncSession, actor: Actor) -> StaffMeetings:
    """Sessions of the communities the actor serves: coming, past ones still without published minutes,
    and recently closed (published or cancelled)."""
    query = _full(select(Meeting)).join(Area, Area.id == Meeting.community_id)
    if not actor.is_admin:
        paths = [g.area_path for g in actor.grants if g.role is Role.worker and g.area_path]
        if not paths:
            return StaffMeetings([], [], [])
        query = query.where(or_(*(Area.path.startswith(p) for p in paths)))
    now = utcnow()
    open_states = (MeetingState.scheduled, MeetingState.held)
    upcoming = await session.scalars(query.where(Meeting.state == MeetingState.scheduled, Meeting.ends_at > now)
                                     .order_by(Meeting.starts_at).limit(50))
    needing = await session.scalars(query.where(Meeting.state.in_(open_states), Meeting.ends_at <= now)
                                    .order_by(Meeting.starts_at).limit(50))
    recent = await session.scalars(query.where(Meeting.state.not_in(open_states),
                                               Meeting.starts_at > now - timedelta(days=RECENT_DAYS))
                                   .order_by(Meeting.starts_at.desc()).limit(LIST_LIMIT))
    return StaffMeetings(list(upcoming.all()), list(needing.all()), list(recent.all()))


@dataclass
class SheetRow:
    """One line of the attendance sheet (staff only). ``key`` is the checkbox value."""

    key: str
    name: str
    user: User | None
    signed_up: bool
    present: bool


async def attendance_count(session: AsyncSession, meeting_id: int) -> int:
    """How many people were present (signed-up and walk-ins): public once attendance is taken, names never."""
    return int(await session.scalar(select(func.count(MeetingAttendee.id)).where(
        MeetingAttendee.meeting_id == meeting_id, MeetingAttendee.present.is_(True))) or 0)


async def attendance_sheet(session: AsyncSession, meeting: Meeting) -> list[SheetRow]:
    """Confirmed sign-ups in sign-up order, then walk-ins in the order they were added."""
    signups = (await session.scalars(
        select(MeetingSignup).options(selectinload(MeetingSignup.user).selectinload(User.home_area))
        .where(MeetingSignup.meeting_id == meeting.id, MeetingSignup.status == SignupStatus.confirmed)
        .order_by(MeetingSignup.position))).all()
    attendees = (await session.scalars(
        select(MeetingAttendee).options(selectinload(MeetingAttendee.user).selectinload(User.home_area))
        .where(MeetingAttendee.meeting_id == meeting.id).order_by(MeetingAttendee.id))).all()
    marked = {a.user_id: a for a in attendees if a.user_id is not None}
    rows = [SheetRow(f"user:{s.user_id}", s.user.display_name, s.user, True,
                     marked[s.user_id].present if s.user_id in marked else False) for s in signups]
    rows += [SheetRow(f"walkin:{a.id}", a.user.display_name if a.user else a.name or "", a.user, False, a.present)
             for a in attendees if a.walk_in]
    return rows


async def find_residents(session: AsyncSession, community: Area, text: str) -> list[User]:
    """Residents of the community by mobile number (exact) or name (part of it), for adding a walk-in."""
    text = text.strip()
    if not text:
        return []
    phone = normalise_phone(text)
    match = User.phone == phone if phone else User.display_name.contains(text[:40], autoescape=True)
    return list((await session.scalars(
        select(User).options(selectinload(User.home_area)).join(Area, Area.id == User.home_area_id)
        .where(match, Area.path.startswith(community.path), User.deleted_at.is_(None))
        .order_by(User.display_name, User.id).limit(FIND_LIMIT))).all())


async def minutes_item(session: AsyncSession, item_id: int, *, published_only: bool = True) -> MeetingAgendaItem:
    """One agenda item with its minutes, its meeting (and the meeting's community) and its topic.

    With ``published_only`` (the default) an item whose minutes are not yet published looks missing,
    so a resolution can only cite the public record.
    """
    item = await session.scalar(
        select(MeetingAgendaItem).where(MeetingAgendaItem.id == item_id)
        .options(selectinload(MeetingAgendaItem.meeting).selectinload(Meeting.community),
                 selectinload(MeetingAgendaItem.topic)))
    if item is None or (published_only and item.meeting.state is not MeetingState.minutes_published):
        raise NotFound()
    return item
