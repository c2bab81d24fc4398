"""决议: how a topic was decided (a recorded consensus with its minutes, or a poll with its counts) and
the actions agreed, each handed to the governance-task pipeline (主动治理任务) once the topic is carried out.

One resolution per topic; it is written in the same transaction that moves the topic out of
"deciding", so no topic is decided without one.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.areas.models import Unit
from consultation.db import Base, utcnow
from consultation.deliberation.models import ActorRole, Topic
from consultation.errors import N_
from consultation.meetings.models import MeetingAgendaItem

SUMMARY_MAX = 2000
MINUTES_REFERENCE_MAX = 300
POLL_REFERENCE_MAX = 64
POLL_EXPLANATION_MAX = 2000
ACTION_DESCRIPTION_MAX = 500
MAX_ACTIONS = 20


class Outcome(enum.StrEnum):
    agreed = "agreed"
    not_agreed = "not_agreed"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {Outcome.agreed: N_("Agreed"), Outcome.not_agreed: N_("Not agreed")}


class Method(enum.StrEnum):
    consensus = "consensus"
    poll = "poll"

    @property
    def label(self) -> str:
        return METHOD_LABELS[self]


METHOD_LABELS = {Method.consensus: N_("Consensus recorded in the minutes"), Method.poll: N_("Decided by a poll")}


class ActionStatus(enum.StrEnum):
    """Where an agreed action stands. The governance issue adds its task states after ``handed_off``."""

    proposed = "proposed"  # agreed, shown during publicity, not yet a task
    handed_off = "handed_off"  # given to the governance-task pipeline

    @property
    def label(self) -> str:
        return ACTION_STATUS_LABELS.get(self, self.value)


ACTION_STATUS_LABELS = {
    ActionStatus.proposed: N_("Proposed, awaiting the start of work"),
    ActionStatus.handed_off: N_("Handed to the responsible unit"),
}


class Resolution(Base):
    """The decision on one topic. ``recorded_by_role`` is what the public sees; the person is in
    ``recorded_by_id`` and the audit log. A consensus needs its minutes (a published agenda item of a
    session, or a reference to minutes kept elsewhere); a poll keeps its counts so it can be traced."""

    __tablename__ = "resolution"
    __table_args__ = (
        CheckConstraint("method != 'poll' OR (poll_reference IS NOT NULL AND poll_eligible IS NOT NULL "
                        "AND poll_ballots_cast IS NOT NULL AND poll_passed IS NOT NULL)", name="poll_traceable"),
        CheckConstraint("method != 'consensus' OR meeting_agenda_item_id IS NOT NULL "
                        "OR minutes_reference IS NOT NULL", name="consensus_has_minutes"),
        CheckConstraint("poll_ballots_cast IS NULL OR poll_ballots_cast <= poll_eligible", name="turnout_possible"),
        Index("ix_resolution_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=16))
    method: Mapped[Method] = mapped_column(Enum(Method, native_enum=False, length=16))
    summary: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       index=True)
    recorded_by_role: Mapped[ActorRole] = mapped_column(Enum(ActorRole, native_enum=False, length=16))
    # consensus: the minutes (a published agenda item of a session, or where minutes kept elsewhere are)
    meeting_agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_agenda_item.id", ondelete="RESTRICT"), index=True)
    minutes_reference: Mapped[str | None] = mapped_column(String(MINUTES_REFERENCE_MAX))
    # poll: what the voting issue's PollOutcome reported
    poll_reference: Mapped[str | None] = mapped_column(String(POLL_REFERENCE_MAX))
    poll_eligible: Mapped[int | None]
    poll_ballots_cast: Mapped[int | None]
    poll_counts: Mapped[dict[str, Any] | None]  # {"options": [[label, ballots], ...]} in the poll's order
    poll_passed: Mapped[bool | None]
    poll_explanation: Mapped[str | None] = mapped_column(Text)

    topic: Mapped[Topic] = relationship(lazy="raise")
    meeting_agenda_item: Mapped[MeetingAgendaItem | None] = relationship(lazy="raise")
    actions: Mapped[list[AgreedAction]] = relationship(back_populates="resolution", lazy="raise",
                                                       order_by="AgreedAction.position")

    @property
    def turnout_percent(self) -> int | None:
        if not self.poll_eligible or self.poll_ballots_cast is None:
            return None
        return round(100 * self.poll_ballots_cast / self.poll_eligible)

    @property
    def poll_options(self) -> list[tuple[str, int]]:
        return [(str(label), int(n)) for label, n in (self.poll_counts or {}).get("options", [])]


class AgreedAction(Base):
    """One thing the residents agreed should be done: what, by which unit (proposed), by when.

    The id is stable: the governance-task pipeline refers to it and updates ``status``."""

    __tablename__ = "agreed_action"
    __table_args__ = (UniqueConstraint("resolution_id", "position"),
                      CheckConstraint("position >= 1", name="position_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolution.id", ondelete="CASCADE"))
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(ACTION_DESCRIPTION_MAX))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    target_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(Enum(ActionStatus, native_enum=False, length=24),
                                                 default=ActionStatus.proposed)
    handed_off_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resolution: Mapped[Resolution] = relationship(back_populates="actions", lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")
