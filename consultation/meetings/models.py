"""Deliberation sessions (议事会): a worker schedules a ``Meeting`` of a community with an ordered
agenda (mostly topics); residents sign up (seats, then a waitlist in order); the worker checks
attendance, records minutes per agenda item and publishes them.

Called ``Meeting`` in code so it never reads like a database session.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.accounts.models import User
from consultation.areas.models import Area
from consultation.db import Base, utcnow
from consultation.deliberation.models import Topic
from consultation.errors import N_

TITLE_MAX = 80
DESCRIPTION_MAX = 2000
PLACE_MAX = 120
URL_MAX = 500
ITEM_TITLE_MAX = 120
MINUTES_MAX = 5000
WALK_IN_NAME_MAX = 40
MAX_CAPACITY = 1000
# Walk-ins one session can record; with the seats this bounds the attendance sheet (one checkbox per
# person), which the web layer's form parser must accept in one submit.
MAX_WALK_INS = 500
ATTENDANCE_SHEET_MAX = MAX_CAPACITY + MAX_WALK_INS


class MeetingState(enum.StrEnum):
    scheduled = "scheduled"
    held = "held"
    minutes_published = "minutes_published"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return MEETING_STATE_LABELS[self]


MEETING_STATE_LABELS = {
    MeetingState.scheduled: N_("Scheduled"),
    MeetingState.held: N_("Held, minutes being written"),
    MeetingState.minutes_published: N_("Minutes published"),
    MeetingState.cancelled: N_("Cancelled"),
}


class Outcome(enum.StrEnum):
    """What the session concluded on one agenda item."""

    agreed = "agreed"
    not_agreed = "not_agreed"
    continue_deliberation = "continue_deliberation"
    needs_poll = "needs_poll"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.agreed: N_("Agreed"),
    Outcome.not_agreed: N_("Not agreed"),
    Outcome.continue_deliberation: N_("Continue deliberating"),
    Outcome.needs_poll: N_("To be decided by a poll"),
}


class SignupStatus(enum.StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return SIGNUP_STATUS_LABELS[self]


SIGNUP_STATUS_LABELS = {
    SignupStatus.confirmed: N_("Seat confirmed"),
    SignupStatus.waitlisted: N_("On the waitlist"),
    SignupStatus.cancelled: N_("Cancelled"),
}


class Meeting(Base):
    """议事会 of one community. Times are UTC; ``next_position`` hands out sign-up order numbers under
    the meeting's row lock, so the waitlist order is the order people signed up in."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_meeting_community_starts", "community_id", "starts_at"),
        Index("ix_meeting_state_starts", "state", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(String(PLACE_MAX))
    online_url: Mapped[str | None] = mapped_column(String(URL_MAX))
    capacity: Mapped[int]
    state: Mapped[MeetingState] = mapped_column(Enum(MeetingState, native_enum=False, length=24),
                                                default=MeetingState.scheduled)
    next_position: Mapped[int] = mapped_column(default=0)
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE: bumped on every change
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                      index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    minutes_published_at: Mapped[datetime | None]

    community: Mapped[Area] = relationship(lazy="raise")
    agenda: Mapped[list[MeetingAgendaItem]] = relationship(
        lazy="raise", order_by="MeetingAgendaItem.position", back_populates="meeting")


class MeetingAgendaItem(Base):
    """One item of the agenda, in ``position`` order; most are a topic of the same community.
    Minutes are recorded per item. Resolutions link to a published item by its id."""

    __tablename__ = "meeting_agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    position: Mapped[int]
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(ITEM_TITLE_MAX))
    minutes_text: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, native_enum=False, length=24))

    meeting: Mapped[Meeting] = relationship(lazy="raise", back_populates="agenda")
    topic: Mapped[Topic | None] = relationship(lazy="raise")


class MeetingSignup(Base):
    """A resident's place: a confirmed seat or a waitlist entry. ``position`` is the sign-up order
    (unique per meeting); the waitlist is the waitlisted rows by ``position``. One row per person
    and meeting; signing up again after cancelling reuses it with a new position at the back."""

    __tablename__ = "meeting_signup"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        UniqueConstraint("meeting_id", "position"),
        Index("ix_meeting_signup_status", "meeting_id", "status", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    status: Mapped[SignupStatus] = mapped_column(Enum(SignupStatus, native_enum=False, length=16))
    position: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class MeetingAttendee(Base):
    """Who was there: a signed-up or walk-in resident (``user_id``) or an unregistered walk-in known
    by name only. Staff-only personal data."""

    __tablename__ = "meeting_attendee"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        CheckConstraint("user_id IS NOT NULL OR name IS NOT NULL", name="who"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    name: Mapped[str | None] = mapped_column(String(WALK_IN_NAME_MAX))
    walk_in: Mapped[bool] = mapped_column(default=False)
    present: Mapped[bool] = mapped_column(default=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[user_id])
